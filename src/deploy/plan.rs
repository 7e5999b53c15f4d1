//! The deploy plan: what flash.yaml wants ([`Desired`]) against what Runpod has ([`Live`]),
//! field by field, as one [`Change`] per endpoint: create, update, replace, delete or none.
//!
//! Each changed field says when it takes effect: container and placement fields make a new
//! release that rolls the workers (running workers finish on the old one); `workers`,
//! `scaling`, `timeout` and the name reach the autoscaler at once; `type` and the compute family
//! (GPU ↔ CPU) cannot change, so the endpoint is replaced (a new id, so a new URL). Env values
//! are never shown: they may be secrets, or what a secret reference resolved to.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::body::{Api, Desired, EndpointBody, OWNER_ENV};
use super::graphql;

/// A live endpoint, as `GET /v2/serverless` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub id: String,
    /// RFC 3339, as the API gives it: among endpoints of one name, the newest is the one a
    /// replace created.
    pub created_at: String,
    pub body: EndpointBody,
}

impl Live {
    /// Reads one item of `ListEndpointsResponse.endpoints`; `None` without an `id`.
    pub fn from_json(value: &Value) -> Option<Live> {
        let id = value.get("id")?.as_str()?.to_string();
        let created_at = value
            .get("createdAt")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let body = serde_json::from_value(value.clone()).ok()?;
        Some(Live {
            id,
            created_at,
            body,
        })
    }

    pub fn owner(&self) -> Option<&str> {
        self.body.env.get(OWNER_ENV).map(String::as_str)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::None => "none",
        }
    }
}

/// When a changed field takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// A new release: workers are replaced as they cycle.
    RollsWorkers,
    /// The autoscaler takes it at once; running workers stay.
    AtOnce,
    /// The API cannot change it: the endpoint is replaced (new id, new URL).
    Replace,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The v2 body's field (`gpu.pools`, `env.HF_TOKEN`, `workers`).
    pub field: String,
    pub effect: Effect,
    /// Shown values; `None` for env values (never shown) and for absent ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The flash.yaml name.
    pub endpoint: String,
    pub action: Action,
    /// The Runpod name.
    pub name: String,
    /// The live endpoint's id (update, replace, delete, none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which API carries the change.
    #[serde(flatten)]
    pub api: Api,
    /// The registry credential id (`registry.auth`) the endpoint's image is pulled with: an
    /// id, never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Whether the change starts a new release (workers roll).
    pub rolls_workers: bool,
    pub fields: Vec<FieldChange>,
    /// What apply sends: the create body, or the PATCH body; through GraphQL, the whole
    /// `saveEndpoint` request. Not serialised (env values).
    #[serde(skip)]
    pub request: Option<Value>,
    /// How the live endpoint this change removes (delete, or the old one of a replace) is
    /// scaled to zero when REST cannot show it (a GraphQL-made 1-vCPU endpoint): the
    /// `saveEndpoint` request, after which `deleteEndpoint` removes it. `None`: through REST.
    #[serde(skip)]
    pub retire_request: Option<Value>,
}

/// The plan for one project and environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployPlan {
    pub project: String,
    pub environment: Option<String>,
    pub changes: Vec<Change>,
    /// Identifies the desired and live state the plan was made from: apply refuses to carry out
    /// a plan whose fingerprint no longer matches (something changed in between).
    pub fingerprint: String,
}

impl DeployPlan {
    pub fn pending(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::None)
    }
}

/// A live endpoint carries the project's name but not its marker: deploy will not touch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub endpoint: String,
    pub name: String,
    pub id: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "endpoint `{}`: Runpod already has an endpoint named `{}` ({}) that this project does not own (no `{OWNER_ENV}` marker of it); rename or delete it",
            self.endpoint, self.name, self.id
        )
    }
}

/// Diffs desired against live. `owner` is this project's marker value; live endpoints with
/// another marker (or none) are never updated or deleted.
pub fn plan(
    project: &str,
    environment: Option<&str>,
    owner: &str,
    desired: &[Desired],
    live: &[Live],
) -> Result<DeployPlan, Vec<Conflict>> {
    let owned: Vec<&Live> = live.iter().filter(|l| l.owner() == Some(owner)).collect();
    let mut conflicts = Vec::new();
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    let mut changes = Vec::new();
    for d in desired {
        let same_name: Vec<&&Live> = owned
            .iter()
            .filter(|l| l.body.name == d.body.name)
            .collect();
        if same_name.is_empty() {
            if let Some(foreign) = live.iter().find(|l| l.body.name == d.body.name) {
                conflicts.push(Conflict {
                    endpoint: d.endpoint.clone(),
                    name: d.body.name.clone(),
                    id: foreign.id.clone(),
                });
                continue;
            }
        }
        // Several owned endpoints of one name (a crash between a replace's create and its
        // delete): keep the one closest to flash.yaml, the newest of equals (the one callers
        // are given); the rest are deleted below.
        let current = same_name
            .iter()
            .min_by_key(|l| {
                (
                    diff(&d.body, &l.body).len(),
                    std::cmp::Reverse((l.created_at.clone(), l.id.clone())),
                )
            })
            .map(|l| **l);
        let change = match current {
            None => Change {
                endpoint: d.endpoint.clone(),
                action: Action::Create,
                name: d.body.name.clone(),
                id: None,
                api: d.api.clone(),
                registry: d.body.registry.clone(),
                rolls_workers: true,
                fields: Vec::new(),
                request: Some(create_request(d)),
                retire_request: None,
            },
            Some(l) => {
                claimed.insert(&l.id);
                let fields = diff(&d.body, &l.body);
                let replace = fields.iter().any(|f| f.effect == Effect::Replace);
                let action = if replace {
                    Action::Replace
                } else if fields.is_empty() {
                    Action::None
                } else {
                    Action::Update
                };
                let request = match (action, &d.api) {
                    (Action::Replace, _) => Some(create_request(d)),
                    (Action::Update, Api::GraphQl { .. }) => Some(graphql::request(
                        graphql::SAVE_ENDPOINT,
                        json!({"input": graphql::save_endpoint_input(&d.body, Some(&l.id))}),
                    )),
                    (Action::Update, Api::Rest) => Some(patch_body(&d.body, &fields)),
                    _ => None,
                };
                Change {
                    endpoint: d.endpoint.clone(),
                    action,
                    name: d.body.name.clone(),
                    id: Some(l.id.clone()),
                    api: d.api.clone(),
                    registry: d.body.registry.clone(),
                    rolls_workers: fields.iter().any(|f| f.effect != Effect::AtOnce),
                    fields: hide_secrets(fields),
                    request,
                    retire_request: retire_request(l),
                }
            }
        };
        changes.push(change);
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    for l in owned {
        if claimed.contains(l.id.as_str()) {
            continue;
        }
        let retire = retire_request(l);
        changes.push(Change {
            endpoint: endpoint_of(project, &l.body.name),
            action: Action::Delete,
            name: l.body.name.clone(),
            id: Some(l.id.clone()),
            api: match retire {
                Some(_) => Api::GraphQl {
                    reason: "made through GraphQL (a 1-vCPU flavor): scaled to zero by saveEndpoint, deleted by deleteEndpoint".into(),
                },
                None => Api::Rest,
            },
            registry: None,
            rolls_workers: false,
            fields: Vec::new(),
            request: None,
            retire_request: retire,
        });
    }
    let fingerprint = fingerprint(desired, live, owner);
    Ok(DeployPlan {
        project: project.to_string(),
        environment: environment.map(str::to_string),
        changes,
        fingerprint,
    })
}

/// The flash.yaml name inside a Runpod name (`project.endpoint[.env]`).
fn endpoint_of(project: &str, name: &str) -> String {
    name.strip_prefix(project)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.split('.').next())
        .unwrap_or(name)
        .to_string()
}

fn effect_of(field: &str) -> Effect {
    match field {
        "workers" | "scaling" | "timeout" | "name" => Effect::AtOnce,
        "type" | "compute" => Effect::Replace,
        _ => Effect::RollsWorkers,
    }
}

/// Field-by-field differences. Fields flash.yaml leaves unset (`disk`) are not managed.
pub fn diff(desired: &EndpointBody, live: &EndpointBody) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, old: Value, new: Value| {
        out.push(FieldChange {
            field: field.to_string(),
            effect: effect_of(field.split('.').next().unwrap_or(field)),
            old: Some(old).filter(|v| !v.is_null()),
            new: Some(new).filter(|v| !v.is_null()),
        })
    };
    if desired.kind != live.kind {
        push("type", v(&live.kind), v(&desired.kind));
    }
    match (&desired.gpu, &live.gpu, &desired.cpu, &live.cpu) {
        (Some(_), None, _, Some(_)) | (None, Some(_), Some(_), _) => {
            let family = |b: &EndpointBody| json!(if b.gpu.is_some() { "gpu" } else { "cpu" });
            push("compute", family(live), family(desired));
        }
        _ => {}
    }
    if desired.name != live.name {
        push("name", v(&live.name), v(&desired.name));
    }
    if desired.image != live.image {
        push("image", v(&live.image), v(&desired.image));
    }
    let keys: BTreeSet<&String> = desired.env.keys().chain(live.env.keys()).collect();
    for key in keys {
        if desired.env.get(key) != live.env.get(key) {
            push(
                &format!("env.{key}"),
                v(&live.env.get(key)),
                v(&desired.env.get(key)),
            );
        }
    }
    if desired.registry != live.registry {
        push("registry", v(&live.registry), v(&desired.registry));
    }
    if desired.ports != live.ports {
        push("ports", v(&live.ports), v(&desired.ports));
    }
    if desired.disk.is_some() && desired.disk != live.disk {
        push("disk", v(&live.disk), v(&desired.disk));
    }
    if let (Some(d), Some(l)) = (&desired.gpu, &live.gpu) {
        if d.pools != l.pools {
            push("gpu.pools", v(&l.pools), v(&d.pools));
        }
        if d.excluded_types != l.excluded_types {
            push(
                "gpu.excludedTypes",
                v(&l.excluded_types),
                v(&d.excluded_types),
            );
        }
        if d.count != l.count {
            push("gpu.count", v(&l.count), v(&d.count));
        }
        if d.min_cuda_version != l.min_cuda_version {
            push(
                "gpu.minCudaVersion",
                v(&l.min_cuda_version),
                v(&d.min_cuda_version),
            );
        }
    }
    if let (Some(d), Some(l)) = (&desired.cpu, &live.cpu) {
        if d != l {
            push("cpu", v(l), v(d));
        }
    }
    if desired.workers != live.workers {
        push("workers", v(&live.workers), v(&desired.workers));
    }
    if desired.scaling != live.scaling {
        push("scaling", v(&live.scaling), v(&desired.scaling));
    }
    if desired.data_center_ids != live.data_center_ids {
        push(
            "dataCenterIds",
            v(&live.data_center_ids),
            v(&desired.data_center_ids),
        );
    }
    if desired.network_volumes != live.network_volumes {
        push(
            "networkVolumes",
            v(&live.network_volumes),
            v(&desired.network_volumes),
        );
    }
    if desired.timeout != live.timeout {
        push("timeout", v(&live.timeout), v(&desired.timeout));
    }
    if desired.flashboot != live.flashboot {
        push("flashboot", v(&live.flashboot), v(&desired.flashboot));
    }
    out
}

fn v<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Env values are never shown: only which variable changes.
fn hide_secrets(fields: Vec<FieldChange>) -> Vec<FieldChange> {
    fields
        .into_iter()
        .map(|mut f| {
            if f.field.starts_with("env.") {
                f.old = None;
                f.new = None;
            }
            f
        })
        .collect()
}

/// What creates the endpoint: a `CreateEndpointRequest`, or GraphQL `saveEndpoint` without an
/// id.
fn create_request(d: &Desired) -> Value {
    match d.api {
        Api::Rest => create_body(&d.body),
        Api::GraphQl { .. } => graphql::request(
            graphql::SAVE_ENDPOINT,
            json!({"input": graphql::save_endpoint_input(&d.body, None)}),
        ),
    }
}

/// A live endpoint REST cannot express is scaled to zero through GraphQL before its delete.
fn retire_request(live: &Live) -> Option<Value> {
    graphql::needs_graphql(&live.body).then(|| {
        graphql::request(
            graphql::SAVE_ENDPOINT,
            json!({"input": graphql::scale_to_zero_input(&live.body, &live.id)}),
        )
    })
}

/// `CreateEndpointRequest`.
pub fn create_body(body: &EndpointBody) -> Value {
    serde_json::to_value(body).unwrap_or(Value::Null)
}

/// `UpdateEndpointRequest`: only the changed fields, each whole (PATCH replaces `env`, `cpu`,
/// `ports`; `gpu.pools` and `gpu.excludedTypes` are one selection and travel together).
pub fn patch_body(desired: &EndpointBody, fields: &[FieldChange]) -> Value {
    let full = create_body(desired);
    let mut out = Map::new();
    let mut gpu = Map::new();
    for f in fields {
        let top = f.field.split('.').next().unwrap_or(&f.field);
        match top {
            "gpu" => {
                let d = desired.gpu.clone().unwrap_or_default();
                match f.field.as_str() {
                    "gpu.pools" | "gpu.excludedTypes" => {
                        gpu.insert("pools".into(), json!(d.pools));
                        gpu.insert("excludedTypes".into(), json!(d.excluded_types));
                    }
                    "gpu.count" => {
                        gpu.insert("count".into(), json!(d.count));
                    }
                    _ => {
                        gpu.insert(
                            "minCudaVersion".into(),
                            json!(d.min_cuda_version.unwrap_or_default()),
                        );
                    }
                }
            }
            // A list or map the plan wants emptied is sent empty, not left out.
            "env" => {
                out.insert("env".into(), json!(desired.env));
            }
            "ports" => {
                out.insert("ports".into(), json!(desired.ports));
            }
            // Removed from flash.yaml: cleared (`null`), not left as it was.
            "registry" => {
                out.insert("registry".into(), json!(desired.registry));
            }
            other => {
                if let Some(value) = full.get(other) {
                    out.insert(other.to_string(), value.clone());
                }
            }
        }
    }
    if !gpu.is_empty() {
        out.insert("gpu".into(), Value::Object(gpu));
    }
    Value::Object(out)
}

/// FNV-1a over the desired bodies and the live state: equal inputs, equal fingerprint.
fn fingerprint(desired: &[Desired], live: &[Live], owner: &str) -> String {
    let mut live_sorted: BTreeMap<&str, Value> = BTreeMap::new();
    for l in live.iter().filter(|l| l.owner() == Some(owner)) {
        live_sorted.insert(&l.id, create_body(&l.body));
    }
    let text = json!({
        "desired": desired.iter().map(|d| create_body(&d.body)).collect::<Vec<_>>(),
        "live": live_sorted,
    })
    .to_string();
    format!("{:016x}", crate::emit::fingerprint(text.as_bytes()))
}

//! Carrying a plan out: callees first (queue endpoints), then their callers with the callees'
//! ids, then deletions; each wave with bounded parallelism. Every step is idempotent against
//! the live state, so a re-run after a crash, a Ctrl-C or a failed call converges without
//! duplicates: endpoints are found again by their deterministic name and ownership marker, and
//! a create whose answer was lost is found by name before it is tried again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flashc::deploy::body::PENDING_ID;
use flashc::deploy::{self, graphql, Action, Api, Change, DeployPlan, Desired, Live};
use serde_json::{json, Value};

use super::api::{ApiError, Client};

/// flash.yaml name → live id.
pub type Ids = BTreeMap<String, String>;

/// What builds the desired endpoints once the callees' ids are known.
pub type Build<'a> = dyn Fn(&Ids) -> Result<Vec<Desired>, String> + Sync + 'a;

/// How many endpoint calls run at once.
pub const PARALLEL: usize = 4;

pub struct Scope<'a> {
    pub project: &'a str,
    pub environment: Option<&'a str>,
    pub owner: &'a str,
    /// Shows an API problem at the flash.yaml line of the field it names.
    pub locator: &'a super::project::Locator,
}

/// What apply left live: each desired endpoint's id and body.
pub struct Outcome {
    pub endpoints: BTreeMap<String, (String, Desired)>,
    /// Each endpoint's `requestUrls`, as the API answered.
    pub urls: BTreeMap<String, Value>,
    pub deleted: Vec<String>,
    /// Endpoints that were created, updated or replaced (to verify).
    pub changed: Vec<String>,
}

/// The live endpoints. REST v2 cannot show a 1-vCPU flavor (its `cpu` is omitted): when an
/// endpoint shows neither `gpu` nor `cpu`, its flavors are read through GraphQL (one query,
/// made only then).
pub fn list(client: &Client) -> Result<Vec<Live>, String> {
    let mut live: Vec<Live> = list_json(client)?
        .iter()
        .filter_map(Live::from_json)
        .collect();
    if live
        .iter()
        .any(|l| l.body.gpu.is_none() && l.body.cpu.is_none())
    {
        let data = client
            .graphql(
                &graphql::request(graphql::LIST_ENDPOINTS, json!({})),
                false,
                true,
            )
            .map_err(|e| format!("GraphQL myself.endpoints: {e}"))?;
        for found in data["myself"]["endpoints"].as_array().into_iter().flatten() {
            let flavors: Vec<String> = found["instanceIds"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            let Some(l) = live
                .iter_mut()
                .find(|l| Some(l.id.as_str()) == found["id"].as_str())
            else {
                continue;
            };
            if l.body.gpu.is_none() && l.body.cpu.is_none() && !flavors.is_empty() {
                l.body.cpu = graphql::cpu_from_instance_ids(&flavors);
            }
        }
    }
    Ok(live)
}

/// `GET /v2/serverless`'s endpoints as the API wrote them.
fn list_json(client: &Client) -> Result<Vec<Value>, String> {
    let value = client
        .get("/v2/serverless")
        .map_err(|e| format!("GET /v2/serverless: {e}"))?;
    Ok(value
        .get("endpoints")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// Ids of the project's live endpoints, by flash.yaml name.
pub fn ids(scope: &Scope, live: &[Live]) -> Ids {
    // Several of one name (a replace under way, or interrupted): the newest is the
    // replacement, which the plan keeps when it matches flash.yaml.
    let mut newest: BTreeMap<String, &Live> = BTreeMap::new();
    for l in live.iter().filter(|l| l.owner() == Some(scope.owner)) {
        if let Some(endpoint) = endpoint_name(scope, &l.body.name) {
            let slot = newest.entry(endpoint).or_insert(l);
            if (&l.created_at, &l.id) > (&slot.created_at, &slot.id) {
                *slot = l;
            }
        }
    }
    newest
        .into_iter()
        .map(|(name, l)| (name, l.id.clone()))
        .collect()
}

fn endpoint_name(scope: &Scope, name: &str) -> Option<String> {
    let rest = name.strip_prefix(scope.project)?.strip_prefix('.')?;
    let endpoint = match scope.environment {
        None => rest,
        Some(env) => rest.strip_suffix(env)?.strip_suffix('.')?,
    };
    (!endpoint.contains('.')).then(|| endpoint.to_string())
}

/// The plan against the live state as it is now.
pub fn plan_now(
    client: &Client,
    scope: &Scope,
    build: &Build,
) -> Result<(DeployPlan, Vec<Desired>), String> {
    let live = list(client)?;
    let desired = build(&ids(scope, &live))?;
    let plan = deploy::plan(
        scope.project,
        scope.environment,
        scope.owner,
        &desired,
        &live,
    )
    .map_err(|conflicts| {
        conflicts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok((plan, desired))
}

/// Carries out the plan whose fingerprint is `expect` (refusing if the live state or flash.yaml
/// changed since it was shown).
pub fn apply(
    client: &Client,
    scope: &Scope,
    build: &Build,
    expect: Option<&str>,
) -> Result<Outcome, String> {
    let (plan, desired) = plan_now(client, scope, build)?;
    if let Some(expected) = expect {
        if expected != plan.fingerprint {
            return Err(format!(
                "the plan is stale: it was made for fingerprint {expected}, and flash.yaml or the live endpoints now give {}; run `flashc deploy --plan` again",
                plan.fingerprint
            ));
        }
    }
    let mut changed = Vec::new();
    // Waves: each writes the endpoints none of whose callees still has a change to make, so a
    // caller is written with its callees' ids known (callees first: queue endpoints the crate
    // calls, then queue endpoints that call them, then load-balanced endpoints). The plan is
    // made again after each wave, with the ids it created.
    let (mut plan, mut desired) = (plan, desired);
    loop {
        let pending: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Replace))
            .filter(|c| !changed.contains(&c.endpoint))
            .collect();
        if pending.is_empty() {
            break;
        }
        let waiting = |name: &String| pending.iter().any(|c| &c.endpoint == name);
        let wave: Vec<&Change> = pending
            .iter()
            .copied()
            .filter(|c| {
                desired
                    .iter()
                    .find(|d| d.endpoint == c.endpoint)
                    .is_none_or(|d| !d.callees.iter().any(waiting))
            })
            .collect();
        if wave.is_empty() {
            return Err(format!(
                "endpoint `{}`: its callees wait on each other, so none can be written first",
                pending[0].endpoint
            ));
        }
        if let Some(c) = wave.iter().find(|c| {
            c.request
                .as_ref()
                .is_some_and(|r| r.to_string().contains(PENDING_ID))
        }) {
            return Err(format!(
                "endpoint `{}`: a callee's id is still unknown after its create",
                c.endpoint
            ));
        }
        // A replaced callee's old endpoint keeps serving its callers until they have the new
        // id: the next plan sees two endpoints of its name and deletes the old one last.
        let called = |c: &Change| desired.iter().any(|d| d.callees.contains(&c.endpoint));
        run_wave(client, scope, &wave, &|c| !called(c))?;
        changed.extend(wave.iter().map(|c| c.endpoint.clone()));
        (plan, desired) = plan_now(client, scope, build)?;
    }
    // Last: what flash.yaml no longer has (and duplicates), scaled to zero, then deleted.
    let deletes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .collect();
    run_wave(client, scope, &deletes, &|_| true)?;
    let raw = list_json(client)?;
    let live: Vec<Live> = raw.iter().filter_map(Live::from_json).collect();
    let final_ids = ids(scope, &live);
    let desired = build(&final_ids)?;
    let mut endpoints = BTreeMap::new();
    let mut urls = BTreeMap::new();
    for d in desired {
        let id = final_ids
            .get(&d.endpoint)
            .cloned()
            .ok_or_else(|| format!("endpoint `{}` is not live after apply", d.endpoint))?;
        if let Some(found) = raw.iter().find(|e| e["id"] == json!(id)) {
            urls.insert(d.endpoint.clone(), found["requestUrls"].clone());
        }
        endpoints.insert(d.endpoint.clone(), (id, d));
    }
    changed.sort();
    changed.dedup();
    Ok(Outcome {
        endpoints,
        urls,
        deleted: deletes.iter().map(|c| c.endpoint.clone()).collect(),
        changed,
    })
}

fn run_wave(
    client: &Client,
    scope: &Scope,
    changes: &[&Change],
    retire_replaced: &(dyn Fn(&Change) -> bool + Sync),
) -> Result<(), String> {
    let mut errors = Vec::new();
    for chunk in changes.chunks(PARALLEL) {
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|c| s.spawn(move || execute(client, scope, c, retire_replaced(c))))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("a worker thread panicked".into()))
                })
                .collect()
        });
        errors.extend(results.into_iter().filter_map(Result::err));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

fn execute(
    client: &Client,
    scope: &Scope,
    change: &Change,
    retire_replaced: bool,
) -> Result<(), String> {
    let at = |what: &str, e: ApiError| {
        let mut text = format!("endpoint `{}`: {what}: {e}", change.endpoint);
        for place in scope.locator.places(&change.endpoint, &e) {
            text.push('\n');
            text.push_str(&place);
        }
        text
    };
    let graphql = matches!(change.api, Api::GraphQl { .. });
    match change.action {
        Action::Create => {
            let body = change.request.as_ref().ok_or("no request")?;
            create(client, scope, body, graphql).map_err(|e| at("create", e))?;
        }
        Action::Update => {
            let id = change.id.as_deref().ok_or("no id")?;
            let body = change.request.as_ref().ok_or("no request")?;
            if graphql {
                // `saveEndpoint` with an id replaces the endpoint whole: sent again, it
                // gives the same endpoint.
                client
                    .graphql(body, true, true)
                    .map_err(|e| at("update (GraphQL saveEndpoint)", e))?;
            } else {
                client
                    .patch(&format!("/v2/serverless/{id}"), body)
                    .map_err(|e| at("update", e))?;
            }
        }
        Action::Replace => {
            // The new endpoint first: the old one keeps serving until its replacement exists.
            let body = change.request.as_ref().ok_or("no request")?;
            create(client, scope, body, graphql).map_err(|e| at("replace (create)", e))?;
            if retire_replaced {
                let id = change.id.as_deref().ok_or("no id")?;
                retire(client, id, change.retire_request.as_ref())
                    .map_err(|e| at("replace (delete the old one)", e))?;
            }
        }
        Action::Delete => {
            let id = change.id.as_deref().ok_or("no id")?;
            retire(client, id, change.retire_request.as_ref()).map_err(|e| at("delete", e))?;
        }
        Action::None => {}
    }
    Ok(())
}

/// POST (or GraphQL `saveEndpoint` without an id), and when its answer is lost (5xx, a
/// dropped connection), look for the endpoint by name before trying again, so a create is
/// never made twice.
fn create(client: &Client, scope: &Scope, body: &Value, graphql: bool) -> Result<String, ApiError> {
    let name = if graphql {
        body["variables"]["input"]["name"].as_str()
    } else {
        body["name"].as_str()
    }
    .unwrap_or_default();
    let mut last = None;
    for _ in 0..3 {
        let sent = if graphql {
            client
                .graphql(body, true, false)
                .map(|data| data["saveEndpoint"].clone())
        } else {
            client.post("/v2/serverless", body)
        };
        match sent {
            Ok(created) => return Ok(created["id"].as_str().unwrap_or_default().to_string()),
            Err(e) if e.status().is_none_or(|s| s >= 500) => {
                if let Ok(live) = list(client) {
                    if let Some(found) = live
                        .iter()
                        .find(|l| l.body.name == name && l.owner() == Some(scope.owner))
                    {
                        return Ok(found.id.clone());
                    }
                }
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(ApiError::Transport("create failed".into())))
}

/// Scale to zero, then delete. Already gone counts as done. `graphql`: the endpoint REST
/// cannot show, scaled to zero by this `saveEndpoint` request and deleted by `deleteEndpoint`.
fn retire(client: &Client, id: &str, graphql: Option<&Value>) -> Result<(), ApiError> {
    if let Some(scale_to_zero) = graphql {
        let gone = |r: Result<Value, ApiError>| match r {
            Err(ApiError::Problem { detail, .. }) if detail.contains("not found") => {
                Ok(Value::Null)
            }
            other => other,
        };
        gone(client.graphql(scale_to_zero, true, true))?;
        let delete = graphql::request(graphql::DELETE_ENDPOINT, json!({"id": id}));
        gone(client.graphql(&delete, true, true))?;
        return Ok(());
    }
    let path = format!("/v2/serverless/{id}");
    let gone = |r: Result<Value, ApiError>| match r {
        Err(e) if e.status() == Some(404) => Ok(Value::Null),
        other => other,
    };
    gone(client.patch(&path, &json!({"workers": {"min": 0, "max": 0}})))?;
    gone(client.delete(&path))?;
    Ok(())
}

/// `(worker id, status, GPU type it landed on)` of each of the endpoint's workers.
pub fn workers(client: &Client, id: &str) -> Result<Vec<(String, String, Option<String>)>, String> {
    let workers = client
        .get(&format!("/v2/serverless/{id}/workers"))
        .map_err(|e| format!("GET workers: {e}"))?;
    Ok(workers["workers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            (
                w["id"].as_str().unwrap_or_default().to_string(),
                w["status"].as_str().unwrap_or_default().to_string(),
                w["gpuTypeId"].as_str().map(str::to_string),
            )
        })
        .collect())
}

/// One endpoint's state after a rollout: its version and its workers.
pub struct Verified {
    pub endpoint_version: Option<u64>,
    /// `(worker id, status, GPU type it landed on)`.
    pub workers: Vec<(String, String, Option<String>)>,
}

/// Waits for each changed endpoint's rollout (`/releases`) and reads its workers: fails on an
/// UNHEALTHY worker, or on a rollout still in progress (workers THROTTLED) past `deadline`.
pub fn verify(client: &Client, id: &str, deadline: Duration) -> Result<Verified, String> {
    let start = Instant::now();
    loop {
        let releases = client
            .get(&format!("/v2/serverless/{id}/releases"))
            .map_err(|e| format!("GET releases: {e}"))?;
        let list = workers(client, id)?;
        if let Some((wid, _, _)) = list.iter().find(|(_, s, _)| s == "UNHEALTHY") {
            return Err(format!("worker {wid} is UNHEALTHY"));
        }
        if releases["rollout"]["inProgress"] != json!(true) {
            return Ok(Verified {
                endpoint_version: releases["endpointVersion"].as_u64(),
                workers: list,
            });
        }
        if start.elapsed() > deadline {
            let throttled = list.iter().filter(|(_, s, _)| s == "THROTTLED").count();
            return Err(format!(
                "the rollout did not finish in {}s ({throttled} worker(s) THROTTLED, {}% on the new release)",
                deadline.as_secs(),
                releases["rollout"]["percentOnLatest"]
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

//! flash.yaml (as lowered into a [`Plan`]) → the body of Runpod's REST v2
//! `POST /v2/serverless` (`CreateEndpointRequest` in `vendor/runpod/openapi.json`).
//!
//! One function per concern: [`gpu`], [`cpu`], [`scaling`], [`env`]. What REST v2 cannot
//! express (1-vCPU CPU flavors: `vcpuCount` is at least 2 and a power of two) is marked
//! [`Api::GraphQl`], so the plan says that endpoint goes through GraphQL `saveEndpoint`, as
//! Runpod's own SDK does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::emit::endpoint_id_env;
use crate::lower::{Compute, EndpointPlan, EnvPlan, Kind, Plan};
use crate::model::vocab;

/// Runpod's default per-request execution timeout (ms), sent when flash.yaml sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 300_000;
/// The environment variable that marks an endpoint as this project's (its value:
/// [`owner`]). Endpoints without it, or with another project's, are never changed or deleted.
pub const OWNER_ENV: &str = "FLASHC_OWNER";
/// The value a caller's `FLASH_ENDPOINT_<NAME>` has in a plan while its callee does not exist
/// yet; apply replaces it with the id the create returned.
pub const PENDING_ID: &str = "(known after create)";

/// The v2 endpoint body. Field names and shapes are the API's (camelCase); it serialises to a
/// `CreateEndpointRequest` and reads a live `Endpoint` (unknown fields ignored, absent ones
/// defaulted), so desired and live compare field by field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody {
    #[serde(default)]
    pub name: String,
    /// `QUEUE` or `LOAD_BALANCER`.
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub image: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// The id of the Runpod registry credential the image is pulled with (`/v2/registries`):
    /// flash.yaml's `registry.auth`. Never a user name or password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Container disk, GB. Unset: the platform's default, and a live value is left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Vec<CpuBody>>,
    #[serde(default)]
    pub workers: WorkersBody,
    #[serde(default)]
    pub scaling: Scaling,
    #[serde(default)]
    pub data_center_ids: Vec<String>,
    #[serde(default)]
    pub network_volumes: Vec<String>,
    /// Per-request execution timeout, ms.
    #[serde(default)]
    pub timeout: u64,
    /// `OFF`, `FLASHBOOT` or `PRIORITY_FLASHBOOT`.
    #[serde(default)]
    pub flashboot: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuBody {
    #[serde(default)]
    pub pools: Vec<String>,
    /// GPU type ids (Runpod's model strings) subtracted from `pools`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_types: Vec<String>,
    #[serde(default = "one")]
    pub count: u32,
    /// `12.8`. A live endpoint without a floor reads `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuBody {
    /// The CPU family: `cpu3c`, `cpu3g`, `cpu5c`, `cpu5g`.
    pub id: String,
    pub vcpu_count: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkersBody {
    #[serde(default)]
    pub min: u32,
    #[serde(default)]
    pub max: u32,
    /// Seconds; refused by the API for queue endpoints scaling on `REQUEST_COUNT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<u32>,
}

/// `EndpointScaling`: a union tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Scaling {
    #[serde(rename = "QUEUE_DELAY")]
    QueueDelay {
        #[serde(rename = "queueDelay")]
        queue_delay: f64,
    },
    #[serde(rename = "REQUEST_COUNT")]
    RequestCount {
        #[serde(rename = "requestCount")]
        request_count: u32,
    },
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling::QueueDelay { queue_delay: 4.0 }
    }
}

/// Which of Runpod's APIs can create the endpoint as flash.yaml describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "api")]
pub enum Api {
    /// REST v2 (`/v2/serverless`).
    Rest,
    /// GraphQL `saveEndpoint`, because REST v2 refuses something flash.yaml asks for.
    #[serde(rename = "graphql")]
    GraphQl { reason: String },
}

/// One endpoint as flash.yaml wants it on Runpod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Desired {
    /// The endpoint's name in flash.yaml.
    pub endpoint: String,
    pub api: Api,
    pub body: EndpointBody,
    /// The project's queue endpoints this one gets the ids of (`FLASH_ENDPOINT_<NAME>`).
    pub callees: Vec<String>,
    /// Env keys whose values are secret references (never shown).
    pub secret_keys: Vec<String>,
}

/// What deploy needs besides the plan.
pub struct Inputs<'a> {
    /// Image reference per endpoint (flash.yaml name → `registry/name@sha256:…` or a content tag).
    pub images: &'a BTreeMap<String, String>,
    /// Live ids of the project's endpoints (flash.yaml name → id), for callers' variables.
    pub ids: &'a BTreeMap<String, String>,
    /// flash.yaml's `registry.auth`: the registry credential id every image is pulled with.
    pub registry_auth: Option<&'a str>,
}

/// flash.yaml asks for something no API flashc speaks can express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmappable {
    pub endpoint: String,
    /// The flash.yaml key, for locating the error.
    pub key: &'static str,
    pub message: String,
}

impl std::fmt::Display for Unmappable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "endpoint `{}`, `{}`: {}",
            self.endpoint, self.key, self.message
        )
    }
}

/// The Runpod name of an endpoint: `project.endpoint` for the base file,
/// `project.endpoint.environment` with an overlay. Project and endpoint names have no `.`, so
/// the name reads back unambiguously, and two projects or environments never share one.
pub fn runpod_name(project: &str, environment: Option<&str>, endpoint: &str) -> String {
    match environment {
        None => format!("{project}.{endpoint}"),
        Some(env) => format!("{project}.{endpoint}.{env}"),
    }
}

/// The ownership marker's value for a project and environment ([`OWNER_ENV`]).
pub fn owner(project: &str, environment: Option<&str>) -> String {
    match environment {
        None => project.to_string(),
        Some(env) => format!("{project}.{env}"),
    }
}

/// Every endpoint of the plan as flash.yaml wants it, in the plan's (name) order.
pub fn desired(plan: &Plan, inputs: &Inputs) -> Result<Vec<Desired>, Unmappable> {
    let queue_endpoints: Vec<String> = plan
        .endpoints
        .iter()
        .filter(|e| e.kind == Kind::Queue)
        .map(|e| e.name.clone())
        .collect();
    // The queue endpoints the handler crate calls (`Endpoint::named`, as check found them).
    let called: Vec<String> = plan
        .handler_crate
        .calls
        .iter()
        .filter(|c| queue_endpoints.contains(c))
        .cloned()
        .collect();
    plan.endpoints
        .iter()
        .map(|endpoint| {
            // Load-balanced endpoints may call any queue endpoint, as before calls were known
            // (a name computed at run time is not seen). A queue endpoint the crate does not
            // call may call those it does (an orchestrator and its GPU backend); a called one
            // gets no ids, so the calls never form a cycle and callees are created first.
            let callees: Vec<String> = match endpoint.kind {
                Kind::LoadBalanced => queue_endpoints.clone(),
                Kind::Queue if called.contains(&endpoint.name) => Vec::new(),
                Kind::Queue => called.clone(),
            };
            desired_endpoint(plan, endpoint, callees, inputs)
        })
        .collect()
}

fn desired_endpoint(
    plan: &Plan,
    e: &EndpointPlan,
    callees: Vec<String>,
    inputs: &Inputs,
) -> Result<Desired, Unmappable> {
    let unmappable = |key: &'static str, message: String| Unmappable {
        endpoint: e.name.clone(),
        key,
        message,
    };
    let image = inputs
        .images
        .get(&e.name)
        .cloned()
        .ok_or_else(|| unmappable("image", "no image was built for this endpoint".into()))?;
    let (env, secret_keys) = env(plan, e, &callees, inputs.ids);
    let (gpu, cpu, api) = match &e.compute {
        Compute::Gpu {
            choices,
            count,
            min_cuda_version,
            ..
        } => (
            Some(gpu(choices, *count, min_cuda_version)),
            None,
            Api::Rest,
        ),
        Compute::Cpu { instance_ids } => {
            let (cpu, api) = cpu(instance_ids).map_err(|m| unmappable("cpu", m))?;
            (None, Some(cpu), api)
        }
    };
    let scaling = scaling(e);
    let idle_timeout = match (e.kind, &scaling) {
        (Kind::Queue, Scaling::RequestCount { .. }) => None,
        _ => Some(e.idle_timeout),
    };
    let network_volumes = e
        .volumes
        .iter()
        .map(|v| {
            v.id.clone().ok_or_else(|| {
                unmappable(
                    "volume",
                    format!(
                        "volume `{}` has no `id`; deploy attaches existing network volumes by id (create it on Runpod and set `id:`)",
                        v.name.as_deref().unwrap_or("?")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if matches!(api, Api::GraphQl { .. }) && network_volumes.len() > 1 {
        return Err(unmappable(
            "volume",
            "GraphQL saveEndpoint (which this endpoint's CPU flavor needs) attaches one network volume".into(),
        ));
    }
    let ports = match e.kind {
        Kind::LoadBalanced => vec![format!("{}/http", e.port)],
        Kind::Queue => Vec::new(),
    };
    Ok(Desired {
        endpoint: e.name.clone(),
        api,
        body: EndpointBody {
            name: runpod_name(&plan.project, plan.environment.as_deref(), &e.name),
            kind: match e.kind {
                Kind::Queue => "QUEUE",
                Kind::LoadBalanced => "LOAD_BALANCER",
            }
            .into(),
            image,
            env,
            ports,
            registry: inputs.registry_auth.map(str::to_string),
            disk: e.container_disk,
            gpu,
            cpu,
            workers: WorkersBody {
                min: e.workers_min,
                max: e.workers_max,
                idle_timeout,
            },
            scaling,
            data_center_ids: e.datacenters.clone(),
            network_volumes,
            timeout: e.execution_timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
            flashboot: if e.flashboot { "FLASHBOOT" } else { "OFF" }.into(),
        },
        callees,
        secret_keys,
    })
}

/// The worker's environment: flash.yaml's variables (secrets as Runpod's
/// `{{ RUNPOD_SECRET_<name> }}` reference, filled in by the platform), `PORT`/`PORT_HEALTH` for
/// load-balanced workers (generated images listen on a non-root port), callees' ids, and the
/// ownership marker. Returns the variables and the keys that hold secret references.
fn env(
    plan: &Plan,
    e: &EndpointPlan,
    callees: &[String],
    ids: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut out = BTreeMap::new();
    let mut secrets = Vec::new();
    for (key, value) in &e.env {
        let value = match value {
            EnvPlan::Value { value } => value.clone(),
            EnvPlan::Secret { name } => {
                secrets.push(key.clone());
                format!("{{{{ RUNPOD_SECRET_{name} }}}}")
            }
        };
        out.insert(key.clone(), value);
    }
    if e.kind == Kind::LoadBalanced {
        out.insert("PORT".into(), e.port.to_string());
        out.insert("PORT_HEALTH".into(), e.port.to_string());
    }
    for callee in callees {
        let id = ids
            .get(callee)
            .cloned()
            .unwrap_or_else(|| PENDING_ID.to_string());
        out.insert(endpoint_id_env(callee), id);
    }
    out.insert(
        OWNER_ENV.into(),
        owner(&plan.project, plan.environment.as_deref()),
    );
    (out, secrets)
}

/// `gpu`: pools select, types subtract. A pool named in flash.yaml (or `any`) is taken whole;
/// a pool reached only through models keeps just those models, so its other cards (named or
/// not: v2 excludes by type id, which covers the cards Flash's `gpuIds` could not name) are
/// excluded.
pub fn gpu(choices: &[String], count: u32, min_cuda_version: &str) -> GpuBody {
    let any = choices.iter().any(|c| c == vocab::GPU_ANY);
    let named: Vec<&str> = vocab::gpu_pools()
        .iter()
        .filter(|p| any || choices.iter().any(|c| c == p.id))
        .map(|p| p.id)
        .collect();
    let mut pools: Vec<String> = named.iter().map(|p| p.to_string()).collect();
    let mut excluded = Vec::new();
    for pool in vocab::gpu_pools() {
        if named.contains(&pool.id) {
            continue;
        }
        let chosen: Vec<&str> = pool
            .models
            .iter()
            .copied()
            .filter(|m| choices.iter().any(|c| c == m))
            .collect();
        if chosen.is_empty() {
            continue;
        }
        pools.push(pool.id.to_string());
        excluded.extend(
            pool.models
                .iter()
                .filter(|m| !chosen.contains(m))
                .filter_map(|m| vocab::gpu_model(m).map(|m| m.name.to_string()))
                .chain(pool.unnamed_cards.iter().map(|c| c.to_string())),
        );
    }
    pools.sort();
    excluded.sort();
    excluded.dedup();
    GpuBody {
        pools,
        excluded_types: excluded,
        count,
        min_cuda_version: Some(min_cuda_version.to_string()),
    }
}

/// `cpu`: flavors `cpu{gen}{class}-{vCPU}-{RAM}` become `[{id: family, vcpuCount}]`. REST v2
/// takes only power-of-two counts of at least 2; a 1-vCPU flavor sends the whole endpoint
/// through GraphQL.
pub fn cpu(flavors: &[String]) -> Result<(Vec<CpuBody>, Api), String> {
    let mut out: Vec<CpuBody> = Vec::new();
    let mut graphql = Vec::new();
    for flavor in flavors {
        let mut parts = flavor.splitn(3, '-');
        let (Some(family), Some(vcpus)) = (parts.next(), parts.next()) else {
            return Err(format!("`{flavor}` is not a CPU flavor"));
        };
        let vcpu_count: u32 = vcpus
            .parse()
            .map_err(|_| format!("`{flavor}` is not a CPU flavor"))?;
        if vcpu_count < 2 || !vcpu_count.is_power_of_two() {
            graphql.push(flavor.as_str());
        }
        let body = CpuBody {
            id: family.to_string(),
            vcpu_count,
        };
        if !out.contains(&body) {
            out.push(body);
        }
    }
    let api = if graphql.is_empty() {
        Api::Rest
    } else {
        Api::GraphQl {
            reason: format!(
                "REST v2 takes vcpuCount ≥ 2 and a power of two; {} goes through GraphQL saveEndpoint",
                graphql.join(", ")
            ),
        }
    };
    Ok((out, api))
}

/// GB of memory a worker of a CPU family gets per vCPU (the catalogue's RAM multiplier:
/// compute-optimised `c` 2, general-purpose `g` 4), which the API reports as `cpu[].memory`.
pub fn cpu_memory_gb(family: &str, vcpu_count: u32) -> u32 {
    let per_vcpu = if family.ends_with('g') { 4 } else { 2 };
    per_vcpu * vcpu_count
}

fn scaling(e: &EndpointPlan) -> Scaling {
    match e.scaler_type {
        "REQUEST_COUNT" => Scaling::RequestCount {
            request_count: e.scaler_value.max(1),
        },
        _ => Scaling::QueueDelay {
            queue_delay: f64::from(e.scaler_value),
        },
    }
}

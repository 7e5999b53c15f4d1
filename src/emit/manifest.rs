//! `flash_manifest.json`: what a deploy needs to create each endpoint on Runpod. Keys are Flash's
//! where Flash has them (so Flash tooling can read it), plus what Flash's manifest loses
//! (`gpuCount`, `executionTimeoutMs`, `flashboot`, system dependencies, disk, volumes, retries,
//! port, image). Its JSON Schema (`schema/manifest.schema.json`) is generated from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::lower::{Compute, EndpointPlan, EnvPlan, Kind, Plan};

/// The route manifest of a flashc project.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(title = "flash_manifest.json", deny_unknown_fields)]
pub struct Manifest {
    /// Manifest format version.
    pub version: String,
    /// The flashc version that wrote it.
    pub generator: String,
    pub project_name: String,
    /// The environment overlay applied (`flashc generate --env`), if any.
    pub environment: Option<String>,
    /// The endpoints, by name.
    pub resources: BTreeMap<String, Resource>,
    /// Every handler function, by the endpoint that serves it: `{endpoint: [paths]}`.
    pub function_registry: BTreeMap<String, Vec<String>>,
    /// Load-balanced endpoints' routes: `{endpoint: {"METHOD /path": handler}}`.
    pub routes: BTreeMap<String, BTreeMap<String, String>>,
}

/// One endpoint, as Runpod's API takes it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct Resource {
    /// Flash's resource class: `ServerlessEndpoint`, `CpuServerlessEndpoint`,
    /// `LoadBalancerSlsResource` or `CpuLoadBalancerSlsResource`.
    #[serde(rename = "resource_type")]
    pub resource_type: String,
    #[serde(rename = "is_load_balanced")]
    pub is_load_balanced: bool,
    /// The image built from `workers/<endpoint>/Dockerfile`.
    pub image_name: String,
    /// The worker crate's package, which is also its binary's name.
    #[serde(rename = "package")]
    pub package: String,
    /// Runpod's GPU selection string (GPU endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_ids: Option<String>,
    /// CPU flavors (CPU endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<String>,
    pub workers_min: u32,
    pub workers_max: u32,
    /// Seconds.
    pub idle_timeout: u32,
    pub scaler_type: String,
    pub scaler_value: u32,
    /// Datacenter ids, comma-separated as Runpod's API takes them; empty for any.
    pub locations: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_timeout_ms: Option<u64>,
    pub flashboot: bool,
    /// Environment variables; secrets as `{{ RUNPOD_SECRET_name }}`, filled in by the platform.
    pub env: BTreeMap<String, String>,
    /// Jobs one worker runs at once (queue endpoints).
    #[serde(rename = "max_concurrency", skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Times a failed job is retried (queue endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// The port the worker listens on (set `PORT` and `PORT_HEALTH` to it on deploy).
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_disk_gb: Option<u32>,
    pub volumes: Vec<ManifestVolume>,
    /// Debian packages installed in the image.
    pub system_dependencies: Vec<String>,
    /// The variable other endpoints of the project read this endpoint's id from
    /// (`flash_runtime::endpoints::Endpoint::named`); set it on every endpoint at deploy.
    pub endpoint_id_env: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct ManifestVolume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub size_gb: u32,
    pub datacenter: String,
}

/// The variable that carries an endpoint's id to the other endpoints of its project (the
/// route contract's, which the runtime reads).
pub use crate::model::route_key::endpoint_id_env;

pub fn manifest(plan: &Plan, flashc_version: &str) -> Manifest {
    let mut function_registry = BTreeMap::new();
    let mut routes = BTreeMap::new();
    for endpoint in &plan.endpoints {
        let mut functions: Vec<String> = endpoint
            .routes
            .iter()
            .map(|r| r.call.path.clone())
            .chain(endpoint.handler.iter().map(|h| h.path.clone()))
            .chain(endpoint.init.iter().map(|i| i.path.clone()))
            .collect();
        functions.sort();
        functions.dedup();
        function_registry.insert(endpoint.name.clone(), functions);
        if endpoint.kind == Kind::LoadBalanced {
            routes.insert(
                endpoint.name.clone(),
                endpoint
                    .routes
                    .iter()
                    .map(|r| (format!("{} {}", r.method, r.path), r.call.path.clone()))
                    .collect(),
            );
        }
    }
    Manifest {
        version: "1.0".into(),
        generator: format!("flashc {flashc_version}"),
        project_name: plan.project.clone(),
        environment: plan.environment.clone(),
        resources: plan
            .endpoints
            .iter()
            .map(|e| (e.name.clone(), resource(e)))
            .collect(),
        function_registry,
        routes,
    }
}

fn resource(e: &EndpointPlan) -> Resource {
    let lb = e.kind == Kind::LoadBalanced;
    let (gpu_ids, instance_ids, gpu_count, min_cuda_version) = match &e.compute {
        Compute::Gpu {
            gpu_ids,
            count,
            min_cuda_version,
            ..
        } => (
            Some(gpu_ids.clone()),
            None,
            Some(*count),
            Some(min_cuda_version.clone()),
        ),
        Compute::Cpu { instance_ids } => (None, Some(instance_ids.clone()), None, None),
    };
    let resource_type = match (lb, e.compute.is_gpu()) {
        (false, true) => "ServerlessEndpoint",
        (false, false) => "CpuServerlessEndpoint",
        (true, true) => "LoadBalancerSlsResource",
        (true, false) => "CpuLoadBalancerSlsResource",
    };
    Resource {
        resource_type: resource_type.into(),
        is_load_balanced: lb,
        image_name: e.image.clone(),
        package: e.package.clone(),
        gpu_ids,
        instance_ids,
        gpu_count,
        min_cuda_version,
        workers_min: e.workers_min,
        workers_max: e.workers_max,
        idle_timeout: e.idle_timeout,
        scaler_type: e.scaler_type.into(),
        scaler_value: e.scaler_value,
        locations: e.datacenters.join(","),
        execution_timeout_ms: e.execution_timeout_ms,
        flashboot: e.flashboot,
        env: e
            .env
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    EnvPlan::Value { value } => value.clone(),
                    EnvPlan::Secret { name } => format!("{{{{ RUNPOD_SECRET_{name} }}}}"),
                };
                (k.clone(), value)
            })
            .collect(),
        max_concurrency: (!lb).then_some(e.max_concurrency),
        retries: (!lb).then_some(e.retries),
        port: e.port,
        container_disk_gb: e.container_disk,
        volumes: e
            .volumes
            .iter()
            .map(|v| ManifestVolume {
                name: v.name.clone(),
                id: v.id.clone(),
                size_gb: v.size_gb,
                datacenter: v.datacenter.clone(),
            })
            .collect(),
        system_dependencies: e.system_dependencies.clone(),
        endpoint_id_env: endpoint_id_env(&e.name),
    }
}

/// `schema/manifest.schema.json`.
pub fn schema_text() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

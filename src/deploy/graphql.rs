//! What REST v2 cannot express goes through Runpod's GraphQL API (`POST {base}/graphql`), as
//! Runpod's own SDK (runpod-flash, `core/api/runpod.py`) does: `saveEndpoint(input:
//! EndpointInput!)` creates an endpoint, or replaces one whole when `id` is given, and
//! `deleteEndpoint(id)` deletes one whose workers are scaled to zero. Today that is 1-vCPU CPU
//! flavors (`cpu3c-1-2`): v2's `vcpuCount` is at least 2.
//!
//! Pure: the v2 body ([`EndpointBody`]) becomes an `EndpointInput`, and the flavors GraphQL
//! reports (`instanceIds`) become the v2 `cpu` list again, so the plan diffs a GraphQL-made
//! endpoint like any other. The CLI sends the requests (`src/cli/deploy/apply.rs`).

use serde_json::{json, Map, Value};

use super::body::{cpu_memory_gb, CpuBody, EndpointBody, Scaling};

/// The mutation flashc sends to create or replace an endpoint; the selection is what apply
/// reads back (the id) and what the emulator checks it can answer.
pub const SAVE_ENDPOINT: &str = "mutation saveEndpoint($input: EndpointInput!) { saveEndpoint(input: $input) { id name type instanceIds workersMin workersMax } }";

/// The mutation that deletes an endpoint (its workers must be scaled to zero first).
pub const DELETE_ENDPOINT: &str =
    "mutation deleteEndpoint($id: String!) { deleteEndpoint(id: $id) }";

/// The query that reads the CPU flavors of the account's endpoints, which REST v2 cannot show
/// for a 1-vCPU flavor.
pub const LIST_ENDPOINTS: &str =
    "query flashcEndpoints { myself { endpoints { id name instanceIds } } }";

/// A GraphQL request body: `{query, variables}`.
pub fn request(query: &str, variables: Value) -> Value {
    json!({ "query": query, "variables": variables })
}

/// Whether REST v2 can express this endpoint's compute (`vcpuCount` ≥ 2, a power of two).
pub fn needs_graphql(body: &EndpointBody) -> bool {
    body.cpu.as_ref().is_some_and(|cpu| {
        cpu.iter()
            .any(|c| c.vcpu_count < 2 || !c.vcpu_count.is_power_of_two())
    })
}

/// `[{id: cpu3c, vcpuCount: 1}]` → `["cpu3c-1-2"]`: the flavor names GraphQL takes
/// (`family-vCPU-RAM`, RAM from the family's GB per vCPU).
pub fn instance_ids(cpu: &[CpuBody]) -> Vec<String> {
    cpu.iter()
        .map(|c| {
            format!(
                "{}-{}-{}",
                c.id,
                c.vcpu_count,
                cpu_memory_gb(&c.id, c.vcpu_count)
            )
        })
        .collect()
}

/// `["cpu3c-1-2"]` → `[{id: cpu3c, vcpuCount: 1}]`; `None` if one is not a flavor name.
pub fn cpu_from_instance_ids(ids: &[String]) -> Option<Vec<CpuBody>> {
    ids.iter()
        .map(|flavor| {
            let mut parts = flavor.splitn(3, '-');
            let family = parts.next()?;
            let vcpu_count = parts.next()?.parse().ok()?;
            parts.next()?;
            Some(CpuBody {
                id: family.to_string(),
                vcpu_count,
            })
        })
        .collect()
}

/// The `EndpointInput` of `saveEndpoint` for a v2 body: `id` replaces that endpoint whole
/// (GraphQL has no partial update), without it a new endpoint is made. The container settings
/// travel as an inline `template`, as the SDK sends them.
pub fn save_endpoint_input(body: &EndpointBody, id: Option<&str>) -> Value {
    let mut input = Map::new();
    if let Some(id) = id {
        input.insert("id".into(), json!(id));
    }
    input.insert("name".into(), json!(body.name));
    let kind = if body.kind == "LOAD_BALANCER" {
        "LB"
    } else {
        "QB"
    };
    input.insert("type".into(), json!(kind));
    let mut template = Map::new();
    template.insert("name".into(), json!(format!("{}__template", body.name)));
    template.insert("imageName".into(), json!(body.image));
    template.insert(
        "env".into(),
        Value::Array(
            body.env
                .iter()
                .map(|(key, value)| json!({"key": key, "value": value}))
                .collect(),
        ),
    );
    if !body.ports.is_empty() {
        template.insert("ports".into(), json!(body.ports.join(",")));
    }
    if let Some(disk) = body.disk {
        template.insert("containerDiskInGb".into(), json!(disk));
    }
    if let Some(registry) = &body.registry {
        template.insert("containerRegistryAuthId".into(), json!(registry));
    }
    input.insert("template".into(), Value::Object(template));
    if let Some(gpu) = &body.gpu {
        let ids: Vec<String> = gpu
            .pools
            .iter()
            .cloned()
            .chain(gpu.excluded_types.iter().map(|t| format!("-{t}")))
            .collect();
        input.insert("gpuIds".into(), json!(ids.join(",")));
        input.insert("gpuCount".into(), json!(gpu.count));
        if let Some(floor) = &gpu.min_cuda_version {
            input.insert("minCudaVersion".into(), json!(floor));
        }
    }
    if let Some(cpu) = &body.cpu {
        input.insert("instanceIds".into(), json!(instance_ids(cpu)));
    }
    input.insert("workersMin".into(), json!(body.workers.min));
    input.insert("workersMax".into(), json!(body.workers.max));
    if let Some(idle) = body.workers.idle_timeout {
        input.insert("idleTimeout".into(), json!(idle));
    }
    let (scaler, value) = match body.scaling {
        Scaling::QueueDelay { queue_delay } => ("QUEUE_DELAY", queue_delay.round().max(1.0) as u64),
        Scaling::RequestCount { request_count } => ("REQUEST_COUNT", u64::from(request_count)),
    };
    input.insert("scalerType".into(), json!(scaler));
    input.insert("scalerValue".into(), json!(value));
    input.insert("executionTimeoutMs".into(), json!(body.timeout));
    let flashboot = if body.flashboot.is_empty() {
        "OFF"
    } else {
        &body.flashboot
    };
    input.insert("flashBootType".into(), json!(flashboot));
    if !body.data_center_ids.is_empty() {
        input.insert("locations".into(), json!(body.data_center_ids.join(",")));
    }
    if let Some(volume) = body.network_volumes.first() {
        input.insert("networkVolumeId".into(), json!(volume));
    }
    Value::Object(input)
}

/// The input that scales an endpoint to zero (what `deleteEndpoint` needs first): the whole
/// endpoint again, since `saveEndpoint` replaces it, with no workers.
pub fn scale_to_zero_input(body: &EndpointBody, id: &str) -> Value {
    let mut body = body.clone();
    body.workers.min = 0;
    body.workers.max = 0;
    save_endpoint_input(&body, Some(id))
}

//! One environment's plan as Kubernetes objects (JSON values, validated against the vendored
//! schemas in `tests/kubernetes.rs`). Every choice of the export is here: names, probes,
//! compute, pod security, scaling and routing.

use serde_json::{json, Map, Value};

use super::{GpuProducts, Settings};
use crate::emit::endpoint_id_env;
use crate::lower::{Compute, EndpointPlan, EnvPlan, Kind, Plan};
use crate::model::vocab;

/// The port the worker's health server listens on (`PORT_HEALTH`): the probes' own port, so
/// they never wait behind the main port's connection cap.
pub const HEALTH_PORT: u16 = 8081;
/// The probes the runtime serves beside its health path (`/ping`): see `flash_runtime::health`.
pub const READINESS_PATH: &str = "/ping/ready";
pub const LIVENESS_PATH: &str = "/ping/live";
/// The image's user (the Dockerfile's `USER 10001:10001`).
pub const RUN_AS: i64 = 10001;
/// Where Runpod mounts a network volume; the PVC is mounted there too.
pub const VOLUME_MOUNT: &str = "/runpod-volume";
/// The Redis names of a queue (its stream, consumer group and variables) are the runtime's, from
/// the contract flashc shares with it; `QUEUE_URL_ENV` is also the key in the project's Secret.
pub use crate::model::route_key::{queue_stream, QUEUE_GROUP, QUEUE_NAME_ENV, QUEUE_URL_ENV};
/// KEDA's HTTP add-on, as its chart installs it (namespace `keda`).
const HTTP_ADDON_SCALER: &str = "keda-add-ons-http-external-scaler.keda:9090";
const HTTP_ADDON_PROXY: &str = "keda-add-ons-http-interceptor-proxy";
const HTTP_ADDON_NAMESPACE: &str = "keda";
const HTTP_ADDON_PROXY_PORT: u16 = 8080;
/// The Gateway the HTTPRoutes attach to (patch `parentRefs` in an overlay for another).
pub const GATEWAY: &str = "flash-gateway";
/// How long `init` may take before the startup probe restarts the container: the Dockerfile's
/// `HEALTHCHECK --start-period` (model loading on a GPU, a quick start on a CPU).
const STARTUP_BUDGET_GPU_S: u32 = 300;
const STARTUP_BUDGET_CPU_S: u32 = 60;
const STARTUP_PERIOD_S: u32 = 5;
/// The runtime's default `FLASH_SHUTDOWN_GRACE_MS`, the least drain time given.
const DEFAULT_GRACE_MS: u64 = 30_000;
/// Time past the drain for the process to exit before the kubelet's SIGKILL.
const EXIT_MARGIN_S: u64 = 10;
/// How long a stopping pod keeps serving before SIGTERM: Services, the Gateway and the
/// interceptor stop sending it requests meanwhile (removal from endpoints is not instant).
const PRE_STOP_S: u64 = 5;

/// The Secret (created by the user, never written here) holding the values of flash.yaml's
/// `{secret: NAME}` references under their names, and the queues' Redis URL.
pub fn secret_name(project: &str) -> String {
    format!("{project}-secrets")
}

/// A DNS-1123 label (at most 63 characters) for `name`: as it is when it fits (project and
/// endpoint names are checked to this alphabet), else cut with a hash of the whole.
pub fn object_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let clean = clean.trim_matches('-');
    if clean.len() <= 63 && !clean.is_empty() {
        return clean.to_string();
    }
    // FNV-1a: a stable hash that needs no dependency; it only has to tell long names apart.
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    // 54 + `-` + 8 hex digits: 63. A name of no letter or digit at all is the hash alone,
    // after a letter (a Service name starts with one).
    match clean.get(..54).unwrap_or(clean).trim_end_matches('-') {
        "" => format!("x{hash:08x}"),
        head => format!("{head}-{hash:08x}"),
    }
}

/// One object and the file (of the kustomize base) it is written to.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// `hello-embed.yaml` for an endpoint's objects, `project.yaml` for shared ones.
    pub file: String,
    pub value: Value,
}

impl Object {
    pub fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    pub fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    pub fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
}

/// Every object of `plan`, endpoints in name order, each endpoint's objects in a fixed order.
pub fn objects(plan: &Plan, settings: &Settings) -> Result<Vec<Object>, String> {
    let mut out = Vec::new();
    let shared = "project.yaml".to_string();
    let mut claims: Vec<String> = Vec::new();
    for endpoint in &plan.endpoints {
        if let Some(volume) = endpoint.volumes.first() {
            let claim = claim_name(&plan.project, volume);
            if !claims.contains(&claim) {
                claims.push(claim.clone());
                out.push(Object {
                    file: shared.clone(),
                    value: json!({
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim, "labels": project_labels(&plan.project)},
                        "spec": {
                            "accessModes": ["ReadWriteMany"],
                            "resources": {"requests": {"storage": format!("{}Gi", volume.size_gb)}},
                        },
                    }),
                });
            }
        }
    }
    if plan.endpoints.iter().any(|e| e.kind == Kind::Queue) {
        out.push(Object {
            file: shared.clone(),
            value: trigger_authentication(&plan.project),
        });
    }
    for endpoint in &plan.endpoints {
        let file = format!("{}.yaml", object_name(&endpoint.package));
        for value in endpoint_objects(plan, endpoint, settings)? {
            out.push(Object {
                file: file.clone(),
                value,
            });
        }
    }
    Ok(out)
}

fn claim_name(project: &str, volume: &crate::lower::VolumePlan) -> String {
    let which = volume
        .name
        .as_deref()
        .or(volume.id.as_deref())
        .unwrap_or("volume");
    object_name(&format!("{project}-{which}"))
}

fn project_labels(project: &str) -> Value {
    json!({
        "app.kubernetes.io/part-of": object_name(project),
        "app.kubernetes.io/managed-by": "flashc",
    })
}

fn labels(plan: &Plan, endpoint: &EndpointPlan) -> Value {
    let mut labels = project_labels(&plan.project);
    labels["app.kubernetes.io/name"] = json!(object_name(&endpoint.name));
    labels["app.kubernetes.io/component"] = json!(match endpoint.kind {
        Kind::Queue => "queue",
        Kind::LoadBalanced => "load-balanced",
    });
    labels
}

fn selector(plan: &Plan, endpoint: &EndpointPlan) -> Value {
    json!({
        "app.kubernetes.io/part-of": object_name(&plan.project),
        "app.kubernetes.io/name": object_name(&endpoint.name),
    })
}

/// The path prefix an endpoint is reached under behind the Gateway. A load-balanced endpoint:
/// `/<project>/<endpoint>`, also its `SCRIPT_NAME` (the worker serves its routes under it, so
/// no rewrite is needed). A queue endpoint: `/v2/<project>-<endpoint>`, where the local queue
/// API answers already (it serves `/v2/{endpoint id}/run` for any id), so Runpod's clients work
/// with `RUNPOD_ENDPOINT_BASE_URL=https://<gateway>/v2` and the endpoint id `<project>-<endpoint>`.
pub fn route_prefix(plan: &Plan, endpoint: &EndpointPlan) -> String {
    match endpoint.kind {
        Kind::LoadBalanced => format!("/{}/{}", plan.project, endpoint.name),
        Kind::Queue => format!("/v2/{}", object_name(&endpoint.package)),
    }
}

/// An endpoint that scales to zero is reached through the HTTP add-on's interceptor, which holds
/// a request while a worker starts (a queue endpoint's API is its workers: at zero replicas
/// nobody could accept a job).
fn through_interceptor(endpoint: &EndpointPlan) -> bool {
    endpoint.workers_min == 0 && endpoint.workers_max > 0
}

/// The secret key (and variable) of the key the queue API requires and callers send.
pub const API_KEY_ENV: &str = "RUNPOD_API_KEY";

fn endpoint_objects(
    plan: &Plan,
    endpoint: &EndpointPlan,
    settings: &Settings,
) -> Result<Vec<Value>, String> {
    let name = object_name(&endpoint.package);
    let meta = json!({"name": name, "labels": labels(plan, endpoint)});
    let mut out = vec![json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": false,
    })];
    let values: Map<String, Value> = endpoint
        .env
        .iter()
        .filter_map(|(key, value)| match value {
            EnvPlan::Value { value } => Some((key.clone(), json!(value))),
            EnvPlan::Secret { .. } => None,
        })
        .collect();
    let config_map = object_name(&format!("{}-env", endpoint.package));
    if !values.is_empty() {
        out.push(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_map, "labels": labels(plan, endpoint)},
            "data": values,
        }));
    }
    out.push(deployment(
        plan,
        endpoint,
        settings,
        (!values.is_empty()).then_some(config_map.as_str()),
    )?);
    out.push(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "selector": selector(plan, endpoint),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }));
    out.push(json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta,
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(plan, endpoint)},
        },
    }));
    out.extend(scaling(plan, endpoint));
    out.push(http_route(plan, endpoint));
    Ok(out)
}

fn startup_budget_s(endpoint: &EndpointPlan) -> u32 {
    if endpoint.compute.is_gpu() {
        STARTUP_BUDGET_GPU_S
    } else {
        STARTUP_BUDGET_CPU_S
    }
}

/// How long the worker drains on SIGTERM: the longest a request or job may run.
fn drain_ms(endpoint: &EndpointPlan) -> u64 {
    let longest_route = endpoint.routes.iter().filter_map(|r| r.timeout_ms).max();
    endpoint
        .execution_timeout_ms
        .into_iter()
        .chain(longest_route)
        .max()
        .unwrap_or(DEFAULT_GRACE_MS)
        .max(DEFAULT_GRACE_MS)
}

fn deployment(
    plan: &Plan,
    endpoint: &EndpointPlan,
    settings: &Settings,
    config_map: Option<&str>,
) -> Result<Value, String> {
    let name = object_name(&endpoint.package);
    let drain = drain_ms(endpoint);
    let mut env = Vec::new();
    let mut var = |name: &str, value: String| env.push(json!({"name": name, "value": value}));
    if endpoint.kind == Kind::Queue {
        var(QUEUE_NAME_ENV, name.clone());
    }
    var("FLASH_SHUTDOWN_GRACE_MS", drain.to_string());
    // Other queue endpoints: their queue API, through the interceptor when they scale to zero.
    for other in &plan.endpoints {
        if other.kind == Kind::Queue && other.name != endpoint.name {
            let url = if through_interceptor(other) {
                format!(
                    "http://{HTTP_ADDON_PROXY}.{HTTP_ADDON_NAMESPACE}:{HTTP_ADDON_PROXY_PORT}{}",
                    route_prefix(plan, other)
                )
            } else {
                format!("http://{}", object_name(&other.package))
            };
            var(&endpoint_id_env(&other.name), url);
        }
    }
    var("PORT", endpoint.port.to_string());
    var("PORT_HEALTH", HEALTH_PORT.to_string());
    if endpoint.kind == Kind::LoadBalanced {
        var("SCRIPT_NAME", route_prefix(plan, endpoint));
    }
    let secret = secret_name(&object_name(&plan.project));
    let mut secret_var = |var: &str, key: &str| {
        env.push(json!({
            "name": var,
            "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
        }))
    };
    if endpoint.kind == Kind::Queue {
        secret_var(QUEUE_URL_ENV, QUEUE_URL_ENV);
    }
    // A queue API reachable through the Gateway must not be open: the key it requires, which is
    // also what every caller in the project sends. Where flash.yaml gives callers the key (a
    // secret reference, for calls between endpoints), every endpoint reads that same secret, so
    // callers send what the queues expect; the endpoint that names it gets it once, below.
    let declared_key = plan.endpoints.iter().find_map(|e| {
        e.env.iter().find_map(|(var, value)| match value {
            EnvPlan::Secret { name } if var == API_KEY_ENV => Some(name.clone()),
            _ => None,
        })
    });
    if plan.endpoints.iter().any(|e| e.kind == Kind::Queue)
        && !endpoint.env.iter().any(|(var, _)| var == API_KEY_ENV)
    {
        secret_var(API_KEY_ENV, declared_key.as_deref().unwrap_or(API_KEY_ENV));
    }
    for (var, value) in &endpoint.env {
        if let EnvPlan::Secret { name } = value {
            secret_var(var, name);
        }
    }
    env.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let probe = |path: &str, period: u32, timeout: u32, failures: u32| {
        json!({
            "httpGet": {"path": path, "port": "health"},
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": failures,
        })
    };
    let budget = startup_budget_s(endpoint);
    let mut container = json!({
        "name": "worker",
        "image": settings
            .images
            .get(&plan.environment)
            .and_then(|images| images.get(&endpoint.name))
            .cloned()
            .unwrap_or_else(|| endpoint.image.clone()),
        "ports": [
            {"name": "http", "containerPort": endpoint.port, "protocol": "TCP"},
            {"name": "health", "containerPort": HEALTH_PORT, "protocol": "TCP"},
        ],
        "env": env,
        "resources": resources(endpoint)?,
        "startupProbe": probe(READINESS_PATH, STARTUP_PERIOD_S, 2, budget / STARTUP_PERIOD_S),
        "readinessProbe": probe(READINESS_PATH, 5, 2, 2),
        "livenessProbe": probe(LIVENESS_PATH, 10, 5, 3),
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        // Kubernetes' own sleep action (1.30+): no shell or `sleep` binary needed in the image.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_S}}},
    });
    if let Some(config_map) = config_map {
        container["envFrom"] = json!([{"configMapRef": {"name": config_map}}]);
    }
    let mut volumes = vec![json!({"name": "tmp", "emptyDir": {}})];
    if let Some(volume) = endpoint.volumes.first() {
        volumes.push(json!({
            "name": "runpod-volume",
            "persistentVolumeClaim": {"claimName": claim_name(&plan.project, volume)},
        }));
        if let Some(mounts) = container["volumeMounts"].as_array_mut() {
            mounts.push(json!({"name": "runpod-volume", "mountPath": VOLUME_MOUNT}));
        }
    }
    let mut pod = json!({
        "serviceAccountName": name,
        "automountServiceAccountToken": false,
        "terminationGracePeriodSeconds": PRE_STOP_S + drain.div_ceil(1000) + EXIT_MARGIN_S,
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    });
    if let Compute::Gpu {
        choices,
        min_cuda_version,
        ..
    } = &endpoint.compute
    {
        pod["tolerations"] =
            json!([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]);
        pod["affinity"] = gpu_affinity(choices, min_cuda_version, settings.gpu_products);
    }
    let mut spec = json!({
        "revisionHistoryLimit": 3,
        "selector": {"matchLabels": selector(plan, endpoint)},
        "template": {
            "metadata": {"labels": labels(plan, endpoint)},
            "spec": pod,
        },
    });
    // A scaler owns the replica count; a fixed count is the Deployment's own.
    if endpoint.workers_min == endpoint.workers_max {
        spec["replicas"] = json!(endpoint.workers_min);
    }
    Ok(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels(plan, endpoint)},
        "spec": spec,
    }))
}

/// CPU flavors: the first flavor's vCPUs and memory as requests and limits (a Guaranteed pod);
/// GPUs: the count as `nvidia.com/gpu`. The container disk caps ephemeral storage.
fn resources(endpoint: &EndpointPlan) -> Result<Value, String> {
    let mut limits = Map::new();
    match &endpoint.compute {
        Compute::Cpu { instance_ids } => {
            let id = instance_ids
                .first()
                .map_or(vocab::DEFAULT_CPU_FLAVOR, String::as_str);
            let flavor = vocab::cpu_flavor(id).ok_or_else(|| {
                format!("endpoint `{}`: unknown CPU flavor `{id}`", endpoint.name)
            })?;
            limits.insert("cpu".into(), json!(flavor.vcpus.to_string()));
            limits.insert("memory".into(), json!(format!("{}Gi", flavor.ram_gb)));
        }
        Compute::Gpu { count, .. } => {
            limits.insert("nvidia.com/gpu".into(), json!(count.to_string()));
        }
    }
    if let Some(disk) = endpoint.container_disk {
        limits.insert("ephemeral-storage".into(), json!(format!("{disk}Gi")));
    }
    let requests: Map<String, Value> = limits
        .iter()
        .filter(|(k, _)| *k != "nvidia.com/gpu")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = json!({"limits": limits});
    if !requests.is_empty() {
        out["requests"] = Value::Object(requests);
    }
    Ok(out)
}

/// Node affinity: one of the chosen cards (none for `any`), on a driver that runs CUDA
/// `min_cuda` (GPU Feature Discovery's `cuda.driver.major`/`.minor`: major above, or the same
/// major and minor at least). Terms are alternatives; expressions within a term all hold.
fn gpu_affinity(choices: &[String], min_cuda: &str, products: &GpuProducts) -> Value {
    let mut cards: Vec<String> = Vec::new();
    if !choices.iter().any(|c| c == vocab::GPU_ANY) {
        for choice in choices {
            let models: Vec<&str> = match vocab::gpu_pool(choice) {
                Some(pool) => pool
                    .models
                    .iter()
                    .chain(pool.unnamed_cards.iter())
                    .copied()
                    .collect(),
                None => vec![choice.as_str()],
            };
            for model in models {
                cards.extend(products.products.get(model).into_iter().flatten().cloned());
            }
        }
    }
    cards.sort();
    cards.dedup();
    let (major, minor) = vocab::cuda_key(min_cuda);
    let expression = |key: &str, op: &str, values: Vec<String>| json!({"key": key, "operator": op, "values": values});
    let mut alternatives = vec![vec![expression(
        "nvidia.com/cuda.driver.major",
        "Gt",
        vec![(if minor == 0 {
            major.saturating_sub(1)
        } else {
            major
        })
        .to_string()],
    )]];
    if minor > 0 {
        alternatives.push(vec![
            expression(
                "nvidia.com/cuda.driver.major",
                "In",
                vec![major.to_string()],
            ),
            expression(
                "nvidia.com/cuda.driver.minor",
                "Gt",
                vec![(minor - 1).to_string()],
            ),
        ]);
    }
    let terms: Vec<Value> = alternatives
        .into_iter()
        .map(|mut expressions| {
            if !cards.is_empty() {
                expressions.insert(0, expression(&products.label, "In", cards.clone()));
            }
            json!({"matchExpressions": expressions})
        })
        .collect();
    json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms,
    }}})
}

/// The KEDA TriggerAuthentication the queues' scalers connect to Redis with: the address and
/// password from the project's Secret (keys `REDIS_ADDRESS`, `host:port`, and `REDIS_PASSWORD`).
fn trigger_authentication(project: &str) -> Value {
    let secret = secret_name(&object_name(project));
    let param =
        |parameter: &str, key: &str| json!({"parameter": parameter, "name": secret, "key": key});
    json!({
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": object_name(&format!("{project}-redis")), "labels": project_labels(project)},
        "spec": {"secretTargetRef": [
            param("address", "REDIS_ADDRESS"),
            param("password", "REDIS_PASSWORD"),
        ]},
    })
}

/// The scaler of an endpoint, if its worker count can change.
fn scaling(plan: &Plan, endpoint: &EndpointPlan) -> Vec<Value> {
    if endpoint.workers_min == endpoint.workers_max {
        return Vec::new();
    }
    let name = object_name(&endpoint.package);
    let meta = json!({"name": name, "labels": labels(plan, endpoint)});
    let scaled_object = |triggers: Value| {
        json!({
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {"name": name},
                "minReplicaCount": endpoint.workers_min,
                "maxReplicaCount": endpoint.workers_max,
                "cooldownPeriod": endpoint.idle_timeout,
                "triggers": triggers,
            },
        })
    };
    let interceptor_route = |target: u32| {
        json!({
            "apiVersion": "http.keda.sh/v1beta1",
            "kind": "InterceptorRoute",
            "metadata": meta,
            "spec": {
                "target": {"service": name, "port": 80},
                "rules": [{"paths": [{"value": route_prefix(plan, endpoint)}]}],
                "scalingMetric": {"concurrency": {"targetValue": target}},
                // The interceptor holds a request while a worker starts from zero.
                "timeouts": {"readiness": format!("{}s", startup_budget_s(endpoint))},
            },
        })
    };
    let push = json!({
        "type": "external-push",
        "metadata": {"interceptorRoute": name, "scalerAddress": HTTP_ADDON_SCALER},
    });
    match endpoint.kind {
        Kind::Queue => {
            let mut triggers = queue_triggers(plan, endpoint);
            if !through_interceptor(endpoint) {
                return vec![scaled_object(triggers)];
            }
            // Requests to the API wake the endpoint; the backlog keeps it up.
            if let Some(list) = triggers.as_array_mut() {
                list.push(push);
            }
            vec![
                interceptor_route(queue_target(endpoint)),
                scaled_object(triggers),
            ]
        }
        Kind::LoadBalanced if endpoint.workers_min == 0 => vec![
            interceptor_route(endpoint.scaler_value),
            scaled_object(json!([push])),
        ],
        Kind::LoadBalanced => vec![json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": endpoint.workers_min,
                "maxReplicas": endpoint.workers_max,
                "metrics": [{
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": endpoint.idle_timeout}},
            },
        })],
    }
}

/// Jobs per worker a queue endpoint scales on: `REQUEST_COUNT`'s value; `QUEUE_DELAY` (seconds
/// a job waits) has no Redis measure, so a worker's share is then what it runs at once.
fn queue_target(endpoint: &EndpointPlan) -> u32 {
    match endpoint.scaler_type {
        "REQUEST_COUNT" => endpoint.scaler_value,
        _ => endpoint.max_concurrency,
    }
    .max(1)
}

/// Two `redis-streams` triggers on the queue's stream and group: the backlog (entries not yet
/// delivered, `lagCount`) per replica, and the jobs running (`pendingEntriesCount`) so a replica
/// is not taken away mid-job. KEDA scales to the larger and is active while either is non-zero.
fn queue_triggers(plan: &Plan, endpoint: &EndpointPlan) -> Value {
    let stream = queue_stream(&object_name(&endpoint.package));
    let backlog = queue_target(endpoint);
    let auth = json!({"name": object_name(&format!("{}-redis", plan.project))});
    let trigger = |target: (&str, u32)| {
        json!({
            "type": "redis-streams",
            "metadata": {
                "stream": stream,
                "consumerGroup": QUEUE_GROUP,
                target.0: target.1.to_string(),
            },
            "authenticationRef": auth,
        })
    };
    json!([
        trigger(("lagCount", backlog)),
        trigger(("pendingEntriesCount", endpoint.max_concurrency.max(1))),
    ])
}

/// The Gateway API route of an endpoint: its prefix, to the HTTP add-on's interceptor when it
/// scales to zero (the interceptor holds requests while a worker starts), else to its Service.
fn http_route(plan: &Plan, endpoint: &EndpointPlan) -> Value {
    let name = object_name(&endpoint.package);
    let backend = if through_interceptor(endpoint) {
        json!({
            "kind": "Service",
            "name": HTTP_ADDON_PROXY,
            "namespace": HTTP_ADDON_NAMESPACE,
            "port": HTTP_ADDON_PROXY_PORT,
        })
    } else {
        json!({"kind": "Service", "name": name, "port": 80})
    };
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "labels": labels(plan, endpoint)},
        "spec": {
            "parentRefs": [{"name": GATEWAY}],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": route_prefix(plan, endpoint)}}],
                "backendRefs": [backend],
            }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_fit_a_dns_label() {
        assert_eq!(object_name("hello-embed"), "hello-embed");
        let long = format!("{}-{}", "a".repeat(40), "b".repeat(40));
        let cut = object_name(&long);
        assert!(cut.len() <= 63 && cut.starts_with("aaaa"), "{cut}");
        assert_ne!(cut, object_name(&format!("{long}c")));
        assert_eq!(object_name("My_Vol"), "my-vol");
        assert_eq!(object_name("__").len(), 9);
    }

    #[test]
    fn cuda_minimum_is_major_above_or_same_major_and_minor_at_least() {
        let products = GpuProducts::builtin();
        let a = gpu_affinity(&["NVIDIA_L4".into()], "12.4", &products);
        let terms = &a["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"];
        assert_eq!(
            terms[0]["matchExpressions"],
            json!([
                {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-L4"]},
                {"key": "nvidia.com/cuda.driver.major", "operator": "Gt", "values": ["12"]},
            ])
        );
        assert_eq!(terms[1]["matchExpressions"][1]["values"], json!(["12"]));
        assert_eq!(terms[1]["matchExpressions"][2]["values"], json!(["3"]));
        // x.0: major above x-1 is enough; `any` sets no card.
        let a = gpu_affinity(&["any".into()], "13.0", &products);
        let terms = &a["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"];
        assert_eq!(
            terms,
            &json!([{"matchExpressions": [
                {"key": "nvidia.com/cuda.driver.major", "operator": "Gt", "values": ["12"]}
            ]}])
        );
    }

    #[test]
    fn a_pool_is_its_models_and_its_unnamed_cards() {
        let products = GpuProducts::builtin();
        let a = gpu_affinity(&["ADA_48_PRO".into()], "12.8", &products);
        assert_eq!(
            a["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"][0]["matchExpressions"][0]["values"],
            json!([
                "NVIDIA-L40",
                "NVIDIA-L40S",
                "NVIDIA-RTX-6000-Ada-Generation"
            ])
        );
    }
}

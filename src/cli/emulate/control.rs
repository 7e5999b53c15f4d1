//! The emulated control plane: Runpod REST v2's serverless endpoints as a state machine, one
//! request in, one response out, no sockets (the server loop is `super::serve`).
//!
//! Every request body is validated against the operation's schema in the vendored OpenAPI
//! document before anything else, and every response against its response schema before it
//! leaves (a response that fails is turned into a 500 naming the emulator: a bug here must not
//! pass for Runpod's behaviour). Beyond the schema it keeps the rules Runpod documents in
//! prose: `type` and the compute family are immutable, a load-balanced endpoint scales on
//! `REQUEST_COUNT`, `idleTimeout` is refused for a queue endpoint scaling on `REQUEST_COUNT`,
//! `vcpuCount` is a power of two, exactly one of `gpu`/`cpu`, `excludedTypes` need `pools`, a
//! floor and a non-empty CUDA set exclude each other. Container and placement changes make a
//! new release with its diff; `workers`, `scaling`, `timeout` and `name` do not.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Map, Value};

use flashc::deploy::body::cpu_memory_gb;
use flashc::deploy::openapi;

mod graphql;

/// One HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub fn content_type(&self) -> &'static str {
        if self.status >= 400 {
            "application/problem+json"
        } else {
            "application/json"
        }
    }
}

/// RFC 9457 problem details, in the document's `ErrorResponse` shape.
fn problem(status: u16, detail: impl Into<String>, errors: Vec<String>) -> Reply {
    let title = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut body = json!({"title": title, "status": status, "detail": detail.into()});
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    Reply::json(status, body)
}

struct Endpoint {
    /// The `Endpoint` object as `GET` returns it.
    json: Value,
    version: u64,
    /// Newest first.
    releases: Vec<Value>,
}

/// Counts, for tests and benchmarks (`GET /_emulator/stats`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub requests: u64,
    pub writes: u64,
}

pub struct ControlPlane {
    endpoints: BTreeMap<String, Endpoint>,
    /// Creation order, for stable listings.
    order: Vec<String>,
    next_id: u64,
    /// Statuses the next requests get instead of their answer (fault injection).
    faults: VecDeque<u16>,
    stats: Stats,
    /// `http://127.0.0.1:PORT`, for `requestUrls`.
    base_url: String,
    /// A clock for `createdAt`, injectable for tests.
    now: fn() -> String,
    /// The workers, when the emulator runs them (`None` in unit tests: no workers).
    pub fleet: Option<std::sync::Arc<super::fleet::Fleet>>,
}

impl ControlPlane {
    pub fn new(base_url: &str, faults: Vec<u16>) -> ControlPlane {
        ControlPlane {
            endpoints: BTreeMap::new(),
            order: Vec::new(),
            next_id: 1,
            faults: faults.into(),
            stats: Stats::default(),
            base_url: base_url.trim_end_matches('/').to_string(),
            now: now_rfc3339,
            fleet: None,
        }
    }

    /// Every endpoint as it is now, with its version: what the workers should run.
    pub fn endpoint_states(&self) -> impl Iterator<Item = (&str, &Value, u64)> {
        self.endpoints
            .iter()
            .map(|(id, e)| (id.as_str(), &e.json, e.version))
    }

    /// Whether `id` is a live endpoint (so `/v2/{id}/…` is its queue API).
    pub fn has_endpoint(&self, id: &str) -> bool {
        self.endpoints.contains_key(id)
    }

    /// Answers one request. `path` has no query string; `authorized` says whether a bearer
    /// token came with it.
    pub fn handle(&mut self, method: &str, path: &str, authorized: bool, body: &[u8]) -> Reply {
        if let Some(reply) = self.emulator_api(method, path, body) {
            return reply;
        }
        self.stats.requests += 1;
        let mut reply = self.answer(method, path, authorized, body);
        let remaining = 1000u64.saturating_sub(self.stats.requests % 1000);
        if reply.status != 429 {
            reply
                .headers
                .push(("RateLimit".into(), format!("\"minute\";r={remaining};t=60")));
        }
        reply
            .headers
            .push(("RateLimit-Policy".into(), "\"minute\";q=1000;w=60".into()));
        reply
    }

    /// `/_emulator/*`: not Runpod's; the emulator's own controls for tests.
    fn emulator_api(&mut self, method: &str, path: &str, body: &[u8]) -> Option<Reply> {
        match (method, path) {
            ("GET", "/_emulator/stats") => Some(Reply::json(
                200,
                json!({"requests": self.stats.requests, "writes": self.stats.writes}),
            )),
            // `{"status": 429|500, "count": N}`: the next N Runpod requests get that status.
            ("POST", "/_emulator/faults") => {
                let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let status = v["status"].as_u64().unwrap_or(500) as u16;
                for _ in 0..v["count"].as_u64().unwrap_or(1) {
                    self.faults.push_back(status);
                }
                Some(Reply::json(200, json!({"queued": self.faults.len()})))
            }
            _ if path.starts_with("/_emulator/") => Some(problem(404, "no such control", vec![])),
            _ => None,
        }
    }

    fn answer(&mut self, method: &str, path: &str, authorized: bool, body: &[u8]) -> Reply {
        if !authorized {
            return problem(401, "missing or unknown bearer token", vec![]);
        }
        match self.faults.pop_front() {
            // A pass: this request is answered normally.
            None | Some(0) => {}
            // The request is carried out, and its answer lost (a 500 instead).
            Some(LOST_ANSWER) => {
                let done = self.route(method, path, body);
                return problem(
                    500,
                    format!(
                        "injected fault (flashc emulate): the answer ({}) was lost",
                        done.status
                    ),
                    vec![],
                );
            }
            Some(status) => return injected(status),
        }
        self.route(method, path, body)
    }

    fn route(&mut self, method: &str, path: &str, body: &[u8]) -> Reply {
        if path == "/graphql" {
            return match method {
                "POST" => self.graphql(body),
                _ => problem(405, format!("{method} is not allowed on /graphql"), vec![]),
            };
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (template, id) = match segments.as_slice() {
            ["v2", "serverless"] => ("/v2/serverless", None),
            ["v2", "serverless", id] => ("/v2/serverless/{id}", Some(*id)),
            ["v2", "serverless", id, "releases"] => ("/v2/serverless/{id}/releases", Some(*id)),
            ["v2", "serverless", id, "workers"] => ("/v2/serverless/{id}/workers", Some(*id)),
            ["v2", "catalog", "datacenters"] => ("/v2/catalog/datacenters", None),
            ["v2", "catalog", "gpus"] => ("/v2/catalog/gpus", None),
            ["v2", "catalog", "cpus"] => ("/v2/catalog/cpus", None),
            _ => return problem(404, format!("no route for {method} {path}"), vec![]),
        };
        let lower = method.to_ascii_lowercase();
        let request = match openapi::operation_schema(&lower, template, None) {
            Some(schema) => {
                let value: Value = match serde_json::from_slice(body) {
                    Ok(v) => v,
                    Err(e) => {
                        return problem(400, format!("request body is not JSON: {e}"), vec![])
                    }
                };
                if let Err(errors) = openapi::validate_ref(&schema, &value) {
                    return problem(400, "request validation failed", errors);
                }
                Some(value)
            }
            None => None,
        };
        if matches!(method, "POST" | "PATCH" | "DELETE") {
            self.stats.writes += 1;
        }
        let reply = match (method, template, id, request) {
            ("GET", "/v2/serverless", _, _) => Ok(self.list()),
            ("POST", "/v2/serverless", _, Some(body)) => self.create(body),
            ("GET", "/v2/serverless/{id}", Some(id), _) => {
                self.get(id).map(|e| Reply::json(200, rest_view(&e.json)))
            }
            ("PATCH", "/v2/serverless/{id}", Some(id), Some(body)) => self.update(id, body),
            ("DELETE", "/v2/serverless/{id}", Some(id), _) => self.delete(id),
            ("GET", "/v2/serverless/{id}/releases", Some(id), _) => self.releases(id),
            ("GET", "/v2/serverless/{id}/workers", Some(id), _) => self.workers(id),
            ("GET", catalog, _, _) if catalog.starts_with("/v2/catalog/") => {
                Ok(Reply::json(200, super::catalog::answer(catalog)))
            }
            _ => Err(problem(
                405,
                format!("{method} is not allowed on {path}"),
                vec![],
            )),
        };
        let reply = reply.unwrap_or_else(|problem| problem);
        self.checked(&lower, template, reply)
    }

    /// The response must match the document too.
    fn checked(&self, method: &str, template: &str, reply: Reply) -> Reply {
        let Some(body) = &reply.body else {
            return reply;
        };
        let schema = if reply.status >= 400 {
            Some("#/components/schemas/ErrorResponse".to_string())
        } else {
            openapi::operation_schema(method, template, Some(reply.status))
        };
        match schema.map(|s| openapi::validate_ref(&s, body)) {
            Some(Err(errors)) => problem(
                500,
                format!("flashc emulate: its {} response to {method} {template} does not match the OpenAPI document (an emulator bug)", reply.status),
                errors,
            ),
            _ => reply,
        }
    }

    fn get(&self, id: &str) -> Result<&Endpoint, Reply> {
        self.endpoints
            .get(id)
            .ok_or_else(|| problem(404, format!("endpoint {id} not found"), vec![]))
    }

    fn list(&self) -> Reply {
        let endpoints: Vec<Value> = self
            .order
            .iter()
            .filter_map(|id| self.endpoints.get(id))
            .map(|e| rest_view(&e.json))
            .collect();
        Reply::json(200, json!({ "endpoints": endpoints }))
    }

    fn create(&mut self, body: Value) -> Result<Reply, Reply> {
        if body.get("templateId").is_some() {
            return Err(problem(
                404,
                "template not found (flashc emulate has no templates)",
                vec![],
            ));
        }
        let kind = body["type"].as_str().unwrap_or("QUEUE").to_string();
        match (body.get("gpu"), body.get("cpu")) {
            (Some(_), Some(_)) => {
                return Err(bad("", "send exactly one of `gpu` and `cpu`, not both"))
            }
            (None, None) => return Err(bad("", "send exactly one of `gpu` and `cpu`")),
            _ => {}
        }
        check_cpu(&body)?;
        check_cuda(body.get("gpu"))?;
        check_idle_timeout(&kind, &body["scaling"], &body)?;
        let id = format!("ep{:06}", self.next_id);
        self.next_id += 1;
        let json = self.endpoint_json(&id, &body, json!((self.now)()));
        let reply = Reply::json(201, rest_view(&json));
        self.insert_new(id, json);
        Ok(reply)
    }

    /// The stored endpoint for a create body (the document's defaults filled in). What
    /// GraphQL `saveEndpoint` makes is stored the same way ([`graphql`]).
    fn endpoint_json(&self, id: &str, body: &Value, created_at: Value) -> Value {
        let kind = body["type"].as_str().unwrap_or("QUEUE").to_string();
        let mut e = Map::new();
        e.insert("id".into(), json!(id));
        e.insert("name".into(), body["name"].clone());
        e.insert("type".into(), json!(kind));
        e.insert("requestUrls".into(), self.request_urls(id, &kind));
        for key in ["image", "args", "disk", "ports", "registry"] {
            if let Some(v) = body.get(key) {
                e.insert(key.into(), v.clone());
            }
        }
        e.insert("env".into(), body.get("env").cloned().unwrap_or(json!({})));
        if let Some(gpu) = body.get("gpu") {
            let mut g = json!({
                "pools": gpu["pools"],
                "count": gpu.get("count").cloned().unwrap_or(json!(1)),
                "allowedCudaVersions": gpu.get("allowedCudaVersions").cloned().unwrap_or(json!([])),
                "minCudaVersion": gpu.get("minCudaVersion").cloned().unwrap_or(Value::Null),
            });
            if let Some(x) = gpu.get("excludedTypes") {
                g["excludedTypes"] = x.clone();
            }
            e.insert("gpu".into(), g);
        } else {
            e.insert("cpu".into(), with_memory(&body["cpu"]));
        }
        let mut workers = json!({"min": 0, "max": 3, "idleTimeout": 10});
        if let Some(w) = body.get("workers").and_then(Value::as_object) {
            for (k, v) in w {
                workers[k] = v.clone();
            }
        }
        e.insert("workers".into(), workers);
        e.insert("scaling".into(), body["scaling"].clone());
        for (key, default) in [
            ("dataCenterIds", json!([])),
            ("networkVolumes", json!([])),
            ("timeout", json!(300_000)),
            ("flashboot", json!("OFF")),
        ] {
            e.insert(key.into(), body.get(key).cloned().unwrap_or(default));
        }
        e.insert("createdAt".into(), created_at);
        let mut json = Value::Object(e);
        normalize_idle_timeout(&mut json);
        json
    }

    /// A new endpoint at version 1, with its first release.
    fn insert_new(&mut self, id: String, json: Value) {
        let created = json["createdAt"].clone();
        let endpoint = Endpoint {
            json,
            version: 1,
            releases: vec![release(&id, 1, &created, Vec::new())],
        };
        self.endpoints.insert(id.clone(), endpoint);
        self.order.push(id);
    }

    fn update(&mut self, id: &str, patch: Value) -> Result<Reply, Reply> {
        let now = (self.now)();
        let endpoint = self
            .endpoints
            .get_mut(id)
            .ok_or_else(|| problem(404, format!("endpoint {id} not found"), vec![]))?;
        let before = endpoint.json.clone();
        let kind = before["type"].as_str().unwrap_or("QUEUE").to_string();
        let is_gpu = before.get("gpu").is_some_and(|g| !g.is_null());
        if patch.get("cpu").is_some() && is_gpu {
            return Err(bad(
                ".cpu",
                "`cpu` on a GPU endpoint: the compute family cannot change",
            ));
        }
        if patch.get("gpu").is_some() && !is_gpu {
            return Err(bad(
                ".gpu",
                "`gpu` on a CPU endpoint: the compute family cannot change",
            ));
        }
        if kind == "LOAD_BALANCER" && patch["scaling"]["type"] == "QUEUE_DELAY" {
            return Err(bad(
                ".scaling",
                "a LOAD_BALANCER endpoint scales on REQUEST_COUNT",
            ));
        }
        check_cpu(&patch)?;
        let scaling = patch.get("scaling").unwrap_or(&before["scaling"]);
        check_idle_timeout(&kind, scaling, &patch)?;
        let mut after = before.clone();
        for (key, value) in patch.as_object().into_iter().flatten() {
            match key.as_str() {
                "gpu" => merge_gpu(&mut after["gpu"], value),
                "cpu" => after["cpu"] = with_memory(value),
                "workers" => {
                    for (k, v) in value.as_object().into_iter().flatten() {
                        after["workers"][k] = v.clone();
                    }
                }
                _ => after[key.as_str()] = value.clone(),
            }
        }
        check_cuda(after.get("gpu"))?;
        normalize_idle_timeout(&mut after);
        let diff: Vec<Value> = release_fields(&before, &after);
        endpoint.json = after;
        if !diff.is_empty() {
            endpoint.version += 1;
            let created = json!(now);
            endpoint
                .releases
                .insert(0, release(id, endpoint.version, &created, diff));
        }
        Ok(Reply::json(200, rest_view(&endpoint.json)))
    }

    fn delete(&mut self, id: &str) -> Result<Reply, Reply> {
        self.get(id)?;
        self.endpoints.remove(id);
        self.order.retain(|x| x != id);
        Ok(Reply {
            status: 204,
            headers: Vec::new(),
            body: None,
        })
    }

    fn releases(&self, id: &str) -> Result<Reply, Reply> {
        let e = self.get(id)?;
        let (workers, rolling) = self.fleet_workers(id);
        let total = workers.len() as u64;
        let on_latest = workers.iter().filter(|w| w.version == e.version).count() as u64;
        let releases: Vec<Value> = e
            .releases
            .iter()
            .map(|r| {
                let mut r = r.clone();
                let v = r["version"].as_u64();
                r["workerCount"] = json!(workers.iter().filter(|w| Some(w.version) == v).count());
                r
            })
            .collect();
        Ok(Reply::json(
            200,
            json!({
                "endpointVersion": e.version,
                "rollout": {
                    "inProgress": rolling,
                    "workersOnLatest": on_latest,
                    "workersTotal": total,
                    "percentOnLatest": (on_latest * 100).checked_div(total).unwrap_or(0),
                },
                "releases": releases,
            }),
        ))
    }

    fn fleet_workers(&self, id: &str) -> (Vec<super::fleet::WorkerView>, bool) {
        self.fleet
            .as_ref()
            .map_or_else(|| (Vec::new(), false), |f| f.workers(id))
    }

    fn workers(&self, id: &str) -> Result<Reply, Reply> {
        let e = self.get(id)?;
        let (workers, _) = self.fleet_workers(id);
        let count = |s: &str| workers.iter().filter(|w| w.status == s).count();
        Ok(Reply::json(
            200,
            json!({
                "summary": {
                    "running": count("RUNNING"), "idle": count("IDLE"),
                    "initializing": count("INITIALIZING"), "throttled": count("THROTTLED"),
                    "unhealthy": count("UNHEALTHY"), "total": workers.len(),
                },
                "workers": workers.into_iter().map(|w| w.json).collect::<Vec<_>>(),
                "endpointVersion": e.version,
            }),
        ))
    }

    fn request_urls(&self, id: &str, kind: &str) -> Value {
        let base = &self.base_url;
        if kind == "LOAD_BALANCER" {
            json!({"base": format!("{base}/lb/{id}"), "health": format!("{base}/lb/{id}/ping")})
        } else {
            let u = |p: &str| format!("{base}/v2/{id}/{p}");
            json!({
                "run": u("run"), "runSync": u("runsync"), "status": u("status/{job_id}"),
                "stream": u("stream/{job_id}"), "cancel": u("cancel/{job_id}"),
                "retry": u("retry/{job_id}"), "purgeQueue": u("purge-queue"), "health": u("health"),
            })
        }
    }
}

/// A fault that carries the request out, then answers 500: a create whose answer was lost.
pub const LOST_ANSWER: u16 = 599;

fn injected(status: u16) -> Reply {
    let mut reply = problem(status, "injected fault (flashc emulate)", vec![]);
    if status == 429 {
        reply
            .headers
            .push(("RateLimit".into(), "\"minute\";r=0;t=1".into()));
        reply.headers.push(("Retry-After".into(), "1".into()));
    }
    reply
}

/// A 400 naming the field, in `errors[]` as the document's validation failures are.
fn bad(field: &str, detail: &str) -> Reply {
    problem(400, detail, vec![format!("${field}: {detail}")])
}

fn release(endpoint: &str, version: u64, created: &Value, diff: Vec<Value>) -> Value {
    json!({
        "id": format!("rel_{endpoint}_{version}"),
        "version": version,
        "source": "MANUAL",
        "workerCount": 0,
        "createdAt": created,
        "diff": diff,
    })
}

/// Fields whose change makes a new release (everything but what the autoscaler takes at once).
fn release_fields(before: &Value, after: &Value) -> Vec<Value> {
    let mut keys: Vec<&String> = after
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    keys.extend(before.as_object().into_iter().flatten().map(|(k, _)| k));
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            !matches!(
                k.as_str(),
                "workers" | "scaling" | "timeout" | "name" | "requestUrls"
            )
        })
        .filter(|k| before.get(k.as_str()) != after.get(k.as_str()))
        .map(|k| {
            json!({
                "field": k,
                "old": before.get(k.as_str()).cloned().unwrap_or(Value::Null),
                "new": after.get(k.as_str()).cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

/// `pools` replaces the selection: exclusions not restated are cleared; `""` clears a floor.
fn merge_gpu(gpu: &mut Value, patch: &Value) {
    if let Some(pools) = patch.get("pools") {
        gpu["pools"] = pools.clone();
        match patch.get("excludedTypes") {
            Some(x) => gpu["excludedTypes"] = x.clone(),
            None => {
                if let Some(map) = gpu.as_object_mut() {
                    map.remove("excludedTypes");
                }
            }
        }
    }
    if let Some(count) = patch.get("count") {
        gpu["count"] = count.clone();
    }
    if let Some(set) = patch.get("allowedCudaVersions") {
        gpu["allowedCudaVersions"] = set.clone();
    }
    if let Some(floor) = patch.get("minCudaVersion") {
        gpu["minCudaVersion"] = if floor == "" {
            Value::Null
        } else {
            floor.clone()
        };
    }
    if gpu.get("excludedTypes").is_some_and(|x| x == &json!([])) {
        if let Some(map) = gpu.as_object_mut() {
            map.remove("excludedTypes");
        }
    }
}

/// An endpoint as REST v2 shows it. The document's `cpu[].vcpuCount` is at least 2, so an
/// endpoint GraphQL made with a 1-vCPU flavor is shown without its `cpu` (as a GPU endpoint
/// is without it); GraphQL's `instanceIds` tells its flavors. (How Runpod's REST shows such
/// an endpoint is not documented: this is the emulator's reading, see docs/deploy.md.)
fn rest_view(json: &Value) -> Value {
    let mut view = json.clone();
    let one_vcpu = view["cpu"]
        .as_array()
        .is_some_and(|cpu| cpu.iter().any(|c| c["vcpuCount"].as_u64().unwrap_or(0) < 2));
    if one_vcpu {
        if let Some(map) = view.as_object_mut() {
            map.remove("cpu");
        }
    }
    view
}

fn with_memory(cpu: &Value) -> Value {
    Value::Array(
        cpu.as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let family = c["id"].as_str().unwrap_or_default();
                let vcpus = c["vcpuCount"].as_u64().unwrap_or(2) as u32;
                json!({"id": family, "vcpuCount": vcpus, "memory": cpu_memory_gb(family, vcpus)})
            })
            .collect(),
    )
}

fn check_cpu(body: &Value) -> Result<(), Reply> {
    for c in body
        .get("cpu")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let n = c["vcpuCount"].as_u64().unwrap_or(0);
        if !n.is_power_of_two() {
            return Err(bad(".cpu", &format!("vcpuCount {n} is not a power of two")));
        }
    }
    Ok(())
}

fn check_cuda(gpu: Option<&Value>) -> Result<(), Reply> {
    let Some(gpu) = gpu else { return Ok(()) };
    let set = gpu["allowedCudaVersions"]
        .as_array()
        .is_some_and(|s| !s.is_empty());
    let floor = gpu["minCudaVersion"]
        .as_str()
        .is_some_and(|s| !s.is_empty());
    if set && floor {
        return Err(bad(
            ".gpu.minCudaVersion",
            "a non-empty allowedCudaVersions and minCudaVersion exclude each other",
        ));
    }
    Ok(())
}

fn check_idle_timeout(kind: &str, scaling: &Value, body: &Value) -> Result<(), Reply> {
    if kind == "QUEUE"
        && scaling["type"] == "REQUEST_COUNT"
        && body["workers"].get("idleTimeout").is_some()
    {
        return Err(bad(
            ".workers.idleTimeout",
            "workers.idleTimeout does not apply to a QUEUE endpoint scaling on REQUEST_COUNT",
        ));
    }
    Ok(())
}

/// Omitted from responses for a queue endpoint scaling on `REQUEST_COUNT`.
fn normalize_idle_timeout(endpoint: &mut Value) {
    if endpoint["type"] == "QUEUE" && endpoint["scaling"]["type"] == "REQUEST_COUNT" {
        if let Some(w) = endpoint["workers"].as_object_mut() {
            w.remove("idleTimeout");
        }
    } else if endpoint["workers"].get("idleTimeout").is_none() {
        endpoint["workers"]["idleTimeout"] = json!(10);
    }
}

/// The current UTC time as RFC 3339 in whole seconds (`2026-12-07T06:29:38Z`), as Runpod's API
/// writes its dates.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

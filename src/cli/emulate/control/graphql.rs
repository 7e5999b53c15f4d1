//! The GraphQL calls `flashc deploy` makes for what REST v2 cannot express (`POST /graphql`):
//! `saveEndpoint(input: EndpointInput!)` (create, or replace whole when `id` is given),
//! `deleteEndpoint(id: String!)` (only once the workers are scaled to zero) and
//! `myself { endpoints { … } }`. Runpod's GraphQL schema is not published as a document the
//! way v2's OpenAPI is: the shape checked here is the one Runpod's SDK sends (runpod-flash's
//! `core/api/runpod.py` and its `EndpointInput` fields), and anything else is refused with a
//! GraphQL error rather than guessed at.
//!
//! What GraphQL saves is stored as REST v2 would store it (so its releases, workers and
//! request URLs behave the same); only REST's view hides a 1-vCPU flavor (`rest_view`).

use serde_json::{json, Map, Value};

use flashc::model::vocab;

use super::{release, release_fields, ControlPlane, Reply};

/// The `EndpointInput` fields the emulator takes, and their GraphQL types.
const INPUT_FIELDS: &[(&str, Kind)] = &[
    ("id", Kind::String),
    ("name", Kind::String),
    ("type", Kind::Enum(&["QB", "LB"])),
    ("templateId", Kind::String),
    ("template", Kind::Template),
    ("gpuIds", Kind::String),
    ("gpuCount", Kind::Int),
    ("instanceIds", Kind::StringList),
    ("workersMin", Kind::Int),
    ("workersMax", Kind::Int),
    ("idleTimeout", Kind::Int),
    ("scalerType", Kind::Enum(&["QUEUE_DELAY", "REQUEST_COUNT"])),
    ("scalerValue", Kind::Int),
    ("executionTimeoutMs", Kind::Int),
    (
        "flashBootType",
        Kind::Enum(&["OFF", "FLASHBOOT", "PRIORITY_FLASHBOOT"]),
    ),
    ("locations", Kind::String),
    ("networkVolumeId", Kind::String),
    ("minCudaVersion", Kind::String),
    ("allowedCudaVersions", Kind::String),
    ("workersPFBTarget", Kind::Int),
];

/// The inline template's fields (`SaveTemplateInput`'s, as the SDK sends them).
const TEMPLATE_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::String),
    ("imageName", Kind::String),
    ("containerDiskInGb", Kind::Int),
    ("dockerArgs", Kind::String),
    ("env", Kind::EnvList),
    ("ports", Kind::String),
    ("volumeInGb", Kind::Int),
    ("containerRegistryAuthId", Kind::String),
];

/// The `Endpoint` fields a selection may name.
const ENDPOINT_FIELDS: &[&str] = &[
    "id",
    "name",
    "type",
    "instanceIds",
    "gpuIds",
    "gpuCount",
    "workersMin",
    "workersMax",
    "idleTimeout",
    "scalerType",
    "scalerValue",
    "executionTimeoutMs",
    "flashBootType",
    "locations",
    "networkVolumeId",
    "minCudaVersion",
    "templateId",
    "version",
];

#[derive(Clone, Copy)]
enum Kind {
    String,
    Int,
    Enum(&'static [&'static str]),
    StringList,
    EnvList,
    Template,
}

/// What a request asks for, read from its query text.
enum Operation {
    Save(Vec<String>),
    Delete,
    Endpoints(Vec<String>),
}

fn errors(messages: Vec<String>) -> Reply {
    let errors: Vec<Value> = messages
        .into_iter()
        .map(|m| json!({ "message": m }))
        .collect();
    Reply {
        status: 200,
        headers: Vec::new(),
        body: Some(json!({ "errors": errors })),
    }
}

fn error(message: impl Into<String>) -> Reply {
    errors(vec![message.into()])
}

fn data(value: Value) -> Reply {
    Reply {
        status: 200,
        headers: Vec::new(),
        body: Some(json!({ "data": value })),
    }
}

impl ControlPlane {
    /// One GraphQL request.
    pub(super) fn graphql(&mut self, body: &[u8]) -> Reply {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                let mut reply = error(format!("the request body is not JSON: {e}"));
                reply.status = 400;
                return reply;
            }
        };
        let Some(query) = request["query"].as_str() else {
            let mut reply = error("a GraphQL request needs a `query` string");
            reply.status = 400;
            return reply;
        };
        let variables = request.get("variables").cloned().unwrap_or(json!({}));
        let operation = match operation(query) {
            Ok(op) => op,
            Err(e) => return error(e),
        };
        match operation {
            Operation::Save(selection) => {
                self.stats.writes += 1;
                match self.save(&variables["input"]) {
                    Ok(id) => {
                        let e = &self.endpoints[&id];
                        data(
                            json!({ "saveEndpoint": select(&graphql_view(&e.json, e.version), &selection) }),
                        )
                    }
                    Err(messages) => errors(messages),
                }
            }
            Operation::Delete => {
                self.stats.writes += 1;
                let Some(id) = variables["id"].as_str() else {
                    return error(
                        "Variable \"$id\" of required type \"String!\" was not provided.",
                    );
                };
                let Some(e) = self.endpoints.get(id) else {
                    return error(format!("endpoint {id} not found"));
                };
                let w = &e.json["workers"];
                if w["min"] != json!(0) || w["max"] != json!(0) {
                    return error(format!(
                        "endpoint {id} still has workers: set workersMin and workersMax to 0 before deleting it"
                    ));
                }
                self.endpoints.remove(id);
                self.order.retain(|x| x != id);
                data(json!({ "deleteEndpoint": null }))
            }
            Operation::Endpoints(selection) => {
                let list: Vec<Value> = self
                    .order
                    .iter()
                    .filter_map(|id| self.endpoints.get(id))
                    .map(|e| select(&graphql_view(&e.json, e.version), &selection))
                    .collect();
                data(json!({ "myself": { "endpoints": list } }))
            }
        }
    }

    /// `saveEndpoint`: the endpoint's id, or the GraphQL errors.
    fn save(&mut self, input: &Value) -> Result<String, Vec<String>> {
        check_input(input)?;
        let body = to_v2(input);
        let Some(id) = input["id"].as_str() else {
            let id = format!("ep{:06}", self.next_id);
            self.next_id += 1;
            let json = self.endpoint_json(&id, &body, json!((self.now)()));
            self.insert_new(id.clone(), json);
            return Ok(id);
        };
        let now = json!((self.now)());
        let before = match self.endpoints.get(id) {
            Some(e) => e.json.clone(),
            None => return Err(vec![format!("endpoint {id} not found")]),
        };
        if before["type"] != body["type"] {
            return Err(vec![format!(
                "endpoint {id}: the type cannot change ({} to {})",
                before["type"], body["type"]
            )]);
        }
        let was_gpu = before.get("gpu").is_some_and(|g| !g.is_null());
        if was_gpu != body.get("gpu").is_some() {
            return Err(vec![format!(
                "endpoint {id}: the compute family (GPU or CPU) cannot change"
            )]);
        }
        let after = self.endpoint_json(id, &body, before["createdAt"].clone());
        let diff = release_fields(&before, &after);
        let endpoint = self
            .endpoints
            .get_mut(id)
            .ok_or_else(|| vec![format!("endpoint {id} not found")])?;
        endpoint.json = after;
        if !diff.is_empty() {
            endpoint.version += 1;
            endpoint
                .releases
                .insert(0, release(id, endpoint.version, &now, diff));
        }
        Ok(id.to_string())
    }
}

/// Which of the three operations the query is: the exact forms the SDK writes (commas and
/// whitespace aside), with a flat selection of known `Endpoint` fields.
fn operation(query: &str) -> Result<Operation, String> {
    let tokens = tokens(query);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let unknown = || {
        "flashc emulate answers only `mutation saveEndpoint($input: EndpointInput!)`, `mutation deleteEndpoint($id: String!)` and `query { myself { endpoints { … } } }`".to_string()
    };
    // `mutation NAME? (…) { … }` / `query NAME? { … }`: drop the optional operation name.
    let (kind, rest) = match words.split_first() {
        Some((kind @ (&"mutation" | &"query"), rest)) => {
            let rest = match rest.first() {
                Some(w) if w.chars().all(|c| c.is_alphanumeric() || c == '_') => &rest[1..],
                _ => rest,
            };
            (*kind, rest)
        }
        _ => return Err(unknown()),
    };
    const SAVE: &[&str] = &[
        "(",
        "$",
        "input",
        ":",
        "EndpointInput",
        "!",
        ")",
        "{",
        "saveEndpoint",
        "(",
        "input",
        ":",
        "$",
        "input",
        ")",
        "{",
    ];
    const DELETE: &[&str] = &[
        "(",
        "$",
        "id",
        ":",
        "String",
        "!",
        ")",
        "{",
        "deleteEndpoint",
        "(",
        "id",
        ":",
        "$",
        "id",
        ")",
        "}",
    ];
    const LIST: &[&str] = &["{", "myself", "{", "endpoints", "{"];
    match kind {
        "mutation" if rest.starts_with(SAVE) => {
            selection(&rest[SAVE.len()..], 2).map(Operation::Save)
        }
        "mutation" if rest == DELETE => Ok(Operation::Delete),
        "query" if rest.starts_with(LIST) => {
            selection(&rest[LIST.len()..], 3).map(Operation::Endpoints)
        }
        _ => Err(unknown()),
    }
}

/// A flat selection of `Endpoint` fields followed by `closing` closing braces.
fn selection(rest: &[&str], closing: usize) -> Result<Vec<String>, String> {
    let end = rest.len().saturating_sub(closing);
    if rest.len() < closing || rest[end..].iter().any(|t| *t != "}") {
        return Err("the selection is not closed".into());
    }
    let fields = &rest[..end];
    if fields.is_empty() {
        return Err("a selection of `Endpoint` fields is required".into());
    }
    let mut out = Vec::new();
    for field in fields {
        if !ENDPOINT_FIELDS.contains(field) {
            return Err(if field.chars().all(|c| c.is_alphanumeric() || c == '_') {
                format!("Cannot query field \"{field}\" on type \"Endpoint\".")
            } else {
                format!("unexpected `{field}` in the selection (flashc emulate answers flat selections)")
            });
        }
        out.push(field.to_string());
    }
    Ok(out)
}

/// Names and punctuation; commas are whitespace in GraphQL.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in query.chars() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() && c != ',' {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

fn check_fields(
    value: &Value,
    fields: &[(&str, Kind)],
    type_name: &str,
    messages: &mut Vec<String>,
) {
    let Some(object) = value.as_object() else {
        messages.push(format!("Expected type \"{type_name}\" to be an object."));
        return;
    };
    for (key, v) in object {
        let Some((_, kind)) = fields.iter().find(|(k, _)| k == key) else {
            messages.push(format!(
                "Field \"{key}\" is not defined by type \"{type_name}\"."
            ));
            continue;
        };
        if v.is_null() {
            continue;
        }
        let ok = match kind {
            Kind::String => v.is_string(),
            Kind::Int => v.as_i64().is_some(),
            Kind::Enum(values) => v.as_str().is_some_and(|s| values.contains(&s)),
            Kind::StringList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            // `[{key, value}]`, both strings, nothing else.
            Kind::EnvList => v.as_array().is_some_and(|a| {
                a.iter().all(|kv| {
                    kv.as_object().is_some_and(|o| o.len() == 2)
                        && kv["key"].is_string()
                        && kv["value"].is_string()
                })
            }),
            Kind::Template => {
                check_fields(v, TEMPLATE_FIELDS, "SaveTemplateInput", messages);
                true
            }
        };
        if !ok {
            messages.push(format!(
                "Field \"{type_name}.{key}\": {v} is not of the field's type."
            ));
        }
    }
}

/// `EndpointInput`'s types and the rules the SDK's requests keep.
fn check_input(input: &Value) -> Result<(), Vec<String>> {
    let mut messages = Vec::new();
    check_fields(input, INPUT_FIELDS, "EndpointInput", &mut messages);
    if !messages.is_empty() {
        return Err(messages);
    }
    if input["name"].as_str().is_none_or(str::is_empty) {
        messages.push(
            "Field \"EndpointInput.name\" of required type \"String!\" was not provided.".into(),
        );
    }
    if input.get("templateId").is_some() {
        messages.push(
            "template not found (flashc emulate has no templates; send an inline `template`)"
                .into(),
        );
    } else if input["template"]["imageName"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        messages.push("an endpoint needs `template.imageName` (or a `templateId`)".into());
    }
    let gpu = input["gpuIds"].as_str().is_some_and(|s| !s.is_empty());
    let cpu: Vec<&str> = input["instanceIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match (gpu, cpu.is_empty()) {
        (true, false) => messages.push("send `gpuIds` or `instanceIds`, not both".into()),
        (false, true) => messages.push("send `gpuIds` (GPU) or `instanceIds` (CPU)".into()),
        _ => {}
    }
    for flavor in &cpu {
        if vocab::cpu_flavor(flavor).is_none() {
            messages.push(format!("instanceIds: `{flavor}` is not a CPU flavor"));
        }
    }
    if input["type"] == "LB" && input["scalerType"] != "REQUEST_COUNT" {
        messages.push("a load-balanced (LB) endpoint scales on REQUEST_COUNT".into());
    }
    for key in [
        "workersMin",
        "workersMax",
        "scalerValue",
        "executionTimeoutMs",
    ] {
        if input[key].as_i64().is_some_and(|n| n < 0) {
            messages.push(format!("`{key}` cannot be negative"));
        }
    }
    if let Some(idle) = input["idleTimeout"].as_i64() {
        if !(1..=3600).contains(&idle) {
            messages.push("`idleTimeout` is 1 to 3600 seconds".into());
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(messages)
    }
}

/// The endpoint `saveEndpoint` describes, as a v2 create body (the emulator's one store).
fn to_v2(input: &Value) -> Value {
    let kind = if input["type"] == "LB" {
        "LOAD_BALANCER"
    } else {
        "QUEUE"
    };
    let template = &input["template"];
    let mut body = Map::new();
    body.insert("name".into(), input["name"].clone());
    body.insert("type".into(), json!(kind));
    body.insert("image".into(), template["imageName"].clone());
    let env: Map<String, Value> = template["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|kv| Some((kv["key"].as_str()?.to_string(), kv["value"].clone())))
        .collect();
    body.insert("env".into(), Value::Object(env));
    if let Some(ports) = template["ports"].as_str().filter(|p| !p.is_empty()) {
        body.insert(
            "ports".into(),
            json!(ports.split(',').map(str::trim).collect::<Vec<_>>()),
        );
    }
    if let Some(disk) = template["containerDiskInGb"].as_u64() {
        body.insert("disk".into(), json!(disk));
    }
    if let Some(registry) = template["containerRegistryAuthId"].as_str() {
        body.insert("registry".into(), json!(registry));
    }
    if let Some(ids) = input["gpuIds"].as_str().filter(|s| !s.is_empty()) {
        let (excluded, pools): (Vec<&str>, Vec<&str>) = ids
            .split(',')
            .map(str::trim)
            .partition(|t| t.starts_with('-'));
        let mut gpu = json!({
            "pools": pools,
            "count": input["gpuCount"].as_u64().unwrap_or(1),
        });
        if !excluded.is_empty() {
            gpu["excludedTypes"] = json!(excluded.iter().map(|t| &t[1..]).collect::<Vec<_>>());
        }
        if let Some(floor) = input["minCudaVersion"].as_str() {
            gpu["minCudaVersion"] = json!(floor);
        }
        body.insert("gpu".into(), gpu);
    } else {
        let cpu: Vec<Value> = input["instanceIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(vocab::cpu_flavor)
            .map(|f| json!({"id": f.id.split('-').next().unwrap_or(&f.id), "vcpuCount": f.vcpus}))
            .collect();
        body.insert("cpu".into(), json!(cpu));
    }
    let mut workers = json!({
        "min": input["workersMin"].as_u64().unwrap_or(0),
        "max": input["workersMax"].as_u64().unwrap_or(3),
    });
    let scaler = input["scalerType"].as_str().unwrap_or("QUEUE_DELAY");
    let value = input["scalerValue"].as_u64().unwrap_or(4);
    if !(kind == "QUEUE" && scaler == "REQUEST_COUNT") {
        workers["idleTimeout"] = json!(input["idleTimeout"].as_u64().unwrap_or(10));
    }
    body.insert("workers".into(), workers);
    body.insert(
        "scaling".into(),
        match scaler {
            "REQUEST_COUNT" => json!({"type": "REQUEST_COUNT", "requestCount": value.max(1)}),
            _ => json!({"type": "QUEUE_DELAY", "queueDelay": value}),
        },
    );
    let locations: Vec<&str> = input["locations"]
        .as_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    body.insert("dataCenterIds".into(), json!(locations));
    let volumes: Vec<&str> = input["networkVolumeId"].as_str().into_iter().collect();
    body.insert("networkVolumes".into(), json!(volumes));
    body.insert(
        "timeout".into(),
        json!(input["executionTimeoutMs"].as_u64().unwrap_or(300_000)),
    );
    body.insert(
        "flashboot".into(),
        json!(input["flashBootType"].as_str().unwrap_or("OFF")),
    );
    Value::Object(body)
}

/// The stored endpoint as GraphQL's `Endpoint` shows it.
fn graphql_view(e: &Value, version: u64) -> Value {
    let gpu = e.get("gpu").filter(|g| !g.is_null());
    let instance_ids: Vec<String> = e["cpu"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{}-{}-{}",
                c["id"].as_str().unwrap_or_default(),
                c["vcpuCount"],
                c["memory"]
            )
        })
        .collect();
    let gpu_ids = gpu.map(|g| {
        g["pools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .chain(
                g["excludedTypes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|t| format!("-{t}")),
            )
            .collect::<Vec<_>>()
            .join(",")
    });
    let scaling = &e["scaling"];
    json!({
        "id": e["id"],
        "name": e["name"],
        "type": if e["type"] == "LOAD_BALANCER" { "LB" } else { "QB" },
        "instanceIds": if gpu.is_some() { Value::Null } else { json!(instance_ids) },
        "gpuIds": gpu_ids.unwrap_or_default(),
        "gpuCount": gpu.map_or(json!(0), |g| g["count"].clone()),
        "workersMin": e["workers"]["min"],
        "workersMax": e["workers"]["max"],
        "idleTimeout": e["workers"].get("idleTimeout").cloned().unwrap_or(Value::Null),
        "scalerType": scaling["type"],
        "scalerValue": scaling.get("queueDelay").or(scaling.get("requestCount")).cloned().unwrap_or(Value::Null),
        "executionTimeoutMs": e["timeout"],
        "flashBootType": e["flashboot"],
        "locations": e["dataCenterIds"].as_array().map(|l| l.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        "networkVolumeId": e["networkVolumes"].get(0).cloned().unwrap_or(Value::Null),
        "minCudaVersion": gpu.map_or(Value::Null, |g| g["minCudaVersion"].clone()),
        "templateId": Value::Null,
        "version": version,
    })
}

fn select(view: &Value, selection: &[String]) -> Value {
    Value::Object(
        selection
            .iter()
            .map(|f| (f.clone(), view.get(f).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

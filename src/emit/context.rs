//! The template context: the one value every template renders from, built from the [`Plan`]
//! here and nowhere else. Templates (the built-in ones in `templates/` and a project's
//! overrides in `flash-templates/`) read only these types, never the plan, so an override keeps
//! working when the plan changes; a change here is a change of a documented contract
//! (docs/generate.md lists every field, generated from these types by [`markdown`]).
//!
//! Every template gets the same shape: the project's fields at the top, `endpoints` (all of
//! them) and `endpoint` (the one the file is for; none in the project-wide templates). Besides
//! facts from flash.yaml, an endpoint carries the Rust its `main.rs` needs, composed in
//! `rust.rs` (the one place Rust code is composed), as prepared snippets.

use std::collections::BTreeMap;

use minijinja::value::{Serde, Value};
use schemars::JsonSchema;
use serde::Serialize;

use super::{rust, EmitError};
use crate::lower::{CallPlan, Compute, EndpointPlan, HandlerCrate, Kind, Plan};

/// What every template receives.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "TemplateContext")]
pub struct TemplateContext<Endpoints = Vec<EndpointContext>, Endpoint = EndpointContext> {
    /// The version of flashc that renders the file (`0.1.0`).
    pub flashc_version: String,
    /// The project's name: flash.yaml's `name` (`hello`).
    pub project: String,
    /// The environment whose overlay is applied (`generate --env production`), or none.
    pub environment: Option<String>,
    /// The output directory, relative to the directory of flash.yaml, `/`-separated, without a
    /// trailing `/` (`.flash`).
    pub out_dir: String,
    /// The handler crate's directory relative to the directory of flash.yaml (`.` or
    /// `handlers`): `handler_crate.dir`.
    pub crate_dir: String,
    /// The handler crate's library root relative to the directory of flash.yaml
    /// (`src/lib.rs`): `handler_crate.lib`.
    pub crate_lib: String,
    /// The user's handler crate.
    pub handler_crate: HandlerCrateContext,
    /// The handler crate's directory relative to a worker crate's (`.flash/workers/<endpoint>`):
    /// `../../..` or `../../../handlers` (with the output in `.flash`).
    pub crate_path: String,
    /// The handler crate's directory relative to `flashc dev`'s host crate (`.flash/dev`):
    /// `../..` or `../../handlers` (with the output in `.flash`).
    pub dev_crate_path: String,
    /// Every endpoint of the project, sorted by name.
    pub endpoints: Endpoints,
    /// The endpoint the file is for: set in the per-endpoint templates (`worker.Cargo.toml.j2`,
    /// `lb_main.rs.j2`, `queue_main.rs.j2`, `Dockerfile.j2`), none in the project-wide ones.
    pub endpoint: Option<Endpoint>,
}

/// The user's crate, as generated manifests and Dockerfiles refer to it. Paths are relative to
/// the directory of flash.yaml (the Docker build context), `/`-separated.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HandlerCrateContext {
    /// The package name (`hello-handlers`): what the workers depend on.
    pub package: String,
    /// The library's name in Rust (`hello_handlers`): the path generated code calls through.
    pub lib_name: String,
    /// The crate's directory (`.` or `handlers`).
    pub dir: String,
    /// The crate's manifest (`Cargo.toml` or `handlers/Cargo.toml`).
    pub manifest: String,
    /// The library root (`src/lib.rs` or `handlers/src/lib.rs`).
    pub lib: String,
    /// The build script (`build.rs` or `handlers/build.rs`), or none when the crate has none.
    pub build: Option<String>,
}

/// Which kind of Runpod serverless endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// Queue-based: one handler, run per job.
    Queue,
    /// Load-balanced: HTTP routes, served by the worker itself.
    LoadBalanced,
}

/// One endpoint of the project: a worker crate, its image and its `main.rs`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EndpointContext {
    /// The endpoint's name: its key under flash.yaml's `endpoints` (`api`).
    pub name: String,
    /// Which kind of endpoint: queue-based or load-balanced.
    pub kind: EndpointKind,
    /// The worker crate's package and binary name (`hello-api`).
    pub package: String,
    /// The image's name: the package's, or the project's alone when the endpoint is named like
    /// the project.
    pub image: String,
    /// Whether the endpoint runs on GPUs.
    pub gpu: bool,
    /// GPU endpoints: the lowest CUDA version the workers need (`12.8`); none on CPUs.
    pub cuda: Option<String>,
    /// The image the worker runs on (`debian:bookworm-slim`).
    pub base_image: String,
    /// The image the worker is built in (`rust:1-slim-bookworm`).
    pub builder_image: String,
    /// How a GPU endpoint whose handler crate has a `cuda` feature is built: in the CUDA devel
    /// image of the runtime image's version, with that feature on; none otherwise.
    pub cuda_build: Option<CudaBuildContext>,
    /// The image's `ENTRYPOINT`, exec form: the worker, behind NVIDIA's entrypoint script on an
    /// `nvidia/cuda` base.
    pub entrypoint: Vec<String>,
    /// Debian packages installed in the image (`system_dependencies`).
    pub system_dependencies: Vec<String>,
    /// The port the worker listens on in its image.
    pub port: u16,
    /// The longest a request or job may run, in milliseconds, or none for no limit.
    pub execution_timeout_ms: Option<u64>,
    /// Queue endpoints: how many jobs a worker runs at once.
    pub max_concurrency: u32,
    /// Queue endpoints: how many times a failed job is retried.
    pub retries: u32,
    /// Queue endpoints: a streamed job's final output is all its chunks, not `[]`.
    pub return_aggregate_stream: bool,
    /// The module that holds this worker's `main.rs` in `flashc dev`'s host crate
    /// (`gpu_backend`).
    pub module: String,
    /// Load-balanced endpoints: the routes, in path order; empty for a queue endpoint.
    pub routes: Vec<RouteContext>,
    /// `routes` in brief, as the image's `io.flash.routes` label lists them.
    pub route_summaries: Vec<RouteSummary>,
    /// Queue endpoints: the job handler; none for a load-balanced endpoint.
    pub job: Option<JobContext>,
    /// Rust: the `use` lines `main.rs` needs and no more (an empty string is a blank line).
    pub imports: Vec<String>,
    /// Rust: the expression that makes the app or the worker, running `init` if there is one
    /// (`App::stateless()`, `App::with_state(…)`, `QueueWorker::stateless(job)`,
    /// `QueueWorker::with_state(…, job)`: the two kinds read alike).
    pub constructor: String,
    /// Rust: `execution_timeout_ms` as a `Duration` (`Duration::from_secs(30)`), or none.
    pub execution_timeout: Option<String>,
}

/// One route of a load-balanced endpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RouteContext {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH` or `WS`.
    pub method: String,
    /// The route's path as flash.yaml writes it (`/users/{id}`).
    pub path: String,
    /// The handler function's path from the crate root (`users::get`).
    pub handler: String,
    /// The path's parameters, in order (`["id"]`).
    pub path_params: Vec<String>,
    /// The route's own time limit in milliseconds, or none.
    pub timeout_ms: Option<u64>,
    /// The route's description from flash.yaml, or none.
    pub description: Option<String>,
    /// Rust: the `App` method that registers the route (`get`, `post`, …, `websocket`); with a
    /// `timeout` it is called with `_with` and a `RouteOptions`.
    pub register: String,
    /// Rust: `path` as an escaped string literal (`"/users/{id}"`).
    pub path_literal: String,
    /// Rust: `timeout_ms` as a `Duration` (`Duration::from_secs(5)`), or none.
    pub timeout: Option<String>,
    /// Rust: the handler closure's parameters (`_state, mut call`).
    pub closure_params: String,
    /// Rust: the closure's body, one statement or expression a line: the argument bindings and
    /// the call of the handler, its reply last.
    pub body: Vec<String>,
}

/// A route in brief: its fields serialize in this order (`tojson` keeps it).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RouteSummary {
    /// The route's method, as in `RouteContext`.
    pub method: String,
    /// The route's path, as in `RouteContext`.
    pub path: String,
    /// The handler function's path, as in `RouteContext`.
    pub handler: String,
}

/// The job handler of a queue endpoint.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct JobContext {
    /// The handler function's path from the crate root (`jobs::run`).
    pub handler: String,
    /// Rust: the handler closure's parameters (`_state, mut call`).
    pub closure_params: String,
    /// Rust: the closure's body, one statement or expression a line: the argument bindings and
    /// the call of the handler, its reply last.
    pub body: Vec<String>,
}

impl<E, F> TemplateContext<E, F> {
    /// The same project fields with other endpoints.
    fn with<E2, F2>(self, endpoints: E2, endpoint: Option<F2>) -> TemplateContext<E2, F2> {
        TemplateContext {
            flashc_version: self.flashc_version,
            project: self.project,
            environment: self.environment,
            out_dir: self.out_dir,
            crate_dir: self.crate_dir,
            crate_lib: self.crate_lib,
            handler_crate: self.handler_crate,
            crate_path: self.crate_path,
            dev_crate_path: self.dev_crate_path,
            endpoints,
            endpoint,
        }
    }
}

/// The context of a project-wide template (`endpoint` none), built from the plan: the one
/// place the plan becomes what templates see.
pub fn context(
    plan: &Plan,
    flashc_version: &str,
    out_dir: &str,
) -> Result<TemplateContext, EmitError> {
    let out_dir = out_dir.trim_end_matches('/');
    let krate = &plan.handler_crate;
    let crate_path = crate_path_from_worker(out_dir, &krate.dir);
    // `.flash/dev` is one level above `.flash/workers/<name>`.
    let dev_crate_path = crate_path
        .strip_prefix("../")
        .unwrap_or_default()
        .to_string();
    // The dev host's crate root names these (and depends on the handler crate): a module of
    // the same name would shadow the crate, so an endpoint named `std` gets `std_2`.
    let mut modules: BTreeMap<String, usize> =
        ["std", "core", "alloc", "flash_runtime", &krate.lib_name]
            .into_iter()
            .map(|name| (name.to_string(), 1))
            .collect();
    let endpoints = plan
        .endpoints
        .iter()
        .map(|endpoint| {
            let module = rust::module_name(&endpoint.name, &mut modules);
            endpoint_context(&krate.lib_name, endpoint, module)
        })
        .collect::<Result<_, _>>()?;
    Ok(TemplateContext {
        flashc_version: flashc_version.to_string(),
        project: plan.project.clone(),
        environment: plan.environment.clone(),
        out_dir: out_dir.to_string(),
        crate_dir: krate.dir.clone(),
        crate_lib: krate.lib.clone(),
        handler_crate: handler_crate(krate),
        crate_path,
        dev_crate_path,
        endpoints,
        endpoint: None,
    })
}

fn handler_crate(krate: &HandlerCrate) -> HandlerCrateContext {
    HandlerCrateContext {
        package: krate.package.clone(),
        lib_name: krate.lib_name.clone(),
        dir: krate.dir.clone(),
        manifest: krate.manifest.clone(),
        lib: krate.lib.clone(),
        build: krate.build.clone(),
    }
}

fn endpoint_context(
    lib: &str,
    endpoint: &EndpointPlan,
    module: String,
) -> Result<EndpointContext, EmitError> {
    let init = endpoint.init.as_ref().map(|i| rust::init_closure(lib, i));
    let init_blocks = init.as_ref().is_some_and(|(_, blocks)| *blocks);
    let mut uses_bind = false;
    let mut uses_blocking = init_blocks;
    let mut handler = |call: &CallPlan| {
        let closure = rust::closure(lib, call);
        uses_bind |= closure.uses_bind;
        uses_blocking |= closure.uses_blocking;
        closure
    };
    let routes: Vec<RouteContext> = endpoint
        .routes
        .iter()
        .map(|route| {
            let closure = handler(&route.call);
            RouteContext {
                method: route.method.clone(),
                path: route.path.clone(),
                handler: route.call.path.clone(),
                path_params: route.path_params.clone(),
                timeout_ms: route.timeout_ms,
                description: route.description.clone(),
                register: match route.method.as_str() {
                    "WS" => "websocket".to_string(),
                    m => m.to_ascii_lowercase(),
                },
                path_literal: rust::string_literal(&route.path),
                timeout: route.timeout_ms.map(rust::duration),
                closure_params: closure.params,
                body: closure.body,
            }
        })
        .collect();
    let (kind, job, constructor) = match endpoint.kind {
        Kind::LoadBalanced => {
            let constructor = match &init {
                Some((closure, _)) => format!("App::with_state({closure})"),
                None => "App::stateless()".to_string(),
            };
            (EndpointKind::LoadBalanced, None, constructor)
        }
        Kind::Queue => {
            let Some(call) = &endpoint.handler else {
                return Err(EmitError(format!(
                    "queue endpoint `{}` has no handler",
                    endpoint.name
                )));
            };
            let closure = handler(call);
            let job = JobContext {
                handler: call.path.clone(),
                closure_params: closure.params,
                body: closure.body,
            };
            let constructor = match &init {
                Some((init, _)) => format!("QueueWorker::with_state({init}, job)"),
                None => "QueueWorker::stateless(job)".to_string(),
            };
            (EndpointKind::Queue, Some(job), constructor)
        }
    };
    let cuda = match &endpoint.compute {
        Compute::Gpu {
            min_cuda_version, ..
        } => Some(min_cuda_version.clone()),
        Compute::Cpu { .. } => None,
    };
    Ok(EndpointContext {
        name: endpoint.name.clone(),
        kind,
        package: endpoint.package.clone(),
        image: endpoint.image.clone(),
        gpu: endpoint.compute.is_gpu(),
        cuda,
        base_image: endpoint.base_image.clone(),
        builder_image: endpoint.builder_image.clone(),
        cuda_build: endpoint.cuda_build.as_ref().map(|b| CudaBuildContext {
            features: b.features.clone(),
            toolchain_image: b.toolchain_image.clone(),
            compute_cap: b.compute_cap.clone(),
        }),
        entrypoint: endpoint.entrypoint.clone(),
        system_dependencies: endpoint.system_dependencies.clone(),
        port: endpoint.port,
        execution_timeout_ms: endpoint.execution_timeout_ms,
        max_concurrency: endpoint.max_concurrency,
        retries: endpoint.retries,
        return_aggregate_stream: endpoint.return_aggregate_stream,
        module,
        route_summaries: routes
            .iter()
            .map(|route| RouteSummary {
                method: route.method.clone(),
                path: route.path.clone(),
                handler: route.handler.clone(),
            })
            .collect(),
        routes,
        job,
        imports: rust::imports(endpoint, uses_bind, uses_blocking),
        constructor,
        execution_timeout: endpoint.execution_timeout_ms.map(rust::duration),
    })
}

/// `../../../handlers` from `.flash/workers/<name>` to the crate.
fn crate_path_from_worker(out: &str, crate_dir: &str) -> String {
    let depth = out
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .count()
        + 2;
    let up = vec![".."; depth].join("/");
    if crate_dir == "." {
        up
    } else {
        format!("{up}/{crate_dir}")
    }
}

/// The context as template values, each endpoint converted once: a file's context shares them
/// with every other file's (a project of many endpoints does not convert them per file).
pub(super) struct Values {
    project: TemplateContext<Value, Value>,
    endpoints: Vec<Value>,
}

impl Values {
    pub fn new(context: TemplateContext) -> Values {
        let endpoints: Vec<Value> = context
            .endpoints
            .iter()
            .map(|endpoint| Value::from(Serde(endpoint)))
            .collect();
        let all = Value::from(endpoints.clone());
        Values {
            project: context.with(all, None),
            endpoints,
        }
    }

    /// The context of a project-wide template.
    pub fn project(&self) -> Value {
        Value::from(Serde(&self.project))
    }

    /// The context of a template for the `index`th endpoint (in plan order).
    pub fn endpoint(&self, index: usize) -> Value {
        let context = self.project.clone().with(
            self.project.endpoints.clone(),
            self.endpoints.get(index).cloned(),
        );
        Value::from(Serde(&context))
    }
}

/// The JSON Schema of [`TemplateContext`].
pub fn schema() -> serde_json::Value {
    // The serialize contract: a field that may be none is still always there (required).
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    generator
        .into_root_schema_for::<TemplateContext>()
        .to_value()
}

/// Every field of the context, by the path a template reads it at (`endpoint.routes[].path`,
/// `[]` for an item of a list), with its name; the shortest path when a type is reachable by
/// several (`endpoint.name` rather than `endpoints[].name`).
pub fn field_paths() -> Vec<(String, String)> {
    let schema = schema();
    let mut type_paths: BTreeMap<String, String> = BTreeMap::new();
    type_paths.insert("TemplateContext".to_string(), String::new());
    // The context is a tree of a few levels: settle each type's path, shortest first.
    let mut queue = vec!["TemplateContext".to_string()];
    while let Some(name) = queue.pop() {
        let Some(object) = objects(&schema).into_iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let base = type_paths[&name].clone();
        for (field, property) in object_fields(object.1) {
            let Some((reference, list)) = reference_of(property) else {
                continue;
            };
            let path = format!("{base}{field}{}.", if list { "[]" } else { "" });
            let better = type_paths
                .get(&reference)
                .is_none_or(|known| rank(&path) < rank(known));
            if better {
                type_paths.insert(reference.clone(), path);
                queue.push(reference);
            }
        }
    }
    let mut paths = Vec::new();
    for (name, object) in objects(&schema) {
        let Some(base) = type_paths.get(&name) else {
            continue;
        };
        for (field, _) in object_fields(object) {
            paths.push((format!("{base}{field}"), field));
        }
    }
    paths
}

/// Fewer lists first, then shorter.
fn rank(path: &str) -> (usize, usize) {
    (path.matches("[]").count(), path.len())
}

/// The object type a property holds, directly, in a list or as an option; and whether in a list.
fn reference_of(property: &serde_json::Value) -> Option<(String, bool)> {
    let name = |r: &serde_json::Value| {
        r.get("$ref")
            .and_then(|r| r.as_str())
            .and_then(|r| r.rsplit('/').next())
            .map(str::to_string)
    };
    if let Some(found) = name(property) {
        return Some((found, false));
    }
    if let Some(items) = property.get("items") {
        return name(items).map(|found| (found, true));
    }
    property
        .get("anyOf")
        .and_then(|a| a.as_array())
        .and_then(|options| options.iter().find_map(name))
        .map(|found| (found, false))
}

/// Why `expression` (`endpoint.nmae`), which a template read, is undefined: the field the
/// context does not have, and where a field of that name is or the nearest field's path; or,
/// for a field the context has, that a value on its way is none here.
pub fn undefined(expression: &str) -> String {
    let paths = field_paths();
    let known = |path: &str| paths.iter().any(|(p, _)| p == path);
    let segments: Vec<&str> = expression
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s).trim())
        .collect();
    // The first segment the context does not have, following the expression from the top;
    // a loop variable (`route.x`) cannot be followed, and its last segment is the one.
    let mut unknown = segments.last().copied().unwrap_or(expression);
    let mut parent = None;
    if known(segments[0]) || segments.len() == 1 {
        let mut at = String::new();
        let mut all_known = true;
        for segment in &segments {
            let plain = if at.is_empty() {
                segment.to_string()
            } else {
                format!("{at}.{segment}")
            };
            let item = format!("{at}[].{segment}");
            at = match (known(&plain), known(&item)) {
                (true, _) => plain,
                (false, true) => item,
                (false, false) => {
                    unknown = segment;
                    all_known = false;
                    break;
                }
            };
            parent = Some(at.clone());
        }
        if all_known {
            return format!(
                "`{expression}` is undefined here: the context has it, but a value on its way \
                 is none or missing in this template (`endpoint` in a project-wide template, \
                 `endpoint.job` for a load-balanced endpoint, an item past the end of a list)"
            );
        }
    }
    let mut message = format!(
        "`{expression}` is undefined: the template context has no field `{unknown}` there \
         (docs/generate.md lists the context)"
    );
    let at = |name: &str| -> Vec<String> {
        paths
            .iter()
            .filter(|(_, f)| f == name)
            .map(|(path, _)| format!("`{path}`"))
            .collect()
    };
    let same = at(unknown);
    let names: Vec<&str> = paths.iter().map(|(_, f)| f.as_str()).collect();
    if !same.is_empty() {
        message.push_str(&format!("; it has `{unknown}` at {}", same.join(" and ")));
    } else if let Some(closest) = crate::suggest::closest(unknown, names) {
        message.push_str(&format!("; did you mean {}?", at(closest).join(" or ")));
    } else if let Some(parent) = parent {
        let fields: Vec<String> = paths
            .iter()
            .filter_map(|(path, field)| {
                let rest = path.strip_prefix(&parent)?;
                (rest.strip_prefix('.').or_else(|| rest.strip_prefix("[].")) == Some(field))
                    .then(|| format!("`{field}`"))
            })
            .collect();
        let list = paths
            .iter()
            .any(|(path, _)| path.starts_with(&format!("{parent}[].")));
        let owner = if list {
            format!("an item of `{parent}`")
        } else {
            format!("`{parent}`")
        };
        if !fields.is_empty() {
            message.push_str(&format!("; {owner} has {}", fields.join(", ")));
        }
    }
    message
}

/// docs/generate.md's list of the context: a table per type, every field with its type and
/// its doc comment, generated from [`schema`].
pub fn markdown() -> String {
    let schema = schema();
    let mut text = String::new();
    for (name, object) in objects(&schema) {
        let description = object
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default();
        text.push_str(&format!(
            "#### `{name}`\n\n{}\n\n| field | type | what it is |\n|---|---|---|\n",
            one_line(description)
        ));
        for (field, property) in object_fields(object) {
            let doc = property
                .get("description")
                .and_then(|d| d.as_str())
                .unwrap_or_default();
            text.push_str(&format!(
                "| `{field}` | {} | {} |\n",
                type_name(&schema, property),
                one_line(doc).replace('|', "\\|")
            ));
        }
        text.push('\n');
    }
    text.truncate(text.trim_end().len());
    text.push('\n');
    text
}

/// The context's object types, the root first, then its definitions in name order.
fn objects(schema: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let mut objects = vec![("TemplateContext".to_string(), schema)];
    if let Some(defs) = schema.get("$defs").and_then(|d| d.as_object()) {
        for (name, def) in defs {
            if def.get("properties").is_some() {
                objects.push((name.clone(), def));
            }
        }
    }
    objects
}

/// An object's fields in declaration order: the `properties` map is sorted, so the order comes
/// from `required`, which lists every field (the serialize contract: none is never skipped).
fn object_fields(object: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let Some(properties) = object.get("properties").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    let order: Vec<&str> = object
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|n| n.as_str()).collect())
        .unwrap_or_default();
    let mut fields: Vec<(String, &serde_json::Value)> = order
        .iter()
        .filter_map(|name| properties.get(*name).map(|p| (name.to_string(), p)))
        .collect();
    for (name, property) in properties {
        if !order.contains(&name.as_str()) {
            fields.push((name.clone(), property));
        }
    }
    fields
}

/// A property's type in words: `string`, `string or none`, `list of RouteContext`, `"queue" or
/// "load_balanced"`.
fn type_name(root: &serde_json::Value, property: &serde_json::Value) -> String {
    if let Some(reference) = property.get("$ref").and_then(|r| r.as_str()) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return match root.get("$defs").and_then(|defs| defs.get(name)) {
            // An object type has its own table; an enumeration is its values.
            Some(def) if def.get("properties").is_none() => type_name(root, def),
            _ => format!("[`{name}`](#{})", name.to_ascii_lowercase()),
        };
    }
    if let Some(value) = property.get("const") {
        return format!("`{value}`");
    }
    for alternatives in ["anyOf", "oneOf"] {
        if let Some(options) = property.get(alternatives).and_then(|a| a.as_array()) {
            let names: Vec<String> = options.iter().map(|o| type_name(root, o)).collect();
            return names.join(" or ");
        }
    }
    let kinds: Vec<&str> = match property.get("type") {
        Some(serde_json::Value::String(kind)) => vec![kind],
        Some(serde_json::Value::Array(kinds)) => kinds.iter().filter_map(|k| k.as_str()).collect(),
        _ => Vec::new(),
    };
    let words: Vec<String> = kinds
        .iter()
        .map(|kind| match *kind {
            "array" => format!(
                "list of {}",
                property
                    .get("items")
                    .map(|items| type_name(root, items))
                    .unwrap_or_default()
            ),
            "null" => "none".to_string(),
            other => other.to_string(),
        })
        .collect();
    words.join(" or ")
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn crate_paths_climb_out_of_the_output() {
        assert_eq!(super::crate_path_from_worker(".flash", "."), "../../..");
        assert_eq!(
            super::crate_path_from_worker(".flash", "handlers"),
            "../../../handlers"
        );
        assert_eq!(
            super::crate_path_from_worker("build/gen", "."),
            "../../../.."
        );
    }
}

/// A GPU endpoint's build with its handler crate's `cuda` feature (`endpoint.cuda_build`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CudaBuildContext {
    /// cargo's `--features` value (`embeddings/cuda`).
    pub features: String,
    /// The image the Rust toolchain is copied from into the CUDA devel image, which has none.
    pub toolchain_image: String,
    /// The default of the `CUDA_COMPUTE_CAP` build argument (`80`): `docker build` has no GPU
    /// to ask.
    pub compute_cap: String,
}

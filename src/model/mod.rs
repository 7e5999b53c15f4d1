//! The flash.yaml format, version 1, as Rust types. These types *are* the format: the JSON
//! Schema is generated from them (`schema/flash.schema.json`), typed access in rules and
//! lowering goes through them, and their doc comments are the schema's descriptions.

pub mod catalog;
mod choices;
pub mod defaults;
pub mod route_key;
pub mod vocab;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use choices::{CpuChoice, CudaVersion, DatacenterId, FormatVersion, GpuChoice};

/// A flash.yaml file: a project of serverless endpoints for Runpod, compiled by flashc.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "flash.yaml")]
pub struct FlashFile {
    /// The format version of this file. Always `1`.
    pub version: FormatVersion,
    /// The project's name: lowercase letters, digits and `-`, starting with a letter, at most
    /// 63 characters. It prefixes image names.
    #[schemars(extend("examples" = ["my-app"]))]
    pub name: String,
    /// Where the crate with the handler functions is, relative to this file.
    #[serde(rename = "crate", default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = defaults::CRATE_DIR, "examples" = [".", "handlers"]))]
    pub crate_dir: Option<String>,
    /// Settings applied to every endpoint. A field set on an endpoint replaces the default;
    /// `env` merges variable by variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"workers": [0, 3], "idle_timeout": 60}]))]
    pub defaults: Option<Settings>,
    /// The endpoints, by name. A name becomes a crate name, an image name and a URL segment:
    /// lowercase letters, digits and `-`, starting with a letter, at most 63 characters.
    #[schemars(length(min = 1), extend("examples" = [{"embed": {"type": "queue", "handler": "embed::run", "gpu": "ADA_24"}}]))]
    pub endpoints: BTreeMap<String, Endpoint>,
    /// Named overlays (`production`, `staging`, ...) that override any endpoint field or default;
    /// `flashc check --env NAME` checks the merged result.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("examples" = [{"production": {"endpoints": {"embed": {"workers": [1, 10]}}}}]))]
    pub environments: BTreeMap<String, Environment>,
    /// Where `flashc build` and `flashc deploy` push the project's images, and the Runpod
    /// registry credential Runpod pulls them with. Never a user name or password: those are
    /// kept by Runpod (`/v2/registries`), and this file names only the credential's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"url": "registry.example.com/team", "auth": "reg_abc"}]))]
    pub registry: Option<Registry>,
}

/// The registry images are pushed to and pulled from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// The registry (and path) images are pushed to, without a scheme: images are named
    /// `URL/project-endpoint:flashc-<hash>` and deployed by digest. `--push` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9.\-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._\-/]*)?$"), extend("examples" = ["registry.example.com/team", "127.0.0.1:5000"]))]
    pub url: Option<String>,
    /// The id of the Runpod registry credential that pulls the images (create it in the
    /// console or with `POST /v2/registries`; its user name and password stay with Runpod).
    /// Sent as the endpoint's `registry`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_\-]{1,64}$"), extend("examples" = ["reg_abc"]))]
    pub auth: Option<String>,
}

/// An overlay applied on top of the base file when the environment is selected.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// Overrides of `defaults`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Settings>,
    /// Overrides of endpoints, by name; each endpoint must exist in the base file.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, Endpoint>,
}

/// The kind of endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointType {
    /// Jobs arrive through a queue (`/run`, `/runsync`) and run one handler, with retries.
    Queue,
    /// Requests go straight to the worker's HTTP routes: many routes, low latency.
    LoadBalanced,
}

/// One serverless endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Endpoint {
    /// `queue` (one handler, jobs through `/run` and `/runsync`) or `load_balanced` (HTTP routes).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EndpointType>,
    /// Queue endpoints: the function that runs each job, as a Rust path in the handler crate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["handlers::embed"]))]
    pub handler: Option<String>,
    /// Queue endpoints: how many times a failed job is retried before it is FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 10), extend("default" = defaults::RETRIES))]
    pub retries: Option<u32>,
    /// Queue endpoints: how many jobs one worker runs at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000), extend("default" = defaults::MAX_CONCURRENCY))]
    pub max_concurrency: Option<u32>,
    /// Queue endpoints whose handler returns a stream: end the job with every chunk as its
    /// output (`{"output": [chunk, …]}`, the Python SDK's `return_aggregate_stream`) instead of
    /// `{"output": []}`. Chunks are streamed either way; an aggregate past the platform's result
    /// limit falls back to `[]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = defaults::RETURN_AGGREGATE_STREAM))]
    pub return_aggregate_stream: Option<bool>,
    /// Load-balanced endpoints: routes by `"METHOD /path"` (GET, POST, PUT, DELETE, PATCH, or WS
    /// for a WebSocket), each to a handler path or to `{handler, timeout}`. `{name}` path
    /// segments are parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"GET /users/{id}": "users::get", "POST /users": {"handler": "users::create", "timeout": "30s"}}]))]
    pub routes: Option<BTreeMap<String, Route>>,
    /// A function run once per worker before it reports ready (load a model once); what it
    /// returns is shared with every handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["model::load"]))]
    pub init: Option<String>,
    /// Requests `flashc deploy` sends once the endpoint is live, after `/ping` (load-balanced)
    /// or `/health` (queue) answers: a wrong answer fails the deploy, which rolls back. A
    /// load-balanced endpoint's request is `"METHOD /path"` with an optional JSON `body`; a
    /// queue endpoint's is a job `input`, run through `/runsync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [[{"request": "POST /summarize", "body": {"text": "a b c"}, "status": 200, "expect": {"words": 3}}], [{"input": {"text": "a b c"}, "expect": {"status": "COMPLETED"}}]]))]
    pub smoke: Option<Vec<SmokeRequest>>,
    /// Deserialised separately from the same mapping (see [`Endpoint::from_node`]): serde's
    /// `flatten` would buffer every endpoint into an intermediate tree first, which cost more
    /// than all the rules together. The schema still shows the settings inline.
    #[serde(skip)]
    #[schemars(flatten, !skip)]
    pub settings: Settings,
}

impl Endpoint {
    /// The typed endpoint from its spanned mapping.
    pub fn from_node(node: &crate::load::Node) -> Result<Endpoint, serde::de::value::Error> {
        let mut endpoint: Endpoint = crate::load::from_node(node)?;
        endpoint.settings = crate::load::from_node(node)?;
        Ok(endpoint)
    }
}

/// One smoke request of `flashc deploy`'s verify.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeRequest {
    /// Load-balanced endpoints: the request, as `"METHOD /path"` (a route's key, without `{}`
    /// parameters: a concrete path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(GET|POST|PUT|PATCH|DELETE) /\S*$"))]
    pub request: Option<String>,
    /// Load-balanced endpoints: the JSON body sent with `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// Queue endpoints: the job's input, sent as `{"input": …}` to `/runsync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<serde_json::Value>,
    /// The HTTP status expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599), extend("default" = 200))]
    pub status: Option<u16>,
    /// What the JSON answer must contain: an object's keys are compared one by one (others
    /// may be there too), recursively; arrays and scalars must be equal. For a queue
    /// endpoint, the answer is the job (`{"status": "COMPLETED", "output": …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<serde_json::Value>,
}

/// A route's target: a handler path, or a handler with options.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Route {
    /// The handler, as a Rust path in the handler crate.
    Handler(String),
    Detailed(RouteOptions),
}

/// A route with options.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RouteOptions {
    /// The handler, as a Rust path in the handler crate.
    pub handler: String,
    /// Time limit for one request of this route (overrides `execution_timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// What the route does, for generated documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Route {
    pub fn handler(&self) -> &str {
        match self {
            Route::Handler(h) => h,
            Route::Detailed(o) => &o.handler,
        }
    }
}

/// A duration: whole seconds (`90`) or a number with a unit (`500ms`, `90s`, `10m`, `1h`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Duration {
    Seconds(u64),
    Text(String),
}

/// How long an idle worker is kept: whole seconds (`300`, 1 to 3600) or a duration with a
/// unit (`90s`, `5m`, `1h`), whole seconds from 1 second to 1 hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdleTimeout {
    Seconds(u32),
    Text(String),
}

/// The bounds of `idle_timeout`, in seconds (Runpod's).
pub const IDLE_TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 1..=3600;

impl IdleTimeout {
    /// Whole seconds, or why the value is not a usable idle timeout.
    pub fn seconds(&self) -> Result<u32, String> {
        let seconds = match self {
            IdleTimeout::Seconds(s) => *s,
            IdleTimeout::Text(t) => {
                let millis = route_key::parse_duration(t)?;
                if millis % 1000 != 0 {
                    return Err(format!("`idle_timeout` counts whole seconds, not `{t}`"));
                }
                u32::try_from(millis / 1000).unwrap_or(u32::MAX)
            }
        };
        if IDLE_TIMEOUT_SECONDS.contains(&seconds) {
            Ok(seconds)
        } else {
            Err(format!(
                "`idle_timeout` must be between 1 second and 1 hour (3600 s), found {}",
                match self {
                    IdleTimeout::Seconds(s) => format!("{s}"),
                    IdleTimeout::Text(t) => format!("`{t}`"),
                }
            ))
        }
    }
}

impl JsonSchema for IdleTimeout {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "IdleTimeout".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Whole seconds (1 to 3600) or a duration with a unit (`90s`, `5m`, `1h`).",
            "anyOf": [
                { "type": "integer", "format": "uint32", "minimum": 1, "maximum": 3600 },
                { "type": "string" }
            ]
        })
    }
}

/// Settings shared by endpoints and `defaults`: compute, scaling, placement and runtime.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Settings {
    /// GPUs the workers may run on: a pool id (`ADA_24`), a model id (`NVIDIA_L4`), a list of
    /// them, or `any`. With neither `gpu` nor `cpu`, any GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["ADA_24", ["AMPERE_48", "NVIDIA_L4"]]))]
    pub gpu: Option<OneOrMany<GpuChoice>>,
    /// GPUs per worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 8), extend("default" = defaults::GPU_COUNT))]
    pub gpu_count: Option<u32>,
    /// The lowest CUDA version a worker's host must offer. GPU endpoints only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cuda_version: Option<CudaVersion>,
    /// CPU flavors (`cpu{generation}{class}-{vCPU}-{RAM GB}`), one or a list. Excludes `gpu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["cpu3g-2-8", ["cpu3c-2-4", "cpu5c-2-4"]]))]
    pub cpu: Option<OneOrMany<CpuChoice>>,
    /// Worker count: `N` (0 to N), `[min, max]`, or `{min, max}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"min": defaults::WORKERS_MIN, "max": defaults::WORKERS_MAX}, "examples" = [3, [1, 5], {"min": 1, "max": 5}]))]
    pub workers: Option<Workers>,
    /// How long an idle worker is kept before it is stopped: whole seconds (`300`) or a
    /// duration (`5m`), from 1 second to 1 hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = defaults::IDLE_TIMEOUT_SECONDS, "examples" = [60, "5m"]))]
    pub idle_timeout: Option<IdleTimeout>,
    /// How the endpoint scales: `QUEUE_DELAY` (seconds a job may wait) or `REQUEST_COUNT`
    /// (requests per worker; required for load-balanced endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"type": "QUEUE_DELAY", "value": 4}]))]
    pub scaler: Option<Scaler>,
    /// Time limit for one job or request, such as `90s` or `10m`. No limit when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = ["90s", "10m"]))]
    pub execution_timeout: Option<Duration>,
    /// Runpod's fast-start snapshotting of workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = defaults::FLASHBOOT))]
    pub flashboot: Option<bool>,
    /// Datacenters the workers may run in. GPU endpoints default to all, CPU endpoints to
    /// `EU-RO-1`; `cpu3g`/`cpu3c` flavors run everywhere but `EUR-NO-1`, `cpu5c` only in
    /// `EU-RO-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), extend("examples" = [["US-CA-2", "EU-RO-1"]]))]
    pub datacenters: Option<Vec<DatacenterId>>,
    /// Network volume(s) mounted in the workers at `/runpod-volume`; at most one per datacenter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"name": "models", "size": 100, "datacenter": "EU-RO-1"}]))]
    pub volume: Option<OneOrMany<Volume>>,
    /// Container disk in GB (platform default: 30 for GPU endpoints, 10 for CPU endpoints).
    /// CPU endpoints are capped by their flavors (10 or 15 GB per vCPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4096), extend("examples" = [20]))]
    pub container_disk: Option<u32>,
    /// Environment variables of the workers. Values are strings; secrets are referenced as
    /// `{secret: NAME}` and never written in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"MODEL_ID": "bert-base", "HF_TOKEN": {"secret": "hf_token"}}]))]
    pub env: Option<BTreeMap<String, EnvValue>>,
    /// Debian packages installed in the worker image (`apt-get install`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [["ffmpeg", "libsndfile1"]]))]
    pub system_dependencies: Option<Vec<String>>,
    /// Base image overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("examples" = [{"base": "debian:bookworm-slim"}]))]
    pub image: Option<ImageOverride>,
}

/// One value or a non-empty list of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(#[schemars(length(min = 1))] Vec<T>),
}

impl<T> OneOrMany<T> {
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

/// Worker count bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Workers {
    /// At most N workers, scaling to zero.
    Max(u32),
    /// `[min, max]`.
    Range([u32; 2]),
    /// `{min, max}`.
    Bounds(WorkerBounds),
}

/// `{min, max}` worker bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerBounds {
    /// Workers kept running even when idle.
    #[serde(default)]
    #[schemars(extend("default" = defaults::WORKERS_MIN))]
    pub min: u32,
    /// The most workers the endpoint scales to.
    #[serde(default = "default_max")]
    #[schemars(extend("default" = defaults::WORKERS_MAX))]
    pub max: u32,
}

fn default_max() -> u32 {
    defaults::WORKERS_MAX
}

impl Workers {
    /// `(min, max)`.
    pub fn bounds(&self) -> (u32, u32) {
        match *self {
            Workers::Max(max) => (0, max),
            Workers::Range([min, max]) => (min, max),
            Workers::Bounds(WorkerBounds { min, max }) => (min, max),
        }
    }
}

/// The scaler type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ScalerType {
    /// Add workers when a job has waited `value` seconds in the queue.
    #[serde(rename = "QUEUE_DELAY")]
    QueueDelay,
    /// Add workers when each has `value` requests in flight.
    #[serde(rename = "REQUEST_COUNT")]
    RequestCount,
}

/// Scaling policy.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Scaler {
    /// `QUEUE_DELAY` or `REQUEST_COUNT`. Defaults: queue endpoints `QUEUE_DELAY`, load-balanced
    /// endpoints `REQUEST_COUNT`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ScalerType>,
    /// Seconds of queue delay, or requests per worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1), extend("default" = defaults::SCALER_VALUE))]
    pub value: Option<u32>,
}

/// A network volume, by name or id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Volume {
    /// The volume's name (created if it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of an existing volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Size in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 4096), extend("default" = defaults::VOLUME_SIZE_GB))]
    pub size: Option<u32>,
    /// The datacenter the volume lives in; must be among the endpoint's datacenters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = defaults::VOLUME_DATACENTER))]
    pub datacenter: Option<DatacenterId>,
}

/// An environment variable's value: a string, or a reference to a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EnvValue {
    Plain(String),
    Secret(SecretRef),
}

/// A secret stored on the platform, referenced by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    /// The secret's name on the platform.
    pub secret: String,
}

/// Base images for the generated Dockerfile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ImageOverride {
    /// The image the worker runs on (default `debian:bookworm-slim`, or a CUDA runtime image
    /// for GPU endpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The image the worker is compiled in (default `rust:1-slim-bookworm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder: Option<String>,
}

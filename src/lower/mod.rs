//! Stage 4, lower: a checked, merged flash.yaml and its resolved handlers become a [`Plan`]:
//! every default applied, Runpod's vocabulary computed (`gpuIds`, CPU instance ids), images
//! named, every route and queue handler bound to a resolved function. Emit renders the plan and
//! nothing else, so every decision about *what* is generated is made here, once.
//!
//! Lowering runs only on a file `check` passed: it reports nothing and never fails on valid
//! input; anything unexpected (a shape check should have refused) is an [`Unlowerable`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::Node;
use crate::model::defaults;
use crate::model::route_key::{self, parse_duration};
use crate::model::{
    vocab, Duration, Endpoint, EndpointType, EnvValue, OneOrMany, ScalerType, Settings,
};
use crate::project::{Project, RouteView};
use crate::resolve::{HandlerFn, InitFn, Resolved};

/// The port generated workers listen on in their image. Not 80: workers run as a non-root user,
/// which cannot bind ports below 1024.
pub const WORKER_PORT: u16 = 8080;
pub const CPU_BASE_IMAGE: &str = "debian:bookworm-slim";
pub const BUILDER_IMAGE: &str = "rust:1-slim-bookworm";
/// Datacenters CPU endpoints can run in today (see the vocabulary brief).
pub const CPU_DATACENTERS: &[&str] = &["EU-RO-1"];

/// Everything `emit` renders.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub project: String,
    /// The environment overlay applied, if any.
    pub environment: Option<String>,
    pub handler_crate: HandlerCrate,
    /// Sorted by name.
    pub endpoints: Vec<EndpointPlan>,
}

/// The user's crate, as generated code and Dockerfiles refer to it. Paths are relative to
/// the directory of flash.yaml (the Docker build context), with `/` separators.
#[derive(Debug, Clone, Serialize)]
pub struct HandlerCrate {
    pub package: String,
    pub lib_name: String,
    /// `.` or `handlers`.
    pub dir: String,
    /// `Cargo.toml` or `handlers/Cargo.toml`.
    pub manifest: String,
    /// `src/lib.rs` or `handlers/src/lib.rs`.
    pub lib: String,
    /// The build script, like `lib` (`build.rs` or `handlers/build.rs`), if the crate has one.
    pub build: Option<String>,
    /// The queue endpoints the crate calls (`Endpoint::named`), by their flash.yaml names,
    /// sorted: deploy warns only a caller that needs a key. Not a template input.
    #[serde(skip)]
    pub calls: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Queue,
    LoadBalanced,
}

#[derive(Debug, Clone, Serialize)]
pub struct EndpointPlan {
    pub name: String,
    pub kind: Kind,
    /// The worker crate's package and binary name (`hello-api`): unique across projects, so
    /// generated workspaces can share one cargo target directory.
    pub package: String,
    /// The image's name: the package's, or the project's alone when the endpoint is named like
    /// the project (`user-service`, not `user-service-user-service`).
    pub image: String,
    pub compute: Compute,
    pub workers_min: u32,
    pub workers_max: u32,
    pub idle_timeout: u32,
    pub scaler_type: &'static str,
    pub scaler_value: u32,
    pub execution_timeout_ms: Option<u64>,
    pub flashboot: bool,
    /// Empty: any datacenter.
    pub datacenters: Vec<String>,
    pub volumes: Vec<VolumePlan>,
    pub container_disk: Option<u32>,
    pub env: BTreeMap<String, EnvPlan>,
    pub system_dependencies: Vec<String>,
    pub base_image: String,
    /// The image the worker is compiled in: `image.builder`, else the CUDA devel image of a
    /// [`CudaBuild`], else [`BUILDER_IMAGE`].
    pub builder_image: String,
    /// A GPU endpoint whose handler crate needs CUDA at build time: how it is compiled.
    pub cuda_build: Option<CudaBuild>,
    /// The image's `ENTRYPOINT` (exec form): the worker, behind NVIDIA's entrypoint script on
    /// an `nvidia/cuda` base (see [`entrypoint`]).
    pub entrypoint: Vec<String>,
    pub port: u16,
    pub init: Option<InitFn>,
    /// Queue endpoints: the job handler.
    pub handler: Option<CallPlan>,
    pub retries: u32,
    pub max_concurrency: u32,
    /// Queue endpoints: a streamed job's final output is all its chunks, not `[]`.
    pub return_aggregate_stream: bool,
    /// Load-balanced endpoints, in path order.
    pub routes: Vec<RoutePlan>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Compute {
    Gpu {
        /// What flash.yaml chose (pools, models or `any`).
        choices: Vec<String>,
        /// Runpod's `gpuIds` string.
        gpu_ids: String,
        count: u32,
        /// `12.8`.
        min_cuda_version: String,
    },
    Cpu {
        instance_ids: Vec<String>,
    },
}

impl Compute {
    pub fn is_gpu(&self) -> bool {
        matches!(self, Compute::Gpu { .. })
    }
}

/// The handler crate's feature that builds it for CUDA: a GPU endpoint of a crate that declares
/// it is compiled with it on, in NVIDIA's CUDA *devel* image of the runtime image's version
/// (nvcc, headers, libraries), and runs on the matching runtime image.
pub const CUDA_FEATURE: &str = "cuda";

/// The compute capability CUDA build scripts compile kernels for when no GPU is there to ask
/// (`docker build` has none; candle's kernels read `CUDA_COMPUTE_CAP`): 8.0 (A100) is the
/// lowest of the GPUs flashc's vocabulary names (all Ampere or newer), and PTX built for it is
/// compiled for newer GPUs by the driver at load. A build argument, so it can be raised.
pub const CUDA_COMPUTE_CAP: &str = "80";

/// How a GPU endpoint whose crate needs CUDA at build time is compiled.
#[derive(Debug, Clone, Serialize)]
pub struct CudaBuild {
    /// cargo's `--features` value: the handler crate's [`CUDA_FEATURE`] (`embeddings/cuda`).
    pub features: String,
    /// The Rust toolchain is copied from this image (`/usr/local/cargo`, `/usr/local/rustup`)
    /// into the CUDA devel image, which has none.
    pub toolchain_image: String,
    /// The default of the `CUDA_COMPUTE_CAP` build argument ([`CUDA_COMPUTE_CAP`]).
    pub compute_cap: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumePlan {
    pub name: Option<String>,
    pub id: Option<String>,
    pub size_gb: u32,
    pub datacenter: String,
}

/// An environment variable: a value, or a secret the platform fills in at deploy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EnvPlan {
    Value { value: String },
    Secret { name: String },
}

/// One route of a load-balanced endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct RoutePlan {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH` or `WS`.
    pub method: String,
    pub path: String,
    pub path_params: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub description: Option<String>,
    pub call: CallPlan,
}

/// A resolved handler and how each of its parameters is supplied.
#[derive(Debug, Clone, Serialize)]
pub struct CallPlan {
    /// The function's path from the crate root (`users::get`).
    pub path: String,
    pub function: HandlerFn,
    /// Per parameter, in order: where its argument comes from.
    pub sources: Vec<ArgSource>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgSource {
    Path,
    Query,
    Body,
    Input,
    State,
    Context,
}

/// Where a request or a job puts an argument is the route contract's.
impl From<route_key::ArgSource> for ArgSource {
    fn from(source: route_key::ArgSource) -> Self {
        match source {
            route_key::ArgSource::Path => ArgSource::Path,
            route_key::ArgSource::Query => ArgSource::Query,
            route_key::ArgSource::Body => ArgSource::Body,
            route_key::ArgSource::Input => ArgSource::Input,
        }
    }
}

/// Lowering met something `check` should have refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlowerable(pub String);

impl std::fmt::Display for Unlowerable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "internal error while lowering: {}", self.0)
    }
}

/// Lowers one environment's project (defaults and the overlay folded in once, by
/// `validate::prepare`) whose handlers were resolved. It reads the model as the rules did: each
/// endpoint's typed form and each route as parsed when the project was built.
pub fn lower(model: &Project, resolved: &Resolved, crate_dir: &str) -> Result<Plan, Unlowerable> {
    let environment = model.environment;
    let project = model
        .root
        .get("name")
        .and_then(Node::as_str)
        .ok_or_else(|| Unlowerable("no project name".into()))?
        .to_string();
    let mut endpoints = Vec::new();
    for endpoint in &model.endpoints {
        let spec = endpoint
            .spec
            .as_ref()
            .ok_or_else(|| Unlowerable(format!("endpoint `{}` is malformed", endpoint.name)))?;
        let routes: Vec<&RouteView> = model.routes_of(endpoint.name).collect();
        endpoints.push(lower_endpoint(
            &project,
            endpoint.name,
            spec,
            &routes,
            resolved,
        )?);
    }
    endpoints.sort_by(|a, b| a.name.cmp(&b.name));
    let krate = &resolved.krate;
    let relative = |path: &std::path::Path| -> String {
        let rel = path.strip_prefix(&krate.manifest_dir).unwrap_or(path);
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        join(crate_dir, &rel)
    };
    Ok(Plan {
        project,
        environment: environment.map(str::to_string),
        handler_crate: HandlerCrate {
            package: krate.package.clone(),
            lib_name: krate.lib_name.clone(),
            dir: normalize_dir(crate_dir),
            manifest: join(crate_dir, "Cargo.toml"),
            lib: relative(&krate.lib_path),
            build: krate.build_script.as_deref().map(relative),
            calls: called_endpoints(model, resolved),
        },
        endpoints,
    })
}

/// The endpoints of `project` that `Endpoint::named` calls reach, sorted and once each.
fn called_endpoints(project: &Project, resolved: &Resolved) -> Vec<String> {
    let mut called: Vec<String> = resolved
        .endpoint_calls
        .iter()
        .filter_map(|c| project.endpoint_called(&c.name))
        .map(|e| e.name.to_string())
        .collect();
    called.sort();
    called.dedup();
    called
}

fn normalize_dir(dir: &str) -> String {
    let trimmed = dir.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() {
        ".".into()
    } else {
        trimmed.to_string()
    }
}

fn join(dir: &str, rest: &str) -> String {
    match normalize_dir(dir).as_str() {
        "." => rest.to_string(),
        dir => format!("{dir}/{rest}"),
    }
}

fn lower_endpoint(
    project: &str,
    name: &str,
    spec: &Endpoint,
    route_views: &[&RouteView],
    resolved: &Resolved,
) -> Result<EndpointPlan, Unlowerable> {
    let s: &Settings = &spec.settings;
    let kind = match spec.kind {
        Some(EndpointType::Queue) => Kind::Queue,
        Some(EndpointType::LoadBalanced) => Kind::LoadBalanced,
        None => return Err(Unlowerable(format!("endpoint `{name}` has no type"))),
    };
    let compute = match (&s.cpu, &s.gpu) {
        (Some(cpu), _) => Compute::Cpu {
            instance_ids: cpu.as_slice().iter().map(|c| c.0.clone()).collect(),
        },
        (None, gpu) => {
            let choices: Vec<String> = match gpu {
                Some(g) => g.as_slice().iter().map(|c| c.0.clone()).collect(),
                None => vec![vocab::GPU_ANY.to_string()],
            };
            let refs: Vec<&str> = choices.iter().map(String::as_str).collect();
            Compute::Gpu {
                gpu_ids: vocab::gpu_ids(&refs),
                choices,
                count: s.gpu_count.unwrap_or(defaults::GPU_COUNT),
                min_cuda_version: s
                    .min_cuda_version
                    .as_ref()
                    .map_or(defaults::MIN_CUDA_VERSION.to_string(), |v| v.0.clone()),
            }
        }
    };
    let (workers_min, workers_max) = s
        .workers
        .map_or((defaults::WORKERS_MIN, defaults::WORKERS_MAX), |w| {
            w.bounds()
        });
    let scaler_type = s
        .scaler
        .as_ref()
        .and_then(|sc| sc.kind)
        .unwrap_or(match kind {
            Kind::Queue => ScalerType::QueueDelay,
            Kind::LoadBalanced => ScalerType::RequestCount,
        });
    let datacenters = match &s.datacenters {
        Some(list) => list.iter().map(|d| d.0.clone()).collect(),
        None if !compute.is_gpu() => CPU_DATACENTERS.iter().map(|d| d.to_string()).collect(),
        None => Vec::new(),
    };
    let volumes = s
        .volume
        .as_ref()
        .map(OneOrMany::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|v| VolumePlan {
            name: v.name.clone(),
            id: v.id.clone(),
            size_gb: v.size.unwrap_or(defaults::VOLUME_SIZE_GB),
            datacenter: v
                .datacenter
                .as_ref()
                .map_or_else(|| defaults::VOLUME_DATACENTER.to_string(), |d| d.0.clone()),
        })
        .collect();
    let env = s
        .env
        .as_ref()
        .map(|env| {
            env.iter()
                .map(|(k, v)| {
                    let plan = match v {
                        EnvValue::Plain(value) => EnvPlan::Value {
                            value: value.clone(),
                        },
                        EnvValue::Secret(secret) => EnvPlan::Secret {
                            name: secret.secret.clone(),
                        },
                    };
                    (k.clone(), plan)
                })
                .collect()
        })
        .unwrap_or_default();
    let image = s.image.as_ref();
    let base_image = image
        .and_then(|i| i.base.clone())
        .unwrap_or_else(|| match &compute {
            Compute::Gpu {
                min_cuda_version, ..
            } => cuda_base_image(min_cuda_version),
            Compute::Cpu { .. } => CPU_BASE_IMAGE.to_string(),
        });
    let cuda_build = match &compute {
        Compute::Gpu { .. } if resolved.krate.features.iter().any(|f| f == CUDA_FEATURE) => {
            Some(CudaBuild {
                features: format!("{}/{CUDA_FEATURE}", resolved.krate.package),
                toolchain_image: BUILDER_IMAGE.to_string(),
                compute_cap: CUDA_COMPUTE_CAP.to_string(),
            })
        }
        _ => None,
    };
    let builder_image =
        image
            .and_then(|i| i.builder.clone())
            .unwrap_or_else(|| match (&compute, &cuda_build) {
                (
                    Compute::Gpu {
                        min_cuda_version, ..
                    },
                    Some(_),
                ) => cuda_devel_image(min_cuda_version),
                _ => BUILDER_IMAGE.to_string(),
            });
    let entrypoint = entrypoint(&base_image);
    let init = match &spec.init {
        Some(path) => Some(
            resolved
                .inits
                .get(path)
                .cloned()
                .ok_or_else(|| Unlowerable(format!("init `{path}` was not resolved")))?,
        ),
        None => None,
    };
    let bind = |path: &str, sources: &dyn Fn(&str) -> ArgSource| -> Result<CallPlan, Unlowerable> {
        let function = resolved
            .handlers
            .get(path)
            .cloned()
            .ok_or_else(|| Unlowerable(format!("handler `{path}` was not resolved")))?;
        let sources = function
            .params
            .iter()
            .map(|p| match p.kind {
                crate::resolve::ParamKind::Arg | crate::resolve::ParamKind::Whole => {
                    sources(p.argument_name())
                }
                crate::resolve::ParamKind::State(_) => ArgSource::State,
                crate::resolve::ParamKind::Context(_) => ArgSource::Context,
            })
            .collect();
        Ok(CallPlan {
            path: path.to_string(),
            function,
            sources,
        })
    };
    let handler = match (kind, &spec.handler) {
        (Kind::Queue, Some(path)) => Some(bind(path, &|_| route_key::ArgSource::Input.into())?),
        (Kind::Queue, None) => {
            return Err(Unlowerable(format!(
                "queue endpoint `{name}` has no handler"
            )))
        }
        _ => None,
    };
    let mut routes = Vec::new();
    if kind == Kind::LoadBalanced {
        for view in route_views {
            let key = &view.entry.key;
            let parsed = view
                .key
                .as_ref()
                .map_err(|e| Unlowerable(format!("route `{key}`: {}", e.message)))?;
            let route = spec
                .routes
                .as_ref()
                .and_then(|routes| routes.get(key))
                .ok_or_else(|| Unlowerable(format!("route `{key}` has no typed value")))?;
            let params = parsed.params();
            // The route contract decides where each argument comes from.
            let call = bind(route.handler(), &|param| {
                route_key::ArgSource::of_route_argument(param, parsed.method, &params).into()
            })?;
            let path_params: Vec<String> = params.iter().map(|p| p.to_string()).collect();
            let method = parsed.method.as_str().to_string();
            let (timeout_ms, description) = match route {
                crate::model::Route::Handler(_) => (None, None),
                crate::model::Route::Detailed(o) => (
                    o.timeout.as_ref().map(duration_ms).transpose()?,
                    o.description.clone(),
                ),
            };
            routes.push(RoutePlan {
                method,
                path: parsed.path.to_string(),
                path_params,
                timeout_ms,
                description,
                call,
            });
        }
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    }
    Ok(EndpointPlan {
        name: name.to_string(),
        kind,
        package: format!("{project}-{name}"),
        image: image_name(project, name),
        compute,
        workers_min,
        workers_max,
        idle_timeout: s
            .idle_timeout
            .as_ref()
            .map_or(
                Ok(defaults::IDLE_TIMEOUT_SECONDS),
                crate::model::IdleTimeout::seconds,
            )
            .map_err(Unlowerable)?,
        scaler_type: match scaler_type {
            ScalerType::QueueDelay => "QUEUE_DELAY",
            ScalerType::RequestCount => "REQUEST_COUNT",
        },
        scaler_value: s
            .scaler
            .as_ref()
            .and_then(|sc| sc.value)
            .unwrap_or(defaults::SCALER_VALUE),
        execution_timeout_ms: s.execution_timeout.as_ref().map(duration_ms).transpose()?,
        flashboot: s.flashboot.unwrap_or(defaults::FLASHBOOT),
        datacenters,
        volumes,
        container_disk: s.container_disk,
        env,
        system_dependencies: s.system_dependencies.clone().unwrap_or_default(),
        base_image,
        builder_image,
        cuda_build,
        entrypoint,
        port: WORKER_PORT,
        init,
        handler,
        retries: spec.retries.unwrap_or(defaults::RETRIES),
        max_concurrency: spec.max_concurrency.unwrap_or(defaults::MAX_CONCURRENCY),
        return_aggregate_stream: spec
            .return_aggregate_stream
            .unwrap_or(defaults::RETURN_AGGREGATE_STREAM),
        routes,
    })
}

fn duration_ms(d: &Duration) -> Result<u64, Unlowerable> {
    match d {
        Duration::Seconds(s) => s
            .checked_mul(1000)
            .ok_or_else(|| Unlowerable(format!("duration {s}s overflows"))),
        Duration::Text(t) => parse_duration(t).map_err(Unlowerable),
    }
}

/// The port the `i`-th endpoint's printed `docker run --network host` line gives it: on one
/// host the images share the network, so each gets its own (8080, 8081, …).
pub fn local_port(port: u16, i: usize) -> u16 {
    port.saturating_add(u16::try_from(i).unwrap_or(u16::MAX))
}

/// The image of endpoint `name`: `<project>-<name>`, or `<project>` when both are one name
/// (still unique: every other endpoint's image is longer).
fn image_name(project: &str, name: &str) -> String {
    if project == name {
        project.to_string()
    } else {
        format!("{project}-{name}")
    }
}

/// Where the worker binary is in every image.
const WORKER_BIN: &str = "/usr/local/bin/worker";

/// The image's entrypoint. `nvidia/cuda` images start through NVIDIA's
/// `/opt/nvidia/nvidia_entrypoint.sh`, which runs the image's `entrypoint.d` checks (the driver
/// and CUDA compatibility) and then `exec`s its arguments: the worker keeps it, as Runpod's
/// Python workers do by setting only `CMD`, and still runs as PID 1 after the `exec`. Other
/// bases have no such script; the worker is the entrypoint.
pub fn entrypoint(base_image: &str) -> Vec<String> {
    let mut out = Vec::new();
    if base_image.starts_with("nvidia/cuda:") {
        out.push("/opt/nvidia/nvidia_entrypoint.sh".to_string());
    }
    out.push(WORKER_BIN.to_string());
    out
}

/// The `nvidia/cuda` runtime image for a minimum CUDA version: the last patch release of that
/// minor (the tags in the Docker brief), on Ubuntu 22.04.
pub fn cuda_base_image(min_cuda_version: &str) -> String {
    format!(
        "nvidia/cuda:{}-runtime-ubuntu22.04",
        cuda_tag(min_cuda_version)
    )
}

/// The `nvidia/cuda` devel image (the toolkit: nvcc, headers, libraries) of the same version
/// and Ubuntu as [`cuda_base_image`], so what it builds runs there (same CUDA, same glibc).
pub fn cuda_devel_image(min_cuda_version: &str) -> String {
    format!(
        "nvidia/cuda:{}-devel-ubuntu22.04",
        cuda_tag(min_cuda_version)
    )
}

fn cuda_tag(min_cuda_version: &str) -> String {
    let tag = match min_cuda_version {
        "11.8" => "11.8.0",
        "12.0" => "12.0.1",
        "12.1" => "12.1.1",
        "12.2" => "12.2.2",
        "12.3" => "12.3.2",
        "12.4" => "12.4.1",
        "12.5" => "12.5.1",
        "12.6" => "12.6.3",
        // No 12.7 image was released. A CUDA runtime newer than the host's driver does not
        // start, so the image may only be older: 12.6 runs on every host that offers 12.7.
        "12.7" => "12.6.3",
        "12.8" => "12.8.1",
        "12.9" => "12.9.1",
        "13.0" => "13.0.0",
        other => return format!("{other}.0"),
    };
    tag.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_named_like_its_project_has_the_project_as_image() {
        assert_eq!(image_name("user-service", "user-service"), "user-service");
        assert_eq!(image_name("user-service", "api"), "user-service-api");
    }

    #[test]
    fn nvidia_images_keep_their_entrypoint_script_in_front_of_the_worker() {
        assert_eq!(
            entrypoint(&cuda_base_image("12.4")),
            ["/opt/nvidia/nvidia_entrypoint.sh", "/usr/local/bin/worker"]
        );
        // Another GPU base (a custom `image.base`) has no such script.
        assert_eq!(
            entrypoint("pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"),
            ["/usr/local/bin/worker"]
        );
        assert_eq!(entrypoint(CPU_BASE_IMAGE), ["/usr/local/bin/worker"]);
    }

    #[test]
    fn the_cuda_devel_builder_is_the_runtime_image_s_version_and_ubuntu() {
        assert_eq!(
            cuda_devel_image("12.4"),
            "nvidia/cuda:12.4.1-devel-ubuntu22.04"
        );
        for version in ["11.8", "12.0", "12.4", "12.7", "12.8", "13.0", "12.10"] {
            assert_eq!(
                cuda_devel_image(version).replace("-devel-", "-runtime-"),
                cuda_base_image(version),
                "{version}"
            );
        }
    }
}

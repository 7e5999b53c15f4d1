//! The dev host: every endpoint of a project in one process, on one port, for `flashc dev`.
//!
//! A load-balanced endpoint's routes are served under `/{endpoint}` (as with `SCRIPT_NAME`);
//! a queue endpoint's whole local API is served under `/{endpoint}` too, which is the layout
//! Runpod's own client builds (`{RUNPOD_ENDPOINT_BASE_URL}/{endpoint_id}/run`). Beside them:
//! `GET /` lists the endpoints and routes, `/openapi.json` is the project's document and
//! `/docs` is Swagger UI on it, every asset embedded. One line is logged per request.
//!
//! `flashc dev` runs this binary as a child and hands it what a reload needs:
//! - `FLASH_DEV_LISTEN_FD`: an inherited, already-bound listening socket. The old and the new
//!   build accept from the same socket during a swap, so no connection is refused.
//! - `FLASH_DEV_ACCEPT=after-init`: accept only once every endpoint's `init` has run (a new
//!   build waits while the old one keeps answering); by default it accepts at once and
//!   requests meet the 204/503 `/ping` semantics while `init` runs.
//! - `FLASH_DEV_NOTIFY_FD`: an inherited pipe; `ready` (or `failed <endpoint>: <reason>`) is
//!   written to it once every awaited `init` has finished, and `draining` once, after SIGTERM,
//!   the host has stopped accepting (flashc announces a reload only then).
//! - `FLASH_QUEUE_DIR`: where each queue endpoint keeps its jobs (`<endpoint>.redb`), so
//!   queued jobs survive the swap to a new build.
//!
//! Generated code builds a [`Host`] from the workers' own `app()`/`worker()` functions:
//!
//! ```no_run
//! use flash_runtime::{dev::Host, handler::{handler, Reply}, lb::App, queue::QueueWorker};
//!
//! fn main() -> std::process::ExitCode {
//!     let app = App::stateless().get("/hello", handler(|_s, _c| async { Reply::json("hi") }));
//!     let job = handler(|_s, _c| async { Reply::json(1) });
//!     Host::new("demo", r#"{"openapi": "3.1.0"}"#)
//!         .load_balanced("api", app)
//!         .queue("jobs", QueueWorker::new(job))
//!         .run()
//! }
//! ```

use std::{
    collections::BTreeMap,
    convert::Infallible,
    fmt::Write as _,
    io::{self, Write},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Request, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use hyper::body::Incoming;
use serde_json::json;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    health::{Health, State as InitState},
    lb::App,
    logging,
    queue::{local, settings::LocalTiming, QueueWorker},
    shutdown::Shutdown,
};

/// The endpoints of one project, to be served together by [`Host::run`].
pub struct Host {
    project: String,
    openapi: &'static str,
    endpoints: Vec<Pending>,
}

/// Builds one endpoint's router once the host's settings are known.
type Mount = Box<dyn FnOnce(&Setup) -> Result<Mounted, String> + Send>;

struct Pending {
    name: String,
    kind: Kind,
    /// `(METHOD, path)` of each route, for `GET /`.
    routes: Vec<(String, String)>,
    mount: Mount,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    LoadBalanced,
    Queue,
}

/// What every endpoint is mounted with.
struct Setup {
    cfg: Config,
    timing: LocalTiming,
    queue_dir: Option<std::path::PathBuf>,
    webhook_allow: Option<Vec<String>>,
}

struct Mounted {
    router: Router,
    health: Health,
    finish: Finish,
}

enum Finish {
    Sessions(crate::lb::sessions::Sessions),
    Queue(local::RunningQueue),
}

/// The queue API's operations, as `GET /` lists them.
const QUEUE_ROUTES: &[(&str, &str)] = &[
    ("POST", "/run"),
    ("POST", "/runsync"),
    ("GET", "/status/{id}"),
    ("GET", "/stream/{id}"),
    ("POST", "/cancel/{id}"),
    ("POST", "/retry/{id}"),
    ("GET", "/health"),
    ("POST", "/purge-queue"),
];

impl Host {
    /// A host for `project`; `openapi` is the project's document (every endpoint's routes
    /// under their prefixes), served at `/openapi.json` and shown by `/docs`.
    pub fn new(project: &str, openapi: &'static str) -> Host {
        Host {
            project: project.to_string(),
            openapi,
            endpoints: Vec::new(),
        }
    }

    /// Hosts a load-balanced endpoint's routes under `/{name}`.
    pub fn load_balanced<S: Send + Sync + 'static>(mut self, name: &str, app: App<S>) -> Host {
        let routes = app
            .routes
            .iter()
            .map(|r| {
                let method = match &r.kind {
                    crate::lb::Kind::Http(m) => m.to_string(),
                    crate::lb::Kind::WebSocket => "WS".to_string(),
                };
                (method, r.path.clone())
            })
            .collect();
        let prefix = format!("/{name}");
        self.endpoints.push(Pending {
            name: name.to_string(),
            kind: Kind::LoadBalanced,
            routes,
            mount: Box::new(move |setup: &Setup| {
                let mut cfg = setup.cfg.clone();
                cfg.script_name = prefix;
                let mounted = crate::lb::serve::mount(app, &cfg).map_err(|e| e.to_string())?;
                Ok(Mounted {
                    router: mounted.router,
                    health: mounted.health,
                    finish: Finish::Sessions(mounted.sessions),
                })
            }),
        });
        self
    }

    /// Hosts a queue endpoint's local queue API under `/{name}`.
    pub fn queue<S: Send + Sync + 'static>(mut self, name: &str, worker: QueueWorker<S>) -> Host {
        let store_name = format!("{name}.redb");
        self.endpoints.push(Pending {
            name: name.to_string(),
            kind: Kind::Queue,
            routes: QUEUE_ROUTES
                .iter()
                .map(|(m, p)| (m.to_string(), p.to_string()))
                .collect(),
            mount: Box::new(move |setup: &Setup| {
                let mut worker = worker;
                if setup.cfg.execution_timeout.is_some() {
                    worker.execution_timeout = setup.cfg.execution_timeout;
                }
                let health = Health::new();
                let options = local::LocalOptions {
                    health_path: "/ping".to_string(),
                    api_key: setup.cfg.api_key.clone(),
                    health: health.clone(),
                    webhook_allow: setup.webhook_allow.clone(),
                    limits: setup.cfg.conn,
                    persist: setup.queue_dir.as_ref().map(|dir| dir.join(&store_name)),
                };
                let (router, queue) = local::start(worker, setup.timing.clone(), options)?;
                Ok(Mounted {
                    router,
                    health,
                    finish: Finish::Queue(queue),
                })
            }),
        });
        self
    }

    /// The whole life of the dev host: configuration, logging, serving every endpoint until
    /// SIGTERM/SIGINT, then a drain. Exit codes as a worker's (0, 1, 2).
    pub fn run(self) -> ExitCode {
        crate::entry::run_with(move |cfg, shutdown| async move { self.serve(cfg, shutdown).await })
    }

    async fn serve(self, cfg: Config, shutdown: Shutdown) -> io::Result<()> {
        let listener = listener(&cfg).await?;
        let notify = notifier();
        let setup = Setup {
            timing: LocalTiming::from_env()
                .map_err(|e| io::Error::other(format!("bad configuration: {e}")))?,
            queue_dir: cfg.queue_dir.clone(),
            webhook_allow: std::env::var("FLASH_WEBHOOK_ALLOW").ok().map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            }),
            cfg: cfg.clone(),
        };
        if let Some(dir) = &setup.queue_dir {
            std::fs::create_dir_all(dir)?;
        }
        let mut endpoints = BTreeMap::new();
        let mut index = Vec::new();
        let mut finishes = Vec::new();
        for pending in self.endpoints {
            let mounted = (pending.mount)(&setup).map_err(|e| {
                io::Error::other(format!("endpoint `{}` cannot start: {e}", pending.name))
            })?;
            index.push(Listed {
                name: pending.name.clone(),
                kind: pending.kind,
                routes: pending.routes,
                health: mounted.health,
            });
            finishes.push(mounted.finish);
            endpoints.insert(
                pending.name,
                Target {
                    router: mounted.router,
                    strip: pending.kind == Kind::Queue,
                },
            );
        }
        let docs = swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
            uri_prefix: "/docs",
            api_definition: swagger_ui_dist::OpenApiSource::Uri("/openapi.json"),
            title: Some("flashc dev"),
        });
        let host = Arc::new(HostState {
            project: self.project,
            openapi: self.openapi,
            endpoints,
            index,
            docs,
        });
        let service = {
            let host = host.clone();
            tower::service_fn(move |req: Request<Incoming>| dispatch(host.clone(), req))
        };

        // A new build takes over once its load-balanced endpoints are ready. Its queues cannot
        // be: their stores are the old build's until it stops, and their calls wait for them.
        let after_init = std::env::var("FLASH_DEV_ACCEPT").is_ok_and(|v| v == "after-init");
        let awaited: Vec<&Health> = host
            .index
            .iter()
            .filter(|e| !after_init || e.kind == Kind::LoadBalanced)
            .map(|e| &e.health)
            .collect();
        if after_init {
            settled(&awaited).await;
        }
        tracing::info!("serving on http://{}", listener.local_addr()?);
        // The pipe is shared with the server, which says when it stopped accepting.
        let notify = Arc::new(std::sync::Mutex::new(notify));
        let on_stop = notify.clone();
        let server = tokio::spawn(crate::conn::serve_then(
            listener,
            service,
            shutdown.clone(),
            cfg.conn,
            move || tell(&on_stop, "draining\n"),
        ));
        tokio::select! {
            () = settled(&awaited) => {}
            () = shutdown.wait() => {}
        }
        let failed: Vec<String> = host
            .index
            .iter()
            .filter(|e| e.health.state() == InitState::Failed)
            .map(|e| format!("{}: {}", e.name, e.health.reason().unwrap_or("init failed")))
            .collect();
        let line = if failed.is_empty() {
            "ready\n".to_string()
        } else {
            format!("failed {}\n", failed.join("; ").replace('\n', " "))
        };
        tell(&notify, &line);

        shutdown.wait().await;
        let grace = cfg.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        match tokio::time::timeout_at(deadline, server).await {
            Ok(Ok(result)) => result?,
            Ok(Err(e)) => tracing::error!("the server task failed: {e}"),
            Err(_) => tracing::warn!("open requests did not finish within the grace period"),
        }
        for finish in finishes {
            match finish {
                Finish::Sessions(sessions) => {
                    let _ = tokio::time::timeout_at(deadline, sessions.idle()).await;
                }
                Finish::Queue(queue) => queue.finish(deadline, grace).await,
            }
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The inherited socket of `FLASH_DEV_LISTEN_FD`, else `FLASH_HOST:PORT` bound here.
async fn listener(cfg: &Config) -> io::Result<TcpListener> {
    #[cfg(unix)]
    if let Some(fd) = inherited_fd("FLASH_DEV_LISTEN_FD") {
        use std::os::fd::FromRawFd;
        // SAFETY: flashc dev passes a listening socket at this descriptor and nothing else in
        // this process owns it.
        let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
        std.set_nonblocking(true)?;
        return TcpListener::from_std(std);
    }
    TcpListener::bind((cfg.host, cfg.port)).await
}

/// Writes one line to `flashc dev`'s pipe, if there is one.
fn tell(pipe: &std::sync::Mutex<Option<std::fs::File>>, line: &str) {
    if let Some(pipe) = pipe.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        let _ = pipe.write_all(line.as_bytes());
    }
}

/// The pipe of `FLASH_DEV_NOTIFY_FD`, if any.
fn notifier() -> Option<std::fs::File> {
    #[cfg(unix)]
    if let Some(fd) = inherited_fd("FLASH_DEV_NOTIFY_FD") {
        use std::os::fd::FromRawFd;
        // SAFETY: flashc dev passes the write end of a pipe at this descriptor.
        return Some(unsafe { std::fs::File::from_raw_fd(fd) });
    }
    None
}

#[cfg(unix)]
fn inherited_fd(var: &str) -> Option<i32> {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse::<i32>().ok())
        .filter(|fd| *fd > 2)
}

/// Resolves once none of these endpoints' `init` is still running.
async fn settled(healths: &[&Health]) {
    while healths.iter().any(|h| h.state() == InitState::Initializing) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct HostState {
    project: String,
    openapi: &'static str,
    endpoints: BTreeMap<String, Target>,
    index: Vec<Listed>,
    docs: Router,
}

struct Target {
    router: Router,
    /// Queue endpoints serve their API at the root: `/{endpoint}` is taken off the path.
    strip: bool,
}

struct Listed {
    name: String,
    kind: Kind,
    routes: Vec<(String, String)>,
    health: Health,
}

/// Routes a request by its first path segment: an endpoint, or the host's own pages. Logs one
/// line per request.
///
/// This is a plain function over hyper's request rather than an axum router with a fallback:
/// the endpoint's own router does the routing, and a second router in front of it (converting
/// the body, matching, extracting) cost the dev host a fifth of a debug worker's throughput.
async fn dispatch(host: Arc<HostState>, req: Request<Incoming>) -> Result<Response, Infallible> {
    let host = &*host;
    let started = Instant::now();
    let log = tracing::enabled!(target: "flash_dev::request", tracing::Level::INFO);
    let method = req.method().clone();
    // A cheap clone (shared bytes): the path is logged after the request is handed on.
    let uri = req.uri().clone();
    let path = uri.path();
    // Plain byte scanning: the debug build `flashc dev` runs pays for every iterator layer.
    let rest = path.strip_prefix('/').unwrap_or(path);
    let first = match rest.bytes().position(|b| b == b'/') {
        Some(end) => &rest[..end],
        None => rest,
    };
    let response = match host.endpoints.get(first) {
        Some(target) if target.strip => {
            call(&target.router, strip_prefix(req, first.len() + 1)).await
        }
        Some(target) => call(&target.router, req).await,
        None => match path {
            "/" => index(host, req.headers()),
            "/openapi.json" => json_text(StatusCode::OK, host.openapi.to_string()),
            "/docs/" => {
                // Swagger UI's page names its assets relative to the URL it was asked for.
                Response::builder()
                    .status(StatusCode::TEMPORARY_REDIRECT)
                    .header(header::LOCATION, "/docs")
                    .body(Body::empty())
                    .unwrap_or_default()
            }
            _ if path == "/docs" || path.starts_with("/docs/") => call(&host.docs, req).await,
            _ => not_found(host),
        },
    };
    if log {
        // Tenths of a millisecond in integers: float formatting is slow in a debug build.
        let tenths = (started.elapsed().as_micros() + 50) / 100;
        let mut line = String::with_capacity(path.len() + 24);
        let _ = write!(
            line,
            "{method} {path} {} {}.{} ms",
            response.status().as_u16(),
            tenths / 10,
            tenths % 10
        );
        let id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok());
        logging::info_line(id, &line);
    }
    Ok(response)
}

/// One request through an endpoint's (or the docs') router.
async fn call(router: &Router, req: Request<Incoming>) -> Response {
    // A router is always ready (`poll_ready` is a no-op), so it is called without `oneshot`.
    match tower::Service::call(&mut router.clone(), req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
}

/// The request with its first `len` bytes of path (`/{endpoint}`) removed.
fn strip_prefix<B>(mut req: Request<B>, len: usize) -> Request<B> {
    let rest = &req.uri().path()[len..];
    let rest = if rest.is_empty() { "/" } else { rest };
    let pq = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_string(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = pq.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

fn json_text(status: StatusCode, text: String) -> Response {
    let mut res = (status, text).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn not_found(host: &HostState) -> Response {
    let names: Vec<&str> = host.endpoints.keys().map(String::as_str).collect();
    json_text(
        StatusCode::NOT_FOUND,
        json!({
            "detail": "Not Found",
            "hint": format!("this dev server hosts /{} (GET / lists every route)", names.join(", /")),
        })
        .to_string(),
    )
}

/// `GET /`: the endpoints and their routes, as HTML for a browser and JSON otherwise.
fn index(host: &HostState, headers: &HeaderMap) -> Response {
    let endpoints: Vec<serde_json::Value> = host
        .index
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "kind": match e.kind { Kind::Queue => "queue", Kind::LoadBalanced => "load_balanced" },
                "state": match e.health.state() {
                    InitState::Initializing => "initializing",
                    InitState::Ready => "ready",
                    InitState::Failed => "failed",
                },
                "routes": e.routes.iter().map(|(m, p)| json!({
                    "method": m,
                    "path": format!("/{}{p}", e.name),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if !wants_html {
        return json_text(
            StatusCode::OK,
            json!({
                "project": host.project,
                "docs": "/docs",
                "openapi": "/openapi.json",
                "endpoints": endpoints,
            })
            .to_string(),
        );
    }
    let mut html = format!(
        "<!doctype html><meta charset=utf-8><title>{p} · flashc dev</title>\
         <style>body{{font:15px system-ui;margin:2em}}td{{padding:2px 12px}}code{{font-size:14px}}</style>\
         <h1>{p}</h1><p><a href=\"/docs\">API docs</a> · <a href=\"/openapi.json\">openapi.json</a></p>",
        p = escape(&host.project)
    );
    for e in &host.index {
        html.push_str(&format!(
            "<h2>{} <small>({})</small></h2><table>",
            escape(&e.name),
            match e.kind {
                Kind::Queue => "queue",
                Kind::LoadBalanced => "load-balanced",
            }
        ));
        for (method, path) in &e.routes {
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>/{}{}</code></td></tr>",
                escape(method),
                escape(&e.name),
                escape(path)
            ));
        }
        html.push_str("</table>");
    }
    let mut res = (StatusCode::OK, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

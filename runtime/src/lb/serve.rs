//! Building the router once at start, binding the ports, running `init` while `/ping` answers
//! 204, and serving until the shutdown trigger fires (then draining, within a grace period).

use std::{
    collections::BTreeMap,
    io,
    net::SocketAddr,
    panic::AssertUnwindSafe,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    extract::{rejection::RawPathParamsRejection, ws::rejection::WebSocketUpgradeRejection},
    extract::{ws::WebSocketUpgrade, FromRequestParts, OriginalUri, RawPathParams, Request},
    http::{HeaderMap, HeaderValue, StatusCode},
    routing::{MethodFilter, MethodRouter},
    Router,
};
use futures_util::FutureExt;
use tokio::net::TcpListener;

use super::{errors, route, ws, App, Kind, RouteSpec, Shared};
use crate::route_contract::{self, RouteShape};
use crate::{config::Config, handler::Handler, health::Health, shutdown::Shutdown};

/// The bound sockets of a worker: the main port and, when it differs, the health port.
pub struct Listeners {
    pub main: TcpListener,
    pub health: Option<TcpListener>,
}

impl Listeners {
    pub fn main_addr(&self) -> io::Result<SocketAddr> {
        self.main.local_addr()
    }

    pub fn health_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.health
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
    }
}

/// Binds `host:PORT` and, when it differs, `host:PORT_HEALTH`.
pub async fn bind(cfg: &Config) -> io::Result<Listeners> {
    let main = TcpListener::bind((cfg.host, cfg.port)).await?;
    let health = if cfg.port_health != cfg.port {
        Some(TcpListener::bind((cfg.host, cfg.port_health)).await?)
    } else {
        None
    };
    Ok(Listeners { main, health })
}

pub(crate) async fn serve_all<S: Send + Sync + 'static>(
    app: App<S>,
    cfg: Config,
    shutdown: Shutdown,
) -> io::Result<()> {
    let listeners = bind(&cfg).await?;
    serve(app, &cfg, listeners, shutdown).await
}

/// Serves `app` on already-bound listeners until `shutdown` fires, then stops accepting, lets
/// in-flight requests finish (at most `FLASH_SHUTDOWN_GRACE_MS`), and returns.
pub async fn serve<S: Send + Sync + 'static>(
    app: App<S>,
    cfg: &Config,
    listeners: Listeners,
    shutdown: Shutdown,
) -> io::Result<()> {
    let Mounted {
        router: main_router,
        health,
        sessions,
    } = mount(app, cfg)?;
    tracing::info!("listening on {}", listeners.main_addr()?);
    let main = serve_one(listeners.main, main_router, &shutdown, cfg.conn);
    let health_server = match listeners.health {
        Some(listener) => {
            tracing::info!("health checks on {}", listener.local_addr()?);
            let router = health_router(&health, cfg, Router::new(), &Known::default())?;
            Some(serve_one(listener, router, &shutdown, cfg.conn))
        }
        None => None,
    };
    let servers = async move {
        match health_server {
            Some(h) => tokio::try_join!(main, h).map(|_| ()),
            None => main.await,
        }?;
        // The HTTP servers have drained; WebSocket sessions still streaming finish too.
        sessions.idle().await;
        Ok::<(), io::Error>(())
    };
    let grace = cfg.shutdown_grace;
    let deadline = async {
        shutdown.wait().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = servers => {
            tracing::info!("stopped");
            result
        }
        () = deadline => {
            tracing::warn!("shutdown grace of {} ms over; exiting with requests in flight", grace.as_millis());
            Ok(())
        }
    }
}

/// One endpoint's router, ready to serve: its routes (under `cfg.script_name`), the OpenAPI
/// document and the health check; its `init` is running in the background.
pub(crate) struct Mounted {
    pub(crate) router: Router,
    pub(crate) health: Health,
    /// WebSocket sessions in flight, which the HTTP server's drain does not see.
    pub(crate) sessions: super::sessions::Sessions,
}

/// Builds `app`'s router and starts its `init`; the caller serves the router. A host of
/// several endpoints (`flashc dev`) mounts each with `SCRIPT_NAME` set to `/{endpoint}`.
pub(crate) fn mount<S: Send + Sync + 'static>(app: App<S>, cfg: &Config) -> io::Result<Mounted> {
    let health = Health::new();
    let shared = Arc::new(Shared {
        state: OnceLock::new(),
        health: health.clone(),
        debug: cfg.debug_errors,
        timeout: cfg.execution_timeout.or(app.execution_timeout),
        body_limit: cfg.body_limit,
        body_read: cfg.conn.body_read,
        sessions: Default::default(),
    });
    let sessions = shared.sessions.clone();
    // A route of the app named /openapi.json wins over the generated document.
    let openapi = app
        .openapi
        .filter(|_| !app.routes.iter().any(|r| r.path == OPENAPI_PATH));
    let known = Known::new(&app.routes, cfg, openapi.is_some());
    let routes = build_routes(app.routes, &shared, &cfg.script_name, openapi, &known)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // The health check answers at the root and under the prefix.
    let router = health_router(&health, cfg, routes, &known)?;
    tokio::spawn(run_init(app.init, shared));
    Ok(Mounted {
        router,
        health,
        sessions,
    })
}

fn serve_one(
    listener: TcpListener,
    router: Router,
    shutdown: &Shutdown,
    limits: crate::conn::ConnLimits,
) -> impl std::future::Future<Output = io::Result<()>> {
    crate::conn::serve(listener, router, shutdown.clone(), limits)
}

async fn run_init<S: Send + Sync + 'static>(init: crate::handler::Init<S>, shared: Arc<Shared<S>>) {
    let result = match std::panic::catch_unwind(AssertUnwindSafe(init)) {
        Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
        Err(p) => Err(p),
    };
    match result {
        Ok(Ok(state)) => {
            let _ = shared.state.set(Arc::new(state));
            shared.health.set_ready();
            tracing::info!("worker ready");
        }
        Ok(Err(reason)) => shared.health.set_failed(reason),
        Err(p) => shared
            .health
            .set_failed(format!("init panicked: {}", errors::panic_message(&*p))),
    }
}

/// The route table as one axum router, each path under `prefix` (`SCRIPT_NAME`); 404 and 405
/// answer JSON. Invalid or conflicting paths are an error at start (axum reports them by
/// panicking, which we turn into an error).
///
/// Routes are registered by their shape (the route contract's [`RouteShape`]): the router sees
/// `/users/{p0}` for both `GET /users/{id}` and `POST /users/{user_id}`, so routes that name a
/// parameter differently never conflict, and each method binds its own names by position.
///
/// The prefix is written into every route rather than applied with `Router::nest`: nesting
/// rewrites each request's URI (an allocation and a re-parse per request), which the dev host,
/// whose endpoints all sit under `/{endpoint}`, paid on every call.
fn build_routes<S: Send + Sync + 'static>(
    specs: Vec<RouteSpec<S>>,
    shared: &Arc<Shared<S>>,
    prefix: &str,
    openapi: Option<&'static str>,
    known: &Known,
) -> Result<Router, String> {
    let known = known.clone();
    let mut by_path: BTreeMap<String, Vec<Entry<S>>> = BTreeMap::new();
    for spec in specs {
        if let Some(problem) = route_contract::path_problems(&spec.path).into_iter().next() {
            return Err(format!("route {}: {problem}", spec.path));
        }
        let shape = RouteShape::of(&spec.path);
        let names = Arc::new(route::RouteNames::of(&spec.kind, &spec.path));
        by_path
            .entry(under(prefix, shape.template()))
            .or_default()
            .push(Entry {
                kind: spec.kind,
                handler: spec.handler,
                timeout: spec.timeout,
                names,
            });
    }
    let shared = shared.clone();
    let openapi_path = under(prefix, OPENAPI_PATH);
    std::panic::catch_unwind(AssertUnwindSafe(move || {
        let mut router = Router::new();
        for (path, entries) in by_path {
            router = router.route(&path, method_router(entries, &shared)?);
        }
        if let Some(doc) = openapi {
            router = router.route(&openapi_path, openapi_route(doc));
            if openapi_path != OPENAPI_PATH {
                // The document is also at the root, where tools look for it first.
                router = router.route(OPENAPI_PATH, openapi_route(doc));
            }
        }
        Ok(router.fallback(known.fallback()))
    }))
    .unwrap_or_else(|p| Err(errors::panic_message(&*p).to_string()))
}

/// Every path the worker answers (route templates under `SCRIPT_NAME`, the OpenAPI document,
/// the health check), for FastAPI's trailing-slash redirect: a request that matches nothing but
/// would match with its trailing slash added or removed gets a 307 to that path (the query
/// kept); anything else is 404 `{"detail": "Not Found"}`.
#[derive(Clone, Default)]
struct Known(Arc<Vec<String>>);

impl Known {
    fn new<S>(routes: &[RouteSpec<S>], cfg: &Config, openapi: bool) -> Known {
        let mut paths: Vec<String> = routes
            .iter()
            .map(|r| under(&cfg.script_name, &r.path))
            .collect();
        if openapi {
            paths.push(OPENAPI_PATH.to_string());
            paths.push(under(&cfg.script_name, OPENAPI_PATH));
        }
        paths.push(cfg.health_path.clone());
        paths.push(under(&cfg.script_name, &cfg.health_path));
        Known(Arc::new(paths))
    }

    fn redirect_target(&self, path: &str) -> Option<String> {
        if path == "/" || path.is_empty() {
            return None;
        }
        let toggled = match path.strip_suffix('/') {
            Some(p) => p.to_string(),
            None => format!("{path}/"),
        };
        self.0
            .iter()
            .any(|t| template_matches(t, &toggled))
            .then_some(toggled)
    }

    fn fallback(
        &self,
    ) -> impl Fn(OriginalUri) -> std::future::Ready<axum::response::Response>
           + Clone
           + Send
           + Sync
           + 'static {
        let known = self.clone();
        move |OriginalUri(uri): OriginalUri| {
            let redirect = known.redirect_target(uri.path()).and_then(|to| {
                let to = match uri.query() {
                    Some(q) => format!("{to}?{q}"),
                    None => to,
                };
                errors::redirect(&to)
            });
            std::future::ready(redirect.unwrap_or_else(errors::not_found))
        }
    }
}

/// Whether `path` matches the route template (`{name}` is one non-empty segment, `{*rest}` the
/// non-empty rest).
fn template_matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                if ts.starts_with("{*") && ts.ends_with('}') {
                    return !ps.is_empty();
                }
                let param = ts.starts_with('{') && ts.ends_with('}');
                if !(param && !ps.is_empty() || ts == ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// One route of a shape: its kind, handler, own time limit, and its own names for the shape's
/// parameters (in path order).
struct Entry<S> {
    kind: Kind,
    handler: Handler<S>,
    timeout: Option<Duration>,
    names: Arc<route::RouteNames>,
}

fn method_router<S: Send + Sync + 'static>(
    entries: Vec<Entry<S>>,
    shared: &Arc<Shared<S>>,
) -> Result<MethodRouter, String> {
    let mut mr = MethodRouter::new();
    let mut allow: Vec<String> = Vec::new();
    // An HTTP GET and a WebSocket route may share a path: one GET handler then sends an upgrade
    // request to the WebSocket route and anything else to the GET route.
    let get_route = entries
        .iter()
        .find(|e| matches!(&e.kind, Kind::Http(m) if m == axum::http::Method::GET))
        .map(Bound::of);
    let ws_route = entries
        .iter()
        .find(|e| matches!(e.kind, Kind::WebSocket))
        .map(Bound::of);
    if let (Some(get), Some(ws)) = (get_route, ws_route) {
        let shared = shared.clone();
        allow.push("GET".to_string());
        mr = mr.on(
            MethodFilter::GET,
            move |params: Result<RawPathParams, RawPathParamsRejection>, req: Request| {
                let (shared, get, ws) = (shared.clone(), get.clone(), ws.clone());
                async move {
                    if wants_websocket(req.headers()) {
                        let (mut parts, _) = req.into_parts();
                        let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &()).await;
                        let path = route::path_args(params, &ws.names);
                        ws::upgrade(shared, ws.handler, ws.timeout, path, upgrade, parts.headers)
                            .await
                    } else {
                        let path = route::path_args(params, &get.names);
                        route::serve_http(shared, get.handler, get.timeout, path, req).await
                    }
                }
            },
        );
    }
    let shared_path = allow.len() == 1;
    for entry in entries {
        let shared = shared.clone();
        let Entry {
            kind,
            handler,
            timeout,
            names,
        } = entry;
        match kind {
            Kind::Http(method) if shared_path && method == axum::http::Method::GET => {}
            Kind::WebSocket if shared_path => {}
            Kind::Http(method) => {
                let filter = MethodFilter::try_from(method.clone())
                    .map_err(|_| format!("unsupported method {method}"))?;
                allow.push(method.to_string());
                mr = mr.on(
                    filter,
                    move |params: Result<RawPathParams, RawPathParamsRejection>, req: Request| {
                        let path = route::path_args(params, &names);
                        route::serve_http(shared, handler, timeout, path, req)
                    },
                );
            }
            Kind::WebSocket => {
                allow.push("GET".to_string());
                mr = mr.on(
                    MethodFilter::GET,
                    move |params: Result<RawPathParams, RawPathParamsRejection>,
                          upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
                          headers: HeaderMap| {
                        let path = route::path_args(params, &names);
                        ws::upgrade(shared, handler, timeout, path, upgrade, headers)
                    },
                );
            }
        }
    }
    if allow.iter().any(|m| m == "GET") {
        allow.push("HEAD".to_string());
    }
    let allow = HeaderValue::from_str(&allow.join(", ")).map_err(|e| e.to_string())?;
    Ok(mr.fallback(move || {
        let allow = allow.clone();
        async move { errors::method_not_allowed(allow) }
    }))
}

/// A route's handler, time limit and parameter names, cloned into the shared GET handler of
/// a path that has both a GET and a WebSocket route.
struct Bound<S> {
    handler: Handler<S>,
    timeout: Option<Duration>,
    names: Arc<route::RouteNames>,
}

impl<S> Clone for Bound<S> {
    fn clone(&self) -> Self {
        Bound {
            handler: self.handler.clone(),
            timeout: self.timeout,
            names: self.names.clone(),
        }
    }
}

impl<S> Bound<S> {
    fn of(entry: &Entry<S>) -> Self {
        Bound {
            handler: entry.handler.clone(),
            timeout: entry.timeout,
            names: entry.names.clone(),
        }
    }
}

const OPENAPI_PATH: &str = "/openapi.json";

/// `GET /openapi.json`: the document as is, JSON; other methods 405.
fn openapi_route(doc: &'static str) -> MethodRouter {
    axum::routing::get(move || async move { errors::json_bytes(StatusCode::OK, doc) })
        .fallback(|| async { errors::method_not_allowed(HeaderValue::from_static("GET, HEAD")) })
}

/// `path` under `prefix` (`SCRIPT_NAME`, normalized to `""` or `/a/b`); the route `/` is the
/// prefix itself, as under `Router::nest`.
fn under(prefix: &str, path: &str) -> String {
    match (prefix, path) {
        ("", _) => path.to_string(),
        (_, "/") => prefix.to_string(),
        _ => format!("{prefix}{path}"),
    }
}

/// An upgrade request: `Connection: upgrade` and `Upgrade: websocket`.
fn wants_websocket(headers: &HeaderMap) -> bool {
    let has = |name: axum::http::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(axum::http::header::CONNECTION, "upgrade") && has(axum::http::header::UPGRADE, "websocket")
}

fn health_router(health: &Health, cfg: &Config, base: Router, known: &Known) -> io::Result<Router> {
    let known = known.clone();
    let mut paths = vec![cfg.health_path.clone()];
    if !cfg.script_name.is_empty() {
        paths.push(format!("{}{}", cfg.script_name, cfg.health_path));
    }
    std::panic::catch_unwind(AssertUnwindSafe(move || {
        let mut router = base;
        for path in paths {
            router = router.merge(health.router::<()>(&path));
        }
        router.fallback(known.fallback())
    }))
    .map_err(|p| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            errors::panic_message(&*p).to_string(),
        )
    })
}

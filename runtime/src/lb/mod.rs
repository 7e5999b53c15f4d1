//! Load-balanced serving: a route table of method + path template → [`Handler`], served over
//! HTTP/1.1 with axum, plus WebSocket routes for streaming handlers.
//!
//! Generated code builds an [`App`] and hands it to [`run`]:
//!
//! ```no_run
//! use flash_runtime::{bind, blocking, handler::{handler, Reply}, lb::App};
//!
//! fn get_user(user_id: i64, verbose: Option<bool>) -> Result<serde_json::Value, std::io::Error> {
//!     Ok(serde_json::json!({ "id": user_id, "verbose": verbose }))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let app = App::stateless()
//!         .openapi(r#"{"openapi": "3.1.0"}"#)
//!         .get("/users/{user_id}", handler(|_state, mut call| async move {
//!             let (user_id, verbose) = bind!(call, path user_id, verbose)?;
//!             Reply::result(blocking(move || get_user(user_id, verbose)).await?)
//!         }));
//!     flash_runtime::lb::run(app)
//! }
//! ```

mod errors;
mod route;
pub(crate) mod serve;
pub(crate) mod sessions;
mod ws;

use std::{future::Future, sync::Arc, time::Duration};

pub use axum::http::Method;

pub use self::serve::{bind, serve, Listeners};
use crate::handler::{Handler, Init};

/// The routes of one load-balanced endpoint and its `init` hook.
pub struct App<S> {
    pub(crate) init: Init<S>,
    pub(crate) routes: Vec<RouteSpec<S>>,
    pub(crate) execution_timeout: Option<Duration>,
    pub(crate) openapi: Option<&'static str>,
}

pub(crate) enum Kind {
    Http(Method),
    WebSocket,
}

pub(crate) struct RouteSpec<S> {
    pub(crate) kind: Kind,
    pub(crate) path: String,
    pub(crate) handler: Handler<S>,
    /// This route's own time limit, in place of the endpoint's.
    pub(crate) timeout: Option<Duration>,
}

/// Options of one route, given with it (`App::post_with`): the route's own time limit, in
/// place of the endpoint's `execution_timeout` (flash.yaml's per-route `timeout`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteOptions {
    timeout: Option<Duration>,
}

impl RouteOptions {
    pub fn new() -> Self {
        RouteOptions::default()
    }

    /// A call of the route running longer than `limit` is answered 504 (a WebSocket stream
    /// ends with an error frame).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }
}

impl App<()> {
    /// An endpoint without an `init` hook: ready as soon as it listens.
    pub fn stateless() -> App<()> {
        App::new(|| async { Ok(()) })
    }
}

impl<S: Send + Sync + 'static> App<S> {
    /// An app whose `init` hook produces the state every handler receives, as
    /// [`crate::queue::QueueWorker::with_state`] is for a queue worker (the same as
    /// [`App::new`]).
    pub fn with_state<F, Fut>(init: F) -> App<S>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<S, String>> + Send + 'static,
    {
        App::new(init)
    }

    /// An endpoint whose `init` hook produces the state every handler receives. `/ping` answers
    /// 204 while it runs, 200 after, 503 if it returns `Err` (the reason is logged).
    pub fn new<F, Fut>(init: F) -> App<S>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<S, String>> + Send + 'static,
    {
        App {
            init: Box::new(move || Box::pin(init())),
            routes: Vec::new(),
            execution_timeout: None,
            openapi: None,
        }
    }

    /// Adds `method path` (`/users/{user_id}`: `{name}` segments are path parameters).
    pub fn route(self, method: Method, path: &str, handler: Handler<S>) -> Self {
        self.route_with(method, path, RouteOptions::new(), handler)
    }

    /// [`App::route`] with the route's own options.
    pub fn route_with(
        mut self,
        method: Method,
        path: &str,
        options: RouteOptions,
        handler: Handler<S>,
    ) -> Self {
        self.routes.push(RouteSpec {
            kind: Kind::Http(method),
            path: path.to_string(),
            handler,
            timeout: options.timeout,
        });
        self
    }

    pub fn get_with(self, path: &str, options: RouteOptions, handler: Handler<S>) -> Self {
        self.route_with(Method::GET, path, options, handler)
    }

    pub fn post_with(self, path: &str, options: RouteOptions, handler: Handler<S>) -> Self {
        self.route_with(Method::POST, path, options, handler)
    }

    pub fn put_with(self, path: &str, options: RouteOptions, handler: Handler<S>) -> Self {
        self.route_with(Method::PUT, path, options, handler)
    }

    pub fn patch_with(self, path: &str, options: RouteOptions, handler: Handler<S>) -> Self {
        self.route_with(Method::PATCH, path, options, handler)
    }

    pub fn delete_with(self, path: &str, options: RouteOptions, handler: Handler<S>) -> Self {
        self.route_with(Method::DELETE, path, options, handler)
    }

    pub fn get(self, path: &str, handler: Handler<S>) -> Self {
        self.route(Method::GET, path, handler)
    }

    pub fn post(self, path: &str, handler: Handler<S>) -> Self {
        self.route(Method::POST, path, handler)
    }

    pub fn put(self, path: &str, handler: Handler<S>) -> Self {
        self.route(Method::PUT, path, handler)
    }

    pub fn patch(self, path: &str, handler: Handler<S>) -> Self {
        self.route(Method::PATCH, path, handler)
    }

    pub fn delete(self, path: &str, handler: Handler<S>) -> Self {
        self.route(Method::DELETE, path, handler)
    }

    /// A WebSocket route: the first text frame is the payload (bound like a POST body), the
    /// handler's stream goes out as JSON frames, then a normal close (1000, "done").
    pub fn websocket(self, path: &str, handler: Handler<S>) -> Self {
        self.websocket_with(path, RouteOptions::new(), handler)
    }

    /// [`App::websocket`] with the route's own options.
    pub fn websocket_with(
        mut self,
        path: &str,
        options: RouteOptions,
        handler: Handler<S>,
    ) -> Self {
        self.routes.push(RouteSpec {
            kind: Kind::WebSocket,
            path: path.to_string(),
            handler,
            timeout: options.timeout,
        });
        self
    }

    /// Serves `doc` (the endpoint's OpenAPI document, JSON text) at `GET /openapi.json`, where
    /// the routes are (under `SCRIPT_NAME` when set, and at the root too). A route of the app
    /// that is itself `/openapi.json` wins: the document is then not served.
    pub fn openapi(mut self, doc: &'static str) -> Self {
        self.openapi = Some(doc);
        self
    }

    /// A time limit for the route added last, in place of the endpoint's `execution_timeout`.
    /// Which route it applies to depends on the call before it: give the limit with the route
    /// instead (`RouteOptions::timeout` and the `*_with` methods).
    #[deprecated(
        note = "give the limit with the route: `post_with(path, RouteOptions::new().timeout(limit), handler)`"
    )]
    pub fn timeout(mut self, limit: Duration) -> Self {
        if let Some(route) = self.routes.last_mut() {
            route.timeout = Some(limit);
        }
        self
    }

    /// The endpoint's `execution_timeout`: a call running longer is answered 504.
    /// `FLASH_EXECUTION_TIMEOUT_MS` overrides it. Takes a `Duration` or an `Option` (`None`: no
    /// limit), as [`crate::queue::QueueWorker::execution_timeout`] does.
    pub fn execution_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.execution_timeout = timeout.into();
        self
    }
}

/// The whole life of a load-balanced worker process, for generated `main` functions: the
/// `healthcheck` mode, configuration, logging, the runtime, serving until SIGTERM/SIGINT, and
/// the exit code (0 after a graceful shutdown, 1 if serving failed, 2 on bad configuration).
pub fn run<S: Send + Sync + 'static>(app: App<S>) -> std::process::ExitCode {
    crate::entry::run_with(
        |cfg, shutdown| async move { serve::serve_all(app, cfg, shutdown).await },
    )
}

pub(crate) struct Shared<S> {
    pub(crate) state: std::sync::OnceLock<Arc<S>>,
    pub(crate) health: crate::health::Health,
    pub(crate) debug: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) body_limit: usize,
    /// Longest wait for a whole request body (408 past it).
    pub(crate) body_read: Duration,
    pub(crate) sessions: sessions::Sessions,
}

//! Queue-based endpoints: a worker with one handler that runs jobs.
//!
//! [`run`] picks the mode from the environment: on the platform (`RUNPOD_WEBHOOK_GET_JOB`
//! set) it runs the [`platform`] worker loop; anywhere else it serves the [`local`] queue, a
//! real in-process queue behind the platform's public API, on `$PORT`. Generated code builds a
//! [`QueueWorker`] and calls [`run`] from `main`; nothing else.
//!
//! ```no_run
//! use flash_runtime::{bind, handler::{handler, Reply}, queue::{run, QueueWorker}, Context};
//!
//! struct Model;
//! async fn load() -> Result<Model, String> { Ok(Model) }
//! async fn embed(_model: &Model, ctx: &Context, text: String) -> Vec<f32> {
//!     ctx.progress(serde_json::json!({ "step": "tokenizing" }));
//!     vec![text.len() as f32]
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let job = handler(|state, mut call| async move {
//!         let ctx = call.context();
//!         let (text,) = bind!(call, text)?;
//!         Reply::json(embed(&state, &ctx, text).await)
//!     });
//!     run(QueueWorker::with_state(load, job).max_concurrency(4).retries(1))
//! }
//! ```

pub mod job;
pub mod local;
pub mod platform;
pub mod settings;

use std::{future::Future, net::SocketAddr, process::ExitCode, sync::Arc, time::Duration};

use tokio::net::TcpListener;

use crate::{
    config::Config,
    handler::{Handler, Init},
    health::Health,
    shutdown::Shutdown,
};

/// Everything the runtime needs to know about one queue endpoint.
pub struct QueueWorker<S> {
    pub(crate) handler: Handler<S>,
    /// Builds the shared state once before the first job (load a model once).
    pub(crate) init: Init<S>,
    /// Jobs run at once (the platform's `max_concurrency`); at least 1.
    pub(crate) max_concurrency: usize,
    /// Local mode: how many times a failed job is run again before it is FAILED.
    pub(crate) retries: u32,
    /// Longest a job may run; longer → TIMED_OUT locally, a `TimeoutError` job error on the
    /// platform. `FLASH_EXECUTION_TIMEOUT_MS` overrides it.
    pub(crate) execution_timeout: Option<Duration>,
    /// On the platform, whether a streamed job's final post carries every chunk
    /// (`{"output": [chunks]}`, the SDK's `return_aggregate_stream`) or `{"output": []}` (the
    /// SDK's default). `FLASH_RETURN_AGGREGATE_STREAM=1|0` overrides it.
    pub(crate) return_aggregate_stream: bool,
}

impl QueueWorker<()> {
    /// A worker without shared state.
    pub fn new(handler: Handler<()>) -> Self {
        QueueWorker::with_init(handler, Box::new(|| Box::pin(async { Ok(()) })))
    }

    /// A worker without state, as [`crate::lb::App::stateless`] is an app without state (the
    /// same as [`QueueWorker::new`]).
    pub fn stateless(handler: Handler<()>) -> Self {
        QueueWorker::new(handler)
    }
}

impl<S: Send + Sync + 'static> QueueWorker<S> {
    /// A worker whose `init` runs once before the first job and builds the state every job
    /// receives (load a model once), like [`crate::lb::App::new`]. An `Err` makes `/ping`
    /// answer 503 and the worker takes no jobs.
    pub fn with_state<F, Fut>(init: F, handler: Handler<S>) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<S, String>> + Send + 'static,
    {
        QueueWorker::with_init(handler, Box::new(move || Box::pin(init())))
    }

    /// A worker whose `init` hook builds the state every job receives (load a model once).
    pub fn with_init(handler: Handler<S>, init: Init<S>) -> Self {
        QueueWorker {
            handler,
            init,
            max_concurrency: 1,
            retries: 0,
            execution_timeout: None,
            return_aggregate_stream: false,
        }
    }

    /// On the platform, whether a streamed job's final post carries every chunk
    /// (`{"output": [chunks]}`, the SDK's `return_aggregate_stream`) or `{"output": []}` (the
    /// SDK's default, and this one's). `FLASH_RETURN_AGGREGATE_STREAM=1|0` overrides it.
    pub fn return_aggregate_stream(mut self, on: bool) -> Self {
        self.return_aggregate_stream = on;
        self
    }

    /// Jobs run at once (the platform's `max_concurrency`; default 1); 0 counts as 1.
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    /// Where the worker keeps its own queue (local, Redis): how many times a failed job is run
    /// again before it is FAILED (default 0).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Longest a job may run (a `Duration`, or `None` for no limit, the default); longer →
    /// TIMED_OUT locally, a `TimeoutError` job error on the platform.
    /// `FLASH_EXECUTION_TIMEOUT_MS` overrides it.
    pub fn execution_timeout(mut self, limit: impl Into<Option<Duration>>) -> Self {
        self.execution_timeout = limit.into();
        self
    }

    /// Runs the `init` hook.
    pub(crate) async fn prepare(self) -> Result<Prepared<S>, String> {
        let state = (self.init)()
            .await
            .map_err(|e| format!("init failed: {e}"))?;
        Ok(Prepared {
            handler: self.handler,
            state: Arc::new(state),
            execution_timeout: self.execution_timeout,
            return_aggregate_stream: self.return_aggregate_stream,
        })
    }
}

/// A worker whose `init` has run.
pub(crate) struct Prepared<S> {
    pub handler: Handler<S>,
    pub state: Arc<S>,
    pub execution_timeout: Option<Duration>,
    pub return_aggregate_stream: bool,
}

/// The whole `main` of a queue worker: `healthcheck` mode, configuration, logging, the tokio
/// runtime, then [`serve`] until SIGTERM/SIGINT. Exit 0 after a clean drain, 1 if the worker
/// could not start, 2 on invalid configuration.
pub fn run<S: Send + Sync + 'static>(worker: QueueWorker<S>) -> ExitCode {
    crate::entry::run_with(move |cfg, shutdown| async move {
        serve(worker, cfg, shutdown)
            .await
            .map_err(std::io::Error::other)
    })
}

/// Runs a queue worker in the mode `cfg` selects until `shutdown` fires and everything in flight
/// has been reported: the platform loop when `RUNPOD_WEBHOOK_GET_JOB` is set, else the local
/// queue API on `cfg.host:cfg.port`.
pub async fn serve<S: Send + Sync + 'static>(
    mut worker: QueueWorker<S>,
    cfg: Config,
    shutdown: Shutdown,
) -> Result<(), String> {
    if cfg.execution_timeout.is_some() {
        worker.execution_timeout = cfg.execution_timeout;
    }
    match std::env::var("FLASH_RETURN_AGGREGATE_STREAM")
        .ok()
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => {}
        Some("1" | "true" | "yes" | "on") => worker.return_aggregate_stream = true,
        Some("0" | "false" | "no" | "off") => worker.return_aggregate_stream = false,
        Some(other) => {
            return Err(format!(
                "bad configuration: FLASH_RETURN_AGGREGATE_STREAM={other:?}: expected 1 or 0"
            ))
        }
    }
    match &cfg.platform {
        Some(platform) => {
            let mut timing = settings::PlatformTiming::from_env()
                .map_err(|e| format!("bad configuration: {e}"))?;
            timing.shutdown_grace = cfg.shutdown_grace;
            let health = Health::new();
            let probe = serve_health(&cfg, &health, &shutdown).await;
            let result =
                platform::run_with_health(worker, platform, timing, shutdown, health).await;
            if let Some(probe) = probe {
                probe.abort();
            }
            result
        }
        None => {
            let timing =
                settings::LocalTiming::from_env().map_err(|e| format!("bad configuration: {e}"))?;
            let addr = SocketAddr::new(cfg.host, cfg.port);
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            tracing::info!(%addr, "no platform variables: serving the local queue API");
            let health = Health::new();
            // `PORT_HEALTH` and `HEALTH_CHECK_PATH` hold locally too: the health check is served
            // on the API's port and, when it differs, on its own.
            let probe = if cfg.port_health != cfg.port {
                serve_health(&cfg, &health, &shutdown).await
            } else {
                None
            };
            let shared = shared_store(&cfg, &worker, &timing)?;
            let persist = queue_store(&cfg)?;
            let options = local::LocalOptions {
                persist,
                health_path: cfg.health_path.clone(),
                api_key: cfg.api_key.clone(),
                health,
                limits: cfg.conn,
                webhook_allow: std::env::var("FLASH_WEBHOOK_ALLOW")
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| {
                        v.split(',')
                            .map(|h| h.trim().to_string())
                            .filter(|h| !h.is_empty())
                            .collect()
                    }),
            };
            let result = local::run_on(
                worker,
                timing,
                listener,
                shutdown,
                cfg.shutdown_grace,
                options,
                shared,
            )
            .await;
            if let Some(probe) = probe {
                probe.abort();
            }
            result
        }
    }
}

/// `FLASH_QUEUE_URL`: a queue shared by every replica, on Redis (`redis://` or `rediss://`,
/// credentials in the URL). A worker built without the `redis` feature refuses it (exit 2), as
/// does a URL given together with `FLASH_QUEUE_DIR` (one queue has one store).
fn shared_store<S>(
    cfg: &Config,
    worker: &QueueWorker<S>,
    timing: &settings::LocalTiming,
) -> Result<Option<Arc<dyn local::engine::JobStore>>, String> {
    let Some(url) = std::env::var("FLASH_QUEUE_URL")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    if cfg.queue_dir.is_some() {
        return Err("bad configuration: FLASH_QUEUE_URL and FLASH_QUEUE_DIR are both set: a queue is kept either on Redis or in a local file".to_string());
    }
    #[cfg(feature = "redis")]
    {
        let options = local::redis_store::RedisOptions::from_env(url)
            .map_err(|e| format!("bad configuration: {e}"))?;
        let store = local::redis_store::RedisStore::new(
            &options,
            worker.max_concurrency.max(1),
            worker.retries,
            timing.run_ttl,
            timing.runsync_ttl,
        )
        .map_err(|e| format!("bad configuration: {e}"))?;
        let store = Arc::new(store);
        store.start_background();
        tracing::info!(
            queue = %options.name,
            lease_ms = options.lease.as_millis() as u64,
            "the queue is on Redis (FLASH_QUEUE_URL), shared with every replica"
        );
        Ok(Some(store))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (url, worker, timing);
        Err("bad configuration: FLASH_QUEUE_URL is set, but this worker was built without flash-runtime's redis feature".to_string())
    }
}

/// `FLASH_QUEUE_DIR`: the local queue's store, `<dir>/queue.redb` (the directory is created).
/// A worker built without the `persist` feature never gets here with it set: the configuration
/// refuses it (exit 2), rather than lose the queue a caller expects to be kept.
fn queue_store(cfg: &Config) -> Result<Option<std::path::PathBuf>, String> {
    let Some(dir) = cfg.queue_dir.clone() else {
        return Ok(None);
    };
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "bad configuration: FLASH_QUEUE_DIR={}: cannot create it: {e}",
            dir.display()
        )
    })?;
    Ok(Some(dir.join("queue.redb")))
}

/// On the platform a queue worker needs no HTTP server, but the `healthcheck` mode of the binary
/// (a Dockerfile `HEALTHCHECK`) asks `/ping` on `PORT_HEALTH`; serve it there when the port is
/// free. A port that cannot be bound is logged and skipped: jobs matter more than the probe.
async fn serve_health(
    cfg: &Config,
    health: &Health,
    shutdown: &Shutdown,
) -> Option<tokio::task::JoinHandle<()>> {
    let addr = SocketAddr::new(cfg.host, cfg.port_health);
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            let app: axum::Router = health.router(&cfg.health_path);
            let stop = shutdown.clone();
            let limits = cfg.conn;
            Some(tokio::spawn(async move {
                let _ = crate::conn::serve(listener, app, stop, limits).await;
            }))
        }
        Err(e) => {
            tracing::warn!(%addr, "health probe not served: {e}");
            None
        }
    }
}

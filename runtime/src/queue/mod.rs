//! Queue-based endpoints: a worker with one handler that runs jobs.
//!
//! [`serve`] picks the mode from the environment: on the platform (`RUNPOD_WEBHOOK_GET_JOB`
//! set) it runs the [`platform`] worker loop; anywhere else it serves the [`local`] queue, a
//! real in-process queue behind the platform's public API, on `$PORT`. Generated code builds a
//! [`QueueWorker`] and calls [`serve`]; nothing else.
//!
//! ```no_run
//! use std::sync::Arc;
//! use flash_runtime::handler::{Handler, Reply};
//! use flash_runtime::queue::{serve, QueueWorker};
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let handler: Handler<()> = Arc::new(|_state, call| {
//!         Box::pin(async move { Ok(Reply::Value(serde_json::Value::Object(call.args))) })
//!     });
//!     serve(QueueWorker::new(handler).max_concurrency(4).retries(1)).await
//! }
//! ```

pub mod job;
pub mod local;
pub mod platform;
pub mod settings;

use std::{process::ExitCode, sync::Arc, time::Duration};

use crate::{
    config::Config,
    handler::{Handler, Init},
    shutdown::Shutdown,
};

/// Everything the runtime needs to know about one queue endpoint.
pub struct QueueWorker<S> {
    pub handler: Handler<S>,
    /// Builds the shared state once before the first job (load a model once).
    pub init: Init<S>,
    /// Jobs run at once (the platform's `max_concurrency`); at least 1.
    pub max_concurrency: usize,
    /// Local mode: how many times a failed job is run again before it is FAILED.
    pub retries: u32,
    /// Longest a job may run; longer → TIMED_OUT locally, a `TimeoutError` job error on the
    /// platform. `FLASH_EXECUTION_TIMEOUT_MS` overrides it.
    pub execution_timeout: Option<Duration>,
}

impl QueueWorker<()> {
    /// A worker without shared state.
    pub fn new(handler: Handler<()>) -> Self {
        QueueWorker::with_init(handler, Box::new(|| Box::pin(async { Ok(()) })))
    }
}

impl<S: Send + Sync + 'static> QueueWorker<S> {
    /// A worker whose `init` hook builds the state every job receives (load a model once).
    pub fn with_init(handler: Handler<S>, init: Init<S>) -> Self {
        QueueWorker {
            handler,
            init,
            max_concurrency: 1,
            retries: 0,
            execution_timeout: None,
        }
    }

    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    pub fn execution_timeout(mut self, limit: Option<Duration>) -> Self {
        self.execution_timeout = limit;
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
        })
    }
}

/// A worker whose `init` has run.
pub(crate) struct Prepared<S> {
    pub handler: Handler<S>,
    pub state: Arc<S>,
    pub execution_timeout: Option<Duration>,
}

/// Runs a queue worker until SIGTERM/SIGINT, in the mode the environment selects, and returns
/// the process exit code: 0 after a clean drain, 1 if the worker could not start.
pub async fn serve<S: Send + Sync + 'static>(mut worker: QueueWorker<S>) -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return fail(format!("bad configuration: {e}")),
    };
    crate::logging::init(&config);
    if config.execution_timeout.is_some() {
        worker.execution_timeout = config.execution_timeout;
    }
    let shutdown = Shutdown::on_signals();
    let outcome = match &config.platform {
        Some(platform) => match settings::PlatformTiming::from_env() {
            Ok(timing) => platform::run(worker, platform, timing, shutdown).await,
            Err(e) => Err(format!("bad configuration: {e}")),
        },
        None => match settings::LocalTiming::from_env() {
            Ok(timing) => {
                let addr = std::net::SocketAddr::new(config.host, config.port);
                match tokio::net::TcpListener::bind(addr).await {
                    Ok(listener) => {
                        tracing::info!(%addr, "no platform variables: serving the local queue API");
                        local::run(worker, timing, listener, shutdown, config.shutdown_grace).await
                    }
                    Err(e) => Err(format!("cannot listen on {addr}: {e}")),
                }
            }
            Err(e) => Err(format!("bad configuration: {e}")),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn fail(msg: String) -> ExitCode {
    tracing::error!("{msg}");
    // Also on stderr: logging may not be set up when the configuration itself is wrong.
    eprintln!("flash worker: {msg}");
    ExitCode::FAILURE
}

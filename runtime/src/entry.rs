//! Process-level plumbing shared by every kind of worker `main`: the `healthcheck` argv mode,
//! configuration, logging, the tokio runtime, signals and the exit code.

use std::{future::Future, io, process::ExitCode, time::Duration};

use crate::{config::Config, shutdown::Shutdown};

/// When the binary was run as `<bin> healthcheck`: the check's exit code (0 healthy, 1 not).
pub fn healthcheck_mode() -> Option<ExitCode> {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "healthcheck")
    {
        Some(ExitCode::from(crate::health::healthcheck_exit_code() as u8))
    } else {
        None
    }
}

/// The tokio runtime for `cfg`: `FLASH_WORKER_THREADS` threads, else one per usable core. With
/// one thread (set, or a container limited to one core) it is a single-threaded runtime: measured
/// ~10% fewer instructions per request than a one-worker multi-threaded one, which only adds
/// work-stealing bookkeeping when there is nobody to steal for.
pub fn runtime(cfg: &Config) -> io::Result<tokio::runtime::Runtime> {
    let threads = cfg.worker_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

/// Logs panics through `tracing`, so a panicking handler's message is one log line that carries
/// its request id (the default hook writes unstructured text to stderr).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = panic_text(info.payload());
        match info.location() {
            Some(loc) => tracing::error!("panic at {}:{}: {msg}", loc.file(), loc.line()),
            None => tracing::error!("panic: {msg}"),
        }
    }));
}

pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "panic"
    }
}

/// Runs a worker: `healthcheck` mode, configuration (exit 2 when invalid), logging, the
/// runtime, and `serve` until it returns after SIGTERM/SIGINT (exit 0) or fails (exit 1).
pub fn run_with<F, Fut>(serve: F) -> ExitCode
where
    F: FnOnce(Config, Shutdown) -> Fut,
    Fut: Future<Output = io::Result<()>>,
{
    if let Some(code) = healthcheck_mode() {
        return code;
    }
    let cfg = match Config::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    crate::logging::init(&cfg);
    install_panic_hook();
    let rt = match runtime(&cfg) {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let shutdown = Shutdown::on_signals();
        serve(cfg, shutdown).await
    });
    // Tasks still running (a WebSocket stream past the grace period) must not hold the exit.
    rt.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("worker failed: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Serving HTTP/1 connections with the limits `axum::serve` lacks, so half-sent requests cannot
//! exhaust a worker: a header-read timeout (which is also the keep-alive idle timeout: it runs
//! whenever the connection waits for a request's head), a cap on open connections (past it the
//! worker stops accepting, and the kernel's backlog holds new ones, instead of running out of
//! file descriptors), and graceful shutdown. The body-read timeout is applied where bodies are
//! read (`lb::route`, the local queue API).

use std::{io, sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};

use crate::shutdown::Shutdown;

/// The connection limits (`FLASH_HEADER_READ_TIMEOUT_MS`, `FLASH_BODY_READ_TIMEOUT_MS`,
/// `FLASH_MAX_CONNECTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Longest wait for a request's head (and for the next one on an idle keep-alive connection).
    pub header_read: Duration,
    /// Longest wait for a whole request body (408 past it).
    pub body_read: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read: Duration::from_secs(30),
            body_read: Duration::from_secs(60),
            max_connections: default_max_connections(),
        }
    }
}

/// The soft file-descriptor limit less a reserve for everything else the worker opens (logs,
/// outgoing calls, the model's files), at least 32; 4096 when the limit cannot be read.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        })
        .and_then(|n| n.parse::<usize>().ok());
    match soft {
        Some(n) => n.saturating_sub(n / 4).clamp(32, 65_536),
        None => 4096,
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then lets open requests finish
/// (idle connections close at once) and returns when every connection has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    limits: ConnLimits,
) -> io::Result<()> {
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    let mut warned = false;
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.wait() => break,
        };
        if slots.available_permits() == 0 && !warned {
            warned = true;
            tracing::warn!(
                max,
                "FLASH_MAX_CONNECTIONS reached: new connections wait until one closes"
            );
        }
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: go on shortly.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        // Small request/response exchanges on keep-alive connections stall on Nagle's
        // algorithm meeting delayed ACKs; send every response at once.
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let builder = builder.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                _ = stop.wait() => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    // Every connection task holds a permit: all of them back means all connections closed.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

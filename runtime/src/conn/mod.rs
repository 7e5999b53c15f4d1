//! Serving HTTP/1 connections with the limits `axum::serve` lacks, so half-sent requests cannot
//! exhaust a worker: a header-read timeout (which is also the keep-alive idle timeout: it runs
//! whenever the connection waits for a request's head; kept in [`table`]), a cap on open
//! connections (past it the worker stops accepting, and the kernel's backlog holds new ones,
//! instead of running out of file descriptors), and graceful shutdown. The body-read timeout is
//! applied where bodies are read (`lb::route`, the local queue API).
//!
//! Requests hyper refuses itself, before any route sees them (a malformed request, a head over
//! [`MAX_HEAD`], a URI too long), are answered with hyper's own status (400, 431, 414) but a JSON
//! body like every other error ([`JsonErrors`]).

mod json_errors;
mod table;
mod tracked;

use std::{convert::Infallible, io, pin::Pin, sync::Arc, time::Duration};

use axum::{response::Response, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::Semaphore};

pub use json_errors::JsonErrors;

use crate::shutdown::Shutdown;
use table::{Table, Wake};
use tracked::Tracked;

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

/// The largest request head (request line and headers) read: larger is a 431 with a JSON body.
/// Uvicorn (which serves Flash's Python workers) refuses heads past 16 KB; this is more lenient
/// but keeps one connection's buffer bounded.
pub const MAX_HEAD: usize = 64 * 1024;

/// Serves `router` on `listener` until `shutdown` fires, then lets open requests finish
/// (idle connections close at once) and returns when every connection has closed.
///
/// Boxed and never inlined on purpose: the connection loop (hyper included) is then compiled
/// here, in `flash-runtime`, which generated workspaces build optimized even in debug builds.
/// A small function like this one is otherwise copied into the calling crate with its callees,
/// unoptimized: a debug-built worker paid ~14,000 more instructions per request (callgrind).
#[inline(never)]
pub fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
    limits: ConnLimits,
) -> Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send>> {
    Box::pin(serve_then(listener, router, shutdown, limits, || {}))
}

/// [`serve`] for any service (the dev host serves its own dispatcher, not a router), calling
/// `stopped_accepting` once the listener is closed after the shutdown trigger, before open
/// requests finish (the dev host tells `flashc dev` that from then on only the new build takes
/// connections).
pub async fn serve_then<S>(
    listener: TcpListener,
    service: S,
    shutdown: Shutdown,
    limits: ConnLimits,
    stopped_accepting: impl FnOnce(),
) -> io::Result<()>
where
    S: tower::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let max = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max));
    let mut builder = http1::Builder::new();
    // The header-read timeout is the table's, not hyper's (see `table` for why).
    builder
        .header_read_timeout(None)
        .max_header_size(MAX_HEAD)
        .keep_alive(true);
    let mut warned = false;
    let table = Table::start(limits.header_read);
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
        let registration = table.register();
        let service = Tracked::new(service.clone(), registration.entry().clone());
        let builder = builder.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let conn = builder
                .serve_connection(TokioIo::new(JsonErrors::new(tcp)), service)
                .with_upgrades();
            tokio::pin!(conn);
            let mut signal = registration.signal();
            loop {
                tokio::select! {
                    biased;
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!("connection ended: {e}");
                        }
                        return;
                    }
                    wake = &mut signal => match wake {
                        // Dropping the connection closes it.
                        Wake::Expired => return,
                        // Idle connections close at once, open requests finish first.
                        Wake::Drain => conn.as_mut().graceful_shutdown(),
                    },
                }
            }
        });
    }
    table.drain();
    drop(listener);
    stopped_accepting();
    // Every connection task holds a permit: all of them back means all connections closed.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

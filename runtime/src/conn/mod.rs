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
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};

pub use json_errors::JsonErrors;

use crate::shutdown::Shutdown;
use table::{Registration, Table, Wake};
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

/// Serves `router` on `listener` until `shutdown` fires, then drains: requests in flight
/// finish, and every request that arrives meanwhile (on a new connection or an open one) is
/// answered 503 with a JSON body and `Retry-After`, so its client can retry safely. The
/// listener closes once the worker has been quiet for [`DRAIN_QUIET`] (at most
/// [`DRAIN_ACCEPT_MAX`] after the trigger); then the remaining connections close, and it
/// returns when every connection has closed.
///
/// Why not stop accepting at once: the kernel completes connections before the worker accepts
/// them, and closing the listener resets those, as hyper's graceful shutdown closes a
/// connection whose request it has not read yet; a client that had sent its request cannot
/// tell whether it was done (a `/run` is not idempotent). What remains is a connection the
/// kernel completes in the microseconds between the last accept and the close, after the
/// worker was quiet for [`DRAIN_QUIET`], and a request sent on a keep-alive connection after
/// the same silence, as it is closed: an HTTP/1.1 server cannot rule those out.
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
    Box::pin(serve_ending(
        listener,
        router,
        shutdown,
        limits,
        Ending::Refuse,
        || {},
    ))
}

/// How long the worker must have been quiet (no request served, begun or ended, no connection
/// opened) before a draining server closes its listener.
pub const DRAIN_QUIET: Duration = Duration::from_millis(250);

/// The longest a draining server keeps accepting (to answer 503) when it is never quiet.
pub const DRAIN_ACCEPT_MAX: Duration = Duration::from_secs(5);

/// How a server ends after the shutdown trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Keep accepting and answer every new request 503 until quiet (a worker).
    Refuse,
    /// Stop accepting at once and close idle connections (the dev host: its listener is shared
    /// with the next build, which takes new connections and requests from then on).
    StopAccepting,
}

/// [`serve`] for any service (the dev host serves its own dispatcher, not a router), calling
/// `stopped_accepting` once the listener is closed after the shutdown trigger, before open
/// requests finish (the dev host tells `flashc dev` that from then on only the new build takes
/// connections). It stops accepting at once: the listener is shared with the next build.
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
    serve_ending(
        listener,
        service,
        shutdown,
        limits,
        Ending::StopAccepting,
        stopped_accepting,
    )
    .await
}

/// The connection loop shared by [`serve`] and [`serve_then`].
async fn serve_ending<S>(
    listener: TcpListener,
    service: S,
    shutdown: Shutdown,
    limits: ConnLimits,
    ending: Ending,
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
    let spawn = |tcp: TcpStream, permit| {
        // Small request/response exchanges on keep-alive connections stall on Nagle's
        // algorithm meeting delayed ACKs; send every response at once.
        let _ = tcp.set_nodelay(true);
        let registration = table.register();
        let service = Tracked::new(service.clone(), registration.entry().clone());
        tokio::spawn(connection(
            builder.clone(),
            tcp,
            service,
            registration,
            permit,
            ending,
        ));
    };
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
        spawn(tcp, permit);
    }
    if ending == Ending::Refuse {
        drain_accepting(&listener, &slots, &table, spawn).await;
    }
    table.drain();
    drop(listener);
    stopped_accepting();
    // Every connection task holds a permit: all of them back means all connections closed.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// A worker's drain, while its listener stays open: every request is answered 503 (the
/// table refuses), connections are still accepted, until the worker has been quiet for
/// [`DRAIN_QUIET`] or [`DRAIN_ACCEPT_MAX`] has passed; then the connections the kernel
/// completed meanwhile are accepted too, to be answered as well.
async fn drain_accepting(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    table: &Table,
    spawn: impl Fn(TcpStream, OwnedSemaphorePermit),
) {
    let quiet_ms = DRAIN_QUIET.as_millis() as u64;
    let mut floor = table.refuse();
    let give_up = tokio::time::Instant::now() + DRAIN_ACCEPT_MAX;
    let mut check = tokio::time::interval(Duration::from_millis(10));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let next = async {
            let permit = slots.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        tokio::select! {
            (permit, accepted) = next => {
                if let (Ok(permit), Ok((tcp, _))) = (permit, accepted) {
                    spawn(tcp, permit);
                    floor = table.advance_clock();
                }
            }
            _ = check.tick() => {
                if table.settled(floor, quiet_ms) || tokio::time::Instant::now() >= give_up {
                    break;
                }
            }
        }
    }
    // What the kernel completed since the last accept (not waiting for a free slot: a full
    // worker leaves those to the backlog, as it did while serving).
    loop {
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            break;
        };
        let accepted = std::future::poll_fn(|cx| match listener.poll_accept(cx) {
            std::task::Poll::Pending => std::task::Poll::Ready(None),
            std::task::Poll::Ready(r) => std::task::Poll::Ready(Some(r)),
        })
        .await;
        match accepted {
            Some(Ok((tcp, _))) => spawn(tcp, permit),
            Some(Err(_)) | None => break,
        }
    }
}

/// Serves one connection until it ends, the header-read timeout expires, or the drain closes
/// it (see [`Ending`]).
async fn connection<S>(
    builder: http1::Builder,
    tcp: TcpStream,
    service: Tracked<S>,
    registration: Registration,
    permit: OwnedSemaphorePermit,
    ending: Ending,
) where
    S: tower::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let _permit = permit;
    let conn = builder
        .serve_connection(TokioIo::new(JsonErrors::new(tcp)), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut signal = registration.signal();
    // A draining worker's connection: how long it may still wait for a request (which the
    // table refuses, and hyper then closes the connection).
    let mut linger: Option<Pin<Box<tokio::time::Sleep>>> = None;
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
                Wake::Drain => match ending {
                    // hyper's graceful shutdown would close a new connection before reading
                    // the request its client may have sent already: wait for it a little.
                    Ending::Refuse => linger = Some(Box::pin(tokio::time::sleep(DRAIN_QUIET))),
                    // Idle connections close at once, open requests finish first.
                    Ending::StopAccepting => conn.as_mut().graceful_shutdown(),
                },
            },
            () = async { linger.as_mut().expect("guarded").await }, if linger.is_some() => {
                if !registration.entry().is_busy() {
                    return;
                }
                linger = None;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

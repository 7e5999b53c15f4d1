//! Serving HTTP/1 connections with the limits `axum::serve` lacks, so half-sent requests cannot
//! exhaust a worker: a header-read timeout (which is also the keep-alive idle timeout: it runs
//! whenever the connection waits for a request's head), a cap on open connections (past it the
//! worker stops accepting, and the kernel's backlog holds new ones, instead of running out of
//! file descriptors), and graceful shutdown. The body-read timeout is applied where bodies are
//! read (`lb::route`, the local queue API).
//!
//! Requests hyper refuses itself, before any route sees them (a malformed request, a head over
//! [`MAX_HEAD`], a URI too long), are answered with hyper's own status (400, 431, 414) but a JSON
//! body like every other error: hyper writes those answers with an empty body and no hook to
//! change it, so the connection's writer ([`JsonErrors`]) recognises them and adds the body.

use std::{
    collections::HashMap,
    convert::Infallible,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    task::{ready, Context, Poll, Waker},
    time::Duration,
};

use axum::{response::Response, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
    sync::Semaphore,
};

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
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_header_size(MAX_HEAD)
        .keep_alive(true);
    let mut warned = false;
    let drain = Arc::new(Drain::default());
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
        let service = TowerToHyperService::new(service.clone());
        let builder = builder.clone();
        let draining = Draining::new(&drain);
        tokio::spawn(async move {
            let _permit = permit;
            let conn = builder
                .serve_connection(TokioIo::new(JsonErrors::new(tcp)), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                biased;
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                () = draining => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drain.start();
    drop(listener);
    stopped_accepting();
    // Every connection task holds a permit: all of them back means all connections closed.
    let _ = slots.acquire_many(max as u32).await;
    Ok(())
}

/// Tells the open connections to finish once the server stops accepting.
///
/// Each connection checks a flag whenever it is polled anyway, and leaves its waker here once;
/// starting the drain sets the flag and wakes them all. Waiting on the [`Shutdown`] watch in
/// every connection instead locked a mutex on every poll: ~460 instructions per request of a
/// keep-alive connection (callgrind), for an event that happens once.
#[derive(Default)]
struct Drain {
    started: AtomicBool,
    wakers: Mutex<HashMap<u64, Waker>>,
    next_key: AtomicU64,
}

impl Drain {
    fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers.into_values() {
            waker.wake();
        }
    }
}

/// Resolves once the [`Drain`] has started.
struct Draining {
    drain: Arc<Drain>,
    /// Where this connection's waker is kept, once it has been left there.
    key: Option<u64>,
    waker: Option<Waker>,
}

impl Draining {
    fn new(drain: &Arc<Drain>) -> Draining {
        Draining {
            drain: drain.clone(),
            key: None,
            waker: None,
        }
    }
}

impl std::future::Future for Draining {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.drain.started.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let key = match self.key {
            Some(key) => key,
            None => self.drain.next_key.fetch_add(1, Ordering::Relaxed),
        };
        self.key = Some(key);
        self.drain
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, cx.waker().clone());
        self.waker = Some(cx.waker().clone());
        // The drain may have started between the first check and leaving the waker.
        if self.drain.started.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Draining {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.drain
                .wakers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }
}

/// A connection's transport that gives hyper's automatic error answers a JSON body.
///
/// hyper answers a request it cannot parse itself, with exactly this head and no body:
/// `HTTP/1.1 <400|414|431> <reason>\r\nconnection: close\r\ncontent-length: 0\r\n…\r\n\r\n`,
/// then closes the connection. A write of precisely such a head (nothing a route answers looks
/// like it: routes' errors carry JSON bodies, and hyper puts `connection: close` first only
/// here) is replaced by the same head with `content-type: application/json`, the body's length,
/// and the body. Every other write passes through untouched.
pub struct JsonErrors<T> {
    inner: T,
    /// A replacement being written: the bytes, how many are written, and the length of the
    /// write it replaces (reported as written once the replacement is).
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<T> JsonErrors<T> {
    pub fn new(inner: T) -> Self {
        JsonErrors {
            inner,
            pending: None,
        }
    }
}

/// The JSON answer for hyper's automatic error head `head`, if that is what it is.
fn json_error_answer(head: &[u8]) -> Option<Vec<u8>> {
    const MARK: &[u8] = b"\r\nconnection: close\r\ncontent-length: 0\r\n";
    if head.len() < 16 || !head.starts_with(b"HTTP/1.") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let message = match &head[9..13] {
        b"400 " => "malformed request: the request line or a header is not valid HTTP/1.1",
        b"431 " => "request header too large: the request line and headers exceed 64 KB",
        b"414 " => "request URI too long",
        _ => return None,
    };
    let line_end = head.windows(2).position(|w| w == b"\r\n")?;
    if !head[line_end..].starts_with(MARK)
        || head.windows(4).position(|w| w == b"\r\n\r\n") != Some(head.len() - 4)
    {
        return None;
    }
    let body = serde_json::to_vec(&serde_json::json!({ "error": message })).ok()?;
    let mut out = Vec::with_capacity(head.len() + body.len() + 64);
    out.extend_from_slice(&head[..line_end]);
    out.extend_from_slice(
        b"\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ",
    );
    out.extend_from_slice(body.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&head[line_end + MARK.len()..]);
    out.extend_from_slice(&body);
    Some(out)
}

impl<T: AsyncWrite + Unpin> JsonErrors<T> {
    /// Writes the pending replacement; `Ready(Ok(n))` with the replaced write's length once done.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        while let Some((bytes, written, _)) = &mut self.pending {
            if *written == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        let replaced = self.pending.take().map_or(0, |(_, _, len)| len);
        Poll::Ready(Ok(replaced))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            // Cheap test first: every response starts with "HTTP/1.1 ", only errors with '4'.
            if buf.len() > 9 && buf[9] == b'4' {
                if let Some(answer) = json_error_answer(buf) {
                    this.pending = Some((answer, 0, buf.len()));
                }
            }
            if this.pending.is_none() {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
        }
        this.poll_pending(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            // hyper's automatic answer is a head alone: one non-empty buffer.
            let mut filled = bufs.iter().filter(|b| !b.is_empty());
            if let (Some(first), None) = (filled.next(), filled.next()) {
                if first.len() > 9 && first[9] == b'4' {
                    if let Some(answer) = json_error_answer(first) {
                        this.pending = Some((answer, 0, first.len()));
                    }
                }
            }
            if this.pending.is_none() {
                return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
            }
        }
        this.poll_pending(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_some() {
            ready!(self.poll_pending(cx))?;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_some() {
            ready!(self.poll_pending(cx))?;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_error_heads_are_rewritten() {
        let head = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 03:29:45 GMT\r\n\r\n";
        let out = String::from_utf8(json_error_answer(head).unwrap()).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(h.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: "), "{h}");
        assert!(
            h.ends_with("\r\ndate: Wed, 02 Dec 2026 03:29:45 GMT"),
            "{h}"
        );
        assert!(
            h.contains(&format!("content-length: {}", body.len())),
            "{h}"
        );
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].as_str().unwrap().contains("header"));
        // A route's own answers are left alone.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_answer(own).is_none());
        let with_body =
            b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n{}";
        assert!(json_error_answer(with_body).is_none());
        let other = b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert!(json_error_answer(other).is_none());
    }
}

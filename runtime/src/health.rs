//! Readiness as the platform reads it from `GET /ping`, and the `healthcheck` mode of a worker
//! binary that a Dockerfile `HEALTHCHECK` runs (no curl in the image).
//!
//! Platform contract: 204 while the `init` hook runs, 200 `{"status":"healthy"}` after it,
//! anything else (we answer 503) when init failed; the reason goes to the log, not the body.
//!
//! Kubernetes probes cannot use that path: a kubelet counts every status from 200 to 399 as
//! success, so Runpod's 204 ("still loading") would read as ready. Beside the health path (and
//! wherever it is served) are two probes for orchestrators that read only the status code:
//! `{health path}/ready` (readiness: 200 once `init` has finished, 503 before and after a
//! failed `init`) and `{health path}/live` (liveness: 200 while the process serves, 503 once
//! `init` has failed, so the kubelet restarts the container). Deriving them from the health
//! path keeps one setting (`HEALTH_CHECK_PATH`) and never adds a path twice where the health
//! path is served under several prefixes.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::Response,
    routing::get,
    Router,
};

/// Where a worker is in its life, as `/ping` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Initializing,
    Ready,
    Failed,
}

const INITIALIZING: u8 = 0;
const READY: u8 = 1;
const FAILED: u8 = 2;

/// Shared readiness. Cloning shares the state; reading it is one atomic load (hot path of `/ping`).
#[derive(Clone, Default)]
pub struct Health(Arc<Inner>);

#[derive(Default)]
struct Inner {
    state: AtomicU8,
    reason: OnceLock<String>,
}

impl Health {
    /// Starts as [`State::Initializing`].
    pub fn new() -> Health {
        Health::default()
    }

    pub fn state(&self) -> State {
        match self.0.state.load(Ordering::Acquire) {
            INITIALIZING => State::Initializing,
            READY => State::Ready,
            _ => State::Failed,
        }
    }

    pub fn set_ready(&self) {
        self.0.state.store(READY, Ordering::Release);
    }

    /// Marks the worker unhealthy for good and logs why (the body of `/ping` does not say).
    pub fn set_failed(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::error!("init failed: {reason}");
        let _ = self.0.reason.set(reason);
        self.0.state.store(FAILED, Ordering::Release);
    }

    /// Why init failed, once it has.
    pub fn reason(&self) -> Option<&str> {
        self.0.reason.get().map(String::as_str)
    }

    /// The `/ping` answer for the current state.
    pub fn ping_response(&self) -> Response {
        let (status, body): (StatusCode, &'static str) = match self.state() {
            State::Initializing => (StatusCode::NO_CONTENT, ""),
            State::Ready => (StatusCode::OK, r#"{"status":"healthy"}"#),
            State::Failed => (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unhealthy","error":"initialization failed"}"#,
            ),
        };
        let mut res = Response::new(Body::from(body));
        *res.status_mut() = status;
        if status != StatusCode::NO_CONTENT {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        res
    }

    /// The readiness probe's answer: 200 only once `init` has finished.
    pub fn readiness_response(&self) -> Response {
        match self.state() {
            State::Ready => json_response(StatusCode::OK, r#"{"status":"ready"}"#),
            State::Initializing => json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"initializing"}"#,
            ),
            State::Failed => json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unhealthy","error":"initialization failed"}"#,
            ),
        }
    }

    /// The liveness probe's answer: 200 while the process serves, 503 once `init` has failed
    /// (the worker can never become ready: restarting it is the only way forward).
    pub fn liveness_response(&self) -> Response {
        match self.state() {
            State::Failed => json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"unhealthy","error":"initialization failed"}"#,
            ),
            State::Initializing | State::Ready => {
                json_response(StatusCode::OK, r#"{"status":"alive"}"#)
            }
        }
    }

    /// A router answering `GET path` (normally `/ping`) from this state, and the two probes
    /// beside it ([`readiness_path`], [`liveness_path`]); merge it where needed.
    pub fn router<S: Clone + Send + Sync + 'static>(&self, path: &str) -> Router<S> {
        let answer = |respond: fn(&Health) -> Response| {
            let health = self.clone();
            // Every answer is JSON, a wrong method on a health path included.
            get(move || {
                let health = health.clone();
                async move { respond(&health) }
            })
            .fallback(|| async { method_not_allowed() })
        };
        Router::new()
            .route(path, answer(Health::ping_response))
            .route(&readiness_path(path), answer(Health::readiness_response))
            .route(&liveness_path(path), answer(Health::liveness_response))
    }
}

/// The readiness probe's path for a health path: `/ping` → `/ping/ready`.
pub fn readiness_path(health_path: &str) -> String {
    format!("{}/ready", health_path.trim_end_matches('/'))
}

/// The liveness probe's path for a health path: `/ping` → `/ping/live`.
pub fn liveness_path(health_path: &str) -> String {
    format!("{}/live", health_path.trim_end_matches('/'))
}

fn json_response(status: StatusCode, body: &'static str) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn method_not_allowed() -> Response {
    let mut res = Response::new(Body::from(r#"{"detail":"Method Not Allowed"}"#));
    *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    res
}

/// The `healthcheck` mode: true when `GET path` on `127.0.0.1:port` answers 200 within `timeout`.
/// A raw HTTP/1.1 request over TCP, so the worker image needs no HTTP client.
pub fn check(port: u16, path: &str, timeout: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    // The status line fits well within the first read; read a little more in case it is split.
    let mut buf = [0u8; 64];
    let mut len = 0;
    while len < 12 {
        match stream.read(&mut buf[len..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    status_is_200(&buf[..len])
}

fn status_is_200(head: &[u8]) -> bool {
    // "HTTP/1.1 200 OK": the code is the second token of the status line.
    let text = String::from_utf8_lossy(head);
    let line = text.split("\r\n").next().unwrap_or("");
    let mut parts = line.split_whitespace();
    matches!((parts.next(), parts.next()), (Some(v), Some("200")) if v.starts_with("HTTP/1."))
}

/// Runs the `healthcheck` mode from the environment's configuration and returns the exit code:
/// 0 when healthy, 1 otherwise (including a configuration error).
pub fn healthcheck_exit_code() -> i32 {
    match crate::config::Config::from_env() {
        Ok(cfg) => {
            if check(cfg.port_health, &cfg.health_path, Duration::from_secs(3)) {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("healthcheck: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let h = Health::new();
        assert_eq!(h.state(), State::Initializing);
        assert_eq!(h.ping_response().status(), StatusCode::NO_CONTENT);
        assert_eq!(
            h.readiness_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(h.liveness_response().status(), StatusCode::OK);
        h.set_ready();
        assert_eq!(h.ping_response().status(), StatusCode::OK);
        assert_eq!(h.readiness_response().status(), StatusCode::OK);
        assert_eq!(h.liveness_response().status(), StatusCode::OK);
        h.set_failed("boom");
        assert_eq!(h.state(), State::Failed);
        assert_eq!(h.reason(), Some("boom"));
        assert_eq!(h.ping_response().status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            h.readiness_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            h.liveness_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn probe_paths() {
        assert_eq!(readiness_path("/ping"), "/ping/ready");
        assert_eq!(liveness_path("/org/ping"), "/org/ping/live");
        assert_eq!(readiness_path("/"), "/ready");
    }

    #[test]
    fn status_line() {
        assert!(status_is_200(b"HTTP/1.1 200 OK\r\n"));
        assert!(status_is_200(b"HTTP/1.0 200\r\n"));
        assert!(!status_is_200(b"HTTP/1.1 204 No Content\r\n"));
        assert!(!status_is_200(b"HTTP/1.1 2000 x"));
        assert!(!status_is_200(b""));
    }
}

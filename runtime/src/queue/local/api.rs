//! The platform's public queue API (`/run`, `/runsync`, `/status`, ...) over the local store,
//! with the platform's response shapes, body limits and a JSON body on every error.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    extract::{rejection::PathRejection, Path, Query, Request, State},
    http::{
        header::{AUTHORIZATION, CONTENT_LENGTH},
        uri::PathAndQuery,
        HeaderMap, StatusCode, Uri,
    },
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};

use super::{
    engine::{JobStore, Unavailable},
    store::{NewJob, RetryError},
};
use crate::{
    health::{Health, State as InitState},
    queue::job,
};

/// `/run` accepts up to 10 MB, `/runsync` up to 20 MB, like the platform.
pub const RUN_LIMIT: usize = 10 * 1024 * 1024;
pub const RUNSYNC_LIMIT: usize = 20 * 1024 * 1024;
/// The platform caps `?wait=` at 5 minutes.
const MAX_WAIT: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn JobStore>,
    /// Where the `init` hook is: `/ping` reports it; submissions queue while it runs and are
    /// refused once it failed.
    pub health: Health,
    pub runsync_wait: Duration,
    /// Where the health check is served (`HEALTH_CHECK_PATH`, default `/ping`).
    pub health_path: String,
    /// When set (`RUNPOD_API_KEY`), every call but the health check needs
    /// `Authorization: Bearer <key>` (or the raw key, as the platform accepts), else 401.
    pub api_key: Option<String>,
    /// `FLASH_WEBHOOK_ALLOW`: when set, the hosts (`host` or `host:port`) a webhook may call.
    pub webhook_allow: Option<Vec<String>>,
    /// Longest wait for a whole request body (408 past it).
    pub body_read: Duration,
    /// A persisted queue's store while it opens: calls wait for it (503 if it cannot be).
    pub opening: Option<super::Opening>,
}

/// The operations of the queue API: the first segment of every route but the health check.
const OPS: &[&str] = &[
    "run",
    "runsync",
    "status",
    "stream",
    "cancel",
    "retry",
    "health",
    "purge-queue",
];

/// The API is served at the root (`/run`), and under `/{endpoint_id}/…` and
/// `/v2/{endpoint_id}/…` for any endpoint id, so Runpod's own clients, which build
/// `{RUNPOD_ENDPOINT_BASE_URL}/{endpoint_id}/{op}`, work unchanged with
/// `RUNPOD_ENDPOINT_BASE_URL=http://host:port` or `http://host:port/v2`.
pub fn router(app: App) -> Router {
    let gate = Gate {
        health_path: app.health_path.clone(),
        api_key: app.api_key.clone(),
        opening: app.opening.clone(),
    };
    let health_path = app.health_path.clone();
    let mut routes = Router::new()
        .route("/run", post(run))
        .route("/runsync", post(runsync))
        .route("/status/{id}", get(status).post(status))
        .route("/stream/{id}", get(stream).post(stream))
        .route("/cancel/{id}", post(cancel))
        .route("/retry/{id}", post(retry))
        .route("/health", get(health))
        .route("/purge-queue", post(purge));
    // The health path may not clash with the API's own routes.
    let health_path = if OPS.contains(&health_path.trim_start_matches('/')) || health_path == "/" {
        tracing::warn!(path = %health_path, "HEALTH_CHECK_PATH clashes with the queue API: serving the health check at /ping");
        "/ping".to_string()
    } else {
        health_path
    };
    routes = routes.route(
        &health_path,
        get(ping).fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        }),
    );
    let inner = routes
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this route",
            )
        })
        .with_state(app);
    // Rewrite and authorize before routing: a layer on a router that has only a fallback runs
    // ahead of the inner router's matching.
    Router::new()
        .fallback_service(inner)
        .layer(middleware::from_fn_with_state(Arc::new(gate), gate_request))
}

struct Gate {
    health_path: String,
    api_key: Option<String>,
    opening: Option<super::Opening>,
}

async fn gate_request(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    if let Some(path) = strip_endpoint_prefix(req.uri().path()) {
        let pq = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        if let Ok(pq) = PathAndQuery::try_from(pq) {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    if let Some(key) = &gate.api_key {
        if req.uri().path() != gate.health_path && !authorized(req.headers(), key) {
            return error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong API key: send Authorization: Bearer <RUNPOD_API_KEY>",
            );
        }
    }
    if let Some(opening) = &gate.opening {
        // Jobs of the previous run must be in the store before anything reads or adds one. The
        // opening itself gives up after its own limit; the margin here only guards against a
        // task that never reports.
        if req.uri().path() != gate.health_path {
            let wait = tokio::time::timeout(Duration::from_secs(40), opening.wait()).await;
            let failure = match wait {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(_) => Some("the queue store did not open in time".to_string()),
            };
            if let Some(why) = failure {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("the queue is unavailable: {why}"),
                );
            }
        }
    }
    next.run(req).await
}

/// `/v2/{endpoint_id}/{op}…` and `/{endpoint_id}/{op}…` → `/{op}…`; `None` when the path
/// already starts with an operation (or is no API call at all).
pub fn strip_endpoint_prefix(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('/')?;
    let mut segs = rest.split('/');
    let first = segs.next()?;
    if OPS.contains(&first) {
        return None;
    }
    let second = segs.next();
    let third = segs.next();
    // `/v2/{id}/{op}`, unless `v2` is itself the endpoint id (`/v2/{op}/…`).
    if first == "v2" && third.is_some_and(|op| OPS.contains(&op)) {
        let skip = 1 + first.len() + 1 + second.unwrap_or("").len();
        return Some(&path[skip..]);
    }
    if second.is_some_and(|op| OPS.contains(&op)) && !first.is_empty() {
        return Some(&path[1 + first.len()..]);
    }
    None
}

/// `Bearer <key>` (what Runpod's clients send) or the raw key (what the platform also takes).
fn authorized(headers: &HeaderMap, key: &str) -> bool {
    let Some(given) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let given = given.trim();
    let given = given
        .strip_prefix("Bearer ")
        .or_else(|| given.strip_prefix("bearer "))
        .unwrap_or(given)
        .trim();
    // Compare without an early exit on the first differing byte.
    given.len() == key.len()
        && given
            .bytes()
            .zip(key.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A job body the store rendered as JSON text.
fn json_text(body: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// The `{id}` of a job route; a malformed one (bad percent-encoding) is a JSON 400 too.
fn job_id(id: Result<Path<String>, PathRejection>) -> Result<String, Box<Response>> {
    id.map(|Path(id)| id).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("malformed job id in the path: {}", e.body_text()),
        ))
    })
}

/// The store cannot be reached (a shared queue whose server is down): nothing was done.
fn unavailable(e: Unavailable) -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the queue is unavailable: {e}"),
    )
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no job {id} (unknown, or its result has expired)"),
    )
}

async fn run(State(app): State<App>, headers: HeaderMap, body: Body) -> Response {
    let new = match accept(&app, &headers, body, RUN_LIMIT, "/run", false).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    match app.store.submit(new).await {
        Ok(id) => Json(json!({ "id": id, "status": "IN_QUEUE" })).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn runsync(
    State(app): State<App>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let wait = match query.get("wait") {
        None => app.runsync_wait,
        Some(w) => match w.trim().parse::<u64>() {
            Ok(ms) => Duration::from_millis(ms).min(MAX_WAIT),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("?wait= must be milliseconds, got {w:?}"),
                )
            }
        },
    };
    let new = match accept(&app, &headers, body, RUNSYNC_LIMIT, "/runsync", true).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let id = match app.store.submit_and_wait(new, wait).await {
        Ok((_, Some(body))) => return json_text(body),
        Ok((id, None)) => id,
        Err(e) => return unavailable(e),
    };
    // Still running (or the waiter was dropped): answer the current, not-final state and let
    // the caller poll `/status`, as the platform does.
    match app.store.status(&id).await {
        Ok(Some(body)) => json_text(body),
        Ok(None) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

/// Reads, limits and checks a submission.
async fn accept(
    app: &App,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    route: &str,
    sync: bool,
) -> Result<NewJob, Response> {
    if app.health.state() == InitState::Failed {
        let why = app.health.reason().unwrap_or("unknown reason");
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the worker failed to initialize: {why}"),
        ));
    }
    let read = read_limited(headers, body, limit, route);
    let Ok(bytes) = tokio::time::timeout(app.body_read, read).await else {
        return Err(error(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body was not received within {} ms",
                app.body_read.as_millis()
            ),
        ));
    };
    let bytes = bytes?;
    let new = parse_submission(&bytes, sync).map_err(|msg| error(StatusCode::BAD_REQUEST, msg))?;
    if let (Some(url), Some(allow)) = (&new.webhook, &app.webhook_allow) {
        if !webhook_allowed(url, allow) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "the webhook's host is not in FLASH_WEBHOOK_ALLOW",
            ));
        }
    }
    Ok(new)
}

async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    route: &str,
) -> Result<Bytes, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body exceeds the {} MB limit of {route}",
                limit / (1024 * 1024)
            ),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            too_large()
        } else {
            error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        }
    })
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Whether a webhook URL's host (or `host:port`) is in the allow-list.
pub fn webhook_allowed(url: &str, allow: &[String]) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    let with_port = url.port_or_known_default().map(|p| format!("{host}:{p}"));
    allow.iter().any(|a| {
        a.eq_ignore_ascii_case(host)
            || with_port
                .as_deref()
                .is_some_and(|hp| a.eq_ignore_ascii_case(hp))
    })
}

/// `{"input": {...}, "webhook"?: url, "policy"?: {"executionTimeout"?: ms, "ttl"?: ms}}`.
pub fn parse_submission(bytes: &[u8], sync: bool) -> Result<NewJob, String> {
    let body: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Value::Object(mut body) = body else {
        return Err("the body must be a JSON object: {\"input\": {...}}".to_string());
    };
    let args = match body.remove("input") {
        Some(Value::Object(map)) if !map.is_empty() => map,
        other => return Err(job::input_args(other.as_ref()).err().unwrap_or_default()),
    };
    let webhook = match body.get("webhook") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url.clone())
        }
        Some(other) => {
            return Err(format!(
                "\"webhook\" must be an http(s) URL string, got {other}"
            ))
        }
    };
    let (timeout, ttl) = match body.get("policy") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(policy)) => (
            policy_ms(policy, "executionTimeout")?,
            policy_ms(policy, "ttl")?,
        ),
        Some(other) => return Err(format!("\"policy\" must be an object, got {other}")),
    };
    Ok(NewJob {
        args: args.into(),
        webhook,
        timeout,
        ttl,
        sync,
    })
}

fn policy_ms(
    policy: &serde_json::Map<String, Value>,
    key: &str,
) -> Result<Option<Duration>, String> {
    match policy.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().filter(|ms| *ms > 0) {
            Some(ms) => Ok(Some(Duration::from_millis(ms))),
            None => Err(format!(
                "\"policy.{key}\" must be a positive number of milliseconds, got {v}"
            )),
        },
    }
}

async fn status(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    let id = match job_id(id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match app.store.status(&id).await {
        Ok(Some(body)) => json_text(body),
        Ok(None) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

async fn stream(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    let id = match job_id(id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match app.store.take_stream(&id).await {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

async fn cancel(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    let id = match job_id(id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match app.store.cancel(&id).await {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => not_found(&id),
        Err(e) => unavailable(e),
    }
}

async fn retry(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Response {
    let id = match job_id(id) {
        Ok(id) => id,
        Err(r) => return *r,
    };
    match app.store.retry(&id).await {
        Ok(body) => Json(body).into_response(),
        Err(RetryError::NotFound) => not_found(&id),
        Err(RetryError::Unavailable(why)) => unavailable(Unavailable(why)),
        Err(RetryError::NotRetryable(s)) => error(
            StatusCode::BAD_REQUEST,
            format!(
                "only FAILED or TIMED_OUT jobs can be retried; job {id} is {}",
                s.as_str()
            ),
        ),
    }
}

async fn health(State(app): State<App>) -> Response {
    match app.store.health().await {
        Ok(body) => Json(body).into_response(),
        Err(e) => unavailable(e),
    }
}

async fn purge(State(app): State<App>) -> Response {
    match app.store.purge().await {
        Ok(removed) => Json(json!({ "removed": removed, "status": "completed" })).into_response(),
        Err(e) => unavailable(e),
    }
}

/// 204 while `init` runs, 200 once ready, 503 if it failed: the platform's health contract.
/// A shared store that cannot be reached makes the worker unhealthy (503) until it can.
async fn ping(State(app): State<App>) -> Response {
    if let Some(why) = app.store.unavailable() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unhealthy", "error": format!("the queue is unavailable: {why}") })),
        )
            .into_response();
    }
    app.health.ping_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions() {
        let ok = parse_submission(
            br#"{"input":{"a":1},"webhook":"http://127.0.0.1:9/h","policy":{"executionTimeout":500}}"#,
            false,
        )
        .unwrap();
        assert_eq!(ok.args["a"], 1);
        assert_eq!(ok.webhook.as_deref(), Some("http://127.0.0.1:9/h"));
        assert_eq!(ok.timeout, Some(Duration::from_millis(500)));
        let err = |b: &[u8]| parse_submission(b, false).err().unwrap();
        assert!(err(br#"{"input":{}}"#).contains("\"input\" is empty"));
        assert!(err(br#"{}"#).contains("missing \"input\""));
        assert!(err(br#"{"input":"x"}"#).contains("got a string"));
        assert!(err(br#"[1]"#).contains("JSON object"));
        assert!(err(b"{").contains("not valid JSON"));
        assert!(err(br#"{"input":{"a":1},"webhook":"ftp://x"}"#).contains("webhook"));
        assert!(
            err(br#"{"input":{"a":1},"policy":{"executionTimeout":-1}}"#)
                .contains("executionTimeout")
        );
    }

    #[test]
    fn endpoint_prefixes() {
        let s = strip_endpoint_prefix;
        assert_eq!(s("/run"), None);
        assert_eq!(s("/status/abc"), None);
        assert_eq!(s("/ep1/run"), Some("/run"));
        assert_eq!(s("/ep1/status/abc"), Some("/status/abc"));
        assert_eq!(s("/v2/ep1/runsync"), Some("/runsync"));
        assert_eq!(s("/v2/ep1/purge-queue"), Some("/purge-queue"));
        assert_eq!(s("/v2/ep1/stream/j-1"), Some("/stream/j-1"));
        // `v2` as the endpoint id itself.
        assert_eq!(s("/v2/status/abc"), Some("/status/abc"));
        assert_eq!(s("/v2/health"), Some("/health"));
        assert_eq!(s("/ping"), None);
        assert_eq!(s("/ep1/nothing"), None);
        assert_eq!(s("/"), None);
        assert_eq!(s("//run"), None);
    }

    #[test]
    fn webhook_allow_list() {
        let allow = vec![
            "hooks.example.com".to_string(),
            "127.0.0.1:9000".to_string(),
        ];
        assert!(webhook_allowed(
            "https://hooks.example.com/x?token=1",
            &allow
        ));
        assert!(webhook_allowed("http://127.0.0.1:9000/h", &allow));
        assert!(!webhook_allowed("http://127.0.0.1:9001/h", &allow));
        assert!(!webhook_allowed("http://169.254.169.254/latest", &allow));
        assert!(!webhook_allowed("not a url", &allow));
    }

    #[test]
    fn api_keys() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(AUTHORIZATION, v.parse().unwrap());
            m
        };
        assert!(authorized(&h("Bearer k-1"), "k-1"));
        assert!(authorized(&h("k-1"), "k-1"));
        assert!(!authorized(&h("Bearer k-2"), "k-1"));
        assert!(!authorized(&h("Bearer k-1x"), "k-1"));
        assert!(!authorized(&HeaderMap::new(), "k-1"));
    }
}

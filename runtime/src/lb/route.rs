//! One HTTP request to one route: collect its arguments, call the handler safely (panics,
//! timeouts), and turn the outcome into a response.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{rejection::RawPathParamsRejection, RawPathParams, Request},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::Response,
};
use futures_util::{FutureExt, StreamExt};
use serde_json::{json, Value};

use super::{errors, Shared};
use crate::bind::field;
use crate::handler::{Args, Call, Handler, HandlerError, Problem, Progress, Reply, Source};
use crate::logging;

/// What a request learns of the route it matched, made once when the route is registered.
pub(crate) struct RouteNames {
    /// The route's own names of its path parameters (`user_id`), by position.
    pub(crate) params: Vec<String>,
    /// How a report of its handler holding a worker thread names it ("the handler of GET
    /// /users/{id}"): written once here, not formatted per request.
    pub(crate) handler: String,
}

impl RouteNames {
    pub(crate) fn of(kind: &super::Kind, path: &str) -> RouteNames {
        RouteNames {
            params: crate::route_contract::params(path)
                .into_iter()
                .map(str::to_string)
                .collect(),
            handler: match kind {
                super::Kind::Http(method) => format!("the handler of {method} {path}"),
                super::Kind::WebSocket => format!("the WebSocket handler of {path}"),
            },
        }
    }
}

/// A request's path parameters as one route names them. The router matched the route's shape,
/// whose parameters are named by position (`/users/{p0}`); the route's own names for them are
/// in `route`, in the same order.
pub(crate) struct PathArgs {
    params: Result<RawPathParams, RawPathParamsRejection>,
    route: Arc<RouteNames>,
}

pub(crate) fn path_args(
    params: Result<RawPathParams, RawPathParamsRejection>,
    route: &Arc<RouteNames>,
) -> PathArgs {
    PathArgs {
        params,
        route: route.clone(),
    }
}

impl PathArgs {
    /// Inserts each parameter under the route's own name; path parameters win over same-named
    /// body or query fields, as the route template says. `Err` when a segment is not valid
    /// percent-encoded UTF-8.
    pub(crate) fn insert_into(&self, args: &mut Args) -> Result<(), MalformedPath> {
        let Ok(params) = &self.params else {
            return Err(MalformedPath);
        };
        for ((_, value), name) in params.iter().zip(self.route.params.iter()) {
            args.insert(name.clone(), Value::String(value.to_string()));
        }
        Ok(())
    }

    /// How a report names the route's handler.
    pub(crate) fn handler_name(&self) -> &str {
        &self.route.handler
    }
}

/// A path segment that is not valid percent-encoded UTF-8.
pub(crate) struct MalformedPath;

impl MalformedPath {
    pub(crate) fn response(self) -> Response {
        errors::error(StatusCode::BAD_REQUEST, "malformed path parameter")
    }
}

/// Serves one request to a plain HTTP route.
pub(crate) async fn serve_http<S: Send + Sync + 'static>(
    shared: Arc<Shared<S>>,
    handler: Handler<S>,
    timeout: Option<Duration>,
    path: PathArgs,
    req: Request,
) -> Response {
    let request_id = request_id(req.headers());
    let Some(state) = shared.state.get().cloned() else {
        return not_ready(&shared);
    };
    if path.params.is_err() {
        return errors::error(StatusCode::BAD_REQUEST, "malformed path parameter");
    }
    let (args, source, unread) = if req.method() == Method::GET || req.method() == Method::HEAD {
        let args = match req.uri().query() {
            Some(query) => Args::from_pairs(
                form_urlencoded::parse(query.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            ),
            None => Args::new(),
        };
        (args, Source::Query, None)
    } else {
        let body = match read_body(req, shared.body_limit, shared.body_read).await {
            Ok(b) => b,
            Err(res) => return res,
        };
        let index = (body.len() <= field::INDEXED_BODY)
            .then(|| field::BodyIndex::of(&body))
            .flatten();
        if let Some(index) = index {
            // Its fields are bound straight from the bytes (see `Call::args`).
            (Args::new(), Source::Body, Some((body, index)))
        } else {
            match body_args(&body) {
                Ok(args) => (args, Source::Body, None),
                Err(problem) => return errors::invalid(&[*problem]),
            }
        }
    };
    let mut args = args;
    if let Err(malformed) = path.insert_into(&mut args) {
        return malformed.response();
    }
    let mut call = Call::new(args, source, request_id.clone(), Progress::default());
    if let Some((body, index)) = unread {
        call = call.with_json_body(body, index);
    }
    let outcome = logging::with_request_id(
        &request_id,
        call_handler(
            &handler,
            state,
            call,
            timeout.or(shared.timeout),
            path.handler_name(),
        ),
    )
    .await;
    let mut res = match outcome {
        // The common case logs nothing, so it skips setting the request id for the log.
        Outcome::Done(Ok(Reply::Value(v))) => json_response(&v, shared.debug),
        Outcome::Done(Ok(Reply::Json(j))) => errors::json_bytes(StatusCode::OK, j.into_string()),
        other => logging::sync_with_request_id(&request_id, || respond(other, shared.debug)),
    };
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(request_id)) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}

/// What became of one handler call.
pub(crate) enum Outcome {
    Done(Result<Reply, HandlerError>),
    Panicked(String),
    TimedOut,
}

/// Calls a handler so that neither a panic nor an endless call can take the worker down.
pub(crate) async fn call_handler<S>(
    handler: &Handler<S>,
    state: Arc<S>,
    call: Call,
    timeout: Option<Duration>,
    what: &str,
) -> Outcome {
    // The closure itself may panic before producing its future (e.g. while binding).
    let fut = match std::panic::catch_unwind(AssertUnwindSafe(|| handler(state, call))) {
        Ok(fut) => fut,
        Err(p) => return panicked(&*p),
    };
    let fut = crate::watch::Watched::new(fut, |held| crate::watch::report(what, held));
    let guarded = AssertUnwindSafe(fut).catch_unwind();
    let result = match timeout {
        None => guarded.await,
        Some(t) => match tokio::time::timeout(t, guarded).await {
            Ok(r) => r,
            Err(_) => {
                tracing::error!("execution timeout of {} ms exceeded", t.as_millis());
                return Outcome::TimedOut;
            }
        },
    };
    match result {
        Ok(r) => Outcome::Done(r),
        Err(p) => panicked(&*p),
    }
}

fn panicked(payload: &(dyn std::any::Any + Send)) -> Outcome {
    let msg = errors::panic_message(payload).to_string();
    tracing::error!("handler panicked: {msg}");
    Outcome::Panicked(msg)
}

const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-request-id");

fn json_response(value: &Value, debug: bool) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => errors::json_bytes(StatusCode::OK, bytes),
        Err(e) => errors::from_handler(&HandlerError::internal(e), debug),
    }
}

fn respond(outcome: Outcome, debug: bool) -> Response {
    match outcome {
        Outcome::Done(Ok(Reply::Value(v))) => json_response(&v, debug),
        // Serialized by the handler already: the text is the body, no copy.
        Outcome::Done(Ok(Reply::Json(j))) => errors::json_bytes(StatusCode::OK, j.into_string()),
        Outcome::Done(Ok(Reply::Stream(items))) => ndjson(items, debug),
        Outcome::Done(Err(e)) => errors::from_handler(&e, debug),
        Outcome::Panicked(msg) => errors::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            errors::internal_message(&msg, debug),
        ),
        Outcome::TimedOut => {
            errors::error(StatusCode::GATEWAY_TIMEOUT, "execution timeout exceeded")
        }
    }
}

/// A streaming handler over plain HTTP: one JSON value per line; an error ends the stream with
/// an `{"error": ...}` line (the status is already sent by then).
fn ndjson(items: crate::handler::ItemStream, debug: bool) -> Response {
    let lines = items.scan(false, move |failed, item| {
        if *failed {
            return futures_util::future::ready(None);
        }
        let text = match item {
            Ok(json) => json.into_string(),
            Err(e) => {
                *failed = true;
                let msg = match &e {
                    HandlerError::Internal(m) => errors::internal_message(m, debug).to_string(),
                    other => other.to_string(),
                };
                json!({ "error": msg }).to_string()
            }
        };
        let mut line = text.into_bytes();
        line.push(b'\n');
        futures_util::future::ready(Some(Ok::<_, std::convert::Infallible>(Bytes::from(line))))
    });
    let mut res = Response::new(Body::from_stream(lines));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    res
}

pub(crate) fn not_ready<S>(shared: &Shared<S>) -> Response {
    let msg = match shared.health.state() {
        crate::health::State::Failed => "worker failed to initialize",
        _ => "worker is initializing",
    };
    errors::error(StatusCode::SERVICE_UNAVAILABLE, msg)
}

/// Reads the whole body, answering 413 past `limit` (by its declared length before reading).
async fn read_body(req: Request, limit: usize, within: Duration) -> Result<Bytes, Response> {
    // hyper already parsed Content-Length into the body's size hint.
    let declared = http_body::Body::size_hint(req.body()).exact();
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(errors::too_large(limit));
    }
    let read = axum::body::to_bytes(req.into_body(), limit);
    tokio::pin!(read);
    // A small body usually arrives with the head: when the first poll has it all, the
    // body-read timer (an entry in tokio's timer wheel per request) is never armed.
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(read.as_mut(), cx))
    })
    .await;
    let read = match first {
        std::task::Poll::Ready(read) => Ok(read),
        std::task::Poll::Pending => tokio::time::timeout(within, read).await,
    };
    let Ok(read) = read else {
        return Err(errors::error(
            StatusCode::REQUEST_TIMEOUT,
            &format!(
                "the request body was not received within {} ms",
                within.as_millis()
            ),
        ));
    };
    read.map_err(|e| {
        if is_length_limit(&e) {
            errors::too_large(limit)
        } else {
            errors::error(StatusCode::BAD_REQUEST, "could not read the request body")
        }
    })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// A body's top-level fields as arguments; an empty body is no arguments. Problems are
/// FastAPI's: a syntax error is `json_invalid` at `["body", <character position>]` with
/// `"input": {}` and the parser's message in `ctx.error`; a body that is no object is
/// `model_attributes_type` at `["body"]`.
pub(crate) fn body_args(body: &[u8]) -> Result<Args, Box<Problem>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Args::new());
    }
    // Straight into the arguments; only a body that is no object is read again, as a value.
    let e = match serde_json::from_slice::<Args>(body) {
        Ok(args) => return Ok(args),
        Err(e) => e,
    };
    let parsed = match e.classify() {
        serde_json::error::Category::Data => serde_json::from_slice::<Value>(body),
        _ => Err(e),
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(Args::from(map)),
        Ok(other) => Err(Box::new(Problem {
            kind: "model_attributes_type".into(),
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object to extract fields from".into(),
            input: other,
            ctx: None,
        })),
        Err(e) => Err(Box::new(Problem {
            kind: "json_invalid".into(),
            loc: vec!["body".into(), json_error_position(body, &e).into()],
            msg: "JSON decode error".into(),
            input: json!({}),
            ctx: Some(json!({ "error": json_error_text(&e) })),
        })),
    }
}

/// The character offset of a JSON syntax error (Python's `JSONDecodeError.pos`).
fn json_error_position(body: &[u8], e: &serde_json::Error) -> usize {
    let (line, column) = (e.line().max(1), e.column());
    let mut start = 0;
    for _ in 1..line {
        match body[start..].iter().position(|b| *b == b'\n') {
            Some(i) => start += i + 1,
            None => break,
        }
    }
    // serde_json's column is 1-based and points at the offending byte (0 at end of input).
    let byte = (start + column.saturating_sub(1)).min(body.len());
    String::from_utf8_lossy(&body[..byte]).chars().count()
}

/// serde_json's message without its ` at line L column C` suffix.
fn json_error_text(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// The caller's `X-Request-Id` when it is a sane token, else a fresh process-unique id.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    if let Some(id) = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
    {
        return id.to_string();
    }
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // Distinct across restarts of the worker without a random-number dependency.
    let prefix = *PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
            .unwrap_or(0);
        nanos ^ std::process::id().rotate_left(16)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    // By hand: `format!` with padding costs more than the rest of a trivial request's routing.
    let mut id = String::with_capacity(21);
    push_hex(&mut id, u64::from(prefix), 8);
    id.push('-');
    push_hex(&mut id, n, 12);
    id
}

/// Appends the low `digits` hex digits of `value`, zero-padded.
fn push_hex(out: &mut String, value: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(char::from(HEX[((value >> (i * 4)) & 0xf) as usize]));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tracing::field::{Field, Visit};
    use tracing_subscriber::{layer::Context, prelude::*, Layer};

    use super::*;

    /// Every event's message, collected.
    struct Collect(Arc<Mutex<Vec<String>>>);

    struct Message(String);

    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Collect {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }

    /// Issue 19 item 19: an `async fn` handler that holds its worker thread (CPU work, blocking
    /// I/O) is reported, naming the route and what to do; one that awaits is not.
    #[tokio::test(flavor = "current_thread")]
    async fn a_handler_holding_its_thread_is_reported() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Collect(seen.clone()));
        let _guard = tracing::subscriber::set_default(subscriber);
        let busy: Handler<()> = crate::handler::handler(|_state: Arc<()>, _call| async {
            std::thread::sleep(crate::watch::HELD_TOO_LONG + Duration::from_millis(100));
            Ok(Reply::Value(json!(1)))
        });
        let call = || Call::new(Args::new(), Source::Body, "r1".into(), Progress::default());
        // The route's name as the router gives it: its template, written once at registration.
        let route = RouteNames::of(&super::super::Kind::Http(Method::POST), "/crunch/{id}");
        assert_eq!(route.params, ["id"]);
        assert_eq!(route.handler, "the handler of POST /crunch/{id}");
        let outcome = call_handler(&busy, Arc::new(()), call(), None, &route.handler).await;
        assert!(matches!(outcome, Outcome::Done(Ok(_))));
        let reports: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.contains("held a worker thread"))
            .cloned()
            .collect();
        assert_eq!(reports.len(), 1, "{:?}", seen.lock().unwrap());
        assert!(
            reports[0].starts_with("the handler of POST /crunch/{id} held")
                && reports[0].contains("blocking"),
            "{}",
            reports[0]
        );
        let patient: Handler<()> = crate::handler::handler(|_state: Arc<()>, _call| async {
            tokio::time::sleep(crate::watch::HELD_TOO_LONG * 2).await;
            Ok(Reply::Value(json!(2)))
        });
        seen.lock().unwrap().clear();
        let _ = call_handler(&patient, Arc::new(()), call(), None, "GET /wait").await;
        assert!(
            !seen
                .lock()
                .unwrap()
                .iter()
                .any(|m| m.contains("held a worker thread")),
            "{:?}",
            seen.lock().unwrap()
        );
    }
}

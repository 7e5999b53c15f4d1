//! The contract between generated code and the runtime: what a handler is, what it returns,
//! and how it fails. Both serving modes (load-balanced HTTP and queue jobs) call handlers
//! only through these types, so a user's function is wrapped once and served either way.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;

pub use crate::args::Args;

/// Where an argument came from; it becomes the first element of a 422 problem's `loc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Path,
    Query,
    Body,
    Input,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Path => "path",
            Source::Query => "query",
            Source::Body => "body",
            Source::Input => "input",
        }
    }
}

/// One problem with one argument, in the shape of a 422 body's `detail` entries, as FastAPI
/// writes them: `{"type", "loc", "msg", "input", "ctx"?}` with pydantic's type codes
/// (`missing`, `int_parsing`, `bool_parsing`, `json_invalid`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: the source (`path`, `query`, `body`, `input`), the argument's name, then the
    /// keys and indexes inside it; `["body", 12]` is the position of a JSON syntax error.
    pub loc: Vec<Value>,
    pub msg: String,
    /// The value that did not fit (`null` for a missing argument).
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl Problem {
    /// A problem without `input` or `ctx`.
    pub fn new(loc: Vec<Value>, msg: impl Into<String>, kind: impl Into<String>) -> Problem {
        Problem {
            kind: kind.into(),
            loc,
            msg: msg.into(),
            input: Value::Null,
            ctx: None,
        }
    }

    /// `loc` as text: `body.user.0.age`.
    pub fn loc_text(&self) -> String {
        let parts: Vec<String> = self
            .loc
            .iter()
            .map(|l| match l {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        parts.join(".")
    }
}

/// How a handler call failed. The serving layer maps each kind to a status code
/// (400, 422, 500, or the one a [`HandlerError::Status`] names) or to a failed job; the
/// variants are the whole contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// The caller sent something the handler rejects (HTTP 400, `{"error": msg}`).
    Client(String),
    /// An answer with its own status and `{"error": msg}`, what FastAPI's
    /// `HTTPException(status_code, detail)` gives a Flash handler: 404 for an unknown id, 409, 429,
    /// 503 and so on. Build it with [`HandlerError::status`] (or [`HandlerError::not_found`]),
    /// which keeps the status between 400 and 599. The message is always shown, 5xx included:
    /// the handler chose it for the caller. In a queue job it fails the job with the message;
    /// a 5xx is retried like any server error, a 4xx is not.
    Status(u16, String),
    /// The arguments did not bind: every problem at once (HTTP 422, `{"detail": [...]}`).
    Invalid(Vec<Problem>),
    /// Anything else (HTTP 500). The message is shown only when debug output is enabled.
    Internal(String),
}

impl HandlerError {
    pub fn client(msg: impl Into<String>) -> Self {
        HandlerError::Client(msg.into())
    }

    pub fn internal(err: impl fmt::Display) -> Self {
        HandlerError::Internal(err.to_string())
    }

    /// An error answered with `status` and `{"error": msg}`. A status outside 400–599 is not an
    /// error status: it becomes 500 (and the message says which status was asked for).
    pub fn status(status: u16, msg: impl Into<String>) -> Self {
        let msg = msg.into();
        if (400..=599).contains(&status) {
            HandlerError::Status(status, msg)
        } else {
            HandlerError::Internal(format!(
                "HandlerError::status({status}): not an error status (400–599): {msg}"
            ))
        }
    }

    /// 404 with `{"error": msg}`: what was asked for does not exist.
    pub fn not_found(msg: impl Into<String>) -> Self {
        HandlerError::status(404, msg)
    }

    /// Whether the worker failed (`Internal`, a 5xx `Status`) rather than the caller's request
    /// (`Client`, `Invalid`, a 4xx `Status`): what decides a WebSocket close code, a job's
    /// `error_type`, and whether a failed job is retried.
    pub fn is_server_error(&self) -> bool {
        match self {
            HandlerError::Internal(_) => true,
            HandlerError::Status(status, _) => *status >= 500,
            HandlerError::Client(_) | HandlerError::Invalid(_) => false,
        }
    }

    /// Any error a user's function returns, as the runtime reports it: a [`HandlerError`]
    /// (boxed or not) keeps its kind (`Client` 400, `Status`, `Invalid` 422); anything else is `Internal`
    /// with the error's text followed by its `source()` chain (`"outer: cause: root cause"`).
    ///
    /// Works for `String`, `&str`, `std::io::Error`, any `std::error::Error + Send + Sync`, boxed
    /// errors and `anyhow::Error` (which converts into a box). An `anyhow::Error` wrapping a
    /// `HandlerError` loses its kind in that conversion; `HandlerError::from_ref(&*err)` keeps it.
    pub fn from_error<E>(err: E) -> HandlerError
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match err.into().downcast::<HandlerError>() {
            Ok(handler_error) => *handler_error,
            Err(other) => HandlerError::from_ref(&*other),
        }
    }

    /// Like [`HandlerError::from_error`] for an error behind a reference: a `HandlerError` is
    /// cloned, anything else becomes `Internal` with its text and `source()` chain. For an
    /// `anyhow::Error` `e`, `HandlerError::from_ref(&*e)` finds a `HandlerError` inside it.
    pub fn from_ref(err: &(dyn std::error::Error + 'static)) -> HandlerError {
        if let Some(handler_error) = err.downcast_ref::<HandlerError>() {
            return handler_error.clone();
        }
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            // Some errors already repeat their cause in their own text; say it once.
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        HandlerError::Internal(text)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Client(m) | HandlerError::Status(_, m) | HandlerError::Internal(m) => {
                f.write_str(m)
            }
            HandlerError::Invalid(problems) => {
                let parts: Vec<String> = problems
                    .iter()
                    // Mid-sentence, pydantic's "Field required" reads "field required".
                    .map(|p| {
                        let mut chars = p.msg.chars();
                        let msg: String = match chars.next() {
                            Some(first) => first.to_lowercase().chain(chars).collect(),
                            None => String::new(),
                        };
                        format!("{}: {msg}", p.loc_text())
                    })
                    .collect();
                write!(f, "invalid arguments: {}", parts.join("; "))
            }
        }
    }
}

impl std::error::Error for HandlerError {}

/// A stream of JSON items produced by a streaming handler (WebSocket frames, NDJSON lines, queue
/// stream chunks), each serialized once, as it is produced: frames and lines are written as they
/// are, so a struct's fields keep their order (as axum and FastAPI keep them).
pub type ItemStream = Pin<Box<dyn Stream<Item = Result<Json, HandlerError>> + Send>>;

/// What a handler produced: one JSON value (as a [`Value`], or already serialized), or a stream
/// of them.
pub enum Reply {
    Value(Value),
    /// A value serialized straight to JSON text by [`Reply::json`] / [`Reply::result`]: an HTTP
    /// response writes it as it is (no `Value` in between, and a struct's fields keep their
    /// order); the queue parses it where it needs a `Value`.
    Json(Json),
    Stream(ItemStream),
}

/// JSON text produced by serializing a value (so always valid JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(String);

impl Json {
    /// Serializes `value` (a failure is the value's `Serialize` refusing, e.g. a map with
    /// non-string keys).
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Json, serde_json::Error> {
        serde_json::to_string(value).map(Json)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text, for a response body (no copy).
    pub fn into_string(self) -> String {
        self.0
    }

    /// The value parsed back, where a [`Value`] is needed (queue outputs and stream chunks).
    /// Objects' keys then follow `Value`'s order (sorted).
    pub fn to_value(&self) -> Value {
        // Written by serde_json from a value, so it parses.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// The boxed future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Reply, HandlerError>> + Send>>;

/// Sends progress updates of a running queue job (`{"status": "IN_PROGRESS", "output": ...}`).
/// Load-balanced calls have none; sending is then a no-op.
#[derive(Clone, Default)]
pub struct Progress {
    sink: Option<tokio::sync::mpsc::UnboundedSender<Value>>,
}

impl Progress {
    pub fn new(sink: tokio::sync::mpsc::UnboundedSender<Value>) -> Self {
        Progress { sink: Some(sink) }
    }

    /// Reports progress; never fails the handler (a closed sink means nobody listens any more).
    pub fn update(&self, value: Value) {
        if let Some(sink) = &self.sink {
            let _ = sink.send(value);
        }
    }
}

/// What a handler may know about the call it serves: the request id (HTTP) or job id (queue),
/// and a way to report progress of a queue job. Cheap to clone; `Send + Sync + 'static`, so it
/// can move into [`crate::blocking`] code or spawned tasks.
#[derive(Clone, Default)]
pub struct Context {
    request_id: Arc<str>,
    progress: Progress,
}

impl Context {
    pub fn new(request_id: &str, progress: Progress) -> Context {
        Context {
            request_id: request_id.into(),
            progress,
        }
    }

    /// The request id (HTTP, also in the `x-request-id` response header) or job id (queue).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Reports progress of a queue job (`{"status": "IN_PROGRESS", "output": value}`); a no-op
    /// for HTTP calls. Never fails the handler: a value that does not serialize is logged and
    /// dropped.
    pub fn progress(&self, value: impl Serialize) {
        if self.progress.sink.is_none() {
            return;
        }
        match serde_json::to_value(value) {
            Ok(v) => self.progress.update(v),
            Err(e) => tracing::warn!("progress update dropped: it does not serialize: {e}"),
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("request_id", &self.request_id)
            .field("progress", &self.progress.sink.is_some())
            .finish()
    }
}

/// The whole job input (queue endpoints) or the whole JSON body (or, on a `GET` route, the whole
/// query) as one typed value, for a handler that takes its request as one thing rather than
/// field by field:
///
/// ```
/// use flash_runtime::Input;
/// #[derive(serde::Deserialize)]
/// pub struct Order { pub item: String, pub quantity: u32 }
///
/// pub async fn place(Input(order): Input<Order>) -> String {
///     format!("{} x {}", order.quantity, order.item)
/// }
/// ```
///
/// `Input<serde_json::Value>` takes any object as is (a Flash handler's `input: dict`). Path
/// parameters are not part of it: take them as parameters of their own. Problems are reported
/// as a 422 under the source alone (`loc: ["body", "quantity"]`), as FastAPI reports a
/// whole-body model's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Input<T>(pub T);

impl<T> Input<T> {
    /// The value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Input<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Input<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Input<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Input)
    }
}

/// One call of a handler: its arguments, where they came from, and per-call context.
/// Cancellation is by dropping the handler's future (a disconnected client, a cancelled job).
pub struct Call {
    args: Args,
    /// A small JSON body, checked to be an object, whose fields are not in `args` yet: `bind!`
    /// takes typed values straight from these bytes, and [`Call::args`] reads them in on first
    /// use. Reading every body into a map first was most of what a bound POST cost beyond a
    /// plain axum handler (issue 7).
    body: Option<(axum::body::Bytes, crate::bind::field::BodyIndex)>,
    pub source: Source,
    /// The request id (HTTP) or job id (queue) that every log line of the call carries.
    pub request_id: String,
    pub progress: Progress,
}

impl Call {
    pub fn new(args: Args, source: Source, request_id: String, progress: Progress) -> Call {
        Call {
            args,
            body: None,
            source,
            request_id,
            progress,
        }
    }

    /// A call whose arguments are `args` (path parameters) and the fields of `body`, a JSON
    /// object checked by the caller; `args` win over same-named fields.
    pub(crate) fn with_json_body(
        mut self,
        body: axum::body::Bytes,
        index: crate::bind::field::BodyIndex,
    ) -> Call {
        self.body = Some((body, index));
        self
    }

    /// The call's named arguments (a JSON body's fields are read in on first use).
    pub fn args(&mut self) -> &mut Args {
        if let Some((body, _)) = self.body.take() {
            // Indexed as an object within serde_json's limits when the request arrived, so this
            // does not fail; if it ever did, the call would see only its path parameters.
            let mut all = serde_json::from_slice::<Args>(&body).unwrap_or_else(|e| {
                tracing::error!("a checked JSON body could not be read: {e}");
                Args::new()
            });
            for (name, value) in std::mem::take(&mut self.args) {
                all.insert(name, value);
            }
            self.args = all;
        }
        &mut self.args
    }

    /// The arguments known without reading the body (path parameters, query, job input).
    pub(crate) fn known_args(&mut self) -> &mut Args {
        &mut self.args
    }

    /// The JSON body whose fields have not been read into the arguments, if any.
    pub(crate) fn unread_body(&self) -> Option<(&[u8], &crate::bind::field::BodyIndex)> {
        self.body.as_ref().map(|(body, index)| (&body[..], index))
    }

    /// The call's [`Context`] (request or job id, progress), to pass to the user's function.
    pub fn context(&self) -> Context {
        Context::new(&self.request_id, self.progress.clone())
    }
}

/// A handler as the runtime sees it: shared state from the endpoint's `init` hook plus one
/// call. Generated code builds one per route (or one per queue endpoint) by binding
/// `call.args` to the user's typed parameters and calling the user's function.
pub type Handler<S> = Arc<dyn Fn(Arc<S>, Call) -> HandlerFuture + Send + Sync>;

/// The endpoint's `init` hook: runs once per worker before it reports ready and produces the
/// shared state every handler receives (load a model once). An `Err` makes `/ping` answer 503.
pub type Init<S> =
    Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<S, String>> + Send>> + Send>;

/// Boxes a closure into a [`Handler`], so generated code writes one plain `async move` closure
/// per route.
pub fn handler<S, F, Fut>(f: F) -> Handler<S>
where
    F: Fn(Arc<S>, Call) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Reply, HandlerError>> + Send + 'static,
{
    Arc::new(move |state, call| Box::pin(f(state, call)))
}

impl Reply {
    /// A value that is already JSON (no copy, unlike [`Reply::json`] on a `Value`).
    pub fn value(value: Value) -> Result<Reply, HandlerError> {
        Ok(Reply::Value(value))
    }

    /// A single JSON value from anything serializable, serialized at once to its JSON text
    /// (struct fields keep their order); a failure to serialize is a 500.
    pub fn json<T: Serialize>(value: T) -> Result<Reply, HandlerError> {
        Json::new(&value)
            .map(Reply::Json)
            .map_err(HandlerError::internal)
    }

    /// The reply as one [`Value`], if it is a single value (parses a [`Reply::Json`]).
    pub fn into_value(self) -> Option<Value> {
        match self {
            Reply::Value(v) => Some(v),
            Reply::Json(j) => Some(j.to_value()),
            Reply::Stream(_) => None,
        }
    }

    /// A stream of serializable items (WebSocket frames, NDJSON lines, queue stream chunks).
    pub fn stream<T, St>(items: St) -> Result<Reply, HandlerError>
    where
        T: Serialize,
        St: Stream<Item = T> + Send + 'static,
    {
        use futures_util::StreamExt;
        Ok(Reply::Stream(Box::pin(items.map(|item| {
            Json::new(&item).map_err(HandlerError::internal)
        }))))
    }

    /// The answer of a function returning `Result<T, E>`: `Ok` is a JSON value; `Err` goes
    /// through [`HandlerError::from_error`] (a `HandlerError` keeps its kind, anything else is
    /// `Internal`).
    pub fn result<T, E>(result: Result<T, E>) -> Result<Reply, HandlerError>
    where
        T: Serialize,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match result {
            Ok(value) => Reply::json(value),
            Err(e) => Err(HandlerError::from_error(e)),
        }
    }

    /// A stream whose items may fail (`Result<T, E>`, `E` as in [`Reply::result`]); the first
    /// error ends it.
    pub fn try_stream<T, E, St>(items: St) -> Result<Reply, HandlerError>
    where
        T: Serialize,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
        St: Stream<Item = Result<T, E>> + Send + 'static,
    {
        use futures_util::StreamExt;
        Ok(Reply::Stream(Box::pin(items.map(|item| match item {
            Ok(v) => Json::new(&v).map_err(HandlerError::internal),
            Err(e) => Err(HandlerError::from_error(e)),
        }))))
    }
}

/// Runs synchronous code (a CPU-bound model call, blocking I/O) on tokio's blocking thread
/// pool, so it never holds up the worker's async threads: `/ping`, other routes and the queue
/// heartbeat keep answering while it runs, even on a single-threaded runtime.
///
/// A panic inside `f` becomes [`HandlerError::Internal`] with the panic message (and is logged);
/// the worker keeps serving. A queue job that fails with that error is reported as the panic it
/// was (`error_type` `HandlerPanic`, with where it happened), as a plain `fn` handler's panic is. Log lines from `f` carry the call's request id. Dropping the
/// returned future (a timeout, a cancelled job) cannot stop `f`: it runs to its end and its
/// result is discarded.
///
/// ```
/// # async fn demo() -> Result<(), flash_runtime::HandlerError> {
/// let sum = flash_runtime::blocking(|| (0..1_000u64).sum::<u64>()).await?;
/// assert_eq!(sum, 499_500);
/// # Ok(()) }
/// ```
pub async fn blocking<T, F>(f: F) -> Result<T, HandlerError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let request_id = crate::logging::current_request_id();
    let span = tracing::Span::current();
    let task = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        // Caught here, on the thread it happened on, so where it happened is known too.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match request_id {
            Some(id) => crate::logging::sync_with_request_id(&id, f),
            None => f(),
        }))
        .map_err(|payload| {
            let msg = crate::entry::panic_text(&*payload).to_string();
            (msg, crate::queue::job::take_panic_location())
        })
    });
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err((msg, location))) => {
            tracing::error!("handler panicked in blocking code: {msg}");
            let error = format!("handler panicked: {msg}");
            // A queue job that fails with this very error failed by a panic (`HandlerPanic`).
            crate::queue::job::note_blocking_panic(&error, msg, location);
            Err(HandlerError::Internal(error))
        }
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let msg = crate::entry::panic_text(&*payload).to_string();
            tracing::error!("handler panicked in blocking code: {msg}");
            Err(HandlerError::Internal(format!("handler panicked: {msg}")))
        }
        Err(_) => Err(HandlerError::Internal(
            "blocking task was cancelled (the runtime is shutting down)".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::{error::Error, fmt};

    use futures_util::StreamExt;
    use serde_json::json;

    use super::*;

    /// An application error with a cause, the shape `anyhow` and `thiserror` errors have.
    #[derive(Debug)]
    struct AppError {
        what: &'static str,
        cause: std::io::Error,
    }

    impl fmt::Display for AppError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.what)
        }
    }

    impl Error for AppError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.cause)
        }
    }

    fn app_error() -> AppError {
        AppError {
            what: "loading the model",
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "weights.bin missing"),
        }
    }

    /// What `anyhow::Error` is to this code: a boxed error that derefs to the error inside.
    struct AnyhowLike(Box<dyn Error + Send + Sync>);

    impl std::ops::Deref for AnyhowLike {
        type Target = dyn Error + Send + Sync;
        fn deref(&self) -> &Self::Target {
            &*self.0
        }
    }

    fn err_of(reply: Result<Reply, HandlerError>) -> HandlerError {
        match reply {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn result_ok_is_json() {
        let Ok(Reply::Json(j)) = Reply::result(Ok::<_, String>(json!({"a": 1}))) else {
            panic!("not a value");
        };
        assert_eq!(j.to_value(), json!({"a": 1}));
        assert_eq!(j.as_str(), r#"{"a":1}"#);
    }

    #[test]
    fn json_keeps_struct_field_order() {
        #[derive(Serialize)]
        struct Out {
            zeta: u8,
            alpha: &'static str,
            mid: [u8; 2],
        }
        let Ok(Reply::Json(j)) = Reply::json(Out {
            zeta: 1,
            alpha: "a",
            mid: [2, 3],
        }) else {
            panic!("not json");
        };
        assert_eq!(j.as_str(), r#"{"zeta":1,"alpha":"a","mid":[2,3]}"#);
        let failed = Reply::json(std::collections::HashMap::from([((1, 2), 3)]));
        assert!(matches!(failed, Err(HandlerError::Internal(_))));
    }

    #[test]
    fn result_keeps_handler_error_kinds() {
        let client = err_of(Reply::result(Err::<(), _>(HandlerError::client(
            "bad name",
        ))));
        assert_eq!(client, HandlerError::Client("bad name".into()));
        let problems = vec![Problem::new(
            vec!["body".into(), "x".into()],
            "Field required",
            "missing",
        )];
        let invalid = err_of(Reply::result(Err::<(), _>(HandlerError::Invalid(
            problems.clone(),
        ))));
        assert_eq!(invalid, HandlerError::Invalid(problems));
        // Already boxed, as `?` into `Box<dyn Error + Send + Sync>` leaves it.
        let boxed: Box<dyn Error + Send + Sync> = Box::new(HandlerError::client("boxed"));
        assert_eq!(
            err_of(Reply::result(Err::<(), _>(boxed))),
            HandlerError::Client("boxed".into())
        );
    }

    #[test]
    fn result_string_and_str_errors_are_internal() {
        assert_eq!(
            err_of(Reply::result(Err::<(), _>("no such user".to_string()))),
            HandlerError::Internal("no such user".into())
        );
        assert_eq!(
            err_of(Reply::result(Err::<(), _>("static text"))),
            HandlerError::Internal("static text".into())
        );
    }

    #[test]
    fn result_io_error_is_internal_with_its_text() {
        let e = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "cannot open /data");
        assert_eq!(
            err_of(Reply::result(Err::<(), _>(e))),
            HandlerError::Internal("cannot open /data".into())
        );
    }

    #[test]
    fn result_anyhow_style_errors_carry_their_source_chain() {
        assert_eq!(
            err_of(Reply::result(Err::<(), _>(app_error()))),
            HandlerError::Internal("loading the model: weights.bin missing".into())
        );
        let boxed: Box<dyn Error + Send + Sync> = Box::new(app_error());
        assert_eq!(
            err_of(Reply::result(Err::<(), _>(boxed))),
            HandlerError::Internal("loading the model: weights.bin missing".into())
        );
    }

    #[test]
    fn from_ref_finds_a_handler_error_behind_a_deref() {
        let wrapped = AnyhowLike(Box::new(HandlerError::client("bad input")));
        assert_eq!(
            HandlerError::from_ref(&*wrapped),
            HandlerError::Client("bad input".into())
        );
        let other = AnyhowLike(Box::new(app_error()));
        assert_eq!(
            HandlerError::from_ref(&*other),
            HandlerError::Internal("loading the model: weights.bin missing".into())
        );
    }

    #[test]
    fn a_cause_repeated_in_the_text_is_said_once() {
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl fmt::Display for Wrap {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "reading: {}", self.0)
            }
        }
        impl Error for Wrap {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Wrap(std::io::Error::other("disk gone"));
        assert_eq!(
            HandlerError::from_error(e),
            HandlerError::Internal("reading: disk gone".into())
        );
    }

    async fn collect(reply: Result<Reply, HandlerError>) -> Vec<Result<Value, HandlerError>> {
        let Ok(Reply::Stream(items)) = reply else {
            panic!("not a stream");
        };
        items.map(|item| item.map(|j| j.to_value())).collect().await
    }

    #[tokio::test]
    async fn stream_items_keep_their_fields_in_order() {
        #[derive(Serialize)]
        struct Token {
            token: &'static str,
            index: u32,
        }
        let Ok(Reply::Stream(mut items)) = Reply::stream(futures_util::stream::iter([Token {
            token: "a",
            index: 0,
        }])) else {
            panic!("not a stream");
        };
        let first = items.next().await.unwrap().unwrap();
        assert_eq!(first.as_str(), r#"{"token":"a","index":0}"#);
    }

    #[tokio::test]
    async fn try_stream_takes_every_error_kind() {
        let items = vec![Ok(1), Err(HandlerError::client("stop"))];
        let out = collect(Reply::try_stream(futures_util::stream::iter(items))).await;
        assert_eq!(
            out,
            [Ok(json!(1)), Err(HandlerError::Client("stop".into()))]
        );

        let items = vec![Ok("a"), Err("broken pipe".to_string())];
        let out = collect(Reply::try_stream(futures_util::stream::iter(items))).await;
        assert_eq!(out[1], Err(HandlerError::Internal("broken pipe".into())));

        let items: Vec<Result<u8, &'static str>> = vec![Err("static")];
        let out = collect(Reply::try_stream(futures_util::stream::iter(items))).await;
        assert_eq!(out[0], Err(HandlerError::Internal("static".into())));

        let items: Vec<Result<u8, std::io::Error>> = vec![Err(std::io::Error::other("io"))];
        let out = collect(Reply::try_stream(futures_util::stream::iter(items))).await;
        assert_eq!(out[0], Err(HandlerError::Internal("io".into())));

        let items: Vec<Result<u8, Box<dyn Error + Send + Sync>>> = vec![Err(app_error().into())];
        let out = collect(Reply::try_stream(futures_util::stream::iter(items))).await;
        assert_eq!(
            out[0],
            Err(HandlerError::Internal(
                "loading the model: weights.bin missing".into()
            ))
        );
    }

    #[test]
    fn context_is_shareable_and_reports_progress_of_jobs_only() {
        fn assert_bounds<T: Clone + Send + Sync + 'static>() {}
        assert_bounds::<Context>();

        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let call = Call::new(
            Args::new(),
            Source::Input,
            "job-1".into(),
            Progress::new(tx),
        );
        let ctx = call.context();
        assert_eq!(ctx.request_id(), "job-1");
        ctx.clone().progress(json!({"step": 1}));
        #[derive(Serialize)]
        struct Step {
            step: u32,
        }
        ctx.progress(Step { step: 2 });
        assert_eq!(rx.try_recv().unwrap(), json!({"step": 1}));
        assert_eq!(rx.try_recv().unwrap(), json!({"step": 2}));

        // HTTP calls have no progress: a no-op.
        let http = Context::new("req-1", Progress::default());
        http.progress(json!({"ignored": true}));
        assert_eq!(http.request_id(), "req-1");
    }

    #[tokio::test]
    async fn blocking_returns_the_value_and_turns_a_panic_into_an_internal_error() {
        assert_eq!(blocking(|| 6 * 7).await, Ok(42));
        let err = blocking(|| -> u32 { panic!("kaboom {}", 7) })
            .await
            .unwrap_err();
        let HandlerError::Internal(msg) = err else {
            panic!("not internal: {err:?}");
        };
        assert!(msg.contains("kaboom 7"), "{msg}");
        // The runtime survives and runs the next one.
        assert_eq!(blocking(|| "still here").await, Ok("still here"));
    }

    #[tokio::test]
    async fn blocking_code_logs_with_the_request_id() {
        let id = crate::logging::with_request_id("req-42", async {
            blocking(crate::logging::current_request_id).await
        })
        .await
        .unwrap();
        assert_eq!(id.as_deref(), Some("req-42"));
    }
}

//! The contract between generated code and the runtime: what a handler is, what it returns,
//! and how it fails. Both serving modes (load-balanced HTTP and queue jobs) call handlers
//! only through these types, so a user's function is wrapped once and served either way.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use futures_core::Stream;
use serde::Serialize;
use serde_json::{Map, Value};

/// The named arguments of one call: path parameters, query parameters, the fields of a JSON
/// body, or the fields of a queue job's `input`, by name.
pub type Args = Map<String, Value>;

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

/// One problem with one argument, in the shape of a 422 body's `detail` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub loc: Vec<String>,
    pub msg: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// How a handler call failed. The serving layer maps each kind to a status code
/// (400, 422, 500) or to a failed job; the variants are the whole contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// The caller sent something the handler rejects (HTTP 400, `{"error": msg}`).
    Client(String),
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
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Client(m) | HandlerError::Internal(m) => f.write_str(m),
            HandlerError::Invalid(problems) => {
                let parts: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.loc.join("."), p.msg))
                    .collect();
                write!(f, "invalid arguments: {}", parts.join("; "))
            }
        }
    }
}

impl std::error::Error for HandlerError {}

/// A stream of JSON items produced by a streaming handler (WebSocket frames, queue stream chunks).
pub type ItemStream = Pin<Box<dyn Stream<Item = Result<Value, HandlerError>> + Send>>;

/// What a handler produced: one JSON value, or a stream of them.
pub enum Reply {
    Value(Value),
    Stream(ItemStream),
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

/// One call of a handler: its arguments, where they came from, and per-call context.
/// Cancellation is by dropping the handler's future (a disconnected client, a cancelled job).
pub struct Call {
    pub args: Args,
    pub source: Source,
    /// The request id (HTTP) or job id (queue) that every log line of the call carries.
    pub request_id: String,
    pub progress: Progress,
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

    /// A single JSON value from anything serializable (a failure to serialize is a 500).
    pub fn json<T: Serialize>(value: T) -> Result<Reply, HandlerError> {
        serde_json::to_value(value)
            .map(Reply::Value)
            .map_err(HandlerError::internal)
    }

    /// A stream of serializable items (WebSocket frames, NDJSON lines, queue stream chunks).
    pub fn stream<T, St>(items: St) -> Result<Reply, HandlerError>
    where
        T: Serialize,
        St: Stream<Item = T> + Send + 'static,
    {
        use futures_util::StreamExt;
        Ok(Reply::Stream(Box::pin(items.map(|item| {
            serde_json::to_value(item).map_err(HandlerError::internal)
        }))))
    }

    /// A stream whose items may fail; the first error ends it.
    pub fn try_stream<T, St>(items: St) -> Result<Reply, HandlerError>
    where
        T: Serialize,
        St: Stream<Item = Result<T, HandlerError>> + Send + 'static,
    {
        use futures_util::StreamExt;
        Ok(Reply::Stream(Box::pin(items.map(|item| {
            item.and_then(|v| serde_json::to_value(v).map_err(HandlerError::internal))
        }))))
    }
}

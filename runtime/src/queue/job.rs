//! Running one job, the same way in both modes: check the input, call the handler under the
//! execution timeout, catch a panic, and drive a streaming reply chunk by chunk.
//!
//! The platform loop and the local queue differ only in where results go, so they share this.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use futures_util::{FutureExt, StreamExt};
use serde_json::{json, Value};

use crate::handler::{Args, Call, Handler, HandlerError, Progress, Reply, Source};

/// What a successful job produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A plain handler's return value.
    Value(Value),
    /// A plain handler's return value, serialized by the handler ([`Reply::json`]): the local
    /// queue keeps and answers its text as it is (fields in their order).
    Json(crate::handler::Json),
    /// Every chunk a streaming handler produced, in order (the aggregate the platform keeps).
    Stream(Vec<Value>),
}

impl Output {
    /// The job's `output` as callers see it: the value, or the list of chunks.
    pub fn into_value(self) -> Value {
        match self {
            Output::Value(v) => v,
            Output::Json(j) => j.to_value(),
            Output::Stream(chunks) => Value::Array(chunks),
        }
    }
}

/// Why a job failed. Kept apart from [`HandlerError`] because a job can also fail before or
/// around the handler (bad input, timeout, panic).
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The job's `input` was missing, not an object, or empty.
    Input(String),
    Handler(HandlerError),
    Timeout(Duration),
    /// A panic: its message, and where it happened when known (`file:line:column`).
    Panic(String, Option<String>),
    /// The worker was stopped and the job did not finish within the shutdown grace period.
    Shutdown(Duration),
    /// The job's `policy.ttl` ran out while it waited in the queue (local mode).
    Expired(Duration),
    /// A streamed chunk was larger than the platform accepts ([`CHUNK_LIMIT`]); its size.
    ChunkTooLarge(usize),
}

/// The platform refuses a stream chunk over 1 MB; the job fails with a clear error instead.
pub const CHUNK_LIMIT: usize = 1024 * 1024;

/// The SDK protocol version this runtime speaks (the captured `runpod` 1.12.0): sent as
/// `runpod_version` on the heartbeat and in error texts, so nothing on the platform that gates on
/// it treats the worker as old.
pub const RUNPOD_VERSION: &str = "1.12.0";

impl Failure {
    /// The `error_type` reported to the platform (the Python SDK puts the exception class there).
    pub fn error_type(&self) -> &'static str {
        match self {
            Failure::Input(_) => "InvalidInput",
            Failure::Handler(HandlerError::Invalid(_)) => "InvalidArguments",
            Failure::Handler(e) if e.is_server_error() => "HandlerError",
            Failure::Handler(_) => "ClientError",
            Failure::Timeout(_) => "TimeoutError",
            Failure::Panic(..) => "HandlerPanic",
            Failure::Shutdown(_) => "WorkerShutdown",
            Failure::Expired(_) => "TTLExpired",
            Failure::ChunkTooLarge(_) => "StreamChunkTooLarge",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Input(m) => m.clone(),
            Failure::Handler(e) => e.to_string(),
            Failure::Timeout(d) => format!("execution timeout of {} ms exceeded", d.as_millis()),
            Failure::Panic(m, _) => format!("handler panicked: {m}"),
            Failure::Shutdown(d) => format!(
                "the worker was stopped and the job did not finish within the {} ms shutdown grace period",
                d.as_millis()
            ),
            Failure::Expired(d) => format!(
                "the job's ttl of {} ms ran out before a worker took it",
                d.as_millis()
            ),
            Failure::ChunkTooLarge(n) => format!(
                "a streamed chunk of {n} bytes exceeds the platform's limit of {CHUNK_LIMIT} bytes \
                 (1 MB); send smaller chunks"
            ),
        }
    }

    /// The SDK's `error_traceback`: for a panic, where it happened and its message; for an error,
    /// its text with its `source()` chain (one cause per line).
    pub fn traceback(&self) -> String {
        match self {
            Failure::Panic(m, Some(at)) => format!("panicked at {at}:\n{m}"),
            Failure::Panic(m, None) => format!("panicked:\n{m}"),
            Failure::Handler(HandlerError::Internal(text)) => text.replace(": ", ":\n  "),
            other => other.message(),
        }
    }

    /// Ends as TIMED_OUT (and is not retried automatically).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Failure::Timeout(_) | Failure::Expired(_))
    }

    /// Whether running the job again could end differently. Not when the input is what is
    /// wrong — missing or empty, unbindable (a 422's problems), refused by the handler as the
    /// caller's mistake (`HandlerError::Client`, a 4xx `Status`), or producing a chunk too
    /// large — nor for a timeout, an expired job or a worker shutting down: retries would fail
    /// the same way.
    pub fn is_retryable(&self) -> bool {
        match self {
            Failure::Handler(e) => e.is_server_error(),
            Failure::Panic(..) => true,
            _ => false,
        }
    }

    /// The job's `error` text: a JSON string with the fields the Python SDK reports, in its
    /// order, so that callers parse errors from a Rust worker exactly like errors from a Python
    /// one.
    pub fn to_error_text(&self, worker_id: &str) -> String {
        #[derive(serde::Serialize)]
        struct ErrorText<'a> {
            error_type: &'a str,
            error_message: String,
            error_traceback: String,
            hostname: String,
            worker_id: &'a str,
            runpod_version: &'a str,
        }
        let text = ErrorText {
            error_type: self.error_type(),
            error_message: self.message(),
            error_traceback: self.traceback(),
            hostname: hostname(),
            worker_id,
            runpod_version: RUNPOD_VERSION,
        };
        serde_json::to_string(&text)
            .unwrap_or_else(|_| json!({"error_type": self.error_type()}).to_string())
    }
}

/// `RUNPOD_POD_HOSTNAME` (what the SDK reports), else the machine's hostname.
fn hostname() -> String {
    // Read once: neither changes under a running worker.
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        ["RUNPOD_POD_HOSTNAME", "HOSTNAME"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|h| !h.is_empty()))
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_string())
            })
            .unwrap_or_default()
    })
    .clone()
}

/// Checks a job's `input` and returns it as the handler's named arguments.
///
/// The platform silently never dispatches `{"input": {}}` (a ~42 s timeout for the caller), so
/// an empty, missing or non-object input is refused here with a message saying what to send.
pub fn input_args(input: Option<&Value>) -> Result<Args, String> {
    match input {
        None | Some(Value::Null) => Err(
            "missing \"input\": send {\"input\": {...}} with the handler's parameters as fields"
                .to_string(),
        ),
        Some(Value::Object(map)) if map.is_empty() => Err(
            "\"input\" is empty: send the handler's parameters as its fields, e.g. {\"input\": {\"name\": ...}} \
             (the platform never runs a job whose input is empty)"
                .to_string(),
        ),
        Some(Value::Object(map)) => Ok(Args::from(map.clone())),
        Some(other) => Err(format!(
            "\"input\" must be a JSON object whose fields are the handler's parameters, got {}",
            kind(other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs the handler for one job. Each chunk of a streaming reply is handed to `on_chunk` (and
/// awaited, so chunks leave in order) before the next is pulled; the timeout covers the whole
/// run including streaming. Cancelling is dropping the returned future. All chunks are kept
/// for the job's aggregate output; [`run_keeping`] bounds that.
pub async fn run<S, F, Fut>(
    handler: &Handler<S>,
    state: Arc<S>,
    job_id: &str,
    args: Args,
    progress: Progress,
    timeout: Option<Duration>,
    on_chunk: F,
) -> Result<Output, Failure>
where
    S: Send + Sync + 'static,
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = ()>,
{
    let keep = Keep::All;
    run_keeping(
        handler, state, job_id, args, progress, timeout, keep, on_chunk,
    )
    .await
}

/// Which chunks of a stream a job keeps for its final output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    All,
    /// None: the final output of a stream is `[]` (the SDK's default on the platform).
    Nothing,
    /// All of them while their JSON stays within this many bytes; past it none (`[]`, logged).
    UpTo(usize),
}

/// As [`run`], keeping the chunks `keep` says. A chunk over [`CHUNK_LIMIT`] fails the job.
#[allow(clippy::too_many_arguments)]
pub async fn run_keeping<S, F, Fut>(
    handler: &Handler<S>,
    state: Arc<S>,
    job_id: &str,
    args: Args,
    progress: Progress,
    timeout: Option<Duration>,
    keep: Keep,
    mut on_chunk: F,
) -> Result<Output, Failure>
where
    S: Send + Sync + 'static,
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = ()>,
{
    let call = Call::new(args, Source::Input, job_id.to_string(), progress);
    let work = async {
        let call = crate::watch::Watched::new(handler(state, call), |held| {
            crate::watch::report("the queue handler", held)
        });
        match call.await {
            Ok(Reply::Value(v)) => Ok(Output::Value(v)),
            // The job's output is kept and posted as a `Value` (read for `"error"` and
            // `"refresh_worker"`, aggregated with other fields), so serialized text is parsed.
            Ok(Reply::Json(j)) => Ok(Output::Json(j)),
            Ok(Reply::Stream(mut stream)) => {
                let mut chunks = Vec::new();
                let mut kept_bytes = 0usize;
                let mut keeping = keep != Keep::Nothing;
                while let Some(item) = stream.next().await {
                    let json = item.map_err(Failure::Handler)?;
                    let size = json.as_str().len();
                    if size > CHUNK_LIMIT {
                        return Err(Failure::ChunkTooLarge(size));
                    }
                    // Chunks are posted and kept as values (aggregated, read back by
                    // `/stream`), so the serialized item is parsed here.
                    let chunk = json.to_value();
                    if keeping {
                        kept_bytes += size + 1;
                        if let Keep::UpTo(limit) = keep {
                            if kept_bytes > limit {
                                tracing::warn!(
                                    "the stream's aggregate passed {limit} bytes: its final output is [] (every chunk was streamed)"
                                );
                                keeping = false;
                                chunks = Vec::new();
                            }
                        }
                    }
                    if keeping {
                        on_chunk(chunk.clone()).await;
                        chunks.push(chunk);
                    } else {
                        on_chunk(chunk).await;
                    }
                }
                Ok(Output::Stream(chunks))
            }
            Err(e) => Err(Failure::Handler(e)),
        }
    };
    // A panic must fail this job, not the worker: the loop keeps serving the others.
    capture_panic_locations();
    BLOCKING_PANIC.with(|b| b.borrow_mut().take());
    let guarded = AssertUnwindSafe(work).catch_unwind();
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, guarded).await {
            Ok(r) => r,
            Err(_) => return Err(Failure::Timeout(limit)),
        },
        None => guarded.await,
    };
    let noted = BLOCKING_PANIC.with(|b| b.borrow_mut().take());
    match outcome {
        // The handler returned the error `blocking` made of a panic (a plain `fn` handler's):
        // it is reported as that panic.
        Ok(Err(Failure::Handler(HandlerError::Internal(text)))) => match noted {
            Some(panic) if panic.error == text => {
                Err(Failure::Panic(panic.message, panic.location))
            }
            _ => Err(Failure::Handler(HandlerError::Internal(text))),
        },
        Ok(r) => r,
        Err(payload) => Err(Failure::Panic(
            panic_message(payload.as_ref()),
            LAST_PANIC.with(|l| l.borrow_mut().take()),
        )),
    }
}

/// A panic [`crate::blocking`] caught and turned into an error.
struct BlockingPanic {
    /// The error's text.
    error: String,
    message: String,
    location: Option<String>,
}

thread_local! {
    /// The last panic `blocking` caught on behalf of a future polled on this thread. The job's
    /// future returns that error in the same poll that `blocking`'s future completed in (its
    /// `?` propagates at once), so the job reads it on the same thread right after.
    static BLOCKING_PANIC: std::cell::RefCell<Option<BlockingPanic>> = const { std::cell::RefCell::new(None) };
}

/// Notes that `blocking` made `error` of a panic (`message`, at `location`).
pub(crate) fn note_blocking_panic(error: &str, message: String, location: Option<String>) {
    BLOCKING_PANIC.with(|b| {
        *b.borrow_mut() = Some(BlockingPanic {
            error: error.to_string(),
            message,
            location,
        });
    });
}

/// Where the last panic on this thread happened, when the job's panic hook recorded it.
pub(crate) fn take_panic_location() -> Option<String> {
    LAST_PANIC.with(|l| l.borrow_mut().take())
}

thread_local! {
    /// Where the last panic on this thread happened: a job's panic is caught on the thread it
    /// happened on, so its location is read right after.
    static LAST_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Wraps the panic hook in place (once) so panics record their location for the job's
/// `error_traceback`; the previous hook (the runtime's logging one) still runs.
fn capture_panic_locations() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(l) = info.location() {
                let at = format!("{}:{}:{}", l.file(), l.line(), l.column());
                LAST_PANIC.with(|c| *c.borrow_mut() = Some(at));
            }
            previous(info);
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_checks() {
        assert!(input_args(None).unwrap_err().contains("missing \"input\""));
        assert!(input_args(Some(&json!({})))
            .unwrap_err()
            .contains("\"input\" is empty"));
        assert!(input_args(Some(&json!([1])))
            .unwrap_err()
            .contains("got an array"));
        assert_eq!(input_args(Some(&json!({"a": 1}))).unwrap()["a"], json!(1));
    }

    #[test]
    fn error_text_is_a_json_string_with_the_sdk_fields() {
        let text = Failure::Handler(HandlerError::client("bad name")).to_error_text("w1");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error_type"], "ClientError");
        assert_eq!(v["error_message"], "bad name");
        assert_eq!(v["worker_id"], "w1");
        assert!(v["hostname"].is_string());
        assert_eq!(v["runpod_version"], RUNPOD_VERSION);
        assert!(text.starts_with(
            r#"{"error_type":"ClientError","error_message":"bad name","error_traceback":"#
        ));
        let internal = Failure::Handler(HandlerError::Internal("loading: weights missing".into()));
        assert_eq!(internal.traceback(), "loading:\n  weights missing");
    }

    #[test]
    fn a_status_error_fails_a_job_like_its_class() {
        let not_found = Failure::Handler(HandlerError::not_found("no order 7"));
        assert_eq!(not_found.error_type(), "ClientError");
        assert_eq!(not_found.message(), "no order 7");
        assert!(!not_found.is_retryable());
        let busy = Failure::Handler(HandlerError::status(503, "busy"));
        assert_eq!(busy.error_type(), "HandlerError");
        assert!(busy.is_retryable());
    }

    /// Issue 19 item 11: a plain `fn` handler runs through `blocking` (as generated code calls
    /// it); its panic fails the job as `HandlerPanic` with where it happened, as an async
    /// handler's does.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_in_a_plain_fn_handler_is_a_handler_panic() {
        fn greet(n: i64) -> i64 {
            if n > 0 {
                panic!("greet panicked for n = {n}");
            }
            n
        }
        let handler: Handler<()> = crate::handler::handler(|_state: Arc<()>, _call| async {
            let value = crate::blocking(move || greet(3)).await?;
            Ok(crate::handler::Reply::Value(json!(value)))
        });
        let Err(failure) = run(
            &handler,
            Arc::new(()),
            "job-1",
            Args::new(),
            Progress::default(),
            None,
            |_| async {},
        )
        .await
        else {
            panic!("the job fails")
        };
        assert_eq!(
            failure.error_type(),
            "HandlerPanic",
            "{}",
            failure.message()
        );
        assert!(failure.message().contains("greet panicked for n = 3"));
        assert!(
            failure.traceback().contains("job.rs:"),
            "{}",
            failure.traceback()
        );
        // A handler error from blocking code stays a handler error.
        let erring: Handler<()> = crate::handler::handler(|_state: Arc<()>, _call| async {
            crate::blocking(|| Err::<i64, HandlerError>(HandlerError::Internal("disk".into())))
                .await??;
            Ok(crate::handler::Reply::Value(json!(1)))
        });
        let Err(failure) = run(
            &erring,
            Arc::new(()),
            "job-2",
            Args::new(),
            Progress::default(),
            None,
            |_| async {},
        )
        .await
        else {
            panic!("the job fails")
        };
        assert_eq!(failure.error_type(), "HandlerError");
    }
}

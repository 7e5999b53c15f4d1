//! Structured logs through `tracing`, one line per event on stdout.
//!
//! On the platform (`RUNPOD_ENDPOINT_ID` set) each line is the JSON Runpod's log viewer reads:
//! `{"requestId": "...", "message": "...", "level": "INFO"}`; elsewhere a human line. The request
//! id comes from the nearest enclosing [`request_span`], or else from the task-local id set by
//! [`with_request_id`], so every line logged while serving a request or a job carries it without
//! the handler passing it around.
//!
//! The HTTP hot path uses the task-local: it costs nothing per request when nothing is logged,
//! whereas a span costs a registry entry and an allocation per request (measured: a third of the
//! throughput of a trivial route).

use std::{
    fmt::Write as _,
    io::Write as _,
    sync::atomic::{AtomicBool, Ordering},
    time::SystemTime,
};

use tracing::{
    field::{Field, Visit},
    span, Event, Level, Subscriber,
};
use tracing_subscriber::{
    filter::Targets, layer::Context, prelude::*, registry::LookupSpan, Layer,
};

use crate::config::Config;

/// The span every log line of one request or job is logged inside. Its `request_id` field is
/// what the log lines show.
pub fn request_span(request_id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = request_id)
}

tokio::task_local! {
    static REQUEST_ID: Box<str>;
}

/// Runs `fut` with `request_id` as the id of every line it logs (unless a [`request_span`]
/// inside it says otherwise).
pub fn with_request_id<F: std::future::Future>(
    request_id: &str,
    fut: F,
) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(request_id.into(), fut)
}

/// Runs `f` synchronously with `request_id` as the id of its log lines.
pub fn sync_with_request_id<R>(request_id: &str, f: impl FnOnce() -> R) -> R {
    REQUEST_ID.sync_scope(request_id.into(), f)
}

/// The request id of the running request or job, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.to_string()).ok()
}

/// Installs the global subscriber from the configuration. Calling it again (tests, a second
/// entry point) keeps the first one.
pub fn init(cfg: &Config) {
    let filter: Targets = cfg
        .log_level
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(Level::INFO));
    let layer = LineLayer {
        json: cfg.endpoint_id.is_some(),
    };
    JSON_LINES.store(layer.json, Ordering::Relaxed);
    // A global filter (not a per-layer one) lets disabled callsites be skipped once and for all.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
}

/// Whether [`init`] chose the platform's JSON lines.
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// Writes one INFO line with `request_id`, in the format [`init`] chose, straight to stdout.
/// For a line logged on every request (the dev host's), where going through `tracing`'s
/// dispatch and the request-id scope cost more than the request itself in a debug build; the
/// caller checks `tracing::enabled!` first so the log level still applies.
pub fn info_line(request_id: Option<&str>, message: &str) {
    let line = if JSON_LINES.load(Ordering::Relaxed) {
        json_line(request_id, message, &Level::INFO)
    } else {
        human_line(request_id, message, &Level::INFO)
    };
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// Writes each event as one line; see the module docs for the two formats.
pub struct LineLayer {
    pub json: bool,
}

/// Stored on a span that names a request, so events inside it can find the id cheaply.
struct RequestId(String);

impl<S> Layer<S> for LineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut finder = RequestIdFinder(None);
        attrs.record(&mut finder);
        if let (Some(rid), Some(span)) = (finder.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(rid));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let request_id = ctx
            .event_scope(event)
            .and_then(|scope| {
                scope
                    .from_root()
                    .filter_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
                    .last()
            })
            .or_else(current_request_id);
        let mut msg = MessageVisitor::default();
        event.record(&mut msg);
        let level = event.metadata().level();
        let line = if self.json {
            json_line(request_id.as_deref(), &msg.text, level)
        } else {
            human_line(request_id.as_deref(), &msg.text, level)
        };
        // One write per line so concurrent requests never interleave inside a line.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// `{"requestId":..,"message":..,"level":..}`; `requestId` is null outside any request.
pub fn json_line(request_id: Option<&str>, message: &str, level: &Level) -> String {
    let value = serde_json::json!({
        "requestId": request_id,
        "message": message,
        "level": level_name(level),
    });
    let mut line = value.to_string();
    line.push('\n');
    line
}

/// `<timestamp> <LEVEL> [<request id>] <message>`. Built with pushes, not `format!`: the dev
/// host writes one per request from a debug build, where formatting machinery is slow.
fn human_line(request_id: Option<&str>, message: &str, level: &Level) -> String {
    let mut line = String::with_capacity(64 + message.len());
    line.push_str(&utc_timestamp(SystemTime::now()));
    line.push(' ');
    let level = level_name(level);
    line.push_str(level);
    line.push_str(&"     "[level.len().min(5)..]);
    line.push(' ');
    if let Some(rid) = request_id {
        line.push('[');
        line.push_str(rid);
        line.push_str("] ");
    }
    line.push_str(message);
    line.push('\n');
    line
}

/// RFC 3339 UTC with milliseconds, without a date-time dependency. The part up to the second
/// is computed once per second (per thread).
fn utc_timestamp(t: SystemTime) -> String {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, String)> =
            const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let millis = d.subsec_millis();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != d.as_secs() {
            *cached = (d.as_secs(), utc_second(d.as_secs()));
        }
        let mut out = String::with_capacity(24);
        out.push_str(&cached.1);
        out.push('.');
        for digit in [millis / 100, millis / 10 % 10, millis % 10] {
            out.push(char::from(b'0' + digit as u8));
        }
        out.push('Z');
        out
    })
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time.
fn utc_second(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

struct RequestIdFinder(Option<String>);

impl Visit for RequestIdFinder {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "request_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// The event's message followed by its other fields as `key=value`.
#[derive(Default)]
struct MessageVisitor {
    text: String,
}

impl MessageVisitor {
    fn push_field(&mut self, name: &str, value: std::fmt::Arguments<'_>) {
        if name == "message" {
            let rest = std::mem::take(&mut self.text);
            let _ = self.text.write_fmt(value);
            if !rest.is_empty() {
                self.text.push(' ');
                self.text.push_str(&rest);
            }
        } else {
            if !self.text.is_empty() {
                self.text.push(' ');
            }
            let _ = write!(self.text, "{name}=");
            let _ = self.text.write_fmt(value);
        }
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push_field(field.name(), format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.push_field(field.name(), format_args!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let line = json_line(Some("abc"), "hello", &Level::INFO);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"requestId":"abc","message":"hello","level":"INFO"})
        );
        let v: serde_json::Value =
            serde_json::from_str(&json_line(None, "x", &Level::WARN)).unwrap();
        assert_eq!(v["requestId"], serde_json::Value::Null);
    }

    #[test]
    fn timestamp() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_123);
        assert_eq!(utc_timestamp(t), "2026-11-18T11:06:40.123Z");
    }
}

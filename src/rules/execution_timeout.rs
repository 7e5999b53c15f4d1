use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{Node, Span};
use crate::model::{route_key::parse_duration, Duration, EndpointType, IdleTimeout};
use crate::project::Project;
use crate::rules::OUT_OF_RANGE;

/// The platform ends a load-balanced request after 5.5 minutes whatever the file says.
const LOAD_BALANCED_LIMIT_MS: u64 = 330_000;

declare_rule! {
    /// ## What it does
    /// Checks `execution_timeout` and route `timeout` values: a whole number of seconds or
    /// a number with a unit (`500ms`, `90s`, `10m`, `1h`), greater than zero. Also checks
    /// `idle_timeout` written as a duration (`5m`): whole seconds, 1 second to 1 hour (a value
    /// out of those bounds is FL0104, as it is when written as a number). Warns when a
    /// load-balanced limit exceeds the platform's 5.5 minutes per request.
    ///
    /// ## Why
    /// A zero or negative timeout (which Flash accepts) would fail every job; a limit past
    /// the platform's would never be reached.
    ///
    /// ## Example
    /// ```yaml
    /// execution_timeout: 10 minutes    # write `10m`
    /// ```
    pub static EXECUTION_TIMEOUT = ("FL0403", "execution-timeout", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        // `idle_timeout` written as a duration (the schema bounds it when it is a number).
        if let (Some(idle @ IdleTimeout::Text(text)), Some(node)) = (
            &spec.settings.idle_timeout,
            endpoint.node.get("idle_timeout"),
        ) {
            if let Err(message) = idle.seconds() {
                let parses = parse_duration(text).is_ok();
                let (rule, label) = if parses {
                    (&OUT_OF_RANGE, "must be between 1s and 1h")
                } else {
                    (&EXECUTION_TIMEOUT, "not a duration")
                };
                let message = if message.starts_with("`idle_timeout`") {
                    message
                } else {
                    format!("`idle_timeout`: {message}")
                };
                out.push(Diagnostic::new(rule, node.span, message).label(label).help(
                    "write whole seconds (`300`) or a duration from `1s` to `1h`, such as `5m`",
                ));
            }
        }
        let balanced = spec.kind == Some(EndpointType::LoadBalanced);
        if let (Some(duration), Some(node)) = (
            &spec.settings.execution_timeout,
            endpoint.node.get("execution_timeout"),
        ) {
            check_one("execution_timeout", duration, node.span, balanced, out);
        }
        for (key, route) in spec.routes.iter().flatten() {
            let crate::model::Route::Detailed(options) = route else {
                continue;
            };
            let Some(duration) = &options.timeout else {
                continue;
            };
            let span = endpoint
                .node
                .get("routes")
                .and_then(|r| r.get(key))
                .and_then(|r| r.get("timeout"))
                .map_or(endpoint.name_span, |n: &Node| n.span);
            check_one("timeout", duration, span, balanced, out);
        }
    }
}

fn check_one(
    key: &str,
    duration: &Duration,
    span: Span,
    balanced: bool,
    out: &mut Vec<Diagnostic>,
) {
    let millis = match duration {
        Duration::Seconds(s) => Ok(s.saturating_mul(1000)),
        Duration::Text(t) => parse_duration(t),
    };
    match millis {
        Err(message) => out.push(
            Diagnostic::new(&EXECUTION_TIMEOUT, span, format!("`{key}`: {message}"))
                .label("not a duration")
                .help("write seconds (`90`) or a number with a unit: `500ms`, `90s`, `10m`, `1h`"),
        ),
        Ok(0) => out.push(
            Diagnostic::new(
                &EXECUTION_TIMEOUT,
                span,
                format!("`{key}` must be greater than zero"),
            )
            .label("zero timeout")
            .help(format!(
                "remove `{key}` for no limit, or set one such as `90s`"
            )),
        ),
        Ok(ms) if balanced && ms > LOAD_BALANCED_LIMIT_MS => {
            let mut d = Diagnostic::new(
                &EXECUTION_TIMEOUT,
                span,
                format!(
                    "`{key}` exceeds the 5.5 minutes the platform allows a load-balanced request"
                ),
            )
            .label("longer than the platform's limit")
            .help("use a queue endpoint for long work, or a limit of `330s` or less");
            d.severity = Severity::Warning;
            out.push(d);
        }
        Ok(_) => {}
    }
}

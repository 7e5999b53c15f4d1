use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, Returns, Role};
use crate::model::route_key::Method;

declare_rule! {
    /// ## What it does
    /// Checks that stream handlers (returning `impl Stream<Item = T>`) serve `WS` routes and
    /// that `WS` routes are served by stream handlers. A queue endpoint's handler may be
    /// either (a stream handler's items become the job's stream output), but
    /// `return_aggregate_stream: true` is only for a stream handler.
    ///
    /// ## Why
    /// An HTTP route answers once; a WebSocket route sends one frame per item of a stream. A
    /// queue job's output is the chunks of a stream only when there are chunks: on a handler
    /// that returns one value, the setting would silently do nothing.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /events": events::watch   # returns impl Stream: write "WS /events"
    /// ```
    pub static STREAM_ROUTE_MISMATCH = ("FL0708", "stream-route-mismatch", Error);
}

/// Reports a stream handler on an HTTP route, a one-value handler on a WebSocket route, and
/// `return_aggregate_stream` on a queue handler that returns one value.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Some(f) = u.function() else { continue };
        let path = &u.path;
        let is_stream = matches!(f.returns, Returns::Stream { .. });
        match &u.role {
            Role::Queue {
                aggregate: Some(aggregate),
                ..
            } if !is_stream => out.push(
                Diagnostic::new(
                    &STREAM_ROUTE_MISMATCH,
                    *aggregate,
                    format!("`return_aggregate_stream: true` has no effect: `{path}` returns one value, not a stream"),
                )
                .label("only for stream handlers")
                .related(u.span, "the handler")
                .related_file(f.defined.clone(), "defined here")
                .help("remove `return_aggregate_stream`, or return `impl Stream<Item = T>` (one chunk per item)"),
            ),
            Role::Route {
                method,
                path: route,
                key_span,
                ..
            } => {
                if is_stream && *method != Method::Ws {
                    out.push(
                        Diagnostic::new(
                            &STREAM_ROUTE_MISMATCH,
                            u.span,
                            format!("`{path}` returns a stream, but route `{method} {route}` answers once"),
                        )
                        .label("stream handler on an HTTP route")
                        .related(*key_span, "an HTTP route")
                        .related_file(f.defined.clone(), "defined here")
                        .help(format!(
                            "serve the stream on a WebSocket route (`\"WS {route}\"`), or return a value"
                        )),
                    );
                } else if !is_stream && *method == Method::Ws {
                    out.push(
                        Diagnostic::new(
                            &STREAM_ROUTE_MISMATCH,
                            u.span,
                            format!("`{path}` returns one value, but WebSocket route `WS {route}` sends a stream of frames"),
                        )
                        .label("not a stream handler")
                        .related(*key_span, "a WebSocket route")
                        .related_file(f.defined.clone(), "defined here")
                        .help(format!(
                            "return `impl Stream<Item = T>` (one frame per item), or serve it on an HTTP route such as `\"GET {route}\"`"
                        )),
                    );
                }
            }
            _ => {}
        }
    }
}

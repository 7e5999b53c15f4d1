use crate::diagnostic::Diagnostic;
use crate::model::EndpointType;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports an endpoint without what its kind needs: every endpoint needs `type`; a
    /// `queue` endpoint needs `handler`; a `load_balanced` endpoint needs at least one route.
    ///
    /// ## Why
    /// Without them there is nothing to serve. flashc does not guess the type from the other
    /// keys: the two kinds are billed, scaled and called differently.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   embed:
    ///     handler: embed::run    # add `type: queue`
    /// ```
    pub static MISSING_TYPE_FIELDS = ("FL0202", "missing-endpoint-fields", Error);
}

declare_rule! {
    /// ## What it does
    /// Reports a key that belongs to the other kind of endpoint: `handler`, `retries`,
    /// `max_concurrency` or `return_aggregate_stream` on a `load_balanced` endpoint; `routes`
    /// on a `queue` endpoint.
    /// A queue endpoint with `routes` and no `handler`, or a load-balanced one with a
    /// `handler` and no routes, is one mistake (most likely the `type`): it is reported once,
    /// on `type`, with the other field labelled (FL0202 does not report it again).
    ///
    /// ## Why
    /// Flash warns and drops `max_concurrency` on load-balanced endpoints, so the setting
    /// silently does nothing; flashc makes it an error and says which kind takes it.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     type: load_balanced
    ///     max_concurrency: 4    # queue endpoints only
    /// ```
    pub static FIELD_FOR_OTHER_TYPE = ("FL0203", "field-for-other-type", Error);
}

pub(super) fn check_missing(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed().filter(|(e, _)| !e.had_schema_errors) {
        let problem = match spec.kind {
            None => {
                let guess = if spec.routes.is_some() {
                    "load_balanced"
                } else {
                    "queue"
                };
                Some((
                    format!("endpoint `{}` has no `type`", endpoint.name),
                    format!("add `type: {guess}` (or the other kind: `queue` or `load_balanced`)"),
                ))
            }
            // A queue endpoint with routes, or a load-balanced one with a handler, is one
            // mistake (most likely the type): FL0203 reports it once, on `type`.
            Some(EndpointType::Queue) if spec.handler.is_none() && mistyped(endpoint) => None,
            Some(EndpointType::LoadBalanced)
                if spec.routes.as_ref().is_none_or(|r| r.is_empty()) && mistyped(endpoint) =>
            {
                None
            }
            Some(EndpointType::Queue) if spec.handler.is_none() => Some((
                format!("queue endpoint `{}` has no `handler`", endpoint.name),
                "add `handler: module::function`, the function that runs each job".to_string(),
            )),
            Some(EndpointType::LoadBalanced)
                if spec.routes.as_ref().is_none_or(|r| r.is_empty()) =>
            {
                Some((
                    format!("load-balanced endpoint `{}` has no routes", endpoint.name),
                    "add `routes:` with at least one `\"METHOD /path\": module::function`"
                        .to_string(),
                ))
            }
            _ => None,
        };
        if let Some((message, help)) = problem {
            out.push(
                Diagnostic::new(&MISSING_TYPE_FIELDS, endpoint.name_span, message)
                    .label("incomplete endpoint")
                    .help(help),
            );
        }
    }
}

/// Whether the endpoint carries the other kind's defining field instead of its own: a queue
/// endpoint with `routes` and no `handler`, a load-balanced one with `handler` and no routes.
fn mistyped(endpoint: &crate::project::EndpointView) -> bool {
    let has = |key: &str| {
        endpoint
            .node
            .get(key)
            .is_some_and(|n| !matches!(n.value, crate::load::Value::Null))
    };
    let has_routes = endpoint
        .node
        .get("routes")
        .is_some_and(|r| !r.entries().is_empty());
    match endpoint.kind() {
        Some(EndpointType::Queue) => has_routes && !has("handler"),
        Some(EndpointType::LoadBalanced) => has("handler") && !has_routes,
        None => false,
    }
}

pub(super) fn check_other(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        if mistyped(endpoint) {
            out.push(mistyped_diagnostic(endpoint));
            continue;
        }
        let (misplaced, kind, other): (&[&str], &str, &str) = match spec.kind {
            Some(EndpointType::LoadBalanced) => (
                &[
                    "handler",
                    "retries",
                    "max_concurrency",
                    "return_aggregate_stream",
                ],
                "load_balanced",
                "queue",
            ),
            Some(EndpointType::Queue) => (&["routes"], "queue", "load_balanced"),
            None => continue,
        };
        for key in misplaced {
            if endpoint.node.get(key).is_none() {
                continue;
            }
            let help = match *key {
                "handler" => {
                    "a load-balanced endpoint maps each route to a handler under `routes:`"
                        .to_string()
                }
                "routes" => {
                    "a queue endpoint runs one `handler`; use `type: load_balanced` for HTTP routes"
                        .to_string()
                }
                _ => format!("remove it, or make the endpoint `type: {other}`"),
            };
            out.push(
                Diagnostic::new(
                    &FIELD_FOR_OTHER_TYPE,
                    endpoint.key_span(key),
                    format!(
                        "`{key}` applies to {other} endpoints only; `{}` is {kind}",
                        endpoint.name
                    ),
                )
                .label(format!("not used by {kind} endpoints"))
                .related(
                    endpoint.value_span("type"),
                    format!("`{}` is {kind} here", endpoint.name),
                )
                .help(help),
            );
        }
    }
}

/// The one diagnostic for an endpoint whose `type` and defining field disagree: on the type
/// (the likelier mistake), with the field labelled, and both ways out.
fn mistyped_diagnostic(endpoint: &crate::project::EndpointView) -> Diagnostic {
    let name = endpoint.name;
    let (kind, field, message, help) = if endpoint.kind() == Some(EndpointType::Queue) {
        (
            "queue",
            "routes",
            format!("`{name}` is a queue endpoint but has `routes` and no `handler`"),
            "HTTP routes need `type: load_balanced`; or keep `type: queue`, replace `routes:` \
             with one `handler: module::function`"
                .to_string(),
        )
    } else {
        let handler = endpoint
            .node
            .get("handler")
            .and_then(crate::load::Node::as_str)
            .unwrap_or("module::function");
        (
            "load_balanced",
            "handler",
            format!("`{name}` is a load-balanced endpoint but has a `handler` and no `routes`"),
            format!(
                "a `handler` needs `type: queue`; or keep `type: load_balanced` and move the \
                 handler under a route: `routes: {{\"POST /run\": {handler}}}`"
            ),
        )
    };
    Diagnostic::new(&FIELD_FOR_OTHER_TYPE, endpoint.value_span("type"), message)
        .label(format!("`{name}` is {kind} here"))
        .related(
            endpoint.key_span(field),
            format!(
                "`{field}` belongs to {} endpoints",
                if kind == "queue" {
                    "load-balanced"
                } else {
                    "queue"
                }
            ),
        )
        .help(help)
}

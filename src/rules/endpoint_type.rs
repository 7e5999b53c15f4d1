use crate::diagnostic::Diagnostic;
use crate::model::EndpointType;
use crate::validate::Project;

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
    pub static MISSING_TYPE_FIELDS = ("FL0202", "missing-endpoint-fields", Error, check_missing);
}

declare_rule! {
    /// ## What it does
    /// Reports a key that belongs to the other kind of endpoint: `handler`, `retries` or
    /// `max_concurrency` on a `load_balanced` endpoint; `routes` on a `queue` endpoint.
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
    pub static FIELD_FOR_OTHER_TYPE = ("FL0203", "field-for-other-type", Error, check_other);
}

fn check_missing(project: &Project, out: &mut Vec<Diagnostic>) {
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

fn check_other(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        let (misplaced, kind, other): (&[&str], &str, &str) = match spec.kind {
            Some(EndpointType::LoadBalanced) => (
                &["handler", "retries", "max_concurrency"],
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

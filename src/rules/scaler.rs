use crate::diagnostic::Diagnostic;
use crate::model::{EndpointType, ScalerType};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports `scaler: {type: QUEUE_DELAY}` on a load-balanced endpoint.
    ///
    /// ## Why
    /// Load-balanced endpoints have no queue to measure; the platform scales them by
    /// requests per worker only.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     type: load_balanced
    ///     scaler: { type: QUEUE_DELAY, value: 4 }    # use REQUEST_COUNT
    /// ```
    pub static SCALER = ("FL0402", "scaler", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        let Some(scaler) = &spec.settings.scaler else {
            continue;
        };
        if spec.kind == Some(EndpointType::LoadBalanced)
            && scaler.kind == Some(ScalerType::QueueDelay)
        {
            let span = endpoint
                .node
                .get("scaler")
                .and_then(|s| s.get("type"))
                .map_or(endpoint.value_span("scaler"), |t| t.span);
            out.push(
                Diagnostic::new(
                    &SCALER,
                    span,
                    format!(
                        "load-balanced endpoint `{}` cannot use the QUEUE_DELAY scaler",
                        endpoint.name
                    ),
                )
                .label("queue endpoints only")
                .related(endpoint.value_span("type"), "load_balanced here")
                .help("use `type: REQUEST_COUNT` (requests per worker)"),
            );
        }
    }
}

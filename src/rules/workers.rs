use crate::diagnostic::Diagnostic;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks worker bounds: `min` may not exceed `max`, and `max` must be at least 1.
    ///
    /// ## Why
    /// An endpoint with `max: 0` can never run a job; `min > max` has no meaning. (Flash
    /// accepts `max: 0`.)
    ///
    /// ## Example
    /// ```yaml
    /// workers: [3, 1]    # min 3 exceeds max 1
    /// workers: 0         # at least one worker is needed
    /// ```
    pub static WORKERS = ("FL0401", "workers", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        let Some(workers) = spec.settings.workers else {
            continue;
        };
        let (min, max) = workers.bounds();
        let span = endpoint.value_span("workers");
        if max == 0 {
            out.push(
                Diagnostic::new(&WORKERS, span, format!("endpoint `{}` allows at most 0 workers", endpoint.name))
                    .label("max is 0")
                    .help("set a maximum of at least 1, for example `workers: 1`; `min: 0` already scales to zero"),
            );
        } else if min > max {
            let node = endpoint.node.get("workers");
            let max_written = node.is_some_and(|n| n.get("max").is_some() || !n.items().is_empty());
            let help = if max_written {
                format!("write `workers: [{max}, {min}]` if you swapped them")
            } else {
                format!("`max` defaults to 1; set it, for example `{{min: {min}, max: {min}}}`")
            };
            out.push(
                Diagnostic::new(
                    &WORKERS,
                    span,
                    format!("workers min ({min}) exceeds max ({max})"),
                )
                .label("min is larger than max")
                .help(help),
            );
        }
    }
}

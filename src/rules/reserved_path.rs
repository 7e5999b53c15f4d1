use crate::diagnostic::Diagnostic;
use crate::model::route_key::RESERVED_PATHS;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports a route on a path the worker serves itself: `/ping` (the platform's health
    /// check), `/ping/ready` and `/ping/live` (the probes of a Kubernetes deployment) and
    /// `/execute`.
    ///
    /// ## Why
    /// The platform polls `/ping` to decide whether a worker is healthy; a user route there
    /// would either never be called or take the worker out of rotation.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /ping": health::ping    # reserved; use "/healthz" or another path
    /// ```
    pub static RESERVED_PATH = ("FL0207", "reserved-path", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for route in project.routes() {
        let Ok(key) = &route.key else { continue };
        if RESERVED_PATHS.contains(&key.path) {
            out.push(
                Diagnostic::new(
                    &RESERVED_PATH,
                    route.entry.key_span,
                    format!(
                        "path `{}` is reserved by the worker runtime (reserved: {})",
                        key.path,
                        RESERVED_PATHS.join(", ")
                    ),
                )
                .label("reserved path")
                .help(
                    "choose another path, such as `/healthz`; the runtime already answers `/ping`",
                ),
            );
        }
    }
}

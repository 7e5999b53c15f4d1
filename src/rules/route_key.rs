use crate::diagnostic::Diagnostic;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Checks each route key is a method and a path: `GET`, `POST`, `PUT`, `DELETE`,
    /// `PATCH` or `WS` (a WebSocket), one space, and a path starting with `/`.
    ///
    /// ## Why
    /// The key is the route: a lower-case method or a path without its `/` would otherwise
    /// surface as a 404 in production.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "get /users": users::list     # methods are upper case: "GET /users"
    ///   "POST users": users::create   # write "POST /users"
    /// ```
    pub static ROUTE_KEY = ("FL0205", "route-key", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for route in project.routes() {
        if let Err(err) = &route.key {
            out.push(
                Diagnostic::new(&ROUTE_KEY, route.entry.key_span, err.message.clone())
                    .label("invalid route")
                    .help_opt(err.help.clone()),
            );
        }
    }
}

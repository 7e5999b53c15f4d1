use crate::diagnostic::Diagnostic;
use crate::load::Span;
use crate::model::route_key::check_path;
use crate::validate::Project;

declare_rule! {
    /// ## What it does
    /// Reports two routes of one endpoint that match the same requests, pointing at both.
    /// Parameter names do not count (`/users/{id}` and `/users/{user_id}` are the same
    /// route) and a `WS` route is a `GET`.
    ///
    /// ## Why
    /// Only one of the two could ever be called; which one would depend on the router.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/{id}": users::get
    ///   "GET /users/{user_id}": users::fetch    # matches the same requests
    /// ```
    pub static DUPLICATE_ROUTE = ("FL0208", "duplicate-route", Error, check);
}

fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    // Endpoints have a handful of routes: a linear scan beats hashing.
    let mut seen: Vec<(&str, String, Span, &str)> = Vec::new();
    for route in project.routes() {
        let Ok(key) = route.key else { continue };
        if !check_path(key.path).is_empty() {
            continue; // reported by FL0206; comparing a malformed path would only cascade
        }
        let shape = key.match_key();
        let first = seen
            .iter()
            .find(|(endpoint, s, _, _)| *endpoint == route.endpoint && *s == shape);
        if let Some((_, _, first_span, first_key)) = first {
            out.push(
                Diagnostic::new(
                    &DUPLICATE_ROUTE,
                    route.entry.key_span,
                    format!(
                        "route `{}` of endpoint `{}` matches the same requests as `{first_key}`",
                        route.entry.key, route.endpoint
                    ),
                )
                .label("duplicate route")
                .related(*first_span, format!("`{first_key}` is defined here"))
                .help("remove one of the routes, or give them different paths"),
            );
        } else {
            if seen
                .first()
                .is_some_and(|(endpoint, ..)| *endpoint != route.endpoint)
            {
                seen.clear();
            }
            seen.push((
                route.endpoint,
                shape,
                route.entry.key_span,
                &route.entry.key,
            ));
        }
    }
}

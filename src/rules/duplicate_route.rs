use crate::diagnostic::Diagnostic;
use crate::load::{Node, Span};
use crate::model::route_key::RouteKey;
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
    for endpoint in &project.endpoints {
        // Endpoints have a handful of routes: a linear scan beats hashing.
        let mut seen: Vec<(String, Span, &str)> = Vec::new();
        for route in endpoint
            .node
            .get("routes")
            .map(Node::entries)
            .unwrap_or_default()
        {
            let Ok(key) = RouteKey::parse(&route.key) else {
                continue;
            };
            let shape = key.match_key();
            if let Some((_, first_span, first_key)) = seen.iter().find(|(s, _, _)| *s == shape) {
                out.push(
                    Diagnostic::new(
                        &DUPLICATE_ROUTE,
                        route.key_span,
                        format!(
                            "route `{}` of endpoint `{}` matches the same requests as `{first_key}`",
                            route.key, endpoint.name
                        ),
                    )
                    .label("duplicate route")
                    .related(*first_span, format!("`{first_key}` is defined here"))
                    .help("remove one of the routes, or give them different paths"),
                );
            } else {
                seen.push((shape, route.key_span, &route.key));
            }
        }
    }
}

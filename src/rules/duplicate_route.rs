use std::collections::hash_map::{Entry, HashMap};

use crate::diagnostic::Diagnostic;
use crate::load::Span;
use crate::model::route_key::{Method, RouteShape};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports two routes of one endpoint that match the same requests, pointing at both.
    /// Parameter names do not count (`/users/{id}` and `/users/{user_id}` are the same
    /// route). A `GET` and a `WS` route may share a path, as in Starlette and FastAPI: the
    /// worker sends a WebSocket upgrade to the `WS` route and a plain GET to the `GET` route.
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
    pub static DUPLICATE_ROUTE = ("FL0208", "duplicate-route", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    // One map per endpoint: the first route of each shape (linear in the number of routes).
    let mut seen: HashMap<(Method, RouteShape), (Span, &str)> = HashMap::new();
    let mut endpoint = None;
    for route in project.routes() {
        if endpoint != Some(route.endpoint) {
            seen.clear();
            endpoint = Some(route.endpoint);
        }
        let Ok(key) = &route.key else { continue };
        if !route.path_problems.is_empty() {
            continue; // reported by FL0206; comparing a malformed path would only cascade
        }
        // The route contract decides: one method, one shape (parameter names do not count).
        match seen.entry((key.method, key.shape())) {
            Entry::Occupied(first) => {
                let (first_span, first_key) = *first.get();
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
                    .related(first_span, format!("`{first_key}` is defined here"))
                    .help("remove one of the routes, or give them different paths"),
                );
            }
            Entry::Vacant(slot) => {
                slot.insert((route.entry.key_span, &route.entry.key));
            }
        }
    }
}

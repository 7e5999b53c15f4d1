use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, ParamFacts, ParamKind, Role};
use crate::model::route_key::Method;

declare_rule! {
    /// ## What it does
    /// Checks that the arguments of a `GET` route's handler are plain values a path segment or
    /// query string can carry: numbers, `bool`, `String`, `char`, unit-only enums of the crate,
    /// or `Option` of these. It reports `Vec`, maps, tuples, arrays, `serde_json::Value` and
    /// structs of the crate. Types of other crates are not reported (flashc cannot see them).
    ///
    /// ## Why
    /// A GET request has no body: its arguments arrive as `name=value` strings, which cannot
    /// hold a structure.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /search": search::run   # pub fn run(filter: Filter): use POST for a struct
    /// ```
    pub static QUERY_PARAMETER_TYPE = ("FL0706", "query-parameter-type", Error);
}

/// Reports each argument of a `GET` route's handler that a query string cannot carry (one
/// that cannot be deserialized at all is FL0705's).
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Role::Route {
            method: Method::Get,
            path: route,
            ..
        } = &u.role
        else {
            continue;
        };
        let Some(f) = u.function() else { continue };
        for p in &f.params {
            let ParamFacts::Bound(b) = p else { continue };
            let (ParamKind::Arg, None, Some(reason)) = (b.param.kind, &b.unreadable, &b.not_query)
            else {
                continue;
            };
            out.push(
                Diagnostic::new(
                    &QUERY_PARAMETER_TYPE,
                    u.span,
                    format!(
                        "parameter `{}: {}` of `{}` cannot come from the query string of `GET {route}`: {reason}",
                        b.param.name, b.param.ty, u.path
                    ),
                )
                .label("GET argument is not a plain value")
                .related_file(f.defined.clone(), "defined here")
                .help("a GET argument must be a number, `bool`, `String`, `char`, a unit-only enum, or `Option` of one; take structured input in a POST, PUT or PATCH route's JSON body"),
            );
        }
    }
}

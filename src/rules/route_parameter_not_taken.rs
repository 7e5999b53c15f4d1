use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, ParamFacts, ParamKind, Role};

declare_rule! {
    /// ## What it does
    /// Checks that every `{name}` segment of a route is a parameter of its handler, and
    /// suggests renaming when a parameter's name is close.
    ///
    /// ## Why
    /// Path parameters are bound to the handler's parameters by name; a segment no parameter
    /// takes would be silently ignored, which is almost always a typo.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/{id}": users::get   # pub fn get(user_id: i64): rename one of the two
    /// ```
    pub static ROUTE_PARAMETER_NOT_TAKEN = ("FL0704", "route-parameter-not-taken", Error);
}

/// Reports each `{name}` of a route that its handler takes no parameter for, suggesting the
/// parameter of a similar name to rename (or the segment).
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Role::Route {
            params: segments,
            key_span,
            ..
        } = &u.role
        else {
            continue;
        };
        let Some(f) = u.function() else { continue };
        let args: Vec<&str> = f
            .params
            .iter()
            .filter_map(|p| match p {
                ParamFacts::Bound(b) if b.param.kind == ParamKind::Arg => {
                    Some(b.param.argument_name())
                }
                _ => None,
            })
            .collect();
        for name in segments {
            let name = name.as_str();
            if !crate::model::route_key::is_identifier(name) || args.contains(&name) {
                continue;
            }
            let unused: Vec<&str> = args
                .iter()
                .copied()
                .filter(|a| !segments.iter().any(|s| s == a))
                .collect();
            // A parameter of a similar name: one spelling near the other, or one a prefix or
            // suffix of the other (`{id}` and `user_id: u64`). Renaming either is the fix.
            let close = crate::suggest::closest(name, unused.iter().copied()).or_else(|| {
                unused.iter().copied().find(|a| {
                    a.starts_with(name)
                        || name.starts_with(a)
                        || a.ends_with(name)
                        || name.ends_with(a)
                })
            });
            let help = match close {
                Some(close) => format!(
                    "rename `{{{name}}}` to `{{{close}}}` in the route, or the parameter `{close}` to `{name}`"
                ),
                None => format!(
                    "add a parameter named `{name}` (such as `{name}: String`) to `{}`, or remove `{{{name}}}` from the route",
                    f.name
                ),
            };
            out.push(
                Diagnostic::new(
                    &ROUTE_PARAMETER_NOT_TAKEN,
                    u.span,
                    format!(
                        "route parameter `{{{name}}}` is not a parameter of `{}`",
                        u.path
                    ),
                )
                .label(format!("takes no `{name}`"))
                .related(*key_span, format!("`{{{name}}}` is in this route"))
                .related_file(f.defined.clone(), "defined here")
                .help(help),
            );
        }
    }
}

use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, ParamFacts, ParamKind, Role};

declare_rule! {
    /// ## What it does
    /// Checks that every parameter of a handler can be bound: an argument by name whose type
    /// can be deserialized, the endpoint's state (`&S` or `Arc<S>`, which needs an `init`), or
    /// the context (`Context` or `&Context`). It reports references other than state and
    /// context (`&str`: take `String`), `&mut`, pattern parameters, `impl Trait` and generic
    /// parameters, state on an endpoint without `init`, and crate types that do not derive
    /// `Deserialize`.
    ///
    /// ## Why
    /// The generated worker reads each argument from the request or job input by name; it
    /// can only produce owned, deserializable values of a concrete type.
    ///
    /// ## Example
    /// ```rust
    /// pub fn greet(name: &str) -> String {   // write `name: String`
    ///     format!("hello {name}")
    /// }
    /// ```
    pub static UNBINDABLE_PARAMETER = ("FL0705", "unbindable-parameter", Error);
}

/// Reports each handler parameter nothing can bind: a generic handler, a parameter of a shape
/// that cannot be bound, state without an `init`, an argument whose type cannot be
/// deserialized, and a whole-input parameter beside another argument of the same input.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let path_params: &[String] = match &u.role {
            Role::Route { params, .. } => params,
            Role::Queue { .. } => &[],
            Role::Init | Role::UnparsedRoute => continue,
        };
        let Some(f) = u.function() else { continue };
        let path = &u.path;
        let here = || f.defined.clone();
        if let Some(generic) = &f.generic {
            out.push(
                Diagnostic::new(
                    &UNBINDABLE_PARAMETER,
                    u.span,
                    format!("`{path}` is generic over `{generic}`: generated code cannot choose the type"),
                )
                .label("generic handler")
                .related_file(here(), "defined here")
                .help("give the handler concrete parameter and return types"),
            );
        }
        for p in &f.params {
            let b = match p {
                ParamFacts::Unbindable { text, reason, help } => {
                    out.push(
                        Diagnostic::new(
                            &UNBINDABLE_PARAMETER,
                            u.span,
                            format!("parameter `{text}` of `{path}` cannot be bound: {reason}"),
                        )
                        .label("has a parameter nothing can bind")
                        .related_file(here(), "defined here")
                        .help(help.clone()),
                    );
                    continue;
                }
                ParamFacts::Bound(b) => b,
            };
            let text = format!("{}: {}", b.param.name, b.param.ty);
            match b.param.kind {
                ParamKind::State(_) if !u.role.init().is_some_and(|i| i.declared) => {
                    let endpoint = &u.endpoint;
                    out.push(
                        Diagnostic::new(
                            &UNBINDABLE_PARAMETER,
                            u.span,
                            format!(
                                "parameter `{text}` of `{path}` takes the endpoint's state, but endpoint `{endpoint}` has no `init`"
                            ),
                        )
                        .label("takes state")
                        .related_file(here(), "defined here")
                        .help(format!(
                            "add `init:` to endpoint `{endpoint}`, naming a function that returns `{0}`; or take the value as an argument (`{1}: {0}`)",
                            b.inner_ty, b.param.name
                        )),
                    );
                }
                ParamKind::Arg | ParamKind::Whole => {
                    if let Some(problem) = &b.unreadable {
                        let mut d = Diagnostic::new(
                            &UNBINDABLE_PARAMETER,
                            u.span,
                            format!(
                                "parameter `{text}` of `{path}` cannot be read from a request: {}",
                                problem.reason
                            ),
                        )
                        .label("argument cannot be deserialized")
                        .related_file(here(), "defined here");
                        if let Some(def) = &problem.def {
                            d = d.related_file(def.clone(), "defined here without `Deserialize`");
                        }
                        out.push(d.help(problem.help.clone()));
                    }
                }
                ParamKind::State(_) | ParamKind::Context(_) => {}
            }
        }
        // `Input<T>` takes every argument of the input or body at once: nothing is left for
        // another parameter to take by name (path parameters are not part of it).
        let bound = || {
            f.params.iter().filter_map(|p| match p {
                ParamFacts::Bound(b) => Some(&b.param),
                ParamFacts::Unbindable { .. } => None,
            })
        };
        let Some(whole) = bound().find(|p| p.kind == ParamKind::Whole) else {
            continue;
        };
        let from = match &u.role {
            Role::Queue { .. } => "the job's input",
            Role::Route { method, .. } if method.as_str() == "GET" => "the query string",
            _ => "the JSON body",
        };
        let others: Vec<String> = bound()
            .filter(|p| {
                (p.kind == ParamKind::Whole && !std::ptr::eq(*p, whole))
                    || (p.kind == ParamKind::Arg
                        && !path_params.iter().any(|s| s == p.argument_name()))
            })
            .map(|p| format!("`{}: {}`", p.name, p.ty))
            .collect();
        if !others.is_empty() {
            out.push(
                Diagnostic::new(
                    &UNBINDABLE_PARAMETER,
                    u.span,
                    format!(
                        "`{path}` takes all of {from} as `{}: {}`, and also {} from it",
                        whole.name,
                        whole.ty,
                        others.join(", ")
                    ),
                )
                .label("takes the whole input and part of it")
                .related_file(here(), "defined here")
                .help(format!(
                    "add the field to the type inside `Input<…>` and read it there, or take every argument by name instead of `{}`",
                    whole.ty
                )),
            );
        }
    }
}

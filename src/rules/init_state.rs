use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, ParamFacts, ParamKind, Returns, Role};

declare_rule! {
    /// ## What it does
    /// Checks an endpoint's `init` against its handlers: init takes no parameters, returns
    /// the state once (`S` or `Result<S, E>`, not a stream), and every handler that takes
    /// state (`&S` or `Arc<S>`) takes the type init returns.
    ///
    /// ## Why
    /// The worker calls init once, with nothing, before it reports ready, and hands what it
    /// returned to every handler of the endpoint.
    ///
    /// ## Example
    /// ```yaml
    /// embed:
    ///   type: queue
    ///   init: model::load        # pub fn load() -> Tokenizer
    ///   handler: model::embed    # pub fn embed(model: &Model, ...): the types differ
    /// ```
    pub static INIT_STATE = ("FL0709", "init-state", Error);
}

/// Reports an init that takes parameters or returns a stream, and a handler whose state
/// parameter's type is not what its endpoint's init returns.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Some(f) = u.function() else { continue };
        let path = &u.path;
        if let Role::Init = u.role {
            if !f.inputs.is_empty() {
                out.push(
                    Diagnostic::new(
                        &INIT_STATE,
                        u.span,
                        format!(
                            "init `{path}` takes parameters ({}), but init is called with none",
                            f.inputs.join(", ")
                        ),
                    )
                    .label("takes parameters")
                    .related_file(f.defined.clone(), "defined here")
                    .help(format!(
                        "remove the parameters of `{}`; read settings from environment variables (`std::env::var`) set in `env:`",
                        f.name
                    )),
                );
            }
            if let Returns::Stream { .. } = f.returns {
                out.push(
                    Diagnostic::new(
                        &INIT_STATE,
                        u.span,
                        format!("init `{path}` returns a stream, but init returns the endpoint's state once"),
                    )
                    .label("returns a stream")
                    .related_file(f.defined.clone(), "defined here")
                    .help(format!("return the state (`-> Model` or `-> Result<Model, E>`) from `{}`", f.name)),
                );
            }
            continue;
        }
        let Some(init) = u.role.init().and_then(|i| i.state.as_ref()) else {
            continue;
        };
        for p in &f.params {
            let ParamFacts::Bound(b) = p else { continue };
            if !matches!(b.param.kind, ParamKind::State(_)) || b.inner_key == init.key {
                continue;
            }
            out.push(
                Diagnostic::new(
                    &INIT_STATE,
                    u.span,
                    format!(
                        "parameter `{}: {}` of `{path}` takes state `{}`, but init `{}` returns `{}`",
                        b.param.name, b.param.ty, b.inner_ty, init.path, init.ty
                    ),
                )
                .label("state type differs")
                .related_file(f.defined.clone(), "handler defined here")
                .related_file(init.defined.clone(), "init defined here")
                .help(format!(
                    "take `&{0}` (or `Arc<{0}>`), or make `{1}` return `{2}`",
                    init.ty, init.path, b.inner_ty
                )),
            );
        }
    }
}

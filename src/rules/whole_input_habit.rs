use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, ParamFacts, ParamKind, Role, TypeShape};
use crate::model::route_key::Method;

declare_rule! {
    /// ## What it does
    /// Warns when a handler's only argument is named like the whole request (`input`, `data`,
    /// `payload`, `body`, `request`, `job`) and typed like one (`serde_json::Value`, a map or a
    /// struct), but is bound by name: it receives the field of that name, not the whole input.
    ///
    /// ## Why
    /// A Flash queue handler `def process_data(input: dict)` receives the job's whole `input`.
    /// flashc binds each parameter to the field of its name, so the same function ported as
    /// `process_data(input: Value)` and called with `{"input": {"your": "data"}}` would be
    /// refused with a 422 (`input.input` is missing). `flash_runtime::Input<T>` takes the whole
    /// input (or JSON body) as one value.
    ///
    /// ## Example
    /// ```rust
    /// // binds the field `input` of the job's input; for the whole input write
    /// // `pub async fn process_data(Input(input): Input<Value>)`
    /// pub async fn process_data(input: serde_json::Value) -> serde_json::Value {
    ///     input
    /// }
    /// ```
    pub static WHOLE_INPUT_HABIT = ("FL0712", "whole-input-habit", Warning);
}

/// Names that say "the whole request" in Flash and FastAPI code.
const WHOLE_NAMES: &[&str] = &["input", "data", "payload", "body", "request", "job"];

/// Reports a queue or body-taking route handler whose only argument has a whole-input name
/// and a structured type.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let (from, path_params): (&str, &[String]) = match &u.role {
            Role::Queue { .. } => ("the job's input", &[]),
            Role::Route { method, params, .. } if *method != Method::Get => {
                ("the JSON body", params)
            }
            _ => continue,
        };
        let Some(f) = u.function() else { continue };
        let mut args = f.params.iter().filter_map(|p| match p {
            ParamFacts::Bound(b)
                if matches!(b.param.kind, ParamKind::Arg | ParamKind::Whole)
                    && !path_params.iter().any(|s| s == b.param.argument_name()) =>
            {
                Some(&b.param)
            }
            _ => None,
        });
        let (Some(only), None) = (args.next(), args.next()) else {
            continue;
        };
        let structured = matches!(only.shape.required().0, TypeShape::Any | TypeShape::Map);
        if only.kind != ParamKind::Arg
            || !structured
            || !WHOLE_NAMES.contains(&only.argument_name())
        {
            continue;
        }
        let name = only.argument_name();
        out.push(
            Diagnostic::new(
                &WHOLE_INPUT_HABIT,
                u.span,
                format!(
                    "`{}` takes `{}: {}`, which binds the field `{name}` of {from}, not all of it",
                    u.path, only.name, only.ty
                ),
            )
            .label("binds one field by name")
            .related_file(f.defined.clone(), "defined here")
            .help(format!(
                "to take all of {from} as one value, write `Input({name}): Input<{}>` (`flash_runtime::Input`); to bind the field, callers send `{{\"{name}\": …}}`",
                only.ty
            )),
        );
    }
}

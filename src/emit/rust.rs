//! The Rust expressions inside a worker's `main.rs`: for each handler, the closure's parameters
//! and the lines that bind its arguments and call the user's function. Templates own the file's
//! layout; this module owns the code that depends on a handler's signature.
//!
//! Nothing from flash.yaml is spliced in unchecked: function paths and parameter names were
//! validated as Rust identifiers by `check` and `resolve`, and string values (route paths) are
//! written as escaped Rust string literals.

use crate::lower::{ArgSource, CallPlan, EndpointPlan};
use crate::resolve::{InitFn, ParamKind, Pass, Returns};

/// A handler closure: `|state, mut call| async move { body }`.
pub struct Closure {
    pub params: String,
    pub body: Vec<String>,
    pub uses_bind: bool,
    pub uses_blocking: bool,
}

/// A Rust string literal for `text`, escaped so no value can end it early.
pub fn string_literal(text: &str) -> String {
    // `{:?}` on a str is a valid Rust literal: quotes, backslashes and control characters escaped.
    format!("{text:?}")
}

/// Local names the closure uses, chosen so no parameter of the user's function shadows them.
struct Names {
    state: &'static str,
    call: &'static str,
    ctx: &'static str,
    /// The variable of a whole-input parameter written as a pattern.
    input: &'static str,
}

impl Names {
    fn avoiding(taken: &[&str]) -> Names {
        let pick = |plain: &'static str, fallback: &'static str| {
            if taken.contains(&plain) {
                fallback
            } else {
                plain
            }
        };
        Names {
            state: pick("state", "flash_state"),
            call: pick("call", "flash_call"),
            ctx: pick("ctx", "flash_ctx"),
            input: pick("input", "flash_input"),
        }
    }
}

pub fn closure(lib: &str, plan: &CallPlan) -> Closure {
    let f = &plan.function;
    let taken: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
    let names = Names::avoiding(&taken);
    let mut bound = Vec::new();
    // `Input<T>` takes what the path parameters leave: bound after them, last.
    let mut whole = Vec::new();
    let mut args = Vec::new();
    let mut uses_state = false;
    let mut uses_ctx = false;
    for (param, source) in f.params.iter().zip(&plan.sources) {
        match param.kind {
            ParamKind::Arg => {
                bound.push(match source {
                    ArgSource::Path => format!("path {}", param.name),
                    _ => param.name.clone(),
                });
                args.push(param.name.clone());
            }
            ParamKind::Whole => {
                // A pattern (`Input(order)`) has no name to bind: the variable gets one.
                let name = if crate::model::route_key::is_identifier(param.argument_name()) {
                    param.name.clone()
                } else {
                    names.input.to_string()
                };
                whole.push(format!("whole {name}"));
                args.push(name);
            }
            ParamKind::State(pass) => {
                uses_state = true;
                args.push(match pass {
                    Pass::Ref => format!("&{}", names.state),
                    Pass::Owned => names.state.to_string(),
                });
            }
            ParamKind::Context(pass) => {
                uses_ctx = true;
                args.push(match pass {
                    Pass::Ref => format!("&{}", names.ctx),
                    Pass::Owned => names.ctx.to_string(),
                });
            }
        }
    }
    bound.append(&mut whole);
    let uses_call = uses_ctx || !bound.is_empty();
    let params = format!(
        "{}, {}",
        if uses_state {
            names.state.to_string()
        } else {
            format!("_{}", names.state)
        },
        match (uses_call, bound.is_empty()) {
            (false, _) => format!("_{}", names.call),
            (true, true) => names.call.to_string(),
            (true, false) => format!("mut {}", names.call),
        }
    );
    let mut body = Vec::new();
    if uses_ctx {
        body.push(format!("let {} = {}.context();", names.ctx, names.call));
    }
    if !bound.is_empty() {
        let pattern = if bound.len() == 1 {
            format!("({},)", args_only(&bound).join(", "))
        } else {
            format!("({})", args_only(&bound).join(", "))
        };
        body.push(format!(
            "let {pattern} = bind!({}, {})?;",
            names.call,
            bound.join(", ")
        ));
    }
    let call = format!("{lib}::{}({})", f.path, args.join(", "));
    let value = if f.is_async {
        format!("{call}.await")
    } else {
        format!("blocking(move || {call}).await?")
    };
    let reply = match &f.returns {
        Returns::Value { .. } => "json",
        Returns::Result { .. } => "result",
        Returns::Stream {
            fallible: false, ..
        } => "stream",
        Returns::Stream { fallible: true, .. } => "try_stream",
    };
    body.push(format!("Reply::{reply}({value})"));
    Closure {
        params,
        body,
        uses_bind: !bound.is_empty(),
        uses_blocking: !f.is_async,
    }
}

/// `path id` → `id`, `whole input` → `input`.
fn args_only(bound: &[String]) -> Vec<&str> {
    bound
        .iter()
        .map(|b| {
            b.strip_prefix("path ")
                .or_else(|| b.strip_prefix("whole "))
                .unwrap_or(b)
        })
        .collect()
}

/// The closure that runs the endpoint's `init` and turns its result into `Result<S, String>`.
pub fn init_closure(lib: &str, init: &InitFn) -> (String, bool) {
    let call = format!("{lib}::{}()", init.path);
    let body = match (init.is_async, init.fallible) {
        (true, true) => format!("{call}.await.map_err(|err| err.to_string())"),
        (true, false) => format!("Ok({call}.await)"),
        (false, true) => format!(
            "blocking({lib}::{}).await.map_err(|err| err.to_string())?.map_err(|err| err.to_string())",
            init.path
        ),
        (false, false) => format!(
            "blocking({lib}::{}).await.map_err(|err| err.to_string())",
            init.path
        ),
    };
    (format!("|| async {{ {body} }}"), !init.is_async)
}

/// `Duration::from_secs(30)`, or `from_millis` when the limit is not whole seconds.
pub fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("Duration::from_secs({})", ms / 1000)
    } else {
        format!("Duration::from_millis({ms})")
    }
}

/// The `use` lines a worker needs, and nothing more (an unused import fails clippy).
pub fn imports(endpoint: &EndpointPlan, uses_bind: bool, uses_blocking: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let route_timeouts = endpoint.routes.iter().any(|r| r.timeout_ms.is_some());
    if endpoint.execution_timeout_ms.is_some() || route_timeouts {
        lines.push("use std::time::Duration;".to_string());
        lines.push(String::new());
    }
    lines.push("use flash_runtime::handler::{handler, Reply};".to_string());
    match endpoint.kind {
        crate::lower::Kind::LoadBalanced if route_timeouts => {
            lines.push("use flash_runtime::lb::{App, RouteOptions};".to_string())
        }
        crate::lower::Kind::LoadBalanced => lines.push("use flash_runtime::lb::App;".to_string()),
        crate::lower::Kind::Queue => {
            lines.push("use flash_runtime::queue::QueueWorker;".to_string())
        }
    }
    match (uses_bind, uses_blocking) {
        (true, true) => lines.push("use flash_runtime::{bind, blocking};".to_string()),
        (true, false) => lines.push("use flash_runtime::bind;".to_string()),
        (false, true) => lines.push("use flash_runtime::blocking;".to_string()),
        (false, false) => {}
    }
    lines
}

/// A module name for endpoint `name` (`gpu-backend` → `gpu_backend`): an identifier that is no
/// keyword and not taken by an earlier endpoint (`taken` counts what was handed out).
pub fn module_name(name: &str, taken: &mut std::collections::BTreeMap<String, usize>) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if ident.is_empty()
        || ident.starts_with(|c: char| c.is_ascii_digit())
        || syn::parse_str::<syn::Ident>(&ident).is_err()
    {
        ident = format!("endpoint_{ident}");
    }
    let count = taken.entry(ident.clone()).or_insert(0);
    *count += 1;
    if *count > 1 {
        ident = format!("{ident}_{count}");
    }
    ident
}

#[cfg(test)]
mod tests {
    use super::string_literal;

    /// Whatever a string holds, it comes back out of the generated literal unchanged: it cannot
    /// end the literal early and become code.
    #[test]
    fn string_literals_cannot_be_escaped_from() {
        for hostile in [
            "/users/{id}",
            "\"); std::process::exit(1); (\"",
            "\\\"",
            "line\nbreak\r\t\0",
            "\u{202e}rtl\u{2066}",
            "r#\"raw\"#",
            "{}{{}}",
        ] {
            let literal = string_literal(hostile);
            let parsed: syn::LitStr = syn::parse_str(&literal)
                .unwrap_or_else(|e| panic!("{literal} is not one string literal: {e}"));
            assert_eq!(parsed.value(), hostile, "{literal}");
        }
    }
}

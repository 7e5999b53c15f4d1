use std::collections::HashSet;

use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, MissingFn, NotFound};
use crate::load::Span;

declare_rule! {
    /// ## What it does
    /// Checks that every `handler`, `init` and route handler names a function of the handler
    /// crate, by its path from the crate root. It suggests the closest function's path, drops
    /// a leading crate name (`shop::users::get` is written `users::get`), says when the path
    /// names a module, a type or a type's associated function instead, and reports a module
    /// whose file is missing or does not parse (with the Rust file and line).
    ///
    /// ## Why
    /// The generated worker calls the function by this path; a path that names nothing would
    /// fail later, in the Docker build, with an error about generated code.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/{id}": users::gett     # did you mean `users::get`?
    ///   "POST /users": shop::users::create # write `users::create`
    /// ```
    pub static HANDLER_NOT_FOUND = ("FL0702", "handler-not-found", Error);
}

/// Reports every handler string that names no function, with what it names instead and the
/// likeliest fix; a module whose file is missing or broken once.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    let mut broken_reported = HashSet::new();
    for u in uses {
        let Err(not_found) = &u.lookup else { continue };
        let (path, span) = (u.path.as_str(), u.span);
        let d = match not_found {
            NotFound::Module { example, declared } => {
                let help = match example {
                    Some(e) => format!("name a function in it, such as `{e}`"),
                    None => format!("name a `pub fn` of the module, such as `{path}::function`"),
                };
                let d = Diagnostic::new(
                    &HANDLER_NOT_FOUND,
                    span,
                    format!("`{path}` is a module, not a function"),
                )
                .label("a module")
                .help(help);
                match declared {
                    Some(decl) => d.related_file(decl.clone(), "module declared here"),
                    None => d,
                }
            }
            NotFound::Type {
                name,
                is_struct,
                defined,
            } => {
                let what = if *is_struct { "a struct" } else { "an enum" };
                Diagnostic::new(
                    &HANDLER_NOT_FOUND,
                    span,
                    format!("`{path}` is {what}, not a function"),
                )
                .label(what)
                .related_file(defined.clone(), "defined here")
                .help(format!(
                    "a handler is a free `pub fn` (not a type or a method): write one that takes or returns `{name}`"
                ))
            }
            NotFound::Broken(module) => {
                if !broken_reported.insert(module.id) {
                    continue;
                }
                let Some(problem) = &module.problem else {
                    continue;
                };
                let file = &problem.file;
                if problem.missing && module.is_root {
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: {}", problem.message),
                    )
                    .label("not resolved")
                    .help(format!(
                        "create `{file}`, the library root of package `{}`",
                        module.package
                    ))
                } else if problem.missing {
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: {}", problem.message),
                    )
                    .label("not resolved")
                    .related_file(problem.at.clone(), "module declared here")
                    .help(format!(
                        "create `{file}`, or declare the module inline (`pub mod {} {{ ... }}`)",
                        module.name
                    ))
                } else {
                    Diagnostic::new(
                        &HANDLER_NOT_FOUND,
                        span,
                        format!("cannot look up `{path}`: `{file}` does not parse"),
                    )
                    .label("not resolved")
                    .related_file(problem.at.clone(), problem.message.clone())
                    .help("fix the syntax error (`cargo check` shows it), then check again")
                }
            }
            NotFound::Method { type_name, defined } => {
                let owner = path.rsplit_once("::").map_or(path, |(owner, _)| owner);
                let method = path.rsplit("::").next().unwrap_or(path);
                Diagnostic::new(
                    &HANDLER_NOT_FOUND,
                    span,
                    format!("`{path}` is an associated function of `{type_name}`, not a free function"),
                )
                .label("a method path")
                .related_file(defined.clone(), "type defined here")
                .help(format!(
                    "handlers are free functions: write a `pub fn` that calls `{type_name}::{method}`{} and name it here",
                    match owner.rsplit_once("::") {
                        Some((module, _)) => format!(" (in module `{module}`)"),
                        None => String::new(),
                    }
                ))
            }
            NotFound::Missing(missing) => self::missing(path, span, missing),
        };
        out.push(d);
    }
}

fn missing(path: &str, span: Span, facts: &MissingFn) -> Diagnostic {
    let lib = &facts.lib;
    let d = Diagnostic::new(
        &HANDLER_NOT_FOUND,
        span,
        format!("function `{path}` not found in crate `{lib}`"),
    )
    .label("no such function");
    if let Some((prefix, rest)) = &facts.without_prefix {
        return d.help(format!(
            "paths are written from the crate root, without `{prefix}::`: write `{rest}`"
        ));
    }
    if let Some(hint) = crate::suggest::did_you_mean(path, facts.paths.iter().map(String::as_str)) {
        return d.help(hint);
    }
    let name = path.rsplit("::").next().unwrap_or(path);
    if let Some(m) = &facts.reached {
        let place = if m.path.is_empty() {
            format!("the crate root (`{}`)", m.file)
        } else {
            format!("module `{}` (`{}`)", m.path, m.file)
        };
        let help = if m.has_macros {
            format!(
                "define `pub fn {name}` in {place}; flashc reads functions as written, so one a macro generates is not seen: write the handler as a plain `pub fn` that calls it"
            )
        } else if m.functions.is_empty() {
            format!("define `pub fn {name}` in {place}")
        } else {
            let shown: Vec<String> = m
                .functions
                .iter()
                .take(8)
                .map(|n| format!("`{n}`"))
                .collect();
            format!(
                "define `pub fn {name}` in {place}; it has {}",
                shown.join(", ")
            )
        };
        return d.help(help);
    }
    let help = if facts.paths.is_empty() {
        format!(
            "the crate defines no functions yet: write `pub fn {name}` in a `pub mod` reachable from `{}`",
            facts.lib_file
        )
    } else {
        let shown: Vec<String> = facts
            .paths
            .iter()
            .take(8)
            .map(|p| format!("`{p}`"))
            .collect();
        format!(
            "write the path from the crate root through `pub mod`s, such as {}",
            shown.join(", ")
        )
    };
    d.help(help)
}

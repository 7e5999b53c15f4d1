use crate::diagnostic::Diagnostic;
use crate::facts::HandlerUse;

declare_rule! {
    /// ## What it does
    /// Checks that each handler and init function is reachable from another crate: the
    /// function is `pub`, and every module on its path is a `pub mod` (or the function is
    /// re-exported with `pub use`). The help names the item to make public.
    ///
    /// ## Why
    /// The generated worker is a separate crate that calls the function; `pub(crate)`, a
    /// private function or a private module would not compile there.
    ///
    /// ## Example
    /// ```rust
    /// mod users {                  // write `pub mod users`
    ///     pub fn get(id: i64) -> i64 {
    ///         id
    ///     }
    /// }
    /// ```
    pub static HANDLER_NOT_PUBLIC = ("FL0703", "handler-not-public", Error);
}

/// Reports every handler string whose function, or a module on the way, is not public; a
/// public path that reaches the same function (a `pub use` re-export) is the first fix, since
/// it changes no Rust.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Some(private) = u.lookup.as_ref().ok().and_then(|f| f.private.as_ref()) else {
            continue;
        };
        let path = &u.path;
        let help = match &private.public_path {
            Some(public) => format!(
                "write `{public}`: the function is public there; or {}",
                private.help
            ),
            None => private.help.clone(),
        };
        out.push(
            Diagnostic::new(
                &HANDLER_NOT_PUBLIC,
                u.span,
                if private.what.starts_with("function") {
                    format!("function `{path}` is not `pub`")
                } else {
                    format!(
                        "function `{path}` is not public: {} is private",
                        private.what
                    )
                },
            )
            .label("not reachable from the generated worker")
            .related_file(private.at.clone(), "private")
            .help(help),
        );
    }
}

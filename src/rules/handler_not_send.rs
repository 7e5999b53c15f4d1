use crate::diagnostic::Diagnostic;
use crate::facts::{HandlerUse, NotSend};

declare_rule! {
    /// ## What it does
    /// Checks that what a handler returns can be sent to another thread: no `Rc`, `RefCell` or
    /// `Cell` in the value or the error, and no trait object without `Send` (a
    /// `Box<dyn std::error::Error>` must be `Box<dyn std::error::Error + Send + Sync>`).
    ///
    /// ## Why
    /// Workers run handlers on a multi-threaded runtime: a call's future and its result move
    /// between threads, so they must be `Send` (and an error shared with the log, `Sync`).
    /// Without this check the mistake is a compiler error inside the generated `.flash/`
    /// crate, far from the handler that causes it.
    ///
    /// ## Example
    /// ```rust
    /// // Box<dyn std::error::Error + Send + Sync>, or anyhow::Error
    /// pub fn load(id: u64) -> Result<String, Box<dyn std::error::Error>> {
    ///     Ok(id.to_string())
    /// }
    /// ```
    pub static HANDLER_NOT_SEND = ("FL0710", "handler-not-send", Error);
}

/// Reports each handler whose return type holds something not `Send`. One diagnostic per
/// mistake: a value FL0707 refuses (a trait object) is not also reported here.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Some(f) = u.served() else { continue };
        let (Some(problem), None) = (&f.not_send, &f.unserializable) else {
            continue;
        };
        out.push(
            Diagnostic::new(
                &HANDLER_NOT_SEND,
                u.span,
                format!(
                    "the return type of `{}` holds {problem}, which cannot be sent between the worker's threads",
                    u.path
                ),
            )
            .label("return type is not `Send`")
            .related_file(f.defined.clone(), "defined here")
            .help(match problem {
                NotSend::TraitObject(_) => "add `+ Send + Sync` to the trait object (`Box<dyn std::error::Error + Send + Sync>`), or return `anyhow::Error` or your own error type".to_string(),
                NotSend::Type(name) => format!("return an owned value without `{name}` (`Arc` for `Rc`, `Mutex` for `RefCell` and `Cell`)"),
            }),
        );
    }
}

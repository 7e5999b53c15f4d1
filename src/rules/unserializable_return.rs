use crate::diagnostic::Diagnostic;
use crate::facts::HandlerUse;

declare_rule! {
    /// ## What it does
    /// Checks that what a handler returns (the value, the `Ok` of a `Result`, or the items of a
    /// stream) can be serialized as JSON: not a reference, raw pointer, function pointer,
    /// trait object or `impl Trait` (other than `impl Stream`), and, for the crate's own
    /// types, one that derives or implements `Serialize`.
    ///
    /// ## Why
    /// The worker answers with the value as JSON once the handler has returned; borrowed or
    /// opaque values cannot be sent.
    ///
    /// ## Example
    /// ```rust
    /// pub fn name() -> &'static str {   // return `String`
    ///     "shop"
    /// }
    /// ```
    pub static UNSERIALIZABLE_RETURN = ("FL0707", "unserializable-return", Error);
}

/// Reports each handler whose answer (the value, the `Ok` value or a stream's items) cannot
/// be serialized.
pub fn check(uses: &[HandlerUse], out: &mut Vec<Diagnostic>) {
    for u in uses {
        let Some(f) = u.served() else { continue };
        let Some(problem) = &f.unserializable else {
            continue;
        };
        let mut d = Diagnostic::new(
            &UNSERIALIZABLE_RETURN,
            u.span,
            format!(
                "`{}` returns a value that cannot be sent as JSON: {}",
                u.path, problem.reason
            ),
        )
        .label("return type cannot be serialized")
        .related_file(f.defined.clone(), "defined here");
        if let Some(def) = &problem.def {
            d = d.related_file(def.clone(), "defined here without `Serialize`");
        }
        out.push(d.help(problem.help.clone()));
    }
}

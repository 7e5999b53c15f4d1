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

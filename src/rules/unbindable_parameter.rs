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

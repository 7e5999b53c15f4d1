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

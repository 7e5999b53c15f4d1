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

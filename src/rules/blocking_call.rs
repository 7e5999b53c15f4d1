declare_rule! {
    /// ## What it does
    /// Warns when an `async fn` handler calls a function known to block its thread:
    /// `std::thread::sleep`, the `std::fs` reads and writes (`read`, `read_to_string`, `write`,
    /// `copy`, `File::open`, `File::create`), `reqwest::blocking`, `std::process::Command`'s
    /// `output` and `status`.
    ///
    /// ## Why
    /// An `async fn` runs on the worker's async threads: while it blocks, `/ping`, the
    /// endpoint's other requests and the queue heartbeat wait. The worker reports such a
    /// handler when it happens (a poll longer than 200 ms); this catches the calls it can see
    /// before deploying. CPU-heavy code cannot be seen this way.
    ///
    /// ## Example
    /// ```rust
    /// pub async fn load(path: String) -> String {
    ///     std::fs::read_to_string(path).unwrap()   // use tokio::fs, flash_runtime::blocking,
    /// }                                             // or make the handler a plain `fn`
    /// ```
    pub static BLOCKING_CALL = ("FL0711", "blocking-call", Warning);
}

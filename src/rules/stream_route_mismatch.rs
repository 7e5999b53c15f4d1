declare_rule! {
    /// ## What it does
    /// Checks that stream handlers (returning `impl Stream<Item = T>`) serve `WS` routes and
    /// that `WS` routes are served by stream handlers. A queue endpoint's handler may be
    /// either (a stream handler's items become the job's stream output).
    ///
    /// ## Why
    /// An HTTP route answers once; a WebSocket route sends one frame per item of a stream.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /events": events::watch   # returns impl Stream: write "WS /events"
    /// ```
    pub static STREAM_ROUTE_MISMATCH = ("FL0708", "stream-route-mismatch", Error);
}

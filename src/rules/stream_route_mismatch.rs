declare_rule! {
    /// ## What it does
    /// Checks that stream handlers (returning `impl Stream<Item = T>`) serve `WS` routes and
    /// that `WS` routes are served by stream handlers. A queue endpoint's handler may be
    /// either (a stream handler's items become the job's stream output), but
    /// `return_aggregate_stream: true` is only for a stream handler.
    ///
    /// ## Why
    /// An HTTP route answers once; a WebSocket route sends one frame per item of a stream. A
    /// queue job's output is the chunks of a stream only when there are chunks: on a handler
    /// that returns one value, the setting would silently do nothing.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /events": events::watch   # returns impl Stream: write "WS /events"
    /// ```
    pub static STREAM_ROUTE_MISMATCH = ("FL0708", "stream-route-mismatch", Error);
}

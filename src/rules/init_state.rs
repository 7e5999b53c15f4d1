declare_rule! {
    /// ## What it does
    /// Checks an endpoint's `init` against its handlers: init takes no parameters, returns
    /// the state once (`S` or `Result<S, E>`, not a stream), and every handler that takes
    /// state (`&S` or `Arc<S>`) takes the type init returns.
    ///
    /// ## Why
    /// The worker calls init once, with nothing, before it reports ready, and hands what it
    /// returned to every handler of the endpoint.
    ///
    /// ## Example
    /// ```yaml
    /// embed:
    ///   type: queue
    ///   init: model::load        # pub fn load() -> Tokenizer
    ///   handler: model::embed    # pub fn embed(model: &Model, ...): the types differ
    /// ```
    pub static INIT_STATE = ("FL0709", "init-state", Error);
}

declare_rule! {
    /// ## What it does
    /// Reports an environment overlay that overrides an endpoint the base file does not
    /// define, with the nearest endpoint name.
    ///
    /// ## Why
    /// An overlay changes endpoints; it cannot add one. A misspelt name would otherwise
    /// leave production running with the base settings while the file seems to say otherwise.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   embed: { type: queue, handler: embed::run }
    /// environments:
    ///   production:
    ///     endpoints:
    ///       embedd: { workers: [1, 10] }   # did you mean `embed`?
    /// ```
    pub static UNKNOWN_OVERLAY_TARGET = ("FL0602", "unknown-overlay-target", Error);
}

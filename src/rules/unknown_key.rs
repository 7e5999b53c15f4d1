declare_rule! {
    /// ## What it does
    /// Reports a key the format does not have, with the nearest known key ("did you mean
    /// `workers`?") or, for a known key written at the wrong level, where it belongs.
    ///
    /// ## Why
    /// An unknown key is almost always a typo or a key at the wrong level, and ignoring it
    /// (as Cog once did, cog#34) deploys something other than what the file says.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     type: load_balanced
    ///     worker: 3        # did you mean `workers`?
    /// ```
    pub static UNKNOWN_KEY = ("FL0101", "unknown-key", Error);
}

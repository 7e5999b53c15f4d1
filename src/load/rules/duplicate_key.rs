declare_rule! {
    /// ## What it does
    /// Reports a key that appears twice in the same mapping, pointing at both.
    ///
    /// ## Why
    /// Most YAML loaders keep the last value and drop the first without a word, so a second
    /// endpoint with the same name silently replaces the first (Flash drops one of two queue
    /// functions with the same name the same way). flashc refuses to guess.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   embed: { type: queue, handler: embed::run }
    ///   embed: { type: queue, handler: embed::run_v2 }
    /// ```
    /// Rename one of them.
    pub static DUPLICATE_KEY = ("FL0004", "duplicate-key", Error);
}

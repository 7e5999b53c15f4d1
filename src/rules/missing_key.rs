declare_rule! {
    /// ## What it does
    /// Reports a required key that is absent: `version`, `name` or `endpoints` at the top
    /// level, `handler` in a route written as a mapping, `secret` in a secret reference.
    ///
    /// ## Why
    /// Without them there is nothing to compile; the help shows the line to add.
    ///
    /// ## Example
    /// ```yaml
    /// name: my-app
    /// endpoints: { ... }
    /// # missing `version: 1`
    /// ```
    pub static MISSING_KEY = ("FL0105", "missing-key", Error);
}

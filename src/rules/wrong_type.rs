declare_rule! {
    /// ## What it does
    /// Reports a value of the wrong kind: a list where a string is expected, a string where
    /// a number is, `yes` where `true` is meant, an unquoted number in `env`.
    ///
    /// ## Why
    /// flashc reads YAML 1.2, where `yes` is a string and `8080` a number; saying so, with
    /// the fix, beats a deploy that fails later or behaves differently.
    ///
    /// ## Example
    /// ```yaml
    /// defaults:
    ///   flashboot: yes     # write `true`
    ///   env:
    ///     PORT_NUMBER: 8080  # quote it: "8080"
    /// ```
    pub static WRONG_TYPE = ("FL0102", "wrong-type", Error);
}

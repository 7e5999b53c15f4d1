declare_rule! {
    /// ## What it does
    /// Reports YAML that cannot be parsed: bad indentation, an unclosed quote or bracket,
    /// a tab used for indentation, a key without a value separator.
    ///
    /// ## Why
    /// Nothing else can be checked in a file that does not parse. The location is the
    /// mistake, not where the parser gave up: a tab used for indentation is reported at the
    /// tab, an unclosed quote or `[`/`{` at its opener; the message says what is wrong in
    /// plain words, with the fix. Also reports a merge key (`<<:`) whose value is not a
    /// mapping (or a list of mappings).
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     type: "load_balanced
    /// ```
    /// Close the quote: `type: "load_balanced"`.
    pub static YAML_SYNTAX = ("FL0001", "yaml-syntax", Error);
}

declare_rule! {
    /// ## What it does
    /// Reports a flash.yaml that is not valid UTF-8, at the first byte that is not.
    ///
    /// ## Why
    /// YAML files are UTF-8 text. A file in another encoding (Latin-1, UTF-16) would be read
    /// differently by every tool; re-save it as UTF-8.
    ///
    /// ## Example
    /// A file saved as Latin-1 with `name: café`.
    pub static NOT_UTF8 = ("FL0002", "not-utf8", Error);
}

declare_rule! {
    /// ## What it does
    /// Reports input beyond flashc's safety limits: a file over 8 MiB, nesting deeper than
    /// 64 levels, more than 1,000,000 nodes after expanding aliases (an "alias bomb"), more
    /// than one YAML document, an undefined alias, or a mapping key that is not a string.
    ///
    /// ## Why
    /// `flashc check` runs in editors and CI on files it did not write; it must answer in
    /// bounded time and memory whatever the input. No real flash.yaml comes near the limits.
    ///
    /// ## Example
    /// ```yaml
    /// a: &a [x, x, x, x, x, x, x, x, x]
    /// b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
    /// c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
    /// # ... nine more levels expand to billions of nodes
    /// ```
    pub static YAML_LIMITS = ("FL0003", "yaml-limits", Error);
}

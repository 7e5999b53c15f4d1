declare_rule! {
    /// ## What it does
    /// Checks that the arguments of a `GET` route's handler are plain values a path segment or
    /// query string can carry: numbers, `bool`, `String`, `char`, unit-only enums of the crate,
    /// or `Option` of these. It reports `Vec`, maps, tuples, arrays, `serde_json::Value` and
    /// structs of the crate. Types of other crates are not reported (flashc cannot see them).
    ///
    /// ## Why
    /// A GET request has no body: its arguments arrive as `name=value` strings, which cannot
    /// hold a structure.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /search": search::run   # pub fn run(filter: Filter): use POST for a struct
    /// ```
    pub static QUERY_PARAMETER_TYPE = ("FL0706", "query-parameter-type", Error);
}

declare_rule! {
    /// ## What it does
    /// Checks that every `{name}` segment of a route is a parameter of its handler, and
    /// suggests renaming when a parameter's name is close.
    ///
    /// ## Why
    /// Path parameters are bound to the handler's parameters by name; a segment no parameter
    /// takes would be silently ignored, which is almost always a typo.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/{id}": users::get   # pub fn get(user_id: i64): rename one of the two
    /// ```
    pub static ROUTE_PARAMETER_NOT_TAKEN = ("FL0704", "route-parameter-not-taken", Error);
}

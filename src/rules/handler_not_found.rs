declare_rule! {
    /// ## What it does
    /// Checks that every `handler`, `init` and route handler names a function of the handler
    /// crate, by its path from the crate root. It suggests the closest function's path, drops
    /// a leading crate name (`shop::users::get` is written `users::get`), says when the path
    /// names a module, a type or a type's associated function instead, and reports a module
    /// whose file is missing or does not parse (with the Rust file and line).
    ///
    /// ## Why
    /// The generated worker calls the function by this path; a path that names nothing would
    /// fail later, in the Docker build, with an error about generated code.
    ///
    /// ## Example
    /// ```yaml
    /// routes:
    ///   "GET /users/{id}": users::gett     # did you mean `users::get`?
    ///   "POST /users": shop::users::create # write `users::create`
    /// ```
    pub static HANDLER_NOT_FOUND = ("FL0702", "handler-not-found", Error);
}

declare_rule! {
    /// ## What it does
    /// Checks that the handler crate exists where `crate:` says (default `.`, the directory of
    /// flash.yaml): a directory inside the project with a `Cargo.toml` whose package has a
    /// library target that `cargo metadata` can read.
    ///
    /// ## Why
    /// Handlers are functions of that library; the generated workers depend on it, and the
    /// Docker build copies it, so it must be inside the directory of flash.yaml. To check
    /// flash.yaml alone, without the crate, run `flashc check --no-crate`.
    ///
    /// ## Example
    /// ```yaml
    /// crate: ../shared/handlers    # outside the build context: move it under this directory
    /// ```
    pub static CRATE_NOT_FOUND = ("FL0701", "crate-not-found", Error);
}

declare_rule! {
    /// ## What it does
    /// Warns when a version is written as an unquoted number that YAML reads as a different
    /// value: `min_cuda_version: 12.10` is the float 12.1, `1e1` is 10. Applies to every key
    /// whose name ends in `version`.
    ///
    /// ## Why
    /// YAML drops the trailing zero silently, so `12.10` would ask for CUDA 12.1. Quoting
    /// keeps the text as written, and flashc then checks that version as it is.
    ///
    /// ## Example
    /// ```yaml
    /// min_cuda_version: 12.10    # write "12.10" (and check it is a CUDA version)
    /// ```
    pub static FLOAT_VERSION = ("FL0005", "float-version", Warning);
}

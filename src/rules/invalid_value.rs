declare_rule! {
    /// ## What it does
    /// Reports a value outside a fixed set: an endpoint `type`, a GPU pool or model, a CPU
    /// flavor, a datacenter, a CUDA version, a scaler type, the format `version`; with the
    /// nearest allowed value.
    ///
    /// ## Why
    /// These names are Runpod's (kept from Flash so projects move over unchanged); a
    /// misspelt one would be rejected at deploy time, or worse, silently mean something else.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   embed:
    ///     gpu: ADA24     # did you mean `ADA_24`?
    /// ```
    pub static INVALID_VALUE = ("FL0103", "invalid-value", Error);
}

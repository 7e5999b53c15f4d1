declare_rule! {
    /// ## What it does
    /// Reports a number outside its bounds, or a list or mapping with too few or too many
    /// items: `idle_timeout` outside 1–3600 seconds, `gpu_count` below 1, a volume under
    /// 10 GB, `workers: [1]`, an empty `datacenters` list or `endpoints` mapping.
    ///
    /// ## Why
    /// The platform rejects these at deploy time or, worse, accepts them (Flash accepts
    /// `gpu_count: 0`); flashc says so while you edit, with the allowed range.
    ///
    /// ## Example
    /// ```yaml
    /// defaults:
    ///   idle_timeout: 7200   # must be between 1 and 3600
    /// ```
    pub static OUT_OF_RANGE = ("FL0104", "out-of-range", Error);
}

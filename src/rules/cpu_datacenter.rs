use crate::diagnostic::Diagnostic;
use crate::model::vocab::CPU_DATACENTERS;
use crate::validate::Project;

declare_rule! {
    /// ## What it does
    /// Reports a datacenter that does not run CPU endpoints, on an endpoint with `cpu`.
    /// CPU endpoints exist only in `EU-RO-1`.
    ///
    /// ## Why
    /// The platform would refuse the endpoint at deploy time.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     cpu: cpu3g-2-8
    ///     datacenters: [US-KS-2]    # CPU endpoints run only in EU-RO-1
    /// ```
    pub static CPU_DATACENTER = ("FL0305", "cpu-datacenter", Error, check);
}

fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        // With both `gpu` and `cpu`, which one is meant is FL0301's question.
        if spec.settings.gpu.is_some() {
            continue;
        }
        let (Some(_), Some(datacenters)) = (&spec.settings.cpu, &spec.settings.datacenters) else {
            continue;
        };
        let nodes = endpoint
            .node
            .get("datacenters")
            .map(|n| n.items())
            .unwrap_or_default();
        for (dc, node) in datacenters.iter().zip(nodes) {
            if !CPU_DATACENTERS.contains(&dc.0.as_str()) {
                out.push(
                    Diagnostic::new(
                        &CPU_DATACENTER,
                        node.span,
                        format!(
                            "CPU endpoints are not available in `{}`; CPU endpoints run only in {}",
                            dc.0,
                            CPU_DATACENTERS.join(", ")
                        ),
                    )
                    .label("no CPU workers here")
                    .related(
                        endpoint.key_span("cpu"),
                        format!("`{}` runs on CPUs", endpoint.name),
                    )
                    .help("use `datacenters: [EU-RO-1]`, or leave `datacenters` out"),
                );
            }
        }
    }
}

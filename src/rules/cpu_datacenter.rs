use crate::diagnostic::Diagnostic;
use crate::model::vocab::{cpu_flavor_datacenters, CPU_FLAVOR_DATACENTERS};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports a datacenter where an endpoint's CPU flavors do not run. Runpod 2.0: `cpu3g-*`
    /// and `cpu3c-*` flavors run in every datacenter except `EUR-NO-1`; `cpu5c-*` only in
    /// `EU-RO-1`. An endpoint listing several flavors may use a datacenter every one of them
    /// runs in. Without `datacenters`, CPU endpoints are deployed to `EU-RO-1`.
    ///
    /// ## Why
    /// The platform would refuse the endpoint at deploy time.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     cpu: cpu5c-2-4
    ///     datacenters: [US-KS-2]    # cpu5c flavors run only in EU-RO-1
    /// ```
    pub static CPU_DATACENTER = ("FL0305", "cpu-datacenter", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        // With both `gpu` and `cpu`, which one is meant is FL0301's question.
        if spec.settings.gpu.is_some() {
            continue;
        }
        let (Some(cpu), Some(datacenters)) = (&spec.settings.cpu, &spec.settings.datacenters)
        else {
            continue;
        };
        let flavors: Vec<&str> = cpu.as_slice().iter().map(|c| c.0.as_str()).collect();
        // The datacenters every listed flavor runs in, in the vocabulary's order.
        let allowed: Vec<&str> = CPU_FLAVOR_DATACENTERS
            .iter()
            .copied()
            .filter(|d| {
                flavors
                    .iter()
                    .all(|f| cpu_flavor_datacenters(f).contains(d))
            })
            .collect();
        let nodes = endpoint
            .node
            .get("datacenters")
            .map(|n| n.items())
            .unwrap_or_default();
        for (dc, node) in datacenters.iter().zip(nodes) {
            if allowed.contains(&dc.0.as_str()) {
                continue;
            }
            let blocking: Vec<&str> = flavors
                .iter()
                .copied()
                .filter(|f| !cpu_flavor_datacenters(f).contains(&dc.0.as_str()))
                .collect();
            out.push(
                Diagnostic::new(
                    &CPU_DATACENTER,
                    node.span,
                    format!(
                        "CPU flavor {} does not run in `{}`; {} run{} in {}",
                        blocking
                            .iter()
                            .map(|f| format!("`{f}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        dc.0,
                        if flavors.len() == 1 {
                            "it"
                        } else {
                            "the listed flavors"
                        },
                        if flavors.len() == 1 { "s" } else { "" },
                        allowed.join(", ")
                    ),
                )
                .label("no CPU workers of these flavors here")
                .related(
                    endpoint.key_span("cpu"),
                    format!("`{}` runs on CPUs", endpoint.name),
                )
                .help(if allowed.len() == 1 {
                    format!(
                        "use `datacenters: [{}]`, or leave `datacenters` out",
                        allowed[0]
                    )
                } else {
                    format!(
                        "use datacenters among {}, or leave `datacenters` out (EU-RO-1)",
                        allowed.join(", ")
                    )
                }),
            );
        }
    }
}

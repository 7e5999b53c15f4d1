use crate::diagnostic::Diagnostic;
use crate::model::vocab::cpu_flavor;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports a `container_disk` larger than a CPU endpoint's flavors allow. Each flavor
    /// caps the disk (10 GB per vCPU for `cpu3g`/`cpu3c`, 15 GB per vCPU for `cpu5c`); with
    /// several flavors the smallest cap applies, since a worker may land on any of them.
    ///
    /// ## Why
    /// The platform refuses the endpoint otherwise; the message names each flavor's cap.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     cpu: [cpu3c-2-4, cpu5c-4-8]
    ///     container_disk: 30    # cpu3c-2-4 allows 20 GB
    /// ```
    pub static CONTAINER_DISK = ("FL0306", "container-disk", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        // With both `gpu` and `cpu`, which one is meant is FL0301's question.
        if spec.settings.gpu.is_some() {
            continue;
        }
        let (Some(cpu), Some(disk)) = (&spec.settings.cpu, spec.settings.container_disk) else {
            continue;
        };
        let flavors: Vec<_> = cpu
            .as_slice()
            .iter()
            .filter_map(|c| cpu_flavor(&c.0))
            .collect();
        let Some(cap) = flavors.iter().map(|f| f.max_disk_gb).min() else {
            continue;
        };
        if disk > cap {
            let caps: Vec<String> = flavors
                .iter()
                .map(|f| format!("{} {} GB", f.id, f.max_disk_gb))
                .collect();
            out.push(
                Diagnostic::new(
                    &CONTAINER_DISK,
                    endpoint.value_span("container_disk"),
                    format!(
                        "`container_disk` {disk} GB exceeds the {cap} GB the CPU flavors allow ({})",
                        caps.join(", ")
                    ),
                )
                .label(format!("at most {cap} GB"))
                .related(endpoint.value_span("cpu"), "flavors chosen here")
                .help(format!("set `container_disk: {cap}` or less, or choose larger flavors")),
            );
        }
    }
}

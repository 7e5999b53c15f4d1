use crate::diagnostic::Diagnostic;
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports an endpoint that sets both `gpu` and `cpu`.
    ///
    /// ## Why
    /// A worker runs on a GPU machine or a CPU machine, not both. (An endpoint's own `cpu`
    /// replaces a `gpu` inherited from `defaults` or an overlay, and the reverse, so this
    /// fires only when one place sets both.)
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     gpu: ADA_24
    ///     cpu: cpu3g-2-8    # choose one
    /// ```
    pub static GPU_AND_CPU = ("FL0301", "gpu-and-cpu", Error);
}

declare_rule! {
    /// ## What it does
    /// Reports `gpu_count` or `min_cuda_version` on an endpoint that runs on CPUs.
    ///
    /// ## Why
    /// Neither means anything without a GPU, and keeping them suggests the endpoint was
    /// meant to have one.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   api:
    ///     cpu: cpu3g-2-8
    ///     gpu_count: 2      # GPU endpoints only
    /// ```
    pub static CPU_WITH_GPU_SETTINGS = ("FL0302", "cpu-with-gpu-settings", Error);
}

pub(super) fn check_both(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        if spec.settings.gpu.is_some() && spec.settings.cpu.is_some() {
            out.push(
                Diagnostic::new(
                    &GPU_AND_CPU,
                    endpoint.key_span("cpu"),
                    format!(
                        "endpoint `{}` sets both `gpu` and `cpu`; they are mutually exclusive",
                        endpoint.name
                    ),
                )
                .label("`cpu` set here")
                .related(endpoint.key_span("gpu"), "`gpu` set here")
                .help(
                    "keep `gpu` for a GPU worker or `cpu` for a CPU worker; with neither, any GPU",
                ),
            );
        }
    }
}

pub(super) fn check_gpu_settings(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        // With both `gpu` and `cpu`, FL0301 reports the one mistake.
        if spec.settings.cpu.is_none() || spec.settings.gpu.is_some() {
            continue;
        }
        for key in ["gpu_count", "min_cuda_version"] {
            if endpoint.node.get(key).is_some() {
                out.push(
                    Diagnostic::new(
                        &CPU_WITH_GPU_SETTINGS,
                        endpoint.key_span(key),
                        format!(
                            "`{key}` applies to GPU endpoints; `{}` runs on CPUs",
                            endpoint.name
                        ),
                    )
                    .label("GPU setting on a CPU endpoint")
                    .related(endpoint.key_span("cpu"), "CPU flavor chosen here")
                    .help(format!("remove `{key}`, or choose `gpu` instead of `cpu`")),
                );
            }
        }
    }
}

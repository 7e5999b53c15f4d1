use crate::diagnostic::Diagnostic;
use crate::model::vocab::{cuda_key, gpu_pool, pool_of_model};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Reports a `min_cuda_version` lower than a chosen GPU pool or model needs: Blackwell
    /// pools (`BLACKWELL_96`, `BLACKWELL_180`) and the RTX 5090 (`ADA_32_PRO`) need CUDA 12.8.
    ///
    /// ## Why
    /// Images built for an older CUDA cannot run on those cards, so the workers would fail on
    /// exactly the GPUs the file asks for.
    ///
    /// ## Example
    /// ```yaml
    /// endpoints:
    ///   train:
    ///     gpu: BLACKWELL_180
    ///     min_cuda_version: "12.4"    # needs 12.8 or later
    /// ```
    pub static CUDA_VERSION = ("FL0303", "cuda-version", Error);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        if spec.settings.cpu.is_some() {
            continue;
        }
        let (Some(gpu), Some(cuda)) = (&spec.settings.gpu, &spec.settings.min_cuda_version) else {
            continue;
        };
        for (index, choice) in gpu.as_slice().iter().enumerate() {
            let pool = gpu_pool(&choice.0).or_else(|| pool_of_model(&choice.0));
            let Some(pool) = pool else { continue };
            if cuda_key(&cuda.0) < cuda_key(pool.min_cuda) {
                let span = endpoint
                    .node
                    .get("gpu")
                    .map(|g| g.items().get(index).map_or(g.span, |item| item.span))
                    .unwrap_or(endpoint.name_span);
                out.push(
                    Diagnostic::new(
                        &CUDA_VERSION,
                        endpoint.value_span("min_cuda_version"),
                        format!(
                            "`min_cuda_version` {} is below the CUDA {} that `{}` needs",
                            cuda.0, pool.min_cuda, choice.0
                        ),
                    )
                    .label(format!("CUDA {} is too old", cuda.0))
                    .related(
                        span,
                        format!("`{}` needs CUDA {} or later", choice.0, pool.min_cuda),
                    )
                    .help(format!(
                        "set `min_cuda_version: \"{}\"` or later",
                        pool.min_cuda
                    )),
                );
            }
        }
    }
}

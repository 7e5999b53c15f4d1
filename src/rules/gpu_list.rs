use crate::diagnostic::Diagnostic;
use crate::model::vocab::{gpu_ids, gpu_pool, pool_of_model, GPU_ANY};
use crate::project::Project;

declare_rule! {
    /// ## What it does
    /// Warns when a `gpu` list does not constrain placement the way it reads: a model whose
    /// pool also serves cards that have no identifier (listing `NVIDIA_RTX_6000_ADA_GENERATION`
    /// also admits L40 and L40S), a model listed beside its own pool (the pool admits all its
    /// models), `any` beside other choices, or an entry listed twice. The message shows the
    /// exact `gpuIds` string Runpod will receive.
    ///
    /// ## Why
    /// Runpod places workers by pool; a model only narrows its pool by excluding the pool's
    /// other *named* models. Flash users were surprised by this (runpod/flash#366).
    ///
    /// ## Example
    /// ```yaml
    /// gpu: [ADA_24, NVIDIA_RTX_6000_ADA_GENERATION]
    /// # Runpod receives "ADA_24,ADA_48_PRO": workers may also land on L40 or L40S
    /// ```
    pub static GPU_LIST = ("FL0304", "gpu-list-placement", Warning);
}

pub(super) fn check(project: &Project, out: &mut Vec<Diagnostic>) {
    for (endpoint, spec) in project.typed() {
        let Some(gpu) = &spec.settings.gpu else {
            continue;
        };
        let choices: Vec<&str> = gpu.as_slice().iter().map(|c| c.0.as_str()).collect();
        let Some(node) = endpoint.node.get("gpu") else {
            continue;
        };
        let ids = gpu_ids(&choices);
        for (index, choice) in choices.iter().enumerate() {
            let span = node.items().get(index).map_or(node.span, |n| n.span);
            let reason = if choices[..index].contains(choice) {
                Some(format!("`{choice}` is listed twice"))
            } else if *choice == GPU_ANY && choices.len() > 1 {
                Some("`any` already admits every pool; the other entries add nothing".to_string())
            } else if let Some(pool) = pool_of_model(choice) {
                if choices.contains(&pool.id) {
                    Some(format!(
                        "`{choice}` is in pool `{}`, which is listed whole",
                        pool.id
                    ))
                } else if !pool.unnamed_cards.is_empty() {
                    Some(format!(
                        "`{choice}` selects pool `{}`, which also serves {}; workers may land on those too",
                        pool.id,
                        pool.unnamed_cards.join(" and ")
                    ))
                } else {
                    None
                }
            } else {
                gpu_pool(choice).and(None)
            };
            if let Some(reason) = reason {
                out.push(
                    Diagnostic::new(&GPU_LIST, span, format!("{reason} (Runpod receives gpuIds `{ids}`)"))
                        .label("does not narrow placement")
                        .help("list pools to choose by pool; a model only excludes its pool's other named models"),
                );
            }
        }
    }
}

//! Runpod's compute and placement vocabulary, as the Python Flash SDK names it
//! (`runpod-flash` 1.21.0), so Flash users keep their words. One table each; the schema's
//! enums and the rules both read from here.

/// A GPU pool (`GpuGroup`): its id, the model identifiers in it, and cards it serves that
/// have no identifier of their own (so a list of models cannot exclude them).
pub struct GpuPool {
    pub id: &'static str,
    pub models: &'static [&'static str],
    pub unnamed_cards: &'static [&'static str],
    /// The lowest CUDA version the pool's cards run.
    pub min_cuda: &'static str,
}

/// A GPU model (`GpuType`): identifier and the exact model string Runpod uses.
pub struct GpuModel {
    pub id: &'static str,
    pub name: &'static str,
}

pub static GPU_POOLS: &[GpuPool] = &[
    pool("ADA_24", &["NVIDIA_GEFORCE_RTX_4090"], &[], "11.8"),
    pool("ADA_32_PRO", &["NVIDIA_GEFORCE_RTX_5090"], &[], "12.8"),
    pool(
        "ADA_48_PRO",
        &["NVIDIA_RTX_6000_ADA_GENERATION"],
        &["NVIDIA L40", "NVIDIA L40S"],
        "11.8",
    ),
    pool(
        "ADA_80_PRO",
        // 2.0: the PCIe and NVL cards have model ids, so one H100 model can be pinned.
        &[
            "NVIDIA_H100_80GB_HBM3",
            "NVIDIA_H100_PCIe",
            "NVIDIA_H100_NVL",
        ],
        &[],
        "11.8",
    ),
    pool(
        "AMPERE_16",
        &[
            "NVIDIA_RTX_A4000",
            "NVIDIA_RTX_A4500",
            "NVIDIA_RTX_4000_ADA_GENERATION",
            "NVIDIA_RTX_2000_ADA_GENERATION",
        ],
        &[],
        "11.8",
    ),
    pool(
        "AMPERE_24",
        &["NVIDIA_RTX_A5000", "NVIDIA_L4", "NVIDIA_GEFORCE_RTX_3090"],
        &[],
        "11.8",
    ),
    pool(
        "AMPERE_48",
        &["NVIDIA_A40", "NVIDIA_RTX_A6000"],
        &[],
        "11.8",
    ),
    pool(
        "AMPERE_80",
        &["NVIDIA_A100_80GB_PCIe", "NVIDIA_A100_SXM4_80GB"],
        &[],
        "11.8",
    ),
    pool("HOPPER_141", &["NVIDIA_H200"], &[], "11.8"),
    pool(
        "BLACKWELL_96",
        &[
            "NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION",
            "NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION",
            "NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION",
        ],
        &[],
        "12.8",
    ),
    pool("BLACKWELL_180", &["NVIDIA_B200"], &[], "12.8"),
];

const fn pool(
    id: &'static str,
    models: &'static [&'static str],
    unnamed_cards: &'static [&'static str],
    min_cuda: &'static str,
) -> GpuPool {
    GpuPool {
        id,
        models,
        unnamed_cards,
        min_cuda,
    }
}

pub static GPU_MODELS: &[GpuModel] = &[
    model("NVIDIA_GEFORCE_RTX_4090", "NVIDIA GeForce RTX 4090"),
    model("NVIDIA_GEFORCE_RTX_5090", "NVIDIA GeForce RTX 5090"),
    model(
        "NVIDIA_RTX_6000_ADA_GENERATION",
        "NVIDIA RTX 6000 Ada Generation",
    ),
    model(
        "NVIDIA_RTX_PRO_6000_BLACKWELL_SERVER_EDITION",
        "NVIDIA RTX PRO 6000 Blackwell Server Edition",
    ),
    model(
        "NVIDIA_RTX_PRO_6000_BLACKWELL_WORKSTATION_EDITION",
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
    ),
    model(
        "NVIDIA_RTX_PRO_6000_BLACKWELL_MAX_Q_WORKSTATION_EDITION",
        "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
    ),
    model("NVIDIA_H100_80GB_HBM3", "NVIDIA H100 80GB HBM3"),
    model("NVIDIA_H100_PCIe", "NVIDIA H100 PCIe"),
    model("NVIDIA_H100_NVL", "NVIDIA H100 NVL"),
    model("NVIDIA_RTX_A4000", "NVIDIA RTX A4000"),
    model("NVIDIA_RTX_A4500", "NVIDIA RTX A4500"),
    model(
        "NVIDIA_RTX_4000_ADA_GENERATION",
        "NVIDIA RTX 4000 Ada Generation",
    ),
    model(
        "NVIDIA_RTX_2000_ADA_GENERATION",
        "NVIDIA RTX 2000 Ada Generation",
    ),
    model("NVIDIA_RTX_A5000", "NVIDIA RTX A5000"),
    model("NVIDIA_L4", "NVIDIA L4"),
    model("NVIDIA_GEFORCE_RTX_3090", "NVIDIA GeForce RTX 3090"),
    model("NVIDIA_A40", "NVIDIA A40"),
    model("NVIDIA_RTX_A6000", "NVIDIA RTX A6000"),
    model("NVIDIA_A100_80GB_PCIe", "NVIDIA A100 80GB PCIe"),
    model("NVIDIA_A100_SXM4_80GB", "NVIDIA A100-SXM4-80GB"),
    model("NVIDIA_H200", "NVIDIA H200"),
    model("NVIDIA_B200", "NVIDIA B200"),
];

const fn model(id: &'static str, name: &'static str) -> GpuModel {
    GpuModel { id, name }
}

/// The choice that means every pool.
pub const GPU_ANY: &str = "any";

/// A CPU flavor (`CpuInstanceType`) and its container disk cap in GB.
pub struct CpuFlavor {
    pub id: &'static str,
    pub vcpus: u32,
    pub ram_gb: u32,
    pub max_disk_gb: u32,
}

pub static CPU_FLAVORS: &[CpuFlavor] = &[
    cpu("cpu3g-1-4", 1, 4, 10),
    cpu("cpu3g-2-8", 2, 8, 10),
    cpu("cpu3g-4-16", 4, 16, 10),
    cpu("cpu3g-8-32", 8, 32, 10),
    cpu("cpu3c-1-2", 1, 2, 10),
    cpu("cpu3c-2-4", 2, 4, 10),
    cpu("cpu3c-4-8", 4, 8, 10),
    cpu("cpu3c-8-16", 8, 16, 10),
    cpu("cpu5c-1-2", 1, 2, 15),
    cpu("cpu5c-2-4", 2, 4, 15),
    cpu("cpu5c-4-8", 4, 8, 15),
    cpu("cpu5c-8-16", 8, 16, 15),
];

const fn cpu(id: &'static str, vcpus: u32, ram_gb: u32, disk_per_vcpu: u32) -> CpuFlavor {
    CpuFlavor {
        id,
        vcpus,
        ram_gb,
        max_disk_gb: vcpus * disk_per_vcpu,
    }
}

/// The flavor a CPU endpoint gets when it names none.
pub const DEFAULT_CPU_FLAVOR: &str = "cpu3g-2-8";

pub static DATACENTERS: &[&str] = &[
    "US-CA-2", "US-IL-1", "US-KS-2", "US-MO-1", "US-MO-2", "US-NC-2", "US-NE-1", "US-WA-1",
    "EU-CZ-1", "EU-RO-1", "EUR-NO-1",
];

/// Where a CPU endpoint runs when it names no datacenter (what generate deploys to), and the
/// one datacenter every CPU flavor runs in.
pub static CPU_DATACENTERS: &[&str] = &["EU-RO-1"];

/// The datacenters a CPU flavor runs in (Runpod 2.0): `cpu3g-*` and `cpu3c-*` everywhere but
/// `EUR-NO-1`; `cpu5c-*` only in `EU-RO-1`.
pub fn cpu_flavor_datacenters(flavor: &str) -> Vec<&'static str> {
    if flavor.starts_with("cpu5c") {
        vec!["EU-RO-1"]
    } else {
        DATACENTERS
            .iter()
            .copied()
            .filter(|d| *d != "EUR-NO-1")
            .collect()
    }
}

/// Where a network volume lives when it names no datacenter.
pub const DEFAULT_VOLUME_DATACENTER: &str = "EU-RO-1";

pub static CUDA_VERSIONS: &[&str] = &[
    "11.8", "12.0", "12.1", "12.2", "12.3", "12.4", "12.5", "12.6", "12.7", "12.8", "12.9", "13.0",
];

pub const DEFAULT_CUDA_VERSION: &str = "12.8";

pub fn gpu_pool(id: &str) -> Option<&'static GpuPool> {
    GPU_POOLS.iter().find(|p| p.id == id)
}

pub fn gpu_model(id: &str) -> Option<&'static GpuModel> {
    GPU_MODELS.iter().find(|m| m.id == id)
}

/// The pool a model belongs to.
pub fn pool_of_model(model: &str) -> Option<&'static GpuPool> {
    GPU_POOLS.iter().find(|p| p.models.contains(&model))
}

pub fn cpu_flavor(id: &str) -> Option<&'static CpuFlavor> {
    CPU_FLAVORS.iter().find(|f| f.id == id)
}

/// Orders CUDA versions numerically ("12.10" would sort after "12.9").
pub fn cuda_key(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The `gpuIds` string Runpod receives for a list of pools and models: each model selects its
/// pool and excludes the pool's unlisted models (`-<model string>`); positive tokens first,
/// each group sorted case-insensitively.
pub fn gpu_ids(choices: &[&str]) -> String {
    let named_pools: Vec<&GpuPool> = if choices.contains(&GPU_ANY) {
        GPU_POOLS.iter().collect()
    } else {
        choices.iter().filter_map(|c| gpu_pool(c)).collect()
    };
    // Pools reached only through models: the models not listed are excluded.
    let mut model_pools: Vec<&GpuPool> = choices
        .iter()
        .filter_map(|c| pool_of_model(c))
        .filter(|p| !named_pools.iter().any(|n| n.id == p.id))
        .collect();
    model_pools.dedup_by_key(|p| p.id);
    let mut positive: Vec<&str> = named_pools
        .iter()
        .chain(&model_pools)
        .map(|p| p.id)
        .collect();
    positive.sort_by_key(|p| p.to_lowercase());
    positive.dedup();
    let mut negative: Vec<&str> = model_pools
        .iter()
        .flat_map(|p| p.models.iter())
        .filter(|m| !choices.contains(m))
        .filter_map(|m| gpu_model(m).map(|m| m.name))
        .collect();
    negative.sort_by_key(|m| m.to_lowercase());
    negative.dedup();
    let negative = negative.into_iter().map(|m| format!("-{m}"));
    positive
        .into_iter()
        .map(str::to_string)
        .chain(negative)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_ids_match_flash() {
        assert_eq!(
            gpu_ids(&["NVIDIA_L4"]),
            "AMPERE_24,-NVIDIA GeForce RTX 3090,-NVIDIA RTX A5000"
        );
        assert_eq!(
            gpu_ids(&["ADA_24", "NVIDIA_H100_80GB_HBM3"]),
            "ADA_24,ADA_80_PRO,-NVIDIA H100 NVL,-NVIDIA H100 PCIe"
        );
        assert_eq!(gpu_ids(&["any"]).split(',').count(), 11);
    }

    #[test]
    fn every_model_is_in_exactly_one_pool() {
        for m in GPU_MODELS {
            assert_eq!(
                GPU_POOLS
                    .iter()
                    .filter(|p| p.models.contains(&m.id))
                    .count(),
                1,
                "{}",
                m.id
            );
        }
    }
}

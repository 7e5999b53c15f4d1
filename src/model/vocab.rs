//! Runpod's compute vocabulary: what exists comes from the catalogue snapshot
//! (`catalog/runpod-catalog.json`, [`super::catalog`]): its GPU pools and types, CPU families
//! (vCPU range, RAM per vCPU) and CUDA versions. What flash.yaml calls them is the Python Flash
//! SDK's naming (`runpod-flash` 1.21.0), so Flash users keep their words: the tables below
//! name GPU models (`NVIDIA_GEFORCE_RTX_4090` for Runpod's `NVIDIA GeForce RTX 4090`), order
//! pools and families as Flash lists them, and keep what the catalogue does not carry (a
//! pool's CUDA floor, a family's container-disk cap). A pool, model or flavor is offered and
//! accepted only when the snapshot has it; the schema's enums and the rules read from here.

use std::sync::OnceLock;

/// A GPU pool (`GpuGroup`): its id, the model identifiers in it, and cards it serves that
/// have no identifier of their own (so a list of models cannot exclude them).
pub struct GpuPool {
    pub id: &'static str,
    pub models: Vec<&'static str>,
    pub unnamed_cards: Vec<&'static str>,
    /// The lowest CUDA version the pool's cards run.
    pub min_cuda: &'static str,
}

/// A GPU model (`GpuType`): identifier and the exact model string Runpod uses.
pub struct GpuModel {
    pub id: &'static str,
    pub name: &'static str,
}

/// Flash's pools, in Flash's order, with their CUDA floors (which the catalogue lacks).
static FLASH_GPU_POOLS: &[(&str, &str)] = &[
    ("ADA_24", "11.8"),
    ("ADA_32_PRO", "12.8"),
    ("ADA_48_PRO", "11.8"),
    // 2.0: the PCIe and NVL cards have model ids, so one H100 model can be pinned.
    ("ADA_80_PRO", "11.8"),
    ("AMPERE_16", "11.8"),
    ("AMPERE_24", "11.8"),
    ("AMPERE_48", "11.8"),
    ("AMPERE_80", "11.8"),
    ("HOPPER_141", "11.8"),
    ("BLACKWELL_96", "12.8"),
    ("BLACKWELL_180", "12.8"),
];

/// Flash's model identifiers for Runpod's GPU type ids, in Flash's order.
static FLASH_GPU_MODELS: &[GpuModel] = &[
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

/// A CPU flavor (`CpuInstanceType`, `cpu{generation}{class}-{vCPU}-{RAM GB}`) and its
/// container disk cap in GB.
pub struct CpuFlavor {
    pub id: String,
    pub vcpus: u32,
    pub ram_gb: u32,
    pub max_disk_gb: u32,
}

/// Flash's CPU families in Flash's order, with the container disk each vCPU allows (which
/// the catalogue lacks). A family the snapshot adds gets [`DISK_GB_PER_VCPU`].
static FLASH_CPU_FAMILIES: &[(&str, u32)] = &[("cpu3g", 10), ("cpu3c", 10), ("cpu5c", 15)];
const DISK_GB_PER_VCPU: u32 = 10;

/// The flavor a CPU endpoint gets when it names none.
pub const DEFAULT_CPU_FLAVOR: &str = "cpu3g-2-8";

/// The data centers flash.yaml may name come from Runpod's catalogue snapshot
/// ([`super::catalog`]); these are the ones a CPU flavor is known to run in (Flash's list),
/// in the order check names them.
pub static CPU_FLAVOR_DATACENTERS: &[&str] = &[
    "US-CA-2", "US-IL-1", "US-KS-2", "US-MO-1", "US-MO-2", "US-NC-2", "US-NE-1", "US-WA-1",
    "EU-CZ-1", "EU-RO-1",
];

/// Where a CPU endpoint runs when it names no datacenter (what generate deploys to), and the
/// one datacenter every CPU flavor runs in.
pub static CPU_DATACENTERS: &[&str] = &["EU-RO-1"];

/// The datacenters a CPU flavor runs in (Runpod 2.0, as Flash knew them): `cpu3g-*` and
/// `cpu3c-*` in Flash's datacenters but `EUR-NO-1`; `cpu5c-*` only in `EU-RO-1`.
pub fn cpu_flavor_datacenters(flavor: &str) -> Vec<&'static str> {
    if flavor.starts_with("cpu5c") {
        vec!["EU-RO-1"]
    } else {
        CPU_FLAVOR_DATACENTERS.to_vec()
    }
}

/// Where a network volume lives when it names no datacenter.
pub const DEFAULT_VOLUME_DATACENTER: &str = "EU-RO-1";

pub const DEFAULT_CUDA_VERSION: &str = "12.8";

/// The vocabulary the snapshot gives, named as Flash names it.
struct Vocabulary {
    pools: Vec<GpuPool>,
    models: Vec<&'static GpuModel>,
    cpu_flavors: Vec<CpuFlavor>,
    cuda_versions: Vec<&'static str>,
}

fn vocabulary() -> &'static Vocabulary {
    static VOCABULARY: OnceLock<Vocabulary> = OnceLock::new();
    VOCABULARY.get_or_init(|| from_catalog(super::catalog::snapshot()))
}

/// Flash's names over what the catalogue lists: a pool is there when the snapshot has a GPU
/// type in it (Flash's pools first, in Flash's order, then new ones by id); its models are
/// the Flash-named types the snapshot puts in it, its unnamed cards the others; a CPU family's
/// flavors are its power-of-two vCPU counts in the snapshot's range.
fn from_catalog(catalog: &'static super::catalog::Catalog) -> Vocabulary {
    let mut pool_ids: Vec<(&'static str, &'static str)> = FLASH_GPU_POOLS.to_vec();
    let mut cuda_versions: Vec<&'static str> =
        catalog.cuda_versions.iter().map(String::as_str).collect();
    cuda_versions.sort_by_key(|v| cuda_key(v));
    let lowest_cuda = cuda_versions
        .first()
        .copied()
        .unwrap_or(DEFAULT_CUDA_VERSION);
    let mut new_pools: Vec<&'static str> = catalog
        .gpu_types
        .iter()
        .filter_map(|g| g.pool.as_deref())
        .filter(|p| !FLASH_GPU_POOLS.iter().any(|(id, _)| id == p))
        .collect();
    new_pools.sort_unstable();
    new_pools.dedup();
    pool_ids.extend(new_pools.into_iter().map(|p| (p, lowest_cuda)));
    let pools: Vec<GpuPool> = pool_ids
        .into_iter()
        .filter_map(|(id, min_cuda)| {
            let types: Vec<&'static str> = catalog
                .gpu_types
                .iter()
                .filter(|g| g.pool.as_deref() == Some(id))
                .map(|g| g.id.as_str())
                .collect();
            if types.is_empty() {
                return None;
            }
            let models = FLASH_GPU_MODELS
                .iter()
                .filter(|m| types.contains(&m.name))
                .map(|m| m.id)
                .collect();
            let unnamed_cards = types
                .into_iter()
                .filter(|t| !FLASH_GPU_MODELS.iter().any(|m| m.name == *t))
                .collect();
            Some(GpuPool {
                id,
                models,
                unnamed_cards,
                min_cuda,
            })
        })
        .collect();
    let models = FLASH_GPU_MODELS
        .iter()
        .filter(|m| pools.iter().any(|p| p.models.contains(&m.id)))
        .collect();
    let mut families: Vec<(&'static super::catalog::CpuFlavor, u32)> = FLASH_CPU_FAMILIES
        .iter()
        .filter_map(|(id, disk)| {
            let family = catalog.cpu_flavors.iter().find(|f| f.id == *id)?;
            Some((family, *disk))
        })
        .collect();
    let mut new_families: Vec<&'static super::catalog::CpuFlavor> = catalog
        .cpu_flavors
        .iter()
        .filter(|f| !FLASH_CPU_FAMILIES.iter().any(|(id, _)| *id == f.id))
        .collect();
    new_families.sort_by(|a, b| a.id.cmp(&b.id));
    families.extend(new_families.into_iter().map(|f| (f, DISK_GB_PER_VCPU)));
    let cpu_flavors = families
        .into_iter()
        .flat_map(|(family, disk)| {
            (0..16)
                .map(|shift| 1u32 << shift)
                .filter(move |v| (family.vcpu.min..=family.vcpu.max).contains(v))
                .map(move |vcpus| {
                    let ram_gb = (f64::from(vcpus) * family.ram_gb_per_vcpu).round() as u32;
                    CpuFlavor {
                        id: format!("{}-{vcpus}-{ram_gb}", family.id),
                        vcpus,
                        ram_gb,
                        max_disk_gb: vcpus * disk,
                    }
                })
        })
        .collect();
    Vocabulary {
        pools,
        models,
        cpu_flavors,
        cuda_versions,
    }
}

/// The GPU pools, Flash's first in Flash's order.
pub fn gpu_pools() -> &'static [GpuPool] {
    &vocabulary().pools
}

/// The GPU models flash.yaml can name, in Flash's order.
pub fn gpu_models() -> impl Iterator<Item = &'static GpuModel> {
    vocabulary().models.iter().copied()
}

/// The CPU flavors, by family in Flash's order, then by vCPUs.
pub fn cpu_flavors() -> &'static [CpuFlavor] {
    &vocabulary().cpu_flavors
}

/// The CUDA versions, oldest first.
pub fn cuda_versions() -> &'static [&'static str] {
    &vocabulary().cuda_versions
}

pub fn gpu_pool(id: &str) -> Option<&'static GpuPool> {
    gpu_pools().iter().find(|p| p.id == id)
}

pub fn gpu_model(id: &str) -> Option<&'static GpuModel> {
    gpu_models().find(|m| m.id == id)
}

/// The pool a model belongs to.
pub fn pool_of_model(model: &str) -> Option<&'static GpuPool> {
    gpu_pools().iter().find(|p| p.models.contains(&model))
}

pub fn cpu_flavor(id: &str) -> Option<&'static CpuFlavor> {
    cpu_flavors().iter().find(|f| f.id == id)
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
        gpu_pools().iter().collect()
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

    /// What exists is the snapshot's: a refresh that drops a pool, moves a card, adds a pool,
    /// a CPU family or a CUDA version changes what flash.yaml may name, with no code change.
    #[test]
    fn the_vocabulary_is_the_snapshots() {
        use super::super::catalog::{snapshot, CpuFlavor as Family, GpuType, VcpuRange};
        let mut catalog = snapshot().clone();
        catalog
            .gpu_types
            .retain(|g| g.pool.as_deref() != Some("ADA_24"));
        for g in &mut catalog.gpu_types {
            if g.id == "NVIDIA L4" {
                g.pool = Some("ADA_32_PRO".into());
            }
        }
        catalog.gpu_types.push(GpuType {
            id: "AMD Instinct MI300X OAM".into(),
            pool: Some("AMD_192".into()),
            memory: 192,
        });
        catalog.cpu_flavors.push(Family {
            id: "cpu5g".into(),
            vcpu: VcpuRange { min: 2, max: 4 },
            ram_gb_per_vcpu: 4.0,
        });
        catalog.cuda_versions.push("13.1".into());
        let v = from_catalog(Box::leak(Box::new(catalog)));
        let pools: Vec<&str> = v.pools.iter().map(|p| p.id).collect();
        assert!(!pools.contains(&"ADA_24"));
        assert_eq!(pools.last(), Some(&"AMD_192"));
        let amd = v.pools.last().unwrap();
        assert!(amd.models.is_empty());
        assert_eq!(amd.unnamed_cards, ["AMD Instinct MI300X OAM"]);
        assert_eq!(amd.min_cuda, "11.8");
        assert!(!v.models.iter().any(|m| m.id == "NVIDIA_GEFORCE_RTX_4090"));
        let moved = v.pools.iter().find(|p| p.id == "ADA_32_PRO").unwrap();
        assert_eq!(moved.models, ["NVIDIA_GEFORCE_RTX_5090", "NVIDIA_L4"]);
        let flavors: Vec<&str> = v.cpu_flavors.iter().map(|f| f.id.as_str()).collect();
        assert!(
            flavors.ends_with(&["cpu5g-2-8", "cpu5g-4-16"]),
            "{flavors:?}"
        );
        let f = v.cpu_flavors.iter().find(|f| f.id == "cpu5g-4-16").unwrap();
        assert_eq!((f.vcpus, f.ram_gb, f.max_disk_gb), (4, 16, 40));
        assert_eq!(v.cuda_versions.last(), Some(&"13.1"));
    }

    /// The committed snapshot gives exactly Flash's vocabulary, in Flash's order (the
    /// diagnostics and the schema list values in this order).
    #[test]
    fn the_committed_snapshot_gives_flashs_vocabulary() {
        let pools: Vec<&str> = gpu_pools().iter().map(|p| p.id).collect();
        assert_eq!(
            pools,
            FLASH_GPU_POOLS
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
        );
        assert_eq!(gpu_models().count(), FLASH_GPU_MODELS.len());
        assert_eq!(
            gpu_pool("ADA_48_PRO").unwrap().unnamed_cards,
            ["NVIDIA L40", "NVIDIA L40S"]
        );
        let flavors: Vec<&str> = cpu_flavors().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(
            flavors,
            [
                "cpu3g-1-4",
                "cpu3g-2-8",
                "cpu3g-4-16",
                "cpu3g-8-32",
                "cpu3c-1-2",
                "cpu3c-2-4",
                "cpu3c-4-8",
                "cpu3c-8-16",
                "cpu5c-1-2",
                "cpu5c-2-4",
                "cpu5c-4-8",
                "cpu5c-8-16"
            ]
        );
        assert_eq!(cpu_flavor("cpu5c-8-16").unwrap().max_disk_gb, 120);
        assert_eq!(cuda_versions().len(), 12);
    }

    #[test]
    fn every_model_is_in_exactly_one_pool() {
        for m in gpu_models() {
            assert_eq!(
                gpu_pools()
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

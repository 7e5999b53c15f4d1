//! Runpod's catalogue as a dated data snapshot, `catalog/runpod-catalog.json`, embedded at
//! build time: the data centers check accepts come from it (not from a hand-written enum), and
//! its date is named where check lists them. `flashc catalog refresh` rewrites the file from
//! Runpod's `/v2/catalog/*` (see docs/deploy.md); the file says where its data came from.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The snapshot, as committed.
pub const SNAPSHOT: &str = include_str!("../../catalog/runpod-catalog.json");

/// What flashc keeps of `/v2/catalog/*`: ids and the facts check and deploy use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Catalog {
    /// The file's format: 1.
    pub format: u32,
    /// When the data was taken (`YYYY-MM-DD`).
    pub taken_at: String,
    /// Where the data came from.
    pub source: String,
    pub data_centers: Vec<DataCenter>,
    pub gpu_types: Vec<GpuType>,
    pub cpu_flavors: Vec<CpuFlavor>,
    /// CUDA versions, as `12.8`.
    pub cuda_versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCenter {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuType {
    /// Runpod's GPU type id (`NVIDIA GeForce RTX 4090`).
    pub id: String,
    /// The serverless pool it is in (`ADA_24`), if any.
    pub pool: Option<String>,
    /// VRAM, GB.
    pub memory: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CpuFlavor {
    /// The family (`cpu3c`).
    pub id: String,
    pub vcpu: VcpuRange,
    pub ram_gb_per_vcpu: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VcpuRange {
    pub min: u32,
    pub max: u32,
}

/// The embedded snapshot. It is parsed once; a unit test holds the committed file to the
/// format, so this cannot fail on a built flashc.
pub fn snapshot() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        serde_json::from_str(SNAPSHOT).unwrap_or_else(|_| Catalog {
            format: 1,
            taken_at: "unknown".into(),
            source: "the embedded catalogue did not parse".into(),
            data_centers: Vec::new(),
            gpu_types: Vec::new(),
            cpu_flavors: Vec::new(),
            cuda_versions: Vec::new(),
        })
    })
}

/// The data centers, in the snapshot's order.
pub fn datacenters() -> Vec<&'static str> {
    snapshot()
        .data_centers
        .iter()
        .map(|d| d.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_snapshot_parses_and_keeps_what_flash_knew() {
        let catalog: Catalog = serde_json::from_str(SNAPSHOT).unwrap();
        assert_eq!(catalog.format, 1);
        assert_eq!(catalog.taken_at.len(), 10, "YYYY-MM-DD");
        for d in super::super::vocab::CPU_FLAVOR_DATACENTERS {
            assert!(datacenters().contains(d), "{d}");
        }
        for m in super::super::vocab::GPU_MODELS {
            assert!(catalog.gpu_types.iter().any(|g| g.id == m.name), "{}", m.name);
        }
    }
}

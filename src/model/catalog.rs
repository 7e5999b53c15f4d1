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

/// The snapshot from `/v2/catalog/datacenters`, `/gpus` and `/cpus` answers (their
/// `ListDataCentersResponse`, `ListGpuTypesResponse`, `ListCpuTypesResponse`), sorted by id.
/// The catalogue lists no CUDA versions: `cuda_versions` are kept from `previous`.
pub fn from_api(
    data_centers: &serde_json::Value,
    gpus: &serde_json::Value,
    cpus: &serde_json::Value,
    taken_at: &str,
    source: &str,
    previous: &Catalog,
) -> Result<Catalog, String> {
    fn list<'a>(v: &'a serde_json::Value, key: &str) -> Result<&'a Vec<serde_json::Value>, String> {
        v.get(key)
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| format!("the answer has no `{key}` list"))
    }
    let text = |v: &serde_json::Value, k: &str| -> Result<String, String> {
        v.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("an item without `{k}`: {v}"))
    };
    let number = |v: &serde_json::Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    let mut catalog = Catalog {
        format: 1,
        taken_at: taken_at.to_string(),
        source: source.to_string(),
        data_centers: list(data_centers, "dataCenters")?
            .iter()
            .map(|d| Ok(DataCenter { id: text(d, "id")? }))
            .collect::<Result<_, String>>()?,
        gpu_types: list(gpus, "gpus")?
            .iter()
            .map(|g| {
                Ok(GpuType {
                    id: text(g, "id")?,
                    pool: g
                        .get("pool")
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_string),
                    memory: number(&g["memory"]).unwrap_or(0),
                })
            })
            .collect::<Result<_, String>>()?,
        cpu_flavors: list(cpus, "cpus")?
            .iter()
            .map(|c| {
                Ok(CpuFlavor {
                    id: text(c, "id")?,
                    vcpu: VcpuRange {
                        min: number(&c["vcpu"]["min"]).unwrap_or(0),
                        max: number(&c["vcpu"]["max"]).unwrap_or(0),
                    },
                    ram_gb_per_vcpu: c["ramGbPerVcpu"].as_f64().unwrap_or(0.0),
                })
            })
            .collect::<Result<_, String>>()?,
        cuda_versions: previous.cuda_versions.clone(),
    };
    catalog.data_centers.sort_by(|a, b| a.id.cmp(&b.id));
    catalog.gpu_types.sort_by(|a, b| a.id.cmp(&b.id));
    catalog.cpu_flavors.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(catalog)
}

/// The file's text: pretty JSON and a final newline, as committed.
pub fn to_text(catalog: &Catalog) -> String {
    let mut text = serde_json::to_string_pretty(catalog).unwrap_or_default();
    text.push('\n');
    text
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
        for m in super::super::vocab::gpu_models() {
            assert!(
                catalog.gpu_types.iter().any(|g| g.id == m.name),
                "{}",
                m.name
            );
        }
        // Written back, it is the same bytes: a refresh changes only what changed.
        assert_eq!(to_text(&catalog), SNAPSHOT);
    }
}

//! The emulator's `/v2/catalog/*`: the catalogue snapshot flashc was built with, in the API's
//! shapes. The snapshot keeps ids, pools, memory and vCPU ranges only; what the document
//! requires beyond them is filled with placeholders (names are the ids, prices 0, secure
//! cloud only, no compliance, a region from the id's prefix), so a refresh against the
//! emulator gives back the snapshot, and nothing here stands for Runpod's real prices.

use flashc::model::catalog;
use serde_json::{json, Value};

/// The answer to `GET /v2/catalog/{datacenters,gpus,cpus}`.
pub fn answer(template: &str) -> Value {
    let c = catalog::snapshot();
    match template {
        "/v2/catalog/datacenters" => json!({
            "dataCenters": c.data_centers.iter().map(|d| json!({
                "id": d.id,
                "name": d.id,
                "region": region(&d.id),
                "globalNetwork": false,
                "networkVolumeTypes": [],
                "compliance": [],
            })).collect::<Vec<_>>()
        }),
        "/v2/catalog/gpus" => json!({
            "gpus": c.gpu_types.iter().map(|g| json!({
                "id": g.id,
                "name": g.id,
                "pool": g.pool,
                "manufacturer": if g.id.starts_with("NVIDIA") { "NVIDIA" } else if g.id.starts_with("AMD") { "AMD" } else { "UNKNOWN" },
                "memory": g.memory,
                "secure": true,
                "community": false,
                "price": {"secure": 0.0, "community": 0.0},
                "maxCount": {"secure": 8, "community": 0},
            })).collect::<Vec<_>>()
        }),
        _ => json!({
            "cpus": c.cpu_flavors.iter().map(|f| json!({
                "id": f.id,
                "name": f.id,
                "group": "",
                "vcpu": {"min": f.vcpu.min, "max": f.vcpu.max},
                "ramGbPerVcpu": f.ram_gb_per_vcpu,
                "price": {"securePerVcpu": 0.0, "serverlessPerVcpu": 0.0},
            })).collect::<Vec<_>>()
        }),
    }
}

fn region(id: &str) -> &'static str {
    match id.split('-').next().unwrap_or_default() {
        "US" | "CA" => "NORTH_AMERICA",
        "EU" | "EUR" => "EUROPE",
        "AP" => "ASIA",
        "OC" => "OCEANIA",
        _ => "UNKNOWN",
    }
}

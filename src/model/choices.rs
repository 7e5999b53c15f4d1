//! String choices whose allowed values come from the vocabulary tables. Each is a newtype
//! with a hand-written schema, so the schema's `enum` and its per-value descriptions are
//! generated from the same table the rules read.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize};

use super::vocab;

fn enum_schema(description: &str, values: &[(String, String)]) -> Schema {
    let names: Vec<&str> = values.iter().map(|(v, _)| v.as_str()).collect();
    let docs: Vec<&str> = values.iter().map(|(_, d)| d.as_str()).collect();
    json_schema!({
        "type": "string",
        "description": description,
        "enum": names,
        "enumDescriptions": docs,
        "markdownEnumDescriptions": docs,
    })
}

/// A GPU pool id, a GPU model id, or `any`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GpuChoice(pub String);

impl JsonSchema for GpuChoice {
    fn schema_name() -> Cow<'static, str> {
        "GpuChoice".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut values = vec![(vocab::GPU_ANY.to_string(), "Any GPU pool.".to_string())];
        values.extend(vocab::gpu_pools().iter().map(|p| {
            let mut cards: Vec<&str> = p
                .models
                .iter()
                .filter_map(|m| vocab::gpu_model(m).map(|m| m.name))
                .collect();
            cards.extend(p.unnamed_cards.iter().copied());
            (p.id.to_string(), format!("GPU pool: {}.", cards.join(", ")))
        }));
        values.extend(vocab::gpu_models().map(|m| {
            let pool = vocab::pool_of_model(m.id).map_or("", |p| p.id);
            (
                m.id.to_string(),
                format!("GPU model {} (pool {pool}).", m.name),
            )
        }));
        enum_schema("A GPU pool id, a GPU model id, or `any`.", &values)
    }
}

/// A CPU flavor id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CpuChoice(pub String);

impl JsonSchema for CpuChoice {
    fn schema_name() -> Cow<'static, str> {
        "CpuChoice".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let values: Vec<(String, String)> = vocab::cpu_flavors()
            .iter()
            .map(|f| {
                let doc = format!(
                    "{} vCPU, {} GB RAM, container disk up to {} GB.",
                    f.vcpus, f.ram_gb, f.max_disk_gb
                );
                (f.id.to_string(), doc)
            })
            .collect();
        enum_schema(
            "A CPU flavor: cpu{generation}{class}-{vCPU}-{RAM GB}.",
            &values,
        )
    }
}

/// A Runpod datacenter id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatacenterId(pub String);

impl JsonSchema for DatacenterId {
    fn schema_name() -> Cow<'static, str> {
        "DatacenterId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let catalog = super::catalog::snapshot();
        let values: Vec<(String, String)> = catalog
            .data_centers
            .iter()
            .map(|d| {
                let d = d.id.as_str();
                let doc = if vocab::CPU_DATACENTERS.contains(&d) {
                    format!("Datacenter {d} (GPU and CPU endpoints).")
                } else {
                    format!("Datacenter {d} (GPU endpoints).")
                };
                (d.to_string(), doc)
            })
            .collect();
        enum_schema(
            &format!(
                "A Runpod datacenter, as Runpod's catalogue snapshot of {} lists them (`flashc catalog refresh` updates it).",
                catalog.taken_at
            ),
            &values,
        )
    }
}

/// A CUDA version such as `12.8`, written as a string or a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CudaVersion(pub String);

impl<'de> Deserialize<'de> for CudaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `min_cuda_version: 12.8` is a YAML float; accept it as the string it was meant as.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::Text(s) => CudaVersion(s),
            Raw::Number(n) => CudaVersion(format!("{n:.1}")),
        })
    }
}

impl JsonSchema for CudaVersion {
    fn schema_name() -> Cow<'static, str> {
        "CudaVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let mut values: Vec<serde_json::Value> =
            vocab::cuda_versions().iter().map(|v| (*v).into()).collect();
        values.extend(
            vocab::cuda_versions()
                .iter()
                .filter_map(|v| v.parse::<f64>().ok())
                .map(serde_json::Value::from),
        );
        // `min_cuda_version: 12` is a YAML integer; it means 12.0, as editors would assume.
        values.extend(
            vocab::cuda_versions()
                .iter()
                .filter_map(|v| v.strip_suffix(".0"))
                .filter_map(|v| v.parse::<i64>().ok())
                .map(serde_json::Value::from),
        );
        let docs: Vec<String> = values
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => format!("CUDA {s}."),
                n => format!("CUDA {n}, written as a number."),
            })
            .collect();
        json_schema!({
            "description": "A CUDA version: 11.8, 12.0 to 12.9, or 13.0.",
            "enum": values,
            "enumDescriptions": docs,
            "markdownEnumDescriptions": docs,
            "default": super::defaults::MIN_CUDA_VERSION,
        })
    }
}

/// The format version; only `1` exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FormatVersion(pub u32);

impl JsonSchema for FormatVersion {
    fn schema_name() -> Cow<'static, str> {
        "FormatVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The format version of this file. Always `1`.",
            "enum": [1],
            "enumDescriptions": ["flash.yaml format version 1."],
            "markdownEnumDescriptions": ["flash.yaml format version 1."],
        })
    }
}

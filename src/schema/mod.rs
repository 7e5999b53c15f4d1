//! The JSON Schema of flash.yaml, generated from [`crate::model`] and polished for editors:
//! `additionalProperties: false` on every object, `markdownDescription` beside every
//! description, enums with per-value descriptions, and no `null` where a key may simply be left out.

mod nav;

use serde_json::{json, Map, Value};

use crate::model::FlashFile;

pub use nav::SchemaNav;

/// Where the published schema lives in the repository.
pub const SCHEMA_PATH: &str = "schema/flash.schema.json";

/// The schema as JSON.
pub fn generate() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<FlashFile>().to_value();
    polish(&mut schema);
    // Top-level `x-` keys hold YAML anchors for merge keys (`x-common: &common`), as in
    // docker-compose; flashc ignores them.
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "patternProperties".into(),
            json!({"^x-": {"description": "Ignored: a place for YAML anchors (`x-common: &common`, merged with `<<: *common`)."}}),
        );
    }
    schema
}

/// The schema as the pretty-printed text committed in `schema/flash.schema.json`.
pub fn generate_text() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).unwrap_or_default();
    text.push('\n');
    text
}

fn polish(value: &mut Value) {
    match value {
        Value::Object(map) => {
            drop_null_option(map);
            consts_to_enum(map);
            // schemars names the width (`format: uint32`) but bounds only the bottom; a value
            // past the top would pass the schema and then fail to read, silently. A 64-bit
            // number is bounded by what the loader reads exactly as an integer (2^53 - 1, as
            // JSON tools do): past it YAML's `1e16` or `18446744073709551616` is a float.
            let top = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some(u64::from(u8::MAX)),
                Some("uint16") => Some(u64::from(u16::MAX)),
                Some("uint32") => Some(u64::from(u32::MAX)),
                Some("uint64") => Some(crate::load::LARGEST_EXACT_INTEGER),
                _ => None,
            };
            if let Some(top) = top {
                map.entry("maximum").or_insert(Value::from(top));
            }
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            if let Some(Value::String(d)) = map.get("description") {
                if !map.contains_key("markdownDescription") {
                    let d = d.clone();
                    map.insert("markdownDescription".into(), Value::String(d));
                }
            }
            // Generated titles of untagged variants add noise in editors' hovers.
            if map.get("title").and_then(Value::as_str) != Some("flash.yaml") {
                map.remove("title");
            }
            for child in map.values_mut() {
                polish(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(polish),
        _ => {}
    }
}

/// `anyOf: [X, {type: null}]` → X, and `type: [T, "null"]` → T: a key that may be left out
/// should not also accept an explicit `null` (an empty `gpu:` is almost always a mistake).
fn drop_null_option(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    let Some(Value::Array(branches)) = map.get("anyOf") else {
        return;
    };
    let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
    if branches.len() == 2 && branches.iter().any(is_null) {
        let Some(Value::Array(branches)) = map.remove("anyOf") else {
            return;
        };
        if let Some(Value::Object(inner)) = branches.into_iter().find(|b| !is_null(b)) {
            for (k, v) in inner {
                map.entry(k).or_insert(v);
            }
        }
    }
}

/// `oneOf: [{const, description}, ...]` (a documented unit enum) → `enum` plus
/// `enumDescriptions`, which editors show and validators check in one step.
fn consts_to_enum(map: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = map.get("oneOf") else {
        return;
    };
    if branches.is_empty() || !branches.iter().all(|b| b.get("const").is_some()) {
        return;
    }
    let values: Vec<Value> = branches
        .iter()
        .filter_map(|b| b.get("const").cloned())
        .collect();
    let docs: Vec<Value> = branches
        .iter()
        .map(|b| b.get("description").cloned().unwrap_or(json!("")))
        .collect();
    map.remove("oneOf");
    map.insert("type".into(), json!("string"));
    map.insert("enum".into(), Value::Array(values));
    map.insert("enumDescriptions".into(), Value::Array(docs.clone()));
    map.insert("markdownEnumDescriptions".into(), Value::Array(docs));
}

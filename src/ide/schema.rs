//! The JSON Schema of flash.yaml read for editors: each key's documentation and each value's
//! allowed choices, from the same generated schema editors get through yaml-language-server
//! (so hover and completion say what the schema's descriptions say).

use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::load::Step;
use crate::schema::SchemaNav;

/// The generated schema, built once per process.
pub fn root() -> &'static Json {
    static SCHEMA: OnceLock<Json> = OnceLock::new();
    SCHEMA.get_or_init(crate::schema::generate)
}

/// A schema with `$ref`s followed and alternatives flattened, first branch first.
fn expand(schema: &'static Json) -> Vec<&'static Json> {
    SchemaNav::new(root()).expand(schema)
}

/// Every schema (alternatives included) that applies at `path`.
pub fn at(path: &[Step]) -> Vec<&'static Json> {
    SchemaNav::new(root()).schemas_at(path)
}

/// The first description among `schemas`.
pub fn description(schemas: &[&Json]) -> Option<String> {
    schemas.iter().find_map(|s| {
        s.get("markdownDescription")
            .or_else(|| s.get("description"))
            .and_then(Json::as_str)
            .map(str::to_string)
    })
}

/// The documentation of the key at the end of `path`.
pub fn key_doc(path: &[Step]) -> Option<String> {
    description(&at(path))
}

/// The keys a mapping at `path` may have, each with its description, in schema order.
pub fn keys(path: &[Step]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for schema in at(path) {
        let Some(props) = schema.get("properties").and_then(Json::as_object) else {
            continue;
        };
        for (key, prop) in props {
            if out.iter().any(|(k, _)| k == key) {
                continue;
            }
            let doc = description(&expand(prop)).unwrap_or_default();
            out.push((key.clone(), doc));
        }
    }
    out
}

/// A value allowed at a place, with its documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub value: Json,
    pub doc: String,
}

/// The enumerated values allowed at `path` (and, when the value may be a list, for its items).
pub fn choices(path: &[Step]) -> Vec<Choice> {
    let mut schemas = at(path);
    let mut items = Vec::new();
    for s in &schemas {
        if let Some(item) = s.get("items").filter(|i| i.is_object()) {
            items.extend(expand(item));
        }
    }
    schemas.extend(items);
    let mut out: Vec<Choice> = Vec::new();
    for s in schemas {
        if let Some(Json::Array(values)) = s.get("enum") {
            let docs = s
                .get("markdownEnumDescriptions")
                .or_else(|| s.get("enumDescriptions"))
                .and_then(Json::as_array);
            for (i, value) in values.iter().enumerate() {
                if out.iter().any(|c| &c.value == value) {
                    continue;
                }
                let doc = docs
                    .and_then(|d| d.get(i))
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string();
                out.push(Choice {
                    value: value.clone(),
                    doc,
                });
            }
        }
        if s.get("type").and_then(Json::as_str) == Some("boolean") {
            for b in [true, false] {
                if !out.iter().any(|c| c.value == Json::Bool(b)) {
                    out.push(Choice {
                        value: Json::Bool(b),
                        doc: String::new(),
                    });
                }
            }
        }
    }
    out
}

//! Runpod's REST v2 OpenAPI document (`vendor/runpod/openapi.json`, embedded) as validators:
//! request bodies flashc sends and, in `flashc emulate`, every request and response, are
//! checked against the schemas Runpod publishes, not against flashc's reading of them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// The vendored document, byte for byte (see `vendor/runpod/README.md`).
pub const DOCUMENT: &str = include_str!("../../vendor/runpod/openapi.json");

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    // The document is part of the binary and parsed by a test; a broken copy is a build defect.
    DOC.get_or_init(|| serde_json::from_str(DOCUMENT).unwrap_or(Value::Null))
}

/// Validates `instance` against `#/components/schemas/<name>`. Returns every violation, each
/// as `path: message` (the problem JSON `errors[]` form).
pub fn validate(schema_name: &str, instance: &Value) -> Result<(), Vec<String>> {
    let pointer = format!("#/components/schemas/{schema_name}");
    validate_ref(&pointer, instance)
}

/// Validates against any `$ref` into the document (`#/components/schemas/X`).
pub fn validate_ref(pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
    type Cache = Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let validator = {
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(pointer) {
            Some(v) => v.clone(),
            None => {
                let doc = document();
                // A schema that is the reference itself, with the document's components beside
                // it so every `$ref` inside resolves. OpenAPI 3.1 schemas are JSON Schema 2020-12.
                let schema = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "$ref": pointer,
                    "components": doc.get("components").cloned().unwrap_or(Value::Null),
                });
                let validator = jsonschema::draft202012::options()
                    .build(&schema)
                    .map_err(|e| vec![format!("the vendored OpenAPI document: {e}")])?;
                let validator = std::sync::Arc::new(validator);
                map.insert(pointer.to_string(), validator.clone());
                validator
            }
        }
    };
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| {
            let path = e.instance_path().to_string();
            format!("${}: {e}", path.replace('/', "."))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The schema of an operation's request body or of one of its responses, as a `$ref`
/// pointer, read from the document: `method` lower-case, `path` as the document writes it
/// (`/v2/serverless/{id}`), `status` `None` for the request body.
pub fn operation_schema(method: &str, path: &str, status: Option<u16>) -> Option<String> {
    let op = document().get("paths")?.get(path)?.get(method)?;
    let content = match status {
        None => op.get("requestBody")?.get("content")?,
        Some(code) => {
            let response = op.get("responses")?.get(code.to_string())?;
            let response = resolve(response)?;
            response.get("content")?
        }
    };
    let schema = content
        .get("application/json")
        .or_else(|| content.get("application/problem+json"))?
        .get("schema")?;
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Follows one `$ref` to `#/components/...` (responses are often shared).
fn resolve(value: &Value) -> Option<&Value> {
    match value.get("$ref").and_then(Value::as_str) {
        Some(pointer) => document().pointer(pointer.strip_prefix('#')?),
        None => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vendored_document_is_openapi_3_1_with_the_serverless_operations() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            operation_schema("post", "/v2/serverless", None).as_deref(),
            Some("#/components/schemas/CreateEndpointRequest")
        );
        assert_eq!(
            operation_schema("patch", "/v2/serverless/{id}", None).as_deref(),
            Some("#/components/schemas/UpdateEndpointRequest")
        );
        assert_eq!(
            operation_schema("get", "/v2/serverless", Some(200)).as_deref(),
            Some("#/components/schemas/ListEndpointsResponse")
        );
        assert!(operation_schema("get", "/v2/serverless/{id}/releases", Some(200)).is_some());
    }

    #[test]
    fn the_schema_refuses_what_runpod_documents_as_invalid() {
        let good = json!({"name": "a", "type": "QUEUE", "image": "x", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}});
        assert_eq!(validate("CreateEndpointRequest", &good), Ok(()));
        let cases = [
            // An unknown field.
            json!({"name": "a", "type": "QUEUE", "image": "x", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}, "bogus": 1}),
            // A load-balanced endpoint must scale on request count.
            json!({"name": "a", "type": "LOAD_BALANCER", "image": "x", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}}),
            // One vCPU.
            json!({"name": "a", "type": "QUEUE", "image": "x", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}, "cpu": [{"id": "cpu3c", "vcpuCount": 1}]}),
            // No image and no template.
            json!({"name": "a", "type": "QUEUE", "scaling": {"type": "QUEUE_DELAY", "queueDelay": 4}}),
        ];
        for case in cases {
            assert!(
                validate("CreateEndpointRequest", &case).is_err(),
                "accepted {case}"
            );
        }
    }
}

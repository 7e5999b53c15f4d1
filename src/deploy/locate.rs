//! Where in flash.yaml a field of the v2 body came from, so an API problem that names a field
//! (`$.workers.idleTimeout: …`, RFC 9457 `errors[]`) is shown at the line the user wrote.

use crate::diagnostic::Span;
use crate::load::Node;

/// The flash.yaml key a v2 body field (`workers.idleTimeout`, `gpu.count`) is made from;
/// `None` for fields flashc fills in itself (`name`, `image`, `ports`).
pub fn flash_yaml_key(field: &str) -> Option<&'static str> {
    let mut steps = field.split('.');
    let top = steps.next()?;
    let second = steps.next();
    Some(match (top, second) {
        ("type", _) => "type",
        ("env", _) => "env",
        ("disk", _) => "container_disk",
        ("gpu", Some("count")) => "gpu_count",
        ("gpu", Some("minCudaVersion" | "allowedCudaVersions")) => "min_cuda_version",
        ("gpu", _) => "gpu",
        ("cpu", _) => "cpu",
        ("workers", Some("idleTimeout")) => "idle_timeout",
        ("workers", _) => "workers",
        ("scaling", _) => "scaler",
        ("dataCenterIds", _) => "datacenters",
        ("networkVolumes", _) => "volume",
        ("timeout", _) => "execution_timeout",
        ("flashboot", _) => "flashboot",
        _ => return None,
    })
}

/// The field a problem's `errors[]` item names: `$.workers.idleTimeout: …` → `workers.idleTimeout`
/// (array indices dropped); `None` for `$: …` (the whole body) or free text.
pub fn problem_field(error: &str) -> Option<String> {
    let (path, _) = error.split_once(": ")?;
    let path = path.strip_prefix("$.")?;
    let steps: Vec<&str> = path
        .split('.')
        .filter(|s| !s.is_empty() && s.parse::<usize>().is_err())
        .collect();
    (!steps.is_empty()).then(|| steps.join("."))
}

/// The span of the key in the merged tree (spans stay where the value was written: the
/// endpoint, `defaults`, or an environment's overlay), falling back to the endpoint's own key.
pub fn span(
    merged: &Node,
    endpoint: &str,
    field: Option<&str>,
) -> Option<(Span, Option<&'static str>)> {
    // The registry credential is the project's, written once at the top level.
    if field.is_some_and(|f| f == "registry") {
        if let Some(auth) = merged.get("registry").and_then(|r| r.entry("auth")) {
            return Some((auth.key_span, Some("registry.auth")));
        }
    }
    let entry = merged.get("endpoints")?.entry(endpoint)?;
    let key = field.and_then(flash_yaml_key);
    match key.and_then(|k| entry.value.entry(k)) {
        Some(found) => Some((found.key_span, key)),
        None => Some((entry.key_span, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_to_the_keys_they_come_from() {
        assert_eq!(flash_yaml_key("workers.idleTimeout"), Some("idle_timeout"));
        assert_eq!(flash_yaml_key("gpu.excludedTypes"), Some("gpu"));
        assert_eq!(flash_yaml_key("scaling"), Some("scaler"));
        assert_eq!(flash_yaml_key("image"), None);
        assert_eq!(
            problem_field("$.gpu.excludedTypes.0: \"x\" is not valid").as_deref(),
            Some("gpu.excludedTypes")
        );
        assert_eq!(
            problem_field("$: additional properties 'bogus' not allowed"),
            None
        );
    }

    #[test]
    fn spans_point_where_the_value_was_written() {
        let yaml = "version: 1\nname: shop\ndefaults:\n  idle_timeout: 30\nendpoints:\n  job:\n    type: queue\n    handler: run\n    workers: [0, 2]\n";
        let (root, _) = crate::load::load(yaml.as_bytes(), crate::load::Limits::default());
        let (merged, _) = crate::validate::resolve(root.unwrap(), None);
        let (s, key) = span(&merged, "job", Some("workers.max")).unwrap();
        assert_eq!((s.start.line, key), (9, Some("workers")));
        // From `defaults`: the line in `defaults`.
        let (s, _) = span(&merged, "job", Some("workers.idleTimeout")).unwrap();
        assert_eq!(s.start.line, 4);
        // Not written anywhere: the endpoint.
        let (s, key) = span(&merged, "job", Some("timeout")).unwrap();
        assert_eq!((s.start.line, key), (6, None));
        // The registry credential: the top-level `registry.auth`.
        let yaml = format!("{yaml}registry:\n  auth: reg_abc\n");
        let (root, _) = crate::load::load(yaml.as_bytes(), crate::load::Limits::default());
        let (merged, _) = crate::validate::resolve(root.unwrap(), None);
        let (s, key) = span(&merged, "job", Some("registry")).unwrap();
        assert_eq!((s.start.line, key), (11, Some("registry.auth")));
    }
}

//! Folding an environment overlay and `defaults` into each endpoint, on the spanned tree so
//! every value keeps the position where it was written.
//!
//! Merge policy (documented in docs/flash-yaml.md): a field set closer to the endpoint
//! replaces the one further away, whole; the two maps keyed by user names, `env` and
//! `routes`, merge entry by entry; and choosing `cpu` drops an inherited `gpu`, `gpu_count`
//! and `min_cuda_version` (and choosing `gpu` drops an inherited `cpu`), because compute is
//! one choice, not two to be combined.

use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Node, Step, Value};
use crate::rules::UNKNOWN_OVERLAY_TARGET;
use crate::suggest::did_you_mean;

const MERGED_BY_KEY: &[&str] = &["env", "routes"];
const GPU_ONLY: &[&str] = &["gpu", "gpu_count", "min_cuda_version"];

/// The file with `environment`'s overlay applied and `defaults` folded into every endpoint.
/// Takes the tree by value: folding moves each endpoint's entries instead of copying them.
pub fn resolve(root: Node, environment: Option<&str>) -> (Node, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let overlay = environment
        .and_then(|name| root.at(&[Step::from("environments"), Step::from(name)]))
        .cloned();
    let mut merged = root;
    if let Some(overlay) = &overlay {
        if let Some(defaults) = overlay.get("defaults") {
            if let Some(base) = child_map(&mut merged, "defaults", defaults) {
                overlay_onto(base, defaults.clone());
            }
        }
        if let Some(endpoints) = overlay.get("endpoints") {
            let base_names: Vec<String> = merged
                .get("endpoints")
                .map(|e| e.entries().iter().map(|e| e.key.clone()).collect())
                .unwrap_or_default();
            for entry in endpoints.entries() {
                match endpoint_mut(&mut merged, &entry.key) {
                    Some(base) => overlay_onto(base, entry.value.clone()),
                    None => diagnostics.push(unknown_target(entry, &base_names, environment)),
                }
            }
        }
    }
    if let Some(defaults) = merged.get("defaults").cloned() {
        if let Some(Value::Map(endpoints)) = merged_endpoints(&mut merged) {
            for endpoint in endpoints
                .iter_mut()
                .filter(|e| matches!(e.value.value, Value::Map(_)))
            {
                let mut folded = defaults.clone();
                // The endpoint's own node keeps its span; only its entries change.
                folded.span = endpoint.value.span;
                let own = std::mem::replace(&mut endpoint.value, folded);
                overlay_onto(&mut endpoint.value, own);
            }
        }
    }
    (merged, diagnostics)
}

fn unknown_target(entry: &Entry, base_names: &[String], environment: Option<&str>) -> Diagnostic {
    let env = environment.unwrap_or_default();
    Diagnostic::new(
        &UNKNOWN_OVERLAY_TARGET,
        entry.key_span,
        format!(
            "environment `{env}` overrides endpoint `{}`, which is not defined in `endpoints`",
            entry.key
        ),
    )
    .label("no such endpoint")
    .help_opt(
        did_you_mean(&entry.key, base_names.iter().map(String::as_str))
            .or_else(|| Some("an overlay can only change endpoints the base file defines".into())),
    )
}

fn merged_endpoints(root: &mut Node) -> Option<&mut Value> {
    entry_mut(root, "endpoints").map(|n| &mut n.value)
}

fn endpoint_mut<'a>(root: &'a mut Node, name: &str) -> Option<&'a mut Node> {
    entry_mut(entry_mut(root, "endpoints")?, name)
}

fn entry_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.value),
        _ => None,
    }
}

/// The child mapping `key` of `node`, created (at the overlay's position) when absent.
fn child_map<'a>(node: &'a mut Node, key: &str, template: &Node) -> Option<&'a mut Node> {
    let Value::Map(entries) = &mut node.value else {
        return None;
    };
    let index = match entries.iter().position(|e| e.key == key) {
        Some(index) => index,
        None => {
            entries.push(Entry {
                key: key.to_string(),
                key_span: template.span,
                value: Node {
                    value: Value::Map(Vec::new()),
                    span: template.span,
                },
            });
            entries.len() - 1
        }
    };
    entries.get_mut(index).map(|e| &mut e.value)
}

/// Applies `top`'s entries onto `base` (both mappings; anything else is left alone, since the
/// schema check has reported it).
fn overlay_onto(base: &mut Node, top: Node) {
    let (Value::Map(base_entries), Value::Map(top_entries)) = (&mut base.value, top.value) else {
        return;
    };
    let sets = |key: &str| top_entries.iter().any(|e| e.key == key);
    if sets("cpu") {
        base_entries.retain(|e| !GPU_ONLY.contains(&e.key.as_str()));
    }
    if sets("gpu") {
        base_entries.retain(|e| e.key != "cpu");
    }
    for entry in top_entries {
        match base_entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) if MERGED_BY_KEY.contains(&entry.key.as_str()) => {
                merge_by_key(&mut existing.value, entry.value);
            }
            Some(existing) => *existing = entry,
            None => base_entries.push(entry),
        }
    }
}

/// `env` and `routes`: entries of `top` replace or extend those of `base`, key by key.
fn merge_by_key(base: &mut Node, top: Node) {
    if !matches!((&base.value, &top.value), (Value::Map(_), Value::Map(_))) {
        *base = top;
        return;
    }
    let (Value::Map(base_entries), Value::Map(top_entries)) = (&mut base.value, top.value) else {
        return;
    };
    for entry in top_entries {
        match base_entries.iter_mut().find(|e| e.key == entry.key) {
            Some(existing) => *existing = entry,
            None => base_entries.push(entry),
        }
    }
}

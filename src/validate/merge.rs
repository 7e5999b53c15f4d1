//! Folding an environment overlay and `defaults` into each endpoint, on the spanned tree so
//! every value keeps the position where it was written.
//!
//! Merge policy (documented in docs/flash-yaml.md): a field set closer to the endpoint
//! replaces the one further away, whole; the two maps keyed by user names, `env` and
//! `routes`, merge entry by entry; and choosing `cpu` drops an inherited `gpu`, `gpu_count`
//! and `min_cuda_version` (and choosing `gpu` drops an inherited `cpu`), because compute is
//! one choice, not two to be combined.

use std::collections::{HashMap, HashSet};

use crate::diagnostic::Diagnostic;
use crate::load::{Entry, Node, Step, Value};
use crate::rules::UNKNOWN_OVERLAY_TARGET;
use crate::suggest::did_you_mean;

const MERGED_BY_KEY: &[&str] = &["env", "routes"];
const GPU_ONLY: &[&str] = &["gpu", "gpu_count", "min_cuda_version"];

/// The file with `environment`'s overlay applied and `defaults` folded into every endpoint.
/// Takes the tree by value: folding moves each endpoint's entries instead of copying them.
pub fn resolve(root: Node, environment: Option<&str>) -> (Node, Vec<Diagnostic>) {
    resolve_named(root, environment, None)
}

/// [`resolve`], with the names of all the base file's endpoints given when `root` holds only
/// some of them (the ones an overlay touches): an overlay naming another endpoint is an
/// unknown target only if the base file lacks it, and suggestions come from every name.
pub(super) fn resolve_named(
    root: Node,
    environment: Option<&str>,
    all_names: Option<&HashSet<&str>>,
) -> (Node, Vec<Diagnostic>) {
    crate::stats::count(crate::stats::Counter::Merge);
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
            let mut base_names: Vec<String> = match all_names {
                Some(names) => names.iter().map(|n| n.to_string()).collect(),
                None => merged
                    .get("endpoints")
                    .map(|e| e.entries().iter().map(|e| e.key.clone()).collect())
                    .unwrap_or_default(),
            };
            base_names.sort_unstable();
            let index = entry_index(merged.get("endpoints"));
            for entry in endpoints.entries() {
                match index.get(entry.key.as_str()) {
                    Some(&at) => {
                        if let Some(base) = nth_entry_mut(&mut merged, "endpoints", at) {
                            overlay_onto(base, entry.value.clone());
                        }
                    }
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

/// Key → position in a mapping, so overlays find their targets in constant time.
fn entry_index(node: Option<&Node>) -> HashMap<String, usize> {
    node.map(Node::entries)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.clone(), i))
        .collect()
}

fn nth_entry_mut<'a>(root: &'a mut Node, key: &str, at: usize) -> Option<&'a mut Node> {
    match &mut entry_mut(root, key)?.value {
        Value::Map(entries) => entries.get_mut(at).map(|e| &mut e.value),
        _ => None,
    }
}

fn merged_endpoints(root: &mut Node) -> Option<&mut Value> {
    entry_mut(root, "endpoints").map(|n| &mut n.value)
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
    // (`cpu`/`gpu` are looked for once each: a scan, not a scan per entry.)
    if sets("cpu") {
        base_entries.retain(|e| !GPU_ONLY.contains(&e.key.as_str()));
    }
    if sets("gpu") {
        base_entries.retain(|e| e.key != "cpu");
    }
    let mut index: HashMap<String, usize> = base_entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.clone(), i))
        .collect();
    for entry in top_entries {
        match index.get(&entry.key).and_then(|&i| base_entries.get_mut(i)) {
            Some(existing) if MERGED_BY_KEY.contains(&entry.key.as_str()) => {
                merge_by_key(&mut existing.value, entry.value);
            }
            Some(existing) => *existing = entry,
            None => {
                index.insert(entry.key.clone(), base_entries.len());
                base_entries.push(entry);
            }
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
    // Routes and env vars can number in the thousands: index them, so merging is linear.
    let mut index: HashMap<String, usize> = base_entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.clone(), i))
        .collect();
    for entry in top_entries {
        match index.get(&entry.key).and_then(|&i| base_entries.get_mut(i)) {
            Some(existing) => *existing = entry,
            None => {
                index.insert(entry.key.clone(), base_entries.len());
                base_entries.push(entry);
            }
        }
    }
}

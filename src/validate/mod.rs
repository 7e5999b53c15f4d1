//! Stage 2: validation. First the file as written is checked against the JSON Schema; then,
//! for the base file and for each environment overlay, the overlay and `defaults` are folded
//! into every endpoint and the semantic rules run on the result. Validation never writes and
//! never touches the file system: it reads a tree and returns diagnostics.

mod merge;
mod prune;
mod schema_check;
mod schema_json;

use crate::project::{self, Project};
pub use merge::resolve;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{normalize, Diagnostic};
use crate::load::{Entry, Node, Span, Value};
use crate::rules;

/// Which environments to check.
#[derive(Debug, Clone, Copy)]
pub enum Environments<'a> {
    /// The base file and every overlay it declares.
    All,
    /// The base file with this overlay applied.
    Only(&'a str),
}

/// How many nodes the per-environment passes may copy in all: past it, the remaining
/// environments are left unchecked with one warning (`--env NAME` checks any one of them).
const ENVIRONMENT_BUDGET: usize = 4_000_000;

/// The file made ready for the rules: the schema's problems (the values it condemned pruned),
/// and for each selected environment the tree the rules and resolution read, `defaults` and the
/// overlay merged in once.
pub struct Prepared {
    /// The schema's problems, an overlay's unknown targets, and a spent budget.
    pub diagnostics: Vec<Diagnostic>,
    /// The endpoints the schema reported anything inside.
    pub invalid: HashSet<String>,
    /// The base file first (unless only one environment is selected), then each environment.
    pub trees: Vec<Merged>,
}

/// One environment's merged tree.
pub struct Merged {
    /// `None` for the base file.
    pub environment: Option<String>,
    pub tree: Node,
    /// Whether the tree holds every endpoint. With every environment selected, an environment's
    /// tree holds only what its overlay can change (the base file's endpoints it names, all of
    /// them when it changes `defaults` or the top level), so checking many environments stays
    /// linear in the file; the endpoints left out are the base file's, checked there.
    pub complete: bool,
}

/// Checks the file against the schema, prunes what it condemned, and merges `defaults` and each
/// selected overlay once.
pub fn prepare(mut root: Node, environments: Environments) -> Prepared {
    let found = schema_check::check(&root);
    let mut diagnostics = found.diagnostics;
    prune::remove_all(&mut root, &found.invalid);
    let invalid = project::invalid_endpoints(&found.invalid)
        .into_iter()
        .map(str::to_string)
        .collect();
    let (selected, only): (Vec<Option<String>>, bool) = match environments {
        Environments::Only(name) => (vec![Some(name.to_string())], true),
        Environments::All => (
            std::iter::once(None)
                .chain(
                    environment_names(&root)
                        .into_iter()
                        .map(|n| Some(n.to_string())),
                )
                .collect(),
            false,
        ),
    };
    if only {
        // One environment: its whole tree (it is lowered as it is checked).
        let (tree, mut overlay_problems) = merge::resolve(root, selected[0].as_deref());
        diagnostics.append(&mut overlay_problems);
        return Prepared {
            diagnostics,
            invalid,
            trees: vec![Merged {
                environment: selected.into_iter().next().flatten(),
                tree,
                complete: true,
            }],
        };
    }
    // The overlays, set apart: the base tree copied for an environment does not carry them.
    let overlays = take_entry(&mut root, "environments");
    let overlay_of: HashMap<&str, &Node> = overlays
        .as_ref()
        .map(|o| {
            o.value
                .entries()
                .iter()
                .map(|e| (e.key.as_str(), &e.value))
                .collect()
        })
        .unwrap_or_default();
    let endpoint_index: HashMap<&str, &Entry> = root
        .get("endpoints")
        .map(Node::entries)
        .unwrap_or_default()
        .iter()
        .map(|e| (e.key.as_str(), e))
        .collect();
    let all_names: HashSet<&str> = endpoint_index.keys().copied().collect();
    let mut trees = Vec::with_capacity(selected.len());
    let mut budget = ENVIRONMENT_BUDGET;
    for environment in selected {
        let tree = match environment.as_deref() {
            None => root.clone(),
            Some(name) => {
                let overlay = overlay_of.get(name).copied();
                let tree = environment_tree(&root, &endpoint_index, name, overlay);
                let cost = tree.size();
                if cost > budget {
                    diagnostics.push(budget_spent(overlays.as_ref(), name));
                    break;
                }
                budget -= cost;
                tree
            }
        };
        let (tree, mut overlay_problems) = merge::resolve_named(
            tree,
            environment.as_deref(),
            environment.is_some().then_some(&all_names),
        );
        diagnostics.append(&mut overlay_problems);
        trees.push(Merged {
            complete: environment.is_none(),
            environment,
            tree,
        });
    }
    Prepared {
        diagnostics,
        invalid,
        trees,
    }
}

/// Every semantic rule's check on one merged project.
pub fn rules(project: &Project) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for check in rules::CHECKS {
        check(project, &mut found);
    }
    found
}

/// Every problem in the file without the crate, sorted by position, one diagnostic per mistake
/// (the schema, then the rules on the base file and each selected environment).
pub fn check(root: Node, environments: Environments) -> Vec<Diagnostic> {
    let prepared = prepare(root, environments);
    let invalid: HashSet<&str> = prepared.invalid.iter().map(String::as_str).collect();
    let mut diagnostics = prepared.diagnostics;
    let mut marker = EnvironmentMarker::default();
    for merged in &prepared.trees {
        let environment = merged.environment.as_deref();
        let project = Project::with_invalid(&merged.tree, environment, &invalid);
        let mut found = rules(&project);
        marker.mark(environment, &mut found);
        diagnostics.append(&mut found);
    }
    finish(&mut diagnostics);
    diagnostics
}

/// Sorts, deduplicates and shortens validation's diagnostics.
pub fn finish(diagnostics: &mut Vec<Diagnostic>) {
    normalize(diagnostics);
    crate::diagnostic::shorten_quoted(diagnostics);
}

/// Says which environment a problem comes from when only an overlay causes it: its primary
/// span may point into the base file (an overlay that changes `type` leaves routes missing).
/// Feed it the base file's problems first.
#[derive(Default)]
pub struct EnvironmentMarker {
    base: Option<HashSet<(Span, &'static str, String)>>,
}

impl EnvironmentMarker {
    pub fn mark(&mut self, environment: Option<&str>, found: &mut [Diagnostic]) {
        match (environment, &self.base) {
            (None, _) => {
                self.base = Some(
                    found
                        .iter()
                        .map(|d| (d.span, d.code, d.message.clone()))
                        .collect(),
                );
            }
            (Some(name), Some(base)) => {
                for d in found {
                    let key = (d.span, d.code, std::mem::take(&mut d.message));
                    let seen_in_base = base.contains(&key);
                    d.message = key.2;
                    if !seen_in_base {
                        d.message.push_str(&format!(" (in environment `{name}`)"));
                    }
                }
            }
            (Some(_), None) => {}
        }
    }
}

/// The tree one environment is checked on: the base file's top level, the endpoints the
/// overlay names (every endpoint when the overlay changes anything but endpoints), and the
/// overlay itself.
fn environment_tree(
    root: &Node,
    endpoints: &HashMap<&str, &Entry>,
    name: &str,
    overlay: Option<&Node>,
) -> Node {
    let Value::Map(top) = &root.value else {
        return root.clone();
    };
    let only_endpoints = overlay.is_some_and(|o| o.entries().iter().all(|e| e.key == "endpoints"));
    let mut entries: Vec<Entry> = Vec::with_capacity(top.len() + 1);
    for entry in top {
        if entry.key == "endpoints" && only_endpoints {
            let named = overlay
                .and_then(|o| o.get("endpoints"))
                .map(Node::entries)
                .unwrap_or_default();
            let mut seen = HashSet::new();
            let kept: Vec<Entry> = named
                .iter()
                .filter(|e| seen.insert(e.key.as_str()))
                .filter_map(|e| endpoints.get(e.key.as_str()).map(|base| (*base).clone()))
                .collect();
            entries.push(Entry {
                key: entry.key.clone(),
                key_span: entry.key_span,
                value: Node {
                    value: Value::Map(kept),
                    span: entry.value.span,
                },
            });
        } else {
            entries.push(entry.clone());
        }
    }
    if let Some(overlay) = overlay {
        entries.push(Entry {
            key: "environments".into(),
            key_span: root.span,
            value: Node {
                value: Value::Map(vec![Entry {
                    key: name.to_string(),
                    key_span: overlay.span,
                    value: overlay.clone(),
                }]),
                span: overlay.span,
            },
        });
    }
    Node {
        value: Value::Map(entries),
        span: root.span,
    }
}

fn take_entry(root: &mut Node, key: &str) -> Option<Entry> {
    let Value::Map(entries) = &mut root.value else {
        return None;
    };
    let at = entries.iter().position(|e| e.key == key)?;
    Some(entries.remove(at))
}

fn budget_spent(overlays: Option<&Entry>, name: &str) -> Diagnostic {
    let span = overlays
        .and_then(|o| o.value.entries().iter().find(|e| e.key == name))
        .map_or(Span::default(), |e| e.key_span);
    let mut d = Diagnostic::new(
        &rules::YAML_LIMITS,
        span,
        format!("environments from `{name}` on were not checked: the file has too many environments to check them all at once"),
    )
    .label("checking stopped here")
    .help(format!("check them one at a time: `flashc check --env {name}`"));
    d.severity = crate::diagnostic::Severity::Warning;
    d
}

/// The names of the environment overlays the file declares, in file order.
pub fn environment_names(root: &Node) -> Vec<&str> {
    root.get("environments")
        .map(|e| e.entries().iter().map(|e| e.key.as_str()).collect())
        .unwrap_or_default()
}

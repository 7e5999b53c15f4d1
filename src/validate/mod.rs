//! Stage 2: validation. First the file as written is checked against the JSON Schema; then,
//! for the base file and for each environment overlay, the overlay and `defaults` are folded
//! into every endpoint and the semantic rules run on the result. Validation never writes and
//! never touches the file system: it reads a tree and returns diagnostics.

mod merge;
mod project;
mod prune;
mod schema_check;
mod schema_nav;

pub use merge::resolve;
pub use project::{EndpointView, Project};

use crate::diagnostic::{normalize, Diagnostic};
use crate::load::Node;
use crate::rules;

/// Which environments to check.
#[derive(Debug, Clone, Copy)]
pub enum Environments<'a> {
    /// The base file and every overlay it declares.
    All,
    /// The base file with this overlay applied.
    Only(&'a str),
}

/// Every problem in the file, sorted by position, one diagnostic per mistake.
pub fn check(root: &Node, environments: Environments) -> Vec<Diagnostic> {
    let found = schema_check::check(root);
    let mut diagnostics = found.diagnostics;
    let pruned = prune::without(root, &found.invalid);
    let root = pruned.as_ref().unwrap_or(root);
    let selected: Vec<Option<&str>> = match environments {
        Environments::Only(name) => vec![Some(name)],
        Environments::All => std::iter::once(None)
            .chain(environment_names(root).into_iter().map(Some))
            .collect(),
    };
    for environment in selected {
        let (merged, mut overlay_problems) = resolve(root, environment);
        diagnostics.append(&mut overlay_problems);
        let project = Project::new(&merged, environment, &found.invalid);
        for rule in rules::ALL {
            if let Some(check) = rule.check {
                check(&project, &mut diagnostics);
            }
        }
    }
    normalize(&mut diagnostics);
    diagnostics
}

/// The names of the environment overlays the file declares, in file order.
pub fn environment_names(root: &Node) -> Vec<&str> {
    root.get("environments")
        .map(|e| e.entries().iter().map(|e| e.key.as_str()).collect())
        .unwrap_or_default()
}

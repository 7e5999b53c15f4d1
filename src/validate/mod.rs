//! Stage 2: validation. First the file as written is checked against the JSON Schema; then,
//! for the base file and for each environment overlay, the overlay and `defaults` are folded
//! into every endpoint and the semantic rules run on the result. Validation never writes and
//! never touches the file system: it reads a tree and returns diagnostics.

mod merge;
mod project;
mod prune;
mod schema_check;
mod schema_json;
mod schema_nav;

pub use merge::resolve;
pub use project::{EndpointView, Project, RouteView};

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
pub fn check(mut root: Node, environments: Environments) -> Vec<Diagnostic> {
    let found = schema_check::check(&root);
    let mut diagnostics = found.diagnostics;
    prune::remove_all(&mut root, &found.invalid);
    let selected: Vec<Option<String>> = match environments {
        Environments::Only(name) => vec![Some(name.to_string())],
        Environments::All => std::iter::once(None)
            .chain(
                environment_names(&root)
                    .into_iter()
                    .map(|n| Some(n.to_string())),
            )
            .collect(),
    };
    let last = selected.len() - 1;
    // What the base file alone produces, when it is checked (without `--env`).
    let mut base: Option<Vec<Diagnostic>> = None;
    for (index, environment) in selected.iter().enumerate() {
        // The last merge may consume the tree; earlier ones work on a copy.
        let tree = if index == last {
            std::mem::take(&mut root)
        } else {
            root.clone()
        };
        let environment = environment.as_deref();
        let (merged, mut overlay_problems) = resolve(tree, environment);
        diagnostics.append(&mut overlay_problems);
        let mut found_here = Vec::new();
        let project = Project::new(&merged, environment, &found.invalid);
        for check in rules::ALL.iter().filter_map(|rule| rule.check) {
            check(&project, &mut found_here);
        }
        match (environment, &base) {
            (None, _) => base = Some(found_here.clone()),
            // A problem only an overlay causes says which overlay, since its primary span may
            // point into the base file (an overlay that changes `type` leaves routes missing).
            (Some(name), Some(base)) => {
                for d in &mut found_here {
                    if !base
                        .iter()
                        .any(|b| b.span == d.span && b.code == d.code && b.message == d.message)
                    {
                        d.message.push_str(&format!(" (in environment `{name}`)"));
                    }
                }
            }
            (Some(_), None) => {}
        }
        diagnostics.append(&mut found_here);
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

//! Removing the values the schema check condemned, so the rules see only well-formed input
//! and every mistake is reported once, by the stage that understands it best.

use crate::load::{Node, Step, Value};

/// Removes the nodes at `paths` from `root`. Within an endpoint or `defaults`, the whole
/// setting that holds a condemned value goes (all of `workers: [-1, 2]`, not just its `-1`):
/// a setting with a part missing would be completed by defaults into something the file never
/// said, and rules would report on that. Entries of `env` and `routes` go one by one.
pub fn remove_all(root: &mut Node, paths: &[Vec<Step>]) {
    let paths: Vec<Vec<Step>> = paths
        .iter()
        .map(|p| p[..setting_depth(p)].to_vec())
        .collect();
    let mut sorted: Vec<&Vec<Step>> = paths.iter().collect();
    // Later indices first, so removing an item does not shift the ones still to remove.
    sorted.sort();
    sorted.dedup();
    for path in sorted.into_iter().rev() {
        remove(root, path);
    }
}

/// How many steps of `path` name the setting that contains it.
fn setting_depth(path: &[Step]) -> usize {
    let key = |i: usize| match path.get(i) {
        Some(Step::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    let settings_at = match (key(0), key(2)) {
        (Some("endpoints"), _) => 2,
        (Some("defaults"), _) => 1,
        (Some("environments"), Some("endpoints")) => 4,
        (Some("environments"), Some("defaults")) => 3,
        _ => return path.len(),
    };
    let depth = match key(settings_at) {
        Some("env" | "routes") => settings_at + 2,
        _ => settings_at + 1,
    };
    depth.min(path.len())
}

fn remove(node: &mut Node, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut current = node;
    for step in parent {
        let next = match (step, &mut current.value) {
            (Step::Key(k), Value::Map(entries)) => entries
                .iter_mut()
                .find(|e| &e.key == k)
                .map(|e| &mut e.value),
            (Step::Index(i), Value::Seq(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match (last, &mut current.value) {
        (Step::Key(k), Value::Map(entries)) => entries.retain(|e| &e.key != k),
        (Step::Index(i), Value::Seq(items)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

//! Removing the values the schema check condemned, so the rules see only well-formed input
//! and every mistake is reported once, by the stage that understands it best.

use crate::load::{Node, Step, Value};

/// Removes the nodes at `paths` from `root`.
pub fn remove_all(root: &mut Node, paths: &[Vec<Step>]) {
    let mut sorted: Vec<&Vec<Step>> = paths.iter().collect();
    // Later indices first, so removing an item does not shift the ones still to remove.
    sorted.sort();
    sorted.dedup();
    for path in sorted.into_iter().rev() {
        remove(root, path);
    }
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

//! Removing the values the schema check condemned, so the rules see only well-formed input
//! and every mistake is reported once, by the stage that understands it best.

use std::collections::HashMap;

use crate::load::{Node, Step, Value};

/// Removes the nodes at `paths` from `root`. Within an endpoint or `defaults`, the whole
/// setting that holds a condemned value goes (all of `workers: [-1, 2]`, not just its `-1`):
/// a setting with a part missing would be completed by defaults into something the file never
/// said, and rules would report on that. Entries of `env` and `routes` go one by one.
pub fn remove_all(root: &mut Node, paths: &[Vec<Step>]) {
    // A trie of the paths, then one walk: every mapping and list is filtered once, however
    // many of its entries are condemned (removing them one by one was quadratic).
    let mut trie = Trie::default();
    for path in paths {
        let path = &path[..setting_depth(path)];
        if path.is_empty() {
            continue;
        }
        let mut node = &mut trie;
        for step in path {
            node = node.children.entry(step.clone()).or_default();
        }
        node.remove = true;
    }
    prune(root, &trie);
}

#[derive(Default)]
struct Trie {
    remove: bool,
    children: HashMap<Step, Trie>,
}

/// Removes what `trie` condemns below `node` (depth is bounded by the loader's 64 levels).
fn prune(node: &mut Node, trie: &Trie) {
    if trie.children.is_empty() {
        return;
    }
    match &mut node.value {
        Value::Map(entries) => {
            entries.retain_mut(
                |entry| match trie.children.get(&Step::Key(entry.key.clone())) {
                    Some(child) if child.remove => false,
                    Some(child) => {
                        prune(&mut entry.value, child);
                        true
                    }
                    None => true,
                },
            );
        }
        Value::Seq(items) => {
            let mut index = 0;
            items.retain_mut(|item| {
                let keep = match trie.children.get(&Step::Index(index)) {
                    Some(child) if child.remove => false,
                    Some(child) => {
                        prune(item, child);
                        true
                    }
                    None => true,
                };
                index += 1;
                keep
            });
        }
        _ => {}
    }
}

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

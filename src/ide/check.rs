//! `flashc check` for an editor: the same diagnostics as [`crate::check_with_crate`] (all
//! environments), with the handler crate's index kept between checks while no Rust file changed,
//! so a keystroke in flash.yaml does not re-parse the crate with syn. `tests/lsp.rs` checks that
//! both give the same diagnostics on every example and handler case.

use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;

use crate::diagnostic::{self, Diagnostic};
use crate::load::{self, Node};
use crate::resolve::{self, CrateIndex, CrateInfo, Workspace};
use crate::validate::{self, Environments};

/// The last crate index built for one flash.yaml, valid while `generation` is unchanged, the
/// crate is located at the same place and the caller's `fresh` says its files did not change.
#[derive(Default)]
pub struct CrateCache {
    entry: Option<(String, u64, CrateInfo, Rc<CrateIndex>, SystemTime)>,
}

/// Says whether an index built at the given time still reflects its files (the caller looks at
/// the disk), and gives the time now (an index built now is stamped with it).
pub struct Fresh<'a> {
    pub now: SystemTime,
    pub unchanged_since: &'a dyn Fn(&CrateIndex, SystemTime) -> bool,
}

impl CrateCache {
    /// The index of the crate in `dir`, built through `ws` unless cached for `generation`.
    /// `None` when the crate cannot be located (nothing is cached then).
    pub fn index(
        &mut self,
        dir: &str,
        ws: &dyn Workspace,
        generation: u64,
        fresh: &Fresh,
    ) -> Option<Rc<CrateIndex>> {
        let info = ws.locate_crate(Path::new(dir)).ok()?;
        if let Some((d, g, i, index, built)) = &self.entry {
            if d == dir && *g == generation && *i == info && (fresh.unchanged_since)(index, *built)
            {
                return Some(index.clone());
            }
        }
        let index = Rc::new(CrateIndex::build(info.clone(), dir, ws));
        self.entry = Some((dir.to_string(), generation, info, index.clone(), fresh.now));
        Some(index)
    }
}

/// [`crate::check_with_crate`] with every environment, reusing `cache`'s index. `generation`
/// must change whenever a file of the crate may have.
pub fn check(
    bytes: &[u8],
    ws: &dyn Workspace,
    cache: &mut CrateCache,
    generation: u64,
    fresh: &Fresh,
) -> Vec<Diagnostic> {
    let (root, mut diagnostics) = load::load(bytes, load::Limits::default());
    let Some(root) = root else {
        return diagnostics;
    };
    let kept = (!crate::unreadable(&diagnostics)).then(|| root.clone());
    diagnostics.extend(validate::check(root, Environments::All));
    if let Some(root) = kept {
        diagnostics.extend(resolve_all(&root, ws, cache, generation, fresh));
    }
    diagnostic::normalize(&mut diagnostics);
    diagnostics
}

fn resolve_all(
    root: &Node,
    ws: &dyn Workspace,
    cache: &mut CrateCache,
    generation: u64,
    fresh: &Fresh,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if root.get("crate").is_some_and(|n| n.as_str().is_none()) {
        return out;
    }
    // Where `index_crate` would stop or report, it runs as it is (no handler, a crate outside
    // the project or not found); otherwise the cached index stands in for its result.
    let dir = root.get("crate").and_then(Node::as_str).unwrap_or(".");
    let index = if resolve::handler_strings(root).next().is_none()
        || resolve::leaves_project(dir)
        || ws.locate_crate(Path::new(dir)).is_err()
    {
        match resolve::index_crate(root, ws, &mut out) {
            Some(index) => Rc::new(index),
            None => return out,
        }
    } else {
        match cache.index(dir, ws, generation, fresh) {
            Some(index) => index,
            None => return out,
        }
    };
    out.extend(crate::resolve_environments(root, Environments::All, &index));
    out
}

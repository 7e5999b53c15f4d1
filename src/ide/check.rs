//! `flashc check` for an editor: the same diagnostics as [`crate::check_with_crate`] (all
//! environments), with the handler crate's index kept between checks while no Rust file changed,
//! so a keystroke in flash.yaml does not re-parse the crate with syn. `tests/lsp.rs` checks that
//! both give the same diagnostics on every example and handler case.

use std::rc::Rc;
use std::time::SystemTime;

use crate::diagnostic::Diagnostic;
use crate::load::Node;
use crate::resolve::{self, CrateIndex, CrateInfo, Workspace};

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
    /// The index of the crate `info` (located in `dir`), built through `ws` unless cached for
    /// `generation`.
    pub fn index(
        &mut self,
        dir: &str,
        info: CrateInfo,
        ws: &dyn Workspace,
        generation: u64,
        fresh: &Fresh,
    ) -> Rc<CrateIndex> {
        if let Some((d, g, i, index, built)) = &self.entry {
            if d == dir && *g == generation && *i == info && (fresh.unchanged_since)(index, *built)
            {
                return index.clone();
            }
        }
        let index = Rc::new(CrateIndex::build(info.clone(), dir, ws));
        self.entry = Some((dir.to_string(), generation, info, index.clone(), fresh.now));
        index
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
    let mut indexer = |root: &Node, first_handler: Option<&Node>| {
        index(root, first_handler, ws, cache, generation, fresh)
    };
    crate::analysis::Analysis::with_indexer(bytes, &mut indexer)
        .diagnostics(None)
        .unwrap_or_default()
}

/// The crate index for `root` (whose first handler string, where a crate that cannot be
/// located is reported, is `first_handler`), from the cache where it is fresh. The crate is located on every
/// check (what that reports is `flashc check`'s); only the index is kept.
fn index(
    root: &Node,
    first_handler: Option<&Node>,
    ws: &dyn Workspace,
    cache: &mut CrateCache,
    generation: u64,
    fresh: &Fresh,
) -> (Option<Rc<CrateIndex>>, Vec<Diagnostic>) {
    let mut located = Vec::new();
    let Some(site) = resolve::locate_crate(root, first_handler, ws) else {
        return (None, located);
    };
    crate::rules::check_crate(&site, &mut located);
    let crate::facts::CrateFound::Located(found) = site.found else {
        return (None, located);
    };
    (
        Some(cache.index(&site.dir, found.info, ws, generation, fresh)),
        located,
    )
}

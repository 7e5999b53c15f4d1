//! The library's modules depend one way, stage on stage (ARCHITECTURE.md, "Layers"): a module
//! may use modules of lower layers only. This test reads the sources, the way rust-analyzer's
//! tidy tests do, so a new upward `use` fails here with the file that made it, instead of
//! growing a cycle nobody decided on.
//!
//! Sources are parsed with syn, so comments, strings and `$crate` in macro definitions are not
//! mistaken for uses. Test code (`#[cfg(test)]` items, `tests.rs` files) may reach anywhere; it
//! is not counted. Paths inside macro invocations (`format!(…)`) are token streams to syn and
//! are not seen: a use of another module there would slip through.

use std::{collections::BTreeSet, fs, path::Path};

use syn::visit::{self, Visit};

/// Bottom to top. Modules in one layer are siblings and must not use each other.
/// The top layer may also use the crate root (`lib.rs`: the pipeline's drivers).
const LAYERS: &[&[&str]] = &[
    &["suggest", "diagnostic", "stats"],
    &["load"],
    &["model"],
    &["schema", "project", "facts"],
    &["rules"],
    &["validate", "render"],
    &["resolve"],
    &["lower"],
    &["emit"],
    &["analysis"],
    &["ide", "scaffold", "deploy"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for file in rust_files(&src) {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let module = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        // The crate root and the binary's CLI sit above every layer.
        if matches!(module.as_str(), "lib" | "main" | "cli") || rel.ends_with("/tests.rs") {
            continue;
        }
        seen.insert(module.clone());
        let Some(own) = layer_of(&module) else {
            problems.push(format!("{rel}: module `{module}` is in no layer of LAYERS"));
            continue;
        };
        let code = fs::read_to_string(&file).unwrap();
        for used in crate_uses(&code) {
            if used == module {
                continue;
            }
            let allowed = match layer_of(&used) {
                Some(layer) => layer < own,
                // An item of the crate root: only the top layer drives the pipeline.
                None => own == LAYERS.len() - 1,
            };
            if !allowed {
                problems.push(format!(
                    "{rel}: `{module}` (layer {own}) uses `crate::{used}` ({})",
                    layer_of(&used).map_or("the crate root".to_string(), |l| format!("layer {l}"))
                ));
            }
        }
    }
    assert!(seen.len() >= 12, "the walk found too few modules: {seen:?}");
    assert!(
        problems.is_empty(),
        "upward dependencies:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_what_it_must() {
    let code = r#"
use crate::{load::{Node, Span}, model::Endpoint};
use crate::rules::WORKERS; // crate::ide in a comment
fn f<'a>(x: &'a crate::project::Project) {
    let s = "crate::emit in a string";
    let c = '"';
    let r = r"crate::lower";
}
macro_rules! m { () => { $crate::diagnostic::Rule } }
#[cfg(test)]
mod tests { use crate::cli; }
"#;
    let expected: BTreeSet<String> = ["load", "model", "rules", "project"]
        .map(String::from)
        .into();
    assert_eq!(crate_uses(code), expected);
}

/// `src/cli/` holds every command; the binary's root (`src/main.rs`) only parses arguments and
/// dispatches to it. Nothing in `cli/` reaches back up: each `crate::` path there names
/// `crate::cli::…`.
#[test]
fn the_cli_does_not_call_back_into_main() {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut problems = Vec::new();
    for file in rust_files(&cli) {
        let code = fs::read_to_string(&file).unwrap();
        for used in crate_uses(&code) {
            if used != "cli" {
                problems.push(format!(
                    "{}: uses `crate::{used}` (main.rs)",
                    file.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let main =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/main.rs")).unwrap();
    let functions = syn::parse_file(&main)
        .unwrap()
        .items
        .iter()
        .filter(|item| matches!(item, syn::Item::Fn(_)))
        .count();
    assert_eq!(
        functions, 1,
        "src/main.rs has `main` and nothing else to call"
    );
}

/// The route contract (`runtime/src/route_contract.rs`) is compiled into flashc with `#[path]`
/// and into every worker: it may use `std` and nothing else, neither the runtime's modules nor
/// a crate.
#[test]
fn the_route_contract_uses_nothing_but_std() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/src/route_contract.rs");
    let file = syn::parse_file(&fs::read_to_string(path).unwrap()).unwrap();
    #[derive(Default)]
    struct Roots(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Roots {
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            if let syn::UseTree::Path(p) = &item.tree {
                self.0.insert(p.ident.to_string());
            }
        }
        fn visit_path(&mut self, path: &'ast syn::Path) {
            if path.segments.len() > 1 {
                self.0.insert(path.segments[0].ident.to_string());
            }
            visit::visit_path(self, path);
        }
        fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
            // The unit tests may use `super::*`.
            if !m.attrs.iter().any(is_cfg_test) {
                visit::visit_item_mod(self, m);
            }
        }
    }
    let mut roots = Roots::default();
    roots.visit_file(&file);
    // Paths the contract's own items start (`Method::Get`, `ArgSource::Path`, `Self::…`) are
    // fine; a root that is a crate or the runtime is not.
    let foreign: Vec<&String> = roots
        .0
        .iter()
        .filter(|r| {
            [
                "crate",
                "super",
                "serde",
                "serde_json",
                "axum",
                "tokio",
                "http",
                "flashc",
            ]
            .contains(&r.as_str())
        })
        .collect();
    assert!(foreign.is_empty(), "the route contract uses {foreign:?}");
    assert!(
        roots.0.contains("std"),
        "the walk saw the contract's `use std::fmt`"
    );
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The first segment after `crate::` of every path and `use` in `code`, test items left out.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let file = syn::parse_file(code).expect("the sources parse");
    let mut uses = CrateUses::default();
    uses.visit_file(&file);
    uses.0
}

#[derive(Default)]
struct CrateUses(BTreeSet<String>);

impl<'ast> Visit<'ast> for CrateUses {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => return visit::visit_item(self, item),
        };
        if !attrs.iter().any(is_cfg_test) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if let syn::UseTree::Path(path) = &item.tree {
            if path.ident == "crate" {
                first_names(&path.tree, &mut self.0);
            }
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let mut segments = path.segments.iter();
        if let (Some(first), Some(second)) = (segments.next(), segments.next()) {
            if first.ident == "crate" {
                self.0.insert(second.ident.to_string());
            }
        }
        visit::visit_path(self, path);
    }
}

/// The names a `use crate::…` tree starts with: `a` of `a::b`, each of `{a, b::c}`.
fn first_names(tree: &syn::UseTree, out: &mut BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => {
            out.insert(p.ident.to_string());
        }
        syn::UseTree::Name(n) => {
            out.insert(n.ident.to_string());
        }
        syn::UseTree::Rename(r) => {
            out.insert(r.ident.to_string());
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| first_names(t, out)),
        syn::UseTree::Glob(_) => {}
    }
}

fn is_cfg_test(attr: &syn::Attribute) -> bool {
    attr.path().is_ident("cfg")
        && attr
            .parse_args::<syn::Ident>()
            .is_ok_and(|arg| arg == "test")
}

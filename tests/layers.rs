//! The library's modules depend one way, stage on stage (ARCHITECTURE.md, "Layers"): a module
//! may use modules of lower layers only. This test reads the sources, the way rust-analyzer's
//! tidy tests do, so a new upward `use` fails here with the file that made it, instead of
//! growing a cycle nobody decided on.
//!
//! Test code (`#[cfg(test)]` modules, `tests.rs` files) may reach anywhere; it is not counted.

use std::{collections::BTreeSet, fs, path::Path};

/// Bottom to top. Modules in one layer are siblings and must not use each other.
/// The top layer may also use the crate root (`lib.rs`: the pipeline's drivers).
const LAYERS: &[&[&str]] = &[
    &["suggest", "diagnostic"],
    &["load"],
    &["model"],
    &["schema", "project"],
    &["rules"],
    &["validate", "render"],
    &["resolve"],
    &["lower"],
    &["emit"],
    &["ide", "scaffold"],
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
        let code = without_tests(&fs::read_to_string(&file).unwrap());
        for used in crate_uses(&strip_comments_and_strings(&code)) {
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
let s = "crate::emit in a string"; let c = '"'; let r = r"crate::lower";
fn f<'a>(x: &'a crate::project::Project) {}
macro_rules! m { () => { $crate::diagnostic::Rule } }
#[cfg(test)]
mod tests { use crate::cli; }
"#;
    let found = crate_uses(&strip_comments_and_strings(&without_tests(code)));
    let expected: BTreeSet<String> = ["load", "model", "rules", "project"]
        .map(String::from)
        .into();
    assert_eq!(found, expected);
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

/// The source up to its test module (by convention the last item of a file).
fn without_tests(code: &str) -> String {
    match code.find("#[cfg(test)]") {
        Some(at) => code[..at].to_string(),
        None => code.to_string(),
    }
}

/// The code with comments, string literals and char literals blanked.
fn strip_comments_and_strings(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && matches!(next, Some('"') | Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"…", r#"…"#, …
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            i += 2;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3; // 'x' (a lifetime never closes with a quote two characters on)
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// The first segment of every `crate::…` path, `use crate::{a::…, b}` groups included.
fn crate_uses(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| c == '$' || c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            // Top-level names of the group: depth 0 inside its braces.
            let mut depth = 0;
            let mut name = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_start = true,
                    c if depth == 0 && at_start && (c.is_alphanumeric() || c == '_') => {
                        name.push(c)
                    }
                    _ if depth == 0 && at_start && !name.is_empty() => {
                        found.insert(std::mem::take(&mut name));
                        at_start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                found.insert(name);
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

//! flash-runtime's source, embedded in flashc at build time and written into every generated
//! workspace, so a generated workspace builds with nothing but crates.io. Only the library is
//! shipped (its `Cargo.toml` and `src/`); tests, examples and benches stay here.

use include_dir::{include_dir, Dir};

static RUNTIME_SRC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/runtime/src");
const RUNTIME_MANIFEST: &str = include_str!("../../runtime/Cargo.toml");
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");

/// Every file of the runtime, as `(path relative to the crate, contents)`, sorted by path.
pub fn files() -> Vec<(String, String)> {
    let mut out = vec![("Cargo.toml".to_string(), standalone_manifest())];
    collect(&RUNTIME_SRC, &mut out);
    out.sort();
    out
}

fn collect(dir: &Dir<'static>, out: &mut Vec<(String, String)>) {
    for file in dir.files() {
        if let Some(text) = file.contents_utf8() {
            let path = file.path().to_string_lossy().replace('\\', "/");
            out.push((format!("src/{path}"), text.to_string()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}

/// The shipped runtime's default features. `preserve-order` is off in this repository (flashc
/// shares its build: feature unification would turn `serde_json/preserve_order` on for flashc
/// too, and its outputs must not depend on that), on in every generated workspace, so a
/// handler's `json!` reply keeps its keys in the order written.
const SHIPPED_DEFAULT_FEATURES: &str = r#"default = ["preserve-order"]"#;

/// The runtime's Cargo.toml without this repository's workspace: inherited fields get the
/// workspace's values, dev-dependencies (for tests not shipped) are dropped, and the default
/// features are [`SHIPPED_DEFAULT_FEATURES`].
pub fn standalone_manifest() -> String {
    let mut out = String::from(
        "# flash-runtime, written by flashc: the library every generated worker links.\n",
    );
    let mut in_dev = false;
    for line in RUNTIME_MANIFEST.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            // Dev-dependencies and test, bench and example targets name files not shipped.
            in_dev = trimmed == "[dev-dependencies]"
                || ["[[test]]", "[[bench]]", "[[example]]"].contains(&trimmed);
        }
        if in_dev {
            continue;
        }
        if trimmed == "default = []" {
            out.push_str(SHIPPED_DEFAULT_FEATURES);
            out.push('\n');
            continue;
        }
        match trimmed.split_once(".workspace") {
            Some((key, rest)) if rest.trim_start().starts_with('=') => {
                let value = workspace_value(key).unwrap_or_else(|| "\"\"".to_string());
                out.push_str(&format!("{key} = {value}\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// A `[workspace.package]` value of this repository's Cargo.toml, as TOML text.
fn workspace_value(key: &str) -> Option<String> {
    let mut in_package = false;
    for line in WORKSPACE_MANIFEST.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_package = trimmed == "[workspace.package]";
            continue;
        }
        if in_package {
            if let Some((k, v)) = trimmed.split_once('=') {
                if k.trim() == key {
                    return Some(v.trim().to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_manifest_stands_alone() {
        let manifest = super::standalone_manifest();
        // No `key.workspace = true` left to resolve, nothing that names files not shipped.
        assert!(!manifest.contains(".workspace"), "{manifest}");
        assert!(!manifest.contains("dev-dependencies"), "{manifest}");
        assert!(!manifest.contains("[[test]]"), "{manifest}");
        assert!(manifest.contains("edition = \"2021\""), "{manifest}");
        assert!(manifest.contains("name = \"flash-runtime\""), "{manifest}");
        // Generated workers keep a `json!` reply's key order (the feature exists, is default).
        assert!(
            manifest.contains(super::SHIPPED_DEFAULT_FEATURES)
                && manifest.contains("preserve-order = [\"serde_json/preserve_order\"]"),
            "{manifest}"
        );
    }

    #[test]
    fn the_library_is_embedded() {
        let files = super::files();
        assert!(files.iter().any(|(p, _)| p == "src/lib.rs"));
        assert!(files.iter().any(|(p, _)| p == "src/lb/mod.rs"));
    }
}

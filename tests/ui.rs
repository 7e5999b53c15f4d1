//! Golden UI tests, in the manner of Spin's and rustc's: every `tests/ui/check/*.yaml` is
//! checked and its human and JSON output compared with the `.out` and `.json` files beside it.
//! Add a case by dropping in a YAML file and running `BLESS=1 cargo test --test ui`, then
//! read the new expected files before committing them.

use std::fs;
use std::path::{Path, PathBuf};

use flashc::render::{self, SourceFile};
use flashc::resolve::{CrateError, CrateInfo, Workspace};

/// The file system, with a minimal reading of Cargo.toml instead of `cargo metadata` (the
/// golden crates are tiny and the tests stay fast and offline).
struct TestWorkspace {
    base: PathBuf,
}

impl Workspace for TestWorkspace {
    fn locate_crate(&self, dir: &Path) -> Result<CrateInfo, CrateError> {
        let dir = self.base.join(dir);
        if !dir.is_dir() {
            return Err(CrateError::NoDirectory(dir));
        }
        let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
            return Err(CrateError::NoManifest(dir));
        };
        let dir = dir.canonicalize().expect("canonical crate dir");
        let (mut section, mut package, mut lib_name, mut lib_path, mut edition) =
            (String::new(), None, None, None, "2015".to_string());
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']).to_string();
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match (section.as_str(), key.trim()) {
                ("package", "name") => package = Some(value),
                ("package", "edition") => edition = value,
                ("lib", "name") => lib_name = Some(value),
                ("lib", "path") => lib_path = Some(dir.join(value)),
                _ => {}
            }
        }
        let Some(package) = package else {
            return Err(CrateError::Metadata("missing field `package.name`".into()));
        };
        let lib_path = lib_path.unwrap_or_else(|| dir.join("src/lib.rs"));
        if !lib_path.is_file() {
            return Err(CrateError::NoLib { package });
        }
        Ok(CrateInfo {
            lib_name: lib_name.unwrap_or_else(|| package.replace('-', "_")),
            package,
            manifest_dir: dir,
            lib_path,
            edition,
        })
    }

    fn read(&self, path: &Path) -> Option<String> {
        fs::read_to_string(path).ok()
    }
}

/// Every `tests/ui/handlers/<case>/` (a flash.yaml with its crate).
fn handler_cases() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir("tests/ui/handlers")
        .expect("tests/ui/handlers")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("flash.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn check_handler_case(dir: &Path) -> (String, Vec<flashc::diagnostic::Diagnostic>) {
    let file = dir.join("flash.yaml");
    let bytes = fs::read(&file).expect("read case");
    let ws = TestWorkspace {
        base: dir.to_path_buf(),
    };
    let mut diagnostics = flashc::check_with_crate(&bytes, None, &ws).expect("no --env given");
    let shown = dir.to_string_lossy().replace('\\', "/");
    flashc::diagnostic::prefix_related_files(&mut diagnostics, &shown);
    (String::from_utf8_lossy(&bytes).into_owned(), diagnostics)
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn compare(expected_path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("BLESS").is_some() {
        fs::write(expected_path, actual).expect("write expected output");
        return;
    }
    let expected = fs::read_to_string(expected_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "--- {} (expected)\n{expected}\n+++ actual\n{actual}",
            expected_path.display()
        ));
    }
}

#[test]
fn check_ui_cases() {
    let mut failures = Vec::new();
    let files = cases("tests/ui/check");
    assert!(files.len() >= 40, "expected the UI cases to be present");
    for file in files {
        let bytes = fs::read(&file).expect("read case");
        let name = file.to_string_lossy().replace('\\', "/");
        let diagnostics = flashc::check(&bytes, None).expect("no --env given");
        let text = String::from_utf8_lossy(&bytes);
        let source = SourceFile::new(&name, &text);
        compare(
            &file.with_extension("out"),
            &render::human(&source, &diagnostics, false),
            &mut failures,
        );
        compare(
            &file.with_extension("json"),
            &render::json(&source, &diagnostics),
            &mut failures,
        );
        // A case named for a rule must trigger it (guards against a case that silently passes).
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if !stem.starts_with("valid") && stem != "defaults_cpu_replaces_gpu" {
            assert!(
                !diagnostics.is_empty(),
                "{name}: expected at least one diagnostic"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} UI case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn handler_ui_cases() {
    let mut failures = Vec::new();
    let dirs = handler_cases();
    assert!(
        dirs.len() >= 9,
        "expected the handler UI cases to be present"
    );
    for dir in dirs {
        let (text, diagnostics) = check_handler_case(&dir);
        let name = dir.join("flash.yaml").to_string_lossy().replace('\\', "/");
        let source = SourceFile::new(&name, &text);
        compare(
            &dir.join("flash.out"),
            &render::human(&source, &diagnostics, false),
            &mut failures,
        );
        let valid = dir
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("valid"));
        assert_eq!(
            diagnostics.is_empty(),
            valid,
            "{name}: a case named for a rule must trigger it; a `valid` case must be clean"
        );
    }
    assert!(
        failures.is_empty(),
        "{} UI case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_has_a_ui_case() {
    let mut seen = std::collections::BTreeSet::new();
    for file in cases("tests/ui/check") {
        let bytes = fs::read(&file).expect("read case");
        for d in flashc::check(&bytes, None).expect("no --env given") {
            seen.insert(d.code);
        }
    }
    for dir in handler_cases() {
        for d in check_handler_case(&dir).1 {
            seen.insert(d.code);
        }
    }
    let missing: Vec<&str> = flashc::rules::ALL
        .iter()
        .map(|r| r.code)
        .filter(|c| !seen.contains(c))
        .collect();
    assert!(missing.is_empty(), "codes without a UI case: {missing:?}");
}

#[test]
fn bundled_examples_are_clean() {
    for dir in fs::read_dir("examples").expect("examples/").flatten() {
        let file = dir.path().join("flash.yaml");
        if !file.exists() {
            continue;
        }
        let bytes = fs::read(&file).expect("read example");
        let ws = TestWorkspace { base: dir.path() };
        let diagnostics = flashc::check_with_crate(&bytes, None, &ws).expect("no --env given");
        assert!(
            diagnostics.is_empty(),
            "{}: {diagnostics:#?}",
            file.display()
        );
    }
}

#[test]
fn documented_example_is_valid() {
    let doc = fs::read_to_string("docs/flash-yaml.md").expect("docs/flash-yaml.md");
    let example = doc
        .split("```yaml\n")
        .nth(2)
        .and_then(|rest| rest.split("```").next())
        .expect("the complete example");
    assert!(example.contains("environments:"), "picked the wrong block");
    let diagnostics = flashc::check(example.as_bytes(), None).expect("no --env given");
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

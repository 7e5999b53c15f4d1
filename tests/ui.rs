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
        let mut build_script = None;
        let mut features = Vec::new();
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
                ("package", "build") => build_script = Some(dir.join(value)),
                ("features", name) => features.push(name.to_string()),
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
            build_script,
            edition,
            features: {
                features.sort();
                features
            },
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

/// One help, applied: `before` is checked, a diagnostic with `code` must carry a help that
/// contains `promise` (the text the fix writes, word for word), and `before` with `from`
/// replaced by `to` must check clean, or give exactly `then` (a fix that uncovers the real
/// problem, such as a quoted version that is not a CUDA version).
struct Fix {
    before: &'static str,
    code: &'static str,
    promise: &'static str,
    from: &'static str,
    to: &'static str,
    then: &'static [&'static str],
}

const QUEUE: &str =
    "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    handler: a::b\n";
const BALANCED: &str =
    "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    routes:\n      \"GET /x\": a::b\n";

fn fixes() -> Vec<Fix> {
    let fix = |before: &'static str,
               code: &'static str,
               promise: &'static str,
               from: &'static str,
               to: &'static str| Fix {
        before,
        code,
        promise,
        from,
        to,
        then: &[],
    };
    // Each `before` is QUEUE or BALANCED plus lines, leaked so the table stays `&'static`.
    let q = |extra: &str| -> &'static str { Box::leak(format!("{QUEUE}{extra}").into_boxed_str()) };
    let b =
        |extra: &str| -> &'static str { Box::leak(format!("{BALANCED}{extra}").into_boxed_str()) };
    vec![
        // Class 1: the type and the fields disagree; either fix gives a correct file.
        fix(
            "version: 1\nname: demo\nendpoints:\n  api:\n    type: queue\n    routes:\n      \"GET /x\": a::b\n",
            "FL0203",
            "`type: load_balanced`",
            "type: queue",
            "type: load_balanced",
        ),
        fix(
            "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    handler: a::b\n",
            "FL0203",
            "`type: queue`",
            "type: load_balanced",
            "type: queue",
        ),
        fix(
            "version: 1\nname: demo\nendpoints:\n  api:\n    type: load_balanced\n    handler: a::b\n",
            "FL0203",
            "`routes: {\"POST /run\": a::b}`",
            "    handler: a::b\n",
            "    routes: {\"POST /run\": a::b}\n",
        ),
        // Class 2: Flash spellings and Python-isms.
        fix(q("    dependencies: [torch]\n"), "FL0101", "Cargo.toml", "    dependencies: [torch]\n", ""),
        fix(
            q("    execution_timeout_ms: 60000\n"),
            "FL0101",
            "`execution_timeout: 60s`",
            "execution_timeout_ms: 60000",
            "execution_timeout: 60s",
        ),
        fix(
            q("    execution_timeout_ms: 1500\n"),
            "FL0101",
            "`execution_timeout: 1500ms`",
            "execution_timeout_ms: 1500",
            "execution_timeout: 1500ms",
        ),
        fix(q("    workers: (1, 3)\n"), "FL0102", "`workers: [1, 3]`", "workers: (1, 3)", "workers: [1, 3]"),
        fix(q("    workers: 1-3\n"), "FL0102", "`workers: [1, 3]`", "workers: 1-3", "workers: [1, 3]"),
        fix(q("    gpu: GpuGroup.ADA_24\n"), "FL0103", "`ADA_24`", "GpuGroup.ADA_24", "ADA_24"),
        fix(q("    gpu: GpuType.NVIDIA_L4\n"), "FL0103", "`NVIDIA_L4`", "GpuType.NVIDIA_L4", "NVIDIA_L4"),
        fix(
            q("    cpu: CpuInstanceType.CPU3C_1_2\n"),
            "FL0103",
            "`cpu3c-1-2`",
            "CpuInstanceType.CPU3C_1_2",
            "cpu3c-1-2",
        ),
        fix(
            q("    datacenters: [DataCenter.EU_RO_1]\n"),
            "FL0103",
            "`EU-RO-1`",
            "DataCenter.EU_RO_1",
            "EU-RO-1",
        ),
        fix(
            BALANCED.replacen("load_balanced", "LB", 1).leak(),
            "FL0103",
            "`load_balanced`",
            "type: LB",
            "type: load_balanced",
        ),
        fix(QUEUE.replacen("queue", "QB", 1).leak(), "FL0103", "`queue`", "type: QB", "type: queue"),
        fix(QUEUE.replacen("version: 1", "version: \"1\"", 1).leak(), "FL0102", "`1`", "\"1\"", "1"),
        fix(q("    idle_timeout: 2h\n"), "FL0104", "`5m`", "2h", "5m"),
        fix(q("    idle_timeout: 5 minutes\n"), "FL0403", "`5m`", "5 minutes", "5m"),
        Fix {
            before: q("    min_cuda_version: 12.10\n"),
            code: "FL0005",
            promise: "`min_cuda_version: \"12.10\"`",
            from: "12.10",
            to: "\"12.10\"",
            // Quoted, the version is checked as written: 12.10 is not a CUDA version.
            then: &["FL0103"],
        },
        // Helps that were already there.
        fix(q("    worker: 3\n"), "FL0101", "`workers`", "worker:", "workers:"),
        fix(q("    env:\n      model-id: bert\n"), "FL0502", "`MODEL_ID`", "model-id", "MODEL_ID"),
        fix(
            q("    env:\n      HF_TOKEN: hf_abc\n"),
            "FL0503",
            "`HF_TOKEN: { secret: hf_token }`",
            "HF_TOKEN: hf_abc",
            "HF_TOKEN: { secret: hf_token }",
        ),
        fix(q("    flashboot: yes\n"), "FL0102", "`true`", "yes", "true"),
        fix(q("    gpu_count: \"2\"\n"), "FL0102", "`2`", "\"2\"", "2"),
        fix(
            b("    scaler: {type: QUEUE_DELAY, value: 4}\n"),
            "FL0402",
            "`type: REQUEST_COUNT`",
            "type: QUEUE_DELAY",
            "type: REQUEST_COUNT",
        ),
        // The rules' helps (FL02xx–FL06xx).
        fix(
            QUEUE.replacen("name: demo", "name: My App", 1).leak(),
            "FL0601",
            "`my-app`",
            "My App",
            "my-app",
        ),
        fix(
            QUEUE.replacen("  api:", "  Api_1:", 1).leak(),
            "FL0201",
            "`api-1`",
            "Api_1",
            "api-1",
        ),
        fix(b("      \"GET /ping\": a::c\n"), "FL0207", "`/healthz`", "/ping", "/healthz"),
        fix(b("      \"get /y\": a::c\n"), "FL0205", "`\"GET /y\"`", "\"get /y\"", "\"GET /y\""),
        fix(
            b("      \"GET /users/{id\": a::c\n"),
            "FL0206",
            "`/users/{id}`",
            "/users/{id",
            "/users/{id}",
        ),
        fix(b("      \"GET /y\": a-b\n"), "FL0204", "`a_b`", "a-b", "a_b"),
        fix(q("    workers: [3, 1]\n"), "FL0401", "`workers: [1, 3]`", "workers: [3, 1]", "workers: [1, 3]"),
        fix(
            q("    workers: {min: 0, max: 0}\n"),
            "FL0401",
            "`workers: 1`",
            "workers: {min: 0, max: 0}",
            "workers: 1",
        ),
        fix(
            q("    cpu: cpu3c-1-2\n    container_disk: 50\n"),
            "FL0306",
            "`container_disk: 10`",
            "container_disk: 50",
            "container_disk: 10",
        ),
        fix(
            q("    gpu: BLACKWELL_96\n    min_cuda_version: \"12.4\"\n"),
            "FL0303",
            "`min_cuda_version: \"12.8\"`",
            "min_cuda_version: \"12.4\"",
            "min_cuda_version: \"12.8\"",
        ),
        fix(
            q("    volume: {size: 100}\n"),
            "FL0501",
            "`name: my-volume`",
            "{size: 100}",
            "{name: my-volume, size: 100}",
        ),
        fix(
            q("    cpu: cpu5c-2-4\n    datacenters: [US-KS-2]\n"),
            "FL0305",
            "`datacenters: [EU-RO-1]`",
            "datacenters: [US-KS-2]",
            "datacenters: [EU-RO-1]",
        ),
        fix(
            q("    image: {base: \"Debian Bookworm\"}\n"),
            "FL0505",
            "`debian:bookworm-slim`",
            "\"Debian Bookworm\"",
            "debian:bookworm-slim",
        ),
        fix(
            q("    gpu: ADA_24\n    cpu: cpu3c-1-2\n"),
            "FL0301",
            "keep `gpu`",
            "    cpu: cpu3c-1-2\n",
            "",
        ),
        fix(
            q("    cpu: cpu3c-1-2\n    gpu_count: 2\n"),
            "FL0302",
            "remove `gpu_count`",
            "    gpu_count: 2\n",
            "",
        ),
        fix(
            b("    max_concurrency: 4\n"),
            "FL0203",
            "remove it",
            "    max_concurrency: 4\n",
            "",
        ),
    ]
}

#[test]
fn helps_lead_to_a_correct_file() {
    let mut failures = Vec::new();
    for fix in fixes() {
        let before = flashc::check(fix.before.as_bytes(), None).expect("no --env given");
        let Some(found) = before.iter().find(|d| d.code == fix.code) else {
            failures.push(format!("{:?}: no {} in {before:#?}", fix.before, fix.code));
            continue;
        };
        let help = found.help.clone().unwrap_or_default();
        if !help.contains(fix.promise) {
            failures.push(format!(
                "{:?}: help {help:?} does not say {:?}",
                fix.before, fix.promise
            ));
            continue;
        }
        assert!(
            fix.before.contains(fix.from),
            "{:?} lacks {:?}",
            fix.before,
            fix.from
        );
        let after = fix.before.replacen(fix.from, fix.to, 1);
        let codes: Vec<&str> = flashc::check(after.as_bytes(), None)
            .expect("no --env given")
            .iter()
            .map(|d| d.code)
            .collect();
        if codes != fix.then {
            failures.push(format!(
                "{after:?} (help {help:?} applied) gives {codes:?}, expected {:?}",
                fix.then
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

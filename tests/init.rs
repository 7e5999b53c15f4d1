//! `flashc init` end to end, through the real binary. Projects are created outside this
//! repository (in the system's temp dir), as a user's are, so the new crate's empty
//! `[workspace]` table is what keeps it a package of its own.
//! - the new project checks, generates, and its generated workspace builds; the crate passes
//!   `cargo test`, `cargo clippy --all-targets -D warnings` and `rustfmt --check` as created
//!   (cargo's target dir is `target/generated`, shared with tests/generate.rs);
//! - the golden tree `tests/ui/init/demo.tree` (`BLESS=1 cargo test --test init` rewrites it);
//! - refusing to overwrite (every file listed, nothing written), `--force`, names.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every file init writes.
const FILES: &[&str] = &[
    "flash.yaml",
    "Cargo.toml",
    "src/lib.rs",
    "README.md",
    ".gitignore",
    ".dockerignore",
    ".flash/flash.schema.json",
];

fn flashc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
}

/// A fresh, empty scratch directory outside the repository.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flashc-init-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Every file under `dir` with its bytes, sorted by path.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy();
                files.push((rel.replace('\\', "/"), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The shared cargo target dir of the repository's tests (`target/generated`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("generated")
}

fn cargo(args: &[&str], manifest: &Path) -> Output {
    let (cargo_args, tool_args) = match args.iter().position(|a| *a == "--") {
        Some(i) => (&args[..i], &args[i..]),
        None => (args, &[][..]),
    };
    Command::new(env!("CARGO"))
        .args(cargo_args)
        .arg("--manifest-path")
        .arg(manifest)
        .args(tool_args)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap()
}

#[test]
fn a_new_project_checks_tests_lints_generates_and_builds() {
    if !support::run_slow_tests("a_new_project_checks_tests_lints_generates_and_builds") {
        return;
    }
    let parent = scratch("e2e");
    // The default name comes from the directory's, made valid; DIR is created.
    let out = flashc()
        .args(["init", "My_Service"])
        .current_dir(&parent)
        .output()
        .unwrap();
    succeeded("flashc init", &out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("created project `my-service` in My_Service:"),
        "{stdout}"
    );
    for step in ["cd My_Service", "flashc check", "cargo test", "flashc dev"] {
        assert!(stdout.contains(step), "{stdout}");
    }
    assert!(
        stdout.contains("docker build -f .flash/workers/api/Dockerfile -t my-service-api ."),
        "{stdout}"
    );
    let project = parent.join("My_Service");
    for file in FILES {
        assert!(project.join(file).is_file(), "{file} is missing");
    }
    let yaml = fs::read_to_string(project.join("flash.yaml")).unwrap();
    assert!(yaml.contains("\nname: my-service\n"), "{yaml}");

    // `flashc check` from the project directory, with no arguments.
    let check = flashc()
        .arg("check")
        .current_dir(&project)
        .output()
        .unwrap();
    succeeded("flashc check", &check);

    // The crate as created: tests, lints and formatting.
    let manifest = project.join("Cargo.toml");
    let test = cargo(&["test"], &manifest);
    succeeded("cargo test", &test);
    assert!(
        text(&test.stdout).contains("test result: ok. 3 passed"),
        "{}",
        text(&test.stdout)
    );
    succeeded(
        "cargo clippy",
        &cargo(
            &["clippy", "--all-targets", "--", "-D", "warnings"],
            &manifest,
        ),
    );
    let fmt = Command::new("rustfmt")
        .args(["--check", "--edition", "2021"])
        .arg(project.join("src/lib.rs"))
        .output()
        .unwrap();
    succeeded("rustfmt --check src/lib.rs", &fmt);

    // Generate, then build the generated workspace. The .dockerignore init wrote is generate's
    // own, so generate leaves it as it is (and keeps owning it).
    let dockerignore = fs::read(project.join(".dockerignore")).unwrap();
    let generate = flashc()
        .arg("generate")
        .current_dir(&project)
        .output()
        .unwrap();
    succeeded("flashc generate", &generate);
    assert!(
        !text(&generate.stderr).contains(".dockerignore"),
        "{}",
        text(&generate.stderr)
    );
    assert_eq!(
        fs::read(project.join(".dockerignore")).unwrap(),
        dockerignore
    );
    assert_eq!(
        fs::read_to_string(project.join(".flash/flash.schema.json")).unwrap(),
        flashc::schema::generate_text()
    );
    succeeded(
        "cargo build of .flash",
        &cargo(
            &["build", "--locked", "--workspace"],
            &project.join(".flash/Cargo.toml"),
        ),
    );

    // .gitignore keeps the schema and drops the rest of .flash/ and target/.
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(&project)
            .output()
    };
    if git(&["init", "-q"]).is_ok_and(|o| o.status.success()) {
        for (path, ignored) in [
            (".flash/Cargo.toml", true),
            (".flash/workers/api/src/main.rs", true),
            ("target/debug/x", true),
            (".flash/flash.schema.json", false),
            ("flash.yaml", false),
            ("src/lib.rs", false),
        ] {
            let out = git(&["check-ignore", "-q", path]).unwrap();
            assert_eq!(
                out.status.code(),
                Some(if ignored { 0 } else { 1 }),
                "{path}"
            );
        }
    }
    fs::remove_dir_all(&parent).unwrap();
}

#[test]
fn the_modeline_names_the_schema_written_beside() {
    let dir = scratch("modeline");
    succeeded(
        "flashc init",
        &flashc().arg("init").arg(&dir).output().unwrap(),
    );
    let yaml = fs::read_to_string(dir.join("flash.yaml")).unwrap();
    let first = yaml.lines().next().unwrap();
    let path = first
        .strip_prefix("# yaml-language-server: $schema=")
        .unwrap_or_else(|| panic!("no modeline: {first}"));
    let written = fs::read_to_string(dir.join(path)).unwrap();
    let schema = flashc().arg("schema").output().unwrap();
    succeeded("flashc schema", &schema);
    assert_eq!(written, text(&schema.stdout));
    let parsed: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert!(parsed.get("$schema").is_some());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_run_refuses_and_changes_nothing() {
    let dir = scratch("twice");
    succeeded(
        "flashc init",
        &flashc().arg("init").arg(&dir).output().unwrap(),
    );
    fs::write(dir.join("README.md"), "my own notes\n").unwrap();
    let before = snapshot(&dir);
    let again = flashc().arg("init").arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(stderr.contains("7 files already exist"), "{stderr}");
    for file in FILES {
        assert!(
            stderr.contains(&format!("\n  {file}\n")),
            "{file}: {stderr}"
        );
    }
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(again.stdout.is_empty());
    assert_eq!(snapshot(&dir), before, "a refused init wrote something");

    // --force writes every file again.
    let forced = flashc()
        .args(["init", "--force"])
        .arg(&dir)
        .output()
        .unwrap();
    succeeded("flashc init --force", &forced);
    assert!(text(&forced.stdout).contains("README.md  (overwritten)"));
    assert_ne!(
        fs::read_to_string(dir.join("README.md")).unwrap(),
        "my own notes\n"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_file_in_the_way_stops_everything_until_forced() {
    let dir = scratch("one");
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(dir.join("src/lib.rs"), "pub fn mine() {}\n").unwrap();
    let before = snapshot(&dir);
    let out = flashc()
        .args(["init", "--name", "demo"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 file already exists") && stderr.contains("\n  src/lib.rs\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("flash.yaml"), "{stderr}");
    assert_eq!(snapshot(&dir), before);

    // A directory where a file goes is not overwritten, even with --force.
    fs::create_dir_all(dir.join("README.md")).unwrap();
    let out = flashc()
        .args(["init", "--force", "--name", "demo"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("README.md: a directory is in its place"));
    assert_eq!(snapshot(&dir), before);
    fs::remove_dir(dir.join("README.md")).unwrap();

    let out = flashc()
        .args(["init", "--force", "--name", "demo"])
        .arg(&dir)
        .output()
        .unwrap();
    succeeded("flashc init --force", &out);
    assert!(fs::read_to_string(dir.join("src/lib.rs"))
        .unwrap()
        .contains("pub fn hello"));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_are_checked_and_derived() {
    let parent = scratch("names");
    // An invalid --name: a usage error with the nearest valid name, nothing written.
    let out = flashc()
        .args(["init", "new", "--name", "My App"])
        .current_dir(&parent)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("project name `My App`"), "{stderr}");
    assert!(stderr.contains("help: pass `--name my-app`"), "{stderr}");
    assert!(!parent.join("new").exists());

    // A directory name with no letters to make a name from.
    let out = flashc()
        .args(["init", "2024"])
        .current_dir(&parent)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--name"));
    assert!(!parent.join("2024").exists());

    // DIR must be a directory.
    fs::write(parent.join("file"), "").unwrap();
    let out = flashc()
        .args(["init", "file"])
        .current_dir(&parent)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // `true` is a valid project name that YAML must quote and Rust cannot name a crate with.
    let out = flashc()
        .args(["init", "a/b", "--name", "true"])
        .current_dir(&parent)
        .output()
        .unwrap();
    succeeded("flashc init --name true", &out);
    let project = parent.join("a/b");
    let yaml = fs::read_to_string(project.join("flash.yaml")).unwrap();
    assert!(yaml.contains("\nname: \"true\"\n"), "{yaml}");
    let manifest = fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"true-handlers\""), "{manifest}");
    succeeded(
        "flashc check",
        &flashc()
            .arg("check")
            .arg(project.join("flash.yaml"))
            .output()
            .unwrap(),
    );
    fs::remove_dir_all(&parent).unwrap();
}

/// The created tree (minus the schema, compared with `flashc schema` above) and what init
/// prints, against `tests/ui/init/demo.tree`.
#[test]
fn golden_tree() {
    let parent = scratch("golden");
    let out = flashc()
        .args(["init", "demo"])
        .current_dir(&parent)
        .output()
        .unwrap();
    succeeded("flashc init", &out);
    let mut actual = format!("=== (stdout) ===\n{}", text(&out.stdout));
    for (path, bytes) in snapshot(&parent.join("demo")) {
        if path == ".flash/flash.schema.json" {
            continue;
        }
        actual.push_str(&format!("=== {path} ===\n{}", text(&bytes)));
    }
    let snapshot_path = Path::new("tests/ui/init/demo.tree");
    if std::env::var_os("BLESS").is_some() {
        fs::create_dir_all(snapshot_path.parent().unwrap()).unwrap();
        fs::write(snapshot_path, &actual).unwrap();
    } else {
        let expected = fs::read_to_string(snapshot_path).unwrap_or_default();
        if expected != actual {
            let line = expected
                .lines()
                .zip(actual.lines())
                .position(|(e, a)| e != a)
                .map_or_else(
                    || "lengths differ".to_string(),
                    |i| {
                        format!(
                            "line {}:\n- {}\n+ {}",
                            i + 1,
                            expected.lines().nth(i).unwrap_or(""),
                            actual.lines().nth(i).unwrap_or("")
                        )
                    },
                );
            panic!(
                "{} differs (BLESS=1 cargo test --test init rewrites it)\n{line}",
                snapshot_path.display()
            );
        }
    }
    fs::remove_dir_all(&parent).unwrap();
}

/// Issue 19 item 16: a directory whose name starts with `-` is printed so that the `cd` line
/// works when pasted into a shell (not `cd -rf`, which is options to `cd`).
#[test]
fn the_printed_cd_line_works_for_a_directory_starting_with_a_dash() {
    let parent = scratch("dash");
    let out = flashc()
        .args(["init", "--name", "dash", "--", "-rf"])
        .current_dir(&parent)
        .output()
        .unwrap();
    succeeded("flashc init -- -rf", &out);
    assert!(parent.join("-rf/flash.yaml").is_file());
    let stdout = text(&out.stdout);
    let cd = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cd "))
        .unwrap_or_else(|| panic!("a cd line: {stdout}"));
    let shell = Command::new("sh")
        .arg("-c")
        .arg(format!("{cd} && pwd"))
        .current_dir(&parent)
        .output()
        .unwrap();
    succeeded(cd, &shell);
    assert!(text(&shell.stdout).trim_end().ends_with("/-rf"), "{cd}");
    fs::remove_dir_all(&parent).unwrap();
}

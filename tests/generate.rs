//! `flashc generate` end to end, through the real binary:
//! - golden trees: every example project (`examples/*/`) and every drop-in case
//!   (`tests/ui/generate/cases/*/`) is generated and its output, minus the embedded runtime and
//!   cargo's lockfile, compared with `tests/ui/generate/**/<name>.tree`
//!   (`BLESS=1 cargo test --test generate` rewrites them);
//! - idempotence: a second run writes nothing, and `--check` agrees;
//! - the generated workspaces build (one shared target dir), pass `clippy -D warnings` and
//!   `rustfmt --check`, and their workers serve real requests (see `workers_serve`).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn flashc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
}

/// Every project to generate: `(snapshot path, project dir)`.
fn projects() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for (root, snapshots) in [
        ("examples", "tests/ui/generate/examples"),
        ("tests/ui/generate/cases", "tests/ui/generate/cases"),
    ] {
        let Ok(entries) = fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            // flash.yaml is what makes a project: a case's crate may be in a subdirectory.
            if dir.join("flash.yaml").is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                out.push((Path::new(snapshots).join(format!("{name}.tree")), dir));
            }
        }
    }
    out.sort();
    out
}

/// Generates every project once per test run (tests share the output).
fn generated() -> &'static Vec<(PathBuf, PathBuf)> {
    static ONCE: OnceLock<Vec<(PathBuf, PathBuf)>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let projects = projects();
        for (_, dir) in &projects {
            let out = flashc()
                .arg("generate")
                .arg(dir.join("flash.yaml"))
                .output()
                .expect("run flashc");
            assert!(
                out.status.success(),
                "flashc generate {}: {}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        projects
    })
}

/// The generated files a reviewer reads, concatenated: everything flashc wrote except the
/// runtime's own source (it is tested in runtime/), cargo's lockfile, and the schema of
/// flash.yaml (only its presence: `schema_is_written_for_the_modeline` checks its bytes).
fn tree(project: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![project.join(".flash")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(project)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if [
                ".flash/target",
                ".flash/flash-runtime",
                ".flash/Cargo.lock",
                ".flash/Cargo.lock.stamp",
                ".flash/skeleton/workspace/Cargo.lock",
            ]
            .contains(&rel.as_str())
            {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(rel);
            }
        }
    }
    files.push(".dockerignore".into());
    files.sort();
    let mut out = String::new();
    for rel in files {
        if rel == ".flash/flash.schema.json" {
            out.push_str(&format!("=== {rel} === (flashc schema)\n"));
            continue;
        }
        let text = fs::read_to_string(project.join(&rel)).unwrap_or_default();
        out.push_str(&format!("=== {rel} ===\n{text}"));
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[test]
fn golden_trees() {
    let projects = generated();
    assert!(projects.len() >= 2, "expected example projects");
    // Every drop-in case is a project: a case the walk skipped would never be compared.
    let cases = fs::read_dir("tests/ui/generate/cases").unwrap().flatten();
    for case in cases.filter(|e| e.path().is_dir()) {
        assert!(
            projects.iter().any(|(_, dir)| dir == &case.path()),
            "{} is not generated",
            case.path().display()
        );
    }
    let mut failures = Vec::new();
    for (snapshot, dir) in projects {
        let actual = tree(dir);
        if std::env::var_os("BLESS").is_some() {
            fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
            fs::write(snapshot, &actual).unwrap();
            continue;
        }
        let expected = fs::read_to_string(snapshot).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{} differs from {} (BLESS=1 cargo test --test generate rewrites it)\n{}",
                dir.display(),
                snapshot.display(),
                first_difference(&expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn first_difference(expected: &str, actual: &str) -> String {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n- {e}\n+ {a}", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        expected.lines().count(),
        actual.lines().count()
    )
}

#[test]
fn a_second_run_writes_nothing_and_check_agrees() {
    for (_, dir) in generated() {
        let before = tree(dir);
        let out = flashc()
            .arg("generate")
            .arg(dir.join("flash.yaml"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(": 0 files written, 0 removed"),
            "{}: {stdout}",
            dir.display()
        );
        assert_eq!(before, tree(dir));
        let check = flashc()
            .args(["generate", "--check"])
            .arg(dir.join("flash.yaml"))
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(0), "{}", dir.display());
    }
}

#[test]
fn check_reports_stale_output_and_generate_removes_it() {
    let project = support::project::scratch_copy("examples/hello", "generate", "stale");
    let run = |check: bool| {
        let mut cmd = flashc();
        cmd.arg("generate");
        if check {
            cmd.arg("--check");
        }
        cmd.arg(project.join("flash.yaml")).output().unwrap()
    };
    assert!(run(false).status.success());
    // An endpoint that no longer exists leaves files behind; --check says so, generate removes them.
    let orphan = project.join(".flash/workers/gone/src/main.rs");
    fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    fs::write(&orphan, "fn main() {}\n").unwrap();
    let check = run(true);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains(".flash/workers/gone/src/main.rs"));
    assert!(orphan.exists(), "--check must not write");
    assert!(run(false).status.success());
    assert!(!orphan.exists());
    assert!(!project.join(".flash/workers/gone").exists());
    // cargo's own files in the output directory are not flashc's to remove.
    let cargo_file = project.join(".flash/target/debug/kept");
    fs::create_dir_all(cargo_file.parent().unwrap()).unwrap();
    fs::write(&cargo_file, "").unwrap();
    assert!(run(false).status.success());
    assert!(cargo_file.exists() && project.join(".flash/Cargo.lock").exists());
    // A hand edit of a generated file is stale too, wherever the edit is in the file.
    let manifest = project.join(".flash/flash_manifest.json");
    fs::write(&manifest, "{}").unwrap();
    assert_eq!(run(true).status.code(), Some(1));
    assert!(run(false).status.success());
    let runtime = project.join(".flash/flash-runtime/src/lib.rs");
    let mut text = fs::read_to_string(&runtime).unwrap();
    text.push_str("// an older runtime\n");
    fs::write(&runtime, &text).unwrap();
    let check = run(true);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("flash-runtime/src/lib.rs"));
    fs::remove_dir_all(&project).unwrap();
}

#[test]
fn refuses_an_output_directory_it_did_not_write() {
    let project = support::project::scratch_copy("examples/hello", "generate", "foreign");
    fs::create_dir_all(project.join("src/keep")).unwrap();
    fs::write(project.join("src/keep/mine.txt"), "mine").unwrap();
    let out = flashc()
        .args(["generate", "--out", "src"])
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by flashc"));
    assert_eq!(
        fs::read_to_string(project.join("src/keep/mine.txt")).unwrap(),
        "mine"
    );
    let out = flashc()
        .args(["generate", "--out", "../elsewhere"])
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    fs::remove_dir_all(&project).unwrap();
}

/// The modeline `# yaml-language-server: $schema=.flash/flash.schema.json` resolves: generate
/// writes the schema `flashc schema` prints, adopts a `.flash/` that holds only that file (what
/// `flashc init` leaves), and leaves `flashc dev`'s directory in it alone.
#[test]
fn schema_is_written_for_the_modeline() {
    let project = support::project::scratch_copy("examples/hello", "generate", "schema-file");
    let schema = flashc().arg("schema").output().unwrap().stdout;
    fs::create_dir_all(project.join(".flash")).unwrap();
    fs::write(project.join(".flash/flash.schema.json"), "{}").unwrap();
    let out = flashc().arg("generate").arg(&project).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read(project.join(".flash/flash.schema.json")).unwrap(),
        schema
    );
    fs::create_dir_all(project.join(".flash/dev/src")).unwrap();
    fs::write(project.join(".flash/dev/src/main.rs"), "fn main() {}\n").unwrap();
    let out = flashc().arg("generate").arg(&project).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(project.join(".flash/dev/src/main.rs").exists());
    fs::remove_dir_all(&project).unwrap();
}

/// The build stage of a generated Dockerfile, run here without Docker: each `COPY src dst` with
/// `cp -a` (which keeps files' times, as `COPY` does: the reason the Dockerfile touches sources)
/// into a fresh directory standing for `WORKDIR`, each `RUN` there with `sh -c` — in debug
/// rather than `--release` and with the tests' shared target dir, leaving out the final `cp` of
/// the release binary. For the build-script case the dependency stage builds on the skeleton's
/// placeholder script, and the endpoint's stage must run the real one: the library includes
/// the file it writes, so a stage that reused the placeholder's output fails to compile.
#[test]
fn the_dockerfile_build_stages_run_here() {
    if !support::run_slow_tests("the_dockerfile_build_stages_run_here") {
        return;
    }
    let (_, project) = generated()
        .iter()
        .find(|(_, dir)| dir.ends_with("build-script"))
        .expect("the build-script case");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("generated");
    let dockerfile = fs::read_to_string(project.join(".flash/workers/api/Dockerfile")).unwrap();
    // A new directory each run: cargo keys a path crate's build-script output by its path, and
    // the shared target dir would otherwise keep the real script's output from an earlier run
    // (an image build starts with no target dir at all).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let build = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "dockerfile-build-stages-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&build).unwrap();
    let run = |what: &str, mut command: Command| {
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let instructions = dockerfile.replace("\\\n", " ");
    let stage: Vec<&str> = instructions
        .lines()
        .skip_while(|l| !l.starts_with("FROM "))
        .skip(1)
        .take_while(|l| !l.starts_with("FROM "))
        .collect();
    let mut runs = 0;
    for line in stage {
        if let Some(paths) = line.strip_prefix("COPY ") {
            let (from, to) = paths.split_once(' ').expect("COPY src dst");
            let to = build.join(to);
            fs::create_dir_all(&to).unwrap();
            let mut cp = Command::new("cp");
            cp.arg("-a").arg(project.join(from).join(".")).arg(&to);
            run(line, cp);
        } else if let Some(commands) = line.strip_prefix("RUN ") {
            let commands: Vec<String> = commands
                .split("&&")
                .map(str::trim)
                .filter(|c| !c.starts_with("cp "))
                .map(|c| c.replace(" --release", ""))
                .collect();
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg(commands.join(" && "))
                .current_dir(&build)
                .env("CARGO_TARGET_DIR", &target);
            run(line, sh);
            runs += 1;
        }
    }
    assert_eq!(
        runs, 2,
        "the dependency stage and the endpoint's: {dockerfile}"
    );
    fs::remove_dir_all(&build).unwrap();
}

/// Builds every generated workspace with one shared target dir, lints and format-checks the
/// generated code, then runs each worker and calls it over HTTP.
#[test]
fn workers_build_lint_and_serve() {
    if !support::run_slow_tests("workers_build_lint_and_serve") {
        return;
    }
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("generated");
    for (_, dir) in generated() {
        // examples/embeddings builds candle (~16 minutes cold on two cores): its workspace is
        // generated and compared above, and `.ci/run` builds and tests its crate once, apart.
        if dir.ends_with("examples/embeddings") {
            continue;
        }
        let ws = dir.join(".flash");
        let cargo = |args: &[&str]| {
            let (cargo_args, tool_args) = match args.iter().position(|a| *a == "--") {
                Some(i) => (&args[..i], &args[i..]),
                None => (args, &[][..]),
            };
            let out = Command::new(env!("CARGO"))
                .args(cargo_args)
                .arg("--manifest-path")
                .arg(ws.join("Cargo.toml"))
                .args(tool_args)
                .env("CARGO_TARGET_DIR", &target)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "cargo {args:?} in {}: {}",
                ws.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        cargo(&["build", "--locked", "--workspace"]);
        cargo(&[
            "clippy",
            "--locked",
            "--workspace",
            "--exclude",
            "flash-runtime",
            "--",
            "-D",
            "warnings",
        ]);
        let mains: Vec<PathBuf> = fs::read_dir(ws.join("workers"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("src/main.rs"))
            .collect();
        let fmt = Command::new("rustfmt")
            .args(["--check", "--edition", "2021"])
            .args(&mains)
            .output()
            .unwrap();
        assert!(
            fmt.status.success(),
            "generated code is not rustfmt-formatted: {}",
            String::from_utf8_lossy(&fmt.stdout)
        );
        // Now, before another project's workers of the same name replace these binaries.
        support::serve::exercise(&target.join("debug"), dir);
    }
}

#[test]
fn manifest_schema_is_fresh_and_every_manifest_matches_it() {
    let committed = fs::read_to_string("schema/manifest.schema.json").unwrap_or_default();
    assert!(
        committed == flashc::emit::manifest_schema_text(),
        "schema/manifest.schema.json is stale: run `cargo run -- schema --manifest > schema/manifest.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for (_, dir) in generated() {
        let manifest: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.join(".flash/flash_manifest.json")).unwrap(),
        )
        .unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&manifest)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", dir.display());
    }
}

#[test]
fn a_project_overrides_a_template_and_a_misnamed_override_is_an_error() {
    let project = support::project::scratch_copy("examples/hello", "generate", "override");
    let templates = project.join("flash-templates");
    fs::create_dir_all(&templates).unwrap();
    fs::write(
        templates.join("dockerignore.j2"),
        "# generated by flashc {{ flashc_version }} (our own rules)\ntarget\n{{ out_dir }}/target\n",
    )
    .unwrap();
    let out = flashc()
        .arg("generate")
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ignore = fs::read_to_string(project.join(".dockerignore")).unwrap();
    assert!(
        ignore.contains("(our own rules)") && ignore.contains(".flash/target"),
        "{ignore}"
    );
    fs::write(templates.join("Dockerfile.jinja"), "FROM scratch\n").unwrap();
    fs::write(templates.join("dockerfile.j2"), "FROM scratch\n").unwrap();
    let out = flashc()
        .arg("generate")
        .arg(project.join("flash.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dockerfile.j2 overrides no template"),
        "{stderr}"
    );
    fs::remove_dir_all(&project).unwrap();
}

/// Issue 19 item 17: a worker that never becomes healthy is reported at once when it exits,
/// with what it printed, instead of after a deadline with its output thrown away.
#[cfg(unix)]
#[test]
fn a_worker_that_dies_at_start_is_reported_with_its_output() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("flashc-dying-worker-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let script = dir.join("worker");
    fs::write(
        &script,
        "#!/bin/sh\necho 'starting' \necho 'init failed: weights missing' >&2\nexit 3\n",
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let started = std::time::Instant::now();
    let failure = std::panic::catch_unwind(|| {
        support::serve::Worker::start(&script, "dying", &[]);
    })
    .expect_err("a worker that exits is not ready");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failure.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("init failed: weights missing") && message.contains("starting"),
        "{message}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "reported after {:?}",
        started.elapsed()
    );
    fs::remove_dir_all(&dir).unwrap();
}

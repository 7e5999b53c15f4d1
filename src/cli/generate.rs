//! `flashc generate`'s side effects: compare the emitted files with the disk, write only what
//! changed (so cargo and Docker caches stay warm), format Rust with rustfmt, delete what no
//! endpoint produces any more (only inside the output directory), and bring the workspace's
//! Cargo.lock up to date so `cargo build --locked` works in the image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use flashc::emit::kubernetes::KUBERNETES_DIR;
use flashc::emit::{OutputFile, Owner, DEV_DIR, GENERATED_MARK, SCHEMA_FILE, SKELETON};

/// `flashc generate --target`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Worker crates, Dockerfiles, the route manifest and OpenAPI (for Runpod and `flashc dev`).
    Runpod,
    /// Kubernetes manifests under `<out>/kubernetes/`.
    Kubernetes,
}

use super::input::{locate, shell_quote};
pub use super::output::WriteError;
use super::output::{
    create_dirs, first_line, is_current, is_link, link_refused, read_regular, write_all,
    write_file, Pending,
};
use super::{emit, Color, EXIT_FAILURE, EXIT_PROBLEMS, EXIT_USAGE};

/// What a run did (or, with `--check`, would do).
#[derive(Default)]
pub struct Changes {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    /// Project files flashc leaves alone because the user owns them now.
    pub kept: Vec<String>,
    pub warnings: Vec<String>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.written.is_empty() && self.removed.is_empty()
    }
}

/// One generation round, as `flashc generate` and every round of `flashc dev` run it.
pub struct Round<'a> {
    /// flash.yaml.
    pub file: &'a Path,
    /// Its directory: the project.
    pub project: &'a Path,
    pub environment: Option<&'a str>,
    pub out_dir: &'a str,
    pub color: bool,
    /// Compare with the disk only (`flashc generate --check`).
    pub dry_run: bool,
}

/// What a round produced: the generated project, what changed on disk, and the template
/// overrides it used (the dev host's files are rendered with them too).
pub struct Produced {
    pub generated: flashc::Generated,
    pub changes: Changes,
    pub overrides: std::collections::BTreeMap<String, String>,
}

/// Why a round stopped. Diagnostics and unreadable input are printed already; the caller says
/// what that means for it (`generate` exits, `dev` keeps the last good build serving).
pub enum Stopped {
    /// flash.yaml could not be read (printed).
    Unreadable,
    /// `--env` names no environment.
    UnknownEnvironment(String),
    /// flash.yaml has problems (printed).
    Problems,
    /// Templates, an internal error or writing the files.
    Failure(String),
}

/// Reads flash.yaml, checks and generates it, prints its diagnostics and warnings, and applies
/// the files under the project.
pub fn run(round: &Round) -> Result<Produced, Stopped> {
    let bytes = crate::cli::input::read_input(round.file, false).ok_or(Stopped::Unreadable)?;
    let overrides = super::templates::overrides(round.project).map_err(Stopped::Failure)?;
    let workspace = super::workspace::FsWorkspace::new(round.project);
    let options = flashc::emit::Options {
        out_dir: round.out_dir,
        flashc_version: env!("CARGO_PKG_VERSION"),
        overrides: &overrides,
    };
    let generated = generate_once(round, &bytes, round.environment, &workspace, &options, true)?;
    let crate_dir = round.project.join(&generated.plan.handler_crate.dir);
    // Which template each worker's main.rs comes from, for an error in the Rust it rendered.
    let templates: std::collections::BTreeMap<String, String> = generated
        .plan
        .endpoints
        .iter()
        .map(|e| {
            let name = match e.kind {
                flashc::lower::Kind::Queue => "queue_main.rs.j2",
                _ => "lb_main.rs.j2",
            };
            (
                format!("{}/workers/{}/src/main.rs", round.out_dir, e.name),
                super::templates::shown(name, &overrides),
            )
        })
        .collect();
    let changes = apply(
        round.project,
        &crate_dir,
        round.out_dir,
        &generated.files,
        &templates,
        round.dry_run,
    )
    .map_err(|WriteError(message)| Stopped::Failure(message))?;
    for warning in &changes.warnings {
        eprintln!("warning: {warning}");
    }
    for kept in &changes.kept {
        eprintln!("note: {kept} is yours (no flashc header), so flashc left it as it is");
    }
    Ok(Produced {
        generated,
        changes,
        overrides,
    })
}

/// `flashc::generate` for one environment, its diagnostics printed (and its warnings, when
/// `warnings`).
pub(super) fn generate_once(
    round: &Round,
    bytes: &[u8],
    environment: Option<&str>,
    workspace: &super::workspace::FsWorkspace,
    options: &flashc::emit::Options,
    warnings: bool,
) -> Result<flashc::Generated, Stopped> {
    let name = round.file.display().to_string();
    let text = String::from_utf8_lossy(bytes);
    let source = flashc::render::SourceFile::new(&name, &text);
    let generated =
        flashc::generate(bytes, environment, workspace, options).map_err(|e| match e {
            flashc::GenerateError::UnknownEnvironment(unknown) => {
                Stopped::UnknownEnvironment(unknown.to_string())
            }
            flashc::GenerateError::Problems(diagnostics) => {
                eprint!(
                    "{}",
                    flashc::render::human(&source, &diagnostics, round.color)
                );
                Stopped::Problems
            }
            flashc::GenerateError::Internal(message) => Stopped::Failure(message),
        })?;
    if warnings && !generated.warnings.is_empty() {
        eprint!(
            "{}",
            flashc::render::human(&source, &generated.warnings, round.color)
        );
    }
    Ok(generated)
}

/// `--out` is written into every Dockerfile, the `.dockerignore` and the printed commands, so
/// it follows the path policy of `crate:` (FL0603: plain characters, no part starting with `-`,
/// inside the project), and must not be a directory the generated `.dockerignore` leaves out
/// of the build context.
pub fn check_out_dir(out: &str) -> Result<String, String> {
    let clean: Vec<&str> = out
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let clean = clean.join("/");
    if clean.is_empty() {
        return Err(format!(
            "--out {out:?}: the output needs a directory of its own, such as `.flash`"
        ));
    }
    if let Some(problem) = flashc::rules::path_problem(out).or(flashc::rules::path_problem(&clean))
    {
        let why = match problem {
            flashc::rules::PathProblem::Outside => "must be a directory inside the project (relative, without `..`), because it is part of every image's Docker build context".to_string(),
            problem => format!("{problem}; it is written into every Dockerfile and shell command as it is"),
        };
        return Err(format!("--out {out:?}: {why}"));
    }
    let first = clean.split('/').next().unwrap_or_default();
    let ignored = first == ".git"
        || first == "target"
        || clean
            .split('/')
            .any(|c| c == "target" || c == ".env" || c.starts_with(".env."));
    if ignored {
        return Err(format!(
            "--out {out:?}: the generated .dockerignore leaves `.git`, `target` directories and `.env` files out of the build context, so the images could not read the output there; choose another directory, such as `.flash`"
        ));
    }
    Ok(clean)
}

/// Applies `files` under `project` (the directory of flash.yaml). With `dry_run` nothing is
/// written; the result says what would change. Every file is compared whole and written by
/// renaming a new file over it (see [`super::output`]); the lockfile is brought in step with
/// the manifests unless [`LOCK_STAMP`] says it is already.
pub fn apply(
    project: &Path,
    crate_dir: &Path,
    out_dir: &str,
    files: &[OutputFile],
    templates: &std::collections::BTreeMap<String, String>,
    dry_run: bool,
) -> Result<Changes, WriteError> {
    let out_root = project.join(out_dir);
    refuse_links_to_output(project, &out_root)?;
    refuse_foreign_directory(&out_root)?;
    let mut changes = Changes::default();
    let mut pending = Vec::new();
    let mut expected = BTreeSet::new();
    for file in files {
        let target = project.join(&file.path);
        if file.owner == Owner::Generated {
            expected.insert(target.clone());
        } else if is_link(&target) {
            // The project's own files (`.dockerignore`) may be links the user made: flashc
            // neither follows nor replaces them.
            return Err(link_refused(&target));
        }
        let existing = read_regular(&target);
        if existing
            .as_deref()
            .is_some_and(|bytes| is_current(file, bytes))
        {
            continue;
        }
        if file.owner == Owner::Project {
            if let Some(bytes) = &existing {
                if !has_mark(bytes) {
                    changes.kept.push(file.path.clone());
                    continue;
                }
            }
        }
        changes.written.push(file.path.clone());
        pending.push(Pending {
            file,
            target,
            template: templates.get(&file.path).cloned(),
        });
    }
    // The skeleton's copies of files cargo and the user own (see `flashc::emit::SKELETON`).
    let skeleton = out_root.join(SKELETON);
    let copies = [
        (
            crate_dir.join("Cargo.toml"),
            skeleton.join("crate/Cargo.toml"),
        ),
        (
            out_root.join("Cargo.lock"),
            skeleton.join("workspace/Cargo.lock"),
        ),
    ];
    expected.extend(copies.iter().map(|(_, to)| to.clone()));
    expected.insert(out_root.join(LOCK_STAMP));
    let stale = stale_files(&out_root, &expected);
    for path in &stale {
        changes.removed.push(shown(project, path));
    }
    let stamp = lock_stamp(files, crate_dir, &out_root);
    let lock_in_step = read_regular(&out_root.join(LOCK_STAMP)) == Some(stamp_text(&stamp));
    if dry_run {
        if !lock_in_step && changes.is_empty() && !lock_accepted(&out_root)? {
            changes.written.push(format!("{out_dir}/Cargo.lock"));
        }
        for (from, to) in &copies {
            if let Some(bytes) = read_regular(from) {
                if read_regular(to).is_none_or(|old| old != bytes) {
                    changes.written.push(shown(project, to));
                }
            }
        }
        return Ok(changes);
    }
    // Stale files go first: a link in the output is one, and its place may be a directory now.
    for path in &stale {
        std::fs::remove_file(path).map_err(|e| io_error(path, e))?;
        remove_empty_parents(path, &out_root);
    }
    for p in &pending {
        if let Some(parent) = p.target.parent() {
            create_dirs(project, &out_root, parent)?;
        }
    }
    if let Some(warning) = write_all(&pending)? {
        changes.warnings.push(warning);
    }
    // The stamp is rewritten only once cargo has brought the lockfile in step with the
    // manifests just written: a run that stops before (killed, or cargo failing) leaves a stamp
    // that no longer matches, and the next run does it again.
    let stamp = lock_stamp(files, crate_dir, &out_root);
    let lock_in_step = read_regular(&out_root.join(LOCK_STAMP)) == Some(stamp_text(&stamp));
    if !lock_in_step {
        match sync_lockfile(crate_dir, &out_root) {
            Ok(()) => {
                let stamp = lock_stamp(files, crate_dir, &out_root);
                write_file(&out_root.join(LOCK_STAMP), &stamp_text(&stamp))?;
            }
            Err(warning) => changes.warnings.push(warning),
        }
    }
    for (from, to) in &copies {
        let Some(bytes) = read_regular(from) else {
            continue;
        };
        if read_regular(to).is_some_and(|old| old == bytes) {
            continue;
        }
        changes.written.push(shown(project, to));
        if let Some(parent) = to.parent() {
            create_dirs(project, &out_root, parent)?;
        }
        write_file(to, &bytes)?;
    }
    Ok(changes)
}

/// The file in the output that records which manifests and lockfile cargo last found in step
/// (a hash of them all): while it matches, no run needs to ask cargo again.
pub const LOCK_STAMP: &str = "Cargo.lock.stamp";

/// The hash of everything cargo reads to decide whether Cargo.lock is in step: the workspace's
/// manifests (as generated), the handler crate's manifest and the lockfile (as on disk).
fn lock_stamp(files: &[OutputFile], crate_dir: &Path, out_root: &Path) -> u64 {
    let mut all = Vec::new();
    for file in files {
        let manifest = file.path.ends_with("Cargo.toml")
            && !file.path.contains(&format!("/{SKELETON}/"))
            && !file.path.contains(&format!("/{DEV_DIR}/"));
        if manifest {
            all.extend_from_slice(file.path.as_bytes());
            all.push(0);
            all.extend_from_slice(file.contents.as_bytes());
            all.push(0);
        }
    }
    for path in [crate_dir.join("Cargo.toml"), out_root.join("Cargo.lock")] {
        all.extend_from_slice(&read_regular(&path).unwrap_or_default());
        all.push(0);
    }
    flashc::emit::fingerprint(&all)
}

fn stamp_text(stamp: &u64) -> Vec<u8> {
    format!("{stamp:016x}\n").into_bytes()
}

/// Whether cargo accepts the output's Cargo.lock for its manifests as they are (`--locked`).
fn lock_accepted(out_root: &Path) -> Result<bool, WriteError> {
    let lock = out_root.join("Cargo.lock");
    if read_regular(&lock).is_none() {
        return Ok(false);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--locked",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(out_root.join("Cargo.toml"))
        .stdout(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            WriteError(format!(
                "cannot run cargo to verify {}: {e}",
                lock.display()
            ))
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        Ok(true)
    } else if stderr.contains("--locked") || stderr.contains("lock file") {
        Ok(false)
    } else {
        Err(WriteError(format!(
            "cargo could not verify {}: {}",
            lock.display(),
            stderr.trim()
        )))
    }
}

fn shown(project: &Path, path: &Path) -> String {
    path.strip_prefix(project)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Whether a file's first line says flashc wrote it.
pub(super) fn has_mark(bytes: &[u8]) -> bool {
    first_line(bytes)
        .windows(GENERATED_MARK.len())
        .any(|w| w == GENERATED_MARK.as_bytes())
}

pub(super) fn io_error(path: &Path, err: std::io::Error) -> WriteError {
    WriteError(format!("cannot write {}: {err}", path.display()))
}

/// The output directory and the directories leading to it are the user's to place, but not
/// through a link: flashc deletes stale files in it, so it must be where it appears to be.
fn refuse_links_to_output(project: &Path, out_root: &Path) -> Result<(), WriteError> {
    let below = out_root.strip_prefix(project).unwrap_or(out_root);
    let mut path = project.to_path_buf();
    for component in below.components() {
        path.push(component);
        if is_link(&path) {
            return Err(link_refused(&path));
        }
    }
    Ok(())
}

/// flashc deletes stale files in its output directory, so it must never adopt a directory that
/// holds someone else's files.
fn refuse_foreign_directory(out_root: &Path) -> Result<(), WriteError> {
    let Ok(entries) = std::fs::read_dir(out_root) else {
        return Ok(());
    };
    // `flashc init` writes the schema alone into the output before anything was generated.
    // `flashc generate --target kubernetes` may have written its directory alone.
    let only_schema = entries
        .flatten()
        .all(|entry| entry.file_name() == SCHEMA_FILE || entry.file_name() == KUBERNETES_DIR);
    if only_schema {
        return Ok(());
    }
    let ours = read_regular(&out_root.join("Cargo.toml")).is_some_and(|bytes| has_mark(&bytes));
    if ours {
        Ok(())
    } else {
        Err(WriteError(format!(
            "{} exists and was not written by flashc; choose another --out or remove it",
            out_root.display()
        )))
    }
}

/// Files under the output directory that this run did not produce; cargo's `target/` and
/// `Cargo.lock` are cargo's, and the dev host's directory is `flashc dev`'s: none is stale.
/// Links count as files (they are removed, never followed).
fn stale_files(out_root: &Path, expected: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut stale = Vec::new();
    let mut stack = vec![out_root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if dir == out_root {
                let name = entry.file_name();
                if name == "target"
                    || name == "Cargo.lock"
                    || name == DEV_DIR
                    || name == KUBERNETES_DIR
                {
                    continue;
                }
            }
            if kind.is_dir() {
                stack.push(path);
            } else if !expected.contains(&path) {
                stale.push(path);
            }
        }
    }
    stale.sort();
    stale
}

pub(super) fn remove_empty_parents(file: &Path, out_root: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == out_root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// `cargo build --locked` in the image needs a Cargo.lock that matches every manifest. Cargo
/// writes it: seeded from the handler crate's own lock (so its versions are kept), then updated
/// by `cargo metadata`, which only adds what is missing. A lockfile cargo cannot read (an
/// earlier run killed while cargo wrote it) is seeded afresh.
fn sync_lockfile(crate_dir: &Path, out_root: &Path) -> Result<(), String> {
    let lock = out_root.join("Cargo.lock");
    if is_link(&lock) {
        std::fs::remove_file(&lock)
            .map_err(|e| format!("cannot replace {}: {e}", lock.display()))?;
    }
    let seed = || {
        if let Some(bytes) = read_regular(&crate_dir.join("Cargo.lock")) {
            let _ = write_file(&lock, &bytes);
        }
    };
    if read_regular(&lock).is_none() {
        seed();
    }
    let metadata = || {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(out_root.join("Cargo.toml"))
            .stdout(std::process::Stdio::null())
            .output()
    };
    let mut output = metadata();
    if let Ok(out) = &output {
        let unreadable = !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("failed to parse lock file");
        if unreadable {
            let _ = std::fs::remove_file(&lock);
            seed();
            output = metadata();
        }
    }
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "cargo could not bring {} up to date (the next `flashc generate` tries again; until then `cargo build --locked` fails): {}",
            lock.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => Err(format!(
            "cargo could not run ({err}); {} is not up to date (the next `flashc generate` tries again)",
            lock.display()
        )),
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The flash.yaml to generate from, or its directory; the output goes beside it. Without
    /// one, flash.yaml is looked for here and in the parent directories.
    #[arg(default_value = "flash.yaml")]
    file: PathBuf,
    /// Apply this environment overlay.
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
    /// The output directory, relative to the directory of flash.yaml.
    #[arg(long, value_name = "DIR", default_value = ".flash")]
    out: String,
    /// Write nothing; exit 1 when the output on disk is not what generate would write (for CI).
    #[arg(long)]
    check: bool,
    /// Colour for diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// What to generate: Runpod workers (crates, Dockerfiles, manifest), or Kubernetes
    /// manifests (a kustomize base and an overlay per environment, in `<out>/kubernetes/`).
    #[arg(long, value_enum, default_value_t = Target::Runpod)]
    target: Target,
}

pub fn command(args: &Args) -> ExitCode {
    let file = locate(&args.file);
    let args = &Args {
        file,
        environment: args.environment.clone(),
        out: args.out.clone(),
        ..*args
    };
    let out_dir = match check_out_dir(&args.out) {
        Ok(out) => out,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let project = args
        .file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let color = args.color.enabled(&std::io::stderr());
    let round = Round {
        file: &args.file,
        project: &project,
        environment: args.environment.as_deref(),
        out_dir: &out_dir,
        color,
        dry_run: args.check,
    };
    if args.target == Target::Kubernetes {
        return super::kubernetes::command(&round);
    }
    let (generated, changes) = match run(&round) {
        Ok(produced) => (produced.generated, produced.changes),
        Err(Stopped::Unreadable) => return ExitCode::from(EXIT_FAILURE),
        Err(Stopped::UnknownEnvironment(unknown)) => {
            eprintln!("error: {unknown}");
            return ExitCode::from(EXIT_USAGE);
        }
        Err(Stopped::Problems) => {
            let name = args.file.display();
            eprintln!("error: nothing generated: fix the problems above (`flashc check {name}`)");
            return ExitCode::from(EXIT_PROBLEMS);
        }
        Err(Stopped::Failure(message)) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // Printed through `emit`: a closed pipe (`flashc generate | head -1`) is not a failure.
    let mut out = String::new();
    if args.check {
        if changes.is_empty() {
            out.push_str(&format!("{out_dir} is up to date\n"));
            return emit(&out);
        }
        for path in &changes.written {
            out.push_str(&format!("stale: {path}\n"));
        }
        for path in &changes.removed {
            out.push_str(&format!("stale (would be removed): {path}\n"));
        }
        let _ = emit(&out);
        eprintln!("error: {out_dir} is not what `flashc generate` would write; run it and commit the result");
        return ExitCode::from(EXIT_PROBLEMS);
    }
    let plan = &generated.plan;
    out.push_str(&format!(
        "generated {} endpoint{} of `{}` into {}: {} file{} written, {} removed\n",
        plan.endpoints.len(),
        if plan.endpoints.len() == 1 { "" } else { "s" },
        plan.project,
        project.join(&out_dir).display(),
        changes.written.len(),
        if changes.written.len() == 1 { "" } else { "s" },
        changes.removed.len(),
    ));
    out.push_str(&format!(
        "\nbuild and run an image (from {}):\n",
        project.display()
    ));
    for (i, endpoint) in plan.endpoints.iter().enumerate() {
        // flash.yaml's `env` is set by the platform at deploy, not baked into the image; the
        // local run gets it on the command line (secrets passed through from your shell).
        let env: String = endpoint
            .env
            .iter()
            .map(|(key, value)| match value {
                flashc::lower::EnvPlan::Value { value } => {
                    format!(" -e {key}={}", shell_quote(value))
                }
                flashc::lower::EnvPlan::Secret { .. } => format!(" -e {key}"),
            })
            .collect();
        out.push_str(&format!(
            "  docker build -f {out_dir}/workers/{name}/Dockerfile -t {image} .\n  docker run --rm --network host -e PORT={port}{env} {image}\n",
            name = endpoint.name,
            image = endpoint.image,
            port = flashc::lower::local_port(endpoint.port, i),
        ));
    }
    emit(&out)
}

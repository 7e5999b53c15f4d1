//! `flashc generate`'s side effects: compare the emitted files with the disk, write only what
//! changed (so cargo and Docker caches stay warm), format Rust with rustfmt, delete what no
//! endpoint produces any more (only inside the output directory), and bring the workspace's
//! Cargo.lock up to date so `cargo build --locked` works in the image.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

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

/// A failure that stops generation (exit code 3).
pub struct WriteError(pub String);

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
    let bytes = crate::read_input(round.file, false).ok_or(Stopped::Unreadable)?;
    let overrides = crate::template_overrides(round.project)
        .map_err(|e| Stopped::Failure(format!("cannot read flash-templates/: {e}")))?;
    let workspace = super::workspace::FsWorkspace::new(round.project);
    let options = flashc::emit::Options {
        out_dir: round.out_dir,
        flashc_version: env!("CARGO_PKG_VERSION"),
        overrides: &overrides,
    };
    let generated = generate_once(round, &bytes, round.environment, &workspace, &options, true)?;
    let crate_dir = round.project.join(&generated.plan.handler_crate.dir);
    let changes = apply(
        round.project,
        &crate_dir,
        round.out_dir,
        &generated.files,
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

/// `--out` must be a relative path inside the project: it is part of every image's build context.
pub fn check_out_dir(out: &str) -> Result<String, String> {
    let path = Path::new(out);
    let clean: Vec<String> = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .map(|c| match c {
            Component::Normal(s) => Ok(s.to_string_lossy().into_owned()),
            _ => Err(()),
        })
        .collect::<Result<_, _>>()
        .map_err(|()| {
            format!("--out {out}: must be a directory inside the project (relative, without `..`), because it is part of every image's Docker build context")
        })?;
    if clean.is_empty() {
        return Err(format!(
            "--out {out}: the output needs a directory of its own, such as `.flash`"
        ));
    }
    Ok(clean.join("/"))
}

/// Applies `files` under `project` (the directory of flash.yaml). With `dry_run` nothing is
/// written; the result says what would change.
pub fn apply(
    project: &Path,
    crate_dir: &Path,
    out_dir: &str,
    files: &[OutputFile],
    dry_run: bool,
) -> Result<Changes, WriteError> {
    let out_root = project.join(out_dir);
    refuse_foreign_directory(&out_root)?;
    let mut changes = Changes::default();
    let mut rust_written = Vec::new();
    let mut manifests_written = false;
    let mut expected = BTreeSet::new();
    for file in files {
        let target = project.join(&file.path);
        if file.owner == Owner::Generated {
            expected.insert(target.clone());
        }
        let existing = std::fs::read(&target).ok();
        let current = match (&existing, file.rust) {
            (None, _) => false,
            // Rust files were reformatted after writing; the fingerprint in their first line
            // says which rendering they came from.
            (Some(bytes), true) => first_line(bytes) == first_line(file.contents.as_bytes()),
            (Some(bytes), false) => bytes == file.contents.as_bytes(),
        };
        if current {
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
        manifests_written |= file.path.ends_with("Cargo.toml");
        if dry_run {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::write(&target, &file.contents).map_err(|e| io_error(&target, e))?;
        if file.rust {
            rust_written.push(target);
        }
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
    for stale in stale_files(&out_root, &expected) {
        let shown = stale
            .strip_prefix(project)
            .unwrap_or(&stale)
            .to_string_lossy()
            .replace('\\', "/");
        changes.removed.push(shown);
        if !dry_run {
            std::fs::remove_file(&stale).map_err(|e| io_error(&stale, e))?;
            remove_empty_parents(&stale, &out_root);
        }
    }
    if !dry_run {
        if let Some(warning) = rustfmt(&rust_written) {
            changes.warnings.push(warning);
        }
        if let Some(warning) = sync_lockfile(crate_dir, &out_root, manifests_written) {
            changes.warnings.push(warning);
        }
    }
    for (from, to) in &copies {
        let Ok(bytes) = std::fs::read(from) else {
            continue;
        };
        if std::fs::read(to).is_ok_and(|old| old == bytes) {
            continue;
        }
        changes.written.push(
            to.strip_prefix(project)
                .unwrap_or(to)
                .to_string_lossy()
                .replace('\\', "/"),
        );
        if !dry_run {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
            }
            std::fs::write(to, &bytes).map_err(|e| io_error(to, e))?;
        }
    }
    Ok(changes)
}

pub(crate) fn first_line(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == b'\n').next().unwrap_or(bytes)
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
    let ours = std::fs::read(out_root.join("Cargo.toml")).is_ok_and(|bytes| has_mark(&bytes));
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

/// Formats the Rust files just written: one rustfmt process per core, each given a share of the
/// files (rustfmt itself formats one file at a time).
pub(crate) fn rustfmt(paths: &[PathBuf]) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let share = paths.len().div_ceil(cores.min(paths.len()));
    let children: Vec<_> = paths
        .chunks(share)
        .map(|chunk| {
            Command::new(&rustfmt)
                .args(["--edition", "2021"])
                .args(chunk)
                .spawn()
        })
        .collect();
    for child in children {
        match child.and_then(|mut c| c.wait()) {
            Ok(status) if status.success() => {}
            Ok(status) => {
                return Some(format!(
                    "rustfmt exited with {status}; the generated Rust is correct but not formatted"
                ))
            }
            Err(err) => {
                return Some(format!(
                    "rustfmt could not run ({err}); the generated Rust is correct but not formatted (`rustup component add rustfmt`)"
                ))
            }
        }
    }
    None
}

/// `cargo build --locked` in the image needs a Cargo.lock that matches every manifest. Cargo
/// writes it: seeded from the handler crate's own lock (so its versions are kept), then updated
/// by `cargo metadata`, which only adds what is missing.
fn sync_lockfile(crate_dir: &Path, out_root: &Path, manifests_written: bool) -> Option<String> {
    let lock = out_root.join("Cargo.lock");
    let lock_time = std::fs::metadata(&lock).and_then(|m| m.modified()).ok();
    let newer_than_lock = |path: PathBuf| {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| lock_time.is_none_or(|l| t > l))
    };
    let user_changed = newer_than_lock(crate_dir.join("Cargo.toml"));
    if lock_time.is_some() && !manifests_written && !user_changed {
        return None;
    }
    if lock_time.is_none() {
        let _ = std::fs::copy(crate_dir.join("Cargo.lock"), &lock);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(out_root.join("Cargo.toml"))
        .stdout(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "cargo could not write {}: {}",
            lock.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(err) => Some(format!(
            "cargo could not run ({err}); {} is not written",
            lock.display()
        )),
    }
}

//! `flashc generate --target kubernetes`'s side effects: one generation round per environment
//! (the plan without one is the kustomize base), the manifests emitted from those plans, and the
//! writing of `<out>/kubernetes/`: only what changed, stale files removed only when they carry
//! flashc's mark. Images pinned by digest (`flashc build --push`'s, the deploy record's) are
//! read here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flashc::emit::kubernetes::{GpuProducts, GPU_PRODUCTS_OVERRIDE, KUBERNETES_DIR};
use flashc::emit::OutputFile;

use crate::cli::dev::prepare::OUT_DIR;

use super::generate::{
    generate_once, has_mark, io_error, remove_empty_parents, Changes, Round, Stopped, WriteError,
};

/// `flashc generate --target kubernetes`: the plan without an environment becomes the kustomize
/// base, each environment's plan (only `--env`'s, when given) its overlay; files are written
/// as `apply` writes them, stale ones removed only when they carry flashc's mark.
pub fn command(round: &Round) -> std::process::ExitCode {
    use std::process::ExitCode;
    match kubernetes(round) {
        Ok((changes, summary)) => {
            for warning in &changes.warnings {
                eprintln!("warning: {warning}");
            }
            if round.dry_run {
                if changes.is_empty() {
                    return crate::cli::emit(&format!(
                        "{}/{KUBERNETES_DIR} is up to date\n",
                        round.out_dir
                    ));
                }
                let mut out = String::new();
                for path in &changes.written {
                    out.push_str(&format!("stale: {path}\n"));
                }
                for path in &changes.removed {
                    out.push_str(&format!("stale (would be removed): {path}\n"));
                }
                let _ = crate::cli::emit(&out);
                eprintln!("error: {}/{KUBERNETES_DIR} is not what `flashc generate --target kubernetes` would write; run it and commit the result", round.out_dir);
                return ExitCode::from(crate::cli::EXIT_PROBLEMS);
            }
            crate::cli::emit(&summary)
        }
        Err(Stopped::Unreadable) => ExitCode::from(crate::cli::EXIT_FAILURE),
        Err(Stopped::UnknownEnvironment(unknown)) => {
            eprintln!("error: {unknown}");
            ExitCode::from(crate::cli::EXIT_USAGE)
        }
        Err(Stopped::Problems) => {
            let name = round.file.display();
            eprintln!("error: nothing generated: fix the problems above (`flashc check {name}`)");
            ExitCode::from(crate::cli::EXIT_PROBLEMS)
        }
        Err(Stopped::Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(crate::cli::EXIT_FAILURE)
        }
    }
}

fn kubernetes(round: &Round) -> Result<(Changes, String), Stopped> {
    let bytes = crate::cli::input::read_input(round.file, false).ok_or(Stopped::Unreadable)?;
    let overrides = super::templates::overrides(round.project).map_err(Stopped::Failure)?;
    let workspace = super::workspace::FsWorkspace::new(round.project);
    let options = flashc::emit::Options {
        out_dir: round.out_dir,
        flashc_version: env!("CARGO_PKG_VERSION"),
        overrides: &overrides,
    };
    let base = generate_once(round, &bytes, None, &workspace, &options, true)?;
    let environments: Vec<String> = match round.environment {
        Some(env) => vec![env.to_string()],
        None => match flashc::load::load(&bytes, flashc::load::Limits::default()) {
            (Some(root), _) => flashc::validate::environment_names(&root)
                .into_iter()
                .map(str::to_string)
                .collect(),
            (None, _) => Vec::new(),
        },
    };
    let mut rounds = Vec::new();
    for env in &environments {
        rounds.push(generate_once(
            round,
            &bytes,
            Some(env),
            &workspace,
            &options,
            false,
        )?);
    }
    let mut gpu_products = GpuProducts::builtin();
    let override_path = round
        .project
        .join("flash-templates")
        .join(GPU_PRODUCTS_OVERRIDE);
    if let Ok(text) = std::fs::read_to_string(&override_path) {
        gpu_products = gpu_products
            .with_override(&text)
            .map_err(|e| Stopped::Failure(format!("{}: {e}", override_path.display())))?;
    }
    let exported = std::iter::once((None, &base))
        .chain(environments.iter().map(|e| Some(e.as_str())).zip(&rounds))
        .collect::<Vec<_>>();
    let (images, record_warning) = pinned_images(round, &bytes, &workspace, &options, &exported);
    let plans: Vec<_> = rounds.into_iter().map(|g| g.plan).collect();
    let settings = flashc::emit::kubernetes::Settings {
        flashc_version: env!("CARGO_PKG_VERSION"),
        images: &images,
        gpu_products: &gpu_products,
    };
    let files = flashc::emit::kubernetes::emit(round.out_dir, &base.plan, &plans, &settings)
        .map_err(|e| Stopped::Failure(e.to_string()))?;
    // With `--env`, the other environments' overlays are left as they are.
    let keep: Vec<String> = match round.environment {
        Some(env) => vec![format!("overlays/{env}")],
        None => Vec::new(),
    };
    let mut changes = write_tree(round.project, round.out_dir, &files, &keep, round.dry_run)
        .map_err(|WriteError(message)| Stopped::Failure(message))?;
    changes.warnings.extend(record_warning);
    let dir = round.project.join(round.out_dir).join(KUBERNETES_DIR);
    let mut summary = format!(
        "generated Kubernetes manifests of `{}` ({} endpoint{}) into {}: {} file{} written, {} removed\n",
        base.plan.project,
        base.plan.endpoints.len(),
        if base.plan.endpoints.len() == 1 { "" } else { "s" },
        dir.display(),
        changes.written.len(),
        if changes.written.len() == 1 { "" } else { "s" },
        changes.removed.len(),
    );
    summary.push_str(&format!(
        "\napply the base:  kubectl apply -k {}\n",
        dir.join("base").display()
    ));
    for env in &environments {
        summary.push_str(&format!(
            "apply {env}: kubectl apply -k {}\n",
            dir.join("overlays").join(env).display()
        ));
    }
    summary.push_str(&format!(
        "secrets (by name only): kubectl create secret generic {} --from-literal=KEY=VALUE ... (see docs/kubernetes.md)\n",
        flashc::emit::kubernetes::secret_name(&flashc::emit::kubernetes::object_name(&base.plan.project))
    ));
    Ok((changes, summary))
}

/// The images pinned by digest, per exported environment (`None`: the base): what
/// `flashc build --push` pushed for exactly the content exported (`flash-images.json`, matched
/// by content tag, as deploy matches it), else the deploy record's last deployment
/// (`flash-deploy.json`, read with deploy's own types). A record that cannot be read pins
/// nothing, with a warning saying why.
fn pinned_images(
    round: &Round,
    bytes: &[u8],
    workspace: &super::workspace::FsWorkspace,
    options: &flashc::emit::Options,
    exported: &[(Option<&str>, &flashc::Generated)],
) -> (flashc::emit::kubernetes::Images, Option<String>) {
    use super::deploy::project::{content_images, pin_pushed};
    let mut out = flashc::emit::kubernetes::Images::new();
    let (record, warning) = match super::deploy::record::read(round.project) {
        Ok(record) => (Some(record), None),
        Err(e) => (None, Some(format!("{e}: images are not pinned by digest"))),
    };
    let pushed = super::deploy::build::read(round.project);
    for &(env, generated) in exported {
        let owner = flashc::deploy::body::owner(&generated.plan.project, env);
        let mut pinned = record
            .as_ref()
            .map(|r| r.pinned_images(&owner))
            .unwrap_or_default();
        if pushed.environments.contains_key(&owner) {
            // Content tags hash the paths of the tree images are built from (`.flash`); an
            // export into another directory is generated there once more to name them.
            let elsewhere;
            let files = if options.out_dir == OUT_DIR {
                &generated.files
            } else {
                let into_out_dir = flashc::emit::Options {
                    out_dir: OUT_DIR,
                    ..*options
                };
                match flashc::generate(bytes, env, workspace, &into_out_dir) {
                    Ok(g) => {
                        elsewhere = g.files;
                        &elsewhere
                    }
                    Err(_) => continue,
                }
            };
            let mut current = content_images(files, &generated.plan, round.project, "flashc.local");
            pin_pushed(&mut current, &pushed, &owner);
            pinned.extend(current.into_iter().filter(|(_, r)| r.contains("@sha256:")));
        }
        if !pinned.is_empty() {
            out.insert(env.map(str::to_string), pinned);
        }
    }
    (out, warning)
}

/// Writes the Kubernetes files that changed and removes flashc's own files (first line marked)
/// under `<out>/kubernetes/` that this run did not produce, except under `keep` (relative to that
/// directory). Files without the mark are the user's and stay.
fn write_tree(
    project: &Path,
    out_dir: &str,
    files: &[OutputFile],
    keep: &[String],
    dry_run: bool,
) -> Result<Changes, WriteError> {
    let root = project.join(out_dir).join(KUBERNETES_DIR);
    let mut changes = Changes::default();
    let mut expected = BTreeSet::new();
    for file in files {
        let target = project.join(&file.path);
        expected.insert(target.clone());
        if std::fs::read(&target).is_ok_and(|old| old == file.contents.as_bytes()) {
            continue;
        }
        changes.written.push(file.path.clone());
        if dry_run {
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        std::fs::write(&target, &file.contents).map_err(|e| io_error(&target, e))?;
    }
    let kept: Vec<PathBuf> = keep.iter().map(|k| root.join(k)).collect();
    let mut stack = vec![root.clone()];
    let mut stale = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let other_overlay = !keep.is_empty()
                    && path.parent() == Some(&root.join("overlays"))
                    && !kept.contains(&path);
                if !other_overlay {
                    stack.push(path);
                }
            } else if !expected.contains(&path)
                && std::fs::read(&path).is_ok_and(|bytes| has_mark(&bytes))
            {
                stale.push(path);
            }
        }
    }
    stale.sort();
    for path in stale {
        changes.removed.push(
            path.strip_prefix(project)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/"),
        );
        if !dry_run {
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
            remove_empty_parents(&path, &root);
        }
    }
    Ok(changes)
}

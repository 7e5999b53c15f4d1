//! Images for the offline control plane. With no Docker and no registry, `flashc deploy`
//! against a local API (`flashc emulate`) builds the worker binaries from the generated
//! workspace instead, and puts each in the emulator's image store under its image reference,
//! which names it by content: an unchanged endpoint is not rebuilt, and every recorded image
//! stays there for a rollback.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::emulate::fleet;

/// Builds what the store lacks. `images` maps each endpoint to its reference; `binaries` each
/// endpoint to its worker's binary name.
pub fn build(
    file: &Path,
    dir: &Path,
    environment: Option<&str>,
    images: &BTreeMap<String, String>,
    binaries: &BTreeMap<String, String>,
) -> Result<(), String> {
    let store = fleet::image_store();
    let is_missing = |reference: &str| !fleet::image_path(&store, reference).exists();
    if images.values().all(|r| !is_missing(r)) {
        return Ok(());
    }
    std::fs::create_dir_all(&store)
        .map_err(|e| format!("cannot create the image store {}: {e}", store.display()))?;
    // One build at a time per store: a second deploy waits, then finds its images there.
    let lock = std::fs::File::create(store.join(".build.lock"))
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| format!("cannot lock the image store {}: {e}", store.display()))?;
    let missing: Vec<(&String, &String)> = images.iter().filter(|(_, r)| is_missing(r)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    use crate::cli::generate::{self, Round, Stopped};
    let round = Round {
        file,
        project: dir,
        environment,
        out_dir: crate::cli::dev::prepare::OUT_DIR,
        color: false,
        dry_run: false,
    };
    generate::run(&round).map_err(|stopped| match stopped {
        Stopped::Unreadable => format!("cannot read {}", file.display()),
        Stopped::UnknownEnvironment(e) | Stopped::Failure(e) => e,
        Stopped::Problems => "flash.yaml has problems (above)".to_string(),
    })?;
    let out = dir.join(crate::cli::dev::prepare::OUT_DIR);
    let target = crate::cli::dev::prepare::target_dir(&out);
    eprintln!(
        "building {} worker(s) for the local control plane",
        missing.len()
    );
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(out.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        // stdout is for the plan and the JSON answer.
        .stdout(Stdio::null());
    for (endpoint, _) in &missing {
        if let Some(bin) = binaries.get(*endpoint) {
            cargo.arg("--bin").arg(bin);
        }
    }
    let status = cargo
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building the workers failed (above); nothing was applied".into());
    }
    for (endpoint, reference) in missing {
        let bin = binaries.get(endpoint).cloned().unwrap_or_default();
        let built = target.join("debug").join(&bin);
        let into = fleet::image_path(&store, reference);
        // Copied under a temporary name and renamed: an emulator never runs half a file.
        let partial = into.with_extension(format!("partial-{}", std::process::id()));
        std::fs::copy(&built, &partial)
            .and_then(|_| std::fs::rename(&partial, &into))
            .map_err(|e| format!("cannot store image {reference} ({}): {e}", built.display()))?;
    }
    drop(lock);
    Ok(())
}

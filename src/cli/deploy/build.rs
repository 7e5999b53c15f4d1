//! `flashc build [--push REGISTRY]`: every endpoint's image from the generated Dockerfiles
//! (`docker build --network host`, the classic builder; the dependency layer is shared, so it
//! builds once for all), tagged by content (`REGISTRY/project-endpoint:flashc-<hash>`, the
//! reference deploy computes), and with `--push`, pushed and pinned: each image's digest is
//! recorded in `flash-images.json` beside flash.yaml, where deploy finds it, so endpoints are
//! deployed by digest, never by a moving tag.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use serde::{Deserialize, Serialize};

/// The file deploy reads pinned images from.
pub const FILE: &str = "flash-images.json";

#[derive(clap::Args)]
pub struct BuildArgs {
    #[command(flatten)]
    target: super::Target,
    /// Push each image to this registry (`host:port` or `host/path`) and record its digest.
    #[arg(long, value_name = "REGISTRY")]
    push: Option<String>,
}

/// `flash-images.json`: per environment (the deploy marker), per endpoint, the content tag
/// and the digest reference it was pushed as.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Pushed {
    pub format: u32,
    pub environments: BTreeMap<String, BTreeMap<String, Image>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// `REGISTRY/name:flashc-<hash>`.
    pub tag: String,
    /// `REGISTRY/name@sha256:…`.
    pub digest: String,
}

pub fn read(dir: &Path) -> Pushed {
    std::fs::read(dir.join(FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The part of a content tag that names the content: `name:flashc-<hash>` without the registry.
pub fn content(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

pub fn build(args: &BuildArgs) -> ExitCode {
    let env = args.target.environment.as_deref();
    let project = match super::project::load(&args.target.file, env, args.push.as_deref(), &[]) {
        Ok(p) => p,
        Err(super::project::Failed(code)) => return ExitCode::from(code),
    };
    let all: Vec<String> = project.images.keys().cloned().collect();
    match build_images(&project, env, args.push.is_some(), &all) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

/// Whether a Docker daemon answers (`DOCKER`, else `docker`).
pub fn docker_available() -> bool {
    Command::new(docker())
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn docker() -> std::ffi::OsString {
    std::env::var_os("DOCKER").unwrap_or_else(|| "docker".into())
}

/// Builds the images of `endpoints` (tagged by content, as `project.images` names them) from
/// freshly generated Dockerfiles; with `push`, pushes each and records its digest in
/// `flash-images.json` (after each push, so a later failure keeps what was pushed).
pub fn build_images(
    project: &super::project::Project,
    env: Option<&str>,
    push: bool,
    endpoints: &[String],
) -> Result<(), String> {
    use crate::cli::generate::{self, Round};
    let round = Round {
        file: &project.file,
        project: &project.dir,
        environment: env,
        out_dir: crate::cli::dev::prepare::OUT_DIR,
        color: false,
        dry_run: false,
    };
    if generate::run(&round).is_err() {
        return Err("generation failed (above); nothing was built".into());
    }
    let docker = docker();
    let mut pushed = read(&project.dir);
    pushed.format = 1;
    for (endpoint, tag) in project
        .images
        .iter()
        .filter(|(name, _)| endpoints.contains(name))
    {
        let dockerfile = project
            .dir
            .join(crate::cli::dev::prepare::OUT_DIR)
            .join("workers")
            .join(endpoint)
            .join("Dockerfile");
        eprintln!("building {endpoint}: {tag}");
        let built = Command::new(&docker)
            .args(["build", "--network", "host", "-f"])
            .arg(&dockerfile)
            .args(["-t", tag])
            .arg(&project.dir)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !built.is_ok_and(|s| s.success()) {
            return Err(format!(
                "docker build of `{endpoint}` failed; nothing more was built"
            ));
        }
        if !push {
            println!("{endpoint}: {tag}");
            continue;
        }
        let pushed_ok = Command::new(&docker)
            .args(["push", tag])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !pushed_ok.is_ok_and(|s| s.success()) {
            return Err(format!("docker push {tag} failed"));
        }
        let digest = repo_digest(&docker, tag)
            .ok_or_else(|| format!("no digest for {tag} after its push"))?;
        println!("{endpoint}: {digest}");
        pushed
            .environments
            .entry(project.owner.clone())
            .or_default()
            .insert(
                endpoint.clone(),
                Image {
                    tag: tag.clone(),
                    digest,
                },
            );
        let text = serde_json::to_string_pretty(&pushed).unwrap_or_default() + "\n";
        std::fs::write(project.dir.join(FILE), text)
            .map_err(|e| format!("cannot write {FILE}: {e}"))?;
    }
    Ok(())
}

/// `REGISTRY/name@sha256:…` of a pushed tag: the repo digest of its repository.
fn repo_digest(docker: &std::ffi::OsStr, tag: &str) -> Option<String> {
    let out = Command::new(docker)
        .args([
            "image",
            "inspect",
            "--format",
            "{{range .RepoDigests}}{{println .}}{{end}}",
            tag,
        ])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let repository = tag.rsplit_once(':').map_or(tag, |(r, _)| r);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| {
            l.strip_prefix(repository)
                .is_some_and(|rest| rest.starts_with("@sha256:"))
        })
        .map(str::to_string)
}

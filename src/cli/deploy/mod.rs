//! `flashc deploy`, `status`, `rollback` and `destroy`: flash.yaml to live Runpod endpoints
//! through the REST v2 API (`api`), planned (`flashc::deploy`), applied callees first
//! (`apply`), verified and recorded (`record`). See docs/deploy.md.
//!
//! Exit codes: 0 done (or nothing to change); 1 flash.yaml has problems, or the plan cannot be
//! made (an endpoint of our name that we do not own); 2 usage; 3 an API or I/O failure, a stale
//! plan, a failed verify; 4 `--plan` (or `status`): changes pending (drift).

mod api;
mod apply;
pub(crate) mod build;
mod catalog;
mod local_images;
mod probe;
pub(crate) mod project;
pub(crate) mod record;
mod show;
mod status;

pub use build::{build, BuildArgs};
pub use catalog::{catalog, CatalogArgs};
pub use status::status;

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use flashc::deploy::body::{EndpointBody, PENDING_ID};
use flashc::deploy::{self, Api, Desired};

use apply::{Build, Ids, Scope};

/// `--plan` and `status`: something would change.
pub const EXIT_PENDING: u8 = 4;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

#[derive(clap::Args)]
pub struct Target {
    /// flash.yaml, or its directory (default: found here or above).
    #[arg(default_value = "flash.yaml")]
    file: PathBuf,
    /// The environment overlay to deploy (each environment is its own set of endpoints).
    #[arg(long = "env", value_name = "NAME")]
    environment: Option<String>,
}

#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    target: Target,
    /// Print the plan and change nothing.
    #[arg(long)]
    plan: bool,
    /// Apply without asking.
    #[arg(long)]
    yes: bool,
    /// Apply only if the plan's fingerprint is still this one (from `--plan`): refuses a plan
    /// made stale by a change to flash.yaml or to the live endpoints.
    #[arg(long, value_name = "FINGERPRINT")]
    expect: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Build the images that changed, push them to this registry and deploy them by digest
    /// (default: flash.yaml's `registry.url`). Needs Docker; against a local control plane
    /// without Docker, the worker binaries are built instead.
    #[arg(long, value_name = "REGISTRY")]
    push: Option<String>,
    /// The registry images are named in, without building or pushing anything
    /// (`REGISTRY/project-endpoint:flashc-<content hash>`; default: `--push`, else
    /// flash.yaml's `registry.url`, else `flashc.local`).
    #[arg(long)]
    registry: Option<String>,
    /// Deploy this image for an endpoint (`ENDPOINT=registry/name@sha256:…`), such as one
    /// pushed by your own build.
    #[arg(long = "image", value_name = "ENDPOINT=REF")]
    images: Vec<String>,
    /// Do not roll back automatically when verify fails.
    #[arg(long)]
    no_rollback: bool,
    /// Against a local control plane: build no worker binaries (the images are built
    /// already, or the emulator runs no workers).
    #[arg(long)]
    no_build: bool,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    target: Target,
    /// The recorded deployment to restore (default: the one before the last).
    #[arg(long, value_name = "N")]
    to: Option<u32>,
    /// Apply without asking.
    #[arg(long)]
    yes: bool,
}

#[derive(clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    target: Target,
    /// Delete without asking.
    #[arg(long)]
    yes: bool,
}

impl Target {
    /// The project as deployed (images named by content, nothing built) and an API client: what
    /// `status`, `rollback` and `destroy` start from. `Err` is the exit code, the reason printed.
    fn project_and_client(&self) -> Result<(project::Project, api::Client), ExitCode> {
        let env = self.environment.as_deref();
        let project = project::load(&self.file, env, None, &[])
            .map_err(|project::Failed(code)| ExitCode::from(code))?;
        Ok((project, client()?))
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(crate::cli::EXIT_FAILURE)
}

fn client() -> Result<api::Client, ExitCode> {
    api::Client::from_env().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(crate::cli::EXIT_USAGE)
    })
}

/// The verify deadline (`FLASHC_VERIFY_TIMEOUT`, seconds; default 600).
fn verify_deadline() -> Duration {
    Duration::from_secs(
        std::env::var("FLASHC_VERIFY_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(600),
    )
}

fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}

pub fn deploy(args: &DeployArgs) -> ExitCode {
    let env = args.target.environment.as_deref();
    let naming = args.push.as_deref().or(args.registry.as_deref());
    let load = || project::load(&args.target.file, env, naming, &args.images);
    let mut project = match load() {
        Ok(p) => p,
        Err(project::Failed(code)) => return ExitCode::from(code),
    };
    let client = match client() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // What changed is built first, so one command takes the project live: with Docker and a
    // registry, images are built, pushed and deployed by digest; against the local control
    // plane without them, the worker binaries it runs are built instead.
    let push_to = args.push.clone().or(project.registry.url.clone());
    if !args.plan && !args.no_build {
        let unpushed: Vec<String> = project
            .images
            .iter()
            .filter(|(_, reference)| !reference.contains("@sha256:"))
            .map(|(name, _)| name.clone())
            .collect();
        let docker = push_to.is_some() && build::docker_available();
        if let (Some(registry), true) = (&push_to, docker) {
            if !unpushed.is_empty() {
                eprintln!("building and pushing {} to {registry}", unpushed.join(", "));
                if let Err(e) = build::build_images(&project, env, true, &unpushed) {
                    return fail(format!("{e}; nothing was deployed"));
                }
                // The digests are in flash-images.json now: deploy by them.
                project = match load() {
                    Ok(p) => p,
                    Err(project::Failed(code)) => return ExitCode::from(code),
                };
            }
        } else if client.is_local() {
            if push_to.is_some() {
                eprintln!(
                    "note: Docker is not available: building the worker binaries the local control plane runs instead (images named by content)"
                );
            }
            let binaries = project
                .plan
                .endpoints
                .iter()
                .map(|e| (e.name.clone(), e.image.clone()))
                .collect();
            if let Err(e) =
                local_images::build(&project.file, &project.dir, env, &project.images, &binaries)
            {
                return fail(e);
            }
        } else if push_to.is_some() {
            eprintln!("error: nothing applied: a registry is named but Docker is not available to build and push the images");
            return ExitCode::from(crate::cli::EXIT_USAGE);
        }
    }
    // Runpod pulls images from a registry, and only a digest never moves: every image must be
    // pinned (pushed above, by `flashc build --push`, or `--image`). The local control plane
    // needs no registry.
    if !args.plan && !client.is_local() {
        let unpinned: Vec<&str> = project
            .images
            .iter()
            .filter(|(_, reference)| !reference.contains("@sha256:"))
            .map(|(name, _)| name.as_str())
            .collect();
        if !unpinned.is_empty() {
            eprintln!(
                "error: nothing applied: no image pushed for {}: name a registry (`--push REGISTRY` or `registry.url` in flash.yaml) so deploy builds and pushes it, run `flashc build --push REGISTRY` first, or pass `--image ENDPOINT=REGISTRY/NAME@sha256:…`",
                unpinned.join(", ")
            );
            return ExitCode::from(crate::cli::EXIT_USAGE);
        }
    }
    let scope = Scope {
        project: &project.plan.project,
        environment: env,
        owner: &project.owner,
        locator: &project.locator,
    };
    let build = |ids: &Ids| -> Result<Vec<Desired>, String> {
        deploy::desired(
            &project.plan,
            &deploy::Inputs {
                images: &project.images,
                ids,
                registry_auth: project.registry.auth.as_deref(),
            },
        )
        .map_err(|e| e.to_string())
    };
    let (plan, desired) = match apply::plan_now(&client, &scope, &build) {
        Ok(p) => p,
        Err(e) if e.contains("does not own") => {
            eprintln!("error: {e}");
            return ExitCode::from(crate::cli::EXIT_PROBLEMS);
        }
        Err(e) => return fail(e),
    };
    // A caller without a key: the platform refuses its calls to the project's other endpoints.
    // Only endpoints the crate calls (`Endpoint::named`) count: a project that calls none
    // needs no key in its workers.
    let called = &project.plan.handler_crate.calls;
    for d in desired
        .iter()
        .filter(|d| !d.body.env.contains_key("RUNPOD_API_KEY"))
    {
        let calls: Vec<&str> = d
            .callees
            .iter()
            .filter(|c| called.contains(c))
            .map(String::as_str)
            .collect();
        if !calls.is_empty() {
            eprintln!(
                "warning: endpoint `{}` can call {} but has no `RUNPOD_API_KEY`: Runpod refuses calls without a key; add `RUNPOD_API_KEY: {{ secret: runpod_api_key }}` to its `env`",
                d.endpoint,
                calls.join(", ")
            );
        }
    }
    let shown = match args.format {
        Format::Human => show::human(&plan, client.base()),
        Format::Json => show::json(&plan, client.base()),
    };
    if args.plan {
        print!("{shown}");
        return if plan.pending() {
            ExitCode::from(EXIT_PENDING)
        } else {
            ExitCode::SUCCESS
        };
    }
    if matches!(args.format, Format::Human) {
        print!("{shown}");
    }
    if !plan.pending() {
        if matches!(args.format, Format::Json) {
            print!("{shown}");
        }
        return ExitCode::SUCCESS;
    }
    if !args.yes && !confirm("Apply this plan?") {
        eprintln!("error: nothing applied: pass --yes (or answer y on a terminal)");
        return ExitCode::from(crate::cli::EXIT_USAGE);
    }
    // What was shown is what is applied: a change in between makes the plan stale.
    let expect = args.expect.clone().unwrap_or(plan.fingerprint.clone());
    let mut record = match record::read(&project.dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let outcome = match apply::apply(&client, &scope, &build, Some(&expect)) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let verified = verify_all(&client, &outcome, &project.smoke);
    let history = record
        .environments
        .entry(project.owner.clone())
        .or_default();
    let number = history.next_number();
    history
        .deployments
        .push(deployment(number, "deploy", &outcome, &verified));
    if let Err(e) = record::write(&project.dir, &record) {
        return fail(e);
    }
    match failed_verify(&verified) {
        None => {
            match args.format {
                Format::Json => println!("{}", applied_json(&plan, number, &outcome, &verified)),
                Format::Human => {
                    println!(
                        "deployed: {} endpoint(s) live, recorded as deployment {number} in {}",
                        outcome.endpoints.len(),
                        record::FILE
                    );
                    for (name, (id, _)) in &outcome.endpoints {
                        let urls = outcome.urls.get(name);
                        let url = urls
                            .and_then(|u| u.get("base").or_else(|| u.get("runSync")))
                            .and_then(|u| u.as_str())
                            .unwrap_or_default();
                        println!("  {name}: {id} {url}");
                    }
                    print_workers(&verified);
                }
            }
            ExitCode::SUCCESS
        }
        Some(problem) => {
            eprintln!("error: verify failed: {problem}");
            let previous = record
                .environments
                .get(&project.owner)
                .and_then(|h| h.deployments.iter().rev().nth(1))
                .map(|d| d.number);
            match (args.no_rollback, previous) {
                (false, Some(to)) => {
                    eprintln!("rolling back to deployment {to}");
                    match rollback_to(&client, &scope, &project.dir, to) {
                        Ok(n) => eprintln!("rolled back: deployment {n} restores deployment {to}"),
                        Err(e) => eprintln!("error: the rollback failed too: {e}"),
                    }
                }
                (false, None) => eprintln!("no earlier deployment to roll back to"),
                (true, _) => eprintln!("not rolling back (--no-rollback)"),
            }
            ExitCode::from(crate::cli::EXIT_FAILURE)
        }
    }
}

type VerifyResults = BTreeMap<String, Result<apply::Verified, String>>;

/// `deploy --yes --format json`: the plan that was applied, the deployment's number, and each
/// endpoint's id, request URLs, version and workers.
fn applied_json(
    plan: &deploy::DeployPlan,
    number: u32,
    outcome: &apply::Outcome,
    verified: &VerifyResults,
) -> String {
    let endpoints: serde_json::Map<String, serde_json::Value> = outcome
        .endpoints
        .iter()
        .map(|(name, (id, _))| {
            let v = verified.get(name).and_then(|r| r.as_ref().ok());
            (
                name.clone(),
                serde_json::json!({
                    "id": id,
                    "requestUrls": outcome.urls.get(name),
                    "endpointVersion": v.and_then(|v| v.endpoint_version),
                    "workers": v.map(|v| v.workers.iter().map(|(id, status, gpu)| serde_json::json!({"id": id, "status": status, "gpuTypeId": gpu})).collect::<Vec<_>>()),
                }),
            )
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "plan": plan,
        "deployment": number,
        "endpoints": endpoints,
    }))
    .unwrap_or_default()
}

/// The rollout of each endpoint, then its `/ping` or `/health`, then its smoke requests.
fn verify_all(client: &api::Client, outcome: &apply::Outcome, smoke: &Smoke) -> VerifyResults {
    let deadline = verify_deadline();
    outcome
        .endpoints
        .iter()
        .map(|(name, (id, _))| {
            let wait = if outcome.changed.contains(name) {
                deadline
            } else {
                Duration::ZERO
            };
            let result = apply::verify(client, id, wait).and_then(|mut v| {
                let urls = outcome.urls.get(name).cloned().unwrap_or_default();
                let requests = smoke.get(name).map_or(&[][..], Vec::as_slice);
                probe::probe(client, &urls, requests)?;
                // The calls may have started workers (scale from zero): report those too.
                v.workers = apply::workers(client, id)?;
                Ok(v)
            });
            (name.clone(), result)
        })
        .collect()
}

/// flash.yaml's smoke requests, by endpoint.
type Smoke = BTreeMap<String, Vec<flashc::model::SmokeRequest>>;

fn failed_verify(verified: &VerifyResults) -> Option<String> {
    verified
        .iter()
        .find_map(|(name, r)| r.as_ref().err().map(|e| format!("endpoint `{name}`: {e}")))
}

fn print_workers(verified: &VerifyResults) {
    for (name, result) in verified {
        if let Ok(v) = result {
            for (id, status, gpu) in &v.workers {
                println!(
                    "  {name}: worker {id} {status}{}",
                    gpu.as_deref()
                        .map(|g| format!(" on {g}"))
                        .unwrap_or_default()
                );
            }
        }
    }
}

fn deployment(
    number: u32,
    source: &str,
    outcome: &apply::Outcome,
    verified: &VerifyResults,
) -> record::Deployment {
    record::Deployment {
        number,
        applied_at: super::emulate::control::now_rfc3339(),
        flashc: env!("CARGO_PKG_VERSION").to_string(),
        source: source.to_string(),
        endpoints: outcome
            .endpoints
            .iter()
            .map(|(name, (id, d))| {
                (
                    name.clone(),
                    record::Applied {
                        id: id.clone(),
                        name: d.body.name.clone(),
                        endpoint_version: verified
                            .get(name)
                            .and_then(|r| r.as_ref().ok())
                            .and_then(|v| v.endpoint_version),
                        image: d.body.image.clone(),
                        callees: d.callees.clone(),
                        request: deploy::plan::create_body(&d.body),
                    },
                )
            })
            .collect(),
    }
}

/// The desired endpoints of a recorded deployment, with callees' ids as they are now.
fn from_record(deployment: &record::Deployment, ids: &Ids) -> Result<Vec<Desired>, String> {
    deployment
        .endpoints
        .iter()
        .map(|(name, applied)| {
            let mut body: EndpointBody = serde_json::from_value(applied.request.clone())
                .map_err(|e| format!("recorded endpoint `{name}`: {e}"))?;
            for callee in &applied.callees {
                body.env.insert(
                    flashc::emit::endpoint_id_env(callee),
                    ids.get(callee)
                        .cloned()
                        .unwrap_or_else(|| PENDING_ID.into()),
                );
            }
            let api = match &body.cpu {
                Some(cpu) if cpu.iter().any(|c| c.vcpu_count < 2) => Api::GraphQl {
                    reason: "a 1-vCPU flavor".into(),
                },
                _ => Api::Rest,
            };
            Ok(Desired {
                endpoint: name.clone(),
                api,
                body,
                callees: applied.callees.clone(),
                secret_keys: Vec::new(),
            })
        })
        .collect()
}

/// Re-applies recorded deployment `to` exactly, and records that as a new deployment.
fn rollback_to(
    client: &api::Client,
    scope: &Scope,
    dir: &std::path::Path,
    to: u32,
) -> Result<u32, String> {
    let mut record = record::read(dir)?;
    let history = record
        .environments
        .get(scope.owner)
        .ok_or("no deployment of this environment is recorded")?;
    let target = history
        .get(to)
        .cloned()
        .ok_or_else(|| format!("no deployment {to} in {}", record::FILE))?;
    let build = |ids: &Ids| from_record(&target, ids);
    let outcome = apply::apply(client, scope, &build as &Build, None)?;
    // The smoke requests of today's flash.yaml may not fit an older release: the rollout and
    // `/ping` or `/health` are what a restored release must pass.
    let verified = verify_all(client, &outcome, &Smoke::new());
    if let Some(problem) = failed_verify(&verified) {
        return Err(problem);
    }
    let history = record
        .environments
        .entry(scope.owner.to_string())
        .or_default();
    let number = history.next_number();
    history.deployments.push(deployment(
        number,
        &format!("rollback to {to}"),
        &outcome,
        &verified,
    ));
    record::write(dir, &record)?;
    Ok(number)
}

pub fn rollback(args: &RollbackArgs) -> ExitCode {
    let env = args.target.environment.as_deref();
    let (project, client) = match args.target.project_and_client() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let record = match record::read(&project.dir) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let Some(history) = record.environments.get(&project.owner) else {
        return fail(format!(
            "{} records no deployment of this environment",
            record::FILE
        ));
    };
    let to = match args.to {
        Some(n) => n,
        None => match history.deployments.iter().rev().nth(1) {
            Some(d) => d.number,
            None => return fail("only one deployment is recorded: nothing to roll back to"),
        },
    };
    if history.get(to).is_none() {
        eprintln!("error: no deployment {to} in {}", record::FILE);
        return ExitCode::from(crate::cli::EXIT_USAGE);
    }
    if !args.yes && !confirm(&format!("Restore deployment {to}?")) {
        eprintln!("error: nothing changed: pass --yes (or answer y on a terminal)");
        return ExitCode::from(crate::cli::EXIT_USAGE);
    }
    let scope = Scope {
        project: &project.plan.project,
        environment: env,
        owner: &project.owner,
        locator: &project.locator,
    };
    match rollback_to(&client, &scope, &project.dir, to) {
        Ok(n) => {
            println!("rolled back: deployment {n} restores deployment {to}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn destroy(args: &DestroyArgs) -> ExitCode {
    let env = args.target.environment.as_deref();
    let (project, client) = match args.target.project_and_client() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let scope = Scope {
        project: &project.plan.project,
        environment: env,
        owner: &project.owner,
        locator: &project.locator,
    };
    let nothing = |_: &Ids| -> Result<Vec<Desired>, String> { Ok(Vec::new()) };
    let (plan, _) = match apply::plan_now(&client, &scope, &nothing) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    print!("{}", show::human(&plan, client.base()));
    if !plan.pending() {
        println!("nothing to destroy");
        return ExitCode::SUCCESS;
    }
    if !args.yes && !confirm("Delete these endpoints?") {
        eprintln!("error: nothing deleted: pass --yes (or answer y on a terminal)");
        return ExitCode::from(crate::cli::EXIT_USAGE);
    }
    match apply::apply(&client, &scope, &nothing, Some(&plan.fingerprint)) {
        Ok(outcome) => {
            // An unreadable record is left as it is (and said so), never replaced by a new one.
            let mut record = match record::read(&project.dir) {
                Ok(r) => r,
                Err(e) => {
                    println!("destroyed: {} endpoint(s) deleted", outcome.deleted.len());
                    return fail(format!("{e}; the destroy was not recorded"));
                }
            };
            let history = record
                .environments
                .entry(project.owner.clone())
                .or_default();
            let number = history.next_number();
            history
                .deployments
                .push(deployment(number, "destroy", &outcome, &BTreeMap::new()));
            if let Err(e) = record::write(&project.dir, &record) {
                return fail(e);
            }
            println!("destroyed: {} endpoint(s) deleted", outcome.deleted.len());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

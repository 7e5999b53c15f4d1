//! Real workers behind the emulator: for each endpoint, the worker binary its image names is
//! started as a process on a free loopback port (the image store maps an image reference to a
//! binary; `flashc deploy` against the emulator fills it, see docs/deploy.md), with the
//! endpoint's env (secrets `{{ RUNPOD_SECRET_x }}` filled from the emulator's own environment)
//! and `PORT`/`PORT_HEALTH` set to that port, as the platform maps a container's port.
//!
//! Scaling follows the platform's rules in their simplest form: `workers.min` always run; a
//! request to an endpoint with no running worker starts one (scale from zero, up to
//! `workers.max`), which stops after `idleTimeout` without requests. A change that makes a new
//! release starts workers on it; the old workers keep serving until the new ones answer
//! `/ping` with 200, and are then stopped (SIGTERM: they finish what they run). A worker
//! whose `/ping` answers anything but 200/204, or that exits, is UNHEALTHY; the old release
//! keeps serving beside it, and no new worker is started for that release.
//!
//! One supervisor thread starts every worker (so each gets `PR_SET_PDEATHSIG` bound to a
//! thread that lives as long as the emulator: an emulator killed outright leaves none behind)
//! and probes, scales and reaps them every 100 ms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long a request waits for a worker to come up before it gets a 503.
const WAIT_FOR_WORKER: Duration = Duration::from_secs(120);
/// How long a stopped worker gets to finish before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(100);

/// What one endpoint should run, read from its `Endpoint` JSON.
#[derive(Clone, Debug, PartialEq)]
struct Spec {
    version: u64,
    image: String,
    env: BTreeMap<String, String>,
    min: u64,
    max: u64,
    idle: Duration,
    gpu_type: Option<String>,
    gpu_count: u64,
    data_center: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Initializing,
    Running,
    Unhealthy,
    Stopping,
}

struct Worker {
    id: String,
    version: u64,
    image: String,
    port: u16,
    child: Option<Child>,
    status: Status,
    started: Instant,
    started_at: String,
    stop_sent: Option<Instant>,
}

#[derive(Default)]
struct Pool {
    /// `None` once the endpoint is deleted: its workers are stopped, then the pool goes.
    spec: Option<Spec>,
    workers: Vec<Worker>,
    last_request: Option<Instant>,
    waiting: usize,
}

#[derive(Default)]
struct State {
    pools: BTreeMap<String, Pool>,
    next_worker: u64,
}

/// The workers of every endpoint.
pub struct Fleet {
    state: Mutex<State>,
    changed: Condvar,
    images: PathBuf,
    /// `http://127.0.0.1:PORT`: workers call other endpoints through the emulator.
    base_url: String,
}

/// The emulator's image store: `FLASHC_IMAGE_STORE`, else `$XDG_CACHE_HOME/flashc/images`
/// (`~/.cache/flashc/images`). `flashc deploy` against a local API writes each image's
/// worker binary there; the emulator runs it.
pub fn image_store() -> PathBuf {
    if let Some(dir) = std::env::var_os("FLASHC_IMAGE_STORE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("flashc").join("images")
}

/// Where an image's worker binary is kept: the reference with every character that is not
/// alphanumeric, `-` or `.` replaced, so no reference can name a path outside the store.
pub fn image_path(store: &Path, image: &str) -> PathBuf {
    let file: String = image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    store.join(file.trim_start_matches('.'))
}

/// A worker as `GET /v2/serverless/{id}/workers` lists it.
pub struct WorkerView {
    pub json: Value,
    pub status: &'static str,
    pub version: u64,
}

impl Fleet {
    pub fn start(images: PathBuf, base_url: &str) -> Arc<Fleet> {
        let fleet = Arc::new(Fleet {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            images,
            base_url: base_url.to_string(),
        });
        let supervisor = Arc::clone(&fleet);
        std::thread::spawn(move || loop {
            supervisor.tick();
            std::thread::sleep(TICK);
        });
        fleet
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings every pool in line with the endpoints as they are now (after each control call).
    pub fn sync<'a>(&self, endpoints: impl Iterator<Item = (&'a str, &'a Value, u64)>) {
        let mut state = self.lock();
        let mut seen = Vec::new();
        for (id, json, version) in endpoints {
            seen.push(id.to_string());
            state.pools.entry(id.to_string()).or_default().spec = Some(spec(json, version));
        }
        for (id, pool) in &mut state.pools {
            if !seen.contains(id) {
                pool.spec = None;
            }
        }
    }

    /// The workers of endpoint `id`, and whether a rollout is under way.
    pub fn workers(&self, id: &str) -> (Vec<WorkerView>, bool) {
        let state = self.lock();
        let Some(pool) = state.pools.get(id) else {
            return (Vec::new(), false);
        };
        let Some(spec) = &pool.spec else {
            return (Vec::new(), false);
        };
        let views: Vec<WorkerView> = pool
            .workers
            .iter()
            .filter(|w| w.status != Status::Stopping)
            .map(|w| {
                let status = match w.status {
                    Status::Initializing => "INITIALIZING",
                    Status::Running if pool.waiting == 0 => "IDLE",
                    Status::Running => "RUNNING",
                    Status::Unhealthy | Status::Stopping => "UNHEALTHY",
                };
                WorkerView {
                    json: json!({
                        "id": w.id,
                        "status": status,
                        "isStale": w.version < spec.version,
                        "version": w.version,
                        "gpuCount": if spec.gpu_type.is_some() { spec.gpu_count } else { 0 },
                        "gpuTypeId": spec.gpu_type,
                        "dataCenterId": spec.data_center,
                        "image": w.image,
                        "startedAt": w.started_at,
                        "uptimeSeconds": w.started.elapsed().as_secs(),
                    }),
                    status,
                    version: w.version,
                }
            })
            .collect();
        // The document: "true while any worker is still running an older version".
        let rolling = pool
            .workers
            .iter()
            .any(|w| w.status != Status::Stopping && w.version < spec.version);
        (views, rolling)
    }

    /// The port of a worker that can take a request for endpoint `id`, starting one if none
    /// runs: the newest release that answers; `Err` with a status and a reason otherwise.
    /// With the port comes the key the worker's own local API wants (its `RUNPOD_API_KEY`):
    /// the emulator has authenticated the request, as the platform does before a worker.
    pub fn acquire(&self, id: &str) -> Result<(u16, Option<String>), (u16, String)> {
        let deadline = Instant::now() + WAIT_FOR_WORKER;
        let mut state = self.lock();
        match state.pools.get_mut(id) {
            Some(pool) if pool.spec.is_some() => {
                pool.waiting += 1;
                pool.last_request = Some(Instant::now());
            }
            _ => return Err((404, format!("endpoint {id} not found"))),
        }
        let result = loop {
            let pool = state.pools.get_mut(id).expect("present above");
            let Some(spec) = pool.spec.clone() else {
                break Err((404, format!("endpoint {id} was deleted")));
            };
            if spec.max == 0 {
                break Err((503, format!("endpoint {id} has workers.max 0")));
            }
            let serving = pool
                .workers
                .iter()
                .filter(|w| w.status == Status::Running)
                .max_by_key(|w| w.version);
            if let Some(w) = serving {
                let key = spec.env.get("RUNPOD_API_KEY").filter(|k| !k.is_empty());
                break Ok((w.port, key.cloned()));
            }
            let coming = pool
                .workers
                .iter()
                .any(|w| w.status == Status::Initializing);
            let failed = pool
                .workers
                .iter()
                .any(|w| w.status == Status::Unhealthy && w.version == spec.version);
            if failed && !coming {
                break Err((
                    503,
                    format!(
                        "no healthy worker: the worker of release {} is UNHEALTHY",
                        spec.version
                    ),
                ));
            }
            if Instant::now() > deadline {
                break Err((503, "no worker became ready in time".to_string()));
            }
            state = self
                .changed
                .wait_timeout(state, TICK)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        if let Some(pool) = state.pools.get_mut(id) {
            pool.waiting -= 1;
            pool.last_request = Some(Instant::now());
        }
        result
    }

    /// A request finished: the endpoint was busy until now (its idle time starts here).
    pub fn release(&self, id: &str) {
        if let Some(pool) = self.lock().pools.get_mut(id) {
            pool.last_request = Some(Instant::now());
        }
    }

    /// One round: reap, probe, scale, roll.
    fn tick(&self) {
        let probes: Vec<(String, String, u16)> = {
            let mut state = self.lock();
            for pool in state.pools.values_mut() {
                reap(pool);
            }
            state
                .pools
                .iter()
                .flat_map(|(id, p)| {
                    p.workers
                        .iter()
                        .filter(|w| w.status == Status::Initializing)
                        .map(move |w| (id.clone(), w.id.clone(), w.port))
                })
                .collect()
        };
        let results: Vec<(String, String, Option<u16>)> = probes
            .into_iter()
            .map(|(pool, worker, port)| (pool, worker, ping(port)))
            .collect();
        let mut state = self.lock();
        for (pool, worker, status) in results {
            let Some(w) = state
                .pools
                .get_mut(&pool)
                .and_then(|p| p.workers.iter_mut().find(|w| w.id == worker))
            else {
                continue;
            };
            match status {
                Some(200) if w.status == Status::Initializing => w.status = Status::Running,
                // Not listening yet, or `init` still running.
                None | Some(204) => {}
                Some(_) => {
                    eprintln!("emulate: worker {} is UNHEALTHY (/ping)", w.id);
                    w.status = Status::Unhealthy;
                }
            }
        }
        let ids: Vec<String> = state.pools.keys().cloned().collect();
        for id in ids {
            self.scale(&mut state, &id);
        }
        state
            .pools
            .retain(|_, p| p.spec.is_some() || !p.workers.is_empty());
        drop(state);
        self.changed.notify_all();
    }

    fn scale(&self, state: &mut State, id: &str) {
        let next = &mut state.next_worker;
        let Some(pool) = state.pools.get_mut(id) else {
            return;
        };
        let Some(spec) = pool.spec.clone() else {
            for w in &mut pool.workers {
                stop(w);
            }
            return;
        };
        let busy = pool.waiting > 0 || pool.last_request.is_some_and(|t| t.elapsed() < spec.idle);
        let want = spec.min.max(u64::from(busy)).min(spec.max) as usize;
        let latest = |w: &&Worker| w.version == spec.version;
        let live_latest = pool
            .workers
            .iter()
            .filter(latest)
            .filter(|w| matches!(w.status, Status::Initializing | Status::Running))
            .count();
        let failed_latest = pool
            .workers
            .iter()
            .filter(latest)
            .any(|w| w.status == Status::Unhealthy);
        if live_latest < want && !failed_latest {
            for _ in live_latest..want {
                *next += 1;
                let worker = self.spawn(id, &spec, *next);
                pool.workers.push(worker);
            }
        }
        let running_latest = pool
            .workers
            .iter()
            .filter(latest)
            .filter(|w| w.status == Status::Running)
            .count();
        if want == 0 {
            for w in &mut pool.workers {
                stop(w);
            }
        } else if running_latest >= want {
            // The rollout is over: the old release's workers finish and go.
            let mut kept = 0;
            for w in &mut pool.workers {
                if w.version == spec.version && w.status == Status::Running && kept < want {
                    kept += 1;
                } else if w.version < spec.version || w.status == Status::Running {
                    stop(w);
                }
            }
        }
    }

    fn spawn(&self, endpoint: &str, spec: &Spec, n: u64) -> Worker {
        let id = format!("w{n:06}");
        let port = free_port();
        let mut worker = Worker {
            id: id.clone(),
            version: spec.version,
            image: spec.image.clone(),
            port,
            child: None,
            status: Status::Initializing,
            started: Instant::now(),
            started_at: super::control::now_rfc3339(),
            stop_sent: None,
        };
        let binary = image_path(&self.images, &spec.image);
        match self.command(&binary, endpoint, spec, &id, port).spawn() {
            Ok(child) => {
                eprintln!(
                    "emulate: endpoint {endpoint}: worker {id} (release {}) on port {port}",
                    spec.version
                );
                worker.child = Some(child);
            }
            Err(e) => {
                eprintln!(
                    "emulate: endpoint {endpoint}: worker {id} cannot start image {} ({}): {e}",
                    spec.image,
                    binary.display()
                );
                worker.status = Status::Unhealthy;
            }
        }
        worker
    }

    fn command(&self, binary: &Path, endpoint: &str, spec: &Spec, id: &str, port: u16) -> Command {
        let mut command = Command::new(binary);
        // A worker sees what a container would: the endpoint's env and the platform's
        // variables, not the emulator's environment (which may hold an API key).
        command.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command
            .envs(&spec.env)
            .env("PORT", port.to_string())
            .env("PORT_HEALTH", port.to_string())
            .env("RUNPOD_ENDPOINT_ID", endpoint)
            .env("RUNPOD_POD_ID", id)
            .env("RUNPOD_GPU_COUNT", spec.gpu_count.to_string())
            .env("RUNPOD_DC_ID", &spec.data_center)
            // Servers here listen on loopback only.
            .env("FLASH_HOST", "127.0.0.1")
            .env("RUNPOD_ENDPOINT_BASE_URL", format!("{}/v2", self.base_url))
            .stdin(Stdio::null());
        // Worker logs go to the emulator's stderr.
        if let Ok(err) = std::io::stderr().as_fd_clone() {
            command.stdout(err);
        }
        let parent = std::process::id() as i32;
        // SAFETY: between fork and exec only async-signal-safe calls are made (prctl,
        // getppid, kill).
        unsafe {
            use std::os::unix::process::CommandExt;
            command.pre_exec(move || {
                // The emulator killed outright (even SIGKILL) must not leave workers running.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), libc::SIGTERM);
                }
                Ok(())
            });
        }
        command
    }
}

/// `Stdio` for a duplicate of this process's stderr.
trait StderrClone {
    fn as_fd_clone(&self) -> std::io::Result<Stdio>;
}

impl StderrClone for std::io::Stderr {
    fn as_fd_clone(&self) -> std::io::Result<Stdio> {
        use std::os::fd::AsFd;
        Ok(Stdio::from(self.as_fd().try_clone_to_owned()?))
    }
}

fn spec(json: &Value, version: u64) -> Spec {
    let env = json["env"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), fill_secrets(v.as_str().unwrap_or_default())))
        .collect();
    let workers = &json["workers"];
    Spec {
        version,
        image: json["image"].as_str().unwrap_or_default().to_string(),
        env,
        min: workers["min"].as_u64().unwrap_or(0),
        max: workers["max"].as_u64().unwrap_or(3),
        idle: Duration::from_secs(workers["idleTimeout"].as_u64().unwrap_or(10)),
        gpu_type: gpu_type(&json["gpu"]),
        gpu_count: json["gpu"]["count"].as_u64().unwrap_or(1),
        data_center: json["dataCenterIds"][0]
            .as_str()
            .unwrap_or("EU-RO-1")
            .to_string(),
    }
}

/// `{{ RUNPOD_SECRET_name }}` → the emulator's own `RUNPOD_SECRET_name` (empty when unset), as
/// the platform fills in the secret's value.
fn fill_secrets(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let name = rest[start + 2..start + end].trim();
        if name.starts_with("RUNPOD_SECRET_") {
            out.push_str(&std::env::var(name).unwrap_or_default());
        } else {
            out.push_str(&rest[start..start + end + 2]);
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// The card a worker of this `gpu` lands on: the first card of the first pool that is not
/// excluded (deterministic, so tests can say which).
fn gpu_type(gpu: &Value) -> Option<String> {
    let excluded: Vec<&str> = gpu["excludedTypes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    gpu["pools"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .filter_map(flashc::model::vocab::gpu_pool)
        .flat_map(|p| {
            p.models
                .iter()
                .filter_map(|m| flashc::model::vocab::gpu_model(m).map(|m| m.name))
                .chain(p.unnamed_cards.iter().copied())
        })
        .find(|card| !excluded.contains(card))
        .map(str::to_string)
}

fn reap(pool: &mut Pool) {
    pool.workers.retain_mut(|w| {
        let exited = match &mut w.child {
            Some(child) => child.try_wait().ok().flatten().is_some(),
            None => true,
        };
        if exited {
            w.child = None;
            if w.status == Status::Stopping {
                return false;
            }
            if w.status != Status::Unhealthy {
                eprintln!("emulate: worker {} exited: UNHEALTHY", w.id);
                w.status = Status::Unhealthy;
            }
            return true;
        }
        if w.stop_sent.is_some_and(|t| t.elapsed() > STOP_GRACE) {
            if let Some(child) = &mut w.child {
                let _ = child.kill();
            }
        }
        true
    });
}

/// SIGTERM: the worker finishes what it runs and exits; the reaper removes it.
fn stop(w: &mut Worker) {
    if w.status == Status::Stopping {
        return;
    }
    w.status = Status::Stopping;
    w.stop_sent = Some(Instant::now());
    if let Some(child) = &w.child {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
    }
}

/// `GET /ping`'s status, `None` when nothing answers.
fn ping(port: u16) -> Option<u16> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_millis(500)))
        .build()
        .into();
    agent
        .get(&format!("http://127.0.0.1:{port}/ping"))
        .call()
        .ok()
        .map(|r| r.status().as_u16())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_stay_in_the_store() {
        let store = Path::new("/s");
        assert_eq!(
            image_path(store, "flashc.local/p-api:flashc-00ff"),
            Path::new("/s/flashc.local_p-api_flashc-00ff")
        );
        assert_eq!(
            image_path(store, "../../etc/passwd"),
            Path::new("/s/_.._etc_passwd")
        );
    }

    #[test]
    fn secrets_are_filled_from_the_environment() {
        assert_eq!(fill_secrets("plain"), "plain");
        assert_eq!(
            fill_secrets("a{{ RUNPOD_SECRET_flashc_unit_unset }}b"),
            "ab"
        );
        assert_eq!(fill_secrets("{{ OTHER }}"), "{{ OTHER }}");
    }

    #[test]
    fn a_worker_lands_on_the_first_card_not_excluded() {
        let gpu =
            json!({"pools": ["ADA_48_PRO"], "excludedTypes": ["NVIDIA RTX 6000 Ada Generation"]});
        assert_eq!(gpu_type(&gpu).as_deref(), Some("NVIDIA L40"));
        assert_eq!(gpu_type(&json!(null)), None);
    }
}

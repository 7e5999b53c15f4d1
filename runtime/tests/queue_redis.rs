//! The queue on Redis (feature `redis`) against a real `redis-server` (Debian's package), started
//! here on a free loopback port with its own directory, and several processes of the example
//! queue worker (`examples/queue_worker.rs`: 4 jobs at once, 1 retry) sharing it:
//! - any replica serves the whole API for any job, with the local queue's bytes;
//! - a replica SIGKILLed mid-run loses no job: its attempts are taken back after the lease and
//!   retried; every job ends once (one final status; its webhook is delivered, a second time
//!   only if the killed replica died between delivering it and recording that);
//! - Redis restarted mid-run (append-only file on): accepted jobs survive, workers reconnect,
//!   `/ping` and `/run` say 503 while it is away.
//!
//! Without `redis-server` on PATH the tests print why and pass (CI installs it: `.ci/run`).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn redis_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("redis-server"))
        .find(|p| p.exists())
}

fn skip_without_redis() -> Option<PathBuf> {
    let bin = redis_binary();
    if bin.is_none() {
        eprintln!(
            "\n\n*** SKIPPED: redis-server is not installed (apt-get install redis-server); \
             the Redis queue was NOT tested ***\n\n"
        );
    }
    bin
}

fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "flash-redis-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `redis-server` with an append-only file fsynced at every write, so a job accepted is a job
/// kept across a restart. Stopped (SIGKILL) when dropped.
struct RedisServer {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Options after the defaults (TLS).
    extra: Vec<String>,
}

impl RedisServer {
    fn start(bin: PathBuf, dir: &Path) -> RedisServer {
        let mut server = RedisServer {
            bin,
            dir: dir.to_path_buf(),
            port: free_port(),
            child: None,
            extra: Vec::new(),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--protected-mode",
                "yes",
                "--logfile",
            ])
            .arg(self.dir.join("redis.log"))
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        if !self.extra.is_empty() {
            // TLS: the port answers once the server listens.
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::{Read, Write};
                s.set_read_timeout(Some(Duration::from_millis(500))).ok();
                let _ = s.write_all(b"PING\r\n");
                let mut buf = [0u8; 16];
                if matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG")) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn features() -> String {
    let mut f = vec!["redis"];
    if cfg!(feature = "persist") {
        f.push("persist");
    }
    if cfg!(feature = "dev") {
        f.push("dev");
    }
    f.join(" ")
}

/// The example worker with the `redis` feature, built now: `cargo test --test queue_redis`
/// does not build examples, and a binary left from another build may lack the feature.
fn example_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut cargo = Command::new(env!("CARGO"));
            // Without the variables cargo sets for a running test: build scripts that watch
            // them (ring's watches CARGO_MANIFEST_DIR) would rebuild half the tree.
            for (key, _) in std::env::vars_os() {
                let k = key.to_string_lossy();
                if k.starts_with("CARGO_PKG_")
                    || k.starts_with("CARGO_MANIFEST_")
                    || k.starts_with("CARGO_BIN_")
                    || matches!(
                        &*k,
                        "CARGO_CRATE_NAME"
                            | "CARGO_PRIMARY_PACKAGE"
                            | "CARGO_TARGET_TMPDIR"
                            | "CARGO_RUSTC_CURRENT_DIR"
                            | "OUT_DIR"
                    )
                {
                    cargo.env_remove(&key);
                }
            }
            let status = cargo
                .args(["build", "-p", "flash-runtime", "--example", "queue_worker"])
                // The features this test was built with: others would rebuild the library.
                .args(["--features", &features()])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the example worker failed");
            // target/debug/deps/queue_redis-<hash> → target/debug/examples/queue_worker
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(|d| d.parent()).unwrap();
            dir.join("examples").join("queue_worker")
        })
        .clone()
}

/// One replica: the example worker on its own port, logging to a file. Killed when dropped.
struct Replica {
    child: Option<Child>,
    base: String,
    log: PathBuf,
}

impl Replica {
    fn start(redis_url: &str, dir: &Path, n: usize, lease_ms: u64) -> Replica {
        Replica::start_with(redis_url, dir, n, lease_ms, &[])
    }

    fn start_with(
        redis_url: &str,
        dir: &Path,
        n: usize,
        lease_ms: u64,
        extra: &[(&str, &str)],
    ) -> Replica {
        let port = free_port();
        let log = dir.join(format!("replica-{n}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(example_binary())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("FLASH_HOST", "127.0.0.1")
            .env("FLASH_QUEUE_URL", redis_url)
            .env("FLASH_QUEUE_NAME", "test")
            .env("FLASH_QUEUE_LEASE_MS", lease_ms.to_string())
            .env("FLASH_QUEUE_WEBHOOK_RETRY_MS", "100")
            .env("FLASH_LOG_LEVEL", "info")
            .envs(extra.iter().copied())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Replica {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    fn sigkill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then the exit status within `limit`.
    fn sigterm(&mut self, limit: Duration) -> std::process::ExitStatus {
        let child = self.child.as_mut().unwrap();
        let ok = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.sigkill();
    }
}

async fn wait_ready(http: &reqwest::Client, replicas: &[&Replica]) {
    for r in replicas {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = http.get(format!("{}/ping", r.base)).send().await {
                if resp.status() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "replica {} not ready: {}",
                r.base,
                r.logs()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Receives webhooks: job id → every body delivered for it.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<HashMap<String, Vec<Value>>>>);

impl Hooks {
    async fn serve(&self) -> String {
        let hooks = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: axum::Json<Value>| {
                let hooks = hooks.clone();
                async move {
                    let id = body["id"].as_str().unwrap_or_default().to_string();
                    hooks.0.lock().unwrap().entry(id).or_default().push(body.0);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn snapshot(&self) -> HashMap<String, Vec<Value>> {
        self.0.lock().unwrap().clone()
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(http: &reqwest::Client, url: String) -> (u16, Value) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn wait_status(http: &reqwest::Client, base: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = get(http, format!("{base}/status/{id}")).await;
        if body["status"] == want {
            return body;
        }
        assert!(Instant::now() < deadline, "job {id}: {body}, want {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every operation of the public API answered by either replica for jobs the other one took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_replica_serves_the_whole_api() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("api");
    let redis = RedisServer::start(bin, &dir);
    let a = Replica::start(&redis.url(), &dir, 0, 3000);
    let b = Replica::start(&redis.url(), &dir, 1, 3000);
    let http = reqwest::Client::new();
    wait_ready(&http, &[&a, &b]).await;

    // /runsync on A, /status on B: the same bytes, in the platform's key order.
    let (code, done) = post(
        &http,
        format!("{}/runsync", a.base),
        json!({"input": {"name": "Ada", "count": 2}}),
    )
    .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["output"], json!({"count": 2, "greeting": "hello Ada"}));
    let id = done["id"].as_str().unwrap();
    assert!(id.starts_with("sync-"), "{id}");
    let text = http
        .get(format!("{}/status/{id}", b.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("{\"delayTime\":"), "{text}");
    assert!(
        text.contains(&format!(
            ",\"id\":\"{id}\",\"output\":{{\"count\":2,\"greeting\":\"hello Ada\"}},\"status\":\"COMPLETED\"}}"
        )),
        "{text}"
    );
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), done);

    // A client error fails at once (not retried); /retry through the other replica.
    let (_, queued) = post(
        &http,
        format!("{}/run", b.base),
        json!({"input": {"name": "x", "mode": "fail"}}),
    )
    .await;
    assert_eq!(queued["status"], "IN_QUEUE");
    let fid = queued["id"].as_str().unwrap().to_string();
    let failed = wait_status(&http, &a.base, &fid, "FAILED").await;
    assert!(
        failed["error"].as_str().unwrap().contains("cannot greet x"),
        "{failed}"
    );
    let (code, again) = post(&http, format!("{}/retry/{fid}", a.base), json!({})).await;
    assert_eq!((code, again["status"].clone()), (200, json!("IN_QUEUE")));
    wait_status(&http, &b.base, &fid, "FAILED").await;
    let (code, refused) = post(&http, format!("{}/retry/{id}", b.base), json!({})).await;
    assert_eq!(code, 400, "{refused}");

    // A stream's chunks, read through the replica that did not run it.
    let (_, s) = post(
        &http,
        format!("{}/run", a.base),
        json!({"input": {"name": "s", "mode": "stream", "count": 3}}),
    )
    .await;
    let sid = s["id"].as_str().unwrap().to_string();
    wait_status(&http, &a.base, &sid, "COMPLETED").await;
    let (_, stream) = post(&http, format!("{}/stream/{sid}", b.base), json!({})).await;
    assert_eq!(stream["status"], "COMPLETED");
    assert_eq!(stream["stream"].as_array().unwrap().len(), 3, "{stream}");
    assert_eq!(stream["stream"][2]["output"]["index"], 2);

    // Cancel a running job through the other replica: it stops, and stays CANCELLED.
    let (_, slow) = post(
        &http,
        format!("{}/run", a.base),
        json!({"input": {"name": "slow", "sleep_ms": 20000}}),
    )
    .await;
    let slow_id = slow["id"].as_str().unwrap().to_string();
    wait_status(&http, &b.base, &slow_id, "IN_PROGRESS").await;
    let (code, c) = post(&http, format!("{}/cancel/{slow_id}", b.base), json!({})).await;
    assert_eq!((code, c["status"].clone()), (200, json!("CANCELLED")));
    // The attempt stops (whichever replica ran it) within a heartbeat: no slot is busy.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, ha) = get(&http, format!("{}/health", a.base)).await;
        let (_, hb) = get(&http, format!("{}/health", b.base)).await;
        if ha["workers"]["running"] == 0 && hb["workers"]["running"] == 0 {
            assert_eq!(ha["jobs"]["inProgress"], 0, "{ha}");
            break;
        }
        assert!(Instant::now() < deadline, "{ha} {hb}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, c) = get(&http, format!("{}/status/{slow_id}", a.base)).await;
    assert_eq!(c["status"], "CANCELLED", "{c}");

    // Purge through either replica: queued jobs (behind 8 slow ones) are CANCELLED.
    let mut ids = Vec::new();
    for i in 0..14 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let (_, r) = post(
            &http,
            format!("{base}/run"),
            json!({"input": {"name": format!("p{i}"), "sleep_ms": 1500}}),
        )
        .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, purged) = post(&http, format!("{}/purge-queue", b.base), json!({})).await;
    assert_eq!(code, 200);
    let removed = purged["removed"].as_u64().unwrap();
    assert!((4..=14).contains(&removed), "{purged}");
    let (_, h) = get(&http, format!("{}/health", a.base)).await;
    assert_eq!(h["jobs"]["inQueue"], 0, "{h}");
    let mut cancelled = 0;
    for id in &ids {
        let (_, s) = get(&http, format!("{}/status/{id}", a.base)).await;
        if s["status"] == "CANCELLED" {
            cancelled += 1;
        }
    }
    assert_eq!(cancelled, removed, "purged jobs read CANCELLED");

    // Unknown ids are a JSON 404 on every replica.
    let (code, nf) = get(&http, format!("{}/status/nope", b.base)).await;
    assert_eq!(code, 404, "{nf}");
    drop((a, b));
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three replicas, jobs submitted to all of them, one SIGKILLed while it runs jobs: every job
/// completes once (one webhook each), and every status reads the same from each survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_loses_no_job_and_each_job_ends_once() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("kill");
    let redis = RedisServer::start(bin, &dir);
    let hooks = Hooks::default();
    let hook_url = hooks.serve().await;
    let mut replicas: Vec<Replica> = (0..3)
        .map(|n| Replica::start(&redis.url(), &dir, n, 1000))
        .collect();
    let http = reqwest::Client::new();
    wait_ready(&http, &replicas.iter().collect::<Vec<_>>()).await;

    const JOBS: usize = 300;
    let mut ids = Vec::new();
    let mut killed = false;
    for i in 0..JOBS {
        // Round robin over the replicas alive.
        let base = if killed {
            &replicas[1 + i % 2].base
        } else {
            &replicas[i % 3].base
        };
        let (code, r) = post(
            &http,
            format!("{base}/run"),
            json!({"input": {"name": format!("j{i}"), "sleep_ms": 60}, "webhook": hook_url}),
        )
        .await;
        assert_eq!(code, 200, "{r}");
        ids.push(r["id"].as_str().unwrap().to_string());
        if i == JOBS / 3 {
            // Once replica 0 runs jobs: kill it without a word.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (_, h) = get(&http, format!("{}/health", replicas[0].base)).await;
                if h["workers"]["running"].as_u64().unwrap_or(0) > 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "replica 0 never ran a job: {h}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            replicas[0].sigkill();
            killed = true;
        }
    }
    // Jobs submitted to replica 0 before it died were accepted; the rest went to the others.
    let deadline = Instant::now() + Duration::from_secs(20);
    while hooks.len() < JOBS {
        if Instant::now() > deadline {
            let seen = hooks.snapshot();
            let mut missing = Vec::new();
            for id in ids.iter().filter(|id| !seen.contains_key(*id)) {
                missing.push(
                    get(&http, format!("{}/status/{id}", replicas[1].base))
                        .await
                        .1,
                );
            }
            panic!(
                "{} of {JOBS} webhooks; missing: {missing:?}; replica 1: {}\nreplica 2: {}",
                hooks.len(),
                replicas[1].logs(),
                replicas[2].logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A duplicate would come right after the first: give it the time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = hooks.snapshot();
    assert_eq!(seen.len(), JOBS);
    // One final status per job: every webhook of a job carries the same body. A webhook is
    // delivered at least once: a second delivery happens only when the killed replica died
    // between delivering it and recording that in Redis (at most its in-flight deliveries).
    let mut twice = 0;
    for id in &ids {
        let bodies = &seen[id];
        assert_eq!(bodies[0]["status"], "COMPLETED", "{bodies:?}");
        assert!(
            bodies.iter().all(|b| *b == bodies[0]),
            "job {id}: {bodies:?}"
        );
        if bodies.len() > 1 {
            twice += 1;
        }
    }
    assert!(twice <= 4, "{twice} webhooks delivered twice");
    for r in &replicas[1..] {
        for id in ids.iter().step_by(7) {
            let (code, s) = get(&http, format!("{}/status/{id}", r.base)).await;
            assert_eq!(
                (code, s["status"].clone()),
                (200, json!("COMPLETED")),
                "{s}"
            );
            assert_eq!(s, seen[id][0]);
        }
    }
    let (_, h) = get(&http, format!("{}/health", replicas[1].base)).await;
    assert_eq!(h["jobs"]["completed"], JOBS as u64, "{h}");
    assert_eq!(h["jobs"]["failed"], 0, "{h}");
    assert_eq!(h["jobs"]["inQueue"], 0, "{h}");
    assert_eq!(h["jobs"]["inProgress"], 0, "{h}");
    // The dead replica's attempts were taken back and run again.
    let retried = h["jobs"]["retried"].as_u64().unwrap();
    let taken_back: usize = replicas[1..]
        .iter()
        .map(|r| {
            r.logs()
                .matches("on a worker that stopped; queued again")
                .count()
        })
        .sum();
    assert!(retried >= 1 && taken_back >= 1, "{h} {taken_back}");
    drop(replicas);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Receives webhooks and answers the first delivery of each job as its name says: `refuse-*`
/// with a 503 (the worker waits a minute before its next attempt), `hold-*` never (the POST
/// stays open: a delivery cut mid-flight when its worker dies); later deliveries with a 200.
/// Records, per job, every delivery: its `Idempotency-Key`, body and whether it was answered 200.
#[derive(Clone, Default)]
struct Outbox(Arc<Mutex<Deliveries>>);

/// Job id → each delivery: `Idempotency-Key`, body, whether it was answered 200.
type Deliveries = HashMap<String, Vec<(String, Value, bool)>>;

impl Outbox {
    async fn serve(&self) -> String {
        let hooks = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::Json<Value>| {
                    let hooks = hooks.clone();
                    async move {
                        let id = body["id"].as_str().unwrap_or_default().to_string();
                        let key = headers
                            .get("idempotency-key")
                            .and_then(|k| k.to_str().ok())
                            .unwrap_or_default()
                            .to_string();
                        let greeting = body["output"]["greeting"].as_str().unwrap_or_default();
                        let first = {
                            let mut map = hooks.0.lock().unwrap();
                            let seen = map.entry(id.clone()).or_default();
                            let first = seen.is_empty();
                            seen.push((key, body.0.clone(), !first));
                            first
                        };
                        if first && greeting.contains("hold-") {
                            tokio::time::sleep(Duration::from_secs(600)).await;
                        }
                        if first {
                            axum::http::StatusCode::SERVICE_UNAVAILABLE
                        } else {
                            axum::http::StatusCode::OK
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn snapshot(&self) -> Deliveries {
        self.0.lock().unwrap().clone()
    }
}

/// The webhook outbox: a replica that made jobs final dies (SIGKILL) before their webhooks were
/// answered, some refused and waiting for the next attempt, some cut mid-POST. Another replica
/// takes each claim over after the lease and delivers it: each job's webhook is answered once,
/// every delivery of a job carries the same `Idempotency-Key`, and the outbox ends empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_owed_by_a_killed_replica_are_delivered_once_by_another() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("outbox");
    let redis = RedisServer::start(bin, &dir);
    let hooks = Outbox::default();
    let hook_url = hooks.serve().await;
    // Alone at first, so it makes every job final; a minute between webhook attempts.
    let mut first = Replica::start_with(
        &redis.url(),
        &dir,
        0,
        1000,
        &[("FLASH_QUEUE_WEBHOOK_RETRY_MS", "60000")],
    );
    let http = reqwest::Client::new();
    wait_ready(&http, &[&first]).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let name = format!("{}-{i}", if i % 2 == 0 { "refuse" } else { "hold" });
        let (code, r) = post(
            &http,
            format!("{}/run", first.base),
            json!({"input": {"name": name}, "webhook": hook_url}),
        )
        .await;
        assert_eq!(code, 200, "{r}");
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        wait_status(&http, &first.base, id, "COMPLETED").await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while hooks.snapshot().len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "first deliveries: {:?}",
            hooks.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every job final, no webhook answered yet: four refused (the worker sleeps before its next
    // attempt), four POSTs open. Now it dies.
    first.sigkill();
    let others: Vec<Replica> = (1..3)
        .map(|n| Replica::start(&redis.url(), &dir, n, 1000))
        .collect();
    wait_ready(&http, &others.iter().collect::<Vec<_>>()).await;
    let answered = |seen: &Deliveries| {
        ids.iter()
            .filter(|id| seen.get(*id).is_some_and(|d| d.iter().any(|x| x.2)))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while answered(&hooks.snapshot()) < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{:?}\nreplica 1: {}\nreplica 2: {}",
            hooks.snapshot(),
            others[0].logs(),
            others[1].logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A second takeover would come a lease later: give it the time.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let seen = hooks.snapshot();
    for id in &ids {
        let d = &seen[id];
        assert_eq!(d.len(), 2, "job {id}: {d:?}");
        assert_eq!(d.iter().filter(|x| x.2).count(), 1, "job {id}: {d:?}");
        assert!(
            d.iter().all(|x| x.0 == format!("{id}.0") && x.1 == d[0].1),
            "job {id}: {d:?}"
        );
        assert_eq!(d[0].1["status"], "COMPLETED", "{d:?}");
    }
    let taken_over: usize = others
        .iter()
        .map(|r| r.logs().matches("owed by a worker that stopped").count())
        .sum();
    assert_eq!(taken_over, ids.len());
    // The outbox is empty: every delivery was recorded by its owner.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let owed: usize = redis::cmd("ZCARD")
        .arg("flash:{test}:hooks")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(owed, 0);
    drop(others);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Redis killed and started again mid-run on the same files: `/ping` and `/run` say 503 while it
/// is away, every job accepted before survives and completes once, the workers reconnect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_keeps_accepted_jobs_and_workers_reconnect() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("restart");
    let mut redis = RedisServer::start(bin, &dir);
    let hooks = Hooks::default();
    let hook_url = hooks.serve().await;
    let replicas: Vec<Replica> = (0..2)
        .map(|n| Replica::start(&redis.url(), &dir, n, 2000))
        .collect();
    let http = reqwest::Client::new();
    wait_ready(&http, &replicas.iter().collect::<Vec<_>>()).await;

    let mut ids = Vec::new();
    for i in 0..60 {
        let base = &replicas[i % 2].base;
        let (code, r) = post(
            &http,
            format!("{base}/run"),
            json!({"input": {"name": format!("r{i}"), "sleep_ms": 100}, "webhook": hook_url}),
        )
        .await;
        assert_eq!(code, 200, "{r}");
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    redis.kill();

    // Away: unhealthy, and a submission is refused with a clear JSON 503.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = http
            .get(format!("{}/ping", replicas[0].base))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "/ping stayed {}", r.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, refused) = post(
        &http,
        format!("{}/run", replicas[1].base),
        json!({"input": {"name": "late"}}),
    )
    .await;
    assert_eq!(code, 503, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .starts_with("the queue is unavailable"),
        "{refused}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    redis.spawn();
    wait_ready(&http, &replicas.iter().collect::<Vec<_>>()).await;
    // Accepted after the restart too.
    let (code, r) = post(
        &http,
        format!("{}/run", replicas[1].base),
        json!({"input": {"name": "after"}, "webhook": hook_url}),
    )
    .await;
    assert_eq!(code, 200, "{r}");
    ids.push(r["id"].as_str().unwrap().to_string());

    let deadline = Instant::now() + Duration::from_secs(30);
    while hooks.len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} webhooks; replica 0: {}",
            hooks.len(),
            ids.len(),
            replicas[0].logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let seen = hooks.snapshot();
    for id in &ids {
        let bodies = &seen[id];
        assert_eq!(bodies.len(), 1, "job {id}: {bodies:?}");
        assert_eq!(bodies[0]["status"], "COMPLETED", "{bodies:?}");
        let (_, s) = get(&http, format!("{}/status/{id}", replicas[0].base)).await;
        assert_eq!(s["status"], "COMPLETED", "{s}");
    }
    drop(replicas);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM on a replica with jobs running and queued: it exits 0 within its grace period, its
/// unfinished attempts go back to the queue (no retry used), and another replica runs them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopping_hands_its_jobs_back() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("term");
    let redis = RedisServer::start(bin, &dir);
    let mut a = Replica::start_with(
        &redis.url(),
        &dir,
        0,
        30_000,
        &[("FLASH_SHUTDOWN_GRACE_MS", "300")],
    );
    let http = reqwest::Client::new();
    wait_ready(&http, &[&a]).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let (code, r) = post(
            &http,
            format!("{}/run", a.base),
            json!({"input": {"name": format!("t{i}"), "sleep_ms": 1500}}),
        )
        .await;
        assert_eq!(code, 200, "{r}");
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    // The example runs 4 at once: 4 running, 2 queued.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, h) = get(&http, format!("{}/health", a.base)).await;
        if h["jobs"]["inProgress"] == 4 {
            assert_eq!(h["jobs"]["inQueue"], 2, "{h}");
            break;
        }
        assert!(Instant::now() < deadline, "{h}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = a.sigterm(Duration::from_secs(10));
    assert!(status.success(), "{status}: {}", a.logs());
    assert_eq!(
        a.logs().matches("is queued again").count(),
        4,
        "{}",
        a.logs()
    );

    // The lease (30 s) is not waited for: the jobs were handed back.
    let b = Replica::start(&redis.url(), &dir, 1, 30_000);
    wait_ready(&http, &[&b]).await;
    for id in &ids {
        let done = wait_status(&http, &b.base, id, "COMPLETED").await;
        assert_eq!(done["output"]["count"], 1, "{done}");
    }
    let (_, h) = get(&http, format!("{}/health", b.base)).await;
    assert_eq!(h["jobs"]["retried"], 0, "{h}");
    assert_eq!(h["jobs"]["completed"], 6, "{h}");
    drop(b);
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `openssl` with `args` in `dir`; false if it is missing or fails.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `rediss://` with a password, to a server whose certificate a private CA signed
/// (`FLASH_QUEUE_CA_FILE`): jobs run; a wrong password or a missing CA is an unhealthy `/ping`
/// that says why, and the password is never logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_private_ca_and_a_password() {
    let Some(bin) = skip_without_redis() else {
        return;
    };
    let dir = scratch_dir("tls");
    let ca_key = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
    ];
    let made = openssl(
        &dir,
        &[
            &ca_key[..],
            &["-out", "ca.pem", "-days", "1", "-subj", "/CN=flash test CA"],
        ]
        .concat(),
    ) && openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ) && std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .is_ok()
        && openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "srv.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "srv.pem",
                "-days",
                "1",
                "-extfile",
                "ext.cnf",
            ],
        );
    if !made {
        eprintln!("\n\n*** SKIPPED: openssl could not make test certificates; rediss:// NOT tested ***\n\n");
        return;
    }
    let port = free_port();
    let mut redis = RedisServer {
        bin,
        dir: dir.clone(),
        port: free_port(),
        child: None,
        extra: [
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &dir.join("srv.pem").to_string_lossy(),
            "--tls-key-file",
            &dir.join("srv.key").to_string_lossy(),
            "--tls-ca-cert-file",
            &dir.join("ca.pem").to_string_lossy(),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "pw-s3cret",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    redis.spawn();
    // `spawn` waited on the plain port; the TLS one is what the workers use.
    redis.port = port;
    let ca = dir.join("ca.pem").to_string_lossy().to_string();
    let url = format!("rediss://:pw-s3cret@127.0.0.1:{port}/0");
    let good = Replica::start_with(&url, &dir, 0, 3000, &[("FLASH_QUEUE_CA_FILE", &ca)]);
    let wrong = format!("rediss://:wrong-pw@127.0.0.1:{port}/0");
    let bad_pw = Replica::start_with(&wrong, &dir, 1, 3000, &[("FLASH_QUEUE_CA_FILE", &ca)]);
    let no_ca = Replica::start(&url, &dir, 2, 3000);
    let http = reqwest::Client::new();
    wait_ready(&http, &[&good]).await;
    let (code, done) = post(
        &http,
        format!("{}/runsync", good.base),
        json!({"input": {"name": "tls"}}),
    )
    .await;
    assert_eq!(
        (code, done["status"].clone()),
        (200, json!("COMPLETED")),
        "{done}"
    );
    for (r, why) in [(&bad_pw, "Password"), (&no_ca, "UnknownIssuer")] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (code, body) = get(&http, format!("{}/ping", r.base)).await;
            if code == 503 && body["error"].as_str().is_some_and(|e| e.contains(why)) {
                break;
            }
            assert!(Instant::now() < deadline, "{code} {body}; {}", r.logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for r in [&good, &bad_pw, &no_ca] {
        assert!(!r.logs().contains("s3cret") && !r.logs().contains("wrong-pw"));
    }
    drop((good, bad_pw, no_ca));
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
}

//! The persisted local queue (feature `persist`) over real sockets: a stopped worker's queue is
//! resumed by the next one on the same store file, in order and exactly once; a second worker
//! waits for the file while the first still holds it; a damaged file is a clear error.
#![cfg(feature = "persist")]

mod support;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use flash_runtime::{
    handler::{handler, Call, Reply},
    queue::{
        local::{self, LocalOptions},
        settings::LocalTiming,
        QueueWorker,
    },
    shutdown::Shutdown,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::wait_exit;
use tokio::task::JoinHandle;

/// What the handler saw, across both runs of a test.
#[derive(Default)]
struct Log {
    /// Job ids in the order their attempts started.
    started: Mutex<Vec<String>>,
    /// How many times each job's handler ran to its end.
    completed: Mutex<HashMap<String, u32>>,
}

impl Log {
    fn started(&self) -> Vec<String> {
        self.started.lock().unwrap().clone()
    }
    fn completed(&self) -> HashMap<String, u32> {
        self.completed.lock().unwrap().clone()
    }
}

/// Sleeps `sleep_ms` of the input (or `default_sleep`), then answers `{"id": <job id>}`.
fn worker(log: Arc<Log>, max: usize, default_sleep: u64) -> QueueWorker<()> {
    let job = handler(move |_state: Arc<()>, mut call: Call| {
        let log = log.clone();
        async move {
            let id = call.request_id.clone();
            log.started.lock().unwrap().push(id.clone());
            let ms = call
                .args()
                .get("sleep_ms")
                .and_then(Value::as_u64)
                .unwrap_or(default_sleep);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            *log.completed.lock().unwrap().entry(id.clone()).or_default() += 1;
            Reply::json(json!({ "id": id }))
        }
    });
    QueueWorker::new(job).max_concurrency(max)
}

fn store_path(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("flash-queue-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("queue.redb")
}

struct Running {
    base: String,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), String>>,
}

async fn serve(worker: QueueWorker<()>, path: &std::path::Path, grace: Duration) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let options = LocalOptions {
        persist: Some(path.to_path_buf()),
        ..LocalOptions::default()
    };
    let timing = LocalTiming {
        run_ttl: Duration::from_secs(600),
        runsync_ttl: Duration::from_secs(600),
        runsync_wait: Duration::from_secs(20),
        ..LocalTiming::default()
    };
    let s = shutdown.clone();
    let task =
        tokio::spawn(
            async move { local::run_with(worker, timing, listener, s, grace, options).await },
        );
    Running {
        base,
        shutdown,
        task,
    }
}

impl Running {
    /// Stops the worker as SIGTERM does and waits until it has returned (store released).
    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the worker did not stop")
            .unwrap()
            .unwrap();
    }
}

async fn call(
    http: &reqwest::Client,
    method: &str,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let req = match method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// 200 jobs to a slow handler; the worker stops mid-way; the next worker on the same file runs
/// the rest: every job completes exactly once, under its original id, in submission order, and
/// the results of the first run still answer `/status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_queue_resumes_in_the_next_worker_exactly_once() {
    let path = store_path("resume");
    let log = Arc::new(Log::default());
    let http = reqwest::Client::new();
    let first = serve(worker(log.clone(), 4, 20), &path, Duration::from_secs(5)).await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let (status, body) = call(
            &http,
            "POST",
            format!("{}/run", first.base),
            Some(json!({ "input": { "n": i } })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    wait_until("some jobs to finish", Duration::from_secs(20), || {
        log.completed().len() >= 40
    })
    .await;
    first.stop().await;
    let done_first = log.completed().len();
    assert!(
        (40..200).contains(&done_first),
        "{done_first} jobs ran in the first worker"
    );

    let second = serve(worker(log.clone(), 4, 20), &path, Duration::from_secs(5)).await;
    // The earliest result, from the first worker, answers after the restart.
    let (status, body) = call(
        &http,
        "GET",
        format!("{}/status/{}", second.base, ids[0]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    assert_eq!(body["output"], json!({ "id": ids[0] }), "{body}");
    wait_until("all jobs to finish", Duration::from_secs(30), || {
        log.completed().len() == 200
    })
    .await;
    for id in &ids {
        let (status, body) = call(&http, "GET", format!("{}/status/{id}", second.base), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "COMPLETED", "{body}");
        assert_eq!(body["output"]["id"], id.as_str(), "{body}");
    }
    let completed = log.completed();
    assert!(completed.values().all(|n| *n == 1), "{completed:?}");
    // Every job started once, in submission (FIFO) order across both workers: 4 workers take
    // jobs in order, but which of them reaches the handler first is a race, so a job may be
    // logged up to 3 places from its position.
    let started = log.started();
    assert_eq!(started.len(), ids.len());
    let position: HashMap<&str, usize> = started
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let at = position[id.as_str()];
        assert!(at.abs_diff(i) < 4, "job {i} started as number {at}");
    }
    second.stop().await;
}

/// Jobs still running when the grace period ends are queued again at the front and run first
/// by the next worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_running_past_the_grace_period_run_again_first() {
    let path = store_path("interrupted");
    let log = Arc::new(Log::default());
    let http = reqwest::Client::new();
    let first = serve(
        worker(log.clone(), 2, 10),
        &path,
        Duration::from_millis(200),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..6 {
        // The first two would run for a minute.
        let input = if i < 2 {
            json!({ "input": { "n": i, "sleep_ms": 60_000 } })
        } else {
            json!({ "input": { "n": i } })
        };
        let (status, body) = call(&http, "POST", format!("{}/run", first.base), Some(input)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    wait_until("two jobs to start", Duration::from_secs(10), || {
        log.started().len() == 2
    })
    .await;
    first.stop().await;
    assert!(log.completed().is_empty());

    // The second worker runs everything quickly.
    let quick = handler(|_state: Arc<()>, call: Call| async move {
        Reply::json(json!({ "id": call.request_id }))
    });
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    let job = handler(move |_state: Arc<()>, call: Call| {
        seen.lock().unwrap().push(call.request_id.clone());
        quick(_state, call)
    });
    let second = serve(QueueWorker::new(job), &path, Duration::from_secs(5)).await;
    for id in &ids {
        let (status, body) = call(&http, "GET", format!("{}/status/{id}", second.base), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    wait_until("all six to run", Duration::from_secs(10), || {
        order.lock().unwrap().len() == 6
    })
    .await;
    assert_eq!(
        *order.lock().unwrap(),
        ids,
        "interrupted jobs first, then FIFO"
    );
    second.stop().await;
}

/// A second worker started while the first holds the store waits for it (its calls wait too,
/// they do not fail) and takes over once the first has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_worker_waits_for_the_store_and_takes_over() {
    let path = store_path("handoff");
    let log = Arc::new(Log::default());
    let http = reqwest::Client::new();
    let first = serve(worker(log.clone(), 1, 5), &path, Duration::from_secs(5)).await;
    let (status, body) = call(
        &http,
        "POST",
        format!("{}/runsync", first.base),
        Some(json!({ "input": { "n": 0 } })),
    )
    .await;
    assert_eq!(body["status"], "COMPLETED", "{status} {body}");
    let old = body["id"].as_str().unwrap().to_string();

    let second = serve(worker(log.clone(), 1, 5), &path, Duration::from_secs(5)).await;
    // Not ready while the first worker holds the file.
    let ping = http
        .get(format!("{}/ping", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::NO_CONTENT);
    let waiting = {
        let http = http.clone();
        let url = format!("{}/runsync", second.base);
        tokio::spawn(
            async move { call(&http, "POST", url, Some(json!({ "input": { "n": 1 } }))).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !waiting.is_finished(),
        "a call answered before the store was loaded"
    );
    first.stop().await;
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the waiting call never finished")
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "COMPLETED", "{body}");
    // The first worker's result came along.
    let (status, body) = call(&http, "GET", format!("{}/status/{old}", second.base), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["output"]["id"], old.as_str());
    let ping = http
        .get(format!("{}/ping", second.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::OK);
    second.stop().await;
}

/// A file that is not a store: health fails with the reason and calls answer 503 JSON saying
/// which file and why; nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_store_is_a_clear_error() {
    let path = store_path("damaged");
    let mut junk = b"this is not a redb file\n".to_vec();
    junk.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    std::fs::write(&path, junk).unwrap();
    let log = Arc::new(Log::default());
    let http = reqwest::Client::new();
    let running = serve(worker(log, 1, 5), &path, Duration::from_secs(5)).await;
    let (status, body) = call(
        &http,
        "POST",
        format!("{}/run", running.base),
        Some(json!({ "input": { "n": 0 } })),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("cannot open the queue store"), "{error}");
    assert!(error.contains(&path.display().to_string()), "{error}");
    let ping = http
        .get(format!("{}/ping", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::SERVICE_UNAVAILABLE);
    running.stop().await;
}

/// The example worker binary (built by `cargo test`, which builds examples, with this test's
/// features), next to this test's binary.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join("examples").join("queue_worker");
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

fn spawn_worker(port: u16, dir: &std::path::Path) -> std::process::Child {
    std::process::Command::new(example_binary())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("FLASH_HOST", "127.0.0.1")
        .env("FLASH_QUEUE_DIR", dir)
        .env("FLASH_SHUTDOWN_GRACE_MS", "3000")
        .env("FLASH_LOG_LEVEL", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `FLASH_QUEUE_DIR` on a real worker process: SIGTERM mid-queue exits 0 and keeps the queued
/// jobs in `<dir>/queue.redb`; the next process runs them under their ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_resumes_its_queue_after_sigterm() {
    let dir = store_path("process").parent().unwrap().to_path_buf();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut first = spawn_worker(port, &dir);
    let mut up = false;
    for _ in 0..500 {
        if let Ok(r) = http.get(format!("{base}/ping")).send().await {
            if r.status() == StatusCode::OK {
                up = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(up, "the worker never became ready");
    let mut ids = Vec::new();
    for i in 0..40 {
        let input = json!({ "input": { "name": format!("n{i}"), "sleep_ms": 200 } });
        let (status, body) = call(&http, "POST", format!("{base}/run"), Some(input)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (status, logs) = wait_exit(&mut first, Duration::from_secs(20)).await;
    assert!(status.success(), "{status}: {logs}");
    assert!(logs.contains("queued jobs stay in"), "{logs}");
    assert!(dir.join("queue.redb").exists());

    let mut second = spawn_worker(port, &dir);
    let start = std::time::Instant::now();
    for id in &ids {
        loop {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "job {id} never finished"
            );
            if let Ok(r) = http.get(format!("{base}/status/{id}")).send().await {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                if body["status"] == "COMPLETED" {
                    assert!(body["output"]["greeting"].is_string(), "{body}");
                    break;
                }
                assert!(
                    body["status"] == "IN_QUEUE" || body["status"] == "IN_PROGRESS",
                    "{body}"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (status, logs) = wait_exit(&mut second, Duration::from_secs(20)).await;
    assert!(status.success(), "{status}: {logs}");
}

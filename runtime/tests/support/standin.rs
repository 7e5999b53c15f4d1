//! A small stand-in for Runpod's job endpoints, following the captured wire protocol: it hands
//! out queued jobs on `job-take` / `job-take-batch` (long-polling like the platform), names jobs
//! to stop on `job-stop`, accepts results, stream chunks and heartbeats, and RECORDS every call
//! so tests can assert exactly what a worker sent. Also used by the platform benchmark.
#![allow(dead_code)]

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde_json::{json, Value};
use tokio::{sync::Notify, time::Instant};

/// One call the worker made.
#[derive(Debug, Clone)]
pub struct Record {
    /// `take`, `take-batch`, `stop`, `done`, `stream` or `ping`.
    pub kind: &'static str,
    pub worker: String,
    pub job: Option<String>,
    pub query: HashMap<String, String>,
    pub auth: Option<String>,
    pub body: Option<Value>,
    /// The exact bytes of a posted body (result, progress and stream posts).
    pub raw: Option<Bytes>,
    /// Every header as sent.
    pub headers: HeaderMap,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Value>,
    records: Vec<Record>,
    stops: Vec<String>,
    takes_429: usize,
    /// Job id → how many more result posts answer 500.
    fail_results: HashMap<String, usize>,
    /// Final results (`done` posts that are not progress updates) counted cheaply for the bench.
    finals: usize,
}

pub struct StandIn {
    pub addr: SocketAddr,
    inner: Arc<Shared>,
}

struct Shared {
    inner: Mutex<Inner>,
    jobs: Notify,
    stops: Notify,
    changed: Notify,
    hold: Duration,
    record_takes: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn record(&self, r: Record) {
        self.lock().records.push(r);
        self.changed.notify_waiters();
    }
}

impl StandIn {
    /// Starts on an ephemeral loopback port; takes and stop polls are held up to `hold`.
    pub async fn start(hold: Duration) -> StandIn {
        Self::start_with(hold, true).await
    }

    /// `record_takes: false` keeps the bench from growing an unbounded record list.
    pub async fn start_with(hold: Duration, record_takes: bool) -> StandIn {
        Self::start_with_port(hold, record_takes, 0).await
    }

    /// As [`StandIn::start_with`] on a given loopback port (0: any).
    pub async fn start_with_port(hold: Duration, record_takes: bool, port: u16) -> StandIn {
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner::default()),
            jobs: Notify::new(),
            stops: Notify::new(),
            changed: Notify::new(),
            hold,
            record_takes,
        });
        let app = Router::new()
            .route("/v2/ep/job-take/{worker}", get(take))
            .route("/v2/ep/job-take-batch/{worker}", get(take_batch))
            .route("/v2/ep/job-stop/{worker}", get(stop))
            .route("/v2/ep/job-done/{worker}/{job}", post(done))
            .route("/v2/ep/job-stream/{worker}/{job}", post(stream))
            .route("/v2/ep/ping/{worker}", get(ping))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn {
            addr,
            inner: shared,
        }
    }

    /// The platform settings of worker `w1`, read from [`StandIn::env`] by the runtime's own
    /// configuration, as a worker on Runpod reads them.
    pub fn platform(&self, ping_ms: u64) -> flash_runtime::config::Platform {
        let env = self.env("w1", ping_ms);
        flash_runtime::config::Config::from_lookup(|k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .expect("the stand-in's variables are a valid configuration")
        .platform
        .expect("the stand-in's variables select the platform loop")
    }

    /// The platform variables a worker with id `worker` gets.
    pub fn env(&self, worker: &str, ping_ms: u64) -> Vec<(String, String)> {
        let base = format!("http://{}/v2/ep", self.addr);
        vec![
            (
                "RUNPOD_WEBHOOK_GET_JOB".into(),
                format!("{base}/job-take/$ID?gpu=TEST"),
            ),
            (
                "RUNPOD_WEBHOOK_POST_OUTPUT".into(),
                format!("{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=TEST"),
            ),
            (
                "RUNPOD_WEBHOOK_POST_STREAM".into(),
                format!("{base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=TEST"),
            ),
            (
                "RUNPOD_WEBHOOK_PING".into(),
                format!("{base}/ping/$RUNPOD_POD_ID?gpu=TEST"),
            ),
            ("RUNPOD_PING_INTERVAL".into(), ping_ms.to_string()),
            ("RUNPOD_POD_ID".into(), worker.into()),
            ("RUNPOD_AI_API_KEY".into(), "test-key".into()),
        ]
    }

    pub fn push_job(&self, job: Value) {
        self.inner.lock().queue.push_back(job);
        self.inner.jobs.notify_waiters();
    }

    pub fn queued(&self) -> usize {
        self.inner.lock().queue.len()
    }

    pub fn answer_429(&self, takes: usize) {
        self.inner.lock().takes_429 = takes;
    }

    pub fn fail_results(&self, job: &str, times: usize) {
        self.inner.lock().fail_results.insert(job.into(), times);
    }

    pub fn stop(&self, jobs: &[&str]) {
        self.inner
            .lock()
            .stops
            .extend(jobs.iter().map(|s| s.to_string()));
        self.inner.stops.notify_waiters();
    }

    pub fn records(&self) -> Vec<Record> {
        self.inner.lock().records.clone()
    }

    pub fn of(&self, kind: &str) -> Vec<Record> {
        self.records()
            .into_iter()
            .filter(|r| r.kind == kind)
            .collect()
    }

    pub fn finals(&self) -> usize {
        self.inner.lock().finals
    }

    /// Final results (not progress updates) posted so far, in order.
    pub fn results(&self) -> Vec<Record> {
        self.of("done")
            .into_iter()
            .filter(|r| !is_progress(r.body.as_ref()))
            .collect()
    }

    /// Waits until `cond` holds over the records, or panics after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, cond: impl Fn(&[Record]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if cond(&self.inner.lock().records) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "timed out waiting for {what}; records: {:#?}",
                    self.records()
                );
            }
        }
    }

    /// Waits for `n` final results.
    pub async fn wait_results(&self, n: usize, limit: Duration) -> Vec<Record> {
        self.wait_for(limit, &format!("{n} results"), |rs| {
            rs.iter()
                .filter(|r| r.kind == "done" && !is_progress(r.body.as_ref()))
                .count()
                >= n
        })
        .await;
        self.results()
    }
}

fn is_progress(body: Option<&Value>) -> bool {
    body.and_then(|b| b.get("status")).and_then(Value::as_str) == Some("IN_PROGRESS")
}

fn auth(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn record(
    kind: &'static str,
    worker: String,
    job: Option<String>,
    query: HashMap<String, String>,
    headers: &HeaderMap,
    body: Option<Value>,
) -> Record {
    Record {
        kind,
        worker,
        job,
        query,
        auth: auth(headers),
        body,
        raw: None,
        headers: headers.clone(),
        at: Instant::now(),
    }
}

async fn take(
    State(s): State<Arc<Shared>>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    serve_take(s, "take", worker, q, headers, 1).await
}

async fn take_batch(
    State(s): State<Arc<Shared>>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let n = q
        .get("batch_size")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    serve_take(s, "take-batch", worker, q, headers, n).await
}

async fn serve_take(
    s: Arc<Shared>,
    kind: &'static str,
    worker: String,
    q: HashMap<String, String>,
    headers: HeaderMap,
    n: usize,
) -> Response {
    if s.record_takes {
        s.record(record(kind, worker, None, q, &headers, None));
    }
    {
        let mut inner = s.lock();
        if inner.takes_429 > 0 {
            inner.takes_429 -= 1;
            return StatusCode::TOO_MANY_REQUESTS.into_response();
        }
    }
    long_poll(&s, &s.jobs, |inner| {
        if inner.queue.is_empty() {
            return None;
        }
        let k = n.min(inner.queue.len());
        let jobs: Vec<Value> = inner.queue.drain(..k).collect();
        Some(if kind == "take" {
            Json(jobs.into_iter().next().unwrap_or(Value::Null)).into_response()
        } else {
            Json(Value::Array(jobs)).into_response()
        })
    })
    .await
}

/// Holds a request like the platform's long polls: answers as soon as `ready` yields a response
/// (re-checked whenever `wake` is notified), or 204 after the stand-in's hold time.
async fn long_poll(
    s: &Shared,
    wake: &Notify,
    mut ready: impl FnMut(&mut Inner) -> Option<Response>,
) -> Response {
    let deadline = Instant::now() + s.hold;
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        // Registered before checking, so a notification between check and wait is not lost.
        notified.as_mut().enable();
        if let Some(response) = ready(&mut s.lock()) {
            return response;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

async fn stop(
    State(s): State<Arc<Shared>>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.record(record("stop", worker, None, q, &headers, None));
    long_poll(&s, &s.stops, |inner| {
        if inner.stops.is_empty() {
            return None;
        }
        let ids: Vec<String> = inner.stops.drain(..).collect();
        Some(Json(json!({ "jobsToStop": ids })).into_response())
    })
    .await
}

async fn done(
    State(s): State<Arc<Shared>>,
    Path((worker, job)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = body;
    let body: Option<Value> = serde_json::from_slice(&raw).ok();
    let progress = is_progress(body.as_ref());
    let fail = {
        let mut inner = s.lock();
        match inner.fail_results.get_mut(&job) {
            Some(n) if *n > 0 && !progress => {
                *n -= 1;
                true
            }
            _ => false,
        }
    };
    let mut r = record("done", worker, Some(job), q, &headers, body);
    r.raw = Some(raw);
    if fail {
        // Recorded under another kind so `results()` lists only accepted posts.
        r.kind = "done-500";
        s.record(r);
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if !progress {
        s.lock().finals += 1;
    }
    if s.record_takes {
        s.record(r);
    }
    StatusCode::OK.into_response()
}

async fn stream(
    State(s): State<Arc<Shared>>,
    Path((worker, job)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = serde_json::from_slice(&body).ok();
    let mut r = record("stream", worker, Some(job), q, &headers, parsed);
    r.raw = Some(body);
    s.record(r);
    StatusCode::OK.into_response()
}

async fn ping(
    State(s): State<Arc<Shared>>,
    Path(worker): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    s.record(record("ping", worker, None, q, &headers, None));
    StatusCode::OK.into_response()
}

/// The platform loop's timing for tests: short back-offs and polls; `result_retry_delays` is
/// what a test about result retries tunes.
pub fn timing(
    result_retry_delays: Vec<std::time::Duration>,
) -> flash_runtime::queue::settings::PlatformTiming {
    use std::time::Duration;
    flash_runtime::queue::settings::PlatformTiming {
        backoff_429: Duration::from_millis(400),
        error_backoff: Duration::from_millis(50),
        result_retry_delays,
        empty_take_interval: Duration::from_millis(20),
        stop_poll_interval: Duration::from_millis(20),
        drain_take_grace: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(5),
    }
}

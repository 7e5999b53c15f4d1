//! The local queue API over real sockets: the platform's routes, states, shapes and limits.

mod support;

use std::{sync::Arc, time::Duration};

use flash_runtime::{
    handler::Handler,
    queue::{local, settings::LocalTiming, QueueWorker},
    shutdown::Shutdown,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{test_handler, Tracker};
use tokio::task::JoinHandle;

struct Local {
    base: String,
    http: reqwest::Client,
    tracker: Arc<Tracker>,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), String>>,
}

fn timing() -> LocalTiming {
    LocalTiming {
        run_ttl: Duration::from_secs(60),
        runsync_ttl: Duration::from_secs(60),
        runsync_wait: Duration::from_secs(10),
        webhook_retry: Duration::from_millis(50),
        ..LocalTiming::default()
    }
}

async fn start_with(worker: QueueWorker<()>, tracker: Arc<Tracker>, t: LocalTiming) -> Local {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let task =
        tokio::spawn(
            async move { local::run(worker, t, listener, s, Duration::from_secs(5)).await },
        );
    Local {
        base,
        http: reqwest::Client::new(),
        tracker,
        shutdown,
        task,
    }
}

async fn start(max: usize, retries: u32) -> Local {
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone()))
        .max_concurrency(max)
        .retries(retries);
    start_with(worker, tracker, timing()).await
}

impl Local {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Polls `/status/{id}` until the job is final.
    async fn wait_final(&self, id: &str) -> Value {
        for _ in 0..500 {
            let (s, body) = self.get(&format!("/status/{id}")).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            let st = body["status"].as_str().unwrap().to_string();
            if !matches!(st.as_str(), "IN_QUEUE" | "IN_PROGRESS") {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("job {id} never finished");
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn runsync_returns_the_platform_shape() {
    let l = start(2, 0).await;
    let (s, body) = l
        .post("/runsync", json!({"input": {"name": "Ada", "count": 2}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        keys(&body),
        ["delayTime", "executionTime", "id", "output", "status"]
    );
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["output"], json!({"greeting": "hello Ada", "count": 2}));
    assert!(body["id"].as_str().unwrap().starts_with("sync-"));
    assert!(body["delayTime"].is_u64() && body["executionTime"].is_u64());
    // The result stays readable through /status.
    let (s, again) = l
        .get(&format!("/status/{}", body["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, body);
    l.stop().await;
}

#[tokio::test]
async fn run_then_status() {
    let l = start(1, 0).await;
    let (s, body) = l
        .post("/run", json!({"input": {"name": "Ada", "sleep_ms": 150}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(keys(&body), ["id", "status"]);
    assert_eq!(body["status"], "IN_QUEUE");
    let id = body["id"].as_str().unwrap().to_string();
    let (_, st) = l.get(&format!("/status/{id}")).await;
    assert!(matches!(
        st["status"].as_str(),
        Some("IN_QUEUE" | "IN_PROGRESS")
    ));
    let done = l.wait_final(&id).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["output"], json!({"greeting": "hello Ada", "count": 1}));
    assert!(done["executionTime"].as_u64().unwrap() >= 150);
    let (s, missing) = l.get("/status/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(missing["error"].as_str().unwrap().contains("no job nope"));
    l.stop().await;
}

#[tokio::test]
async fn runsync_wait_returns_a_not_final_state() {
    let l = start(1, 0).await;
    let (s, body) = l
        .post(
            "/runsync?wait=100",
            json!({"input": {"name": "n", "sleep_ms": 500}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "IN_PROGRESS");
    assert!(body.get("output").is_none());
    let done = l.wait_final(body["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "COMPLETED");
    let (s, bad) = l
        .post("/runsync?wait=soon", json!({"input": {"name": "n"}}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().contains("?wait="));
    l.stop().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_400() {
    let l = start(1, 0).await;
    for (body, says) in [
        (json!({}), "missing \"input\""),
        (json!({"input": {}}), "\"input\" is empty"),
        (json!({"input": 3}), "got a number"),
        (json!({"input": null}), "missing \"input\""),
        (json!([1, 2]), "must be a JSON object"),
        (json!({"input": {"a": 1}, "webhook": 5}), "\"webhook\""),
        (
            json!({"input": {"a": 1}, "policy": {"executionTimeout": "x"}}),
            "executionTimeout",
        ),
    ] {
        for route in ["/run", "/runsync"] {
            let (s, err) = l.post(route, body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{route} {body}");
            assert_eq!(keys(&err), ["error"]);
            assert!(
                err["error"].as_str().unwrap().contains(says),
                "{err} lacks {says}"
            );
        }
    }
    let (s, err) = l.post_raw("/run", b"{not json".to_vec()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err["error"].as_str().unwrap().contains("not valid JSON"));
    // Nothing was queued by any of them.
    let (_, h) = l.get("/health").await;
    assert_eq!(h["jobs"]["inQueue"], 0);
    assert_eq!(h["jobs"]["completed"], 0);
    l.stop().await;
}

#[tokio::test]
async fn body_limits_are_413_json() {
    let l = start(1, 0).await;
    let big = |mb: usize| {
        let s = "x".repeat(mb * 1024 * 1024);
        serde_json::to_vec(&json!({"input": {"name": s}})).unwrap()
    };
    let (s, err) = l.post_raw("/run", big(11)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("10 MB limit of /run"));
    let (s, err) = l.post_raw("/runsync", big(21)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(err["error"]
        .as_str()
        .unwrap()
        .contains("20 MB limit of /runsync"));
    // 11 MB is within /runsync's limit.
    let (s, ok) = l.post_raw("/runsync", big(11)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ok["status"], "COMPLETED");
    // A chunked body without Content-Length is limited too.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(l.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = "POST /run HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let body = big(11);
    for c in body.chunks(1 << 20) {
        let frame = [format!("{:x}\r\n", c.len()).as_bytes(), c, b"\r\n"].concat();
        if tcp.write_all(&frame).await.is_err() {
            break; // the server may answer and close before reading everything
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut reply = vec![0u8; 512];
    let n = tcp.read(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]).to_string();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    l.stop().await;
}

#[tokio::test]
async fn stream_returns_chunks_since_last_call() {
    let l = start(1, 0).await;
    let (_, body) = l
        .post(
            "/run",
            json!({"input": {"name": "Ada", "mode": "stream", "count": 3}}),
        )
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    let done = l.wait_final(&id).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["output"].as_array().unwrap().len(), 3);
    for method in ["GET", "POST"] {
        let req = l
            .http
            .request(method.parse().unwrap(), format!("{}/stream/{id}", l.base));
        let body: Value = req.send().await.unwrap().json().await.unwrap();
        if method == "GET" {
            assert_eq!(body["status"], "COMPLETED");
            assert_eq!(
                body["stream"],
                json!([
                    {"output": {"token": "hello Ada", "index": 0}},
                    {"output": {"token": "hello Ada", "index": 1}},
                    {"output": {"token": "hello Ada", "index": 2}}
                ])
            );
        } else {
            // Chunks already fetched are not sent again.
            assert_eq!(body["stream"], json!([]));
        }
    }
    l.stop().await;
}

#[tokio::test]
async fn cancel_queued_and_running_jobs() {
    let l = start(1, 0).await;
    let (_, running) = l
        .post("/run", json!({"input": {"name": "a", "sleep_ms": 5000}}))
        .await;
    let (_, queued) = l.post("/run", json!({"input": {"name": "b"}})).await;
    l.tracker.wait_calls(1).await;
    let q = queued["id"].as_str().unwrap();
    let r = running["id"].as_str().unwrap();
    let (s, body) = l.post(&format!("/cancel/{q}"), json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, json!({"id": q, "status": "CANCELLED"}));
    let (_, body) = l.post(&format!("/cancel/{r}"), json!(null)).await;
    assert_eq!(body, json!({"id": r, "status": "CANCELLED"}));
    // The running handler was dropped, and the queued one never ran.
    for _ in 0..100 {
        if l.tracker.get(&l.tracker.dropped) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(l.tracker.get(&l.tracker.dropped), 1);
    let (_, st) = l.get(&format!("/status/{q}")).await;
    assert_eq!(st["status"], "CANCELLED");
    // The worker is free again.
    let (_, next) = l.post("/runsync", json!({"input": {"name": "c"}})).await;
    assert_eq!(next["status"], "COMPLETED");
    assert_eq!(l.tracker.get(&l.tracker.calls), 2);
    let (s, _) = l.post("/cancel/unknown", json!(null)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    l.stop().await;
}

#[tokio::test]
async fn retries_then_failed_and_retry_route() {
    let l = start(1, 2).await;
    // The caller's mistakes fail at once: running them again would fail the same way.
    let (_, refused) = l
        .post("/runsync", json!({"input": {"name": "n", "mode": "fail"}}))
        .await;
    assert_eq!(refused["status"], "FAILED");
    let err: Value = serde_json::from_str(refused["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "ClientError");
    assert_eq!(err["error_message"], "cannot greet n");
    assert_eq!(l.tracker.get(&l.tracker.calls), 1);
    let (_, unbound) = l.post("/runsync", json!({"input": {"nom": "n"}})).await;
    assert_eq!(unbound["status"], "FAILED");
    assert_eq!(
        l.tracker.get(&l.tracker.calls),
        2,
        "one attempt, not retried"
    );
    let (_, h) = l.get("/health").await;
    assert_eq!(h["jobs"]["retried"], 0);
    // A failure of the handler itself is retried.
    let (s, body) = l
        .post(
            "/runsync",
            json!({"input": {"name": "n", "mode": "internal"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "FAILED");
    assert_eq!(
        keys(&body),
        ["delayTime", "error", "executionTime", "id", "status"]
    );
    // 1 run + 2 retries.
    assert_eq!(l.tracker.get(&l.tracker.calls), 5);
    let (_, h) = l.get("/health").await;
    assert_eq!(h["jobs"]["failed"], 3);
    assert_eq!(h["jobs"]["retried"], 2);
    // /retry queues it again with its retries restored.
    let id = body["id"].as_str().unwrap();
    let (s, r) = l.post(&format!("/retry/{id}"), json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r, json!({"id": id, "status": "IN_QUEUE"}));
    let again = l.wait_final(id).await;
    assert_eq!(again["status"], "FAILED");
    assert_eq!(l.tracker.get(&l.tracker.calls), 8);
    // Only FAILED and TIMED_OUT jobs can be retried.
    let (_, ok) = l.post("/runsync", json!({"input": {"name": "n"}})).await;
    let (s, e) = l
        .post(
            &format!("/retry/{}", ok["id"].as_str().unwrap()),
            json!(null),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap().contains("is COMPLETED"));
    l.stop().await;
}

#[tokio::test]
async fn execution_timeout_policy_times_out() {
    let l = start(1, 3).await;
    let (_, body) = l
        .post(
            "/runsync",
            json!({"input": {"name": "n", "sleep_ms": 2000}, "policy": {"executionTimeout": 100}}),
        )
        .await;
    assert_eq!(body["status"], "TIMED_OUT");
    let err: Value = serde_json::from_str(body["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "TimeoutError");
    // A timeout is not retried automatically...
    assert_eq!(l.tracker.get(&l.tracker.calls), 1);
    // ...but /retry accepts a TIMED_OUT job.
    let id = body["id"].as_str().unwrap();
    let (s, _) = l.post(&format!("/retry/{id}"), json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(l.wait_final(id).await["status"], "TIMED_OUT");
    l.stop().await;
}

#[tokio::test]
async fn policy_ttl_expires_queued_jobs_and_caps_running_ones() {
    let l = start(1, 2).await;
    let (_, busy) = l
        .post("/run", json!({"input": {"name": "a", "sleep_ms": 400}}))
        .await;
    let (s, waiting) = l
        .post(
            "/run",
            json!({"input": {"name": "b"}, "policy": {"ttl": 100}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let expired = l.wait_final(waiting["id"].as_str().unwrap()).await;
    assert_eq!(expired["status"], "TIMED_OUT");
    let err: Value = serde_json::from_str(expired["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "TTLExpired");
    assert!(err["error_message"]
        .as_str()
        .unwrap()
        .contains("ttl of 100 ms"));
    assert_eq!(
        l.wait_final(busy["id"].as_str().unwrap()).await["status"],
        "COMPLETED"
    );
    // The expired job never ran, and expiry is not retried.
    assert_eq!(l.tracker.get(&l.tracker.calls), 1);
    // A running job is stopped when its ttl runs out.
    let (_, capped) = l
        .post(
            "/runsync",
            json!({"input": {"name": "c", "sleep_ms": 3000}, "policy": {"ttl": 200}}),
        )
        .await;
    assert_eq!(capped["status"], "TIMED_OUT");
    let (s, bad) = l
        .post(
            "/run",
            json!({"input": {"name": "d"}, "policy": {"ttl": 0}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(bad["error"].as_str().unwrap().contains("policy.ttl"));
    l.stop().await;
}

#[tokio::test]
async fn health_counts_and_purge() {
    let l = start(2, 0).await;
    let (_, h) = l.get("/health").await;
    assert_eq!(
        h,
        json!({"jobs": {"completed": 0, "failed": 0, "inProgress": 0, "inQueue": 0, "retried": 0},
               "workers": {"idle": 2, "running": 0}})
    );
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (_, b) = l
            .post("/run", json!({"input": {"name": "n", "sleep_ms": 400}}))
            .await;
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    l.tracker.wait_calls(2).await;
    let (_, h) = l.get("/health").await;
    assert_eq!(h["jobs"]["inProgress"], 2);
    assert_eq!(h["jobs"]["inQueue"], 3);
    assert_eq!(h["workers"], json!({"idle": 0, "running": 2}));
    let (s, p) = l.post("/purge-queue", json!(null)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p, json!({"removed": 3, "status": "completed"}));
    for id in &ids[..2] {
        assert_eq!(l.wait_final(id).await["status"], "COMPLETED");
    }
    for id in &ids[2..] {
        assert_eq!(l.wait_final(id).await["status"], "CANCELLED");
    }
    let (_, h) = l.get("/health").await;
    assert_eq!(
        h,
        json!({"jobs": {"completed": 2, "failed": 0, "inProgress": 0, "inQueue": 0, "retried": 0},
               "workers": {"idle": 2, "running": 0}})
    );
    assert_eq!(l.tracker.get(&l.tracker.calls), 2);
    l.stop().await;
}

#[tokio::test]
async fn concurrency_is_max_concurrency() {
    let l = start(3, 0).await;
    let started = std::time::Instant::now();
    let calls: Vec<_> = (0..6)
        .map(|_| l.post("/runsync", json!({"input": {"name": "n", "sleep_ms": 200}})))
        .collect();
    for (_, b) in futures_util::future::join_all(calls).await {
        assert_eq!(b["status"], "COMPLETED");
    }
    assert_eq!(l.tracker.get(&l.tracker.max), 3);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(1200),
        "{took:?}"
    );
    l.stop().await;
}

/// A webhook endpoint on a free port: its URL, and every body POSTed to it (with its
/// `Idempotency-Key` header as a `_key` member, for the tests that read it).
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(mut v): axum::Json<Value>| {
                let tx = tx.clone();
                async move {
                    if let Some(key) = headers.get("idempotency-key") {
                        v["_key"] = json!(key.to_str().unwrap_or_default());
                    }
                    let _ = tx.send(v);
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    (url, rx)
}

#[tokio::test]
async fn webhook_gets_the_result() {
    let (url, mut rx) = webhook_receiver().await;
    let l = start(1, 0).await;
    let (_, b) = l
        .post("/run", json!({"input": {"name": "Ada"}, "webhook": url}))
        .await;
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["id"], b["id"]);
    assert_eq!(got["status"], "COMPLETED");
    assert_eq!(got["output"], json!({"greeting": "hello Ada", "count": 1}));
    // The same on every delivery of this final status: the job and the attempt that ended it.
    assert_eq!(
        got["_key"],
        json!(format!("{}.0", b["id"].as_str().unwrap()))
    );
    l.stop().await;
}

#[tokio::test]
async fn results_expire_after_retention() {
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone()));
    let t = LocalTiming {
        run_ttl: Duration::from_millis(1500),
        runsync_ttl: Duration::from_millis(100),
        ..timing()
    };
    let l = start_with(worker, tracker, t).await;
    let (_, sync) = l.post("/runsync", json!({"input": {"name": "n"}})).await;
    let (_, run) = l.post("/run", json!({"input": {"name": "n"}})).await;
    let run_id = run["id"].as_str().unwrap();
    l.wait_final(run_id).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (s, _) = l
        .get(&format!("/status/{}", sync["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = l.get(&format!("/status/{run_id}")).await;
    assert_eq!(s, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (s, _) = l.get(&format!("/status/{run_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    l.stop().await;
}

#[tokio::test]
async fn ping_follows_init_and_failed_init_refuses_jobs() {
    let tracker = Arc::new(Tracker::default());
    let handler: Handler<()> = test_handler(tracker.clone());
    let worker = QueueWorker::with_init(
        handler.clone(),
        Box::new(|| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(())
            })
        }),
    );
    let l = start_with(worker, tracker.clone(), timing()).await;
    let r = l.http.get(format!("{}/ping", l.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // A job sent during init waits for it instead of failing.
    let (_, b) = l
        .post("/runsync", json!({"input": {"name": "early"}}))
        .await;
    assert_eq!(b["status"], "COMPLETED");
    let (s, p) = l.get("/ping").await;
    assert_eq!((s, p), (StatusCode::OK, json!({"status": "healthy"})));
    l.stop().await;

    let worker = QueueWorker::with_init(
        handler,
        Box::new(|| Box::pin(async { Err("no model file".to_string()) })),
    );
    let l = start_with(worker, tracker, timing()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (s, _) = l.get("/ping").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, e) = l.post("/run", json!({"input": {"name": "n"}})).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert!(e["error"].as_str().unwrap().contains("no model file"));
    l.stop().await;
}

#[tokio::test]
async fn panics_fail_the_job_not_the_worker() {
    let l = start(1, 0).await;
    let (_, b) = l
        .post("/runsync", json!({"input": {"name": "n", "mode": "panic"}}))
        .await;
    assert_eq!(b["status"], "FAILED");
    let err: Value = serde_json::from_str(b["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "HandlerPanic");
    let (_, b) = l.post("/runsync", json!({"input": {"name": "n"}})).await;
    assert_eq!(b["status"], "COMPLETED");
    l.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let l = start(1, 0).await;
    let (s, b) = l.get("/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b["error"].is_string());
    let (s, b) = l.get("/run").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(b["error"].is_string());
    l.stop().await;
}

/// Runpod's clients build `{base}/{endpoint_id}/{op}`: the whole API answers under
/// `/{endpoint_id}/…` and `/v2/{endpoint_id}/…` for any id, and at the root.
/// (`tests/python/runpod_client.py` drives the same with the official `runpod` client.)
#[tokio::test]
async fn the_api_answers_under_endpoint_prefixes() {
    let l = start(1, 0).await;
    for prefix in ["", "/ep-1", "/v2/ep-1", "/v2/v2", "/v2"] {
        let (s, body) = l
            .post(
                &format!("{prefix}/runsync"),
                json!({"input": {"name": "Ada"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{prefix}: {body}");
        assert_eq!(body["status"], "COMPLETED", "{prefix}");
        let id = body["id"].as_str().unwrap();
        let (s, st) = l.get(&format!("{prefix}/status/{id}")).await;
        assert_eq!((s, &st["status"]), (StatusCode::OK, &json!("COMPLETED")));
        let (s, run) = l
            .post(
                &format!("{prefix}/run?x=1"),
                json!({"input": {"name": "B"}}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let id = run["id"].as_str().unwrap().to_string();
        l.wait_final(&id).await;
        let (s, st) = l.get(&format!("{prefix}/stream/{id}")).await;
        assert_eq!((s, &st["status"]), (StatusCode::OK, &json!("COMPLETED")));
        let (s, c) = l.post(&format!("{prefix}/cancel/{id}"), json!(null)).await;
        assert_eq!((s, &c["id"]), (StatusCode::OK, &json!(id)));
        let (s, h) = l.get(&format!("{prefix}/health")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h["jobs"].is_object() && h["workers"].is_object());
        let (s, p) = l.post(&format!("{prefix}/purge-queue"), json!(null)).await;
        assert_eq!((s, &p["status"]), (StatusCode::OK, &json!("completed")));
    }
    // Not an API path: JSON 404 as before.
    for path in ["/ep-1/nothing", "/v2/ep-1/nothing", "/a/b/c/run"] {
        let (s, body) = l.get(path).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
        assert!(body["error"].is_string());
    }
    l.stop().await;
}

/// `RUNPOD_API_KEY` set: `Authorization: Bearer <key>` (or the raw key) is required on every
/// call but the health check, which is served at `HEALTH_CHECK_PATH`.
#[tokio::test]
async fn api_key_and_health_path() {
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let options = local::LocalOptions {
        health_path: "/healthz".into(),
        api_key: Some("k-123".into()),
        ..Default::default()
    };
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        local::run_with(
            worker,
            timing(),
            listener,
            s,
            Duration::from_secs(5),
            options,
        )
        .await
    });
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..200 {
        let r = http.get(format!("{base}/healthz")).send().await.unwrap();
        if r.status() == StatusCode::OK {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(healthy, "/healthz never answered 200 without a key");
    let r = http.get(format!("{base}/ping")).send().await.unwrap();
    // `/ping` is no health check here: an API path like any other, so the key comes first.
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    for path in ["/health", "/v2/e/health", "/e/health"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("Bearer"));
        let r = http
            .post(format!("{base}{path}/../runsync"))
            .bearer_auth("nope")
            .json(&json!({"input": {"name": "x"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        for auth in ["Bearer k-123", "k-123"] {
            let r = http
                .get(format!("{base}{path}"))
                .header("authorization", auth)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path} with {auth}");
        }
    }
    assert_eq!(tracker.get(&tracker.calls), 0, "no unauthorized job ran");
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

/// Through `queue::serve` (what `queue::run` does): `PORT_HEALTH` gets its own health listener
/// in local mode too.
#[tokio::test]
async fn port_health_is_served_in_local_mode() {
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (port, health) = (free(), free());
    let vars = [
        ("PORT", port.to_string()),
        ("PORT_HEALTH", health.to_string()),
        ("HEALTH_CHECK_PATH", "/ready".to_string()),
        ("FLASH_HOST", "127.0.0.1".to_string()),
    ];
    let cfg = flash_runtime::config::Config::from_lookup(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .unwrap();
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker));
    let shutdown = Shutdown::new();
    let task = tokio::spawn(flash_runtime::queue::serve(worker, cfg, shutdown.clone()));
    let http = reqwest::Client::new();
    let mut seen = (false, false);
    for _ in 0..300 {
        let ok = |p: u16| {
            let http = http.clone();
            async move {
                http.get(format!("http://127.0.0.1:{p}/ready"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK)
            }
        };
        seen = (ok(health).await, ok(port).await);
        if seen == (true, true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen, (true, true), "/ready on PORT_HEALTH and on PORT");
    let r = http
        .post(format!("http://127.0.0.1:{port}/runsync"))
        .json(&json!({"input": {"name": "Ada"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// SIGTERM (the shutdown trigger) with a full queue: the workers drain it within the grace
/// period, and every job they cannot finish ends FAILED (`WorkerShutdown`) with its webhook
/// called — no accepted job vanishes.
#[tokio::test]
async fn shutdown_drains_then_fails_and_reports_every_unfinished_job() {
    let (url, mut rx) = webhook_receiver().await;

    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone())).max_concurrency(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        local::run(worker, timing(), listener, s, Duration::from_millis(700)).await
    });
    let http = reqwest::Client::new();
    // 2 workers, 100 ms jobs: ~14 finish within the 700 ms grace; 40 cannot.
    let n = 40;
    for i in 0..n {
        let r = http
            .post(format!("{base}/run"))
            .json(&json!({"input": {"name": format!("j{i}"), "sleep_ms": 100}, "webhook": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let stopped = std::time::Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(5));
    let mut completed = 0;
    let mut failed = 0;
    for _ in 0..n {
        let body = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a webhook for every accepted job")
            .unwrap();
        match body["status"].as_str().unwrap() {
            "COMPLETED" => completed += 1,
            "FAILED" => {
                let err: Value = serde_json::from_str(body["error"].as_str().unwrap()).unwrap();
                assert_eq!(err["error_type"], "WorkerShutdown");
                failed += 1;
            }
            other => panic!("unexpected final state {other}"),
        }
    }
    assert_eq!(completed + failed, n);
    assert!(
        completed >= 4,
        "the queue was drained during the grace period ({completed})"
    );
    assert!(failed >= 1, "some jobs could not finish ({failed})");
}

/// Every error is JSON, the HTTP layer's own included: a malformed percent-encoding in a job id
/// is a JSON 400, not axum's text/plain rejection.
#[tokio::test]
async fn malformed_job_ids_are_json_400() {
    let l = start(1, 0).await;
    for path in ["/status/%FF", "/stream/%FF", "/v2/e/status/%FF"] {
        let r = l
            .http
            .get(format!("{}{path}", l.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("malformed job id"));
    }
    for path in ["/cancel/%FF", "/retry/%C3%28"] {
        let r = l
            .http
            .post(format!("{}{path}", l.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(r.json::<Value>().await.unwrap()["error"].is_string());
    }
    l.stop().await;
}

/// A returned object with a set `"error"` fails the job with the rest as partial output, as on
/// the platform; `"refresh_worker"` is dropped locally.
#[tokio::test]
async fn an_error_key_fails_the_job_with_partial_output() {
    let h = flash_runtime::handler::handler(|_s, mut call| async move {
        Ok(flash_runtime::handler::Reply::Value(
            call.args().remove("ret").unwrap_or_default(),
        ))
    });
    let l = start_with(
        QueueWorker::new(h).retries(2),
        Arc::new(Tracker::default()),
        timing(),
    )
    .await;
    let (_, body) = l
        .post(
            "/runsync",
            json!({"input": {"ret": {"error": "half done", "rows": [1]}}}),
        )
        .await;
    assert_eq!(body["status"], "FAILED");
    assert_eq!(body["error"], "half done");
    assert_eq!(body["output"], json!({"rows": [1]}));
    let (_, body) = l
        .post(
            "/runsync",
            json!({"input": {"ret": {"error": null, "refresh_worker": true, "ok": 1}}}),
        )
        .await;
    assert_eq!(body["status"], "COMPLETED");
    assert_eq!(body["output"], json!({"ok": 1}));
    l.stop().await;
}

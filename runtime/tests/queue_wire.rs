//! The platform loop sends the same bytes as Runpod's Python SDK (`runpod` 1.12.0) where the
//! platform reads them: headers of result posts, the heartbeat's `runpod_version`, the error
//! text's fields, partial output with an error, `stopPod`, slots held until the result is
//! posted, and the 1 MB chunk limit. The stand-in records every byte and header.

mod support;

use std::{sync::Arc, time::Duration};

use flash_runtime::{
    handler::{handler, Handler, Reply},
    queue::{platform, settings::PlatformTiming, QueueWorker},
    shutdown::Shutdown,
};
use serde_json::{json, Value};
use support::{
    standin::{self, StandIn},
    test_handler, Tracker,
};

const LIMIT: Duration = Duration::from_secs(10);

/// The platform loop's timing in these tests.
fn timing() -> PlatformTiming {
    standin::timing(vec![Duration::from_millis(150), Duration::from_millis(150)])
}

fn spawn(
    stand: &StandIn,
    worker: QueueWorker<()>,
    ping_ms: u64,
) -> (Shutdown, tokio::task::JoinHandle<Result<(), String>>) {
    let shutdown = Shutdown::new();
    let p = stand.platform(ping_ms);
    let s = shutdown.clone();
    let task = tokio::spawn(async move { platform::run(worker, &p, timing(), s).await });
    (shutdown, task)
}

/// A handler that returns its job's `ret` input as its value (or streams `chunk_bytes`).
fn echo() -> Handler<()> {
    handler(|_s, mut call| async move {
        if let Some(n) = call.args().remove("chunk_bytes").and_then(|v| v.as_u64()) {
            let big = "x".repeat(n as usize);
            return Reply::stream(futures_util::stream::iter(vec![json!("small"), json!(big)]));
        }
        Ok(Reply::Value(
            call.args().remove("ret").unwrap_or(Value::Null),
        ))
    })
}

#[tokio::test]
async fn result_posts_carry_the_sdk_headers() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(json!({"id": "job-1", "input": {"name": "Ada"}}));
    let worker = QueueWorker::new(test_handler(Arc::new(Tracker::default())));
    let (shutdown, task) = spawn(&stand, worker, 50);
    let results = stand.wait_results(1, LIMIT).await;
    let r = &results[0];
    // The test handler's `json!` output: keys as written with `preserve-order` (the shipped
    // runtime's default), sorted without.
    let expected: &[u8] = if cfg!(feature = "preserve-order") {
        br#"{"output":{"greeting":"hello Ada","count":1}}"#
    } else {
        br#"{"output":{"count":1,"greeting":"hello Ada"}}"#
    };
    assert_eq!(r.raw.as_deref(), Some(expected));
    let h = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(h("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(h("charset"), Some("utf-8"));
    assert_eq!(h("x-request-id"), Some("job-1"));
    assert_eq!(h("authorization"), Some("test-key"));
    let ua = h("user-agent").unwrap();
    assert!(
        ua.starts_with(concat!("flash-runtime/", env!("CARGO_PKG_VERSION"))),
        "{ua}"
    );
    assert_eq!(r.query.get("isStream").map(String::as_str), Some("false"));
    // Heartbeats speak the SDK's protocol version.
    stand
        .wait_for(LIMIT, "a ping", |rs| rs.iter().any(|r| r.kind == "ping"))
        .await;
    let ping = &stand.of("ping")[0];
    assert_eq!(
        ping.query.get("runpod_version").map(String::as_str),
        Some("1.12.0")
    );
    assert!(ping
        .headers
        .get("user-agent")
        .is_some_and(|v| v.to_str().unwrap().starts_with("flash-runtime/")));
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_error_text_has_every_sdk_field_in_order() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(json!({"id": "e1", "input": {"name": "n", "mode": "internal"}}));
    stand.push_job(json!({"id": "e2", "input": {"name": "n", "mode": "panic"}}));
    let worker = QueueWorker::new(test_handler(Arc::new(Tracker::default())));
    let (shutdown, task) = spawn(&stand, worker, 10_000);
    let results = stand.wait_results(2, LIMIT).await;
    for r in &results {
        let text = r.body.as_ref().unwrap()["error"]
            .as_str()
            .unwrap()
            .to_string();
        let keys: Vec<&str> = [
            "error_type",
            "error_message",
            "error_traceback",
            "hostname",
            "worker_id",
            "runpod_version",
        ]
        .into_iter()
        .collect();
        let mut at = 0;
        for k in &keys {
            let pos = text
                .find(&format!("\"{k}\":"))
                .unwrap_or_else(|| panic!("{k} in {text}"));
            assert!(pos >= at, "{k} out of order in {text}");
            at = pos;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["worker_id"], "w1");
        assert_eq!(v["runpod_version"], "1.12.0");
    }
    let panic: Value = serde_json::from_str(
        results
            .iter()
            .find(|r| r.job.as_deref() == Some("e2"))
            .unwrap()
            .body
            .as_ref()
            .unwrap()["error"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(panic["error_type"], "HandlerPanic");
    let tb = panic["error_traceback"].as_str().unwrap();
    assert!(
        tb.contains("support/mod.rs:") && tb.contains("greet panicked for n"),
        "{tb}"
    );
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn partial_output_with_an_error_and_stop_pod() {
    let stand = StandIn::start(Duration::from_millis(100)).await;
    stand.push_job(json!({"id": "p1", "input": {"ret": {"error": "half done", "rows": [1, 2]}}}));
    let (shutdown, task) = spawn(&stand, QueueWorker::new(echo()), 10_000);
    let results = stand.wait_results(1, LIMIT).await;
    assert_eq!(
        results[0].raw.as_deref(),
        Some(&br#"{"output":{"rows":[1,2]},"error":"half done"}"#[..])
    );
    // refresh_worker: stopPod, then the worker takes no more jobs and returns by itself.
    stand.push_job(json!({"id": "r1", "input": {"ret": {"refresh_worker": true, "ok": 1}}}));
    let results = stand.wait_results(2, LIMIT).await;
    assert_eq!(
        results[1].raw.as_deref(),
        Some(&br#"{"output":{"ok":1},"stopPod":true}"#[..])
    );
    tokio::time::timeout(LIMIT, task)
        .await
        .expect("the worker exits after stopPod")
        .unwrap()
        .unwrap();
    stand.push_job(json!({"id": "late", "input": {"ret": 1}}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stand.queued(), 1, "a recycled worker takes no more jobs");
    drop(shutdown);
}

#[tokio::test]
async fn a_slot_is_free_only_when_its_result_is_posted() {
    let stand = StandIn::start(Duration::from_millis(50)).await;
    stand.push_job(json!({"id": "a", "input": {"ret": 1}}));
    // Two refused posts: the result is accepted on the third attempt, 300 ms later.
    stand.fail_results("a", 2);
    let worker = QueueWorker::new(echo()).max_concurrency(1);
    let (shutdown, task) = spawn(&stand, worker, 10_000);
    let results = stand.wait_results(1, LIMIT).await;
    let accepted = results[0].at;
    let first_fail = stand.of("done-500")[0].at;
    let takes_during_retries = stand
        .records()
        .iter()
        .filter(|r| r.kind.starts_with("take") && r.at > first_fail && r.at < accepted)
        .count();
    assert_eq!(
        takes_during_retries, 0,
        "no take while the only slot's result is unreported"
    );
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_chunk_over_1_mb_fails_the_job_clearly() {
    let stand = StandIn::start(Duration::from_millis(100)).await;
    stand.push_job(json!({"id": "big", "input": {"chunk_bytes": 1_100_000}}));
    let (shutdown, task) = spawn(&stand, QueueWorker::new(echo()), 10_000);
    let results = stand.wait_results(1, LIMIT).await;
    let err: Value =
        serde_json::from_str(results[0].body.as_ref().unwrap()["error"].as_str().unwrap()).unwrap();
    assert_eq!(err["error_type"], "StreamChunkTooLarge");
    assert!(err["error_message"].as_str().unwrap().contains("1 MB"));
    // The small chunk before it went out; the big one never did.
    let chunks = stand.of("stream");
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].body, Some(json!({"output": "small"})));
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

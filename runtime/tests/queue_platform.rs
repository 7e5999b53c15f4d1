//! The platform worker loop against a local stand-in for Runpod's job endpoints, over real
//! sockets. Every test asserts exactly what the worker sent.

mod support;

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use flash_runtime::{
    queue::{platform, settings::PlatformTiming, QueueWorker},
    shutdown::Shutdown,
};
use serde_json::{json, Value};
use support::{
    standin::{self, StandIn},
    test_handler, Tracker,
};
use tokio::task::JoinHandle;

const LIMIT: Duration = Duration::from_secs(10);

/// The platform loop's timing in these tests.
fn timing() -> PlatformTiming {
    standin::timing(vec![Duration::from_millis(30), Duration::from_millis(30)])
}

struct Running {
    tracker: Arc<Tracker>,
    shutdown: Shutdown,
    task: JoinHandle<Result<(), String>>,
}

fn start(stand: &StandIn, max: usize, timeout: Option<Duration>, t: PlatformTiming) -> Running {
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone()))
        .max_concurrency(max)
        .execution_timeout(timeout);
    let shutdown = Shutdown::new();
    let p = stand.platform(10_000);
    let s = shutdown.clone();
    let task = tokio::spawn(async move { platform::run(worker, &p, t, s).await });
    Running {
        tracker,
        shutdown,
        task,
    }
}

fn job(id: &str, input: Value) -> Value {
    json!({ "id": id, "input": input })
}

/// The parsed `error` text of a result body.
fn error_of(body: &Value) -> Value {
    let text = body["error"].as_str().expect("error is a string");
    serde_json::from_str(text).expect("error text is JSON")
}

#[tokio::test]
async fn single_take_posts_output_with_auth() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("j1", json!({"name": "Ada", "count": 2})));
    let w = start(&stand, 1, None, timing());
    let results = stand.wait_results(1, LIMIT).await;
    let r = &results[0];
    assert_eq!(r.worker, "w1");
    assert_eq!(r.job.as_deref(), Some("j1"));
    assert_eq!(r.query.get("isStream").map(String::as_str), Some("false"));
    assert_eq!(r.query.get("gpu").map(String::as_str), Some("TEST"));
    assert_eq!(r.auth.as_deref(), Some("test-key"));
    assert_eq!(
        r.body,
        Some(json!({"output": {"greeting": "hello Ada", "count": 2}}))
    );
    // One slot: plain takes only, never the batch URL, and every call carries the raw key.
    let takes = stand.of("take");
    assert!(!takes.is_empty());
    assert!(stand.of("take-batch").is_empty());
    assert_eq!(
        takes[0].query.get("job_in_progress").map(String::as_str),
        Some("0")
    );
    assert!(takes.iter().all(|t| t.auth.as_deref() == Some("test-key")));
    assert!(!takes[0].query.contains_key("batch_size"));
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn batch_take_and_concurrency_up_to_max() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    for i in 0..8 {
        stand.push_job(job(&format!("b{i}"), json!({"name": "n", "sleep_ms": 250})));
    }
    let started = std::time::Instant::now();
    let w = start(&stand, 4, None, timing());
    let results = stand.wait_results(8, LIMIT).await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), 8);
    // Exactly max_concurrency at once: never more, and really overlapping.
    assert_eq!(w.tracker.get(&w.tracker.max), 4);
    assert!(elapsed < Duration::from_millis(1500), "took {elapsed:?}");
    let batches = stand.of("take-batch");
    assert_eq!(
        batches[0].query.get("batch_size").map(String::as_str),
        Some("4")
    );
    assert_eq!(
        batches[0].query.get("job_in_progress").map(String::as_str),
        Some("0")
    );
    let mut ids: Vec<String> = results.iter().filter_map(|r| r.job.clone()).collect();
    ids.sort();
    assert_eq!(ids, (0..8).map(|i| format!("b{i}")).collect::<Vec<_>>());
    // While jobs ran, later takes said so.
    let all_takes: Vec<_> = stand
        .records()
        .into_iter()
        .filter(|r| r.kind.starts_with("take"))
        .collect();
    assert!(all_takes
        .iter()
        .any(|t| t.query.get("job_in_progress").map(String::as_str) == Some("1")));
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn no_idle_sleep_between_jobs() {
    // The Python SDK sleeps 1 s when full, so 30 jobs at concurrency 1 take ~30 s there.
    let stand = StandIn::start(Duration::from_millis(200)).await;
    for i in 0..30 {
        stand.push_job(job(&format!("q{i}"), json!({"name": "n"})));
    }
    let started = std::time::Instant::now();
    let w = start(&stand, 1, None, timing());
    stand.wait_results(30, LIMIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn jobs_to_stop_cancels_without_posting() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("slow", json!({"name": "n", "sleep_ms": 5000})));
    let w = start(&stand, 2, None, timing());
    w.tracker.wait_calls(1).await;
    stand.stop(&["slow"]);
    // The handler's future is dropped...
    let deadline = tokio::time::Instant::now() + LIMIT;
    while w.tracker.get(&w.tracker.dropped) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "job was not cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...the worker goes on taking jobs, and nothing was posted for the stopped one.
    stand.push_job(job("next", json!({"name": "n"})));
    let results = stand.wait_results(1, LIMIT).await;
    assert_eq!(results[0].job.as_deref(), Some("next"));
    assert!(stand
        .of("done")
        .iter()
        .all(|r| r.job.as_deref() != Some("slow")));
    assert!(stand
        .of("stop")
        .iter()
        .all(|r| r.auth.as_deref() == Some("test-key")));
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn backs_off_after_429() {
    let stand = StandIn::start(Duration::from_millis(100)).await;
    stand.answer_429(1);
    stand.push_job(job("j", json!({"name": "n"})));
    let w = start(&stand, 1, None, timing());
    stand.wait_results(1, LIMIT).await;
    let takes = stand.of("take");
    assert!(takes.len() >= 2);
    let gap = takes[1].at - takes[0].at;
    assert!(gap >= Duration::from_millis(380), "retook after {gap:?}");
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn result_post_retried_after_500() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.fail_results("r1", 1);
    stand.fail_results("r2", 5);
    stand.push_job(job("r1", json!({"name": "n"})));
    let w = start(&stand, 1, None, timing());
    let results = stand.wait_results(1, LIMIT).await;
    assert_eq!(results[0].job.as_deref(), Some("r1"));
    assert_eq!(
        results[0].body,
        Some(json!({"output": {"greeting": "hello n", "count": 1}}))
    );
    assert_eq!(stand.of("done-500").len(), 1);
    // Always failing: exactly 3 attempts, then the worker gives up and goes on.
    stand.push_job(job("r2", json!({"name": "n"})));
    stand
        .wait_for(LIMIT, "3 attempts", |rs| {
            rs.iter()
                .filter(|r| r.kind == "done-500" && r.job.as_deref() == Some("r2"))
                .count()
                == 3
        })
        .await;
    stand.push_job(job("r3", json!({"name": "n"})));
    let results = stand.wait_results(2, LIMIT).await;
    assert_eq!(results[1].job.as_deref(), Some("r3"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r2 = stand
        .of("done-500")
        .iter()
        .filter(|r| r.job.as_deref() == Some("r2"))
        .count();
    assert_eq!(r2, 3);
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn streaming_posts_chunks_then_an_empty_final_output() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job(
        "s1",
        json!({"name": "Ada", "mode": "stream", "count": 3}),
    ));
    let w = start(&stand, 1, None, timing());
    let results = stand.wait_results(1, LIMIT).await;
    let chunks = stand.of("stream");
    assert_eq!(chunks.len(), 3);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.job.as_deref(), Some("s1"));
        // The SDK's value for chunks; only the final post says true.
        assert_eq!(c.query.get("isStream").map(String::as_str), Some("false"));
        assert_eq!(
            c.body,
            Some(json!({"output": {"token": "hello Ada", "index": i}}))
        );
        assert!(c.at <= results[0].at);
    }
    assert_eq!(
        results[0].query.get("isStream").map(String::as_str),
        Some("true")
    );
    // The SDK's default final post.
    assert_eq!(results[0].raw.as_deref(), Some(&br#"{"output":[]}"#[..]));
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_stream_aggregate_is_an_opt_in() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job(
        "s1",
        json!({"name": "Ada", "mode": "stream", "count": 3}),
    ));
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker)).return_aggregate_stream(true);
    let shutdown = Shutdown::new();
    let p = stand.platform(10_000);
    let s = shutdown.clone();
    let task = tokio::spawn(async move { platform::run(worker, &p, timing(), s).await });
    let results = stand.wait_results(1, LIMIT).await;
    assert_eq!(
        results[0].body,
        Some(json!({"output": [
            {"token": "hello Ada", "index": 0},
            {"token": "hello Ada", "index": 1},
            {"token": "hello Ada", "index": 2}
        ]}))
    );
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn progress_is_posted_before_the_result() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("p1", json!({"name": "n", "mode": "progress"})));
    let w = start(&stand, 1, None, timing());
    stand.wait_results(1, LIMIT).await;
    let done = stand.of("done");
    assert_eq!(done.len(), 2);
    assert_eq!(
        done[0].body,
        Some(json!({"status": "IN_PROGRESS", "output": {"step": 1}}))
    );
    assert_eq!(
        done[0].query.get("isStream").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        done[1].body,
        Some(json!({"output": {"greeting": "hello n"}}))
    );
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn heartbeat_names_running_jobs() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("h1", json!({"name": "n", "sleep_ms": 400})));
    let tracker = Arc::new(Tracker::default());
    let worker = QueueWorker::new(test_handler(tracker.clone())).max_concurrency(2);
    let p = stand.platform(50);
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let task = tokio::spawn(async move { platform::run(worker, &p, timing(), s).await });
    stand
        .wait_for(LIMIT, "a ping naming h1", |rs| {
            rs.iter().any(|r| {
                r.kind == "ping" && r.query.get("job_id").map(String::as_str) == Some("h1")
            })
        })
        .await;
    stand.wait_results(1, LIMIT).await;
    let after = stand.results()[0].at;
    stand
        .wait_for(LIMIT, "an idle ping", |rs| {
            rs.iter()
                .any(|r| r.kind == "ping" && r.at > after && !r.query.contains_key("job_id"))
        })
        .await;
    let pings = stand.of("ping");
    assert!(pings.iter().all(|p| p.worker == "w1"
        && p.auth.as_deref() == Some("test-key")
        && p.query.get("gpu").map(String::as_str) == Some("TEST")
        && p.query.get("runpod_version").is_some_and(|v| v == "1.12.0")));
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn failures_are_reported_as_sdk_error_text() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("e-client", json!({"name": "n", "mode": "fail"})));
    stand.push_job(job("e-empty", json!({})));
    stand.push_job(json!({"id": "e-missing"}));
    stand.push_job(job("e-type", json!("text")));
    stand.push_job(job("e-args", json!({"count": 1})));
    stand.push_job(job("e-panic", json!({"name": "n", "mode": "panic"})));
    stand.push_job(json!({"input": {"name": "no id"}}));
    stand.push_job(job("ok", json!({"name": "after"})));
    let w = start(&stand, 1, None, timing());
    let results = stand.wait_results(7, LIMIT).await;
    let by = |id: &str| {
        results
            .iter()
            .find(|r| r.job.as_deref() == Some(id))
            .and_then(|r| r.body.clone())
            .unwrap_or_else(|| panic!("no result for {id}"))
    };
    let e = error_of(&by("e-client"));
    assert_eq!(e["error_type"], "ClientError");
    assert_eq!(e["error_message"], "cannot greet n");
    assert_eq!(e["worker_id"], "w1");
    assert!(e["hostname"].is_string());
    // The key set (a parsed map's key order is serde_json's, sorted or as sent by feature).
    let mut keys = e.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "error_message",
            "error_traceback",
            "error_type",
            "hostname",
            "runpod_version",
            "worker_id"
        ]
    );
    let e = error_of(&by("e-empty"));
    assert_eq!(e["error_type"], "InvalidInput");
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("\"input\" is empty"));
    let e = error_of(&by("e-missing"));
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("missing \"input\""));
    let e = error_of(&by("e-type"));
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("got a string"));
    let e = error_of(&by("e-args"));
    assert_eq!(e["error_type"], "InvalidArguments");
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("input.name: field required"));
    let e = error_of(&by("e-panic"));
    assert_eq!(e["error_type"], "HandlerPanic");
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("greet panicked for n"));
    // The worker survived the panic and the job without an id.
    assert_eq!(
        by("ok"),
        json!({"output": {"greeting": "hello after", "count": 1}})
    );
    assert_eq!(by("e-client").as_object().unwrap().len(), 1);
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn execution_timeout_fails_the_job() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("t1", json!({"name": "n", "sleep_ms": 3000})));
    let w = start(&stand, 1, Some(Duration::from_millis(100)), timing());
    let results = stand.wait_results(1, LIMIT).await;
    let e = error_of(results[0].body.as_ref().unwrap());
    assert_eq!(e["error_type"], "TimeoutError");
    assert_eq!(e["error_message"], "execution timeout of 100 ms exceeded");
    assert_eq!(w.tracker.get(&w.tracker.dropped), 1);
    w.shutdown.trigger();
    w.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_drains_running_jobs() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    for i in 0..3 {
        stand.push_job(job(&format!("d{i}"), json!({"name": "n", "sleep_ms": 300})));
    }
    let w = start(&stand, 3, None, timing());
    w.tracker.wait_calls(3).await;
    w.shutdown.trigger();
    let returned = tokio::time::timeout(LIMIT, w.task).await.unwrap().unwrap();
    assert_eq!(returned, Ok(()));
    // run() returned only after every running job had reported.
    assert_eq!(stand.results().len(), 3);
    assert_eq!(w.tracker.get(&w.tracker.finished), 3);
    assert_eq!(w.tracker.calls.load(Ordering::SeqCst), 3);
    // And no job was taken after the trigger: a job queued now stays queued.
    stand.push_job(job("late", json!({"name": "n"})));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stand.queued(), 1);
}

#[tokio::test]
async fn jobs_past_the_shutdown_grace_are_reported_failed() {
    let stand = StandIn::start(Duration::from_millis(200)).await;
    stand.push_job(job("quick", json!({"name": "n", "sleep_ms": 50})));
    stand.push_job(job("endless", json!({"name": "n", "sleep_ms": 60_000})));
    let t = PlatformTiming {
        shutdown_grace: Duration::from_millis(300),
        ..timing()
    };
    let w = start(&stand, 2, None, t);
    w.tracker.wait_calls(2).await;
    let stopped_at = std::time::Instant::now();
    w.shutdown.trigger();
    tokio::time::timeout(LIMIT, w.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(stopped_at.elapsed() < Duration::from_secs(2));
    let results = stand.results();
    assert_eq!(results.len(), 2);
    let by = |id: &str| {
        results
            .iter()
            .find(|r| r.job.as_deref() == Some(id))
            .unwrap()
            .body
            .clone()
            .unwrap()
    };
    assert_eq!(
        by("quick"),
        json!({"output": {"greeting": "hello n", "count": 1}})
    );
    let e = error_of(&by("endless"));
    assert_eq!(e["error_type"], "WorkerShutdown");
    assert!(e["error_message"]
        .as_str()
        .unwrap()
        .contains("300 ms shutdown grace"));
    // The handler was stopped, not left running.
    for _ in 0..100 {
        if w.tracker.get(&w.tracker.dropped) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(w.tracker.get(&w.tracker.dropped), 1);
}

#[tokio::test]
async fn missing_output_url_is_a_start_error() {
    let stand = StandIn::start(Duration::from_millis(50)).await;
    let mut p = stand.platform(1000);
    p.post_output = None;
    let worker = QueueWorker::new(test_handler(Arc::new(Tracker::default())));
    let err = platform::run(worker, &p, timing(), Shutdown::new())
        .await
        .unwrap_err();
    assert!(err.contains("RUNPOD_WEBHOOK_POST_OUTPUT"));
}

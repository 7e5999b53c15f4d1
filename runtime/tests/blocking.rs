//! CPU-bound handlers through `flash_runtime::blocking` never stall a worker: `/ping`, other
//! routes and the queue heartbeat keep answering while a handler spins a core for seconds, on
//! the runtime a worker builds for itself, single-threaded (`FLASH_WORKER_THREADS=1`, what a
//! 1-core container gets) or not.

mod lb_common;
mod support;

#[path = "../examples/queue_worker.rs"]
#[allow(dead_code)]
mod queue_example;

use std::time::{Duration, Instant};

use flash_runtime::{
    bind, entry,
    handler::{handler, Reply},
    lb::App,
    queue::platform,
    shutdown::Shutdown,
};
use lb_common::{client, config, start, wait_status, worker};
use serde_json::{json, Value};
use support::standin::{self, StandIn};

const SPIN_MS: u64 = 3000;
/// Generous for a loaded 2-core machine; a stalled runtime would take the whole spin.
const PROMPT: Duration = Duration::from_millis(1000);

/// The worker's own runtime for `FLASH_WORKER_THREADS=threads`.
fn runtime(threads: &str) -> tokio::runtime::Runtime {
    entry::runtime(&config(&[("FLASH_WORKER_THREADS", threads)])).expect("runtime")
}

async fn timed_get(url: &str) -> (u16, Duration) {
    let start = Instant::now();
    let res = client().get(url).send().await.expect("request");
    let status = res.status().as_u16();
    let _ = res.bytes().await;
    (status, start.elapsed())
}

/// While `/busy` spins a core, `/ping` and other routes answer promptly, again and again.
fn lb_routes_stay_prompt(threads: &str) {
    runtime(threads).block_on(async {
        let s = start(worker::app(), config(&[])).await;
        wait_status(&s.url("/ping"), 200).await;
        let busy_url = s.url(&format!("/busy?ms={SPIN_MS}"));
        let started = Instant::now();
        let busy = tokio::spawn(async move { client().get(busy_url).send().await });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut checked = 0;
        while started.elapsed() < Duration::from_millis(SPIN_MS - 700) {
            for path in ["/ping", "/hello", "/users/3?verbose=true"] {
                let (status, took) = timed_get(&s.url(path)).await;
                assert_eq!(status, 200, "{path}");
                assert!(took < PROMPT, "{path} took {took:?} while /busy spun");
                checked += 1;
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert!(checked >= 9, "only {checked} requests during the spin");
        assert!(!busy.is_finished(), "the spin ended early");
        let res = busy.await.unwrap().expect("busy answers");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["busy_ms"], json!(SPIN_MS));
        assert!(started.elapsed() >= Duration::from_millis(SPIN_MS));
        s.stop().await;
    });
}

#[test]
fn lb_blocking_handler_does_not_delay_ping_or_routes_single_threaded() {
    lb_routes_stay_prompt("1");
}

#[test]
fn lb_blocking_handler_does_not_delay_ping_or_routes_multi_threaded() {
    lb_routes_stay_prompt("2");
}

/// The control: the same spin on the async thread (no `blocking`) does stall a single-threaded
/// worker, so the tests above measure what they claim.
#[test]
fn control_spinning_on_the_async_thread_stalls_a_single_threaded_worker() {
    runtime("1").block_on(async {
        let app = App::stateless().get(
            "/spin-inline",
            handler(|_s, mut call| async move {
                let (ms,) = bind!(call, ms: u64)?;
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(ms) {
                    std::hint::spin_loop();
                }
                Reply::json(ms)
            }),
        );
        let s = start(app, config(&[])).await;
        wait_status(&s.url("/ping"), 200).await;
        let url = s.url("/spin-inline?ms=1500");
        let started = Instant::now();
        let spin = tokio::spawn(async move { client().get(url).send().await });
        // Everything on this thread, this test's timer included, waits for the spin.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (status, _) = timed_get(&s.url("/ping")).await;
        assert_eq!(status, 200);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1400),
            "ping answered {took:?} after an inline spin began"
        );
        spin.await.unwrap().unwrap();
        s.stop().await;
    });
}

/// A job of the example queue worker spins a core through `blocking`; the heartbeat keeps its
/// 100 ms period and names the job the whole time.
fn heartbeat_keeps_beating(threads: &str) {
    runtime(threads).block_on(async {
        let stand = StandIn::start(Duration::from_millis(200)).await;
        stand.push_job(json!({
            "id": "spin",
            "input": {"name": "n", "mode": "busy", "sleep_ms": SPIN_MS}
        }));
        let p = stand.platform(100);
        let shutdown = Shutdown::new();
        let s = shutdown.clone();
        let task = tokio::spawn(async move {
            platform::run(
                queue_example::worker(),
                &p,
                standin::timing(vec![Duration::from_millis(30)]),
                s,
            )
            .await
        });
        let results = stand.wait_results(1, Duration::from_secs(15)).await;
        let output = &results[0].body.as_ref().expect("result body")["output"];
        assert_eq!(output["busy_ms"], json!(SPIN_MS), "{output}");
        let beats: Vec<tokio::time::Instant> = stand
            .of("ping")
            .iter()
            .filter(|r| r.query.get("job_id").map(String::as_str) == Some("spin"))
            .map(|r| r.at)
            .collect();
        // ~30 expected over 3 s; a stalled heartbeat would send one or two.
        assert!(
            beats.len() >= 15,
            "{} heartbeats during the job",
            beats.len()
        );
        let longest = beats
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        assert!(
            longest < PROMPT,
            "heartbeat gap of {longest:?} during the job"
        );
        shutdown.trigger();
        task.await.unwrap().unwrap();
    });
}

#[test]
fn queue_heartbeat_keeps_beating_during_a_blocking_job_single_threaded() {
    heartbeat_keeps_beating("1");
}

#[test]
fn queue_heartbeat_keeps_beating_during_a_blocking_job_multi_threaded() {
    heartbeat_keeps_beating("2");
}

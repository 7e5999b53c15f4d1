//! The load side of the platform-loop benchmark (`runtime/bench/queue.sh`): the test stand-in
//! for Runpod's job endpoints, preloaded with `JOBS` jobs of `sleep_ms` each. It prints the
//! platform variables for the worker, then measures from the first job taken to the last
//! result posted and prints `jobs=N seconds=S jobs_per_s=R`.
//!
//! Usage: `bench_standin <port> <jobs> <sleep_ms>`

#[path = "../tests/support/standin.rs"]
mod standin;

use std::time::{Duration, Instant};

use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (port, jobs, sleep_ms) = (arg(1, 0), arg(2, 4000) as usize, arg(3, 10));
    // Takes are long-polled for up to 1 s, like the platform's.
    let stand = standin::StandIn::start_with_port(Duration::from_secs(1), false, port as u16).await;
    for i in 0..jobs {
        stand.push_job(json!({"id": format!("job-{i}"), "input": {"n": i, "sleep_ms": sleep_ms}}));
    }
    for (k, v) in stand.env("bench", 10_000) {
        println!("{k}={v}");
    }
    println!("READY");
    let deadline = Instant::now() + Duration::from_secs(300);
    while stand.queued() == jobs {
        assert!(Instant::now() < deadline, "no worker came");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let start = Instant::now();
    while stand.finals() < jobs {
        assert!(Instant::now() < deadline, "the worker stalled");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "jobs={jobs} seconds={secs:.3} jobs_per_s={:.0}",
        jobs as f64 / secs
    );
}

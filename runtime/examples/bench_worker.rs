//! The worker of the queue benchmarks (`runtime/bench/queue.sh`): a trivial handler that
//! answers `{"ok": true}` after `sleep_ms` (from the input, default 0), with
//! `max_concurrency` from `BENCH_CONCURRENCY` (default 8). Local mode or platform mode as the
//! environment says, exactly like a generated worker.
//!
//! `BENCH_SLEEP=thread` waits on a blocking thread (`std::thread::sleep`, microsecond-exact)
//! instead of tokio's timer, whose millisecond wheel and rounding make a 10 ms sleep last
//! 10–12 ms: the platform-loop figure then measures the loop, not the timer.

use std::{process::ExitCode, sync::Arc, time::Duration};

use flash_runtime::{
    blocking,
    handler::{handler, Call, Reply},
    queue::{run, QueueWorker},
};
use serde_json::{json, Value};

fn main() -> ExitCode {
    let concurrency = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let on_thread = std::env::var("BENCH_SLEEP").is_ok_and(|v| v == "thread");
    let trivial = handler(move |_state: Arc<()>, mut call: Call| async move {
        if let Some(ms) = call.args().get("sleep_ms").and_then(Value::as_u64) {
            let pause = Duration::from_millis(ms);
            if on_thread {
                blocking(move || std::thread::sleep(pause)).await?;
            } else {
                tokio::time::sleep(pause).await;
            }
        }
        Reply::json(json!({ "ok": true }))
    });
    run(QueueWorker::new(trivial).max_concurrency(concurrency))
}

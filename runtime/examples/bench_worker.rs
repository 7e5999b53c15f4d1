//! The worker of the queue benchmarks (`runtime/bench/queue.sh`): a trivial handler that
//! answers `{"ok": true}` after `sleep_ms` (from the input, default 0), with
//! `max_concurrency` from `BENCH_CONCURRENCY` (default 8). Local mode or platform mode as the
//! environment says, exactly like a generated worker.

use std::{process::ExitCode, sync::Arc, time::Duration};

use flash_runtime::{
    handler::{handler, Call, Reply},
    queue::{run, QueueWorker},
};
use serde_json::{json, Value};

fn main() -> ExitCode {
    let concurrency = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let trivial = handler(|_state: Arc<()>, call: Call| async move {
        if let Some(ms) = call.args.get("sleep_ms").and_then(Value::as_u64) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Reply::json(json!({ "ok": true }))
    });
    run(QueueWorker::new(trivial).max_concurrency(concurrency))
}

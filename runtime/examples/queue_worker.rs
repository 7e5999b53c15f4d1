//! A queue worker written by hand exactly as `flashc generate` writes one: the user's function,
//! a handler that binds the job's `input` fields to its parameters by name, and `main`.
//!
//! Run it locally (`PORT=8000 cargo run -p flash-runtime --example queue_worker`) and call
//! `POST /runsync {"input": {"name": "Ada", "count": 2}}`; with the platform variables set it
//! takes jobs from the platform instead. Input fields that drive the test cases:
//! - `mode: "stream"`: one chunk per `count`; `"fail"`: a client error; `"panic"`: a panic;
//!   `"progress"`: a progress update before the result;
//! - `sleep_ms`: the job takes that long (slow jobs for concurrency, cancel and SIGTERM tests).

use std::{process::ExitCode, sync::Arc, time::Duration};

use flash_runtime::{
    bind,
    handler::{handler, Call, HandlerError, Reply},
    queue::{run, QueueWorker},
};
use serde_json::{json, Value};

/// The user's function: two parameters by name, plus knobs for the test cases.
async fn greet(
    call_progress: &flash_runtime::handler::Progress,
    name: String,
    count: u64,
    mode: Option<String>,
    sleep_ms: Option<u64>,
) -> Result<Reply, HandlerError> {
    if let Some(ms) = sleep_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match mode.as_deref() {
        Some("fail") => Err(HandlerError::client(format!("cannot greet {name}"))),
        Some("panic") => panic!("greet panicked for {name}"),
        Some("stream") => {
            let chunks: Vec<Value> = (0..count)
                .map(|i| json!({ "token": format!("hello {name}"), "index": i }))
                .collect();
            Reply::stream(futures_util::stream::iter(chunks))
        }
        Some("progress") => {
            call_progress.update(json!({ "step": 1, "of": 2 }));
            Reply::json(json!({ "greeting": format!("hello {name}"), "count": count }))
        }
        _ => Reply::json(json!({ "greeting": format!("hello {name}"), "count": count })),
    }
}

fn main() -> ExitCode {
    // One handler per queue endpoint: bind the job's `input` fields by name (every problem at
    // once), then call the user's function.
    let greet_handler = handler(|_state: Arc<()>, mut call: Call| async move {
        let (name, count, mode, sleep_ms) = bind!(
            call,
            name: String,
            count: Option<u64>,
            mode: Option<String>,
            sleep_ms: Option<u64>
        )?;
        greet(&call.progress, name, count.unwrap_or(1), mode, sleep_ms).await
    });
    run(QueueWorker::new(greet_handler)
        .max_concurrency(4)
        .retries(1))
}

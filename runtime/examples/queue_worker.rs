//! A queue worker written by hand exactly as `flashc generate` writes one: the user's functions
//! (an `init` that loads the shared state once, and the job function), a handler that binds the
//! job's `input` fields to the function's parameters by name, and `main`.
//!
//! Run it locally (`PORT=8000 cargo run -p flash-runtime --example queue_worker`) and call
//! `POST /runsync {"input": {"name": "Ada", "count": 2}}`; with the platform variables set it
//! takes jobs from the platform instead. Input fields that drive the test cases:
//! - `mode: "stream"`: one chunk per `count`; `"fail"`: a client error; `"panic"`: a panic;
//!   `"progress"`: a progress update before the result; `"busy"`: spins a core for `sleep_ms`
//!   through `blocking` (CPU-bound work that must not stall the worker);
//! - `sleep_ms`: the job takes that long (slow jobs for concurrency, cancel and SIGTERM tests).
//!
//! The tests run this binary (`tests/queue_sigterm.rs`) and reuse [`worker`] in-process
//! (`tests/endpoints.rs`).

use std::{process::ExitCode, time::Duration};

use flash_runtime::{
    bind, blocking,
    handler::{handler, Reply},
    queue::{run, QueueWorker},
    Context, HandlerError,
};
use serde_json::{json, Value};

// ---- the user's code (what a flash.yaml's `init` and `handler` point at) ----

/// What `init` loads once per worker (a model, in real life).
pub struct Greeter {
    greeting: String,
}

pub async fn load() -> Result<Greeter, String> {
    Ok(Greeter {
        greeting: "hello".to_string(),
    })
}

/// CPU-bound work: spins a core for `ms` milliseconds.
fn busy(ms: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut rounds: u64 = 0;
    while start.elapsed() < Duration::from_millis(ms) {
        rounds = std::hint::black_box(rounds.wrapping_add(1));
    }
    rounds
}

/// The job function: the state, the job's context, and parameters by name.
async fn greet(
    greeter: &Greeter,
    ctx: &Context,
    name: String,
    count: Option<u64>,
    mode: Option<String>,
    sleep_ms: Option<u64>,
) -> Result<Reply, HandlerError> {
    let count = count.unwrap_or(1);
    let greeting = format!("{} {name}", greeter.greeting);
    if mode.as_deref() == Some("busy") {
        let ms = sleep_ms.unwrap_or(0);
        let rounds = blocking(move || busy(ms)).await?;
        return Reply::json(json!({ "greeting": greeting, "busy_ms": ms, "rounds": rounds }));
    }
    if let Some(ms) = sleep_ms {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match mode.as_deref() {
        Some("fail") => Err(HandlerError::client(format!("cannot greet {name}"))),
        Some("panic") => panic!("greet panicked for {name}"),
        Some("stream") => {
            let chunks: Vec<Value> = (0..count)
                .map(|i| json!({ "token": greeting.clone(), "index": i }))
                .collect();
            Reply::stream(futures_util::stream::iter(chunks))
        }
        Some("progress") => {
            ctx.progress(json!({ "step": 1, "of": 2 }));
            Reply::json(json!({ "greeting": greeting, "count": count }))
        }
        _ => Reply::json(json!({ "greeting": greeting, "count": count })),
    }
}

// ---- what generated code looks like ----

/// One handler per queue endpoint: bind the job's `input` fields by name (every problem at
/// once), then call the user's function with the state and the job's context.
pub fn worker() -> QueueWorker<Greeter> {
    let job = handler(|state, mut call| async move {
        let ctx = call.context();
        let (name, count, mode, sleep_ms) = bind!(call, name, count, mode, sleep_ms)?;
        greet(&state, &ctx, name, count, mode, sleep_ms).await
    });
    QueueWorker::with_state(load, job)
        .max_concurrency(4)
        .retries(1)
}

#[allow(dead_code)] // the tests include this file for `worker` only
fn main() -> ExitCode {
    run(worker())
}

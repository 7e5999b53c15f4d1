//! The worker loop on the Runpod platform (`RUNPOD_WEBHOOK_GET_JOB` set).
//!
//! One loop takes jobs as soon as a slot is free (a batch take when several are), each job runs
//! in its own task holding a slot, and results go back as soon as a job ends. Nothing sleeps
//! while a slot is free, unlike the Python SDK which sleeps 1 s whenever it is full. A heartbeat
//! task and a stop-poll task run beside the loop. On shutdown the loop stops taking, lets every
//! running job finish and report, then returns.

pub mod cancel;
pub mod endpoints;
pub mod heartbeat;
pub mod post;
pub mod running;
pub mod take;

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use self::{endpoints::Endpoints, post::Poster, running::Running, take::Taken};
use super::{
    job::{self, Failure, Output},
    settings::PlatformTiming,
    QueueWorker,
};
use tracing::Instrument;

use crate::{
    config::Platform, handler::Progress, health::Health, logging::request_span, shutdown::Shutdown,
};

/// What every job task shares.
struct Ctx<S> {
    worker: super::Prepared<S>,
    poster: Poster,
    running: Arc<Running>,
    /// Fired when a job asked to recycle the worker (`refresh_worker`): take no more jobs.
    recycle: Shutdown,
}

/// A streamed job's aggregate is kept under this many bytes (the platform's result limit is
/// larger); past it the final post is `{"output": []}`, as by default.
pub const AGGREGATE_LIMIT: usize = 10 * 1024 * 1024;

/// Runs the platform loop until `shutdown` fires and every running job has reported.
/// Fails only at start (bad configuration, `init` failed).
pub async fn run<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    platform: &Platform,
    timing: PlatformTiming,
    shutdown: Shutdown,
) -> Result<(), String> {
    run_with_health(worker, platform, timing, shutdown, Health::new()).await
}

/// As [`run`], reporting `init` through `health` (the `/ping` probe of the binary).
pub async fn run_with_health<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    platform: &Platform,
    timing: PlatformTiming,
    shutdown: Shutdown,
    health: Health,
) -> Result<(), String> {
    let urls = Arc::new(Endpoints::new(platform)?);
    let client = endpoints::client(&platform.api_key)?;
    let max = worker.max_concurrency.max(1);
    let worker = match worker.prepare().await {
        Ok(w) => {
            health.set_ready();
            w
        }
        Err(e) => {
            health.set_failed(e.clone());
            return Err(e);
        }
    };
    let running = Arc::new(Running::default());
    // The loop stops on the caller's shutdown or when a job recycles the worker.
    let recycle = Shutdown::new();
    let stop = Shutdown::new();
    {
        let (outer, recycle, stop) = (shutdown.clone(), recycle.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = outer.wait() => {}
                _ = recycle.wait() => {
                    tracing::info!("a job asked to recycle this worker (stopPod): taking no more jobs");
                }
            }
            stop.trigger();
        });
    }
    let shutdown = stop;
    let ctx = Arc::new(Ctx {
        worker,
        poster: Poster {
            client: client.clone(),
            urls: urls.clone(),
            retry_delays: Arc::new(timing.result_retry_delays.clone()),
        },
        running: running.clone(),
        recycle,
    });

    let mut background = Vec::new();
    if let Some(ping) = &urls.ping {
        background.push(tokio::spawn(heartbeat::run(
            client.clone(),
            ping.clone(),
            platform.ping_interval,
            running.clone(),
        )));
    }
    background.push(tokio::spawn(cancel::run(
        client.clone(),
        urls.stop.clone(),
        timing.stop_poll_interval,
        timing.error_backoff,
        running.clone(),
    )));
    tracing::info!(worker_id = %urls.worker_id, max_concurrency = max, "taking jobs");

    let slots = Arc::new(Semaphore::new(max));
    loop {
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break, // never closed; leaving is the only sane reaction
            },
            _ = shutdown.wait() => break,
        };
        let mut permits = vec![first];
        while let Ok(p) = slots.clone().try_acquire_owned() {
            permits.push(p);
        }
        let started = Instant::now();
        let in_progress = !running.is_empty();
        let call = take::take(&client, &urls, permits.len(), in_progress);
        tokio::pin!(call);
        let (taken, stopping) = tokio::select! {
            t = &mut call => (t, false),
            _ = shutdown.wait() => {
                // A take already sent may be answered with jobs; dropping it could lose them,
                // so it gets a short grace before the loop stops.
                match tokio::time::timeout(timing.drain_take_grace, &mut call).await {
                    Ok(t) => (t, true),
                    Err(_) => (Taken::Empty, true),
                }
            }
        };
        let wait = match taken {
            Taken::Jobs(jobs) => {
                for job in jobs {
                    spawn_job(&ctx, job, permits.pop());
                }
                None
            }
            Taken::Empty => Some(timing.empty_take_interval.saturating_sub(started.elapsed())),
            Taken::Backoff => {
                tracing::warn!("the platform answered 429; backing off");
                Some(timing.backoff_429)
            }
            Taken::Failed(why) => {
                tracing::warn!("{why}");
                Some(timing.error_backoff)
            }
        };
        drop(permits);
        if stopping {
            break;
        }
        if let Some(wait) = wait.filter(|w| !w.is_zero()) {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => break,
            }
        }
    }

    tracing::info!(
        running = running.ids().len(),
        "stopped taking jobs; draining"
    );
    let drained =
        tokio::time::timeout(timing.shutdown_grace, running.wait_until(Running::is_empty)).await;
    if drained.is_err() {
        // Out of time: stop what still runs and say so, rather than vanish with the jobs.
        let failure = Failure::Shutdown(timing.shutdown_grace);
        let body = json!({ "error": failure.to_error_text(&urls.worker_id) });
        for id in running.ids() {
            running.cancel(&id);
            tracing::warn!(requestId = %id, "{}", failure.message());
            ctx.poster.result(&id, &body, false).await;
        }
    }
    for task in background {
        task.abort();
    }
    tracing::info!("drained; every job reported");
    Ok(())
}

/// Starts one job's task. `permit` is `None` only when the platform sent more jobs than slots
/// were free; such jobs still run (dropping them would lose them).
fn spawn_job<S: Send + Sync + 'static>(
    ctx: &Arc<Ctx<S>>,
    job: Value,
    permit: Option<OwnedSemaphorePermit>,
) {
    let Some(id) = job.get("id").and_then(Value::as_str).map(str::to_string) else {
        tracing::error!("the platform sent a job without an id; it cannot be reported: {job}");
        return;
    };
    let (guard, mut stop) = ctx.running.register(&id);
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let work = execute(&ctx, &id, &job, permit).instrument(request_span(&id));
        tokio::select! {
            _ = work => {}
            // Only an explicit stop cancels; a dropped sender (replaced entry) does not.
            Ok(()) = &mut stop => {
                tracing::info!(requestId = %id, "job stopped; nothing is posted for it");
            }
        }
    });
}

/// Runs one job and posts its progress, chunks and result. The slot is held until the result
/// is posted (retries included), as the SDK does: a worker never holds more unreported jobs
/// than `max_concurrency`.
async fn execute<S: Send + Sync + 'static>(
    ctx: &Ctx<S>,
    id: &str,
    job: &Value,
    slot: Option<OwnedSemaphorePermit>,
) {
    let poster = &ctx.poster;
    let worker_id = &poster.urls.worker_id;
    let args = match job::input_args(job.get("input")) {
        Ok(args) => args,
        Err(msg) => {
            tracing::warn!(requestId = %id, "{msg}");
            let error = Failure::Input(msg).to_error_text(worker_id);
            poster.result(id, &json!({ "error": error }), false).await;
            drop(slot);
            return;
        }
    };
    tracing::debug!(requestId = %id, "job started");
    let (tx, mut updates) = tokio::sync::mpsc::unbounded_channel();
    let keep = if ctx.worker.return_aggregate_stream {
        job::Keep::UpTo(AGGREGATE_LIMIT)
    } else {
        job::Keep::Nothing
    };
    let run = job::run_keeping(
        &ctx.worker.handler,
        ctx.worker.state.clone(),
        id,
        args,
        Progress::new(tx),
        ctx.worker.execution_timeout,
        keep,
        |chunk| {
            let poster = poster.clone();
            let id = id.to_string();
            async move {
                poster.chunk(&id, chunk).await;
            }
        },
    );
    tokio::pin!(run);
    // Progress is posted in order and before the result; while one is posted the handler waits
    // (as it would awaiting the SDK's progress_update).
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            Some(update) = updates.recv() => { poster.progress(id, update).await; }
        }
    };
    while let Ok(update) = updates.try_recv() {
        poster.progress(id, update).await;
    }
    let (body, is_stream) = match result {
        Ok(Output::Value(v)) => (ResultBody::from_output(v), false),
        Ok(Output::Json(j)) => (ResultBody::from_output(j.to_value()), false),
        Ok(Output::Stream(chunks)) => (ResultBody::output(Value::Array(chunks)), true),
        Err(failure) => {
            tracing::warn!(requestId = %id, "job failed: {}", failure.message());
            (
                ResultBody::error(Value::String(failure.to_error_text(worker_id))),
                false,
            )
        }
    };
    if body.error.is_some() && body.output.is_some() {
        tracing::warn!(requestId = %id, "job failed with partial output");
    }
    if poster.result(id, &body, is_stream).await {
        tracing::debug!(requestId = %id, "result posted");
    }
    drop(slot);
    if body.stop_pod {
        ctx.recycle.trigger();
    }
}

/// The final post of a job, in the SDK's key order: `{"output"?, "error"?, "stopPod"?}`.
#[derive(Debug, serde::Serialize)]
pub struct ResultBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(rename = "stopPod", skip_serializing_if = "std::ops::Not::not")]
    pub stop_pod: bool,
}

impl ResultBody {
    fn output(v: Value) -> ResultBody {
        ResultBody {
            output: Some(v),
            error: None,
            stop_pod: false,
        }
    }

    fn error(e: Value) -> ResultBody {
        ResultBody {
            output: None,
            error: Some(e),
            stop_pod: false,
        }
    }

    /// A handler's value, read as the SDK reads a returned dict: an `"error"` key that is set
    /// fails the job and the other keys are its partial output (`{"output": {rest}, "error":
    /// msg}`); `"refresh_worker": true` adds `"stopPod": true` and the worker takes no more jobs.
    pub fn from_output(v: Value) -> ResultBody {
        let Value::Object(mut map) = v else {
            return ResultBody::output(v);
        };
        if !map.contains_key("error") && !map.contains_key("refresh_worker") {
            return ResultBody::output(Value::Object(map));
        }
        let error = map.remove("error").filter(truthy);
        let stop_pod = map.remove("refresh_worker").is_some_and(|r| truthy(&r));
        ResultBody {
            output: Some(Value::Object(map)),
            error,
            stop_pod,
        }
    }
}

/// Python's truthiness, which the SDK applies to `error` and `refresh_worker`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_as_the_sdk_reads_a_returned_dict() {
        let text = |v: Value| serde_json::to_string(&ResultBody::from_output(v)).unwrap();
        assert_eq!(text(json!({"a": 1})), r#"{"output":{"a":1}}"#);
        assert_eq!(text(json!([1])), r#"{"output":[1]}"#);
        assert_eq!(
            text(json!({"error": "bad", "partial": [1]})),
            r#"{"output":{"partial":[1]},"error":"bad"}"#
        );
        assert_eq!(
            text(json!({"error": null, "x": 1})),
            r#"{"output":{"x":1}}"#
        );
        assert_eq!(
            text(json!({"x": 1, "refresh_worker": true})),
            r#"{"output":{"x":1},"stopPod":true}"#
        );
        assert_eq!(
            text(json!({"refresh_worker": false, "x": 1})),
            r#"{"output":{"x":1}}"#
        );
    }
}

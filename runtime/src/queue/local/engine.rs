//! The seam between the queue API and the store that holds the jobs.
//!
//! The HTTP layer (`api.rs`), the workers and webhook delivery (`mod.rs`) and retention see a
//! store only through [`JobStore`]: the in-process [`Store`] (optionally persisted with redb)
//! and the Redis store (`redis.rs`, feature `redis`) both implement it, so adding a third engine
//! is one file with one `impl JobStore`. Every operation is asynchronous because a shared store
//! is a network away; the in-process one answers at once.
//!
//! What each implementation must guarantee (the API's bytes depend on it):
//! - `status` returns the body [`super::store::render`] produces for the job's fields;
//! - a job becomes final once: [`JobStore::finish`] returns the webhook for the call that made
//!   it final and for no other, whichever replica or attempt reports;
//! - an attempt is known by `(id, generation)`: reports of a stale generation (cancelled,
//!   reclaimed, retried) are ignored.

use std::{future::Future, pin::Pin, time::Duration};

use serde_json::Value;

use super::store::{Assignment, NewJob, RetryError, Store, Webhook};
use crate::queue::job::{Failure, Output};

/// A boxed future borrowing the store (object-safe async methods).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The store cannot be reached now; the text says why (the API answers 503 with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a queue's jobs live. See the module documentation for the contract.
pub trait JobStore: Send + Sync + 'static {
    // ---- the API's side ----

    /// Queues a job; its id.
    fn submit(&self, new: NewJob) -> StoreFuture<'_, Result<String, Unavailable>>;

    /// Queues a job and waits up to `wait` for its final body: `(id, Some(body))` when it ended
    /// in time, `(id, None)` when not (the caller then answers the current state).
    fn submit_and_wait(
        &self,
        new: NewJob,
        wait: Duration,
    ) -> StoreFuture<'_, Result<(String, Option<String>), Unavailable>>;

    /// The job's body as `/status` shows it (JSON text); `None` if unknown or expired.
    fn status<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<String>, Unavailable>>;

    /// Stream chunks produced since the last call, in the platform's `/stream` shape.
    fn take_stream<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Result<Option<Value>, Unavailable>>;

    /// Cancels a queued or running job; `None` if unknown.
    fn cancel<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<Value>, Unavailable>>;

    /// Queues a FAILED or TIMED_OUT job again with its retries restored.
    fn retry<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Value, RetryError>>;

    /// Cancels every queued job; how many.
    fn purge(&self) -> StoreFuture<'_, Result<usize, Unavailable>>;

    /// The `/health` body.
    fn health(&self) -> StoreFuture<'_, Result<Value, Unavailable>>;

    /// Why the store cannot be reached now (`/ping` answers 503 with it); `None` when it can.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// Webhooks of jobs the store made final on its own (a shared store failing a job whose
    /// replica died with no retry left); asked once, by the queue's webhook delivery.
    fn orphan_webhooks(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<(String, Webhook)>> {
        None
    }

    // ---- the workers' side ----

    /// Waits for the next job and marks it IN_PROGRESS (a shared store waits out an outage).
    fn next(&self) -> StoreFuture<'_, Assignment>;

    /// Records a progress update of a running attempt.
    fn progress<'a>(&'a self, id: &'a str, generation: u64, value: Value) -> StoreFuture<'a, ()>;

    /// Records a stream chunk for `/stream`.
    fn chunk<'a>(&'a self, id: &'a str, generation: u64, value: Value) -> StoreFuture<'a, ()>;

    /// Records how an attempt ended; the webhook to call when this call made the job final.
    fn finish<'a>(
        &'a self,
        id: &'a str,
        generation: u64,
        result: Result<Output, Failure>,
    ) -> StoreFuture<'a, Option<Webhook>>;

    /// A final job's webhook was delivered or given up on; awaited by the delivery, so a
    /// stopping worker records it before it exits.
    fn webhook_done<'a>(&'a self, _id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(()))
    }

    /// Forgets final jobs whose retention is over (a store that expires by itself does nothing).
    fn sweep(&self) {}

    // ---- shutdown ----

    /// Whether the queue outlives this worker (persisted, or shared with other replicas): then a
    /// stopping worker leaves queued jobs where they are and queues its unfinished attempts
    /// again ([`JobStore::requeue_running`]) instead of failing them.
    fn keeps_queue(&self) -> bool;

    /// Attempts running in this worker now.
    fn running_count(&self) -> usize;

    /// Whether nothing is queued or running (only asked of a queue that is not kept).
    fn is_idle(&self) -> bool;

    /// Jobs queued now, as far as this worker knows (logged at shutdown).
    fn queued_count(&self) -> usize;

    /// Fails every unfinished job with `failure`; the webhooks to call.
    fn fail_unfinished(&self, failure: &Failure) -> Vec<(String, Webhook)>;

    /// Queues this worker's running attempts again (cancelling them); their ids.
    fn requeue_running(&self) -> StoreFuture<'_, Vec<String>>;
}

/// The in-process store: every call is answered at once under its mutex.
impl JobStore for Store {
    fn submit(&self, new: NewJob) -> StoreFuture<'_, Result<String, Unavailable>> {
        let id = Store::submit(self, new, None);
        Box::pin(std::future::ready(Ok(id)))
    }

    fn submit_and_wait(
        &self,
        new: NewJob,
        wait: Duration,
    ) -> StoreFuture<'_, Result<(String, Option<String>), Unavailable>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = Store::submit(self, new, Some(tx));
        Box::pin(async move {
            let body = tokio::time::timeout(wait, rx)
                .await
                .ok()
                .and_then(Result::ok);
            Ok((id, body))
        })
    }

    fn status<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<String>, Unavailable>> {
        Box::pin(std::future::ready(Ok(Store::status(self, id))))
    }

    fn take_stream<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Result<Option<Value>, Unavailable>> {
        Box::pin(std::future::ready(Ok(Store::take_stream(self, id))))
    }

    fn cancel<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<Value>, Unavailable>> {
        Box::pin(std::future::ready(Ok(Store::cancel(self, id))))
    }

    fn retry<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Value, RetryError>> {
        Box::pin(std::future::ready(Store::retry(self, id)))
    }

    fn purge(&self) -> StoreFuture<'_, Result<usize, Unavailable>> {
        Box::pin(std::future::ready(Ok(Store::purge(self))))
    }

    fn health(&self) -> StoreFuture<'_, Result<Value, Unavailable>> {
        Box::pin(std::future::ready(Ok(Store::health(self))))
    }

    fn next(&self) -> StoreFuture<'_, Assignment> {
        Box::pin(Store::next(self))
    }

    fn progress<'a>(&'a self, id: &'a str, generation: u64, value: Value) -> StoreFuture<'a, ()> {
        Store::progress(self, id, generation, value);
        Box::pin(std::future::ready(()))
    }

    fn chunk<'a>(&'a self, id: &'a str, generation: u64, value: Value) -> StoreFuture<'a, ()> {
        Store::chunk(self, id, generation, value);
        Box::pin(std::future::ready(()))
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        generation: u64,
        result: Result<Output, Failure>,
    ) -> StoreFuture<'a, Option<Webhook>> {
        Box::pin(std::future::ready(Store::finish(
            self, id, generation, result,
        )))
    }

    fn webhook_done<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Store::webhook_done(self, id);
        Box::pin(std::future::ready(()))
    }

    fn sweep(&self) {
        Store::sweep(self)
    }

    fn keeps_queue(&self) -> bool {
        self.is_persisted()
    }

    fn running_count(&self) -> usize {
        Store::running_count(self)
    }

    fn is_idle(&self) -> bool {
        Store::is_idle(self)
    }

    fn queued_count(&self) -> usize {
        Store::queued_count(self)
    }

    fn fail_unfinished(&self, failure: &Failure) -> Vec<(String, Webhook)> {
        Store::fail_unfinished(self, failure)
    }

    fn requeue_running(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(std::future::ready(Store::requeue_running(self)))
    }
}

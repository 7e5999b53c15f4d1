//! The local queue's state: every job by id, the FIFO of queued jobs, counters for `/health`,
//! and retention. One mutex guards it all; every operation under it is short and never awaits.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use serde_json::{json, Map, Value};
use tokio::{
    sync::{oneshot, Notify},
    time::Instant,
};

use crate::{
    handler::Args,
    queue::job::{Failure, Output},
};

/// The platform's job states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    InQueue,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    TimedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::InQueue => "IN_QUEUE",
            Status::InProgress => "IN_PROGRESS",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
            Status::TimedOut => "TIMED_OUT",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Status::InQueue | Status::InProgress)
    }
}

/// A job as submitted.
pub struct NewJob {
    pub args: Args,
    pub webhook: Option<String>,
    pub timeout: Option<Duration>,
    /// `policy.ttl`: the job's whole lifetime, queue time included.
    pub ttl: Option<Duration>,
    /// `/runsync` jobs are kept a shorter time than `/run` jobs, like on the platform.
    pub sync: bool,
}

struct Job {
    args: Args,
    webhook: Option<String>,
    timeout: Option<Duration>,
    ttl: Option<Duration>,
    /// When the job was submitted or last retried through `/retry`; its ttl counts from here.
    submitted_at: Instant,
    sync: bool,
    status: Status,
    /// The latest progress update while running.
    output: Option<Value>,
    /// The final output, serialized: a retained result is read rarely, and a parsed `Value`
    /// costs several times its text in memory (maps allocate whole B-tree nodes).
    kept_output: Option<Box<str>>,
    error: Option<String>,
    queued_at: Instant,
    started_at: Option<Instant>,
    delay_ms: Option<u64>,
    exec_ms: Option<u64>,
    attempts_left: u32,
    /// Stream chunks not yet fetched through `/stream`.
    chunks: Vec<Value>,
    /// `/runsync` callers waiting for the final state.
    waiters: Vec<oneshot::Sender<Value>>,
    /// Fires the running attempt's cancellation.
    cancel: Option<oneshot::Sender<()>>,
    /// Bumped at every (re)queue so a stale attempt or queue entry is recognised and ignored.
    generation: u64,
    expires_at: Option<Instant>,
    /// Bytes this final job counts against the retention limit.
    retained: usize,
}

#[derive(Default)]
struct Inner {
    /// Boxed so that growing the map moves small entries: under load it holds hundreds of
    /// thousands of retained results, and moving whole jobs stalled every caller for ~50 ms.
    jobs: HashMap<String, Box<Job>>,
    /// Ids with the generation they were queued in; entries of cancelled or purged jobs stay
    /// until popped and are skipped then (cheaper than searching the queue on every cancel).
    queue: VecDeque<(String, u64)>,
    /// Finished jobs in finishing order per retention class, so expiry pops from the front.
    expiry: [VecDeque<(Instant, String)>; 2],
    in_queue: usize,
    running: usize,
    completed: u64,
    failed: u64,
    retried: u64,
    /// Bytes of final jobs kept for `/status`, against `Store::retain_bytes`.
    retained: usize,
    /// Whether dropping results early has been logged.
    warned_retention: bool,
}

/// One job handed to a worker.
pub struct Assignment {
    pub id: String,
    pub args: Args,
    pub timeout: Option<Duration>,
    pub generation: u64,
    pub cancelled: oneshot::Receiver<()>,
    /// Set when the job's ttl ran out in the queue: the worker records that instead of running it.
    pub expired: Option<Duration>,
}

/// A final job whose webhook must be called.
pub struct Webhook {
    pub url: String,
    pub body: Value,
}

pub struct Store {
    inner: Mutex<Inner>,
    work: Notify,
    retries: u32,
    workers: usize,
    ttl: [Duration; 2],
    retain_bytes: usize,
}

/// Why `/retry` refused.
pub enum RetryError {
    NotFound,
    NotRetryable(Status),
}

impl Store {
    pub fn new(workers: usize, retries: u32, run_ttl: Duration, runsync_ttl: Duration) -> Self {
        Store {
            inner: Mutex::new(Inner::default()),
            work: Notify::new(),
            retries,
            workers,
            ttl: [run_ttl, runsync_ttl],
            retain_bytes: usize::MAX,
        }
    }

    /// Bounds retained final results by bytes as well as by time (`FLASH_QUEUE_RETAIN_BYTES`).
    pub fn retain_bytes(mut self, limit: usize) -> Self {
        self.retain_bytes = limit;
        self
    }

    /// Bytes of final results kept now.
    pub fn retained_bytes(&self) -> usize {
        self.lock().retained
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing under the lock can panic halfway through an update; a poisoned lock still
        // holds consistent data.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a job; `waiter` (for `/runsync`) receives the job's body once it is final.
    pub fn submit(&self, new: NewJob, waiter: Option<oneshot::Sender<Value>>) -> String {
        let prefix = if new.sync { "sync-" } else { "" };
        let id = format!("{prefix}{}", uuid::Uuid::new_v4());
        let job = Job {
            args: new.args,
            webhook: new.webhook,
            timeout: new.timeout,
            ttl: new.ttl,
            submitted_at: Instant::now(),
            sync: new.sync,
            status: Status::InQueue,
            output: None,
            kept_output: None,
            error: None,
            queued_at: Instant::now(),
            started_at: None,
            delay_ms: None,
            exec_ms: None,
            attempts_left: self.retries,
            chunks: Vec::new(),
            waiters: waiter.into_iter().collect(),
            cancel: None,
            generation: 0,
            expires_at: None,
            retained: 0,
        };
        {
            let mut inner = self.lock();
            inner.jobs.insert(id.clone(), Box::new(job));
            inner.queue.push_back((id.clone(), 0));
            inner.in_queue += 1;
        }
        self.work.notify_one();
        id
    }

    /// Waits for the next queued job and marks it IN_PROGRESS.
    pub async fn next(&self) -> Assignment {
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            // Registered before looking, so a job queued in between wakes us.
            notified.as_mut().enable();
            if let Some(a) = self.try_next() {
                return a;
            }
            notified.await;
        }
    }

    fn try_next(&self) -> Option<Assignment> {
        let mut inner = self.lock();
        while let Some((id, generation)) = inner.queue.pop_front() {
            let Some(job) = inner.jobs.get_mut(&id) else {
                continue;
            };
            if job.status != Status::InQueue || job.generation != generation {
                continue;
            }
            let now = Instant::now();
            let (tx, rx) = oneshot::channel();
            job.status = Status::InProgress;
            job.started_at = Some(now);
            job.delay_ms = Some(ms(now - job.queued_at));
            job.cancel = Some(tx);
            // The ttl bounds the whole lifetime: what is left of it caps the execution time.
            let left = job
                .ttl
                .map(|ttl| (ttl, (job.submitted_at + ttl).saturating_duration_since(now)));
            let expired = left.filter(|(_, left)| left.is_zero()).map(|(ttl, _)| ttl);
            let timeout = match (job.timeout, left) {
                (Some(t), Some((_, l))) => Some(t.min(l)),
                (t, l) => t.or(l.map(|(_, l)| l)),
            };
            let a = Assignment {
                args: if expired.is_some() {
                    Args::new()
                } else {
                    job.args.clone()
                },
                timeout,
                generation,
                cancelled: rx,
                expired,
                id,
            };
            inner.in_queue -= 1;
            inner.running += 1;
            return Some(a);
        }
        None
    }

    /// Records a progress update of a running attempt; `/status` shows it as `output`.
    pub fn progress(&self, id: &str, generation: u64, value: Value) {
        if let Some(job) = self.lock().jobs.get_mut(id) {
            if job.status == Status::InProgress && job.generation == generation {
                job.output = Some(value);
            }
        }
    }

    /// Records a stream chunk for `/stream`.
    pub fn chunk(&self, id: &str, generation: u64, value: Value) {
        if let Some(job) = self.lock().jobs.get_mut(id) {
            if job.status == Status::InProgress && job.generation == generation {
                job.chunks.push(value);
            }
        }
    }

    /// Records how an attempt ended: COMPLETED, queued again (retries left), FAILED or
    /// TIMED_OUT. Returns the webhook to call when the job became final.
    pub fn finish(
        &self,
        id: &str,
        generation: u64,
        result: Result<Output, Failure>,
    ) -> Option<Webhook> {
        let mut requeued = false;
        let hook = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let job = inner.jobs.get_mut(id)?;
            // A cancelled (or purged) attempt that ran to its end anyway reports nothing.
            if job.status != Status::InProgress || job.generation != generation {
                return None;
            }
            let now = Instant::now();
            inner.running -= 1;
            job.cancel = None;
            job.exec_ms = job.started_at.map(|s| ms(now - s));
            match result {
                Ok(out) => {
                    // A returned object is read as on the platform (and by the SDK): a set
                    // `"error"` fails the job with the other keys as partial output;
                    // `"refresh_worker"` is dropped (a local worker is not recycled).
                    let body = match out {
                        Output::Value(v) => crate::queue::platform::ResultBody::from_output(v),
                        stream => crate::queue::platform::ResultBody {
                            output: Some(stream.into_value()),
                            error: None,
                            stop_pod: false,
                        },
                    };
                    if let Some(error) = body.error {
                        tracing::warn!(requestId = %id, "job failed with partial output");
                        job.status = Status::Failed;
                        job.output = body.output;
                        job.error = Some(match error {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                        inner.failed += 1;
                        return finalize(inner, id, now, self.ttl, self.retain_bytes);
                    }
                    job.status = Status::Completed;
                    job.output = body.output;
                    // Only FAILED and TIMED_OUT jobs can be retried: the input is not needed
                    // any more, and retained `/runsync` results add up fast under load.
                    job.args = Args::new();
                    inner.completed += 1;
                }
                Err(f) if f.is_retryable() && job.attempts_left > 0 => {
                    tracing::warn!(requestId = %id, "attempt failed ({}); retrying", f.message());
                    job.attempts_left -= 1;
                    job.generation += 1;
                    job.status = Status::InQueue;
                    job.output = None;
                    job.chunks.clear();
                    job.queued_at = now;
                    inner.queue.push_back((id.to_string(), job.generation));
                    inner.in_queue += 1;
                    inner.retried += 1;
                    requeued = true;
                }
                Err(f) => {
                    tracing::warn!(requestId = %id, "job failed: {}", f.message());
                    job.status = if f.is_timeout() {
                        Status::TimedOut
                    } else {
                        Status::Failed
                    };
                    job.output = None;
                    job.error = Some(f.to_error_text("local"));
                    inner.failed += 1;
                }
            }
            if requeued {
                None
            } else {
                finalize(inner, id, now, self.ttl, self.retain_bytes)
            }
        };
        if requeued {
            self.work.notify_one();
        }
        hook
    }

    /// The job's body as `/status` shows it; `None` if unknown or expired.
    pub fn status(&self, id: &str) -> Option<Value> {
        let inner = self.lock();
        let job = inner.jobs.get(id)?;
        if job.expires_at.is_some_and(|t| t <= Instant::now()) {
            return None;
        }
        Some(render(id, job))
    }

    /// Chunks produced since the last call, in the platform's `/stream` shape.
    pub fn take_stream(&self, id: &str) -> Option<Value> {
        let mut inner = self.lock();
        let job = inner.jobs.get_mut(id)?;
        let stream: Vec<Value> = job
            .chunks
            .drain(..)
            .map(|c| json!({ "output": c }))
            .collect();
        Some(json!({ "id": id, "status": job.status.as_str(), "stream": stream }))
    }

    /// Cancels a queued or running job. A final job keeps its state; the reply says which.
    pub fn cancel(&self, id: &str) -> Option<Value> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let job = inner.jobs.get_mut(id)?;
        let now = Instant::now();
        match job.status {
            Status::InQueue => inner.in_queue -= 1,
            Status::InProgress => {
                inner.running -= 1;
                if let Some(tx) = job.cancel.take() {
                    let _ = tx.send(());
                }
                job.exec_ms = job.started_at.map(|s| ms(now - s));
            }
            _ => return Some(json!({ "id": id, "status": job.status.as_str() })),
        }
        job.status = Status::Cancelled;
        job.output = None;
        // A cancelled job calls no webhook: the caller asked for it.
        let _ = finalize(inner, id, now, self.ttl, self.retain_bytes);
        Some(json!({ "id": id, "status": "CANCELLED" }))
    }

    /// Queues a FAILED or TIMED_OUT job again with its retries restored.
    pub fn retry(&self, id: &str) -> Result<Value, RetryError> {
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let job = inner.jobs.get_mut(id).ok_or(RetryError::NotFound)?;
            if !matches!(job.status, Status::Failed | Status::TimedOut) {
                return Err(RetryError::NotRetryable(job.status));
            }
            job.status = Status::InQueue;
            job.generation += 1;
            job.attempts_left = self.retries;
            inner.retained -= std::mem::take(&mut job.retained);
            job.output = None;
            job.kept_output = None;
            job.error = None;
            job.chunks.clear();
            job.delay_ms = None;
            job.exec_ms = None;
            job.started_at = None;
            job.expires_at = None;
            job.queued_at = Instant::now();
            job.submitted_at = job.queued_at;
            inner.queue.push_back((id.to_string(), job.generation));
            inner.in_queue += 1;
            inner.retried += 1;
        }
        self.work.notify_one();
        Ok(json!({ "id": id, "status": "IN_QUEUE" }))
    }

    /// Cancels every queued job (running ones go on); returns how many.
    pub fn purge(&self) -> usize {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = Instant::now();
        let queued: Vec<String> = inner.queue.drain(..).map(|(id, _)| id).collect();
        let mut removed = 0;
        for id in queued {
            if inner
                .jobs
                .get(&id)
                .is_some_and(|j| j.status == Status::InQueue)
            {
                if let Some(job) = inner.jobs.get_mut(&id) {
                    job.status = Status::Cancelled;
                }
                let _ = finalize(inner, &id, now, self.ttl, self.retain_bytes);
                removed += 1;
            }
        }
        inner.in_queue = 0;
        removed
    }

    /// Whether no job is queued or running.
    pub fn is_idle(&self) -> bool {
        let inner = self.lock();
        inner.in_queue == 0 && inner.running == 0
    }

    /// At the end of the shutdown grace: every job still queued or running ends FAILED with
    /// `failure` (running attempts are cancelled), each logged with its id. Returns the
    /// webhooks to call, so no accepted job vanishes without a word.
    pub fn fail_unfinished(&self, failure: &Failure) -> Vec<(String, Webhook)> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = Instant::now();
        let ids: Vec<String> = inner
            .jobs
            .iter()
            .filter(|(_, j)| !j.status.is_final())
            .map(|(id, _)| id.clone())
            .collect();
        let text = failure.to_error_text("local");
        let mut hooks = Vec::new();
        for id in ids {
            let Some(job) = inner.jobs.get_mut(&id) else {
                continue;
            };
            let was = job.status;
            match was {
                Status::InQueue => inner.in_queue -= 1,
                _ => {
                    inner.running -= 1;
                    if let Some(tx) = job.cancel.take() {
                        let _ = tx.send(());
                    }
                    job.exec_ms = job.started_at.map(|s| ms(now - s));
                }
            }
            job.status = Status::Failed;
            job.output = None;
            job.error = Some(text.clone());
            job.generation += 1;
            inner.failed += 1;
            tracing::error!(
                requestId = %id,
                "job {} when the worker stopped: FAILED ({})",
                if was == Status::InQueue { "still queued" } else { "still running" },
                failure.message()
            );
            if let Some(hook) = finalize(inner, &id, now, self.ttl, self.retain_bytes) {
                hooks.push((id, hook));
            }
        }
        inner.queue.clear();
        hooks
    }

    /// The `/health` body.
    pub fn health(&self) -> Value {
        let inner = self.lock();
        json!({
            "jobs": {
                "completed": inner.completed,
                "failed": inner.failed,
                "inProgress": inner.running,
                "inQueue": inner.in_queue,
                "retried": inner.retried,
            },
            "workers": {
                "idle": self.workers.saturating_sub(inner.running),
                "running": inner.running.min(self.workers),
            }
        })
    }

    /// Forgets final jobs whose retention is over.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        for class in 0..2 {
            while let Some((at, _)) = inner.expiry[class].front() {
                if *at > now {
                    break;
                }
                let Some((at, id)) = inner.expiry[class].pop_front() else {
                    break;
                };
                drop_if_due(inner, &id, at);
            }
        }
    }

    /// Number of jobs held (queued, running and retained); for tests of retention.
    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Jobs running now.
    pub fn running_count(&self) -> usize {
        self.lock().running
    }
}

/// Marks a job final: schedules its expiry, wakes `/runsync` waiters, and returns its webhook.
fn finalize(
    inner: &mut Inner,
    id: &str,
    now: Instant,
    ttl: [Duration; 2],
    retain: usize,
) -> Option<Webhook> {
    let hook = finalize_one(inner, id, now, ttl);
    evict(inner, retain);
    hook
}

/// Drops the final jobs closest to their expiry while the retained bytes exceed `retain`.
fn evict(inner: &mut Inner, retain: usize) {
    while inner.retained > retain {
        let class = match (inner.expiry[0].front(), inner.expiry[1].front()) {
            (Some((a, _)), Some((b, _))) => usize::from(b < a),
            (Some(_), None) => 0,
            (None, Some(_)) => 1,
            (None, None) => return,
        };
        let Some((at, id)) = inner.expiry[class].pop_front() else {
            return;
        };
        if drop_if_due(inner, &id, at) && !inner.warned_retention {
            inner.warned_retention = true;
            tracing::warn!(
                limit = retain,
                "retained results passed FLASH_QUEUE_RETAIN_BYTES: the oldest are dropped before their retention ends"
            );
        }
    }
}

/// Drops job `id` if `at` is still its deadline (a job retried since has another deadline or
/// none), releasing its retained bytes. Whether it was dropped.
fn drop_if_due(inner: &mut Inner, id: &str, at: Instant) -> bool {
    if inner.jobs.get(id).is_none_or(|j| j.expires_at != Some(at)) {
        return false;
    }
    if let Some(job) = inner.jobs.remove(id) {
        inner.retained -= job.retained;
    }
    true
}

fn finalize_one(inner: &mut Inner, id: &str, now: Instant, ttl: [Duration; 2]) -> Option<Webhook> {
    let job = inner.jobs.get_mut(id)?;
    let class = usize::from(job.sync);
    let at = now + ttl[class];
    job.expires_at = Some(at);
    // Only FAILED and TIMED_OUT jobs can be retried and need their input; a cancelled or purged
    // job's input (up to 10 MB each) is freed now, not when its retention ends.
    if !matches!(job.status, Status::Failed | Status::TimedOut) {
        job.args = Args::new();
    }
    // A completed job's chunks stay readable through `/stream`; a cancelled one's are dropped.
    if job.status == Status::Cancelled {
        job.chunks = Vec::new();
    }
    let output = job.output.take();
    let body = render_with(id, job, output);
    job.kept_output = body.get("output").map(|o| o.to_string().into_boxed_str());
    // What staying costs: the id (map key and expiry entry), the result, the error, the input
    // kept for `/retry`, unread chunks, and the entry itself.
    let size = 2 * id.len()
        + job.kept_output.as_deref().map_or(0, str::len)
        + job.error.as_deref().map_or(0, str::len)
        + if job.args.is_empty() {
            0
        } else {
            serde_json::to_string(&job.args).map_or(0, |t| t.len())
        }
        + job
            .chunks
            .iter()
            .map(|c| c.to_string().len())
            .sum::<usize>()
        + std::mem::size_of::<Job>()
        + 64;
    inner.retained += size;
    job.retained = size;
    let hook_url = match (&job.webhook, job.status) {
        (Some(url), Status::Completed | Status::Failed | Status::TimedOut) => Some(url.clone()),
        _ => None,
    };
    let mut waiters = std::mem::take(&mut job.waiters);
    // The last receiver takes the body itself unless the webhook still needs it.
    let last = if hook_url.is_none() {
        waiters.pop()
    } else {
        None
    };
    for w in waiters {
        let _ = w.send(body.clone());
    }
    inner.expiry[class].push_back((at, id.to_string()));
    match hook_url {
        Some(url) => Some(Webhook { url, body }),
        None => {
            if let Some(w) = last {
                let _ = w.send(body);
            }
            None
        }
    }
}

/// The job's body as `/status` shows it.
fn render(id: &str, job: &Job) -> Value {
    let output = match (&job.output, &job.kept_output) {
        (Some(progress), _) => Some(progress.clone()),
        // Written by `finalize` from a `Value`, so it parses back.
        (None, Some(text)) => serde_json::from_str(text).ok(),
        (None, None) => None,
    };
    render_with(id, job, output)
}

fn render_with(id: &str, job: &Job, output: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), Value::String(id.to_string()));
    m.insert("status".into(), Value::String(job.status.as_str().into()));
    if let Some(d) = job.delay_ms {
        m.insert("delayTime".into(), d.into());
    }
    if let Some(e) = job.exec_ms {
        m.insert("executionTime".into(), e.into());
    }
    if let Some(o) = output {
        m.insert("output".into(), o);
    }
    if let Some(e) = &job.error {
        m.insert("error".into(), Value::String(e.clone()));
    }
    Value::Object(m)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_job(n: usize) -> NewJob {
        let mut args = Args::new();
        args.insert("blob".into(), Value::String("x".repeat(n)));
        NewJob {
            args,
            webhook: None,
            timeout: None,
            ttl: None,
            sync: false,
        }
    }

    fn held_input(store: &Store) -> usize {
        store
            .lock()
            .jobs
            .values()
            .map(|j| {
                j.args
                    .get("blob")
                    .and_then(Value::as_str)
                    .map_or(0, str::len)
            })
            .sum()
    }

    /// Cancelled and purged jobs free their input at once (three rounds of 40 × 5 MB purged
    /// jobs once held 670 MB for their whole retention).
    #[tokio::test]
    async fn cancelled_and_purged_jobs_free_their_input() {
        let store = Store::new(1, 0, Duration::from_secs(1800), Duration::from_secs(60));
        let ids: Vec<String> = (0..4).map(|_| store.submit(new_job(1000), None)).collect();
        assert_eq!(held_input(&store), 4000);
        store.cancel(&ids[0]);
        assert_eq!(held_input(&store), 3000);
        assert_eq!(store.purge(), 3);
        assert_eq!(held_input(&store), 0);
        // Still reported as CANCELLED during their retention.
        assert_eq!(store.status(&ids[1]).unwrap()["status"], "CANCELLED");
    }

    /// Retained results are bounded by bytes: past the limit the ones closest to expiry go.
    #[tokio::test]
    async fn retained_results_are_bounded_by_bytes() {
        let store = Store::new(1, 0, Duration::from_secs(1800), Duration::from_secs(60))
            .retain_bytes(20_000);
        let mut ids = Vec::new();
        for _ in 0..50 {
            let id = store.submit(new_job(10), None);
            let a = store.next().await;
            store.finish(
                &a.id,
                a.generation,
                Ok(Output::Value(json!("y".repeat(1000)))),
            );
            ids.push(id);
        }
        assert!(
            store.retained_bytes() <= 20_000,
            "{}",
            store.retained_bytes()
        );
        assert!(store.len() < 50 && store.len() > 5, "{}", store.len());
        // The newest are kept, the oldest went first.
        assert!(store.status(ids.last().unwrap()).is_some());
        assert!(store.status(&ids[0]).is_none());
        store.sweep();
        assert_eq!(store.health()["jobs"]["completed"], 50);
    }

    #[tokio::test]
    async fn unfinished_jobs_fail_at_shutdown_with_a_webhook() {
        let store = Store::new(1, 0, Duration::from_secs(1800), Duration::from_secs(60));
        let mut job = new_job(10);
        job.webhook = Some("http://127.0.0.1:9/h".into());
        let id = store.submit(job, None);
        let queued = store.submit(new_job(10), None);
        let running = store.next().await;
        assert_eq!(running.id, id);
        let hooks = store.fail_unfinished(&Failure::Shutdown(Duration::from_secs(1)));
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].1.body["status"], "FAILED");
        assert!(store.is_idle());
        assert_eq!(store.status(&queued).unwrap()["status"], "FAILED");
        assert_eq!(store.health()["jobs"]["failed"], 2);
    }
}

//! The local queue's state: every job by id, the FIFO of queued jobs, counters for `/health`,
//! and retention. One mutex guards it all; every operation under it is short and never awaits.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use serde_json::{json, Value};
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
    waiters: Vec<oneshot::Sender<String>>,
    /// Fires the running attempt's cancellation.
    cancel: Option<oneshot::Sender<()>>,
    /// Bumped at every (re)queue so a stale attempt or queue entry is recognised and ignored.
    generation: u64,
    expires_at: Option<Instant>,
    /// Bytes this final job counts against the retention limit.
    retained: usize,
    /// Position in the FIFO, kept in the persisted record so a restart queues in the same order
    /// (a job queued again at the end gets a new one).
    seq: i64,
    /// A final job whose webhook has not been delivered yet (persisted queues only).
    hook_pending: bool,
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
    /// Ids whose persisted record is out of date; `Some` only when the queue is persisted.
    dirty: Option<HashSet<String>>,
    /// The next FIFO position ([`Job::seq`]).
    next_seq: i64,
}

/// Records that job `id` changed, for the persisted queue's next write.
fn mark(dirty: &mut Option<HashSet<String>>, id: &str) {
    if let Some(dirty) = dirty {
        if !dirty.contains(id) {
            dirty.insert(id.to_string());
        }
    }
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
    /// The job's final body, JSON text.
    pub body: String,
    /// Sent as `Idempotency-Key`: the same for every delivery of one final status (a retry after
    /// a failed POST, or another replica's after this one died), so a receiver can drop repeats.
    pub key: String,
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
    /// The store cannot be reached now (a shared store).
    Unavailable(String),
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

    /// Tracks changes for persistence ([`Store::take_changes`]).
    pub fn persisted(self) -> Self {
        self.lock().dirty = Some(HashSet::new());
        self
    }

    /// Whether changes are tracked for a persisted queue.
    pub fn is_persisted(&self) -> bool {
        self.lock().dirty.is_some()
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
    pub fn submit(&self, new: NewJob, waiter: Option<oneshot::Sender<String>>) -> String {
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
            seq: 0,
            hook_pending: false,
        };
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let mut job = Box::new(job);
            job.seq = inner.next_seq;
            inner.next_seq += 1;
            mark(&mut inner.dirty, &id);
            inner.jobs.insert(id.clone(), job);
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
        let mut guard = self.lock();
        let inner = &mut *guard;
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
            mark(&mut inner.dirty, &a.id);
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
            mark(&mut inner.dirty, id);
            match Settled::of(result) {
                Settled::FailedWithOutput { output, error } => {
                    tracing::warn!(requestId = %id, "job failed with partial output");
                    job.status = Status::Failed;
                    job.output = None;
                    job.kept_output = output.map(String::into_boxed_str);
                    job.error = Some(error);
                    inner.failed += 1;
                    return finalize(inner, id, now, self.ttl, self.retain_bytes);
                }
                Settled::Completed(output) => {
                    job.status = Status::Completed;
                    job.output = None;
                    job.kept_output = output.map(String::into_boxed_str);
                    // Only FAILED and TIMED_OUT jobs can be retried: the input is not needed
                    // any more, and retained `/runsync` results add up fast under load.
                    job.args = Args::new();
                    inner.completed += 1;
                }
                Settled::Failed {
                    message,
                    retryable: true,
                    ..
                } if job.attempts_left > 0 => {
                    tracing::warn!(requestId = %id, "attempt failed ({message}); retrying");
                    job.attempts_left -= 1;
                    job.generation += 1;
                    job.status = Status::InQueue;
                    job.output = None;
                    job.chunks.clear();
                    job.queued_at = now;
                    job.seq = inner.next_seq;
                    inner.next_seq += 1;
                    inner.queue.push_back((id.to_string(), job.generation));
                    inner.in_queue += 1;
                    inner.retried += 1;
                    requeued = true;
                }
                Settled::Failed {
                    status,
                    error,
                    message,
                    ..
                } => {
                    tracing::warn!(requestId = %id, "job failed: {message}");
                    job.status = status;
                    job.output = None;
                    job.error = Some(error);
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

    /// The job's body as `/status` shows it (JSON text); `None` if unknown or expired.
    pub fn status(&self, id: &str) -> Option<String> {
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
            job.seq = inner.next_seq;
            job.hook_pending = false;
            inner.next_seq += 1;
            mark(&mut inner.dirty, id);
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

    /// Persisted queues, at shutdown: every running attempt is cancelled and its job queued again
    /// at the front, in the order the jobs were queued, so the next start runs it first. Returns
    /// their ids.
    pub fn requeue_running(&self) -> Vec<String> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut running: Vec<(i64, String)> = inner
            .jobs
            .iter()
            .filter(|(_, j)| j.status == Status::InProgress)
            .map(|(id, j)| (j.seq, id.clone()))
            .collect();
        running.sort();
        let front = inner
            .jobs
            .values()
            .filter(|j| j.status == Status::InQueue)
            .map(|j| j.seq)
            .min()
            .unwrap_or(inner.next_seq);
        let n = running.len() as i64;
        let now = Instant::now();
        for (i, (_, id)) in running.iter().enumerate().rev() {
            let Some(job) = inner.jobs.get_mut(id) else {
                continue;
            };
            if let Some(tx) = job.cancel.take() {
                let _ = tx.send(());
            }
            job.status = Status::InQueue;
            job.generation += 1;
            job.seq = front - n + i as i64;
            job.output = None;
            job.chunks.clear();
            job.started_at = None;
            job.delay_ms = None;
            job.exec_ms = None;
            job.queued_at = now;
            inner.queue.push_front((id.clone(), job.generation));
            inner.running -= 1;
            inner.in_queue += 1;
            mark(&mut inner.dirty, id);
        }
        running.into_iter().map(|(_, id)| id).collect()
    }

    /// Jobs queued now.
    pub fn queued_count(&self) -> usize {
        self.lock().in_queue
    }

    /// A final job's webhook was delivered (or given up on): a restart need not mention it.
    pub fn webhook_done(&self, id: &str) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if let Some(job) = inner.jobs.get_mut(id) {
            if job.hook_pending {
                job.hook_pending = false;
                mark(&mut inner.dirty, id);
            }
        }
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
    mark(&mut inner.dirty, id);
    true
}

fn finalize_one(inner: &mut Inner, id: &str, now: Instant, ttl: [Duration; 2]) -> Option<Webhook> {
    mark(&mut inner.dirty, id);
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
    // The final output is kept as text: a retained result is read rarely, and a parsed `Value`
    // costs several times its text in memory. Output a handler serialized is text already.
    if let Some(output) = job.output.take() {
        job.kept_output = Some(output.to_string().into_boxed_str());
    }
    let body = render(id, job);
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
    job.hook_pending = hook_url.is_some();
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
        Some(url) => Some(Webhook {
            url,
            body,
            key: format!("{id}.{}", job.generation),
        }),
        None => {
            if let Some(w) = last {
                let _ = w.send(body);
            }
            None
        }
    }
}

/// The job's body as `/status` shows it, as JSON text: `delayTime`, `error`, `executionTime`,
/// `id`, `output`, `status` (the platform's key order); the output is the latest progress
/// update while running, else the kept output's text as it is.
fn render(id: &str, job: &Job) -> String {
    let progress = job.output.as_ref().map(Value::to_string);
    render_view(
        id,
        &View {
            delay_ms: job.delay_ms,
            error: job.error.as_deref(),
            exec_ms: job.exec_ms,
            output: progress.as_deref().or(job.kept_output.as_deref()),
            status: job.status.as_str(),
        },
    )
}

/// The fields of a job that `/status` shows, wherever the job is kept.
pub struct View<'a> {
    pub delay_ms: Option<u64>,
    pub error: Option<&'a str>,
    pub exec_ms: Option<u64>,
    /// JSON text: the latest progress update while running, else the final output.
    pub output: Option<&'a str>,
    pub status: &'a str,
}

/// A job's `/status` body, as JSON text, in the platform's key order. Every store renders
/// through this one function, so the bytes do not depend on where the job is kept.
pub fn render_view(id: &str, view: &View<'_>) -> String {
    let View {
        delay_ms,
        error,
        exec_ms,
        output,
        status,
    } = *view;
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    let mut out = String::with_capacity(96 + id.len() + output.map_or(0, str::len));
    let mut sep = '{';
    let mut field = |out: &mut String, key: &str, value: &str| {
        out.push(sep);
        sep = ',';
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out.push_str(value);
    };
    if let Some(d) = delay_ms {
        field(&mut out, "delayTime", &d.to_string());
    }
    if let Some(e) = error {
        field(&mut out, "error", &quote(e));
    }
    if let Some(e) = exec_ms {
        field(&mut out, "executionTime", &e.to_string());
    }
    field(&mut out, "id", &quote(id));
    if let Some(o) = output {
        field(&mut out, "output", o);
    }
    field(&mut out, "status", &quote(status));
    out.push('}');
    out
}

/// How an attempt ended, read as the platform reads a worker's result, whatever store keeps it.
pub enum Settled {
    /// COMPLETED with this output (JSON text), if any.
    Completed(Option<String>),
    /// The handler returned an object with a set `"error"`: FAILED, the other keys kept as
    /// partial output (JSON text). Not retried.
    FailedWithOutput {
        output: Option<String>,
        error: String,
    },
    /// The attempt failed; `retryable` says whether retries left may run it again.
    Failed {
        status: Status,
        /// The error as `/status` shows it.
        error: String,
        /// For the log.
        message: String,
        retryable: bool,
    },
}

impl Settled {
    pub fn of(result: Result<Output, Failure>) -> Settled {
        match result {
            Ok(out) => {
                // A returned object is read as on the platform (and by the SDK): a set
                // `"error"` fails the job with the other keys as partial output;
                // `"refresh_worker"` is dropped (a local worker is not recycled).
                let body = match out {
                    Output::Value(v) => crate::queue::platform::ResultBody::from_output(v),
                    // Serialized by the handler: kept as its text (fields in their order)
                    // unless it may carry the keys read above.
                    Output::Json(j) if !may_carry_result_keys(j.as_str()) => {
                        return Settled::Completed(Some(j.into_string()))
                    }
                    Output::Json(j) => {
                        crate::queue::platform::ResultBody::from_output(j.to_value())
                    }
                    stream => crate::queue::platform::ResultBody {
                        output: Some(stream.into_value()),
                        error: None,
                        stop_pod: false,
                    },
                };
                let output = body.output.map(|v| v.to_string());
                match body.error {
                    Some(error) => Settled::FailedWithOutput {
                        output,
                        error: match error {
                            Value::String(s) => s,
                            other => other.to_string(),
                        },
                    },
                    None => Settled::Completed(output),
                }
            }
            Err(f) => Settled::Failed {
                status: if f.is_timeout() {
                    Status::TimedOut
                } else {
                    Status::Failed
                },
                error: f.to_error_text("local"),
                message: f.message(),
                retryable: f.is_retryable(),
            },
        }
    }
}

/// Whether a handler's serialized output may have a top-level `"error"` or `"refresh_worker"`
/// key (which the platform reads): then it is parsed; else it is kept as it is.
fn may_carry_result_keys(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && (text.contains("\"error\"") || text.contains("\"refresh_worker\""))
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

    fn status_of(store: &Store, id: &str) -> Option<Value> {
        store
            .status(id)
            .map(|text| serde_json::from_str(&text).unwrap())
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
        assert_eq!(status_of(&store, &ids[1]).unwrap()["status"], "CANCELLED");
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
        assert!(status_of(&store, ids.last().unwrap()).is_some());
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
        let body: Value = serde_json::from_str(&hooks[0].1.body).unwrap();
        assert_eq!(body["status"], "FAILED");
        assert!(store.is_idle());
        assert_eq!(status_of(&store, &queued).unwrap()["status"], "FAILED");
        assert_eq!(store.health()["jobs"]["failed"], 2);
    }
}

/// Persistence: the record of one job in the store file, and loading them back.
#[cfg(feature = "persist")]
mod records {
    use std::time::{SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Serialize};

    use super::*;

    /// One job as the store file keeps it. Times are Unix milliseconds (an `Instant` means
    /// nothing to the next process). Unread stream chunks and progress updates are not kept.
    #[derive(Serialize, Deserialize)]
    pub struct Record {
        seq: i64,
        status: String,
        #[serde(default, skip_serializing_if = "Args::is_empty")]
        args: Args,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        webhook: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hook_pending: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_ms: Option<u64>,
        submitted: u64,
        sync: bool,
        attempts_left: u32,
        /// The final output as JSON text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exec_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires: Option<u64>,
    }

    fn unix_now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, ms)
    }

    /// `at` as Unix milliseconds, given `now` in both clocks.
    fn to_unix(at: Instant, now: Instant, unix: u64) -> u64 {
        if at >= now {
            unix.saturating_add(ms(at - now))
        } else {
            unix.saturating_sub(ms(now - at))
        }
    }

    fn from_unix(at: u64, now: Instant, unix: u64) -> Instant {
        if at >= unix {
            now + Duration::from_millis(at - unix)
        } else {
            now.checked_sub(Duration::from_millis(unix - at))
                .unwrap_or(now)
        }
    }

    fn parse_status(s: &str) -> Option<Status> {
        Some(match s {
            "IN_QUEUE" => Status::InQueue,
            "IN_PROGRESS" => Status::InProgress,
            "COMPLETED" => Status::Completed,
            "FAILED" => Status::Failed,
            "CANCELLED" => Status::Cancelled,
            "TIMED_OUT" => Status::TimedOut,
            _ => return None,
        })
    }

    /// What loading the store found.
    #[derive(Debug, Default)]
    pub struct Restored {
        /// Queued again in FIFO order.
        pub queued: usize,
        /// Were running when the last worker stopped; queued again at the front.
        pub interrupted: Vec<String>,
        /// Final jobs kept for the rest of their retention.
        pub finished: usize,
        /// Final jobs whose retention ended while no worker ran; removed.
        pub expired: usize,
        /// Final jobs whose webhook was still pending; not delivered now.
        pub hooks_dropped: Vec<String>,
        /// Records that did not parse; removed.
        pub unreadable: Vec<String>,
    }

    impl Store {
        /// The records changed since the last call: `(id, Some(record))` to write, `(id, None)`
        /// to remove. Empty when the queue is not persisted.
        pub fn take_changes(&self) -> Vec<(String, Option<Vec<u8>>)> {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let Some(dirty) = inner.dirty.as_mut() else {
                return Vec::new();
            };
            if dirty.is_empty() {
                return Vec::new();
            }
            let ids = std::mem::take(dirty);
            let now = Instant::now();
            let unix = unix_now();
            ids.into_iter()
                .map(|id| {
                    let record = inner.jobs.get(&id).map(|job| {
                        let record = Record {
                            seq: job.seq,
                            status: job.status.as_str().to_string(),
                            args: job.args.clone(),
                            webhook: job.webhook.clone(),
                            hook_pending: job.hook_pending,
                            timeout_ms: job.timeout.map(ms),
                            ttl_ms: job.ttl.map(ms),
                            submitted: to_unix(job.submitted_at, now, unix),
                            sync: job.sync,
                            attempts_left: job.attempts_left,
                            output: job.kept_output.as_deref().map(str::to_string),
                            error: job.error.clone(),
                            delay_ms: job.delay_ms,
                            exec_ms: job.exec_ms,
                            expires: job.expires_at.map(|at| to_unix(at, now, unix)),
                        };
                        serde_json::to_vec(&record).unwrap_or_default()
                    });
                    (id, record)
                })
                .collect()
        }

        /// Marks `ids` changed again (their write failed).
        pub fn mark_changed(&self, ids: impl IntoIterator<Item = String>) {
            let mut inner = self.lock();
            if let Some(dirty) = inner.dirty.as_mut() {
                dirty.extend(ids);
            }
        }

        /// Loads the records of a previous run (before any job is submitted to this store): queued
        /// jobs queue again in their FIFO order, running ones at the front, final ones are kept for
        /// the rest of their retention, expired ones are removed.
        pub fn restore(&self, records: Vec<(String, Vec<u8>)>) -> Restored {
            let mut out = Restored::default();
            let now = Instant::now();
            let unix = unix_now();
            let mut guard = self.lock();
            let inner = &mut *guard;
            let mut queued: Vec<(bool, i64, String)> = Vec::new();
            let mut finished: Vec<(Instant, String)> = Vec::new();
            for (id, bytes) in records {
                let Some((record, status)) = serde_json::from_slice::<Record>(&bytes)
                    .ok()
                    .and_then(|r| parse_status(&r.status).map(|s| (r, s)))
                else {
                    mark(&mut inner.dirty, &id);
                    out.unreadable.push(id);
                    continue;
                };
                let expires_at = record.expires.map(|at| from_unix(at, now, unix));
                if status.is_final() && expires_at.is_none_or(|at| at <= now) {
                    mark(&mut inner.dirty, &id);
                    out.expired += 1;
                    continue;
                }
                let submitted_at = from_unix(record.submitted, now, unix);
                let mut job = Job {
                    args: record.args,
                    webhook: record.webhook,
                    timeout: record.timeout_ms.map(Duration::from_millis),
                    ttl: record.ttl_ms.map(Duration::from_millis),
                    submitted_at,
                    sync: record.sync,
                    status,
                    output: None,
                    kept_output: record.output.map(String::into_boxed_str),
                    error: record.error,
                    queued_at: submitted_at,
                    started_at: None,
                    delay_ms: record.delay_ms,
                    exec_ms: record.exec_ms,
                    attempts_left: record.attempts_left,
                    chunks: Vec::new(),
                    waiters: Vec::new(),
                    cancel: None,
                    generation: 0,
                    expires_at: None,
                    retained: 0,
                    seq: record.seq,
                    hook_pending: false,
                };
                inner.next_seq = inner.next_seq.max(record.seq + 1);
                if status.is_final() {
                    if record.hook_pending {
                        mark(&mut inner.dirty, &id);
                        out.hooks_dropped.push(id.clone());
                    }
                    let at = expires_at.unwrap_or(now);
                    job.expires_at = Some(at);
                    job.retained = 2 * id.len()
                        + job.kept_output.as_deref().map_or(0, str::len)
                        + job.error.as_deref().map_or(0, str::len)
                        + std::mem::size_of::<Job>()
                        + 64;
                    inner.retained += job.retained;
                    match status {
                        Status::Completed => inner.completed += 1,
                        Status::Failed | Status::TimedOut => inner.failed += 1,
                        _ => {}
                    }
                    finished.push((at, id.clone()));
                } else {
                    let interrupted = status == Status::InProgress;
                    if interrupted {
                        job.status = Status::InQueue;
                        job.delay_ms = None;
                        job.exec_ms = None;
                        mark(&mut inner.dirty, &id);
                        out.interrupted.push(id.clone());
                    }
                    queued.push((!interrupted, record.seq, id.clone()));
                }
                inner.jobs.insert(id, Box::new(job));
            }
            // Interrupted jobs first (`false` sorts first), then by FIFO position.
            queued.sort();
            out.interrupted = queued
                .iter()
                .filter(|(q, _, _)| !q)
                .map(|(_, _, id)| id.clone())
                .collect();
            let first_queued = queued
                .iter()
                .find(|(q, _, _)| *q)
                .map_or(inner.next_seq, |(_, seq, _)| *seq);
            let n = out.interrupted.len() as i64;
            for (i, id) in out.interrupted.iter().enumerate() {
                if let Some(job) = inner.jobs.get_mut(id) {
                    job.seq = first_queued - n + i as i64;
                }
            }
            for (_, _, id) in queued {
                inner.queue.push_back((id, 0));
                inner.in_queue += 1;
            }
            out.queued = inner.in_queue;
            // Each retention class's expiry list is in deadline order.
            finished.sort();
            out.finished = finished.len();
            for (at, id) in finished {
                let class = inner.jobs.get(&id).map_or(0, |j| usize::from(j.sync));
                inner.expiry[class].push_back((at, id));
            }
            drop(guard);
            self.work.notify_waiters();
            for _ in 0..self.workers {
                self.work.notify_one();
            }
            out
        }
    }
}
#[cfg(feature = "persist")]
pub use records::Restored;

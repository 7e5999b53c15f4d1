//! The local queue (no platform variables): a real in-process queue behind the platform's
//! public API on `$PORT`, so a queue endpoint can be developed and tested with the same calls
//! it gets in production, without the cloud or an API key.
//!
//! `max_concurrency` workers pull jobs in FIFO order; `/run` returns at once, `/runsync` waits
//! (`?wait=` ms), failed jobs are retried `retries` times, results are kept for the platform's
//! retention times, and webhooks are called when a job ends.

pub mod api;
pub mod engine;
#[cfg(feature = "persist")]
pub mod persist;
#[cfg(feature = "redis")]
mod redis_scripts;
#[cfg(feature = "redis")]
pub mod redis_store;
#[cfg(feature = "redis")]
mod redis_wire;
pub mod store;

use std::{sync::Arc, time::Duration};

use tokio::{net::TcpListener, task::JoinSet};
use tracing::Instrument;

use self::{
    api::App,
    engine::JobStore,
    store::{Store, Webhook},
};
use super::{job, settings::LocalTiming, Prepared, QueueWorker};
use crate::{handler::Progress, health::Health, logging::request_span, shutdown::Shutdown};

/// What the local API serves besides the queue: where its health check is, whether it needs an
/// API key, and the readiness it reports (shared with a health listener on `PORT_HEALTH`).
#[derive(Clone)]
pub struct LocalOptions {
    /// `HEALTH_CHECK_PATH` (default `/ping`).
    pub health_path: String,
    /// `RUNPOD_API_KEY`: when set, every call but the health check needs
    /// `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    pub health: Health,
    /// `FLASH_WEBHOOK_ALLOW` (comma-separated `host` or `host:port`): when set, webhooks may
    /// only call these hosts (a submission naming another is a 400).
    pub webhook_allow: Option<Vec<String>>,
    /// Header/body read timeouts and the connection cap of the API's server.
    pub limits: crate::conn::ConnLimits,
    /// The queue's store file (`FLASH_QUEUE_DIR/queue.redb` for a standalone worker), so a
    /// restarted worker resumes its queue. Needs the `persist` feature of flash-runtime; without
    /// it, [`start`] refuses a set path.
    ///
    /// # Persistence contract
    /// - [`start`] returns at once; the file is opened in the background. While another process
    ///   holds it (a dev reload: the old worker is still draining), opening is retried every
    ///   50 ms for up to 30 s (logged once: "waiting for the queue store … (held by another
    ///   process)"), then health fails with the reason. A damaged or foreign file fails health
    ///   at once with a clear reason (never a panic). API calls (all but the health check) that
    ///   arrive before the store is loaded wait for it, then proceed, or answer 503 JSON with
    ///   the reason; `/ping` stays 204 until both `init` and the store are ready.
    /// - On load: jobs that were IN_QUEUE are queued again in their FIFO order; jobs that were
    ///   IN_PROGRESS (a crash, or a stop past the grace period) are queued again in front, each
    ///   logged with its id; final jobs keep the rest of their retention (`/status` answers
    ///   them); expired ones are removed. A webhook still pending is not delivered: one log line
    ///   per job id. Unread stream chunks, progress updates and the `/health` counters of
    ///   retried jobs are not kept.
    /// - While running, changes are written behind: one write transaction at most every 100 ms
    ///   for what changed, so a crash loses at most the last ~100 ms of submissions.
    /// - [`RunningQueue::finish`] does not drain the queue: it stops taking jobs at once, lets
    ///   running jobs finish until the deadline, queues again (and logs) those that did not,
    ///   leaves queued jobs in the file, writes the last changes and releases the file before it
    ///   returns, so the next worker (new code) runs them.
    pub persist: Option<std::path::PathBuf>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            health_path: "/ping".to_string(),
            api_key: None,
            health: Health::new(),
            webhook_allow: None,
            limits: crate::conn::ConnLimits::default(),
            persist: None,
        }
    }
}

/// Resolves when a persisted queue's store is loaded (`Ok`) or cannot be (`Err` with the
/// reason). Queues without persistence have none.
#[derive(Clone)]
pub struct Opening(tokio::sync::watch::Receiver<Option<Result<(), String>>>);

impl Opening {
    /// Waits until the store is loaded or failed.
    pub async fn wait(&self) -> Result<(), String> {
        let mut rx = self.0.clone();
        let state = match rx.wait_for(Option::is_some).await {
            Ok(state) => state.clone().unwrap_or(Ok(())),
            Err(_) => Err("the queue store was closed".to_string()),
        };
        state
    }
}

/// Serves the local queue on `listener` until `shutdown` fires; then stops accepting, lets
/// running jobs finish (up to `grace`) and returns. Health at `/ping`, no API key: see
/// [`run_with`].
pub async fn run<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    timing: LocalTiming,
    listener: TcpListener,
    shutdown: Shutdown,
    grace: Duration,
) -> Result<(), String> {
    run_with(
        worker,
        timing,
        listener,
        shutdown,
        grace,
        LocalOptions::default(),
    )
    .await
}

/// [`run`] with the health path, API key and readiness of `options`.
pub async fn run_with<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    timing: LocalTiming,
    listener: TcpListener,
    shutdown: Shutdown,
    grace: Duration,
    options: LocalOptions,
) -> Result<(), String> {
    run_on(worker, timing, listener, shutdown, grace, options, None).await
}

/// [`run_with`] over `store` when given (a shared store: the Redis one), else over the local
/// store `options` describe.
pub async fn run_on<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    timing: LocalTiming,
    listener: TcpListener,
    shutdown: Shutdown,
    grace: Duration,
    options: LocalOptions,
    store: Option<Arc<dyn JobStore>>,
) -> Result<(), String> {
    if options.api_key.is_none() {
        if let Ok(addr) = listener.local_addr() {
            if !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "the local queue API has no authentication and is reachable from other hosts: set RUNPOD_API_KEY to require `Authorization: Bearer <key>`, or FLASH_HOST=127.0.0.1"
                );
            }
        }
    }
    let limits = options.limits;
    let (app, queue) = match store {
        Some(store) => start_on(worker, timing, options, store, None)?,
        None => start(worker, timing, options)?,
    };
    let served = crate::conn::serve(listener, app, shutdown.clone(), limits);
    tokio::pin!(served);
    // The server returns only after the shutdown trigger (or on an accept error, which ends the
    // worker). Then, within `grace`: open requests finish, and the workers drain the queue.
    let mut server_done = false;
    tokio::select! {
        r = &mut served => {
            r.map_err(|e| format!("server error: {e}"))?;
            server_done = true;
        }
        _ = shutdown.wait() => {}
    }
    let deadline = tokio::time::Instant::now() + grace;
    if !server_done
        && tokio::time::timeout_at(deadline, &mut served)
            .await
            .is_err()
    {
        tracing::warn!("open requests did not finish within the grace period");
    }
    queue.finish(deadline, grace).await;
    Ok(())
}

/// A local queue whose workers are running; its API is the router [`start`] returned. Serve
/// that router, and when the server has stopped, call [`RunningQueue::finish`].
pub struct RunningQueue {
    store: Arc<dyn JobStore>,
    hooks: Hooks,
    stop_workers: Shutdown,
    workers: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
    #[cfg(feature = "persist")]
    keeper: Option<persist::Keeper>,
}

/// Starts the queue of `worker` (its `init` runs in the background; jobs queue until it is
/// done) and returns the API's router, to be served at the root or under any prefix a caller
/// strips (the dev server serves several queues on one port this way).
pub fn start<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    timing: LocalTiming,
    options: LocalOptions,
) -> Result<(axum::Router, RunningQueue), String> {
    let max = worker.max_concurrency.max(1);
    let store = Store::new(max, worker.retries, timing.run_ttl, timing.runsync_ttl)
        .retain_bytes(timing.retain_bytes);
    #[cfg(not(feature = "persist"))]
    if let Some(path) = &options.persist {
        return Err(format!(
            "a queue store ({}) was asked for, but flash-runtime was built without the persist feature",
            path.display()
        ));
    }
    #[cfg(feature = "persist")]
    let store = if options.persist.is_some() {
        store.persisted()
    } else {
        store
    };
    let store = Arc::new(store);
    #[cfg(feature = "persist")]
    let (opening, keeper) = match options.persist.clone() {
        Some(path) => {
            let (opening, keeper) = persist::start(path, store.clone(), options.health.clone());
            (Some(opening), Some(keeper))
        }
        None => (None, None),
    };
    #[cfg(not(feature = "persist"))]
    let opening: Option<Opening> = None;
    let (app, mut queue) = start_on(worker, timing, options, store, opening)?;
    #[cfg(feature = "persist")]
    {
        queue.keeper = keeper;
    }
    #[cfg(not(feature = "persist"))]
    let _ = &mut queue;
    Ok((app, queue))
}

/// Starts the queue API and workers of `worker` over `store`, any [`JobStore`]: the local
/// store ([`start`]) or a shared one (the Redis store, feature `redis`). `opening`, when set,
/// holds API calls back until the store is loaded.
pub fn start_on<S: Send + Sync + 'static>(
    worker: QueueWorker<S>,
    timing: LocalTiming,
    options: LocalOptions,
    store: Arc<dyn JobStore>,
    opening: Option<Opening>,
) -> Result<(axum::Router, RunningQueue), String> {
    let max = worker.max_concurrency.max(1);
    let health = options.health.clone();
    let hooks = Hooks {
        client: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            // A webhook is called where the caller said, never somewhere a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the webhook client: {e}"))?,
        retry_delay: timing.webhook_retry,
        pending: Default::default(),
        store: store.clone(),
    };

    // Serve at once (so `/ping` says 204 while init runs); jobs queue until workers start.
    let stop_workers = Shutdown::new();
    let workers = {
        let store = store.clone();
        let stop = stop_workers.clone();
        let health = health.clone();
        let hooks = hooks.clone();
        let opening = opening.clone();
        tokio::spawn(async move {
            let prepared = match worker.prepare().await {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    health.set_failed(e);
                    return;
                }
            };
            // Ready once the persisted jobs are loaded too (a failure has set health).
            if let Some(opening) = &opening {
                if opening.wait().await.is_err() {
                    return;
                }
            }
            health.set_ready();
            let mut set = JoinSet::new();
            for _ in 0..max {
                set.spawn(work(
                    store.clone(),
                    prepared.clone(),
                    hooks.clone(),
                    stop.clone(),
                ));
            }
            drop(hooks);
            while set.join_next().await.is_some() {}
        })
    };
    let janitor = tokio::spawn(sweep(store.clone(), timing.run_ttl.min(timing.runsync_ttl)));
    if let Some(mut orphans) = store.orphan_webhooks() {
        let hooks = hooks.clone();
        tokio::spawn(async move {
            while let Some((id, hook)) = orphans.recv().await {
                hooks.deliver(id, hook);
            }
        });
    }

    let app = api::router(App {
        store: store.clone(),
        health,
        runsync_wait: timing.runsync_wait,
        health_path: options.health_path,
        api_key: options.api_key,
        webhook_allow: options.webhook_allow,
        body_read: options.limits.body_read,
        opening,
    });
    Ok((
        app,
        RunningQueue {
            store,
            hooks,
            stop_workers,
            workers,
            janitor,
            #[cfg(feature = "persist")]
            keeper: None,
        },
    ))
}

impl RunningQueue {
    /// After the API's server stopped: the workers drain the queue until `deadline`; whatever
    /// is left ends FAILED, is logged with its id and calls its webhook. Pending webhook
    /// deliveries get at least `grace` (5 s at least) to finish.
    ///
    /// A persisted queue is not drained (the next start runs its jobs, with new code after a
    /// reload): see the contract on [`LocalOptions::persist`].
    pub async fn finish(self, deadline: tokio::time::Instant, grace: Duration) {
        #[cfg(feature = "persist")]
        let RunningQueue {
            store,
            hooks,
            stop_workers,
            workers,
            janitor,
            keeper,
        } = self;
        #[cfg(not(feature = "persist"))]
        let RunningQueue {
            store,
            hooks,
            stop_workers,
            workers,
            janitor,
        } = self;
        if store.keeps_queue() {
            #[cfg(feature = "persist")]
            let kept_in = keeper.as_ref().map_or_else(
                || "the shared queue".to_string(),
                |k| k.path.display().to_string(),
            );
            #[cfg(not(feature = "persist"))]
            let kept_in = "the shared queue".to_string();
            finish_kept(
                store,
                hooks,
                stop_workers,
                workers,
                janitor,
                &kept_in,
                deadline,
                grace,
            )
            .await;
            #[cfg(feature = "persist")]
            if let Some(keeper) = keeper {
                keeper.close().await;
            }
            return;
        }
        tracing::info!(
            queued_or_running = !store.is_idle(),
            "stopping: no new jobs; draining the queue within {} ms",
            deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .as_millis()
        );
        let drained = async {
            while !store.is_idle() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout_at(deadline, drained).await;
        for (id, hook) in store.fail_unfinished(&job::Failure::Shutdown(grace)) {
            hooks.deliver(id, hook);
        }
        stop_workers.trigger();
        if tokio::time::timeout(Duration::from_secs(1), workers)
            .await
            .is_err()
        {
            tracing::warn!("workers did not stop at once");
        }
        janitor.abort();
        hooks.finish(grace.max(Duration::from_secs(5))).await;
    }
}

/// [`RunningQueue::finish`] of a queue that outlives the worker (persisted or shared): running
/// attempts may finish until the deadline, the others are queued again; queued jobs stay.
#[allow(clippy::too_many_arguments)]
async fn finish_kept(
    store: Arc<dyn JobStore>,
    hooks: Hooks,
    stop_workers: Shutdown,
    workers: tokio::task::JoinHandle<()>,
    janitor: tokio::task::JoinHandle<()>,
    kept_in: &str,
    deadline: tokio::time::Instant,
    grace: Duration,
) {
    // No worker takes another job; running ones go on until the deadline.
    stop_workers.trigger();
    let running = store.running_count();
    if running > 0 {
        tracing::info!(
            running,
            "stopping: no new jobs; running jobs may finish within {} ms",
            deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .as_millis()
        );
    }
    let finished = async {
        while store.running_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let _ = tokio::time::timeout_at(deadline, finished).await;
    for id in store.requeue_running().await {
        tracing::warn!(requestId = %id, "job {id} is queued again: it will run at the next start or on another replica");
    }
    if tokio::time::timeout(Duration::from_secs(1), workers)
        .await
        .is_err()
    {
        tracing::warn!("workers did not stop at once");
    }
    janitor.abort();
    let queued = store.queued_count();
    if queued > 0 {
        tracing::info!(
            queued,
            "{queued} queued jobs stay in {kept_in} for the next start"
        );
    }
    hooks.finish(grace.max(Duration::from_secs(5))).await;
}

/// One worker: takes the next job, runs it, records the outcome, repeats until stopped.
async fn work<S: Send + Sync + 'static>(
    store: Arc<dyn JobStore>,
    worker: Arc<Prepared<S>>,
    hooks: Hooks,
    stop: Shutdown,
) {
    loop {
        let assignment = tokio::select! {
            biased;
            _ = stop.wait() => return,
            a = store.next() => a,
        };
        let store::Assignment {
            id,
            args,
            timeout,
            generation,
            mut cancelled,
            expired,
        } = assignment;
        if let Some(ttl) = expired {
            if let Some(hook) = store
                .finish(&id, generation, Err(job::Failure::Expired(ttl)))
                .await
            {
                hooks.deliver(id.clone(), hook);
            }
            continue;
        }
        let (tx, mut updates) = tokio::sync::mpsc::unbounded_channel();
        let run = job::run(
            &worker.handler,
            worker.state.clone(),
            &id,
            args,
            Progress::new(tx),
            timeout.or(worker.execution_timeout),
            |chunk| store.chunk(&id, generation, chunk),
        );
        let run = run.instrument(request_span(&id));
        tokio::pin!(run);
        let outcome = loop {
            tokio::select! {
                r = &mut run => break Some(r),
                // Cancelled through `/cancel` or `/purge-queue`: drop the handler's future.
                Ok(()) = &mut cancelled => break None,
                Some(update) = updates.recv() => store.progress(&id, generation, update).await,
            }
        };
        let Some(result) = outcome else {
            tracing::info!(requestId = %id, "job cancelled");
            continue;
        };
        while let Ok(update) = updates.try_recv() {
            store.progress(&id, generation, update).await;
        }
        if let Some(hook) = store.finish(&id, generation, result).await {
            hooks.deliver(id.clone(), hook);
        }
    }
}

/// Expires retained results on a period well below the shortest retention.
async fn sweep(store: Arc<dyn JobStore>, shortest: Duration) {
    let period = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        store.sweep();
    }
}

/// Webhook delivery: the final job body POSTed to the URL the caller gave, 3 attempts, no
/// redirects followed; logs name the job, never the URL (its query may carry a token).
/// Deliveries still pending at shutdown are awaited ([`Hooks::finish`]).
#[derive(Clone)]
struct Hooks {
    client: reqwest::Client,
    retry_delay: Duration,
    pending: Arc<Pending>,
    /// Told when a delivery is over: a persisted queue's restart then does not report it as
    /// dropped, a shared queue stops holding it for another replica to deliver.
    store: Arc<dyn JobStore>,
}

#[derive(Default)]
struct Pending {
    ids: std::sync::Mutex<std::collections::HashSet<String>>,
    done: tokio::sync::Notify,
}

impl Pending {
    fn ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hooks {
    fn deliver(&self, id: String, hook: Webhook) {
        let this = self.clone();
        this.pending.ids().insert(id.clone());
        tokio::spawn(async move {
            this.attempts(&id, hook).await;
            this.store.webhook_done(&id).await;
            this.pending.ids().remove(&id);
            this.pending.done.notify_waiters();
        });
    }

    async fn attempts(&self, id: &str, hook: Webhook) {
        for attempt in 1..=3 {
            let post = self
                .client
                .post(&hook.url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header("Idempotency-Key", &hook.key)
                .body(hook.body.clone());
            match post.send().await {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    tracing::warn!(requestId = %id, attempt, status = %r.status(), "webhook refused")
                }
                Err(e) => {
                    tracing::warn!(requestId = %id, attempt, "webhook failed: {}", e.without_url())
                }
            }
            if attempt < 3 {
                tokio::time::sleep(self.retry_delay).await;
            }
        }
        tracing::error!(requestId = %id, "webhook not delivered after 3 attempts");
    }

    /// Waits up to `limit` for pending deliveries; logs each one left behind.
    async fn finish(&self, limit: Duration) {
        let wait = async {
            loop {
                let done = self.pending.done.notified();
                tokio::pin!(done);
                done.as_mut().enable();
                if self.pending.ids().is_empty() {
                    return;
                }
                done.await;
            }
        };
        if tokio::time::timeout(limit, wait).await.is_err() {
            for id in self.pending.ids().iter() {
                tracing::error!(requestId = %id, "webhook not delivered: the worker stopped");
            }
        }
    }
}

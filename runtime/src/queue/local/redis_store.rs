//! The queue on Redis (feature `redis`, `FLASH_QUEUE_URL=redis://…` or `rediss://…`): every
//! replica of a queue endpoint serves the whole public API over one shared queue, and every
//! replica takes jobs. The design (keys, commands, round trips) is in runtime/README.md; each
//! state change is one Lua script (`redis_scripts.rs`), so it is atomic.
//!
//! - Jobs are hashes; a queued attempt is an entry `{id, gen}` of one stream read by one
//!   consumer group, so each entry goes to one replica.
//! - A running attempt keeps its entry's lease by claiming it again (idle time reset) every
//!   `lease / 3`; a replica that died stops doing so, and any replica's reaper claims the entry
//!   (`XAUTOCLAIM`) once it is idle for `lease`, then queues the job again (one retry used) or
//!   fails it when no retry is left.
//! - An attempt is `(id, gen)`: a report of a stale generation changes nothing, so a job ends
//!   once. The script that makes it final also puts its webhook in an outbox owned by that
//!   replica; another replica takes the claim over only when the owner stops renewing it
//!   (runtime/README.md: what this guarantees, and the `Idempotency-Key`).
//! - Redis unreachable: API calls answer 503, `/ping` says unhealthy, the workers wait and the
//!   connections reconnect by themselves; a result is reported again until Redis takes it.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::Duration,
};

use redis::{aio::ConnectionManager, AsyncConnectionConfig, Script, Value};
use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

pub use super::redis_wire::RedisOptions;
use super::{
    engine::{JobStore, StoreFuture, Unavailable},
    redis_scripts as lua,
    redis_wire::{
        autoclaimed, entry_fields, final_webhook, first_entry, is_final_body, is_outage, ms,
        parse_status, text, Keys, FINAL_VIEW_LEN,
    },
    store::{render_view, Assignment, NewJob, RetryError, Settled, Status, View, Webhook},
};
use crate::{
    handler::Args,
    queue::job::{Failure, Output},
};

/// The consumer group every replica reads the stream in.
const GROUP: &str = crate::route_contract::QUEUE_GROUP;
/// How long one blocking read waits before it looks again (and sees a stop).
const BLOCK: Duration = Duration::from_millis(1000);

type OrphanSender = tokio::sync::mpsc::UnboundedSender<(String, Webhook)>;
type OrphanReceiver = tokio::sync::mpsc::UnboundedReceiver<(String, Webhook)>;

struct Scripts {
    submit: Script,
    take: Script,
    take_next: Script,
    heartbeat: Script,
    progress: Script,
    chunk: Script,
    finish: Script,
    finish_next: Script,
    reclaim: Script,
    requeue: Script,
    cancel: Script,
    retry: Script,
    purge: Script,
    take_stream: Script,
    keep_hooks: Script,
    hook_done: Script,
    claim_hooks: Script,
}

/// The connection's state as the last commands saw it.
#[derive(Default)]
struct Link {
    /// The last connection error, until a command succeeds again.
    error: Option<String>,
    /// Since when commands succeed without a break.
    up_since: Option<tokio::time::Instant>,
}

/// An attempt a take started: `{args, tmo, ttl, sub, now}` as the script read them.
struct Taken {
    id: String,
    generation: u64,
    fields: Vec<Option<String>>,
}

/// `take_next`'s values (`redis_scripts.rs`): 8 per attempt started.
fn taken_attempts(flat: &[Option<String>]) -> Vec<Taken> {
    flat.chunks(8)
        .filter_map(|one| {
            let id = one.get(1).cloned().flatten()?;
            let generation = one.get(2).cloned().flatten()?.parse().ok()?;
            Some(Taken {
                id,
                generation,
                fields: one[3..].to_vec(),
            })
        })
        .collect()
}

/// Counts a worker waiting in [`JobStore::next`] while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An attempt running in this replica.
struct Running {
    generation: u64,
    cancel: Option<oneshot::Sender<()>>,
    /// Its outcome is being reported (again, through an outage): the heartbeat leaves it be.
    finishing: bool,
}

pub struct RedisStore {
    /// Commands that answer at once; reconnects by itself.
    conn: ConnectionManager,
    /// Blocking stream reads, one at a time (a blocking command would hold up the others on a
    /// shared connection). Only an idle worker reads, so a busy replica leaves entries to others.
    reader: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// One worker at a time takes jobs, for itself and the other idle ones ([`JobStore::next`]).
    taking: tokio::sync::Mutex<()>,
    /// How many workers wait in [`JobStore::next`]: a take asks for as many jobs.
    waiting: AtomicUsize,
    /// Attempts started for idle workers that have not picked them up yet (moments, unless the
    /// replica stops: then they are queued again with the running ones).
    ready: Mutex<VecDeque<Taken>>,
    client: redis::Client,
    keys: Keys,
    scripts: Scripts,
    /// This replica's name in the consumer group (unique per process).
    consumer: String,
    workers: usize,
    retries: u32,
    ttl: [Duration; 2],
    lease: Duration,
    running: Mutex<HashMap<String, Running>>,
    /// Webhooks this replica is delivering: their claim is renewed with the leases, so another
    /// replica delivers them only if this one dies first.
    delivering: Mutex<HashSet<String>>,
    /// The last connection error, until a command succeeds again (`/ping`).
    down: Mutex<Link>,
    /// Webhooks of jobs this replica failed while taking them back from a stopped one; the
    /// queue's webhook delivery reads them ([`JobStore::orphan_webhooks`]).
    orphans: (OrphanSender, Mutex<Option<OrphanReceiver>>),
}

impl RedisStore {
    /// A store for `workers` concurrent attempts. Connects lazily: a Redis that is down at start
    /// makes `/ping` unhealthy until it is up.
    pub fn new(
        options: &RedisOptions,
        workers: usize,
        retries: u32,
        run_ttl: Duration,
        runsync_ttl: Duration,
    ) -> Result<RedisStore, String> {
        let bad_url = |_| {
            "FLASH_QUEUE_URL is not a valid Redis URL (not shown: it may hold a password)"
                .to_string()
        };
        let client = match &options.ca_file {
            None => redis::Client::open(options.url.as_str()).map_err(bad_url)?,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    format!(
                        "FLASH_QUEUE_CA_FILE={}: cannot read it: {e}",
                        path.display()
                    )
                })?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                redis::Client::build_with_tls(options.url.as_str(), certs).map_err(|e| {
                    format!(
                        "FLASH_QUEUE_URL with FLASH_QUEUE_CA_FILE={}: {} (the URL is not shown)",
                        path.display(),
                        e.category()
                    )
                })?
            }
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("cannot set up the Redis connection: {e}"))?;
        let consumer = format!(
            "{}-{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_string()),
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(RedisStore {
            conn,
            reader: tokio::sync::Mutex::new(None),
            taking: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            ready: Mutex::new(VecDeque::new()),
            client,
            keys: Keys::new(&options.name),
            scripts: Scripts {
                submit: Script::new(lua::SUBMIT),
                take: Script::new(lua::TAKE),
                take_next: Script::new(lua::TAKE_NEXT),
                heartbeat: Script::new(lua::HEARTBEAT),
                progress: Script::new(lua::PROGRESS),
                chunk: Script::new(lua::CHUNK),
                finish: Script::new(lua::FINISH),
                finish_next: Script::new(lua::FINISH_NEXT),
                reclaim: Script::new(lua::RECLAIM),
                requeue: Script::new(lua::REQUEUE),
                cancel: Script::new(lua::CANCEL),
                retry: Script::new(lua::RETRY),
                purge: Script::new(lua::PURGE),
                take_stream: Script::new(lua::TAKE_STREAM),
                keep_hooks: Script::new(lua::KEEP_HOOKS),
                hook_done: Script::new(lua::HOOK_DONE),
                claim_hooks: Script::new(lua::CLAIM_HOOKS),
            },
            consumer,
            workers,
            retries,
            ttl: [run_ttl, runsync_ttl],
            lease: options.lease,
            running: Mutex::new(HashMap::new()),
            delivering: Mutex::new(HashSet::new()),
            down: Mutex::new(Link::default()),
            orphans: {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (tx, Mutex::new(Some(rx)))
            },
        })
    }

    /// Starts the tasks that keep leases, take back the entries of stopped replicas and watch
    /// the connection. They end when the store is dropped.
    pub fn start_background(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let beat = (self.lease / 3).min(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(beat);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_reap = tokio::time::Instant::now();
            loop {
                tick.tick().await;
                let Some(store) = weak.upgrade() else { return };
                // Watches the connection for `/ping` (and reconnects an idle replica).
                let mut conn = store.conn.clone();
                let r: redis::RedisResult<()> = redis::cmd("PING").query_async(&mut conn).await;
                let _ = store.note(r);
                store.heartbeat().await;
                if last_reap.elapsed() >= store.lease / 2 {
                    last_reap = tokio::time::Instant::now();
                    store.reap().await;
                }
            }
        });
    }

    fn running(&self) -> MutexGuard<'_, HashMap<String, Running>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delivering(&self) -> MutexGuard<'_, HashSet<String>> {
        self.delivering.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note<T>(&self, r: redis::RedisResult<T>) -> Result<T, Unavailable> {
        let mut link = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(v) => {
                if link.error.take().is_some() {
                    tracing::info!("the Redis queue is reachable again");
                }
                link.up_since.get_or_insert_with(tokio::time::Instant::now);
                Ok(v)
            }
            Err(e) if is_outage(&e) => {
                let why = format!("Redis: {e}");
                if link.error.is_none() {
                    tracing::error!("the Redis queue is unreachable: {e}");
                }
                link.error = Some(why.clone());
                link.up_since = None;
                Err(Unavailable(why))
            }
            Err(e) => Err(Unavailable(format!("Redis: {e}"))),
        }
    }

    fn ttl_args(&self) -> [u64; 2] {
        [ms(self.ttl[0]), ms(self.ttl[1])]
    }

    /// Creates the consumer group (and the stream) unless it exists.
    async fn ensure_group(
        &self,
        conn: &mut impl redis::aio::ConnectionLike,
    ) -> redis::RedisResult<()> {
        let r: redis::RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.keys.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn)
            .await;
        match r {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(e),
            _ => Ok(()),
        }
    }

    /// One blocking read for one entry: `(entry, id, gen)`.
    async fn read_one(&self) -> redis::RedisResult<Option<(String, String, u64)>> {
        let mut guard = self.reader.lock().await;
        if guard.is_none() {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(BLOCK + Duration::from_secs(5)));
            let mut c = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            self.ensure_group(&mut c).await?;
            *guard = Some(c);
        }
        let Some(conn) = guard.as_mut() else {
            return Ok(None);
        };
        let r: redis::RedisResult<Value> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(ms(BLOCK))
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(">")
            .query_async(conn)
            .await;
        match r {
            Ok(v) => Ok(first_entry(v)),
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    // Redis lost the group (restarted without persistence, or flushed).
                    let _ = self.ensure_group(conn).await;
                } else {
                    *guard = None;
                }
                Err(e)
            }
        }
    }

    /// Marks the entry's attempt IN_PROGRESS; `None` for a stale entry.
    async fn take(&self, entry: &str, id: &str, gen: u64) -> redis::RedisResult<Option<Taken>> {
        let mut conn = self.conn.clone();
        let v: Option<Vec<Option<String>>> = self
            .scripts
            .take
            .key(self.keys.job(id))
            .key(&self.keys.stream)
            .key(&self.keys.queued)
            .key(&self.keys.running)
            .arg(entry)
            .arg(id)
            .arg(gen)
            .arg(GROUP)
            .invoke_async(&mut conn)
            .await?;
        Ok(v.map(|fields| Taken {
            id: id.to_string(),
            generation: gen,
            fields,
        }))
    }

    /// Up to `count` attempts from the stream's new entries, in one round trip (none when the
    /// stream has no new entry).
    async fn take_next(&self, count: usize) -> redis::RedisResult<Vec<Taken>> {
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<Vec<Option<String>>> = self
            .scripts
            .take_next
            .key(&self.keys.stream)
            .key(&self.keys.queued)
            .key(&self.keys.running)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(count)
            .arg(&self.keys.job_prefix)
            .invoke_async(&mut conn)
            .await;
        let flat = match r {
            Err(e) if e.code() == Some("NOGROUP") => {
                // Redis lost the group (restarted without persistence, or flushed).
                self.ensure_group(&mut conn).await?;
                return Ok(Vec::new());
            }
            r => r?,
        };
        Ok(taken_attempts(&flat))
    }

    /// A taken attempt handed to a worker: from now on its lease is renewed and a cancel
    /// reaches it.
    fn assign(&self, taken: Taken) -> Assignment {
        let Taken {
            id,
            generation: gen,
            fields: v,
        } = taken;
        let field = |i: usize| v.get(i).cloned().flatten().filter(|s| !s.is_empty());
        let num = |i: usize| field(i).and_then(|s| s.parse::<u64>().ok());
        let args: Args = field(0)
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default();
        let timeout = num(1).map(Duration::from_millis);
        let ttl = num(2).map(Duration::from_millis);
        let submitted = num(3).unwrap_or(0);
        let now = num(4).unwrap_or(submitted);
        let left = ttl.map(|ttl| {
            (
                ttl,
                Duration::from_millis((submitted + ms(ttl)).saturating_sub(now)),
            )
        });
        let expired = left.filter(|(_, l)| l.is_zero()).map(|(t, _)| t);
        let timeout = match (timeout, left) {
            (Some(t), Some((_, l))) => Some(t.min(l)),
            (t, l) => t.or(l.map(|(_, l)| l)),
        };
        let (tx, rx) = oneshot::channel();
        self.running().insert(
            id.clone(),
            Running {
                generation: gen,
                cancel: Some(tx),
                finishing: false,
            },
        );
        Assignment {
            id,
            args: if expired.is_some() { Args::new() } else { args },
            timeout,
            generation: gen,
            cancelled: rx,
            expired,
        }
    }

    fn ready(&self) -> MutexGuard<'_, VecDeque<Taken>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renews the lease of every attempt running here; stops those that are no longer theirs
    /// job's (cancelled, or taken back after an outage).
    async fn heartbeat(&self) {
        let owed: Vec<String> = self.delivering().iter().cloned().collect();
        if !owed.is_empty() {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.keep_hooks.key(&self.keys.hooks);
            call.arg(&self.keys.job_prefix).arg(&self.consumer);
            for id in &owed {
                call.arg(id);
            }
            let r: redis::RedisResult<Vec<String>> = call.invoke_async(&mut conn).await;
            if let Ok(lost) = self.note(r) {
                for id in lost {
                    // Taken over by another replica while this one could not renew it (an
                    // outage longer than the lease): that one delivers it too.
                    tracing::warn!(requestId = %id, "the webhook of job {id} was taken over by another worker");
                }
            }
        }
        let attempts: Vec<(String, u64)> = self
            .running()
            .iter()
            .filter(|(_, r)| !r.finishing)
            .map(|(id, r)| (id.clone(), r.generation))
            .collect();
        for (id, gen) in attempts {
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<i64> = self
                .scripts
                .heartbeat
                .key(self.keys.job(&id))
                .key(&self.keys.stream)
                .arg(gen)
                .arg(GROUP)
                .arg(&self.consumer)
                .invoke_async(&mut conn)
                .await;
            if let Ok(0) = self.note(r) {
                let mut running = self.running();
                if running
                    .get(&id)
                    .is_some_and(|r| r.generation == gen && !r.finishing)
                {
                    if let Some(r) = running.remove(&id) {
                        tracing::info!(requestId = %id, "job cancelled (or taken back): its attempt stops");
                        if let Some(tx) = r.cancel {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        }
    }

    /// Takes back the entries whose consumer stopped renewing their lease.
    ///
    /// Only once this replica has been connected for a whole lease: after an outage every lease
    /// looks expired (no one could renew it), and the replicas that hold them must get the time
    /// to renew them (and to record what they finished) before anything is taken back.
    async fn reap(&self) {
        let settled = self
            .down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .up_since
            .is_some_and(|t| t.elapsed() >= self.lease);
        if !settled {
            return;
        }
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<Value> = redis::cmd("XAUTOCLAIM")
            .arg(&self.keys.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(ms(self.lease))
            .arg("0-0")
            .arg("COUNT")
            .arg(100)
            .query_async(&mut conn)
            .await;
        let claimed = match r {
            Ok(v) => autoclaimed(v),
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    let _ = self.ensure_group(&mut conn).await;
                }
                return;
            }
        };
        for (entry, id, gen) in claimed {
            // An attempt of this replica is never reclaimed by it: its lease is renewed.
            if self.running().get(&id).is_some_and(|r| r.generation == gen) {
                continue;
            }
            self.take_back(&mut conn, &entry, &id, gen).await;
        }
        self.claim_hooks().await;
    }

    /// Queues again (or fails, with no retry left) the job of a stream entry whose attempt no
    /// replica runs any more, and drops the entry.
    async fn take_back(&self, conn: &mut ConnectionManager, entry: &str, id: &str, gen: u64) {
        {
            let error = json!({
                "error_type": "WorkerLost",
                "error_message": format!(
                    "the worker running this job stopped (no lease renewal for {} ms) and no retry is left",
                    ms(self.lease)
                ),
            })
            .to_string();
            let [run_ttl, sync_ttl] = self.ttl_args();
            let r: redis::RedisResult<Option<Vec<Option<String>>>> = self
                .scripts
                .reclaim
                .key(self.keys.job(id))
                .key(&self.keys.stream)
                .key(&self.keys.queued)
                .key(&self.keys.running)
                .key(&self.keys.stats)
                .key(self.keys.chunks(id))
                .key(&self.keys.hooks)
                .arg(entry)
                .arg(id)
                .arg(gen)
                .arg(GROUP)
                .arg(&error)
                .arg(run_ttl)
                .arg(sync_ttl)
                .arg(&self.consumer)
                .invoke_async(conn)
                .await;
            match r {
                Ok(Some(v)) => match v.first().cloned().flatten().as_deref() {
                    Some("retry") => tracing::warn!(
                        requestId = %id,
                        "job {id} was running on a worker that stopped; queued again"
                    ),
                    Some("final") => {
                        tracing::error!(requestId = %id, "job {id} was running on a worker that stopped; no retry left: FAILED");
                        if let Some(hook) = final_webhook(id, &v) {
                            self.delivering().insert(id.to_string());
                            let _ = self.orphans.0.send((id.to_string(), hook));
                        }
                    }
                    _ => {}
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(requestId = %id, "cannot take back job {id}: {e}"),
            }
        }
    }

    /// At shutdown, after the running attempts were handed back: entries still pending for this
    /// replica were delivered to a read that was dropped when the workers stopped (or taken
    /// without a reply); they go back now rather than after a lease.
    async fn hand_back_stray_entries(&self) {
        // No more deliveries: close the blocking reader.
        if let Ok(mut reader) =
            tokio::time::timeout(Duration::from_secs(2), self.reader.lock()).await
        {
            *reader = None;
        }
        let mut conn = self.conn.clone();
        let pending: redis::RedisResult<Value> = redis::cmd("XPENDING")
            .arg(&self.keys.stream)
            .arg(GROUP)
            .arg("-")
            .arg("+")
            .arg(100)
            .arg(&self.consumer)
            .query_async(&mut conn)
            .await;
        let Ok(Value::Array(pending)) = pending else {
            return;
        };
        let entries: Vec<String> = pending
            .into_iter()
            .filter_map(|p| match p {
                Value::Array(mut f) if !f.is_empty() => text(f.swap_remove(0)),
                _ => None,
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let mut claim = redis::cmd("XCLAIM");
        claim
            .arg(&self.keys.stream)
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(0)
            .arg(&entries);
        let claimed: redis::RedisResult<Value> = claim.query_async(&mut conn).await;
        let Ok(Value::Array(claimed)) = claimed else {
            return;
        };
        for (entry, id, gen) in claimed.into_iter().filter_map(entry_fields) {
            self.take_back(&mut conn, &entry, &id, gen).await;
        }
    }

    /// Delivers the webhooks a stopped replica owed (it died between making the job final and
    /// delivering them).
    async fn claim_hooks(&self) {
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<Vec<Option<String>>> = self
            .scripts
            .claim_hooks
            .key(&self.keys.hooks)
            .arg(ms(self.lease))
            .arg(&self.keys.job_prefix)
            .arg(&self.consumer)
            .invoke_async(&mut conn)
            .await;
        let Ok(flat) = r else { return };
        // Each: the id, then the final view.
        for one in flat.chunks(1 + FINAL_VIEW_LEN) {
            let Some(id) = one.first().cloned().flatten() else {
                continue;
            };
            if self.delivering().contains(&id) {
                continue;
            }
            if let Some(hook) = final_webhook(&id, &one[1..]) {
                tracing::warn!(requestId = %id, "the webhook of job {id} was owed by a worker that stopped; delivering it");
                self.delivering().insert(id.clone());
                let _ = self.orphans.0.send((id, hook));
            }
        }
    }

    async fn status_of(&self, id: &str) -> Result<Option<String>, Unavailable> {
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<Vec<Option<String>>> = redis::cmd("HMGET")
            .arg(self.keys.job(id))
            .arg("st")
            .arg("delay")
            .arg("err")
            .arg("exec")
            .arg("out")
            .query_async(&mut conn)
            .await;
        let v = self.note(r)?;
        let field = |i: usize| v.get(i).cloned().flatten().filter(|s| !s.is_empty());
        let Some(status) = field(0) else {
            return Ok(None);
        };
        let (delay, error, exec, output) = (field(1), field(2), field(3), field(4));
        Ok(Some(render_view(
            id,
            &View {
                delay_ms: delay.and_then(|d| d.parse().ok()),
                error: error.as_deref(),
                exec_ms: exec.and_then(|d| d.parse().ok()),
                output: output.as_deref(),
                status: &status,
            },
        )))
    }

    async fn submit_job(&self, new: NewJob) -> Result<String, Unavailable> {
        let prefix = if new.sync { "sync-" } else { "" };
        let id = format!("{prefix}{}", uuid::Uuid::new_v4());
        let args = serde_json::to_string(&new.args).unwrap_or_else(|_| "{}".to_string());
        let mut conn = self.conn.clone();
        let r: redis::RedisResult<i64> = self
            .scripts
            .submit
            .key(self.keys.job(&id))
            .key(&self.keys.stream)
            .key(&self.keys.queued)
            .arg(&id)
            .arg(args)
            .arg(new.webhook.as_deref().unwrap_or(""))
            .arg(new.timeout.map(ms).map_or(String::new(), |t| t.to_string()))
            .arg(new.ttl.map(ms).map_or(String::new(), |t| t.to_string()))
            .arg(if new.sync { "1" } else { "0" })
            .arg(self.retries)
            .invoke_async(&mut conn)
            .await;
        self.note(r)?;
        Ok(id)
    }
}

impl JobStore for RedisStore {
    fn submit(&self, new: NewJob) -> StoreFuture<'_, Result<String, Unavailable>> {
        Box::pin(self.submit_job(new))
    }

    fn submit_and_wait(
        &self,
        new: NewJob,
        wait: Duration,
    ) -> StoreFuture<'_, Result<(String, Option<String>), Unavailable>> {
        Box::pin(async move {
            let id = self.submit_job(new).await?;
            let deadline = tokio::time::Instant::now() + wait;
            // Polled: one read per poll, a few ms apart at first, every 50 ms for longer jobs.
            let mut pause = Duration::from_millis(2);
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    return Ok((id, None));
                }
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(Duration::from_millis(50));
                if let Ok(Some(body)) = self.status_of(&id).await {
                    if is_final_body(&body) {
                        return Ok((id, Some(body)));
                    }
                }
            }
        })
    }

    fn status<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<String>, Unavailable>> {
        Box::pin(self.status_of(id))
    }

    fn take_stream<'a>(
        &'a self,
        id: &'a str,
    ) -> StoreFuture<'a, Result<Option<Json>, Unavailable>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<Option<Vec<String>>> = self
                .scripts
                .take_stream
                .key(self.keys.job(id))
                .key(self.keys.chunks(id))
                .invoke_async(&mut conn)
                .await;
            let Some(v) = self.note(r)? else {
                return Ok(None);
            };
            let mut v = v.into_iter();
            let status = v.next().unwrap_or_default();
            let stream: Vec<Json> = v
                .map(
                    |c| json!({ "output": serde_json::from_str::<Json>(&c).unwrap_or(Json::Null) }),
                )
                .collect();
            Ok(Some(
                json!({ "id": id, "status": status, "stream": stream }),
            ))
        })
    }

    fn cancel<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Option<Json>, Unavailable>> {
        Box::pin(async move {
            let [run_ttl, sync_ttl] = self.ttl_args();
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<Option<String>> = self
                .scripts
                .cancel
                .key(self.keys.job(id))
                .key(&self.keys.stream)
                .key(&self.keys.queued)
                .key(&self.keys.running)
                .key(&self.keys.stats)
                .key(self.keys.chunks(id))
                .arg(id)
                .arg(GROUP)
                .arg(run_ttl)
                .arg(sync_ttl)
                .invoke_async(&mut conn)
                .await;
            // The attempt, if it runs here, stops now; elsewhere at that replica's next
            // heartbeat.
            let status = self.note(r)?;
            if status.as_deref() == Some("CANCELLED") {
                if let Some(r) = self.running().remove(id) {
                    if let Some(tx) = r.cancel {
                        let _ = tx.send(());
                    }
                }
            }
            Ok(status.map(|s| json!({ "id": id, "status": s })))
        })
    }

    fn retry<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Result<Json, RetryError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<Option<String>> = self
                .scripts
                .retry
                .key(self.keys.job(id))
                .key(&self.keys.stream)
                .key(&self.keys.queued)
                .key(&self.keys.stats)
                .key(self.keys.chunks(id))
                .arg(id)
                .arg(self.retries)
                .invoke_async(&mut conn)
                .await;
            match self.note(r) {
                Err(e) => Err(RetryError::Unavailable(e.0)),
                Ok(None) => Err(RetryError::NotFound),
                Ok(Some(s)) if s == "IN_QUEUE" => Ok(json!({ "id": id, "status": "IN_QUEUE" })),
                Ok(Some(s)) => Err(RetryError::NotRetryable(
                    parse_status(&s).unwrap_or(Status::Completed),
                )),
            }
        })
    }

    fn purge(&self) -> StoreFuture<'_, Result<usize, Unavailable>> {
        Box::pin(async move {
            let [run_ttl, sync_ttl] = self.ttl_args();
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<usize> = self
                .scripts
                .purge
                .key(&self.keys.queued)
                .arg(&self.keys.job_prefix)
                .arg(&self.keys.chunk_prefix)
                .arg(run_ttl)
                .arg(sync_ttl)
                .invoke_async(&mut conn)
                .await;
            self.note(r)
        })
    }

    fn health(&self) -> StoreFuture<'_, Result<Json, Unavailable>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<(Vec<Option<u64>>, u64, u64)> = redis::pipe()
                .cmd("HMGET")
                .arg(&self.keys.stats)
                .arg("completed")
                .arg("failed")
                .arg("retried")
                .cmd("SCARD")
                .arg(&self.keys.queued)
                .cmd("SCARD")
                .arg(&self.keys.running)
                .query_async(&mut conn)
                .await;
            let (stats, in_queue, in_progress) = self.note(r)?;
            let stat = |i: usize| stats.get(i).copied().flatten().unwrap_or(0);
            let here = self.running().len();
            Ok(json!({
                "jobs": {
                    "completed": stat(0),
                    "failed": stat(1),
                    "inProgress": in_progress,
                    "inQueue": in_queue,
                    "retried": stat(2),
                },
                "workers": {
                    "idle": self.workers.saturating_sub(here),
                    "running": here.min(self.workers),
                }
            }))
        })
    }

    fn orphan_webhooks(&self) -> Option<OrphanReceiver> {
        self.orphans
            .1
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn unavailable(&self) -> Option<String> {
        self.down
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .error
            .clone()
    }

    /// One worker at a time takes jobs: as many as workers wait, in one round trip while the
    /// stream has a backlog (`TAKE_NEXT`); the others find theirs in `ready`. With no backlog,
    /// a blocking read for one entry, then its take.
    fn next(&self) -> StoreFuture<'_, Assignment> {
        Box::pin(async move {
            let _waiting = Waiting::enter(&self.waiting);
            let mut pause = Duration::from_millis(100);
            loop {
                if let Some(t) = self.ready().pop_front() {
                    return self.assign(t);
                }
                let taking = self.taking.lock().await;
                if let Some(t) = self.ready().pop_front() {
                    return self.assign(t);
                }
                let want = self.waiting.load(Ordering::Relaxed).max(1);
                let batch = self.take_next(want).await;
                let taken = match self.note(batch) {
                    Ok(batch) if !batch.is_empty() => {
                        let mut batch = batch.into_iter();
                        let first = batch.next();
                        self.ready().extend(batch);
                        Ok(first)
                    }
                    Ok(_) => {
                        let read = self.read_one().await;
                        match self.note(read) {
                            Ok(Some((entry, id, gen))) => {
                                let r = self.take(&entry, &id, gen).await;
                                self.note(r)
                            }
                            Ok(None) => Ok(None),
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                };
                drop(taking);
                match taken {
                    Ok(Some(t)) => return self.assign(t),
                    Ok(None) => pause = Duration::from_millis(100),
                    Err(_) => {
                        // Redis is away: wait, then read again (the connection reconnects).
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(2));
                    }
                }
            }
        })
    }

    fn progress<'a>(&'a self, id: &'a str, generation: u64, value: Json) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let r: redis::RedisResult<i64> = self
                .scripts
                .progress
                .key(self.keys.job(id))
                .arg(generation)
                .arg(value.to_string())
                .invoke_async(&mut conn)
                .await;
            // A lost progress update is not worth holding the job for.
            let _ = self.note(r);
        })
    }

    fn chunk<'a>(&'a self, id: &'a str, generation: u64, value: Json) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let text = value.to_string();
            let mut pause = Duration::from_millis(50);
            // A chunk is part of the result: kept trying while the attempt is this one's.
            loop {
                let mut conn = self.conn.clone();
                let r: redis::RedisResult<i64> = self
                    .scripts
                    .chunk
                    .key(self.keys.job(id))
                    .key(self.keys.chunks(id))
                    .arg(generation)
                    .arg(&text)
                    .invoke_async(&mut conn)
                    .await;
                if self.note(r).is_ok() || !self.running().contains_key(id) {
                    return;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        })
    }

    fn finish<'a>(
        &'a self,
        id: &'a str,
        generation: u64,
        result: Result<Output, Failure>,
    ) -> StoreFuture<'a, Option<Webhook>> {
        Box::pin(async move {
            let (status, out, err, retryable) = match Settled::of(result) {
                Settled::Completed(output) => (Status::Completed, output, None, false),
                Settled::FailedWithOutput { output, error } => {
                    tracing::warn!(requestId = %id, "job failed with partial output");
                    (Status::Failed, output, Some(error), false)
                }
                Settled::Failed {
                    status,
                    error,
                    message,
                    retryable,
                } => {
                    tracing::warn!(requestId = %id, "attempt failed: {message}");
                    (status, None, Some(error), retryable)
                }
            };
            let [run_ttl, sync_ttl] = self.ttl_args();
            if let Some(r) = self.running().get_mut(id) {
                r.finishing = true;
            }
            let mut pause = Duration::from_millis(50);
            // The first report also takes the next job for this worker, now idle (FINISH_NEXT:
            // one round trip for both while the stream has a backlog).
            let mut first = true;
            // The outcome is reported until Redis takes it (an outage does not lose it), unless
            // the attempt stopped being this one's meanwhile.
            let reply = loop {
                let mut conn = self.conn.clone();
                let script = if first {
                    &self.scripts.finish_next
                } else {
                    &self.scripts.finish
                };
                let mut call = script.prepare_invoke();
                call.key(self.keys.job(id))
                    .key(&self.keys.stream)
                    .key(&self.keys.queued)
                    .key(&self.keys.running)
                    .key(&self.keys.stats)
                    .key(self.keys.chunks(id))
                    .key(&self.keys.hooks)
                    .arg(id)
                    .arg(generation)
                    .arg(GROUP)
                    .arg(status.as_str())
                    .arg(out.as_deref().unwrap_or(""))
                    .arg(err.as_deref().unwrap_or(""))
                    .arg(if retryable { "1" } else { "" })
                    .arg(run_ttl)
                    .arg(sync_ttl)
                    .arg(&self.consumer);
                if first {
                    call.arg(1).arg(&self.keys.job_prefix);
                }
                let r: redis::RedisResult<Value> = call.invoke_async(&mut conn).await;
                let r = r.and_then(|v| {
                    if !first {
                        return Ok(redis::from_redis_value(v)?);
                    }
                    let mut parts = match v {
                        Value::Array(parts) => parts.into_iter(),
                        _ => Vec::new().into_iter(),
                    };
                    let reply = redis::from_redis_value(parts.next().unwrap_or(Value::Nil))?;
                    let next: Vec<Option<String>> =
                        redis::from_redis_value(Value::Array(parts.collect()))?;
                    self.ready().extend(taken_attempts(&next));
                    Ok(reply)
                });
                first = false;
                let r: redis::RedisResult<Option<Vec<Option<String>>>> = r;
                match self.note(r) {
                    Ok(v) => break v,
                    Err(e) => {
                        if !self.running().contains_key(id) {
                            tracing::warn!(requestId = %id, "the result of job {id} is not recorded: {e}");
                            return None;
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(1));
                    }
                }
            };
            {
                let mut running = self.running();
                if running.get(id).is_some_and(|r| r.generation == generation) {
                    running.remove(id);
                }
            }
            let v = reply?;
            match v.first().cloned().flatten().as_deref() {
                Some("retry") => {
                    tracing::warn!(requestId = %id, "retrying");
                    None
                }
                Some("final") => {
                    let hook = final_webhook(id, &v);
                    if hook.is_some() {
                        self.delivering().insert(id.to_string());
                    }
                    hook
                }
                _ => None,
            }
        })
    }

    /// Drops the claim on a delivered webhook, if this replica still owns it (awaited by the
    /// delivery, so a stopping replica records it before it exits). Until Redis has taken that
    /// (an outage), the id stays in `delivering`, so the claim is still renewed and no other
    /// replica delivers it again.
    fn webhook_done<'a>(&'a self, id: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if !self.delivering().contains(id) {
                return;
            }
            let mut pause = Duration::from_millis(50);
            loop {
                let mut conn = self.conn.clone();
                let r: redis::RedisResult<i64> = self
                    .scripts
                    .hook_done
                    .key(self.keys.job(id))
                    .key(&self.keys.hooks)
                    .arg(id)
                    .arg(&self.consumer)
                    .invoke_async(&mut conn)
                    .await;
                if self.note(r).is_ok() {
                    break;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            self.delivering().remove(id);
        })
    }

    fn keeps_queue(&self) -> bool {
        true
    }

    fn running_count(&self) -> usize {
        self.running().len()
    }

    fn is_idle(&self) -> bool {
        self.running().is_empty()
    }

    fn queued_count(&self) -> usize {
        0
    }

    fn fail_unfinished(&self, _failure: &Failure) -> Vec<(String, Webhook)> {
        // The queue is shared: unfinished jobs stay for the other replicas.
        Vec::new()
    }

    fn requeue_running(&self) -> StoreFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut attempts: Vec<(String, Running)> = self.running().drain().collect();
            // Taken for workers that stopped before picking them up.
            attempts.extend(self.ready().drain(..).map(|t| {
                (
                    t.id,
                    Running {
                        generation: t.generation,
                        cancel: None,
                        finishing: false,
                    },
                )
            }));
            let mut ids = Vec::new();
            for (id, r) in attempts {
                if let Some(tx) = r.cancel {
                    let _ = tx.send(());
                }
                let mut conn = self.conn.clone();
                let q: redis::RedisResult<i64> = self
                    .scripts
                    .requeue
                    .key(self.keys.job(&id))
                    .key(&self.keys.stream)
                    .key(&self.keys.queued)
                    .key(&self.keys.running)
                    .key(self.keys.chunks(&id))
                    .arg(&id)
                    .arg(r.generation)
                    .arg(GROUP)
                    .invoke_async(&mut conn)
                    .await;
                match q {
                    Ok(1) => ids.push(id),
                    Ok(_) => {}
                    // Its lease runs out and another replica takes it back.
                    Err(e) => {
                        tracing::warn!(requestId = %id, "job {id} not queued again now ({e}): another worker takes it back after the lease")
                    }
                }
            }
            self.hand_back_stray_entries().await;
            ids
        })
    }
}

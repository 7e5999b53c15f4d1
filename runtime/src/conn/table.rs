//! The table of open connections: for each, whether it is waiting for a request head and since
//! when; one sweeping task that closes those that waited past the header-read timeout; and the
//! drain that tells every connection to finish at shutdown.
//!
//! Why not hyper's own `header_read_timeout`: hyper arms a fresh timer for every request head,
//! a tokio timer entry registered and dropped per request (~1,950 instructions of a ~26,000
//! instruction request, callgrind, plus the timer wheel's lock under many connections). Here a
//! request costs two atomic stores (busy when its head is complete, waiting again when its
//! response is done), and one task looks at every connection a few times per timeout.
//!
//! Precision: a connection is closed between `timeout` and `timeout + 2 ticks` after it began
//! waiting (a tick is a quarter of the timeout, between 10 ms and 1 s), never earlier.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
    task::{Context, Poll, Waker},
    time::{Duration, Instant},
};

/// `Entry::since` while a request is being served (its head is complete).
const BUSY: u64 = u64::MAX;
/// `Entry::since` once the sweeper has decided to close the connection.
const EXPIRED: u64 = u64::MAX - 1;

pub(super) struct Table {
    /// Milliseconds since `start` at the sweeper's last tick: the clock requests stamp with
    /// (reading `Instant::now()` per request would cost a system call's worth of time).
    clock: AtomicU64,
    start: Instant,
    timeout_ms: u64,
    tick: Duration,
    draining: AtomicBool,
    /// Every request from now on is answered 503 (a worker's drain, see [`super::serve`]).
    refusing: AtomicBool,
    entries: Mutex<HashMap<u64, Arc<Entry>>>,
    next_key: AtomicU64,
}

/// One open connection.
pub(super) struct Entry {
    /// When the connection began waiting for a request head (the table's clock), or [`BUSY`],
    /// or [`EXPIRED`].
    since: AtomicU64,
    /// The connection task's waker, to wake it when it expires or the drain starts.
    waker: Mutex<Option<Waker>>,
    table: Arc<Table>,
}

impl Table {
    /// A table whose connections may wait `header_read` for a request head, with its sweeper
    /// running on the current runtime (it stops once the table is dropped).
    pub(super) fn start(header_read: Duration) -> Arc<Table> {
        let timeout_ms = u64::try_from(header_read.as_millis()).unwrap_or(u64::MAX / 4);
        let tick = (header_read / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let table = Arc::new(Table {
            clock: AtomicU64::new(0),
            start: Instant::now(),
            timeout_ms,
            tick,
            draining: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            entries: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(0),
        });
        tokio::spawn(sweep(Arc::downgrade(&table)));
        table
    }

    /// Adds a connection, waiting for its first request head from now.
    pub(super) fn register(self: &Arc<Self>) -> Registration {
        let entry = Arc::new(Entry {
            since: AtomicU64::new(self.clock.load(Ordering::Relaxed)),
            waker: Mutex::new(None),
            table: self.clone(),
        });
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        lock(&self.entries).insert(key, entry.clone());
        Registration { key, entry }
    }

    /// Tells every connection to finish (see [`Signal`]).
    pub(super) fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        let entries: Vec<Arc<Entry>> = lock(&self.entries).values().cloned().collect();
        for entry in entries {
            entry.wake();
        }
    }

    /// From now on every request is answered 503 (see `tracked`), and the clock is exact
    /// (returned), as [`Table::settled`] needs it.
    pub(super) fn refuse(&self) -> u64 {
        self.refusing.store(true, Ordering::SeqCst);
        self.advance_clock()
    }

    /// Sets the clock to now, and returns it.
    pub(super) fn advance_clock(&self) -> u64 {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX / 4);
        self.clock.store(now, Ordering::Relaxed);
        now
    }

    /// Whether the drain has settled: no request is being served, and no connection began or
    /// ended a request (or opened, for those still waiting for their first) within `quiet_ms`
    /// of now or since `floor` (clock values). Advances the clock; called every few
    /// milliseconds while draining, so the stamps requests leave then are exact.
    pub(super) fn settled(&self, floor: u64, quiet_ms: u64) -> bool {
        let now = self.advance_clock();
        lock(&self.entries).values().all(|entry| {
            let since = entry.since.load(Ordering::Acquire);
            since == EXPIRED || (since != BUSY && now.saturating_sub(since.max(floor)) >= quiet_ms)
        })
    }

    /// One sweep: advances the clock and expires every connection that waited too long.
    fn sweep(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX / 4);
        self.clock.store(now, Ordering::Relaxed);
        // A stamp may be up to one tick old when taken: allow that tick, never close early.
        let limit = self.timeout_ms.saturating_add(self.tick.as_millis() as u64);
        let mut expired = Vec::new();
        for entry in lock(&self.entries).values() {
            let since = entry.since.load(Ordering::Acquire);
            if since < EXPIRED
                && now.saturating_sub(since) >= limit
                && entry
                    .since
                    .compare_exchange(since, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                expired.push(entry.clone());
            }
        }
        for entry in expired {
            entry.wake();
        }
    }
}

async fn sweep(table: Weak<Table>) {
    let Some(tick) = table.upgrade().map(|t| t.tick) else {
        return;
    };
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match table.upgrade() {
            Some(table) => table.sweep(),
            None => return,
        }
    }
}

impl Entry {
    /// A request's head is complete: the header-read timeout does not run while it is served.
    pub(super) fn busy(&self) {
        self.since.store(BUSY, Ordering::Release);
    }

    /// The response is done: the connection waits for the next request head from now.
    pub(super) fn waiting(&self) {
        let now = self.table.clock.load(Ordering::Relaxed);
        self.since.store(now, Ordering::Release);
    }

    /// A request is being served on this connection now.
    pub(super) fn is_busy(&self) -> bool {
        self.since.load(Ordering::Acquire) == BUSY
    }

    /// Whether requests are answered 503 now (the worker is draining).
    pub(super) fn refusing(&self) -> bool {
        self.table.refusing.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        // Left in place: the task may need waking again (an expiry after the drain).
        if let Some(waker) = lock(&self.waker).as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// A connection's place in the table; removes it when dropped.
pub(super) struct Registration {
    key: u64,
    entry: Arc<Entry>,
}

impl Registration {
    pub(super) fn entry(&self) -> &Arc<Entry> {
        &self.entry
    }

    /// What the connection task waits on beside the connection.
    pub(super) fn signal(&self) -> Signal<'_> {
        Signal {
            entry: &self.entry,
            registered: None,
            drain_seen: false,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.entry.table.entries).remove(&self.key);
    }
}

/// Why a connection task must act.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Wake {
    /// The connection waited past the header-read timeout: close it.
    Expired,
    /// The server stopped accepting: finish the open request, then close (reported once).
    Drain,
}

/// Resolves when the connection expires or the drain starts (then only on expiry).
///
/// It is polled whenever the connection task wakes, several times per request, so the common
/// case is two atomic loads: the waker is left in the entry only when it changed (once per
/// connection: a task's waker stays the same).
pub(super) struct Signal<'a> {
    entry: &'a Entry,
    registered: Option<Waker>,
    drain_seen: bool,
}

impl Signal<'_> {
    fn ready(&mut self) -> Option<Wake> {
        if self.entry.since.load(Ordering::Acquire) == EXPIRED {
            return Some(Wake::Expired);
        }
        if !self.drain_seen && self.entry.table.draining.load(Ordering::Acquire) {
            self.drain_seen = true;
            return Some(Wake::Drain);
        }
        None
    }
}

impl Future for Signal<'_> {
    type Output = Wake;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Wake> {
        if let Some(wake) = self.ready() {
            return Poll::Ready(wake);
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        *lock(&self.entry.waker) = Some(cx.waker().clone());
        self.registered = Some(cx.waker().clone());
        // Expiry or the drain may have come between the first check and leaving the waker.
        match self.ready() {
            Some(wake) => Poll::Ready(wake),
            None => Poll::Pending,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

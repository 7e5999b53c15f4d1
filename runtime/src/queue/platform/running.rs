//! The jobs this worker is running: their ids for the heartbeat, a way to cancel each, and a
//! way to wait until none is left (the SIGTERM drain).

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, MutexGuard,
    },
};

use tokio::sync::{oneshot, Notify};

#[derive(Default)]
pub struct Running {
    jobs: Mutex<HashMap<String, (u64, oneshot::Sender<()>)>>,
    changed: Notify,
    next_token: AtomicU64,
}

/// Removes its job from [`Running`] when dropped: when the job task ends, however it ends.
pub struct RunGuard {
    running: Arc<Running>,
    id: String,
    token: u64,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut jobs = self.running.lock();
        // Only our own entry: a job id taken again while the first run ends is a new entry.
        if jobs.get(&self.id).is_some_and(|(t, _)| *t == self.token) {
            jobs.remove(&self.id);
        }
        drop(jobs);
        self.running.changed.notify_waiters();
    }
}

impl Running {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u64, oneshot::Sender<()>)>> {
        // A panic elsewhere while holding the lock leaves a consistent map; keep going.
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a job; the receiver fires if the platform asks to stop it.
    pub fn register(self: &Arc<Self>, id: &str) -> (RunGuard, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id.to_string(), (token, tx));
        self.changed.notify_waiters();
        (
            RunGuard {
                running: self.clone(),
                id: id.to_string(),
                token,
            },
            rx,
        )
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Cancels a running job; false if it is not running here.
    pub fn cancel(&self, id: &str) -> bool {
        match self.lock().remove(id) {
            Some((_, tx)) => {
                let _ = tx.send(());
                true
            }
            None => false,
        }
    }

    /// Resolves when `cond` holds for the running set, checked on every change.
    pub async fn wait_until(&self, cond: impl Fn(&Self) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registering before checking means a change between check and wait is not missed.
            changed.as_mut().enable();
            if cond(self) {
                return;
            }
            changed.await;
        }
    }
}

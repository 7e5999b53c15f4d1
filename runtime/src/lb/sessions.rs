//! Counting WebSocket sessions in flight, so shutdown can wait for them: once upgraded, a
//! connection is no longer tracked by the HTTP server's own graceful shutdown.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub(crate) struct Sessions(Arc<Inner>);

#[derive(Default)]
struct Inner {
    open: AtomicUsize,
    closed: Notify,
}

/// Held for the life of one session; dropping it (however the session ends) counts it out.
pub(crate) struct SessionGuard(Sessions);

impl Sessions {
    pub(crate) fn enter(&self) -> SessionGuard {
        self.0.open.fetch_add(1, Ordering::AcqRel);
        SessionGuard(self.clone())
    }

    /// Resolves once no session is open.
    pub(crate) async fn idle(&self) {
        loop {
            let closed = self.0.closed.notified();
            if self.0.open.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if self.0 .0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0 .0.closed.notify_waiters();
        }
    }
}

//! Graceful shutdown: one shared trigger fired by SIGTERM/SIGINT (or by code, in tests).
//!
//! Every part of a worker (HTTP servers, the queue loop) waits on the same [`Shutdown`], so one
//! signal stops them all at once: they stop accepting work, drain what is in flight, and return.

use tokio::sync::watch;

/// Resolves when the process receives SIGTERM or SIGINT (Ctrl-C elsewhere).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // If a handler cannot be installed we would never shut down gracefully; falling back to
        // Ctrl-C keeps the worker usable rather than failing to start.
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A cloneable shutdown trigger. Cheap to clone and to wait on.
#[derive(Clone)]
pub struct Shutdown {
    tx: std::sync::Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A trigger that fires only when [`Shutdown::trigger`] is called.
    pub fn new() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        Shutdown {
            tx: std::sync::Arc::new(tx),
            rx,
        }
    }

    /// A trigger that also fires on SIGTERM/SIGINT. Must be called inside a tokio runtime.
    pub fn on_signals() -> Shutdown {
        let s = Shutdown::new();
        let fire = s.clone();
        tokio::spawn(async move {
            signal().await;
            fire.trigger();
        });
        s
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the trigger has fired (at once if it already has).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which cannot happen while `self` holds one.
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_waiters() {
        let s = Shutdown::new();
        let w = s.clone();
        let task = tokio::spawn(async move { w.wait().await });
        assert!(!s.is_triggered());
        s.trigger();
        task.await.unwrap();
        assert!(s.is_triggered());
        s.wait().await; // already fired: returns at once
    }
}

//! Noticing a handler that blocks its worker thread. An `async fn` handler that does CPU work
//! or blocking I/O between two `.await`s holds the thread for all of it: on a worker with few
//! threads `/ping`, other routes and the queue heartbeat wait meanwhile. Each poll of a
//! handler's future is timed; the first one past [`HELD_TOO_LONG`] is reported once per call,
//! naming the handler and what to do about it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One poll longer than this is a handler holding its thread (a `/ping` answer takes well under
/// a millisecond; the platform's health checks give up after seconds).
pub const HELD_TOO_LONG: Duration = Duration::from_millis(200);

/// `inner`, with each poll timed; `on_held` runs (once) with the first poll's duration past
/// [`HELD_TOO_LONG`].
pub(crate) struct Watched<F, W: FnOnce(Duration)> {
    inner: F,
    on_held: Option<W>,
}

impl<F, W: FnOnce(Duration)> Watched<F, W> {
    pub(crate) fn new(inner: F, on_held: W) -> Self {
        Watched {
            inner,
            on_held: Some(on_held),
        }
    }
}

impl<F: Future + Unpin, W: FnOnce(Duration) + Unpin> Future for Watched<F, W> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let started = Instant::now();
        let result = Pin::new(&mut self.inner).poll(cx);
        let held = started.elapsed();
        if held >= HELD_TOO_LONG {
            if let Some(report) = self.on_held.take() {
                report(held);
            }
        }
        result
    }
}

/// Logs that `what` held a worker thread for `held` in one poll, and what to do.
pub(crate) fn report(what: &str, held: Duration) {
    tracing::warn!(
        "{what} held a worker thread for {} ms without yielding: CPU work or blocking I/O in an \
         `async fn` handler stops /ping, other requests and the queue heartbeat meanwhile; run it \
         in `flash_runtime::blocking(move || …).await` or make the handler a plain `fn` (it then \
         runs on the blocking pool)",
        held.as_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn a_poll_that_blocks_is_reported_once_and_a_quick_one_never() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let blocking = Box::pin(async {
            std::thread::sleep(HELD_TOO_LONG + Duration::from_millis(50));
            tokio::task::yield_now().await;
            std::thread::sleep(HELD_TOO_LONG + Duration::from_millis(50));
            7
        });
        let record = {
            let seen = seen.clone();
            move |held: Duration| seen.lock().unwrap().push(held)
        };
        assert_eq!(Watched::new(blocking, record).await, 7);
        let held = seen.lock().unwrap().clone();
        assert_eq!(held.len(), 1, "reported once per call: {held:?}");
        assert!(held[0] >= HELD_TOO_LONG);
        let quick = Box::pin(async {
            tokio::time::sleep(HELD_TOO_LONG * 2).await;
            8
        });
        let record = {
            let seen = seen.clone();
            move |held: Duration| seen.lock().unwrap().push(held)
        };
        assert_eq!(Watched::new(quick, record).await, 8);
        assert_eq!(seen.lock().unwrap().len(), 1, "waiting is not holding");
    }
}

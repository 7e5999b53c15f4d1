//! Shared test support: the platform stand-in and a test handler that records how it was run.
#![allow(dead_code)]

pub mod standin;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use flash_runtime::handler::{handler, Call, Handler, HandlerError, Reply};
use serde_json::{json, Value};

/// What the test handler saw.
#[derive(Default)]
pub struct Tracker {
    pub calls: AtomicUsize,
    pub current: AtomicUsize,
    pub max: AtomicUsize,
    pub finished: AtomicUsize,
    /// Calls whose future was dropped before finishing (cancelled jobs).
    pub dropped: AtomicUsize,
    pub started: tokio::sync::Notify,
}

impl Tracker {
    pub fn get(&self, a: &AtomicUsize) -> usize {
        a.load(Ordering::SeqCst)
    }

    /// Waits until `n` calls have started.
    pub async fn wait_calls(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let started = self.started.notified();
            tokio::pin!(started);
            started.as_mut().enable();
            if self.calls.load(Ordering::SeqCst) >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, started).await.is_err() {
                panic!(
                    "only {} of {n} calls started",
                    self.calls.load(Ordering::SeqCst)
                );
            }
        }
    }
}

struct InFlight(Arc<Tracker>, bool);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.current.fetch_sub(1, Ordering::SeqCst);
        if self.1 {
            self.0.finished.fetch_add(1, Ordering::SeqCst);
        } else {
            self.0.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A handler like the example worker's: `name` (required), `count`, `mode`
/// (`stream`/`fail`/`panic`/`progress`/`internal`), `sleep_ms`.
pub fn test_handler(tracker: Arc<Tracker>) -> Handler<()> {
    handler(move |_state: Arc<()>, mut call: Call| {
        let tracker = tracker.clone();
        async move {
            tracker.calls.fetch_add(1, Ordering::SeqCst);
            let now = tracker.current.fetch_add(1, Ordering::SeqCst) + 1;
            tracker.max.fetch_max(now, Ordering::SeqCst);
            tracker.started.notify_waiters();
            let mut guard = InFlight(tracker.clone(), false);
            let name = match call.args().remove("name") {
                Some(Value::String(n)) => n,
                _ => {
                    guard.1 = true;
                    return Err(HandlerError::Invalid(vec![
                        flash_runtime::handler::Problem::new(
                            vec!["input".into(), "name".into()],
                            "Field required",
                            "missing",
                        ),
                    ]));
                }
            };
            let count = call
                .args()
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            let mode = call
                .args()
                .get("mode")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(ms) = call.args().get("sleep_ms").and_then(Value::as_u64) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            guard.1 = true;
            match mode.as_deref() {
                Some("fail") => Err(HandlerError::client(format!("cannot greet {name}"))),
                Some("internal") => Err(HandlerError::internal("boom")),
                Some("panic") => panic!("greet panicked for {name}"),
                Some("stream") => {
                    let chunks: Vec<Value> = (0..count)
                        .map(|i| json!({ "token": format!("hello {name}"), "index": i }))
                        .collect();
                    Reply::stream(futures_util::stream::iter(chunks))
                }
                Some("progress") => {
                    call.progress.update(json!({ "step": 1 }));
                    Reply::json(json!({ "greeting": format!("hello {name}") }))
                }
                _ => Reply::json(json!({ "greeting": format!("hello {name}"), "count": count })),
            }
        }
    })
}

/// Waits for a worker process to exit and returns its status and everything it printed
/// (stdout, then stderr); after `limit` kills it and fails, printing that output.
///
/// The pipes are read while waiting (a worker that logs more than a pipe holds would otherwise
/// block on its next write and never exit).
pub async fn wait_exit(
    child: &mut std::process::Child,
    limit: Duration,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            text
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let logs = |out: std::thread::JoinHandle<String>, err: std::thread::JoinHandle<String>| {
        out.join().unwrap_or_default() + &err.join().unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, logs(out, err));
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the worker did not exit within {limit:?}; its output:\n{}",
                logs(out, err)
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

//! Batching: concurrent requests share one forward pass. A BERT forward pass over 16 texts
//! costs far less than 16 passes over one, so under load the batcher waits a little (at most
//! `max_wait`) for more texts, up to `max_batch` texts a pass.
//!
//! The passes run on one thread of their own, so the worker's async threads never block on the
//! model and `/ping` answers while a batch runs.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::encoder::Encoder;

/// Texts per forward pass (`EMBED_MAX_BATCH`) unless set.
pub const DEFAULT_MAX_BATCH: usize = 32;
/// How long a pass waits for more texts (`EMBED_MAX_WAIT_MS`) unless set.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_millis(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// At most this many texts in one pass (a request with more runs alone, in passes of this
    /// many).
    pub max_batch: usize,
    /// A pass starts at most this long after its first request came in.
    pub max_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_batch: DEFAULT_MAX_BATCH,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

impl Settings {
    /// `EMBED_MAX_BATCH` (texts, ≥ 1) and `EMBED_MAX_WAIT_MS` (milliseconds, 0 = never wait).
    pub fn from_env() -> Result<Settings, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let mut settings = Settings::default();
        if let Some(value) = var("EMBED_MAX_BATCH") {
            settings.max_batch = match value.trim().parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(format!(
                        "EMBED_MAX_BATCH={value:?}: expected a whole number ≥ 1"
                    ))
                }
            };
        }
        if let Some(value) = var("EMBED_MAX_WAIT_MS") {
            let ms = value.trim().parse::<u64>().map_err(|_| {
                format!("EMBED_MAX_WAIT_MS={value:?}: expected a whole number of milliseconds")
            })?;
            settings.max_wait = Duration::from_millis(ms);
        }
        Ok(settings)
    }
}

type Reply = Result<Vec<Vec<f32>>, String>;

struct Job {
    texts: Vec<String>,
    reply: oneshot::Sender<Reply>,
}

/// The handle the handlers share. Dropping the last one stops the batching thread.
pub struct Batcher {
    jobs: mpsc::Sender<Job>,
    passes: Arc<AtomicU64>,
}

impl Batcher {
    /// Starts the thread that owns `encoder` and runs the passes.
    pub fn start(encoder: Encoder, settings: Settings) -> std::io::Result<Batcher> {
        let (jobs, queue) = mpsc::channel();
        let passes = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&passes);
        std::thread::Builder::new()
            .name("embed-batcher".into())
            .spawn(move || run(&encoder, settings, &queue, &counter))?;
        Ok(Batcher { jobs, passes })
    }

    /// Forward passes run so far (each serves one or more requests).
    pub fn passes(&self) -> u64 {
        self.passes.load(Ordering::Relaxed)
    }

    /// The embeddings of `texts`, computed in a pass shared with whatever else is waiting.
    pub async fn embed(&self, texts: Vec<String>) -> Reply {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { texts, reply })
            .map_err(|_| "the batching thread has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the batching thread dropped the request".to_string())?
    }
}

fn run(encoder: &Encoder, settings: Settings, queue: &mpsc::Receiver<Job>, passes: &AtomicU64) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv() {
                Ok(job) => job,
                Err(_) => return, // every Batcher is gone
            },
        };
        let deadline = Instant::now() + settings.max_wait;
        let mut texts = first.texts.len();
        let mut batch = vec![first];
        while texts < settings.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            let job = match queue.recv_timeout(left) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            };
            if texts + job.texts.len() > settings.max_batch {
                carried = Some(job); // first in the next pass
                break;
            }
            texts += job.texts.len();
            batch.push(job);
        }
        // Counted before the pass answers: a caller that has its answer sees its pass counted.
        passes.fetch_add(1, Ordering::Relaxed);
        pass(encoder, batch, settings.max_batch);
    }
}

/// One forward pass over every text of `batch` (several of at most `max_batch` texts when one
/// request alone brings more: memory grows with the batch); each job gets its own rows back.
fn pass(encoder: &Encoder, batch: Vec<Job>, max_batch: usize) {
    let texts: Vec<&str> = batch
        .iter()
        .flat_map(|job| job.texts.iter().map(String::as_str))
        .collect();
    // A panic inside the model fails this pass's requests, not the worker.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut rows = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(max_batch) {
            rows.extend(encoder.embed(chunk)?);
        }
        Ok(rows)
    }))
    .unwrap_or_else(|_| Err("the model panicked on this batch".to_string()))
    .and_then(|rows: Vec<Vec<f32>>| match rows.len() == texts.len() {
        true => Ok(rows),
        false => Err(format!(
            "the model gave {} rows for {} texts",
            rows.len(),
            texts.len()
        )),
    });
    match result {
        Ok(mut rows) => {
            for job in batch.into_iter().rev() {
                let own = rows.split_off(rows.len() - job.texts.len());
                let _ = job.reply.send(Ok(own)); // a caller that went away needs no answer
            }
        }
        Err(e) => {
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Settings::from_vars(vars(&[])).unwrap(), Settings::default());
        assert_eq!(
            Settings::from_vars(vars(&[
                ("EMBED_MAX_BATCH", "8"),
                ("EMBED_MAX_WAIT_MS", "0")
            ]))
            .unwrap(),
            Settings {
                max_batch: 8,
                max_wait: Duration::ZERO
            }
        );
        let err = Settings::from_vars(vars(&[("EMBED_MAX_BATCH", "0")])).unwrap_err();
        assert!(err.contains("EMBED_MAX_BATCH"), "{err}");
        let err = Settings::from_vars(vars(&[("EMBED_MAX_WAIT_MS", "soon")])).unwrap_err();
        assert!(err.contains("EMBED_MAX_WAIT_MS"), "{err}");
    }
}

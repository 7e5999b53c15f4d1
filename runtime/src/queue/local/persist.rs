//! The persisted local queue (feature `persist`): one redb file per queue holding one record per
//! job, opened in the background (another process may still hold it), loaded into the in-memory
//! [`Store`], then kept up to date write-behind: what changed is written in one transaction at
//! most every [`FLUSH_PERIOD`], and once more when the queue stops.
//!
//! Why redb: pure Rust (no C toolchain in the image), ACID with crash-safe commits, a single file,
//! and it locks that file against a second writer, which is exactly the hand-over a dev reload
//! needs (the old process drains while the new one waits). Its rust-version (1.90) is above the
//! workspace's 1.85, which is why the feature is off by default.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::{store::Store, Opening};
use crate::{health::Health, shutdown::Shutdown};

/// Job id → the job's record (JSON, see `store::records::Record`).
const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");

/// Longest wait for a store file another process holds.
pub const OPEN_WAIT: Duration = Duration::from_secs(30);
/// How often a held store file is tried again.
const RETRY: Duration = Duration::from_millis(50);
/// Changes are written at most this long after they happen.
pub const FLUSH_PERIOD: Duration = Duration::from_millis(100);

/// The background task that opens, loads and writes the store; [`Keeper::close`] flushes and
/// releases the file.
pub struct Keeper {
    stop: Shutdown,
    task: JoinHandle<()>,
    pub path: PathBuf,
}

/// Starts opening the store at `path` in the background. The returned [`Opening`] resolves once
/// its jobs are in `store` (or opening failed: then `health` fails too).
pub fn start(path: PathBuf, store: Arc<Store>, health: Health) -> (Opening, Keeper) {
    let (tx, rx) = watch::channel(None);
    let stop = Shutdown::new();
    let task = {
        let path = path.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let db = match open(&path, &stop).await {
                Ok(Some(db)) => db,
                Ok(None) => {
                    let _ = tx.send(Some(Err(format!(
                        "the worker stopped before the queue store {} was opened",
                        path.display()
                    ))));
                    return;
                }
                Err(e) => {
                    health.set_failed(e.clone());
                    let _ = tx.send(Some(Err(e)));
                    return;
                }
            };
            let db = Arc::new(db);
            let loaded = {
                let db = db.clone();
                tokio::task::spawn_blocking(move || read_all(&db)).await
            };
            let records = match loaded {
                Ok(Ok(records)) => records,
                Ok(Err(e)) => {
                    let e = format!("cannot read the queue store {}: {e}", path.display());
                    health.set_failed(e.clone());
                    let _ = tx.send(Some(Err(e)));
                    return;
                }
                Err(e) => {
                    let e = format!(
                        "cannot read the queue store {}: {}",
                        path.display(),
                        panic_text(e)
                    );
                    health.set_failed(e.clone());
                    let _ = tx.send(Some(Err(e)));
                    return;
                }
            };
            let restored = store.restore(records);
            log_restored(&path, &restored);
            let _ = tx.send(Some(Ok(())));
            // Write-behind until stopped, then a last write.
            loop {
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(FLUSH_PERIOD) => false,
                    _ = stop.wait() => true,
                };
                flush(&db, &store, &path).await;
                if stopped {
                    break;
                }
            }
            // Release the file: the next worker may be waiting for it.
            drop(db);
        })
    };
    (Opening(rx), Keeper { stop, task, path })
}

impl Keeper {
    /// Writes what changed last, then closes the store file.
    pub async fn close(self) {
        self.stop.trigger();
        if let Err(e) = self.task.await {
            tracing::error!(
                "the queue store {} was not closed cleanly: {e}",
                self.path.display()
            );
        }
    }
}

/// Opens (or creates) the store file, waiting up to [`OPEN_WAIT`] while another process holds
/// it. `Ok(None)` when `stop` fired first.
async fn open(path: &Path, stop: &Shutdown) -> Result<Option<Database>, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the queue store's directory {}: {e}",
                dir.display()
            )
        })?;
    }
    let started = Instant::now();
    let mut waiting = false;
    loop {
        let p = path.to_path_buf();
        let attempt = tokio::task::spawn_blocking(move || {
            Database::builder()
                // Report a damaged file as an error instead of trusting it.
                .set_check_integrity_on_open(true)
                .create(&p)
        })
        .await;
        match attempt {
            Ok(Ok(db)) => {
                if waiting {
                    tracing::info!("took over the queue store {}", path.display());
                }
                return Ok(Some(db));
            }
            Ok(Err(DatabaseError::DatabaseAlreadyOpen)) => {
                if !waiting {
                    waiting = true;
                    tracing::info!(
                        "waiting for the queue store {} (held by another process)",
                        path.display()
                    );
                }
                if started.elapsed() >= OPEN_WAIT {
                    return Err(format!(
                        "the queue store {} is still held by another process after {} s",
                        path.display(),
                        OPEN_WAIT.as_secs()
                    ));
                }
            }
            Ok(Err(e)) => {
                return Err(format!(
                    "cannot open the queue store {}: {e} (move the file away to start with an empty queue)",
                    path.display()
                ))
            }
            Err(e) => {
                return Err(format!(
                    "cannot open the queue store {}: {} (move the file away to start with an empty queue)",
                    path.display(),
                    panic_text(e)
                ))
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY) => {}
            _ = stop.wait() => return Ok(None),
        }
    }
}

fn panic_text(e: tokio::task::JoinError) -> String {
    if e.is_panic() {
        format!(
            "the store panicked: {}",
            crate::entry::panic_text(&*e.into_panic())
        )
    } else {
        "cancelled".to_string()
    }
}

fn read_all(db: &Database) -> Result<Vec<(String, Vec<u8>)>, redb::Error> {
    let tx = db.begin_read()?;
    let table = match tx.open_table(JOBS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        out.push((k.value().to_string(), v.value().to_vec()));
    }
    Ok(out)
}

fn write(db: &Database, changes: &[(String, Option<Vec<u8>>)]) -> Result<(), redb::Error> {
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table(JOBS)?;
        for (id, record) in changes {
            match record {
                Some(bytes) => {
                    table.insert(id.as_str(), bytes.as_slice())?;
                }
                None => {
                    table.remove(id.as_str())?;
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

/// Writes what changed since the last flush in one transaction; on failure the changes are
/// tried again at the next flush.
async fn flush(db: &Arc<Database>, store: &Arc<Store>, path: &Path) {
    let changes = store.take_changes();
    if changes.is_empty() {
        return;
    }
    let db = db.clone();
    let written = tokio::task::spawn_blocking(move || {
        let r = write(&db, &changes);
        (r, changes)
    })
    .await;
    match written {
        Ok((Ok(()), _)) => {}
        Ok((Err(e), changes)) => {
            tracing::error!(
                "cannot write the queue store {}: {e}; trying again",
                path.display()
            );
            store.mark_changed(changes.into_iter().map(|(id, _)| id));
        }
        Err(e) => tracing::error!(
            "cannot write the queue store {}: {}",
            path.display(),
            panic_text(e)
        ),
    }
}

fn log_restored(path: &Path, r: &super::store::Restored) {
    for id in &r.interrupted {
        tracing::warn!(
            requestId = %id,
            "job {id} was running when the last worker stopped: queued again at the front"
        );
    }
    for id in &r.hooks_dropped {
        tracing::warn!(
            requestId = %id,
            "the webhook of job {id} was not delivered before the last worker stopped: dropped"
        );
    }
    for id in &r.unreadable {
        tracing::error!(requestId = %id, "the stored record of job {id} is unreadable: removed");
    }
    tracing::info!(
        queued = r.queued,
        interrupted = r.interrupted.len(),
        finished = r.finished,
        expired = r.expired,
        "loaded the queue store {}",
        path.display()
    );
}

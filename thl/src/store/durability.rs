//! Watermarks shared between the writer, its background syncer and the
//! readers of the same process; the wakeup of tailing readers.
//!
//! Invariants:
//!
//! * `written` is the highest seqno whose transaction is complete (last
//!   fragment or filtered range) and whose bytes were handed to the OS.
//!   `durable` <= `written` is the highest such seqno covered by an
//!   fdatasync (or, under `SyncPolicy::Never`, by the write itself).
//!   Both only grow, except when a top purge cuts the log.
//! * Group commit: a sync covers everything written before it, so one
//!   fdatasync advances `durable` over all the transactions appended since
//!   the previous one.
//! * Every change of a watermark is published with `Condvar::notify_all`;
//!   readers wait on the condvar with a timeout, never spin.
//! * A failed fdatasync poisons the writer (the kernel may have dropped the
//!   dirty pages: retrying the fsync would lie). `durable` never advances
//!   past what a successful sync covered, and `synced` says where that is
//!   in the file (the writer cuts the log back to it).
//! * Under `SyncPolicy::Interval` the file length read after `written`
//!   covers every byte of `written`: the writer flushes before it publishes
//!   `written`.

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::seqno::Seqno;

/// The watermarks.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    pub written: Option<Seqno>,
    pub durable: Option<Seqno>,
    /// The active data file and its number, for the background syncer.
    pub active: Option<(u32, Arc<File>)>,
    /// The file number and length the last successful fdatasync covered
    /// (what an I/O error cuts the log back to).
    pub synced: Option<(u32, u64)>,
    pub poisoned: Option<String>,
    pub closed: bool,
}

/// State shared by a writer and the readers it hands out.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    marks: Mutex<Marks>,
    cond: Condvar,
}

impl Shared {
    pub fn new(dir: PathBuf, recovered: Option<Seqno>) -> Shared {
        Shared {
            dir,
            marks: Mutex::new(Marks {
                written: recovered,
                durable: recovered,
                ..Marks::default()
            }),
            cond: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Marks> {
        self.marks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes a change made through `lock()`.
    pub fn notify(&self) {
        self.cond.notify_all();
    }

    /// Waits until `done(marks)` holds, the writer closes, or `timeout`
    /// passes. Returns whether `done` held.
    pub fn wait_until(&self, timeout: Duration, mut done: impl FnMut(&Marks) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock();
        loop {
            if done(&g) {
                return true;
            }
            let now = Instant::now();
            if g.closed || now >= deadline {
                return false;
            }
            g = self
                .cond
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Starts the background syncer of `SyncPolicy::Interval`: every `every`,
/// if `written` moved past `durable`, fdatasync the active file and advance
/// `durable` to the `written` seen before the sync.
pub(crate) fn spawn_syncer(
    shared: Arc<Shared>,
    every: Duration,
    io: Arc<dyn super::StoreIo>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("thl-sync".into()).spawn(move || loop {
        let (target, no, file) = {
            // Sleep one interval (commits notify the condvar: ignore them).
            let mut g = shared.lock();
            let deadline = Instant::now() + every;
            loop {
                if g.closed {
                    return;
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                g = shared
                    .cond
                    .wait_timeout(g, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            if g.written <= g.durable || g.poisoned.is_some() {
                continue;
            }
            match &g.active {
                Some((no, f)) => (g.written, *no, Arc::clone(f)),
                None => continue,
            }
        };
        let res = file.metadata().and_then(|m| io.sync_data(&file).map(|()| m.len()));
        let mut g = shared.lock();
        match res {
            Ok(len) => {
                if target > g.durable {
                    g.durable = target;
                }
                if g.active.as_ref().is_some_and(|(n, _)| *n == no) {
                    g.synced = Some((no, len));
                }
            }
            Err(e) => {
                tracing::error!(dir = %shared.dir.display(), error = %e, "THL fdatasync failed; writer poisoned");
                g.poisoned = Some(format!("background fdatasync failed: {e}"));
            }
        }
        drop(g);
        shared.notify();
    })
}

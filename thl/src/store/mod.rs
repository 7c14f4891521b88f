//! The THL on disk: a directory of segment files written by one writer and
//! read by any number of readers (bytes: `thl/FORMAT.md` §1-2; the store's
//! place in the data path: `ARCHITECTURE.md` §3).
//!
//! Invariants, which every module below maintains:
//!
//! 1. **One writer per directory** (`lock`): a `flock` on `thl.lock`, held
//!    for the writer's lifetime; a second writer fails at once naming the
//!    directory and the holder's pid. Readers take no lock.
//! 2. **Dense, ordered seqnos** (`writer`): the log holds seqnos
//!    `min..=max` without holes (a filtered range record covers dropped
//!    seqnos); a transaction's fragments are contiguous, numbered from 0,
//!    and never span two files.
//! 3. **Whole, checked records** (`record`, `reader`): every record carries
//!    its length and a CRC32; nothing is served or applied before both are
//!    checked, and no allocation is ever sized by an unchecked length.
//! 4. **Only whole transactions survive a crash** (`recovery`): a torn
//!    record or unfinished transaction at the end of the last file is cut
//!    on open (logged); damage anywhere else is a hard error naming file,
//!    offset and last good seqno.
//! 5. **Durable before visible** (`durability`): in-process readers see
//!    records up to the durable watermark, which advances only after an
//!    fdatasync that covers them (group commit).
//! 6. **An I/O error never leaves unknown bytes in the log** (`writer`,
//!    `io`): a failed write or fdatasync poisons the writer and cuts the
//!    active file back to what the last successful fdatasync covered (the
//!    kernel may have dropped the pages after it); `Writer::recover` then
//!    continues from there, and the caller re-extracts or re-fetches.
//! 7. **Nothing still needed is purged** (`retention`): purge and retention
//!    delete whole files from the low end only, never the active file, and
//!    never a file holding a seqno >= the caller's `still_needed`.
//!
//! Modules: `segment` (file naming, header, mmap, record iteration),
//! `index` (persisted sparse index, rebuilt from data), `lock`, `writer`,
//! `durability` (watermarks, background syncer, wakeups), `io` (the
//! file operations' seam, and a failing disk for tests), `reader`
//! (cursors, tailing, info, verify), `recovery`, `retention`, `error`.

mod durability;
mod error;
mod index;
mod io;
mod lock;
mod private;
mod reader;
mod recovery;
mod retention;
mod segment;
mod writer;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{Result, StoreError};
pub use index::DEFAULT_INTERVAL as DEFAULT_INDEX_INTERVAL;
pub use io::{FaultyIo, IoSeam, RealIo, StoreIo};
pub use lock::LOCK_FILE;
pub use reader::{Cursor, FileInfo, FileRecords, LogInfo, Reader, RecordRef, VerifyReport, Visibility};
pub use retention::{PurgeReport, Retention};
pub use segment::{data_file_name, FileHeader, DATA_MAGIC, FILE_HEADER_LEN, FORMAT_VERSION};
pub use writer::Writer;

/// Default size at which the writer rotates to a new file: 100 MB.
pub const DEFAULT_FILE_SIZE: u64 = 100_000_000;
/// Default size of the writer's append buffer.
pub const DEFAULT_WRITE_BUFFER: usize = 128 * 1024;

/// When the writer fdatasyncs.
///
/// The default is `EveryCommit`: a commit returns only once its
/// transactions are on disk, so the durable watermark (what is served
/// downstream and acknowledged upstream) never covers data a power loss can
/// take back. It is also fast with group commit: the pipeline appends a
/// block of transactions and commits once, paying one fdatasync per block.
/// `Interval` trades latency of the watermark for fewer syncs under many
/// small commits; `Never` is for tests and throw-away logs (the watermark
/// then follows writes, which survive a process crash but not a power loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// fdatasync in every `commit()`.
    #[default]
    EveryCommit,
    /// A background thread fdatasyncs at most once per interval.
    Interval(Duration),
    /// Never fdatasync.
    Never,
}

/// Configuration of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The directory of the service's THL.
    pub dir: PathBuf,
    /// Rotate when the active file reaches this size (bytes).
    pub file_size: u64,
    /// When to fdatasync.
    pub sync: SyncPolicy,
    /// Bytes of data between two sparse index entries.
    pub index_interval: u32,
    /// Size of the append buffer; larger records are written directly.
    pub write_buffer: usize,
    /// The file operations (a failing disk in tests).
    pub io: IoSeam,
}

impl StoreConfig {
    /// The defaults for `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            file_size: DEFAULT_FILE_SIZE,
            sync: SyncPolicy::default(),
            index_interval: DEFAULT_INDEX_INTERVAL,
            write_buffer: DEFAULT_WRITE_BUFFER,
            io: IoSeam::default(),
        }
    }
}

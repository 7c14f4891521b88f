//! The store's error type, one variant per thing the caller must do.
//!
//! Every variant carries where it happened (directory, file, offset, seqno)
//! so an operator can act on the message alone.

use std::io;
use std::path::PathBuf;

use crate::record::RecordError;
use crate::seqno::Seqno;

/// Errors of the THL store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another `Writer` in this one) holds the write
    /// lock. Fail fast: stop the other writer or use a reader.
    #[error("THL directory {dir} is locked by another writer (pid {})", pid.map_or_else(|| "unknown".to_string(), |p| p.to_string()))]
    Locked { dir: PathBuf, pid: Option<u32> },

    /// An operating-system I/O error (disk full, permissions, ...). May be
    /// transient; after a failed fsync the writer refuses further appends
    /// and must be reopened (recovery re-reads what is really on disk).
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The log on disk is damaged outside the tolerated torn tail. The
    /// operator must repair it (purge, restore from a peer).
    #[error("corrupt THL file {file} at offset {offset} (last good seqno {}): {reason}", last_good.map_or_else(|| "none".to_string(), |s| s.to_string()))]
    Corrupt {
        file: PathBuf,
        offset: u64,
        last_good: Option<Seqno>,
        reason: String,
    },

    /// The requested seqno is no longer (or not yet) in the log. The caller
    /// must reposition (e.g. re-provision a lagging slave).
    #[error("seqno {seqno} is not in the THL at {dir} (stored: {})", range_text(*min, *max))]
    SeqnoNotFound {
        dir: PathBuf,
        seqno: Seqno,
        min: Option<Seqno>,
        max: Option<Seqno>,
    },

    /// An append broke the log's ordering rules (seqno order and density,
    /// fragment order) or the record is invalid. A caller bug or a diverged
    /// upstream: do not retry the same record.
    #[error("append to THL {dir} rejected at seqno {seqno} fragno {fragno}: {reason}")]
    Rejected {
        dir: PathBuf,
        seqno: Seqno,
        fragno: u16,
        reason: String,
    },

    /// A bad argument (purge range, configuration).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A raw record handed to `append_raw` is not a valid frame.
    #[error("invalid raw record for THL {dir}: {source}")]
    BadRecord {
        dir: PathBuf,
        #[source]
        source: RecordError,
    },

    /// The writer stopped after an I/O error (the log was cut back to its
    /// durable end); `Writer::recover` or reopening continues.
    #[error("THL writer for {dir} stopped after an I/O error ({reason}); it continues from its last durable transaction once recovered")]
    Poisoned { dir: PathBuf, reason: String },

    /// An event body could not be decoded.
    #[error("cannot decode the body of seqno {seqno} fragno {fragno} in {file} at offset {offset}: {reason}")]
    Body {
        file: PathBuf,
        offset: u64,
        seqno: Seqno,
        fragno: u16,
        reason: String,
    },
}

fn range_text(min: Option<Seqno>, max: Option<Seqno>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a}..={b}"),
        _ => "empty".to_string(),
    }
}

impl StoreError {
    /// True when retrying the same operation later may succeed (for
    /// `Poisoned`: after `Writer::recover` or reopening).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Locked { .. } | StoreError::Poisoned { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        last_good: Option<Seqno>,
        reason: impl Into<String>,
    ) -> StoreError {
        StoreError::Corrupt {
            file: file.into(),
            offset,
            last_good,
            reason: reason.into(),
        }
    }
}

/// Result alias of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

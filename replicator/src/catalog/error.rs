//! Typed catalog errors. Every variant names the catalog directory and,
//! where one is involved, the column family and key (rendered readably, e.g.
//! `schema/shop.orders@42`).

use std::path::PathBuf;
use thl::seqno::Epoch;

/// An error from the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog directory could not be created.
    #[error("catalog {path}: cannot create the directory: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Catalog` in this process) holds the
    /// RocksDB `LOCK` file of the directory.
    #[error(
        "catalog {path}: already open by another replicator (RocksDB LOCK file is held); \
         stop the other process or use a different service directory ({source})"
    )]
    Locked {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    /// RocksDB refused to open the directory for another reason.
    #[error("catalog {path}: cannot open the database: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    /// A read, write or iteration failed.
    #[error("catalog {path}: {op} {key}: {source}")]
    Db {
        path: PathBuf,
        op: &'static str,
        key: String,
        #[source]
        source: rocksdb::Error,
    },
    /// A stored value or key could not be decoded.
    #[error("catalog {path}: corrupt entry {key}: {reason}")]
    Corrupt { path: PathBuf, key: String, reason: String },
    /// A value was written by a newer format than this build reads.
    #[error(
        "catalog {path}: entry {key} has value format version {version}; this build reads \
         version {supported} (the catalog was written by a newer replicator)"
    )]
    UnsupportedVersion {
        path: PathBuf,
        key: String,
        version: u8,
        supported: u8,
    },
    /// A schema or table name cannot be stored (it contains a NUL byte).
    #[error("catalog {path}: invalid name {name:?}: names must not contain NUL bytes")]
    InvalidName { path: PathBuf, name: String },
    /// An epoch was recorded out of order, or conflicts with a recorded one.
    #[error("catalog {path}: epoch {epoch}: {reason}")]
    EpochOrder {
        path: PathBuf,
        epoch: Epoch,
        reason: String,
    },
}

/// Result alias of the catalog.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

//! The records the catalog stores, and their value encoding: one format
//! version byte (`1`) followed by the record as a serde_json document.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use thl::event::ColumnSpec;
use thl::seqno::{Epoch, Seqno};

use crate::config::Role;

/// The value format version this build writes and reads.
pub const VALUE_VERSION: u8 = 1;

/// One master session: the epoch number and where it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number (by convention the first seqno the session wrote).
    pub epoch: Epoch,
    /// First seqno of the session.
    pub first_seqno: Seqno,
    /// The master that started the session (its host name).
    pub source_id: String,
    /// When the session started, ms since the Unix epoch.
    pub time_ms: i64,
    /// Where in its own binlog a promoted master started (an event id),
    /// when the THL before this epoch came from another host
    /// (`pipeline/master/promotion.rs`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl EpochRecord {
    /// The event id where `host` started extracting its own binlog when it
    /// was promoted after another host's seqno `first - 1`: this record's,
    /// when it is that promotion's epoch.
    pub fn promotion_start(&self, host: &str, first: Seqno) -> Option<&str> {
        (self.source_id == host && self.first_seqno == first)
            .then_some(self.start.as_deref())
            .flatten()
    }
}

/// A table definition as in force from some seqno on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// Every column, in table order.
    pub columns: Vec<ColumnSpec>,
    /// Indexes (into `columns`) of the primary key columns, in key order;
    /// empty for a table without a primary key.
    pub primary_key: Vec<u16>,
}

/// One schema-history entry: a definition, or the drop marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaEntry {
    Defined(TableDef),
    Dropped,
}

/// A schema change to record at a seqno (see [`super::Catalog::apply_schema_changes`]).
/// `RENAME TABLE a TO b` is `Drop(a)` then `Define(b)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChange {
    Define {
        schema: String,
        table: String,
        def: TableDef,
    },
    Drop {
        schema: String,
        table: String,
    },
}

/// The service's role as set by `trepctl setrole`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRecord {
    pub role: Role,
    /// Upstream THL URIs (`thl://host:2112/`), tried in order; empty for a
    /// master.
    pub upstream: Vec<String>,
    /// When the role was set, ms since the Unix epoch.
    pub time_ms: i64,
}

/// A position acknowledged by a downstream THL reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The reader's identity (its host name or service id).
    pub client: String,
    /// The last seqno the reader has stored durably.
    pub seqno: Seqno,
    /// When the acknowledgement arrived, ms since the Unix epoch.
    pub time_ms: i64,
}

/// The extractor's last extracted position: a hint for restarts; the THL
/// itself is the source of truth for the master's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractorPosition {
    pub seqno: Seqno,
    /// Native event id (`mysql-bin.000018:0000000000070227;140`).
    pub event_id: String,
    pub time_ms: i64,
}

/// Encodes a value: the version byte, then JSON.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_VERSION];
    // Serializing these plain structs to a Vec cannot fail (no maps with
    // non-string keys, no failing Serialize impls); fall back to an empty
    // document rather than panic.
    if serde_json::to_writer(&mut out, value).is_err() {
        out.truncate(1);
        out.extend_from_slice(b"null");
    }
    out
}

/// Why a value could not be decoded.
#[derive(Debug)]
pub(crate) enum DecodeError {
    Empty,
    Version(u8),
    Json(serde_json::Error),
}

/// Decodes a value written by [`encode`].
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if version != VALUE_VERSION {
        return Err(DecodeError::Version(version));
    }
    serde_json::from_slice(body).map_err(DecodeError::Json)
}

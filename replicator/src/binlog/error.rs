//! Decoding errors.
//!
//! Invariant: every [`BinlogError`] names the binlog file, the event's start
//! position, and (when known) the event type and the table (`schema.table`),
//! so an operator can find the event with `mysqlbinlog --start-position`.

use std::fmt;

use super::cursor::Short;
use super::event_types::event_type_name;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a binlog file: bad magic {0:02x?}")]
    BadMagic(Vec<u8>),
    /// The file ends inside an event (a live file being written, or a
    /// truncated copy).
    #[error("truncated event: file ends {have} bytes into an event of {need} bytes")]
    Truncated { have: u64, need: u64 },
    #[error("event size {size} is invalid (header is 19 bytes; limit {limit})")]
    BadEventSize { size: u64, limit: u64 },
    #[error("CRC32 mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("encrypted binlog (START_ENCRYPTION_EVENT): cannot be read from disk; read it through the server")]
    Encrypted,
    #[error("field `{what}` runs past the end of the event (needs {need} bytes, {have} left)")]
    Short {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("rows event for table id {0} without a preceding TABLE_MAP_EVENT")]
    UnknownTable(u64),
    #[error("decompression failed: {0}")]
    Decompress(String),
}

/// A decoding error with its location.
#[derive(Debug)]
pub struct BinlogError {
    /// Binlog file name (as known to the decoder; may be empty).
    pub file: String,
    /// Start position of the event in the file.
    pub pos: u64,
    /// The event type code, when the header was readable.
    pub event_type: Option<u8>,
    /// `schema.table` for row and table-map events.
    pub table: Option<String>,
    pub kind: ErrorKind,
}

impl BinlogError {
    pub fn new(file: &str, pos: u64, event_type: Option<u8>, kind: ErrorKind) -> Self {
        BinlogError {
            file: file.to_string(),
            pos,
            event_type,
            table: None,
            kind,
        }
    }

    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }

    /// True for the `Unsupported` kind (an event or value this decoder
    /// cannot represent exactly).
    pub fn is_unsupported(&self) -> bool {
        matches!(self.kind, ErrorKind::Unsupported(_))
    }

    /// True when the file ended inside an event.
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated { .. })
    }
}

impl fmt::Display for BinlogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            if self.file.is_empty() { "<binlog>" } else { &self.file },
            self.pos
        )?;
        if let Some(t) = self.event_type {
            write!(f, " {}({})", event_type_name(t), t)?;
        }
        if let Some(t) = &self.table {
            write!(f, " table `{t}`")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for BinlogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

impl From<Short> for ErrorKind {
    fn from(s: Short) -> Self {
        ErrorKind::Short {
            what: s.what,
            need: s.need,
            have: s.have,
        }
    }
}

/// Shorthand used inside the decoders: an error without location, filled in
/// by the `Decoder`.
pub(crate) type KResult<T> = Result<T, ErrorKind>;

pub(crate) fn malformed(msg: impl Into<String>) -> ErrorKind {
    ErrorKind::Malformed(msg.into())
}

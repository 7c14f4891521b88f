//! The connection to the source database (MariaDB, or MySQL) as a replica.
//!
//! * [`preflight()`]: one `ensure_*` check per requirement of the source
//!   (binlog on, ROW format, FULL row image and metadata, server ids,
//!   privileges); every check runs and every failure is reported at once.
//! * [`BinlogSource`]: a binlog dump from a [`StartPosition`], yielding each
//!   event as its **whole raw bytes** ([`RawEvent`]) for the decoder in
//!   [`crate::binlog`].
//! * [`queries`]: the small queries the extractor needs (current position,
//!   binary logs, server id, version, `@@gtid_binlog_pos`).
//! * [`SourceError`]: every failure, typed by what the caller must do:
//!   [`TransientError`] (retry with backoff) or [`DefiniteError`] (stop,
//!   go OFFLINE:ERROR, tell the operator). Each carries the position.
//!
//! # Raw event bytes
//!
//! mysql_async 0.37.1 gives no access to the raw packets of a binlog dump
//! (`Conn::read_packet` is crate-private), and writing our own client
//! (handshake, authentication plugins, TLS) is not worth it for this. So the
//! stream is mysql_async's `BinlogStream`, and each `Event` is turned back
//! into the exact bytes the server sent: the 19-byte header rebuilt field by
//! field from `BinlogEventHeader`, then `Event::data()`, then, for a format
//! description event, the checksum-algorithm byte, then the **checksum bytes
//! as received** (`Event::checksum()`). We never use `Event::write`, which
//! would *recompute* the CRC and make verification meaningless. Invariant,
//! checked on every event: the rebuilt length equals the header's
//! `event_size`; otherwise the stream stops with a definite protocol error.
//!
//! The first fake ROTATE of a dump arrives before any format description
//! event, so mysql_common does not strip its checksum (MariaDB checksums it
//! whenever the replica asked for checksums, and mysql_async always sets
//! `@master_binlog_checksum='ALL'`). Its raw bytes are therefore complete;
//! the checksum algorithm of such pre-FDE events is found by checking
//! whether the last four bytes are the CRC32 of the rest, and the file name
//! we track has those bytes removed.
//!
//! # Positions
//!
//! A [`RawEvent`] names the binlog file and the offset at which the event
//! starts (`log_pos - event_size`) and the offset after it (`log_pos`),
//! which is where a resumed dump would start. Artificial events (fake
//! ROTATE, the FDE re-sent when a dump starts mid-file, heartbeats: anything
//! with `log_pos == 0`, the artificial flag, or type HEARTBEAT) take the
//! current position and do not move it. Within a file an event's `pos` is
//! at least the previous event's `next_pos`, and equal to it except where
//! the server leaves an event out of the dump (ANNOTATE_ROWS, which is not
//! requested): do not assume contiguity.
//!
//! # MariaDB session variables
//!
//! Before the dump we set, on the same connection:
//! `@mariadb_slave_capability=4` (otherwise MariaDB replaces GTID and
//! ANNOTATE events with dummy events), `@master_heartbeat_period` (ns; the
//! server sends HEARTBEAT events when idle, so a silent dead connection is
//! detected by [`StreamConfig::idle_timeout`]), and for a GTID start
//! `@slave_connect_state`, `@slave_gtid_strict_mode=1`,
//! `@slave_gtid_ignore_duplicates=0`. ANNOTATE_ROWS events are not requested:
//! mysql_async masks the COM_BINLOG_DUMP flag that asks for them.

pub mod error;
pub mod preflight;
pub mod queries;
mod stream;

pub use crate::binlog::BinlogPosition;
pub use error::{DefiniteError, SourceError, StreamPosition, TransientError};
pub use preflight::{
    preflight, PreflightError, PreflightFinding, PreflightReport, Privileges, Severity, SourceSettings,
};
pub use queries::{BinaryLog, ServerInfo};
pub use stream::{BinlogSource, ChecksumAlg, RawEvent, StartPosition, StreamConfig};

//! Decoding MySQL/MariaDB binary log events into THL values.
//!
//! * [`framing`]: [`BinlogFileReader`] walks a binlog file event by event
//!   (magic, `event_size`, CRC32, partial tail, encrypted-file refusal).
//! * [`decoder`]: [`Decoder::decode`] turns one *whole* raw event (header,
//!   payload, optional CRC) into a [`BinlogEvent`]; the network path feeds
//!   it the same bytes.
//! * [`fde`], [`status_vars`], [`events`], [`mariadb`], [`mysql_gtid`],
//!   [`table_map`], [`rows`], [`values`], [`json`], [`compressed`],
//!   [`payload`], [`xa`]: one event family or encoding each.
//! * [`session`]: folding INTVAR/RAND/USER_VAR into the next statement.
//! * [`encode`]: the way back, THL row changes to TABLE_MAP and rows events
//!   that a MariaDB target applies with its own row applier.
//!
//! mysql_common is used only where it is correct and bounded: the tagged
//! GTID serialization, the zstd reader of TRANSACTION_PAYLOAD, the binary
//! JSON reader and the collation table. Everything else (framing, FDE,
//! status variables, table maps, the row loop and values) is decoded here,
//! which fixes its MEDIUMINT, YEAR 0, negative TIME(1/2), GEOMETRY charset
//! and partial-tail bugs, and is about 7x faster per row.
//!
//! Typical use:
//!
//! ```no_run
//! use replicator::binlog::{BinlogFileReader, Decoder, BinlogEvent};
//! let mut dec = Decoder::new("mysql-bin.000001");
//! let mut rd = BinlogFileReader::open("/var/lib/mysql/mysql-bin.000001")?;
//! while let Some((pos, ev)) = rd.decode_next(&mut dec)? {
//!     if let BinlogEvent::Rows(r) = ev {
//!         println!("{pos}: {} rows of {}.{}", r.changes.rows.len(), r.changes.schema, r.changes.table);
//!     }
//! }
//! # Ok::<(), replicator::binlog::BinlogError>(())
//! ```

pub mod compressed;
pub mod cursor;
pub mod decoder;
pub mod encode;
pub mod error;
pub mod event_types;
pub mod events;
pub mod fde;
pub mod framing;
pub mod json;
pub mod load_data;
pub mod mariadb;
pub mod mysql_gtid;
pub mod payload;
pub mod position;
pub mod rows;
pub mod session;
pub mod status_vars;
pub mod table_map;
pub mod values;
pub mod xa;

pub use decoder::{BinlogEvent, Decoder};
pub use error::{BinlogError, ErrorKind};
pub use event_types::{event_type_name, EventHeader};
pub use events::QueryEvent;
pub use fde::{ChecksumAlg, FormatDescription};
pub use framing::{BinlogFileReader, RawEvent, ReadOutcome};
pub use mariadb::{GtidTriple, MariaGtid};
pub use mysql_gtid::MysqlGtid;
pub use position::BinlogPosition;
pub use rows::RowsEvent;
pub use session::PendingVars;
pub use status_vars::StatusVars;
pub use table_map::TableMap;

#[cfg(test)]
pub(crate) mod encode_tests;
#[cfg(test)]
mod tests;

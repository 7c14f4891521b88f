//! The versioned binary encoding of event bodies ([`EventBody`]).
//!
//! # Invariants
//!
//! * **Versioned.** The first byte is the format version: [`encode_body`]
//!   writes [`BODY_FORMAT_VERSION`] (2); [`decode_body`] also reads version 1
//!   (no row flags: they decode as "checks on") and refuses any other with
//!   [`DecodeReason::UnsupportedVersion`]. Any change to the tables below is a
//!   version change (and new golden files in `thl/tests/golden/`).
//! * **Exact.** Every [`Value`](crate::event::Value) round-trips bit for bit: floats by their IEEE
//!   bits (NaN payloads, `-0.0`), the full `i64`/`u64` ranges, zero dates,
//!   negative TIME with microseconds, DECIMAL as text, BLOBs as raw bytes.
//! * **Canonical.** A body has exactly one encoding: varints are minimal,
//!   flag and presence bits are set exactly when their field is present,
//!   booleans are `0` or `1`. So `encode_body(decode_body(b)?) == b` for every
//!   accepted `b` of the current version, and relays may compare bodies as
//!   bytes (a version 1 body re-encodes as version 2).
//! * **Strict, total decoding.** [`decode_body`] never panics on any input and
//!   never allocates more than the input justifies: every length is checked
//!   against the remaining bytes before anything is allocated, every count is
//!   bounded by the remaining bytes divided by the smallest encoding of one
//!   item. Unknown versions, tags and flag bits, invalid UTF-8 in text fields,
//!   non-minimal or overflowing varints, out-of-range integers and trailing
//!   bytes are errors naming the byte offset ([`DecodeError`]).
//! * **Self-delimiting, no nesting limit needed.** Nothing is recursive;
//!   decoding is a single forward pass.
//!
//! # Byte layout (format version 2)
//!
//! Primitive encodings used by the tables:
//!
//! | Name | Encoding |
//! |---|---|
//! | `u8` | 1 byte |
//! | `u16le`, `u32le`, `u64le` | fixed width, little-endian |
//! | `varint` | unsigned LEB128: 7 bits per byte, low bits first, high bit = "more bytes follow"; at most 10 bytes; must be minimal (a multi-byte varint never ends with `0x00`); a 10th byte may only be `0x00` or `0x01` |
//! | `varint16`, `varint32` | a `varint` whose value must fit `u16` / `u32` |
//! | `zigzag` | signed `i64` as `varint((n << 1) ^ (n >> 63))`: 0→0, -1→1, 1→2, `i64::MIN`→`u64::MAX` |
//! | `bool` | `u8`, `0x00` = false, `0x01` = true, anything else is an error |
//! | `bytes` | `varint` length *n*, then *n* raw bytes |
//! | `str` | like `bytes`, the bytes must be valid UTF-8 |
//! | `count` | `varint` number of items that follow |
//!
//! ## Body
//!
//! | Field | Encoding |
//! |---|---|
//! | version | `u8`, = 2 (1 is still read) |
//! | metadata | `count`, then per option: name `str`, value `str` (in order) |
//! | changes | `count`, then per change: a [change](#change) |
//! | (end) | the input must end here: trailing bytes are an error |
//!
//! ## Change
//!
//! | Field | Encoding |
//! |---|---|
//! | tag | `u8`: `0x01` = Statement, `0x02` = Rows; others are errors |
//! | payload | a [statement](#statement) or [row changes](#row-changes) |
//!
//! ## Statement
//!
//! | Field | Encoding |
//! |---|---|
//! | flags | `u8`: bit 0 = `default_db` present; other bits must be 0 |
//! | default_db | `str`, only if flag bit 0 |
//! | sql | `bytes` (client character set, not checked as UTF-8) |
//! | session | [session vars](#session-vars) |
//! | error_code | `varint16` |
//!
//! ## Session vars
//!
//! A `varint` presence mask, then each present field in bit order. Bits not
//! listed must be 0. `user_vars` is "present" when the list is non-empty.
//!
//! | Bit | Field | Encoding |
//! |---|---|---|
//! | 0 | timestamp_us | `zigzag` |
//! | 1 | thread_id | `varint32` |
//! | 2 | sql_mode | `varint` |
//! | 3 | time_zone | `str` |
//! | 4 | charset_client | `varint16` |
//! | 5 | collation_connection | `varint16` |
//! | 6 | collation_server | `varint16` |
//! | 7 | collation_database | `varint16` |
//! | 8 | lc_time_names | `varint16` |
//! | 9 | foreign_key_checks | `bool` |
//! | 10 | unique_checks | `bool` |
//! | 11 | autocommit | `bool` |
//! | 12 | sql_auto_is_null | `bool` |
//! | 13 | auto_increment_increment | `varint16` |
//! | 14 | auto_increment_offset | `varint16` |
//! | 15 | insert_id | `varint` |
//! | 16 | last_insert_id | `varint` |
//! | 17 | rand_seeds | `varint` seed1, `varint` seed2 |
//! | 18 | user_vars | `count` (≥ 1), then per variable a [user var](#user-var) |
//! | 19 | default_storage_engine | `str` (version 2) |
//! | 20 | check_constraint_checks | `bool` (version 2) |
//! | 21 | sql_if_exists | `bool` (version 2) |
//! | 22 | explicit_defaults_for_timestamp | `bool` (version 2) |
//! | 23 | system_versioning_insert_history | `bool` (version 2) |
//!
//! ## User var
//!
//! | Field | Encoding |
//! |---|---|
//! | name | `str` |
//! | flags | `u8`: bit 0 = unsigned, bit 1 = collation present; other bits must be 0 |
//! | collation | `varint16`, only if flag bit 1 |
//! | value | a [value](#value) |
//!
//! ## Row changes
//!
//! | Field | Encoding |
//! |---|---|
//! | schema | `str` |
//! | table | `str` |
//! | action | `u8`: `0x01` = INSERT, `0x02` = UPDATE, `0x03` = DELETE; others are errors |
//! | flags | version 2 only: `u8`, bit 0 = no foreign key checks, bit 1 = relaxed unique checks, bit 2 = no CHECK constraint checks; other bits must be 0 |
//! | columns | `count`, then per column a [column spec](#column-spec) |
//! | before_columns | `count`, then per entry a `varint16` column index |
//! | after_columns | `count`, then per entry a `varint16` column index |
//! | rows | `count`, then per row a [row image](#row-image) |
//!
//! ## Column spec
//!
//! | Field | Encoding |
//! |---|---|
//! | index | `varint16` |
//! | name | `str` (empty when unknown) |
//! | type_code | `u8` (`MYSQL_TYPE_*`) |
//! | type_meta | `varint16` |
//! | flags | `u8`: bit 0 = unsigned, bit 1 = nullable, bit 2 = key, bit 3 = collation present; other bits must be 0 |
//! | collation | `varint16`, only if flag bit 3 |
//! | type_desc | `str` |
//!
//! ## Row image
//!
//! The value counts are explicit, so a row image decodes on its own even if
//! it does not match `before_columns`/`after_columns` (the codec does not
//! enforce that invariant of the event model).
//!
//! | Field | Encoding |
//! |---|---|
//! | before | `count`, then per column a [value](#value) |
//! | after | `count`, then per column a [value](#value) |
//!
//! ## Value
//!
//! A `u8` tag, then the payload. Other tags are errors.
//!
//! | Tag | Variant | Payload |
//! |---|---|---|
//! | `0x00` | `Null` | none |
//! | `0x01` | `Int(i64)` | `zigzag` |
//! | `0x02` | `UInt(u64)` | `varint` |
//! | `0x03` | `Float(f32)` | `u32le`, the IEEE 754 bits (`f32::to_bits`) |
//! | `0x04` | `Double(f64)` | `u64le`, the IEEE 754 bits (`f64::to_bits`) |
//! | `0x05` | `Decimal(String)` | `str` |
//! | `0x06` | `Date` | year `u16le`, month `u8`, day `u8` |
//! | `0x07` | `DateTime` | year `u16le`, month `u8`, day `u8`, hour `u8`, minute `u8`, second `u8`, micros `varint32` |
//! | `0x08` | `Timestamp` | secs `zigzag`, micros `varint32` |
//! | `0x09` | `Time` | flags `u8` (bit 0 = negative; other bits must be 0), hours `u16le`, minutes `u8`, seconds `u8`, micros `varint32` |
//! | `0x0A` | `Year(u16)` | `u16le` |
//! | `0x0B` | `Bit(u64)` | `varint` |
//! | `0x0C` | `Enum(u16)` | `varint16` |
//! | `0x0D` | `Set(u64)` | `varint` |
//! | `0x0E` | `Bytes(Vec<u8>)` | `bytes` |
//!
//! Date and time parts are stored as given, without range checks: zero dates
//! (`0000-00-00`), zero parts and YEAR 0 round-trip.

mod decode;
mod encode;
mod error;

use crate::event::EventBody;

pub use error::{DecodeError, DecodeReason};

/// Version of the body layout written by [`encode_body`] (the first byte of
/// every encoded body).
pub const BODY_FORMAT_VERSION: u8 = 2;
/// The oldest body layout [`decode_body`] still reads: version 1 has no row
/// flags (they decode as [`RowFlags::default`](crate::event::RowFlags)).
pub const OLDEST_BODY_FORMAT_VERSION: u8 = 1;

/// Appends the encoding of `body` to `out` (starting with
/// [`BODY_FORMAT_VERSION`]). Never fails; allocates only to grow `out`.
pub fn encode_body(body: &EventBody, out: &mut Vec<u8>) {
    encode::body(body, out);
}

/// Decodes a body written by [`encode_body`]. `bytes` must hold exactly one
/// body: trailing bytes are an error.
pub fn decode_body(bytes: &[u8]) -> Result<EventBody, DecodeError> {
    decode::body(bytes)
}

/// Tag bytes and flag bits shared by the encoder and the decoder.
mod tag {
    pub const CHANGE_STATEMENT: u8 = 0x01;
    pub const CHANGE_ROWS: u8 = 0x02;

    pub const ACTION_INSERT: u8 = 0x01;
    pub const ACTION_UPDATE: u8 = 0x02;
    pub const ACTION_DELETE: u8 = 0x03;

    /// Row flags (format version 2).
    pub const ROWS_NO_FK_CHECKS: u8 = 1 << 0;
    pub const ROWS_RELAXED_UNIQUE_CHECKS: u8 = 1 << 1;
    pub const ROWS_NO_CHECK_CONSTRAINT_CHECKS: u8 = 1 << 2;
    pub const ROWS_KNOWN: u8 = ROWS_NO_FK_CHECKS | ROWS_RELAXED_UNIQUE_CHECKS | ROWS_NO_CHECK_CONSTRAINT_CHECKS;

    pub const NULL: u8 = 0x00;
    pub const INT: u8 = 0x01;
    pub const UINT: u8 = 0x02;
    pub const FLOAT: u8 = 0x03;
    pub const DOUBLE: u8 = 0x04;
    pub const DECIMAL: u8 = 0x05;
    pub const DATE: u8 = 0x06;
    pub const DATETIME: u8 = 0x07;
    pub const TIMESTAMP: u8 = 0x08;
    pub const TIME: u8 = 0x09;
    pub const YEAR: u8 = 0x0A;
    pub const BIT: u8 = 0x0B;
    pub const ENUM: u8 = 0x0C;
    pub const SET: u8 = 0x0D;
    pub const BYTES: u8 = 0x0E;

    /// Statement flags.
    pub const STMT_DEFAULT_DB: u8 = 1 << 0;
    pub const STMT_INFILE: u8 = 1 << 1;
    pub const STMT_KNOWN: u8 = STMT_DEFAULT_DB | STMT_INFILE;

    /// User var flags.
    pub const UV_UNSIGNED: u8 = 1 << 0;
    pub const UV_COLLATION: u8 = 1 << 1;
    pub const UV_DATA_TYPE: u8 = 1 << 2;
    pub const UV_KNOWN: u8 = UV_UNSIGNED | UV_COLLATION | UV_DATA_TYPE;

    /// Column spec flags.
    pub const COL_UNSIGNED: u8 = 1 << 0;
    pub const COL_NULLABLE: u8 = 1 << 1;
    pub const COL_KEY: u8 = 1 << 2;
    pub const COL_COLLATION: u8 = 1 << 3;
    pub const COL_KNOWN: u8 = COL_UNSIGNED | COL_NULLABLE | COL_KEY | COL_COLLATION;

    /// Time flags.
    pub const TIME_NEGATIVE: u8 = 1 << 0;
    pub const TIME_KNOWN: u8 = TIME_NEGATIVE;
}

/// Bit numbers of the session vars presence mask.
mod session_bit {
    pub const TIMESTAMP_US: u32 = 0;
    pub const THREAD_ID: u32 = 1;
    pub const SQL_MODE: u32 = 2;
    pub const TIME_ZONE: u32 = 3;
    pub const CHARSET_CLIENT: u32 = 4;
    pub const COLLATION_CONNECTION: u32 = 5;
    pub const COLLATION_SERVER: u32 = 6;
    pub const COLLATION_DATABASE: u32 = 7;
    pub const LC_TIME_NAMES: u32 = 8;
    pub const FOREIGN_KEY_CHECKS: u32 = 9;
    pub const UNIQUE_CHECKS: u32 = 10;
    pub const AUTOCOMMIT: u32 = 11;
    pub const SQL_AUTO_IS_NULL: u32 = 12;
    pub const AUTO_INCREMENT_INCREMENT: u32 = 13;
    pub const AUTO_INCREMENT_OFFSET: u32 = 14;
    pub const INSERT_ID: u32 = 15;
    pub const LAST_INSERT_ID: u32 = 16;
    pub const RAND_SEEDS: u32 = 17;
    pub const USER_VARS: u32 = 18;
    pub const DEFAULT_STORAGE_ENGINE: u32 = 19;
    pub const CHECK_CONSTRAINT_CHECKS: u32 = 20;
    pub const SQL_IF_EXISTS: u32 = 21;
    pub const EXPLICIT_DEFAULTS_FOR_TIMESTAMP: u32 = 22;
    pub const SYSTEM_VERSIONING_INSERT_HISTORY: u32 = 23;
    /// Mask of every bit this version knows.
    pub const KNOWN: u64 = (1 << (SYSTEM_VERSIONING_INSERT_HISTORY + 1)) - 1;
    /// The fields of version 1 (before `default_storage_engine`).
    pub const KNOWN_V1: u64 = (1 << DEFAULT_STORAGE_ENGINE) - 1;
}

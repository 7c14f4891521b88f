//! Encoding THL row changes back into binlog events: a FORMAT_DESCRIPTION,
//! TABLE_MAPs and v1 rows events, so that a MariaDB target applies them with
//! its own row-event applier (the `BINLOG '...'` statement that
//! `mariadb-binlog` emits), exactly as its native replica would.
//!
//! # Invariants
//!
//! * **Exact.** For every value the decoder produces, decoding what this
//!   module encodes gives the same value (`tests.rs` checks it on every row of
//!   every fixture binlog, and on edge values). Nothing is converted through
//!   text except DECIMAL, whose THL form is exact text.
//! * **The source's column types, with three documented conversions**, for a
//!   MariaDB target whose tables were created by the replicated DDL:
//!   MySQL's binary JSON travels as its text in a LONGBLOB-typed column
//!   (MariaDB's JSON is LONGTEXT), and the pre-5.6 TIME, DATETIME and
//!   TIMESTAMP (types 11, 12, 7) travel as TIME2, DATETIME2 and TIMESTAMP2
//!   with the same fractional precision (what MariaDB creates by default,
//!   `mysql56_temporal_format=ON`), MariaDB 5.3's fractional ones
//!   (`TIME(n) /* mariadb-5.3 */`, n in `type_meta`) included: the target's
//!   row applier converts to whatever format its own column has.
//! * **Bounded.** A value that does not fit its column (a string longer than
//!   its length prefix allows, an integer out of range, a type the decoder
//!   cannot represent) is an [`EncodeError`] naming the column, never a
//!   truncated or coerced value.
//!
//! # Events written
//!
//! Every event has the common 19-byte header (see `event_types`), with
//! `log_pos` 0 and flags 0, and ends with its CRC32 (the FORMAT_DESCRIPTION
//! announces CRC32). Layouts are those of `table_map.rs` and `rows.rs`
//! (v1 rows events: post-header of 8 bytes, no extra data).
//!
//! | event | payload |
//! |-------|---------|
//! | FORMAT_DESCRIPTION (15) | binlog version 4 (u16), server version (50 bytes, NUL-padded), create time (u32) 0, header length 19, the post-header lengths of MariaDB 10.11 ([`POST_HEADER_LENGTHS`]), checksum algorithm 1 (CRC32) |
//! | TABLE_MAP (19) | table id (6), flags 1 = BIT_LEN_EXACT (2), schema and table (length, name, NUL), column count (lenenc), types, metadata block (lenenc length + bytes), nullability bitmap, optional metadata SIGNEDNESS (1) and COLUMN_CHARSET (3) |
//! | WRITE/UPDATE/DELETE_ROWS v1 (23/24/25) | table id (6), flags (2: STMT_END on the statement's last event, and the row flags), width (lenenc), column bitmap(s), rows |

use std::fmt;

use thl::event::{ColumnSpec, Date, DateTime, RowAction, RowChanges, RowFlags, Time, Value};

use super::event_types::{
    DELETE_ROWS_EVENT_V1, FORMAT_DESCRIPTION_EVENT, TABLE_MAP_EVENT, UPDATE_ROWS_EVENT_V1, WRITE_ROWS_EVENT_V1,
};
use super::rows::{NO_CHECK_CONSTRAINT_CHECKS_F, NO_FOREIGN_KEY_CHECKS_F, RELAXED_UNIQUE_CHECKS_F, STMT_END_F};
use super::table_map::types::*;
use super::table_map::{column_kind, is_character, is_numeric, wire_type};
use super::values::Kind;

/// Length of the common event header.
const HEADER_LEN: usize = 19;
/// Post-header lengths by event type (index = type - 1), as MariaDB 10.11
/// writes them in its FORMAT_DESCRIPTION: TABLE_MAP and the v1 rows events
/// have 8 (6-byte table id, flags), the v2 rows events 10.
pub const POST_HEADER_LENGTHS: [u8; 171] = {
    let mut a = [0u8; 171];
    let head: [u8; 41] = [
        56, 13, 0, 8, 0, 18, 0, 4, 4, 4, 4, 18, 0, 0, 228, 0, 4, 26, 8, 0, 0, 0, 8, 8, 8, 2, 0, 0, 0, 10, 10, 10, 0, 0,
        0, 0, 0, 0, 10, 10, 10,
    ];
    let tail: [u8; 11] = [4, 19, 4, 0, 13, 8, 8, 8, 10, 10, 10];
    let mut i = 0;
    while i < head.len() {
        a[i] = head[i];
        i += 1;
    }
    let mut j = 0;
    while j < tail.len() {
        a[160 + j] = tail[j];
        j += 1;
    }
    a
};
/// The server version a FORMAT_DESCRIPTION announces (any MariaDB 10.x reads
/// v1 rows events and CRC32 checksums).
const SERVER_VERSION: &str = "10.11.0-MariaDB-tungsten";
/// Checksum algorithm byte of the FORMAT_DESCRIPTION: CRC32.
const CHECKSUM_CRC32: u8 = 1;
/// Rows events are cut at about this many bytes of rows (the server's own
/// `binlog_row_event_max_size` default is 8 KiB; larger is fine to read).
pub const ROWS_EVENT_TARGET: usize = 64 << 10;
/// TABLE_MAP flag: BIT lengths are exact (as servers write it).
const TM_BIT_LEN_EXACT_F: u16 = 1;
/// Table ids are 6 bytes.
const MAX_TABLE_ID: u64 = (1 << 48) - 1;

/// A value or a column this module cannot encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// `schema.table`.
    pub table: String,
    /// Column index and name, when the error is about one column.
    pub column: Option<(u16, String)>,
    pub message: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some((i, name)) => write!(f, "{} column {i} (`{name}`): {}", self.table, self.message),
            None => write!(f, "{}: {}", self.table, self.message),
        }
    }
}

impl std::error::Error for EncodeError {}

/// How one column is written: its TABLE_MAP type and metadata, and how its
/// values are encoded.
#[derive(Debug, Clone, Copy)]
struct WireColumn {
    map_type: u8,
    meta: [u8; 2],
    meta_len: usize,
    kind: Kind,
}

fn wire_column(c: &ColumnSpec) -> Result<WireColumn, String> {
    let (map_type, meta, meta_len) = wire_type(c).map_err(|e| e.to_string())?;
    let kind = column_kind(c).map_err(|e| e.to_string())?;
    // The pre-5.6 temporal types travel as their MySQL 5.6 forms, same fsp.
    let temporal = |map_type: u8, fsp: u8, kind: Kind| WireColumn {
        map_type,
        meta: [fsp, 0],
        meta_len: 1,
        kind,
    };
    Ok(match kind {
        // MariaDB has no binary JSON: its JSON columns are LONGTEXT.
        Kind::Json { .. } => WireColumn {
            map_type: BLOB,
            meta: [4, 0],
            meta_len: 1,
            kind: Kind::Blob { len_bytes: 4 },
        },
        Kind::TimeOld => temporal(TIME2, 0, Kind::Time2 { fsp: 0 }),
        Kind::DateTimeOld => temporal(DATETIME2, 0, Kind::DateTime2 { fsp: 0 }),
        Kind::TimestampOld => temporal(TIMESTAMP2, 0, Kind::Timestamp2 { fsp: 0 }),
        Kind::TimeHires { fsp } => temporal(TIME2, fsp, Kind::Time2 { fsp }),
        Kind::DateTimeHires { fsp } => temporal(DATETIME2, fsp, Kind::DateTime2 { fsp }),
        Kind::TimestampHires { fsp } => temporal(TIMESTAMP2, fsp, Kind::Timestamp2 { fsp }),
        kind => WireColumn {
            map_type,
            meta,
            meta_len,
            kind,
        },
    })
}

/// Encodes row changes as binlog events, one table id per table.
#[derive(Debug)]
pub struct EventWriter {
    server_id: u32,
    timestamp: u32,
}

impl EventWriter {
    /// Events stamped with the source's `server_id` and commit time (the
    /// target's row applier takes the session time from the event).
    pub fn new(server_id: u32, timestamp: u32) -> EventWriter {
        EventWriter { server_id, timestamp }
    }

    /// Appends one event: header, `payload`, CRC32.
    fn event(&self, out: &mut Vec<u8>, event_type: u8, payload: &[u8]) {
        let start = out.len();
        let size = (HEADER_LEN + payload.len() + 4) as u32;
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.push(event_type);
        out.extend_from_slice(&self.server_id.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(payload);
        let crc = crc32fast::hash(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// A FORMAT_DESCRIPTION event: what a target must read before any other
    /// event of a `BINLOG` statement (once per connection).
    pub fn format_description(&self, out: &mut Vec<u8>) {
        let mut p = Vec::with_capacity(2 + 50 + 4 + 1 + POST_HEADER_LENGTHS.len() + 1);
        p.extend_from_slice(&4u16.to_le_bytes());
        let mut version = [0u8; 50];
        version[..SERVER_VERSION.len()].copy_from_slice(SERVER_VERSION.as_bytes());
        p.extend_from_slice(&version);
        p.extend_from_slice(&0u32.to_le_bytes());
        p.push(HEADER_LEN as u8);
        p.extend_from_slice(&POST_HEADER_LENGTHS);
        p.push(CHECKSUM_CRC32);
        self.event(out, FORMAT_DESCRIPTION_EVENT, &p);
    }

    /// A TABLE_MAP event for `rc`'s table under `table_id`.
    pub fn table_map(&self, out: &mut Vec<u8>, table_id: u64, rc: &RowChanges) -> Result<(), EncodeError> {
        let err = |column: Option<&ColumnSpec>, message: String| EncodeError {
            table: format!("{}.{}", rc.schema, rc.table),
            column: column.map(|c| (c.index, c.name.clone())),
            message,
        };
        if table_id > MAX_TABLE_ID {
            return Err(err(None, format!("table id {table_id} does not fit 6 bytes")));
        }
        let mut p = Vec::with_capacity(32 + rc.columns.len() * 4);
        p.extend_from_slice(&table_id.to_le_bytes()[..6]);
        p.extend_from_slice(&TM_BIT_LEN_EXACT_F.to_le_bytes());
        for name in [&rc.schema, &rc.table] {
            let n = u8::try_from(name.len()).map_err(|_| err(None, format!("name of {} bytes", name.len())))?;
            p.push(n);
            p.extend_from_slice(name.as_bytes());
            p.push(0);
        }
        lenenc(&mut p, rc.columns.len() as u64);
        let mut metadata = Vec::with_capacity(rc.columns.len() * 2);
        for c in &rc.columns {
            let w = wire_column(c).map_err(|m| err(Some(c), m))?;
            p.push(w.map_type);
            metadata.extend_from_slice(&w.meta[..w.meta_len]);
        }
        lenenc(&mut p, metadata.len() as u64);
        p.extend_from_slice(&metadata);
        let mut nulls = vec![0u8; rc.columns.len().div_ceil(8)];
        for (i, c) in rc.columns.iter().enumerate() {
            if c.nullable {
                nulls[i / 8] |= 1 << (i % 8);
            }
        }
        p.extend_from_slice(&nulls);
        optional_metadata(&mut p, &rc.columns);
        self.event(out, TABLE_MAP_EVENT, &p);
        Ok(())
    }

    /// The rows events of `rc` under `table_id`, cut at about
    /// [`ROWS_EVENT_TARGET`] bytes; the last one carries STMT_END when
    /// `stmt_end`.
    pub fn rows(&self, out: &mut Vec<u8>, table_id: u64, rc: &RowChanges, stmt_end: bool) -> Result<(), EncodeError> {
        let table = || format!("{}.{}", rc.schema, rc.table);
        let mut wire = Vec::with_capacity(rc.columns.len());
        for c in &rc.columns {
            wire.push(wire_column(c).map_err(|message| EncodeError {
                table: table(),
                column: Some((c.index, c.name.clone())),
                message,
            })?);
        }
        let event_type = match rc.action {
            RowAction::Insert => WRITE_ROWS_EVENT_V1,
            RowAction::Update => UPDATE_ROWS_EVENT_V1,
            RowAction::Delete => DELETE_ROWS_EVENT_V1,
        };
        let width = rc.columns.len();
        let mut head = Vec::with_capacity(16 + width / 4);
        head.extend_from_slice(&table_id.to_le_bytes()[..6]);
        let flags_at = head.len();
        head.extend_from_slice(&row_flags(rc.flags).to_le_bytes());
        lenenc(&mut head, width as u64);
        let images: &[(&[u16], bool)] = match rc.action {
            RowAction::Insert => &[(&rc.after_columns, false)],
            RowAction::Delete => &[(&rc.before_columns, true)],
            RowAction::Update => &[(&rc.before_columns, true), (&rc.after_columns, false)],
        };
        for (cols, _) in images {
            let mut bits = vec![0u8; width.div_ceil(8)];
            for &i in cols.iter() {
                let i = usize::from(i);
                if i >= width {
                    return Err(EncodeError {
                        table: table(),
                        column: None,
                        message: format!("image column {i} of a table of {width} columns"),
                    });
                }
                bits[i / 8] |= 1 << (i % 8);
            }
            head.extend_from_slice(&bits);
        }
        let mut body = head.clone();
        for (k, row) in rc.rows.iter().enumerate() {
            for (cols, before) in images {
                let values = if *before { &row.before } else { &row.after };
                write_image(&mut body, &wire, &rc.columns, cols, values, k).map_err(|(column, message)| {
                    EncodeError {
                        table: table(),
                        column,
                        message,
                    }
                })?;
            }
            let last = k + 1 == rc.rows.len();
            if body.len() - head.len() >= ROWS_EVENT_TARGET || last {
                if last && stmt_end {
                    let flags = row_flags(rc.flags) | STMT_END_F;
                    body[flags_at..flags_at + 2].copy_from_slice(&flags.to_le_bytes());
                }
                self.event(out, event_type, &body);
                body.truncate(head.len());
            }
        }
        Ok(())
    }
}

/// The optional metadata a reader needs to decode values as the source
/// meant them (the target's own table decides for its row applier):
/// SIGNEDNESS (1) over numeric columns, most significant bit first, and
/// COLUMN_CHARSET (3) over character columns (when every one has a known
/// collation).
fn optional_metadata(p: &mut Vec<u8>, columns: &[ColumnSpec]) {
    let numeric: Vec<bool> = columns
        .iter()
        .filter(|c| is_numeric(c.type_code))
        .map(|c| c.unsigned)
        .collect();
    if !numeric.is_empty() {
        let mut bits = vec![0u8; numeric.len().div_ceil(8)];
        for (k, _) in numeric.iter().enumerate().filter(|(_, u)| **u) {
            bits[k / 8] |= 0x80 >> (k % 8);
        }
        p.push(1);
        lenenc(p, bits.len() as u64);
        p.extend_from_slice(&bits);
    }
    // All or nothing: a reader pairs the list with character columns by rank.
    let charsets: Option<Vec<u16>> = columns
        .iter()
        .filter(|c| is_character(c.type_code))
        .map(|c| c.collation)
        .collect();
    if let Some(charsets) = charsets.filter(|c| !c.is_empty()) {
        let mut list = Vec::with_capacity(charsets.len() * 2);
        for c in charsets {
            lenenc(&mut list, u64::from(c));
        }
        p.push(3);
        lenenc(p, list.len() as u64);
        p.extend_from_slice(&list);
    }
}

/// The rows event flags of `f`.
fn row_flags(f: RowFlags) -> u16 {
    let mut flags = 0;
    if f.no_foreign_key_checks {
        flags |= NO_FOREIGN_KEY_CHECKS_F;
    }
    if f.relaxed_unique_checks {
        flags |= RELAXED_UNIQUE_CHECKS_F;
    }
    if f.no_check_constraint_checks {
        flags |= NO_CHECK_CONSTRAINT_CHECKS_F;
    }
    flags
}

/// One row image: the null bitmap over `cols`, then each non-NULL value.
fn write_image(
    out: &mut Vec<u8>,
    wire: &[WireColumn],
    columns: &[ColumnSpec],
    cols: &[u16],
    values: &[Value],
    row: usize,
) -> Result<(), (Option<(u16, String)>, String)> {
    if values.len() != cols.len() {
        return Err((
            None,
            format!(
                "row {row}: an image of {} values for {} columns",
                values.len(),
                cols.len()
            ),
        ));
    }
    let nulls_at = out.len();
    out.resize(nulls_at + cols.len().div_ceil(8), 0);
    for (k, (&col, v)) in cols.iter().zip(values).enumerate() {
        if let Value::Null = v {
            out[nulls_at + k / 8] |= 1 << (k % 8);
            continue;
        }
        let i = usize::from(col);
        let name = || Some((col, columns.get(i).map(|c| c.name.clone()).unwrap_or_default()));
        let w = wire
            .get(i)
            .ok_or_else(|| (name(), format!("row {row}: no such column")))?;
        encode_value(w.kind, v, out).map_err(|m| (name(), format!("row {row}: {m}")))?;
    }
    Ok(())
}

/// Appends a length-encoded integer.
fn lenenc(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=250 => out.push(n as u8),
        251..=0xffff => {
            out.push(252);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xff_ffff => {
            out.push(253);
            out.extend_from_slice(&n.to_le_bytes()[..3]);
        }
        _ => {
            out.push(254);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

fn mismatch(kind: Kind, v: &Value) -> String {
    format!("value {v:?} does not fit a column decoded as {kind:?}")
}

/// Appends the binlog encoding of the non-NULL `v` for a column of `kind`
/// (the inverse of `values::decode_value`).
pub fn encode_value(kind: Kind, v: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match (kind, v) {
        (Kind::Int { bytes, unsigned }, Value::Int(_) | Value::UInt(_)) => {
            let n = u32::from(bytes);
            let bits = match (v, unsigned) {
                (Value::UInt(u), true) if n == 8 || *u < 1u64 << (8 * n) => *u,
                (Value::Int(i), false) if n == 8 || (-(1i64 << (8 * n - 1))..1i64 << (8 * n - 1)).contains(i) => {
                    *i as u64
                }
                _ => {
                    return Err(format!(
                        "{v:?} out of range for a {n}-byte integer (unsigned: {unsigned})"
                    ))
                }
            };
            out.extend_from_slice(&bits.to_le_bytes()[..n as usize]);
        }
        (Kind::Float, Value::Float(f)) => out.extend_from_slice(&f.to_bits().to_le_bytes()),
        (Kind::Double, Value::Double(d)) => out.extend_from_slice(&d.to_bits().to_le_bytes()),
        (Kind::Decimal { precision, scale }, Value::Decimal(text)) => decimal_to_bin(text, precision, scale, out)?,
        (Kind::Year, Value::Year(y)) => match *y {
            0 => out.push(0),
            1901..=2155 => out.push((*y - 1900) as u8),
            _ => return Err(format!("YEAR {y} out of range")),
        },
        (Kind::Date, Value::Date(d)) => out.extend_from_slice(&date_bits(d)?.to_le_bytes()[..3]),
        (Kind::Time2 { fsp }, Value::Time(t)) => time2(t, fsp, out)?,
        (Kind::DateTime2 { fsp }, Value::DateTime(d)) => datetime2(d, fsp, out)?,
        (Kind::Timestamp2 { fsp }, Value::Timestamp { secs, micros }) => {
            let secs = u32::try_from(*secs).map_err(|_| format!("TIMESTAMP seconds {secs} out of range"))?;
            out.extend_from_slice(&secs.to_be_bytes());
            fraction(*micros, fsp, out)?;
        }
        (Kind::Bit { bytes }, Value::Bit(b)) => {
            let n = usize::from(bytes);
            if n < 8 && *b >> (8 * n) != 0 {
                return Err(format!("BIT value {b:#x} does not fit {n} bytes"));
            }
            out.extend_from_slice(&b.to_be_bytes()[8 - n..]);
        }
        (Kind::Enum { bytes }, Value::Enum(e)) => {
            if bytes == 1 && *e > 0xff {
                return Err(format!("ENUM index {e} does not fit 1 byte"));
            }
            out.extend_from_slice(&e.to_le_bytes()[..usize::from(bytes)]);
        }
        (Kind::Set { bytes }, Value::Set(s)) => {
            let n = usize::from(bytes);
            if n < 8 && *s >> (8 * n) != 0 {
                return Err(format!("SET mask {s:#x} does not fit {n} bytes"));
            }
            out.extend_from_slice(&s.to_le_bytes()[..n]);
        }
        (Kind::Str { len_bytes, .. } | Kind::Blob { len_bytes }, Value::Bytes(b)) => {
            length_prefixed(b, len_bytes, out)?
        }
        (Kind::Compressed { len_bytes }, Value::Bytes(b)) => {
            length_prefixed(&compressed_form(b, len_bytes)?, len_bytes, out)?
        }
        (Kind::Unsupported { type_code }, _) => {
            return Err(format!("column type {type_code} cannot be written (only NULL can)"));
        }
        (kind, v) => return Err(mismatch(kind, v)),
    }
    Ok(())
}

/// The stored form of a MariaDB compressed column's value (see
/// `values::uncompress_column`): empty for an empty value; header 0 and the
/// bytes when that fits the column's length prefix; else zlib (header
/// `0x80 | n`, the length big-endian in `n` bytes, the zlib stream), as the
/// server itself stores a value that does not fit uncompressed.
fn compressed_form(b: &[u8], len_bytes: u8) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let fits = |n: usize| len_bytes >= 8 || (n as u64) >> (8 * u32::from(len_bytes)) == 0;
    if fits(b.len() + 1) {
        let mut stored = Vec::with_capacity(b.len() + 1);
        stored.push(0);
        stored.extend_from_slice(b);
        return Ok(stored);
    }
    let len = b.len() as u64;
    let n = (1..=4u8)
        .find(|n| len >> (8 * u32::from(*n)) == 0)
        .ok_or_else(|| format!("a compressed value of {len} bytes"))?;
    let mut stored = vec![0x80 | n];
    stored.extend_from_slice(&len.to_be_bytes()[8 - usize::from(n)..]);
    let mut z = flate2::write::ZlibEncoder::new(stored, flate2::Compression::default());
    z.write_all(b).map_err(|e| format!("compress: {e}"))?;
    z.finish().map_err(|e| format!("compress: {e}"))
}

fn length_prefixed(b: &[u8], len_bytes: u8, out: &mut Vec<u8>) -> Result<(), String> {
    let n = usize::from(len_bytes);
    if n < 8 && (b.len() as u64) >> (8 * n) != 0 {
        return Err(format!("{} bytes do not fit a {n}-byte length", b.len()));
    }
    out.extend_from_slice(&(b.len() as u64).to_le_bytes()[..n]);
    out.extend_from_slice(b);
    Ok(())
}

fn date_bits(d: &Date) -> Result<u32, String> {
    if d.year > 9999 || d.month > 12 || d.day > 31 {
        return Err(format!("DATE {d:?} out of range"));
    }
    Ok(u32::from(d.day) | u32::from(d.month) << 5 | u32::from(d.year) << 9)
}

/// The fractional-second part of TIME2/DATETIME2/TIMESTAMP2 for a
/// non-negative `micros`, big-endian, `(fsp + 1) / 2` bytes.
fn fraction(micros: u32, fsp: u8, out: &mut Vec<u8>) -> Result<(), String> {
    let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
    if micros > 999_999 || micros % unit != 0 {
        return Err(format!("{micros} µs is not exact at precision {fsp}"));
    }
    match fsp {
        0 => {}
        1 | 2 => out.push((micros / 10_000) as u8),
        3 | 4 => out.extend_from_slice(&((micros / 100) as u16).to_be_bytes()),
        _ => out.extend_from_slice(&micros.to_be_bytes()[1..]),
    }
    Ok(())
}

/// TIME2, as `my_time_packed_to_binary`: the packed value (hms << 24 | µs,
/// negated for negative times) split into an integer part (floor) and a
/// fraction of the same sign.
fn time2(t: &Time, fsp: u8, out: &mut Vec<u8>) -> Result<(), String> {
    const TIMEF_INT_OFS: i64 = 0x80_0000;
    const TIMEF_OFS: i64 = 0x8000_0000_0000;
    if t.hours > 838 || t.minutes > 59 || t.seconds > 59 {
        return Err(format!("TIME {t:?} out of range"));
    }
    let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
    if t.micros > 999_999 || t.micros % unit != 0 {
        return Err(format!("{} µs is not exact at precision {fsp}", t.micros));
    }
    let hms = i64::from(t.hours) << 12 | i64::from(t.minutes) << 6 | i64::from(t.seconds);
    let mut packed = hms << 24 | i64::from(t.micros);
    if t.negative {
        packed = -packed;
    }
    let int_part = packed >> 24;
    let frac = packed % (1 << 24);
    let int3 = |v: i64| ((TIMEF_INT_OFS + v) as u32).to_be_bytes();
    match fsp {
        0 => out.extend_from_slice(&int3(int_part)[1..]),
        1 | 2 => {
            out.extend_from_slice(&int3(int_part)[1..]);
            out.push((frac / 10_000) as i8 as u8);
        }
        3 | 4 => {
            out.extend_from_slice(&int3(int_part)[1..]);
            out.extend_from_slice(&((frac / 100) as i16).to_be_bytes());
        }
        _ => out.extend_from_slice(&((packed + TIMEF_OFS) as u64).to_be_bytes()[2..]),
    }
    Ok(())
}

/// DATETIME2: 5 bytes big-endian (0x8000000000-offset ym*13, day, h, m, s),
/// then the fraction.
fn datetime2(d: &DateTime, fsp: u8, out: &mut Vec<u8>) -> Result<(), String> {
    if d.year > 9999 || d.month > 12 || d.day > 31 || d.hour > 23 || d.minute > 59 || d.second > 59 {
        return Err(format!("DATETIME {d:?} out of range"));
    }
    let ym = u64::from(d.year) * 13 + u64::from(d.month);
    let ymd = ym << 5 | u64::from(d.day);
    let hms = u64::from(d.hour) << 12 | u64::from(d.minute) << 6 | u64::from(d.second);
    let int_part = (ymd << 17 | hms) + 0x80_0000_0000;
    out.extend_from_slice(&int_part.to_be_bytes()[3..]);
    fraction(d.micros, fsp, out)
}

/// A DECIMAL's exact text (`-12.3400`) in MySQL's binary form for
/// DECIMAL(precision, scale) (the inverse of `values::decimal_to_string`).
pub fn decimal_to_bin(text: &str, precision: u8, scale: u8, out: &mut Vec<u8>) -> Result<(), String> {
    const D: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    if precision == 0 || precision > 65 || scale > 38 || scale > precision {
        return Err(format!("DECIMAL({precision},{scale})"));
    }
    let bad = || format!("`{text}` is not a DECIMAL({precision},{scale}) value");
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_text, frac_text) = digits.split_once('.').unwrap_or((digits, ""));
    if int_text.is_empty()
        || !int_text.bytes().all(|b| b.is_ascii_digit())
        || !frac_text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let (p, s) = (usize::from(precision), usize::from(scale));
    let intg = p - s;
    let int_text = int_text.trim_start_matches('0');
    if int_text.len() > intg || frac_text.len() > s {
        return Err(bad());
    }
    // All digits, left-padded to intg and right-padded to scale.
    let mut all = Vec::with_capacity(p);
    all.resize(intg - int_text.len(), 0u8);
    all.extend(int_text.bytes().map(|b| b - b'0'));
    all.extend(frac_text.bytes().map(|b| b - b'0'));
    all.resize(p, 0);
    let start = out.len();
    let mut put = |group: &[u8], bytes: usize| {
        let v = group.iter().fold(0u32, |acc, &d| acc * 10 + u32::from(d));
        out.extend_from_slice(&v.to_be_bytes()[4 - bytes..]);
    };
    let (int_digits, frac_digits) = all.split_at(intg);
    let lead = intg % 9;
    if lead > 0 {
        put(&int_digits[..lead], D[lead]);
    }
    for g in int_digits[lead..].chunks(9) {
        put(g, 4);
    }
    let full = s / 9 * 9;
    for g in frac_digits[..full].chunks(9) {
        put(g, 4);
    }
    if s % 9 > 0 {
        put(&frac_digits[full..], D[s % 9]);
    }
    let bin = &mut out[start..];
    if negative {
        for b in bin.iter_mut() {
            *b = !*b;
        }
    }
    if let Some(first) = bin.first_mut() {
        *first ^= 0x80;
    }
    Ok(())
}

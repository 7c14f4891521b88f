//! Rows events: WRITE/UPDATE/DELETE v1 (23-25), v2 (30-32), PARTIAL_UPDATE
//! (39), and the MariaDB compressed forms once inflated (see `compressed`).
//!
//! Payload layout:
//!
//! | size          | field                                                     |
//! |---------------|-----------------------------------------------------------|
//! | 6 (4)         | table id (4 bytes when the post-header length is 6)       |
//! | 2             | flags (1 STMT_END, 2 NO_FOREIGN_KEY_CHECKS, 4 RELAXED_UNIQUE_CHECKS, 8 COMPLETE_ROWS, 128 MariaDB NO_CHECK_CONSTRAINT_CHECKS) |
//! | 2 + n         | v2 only: extra-data length (including these 2 bytes), data |
//! | lenenc        | column count (width)                                      |
//! | (width+7)/8   | columns present in the before image (or the only image)  |
//! | (width+7)/8   | UPDATE only: columns present in the after image           |
//! | rows          | per image: null bitmap over present columns, then values  |
//!
//! PARTIAL_UPDATE after images start with `value_options` (lenenc); bit 1
//! means a bitmap over the table's JSON columns follows, whose set bits mark
//! values stored as JSON diffs. Diffs cannot be represented as THL values,
//! so such a row is an `Unsupported` error; rows without diffs decode.
//!
//! Invariant: the row loop uses only the precomputed [`TableMap::kinds`];
//! nothing about the table is re-parsed per row.

use thl::event::{RowAction, RowChanges, RowFlags, RowImage, Value};

use super::cursor::Cursor;
use super::error::{malformed, ErrorKind, KResult};
use super::event_types::*;
use super::table_map::TableMap;
use super::values::decode_value;

/// Most columns a table can have (MySQL and MariaDB: 4096), with room.
const MAX_COLUMNS: u64 = u16::MAX as u64;

pub const STMT_END_F: u16 = 1;
pub const NO_FOREIGN_KEY_CHECKS_F: u16 = 2;
pub const RELAXED_UNIQUE_CHECKS_F: u16 = 4;
/// MariaDB: `check_constraint_checks=0` was in force.
pub const NO_CHECK_CONSTRAINT_CHECKS_F: u16 = 128;

/// A decoded rows event.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsEvent {
    /// The event type as written (e.g. 23, 31, 169).
    pub event_type: u8,
    pub table_id: u64,
    pub flags: u16,
    pub changes: RowChanges,
}

impl RowsEvent {
    /// True on the last rows event of a statement.
    pub fn stmt_end(&self) -> bool {
        self.flags & STMT_END_F != 0
    }
}

/// What a rows event type is: (action, v2 header, partial update).
pub fn rows_kind(t: u8) -> Option<(RowAction, bool, bool)> {
    Some(match t {
        WRITE_ROWS_EVENT_V1 | MARIA_WRITE_ROWS_COMPRESSED_EVENT_V1 => (RowAction::Insert, false, false),
        UPDATE_ROWS_EVENT_V1 | MARIA_UPDATE_ROWS_COMPRESSED_EVENT_V1 => (RowAction::Update, false, false),
        DELETE_ROWS_EVENT_V1 | MARIA_DELETE_ROWS_COMPRESSED_EVENT_V1 => (RowAction::Delete, false, false),
        WRITE_ROWS_EVENT | MARIA_WRITE_ROWS_COMPRESSED_EVENT => (RowAction::Insert, true, false),
        UPDATE_ROWS_EVENT | MARIA_UPDATE_ROWS_COMPRESSED_EVENT => (RowAction::Update, true, false),
        DELETE_ROWS_EVENT | MARIA_DELETE_ROWS_COMPRESSED_EVENT => (RowAction::Delete, true, false),
        PARTIAL_UPDATE_ROWS_EVENT => (RowAction::Update, true, true),
        _ => return None,
    })
}

/// The fixed part of a rows event, up to the rows.
#[derive(Debug, Clone)]
pub struct RowsHeader<'a> {
    pub table_id: u64,
    pub flags: u16,
    pub width: usize,
    pub before_bits: Option<&'a [u8]>,
    pub after_bits: Option<&'a [u8]>,
    /// Length of everything before the rows (for re-framing).
    pub header_len: usize,
    pub rows: &'a [u8],
}

/// Parses the part of a rows payload before the row images.
pub fn parse_rows_header(p: &[u8], post: usize, event_type: u8) -> KResult<RowsHeader<'_>> {
    let (action, v2, _) = rows_kind(event_type).ok_or_else(|| malformed("not a rows event"))?;
    let mut c = Cursor::new(p);
    let id_len = if post == 6 { 4 } else { 6 };
    let table_id = c.uint_n(id_len, "table_id")?;
    let flags = c.u16("rows flags")?;
    if v2 {
        let extra = usize::from(c.u16("rows extra_data_len")?);
        if extra < 2 {
            return Err(malformed(format!("rows extra data length {extra}")));
        }
        c.skip(extra - 2, "rows extra data")?;
    }
    // A column count, not a byte length: it is bounded by the column limit,
    // and the bitmaps it sizes are read with bounds checks.
    let width = c.lenenc("rows width")?;
    if width > MAX_COLUMNS {
        return Err(malformed(format!(
            "rows event of {width} columns (at most {MAX_COLUMNS})"
        )));
    }
    let width = width as usize;
    let nb = width.div_ceil(8);
    let first = c.take(nb, "rows column bitmap")?;
    let (before_bits, after_bits) = match action {
        RowAction::Insert => (None, Some(first)),
        RowAction::Delete => (Some(first), None),
        RowAction::Update => (Some(first), Some(c.take(nb, "rows after-image bitmap")?)),
    };
    let header_len = p.len() - c.remaining();
    Ok(RowsHeader {
        table_id,
        flags,
        width,
        before_bits,
        after_bits,
        header_len,
        rows: c.rest(),
    })
}

fn present_columns(bits: &[u8], width: usize) -> KResult<Vec<u16>> {
    let mut v = Vec::with_capacity(width);
    for i in 0..width {
        if bits[i / 8] & (1 << (i % 8)) != 0 {
            v.push(u16::try_from(i).map_err(|_| malformed("column index over 65535"))?);
        }
    }
    Ok(v)
}

/// Decodes one image (null bitmap + values) of the columns `cols`.
#[inline]
fn read_image(c: &mut Cursor<'_>, tm: &TableMap, cols: &[u16], out: &mut Vec<Value>) -> KResult<()> {
    let nulls = c.take(cols.len().div_ceil(8), "row null bitmap")?;
    out.reserve_exact(cols.len());
    for (k, &col) in cols.iter().enumerate() {
        if nulls[k / 8] & (1 << (k % 8)) != 0 {
            out.push(Value::Null);
        } else {
            let kind = tm.kinds[usize::from(col)];
            let v = decode_value(kind, c).map_err(|e| match e {
                ErrorKind::Unsupported(m) => {
                    ErrorKind::Unsupported(format!("column {} (`{}`): {m}", col, tm.columns[usize::from(col)].name))
                }
                ErrorKind::Short { what, need, have } => ErrorKind::Malformed(format!(
                    "column {} (`{}`, {}): {what} needs {need} bytes, {have} left",
                    col,
                    tm.columns[usize::from(col)].name,
                    tm.columns[usize::from(col)].type_desc
                )),
                e => e,
            })?;
            out.push(v);
        }
    }
    Ok(())
}

/// Reads a PARTIAL_UPDATE after-image prefix; errors if any JSON column is
/// stored as a diff.
fn partial_prefix(c: &mut Cursor<'_>, tm: &TableMap, event_type: u8) -> KResult<()> {
    let opts = c.lenenc("partial update value_options")?;
    if opts & 1 != 0 {
        let bits = c.take(tm.json_columns.div_ceil(8), "partial JSON bitmap")?;
        if bits.iter().any(|b| *b != 0) {
            return Err(ErrorKind::Unsupported(format!(
                "{} with a JSON partial update (a JSON diff cannot be represented as a THL value; \
                 set binlog_row_value_options='' on the source)",
                event_type_name(event_type)
            )));
        }
    }
    Ok(())
}

/// Decodes a whole rows event.
pub fn decode_rows(h: &RowsHeader<'_>, tm: &TableMap, event_type: u8) -> KResult<RowsEvent> {
    let (action, _, partial) = rows_kind(event_type).ok_or_else(|| malformed("not a rows event"))?;
    if h.width > tm.columns.len() {
        return Err(malformed(format!(
            "rows event has {} columns, its TABLE_MAP {}",
            h.width,
            tm.columns.len()
        )));
    }
    let before_columns = match h.before_bits {
        Some(b) => present_columns(b, h.width)?,
        None => Vec::new(),
    };
    let after_columns = match h.after_bits {
        Some(b) => present_columns(b, h.width)?,
        None => Vec::new(),
    };
    let mut rows = Vec::new();
    let mut c = Cursor::new(h.rows);
    while !c.is_empty() {
        let mut img = RowImage::default();
        if h.before_bits.is_some() {
            read_image(&mut c, tm, &before_columns, &mut img.before)?;
        }
        if h.after_bits.is_some() {
            if partial {
                partial_prefix(&mut c, tm, event_type)?;
            }
            read_image(&mut c, tm, &after_columns, &mut img.after)?;
        }
        rows.push(img);
    }
    Ok(RowsEvent {
        event_type,
        table_id: h.table_id,
        flags: h.flags,
        changes: RowChanges {
            schema: tm.schema.clone(),
            table: tm.table.clone(),
            action,
            columns: tm.columns.clone(),
            before_columns,
            after_columns,
            flags: RowFlags {
                no_foreign_key_checks: h.flags & NO_FOREIGN_KEY_CHECKS_F != 0,
                relaxed_unique_checks: h.flags & RELAXED_UNIQUE_CHECKS_F != 0,
                no_check_constraint_checks: h.flags & NO_CHECK_CONSTRAINT_CHECKS_F != 0,
            },
            rows,
        },
    })
}

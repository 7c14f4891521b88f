//! The decoder: one forward pass over the input with bounds-checked reads.
//! No read can panic and no allocation exceeds what the remaining input can
//! fill (see the module documentation).

use super::error::{DecodeError, DecodeReason};
use super::{session_bit as sb, tag, BODY_FORMAT_VERSION, OLDEST_BODY_FORMAT_VERSION};
use crate::event::{
    Change, ColumnSpec, Date, DateTime, EventBody, RowAction, RowChanges, RowFlags, RowImage, SessionVars, Statement,
    Time, UserVar, Value,
};

type Result<T> = std::result::Result<T, DecodeError>;

/// Smallest encodings of list items, used to bound counts before allocating.
mod min_len {
    /// Two empty strings.
    pub const META_PAIR: usize = 2;
    /// Tag, flags, empty sql, empty mask, error code.
    pub const CHANGE: usize = 5;
    /// Index, empty name, type code, type meta, flags, empty type desc.
    pub const COLUMN: usize = 6;
    /// A one-byte varint.
    pub const COLUMN_INDEX: usize = 1;
    /// Two empty value lists.
    pub const ROW: usize = 2;
    /// A Null tag.
    pub const VALUE: usize = 1;
    /// Empty name, flags, Null value.
    pub const USER_VAR: usize = 3;
}

/// Decodes a whole body; the input must end exactly after it.
pub(super) fn body(bytes: &[u8]) -> Result<EventBody> {
    let mut r = Reader {
        buf: bytes,
        pos: 0,
        version: BODY_FORMAT_VERSION,
    };
    let version = r.u8("format version")?;
    if !(OLDEST_BODY_FORMAT_VERSION..=BODY_FORMAT_VERSION).contains(&version) {
        return Err(DecodeError::new(0, DecodeReason::UnsupportedVersion(version)));
    }
    r.version = version;
    let n = r.count("metadata count", min_len::META_PAIR)?;
    let mut metadata = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string("metadata name")?;
        let value = r.string("metadata value")?;
        metadata.push((name, value));
    }
    let n = r.count("change count", min_len::CHANGE)?;
    let mut changes = Vec::with_capacity(n);
    for _ in 0..n {
        changes.push(change(&mut r)?);
    }
    if r.remaining() > 0 {
        let count = r.remaining();
        return Err(r.error_at(r.pos, DecodeReason::TrailingBytes { count }));
    }
    Ok(EventBody { metadata, changes })
}

fn change(r: &mut Reader<'_>) -> Result<Change> {
    let at = r.pos;
    match r.u8("change tag")? {
        tag::CHANGE_STATEMENT => Ok(Change::Statement(statement(r)?)),
        tag::CHANGE_ROWS => Ok(Change::Rows(row_changes(r)?)),
        t => Err(r.unknown_tag(at, "change tag", t)),
    }
}

fn statement(r: &mut Reader<'_>) -> Result<Statement> {
    let flags = r.flags("statement flags", tag::STMT_KNOWN)?;
    let default_db = (flags & tag::STMT_DEFAULT_DB != 0)
        .then(|| r.string("statement default_db"))
        .transpose()?;
    let sql = r.bytes("statement sql")?.to_vec();
    let session = session(r)?;
    let error_code = r.varint16("statement error_code")?;
    let infile = (flags & tag::STMT_INFILE != 0)
        .then(|| r.bytes("statement infile").map(<[u8]>::to_vec))
        .transpose()?;
    Ok(Statement {
        default_db,
        sql,
        session,
        error_code,
        infile,
    })
}

/// Session vars: the presence mask, then each present field in bit order.
fn session(r: &mut Reader<'_>) -> Result<SessionVars> {
    let at = r.pos;
    let mask = r.varint("session presence mask")?;
    if mask & !sb::KNOWN != 0 {
        let what = "session presence mask";
        let bits = mask & !sb::KNOWN;
        return Err(r.error_at(at, DecodeReason::UnknownFlags { what, bits }));
    }
    if r.version < 2 && mask & !sb::KNOWN_V1 != 0 {
        let what = "session presence mask (version 1)";
        let bits = mask & !sb::KNOWN_V1;
        return Err(r.error_at(at, DecodeReason::UnknownFlags { what, bits }));
    }
    let mut p = Present { r, mask };
    Ok(SessionVars {
        timestamp_us: p.get(sb::TIMESTAMP_US, |r| r.zigzag("session timestamp_us"))?,
        thread_id: p.get(sb::THREAD_ID, |r| r.varint32("session thread_id"))?,
        sql_mode: p.get(sb::SQL_MODE, |r| r.varint("session sql_mode"))?,
        time_zone: p.get(sb::TIME_ZONE, |r| r.string("session time_zone"))?,
        charset_client: p.get(sb::CHARSET_CLIENT, |r| r.varint16("session charset_client"))?,
        collation_connection: p.get(sb::COLLATION_CONNECTION, |r| r.varint16("session collation_connection"))?,
        collation_server: p.get(sb::COLLATION_SERVER, |r| r.varint16("session collation_server"))?,
        collation_database: p.get(sb::COLLATION_DATABASE, |r| r.varint16("session collation_database"))?,
        lc_time_names: p.get(sb::LC_TIME_NAMES, |r| r.varint16("session lc_time_names"))?,
        foreign_key_checks: p.get(sb::FOREIGN_KEY_CHECKS, |r| r.bool("session foreign_key_checks"))?,
        unique_checks: p.get(sb::UNIQUE_CHECKS, |r| r.bool("session unique_checks"))?,
        autocommit: p.get(sb::AUTOCOMMIT, |r| r.bool("session autocommit"))?,
        sql_auto_is_null: p.get(sb::SQL_AUTO_IS_NULL, |r| r.bool("session sql_auto_is_null"))?,
        auto_increment_increment: p.get(sb::AUTO_INCREMENT_INCREMENT, |r| {
            r.varint16("session auto_increment_increment")
        })?,
        auto_increment_offset: p.get(sb::AUTO_INCREMENT_OFFSET, |r| {
            r.varint16("session auto_increment_offset")
        })?,
        insert_id: p.get(sb::INSERT_ID, |r| r.varint("session insert_id"))?,
        last_insert_id: p.get(sb::LAST_INSERT_ID, |r| r.varint("session last_insert_id"))?,
        rand_seeds: p.get(sb::RAND_SEEDS, |r| {
            Ok((r.varint("session rand_seed1")?, r.varint("session rand_seed2")?))
        })?,
        user_vars: p.get(sb::USER_VARS, user_vars)?.unwrap_or_default(),
        default_storage_engine: p.get(sb::DEFAULT_STORAGE_ENGINE, |r| {
            r.string("session default_storage_engine")
        })?,
        check_constraint_checks: p.get(sb::CHECK_CONSTRAINT_CHECKS, |r| {
            r.bool("session check_constraint_checks")
        })?,
        sql_if_exists: p.get(sb::SQL_IF_EXISTS, |r| r.bool("session sql_if_exists"))?,
        explicit_defaults_for_timestamp: p.get(sb::EXPLICIT_DEFAULTS_FOR_TIMESTAMP, |r| {
            r.bool("session explicit_defaults_for_timestamp")
        })?,
        system_versioning_insert_history: p.get(sb::SYSTEM_VERSIONING_INSERT_HISTORY, |r| {
            r.bool("session system_versioning_insert_history")
        })?,
    })
}

/// Reads the fields of a presence mask: a field is read only if its bit is set.
struct Present<'r, 'a> {
    r: &'r mut Reader<'a>,
    mask: u64,
}

impl<'a> Present<'_, 'a> {
    fn get<T>(&mut self, bit: u32, read: impl FnOnce(&mut Reader<'a>) -> Result<T>) -> Result<Option<T>> {
        if self.mask & (1 << bit) == 0 {
            return Ok(None);
        }
        read(self.r).map(Some)
    }
}

/// The user variable list; present only when non-empty.
fn user_vars(r: &mut Reader<'_>) -> Result<Vec<UserVar>> {
    const WHAT: &str = "session user_vars count";
    let at = r.pos;
    let n = r.count(WHAT, min_len::USER_VAR)?;
    if n == 0 {
        return Err(r.error_at(at, DecodeReason::EmptyList { what: WHAT }));
    }
    let mut vars = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string("user var name")?;
        let flags = r.flags("user var flags", tag::UV_KNOWN)?;
        let collation = (flags & tag::UV_COLLATION != 0)
            .then(|| r.varint16("user var collation"))
            .transpose()?;
        let data_type = (flags & tag::UV_DATA_TYPE != 0)
            .then(|| r.string("user var data type"))
            .transpose()?;
        let value = value(r)?;
        vars.push(UserVar {
            name,
            value,
            collation,
            unsigned: flags & tag::UV_UNSIGNED != 0,
            data_type,
        });
    }
    Ok(vars)
}

fn row_changes(r: &mut Reader<'_>) -> Result<RowChanges> {
    let schema = r.string("rows schema")?;
    let table = r.string("rows table")?;
    let at = r.pos;
    let action = match r.u8("rows action")? {
        tag::ACTION_INSERT => RowAction::Insert,
        tag::ACTION_UPDATE => RowAction::Update,
        tag::ACTION_DELETE => RowAction::Delete,
        t => return Err(r.unknown_tag(at, "rows action", t)),
    };
    let flags = if r.version >= 2 {
        let bits = r.flags("rows flags", tag::ROWS_KNOWN)?;
        RowFlags {
            no_foreign_key_checks: bits & tag::ROWS_NO_FK_CHECKS != 0,
            relaxed_unique_checks: bits & tag::ROWS_RELAXED_UNIQUE_CHECKS != 0,
            no_check_constraint_checks: bits & tag::ROWS_NO_CHECK_CONSTRAINT_CHECKS != 0,
        }
    } else {
        RowFlags::default()
    };
    let n = r.count("column count", min_len::COLUMN)?;
    let mut columns = Vec::with_capacity(n);
    for _ in 0..n {
        columns.push(column_spec(r)?);
    }
    let before_columns = column_indexes(r, "before_columns count")?;
    let after_columns = column_indexes(r, "after_columns count")?;
    let n = r.count("row count", min_len::ROW)?;
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        let before = values(r, "before image value count")?;
        let after = values(r, "after image value count")?;
        rows.push(RowImage { before, after });
    }
    Ok(RowChanges {
        schema,
        table,
        action,
        columns,
        before_columns,
        after_columns,
        flags,
        rows,
    })
}

fn column_spec(r: &mut Reader<'_>) -> Result<ColumnSpec> {
    let index = r.varint16("column index")?;
    let name = r.string("column name")?;
    let type_code = r.u8("column type_code")?;
    let type_meta = r.varint16("column type_meta")?;
    let flags = r.flags("column flags", tag::COL_KNOWN)?;
    let collation = (flags & tag::COL_COLLATION != 0)
        .then(|| r.varint16("column collation"))
        .transpose()?;
    let type_desc = r.string("column type_desc")?;
    Ok(ColumnSpec {
        index,
        name,
        type_code,
        type_meta,
        unsigned: flags & tag::COL_UNSIGNED != 0,
        nullable: flags & tag::COL_NULLABLE != 0,
        key: flags & tag::COL_KEY != 0,
        collation,
        type_desc,
    })
}

fn column_indexes(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u16>> {
    let n = r.count(what, min_len::COLUMN_INDEX)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(r.varint16("column index list entry")?);
    }
    Ok(list)
}

/// A row image: its value count, then the values.
fn values(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Value>> {
    let n = r.count(what, min_len::VALUE)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(value(r)?);
    }
    Ok(list)
}

/// One value: its tag byte, then its payload.
fn value(r: &mut Reader<'_>) -> Result<Value> {
    let at = r.pos;
    Ok(match r.u8("value tag")? {
        tag::NULL => Value::Null,
        tag::INT => Value::Int(r.zigzag("Value::Int")?),
        tag::UINT => Value::UInt(r.varint("Value::UInt")?),
        tag::FLOAT => Value::Float(f32::from_bits(u32::from_le_bytes(r.array("Value::Float")?))),
        tag::DOUBLE => Value::Double(f64::from_bits(u64::from_le_bytes(r.array("Value::Double")?))),
        tag::DECIMAL => Value::Decimal(r.string("Value::Decimal")?),
        tag::DATE => {
            let [y0, y1, month, day] = r.array("Value::Date")?;
            Value::Date(Date {
                year: u16::from_le_bytes([y0, y1]),
                month,
                day,
            })
        }
        tag::DATETIME => {
            let [y0, y1, month, day, hour, minute, second] = r.array("Value::DateTime")?;
            let micros = r.varint32("Value::DateTime micros")?;
            let year = u16::from_le_bytes([y0, y1]);
            Value::DateTime(DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            })
        }
        tag::TIMESTAMP => {
            let secs = r.zigzag("Value::Timestamp secs")?;
            let micros = r.varint32("Value::Timestamp micros")?;
            Value::Timestamp { secs, micros }
        }
        tag::TIME => time(r)?,
        tag::YEAR => Value::Year(u16::from_le_bytes(r.array("Value::Year")?)),
        tag::BIT => Value::Bit(r.varint("Value::Bit")?),
        tag::ENUM => Value::Enum(r.varint16("Value::Enum")?),
        tag::SET => Value::Set(r.varint("Value::Set")?),
        tag::BYTES => Value::Bytes(r.bytes("Value::Bytes")?.to_vec()),
        t => return Err(r.unknown_tag(at, "value tag", t)),
    })
}

/// The payload of a TIME value.
fn time(r: &mut Reader<'_>) -> Result<Value> {
    let flags = r.flags("Value::Time flags", tag::TIME_KNOWN)?;
    let [h0, h1, minutes, seconds] = r.array("Value::Time")?;
    let micros = r.varint32("Value::Time micros")?;
    Ok(Value::Time(Time {
        negative: flags & tag::TIME_NEGATIVE != 0,
        hours: u16::from_le_bytes([h0, h1]),
        minutes,
        seconds,
        micros,
    }))
}

/// A cursor over the input. Invariant: `pos <= buf.len()`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The body's format version (fields added by later versions are read
    /// only when it is high enough).
    version: u8,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn error_at(&self, offset: usize, reason: DecodeReason) -> DecodeError {
        DecodeError::new(offset, reason)
    }

    fn unknown_tag(&self, offset: usize, what: &'static str, tag: u8) -> DecodeError {
        self.error_at(offset, DecodeReason::UnknownTag { what, tag })
    }

    fn truncated(&self, what: &'static str, needed: u64) -> DecodeError {
        let remaining = self.remaining();
        self.error_at(
            self.pos,
            DecodeReason::Truncated {
                what,
                needed,
                remaining,
            },
        )
    }

    #[inline]
    fn u8(&mut self, what: &'static str) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.truncated(what, 1)),
        }
    }

    /// The next `n` bytes.
    #[inline]
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        let slice = self.pos.checked_add(n).and_then(|end| self.buf.get(self.pos..end));
        match slice {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(self.truncated(what, n as u64)),
        }
    }

    /// The next `N` bytes as an array.
    #[inline]
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let at = self.pos;
        let s = self.take(N, what)?;
        s.try_into().map_err(|_| {
            let remaining = self.buf.len().saturating_sub(at);
            self.error_at(
                at,
                DecodeReason::Truncated {
                    what,
                    needed: N as u64,
                    remaining,
                },
            )
        })
    }

    /// A minimal unsigned LEB128 varint of at most 10 bytes.
    #[inline]
    fn varint(&mut self, what: &'static str) -> Result<u64> {
        let at = self.pos;
        let first = self.u8(what)?;
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let mut value = u64::from(first & 0x7f);
        let mut shift = 7;
        loop {
            let b = self.u8(what)?;
            if shift == 63 && b > 1 {
                return Err(self.error_at(at, DecodeReason::VarintOverflow { what }));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                if b == 0 {
                    return Err(self.error_at(at, DecodeReason::VarintNotMinimal { what }));
                }
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A varint whose value must fit in `max`.
    fn varint_max(&mut self, what: &'static str, max: u64) -> Result<u64> {
        let at = self.pos;
        let value = self.varint(what)?;
        if value > max {
            return Err(self.error_at(at, DecodeReason::OutOfRange { what, value, max }));
        }
        Ok(value)
    }

    fn varint16(&mut self, what: &'static str) -> Result<u16> {
        let v = self.varint_max(what, u64::from(u16::MAX))?;
        Ok(u16::try_from(v).unwrap_or(u16::MAX))
    }

    fn varint32(&mut self, what: &'static str) -> Result<u32> {
        let v = self.varint_max(what, u64::from(u32::MAX))?;
        Ok(u32::try_from(v).unwrap_or(u32::MAX))
    }

    fn zigzag(&mut self, what: &'static str) -> Result<i64> {
        let v = self.varint(what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn bool(&mut self, what: &'static str) -> Result<bool> {
        let at = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            byte => Err(self.error_at(at, DecodeReason::InvalidBool { what, byte })),
        }
    }

    /// A flags byte; bits outside `known` are errors.
    fn flags(&mut self, what: &'static str, known: u8) -> Result<u8> {
        let at = self.pos;
        let flags = self.u8(what)?;
        if flags & !known != 0 {
            let bits = u64::from(flags & !known);
            return Err(self.error_at(at, DecodeReason::UnknownFlags { what, bits }));
        }
        Ok(flags)
    }

    /// A count of items that each take at least `min_item_len` bytes; fails
    /// before anything is allocated if the remaining input cannot hold them.
    fn count(&mut self, what: &'static str, min_item_len: usize) -> Result<usize> {
        let at = self.pos;
        let count = self.varint(what)?;
        let remaining = self.remaining();
        let needed = count.saturating_mul(min_item_len as u64);
        if needed > remaining as u64 {
            return Err(self.error_at(at, DecodeReason::CountTooLarge { what, count, remaining }));
        }
        // `count <= remaining`, which is a `usize`.
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// A length-prefixed byte string, borrowed from the input.
    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let at = self.pos;
        let len = self.varint(what)?;
        let remaining = self.remaining();
        match usize::try_from(len) {
            Ok(n) if n <= remaining => self.take(n, what),
            _ => Err(self.error_at(
                at,
                DecodeReason::Truncated {
                    what,
                    needed: len,
                    remaining,
                },
            )),
        }
    }

    /// A length-prefixed UTF-8 string. The error offset of invalid UTF-8 is
    /// the first invalid byte.
    fn string(&mut self, what: &'static str) -> Result<String> {
        let bytes = self.bytes(what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => {
                let at = self.pos - bytes.len() + e.valid_up_to();
                Err(self.error_at(at, DecodeReason::InvalidUtf8 { what }))
            }
        }
    }
}

//! TABLE_MAP_EVENT (19): a table's definition, turned once into the
//! per-column decode plan ([`Kind`]) and THL [`ColumnSpec`]s.
//!
//! Payload layout:
//!
//! | size       | field                                                    |
//! |------------|----------------------------------------------------------|
//! | 6 (4)      | table id (4 bytes when the FDE's post-header length is 6) |
//! | 2          | flags                                                    |
//! | 1 + n + 1  | schema name length, name, NUL                            |
//! | 1 + n + 1  | table name length, name, NUL                             |
//! | lenenc     | column count                                             |
//! | count      | column types                                             |
//! | lenenc + m | type metadata block                                      |
//! | (count+7)/8| nullability bitmap (LSB first)                           |
//! | rest       | optional metadata: `type u8, lenenc length, value`       |
//!
//! Per-type metadata in the block, and how it is packed into
//! `ColumnSpec::type_meta` (MySQL's `table_def` convention):
//!
//! | types                                             | bytes | type_meta             |
//! |---------------------------------------------------|-------|-----------------------|
//! | FLOAT, DOUBLE, BLOB*, GEOMETRY, JSON, VECTOR, TIME2, DATETIME2, TIMESTAMP2, BLOB_COMPRESSED | 1 | the byte |
//! | VARCHAR, VAR_STRING, VARCHAR_COMPRESSED           | 2     | max length (LE)       |
//! | BIT                                               | 2     | bits%8 + bytes << 8   |
//! | NEWDECIMAL                                        | 2     | precision << 8 + scale|
//! | STRING, ENUM, SET                                 | 2     | byte0 << 8 + byte1    |
//! | TIME, DATETIME, TIMESTAMP (11, 12, 7)             | 0     | fractional precision n (see below) |
//! | others                                            | 0     | 0                     |
//!
//! **TIME, DATETIME, TIMESTAMP (11, 12, 7): `type_meta` = fractional
//! precision n.** These are the pre-5.6 formats; MariaDB 5.3 gave them a
//! fractional form (`TIME(n) /* mariadb-5.3 */`, created with
//! `mysql56_temporal_format=OFF`) whose row format depends on n, but the
//! binlog carries no metadata for them, so n is 0 as parsed here. The
//! extractor learns n from the source's definition and sets it with
//! [`TableMap::with_temporal_precision`]; the THL `ColumnSpec` then carries
//! it, so [`column_kind`] gives back the same [`Kind`] (`TimeHires`,
//! `DateTimeHires`, `TimestampHires` for n in 1..=6; the classic kinds for
//! n = 0).
//!
//! Optional metadata fields used: 1 SIGNEDNESS (bitmap over numeric
//! columns, MSB first), 2 DEFAULT_CHARSET, 3 COLUMN_CHARSET (over character
//! columns: CHAR/VARCHAR/BLOB/TEXT **and GEOMETRY**, by real type), 4
//! COLUMN_NAME, 5 SET_STR_VALUE, 6 ENUM_STR_VALUE, 8 SIMPLE_PRIMARY_KEY, 9
//! PRIMARY_KEY_WITH_PREFIX, 10/11 ENUM_AND_SET default/column charset.
//! Numeric columns (for SIGNEDNESS) include YEAR and DECIMAL, as servers do.

use thl::event::ColumnSpec;

use super::cursor::Cursor;
use super::error::{malformed, ErrorKind, KResult};
use super::values::Kind;

/// `MYSQL_TYPE_*` codes.
pub mod types {
    pub const DECIMAL: u8 = 0;
    pub const TINY: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const LONG: u8 = 3;
    pub const FLOAT: u8 = 4;
    pub const DOUBLE: u8 = 5;
    pub const NULL: u8 = 6;
    pub const TIMESTAMP: u8 = 7;
    pub const LONGLONG: u8 = 8;
    pub const INT24: u8 = 9;
    pub const DATE: u8 = 10;
    pub const TIME: u8 = 11;
    pub const DATETIME: u8 = 12;
    pub const YEAR: u8 = 13;
    pub const NEWDATE: u8 = 14;
    pub const VARCHAR: u8 = 15;
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const TYPED_ARRAY: u8 = 20;
    pub const VARCHAR_COMPRESSED: u8 = 141;
    pub const BLOB_COMPRESSED: u8 = 140;
    pub const VECTOR: u8 = 242;
    pub const JSON: u8 = 245;
    pub const NEWDECIMAL: u8 = 246;
    pub const ENUM: u8 = 247;
    pub const SET: u8 = 248;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const VAR_STRING: u8 = 253;
    pub const STRING: u8 = 254;
    pub const GEOMETRY: u8 = 255;
}
use types::*;

/// Collation id of the `binary` character set.
pub const BINARY_COLLATION: u16 = 63;

/// A decoded TABLE_MAP_EVENT with its decode plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TableMap {
    pub table_id: u64,
    pub flags: u16,
    pub schema: String,
    pub table: String,
    /// THL column specs, in table order.
    pub columns: Vec<ColumnSpec>,
    /// Decode plan, one per column.
    pub kinds: Vec<Kind>,
    /// Number of JSON columns (PARTIAL_UPDATE_ROWS bitmaps count these).
    pub json_columns: usize,
    /// True when the map carried optional metadata (binlog_row_metadata
    /// MINIMAL or FULL).
    pub has_optional_metadata: bool,
    /// True when column names were present (binlog_row_metadata=FULL).
    pub has_column_names: bool,
}

impl TableMap {
    /// `schema.table`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.table)
    }

    /// Indexes of the columns logged with a pre-5.6 temporal type (TIME,
    /// DATETIME, TIMESTAMP: 11, 12, 7), whose fractional precision the
    /// binlog does not carry.
    pub fn old_temporal_columns(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| is_old_temporal(c.type_code))
            .map(|(i, _)| i)
            .collect()
    }

    /// This map with the fractional precision of pre-5.6 temporal columns
    /// set: `(column index, n)`, n in 0..=6. Sets `type_meta` = n, the type
    /// description and the decode plan of each column.
    pub fn with_temporal_precision(&self, precisions: &[(usize, u8)]) -> Result<TableMap, PrecisionError> {
        let mut out = self.clone();
        for &(i, n) in precisions {
            let bad = |why: &str| PrecisionError {
                table: self.qualified_name(),
                column: i,
                why: why.to_string(),
            };
            let col = out.columns.get_mut(i).ok_or_else(|| bad("no such column"))?;
            if !is_old_temporal(col.type_code) {
                return Err(bad(&format!(
                    "type {} is not a pre-5.6 TIME, DATETIME or TIMESTAMP",
                    col.type_code
                )));
            }
            if n > 6 {
                return Err(bad(&format!("fractional precision {n} (at most 6)")));
            }
            col.type_meta = u16::from(n);
            let base = match col.type_code {
                TIME => "time",
                DATETIME => "datetime",
                _ => "timestamp",
            };
            col.type_desc = fsp_suffix(base, n);
            out.kinds[i] = column_kind(col).map_err(|e| bad(&e.to_string()))?;
        }
        Ok(out)
    }
}

/// A fractional precision that cannot be applied to a table map column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} column {column}: cannot set a fractional precision: {why}")]
pub struct PrecisionError {
    /// `schema.table`.
    pub table: String,
    /// Column index (0-based).
    pub column: usize,
    pub why: String,
}

/// TIME, DATETIME, TIMESTAMP: the pre-5.6 temporal type codes.
pub fn is_old_temporal(t: u8) -> bool {
    matches!(t, TIME | DATETIME | TIMESTAMP)
}

pub(crate) fn meta_len(t: u8) -> KResult<usize> {
    Ok(match t {
        FLOAT | DOUBLE | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | JSON | VECTOR | TIMESTAMP2
        | DATETIME2 | TIME2 | BLOB_COMPRESSED => 1,
        VARCHAR | VAR_STRING | VARCHAR_COMPRESSED | BIT | NEWDECIMAL | STRING | ENUM | SET => 2,
        DECIMAL | TINY | SHORT | LONG | NULL | TIMESTAMP | LONGLONG | INT24 | DATE | TIME | DATETIME | YEAR
        | NEWDATE => 0,
        t => {
            return Err(ErrorKind::Unsupported(format!(
                "column type {t} in TABLE_MAP (metadata length unknown)"
            )))
        }
    })
}

pub(crate) fn is_numeric(t: u8) -> bool {
    matches!(
        t,
        TINY | SHORT | INT24 | LONG | LONGLONG | DECIMAL | NEWDECIMAL | FLOAT | DOUBLE | YEAR
    )
}

pub(crate) fn is_character(t: u8) -> bool {
    matches!(
        t,
        STRING
            | VAR_STRING
            | VARCHAR
            | VARCHAR_COMPRESSED
            | TINY_BLOB
            | MEDIUM_BLOB
            | LONG_BLOB
            | BLOB
            | BLOB_COMPRESSED
            | GEOMETRY
    )
}

/// One column as read from the fixed part.
#[derive(Debug, Clone, Copy)]
struct RawCol {
    /// Type byte in the map.
    t: u8,
    /// Real type (ENUM/SET/STRING decoded from STRING's metadata).
    real: u8,
    meta: [u8; 2],
    /// STRING: maximum length in bytes.
    str_len: u16,
}

fn real_type(t: u8, m: [u8; 2]) -> (u8, u16) {
    if t == STRING {
        let (b0, b1) = (m[0], m[1]);
        if b0 != 0 && (b0 & 0x30) != 0x30 {
            let len = u16::from(b1) | (u16::from((b0 & 0x30) ^ 0x30) << 4);
            (b0 | 0x30, len)
        } else if b0 == 0 {
            (STRING, u16::from(b1))
        } else {
            (b0, u16::from(b1))
        }
    } else {
        (t, 0)
    }
}

fn type_meta(c: &RawCol) -> u16 {
    let m = c.meta;
    match c.t {
        VARCHAR | VAR_STRING | VARCHAR_COMPRESSED | BIT => u16::from_le_bytes(m),
        NEWDECIMAL | STRING | ENUM | SET => (u16::from(m[0]) << 8) | u16::from(m[1]),
        _ => u16::from(m[0]),
    }
}

/// Character-set length (bytes per character) for a few common collation
/// ids; `None` when unknown (the type_desc then has no length).
fn mbmaxlen(collation: u16) -> Option<u16> {
    use mysql_common::collations::{Collation, CollationId};
    if collation == BINARY_COLLATION {
        return Some(1);
    }
    let c: Collation<'static> = CollationId::from(collation).into();
    match c.max_len() {
        0 => None,
        n => Some(u16::from(n)),
    }
}

fn quote_list(items: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('\'');
        s.push_str(&String::from_utf8_lossy(it).replace('\'', "''"));
        s.push('\'');
    }
    s
}

/// Collected optional metadata.
#[derive(Default)]
struct OptMeta {
    signedness: Option<Vec<u8>>,
    default_charset: Option<(u16, Vec<(usize, u16)>)>,
    column_charset: Option<Vec<u16>>,
    names: Option<Vec<String>>,
    set_values: Vec<Vec<Vec<u8>>>,
    enum_values: Vec<Vec<Vec<u8>>>,
    pk: Vec<usize>,
    enum_set_default: Option<(u16, Vec<(usize, u16)>)>,
    enum_set_column: Option<Vec<u16>>,
}

fn lenenc_u16(c: &mut Cursor<'_>, what: &'static str) -> KResult<u16> {
    u16::try_from(c.lenenc(what)?).map_err(|_| malformed(format!("{what} out of range")))
}

fn parse_default_charset(v: &[u8]) -> KResult<(u16, Vec<(usize, u16)>)> {
    let mut c = Cursor::new(v);
    let def = lenenc_u16(&mut c, "DEFAULT_CHARSET")?;
    let mut pairs = Vec::new();
    while !c.is_empty() {
        let idx = c.lenenc("DEFAULT_CHARSET index")? as usize;
        let coll = lenenc_u16(&mut c, "DEFAULT_CHARSET collation")?;
        pairs.push((idx, coll));
    }
    Ok((def, pairs))
}

fn parse_lenenc_list(v: &[u8], what: &'static str) -> KResult<Vec<u16>> {
    let mut c = Cursor::new(v);
    let mut out = Vec::new();
    while !c.is_empty() {
        out.push(lenenc_u16(&mut c, what)?);
    }
    Ok(out)
}

fn parse_str_values(v: &[u8], what: &'static str) -> KResult<Vec<Vec<Vec<u8>>>> {
    let mut c = Cursor::new(v);
    let mut out = Vec::new();
    while !c.is_empty() {
        let n = c.lenenc(what)?;
        if n > c.remaining() as u64 {
            return Err(malformed(format!("{what}: {n} values in {} bytes", c.remaining())));
        }
        let mut vals = Vec::with_capacity(n as usize);
        for _ in 0..n {
            vals.push(c.lenenc_bytes(what)?.to_vec());
        }
        out.push(vals);
    }
    Ok(out)
}

fn parse_optional(mut c: Cursor<'_>) -> KResult<OptMeta> {
    let mut m = OptMeta::default();
    while !c.is_empty() {
        let t = c.u8("optional metadata type")?;
        let v = c.lenenc_bytes("optional metadata value")?;
        match t {
            1 => m.signedness = Some(v.to_vec()),
            2 => m.default_charset = Some(parse_default_charset(v)?),
            3 => m.column_charset = Some(parse_lenenc_list(v, "COLUMN_CHARSET")?),
            4 => {
                let mut cc = Cursor::new(v);
                let mut names = Vec::new();
                while !cc.is_empty() {
                    names.push(String::from_utf8_lossy(cc.lenenc_bytes("COLUMN_NAME")?).into_owned());
                }
                m.names = Some(names);
            }
            5 => m.set_values = parse_str_values(v, "SET_STR_VALUE")?,
            6 => m.enum_values = parse_str_values(v, "ENUM_STR_VALUE")?,
            8 => {
                let mut cc = Cursor::new(v);
                while !cc.is_empty() {
                    m.pk.push(cc.lenenc("SIMPLE_PRIMARY_KEY")? as usize);
                }
            }
            9 => {
                let mut cc = Cursor::new(v);
                while !cc.is_empty() {
                    m.pk.push(cc.lenenc("PRIMARY_KEY_WITH_PREFIX")? as usize);
                    cc.lenenc("PRIMARY_KEY_WITH_PREFIX prefix")?;
                }
            }
            10 => m.enum_set_default = Some(parse_default_charset(v)?),
            11 => m.enum_set_column = Some(parse_lenenc_list(v, "ENUM_AND_SET_COLUMN_CHARSET")?),
            _ => {} // 7 GEOMETRY_TYPE, 12 COLUMN_VISIBILITY, 13 VECTOR dims, future fields
        }
    }
    Ok(m)
}

/// Resolves the collation of the `k`-th column of a class (character or
/// enum/set) from a DEFAULT_* or COLUMN_* field.
fn collation_of(k: usize, default: &Option<(u16, Vec<(usize, u16)>)>, column: &Option<Vec<u16>>) -> Option<u16> {
    if let Some(list) = column {
        return list.get(k).copied();
    }
    if let Some((def, pairs)) = default {
        return Some(pairs.iter().find(|(i, _)| *i == k).map(|(_, c)| *c).unwrap_or(*def));
    }
    None
}

/// Parses a TABLE_MAP payload. `id_len` is 6, or 4 for a post-header of 6.
pub fn parse_table_map(p: &[u8], post: usize) -> KResult<TableMap> {
    let mut c = Cursor::new(p);
    let id_len = if post == 6 { 4 } else { 6 };
    let table_id = c.uint_n(id_len, "table_id")?;
    let flags = c.u16("table_map flags")?;
    if post > id_len + 2 {
        c.skip(post - id_len - 2, "table_map post-header")?;
    }
    let n = usize::from(c.u8("schema length")?);
    let schema = String::from_utf8_lossy(c.take(n, "schema")?).into_owned();
    if c.u8("schema NUL")? != 0 {
        return Err(malformed("schema name is not NUL-terminated"));
    }
    let n = usize::from(c.u8("table length")?);
    let table = String::from_utf8_lossy(c.take(n, "table")?).into_owned();
    if c.u8("table NUL")? != 0 {
        return Err(malformed("table name is not NUL-terminated"));
    }
    let ncols = c.lenenc_len("column count")?;
    let col_types = c.take(ncols, "column types")?;
    let meta_block = c.lenenc_bytes("metadata block")?;
    let nullbits = c.take(ncols.div_ceil(8), "null bitmap")?;
    let has_opt = !c.is_empty();
    let opt = parse_optional(c)?;

    let mut raw = Vec::with_capacity(ncols);
    let mut mc = Cursor::new(meta_block);
    for &t in col_types {
        let ml = meta_len(t)?;
        let b = mc.take(ml, "column metadata")?;
        let meta = match ml {
            1 => [b[0], 0],
            2 => [b[0], b[1]],
            _ => [0, 0],
        };
        let (real, str_len) = real_type(t, meta);
        raw.push(RawCol { t, real, meta, str_len });
    }

    let mut columns = Vec::with_capacity(ncols);
    let mut kinds = Vec::with_capacity(ncols);
    let (mut num_i, mut chr_i, mut es_i, mut enum_i, mut set_i) = (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut json_columns = 0;
    for (i, rc) in raw.iter().enumerate() {
        let unsigned = if is_numeric(rc.real) {
            let bit = opt
                .signedness
                .as_ref()
                .and_then(|s| s.get(num_i / 8))
                .map(|b| b & (0x80 >> (num_i % 8)) != 0)
                .unwrap_or(false);
            num_i += 1;
            bit
        } else {
            false
        };
        let collation = if is_character(rc.real) {
            let c = collation_of(chr_i, &opt.default_charset, &opt.column_charset);
            chr_i += 1;
            c
        } else if rc.real == ENUM || rc.real == SET {
            let c = collation_of(es_i, &opt.enum_set_default, &opt.enum_set_column);
            es_i += 1;
            c
        } else {
            None
        };
        let kind = kind_of(rc, unsigned, collation)?;
        if let Kind::Json { .. } = kind {
            json_columns += 1;
        }
        let (enum_vals, set_vals) = match rc.real {
            ENUM => {
                enum_i += 1;
                (opt.enum_values.get(enum_i - 1), None)
            }
            SET => {
                set_i += 1;
                (None, opt.set_values.get(set_i - 1))
            }
            _ => (None, None),
        };
        let nullable = nullbits.get(i / 8).map(|b| b & (1 << (i % 8)) != 0).unwrap_or(true);
        let name = opt.names.as_ref().and_then(|n| n.get(i)).cloned().unwrap_or_default();
        let desc = type_desc(rc, unsigned, collation, enum_vals, set_vals);
        columns.push(ColumnSpec {
            index: u16::try_from(i).map_err(|_| malformed("more than 65535 columns"))?,
            name,
            type_code: rc.real,
            type_meta: type_meta(rc),
            unsigned,
            nullable,
            key: opt.pk.contains(&i),
            collation,
            type_desc: desc,
        });
        kinds.push(kind);
    }
    Ok(TableMap {
        table_id,
        flags,
        schema,
        table,
        columns,
        kinds,
        json_columns,
        has_optional_metadata: has_opt,
        has_column_names: opt.names.is_some(),
    })
}

/// The decode plan of one column, from its TABLE_MAP type and metadata.
fn kind_of(rc: &RawCol, unsigned: bool, collation: Option<u16>) -> KResult<Kind> {
    let m = rc.meta;
    Ok(match rc.real {
        TINY => Kind::Int { bytes: 1, unsigned },
        SHORT => Kind::Int { bytes: 2, unsigned },
        INT24 => Kind::Int { bytes: 3, unsigned },
        LONG => Kind::Int { bytes: 4, unsigned },
        LONGLONG => Kind::Int { bytes: 8, unsigned },
        FLOAT => Kind::Float,
        DOUBLE => Kind::Double,
        NEWDECIMAL => Kind::Decimal {
            precision: m[0],
            scale: m[1],
        },
        YEAR => Kind::Year,
        DATE | NEWDATE => Kind::Date,
        TIME | DATETIME | TIMESTAMP if m[0] > 6 => {
            return Err(malformed(format!(
                "fractional precision {} of a pre-5.6 temporal column (at most 6)",
                m[0]
            )))
        }
        TIME if m[0] > 0 => Kind::TimeHires { fsp: m[0] },
        TIME => Kind::TimeOld,
        TIME2 => Kind::Time2 { fsp: m[0].min(6) },
        DATETIME if m[0] > 0 => Kind::DateTimeHires { fsp: m[0] },
        DATETIME => Kind::DateTimeOld,
        DATETIME2 => Kind::DateTime2 { fsp: m[0].min(6) },
        TIMESTAMP if m[0] > 0 => Kind::TimestampHires { fsp: m[0] },
        TIMESTAMP => Kind::TimestampOld,
        TIMESTAMP2 => Kind::Timestamp2 { fsp: m[0].min(6) },
        BIT => {
            let bytes = u16::from(m[1]) + u16::from(m[0] > 0);
            if bytes > 8 {
                return Err(malformed(format!("BIT column of {bytes} bytes")));
            }
            Kind::Bit { bytes: bytes as u8 }
        }
        ENUM => Kind::Enum {
            bytes: m[1].clamp(1, 2),
        },
        SET => Kind::Set {
            bytes: m[1].clamp(1, 8),
        },
        VARCHAR | VAR_STRING => {
            let max = u16::from_le_bytes(m);
            Kind::Str {
                len_bytes: if max < 256 { 1 } else { 2 },
                pad_to: 0,
            }
        }
        STRING => Kind::Str {
            len_bytes: if rc.str_len < 256 { 1 } else { 2 },
            pad_to: if collation == Some(BINARY_COLLATION) {
                rc.str_len
            } else {
                0
            },
        },
        TINY_BLOB | MEDIUM_BLOB | LONG_BLOB | BLOB | GEOMETRY | VECTOR => {
            if !(1..=4).contains(&m[0]) {
                return Err(malformed(format!("blob length bytes {}", m[0])));
            }
            Kind::Blob { len_bytes: m[0] }
        }
        JSON => {
            if !(1..=4).contains(&m[0]) {
                return Err(malformed(format!("JSON length bytes {}", m[0])));
            }
            Kind::Json { len_bytes: m[0] }
        }
        VARCHAR_COMPRESSED => Kind::Compressed {
            len_bytes: if u16::from_le_bytes(m) < 256 { 1 } else { 2 },
        },
        BLOB_COMPRESSED => {
            if !(1..=4).contains(&m[0]) {
                return Err(malformed(format!("compressed blob length bytes {}", m[0])));
            }
            Kind::Compressed { len_bytes: m[0] }
        }
        t => Kind::Unsupported { type_code: t },
    })
}

/// The TABLE_MAP type byte, metadata bytes and metadata length that
/// describe `c` (the inverse of how [`parse_table_map`] packs
/// `ColumnSpec::type_meta`): ENUM, SET and CHAR travel as STRING with their
/// real type in the metadata.
pub fn wire_type(c: &ColumnSpec) -> KResult<(u8, [u8; 2], usize)> {
    let t = match c.type_code {
        ENUM | SET => STRING,
        t => t,
    };
    let m = c.type_meta;
    let meta = match t {
        VARCHAR | VAR_STRING | VARCHAR_COMPRESSED | BIT => m.to_le_bytes(),
        NEWDECIMAL | STRING => [(m >> 8) as u8, m as u8],
        _ => [m as u8, 0],
    };
    Ok((t, meta, meta_len(t)?))
}

/// The decode plan of a THL column: the same [`Kind`] its TABLE_MAP gave.
pub fn column_kind(c: &ColumnSpec) -> KResult<Kind> {
    let (t, meta, _) = wire_type(c)?;
    let (real, str_len) = real_type(t, meta);
    kind_of(&RawCol { t, real, meta, str_len }, c.unsigned, c.collation)
}

fn fsp_suffix(base: &str, fsp: u8) -> String {
    if fsp == 0 {
        base.to_string()
    } else {
        format!("{base}({fsp})")
    }
}

fn type_desc(
    rc: &RawCol,
    unsigned: bool,
    collation: Option<u16>,
    enum_vals: Option<&Vec<Vec<u8>>>,
    set_vals: Option<&Vec<Vec<u8>>>,
) -> String {
    let m = rc.meta;
    let u = |s: &str| {
        if unsigned {
            format!("{s} unsigned")
        } else {
            s.to_string()
        }
    };
    let chars = |bytes: u16, text: &str, bin: &str| -> String {
        match collation {
            Some(BINARY_COLLATION) => format!("{bin}({bytes})"),
            Some(c) => match mbmaxlen(c) {
                Some(mb) => format!("{text}({})", bytes / mb.max(1)),
                None => text.to_string(),
            },
            None => text.to_string(),
        }
    };
    match rc.real {
        TINY => u("tinyint"),
        SHORT => u("smallint"),
        INT24 => u("mediumint"),
        LONG => u("int"),
        LONGLONG => u("bigint"),
        FLOAT => u("float"),
        DOUBLE => u("double"),
        NEWDECIMAL => u(&format!("decimal({},{})", m[0], m[1])),
        YEAR => "year".into(),
        DATE | NEWDATE => "date".into(),
        TIME => fsp_suffix("time", m[0]),
        TIME2 => fsp_suffix("time", m[0]),
        DATETIME => fsp_suffix("datetime", m[0]),
        DATETIME2 => fsp_suffix("datetime", m[0]),
        TIMESTAMP => fsp_suffix("timestamp", m[0]),
        TIMESTAMP2 => fsp_suffix("timestamp", m[0]),
        BIT => format!("bit({})", u16::from(m[1]) * 8 + u16::from(m[0])),
        ENUM => match enum_vals {
            Some(v) => format!("enum({})", quote_list(v)),
            None => "enum".into(),
        },
        SET => match set_vals {
            Some(v) => format!("set({})", quote_list(v)),
            None => "set".into(),
        },
        VARCHAR | VAR_STRING => chars(u16::from_le_bytes(m), "varchar", "varbinary"),
        STRING => chars(rc.str_len, "char", "binary"),
        BLOB | TINY_BLOB | MEDIUM_BLOB | LONG_BLOB => {
            let base = match m[0] {
                1 => "tiny",
                3 => "medium",
                4 => "long",
                _ => "",
            };
            if collation.is_none_or(|c| c == BINARY_COLLATION) {
                format!("{base}blob")
            } else {
                format!("{base}text")
            }
        }
        GEOMETRY => "geometry".into(),
        JSON => "json".into(),
        VECTOR => "vector".into(),
        VARCHAR_COMPRESSED => "varchar compressed".into(),
        BLOB_COMPRESSED => "blob compressed".into(),
        t => format!("type{t}"),
    }
}

//! THL values → `mysql_async` parameters, exactly.
//!
//! The apply session runs row changes with `character_set_client=binary`,
//! `time_zone='+00:00'` and `sql_mode='NO_AUTO_VALUE_ON_ZERO'` (see
//! `session.rs`), which is what makes these bindings exact:
//!
//! | THL value | parameter | why it is exact |
//! |---|---|---|
//! | `Int`, `UInt` | `Int` / `UInt` (LONGLONG, UNSIGNED flag) | 64-bit, `u64::MAX` included |
//! | `Float`, `Double` | `Float` / `Double` | IEEE bits sent as is |
//! | `Decimal` | its text | parsed by the server as a DECIMAL literal |
//! | `Date`, `DateTime` | `Date(y,m,d,h,i,s,µs)` | zero dates and zero parts are accepted (no `NO_ZERO_DATE`/`NO_ZERO_IN_DATE`) |
//! | `Timestamp` | the UTC `Date(..)` of secs+µs | the session time zone is `+00:00`; `secs=0, µs=0` is the zero date |
//! | `Time` | `Time(neg, days, h, m, s, µs)` | negative and > 24 h |
//! | `Year` | `UInt` | an integer 0 stores `0000` (a string `'0'` would be 2000) |
//! | `Bit` (VALUES/SET) | big-endian bytes of the column width (`type_meta`) | as the binlog stores it |
//! | `Bit` (WHERE) | `UInt` | a BIT column compared with a string goes through DOUBLE, not exact above 2^53 |
//! | `Enum`, `Set` | `UInt` index / bit mask | integers store the index / mask |
//! | `Bytes` | `Bytes` | with `character_set_client=binary` the server does no conversion: the bytes land in the column's character set as they are (latin1 and utf8mb4 alike); GEOMETRY takes MariaDB's internal format (SRID + WKB) as the binlog carries it |

use mysql_async::Value as P;
use thl::display::civil_from_days;
use thl::event::{ColumnSpec, Value};

/// `MYSQL_TYPE_BIT`.
const TYPE_BIT: u8 = 16;

/// Where a parameter is used: `WHERE` comparisons need numeric BIT values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// `VALUES (..)` or `SET col = ?`.
    Store,
    /// `WHERE col = ?` / `col <=> ?`.
    Compare,
}

/// The parameter for `v` in column `col`.
pub(crate) fn bind(v: &Value, col: &ColumnSpec, usage: Use) -> P {
    match v {
        Value::Null => P::NULL,
        Value::Int(i) => P::Int(*i),
        Value::UInt(u) => P::UInt(*u),
        Value::Float(f) => P::Float(*f),
        Value::Double(d) => P::Double(*d),
        Value::Decimal(text) => P::Bytes(text.as_bytes().to_vec()),
        Value::Date(d) => P::Date(d.year, d.month, d.day, 0, 0, 0, 0),
        Value::DateTime(d) => P::Date(d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros),
        Value::Timestamp { secs, micros } => timestamp(*secs, *micros),
        Value::Time(t) => P::Time(
            t.negative,
            u32::from(t.hours / 24),
            (t.hours % 24) as u8,
            t.minutes,
            t.seconds,
            t.micros,
        ),
        Value::Year(y) => P::UInt(u64::from(*y)),
        Value::Bit(b) => match usage {
            Use::Compare => P::UInt(*b),
            Use::Store => P::Bytes(bit_bytes(*b, col)),
        },
        Value::Enum(i) => P::UInt(u64::from(*i)),
        Value::Set(m) => P::UInt(*m),
        Value::Bytes(b) => P::Bytes(b.clone()),
    }
}

/// An approximate size of the parameter on the wire, to cap batches.
pub(crate) fn wire_size(v: &Value) -> usize {
    match v {
        Value::Bytes(b) => b.len() + 9,
        Value::Decimal(s) => s.len() + 9,
        _ => 12,
    }
}

/// Width in bytes of a BIT column: `type_meta` is `bits%8 + bytes << 8`.
pub(crate) fn bit_width(col: &ColumnSpec) -> usize {
    if col.type_code != TYPE_BIT || col.type_meta == 0 {
        return 8;
    }
    let whole = usize::from(col.type_meta >> 8);
    let extra = usize::from(col.type_meta & 0xff != 0);
    (whole + extra).clamp(1, 8)
}

fn bit_bytes(value: u64, col: &ColumnSpec) -> Vec<u8> {
    let width = bit_width(col);
    value.to_be_bytes()[8 - width..].to_vec()
}

/// A UTC datetime parameter for a TIMESTAMP value (secs+µs since the epoch).
pub(crate) fn timestamp(secs: i64, micros: u32) -> P {
    if secs == 0 && micros == 0 {
        return P::Date(0, 0, 0, 0, 0, 0, 0);
    }
    let (y, m, d, hh, mm, ss) = utc_civil(secs);
    P::Date(y, m, d, hh, mm, ss, micros)
}

/// Seconds since the Unix epoch → UTC (year, month, day, hour, minute,
/// second), proleptic Gregorian (the day arithmetic is the THL display's
/// [`civil_from_days`]).
pub(crate) fn utc_civil(secs: i64) -> (u16, u8, u8, u8, u8, u8) {
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    (
        year.clamp(0, 9999) as u16,
        month as u8,
        day as u8,
        (sod / 3600) as u8,
        (sod % 3600 / 60) as u8,
        (sod % 60) as u8,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bit_col(bits: u16) -> ColumnSpec {
        ColumnSpec {
            index: 0,
            name: "b".into(),
            type_code: TYPE_BIT,
            type_meta: (bits % 8) | ((bits / 8) << 8),
            unsigned: false,
            nullable: true,
            key: false,
            collation: None,
            type_desc: format!("bit({bits})"),
        }
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bit_width(&bit_col(64)), 8);
        assert_eq!(bit_width(&bit_col(1)), 1);
        assert_eq!(bit_width(&bit_col(9)), 2);
        assert_eq!(bit_width(&bit_col(16)), 2);
        assert_eq!(
            bind(&Value::Bit(0x1ff), &bit_col(9), Use::Store),
            P::Bytes(vec![1, 0xff])
        );
        assert_eq!(
            bind(&Value::Bit(u64::MAX), &bit_col(64), Use::Compare),
            P::UInt(u64::MAX)
        );
    }

    #[test]
    fn civil() {
        assert_eq!(utc_civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(utc_civil(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(utc_civil(2_147_483_647), (2038, 1, 19, 3, 14, 7));
        assert_eq!(utc_civil(-1), (1969, 12, 31, 23, 59, 59));
        assert_eq!(timestamp(0, 0), P::Date(0, 0, 0, 0, 0, 0, 0));
        assert_eq!(timestamp(1, 5), P::Date(1970, 1, 1, 0, 0, 1, 5));
    }

    #[test]
    fn time_over_a_day() {
        let t = Value::Time(thl::event::Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 1,
        });
        assert_eq!(bind(&t, &bit_col(1), Use::Store), P::Time(true, 34, 22, 59, 59, 1));
    }
}

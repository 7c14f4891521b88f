//! Edge values of every [`Value`] variant: the one set the tests share
//! (compiled for thl's own tests and with the `testing` feature, which the
//! dev-dependencies of `thl`, `replicator` and `tests` enable).
//!
//! * [`edge_values`]: every variant with its edge values, for the codecs,
//!   which carry any value (`thl/tests/codec_roundtrip.rs`: a rows body and
//!   user variables of these values round-trip bit-exactly).
//! * The named constants are the edges that tests with typed columns pick
//!   one by one for their rows (`thl/tests/codec_golden.rs`,
//!   `replicator/src/binlog/encode_tests.rs`, `tests/tests/applier.rs`).
//!   Values tied to one column type (a DECIMAL(10,4), a TIME(1), a
//!   DATETIME(3)...) stay in those tests.
//!
//! Invariants: the values are fixed. `thl/tests/golden/body_rows.bin` pins
//! the bytes of a body built with [`ZERO_DATE`], [`ZERO_DATETIME`] and
//! [`TIME_MIN_WHOLE`], so changing one is a golden-file change; the applier
//! test (`tests/tests/applier.rs`) writes the typed ones into a real
//! MariaDB, so they must stay values it accepts.

use crate::event::{Date, DateTime, Time, Value};

/// `0000-00-00`: the zero date (MariaDB stores it unless `NO_ZERO_DATE`),
/// every field at its lowest.
pub const ZERO_DATE: Date = Date {
    year: 0,
    month: 0,
    day: 0,
};

/// `9999-12-31`: the last valid DATE.
pub const MAX_DATE: Date = Date {
    year: 9999,
    month: 12,
    day: 31,
};

/// `0000-00-00 00:00:00.000000`: the zero DATETIME.
pub const ZERO_DATETIME: DateTime = DateTime {
    year: 0,
    month: 0,
    day: 0,
    hour: 0,
    minute: 0,
    second: 0,
    micros: 0,
};

/// `2024-02-29 23:59:59.999999`: a leap day's last microsecond (every time
/// field at its largest valid value).
pub const LEAP_DAY_LAST_MICRO: DateTime = DateTime {
    year: 2024,
    month: 2,
    day: 29,
    hour: 23,
    minute: 59,
    second: 59,
    micros: 999_999,
};

/// Every field at its Rust type's maximum: no valid date, but the codec
/// carries any field value unchanged.
pub const DATETIME_FIELDS_MAX: DateTime = DateTime {
    year: u16::MAX,
    month: u8::MAX,
    day: u8::MAX,
    hour: u8::MAX,
    minute: u8::MAX,
    second: u8::MAX,
    micros: u32::MAX,
};

/// `2038-01-19 03:14:07` UTC, `2^31 - 1` seconds: the largest TIMESTAMP.
pub const TIMESTAMP_MAX_SECS: i64 = 2_147_483_647;

/// `-838:59:59`: the lowest TIME in whole seconds (MariaDB's range ends at
/// ±838:59:59.999999); hours past 255 and the sign.
pub const TIME_MIN_WHOLE: Time = Time {
    negative: true,
    hours: 838,
    minutes: 59,
    seconds: 59,
    micros: 0,
};

/// `-00:00:01.500000`: negative with zero hours and minutes, so the sign is
/// carried by itself (no field holds it), with a fraction.
pub const TIME_NEG_SUBSECOND: Time = Time {
    negative: true,
    hours: 0,
    minutes: 0,
    seconds: 1,
    micros: 500_000,
};

/// `00:00:00.000001`: the smallest positive TIME.
pub const TIME_ONE_MICRO: Time = Time {
    negative: false,
    hours: 0,
    minutes: 0,
    seconds: 0,
    micros: 1,
};

/// The length of a long string or blob: past 65,535 bytes, so its length
/// needs more than two bytes (and it is more than 64 KiB of data).
pub const LONG_BYTES_LEN: usize = 70_000;

/// Every [`Value`] variant with its edge values (what each exercises in the
/// comments), in variant order. NaN payloads defeat `PartialEq`: compare
/// floats by their bits.
pub fn edge_values() -> Vec<Value> {
    vec![
        Value::Null,
        // Integers: zero, -1 (all bits set), both ends (zigzag of i64::MIN is
        // u64::MAX), the unsigned ends.
        Value::Int(0),
        Value::Int(-1),
        Value::Int(i64::MIN),
        Value::Int(i64::MAX),
        Value::UInt(u64::MAX),
        Value::UInt(0),
        // Floats, bit-exact: negative zero, NaN payloads, infinities, a
        // subnormal, the largest finite double.
        Value::Float(-0.0),
        Value::Float(f32::from_bits(0x7fc0_1234)), // NaN with payload
        Value::Float(f32::from_bits(0xff80_0001)), // signalling NaN, negative
        Value::Float(f32::INFINITY),
        Value::Float(f32::MIN_POSITIVE / 2.0), // subnormal
        Value::Double(-0.0),
        Value::Double(f64::from_bits(0x7ff8_dead_beef_0001)),
        Value::Double(f64::from_bits(0xfff0_0000_0000_0001)),
        Value::Double(f64::NEG_INFINITY),
        Value::Double(f64::MAX),
        // Decimals as text: trailing zeros kept, the widest DECIMAL(65,30),
        // the empty string.
        Value::Decimal("-12.3400".into()),
        Value::Decimal("99999999999999999999999999999999999.999999999999999999999999999999".into()),
        Value::Decimal(String::new()),
        Value::Date(ZERO_DATE),
        Value::Date(MAX_DATE),
        Value::DateTime(ZERO_DATETIME),
        Value::DateTime(LEAP_DAY_LAST_MICRO),
        Value::DateTime(DATETIME_FIELDS_MAX),
        // TIMESTAMP: the zero date (0), the last one, and fields no server
        // sends (the codec carries them).
        Value::Timestamp { secs: 0, micros: 0 },
        Value::Timestamp {
            secs: TIMESTAMP_MAX_SECS,
            micros: 999_999,
        },
        Value::Timestamp {
            secs: i64::MIN,
            micros: u32::MAX,
        },
        Value::Time(TIME_MIN_WHOLE),
        Value::Time(TIME_NEG_SUBSECOND),
        Value::Time(TIME_ONE_MICRO),
        // YEAR: the zero year and the range 1901..=2155.
        Value::Year(0),
        Value::Year(1901),
        Value::Year(2155),
        // BIT(64) all ones and one bit; ENUM's empty error value (0) and
        // the largest index; SET all members and none.
        Value::Bit(u64::MAX),
        Value::Bit(1),
        Value::Enum(0),
        Value::Enum(u16::MAX),
        Value::Set(u64::MAX),
        Value::Set(0),
        // Bytes: empty, not UTF-8 (fine for bytes), long.
        Value::Bytes(vec![]),
        Value::Bytes(vec![0, 0xff, 0x80, 0xc3]),
        Value::Bytes(vec![b'x'; LONG_BYTES_LEN]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of `v`'s variant; the exhaustive match stops the build
    /// when a variant is added, until it is given edge values here.
    fn variant(v: &Value) -> usize {
        match v {
            Value::Null => 0,
            Value::Int(_) => 1,
            Value::UInt(_) => 2,
            Value::Float(_) => 3,
            Value::Double(_) => 4,
            Value::Decimal(_) => 5,
            Value::Date(_) => 6,
            Value::DateTime(_) => 7,
            Value::Timestamp { .. } => 8,
            Value::Time(_) => 9,
            Value::Year(_) => 10,
            Value::Bit(_) => 11,
            Value::Enum(_) => 12,
            Value::Set(_) => 13,
            Value::Bytes(_) => 14,
        }
    }

    #[test]
    fn every_variant_is_present_in_variant_order() {
        let seen: Vec<usize> = edge_values().iter().map(variant).collect();
        let mut distinct = seen.clone();
        distinct.dedup();
        assert_eq!(distinct, (0..15).collect::<Vec<_>>());
    }
}

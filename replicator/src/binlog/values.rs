//! Column value decoding: one binlog-encoded value at a cursor, by a
//! precomputed [`Kind`], into an exact [`thl::event::Value`].
//!
//! Encodings (little-endian unless marked BE):
//!
//! | kind        | bytes                   | encoding                                              |
//! |-------------|-------------------------|-------------------------------------------------------|
//! | Int(n)      | 1,2,3,4,8               | two's complement; INT24 sign-extended from 24 bits     |
//! | Float/Double| 4 / 8                   | IEEE 754, kept bit-exact                              |
//! | Decimal     | see [`decimal_bin_size`]| BE groups of 9 digits, sign in the top bit (xor 0x80), negatives inverted |
//! | Year        | 1                       | 0 = 0000, else 1900 + y                               |
//! | Date        | 3                       | day:5 month:4 year:15                                 |
//! | Time (old)  | 3                       | signed HHMMSS as an integer                           |
//! | Time2(fsp)  | 3 BE + (fsp+1)/2        | 0x800000-offset packed int part; frac reversed for negatives |
//! | DateTime old| 8                       | YYYYMMDDhhmmss as an integer                          |
//! | DateTime2   | 5 BE + (fsp+1)/2        | 0x8000000000-offset: ym*13 :17 day:5 h:5 m:6 s:6      |
//! | Timestamp   | 4                       | seconds                                               |
//! | Timestamp2  | 4 BE + (fsp+1)/2        | seconds, fraction                                     |
//! | Bit(n)      | n BE                    | value                                                 |
//! | Enum(1,2)   | 1 or 2                  | 1-based index                                         |
//! | Set(1..8)   | 1..8                    | bit mask                                              |
//! | strings     | 1 or 2 byte length      | bytes (BINARY padded back with 0x00 to its length)    |
//! | blobs, GEOMETRY, VECTOR, JSON | 1..4 byte length | bytes (MySQL JSON: binary JSON, turned into text) |

use std::fmt::Write as _;

use thl::event::{Date, DateTime, Time, Value};

use super::cursor::{be_uint, Cursor};
use super::error::{malformed, ErrorKind, KResult};
use super::json::jsonb_to_text;

/// How to decode one column (precomputed once per TABLE_MAP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integer of 1, 2, 3, 4 or 8 bytes.
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Year,
    Date,
    TimeOld,
    Time2 {
        fsp: u8,
    },
    DateTimeOld,
    DateTime2 {
        fsp: u8,
    },
    TimestampOld,
    Timestamp2 {
        fsp: u8,
    },
    Bit {
        bytes: u8,
    },
    Enum {
        bytes: u8,
    },
    Set {
        bytes: u8,
    },
    /// VARCHAR / VAR_STRING / CHAR / BINARY: `len_bytes` (1 or 2) length
    /// prefix; `pad_to` > 0 right-pads with 0x00 (BINARY(n)).
    Str {
        len_bytes: u8,
        pad_to: u16,
    },
    /// BLOB/TEXT family, GEOMETRY, VECTOR, MariaDB JSON: `len_bytes` 1..=4.
    Blob {
        len_bytes: u8,
    },
    /// MySQL binary JSON.
    Json {
        len_bytes: u8,
    },
    /// A type this decoder cannot represent; decoding a non-NULL value fails.
    Unsupported {
        type_code: u8,
    },
}

#[inline]
fn short(what: &'static str, need: usize, have: usize) -> ErrorKind {
    ErrorKind::Short { what, need, have }
}

/// Number of bytes of a DECIMAL(precision, scale) in binary form.
pub fn decimal_bin_size(precision: u8, scale: u8) -> usize {
    const D: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    let p = usize::from(precision);
    let s = usize::from(scale).min(p);
    let intg = p - s;
    (intg / 9) * 4 + D[intg % 9] + (s / 9) * 4 + D[s % 9]
}

/// Decodes a binary DECIMAL to its exact text (`-12.3400`, always `scale`
/// fraction digits). Returns the text and the bytes used.
pub fn decimal_to_string(b: &[u8], precision: u8, scale: u8) -> KResult<(String, usize)> {
    const D: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
    if precision == 0 || precision > 65 || scale > 38 || scale > precision {
        return Err(malformed(format!("DECIMAL({precision},{scale})")));
    }
    let size = decimal_bin_size(precision, scale);
    if b.len() < size {
        return Err(short("decimal", size, b.len()));
    }
    let b = &b[..size];
    let negative = b[0] & 0x80 == 0;
    let mask: u8 = if negative { 0xff } else { 0 };
    let byte = |i: usize| -> u8 {
        let x = b[i] ^ mask;
        if i == 0 {
            x ^ 0x80
        } else {
            x
        }
    };
    let read = |off: usize, n: usize| -> u32 {
        let mut v = 0u32;
        for i in off..off + n {
            v = (v << 8) | u32::from(byte(i));
        }
        v
    };
    let p = usize::from(precision);
    let s = usize::from(scale);
    let intg = p - s;
    let (intg0, intg0x, frac0, frac0x) = (intg / 9, intg % 9, s / 9, s % 9);
    let mut out = String::with_capacity(p + 3);
    if negative {
        out.push('-');
    }
    let mut off = 0;
    let mut started = false;
    let check = |v: u32, digits: usize| -> KResult<()> {
        if u64::from(v) >= 10u64.pow(digits as u32) {
            Err(malformed("DECIMAL digit group out of range"))
        } else {
            Ok(())
        }
    };
    if intg0x > 0 {
        let n = D[intg0x];
        let v = read(off, n);
        check(v, intg0x)?;
        off += n;
        if v != 0 {
            let _ = write!(out, "{v}");
            started = true;
        }
    }
    for _ in 0..intg0 {
        let v = read(off, 4);
        check(v, 9)?;
        off += 4;
        if started {
            let _ = write!(out, "{v:09}");
        } else if v != 0 {
            let _ = write!(out, "{v}");
            started = true;
        }
    }
    if !started {
        out.push('0');
    }
    if s > 0 {
        out.push('.');
        for _ in 0..frac0 {
            let v = read(off, 4);
            check(v, 9)?;
            off += 4;
            let _ = write!(out, "{v:09}");
        }
        if frac0x > 0 {
            let n = D[frac0x];
            let v = read(off, n);
            check(v, frac0x)?;
            off += n;
            let _ = write!(out, "{v:0width$}", width = frac0x);
        }
    }
    Ok((out, off))
}

/// Reads the fractional part of a TIMESTAMP2/DATETIME2 (signed BE) in µs.
#[inline]
fn frac_signed(c: &mut Cursor<'_>, fsp: u8) -> KResult<i64> {
    Ok(match fsp {
        0 => 0,
        1 | 2 => i64::from(c.u8("fraction")? as i8) * 10_000,
        3 | 4 => {
            let b = c.take(2, "fraction")?;
            i64::from(i16::from_be_bytes([b[0], b[1]])) * 100
        }
        _ => {
            let v = c.uint_be_n(3, "fraction")? as i64;
            (v << 40) >> 40
        }
    })
}

/// Decodes a TIME2 value to MySQL's packed form (int part << 24 | µs),
/// exactly as `my_time_packed_from_binary`.
pub fn time2_packed(c: &mut Cursor<'_>, fsp: u8) -> KResult<i64> {
    const TIMEF_INT_OFS: i64 = 0x80_0000;
    const TIMEF_OFS: i64 = 0x8000_0000_0000;
    Ok(match fsp {
        0 => {
            let intpart = c.uint_be_n(3, "time2")? as i64 - TIMEF_INT_OFS;
            intpart * (1 << 24)
        }
        1 | 2 => {
            let mut intpart = c.uint_be_n(3, "time2")? as i64 - TIMEF_INT_OFS;
            let mut frac = i64::from(c.u8("time2 fraction")?);
            if intpart < 0 && frac != 0 {
                intpart += 1;
                frac -= 0x100;
            }
            intpart * (1 << 24) + frac * 10_000
        }
        3 | 4 => {
            let mut intpart = c.uint_be_n(3, "time2")? as i64 - TIMEF_INT_OFS;
            let mut frac = c.uint_be_n(2, "time2 fraction")? as i64;
            if intpart < 0 && frac != 0 {
                intpart += 1;
                frac -= 0x10000;
            }
            intpart * (1 << 24) + frac * 100
        }
        _ => c.uint_be_n(6, "time2")? as i64 - TIMEF_OFS,
    })
}

/// A packed TIME (int part << 24 | µs, negative for negative times) to a Time.
pub fn time_from_packed(packed: i64) -> Time {
    let negative = packed < 0;
    let a = packed.unsigned_abs();
    let hms = a >> 24;
    let micros = (a % (1 << 24)) as u32;
    Time {
        negative,
        hours: ((hms >> 12) % (1 << 10)) as u16,
        minutes: ((hms >> 6) % (1 << 6)) as u8,
        seconds: (hms % (1 << 6)) as u8,
        micros,
    }
}

/// A packed DATETIME (`TIME_from_longlong_datetime_packed`).
pub fn datetime_from_packed(packed: i64) -> DateTime {
    let a = packed.unsigned_abs();
    let ymdhms = a >> 24;
    let micros = (a % (1 << 24)) as u32;
    let ymd = ymdhms >> 17;
    let ym = ymd >> 5;
    let hms = ymdhms % (1 << 17);
    DateTime {
        year: (ym / 13).min(u64::from(u16::MAX)) as u16,
        month: (ym % 13) as u8,
        day: (ymd % (1 << 5)) as u8,
        hour: (hms >> 12) as u8,
        minute: ((hms >> 6) % (1 << 6)) as u8,
        second: (hms % (1 << 6)) as u8,
        micros,
    }
}

#[inline]
fn len_prefixed<'a>(c: &mut Cursor<'a>, len_bytes: u8, what: &'static str) -> KResult<&'a [u8]> {
    let n = c.uint_n(usize::from(len_bytes), what)? as usize;
    if n > c.remaining() {
        return Err(short(what, n, c.remaining()));
    }
    Ok(c.take(n, what)?)
}

/// Decodes one non-NULL value.
#[inline]
pub fn decode_value(kind: Kind, c: &mut Cursor<'_>) -> KResult<Value> {
    Ok(match kind {
        Kind::Int { bytes, unsigned } => {
            let n = usize::from(bytes);
            let v = c.uint_n(n, "integer")?;
            if unsigned {
                Value::UInt(v)
            } else {
                let shift = 64 - 8 * n as u32;
                Value::Int(((v << shift) as i64) >> shift)
            }
        }
        Kind::Float => Value::Float(f32::from_bits(c.u32("float")?)),
        Kind::Double => Value::Double(f64::from_bits(c.u64("double")?)),
        Kind::Decimal { precision, scale } => {
            let (s, used) = decimal_to_string(c.rest(), precision, scale)?;
            c.skip(used, "decimal")?;
            Value::Decimal(s)
        }
        Kind::Year => {
            let y = c.u8("year")?;
            Value::Year(if y == 0 { 0 } else { 1900 + u16::from(y) })
        }
        Kind::Date => {
            let v = c.uint_n(3, "date")?;
            Value::Date(Date {
                year: (v >> 9) as u16,
                month: ((v >> 5) & 15) as u8,
                day: (v & 31) as u8,
            })
        }
        Kind::TimeOld => {
            let v = c.uint_n(3, "time")? as i64;
            let v = (v << 40) >> 40;
            let a = v.unsigned_abs();
            Value::Time(Time {
                negative: v < 0,
                hours: (a / 10000).min(u64::from(u16::MAX)) as u16,
                minutes: ((a / 100) % 100) as u8,
                seconds: (a % 100) as u8,
                micros: 0,
            })
        }
        Kind::Time2 { fsp } => Value::Time(time_from_packed(time2_packed(c, fsp)?)),
        Kind::DateTimeOld => {
            let v = c.u64("datetime")?;
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            Value::DateTime(DateTime {
                year: (d / 10000).min(u64::from(u16::MAX)) as u16,
                month: ((d / 100) % 100) as u8,
                day: (d % 100) as u8,
                hour: (t / 10000) as u8,
                minute: ((t / 100) % 100) as u8,
                second: (t % 100) as u8,
                micros: 0,
            })
        }
        Kind::DateTime2 { fsp } => {
            let intpart = c.uint_be_n(5, "datetime2")? as i64 - 0x80_0000_0000;
            let frac = frac_signed(c, fsp)?;
            Value::DateTime(datetime_from_packed(intpart * (1 << 24) + frac))
        }
        Kind::TimestampOld => Value::Timestamp {
            secs: i64::from(c.u32("timestamp")?),
            micros: 0,
        },
        Kind::Timestamp2 { fsp } => {
            let secs = c.uint_be_n(4, "timestamp2")? as i64;
            let frac = frac_signed(c, fsp)?;
            Value::Timestamp {
                secs,
                micros: frac.clamp(0, 999_999) as u32,
            }
        }
        Kind::Bit { bytes } => Value::Bit(be_uint(c.take(usize::from(bytes), "bit")?)),
        Kind::Enum { bytes } => Value::Enum(c.uint_n(usize::from(bytes), "enum")? as u16),
        Kind::Set { bytes } => Value::Set(c.uint_n(usize::from(bytes), "set")?),
        Kind::Str { len_bytes, pad_to } => {
            let b = len_prefixed(c, len_bytes, "string")?;
            let pad = usize::from(pad_to);
            if b.len() < pad {
                let mut v = Vec::with_capacity(pad);
                v.extend_from_slice(b);
                v.resize(pad, 0);
                Value::Bytes(v)
            } else {
                Value::Bytes(b.to_vec())
            }
        }
        Kind::Blob { len_bytes } => Value::Bytes(len_prefixed(c, len_bytes, "blob")?.to_vec()),
        Kind::Json { len_bytes } => {
            let b = len_prefixed(c, len_bytes, "json")?;
            Value::Bytes(jsonb_to_text(b)?.into_bytes())
        }
        Kind::Unsupported { type_code } => {
            return Err(ErrorKind::Unsupported(format!("column type {type_code}")));
        }
    })
}

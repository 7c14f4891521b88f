//! Values as text: for people ([`display_value`]) and as exact SQL literals
//! ([`sql_literal`]), plus the date/time helpers the layouts share.

use crate::event::{ColumnSpec, Date, DateTime, Time, Value};

use super::session::charset_of_collation;

/// `MYSQL_TYPE_*` codes this module distinguishes.
mod types {
    pub const BIT: u8 = 16;
    pub const TIMESTAMP2: u8 = 17;
    pub const DATETIME2: u8 = 18;
    pub const TIME2: u8 = 19;
    pub const JSON: u8 = 245;
    pub const TINY_BLOB: u8 = 249;
    pub const MEDIUM_BLOB: u8 = 250;
    pub const LONG_BLOB: u8 = 251;
    pub const BLOB: u8 = 252;
    pub const GEOMETRY: u8 = 255;
}

/// Collation id of the `binary` character set.
pub const BINARY_COLLATION: u16 = 63;

/// How the bytes of a `Value::Bytes` are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrKind {
    /// Characters in the column's (known) character set.
    Text,
    /// Raw bytes (BINARY, VARBINARY, BLOB, GEOMETRY).
    Binary,
    /// JSON text (MySQL's JSON type, converted to text by the extractor).
    Json,
    /// Not known (no charset metadata): guessed from the bytes for display,
    /// hex in SQL unless plain ASCII.
    Unknown,
}

pub(crate) fn str_kind(col: &ColumnSpec) -> StrKind {
    match col.type_code {
        types::JSON => return StrKind::Json,
        types::GEOMETRY => return StrKind::Binary,
        _ => {}
    }
    match col.collation {
        Some(BINARY_COLLATION) => StrKind::Binary,
        Some(_) => StrKind::Text,
        None => {
            let d = col.type_desc.to_ascii_lowercase();
            if d.contains("binary") || d.contains("blob") {
                StrKind::Binary
            } else if d.contains("char") || d.contains("text") {
                StrKind::Text
            } else if matches!(
                col.type_code,
                types::TINY_BLOB | types::MEDIUM_BLOB | types::LONG_BLOB | types::BLOB
            ) {
                StrKind::Binary
            } else {
                StrKind::Unknown
            }
        }
    }
}

/// Fractional-second digits of a temporal column (0 for the old types).
pub fn fsp(col: &ColumnSpec) -> u8 {
    match col.type_code {
        types::TIMESTAMP2 | types::DATETIME2 | types::TIME2 => col.type_meta.min(6) as u8,
        _ => 0,
    }
}

/// `.ffffff` with `fsp` digits; all 6 digits when the value has more
/// precision than `fsp` says (nothing is ever rounded away); empty when
/// there is no fraction to show.
pub fn fraction(micros: u32, fsp: u8) -> String {
    let fsp = u32::from(fsp.min(6));
    let unit = 10u32.pow(6 - fsp);
    if fsp == 0 && micros == 0 {
        String::new()
    } else if fsp > 0 && micros % unit == 0 {
        format!(".{:0w$}", micros / unit, w = fsp as usize)
    } else {
        format!(".{micros:06}")
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of seconds since the Unix epoch.
pub fn utc_datetime(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// An event time (ms since the Unix epoch) as Tungsten prints it (Java's
/// `Timestamp.toString()`), in UTC: `2026-11-26 10:11:12.0`,
/// `2026-11-26 10:11:12.345`, `2026-11-26 10:11:12.5`.
pub fn format_time_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let mut frac = format!("{milli:03}");
    while frac.len() > 1 && frac.ends_with('0') {
        frac.pop();
    }
    format!("{}.{frac}", utc_datetime(secs))
}

fn date_text(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn datetime_text(d: &DateTime, fsp: u8) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}",
        d.year,
        d.month,
        d.day,
        d.hour,
        d.minute,
        d.second,
        fraction(d.micros, fsp)
    )
}

/// TIMESTAMP as a UTC datetime; `(0, 0)` is the zero date.
fn timestamp_text(secs: i64, micros: u32, fsp: u8) -> String {
    if secs == 0 && micros == 0 {
        return format!("0000-00-00 00:00:00{}", fraction(0, fsp));
    }
    format!("{}{}", utc_datetime(secs), fraction(micros, fsp))
}

fn time_text(t: &Time, fsp: u8) -> String {
    format!(
        "{}{:02}:{:02}:{:02}{}",
        if t.negative { "-" } else { "" },
        t.hours,
        t.minutes,
        t.seconds,
        fraction(t.micros, fsp)
    )
}

/// Number of bits of a BIT column (`type_meta` = bits % 8 + bytes << 8).
fn bit_width(col: &ColumnSpec) -> u32 {
    if col.type_code != types::BIT {
        return 0;
    }
    (u32::from(col.type_meta >> 8) * 8 + u32::from(col.type_meta & 0xff)).min(64)
}

/// Members of `enum('a','b')` / `set('a','b')` from the type description.
pub(crate) fn members(desc: &str) -> Option<Vec<String>> {
    let lower = desc.get(..4).map(str::to_ascii_lowercase)?;
    let rest = match lower.as_str() {
        "enum" => desc.get(4..)?,
        "set(" => desc.get(3..)?,
        _ => return None,
    };
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        if chars.next()? != '\'' {
            return None;
        }
        let mut m = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    m.push('\'');
                }
                '\'' => break,
                c => m.push(c),
            }
        }
        out.push(m);
        match chars.next() {
            None => return Some(out),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 3);
    s.push_str("x'");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('\'');
    s
}

/// Text for people: lossy UTF-8, control characters escaped so a value
/// stays on its line.
fn readable_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\0' => s.push_str("\\0"),
            c if c.is_control() => s.push_str(&format!("\\x{:02x}", c as u32)),
            c => s.push(c),
        }
    }
    s
}

fn looks_like_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|s| !s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')))
}

/// A value as `thl list` prints it.
///
/// * integers, DECIMAL (exact text), FLOAT/DOUBLE (shortest text that
///   reads back to the same bits, e.g. `0.1`, `1e20`);
/// * DATE `2024-02-29`, DATETIME/TIMESTAMP `2024-02-29 10:11:12.120` with
///   the column's fractional digits (TIMESTAMP in UTC), TIME `-838:59:59`,
///   zero dates as `0000-00-00`;
/// * YEAR `2024` (`0000` for 0), BIT `b'0101'` (padded to the column
///   width), ENUM/SET by member name(s) when the column's `type_desc`
///   lists them, else by number;
/// * text columns as text (lossy UTF-8, control characters escaped as
///   `\n`, `\x1b`), binary columns as `x'0a1b'`; `NULL`.
pub fn display_value(v: &Value, col: &ColumnSpec) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => format!("{f:?}"),
        Value::Double(d) => format!("{d:?}"),
        Value::Decimal(s) => s.clone(),
        Value::Date(d) => date_text(d),
        Value::DateTime(d) => datetime_text(d, fsp(col)),
        Value::Timestamp { secs, micros } => timestamp_text(*secs, *micros, fsp(col)),
        Value::Time(t) => time_text(t, fsp(col)),
        Value::Year(y) => format!("{y:04}"),
        Value::Bit(b) => {
            let need = 64 - b.leading_zeros();
            let width = bit_width(col).max(need).max(1) as usize;
            format!("b'{b:0width$b}'")
        }
        Value::Enum(i) => match members(&col.type_desc) {
            Some(_) if *i == 0 => "''".to_string(),
            Some(m) => match m.get(usize::from(*i) - 1) {
                Some(name) => readable_text(name.as_bytes()),
                None => i.to_string(),
            },
            None => i.to_string(),
        },
        Value::Set(mask) => match members(&col.type_desc) {
            Some(m) if m.len() >= (64 - mask.leading_zeros()) as usize => {
                let names: Vec<&str> = (0..m.len())
                    .filter(|i| *i < 64 && mask & (1u64 << i) != 0)
                    .filter_map(|i| m.get(i).map(String::as_str))
                    .collect();
                readable_text(names.join(",").as_bytes())
            }
            _ => mask.to_string(),
        },
        Value::Bytes(b) => match str_kind(col) {
            StrKind::Text | StrKind::Json => readable_text(b),
            StrKind::Binary => hex(b),
            StrKind::Unknown if looks_like_text(b) => readable_text(b),
            StrKind::Unknown => hex(b),
        },
    }
}

/// The character set of a text column is UTF-8 (`utf8mb3` or `utf8mb4`).
fn is_utf8_column(col: &ColumnSpec) -> bool {
    col.collation
        .and_then(charset_of_collation)
        .is_some_and(|c| c.starts_with("utf8"))
}

/// Bytes safe inside a quoted literal whatever the session's
/// `NO_BACKSLASH_ESCAPES` and client character set: printable ASCII
/// (quotes are doubled), no backslash.
fn plain_ascii(b: &[u8]) -> bool {
    b.iter().all(|c| (0x20..0x7f).contains(c) && *c != b'\\')
}

/// UTF-8 text without control characters or backslashes.
fn plain_utf8(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| !s.chars().any(|c| c.is_control() || c == '\\'))
}

fn quoted(b: &[u8]) -> String {
    format!("'{}'", String::from_utf8_lossy(b).replace('\'', "''"))
}

/// FLOAT as a literal that MySQL reads back to the same value, also when it
/// compares the column as DOUBLE (as `WHERE f = ...` does): the shortest
/// text of the value widened to `f64` (`0.5`, `0.10000000149011612`).
fn float_literal(f: f32) -> String {
    double_literal(f64::from(f))
}

fn double_literal(d: f64) -> String {
    if d.is_finite() {
        format!("{d:?}")
    } else {
        // MySQL cannot store these; keep them visible rather than invent a number.
        format!("'{d:?}'")
    }
}

/// A value as an exact MySQL literal, for the column it belongs to.
///
/// Choices (exactness first, then readability):
///
/// * integers and DECIMAL as numbers (DECIMAL text as stored);
/// * DOUBLE: the shortest text that reads back to the same bits (`0.1`,
///   `1e20`); FLOAT: the same for the value widened to DOUBLE
///   (`0.10000000149011612`) so `WHERE f = <lit>` matches too (MySQL
///   compares FLOAT columns as DOUBLE); NaN/infinity (never stored by
///   MySQL) as quoted text;
/// * DATE/DATETIME/TIME as quoted text with the column's fractional digits;
///   zero dates kept (`'0000-00-00'`);
/// * TIMESTAMP as a quoted **UTC** datetime (`'2024-02-29 10:11:12.5'`):
///   exact in a session with `time_zone = '+00:00'` (the `-sql` output
///   sets it before row changes), unlike `FROM_UNIXTIME`, which is
///   ambiguous in a DST fall-back hour; zero as `'0000-00-00 00:00:00'`;
/// * YEAR, BIT, ENUM (member index), SET (bit mask) as numbers: MySQL
///   stores and compares them exactly by number;
/// * strings: plain printable ASCII (no backslash) as `'...'` with quotes
///   doubled; other UTF-8 text of a `utf8`/`utf8mb4` column as
///   `_utf8mb4'...'`; anything else (binary columns, other character
///   sets, text with control characters or backslashes) as a hex literal
///   `x'...'`, which stores the bytes unchanged. So a literal never
///   depends on `NO_BACKSLASH_ESCAPES` and, except `_utf8mb4'...'`, not on
///   the client character set either;
/// * JSON columns as `CAST(<string> AS JSON)` (`CONVERT(x'..' USING
///   utf8mb4)` when the text needs it);
/// * `NULL`.
pub fn sql_literal(v: &Value, col: &ColumnSpec) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => float_literal(*f),
        Value::Double(d) => double_literal(*d),
        Value::Decimal(s) => s.clone(),
        Value::Date(d) => format!("'{}'", date_text(d)),
        Value::DateTime(d) => format!("'{}'", datetime_text(d, fsp(col))),
        Value::Timestamp { secs, micros } => format!("'{}'", timestamp_text(*secs, *micros, fsp(col))),
        Value::Time(t) => format!("'{}'", time_text(t, fsp(col))),
        Value::Year(y) => y.to_string(),
        Value::Bit(b) => b.to_string(),
        Value::Enum(i) => i.to_string(),
        Value::Set(m) => m.to_string(),
        Value::Bytes(b) => bytes_literal(b, col),
    }
}

fn bytes_literal(b: &[u8], col: &ColumnSpec) -> String {
    match str_kind(col) {
        StrKind::Json => {
            let s = if plain_ascii(b) {
                quoted(b)
            } else if plain_utf8(b) {
                format!("_utf8mb4{}", quoted(b))
            } else {
                format!("CONVERT({} USING utf8mb4)", hex(b))
            };
            format!("CAST({s} AS JSON)")
        }
        StrKind::Binary => hex(b),
        StrKind::Text | StrKind::Unknown if plain_ascii(b) => quoted(b),
        StrKind::Text if is_utf8_column(col) && plain_utf8(b) => format!("_utf8mb4{}", quoted(b)),
        StrKind::Text | StrKind::Unknown => hex(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(type_code: u8, type_meta: u16, collation: Option<u16>, desc: &str) -> ColumnSpec {
        ColumnSpec {
            index: 0,
            name: "c".into(),
            type_code,
            type_meta,
            unsigned: false,
            nullable: true,
            key: false,
            collation,
            type_desc: desc.into(),
        }
    }

    fn both(v: Value, c: &ColumnSpec) -> (String, String) {
        (display_value(&v, c), sql_literal(&v, c))
    }

    #[test]
    fn integers() {
        let c = col(8, 0, None, "bigint");
        assert_eq!(
            both(Value::Int(i64::MIN), &c),
            ("-9223372036854775808".into(), "-9223372036854775808".into())
        );
        assert_eq!(
            both(Value::UInt(u64::MAX), &c),
            ("18446744073709551615".into(), "18446744073709551615".into())
        );
        let c = col(1, 0, None, "tinyint");
        assert_eq!(both(Value::Int(-1), &c), ("-1".into(), "-1".into()));
        assert_eq!(both(Value::Null, &c), ("NULL".into(), "NULL".into()));
    }

    #[test]
    fn floats_round_trip() {
        let c = col(5, 8, None, "double");
        assert_eq!(both(Value::Double(0.1), &c), ("0.1".into(), "0.1".into()));
        assert_eq!(both(Value::Double(1e20), &c), ("1e20".into(), "1e20".into()));
        assert_eq!(both(Value::Double(-0.0), &c), ("-0.0".into(), "-0.0".into()));
        for d in [0.1, 1.0 / 3.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, 123456789.0123] {
            let lit = sql_literal(&Value::Double(d), &c);
            assert_eq!(lit.parse::<f64>().ok().map(f64::to_bits), Some(d.to_bits()), "{lit}");
        }
        assert_eq!(sql_literal(&Value::Double(f64::NAN), &c), "'NaN'");
        let c = col(4, 4, None, "float");
        assert_eq!(display_value(&Value::Float(0.1), &c), "0.1");
        assert_eq!(sql_literal(&Value::Float(0.1), &c), "0.10000000149011612");
        assert_eq!(sql_literal(&Value::Float(1.5), &c), "1.5");
        for f in [0.1f32, 3.4028235e38, 1e-45, -2.5] {
            let lit = sql_literal(&Value::Float(f), &c);
            let back = lit.parse::<f64>().map(|d| d as f32).ok().map(f32::to_bits);
            assert_eq!(back, Some(f.to_bits()), "{lit}");
        }
    }

    #[test]
    fn decimal_is_exact_text() {
        let c = col(246, (12 << 8) | 4, None, "decimal(12,4)");
        assert_eq!(
            both(Value::Decimal("-12345678.1200".into()), &c),
            ("-12345678.1200".into(), "-12345678.1200".into())
        );
    }

    #[test]
    fn dates_and_datetimes() {
        let c = col(10, 0, None, "date");
        let d = Date {
            year: 2024,
            month: 2,
            day: 29,
        };
        assert_eq!(both(Value::Date(d), &c), ("2024-02-29".into(), "'2024-02-29'".into()));
        let zero = Date {
            year: 0,
            month: 0,
            day: 0,
        };
        assert_eq!(
            both(Value::Date(zero), &c),
            ("0000-00-00".into(), "'0000-00-00'".into())
        );

        let dt = DateTime {
            year: 2026,
            month: 11,
            day: 26,
            hour: 10,
            minute: 11,
            second: 12,
            micros: 120_000,
        };
        let c3 = col(18, 3, None, "datetime(3)");
        assert_eq!(
            both(Value::DateTime(dt), &c3),
            ("2026-11-26 10:11:12.120".into(), "'2026-11-26 10:11:12.120'".into())
        );
        let c6 = col(18, 6, None, "datetime(6)");
        assert_eq!(display_value(&Value::DateTime(dt), &c6), "2026-11-26 10:11:12.120000");
        let c0 = col(18, 0, None, "datetime");
        let whole = DateTime { micros: 0, ..dt };
        assert_eq!(display_value(&Value::DateTime(whole), &c0), "2026-11-26 10:11:12");
        // More precision than the column claims: never rounded away.
        assert_eq!(display_value(&Value::DateTime(dt), &c0), "2026-11-26 10:11:12.120000");
        let old = col(12, 0, None, "datetime");
        let zdt = DateTime {
            year: 0,
            month: 0,
            day: 0,
            hour: 0,
            minute: 0,
            second: 0,
            micros: 0,
        };
        assert_eq!(
            both(Value::DateTime(zdt), &old),
            ("0000-00-00 00:00:00".into(), "'0000-00-00 00:00:00'".into())
        );
    }

    #[test]
    fn timestamps_are_utc() {
        let c = col(17, 2, None, "timestamp(2)");
        let v = Value::Timestamp {
            secs: 1_700_000_000,
            micros: 500_000,
        };
        assert_eq!(
            both(v, &c),
            ("2023-11-14 22:13:20.50".into(), "'2023-11-14 22:13:20.50'".into())
        );
        let z = Value::Timestamp { secs: 0, micros: 0 };
        assert_eq!(display_value(&z, &c), "0000-00-00 00:00:00.00");
        let old = col(7, 0, None, "timestamp");
        assert_eq!(
            display_value(&Value::Timestamp { secs: 1, micros: 0 }, &old),
            "1970-01-01 00:00:01"
        );
        assert_eq!(
            sql_literal(&Value::Timestamp { secs: 0, micros: 0 }, &old),
            "'0000-00-00 00:00:00'"
        );
    }

    #[test]
    fn times_including_negative() {
        let c = col(19, 6, None, "time(6)");
        let t = Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 0,
        };
        assert_eq!(
            both(Value::Time(t), &c),
            ("-838:59:59.000000".into(), "'-838:59:59.000000'".into())
        );
        let c0 = col(11, 0, None, "time");
        let t = Time {
            negative: false,
            hours: 1,
            minutes: 2,
            seconds: 3,
            micros: 0,
        };
        assert_eq!(display_value(&Value::Time(t), &c0), "01:02:03");
        let t = Time {
            negative: true,
            hours: 0,
            minutes: 0,
            seconds: 0,
            micros: 1,
        };
        assert_eq!(
            display_value(&Value::Time(t), &col(19, 1, None, "time(1)")),
            "-00:00:00.000001"
        );
    }

    #[test]
    fn year_bit_enum_set() {
        let y = col(13, 0, None, "year");
        assert_eq!(both(Value::Year(2024), &y), ("2024".into(), "2024".into()));
        assert_eq!(both(Value::Year(0), &y), ("0000".into(), "0".into()));
        let b = col(16, (1 << 8) | 2, None, "bit(10)");
        assert_eq!(both(Value::Bit(5), &b), ("b'0000000101'".into(), "5".into()));
        assert_eq!(display_value(&Value::Bit(u64::MAX), &b).len(), 67);
        let e = col(247, (247 << 8) | 1, Some(45), "enum('a','it''s')");
        assert_eq!(both(Value::Enum(2), &e), ("it's".into(), "2".into()));
        assert_eq!(display_value(&Value::Enum(0), &e), "''");
        assert_eq!(display_value(&Value::Enum(9), &e), "9");
        assert_eq!(display_value(&Value::Enum(3), &col(247, 0, None, "enum")), "3");
        let s = col(248, (248 << 8) | 1, Some(45), "set('x','y','z')");
        assert_eq!(both(Value::Set(0b101), &s), ("x,z".into(), "5".into()));
        assert_eq!(display_value(&Value::Set(0b1000), &s), "8");
        assert_eq!(display_value(&Value::Set(0), &s), "");
        assert_eq!(members("set('a,b','')"), Some(vec!["a,b".to_string(), String::new()]));
        assert_eq!(members("enum(bad)"), None);
    }

    #[test]
    fn strings_text_and_binary() {
        let utf8 = col(15, 128, Some(45), "varchar(32)");
        assert_eq!(
            both(Value::Bytes(b"abc".to_vec()), &utf8),
            ("abc".into(), "'abc'".into())
        );
        assert_eq!(
            both(Value::Bytes(b"it's".to_vec()), &utf8),
            ("it's".into(), "'it''s'".into())
        );
        assert_eq!(
            both(Value::Bytes("caf\u{e9}".as_bytes().to_vec()), &utf8),
            ("caf\u{e9}".into(), "_utf8mb4'caf\u{e9}'".into())
        );
        assert_eq!(
            both(Value::Bytes(b"a\\b".to_vec()), &utf8),
            ("a\\b".into(), "x'615c62'".into())
        );
        assert_eq!(
            both(Value::Bytes(b"a\nb".to_vec()), &utf8),
            ("a\\nb".into(), "x'610a62'".into())
        );
        assert_eq!(both(Value::Bytes(Vec::new()), &utf8), (String::new(), "''".into()));
        let latin1 = col(254, (254 << 8) | 10, Some(8), "char(10)");
        assert_eq!(
            both(Value::Bytes(vec![0x63, 0xe9]), &latin1),
            ("c\u{fffd}".into(), "x'63e9'".into())
        );
        let bin = col(15, 16, Some(63), "varbinary(16)");
        assert_eq!(
            both(Value::Bytes(vec![0, 0xff, 0x41]), &bin),
            ("x'00ff41'".into(), "x'00ff41'".into())
        );
        assert_eq!(both(Value::Bytes(Vec::new()), &bin), ("x''".into(), "x''".into()));
        let blob = col(252, 2, None, "blob");
        assert_eq!(display_value(&Value::Bytes(b"ab".to_vec()), &blob), "x'6162'");
        let text = col(252, 2, Some(33), "text");
        assert_eq!(display_value(&Value::Bytes(b"ab".to_vec()), &text), "ab");
        let unknown = col(15, 32, None, "");
        assert_eq!(
            both(Value::Bytes(b"ok".to_vec()), &unknown),
            ("ok".into(), "'ok'".into())
        );
        assert_eq!(
            both(Value::Bytes(vec![0xc3, 0x28]), &unknown),
            ("x'c328'".into(), "x'c328'".into())
        );
        let geo = col(255, 4, Some(63), "geometry");
        assert_eq!(display_value(&Value::Bytes(vec![0, 0, 0, 0, 1]), &geo), "x'0000000001'");
    }

    #[test]
    fn json_columns() {
        let j = col(245, 4, None, "json");
        assert_eq!(
            both(Value::Bytes(br#"{"a": [1, "x"]}"#.to_vec()), &j),
            (r#"{"a": [1, "x"]}"#.into(), r#"CAST('{"a": [1, "x"]}' AS JSON)"#.into())
        );
        assert_eq!(
            sql_literal(&Value::Bytes(br#"["\""]"#.to_vec()), &j),
            "CAST(CONVERT(x'5b225c22225d' USING utf8mb4) AS JSON)"
        );
        assert_eq!(
            sql_literal(&Value::Bytes("[\"\u{e9}\"]".as_bytes().to_vec()), &j),
            "CAST(_utf8mb4'[\"\u{e9}\"]' AS JSON)"
        );
    }

    #[test]
    fn event_times_like_java_timestamps() {
        assert_eq!(format_time_ms(0), "1970-01-01 00:00:00.0");
        assert_eq!(format_time_ms(1_795_687_872_000), "2026-11-26 10:11:12.0");
        assert_eq!(format_time_ms(1_795_687_872_345), "2026-11-26 10:11:12.345");
        assert_eq!(format_time_ms(1_795_687_872_500), "2026-11-26 10:11:12.5");
        assert_eq!(format_time_ms(-1), "1969-12-31 23:59:59.999");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29 00:00:00");
        // Extremes do not panic.
        let _ = format_time_ms(i64::MIN);
        let _ = format_time_ms(i64::MAX);
    }
}

//! Column types and random SQL literals for them.
//!
//! Invariants: every literal is valid for its type under any `sql_mode` the
//! generator sets (quotes doubled, backslashes doubled, NUL as `\0`; no
//! double quotes), fits the column (length in characters, ranges) under the
//! default connection character set, and is drawn from edge values (min,
//! max, zero, empty, trailing spaces, multi-byte characters, 0x00 bytes)
//! often enough to matter. Strings never contain `,` inside ENUM/SET members.

use super::features::{Feature, Features};
use super::rng::Rng;

/// The integer widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKind {
    Tiny,
    Small,
    Medium,
    Int,
    Big,
}

impl IntKind {
    fn sql(self) -> &'static str {
        match self {
            IntKind::Tiny => "TINYINT",
            IntKind::Small => "SMALLINT",
            IntKind::Medium => "MEDIUMINT",
            IntKind::Int => "INT",
            IntKind::Big => "BIGINT",
        }
    }

    fn bits(self) -> u32 {
        match self {
            IntKind::Tiny => 8,
            IntKind::Small => 16,
            IntKind::Medium => 24,
            IntKind::Int => 32,
            IntKind::Big => 64,
        }
    }
}

/// Character sets of string columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8mb4,
    Latin1,
    Binary,
}

impl Charset {
    fn clause(self) -> &'static str {
        match self {
            Charset::Utf8mb4 => " CHARACTER SET utf8mb4",
            Charset::Latin1 => " CHARACTER SET latin1",
            Charset::Binary => " CHARACTER SET binary",
        }
    }
}

/// TEXT/BLOB sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LobSize {
    Tiny,
    Normal,
    Medium,
    Long,
}

impl LobSize {
    fn prefix(self) -> &'static str {
        match self {
            LobSize::Tiny => "TINY",
            LobSize::Normal => "",
            LobSize::Medium => "MEDIUM",
            LobSize::Long => "LONG",
        }
    }

    /// The longest value the generator writes, in bytes.
    fn max_bytes(self) -> usize {
        match self {
            LobSize::Tiny => 255,
            LobSize::Normal => 20_000,
            LobSize::Medium | LobSize::Long => 200_000,
        }
    }
}

/// Geometry column kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoKind {
    Geometry,
    Point,
    LineString,
    Polygon,
}

/// A column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Int { kind: IntKind, unsigned: bool },
    Decimal { p: u8, s: u8, unsigned: bool },
    Float,
    Double,
    Bit(u8),
    Date,
    Time(u8),
    DateTime(u8),
    Timestamp(u8),
    Year,
    Char { len: u16, cs: Charset },
    VarChar { len: u16, cs: Charset },
    Binary(u16),
    VarBinary(u16),
    Text { size: LobSize, cs: Charset },
    Blob(LobSize),
    Enum,
    Set,
    Json,
    Geo(GeoKind),
    Inet6,
    Inet4,
    Uuid,
}

const ENUM_MEMBERS: &[&str] = &["a", "b", "c d", "é", ""];
const SET_MEMBERS: &[&str] = &["x", "y", "z w", "ü"];

impl Ty {
    /// The type as written in CREATE TABLE.
    pub fn sql(&self) -> String {
        match self {
            Ty::Int { kind, unsigned } => format!("{}{}", kind.sql(), if *unsigned { " UNSIGNED" } else { "" }),
            Ty::Decimal { p, s, unsigned } => format!("DECIMAL({p},{s}){}", if *unsigned { " UNSIGNED" } else { "" }),
            Ty::Float => "FLOAT".into(),
            Ty::Double => "DOUBLE".into(),
            Ty::Bit(n) => format!("BIT({n})"),
            Ty::Date => "DATE".into(),
            Ty::Time(f) => format!("TIME({f})"),
            Ty::DateTime(f) => format!("DATETIME({f})"),
            Ty::Timestamp(f) => format!("TIMESTAMP({f})"),
            Ty::Year => "YEAR".into(),
            Ty::Char { len, cs } => format!("CHAR({len}){}", cs.clause()),
            Ty::VarChar { len, cs } => format!("VARCHAR({len}){}", cs.clause()),
            Ty::Binary(n) => format!("BINARY({n})"),
            Ty::VarBinary(n) => format!("VARBINARY({n})"),
            Ty::Text { size, cs } => format!("{}TEXT{}", size.prefix(), cs.clause()),
            Ty::Blob(size) => format!("{}BLOB", size.prefix()),
            Ty::Enum => format!(
                "ENUM({})",
                ENUM_MEMBERS
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Ty::Set => format!(
                "SET({})",
                SET_MEMBERS
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Ty::Json => "JSON".into(),
            Ty::Geo(GeoKind::Geometry) => "GEOMETRY".into(),
            Ty::Geo(GeoKind::Point) => "POINT".into(),
            Ty::Geo(GeoKind::LineString) => "LINESTRING".into(),
            Ty::Geo(GeoKind::Polygon) => "POLYGON".into(),
            Ty::Inet6 => "INET6".into(),
            Ty::Inet4 => "INET4".into(),
            Ty::Uuid => "UUID".into(),
        }
    }

    /// Whether a plain (prefix-less) index may be created on the column.
    pub fn indexable(&self) -> bool {
        !matches!(self, Ty::Text { .. } | Ty::Blob(_) | Ty::Json | Ty::Geo(_))
    }

    /// Whether the column holds an integer that `col = col + 1` may touch.
    pub fn is_int(&self) -> bool {
        matches!(self, Ty::Int { .. })
    }

    /// A random type from the enabled families. `small` keeps the row
    /// narrow (for wide tables: no LOBs, short strings).
    pub fn random(rng: &mut Rng, features: &Features, small: bool) -> Ty {
        loop {
            let ty = match rng.below(24) {
                0..=3 => Ty::Int {
                    kind: *rng.pick(&[
                        IntKind::Tiny,
                        IntKind::Small,
                        IntKind::Medium,
                        IntKind::Int,
                        IntKind::Big,
                    ]),
                    unsigned: rng.chance(40),
                },
                4 | 5 if features.has(Feature::Decimal) => {
                    let p = if rng.chance(25) {
                        65
                    } else {
                        rng.range(1, if small { 12 } else { 40 }) as u8
                    };
                    let s = if rng.chance(30) {
                        0
                    } else {
                        rng.range(0, i64::from(p.min(30))) as u8
                    };
                    Ty::Decimal {
                        p,
                        s,
                        unsigned: rng.chance(15),
                    }
                }
                6 if features.has(Feature::Float) => Ty::Float,
                7 if features.has(Feature::Float) => Ty::Double,
                8 if features.has(Feature::Bit) => Ty::Bit(*rng.pick(&[1, 7, 8, 13, 32, 63, 64])),
                9 | 10 if features.has(Feature::Temporal) => match rng.below(5) {
                    0 => Ty::Date,
                    1 => Ty::Time(rng.range(0, 6) as u8),
                    2 => Ty::DateTime(rng.range(0, 6) as u8),
                    3 => Ty::Timestamp(rng.range(0, 6) as u8),
                    _ => Ty::Year,
                },
                11..=13 if features.has(Feature::Strings) => {
                    let cs = if rng.chance(60) {
                        Charset::Utf8mb4
                    } else {
                        Charset::Latin1
                    };
                    let len = if small { rng.range(1, 12) } else { rng.range(1, 64) } as u16;
                    if rng.chance(30) {
                        Ty::Char { len, cs }
                    } else {
                        Ty::VarChar { len, cs }
                    }
                }
                14 if features.has(Feature::Strings) && !small => Ty::Text {
                    size: *rng.pick(&[LobSize::Tiny, LobSize::Normal, LobSize::Medium, LobSize::Long]),
                    cs: if rng.chance(70) {
                        Charset::Utf8mb4
                    } else {
                        Charset::Latin1
                    },
                },
                15 if features.has(Feature::Strings) => {
                    if rng.chance(50) {
                        Ty::Enum
                    } else {
                        Ty::Set
                    }
                }
                16 | 17 if features.has(Feature::Binary) => {
                    let len = if small { rng.range(1, 8) } else { rng.range(1, 40) } as u16;
                    match rng.below(4) {
                        0 => Ty::Binary(len),
                        1 => Ty::VarBinary(len),
                        2 => Ty::Char {
                            len,
                            cs: Charset::Binary,
                        },
                        _ => Ty::VarChar {
                            len,
                            cs: Charset::Binary,
                        },
                    }
                }
                18 if features.has(Feature::Binary) && !small => {
                    Ty::Blob(*rng.pick(&[LobSize::Tiny, LobSize::Normal, LobSize::Medium, LobSize::Long]))
                }
                19 if features.has(Feature::Json) && !small => Ty::Json,
                20 if features.has(Feature::Spatial) && !small => {
                    Ty::Geo(*rng.pick(&[GeoKind::Geometry, GeoKind::Point, GeoKind::LineString, GeoKind::Polygon]))
                }
                21 | 22 if features.has(Feature::InetUuid) => rng.pick(&[Ty::Inet6, Ty::Inet4, Ty::Uuid]).clone(),
                23 if features.has(Feature::Temporal) => Ty::DateTime(6),
                _ => continue,
            };
            return ty;
        }
    }

    /// A random literal (or constant expression) of this type, never NULL.
    pub fn literal(&self, rng: &mut Rng) -> String {
        match self {
            Ty::Int { kind, unsigned } => int_literal(rng, *kind, *unsigned),
            Ty::Decimal { p, s, unsigned } => decimal_literal(rng, *p, *s, *unsigned),
            Ty::Float => float_literal(rng),
            Ty::Double => double_literal(rng),
            Ty::Bit(n) => bit_literal(rng, *n),
            Ty::Date => format!("'{}'", date(rng, 1000, 9999)),
            Ty::Time(fsp) => format!("'{}'", time(rng, *fsp)),
            Ty::DateTime(fsp) => format!("'{}'", datetime(rng, *fsp, 1000, 9999)),
            Ty::Timestamp(fsp) => {
                if rng.chance(5) {
                    "'0000-00-00 00:00:00'".into()
                } else {
                    // Inside the TIMESTAMP range in every time zone offset.
                    format!("'{}'", datetime(rng, *fsp, 1971, 2037))
                }
            }
            Ty::Year => match rng.below(6) {
                0 => "0".into(),
                1 => "1901".into(),
                2 => "2155".into(),
                _ => rng.range(1901, 2155).to_string(),
            },
            Ty::Char { len, cs } | Ty::VarChar { len, cs } => match cs {
                Charset::Binary => bytes_literal(rng, usize::from(*len)),
                _ => string_literal(rng, *cs, usize::from(*len).min(40)),
            },
            Ty::Binary(len) | Ty::VarBinary(len) => bytes_literal(rng, usize::from(*len)),
            Ty::Text { size, cs } => lob_text(rng, *size, *cs),
            Ty::Blob(size) => {
                if rng.chance(10) {
                    let n = rng.urange(1, size.max_bytes() / 2);
                    format!("REPEAT(X'00FF', {n})")
                } else {
                    bytes_literal(rng, 64.min(size.max_bytes()))
                }
            }
            Ty::Enum => {
                if rng.chance(10) {
                    rng.range(1, ENUM_MEMBERS.len() as i64).to_string()
                } else {
                    format!("'{}'", rng.pick(ENUM_MEMBERS))
                }
            }
            Ty::Set => {
                let members: Vec<&str> = SET_MEMBERS.iter().copied().filter(|_| rng.chance(40)).collect();
                format!("'{}'", members.join(","))
            }
            Ty::Json => format!("'{}'", sql_escape(&json(rng, 0))),
            Ty::Geo(kind) => geometry(rng, *kind),
            Ty::Inet6 => match rng.below(8) {
                0 => "'::'".into(),
                1 => "'::1'".into(),
                2 => "'2001:db8::ff00:42:8329'".into(),
                3 => "'::ffff:192.0.2.1'".into(),
                4 => "'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'".into(),
                _ => format!("'fe80::{:x}:{:x}'", rng.below(65536), rng.below(65536)),
            },
            Ty::Inet4 => match rng.below(4) {
                0 => "'0.0.0.0'".into(),
                1 => "'255.255.255.255'".into(),
                _ => format!(
                    "'{}.{}.{}.{}'",
                    rng.below(256),
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                ),
            },
            Ty::Uuid => {
                if rng.chance(15) {
                    return "'00000000-0000-0000-0000-000000000000'".into();
                }
                // RFC 4122 versions 1..5 (MariaDB 10.11 rejects others); version 1
                // is stored with its time fields swapped.
                let a = rng.next_u64();
                let b = rng.next_u64();
                let version = rng.range(1, 5) as u64;
                let variant = 8 + rng.below(4);
                format!(
                    "'{:08x}-{:04x}-{version:x}{:03x}-{variant:x}{:03x}-{:012x}'",
                    a >> 32,
                    (a >> 16) & 0xffff,
                    a & 0xfff,
                    (b >> 48) & 0xfff,
                    b & 0xffff_ffff_ffff
                )
            }
        }
    }
}

fn int_literal(rng: &mut Rng, kind: IntKind, unsigned: bool) -> String {
    let bits = kind.bits();
    if unsigned {
        let max: u64 = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
        match rng.below(6) {
            0 => "0".into(),
            1 => max.to_string(),
            2 => rng.below(10).to_string(),
            _ if bits == 64 => rng.next_u64().to_string(),
            _ => rng.below(max + 1).to_string(),
        }
    } else {
        let max: i64 = if bits == 64 { i64::MAX } else { (1i64 << (bits - 1)) - 1 };
        let min = -max - 1;
        match rng.below(7) {
            0 => "0".into(),
            1 => max.to_string(),
            2 => min.to_string(),
            3 => "-1".into(),
            4 => rng.range(-10, 10).to_string(),
            _ => rng.range(min, max).to_string(),
        }
    }
}

fn digits(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.below(10) as u8)).collect()
}

fn decimal_literal(rng: &mut Rng, p: u8, s: u8, unsigned: bool) -> String {
    let int_digits = usize::from(p - s);
    let s = usize::from(s);
    let neg = !unsigned && rng.chance(40);
    let sign = if neg { "-" } else { "" };
    let (i, f) = match rng.below(6) {
        0 => ("0".to_owned(), "0".repeat(s)),
        1 => ("9".repeat(int_digits), "9".repeat(s)),
        _ => {
            let ni = rng.urange(0, int_digits);
            let nf = rng.urange(0, s);
            let mut i = digits(rng, ni);
            if i.is_empty() {
                i.push('0');
            }
            (i, digits(rng, nf))
        }
    };
    let i = if int_digits == 0 { "0".to_owned() } else { i };
    if f.is_empty() {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

fn float_literal(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "0".into(),
        1 => "-0e0".into(),
        2 => (*rng.pick(&["3.4e38", "-3.4e38", "1.175494e-38", "1e-45", "16777217"])).into(),
        _ => {
            let mantissa = rng.range(-9_999_999, 9_999_999) as f32;
            let exp = rng.range(-30, 30) as i32;
            let v = mantissa * 10f32.powi(exp);
            if v.is_finite() {
                format!("{v:e}")
            } else {
                "1.5".into()
            }
        }
    }
}

fn double_literal(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => "0".into(),
        1 => "-0e0".into(),
        2 => (*rng.pick(&[
            "1.7976931348623157e308",
            "-1.7976931348623157e308",
            "2.2250738585072014e-308",
            "5e-324",
            "9007199254740993",
            "0.1",
        ]))
        .into(),
        _ => {
            let v = f64::from_bits(rng.next_u64());
            if v.is_finite() {
                format!("{v:e}")
            } else {
                "-2.5".into()
            }
        }
    }
}

fn bit_literal(rng: &mut Rng, n: u8) -> String {
    let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
    match rng.below(4) {
        0 => "b'0'".into(),
        1 => format!("b'{}'", "1".repeat(usize::from(n))),
        2 => (rng.next_u64() & mask).to_string(),
        _ => format!("b'{:b}'", rng.next_u64() & mask),
    }
}

fn date(rng: &mut Rng, ylo: i64, yhi: i64) -> String {
    match rng.below(12) {
        0 if ylo <= 1000 => "0000-00-00".into(),
        1 => format!("{ylo:04}-01-01"),
        2 => format!("{yhi:04}-12-31"),
        3 if ylo <= 2024 && 2024 <= yhi => "2024-02-29".into(),
        _ => format!(
            "{:04}-{:02}-{:02}",
            rng.range(ylo, yhi),
            rng.range(1, 12),
            rng.range(1, 28)
        ),
    }
}

fn fraction(rng: &mut Rng, fsp: u8) -> String {
    if fsp == 0 || rng.chance(20) {
        return String::new();
    }
    // Now and then more digits than the column keeps (rounded or truncated
    // by TIME_ROUND_FRACTIONAL).
    let n = if rng.chance(15) { 6 } else { usize::from(fsp) };
    format!(".{}", digits(rng, n))
}

fn time(rng: &mut Rng, fsp: u8) -> String {
    match rng.below(8) {
        0 => "838:59:59".into(),
        1 => "-838:59:59".into(),
        2 => format!("-00:00:00{}", if fsp > 0 { ".5" } else { "" }),
        3 => "00:00:00".into(),
        _ => {
            let sign = if rng.chance(30) { "-" } else { "" };
            let h = rng.range(0, 837);
            format!(
                "{sign}{h:02}:{:02}:{:02}{}",
                rng.range(0, 59),
                rng.range(0, 59),
                fraction(rng, fsp)
            )
        }
    }
}

fn datetime(rng: &mut Rng, fsp: u8, ylo: i64, yhi: i64) -> String {
    let d = date(rng, ylo, yhi);
    if d.starts_with("0000") {
        return "0000-00-00 00:00:00".into();
    }
    // The last instant of 2037-12-31 is still inside the TIMESTAMP range in every offset.
    format!(
        "{d} {:02}:{:02}:{:02}{}",
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
        fraction(rng, fsp)
    )
}

/// Escapes a string for a single-quoted SQL literal.
pub fn sql_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

const UTF8_PIECES: &[&str] = &[
    "a", "b", "Z", " ", "é", "ß", "中", "😀", "'", "\\", "\0", "\n", "%", "_", "x", "A",
];
const LATIN1_PIECES: &[&str] = &["a", "b", "Z", " ", "é", "ÿ", "'", "\\", "\n", "\0", "A", "x"];

/// A random string of at most `max_chars` characters.
pub fn random_string(rng: &mut Rng, cs: Charset, max_chars: usize) -> String {
    let pieces = if cs == Charset::Latin1 {
        LATIN1_PIECES
    } else {
        UTF8_PIECES
    };
    match rng.below(10) {
        0 => String::new(),
        1 if max_chars >= 3 => format!("{}  ", rng.pick(&["a", "é", "A"])),
        2 => " ".repeat(rng.urange(1, max_chars.max(1))),
        _ => {
            let n = rng.urange(1, max_chars.max(1));
            (0..n).map(|_| *rng.pick(pieces)).collect()
        }
    }
}

fn string_literal(rng: &mut Rng, cs: Charset, max_chars: usize) -> String {
    let s = random_string(rng, cs, max_chars);
    let introducer = match cs {
        Charset::Utf8mb4 if rng.chance(20) => "_utf8mb4",
        _ => "",
    };
    format!("{introducer}'{}'", sql_escape(&s))
}

fn bytes_literal(rng: &mut Rng, max: usize) -> String {
    match rng.below(8) {
        0 => "''".into(),
        1 => format!("X'{}'", "00".repeat(rng.urange(1, max.max(1)))),
        _ => {
            let n = rng.urange(1, max.max(1));
            let hex: String = (0..n)
                .map(|_| {
                    let b = if rng.chance(20) { 0 } else { rng.below(256) };
                    format!("{b:02X}")
                })
                .collect();
            format!("X'{hex}'")
        }
    }
}

fn lob_text(rng: &mut Rng, size: LobSize, cs: Charset) -> String {
    // 4 bytes per character at most (utf8mb4), 1 for latin1 pieces encoded in latin1.
    let max_chars = size.max_bytes() / 4;
    if rng.chance(10) && max_chars > 100 {
        let piece = if cs == Charset::Latin1 { "é'x" } else { "中'😀" };
        let n = rng.urange(1, max_chars / 3);
        format!("REPEAT('{}', {n})", sql_escape(piece))
    } else {
        string_literal(rng, cs, max_chars.min(50))
    }
}

fn json(rng: &mut Rng, depth: u32) -> String {
    let leaf = depth >= 3 || rng.chance(40);
    if leaf {
        return match rng.below(9) {
            0 => "null".into(),
            1 => "true".into(),
            2 => "false".into(),
            3 => rng
                .pick(&["18446744073709551615", "-9223372036854775808", "0", "-0.0"])
                .to_string(),
            4 => format!("{:e}", f64::from(rng.range(-100000, 100000) as i32) / 7.0),
            5 => rng.range(-1000, 1000).to_string(),
            _ => json_string(&random_string(rng, Charset::Utf8mb4, 12)),
        };
    }
    let n = rng.urange(0, 4);
    if rng.chance(50) {
        let items: Vec<String> = (0..n).map(|_| json(rng, depth + 1)).collect();
        format!("[{}]", items.join(", "))
    } else {
        let items: Vec<String> = (0..n)
            .map(|i| {
                let key = rng.pick(&["a", "b", "ключ", "", "k"]).to_string();
                format!("{}: {}", json_string(&format!("{key}{i}")), json(rng, depth + 1))
            })
            .collect();
        format!("{{{}}}", items.join(", "))
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn coord(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => "0".into(),
        1 => (*rng.pick(&["-180", "90", "1e300", "-0.5"])).into(),
        _ => format!("{}", rng.range(-100000, 100000) as f64 / 100.0),
    }
}

fn geometry(rng: &mut Rng, kind: GeoKind) -> String {
    let kind = if kind == GeoKind::Geometry {
        *rng.pick(&[GeoKind::Point, GeoKind::LineString, GeoKind::Polygon, GeoKind::Geometry])
    } else {
        kind
    };
    let wkt = match kind {
        GeoKind::Point => format!("POINT({} {})", coord(rng), coord(rng)),
        GeoKind::LineString => {
            let n = rng.urange(2, 5);
            let pts: Vec<String> = (0..n).map(|_| format!("{} {}", coord(rng), coord(rng))).collect();
            format!("LINESTRING({})", pts.join(","))
        }
        GeoKind::Polygon => {
            let (x, y) = (rng.range(-50, 50), rng.range(-50, 50));
            let d = rng.range(1, 20);
            format!(
                "POLYGON(({x} {y},{x} {},{} {},{} {y},{x} {y}))",
                y + d,
                x + d,
                y + d,
                x + d
            )
        }
        GeoKind::Geometry => format!(
            "GEOMETRYCOLLECTION(POINT({} {}),MULTIPOINT(1 1,2 2))",
            coord(rng),
            coord(rng)
        ),
    };
    format!("ST_GeomFromText('{wkt}')")
}

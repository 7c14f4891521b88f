//! Session state of a statement: the `OPTIONS = [...]` line and the `SET`
//! statements of the `-sql` output.

use crate::event::{ColumnSpec, SessionVars, UserVar, Value};

use super::value::sql_literal;

/// The MySQL character set of a collation id, for the common ones; `None`
/// when unknown.
pub fn charset_of_collation(id: u16) -> Option<&'static str> {
    Some(match id {
        33 | 76 | 83 | 192..=215 | 223 => "utf8mb3",
        45 | 46 | 224..=247 | 255..=323 => "utf8mb4",
        5 | 8 | 15 | 31 | 47 | 48 | 49 | 94 => "latin1",
        9 | 21 | 27 | 77 => "latin2",
        11 | 65 => "ascii",
        63 => "binary",
        1 | 84 => "big5",
        12 | 91 => "ujis",
        13 | 88 => "sjis",
        19 | 85 => "euckr",
        24 | 86 => "gb2312",
        28 | 87 => "gbk",
        248 | 249 => "gb18030",
        35 | 90 | 128..=151 | 159 => "ucs2",
        54 | 55 | 101..=124 | 327 => "utf16",
        56 | 62 => "utf16le",
        60 | 61 | 160..=183 => "utf32",
        57 | 59 => "cp1256",
        26 | 34 | 44 | 66 | 99 => "cp1250",
        14 | 23 | 50 | 51 | 52 => "cp1251",
        _ => return None,
    })
}

/// Java's name of a collation's character set, as Tungsten's `##charset`.
fn java_charset(id: u16) -> Option<&'static str> {
    Some(match charset_of_collation(id)? {
        "utf8mb3" | "utf8mb4" => "UTF-8",
        "latin1" => "ISO-8859-1",
        "ascii" => "US-ASCII",
        "latin2" => "ISO-8859-2",
        "sjis" => "Shift_JIS",
        "ujis" => "EUC-JP",
        "euckr" => "EUC-KR",
        "gbk" => "GBK",
        "gb2312" => "GB2312",
        "gb18030" => "GB18030",
        "big5" => "Big5",
        "cp1250" => "windows-1250",
        "cp1251" => "windows-1251",
        "cp1256" => "windows-1256",
        _ => return None,
    })
}

/// `sql_mode` flag names by bit. Bits 0..=31 are common to MySQL 5.7 and
/// MariaDB (bit 4 is `IGNORE_BAD_TABLE_OPTIONS` in MariaDB, unused in
/// MySQL); bits 32..=34 are MariaDB's. MySQL 8's bit 32
/// (`TIME_TRUNCATE_FRACTIONAL`) cannot be told apart from MariaDB's
/// `EMPTY_STRING_IS_NULL` in a binlog; the target is MariaDB, so MariaDB's
/// meaning wins.
pub const SQL_MODE_BITS: [&str; 35] = [
    "REAL_AS_FLOAT",
    "PIPES_AS_CONCAT",
    "ANSI_QUOTES",
    "IGNORE_SPACE",
    "IGNORE_BAD_TABLE_OPTIONS",
    "ONLY_FULL_GROUP_BY",
    "NO_UNSIGNED_SUBTRACTION",
    "NO_DIR_IN_CREATE",
    "POSTGRESQL",
    "ORACLE",
    "MSSQL",
    "DB2",
    "MAXDB",
    "NO_KEY_OPTIONS",
    "NO_TABLE_OPTIONS",
    "NO_FIELD_OPTIONS",
    "MYSQL323",
    "MYSQL40",
    "ANSI",
    "NO_AUTO_VALUE_ON_ZERO",
    "NO_BACKSLASH_ESCAPES",
    "STRICT_TRANS_TABLES",
    "STRICT_ALL_TABLES",
    "NO_ZERO_IN_DATE",
    "NO_ZERO_DATE",
    "ALLOW_INVALID_DATES",
    "ERROR_FOR_DIVISION_BY_ZERO",
    "TRADITIONAL",
    "NO_AUTO_CREATE_USER",
    "HIGH_NOT_PRECEDENCE",
    "NO_ENGINE_SUBSTITUTION",
    "PAD_CHAR_TO_FULL_LENGTH",
    "EMPTY_STRING_IS_NULL",
    "SIMULTANEOUS_ASSIGNMENT",
    "TIME_ROUND_FRACTIONAL",
];

/// The names of a binlog `sql_mode` bit mask, comma-separated; bits above
/// 31 (flavour-specific) are appended as one hex number.
pub fn sql_mode_names(mask: u64) -> String {
    let mut names: Vec<String> = SQL_MODE_BITS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    let high = mask & !((1u64 << SQL_MODE_BITS.len()) - 1);
    if high != 0 {
        names.push(format!("{high:#x}"));
    }
    names.join(",")
}

fn b(v: bool) -> u8 {
    u8::from(v)
}

/// A user variable's value as a SQL literal.
pub(crate) fn user_var_literal(u: &UserVar) -> String {
    match &u.value {
        Value::Bytes(bytes) => {
            let col = ColumnSpec {
                unsigned: u.unsigned,
                collation: u.collation,
                ..ColumnSpec::of_type(0, "", 15)
            };
            let lit = sql_literal(&u.value, &col);
            if let Some(t) = &u.data_type {
                // MariaDB's data type of the value (a geometry's bytes).
                return format!("{lit} /* {t} */");
            }
            // A hex literal is a binary string: give it back its character set.
            match u.collation.and_then(charset_of_collation) {
                Some(cs) if lit.starts_with("x'") && cs != "binary" && !bytes.is_empty() => {
                    format!("CONVERT({lit} USING {cs})")
                }
                _ => lit,
            }
        }
        v => {
            let col = ColumnSpec {
                unsigned: u.unsigned,
                ..ColumnSpec::of_type(0, "", 8)
            };
            sql_literal(v, &col)
        }
    }
}

/// `ts` (µs since the epoch) as `secs[.micros]`.
pub fn timestamp_text(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    if micros == 0 {
        secs.to_string()
    } else {
        format!("{secs}.{micros:06}")
    }
}

/// The fields of `s` that are present, as `(name, value)` in Tungsten's
/// order (`##charset, autocommit, sql_auto_is_null, foreign_key_checks,
/// unique_checks, sql_mode, character_set_client, collation_connection,
/// collation_server`), then ours.
pub fn session_options(s: &SessionVars) -> Vec<(String, String)> {
    let mut o: Vec<(String, String)> = Vec::new();
    let mut put = |n: &str, v: String| o.push((n.to_string(), v));
    if let Some(cs) = s.charset_client.and_then(java_charset) {
        put("##charset", cs.to_string());
    }
    if let Some(v) = s.autocommit {
        put("autocommit", b(v).to_string());
    }
    if let Some(v) = s.sql_auto_is_null {
        put("sql_auto_is_null", b(v).to_string());
    }
    if let Some(v) = s.foreign_key_checks {
        put("foreign_key_checks", b(v).to_string());
    }
    if let Some(v) = s.unique_checks {
        put("unique_checks", b(v).to_string());
    }
    if let Some(v) = s.sql_mode {
        put("sql_mode", format!("'{}'", sql_mode_names(v)));
    }
    if let Some(v) = s.charset_client {
        put("character_set_client", v.to_string());
    }
    if let Some(v) = s.collation_connection {
        put("collation_connection", v.to_string());
    }
    if let Some(v) = s.collation_server {
        put("collation_server", v.to_string());
    }
    if let Some(v) = s.collation_database {
        put("collation_database", v.to_string());
    }
    if let Some(v) = &s.time_zone {
        put("time_zone", format!("'{}'", v.replace('\'', "''")));
    }
    if let Some(v) = s.lc_time_names {
        put("lc_time_names", v.to_string());
    }
    if let Some(v) = &s.default_storage_engine {
        put("default_storage_engine", format!("'{}'", v.replace('\'', "''")));
    }
    for (name, v) in server_options(s) {
        put(name, b(v).to_string());
    }
    if let Some(v) = s.auto_increment_increment {
        put("auto_increment_increment", v.to_string());
    }
    if let Some(v) = s.auto_increment_offset {
        put("auto_increment_offset", v.to_string());
    }
    if let Some(v) = s.timestamp_us {
        put("timestamp", timestamp_text(v));
    }
    if let Some(v) = s.thread_id {
        put("pseudo_thread_id", v.to_string());
    }
    if let Some(v) = s.insert_id {
        put("insert_id", v.to_string());
    }
    if let Some(v) = s.last_insert_id {
        put("last_insert_id", v.to_string());
    }
    if let Some((a, c)) = s.rand_seeds {
        put("rand_seed1", a.to_string());
        put("rand_seed2", c.to_string());
    }
    for u in &s.user_vars {
        put(&format!("@{}", u.name), user_var_literal(u));
    }
    o
}

/// The flags2 options that are present: `(variable, value)`.
pub fn server_options(s: &SessionVars) -> impl Iterator<Item = (&'static str, bool)> {
    crate::event::SERVER_OPTION_NAMES
        .into_iter()
        .zip(s.server_options())
        .filter_map(|(name, v)| Some((name, v?)))
}

/// `[name = value, ...]` as Tungsten's `- OPTIONS` line shows it.
pub fn format_options(s: &SessionVars) -> String {
    let parts: Vec<String> = session_options(s)
        .into_iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Session variables the `-sql` output keeps in step: `(variable, value)`
/// for the fields present in `s`, as `SET @@session.<variable>=<value>`
/// takes them (numeric `sql_mode` and collation ids, as `mysqlbinlog`
/// writes them: exact on a server of the source's flavour).
pub(crate) fn tracked_settings(s: &SessionVars) -> Vec<(&'static str, String)> {
    let mut o = Vec::new();
    if let Some(v) = s.sql_mode {
        o.push(("sql_mode", v.to_string()));
    }
    if let Some(v) = s.foreign_key_checks {
        o.push(("foreign_key_checks", b(v).to_string()));
    }
    if let Some(v) = s.unique_checks {
        o.push(("unique_checks", b(v).to_string()));
    }
    if let Some(v) = s.autocommit {
        o.push(("autocommit", b(v).to_string()));
    }
    if let Some(v) = s.sql_auto_is_null {
        o.push(("sql_auto_is_null", b(v).to_string()));
    }
    if let Some(v) = s.auto_increment_increment {
        o.push(("auto_increment_increment", v.to_string()));
    }
    if let Some(v) = s.auto_increment_offset {
        o.push(("auto_increment_offset", v.to_string()));
    }
    if let Some(v) = s.charset_client {
        o.push(("character_set_client", v.to_string()));
    }
    if let Some(v) = s.collation_connection {
        o.push(("collation_connection", v.to_string()));
    }
    if let Some(v) = s.collation_server {
        o.push(("collation_server", v.to_string()));
    }
    if let Some(v) = s.collation_database {
        o.push(("collation_database", v.to_string()));
    }
    if let Some(v) = s.lc_time_names {
        o.push(("lc_time_names", v.to_string()));
    }
    if let Some(v) = &s.default_storage_engine {
        o.push(("default_storage_engine", format!("'{}'", v.replace('\'', "''"))));
    }
    for (name, v) in server_options(s) {
        o.push((name, b(v).to_string()));
    }
    if let Some(v) = &s.time_zone {
        o.push(("time_zone", format!("'{}'", v.replace('\'', "''"))));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_mode_bits_to_names() {
        assert_eq!(sql_mode_names(0), "");
        assert_eq!(sql_mode_names(1 << 19), "NO_AUTO_VALUE_ON_ZERO");
        assert_eq!(
            sql_mode_names((1 << 21) | (1 << 30)),
            "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"
        );
        assert_eq!(
            sql_mode_names((1 << 0) | (1 << 34) | (1 << 40)),
            "REAL_AS_FLOAT,TIME_ROUND_FRACTIONAL,0x10000000000"
        );
    }

    #[test]
    fn options_in_tungsten_order_only_present_fields() {
        let s = SessionVars {
            charset_client: Some(33),
            collation_connection: Some(33),
            collation_server: Some(8),
            autocommit: Some(true),
            sql_auto_is_null: Some(false),
            foreign_key_checks: Some(true),
            unique_checks: Some(false),
            sql_mode: Some(1 << 19),
            time_zone: Some("+00:00".into()),
            ..SessionVars::default()
        };
        assert_eq!(
            format_options(&s),
            "[##charset = UTF-8, autocommit = 1, sql_auto_is_null = 0, foreign_key_checks = 1, unique_checks = 0, \
             sql_mode = 'NO_AUTO_VALUE_ON_ZERO', character_set_client = 33, collation_connection = 33, \
             collation_server = 8, time_zone = '+00:00']"
        );
        assert_eq!(format_options(&SessionVars::default()), "[]");
        let s = SessionVars {
            timestamp_us: Some(1_700_000_000_000_001),
            thread_id: Some(7),
            insert_id: Some(5),
            last_insert_id: Some(6),
            rand_seeds: Some((1, 2)),
            user_vars: vec![
                UserVar {
                    name: "a".into(),
                    value: Value::Bytes(b"x'y".to_vec()),
                    collation: Some(45),
                    unsigned: false,
                    data_type: None,
                },
                UserVar {
                    name: "b".into(),
                    value: Value::UInt(u64::MAX),
                    collation: None,
                    unsigned: true,
                    data_type: None,
                },
                UserVar {
                    name: "c".into(),
                    value: Value::Null,
                    collation: None,
                    unsigned: false,
                    data_type: None,
                },
                UserVar {
                    name: "d".into(),
                    value: Value::Bytes(vec![0xe9]),
                    collation: Some(8),
                    unsigned: false,
                    data_type: None,
                },
            ],
            ..SessionVars::default()
        };
        assert_eq!(
            format_options(&s),
            "[timestamp = 1700000000.000001, pseudo_thread_id = 7, insert_id = 5, last_insert_id = 6, \
             rand_seed1 = 1, rand_seed2 = 2, @a = 'x''y', @b = 18446744073709551615, @c = NULL, \
             @d = CONVERT(x'e9' USING latin1)]"
        );
    }

    #[test]
    fn charsets() {
        assert_eq!(charset_of_collation(255), Some("utf8mb4"));
        assert_eq!(charset_of_collation(8), Some("latin1"));
        assert_eq!(charset_of_collation(63), Some("binary"));
        assert_eq!(charset_of_collation(9999), None);
        assert_eq!(timestamp_text(-1), "-1.999999");
        assert_eq!(timestamp_text(2_000_000), "2");
    }
}

//! MySQL binary JSON (type 245) to JSON text, walking mysql_common's jsonb
//! reader (no intermediate DOM, object keys in stored order).
//!
//! Scalars are printed as MySQL prints them: integers exactly, doubles in
//! shortest round-trip form (with `.0` for integral values), DECIMAL opaque
//! values as exact numbers, DATE/TIME/DATETIME/TIMESTAMP opaque values as
//! quoted `YYYY-MM-DD hh:mm:ss.ffffff` text, other opaque values as
//! `"base64:type<N>:<data>"`. An empty value is JSON `null` (as MySQL).

use std::fmt::Write as _;

use mysql_common::binlog::jsonb::{self, JsonbString};
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;

use super::error::{malformed, KResult};
use super::values::{datetime_from_packed, decimal_to_string, time_from_packed};

/// Nesting limit (MySQL's own is 100).
const MAX_DEPTH: usize = 150;

/// Converts a binary JSON value to text.
pub fn jsonb_to_text(b: &[u8]) -> KResult<String> {
    let v: jsonb::Value<'_> = ParseBuf(b)
        .parse(())
        .map_err(|e| malformed(format!("binary JSON: {e}")))?;
    let mut out = String::with_capacity(b.len() + 16);
    write_value(&v, &mut out, 0)?;
    Ok(out)
}

fn write_str(s: &[u8], out: &mut String) {
    out.push('"');
    for ch in String::from_utf8_lossy(s).chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn jstr(s: &JsonbString<'_>) -> Vec<u8> {
    s.str_raw().to_vec()
}

fn write_value(v: &jsonb::Value<'_>, out: &mut String, depth: usize) -> KResult<()> {
    if depth > MAX_DEPTH {
        return Err(malformed("binary JSON nested too deeply"));
    }
    match v {
        jsonb::Value::Null => out.push_str("null"),
        jsonb::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        jsonb::Value::I16(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::U16(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::I32(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::U32(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::I64(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::U64(x) => {
            let _ = write!(out, "{x}");
        }
        jsonb::Value::F64(x) => {
            if x.is_finite() {
                let _ = write!(out, "{x:?}");
            } else {
                return Err(malformed("binary JSON holds a non-finite double"));
            }
        }
        jsonb::Value::String(s) => write_str(&jstr(s), out),
        jsonb::Value::SmallArray(a) => write_array(a.iter(), out, depth)?,
        jsonb::Value::LargeArray(a) => write_array(a.iter(), out, depth)?,
        jsonb::Value::SmallObject(o) => write_object(o.iter(), out, depth)?,
        jsonb::Value::LargeObject(o) => write_object(o.iter(), out, depth)?,
        jsonb::Value::Opaque(o) => write_opaque(o.value_type(), o.data_raw(), out)?,
    }
    Ok(())
}

/// `[e, ...]` for small and large arrays alike.
fn write_array<'a>(
    items: impl Iterator<Item = std::io::Result<jsonb::Value<'a>>>,
    out: &mut String,
    depth: usize,
) -> KResult<()> {
    out.push('[');
    for (i, e) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(&e.map_err(|e| malformed(format!("binary JSON: {e}")))?, out, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

/// `{"k": v, ...}` for small and large objects alike.
fn write_object<'a>(
    entries: impl Iterator<Item = std::io::Result<(jsonb::ObjectKey<'a>, jsonb::Value<'a>)>>,
    out: &mut String,
    depth: usize,
) -> KResult<()> {
    out.push('{');
    for (i, e) in entries.enumerate() {
        let (k, val) = e.map_err(|e| malformed(format!("binary JSON: {e}")))?;
        if i > 0 {
            out.push_str(", ");
        }
        write_str(k.value_raw(), out);
        out.push_str(": ");
        write_value(&val, out, depth + 1)?;
    }
    out.push('}');
    Ok(())
}

fn packed8(data: &[u8]) -> KResult<i64> {
    let b: [u8; 8] = data
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| malformed("short JSON temporal"))?;
    Ok(i64::from_le_bytes(b))
}

fn write_opaque(t: ColumnType, data: &[u8], out: &mut String) -> KResult<()> {
    match t {
        ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            if data.len() < 2 {
                return Err(malformed("short JSON decimal"));
            }
            let (s, _) = decimal_to_string(&data[2..], data[0], data[1])?;
            out.push_str(&s);
        }
        ColumnType::MYSQL_TYPE_DATE => {
            let d = datetime_from_packed(packed8(data)?);
            let _ = write!(out, "\"{:04}-{:02}-{:02}\"", d.year, d.month, d.day);
        }
        ColumnType::MYSQL_TYPE_TIME => {
            let t = time_from_packed(packed8(data)?);
            let _ = write!(
                out,
                "\"{}{:02}:{:02}:{:02}.{:06}\"",
                if t.negative { "-" } else { "" },
                t.hours,
                t.minutes,
                t.seconds,
                t.micros
            );
        }
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_TIMESTAMP => {
            let d = datetime_from_packed(packed8(data)?);
            let _ = write!(
                out,
                "\"{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}\"",
                d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros
            );
        }
        other => {
            let _ = write!(out, "\"base64:type{}:{}\"", other as u8, base64(data));
        }
    }
    Ok(())
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if ch.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        s.push(if ch.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    s
}

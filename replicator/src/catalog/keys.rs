//! Key encodings. Integers are stored as 8 big-endian bytes with the sign bit
//! flipped, so that RocksDB's bytewise order is the numeric order (negative
//! values such as `-1` sort before 0).

use thl::seqno::Seqno;

/// Encodes `v` so that bytewise order equals numeric order.
pub(crate) fn ord_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

/// Decodes [`ord_i64`]; `None` unless `b` is exactly 8 bytes.
pub(crate) fn from_ord_i64(b: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = b.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

/// The key prefix of one table's history: `schema 0x00 table 0x00`.
/// The names must not contain NUL (checked by the caller), which makes the
/// prefix unambiguous.
pub(crate) fn table_prefix(schema: &str, table: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(schema.len() + table.len() + 10);
    k.extend_from_slice(schema.as_bytes());
    k.push(0);
    k.extend_from_slice(table.as_bytes());
    k.push(0);
    k
}

/// The key of one schema-history entry: [`table_prefix`] then the seqno.
pub(crate) fn schema_key(schema: &str, table: &str, seqno: Seqno) -> Vec<u8> {
    let mut k = table_prefix(schema, table);
    k.extend_from_slice(&ord_i64(seqno.0));
    k
}

/// Splits a schema-history key into (schema, table, seqno).
pub(crate) fn split_schema_key(key: &[u8]) -> Option<(String, String, i64)> {
    if key.len() < 10 {
        return None;
    }
    let (names, seq) = key.split_at(key.len() - 8);
    let seqno = from_ord_i64(seq)?;
    let names = names.strip_suffix(&[0])?;
    let sep = names.iter().position(|&b| b == 0)?;
    let schema = std::str::from_utf8(&names[..sep]).ok()?;
    let table = std::str::from_utf8(&names[sep + 1..]).ok()?;
    if table.as_bytes().contains(&0) {
        return None;
    }
    Some((schema.to_owned(), table.to_owned(), seqno))
}

/// A readable rendering of a key for error messages.
pub(crate) fn render(cf: &str, key: &[u8]) -> String {
    match cf {
        super::CF_EPOCHS => match from_ord_i64(key) {
            Some(e) => format!("{cf}/{e}"),
            None => format!("{cf}/{key:02x?}"),
        },
        super::CF_SCHEMA => match split_schema_key(key) {
            Some((s, t, q)) => format!("{cf}/{s}.{t}@{q}"),
            None => format!("{cf}/{key:02x?}"),
        },
        _ => format!("{cf}/{}", String::from_utf8_lossy(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ord_i64_sorts_numerically() {
        let vals = [i64::MIN, -2, -1, 0, 1, 255, 256, i64::MAX];
        for w in vals.windows(2) {
            assert!(ord_i64(w[0]) < ord_i64(w[1]), "{} < {}", w[0], w[1]);
        }
        for v in vals {
            assert_eq!(from_ord_i64(&ord_i64(v)), Some(v));
        }
    }

    #[test]
    fn schema_key_round_trips() {
        let k = schema_key("shop", "orders", Seqno(42));
        assert_eq!(split_schema_key(&k), Some(("shop".into(), "orders".into(), 42)));
        assert_eq!(render(super::super::CF_SCHEMA, &k), "schema/shop.orders@42");
        // `a`.`bc` and `ab`.`c` have different prefixes.
        assert_ne!(table_prefix("a", "bc"), table_prefix("ab", "c"));
    }
}

//! Which earlier transactions a transaction must wait for, from the keys
//! of its row images (parallel apply by key, `channels.rs`).
//!
//! # Invariants
//!
//! * **Two transactions that touch one row on the target are ordered.**
//!   Each row image (before and after) yields the keys of its table's key
//!   lists ([`TableKeys`], `applier/table_keys.rs`: equal on the target ⇒
//!   equal key); a transaction waits for the last earlier writer of each of
//!   its keys. The last writer of a key waited for the one before it, so
//!   the last one suffices.
//! * **Wildcards.** A key whose value cannot be mapped safely conflicts
//!   with every key of its index: it waits for the last writer of that
//!   index on every channel, and every later key of the index waits for
//!   it.
//! * The waits name other channels only: a channel applies what it is
//!   given in seqno order, so a wait on its own earlier transactions is
//!   already kept.
//! * **Bounded.** [`History`] forgets what every channel has committed
//!   ([`History::forget_committed`]); the dispatcher drains and clears it
//!   when it still holds more than its cap, and a transaction with more
//!   than [`MAX_TXN_KEYS`] keys runs alone. Overflow is a barrier, never a
//!   wrong answer.

use std::collections::HashMap;

use thl::event::{RowChanges, Value};
use thl::seqno::Seqno;

use crate::applier::{Compare, KeyColumn, KeyIndex, TableKeys};

/// Keys a transaction may have and still run beside others.
pub const MAX_TXN_KEYS: usize = 10_000;
/// Entries the history keeps before it forgets committed writers.
pub const HISTORY_CAP: usize = 200_000;

/// One key of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A value of an index (both hashed).
    Exact { index: u64, value: u64 },
    /// Any value of an index.
    Wild { index: u64 },
}

/// FNV-1a, 64 bits.
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for &b in (part.len() as u32).to_le_bytes().iter().chain(part.iter()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// A value's bytes as its column compares them; `None`: a wildcard.
fn normalise(value: &Value, column: &KeyColumn) -> Option<Vec<u8>> {
    let bytes = match value {
        Value::Int(i) => return Some(int_bytes(i128::from(*i))),
        Value::UInt(u) => return Some(int_bytes(i128::from(*u))),
        Value::Float(f) => return Some(float_bytes(f64::from(*f))),
        Value::Double(d) => return Some(float_bytes(*d)),
        Value::Decimal(d) => return Some(decimal_bytes(d)),
        Value::Bytes(b) => b,
        other => return Some(format!("{other:?}").into_bytes()),
    };
    let cut = |b: &[u8]| -> Vec<u8> { b[..column.prefix.map_or(b.len(), |p| p.min(b.len()))].to_vec() };
    let trim = |mut b: Vec<u8>, pad: u8| {
        while b.last() == Some(&pad) {
            b.pop();
        }
        b
    };
    let ascii = bytes.iter().all(|b| (0x20..=0x7e).contains(b));
    match column.compare {
        Compare::Exact => Some(cut(bytes)),
        Compare::PadZero => Some(trim(cut(bytes), 0)),
        // A prefix counts characters: bytes only where each is one.
        Compare::PadSpace if column.prefix.is_some() && !ascii => None,
        Compare::PadSpace => Some(trim(cut(bytes), b' ')),
        Compare::FoldAscii if ascii => Some(trim(cut(&bytes.to_ascii_lowercase()), b' ')),
        Compare::FoldAscii | Compare::Opaque => None,
    }
}

fn int_bytes(i: i128) -> Vec<u8> {
    let mut v = vec![b'i'];
    v.extend_from_slice(&i.to_le_bytes());
    v
}

fn float_bytes(f: f64) -> Vec<u8> {
    // -0 and 0 are one value.
    let f = if f == 0.0 { 0.0 } else { f };
    let mut v = vec![b'f'];
    v.extend_from_slice(&f.to_bits().to_le_bytes());
    v
}

/// `-012.3400` and `-12.34` are one value; `-0.00` is `0`.
fn decimal_bytes(d: &str) -> Vec<u8> {
    let (negative, digits) = match d.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, d.strip_prefix('+').unwrap_or(d)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let zero = int.is_empty() && frac.is_empty();
    let mut v = b"d".to_vec();
    if negative && !zero {
        v.push(b'-');
    }
    v.extend_from_slice(int.as_bytes());
    v.push(b'.');
    v.extend_from_slice(frac.as_bytes());
    v
}

/// A key list resolved against one change's columns: its hash and each
/// column's table position (`None`: the THL does not name it).
struct Resolved<'a> {
    index: &'a KeyIndex,
    hash: u64,
    positions: Vec<Option<u16>>,
}

impl<'a> Resolved<'a> {
    fn new(index: &'a KeyIndex, rc: &RowChanges) -> Resolved<'a> {
        let position = |name: &str| {
            rc.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.index)
        };
        Resolved {
            index,
            hash: fnv1a(&[index.id.as_bytes()]),
            positions: index.columns.iter().map(|c| position(&c.name)).collect(),
        }
    }

    /// The key in one image; `None` when a part is NULL (no constraint
    /// there). `present` lists the image's columns (table positions).
    fn key(&self, image: &[Value], present: &[u16]) -> Option<Key> {
        let mut parts: Vec<Vec<u8>> = Vec::with_capacity(self.positions.len());
        for (column, position) in self.index.columns.iter().zip(&self.positions) {
            let slot = position.and_then(|p| present.iter().position(|&c| c == p));
            let Some(value) = slot.and_then(|i| image.get(i)) else {
                // Not in this image (a minimal image): any value.
                return Some(Key::Wild { index: self.hash });
            };
            if matches!(value, Value::Null) {
                return None;
            }
            match normalise(value, column) {
                Some(bytes) => parts.push(bytes),
                None => return Some(Key::Wild { index: self.hash }),
            }
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Some(Key::Exact {
            index: self.hash,
            value: fnv1a(&refs),
        })
    }
}

/// The constant key every holder of `id` takes.
fn constant(id: &str) -> Key {
    Key::Exact {
        index: fnv1a(&[id.as_bytes()]),
        value: 0,
    }
}

/// Adds the keys of `rc`'s row images to `keys`; `false` when they are
/// more than [`MAX_TXN_KEYS`] or the table is serial (the transaction
/// then runs alone).
pub fn row_keys(rc: &RowChanges, table: &TableKeys, keys: &mut Vec<Key>) -> bool {
    let TableKeys::Keys {
        unique,
        parents,
        always,
        has_primary,
        table_id,
    } = table
    else {
        return false;
    };
    let unique: Vec<Resolved> = unique.iter().map(|k| Resolved::new(k, rc)).collect();
    let parents: Vec<Resolved> = parents.iter().map(|k| Resolved::new(k, rc)).collect();
    keys.extend(always.iter().map(|a| constant(a)));
    let table_key = constant(&format!("{table_id}\u{4}"));
    for row in &rc.rows {
        for (image, present) in [(&row.before, &rc.before_columns), (&row.after, &rc.after_columns)] {
            if image.is_empty() {
                continue;
            }
            let mut identified = false;
            for index in &unique {
                if let Some(key) = index.key(image, present) {
                    identified = true;
                    keys.push(key);
                }
            }
            for index in &parents {
                keys.extend(index.key(image, present));
            }
            if !*has_primary && !identified {
                keys.push(table_key);
            }
        }
        if keys.len() > MAX_TXN_KEYS {
            return false;
        }
    }
    true
}

/// A transaction that wrote a key: its last seqno and its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writer {
    pub seqno: Seqno,
    pub channel: usize,
}

/// The last writers of the keys of the transactions dispatched.
#[derive(Debug)]
pub struct History {
    channels: usize,
    exact: HashMap<Key, Writer>,
    /// Per index: its last wildcard writer.
    wild: HashMap<u64, Writer>,
    /// Per index: the last writer of any of its keys, per channel.
    any: HashMap<u64, Vec<Option<Seqno>>>,
}

impl History {
    pub fn new(channels: usize) -> History {
        History {
            channels,
            exact: HashMap::new(),
            wild: HashMap::new(),
            any: HashMap::new(),
        }
    }

    /// Entries held.
    pub fn entries(&self) -> usize {
        self.exact.len() + self.wild.len() + self.any.len()
    }

    pub fn clear(&mut self) {
        self.exact.clear();
        self.wild.clear();
        self.any.clear();
    }

    /// What `me` must wait for (per other channel, the highest seqno),
    /// then records it as the last writer of `keys`.
    pub fn depend(&mut self, keys: &[Key], me: Writer) -> Vec<(usize, Seqno)> {
        let mut wait: Vec<Option<Seqno>> = vec![None; self.channels];
        let mut need = |w: Writer| {
            if w.channel != me.channel {
                let slot = &mut wait[w.channel];
                *slot = (*slot).max(Some(w.seqno));
            }
        };
        for key in keys {
            match *key {
                Key::Exact { index, .. } => {
                    if let Some(&w) = self.exact.get(key) {
                        need(w);
                    }
                    if let Some(&w) = self.wild.get(&index) {
                        need(w);
                    }
                }
                Key::Wild { index } => {
                    if let Some(&w) = self.wild.get(&index) {
                        need(w);
                    }
                    for (channel, seqno) in self.any.get(&index).into_iter().flatten().enumerate() {
                        if let Some(seqno) = *seqno {
                            need(Writer { seqno, channel });
                        }
                    }
                }
            }
        }
        for key in keys {
            let index = match *key {
                Key::Exact { index, .. } => {
                    self.exact.insert(*key, me);
                    index
                }
                Key::Wild { index } => {
                    self.wild.insert(index, me);
                    index
                }
            };
            self.any.entry(index).or_insert_with(|| vec![None; self.channels])[me.channel] = Some(me.seqno);
        }
        wait.iter().enumerate().filter_map(|(c, s)| s.map(|s| (c, s))).collect()
    }

    /// Forgets writers their channel has committed (`committed[c]`).
    pub fn forget_committed(&mut self, committed: &[Option<Seqno>]) {
        let done = |w: &Writer| {
            committed
                .get(w.channel)
                .copied()
                .flatten()
                .is_some_and(|c| w.seqno <= c)
        };
        self.exact.retain(|_, w| !done(w));
        self.wild.retain(|_, w| !done(w));
        self.any.retain(|_, per_channel| {
            for (channel, slot) in per_channel.iter_mut().enumerate() {
                if slot.is_some_and(|seqno| done(&Writer { seqno, channel })) {
                    *slot = None;
                }
            }
            per_channel.iter().any(Option::is_some)
        });
    }
}

/// The channel of a transaction when applying by key: a stable hash of
/// its first row's table and primary key (as the THL names them), else of
/// its shard. It depends on the THL's bytes only, never on the target or
/// on timing, so a restart sends every transaction to the channel whose
/// row covers it.
pub fn route(changes: Option<&RowChanges>, shard: &str, channels: u32) -> u32 {
    let hash = match changes.and_then(|rc| rc.rows.first().map(|row| (rc, row))) {
        Some((rc, row)) => {
            let (image, present) = if row.before.is_empty() {
                (&row.after, &rc.after_columns)
            } else {
                (&row.before, &rc.before_columns)
            };
            let mut parts: Vec<Vec<u8>> = vec![rc.schema.as_bytes().to_vec(), rc.table.as_bytes().to_vec()];
            for (value, position) in image.iter().zip(present) {
                if rc.columns.iter().any(|c| c.index == *position && c.key) {
                    parts.push(stable_bytes(value));
                }
            }
            let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            fnv1a(&refs)
        }
        None => fnv1a(&[shard.as_bytes()]),
    };
    (hash % u64::from(channels.max(1))) as u32
}

/// A value's bytes for [`route`]: fixed by this function (the routing of
/// a THL must not change between two runs of a service).
fn stable_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Null => b"n".to_vec(),
        Value::Int(i) => format!("i{i}").into_bytes(),
        Value::UInt(u) => format!("u{u}").into_bytes(),
        Value::Decimal(d) => format!("d{d}").into_bytes(),
        Value::Bytes(b) => b.clone(),
        Value::Float(f) => format!("f{}", f.to_bits()).into_bytes(),
        Value::Double(d) => format!("g{}", d.to_bits()).into_bytes(),
        Value::Year(y) => format!("y{y}").into_bytes(),
        Value::Enum(e) => format!("e{e}").into_bytes(),
        Value::Set(s) | Value::Bit(s) => format!("s{s}").into_bytes(),
        Value::Date(d) => format!("t{}-{}-{}", d.year, d.month, d.day).into_bytes(),
        Value::DateTime(d) => format!(
            "t{}-{}-{} {}:{}:{}.{}",
            d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros
        )
        .into_bytes(),
        Value::Timestamp { secs, micros } => format!("t{secs}.{micros}").into_bytes(),
        Value::Time(t) => format!("t{}{}:{}:{}.{}", t.negative, t.hours, t.minutes, t.seconds, t.micros).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::{ColumnSpec, RowAction, RowFlags, RowImage};

    fn column(name: &str, compare: Compare) -> KeyColumn {
        KeyColumn {
            name: name.into(),
            compare,
            prefix: None,
        }
    }

    fn index(id: &str, columns: Vec<KeyColumn>) -> KeyIndex {
        KeyIndex { id: id.into(), columns }
    }

    /// `t (id INT PRIMARY KEY, u VARCHAR(10) UNIQUE, n INT)` in a
    /// case-insensitive collation.
    fn table() -> TableKeys {
        TableKeys::Keys {
            unique: vec![
                index("s.t\u{1}PRIMARY", vec![column("id", Compare::Exact)]),
                index("s.t\u{1}u", vec![column("u", Compare::FoldAscii)]),
            ],
            parents: vec![],
            always: vec![],
            has_primary: true,
            table_id: "s.t".into(),
        }
    }

    fn changes(action: RowAction, rows: Vec<RowImage>) -> RowChanges {
        let mut id = ColumnSpec::of_type(0, "id", 3);
        id.key = true;
        let all = vec![0, 1, 2];
        RowChanges {
            schema: "s".into(),
            table: "t".into(),
            action,
            columns: vec![id, ColumnSpec::of_type(1, "u", 15), ColumnSpec::of_type(2, "n", 3)],
            before_columns: if action == RowAction::Insert {
                vec![]
            } else {
                all.clone()
            },
            after_columns: if action == RowAction::Delete { vec![] } else { all },
            flags: RowFlags::default(),
            rows,
        }
    }

    fn row(id: i64, u: Option<&str>) -> Vec<Value> {
        vec![
            Value::Int(id),
            u.map_or(Value::Null, |u| Value::Bytes(u.as_bytes().to_vec())),
            Value::Int(0),
        ]
    }

    fn insert(id: i64, u: Option<&str>) -> Vec<Key> {
        let mut keys = Vec::new();
        let rc = changes(
            RowAction::Insert,
            vec![RowImage {
                before: vec![],
                after: row(id, u),
            }],
        );
        assert!(row_keys(&rc, &table(), &mut keys));
        keys
    }

    #[test]
    fn values_equal_on_the_target_make_one_key() {
        assert_eq!(
            insert(1, Some("Abc  ")),
            insert(1, Some("aBC")),
            "case and trailing spaces"
        );
        assert_ne!(insert(1, Some("abc")), insert(1, Some("abd")));
        // Not ASCII in a case-insensitive collation: a wildcard.
        assert!(insert(1, Some("é")).contains(&Key::Wild {
            index: fnv1a(&["s.t\u{1}u".as_bytes()])
        }));
        // A NULL part: no key of that index (one key, the primary key's).
        assert_eq!(insert(1, None).len(), 1);
        let exact = |v: Value| normalise(&v, &column("c", Compare::Exact));
        assert_eq!(exact(Value::Int(5)), exact(Value::UInt(5)));
        assert_eq!(exact(Value::Double(-0.0)), exact(Value::Double(0.0)));
        assert_eq!(
            exact(Value::Decimal("-012.3400".into())),
            exact(Value::Decimal("-12.34".into()))
        );
        assert_eq!(exact(Value::Decimal("-0.00".into())), exact(Value::Decimal("0".into())));
        let pad_zero = |b: &[u8]| normalise(&Value::Bytes(b.to_vec()), &column("c", Compare::PadZero));
        assert_eq!(pad_zero(b"ab\0\0"), pad_zero(b"ab"));
        let prefix = KeyColumn {
            prefix: Some(3),
            ..column("c", Compare::PadSpace)
        };
        assert_eq!(
            normalise(&Value::Bytes(b"abcdef".to_vec()), &prefix),
            normalise(&Value::Bytes(b"abcxyz".to_vec()), &prefix),
            "an index on a prefix sees the prefix"
        );
        assert_eq!(normalise(&Value::Bytes("é".into()), &prefix), None);
    }

    #[test]
    fn a_transaction_waits_for_the_last_writer_of_its_keys_on_other_channels() {
        let mut h = History::new(3);
        let w = |seqno, channel| Writer {
            seqno: Seqno(seqno),
            channel,
        };
        assert_eq!(h.depend(&insert(1, Some("a")), w(1, 0)), vec![]);
        assert_eq!(
            h.depend(&insert(2, Some("b")), w(2, 1)),
            vec![],
            "other keys: independent"
        );
        // Same primary key, same channel: the channel keeps the order.
        assert_eq!(h.depend(&insert(1, Some("c")), w(3, 0)), vec![]);
        // Same unique value as seqno 2 (other channel): waits for it.
        assert_eq!(h.depend(&insert(4, Some("B")), w(4, 2)), vec![(1, Seqno(2))]);
        // A wildcard of the unique key waits for its last writer on every channel.
        assert_eq!(
            h.depend(&insert(5, Some("é")), w(5, 2)),
            vec![(0, Seqno(3)), (1, Seqno(2))]
        );
        // ... and every later value of that index waits for the wildcard.
        assert_eq!(h.depend(&insert(6, Some("z")), w(6, 1)), vec![(2, Seqno(5))]);
        // What is committed is forgotten.
        h.forget_committed(&[Some(Seqno(3)), Some(Seqno(6)), Some(Seqno(5))]);
        assert_eq!(h.entries(), 0);
    }

    #[test]
    fn rows_without_a_primary_or_unique_key_take_their_table_key() {
        let keyless = TableKeys::Keys {
            unique: vec![index("s.t\u{1}u", vec![column("u", Compare::FoldAscii)])],
            parents: vec![],
            always: vec![],
            has_primary: false,
            table_id: "s.t".into(),
        };
        let keys = |u: Option<&str>| {
            let mut keys = Vec::new();
            let rc = changes(
                RowAction::Delete,
                vec![RowImage {
                    before: row(1, u),
                    after: vec![],
                }],
            );
            assert!(row_keys(&rc, &keyless, &mut keys));
            keys
        };
        assert_eq!(
            keys(None),
            vec![constant("s.t\u{4}")],
            "a NULL unique part: the table's key"
        );
        assert_ne!(keys(Some("a")), vec![constant("s.t\u{4}")]);
        assert!(!row_keys(
            &changes(RowAction::Insert, vec![]),
            &TableKeys::Serial("MyISAM".into()),
            &mut Vec::new()
        ));
    }

    #[test]
    fn a_transaction_with_too_many_keys_runs_alone() {
        let rows = (0..=MAX_TXN_KEYS as i64)
            .map(|i| RowImage {
                before: vec![],
                after: row(i, None),
            })
            .collect();
        assert!(!row_keys(&changes(RowAction::Insert, rows), &table(), &mut Vec::new()));
    }

    #[test]
    fn the_route_is_pinned_by_the_thl_bytes() {
        // Golden: a restart must route every transaction as before.
        let rc = changes(
            RowAction::Insert,
            vec![RowImage {
                before: vec![],
                after: row(42, Some("x")),
            }],
        );
        // (schema, table, primary key "i42"), each length-prefixed.
        assert_eq!(fnv1a(&[b"s", b"t", b"i42"]), 0x4014_8668_c50c_e3b4);
        let golden: Vec<u32> = (1..=8).map(|n| route(Some(&rc), "s", n)).collect();
        assert_eq!(golden, vec![0, 0, 2, 0, 3, 2, 1, 4]);
        assert_eq!(route(None, "shop", 4), (fnv1a(&[b"shop"]) % 4) as u32);
    }
}

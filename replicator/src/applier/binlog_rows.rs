//! Row changes as `BINLOG '<base64>'` statements: the target's own row-event
//! applier applies them, with the semantics of its native replica.
//!
//! # Why
//!
//! A MariaDB replica applies rows events through the handler interface, not
//! through SQL: triggers on the target do not fire (the source logged what
//! its own triggers wrote), columns the target computes (virtual and stored
//! generated columns, the long-unique hash `DB_ROW_HASH_n`, system-versioning
//! `row_start`/`row_end` when it fills them) are computed by the target,
//! values are stored from their binary form (no charset conversion, no
//! `sql_mode` coercion: zero and invalid dates, UUID and INET6 are exact), and
//! foreign key and unique checks follow the flags of each rows event. The
//! `BINLOG` statement (what `mariadb-binlog` prints) runs exactly that code on
//! a client connection; `binlog::encode` writes the events from the THL.
//!
//! # Invariants
//!
//! * A statement holds the TABLE_MAPs of its tables first, then the rows
//!   events in THL order; only its last rows event carries STMT_END (which
//!   ends the server's statement: table locks released, table ids
//!   forgotten). So each statement is self-contained.
//! * The server takes the foreign key and unique check switches from the
//!   first rows event of a statement: one statement only holds row changes
//!   with equal [`RowFlags`](thl::event::RowFlags) ([`runs`]).
//! * The connection has read a FORMAT_DESCRIPTION before its first `BINLOG`
//!   (the applier sends [`format_description_statement`] after connecting).
//! * The base64 of a large statement is not sent as SQL text: the server's
//!   lexer would scan and convert every byte of the literal (a sixth of the
//!   server's time on a 50k-row transaction). Above [`INLINE_BASE64`] bytes
//!   it is bound as a parameter of a prepared `SET @binlog_fragment_0=?`
//!   (binary protocol: copied as is), then `BINLOG @binlog_fragment_0,
//!   @binlog_fragment_1` runs it; `BINLOG` sets both variables to NULL as it
//!   reads them. Smaller ones go inline, in one round trip.
//! * Statements are bounded by the target's `max_allowed_packet`: a run is cut
//!   before it outgrows `max_bytes`; one row change that alone is larger is
//!   sent alone, and one longer than the packet limit itself goes in the
//!   fragment form that `mariadb-binlog` prints for large events (the
//!   base64 in two user variables, each assignment within the limit, then
//!   `BINLOG @binlog_fragment_0, @binlog_fragment_1`), so rows up to about
//!   1.5 times `max_allowed_packet` apply as on a native replica (which
//!   reads them with `slave_max_allowed_packet`); an update or delete that
//!   is still too long goes with its before image cut to the primary key
//!   (as `binlog_row_image=MINIMAL` logs it: the target finds the row by
//!   that key); a larger one is an error that names the setting and the
//!   size it needs.
//!
//! Privileges: `BINLOG` needs `BINLOG REPLAY` (MariaDB 10.5.2+) or `SUPER`.

use base64::Engine as _;
use thl::event::{Change, RowAction, RowChanges, Statement};

use crate::binlog::encode::{EncodeError, EventWriter};

/// The user variables of the fragment form (`mariadb-binlog`'s names).
const FRAGMENTS: [&str; 2] = ["@binlog_fragment_0", "@binlog_fragment_1"];
/// What a fragment assignment (`SET @binlog_fragment_0='...'`), or the
/// execution of [`BIND_BASE64`], adds to its base64.
const FRAGMENT_OVERHEAD: usize = 64;
/// Base64 up to this length goes inline (`BINLOG '...'`, one round trip);
/// longer is bound as a parameter ([`Step::Bind`]).
pub const INLINE_BASE64: usize = 64 << 10;
/// The prepared statement of [`Step::Bind`].
pub const BIND_BASE64: &str = "SET @binlog_fragment_0=?, @binlog_fragment_1=''";
/// The statement that applies the fragments.
const BINLOG_FRAGMENTS: &str = "BINLOG @binlog_fragment_0, @binlog_fragment_1";

/// One step of the SQL that applies a `BINLOG` statement, run in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A query sent as text.
    Query(String),
    /// The base64, bound to [`BIND_BASE64`] (executed as a prepared
    /// statement: the server's lexer never sees it).
    Bind(String),
}

/// The steps that apply `events`: one `BINLOG '...'` up to
/// [`INLINE_BASE64`], else the base64 bound as a parameter while it fits
/// in `packet_limit`, else the fragment form (see the module invariants).
/// `None` when even two fragments would not fit.
fn binlog_sql(events: &[u8], packet_limit: usize) -> Option<Vec<Step>> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(events);
    if b64.len() <= INLINE_BASE64 && b64.len() + "BINLOG ''".len() <= packet_limit {
        return Some(vec![Step::Query(format!("BINLOG '{b64}'"))]);
    }
    if b64.len() + FRAGMENT_OVERHEAD <= packet_limit {
        return Some(vec![Step::Bind(b64), Step::Query(BINLOG_FRAGMENTS.to_owned())]);
    }
    let room = packet_limit.saturating_sub(FRAGMENT_OVERHEAD) / 4 * 4;
    if b64.len() > 2 * room {
        return None;
    }
    // Cut at a multiple of 4 (whole base64 quanta), both halves within room.
    let half = b64.len().div_ceil(8) * 4;
    let (first, second) = b64.split_at(half);
    Some(vec![
        Step::Query(format!("SET {}='{first}'", FRAGMENTS[0])),
        Step::Query(format!("SET {}='{second}'", FRAGMENTS[1])),
        Step::Query(BINLOG_FRAGMENTS.to_owned()),
        Step::Query(format!("SET {}=NULL, {}=NULL", FRAGMENTS[0], FRAGMENTS[1])),
    ])
}

/// The change with its before images cut to the primary key's columns (as
/// `binlog_row_image=MINIMAL` logs them): the target's row applier finds
/// each row by that key alone, so the rows event shrinks by the rest of the
/// row. `None` for inserts, without a complete primary key in the before
/// image, or when nothing would be cut.
fn key_only_before(rc: &RowChanges) -> Option<RowChanges> {
    if rc.action == RowAction::Insert {
        return None;
    }
    let is_key = |c: u16| rc.columns.get(usize::from(c)).is_some_and(|spec| spec.key);
    let keep: Vec<usize> = (0..rc.before_columns.len())
        .filter(|&i| is_key(rc.before_columns[i]))
        .collect();
    let key_columns = rc.columns.iter().filter(|c| c.key).count();
    if key_columns == 0 || keep.len() != key_columns || keep.len() == rc.before_columns.len() {
        return None;
    }
    let mut out = rc.clone();
    out.before_columns = keep.iter().map(|&i| rc.before_columns[i]).collect();
    for (row, original) in out.rows.iter_mut().zip(&rc.rows) {
        row.before = keep.iter().filter_map(|&i| original.before.get(i).cloned()).collect();
    }
    Some(out)
}

/// `BINLOG '` + base64 + `'`.
fn statement(events: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut s = String::with_capacity(10 + events.len().div_ceil(3) * 4);
    s.push_str("BINLOG '");
    b64.encode_string(events, &mut s);
    s.push('\'');
    s
}

/// The `BINLOG` statement of a FORMAT_DESCRIPTION: sent once per connection.
pub fn format_description_statement() -> String {
    let mut events = Vec::with_capacity(256);
    EventWriter::new(0, 0).format_description(&mut events);
    statement(&events)
}

/// Splits an event's changes into runs: statements alone, and maximal runs
/// of consecutive row changes with equal flags (one `BINLOG` statement each,
/// see the module invariants). Empty row changes are dropped.
pub fn runs(changes: &[Change]) -> Vec<Run<'_>> {
    let mut out: Vec<Run<'_>> = Vec::new();
    for change in changes {
        match change {
            Change::Statement(s) => out.push(Run::Statement(s)),
            Change::Rows(rc) if rc.rows.is_empty() => {}
            Change::Rows(rc) => match out.last_mut() {
                Some(Run::Rows(run)) if run[0].flags == rc.flags => run.push(rc),
                _ => out.push(Run::Rows(vec![rc])),
            },
        }
    }
    out
}

/// A piece of an event to apply.
#[derive(Debug)]
pub enum Run<'a> {
    /// A statement, replayed as SQL.
    Statement(&'a Statement),
    /// Row changes with equal flags, in THL order.
    Rows(Vec<&'a RowChanges>),
}

/// The SQL of one `BINLOG` statement (run in order) and the index range of
/// the run's changes it applies.
pub type RowStatement = (Vec<Step>, std::ops::Range<usize>);

/// The `BINLOG` statements for a run of row changes: each at most about
/// `max_bytes` long (a single larger row change stands alone, in the
/// fragment form when longer than `packet_limit`). Each item is the SQL to
/// run in order and the index range of the run it covers.
pub fn row_statements(
    run: &[&RowChanges],
    server_id: u32,
    timestamp: u32,
    max_bytes: usize,
    packet_limit: usize,
) -> Result<Vec<RowStatement>, EncodeError> {
    let w = EventWriter::new(server_id, timestamp);
    // Base64 is 4/3 of the bytes: keep the events below 3/4 of the limit.
    let max_events = max_bytes / 4 * 3;
    // One table id per table of the run (a table mapped twice in one
    // statement would be opened twice), and each change's rows events under
    // it, without STMT_END (the last change of a statement is encoded again
    // with it).
    let ids: Vec<u64> = (0..run.len())
        .map(|k| {
            let first = run[..k]
                .iter()
                .position(|o| o.schema == run[k].schema && o.table == run[k].table);
            first.unwrap_or(k) as u64 + 1
        })
        .collect();
    let mut encoded = Vec::with_capacity(run.len());
    // What each change adds to a statement at most: its rows events and a
    // TABLE_MAP (counted even when its table is mapped already).
    let mut cost = Vec::with_capacity(run.len());
    for (rc, &id) in run.iter().zip(&ids) {
        let mut buf = Vec::new();
        w.rows(&mut buf, id, rc, false)?;
        let rows_len = buf.len();
        w.table_map(&mut buf, id, rc)?;
        cost.push(buf.len());
        buf.truncate(rows_len);
        encoded.push(buf);
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < run.len() {
        let mut end = start + 1;
        let mut size = cost[start];
        while end < run.len() && size + cost[end] <= max_events {
            size += cost[end];
            end += 1;
        }
        let mut events = Vec::with_capacity(size + 256 * (end - start));
        for k in start..end {
            if !ids[start..k].contains(&ids[k]) {
                w.table_map(&mut events, ids[k], run[k])?;
            }
        }
        for bytes in &encoded[start..end - 1] {
            events.extend_from_slice(bytes);
        }
        w.rows(&mut events, ids[end - 1], run[end - 1], true)?;
        let mut sql = binlog_sql(&events, packet_limit);
        if sql.is_none() && end - start == 1 {
            if let Some(reduced) = key_only_before(run[start]) {
                events.clear();
                w.table_map(&mut events, ids[start], &reduced)?;
                w.rows(&mut events, ids[start], &reduced, true)?;
                sql = binlog_sql(&events, packet_limit);
            }
        }
        let sql = sql.ok_or_else(|| EncodeError {
            table: format!("{}.{}", run[start].schema, run[start].table),
            column: None,
            message: format!(
                "its rows event is {} bytes, {} in base64: more than two fragments of the target's \
                 max_allowed_packet hold; raise max_allowed_packet on the target to at least {} bytes",
                events.len(),
                events.len().div_ceil(3) * 4,
                (events.len().div_ceil(3) * 4).div_ceil(2) + FRAGMENT_OVERHEAD + 4096
            ),
        })?;
        out.push((sql, start..end));
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use thl::event::{RowAction, RowChanges, RowFlags, RowImage, Value};

    use super::{binlog_sql, key_only_before, row_statements, Step, BIND_BASE64, BINLOG_FRAGMENTS};
    use crate::binlog::encode::EventWriter;
    use crate::binlog::encode_tests::col;
    use crate::binlog::{BinlogEvent, Decoder};

    fn change(table: &str, ids: std::ops::Range<i64>) -> RowChanges {
        RowChanges {
            schema: "db".into(),
            table: table.into(),
            action: RowAction::Insert,
            columns: vec![col(0, 3, 0), col(1, 252, 2)],
            before_columns: vec![],
            after_columns: vec![0, 1],
            flags: RowFlags::default(),
            rows: ids
                .map(|i| RowImage {
                    before: vec![],
                    after: vec![Value::Int(i), Value::Bytes(vec![b'x'; 3000])],
                })
                .collect(),
        }
    }

    /// Decodes the events of `BINLOG` statements (after a FORMAT_DESCRIPTION)
    /// and returns the ids of the rows, and per statement whether its last
    /// rows event ends the statement and no other does.
    fn decode(statements: &[Vec<Step>]) -> (Vec<i64>, Vec<bool>) {
        let mut dec = Decoder::new("statements");
        let mut fde = Vec::new();
        EventWriter::new(0, 0).format_description(&mut fde);
        dec.decode(&fde, 4).expect("format description");
        let (mut ids, mut well_ended) = (Vec::new(), Vec::new());
        for sql in statements {
            let b64 = base64_of(sql);
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
            let mut rest = &bytes[..];
            let mut ends = Vec::new();
            while !rest.is_empty() {
                let size = u32::from_le_bytes([rest[9], rest[10], rest[11], rest[12]]) as usize;
                let (event, after) = rest.split_at(size);
                if let BinlogEvent::Rows(r) = dec.decode(event, 0).expect("event decodes") {
                    ends.push(r.stmt_end());
                    ids.extend(r.changes.rows.iter().map(|row| match row.after[0] {
                        Value::Int(i) => i,
                        _ => -1,
                    }));
                }
                rest = after;
            }
            well_ended.push(ends.last() == Some(&true) && ends.iter().filter(|e| **e).count() == 1);
        }
        (ids, well_ended)
    }

    /// The base64 that the steps of one statement hand to `BINLOG`.
    fn base64_of(steps: &[Step]) -> String {
        let text = |step: &Step| match step {
            Step::Query(q) => q.clone(),
            Step::Bind(b) => panic!("a bound fragment where a query was expected: {} bytes", b.len()),
        };
        match steps {
            [one] => text(one)
                .strip_prefix("BINLOG '")
                .and_then(|s| s.strip_suffix('\''))
                .expect("a BINLOG statement")
                .to_owned(),
            [Step::Bind(b64), binlog] => {
                assert_eq!(text(binlog), BINLOG_FRAGMENTS);
                b64.clone()
            }
            [a, b, binlog, reset] => {
                assert_eq!(text(binlog), BINLOG_FRAGMENTS);
                assert_eq!(text(reset), "SET @binlog_fragment_0=NULL, @binlog_fragment_1=NULL");
                let value = |s: String, var: &str| {
                    s.strip_prefix(&format!("SET {var}='"))
                        .and_then(|s| s.strip_suffix('\''))
                        .expect("a fragment assignment")
                        .to_owned()
                };
                value(text(a), "@binlog_fragment_0") + &value(text(b), "@binlog_fragment_1")
            }
            other => panic!("unexpected steps {other:?}"),
        }
    }

    /// The length of what a step sends.
    fn sent(step: &Step) -> usize {
        match step {
            Step::Query(q) => q.len(),
            Step::Bind(b) => b.len() + BIND_BASE64.len(),
        }
    }

    #[test]
    fn before_images_cut_to_the_primary_key_only_for_updates_and_deletes() {
        let insert = change("t", 0..2);
        assert!(key_only_before(&insert).is_none());
        let mut update = insert.clone();
        update.action = RowAction::Update;
        update.before_columns = vec![0, 1];
        for row in &mut update.rows {
            row.before = row.after.clone();
        }
        let cut = key_only_before(&update).expect("column 0 is the key");
        assert_eq!(cut.before_columns, vec![0]);
        assert_eq!(cut.rows[1].before, vec![Value::Int(1)]);
        assert_eq!(cut.rows[1].after, update.rows[1].after);
        // Nothing to cut, or no key: left as is.
        assert!(key_only_before(&cut).is_none());
        let mut keyless = update.clone();
        keyless.columns[0].key = false;
        assert!(key_only_before(&keyless).is_none());
    }

    #[test]
    fn small_statements_go_inline_large_ones_bound_and_the_largest_in_two_fragments() {
        let small: Vec<u8> = (0..=255u8).cycle().take(3_000).collect();
        let inline = binlog_sql(&small, 1 << 20).expect("fits");
        assert!(matches!(&inline[..], [Step::Query(q)] if q.starts_with("BINLOG '")));
        // Over INLINE_BASE64 (about 64 KiB): bound, so the lexer never sees it.
        let events: Vec<u8> = (0..=255u8).cycle().take(60_000).collect();
        let bound = binlog_sql(&events, 1 << 20).expect("fits");
        assert!(
            matches!(&bound[..], [Step::Bind(_), Step::Query(_)]),
            "bound, then BINLOG: {} steps",
            bound.len()
        );
        let b64 = base64_of(&bound);
        assert_eq!(b64.len(), 80_000);
        // Over the packet limit: two text fragments, each within it.
        let limit = 48_000;
        let parts = binlog_sql(&events, limit).expect("two fragments fit");
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|p| sent(p) <= limit), "a fragment over the limit");
        assert_eq!(base64_of(&parts), b64);
        // The first fragment is whole base64 quanta.
        assert_eq!(
            sent(&parts[0]) - "SET @binlog_fragment_0=''".len(),
            b64.len().div_ceil(8) * 4
        );
        assert!(binlog_sql(&events, 39_000).is_none(), "80 KB of base64 in 2 x 39 KB");
    }

    #[test]
    fn runs_are_cut_under_the_packet_limit_and_every_statement_ends_itself() {
        let (a, b, c) = (change("a", 0..10), change("b", 10..20), change("a", 20..30));
        let run = [&a, &b, &c];
        // Everything fits: one statement, the table `a` mapped once.
        let one = row_statements(&run, 1, 0, 16 << 20, 16 << 20).expect("encodes");
        assert_eq!(one.len(), 1);
        let (ids, ends) = decode(&one.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
        assert_eq!(ids, (0..30).collect::<Vec<_>>());
        assert_eq!(ends, vec![true]);
        // A limit below two changes: one statement per change, each under it.
        let limit = 64 << 10;
        let cut = row_statements(&run, 1, 0, limit, limit).expect("encodes");
        assert_eq!(
            cut.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
            vec![0..1, 1..2, 2..3]
        );
        assert!(
            cut.iter().all(|(s, _)| s.iter().all(|step| sent(step) <= limit)),
            "a statement over the limit"
        );
        let (ids, ends) = decode(&cut.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>());
        assert_eq!(ids, (0..30).collect::<Vec<_>>());
        assert_eq!(ends, vec![true, true, true]);
    }
}

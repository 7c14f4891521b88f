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
//! * Statements are bounded by the target's `max_allowed_packet`: a run is cut
//!   before it outgrows `max_bytes` (one row change that alone is larger is
//!   sent alone, and the server's refusal names the setting).
//!
//! Privileges: `BINLOG` needs `BINLOG REPLAY` (MariaDB 10.5.2+) or `SUPER`.

use base64::Engine as _;
use thl::event::{Change, RowChanges, Statement};

use crate::binlog::encode::{EncodeError, EventWriter};

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

/// The `BINLOG` statements for a run of row changes: each at most about
/// `max_bytes` long (a single larger row change stands alone). Each item is
/// the statement and the index range of the run it covers.
pub fn row_statements(
    run: &[&RowChanges],
    server_id: u32,
    timestamp: u32,
    max_bytes: usize,
) -> Result<Vec<(String, std::ops::Range<usize>)>, EncodeError> {
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
    for (rc, &id) in run.iter().zip(&ids) {
        let mut buf = Vec::new();
        w.rows(&mut buf, id, rc, false)?;
        encoded.push(buf);
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < run.len() {
        let mut end = start + 1;
        let mut size = encoded[start].len();
        while end < run.len() && size + encoded[end].len() <= max_events {
            size += encoded[end].len();
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
        out.push((statement(&events), start..end));
        start = end;
    }
    Ok(out)
}

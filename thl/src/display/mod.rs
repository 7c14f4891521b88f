//! Events as text, for the `thl` tool and for debug output elsewhere (no IO).
//!
//! Layouts (`thl list`):
//!
//! * [`format_event`]: Tungsten's default layout, one block per fragment:
//!
//!   ```text
//!   SEQ# = 12 / FRAG# = 0 (last frag)
//!   - TIME = 2026-11-26 10:11:12.0
//!   - EPOCH# = 0
//!   - EVENTID = mysql-bin.000002:0000000000001234;17
//!   - SOURCEID = host1.alpha
//!   - METADATA = [mysql_server_id=1;dbms_type=mysql;gtid=0-1-12;shard=test]
//!   - TYPE = com.continuent.tungsten.replicator.event.ReplDBMSEvent
//!   - OPTIONS = [##charset = UTF-8, autocommit = 1, ...]
//!   - SCHEMA = test
//!   - SQL(0) = CREATE TABLE t (...)
//!   - SQL(1) =
//!    - ACTION = UPDATE
//!    - SCHEMA = test
//!    - TABLE = t
//!    - ROW# = 0
//!     - COL(1: id) = 1
//!     - COL(2: name) = abc
//!     - KEY(1: id) = 1
//!   ```
//!
//!   Times are UTC, printed like Java's `Timestamp.toString()`. `TYPE` keeps
//!   Tungsten's class names ([`EVENT_TYPE`], [`FILTERED_EVENT_TYPE`]) so
//!   scripts written for Tungsten's output keep working. `METADATA` ends
//!   with `shard=<shard_id>` (the header field, where Tungsten shows it)
//!   unless the metadata already has a `shard` option. `OPTIONS` (the
//!   statement's session variables that are present, see
//!   [`format_options`]) and `SCHEMA` (when the default database changes
//!   within the event) precede each statement. Row changes print the after
//!   image as `COL` and the before image as `KEY` lines; column numbers are
//!   1-based, the name is empty when unknown. Values: [`display_value`].
//!   A filtered range prints `## Filtered events ##` and the range.
//! * [`header_line`]: `-headers`, one tab-separated line per fragment:
//!   `seqno epoch fragno lastFrag time eventId sourceId comments`, where
//!   comments is the shard id (or `filtered <seqno>-<seqno_end>`).
//! * [`HeaderJson`]: `-headers -json`, one object per fragment (the tool
//!   prints them as a JSON array).
//! * [`event_json`]: `-json` alone: the whole [`ReplEvent`] serialized by
//!   serde, one compact JSON object per line (JSON Lines). It reads back
//!   into a `ReplEvent` with `serde_json::from_str`; byte strings are
//!   arrays of numbers.
//! * [`SqlScript`]: `-sql`, re-executable SQL (real `INSERT`/`UPDATE`/
//!   `DELETE` for row changes, literals from [`sql_literal`]).

mod session;
mod sql;
mod value;

use serde::Serialize;

use crate::event::{Change, Epoch, EventHeader, ReplEvent, RowChanges, Seqno, Statement};

pub use session::{charset_of_collation, format_options, session_options, sql_mode_names, SQL_MODE_BITS};
pub use sql::{quote_ident, row_sql, SqlScript};
pub use value::{civil_from_days, display_value, format_time_ms, fraction, fsp, sql_literal, utc_datetime};

/// `TYPE` of an ordinary event (Tungsten's class name).
pub const EVENT_TYPE: &str = "com.continuent.tungsten.replicator.event.ReplDBMSEvent";
/// `TYPE` of a filtered range (Tungsten's class name).
pub const FILTERED_EVENT_TYPE: &str = "com.continuent.tungsten.replicator.event.ReplDBMSFilteredEvent";

/// `SEQ# = 12 / FRAG# = 0 (last frag)`.
pub fn seq_line(h: &EventHeader) -> String {
    format!(
        "SEQ# = {} / FRAG# = {}{}",
        h.seqno,
        h.fragno,
        if h.last_frag { " (last frag)" } else { "" }
    )
}

/// One line naming a fragment: `SEQ# = 12 / FRAG# = 0 (last frag) / EPOCH#
/// = 0 / EVENTID = ...` (the `-sql` comments).
pub fn header_summary(h: &EventHeader) -> String {
    format!(
        "{} / EPOCH# = {} / TIME = {} / EVENTID = {} / SOURCEID = {}",
        seq_line(h),
        h.epoch,
        format_time_ms(h.source_tstamp_ms),
        h.event_id,
        h.source_id
    )
}

/// `## Filtered events ## seqno A..=B (N events)`.
pub fn filtered_range_text(h: &EventHeader) -> String {
    let n = h.seqno_end.0.saturating_sub(h.seqno.0).saturating_add(1);
    format!("## Filtered events ## seqno {}..={} ({n} events)", h.seqno, h.seqno_end)
}

fn push_header_lines(out: &mut String, h: &EventHeader) {
    out.push_str(&seq_line(h));
    out.push('\n');
    out.push_str(&format!("- TIME = {}\n", format_time_ms(h.source_tstamp_ms)));
    out.push_str(&format!("- EPOCH# = {}\n", h.epoch));
    out.push_str(&format!("- EVENTID = {}\n", h.event_id));
    out.push_str(&format!("- SOURCEID = {}\n", h.source_id));
}

fn metadata_text(ev: &ReplEvent) -> String {
    let mut parts: Vec<String> = ev.body.metadata.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if !ev.header.shard_id.is_empty() && ev.body.metadata_value("shard").is_none() {
        parts.push(format!("shard={}", ev.header.shard_id));
    }
    format!("[{}]", parts.join(";"))
}

/// One fragment in Tungsten's default `thl list` layout (every line ends
/// in `\n`).
pub fn format_event(ev: &ReplEvent) -> String {
    let h = &ev.header;
    let mut out = String::new();
    push_header_lines(&mut out, h);
    out.push_str(&format!("- METADATA = {}\n", metadata_text(ev)));
    if h.is_filtered() {
        out.push_str(&format!("- TYPE = {FILTERED_EVENT_TYPE}\n"));
        out.push_str(&filtered_range_text(h));
        out.push('\n');
        return out;
    }
    out.push_str(&format!("- TYPE = {EVENT_TYPE}\n"));
    let mut schema: Option<&str> = None;
    for (i, c) in ev.body.changes.iter().enumerate() {
        match c {
            Change::Statement(s) => push_statement(&mut out, i, s, &mut schema),
            Change::Rows(r) => push_rows(&mut out, i, r),
        }
    }
    out
}

/// The header lines of a fragment whose body cannot be decoded, then
/// `- ERROR = <reason>`.
pub fn format_undecodable(h: &EventHeader, reason: &str) -> String {
    let mut out = String::new();
    push_header_lines(&mut out, h);
    out.push_str(&format!("- ERROR = {reason}\n"));
    out
}

fn push_statement<'a>(out: &mut String, i: usize, s: &'a Statement, schema: &mut Option<&'a str>) {
    if !session_options(&s.session).is_empty() {
        out.push_str(&format!("- OPTIONS = {}\n", format_options(&s.session)));
    }
    if let Some(db) = s.default_db.as_deref() {
        if *schema != Some(db) {
            out.push_str(&format!("- SCHEMA = {db}\n"));
            *schema = Some(db);
        }
    }
    if s.error_code != 0 {
        out.push_str(&format!("- ERRORCODE = {}\n", s.error_code));
    }
    if let Some(data) = &s.infile {
        out.push_str(&format!("- INFILE = {} bytes\n", data.len()));
    }
    out.push_str(&format!("- SQL({i}) = {}\n", String::from_utf8_lossy(&s.sql)));
}

fn push_rows(out: &mut String, i: usize, r: &RowChanges) {
    out.push_str(&format!("- SQL({i}) =\n"));
    out.push_str(&format!(" - ACTION = {}\n", r.action.as_str()));
    out.push_str(&format!(" - SCHEMA = {}\n", r.schema));
    out.push_str(&format!(" - TABLE = {}\n", r.table));
    for (n, row) in r.rows.iter().enumerate() {
        out.push_str(&format!(" - ROW# = {n}\n"));
        push_image(out, "COL", r, &r.after_columns, &row.after);
        push_image(out, "KEY", r, &r.before_columns, &row.before);
    }
}

fn push_image(out: &mut String, label: &str, r: &RowChanges, cols: &[u16], vals: &[crate::event::Value]) {
    for (k, v) in vals.iter().enumerate() {
        let spec = cols.get(k).and_then(|i| r.columns.get(usize::from(*i)));
        match spec {
            Some(c) => out.push_str(&format!(
                "  - {label}({}: {}) = {}\n",
                u32::from(c.index) + 1,
                c.name,
                display_value(v, c)
            )),
            // A malformed event (image longer than its column list, or an
            // index outside the table): show what is there.
            None => out.push_str(&format!(
                "  - {label}(?{}: ) = {:?}\n",
                cols.get(k)
                    .map_or_else(|| "?".to_string(), |i| (u32::from(*i) + 1).to_string()),
                v
            )),
        }
    }
}

/// The comments column of `-headers`: the shard id, or the filtered range.
pub fn header_comments(h: &EventHeader) -> String {
    if h.is_filtered() {
        format!("filtered {}-{}", h.seqno, h.seqno_end)
    } else {
        h.shard_id.clone()
    }
}

/// `-headers`: `seqno epoch fragno lastFrag time eventId sourceId comments`,
/// tab-separated (no trailing newline).
pub fn header_line(h: &EventHeader) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        h.seqno,
        h.epoch,
        h.fragno,
        h.last_frag,
        format_time_ms(h.source_tstamp_ms),
        h.event_id,
        h.source_id,
        header_comments(h)
    )
}

/// One element of the `-headers -json` array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderJson {
    pub seqno: Seqno,
    pub epoch: Epoch,
    pub frag: u16,
    pub last_frag: bool,
    /// As in the default layout (UTC).
    pub time: String,
    pub event_id: String,
    pub source_id: String,
    /// The shard id, or `filtered A-B` for a filtered range.
    pub comments: String,
    /// The last seqno of a filtered range (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seqno_end: Option<Seqno>,
}

impl HeaderJson {
    pub fn new(h: &EventHeader) -> HeaderJson {
        HeaderJson {
            seqno: h.seqno,
            epoch: h.epoch,
            frag: h.fragno,
            last_frag: h.last_frag,
            time: format_time_ms(h.source_tstamp_ms),
            event_id: h.event_id.clone(),
            source_id: h.source_id.clone(),
            comments: header_comments(h),
            seqno_end: h.is_filtered().then_some(h.seqno_end),
        }
    }
}

/// `-json`: the whole event as one line of JSON (serde's encoding of
/// [`ReplEvent`]).
pub fn event_json(ev: &ReplEvent) -> Result<String, serde_json::Error> {
    serde_json::to_string(ev)
}

#[cfg(test)]
mod tests;

//! Decodes every binlog under `tests/fixtures/binlogs/` (the workspace's) to its end (or, for
//! the malformed ones, to a typed error naming file, offset and reason) and
//! compares a compact rendering with `tests/golden/binlog/<path>.txt`.
//!
//! Regenerate the golden files with `BLESS=1 cargo test -p replicator --test binlog_fixtures`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use replicator::binlog::{event_type_name, BinlogEvent, BinlogFileReader, Decoder, ErrorKind};
use thl::event::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/binlogs");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/binlog");
/// Events rendered in full per file; later events only count and hash.
const DETAIL_EVENTS: usize = 300;
/// Rows rendered in full per rows event.
const DETAIL_ROWS: usize = 5;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("fixture dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_none_or(|e| e != "md") {
            out.push(p);
        }
    }
}

struct Fnv(u64);
impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= u64::from(*x);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

fn bytes_text(b: &[u8], out: &mut String) {
    let printable = std::str::from_utf8(b)
        .ok()
        .filter(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t'));
    match printable {
        Some(s) => {
            let n = s.chars().count();
            let cut: String = s.chars().take(80).collect();
            let _ = write!(out, "{:?}", cut);
            if n > 80 {
                let _ = write!(out, "..({n} chars)");
            }
        }
        None => {
            out.push_str("x'");
            for x in b.iter().take(48) {
                let _ = write!(out, "{x:02x}");
            }
            out.push('\'');
            if b.len() > 48 {
                let _ = write!(out, "..({} bytes)", b.len());
            }
        }
    }
}

fn value_text(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}u");
        }
        Value::Float(f) => {
            let _ = write!(out, "f32:{f:?}");
        }
        Value::Double(f) => {
            let _ = write!(out, "f64:{f:?}");
        }
        Value::Decimal(d) => {
            let _ = write!(out, "dec:{d}");
        }
        Value::Date(d) => {
            let _ = write!(out, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
        }
        Value::DateTime(d) => {
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
                d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros
            );
        }
        Value::Timestamp { secs, micros } => {
            let _ = write!(out, "ts:{secs}.{micros:06}");
        }
        Value::Time(t) => {
            let _ = write!(
                out,
                "time:{}{:02}:{:02}:{:02}.{:06}",
                if t.negative { "-" } else { "" },
                t.hours,
                t.minutes,
                t.seconds,
                t.micros
            );
        }
        Value::Year(y) => {
            let _ = write!(out, "year:{y}");
        }
        Value::Bit(b) => {
            let _ = write!(out, "bit:{b:#x}");
        }
        Value::Enum(e) => {
            let _ = write!(out, "enum:{e}");
        }
        Value::Set(s) => {
            let _ = write!(out, "set:{s:#x}");
        }
        Value::Bytes(b) => bytes_text(b, out),
    }
}

fn values_text(vs: &[Value], out: &mut String) {
    out.push('(');
    for (i, v) in vs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        value_text(v, out);
    }
    out.push(')');
}

/// One event as lines of text: (summary, full detail).
fn event_text(ev: &BinlogEvent, out: &mut String, detail_rows: usize) {
    match ev {
        BinlogEvent::FormatDescription(f) => {
            let _ = write!(
                out,
                "v{} server={:?} checksum={:?}",
                f.binlog_version, f.server_version, f.checksum_alg
            );
        }
        BinlogEvent::Rotate { file, pos } => {
            let _ = write!(out, "{file}:{pos}");
        }
        BinlogEvent::MariaGtid(g) => {
            let _ = write!(
                out,
                "{} flags={:#04x} standalone={} commit_id={:?}",
                g.to_text(),
                g.flags,
                g.standalone(),
                g.commit_id
            );
        }
        BinlogEvent::MysqlGtid(g) => {
            let _ = write!(
                out,
                "{}{} last_committed={:?} seq={:?}",
                if g.anonymous { "anonymous " } else { "" },
                g.to_text(),
                g.last_committed,
                g.sequence_number
            );
        }
        BinlogEvent::GtidList { gtids, flags } => {
            let l: Vec<String> = gtids
                .iter()
                .map(|g| format!("{}-{}-{}", g.domain_id, g.server_id, g.seq_no))
                .collect();
            let _ = write!(out, "[{}] flags={flags}", l.join(","));
        }
        BinlogEvent::PreviousGtids(s) => {
            let _ = write!(out, "{s:?}");
        }
        BinlogEvent::BinlogCheckpoint { file } => out.push_str(file),
        BinlogEvent::Query(q) => {
            let s = &q.status.session;
            let _ = write!(
                out,
                "db={:?} thread={} exec={} err={} ts_us={:?} sql_mode={:?} charset={:?}/{:?}/{:?} coll_db={:?} tz={:?} ac={:?} fk={:?} uc={:?} xid={:?} unknown_var={:?} sql=",
                q.default_db,
                q.thread_id,
                q.exec_time,
                q.error_code,
                s.timestamp_us,
                s.sql_mode,
                s.charset_client,
                s.collation_connection,
                s.collation_server,
                s.collation_database,
                s.time_zone,
                s.autocommit,
                s.foreign_key_checks,
                s.unique_checks,
                q.status.xid,
                q.status.unknown_key
            );
            bytes_text(&q.sql, out);
        }
        BinlogEvent::Xid(x) => {
            let _ = write!(out, "{x}");
        }
        BinlogEvent::XaPrepare(x) => {
            let _ = write!(out, "{}", x.statement());
        }
        BinlogEvent::IntVar { kind, value } => {
            let _ = write!(out, "kind={kind} value={value}");
        }
        BinlogEvent::Rand { seed1, seed2 } => {
            let _ = write!(out, "{seed1},{seed2}");
        }
        BinlogEvent::UserVar(u) => {
            let _ = write!(out, "@{} coll={:?} unsigned={} = ", u.name, u.collation, u.unsigned);
            value_text(&u.value, out);
        }
        BinlogEvent::Annotate(sql) => bytes_text(sql, out),
        BinlogEvent::TableMap(tm) => {
            let _ = write!(out, "id={} {}.{} cols=[", tm.table_id, tm.schema, tm.table);
            for (i, c) in tm.columns.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(
                    out,
                    "{}:{}{}{}{} t={} m={:#x}",
                    if c.name.is_empty() { "?" } else { &c.name },
                    c.type_desc,
                    if c.nullable { "" } else { " not null" },
                    if c.key { " key" } else { "" },
                    c.collation.map(|c| format!(" coll={c}")).unwrap_or_default(),
                    c.type_code,
                    c.type_meta,
                );
            }
            out.push(']');
        }
        BinlogEvent::Rows(r) => {
            let c = &r.changes;
            let _ = write!(
                out,
                "{} {}.{} table_id={} flags={:#x} stmt_end={} before={:?} after={:?} rows={}",
                c.action.as_str(),
                c.schema,
                c.table,
                r.table_id,
                r.flags,
                r.stmt_end(),
                c.before_columns,
                c.after_columns,
                c.rows.len()
            );
            for (i, row) in c.rows.iter().enumerate().take(detail_rows) {
                let _ = write!(out, "\n    row {i}:");
                if !row.before.is_empty() {
                    out.push_str(" before=");
                    values_text(&row.before, out);
                }
                if !row.after.is_empty() {
                    out.push_str(" after=");
                    values_text(&row.after, out);
                }
            }
            if c.rows.len() > detail_rows {
                let _ = write!(out, "\n    ... {} more rows", c.rows.len() - detail_rows);
            }
        }
        BinlogEvent::TransactionPayload {
            compression,
            uncompressed_size,
            events,
        } => {
            let _ = write!(
                out,
                "compression={compression} size={uncompressed_size} events={}",
                events.len()
            );
            for e in events {
                let _ = write!(out, "\n    inner {}: ", e.kind_name());
                event_text(e, out, detail_rows);
            }
        }
        BinlogEvent::Heartbeat { file, log_pos } => {
            let _ = write!(out, "{file}:{log_pos}");
        }
        BinlogEvent::Stop => {}
        BinlogEvent::Incident { kind, message } => {
            let _ = write!(out, "kind={kind} {message:?}");
        }
        BinlogEvent::StartEncryption { scheme, key_version } => {
            let _ = write!(out, "scheme={scheme} key_version={key_version}");
        }
        BinlogEvent::Ignored { event_type } => out.push_str(event_type_name(*event_type)),
        BinlogEvent::LoadBlock(b) => {
            let _ = write!(
                out,
                "file={} first={} bytes={} head={:?}",
                b.file_id,
                b.first,
                b.data.len(),
                String::from_utf8_lossy(&b.data[..b.data.len().min(32)])
            );
        }
        BinlogEvent::ExecuteLoad(e) => {
            let _ = write!(
                out,
                "file={} span={:?} dup={} db={:?} err={} local_sql={:?}",
                e.file_id,
                e.span,
                e.dup_handling,
                e.query.default_db,
                e.query.error_code,
                String::from_utf8_lossy(&replicator::binlog::load_data::rewrite_to_local(e))
            );
        }
        BinlogEvent::DeleteFile { file_id } => {
            let _ = write!(out, "file={file_id}");
        }
        BinlogEvent::Unsupported { event_type, reason } => {
            let _ = write!(out, "{} ({reason})", event_type_name(*event_type));
        }
    }
}

/// How a file ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    End,
    Error(String),
}

fn render(path: &Path) -> (String, Outcome) {
    let mut out = String::new();
    let mut dec = Decoder::new("");
    let mut rd = match BinlogFileReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "OPEN ERROR {e}");
            return (out, Outcome::Error(e.to_string()));
        }
    };
    let mut n = 0usize;
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    let mut hash = Fnv::new();
    let mut rows_total = 0usize;
    let outcome = loop {
        match rd.decode_next(&mut dec) {
            Ok(None) => break Outcome::End,
            Ok(Some((pos, ev))) => {
                let t = dec.last_header().map(|h| h.event_type).unwrap_or(0);
                *counts.entry(event_type_name(t).to_string()).or_default() += 1;
                if let BinlogEvent::Rows(r) = &ev {
                    rows_total += r.changes.rows.len();
                }
                let mut full = String::new();
                event_text(&ev, &mut full, usize::MAX);
                hash.update(full.as_bytes());
                if n < DETAIL_EVENTS {
                    let mut line = String::new();
                    event_text(&ev, &mut line, DETAIL_ROWS);
                    let _ = writeln!(out, "{pos} {} {}: {line}", event_type_name(t), ev.kind_name());
                }
                n += 1;
            }
            Err(e) => {
                let fatal = matches!(
                    e.kind,
                    ErrorKind::Truncated { .. }
                        | ErrorKind::Checksum { .. }
                        | ErrorKind::BadEventSize { .. }
                        | ErrorKind::Encrypted
                        | ErrorKind::Io(_)
                        | ErrorKind::BadMagic(_)
                );
                let _ = writeln!(out, "{} ERROR {e}", e.pos);
                hash.update(e.to_string().as_bytes());
                n += 1;
                if fatal {
                    break Outcome::Error(e.to_string());
                }
            }
        }
    };
    if n > DETAIL_EVENTS {
        let _ = writeln!(out, "... {} more events", n - DETAIL_EVENTS);
    }
    let _ = writeln!(
        out,
        "# events={n} rows={rows_total} end={} hash={:016x}",
        rd.position(),
        hash.0
    );
    for (k, v) in &counts {
        let _ = writeln!(out, "#   {k} {v}");
    }
    match &outcome {
        Outcome::End => {
            let _ = writeln!(out, "END");
        }
        Outcome::Error(e) => {
            let _ = writeln!(out, "STOPPED {e}");
        }
    }
    (out, outcome)
}

#[test]
fn every_fixture_decodes_as_pinned() {
    let root = Path::new(FIXTURES);
    // The fixtures are part of the repository: their absence is a failure,
    // never a skip.
    assert!(
        root.is_dir(),
        "binlog fixtures not found at {}: tests/fixtures/binlogs is part of the repository",
        root.display()
    );
    let mut all = Vec::new();
    files(root, &mut all);
    assert!(all.len() >= 80, "expected the 84 fixture binlogs, found {}", all.len());
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let mut summary = String::new();
    for path in &all {
        let rel = path
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let (text, outcome) = render(path);
        let _ = writeln!(summary, "{rel}: {outcome:?}");
        // Malformed fixtures must stop with a typed error naming file and offset.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("binlog_truncated") {
            match &outcome {
                Outcome::Error(e) => assert!(e.contains(&name) && e.contains("truncated"), "{rel}: {e}"),
                Outcome::End => failures.push(format!("{rel}: expected a truncation error")),
            }
        } else if outcome != Outcome::End {
            failures.push(format!("{rel}: did not decode to its end: {outcome:?}"));
        }
        let golden = Path::new(GOLDEN).join(format!("{rel}.txt"));
        if bless {
            if let Some(d) = golden.parent() {
                std::fs::create_dir_all(d).expect("mkdir golden");
            }
            std::fs::write(&golden, &text).expect("write golden");
        } else {
            match std::fs::read_to_string(&golden) {
                Ok(want) if want == text => {}
                Ok(want) => {
                    let line = want.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
                    failures.push(format!(
                        "{rel}: differs from {} at line {}:\n  want: {}\n  got:  {}",
                        golden.display(),
                        line + 1,
                        want.lines().nth(line).unwrap_or(""),
                        text.lines().nth(line).unwrap_or("")
                    ));
                }
                Err(_) => failures.push(format!("{rel}: no golden file {} (run with BLESS=1)", golden.display())),
            }
        }
    }
    println!("{summary}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

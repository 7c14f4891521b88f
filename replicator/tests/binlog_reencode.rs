//! Every row of every fixture binlog (`tests/fixtures/binlogs/`), re-encoded
//! by `binlog::encode` as the applier sends it to a target and decoded
//! again, gives back the same values: the encoder is the exact inverse of the
//! decoder on real servers' output (MySQL 5.0-9.6, MariaDB 10.0-11.8).

use std::path::{Path, PathBuf};

use replicator::binlog::encode::EventWriter;
use replicator::binlog::{BinlogEvent, BinlogFileReader, Decoder};
use thl::event::RowChanges;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/binlogs");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
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

/// Splits a buffer of whole events by their `event_size`.
fn split_events(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let size = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize;
        let (e, rest) = bytes.split_at(size);
        out.push(e);
        bytes = rest;
    }
    out
}

/// Re-encodes `rc` and decodes it again; the rows of all its events.
fn reencode(rc: &RowChanges) -> Result<RowChanges, String> {
    let w = EventWriter::new(1, 0);
    let mut bytes = Vec::new();
    w.format_description(&mut bytes);
    w.table_map(&mut bytes, 7, rc).map_err(|e| e.to_string())?;
    w.rows(&mut bytes, 7, rc, true).map_err(|e| e.to_string())?;
    let mut dec = Decoder::new("reencoded");
    let mut back: Option<RowChanges> = None;
    for (i, e) in split_events(&bytes).into_iter().enumerate() {
        if let BinlogEvent::Rows(r) = dec.decode(e, i as u64).map_err(|e| e.to_string())? {
            match &mut back {
                Some(b) => b.rows.extend(r.changes.rows),
                None => back = Some(r.changes),
            }
        }
    }
    back.ok_or_else(|| "no rows event".to_string())
}

fn rows_of(ev: BinlogEvent, out: &mut Vec<RowChanges>) {
    match ev {
        BinlogEvent::Rows(r) if !r.changes.rows.is_empty() => out.push(r.changes),
        BinlogEvent::TransactionPayload { events, .. } => events.into_iter().for_each(|e| rows_of(e, out)),
        _ => {}
    }
}

#[test]
fn every_fixture_row_survives_reencoding() {
    let root = Path::new(FIXTURES);
    assert!(root.is_dir(), "binlog fixtures not found at {}", root.display());
    let mut all = Vec::new();
    files(root, &mut all);
    assert!(all.len() >= 80, "expected the 84 fixture binlogs, found {}", all.len());
    let (mut events, mut rows) = (0usize, 0usize);
    let mut failures = Vec::new();
    for path in &all {
        let Ok(mut rd) = BinlogFileReader::open(path) else {
            continue;
        };
        let mut dec = Decoder::new("fixture");
        let mut changes = Vec::new();
        // Malformed fixtures end in an error; what decoded before it counts.
        while let Ok(Some((_, ev))) = rd.decode_next(&mut dec) {
            rows_of(ev, &mut changes);
        }
        for (k, rc) in changes.iter().enumerate() {
            events += 1;
            rows += rc.rows.len();
            match reencode(rc) {
                // NaN payloads defeat PartialEq: compare the Debug forms.
                Ok(back) if format!("{:?}", back.rows) == format!("{:?}", rc.rows) => {}
                Ok(_) => failures.push(format!(
                    "{} rows event {k} ({}.{}): values differ",
                    path.display(),
                    rc.schema,
                    rc.table
                )),
                Err(e) => failures.push(format!("{} rows event {k}: {e}", path.display())),
            }
        }
    }
    println!(
        "re-encoded {events} rows events, {rows} rows, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(rows > 10_000, "only {rows} rows in the fixtures");
}

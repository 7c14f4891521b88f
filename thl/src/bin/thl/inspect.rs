//! `thl info`, `thl index`, `thl verify`: read-only views of the files.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use thl::display::utc_datetime;
use thl::store::{FileInfo, Reader, StoreError};

use crate::{CmdResult, Failure};

/// Megabytes (10^6 bytes, like the file size settings) with 2 decimals.
fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1_000_000.0)
}

/// A file time as `YYYY-MM-DD HH:MM:SS` UTC.
fn file_time(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => utc_datetime(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        Err(e) => utc_datetime(-i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX)),
    }
}

fn file_name(f: &FileInfo) -> String {
    f.path
        .file_name()
        .map_or_else(|| f.path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn file_summary(f: &FileInfo) -> String {
    format!("{} ({} MB, {} UTC)", file_name(f), mb(f.size), file_time(f.modified))
}

/// Fails with a clear message when the directory does not exist.
fn open(dir: &Path) -> Result<Reader, Failure> {
    if !dir.is_dir() {
        return Err(Failure::Failed(format!(
            "THL directory {} does not exist",
            dir.display()
        )));
    }
    Ok(Reader::open(dir)?)
}

/// Tungsten's `thl info` lines.
pub fn info(dir: &Path, out: &mut dyn Write) -> CmdResult {
    let info = open(dir)?.info()?;
    let total: u64 = info.files.iter().map(|f| f.size).sum();
    writeln!(out, "log directory = {}", info.dir.display())?;
    writeln!(out, "log files = {}", info.files.len())?;
    writeln!(out, "logs size = {} MB", mb(total))?;
    let (min, max) = match (info.min_seqno, info.max_seqno) {
        (Some(a), Some(b)) if b >= a => (a.0, b.0),
        _ => (-1, -1),
    };
    writeln!(out, "min seq# = {min}")?;
    writeln!(out, "max seq# = {max}")?;
    writeln!(out, "events = {}", if max >= 0 { max - min + 1 } else { 0 })?;
    if let (Some(first), Some(last)) = (info.files.first(), info.files.last()) {
        writeln!(out, "oldest file = {}", file_summary(first))?;
        writeln!(out, "newest file = {}", file_summary(last))?;
    }
    Ok(())
}

/// `LogIndexEntry thl.data.0000000001(0:105)` per file; an empty file
/// shows `(first:first-1)`.
pub fn index(dir: &Path, out: &mut dyn Write) -> CmdResult {
    let info = open(dir)?.info()?;
    for f in &info.files {
        let last = f.last_seqno.map_or(f.first_seqno.0.saturating_sub(1), |s| s.0);
        writeln!(out, "LogIndexEntry {}({}:{})", file_name(f), f.first_seqno, last)?;
    }
    Ok(())
}

/// Checks every record, then decodes every body.
pub fn verify(dir: &Path, out: &mut dyn Write) -> CmdResult {
    let reader = open(dir)?;
    let rep = reader
        .verify()
        .map_err(|e| Failure::Failed(format!("verify FAILED: {e}")))?;
    let info = reader.info()?;
    let mut bodies = 0u64;
    for f in &info.files {
        let tail = rep
            .unfinished_tail
            .as_ref()
            .filter(|(p, _)| *p == f.path)
            .map(|(_, off)| *off);
        for r in reader.file_records(f.no)? {
            match r {
                Ok(r) => {
                    if tail.is_some_and(|t| r.offset() >= t) {
                        break;
                    }
                    r.decode_event()
                        .map_err(|e| Failure::Failed(format!("verify FAILED: {e}")))?;
                    bodies += 1;
                }
                // Bytes after the last whole record of the file being written.
                Err(StoreError::Corrupt { offset, .. }) if tail.is_some_and(|t| offset >= t) => break,
                Err(e) => return Err(Failure::Failed(format!("verify FAILED: {e}"))),
            }
        }
    }
    let range = match (rep.min_seqno, rep.max_seqno) {
        (Some(a), Some(b)) if b >= a => format!("{a}..={b}"),
        _ => "none".to_string(),
    };
    writeln!(
        out,
        "OK: {} files, {} records, {} bodies decoded, seqnos {range} in {}",
        rep.files,
        rep.records,
        bodies,
        dir.display()
    )?;
    if let Some((path, off)) = &rep.unfinished_tail {
        writeln!(
            out,
            "note: unfinished transaction or record at the end of {} (offset {off}): being written, or cut by the next writer",
            path.display()
        )?;
    }
    for p in &rep.index_problems {
        writeln!(out, "warning: index {p} (harmless: the writer rebuilds indexes)")?;
    }
    Ok(())
}

//! The last lines of a log or of a command's output, for the errors of a
//! server that did not start (`server.rs`) or a template that was not made
//! (`template.rs`).
//!
//! Invariants: bounded: at most [`LOG_TAIL_LINES`] lines are reported and at
//! most the last 64 KiB of a file are read; an unreadable file gives a
//! one-line explanation instead of an error (the tail is only a diagnostic).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

pub(super) const LOG_TAIL_LINES: usize = 40;

pub(super) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
pub(super) fn tail_file(path: &Path, n: usize) -> String {
    let read = || -> io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(tail_lines(&String::from_utf8_lossy(&buf), n))
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

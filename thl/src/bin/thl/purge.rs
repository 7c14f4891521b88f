//! `thl purge`: the one command that takes the write lock.

use std::io::{BufRead, Write};
use std::path::Path;

use clap::Args;
use thl::seqno::Seqno;
use thl::store::{StoreConfig, StoreError, Writer};

use crate::{CmdResult, Failure};

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// First seqno to purge (default: the lowest stored).
    #[arg(long, alias = "from", value_name = "SEQNO", allow_negative_numbers = true)]
    low: Option<Seqno>,
    /// Last seqno to purge (default: the highest stored).
    #[arg(long, alias = "to", value_name = "SEQNO", allow_negative_numbers = true)]
    high: Option<Seqno>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    yes: bool,
    /// Accepted for compatibility with Tungsten; CRCs are always checked.
    #[arg(long = "no-checksum")]
    no_checksum: bool,
}

fn name(p: &Path) -> String {
    p.file_name()
        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn range_text(min: Option<Seqno>, max: Option<Seqno>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if b >= a => format!("seqnos {a}..={b}"),
        _ => "no events".to_string(),
    }
}

/// Asks on stdin; anything but `y`/`yes` (or end of input) is a no.
fn confirm(prompt: &str) -> bool {
    eprint!("{prompt} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
        Err(_) => false,
    }
}

pub fn run(dir: &Path, a: &PurgeArgs, out: &mut dyn Write) -> CmdResult {
    if let (Some(l), Some(h)) = (a.low, a.high) {
        if l > h {
            return Err(Failure::Usage(format!("-low {l} is above -high {h}")));
        }
    }
    // Never create a directory for a mistyped path (Writer::open would).
    if !dir.is_dir() {
        return Err(Failure::Failed(format!(
            "THL directory {} does not exist",
            dir.display()
        )));
    }
    let mut w = Writer::open(StoreConfig::new(dir)).map_err(|e| match e {
        StoreError::Locked { dir, pid } => Failure::Failed(format!(
            "cannot purge: the THL at {} is in use by another writer (pid {}); stop the replicator \
             (trepctl offline) and try again",
            dir.display(),
            pid.map_or_else(|| "unknown".to_string(), |p| p.to_string())
        )),
        e => e.into(),
    })?;
    let (Some(min), Some(max)) = (w.min_seqno(), w.max_seqno()) else {
        writeln!(out, "The THL at {} holds no events: nothing to purge", dir.display())?;
        return Ok(());
    };
    let low = a.low.unwrap_or(min);
    let high = a.high.unwrap_or(max);
    if low > min && high < max {
        return Err(Failure::Usage(format!(
            "purge range {low}..={high} must include one end of the log ({min}..={max})"
        )));
    }
    if !a.yes {
        eprintln!(
            "WARNING: purging the THL can break downstream replicas that have not yet fetched or \
             applied the purged events."
        );
        if !confirm(&format!(
            "Purge seqnos {low}..={high} from {} ({min}..={max} stored)?",
            dir.display()
        )) {
            return Err(Failure::Failed("purge cancelled: nothing was deleted".into()));
        }
    }
    // The operator asked for this range explicitly: no downstream position
    // limits it here (the replicator's own retention does that).
    let rep = w.purge(low, high, Seqno::MAX)?;
    for p in &rep.deleted {
        writeln!(out, "Deleted {}", name(p))?;
    }
    if let Some((p, len)) = &rep.truncated {
        writeln!(out, "Truncated {} to {len} bytes", name(p))?;
    }
    if rep.deleted.is_empty() && rep.truncated.is_none() {
        writeln!(
            out,
            "Nothing purged: only whole files whose events are all <= -high are deleted from the low \
             end, and the last (active) file is always kept"
        )?;
    }
    writeln!(out, "The THL now holds {}", range_text(rep.min_seqno, rep.max_seqno))?;
    Ok(())
}

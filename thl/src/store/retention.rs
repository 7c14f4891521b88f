//! Which files a purge or the retention policy may delete.
//!
//! Invariants (the reason this module exists):
//!
//! * Files are only ever deleted from the low end of the log, oldest first,
//!   stopping at the first file that must stay, so the files left are
//!   always contiguous.
//! * A file holding any seqno >= `still_needed` (the lowest seqno some
//!   downstream reader has not yet applied, passed in by the caller) is
//!   never deleted by a bottom purge or by retention, nor is the active
//!   (last) file. Lagging slaves therefore never lose THL they still need.
//! * Deletion is by whole files: a file straddling the `high` bound of a
//!   bottom purge is kept whole (the log may keep a few more seqnos than
//!   asked, never fewer than needed).
//!
//! A top purge (the range includes the log's maximum: a tail rollback after
//! a failover) is planned in `Writer::purge`; it removes seqnos >= `low`
//! and therefore requires `still_needed > max` (nobody needs the seqnos it
//! removes).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::seqno::Seqno;

/// Automatic retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Delete files whose last write is older than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest files while the log is larger than this.
    pub max_total_bytes: Option<u64>,
}

/// What a purge or retention pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Data files deleted (with their index files).
    pub deleted: Vec<PathBuf>,
    /// A file cut short by a top purge, and its new length.
    pub truncated: Option<(PathBuf, u64)>,
    /// The log's range afterwards.
    pub min_seqno: Option<Seqno>,
    pub max_seqno: Option<Seqno>,
}

/// A file as retention sees it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Highest seqno in the file.
    pub last: Option<Seqno>,
    pub size: u64,
    pub mtime: SystemTime,
}

fn deletable(c: &Candidate, still_needed: Seqno) -> bool {
    c.last.is_some_and(|l| l < still_needed)
}

/// Number of files, from the oldest, a bottom purge through `high` deletes.
/// `files` lists every file, oldest first; the last one is never counted.
pub(crate) fn plan_bottom_purge(files: &[Candidate], high: Seqno, still_needed: Seqno) -> usize {
    let keep_last = files.len().saturating_sub(1);
    files[..keep_last]
        .iter()
        .take_while(|c| deletable(c, still_needed) && c.last.is_some_and(|l| l <= high))
        .count()
}

/// Number of files, from the oldest, retention deletes at time `now`.
pub(crate) fn plan_retention(files: &[Candidate], r: &Retention, still_needed: Seqno, now: SystemTime) -> usize {
    let keep_last = files.len().saturating_sub(1);
    let mut total: u64 = files.iter().map(|c| c.size).sum();
    let mut n = 0;
    for c in &files[..keep_last] {
        let too_old = r
            .max_age
            .is_some_and(|a| now.duration_since(c.mtime).is_ok_and(|age| age > a));
        let too_big = r.max_total_bytes.is_some_and(|m| total > m);
        if !(too_old || too_big) || !deletable(c, still_needed) {
            break;
        }
        total -= c.size;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(last: Seqno, size: u64, age_s: u64, now: SystemTime) -> Candidate {
        Candidate {
            last: Some(last),
            size,
            mtime: now - Duration::from_secs(age_s),
        }
    }

    #[test]
    fn never_the_last_file_nor_needed_seqnos() {
        let now = SystemTime::now();
        let files = vec![
            c(Seqno(9), 100, 500, now),
            c(Seqno(19), 100, 400, now),
            c(Seqno(29), 100, 300, now),
        ];
        assert_eq!(plan_bottom_purge(&files, Seqno(i64::MAX), Seqno(i64::MAX)), 2);
        assert_eq!(plan_bottom_purge(&files, Seqno(18), Seqno(i64::MAX)), 1);
        assert_eq!(plan_bottom_purge(&files, Seqno(100), Seqno(15)), 1);
        assert_eq!(plan_bottom_purge(&files, Seqno(100), Seqno(9)), 0);
        let r = Retention {
            max_age: Some(Duration::from_secs(350)),
            max_total_bytes: None,
        };
        assert_eq!(plan_retention(&files, &r, Seqno(i64::MAX), now), 2);
        assert_eq!(plan_retention(&files, &r, Seqno(10), now), 1);
        let r = Retention {
            max_age: None,
            max_total_bytes: Some(150),
        };
        assert_eq!(plan_retention(&files, &r, Seqno(i64::MAX), now), 2);
        let r = Retention {
            max_age: None,
            max_total_bytes: Some(250),
        };
        assert_eq!(plan_retention(&files, &r, Seqno(i64::MAX), now), 1);
    }
}

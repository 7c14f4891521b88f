//! THL retention of masters, relays and slaves.
//!
//! Invariant (Tungsten's most common failure is a THL purged under a
//! lagging slave): a file is deleted only when every seqno in it is below
//! the *still needed* watermark, which is the lowest of
//!
//! * the next seqno each known downstream reader needs (its acknowledged
//!   durable seqno + 1, kept in the catalog; a reader that connected once is
//!   known until `trepctl reset` forgets it), and
//! * the next seqno this replicator's own applier needs (slaves, relays).
//!
//! Age is the second condition (`thl-log-retention`, default 7 days), and
//! the active file is never deleted. Retention runs once per
//! [`RetentionClock::every`]: the retention age, between one second and
//! [`RETENTION_EVERY`] (a short retention is applied promptly).

use std::time::{Duration, Instant, SystemTime};

use thl::seqno::Seqno;
use thl::store::{PurgeReport, Retention, StoreError};
use tracing::{info, warn};

use crate::catalog::Catalog;

/// How often retention is evaluated at most (long retention ages).
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// How far this replicator's own applier got, as retention sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnApplier {
    /// No applier: a master, whose readers alone hold its THL.
    Absent,
    /// A slave's or relay's applier and the last seqno it applied; `None`
    /// before its first, when the whole THL is still needed.
    Applied(Option<Seqno>),
}

/// How retention deletes old files of a THL: `(policy, still_needed, now)`
/// → what was deleted. A master passes its writer's
/// `Writer::apply_retention`, a slave or relay its THL client's
/// `LogPurger::apply_retention` (the client alone appends).
pub type Purge<'a> = &'a mut dyn FnMut(&Retention, Seqno, SystemTime) -> Result<PurgeReport, StoreError>;

/// The lowest seqno anyone still needs: files holding it or anything after
/// it are kept.
pub fn still_needed(catalog: &Catalog, own: OwnApplier) -> Seqno {
    let readers = match catalog.min_acknowledged() {
        Ok(ack) => ack.map_or(Seqno::MAX, |s| s.saturating_add(1)),
        Err(e) => {
            // Without the readers' positions nothing may be purged.
            warn!(error = %e, "cannot read downstream positions; THL retention skipped");
            Seqno::FIRST
        }
    };
    let own = match own {
        OwnApplier::Absent => Seqno::MAX,
        OwnApplier::Applied(None) => Seqno::FIRST,
        OwnApplier::Applied(Some(s)) => s.saturating_add(1),
    };
    readers.min(own)
}

/// Runs retention when it is due.
#[derive(Debug)]
pub struct RetentionClock {
    policy: Retention,
    last: Option<Instant>,
}

impl RetentionClock {
    /// How often this policy is evaluated.
    pub fn every(&self) -> Duration {
        self.policy
            .max_age
            .unwrap_or(RETENTION_EVERY)
            .clamp(Duration::from_secs(1), RETENTION_EVERY)
    }

    pub fn new(max_age: Duration) -> RetentionClock {
        RetentionClock {
            policy: Retention {
                max_age: Some(max_age),
                max_total_bytes: None,
            },
            last: None,
        }
    }

    /// Applies retention through `purge` if [`every`](Self::every) has
    /// passed since the last pass (or it never ran). Problems are logged,
    /// never fatal.
    pub fn maybe_run(&mut self, purge: Purge<'_>, catalog: &Catalog, own: OwnApplier) {
        if self.last.is_some_and(|t| t.elapsed() < self.every()) {
            return;
        }
        self.last = Some(Instant::now());
        let needed = still_needed(catalog, own);
        match purge(&self.policy, needed, SystemTime::now()) {
            Ok(report) if !report.deleted.is_empty() => info!(
                files = report.deleted.len(),
                still_needed = %needed,
                min_seqno = ?report.min_seqno,
                "THL retention deleted old files"
            ),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "THL retention failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_retention_is_evaluated_as_often_as_its_age() {
        let every = |age| RetentionClock::new(age).every();
        assert_eq!(every(Duration::from_secs(7 * 86_400)), RETENTION_EVERY);
        assert_eq!(every(Duration::from_secs(10)), Duration::from_secs(10));
        assert_eq!(every(Duration::from_millis(10)), Duration::from_secs(1));
    }

    #[test]
    fn the_lowest_reader_or_own_position_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::open(dir.path()).expect("catalog");
        let applied = |s| OwnApplier::Applied(Some(Seqno(s)));
        assert_eq!(still_needed(&catalog, OwnApplier::Absent), Seqno::MAX);
        assert_eq!(
            still_needed(&catalog, OwnApplier::Applied(None)),
            Seqno::FIRST,
            "nothing applied yet"
        );
        assert_eq!(still_needed(&catalog, applied(9)), Seqno(10));
        catalog.acknowledge("host2", Seqno(4), 0).expect("ack");
        catalog.acknowledge("host3", Seqno(7), 0).expect("ack");
        assert_eq!(
            still_needed(&catalog, applied(9)),
            Seqno(5),
            "a lagging reader holds the THL"
        );
        assert_eq!(
            still_needed(&catalog, applied(2)),
            Seqno(3),
            "our own applier holds it too"
        );
    }
}

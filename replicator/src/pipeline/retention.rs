//! THL retention of masters, relays and slaves.
//!
//! Invariant (Tungsten's most common failure is a THL purged under a
//! lagging slave): a file is deleted only when every seqno in it is below
//! the *still needed* watermark, which is the lowest of
//!
//! * the next seqno each known downstream reader needs (its acknowledged
//!   durable seqno + 1, kept in the catalog; a reader that connected once is
//!   known until `trepctl reset` forgets it, or until it has acknowledged
//!   nothing for `thl-reader-expiry` (default 7 days): then it no longer
//!   holds the THL, with a warning naming it, so that a reader that is
//!   gone for good, or a made-up client id, cannot pin the disk), and
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

/// How long a reader that acknowledges nothing still holds the THL.
pub const DEFAULT_READER_EXPIRY: Duration = Duration::from_secs(7 * 86_400);

/// The lowest seqno anyone still needs: files holding it or anything after
/// it are kept. A reader whose last acknowledgement is older than
/// `expiry` at `now_ms` does not count (warned).
pub fn still_needed(catalog: &Catalog, own: OwnApplier, expiry: Duration, now_ms: i64) -> Seqno {
    let expiry_ms = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
    let readers = match catalog.acknowledged() {
        Ok(acks) => acks
            .iter()
            .filter(|a| {
                let fresh = now_ms.saturating_sub(a.time_ms) <= expiry_ms;
                if !fresh {
                    warn!(
                        reader = %a.client,
                        seqno = %a.seqno,
                        silent_for_s = now_ms.saturating_sub(a.time_ms) / 1000,
                        "a THL reader has acknowledged nothing for longer than thl-reader-expiry: it no longer holds \
                         back retention (if it comes back needing purged seqnos, reprovision it)"
                    );
                }
                fresh
            })
            .map(|a| a.seqno)
            .min()
            .map_or(Seqno::MAX, |s| s.saturating_add(1)),
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
    /// `thl-reader-expiry`.
    reader_expiry: Duration,
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

    pub fn new(max_age: Duration, reader_expiry: Duration) -> RetentionClock {
        RetentionClock {
            policy: Retention {
                max_age: Some(max_age),
                max_total_bytes: None,
            },
            reader_expiry,
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
        let needed = still_needed(catalog, own, self.reader_expiry, crate::clock::now_ms());
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
        let every = |age| RetentionClock::new(age, DEFAULT_READER_EXPIRY).every();
        assert_eq!(every(Duration::from_secs(7 * 86_400)), RETENTION_EVERY);
        assert_eq!(every(Duration::from_secs(10)), Duration::from_secs(10));
        assert_eq!(every(Duration::from_millis(10)), Duration::from_secs(1));
    }

    /// At time 1000 s, readers expiring after 100 s.
    fn needed(catalog: &Catalog, own: OwnApplier) -> Seqno {
        still_needed(catalog, own, Duration::from_secs(100), 1_000_000)
    }

    #[test]
    fn a_silent_reader_expires_and_holds_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::open(dir.path()).expect("catalog");
        catalog.acknowledge("fresh", Seqno(7), 950_000).expect("ack");
        catalog.acknowledge("gone", Seqno(2), 850_000).expect("ack");
        assert_eq!(needed(&catalog, OwnApplier::Absent), Seqno(8), "the silent one expired");
        catalog.acknowledge("gone", Seqno(2), 990_000).expect("ack");
        assert_eq!(needed(&catalog, OwnApplier::Absent), Seqno(3), "back: it holds again");
    }

    #[test]
    fn the_lowest_reader_or_own_position_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let catalog = Catalog::open(dir.path()).expect("catalog");
        let applied = |s| OwnApplier::Applied(Some(Seqno(s)));
        assert_eq!(needed(&catalog, OwnApplier::Absent), Seqno::MAX);
        assert_eq!(
            needed(&catalog, OwnApplier::Applied(None)),
            Seqno::FIRST,
            "nothing applied yet"
        );
        assert_eq!(needed(&catalog, applied(9)), Seqno(10));
        catalog.acknowledge("host2", Seqno(4), 999_000).expect("ack");
        catalog.acknowledge("host3", Seqno(7), 999_000).expect("ack");
        assert_eq!(needed(&catalog, applied(9)), Seqno(5), "a lagging reader holds the THL");
        assert_eq!(needed(&catalog, applied(2)), Seqno(3), "our own applier holds it too");
    }
}

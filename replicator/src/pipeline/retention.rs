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

use thl::store::{Retention, Writer};
use tracing::{info, warn};

use crate::catalog::Catalog;

/// How often retention is evaluated at most (long retention ages).
pub const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// The lowest seqno anyone still needs: files holding it or anything after
/// it are kept.
pub fn still_needed(catalog: &Catalog, own_applied: Option<i64>) -> i64 {
    let readers = match catalog.min_acknowledged() {
        Ok(ack) => ack.map_or(i64::MAX, |s| s.saturating_add(1)),
        Err(e) => {
            // Without the readers' positions nothing may be purged.
            warn!(error = %e, "cannot read downstream positions; THL retention skipped");
            i64::MIN
        }
    };
    let own = own_applied.map_or(i64::MAX, |s| s.saturating_add(1));
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

    /// Applies retention to `writer` if [`every`](Self::every) has passed
    /// since the last pass (or it never ran). Problems are logged, never
    /// fatal.
    pub fn maybe_run(&mut self, writer: &mut Writer, catalog: &Catalog, own_applied: Option<i64>) {
        if self.last.is_some_and(|t| t.elapsed() < self.every()) {
            return;
        }
        self.last = Some(Instant::now());
        let needed = still_needed(catalog, own_applied);
        match writer.apply_retention(&self.policy, needed, SystemTime::now()) {
            Ok(report) if !report.deleted.is_empty() => info!(
                files = report.deleted.len(),
                still_needed = needed,
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
        assert_eq!(still_needed(&catalog, None), i64::MAX);
        assert_eq!(still_needed(&catalog, Some(9)), 10);
        catalog.acknowledge("host2", 4, 0).expect("ack");
        catalog.acknowledge("host3", 7, 0).expect("ack");
        assert_eq!(still_needed(&catalog, Some(9)), 5, "a lagging reader holds the THL");
        assert_eq!(still_needed(&catalog, Some(2)), 3, "our own applier holds it too");
    }
}

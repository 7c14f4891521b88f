//! Block commit: when the open target transaction is committed.
//!
//! A block is the target transaction that the applier keeps open across
//! source transactions. Boundaries:
//!
//! * **before** an event that must be alone ([`must_be_alone`]: metadata
//!   `schema_change`, `unsafe_for_block_commit`, `rollback`, a statement
//!   that commits implicitly (`crate::statement_kind`: read from the
//!   statements too, so a THL written without that metadata is safe), or
//!   the first fragment of a fragmented transaction), and before an event whose
//!   `service` metadata differs from the previous one (fan-in);
//! * **after** the last fragment of an event that must be alone;
//! * **after** the last fragment of a transaction once the block holds
//!   `block_commit_size` transactions, or once `block_commit_interval` has
//!   passed since the block started;
//! * on `flush()` (the caller's input is idle).
//!
//! A block never ends inside a fragmented transaction: its fragments share
//! one target transaction, committed at the last fragment.

use std::time::{Duration, Instant};

use thl::event::{meta, Change, ReplEvent};

use crate::statement_kind::commits_implicitly;

/// True when the metadata option is present and not `false`.
fn flag(ev: &ReplEvent, name: &str) -> bool {
    ev.body
        .metadata_value(name)
        .is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0")
}

/// True when the event is a fragment of a transaction split in several.
pub(crate) fn is_fragmented(ev: &ReplEvent) -> bool {
    ev.header.fragno > 0 || !ev.header.last_frag
}

/// True when the event's transaction must be alone in its target
/// transaction.
pub(crate) fn must_be_alone(ev: &ReplEvent) -> bool {
    is_fragmented(ev)
        || flag(ev, meta::SCHEMA_CHANGE)
        || flag(ev, meta::UNSAFE_FOR_BLOCK_COMMIT)
        || flag(ev, meta::ROLLBACK)
        || ev.body.changes.iter().any(|c| match c {
            Change::Statement(s) => commits_implicitly(&s.sql),
            Change::Rows(_) => false,
        })
}

/// The open block.
#[derive(Debug, Default, Clone)]
pub(crate) struct Block {
    /// When the block started; `None` when no block is open.
    started: Option<Instant>,
    /// Complete transactions (last fragments) in the block.
    txns: usize,
}

impl Block {
    pub fn is_open(&self) -> bool {
        self.started.is_some()
    }

    /// Opens the block if it is not open.
    pub fn touch(&mut self, now: Instant) {
        if self.started.is_none() {
            self.started = Some(now);
        }
    }

    /// Counts a complete transaction.
    pub fn add_transaction(&mut self) {
        self.txns += 1;
    }

    /// Closes the block (committed or rolled back).
    pub fn reset(&mut self) {
        *self = Block::default();
    }

    /// When the block must be committed by time, if one is open.
    pub fn deadline(&self, interval: Duration) -> Option<Instant> {
        self.started.map(|s| s + interval)
    }

    /// Whether to commit after applying `ev` (already counted).
    pub fn full_after(&self, ev: &ReplEvent, size: usize, interval: Duration, now: Instant) -> bool {
        if !ev.header.last_frag {
            return false;
        }
        must_be_alone(ev) || self.txns >= size.max(1) || self.started.is_some_and(|s| now.duration_since(s) >= interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::{EventBody, EventHeader};
    use thl::seqno::{Epoch, Seqno};

    fn ev(fragno: u16, last_frag: bool, meta: &[(&str, &str)]) -> ReplEvent {
        ReplEvent {
            header: EventHeader {
                seqno: Seqno(1),
                seqno_end: Seqno(1),
                fragno,
                last_frag,
                epoch: Epoch(0),
                source_id: String::new(),
                event_id: String::new(),
                shard_id: String::new(),
                source_tstamp_ms: 0,
                extract_tstamp_ms: 0,
            },
            body: EventBody {
                metadata: meta.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect(),
                changes: vec![],
            },
        }
    }

    #[test]
    fn alone() {
        assert!(!must_be_alone(&ev(0, true, &[])));
        assert!(must_be_alone(&ev(0, false, &[])));
        assert!(must_be_alone(&ev(2, true, &[])));
        assert!(must_be_alone(&ev(0, true, &[(meta::SCHEMA_CHANGE, "true")])));
        assert!(!must_be_alone(&ev(0, true, &[(meta::SCHEMA_CHANGE, "false")])));
        assert!(must_be_alone(&ev(0, true, &[(meta::UNSAFE_FOR_BLOCK_COMMIT, "")])));
        // A statement that commits implicitly, without the metadata.
        let with = |sql: &str| {
            let mut e = ev(0, true, &[]);
            e.body.changes.push(Change::Statement(thl::event::Statement {
                default_db: None,
                sql: sql.as_bytes().to_vec(),
                session: thl::event::SessionVars::default(),
                error_code: 0,
                infile: None,
            }));
            e
        };
        assert!(must_be_alone(&with("/* privileges */ GRANT SELECT ON db.* TO u")));
        assert!(!must_be_alone(&with("INSERT INTO t VALUES (1)")));
    }

    #[test]
    fn boundaries() {
        let t0 = Instant::now();
        let mut b = Block::default();
        b.touch(t0);
        b.add_transaction();
        let plain = ev(0, true, &[]);
        assert!(!b.full_after(&plain, 2, Duration::from_secs(1), t0));
        assert!(b.full_after(&plain, 1, Duration::from_secs(1), t0));
        assert!(b.full_after(&plain, 2, Duration::from_secs(1), t0 + Duration::from_secs(1)));
        assert!(!b.full_after(&ev(0, false, &[]), 1, Duration::ZERO, t0));
        assert!(b.full_after(&ev(3, true, &[]), 100, Duration::from_secs(9), t0));
        b.reset();
        assert!(!b.is_open());
    }
}

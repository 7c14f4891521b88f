//! The seqno of a binlog position: which THL transaction a copy of the
//! primary taken at binlog position P ends with (`tprovision
//! --allow-primary`: `mariadb-backup` names the binlog position its copy
//! is consistent with, in `xtrabackup_binlog_info`).
//!
//! Invariant: the answer is the last transaction whose event id (the
//! binlog position after its commit, on its last fragment) is at or before
//! P; every later one ends after P, so the copy holds exactly the
//! transactions up to the answer. A THL that does not reach P yet answers
//! [`Lookup::NotYet`] (the extractor is behind: ask again); one whose first
//! transaction already ends after P cannot tell (purged, or another
//! history) and is an error.

use std::path::Path;

use control::responses::PositionAtResponse;
use thl::seqno::Seqno;
use thl::store::Reader;

use crate::binlog::BinlogPosition;
use crate::extractor::event_id::EventId;

/// What the THL says about a binlog position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(PositionAtResponse),
    /// The THL's last transaction ends at this event id, before the
    /// position.
    NotYet(String),
}

/// The last fragment of seqno `s`: its end position and its answer.
fn end_of(reader: &Reader, s: Seqno) -> Result<(BinlogPosition, PositionAtResponse), String> {
    let mut cursor = reader.cursor(s).map_err(|e| format!("reading seqno {s}: {e}"))?;
    while let Some(record) = cursor.next().map_err(|e| format!("reading seqno {s}: {e}"))? {
        let h = record.header();
        if h.seqno > s {
            break;
        }
        if h.seqno == s && h.last_frag {
            let id = EventId::parse(&h.event_id).map_err(|e| format!("seqno {s}: {e}"))?;
            return Ok((
                id.at,
                PositionAtResponse {
                    seqno: s.0,
                    epoch: h.epoch.0,
                    event_id: h.event_id.clone(),
                    source_id: h.source_id.clone(),
                },
            ));
        }
    }
    Err(format!("seqno {s} has no last fragment in the THL"))
}

/// The THL transaction of `dir` that ends last at or before `at`.
pub fn transaction_ending_at(dir: &Path, at: &BinlogPosition) -> Result<Lookup, String> {
    let reader = Reader::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (Some(min), Some(max)) = (
        reader.min_seqno().map_err(|e| e.to_string())?,
        reader.max_seqno().map_err(|e| e.to_string())?,
    ) else {
        return Ok(Lookup::NotYet("nothing (the THL is empty)".into()));
    };
    // The last transaction may be incomplete (fragments still arriving).
    let last = match end_of(&reader, max) {
        Ok(end) => end,
        Err(_) if max > min => end_of(&reader, Seqno(max.0 - 1))?,
        Err(e) => return Err(e),
    };
    if last.0 < *at {
        return Ok(Lookup::NotYet(last.1.event_id));
    }
    let first = end_of(&reader, min)?;
    if first.0 > *at {
        return Err(format!(
            "the THL's first transaction (seqno {min}, {}) ends after binlog position {at}: the THL no longer holds \
             (or never held) the copy's position",
            first.1.event_id
        ));
    }
    // Largest s in [lo, hi] with end(s) <= at; end(lo) <= at holds.
    let (mut lo, mut hi, mut best) = (min.0, last.1.seqno, first.1);
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        let (end, answer) = end_of(&reader, Seqno(mid))?;
        if end <= *at {
            lo = mid;
            best = answer;
        } else {
            hi = mid - 1;
        }
    }
    Ok(Lookup::Found(best))
}

#[cfg(test)]
mod tests {
    use thl::event::{EventBody, EventHeader, ReplEvent};
    use thl::seqno::Epoch;

    use super::*;

    /// Seqnos 10.. ending at the given binlog offsets; seqno 11 in two
    /// fragments (its first one's event id names an earlier offset).
    fn thl(dir: &Path, ends: &[u64]) {
        let mut w = thl::store::Writer::open(thl::store::StoreConfig::new(dir)).expect("writer");
        let mut push = |seqno: i64, fragno: u16, last_frag: bool, at: u64| {
            let header = EventHeader {
                seqno: Seqno(seqno),
                seqno_end: Seqno(seqno),
                fragno,
                last_frag,
                epoch: Epoch(10),
                source_id: "db1".into(),
                event_id: format!("mysql-bin.000001:{at};-1"),
                shard_id: "s".into(),
                source_tstamp_ms: 0,
                extract_tstamp_ms: 0,
            };
            w.append_event(&ReplEvent {
                header,
                body: EventBody::default(),
            })
            .expect("append");
        };
        for (i, &end) in ends.iter().enumerate() {
            let seqno = 10 + i as i64;
            if seqno == 11 {
                push(seqno, 0, false, end - 50);
            }
            push(seqno, u16::from(seqno == 11), true, end);
        }
        w.commit().expect("commit");
    }

    fn at(offset: u64) -> BinlogPosition {
        BinlogPosition::new("mysql-bin.000001", offset)
    }

    #[test]
    fn the_last_transaction_ending_at_or_before_the_position() {
        let dir = tempfile::tempdir().expect("tempdir");
        thl(dir.path(), &[100, 200, 300, 400, 500]);
        let seqno = |offset| match transaction_ending_at(dir.path(), &at(offset)).expect("lookup") {
            Lookup::Found(p) => p.seqno,
            Lookup::NotYet(last) => panic!("not yet at {offset}: {last}"),
        };
        assert_eq!(seqno(100), 10);
        assert_eq!(
            seqno(199),
            10,
            "seqno 11 ends at 200 (its first fragment's id says 150)"
        );
        assert_eq!(seqno(200), 11);
        assert_eq!(seqno(350), 12);
        assert_eq!(seqno(500), 14);
        let found = transaction_ending_at(dir.path(), &at(400)).expect("lookup");
        assert_eq!(
            found,
            Lookup::Found(PositionAtResponse {
                seqno: 13,
                epoch: 10,
                event_id: "mysql-bin.000001:400;-1".into(),
                source_id: "db1".into(),
            })
        );
        assert_eq!(
            transaction_ending_at(dir.path(), &at(501)).expect("lookup"),
            Lookup::NotYet("mysql-bin.000001:500;-1".into())
        );
        let err = transaction_ending_at(dir.path(), &at(99)).expect_err("before the THL");
        assert!(err.contains("ends after binlog position"), "{err}");
    }
}

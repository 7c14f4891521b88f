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

/// The first record of seqno `s`.
fn header_of(reader: &Reader, s: Seqno) -> Result<thl::event::EventHeader, String> {
    let mut cursor = reader.cursor(s).map_err(|e| format!("reading seqno {s}: {e}"))?;
    match cursor.next().map_err(|e| format!("reading seqno {s}: {e}"))? {
        Some(r) => Ok(r.header().clone()),
        None => Err(format!("the THL has no seqno {s}")),
    }
}

/// The first seqno of the run of sessions of `source_id` that ends the
/// THL with `last`: event ids compare only within one source's binlog, so
/// the search stays inside it (a promotion or a failover put another
/// host's binlog positions before it).
fn own_run_start(reader: &Reader, min: Seqno, last: &PositionAtResponse, source_id: &str) -> Result<Seqno, String> {
    if last.source_id != source_id {
        return Err(format!(
            "this THL ends with a transaction of {}, not of {source_id}: ask the dataservice's current master",
            last.source_id
        ));
    }
    let mut from = Seqno(last.epoch).max(min);
    while from > min {
        let prev = header_of(reader, Seqno(from.0 - 1))?;
        if prev.source_id != source_id {
            break;
        }
        from = Seqno(prev.epoch.0).max(min).min(Seqno(from.0 - 1));
    }
    Ok(from)
}

/// The THL transaction of `dir` that ends last at or before `at` in the
/// binlog of `source_id` (this host: the primary the copy was taken of).
pub fn transaction_ending_at(dir: &Path, at: &BinlogPosition, source_id: &str) -> Result<Lookup, String> {
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
    let from = own_run_start(&reader, min, &last.1, source_id)?;
    let first = end_of(&reader, from)?;
    if first.0 > *at {
        return Err(format!(
            "{source_id}'s first transaction in this THL (seqno {from}, {}) ends after binlog position {at}: the THL \
             no longer holds (or never held) the copy's position; provision from a replica instead",
            first.1.event_id
        ));
    }
    // Largest s in [lo, hi] with end(s) <= at; end(lo) <= at holds.
    let (mut lo, mut hi, mut best) = (from.0, last.1.seqno, first.1);
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

    /// Appends one record: `end` is the binlog offset of its event id.
    fn append(
        w: &mut thl::store::Writer,
        seqno: i64,
        fragno: u16,
        last_frag: bool,
        source: &str,
        epoch: i64,
        end: u64,
    ) {
        let header = EventHeader {
            seqno: Seqno(seqno),
            seqno_end: Seqno(seqno),
            fragno,
            last_frag,
            epoch: Epoch(epoch),
            source_id: source.into(),
            event_id: format!("mysql-bin.000001:{end};-1"),
            shard_id: "s".into(),
            source_tstamp_ms: 0,
            extract_tstamp_ms: 0,
        };
        w.append_event(&ReplEvent {
            header,
            body: EventBody::default(),
        })
        .expect("append");
    }

    /// Seqnos 10.. of db1 ending at the given binlog offsets; seqno 11 in
    /// two fragments (its first one's event id names an earlier offset).
    fn thl(dir: &Path, ends: &[u64]) {
        let mut w = thl::store::Writer::open(thl::store::StoreConfig::new(dir)).expect("writer");
        for (i, &end) in ends.iter().enumerate() {
            let seqno = 10 + i as i64;
            if seqno == 11 {
                append(&mut w, seqno, 0, false, "db1", 10, end - 50);
            }
            append(&mut w, seqno, u16::from(seqno == 11), true, "db1", 10, end);
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
        let seqno = |offset| match transaction_ending_at(dir.path(), &at(offset), "db1").expect("lookup") {
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
        let found = transaction_ending_at(dir.path(), &at(400), "db1").expect("lookup");
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
            transaction_ending_at(dir.path(), &at(501), "db1").expect("lookup"),
            Lookup::NotYet("mysql-bin.000001:500;-1".into())
        );
        let err = transaction_ending_at(dir.path(), &at(99), "db1").expect_err("before the THL");
        assert!(err.contains("ends after binlog position"), "{err}");
        let err = transaction_ending_at(dir.path(), &at(300), "db2").expect_err("another host's THL");
        assert!(err.contains("ends with a transaction of db1"), "{err}");
    }

    /// After a promotion: seqnos 10-12 from db1 (its binlog at 100-300),
    /// then 13-15 from db2, epoch 13, at offsets of *its* binlog below
    /// db1's. The search stays in db2's run.
    #[test]
    fn the_search_stays_in_the_sources_own_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = thl::store::Writer::open(thl::store::StoreConfig::new(dir.path())).expect("writer");
        for (seqno, source, epoch, end) in [
            (10, "db1", 10, 100),
            (11, "db1", 10, 200),
            (12, "db1", 10, 300),
            (13, "db2", 13, 50),
            (14, "db2", 13, 60),
            (15, "db2", 13, 70),
        ] {
            append(&mut w, seqno, 0, true, source, epoch, end);
        }
        w.commit().expect("commit");
        let found = |offset| transaction_ending_at(dir.path(), &at(offset), "db2");
        assert!(matches!(found(65), Ok(Lookup::Found(p)) if p.seqno == 14));
        assert!(matches!(found(50), Ok(Lookup::Found(p)) if p.seqno == 13));
        let err = found(40).expect_err("before db2's run");
        assert!(err.contains("db2's first transaction in this THL (seqno 13"), "{err}");
    }
}

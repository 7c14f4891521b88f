//! Helpers shared by the `store_*` integration tests: event headers,
//! deterministic bodies, and reading a whole log back.
#![allow(dead_code)]

use std::time::Duration;
use thl::seqno::{Epoch, Seqno};

use thl::event::EventHeader;
use thl::store::{Reader, StoreConfig, SyncPolicy, Writer};

/// A record as the model keeps it.
pub type Rec = (EventHeader, Vec<u8>);

pub fn header(seqno: i64, seqno_end: i64, fragno: u16, last_frag: bool) -> EventHeader {
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno_end),
        fragno,
        last_frag,
        epoch: Epoch(1),
        source_id: "db1".into(),
        event_id: format!("mysql-bin.000001:{:016};7", seqno * 100 + i64::from(fragno)),
        shard_id: if seqno % 2 == 0 {
            "app".into()
        } else {
            "#UNKNOWN".into()
        },
        source_tstamp_ms: 1_700_000_000_000 + seqno,
        extract_tstamp_ms: 1_700_000_000_100 + seqno,
    }
}

pub fn body(seqno: i64, fragno: u16, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seqno as usize * 31 + usize::from(fragno) * 7 + i) as u8)
        .collect()
}

pub fn cfg(dir: &std::path::Path, file_size: u64) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.file_size = file_size;
    c.sync = SyncPolicy::Never;
    c.index_interval = 256;
    c
}

/// Appends transaction `seqno` in `frags` fragments; returns its records.
pub fn append_txn(w: &mut Writer, seqno: i64, frags: u16, len: usize) -> Vec<Rec> {
    let mut out = Vec::new();
    for f in 0..frags {
        let h = header(seqno, seqno, f, f + 1 == frags);
        let b = body(seqno, f, len);
        w.append(&h, &b).expect("append");
        out.push((h, b));
    }
    out
}

/// Appends a filtered range record.
pub fn append_filtered(w: &mut Writer, seqno: i64, seqno_end: i64) -> Rec {
    let h = header(seqno, seqno_end, 0, true);
    w.append(&h, b"").expect("append filtered");
    (h, Vec::new())
}

/// Every record from the log's minimum, in order.
pub fn read_all(r: &Reader) -> Vec<Rec> {
    let Some(min) = r.min_seqno().expect("min") else {
        return Vec::new();
    };
    let mut c = r.cursor(min).expect("cursor");
    let mut out = Vec::new();
    while let Some(rec) = c.next().expect("next") {
        out.push((rec.header().clone(), rec.body().to_vec()));
    }
    out
}

pub const SHORT: Duration = Duration::from_millis(50);
pub const LONG: Duration = Duration::from_secs(20);

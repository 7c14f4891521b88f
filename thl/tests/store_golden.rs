//! Golden files pinning the on-disk bytes (thl/FORMAT.md §1-2): the data
//! file header, EVENT and ROTATE record framing, and a small whole segment
//! written by the store. A difference is a format change: bump the format
//! version. Regenerate with `THL_BLESS=1 cargo test -p thl --test store_golden`.

mod store_support;

use std::path::PathBuf;
use thl::seqno::{Epoch, Seqno};

use store_support::*;
use thl::event::EventHeader;
use thl::record;
use thl::store::{FileHeader, Writer};

fn golden(name: &str, bytes: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("THL_BLESS").is_some() {
        std::fs::write(&path, bytes).expect("bless");
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run with THL_BLESS=1)", path.display()));
    assert!(
        want == bytes,
        "{} differs from the golden bytes:\n got  {:02x?}\n want {:02x?}",
        name,
        bytes,
        want
    );
}

fn fixed_header() -> EventHeader {
    EventHeader {
        seqno: Seqno(0x0102),
        seqno_end: Seqno(0x0102),
        fragno: 1,
        last_frag: true,
        epoch: Epoch(7),
        source_id: "db1".into(),
        event_id: "mysql-bin.000018:0000000000070227;140".into(),
        shard_id: "shop".into(),
        source_tstamp_ms: 1_700_000_000_123,
        extract_tstamp_ms: 1_700_000_000_456,
    }
}

#[test]
fn file_header_bytes() {
    let b = FileHeader {
        file_no: 3,
        base_seqno: Seqno(1234),
    }
    .encode();
    assert_eq!(&b[0..4], b"THLD");
    golden("segment_header.bin", &b);
}

#[test]
fn event_record_bytes() {
    let mut out = Vec::new();
    record::encode_event(&fixed_header(), b"BODY", &mut out).expect("encode");
    // Spot checks of the table in FORMAT.md §2.
    assert_eq!(u32::from_le_bytes([out[0], out[1], out[2], out[3]]) as usize, out.len());
    assert_eq!(out[8], 1);
    assert_eq!(&out[9..17], &0x0102i64.to_le_bytes());
    assert_eq!(&out[out.len() - 4..], b"BODY");
    golden("record_event.bin", &out);
    let f = record::parse_frame(&out).expect("frame");
    assert_eq!(
        record::decode_event_header(f.payload).expect("header").0,
        fixed_header()
    );
}

#[test]
fn filtered_range_record_bytes() {
    let mut h = fixed_header();
    h.fragno = 0;
    h.seqno_end = Seqno(0x0110);
    let mut out = Vec::new();
    record::encode_event(&h, b"", &mut out).expect("encode");
    golden("record_filtered.bin", &out);
}

#[test]
fn rotate_record_bytes() {
    let mut out = Vec::new();
    record::encode_rotate(Seqno(41), 2, &mut out);
    assert_eq!(out.len(), record::ROTATE_RECORD_LEN);
    golden("record_rotate.bin", &out);
}

#[test]
fn whole_segment_bytes() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 150)).expect("open");
    append_txn(&mut w, 0, 2, 8); // 246 bytes: past the 150-byte size
    append_txn(&mut w, 1, 1, 8); // so a ROTATE ends file 1 before this one
    append_txn(&mut w, 2, 1, 8);
    w.commit().expect("commit");
    drop(w);
    let first = std::fs::read(dir.path().join("thl.data.0000000001")).expect("read");
    assert!(dir.path().join("thl.data.0000000002").exists());
    golden("segment_small.bin", &first);
}

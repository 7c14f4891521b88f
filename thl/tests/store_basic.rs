//! Store behaviour, one test per requirement: append and read back across
//! rotations, seeking every seqno through the sparse index, ordering rules,
//! raw (relay) appends, durable watermark and tailing wakeups, sync policies,
//! the single-writer lock, index rebuild, verify, purge and retention, info
//! and per-file listing, and the codec conveniences.

mod store_support;

use std::fs;
use std::time::{Duration, Instant, SystemTime};
use thl::seqno::Seqno;

use store_support::*;
use thl::event::{EventBody, ReplEvent};
use thl::store::{Reader, Retention, StoreError, SyncPolicy, Visibility, Writer};

fn build_log(dir: &std::path::Path, file_size: u64, n: i64) -> Vec<Rec> {
    let mut w = Writer::open(cfg(dir, file_size)).expect("open");
    let mut model = Vec::new();
    let mut s = 0;
    while s < n {
        if s % 17 == 5 {
            model.push(append_filtered(&mut w, s, s + 2));
            s += 3;
            continue;
        }
        model.extend(append_txn(&mut w, s, (s % 3 + 1) as u16, 20 + (s % 50) as usize));
        s += 1;
    }
    w.commit().expect("commit");
    model
}

#[test]
fn append_and_read_back_across_rotations() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = build_log(dir.path(), 600, 120);
    let r = Reader::open(dir.path()).expect("reader");
    assert_eq!(read_all(&r), model);
    let info = r.info().expect("info");
    assert!(
        info.files.len() > 5,
        "expected rotations, got {} files",
        info.files.len()
    );
    assert_eq!(info.min_seqno, Some(Seqno(0)));
    assert_eq!(info.max_seqno, model.last().map(|(h, _)| h.seqno_end));
    for (i, f) in info.files.iter().enumerate() {
        assert_eq!(f.sealed, i + 1 < info.files.len());
        if let Some(next) = info.files.get(i + 1) {
            assert_eq!(f.last_seqno.map(|l| l + 1), Some(next.first_seqno));
        }
        // Every file starts a transaction and ends one: fragments never span files.
        let recs: Vec<_> = r
            .file_records(f.no)
            .expect("file")
            .collect::<Result<_, _>>()
            .expect("records");
        assert_eq!(recs.first().map(|r| r.header().fragno), Some(0));
        assert!(recs.last().is_some_and(|r| r.header().last_frag));
        assert_eq!(recs.first().map(|r| r.header().seqno), Some(f.first_seqno));
    }
    assert!(r.verify().expect("verify").index_problems.is_empty());
}

#[test]
fn seek_every_seqno() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = build_log(dir.path(), 2000, 150);
    let r = Reader::open(dir.path()).expect("reader");
    let max = r.max_seqno().expect("max").expect("non-empty");
    for s in 0..=max.0 {
        let mut c = r.cursor(Seqno(s)).expect("cursor");
        let rec = c.next().expect("next").expect("a record");
        let h = rec.header();
        assert!(
            h.seqno <= Seqno(s) && Seqno(s) <= h.seqno_end && h.fragno == 0,
            "seek {s} found {h:?}"
        );
        let at = model.iter().position(|(m, _)| m == h).expect("in model");
        assert_eq!(rec.body(), &model[at].1[..]);
    }
    let mut c = r.cursor(max + 1).expect("tail cursor");
    assert!(c.next().expect("next").is_none());
    assert!(matches!(r.cursor(max + 2), Err(StoreError::SeqnoNotFound { .. })));
}

#[test]
fn rejects_out_of_order_appends() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 1 << 20)).expect("open");
    let rej = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::Rejected { .. })), "{r:?}");
    rej(w.append(&header(0, 0, 1, true), b"")); // must start at fragno 0
    append_txn(&mut w, 0, 1, 5);
    append_txn(&mut w, 1, 1, 5);
    rej(w.append(&header(0, 0, 0, true), b"")); // lower than max
    rej(w.append(&header(1, 1, 0, true), b"")); // duplicate
    rej(w.append(&header(3, 3, 0, true), b"")); // gap
    rej(w.append(&header(2, 4, 1, true), b"")); // filtered range must be one fragment
    w.append(&header(2, 2, 0, false), b"a").expect("frag 0");
    rej(w.append(&header(2, 2, 0, false), b"a")); // non-increasing fragno
    rej(w.append(&header(2, 2, 3, false), b"a")); // fragno jump
    rej(w.append(&header(3, 3, 0, true), b"a")); // new seqno while 2 is open
    w.append(&header(2, 2, 1, true), b"b").expect("frag 1");
    append_filtered(&mut w, 3, 9);
    rej(w.append(&header(9, 9, 0, true), b""));
    append_txn(&mut w, 10, 2, 5);
    w.commit().expect("commit");
    assert_eq!(w.max_seqno(), Some(Seqno(10)));
    let s: Vec<_> = read_all(&w.reader(Visibility::Durable))
        .iter()
        .map(|(h, _)| (h.seqno.0, h.fragno))
        .collect();
    assert_eq!(s, vec![(0, 0), (1, 0), (2, 0), (2, 1), (3, 0), (10, 0), (10, 1)]);
}

#[test]
fn append_raw_relays_bytes_verbatim() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    build_log(a.path(), 700, 80);
    let src = Reader::open(a.path()).expect("reader");
    let mut relay = Writer::open(cfg(b.path(), 700)).expect("relay");
    let mut c = src.cursor(Seqno(0)).expect("cursor");
    let mut first = None;
    while let Some(rec) = c.next().expect("next") {
        first.get_or_insert_with(|| rec.raw_bytes().to_vec());
        relay.append_raw(rec.raw_bytes()).expect("append_raw");
    }
    relay.commit().expect("commit");
    // Same records, same rotation points: the files are byte-identical.
    let ia = src.info().expect("info");
    assert!(ia.files.len() > 2);
    for f in &ia.files {
        let other = b.path().join(f.path.file_name().expect("name"));
        assert_eq!(
            fs::read(&f.path).expect("a"),
            fs::read(other).expect("b"),
            "{}",
            f.path.display()
        );
    }
    // Invalid frames are refused before anything is written.
    let raw = first.expect("a record");
    let bad = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::BadRecord { .. })), "{r:?}");
    let mut flipped = raw.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    bad(relay.append_raw(&flipped));
    bad(relay.append_raw(&raw[..raw.len() - 1]));
    let mut trailing = raw.clone();
    trailing.push(0);
    bad(relay.append_raw(&trailing));
    let mut huge = raw.clone();
    huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    bad(relay.append_raw(&huge));
    // A valid frame out of order is rejected.
    assert!(matches!(relay.append_raw(&raw), Err(StoreError::Rejected { .. })));
}

#[test]
fn durable_watermark_restricts_in_process_readers() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = cfg(dir.path(), 1 << 20);
    c.sync = SyncPolicy::Interval(Duration::from_secs(3600));
    let mut w = Writer::open(c).expect("open");
    let durable = w.reader(Visibility::Durable);
    let written = w.reader(Visibility::Written);
    append_txn(&mut w, 0, 2, 10);
    append_txn(&mut w, 1, 1, 10);
    // Appended, not committed: nobody sees it.
    assert_eq!(written.max_seqno().expect("max"), None);
    w.commit().expect("commit");
    assert_eq!(written.max_seqno().expect("max"), Some(Seqno(1)));
    assert_eq!(durable.max_seqno().expect("max"), None);
    assert!(durable
        .cursor(Seqno(0))
        .expect("cursor")
        .next()
        .expect("next")
        .is_none());
    assert_eq!(read_all(&written).len(), 3);
    assert!(!durable.wait_for(Seqno(1), SHORT).expect("wait"));
    w.sync().expect("sync");
    assert_eq!(w.durable_seqno(), Some(Seqno(1)));
    assert!(durable.wait_for(Seqno(1), SHORT).expect("wait"));
    assert_eq!(read_all(&durable).len(), 3);
}

#[test]
fn interval_policy_syncs_in_the_background() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = cfg(dir.path(), 1 << 20);
    c.sync = SyncPolicy::Interval(Duration::from_millis(20));
    let mut w = Writer::open(c).expect("open");
    let r = w.reader(Visibility::Durable);
    for s in 0..50 {
        append_txn(&mut w, s, 1, 10);
        w.commit().expect("commit");
    }
    assert!(
        r.wait_for(Seqno(49), LONG).expect("wait"),
        "background syncer never advanced the watermark"
    );
}

#[test]
fn tailing_reader_wakes_on_commit() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut c = cfg(dir.path(), 2000);
    c.sync = SyncPolicy::EveryCommit;
    let mut w = Writer::open(c).expect("open");
    let r = w.reader(Visibility::Durable);
    let tail = std::thread::spawn(move || {
        let mut cur = r.cursor(Seqno(0)).expect("cursor");
        let mut got = Vec::new();
        while got.len() < 100 {
            match cur.next_timeout(LONG).expect("next") {
                Some(rec) => got.push(rec.header().seqno),
                None => break,
            }
        }
        got
    });
    assert!(!w.reader(Visibility::Durable).wait_for(Seqno(0), SHORT).expect("wait"));
    for batch in 0..10 {
        for s in batch * 10..batch * 10 + 10 {
            append_txn(&mut w, s, 1, 30);
        }
        w.commit().expect("commit"); // one fdatasync for ten transactions
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = tail.join().expect("join");
    assert_eq!(got, (0..100).map(Seqno).collect::<Vec<_>>());
    // wait_for returns as soon as the seqno is durable, not at the timeout.
    let r = w.reader(Visibility::Durable);
    let waiter = std::thread::spawn(move || {
        let t = Instant::now();
        (r.wait_for(Seqno(100), LONG).expect("wait"), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(50));
    append_txn(&mut w, 100, 1, 30);
    w.commit().expect("commit");
    let (ok, took) = waiter.join().expect("join");
    assert!(ok && took < Duration::from_secs(10), "{ok} {took:?}");
}

#[test]
fn second_writer_fails_naming_dir_and_pid() {
    let dir = tempfile::tempdir().expect("tmp");
    let _w = Writer::open(cfg(dir.path(), 1 << 20)).expect("open");
    let err = Writer::open(cfg(dir.path(), 1 << 20)).expect_err("second writer");
    match &err {
        StoreError::Locked { dir: d, pid } => {
            assert_eq!(d, dir.path());
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.path().display().to_string()) && msg.contains(&std::process::id().to_string()),
        "{msg}"
    );
    // Readers need no lock.
    assert!(Reader::open(dir.path()).is_ok());
}

#[test]
fn lock_is_released_on_drop() {
    let dir = tempfile::tempdir().expect("tmp");
    drop(Writer::open(cfg(dir.path(), 1 << 20)).expect("open"));
    Writer::open(cfg(dir.path(), 1 << 20)).expect("reopen");
}

#[test]
fn damaged_indexes_are_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = build_log(dir.path(), 3000, 200);
    let idx = |n: u32| dir.path().join(format!("thl.index.{n:010}"));
    fs::remove_file(idx(1)).expect("rm");
    let mut b = fs::read(idx(2)).expect("read");
    b[40] ^= 0xff;
    fs::write(idx(2), b).expect("write");
    let b = fs::read(idx(3)).expect("read");
    fs::write(idx(3), &b[..b.len() - 7]).expect("write");
    let info = Reader::open(dir.path()).expect("r").info().expect("info");
    let last = info.files.last().expect("files").no;
    fs::write(idx(last), b"garbage").expect("write");
    // Readers still work (valid prefix + scan), without writing.
    let r = Reader::open(dir.path()).expect("reader");
    assert_eq!(read_all(&r), model);
    assert!(!r.verify().expect("verify").index_problems.is_empty());
    drop(Writer::open(cfg(dir.path(), 3000)).expect("open rebuilds"));
    let rep = r.verify().expect("verify");
    assert!(rep.index_problems.is_empty(), "{:?}", rep.index_problems);
    for s in [0, 57, 123, 199] {
        let rec = r.cursor(Seqno(s)).expect("cursor").next().expect("next").expect("rec");
        assert!(rec.header().seqno <= Seqno(s) && Seqno(s) <= rec.header().seqno_end);
    }
}

#[test]
fn verify_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tmp");
    build_log(dir.path(), 800, 60);
    let r = Reader::open(dir.path()).expect("reader");
    let rep = r.verify().expect("verify");
    assert_eq!(
        (rep.min_seqno, rep.max_seqno, rep.unfinished_tail),
        (Some(Seqno(0)), Some(Seqno(59)), None)
    );
    let f = &r.info().expect("info").files[1];
    let mut b = fs::read(&f.path).expect("read");
    b[100] ^= 0x40;
    fs::write(&f.path, b).expect("write");
    match r.verify() {
        Err(StoreError::Corrupt {
            file,
            offset,
            last_good,
            ..
        }) => {
            assert_eq!(file, f.path);
            assert!(offset <= 100, "{offset}");
            assert!(last_good.is_some_and(|s| s >= f.first_seqno - 1));
        }
        other => panic!("unexpected {other:?}"),
    }
    // The writer refuses to open a log damaged outside the tail... unless the
    // damage is in the last file's tail; here it is in a middle file, which
    // the trailer check does not see, so reading hits it.
    let err = read_all_result(&r);
    assert!(matches!(err, Err(StoreError::Corrupt { .. })), "{err:?}");
}

fn read_all_result(r: &Reader) -> Result<usize, StoreError> {
    let mut c = r.cursor(Seqno(0))?;
    let mut n = 0;
    while c.next()?.is_some() {
        n += 1;
    }
    Ok(n)
}

#[test]
fn purge_respects_still_needed_and_the_active_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = build_log(dir.path(), 600, 120);
    let mut w = Writer::open(cfg(dir.path(), 600)).expect("open");
    let files = w.reader(Visibility::Durable).info().expect("info").files;
    assert!(files.len() > 4);
    // The range must include an end of the log.
    assert!(matches!(
        w.purge(Seqno(10), Seqno(20), Seqno(i64::MAX)),
        Err(StoreError::InvalidArgument(_))
    ));
    // Nothing at or above still_needed goes.
    let needed = files[2].first_seqno + 1;
    let rep = w.purge(Seqno(0), Seqno(1_000), needed).expect("purge");
    assert_eq!(rep.deleted.len(), 2, "{rep:?}");
    assert_eq!(w.min_seqno(), Some(files[2].first_seqno));
    // A file straddling `high` is kept whole.
    let rep = w.purge(Seqno(0), files[3].first_seqno, Seqno(i64::MAX)).expect("purge");
    assert_eq!(rep.deleted.len(), 1);
    assert_eq!(rep.min_seqno, Some(files[3].first_seqno));
    // Never the active file.
    let rep = w.purge(Seqno(0), Seqno(i64::MAX - 1), Seqno(i64::MAX)).expect("purge");
    assert_eq!(w.reader(Visibility::Durable).info().expect("info").files.len(), 1);
    assert_eq!(rep.max_seqno, Some(Seqno(119)));
    let r = w.reader(Visibility::Durable);
    let min = r.min_seqno().expect("min").expect("some");
    let expect: Vec<_> = model.iter().filter(|(h, _)| h.seqno >= min).cloned().collect();
    assert_eq!(read_all(&r), expect);
    assert!(matches!(r.cursor(Seqno(0)), Err(StoreError::SeqnoNotFound { .. })));
}

#[test]
fn top_purge_rolls_back_the_tail() {
    let dir = tempfile::tempdir().expect("tmp");
    let model = build_log(dir.path(), 600, 120);
    let mut w = Writer::open(cfg(dir.path(), 600)).expect("open");
    assert!(matches!(
        w.purge(Seqno(100), Seqno(200), Seqno(110)),
        Err(StoreError::InvalidArgument(_))
    ));
    let rep = w.purge(Seqno(50), Seqno(i64::MAX), Seqno(i64::MAX)).expect("top purge");
    let expect: Vec<_> = model.iter().filter(|(h, _)| h.seqno < Seqno(50)).cloned().collect();
    let last = expect.last().map(|(h, _)| h.seqno_end).expect("some");
    assert_eq!((rep.min_seqno, rep.max_seqno), (Some(Seqno(0)), Some(last)));
    assert_eq!(read_all(&w.reader(Visibility::Durable)), expect);
    // Appending continues from the new end.
    append_txn(&mut w, last.0 + 1, 2, 10);
    w.commit().expect("commit");
    drop(w);
    let r = Reader::open(dir.path()).expect("reader");
    assert_eq!(r.max_seqno().expect("max"), Some(last + 1));
    r.verify().expect("verify");
}

#[test]
fn retention_by_size_and_age() {
    let dir = tempfile::tempdir().expect("tmp");
    build_log(dir.path(), 600, 120);
    let mut w = Writer::open(cfg(dir.path(), 600)).expect("open");
    let info = w.reader(Visibility::Durable).info().expect("info");
    let total: u64 = info.files.iter().map(|f| f.size).sum();
    let by_size = Retention {
        max_age: None,
        max_total_bytes: Some(total - 1),
    };
    let rep = w
        .apply_retention(&by_size, Seqno(i64::MAX), SystemTime::now())
        .expect("retention");
    assert_eq!(rep.deleted.len(), 1);
    let by_age = Retention {
        max_age: Some(Duration::from_secs(60)),
        max_total_bytes: None,
    };
    let rep = w
        .apply_retention(&by_age, Seqno(i64::MAX), SystemTime::now())
        .expect("retention");
    assert!(rep.deleted.is_empty());
    let later = SystemTime::now() + Duration::from_secs(3600);
    let needed = info.files[4].first_seqno;
    let rep = w.apply_retention(&by_age, needed, later).expect("retention");
    assert_eq!(rep.min_seqno, Some(needed), "{rep:?}");
    let rep = w.apply_retention(&by_age, Seqno(i64::MAX), later).expect("retention");
    assert_eq!(
        w.reader(Visibility::Durable).info().expect("info").files.len(),
        1,
        "{rep:?}"
    );
}

#[test]
fn events_round_trip_through_the_codec() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 1 << 20)).expect("open");
    let ev = ReplEvent {
        header: header(0, 0, 0, true),
        body: EventBody {
            metadata: vec![("gtid".into(), "0-1-5".into())],
            changes: Vec::new(),
        },
    };
    w.append_event(&ev).expect("append");
    w.commit().expect("commit");
    let rec = w
        .reader(Visibility::Durable)
        .cursor(Seqno(0))
        .expect("c")
        .next()
        .expect("n")
        .expect("rec");
    assert_eq!(rec.decode_event().expect("decode"), ev);
    assert_eq!(rec.file_no(), 1);
    assert_eq!(rec.offset(), thl::store::FILE_HEADER_LEN);
}

#[test]
fn empty_log_can_be_tailed_from_zero() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 1 << 20)).expect("open");
    let r = w.reader(Visibility::Written);
    assert_eq!((r.min_seqno().expect("min"), r.max_seqno().expect("max")), (None, None));
    let mut c = r.cursor(Seqno(0)).expect("cursor");
    assert!(c.next().expect("next").is_none());
    append_txn(&mut w, 0, 1, 3);
    w.commit().expect("commit");
    assert_eq!(
        c.next_timeout(LONG).expect("next").map(|r| r.header().seqno),
        Some(Seqno(0))
    );
    // A log may start at any seqno (a relay joining mid-stream).
    let d2 = tempfile::tempdir().expect("tmp");
    let mut w2 = Writer::open(cfg(d2.path(), 1 << 20)).expect("open");
    append_txn(&mut w2, 1000, 1, 3);
    w2.commit().expect("commit");
    assert_eq!(w2.min_seqno(), Some(Seqno(1000)));
}

//! The writer on a failing disk (`thl::store::FaultyIo`): a failed
//! fdatasync (F4: the kernel may have dropped the pages), a full disk
//! (F13), a read-only file system. In every case the writer stops, the log
//! on disk ends at its last durable transaction with no torn record, and
//! `Writer::recover` continues from there once the disk works again. A
//! long transaction asks for writeback of what it wrote before its commit,
//! never past it.

mod store_support;

use std::time::Duration;
use thl::seqno::Seqno;

use store_support::{append_txn, cfg, read_all, Rec};
use thl::store::{FaultyIo, IoSeam, Reader, StoreError, SyncPolicy, Visibility, Writer};

fn faulty(
    dir: &std::path::Path,
    sync: SyncPolicy,
    file_size: u64,
) -> (thl::store::StoreConfig, std::sync::Arc<FaultyIo>) {
    let io = FaultyIo::new();
    let mut c = cfg(dir, file_size);
    c.sync = sync;
    c.io = IoSeam(io.clone());
    (c, io)
}

/// Seqnos of the complete log, with each record's body, read by another reader.
fn on_disk(dir: &std::path::Path) -> Vec<Rec> {
    let r = Reader::open(dir).expect("reader");
    let report = r.verify().expect("verify");
    assert_eq!(report.unfinished_tail, None, "{report:?}");
    read_all(&r)
}

fn seqnos(recs: &[Rec]) -> Vec<i64> {
    recs.iter()
        .filter(|(h, _)| h.last_frag)
        .map(|(h, _)| h.seqno.0)
        .collect()
}

#[test]
fn a_failed_fdatasync_cuts_the_log_back_to_its_last_durable_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::EveryCommit, 1 << 20);
    let mut w = Writer::open(c).expect("open");
    let mut kept = Vec::new();
    for s in 0..5 {
        kept.extend(append_txn(&mut w, s, 1, 300));
    }
    w.commit().expect("commit 0..=4");
    for s in 5..8 {
        append_txn(&mut w, s, 2, 300);
    }
    io.fail_syncs(1);
    let err = w.commit().expect_err("the fdatasync fails");
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(err.is_transient());
    assert!(w.is_poisoned());
    assert_eq!(
        w.durable_seqno(),
        Some(Seqno(4)),
        "durable never covers an unsynced byte"
    );
    // Nothing more is written until recovered, and the error says why.
    let again = w
        .append(&store_support::header(8, 8, 0, true), b"x")
        .expect_err("poisoned");
    assert!(matches!(again, StoreError::Poisoned { .. }), "{again}");
    assert!(again.to_string().contains("stopped after an I/O error"), "{again}");
    // The bytes after the last fdatasync are gone from the file, not only
    // from the writer's view: another process reads 0..=4.
    assert_eq!(on_disk(dir.path()), kept);

    w.recover().expect("recover");
    assert_eq!(w.max_seqno(), Some(Seqno(4)));
    for s in 5..8 {
        kept.extend(append_txn(&mut w, s, 2, 200));
    }
    w.commit().expect("commit after recovery");
    assert_eq!(w.durable_seqno(), Some(Seqno(7)));
    assert_eq!(
        on_disk(dir.path()),
        kept,
        "the re-appended transactions replace the cut ones"
    );
}

#[test]
fn a_failed_fdatasync_of_a_new_file_removes_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Files of ~1 KiB: a rotation every few transactions.
    let (c, io) = faulty(dir.path(), SyncPolicy::EveryCommit, 1024);
    let mut w = Writer::open(c).expect("open");
    let mut kept = Vec::new();
    for s in 0..4 {
        kept.extend(append_txn(&mut w, s, 1, 400));
        w.commit().expect("commit");
    }
    let files_before = Reader::open(dir.path())
        .expect("reader")
        .info()
        .expect("info")
        .files
        .len();
    // The next transaction opens a new file (the active one is full); its
    // first fdatasync fails: the new file holds nothing durable.
    append_txn(&mut w, 4, 1, 400);
    io.fail_syncs(1);
    w.commit().expect_err("the fdatasync fails");
    let info = Reader::open(dir.path()).expect("reader").info().expect("info");
    assert_eq!(info.files.len(), files_before, "the new file is removed: {info:?}");
    assert_eq!(on_disk(dir.path()), kept);
    w.recover().expect("recover");
    kept.extend(append_txn(&mut w, 4, 1, 400));
    w.commit().expect("commit");
    assert_eq!(on_disk(dir.path()), kept);
}

#[test]
fn a_full_disk_stops_appends_without_a_torn_record_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::EveryCommit, 1 << 20);
    let mut w = Writer::open(c).expect("open");
    let mut kept = Vec::new();
    for s in 0..3 {
        kept.extend(append_txn(&mut w, s, 1, 500));
    }
    w.commit().expect("commit");
    // Room for part of the next block only: the write is partial, then ENOSPC.
    io.set_space(700);
    for s in 3..6 {
        append_txn(&mut w, s, 1, 500);
    }
    let err = w.commit().expect_err("disk full");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(err.is_transient(), "a full disk is retried once space returns");
    assert_eq!(on_disk(dir.path()), kept, "no half record is left visible");
    // Still full: recovery works (it needs no space), appends fail again.
    w.recover().expect("recover on a full disk");
    append_txn(&mut w, 3, 1, 500);
    w.commit().expect_err("still full");
    assert_eq!(on_disk(dir.path()), kept);
    io.free_space();
    w.recover().expect("recover");
    for s in 3..6 {
        kept.extend(append_txn(&mut w, s, 1, 500));
    }
    w.commit().expect("commit once space returned");
    assert_eq!(seqnos(&on_disk(dir.path())), (0..6).collect::<Vec<_>>());
    assert_eq!(on_disk(dir.path()), kept);
}

#[test]
fn a_read_only_file_system_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::EveryCommit, 1 << 20);
    io.set_read_only(true);
    let mut w = Writer::open(c.clone()).expect("an empty log opens");
    let err = w
        .append(&store_support::header(0, 0, 0, true), b"x")
        .expect_err("the first file cannot be created");
    let text = err.to_string();
    assert!(
        text.contains("thl.data.0000000001") && text.contains("Read-only file system"),
        "{text}"
    );
    drop(w);
    // A log with data cannot be opened for writing on it either.
    io.set_read_only(false);
    let mut w = Writer::open(c.clone()).expect("open");
    let kept = append_txn(&mut w, 0, 1, 100);
    w.commit().expect("commit");
    drop(w);
    io.set_read_only(true);
    let err = Writer::open(c).expect_err("recovery's fdatasync fails");
    assert!(err.to_string().contains("Read-only file system"), "{err}");
    assert_eq!(on_disk(dir.path()), kept);
}

#[test]
fn a_failed_background_fdatasync_stops_the_writer_at_the_last_durable_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::Interval(Duration::from_millis(20)), 1 << 20);
    let mut w = Writer::open(c).expect("open");
    let mut kept = Vec::new();
    for s in 0..3 {
        kept.extend(append_txn(&mut w, s, 1, 300));
    }
    w.commit().expect("commit");
    let r = w.reader(Visibility::Durable);
    assert!(
        r.wait_for(Seqno(2), store_support::LONG).expect("wait"),
        "the syncer makes 0..=2 durable"
    );
    io.fail_syncs(u32::MAX);
    append_txn(&mut w, 3, 1, 300);
    w.commit().expect("commit returns before the background sync");
    let deadline = std::time::Instant::now() + store_support::LONG;
    while !w.is_poisoned() {
        assert!(std::time::Instant::now() < deadline, "the syncer never failed");
        std::thread::sleep(store_support::SHORT);
    }
    assert_eq!(w.durable_seqno(), Some(Seqno(2)));
    let err = w.commit().expect_err("poisoned");
    assert!(matches!(err, StoreError::Poisoned { .. }), "{err}");
    assert_eq!(on_disk(dir.path()), kept, "seqno 3 was never durable: cut");
    io.fail_syncs(0);
    w.recover().expect("recover");
    assert_eq!(w.max_seqno(), Some(Seqno(2)));
}

/// The length of the (single) data file on disk.
fn data_file_len(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join("thl.data.0000000001"))
        .expect("data file")
        .len()
}

#[test]
fn a_long_transaction_starts_writeback_of_what_it_wrote_in_contiguous_ranges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::EveryCommit, 64 << 20);
    let mut w = Writer::open(c).expect("open");
    let check = |from: u64| {
        let ranges = io.writebacks();
        let on_disk = data_file_len(dir.path());
        let mut at = from;
        for &(offset, len) in ranges.iter().filter(|(o, _)| *o >= from) {
            assert_eq!(offset, at, "contiguous: {ranges:?}");
            assert!(len >= 1 << 20, "at least 1 MiB at a time: {ranges:?}");
            at = offset + len;
        }
        assert!(at <= on_disk, "never past what was written: {ranges:?}, file {on_disk}");
        at
    };
    for f in 0..40u16 {
        let h = store_support::header(0, 0, f, f == 39);
        w.append(&h, &vec![b'x'; 100 << 10]).expect("append");
        check(0);
    }
    let started = check(0);
    assert!(started >= 3 << 20, "writeback started before the commit: {started}");
    w.commit().expect("commit");
    let synced = data_file_len(dir.path());
    // After the fdatasync, the next ranges start where it ended.
    let before = io.writebacks().len();
    append_txn(&mut w, 1, 20, 100 << 10);
    let after = io.writebacks();
    assert!(after.len() > before, "{after:?}");
    assert_eq!(after[before].0, synced, "{after:?}");
    check(synced);
    w.commit().expect("commit");
    assert_eq!(seqnos(&on_disk(dir.path())), vec![0, 1]);

    // Without fdatasyncs there is nothing to hurry.
    let dir = tempfile::tempdir().expect("tempdir");
    let (c, io) = faulty(dir.path(), SyncPolicy::Never, 64 << 20);
    let mut w = Writer::open(c).expect("open");
    append_txn(&mut w, 0, 40, 100 << 10);
    w.commit().expect("commit");
    assert_eq!(io.writebacks(), Vec::new());
}

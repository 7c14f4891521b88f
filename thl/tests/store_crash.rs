//! Crash and corruption tests (faults F5, F6): the last file truncated at
//! every byte offset recovers to the last complete transaction and loses
//! nothing else; an earlier file truncated is refused naming the file;
//! seeded random byte flips in the last file, an earlier file and index
//! files either recover (tail), or fail naming the damaged file and an
//! offset; never a panic, never a wrong record served.

mod store_support;

use std::fs;
use std::path::{Path, PathBuf};
use thl::seqno::Seqno;

use store_support::*;
use thl::store::{Reader, StoreError, Writer};

const FILE_SIZE: u64 = 2500;

/// A log of ~300 records (multi-fragment transactions, filtered ranges).
fn build(dir: &Path) -> Vec<Rec> {
    let mut w = Writer::open(cfg(dir, FILE_SIZE)).expect("open");
    let mut model = Vec::new();
    let mut s = 0;
    while model.len() < 300 {
        if s % 23 == 7 {
            model.push(append_filtered(&mut w, s, s + 1));
            s += 2;
        } else {
            model.extend(append_txn(&mut w, s, (s % 4 + 1) as u16, (s % 40) as usize));
            s += 1;
        }
        if s % 10 == 0 {
            w.commit().expect("commit");
        }
    }
    w.commit().expect("commit");
    model
}

fn copy_dir(from: &Path, to: &Path) {
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn data_files(dir: &Path) -> Vec<PathBuf> {
    Reader::open(dir)
        .expect("reader")
        .info()
        .expect("info")
        .files
        .into_iter()
        .map(|f| f.path)
        .collect()
}

fn read_all_checked(r: &Reader) -> Result<Vec<Rec>, StoreError> {
    let Some(min) = r.min_seqno()? else {
        return Ok(Vec::new());
    };
    let mut c = r.cursor(min)?;
    let mut out = Vec::new();
    while let Some(rec) = c.next()? {
        out.push((rec.header().clone(), rec.body().to_vec()));
    }
    Ok(out)
}

/// The model records that survive when the last file is cut at `cut`:
/// whole transactions only.
fn expected_after_cut(model: &[Rec], in_last: &[(thl::event::EventHeader, u64)], cut: u64) -> Vec<Rec> {
    let first_in_last = model.len() - in_last.len();
    let mut keep = first_in_last;
    for (i, (h, end)) in in_last.iter().enumerate() {
        if *end > cut {
            break;
        }
        if h.last_frag {
            keep = first_in_last + i + 1;
        }
    }
    model[..keep].to_vec()
}

#[test]
fn last_file_truncated_at_every_offset_recovers_whole_transactions() {
    let orig = tempfile::tempdir().expect("tmp");
    let model = build(orig.path());
    let files = data_files(orig.path());
    assert!(files.len() >= 3, "{} files", files.len());
    let last = files.last().expect("last").clone();
    let last_bytes = fs::read(&last).expect("read");
    let last_index = last.with_file_name(
        last.file_name()
            .expect("name")
            .to_string_lossy()
            .replace("thl.data.", "thl.index."),
    );
    let index_bytes = fs::read(&last_index).expect("index");
    let r = Reader::open(orig.path()).expect("reader");
    let no = r.info().expect("info").files.last().expect("files").no;
    let in_last: Vec<_> = r
        .file_records(no)
        .expect("records")
        .map(|x| x.map(|x| (x.header().clone(), x.offset() + x.raw_bytes().len() as u64)))
        .collect::<Result<_, _>>()
        .expect("ok");
    let work = tempfile::tempdir().expect("tmp");
    copy_dir(orig.path(), work.path());
    let wlast = work.path().join(last.file_name().expect("name"));
    let windex = work.path().join(last_index.file_name().expect("name"));
    for cut in 0..=last_bytes.len() {
        fs::write(&wlast, &last_bytes[..cut]).expect("write");
        fs::write(&windex, &index_bytes).expect("write index");
        let expect = expected_after_cut(&model, &in_last, cut as u64);
        let w = Writer::open(cfg(work.path(), FILE_SIZE)).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(w.max_seqno(), expect.last().map(|(h, _)| h.seqno_end), "cut {cut}");
        drop(w);
        let r = Reader::open(work.path()).expect("reader");
        let got = read_all_checked(&r).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert!(
            got == expect,
            "cut {cut}: {} records, expected {}",
            got.len(),
            expect.len()
        );
        if cut % 97 == 0 {
            let rep = r.verify().unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            assert!(
                rep.unfinished_tail.is_none() && rep.index_problems.is_empty(),
                "cut {cut}: {rep:?}"
            );
        }
    }
}

#[test]
fn incomplete_transaction_at_the_end_is_cut_and_can_be_rewritten() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 1 << 20)).expect("open");
    append_txn(&mut w, 0, 2, 10);
    w.append(&header(1, 1, 0, false), b"frag0").expect("append");
    w.append(&header(1, 1, 1, false), b"frag1").expect("append");
    drop(w); // flushes the fragments: the "crash" left transaction 1 unfinished
    assert!(Reader::open(dir.path())
        .expect("r")
        .verify()
        .expect("verify")
        .unfinished_tail
        .is_some());
    let mut w = Writer::open(cfg(dir.path(), 1 << 20)).expect("reopen");
    assert_eq!(w.max_seqno(), Some(Seqno(0)));
    append_txn(&mut w, 1, 3, 10);
    w.commit().expect("commit");
    assert_eq!(read_all(&Reader::open(dir.path()).expect("r")).len(), 5);
}

#[test]
fn earlier_file_truncated_is_refused_naming_the_file() {
    let orig = tempfile::tempdir().expect("tmp");
    build(orig.path());
    let files = data_files(orig.path());
    let victim_name = files[1].file_name().expect("name").to_owned();
    let len = fs::metadata(&files[1]).expect("meta").len();
    for cut in [0, 10, 32, 33, len / 2, len - 21, len - 1] {
        let work = tempfile::tempdir().expect("tmp");
        copy_dir(orig.path(), work.path());
        let victim = work.path().join(&victim_name);
        let b = fs::read(&victim).expect("read");
        fs::write(&victim, &b[..cut as usize]).expect("write");
        for res in [
            Writer::open(cfg(work.path(), FILE_SIZE)).map(|_| ()),
            Reader::open(work.path()).expect("r").verify().map(|_| ()),
        ] {
            match res {
                Err(StoreError::Corrupt { file, offset, .. }) => {
                    assert_eq!(file, victim, "cut {cut}");
                    assert!(offset <= cut, "cut {cut}: offset {offset}");
                }
                other => panic!("cut {cut}: expected a corruption error, got {other:?}"),
            }
        }
    }
}

/// A small seeded generator (xorshift64*), to keep failures reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_byte_flips_recover_or_fail_naming_the_file() {
    let orig = tempfile::tempdir().expect("tmp");
    let model = build(orig.path());
    let files = data_files(orig.path());
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut outcomes = [0usize; 3];
    for iter in 0..240 {
        let work = tempfile::tempdir().expect("tmp");
        copy_dir(orig.path(), work.path());
        // Alternate: the last file, an earlier file, an index file.
        let target_src = match iter % 3 {
            0 => files.last().expect("last").clone(),
            1 => files[(rng.next() as usize) % (files.len() - 1)].clone(),
            _ => {
                let f = &files[(rng.next() as usize) % files.len()];
                f.with_file_name(
                    f.file_name()
                        .expect("n")
                        .to_string_lossy()
                        .replace("thl.data.", "thl.index."),
                )
            }
        };
        let target = work.path().join(target_src.file_name().expect("name"));
        let mut b = fs::read(&target).expect("read");
        let at = (rng.next() as usize) % b.len();
        b[at] ^= (rng.next() % 255 + 1) as u8;
        fs::write(&target, &b).expect("write");
        let ctx = format!("iter {iter}: flipped {} at {at}", target.display());
        let is_data = iter % 3 != 2;
        // verify: Ok, or the flipped file named.
        match Reader::open(work.path()).expect("r").verify() {
            Ok(_) => {}
            Err(StoreError::Corrupt { file, .. }) => {
                assert!(is_data && file == target, "{ctx}: verify named {}", file.display())
            }
            Err(e) => panic!("{ctx}: verify: {e}"),
        }
        // The writer: recovers (and then serves only correct records) or
        // refuses naming the file.
        match Writer::open(cfg(work.path(), FILE_SIZE)) {
            Ok(w) => {
                drop(w);
                outcomes[0] += 1;
                match read_all_checked(&Reader::open(work.path()).expect("r")) {
                    Ok(got) => {
                        assert!(
                            got.len() <= model.len() && got[..] == model[..got.len()],
                            "{ctx}: wrong records served"
                        );
                        if !is_data || iter % 3 == 1 {
                            // Only a flip in the last file's tail may lose
                            // records: a damaged index is rebuilt, a damaged
                            // earlier file is refused, never cut.
                            assert_eq!(got.len(), model.len(), "{ctx}: lost records");
                        }
                    }
                    Err(StoreError::Corrupt { file, .. }) => {
                        outcomes[1] += 1;
                        assert!(is_data && file == target, "{ctx}: read named {}", file.display());
                    }
                    Err(e) => panic!("{ctx}: read: {e}"),
                }
            }
            Err(StoreError::Corrupt { file, .. }) => {
                outcomes[2] += 1;
                assert!(is_data && file == target, "{ctx}: open named {}", file.display());
            }
            Err(e) => panic!("{ctx}: open: {e}"),
        }
    }
    eprintln!(
        "opened {} (of which read errors {}), refused {}",
        outcomes[0], outcomes[1], outcomes[2]
    );
    assert!(outcomes[1] + outcomes[2] > 0);
}

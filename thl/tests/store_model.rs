//! Model-based property test of the store: random sequences of appends
//! (multi-fragment transactions, filtered ranges), commits, reopenings,
//! bottom and top purges, with a tiny file size so rotations are frequent,
//! checked after every step against an in-memory model (contents, min, max,
//! purge constraints). Small case counts: runs in seconds in debug builds.

mod store_support;

use proptest::prelude::*;
use store_support::*;
use thl::seqno::Seqno;
use thl::store::{Reader, Visibility, Writer};

#[derive(Debug, Clone)]
enum Op {
    Txn { frags: u16, len: usize },
    Filtered { count: i64 },
    Commit,
    Reopen,
    Purge { high: i64, needed: i64 },
    TopPurge { back: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u16..=3, 0usize..80).prop_map(|(frags, len)| Op::Txn { frags, len }),
        1 => (1i64..=4).prop_map(|count| Op::Filtered { count }),
        2 => Just(Op::Commit),
        1 => Just(Op::Reopen),
        1 => (0i64..40, 0i64..60).prop_map(|(high, needed)| Op::Purge { high, needed }),
        1 => (1i64..8).prop_map(|back| Op::TopPurge { back }),
    ]
}

fn next_seqno(model: &[Rec], start: i64) -> i64 {
    model.last().map_or(start, |(h, _)| h.seqno_end.0 + 1)
}

fn check(w: &Writer, model: &[Rec], committed: usize) {
    let r = w.reader(Visibility::Written);
    let visible = &model[..committed];
    assert_eq!(read_all(&r), visible, "contents");
    let min = model.first().map(|(h, _)| h.seqno);
    let max = model.last().map(|(h, _)| h.seqno_end);
    assert_eq!(w.min_seqno(), min, "writer min");
    assert_eq!(w.max_seqno(), max, "writer max");
    assert_eq!(
        r.max_seqno().expect("max"),
        visible.last().map(|(h, _)| h.seqno_end),
        "reader max"
    );
    if committed == model.len() {
        let disk = Reader::open(w.dir()).expect("reader");
        assert_eq!(disk.min_seqno().expect("min"), min, "disk min");
        assert_eq!(disk.max_seqno().expect("max"), max, "disk max");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_model(start in 0i64..3, ops in prop::collection::vec(op(), 1..45)) {
        let dir = tempfile::tempdir().expect("tmp");
        let config = cfg(dir.path(), 300);
        let mut w = Writer::open(config.clone()).expect("open");
        let mut model: Vec<Rec> = Vec::new();
        let mut committed = 0usize;
        for op in ops {
            match op {
                Op::Txn { frags, len } => {
                    let s = next_seqno(&model, start);
                    model.extend(append_txn(&mut w, s, frags, len));
                }
                Op::Filtered { count } => {
                    let s = next_seqno(&model, start);
                    model.push(append_filtered(&mut w, s, s + count - 1));
                }
                Op::Commit => {
                    w.commit().expect("commit");
                    committed = model.len();
                }
                Op::Reopen => {
                    drop(w);
                    w = Writer::open(config.clone()).expect("reopen");
                    committed = model.len();
                }
                Op::Purge { high, needed } => {
                    w.commit().expect("commit");
                    committed = model.len();
                    let Some(min) = w.min_seqno() else { continue };
                    let files_before = w.reader(Visibility::Written).info().expect("info").files.len();
                    let rep = w.purge(Seqno(0), min + high, min + needed).expect("purge");
                    let new_min = rep.min_seqno.expect("never empties the log");
                    prop_assert!(new_min >= min);
                    if new_min > min {
                        prop_assert!(new_min - 1 <= min + high, "purged past high");
                        prop_assert!(new_min - 1 < min + needed, "purged a needed seqno");
                    }
                    prop_assert_eq!(rep.deleted.len() + w.reader(Visibility::Written).info().expect("info").files.len(), files_before);
                    model.retain(|(h, _)| h.seqno >= new_min);
                    committed = model.len();
                    prop_assert!(model.first().is_some_and(|(h, _)| h.seqno == new_min && h.fragno == 0));
                }
                Op::TopPurge { back } => {
                    w.commit().expect("commit");
                    committed = model.len();
                    let (Some(min), Some(max)) = (w.min_seqno(), w.max_seqno()) else { continue };
                    let low = max - back;
                    if low <= min {
                        continue;
                    }
                    w.purge(low, Seqno(i64::MAX), Seqno(i64::MAX)).expect("top purge");
                    model.retain(|(h, _)| h.seqno < low);
                    committed = model.len();
                }
            }
            check(&w, &model, committed);
        }
        drop(w);
        let r = Reader::open(dir.path()).expect("reader");
        prop_assert_eq!(read_all(&r), model.clone());
        let rep = r.verify().expect("verify");
        prop_assert!(rep.index_problems.is_empty(), "{:?}", rep.index_problems);
        prop_assert_eq!(rep.max_seqno, model.last().map(|(h, _)| h.seqno_end));
    }
}

//! Exactly once at every crash point (`thl::faults`): on a master → relay →
//! slave chain under load, each host's replicator is restarted with one
//! point armed, dies there, and is restarted clean (or, for the disk's
//! error points, reports a full disk or a failed fdatasync and goes on from
//! its durable end); the relay's and the slave's databases are also
//! SIGKILLed and restarted, and held under a global read lock, while their
//! replicators run; the oracle
//! (`tests::torture`) then finds every transaction once on every host (a
//! ledger without a key), equal checksums and tables, and gapless THLs that
//! agree with the master's.
//!
//! Run: `cargo test -p tests --test failpoints -- --test-threads=1`
//! (three `mariadbd`, three replicators built with the `failpoints`
//! feature, which the tests package enables).

use tests::torture::{every_point, Torture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crash_point_on_every_host_loses_and_duplicates_nothing() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut torture = Torture::start(root.path()).await.expect("chain");
    let faults = every_point(torture.cluster.hosts());
    assert_eq!(faults.len(), 3 + 7 + 7 + 3 * 2 + 2 * 2, "{faults:?}");
    for fault in &faults {
        eprintln!("fault: {fault}");
        torture.inject(fault).await.unwrap_or_else(|e| panic!("{fault}: {e}"));
    }
    let summary = torture
        .verify()
        .await
        .unwrap_or_else(|e| panic!("after {} faults: {e}", faults.len()));
    eprintln!("{summary}");
    assert!(torture.committed() > 0);
}

//! Where a slave with an empty THL starts (issue 9, window 4): at the
//! transaction its database committed (stored, not applied again) when it
//! has one (a host restored
//! from a backup, or after its THL was removed), checked by the upstream
//! like any resume; a blank host (no THL, no committed position) only at
//! seqno 0, and never at a purged log's minimum, which would silently
//! leave out every transaction before it.
//!
//! Runs on the chain of `tests::torture` (host1.alpha → host1.beta →
//! host2.beta, one-second THL retention) under its load.
//!
//! Run: `cargo test -p tests --test start_positions -- --test-threads=1`.

use std::time::{Duration, Instant};

use tests::torture::Torture;

const SLAVE: &str = "host2.beta";
const RELAY: &str = "host1.beta";

fn thl_min(torture: &Torture, host: &str) -> Option<i64> {
    tests::process::thl_min_seqno(&torture.cluster.deployment.thl_dir(host, "beta"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_thl_starts_at_the_targets_position_and_a_blank_host_not_at_a_purged_minimum() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut torture = Torture::start(root.path()).await.expect("chain");
    // Let the relay's retention purge its first files.
    let deadline = Instant::now() + Duration::from_secs(120);
    while thl_min(&torture, RELAY).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "the relay never purged its first THL file");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("{}", torture.verify().await.expect("before"));

    // The slave's THL is lost; its database keeps its position.
    torture.cluster.kill_replicator(SLAVE);
    let thl_dir = torture.cluster.deployment.thl_dir(SLAVE, "beta");
    std::fs::remove_dir_all(&thl_dir).expect("remove the slave's THL");
    let relay_min = thl_min(&torture, RELAY).expect("relay THL");
    let committed: i64 = torture
        .cluster
        .db(SLAVE)
        .query_value("SELECT MIN(seqno) FROM tungsten_beta.trep_commit_seqno")
        .await
        .expect("the slave's position")
        .and_then(|v| v.parse().ok())
        .expect("a committed seqno");
    torture.cluster.start_replicator(SLAVE).expect("restart");
    torture.resume_load();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let summary = torture.verify().await.expect("exactly once after the THL was lost");
    eprintln!("{summary}");
    // The new THL starts with the committed transaction itself (checked
    // upstream, skipped by the applier, kept for this host's own clients;
    // the one-second retention may have purged it since).
    let log = torture.cluster.processes[SLAVE].log_tail(400);
    assert!(
        log.contains("fetching from the target's committed position")
            && log.contains(&format!("THL client connected uri=thl://{RELAY}:2112/"))
            && log.contains(&format!("start=Some(Seqno({committed}))")),
        "the slave fetched from its position {committed}, not from the relay's minimum ({relay_min}):\n{log}"
    );

    // A blank host: no THL, no catalog, no position, no data.
    torture.cluster.kill_replicator(SLAVE);
    std::fs::remove_dir_all(&thl_dir).expect("remove the slave's THL");
    let catalog = torture.cluster.deployment.install_dir(SLAVE).join("catalog");
    let _ = std::fs::remove_dir_all(catalog);
    torture
        .cluster
        .db(SLAVE)
        .exec("DROP DATABASE tungsten_beta; DROP DATABASE app")
        .await
        .expect("blank database");
    torture.cluster.start_replicator(SLAVE).expect("start the blank host");
    let deadline = Instant::now() + Duration::from_secs(60);
    let refusal = loop {
        let log = torture.cluster.processes[SLAVE].log_tail(40);
        if let Some(line) = log.lines().find(|l| l.contains("OFFLINE:ERROR")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "the blank host was not refused:\n{log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        refusal.contains("must start at seqno 0") && refusal.contains("Provision the client"),
        "{refusal}"
    );
    let apps = torture
        .cluster
        .db(SLAVE)
        .query_value("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'app'")
        .await
        .expect("schemata");
    assert_eq!(apps.as_deref(), Some("0"), "nothing was applied on the blank host");
    assert!(
        thl_min(&torture, SLAVE).is_none(),
        "nothing was stored on the blank host"
    );
    torture.stop().await.expect("writer");
}

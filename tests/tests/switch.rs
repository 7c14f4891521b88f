//! A planned switch of the composite cluster's active site (issue 13):
//! the seed's six hosts under a write load on the primary;
//! `trepctl composite switch -to beta` fences host1.alpha (read_only),
//! flushes it, promotes host1.beta and makes host1.alpha a relay of it;
//! the load moves to host1.beta when the switch says it is done. Then
//! beta's host1 is master, alpha's host1 a relay of beta, writes on the
//! new primary reach all six, and the keyless ledger and the counter are
//! exact on every host (nothing lost or applied twice across the switch).
//! Then the same back to alpha. Before that, a switch that cannot succeed
//! (a target whose relay is offline) is refused before anything changes:
//! the load goes on on host1.alpha.
//!
//! Run: `cargo test -p tests --test switch` (six `mariadbd`, six replicators).

use std::collections::BTreeSet;
use std::time::Duration;

use tests::cluster::Cluster;
use tests::load::{check_exact, create_app_user, Load, SCHEMA};

fn trepctl(cluster: &Cluster, args: &[&str]) -> (bool, String) {
    let (ok, text) = cluster
        .deployment
        .run_tool("trepctl", None, args)
        .expect("trepctl runs");
    println!("trepctl {}:\n{text}", args.join(" "));
    (ok, text)
}

/// The line of `host` in `composite status`.
fn status_line(cluster: &Cluster, host: &str) -> String {
    let (ok, out) = trepctl(cluster, &["composite", "status"]);
    assert!(ok, "{out}");
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(host))
        .unwrap_or_default()
        .to_owned()
}

async fn switch(cluster: &mut Cluster, load: &Load, to: &str, new_master: &str, old_master: &str) {
    let args = ["composite", "switch", "-to", to];
    let (ok, out) = {
        let dep = &cluster.deployment;
        tokio::task::block_in_place(|| dep.run_tool("trepctl", None, &args)).expect("trepctl runs")
    };
    println!("trepctl {}:\n{out}", args.join(" "));
    assert!(ok && out.contains("switch done"), "{out}");
    load.follow(new_master);
    cluster.set_master(new_master);
    let line = status_line(cluster, new_master);
    assert!(line.contains(" master ") && line.contains("ONLINE"), "{line}");
    let line = status_line(cluster, old_master);
    assert!(
        line.contains(" relay ") && line.contains("ONLINE") && line.contains(new_master),
        "{line}"
    );
    load.wait_for_more(100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_site_switches_to_beta_and_back_under_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create(dir.path()).await.expect("six sandboxes");
    cluster.start_replicators().expect("six replicators");
    create_app_user(&cluster).await;
    cluster.db("host1.alpha").exec(SCHEMA).await.expect("schema");
    let load = Load::start(&cluster, "host1.alpha", 1);
    load.wait_for_more(100).await;

    // A switch to a site whose relay is offline is refused, and nothing changes.
    let (ok, out) = trepctl(&cluster, &["--host", "host1.beta", "offline"]);
    assert!(ok, "{out}");
    let (ok, out) = trepctl(&cluster, &["composite", "switch", "-to", "beta"]);
    assert!(!ok && out.contains("needs it ONLINE"), "{out}");
    let line = status_line(&cluster, "host1.alpha");
    assert!(line.contains(" master ") && line.contains("ONLINE"), "{line}");
    let (ok, out) = trepctl(&cluster, &["--host", "host1.beta", "online"]);
    assert!(ok, "{out}");
    load.wait_for_more(20).await;

    switch(&mut cluster, &load, "beta", "host1.beta", "host1.alpha").await;
    switch(&mut cluster, &load, "alpha", "host1.alpha", "host1.beta").await;

    let committed = load.stop().await;
    for (host, txns) in &committed {
        println!("{host}: {} transactions committed", txns.len());
    }
    assert!(committed.len() == 2, "writes on both primaries: {committed:?}");
    cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("every host applied the master's last seqno");
    let all: BTreeSet<u64> = committed.values().flatten().copied().collect();
    check_exact(&cluster, &all).await;
}

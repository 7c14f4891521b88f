//! Failover of the composite cluster's active site and recovery of the
//! failed one (issue 13), on the seed's six hosts:
//!
//! 1. Nothing diverged: alpha's replicators are SIGKILLed and its
//!    primary's MariaDB stopped after everything reached beta;
//!    `trepctl composite failover -to beta` promotes host1.beta; writes go
//!    on there; alpha comes back (its replicators restart as they were: its
//!    old master refuses to extract beside the new one) and `composite
//!    recover alpha` makes host1.alpha a relay of beta directly.
//! 2. Diverged: now beta is active. host1.alpha (its relay) is taken
//!    offline, so the transactions beta's primary commits from then on reach
//!    nobody; beta's replicators are SIGKILLed while writes go on (some
//!    are never extracted) and its MariaDB stopped; `failover -to alpha`.
//!    Beta comes back with a history alpha never had: `recover beta` is
//!    refused, naming `tprovision`; after `tprovision` of its three hosts
//!    from a replica of alpha, `recover beta` succeeds.
//!
//! At the end the six hosts hold the same rows, the keyless ledger has one
//! row per transaction of the surviving history and no other (every
//! transaction written on the surviving primaries, none of those beta
//! committed after its relay went offline), and the counter matches it.
//!
//! Run: `cargo test -p tests --test failover` (six `mariadbd`, six
//! replicators, three provisions).

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use tests::cluster::{growable_ini, Cluster, HOSTS};
use tests::load::{check_exact, create_app_user, Load, SCHEMA};

fn tool(cluster: &Cluster, tool: &str, host: Option<&str>, args: &[&str]) -> (bool, String) {
    let (ok, text) = tokio::task::block_in_place(|| cluster.deployment.run_tool(tool, host, args)).expect("tool runs");
    println!("{tool} {host:?} {}:\n{text}", args.join(" "));
    (ok, text)
}

fn boot(cluster: &Cluster, host: &str, action: &str) {
    let script = cluster.db(host).dir().join("boot.sh");
    let st = tokio::task::block_in_place(|| Command::new("sh").arg(&script).arg(action).status()).expect("boot.sh");
    assert!(st.success(), "{} {action}", script.display());
}

/// The site of `head` goes away: its replicators SIGKILLed, its
/// primary's MariaDB stopped.
fn lose_site(cluster: &mut Cluster, hosts: &[&str]) {
    for h in hosts {
        cluster.kill_replicator(h);
    }
    boot(cluster, hosts[0], "stop");
}

/// The site comes back: MariaDB, then the replicators as they were,
/// answering.
fn bring_back(cluster: &mut Cluster, hosts: &[&str]) {
    boot(cluster, hosts[0], "start");
    for h in hosts {
        cluster.start_replicator(h).expect("restart");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for h in hosts {
        while !cluster
            .deployment
            .run_tool("trepctl", Some(h), &["services"])
            .is_ok_and(|(ok, _)| ok)
        {
            assert!(std::time::Instant::now() < deadline, "{h}'s replicator does not answer");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_passive_site_takes_over_and_the_failed_one_rejoins() {
    let alpha = &HOSTS[..3];
    let beta = &HOSTS[3..];
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create_with_spares(dir.path(), &HOSTS, &[], |port, sandbox| {
        growable_ini(port, sandbox, false)
    })
    .await
    .expect("six sandboxes");
    for host in HOSTS {
        cluster.db(host).write_boot_script().expect("boot script");
    }
    cluster.start_replicators().expect("six replicators");
    create_app_user(&cluster).await;
    cluster.db("host1.alpha").exec(SCHEMA).await.expect("schema");

    // 1. Nothing diverged.
    let load = Load::start(&cluster, "host1.alpha", 1);
    load.wait_for_more(100).await;
    let mut kept: BTreeSet<u64> = load.stop().await.values().flatten().copied().collect();
    let handover = cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied");
    lose_site(&mut cluster, alpha);
    let (ok, out) = tool(&cluster, "trepctl", None, &["composite", "failover", "-to", "beta"]);
    assert!(ok && out.contains(&format!("had seqno {handover}")), "{out}");
    cluster.set_master("host1.beta");
    let load = Load::start(&cluster, "host1.beta", 1_000_000);
    load.wait_for_more(100).await;
    bring_back(&mut cluster, alpha);
    // Its old master does not extract beside the new one.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, out) = tool(&cluster, "trepctl", Some("host1.alpha"), &["status"]);
        if out.contains("OFFLINE:ERROR") {
            assert!(out.contains("does not extract beside it"), "{out}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "host1.alpha went on as master: {out}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (ok, out) = tool(&cluster, "trepctl", None, &["composite", "recover", "alpha"]);
    assert!(ok && out.contains("recover done"), "{out}");
    load.wait_for_more(50).await;

    // 2. Diverged: beta's primary commits what its relay never gets.
    load.pause().await;
    cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied");
    let shipped = load.committed();
    let (ok, out) = tool(&cluster, "trepctl", Some("host1.alpha"), &["offline"]);
    assert!(ok, "{out}");
    load.follow("host1.beta");
    load.wait_for_more(50).await;
    cluster.kill_replicator("host1.beta");
    load.wait_for_more(20).await;
    let lost: BTreeSet<u64> = load
        .stop()
        .await
        .values()
        .flatten()
        .filter(|t| !shipped.contains(t))
        .copied()
        .collect();
    lose_site(&mut cluster, beta);
    let (ok, out) = tool(&cluster, "trepctl", Some("host1.alpha"), &["online"]);
    assert!(ok, "{out}");
    let (ok, out) = tool(&cluster, "trepctl", None, &["composite", "failover", "-to", "alpha"]);
    assert!(ok && out.contains("failover done"), "{out}");
    cluster.set_master("host1.alpha");
    let load = Load::start(&cluster, "host1.alpha", 2_000_000);
    load.wait_for_more(50).await;
    bring_back(&mut cluster, beta);
    let (ok, out) = tool(&cluster, "trepctl", None, &["composite", "recover", "beta"]);
    assert!(!ok && out.contains("tprovision -s"), "{out}");
    for host in beta {
        let (ok, out) = tool(&cluster, "tprovision", Some(host), &["-s", "host2.alpha"]);
        assert!(ok, "{host}: {out}");
    }
    let (ok, out) = tool(&cluster, "trepctl", None, &["composite", "recover", "beta"]);
    assert!(ok && out.contains("recover done"), "{out}");
    load.wait_for_more(50).await;
    let last = load.stop().await;
    cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied");

    // The surviving history: everything but what beta committed after its
    // relay went offline.
    assert!(lost.len() >= 70, "{} transactions only beta had", lost.len());
    kept.extend(&shipped);
    kept.extend(last.values().flatten());
    check_exact(&cluster, &kept).await;
}

//! Growing the composite cluster live (issue 12): alpha (master + 2
//! slaves) and beta (relay + 2 slaves) run under a write load; a third
//! dataservice, `north` (relay db7, slaves db8 and db9, `relay-source=alpha`),
//! is added to the ini, its replicators start OFFLINE on empty databases,
//! and `tprovision` fills them: db7 from host2.alpha (a replica of alpha)
//! with mariabackup, db8 from db7 with mysqldump, db9 from db7 with
//! mariabackup (after a first provision of db9 from the primary,
//! `--allow-primary`). Then all nine hosts hold the same data, the keyless ledger
//! has one row per transaction written on every host (nothing lost or
//! applied twice), and the six existing hosts never left ONLINE.
//!
//! The existing hosts take the grown ini with `trepctl reload` (nothing
//! changes for them); a change that needs a restart is refused, named.
//! Refusals of sources are checked on the way: the node itself, the
//! primary, a replica taken offline until it is further behind the master
//! than `--max-lag` (a host of a dataservice that carries another history
//! is refused too: `control/src/config/lineage.rs` tests which do). Provisions of db9
//! interrupted by killing the source's replicator, then db9's own, leave
//! db9 OFFLINE with its previous data; the rerun succeeds.

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use control::responses::{ProvisionStatus, ServiceSummary};
use control::state::State;
use mysql_async::prelude::Queryable;
use tests::cluster::{growable_ini, Cluster, HOSTS, NORTH_HOSTS as NORTH, REST_PASSWORD, REST_USER};
use tests::process::workspace_bin;

fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> (bool, String) {
    run(cluster, "trepctl", host, args)
}

fn tprovision(cluster: &Cluster, host: &str, args: &[&str]) -> (bool, String) {
    run(cluster, "tprovision", host, args)
}

fn run(cluster: &Cluster, tool: &str, host: &str, args: &[&str]) -> (bool, String) {
    let (ok, text) = cluster
        .deployment
        .run_tool(tool, Some(host), args)
        .expect("the tool runs");
    println!("{tool} --host {host} {}:\n{text}", args.join(" "));
    (ok, text)
}

/// Starts `tprovision` of `host` from `source`, kills the replicator of
/// `victim` once bytes flow, and checks that `host` is left safe: its
/// service OFFLINE (and unable to go online while the provision marker of
/// a killed node remains), its database up with its previous data (no
/// `app` schema yet). Restarts the victim.
async fn interrupt(cluster: &mut Cluster, host: &str, source: &str, victim: &str) {
    let mut child = Command::new(workspace_bin("tprovision").expect("tprovision"))
        .arg("--config")
        .arg(cluster.deployment.ini())
        .arg("--hosts-file")
        .arg(cluster.deployment.hosts_file())
        .args(["--host", host, "-s", source, "-m", "mariabackup"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tprovision");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let st: Result<ProvisionStatus, String> = replicator::provision::fetch::get_json(
            std::net::SocketAddr::new(cluster.db(host).address().into(), 8097),
            Some((REST_USER, REST_PASSWORD)),
            &format!("{}/service/north/provision", control::requests::API_BASE),
        )
        .await;
        if st.as_ref().is_ok_and(|s| s.phase == "copying" && s.bytes > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the provision of {host} never copied: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.kill_replicator(victim);
    let _ = child.wait();
    let offline = if victim == host { vec!["--offline"] } else { vec![] };
    let p = cluster.deployment.start(victim, &offline).expect("restart the victim");
    cluster.processes.insert(victim.to_owned(), p);
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = if victim == host {
        State::OfflineNormal
    } else {
        State::Online
    };
    loop {
        let got = services(cluster, victim).await;
        if got.as_ref().is_ok_and(|s| s.iter().all(|s| s.state == want)) {
            break;
        }
        assert!(Instant::now() < deadline, "{victim} did not come back {want}: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let states = services(cluster, host).await.expect("services");
    assert!(states.iter().all(|s| s.state.is_offline()), "{host}: {states:?}");
    // The node's own replicator died with the provision unfinished: the
    // marker stays and `online` refuses; a failed provision (the source
    // died) whose local data did not change removes it.
    let marker = cluster
        .deployment
        .install_dir(host)
        .join("thl")
        .join("north.provisioning");
    if victim == host {
        assert!(marker.exists(), "no marker after {host} was killed mid-provision");
        let (ok, out) = trepctl(cluster, host, &["online"]);
        assert!(!ok && out.contains("unfinished provision"), "{out}");
    } else {
        assert!(!marker.exists(), "{} left behind", marker.display());
    }
    let app = cluster
        .db(host)
        .query_value("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'app'")
        .await
        .expect("the database is up");
    assert_eq!(app.as_deref(), Some("0"), "{host} holds part of a copy");
    println!("interrupted provision of {host} ({victim} killed): left OFFLINE with its previous data");
}

/// The services of `host` from its REST API.
async fn services(cluster: &Cluster, host: &str) -> Result<Vec<ServiceSummary>, String> {
    let addr = cluster.db(host).address();
    replicator::provision::fetch::get_json(
        std::net::SocketAddr::new(addr.into(), 8097),
        Some((REST_USER, REST_PASSWORD)),
        &format!("{}/services", control::requests::API_BASE),
    )
    .await
}

async fn applied(cluster: &Cluster, host: &str, service: &str) -> Option<i64> {
    cluster
        .db(host)
        .query_value(&format!("SELECT MIN(seqno) FROM tungsten_{service}.trep_commit_seqno"))
        .await
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_cluster_is_added_under_load_and_provisioned_from_replicas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create_with_spares(dir.path(), &HOSTS, &NORTH, |port, sandbox| {
        growable_ini(port, sandbox, false)
    })
    .await
    .expect("nine sandboxes");
    for host in HOSTS.iter().chain(&NORTH) {
        cluster.db(host).write_boot_script().expect("boot script");
    }
    cluster.start_replicators().expect("six replicators");
    let master = cluster.db(HOSTS[0]);
    master
        .exec(
            "CREATE DATABASE app; \
             CREATE TABLE app.counter (id INT PRIMARY KEY, n BIGINT NOT NULL); \
             INSERT INTO app.counter VALUES (1, 0); \
             CREATE TABLE app.ledger (txn BIGINT NOT NULL, note VARCHAR(64))",
        )
        .await
        .expect("schema");

    // The load: one counter update and one keyless ledger row per
    // transaction, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written, opts) = (stop.clone(), written.clone(), master.root_opts());
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(opts).await.expect("writer connects");
            while !stop.load(Ordering::Relaxed) {
                let i = written.load(Ordering::Relaxed) + 1;
                conn.query_drop(format!(
                    "BEGIN; UPDATE app.counter SET n = n + 1 WHERE id = 1; \
                     INSERT INTO app.ledger VALUES ({i}, 'transaction {i}'); COMMIT"
                ))
                .await
                .expect("write");
                written.store(i, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // The existing hosts stay ONLINE throughout (sampled every second).
    let left_online = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let (stop, left) = (stop.clone(), left_online.clone());
        // host3.alpha is taken offline on purpose below (a lagging source).
        let addrs: Vec<(String, std::net::IpAddr)> = HOSTS
            .iter()
            .filter(|h| **h != "host3.alpha")
            .map(|h| (h.to_string(), cluster.db(h).address().into()))
            .collect();
        tokio::spawn(async move {
            let mut ready = false;
            while !stop.load(Ordering::Relaxed) {
                for (host, ip) in &addrs {
                    let got: Result<Vec<ServiceSummary>, String> = replicator::provision::fetch::get_json(
                        std::net::SocketAddr::new(*ip, 8097),
                        Some((REST_USER, REST_PASSWORD)),
                        &format!("{}/services", control::requests::API_BASE),
                    )
                    .await;
                    let online = got.as_ref().is_ok_and(|s| s.iter().all(|s| s.state == State::Online));
                    if ready && !online {
                        if let Ok(mut l) = left.lock() {
                            l.push(format!("{host}: {got:?}"));
                        }
                    }
                }
                ready = true;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    // Under load the hosts never stand at one seqno: wait until each has
    // passed what the master held a moment ago.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let target = cluster.master_max_seqno().expect("the master's THL");
    let deadline = Instant::now() + Duration::from_secs(120);
    for host in HOSTS {
        while cluster.applied_seqno(host).await < Some(target) {
            assert!(Instant::now() < deadline, "{host} did not reach seqno {target}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Add north to the ini; its replicators start OFFLINE on empty databases.
    let port = cluster.db(HOSTS[0]).port();
    let sandbox_root = cluster.sandbox.root().to_path_buf();
    // A change that needs a restart is refused, naming it; the running
    // configuration stays.
    let grown = growable_ini(port, &sandbox_root, true);
    std::fs::write(
        cluster.deployment.ini(),
        grown.replace("[defaults]\n", "[defaults]\nthl-port=2113\n"),
    )
    .expect("rewrite the ini");
    let (ok, out) = trepctl(&cluster, "host2.alpha", &["reload"]);
    assert!(
        !ok && out.contains("THL address") && out.contains("restart the replicator"),
        "{out}"
    );
    // Adding north changes nothing on the existing hosts: every one takes it.
    std::fs::write(cluster.deployment.ini(), &grown).expect("rewrite the ini");
    for host in HOSTS {
        let (ok, out) = trepctl(&cluster, host, &["reload"]);
        assert!(ok && out.contains("nothing changed for this host"), "{host}: {out}");
    }
    for host in NORTH {
        let p = cluster
            .deployment
            .start(host, &["--offline"])
            .expect("north replicator");
        cluster.processes.insert(host.to_owned(), p);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for host in NORTH {
        while services(&cluster, host).await.is_err() {
            assert!(Instant::now() < deadline, "{host}'s REST API did not come up");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Refused sources, each with its reason.
    let (ok, out) = tprovision(&cluster, "db7", &["-s", "db7"]);
    assert!(!ok && out.contains("is this host"), "{out}");
    let (ok, out) = tprovision(&cluster, "db7", &["-s", "host1.alpha"]);
    assert!(!ok && out.contains("is the primary of alpha"), "{out}");
    // A source further behind the master than --max-lag.
    let (ok, out) = trepctl(&cluster, "host3.alpha", &["offline"]);
    assert!(ok, "{out}");
    let behind = cluster.applied_seqno("host3.alpha").await.expect("host3.alpha applied") + 30;
    while cluster.master_max_seqno() < Some(behind) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ok, out) = tprovision(&cluster, "db7", &["-s", "host3.alpha", "--max-lag", "10"]);
    assert!(
        !ok && out.contains("seqnos behind") && out.contains("more than maxLag 10"),
        "{out}"
    );
    let (ok, out) = trepctl(&cluster, "host3.alpha", &["online"]);
    assert!(ok, "{out}");

    // The three provisions.
    let (ok, out) = tprovision(&cluster, "db7", &["-s", "host2.alpha", "-m", "mariabackup"]);
    assert!(
        ok && out.contains("Position: seqno"),
        "{out}\n{}",
        cluster.processes["db7"].log_tail(30)
    );

    // Interrupted provisions of db9 from db7: the source's replicator
    // killed mid-copy, then db9's own. Each leaves db9 OFFLINE with its
    // previous data and no marker; the rerun below succeeds.
    interrupt(&mut cluster, "db9", "db7", "db7").await;
    interrupt(&mut cluster, "db9", "db7", "db9").await;

    // From the primary, asked for: mariabackup only; the copy's binlog
    // position is matched to the primary's THL.
    let (ok, out) = tprovision(
        &cluster,
        "db9",
        &["-s", "host1.alpha", "--allow-primary", "-m", "mysqldump"],
    );
    assert!(!ok && out.contains("only mariabackup"), "{out}");
    let (ok, out) = tprovision(&cluster, "db9", &["-s", "host1.alpha", "--allow-primary"]);
    assert!(
        ok && out.contains("the primary's binlog position"),
        "{out}\n{}",
        cluster.processes["db9"].log_tail(30)
    );
    // The copy plus what db9 applied since is whole at any moment: one
    // writer commits ledger row i with counter value i.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = cluster
        .db("db9")
        .query("SELECT COUNT(*), COUNT(DISTINCT txn), MAX(txn), (SELECT n FROM app.counter) FROM app.ledger")
        .await
        .expect("db9's ledger");
    let row = &got[0];
    assert!(
        row.iter().all(|v| v == &row[0]),
        "db9 provisioned from the primary: {row:?}"
    );
    assert!(applied(&cluster, "db9", "north").await > Some(0), "db9 applies");

    for (host, source, method) in [("db8", "db7", "mysqldump"), ("db9", "db7", "xtrabackup")] {
        let (ok, out) = tprovision(&cluster, host, &["-s", source, "-m", method]);
        assert!(
            ok && out.contains("Position: seqno"),
            "{out}\n--- {host}:\n{}\n--- {source}:\n{}",
            cluster.processes[host].log_tail(30),
            cluster.processes[source].log_tail(30)
        );
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    watcher.await.expect("watcher");
    let transactions = written.load(Ordering::Relaxed);
    let last = cluster
        .wait_until_applied(Duration::from_secs(180))
        .await
        .expect("the six hosts apply the load");
    let deadline = Instant::now() + Duration::from_secs(180);
    for host in NORTH {
        while applied(&cluster, host, "north").await != Some(last) {
            assert!(
                Instant::now() < deadline,
                "{host} did not apply seqno {last} (at {:?}):\n{}",
                applied(&cluster, host, "north").await,
                cluster.processes[host].log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // Nine equal hosts; one ledger row per transaction everywhere.
    let mut sums = BTreeSet::new();
    for host in HOSTS.iter().chain(&NORTH) {
        let db = cluster.db(host);
        let rows = db.query_value("SELECT COUNT(*) FROM app.ledger").await.expect("count");
        let distinct = db
            .query_value("SELECT COUNT(DISTINCT txn) FROM app.ledger")
            .await
            .expect("distinct");
        let n = db.query_value("SELECT n FROM app.counter").await.expect("counter");
        let expected = Some(transactions.to_string());
        assert_eq!((&rows, &distinct, &n), (&expected, &expected, &expected), "{host}");
        sums.insert((
            db.checksum_table("app.ledger").await.expect("checksum"),
            db.checksum_table("app.counter").await.expect("checksum"),
        ));
        for s in services(&cluster, host).await.expect("services") {
            assert_eq!(s.state, State::Online, "{host}: {s:?}");
        }
    }
    assert_eq!(sums.len(), 1, "checksums differ between hosts: {sums:?}");
    // The topology as an operator sees it: nine hosts ONLINE in three
    // dataservices and the composite of them.
    let (_, text) = cluster
        .deployment
        .run_tool("trepctl", None, &["composite", "status"])
        .expect("composite status");
    println!("trepctl composite status:\n{text}");
    let hosts: Vec<&str> = text.lines().filter(|l| l.contains(" ONLINE ")).collect();
    assert_eq!(hosts.len(), 9, "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("north") && l.contains("db7") && l.contains("relay")),
        "{text}"
    );
    assert!(text.contains("gamma: composite of alpha, beta, north"), "{text}");
    let left = left_online.lock().expect("lock").clone();
    assert!(left.is_empty(), "existing hosts left ONLINE: {left:?}");
    println!("provision test: {transactions} transactions, last seqno {last}, nine hosts equal");
}

//! A relay promoted to master (issue 13, first step): on the chain
//! host1.alpha (master) → host1.beta (relay) → host2.beta (its slave), the
//! old master goes away after its transactions were applied downstream;
//! `trepctl setrole -role master` and `online` on host1.beta make it
//! extract from its **own** binlog, continuing the seqno series in a new
//! epoch, from where its binlog was at the role change (a write made
//! between `setrole` and `online` is extracted); host2.beta follows it
//! without operator action. The keyless
//! ledger on host2.beta has one row per transaction written on either
//! master, and the THL of host1.beta shows the handover (old records from
//! host1.alpha, then host1.beta's from the next seqno, epoch = that seqno).
//! Before that, the relay stores five transactions it cannot apply (a row
//! lock) when the old master goes away: after `offline -immediate` (which
//! must let go of the catalog) its promotion is refused, naming the fix,
//! and it keeps its role; online as a relay it applies them, and is then
//! promoted, although its THL ends with the first fragment of a
//! transaction the old master never finished sending (cut, not a reason
//! to refuse). The old master, whose database then gets a write its
//! replicator never extracted, is refused the relay role (its data left
//! the history), and keeps its role.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::cluster::Cluster;
use tests::process::{read_thl, thl_max_seqno};

const RELAY: &str = "host1.beta";
const SLAVE: &str = "host2.beta";
/// The old master's transactions: 200, then 5 the relay stores but has
/// not applied when it is first asked to take over.
const ALPHA_TXNS: i64 = 205;

fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> String {
    let (ok, text) = cluster
        .deployment
        .run_tool("trepctl", Some(host), args)
        .expect("trepctl");
    assert!(ok, "trepctl -host {host} {}: {text}", args.join(" "));
    text
}

async fn write(cluster: &Cluster, host: &str, from: u64, n: u64) {
    let mut conn = mysql_async::Conn::new(cluster.db(host).root_opts())
        .await
        .expect("connect");
    for i in from..from + n {
        conn.query_drop(format!(
            "BEGIN; INSERT INTO app.ledger VALUES ({i}, '{host}'); UPDATE app.counter SET n = n + 1; COMMIT"
        ))
        .await
        .expect("write");
    }
}

/// Appends to the THL in `dir` (its replicator offline) the first
/// fragment of seqno `last + 1`, as the master of `last` would have sent
/// it: the same source and epoch, more fragments to come.
fn append_first_fragment_of_next(dir: &std::path::Path, last: i64) {
    let events = read_thl(dir).expect("the THL");
    let mut next = events.last().expect("a last transaction").clone();
    assert_eq!(next.header.seqno.0, last);
    next.header.seqno = next.header.seqno.next();
    next.header.seqno_end = next.header.seqno;
    next.header.fragno = 0;
    next.header.last_frag = false;
    let mut writer = thl::store::Writer::open(thl::store::StoreConfig::new(dir)).expect("the THL, for writing");
    writer.append_event(&next).expect("append");
    writer.commit().expect("commit");
    drop(writer);
    let tail = read_thl(dir).expect("the THL");
    assert!(tail
        .last()
        .is_some_and(|e| e.header.seqno.0 == last + 1 && !e.header.last_frag));
}

async fn wait_applied(cluster: &Cluster, host: &str, seqno: i64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while cluster.applied_seqno(host).await < Some(seqno) {
        assert!(Instant::now() < deadline, "{host} did not apply seqno {seqno}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_relay_extracts_its_own_binlog_and_its_slave_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::chain(dir.path()).await.expect("chain");
    cluster.start_replicators().expect("replicators");
    cluster
        .db("host1.alpha")
        .exec(
            "CREATE DATABASE app; CREATE TABLE app.ledger (txn BIGINT NOT NULL, origin VARCHAR(32)); \
             CREATE TABLE app.counter (id INT PRIMARY KEY, n BIGINT NOT NULL); INSERT INTO app.counter VALUES (1, 0)",
        )
        .await
        .expect("schema");
    write(&cluster, "host1.alpha", 1, 200).await;
    cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied");

    // The relay stores five more transactions but cannot apply them (a
    // row lock on its database) when the old master goes away.
    let mut blocker = mysql_async::Conn::new(cluster.db(RELAY).root_opts())
        .await
        .expect("connect to the relay's database");
    blocker
        .query_drop("BEGIN; SELECT n FROM app.counter WHERE id = 1 FOR UPDATE")
        .await
        .expect("hold the counter's row");
    let (master_thl, relay_thl) = (
        cluster.deployment.thl_dir("host1.alpha", "alpha"),
        cluster.deployment.thl_dir(RELAY, "beta"),
    );
    let before = thl_max_seqno(&master_thl).expect("the master's THL");
    write(&cluster, "host1.alpha", 201, 5).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let handover = loop {
        let (m, r) = (thl_max_seqno(&master_thl), thl_max_seqno(&relay_thl));
        if m >= Some(before + 5) && r == m {
            break r.unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "the relay stored {r:?} of {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cluster.kill_replicator("host1.alpha");
    trepctl(&cluster, RELAY, &["offline", "-immediate"]);
    blocker.query_drop("ROLLBACK").await.expect("release");
    let _ = blocker.disconnect().await;
    // Promoting a host that has not applied its THL would skip those
    // transactions downstream: refused, naming the fix; nothing changes.
    let (ok, out) = cluster
        .deployment
        .run_tool("trepctl", Some(RELAY), &["setrole", "-role", "master"])
        .expect("trepctl");
    assert!(
        !ok && out.contains(&format!("up to seqno {handover}")) && out.contains("go online as relay"),
        "{out}"
    );
    let services = trepctl(&cluster, RELAY, &["services"]);
    assert!(services.contains("role             : relay"), "{services}");
    // The fix it names: online as a relay (its THL applies without its
    // master), wait, offline.
    trepctl(&cluster, RELAY, &["online"]);
    wait_applied(&cluster, RELAY, handover).await;
    trepctl(&cluster, RELAY, &["offline"]);
    // The old master had begun to send a large transaction when it went
    // away: the relay's THL ends with its first fragment, which no host
    // can complete. It is no reason to refuse the promotion.
    append_first_fragment_of_next(&relay_thl, handover);

    // The relay takes over.
    trepctl(&cluster, RELAY, &["setrole", "-role", "master"]);
    // The role change is the promotion: a write made before `online` is
    // the new master's first transaction.
    write(&cluster, RELAY, ALPHA_TXNS as u64 + 1, 1).await;
    trepctl(&cluster, RELAY, &["online"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !trepctl(&cluster, RELAY, &["services"]).contains("ONLINE") {
        assert!(Instant::now() < deadline, "{RELAY} did not come online as master");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let services = trepctl(&cluster, RELAY, &["services"]);
    assert!(services.contains("role             : master"), "{services}");

    write(&cluster, RELAY, ALPHA_TXNS as u64 + 2, 99).await;
    let thl = cluster.deployment.thl_dir(RELAY, "beta");
    let deadline = Instant::now() + Duration::from_secs(60);
    let last = loop {
        let events = read_thl(&thl).expect("relay THL");
        let own: Vec<_> = events.iter().filter(|e| e.header.source_id == RELAY).collect();
        if own.len() >= 100 {
            let first = own[0];
            assert_eq!(first.header.seqno.0, handover + 1, "the series continues");
            assert_eq!(
                first.header.epoch.0,
                handover + 1,
                "a new epoch starts at the first own seqno"
            );
            let before = events
                .iter()
                .rev()
                .find(|e| e.header.source_id != RELAY)
                .expect("old records");
            assert_eq!(
                (before.header.seqno.0, before.header.source_id.as_str()),
                (handover, "host1.alpha")
            );
            break own.last().expect("own").header.seqno.0;
        }
        assert!(
            Instant::now() < deadline,
            "{RELAY} extracted {} own transactions",
            own.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    wait_applied(&cluster, SLAVE, last).await;
    let slave = cluster.db(SLAVE);
    for (sql, want) in [
        ("SELECT COUNT(*) FROM app.ledger", "305"),
        ("SELECT COUNT(DISTINCT txn) FROM app.ledger", "305"),
        ("SELECT n FROM app.counter", "305"),
        ("SELECT COUNT(*) FROM app.ledger WHERE origin = 'host1.beta'", "100"),
    ] {
        assert_eq!(slave.query_value(sql).await.expect(sql).as_deref(), Some(want), "{sql}");
    }
    assert_eq!(
        slave.checksum_table("app.ledger").await.expect("checksum"),
        cluster.db(RELAY).checksum_table("app.ledger").await.expect("checksum")
    );
    let _ = slave;

    // A restart of the new master before or after its own transactions
    // resumes in its own binlog: nothing twice.
    cluster.kill_replicator(RELAY);
    cluster.start_replicator(RELAY).expect("restart");
    write(&cluster, RELAY, ALPHA_TXNS as u64 + 101, 20).await;
    wait_applied(&cluster, SLAVE, last + 20).await;
    assert_eq!(
        cluster
            .db(SLAVE)
            .query_value("SELECT COUNT(*) = COUNT(DISTINCT txn) AND COUNT(*) = 325 FROM app.ledger")
            .await
            .expect("ledger")
            .as_deref(),
        Some("1")
    );

    // The old master's database gets a transaction its (dead) replicator
    // never extracted: it may not follow the new master.
    cluster
        .db("host1.alpha")
        .exec("INSERT INTO app.ledger VALUES (999999, 'stray')")
        .await
        .expect("stray write");
    let p = cluster
        .deployment
        .start("host1.alpha", &["--offline"])
        .expect("old master");
    cluster.processes.insert("host1.alpha".into(), p);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cluster
        .deployment
        .run_tool("trepctl", Some("host1.alpha"), &["services"])
        .is_ok_and(|(ok, _)| ok)
    {
        assert!(Instant::now() < deadline, "host1.alpha's replicator does not answer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, out) = cluster
        .deployment
        .run_tool(
            "trepctl",
            Some("host1.alpha"),
            &["setrole", "-role", "relay", "-uri", "thl://host1.beta:2112/"],
        )
        .expect("trepctl");
    assert!(
        !ok && out.contains("never extracted") && out.contains("GTID") && out.contains("tprovision"),
        "{out}"
    );
    let services = trepctl(&cluster, "host1.alpha", &["services"]);
    assert!(services.contains("role             : master"), "{services}");
}

//! The seed's composite active/passive cluster end to end: six MariaDB
//! instances and six `replicator` processes from one `tungsten.ini` and one
//! hosts file. Writes on host1.alpha reach every host (master → slaves,
//! master → relay → slaves) with equal checksums; SIGKILLs of the relay and
//! of slaves while writes go on lose and duplicate nothing (a counter table
//! makes either visible).
//!
//! Run: `cargo test -p tests --test composite -- --test-threads=1`
//! (starts six `mariadbd` and six replicators).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::cluster::{Cluster, HOSTS};

/// Runs `trepctl` for `host` with the deployment's ini and hosts file.
fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> (bool, String) {
    cluster
        .deployment
        .run_tool("trepctl", Some(host), args)
        .expect("trepctl runs")
}

/// The value of `name` in trepctl's NAME VALUE output.
fn field(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

/// Waits until `host`'s service is in `state` (bounded).
fn wait_state(cluster: &Cluster, host: &str, state: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, out) = trepctl(cluster, host, &["status"]);
        if field(&out, "state").as_deref() == Some(state) {
            return out;
        }
        assert!(Instant::now() < deadline, "{host} did not reach {state}:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

const APPLY_WAIT: Duration = Duration::from_secs(120);
const TABLES: &[&str] = &["app.t", "app.c", "app.types", "app.big", "app.ledger"];
/// One row per source transaction in a table without a key: a transaction
/// applied twice shows as a duplicate row (a counter's `n = n + 1` replicates
/// as an absolute after image and cannot).
const LEDGER: &str = "CREATE TABLE app.ledger (n BIGINT) ENGINE=InnoDB";

async fn workload(cluster: &Cluster, from: i64, to: i64) {
    let mut conn = mysql_async::Conn::new(cluster.db(HOSTS[0]).root_opts())
        .await
        .expect("connect to the master");
    for i in from..to {
        let tx = format!(
            "BEGIN; INSERT INTO app.t (id, v, ts) VALUES ({i}, 'row {i}', NOW(6)); UPDATE app.c SET n = n + 1 WHERE id = 1; \
             UPDATE app.t SET v = CONCAT(v, '!') WHERE id = {}; INSERT INTO app.ledger VALUES ({i}); COMMIT",
            i / 2
        );
        conn.query_drop(tx).await.expect("write");
        if i % 25 == 0 {
            conn.query_drop(format!("DELETE FROM app.t WHERE id = {}", i / 3))
                .await
                .expect("delete");
        }
    }
    let _ = conn.disconnect().await;
}

/// The six hosts with their replicators running, and the tables
/// [`workload`] writes.
async fn cluster_with_the_workloads_tables(root: &std::path::Path) -> Cluster {
    let mut cluster = Cluster::create(root).await.expect("cluster");
    cluster.start_replicators().expect("replicators");
    for sql in [
        "CREATE DATABASE app",
        "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(200), ts DATETIME(6))",
        "CREATE TABLE app.c (id INT PRIMARY KEY, n BIGINT)",
        "INSERT INTO app.c VALUES (1, 0)",
        LEDGER,
    ] {
        cluster.db(HOSTS[0]).exec(sql).await.expect(sql);
    }
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_the_master_reach_all_six_hosts_through_the_relay() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut cluster = cluster_with_the_workloads_tables(root.path()).await;
    let master = cluster.db(HOSTS[0]);
    for sql in [
        "CREATE TABLE app.big (id INT PRIMARY KEY, pad VARCHAR(200))",
        "CREATE TABLE app.types (id INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(30,10), f DOUBLE, tm TIME(3), y YEAR, b BIT(12), e ENUM('x','y'), s SET('p','q'), j JSON, bl BLOB, dt DATETIME(6) NULL, mi MEDIUMINT)",
        "INSERT INTO app.types VALUES (1, 18446744073709551615, -1234567890.0123456789, 2.5e-300, '-838:59:58.999', 0, b'101010101010', 'y', 'p,q', '{\"a\": [1]}', REPEAT(x'00ff', 5000), '2024-02-29 23:59:59.999999', -8388608)",
    ] {
        master.exec(sql).await.expect(sql);
    }
    workload(&cluster, 0, 100).await;
    master
        .exec("ALTER TABLE app.t ADD COLUMN extra INT NULL DEFAULT 7")
        .await
        .expect("alter");
    master
        .exec("UPDATE app.t SET extra = id WHERE id % 3 = 0")
        .await
        .expect("update after alter");
    let seqno = cluster.wait_until_applied(APPLY_WAIT).await.expect("all hosts apply");
    let sums = cluster.checksums(TABLES).await.expect("checksums");
    let reference = &sums[HOSTS[0]];
    for (host, s) in &sums {
        assert_eq!(
            s, reference,
            "{host} differs from the master after seqno {seqno}: {sums:#?}"
        );
    }

    // Every node reports its role, ONLINE and the applied seqno; a slave of
    // the passive cluster names the relay as its pipeline source.
    for host in HOSTS {
        // Status follows the pipeline's progress (observed every 100 ms,
        // later under load): wait for ONLINE and the seqno rather than race them.
        let deadline = Instant::now() + Duration::from_secs(60);
        let out = loop {
            let (ok, out) = trepctl(&cluster, host, &["services"]);
            assert!(ok, "{host}: trepctl services failed:\n{out}");
            let done = field(&out, "state").as_deref() == Some("ONLINE")
                && field(&out, "appliedLastSeqno") == Some(seqno.to_string());
            if done {
                break out;
            }
            assert!(
                Instant::now() < deadline,
                "{host} never showed ONLINE at seqno {seqno}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let role = if host == HOSTS[0] {
            "master"
        } else if host == "host1.beta" {
            "relay"
        } else {
            "slave"
        };
        assert_eq!(field(&out, "role").as_deref(), Some(role), "{host}:\n{out}");
        assert_eq!(field(&out, "state").as_deref(), Some("ONLINE"), "{host}:\n{out}");
        assert_eq!(
            field(&out, "appliedLastSeqno"),
            Some(seqno.to_string()),
            "{host}:\n{out}"
        );
    }
    for (server, clients) in [
        ("host1.alpha", ["host2.alpha", "host3.alpha", "host1.beta"].as_slice()),
        ("host1.beta", &["host2.beta", "host3.beta"]),
    ] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (ok, out) = trepctl(&cluster, server, &["clients"]);
            if ok && clients.iter().all(|c| out.contains(c)) {
                break;
            }
            assert!(Instant::now() < deadline, "{server} serves {clients:?}:\n{out}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // `-host` takes an address as operators type it; the port and the
    // credentials still come from the ini.
    let relay_address = cluster.db("host1.beta").address().to_string();
    let (ok, out) = cluster
        .deployment
        .run_tool("trepctl", None, &["-host", &relay_address, "services"])
        .expect("trepctl runs");
    assert!(
        ok && field(&out, "role").as_deref() == Some("relay"),
        "-host {relay_address}:\n{out}"
    );

    // Every metric the Grafana dashboard queries is exported by the
    // master, the relay or a slave; `perf` shows each role's stages at work.
    let mut exported = std::collections::BTreeSet::new();
    for host in ["host1.alpha", "host1.beta", "host2.beta"] {
        let text = tests::dashboard::metrics_of(&cluster.deployment, host)
            .await
            .unwrap_or_else(|e| panic!("{host} /metrics: {e}"));
        exported.extend(tests::dashboard::exported_metrics(&text));
    }
    let queried = tests::dashboard::queried_metrics().expect("dashboard JSON");
    let missing: Vec<_> = queried.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries {missing:?}, not exported: {exported:?}"
    );
    for (host, stages) in [
        ("host1.alpha", ["extract", "store", "serve"].as_slice()),
        ("host1.beta", &["receive", "apply", "serve"]),
        ("host2.beta", &["receive", "apply"]),
    ] {
        let (ok, out) = trepctl(&cluster, host, &["perf"]);
        assert!(ok, "{host} perf:\n{out}");
        for stage in stages {
            let events = out
                .lines()
                .find_map(|l| l.strip_prefix(stage)?.split_whitespace().next()?.parse::<u64>().ok());
            assert!(events.is_some_and(|n| n > 0), "{host}: {stage} handled events:\n{out}");
        }
    }
    let (_, status) = trepctl(&cluster, "host2.beta", &["status"]);
    assert!(
        field(&status, "pipelineSource").is_some_and(|s| s.contains("host1.beta")),
        "{status}"
    );

    // A heartbeat on the master flows through the relay; every host records
    // its own lag in its catalog schema.
    let (ok, out) = trepctl(&cluster, HOSTS[0], &["heartbeat", "-name", "E2E"]);
    assert!(ok, "heartbeat:\n{out}");
    cluster.wait_until_applied(APPLY_WAIT).await.expect("heartbeat applied");
    for host in &HOSTS[1..] {
        let sql = format!(
            "SELECT name, lag_millis IS NOT NULL AND target_tstamp IS NOT NULL FROM tungsten_{}.heartbeat WHERE id = 1",
            tests::cluster::service_of(host)
        );
        // The heartbeat is extracted after `trepctl heartbeat` returns: the
        // seqno waited for above may be the one before it.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let row = cluster.db(host).query(&sql).await.expect("heartbeat row");
            if row == vec![vec!["E2E".to_owned(), "1".to_owned()]] {
                break;
            }
            assert!(Instant::now() < deadline, "{host}: heartbeat with its lag: {row:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // A failing transaction on one slave: OFFLINE:ERROR naming the seqno,
    // then `online -skip-seqno N` passes it.
    cluster
        .db("host3.alpha")
        .exec("SET sql_log_bin=0; INSERT INTO app.t (id, v, ts) VALUES (5000, 'dup', '2024-01-01 00:00:00')")
        .await
        .expect("conflicting row");
    master
        .exec("INSERT INTO app.t (id, v, ts) VALUES (5000, 'dup', '2024-01-01 00:00:00')")
        .await
        .expect("insert");
    let failed = wait_state(&cluster, "host3.alpha", "OFFLINE:ERROR");
    let bad = field(&failed, "pendingErrorSeqno").expect("pendingErrorSeqno");
    assert!(
        field(&failed, "pendingExceptionMessage").is_some_and(|m| m.contains("-skip-seqno")),
        "{failed}"
    );
    let (ok, out) = trepctl(&cluster, "host3.alpha", &["online", "-skip-seqno", &bad]);
    assert!(ok, "online -skip-seqno {bad}:\n{out}");
    wait_state(&cluster, "host3.alpha", "ONLINE");

    // The relay taken offline and back online while writes go on.
    let (ok, out) = trepctl(&cluster, "host1.beta", &["offline"]);
    assert!(ok, "relay offline:\n{out}");
    wait_state(&cluster, "host1.beta", "OFFLINE:NORMAL");
    workload(&cluster, 1000, 1030).await;
    let (ok, out) = trepctl(&cluster, "host1.beta", &["online"]);
    assert!(ok, "relay online:\n{out}");
    wait_state(&cluster, "host1.beta", "ONLINE");

    // Catch-up figures: a slave whose apply is held (a row lock on its
    // target) says how far its upstream is ahead; released, it catches up
    // and says 0.
    let mut blocker = mysql_async::Conn::new(cluster.db("host3.beta").root_opts())
        .await
        .expect("connect to host3.beta");
    blocker
        .query_drop("BEGIN; SELECT n FROM app.c WHERE id = 1 FOR UPDATE")
        .await
        .expect("hold the counter's row");
    workload(&cluster, 2000, 2020).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let (_, out) = trepctl(&cluster, "host3.beta", &["status"]);
        let behind: i64 = field(&out, "seqnosBehind").and_then(|v| v.parse().ok()).unwrap_or(-1);
        if behind >= 20 {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "host3.beta never showed 20 seqnos behind:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let eta = field(&held, "catchUpEtaSeconds").unwrap_or_default();
    assert!(eta == "-1" || eta.parse::<f64>().is_ok_and(|e| e > 0.0), "{held}");
    let (_, qs) = trepctl(&cluster, "host3.beta", &["qs"]);
    assert!(qs.contains("transactions behind"), "{qs}");
    blocker.query_drop("ROLLBACK").await.expect("release");
    let _ = blocker.disconnect().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, out) = trepctl(&cluster, "host3.beta", &["status"]);
        let caught_up = field(&out, "seqnosBehind").as_deref() == Some("0")
            && field(&out, "catchUpEtaSeconds").as_deref() == Some("0.000");
        if caught_up {
            break;
        }
        assert!(Instant::now() < deadline, "host3.beta never caught up:\n{out}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // `online -until-seqno N` stops a slave exactly at N's transaction
    // boundary, not at the end of the block that holds N (issue 9, window 6).
    let (ok, out) = trepctl(&cluster, "host2.alpha", &["offline"]);
    assert!(ok, "slave offline:\n{out}");
    let st = wait_state(&cluster, "host2.alpha", "OFFLINE:NORMAL");
    let from: i64 = field(&st, "appliedLastSeqno")
        .and_then(|v| v.parse().ok())
        .expect("applied seqno");
    workload(&cluster, 1100, 1140).await;
    let until = from + 17;
    let (ok, out) = trepctl(&cluster, "host2.alpha", &["online", "-until-seqno", &until.to_string()]);
    assert!(ok, "online -until-seqno {until}:\n{out}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let stopped = loop {
        let (_, out) = trepctl(&cluster, "host2.alpha", &["status"]);
        let applied: i64 = field(&out, "appliedLastSeqno")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        if field(&out, "state").as_deref() == Some("OFFLINE:NORMAL") && applied > from {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "host2.alpha never stopped at {until}:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        field(&stopped, "appliedLastSeqno"),
        Some(until.to_string()),
        "stopped exactly at -until-seqno:\n{stopped}"
    );
    let position = cluster
        .db("host2.alpha")
        .query_value("SELECT seqno FROM tungsten_alpha.trep_commit_seqno WHERE task_id = 0")
        .await
        .expect("position");
    assert_eq!(position, Some(until.to_string()), "the target's committed position");
    let (ok, out) = trepctl(&cluster, "host2.alpha", &["online"]);
    assert!(ok, "slave online:\n{out}");
    wait_state(&cluster, "host2.alpha", "ONLINE");

    // SIGKILLs of the relay and of slaves while writes go on.
    let writer = {
        let opts = cluster.db(HOSTS[0]).root_opts();
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
            // Fragmented transactions (about 1 MB each) among the small ones.
            for k in 0..3 {
                conn.query_drop(format!(
                    "INSERT INTO app.big SELECT seq + {k} * 20000, REPEAT('x', 150) FROM app.seq_1_to_20000"
                ))
                .await
                .expect("big transaction");
            }
            for i in 100..700 {
                conn.query_drop(format!("BEGIN; INSERT INTO app.t (id, v, ts) VALUES ({i}, 'late {i}', NOW(6)); UPDATE app.c SET n = n + 1 WHERE id = 1; INSERT INTO app.ledger VALUES ({i}); COMMIT"))
                    .await
                    .expect("write");
            }
        })
    };
    // A seeded loop of SIGKILLs of the relay and of slaves (KILL_SEED to replay).
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xc0ffee);
    eprintln!("kill loop seed {seed:#x}");
    let mut rng = seed;
    for _ in 0..10 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let host = HOSTS[1 + (rng % 5) as usize];
        tokio::time::sleep(Duration::from_millis(100 + rng % 400)).await;
        cluster.kill_replicator(host);
        tokio::time::sleep(Duration::from_millis(rng % 200)).await;
        cluster.start_replicator(host).expect("restart");
    }
    writer.await.expect("writer");
    let seqno = cluster
        .wait_until_applied(APPLY_WAIT)
        .await
        .expect("all hosts apply after the kills");
    let sums = cluster.checksums(TABLES).await.expect("checksums");
    let reference = &sums[HOSTS[0]];
    for (host, s) in &sums {
        assert_eq!(
            s, reference,
            "{host} differs from the master after seqno {seqno} and the kills: {sums:#?}"
        );
    }
    for host in HOSTS {
        let n = cluster
            .db(host)
            .query_value("SELECT n FROM app.c WHERE id = 1")
            .await
            .expect("counter");
        assert_eq!(
            n.as_deref(),
            Some("790"),
            "{host}: every counter update applied exactly once"
        );
        let ledger = cluster
            .db(host)
            .query("SELECT COUNT(*), COUNT(DISTINCT n) FROM app.ledger")
            .await
            .expect("ledger");
        assert_eq!(
            ledger,
            vec![vec!["790".to_string(), "790".to_string()]],
            "{host}: rows = distinct rows = transactions written"
        );
    }
    // Every replica's THL is byte-identical to its upstream's for the common range.
    let master_thl = tests::process::read_thl(&cluster.deployment.thl_dir(HOSTS[0], "alpha")).expect("master THL");
    for host in &HOSTS[1..] {
        let thl =
            tests::process::read_thl(&cluster.deployment.thl_dir(host, tests::cluster::service_of(host))).expect("THL");
        assert_eq!(thl.len(), master_thl.len(), "{host} holds every THL event");
        assert!(
            thl.iter().zip(&master_thl).all(|(a, b)| a == b),
            "{host}: same events, seqnos, epochs and event ids"
        );
    }
}

/// Issue 9, window 4: a slave whose THL was reset while its master started a
/// new history must not apply that history from its old position (it would
/// skip the new seqnos up to it): the THL's event at the committed seqno is
/// checked, and the slave stops in OFFLINE:ERROR naming both histories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slave_refuses_a_thl_of_another_history_than_its_target_applied() {
    let root = tempfile::tempdir().expect("tempdir");
    let cluster = cluster_with_the_workloads_tables(root.path()).await;
    let master = cluster.db(HOSTS[0]);
    workload(&cluster, 0, 20).await;
    let committed = cluster.wait_until_applied(APPLY_WAIT).await.expect("all hosts apply");

    // host3.alpha keeps its THL and sits the change out offline.
    let kept = "host3.alpha";
    let (ok, out) = trepctl(&cluster, kept, &["offline"]);
    assert!(ok, "{kept} offline:\n{out}");
    wait_state(&cluster, kept, "OFFLINE:NORMAL");

    // The master starts another history: seqno 0 again, at the binlog's
    // current end (other event ids).
    let status = master.query("SHOW MASTER STATUS").await.expect("binlog position");
    let from_event = format!("{}:{}", status[0][0], status[0][1]);
    for args in [
        &["offline"][..],
        &["reset", "-thl", "-y"],
        &["online", "-from-event", &from_event],
    ] {
        let (ok, out) = trepctl(&cluster, HOSTS[0], args);
        assert!(ok, "master {args:?}:\n{out}");
    }
    wait_state(&cluster, HOSTS[0], "ONLINE");
    // The slave's THL follows it; its target keeps the old position.
    let slave = "host2.alpha";
    let (ok, out) = trepctl(&cluster, slave, &["offline"]);
    assert!(ok, "slave offline:\n{out}");
    wait_state(&cluster, slave, "OFFLINE:NORMAL");
    let (ok, out) = trepctl(&cluster, slave, &["reset", "-thl", "-y"]);
    assert!(ok, "slave reset -thl:\n{out}");
    let (ok, out) = trepctl(&cluster, slave, &["online"]);
    assert!(ok, "slave online:\n{out}");
    // Enough new transactions to reach the old position's seqno.
    workload(&cluster, 100, 100 + committed + 5).await;
    let failed = wait_state(&cluster, slave, "OFFLINE:ERROR");
    let message = field(&failed, "pendingExceptionMessage").unwrap_or_default();
    // Refused by the master at the handshake (its THL lacks the slave's
    // last seqno, or holds it with another epoch) or by the apply stage.
    let refused = ["another history", "diverged", "never had"];
    assert!(
        refused.iter().any(|r| message.contains(r)) && message.contains(&format!("seqno {committed}")),
        "{failed}"
    );
    let rows = cluster
        .db(slave)
        .query_value("SELECT COUNT(*) FROM app.t WHERE id >= 100")
        .await
        .expect("rows");
    assert_eq!(rows.as_deref(), Some("0"), "nothing of the other history was applied");

    // host3.alpha resumes after its last seqno, which the new history
    // holds by now with the same epoch (0: both began at seqno 0): the
    // master compares the event ids and refuses it, instead of serving the
    // new history's next seqnos after the old ones.
    let (ok, out) = trepctl(&cluster, kept, &["online"]);
    assert!(ok, "{kept} online:\n{out}");
    let failed = wait_state(&cluster, kept, "OFFLINE:ERROR");
    let message = field(&failed, "pendingExceptionMessage").unwrap_or_default();
    assert!(message.contains("history mismatch at seqno"), "{failed}");
    let rows = cluster
        .db(kept)
        .query_value("SELECT COUNT(*) FROM app.t WHERE id >= 100")
        .await
        .expect("rows");
    assert_eq!(rows.as_deref(), Some("0"), "nothing of the other history was applied");
}

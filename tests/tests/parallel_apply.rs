//! Parallel apply, by shard (`svc-parallelization-type=disk`, `channels=4`)
//! and by key (`svc-parallelization-type=key`): a master and a slave, each
//! a sandbox MariaDB with its `replicator`.
//!
//! # By shard
//!
//! The workload spreads over four databases (its updates do not commute:
//! `v = (v * 31 + i) % p`, so an order broken anywhere shows), with transactions of one
//! database (applied side by side), transactions across two (barriers), a
//! `CREATE DATABASE` (a barrier) and large transactions cut into fragments
//! (barriers). Every transaction writes one row to a keyless ledger table,
//! so a duplicate or a loss shows: rows = distinct rows = transactions.
//! The slave starts behind a backlog (its channels race each other) and its
//! replicator is SIGKILLed mid-stream three times and restarted; at the end
//! every table equals the master's. Then a clean `offline` aligns the
//! channel rows, and the slave comes back with 2 channels.
//!
//! # By key
//!
//! One database, so by shard it would be one channel. Each transaction
//! first inserts a row of its own (which spreads the transactions over the
//! channels), then works on rows that others work on too: a hot row's
//! non-commuting update; a unique value deleted by one transaction and
//! inserted again, in another case, by a later one under another primary
//! key (a unique-key conflict: the target refuses the insert if it runs
//! first); a parent row inserted, a child row referencing it, then both
//! deleted (foreign keys: the target refuses a child before its parent or
//! a parent delete before its child's); a keyless ledger row. A `CREATE
//! INDEX` (a barrier, which also changes the keys) and large transactions
//! cut into fragments (barriers) come mid-stream. The
//! slave is SIGKILLed mid-stream and restarted; at the end every table
//! equals the master's, and some transactions waited for another channel.
//!
//! Run: `cargo test -p tests --test parallel_apply -- --nocapture`

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use tests::process::{drained_thl, thl_max_seqno, workspace_bin, Deployment, ReplicatorProcess};
use tests::sandbox::{loopback_specs, Instance, InstanceSpec, Sandbox, DEFAULT_PORT};

const MASTER: &str = "host1.alpha";
const SLAVE: &str = "host2.alpha";
const DATABASES: usize = 4;
const LIMIT: Duration = Duration::from_secs(120);

fn ini(port: u16, channels: u32) -> String {
    ini_with(port, "disk", channels)
}

fn ini_with(port: u16, scheduler: &str, channels: u32) -> String {
    format!(
        "[defaults]\nreplication-user=tungsten\nreplication-password=secret\nreplication-port={port}\n\
         rest-api-admin-user=admin\nrest-api-admin-password=s3cret\nreplicator-rest-api-address=0.0.0.0\n\
         thl-frag-size=16k\n\
         [alpha]\ntopology=clustered\nmaster={MASTER}\nmembers={MASTER},{SLAVE}\n\
         svc-parallelization-type={scheduler}\nchannels={channels}\n"
    )
}

fn trepctl(d: &Deployment, host: &str, args: &[&str]) -> Output {
    Command::new(workspace_bin("trepctl").expect("trepctl built"))
        .arg("--config")
        .arg(d.ini())
        .arg("--hosts-file")
        .arg(d.hosts_file())
        .args(["-host", host])
        .args(args)
        .output()
        .expect("trepctl runs")
}

/// The slave's applied seqno (`-1` while nothing is applied or the API is
/// down).
fn applied(d: &Deployment) -> i64 {
    let out = trepctl(d, SLAVE, &["status", "-json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v["appliedLastSeqno"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(-1)
}

async fn wait_applied(d: &Deployment, slave: &mut ReplicatorProcess) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let target = thl_max_seqno(&d.thl_dir(MASTER, "alpha")).unwrap_or(-1);
        let now = applied(d);
        if target >= 0 && now >= target {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the slave applied {now} of {target}:\n{}",
            slave.log_tail(40)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The rows every transaction of database `k` updates in a phase: the
/// last writers of phase 0's are the transactions across databases that
/// end it, which must not be applied before the ones they follow.
fn hot_row(k: usize, phase: usize) -> usize {
    10 * phase + k
}

/// Transaction `i` of the workload in `phase` (it writes the ledger row
/// `txn-i`) on one of the first `spread` databases; `cross` makes it one
/// across two of them.
async fn transaction(db: &Instance, i: usize, phase: usize, spread: usize, cross: bool) {
    let k = i % spread;
    let o = (k + 1) % spread;
    let (hk, ho) = (hot_row(k, phase), hot_row(o, phase));
    let sql = match (cross, i % 25) {
        // Across two databases: a barrier.
        (true, _) | (false, 7) => format!(
            "BEGIN; UPDATE db{k}.t SET v = (v * 31 + {i}) % 1000000007 WHERE id = {hk}; \
             UPDATE db{o}.t SET v = (v * 31 + {i}) % 1000000007 WHERE id = {ho}; \
             INSERT INTO db{k}.ledger VALUES ('txn-{i}'); COMMIT"
        ),
        // Large: cut into fragments (thl-frag-size=16k), a barrier.
        (false, 13) => format!(
            "BEGIN; INSERT INTO db{k}.t (id, v, pad) SELECT {base} + seq, seq, REPEAT('x', 200) \
             FROM db{k}.seq_1_to_300; INSERT INTO db{k}.ledger VALUES ('txn-{i}'); COMMIT",
            base = 1_000_000 * (i + 1)
        ),
        _ => format!(
            "BEGIN; INSERT INTO db{k}.t (id, v, pad) VALUES ({id}, {i}, 'p') ON DUPLICATE KEY UPDATE v = v + 1; \
             UPDATE db{k}.t SET v = (v * 31 + {i}) % 1000000007 WHERE id = {hk}; \
             INSERT INTO db{k}.ledger VALUES ('txn-{i}'); COMMIT",
            id = 100 + i
        ),
    };
    db.exec(&sql).await.expect("workload transaction");
}

async fn checksums(db: &Instance) -> Vec<String> {
    let mut out = Vec::new();
    for k in 0..DATABASES {
        for t in ["t", "ledger"] {
            let rows = db.query(&format!("CHECKSUM TABLE db{k}.{t}")).await.expect("checksum");
            out.push(format!("db{k}.{t}={}", rows[0][1]));
        }
    }
    out
}

async fn ledger(db: &Instance) -> (usize, usize) {
    let union = (0..DATABASES)
        .map(|k| format!("SELECT txn FROM db{k}.ledger"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows = db
        .query(&format!("SELECT COUNT(*), COUNT(DISTINCT txn) FROM ({union}) l"))
        .await
        .expect("ledger");
    (
        rows[0][0].parse().expect("count"),
        rows[0][1].parse().expect("distinct"),
    )
}

/// A master and a slave on two sandbox databases, deployed with
/// `ini(port)`, the master extracting from the primary's first binlog.
struct Pair {
    sandbox: Sandbox,
    d: Deployment,
    port: u16,
    master: ReplicatorProcess,
    _root: tempfile::TempDir,
}

async fn master_and_slave(ini: impl Fn(u16) -> String) -> Pair {
    let specs: Vec<InstanceSpec> = loopback_specs(2, DEFAULT_PORT)
        .expect("free loopback addresses")
        .into_iter()
        .zip([MASTER, SLAVE])
        .map(|(s, name)| InstanceSpec { name: name.into(), ..s })
        .collect();
    let port = specs[0].port;
    let addresses: Vec<(String, String)> = specs.iter().map(|s| (s.name.clone(), s.address.to_string())).collect();
    let sandbox = Sandbox::start(specs).await.expect("sandbox starts");
    let root = tempfile::tempdir().expect("tempdir");
    let d = Deployment::create(root.path(), &ini(port), &addresses).expect("deployment");
    let first = sandbox.get(MASTER).query("SHOW BINARY LOGS").await.expect("binlogs")[0][0].clone();
    let master = d
        .start(MASTER, &["--from-event", &format!("{first}:4")])
        .expect("master starts");
    Pair {
        sandbox,
        d,
        port,
        master,
        _root: root,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_channels_apply_by_shard_exactly_once_through_a_kill() {
    let pair = master_and_slave(|port| ini(port, 4)).await;
    let (master_db, slave_db, d, port) = (pair.sandbox.get(MASTER), pair.sandbox.get(SLAVE), &pair.d, pair.port);

    for k in 0..DATABASES {
        master_db
            .exec(&format!(
                "CREATE DATABASE db{k}; CREATE TABLE db{k}.t (id BIGINT PRIMARY KEY, v BIGINT, pad VARCHAR(255)) \
                 ENGINE=InnoDB; CREATE TABLE db{k}.ledger (txn VARCHAR(40)) ENGINE=InnoDB; \
                 INSERT INTO db{k}.t VALUES ({}, 0, 'seed'), ({}, 0, 'seed')",
                hot_row(k, 0),
                hot_row(k, 1)
            ))
            .await
            .expect("schema");
    }
    // A backlog first, so that the channels race each other.
    // Databases 0-2 only (database 3 shares channel 0 with the barriers), the
    // backlog ending with one transaction across each pair: the channel
    // running them idles until then and would run ahead of the others.
    let backlog = 300;
    for i in 0..backlog {
        transaction(master_db, i, 0, 3, i + 3 >= backlog).await;
    }
    let mut slave = d.start(SLAVE, &[]).expect("slave starts");
    tokio::time::sleep(Duration::from_millis(700)).await;
    slave.kill();
    slave = d.start(SLAVE, &[]).expect("slave restarts");
    let written = 500;
    for i in backlog..written {
        transaction(master_db, i, 1, DATABASES, false).await;
        if i % 100 == 50 {
            // Mid-stream, with transactions in flight on the channels.
            slave.kill();
        }
        if i % 100 == 80 {
            slave = d.start(SLAVE, &[]).expect("slave restarts");
        }
    }
    wait_applied(d, &mut slave).await;
    let log = slave.log_since(0);
    assert!(
        log.contains("applying the THL in parallel") && log.contains("channels=4") && log.contains("scheduler=Shard"),
        "{log}"
    );
    assert_eq!(
        checksums(slave_db).await,
        checksums(master_db).await,
        "every table equals the master's"
    );
    assert_eq!(
        ledger(slave_db).await,
        (written, written),
        "ledger rows = distinct rows = transactions written"
    );
    let rows = slave_db
        .query("SELECT COUNT(*) FROM tungsten_alpha.trep_commit_seqno")
        .await
        .expect("rows");
    assert_eq!(rows[0][0], "4", "one position row per channel");
    let status: serde_json::Value =
        serde_json::from_slice(&trepctl(d, SLAVE, &["status", "-json"]).stdout).expect("status -json");
    assert_eq!(status["channels"], "4");

    // A clean offline brings every row to one seqno; 2 channels then.
    let out = trepctl(d, SLAVE, &["offline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seqnos = slave_db
        .query("SELECT COUNT(DISTINCT seqno) FROM tungsten_alpha.trep_commit_seqno")
        .await
        .expect("rows");
    assert_eq!(seqnos[0][0], "1", "the rows name one seqno after a clean offline");
    assert_eq!(slave.terminate(Duration::from_secs(30)), Some(0));
    std::fs::write(d.ini(), ini(port, 2)).expect("ini with 2 channels");
    let mut slave = d.start(SLAVE, &[]).expect("slave restarts with 2 channels");
    for i in written..written + 50 {
        transaction(master_db, i, 1, DATABASES, false).await;
    }
    wait_applied(d, &mut slave).await;
    assert_eq!(checksums(slave_db).await, checksums(master_db).await);
    assert_eq!(ledger(slave_db).await, (written + 50, written + 50));
    let rows = slave_db
        .query("SELECT COUNT(*) FROM tungsten_alpha.trep_commit_seqno")
        .await
        .expect("rows");
    assert_eq!(rows[0][0], "2", "the rows of channels 2 and 3 are forgotten");
}

/// Large transactions of the by-key workload that come after a pause longer
/// than `SYNC_PAUSE`: the idle channels' rows move to the one before, which
/// was cut into fragments, and the next one may go to one of them.
const PAUSED_LARGE: [usize; 3] = [440, 441, 442];

/// Transaction `i` of the by-key workload (module doc), on database `k0`.
async fn key_transaction(db: &Instance, i: usize) {
    let hot = i % 3 + 1;
    let mut sql = format!(
        "BEGIN; INSERT INTO k0.t (id, v) VALUES ({own}, {i}); \
         UPDATE k0.t SET v = (v * 31 + {i}) % 1000000007 WHERE id = {hot}; ",
        own = 1000 + i
    );
    match i % 4 {
        // A unique value leaves, and comes back under another key (in
        // another case) four transactions later.
        0 => sql += &format!("DELETE FROM k0.u WHERE code = 'code-{}'; ", i % 8),
        1 if i >= 5 => sql += &format!("INSERT INTO k0.u (id, code) VALUES ({i}, 'CODE-{}'); ", (i - 1) % 8),
        // A parent, its child, then both gone.
        2 => sql += &format!("INSERT INTO k0.p VALUES ({i}); "),
        3 => sql += &format!("INSERT INTO k0.c VALUES ({i}, {}); ", i - 1),
        _ => {}
    }
    if i % 50 == 25 || PAUSED_LARGE.contains(&i) {
        // Large: cut into fragments (thl-frag-size=16k), which run alone;
        // the idle channels' rows then move to this whole transaction.
        sql += &format!(
            "INSERT INTO k0.t (id, v) SELECT {base} + seq, seq FROM k0.seq_1_to_2000; ",
            base = 1_000_000 * (i + 1)
        );
    }
    if i % 4 == 1 && i >= 8 {
        sql += &format!(
            "DELETE FROM k0.c WHERE id = {}; DELETE FROM k0.p WHERE id = {}; ",
            i - 6,
            i - 7
        );
    }
    sql += &format!("INSERT INTO k0.ledger VALUES ('txn-{i}'); COMMIT");
    db.exec(&sql)
        .await
        .unwrap_or_else(|e| panic!("key workload transaction {i}: {e}\n{sql}"));
}

async fn key_checksums(db: &Instance) -> Vec<String> {
    let mut out = Vec::new();
    for t in ["t", "u", "p", "c", "ledger"] {
        let rows = db.query(&format!("CHECKSUM TABLE k0.{t}")).await.expect("checksum");
        out.push(format!("k0.{t}={}", rows[0][1]));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_channels_apply_by_key_exactly_once_through_a_kill() {
    let pair = master_and_slave(|port| ini_with(port, "key", 4)).await;
    let (master_db, slave_db, d) = (pair.sandbox.get(MASTER), pair.sandbox.get(SLAVE), &pair.d);
    master_db
        .exec(
            "CREATE DATABASE k0; \
             CREATE TABLE k0.t (id BIGINT PRIMARY KEY, v BIGINT) ENGINE=InnoDB; \
             CREATE TABLE k0.u (id INT PRIMARY KEY, code VARCHAR(20) COLLATE utf8mb4_general_ci UNIQUE) ENGINE=InnoDB; \
             CREATE TABLE k0.p (id INT PRIMARY KEY) ENGINE=InnoDB; \
             CREATE TABLE k0.c (id INT PRIMARY KEY, pid INT NOT NULL, FOREIGN KEY (pid) REFERENCES k0.p (id)) \
               ENGINE=InnoDB; \
             CREATE TABLE k0.ledger (txn VARCHAR(40)) ENGINE=InnoDB; \
             INSERT INTO k0.t VALUES (1, 0), (2, 0), (3, 0); \
             INSERT INTO k0.u SELECT seq, CONCAT('code-', seq - 1) FROM k0.seq_1_to_8",
        )
        .await
        .expect("schema");
    // A backlog first, so that the channels race each other.
    let backlog = 300;
    for i in 0..backlog {
        key_transaction(master_db, i).await;
    }
    let mut slave = d.start(SLAVE, &[]).expect("slave starts");
    tokio::time::sleep(Duration::from_millis(700)).await;
    slave.kill();
    slave = d.start(SLAVE, &[]).expect("slave restarts");
    let written = 500;
    for i in backlog..written {
        if i == 400 {
            master_db.exec("CREATE INDEX v ON k0.t (v)").await.expect("index");
        }
        if PAUSED_LARGE.contains(&i) {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        key_transaction(master_db, i).await;
        if i == 350 {
            slave.kill();
        }
        if i == 380 {
            slave = d.start(SLAVE, &[]).expect("slave restarts");
        }
    }
    wait_applied(d, &mut slave).await;
    assert_eq!(
        key_checksums(slave_db).await,
        key_checksums(master_db).await,
        "every table equals the master's"
    );
    let rows = slave_db
        .query("SELECT COUNT(*), COUNT(DISTINCT txn) FROM k0.ledger")
        .await
        .expect("ledger");
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("500", "500"),
        "ledger rows = distinct rows = transactions written"
    );
    let tasks = String::from_utf8_lossy(&trepctl(d, SLAVE, &["status", "-name", "tasks"]).stdout).to_string();
    assert_eq!(
        tasks.matches("thl-to-dbms").count(),
        4,
        "one apply task per channel:\n{tasks}"
    );
    assert!(
        tasks.contains("dependencyWaits")
            && tasks.contains("queuedTransactions")
            && tasks.contains("deadlocksResolved"),
        "{tasks}"
    );
    // Each channel reports the latency of the last transaction it committed.
    let latency = |block: &str| -> Option<f64> {
        block.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            (name.trim() == "appliedLatency").then(|| value.trim().parse().ok())?
        })
    };
    let latencies: Vec<f64> = tasks
        .split("\n\n")
        .filter(|block| block.contains("thl-to-dbms"))
        .filter_map(latency)
        .collect();
    assert!(
        latencies.len() == 4 && latencies.iter().any(|&l| l >= 0.0),
        "a latency per channel:\n{tasks}"
    );
    let out = trepctl(d, SLAVE, &["offline"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = slave.log_since(0);
    let waits: u64 = log
        .lines()
        .filter(|l| l.contains("parallel apply: pass ended"))
        .filter_map(|l| l.split("waits=").nth(1)?.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    assert!(
        log.contains("scheduler=Key") && waits > 0,
        "transactions on rows others changed waited for another channel:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_key_a_sessions_temporary_tables_stay_on_the_connection_that_made_them() {
    // MIXED logging: the temporary table's CREATE and the statements that
    // read it are statements, and a transaction that also changes rows
    // (`UUID()` makes its INSERT a rows event) would route by its first
    // row's key. Every transaction with a statement runs on one channel,
    // where the table exists: none stops with 1146.
    let mut pair = master_and_slave(|port| ini_with(port, "key", 4)).await;
    let (master_db, slave_db, d) = (pair.sandbox.get(MASTER), pair.sandbox.get(SLAVE), &pair.d);
    master_db
        .exec(
            "CREATE DATABASE mx; CREATE TABLE mx.t (id INT PRIMARY KEY, u VARCHAR(40)) ENGINE=InnoDB; \
             CREATE TABLE mx.copy (id INT PRIMARY KEY) ENGINE=InnoDB",
        )
        .await
        .expect("schema");
    // One session each (MIXED logs a session's temporary tables until its
    // first statement logged as rows): a temporary table, then a
    // transaction whose statements read it before its rows.
    for i in 0..24 {
        master_db
            .exec(&format!(
                "SET SESSION binlog_format=MIXED; USE mx; CREATE TEMPORARY TABLE tmp (id INT) ENGINE=InnoDB; \
                 BEGIN; INSERT INTO tmp VALUES ({i}); INSERT INTO copy SELECT id FROM tmp WHERE id = {i}; \
                 INSERT INTO t VALUES ({i}, UUID()); COMMIT"
            ))
            .await
            .expect("workload");
    }
    drained_thl(master_db, &d.thl_dir(MASTER, "alpha"), &mut pair.master, LIMIT).await;
    let mut slave = d.start(SLAVE, &[]).expect("slave starts");
    wait_applied(d, &mut slave).await;
    for table in ["t", "copy"] {
        let sum = |rows: Vec<Vec<String>>| rows[0][1].clone();
        let q = format!("CHECKSUM TABLE mx.{table}");
        assert_eq!(
            sum(slave_db.query(&q).await.expect("slave checksum")),
            sum(master_db.query(&q).await.expect("master checksum")),
            "mx.{table} equals the master's"
        );
    }
    let copied = slave_db.query("SELECT COUNT(*) FROM mx.copy").await.expect("count");
    assert_eq!(copied[0][0], "24");
}

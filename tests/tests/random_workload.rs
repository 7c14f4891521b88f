//! The seeded random workload (`tests::randgen`) through the project's
//! replicators: the six-host composite cluster (master → slaves, master →
//! relay → slaves) must end with every table of the schema equal to the
//! master's on every host, every replicator ONLINE, and the keyless ledger
//! holding exactly one row per committed source transaction.
//!
//! Run (each test starts its own `mariadbd` instances):
//!
//! ```sh
//! cargo test -p tests --test random_workload -- --test-threads=1 --nocapture
//! RANDOM_SEED=1234 RANDOM_TRANSACTIONS=2000 cargo test -p tests --test random_workload -- --nocapture
//! RANDOM_FEATURES=all,-triggers   # switch families off to isolate a failure (see tests::randgen::features)
//! RANDOM_SQL_LOG=/tmp/rw.sql      # every statement run on the master, with its outcome
//! RANDOM_KEEP=1                   # keep the deployment (THL, replicator logs) and the data directories
//! ```
//!
//! `generator_sql_runs_on_one_server` checks the generator itself on one
//! server (no replication): only the expected server errors occur.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tests::cluster::{Cluster, HOSTS};
use tests::process::workspace_bin;
use tests::randgen::compare::{compare_schema, Side};
use tests::randgen::driver::{self, StatementError};
use tests::randgen::{Config, RandomWorkload};
use tests::sandbox::{localhost_specs, Sandbox};

const DEFAULT_SEED: u64 = 20_240_229;
const DEFAULT_TRANSACTIONS: u64 = 1000;
const SCHEMA: &str = "rw";

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => v.parse().ok(),
            };
            parsed.unwrap_or_else(|| panic!("{name}={v:?} is not a number (decimal or 0x hex)"))
        }
    }
}

/// The first 600 characters of a statement, for messages.
fn clip(s: &str) -> String {
    s.chars().take(600).collect()
}

fn config() -> Config {
    Config::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// What the workload did on the primary.
#[derive(Debug, Default)]
struct Run {
    transactions: u64,
    statements: u64,
    committed: u64,
    in_ledger: u64,
    errors: BTreeMap<u16, u64>,
    unexpected: Vec<(u64, StatementError)>,
}

async fn run_setup(conn: &mut Conn, w: &RandomWorkload, log: &mut Option<File>) {
    for sql in w.setup() {
        if let Some(f) = log.as_mut() {
            writeln!(f, "{sql};").expect("write the SQL log");
        }
        conn.query_drop(&sql)
            .await
            .unwrap_or_else(|e| panic!("seed {}: setup statement failed: {sql}\n{e}", w.seed()));
    }
}

async fn run_workload(conn: &mut Conn, w: &mut RandomWorkload, n: u64, log: &mut Option<File>) -> Run {
    let mut run = Run::default();
    for _ in 0..n {
        let tx = w.next_transaction();
        let out = driver::execute(conn, &tx, log.as_mut().map(|f| f as &mut dyn Write))
            .await
            .unwrap_or_else(|e| panic!("seed {}: {e}", w.seed()));
        run.transactions += 1;
        run.statements += tx.statements.len() as u64;
        run.committed += u64::from(out.committed && !tx.ddl);
        run.in_ledger += u64::from(out.in_ledger);
        for e in out.errors {
            *run.errors.entry(e.code).or_default() += 1;
            if !e.expected() {
                run.unexpected.push((tx.number, e));
            }
        }
    }
    run
}

fn open_log() -> Option<File> {
    let path = std::env::var("RANDOM_SQL_LOG").ok()?;
    Some(File::create(&path).unwrap_or_else(|e| panic!("RANDOM_SQL_LOG={path}: {e}")))
}

async fn ledger(conn: &mut Conn) -> (u64, u64) {
    let row: Option<(u64, u64)> = conn
        .query_first(format!("SELECT COUNT(*), COUNT(DISTINCT txn) FROM {SCHEMA}.ledger"))
        .await
        .expect("read the ledger");
    row.unwrap_or((0, 0))
}

/// The generator on one server: every statement is valid SQL for its
/// model; the only failures are the expected ones, and not too many.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_sql_runs_on_one_server() {
    let sandbox = Sandbox::start(localhost_specs(1).expect("a free port"))
        .await
        .expect("sandbox");
    let db = &sandbox.instances()[0];
    let mut conn = Conn::new(db.root_opts()).await.expect("connect");
    let seed = env_u64("RANDOM_SEED", DEFAULT_SEED);
    let n = env_u64("RANDOM_TRANSACTIONS", 1500);
    let mut log = open_log();
    let mut w = RandomWorkload::with_config(seed, SCHEMA, config());
    run_setup(&mut conn, &w, &mut log).await;
    let run = run_workload(&mut conn, &mut w, n, &mut log).await;
    let failed: u64 = run.errors.values().sum();
    eprintln!(
        "generator on one server: seed={seed} transactions={} statements={} committed={} errors by code={:?}",
        run.transactions, run.statements, run.committed, run.errors
    );
    let shown: Vec<String> = run
        .unexpected
        .iter()
        .take(10)
        .map(|(n, e)| {
            format!(
                "  transaction {n}: ERROR {} {}\n    {:?}",
                e.code,
                e.message,
                clip(&e.statement)
            )
        })
        .collect();
    assert!(
        run.unexpected.is_empty(),
        "seed {seed}: {} statements failed with errors the generator should never cause:\n{}",
        run.unexpected.len(),
        shown.join("\n")
    );
    assert!(
        failed * 4 < run.statements,
        "seed {seed}: {failed} of {} statements failed: the workload mostly does nothing",
        run.statements
    );
    assert!(
        run.committed * 10 > n * 8,
        "seed {seed}: most transactions commit: {run:?}"
    );
    assert_eq!(
        ledger(&mut conn).await,
        (run.in_ledger, run.in_ledger),
        "seed {seed}: one ledger row per committed transaction"
    );
    let _ = conn.disconnect().await;
}

/// Runs `trepctl status` for `host`.
fn trepctl_status(cluster: &Cluster, host: &str) -> String {
    let out = Command::new(workspace_bin("trepctl").expect("trepctl is built"))
        .arg("--config")
        .arg(cluster.deployment.ini())
        .arg("--hosts-file")
        .arg(cluster.deployment.hosts_file())
        .arg("-host")
        .arg(host)
        .arg("status")
        .output()
        .expect("trepctl runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn field(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

/// How a host ended.
#[derive(Debug)]
enum End {
    /// Applied the final marker.
    Done,
    /// OFFLINE:ERROR, with its pending error.
    Stopped(String),
    /// Neither within the deadline (or its upstream stopped).
    Stuck(String),
}

/// Waits (bounded) until every host applied the marker row or stopped.
/// The master is done when every other host is; it stops when its process
/// exits or its service is in OFFLINE:ERROR.
async fn wait_for_marker(cluster: &mut Cluster, timeout: Duration) -> BTreeMap<&'static str, End> {
    let deadline = Instant::now() + timeout;
    let mut ends: BTreeMap<&'static str, End> = BTreeMap::new();
    let mut last_status = Instant::now();
    loop {
        for host in HOSTS {
            if ends.contains_key(host) {
                continue;
            }
            if let Some(p) = cluster.processes.get_mut(host) {
                if let Some(code) = p.exited() {
                    let tail = p.log_tail(10);
                    ends.insert(
                        host,
                        End::Stopped(format!("the replicator exited ({code:?}); log tail:\n{tail}")),
                    );
                    continue;
                }
            }
            if host == HOSTS[0] {
                continue;
            }
            let done = cluster
                .db(host)
                .query_value(&format!("SELECT COUNT(*) FROM {SCHEMA}.rw_done"))
                .await
                .ok()
                .flatten();
            if done.as_deref() == Some("1") {
                ends.insert(host, End::Done);
            }
        }
        let check_status = last_status.elapsed() > Duration::from_secs(2);
        for host in HOSTS {
            if !check_status || ends.contains_key(host) {
                continue;
            }
            let status = trepctl_status(cluster, host);
            if field(&status, "state").as_deref() == Some("OFFLINE:ERROR") {
                let detail = ["pendingErrorSeqno", "pendingErrorCode", "pendingExceptionMessage"]
                    .iter()
                    .filter_map(|k| field(&status, k).map(|v| format!("{k}: {}", clip(&v))))
                    .collect::<Vec<_>>()
                    .join("\n      ");
                let detail = if detail.is_empty() { status } else { detail };
                ends.insert(host, End::Stopped(detail));
            }
        }
        if check_status {
            last_status = Instant::now();
        }
        // A slave of a stopped relay (or of a stopped master) cannot finish.
        let master_stopped = matches!(ends.get(HOSTS[0]), Some(End::Stopped(_)));
        let relay_stopped = matches!(ends.get("host1.beta"), Some(End::Stopped(_)));
        for host in HOSTS {
            let blocked = (master_stopped && host != HOSTS[0]) || (relay_stopped && host.ends_with(".beta"));
            if blocked && !ends.contains_key(host) {
                ends.insert(host, End::Stuck("its upstream stopped".into()));
            }
        }
        if ends.len() == HOSTS.len() - 1 && !ends.contains_key(HOSTS[0]) {
            ends.insert(HOSTS[0], End::Done);
        }
        if ends.len() == HOSTS.len() {
            return ends;
        }
        if Instant::now() > deadline {
            for host in HOSTS {
                if !ends.contains_key(host) {
                    let tail = cluster.processes.get(host).map(|p| p.log_tail(6)).unwrap_or_default();
                    let applied = cluster.applied_seqno(host).await;
                    ends.insert(
                        host,
                        End::Stuck(format!(
                            "applied seqno {applied:?} of the master's {:?} after {timeout:?}; log tail:\n{tail}",
                            cluster.master_max_seqno()
                        )),
                    );
                }
            }
            return ends;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_workload_replicates_to_all_six_hosts() {
    let seed = env_u64("RANDOM_SEED", DEFAULT_SEED);
    let n = env_u64("RANDOM_TRANSACTIONS", DEFAULT_TRANSACTIONS);
    let config = config();
    let features = config.features.to_string();
    let reproduce = format!(
        "RANDOM_SEED={seed} RANDOM_TRANSACTIONS={n} RANDOM_FEATURES={features} cargo test -p tests --test random_workload -- --nocapture"
    );
    eprintln!("random workload: seed={seed} transactions={n} features={features}");

    let root = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create(root.path()).await.expect("cluster");
    if std::env::var_os("RANDOM_KEEP").is_some() {
        eprintln!(
            "RANDOM_KEEP: the deployment (THL, logs) stays in {} and the servers in {}",
            root.path().display(),
            cluster.sandbox.keep_files().display()
        );
    }
    cluster.start_replicators().expect("replicators");
    let mut conn = Conn::new(cluster.db(HOSTS[0]).root_opts())
        .await
        .expect("connect to the master");
    let mut log = open_log();
    let mut w = RandomWorkload::with_config(seed, SCHEMA, config);
    let started = Instant::now();
    run_setup(&mut conn, &w, &mut log).await;
    let run = run_workload(&mut conn, &mut w, n, &mut log).await;
    conn.query_drop(format!(
        "CREATE TABLE {SCHEMA}.rw_done (id INT PRIMARY KEY); INSERT INTO {SCHEMA}.rw_done VALUES (1)"
    ))
    .await
    .expect("the final marker");
    let workload_time = started.elapsed();
    let master_ledger = ledger(&mut conn).await;

    let wait = Duration::from_secs(120 + n / 20);
    let ends = wait_for_marker(&mut cluster, wait).await;
    let applied_time = started.elapsed();

    let mut problems: Vec<String> = Vec::new();
    if master_ledger != (run.in_ledger, run.in_ledger) {
        problems.push(format!(
            "{}: ledger (rows, distinct) = {master_ledger:?}, expected {} committed transactions",
            HOSTS[0], run.in_ledger
        ));
    }
    let mut differing: BTreeSet<String> = BTreeSet::new();
    let mut tables_compared = 0;
    let mut stops = 0;
    if let Some(End::Stopped(detail)) = ends.get(HOSTS[0]) {
        stops += 1;
        problems.push(format!("{}: the master stopped\n      {detail}", HOSTS[0]));
    }
    for host in &HOSTS[1..] {
        match &ends[host] {
            End::Done => {}
            End::Stopped(detail) => {
                stops += 1;
                problems.push(format!("{host}: stopped in OFFLINE:ERROR\n      {detail}"));
                continue;
            }
            End::Stuck(detail) => {
                problems.push(format!("{host}: did not apply the whole workload: {detail}"));
                continue;
            }
        }
        let mut replica = Conn::new(cluster.db(host).root_opts())
            .await
            .expect("connect to a replica");
        let report = compare_schema(
            &mut Side {
                host: HOSTS[0],
                conn: &mut conn,
            },
            &mut Side {
                host,
                conn: &mut replica,
            },
            SCHEMA,
        )
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: comparing {host}: {e}"));
        tables_compared += report.tables_compared;
        for d in &report.differences {
            differing.insert(d.table.clone());
        }
        for d in report.differences.iter().take(8) {
            problems.push(format!("{host}: {d}"));
        }
        if report.differences.len() > 8 {
            problems.push(format!("{host}: ... and {} more tables", report.differences.len() - 8));
        }
        let l = ledger(&mut replica).await;
        if l != (run.in_ledger, run.in_ledger) {
            problems.push(format!(
                "{host}: ledger (rows, distinct) = {l:?}, expected {} (one per committed transaction)",
                run.in_ledger
            ));
        }
        let _ = replica.disconnect().await;
    }
    eprintln!(
        "random workload summary: seed={seed} transactions={} committed={} statements={} primary_errors={:?} tables_compared={tables_compared} differing_tables={} stops={stops} workload={workload_time:.1?} applied_by={applied_time:.1?}",
        run.transactions,
        run.committed,
        run.statements,
        run.errors,
        differing.len(),
    );
    if !run.unexpected.is_empty() {
        let (n, e) = &run.unexpected[0];
        problems.push(format!(
            "the generator caused {} unexpected primary errors, first in transaction {n}: ERROR {} {}\n    {:?}",
            run.unexpected.len(),
            e.code,
            e.message,
            clip(&e.statement)
        ));
    }
    let _ = conn.disconnect().await;
    if std::env::var_os("RANDOM_KEEP").is_some() {
        let _ = root.keep();
    }
    assert!(
        problems.is_empty(),
        "seed {seed}: {} problems (differing tables: {differing:?}):\n  {}\nreproduce: {reproduce}",
        problems.len(),
        problems.join("\n  ")
    );
}

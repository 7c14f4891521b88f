//! A write load that follows the primary (the switch and failover tests):
//! one writer that, in each transaction, inserts one row into the keyless
//! ledger `app.ledger (txn, origin)` and adds one to `app.counter`, on
//! whichever host the test names primary now, as the application user
//! `app` (no `READ ONLY ADMIN`: a fenced primary refuses it).
//!
//! Invariants: every transaction the writer counts as committed is
//! committed, and no other: after an error it asks the same host whether
//! its row is there (the server is up; a refused or broken transaction was
//! rolled back, so the answer is exact) and only then moves on; each
//! committed transaction has its own `txn`, so rows = distinct rows =
//! committed transactions on every host is the exactly-once check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use crate::cluster::Cluster;

/// The application's schema, user and tables; run on the primary.
pub const SCHEMA: &str = "CREATE DATABASE app; \
    CREATE TABLE app.ledger (txn BIGINT NOT NULL, origin VARCHAR(32)); \
    CREATE TABLE app.counter (id INT PRIMARY KEY, n BIGINT NOT NULL); \
    INSERT INTO app.counter VALUES (1, 0)";

/// The application user, created on every host (not binlogged).
pub async fn create_app_user(cluster: &Cluster) {
    for host in cluster.hosts() {
        cluster
            .db(host)
            .exec(
                "SET SESSION sql_log_bin=0; CREATE USER app@'%' IDENTIFIED BY 'app'; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO app@'%'",
            )
            .await
            .unwrap_or_else(|e| panic!("{host}: the app user: {e}"));
    }
}

/// The running writer.
#[derive(Debug)]
pub struct Load {
    primary: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    /// Committed transaction ids, by the host they were committed on.
    committed: Arc<Mutex<BTreeMap<String, BTreeSet<u64>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Load {
    /// Starts writing on `primary`, transaction ids from `first` on (a
    /// second load of one test continues the first one's ids).
    pub fn start(cluster: &Cluster, primary: &str, first: u64) -> Load {
        let opts: BTreeMap<String, Opts> = cluster
            .hosts()
            .iter()
            .map(|h| {
                let o: Opts = cluster.db(h).opts_builder().user(Some("app")).pass(Some("app")).into();
                (h.to_string(), o)
            })
            .collect();
        let primary = Arc::new(Mutex::new(primary.to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(Mutex::new(BTreeMap::new()));
        let task = tokio::spawn(write(opts, primary.clone(), stop.clone(), committed.clone(), first));
        Load {
            primary,
            stop,
            committed,
            task,
        }
    }

    /// Moves the writer to `host` (or resumes it there).
    pub fn follow(&self, host: &str) {
        *self.primary.lock().expect("primary") = host.to_owned();
    }

    /// Stops writing until [`Load::follow`]; returns once no transaction
    /// is in flight (the writer checks between transactions).
    pub async fn pause(&self) {
        self.follow("");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    /// The transactions committed so far.
    pub fn committed(&self) -> BTreeSet<u64> {
        self.committed
            .lock()
            .expect("committed")
            .values()
            .flatten()
            .copied()
            .collect()
    }

    /// How many transactions committed so far.
    pub fn count(&self) -> usize {
        self.committed
            .lock()
            .expect("committed")
            .values()
            .map(BTreeSet::len)
            .sum()
    }

    /// Waits until `n` more transactions committed (bounded).
    pub async fn wait_for_more(&self, n: usize) {
        let want = self.count() + n;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while self.count() < want {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer committed {} of {want} transactions in 120 s",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the writer; the committed ids by host.
    pub async fn stop(self) -> BTreeMap<String, BTreeSet<u64>> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the writer task");
        let c = self.committed.lock().expect("committed");
        c.clone()
    }
}

async fn write(
    opts: BTreeMap<String, Opts>,
    primary: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    committed: Arc<Mutex<BTreeMap<String, BTreeSet<u64>>>>,
    first: u64,
) {
    let mut txn = first;
    let mut conn: Option<(String, Conn)> = None;
    while !stop.load(Ordering::Relaxed) {
        let host = primary.lock().expect("primary").clone();
        if host.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if conn.as_ref().is_none_or(|(h, _)| *h != host) {
            conn = Conn::new(opts[&host].clone()).await.ok().map(|c| (host.clone(), c));
        }
        let Some((_, c)) = conn.as_mut() else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let result: Result<(), mysql_async::Error> = async {
            c.query_drop("BEGIN").await?;
            c.exec_drop("INSERT INTO app.ledger VALUES (?, ?)", (txn, host.as_str()))
                .await?;
            c.query_drop("UPDATE app.counter SET n = n + 1 WHERE id = 1").await?;
            c.query_drop("COMMIT").await
        }
        .await;
        let done = match result {
            Ok(()) => true,
            Err(_) => {
                conn = None;
                tokio::time::sleep(Duration::from_millis(50)).await;
                is_committed(&opts[&host], txn).await
            }
        };
        if done {
            committed
                .lock()
                .expect("committed")
                .entry(host)
                .or_default()
                .insert(txn);
            txn += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether `txn`'s row is on the host (asked until the host answers, at
/// most 60 s; a host that never answers: not committed, said so).
async fn is_committed(opts: &Opts, txn: u64) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut c) = Conn::new(opts.clone()).await {
            let n: Result<Option<u64>, _> = c
                .exec_first("SELECT COUNT(*) FROM app.ledger WHERE txn = ?", (txn,))
                .await;
            if let Ok(n) = n {
                return n == Some(1);
            }
        }
        if std::time::Instant::now() > deadline {
            eprintln!("load: cannot ask whether transaction {txn} committed; counting it as not");
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every host holds exactly the `expected` transactions: ledger rows =
/// distinct rows = `expected`, the counter equal to their number.
pub async fn check_exact(cluster: &Cluster, expected: &BTreeSet<u64>) {
    let n = expected.len();
    for host in cluster.hosts() {
        let db = cluster.db(host);
        let rows = db
            .query("SELECT txn FROM app.ledger ORDER BY txn")
            .await
            .expect("ledger");
        let got: Vec<u64> = rows
            .iter()
            .filter_map(|r| r.first().and_then(|v| v.parse().ok()))
            .collect();
        let distinct: BTreeSet<u64> = got.iter().copied().collect();
        assert_eq!(got.len(), distinct.len(), "{host}: a transaction applied twice");
        let missing: Vec<&u64> = expected.difference(&distinct).take(5).collect();
        let extra: Vec<&u64> = distinct.difference(expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{host}: {} rows, {n} expected; missing {missing:?}, extra {extra:?}",
            got.len()
        );
        let counter = db
            .query_value("SELECT n FROM app.counter")
            .await
            .expect("counter")
            .unwrap_or_default();
        assert_eq!(counter, n.to_string(), "{host}: the counter");
    }
    let sums = cluster
        .checksums(&["app.ledger", "app.counter"])
        .await
        .expect("checksums");
    let first = sums.values().next().cloned();
    assert!(
        sums.values().all(|s| Some(s) == first.as_ref()),
        "checksums differ: {sums:?}"
    );
}

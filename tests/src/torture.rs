//! Fault rounds on a master → relay → slave chain under load, and the
//! oracle that judges them: the failpoint tests and `scripts/torture`.
//!
//! The chain is [`Cluster::chain`]. A writer commits one transaction at a
//! time on the master, each inserting its number into `app.ledger`, a table
//! **without a key** (one row per source transaction: a transaction applied
//! twice is a second row, which a counter's absolute after image could not
//! show), plus a keyed row and a counter; every 25th transaction is followed
//! by a `CREATE TABLE`, an unnamed `ADD INDEX` on it and a `DROP TABLE` of
//! an older one (DDL applied twice fails or adds a second index, DDL lost
//! leaves a table: the oracle compares tables and their index counts).
//!
//! A round is one [`Fault`]: a SIGKILL of one replicator at a random moment,
//! or a restart of one replicator with one crash point armed
//! (`thl::faults`), waited for until the point kills it (the log must say
//! which point did), then a clean restart.
//!
//! The oracle ([`Torture::verify`]), with the writer paused and every host
//! caught up: on every host `COUNT(*) = COUNT(DISTINCT n) = transactions
//! committed` in the ledger, equal checksums, equal tables with equal
//! index counts, and a
//! THL whose seqnos run without gap or repeat and agree (epoch, event id)
//! with the master's.
//!
//! Invariants: every wait is bounded; the writer counts a transaction only
//! after its COMMIT returned; randomness comes from one seed, so a failing
//! seed replays the same faults (their timing is the machine's).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use thl::faults;
use thl::seqno::{Epoch, Seqno};

use crate::cluster::Cluster;
use crate::process::read_thl;

/// The tables compared by checksum.
pub const TABLES: [&str; 3] = ["app.t", "app.c", "app.ledger"];

/// How long a replicator may take to reach an armed crash point under load.
const CRASH_WAIT: Duration = Duration::from_secs(60);
/// How long the chain may take to catch up for a verification.
const CATCH_UP: Duration = Duration::from_secs(180);

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL of `host`'s replicator `after` the round starts; restart.
    Kill { host: &'static str, after: Duration },
    /// Restart of `host`'s replicator with `point` armed to kill it at its
    /// `skip + 1`th pass; then a clean restart.
    Crash {
        host: &'static str,
        point: &'static str,
        skip: u32,
    },
    /// Restart of `host`'s replicator with the error point `point`
    /// (`thl.disk-full`, `thl.sync-fails`) armed to fail `count` times after
    /// `skip` passes; waited for until the replicator reports the error and
    /// goes on, then restarted clean.
    IoError {
        host: &'static str,
        point: &'static str,
        skip: u32,
        count: u32,
    },
    /// SIGKILL of `host`'s database (the applier's target) under load; it
    /// restarts `down` later (InnoDB recovery) while the replicator keeps
    /// running.
    TargetCrash { host: &'static str, down: Duration },
    /// `FLUSH TABLES WITH READ LOCK` on `host`'s database for `held`: the
    /// applier waits, then goes on.
    TargetStall { host: &'static str, held: Duration },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Kill { host, after } => write!(f, "SIGKILL of {host} after {} ms", after.as_millis()),
            Fault::Crash { host, point, skip } => write!(f, "crash point {point} on {host} at pass {}", skip + 1),
            Fault::IoError {
                host,
                point,
                skip,
                count,
            } => write!(f, "{point} on {host}: {count} failures after {skip} passes"),
            Fault::TargetCrash { host, down } => {
                write!(f, "SIGKILL of {host}'s database, down {} ms", down.as_millis())
            }
            Fault::TargetStall { host, held } => {
                write!(f, "read lock on {host}'s database for {} ms", held.as_millis())
            }
        }
    }
}

/// The crash points a host of the chain passes: the master only writes
/// its THL (and purges it); the relay and the slave also receive and apply.
pub fn points_of(host: &str, master: &str) -> &'static [&'static str] {
    if host == master {
        &[
            faults::THL_BEFORE_SYNC,
            faults::THL_TORN_WRITE,
            faults::THL_BEFORE_SEGMENT_DELETE,
        ]
    } else {
        &faults::ALL
    }
}

/// Every (host, point) pair of the chain once, each at its first pass,
/// then every error point on every host.
pub fn every_point(hosts: &[&'static str]) -> Vec<Fault> {
    let master = hosts[0];
    let crashes = hosts.iter().flat_map(|&host| {
        points_of(host, master)
            .iter()
            .map(move |&point| Fault::Crash { host, point, skip: 0 })
    });
    let errors = hosts.iter().flat_map(|&host| {
        faults::ERROR_POINTS.iter().map(move |&point| Fault::IoError {
            host,
            point,
            skip: 3,
            count: 3,
        })
    });
    let targets = hosts[1..].iter().flat_map(|&host| {
        [
            Fault::TargetCrash {
                host,
                down: Duration::from_millis(500),
            },
            Fault::TargetStall {
                host,
                held: Duration::from_secs(2),
            },
        ]
    });
    crashes.chain(errors).chain(targets).collect()
}

/// splitmix64: a seeded generator with no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// A random fault: half SIGKILLs at a random moment, half crash points at
/// a random early pass.
pub fn random_fault(rng: &mut Rng, hosts: &[&'static str]) -> Fault {
    let host = hosts[rng.below(hosts.len() as u64) as usize];
    if host != hosts[0] && rng.below(10) == 0 {
        return if rng.below(2) == 0 {
            Fault::TargetCrash {
                host,
                down: Duration::from_millis(rng.below(2000)),
            }
        } else {
            Fault::TargetStall {
                host,
                held: Duration::from_millis(500 + rng.below(3000)),
            }
        };
    }
    if rng.below(10) == 0 {
        let point = faults::ERROR_POINTS[rng.below(faults::ERROR_POINTS.len() as u64) as usize];
        return Fault::IoError {
            host,
            point,
            skip: rng.below(20) as u32,
            count: 1 + rng.below(4) as u32,
        };
    }
    if rng.below(2) == 0 {
        Fault::Kill {
            host,
            after: Duration::from_millis(200 + rng.below(2500)),
        }
    } else {
        let points = points_of(host, hosts[0]);
        let point = points[rng.below(points.len() as u64) as usize];
        // Retention passes once per start: only its first pass comes.
        let skip = if point == faults::THL_BEFORE_SEGMENT_DELETE {
            0
        } else {
            rng.below(20) as u32
        };
        Fault::Crash { host, point, skip }
    }
}

/// The writer on the master.
#[derive(Debug)]
struct Load {
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicI64>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Load {
    fn start(opts: mysql_async::Opts, first: i64, committed: Arc<AtomicI64>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(write_until(opts, first, Arc::clone(&stop), Arc::clone(&committed)));
        Load { stop, committed, task }
    }

    /// Stops the writer; returns the number of transactions committed.
    async fn finish(self) -> Result<i64, String> {
        self.stop.store(true, Ordering::Release);
        match self.task.await {
            Ok(r) => r?,
            Err(e) => return Err(format!("the writer task failed: {e}")),
        }
        Ok(self.committed.load(Ordering::Acquire))
    }
}

/// Commits transaction `first`, `first + 1`, ... until told to stop.
async fn write_until(
    opts: mysql_async::Opts,
    first: i64,
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicI64>,
) -> Result<(), String> {
    let mut conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| format!("writer: connect to the master: {e}"))?;
    let mut n = first;
    while !stop.load(Ordering::Acquire) {
        let tx = format!(
            "BEGIN; INSERT INTO app.t (id, v) VALUES ({n}, 'row {n}'); UPDATE app.c SET n = n + 1 WHERE id = 1; \
             UPDATE app.t SET v = CONCAT(v, '+') WHERE id = {}; INSERT INTO app.ledger VALUES ({n}, 'tx {n}'); COMMIT",
            n / 2
        );
        conn.query_drop(tx)
            .await
            .map_err(|e| format!("writer: transaction {n}: {e}"))?;
        committed.fetch_add(1, Ordering::AcqRel);
        if n % 25 == 0 {
            // An unnamed ADD INDEX run twice adds a second index without an
            // error: only the DDL mark's before image keeps it once.
            let ddl = format!(
                "CREATE TABLE app.ddl_{n} (k INT); ALTER TABLE app.ddl_{n} ADD INDEX (k); \
                 DROP TABLE IF EXISTS app.ddl_{}",
                (n - 200).max(0)
            );
            conn.query_drop(ddl)
                .await
                .map_err(|e| format!("writer: DDL after {n}: {e}"))?;
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let _ = conn.disconnect().await;
    Ok(())
}

/// A chain with its writer, and the faults done so far.
#[derive(Debug)]
pub struct Torture {
    pub cluster: Cluster,
    load: Option<Load>,
    committed: Arc<AtomicI64>,
    pub faults_done: usize,
}

impl Torture {
    /// Starts the chain, its replicators and the writer's tables.
    pub async fn start(root: &std::path::Path) -> Result<Torture, String> {
        check_crash_points()?;
        let mut cluster = Cluster::chain(root).await.map_err(|e| format!("chain: {e}"))?;
        cluster.start_replicators().map_err(|e| format!("replicators: {e}"))?;
        let master = cluster.db(cluster.hosts()[0]);
        for sql in [
            "CREATE DATABASE app",
            "CREATE TABLE app.t (id BIGINT PRIMARY KEY, v VARCHAR(2000))",
            "CREATE TABLE app.c (id INT PRIMARY KEY, n BIGINT)",
            "INSERT INTO app.c VALUES (1, 0)",
            "CREATE TABLE app.ledger (n BIGINT, note VARCHAR(40)) ENGINE=InnoDB",
        ] {
            master.exec(sql).await.map_err(|e| format!("{sql}: {e}"))?;
        }
        let mut t = Torture {
            cluster,
            load: None,
            committed: Arc::new(AtomicI64::new(0)),
            faults_done: 0,
        };
        t.resume_load();
        Ok(t)
    }

    /// Starts the writer again (after [`verify`](Self::verify) paused it).
    pub fn resume_load(&mut self) {
        if self.load.is_none() {
            let first = self.committed.load(Ordering::Acquire) + 1;
            let opts = self.cluster.db(self.cluster.hosts()[0]).root_opts();
            self.load = Some(Load::start(opts, first, Arc::clone(&self.committed)));
        }
    }

    /// The writer's error, if it stopped by itself.
    async fn load_failure(&mut self) -> Result<(), String> {
        if self.load.as_ref().is_some_and(|l| l.task.is_finished()) {
            self.pause_load().await?;
            return Err("the writer stopped".into());
        }
        Ok(())
    }

    async fn pause_load(&mut self) -> Result<i64, String> {
        match self.load.take() {
            Some(load) => load.finish().await,
            None => Ok(self.committed.load(Ordering::Acquire)),
        }
    }

    /// Transactions committed on the master so far.
    pub fn committed(&self) -> i64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Does one fault, under load, and leaves the host's replicator
    /// running again.
    pub async fn inject(&mut self, fault: &Fault) -> Result<(), String> {
        self.resume_load();
        match fault {
            Fault::Kill { host, after } => {
                tokio::time::sleep(*after).await;
                self.cluster.kill_replicator(host);
            }
            Fault::Crash { host, point, skip } => {
                if *point == faults::THL_BEFORE_SEGMENT_DELETE {
                    // Retention runs once as the service starts: give it an
                    // old file to delete.
                    self.wait_for_thl_files(host, 3).await?;
                }
                self.cluster.kill_replicator(host);
                let from = self.log_len(host);
                let armed = if *skip == 0 {
                    format!("{point}=return")
                } else {
                    format!("{point}={skip}*off->return")
                };
                self.cluster
                    .start_replicator_with_env(host, &[("FAILPOINTS", &armed)])
                    .map_err(|e| format!("start {host}: {e}"))?;
                self.wait_for_crash(host, point, from).await?;
            }
            Fault::IoError {
                host,
                point,
                skip,
                count,
            } => {
                self.cluster.kill_replicator(host);
                let from = self.log_len(host);
                let armed = format!("{point}={skip}*off->{count}*return");
                self.cluster
                    .start_replicator_with_env(host, &[("FAILPOINTS", &armed)])
                    .map_err(|e| format!("start {host}: {e}"))?;
                self.wait_for_io_error(host, point, from).await?;
                self.cluster.kill_replicator(host);
            }
            Fault::TargetCrash { host, down } => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let db = self.cluster.sandbox.get_mut(host);
                db.kill().map_err(|e| format!("kill {host}'s database: {e}"))?;
                tokio::time::sleep(*down).await;
                db.restart()
                    .await
                    .map_err(|e| format!("restart {host}'s database: {e}"))?;
                return self.still_running(host);
            }
            Fault::TargetStall { host, held } => {
                let mut conn = mysql_async::Conn::new(self.cluster.db(host).root_opts())
                    .await
                    .map_err(|e| format!("{host}: connect: {e}"))?;
                conn.query_drop("FLUSH TABLES WITH READ LOCK")
                    .await
                    .map_err(|e| format!("{host}: FLUSH TABLES WITH READ LOCK: {e}"))?;
                tokio::time::sleep(*held).await;
                conn.query_drop("UNLOCK TABLES")
                    .await
                    .map_err(|e| format!("{host}: UNLOCK TABLES: {e}"))?;
                let _ = conn.disconnect().await;
                return self.still_running(host);
            }
        }
        self.cluster
            .start_replicator(fault_host(fault))
            .map_err(|e| format!("restart: {e}"))?;
        self.faults_done += 1;
        Ok(())
    }

    async fn wait_for_thl_files(&mut self, host: &str, files: usize) -> Result<(), String> {
        let dir = self.cluster.deployment.thl_dir(host, crate::cluster::service_of(host));
        let deadline = Instant::now() + CRASH_WAIT;
        loop {
            let n = std::fs::read_dir(&dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter(|e| e.file_name().to_string_lossy().starts_with("thl.data."))
                        .count()
                })
                .unwrap_or(0);
            if n >= files {
                return Ok(());
            }
            self.load_failure().await?;
            if Instant::now() > deadline {
                return Err(format!(
                    "{host}'s THL has {n} files after {CRASH_WAIT:?}, {files} wanted"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `host` reports the error of `point` and goes on from its
    /// durable end (a master resumes extraction, a client fetches again).
    /// A fault of the target leaves the replicator running (and counts).
    fn still_running(&mut self, host: &str) -> Result<(), String> {
        let Some(p) = self.cluster.processes.get_mut(host) else {
            return Err(format!("{host} has no replicator"));
        };
        if let Some(code) = p.exited() {
            return Err(format!("{host}'s replicator exited ({code:?}):\n{}", p.log_tail(40)));
        }
        self.faults_done += 1;
        Ok(())
    }

    /// The length of `host`'s log (0 before its first start).
    fn log_len(&self, host: &str) -> u64 {
        let path = self.cluster.deployment.install_dir(host).join("replicator.log");
        std::fs::metadata(path).map_or(0, |m| m.len())
    }

    async fn wait_for_io_error(&mut self, host: &str, point: &str, from: u64) -> Result<(), String> {
        let said = if point == faults::THL_DISK_FULL {
            "No space left on device"
        } else {
            "Input/output error"
        };
        let deadline = Instant::now() + CRASH_WAIT;
        loop {
            self.load_failure().await?;
            let Some(p) = self.cluster.processes.get_mut(host) else {
                return Err(format!("{host} has no replicator"));
            };
            if let Some(code) = p.exited() {
                return Err(format!("{host} exited ({code:?}) after {point}:\n{}", p.log_tail(40)));
            }
            let log = p.log_since(from);
            if log.contains("OFFLINE:ERROR") {
                return Err(format!("{host} stopped with an error after {point}:\n{log}"));
            }
            if let Some(at) = log.find(said) {
                let after = &log[at..];
                let went_on = [
                    "fetching again from its end",
                    "resuming after the last stored",
                    "slave pipeline starting",
                    "master online",
                ];
                if went_on.iter().any(|m| after.contains(m)) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{host} did not report and get over {point} within {CRASH_WAIT:?}:\n{log}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for_crash(&mut self, host: &str, point: &str, from: u64) -> Result<(), String> {
        let deadline = Instant::now() + CRASH_WAIT;
        loop {
            let Some(p) = self.cluster.processes.get_mut(host) else {
                return Err(format!("{host} has no replicator"));
            };
            if let Some(code) = p.exited() {
                let log = p.log_since(from);
                let said = format!("failpoint {point}: killing the process");
                if !log.contains(&said) {
                    return Err(format!(
                        "{host} exited ({code:?}) but not at crash point {point}:\n{log}"
                    ));
                }
                self.cluster.processes.remove(host);
                return Ok(());
            }
            self.load_failure().await?;
            let Some(p) = self.cluster.processes.get_mut(host) else {
                return Err(format!("{host} has no replicator"));
            };
            let log = p.log_since(from);
            if log.contains("OFFLINE:ERROR") {
                return Err(format!(
                    "{host} stopped with an error before crash point {point}:\n{log}"
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{host} did not reach crash point {point} within {CRASH_WAIT:?} (is the replicator built \
                     with --features replicator/failpoints? the tests package enables it):\n{}",
                    p.log_tail(30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Pauses the writer, waits for every host to catch up and checks the
    /// oracle (module doc). Returns a one-line summary; resumes nothing.
    pub async fn verify(&mut self) -> Result<String, String> {
        let committed = self.pause_load().await?;
        for host in self.cluster.hosts().to_vec() {
            if let Some(p) = self.cluster.processes.get_mut(host) {
                if let Some(code) = p.exited() {
                    return Err(format!("{host}'s replicator exited ({code:?}):\n{}", p.log_tail(30)));
                }
            }
        }
        let seqno = self
            .cluster
            .wait_until_applied(CATCH_UP)
            .await
            .map_err(|e| format!("catching up: {e}"))?;
        let mut problems = Vec::new();
        let mut lost = 0;
        let mut duplicated = 0;
        for &host in self.cluster.hosts() {
            let db = self.cluster.db(host);
            let row = db
                .query("SELECT COUNT(*), COUNT(DISTINCT n) FROM app.ledger")
                .await
                .map_err(|e| format!("{host}: ledger: {e}"))?;
            let count: i64 = row
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            let distinct: i64 = row
                .first()
                .and_then(|r| r.get(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1);
            lost += (committed - distinct).max(0);
            duplicated += (count - distinct).max(0);
            if count != committed || distinct != committed {
                problems.push(format!(
                    "{host}: ledger has {count} rows, {distinct} distinct, {committed} transactions committed"
                ));
            }
        }
        let sums = self
            .cluster
            .checksums(&TABLES)
            .await
            .map_err(|e| format!("checksums: {e}"))?;
        let master = self.cluster.hosts()[0];
        for (host, s) in &sums {
            if s != &sums[master] {
                problems.push(format!(
                    "{host}: checksums {s:?} differ from the master's {:?}",
                    sums[master]
                ));
            }
        }
        let mut tables = BTreeMap::new();
        for &host in self.cluster.hosts() {
            let list = self
                .cluster
                .db(host)
                .query(
                    "SELECT GROUP_CONCAT(table_name, ':', n ORDER BY table_name) FROM (SELECT t.table_name, \
                     COUNT(s.index_name) AS n FROM information_schema.tables t LEFT JOIN information_schema.statistics s \
                     ON s.table_schema = t.table_schema AND s.table_name = t.table_name WHERE t.table_schema = 'app' \
                     GROUP BY t.table_name) x",
                )
                .await
                .map_err(|e| format!("{host}: tables: {e}"))?;
            tables.insert(host, list);
        }
        for (host, list) in &tables {
            if list != &tables[master] {
                problems.push(format!("{host}: tables {list:?}, the master has {:?}", tables[master]));
            }
        }
        problems.extend(self.thl_problems());
        if problems.is_empty() {
            Ok(format!(
                "{} faults, {committed} transactions (seqno {seqno}), 0 lost, 0 duplicated",
                self.faults_done
            ))
        } else {
            Err(format!(
                "{} faults, {committed} transactions: {lost} lost, {duplicated} duplicated\n{}",
                self.faults_done,
                problems.join("\n")
            ))
        }
    }

    /// Gaps, repeats and disagreements with the master in every host's THL.
    fn thl_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut master_ids: BTreeMap<Seqno, (Epoch, String)> = BTreeMap::new();
        for (i, &host) in self.cluster.hosts().iter().enumerate() {
            let service = crate::cluster::service_of(host);
            let dir = self.cluster.deployment.thl_dir(host, service);
            let events = match read_thl(&dir) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{host}: THL unreadable: {e}"));
                    continue;
                }
            };
            let mut next: Option<(Seqno, u16)> = None;
            for ev in &events {
                let h = &ev.header;
                if let Some((seqno, fragno)) = next {
                    if (h.seqno, h.fragno) != (seqno, fragno) {
                        problems.push(format!(
                            "{host}: THL has seqno {} fragno {} where seqno {seqno} fragno {fragno} was due",
                            h.seqno, h.fragno
                        ));
                        break;
                    }
                }
                next = Some(if h.last_frag {
                    (h.seqno_end.next(), 0)
                } else {
                    (h.seqno, h.fragno + 1)
                });
                if h.fragno == 0 {
                    let id = (h.epoch, h.event_id.clone());
                    if i == 0 {
                        master_ids.insert(h.seqno, id);
                    } else if let Some(m) = master_ids.get(&h.seqno) {
                        if m != &id {
                            problems.push(format!(
                                "{host}: seqno {} is (epoch {}, {}) here, (epoch {}, {}) on the master",
                                h.seqno, id.0, id.1, m.0, m.1
                            ));
                            break;
                        }
                    }
                }
            }
        }
        problems
    }

    /// Stops the writer (for the end of a run).
    pub async fn stop(mut self) -> Result<i64, String> {
        self.pause_load().await
    }
}

/// The replicator these rounds start must carry the crash points: a
/// workspace build gives it them (the tests package enables the
/// `failpoints` feature); `cargo build -p replicator` or `cargo test -p
/// replicator` alone builds it without.
fn check_crash_points() -> Result<(), String> {
    let bin = crate::process::workspace_bin("replicator").map_err(|e| e.to_string())?;
    let out = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let version = String::from_utf8_lossy(&out.stdout);
    if version.contains("crash points: on") {
        return Ok(());
    }
    Err(format!(
        "{} ({}) carries no crash points: build it with `cargo build --workspace --bins` (the tests package \
         enables the replicator's `failpoints` feature; a build of the replicator package alone leaves it out)",
        bin.display(),
        version.trim()
    ))
}

fn fault_host(fault: &Fault) -> &'static str {
    match fault {
        Fault::Kill { host, .. }
        | Fault::Crash { host, .. }
        | Fault::IoError { host, .. }
        | Fault::TargetCrash { host, .. }
        | Fault::TargetStall { host, .. } => host,
    }
}

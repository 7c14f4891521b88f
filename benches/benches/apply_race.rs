//! Apply race on a backlog (issue 4): this project's apply stage (THL →
//! MariaDB, block commit) against MariaDB's own replica SQL thread, serial
//! and parallel, applying the same binlog backlog from the same starting
//! state, durable settings everywhere, in the same run.
//!
//! What it does:
//!
//! 1. Starts three sandbox `mariadbd`: `primary`, `maria` (replica 1,
//!    MariaDB's replication) and `ours` (replica 2, our applier). All with
//!    `innodb_flush_log_at_trx_commit=1`, `sync_binlog=1`, binlog on,
//!    `log_slave_updates` on, a 128M buffer pool and a 128M redo log.
//! 2. On the primary: `sysbench oltp_write_only prepare` (4 tables of
//!    `RACE_TABLE_SIZE` rows, database `sbtest`), the table `sbtest.ins`
//!    (auto-increment PK) and the table `sbtest.big` (PK), both empty. This is the **starting state**: its `CHECKSUM
//!    TABLE`s are recorded, the binlog position (`SHOW MASTER STATUS`) is the
//!    backlog start, and `mariadb-dump --single-transaction sbtest` is taken
//!    (the position is checked unchanged after the dump: nothing else writes).
//!    The dump is loaded once on each replica into `sbtest_base` (with
//!    `sql_log_bin=0`) and its checksums compared with the primary's.
//! 3. The backlog, while nothing applies: `sysbench oltp_write_only run
//!    --events=RACE_SB_EVENTS --time=0 --threads=RACE_SB_THREADS` (each
//!    transaction: UPDATE by PK of `k`, UPDATE by PK of `c`, DELETE + INSERT
//!    of one id, random tables among 4), concurrently with `RACE_INSERTS`
//!    single-row autocommit INSERTs into `sbtest.ins` from
//!    `RACE_INSERT_CONNS` connections. The end position is recorded, and
//!    the primary's final checksums are the expected result of every run.
//! 4. Extraction, once, not timed: `run_master` from the backlog start into
//!    a THL until the THL holds the transaction ending at the end position.
//! 5. **Reset before every run** (either replica): with `sql_log_bin=0`,
//!    `DROP DATABASE sbtest; CREATE DATABASE sbtest`, then per table
//!    `CREATE TABLE sbtest.t LIKE sbtest_base.t` and
//!    `INSERT INTO sbtest.t SELECT * FROM sbtest_base.t`, and
//!    `DROP DATABASE tungsten_race`. So each run starts from exactly the
//!    primary's state at the backlog start (the same dump, checksummed).
//! 6. Rounds (`RACE_RUNS`), each of five runs, the order alternating between
//!    rounds: even rounds `ours(big block), ours(10), serial, parallel,
//!    ours(10)`; odd rounds `serial, ours(10), ours(10), parallel, ours(big
//!    block)`. So each MariaDB run is adjacent to an ours(10) run it is
//!    paired with.
//!    * **MariaDB**: `STOP SLAVE; RESET SLAVE ALL`, reset, `SET GLOBAL
//!      slave_parallel_threads=0` (serial) or `=RACE_PARALLEL_THREADS` with
//!      `slave_parallel_mode=optimistic` (parallel), `CHANGE MASTER TO ...
//!      MASTER_LOG_FILE/POS=<backlog start>`, `START SLAVE IO_THREAD`, wait
//!      until `Read_Master_Log_Pos` is the end (the relay log holds the whole
//!      backlog), then timed: `START SLAVE SQL_THREAD` until
//!      `Exec_Master_Log_Pos` is the end (polled every 10 ms).
//!    * **ours**: reset, then timed: `Applier::connect` × `RACE_WORKERS` (as the replication
//!      account over TCP, `log_slave_updates=true`, block commit
//!      `block_commit_size` = 10 or `RACE_BIG_BLOCK` transactions, 1 s) and
//!      `run_apply_stage` on the THL until `Progress`'s applied seqno is the
//!      THL's last seqno (polled every 10 ms).
//!    * After every run: `CHECKSUM TABLE` of `sbtest.sbtest1..4` and
//!      `sbtest.ins` must equal the primary's, else the bench fails.
//!
//! Run: `cargo bench -p benches --bench apply_race` (about 8-10 minutes);
//! `BENCH_QUICK=1` for a small backlog and 2 rounds (about 2 minutes).
//! Needs `sysbench` (`apt-get install -y sysbench`, or `scripts/install-deps
//! --bench`) and `mariadb-dump`/`mariadb` beside `mariadbd`.
//!
//! Environment: `RACE_SB_EVENTS` (sysbench transactions, 20000; quick
//! 3000), `RACE_SB_THREADS` (4), `RACE_TABLE_SIZE` (10000), `RACE_INSERTS`
//! (20000; quick 3000), `RACE_INSERT_CONNS` (4), `RACE_RUNS` (rounds, 3;
//! quick 2), `RACE_BIG_BLOCK` (100), `RACE_PARALLEL_THREADS` (4),
//! `RACE_WAIT_SECS` (bound of every wait for a load, extraction or run, 900),
//! `RACE_ROW_METHOD` (`binlog`, the default, or `sql`: how our applier sends
//! row changes), `RACE_WORKERS` (our apply channels, parallel apply by
//! key: 4), `RACE_LARGE_PAIRS` (0) and `RACE_LARGE_ROWS` (50000): after
//! the small transactions, that many pairs of large transactions on
//! `sbtest.big` (an `INSERT ... SELECT` of `RACE_LARGE_ROWS` rows, then an
//! `UPDATE` of those rows). The large-transaction race alone:
//! `RACE_SB_EVENTS=0 RACE_INSERTS=0 RACE_LARGE_PAIRS=5`.
//! `RACE_SCHEDULER` (`key`, the default, or `shard`: how our channels share
//! the work). `RACE_SCHEMAS` (1; at most 16): the multi-schema variant,
//! where the tables, the sysbench load (one process per database, the
//! events shared out) and the insert connections are spread over the
//! databases `sbtest_s1` .. `sbtest_sN` instead of `sbtest` alone (the
//! large transactions stay in the first); every step above applies to each
//! database, and the checksums cover them all.
//! `RACE_MATRIX=1`: the whole race of issue 11 instead of the five runs per
//! round: ours on 1, 4 and 8 channels (by key, block 10; with
//! `RACE_SCHEMAS` > 1 also 4 and 8 by shard) and MariaDB serial,
//! `optimistic` and `conservative` with 4 and 8 threads, and MariaDB
//! serial with relaxed durability (`innodb_flush_log_at_trx_commit=2`,
//! `sync_binlog=0` for that run only), interleaved, the
//! order reversed every other round; it prints every pair's median of
//! per-round ratios (`RACE_PARALLEL_THREADS`, `RACE_WORKERS`,
//! `RACE_SCHEDULER` and `RACE_BIG_BLOCK` do not apply).
//!
//! Reading the figures: cells are `median (min..max)` over the runs. Every
//! applier applies the same transactions and rows (counted in the THL), so
//! txn/s and rows/s compare directly. The ratios are medians of per-pair
//! ratios (MariaDB seconds / our seconds of the adjacent run), which cancels
//! most of this machine's minute-to-minute fsync-rate swings: aim >= 3x over
//! MariaDB serial, >= 1.5x over MariaDB parallel. MariaDB's SQL thread
//! commits (and fsyncs redo + binlog) every source transaction, with group
//! commit across workers in parallel mode; ours commits a block of
//! transactions at a time on one connection. `txn/commit` is source
//! transactions per target binlog commit (`Binlog_commits` delta on the
//! target during the timed part: the effective block size for ours, 1 for
//! MariaDB); `commit/fsync` is binlog commits per group commit
//! (`Binlog_group_commits`, one binlog fsync each with `sync_binlog=1`).

use std::error::Error;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use benches::{env_u64, extract_until, fmt_med, fsync_rate_text, median, quick, run_command, status_field, Table};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};
use replicator::applier::{Applier, ApplierConfig, RowMethod};
use replicator::config::model::ApplyScheduler;
use replicator::pipeline::apply::{run_apply_stage, Retry};
use replicator::pipeline::progress::Progress;
use replicator::pipeline::MasterSettings;
use replicator::service::SkipSeqnos;
use replicator::source::{BinlogPosition, StartPosition};
use tests::sandbox::{localhost_specs, Instance, InstanceSpec, Sandbox};
use thl::event::Change;
use thl::store::Reader;
use tokio::sync::watch;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// Service name of our applier (catalog schema `tungsten_race`).
const SERVICE: &str = "race";
/// Tables compared after every run.
const TABLES: [&str; 6] = ["sbtest1", "sbtest2", "sbtest3", "sbtest4", "ins", "big"];
/// Upper bound of `RACE_SCHEMAS`.
const MAX_SCHEMAS: u64 = 16;
/// Bound of one SQL statement of the harness.
const SQL_LIMIT: Duration = Duration::from_secs(120);
/// Status polling period (both sides).
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug)]
struct Cfg {
    sb_events: u64,
    sb_threads: u64,
    table_size: u64,
    inserts: u64,
    insert_conns: u64,
    large_pairs: u64,
    large_rows: u64,
    schemas: u64,
    runs: usize,
    big_block: usize,
    parallel_threads: u64,
    wait: Duration,
}

impl Cfg {
    fn from_env() -> Cfg {
        let q = quick();
        let pick = |full: u64, fast: u64| if q { fast } else { full };
        Cfg {
            sb_events: env_u64("RACE_SB_EVENTS", pick(20_000, 3_000)),
            sb_threads: env_u64("RACE_SB_THREADS", 4).max(1),
            table_size: env_u64("RACE_TABLE_SIZE", 10_000).max(10),
            inserts: env_u64("RACE_INSERTS", pick(20_000, 3_000)),
            insert_conns: env_u64("RACE_INSERT_CONNS", 4).max(1),
            large_pairs: env_u64("RACE_LARGE_PAIRS", 0),
            large_rows: env_u64("RACE_LARGE_ROWS", 50_000).max(1),
            schemas: env_u64("RACE_SCHEMAS", 1).clamp(1, MAX_SCHEMAS),
            runs: env_u64("RACE_RUNS", pick(3, 2)).max(1) as usize,
            big_block: env_u64("RACE_BIG_BLOCK", 100).max(1) as usize,
            parallel_threads: env_u64("RACE_PARALLEL_THREADS", 4).max(1),
            wait: Duration::from_secs(env_u64("RACE_WAIT_SECS", 900).max(1)),
        }
    }
}

impl Cfg {
    /// The databases the workload writes: `sbtest` alone, or with
    /// `RACE_SCHEMAS=N` (N > 1) `sbtest_s1` .. `sbtest_sN`, each with the
    /// same tables.
    fn schemas(&self) -> Vec<String> {
        if self.schemas == 1 {
            return vec!["sbtest".to_owned()];
        }
        (1..=self.schemas).map(|i| format!("sbtest_s{i}")).collect()
    }
}

/// The copy of `schema`'s starting state on each replica.
fn base_of(schema: &str) -> String {
    format!("{schema}_base")
}

/// The backlog in the primary's binlog: `[start, end)`.
#[derive(Debug, Clone)]
struct Backlog {
    start_file: String,
    start_pos: u64,
    end_file: String,
    end_pos: u64,
}

/// What the THL holds after the extraction.
#[derive(Debug, Clone, Copy)]
struct ThlSummary {
    first: i64,
    last: i64,
    rows: u64,
    statements: u64,
    bytes: u64,
}

impl ThlSummary {
    fn txns(&self) -> u64 {
        (self.last - self.first + 1) as u64
    }
}

async fn bounded<T, E: Into<Box<dyn Error + Send + Sync>>>(
    what: &str,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Res<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r.map_err(|e| format!("{what}: {}", e.into()).into()),
        Err(_) => Err(format!("{what}: no answer within {limit:?}").into()),
    }
}

async fn sql(conn: &mut Conn, stmt: &str) -> Res<()> {
    bounded(stmt, SQL_LIMIT, conn.query_drop(stmt)).await
}

async fn slave_status(conn: &mut Conn) -> Res<Row> {
    let row: Option<Row> = bounded("SHOW SLAVE STATUS", SQL_LIMIT, conn.query_first("SHOW SLAVE STATUS")).await?;
    Ok(row.ok_or("SHOW SLAVE STATUS: no row")?)
}

async fn master_status(inst: &Instance) -> Res<(String, u64)> {
    let rows = inst.query("SHOW MASTER STATUS").await?;
    let row = rows.first().ok_or("SHOW MASTER STATUS: no row (binlog off?)")?;
    Ok((row[0].clone(), row[1].parse()?))
}

/// The compared tables of `dbs`, database by database.
fn compared_tables(dbs: &[String]) -> Vec<String> {
    dbs.iter()
        .flat_map(|db| TABLES.iter().map(move |t| format!("{db}.{t}")))
        .collect()
}

async fn checksums(inst: &Instance, dbs: &[String]) -> Res<Vec<u64>> {
    let mut v = Vec::new();
    for table in compared_tables(dbs) {
        v.push(inst.checksum_table(&table).await?);
    }
    Ok(v)
}

async fn expect_checksums(inst: &Instance, dbs: &[String], want: &[u64], what: &str) -> Res<()> {
    let got = checksums(inst, dbs).await?;
    if got != want {
        let diff: Vec<String> = compared_tables(dbs)
            .iter()
            .zip(got.iter().zip(want))
            .filter(|(_, (g, w))| g != w)
            .map(|(t, (g, w))| format!("{t}: {g} (primary {w})"))
            .collect();
        return Err(format!("{what}: {} differs from the primary: {}", inst.name(), diff.join(", ")).into());
    }
    Ok(())
}

/// The target's `Binlog_commits` and `Binlog_group_commits` (each group
/// commit is one binlog fsync with `sync_binlog=1`).
async fn binlog_counters(inst: &Instance) -> Res<(u64, u64)> {
    let rows = inst
        .query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Binlog_commits', 'Binlog_group_commits')")
        .await?;
    let get = |name: &str| -> Res<u64> {
        let row = rows
            .iter()
            .find(|r| r[0].eq_ignore_ascii_case(name))
            .ok_or(format!("no status {name}"))?;
        Ok(row[1].parse()?)
    };
    Ok((get("Binlog_commits")?, get("Binlog_group_commits")?))
}

/// One timed run: seconds, and the target's binlog commits and group
/// commits during it.
#[derive(Debug, Clone, Copy)]
struct RunStat {
    secs: f64,
    commits: u64,
    groups: u64,
    /// Ours only: the scheduler's counters at the end of the run.
    scheduler: Option<SchedulerCounters>,
}

/// What our parallel apply's counters say of a run (`status -name tasks`).
#[derive(Debug, Clone, Copy)]
struct SchedulerCounters {
    /// Transactions that ran alone.
    barriers: u64,
    /// Transactions that waited for another channel's commit.
    waits: u64,
    /// Times the key history overflowed.
    overflows: u64,
    /// Transactions retried (any cause).
    retries: u64,
}

impl RunStat {
    /// `, barriers B, dependency waits W, ...` for ours, empty for MariaDB.
    fn counters(&self) -> String {
        self.scheduler.map_or_else(String::new, |c| {
            format!(
                ", barriers {}, dependency waits {}, history overflows {}, retries {}",
                c.barriers, c.waits, c.overflows, c.retries
            )
        })
    }
}

fn sysbench_cmd(primary: &Instance, cfg: &Cfg, db: &str) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("sysbench");
    c.arg("oltp_write_only")
        .arg("--db-driver=mysql")
        .arg(format!("--mysql-host={}", primary.address()))
        .arg(format!("--mysql-port={}", primary.port()))
        .arg(format!("--mysql-user={}", primary.user()))
        .arg(format!("--mysql-password={}", primary.password()))
        .arg(format!("--mysql-db={db}"))
        .arg("--tables=4")
        .arg(format!("--table-size={}", cfg.table_size))
        .stdin(Stdio::null());
    c
}

/// `n` single-row autocommit INSERTs into `db.ins`, ids from the
/// auto-increment, payload derived from `from..from+n`.
async fn insert_loop(opts: Opts, db: String, from: u64, n: u64) -> Res<()> {
    let mut conn = Conn::new(opts).await?;
    let stmt = conn
        .prep(format!("INSERT INTO {db}.ins (k, c, pad, ts) VALUES (?, ?, ?, NOW(6))"))
        .await?;
    for i in from..from + n {
        let h = |j: u64| (i * 31 + j).wrapping_mul(2_654_435_761) % 100_000_000_000;
        let c: Vec<String> = (0..10).map(|j| format!("{:011}", h(j))).collect();
        let pad: Vec<String> = (10..15).map(|j| format!("{:011}", h(j))).collect();
        conn.exec_drop(&stmt, ((i * 7919) % 1_000_000, c.join("-"), pad.join("-")))
            .await?;
    }
    conn.disconnect().await?;
    Ok(())
}

/// `pairs` large transactions of `rows` rows each, one after the other:
/// an `INSERT ... SELECT` of `rows` new rows into `db.big`, then one
/// `UPDATE` of those rows (so `2 * pairs` transactions).
async fn large_transactions(opts: Opts, db: &str, pairs: u64, rows: u64) -> Res<()> {
    let mut conn = Conn::new(opts).await?;
    for p in 0..pairs {
        let first = p * rows + 1;
        sql(
            &mut conn,
            &format!(
                "INSERT INTO {db}.big (id, k, c, pad) SELECT seq, seq % 1000, \
                 CONCAT('c-', seq, '-', REPEAT('x', 100)), CONCAT('p-', seq) FROM {db}.seq_{first}_to_{}",
                first + rows - 1
            ),
        )
        .await?;
        sql(
            &mut conn,
            &format!(
                "UPDATE {db}.big SET k = k + 1, pad = CONCAT(pad, '-u') WHERE id BETWEEN {first} AND {}",
                first + rows - 1
            ),
        )
        .await?;
    }
    conn.disconnect().await?;
    Ok(())
}

/// Prepares the starting state, the dump and the backlog (see the module
/// doc, steps 2-3) in every database of [`Cfg::schemas`]. Returns the
/// backlog and the primary's checksums at its start and end.
async fn load(
    primary: &Instance,
    replicas: [&Instance; 2],
    cfg: &Cfg,
    dump_dir: &Path,
) -> Res<(Backlog, Vec<u64>, Vec<u64>)> {
    let t0 = Instant::now();
    let schemas = cfg.schemas();
    for db in &schemas {
        primary.exec(&format!("CREATE DATABASE {db}")).await?;
        let mut prep = sysbench_cmd(primary, cfg, db);
        prep.arg(format!("--threads={}", cfg.sb_threads.min(4))).arg("prepare");
        run_command(&mut prep, cfg.wait).await?;
        primary
            .exec(&format!(
                "CREATE TABLE {db}.ins (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, \
                 c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL, ts DATETIME(6) NOT NULL) ENGINE=InnoDB"
            ))
            .await?;
        primary
            .exec(&format!(
                "CREATE TABLE {db}.big (id BIGINT NOT NULL PRIMARY KEY, k INT NOT NULL, \
                 c VARCHAR(120) NOT NULL, pad VARCHAR(60) NOT NULL) ENGINE=InnoDB"
            ))
            .await?;
    }
    let start_sums = checksums(primary, &schemas).await?;
    let (start_file, start_pos) = master_status(primary).await?;
    let mut dump_bytes = 0;
    for db in &schemas {
        let mut dump = tokio::process::Command::new("mariadb-dump");
        dump.arg("--no-defaults")
            .arg(format!("--socket={}", primary.socket().display()))
            .args([
                "--user=root",
                "--single-transaction",
                "--skip-dump-date",
                "--skip-triggers",
            ])
            .arg(db)
            .stdin(Stdio::null());
        let text = run_command(&mut dump, cfg.wait).await?;
        dump_bytes += text.len();
        std::fs::write(dump_dir.join(format!("{db}.sql")), &text)?;
    }
    if master_status(primary).await? != (start_file.clone(), start_pos) {
        return Err("the primary's binlog moved during the dump".into());
    }
    eprintln!(
        "load: starting state ({} database(s) of 4 x {} rows + empty ins and big) and dump ({:.1} MB) in {:.1} s; \
         backlog starts at {start_file}:{start_pos}",
        schemas.len(),
        cfg.table_size,
        dump_bytes as f64 / 1e6,
        t0.elapsed().as_secs_f64()
    );
    let bases: Vec<String> = schemas.iter().map(|db| base_of(db)).collect();
    for r in replicas {
        for (db, base) in schemas.iter().zip(&bases) {
            r.exec(&format!(
                "SET SESSION sql_log_bin=0; DROP DATABASE IF EXISTS {base}; CREATE DATABASE {base}"
            ))
            .await?;
            let mut restore = tokio::process::Command::new("mariadb");
            restore
                .arg("--no-defaults")
                .arg(format!("--socket={}", r.socket().display()))
                .args(["--user=root", "--init-command=SET SESSION sql_log_bin=0"])
                .arg(base)
                .stdin(std::fs::File::open(dump_dir.join(format!("{db}.sql")))?);
            run_command(&mut restore, cfg.wait).await?;
        }
        expect_checksums(r, &bases, &start_sums, "dump loaded into the base copies").await?;
    }

    // The backlog: sysbench (one process per database, the events shared
    // out) and the insert loop (its connections spread over the databases)
    // at once.
    let t1 = Instant::now();
    let per_db = cfg.sb_events / schemas.len() as u64;
    let sb = async {
        let mut runs = Vec::new();
        for (i, db) in schemas.iter().enumerate() {
            let events = if i + 1 == schemas.len() {
                cfg.sb_events - per_db * i as u64
            } else {
                per_db
            };
            if events == 0 {
                continue;
            }
            let mut run = sysbench_cmd(primary, cfg, db);
            run.arg(format!("--threads={}", cfg.sb_threads))
                .arg(format!("--events={events}"))
                .arg("--time=0")
                .arg("run");
            let wait = cfg.wait;
            runs.push(tokio::spawn(async move { run_command(&mut run, wait).await }));
        }
        let mut outs = Vec::new();
        for run in runs {
            outs.push(run.await??);
        }
        Ok::<_, Box<dyn Error + Send + Sync>>(outs.join("\n"))
    };
    let ins = async {
        let per = cfg.inserts / cfg.insert_conns;
        let mut tasks = Vec::new();
        for c in 0..cfg.insert_conns {
            let n = if c + 1 == cfg.insert_conns {
                cfg.inserts - per * c
            } else {
                per
            };
            let db = schemas[c as usize % schemas.len()].clone();
            tasks.push(tokio::spawn(insert_loop(primary.opts(), db, c * per, n)));
        }
        for t in tasks {
            t.await??;
        }
        // After the small transactions: the large ones alone at the end.
        large_transactions(primary.opts(), &schemas[0], cfg.large_pairs, cfg.large_rows).await
    };
    let (sb_out, ins_res): (Res<String>, Res<()>) =
        match tokio::time::timeout(cfg.wait, async { tokio::join!(sb, ins) }).await {
            Ok(r) => r,
            Err(_) => return Err(format!("the backlog load did not finish within {:?}", cfg.wait).into()),
        };
    ins_res?;
    let sb_out = sb_out?;
    let (end_file, end_pos) = master_status(primary).await?;
    let end_sums = checksums(primary, &schemas).await?;
    let sb_lines: Vec<&str> = sb_out
        .lines()
        .filter(|l| l.trim_start().starts_with("transactions:"))
        .map(str::trim)
        .collect();
    eprintln!(
        "load: backlog of {} sysbench transactions in {} database(s) ({}) + {} inserts + {} large transactions of {} rows \
         in {:.1} s, {start_file}:{start_pos} .. {end_file}:{end_pos}",
        cfg.sb_events,
        schemas.len(),
        sb_lines.join("; "),
        cfg.inserts,
        cfg.large_pairs * 2,
        cfg.large_rows,
        t1.elapsed().as_secs_f64()
    );
    Ok((
        Backlog {
            start_file,
            start_pos,
            end_file,
            end_pos,
        },
        start_sums,
        end_sums,
    ))
}

/// Extracts the backlog into a THL at `thl_dir` (not timed in the race).
async fn extract(primary: &Instance, b: &Backlog, root: &Path, wait: Duration) -> Res<f64> {
    let thl_dir = root.join("thl");
    let mut settings = MasterSettings::new(
        SERVICE,
        "primary.race",
        primary.opts(),
        thl_dir.clone(),
        root.join("catalog"),
    );
    settings.start_when_empty = StartPosition::FilePos(BinlogPosition::new(b.start_file.clone(), b.start_pos));
    let run = extract_until(settings, &b.end_file, b.end_pos, wait).await?;
    Ok(run.secs)
}

/// Counts transactions, row changes and statements in the THL.
fn scan_thl(dir: &Path) -> Res<ThlSummary> {
    let r = Reader::open(dir)?;
    let first = r.min_seqno()?.ok_or("the THL is empty")?;
    let last = r.max_seqno()?.ok_or("the THL is empty")?;
    let (mut rows, mut statements) = (0u64, 0u64);
    let mut c = r.cursor(first)?;
    while let Some(rec) = c.next()? {
        if rec.header().seqno > last {
            break;
        }
        for ch in rec.decode_event()?.body.changes {
            match ch {
                Change::Rows(rc) => rows += rc.rows.len() as u64,
                Change::Statement(_) => statements += 1,
            }
        }
    }
    let bytes = r.info()?.files.iter().map(|f| f.size).sum();
    Ok(ThlSummary {
        first: first.0,
        last: last.0,
        rows,
        statements,
        bytes,
    })
}

/// Resets every database of `schemas` to the starting state (from its
/// [`base_of`] copy) and drops our catalog, without writing the replica's
/// binlog.
async fn reset(replica: &Instance, schemas: &[String]) -> Res<()> {
    let mut s = format!("SET SESSION sql_log_bin=0; DROP DATABASE IF EXISTS tungsten_{SERVICE};");
    for db in schemas {
        let base = base_of(db);
        s.push_str(&format!(" DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db};"));
        for t in TABLES {
            s.push_str(&format!(
                " CREATE TABLE {db}.{t} LIKE {base}.{t}; INSERT INTO {db}.{t} SELECT * FROM {base}.{t};"
            ));
        }
    }
    replica.exec(&s).await?;
    Ok(())
}

/// The mode of [`run_mariadb`] for MariaDB's serial replica with the
/// durability sites often relax (`innodb_flush_log_at_trx_commit=2`,
/// `sync_binlog=0`), set for that run only: the matrix compares our
/// durable apply with it (aim >= 0.8x).
const RELAXED: &str = "relaxed";

/// MariaDB's replica: relay the backlog, then time the SQL thread.
/// `mode` is `slave_parallel_mode`, or [`RELAXED`] (serial).
async fn run_mariadb(
    replica: &Instance,
    primary: &Instance,
    b: &Backlog,
    schemas: &[String],
    (threads, mode): (u64, &str),
    wait: Duration,
) -> Res<RunStat> {
    let mut conn = bounded("connect", SQL_LIMIT, Conn::new(replica.root_opts())).await?;
    let result: Res<RunStat> = async {
        sql(&mut conn, "STOP SLAVE").await?;
        sql(&mut conn, "RESET SLAVE ALL").await?;
        reset(replica, schemas).await?;
        sql(&mut conn, &format!("SET GLOBAL slave_parallel_threads={threads}")).await?;
        if mode == RELAXED {
            sql(&mut conn, "SET GLOBAL innodb_flush_log_at_trx_commit=2").await?;
            sql(&mut conn, "SET GLOBAL sync_binlog=0").await?;
        } else {
            sql(&mut conn, &format!("SET GLOBAL slave_parallel_mode='{mode}'")).await?;
        }
        sql(
            &mut conn,
            &format!(
                "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{}', MASTER_PASSWORD='{}', \
                 MASTER_LOG_FILE='{}', MASTER_LOG_POS={}, MASTER_USE_GTID=no",
                primary.address(),
                primary.port(),
                primary.user(),
                primary.password(),
                b.start_file,
                b.start_pos
            ),
        )
        .await?;
        sql(&mut conn, "START SLAVE IO_THREAD").await?;
        let t0 = Instant::now();
        loop {
            let row = slave_status(&mut conn).await?;
            let file = status_field(&row, "Master_Log_File");
            let pos: u64 = status_field(&row, "Read_Master_Log_Pos").parse().unwrap_or(0);
            if (file.as_str(), pos) >= (b.end_file.as_str(), b.end_pos) {
                break;
            }
            let err = status_field(&row, "Last_IO_Error");
            if !err.is_empty() {
                return Err(format!("replica IO thread: {err}").into());
            }
            if t0.elapsed() > wait {
                return Err(format!(
                    "IO thread did not reach {}:{} within {wait:?} (at {file}:{pos})",
                    b.end_file, b.end_pos
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
        let (c0, g0) = binlog_counters(replica).await?;
        let t0 = Instant::now();
        sql(&mut conn, "START SLAVE SQL_THREAD").await?;
        loop {
            let row = slave_status(&mut conn).await?;
            let file = status_field(&row, "Relay_Master_Log_File");
            let pos: u64 = status_field(&row, "Exec_Master_Log_Pos").parse().unwrap_or(0);
            if (file.as_str(), pos) >= (b.end_file.as_str(), b.end_pos) {
                let secs = t0.elapsed().as_secs_f64();
                let (c1, g1) = binlog_counters(replica).await?;
                break Ok(RunStat {
                    secs,
                    commits: c1 - c0,
                    groups: g1 - g0,
                    scheduler: None,
                });
            }
            let err = status_field(&row, "Last_SQL_Error");
            if !err.is_empty() {
                return Err(format!("replica SQL thread: {err}").into());
            }
            if t0.elapsed() > wait {
                return Err(format!(
                    "SQL thread did not reach {}:{} within {wait:?} (at {file}:{pos})",
                    b.end_file, b.end_pos
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }
    .await;
    let cleanup: Res<()> = async {
        sql(&mut conn, "STOP SLAVE").await?;
        sql(&mut conn, "RESET SLAVE ALL").await?;
        // The durable settings the replica started with.
        sql(&mut conn, "SET GLOBAL innodb_flush_log_at_trx_commit=1").await?;
        sql(&mut conn, "SET GLOBAL sync_binlog=1").await?;
        Ok(())
    }
    .await;
    let _ = tokio::time::timeout(SQL_LIMIT, conn.disconnect()).await;
    let stat = result?;
    cleanup?;
    Ok(stat)
}

/// `RACE_ROW_METHOD`: `binlog` (default: `BINLOG` statements, the target's
/// row applier) or `sql` (INSERT/UPDATE/DELETE), to compare the two.
fn row_method() -> RowMethod {
    match std::env::var("RACE_ROW_METHOD").as_deref() {
        Ok("sql") => RowMethod::Sql,
        _ => RowMethod::Binlog,
    }
}

/// `RACE_MATRIX=1`: the whole race of issue 11 ([`race_matrix`]).
fn matrix() -> bool {
    std::env::var("RACE_MATRIX").is_ok_and(|v| v == "1")
}

/// `RACE_WORKERS`: our apply channels (parallel apply by key), 4 by default.
fn workers() -> u32 {
    env_u64("RACE_WORKERS", 4).clamp(1, 64) as u32
}

/// `RACE_SCHEDULER`: how our channels share the work, `key` (the
/// default) or `shard` (by database, Tungsten's `disk` mode).
fn scheduler() -> ApplyScheduler {
    match std::env::var("RACE_SCHEDULER").as_deref() {
        Ok("shard") => ApplyScheduler::Shard,
        _ => ApplyScheduler::Key,
    }
}

/// Our apply stage on the THL from the starting state, timed until the
/// last seqno is committed.
async fn run_ours(
    replica: &Instance,
    thl_dir: &Path,
    last: i64,
    schemas: &[String],
    (block, channels, scheduler): (usize, u32, ApplyScheduler),
    wait: Duration,
) -> Res<RunStat> {
    reset(replica, schemas).await?;
    let (c0, g0) = binlog_counters(replica).await?;
    let reader = Reader::open(thl_dir)?;
    let mut acfg = ApplierConfig::new(SERVICE);
    acfg.block_commit_size = block;
    acfg.block_commit_interval = Duration::from_secs(1);
    acfg.log_slave_updates = true;
    acfg.row_method = row_method();
    let progress = Progress::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let mut appliers = Vec::new();
    for channel in 0..channels {
        let mut cfg = acfg.clone();
        cfg.channel = channel;
        appliers.push(bounded("Applier::connect", SQL_LIMIT, Applier::connect(replica.opts(), cfg)).await?);
    }
    let mut handle = tokio::spawn(run_apply_stage(
        reader,
        appliers,
        stop_rx,
        progress.clone(),
        Retry::default(),
        SkipSeqnos::default(),
        scheduler,
    ));
    let secs = loop {
        let applied = progress.snapshot().applied_seqno.map_or(-1, |s| s.0);
        if applied >= last {
            break t0.elapsed().as_secs_f64();
        }
        if handle.is_finished() {
            let r = (&mut handle).await?;
            return Err(format!("the apply stage ended at seqno {applied} before {last}: {r:?}").into());
        }
        if t0.elapsed() > wait {
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
            return Err(format!("the apply stage did not reach seqno {last} within {wait:?} (at {applied})").into());
        }
        tokio::time::sleep(POLL).await;
    };
    let _ = stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(60), &mut handle).await {
        Ok(r) => r??,
        Err(_) => {
            handle.abort();
            return Err("the apply stage did not return within 60 s of stop".into());
        }
    }
    let (c1, g1) = binlog_counters(replica).await?;
    let figures = progress.channel_figures();
    Ok(RunStat {
        secs,
        commits: c1 - c0,
        groups: g1 - g0,
        scheduler: Some(SchedulerCounters {
            barriers: figures.barriers,
            waits: figures.waits,
            overflows: figures.overflows,
            retries: progress.apply_retries().0,
        }),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    Ours10Serial,
    Ours10Parallel,
    OursBig,
    Serial,
    Parallel,
}

#[derive(Debug, Default)]
struct Results {
    ours10_s: Vec<RunStat>,
    ours10_p: Vec<RunStat>,
    ours_big: Vec<RunStat>,
    serial: Vec<RunStat>,
    parallel: Vec<RunStat>,
}

async fn bench(sb: &Sandbox, cfg: &Cfg) -> Res<()> {
    let primary = sb.get("primary");
    let maria = sb.get("maria");
    let ours = sb.get("ours");
    let root = tempfile::Builder::new().prefix("apply-race-").tempdir()?;
    let (b, _start_sums, end_sums) = load(primary, [maria, ours], cfg, root.path()).await?;
    let schemas = cfg.schemas();

    let fsyncs_before = fsync_rate_text(root.path());
    let ex_secs = extract(primary, &b, root.path(), cfg.wait).await?;
    let thl_dir = root.path().join("thl");
    let s = scan_thl(&thl_dir)?;
    println!(
        "backlog: {}:{} .. {}:{} ({:.1} MB of binlog); THL seqno {}..{}: {} transactions, {} row changes, {} statements, {:.1} MB \
         (extracted once in {:.1} s, not timed)",
        b.start_file,
        b.start_pos,
        b.end_file,
        b.end_pos,
        if b.start_file == b.end_file { (b.end_pos - b.start_pos) as f64 / 1e6 } else { f64::NAN },
        s.first,
        s.last,
        s.txns(),
        s.rows,
        s.statements,
        s.bytes as f64 / 1e6,
        ex_secs
    );
    let expected = cfg.sb_events + cfg.inserts;
    if s.txns() != expected {
        eprintln!("note: THL holds {} transactions, the load issued {expected}", s.txns());
    }

    if matrix() {
        let servers = Servers { primary, maria, ours };
        return race_matrix(&servers, &b, &thl_dir, &s, &end_sums, cfg, &fsyncs_before, root.path()).await;
    }
    let mut res = Results::default();
    for round in 0..cfg.runs {
        let order: [Run; 5] = if round % 2 == 0 {
            [
                Run::OursBig,
                Run::Ours10Serial,
                Run::Serial,
                Run::Parallel,
                Run::Ours10Parallel,
            ]
        } else {
            [
                Run::Serial,
                Run::Ours10Serial,
                Run::Ours10Parallel,
                Run::Parallel,
                Run::OursBig,
            ]
        };
        for run in order {
            let (label, st) = match run {
                Run::Ours10Serial | Run::Ours10Parallel => (
                    "ours block 10".to_owned(),
                    run_ours(ours, &thl_dir, s.last, &schemas, (10, workers(), scheduler()), cfg.wait).await?,
                ),
                Run::OursBig => (
                    format!("ours block {}", cfg.big_block),
                    run_ours(
                        ours,
                        &thl_dir,
                        s.last,
                        &schemas,
                        (cfg.big_block, workers(), scheduler()),
                        cfg.wait,
                    )
                    .await?,
                ),
                Run::Serial => (
                    "MariaDB serial".to_owned(),
                    run_mariadb(maria, primary, &b, &schemas, (0, "optimistic"), cfg.wait).await?,
                ),
                Run::Parallel => (
                    format!("MariaDB parallel {}", cfg.parallel_threads),
                    run_mariadb(
                        maria,
                        primary,
                        &b,
                        &schemas,
                        (cfg.parallel_threads, "optimistic"),
                        cfg.wait,
                    )
                    .await?,
                ),
            };
            let target = if matches!(run, Run::Serial | Run::Parallel) {
                maria
            } else {
                ours
            };
            expect_checksums(
                target,
                &schemas,
                &end_sums,
                &format!("after {label} (round {})", round + 1),
            )
            .await?;
            eprintln!(
                "round {}/{}: {label}: {:.2} s, {:.0} txn/s, {:.0} rows/s, {} binlog commits, {} group commits{} \
                 (checksums equal)",
                round + 1,
                cfg.runs,
                st.secs,
                s.txns() as f64 / st.secs,
                s.rows as f64 / st.secs,
                st.commits,
                st.groups,
                st.counters()
            );
            match run {
                Run::Ours10Serial => res.ours10_s.push(st),
                Run::Ours10Parallel => res.ours10_p.push(st),
                Run::OursBig => res.ours_big.push(st),
                Run::Serial => res.serial.push(st),
                Run::Parallel => res.parallel.push(st),
            }
        }
    }

    print_heading(root.path(), &fsyncs_before, &s, cfg.runs);
    let txns = s.txns() as f64;
    let rows = s.rows as f64;
    let ours10: Vec<RunStat> = res.ours10_s.iter().chain(&res.ours10_p).copied().collect();
    let mut t = Table::new([
        "applier",
        "runs",
        "seconds",
        "txn/s",
        "rows/s",
        "txn/commit",
        "commit/fsync",
    ]);
    let mut line = |name: String, xs: &[RunStat]| {
        let secs: Vec<f64> = xs.iter().map(|x| x.secs).collect();
        t.row([
            name,
            xs.len().to_string(),
            fmt_med(&secs, 2),
            fmt_med(&secs.iter().map(|x| txns / x).collect::<Vec<_>>(), 0),
            fmt_med(&secs.iter().map(|x| rows / x).collect::<Vec<_>>(), 0),
            format!(
                "{:.1}",
                median(&xs.iter().map(|x| txns / x.commits.max(1) as f64).collect::<Vec<_>>())
            ),
            format!(
                "{:.2}",
                median(
                    &xs.iter()
                        .map(|x| x.commits as f64 / x.groups.max(1) as f64)
                        .collect::<Vec<_>>()
                )
            ),
        ]);
    };
    line(
        format!(
            "ours: {} channel(s) by {}, block 10 / 1 s",
            workers(),
            scheduler().name()
        ),
        &ours10,
    );
    line(
        format!(
            "ours: {} channel(s) by {}, block {} / 1 s",
            workers(),
            scheduler().name(),
            cfg.big_block
        ),
        &res.ours_big,
    );
    line("MariaDB SQL thread, serial".into(), &res.serial);
    line(
        format!("MariaDB SQL thread, parallel {} optimistic", cfg.parallel_threads),
        &res.parallel,
    );
    t.print();
    let ratio = |maria: &[RunStat], ours: &[RunStat]| -> (f64, Vec<f64>) {
        let r: Vec<f64> = maria.iter().zip(ours).map(|(m, o)| m.secs / o.secs).collect();
        (median(&r), r)
    };
    let fmt_r = |(m, r): (f64, Vec<f64>)| {
        let each: Vec<String> = r.iter().map(|x| format!("{x:.2}")).collect();
        format!("{m:.2}x (pairs: {})", each.join(", "))
    };
    println!(
        "ours (block 10) / MariaDB serial:   {} [aim >= 3x]",
        fmt_r(ratio(&res.serial, &res.ours10_s))
    );
    println!(
        "ours (block 10) / MariaDB parallel: {} [aim >= 1.5x]",
        fmt_r(ratio(&res.parallel, &res.ours10_p))
    );
    println!(
        "ours (block {}) / MariaDB serial:   {} (same round)",
        cfg.big_block,
        fmt_r(ratio(&res.serial, &res.ours_big))
    );
    println!(
        "ours (block {}) / MariaDB parallel: {} (same round)",
        cfg.big_block,
        fmt_r(ratio(&res.parallel, &res.ours_big))
    );
    Ok(())
}

/// The disk's fsync rate now (beside `before`), then the heading of the
/// results table.
fn print_heading(root: &Path, before: &str, s: &ThlSummary, rounds: usize) {
    let fsyncs = fsync_rate_text(root);
    println!("fsync/s of this disk after the runs: {fsyncs} (before: {before})");
    println!();
    println!(
        "apply of the backlog ({} txns, {} rows), {rounds} rounds, durable settings, median (min..max):",
        s.txns(),
        s.rows
    );
}

/// The three servers of the race.
struct Servers<'a> {
    primary: &'a Instance,
    maria: &'a Instance,
    ours: &'a Instance,
}

/// One applier of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Contender {
    /// Ours on that many channels, block 10.
    Ours(u32, ApplyScheduler),
    /// MariaDB's SQL thread: 0 threads is serial.
    Maria(u64, &'static str),
}

impl Contender {
    fn label(self) -> String {
        match self {
            Contender::Ours(n, by) => format!("ours: {n} channel(s) by {}, block 10", by.name()),
            Contender::Maria(0, RELAXED) => "MariaDB serial, relaxed (flush_log_at_trx_commit=2, sync_binlog=0)".into(),
            Contender::Maria(0, _) => "MariaDB serial".into(),
            Contender::Maria(n, mode) => format!("MariaDB {mode} {n}"),
        }
    }
}

/// The matrix (`RACE_MATRIX=1`): each round runs ours on 1, 4 and 8
/// channels and MariaDB serial, optimistic and conservative with 4 and 8
/// threads, in an order reversed every other round; then the medians, and
/// for every pair (ours, MariaDB) the median over rounds of MariaDB's
/// seconds / ours in the same round.
#[allow(clippy::too_many_arguments)]
async fn race_matrix(
    t: &Servers<'_>,
    b: &Backlog,
    thl_dir: &Path,
    s: &ThlSummary,
    end_sums: &[u64],
    cfg: &Cfg,
    fsyncs_before: &str,
    root: &Path,
) -> Res<()> {
    let mut ours = vec![
        Contender::Ours(1, ApplyScheduler::Key),
        Contender::Ours(4, ApplyScheduler::Key),
        Contender::Ours(8, ApplyScheduler::Key),
    ];
    let schemas = cfg.schemas();
    if schemas.len() > 1 {
        // Tungsten's mode, where the workload gives it something to share.
        ours.extend([
            Contender::Ours(4, ApplyScheduler::Shard),
            Contender::Ours(8, ApplyScheduler::Shard),
        ]);
    }
    let maria = [
        Contender::Maria(0, "optimistic"),
        Contender::Maria(4, "optimistic"),
        Contender::Maria(8, "optimistic"),
        Contender::Maria(4, "conservative"),
        Contender::Maria(8, "conservative"),
        Contender::Maria(0, RELAXED),
    ];
    // Ours and MariaDB interleaved, so that each of ours has a MariaDB run
    // beside it.
    let mut order: Vec<Contender> = Vec::new();
    for k in 0..maria.len().max(ours.len()) {
        order.extend(maria.get(k));
        order.extend(ours.get(k));
    }
    let mut stats: Vec<(Contender, Vec<RunStat>)> = order.iter().map(|&c| (c, Vec::new())).collect();
    for round in 0..cfg.runs {
        let this: Vec<Contender> = if round % 2 == 0 {
            order.clone()
        } else {
            order.iter().rev().copied().collect()
        };
        for c in this {
            let (target, st) = match c {
                Contender::Ours(n, by) => (
                    t.ours,
                    run_ours(t.ours, thl_dir, s.last, &schemas, (10, n, by), cfg.wait).await?,
                ),
                Contender::Maria(n, mode) => (
                    t.maria,
                    run_mariadb(t.maria, t.primary, b, &schemas, (n, mode), cfg.wait).await?,
                ),
            };
            expect_checksums(
                target,
                &schemas,
                end_sums,
                &format!("after {} (round {})", c.label(), round + 1),
            )
            .await?;
            eprintln!(
                "round {}/{}: {}: {:.2} s, {:.0} txn/s, {} binlog commits{} (checksums equal)",
                round + 1,
                cfg.runs,
                c.label(),
                st.secs,
                s.txns() as f64 / st.secs,
                st.commits,
                st.counters()
            );
            if let Some((_, v)) = stats.iter_mut().find(|(k, _)| *k == c) {
                v.push(st);
            }
        }
    }
    print_heading(root, fsyncs_before, s, cfg.runs);
    let secs_of = |v: &[RunStat]| v.iter().map(|x| x.secs).collect::<Vec<f64>>();
    let of = |c: Contender| {
        stats
            .iter()
            .find(|(k, _)| *k == c)
            .map_or_else(Vec::new, |(_, v)| secs_of(v))
    };
    let mut table = Table::new(["applier", "runs", "seconds", "txn/s", "txn/commit", "dependency waits"]);
    for (c, v) in &stats {
        let secs = secs_of(v);
        let waits: Vec<f64> = v.iter().filter_map(|x| x.scheduler).map(|c| c.waits as f64).collect();
        table.row([
            c.label(),
            v.len().to_string(),
            fmt_med(&secs, 2),
            fmt_med(&secs.iter().map(|x| s.txns() as f64 / x).collect::<Vec<_>>(), 0),
            format!(
                "{:.1}",
                median(
                    &v.iter()
                        .map(|x| s.txns() as f64 / x.commits.max(1) as f64)
                        .collect::<Vec<_>>()
                )
            ),
            if waits.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.0}", median(&waits))
            },
        ]);
    }
    table.print();
    println!();
    println!(
        "ours / MariaDB, median of per-round ratios (MariaDB seconds / ours); aim >= 3x serial, >= 1.5x the best parallel, \
         >= 0.8x serial relaxed:"
    );
    let mut head = vec!["ours".to_owned()];
    head.extend(maria.iter().map(|m| m.label()));
    let mut ratios = Table::new(head);
    for o in ours {
        let mut cells = vec![o.label()];
        for m in maria {
            let r: Vec<f64> = of(m).iter().zip(&of(o)).map(|(a, b)| a / b).collect();
            cells.push(format!("{:.2}x", median(&r)));
        }
        ratios.row(cells);
    }
    ratios.print();
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let cfg = Cfg::from_env();
    let common = [
        "--innodb-flush-log-at-trx-commit=1",
        "--sync-binlog=1",
        "--innodb-buffer-pool-size=128M",
        "--innodb-log-file-size=128M",
    ];
    let specs: Vec<InstanceSpec> = localhost_specs(3)?
        .into_iter()
        .zip(["primary", "maria", "ours"])
        .map(|(s, name)| {
            let s = InstanceSpec { name: name.into(), ..s }.args(common);
            if name == "primary" {
                s
            } else {
                s.args(["--skip-slave-start", "--slave-parallel-threads=0"])
            }
        })
        .collect();
    println!("apply_race: {cfg:?}");
    let mut sb = Sandbox::start(specs).await?;
    let result = bench(&sb, &cfg).await;
    let stopped = sb.stop_all().await;
    drop(sb);
    result?;
    stopped?;
    println!("all mariadbd stopped");
    Ok(())
}

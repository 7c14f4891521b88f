//! Extraction throughput on a binlog backlog: our master pipeline (binlog →
//! THL) against MariaDB's own replica IO thread downloading the same binlog,
//! in the same run, plus decode-only throughput from the binlog files.
//!
//! What it does:
//!
//! 1. Starts a sandbox of two `mariadbd` (`primary`, `replica`; the primary
//!    with a larger buffer pool and redo log so the data load is quick).
//! 2. On the primary: `bench.bench(id BIGINT PK, a INT, b VARCHAR(64),
//!    c DATETIME(6), d DECIMAL(12,2), e DOUBLE, f TEXT, g TINYINT UNSIGNED)`,
//!    `EXTRACT_TXNS` transactions of `INSERT ... SELECT FROM seq_1_to_N`
//!    (`EXTRACT_TXN_ROWS` rows each), then one UPDATE of `EXTRACT_UPDATE_ROWS`
//!    rows (FULL row images). Default: 10 x 100k + 100k = 1.1M row changes.
//! 3. **Decode only**: `BinlogFileReader` + `Decoder` over the primary's
//!    binlog files on disk (CRC checked, every row decoded), one thread,
//!    warm page cache; median of `EXTRACT_DECODE_RUNS`.
//! 4. Pairs, `EXTRACT_RUNS` times, order alternating within pairs:
//!    * **ours**: `run_master` with a fresh THL and catalog directory,
//!      starting at `<first binlog>:4`, default settings (SyncPolicy
//!      `EveryCommit`: durable, group commit), timed from the call until
//!      the pipeline reports the source's last transaction durable in the
//!      THL (event id = the primary's `SHOW MASTER STATUS` position; polled
//!      every 5 ms from its progress, what `trepctl status` shows, and the
//!      THL read once afterwards to confirm it). Also shown:
//!      the time until `run_master` returned after being told to stop (its
//!      final commit included).
//!    * **IO thread**: on the replica `CHANGE MASTER TO ... MASTER_LOG_FILE=
//!      '<first>', MASTER_LOG_POS=4; START SLAVE IO_THREAD`, timed until
//!      `SHOW SLAVE STATUS` shows `Read_Master_Log_Pos` at the primary's end
//!      position (polled every 5 ms on one connection); then `STOP SLAVE;
//!      RESET SLAVE ALL` (which also deletes the relay logs).
//!
//!    Every run of either side connects with a server id no earlier run
//!    used (ours in `MasterSettings::server_id`, the replica's by `SET
//!    GLOBAL server_id`). The dump thread of a finished run waits for
//!    binlog updates until it is killed, and MariaDB 10.11 started a new
//!    dump with the same server id about 100 ms late (it kills the old
//!    one first): measured on both sides from the second run on, a
//!    reconnect cost that steady extraction never pays.
//!
//! Run: `cargo bench -p benches --bench extract` (about 2-3 minutes, mostly
//! the data load); `BENCH_QUICK=1` for 3 x 100k rows and 3 pairs.
//!
//! Environment: `EXTRACT_TXNS` (10; quick 3), `EXTRACT_TXN_ROWS` (100000),
//! `EXTRACT_UPDATE_ROWS` (100000; quick 0), `EXTRACT_RUNS` (5; quick 3),
//! `EXTRACT_DECODE_RUNS` (5; quick 3), `EXTRACT_WAIT_SECS` (bound of every
//! wait for a run to finish, 180).
//!
//! Reading the figures: cells are `median (min..max)`. Both sides move the
//! same binlog bytes, so `ours / IO thread` is the ratio of speeds (median
//! of per-pair ratios; aim >= 1): the IO thread only copies events into its
//! relay log, we decode every row, build transactions and write (and
//! fdatasync) the THL. Decode-only rows/s is the single-core ceiling of the
//! pipeline's decoding (aim >= 1.5M rows/s). The disk's fsync/s (4 KiB
//! write + fdatasync, 2 s) is measured before and after the pairs: only we
//! fdatasync, so a slow disk moves our side alone.

use std::error::Error;
use std::path::Path;
use std::time::{Duration, Instant};

use benches::{env_u64, extract_until, fmt_med, fsync_rate_text, median, quick, status_field, Table};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use replicator::binlog::{BinlogEvent, BinlogFileReader, Decoder};
use replicator::pipeline::MasterSettings;
use replicator::source::{BinlogPosition, StartPosition};
use tests::sandbox::{localhost_specs, Instance, InstanceSpec, Sandbox};
use thl::store::Reader;

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

/// The server id of the first run; each run takes the next unused one
/// (the sandbox's servers have ids 1 and 2).
const FIRST_RUN_SERVER_ID: u32 = 1000;

#[derive(Debug)]
struct Cfg {
    txns: u64,
    txn_rows: u64,
    update_rows: u64,
    runs: usize,
    decode_runs: usize,
    wait: Duration,
}

impl Cfg {
    fn from_env() -> Cfg {
        let q = quick();
        let pick = |full: u64, fast: u64| if q { fast } else { full };
        Cfg {
            txns: env_u64("EXTRACT_TXNS", pick(10, 3)),
            txn_rows: env_u64("EXTRACT_TXN_ROWS", 100_000).max(1),
            update_rows: env_u64("EXTRACT_UPDATE_ROWS", pick(100_000, 0)),
            runs: env_u64("EXTRACT_RUNS", pick(5, 3)).max(1) as usize,
            decode_runs: env_u64("EXTRACT_DECODE_RUNS", pick(5, 3)).max(1) as usize,
            wait: Duration::from_secs(env_u64("EXTRACT_WAIT_SECS", 180).max(1)),
        }
    }
}

/// The binlog to extract: files with sizes, and the end position.
#[derive(Debug, Clone)]
struct Backlog {
    files: Vec<(String, u64)>,
    end_file: String,
    end_pos: u64,
}

impl Backlog {
    fn first(&self) -> &str {
        &self.files[0].0
    }
    fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }
}

async fn load_data(primary: &Instance, cfg: &Cfg) -> Res<Backlog> {
    primary
        .exec(
            "CREATE DATABASE bench; CREATE TABLE bench.bench (id BIGINT NOT NULL PRIMARY KEY, a INT, b VARCHAR(64), \
             c DATETIME(6), d DECIMAL(12,2), e DOUBLE, f TEXT, g TINYINT UNSIGNED) ENGINE=InnoDB",
        )
        .await?;
    let n = cfg.txn_rows;
    for t in 0..cfg.txns {
        let base = t * n;
        let sql = format!(
            "USE bench; INSERT INTO bench.bench SELECT seq + {base}, (seq * 7919) % 1000000, CONCAT('row-', seq + {base}, '-', LEFT(MD5(seq), 20)), \
             TIMESTAMP'2024-01-01 00:00:00' + INTERVAL (seq + {base}) SECOND + INTERVAL (seq % 1000000) MICROSECOND, \
             (seq % 10000000) / 100, seq * 1.25, REPEAT('f', seq % 64), seq % 256 FROM seq_1_to_{n}"
        );
        let t0 = Instant::now();
        primary.exec(&sql).await?;
        eprintln!(
            "load: transaction {}/{} ({n} rows) in {:.1} s",
            t + 1,
            cfg.txns,
            t0.elapsed().as_secs_f64()
        );
    }
    if cfg.update_rows > 0 {
        primary
            .exec(&format!(
                "UPDATE bench.bench SET a = a + 1, f = CONCAT(f, 'u') WHERE id <= {}",
                cfg.update_rows
            ))
            .await?;
    }
    let files = primary
        .query("SHOW BINARY LOGS")
        .await?
        .into_iter()
        .map(|r| Ok((r[0].clone(), r[1].parse::<u64>()?)))
        .collect::<Res<Vec<_>>>()?;
    let status = primary.query("SHOW MASTER STATUS").await?;
    let row = status.first().ok_or("SHOW MASTER STATUS: no row (binlog off?)")?;
    if files.is_empty() {
        return Err("SHOW BINARY LOGS: no files".into());
    }
    Ok(Backlog {
        files,
        end_file: row[0].clone(),
        end_pos: row[1].parse()?,
    })
}

/// Decodes every binlog file once: (events, rows, bytes, secs).
fn decode_pass(datadir: &Path, backlog: &Backlog) -> Res<(u64, u64, u64, f64)> {
    let t0 = Instant::now();
    let (mut events, mut rows, mut bytes) = (0u64, 0u64, 0u64);
    for (name, _) in &backlog.files {
        let mut reader = BinlogFileReader::open(datadir.join(name))?;
        let mut decoder = Decoder::new(name);
        while let Some((_, ev)) = reader.decode_next(&mut decoder)? {
            events += 1;
            if let BinlogEvent::Rows(r) = ev {
                rows += r.changes.rows.len() as u64;
            }
        }
        bytes += reader.position();
    }
    Ok((events, rows, bytes, t0.elapsed().as_secs_f64()))
}

#[derive(Debug, Clone, Copy)]
struct Ours {
    secs: f64,
    returned_secs: f64,
    thl_bytes: u64,
}

async fn run_ours(primary: &Instance, b: &Backlog, server_id: u32, wait: Duration) -> Res<Ours> {
    let root = tempfile::Builder::new().prefix("extract-bench-").tempdir()?;
    let thl_dir = root.path().join("thl");
    let mut settings = MasterSettings::new(
        "bench",
        "host1.bench",
        primary.opts(),
        thl_dir.clone(),
        root.path().join("catalog"),
    );
    settings.start_when_empty = StartPosition::FilePos(BinlogPosition::new(b.first(), 4));
    settings.server_id = server_id;
    let run = extract_until(settings, &b.end_file, b.end_pos, wait).await?;
    let thl_bytes = Reader::open(&thl_dir)?.info()?.files.iter().map(|f| f.size).sum();
    Ok(Ours {
        secs: run.secs,
        returned_secs: run.returned_secs,
        thl_bytes,
    })
}

async fn run_io_thread(
    replica: &Instance,
    primary: &Instance,
    b: &Backlog,
    server_id: u32,
    wait: Duration,
) -> Res<f64> {
    let mut conn = Conn::new(replica.root_opts()).await?;
    let result: Res<f64> = async {
        conn.query_drop("STOP SLAVE").await?;
        conn.query_drop("RESET SLAVE ALL").await?;
        conn.query_drop(format!("SET GLOBAL server_id = {server_id}")).await?;
        conn.query_drop(format!(
            "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='tungsten', MASTER_PASSWORD='secret', \
             MASTER_LOG_FILE='{}', MASTER_LOG_POS=4, MASTER_USE_GTID=no",
            primary.address(),
            primary.port(),
            b.first()
        ))
        .await?;
        let t0 = Instant::now();
        conn.query_drop("START SLAVE IO_THREAD").await?;
        loop {
            let row: Option<Row> = conn.query_first("SHOW SLAVE STATUS").await?;
            let row = row.ok_or("SHOW SLAVE STATUS: no row")?;
            let file = status_field(&row, "Master_Log_File");
            let pos: u64 = status_field(&row, "Read_Master_Log_Pos").parse().unwrap_or(0);
            if file == b.end_file && pos >= b.end_pos {
                break Ok(t0.elapsed().as_secs_f64());
            }
            let err = status_field(&row, "Last_IO_Error");
            if !err.is_empty() {
                break Err(format!("replica IO thread: {err}").into());
            }
            if t0.elapsed() > wait {
                break Err(format!(
                    "IO thread did not reach {}:{} within {wait:?} (at {file}:{pos})",
                    b.end_file, b.end_pos
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    .await;
    let cleanup: Res<()> = async {
        conn.query_drop("STOP SLAVE").await?;
        conn.query_drop("RESET SLAVE ALL").await?;
        Ok(())
    }
    .await;
    let _ = conn.disconnect().await;
    let secs = result?;
    cleanup?;
    Ok(secs)
}

async fn bench(sb: &Sandbox, cfg: &Cfg) -> Res<()> {
    let primary = sb.get("primary");
    let replica = sb.get("replica");
    let t0 = Instant::now();
    let b = load_data(primary, cfg).await?;
    println!(
        "binlog: {} file(s) from {}, {:.1} MB, end {}:{} (load took {:.1} s)",
        b.files.len(),
        b.first(),
        b.bytes() as f64 / 1e6,
        b.end_file,
        b.end_pos,
        t0.elapsed().as_secs_f64()
    );

    // Decode only, one thread, from the files on disk (page cache warm after the first pass).
    let datadir = primary.datadir();
    let (events, rows, dbytes, _) = decode_pass(&datadir, &b)?;
    let mut dec = Vec::new();
    for _ in 0..cfg.decode_runs {
        dec.push(decode_pass(&datadir, &b)?.3);
    }
    let dec_rows: Vec<f64> = dec.iter().map(|s| rows as f64 / s / 1e6).collect();
    let dec_mb: Vec<f64> = dec.iter().map(|s| dbytes as f64 / s / 1e6).collect();
    println!(
        "decode only (BinlogFileReader + Decoder, 1 thread, CRC on, warm page cache, {} passes): {events} events, {rows} rows: \
         {} M rows/s, {} MB/s [aim >= 1.5 M rows/s]",
        cfg.decode_runs,
        fmt_med(&dec_rows, 2),
        fmt_med(&dec_mb, 0)
    );

    let probe_dir = tempfile::Builder::new().prefix("extract-fsync-").tempdir()?;
    let fsyncs_before = fsync_rate_text(probe_dir.path());
    let mut ours = Vec::new();
    let mut io = Vec::new();
    for i in 0..cfg.runs {
        // Fresh server ids for every run (see the module doc).
        let ours_id = FIRST_RUN_SERVER_ID + 2 * i as u32;
        let io_id = ours_id + 1;
        let (o, s) = if i % 2 == 0 {
            let o = run_ours(primary, &b, ours_id, cfg.wait).await?;
            (o, run_io_thread(replica, primary, &b, io_id, cfg.wait).await?)
        } else {
            let s = run_io_thread(replica, primary, &b, io_id, cfg.wait).await?;
            (run_ours(primary, &b, ours_id, cfg.wait).await?, s)
        };
        eprintln!(
            "pair {}/{}: ours {:.2} s (returned {:.2} s), IO thread {:.2} s, ratio {:.2}",
            i + 1,
            cfg.runs,
            o.secs,
            o.returned_secs,
            s,
            s / o.secs
        );
        ours.push(o);
        io.push(s);
    }
    let bb = b.bytes() as f64;
    let ratios: Vec<f64> = ours.iter().zip(&io).map(|(o, s)| s / o.secs).collect();
    let o_secs: Vec<f64> = ours.iter().map(|o| o.secs).collect();
    let o_ret: Vec<f64> = ours.iter().map(|o| o.returned_secs).collect();
    println!();
    println!(
        "extraction of the backlog, {} pairs (alternating order), median (min..max):",
        cfg.runs
    );
    let mut t = Table::new(["path", "seconds", "k rows/s", "binlog MB/s", "THL MB/s"]);
    t.row([
        "ours: run_master → THL (last txn visible)".to_string(),
        fmt_med(&o_secs, 2),
        fmt_med(&o_secs.iter().map(|s| rows as f64 / s / 1e3).collect::<Vec<_>>(), 0),
        fmt_med(&o_secs.iter().map(|s| bb / s / 1e6).collect::<Vec<_>>(), 1),
        fmt_med(
            &ours
                .iter()
                .map(|o| o.thl_bytes as f64 / o.secs / 1e6)
                .collect::<Vec<_>>(),
            1,
        ),
    ]);
    t.row([
        "ours: until run_master returned on stop".to_string(),
        fmt_med(&o_ret, 2),
        fmt_med(&o_ret.iter().map(|s| rows as f64 / s / 1e3).collect::<Vec<_>>(), 0),
        fmt_med(&o_ret.iter().map(|s| bb / s / 1e6).collect::<Vec<_>>(), 1),
        fmt_med(
            &ours
                .iter()
                .map(|o| o.thl_bytes as f64 / o.returned_secs / 1e6)
                .collect::<Vec<_>>(),
            1,
        ),
    ]);
    t.row([
        "MariaDB replica IO thread (download only)".to_string(),
        fmt_med(&io, 2),
        fmt_med(&io.iter().map(|s| rows as f64 / s / 1e3).collect::<Vec<_>>(), 0),
        fmt_med(&io.iter().map(|s| bb / s / 1e6).collect::<Vec<_>>(), 1),
        "-".to_string(),
    ]);
    t.print();
    println!(
        "THL size {:.1} MB for {:.1} MB of binlog; ours / IO thread speed: {:.2} (median of per-pair ratios, {} pairs) \
         [aim >= 1]; the disk: {fsyncs_before} fsync/s before the pairs, {} after",
        median(&ours.iter().map(|o| o.thl_bytes as f64).collect::<Vec<_>>()) / 1e6,
        bb / 1e6,
        median(&ratios),
        ratios.len(),
        fsync_rate_text(probe_dir.path())
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let cfg = Cfg::from_env();
    let mut specs = localhost_specs(2)?;
    let replica = specs.pop().ok_or("no spec")?;
    let primary = specs.pop().ok_or("no spec")?;
    let primary = InstanceSpec {
        name: "primary".into(),
        ..primary
    }
    .args([
        "--innodb-buffer-pool-size=512M",
        "--innodb-log-file-size=512M",
        "--innodb-flush-log-at-trx-commit=2",
    ]);
    let replica = InstanceSpec {
        name: "replica".into(),
        ..replica
    }
    .arg("--skip-slave-start");
    println!("extract: {cfg:?}");
    let mut sb = Sandbox::start(vec![primary, replica]).await?;
    let result = bench(&sb, &cfg).await;
    let stopped = sb.stop_all().await;
    drop(sb);
    result?;
    stopped?;
    println!("all mariadbd stopped");
    Ok(())
}

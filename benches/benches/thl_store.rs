//! THL store throughput beside the disk's own fdatasync'd bandwidth,
//! measured in the same run: the aim is appends near the disk's fdatasync'd
//! sequential bandwidth and reads at memory speed (the store's place in the
//! data path: `ARCHITECTURE.md` §3.1, steps 9-10; how to run the benches:
//! `README.md`, "Benchmarks").
//!
//! What it measures, in one run:
//!
//! * **dd baseline**: `dd if=/dev/zero of=<tmp>/dd-baseline.bin bs=1M
//!   count=512 conv=fdatasync`, run as a process in the bench's temp dir (the
//!   filesystem of the THL), once per round, file deleted each time.
//! * **Appends** (`Writer::append` of pre-encoded bodies, so the store and
//!   not the codec is measured) of 200-byte and 4 KiB event bodies:
//!   - `sync/event`: `SyncPolicy::EveryCommit`, `commit()` after every event
//!     (one fdatasync per event; capped in count and time);
//!   - `group/N`: `EveryCommit`, `commit()` every N events (group commit);
//!   - `interval`: `SyncPolicy::Interval`, `commit()` every N events.
//!
//!   Each run ends with `commit()` + `sync()` inside the timing, so every
//!   figure is for data on disk. MB/s counts THL bytes (data files: headers,
//!   framing, event headers and bodies). Rounds interleave dd and all cases,
//!   so disk noise spreads over all of them.
//! * **Sequential reads** with CRC verification (`Reader::open` + `Cursor`)
//!   over a log of row-event bodies (8 columns x 20 rows, like the binlog
//!   bench table), read from the page cache after a warm-up pass: raw record
//!   iteration (frame + CRC + header) and full body decode
//!   (`RecordRef::decode_event`).
//! * The read log is left in `$BENCH_THL_DIR` (default `/tmp/thl-bench-log`)
//!   and the `thl ... info` / `list` commands to inspect it are printed.
//!
//! Run: `cargo bench -p benches --bench thl_store` (about 1 minute);
//! `BENCH_QUICK=1 cargo bench -p benches --bench thl_store` (under a minute).
//!
//! Environment (defaults full / quick):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BENCH_TMPDIR` | where append runs and dd write (same fs as the THL!) | `std::env::temp_dir()` |
//! | `BENCH_THL_DIR` | where the read log is left | `/tmp/thl-bench-log` |
//! | `THL_BENCH_ROUNDS` | rounds (runs of each case; medians over them) | 5 / 3 |
//! | `THL_BENCH_DD_MB` | dd size, MB | 512 / 128 |
//! | `THL_BENCH_GROUP_MB` | THL bytes per group-commit run, MB | 256 / 64 |
//! | `THL_BENCH_GROUP_N` | events per commit in group cases | 1000 |
//! | `THL_BENCH_INTERVAL_MS` | `SyncPolicy::Interval` period | 50 |
//! | `THL_BENCH_SYNC_EVENTS` | events per `sync/event` run (also capped at 3 s) | 2000 / 300 |
//! | `THL_BENCH_READ_MB` | size of the read log, MB | 400 / 128 |
//! | `THL_BENCH_READ_RUNS` | read passes of each kind | 5 / 3 |
//!
//! Reading the figures: every cell is `median (min..max)` over the rounds.
//! `group 4KiB MB/s / dd MB/s` near 1 means the writer runs at the disk's
//! sequential fdatasync bandwidth (aim >= 0.8); `sync/event` is bounded by
//! the disk's fdatasync latency, not bandwidth. Read GB/s are memory speed
//! (page cache), not disk speed.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use benches::{dd_once, env_u64, fmt_med, mb_s, median, quick, Table};
use thl::codec::encode_body;
use thl::event::{Change, ColumnSpec, DateTime, EventBody, EventHeader, RowAction, RowChanges, RowImage, Value};
use thl::seqno::{Epoch, Seqno};
use thl::store::{Reader, StoreConfig, SyncPolicy, Writer};

type Res<T> = Result<T, Box<dyn Error>>;

#[derive(Debug)]
struct Cfg {
    tmp: PathBuf,
    keep_dir: PathBuf,
    rounds: usize,
    dd_mb: u64,
    group_mb: u64,
    group_n: u64,
    interval: Duration,
    sync_events: u64,
    sync_cap: Duration,
    read_mb: u64,
    read_runs: usize,
}

impl Cfg {
    fn from_env() -> Cfg {
        let q = quick();
        let pick = |full: u64, fast: u64| if q { fast } else { full };
        Cfg {
            tmp: std::env::var_os("BENCH_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from),
            keep_dir: std::env::var_os("BENCH_THL_DIR")
                .map_or_else(|| PathBuf::from("/tmp/thl-bench-log"), PathBuf::from),
            rounds: env_u64("THL_BENCH_ROUNDS", pick(5, 3)).max(1) as usize,
            dd_mb: env_u64("THL_BENCH_DD_MB", pick(512, 128)).max(1),
            group_mb: env_u64("THL_BENCH_GROUP_MB", pick(256, 64)).max(1),
            group_n: env_u64("THL_BENCH_GROUP_N", 1000).max(1),
            interval: Duration::from_millis(env_u64("THL_BENCH_INTERVAL_MS", 50).max(1)),
            sync_events: env_u64("THL_BENCH_SYNC_EVENTS", pick(2000, 300)).max(1),
            sync_cap: Duration::from_secs(3),
            read_mb: env_u64("THL_BENCH_READ_MB", pick(400, 128)).max(1),
            read_runs: env_u64("THL_BENCH_READ_RUNS", pick(5, 3)).max(1) as usize,
        }
    }
}

fn header(seqno: i64) -> EventHeader {
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno),
        fragno: 0,
        last_frag: true,
        epoch: Epoch(0),
        source_id: "bench-host1".into(),
        event_id: "mysql-bin.000001:0000000000001234;42".into(),
        shard_id: "bench".into(),
        source_tstamp_ms: 1_700_000_000_000,
        extract_tstamp_ms: 1_700_000_000_001,
    }
}

fn col(index: u16, name: &str, type_code: u8, type_meta: u16, type_desc: &str) -> ColumnSpec {
    ColumnSpec {
        index,
        name: name.into(),
        type_code,
        type_meta,
        unsigned: false,
        nullable: index != 0,
        key: index == 0,
        collation: None,
        type_desc: type_desc.into(),
    }
}

/// A valid encoded body of exactly `target` bytes: one INSERT of one row
/// whose single BLOB value pads the body.
fn body_of_size(target: usize) -> Vec<u8> {
    let make = |pad: usize| {
        let payload: Vec<u8> = (0..pad).map(|i| b'a' + (i * 7 % 26) as u8).collect();
        let body = EventBody {
            metadata: Vec::new(),
            changes: vec![Change::Rows(RowChanges {
                schema: "bench".into(),
                table: "t".into(),
                action: RowAction::Insert,
                columns: vec![col(0, "v", 252, 2, "blob")],
                before_columns: Vec::new(),
                after_columns: vec![0],
                flags: thl::event::RowFlags::default(),
                rows: vec![RowImage {
                    before: Vec::new(),
                    after: vec![Value::Bytes(payload)],
                }],
            })],
        };
        let mut out = Vec::new();
        encode_body(&body, &mut out);
        out
    };
    let mut pad = 0usize;
    for _ in 0..8 {
        let len = make(pad).len();
        if len == target {
            break;
        }
        pad = (pad + target).saturating_sub(len);
    }
    make(pad)
}

/// A realistic row-event body: 20 INSERT rows of the 8-column bench table.
fn rows_body(seqno: i64, out: &mut Vec<u8>) -> u64 {
    const ROWS: i64 = 20;
    let columns = vec![
        col(0, "id", 8, 0, "bigint(20)"),
        col(1, "a", 3, 0, "int(11)"),
        col(2, "b", 15, 256, "varchar(64)"),
        col(3, "c", 18, 6, "datetime(6)"),
        col(4, "d", 246, 0x0c02, "decimal(12,2)"),
        col(5, "e", 5, 8, "double"),
        col(6, "f", 252, 2, "text"),
        col(7, "g", 1, 0, "tinyint(3) unsigned"),
    ];
    let rows = (0..ROWS)
        .map(|i| {
            let id = seqno * ROWS + i;
            RowImage {
                before: Vec::new(),
                after: vec![
                    Value::Int(id),
                    Value::Int(id % 1_000_000),
                    Value::Bytes(
                        format!("row-{id}-{:016x}", (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).into_bytes(),
                    ),
                    Value::DateTime(DateTime {
                        year: 2024,
                        month: 1 + (id % 12) as u8,
                        day: 1 + (id % 28) as u8,
                        hour: (id % 24) as u8,
                        minute: (id % 60) as u8,
                        second: (id % 60) as u8,
                        micros: (id % 1_000_000) as u32,
                    }),
                    Value::Decimal(format!("{}.{:02}", id / 100, id % 100)),
                    Value::Double(id as f64 * 1.25),
                    Value::Bytes(vec![b'f'; (id % 64) as usize]),
                    Value::UInt((id % 256) as u64),
                ],
            }
        })
        .collect();
    let body = EventBody {
        metadata: Vec::new(),
        changes: vec![Change::Rows(RowChanges {
            schema: "bench".into(),
            table: "bench".into(),
            action: RowAction::Insert,
            columns,
            before_columns: Vec::new(),
            after_columns: (0..8).collect(),
            flags: thl::event::RowFlags::default(),
            rows,
        })],
    };
    out.clear();
    encode_body(&body, out);
    ROWS as u64
}

/// Sum of the data file sizes of the log in `dir`.
fn log_bytes(dir: &Path) -> Res<u64> {
    Ok(Reader::open(dir)?.info()?.files.iter().map(|f| f.size).sum())
}

#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    body: usize,
    sync: SyncPolicy,
    commit_every: u64,
    events: u64,
    cap: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct RunOut {
    events: u64,
    bytes: u64,
    secs: f64,
}

/// One append run into a fresh log at `dir` (removed afterwards).
fn append_run(dir: &Path, case: &Case, body: &[u8]) -> Res<RunOut> {
    let _ = std::fs::remove_dir_all(dir);
    let mut cfg = StoreConfig::new(dir);
    cfg.sync = case.sync;
    let mut w = Writer::open(cfg)?;
    let mut h = header(0);
    let start = Instant::now();
    let mut n = 0u64;
    while n < case.events {
        h.seqno = Seqno(n as i64);
        h.seqno_end = Seqno(n as i64);
        w.append(&h, body)?;
        n += 1;
        if n % case.commit_every == 0 {
            w.commit()?;
            if case.cap.is_some_and(|c| start.elapsed() >= c) {
                break;
            }
        }
    }
    w.commit()?;
    w.sync()?;
    let secs = start.elapsed().as_secs_f64();
    drop(w);
    let bytes = log_bytes(dir)?;
    std::fs::remove_dir_all(dir)?;
    Ok(RunOut { events: n, bytes, secs })
}

/// Empties `dir` for a new log, refusing to touch anything but THL files.
fn prepare_keep_dir(dir: &Path) -> Res<()> {
    if dir.exists() {
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("thl.") || !e.file_type()?.is_file() {
                return Err(format!(
                    "{} holds {name:?}, which is not a THL file: refusing to clear it (set BENCH_THL_DIR)",
                    dir.display()
                )
                .into());
            }
        }
        for e in std::fs::read_dir(dir)? {
            std::fs::remove_file(e?.path())?;
        }
    }
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Writes the read log (row bodies, group commit): (events, rows, bytes, secs).
fn write_read_log(dir: &Path, target_bytes: u64, group_n: u64) -> Res<(u64, u64, u64, f64)> {
    prepare_keep_dir(dir)?;
    let mut w = Writer::open(StoreConfig::new(dir))?;
    let mut h = header(0);
    let mut body = Vec::new();
    let (mut n, mut rows, mut written) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    while written < target_bytes {
        rows += rows_body(n as i64, &mut body);
        h.seqno = Seqno(n as i64);
        h.seqno_end = Seqno(n as i64);
        w.append(&h, &body)?;
        written += body.len() as u64 + 80;
        n += 1;
        if n % group_n == 0 {
            w.commit()?;
        }
    }
    w.commit()?;
    w.sync()?;
    let secs = start.elapsed().as_secs_f64();
    drop(w);
    Ok((n, rows, log_bytes(dir)?, secs))
}

/// One sequential pass over the log: (records, bytes, rows decoded, secs).
fn read_pass(dir: &Path, decode: bool) -> Res<(u64, u64, u64, f64)> {
    let start = Instant::now();
    let r = Reader::open(dir)?;
    let Some(min) = r.min_seqno()? else {
        return Err("empty log".into());
    };
    let mut c = r.cursor(min)?;
    let (mut n, mut bytes, mut rows) = (0u64, 0u64, 0u64);
    while let Some(rec) = c.next()? {
        n += 1;
        bytes += rec.raw_bytes().len() as u64;
        if decode {
            let ev = rec.decode_event()?;
            for ch in &ev.body.changes {
                if let Change::Rows(rc) = ch {
                    rows += rc.rows.len() as u64;
                }
            }
        } else {
            rows += u64::from(rec.header().last_frag);
        }
    }
    Ok((n, bytes, rows, start.elapsed().as_secs_f64()))
}

fn same_fs(a: &Path, b: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| p.ancestors().find_map(|x| std::fs::metadata(x).ok()).map(|m| m.dev());
    Some(dev(a)? == dev(b)?)
}

fn main() -> Res<()> {
    let cfg = Cfg::from_env();
    let tmp = tempfile::Builder::new().prefix("thl-bench-").tempdir_in(&cfg.tmp)?;
    println!(
        "thl_store: {} rounds; temp dir {} ; {}",
        cfg.rounds,
        tmp.path().display(),
        if quick() { "QUICK" } else { "full" }
    );
    if let Some(parent) = cfg.keep_dir.parent() {
        if same_fs(tmp.path(), parent) == Some(false) {
            println!(
                "warning: {} and {} are on different filesystems",
                tmp.path().display(),
                cfg.keep_dir.display()
            );
        }
    }

    let mut cases = Vec::new();
    for body in [200usize, 4096] {
        let rec = body as u64 + 90; // framing + event header, roughly
        let group_events = cfg.group_mb * 1_000_000 / rec;
        cases.push(Case {
            name: "sync/event",
            body,
            sync: SyncPolicy::EveryCommit,
            commit_every: 1,
            events: cfg.sync_events,
            cap: Some(cfg.sync_cap),
        });
        cases.push(Case {
            name: "group",
            body,
            sync: SyncPolicy::EveryCommit,
            commit_every: cfg.group_n,
            events: group_events,
            cap: None,
        });
        cases.push(Case {
            name: "interval",
            body,
            sync: SyncPolicy::Interval(cfg.interval),
            commit_every: cfg.group_n,
            events: group_events,
            cap: None,
        });
    }
    let bodies: Vec<Vec<u8>> = cases.iter().map(|c| body_of_size(c.body)).collect();
    for (c, b) in cases.iter().zip(&bodies) {
        assert_eq!(b.len(), c.body, "body size for {}", c.name);
    }

    let mut dd = Vec::new();
    let mut results: Vec<Vec<RunOut>> = vec![Vec::new(); cases.len()];
    for round in 0..cfg.rounds {
        let d = dd_once(tmp.path(), cfg.dd_mb)?;
        dd.push(d);
        eprint!("round {}/{}: dd {d:.0} MB/s", round + 1, cfg.rounds);
        for (i, case) in cases.iter().enumerate() {
            let out = append_run(&tmp.path().join("log"), case, &bodies[i])?;
            eprint!(
                ", {}:{} {:.0} MB/s",
                case.name,
                case.body,
                mb_s(out.bytes, Duration::from_secs_f64(out.secs))
            );
            results[i].push(out);
        }
        eprintln!();
    }

    let dd_med = median(&dd);
    println!();
    println!(
        "(a) dd if=/dev/zero bs=1M count={} conv=fdatasync in {}: {} MB/s over {} runs",
        cfg.dd_mb,
        tmp.path().display(),
        fmt_med(&dd, 0),
        dd.len()
    );
    println!();
    println!(
        "(b) appends, {} rounds, median (min..max); every run ends with commit+sync inside the timing",
        cfg.rounds
    );
    let mut t = Table::new([
        "case",
        "body B",
        "commit every",
        "events/run",
        "events/s",
        "THL MB/s",
        "÷ dd",
    ]);
    let mut group4k = Vec::new();
    let mut interval4k = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let r = &results[i];
        let evs: Vec<f64> = r.iter().map(|o| o.events as f64 / o.secs).collect();
        let mbs: Vec<f64> = r.iter().map(|o| o.bytes as f64 / o.secs / 1e6).collect();
        let name = match case.sync {
            SyncPolicy::Interval(d) => format!("{} ({} ms)", case.name, d.as_millis()),
            _ => format!("{} (EveryCommit)", case.name),
        };
        let ratios: Vec<f64> = mbs.iter().zip(&dd).map(|(m, d)| m / d).collect();
        if case.body == 4096 && case.name == "group" {
            group4k = ratios.clone();
        }
        if case.body == 4096 && case.name == "interval" {
            interval4k = ratios.clone();
        }
        t.row([
            name,
            case.body.to_string(),
            case.commit_every.to_string(),
            format!("{:.0}", median(&r.iter().map(|o| o.events as f64).collect::<Vec<_>>())),
            fmt_med(&evs, 0),
            fmt_med(&mbs, 1),
            format!("{:.2}", median(&ratios)),
        ]);
    }
    t.print();
    println!(
        "group-commit 4KiB MB/s ÷ dd MB/s: {:.2} (median of per-round ratios; {:.2} ratio of medians) [aim >= 0.8]; interval 4KiB: {:.2}",
        median(&group4k),
        median(&results[4].iter().map(|o| o.bytes as f64 / o.secs / 1e6).collect::<Vec<_>>()) / dd_med,
        median(&interval4k)
    );

    println!();
    let (events, rows, bytes, secs) = write_read_log(&cfg.keep_dir, cfg.read_mb * 1_000_000, cfg.group_n)?;
    println!(
        "(c) read log: {events} events ({rows} rows, 20 rows x 8 columns per event), {:.1} MB, written with group commit/{} in {secs:.2} s ({:.0} MB/s)",
        bytes as f64 / 1e6,
        cfg.group_n,
        bytes as f64 / secs / 1e6
    );
    read_pass(&cfg.keep_dir, false)?; // warm the page cache and the maps
    let (mut raw, mut dec) = (Vec::new(), Vec::new());
    for _ in 0..cfg.read_runs {
        raw.push(read_pass(&cfg.keep_dir, false)?);
        dec.push(read_pass(&cfg.keep_dir, true)?);
    }
    println!("sequential reads from the page cache (the log was just written: warm), one thread, CRC32 verified, {} passes each, median (min..max):", cfg.read_runs);
    let mut t = Table::new(["pass", "GB/s", "k events/s", "M rows/s"]);
    for (name, v) in [("raw records (frame+CRC+header)", &raw), ("full body decode", &dec)] {
        let gb: Vec<f64> = v.iter().map(|x| x.1 as f64 / x.3 / 1e9).collect();
        let ev: Vec<f64> = v.iter().map(|x| x.0 as f64 / x.3 / 1e3).collect();
        let rows: Vec<f64> = v.iter().map(|x| x.2 as f64 / x.3 / 1e6).collect();
        t.row([
            name.to_string(),
            fmt_med(&gb, 2),
            fmt_med(&ev, 0),
            if name.starts_with("raw") {
                "-".into()
            } else {
                fmt_med(&rows, 2)
            },
        ]);
    }
    t.print();

    println!();
    println!(
        "(d) the read log is left in {}; inspect it with:",
        cfg.keep_dir.display()
    );
    println!(
        "    cargo run -q --release -p thl --bin thl -- -dir {} info",
        cfg.keep_dir.display()
    );
    println!(
        "    cargo run -q --release -p thl --bin thl -- -dir {} list -low 0 -high 2",
        cfg.keep_dir.display()
    );
    Ok(())
}

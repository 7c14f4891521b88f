//! Shared helpers of the benchmarks: timing, medians, environment knobs, the
//! `dd` disk baseline, plain-text tables, bounded child processes and THL /
//! replica-status helpers.
//!
//! Figures are decimal: 1 MB = 10^6 bytes, 1 GB = 10^9 bytes (as `dd`
//! prints them).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The replicator daemon's allocator (`replicator/src/main.rs`), so that
/// the pipelines the benchmarks run in their own process (`extract`,
/// `apply_race`) allocate as they do in the daemon.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `f` and returns its result with the wall time it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// The median of `xs` (the mean of the two middle values for an even
/// count); NaN for an empty slice.
pub fn median(xs: &[f64]) -> f64 {
    let mut v: Vec<f64> = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `min..max` of `xs`, for showing the spread beside a median.
pub fn spread(xs: &[f64]) -> (f64, f64) {
    let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The disk's rate of 4 KiB write + `fdatasync` pairs in `dir`, per
/// second, over about `span` (the figure every durable apply is bound by;
/// it swings several-fold by the minute on shared disks, so benchmarks
/// print it beside their ratios).
pub fn fsync_rate(dir: &Path, span: Duration) -> Result<f64, String> {
    use std::io::Write as _;
    let path = dir.join(".fsync-probe");
    let mut file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let block = [0u8; 4096];
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < span {
        file.write_all(&block).map_err(|e| e.to_string())?;
        file.sync_data().map_err(|e| e.to_string())?;
        n += 1;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    Ok(rate)
}

/// [`fsync_rate`] over 2 s, as printed beside a benchmark's figures (the
/// error's text when it cannot be measured).
pub fn fsync_rate_text(dir: &Path) -> String {
    fsync_rate(dir, Duration::from_secs(2)).map_or_else(|e| e, |r| format!("{r:.0}"))
}

/// An unsigned integer from the environment, or `default` when unset or
/// unparsable (a bad value is reported on stderr).
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => match v.trim().replace('_', "").parse() {
            Ok(n) => n,
            Err(_) => {
                eprintln!("warning: {name}={v:?} is not a number; using {default}");
                default
            }
        },
        Err(_) => default,
    }
}

/// True when `BENCH_QUICK` is set to something other than `0` or empty.
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Bytes per second as decimal MB/s.
pub fn mb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Parses the summary line `dd` prints on stderr, e.g.
/// `536870912 bytes (537 MB, 512 MiB) copied, 1.2 s, 447 MB/s`, into
/// (bytes, seconds). The rate is recomputed from these two rather than read
/// from the line, whose unit varies (kB/s, MB/s, GB/s).
pub fn parse_dd_summary(stderr: &str) -> Option<(u64, f64)> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains(" bytes") && l.contains("copied"))?;
    let bytes = line.split_whitespace().next()?.parse().ok()?;
    let after = line.split("copied,").nth(1)?;
    let secs = after.split_whitespace().next()?.replace(',', ".").parse().ok()?;
    Some((bytes, secs))
}

/// Runs `dd if=/dev/zero of=<dir>/dd-baseline.bin bs=1M count=<mb>
/// conv=fdatasync` once, deletes the file and returns the write rate in
/// MB/s (decimal).
pub fn dd_once(dir: &Path, mb: u64) -> Result<f64, String> {
    let file = dir.join("dd-baseline.bin");
    let out = Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", file.display()))
        .arg("bs=1M")
        .arg(format!("count={mb}"))
        .arg("conv=fdatasync")
        .env("LC_ALL", "C")
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.map_err(|e| format!("cannot run dd: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("dd failed ({}): {}", out.status, stderr.trim()));
    }
    let (bytes, secs) =
        parse_dd_summary(&stderr).ok_or_else(|| format!("cannot parse dd output: {}", stderr.trim()))?;
    if secs <= 0.0 {
        return Err(format!("dd reported {secs} s"));
    }
    Ok(bytes as f64 / secs / 1e6)
}

/// `runs` dd runs (see [`dd_once`]); returns every rate.
pub fn dd_baseline(dir: &Path, mb: u64, runs: usize) -> Result<Vec<f64>, String> {
    (0..runs).map(|_| dd_once(dir, mb)).collect()
}

/// A plain-text table with right-aligned columns (the first left-aligned).
#[derive(Debug, Clone, Default)]
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new<S: Into<String>>(head: impl IntoIterator<Item = S>) -> Table {
        Table {
            head: head.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (missing cells print empty).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The table as text, one line per row, with a rule under the headings.
    pub fn render(&self) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain([self.head.len()])
            .max()
            .unwrap_or(0);
        let mut width = vec![0usize; cols];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut s = String::new();
        let line = |s: &mut String, r: &[String]| {
            for (i, w) in width.iter().enumerate() {
                let c = r.get(i).map_or("", String::as_str);
                if i == 0 {
                    let _ = write!(s, "{c:<w$}");
                } else {
                    let _ = write!(s, "  {c:>w$}");
                }
            }
            s.push('\n');
        };
        line(&mut s, &self.head);
        let total = width.iter().sum::<usize>() + 2 * cols.saturating_sub(1);
        s.push_str(&"-".repeat(total));
        s.push('\n');
        for r in &self.rows {
            line(&mut s, r);
        }
        s
    }

    /// Prints [`Table::render`] to stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// `median (min..max)` with `prec` decimals.
pub fn fmt_med(xs: &[f64], prec: usize) -> String {
    let (lo, hi) = spread(xs);
    format!("{:.prec$} ({lo:.prec$}..{hi:.prec$})", median(xs))
}

/// Runs `cmd` (stdout and stderr captured, killed if still running after
/// `limit`) and returns its stdout; a failure names the program, the exit
/// status and the tail of stderr.
pub async fn run_command(cmd: &mut tokio::process::Command, limit: Duration) -> Result<String, String> {
    let what = format!("{:?}", cmd.as_std().get_program());
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let out = match tokio::time::timeout(limit, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(format!("cannot run {what}: {e}")),
        Err(_) => return Err(format!("{what} did not finish within {limit:?} (killed)")),
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("{what} failed ({}): {}", out.status, tail.join("\n")));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A column of a `SHOW SLAVE STATUS`-like row as text (empty when missing
/// or NULL).
pub fn status_field(row: &mysql_async::Row, name: &str) -> String {
    match row.get_opt::<Option<String>, _>(name) {
        Some(Ok(Some(s))) => s,
        _ => String::new(),
    }
}

/// A THL event id `file:offset[;session]` → (binlog file, offset).
pub fn parse_event_id(id: &str) -> Option<(String, u64)> {
    let pos = id.split(';').next()?;
    let (file, off) = pos.rsplit_once(':')?;
    Some((file.to_owned(), off.trim().parse().ok()?))
}

/// The event id of the last complete transaction in the THL at `dir`.
pub fn thl_last_event_id(dir: &Path) -> Option<String> {
    let r = thl::store::Reader::open(dir).ok()?;
    let max = r.max_seqno().ok()??;
    let mut c = r.cursor(max).ok()?;
    let mut last = None;
    while let Ok(Some(rec)) = c.next() {
        let h = rec.header();
        if h.seqno != max {
            break;
        }
        if h.last_frag {
            last = Some(h.event_id.clone());
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn dd_summary_parses() {
        let e = "512+0 records in\n512+0 records out\n536870912 bytes (537 MB, 512 MiB) copied, 1.25 s, 429 MB/s\n";
        assert_eq!(parse_dd_summary(e), Some((536_870_912, 1.25)));
        let g = "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 0.5 s, 2.1 GB/s";
        assert_eq!(parse_dd_summary(g), Some((1_073_741_824, 0.5)));
        assert_eq!(parse_dd_summary("nonsense"), None);
    }

    #[test]
    fn event_ids_parse() {
        assert_eq!(
            parse_event_id("mysql-bin.000018:0000000000070227;140"),
            Some(("mysql-bin.000018".into(), 70227))
        );
        assert_eq!(
            parse_event_id("mysql-bin.000001:4"),
            Some(("mysql-bin.000001".into(), 4))
        );
        assert_eq!(parse_event_id("nonsense"), None);
    }

    #[test]
    fn table_aligns() {
        let mut t = Table::new(["name", "v"]);
        t.row(["a", "10"]);
        t.row(["bbb", "2"]);
        assert_eq!(t.render(), "name   v\n--------\na     10\nbbb    2\n");
    }
}

/// Seconds until the THL held the last transaction, and until the master
/// pipeline returned after being told to stop.
#[derive(Debug, Clone, Copy)]
pub struct Extraction {
    pub secs: f64,
    pub returned_secs: f64,
}

/// Runs the master pipeline with `settings` until its THL holds the
/// transaction that ends at `end_file:end_pos` (or later), then stops it.
/// Bounded by `wait` (and 30 s for the stop). Progress is watched as
/// `trepctl status` sees it (the last transaction made durable in the THL,
/// polled every 5 ms, as cheap as the IO thread's `SHOW SLAVE STATUS`);
/// the THL itself is checked once at the end.
pub async fn extract_until(
    settings: replicator::pipeline::MasterSettings,
    end_file: &str,
    end_pos: u64,
    wait: Duration,
) -> Result<Extraction, String> {
    let thl_dir = settings.thl.dir.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let t0 = Instant::now();
    let progress = replicator::pipeline::progress::Progress::new();
    let mut handle = tokio::spawn(replicator::pipeline::run_master(settings, stop_rx, progress.clone()));
    let reached = |id: &str| parse_event_id(id).is_some_and(|(file, off)| (file.as_str(), off) >= (end_file, end_pos));
    let secs = loop {
        let stored = progress.snapshot().stored_event_id;
        if reached(&stored) {
            break t0.elapsed().as_secs_f64();
        }
        if handle.is_finished() {
            let r = (&mut handle).await.map_err(|e| e.to_string())?;
            return Err(format!(
                "run_master ended before the last transaction (last event id stored {stored:?}): {r:?}"
            ));
        }
        if t0.elapsed() > wait {
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
            return Err(format!(
                "THL did not reach {end_file}:{end_pos} within {wait:?} (last event id stored {stored:?})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let _ = stop_tx.send(true);
    match tokio::time::timeout(Duration::from_secs(30), &mut handle).await {
        Ok(r) => r.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?,
        Err(_) => {
            handle.abort();
            return Err("run_master did not return within 30 s of stop".into());
        }
    }
    let returned_secs = t0.elapsed().as_secs_f64();
    match thl_last_event_id(&thl_dir) {
        Some(id) if reached(&id) => Ok(Extraction { secs, returned_secs }),
        last => Err(format!(
            "the pipeline reported {end_file}:{end_pos} stored, but the THL at {} ends at {last:?}",
            thl_dir.display()
        )),
    }
}

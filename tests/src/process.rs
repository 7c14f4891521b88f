//! Replicator processes for integration tests: a deployment directory with
//! a `tungsten.ini` and a hosts file, and `replicator` processes started
//! from it that a test can SIGKILL or stop.
//!
//! Invariants: every process is spawned with a death signal (it dies with
//! the test process) and is killed when its handle drops; every wait is
//! bounded; each host gets its own install directory, so its THL and
//! catalog live in `<root>/<host>/thl/<service>` and `.../catalog/<service>`.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thl::store::Reader;

use crate::sandbox::spawn_with_death_signal;

/// The path of a workspace binary (`replicator`, `thl`, `trepctl`): beside
/// the running executable (a binary such as the demo) or one level up (a
/// test executable in `deps/`).
pub fn workspace_bin(name: &str) -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dirs = exe.ancestors().skip(1).take(2);
    let mut tried = Vec::new();
    for dir in dirs {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path.display().to_string());
    }
    Err(io::Error::other(format!(
        "{name} not found (looked at {}): build it first (cargo build --workspace --bins)",
        tried.join(", ")
    )))
}

/// A deployment on one machine: the ini, the hosts file and one install
/// directory per host, all under `root`.
#[derive(Debug)]
pub struct Deployment {
    root: PathBuf,
    ini: PathBuf,
    hosts_file: PathBuf,
}

impl Deployment {
    /// Writes `ini` and a hosts file mapping each `(name, address)`.
    pub fn create(root: &Path, ini: &str, hosts: &[(String, String)]) -> io::Result<Deployment> {
        fs::create_dir_all(root)?;
        let ini_path = root.join("tungsten.ini");
        fs::write(&ini_path, ini)?;
        let mut text = String::from("# written by the test harness\n");
        for (name, addr) in hosts {
            let _ = writeln!(text, "{addr} {name}");
        }
        let hosts_file = root.join("hosts");
        fs::write(&hosts_file, text)?;
        Ok(Deployment {
            root: root.to_path_buf(),
            ini: ini_path,
            hosts_file,
        })
    }

    pub fn ini(&self) -> &Path {
        &self.ini
    }

    pub fn hosts_file(&self) -> &Path {
        &self.hosts_file
    }

    /// The install directory of `host`.
    pub fn install_dir(&self, host: &str) -> PathBuf {
        self.root.join(host)
    }

    /// The THL directory of `service` on `host`.
    pub fn thl_dir(&self, host: &str, service: &str) -> PathBuf {
        self.install_dir(host).join("thl").join(service)
    }

    /// Runs a workspace tool (`trepctl`, `tprovision`) with the
    /// deployment's ini and hosts file, for `host` when given: whether it
    /// succeeded, and its stdout followed by its stderr.
    pub fn run_tool(&self, tool: &str, host: Option<&str>, args: &[&str]) -> io::Result<(bool, String)> {
        let mut cmd = Command::new(workspace_bin(tool)?);
        cmd.arg("--config")
            .arg(&self.ini)
            .arg("--hosts-file")
            .arg(&self.hosts_file);
        if let Some(host) = host {
            cmd.arg("--host").arg(host);
        }
        let out = cmd.args(args).output()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Starts `replicator` for `host` with extra arguments.
    pub fn start(&self, host: &str, extra: &[&str]) -> io::Result<ReplicatorProcess> {
        self.start_with_env(host, extra, &[])
    }

    /// Starts `replicator` for `host` with extra arguments and environment.
    pub fn start_with_env(&self, host: &str, extra: &[&str], env: &[(&str, &str)]) -> io::Result<ReplicatorProcess> {
        let install = self.install_dir(host);
        fs::create_dir_all(&install)?;
        let log_path = install.join("replicator.log");
        let log = fs::OpenOptions::new().create(true).append(true).open(&log_path)?;
        let mut cmd = Command::new(workspace_bin("replicator")?);
        cmd.arg("--config")
            .arg(&self.ini)
            .arg("--hosts-file")
            .arg(&self.hosts_file)
            .arg("--host")
            .arg(host)
            .arg("--install-directory")
            .arg(&install)
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = spawn_with_death_signal(cmd)?;
        Ok(ReplicatorProcess {
            child: Some(child),
            host: host.to_owned(),
            log_path,
        })
    }
}

/// A running `replicator`.
#[derive(Debug)]
pub struct ReplicatorProcess {
    child: Option<Child>,
    host: String,
    log_path: PathBuf,
}

impl ReplicatorProcess {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait up to `timeout` (then SIGKILL). Returns the exit
    /// status code when it exited by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The exit code if the process has exited.
    pub fn exited(&mut self) -> Option<Option<i32>> {
        let child = self.child.as_mut()?;
        child.try_wait().ok().flatten().map(|s| s.code())
    }

    /// The peak resident memory (VmHWM) of the process, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let pid = self.pid()?;
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// The log's length in bytes (its text from here on is
    /// [`log_since`](Self::log_since) this offset).
    pub fn log_len(&self) -> u64 {
        fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }

    /// The log from byte `offset` on (the log is shared by the host's
    /// successive processes).
    pub fn log_since(&self, offset: u64) -> String {
        let text = fs::read(&self.log_path).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }

    /// The last `n` lines of the process's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for ReplicatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The lowest seqno the THL in `dir` holds (read from another process).
pub fn thl_min_seqno(dir: &Path) -> Option<i64> {
    Reader::open(dir).ok()?.min_seqno().ok().flatten().map(i64::from)
}

/// The highest seqno the THL in `dir` holds (read from another process).
pub fn thl_max_seqno(dir: &Path) -> Option<i64> {
    Reader::open(dir).ok()?.max_seqno().ok().flatten().map(i64::from)
}

/// Waits until the THL in `dir` holds `seqno` (readable from another
/// process), or `timeout` passes. Returns the max seqno seen.
pub fn wait_for_thl_seqno(dir: &Path, seqno: i64, timeout: Duration) -> Option<i64> {
    let deadline = Instant::now() + timeout;
    let mut max = None;
    while Instant::now() < deadline {
        max = thl_max_seqno(dir).or(max);
        if max.is_some_and(|m| m >= seqno) {
            return max;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    max
}

/// Reads every complete event of the THL in `dir`.
pub fn read_thl(dir: &Path) -> Result<Vec<thl::event::ReplEvent>, thl::store::StoreError> {
    let reader = Reader::open(dir)?;
    let Some(min) = reader.min_seqno()? else {
        return Ok(Vec::new());
    };
    let mut cursor = reader.cursor(min)?;
    let mut out = Vec::new();
    while let Some(record) = cursor.next()? {
        out.push(record.decode_event()?);
    }
    Ok(out)
}

/// The seq_no of the last GTID `db` wrote to its binlog (`@@gtid_binlog_pos`,
/// one domain): how many transactions it committed.
pub async fn source_gtid_seq(db: &crate::sandbox::Instance) -> i64 {
    let pos = db
        .query_value("SELECT @@gtid_binlog_pos")
        .await
        .unwrap_or_else(|e| panic!("{}: @@gtid_binlog_pos: {e}", db.name()))
        .unwrap_or_default();
    pos.rsplit('-').next().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Waits, at most `wait`, until the THL in `dir` holds the transaction of
/// `db`'s last GTID, then returns every event of it; panics with the
/// replicator's log tail when `process` exits or the wait runs out.
pub async fn drained_thl(
    db: &crate::sandbox::Instance,
    dir: &Path,
    process: &mut ReplicatorProcess,
    wait: Duration,
) -> Vec<thl::event::ReplEvent> {
    let want = source_gtid_seq(db).await;
    let deadline = Instant::now() + wait;
    loop {
        let (events, read_error) = match read_thl(dir) {
            Ok(events) => (events, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let last = events
            .iter()
            .rev()
            .filter(|e| e.header.last_frag)
            .find_map(|e| e.body.metadata_value(thl::event::meta::GTID))
            .and_then(|g| g.rsplit('-').next().and_then(|s| s.parse::<i64>().ok()));
        // At least: a session that ends after `want` was read may log more
        // (MIXED logs the DROP of its temporary tables when it disconnects).
        if last.is_some_and(|last| last >= want) {
            return events;
        }
        if let Some(code) = process.exited() {
            panic!("replicator exited ({code:?}):\n{}", process.log_tail(30));
        }
        assert!(
            Instant::now() < deadline,
            "THL did not reach GTID seq {want} (it holds {} events up to GTID seq {last:?}{}):\n{}",
            events.len(),
            read_error.map(|e| format!(", reading it: {e}")).unwrap_or_default(),
            process.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

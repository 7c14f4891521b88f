//! The provisioning node's local steps: unpack or load the copy, prepare
//! it, swap data directories, stop and start the local MariaDB with its
//! boot script, and take over the copied position.
//!
//! Invariants:
//! * a physical copy is unpacked and prepared in `<datadir>.provision`
//!   beside the data directory (same file system, so the swap is two
//!   renames); the data directory is replaced only by a prepared copy, and
//!   the previous one is kept as `<datadir>.before-provision` until the
//!   next provision;
//! * a logical copy is loaded with `sql_log_bin=0`: the node's own binlog
//!   holds only transactions that reached it through replication, so a
//!   promotion never extracts the copy as new transactions;
//! * the copied `tungsten_<source service>` schema is copied to
//!   `tungsten_<this service>` (not binlogged either): its
//!   `trep_commit_seqno` is the position consistent with the copied data.
//!   The source's schema stays: its heartbeat table is replicated data
//!   that later heartbeats of the master update. A copy of a primary gets
//!   the position its binlog position maps to (`position.rs`) in task 0's
//!   row of a new catalog.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use control::responses::PositionAtResponse;
use mysql_async::prelude::Queryable;
use tokio::io::AsyncWriteExt as _;

use crate::config::ServicePlan;
use crate::service::db::{self, quote_ident, tracking_schema};

/// How long the boot script may take for `stop` or `start`.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// How long MariaDB may take to accept connections after `start`.
const START_TIMEOUT: Duration = Duration::from_secs(180);

async fn connect(plan: &ServicePlan) -> Result<mysql_async::Conn, String> {
    mysql_async::Conn::new(db::opts(plan)).await.map_err(|e| {
        format!(
            "cannot connect to the local database at {}:{}: {e}",
            plan.db.address, plan.db.port
        )
    })
}

/// The local data directory: `datasource-mysql-data-directory`, else the
/// server's `@@datadir`.
pub async fn data_directory(plan: &ServicePlan) -> Result<PathBuf, String> {
    if let Some(d) = &plan.local.data_directory {
        return Ok(d.clone());
    }
    let mut conn = connect(plan).await?;
    let dir: Option<String> = conn
        .query_first("SELECT @@datadir")
        .await
        .map_err(|e| format!("SELECT @@datadir: {e}"))?;
    let _ = conn.disconnect().await;
    dir.map(PathBuf::from)
        .ok_or_else(|| "the local database has no @@datadir: set datasource-mysql-data-directory in the ini".into())
}

fn sibling(datadir: &Path, suffix: &str) -> PathBuf {
    let name = datadir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    datadir.with_file_name(format!("{name}{suffix}"))
}

/// Where a physical copy is unpacked and prepared.
pub fn staging_dir(datadir: &Path) -> PathBuf {
    sibling(datadir, ".provision")
}

/// Where the replaced data directory is kept.
pub fn previous_dir(datadir: &Path) -> PathBuf {
    sibling(datadir, ".before-provision")
}

/// A local tool reading the copy on its stdin.
#[derive(Debug)]
pub struct Sink {
    what: &'static str,
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stderr: tokio::task::JoinHandle<String>,
}

impl Sink {
    fn spawn(what: &'static str, mut cmd: tokio::process::Command) -> Result<Sink, String> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            format!("cannot run {what}: {e} (install Debian's mariadb-backup and mariadb-client packages)")
        })?;
        let stdin = child.stdin.take();
        let stderr = super::stderr_tail(child.stderr.take());
        Ok(Sink {
            what,
            child,
            stdin,
            stderr,
        })
    }

    /// Feeds bytes of the copy.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let what = self.what;
        match self.stdin.as_mut() {
            Some(s) => s
                .write_all(bytes)
                .await
                .map_err(|e| format!("{what} stopped reading the copy ({e}); see its error when it exits")),
            None => Err(format!("{what} has no input")),
        }
    }

    /// Ends the input and waits for the tool: `Err` with its stderr unless
    /// it exited 0.
    pub async fn finish(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let status = self.child.wait().await.map_err(|e| format!("{}: {e}", self.what))?;
        let stderr = self.stderr.await.unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} failed ({status}): {stderr}", self.what))
        }
    }
}

/// `mbstream -x -C staging`, after emptying `staging`.
pub fn unpack_into(staging: &Path) -> Result<Sink, String> {
    if staging.exists() {
        std::fs::remove_dir_all(staging).map_err(|e| format!("cannot remove {}: {e}", staging.display()))?;
    }
    std::fs::create_dir_all(staging).map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
    let mut cmd = tokio::process::Command::new("mbstream");
    cmd.arg("-x").arg("-C").arg(staging);
    Sink::spawn("mbstream", cmd)
}

/// The `mariadb` client reading a dump into the local database, without
/// binlogging it (the module's invariants).
pub async fn load_into_database(option_file: &Path) -> Result<Sink, String> {
    let mut cmd = tokio::process::Command::new("mariadb");
    cmd.arg(format!("--defaults-file={}", option_file.display()))
        .arg("--batch");
    let mut sink = Sink::spawn("mariadb (loading the dump)", cmd)?;
    sink.write(b"SET SESSION sql_log_bin=0;\n").await?;
    Ok(sink)
}

/// `mariadb-backup --prepare` of an unpacked copy.
pub async fn prepare(staging: &Path) -> Result<(), String> {
    let out = tokio::process::Command::new("mariadb-backup")
        .arg("--prepare")
        .arg(format!("--target-dir={}", staging.display()))
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run mariadb-backup --prepare: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: String = err
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(format!("mariadb-backup --prepare failed ({}): {tail}", out.status))
    }
}

/// Runs the boot script with `stop` or `start`. Waits for the script to
/// exit, not for its output to close: a script that starts a daemon may
/// leave it holding stderr.
pub async fn boot(plan: &ServicePlan, action: &str) -> Result<(), String> {
    let script = &plan.local.boot_script;
    let mut child = tokio::process::Command::new(script)
        .arg(action)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} {action}: {e} (set datasource-boot-script to what stops and starts this host's MariaDB)",
                script.display()
            )
        })?;
    let stderr = super::stderr_tail(child.stderr.take());
    let status = tokio::time::timeout(BOOT_TIMEOUT, child.wait())
        .await
        .map_err(|_| {
            format!(
                "{} {action} did not finish within {} s",
                script.display(),
                BOOT_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{} {action}: {e}", script.display()))?;
    if status.success() {
        return Ok(());
    }
    let said = tokio::time::timeout(Duration::from_secs(2), stderr)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    Err(format!("{} {action} failed ({status}): {said}", script.display()))
}

/// Moves the data directory aside and the prepared copy in its place; on a
/// failure, puts the previous data directory back.
pub fn swap(datadir: &Path, staging: &Path) -> Result<(), String> {
    let previous = previous_dir(datadir);
    if previous.exists() {
        std::fs::remove_dir_all(&previous).map_err(|e| format!("cannot remove {}: {e}", previous.display()))?;
    }
    if datadir.exists() {
        std::fs::rename(datadir, &previous)
            .map_err(|e| format!("cannot move {} to {}: {e}", datadir.display(), previous.display()))?;
    }
    std::fs::rename(staging, datadir).map_err(|e| {
        let back = std::fs::rename(&previous, datadir).map_or_else(
            |b| {
                format!(
                    "; putting the previous one back failed too ({b}): it is {}",
                    previous.display()
                )
            },
            |()| String::new(),
        );
        format!("cannot move {} to {}: {e}{back}", staging.display(), datadir.display())
    })
}

/// `Err` when the copy cannot be swapped in by renames: the data directory
/// must not be a mount point (its parent holds the copy beside it).
pub fn check_swappable(datadir: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let parent = datadir.parent().unwrap_or(Path::new("/"));
    let dev = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    if dev(datadir)? != dev(parent)? {
        return Err(format!(
            "{} is a mount point: a physical copy is unpacked beside it and renamed into place, which cannot cross \
             file systems; set datasource-mysql-data-directory to a directory below the mount, or use -m mysqldump",
            datadir.display()
        ));
    }
    Ok(())
}

/// Waits (bounded) until the local database accepts connections.
pub async fn wait_for_database(plan: &ServicePlan) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match connect(plan).await {
            Ok(c) => {
                let _ = c.disconnect().await;
                return Ok(());
            }
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "the local database did not come back within {} s: {e}",
                    START_TIMEOUT.as_secs()
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Drops the local user schemas that the copy does not hold (a logical
/// copy replaces only the schemas it names).
pub async fn drop_schemas_not_in(plan: &ServicePlan, keep: &[String]) -> Result<Vec<String>, String> {
    let mut conn = connect(plan).await?;
    let q = |e: mysql_async::Error| format!("dropping the schemas the copy replaces: {e}");
    conn.query_drop("SET SESSION sql_log_bin=0").await.map_err(q)?;
    let schemas: Vec<String> = conn
        .query("SELECT schema_name FROM information_schema.schemata")
        .await
        .map_err(q)?;
    let mut dropped = Vec::new();
    for s in schemas {
        let system = super::backup::SYSTEM_SCHEMAS.contains(&s.to_ascii_lowercase().as_str());
        if !system && !keep.contains(&s) {
            conn.query_drop(format!("DROP DATABASE {}", quote_ident(&s)))
                .await
                .map_err(q)?;
            dropped.push(s);
        }
    }
    let _ = conn.disconnect().await;
    Ok(dropped)
}

/// Copies the copied `tungsten_<from>` to this service's `tungsten_<to>`
/// (when they differ) and returns the position it holds (`seqno N, epoch
/// E`).
pub async fn take_position(plan: &ServicePlan, from: &str, to: &str) -> Result<String, String> {
    let (src, dst) = (tracking_schema(from), tracking_schema(to));
    let mut conn = connect(plan).await?;
    let q = |e: mysql_async::Error| format!("taking over the copied position ({src} -> {dst}): {e}");
    conn.query_drop("SET SESSION sql_log_bin=0").await.map_err(q)?;
    if src != dst {
        let tables: Vec<String> = conn
            .exec(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (src.clone(),),
            )
            .await
            .map_err(q)?;
        if tables.is_empty() {
            return Err(format!(
                "the copy has no {src} schema: the source has not applied anything as service {from}"
            ));
        }
        conn.query_drop(format!("DROP DATABASE IF EXISTS {}", quote_ident(&dst)))
            .await
            .map_err(q)?;
        conn.query_drop(format!("CREATE DATABASE {}", quote_ident(&dst)))
            .await
            .map_err(q)?;
        for t in &tables {
            let (s, d) = (
                format!("{}.{}", quote_ident(&src), quote_ident(t)),
                format!("{}.{}", quote_ident(&dst), quote_ident(t)),
            );
            conn.query_drop(format!("CREATE TABLE {d} LIKE {s}")).await.map_err(q)?;
            conn.query_drop(format!("INSERT INTO {d} SELECT * FROM {s}"))
                .await
                .map_err(q)?;
        }
    }
    let row: Option<(Option<i64>, Option<i64>, i64)> = conn
        .query_first(format!(
            "SELECT MIN(seqno), MIN(epoch_number), COUNT(*) FROM {}.`trep_commit_seqno`",
            quote_ident(&dst)
        ))
        .await
        .map_err(q)?;
    let _ = conn.disconnect().await;
    match row {
        Some((Some(seqno), epoch, channels)) => Ok(format!(
            "seqno {seqno}, epoch {} ({channels} channel row(s))",
            epoch.map_or("-".into(), |e| e.to_string())
        )),
        _ => Err(format!(
            "the copy's {dst}.trep_commit_seqno holds no position: the source has applied nothing yet; \
             choose a source that has"
        )),
    }
}

/// The binlog position a `mariadb-backup` copy is consistent with
/// (`xtrabackup_binlog_info`: file, position, GTID), as `FILE:POS`.
pub fn binlog_position_of_copy(staging: &Path) -> Result<String, String> {
    let path = staging.join("xtrabackup_binlog_info");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e}: the copy names no binlog position (is the source's binlog on?)",
            path.display()
        )
    })?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next().and_then(|p| p.parse::<u64>().ok())) {
        (Some(file), Some(pos)) => Ok(format!("{file}:{pos}")),
        _ => Err(format!(
            "{}: expected `FILE POSITION [GTID]`, found {text:?}",
            path.display()
        )),
    }
}

/// Writes `point` as the service's applied position (`db::write_applied_position`);
/// returns it as `seqno N, epoch E`.
pub async fn write_position(plan: &ServicePlan, point: &PositionAtResponse) -> Result<String, String> {
    crate::service::db::write_applied_position(
        plan,
        &crate::service::db::AppliedPoint {
            seqno: point.seqno,
            epoch: point.epoch,
            source_id: point.source_id.clone(),
            event_id: point.event_id.clone(),
        },
    )
    .await?;
    Ok(format!(
        "seqno {}, epoch {} (the primary's binlog position {})",
        point.seqno, point.epoch, point.event_id
    ))
}

//! A checkpoint: make sure every replica applied everything the primary
//! committed so far, then compare every table.
//!
//! Steps: (1) every replicator's state is read first, and a replicator in
//! `OFFLINE:ERROR` ends the checkpoint at once as a *stop* (natively: a
//! replica whose SQL or IO thread stopped on an error, see
//! [`super::native`]); (2) a marker
//! row (`tungsten_conformance.marker`, a fresh token) is written on the
//! primary through the binlog (with `autocommit=1`: a test may have set the
//! global default to 0; and with `binlog_format=ROW` in its session, so
//! that the runner's own marker reaches the replicas the same way whatever
//! format the run (`--binlog-format mixed`) or the test set); (3) the runner waits, bounded by the
//! topology's wait, until every replica holds that token and (replicators)
//! reports an applied seqno, the low watermark of its channels, at the
//! master THL's last seqno once the token was there, reading the
//! replicators' (or native replicas') state every second (a stop ends the
//! wait); a replica still running one of its applier's statements, and not
//! waiting for a lock, when the wait runs out gets more time, up to
//! [`BUSY_WAIT_FACTOR`] times the wait, since one row event on a keyless
//! table can take many minutes, natively too (the checkpoint touches the
//! topology's [busy file](Topology::busy_file) meanwhile, and the runner
//! extends the test's `--timeout` while that file is fresh); (4) every
//! table is compared ([`super::compare`]).
//!
//! Each checkpoint appends one JSON line to the topology's results file.
//! Run by mysqltest through `--exec`, it exits non-zero on a stop or a
//! timeout so that the test fails immediately; a marker the primary refuses
//! (e.g. the test holds a global read lock) skips the comparison and is
//! recorded as such.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use super::compare::compare_all;
use super::native;
use super::topology::{Host, Replication, Replicators, Topology};

/// The schema and table of the marker (skipped by the comparison, like
/// every `tungsten_*` schema).
pub const MARKER_TABLE: &str = "tungsten_conformance.marker";
/// Creates the marker table (run on every host with `sql_log_bin=0`).
pub const MARKER_DDL: &str = "CREATE DATABASE IF NOT EXISTS tungsten_conformance; \
     CREATE TABLE IF NOT EXISTS tungsten_conformance.marker (id INT PRIMARY KEY, token VARCHAR(64) NOT NULL) ENGINE=InnoDB";

/// What a checkpoint found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every replica applied the marker; the tables were compared.
    Compared,
    /// A replicator is in OFFLINE:ERROR.
    Stop,
    /// A replica did not apply the marker in time.
    Timeout,
    /// The marker could not be written; nothing compared.
    Skipped,
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Compared => "compared",
            Kind::Stop => "stop",
            Kind::Timeout => "timeout",
            Kind::Skipped => "skipped",
        }
    }

    /// Parses `Kind::as_str`.
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "compared" => Kind::Compared,
            "stop" => Kind::Stop,
            "timeout" => Kind::Timeout,
            "skipped" => Kind::Skipped,
            _ => return None,
        })
    }

    /// Whether the test must end now.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Kind::Stop | Kind::Timeout)
    }
}

/// One checkpoint's record (one JSON line in the results file).
#[derive(Debug, Clone)]
pub struct Record {
    pub label: String,
    pub kind: Kind,
    pub tables: Vec<String>,
    /// `(table, hosts, detail)`.
    pub differences: Vec<(String, Vec<String>, String)>,
    /// The stop/timeout/skip explanation (host, pending error, seqno).
    pub error: String,
    pub skipped_tables: Vec<String>,
}

impl Record {
    fn new(label: &str, kind: Kind, error: String) -> Record {
        Record {
            label: label.into(),
            kind,
            tables: Vec::new(),
            differences: Vec::new(),
            error,
            skipped_tables: Vec::new(),
        }
    }

    /// As a JSON line.
    pub fn to_json(&self) -> Value {
        json!({
            "label": self.label,
            "kind": self.kind.as_str(),
            "tables": self.tables,
            "differences": self.differences.iter().map(|(t, h, d)| json!({"table": t, "hosts": h, "detail": d})).collect::<Vec<_>>(),
            "error": self.error,
            "skipped_tables": self.skipped_tables,
        })
    }

    /// From a JSON line written by [`Record::to_json`].
    pub fn from_json(v: &Value) -> Option<Record> {
        let strings = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let differences = v["differences"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        let hosts = d["hosts"]
                            .as_array()
                            .map(|h| h.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                            .unwrap_or_default();
                        (
                            d["table"].as_str().unwrap_or("").to_owned(),
                            hosts,
                            d["detail"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Record {
            label: v["label"].as_str()?.to_owned(),
            kind: Kind::parse(v["kind"].as_str()?)?,
            tables: strings("tables"),
            differences,
            error: v["error"].as_str().unwrap_or("").to_owned(),
            skipped_tables: strings("skipped_tables"),
        })
    }
}

/// The first replicator in OFFLINE:ERROR or native replica stopped, as a
/// sentence naming the host, its error and position.
pub async fn stopped(topo: &Topology) -> Option<String> {
    match &topo.replication {
        Replication::Tungsten(r) => stopped_replicator(topo, r),
        Replication::Native => native::stopped(topo).await,
    }
}

/// The first replicator in OFFLINE:ERROR, as a sentence naming the host,
/// its pending error and seqno.
pub fn stopped_replicator(topo: &Topology, replicators: &Replicators) -> Option<String> {
    for h in &topo.hosts {
        match replicators.replicator_state(h) {
            Ok(s) if s.is_error() => {
                return Some(format!(
                    "{} ({}) is {}: pending error at seqno {}: {}",
                    h.name, h.service, s.state, s.pending_seqno, s.pending_error
                ))
            }
            Ok(_) => {}
            // An unreachable REST API is a dead replicator: a stop too.
            Err(e) => return Some(format!("{}: replicator unreachable: {e}", h.name)),
        }
    }
    None
}

fn token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

async fn write_marker(topo: &Topology, token: &str) -> Result<(), String> {
    let mut c = Topology::connect(topo.primary()).await?;
    let sql = format!(
        "SET SESSION autocommit=1, lock_wait_timeout=5, innodb_lock_wait_timeout=5, sql_log_bin=1, \
         binlog_format=ROW; \
         REPLACE INTO {MARKER_TABLE} VALUES (1, '{token}')"
    );
    let r = c
        .query_drop(sql)
        .await
        .map_err(|e| format!("marker on the primary: {e}"));
    let _ = c.disconnect().await;
    r
}

async fn replica_token(topo: &Topology, i: usize) -> Option<String> {
    let host = &topo.replicas()[i];
    let mut c = Topology::connect(host).await.ok()?;
    let v: Option<String> = c
        .query_first(format!("SELECT token FROM {MARKER_TABLE} WHERE id = 1"))
        .await
        .ok()
        .flatten();
    let _ = c.disconnect().await;
    v
}

/// How much longer than `--wait` a checkpoint waits for a replica that is
/// busy running one long statement (the server's row applier scans a
/// keyless table once per row: main.ctype_big5's 24k-row UPDATE takes
/// four minutes on MariaDB's own replica here, and a relay's slave starts
/// on it only when the relay is done).
pub const BUSY_WAIT_FACTOR: u32 = 30;

/// Whether the replica's server is running a statement for its applier
/// (a replicator's session, or the native SQL thread) rather than idling,
/// and no transaction there waits for a lock (a lock wait is not progress).
async fn busy_applying(h: &Host) -> bool {
    let Ok(mut c) = Topology::connect(h).await else {
        return false;
    };
    let n: Option<(u64, u64)> = c
        .query_first(
            "SELECT (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND \
               STATE NOT LIKE '%lock%' AND \
               ((COMMAND = 'Query' AND INFO IS NOT NULL) OR \
                (COMMAND = 'Slave_SQL' AND STATE NOT LIKE '%read all relay log%' AND STATE NOT LIKE 'Waiting%'))), \
             (SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT')",
        )
        .await
        .ok()
        .flatten();
    let _ = c.disconnect().await;
    n.is_some_and(|(running, lock_waits)| running > 0 && lock_waits == 0)
}

/// The state of a replica that did not apply the marker in time.
async fn late_state(topo: &Topology, h: &Host) -> String {
    match &topo.replication {
        Replication::Tungsten(r) => r
            .replicator_state(h)
            .map(|s| format!("{} applied {}", s.state, s.applied_seqno))
            .unwrap_or_else(|e| e),
        Replication::Native => match native::status(h).await {
            Ok(Some(s)) => s.summary(),
            Ok(None) => "not a replica".into(),
            Err(e) => e,
        },
    }
}

/// Whether replica `i`, which holds the marker, applied everything before
/// it too. Parallel apply commits out of order across channels: the
/// marker may be in before an earlier transaction of another channel. The
/// replicator's applied seqno is the low watermark; it must reach the
/// master THL's last seqno as read once a replica holds the marker (so the
/// marker is in it), `*through`. A native replica commits in order.
fn applied_through(topo: &Topology, i: usize, through: &mut Option<i64>) -> bool {
    let Replication::Tungsten(r) = &topo.replication else {
        return true;
    };
    if through.is_none() {
        *through = r.master_max_seqno();
    }
    let Some(target) = *through else {
        return true;
    };
    r.replicator_state(&topo.replicas()[i])
        .ok()
        .and_then(|s| s.applied_seqno.parse::<i64>().ok())
        .is_some_and(|applied| applied >= target)
}

/// Runs one checkpoint (see the module doc).
pub async fn run(topo: &Topology, label: &str) -> Record {
    if let Some(stop) = stopped(topo).await {
        return Record::new(label, Kind::Stop, stop);
    }
    let token = token();
    if let Err(e) = write_marker(topo, &token).await {
        return Record::new(label, Kind::Skipped, e);
    }
    let started = Instant::now();
    let mut deadline = started + topo.wait;
    let mut pending: Vec<usize> = (0..topo.replicas().len()).collect();
    let mut last_state_check = Instant::now();
    let mut through = None;
    while !pending.is_empty() {
        let mut still = Vec::new();
        for i in pending {
            if replica_token(topo, i).await.as_deref() != Some(token.as_str())
                || !applied_through(topo, i, &mut through)
            {
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if last_state_check.elapsed() >= Duration::from_secs(1) {
            last_state_check = Instant::now();
            if let Some(stop) = stopped(topo).await {
                return Record::new(label, Kind::Stop, stop);
            }
        }
        if Instant::now() >= deadline && started.elapsed() < topo.wait * BUSY_WAIT_FACTOR {
            let mut busy = false;
            for &i in &pending {
                busy |= busy_applying(&topo.replicas()[i]).await;
            }
            if busy {
                deadline = Instant::now() + Duration::from_secs(5);
                let _ = std::fs::write(topo.busy_file(), label);
            }
        }
        if Instant::now() >= deadline {
            let mut names = Vec::new();
            for &i in &pending {
                let h = &topo.replicas()[i];
                names.push(format!("{} ({})", h.name, late_state(topo, h).await));
            }
            let source = match &topo.replication {
                Replication::Tungsten(r) => format!("master THL max seqno {:?}", r.master_max_seqno()),
                Replication::Native => format!(
                    "primary gtid_binlog_pos {}",
                    native::binlog_pos(topo.primary())
                        .await
                        .unwrap_or_else(|| "unreadable".into())
                ),
            };
            return Record::new(
                label,
                Kind::Timeout,
                format!(
                    "not applied within {:?} by {} ({source})",
                    started.elapsed(),
                    names.join(", ")
                ),
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    match compare_all(topo).await {
        Ok(c) => Record {
            label: label.into(),
            kind: Kind::Compared,
            tables: c.tables.into_iter().collect(),
            differences: c
                .differences
                .into_iter()
                .map(|d| (d.table, d.hosts, d.detail))
                .collect(),
            error: String::new(),
            skipped_tables: c.skipped,
        },
        Err(e) => Record::new(label, Kind::Skipped, format!("comparison failed: {e}")),
    }
}

/// Appends `record` to the results file.
pub fn append(topo: &Topology, record: &Record) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&topo.results)?;
    writeln!(f, "{}", record.to_json())
}

/// Reads every record of a results file (a missing file: none).
pub fn read_all(path: &std::path::Path) -> Vec<Record> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Record::from_json(&v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_json() {
        let r = Record {
            label: "before DROP at t.test:3".into(),
            kind: Kind::Compared,
            tables: vec!["test.t1".into()],
            differences: vec![("test.t1".into(), vec!["host2.alpha".into()], "rows differ".into())],
            error: String::new(),
            skipped_tables: vec![],
        };
        let back = Record::from_json(&r.to_json()).expect("parses");
        assert_eq!(back.label, r.label);
        assert_eq!(back.kind, Kind::Compared);
        assert_eq!(back.differences, r.differences);
        assert!(Kind::Stop.is_fatal() && !Kind::Skipped.is_fatal());
    }
}

//! The oracle mode's replication (`conformance --native`): MariaDB's own
//! replicas, set up and read here. A replica replicates from its source
//! with GTIDs (`MASTER_USE_GTID=slave_pos`) as the sandbox's replication
//! account, reconnecting every second ([`CONNECT_RETRY_SECS`]) when the
//! source restarts; its state is its `SHOW SLAVE STATUS` row.
//!
//! Invariants: [`replicate`] resets the replica first (`RESET SLAVE ALL`,
//! empty `gtid_slave_pos`), so a replica starts from the beginning of its
//! source's binlog whatever it did before; a replica is *stopped* when its
//! SQL thread is not running, or its IO thread is `No` (not `Connecting`:
//! that one retries), with an error set ([`SlaveStatus::stop`]); a replica
//! that cannot be read, or that has no replication configured, is stopped
//! too (as an unreachable replicator is); every wait is bounded.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Value};

use super::topology::{Host, Topology};
use crate::sandbox::Instance;

/// `MASTER_CONNECT_RETRY`: how soon a replica reconnects to a restarted source.
pub const CONNECT_RETRY_SECS: u32 = 1;

/// The fields of `SHOW SLAVE STATUS` the runner reads (`gtid_slave_pos`
/// from the global variable: only `SHOW ALL SLAVES STATUS` has the column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaveStatus {
    pub master_host: String,
    pub io_running: String,
    pub sql_running: String,
    pub last_io_errno: u32,
    pub last_io_error: String,
    pub last_sql_errno: u32,
    pub last_sql_error: String,
    pub gtid_io_pos: String,
    pub gtid_slave_pos: String,
    pub seconds_behind: String,
}

impl SlaveStatus {
    /// From a `SHOW SLAVE STATUS` row as `(column, value)` pairs (a NULL as
    /// an empty string); columns not listed are ignored, missing ones stay
    /// empty.
    pub fn from_columns<'a>(columns: impl IntoIterator<Item = (&'a str, &'a str)>) -> SlaveStatus {
        let mut s = SlaveStatus::default();
        for (name, value) in columns {
            let v = value.to_owned();
            match name {
                "Master_Host" => s.master_host = v,
                "Slave_IO_Running" => s.io_running = v,
                "Slave_SQL_Running" => s.sql_running = v,
                "Last_IO_Errno" => s.last_io_errno = v.trim().parse().unwrap_or(0),
                "Last_IO_Error" => s.last_io_error = v,
                "Last_SQL_Errno" => s.last_sql_errno = v.trim().parse().unwrap_or(0),
                "Last_SQL_Error" => s.last_sql_error = v,
                "Gtid_IO_Pos" => s.gtid_io_pos = v,
                "Gtid_Slave_Pos" => s.gtid_slave_pos = v,
                "Seconds_Behind_Master" => s.seconds_behind = v,
                _ => {}
            }
        }
        s
    }

    /// Both threads run.
    pub fn is_running(&self) -> bool {
        self.io_running == "Yes" && self.sql_running == "Yes"
    }

    /// Why replication stopped on `host`, if it did: the thread, its error
    /// number and message, and the GTID position the replica applied.
    pub fn stop(&self, host: &str) -> Option<String> {
        let sql_error = self.last_sql_errno != 0 || !self.last_sql_error.is_empty();
        let io_error = self.last_io_errno != 0 || !self.last_io_error.is_empty();
        if self.sql_running != "Yes" && sql_error {
            return Some(format!(
                "{host}: native replica stopped: Slave_SQL_Running={}, Last_SQL_Errno {}: {}; Gtid_Slave_Pos {}",
                self.sql_running, self.last_sql_errno, self.last_sql_error, self.gtid_slave_pos
            ));
        }
        if self.io_running == "No" && io_error {
            return Some(format!(
                "{host}: native replica stopped: Slave_IO_Running=No, Last_IO_Errno {}: {}; Gtid_Slave_Pos {}",
                self.last_io_errno, self.last_io_error, self.gtid_slave_pos
            ));
        }
        None
    }

    /// One line for a replica that is late (checkpoint timeouts).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "IO {} SQL {}, Gtid_IO_Pos {}, Gtid_Slave_Pos {}, Seconds_Behind_Master {}",
            self.io_running,
            self.sql_running,
            self.gtid_io_pos,
            self.gtid_slave_pos,
            if self.seconds_behind.is_empty() {
                "NULL"
            } else {
                &self.seconds_behind
            }
        );
        if self.last_io_errno != 0 {
            s.push_str(&format!(
                ", Last_IO_Errno {}: {}",
                self.last_io_errno, self.last_io_error
            ));
        }
        if self.last_sql_errno != 0 {
            s.push_str(&format!(
                ", Last_SQL_Errno {}: {}",
                self.last_sql_errno, self.last_sql_error
            ));
        }
        s
    }
}

/// The sum over domains of the sequence numbers of a GTID list
/// (`0-1-23,1-2-5` is 28); `None` if an element is not `D-S-N`.
pub fn gtid_sum(list: &str) -> Option<i64> {
    let mut sum = 0i64;
    for gtid in list.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let parts: Vec<&str> = gtid.split('-').collect();
        if parts.len() != 3 || parts[0].parse::<u32>().is_err() || parts[1].parse::<u32>().is_err() {
            return None;
        }
        sum = sum.checked_add(parts[2].parse::<i64>().ok()?)?;
    }
    Some(sum)
}

fn text(v: &Value) -> String {
    match v {
        Value::NULL => String::new(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.as_sql(true),
    }
}

/// `host`'s `SHOW SLAVE STATUS`, `None` when it is not a replica.
pub async fn status(host: &Host) -> Result<Option<SlaveStatus>, String> {
    let mut c = Topology::connect(host).await?;
    let rows: Result<Vec<Row>, String> =
        match tokio::time::timeout(Duration::from_secs(20), c.query("SHOW SLAVE STATUS")).await {
            Ok(r) => r.map_err(|e| format!("{}: SHOW SLAVE STATUS: {e}", host.name)),
            Err(_) => Err(format!("{}: SHOW SLAVE STATUS took more than 20s", host.name)),
        };
    // SHOW SLAVE STATUS has no Gtid_Slave_Pos (SHOW ALL SLAVES STATUS has).
    let mut slave_pos: Option<String> = None;
    if rows.is_ok() {
        let q = c.query_first("SELECT @@GLOBAL.gtid_slave_pos");
        slave_pos = tokio::time::timeout(Duration::from_secs(20), q)
            .await
            .ok()
            .and_then(|r| r.ok().flatten());
    }
    let _ = c.disconnect().await;
    let Some(row) = rows?.into_iter().next() else {
        return Ok(None);
    };
    let columns = row.columns_ref();
    let values: Vec<(String, String)> = (0..row.len())
        .map(|i| {
            let name = columns.get(i).map(|c| c.name_str().into_owned()).unwrap_or_default();
            (name, row.as_ref(i).map(text).unwrap_or_default())
        })
        .collect();
    let mut s = SlaveStatus::from_columns(values.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    if let Some(pos) = slave_pos {
        s.gtid_slave_pos = pos;
    }
    Ok(Some(s))
}

/// The first replica whose replication stopped (or that cannot be read),
/// as a sentence naming the host, the error and the GTID position.
pub async fn stopped(topo: &Topology) -> Option<String> {
    for h in topo.replicas() {
        match status(h).await {
            Ok(Some(s)) => {
                if let Some(stop) = s.stop(&h.name) {
                    return Some(stop);
                }
            }
            Ok(None) => return Some(format!("{}: not a replica (SHOW SLAVE STATUS is empty)", h.name)),
            Err(e) => return Some(format!("{}: native replica unreachable: {e}", h.name)),
        }
    }
    None
}

/// How far the primary's binlog went: its `gtid_binlog_pos`, summed over
/// domains (so the difference before and after a test counts its
/// transactions, unless the test sets `gtid_seq_no` or resets the binlog).
pub async fn gtid_position(primary: &Host) -> Option<i64> {
    gtid_sum(&binlog_pos(primary).await?)
}

/// The primary's `gtid_binlog_pos`.
pub async fn binlog_pos(primary: &Host) -> Option<String> {
    let mut c = Topology::connect(primary).await.ok()?;
    let pos: Option<String> = c.query_first("SELECT @@GLOBAL.gtid_binlog_pos").await.ok().flatten();
    let _ = c.disconnect().await;
    pos
}

/// Makes `replica` replicate from `source` from the beginning of its
/// binlog (see the module doc), and starts it.
pub async fn replicate(replica: &Instance, source: &Instance) -> Result<(), String> {
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    let change = format!(
        "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, MASTER_USER='{}', MASTER_PASSWORD='{}', \
         MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY={CONNECT_RETRY_SECS}",
        source.address(),
        source.port(),
        quote(source.user()),
        quote(source.password())
    );
    for sql in [
        "STOP SLAVE",
        "RESET SLAVE ALL",
        "SET GLOBAL gtid_slave_pos = ''",
        &change,
        "START SLAVE",
    ] {
        replica
            .exec(sql)
            .await
            .map_err(|e| format!("{} (replica of {}): `{sql}`: {e}", replica.name(), source.name()))?;
    }
    Ok(())
}

/// Waits until both threads of every replica run (a stop fails at once).
pub async fn wait_running(topo: &Topology, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut all = true;
        let mut last = Vec::new();
        for h in topo.replicas() {
            match status(h).await {
                Ok(Some(s)) => {
                    if let Some(stop) = s.stop(&h.name) {
                        return Err(format!("at start: {stop}"));
                    }
                    all &= s.is_running();
                    last.push(format!("{}: {}", h.name, s.summary()));
                }
                Ok(None) => {
                    all = false;
                    last.push(format!("{}: not a replica", h.name));
                }
                Err(e) => {
                    all = false;
                    last.push(e);
                }
            }
        }
        if all {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "native replicas not running within {timeout:?}: {}",
                last.join("; ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(io: &str, sql: &str, io_err: (&str, &str), sql_err: (&str, &str)) -> SlaveStatus {
        SlaveStatus::from_columns([
            ("Slave_IO_State", "Waiting for master to send event"),
            ("Master_Host", "127.0.1.1"),
            ("Slave_IO_Running", io),
            ("Slave_SQL_Running", sql),
            ("Last_IO_Errno", io_err.0),
            ("Last_IO_Error", io_err.1),
            ("Last_SQL_Errno", sql_err.0),
            ("Last_SQL_Error", sql_err.1),
            ("Gtid_IO_Pos", "0-1-12"),
            ("Gtid_Slave_Pos", "0-1-11"),
            ("Seconds_Behind_Master", ""),
        ])
    }

    #[test]
    fn a_stopped_sql_thread_is_a_stop_with_its_error_and_position() {
        let s = row(
            "Yes",
            "No",
            ("0", ""),
            (
                "1032",
                "Could not execute Update_rows_v1 event on table test.t1; Can't find record",
            ),
        );
        assert_eq!(s.last_sql_errno, 1032);
        assert!(!s.is_running());
        let stop = s.stop("host2.alpha").expect("a stop");
        assert!(stop.starts_with("host2.alpha: "), "{stop}");
        assert!(
            stop.contains("Last_SQL_Errno 1032: Could not execute Update_rows_v1"),
            "{stop}"
        );
        assert!(stop.contains("Gtid_Slave_Pos 0-1-11"), "{stop}");
    }

    #[test]
    fn a_stopped_io_thread_is_a_stop_but_a_reconnecting_one_is_not() {
        let fatal = row(
            "No",
            "Yes",
            (
                "1236",
                "Got fatal error 1236 from master when reading data from binary log",
            ),
            ("0", ""),
        );
        let stop = fatal.stop("host1.beta").expect("a stop");
        assert!(
            stop.contains("Slave_IO_Running=No, Last_IO_Errno 1236: Got fatal error"),
            "{stop}"
        );
        assert!(stop.contains("Gtid_Slave_Pos 0-1-11"), "{stop}");
        // The source restarting: the IO thread retries.
        let retrying = row(
            "Connecting",
            "Yes",
            ("2003", "error reconnecting to master 'tungsten@127.0.1.1:13306'"),
            ("0", ""),
        );
        assert_eq!(retrying.stop("host2.alpha"), None);
        assert!(
            retrying.summary().contains("Last_IO_Errno 2003"),
            "{}",
            retrying.summary()
        );
        // Running, and stopped without an error (nothing to report as a stop).
        assert_eq!(row("Yes", "Yes", ("0", ""), ("0", "")).stop("h"), None);
        assert!(row("Yes", "Yes", ("0", ""), ("0", "")).is_running());
        assert_eq!(row("No", "No", ("0", ""), ("0", "")).stop("h"), None);
    }

    #[test]
    fn gtid_lists_sum_per_domain() {
        assert_eq!(gtid_sum(""), Some(0));
        assert_eq!(gtid_sum("0-1-23"), Some(23));
        assert_eq!(gtid_sum("0-1-23,1-2-5"), Some(28));
        assert_eq!(gtid_sum("0-1-x"), None);
        assert_eq!(gtid_sum("garbage"), None);
    }
}

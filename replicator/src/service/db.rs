//! The control plane's few statements on the local database: heartbeats
//! (`tungsten_<service>.heartbeat`, Tungsten's columns), `reset -db`, the
//! applied position a role change or a provision writes, and `read_only`.
//!
//! Invariants: a heartbeat is an ordinary binlogged transaction, so it flows
//! through the THL like any other; `reset -db` is not binlogged
//! (`sql_log_bin=0`), so resetting one node never drops the tracking schema
//! of the nodes downstream. Identifiers are backquoted with `` ` `` doubled.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use thl::seqno::Seqno;

use crate::binlog::BinlogPosition;
use crate::config::ServicePlan;
use crate::extractor::event_id::EventId;
use crate::source::queries::current_position;

/// `tungsten_<service>`.
pub fn tracking_schema(service: &str) -> String {
    format!("tungsten_{service}")
}

/// A backquoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The connection options for the service's local database.
pub fn opts(plan: &ServicePlan) -> Opts {
    OptsBuilder::default()
        .ip_or_hostname(plan.db.address.to_string())
        .tcp_port(plan.db.port)
        .user(Some(plan.db.user.clone()))
        .pass(Some(plan.db.password.expose()))
        .prefer_socket(false)
        .into()
}

async fn connect(plan: &ServicePlan) -> Result<Conn, String> {
    Conn::new(opts(plan)).await.map_err(|e| {
        format!(
            "cannot connect to the database at {}:{} as {}: {e}",
            plan.db.address, plan.db.port, plan.db.user
        )
    })
}

/// What a heartbeat wrote and where the source's binlog was right after
/// (the REST API answers it as `control::responses::HeartbeatResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub name: String,
    pub salt: i64,
    /// The source's binlog position after the heartbeat committed.
    pub binlog_file: String,
    pub binlog_pos: u64,
}

/// Tungsten's heartbeat table.
pub const HEARTBEAT_DDL: &str = "(id BIGINT NOT NULL PRIMARY KEY, seqno BIGINT, eventid VARCHAR(128), \
    source_tstamp TIMESTAMP NULL, target_tstamp TIMESTAMP NULL, lag_millis BIGINT, salt BIGINT, name VARCHAR(128))";

/// Inserts (or updates) row 1 of `tungsten_<service>.heartbeat`, creating
/// the schema and the table when missing.
pub async fn heartbeat(
    plan: &ServicePlan,
    service: &str,
    name: &str,
    stored: Option<Seqno>,
) -> Result<Heartbeat, String> {
    let mut conn = connect(plan).await?;
    let schema = quote_ident(&tracking_schema(service));
    let sql_err = |what: &str, e: mysql_async::Error| format!("{what}: {e}");
    conn.query_drop(format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .map_err(|e| sql_err("create schema", e))?;
    conn.query_drop(format!("CREATE TABLE IF NOT EXISTS {schema}.heartbeat {HEARTBEAT_DDL}"))
        .await
        .map_err(|e| sql_err("create table", e))?;
    let salt = crate::clock::now_ms();
    conn.exec_drop(
        format!(
            "INSERT INTO {schema}.heartbeat (id, seqno, eventid, source_tstamp, target_tstamp, lag_millis, salt, name) \
             VALUES (1, ?, NULL, NOW(), NULL, 0, ?, ?) ON DUPLICATE KEY UPDATE seqno = VALUES(seqno), \
             source_tstamp = VALUES(source_tstamp), salt = VALUES(salt), name = VALUES(name)"
        ),
        (Seqno::or_minus_one(stored), salt, name),
    )
    .await
    .map_err(|e| sql_err("insert", e))?;
    let BinlogPosition {
        file: binlog_file,
        pos: binlog_pos,
    } = current_position(&mut conn)
        .await
        .map_err(|e| format!("SHOW MASTER STATUS: {e}"))?
        .ok_or("the source has no binary log (log_bin is OFF)")?;
    let _ = conn.disconnect().await;
    Ok(Heartbeat {
        name: name.to_owned(),
        salt,
        binlog_file,
        binlog_pos,
    })
}

/// Whether a stored native event id is at or past `target`.
pub fn position_reached(stored_event_id: &str, target: &BinlogPosition) -> bool {
    EventId::parse(stored_event_id).is_ok_and(|id| id.at >= *target)
}

/// `DROP SCHEMA IF EXISTS` on the local database, not binlogged.
pub async fn drop_schema(plan: &ServicePlan, schema: &str) -> Result<(), String> {
    let mut conn = connect(plan).await?;
    conn.query_drop("SET SESSION sql_log_bin = 0")
        .await
        .map_err(|e| format!("SET sql_log_bin = 0 (needed so the drop does not replicate): {e}"))?;
    conn.query_drop(format!("DROP SCHEMA IF EXISTS {}", quote_ident(schema)))
        .await
        .map_err(|e| format!("DROP SCHEMA {schema}: {e}"))?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// The position an applier resumes after: the last transaction the
/// target's data holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPoint {
    pub seqno: i64,
    pub epoch: i64,
    pub source_id: String,
    pub event_id: String,
}

/// Creates the service's tracking schema (as its applier would) with
/// `point` in task 0's row and no other row (the applier gives each channel
/// a copy of it at its first start), not binlogged: the position of this
/// host only.
pub async fn write_applied_position(plan: &ServicePlan, point: &AppliedPoint) -> Result<(), String> {
    let names = crate::applier::catalog_table::CatalogNames::new(&plan.service);
    let mut conn = connect(plan).await?;
    let q = |e: mysql_async::Error| format!("writing the position into {}: {e}", names.schema);
    conn.query_drop("SET SESSION sql_log_bin=0").await.map_err(q)?;
    // The schema may exist (a heartbeat table, an earlier role's rows):
    // keep it, and give it the applier's tables with only task 0's row.
    for sql in names.create_statements() {
        conn.query_drop(sql).await.map_err(q)?;
    }
    for sql in [
        format!("DELETE FROM {} WHERE task_id <> 0", names.commit_seqno),
        format!("DELETE FROM {}", names.ddl_in_flight),
        format!("DELETE FROM {}", names.apply_routing),
    ] {
        conn.query_drop(sql).await.map_err(q)?;
    }
    conn.exec_drop(
        format!(
            "UPDATE {} SET seqno = ?, fragno = 0, last_frag = '1', source_id = ?, epoch_number = ?, eventid = ? \
             WHERE task_id = 0",
            names.commit_seqno
        ),
        (
            point.seqno,
            point.source_id.as_str(),
            point.epoch,
            point.event_id.as_str(),
        ),
    )
    .await
    .map_err(q)?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// `SET GLOBAL read_only`; the value before. Users with `READ ONLY ADMIN`
/// (MariaDB 11: granted by `ALL`; before 11.0 also by `SUPER`) and
/// replication threads still write.
pub async fn set_read_only(plan: &ServicePlan, on: bool) -> Result<bool, String> {
    let mut conn = connect(plan).await?;
    let before: Option<i64> = conn
        .query_first("SELECT @@GLOBAL.read_only")
        .await
        .map_err(|e| format!("SELECT @@GLOBAL.read_only: {e}"))?;
    conn.query_drop(format!("SET GLOBAL read_only = {}", if on { "ON" } else { "OFF" }))
        .await
        .map_err(|e| {
            format!(
                "SET GLOBAL read_only: {e} (the replication user {} needs the READ_ONLY ADMIN or SUPER privilege)",
                plan.db.user
            )
        })?;
    let _ = conn.disconnect().await;
    Ok(before.unwrap_or(0) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_compare_by_file_then_offset() {
        let id = "mysql-bin.000002:0000000000000400;7";
        assert!(position_reached(id, &BinlogPosition::new("mysql-bin.000002", 400)));
        assert!(position_reached(id, &BinlogPosition::new("mysql-bin.000001", 9000)));
        assert!(!position_reached(id, &BinlogPosition::new("mysql-bin.000002", 401)));
        assert!(!position_reached("", &BinlogPosition::new("mysql-bin.000001", 4)));
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}

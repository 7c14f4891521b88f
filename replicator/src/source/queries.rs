//! Small queries the extractor runs on the source (on an ordinary
//! connection, not the dump connection).
//!
//! They return raw `mysql_async::Error`s; callers classify them with the
//! position they are at.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::error::codes;
use crate::binlog::BinlogPosition;

/// One row of `SHOW BINARY LOGS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryLog {
    /// File name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
}

/// What the source says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `@@version`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub version: String,
    /// Whether the server is MariaDB (from the version string).
    pub is_mariadb: bool,
    /// `@@server_id`.
    pub server_id: u32,
}

fn text(row: &Row, i: usize) -> Option<String> {
    match row.as_ref(i)? {
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::NULL => None,
        other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
    }
}

fn number(row: &Row, i: usize) -> Option<u64> {
    match row.as_ref(i)? {
        mysql_async::Value::Int(v) => u64::try_from(*v).ok(),
        mysql_async::Value::UInt(v) => Some(*v),
        mysql_async::Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn bad_result(what: &str) -> mysql_async::Error {
    mysql_async::Error::Other(format!("unexpected result from {what}").into())
}

/// `@@version`, `@@server_id`.
pub async fn server_info(conn: &mut Conn) -> Result<ServerInfo, mysql_async::Error> {
    let row: Option<Row> = conn.query_first("SELECT @@version, @@server_id").await?;
    let row = row.ok_or_else(|| bad_result("SELECT @@version"))?;
    let version = text(&row, 0).unwrap_or_default();
    let server_id = number(&row, 1)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| bad_result("SELECT @@server_id"))?;
    Ok(ServerInfo {
        is_mariadb: version.contains("MariaDB"),
        version,
        server_id,
    })
}

/// `@@server_id`.
pub async fn server_id(conn: &mut Conn) -> Result<u32, mysql_async::Error> {
    Ok(server_info(conn).await?.server_id)
}

/// `@@version`.
pub async fn version(conn: &mut Conn) -> Result<String, mysql_async::Error> {
    Ok(server_info(conn).await?.version)
}

/// MariaDB's `@@gtid_binlog_pos` (empty string when nothing was logged with
/// a GTID yet); `None` on a server without it (MySQL).
pub async fn gtid_binlog_pos(conn: &mut Conn) -> Result<Option<String>, mysql_async::Error> {
    match conn.query_first::<Row, _>("SELECT @@GLOBAL.gtid_binlog_pos").await {
        Ok(row) => Ok(row.and_then(|r| text(&r, 0))),
        // ER_UNKNOWN_SYSTEM_VARIABLE: not MariaDB.
        Err(mysql_async::Error::Server(e)) if e.code == 1193 => Ok(None),
        Err(e) => Err(e),
    }
}

/// The current binlog position (where the next event will be written):
/// `SHOW MASTER STATUS`, or `SHOW BINARY LOG STATUS` on servers that
/// removed the former (MySQL 8.4). `None` if binary logging is off.
pub async fn current_position(conn: &mut Conn) -> Result<Option<BinlogPosition>, mysql_async::Error> {
    let row: Option<Row> = match conn.query_first("SHOW MASTER STATUS").await {
        Ok(row) => row,
        Err(mysql_async::Error::Server(e)) if e.code == codes::PARSE_ERROR => {
            conn.query_first("SHOW BINARY LOG STATUS").await?
        }
        Err(e) => return Err(e),
    };
    let Some(row) = row else { return Ok(None) };
    let file = text(&row, 0).ok_or_else(|| bad_result("SHOW MASTER STATUS"))?;
    let pos = number(&row, 1).ok_or_else(|| bad_result("SHOW MASTER STATUS"))?;
    Ok(Some(BinlogPosition { file, pos }))
}

/// The first transaction the binlog holds at or after `from` (its GTID
/// event): `(position, "BEGIN GTID 0-1-7")`, or `None` when no transaction
/// starts there or later. Reads `SHOW BINLOG EVENTS` a page at a time
/// through `from`'s file and every later one, so a long binlog costs
/// round trips, not memory.
pub async fn first_transaction_from(
    conn: &mut Conn,
    from: &BinlogPosition,
) -> Result<Option<(BinlogPosition, String)>, mysql_async::Error> {
    const PAGE: u64 = 1000;
    let files = binary_logs(conn).await?;
    for log in files.iter().filter(|l| l.name >= from.file) {
        let mut at = if log.name == from.file { from.pos } else { 4 };
        loop {
            let file = log.name.replace('\\', "\\\\").replace('\'', "\\'");
            let rows: Vec<Row> = conn
                .query(format!("SHOW BINLOG EVENTS IN '{file}' FROM {at} LIMIT {PAGE}"))
                .await?;
            for row in &rows {
                if text(row, 2).as_deref() == Some("Gtid") {
                    let pos = number(row, 1).ok_or_else(|| bad_result("SHOW BINLOG EVENTS"))?;
                    let info = text(row, 5).unwrap_or_default();
                    return Ok(Some((BinlogPosition::new(log.name.clone(), pos), info)));
                }
            }
            match rows.last().and_then(|r| number(r, 4)) {
                Some(end) if rows.len() as u64 == PAGE && end > at => at = end,
                _ => break,
            }
        }
    }
    Ok(None)
}

/// `SHOW BINARY LOGS`, oldest first. Empty if binary logging is off
/// (the server answers ERROR 1381 then).
pub async fn binary_logs(conn: &mut Conn) -> Result<Vec<BinaryLog>, mysql_async::Error> {
    let rows: Vec<Row> = match conn.query("SHOW BINARY LOGS").await {
        Ok(rows) => rows,
        // ER_NO_BINARY_LOGGING.
        Err(mysql_async::Error::Server(e)) if e.code == 1381 => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rows.iter()
        .map(|r| {
            Ok(BinaryLog {
                name: text(r, 0).ok_or_else(|| bad_result("SHOW BINARY LOGS"))?,
                size: number(r, 1).unwrap_or(0),
            })
        })
        .collect()
}

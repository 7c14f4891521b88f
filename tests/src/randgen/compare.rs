//! Compares a schema on a replica with the primary: the set of tables, each
//! table's definition (`SHOW CREATE TABLE` without `AUTO_INCREMENT=N`), the
//! triggers, `CHECKSUM TABLE`, and on a checksum mismatch a by-value diff of
//! the rows (all rows, history included for system-versioned tables) that
//! names the first rows present on one side only.
//!
//! Invariants: values are compared as the bytes the server sends (text
//! protocol), rendered as quoted text when printable UTF-8 and as `X'..'`
//! otherwise; rows are compared as multisets (keyless tables may hold
//! duplicates); every query is bounded by a timeout.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// One difference between a replica and the primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: String,
    pub what: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {}: {}", self.table, self.what)
    }
}

/// A query failed on one side.
#[derive(Debug, thiserror::Error)]
#[error("{host}: {sql}: {source}")]
pub struct CompareError {
    pub host: String,
    pub sql: String,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A connection to one host, named for messages.
#[derive(Debug)]
pub struct Side<'a> {
    pub host: &'a str,
    pub conn: &'a mut Conn,
}

type Rows = Vec<Vec<Option<Vec<u8>>>>;

impl Side<'_> {
    async fn rows(&mut self, sql: &str) -> Result<Rows, CompareError> {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| CompareError {
            host: self.host.to_owned(),
            sql: sql.to_owned(),
            source,
        };
        let rows: Vec<Row> = match tokio::time::timeout(QUERY_TIMEOUT, self.conn.query(sql)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => return Err(err(Box::new(e))),
            Err(_) => return Err(err("timed out".into())),
        };
        Ok(rows
            .into_iter()
            .map(|r| {
                r.unwrap()
                    .into_iter()
                    .map(|v| match v {
                        Value::NULL => None,
                        Value::Bytes(b) => Some(b),
                        other => Some(other.as_sql(true).into_bytes()),
                    })
                    .collect()
            })
            .collect())
    }

    async fn strings(&mut self, sql: &str) -> Result<Vec<Vec<String>>, CompareError> {
        Ok(self
            .rows(sql)
            .await?
            .into_iter()
            .map(|r| r.iter().map(|v| render(v.as_deref())).collect())
            .collect())
    }
}

/// A value for messages: NULL, 'text' or X'hex'.
pub fn render(v: Option<&[u8]>) -> String {
    match v {
        None => "NULL".into(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) if !s.chars().any(|c| c.is_control() && c != '\n') => {
                let s: String = s.chars().take(80).collect();
                format!("'{s}'{}", if b.len() > 80 { "..." } else { "" })
            }
            _ => {
                let hex: String = b.iter().take(48).map(|x| format!("{x:02X}")).collect();
                format!("X'{hex}'{}", if b.len() > 48 { "..." } else { "" })
            }
        },
    }
}

fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The base tables of `schema` with their type (`BASE TABLE` or `SYSTEM VERSIONED`).
pub async fn tables(side: &mut Side<'_>, schema: &str) -> Result<BTreeMap<String, String>, CompareError> {
    let sql = format!(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')",
        q(schema)
    );
    Ok(side
        .strings(&sql)
        .await?
        .into_iter()
        .filter_map(|r| Some((r.first()?.trim_matches('\'').to_owned(), r.get(1)?.clone())))
        .collect())
}

async fn definition(side: &mut Side<'_>, schema: &str, table: &str) -> Result<String, CompareError> {
    let rows = side.strings(&format!("SHOW CREATE TABLE {schema}.{table}")).await?;
    let text = rows.first().and_then(|r| r.get(1)).cloned().unwrap_or_default();
    // AUTO_INCREMENT=N is the counter, not the definition.
    Ok(text
        .split(' ')
        .filter(|w| !w.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" "))
}

async fn checksum(side: &mut Side<'_>, schema: &str, table: &str) -> Result<Option<String>, CompareError> {
    let rows = side.rows(&format!("CHECKSUM TABLE {schema}.{table}")).await?;
    Ok(rows
        .first()
        .and_then(|r| r.get(1).cloned().flatten())
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}

async fn columns(side: &mut Side<'_>, schema: &str, table: &str) -> Result<Vec<String>, CompareError> {
    let sql = format!(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
        q(schema),
        q(table)
    );
    Ok(side
        .rows(&sql)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect())
}

/// The by-value diff of one table: the first rows on one side only.
async fn row_diff(
    primary: &mut Side<'_>,
    replica: &mut Side<'_>,
    schema: &str,
    table: &str,
    versioned: bool,
) -> Result<String, CompareError> {
    let mut cols = columns(primary, schema, table).await?;
    if versioned {
        cols.extend(["ROW_START".to_owned(), "ROW_END".to_owned()]);
    }
    let list: Vec<String> = cols.iter().map(|c| format!("`{c}`")).collect();
    let history = if versioned { " FOR SYSTEM_TIME ALL" } else { "" };
    let sql = format!("SELECT {} FROM {schema}.{table}{history}", list.join(", "));
    let mut a = primary.rows(&sql).await?;
    let mut b = replica.rows(&sql).await?;
    a.sort();
    b.sort();
    let (only_a, only_b) = multiset_diff(&a, &b);
    let show = |rows: &[&Vec<Option<Vec<u8>>>]| -> String {
        rows.iter()
            .take(3)
            .map(|r| {
                let vals: Vec<String> = cols
                    .iter()
                    .zip(r.iter())
                    .map(|(c, v)| format!("{c}={}", render(v.as_deref())))
                    .collect();
                format!("    ({})", vals.join(", "))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    if only_a.is_empty() && only_b.is_empty() {
        return Ok(format!(
            "checksums differ but the {} rows are equal as text (a float's last digits, or a column the text protocol rounds)",
            a.len()
        ));
    }
    Ok(format!(
        "{} rows on {}, {} on {}; {} only on {} (first 3):\n{}\n  {} only on {} (first 3):\n{}",
        a.len(),
        primary.host,
        b.len(),
        replica.host,
        only_a.len(),
        primary.host,
        show(&only_a),
        only_b.len(),
        replica.host,
        show(&only_b)
    ))
}

/// Rows of sorted `a` missing from sorted `b`, and of `b` missing from `a` (multisets).
fn multiset_diff<'r, T: Ord>(a: &'r [T], b: &'r [T]) -> (Vec<&'r T>, Vec<&'r T>) {
    let (mut i, mut j) = (0, 0);
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(x);
                i += 1;
            }
            (Some(_), Some(y)) => {
                only_b.push(y);
                j += 1;
            }
            (Some(x), None) => {
                only_a.push(x);
                i += 1;
            }
            (None, Some(y)) => {
                only_b.push(y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// What one comparison of a replica found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub tables_compared: usize,
    pub differences: Vec<Difference>,
}

/// Compares `schema` on `replica` with `primary`.
pub async fn compare_schema(
    primary: &mut Side<'_>,
    replica: &mut Side<'_>,
    schema: &str,
) -> Result<Report, CompareError> {
    let mut report = Report::default();
    let pt = tables(primary, schema).await?;
    let rt = tables(replica, schema).await?;
    for name in rt.keys().filter(|n| !pt.contains_key(*n)) {
        report.differences.push(Difference {
            table: name.clone(),
            what: format!("exists on {} only", replica.host),
        });
    }
    let trig = format!(
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {} ORDER BY TRIGGER_NAME",
        q(schema)
    );
    let (ta, tb) = (primary.strings(&trig).await?, replica.strings(&trig).await?);
    if ta != tb {
        report.differences.push(Difference {
            table: "(triggers)".into(),
            what: format!("{}: {ta:?}\n  {}: {tb:?}", primary.host, replica.host),
        });
    }
    for (name, kind) in &pt {
        report.tables_compared += 1;
        if !rt.contains_key(name) {
            report.differences.push(Difference {
                table: name.clone(),
                what: format!("missing on {}", replica.host),
            });
            continue;
        }
        let (da, db) = (
            definition(primary, schema, name).await?,
            definition(replica, schema, name).await?,
        );
        if da != db {
            report.differences.push(Difference {
                table: name.clone(),
                what: format!("definition differs\n  {}: {da}\n  {}: {db}", primary.host, replica.host),
            });
            continue;
        }
        let (ca, cb) = (
            checksum(primary, schema, name).await?,
            checksum(replica, schema, name).await?,
        );
        let versioned = kind == "SYSTEM VERSIONED";
        if ca != cb || versioned {
            let detail = row_diff(primary, replica, schema, name, versioned).await?;
            if ca != cb || !detail.starts_with("checksums differ") {
                let detail = if ca == cb {
                    format!("equal checksums, but history rows differ: {detail}")
                } else {
                    format!(
                        "checksum {ca:?} on {} vs {cb:?} on {}: {detail}",
                        primary.host, replica.host
                    )
                };
                report.differences.push(Difference {
                    table: name.clone(),
                    what: detail,
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiset_diff_keeps_duplicates() {
        let a = [1, 1, 2, 4];
        let b = [1, 2, 3, 4, 4];
        let (x, y) = multiset_diff(&a, &b);
        assert_eq!(x, vec![&1]);
        assert_eq!(y, vec![&3, &4]);
        assert_eq!(render(Some(b"ab")), "'ab'");
        assert_eq!(render(Some(&[0, 255])), "X'00FF'");
        assert_eq!(render(None), "NULL");
    }
}

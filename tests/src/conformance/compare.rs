//! Compares every table of the primary with every replica.
//!
//! Tables: every base, system-versioned and sequence table outside the
//! system schemas (`mysql`, `information_schema`, `performance_schema`,
//! `sys`) and the replicators' `tungsten_*` schemas. For each: the column
//! definitions (name, type, charset, collation, nullability, generation
//! expression), then `CHECKSUM TABLE`; where the checksums differ, the rows
//! are compared by value (a multiset of per-row hashes of every column,
//! invisible ones included, and for system-versioned tables every row of
//! the history), so a difference of physical format only (row format,
//! engine) is not reported. The period columns of a transaction-precise
//! versioned table (`BIGINT UNSIGNED AS ROW START|END`) hold each server's
//! own transaction ids, on MariaDB's own replica too: they are left out of
//! the values compared (the history rows themselves are compared).
//! Values are read with `time_zone='+00:00'` on every server: a test may
//! give the primary another global time zone than the replicas (rpl tests
//! set the "slave"'s on the primary), and a `TIMESTAMP` read in a zone with
//! daylight saving time renders two instants of its repeated hour alike.
//!
//! Invariants: a table missing or extra on a replica is a difference; a
//! table the primary cannot read now (locked by the test beyond
//! [`LOCK_WAIT_SECS`], or `CHECKSUM TABLE` gives NULL) is *skipped* and
//! named, never counted as equal;
//! a table of more than [`MAX_VALUE_ROWS`] rows whose checksums differ is
//! reported as differing without a value comparison.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::topology::{Host, Topology};

/// Longest wait for a metadata lock the test holds.
pub const LOCK_WAIT_SECS: u32 = 5;
/// Largest table compared by value.
pub const MAX_VALUE_ROWS: usize = 500_000;

const SCHEMA_FILTER: &str = "TABLE_SCHEMA NOT IN ('mysql','information_schema','performance_schema','sys') \
     AND TABLE_SCHEMA NOT LIKE 'tungsten\\_%'";

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `schema.table`.
    pub table: String,
    /// The replicas that differ from the primary.
    pub hosts: Vec<String>,
    /// What differs.
    pub detail: String,
}

/// The result of one comparison.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    /// The tables compared (`schema.table`).
    pub tables: BTreeSet<String>,
    pub differences: Vec<Difference>,
    /// Tables not compared, with the reason.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone)]
struct TableInfo {
    kind: String,
    columns: String,
    column_names: Vec<String>,
    /// Columns whose values are each server's own: the period of a
    /// transaction-precise versioned table (`BIGINT ... AS ROW START|END`
    /// holds the server's transaction ids, on MariaDB's replica too).
    server_local: Vec<String>,
}

async fn rows(conn: &mut Conn, sql: &str) -> Result<Vec<Row>, String> {
    conn.query(sql).await.map_err(|e| format!("`{sql}`: {e}"))
}

fn text(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => other.as_sql(true),
    }
}

fn quote(ident: &str) -> String {
    format!("`{}`", ident.replace('`', "``"))
}

fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((s, t)) => format!("{}.{}", quote(s), quote(t)),
        None => quote(name),
    }
}

async fn tables(conn: &mut Conn) -> Result<BTreeMap<String, TableInfo>, String> {
    let list = rows(
        conn,
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE {SCHEMA_FILTER} \
             AND TABLE_TYPE IN ('BASE TABLE','SYSTEM VERSIONED','SEQUENCE')"
        ),
    )
    .await?;
    let cols = rows(
        conn,
        &format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IFNULL(CHARACTER_SET_NAME,''), \
             IFNULL(COLLATION_NAME,''), IS_NULLABLE, IFNULL(GENERATION_EXPRESSION,'') \
             FROM information_schema.COLUMNS WHERE {SCHEMA_FILTER} ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    let mut out = BTreeMap::new();
    for r in list {
        let v: Vec<String> = r.unwrap().iter().map(text).collect();
        if v.len() == 3 {
            out.insert(
                format!("{}.{}", v[0], v[1]),
                TableInfo {
                    kind: v[2].clone(),
                    columns: String::new(),
                    column_names: Vec::new(),
                    server_local: Vec::new(),
                },
            );
        }
    }
    for r in cols {
        let v: Vec<String> = r.unwrap().iter().map(text).collect();
        if v.len() != 8 {
            continue;
        }
        if let Some(t) = out.get_mut(&format!("{}.{}", v[0], v[1])) {
            if !t.columns.is_empty() {
                t.columns.push_str(", ");
            }
            // The storage format of a pre-5.6 temporal column is the
            // server's (a replica creates it in the 5.6 format, as MariaDB's
            // own replica does); its values are compared like any other.
            let definition = v[2..].join(" ").replace(" /* mariadb-5.3 */", "");
            t.columns.push_str(&definition);
            t.column_names.push(v[2].clone());
            if matches!(v[7].as_str(), "ROW START" | "ROW END") && v[3].starts_with("bigint") {
                t.server_local.push(v[2].clone());
            }
        }
    }
    Ok(out)
}

async fn checksum(conn: &mut Conn, table: &str) -> Result<String, String> {
    let r = rows(conn, &format!("CHECKSUM TABLE {}", qualified(table))).await?;
    let v = r.into_iter().next().map(|r| r.unwrap()).unwrap_or_default();
    Ok(v.get(1).map(text).unwrap_or_else(|| "NULL".into()))
}

/// A multiset of row hashes (sorted) of every column of `table` but its
/// server-local ones.
async fn row_hashes(conn: &mut Conn, table: &str, info: &TableInfo) -> Result<Vec<u64>, String> {
    let cols: Vec<String> = info
        .column_names
        .iter()
        .filter(|c| !info.server_local.contains(c))
        .map(|c| quote(c))
        .collect();
    let list = if cols.is_empty() {
        "*".to_owned()
    } else {
        cols.join(", ")
    };
    let candidates = if info.kind == "SYSTEM VERSIONED" {
        let explicit_period = info.column_names.iter().any(|c| c.eq_ignore_ascii_case("row_start"));
        let mut v = Vec::new();
        if !explicit_period {
            v.push(format!(
                "SELECT {list}, ROW_START, ROW_END FROM {} FOR SYSTEM_TIME ALL",
                qualified(table)
            ));
        }
        v.push(format!("SELECT {list} FROM {} FOR SYSTEM_TIME ALL", qualified(table)));
        v
    } else {
        vec![format!("SELECT {list} FROM {}", qualified(table))]
    };
    let mut last_err = String::new();
    for sql in candidates {
        match conn.query_iter(sql.as_str()).await {
            Ok(mut result) => {
                let mut hashes = Vec::new();
                let mut err = None;
                while let Some(row) = result.next().await.map_err(|e| format!("`{sql}`: {e}"))? {
                    if hashes.len() >= MAX_VALUE_ROWS {
                        err = Some(format!("more than {MAX_VALUE_ROWS} rows"));
                        continue;
                    }
                    let mut h = DefaultHasher::new();
                    for v in row.unwrap() {
                        match v {
                            Value::NULL => 0u8.hash(&mut h),
                            Value::Bytes(b) => {
                                1u8.hash(&mut h);
                                b.hash(&mut h);
                            }
                            other => {
                                2u8.hash(&mut h);
                                other.as_sql(true).hash(&mut h);
                            }
                        }
                    }
                    hashes.push(h.finish());
                }
                if let Some(e) = err {
                    return Err(e);
                }
                hashes.sort_unstable();
                return Ok(hashes);
            }
            Err(e) => last_err = format!("`{sql}`: {e}"),
        }
    }
    Err(last_err)
}

fn multiset_difference(a: &[u64], b: &[u64]) -> (usize, usize) {
    let (mut i, mut j, mut only_a, mut only_b) = (0, 0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                only_a += 1;
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_b += 1;
                j += 1;
            }
        }
    }
    (only_a + a.len() - i, only_b + b.len() - j)
}

async fn session(host: &Host) -> Result<Conn, String> {
    let mut c = Topology::connect(host).await?;
    c.query_drop(format!(
        "SET SESSION lock_wait_timeout={LOCK_WAIT_SECS}, innodb_lock_wait_timeout={LOCK_WAIT_SECS}, \
         max_statement_time=120, time_zone='+00:00'"
    ))
    .await
    .map_err(|e| format!("{}: session setup: {e}", host.name))?;
    Ok(c)
}

/// Compares every table of the primary with every replica.
pub async fn compare_all(topo: &Topology) -> Result<Comparison, String> {
    let mut primary = session(topo.primary()).await?;
    let mut replicas = Vec::new();
    for h in topo.replicas() {
        replicas.push((h.name.clone(), session(h).await?));
    }
    let on_primary = tables(&mut primary)
        .await
        .map_err(|e| format!("{}: {e}", topo.primary().name))?;
    let mut out = Comparison::default();
    // Per table: (replica, detail) differences.
    let mut diffs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut on_replicas = Vec::new();
    for (name, conn) in &mut replicas {
        let t = tables(conn).await.map_err(|e| format!("{name}: {e}"))?;
        for extra in t.keys().filter(|k| !on_primary.contains_key(*k)) {
            diffs
                .entry(extra.clone())
                .or_default()
                .push((name.clone(), "exists on the replica only".into()));
        }
        on_replicas.push(t);
    }
    for (table, info) in &on_primary {
        let sum = match checksum(&mut primary, table).await {
            // The server's answer when it cannot read the table now.
            Ok(s) if s == "NULL" && info.kind != "SEQUENCE" => {
                out.skipped.push(format!(
                    "{table}: primary: CHECKSUM TABLE gives NULL (the test holds a lock on it)"
                ));
                continue;
            }
            Ok(s) => s,
            Err(e) => {
                out.skipped.push(format!("{table}: primary: {e}"));
                continue;
            }
        };
        out.tables.insert(table.clone());
        let mut primary_rows: Option<Result<Vec<u64>, String>> = None;
        for ((name, conn), theirs) in replicas.iter_mut().zip(&on_replicas) {
            let Some(rinfo) = theirs.get(table) else {
                diffs
                    .entry(table.clone())
                    .or_default()
                    .push((name.clone(), "missing on the replica".into()));
                continue;
            };
            if rinfo.columns != info.columns {
                diffs.entry(table.clone()).or_default().push((
                    name.clone(),
                    format!("columns differ: primary ({}) replica ({})", info.columns, rinfo.columns),
                ));
                continue;
            }
            let rsum = match checksum(conn, table).await {
                Ok(s) => s,
                Err(e) => {
                    diffs
                        .entry(table.clone())
                        .or_default()
                        .push((name.clone(), format!("cannot checksum: {e}")));
                    continue;
                }
            };
            if rsum == sum {
                continue;
            }
            if primary_rows.is_none() {
                primary_rows = Some(row_hashes(&mut primary, table, info).await);
            }
            let detail = match (primary_rows.as_ref(), row_hashes(conn, table, rinfo).await) {
                (Some(Ok(p)), Ok(r)) if p == &r => continue, // physical format only
                (Some(Ok(p)), Ok(r)) => {
                    let (only_p, only_r) = multiset_difference(p, &r);
                    format!(
                        "rows differ: {} on the primary, {} on the replica; {only_p} only on the primary, {only_r} only on the replica (checksum {sum} vs {rsum})",
                        p.len(),
                        r.len()
                    )
                }
                (Some(Err(e)), _) => format!("checksum {sum} vs {rsum}; not compared by value: {e}"),
                (_, Err(e)) => format!("checksum {sum} vs {rsum}; not compared by value: {e}"),
                (None, _) => format!("checksum {sum} vs {rsum}"),
            };
            diffs.entry(table.clone()).or_default().push((name.clone(), detail));
        }
    }
    for (table, list) in diffs {
        // Group the hosts that differ the same way.
        let mut by_detail: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (host, detail) in list {
            by_detail.entry(detail).or_default().push(host);
        }
        for (detail, hosts) in by_detail {
            out.differences.push(Difference {
                table: table.clone(),
                hosts,
                detail,
            });
        }
    }
    for (_, c) in replicas {
        let _ = c.disconnect().await;
    }
    let _ = primary.disconnect().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiset_difference_counts_each_side() {
        assert_eq!(multiset_difference(&[1, 2, 2, 5], &[2, 3, 5]), (2, 1));
        assert_eq!(multiset_difference(&[], &[1]), (0, 1));
        assert_eq!(multiset_difference(&[4, 4], &[4, 4]), (0, 0));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(qualified("te`st.t 1"), "`te``st`.`t 1`");
    }
}

//! The fractional precision of pre-5.6 temporal columns, from the source's
//! own table definition.
//!
//! MariaDB 5.3's `TIME(n)`, `DATETIME(n)` and `TIMESTAMP(n)` (still created
//! with `mysql56_temporal_format=OFF`, shown as `time(1) /* mariadb-5.3 */`)
//! are logged with the classic type codes 11, 12, 7 and no metadata: their
//! row format depends on n, which the binlog does not carry. MariaDB's own
//! replica takes n from its own table; an extractor must take it from the
//! source's: `information_schema.COLUMNS`, once per table (cached until the
//! extractor sees DDL).
//!
//! # Invariants
//!
//! * **Never a guess.** n is taken only from a column whose `COLUMN_TYPE`
//!   carries the `/* mariadb-5.3 */` marker and whose `DATA_TYPE` is the
//!   binlog's type, in a definition with the binlog's column count; a source
//!   that is not MariaDB (MySQL has no fractional pre-5.6 temporals) gives
//!   n = 0 only when `DATETIME_PRECISION` says 0. Anything else (the table
//!   was dropped or altered since the event, or cannot be seen) is a
//!   [`PrecisionLookupError::Definition`] naming the table, column and fix.
//! * **Current definition.** The definition read is the one in force *now*;
//!   the checks above are what guards against it having changed since the
//!   event. The cache is emptied on every DDL the extractor sees.
//! * A failed connection or query is [`PrecisionLookupError::Query`]: the
//!   master reconnects and reads the TABLE_MAP again.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::runtime::Handle;

use crate::binlog::table_map::types::{DATETIME, TIME, TIMESTAMP};
use crate::binlog::TableMap;

/// The marker MariaDB appends to the `COLUMN_TYPE` of a 5.3-format column.
pub const MARIADB_53_MARKER: &str = "/* mariadb-5.3 */";

/// One column of the source's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    pub name: String,
    pub data_type: String,
    pub column_type: String,
    pub precision: Option<u64>,
}

/// Why the precision of a column is not known.
#[derive(Debug, thiserror::Error)]
pub enum PrecisionLookupError {
    /// The source's definition does not match the event (or cannot be read):
    /// stop, nothing can be decoded exactly.
    #[error("{0}")]
    Definition(String),
    /// Connecting to the source or querying it failed (may be transient).
    #[error("{0}")]
    Query(#[from] mysql_async::Error),
}

/// Looks up and caches the fractional precision of pre-5.6 temporal columns.
pub struct TemporalPrecisions {
    opts: Opts,
    runtime: Handle,
    /// The connection and whether the source is MariaDB.
    conn: Option<(Conn, bool)>,
    cache: HashMap<(String, String), Vec<SourceColumn>>,
}

/// A table as the source has it now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTable {
    /// `None` when the table is gone.
    pub engine: Option<String>,
    /// `(COLUMN_NAME, DATA_TYPE)` in order.
    pub columns: Vec<(String, String)>,
}

impl TemporalPrecisions {
    /// Queries run on `runtime` (the caller is a blocking thread).
    pub fn new(opts: Opts, runtime: Handle) -> TemporalPrecisions {
        TemporalPrecisions {
            opts,
            runtime,
            conn: None,
            cache: HashMap::new(),
        }
    }

    /// The source's connection options.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// Forgets every cached definition (after DDL).
    pub fn invalidate(&mut self) {
        self.cache.clear();
    }

    /// `(column index, n)` for every pre-5.6 temporal column of `tm`; empty
    /// when it has none (no query then).
    pub fn precisions(&mut self, tm: &TableMap) -> Result<Vec<(usize, u8)>, PrecisionLookupError> {
        let old = tm.old_temporal_columns();
        if old.is_empty() {
            return Ok(Vec::new());
        }
        let key = (tm.schema.clone(), tm.table.clone());
        if !self.cache.contains_key(&key) {
            let columns = self.query(&tm.schema, &tm.table).inspect_err(|_| self.conn = None)?;
            self.cache.insert(key.clone(), columns);
        }
        let mariadb = self.conn.as_ref().is_none_or(|(_, m)| *m);
        let columns = self.cache.get(&key).map(Vec::as_slice).unwrap_or_default();
        let result = resolve(tm, &old, columns, mariadb);
        if result.is_err() {
            // Read again next time: the definition may have been in flux.
            self.cache.remove(&key);
        }
        result.map_err(PrecisionLookupError::Definition)
    }

    /// The engine and columns of `schema.table` on the source now. The
    /// connection is dropped after an error.
    pub fn table_engine(&mut self, schema: &str, table: &str) -> Result<SourceTable, mysql_async::Error> {
        let rows: Vec<(Option<String>,)> = self
            .exec(
                "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (schema, table),
            )
            .inspect_err(|_| self.conn = None)?;
        let columns: Vec<(String, String)> = self
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            .inspect_err(|_| self.conn = None)?;
        Ok(SourceTable {
            engine: rows.into_iter().next().and_then(|(engine,)| engine),
            columns,
        })
    }

    /// Runs a query with two text parameters on the source, connecting
    /// first if needed.
    fn exec<T: mysql_async::prelude::FromRow + Send + 'static>(
        &mut self,
        sql: &'static str,
        (a, b): (&str, &str),
    ) -> Result<Vec<T>, mysql_async::Error> {
        let opts = self.opts.clone();
        let conn = self.conn.take();
        let params = (a.to_owned(), b.to_owned());
        let (conn, mariadb, rows) = self.runtime.block_on(async move {
            let (mut conn, mariadb) = match conn {
                Some(c) => c,
                None => {
                    let mut conn = Conn::new(opts).await?;
                    let version: Option<String> = conn.query_first("SELECT @@version").await?;
                    let mariadb = version.is_some_and(|v| v.contains("MariaDB"));
                    (conn, mariadb)
                }
            };
            let rows: Vec<T> = conn.exec(sql, params).await?;
            Ok::<_, mysql_async::Error>((conn, mariadb, rows))
        })?;
        self.conn = Some((conn, mariadb));
        Ok(rows)
    }

    fn query(&mut self, schema: &str, table: &str) -> Result<Vec<SourceColumn>, mysql_async::Error> {
        let rows: Vec<(String, String, String, Option<u64>)> = self.exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, DATETIME_PRECISION \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (schema, table),
        )?;
        Ok(rows
            .into_iter()
            .map(|(name, data_type, column_type, precision)| SourceColumn {
                name,
                data_type: data_type.to_ascii_lowercase(),
                column_type: column_type.to_ascii_lowercase(),
                precision,
            })
            .collect())
    }
}

/// The fix offered when the definition does not tell n.
const FIX: &str = "convert the table on the source to the MySQL 5.6 temporal format (SET GLOBAL \
                   mysql56_temporal_format=ON; ALTER TABLE ... FORCE) and re-provision the replicas, or start \
                   after this transaction with `trepctl online -from-event`";

/// Checks `columns` (the source's definition) against `tm` and gives n for
/// each of the `old` columns. `mariadb`: the source is MariaDB.
pub fn resolve(
    tm: &TableMap,
    old: &[usize],
    columns: &[SourceColumn],
    mariadb: bool,
) -> Result<Vec<(usize, u8)>, String> {
    let table = format!("`{}`.`{}`", tm.schema, tm.table);
    if columns.is_empty() {
        return Err(format!(
            "table {table} has pre-5.6 temporal columns whose fractional precision the binlog does not carry, \
             and it no longer exists on the source (or the replication user cannot see it in \
             information_schema.COLUMNS): its rows cannot be decoded exactly. If it was dropped, {FIX}"
        ));
    }
    if columns.len() != tm.columns.len() {
        return Err(format!(
            "table {table} has {} columns in the binlog event but {} on the source now: its definition changed \
             since the event, so the fractional precision of its pre-5.6 temporal columns is unknown; {FIX}",
            tm.columns.len(),
            columns.len()
        ));
    }
    let mut out = Vec::with_capacity(old.len());
    for &i in old {
        let (Some(spec), Some(src)) = (tm.columns.get(i), columns.get(i)) else {
            return Err(format!("table {table}: no column {i}"));
        };
        let expected = match spec.type_code {
            TIME => "time",
            DATETIME => "datetime",
            TIMESTAMP => "timestamp",
            t => {
                return Err(format!(
                    "table {table} column {i}: type {t} is not a pre-5.6 temporal type"
                ))
            }
        };
        let column = format!("{table} column {} (`{}`)", i + 1, src.name);
        if src.data_type != expected {
            return Err(format!(
                "{column} is `{}` on the source now but a pre-5.6 {expected} in the binlog event: the definition \
                 changed since the event; {FIX}",
                src.column_type
            ));
        }
        let n = src.precision.unwrap_or(0);
        if n > 6 {
            return Err(format!("{column}: DATETIME_PRECISION {n} (at most 6)"));
        }
        let marked = src.column_type.contains(MARIADB_53_MARKER);
        if !(marked || !mariadb && n == 0) {
            return Err(format!(
                "{column} is `{}` (the MySQL 5.6 format) on the source now, but a pre-5.6 {expected} in the binlog \
                 event: the definition changed since the event, so its fractional precision is unknown; {FIX}",
                src.column_type
            ));
        }
        out.push((i, n as u8));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::ColumnSpec;

    fn map(types: &[u8]) -> TableMap {
        let columns = types
            .iter()
            .enumerate()
            .map(|(i, &t)| ColumnSpec::of_type(i as u16, "", t))
            .collect();
        TableMap {
            table_id: 1,
            flags: 0,
            schema: "d".into(),
            table: "t".into(),
            columns,
            kinds: Vec::new(),
            json_columns: 0,
            has_optional_metadata: false,
            has_column_names: false,
        }
    }

    fn col(data_type: &str, column_type: &str, precision: Option<u64>) -> SourceColumn {
        SourceColumn {
            name: "c".into(),
            data_type: data_type.into(),
            column_type: column_type.into(),
            precision,
        }
    }

    #[test]
    fn marked_columns_give_their_precision() {
        let tm = map(&[3, TIME, DATETIME, TIMESTAMP]);
        let cols = [
            col("int", "int(11)", None),
            col("time", "time(1) /* mariadb-5.3 */", Some(1)),
            col("datetime", "datetime /* mariadb-5.3 */", Some(0)),
            col("timestamp", "timestamp(6) /* mariadb-5.3 */", Some(6)),
        ];
        assert_eq!(resolve(&tm, &[1, 2, 3], &cols, true), Ok(vec![(1, 1), (2, 0), (3, 6)]));
    }

    #[test]
    fn a_changed_definition_is_an_error_naming_table_column_and_fix() {
        let tm = map(&[3, TIME]);
        // Converted to the 5.6 format since the event.
        let cols = [col("int", "int(11)", None), col("time", "time(1)", Some(1))];
        let e = resolve(&tm, &[1], &cols, true).expect_err("an error");
        assert!(
            e.contains("`d`.`t` column 2") && e.contains("ALTER TABLE ... FORCE"),
            "{e}"
        );
        // Even at n = 0 on MariaDB: the marker is what proves the format.
        let cols = [col("int", "int(11)", None), col("time", "time", Some(0))];
        assert!(resolve(&tm, &[1], &cols, true).is_err());
        // A column added since.
        let cols = [
            col("int", "int(11)", None),
            col("time", "time(1) /* mariadb-5.3 */", Some(1)),
            col("int", "int(11)", None),
        ];
        assert!(resolve(&tm, &[1], &cols, true)
            .expect_err("an error")
            .contains("2 columns in the binlog event but 3"));
        // Another type at that position.
        let cols = [
            col("int", "int(11)", None),
            col("datetime", "datetime(1) /* mariadb-5.3 */", Some(1)),
        ];
        assert!(resolve(&tm, &[1], &cols, true).is_err());
        // Dropped.
        assert!(resolve(&tm, &[1], &[], true)
            .expect_err("an error")
            .contains("no longer exists"));
    }

    #[test]
    fn mysql_old_temporals_are_precision_zero_only() {
        let tm = map(&[TIME]);
        assert_eq!(
            resolve(&tm, &[0], &[col("time", "time", Some(0))], false),
            Ok(vec![(0, 0)])
        );
        assert!(resolve(&tm, &[0], &[col("time", "time(3)", Some(3))], false).is_err());
    }
}

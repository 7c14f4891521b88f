//! Large `UPDATE`s of tables without any index, applied set-based.
//!
//! The server's row applier finds each before image of a rows event by
//! scanning the table from its start (`Rows_log_event::find_row`): on a table
//! without any index, an event that updates all *n* rows costs *n²/2* row
//! comparisons (a 24k-row `UPDATE` takes four minutes on MariaDB's own
//! replica). Deletes are cheap (the rows found first are gone), updates are
//! not. For an `UPDATE` event of at least [`MIN_ROWS`] rows on an eligible
//! table, the applier instead, in its open target transaction, under a
//! savepoint:
//!
//! 1. copies the before images into a temporary table created from the
//!    table's own columns (`CREATE TEMPORARY TABLE .. SELECT .. LIMIT 0`;
//!    character columns as `CAST(.. AS BINARY)`, so that their bytes go in
//!    unconverted, as the row applier stored them, even where the column's
//!    character set would not take them as they are), with the SQL row
//!    statements' binding;
//! 2. keeps the table's rows less the multiset of before images: rows are
//!    grouped by a digest of their *binary* values (`SHA2` of every column's
//!    `BINARY` text, length-prefixed, `N` for NULL: equal exactly when the
//!    server's `record_compare` finds the records equal), numbered within
//!    their group, and a group loses as many rows as there are before images
//!    of it;
//! 3. if the table held every before image (rows before = rows kept + before
//!    images), replaces the table's rows with the kept ones and writes the
//!    after images with the server's row applier (`BINLOG`, as every row);
//!    otherwise rolls back to the savepoint and the event applies row by row
//!    as usual (a before image may match a row an earlier image of the same
//!    event wrote; the row-by-row path also gives the server's own error for
//!    a row that is really missing).
//!
//! The result is the multiset the server's applier leaves; only the physical
//! order of the rows differs, which no later row event depends on (each
//! finds *a* row equal to its before image; duplicates are indistinguishable).
//!
//! Eligible ([`eligible_run`], [`TargetTable`]): an InnoDB, MyISAM or Aria
//! base table (not system-versioned) with no index, no trigger and no
//! generated or invisible column (CHECK constraints are evaluated for the
//! after images, not for the rows kept), whose columns are the event's (same
//! names, same order), each of a type moved exactly ([`EXACT_TYPES`]: not
//! `FLOAT` or `DOUBLE`, whose text form loses bits, nor `INET6` or `UUID`); the event carries full before and after images and column names;
//! not an XA branch; a MariaDB target whose session binlogs rows or
//! nothing. On a target that binlogs its changes (`log-slave-updates`), the
//! table's rewrite is what it logs.
//!
//! Crash safety: on InnoDB the rewrite is part of the block's transaction,
//! exactly once like any row. A MyISAM or Aria table is changed for good by
//! each statement, on this path as row by row: an apply cut short in the
//! middle (the replicator killed, the connection lost) leaves the table
//! changed without its position, and the retry finds before images missing
//! and stops with the server's 1032, on either path (never silently). The
//! rewrite keeps that window to one round trip (`DELETE` and `INSERT ..
//! SELECT` sent together), then the after images.

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use thl::event::{ColumnSpec, ReplEvent, RowAction, RowChanges, RowImage};
use tracing::{debug, info};

use super::error::Ctx;
use super::sql::{quote_ident, table_name, InsertVerb};
use super::{connected, get, Applier, ApplyError};

/// The fewest rows of an `UPDATE` event worth the set-based path.
pub const MIN_ROWS: usize = 256;

/// `MYSQL_TYPE_FLOAT`, `MYSQL_TYPE_DOUBLE`.
const FLOATING_TYPES: [u8; 2] = [4, 5];

/// The length of the run of row changes at the start of `changes` that may
/// go set-based together: `UPDATE`s of one table with the same columns (the
/// server splits one statement's rows in events of 8 KiB), at least
/// [`MIN_ROWS`] rows in all; 0 when the first change cannot (module doc).
/// The target's table is checked apart ([`TargetTable`]).
pub(crate) fn eligible_run(changes: &[&RowChanges]) -> usize {
    let Some(first) = changes.first().filter(|rc| eligible(rc)) else {
        return 0;
    };
    let n = changes
        .iter()
        .take_while(|rc| {
            rc.schema == first.schema && rc.table == first.table && rc.columns == first.columns && eligible(rc)
        })
        .count();
    let rows: usize = changes[..n].iter().map(|rc| rc.rows.len()).sum();
    if rows >= MIN_ROWS {
        n
    } else {
        0
    }
}

/// Whether one change has the shape the set-based path needs.
fn eligible(rc: &RowChanges) -> bool {
    let all = rc.columns.len();
    // A primary key on the source (when its binlog says so) rules the
    // table out without asking the target.
    rc.action == RowAction::Update
        && rc.columns.iter().all(|c| !c.key)
        && rc.before_columns.len() == all
        && rc.after_columns.len() == all
        && rc
            .columns
            .iter()
            .all(|c| !c.name.is_empty() && !FLOATING_TYPES.contains(&c.type_code))
}

/// What the target says of the table (one query, [`target_table_sql`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetTable {
    pub engine: String,
    pub table_type: String,
    pub indexes: u64,
    pub triggers: u64,
    pub generated: u64,
    /// Column names in table order, comma-separated.
    pub columns: String,
    /// Their `DATA_TYPE`s, comma-separated.
    pub data_types: String,
    /// A MariaDB target (`check_constraint_checks`), whose session does not
    /// binlog, or binlogs rows: temporary tables and `INSERT .. SELECT`
    /// from them stay out of any binlog statement.
    pub session_ok: bool,
}

impl TargetTable {
    /// Whether the set-based path may rewrite this table for `rc`.
    pub fn allows(&self, rc: &RowChanges) -> bool {
        let names: Vec<&str> = rc.columns.iter().map(|c| c.name.as_str()).collect();
        ["InnoDB", "MyISAM", "Aria"]
            .iter()
            .any(|e| self.engine.eq_ignore_ascii_case(e))
            && self.table_type == "BASE TABLE"
            && self.indexes == 0
            && self.triggers == 0
            && self.generated == 0
            && self.columns == names.join(",")
            && self.data_types.split(',').all(|t| EXACT_TYPES.contains(&t))
            && self.session_ok
    }
}

/// The query whose one row is a [`TargetTable`]; parameters: schema and
/// table, seven times.
pub(crate) fn target_table_sql() -> &'static str {
    "SELECT \
       (SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), \
       (SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), \
       (SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), \
       (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?), \
       (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
          AND (IS_GENERATED <> 'NEVER' OR EXTRA LIKE '%INVISIBLE%')), \
       (SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY ORDINAL_POSITION SEPARATOR ',') FROM information_schema.COLUMNS \
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), \
       (SELECT GROUP_CONCAT(DATA_TYPE ORDER BY ORDINAL_POSITION SEPARATOR ',') FROM information_schema.COLUMNS \
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?), \
       (@@session.sql_log_bin = 0 OR @@session.binlog_format = 'ROW') AND @@version LIKE '%MariaDB%'"
}

/// The statements of the set-based path, for `table` (quoted, qualified)
/// and temporary tables in `scratch_schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Drops what an earlier attempt may have left.
    pub drop_scratch: String,
    /// Creates the (empty) table of before images.
    pub create_before: String,
    /// The before images' table, quoted and qualified (rows go in with the
    /// row statements' `INSERT`).
    pub before: String,
    /// Creates the table of the rows kept.
    pub create_keep: String,
    /// `rows now, rows kept, before images`.
    pub counts: String,
    /// Replaces the table's rows with the kept ones, in one round trip (which
    /// were in the table already: their CHECK constraints are not evaluated
    /// again, as the server's row applier would not).
    pub replace_rows: String,
}

/// The digest of a row's binary values (module doc).
fn digest(cols: &[&str]) -> String {
    let parts: Vec<String> = cols
        .iter()
        .map(|c| format!("IF({c} IS NULL, 'N', CONCAT('V', LENGTH(BINARY {c}), ':', BINARY {c}))"))
        .collect();
    format!("SHA2(CONCAT({}), 256)", parts.join(", "))
}

/// The statements for `columns` of `table` (both as the event names them).
/// `text[i]`: column `i` holds characters (its before image is kept as
/// bytes: a value the column's character set would not take as it is, and
/// the row applier stored, must not be converted on its way in).
pub(crate) fn plan(scratch_schema: &str, table: &str, columns: &[ColumnSpec], text: &[bool]) -> Plan {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(&c.name)).collect();
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let list = cols.join(", ");
    let before_list: Vec<String> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if text.get(i).copied().unwrap_or(false) {
                format!("CAST({c} AS BINARY) AS {c}")
            } else {
                c.clone()
            }
        })
        .collect();
    let scratch = quote_ident(scratch_schema);
    let before = format!("{scratch}.`keyless_before`");
    let keep = format!("{scratch}.`keyless_keep`");
    let x_list: Vec<String> = cols.iter().map(|c| format!("x.{c}")).collect();
    Plan {
        drop_scratch: format!("DROP TEMPORARY TABLE IF EXISTS {before}, {keep}"),
        create_before: format!(
            "CREATE TEMPORARY TABLE {before} ENGINE=InnoDB SELECT {} FROM {table} LIMIT 0",
            before_list.join(", ")
        ),
        create_keep: format!(
            "CREATE TEMPORARY TABLE {keep} ENGINE=InnoDB SELECT {} FROM \
             (SELECT {list}, {d} AS `tungsten_h`, ROW_NUMBER() OVER (PARTITION BY {d}) AS `tungsten_n` FROM {table}) x \
             LEFT JOIN (SELECT {d} AS `tungsten_h`, COUNT(*) AS `tungsten_k` FROM {before} GROUP BY 1) b \
             ON x.`tungsten_h` = b.`tungsten_h` WHERE x.`tungsten_n` > IFNULL(b.`tungsten_k`, 0)",
            x_list.join(", "),
            d = digest(&refs),
        ),
        counts: format!(
            "SELECT (SELECT COUNT(*) FROM {table}), (SELECT COUNT(*) FROM {keep}), (SELECT COUNT(*) FROM {before})"
        ),
        before,
        replace_rows: format!(
            "SET @tungsten_checks = @@session.check_constraint_checks, @@session.check_constraint_checks = 0; \
             DELETE FROM {table}; INSERT INTO {table} ({list}) SELECT {list} FROM {keep}; \
             SET @@session.check_constraint_checks = @tungsten_checks"
        ),
    }
}

/// The `DATA_TYPE`s whose values the set-based path moves exactly: the
/// SQL binding of a before image stores what the row applier stored, and
/// `BINARY` of it is its bytes or an exact text. Others (`float`, `double`:
/// inexact text; `inet6`, `uuid`: their binary image is not their text)
/// go row by row.
const EXACT_TYPES: &[&str] = &[
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "bigint",
    "decimal",
    "date",
    "datetime",
    "timestamp",
    "time",
    "year",
    "char",
    "varchar",
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
    "bit",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geometry",
];

impl TargetTable {
    /// For each column, whether it holds characters.
    fn text_columns(&self) -> Vec<bool> {
        self.data_types
            .split(',')
            .map(|t| matches!(t, "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"))
            .collect()
    }

    fn from_row(row: &Row) -> Option<TargetTable> {
        Some(TargetTable {
            engine: get::<Option<String>>(row, 0).ok()??,
            table_type: get::<Option<String>>(row, 1).ok()??,
            indexes: get(row, 2).ok()?,
            triggers: get(row, 3).ok()?,
            generated: get(row, 4).ok()?,
            columns: get::<Option<String>>(row, 5).ok()??,
            data_types: get::<Option<String>>(row, 6).ok()??,
            session_ok: get::<i64>(row, 7).ok()? != 0,
        })
    }
}

/// The rows of `run` (changes of one table with the same columns) as one
/// insert of their before or after images.
fn inserts_of(run: &[&RowChanges], before: bool) -> RowChanges {
    let first = run[0];
    let image = |r: &RowImage| if before { r.before.clone() } else { r.after.clone() };
    RowChanges {
        schema: first.schema.clone(),
        table: first.table.clone(),
        action: RowAction::Insert,
        columns: first.columns.clone(),
        before_columns: Vec::new(),
        after_columns: if before {
            first.before_columns.clone()
        } else {
            first.after_columns.clone()
        },
        flags: first.flags,
        rows: run
            .iter()
            .flat_map(|rc| &rc.rows)
            .map(|r| RowImage {
                before: Vec::new(),
                after: image(r),
            })
            .collect(),
    }
}

impl Applier {
    /// Applies `run` (an [`eligible_run`]) set-based (module doc):
    /// `Ok(false)` when the table is not eligible, or did not hold every
    /// before image as it stood; the caller then applies it row by row.
    pub(super) async fn apply_keyless_update(
        &mut self,
        ev: &ReplEvent,
        run: &[&RowChanges],
    ) -> Result<bool, ApplyError> {
        // Savepoints and temporary tables are not for an XA branch.
        if ev.body.metadata_value(thl::event::meta::XA).is_some() {
            return Ok(false);
        }
        let rc = run[0];
        let table = table_name(&rc.schema, &rc.table);
        let ctx = Ctx {
            table: Some(table.clone()),
            ..self.ctx(ev)
        };
        self.flush_batch().await?;
        let names = [rc.schema.as_str(), rc.table.as_str()];
        let params: Vec<&str> = names.iter().copied().cycle().take(14).collect();
        let conn = connected(&mut self.conn, &ctx)?;
        let row: Option<Row> = conn
            .exec_first(target_table_sql(), params)
            .await
            .map_err(|e| ctx.classify(e))?;
        let rows: usize = run.iter().map(|rc| rc.rows.len()).sum();
        let target = match row.as_ref().and_then(TargetTable::from_row) {
            Some(t) if t.allows(rc) => t,
            other => {
                debug!(seqno = %ev.header.seqno, table = %table, rows, target = ?other,
                    "large UPDATE: the table does not allow the set-based path; row by row");
                return Ok(false);
            }
        };
        self.row_context(None, &ctx).await?;
        let plan = plan(&self.names.schema, &table, &rc.columns, &target.text_columns());
        for sql in ["SAVEPOINT tungsten_keyless", &plan.drop_scratch, &plan.create_before] {
            self.query(sql.as_bytes(), &ctx).await?;
        }
        let columns: Vec<&ColumnSpec> = rc.columns.iter().collect();
        self.insert_rows(&inserts_of(run, true), &columns, &plan.before, &ctx, InsertVerb::Insert)
            .await?;
        self.flush_batch().await?;
        self.query(plan.create_keep.as_bytes(), &ctx).await?;
        let conn = connected(&mut self.conn, &ctx)?;
        let counts: Option<(u64, u64, u64)> = conn
            .query_first(plan.counts.as_str())
            .await
            .map_err(|e| ctx.classify(e))?;
        let held_all = counts.is_some_and(|(now, kept, before)| now == kept + before);
        if held_all {
            self.query(plan.replace_rows.as_bytes(), &ctx).await?;
            self.apply_rows_binlog(ev, &[&inserts_of(run, false)]).await?;
        } else {
            info!(seqno = %ev.header.seqno, table = %table, rows, counts = ?counts,
                "large UPDATE of a table without an index: not every before image was in the table as it stood \
                 (rows now, kept, before images); row by row");
            self.query(b"ROLLBACK TO SAVEPOINT tungsten_keyless", &ctx).await?;
        }
        for sql in [plan.drop_scratch.as_str(), "RELEASE SAVEPOINT tungsten_keyless"] {
            self.query(sql.as_bytes(), &ctx).await?;
        }
        self.stats.set_based_updates += u64::from(held_all);
        Ok(held_all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::{RowFlags, RowImage, Value};

    fn col(name: &str, type_code: u8) -> ColumnSpec {
        ColumnSpec::of_type(0, name, type_code)
    }

    fn update(columns: Vec<ColumnSpec>, rows: usize) -> RowChanges {
        let all: Vec<u16> = (0..columns.len() as u16).collect();
        let image = vec![Value::Null; columns.len()];
        RowChanges {
            schema: "d".into(),
            table: "t".into(),
            action: RowAction::Update,
            columns,
            before_columns: all.clone(),
            after_columns: all,
            flags: RowFlags::default(),
            rows: vec![
                RowImage {
                    before: image.clone(),
                    after: image,
                };
                rows
            ],
        }
    }

    #[test]
    fn only_large_full_image_updates_without_floats_are_eligible() {
        let cols = || vec![col("a", 3), col("b", 15)];
        let one = |rc: RowChanges| eligible_run(&[&rc]);
        assert_eq!(one(update(cols(), MIN_ROWS)), 1);
        assert_eq!(one(update(cols(), MIN_ROWS - 1)), 0);
        assert_eq!(one(update(vec![col("a", 3), col("f", 5)], MIN_ROWS)), 0);
        assert_eq!(one(update(vec![col("", 3)], MIN_ROWS)), 0);
        let mut partial = update(cols(), MIN_ROWS);
        partial.before_columns.pop();
        assert_eq!(one(partial), 0);
        let mut delete = update(cols(), MIN_ROWS);
        delete.action = RowAction::Delete;
        assert_eq!(one(delete), 0);
        let mut keyed = update(cols(), MIN_ROWS);
        keyed.columns[0].key = true;
        assert_eq!(one(keyed), 0);
        // The server's 8 KiB events of one statement count together, up
        // to another table.
        let small = update(cols(), MIN_ROWS / 2);
        let mut other = update(cols(), MIN_ROWS);
        other.table = "u".into();
        assert_eq!(eligible_run(&[&small, &small, &other]), 2);
        assert_eq!(eligible_run(&[&small, &other]), 0);
        assert_eq!(eligible_run(&[]), 0);
    }

    #[test]
    fn only_plain_keyless_tables_of_row_engines_with_the_events_columns_are_rewritten() {
        let rc = update(vec![col("a", 3), col("b", 15)], MIN_ROWS);
        let ok = TargetTable {
            engine: "InnoDB".into(),
            table_type: "BASE TABLE".into(),
            indexes: 0,
            triggers: 0,
            generated: 0,
            columns: "a,b".into(),
            data_types: "int,varchar".into(),
            session_ok: true,
        };
        assert!(ok.allows(&rc));
        assert!(TargetTable {
            engine: "MyISAM".into(),
            ..ok.clone()
        }
        .allows(&rc));
        for bad in [
            TargetTable {
                engine: "ARCHIVE".into(),
                ..ok.clone()
            },
            TargetTable {
                table_type: "SYSTEM VERSIONED".into(),
                ..ok.clone()
            },
            TargetTable {
                indexes: 1,
                ..ok.clone()
            },
            TargetTable {
                triggers: 1,
                ..ok.clone()
            },
            TargetTable {
                generated: 1,
                ..ok.clone()
            },
            TargetTable {
                columns: "b,a".into(),
                ..ok.clone()
            },
            TargetTable {
                data_types: "int,inet6".into(),
                ..ok.clone()
            },
            TargetTable {
                session_ok: false,
                ..ok.clone()
            },
        ] {
            assert!(!bad.allows(&rc), "{bad:?}");
        }
    }

    #[test]
    fn statements() {
        let p = plan(
            "tungsten_alpha",
            "`d`.`t`",
            &[col("a", 3), col("b`c", 15)],
            &[false, true],
        );
        assert_eq!(
            p.drop_scratch,
            "DROP TEMPORARY TABLE IF EXISTS `tungsten_alpha`.`keyless_before`, `tungsten_alpha`.`keyless_keep`"
        );
        assert_eq!(
            p.create_before,
            "CREATE TEMPORARY TABLE `tungsten_alpha`.`keyless_before` ENGINE=InnoDB SELECT `a`, CAST(`b``c` AS BINARY) \
             AS `b``c` FROM `d`.`t` LIMIT 0"
        );
        let d = "SHA2(CONCAT(IF(`a` IS NULL, 'N', CONCAT('V', LENGTH(BINARY `a`), ':', BINARY `a`)), \
                 IF(`b``c` IS NULL, 'N', CONCAT('V', LENGTH(BINARY `b``c`), ':', BINARY `b``c`))), 256)";
        assert!(
            p.create_keep.contains(&format!("ROW_NUMBER() OVER (PARTITION BY {d})")),
            "{}",
            p.create_keep
        );
        assert!(p.create_keep.starts_with(
            "CREATE TEMPORARY TABLE `tungsten_alpha`.`keyless_keep` ENGINE=InnoDB SELECT x.`a`, x.`b``c` FROM"
        ));
        assert_eq!(
            p.replace_rows,
            "SET @tungsten_checks = @@session.check_constraint_checks, @@session.check_constraint_checks = 0; \
             DELETE FROM `d`.`t`; INSERT INTO `d`.`t` (`a`, `b``c`) SELECT `a`, `b``c` FROM `tungsten_alpha`.`keyless_keep`; \
             SET @@session.check_constraint_checks = @tungsten_checks"
        );
    }
}

//! Row changes → parameterised SQL.
//!
//! * INSERT: `INSERT INTO `db`.`t` (`a`,`b`) VALUES (?,?),(?,?)`, consecutive
//!   rows of one [`RowChanges`] batched while the batch stays under
//!   [`MAX_PLACEHOLDERS`] placeholders and the byte cap.
//! * UPDATE: `UPDATE `db`.`t` SET `a`=?,.. WHERE `k`=? AND ..`, one row per
//!   statement (the affected-row count of each row is checked).
//! * DELETE: `DELETE FROM `db`.`t` WHERE `k`=? AND ..`, one row per statement.
//!
//! The WHERE clause uses the primary key columns ([`ColumnSpec::key`]) when
//! the before image holds all of them; otherwise every before-image column,
//! compared NULL-safely (`<=>`), with `LIMIT 1` so that one of several
//! identical rows of a table without a key is changed, as on the source.
//! DECIMAL values are compared as `CAST(? AS DECIMAL(p,s))`: MySQL compares
//! a string with a DECIMAL column as DOUBLE (MariaDB 10.11 is exact either
//! way; the cast keeps it explicit).

use thl::event::{ColumnSpec, RowChanges};

/// The protocol's limit on placeholders in one prepared statement is 65535.
pub const MAX_PLACEHOLDERS: usize = 65_535;

/// `MYSQL_TYPE_NEWDECIMAL`.
const TYPE_NEWDECIMAL: u8 = 246;

/// `` `name` `` with backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `schema`.`table` ``.
pub fn table_name(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// The column specs of an image, in image order. `Err` says what is wrong
/// (an index out of range or a column without a name).
pub(crate) fn image_columns<'a>(rc: &'a RowChanges, indexes: &[u16]) -> Result<Vec<&'a ColumnSpec>, String> {
    indexes
        .iter()
        .map(|&i| {
            let col = rc
                .columns
                .get(usize::from(i))
                .ok_or_else(|| format!("image column index {i} out of range ({} columns)", rc.columns.len()))?;
            if col.name.is_empty() {
                return Err(format!(
                    "column {} has no name in the event (the source gave no column names; \
                     enable binlog_row_metadata=FULL on the source or provide the schema history)",
                    i + 1
                ));
            }
            Ok(col)
        })
        .collect()
}

/// How rows are found: which before-image positions, and how compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    /// Positions in the before image.
    pub positions: Vec<usize>,
    /// True when the table's primary key is used (`=`, no LIMIT).
    pub by_primary_key: bool,
}

/// The columns that identify a row in the before image.
pub(crate) fn key_plan(before: &[&ColumnSpec], table_columns: &[ColumnSpec]) -> KeyPlan {
    let key_count = table_columns.iter().filter(|c| c.key).count();
    let key_positions: Vec<usize> = before
        .iter()
        .enumerate()
        .filter(|(_, c)| c.key)
        .map(|(p, _)| p)
        .collect();
    if key_count > 0 && key_positions.len() == key_count {
        KeyPlan {
            positions: key_positions,
            by_primary_key: true,
        }
    } else {
        KeyPlan {
            positions: (0..before.len()).collect(),
            by_primary_key: false,
        }
    }
}

fn placeholder(col: &ColumnSpec) -> String {
    if col.type_code == TYPE_NEWDECIMAL && col.type_meta >> 8 > 0 {
        format!("CAST(? AS DECIMAL({},{}))", col.type_meta >> 8, col.type_meta & 0xff)
    } else {
        "?".to_owned()
    }
}

fn where_clause(before: &[&ColumnSpec], plan: &KeyPlan) -> String {
    let op = if plan.by_primary_key { "=" } else { "<=>" };
    let conds: Vec<String> = plan
        .positions
        .iter()
        .map(|&p| format!("{}{op}{}", quote_ident(&before[p].name), placeholder(before[p])))
        .collect();
    let mut s = format!(" WHERE {}", conds.join(" AND "));
    if !plan.by_primary_key {
        s.push_str(" LIMIT 1");
    }
    s
}

/// How rows are inserted: `INSERT`, or `REPLACE` (an existing row of the same
/// key is replaced: for the tracking schemas' heartbeat rows only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertVerb {
    Insert,
    Replace,
}

/// `INSERT|REPLACE INTO t (cols) VALUES (?,..),..` for `rows` rows.
pub(crate) fn insert_sql(verb: InsertVerb, table: &str, cols: &[&ColumnSpec], rows: usize) -> String {
    let names: Vec<String> = cols.iter().map(|c| quote_ident(&c.name)).collect();
    let one = format!("({})", vec!["?"; cols.len()].join(","));
    let mut s = String::with_capacity(32 + table.len() + names.len() * 12 + rows * one.len());
    s.push_str(match verb {
        InsertVerb::Insert => "INSERT INTO ",
        InsertVerb::Replace => "REPLACE INTO ",
    });
    s.push_str(table);
    s.push_str(" (");
    s.push_str(&names.join(","));
    s.push_str(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push_str(&one);
    }
    s
}

/// `UPDATE t SET a=?,.. WHERE ..`.
pub(crate) fn update_sql(table: &str, after: &[&ColumnSpec], before: &[&ColumnSpec], plan: &KeyPlan) -> String {
    let sets: Vec<String> = after.iter().map(|c| format!("{}=?", quote_ident(&c.name))).collect();
    format!("UPDATE {table} SET {}{}", sets.join(","), where_clause(before, plan))
}

/// `DELETE FROM t WHERE ..`.
pub(crate) fn delete_sql(table: &str, before: &[&ColumnSpec], plan: &KeyPlan) -> String {
    format!("DELETE FROM {table}{}", where_clause(before, plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::RowAction;

    fn col(index: u16, name: &str, key: bool) -> ColumnSpec {
        ColumnSpec {
            index,
            name: name.into(),
            type_code: 3,
            type_meta: 0,
            unsigned: false,
            nullable: !key,
            key,
            collation: None,
            type_desc: "int".into(),
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(table_name("d", "t"), "`d`.`t`");
    }

    #[test]
    fn statements() {
        let cols = [col(0, "id", true), col(1, "v", false)];
        let refs: Vec<&ColumnSpec> = cols.iter().collect();
        assert_eq!(
            insert_sql(InsertVerb::Insert, "`d`.`t`", &refs, 2),
            "INSERT INTO `d`.`t` (`id`,`v`) VALUES (?,?),(?,?)"
        );
        let plan = key_plan(&refs, &cols);
        assert_eq!(
            plan,
            KeyPlan {
                positions: vec![0],
                by_primary_key: true
            }
        );
        assert_eq!(
            update_sql("`d`.`t`", &refs, &refs, &plan),
            "UPDATE `d`.`t` SET `id`=?,`v`=? WHERE `id`=?"
        );
        let nokey = [col(0, "a", false), col(1, "b", false)];
        let refs: Vec<&ColumnSpec> = nokey.iter().collect();
        let plan = key_plan(&refs, &nokey);
        assert_eq!(
            delete_sql("`d`.`t`", &refs, &plan),
            "DELETE FROM `d`.`t` WHERE `a`<=>? AND `b`<=>? LIMIT 1"
        );
        let mut dec = col(0, "x", false);
        dec.type_code = TYPE_NEWDECIMAL;
        dec.type_meta = (65 << 8) | 30;
        assert_eq!(
            delete_sql(
                "t",
                &[&dec],
                &KeyPlan {
                    positions: vec![0],
                    by_primary_key: false
                }
            ),
            "DELETE FROM t WHERE `x`<=>CAST(? AS DECIMAL(65,30)) LIMIT 1"
        );
    }

    #[test]
    fn image_column_errors() {
        let rc = RowChanges {
            schema: "d".into(),
            table: "t".into(),
            action: RowAction::Insert,
            columns: vec![col(0, "", false)],
            before_columns: vec![],
            after_columns: vec![0],
            flags: thl::event::RowFlags::default(),
            rows: vec![],
        };
        assert!(image_columns(&rc, &[0]).expect_err("unnamed").contains("no name"));
        assert!(image_columns(&rc, &[3])
            .expect_err("out of range")
            .contains("out of range"));
    }
}

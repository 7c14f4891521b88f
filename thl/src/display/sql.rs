//! The `thl list -sql` output: a script that re-executes the listed events.

use std::collections::HashMap;

use crate::event::{Change, ColumnSpec, EventHeader, ReplEvent, RowAction, RowChanges, RowImage, Statement, Value};

use super::session::{timestamp_text, tracked_settings, user_var_literal};
use super::value::sql_literal;
use super::{filtered_range_text, header_summary};

/// `` `name` `` with backticks doubled.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Builds the `-sql` script event by event; it remembers the session state
/// it has set (default database, session variables) so it only emits what
/// changes, like an applier on one connection.
///
/// The script, per event:
///
/// * a comment `-- SEQ# = .. / FRAG# = .. / EPOCH# = .. / EVENTID = ..`;
/// * `BEGIN;` at the first fragment and `COMMIT;` (`ROLLBACK;` when the
///   source rolled back) at the last, except around an event made of one
///   statement (DDL and the like run on their own);
/// * statements: `USE db;` when the default database changes,
///   `SET @@session.x=..;` for session variables whose value changes
///   (numeric `sql_mode` and collation ids, as `mysqlbinlog` writes them),
///   `SET INSERT_ID/LAST_INSERT_ID/@@RAND_SEED1/@var`, `SET TIMESTAMP=..;`,
///   then the text and `;` (between `DELIMITER` lines when the text holds a
///   `;`). Statement text is shown as UTF-8 (lossily);
/// * row changes as real `INSERT`/`UPDATE`/`DELETE` statements, one per
///   row, values as [`sql_literal`]s, after `SET time_zone='+00:00'` (so
///   TIMESTAMP literals, written in UTC, are exact). `UPDATE` and `DELETE`
///   match on the key columns (all before-image columns when the key is
///   unknown or not in the image), `IS NULL` for NULLs, and end with
///   `LIMIT 1`: one row image is one row, even in a table with duplicate
///   rows. When column names are unknown the statement is written as a
///   comment with `@1`, `@2` .. for the columns;
/// * a filtered range as a comment.
#[derive(Debug, Default)]
pub struct SqlScript {
    schema: Option<String>,
    settings: HashMap<&'static str, String>,
}

impl SqlScript {
    pub fn new() -> SqlScript {
        SqlScript::default()
    }

    /// The script lines of one event (fragment), each ending in `\n`.
    pub fn event(&mut self, ev: &ReplEvent) -> String {
        let h = &ev.header;
        let mut out = format!("-- {}\n", header_summary(h));
        if h.is_filtered() {
            out.push_str(&format!("-- {}\n", filtered_range_text(h)));
            return out;
        }
        let whole = h.fragno == 0 && h.last_frag;
        let lone_statement =
            ev.body.changes.len() == 1 && matches!(ev.body.changes.first(), Some(Change::Statement(_)));
        let bracket = !(whole && (lone_statement || ev.body.changes.is_empty()));
        if bracket && h.fragno == 0 {
            out.push_str("BEGIN;\n");
        }
        for c in &ev.body.changes {
            match c {
                Change::Statement(s) => self.statement(h, s, &mut out),
                Change::Rows(r) => self.rows(r, &mut out),
            }
        }
        if bracket && h.last_frag {
            if ev.body.metadata_value(crate::event::meta::ROLLBACK) == Some("true") {
                out.push_str("ROLLBACK;\n");
            } else {
                out.push_str("COMMIT;\n");
            }
        }
        out
    }

    fn set(&mut self, name: &'static str, value: String, sets: &mut Vec<String>) {
        if self.settings.get(name) != Some(&value) {
            sets.push(format!("@@session.{name}={value}"));
            self.settings.insert(name, value);
        }
    }

    fn statement(&mut self, h: &EventHeader, s: &Statement, out: &mut String) {
        if let Some(db) = &s.default_db {
            if self.schema.as_deref() != Some(db) {
                out.push_str(&format!("USE {};\n", quote_ident(db)));
                self.schema = Some(db.clone());
            }
        }
        let mut sets = Vec::new();
        for (name, value) in tracked_settings(&s.session) {
            self.set(name, value, &mut sets);
        }
        if !sets.is_empty() {
            out.push_str(&format!("SET {};\n", sets.join(", ")));
        }
        let sv = &s.session;
        if let Some(v) = sv.insert_id {
            out.push_str(&format!("SET INSERT_ID={v};\n"));
        }
        if let Some(v) = sv.last_insert_id {
            out.push_str(&format!("SET LAST_INSERT_ID={v};\n"));
        }
        if let Some((a, b)) = sv.rand_seeds {
            out.push_str(&format!("SET @@RAND_SEED1={a}, @@RAND_SEED2={b};\n"));
        }
        for u in &sv.user_vars {
            out.push_str(&format!("SET @{}:={};\n", quote_ident(&u.name), user_var_literal(u)));
        }
        let ts = sv.timestamp_us.unwrap_or(h.source_tstamp_ms.saturating_mul(1000));
        out.push_str(&format!("SET TIMESTAMP={};\n", timestamp_text(ts)));
        if s.error_code != 0 {
            out.push_str(&format!(
                "-- the statement failed on the source with error {}\n",
                s.error_code
            ));
        }
        if let Some(data) = &s.infile {
            out.push_str(&format!(
                "-- LOAD DATA LOCAL reads {} bytes carried in the THL (`thl list` cannot send them)\n",
                data.len()
            ));
        }
        let text = String::from_utf8_lossy(&s.sql);
        // A trailing `;` would end up inside the statement sent to the server.
        let text = text.trim_end().trim_end_matches(';').trim_end();
        if text.contains(';') {
            let delim = ["$$", "//", ";;", "$$$$", "#!#"]
                .into_iter()
                .find(|d| !text.contains(d))
                .unwrap_or("/*!thl!*/");
            out.push_str(&format!("DELIMITER {delim}\n{text}{delim}\nDELIMITER ;\n"));
        } else {
            out.push_str(text);
            out.push_str(";\n");
        }
    }

    fn rows(&mut self, r: &RowChanges, out: &mut String) {
        let mut sets = Vec::new();
        self.set("time_zone", "'+00:00'".to_string(), &mut sets);
        if !sets.is_empty() {
            out.push_str(&format!("SET {};\n", sets.join(", ")));
        }
        for row in &r.rows {
            out.push_str(&row_sql(r, row));
            out.push('\n');
        }
    }
}

/// The columns of an image paired with their values; `None` for an index
/// outside the table (a malformed event).
fn image<'a>(r: &'a RowChanges, cols: &[u16], vals: &'a [Value]) -> Vec<(Option<&'a ColumnSpec>, u16, &'a Value)> {
    cols.iter()
        .zip(vals)
        .map(|(i, v)| (r.columns.get(usize::from(*i)), *i, v))
        .collect()
}

fn col_name(c: Option<&ColumnSpec>) -> Option<String> {
    c.filter(|c| !c.name.is_empty()).map(|c| quote_ident(&c.name))
}

fn literal(c: Option<&ColumnSpec>, v: &Value) -> String {
    match c {
        Some(c) => sql_literal(v, c),
        None => sql_literal(v, &unknown_column()),
    }
}

fn unknown_column() -> ColumnSpec {
    ColumnSpec::of_type(0, "", 15)
}

/// One row change as one SQL statement ending in `;` (or as a `-- `
/// comment when the column names needed are unknown).
pub fn row_sql(r: &RowChanges, row: &RowImage) -> String {
    let table = format!("{}.{}", quote_ident(&r.schema), quote_ident(&r.table));
    let after = image(r, &r.after_columns, &row.after);
    let before = image(r, &r.before_columns, &row.before);
    let named = std::cell::Cell::new(true);
    let mut name = |c: Option<&ColumnSpec>, i: u16| -> String {
        col_name(c).unwrap_or_else(|| {
            named.set(false);
            format!("@{}", u32::from(i) + 1)
        })
    };
    let sql = match r.action {
        RowAction::Insert => {
            let full = r.after_columns.len() == r.columns.len()
                && r.after_columns.iter().enumerate().all(|(k, i)| usize::from(*i) == k);
            let vals: Vec<String> = after.iter().map(|(c, _, v)| literal(*c, v)).collect();
            let names: Vec<String> = after.iter().map(|(c, i, _)| name(*c, *i)).collect();
            if !named.get() && full {
                named.set(true);
                format!("INSERT INTO {table} VALUES ({});", vals.join(", "))
            } else {
                format!(
                    "INSERT INTO {table} ({}) VALUES ({});",
                    names.join(", "),
                    vals.join(", ")
                )
            }
        }
        RowAction::Update => {
            let set: Vec<String> = after
                .iter()
                .map(|(c, i, v)| format!("{} = {}", name(*c, *i), literal(*c, v)))
                .collect();
            let wh = where_clause(r, &before, &mut name);
            format!("UPDATE {table} SET {} WHERE {wh} LIMIT 1;", set.join(", "))
        }
        RowAction::Delete => {
            let wh = where_clause(r, &before, &mut name);
            format!("DELETE FROM {table} WHERE {wh} LIMIT 1;")
        }
    };
    if named.get() {
        sql
    } else {
        format!("-- column names unknown: {sql}")
    }
}

/// `WHERE` terms: the key columns when the table's whole key is in the
/// before image, else every before-image column.
fn where_clause(
    r: &RowChanges,
    before: &[(Option<&ColumnSpec>, u16, &Value)],
    name: &mut impl FnMut(Option<&ColumnSpec>, u16) -> String,
) -> String {
    let key_cols: Vec<u16> = r.columns.iter().filter(|c| c.key).map(|c| c.index).collect();
    let keyed = !key_cols.is_empty()
        && key_cols
            .iter()
            .all(|k| before.iter().any(|(c, _, _)| c.is_some_and(|c| c.index == *k)));
    let chosen: Vec<_> = before
        .iter()
        .filter(|(c, _, _)| !keyed || c.is_some_and(|c| c.key))
        .collect();
    if chosen.is_empty() {
        // No before image: match nothing rather than every row.
        return "FALSE".to_string();
    }
    let parts: Vec<String> = chosen
        .iter()
        .map(|(c, i, v)| match v {
            Value::Null => format!("{} IS NULL", name(*c, *i)),
            v => format!("{} = {}", name(*c, *i), literal(*c, v)),
        })
        .collect();
    parts.join(" AND ")
}

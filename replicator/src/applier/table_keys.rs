//! What the target says of a table's keys, for the parallel scheduler
//! (`pipeline/dependencies.rs`): which column lists make two row changes
//! touch "the same row" on the target, and how each column's values
//! compare there.
//!
//! # Invariants
//!
//! * **Equal on the target ⇒ equal key.** [`Compare`] maps a value so that
//!   two values the target's index finds equal always map to the same key;
//!   two different values may share one (a false conflict only orders two
//!   transactions that could have run side by side). A value no rule can
//!   map safely (a non-ASCII string in a case- or accent-insensitive
//!   collation, a wide character set) is a *wildcard*: it conflicts with
//!   every value of that index.
//! * The key lists are the target's: its primary key, its unique keys (a
//!   NULL part means "no constraint" there), the column lists other tables'
//!   foreign keys reference, and this table's own foreign keys as keys of
//!   the parent (named by the parent, so that both sides meet). A
//!   constraint with a cascading action (`CASCADE`, `SET NULL`, `SET
//!   DEFAULT`) changes rows the binlog does not show: every write to either
//!   table of it takes one shared key, which orders them all.
//! * A table without a primary key also takes its table's key for each row
//!   image without a complete non-NULL unique key (the target finds such a
//!   row by its whole image).
//! * Anything else is [`TableKeys::Serial`]: not on the target, not
//!   InnoDB (non-transactional tables commit out of any order), a system
//!   versioned table or a sequence, a table with a unique key `WITHOUT
//!   OVERLAPS` (its conflicts are overlapping ranges, not equal values).
//!   A key column the THL does not name is a wildcard of its index.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::sql::table_name;

/// How a key column's values compare on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Exactly (numbers, temporals, `VARBINARY`/`BLOB`, `*_nopad_bin`).
    Exact,
    /// Bytes, trailing spaces ignored (`*_bin` collations, PAD SPACE).
    PadSpace,
    /// Bytes, trailing zero bytes ignored (`BINARY(n)` pads with them).
    PadZero,
    /// Printable ASCII compares as its lower case, trailing spaces
    /// ignored; anything else is a wildcard (every other collation).
    FoldAscii,
    /// Always a wildcard (wide character sets, types no rule covers).
    Opaque,
}

/// One key column: its name (lower case) and how it compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumn {
    pub name: String,
    pub compare: Compare,
    /// An index on a prefix: the first `prefix` characters (bytes for
    /// binary strings) count.
    pub prefix: Option<usize>,
}

/// A list of columns whose equal values conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIndex {
    /// Names the index across tables: a foreign key and the columns it
    /// references carry the same id.
    pub id: String,
    pub columns: Vec<KeyColumn>,
}

/// The scheduler's view of one target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableKeys {
    Keys {
        /// Primary and unique keys, and the column lists foreign keys
        /// reference (values with a NULL part add no key).
        unique: Vec<KeyIndex>,
        /// This table's foreign keys, as keys of the parent.
        parents: Vec<KeyIndex>,
        /// Keys every write to the table takes (its cascade group's).
        always: Vec<String>,
        /// Whether the table has a primary key.
        has_primary: bool,
        /// The key every row image without a complete unique key takes
        /// when the table has no primary key.
        table_id: String,
    },
    /// Its transactions run alone, for this reason.
    Serial(String),
}

/// The wide character sets, where a byte rule cannot see characters.
const WIDE_CHARSETS: [&str; 4] = ["ucs2", "utf16", "utf16le", "utf32"];

/// How a column compares, from `information_schema.COLUMNS`.
pub fn compare_of(data_type: &str, charset: Option<&str>, collation: Option<&str>) -> Compare {
    let data_type = data_type.to_ascii_lowercase();
    let compare = by_collation(&data_type, charset, collation);
    if data_type == "char" && compare == Compare::Exact {
        // CHAR pads with spaces in storage, whatever the collation.
        return Compare::PadSpace;
    }
    compare
}

fn by_collation(data_type: &str, charset: Option<&str>, collation: Option<&str>) -> Compare {
    match (charset, collation) {
        (Some(cs), _) if WIDE_CHARSETS.contains(&cs.to_ascii_lowercase().as_str()) => Compare::Opaque,
        (_, Some(coll)) => {
            let coll = coll.to_ascii_lowercase();
            if coll.ends_with("_nopad_bin") {
                Compare::Exact
            } else if coll.ends_with("_bin") {
                Compare::PadSpace
            } else if coll == "binary" {
                binary_compare(data_type)
            } else {
                Compare::FoldAscii
            }
        }
        _ if data_type == "binary" => Compare::PadZero,
        _ if ["json", "geometry", "point", "linestring", "polygon"].contains(&data_type) => Compare::Opaque,
        _ => Compare::Exact,
    }
}

fn binary_compare(data_type: &str) -> Compare {
    if data_type == "binary" {
        Compare::PadZero
    } else {
        Compare::Exact
    }
}

/// Reads the target's description of `schema.table`.
pub async fn read_table_keys(
    conn: &mut Conn,
    schema: &str,
    table: &str,
    groups: &CascadeGroups,
) -> Result<TableKeys, mysql_async::Error> {
    let id = format!("{schema}.{table}");
    let kind: Option<Row> = conn
        .exec_first(
            "SELECT ENGINE, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    let Some((engine, table_type)) = kind.map(typed::<(Option<String>, String)>).transpose()? else {
        return Ok(TableKeys::Serial(format!("{id} is not on the target")));
    };
    if !engine.as_deref().is_some_and(|e| e.eq_ignore_ascii_case("InnoDB")) || table_type != "BASE TABLE" {
        return Ok(TableKeys::Serial(format!(
            "{id} is a {table_type} of engine {}",
            engine.as_deref().unwrap_or("none")
        )));
    }
    // A unique key WITHOUT OVERLAPS (application-time periods) conflicts
    // on overlapping ranges, which no equality of values shows.
    let create: Option<Row> = conn
        .query_first(format!("SHOW CREATE TABLE {}", table_name(schema, table)))
        .await?;
    // As bytes: a default value may hold any byte.
    let create: Vec<u8> = create.and_then(|r| r.get_opt(1)?.ok()).unwrap_or_default();
    if create
        .to_ascii_uppercase()
        .windows(16)
        .any(|w| w == b"WITHOUT OVERLAPS")
    {
        return Ok(TableKeys::Serial(format!("{id} has a unique key WITHOUT OVERLAPS")));
    }
    let columns: Vec<Row> = conn
        .exec(
            "SELECT LOWER(COLUMN_NAME), DATA_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (schema, table),
        )
        .await?;
    let mut compares = HashMap::new();
    for row in columns {
        let (name, data_type, charset, collation, extra) =
            typed::<(String, String, Option<String>, Option<String>, String)>(row)?;
        let compare = if extra.to_ascii_uppercase().contains("VIRTUAL") {
            // Its value is the target's to compute: not read from the image.
            Compare::Opaque
        } else {
            compare_of(&data_type, charset.as_deref(), collation.as_deref())
        };
        compares.insert(name, compare);
    }
    let column = |name: &str, prefix: Option<u64>| KeyColumn {
        compare: compares.get(name).copied().unwrap_or(Compare::Opaque),
        name: name.to_owned(),
        prefix: prefix.map(|p| p as usize),
    };

    let stats: Vec<Row> = conn
        .exec(
            "SELECT INDEX_NAME, LOWER(COLUMN_NAME), SUB_PART FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            (schema, table),
        )
        .await?;
    let mut unique: Vec<KeyIndex> = Vec::new();
    for row in stats {
        let (index, name, prefix) = typed::<(String, String, Option<u64>)>(row)?;
        let index_id = format!("{id}\u{1}{index}");
        match unique.last_mut() {
            Some(k) if k.id == index_id => k.columns.push(column(&name, prefix)),
            _ => unique.push(KeyIndex {
                id: index_id,
                columns: vec![column(&name, prefix)],
            }),
        }
    }
    let has_primary = unique.iter().any(|k| k.id.ends_with("\u{1}PRIMARY"));

    // Foreign keys of this table (child side) and referencing it (parent side).
    let fks: Vec<Row> = conn
        .exec(
            "SELECT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, TABLE_SCHEMA, TABLE_NAME, LOWER(COLUMN_NAME), \
                    REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, LOWER(REFERENCED_COLUMN_NAME) \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE REFERENCED_TABLE_NAME IS NOT NULL \
               AND ((TABLE_SCHEMA = ? AND TABLE_NAME = ?) \
                 OR (REFERENCED_TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME = ?)) \
             ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
            (schema, table, schema, table),
        )
        .await?;
    let mut parents: Vec<KeyIndex> = Vec::new();
    let mut constraints: Vec<Constraint> = Vec::new();
    for row in fks {
        type Fk = (String, String, String, String, String, String, String, String);
        let (cs, cname, child_schema, child_table, col, ps, pt, pcol) = typed::<Fk>(row)?;
        let name = format!("{cs}.{child_table}\u{1}{cname}");
        match constraints.last_mut() {
            Some(c) if c.name == name => {
                c.parent_columns.push(pcol);
                c.child_columns.push(col);
            }
            _ => constraints.push(Constraint {
                name,
                parent: format!("{ps}.{pt}"),
                child_here: child_schema == schema && child_table == table,
                parent_columns: vec![pcol],
                child_columns: vec![col],
            }),
        }
    }
    for c in constraints {
        let index_id = format!("{}\u{2}{}", c.parent, c.parent_columns.join(","));
        if c.parent == id && !unique.iter().any(|k| k.id == index_id) {
            // The referenced columns, named by the parent.
            unique.push(KeyIndex {
                id: index_id.clone(),
                columns: c.parent_columns.iter().map(|c| folded(c)).collect(),
            });
        }
        if c.child_here {
            parents.push(KeyIndex {
                id: index_id,
                columns: c.child_columns.iter().map(|c| folded(c)).collect(),
            });
        }
    }
    Ok(TableKeys::Keys {
        unique,
        parents,
        always: groups.key_of(&id).into_iter().collect(),
        has_primary,
        table_id: id,
    })
}

/// The tables linked by foreign keys into groups that hold a cascading
/// constraint (module doc): each such table's group key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CascadeGroups {
    keys: HashMap<String, String>,
}

impl CascadeGroups {
    /// Groups the `(child, parent, cascades)` edges (tables as
    /// `schema.table`): the connected components, by every constraint, of
    /// those that hold a cascading one.
    pub fn from_edges(edges: &[(String, String, bool)]) -> CascadeGroups {
        let mut parent: HashMap<String, String> = HashMap::new();
        fn find(parent: &mut HashMap<String, String>, t: &str) -> String {
            let mut root = t.to_owned();
            while let Some(p) = parent.get(&root).filter(|p| **p != root) {
                root = p.clone();
            }
            root
        }
        for (child, par, _) in edges {
            for t in [child, par] {
                parent.entry(t.clone()).or_insert_with(|| t.clone());
            }
            let (a, b) = (find(&mut parent, child), find(&mut parent, par));
            // The smaller name leads: a group's key does not depend on order.
            let (lead, other) = if a <= b { (a, b) } else { (b, a) };
            parent.insert(other, lead);
        }
        let cascading: std::collections::HashSet<String> = edges
            .iter()
            .filter(|e| e.2)
            .map(|(child, _, _)| find(&mut parent, child))
            .collect();
        let tables: Vec<String> = parent.keys().cloned().collect();
        let keys = tables
            .into_iter()
            .filter_map(|t| {
                let root = find(&mut parent, &t);
                cascading.contains(&root).then(|| (t, format!("\u{3}{root}")))
            })
            .collect();
        CascadeGroups { keys }
    }

    /// The group key of `table` (`schema.table`), if it is in a group.
    pub fn key_of(&self, table: &str) -> Option<String> {
        self.keys.get(table).cloned()
    }
}

/// Reads every foreign key of the target and groups them.
pub async fn read_cascade_groups(conn: &mut Conn) -> Result<CascadeGroups, mysql_async::Error> {
    let rows: Vec<Row> = conn
        .query(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME, \
                    UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS",
        )
        .await?;
    let mut edges: Vec<(String, String, bool)> = Vec::with_capacity(rows.len());
    for row in rows {
        let (cs, child, ps, parent, upd, del) = typed::<(String, String, String, String, String, String)>(row)?;
        let cascades = [upd, del]
            .iter()
            .any(|r| !matches!(r.as_str(), "RESTRICT" | "NO ACTION"));
        edges.push((format!("{cs}.{child}"), format!("{ps}.{parent}"), cascades));
    }
    Ok(CascadeGroups::from_edges(&edges))
}

/// A row as `T`: a value that does not convert is an error, never a panic
/// (`query::<T>` panics on one).
fn typed<T: mysql_async::prelude::FromRow>(row: Row) -> Result<T, mysql_async::Error> {
    mysql_async::from_row_opt(row).map_err(|e| mysql_async::Error::Other(Box::new(e)))
}

/// One foreign key constraint that involves the table.
struct Constraint {
    /// `schema.child_table` and the constraint's name.
    name: String,
    /// `schema.table` of the parent.
    parent: String,
    /// Whether the table is the child.
    child_here: bool,
    parent_columns: Vec<String>,
    child_columns: Vec<String>,
}

/// A foreign key column: the parent's and the child's columns may compare
/// differently, so both sides take the rule that is safe for any string.
fn folded(name: &str) -> KeyColumn {
    KeyColumn {
        name: name.to_owned(),
        compare: Compare::FoldAscii,
        prefix: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_linked_to_a_cascade_share_one_key() {
        let e = |c: &str, p: &str, cascades| (c.to_owned(), p.to_owned(), cascades);
        // t3 -> t2 -> t1, t2's constraint cascades; t3's does not, but an
        // update of t1 reaches t3 through t2. u2 -> u1 cascades nothing.
        let groups = CascadeGroups::from_edges(&[
            e("s.t3", "s.t2", false),
            e("s.t2", "s.t1", true),
            e("s.u2", "s.u1", false),
        ]);
        let key = groups.key_of("s.t1");
        assert!(key.is_some());
        assert_eq!(groups.key_of("s.t2"), key);
        assert_eq!(groups.key_of("s.t3"), key);
        assert_eq!(groups.key_of("s.u1"), None);
        assert_eq!(groups.key_of("s.other"), None);
    }

    #[test]
    fn a_column_compares_as_its_collation_says() {
        assert_eq!(compare_of("int", None, None), Compare::Exact);
        assert_eq!(compare_of("varbinary", None, None), Compare::Exact);
        assert_eq!(compare_of("blob", None, None), Compare::Exact);
        assert_eq!(compare_of("binary", None, None), Compare::PadZero);
        assert_eq!(
            compare_of("varchar", Some("utf8mb4"), Some("utf8mb4_bin")),
            Compare::PadSpace
        );
        assert_eq!(
            compare_of("varchar", Some("utf8mb4"), Some("utf8mb4_nopad_bin")),
            Compare::Exact
        );
        assert_eq!(
            compare_of("varchar", Some("latin1"), Some("latin1_swedish_ci")),
            Compare::FoldAscii
        );
        assert_eq!(
            compare_of("varchar", Some("utf16"), Some("utf16_bin")),
            Compare::Opaque,
            "a byte rule cannot see UTF-16's spaces"
        );
        assert_eq!(compare_of("json", None, None), Compare::Opaque);
    }
}

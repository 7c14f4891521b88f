//! Random DML over the model: INSERT (single/multi-row, IGNORE, ON DUPLICATE
//! KEY UPDATE, REPLACE), UPDATE/DELETE by key and by range, multi-table
//! UPDATE/DELETE, INSERT ... SELECT, and the large transactions.
//!
//! Invariants: statements reference only columns of the model and write
//! only writable columns (never generated or trigger-managed ones); NOT NULL
//! columns always get a value; a statement may still fail on the primary
//! (duplicate key, foreign key, overflow, too long under SET NAMES), which
//! the driver records and goes on.

use super::features::{Feature, Features};
use super::rng::Rng;
use super::schema::{Column, Domain, Key, Role, Table};

/// The table name, schema-qualified now and then (so both forms reach the
/// replicator).
pub fn table_ref(rng: &mut Rng, schema: &str, t: &Table) -> String {
    if rng.chance(30) {
        format!("{schema}.{}", t.name)
    } else {
        t.name.clone()
    }
}

/// An equality predicate that finds rows by the table's key (or `k`).
fn key_pred(rng: &mut Rng, t: &Table) -> String {
    match &t.key {
        Key::Primary { col } if t.role == Role::AutoIncrement => format!("{col} = {}", rng.range(1, t.space * 2)),
        Key::Primary { col } | Key::None { col } => format!("{col} = {}", rng.range(1, t.space)),
        Key::Unique { col } => {
            if rng.chance(15) {
                format!("{col} IS NULL")
            } else {
                format!("{col} = {}", rng.range(1, t.space))
            }
        }
        Key::Composite { a, b } => {
            let bv = t.column(b).map(|c| c.value(rng)).unwrap_or_else(|| "'x'".into());
            format!("{a} = {} AND {b} = {bv}", rng.range(1, t.space))
        }
    }
}

fn range_pred(rng: &mut Rng, t: &Table) -> (String, i64, i64) {
    let hi_space = if t.role == Role::AutoIncrement {
        t.space * 2
    } else {
        t.space
    };
    let lo = rng.range(1, hi_space);
    let hi = (lo + rng.range(0, t.space / 4 + 1)).min(hi_space.max(lo));
    (format!("{} BETWEEN {lo} AND {hi}", t.key.target()), lo, hi)
}

/// The columns of an INSERT: every NOT NULL writable column, the key, and
/// some nullable ones.
fn insert_columns<'t>(rng: &mut Rng, t: &'t Table) -> Vec<&'t Column> {
    t.columns
        .iter()
        .filter(|c| c.writable())
        .filter(|c| match c.domain {
            Domain::Auto => rng.chance(10),
            _ => !c.nullable || c.name == t.key.target() || rng.chance(75),
        })
        .collect()
}

fn set_list(rng: &mut Rng, t: &Table, alias: &str) -> Option<String> {
    let payload = t.payload_columns();
    if payload.is_empty() {
        return None;
    }
    let n = rng.urange(1, payload.len().min(3));
    let mut sets = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for _ in 0..n {
        let c = *rng.pick(&payload);
        if used.contains(&c.name.as_str()) {
            continue;
        }
        used.push(&c.name);
        let value = if c.ty.is_int() && rng.chance(20) {
            format!("{alias}{} + 1", c.name)
        } else {
            c.value(rng)
        };
        sets.push(format!("{alias}{} = {value}", c.name));
    }
    Some(sets.join(", "))
}

fn insert(rng: &mut Rng, schema: &str, t: &Table, features: &Features) -> String {
    let cols = insert_columns(rng, t);
    let nrows = if rng.chance(10) {
        rng.urange(5, 40)
    } else {
        rng.urange(1, 3)
    };
    let rows: Vec<String> = (0..nrows)
        .map(|_| {
            let vals: Vec<String> = cols.iter().map(|c| c.value(rng)).collect();
            format!("({})", vals.join(", "))
        })
        .collect();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let table = table_ref(rng, schema, t);
    let upsert = features.has(Feature::Upsert);
    let verb = match rng.below(10) {
        0 if upsert => "INSERT IGNORE",
        1 if upsert => "REPLACE",
        _ => "INSERT",
    };
    let mut sql = format!("{verb} INTO {table} ({}) VALUES {}", names.join(", "), rows.join(", "));
    if verb == "INSERT" && upsert && rng.chance(25) {
        let payload = t.payload_columns();
        if !payload.is_empty() {
            let c = *rng.pick(&payload);
            let v = if rng.chance(50) {
                format!("VALUES({})", c.name)
            } else {
                c.value(rng)
            };
            sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {} = {v}", c.name));
        }
    }
    sql
}

fn update(rng: &mut Rng, schema: &str, t: &Table, features: &Features) -> Option<String> {
    let table = table_ref(rng, schema, t);
    // Key changes (cascaded for fk_parent).
    if let Key::Primary { col } = &t.key {
        if t.role != Role::AutoIncrement && rng.chance(10) {
            if features.has(Feature::Ranges) && rng.chance(50) {
                let (pred, _, hi) = range_pred(rng, t);
                if hi < t.space {
                    return Some(format!(
                        "UPDATE {table} SET {col} = {col} + 1 WHERE {pred} ORDER BY {col} DESC"
                    ));
                }
            }
            return Some(format!(
                "UPDATE {table} SET {col} = {} WHERE {col} = {}",
                rng.range(1, t.space),
                rng.range(1, t.space)
            ));
        }
    }
    let sets = set_list(rng, t, "")?;
    if features.has(Feature::Ranges) && rng.chance(30) {
        let (pred, _, _) = range_pred(rng, t);
        let limit = if rng.chance(30) {
            format!(" ORDER BY {} LIMIT {}", t.key.target(), rng.range(1, 5))
        } else {
            String::new()
        };
        Some(format!("UPDATE {table} SET {sets} WHERE {pred}{limit}"))
    } else {
        Some(format!("UPDATE {table} SET {sets} WHERE {}", key_pred(rng, t)))
    }
}

fn delete(rng: &mut Rng, schema: &str, t: &Table, features: &Features) -> String {
    let table = table_ref(rng, schema, t);
    if features.has(Feature::Ranges) && rng.chance(30) {
        let (pred, _, _) = range_pred(rng, t);
        let limit = if rng.chance(40) {
            format!(" ORDER BY {} LIMIT {}", t.key.target(), rng.range(1, 3))
        } else {
            String::new()
        };
        format!("DELETE FROM {table} WHERE {pred}{limit}")
    } else if matches!(t.key, Key::None { .. }) && rng.chance(50) {
        // One of several identical rows.
        format!("DELETE FROM {table} WHERE {} LIMIT 1", key_pred(rng, t))
    } else {
        format!("DELETE FROM {table} WHERE {}", key_pred(rng, t))
    }
}

fn multi_table(rng: &mut Rng, schema: &str, a: &Table, b: &Table) -> Option<String> {
    let (ta, tb) = (table_ref(rng, schema, a), table_ref(rng, schema, b));
    let (ka, kb) = (a.key.target(), b.key.target());
    let lo = rng.range(1, a.space.max(1));
    let hi = lo + rng.range(0, 8);
    let join = format!("{ta} AS x JOIN {tb} AS y ON x.{ka} = y.{kb}");
    let pred = format!("x.{ka} BETWEEN {lo} AND {hi}");
    match rng.below(3) {
        0 => {
            let sa = set_list(rng, a, "x.")?;
            let sb = set_list(rng, b, "y.")?;
            Some(format!("UPDATE {join} SET {sa}, {sb} WHERE {pred}"))
        }
        1 => Some(format!("DELETE x FROM {join} WHERE {pred}")),
        _ => Some(format!("DELETE x, y FROM {join} WHERE {pred}")),
    }
}

fn insert_select(rng: &mut Rng, schema: &str, t: &Table) -> String {
    let cols: Vec<&Column> = t
        .columns
        .iter()
        .filter(|c| c.writable() && c.domain != Domain::Auto)
        .collect();
    let target = t.key.target();
    let off = rng.range(1, t.space.max(1));
    let space = t.space.max(1);
    let select: Vec<String> = cols
        .iter()
        .map(|c| {
            if c.name == target && !matches!(t.key, Key::None { .. }) {
                format!("(({target} + {off}) % {space}) + 1")
            } else {
                c.name.clone()
            }
        })
        .collect();
    let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
    let (pred, _, _) = range_pred(rng, t);
    let table = table_ref(rng, schema, t);
    let ignore = if rng.chance(50) { " IGNORE" } else { "" };
    format!(
        "INSERT{ignore} INTO {table} ({}) SELECT {} FROM {table} WHERE {pred} ORDER BY {target} LIMIT 4",
        names.join(", "),
        select.join(", ")
    )
}

/// One random DML statement on one of `tables`.
pub fn statement(rng: &mut Rng, schema: &str, tables: &[Table], features: &Features) -> String {
    let targets: Vec<&Table> = tables.iter().filter(|t| t.dml_target()).collect();
    loop {
        let t = *rng.pick(&targets);
        let sql = match rng.below(20) {
            0..=7 => Some(insert(rng, schema, t, features)),
            8..=12 => update(rng, schema, t, features),
            13..=15 => Some(delete(rng, schema, t, features)),
            16 | 17 if features.has(Feature::MultiTable) => {
                let b = *rng.pick(&targets);
                if b.name == t.name {
                    None
                } else {
                    multi_table(rng, schema, t, b)
                }
            }
            18 if features.has(Feature::InsertSelect) => Some(insert_select(rng, schema, t)),
            19 if t.role == Role::Versioned && rng.chance(20) => {
                Some(format!("DELETE HISTORY FROM {}", table_ref(rng, schema, t)))
            }
            _ => None,
        };
        if let Some(sql) = sql {
            return sql;
        }
    }
}

/// The statements of a large transaction on the `t_big` table (beyond 1 MB
/// of row images), advancing `next_id`.
pub fn large(rng: &mut Rng, schema: &str, next_id: &mut i64) -> Vec<String> {
    let n = rng.range(4000, 6000);
    let base = *next_id;
    let mut out = vec![format!(
        "INSERT INTO {schema}.t_big (id, pad, v) SELECT seq + {base}, REPEAT(CHAR(65 + seq % 26), 250), seq FROM {schema}.seq_1_to_{n}"
    )];
    *next_id += n;
    if rng.chance(50) {
        out.push(format!(
            "UPDATE {schema}.t_big SET pad = REPEAT('u', 240), v = v + 1 WHERE id BETWEEN {} AND {}",
            base + 1,
            base + n / 2
        ));
    }
    // Keep the table bounded: about two batches stay.
    if *next_id > 12_000 {
        out.push(format!("DELETE FROM {schema}.t_big WHERE id <= {}", *next_id - 10_000));
    }
    out
}

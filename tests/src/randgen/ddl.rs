//! Random DDL that cannot fail on the primary, and the model update that
//! goes with it: ALTER TABLE ADD/DROP COLUMN, CREATE/DROP INDEX, CREATE
//! TABLE (plain, LIKE, AS SELECT), DROP TABLE, RENAME TABLE, TRUNCATE.
//!
//! Invariant: the model after [`statement`] is the primary's schema after
//! the statement (see the schema module's invariants for why each is safe).

use super::features::Features;
use super::rng::Rng;
use super::schema::{Column, Domain, Key, Role, Table};
use super::types::Ty;

/// Counters that keep generated names unique.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub column: u32,
    pub index: u32,
    pub table: u32,
}

fn default_clause(rng: &mut Rng, ty: &Ty) -> String {
    if matches!(ty, Ty::Geo(_) | Ty::Enum) || rng.chance(60) {
        return String::new();
    }
    let lit = ty.literal(rng);
    // MariaDB 10.11 refuses `DEFAULT _cs'a''b'`, bare or in parentheses (a
    // doubled quote after an introducer, syntax error 1064): no default then,
    // or the model would list a column the primary never added.
    if lit.contains("''") {
        return String::new();
    }
    let plain = lit.starts_with('\'')
        || lit.starts_with("X'")
        || lit.starts_with("b'")
        || lit.starts_with('_')
        || lit.starts_with(|c: char| c.is_ascii_digit() || c == '-');
    if plain {
        format!(" DEFAULT {lit}")
    } else {
        format!(" DEFAULT ({lit})")
    }
}

/// The statements of one DDL change, applied to the model: one statement,
/// between `SET SESSION system_versioning_alter_history = KEEP` and its
/// reset for a system-versioned table.
pub fn statement(
    rng: &mut Rng,
    schema: &str,
    tables: &mut Vec<Table>,
    features: &Features,
    names: &mut Names,
) -> Vec<String> {
    loop {
        let alterable: Vec<usize> = (0..tables.len())
            .filter(|&i| !matches!(tables[i].role, Role::Ledger | Role::Audit | Role::Big))
            .collect();
        let i = *rng.pick(&alterable);
        let q = format!("{schema}.{}", tables[i].name);
        let keep = if tables[i].role == Role::Versioned {
            vec!["SET SESSION system_versioning_alter_history = KEEP".to_owned()]
        } else {
            vec![]
        };
        let reset = |mut v: Vec<String>, sql: String| {
            let versioned = !v.is_empty();
            v.push(sql);
            if versioned {
                v.push("SET SESSION system_versioning_alter_history = DEFAULT".into());
            }
            v
        };
        match rng.below(10) {
            0..=2 => {
                names.column += 1;
                let ty = Ty::random(rng, features, tables[i].role == Role::Wide);
                let mut col = Column::new(format!("x{}", names.column), ty, true);
                col.added = true;
                let default = default_clause(rng, &col.ty);
                let t = &mut tables[i];
                let (pos, at) = match rng.below(3) {
                    0 => (" FIRST".to_owned(), 0),
                    1 => {
                        let k = rng.urange(0, t.columns.len() - 1);
                        (format!(" AFTER {}", t.columns[k].name), k + 1)
                    }
                    _ => (String::new(), t.columns.len()),
                };
                let sql = format!("ALTER TABLE {q} ADD COLUMN {}{default}{pos}", col.definition());
                t.columns.insert(at, col);
                return reset(keep, sql);
            }
            3 | 4 => {
                let t = &mut tables[i];
                let Some(k) = t.columns.iter().position(|c| c.added) else {
                    continue;
                };
                let name = t.columns.remove(k).name;
                t.indexes.retain(|(_, c)| *c != name);
                return reset(keep, format!("ALTER TABLE {q} DROP COLUMN {name}"));
            }
            5 => {
                let t = &mut tables[i];
                let cands: Vec<String> = t
                    .columns
                    .iter()
                    .filter(|c| c.ty.indexable() && c.generated.is_none())
                    .map(|c| c.name.clone())
                    .collect();
                if cands.is_empty() || t.indexes.len() >= 4 {
                    continue;
                }
                let col = rng.pick(&cands).clone();
                names.index += 1;
                let ix = format!("ix{}", names.index);
                let sql = format!("CREATE INDEX {ix} ON {q} ({col})");
                t.indexes.push((ix, col));
                return reset(keep, sql);
            }
            6 => {
                let t = &mut tables[i];
                if t.indexes.is_empty() {
                    continue;
                }
                let (ix, _) = t.indexes.remove(rng.urange(0, t.indexes.len() - 1));
                return reset(keep, format!("DROP INDEX {ix} ON {q}"));
            }
            7 => {
                names.table += 1;
                let name = format!("s{}", names.table);
                let source = &tables[i];
                let (sql, mut t) = match rng.below(3) {
                    0 if source.role == Role::Plain && source.columns.iter().all(|c| c.writable()) => {
                        // CREATE ... AS SELECT: the columns without the keys.
                        let mut t = source.clone();
                        t.name = name.clone();
                        t.key = Key::None {
                            col: source.key.target().to_owned(),
                        };
                        t.extra.clear();
                        t.indexes.clear();
                        for c in &mut t.columns {
                            if c.domain == Domain::Auto {
                                c.domain = Domain::Int(1, source.space);
                            }
                        }
                        (format!("CREATE TABLE {schema}.{name} AS SELECT * FROM {q}"), t)
                    }
                    1 if source.role == Role::Plain => {
                        let mut t = source.clone();
                        t.name = name.clone();
                        (format!("CREATE TABLE {schema}.{name} LIKE {q}"), t)
                    }
                    _ => {
                        let mut t = Table::new(name.clone(), Key::Primary { col: "id".into() }, 32, Role::Scratch);
                        t.columns.push(
                            Column::new(
                                "id",
                                Ty::Int {
                                    kind: super::types::IntKind::Int,
                                    unsigned: false,
                                },
                                false,
                            )
                            .domain(Domain::Int(1, 32)),
                        );
                        for n in 1..=rng.urange(1, 6) {
                            t.columns.push(Column::new(
                                format!("c{n}"),
                                Ty::random(rng, features, false),
                                rng.chance(80),
                            ));
                        }
                        (t.create_sql(schema), t)
                    }
                };
                t.role = Role::Scratch;
                t.referenced = false;
                tables.push(t);
                return vec![sql];
            }
            8 => {
                let scratch: Vec<usize> = (0..tables.len()).filter(|&k| tables[k].role == Role::Scratch).collect();
                if scratch.is_empty() {
                    continue;
                }
                let k = *rng.pick(&scratch);
                if rng.chance(50) {
                    let t = tables.remove(k);
                    return vec![format!("DROP TABLE {schema}.{}", t.name)];
                }
                names.table += 1;
                let new = format!("s{}", names.table);
                let old = std::mem::replace(&mut tables[k].name, new.clone());
                return vec![format!("RENAME TABLE {schema}.{old} TO {schema}.{new}")];
            }
            _ => {
                let t = &tables[i];
                if t.referenced || t.role == Role::Versioned {
                    continue;
                }
                return vec![format!("TRUNCATE TABLE {q}")];
            }
        }
    }
}

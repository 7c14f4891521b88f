//! The initial schema: one table per enabled family, plus the ledger.
//!
//! Invariant: the tables are created in dependency order (FK parents before
//! children, the audit table before its triggers), and the returned model
//! matches the statements exactly.

use super::features::{Feature, Features};
use super::rng::Rng;
use super::schema::{quoted, Column, Domain, Key, Role, Table};
use super::types::{Charset, IntKind, LobSize, Ty};

const INT: Ty = Ty::Int {
    kind: IntKind::Int,
    unsigned: false,
};
const BIGINT: Ty = Ty::Int {
    kind: IntKind::Big,
    unsigned: false,
};

fn varchar(len: u16) -> Ty {
    Ty::VarChar {
        len,
        cs: Charset::Utf8mb4,
    }
}

/// Adds `n` random columns named `c1..cn` (after any existing columns).
fn random_columns(t: &mut Table, rng: &mut Rng, features: &Features, n: usize, small: bool) {
    for i in 1..=n {
        let ty = Ty::random(rng, features, small);
        t.columns.push(Column::new(format!("c{i}"), ty, rng.chance(80)));
    }
}

fn int_key_table(name: &str, space: i64, role: Role) -> Table {
    let mut t = Table::new(name, Key::Primary { col: "id".into() }, space, role);
    t.columns
        .push(Column::new("id", INT, false).domain(Domain::Int(1, space)));
    t
}

/// The tables of the initial schema, in creation order, and the extra
/// statements (triggers) that follow them.
pub fn initial_schema(rng: &mut Rng, features: &Features, key_space: i64) -> (Vec<Table>, Vec<String>) {
    let mut tables = Vec::new();
    let mut after = Vec::new();
    for name in ["t_pk1", "t_pk2"] {
        let mut t = int_key_table(name, key_space, Role::Plain);
        let n = rng.urange(4, 10);
        random_columns(&mut t, rng, features, n, false);
        if rng.chance(50) {
            if let Some(c) = t.columns.iter().skip(1).find(|c| c.ty.indexable()) {
                t.extra.push(format!("KEY k_{0} ({0})", c.name));
            }
        }
        tables.push(t);
    }
    if features.has(Feature::CompositeKey) {
        let mut t = Table::new(
            "t_comp",
            Key::Composite {
                a: "a".into(),
                b: "b".into(),
            },
            key_space / 4,
            Role::Plain,
        );
        t.columns
            .push(Column::new("a", INT, false).domain(Domain::Int(1, key_space / 4)));
        // Equal under utf8mb4_general_ci: 'x' = 'X' = 'x ', 'e' = 'é'.
        let b = ["x", "X", "x ", "e", "é", "", "y"].iter().map(|s| quoted(s)).collect();
        t.columns
            .push(Column::new("b", varchar(8), false).domain(Domain::Choice(b)));
        random_columns(&mut t, rng, features, 4, false);
        tables.push(t);
    }
    if features.has(Feature::AutoIncrement) {
        let mut t = Table::new(
            "t_auto",
            Key::Primary { col: "id".into() },
            key_space,
            Role::AutoIncrement,
        );
        t.columns.push(
            Column::new(
                "id",
                Ty::Int {
                    kind: IntKind::Big,
                    unsigned: true,
                },
                false,
            )
            .domain(Domain::Auto),
        );
        random_columns(&mut t, rng, features, 5, false);
        tables.push(t);
    }
    if features.has(Feature::UniqueOnly) {
        let mut t = Table::new("t_uniq", Key::Unique { col: "u".into() }, key_space, Role::Plain);
        t.columns
            .push(Column::new("u", INT, true).domain(Domain::Int(1, key_space)));
        random_columns(&mut t, rng, features, 5, false);
        tables.push(t);
    }
    if features.has(Feature::Keyless) {
        for (name, indexed) in [("t_keyless1", true), ("t_keyless2", false)] {
            let mut t = Table::new(name, Key::None { col: "k".into() }, key_space / 4, Role::Plain);
            t.columns
                .push(Column::new("k", INT, false).domain(Domain::Int(1, key_space / 4)));
            random_columns(&mut t, rng, features, 5, false);
            if indexed {
                t.extra.push("KEY k_k (k)".into());
            }
            tables.push(t);
        }
    }
    if features.has(Feature::Wide) {
        let mut t = int_key_table("t_wide", key_space / 2, Role::Wide);
        random_columns(&mut t, rng, features, 64, true);
        tables.push(t);
    }
    if features.has(Feature::ForeignKeys) {
        let space = key_space / 2;
        let mut p = int_key_table("fk_parent", space, Role::FkParent);
        p.columns.push(Column::new("name", varchar(20), true));
        random_columns(&mut p, rng, features, 2, false);
        p.referenced = true;
        tables.push(p);
        for (name, action) in [("fk_child", "CASCADE"), ("fk_child_null", "SET NULL")] {
            let mut c = int_key_table(name, key_space, Role::FkChild);
            c.columns
                .push(Column::new("pid", INT, true).domain(Domain::Int(1, space)));
            random_columns(&mut c, rng, features, 3, false);
            c.extra.push(format!(
                "CONSTRAINT {name}_fk FOREIGN KEY (pid) REFERENCES fk_parent (id) ON DELETE {action} ON UPDATE CASCADE"
            ));
            tables.push(c);
        }
    }
    if features.has(Feature::Generated) {
        let mut t = int_key_table("t_gen", key_space, Role::Generated);
        t.columns
            .push(Column::new("a", INT, true).domain(Domain::Int(-1000, 1000)));
        t.columns.push(Column::new("b", varchar(20), true));
        let mut g1 = Column::new("g1", BIGINT, true);
        g1.generated = Some("AS (a * 2) VIRTUAL".into());
        let mut g2 = Column::new("g2", varchar(64), true);
        g2.generated = Some("AS (CONCAT(IFNULL(b, '-'), '/', IFNULL(a, 0))) STORED".into());
        t.columns.push(g1);
        t.columns.push(g2);
        if features.has(Feature::Json) {
            t.columns.push(Column::new("j", Ty::Json, true));
            let mut g3 = Column::new("g3", varchar(40), true);
            g3.generated = Some("AS (JSON_VALUE(j, '$.a0')) VIRTUAL".into());
            t.columns.push(g3);
        }
        random_columns(&mut t, rng, features, 2, false);
        t.extra.push("KEY k_g1 (g1)".into());
        tables.push(t);
    }
    if features.has(Feature::Triggers) {
        let mut audit = Table::new("t_audit", Key::None { col: "id".into() }, key_space, Role::Audit);
        audit.columns.push(Column::new(
            "op",
            Ty::Char {
                len: 1,
                cs: Charset::Latin1,
            },
            false,
        ));
        audit.columns.push(Column::new("id", INT, true));
        audit.columns.push(Column::new("v", varchar(30), true));
        audit.columns.push(Column::new("n", INT, true));
        tables.push(audit);
        let mut t = int_key_table("t_trig", key_space, Role::Triggered);
        t.columns.push(Column::new("v", varchar(30), true));
        let mut n = Column::new("n", INT, false);
        n.managed = true;
        t.columns.push(n);
        random_columns(&mut t, rng, features, 3, false);
        tables.push(t);
        after.extend([
            "CREATE TRIGGER t_trig_bi BEFORE INSERT ON t_trig FOR EACH ROW SET NEW.n = 1".to_owned(),
            "CREATE TRIGGER t_trig_bu BEFORE UPDATE ON t_trig FOR EACH ROW SET NEW.n = OLD.n + 1".to_owned(),
            "CREATE TRIGGER t_trig_ai AFTER INSERT ON t_trig FOR EACH ROW INSERT INTO t_audit (op, id, v, n) VALUES ('I', NEW.id, NEW.v, NEW.n)".to_owned(),
            "CREATE TRIGGER t_trig_au AFTER UPDATE ON t_trig FOR EACH ROW INSERT INTO t_audit (op, id, v, n) VALUES ('U', NEW.id, NEW.v, NEW.n)".to_owned(),
            "CREATE TRIGGER t_trig_ad AFTER DELETE ON t_trig FOR EACH ROW INSERT INTO t_audit (op, id, v, n) VALUES ('D', OLD.id, OLD.v, OLD.n)".to_owned(),
        ]);
    }
    if features.has(Feature::Versioning) {
        let mut t = int_key_table("t_versioned", key_space, Role::Versioned);
        t.columns.push(Column::new("x", INT, true));
        random_columns(&mut t, rng, features, 3, false);
        t.options = " WITH SYSTEM VERSIONING".into();
        tables.push(t);
    }
    if features.has(Feature::LongUnique) {
        let mut t = int_key_table("t_longuniq", key_space, Role::LongUnique);
        let blobs = [
            "X'00'",
            "X'0000'",
            "''",
            "X'FF'",
            "REPEAT('x', 2000)",
            "REPEAT('x', 2001)",
        ];
        let texts = ["'a'", "'A'", "'a '", "REPEAT('é', 1000)", "''", "'b'"];
        t.columns.push(
            Column::new("bl", Ty::Blob(LobSize::Normal), true)
                .domain(Domain::Choice(blobs.iter().map(|s| (*s).to_owned()).collect())),
        );
        t.columns.push(
            Column::new(
                "tx",
                Ty::Text {
                    size: LobSize::Normal,
                    cs: Charset::Utf8mb4,
                },
                true,
            )
            .domain(Domain::Choice(texts.iter().map(|s| (*s).to_owned()).collect())),
        );
        random_columns(&mut t, rng, features, 2, false);
        t.extra.push("UNIQUE KEY uk_bl (bl)".into());
        t.extra.push("UNIQUE KEY uk_tx (tx)".into());
        tables.push(t);
    }
    if features.has(Feature::Large) {
        let mut t = int_key_table("t_big", 0, Role::Big);
        t.columns.push(Column::new("pad", varchar(255), true));
        t.columns.push(Column::new("v", INT, true));
        tables.push(t);
    }
    let mut ledger = Table::new("ledger", Key::None { col: "txn".into() }, 0, Role::Ledger);
    ledger.columns.push(Column::new("txn", BIGINT, false));
    tables.push(ledger);
    (tables, after)
}

//! The generator's model of the schema: tables, columns, keys, and the
//! CREATE TABLE text for them.
//!
//! Invariants: the model is what the primary holds after every DDL the
//! generator emitted succeeded (DDL is generated so that it cannot fail:
//! added columns are nullable, only added columns are dropped, indexes are
//! dropped with their column, only scratch tables are dropped or renamed,
//! TRUNCATE avoids referenced, versioned, ledger and audit tables). Every
//! key column draws its values from a small domain so that inserts collide
//! and updates and deletes find rows.

use super::rng::Rng;
use super::types::{sql_escape, Ty};

/// Where a column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// Any value of the type.
    Any,
    /// An integer in `lo..=hi`.
    Int(i64, i64),
    /// One of these SQL literals (already quoted).
    Choice(Vec<String>),
    /// AUTO_INCREMENT: usually omitted from INSERT.
    Auto,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: Ty,
    pub nullable: bool,
    pub domain: Domain,
    /// `AS (expr) VIRTUAL|STORED`: never written.
    pub generated: Option<String>,
    /// Maintained by a trigger: never written by the workload.
    pub managed: bool,
    /// Added by the generator's DDL (the only columns it drops).
    pub added: bool,
}

impl Column {
    pub fn new(name: impl Into<String>, ty: Ty, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            nullable,
            domain: Domain::Any,
            generated: None,
            managed: false,
            added: false,
        }
    }

    pub fn domain(mut self, domain: Domain) -> Column {
        self.domain = domain;
        self
    }

    /// Whether DML writes this column.
    pub fn writable(&self) -> bool {
        self.generated.is_none() && !self.managed
    }

    /// The column definition in CREATE/ALTER TABLE.
    pub fn definition(&self) -> String {
        let mut s = format!("{} {}", self.name, self.ty.sql());
        if let Some(g) = &self.generated {
            s.push(' ');
            s.push_str(g);
            return s;
        }
        s.push_str(if self.nullable { " NULL" } else { " NOT NULL" });
        if self.domain == Domain::Auto {
            s.push_str(" AUTO_INCREMENT");
        }
        if self.managed {
            s.push_str(" DEFAULT 0");
        }
        s
    }

    /// A value for this column: NULL often when nullable.
    pub fn value(&self, rng: &mut Rng) -> String {
        if self.nullable && rng.chance(30) {
            return "NULL".into();
        }
        match &self.domain {
            Domain::Any => self.ty.literal(rng),
            Domain::Int(lo, hi) => rng.range(*lo, *hi).to_string(),
            Domain::Choice(c) => rng.pick(c).clone(),
            Domain::Auto => {
                if rng.chance(50) {
                    "NULL".into()
                } else {
                    "0".into()
                }
            }
        }
    }
}

/// How rows of a table are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// PRIMARY KEY (col).
    Primary { col: String },
    /// PRIMARY KEY (a, b).
    Composite { a: String, b: String },
    /// UNIQUE (col) on a nullable column, no primary key.
    Unique { col: String },
    /// No unique key; `col` picks rows (duplicates are common).
    None { col: String },
}

impl Key {
    /// The integer column that equality and range predicates use.
    pub fn target(&self) -> &str {
        match self {
            Key::Primary { col } | Key::Unique { col } | Key::None { col } => col,
            Key::Composite { a, .. } => a,
        }
    }
}

/// What a table is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Plain,
    Wide,
    AutoIncrement,
    FkParent,
    FkChild,
    Generated,
    Triggered,
    Versioned,
    LongUnique,
    /// The table of large transactions (not a target of small DML).
    Big,
    /// Created by DDL; may be dropped or renamed.
    Scratch,
    /// One row per committed source transaction (never touched by DML or DDL).
    Ledger,
    /// Written by triggers only.
    Audit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub key: Key,
    /// Size of the key domain (the target column's values are in 1..=space).
    pub space: i64,
    pub role: Role,
    /// Extra CREATE TABLE clauses (constraints, indexes).
    pub extra: Vec<String>,
    /// Table options after the column list.
    pub options: String,
    /// Indexes created by DDL: (name, column).
    pub indexes: Vec<(String, String)>,
    /// Referenced by a foreign key (never truncated).
    pub referenced: bool,
}

impl Table {
    pub fn new(name: impl Into<String>, key: Key, space: i64, role: Role) -> Table {
        Table {
            name: name.into(),
            columns: Vec::new(),
            key,
            space,
            role,
            extra: Vec::new(),
            options: String::new(),
            indexes: Vec::new(),
            referenced: false,
        }
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The CREATE TABLE statement (schema-qualified).
    pub fn create_sql(&self, schema: &str) -> String {
        let mut parts: Vec<String> = self.columns.iter().map(Column::definition).collect();
        match &self.key {
            Key::Primary { col } => parts.push(format!("PRIMARY KEY ({col})")),
            Key::Composite { a, b } => parts.push(format!("PRIMARY KEY ({a}, {b})")),
            Key::Unique { col } => parts.push(format!("UNIQUE KEY uk_{col} ({col})")),
            Key::None { .. } => {}
        }
        parts.extend(self.extra.iter().cloned());
        format!(
            "CREATE TABLE {schema}.{} ({}){}",
            self.name,
            parts.join(", "),
            self.options
        )
    }

    /// Whether small DML targets this table.
    pub fn dml_target(&self) -> bool {
        !matches!(self.role, Role::Big | Role::Ledger | Role::Audit)
    }

    /// Columns DML may write that are not the key's columns.
    pub fn payload_columns(&self) -> Vec<&Column> {
        let keys: Vec<&str> = match &self.key {
            Key::Primary { col } | Key::Unique { col } => vec![col],
            Key::Composite { a, b } => vec![a, b],
            Key::None { .. } => vec![],
        };
        self.columns
            .iter()
            .filter(|c| c.writable() && !keys.contains(&c.name.as_str()))
            .collect()
    }
}

/// A string literal of `s` (quoted, escaped).
pub fn quoted(s: &str) -> String {
    format!("'{}'", sql_escape(s))
}

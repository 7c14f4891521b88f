//! The feature families of the generator, each switchable so that a known
//! failure can be isolated (`RANDOM_FEATURES=all,-triggers,-versioning`).
//!
//! Invariant: switching a family off removes its tables, columns or
//! statements and nothing else; the default is every family.

use std::collections::BTreeSet;
use std::fmt;

/// One family of generated schema or statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// Tables without any key (with duplicate rows).
    Keyless,
    /// A table whose only key is a nullable UNIQUE key.
    UniqueOnly,
    /// A table of 60+ columns.
    Wide,
    /// A composite primary key over an INT and a case/pad-insensitive VARCHAR.
    CompositeKey,
    /// A parent and two children (ON DELETE CASCADE / SET NULL, ON UPDATE CASCADE).
    ForeignKeys,
    /// VIRTUAL and STORED generated columns (one indexed).
    Generated,
    /// Triggers that write to an audit table and modify NEW.
    Triggers,
    /// A table WITH SYSTEM VERSIONING.
    Versioning,
    /// A UNIQUE key on a BLOB and on a TEXT (MariaDB's long unique hash).
    LongUnique,
    /// An AUTO_INCREMENT table.
    AutoIncrement,
    /// DECIMAL(p,s) up to 65 digits.
    Decimal,
    /// FLOAT and DOUBLE.
    Float,
    /// BIT(n).
    Bit,
    /// DATE, TIME(fsp), DATETIME(fsp), TIMESTAMP(fsp), YEAR.
    Temporal,
    /// CHAR/VARCHAR/TEXT in utf8mb4 and latin1, ENUM, SET.
    Strings,
    /// BINARY/VARBINARY/BLOB and CHAR ... CHARACTER SET binary.
    Binary,
    /// JSON.
    Json,
    /// GEOMETRY, POINT, LINESTRING, POLYGON.
    Spatial,
    /// INET6, INET4, UUID.
    InetUuid,
    /// INSERT ... ON DUPLICATE KEY UPDATE, REPLACE, INSERT IGNORE.
    Upsert,
    /// Multi-table UPDATE and DELETE.
    MultiTable,
    /// INSERT ... SELECT.
    InsertSelect,
    /// UPDATE/DELETE by range, with ORDER BY ... LIMIT, and key changes.
    Ranges,
    /// Transactions of thousands of rows (beyond 1 MB: fragmented in the THL).
    Large,
    /// Transactions that end in ROLLBACK.
    Rollback,
    /// ALTER TABLE ADD/DROP COLUMN, CREATE/DROP INDEX, CREATE/DROP/RENAME TABLE, TRUNCATE.
    Ddl,
    /// Session settings: foreign_key_checks, unique_checks, SET NAMES, sql_mode, time_zone.
    Session,
}

/// Every family with its name for `RANDOM_FEATURES`.
pub const ALL: &[(&str, Feature)] = &[
    ("keyless", Feature::Keyless),
    ("unique_only", Feature::UniqueOnly),
    ("wide", Feature::Wide),
    ("composite_key", Feature::CompositeKey),
    ("fk", Feature::ForeignKeys),
    ("generated", Feature::Generated),
    ("triggers", Feature::Triggers),
    ("versioning", Feature::Versioning),
    ("long_unique", Feature::LongUnique),
    ("auto_increment", Feature::AutoIncrement),
    ("decimal", Feature::Decimal),
    ("float", Feature::Float),
    ("bit", Feature::Bit),
    ("temporal", Feature::Temporal),
    ("strings", Feature::Strings),
    ("binary", Feature::Binary),
    ("json", Feature::Json),
    ("spatial", Feature::Spatial),
    ("inet_uuid", Feature::InetUuid),
    ("upsert", Feature::Upsert),
    ("multi_table", Feature::MultiTable),
    ("insert_select", Feature::InsertSelect),
    ("ranges", Feature::Ranges),
    ("large", Feature::Large),
    ("rollback", Feature::Rollback),
    ("ddl", Feature::Ddl),
    ("session", Feature::Session),
];

impl Feature {
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

/// A set of enabled families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    on: BTreeSet<Feature>,
}

/// A `RANDOM_FEATURES` value that names no family.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown feature {name:?} in RANDOM_FEATURES={spec:?}: use a comma list of all, none, NAME, -NAME with NAME in {}",
    names()
)]
pub struct UnknownFeature {
    pub name: String,
    pub spec: String,
}

fn names() -> String {
    ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

impl Features {
    pub fn all() -> Features {
        Features {
            on: ALL.iter().map(|(_, f)| *f).collect(),
        }
    }

    pub fn none() -> Features {
        Features { on: BTreeSet::new() }
    }

    /// Parses a comma list applied left to right to an empty set: `all`,
    /// `none`, `NAME` (add), `-NAME` (remove). A list that starts with
    /// `-NAME` starts from `all`. An empty list is `all`.
    pub fn parse(spec: &str) -> Result<Features, UnknownFeature> {
        let items: Vec<&str> = spec.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        let mut set = if items.first().is_none_or(|s| s.starts_with('-')) {
            Features::all()
        } else {
            Features::none()
        };
        for item in items {
            match item {
                "all" => set = Features::all(),
                "none" => set = Features::none(),
                _ => {
                    let (remove, name) = match item.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, item.strip_prefix('+').unwrap_or(item)),
                    };
                    let Some((_, f)) = ALL.iter().find(|(n, _)| *n == name) else {
                        return Err(UnknownFeature {
                            name: name.to_owned(),
                            spec: spec.to_owned(),
                        });
                    };
                    if remove {
                        set.on.remove(f);
                    } else {
                        set.on.insert(*f);
                    }
                }
            }
        }
        Ok(set)
    }

    pub fn has(&self, f: Feature) -> bool {
        self.on.contains(&f)
    }

    pub fn without(mut self, f: Feature) -> Features {
        self.on.remove(&f);
        self
    }
}

impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.on.len() == ALL.len() {
            return f.write_str("all");
        }
        let off: Vec<&str> = ALL
            .iter()
            .filter(|(_, x)| !self.on.contains(x))
            .map(|(n, _)| *n)
            .collect();
        if self.on.len() * 2 >= ALL.len() {
            write!(f, "all,-{}", off.join(",-"))
        } else {
            let on: Vec<&str> = self.on.iter().map(|x| x.name()).collect();
            write!(f, "none,{}", on.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!(Features::parse("").ok(), Some(Features::all()));
        let f = Features::parse("-triggers,-fk").expect("valid");
        assert!(!f.has(Feature::Triggers) && !f.has(Feature::ForeignKeys) && f.has(Feature::Json));
        assert_eq!(Features::parse(&f.to_string()).ok(), Some(f));
        let g = Features::parse("json,spatial").expect("valid");
        assert!(g.has(Feature::Json) && !g.has(Feature::Ddl));
        assert_eq!(Features::parse(&g.to_string()).ok(), Some(g));
        let e = Features::parse("all,-nope").expect_err("unknown");
        assert!(e.to_string().contains("\"nope\"") && e.to_string().contains("triggers"));
    }
}

//! A seeded random workload generator: random schemas over every MariaDB
//! type and random DML and DDL, to find replication differences nobody wrote
//! a test for (issue 8, "Fidelity").
//!
//! # What is generated
//!
//! [`RandomWorkload::setup`] creates one schema with, per enabled
//! [`Feature`] family: two tables with an INT primary key and 4..10 random
//! columns; a composite key (INT, VARCHAR whose values are equal under the
//! collation: `'x'`, `'X'`, `'x '`, `'e'`, `'é'`); an AUTO_INCREMENT table; a
//! table whose only key is a nullable UNIQUE; two keyless tables (duplicate
//! rows are common); a wide table (1 + 64 columns); a foreign-key parent with
//! an ON DELETE CASCADE and an ON DELETE SET NULL child (both ON UPDATE
//! CASCADE); VIRTUAL and STORED generated columns (one indexed, one over
//! JSON); a table with BEFORE triggers that set a column and AFTER triggers
//! that write to a keyless audit table; a system-versioned table; UNIQUE keys
//! on a BLOB and a TEXT (long unique hash); the large-transaction table; and
//! the keyless `ledger`.
//!
//! Column types cover TINYINT..BIGINT signed/unsigned, DECIMAL up to 65
//! digits, FLOAT, DOUBLE, BIT(n), DATE, TIME(fsp) (negative too),
//! DATETIME(fsp), TIMESTAMP(fsp), YEAR, CHAR/VARCHAR/TEXT in utf8mb4 and
//! latin1 and binary, BINARY/VARBINARY/BLOB of every size, ENUM, SET, JSON,
//! GEOMETRY/POINT/LINESTRING/POLYGON, INET6, INET4 and UUID, with edge values
//! (see `types.rs`) and NULL in about 30% of nullable values.
//!
//! [`RandomWorkload::next_transaction`] returns either a DML transaction
//! (1..6 random statements, see `dml.rs`, then the ledger insert; COMMIT,
//! or ROLLBACK about 1 time in 20), a large transaction (thousands of rows,
//! beyond 1 MB, about 1 in 150), or a DDL change (about 1 in 40, see
//! `ddl.rs`). Now and then (1 in 12) a session setting wraps the
//! transaction: `foreign_key_checks=0`, `unique_checks=0`, `SET NAMES
//! latin1|binary`, an `sql_mode` (empty, TRADITIONAL, NO_BACKSLASH_ESCAPES,
//! NO_AUTO_VALUE_ON_ZERO, PAD_CHAR_TO_FULL_LENGTH, TIME_ROUND_FRACTIONAL,
//! EMPTY_STRING_IS_NULL, SIMULTANEOUS_ASSIGNMENT, ANSI), a `time_zone`
//! offset, or `auto_increment_increment/offset`; it is reset at the end of
//! the transaction.
//!
//! # Failed statements
//!
//! A statement may fail on the primary (duplicate key, foreign key, value
//! out of range or too long, mostly under changed session settings). The
//! driver ([`driver::execute`]) records the error and goes on with the
//! transaction, as an application would: the failed statement changed
//! nothing and the primary's binlog is the truth that replicas must match.
//! Errors outside [`driver::EXPECTED_ERRORS`] are generator bugs, which the
//! single-server test (`generator_sql_runs_on_one_server`) rejects.
//!
//! # Reproducing a failure
//!
//! The workload depends only on the seed, the schema name and the
//! [`Config`] (features, key space): the same seed gives the same
//! statements on every platform. A failing run prints its seed; replay it:
//!
//! ```sh
//! RANDOM_SEED=1234 RANDOM_TRANSACTIONS=2000 cargo test -p tests --test random_workload -- --nocapture
//! RANDOM_FEATURES=all,-triggers,-versioning ...   # isolate a family
//! RANDOM_SQL_LOG=/tmp/rw.sql ...                  # every statement with its outcome
//! ```

pub mod compare;
pub mod ddl;
pub mod dml;
pub mod driver;
pub mod features;
pub mod rng;
pub mod schema;
pub mod setup;
pub mod types;

pub use features::{Feature, Features};

use rng::Rng;
use schema::Table;

/// What the generator produces, besides the seed.
#[derive(Debug, Clone)]
pub struct Config {
    pub features: Features,
    /// Rows per key domain of the main tables (inserts collide, updates find rows).
    pub key_space: i64,
    /// One transaction in `large_every` is large (with [`Feature::Large`]).
    pub large_every: u64,
    /// One transaction in `ddl_every` is DDL (with [`Feature::Ddl`]).
    pub ddl_every: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            features: Features::all(),
            key_space: 64,
            large_every: 150,
            ddl_every: 40,
        }
    }
}

impl Config {
    /// The default config with `RANDOM_FEATURES` applied (see [`Features::parse`]).
    pub fn from_env() -> Result<Config, features::UnknownFeature> {
        let spec = std::env::var("RANDOM_FEATURES").unwrap_or_default();
        Ok(Config {
            features: Features::parse(&spec)?,
            ..Config::default()
        })
    }
}

/// One source transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// 1, 2, ... in generation order (the ledger's `txn`).
    pub number: u64,
    /// The statements, without BEGIN/COMMIT.
    pub statements: Vec<String>,
    /// COMMIT (true) or ROLLBACK (false).
    pub commit: bool,
    /// DDL: run in autocommit (DDL commits implicitly), no ledger row.
    pub ddl: bool,
    /// The index in `statements` of the ledger insert (DML transactions).
    pub ledger: Option<usize>,
}

/// The generator.
#[derive(Debug, Clone)]
pub struct RandomWorkload {
    seed: u64,
    schema: String,
    config: Config,
    rng: Rng,
    tables: Vec<Table>,
    after_tables: Vec<String>,
    names: ddl::Names,
    number: u64,
    big_next: i64,
}

const SESSION: &[(&str, &str)] = &[
    (
        "SET SESSION foreign_key_checks = 0",
        "SET SESSION foreign_key_checks = 1",
    ),
    ("SET SESSION unique_checks = 0", "SET SESSION unique_checks = 1"),
    ("SET NAMES latin1", "SET NAMES utf8mb4"),
    ("SET NAMES binary", "SET NAMES utf8mb4"),
    ("SET SESSION sql_mode = ''", "SET SESSION sql_mode = DEFAULT"),
    ("SET SESSION sql_mode = 'TRADITIONAL'", "SET SESSION sql_mode = DEFAULT"),
    (
        "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES'",
        "SET SESSION sql_mode = DEFAULT",
    ),
    (
        "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')",
        "SET SESSION sql_mode = DEFAULT",
    ),
    (
        "SET SESSION sql_mode = 'PAD_CHAR_TO_FULL_LENGTH'",
        "SET SESSION sql_mode = DEFAULT",
    ),
    (
        "SET SESSION sql_mode = 'TIME_ROUND_FRACTIONAL,STRICT_TRANS_TABLES'",
        "SET SESSION sql_mode = DEFAULT",
    ),
    (
        "SET SESSION sql_mode = 'EMPTY_STRING_IS_NULL'",
        "SET SESSION sql_mode = DEFAULT",
    ),
    (
        "SET SESSION sql_mode = 'SIMULTANEOUS_ASSIGNMENT'",
        "SET SESSION sql_mode = DEFAULT",
    ),
    ("SET SESSION sql_mode = 'ANSI'", "SET SESSION sql_mode = DEFAULT"),
    ("SET SESSION time_zone = '+05:30'", "SET SESSION time_zone = DEFAULT"),
    ("SET SESSION time_zone = '-08:00'", "SET SESSION time_zone = DEFAULT"),
    ("SET SESSION time_zone = '+13:00'", "SET SESSION time_zone = DEFAULT"),
    (
        "SET SESSION auto_increment_increment = 5, auto_increment_offset = 3",
        "SET SESSION auto_increment_increment = DEFAULT, auto_increment_offset = DEFAULT",
    ),
];

impl RandomWorkload {
    pub fn new(seed: u64, schema: &str) -> RandomWorkload {
        RandomWorkload::with_config(seed, schema, Config::default())
    }

    pub fn with_config(seed: u64, schema: &str, config: Config) -> RandomWorkload {
        let mut rng = Rng::new(seed);
        let (tables, after_tables) = setup::initial_schema(&mut rng, &config.features, config.key_space);
        RandomWorkload {
            seed,
            schema: schema.to_owned(),
            config,
            rng,
            tables,
            after_tables,
            names: ddl::Names::default(),
            number: 0,
            big_next: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The model's tables (after the DDL generated so far).
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// CREATE DATABASE, the tables and triggers, and `USE` the schema.
    pub fn setup(&self) -> Vec<String> {
        let s = &self.schema;
        let mut out = vec![
            format!("CREATE DATABASE {s} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
            format!("USE {s}"),
        ];
        out.extend(self.tables.iter().map(|t| t.create_sql(s)));
        out.extend(self.after_tables.iter().cloned());
        out
    }

    /// The next transaction.
    pub fn next_transaction(&mut self) -> Transaction {
        self.number += 1;
        let f = &self.config.features;
        let rng = &mut self.rng;
        let (pre, post) = if f.has(Feature::Session) && rng.chance(8) {
            let (a, b) = rng.pick(SESSION);
            (vec![(*a).to_owned()], vec![(*b).to_owned()])
        } else {
            (vec![], vec![])
        };
        let mut statements = pre;
        if f.has(Feature::Ddl) && rng.below(self.config.ddl_every) == 0 {
            statements.extend(ddl::statement(rng, &self.schema, &mut self.tables, f, &mut self.names));
            statements.extend(post);
            return Transaction {
                number: self.number,
                statements,
                commit: true,
                ddl: true,
                ledger: None,
            };
        }
        if f.has(Feature::Large) && rng.below(self.config.large_every) == 0 {
            statements.extend(dml::large(rng, &self.schema, &mut self.big_next));
        } else {
            for _ in 0..rng.urange(1, 6) {
                statements.push(dml::statement(rng, &self.schema, &self.tables, f));
            }
        }
        let commit = !(f.has(Feature::Rollback) && rng.chance(5));
        statements.push(format!(
            "INSERT INTO {}.ledger (txn) VALUES ({})",
            self.schema, self.number
        ));
        let ledger = Some(statements.len() - 1);
        statements.extend(post);
        Transaction {
            number: self.number,
            statements,
            commit,
            ddl: false,
            ledger,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_workload() {
        let mut a = RandomWorkload::new(7, "rw");
        let mut b = RandomWorkload::new(7, "rw");
        assert_eq!(a.setup(), b.setup());
        for _ in 0..2000 {
            assert_eq!(a.next_transaction(), b.next_transaction());
        }
        let mut c = RandomWorkload::new(8, "rw");
        let differs = (0..20).any(|_| a.next_transaction() != c.next_transaction());
        assert!(differs, "another seed gives another workload");
    }

    #[test]
    fn switching_a_family_off_removes_it() {
        let config = Config {
            features: Features::parse("all,-triggers,-ddl,-json").expect("valid"),
            ..Config::default()
        };
        let mut w = RandomWorkload::with_config(3, "rw", config);
        let setup = w.setup().join("\n");
        assert!(!setup.contains("TRIGGER") && !setup.contains("JSON") && setup.contains("VERSIONING"));
        for _ in 0..2000 {
            let t = w.next_transaction();
            assert!(!t.ddl, "no DDL: {t:?}");
            assert!(!t.statements.iter().any(|s| s.contains("t_trig")), "{t:?}");
        }
    }
}

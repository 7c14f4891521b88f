//! The conformance runner (issue 8, "Fidelity"): replays MariaDB's own
//! regression tests (`mariadb-test-data`) with `mariadb-test` on a sandbox
//! primary while the project's replicators replicate master -> slave and
//! master -> relay -> slave, and reports every table that differs and
//! every replicator that stops. In the oracle mode (`--native`) the same
//! tests run with MariaDB's own replication in the same shape instead, so
//! a difference found there is MariaDB's, not the project's.
//!
//! * [`catalog`]: the tests, the CI subset, the refused list;
//! * [`rewrite`] and [`includes`]: how a test written for mtr's
//!   master/slave pair runs against one primary (rewrites and include
//!   overrides, documented there);
//! * [`deploy`]: the four-host deployment, in either mode;
//! * [`options`]: what a test's server options mean to the runner
//!   (`--timezone`, a renamed binlog) and the run's binlog format;
//! * [`native`]: the native replicas (setup, `SHOW SLAVE STATUS`);
//! * [`on_replicas`]: plugin statements a test runs, also run on the
//!   replicas (no binlog carries them);
//! * [`topology`]: what the runner and its checkpoints share;
//! * [`checkpoint`] and [`compare`]: marker, bounded wait, comparison;
//! * [`run`]: one test, its mtr-like environment, its outcome;
//! * [`report`]: the per-test lines, the summary, the TSV.
//!
//! The binary is `tests/src/bin/conformance.rs`; `scripts/conformance` is
//! its entry point (README, "Conformance").

pub mod catalog;
pub mod checkpoint;
pub mod compare;
pub mod deploy;
pub mod includes;
pub mod native;
pub mod on_replicas;
pub mod options;
pub mod report;
pub mod rewrite;
pub mod run;
pub mod topology;

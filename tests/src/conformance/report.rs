//! The runner's output: one line per test, a summary, and a TSV with one
//! row per test (suite, test, outcome, transactions, tables, differing
//! tables, error, replication: `tungsten` or `native`).
//!
//! Invariant: the TSV has exactly the header's eight columns on every row
//! (tabs and newlines inside a field are replaced by spaces); the first
//! seven are those of the runner before the native mode, the mode comes
//! last.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::run::{Outcome, TestResult};
use super::topology::Mode;

/// The TSV header.
pub const TSV_HEADER: &str = "suite\ttest\toutcome\ttransactions\ttables\tdiffering_tables\terror\treplication";

fn field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// One TSV row of a run in `mode`.
pub fn tsv_row(r: &TestResult, mode: Mode) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        field(&r.suite),
        field(&r.test),
        r.outcome.as_str(),
        r.transactions.max(0),
        r.tables,
        field(&r.differing.join(" ")),
        field(&r.error),
        mode.as_str()
    )
}

/// The line printed when a test ends.
pub fn line(r: &TestResult) -> String {
    let mut s = format!(
        "{:<48} {:<15} {:>5} trx {:>4} tables {:>6.1}s",
        format!("{}.{}", r.suite, r.test),
        r.outcome.as_str(),
        r.transactions.max(0),
        r.tables,
        r.elapsed.as_secs_f64()
    );
    if r.outcome != Outcome::Clean && !r.error.is_empty() {
        let mut e = r.error.clone();
        if e.len() > 300 {
            let mut cut = 300;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
            e.push_str("...");
        }
        let _ = write!(s, "  {e}");
    }
    s
}

/// The summary of a run in `mode` (its first line names the mode).
pub fn summary(results: &[TestResult], mode: Mode) -> String {
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let trx: i64 = results.iter().map(|r| r.transactions.max(0)).sum();
    let tables: usize = results.iter().map(|r| r.tables).sum();
    let differing: usize = results.iter().map(|r| r.differing.len()).sum();
    let (transactions, stops) = match mode {
        Mode::Tungsten => ("transactions (seqnos extracted)", "replicator stops"),
        Mode::Native => ("transactions (binlog GTIDs)", "native replica stops"),
    };
    format!(
        "replication: {}\n\
         tests {}: clean {}, differ {}, stop {}, mysqltest-error {}, skipped {}, refused {}\n\
         {transactions} {trx}, tables compared {tables}, differing tables {differing}, {stops} {}",
        mode.describe(),
        results.len(),
        count(Outcome::Clean),
        count(Outcome::Differ),
        count(Outcome::Stop),
        count(Outcome::MysqltestError),
        count(Outcome::Skipped),
        count(Outcome::Refused),
        count(Outcome::Stop),
    )
}

/// Writes the TSV of a run in `mode`.
pub fn write_tsv(path: &Path, results: &[TestResult], mode: Mode) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(f, "{TSV_HEADER}")?;
    for r in results {
        writeln!(f, "{}", tsv_row(r, mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tsv_rows_have_the_header_fields_and_the_mode() {
        let r = TestResult {
            suite: "rpl".into(),
            test: "rpl_x".into(),
            outcome: Outcome::Differ,
            transactions: 12,
            tables: 3,
            differing: vec!["test.t1@host2.alpha".into(), "test.t2@host2.beta".into()],
            error: "rows\tdiffer\nhere".into(),
            elapsed: Duration::from_secs(1),
            needs_rebuild: false,
        };
        let row = tsv_row(&r, Mode::Native);
        assert_eq!(row.split('\t').count(), TSV_HEADER.split('\t').count(), "{row}");
        assert!(row.starts_with("rpl\trpl_x\tdiffer\t12\t3\t"));
        assert!(row.ends_with("\tnative"), "{row}");
        assert!(tsv_row(&r, Mode::Tungsten).ends_with("\ttungsten"));
        let native = summary(std::slice::from_ref(&r), Mode::Native);
        assert!(native.starts_with("replication: native replication\n"), "{native}");
        assert!(
            native.contains("differ 1") && native.contains("native replica stops 0"),
            "{native}"
        );
        let tungsten = summary(&[r], Mode::Tungsten);
        assert!(
            tungsten.starts_with("replication: tungsten replicators\n"),
            "{tungsten}"
        );
        assert!(tungsten.contains("replicator stops 0"), "{tungsten}");
    }
}

//! The runner's output: one line per test, a summary, and a TSV with one
//! row per test (suite, test, outcome, transactions, tables, differing
//! tables, error).
//!
//! Invariant: the TSV has exactly the header's seven columns on every row
//! (tabs and newlines inside a field are replaced by spaces).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::run::{Outcome, TestResult};

/// The TSV header.
pub const TSV_HEADER: &str = "suite\ttest\toutcome\ttransactions\ttables\tdiffering_tables\terror";

fn field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// One TSV row.
pub fn tsv_row(r: &TestResult) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        field(&r.suite),
        field(&r.test),
        r.outcome.as_str(),
        r.transactions.max(0),
        r.tables,
        field(&r.differing.join(" ")),
        field(&r.error)
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

/// The summary.
pub fn summary(results: &[TestResult]) -> String {
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let trx: i64 = results.iter().map(|r| r.transactions.max(0)).sum();
    let tables: usize = results.iter().map(|r| r.tables).sum();
    let differing: usize = results.iter().map(|r| r.differing.len()).sum();
    format!(
        "tests {}: clean {}, differ {}, stop {}, mysqltest-error {}, skipped {}, refused {}\n\
         transactions (seqnos extracted) {trx}, tables compared {tables}, differing tables {differing}, replicator stops {}",
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

/// Writes the TSV.
pub fn write_tsv(path: &Path, results: &[TestResult]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(f, "{TSV_HEADER}")?;
    for r in results {
        writeln!(f, "{}", tsv_row(r))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tsv_rows_have_seven_fields() {
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
        let row = tsv_row(&r);
        assert_eq!(row.split('\t').count(), TSV_HEADER.split('\t').count(), "{row}");
        assert!(row.starts_with("rpl\trpl_x\tdiffer\t12\t3\t"));
        assert!(summary(&[r]).contains("differ 1"));
    }
}

//! The runner's output: one line per test, a summary, and a TSV with one
//! row per test (suite, test, outcome, transactions, tables, differing
//! tables, error, replication: `tungsten` or `native`, binlog_format:
//! `ROW` or `MIXED`).
//!
//! Invariant: the TSV has exactly the header's nine columns on every row
//! (tabs and newlines inside a field are replaced by spaces); the first
//! seven are those of the runner before the native mode, then the mode,
//! then the binlog format (columns are only ever added at the end).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::options::BinlogFormat;
use super::run::{Outcome, TestResult};
use super::topology::Mode;

/// The TSV header.
pub const TSV_HEADER: &str =
    "suite\ttest\toutcome\ttransactions\ttables\tdiffering_tables\terror\treplication\tbinlog_format";

/// What replicates and in which format, for the runner's first line and
/// its summary (e.g. `tungsten replicators, binlog_format=MIXED`).
pub fn describe(mode: Mode, format: BinlogFormat) -> String {
    format!("{}, binlog_format={format}", mode.describe())
}

fn field(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// One TSV row of a run in `mode` and `format`.
pub fn tsv_row(r: &TestResult, mode: Mode, format: BinlogFormat) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        field(&r.suite),
        field(&r.test),
        r.outcome.as_str(),
        r.transactions.max(0),
        r.tables,
        field(&r.differing.join(" ")),
        field(&r.error),
        mode.as_str(),
        format.as_str()
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

/// The summary of a run in `mode` and `format` (its first line names
/// both).
pub fn summary(results: &[TestResult], mode: Mode, format: BinlogFormat) -> String {
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
         tests {}: clean {}, differ {}, stop {}, native-diverges {}, mysqltest-error {}, skipped {}, refused {}\n\
         {transactions} {trx}, tables compared {tables}, differing tables {differing}, {stops} {}",
        describe(mode, format),
        results.len(),
        count(Outcome::Clean),
        count(Outcome::Differ),
        count(Outcome::Stop),
        count(Outcome::NativeDiverges),
        count(Outcome::MysqltestError),
        count(Outcome::Skipped),
        count(Outcome::Refused),
        count(Outcome::Stop),
    )
}

/// Writes the TSV of a run in `mode` and `format`.
pub fn write_tsv(path: &Path, results: &[TestResult], mode: Mode, format: BinlogFormat) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    writeln!(f, "{TSV_HEADER}")?;
    for r in results {
        writeln!(f, "{}", tsv_row(r, mode, format))?;
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
        let row = tsv_row(&r, Mode::Native, BinlogFormat::Row);
        assert_eq!(row.split('\t').count(), TSV_HEADER.split('\t').count(), "{row}");
        assert!(row.starts_with("rpl\trpl_x\tdiffer\t12\t3\t"));
        assert!(row.ends_with("\tnative\tROW"), "{row}");
        assert!(tsv_row(&r, Mode::Tungsten, BinlogFormat::Mixed).ends_with("\ttungsten\tMIXED"));
        assert!(TSV_HEADER.ends_with("\treplication\tbinlog_format"));
        let native = summary(std::slice::from_ref(&r), Mode::Native, BinlogFormat::Row);
        assert!(
            native.starts_with("replication: native replication, binlog_format=ROW\n"),
            "{native}"
        );
        assert!(
            native.contains("differ 1") && native.contains("native replica stops 0"),
            "{native}"
        );
        let tungsten = summary(&[r], Mode::Tungsten, BinlogFormat::Mixed);
        assert!(
            tungsten.starts_with("replication: tungsten replicators, binlog_format=MIXED\n"),
            "{tungsten}"
        );
        assert!(tungsten.contains("replicator stops 0"), "{tungsten}");
    }
}

//! Runs generated transactions on the primary.
//!
//! Invariants: a DML transaction runs as `BEGIN`, its statements one by
//! one, then `COMMIT` or `ROLLBACK`; a DDL transaction runs its statements
//! in autocommit. A statement that the server rejects is recorded and the
//! transaction goes on (the statement changed nothing; the binlog is the
//! truth); a lost connection or a timeout ends the run with an error.

use std::io::Write;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::Transaction;

/// Server errors a generated statement may legitimately meet on the primary.
pub const EXPECTED_ERRORS: &[(u16, &str)] = &[
    (1048, "NULL into NOT NULL (EMPTY_STRING_IS_NULL)"),
    (1062, "duplicate key"),
    (1264, "value out of range"),
    (1265, "data truncated"),
    (1292, "incorrect date/time value (TRADITIONAL)"),
    (1366, "incorrect string value (SET NAMES)"),
    (1406, "data too long (SET NAMES, NO_BACKSLASH_ESCAPES, CONCAT)"),
    (1451, "foreign key: parent row referenced"),
    (1452, "foreign key: no parent row"),
    (
        1553,
        "DROP INDEX of an index a foreign key needs (seed 8, transaction 52960)",
    ),
    (1690, "arithmetic out of range (col + 1)"),
    (
        1978,
        "a zero default refused by the session's sql_mode (NO_ZERO_DATE) for a column created without it (seed 8, \
         transaction 87469)",
    ),
];

/// The longest a statement may take.
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);

/// A statement the primary rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementError {
    pub index: usize,
    pub statement: String,
    pub code: u16,
    pub message: String,
}

impl StatementError {
    pub fn expected(&self) -> bool {
        EXPECTED_ERRORS.iter().any(|(c, _)| *c == self.code)
    }
}

/// What happened to one transaction.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub errors: Vec<StatementError>,
    /// COMMIT was sent and succeeded (DDL: always, each statement commits).
    pub committed: bool,
    /// The ledger row is part of what committed.
    pub in_ledger: bool,
}

/// The run cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("transaction {number}: statement {sql:?} failed without a server error (connection lost?): {source}")]
    Connection {
        number: u64,
        sql: String,
        source: mysql_async::Error,
    },
    #[error("transaction {number}: statement {sql:?} took more than {STATEMENT_TIMEOUT:?}")]
    Timeout { number: u64, sql: String },
    #[error("writing the SQL log: {0}")]
    Log(#[from] std::io::Error),
}

async fn run(conn: &mut Conn, number: u64, sql: &str) -> Result<Option<(u16, String)>, DriverError> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, conn.query_drop(sql)).await {
        Ok(Ok(())) => Ok(None),
        Ok(Err(mysql_async::Error::Server(e))) => Ok(Some((e.code, e.message))),
        Ok(Err(source)) => Err(DriverError::Connection {
            number,
            sql: sql.to_owned(),
            source,
        }),
        Err(_) => Err(DriverError::Timeout {
            number,
            sql: sql.to_owned(),
        }),
    }
}

/// Runs `tx` on `conn`, writing each statement and its outcome to `log`
/// (a script that `mariadb` can replay).
pub async fn execute(
    conn: &mut Conn,
    tx: &Transaction,
    mut log: Option<&mut dyn Write>,
) -> Result<Outcome, DriverError> {
    let mut outcome = Outcome::default();
    if let Some(log) = log.as_mut() {
        writeln!(
            log,
            "-- transaction {}{}",
            tx.number,
            if tx.ddl { " (DDL)" } else { "" }
        )?;
        if !tx.ddl {
            writeln!(log, "BEGIN;")?;
        }
    }
    if !tx.ddl {
        if let Some((code, message)) = run(conn, tx.number, "BEGIN").await? {
            outcome.errors.push(StatementError {
                index: usize::MAX,
                statement: "BEGIN".into(),
                code,
                message,
            });
        }
    }
    for (index, sql) in tx.statements.iter().enumerate() {
        let result = run(conn, tx.number, sql).await?;
        if let Some(log) = log.as_mut() {
            match &result {
                None => writeln!(log, "{sql};")?,
                Some((code, message)) => writeln!(log, "{sql}; -- ERROR {code}: {}", message.replace('\n', " "))?,
            }
        }
        if let Some((code, message)) = result {
            outcome.errors.push(StatementError {
                index,
                statement: sql.clone(),
                code,
                message,
            });
        }
    }
    if tx.ddl {
        outcome.committed = true;
        return Ok(outcome);
    }
    let end = if tx.commit { "COMMIT" } else { "ROLLBACK" };
    let result = run(conn, tx.number, end).await?;
    if let Some(log) = log.as_mut() {
        writeln!(log, "{end};")?;
    }
    match result {
        None => outcome.committed = tx.commit,
        Some((code, message)) => outcome.errors.push(StatementError {
            index: tx.statements.len(),
            statement: end.into(),
            code,
            message,
        }),
    }
    outcome.in_ledger = outcome.committed && tx.ledger.is_some_and(|i| !outcome.errors.iter().any(|e| e.index == i));
    Ok(outcome)
}

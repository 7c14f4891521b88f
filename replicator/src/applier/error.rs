//! Apply errors, typed by what the caller must do.
//!
//! * [`ApplyError::Transient`]: the target could not do the work *now*
//!   (connection lost, lock wait timeout, deadlock, read-only, disk full).
//!   Nothing of the open block was committed; the caller backs off, and
//!   re-applies from `last_applied() + 1` (the applier reconnects by itself on
//!   the next call when the connection was lost).
//! * [`ApplyError::Definite`]: retrying the same event gives the same result
//!   (a failed statement, a malformed event, a zero-row UPDATE under
//!   `ZeroRowPolicy::Stop`). The service goes OFFLINE:ERROR; the message names
//!   the seqno, the table, the SQL and the server error so that an operator
//!   can decide to run `trepctl online -skip-seqno N`.

use std::fmt;

use crate::packet_limit::is_packet_too_large;
use thl::seqno::Seqno;

/// Longest SQL text kept in an error, in bytes.
pub const MAX_SQL_IN_ERROR: usize = 1024;

/// MariaDB/MySQL server error codes that mean "try again later".
const TRANSIENT_CODES: &[u16] = &[
    1021, // ER_DISK_FULL
    1040, // ER_CON_COUNT_ERROR
    1053, // ER_SERVER_SHUTDOWN
    1114, // ER_RECORD_FILE_FULL (table full)
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
    1290, // ER_OPTION_PREVENTS_STATEMENT (--read-only)
    1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    1836, // ER_READ_ONLY_MODE
    1927, // ER_CONNECTION_KILLED
    2006, // CR_SERVER_GONE_ERROR
    2013, // CR_SERVER_LOST
    4031, // ER_CLIENT_INTERACTION_TIMEOUT
];

/// Why an event could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Retry the whole block (from `last_applied() + 1`) after a backoff.
    #[error("{0}")]
    Transient(Box<TransientError>),
    /// Retrying gives the same result: stop for the operator.
    #[error("{0}")]
    Definite(Box<DefiniteError>),
}

impl ApplyError {
    /// True for [`ApplyError::Transient`].
    pub fn is_transient(&self) -> bool {
        matches!(self, ApplyError::Transient(_))
    }

    /// The seqno being applied when the error happened, if any.
    pub fn seqno(&self) -> Option<Seqno> {
        match self {
            ApplyError::Transient(t) => t.seqno,
            ApplyError::Definite(d) => d.seqno,
        }
    }

    /// The server error code, if the server reported one.
    pub fn code(&self) -> Option<u16> {
        match self {
            ApplyError::Transient(t) => t.code,
            ApplyError::Definite(d) => d.code,
        }
    }

    /// A transient error that kept coming back at the same seqno: now a
    /// definite one (the service stops in OFFLINE:ERROR), naming the
    /// attempts, how long they took, the error and the statement.
    pub fn gave_up(self, attempts: u32, elapsed: std::time::Duration) -> ApplyError {
        match self {
            ApplyError::Definite(d) => ApplyError::Definite(d),
            ApplyError::Transient(t) => ApplyError::Definite(Box::new(DefiniteError(Failure {
                message: format!(
                    "{} (a transient error, but it happened {attempts} times in a row at this seqno over {:.1} s: \
                     the applier stopped retrying; fix the cause on the target, e.g. a lock held by another \
                     session, read-only mode or a full disk, then go online again)",
                    t.message,
                    elapsed.as_secs_f64()
                ),
                ..t.0
            }))),
        }
    }
}

/// What an apply failure names, transient or definite: where it happened
/// and what the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seqno being applied, if any (`None` while connecting, and for
    /// setup errors).
    pub seqno: Option<Seqno>,
    /// Its fragment number.
    pub fragno: u16,
    /// The table involved (`` `db`.`t` ``), if any.
    pub table: Option<String>,
    /// The SQL that failed, truncated to [`MAX_SQL_IN_ERROR`] bytes.
    pub sql: Option<String>,
    /// The server error code, if the server reported one.
    pub code: Option<u16>,
    /// The server's message, or what is wrong with the event.
    pub message: String,
    /// The last seqno committed on the target (restart after it).
    pub last_committed: Option<Seqno>,
}

/// A failure that may succeed when retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransientError(pub Failure);

/// A failure that will happen again if retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefiniteError(pub Failure);

impl std::ops::Deref for TransientError {
    type Target = Failure;

    fn deref(&self) -> &Failure {
        &self.0
    }
}

impl std::ops::Deref for DefiniteError {
    type Target = Failure;

    fn deref(&self) -> &Failure {
        &self.0
    }
}

impl fmt::Display for TransientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transient apply error")?;
        if let Some(s) = self.seqno {
            write!(f, " at seqno {s}")?;
        }
        if let Some(c) = self.code {
            write!(f, " (error {c})")?;
        }
        if let Some(t) = &self.table {
            write!(f, " on table {t}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(sql) = &self.sql {
            write!(f, "; SQL: {sql}")?;
        }
        write!(f, "; the open block was not committed, retry from ")?;
        match self.last_committed {
            Some(s) => write!(f, "seqno {}", s + 1),
            None => write!(f, "the first event"),
        }
    }
}

impl fmt::Display for DefiniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "apply failed")?;
        if let Some(s) = self.seqno {
            write!(f, " at seqno {s} fragno {}", self.fragno)?;
        }
        if let Some(t) = &self.table {
            write!(f, " on table {t}")?;
        }
        match self.code {
            Some(c) => write!(f, ": server error {c}: {}", self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        if let Some(sql) = &self.sql {
            write!(f, "; SQL: {sql}")?;
        }
        if let Some(s) = self.seqno {
            write!(f, "; nothing of this transaction's block was committed (")?;
            match self.last_committed {
                Some(c) => write!(f, "last committed seqno {c}")?,
                None => write!(f, "nothing committed yet")?,
            }
            write!(
                f,
                "); fix the target and go online again, or skip the transaction with `trepctl online -skip-seqno {s}`"
            )?;
        }
        Ok(())
    }
}

/// Where an error happened: what the applier was doing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ctx<'a> {
    pub seqno: Option<Seqno>,
    pub fragno: u16,
    pub table: Option<String>,
    pub sql: Option<&'a [u8]>,
    pub last_committed: Option<Seqno>,
}

impl Ctx<'_> {
    /// What the error names, with the server's `code` and `message`.
    fn failure(&self, code: Option<u16>, message: String) -> Failure {
        Failure {
            seqno: self.seqno,
            fragno: self.fragno,
            table: self.table.clone(),
            sql: self.sql.map(truncate_sql),
            code,
            message,
            last_committed: self.last_committed,
        }
    }

    /// A definite error with no server code (bad event, zero-row policy).
    pub fn definite(&self, message: impl Into<String>) -> ApplyError {
        self.definite_with(None, message.into())
    }

    /// A definite error with the server's code (a divergence: retrying
    /// cannot cure it, whatever the code).
    pub fn definite_code(&self, code: u16, message: impl Into<String>) -> ApplyError {
        self.definite_with(Some(code), message.into())
    }

    fn definite_with(&self, code: Option<u16>, message: String) -> ApplyError {
        ApplyError::Definite(Box::new(DefiniteError(self.failure(code, message))))
    }

    /// A transient error with no server code.
    pub fn transient(&self, message: impl Into<String>) -> ApplyError {
        self.transient_code(None, message.into())
    }

    fn transient_code(&self, code: Option<u16>, message: String) -> ApplyError {
        ApplyError::Transient(Box::new(TransientError(self.failure(code, message))))
    }

    /// Classifies a driver error.
    pub fn classify(&self, err: mysql_async::Error) -> ApplyError {
        use mysql_async::{DriverError, Error};
        match err {
            Error::Server(se) => {
                if TRANSIENT_CODES.contains(&se.code) {
                    self.transient_code(Some(se.code), se.message)
                } else {
                    self.definite_with(Some(se.code), format!("{} (SQLSTATE {})", se.message, se.state))
                }
            }
            // The client's own packet limit (an I/O error by type): sending
            // the same statement again fails the same way.
            Error::Io(e) if is_packet_too_large(&e) => self.definite(format!(
                "{e}: the statement is longer than the target's max_allowed_packet; raise it on the target"
            )),
            Error::Io(e) => self.transient_code(None, format!("connection to the target: {e}")),
            Error::Driver(
                d @ (DriverError::ConnectionClosed
                | DriverError::PacketOutOfOrder
                | DriverError::UnexpectedPacket { .. }
                | DriverError::BadCompressedPacketHeader),
            ) => self.transient_code(None, format!("connection to the target: {d}")),
            other => self.definite(other.to_string()),
        }
    }
}

/// True when the connection must be dropped after this error (it may be in
/// an unknown protocol state).
pub(crate) fn breaks_connection(err: &mysql_async::Error) -> bool {
    use mysql_async::Error;
    match err {
        Error::Io(_) | Error::Driver(_) | Error::Other(_) | Error::Url(_) => true,
        Error::Server(se) => matches!(se.code, 1053 | 1927 | 2006 | 2013 | 4031),
    }
}

/// The SQL as text for an error message: lossy UTF-8, at most
/// [`MAX_SQL_IN_ERROR`] bytes (cut at a character boundary, `...` appended).
pub(crate) fn truncate_sql(sql: &[u8]) -> String {
    let text = String::from_utf8_lossy(sql);
    if text.len() <= MAX_SQL_IN_ERROR {
        return text.into_owned();
    }
    let mut end = MAX_SQL_IN_ERROR;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], sql.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_char_boundary() {
        let sql = "é".repeat(1000);
        let t = truncate_sql(sql.as_bytes());
        assert!(t.len() < MAX_SQL_IN_ERROR + 30, "{}", t.len());
        assert!(t.ends_with("(2000 bytes)"));
        assert_eq!(truncate_sql(b"SELECT 1"), "SELECT 1");
    }

    #[test]
    fn classification() {
        let ctx = Ctx {
            seqno: Some(Seqno(7)),
            ..Ctx::default()
        };
        let server = |code| {
            mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: "m".into(),
                state: "HY000".into(),
            })
        };
        assert!(ctx.classify(server(1213)).is_transient());
        assert!(ctx.classify(server(1205)).is_transient());
        assert!(ctx.classify(server(1836)).is_transient());
        let e = ctx.classify(server(1062));
        assert!(!e.is_transient());
        assert_eq!(e.code(), Some(1062));
        assert!(e.to_string().contains("trepctl online -skip-seqno 7"), "{e}");
        assert!(ctx
            .classify(mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed))
            .is_transient());
    }
}

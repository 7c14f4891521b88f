//! [`SandboxError`]: why the sandbox could not do what was asked, and
//! [`io_err`], the one way the other files turn an `io::Error` into one.
//!
//! Invariants: the enum stays flat (no boxed source enums) so tests can
//! match its variants directly; the variants about a server that did not
//! start carry the tail of its error log (`super::logs`), so a failed test
//! shows why without a look at the files.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

const INSTALL_HINT: &str = "run `apt-get install -y mariadb-server`";

/// Why the sandbox could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A MariaDB binary is not installed.
    #[error("`{binary}` not found (searched $PATH, /usr/sbin, /usr/local/sbin): {INSTALL_HINT}")]
    MissingBinary {
        /// The binary looked for.
        binary: String,
    },
    /// A filesystem or process operation failed.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `mariadb-install-db` failed.
    #[error("mariadb-install-db failed ({status}) for {datadir}:\n{output}")]
    InstallDb {
        /// Its exit status.
        status: ExitStatus,
        /// The data directory it was building.
        datadir: PathBuf,
        /// The tail of its output.
        output: String,
    },
    /// The instance did not accept connections in time.
    #[error("instance {name} ({addr}) did not accept connections within {waited:?}; last error: {last_error}; tail of {log}:\n{log_tail}")]
    StartTimeout {
        /// Instance name.
        name: String,
        /// `address:port`.
        addr: String,
        /// How long we waited.
        waited: Duration,
        /// The last connection error.
        last_error: String,
        /// The error log path.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// `mariadbd` exited while we waited for it to accept connections.
    #[error("instance {name} ({addr}): mariadbd exited during start-up ({status}); tail of {log}:\n{log_tail}")]
    Exited {
        /// Instance name.
        name: String,
        /// `address:port`.
        addr: String,
        /// Its exit status.
        status: ExitStatus,
        /// The error log path.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// `mariadbd` did not stop within the deadline (it was then killed).
    #[error("instance {name}: mariadbd (pid {pid}) did not stop within {waited:?} after SIGTERM; killed")]
    StopTimeout {
        /// Instance name.
        name: String,
        /// Its pid.
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// An operation needs a running instance.
    #[error("instance {name} is not running")]
    NotRunning {
        /// Instance name.
        name: String,
    },
    /// An operation needs a stopped instance.
    #[error("instance {name} is already running")]
    AlreadyRunning {
        /// Instance name.
        name: String,
    },
    /// A bad argument (non-loopback address, duplicate name, ...).
    #[error("invalid sandbox request: {0}")]
    Invalid(String),
    /// No free loopback address or port was found.
    #[error("no free loopback {0} found")]
    NoFreeAddress(String),
    /// An SQL statement failed.
    #[error("instance {name}: `{sql}` failed: {source}")]
    Sql {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// The driver error.
        #[source]
        source: mysql_async::Error,
    },
    /// An SQL statement did not finish in time.
    #[error("instance {name}: `{sql}` did not finish within {waited:?}")]
    SqlTimeout {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// How long we waited.
        waited: Duration,
    },
    /// A query result did not have the expected shape.
    #[error("instance {name}: unexpected result for `{sql}`: {detail}")]
    Unexpected {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// What was wrong.
        detail: String,
    },
}

pub(super) fn io_err(what: impl Into<String>, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> SandboxError {
    let (what, path) = (what.into(), path.into());
    move |source| SandboxError::Io { what, path, source }
}

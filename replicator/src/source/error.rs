//! Errors of the source connection, typed by what the caller must do.
//!
//! * [`TransientError`]: the connection was refused, lost, timed out, or the
//!   server is shutting down. Nothing is wrong with the request: reconnect
//!   from the last durable position with backoff.
//! * [`DefiniteError`]: retrying the same request cannot succeed (binlog
//!   purged past the resume point, GTID unknown to the source, access denied,
//!   wrong server settings, a malformed event). Stop, go OFFLINE:ERROR and
//!   show the message to the operator: every message names the position
//!   and what to do.
//!
//! Every variant carries the address of the source and a [`StreamPosition`]
//! (the requested start before the first event, the last event's position
//! after).

use std::fmt;
use std::time::Duration;

use super::preflight::PreflightError;
use super::queries::BinaryLog;
use crate::binlog::BinlogPosition;
use crate::packet_limit::is_packet_too_large;

/// Where the stream was: the binlog position after the last event received
/// (or the requested start), and the last GTID seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPosition {
    /// `None` when not known yet (a GTID or current-position start).
    pub at: Option<BinlogPosition>,
    /// Last MariaDB GTID seen (`domain-server-seqno`), or the requested GTID
    /// state before the first GTID event.
    pub gtid: Option<String>,
}

impl fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.at, &self.gtid) {
            (None, None) => f.write_str("(before streaming)"),
            (None, Some(g)) => write!(f, "GTID {g}"),
            (Some(at), None) => write!(f, "{at}"),
            (Some(at), Some(g)) => write!(f, "{at} (last GTID {g})"),
        }
    }
}

/// Either kind of failure.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Retry with backoff.
    #[error(transparent)]
    Transient(#[from] TransientError),
    /// Stop and tell the operator.
    #[error(transparent)]
    Definite(#[from] DefiniteError),
}

impl SourceError {
    /// Whether retrying (reconnecting) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }

    /// The position the error happened at, when it has one.
    pub fn position(&self) -> Option<&StreamPosition> {
        match self {
            Self::Transient(e) => Some(e.position()),
            Self::Definite(e) => e.position(),
        }
    }
}

/// A failure that a reconnect with backoff may cure.
#[derive(Debug, thiserror::Error)]
pub enum TransientError {
    /// The TCP/socket connection could not be made (server down or
    /// restarting, network cut).
    #[error("cannot connect to the source {addr} at {at}: {detail} (will retry)")]
    Connect {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// Driver message.
        detail: String,
    },
    /// An established connection broke, or the server ended the dump.
    #[error("connection to the source {addr} lost at {at}: {detail} (will retry)")]
    ConnectionLost {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// Driver message.
        detail: String,
    },
    /// The server refused for a passing reason (shutting down, connection
    /// killed, too many connections).
    #[error("the source {addr} is unavailable at {at}: ERROR {code}: {message} (will retry)")]
    ServerUnavailable {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// MySQL error code.
        code: u16,
        /// Server message.
        message: String,
    },
    /// Nothing arrived (not even a heartbeat) for too long: a silent
    /// network cut or a hung server.
    #[error("no event or heartbeat from the source {addr} for {idle:?} at {at} (heartbeat period {heartbeat:?}; will reconnect)")]
    Idle {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// How long nothing arrived.
        idle: Duration,
        /// The heartbeat period asked of the server.
        heartbeat: Duration,
    },
    /// A connect or query did not finish in time.
    #[error("{what} on the source {addr} did not finish within {waited:?} at {at} (will retry)")]
    Timeout {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// What timed out.
        what: String,
        /// The deadline.
        waited: Duration,
    },
}

impl TransientError {
    /// The position the error happened at.
    pub fn position(&self) -> &StreamPosition {
        match self {
            Self::Connect { at, .. }
            | Self::ConnectionLost { at, .. }
            | Self::ServerUnavailable { at, .. }
            | Self::Idle { at, .. }
            | Self::Timeout { at, .. } => at,
        }
    }
}

fn list_logs(logs: &[BinaryLog]) -> String {
    match logs {
        [] => "none (binary logging off, or SHOW BINARY LOGS failed)".to_owned(),
        [one] => one.name.clone(),
        [first, .., last] => format!("{} .. {} ({} files)", first.name, last.name, logs.len()),
    }
}

/// A failure that retrying cannot cure.
#[derive(Debug, thiserror::Error)]
pub enum DefiniteError {
    /// The source no longer has the binlog at the resume point (purged,
    /// `RESET MASTER`, or a file that never existed).
    #[error(
        "binlog purged past the resume point on {addr}: need {needed}, oldest available {}; available binlogs: {}. \
         Events between are lost for this source: re-provision the downstream, or, if skipping them is acceptable, \
         restart the extractor from {}. Server said: {server_message}",
        .available.first().map_or("(none)".to_owned(), |b| format!("{}:4", b.name)),
        list_logs(.available),
        .available.first().map_or("the current position".to_owned(), |b| format!("{}:4", b.name)),
    )]
    BinlogPurged {
        /// Source address.
        addr: String,
        /// The position (or GTID state) the dump needed.
        needed: StreamPosition,
        /// `SHOW BINARY LOGS` at the time of the error, oldest first.
        available: Vec<BinaryLog>,
        /// Server message (ERROR 1236).
        server_message: String,
    },
    /// The requested GTID is not in the source's binlog (never existed here:
    /// a different source, or diverged history).
    #[error(
        "GTID {requested} is not in the binlog of the source {addr} (its @@gtid_binlog_pos is {}): \
         the downstream is ahead of or diverged from this source; check that this is the right source, \
         or re-provision. Server said: {server_message}",
        .gtid_binlog_pos.as_deref().unwrap_or("unknown")
    )]
    UnknownGtid {
        /// Source address.
        addr: String,
        /// The requested GTID state.
        requested: String,
        /// The source's `@@gtid_binlog_pos`, if it could be read.
        gtid_binlog_pos: Option<String>,
        /// Server message (ERROR 1236).
        server_message: String,
    },
    /// The account lacks a privilege or the password is wrong.
    #[error(
        "access denied on the source {addr} for {user} at {at}: ERROR {code}: {message}. \
         Check the password and GRANT REPLICATION SLAVE, BINLOG MONITOR (REPLICATION CLIENT on MySQL), SELECT ON *.* TO the account"
    )]
    AccessDenied {
        /// Source address.
        addr: String,
        /// The account.
        user: String,
        /// Position.
        at: StreamPosition,
        /// MySQL error code.
        code: u16,
        /// Server message.
        message: String,
    },
    /// The source's settings are wrong (see the findings).
    #[error("source {addr} at {at}: {source}")]
    Settings {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// Every failed check.
        #[source]
        source: PreflightError,
    },
    /// A GTID start was asked of a server that is not MariaDB.
    #[error(
        "source {addr} ({version}) is not MariaDB: cannot start from MariaDB GTID {requested}; start from a file:pos"
    )]
    GtidUnsupported {
        /// Source address.
        addr: String,
        /// Server version string.
        version: String,
        /// The requested GTID.
        requested: String,
    },
    /// Any other server error (including other ERROR 1236 reasons, such as
    /// a start position past the end of a file).
    #[error("source {addr} at {at}: ERROR {code}: {message}")]
    Server {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// MySQL error code.
        code: u16,
        /// Server message.
        message: String,
    },
    /// The server sent something we cannot frame (malformed event, unknown
    /// checksum algorithm, unexpected packet).
    #[error("protocol error from the source {addr} at {at}: {detail}")]
    Protocol {
        /// Source address.
        addr: String,
        /// Position.
        at: StreamPosition,
        /// What was wrong.
        detail: String,
    },
    /// The connection options are invalid.
    #[error("invalid connection options for the source: {detail}")]
    Config {
        /// What was wrong.
        detail: String,
    },
}

impl DefiniteError {
    /// The position the error happened at, when it has one.
    pub fn position(&self) -> Option<&StreamPosition> {
        match self {
            Self::BinlogPurged { needed, .. } => Some(needed),
            Self::AccessDenied { at, .. }
            | Self::Settings { at, .. }
            | Self::Server { at, .. }
            | Self::Protocol { at, .. } => Some(at),
            Self::UnknownGtid { .. } | Self::GtidUnsupported { .. } | Self::Config { .. } => None,
        }
    }
}

/// The client-side packet limit of the binlog connection: the protocol's
/// maximum (1 GiB), as MariaDB's own replica reads the binlog with
/// `slave_max_allowed_packet` (default 1 GiB) and not with the source's
/// `max_allowed_packet`, which the connection would otherwise adopt.
pub const BINLOG_PACKET_LIMIT: usize = 1 << 30;

/// MySQL/MariaDB error codes we act on.
/// <https://mariadb.com/kb/en/mariadb-error-code-reference/>
pub mod codes {
    /// ER_DBACCESS_DENIED_ERROR.
    pub const DBACCESS_DENIED: u16 = 1044;
    /// ER_ACCESS_DENIED_ERROR (bad password or unknown account).
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_SERVER_SHUTDOWN.
    pub const SERVER_SHUTDOWN: u16 = 1053;
    /// ER_CON_COUNT_ERROR (too many connections).
    pub const CON_COUNT: u16 = 1040;
    /// ER_TABLEACCESS_DENIED_ERROR.
    pub const TABLEACCESS_DENIED: u16 = 1142;
    /// ER_TOO_MANY_USER_CONNECTIONS.
    pub const TOO_MANY_USER_CONNECTIONS: u16 = 1203;
    /// ER_SPECIFIC_ACCESS_DENIED_ERROR (a missing global privilege).
    pub const SPECIFIC_ACCESS_DENIED: u16 = 1227;
    /// ER_MASTER_FATAL_ERROR_READING_BINLOG (purged, unknown GTID, bad
    /// position, ...; the message says which).
    pub const MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;
    /// ER_QUERY_INTERRUPTED.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// ER_ACCESS_DENIED_NO_PASSWORD_ERROR (MySQL).
    pub const ACCESS_DENIED_NO_PASSWORD: u16 = 1698;
    /// ER_CONNECTION_KILLED (MariaDB).
    pub const CONNECTION_KILLED: u16 = 1927;
    /// ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8).
    pub const CLIENT_INTERACTION_TIMEOUT: u16 = 4031;
    /// ER_PARSE_ERROR (used to fall back between statement spellings).
    pub const PARSE_ERROR: u16 = 1064;
}

/// Classifies a driver error (except the ERROR 1236 reasons that need a
/// look at the server, see `stream.rs`).
pub(crate) fn classify(
    err: mysql_async::Error,
    addr: &str,
    user: &str,
    at: &StreamPosition,
    connecting: bool,
) -> SourceError {
    use mysql_async::{DriverError, Error};
    let addr = addr.to_owned();
    let at = at.clone();
    match err {
        Error::Server(e) => match e.code {
            codes::ACCESS_DENIED
            | codes::DBACCESS_DENIED
            | codes::TABLEACCESS_DENIED
            | codes::SPECIFIC_ACCESS_DENIED
            | codes::ACCESS_DENIED_NO_PASSWORD => DefiniteError::AccessDenied {
                addr,
                user: user.to_owned(),
                at,
                code: e.code,
                message: e.message,
            }
            .into(),
            codes::SERVER_SHUTDOWN
            | codes::CONNECTION_KILLED
            | codes::QUERY_INTERRUPTED
            | codes::CON_COUNT
            | codes::TOO_MANY_USER_CONNECTIONS
            | codes::CLIENT_INTERACTION_TIMEOUT => TransientError::ServerUnavailable {
                addr,
                at,
                code: e.code,
                message: e.message,
            }
            .into(),
            code => DefiniteError::Server {
                addr,
                at,
                code,
                message: e.message,
            }
            .into(),
        },
        // The client-side packet limit (the codec's check, an I/O error by
        // type): retrying reads the same event again, so it is definite.
        Error::Io(e) if is_packet_too_large(&e) => DefiniteError::Protocol {
            addr,
            at,
            detail: format!(
                "{e}: an event of the binlog is larger than the replicator's packet limit \
                 ({BINLOG_PACKET_LIMIT} bytes, the largest the protocol allows)"
            ),
        }
        .into(),
        Error::Io(e) if connecting => TransientError::Connect {
            addr,
            at,
            detail: e.to_string(),
        }
        .into(),
        Error::Io(e) => TransientError::ConnectionLost {
            addr,
            at,
            detail: e.to_string(),
        }
        .into(),
        Error::Driver(DriverError::ConnectionClosed | DriverError::PacketOutOfOrder) => {
            TransientError::ConnectionLost {
                addr,
                at,
                detail: "connection closed".to_owned(),
            }
            .into()
        }
        Error::Driver(e) => DefiniteError::Protocol {
            addr,
            at,
            detail: e.to_string(),
        }
        .into(),
        Error::Url(e) => DefiniteError::Config { detail: e.to_string() }.into(),
        Error::Other(e) => DefiniteError::Protocol {
            addr,
            at,
            detail: e.to_string(),
        }
        .into(),
    }
}

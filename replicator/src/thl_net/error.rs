//! Errors of the THL network protocol, typed by what the caller must do.
//!
//! * [`FrameError`]: bytes on the wire that are not a valid message. The
//!   side that reads them closes the connection (a server logs the peer at
//!   WARN; a client reconnects).
//! * [`NokCode`]: why a server refused a client, sent in a NOK message.
//!   Each code is either transient (retry, maybe another server) or
//!   definite (the operator must act; the text says what to do).
//! * [`ClientError`]: what [`super::ThlClient::run`] returns. Transient
//!   errors are retried inside `run` with backoff and only show in the
//!   progress; `run` returns the definite ones (the service goes
//!   OFFLINE:ERROR with the message).

use std::fmt;

/// Bytes that are not a valid protocol message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The type byte is not a known message type.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// The length prefix exceeds the cap of the message type (checked before
    /// anything is allocated or read).
    #[error("{kind} message of {len} bytes exceeds the {cap}-byte cap")]
    TooLong { kind: &'static str, len: u32, cap: u32 },
    /// A RECORD message too short to hold a THL record.
    #[error("{kind} message of {len} bytes is too short")]
    TooShort { kind: &'static str, len: u32 },
    /// The payload does not decode as its type.
    #[error("malformed {kind} message: {what}")]
    Malformed { kind: &'static str, what: &'static str },
    /// A HELLO or RESUME without the protocol magic: not a THL peer.
    #[error("bad magic in {kind}: not a THL protocol peer")]
    BadMagic { kind: &'static str },
}

/// Why a server refused a client (the NOK message's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NokCode {
    /// The client's record at its last seqno has another epoch than the
    /// server's: diverged histories. Definite.
    EpochMismatch,
    /// The server no longer has the seqno the client needs (purged). Definite.
    SeqnoPurged,
    /// The client has seqnos the server never had. Definite.
    ClientAhead,
    /// The client's protocol version is not supported. Definite.
    ProtocolVersion,
    /// The client asked for something this server does not do (positioning
    /// by event id). Definite.
    Unsupported,
    /// The server's first record is not the seqno the client expects.
    /// Definite.
    WrongFirstSeqno,
    /// Mutual TLS: the client id of RESUME is not a name of the client's
    /// certificate. Definite.
    IdentityMismatch,
    /// The server is at its connection limit. Transient.
    TooManyConnections,
    /// The server has not yet stored the transaction the client is in the
    /// middle of (another server sent its first fragments). Transient.
    ServerBehind,
    /// The server could not read its own log. Transient.
    ServerError,
    /// The client broke the protocol (as the server saw it). Transient.
    ProtocolError,
    /// The server is shutting down. Transient.
    ShuttingDown,
    /// A code this build does not know. Treated as definite.
    Other(u16),
}

impl NokCode {
    /// The code on the wire.
    pub fn to_u16(self) -> u16 {
        match self {
            NokCode::EpochMismatch => 1,
            NokCode::SeqnoPurged => 2,
            NokCode::ClientAhead => 3,
            NokCode::ProtocolVersion => 4,
            NokCode::Unsupported => 5,
            NokCode::WrongFirstSeqno => 6,
            NokCode::IdentityMismatch => 7,
            NokCode::TooManyConnections => 101,
            NokCode::ServerBehind => 102,
            NokCode::ServerError => 103,
            NokCode::ProtocolError => 104,
            NokCode::ShuttingDown => 105,
            NokCode::Other(c) => c,
        }
    }

    /// The code from the wire.
    pub fn from_u16(c: u16) -> NokCode {
        match c {
            1 => NokCode::EpochMismatch,
            2 => NokCode::SeqnoPurged,
            3 => NokCode::ClientAhead,
            4 => NokCode::ProtocolVersion,
            5 => NokCode::Unsupported,
            6 => NokCode::WrongFirstSeqno,
            7 => NokCode::IdentityMismatch,
            101 => NokCode::TooManyConnections,
            102 => NokCode::ServerBehind,
            103 => NokCode::ServerError,
            104 => NokCode::ProtocolError,
            105 => NokCode::ShuttingDown,
            c => NokCode::Other(c),
        }
    }

    /// True when retrying (later, or with another server) may succeed.
    /// Codes 1..=100 are definite, 101..=200 transient; unknown codes are
    /// definite so that a refusal never loops silently.
    pub fn is_transient(self) -> bool {
        (101..=200).contains(&self.to_u16())
    }
}

impl fmt::Display for NokCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            NokCode::EpochMismatch => "epoch mismatch",
            NokCode::SeqnoPurged => "seqno purged",
            NokCode::ClientAhead => "client ahead of server",
            NokCode::ProtocolVersion => "protocol version",
            NokCode::Unsupported => "unsupported request",
            NokCode::WrongFirstSeqno => "wrong first seqno",
            NokCode::IdentityMismatch => "identity mismatch",
            NokCode::TooManyConnections => "too many connections",
            NokCode::ServerBehind => "server behind",
            NokCode::ServerError => "server error",
            NokCode::ProtocolError => "protocol error",
            NokCode::ShuttingDown => "shutting down",
            NokCode::Other(c) => return write!(f, "code {c}"),
        };
        f.write_str(s)
    }
}

/// What kind of definite failure stopped the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefiniteKind {
    /// The server refused the client with a definite NOK code.
    Refused(NokCode),
    /// The server's protocol version is not supported by this client.
    ProtocolVersion,
    /// The server sent records out of order or not the ones asked for.
    ProtocolViolation,
    /// The local THL writer rejected a record or failed (reopen it).
    Store,
    /// The client configuration is invalid (URIs).
    Config,
    /// The TLS peer is not one of the deployment's (its certificate), or
    /// refused ours.
    Tls,
}

/// The outcome of a THL client, by what the caller must do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// Retry with backoff: network errors, refused or timed-out connections,
    /// a silent server, a transient NOK.
    #[error("THL connection to {uri} failed: {reason}")]
    Transient { uri: String, reason: String },
    /// Stop: the caller goes OFFLINE:ERROR with this message.
    #[error("THL client stopped ({uri}): {message}")]
    Definite {
        uri: String,
        kind: DefiniteKind,
        message: String,
    },
}

impl ClientError {
    /// True for errors worth retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, ClientError::Transient { .. })
    }

    pub(crate) fn transient(uri: &str, reason: impl Into<String>) -> ClientError {
        ClientError::Transient {
            uri: uri.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn definite(uri: &str, kind: DefiniteKind, message: impl Into<String>) -> ClientError {
        ClientError::Definite {
            uri: uri.to_string(),
            kind,
            message: message.into(),
        }
    }
}

//! The errors of control commands, typed by the answer they get: each
//! [`ErrorKind`] maps to one HTTP status of the REST API
//! (`replicator/src/rest/mod.rs`).

/// What kind of failure a control command met (maps to an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such service (404).
    NotFound,
    /// A malformed or unsupported option (400).
    BadRequest,
    /// The command is not allowed in the current state or role (409).
    Conflict,
    /// The command is refused to this caller (403): it needs the REST API's
    /// credentials configured.
    Forbidden,
    /// The command ran and failed (500).
    Failed,
    /// The command did not finish in time (504).
    Timeout,
}

/// A control command's error: its kind and a message with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ServiceError {
        ServiceError {
            kind,
            message: message.into(),
        }
    }
}

pub(super) fn conflict(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Conflict, m)
}

pub(super) fn bad(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::BadRequest, m)
}

pub(super) fn failed(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Failed, m)
}

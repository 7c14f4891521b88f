//! Decoding errors: where in the input, and what was wrong.

use super::BODY_FORMAT_VERSION;

/// An encoded body could not be decoded. Names the byte offset (from the
/// start of the body, i.e. of its version byte) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event body at byte offset {offset}: {reason}")]
pub struct DecodeError {
    offset: usize,
    reason: DecodeReason,
}

impl DecodeError {
    pub(super) fn new(offset: usize, reason: DecodeReason) -> Self {
        DecodeError { offset, reason }
    }

    /// Offset of the offending item from the start of the body.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What was wrong.
    pub fn reason(&self) -> &DecodeReason {
        &self.reason
    }
}

/// Why decoding failed. `what` names the field being read
/// (`"metadata name"`, `"Value::Bytes"`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeReason {
    #[error("unsupported body format version {0} (this build reads version {BODY_FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("{what}: truncated, needs {needed} bytes but {remaining} remain")]
    Truncated {
        what: &'static str,
        needed: u64,
        remaining: usize,
    },
    #[error("{what}: varint overflows 64 bits")]
    VarintOverflow { what: &'static str },
    #[error("{what}: non-minimal varint encoding")]
    VarintNotMinimal { what: &'static str },
    #[error("{what}: value {value} is out of range (max {max})")]
    OutOfRange { what: &'static str, value: u64, max: u64 },
    #[error("{what}: count {count} is more than the {remaining} remaining bytes can hold")]
    CountTooLarge {
        what: &'static str,
        count: u64,
        remaining: usize,
    },
    #[error("{what}: invalid UTF-8")]
    InvalidUtf8 { what: &'static str },
    #[error("{what}: unknown tag {tag:#04x}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("{what}: unknown flag bits {bits:#x}")]
    UnknownFlags { what: &'static str, bits: u64 },
    #[error("{what}: invalid boolean byte {byte:#04x} (must be 0 or 1)")]
    InvalidBool { what: &'static str, byte: u8 },
    #[error("{what}: presence bit set but the list is empty")]
    EmptyList { what: &'static str },
    #[error("{count} trailing bytes after the body")]
    TrailingBytes { count: usize },
}

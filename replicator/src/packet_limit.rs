//! The client-side packet limit of a MySQL connection, shared by the
//! source (binlog) and applier (target) connections.
//!
//! `mysql_async` refuses to read or write a packet larger than the
//! connection's `max_allowed_packet`; the codec's `PacketTooLarge` reaches
//! the caller as an I/O error. Retrying sends or reads the same packet
//! again, so both callers classify it as definite.

use mysql_async::IoError;
use mysql_common::proto::codec::error::PacketCodecError;

/// True when `e` is the codec refusing a packet over the connection's
/// `max_allowed_packet`.
pub fn is_packet_too_large(e: &IoError) -> bool {
    match e {
        IoError::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<PacketCodecError>())
            .is_some_and(|c| matches!(c, PacketCodecError::PacketTooLarge)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codec_error_is_seen_through_the_io_error() {
        let too_large: IoError = std::io::Error::other(PacketCodecError::PacketTooLarge).into();
        assert!(is_packet_too_large(&too_large));
        let other: IoError = std::io::Error::other(PacketCodecError::PacketsOutOfSync).into();
        assert!(!is_packet_too_large(&other));
        let plain: IoError = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone").into();
        assert!(!is_packet_too_large(&plain));
    }
}

//! FORMAT_DESCRIPTION_EVENT (type 15): the binlog's self-description.
//!
//! Payload layout (after the 19-byte common header):
//!
//! | offset | size  | field                                               |
//! |--------|-------|-----------------------------------------------------|
//! | 0      | 2     | binlog version (4 for MySQL >= 5.0)                 |
//! | 2      | 50    | server version, NUL padded                          |
//! | 52     | 4     | create timestamp                                    |
//! | 56     | 1     | common header length (19)                           |
//! | 57     | n     | post-header length of each event type (type-1)      |
//! | 57+n   | 1     | checksum algorithm (0 OFF, 1 CRC32), see below      |
//! | 58+n   | 4     | CRC32 of the FDE, see below                         |
//!
//! A *checksum-aware* server (MySQL >= 5.6.1, MariaDB >= 5.3.0) always
//! writes the algorithm byte and the 4 trailing bytes, whatever the
//! algorithm. The FDE's own CRC is computed with `LOG_EVENT_BINLOG_IN_USE_F`
//! cleared. Older servers write neither.

use super::cursor::Cursor;
use super::error::{malformed, ErrorKind, KResult};

/// Checksum algorithm of the events that follow an FDE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlg {
    /// No checksum trailer.
    Off,
    /// A 4-byte CRC32 trailer on every event.
    Crc32,
}

/// A decoded FORMAT_DESCRIPTION_EVENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatDescription {
    pub binlog_version: u16,
    /// Server version with the NUL padding removed.
    pub server_version: String,
    pub create_timestamp: u32,
    pub header_len: u8,
    /// Post-header length of event type `t` is `post_header_lens[t - 1]`.
    pub post_header_lens: Vec<u8>,
    /// `None` for servers that predate checksums (no algorithm byte).
    pub checksum_alg: Option<ChecksumAlg>,
    /// The raw algorithm byte, when present.
    pub checksum_alg_raw: Option<u8>,
}

impl FormatDescription {
    /// The algorithm applying to the events this FDE describes (and to the
    /// FDE itself: a checksum-aware FDE always ends with 4 CRC bytes).
    pub fn alg(&self) -> ChecksumAlg {
        self.checksum_alg.unwrap_or(ChecksumAlg::Off)
    }

    /// True when the server writes the algorithm byte and trailer.
    pub fn checksum_aware(&self) -> bool {
        self.checksum_alg_raw.is_some()
    }

    /// Post-header length declared for `event_type`, if the FDE lists it.
    pub fn post_header_len(&self, event_type: u8) -> Option<u8> {
        let i = usize::from(event_type).checked_sub(1)?;
        self.post_header_lens.get(i).copied()
    }

    /// True for MariaDB servers.
    pub fn is_mariadb(&self) -> bool {
        self.server_version.contains("MariaDB")
    }

    /// A default v4 FDE (used before a real one is seen, e.g. for the
    /// network's first fake ROTATE).
    pub fn default_v4() -> Self {
        FormatDescription {
            binlog_version: 4,
            server_version: String::new(),
            create_timestamp: 0,
            header_len: 19,
            post_header_lens: Vec::new(),
            checksum_alg: None,
            checksum_alg_raw: None,
        }
    }
}

/// Parses "x.y.z" at the start of a server version.
fn version_triple(v: &str) -> (u32, u32, u32) {
    let mut parts = [0u32; 3];
    for (i, p) in v.split('.').take(3).enumerate() {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        parts[i] = digits.parse().unwrap_or(0);
    }
    (parts[0], parts[1], parts[2])
}

/// Parses the FDE from its whole raw event (header + payload + trailer).
pub fn parse_fde(raw: &[u8]) -> KResult<FormatDescription> {
    let payload = raw.get(19..).ok_or_else(|| malformed("FDE shorter than its header"))?;
    let mut c = Cursor::new(payload);
    let binlog_version = c.u16("binlog_version")?;
    if binlog_version != 4 {
        return Err(ErrorKind::Unsupported(format!(
            "binlog version {binlog_version} (only version 4, MySQL >= 5.0, is supported)"
        )));
    }
    let sv = c.take(50, "server_version")?;
    let end = sv.iter().position(|&b| b == 0).unwrap_or(sv.len());
    let server_version = String::from_utf8_lossy(&sv[..end]).into_owned();
    let create_timestamp = c.u32("create_timestamp")?;
    let header_len = c.u8("header_len")?;
    if header_len != 19 {
        return Err(malformed(format!("common header length {header_len}, expected 19")));
    }
    let (maj, min, pat) = version_triple(&server_version);
    let split = if server_version.contains("MariaDB") {
        (5, 3, 0)
    } else {
        (5, 6, 1)
    };
    let aware = (maj, min, pat) >= split;
    let rest = c.rest();
    let (post, alg_raw) = if aware {
        if rest.len() < 5 {
            return Err(malformed("FDE too short for the checksum algorithm byte"));
        }
        let n = rest.len() - 5;
        (&rest[..n], Some(rest[n]))
    } else {
        (rest, None)
    };
    let checksum_alg = match alg_raw {
        None => None,
        Some(0) => Some(ChecksumAlg::Off),
        Some(1) => Some(ChecksumAlg::Crc32),
        Some(255) => None, // BINLOG_CHECKSUM_ALG_UNDEF: treated as no checksum
        Some(x) => return Err(ErrorKind::Unsupported(format!("checksum algorithm {x}"))),
    };
    Ok(FormatDescription {
        binlog_version,
        server_version,
        create_timestamp,
        header_len,
        post_header_lens: post.to_vec(),
        checksum_alg,
        checksum_alg_raw: alg_raw,
    })
}

/// CRC32 of an event as the server computes it: over everything but the
/// 4-byte trailer, with `LOG_EVENT_BINLOG_IN_USE_F` cleared for an FDE.
pub fn event_crc(raw_without_trailer: &[u8], is_fde: bool) -> u32 {
    let mut h = crc32fast::Hasher::new();
    if is_fde && raw_without_trailer.len() >= 19 {
        h.update(&raw_without_trailer[..17]);
        let flags = u16::from_le_bytes([raw_without_trailer[17], raw_without_trailer[18]])
            & !super::event_types::LOG_EVENT_BINLOG_IN_USE_F;
        h.update(&flags.to_le_bytes());
        h.update(&raw_without_trailer[19..]);
    } else {
        h.update(raw_without_trailer);
    }
    h.finalize()
}

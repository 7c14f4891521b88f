//! Record framing (length, CRC32, type) and the fixed event header.
//!
//! Invariants, first:
//!
//! * A record is self-delimiting and self-checking: its first 4 bytes give
//!   its whole length, the next 4 a CRC32 (IEEE, `crc32fast`) over the length
//!   bytes, the type byte and the payload. Nothing of a record is trusted
//!   before the length is checked against [`MIN_RECORD_LEN`] ..=
//!   [`MAX_RECORD_LEN`] and the CRC matches, and no buffer is ever sized by
//!   an unchecked length.
//! * The bytes of a record are the same on disk and on the wire: a relay
//!   appends a received record verbatim (`Writer::append_raw`), a server sends
//!   the mapped file bytes.
//! * The fixed event header (seqno .. shard_id) precedes the body and is
//!   decodable without it, so seeking, indexing, recovery and serving never
//!   decode a body. The body is opaque here (see `codec`).
//!
//! Layout (all integers little-endian; `thl/FORMAT.md` §2 is the reference):
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 4 | `len`: u32, whole record length (9 ..= 1.5 GiB) |
//! | 4 | 4 | `crc`: CRC32 of bytes `0..4` then `8..len` |
//! | 8 | 1 | `type`: 1 = EVENT, 2 = ROTATE |
//! | 9 | len-9 | payload |
//!
//! EVENT payload:
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 8 | seqno i64 (>= 0) |
//! | 8 | 8 | seqno_end i64 (>= seqno; > seqno for a filtered range) |
//! | 16 | 2 | fragno u16 |
//! | 18 | 1 | flags: bit 0 = last_frag, other bits 0 |
//! | 19 | 8 | epoch i64 |
//! | 27 | 8 | source_tstamp_ms i64 |
//! | 35 | 8 | extract_tstamp_ms i64 |
//! | 43 | 2+n | source_id: u16 length + UTF-8 |
//! | .. | 2+n | event_id: u16 length + UTF-8 |
//! | .. | 2+n | shard_id: u16 length + UTF-8 |
//! | .. | rest | body (opaque; `codec`) |
//!
//! ROTATE payload (the last record of every file but the last; 21 bytes in
//! all): `last_seqno` i64 (highest seqno_end in the file), `next_file` u32.

use crate::event::{Epoch, EventHeader, Seqno};

/// Size of the frame header: length, CRC and type.
pub const FRAME_HEADER_LEN: usize = 9;
/// The smallest valid record (a frame with an empty payload).
pub const MIN_RECORD_LEN: u32 = FRAME_HEADER_LEN as u32;
/// The largest valid record: 1.5 GiB, room for a 1 GiB blob value plus
/// encoding overhead. Checked before anything is read or allocated.
pub const MAX_RECORD_LEN: u32 = 1536 * 1024 * 1024;
/// Size of the fixed part of an EVENT payload (before the strings).
pub const EVENT_FIXED_LEN: usize = 43;
/// Whole length of a ROTATE record.
pub const ROTATE_RECORD_LEN: usize = FRAME_HEADER_LEN + 12;

const FLAG_LAST_FRAG: u8 = 1;

/// The type byte of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// A replication event (a transaction, a fragment or a filtered range).
    Event = 1,
    /// End of a file: the log continues in the next file.
    Rotate = 2,
}

impl RecordType {
    fn from_byte(b: u8) -> Option<RecordType> {
        match b {
            1 => Some(RecordType::Event),
            2 => Some(RecordType::Rotate),
            _ => None,
        }
    }
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes than the frame needs: at the end of a log this is a record
    /// not yet (completely) written.
    #[error("incomplete record: {needed} bytes needed, {available} available")]
    Incomplete { needed: u64, available: u64 },
    /// The length field is outside `MIN_RECORD_LEN..=MAX_RECORD_LEN`.
    #[error("impossible record length {len}")]
    BadLength { len: u32 },
    /// The CRC does not match the bytes.
    #[error("CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc { stored: u32, computed: u32 },
    /// The type byte is unknown.
    #[error("unknown record type {0}")]
    UnknownType(u8),
    /// The payload does not hold a valid header of its type.
    #[error("malformed {what}")]
    Malformed { what: &'static str },
    /// A value cannot be encoded (string longer than 65535 bytes, record
    /// over the length cap, inconsistent header fields).
    #[error("cannot encode: {0}")]
    Unencodable(String),
}

/// A checked record: the frame is complete and its CRC matches.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The record's type.
    pub rtype: RecordType,
    /// The whole record (frame header included).
    pub raw: &'a [u8],
    /// The payload (after the type byte).
    pub payload: &'a [u8],
}

/// The length of the record starting at `buf[0]`, checked against the limits.
/// Never reads past `buf`.
pub fn frame_len(buf: &[u8]) -> Result<u32, RecordError> {
    let Some(b) = buf.get(0..4) else {
        return Err(RecordError::Incomplete {
            needed: 4,
            available: buf.len() as u64,
        });
    };
    let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&len) {
        return Err(RecordError::BadLength { len });
    }
    Ok(len)
}

/// Frames the record at the start of `buf` without checking its CRC: the
/// length is checked, the bytes are there and the type is known. Used to skip
/// records (seek, index) without touching their bodies.
pub fn peek_frame(buf: &[u8]) -> Result<Frame<'_>, RecordError> {
    let len = frame_len(buf)? as usize;
    let Some(raw) = buf.get(..len) else {
        return Err(RecordError::Incomplete {
            needed: len as u64,
            available: buf.len() as u64,
        });
    };
    let rtype = RecordType::from_byte(raw[8]).ok_or(RecordError::UnknownType(raw[8]))?;
    Ok(Frame {
        rtype,
        raw,
        payload: &raw[FRAME_HEADER_LEN..],
    })
}

/// Frames and checks (length, CRC, type) the record at the start of `buf`.
pub fn parse_frame(buf: &[u8]) -> Result<Frame<'_>, RecordError> {
    let len = frame_len(buf)? as usize;
    let Some(raw) = buf.get(..len) else {
        return Err(RecordError::Incomplete {
            needed: len as u64,
            available: buf.len() as u64,
        });
    };
    let stored = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
    let computed = frame_crc(raw);
    if stored != computed {
        return Err(RecordError::BadCrc { stored, computed });
    }
    let rtype = RecordType::from_byte(raw[8]).ok_or(RecordError::UnknownType(raw[8]))?;
    Ok(Frame {
        rtype,
        raw,
        payload: &raw[FRAME_HEADER_LEN..],
    })
}

fn frame_crc(raw: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&raw[0..4]);
    h.update(&raw[8..]);
    h.finalize()
}

fn begin_frame(out: &mut Vec<u8>, rtype: RecordType) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    out.push(rtype as u8);
    start
}

fn finish_frame(out: &mut Vec<u8>, start: usize) -> Result<(), RecordError> {
    let len = out.len() - start;
    if len > MAX_RECORD_LEN as usize {
        out.truncate(start);
        return Err(RecordError::Unencodable(format!(
            "record of {len} bytes exceeds the {MAX_RECORD_LEN}-byte limit"
        )));
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    let crc = frame_crc(&out[start..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// Checks the header fields a record must satisfy on its own.
pub fn validate_header(h: &EventHeader) -> Result<(), RecordError> {
    if h.seqno < Seqno::FIRST {
        return Err(RecordError::Unencodable(format!("negative seqno {}", h.seqno)));
    }
    if h.seqno_end < h.seqno {
        return Err(RecordError::Unencodable(format!(
            "seqno_end {} < seqno {}",
            h.seqno_end, h.seqno
        )));
    }
    if h.is_filtered() && (h.fragno != 0 || !h.last_frag) {
        return Err(RecordError::Unencodable(format!(
            "filtered range {}..={} must be a single fragment (fragno 0, last_frag)",
            h.seqno, h.seqno_end
        )));
    }
    Ok(())
}

/// Appends one EVENT record (header + opaque body) to `out`. On error `out`
/// is left as it was.
pub fn encode_event(h: &EventHeader, body: &[u8], out: &mut Vec<u8>) -> Result<(), RecordError> {
    encode_event_with(h, out, |out| out.extend_from_slice(body))
}

/// [`encode_event`] with the body written in place by `body` (no copy of
/// an encoded body).
pub fn encode_event_with(
    h: &EventHeader,
    out: &mut Vec<u8>,
    body: impl FnOnce(&mut Vec<u8>),
) -> Result<(), RecordError> {
    validate_header(h)?;
    let start = begin_frame(out, RecordType::Event);
    out.extend_from_slice(&h.seqno.0.to_le_bytes());
    out.extend_from_slice(&h.seqno_end.0.to_le_bytes());
    out.extend_from_slice(&h.fragno.to_le_bytes());
    out.push(if h.last_frag { FLAG_LAST_FRAG } else { 0 });
    out.extend_from_slice(&h.epoch.0.to_le_bytes());
    out.extend_from_slice(&h.source_tstamp_ms.to_le_bytes());
    out.extend_from_slice(&h.extract_tstamp_ms.to_le_bytes());
    for s in [&h.source_id, &h.event_id, &h.shard_id] {
        let Ok(n) = u16::try_from(s.len()) else {
            out.truncate(start);
            return Err(RecordError::Unencodable(format!(
                "header string of {} bytes exceeds 65535",
                s.len()
            )));
        };
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let body_start = out.len();
    body(out);
    let body_len = out.len() - body_start;
    if body_len > MAX_RECORD_LEN as usize {
        out.truncate(start);
        return Err(RecordError::Unencodable(format!(
            "body of {body_len} bytes is too large"
        )));
    }
    finish_frame(out, start)
}

/// Appends one ROTATE record to `out`.
pub fn encode_rotate(last_seqno: Seqno, next_file: u32, out: &mut Vec<u8>) {
    let start = begin_frame(out, RecordType::Rotate);
    out.extend_from_slice(&last_seqno.0.to_le_bytes());
    out.extend_from_slice(&next_file.to_le_bytes());
    // Cannot exceed the cap: 21 bytes.
    let _ = finish_frame(out, start);
}

/// The numeric part of an event header: what ordering, indexing and
/// recovery need, decoded without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    pub seqno: Seqno,
    pub seqno_end: Seqno,
    pub fragno: u16,
    pub last_frag: bool,
    pub epoch: Epoch,
}

fn rd_i64(p: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[at..at + 8]);
    i64::from_le_bytes(b)
}

/// Decodes the numeric fields of an EVENT payload.
pub fn decode_fixed(payload: &[u8]) -> Result<FixedHeader, RecordError> {
    if payload.len() < EVENT_FIXED_LEN {
        return Err(RecordError::Malformed {
            what: "event header (too short)",
        });
    }
    let flags = payload[18];
    if flags & !FLAG_LAST_FRAG != 0 {
        return Err(RecordError::Malformed {
            what: "event header (unknown flags)",
        });
    }
    let f = FixedHeader {
        seqno: Seqno(rd_i64(payload, 0)),
        seqno_end: Seqno(rd_i64(payload, 8)),
        fragno: u16::from_le_bytes([payload[16], payload[17]]),
        last_frag: flags & FLAG_LAST_FRAG != 0,
        epoch: Epoch(rd_i64(payload, 19)),
    };
    if f.seqno < Seqno::FIRST || f.seqno_end < f.seqno || (f.seqno_end != f.seqno && (f.fragno != 0 || !f.last_frag)) {
        return Err(RecordError::Malformed {
            what: "event header (inconsistent seqno/fragno)",
        });
    }
    Ok(f)
}

/// Decodes the whole event header of an EVENT payload; returns it and the
/// offset of the body within the payload.
pub fn decode_event_header(payload: &[u8]) -> Result<(EventHeader, usize), RecordError> {
    let f = decode_fixed(payload)?;
    let mut at = EVENT_FIXED_LEN;
    let mut strings: [String; 3] = Default::default();
    for s in strings.iter_mut() {
        let Some(lb) = payload.get(at..at + 2) else {
            return Err(RecordError::Malformed {
                what: "event header (string length)",
            });
        };
        let n = u16::from_le_bytes([lb[0], lb[1]]) as usize;
        let Some(bytes) = payload.get(at + 2..at + 2 + n) else {
            return Err(RecordError::Malformed {
                what: "event header (string bytes)",
            });
        };
        *s = std::str::from_utf8(bytes)
            .map_err(|_| RecordError::Malformed {
                what: "event header (string not UTF-8)",
            })?
            .to_owned();
        at += 2 + n;
    }
    let [source_id, event_id, shard_id] = strings;
    let h = EventHeader {
        seqno: f.seqno,
        seqno_end: f.seqno_end,
        fragno: f.fragno,
        last_frag: f.last_frag,
        epoch: f.epoch,
        source_id,
        event_id,
        shard_id,
        source_tstamp_ms: rd_i64(payload, 27),
        extract_tstamp_ms: rd_i64(payload, 35),
    };
    Ok((h, at))
}

/// Decodes a ROTATE payload: `(last_seqno, next_file)`.
pub fn decode_rotate(payload: &[u8]) -> Result<(Seqno, u32), RecordError> {
    if payload.len() != 12 {
        return Err(RecordError::Malformed { what: "rotate record" });
    }
    let next = u32::from_le_bytes([payload[8], payload[9], payload[10], payload[11]]);
    Ok((Seqno(rd_i64(payload, 0)), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> EventHeader {
        EventHeader {
            seqno: Seqno(7),
            seqno_end: Seqno(7),
            fragno: 2,
            last_frag: true,
            epoch: Epoch(3),
            source_id: "db1".into(),
            event_id: "mysql-bin.000001:0000000000000120;5".into(),
            shard_id: "test".into(),
            source_tstamp_ms: 1_700_000_000_000,
            extract_tstamp_ms: 1_700_000_000_005,
        }
    }

    #[test]
    fn event_round_trip_and_header_without_body() {
        let mut out = Vec::new();
        encode_event(&header(), b"opaque body", &mut out).expect("encode");
        let f = parse_frame(&out).expect("frame");
        assert_eq!(f.rtype, RecordType::Event);
        assert_eq!(f.raw.len(), out.len());
        let (h, at) = decode_event_header(f.payload).expect("header");
        assert_eq!(h, header());
        assert_eq!(&f.payload[at..], b"opaque body");
        // The header alone (body cut off) still decodes.
        assert!(decode_event_header(&f.payload[..at]).is_ok());
    }

    #[test]
    fn every_truncation_is_incomplete_and_every_flip_is_detected() {
        let mut out = Vec::new();
        encode_event(&header(), b"xyz", &mut out).expect("encode");
        for n in 0..out.len() {
            assert!(
                matches!(parse_frame(&out[..n]), Err(RecordError::Incomplete { .. })),
                "{n}"
            );
        }
        for i in 0..out.len() {
            let mut c = out.clone();
            c[i] ^= 0x10;
            assert!(parse_frame(&c).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn lengths_are_capped_before_reading() {
        let mut buf = (MAX_RECORD_LEN + 1).to_le_bytes().to_vec();
        buf.extend_from_slice(&[0; 16]);
        assert_eq!(
            parse_frame(&buf).err(),
            Some(RecordError::BadLength {
                len: MAX_RECORD_LEN + 1
            })
        );
        assert_eq!(
            parse_frame(&[3, 0, 0, 0, 0, 0, 0, 0, 1]).err(),
            Some(RecordError::BadLength { len: 3 })
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let mut h = header();
        h.seqno_end = Seqno(9); // filtered range with fragno 2
        assert!(encode_event(&h, b"", &mut Vec::new()).is_err());
        let mut h = header();
        h.source_id = "x".repeat(70_000);
        let mut out = vec![1, 2, 3];
        assert!(encode_event(&h, b"", &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }
}

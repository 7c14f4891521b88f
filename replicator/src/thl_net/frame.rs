//! Message framing and codec (byte tables in `replicator/PROTOCOL.md`).
//!
//! Invariants:
//!
//! * Every message is `[u32 len][u8 type][len bytes of payload]`, integers
//!   little-endian. The length is checked against the cap of its type
//!   *before* anything is allocated or read: [`MAX_CONTROL_LEN`] for control
//!   messages, the receiver's record cap (at most
//!   [`thl::record::MAX_RECORD_LEN`]) for RECORD.
//! * A RECORD payload is one framed THL record, byte for byte as in the
//!   sender's files; this module never looks inside it except to check that
//!   its own length prefix equals the message length (the CRC is checked by
//!   the receiver with `thl::record::parse_frame`).
//! * Decoding is total: any byte string yields a message, "need more
//!   bytes", or a [`FrameError`]; never a panic. Control payloads must be
//!   consumed exactly (no trailing bytes).
//! * [`FrameDecoder`] is incremental: feed it what the socket returned, take
//!   complete frames out. Its buffer never holds more than one frame plus
//!   one read chunk beyond the frame being assembled.

use thl::record::{MAX_RECORD_LEN, MIN_RECORD_LEN};
use thl::seqno::{Epoch, Seqno};

use super::error::FrameError;

/// The protocol's magic at the start of HELLO and RESUME: `THLN`.
pub const MAGIC: [u8; 4] = *b"THLN";
/// The protocol version this build speaks. Version 2: RESUME's event id,
/// with a position, is that of the client's last seqno, checked by the
/// server beside the epoch (`PROTOCOL.md` §4).
pub const PROTOCOL_VERSION: u16 = 2;
/// Size of a message header: length and type.
pub const HEADER_LEN: usize = 5;
/// Cap of a control message payload (everything but RECORD): 64 KiB.
pub const MAX_CONTROL_LEN: u32 = 64 * 1024;

/// The type byte of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Hello = 1,
    Resume = 2,
    Ok = 3,
    Nok = 4,
    Record = 5,
    Heartbeat = 6,
    Ack = 7,
}

impl MsgType {
    /// The type from its byte.
    pub fn from_byte(b: u8) -> Result<MsgType, FrameError> {
        Ok(match b {
            1 => MsgType::Hello,
            2 => MsgType::Resume,
            3 => MsgType::Ok,
            4 => MsgType::Nok,
            5 => MsgType::Record,
            6 => MsgType::Heartbeat,
            7 => MsgType::Ack,
            b => return Err(FrameError::UnknownType(b)),
        })
    }

    /// The type's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            MsgType::Hello => "HELLO",
            MsgType::Resume => "RESUME",
            MsgType::Ok => "OK",
            MsgType::Nok => "NOK",
            MsgType::Record => "RECORD",
            MsgType::Heartbeat => "HEARTBEAT",
            MsgType::Ack => "ACK",
        }
    }
}

/// The role a server announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Serves the THL its extractor writes.
    Master,
    /// Serves the THL it receives from another server.
    Relay,
}

/// Server → client, first message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    pub version: u16,
    pub role: Role,
    /// Lowest stored seqno (`None`: empty log).
    pub min_seqno: Option<Seqno>,
    /// Highest seqno served (the durable watermark).
    pub max_seqno: Option<Seqno>,
    /// The durable watermark.
    pub durable_seqno: Option<Seqno>,
    /// The largest RECORD payload the server may send.
    pub max_record_len: u32,
    /// The server's `source_id`.
    pub source_id: String,
}

/// Client → server, reply to HELLO: where the client's log ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub version: u16,
    /// Seqno (seqno_end) of the client's last stored record; `None` = no
    /// position (start wherever the server's log starts).
    pub last_seqno: Option<Seqno>,
    /// Epoch of that record (ignored without a position).
    pub last_epoch: Option<Epoch>,
    /// Fragno of that record.
    pub last_fragno: u16,
    /// Whether that record ends its transaction. When false the server
    /// restarts at fragment 0 of `last_seqno`.
    pub last_frag: bool,
    /// Idle interval after which the server sends HEARTBEAT (ms).
    pub heartbeat_ms: u32,
    /// The client's name (shown in the server's client list).
    pub client_id: String,
    /// With `last_seqno`: the event id of that seqno's record (fragment
    /// 0), which the server compares with its own (empty: not checked).
    /// Without: a native event id to start after (not supported).
    pub event_id: String,
}

/// Server → client: accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OkMsg {
    pub min_seqno: Option<Seqno>,
    pub max_seqno: Option<Seqno>,
    /// The first seqno the server will send; `None`: the first record the
    /// server will have (the client had no position, the log is empty).
    pub start_seqno: Option<Seqno>,
}

/// Server → client: refused (then the server closes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nok {
    pub code: super::NokCode,
    pub text: String,
}

/// Server → client when idle for the heartbeat interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub durable_seqno: Option<Seqno>,
    /// The server's clock, ms since the Unix epoch.
    pub server_time_ms: i64,
}

/// Client → server: progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Highest seqno durably stored by the client.
    pub durable_seqno: Option<Seqno>,
    /// Highest seqno applied downstream of the client, when known.
    pub applied_seqno: Option<Seqno>,
}

/// A control message (everything but RECORD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Hello(Hello),
    Resume(Resume),
    Ok(OkMsg),
    Nok(Nok),
    Heartbeat(Heartbeat),
    Ack(Ack),
}

/// A seqno or epoch on the wire: `-1` for none.
fn opt<T: Into<i64>>(v: Option<T>) -> i64 {
    v.map_or(-1, Into::into)
}

struct Wr<'a>(&'a mut Vec<u8>);

impl Wr<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A u16-prefixed UTF-8 string, cut (at a char boundary) to fit.
    fn str(&mut self, s: &str) {
        let mut n = s.len().min(u16::MAX as usize).min(MAX_CONTROL_LEN as usize / 2);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.u16(n as u16);
        self.0.extend_from_slice(&s.as_bytes()[..n]);
    }
}

struct Rd<'a> {
    buf: &'a [u8],
    kind: &'static str,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.buf.len() < n {
            return Err(FrameError::Malformed {
                kind: self.kind,
                what: "payload too short",
            });
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, FrameError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, FrameError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, FrameError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }
    fn seqno(&mut self) -> Result<Option<Seqno>, FrameError> {
        let v = self.i64()?;
        if v < -1 {
            return Err(FrameError::Malformed {
                kind: self.kind,
                what: "seqno below -1",
            });
        }
        Ok(Seqno::from_wire(v))
    }
    fn str(&mut self) -> Result<String, FrameError> {
        let n = self.u16()? as usize;
        let b = self.take(n)?;
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| FrameError::Malformed {
                kind: self.kind,
                what: "string not UTF-8",
            })
    }
    fn magic(&mut self) -> Result<(), FrameError> {
        if self.buf.get(..4) != Some(&MAGIC[..]) {
            return Err(FrameError::BadMagic { kind: self.kind });
        }
        self.take(4).map(|_| ())
    }
    fn end(self) -> Result<(), FrameError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Malformed {
                kind: self.kind,
                what: "trailing bytes",
            })
        }
    }
}

impl Message {
    /// The message's type.
    pub fn msg_type(&self) -> MsgType {
        match self {
            Message::Hello(_) => MsgType::Hello,
            Message::Resume(_) => MsgType::Resume,
            Message::Ok(_) => MsgType::Ok,
            Message::Nok(_) => MsgType::Nok,
            Message::Heartbeat(_) => MsgType::Heartbeat,
            Message::Ack(_) => MsgType::Ack,
        }
    }

    /// Appends the whole message (header and payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; 4]);
        out.push(self.msg_type() as u8);
        let mut w = Wr(out);
        match self {
            Message::Hello(h) => {
                w.0.extend_from_slice(&MAGIC);
                w.u16(h.version);
                w.u8(match h.role {
                    Role::Master => 1,
                    Role::Relay => 2,
                });
                w.i64(opt(h.min_seqno));
                w.i64(opt(h.max_seqno));
                w.i64(opt(h.durable_seqno));
                w.u32(h.max_record_len);
                w.str(&h.source_id);
            }
            Message::Resume(r) => {
                w.0.extend_from_slice(&MAGIC);
                w.u16(r.version);
                w.i64(opt(r.last_seqno));
                w.i64(opt(r.last_epoch));
                w.u16(r.last_fragno);
                w.u8(u8::from(r.last_frag));
                w.u32(r.heartbeat_ms);
                w.str(&r.client_id);
                w.str(&r.event_id);
            }
            Message::Ok(o) => {
                w.i64(opt(o.min_seqno));
                w.i64(opt(o.max_seqno));
                w.i64(opt(o.start_seqno));
            }
            Message::Nok(n) => {
                w.u16(n.code.to_u16());
                w.str(&n.text);
            }
            Message::Heartbeat(h) => {
                w.i64(opt(h.durable_seqno));
                w.i64(h.server_time_ms);
            }
            Message::Ack(a) => {
                w.i64(opt(a.durable_seqno));
                w.i64(opt(a.applied_seqno));
            }
        }
        let len = (out.len() - start - HEADER_LEN) as u32;
        out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    }

    /// The whole message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        self.encode(&mut v);
        v
    }

    /// Decodes a control payload of type `t`.
    pub fn decode(t: MsgType, payload: &[u8]) -> Result<Message, FrameError> {
        let mut r = Rd {
            buf: payload,
            kind: t.name(),
        };
        let m = match t {
            MsgType::Hello => {
                r.magic()?;
                let version = r.u16()?;
                let role = match r.u8()? {
                    1 => Role::Master,
                    2 => Role::Relay,
                    _ => {
                        return Err(FrameError::Malformed {
                            kind: "HELLO",
                            what: "unknown role",
                        })
                    }
                };
                Message::Hello(Hello {
                    version,
                    role,
                    min_seqno: r.seqno()?,
                    max_seqno: r.seqno()?,
                    durable_seqno: r.seqno()?,
                    max_record_len: r.u32()?,
                    source_id: r.str()?,
                })
            }
            MsgType::Resume => {
                r.magic()?;
                let version = r.u16()?;
                let last_seqno = r.seqno()?;
                let last_epoch = Epoch::from_wire(r.i64()?);
                let last_fragno = r.u16()?;
                let last_frag = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(FrameError::Malformed {
                            kind: "RESUME",
                            what: "unknown flags",
                        })
                    }
                };
                Message::Resume(Resume {
                    version,
                    last_seqno,
                    last_epoch,
                    last_fragno,
                    last_frag,
                    heartbeat_ms: r.u32()?,
                    client_id: r.str()?,
                    event_id: r.str()?,
                })
            }
            MsgType::Ok => Message::Ok(OkMsg {
                min_seqno: r.seqno()?,
                max_seqno: r.seqno()?,
                start_seqno: r.seqno()?,
            }),
            MsgType::Nok => Message::Nok(Nok {
                code: super::NokCode::from_u16(r.u16()?),
                text: r.str()?,
            }),
            MsgType::Heartbeat => Message::Heartbeat(Heartbeat {
                durable_seqno: r.seqno()?,
                server_time_ms: r.i64()?,
            }),
            MsgType::Ack => Message::Ack(Ack {
                durable_seqno: r.seqno()?,
                applied_seqno: r.seqno()?,
            }),
            MsgType::Record => {
                return Err(FrameError::Malformed {
                    kind: "RECORD",
                    what: "not a control message",
                })
            }
        };
        r.end()?;
        Ok(m)
    }
}

/// The header of a RECORD message carrying a record of `record_len` bytes.
pub fn record_header(record_len: u32) -> [u8; HEADER_LEN] {
    let l = record_len.to_le_bytes();
    [l[0], l[1], l[2], l[3], MsgType::Record as u8]
}

/// Appends a RECORD message carrying `raw` (one framed THL record).
pub fn encode_record(raw: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&record_header(raw.len() as u32));
    out.extend_from_slice(raw);
}

/// Checks a message header: type known, length within the cap of its type.
/// `max_record_len` is the receiver's RECORD cap (use 0 where RECORD is
/// not allowed at all).
pub fn check_header(h: [u8; HEADER_LEN], max_record_len: u32) -> Result<(MsgType, u32), FrameError> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let t = MsgType::from_byte(h[4])?;
    if t == MsgType::Record {
        let cap = max_record_len.min(MAX_RECORD_LEN);
        if len > cap {
            return Err(FrameError::TooLong {
                kind: t.name(),
                len,
                cap,
            });
        }
        if len < MIN_RECORD_LEN {
            return Err(FrameError::TooShort { kind: t.name(), len });
        }
    } else if len > MAX_CONTROL_LEN {
        return Err(FrameError::TooLong {
            kind: t.name(),
            len,
            cap: MAX_CONTROL_LEN,
        });
    }
    Ok((t, len))
}

/// One complete message borrowed from a [`FrameDecoder`].
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    pub msg_type: MsgType,
    pub payload: &'a [u8],
}

/// Incremental decoder: push bytes in, take complete frames out.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max_record_len: u32,
}

impl FrameDecoder {
    /// A decoder accepting RECORD payloads up to `max_record_len` bytes
    /// (0: RECORD messages are refused).
    pub fn new(max_record_len: u32) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max_record_len,
        }
    }

    /// Appends bytes read from the peer.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && (self.start >= self.buf.len() / 2 || self.start == self.buf.len()) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The type and length of the next frame, when its header is buffered
    /// (validated).
    fn peek(&self) -> Result<Option<(MsgType, usize)>, FrameError> {
        let rest = &self.buf[self.start..];
        let Some(h) = rest.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let mut a = [0u8; HEADER_LEN];
        a.copy_from_slice(h);
        let (t, len) = check_header(a, self.max_record_len)?;
        Ok(Some((t, len as usize)))
    }

    /// True when a complete frame (or a bad header) is buffered.
    pub fn has_frame(&self) -> bool {
        match self.peek() {
            Ok(Some((_, len))) => self.buffered() >= HEADER_LEN + len,
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed. After
    /// an error the stream is unusable (the caller closes it).
    pub fn next_frame(&mut self) -> Result<Option<RawFrame<'_>>, FrameError> {
        let Some((t, len)) = self.peek()? else { return Ok(None) };
        if self.buffered() < HEADER_LEN + len {
            return Ok(None);
        }
        let at = self.start + HEADER_LEN;
        self.start = at + len;
        let payload = &self.buf[at..at + len];
        if t == MsgType::Record {
            // The record's own length prefix must equal the message length.
            let own = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
            if own as usize != len {
                return Err(FrameError::Malformed {
                    kind: "RECORD",
                    what: "record length differs from message length",
                });
            }
        }
        Ok(Some(RawFrame { msg_type: t, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thl_net::NokCode;

    fn all() -> Vec<Message> {
        vec![
            Message::Hello(Hello {
                version: PROTOCOL_VERSION,
                role: Role::Relay,
                min_seqno: Some(Seqno(3)),
                max_seqno: None,
                durable_seqno: Some(Seqno(9)),
                max_record_len: 1 << 20,
                source_id: "db1".into(),
            }),
            Message::Resume(Resume {
                version: 1,
                last_seqno: Some(Seqno(7)),
                last_epoch: Some(Epoch(2)),
                last_fragno: 3,
                last_frag: false,
                heartbeat_ms: 3000,
                client_id: "db2".into(),
                event_id: String::new(),
            }),
            Message::Ok(OkMsg {
                min_seqno: Some(Seqno(0)),
                max_seqno: Some(Seqno(10)),
                start_seqno: None,
            }),
            Message::Nok(Nok {
                code: NokCode::EpochMismatch,
                text: "no".into(),
            }),
            Message::Heartbeat(Heartbeat {
                durable_seqno: Some(Seqno(1)),
                server_time_ms: 5,
            }),
            Message::Ack(Ack {
                durable_seqno: None,
                applied_seqno: Some(Seqno(4)),
            }),
        ]
    }

    #[test]
    fn round_trip_and_every_truncation_needs_more() {
        for m in all() {
            let bytes = m.to_bytes();
            let mut d = FrameDecoder::new(0);
            for &b in &bytes[..bytes.len() - 1] {
                d.extend(&[b]);
                assert!(d.next_frame().expect("prefix").is_none());
            }
            d.extend(&bytes[bytes.len() - 1..]);
            let f = d.next_frame().expect("frame").expect("complete");
            assert_eq!(Message::decode(f.msg_type, f.payload).expect("decode"), m);
            // Any cut payload is an error, never a panic.
            for n in 0..f.payload.len() {
                assert!(Message::decode(f.msg_type, &f.payload[..n]).is_err());
            }
        }
    }

    #[test]
    fn caps_are_checked_on_the_header() {
        let mut d = FrameDecoder::new(1024);
        d.extend(&[0xff, 0xff, 0xff, 0xff, MsgType::Record as u8]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLong { .. })));
        let mut d = FrameDecoder::new(1024);
        d.extend(&[0, 0, 2, 0, MsgType::Ack as u8]);
        assert!(matches!(d.next_frame(), Err(FrameError::TooLong { .. })));
        let mut d = FrameDecoder::new(0);
        d.extend(&[20, 0, 0, 0, MsgType::Record as u8]);
        assert!(d.next_frame().is_err());
        let mut d = FrameDecoder::new(0);
        d.extend(&[0, 0, 0, 0, 99]);
        assert_eq!(d.next_frame().err(), Some(FrameError::UnknownType(99)));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut d = FrameDecoder::new(4096);
            let mut buf = Vec::new();
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Mostly small values (valid types and short lengths),
                // every byte value now and then.
                buf.push(if x % 4 == 0 { (x >> 8) as u8 } else { (x % 9) as u8 });
            }
            d.extend(&buf);
            while let Ok(Some(f)) = d.next_frame() {
                if f.msg_type != MsgType::Record {
                    let _ = Message::decode(f.msg_type, f.payload);
                }
            }
        }
    }
}

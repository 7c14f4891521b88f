//! The provisioning stream's framing: what the source replicator sends in
//! the body of `POST /api/v2/replicator/provision/backup`.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | kind: `H` (0x48) header, `D` (0x44) data, `E` (0x45) end, `F` (0x46) failure |
//! | 1 | 4 | payload length, u32 big-endian, at most [`MAX_PAYLOAD`] |
//! | 5 | length | payload |
//!
//! A stream is one `H` (JSON [`Header`]), any number of `D` (the backup
//! tool's output, in order), then `E` (JSON [`End`]) or `F` (UTF-8: what
//! failed on the source). Golden bytes: `D` with payload `ab` is
//! `44 00 00 00 02 61 62`.
//!
//! Invariants: a stream that ends without `E` or `F` (the source or the
//! network died) is [`FrameError::Truncated`], so a half copy is never taken
//! for a whole one; a frame after `E`/`F`, an unknown kind or a length over
//! [`MAX_PAYLOAD`] is an error before anything is allocated for it.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 1 << 20;
const HEAD: usize = 5;

/// What the source says before the data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    /// `mariabackup` or `mysqldump`.
    pub method: String,
    /// The source's host name.
    pub host: String,
    /// The source's services: name and role.
    pub services: Vec<(String, String)>,
    /// The schemas the copy holds (mysqldump) or the source's user and
    /// tracking schemas (mariabackup copies everything).
    pub schemas: Vec<String>,
    /// The source's data size (information_schema), for progress.
    pub expected_bytes: u64,
    /// `@@version` of the source.
    pub server_version: String,
}

/// What the source says after the last data frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct End {
    pub bytes: u64,
    pub seconds: f64,
}

/// One frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Header(Header),
    Data(Bytes),
    End(End),
    Failed(String),
}

/// Why a stream is not a valid provisioning stream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    #[error("the provisioning stream ended after {0} bytes without its end frame: the source replicator or the network failed mid-copy")]
    Truncated(u64),
    #[error("unknown frame kind 0x{0:02x} at stream offset {1}")]
    UnknownKind(u8, u64),
    #[error("frame of {0} bytes at stream offset {1} exceeds the limit of {MAX_PAYLOAD}")]
    TooLarge(usize, u64),
    #[error("malformed {0} frame: {1}")]
    Malformed(&'static str, String),
    #[error("a frame follows the end of the stream at offset {0}")]
    AfterEnd(u64),
}

/// Encodes one frame.
pub fn encode(frame: &Frame) -> Bytes {
    let (kind, payload): (u8, Bytes) = match frame {
        Frame::Header(h) => (b'H', json(h)),
        Frame::Data(d) => (b'D', d.clone()),
        Frame::End(e) => (b'E', json(e)),
        Frame::Failed(m) => (b'F', Bytes::copy_from_slice(m.as_bytes())),
    };
    let mut out = BytesMut::with_capacity(HEAD + payload.len());
    out.put_u8(kind);
    // Data frames are cut at MAX_PAYLOAD by the sender; JSON and messages
    // are small.
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.put_slice(&payload);
    out.freeze()
}

fn json<T: Serialize>(v: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// Splits received bytes into frames.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: BytesMut,
    /// Stream offset of `buf`'s first byte.
    offset: u64,
    ended: bool,
}

impl FrameReader {
    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one is buffered.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buf.len() < HEAD {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if self.ended {
            return Err(FrameError::AfterEnd(self.offset));
        }
        if !matches!(kind, b'H' | b'D' | b'E' | b'F') {
            return Err(FrameError::UnknownKind(kind, self.offset));
        }
        if len > MAX_PAYLOAD {
            return Err(FrameError::TooLarge(len, self.offset));
        }
        if self.buf.len() < HEAD + len {
            return Ok(None);
        }
        self.buf.advance(HEAD);
        let payload = self.buf.split_to(len).freeze();
        self.offset += (HEAD + len) as u64;
        let frame = match kind {
            b'H' => Frame::Header(
                serde_json::from_slice(&payload).map_err(|e| FrameError::Malformed("header", e.to_string()))?,
            ),
            b'D' => Frame::Data(payload),
            b'E' => {
                Frame::End(serde_json::from_slice(&payload).map_err(|e| FrameError::Malformed("end", e.to_string()))?)
            }
            _ => Frame::Failed(String::from_utf8_lossy(&payload).into_owned()),
        };
        self.ended = matches!(frame, Frame::End(_) | Frame::Failed(_));
        Ok(Some(frame))
    }

    /// Called at the end of the body: `Err` unless the stream ended with
    /// `E` or `F` and nothing follows.
    pub fn finish(&self) -> Result<(), FrameError> {
        match (self.ended, self.buf.is_empty()) {
            (true, true) => Ok(()),
            (true, false) => Err(FrameError::AfterEnd(self.offset)),
            (false, _) => Err(FrameError::Truncated(self.offset + self.buf.len() as u64)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_data_frame() {
        assert_eq!(
            encode(&Frame::Data(Bytes::from_static(b"ab"))).as_ref(),
            &[0x44, 0, 0, 0, 2, b'a', b'b']
        );
        assert_eq!(encode(&Frame::Failed("x".into())).as_ref(), &[0x46, 0, 0, 0, 1, b'x']);
    }

    fn header() -> Header {
        Header {
            method: "mysqldump".into(),
            host: "db2".into(),
            services: vec![("alpha".into(), "slave".into())],
            schemas: vec!["shop".into()],
            expected_bytes: 10,
            server_version: "10.11".into(),
        }
    }

    #[test]
    fn round_trip_byte_by_byte() {
        let frames = vec![
            Frame::Header(header()),
            Frame::Data(Bytes::from_static(b"hello")),
            Frame::Data(Bytes::new()),
            Frame::End(End { bytes: 5, seconds: 0.5 }),
        ];
        let wire: Vec<u8> = frames.iter().flat_map(|f| encode(f).to_vec()).collect();
        let mut r = FrameReader::default();
        let mut got = Vec::new();
        for b in &wire {
            r.push(std::slice::from_ref(b));
            while let Some(f) = r.next_frame().expect("valid stream") {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn truncated_and_bad_streams_are_errors() {
        let mut r = FrameReader::default();
        r.push(&encode(&Frame::Header(header())));
        r.push(&encode(&Frame::Data(Bytes::from_static(b"abc")))[..6]);
        while r.next_frame().expect("valid so far").is_some() {}
        assert!(matches!(r.finish(), Err(FrameError::Truncated(_))));

        let mut r = FrameReader::default();
        r.push(&[b'Z', 0, 0, 0, 0]);
        assert_eq!(r.next_frame(), Err(FrameError::UnknownKind(b'Z', 0)));

        let mut r = FrameReader::default();
        r.push(&[b'D', 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.next_frame(), Err(FrameError::TooLarge(..))));

        let mut r = FrameReader::default();
        r.push(&encode(&Frame::Failed("disk full".into())));
        r.push(&encode(&Frame::Data(Bytes::from_static(b"x"))));
        assert_eq!(r.next_frame(), Ok(Some(Frame::Failed("disk full".into()))));
        assert!(matches!(r.next_frame(), Err(FrameError::AfterEnd(_))));
    }
}

//! MySQL TRANSACTION_PAYLOAD_EVENT (40, `binlog_transaction_compression=ON`).
//!
//! Payload: a header of fields `type lenenc, length lenenc, value lenenc`
//! ended by type 0, then the compressed bytes.
//!
//! | type | field                                     |
//! |------|-------------------------------------------|
//! | 0    | end of header                             |
//! | 1    | payload size (bytes after the header)     |
//! | 2    | compression type (0 ZSTD, 255 NONE)       |
//! | 3    | uncompressed size                         |
//!
//! The inflated payload is a sequence of ordinary events (19-byte header,
//! no CRC trailer), decoded by the same `Decoder`.
//! Invariant: the inflated buffer never exceeds the declared uncompressed
//! size (capped at [`MAX_PAYLOAD`]).

use std::io::Read;

use mysql_common::binlog::events::TransactionPayloadReader;

use super::cursor::Cursor;
use super::error::{malformed, ErrorKind, KResult};

/// Largest inflated payload accepted.
pub const MAX_PAYLOAD: u64 = 1 << 30;

pub const COMPRESSION_ZSTD: u64 = 0;
pub const COMPRESSION_NONE: u64 = 255;

/// The parsed header and the inflated inner events.
#[derive(Debug)]
pub struct Payload {
    pub compression: u64,
    pub uncompressed_size: u64,
    pub data: Vec<u8>,
}

pub fn inflate_payload(p: &[u8]) -> KResult<Payload> {
    let mut c = Cursor::new(p);
    let (mut size, mut comp, mut usize_) = (None, None, None);
    loop {
        let t = c.lenenc("payload field type")?;
        if t == 0 {
            break;
        }
        let len = c.lenenc_len("payload field length")?;
        let v = c.take(len, "payload field")?;
        let val = Cursor::new(v).lenenc("payload field value").ok();
        match t {
            1 => size = val,
            2 => comp = val,
            3 => usize_ = val,
            _ => {}
        }
    }
    let size = size.ok_or_else(|| malformed("TRANSACTION_PAYLOAD without payload size"))?;
    let comp = comp.ok_or_else(|| malformed("TRANSACTION_PAYLOAD without compression type"))?;
    let body = c.take(usize::try_from(size).unwrap_or(usize::MAX), "transaction payload")?;
    let data = match comp {
        COMPRESSION_NONE => body.to_vec(),
        COMPRESSION_ZSTD => {
            let want = usize_.ok_or_else(|| malformed("TRANSACTION_PAYLOAD without uncompressed size"))?;
            if want > MAX_PAYLOAD {
                return Err(ErrorKind::Decompress(format!(
                    "uncompressed size {want} over the limit"
                )));
            }
            let r =
                TransactionPayloadReader::new_zstd(body).map_err(|e| ErrorKind::Decompress(format!("zstd: {e}")))?;
            let mut out = Vec::with_capacity((want as usize).min(body.len().saturating_mul(64)));
            r.take(want + 1)
                .read_to_end(&mut out)
                .map_err(|e| ErrorKind::Decompress(format!("zstd: {e}")))?;
            if out.len() as u64 != want {
                return Err(ErrorKind::Decompress(format!(
                    "inflated {} bytes, header says {want}",
                    out.len()
                )));
            }
            out
        }
        x => {
            return Err(ErrorKind::Unsupported(format!(
                "TRANSACTION_PAYLOAD compression type {x}"
            )))
        }
    };
    Ok(Payload {
        compression: comp,
        uncompressed_size: usize_.unwrap_or(data.len() as u64),
        data,
    })
}

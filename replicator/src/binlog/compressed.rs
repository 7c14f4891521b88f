//! MariaDB compressed events (`log_bin_compress=ON`): QUERY_COMPRESSED (165)
//! and WRITE/UPDATE/DELETE_ROWS_COMPRESSED v1 (166-168) and v2 (169-171).
//!
//! Only the statement text (165) or the row images (166-171) are
//! compressed; post-headers, status variables, the column count and the
//! column bitmaps stay as in the uncompressed event. A compressed block is:
//!
//! | size    | field                                                   |
//! |---------|---------------------------------------------------------|
//! | 1       | `0x80 | n` (top 3 bits must be 100; n = 1..4)           |
//! | n       | uncompressed length, big-endian                         |
//! | rest    | zlib stream                                             |
//!
//! Invariant: the output buffer is bounded by the declared length, itself
//! capped at [`MAX_INFLATED`], and the stream must inflate to exactly it.

use std::io::Read;

use super::cursor::Cursor;
use super::error::{ErrorKind, KResult};

/// Largest inflated block accepted (1 GiB, MariaDB's packet limit).
pub const MAX_INFLATED: u64 = 1 << 30;

/// Inflates one compressed block.
pub fn inflate(block: &[u8]) -> KResult<Vec<u8>> {
    let mut c = Cursor::new(block);
    let head = c.u8("compressed header")?;
    if head & 0xe0 != 0x80 {
        return Err(ErrorKind::Decompress(format!("bad compressed header byte {head:#04x}")));
    }
    let n = usize::from(head & 0x07);
    if !(1..=4).contains(&n) {
        return Err(ErrorKind::Decompress(format!("bad length-of-length {n}")));
    }
    let len = c.uint_be_n(n, "compressed length")?;
    if len > MAX_INFLATED {
        return Err(ErrorKind::Decompress(format!(
            "declared length {len} over the {MAX_INFLATED} limit"
        )));
    }
    let mut out = Vec::with_capacity((len as usize).min(c.remaining().saturating_mul(64)).max(64));
    let mut z = flate2::read::ZlibDecoder::new(c.rest()).take(len + 1);
    z.read_to_end(&mut out)
        .map_err(|e| ErrorKind::Decompress(format!("zlib: {e}")))?;
    if out.len() as u64 != len {
        return Err(ErrorKind::Decompress(format!(
            "inflated {} bytes, header says {len}",
            out.len()
        )));
    }
    Ok(out)
}

/// Builds a compressed block (used by tests and tools).
pub fn deflate_block(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let len = data.len() as u64;
    let n = if len < 1 << 8 {
        1
    } else if len < 1 << 16 {
        2
    } else if len < 1 << 24 {
        3
    } else {
        4
    };
    let mut out = vec![0x80 | n as u8];
    out.extend_from_slice(&len.to_be_bytes()[8 - n..]);
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
    let _ = z.write_all(data);
    z.finish().unwrap_or_default()
}

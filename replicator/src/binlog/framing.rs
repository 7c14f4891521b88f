//! Framing of a binlog *file*: magic, event boundaries, CRC32, the tail.
//!
//! File layout:
//!
//! | offset | size        | content                                        |
//! |--------|-------------|------------------------------------------------|
//! | 0      | 4           | magic `FE 62 69 6E` (`\xfebin`)                |
//! | 4      | event_size  | FORMAT_DESCRIPTION_EVENT                       |
//! | ...    | event_size  | events, each `header(19) + payload [+ CRC32]`  |
//!
//! Invariants:
//! * An event is handed out only when all `event_size` bytes are present;
//!   a file ending inside an event gives [`ReadOutcome::Partial`] (a live
//!   file being written: call again later) and nothing is consumed.
//! * Memory grows only with bytes actually read from the file, never by a
//!   length read from the file.
//! * When the last FDE says CRC32, every event's trailer is verified (the
//!   FDE's own CRC with `LOG_EVENT_BINLOG_IN_USE_F` cleared).
//! * START_ENCRYPTION_EVENT (164) is refused: the rest of the file is
//!   ciphertext that would otherwise decode as garbage.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::decoder::{BinlogEvent, Decoder};
use super::error::{BinlogError, ErrorKind};
use super::event_types::*;
use super::fde::{event_crc, parse_fde, ChecksumAlg};

/// The binlog magic number.
pub const BINLOG_MAGIC: [u8; 4] = [0xfe, 0x62, 0x69, 0x6e];

/// Largest event accepted (MySQL/MariaDB cap `max_allowed_packet` at 1 GiB;
/// a rows event can slightly exceed it).
pub const MAX_EVENT_SIZE: u64 = (1 << 30) + (1 << 20);

/// One complete raw event as read from the file.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// Start offset of the event in the file.
    pub pos: u64,
    pub header: EventHeader,
    /// The whole event: header, payload and trailer.
    pub bytes: &'a [u8],
}

/// What [`BinlogFileReader::next_raw`] found.
#[derive(Debug)]
pub enum ReadOutcome<'a> {
    /// A complete event.
    Event(RawEvent<'a>),
    /// End of file exactly at an event boundary.
    Eof,
    /// The file ends inside the event at `pos`: `have` of `need` bytes are
    /// present (`need` is 19 while the header itself is incomplete). A
    /// tailing caller waits and calls again.
    Partial { pos: u64, have: u64, need: u64 },
}

/// Sequential reader of a binlog file.
#[derive(Debug)]
pub struct BinlogFileReader {
    path: PathBuf,
    name: String,
    file: File,
    /// Bytes read from the file and not yet handed out start at `buf[start]`.
    buf: Vec<u8>,
    start: usize,
    /// File offset of `buf[start]`.
    pos: u64,
    alg: ChecksumAlg,
    verify_crc: bool,
}

impl BinlogFileReader {
    /// Opens `path` and checks the magic number.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, BinlogError> {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let err = |kind| BinlogError::new(&name, 0, None, kind);
        let mut file = File::open(&path).map_err(|e| err(ErrorKind::Io(e)))?;
        let mut magic = Vec::with_capacity(4);
        (&mut file)
            .take(4)
            .read_to_end(&mut magic)
            .map_err(|e| err(ErrorKind::Io(e)))?;
        if magic.len() < 4 {
            return Err(err(ErrorKind::Truncated {
                have: magic.len() as u64,
                need: 4,
            }));
        }
        if magic != BINLOG_MAGIC {
            return Err(err(ErrorKind::BadMagic(magic)));
        }
        Ok(BinlogFileReader {
            path,
            name,
            file,
            buf: Vec::new(),
            start: 0,
            pos: 4,
            alg: ChecksumAlg::Off,
            verify_crc: true,
        })
    }

    /// Opens `path`, reads its FORMAT_DESCRIPTION_EVENT into `decoder`, then
    /// positions the reader at `pos` (a position from an earlier run, e.g.
    /// `log_pos` of the last committed event). `pos <= 4` starts at the FDE.
    pub fn open_at(path: impl AsRef<Path>, pos: u64, decoder: &mut Decoder) -> Result<Self, BinlogError> {
        let mut r = Self::open(path)?;
        decoder.set_file_name(&r.name);
        if pos <= 4 {
            return Ok(r);
        }
        match r.decode_next(decoder)? {
            Some((_, BinlogEvent::FormatDescription(_))) => {}
            _ => {
                return Err(BinlogError::new(
                    &r.name,
                    4,
                    None,
                    ErrorKind::Malformed("the file does not start with a FORMAT_DESCRIPTION_EVENT".into()),
                ))
            }
        }
        r.seek(pos)?;
        Ok(r)
    }

    /// The file name (without directories).
    pub fn file_name(&self) -> &str {
        &self.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Offset of the next event.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Turns CRC verification off (it is on by default).
    pub fn set_verify_checksums(&mut self, on: bool) {
        self.verify_crc = on;
    }

    /// Moves to `pos` (must be an event boundary).
    pub fn seek(&mut self, pos: u64) -> Result<(), BinlogError> {
        self.file
            .seek(SeekFrom::Start(pos))
            .map_err(|e| self.err(pos, None, ErrorKind::Io(e)))?;
        self.buf.clear();
        self.start = 0;
        self.pos = pos;
        Ok(())
    }

    fn err(&self, pos: u64, t: Option<u8>, kind: ErrorKind) -> BinlogError {
        BinlogError::new(&self.name, pos, t, kind)
    }

    /// Makes at least `n` unconsumed bytes available; false at EOF.
    fn fill(&mut self, n: usize) -> std::io::Result<bool> {
        loop {
            let avail = self.buf.len() - self.start;
            if avail >= n {
                return Ok(true);
            }
            if self.start > 0 && (self.start >= self.buf.len() / 2 || self.start > (1 << 20)) {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let chunk = (n - avail).clamp(64 * 1024, 16 << 20);
            let old = self.buf.len();
            self.buf.resize(old + chunk, 0);
            let r = loop {
                match self.file.read(&mut self.buf[old..]) {
                    Ok(r) => break r,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(old);
                        return Err(e);
                    }
                }
            };
            self.buf.truncate(old + r);
            if r == 0 {
                return Ok(false);
            }
        }
    }

    /// The next complete raw event, with its CRC verified.
    pub fn next_raw(&mut self) -> Result<ReadOutcome<'_>, BinlogError> {
        let pos = self.pos;
        if !self
            .fill(HEADER_LEN)
            .map_err(|e| self.err(pos, None, ErrorKind::Io(e)))?
        {
            let have = (self.buf.len() - self.start) as u64;
            return Ok(if have == 0 {
                ReadOutcome::Eof
            } else {
                ReadOutcome::Partial {
                    pos,
                    have,
                    need: HEADER_LEN as u64,
                }
            });
        }
        let header = match EventHeader::parse(&self.buf[self.start..]) {
            Some(h) => h,
            None => {
                return Ok(ReadOutcome::Partial {
                    pos,
                    have: 0,
                    need: HEADER_LEN as u64,
                })
            }
        };
        let t = Some(header.event_type);
        let size = u64::from(header.event_size);
        if size < HEADER_LEN as u64 || size > MAX_EVENT_SIZE {
            return Err(self.err(
                pos,
                t,
                ErrorKind::BadEventSize {
                    size,
                    limit: MAX_EVENT_SIZE,
                },
            ));
        }
        let n = size as usize;
        if !self.fill(n).map_err(|e| self.err(pos, t, ErrorKind::Io(e)))? {
            let have = (self.buf.len() - self.start) as u64;
            return Ok(ReadOutcome::Partial { pos, have, need: size });
        }
        if header.event_type == MARIA_START_ENCRYPTION_EVENT {
            return Err(self.err(pos, t, ErrorKind::Encrypted));
        }
        let bytes = &self.buf[self.start..self.start + n];
        let is_fde = header.event_type == FORMAT_DESCRIPTION_EVENT;
        if is_fde {
            let fde = parse_fde(bytes).map_err(|k| self.err(pos, t, k))?;
            self.alg = fde.alg();
        }
        if self.verify_crc && self.alg == ChecksumAlg::Crc32 {
            if n < HEADER_LEN + CHECKSUM_LEN {
                return Err(self.err(
                    pos,
                    t,
                    ErrorKind::BadEventSize {
                        size,
                        limit: MAX_EVENT_SIZE,
                    },
                ));
            }
            let body = &bytes[..n - CHECKSUM_LEN];
            let stored = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
            let computed = event_crc(body, is_fde);
            if stored != computed {
                return Err(self.err(pos, t, ErrorKind::Checksum { stored, computed }));
            }
        }
        self.start += n;
        self.pos += size;
        let bytes = &self.buf[self.start - n..self.start];
        Ok(ReadOutcome::Event(RawEvent { pos, header, bytes }))
    }

    /// Reads and decodes the next event. `Ok(None)` at a clean end of file;
    /// a partial event at the tail is an error ([`ErrorKind::Truncated`])
    /// naming the file and offset. Tailing callers use [`Self::next_raw`].
    pub fn decode_next(&mut self, decoder: &mut Decoder) -> Result<Option<(u64, BinlogEvent)>, BinlogError> {
        let name = self.name.clone();
        match self.next_raw()? {
            ReadOutcome::Eof => Ok(None),
            ReadOutcome::Partial { pos, have, need } => {
                Err(BinlogError::new(&name, pos, None, ErrorKind::Truncated { have, need }))
            }
            ReadOutcome::Event(ev) => {
                if decoder.file_name().is_empty() {
                    decoder.set_file_name(&name);
                }
                let e = decoder.decode_trusted(ev.bytes, ev.pos)?;
                Ok(Some((ev.pos, e)))
            }
        }
    }
}

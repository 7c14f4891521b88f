//! Segment files: naming, the file header, read-only memory maps, record
//! iteration, and crash-safe truncation.
//!
//! Invariants:
//!
//! * Files are `thl.data.NNNNNNNNNN` (10 digits, from 1, +1 per rotation);
//!   the numbers of the files present are contiguous.
//! * Every file starts with a 32-byte header whose `base_seqno` is the seqno
//!   of the file's first record; records follow back to back.
//! * Every file except the last ends with a ROTATE record (21 bytes) naming
//!   the next file and the file's last seqno, so a finished file is
//!   recognisable by reading its last 21 bytes.
//! * Data files only grow, except when the writer truncates a torn tail or
//!   purges the top of the log. Truncation writes a shortened copy and
//!   renames it over the original, so a memory map held by any reader (in
//!   this or another process) keeps seeing the old, longer inode and never
//!   faults with SIGBUS.
//!
//! File header (little-endian):
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 4 | magic `THLD` |
//! | 4 | 2 | format version = 1 |
//! | 6 | 2 | header length = 32 |
//! | 8 | 4 | file number (the `NNNNNNNNNN` of the name) |
//! | 12 | 4 | flags = 0 |
//! | 16 | 8 | base seqno i64 |
//! | 24 | 4 | reserved = 0 |
//! | 28 | 4 | CRC32 of bytes 0..28 |

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use super::error::{Result, StoreError};
use crate::record::{self, Frame, RecordError};
use crate::seqno::Seqno;

/// Magic of a data file.
pub const DATA_MAGIC: [u8; 4] = *b"THLD";
/// Version of the data file format (header and record framing).
pub const FORMAT_VERSION: u16 = 1;
/// Length of the data file header.
pub const FILE_HEADER_LEN: u64 = 32;
/// Prefix of data file names.
pub const DATA_PREFIX: &str = "thl.data.";

/// The name of data file number `n`.
pub fn data_file_name(n: u32) -> String {
    format!("{DATA_PREFIX}{n:010}")
}

/// The path of data file number `n` in `dir`.
pub fn data_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(data_file_name(n))
}

/// The file number of a data file name, if it is one.
pub fn parse_data_file_name(name: &str) -> Option<u32> {
    let digits = name.strip_prefix(DATA_PREFIX)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The numbers of the data files in `dir`, sorted. Errors when the numbers
/// are not contiguous (a file is missing in the middle of the log).
pub fn list_data_files(dir: &Path) -> Result<Vec<u32>> {
    let rd = fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| StoreError::io(dir, e))?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_data_file_name) {
            out.push(n);
        }
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(StoreError::corrupt(
                data_path(dir, w[0] + 1),
                0,
                None,
                format!(
                    "file missing: {} is followed by {}",
                    data_file_name(w[0]),
                    data_file_name(w[1])
                ),
            ));
        }
    }
    Ok(out)
}

/// The header of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// The file number.
    pub file_no: u32,
    /// Seqno of the first record of the file.
    pub base_seqno: Seqno,
}

impl FileHeader {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN as usize] {
        let mut b = [0u8; FILE_HEADER_LEN as usize];
        b[0..4].copy_from_slice(&DATA_MAGIC);
        b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&(FILE_HEADER_LEN as u16).to_le_bytes());
        b[8..12].copy_from_slice(&self.file_no.to_le_bytes());
        b[16..24].copy_from_slice(&self.base_seqno.0.to_le_bytes());
        let crc = crc32fast::hash(&b[0..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header.
    pub fn decode(b: &[u8]) -> std::result::Result<FileHeader, String> {
        let Some(b) = b.get(..FILE_HEADER_LEN as usize) else {
            return Err(format!("file shorter than the {FILE_HEADER_LEN}-byte header"));
        };
        if b[0..4] != DATA_MAGIC {
            return Err(format!("bad magic {:02x?}", &b[0..4]));
        }
        let crc = u32::from_le_bytes([b[28], b[29], b[30], b[31]]);
        if crc != crc32fast::hash(&b[0..28]) {
            return Err("file header CRC mismatch".into());
        }
        let version = u16::from_le_bytes([b[4], b[5]]);
        if version != FORMAT_VERSION {
            return Err(format!(
                "unsupported format version {version} (this build reads {FORMAT_VERSION})"
            ));
        }
        let hlen = u16::from_le_bytes([b[6], b[7]]);
        if u64::from(hlen) != FILE_HEADER_LEN {
            return Err(format!("unsupported header length {hlen}"));
        }
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[16..24]);
        Ok(FileHeader {
            file_no: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            base_seqno: Seqno(i64::from_le_bytes(s)),
        })
    }
}

/// Reads and checks the header of data file `n`.
pub fn read_header(dir: &Path, n: u32) -> Result<FileHeader> {
    let path = data_path(dir, n);
    let mut f = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
    let mut b = Vec::with_capacity(FILE_HEADER_LEN as usize);
    (&mut f)
        .take(FILE_HEADER_LEN)
        .read_to_end(&mut b)
        .map_err(|e| StoreError::io(&path, e))?;
    let h = FileHeader::decode(&b).map_err(|r| StoreError::corrupt(&path, 0, None, r))?;
    if h.file_no != n {
        return Err(StoreError::corrupt(
            &path,
            8,
            None,
            format!("header names file number {}", h.file_no),
        ));
    }
    Ok(h)
}

/// Reads the ROTATE record that ends a finished file, if the file ends with
/// a valid one: `(offset of the record, last_seqno, next_file)`.
pub fn read_rotate_trailer(path: &Path) -> Result<Option<(u64, Seqno, u32)>> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let len = f.metadata().map_err(|e| StoreError::io(path, e))?.len();
    let rl = record::ROTATE_RECORD_LEN as u64;
    if len < FILE_HEADER_LEN + rl {
        return Ok(None);
    }
    let mut b = [0u8; record::ROTATE_RECORD_LEN];
    f.seek(SeekFrom::Start(len - rl)).map_err(|e| StoreError::io(path, e))?;
    f.read_exact(&mut b).map_err(|e| StoreError::io(path, e))?;
    match record::parse_frame(&b) {
        Ok(fr) if fr.rtype == record::RecordType::Rotate && fr.raw.len() == b.len() => {
            match record::decode_rotate(fr.payload) {
                Ok((last, next)) => Ok(Some((len - rl, last, next))),
                Err(_) => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// A read-only memory map of a data file that follows the file as it grows.
///
/// A cursor reads a file once, front to back: it gives back the pages far
/// enough behind it ([`SegmentMap::release_behind`]), so a process that
/// streams a large file keeps about [`RELEASE_LAG`] of it resident, not the
/// whole file.
#[derive(Debug)]
pub struct SegmentMap {
    path: PathBuf,
    file: File,
    map: Arc<Mmap>,
    /// Offset below which this map's pages were given back.
    released: usize,
}

/// How far behind the cursor pages are given back. Records handed out are
/// used (decoded, sent) after the cursor has moved on, and a user of this
/// crate may keep some in flight (the replicator keeps at most 8 MiB, or
/// one larger record). A page given back and then read again is mapped
/// again and stays resident until the map is dropped: never wrong, only
/// memory.
pub const RELEASE_LAG: usize = 32 << 20;
/// Pages are given back in steps of this many bytes.
const RELEASE_STEP: usize = 8 << 20;
/// Alignment of what is given back: a multiple of every page size in use
/// (4, 16 and 64 KiB).
const RELEASE_ALIGN: usize = 64 << 10;

fn map_file(path: &Path, file: &File) -> Result<Mmap> {
    // SAFETY: the map is read-only. Data files are only appended to while
    // mapped, and a truncation replaces the file by rename, leaving this
    // inode intact; the one cut in place is the writer's, after an I/O
    // error, of the active file's tail that no fdatasync covered
    // (`Writer::cut_unsynced`), bytes that readers of durable records (all
    // but `Visibility::Written` ones, which read their own writer's
    // records) never read. So the bytes a reader reads stay valid and
    // stable for the map's lifetime.
    unsafe { Mmap::map(file) }.map_err(|e| StoreError::io(path, e))
}

impl SegmentMap {
    /// Maps the file at `path` (its current length).
    pub fn open(path: &Path) -> Result<SegmentMap> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let map = Arc::new(map_file(path, &file)?);
        Ok(SegmentMap {
            path: path.to_path_buf(),
            file,
            map,
            released: 0,
        })
    }

    /// Gives the pages more than [`RELEASE_LAG`] below `reading_at` back to
    /// the kernel, a step at a time: the process's resident memory no
    /// longer counts them, and a later read of them maps them again from
    /// the page cache. Best effort: a refusal is ignored.
    pub fn release_behind(&mut self, reading_at: usize) {
        let end = reading_at.saturating_sub(RELEASE_LAG).min(self.map.len()) / RELEASE_ALIGN * RELEASE_ALIGN;
        if end < self.released + RELEASE_STEP {
            return;
        }
        // SAFETY: the map is a shared (MAP_SHARED), read-only map of a file:
        // its pages are the file's page cache, and MADV_DONTNEED only drops
        // them from this process's page tables; a later read maps the
        // file's current bytes again, exactly what it would have read
        // without the advice (whose stability `map_file` argues). Nothing
        // writes through this map.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, self.released, end - self.released)
        };
        self.released = end;
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// The map, shareable with records handed out.
    pub fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// Remaps when the file has grown; returns true when it did.
    pub fn refresh(&mut self) -> Result<bool> {
        let len = self.file.metadata().map_err(|e| StoreError::io(&self.path, e))?.len();
        if len as usize > self.map.len() {
            // Below `released`, the new map's pages were never read by
            // this cursor: nothing to give back again.
            self.map = Arc::new(map_file(&self.path, &self.file)?);
            return Ok(true);
        }
        Ok(false)
    }
}

/// Iterates the records of a mapped file from an offset.
///
/// Yields `Ok((offset, frame))` for each complete record and stops after
/// the first `Err((offset, error))`. With `check_crc` false only the
/// length and type are checked (skipping without touching bodies).
#[derive(Debug)]
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: u64,
    check_crc: bool,
    done: bool,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8], from: u64, check_crc: bool) -> Frames<'a> {
        Frames {
            buf,
            pos: from,
            check_crc,
            done: false,
        }
    }

    /// Offset of the next record.
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = std::result::Result<(u64, Frame<'a>), (u64, RecordError)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() as u64 {
            return None;
        }
        let rest = &self.buf[self.pos as usize..];
        let r = if self.check_crc {
            record::parse_frame(rest)
        } else {
            record::peek_frame(rest)
        };
        match r {
            Ok(f) => {
                let at = self.pos;
                self.pos += f.raw.len() as u64;
                Some(Ok((at, f)))
            }
            Err(e) => {
                self.done = true;
                Some(Err((self.pos, e)))
            }
        }
    }
}

/// Creates data file `n` with its header; fails if it exists.
pub fn create_data_file(dir: &Path, n: u32, base_seqno: Seqno, io: &dyn super::StoreIo) -> Result<File> {
    let path = data_path(dir, n);
    let f = io.create_new(&path).map_err(|e| StoreError::io(&path, e))?;
    io.write_all(&f, &FileHeader { file_no: n, base_seqno }.encode())
        .map_err(|e| StoreError::io(&path, e))?;
    Ok(f)
}

/// Shortens `path` to `len` bytes by writing a copy and renaming it over the
/// original (see the module invariants); with `sync`, fsyncs the copy and
/// the directory.
pub fn truncate_by_replace(path: &Path, len: u64, sync: bool) -> Result<()> {
    let tmp = path.with_extension("truncating");
    {
        let mut src = File::open(path).map_err(|e| StoreError::io(path, e))?;
        let mut dst = super::private::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
        let copied = std::io::copy(&mut (&mut src).take(len), &mut dst).map_err(|e| StoreError::io(&tmp, e))?;
        if copied != len {
            return Err(StoreError::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file shorter than the truncation point",
                ),
            ));
        }
        if sync {
            dst.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
        }
    }
    fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))?;
    if sync {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// fsyncs a directory so renames, creations and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Removes a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(data_file_name(1), "thl.data.0000000001");
        assert_eq!(parse_data_file_name("thl.data.0000000042"), Some(42));
        assert_eq!(parse_data_file_name("thl.data.42"), None);
        assert_eq!(parse_data_file_name("thl.index.0000000042"), None);
    }

    #[test]
    fn header_round_trip_and_checks() {
        let h = FileHeader {
            file_no: 3,
            base_seqno: Seqno(1234),
        };
        let b = h.encode();
        assert_eq!(FileHeader::decode(&b), Ok(h));
        for i in 0..b.len() {
            let mut c = b;
            c[i] ^= 1;
            assert!(FileHeader::decode(&c).is_err(), "flip at {i}");
        }
        assert!(FileHeader::decode(&b[..31]).is_err());
    }
}

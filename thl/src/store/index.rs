//! The sparse seqno → offset index, one file per data file.
//!
//! Why persisted files and not an index built in memory at open: building
//! one means reading the header of every record of every file (Tungsten
//! scans linearly), which for a log of hundreds of 100 MB files is minutes
//! of I/O. A persisted sparse index is a few KB per data file (one entry
//! per 64 KiB of data); opening the log reads only the index files, and a
//! seek reads one index file plus at most one interval of record headers
//! (plus one transaction when a transaction is larger than the interval).
//!
//! Invariants:
//!
//! * The index is never trusted over the data: it only says where to start
//!   scanning. Every entry is CRC-checked; entries must be strictly
//!   increasing in seqno and offset and lie inside the data file. A reader
//!   uses the valid prefix of an index file and scans forward from its last
//!   entry; the record found at an entry must have the entry's seqno (else
//!   the reader falls back to scanning from the file start).
//! * The writer rebuilds a missing or damaged index from the data file when
//!   it opens the log (finished files) or while recovering (the last file).
//!   Index files are never fsynced: losing one costs a rebuild, not data.
//! * Entries point at fragment 0 of a transaction (or a filtered range): a
//!   record gets an entry when it is the first of the file or starts at
//!   least `interval` bytes after the previous entry. The index of a
//!   finished file ends with a sentinel entry (seqno `i64::MAX`) pointing at
//!   the ROTATE record; an index without it is incomplete.
//!
//! Layout of `thl.index.NNNNNNNNNN` (little-endian):
//!
//! | Offset | Size | Field |
//! |---|---|---|
//! | 0 | 4 | magic `THLI` |
//! | 4 | 2 | version = 1 |
//! | 6 | 2 | header length = 32 |
//! | 8 | 4 | data file number |
//! | 12 | 4 | interval in bytes |
//! | 16 | 8 | base seqno of the data file |
//! | 24 | 4 | reserved = 0 |
//! | 28 | 4 | CRC32 of bytes 0..28 |
//! | 32 + 20k | 8 | entry k: seqno i64 (`i64::MAX` = sentinel) |
//! | 40 + 20k | 8 | entry k: offset u64 in the data file |
//! | 48 + 20k | 4 | entry k: CRC32 of its 16 bytes |

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};
use super::segment::{Frames, FILE_HEADER_LEN};
use crate::record::{self, RecordError, RecordType};
use crate::seqno::Seqno;

/// Magic of an index file.
pub const INDEX_MAGIC: [u8; 4] = *b"THLI";
const INDEX_VERSION: u16 = 1;
const INDEX_HEADER_LEN: usize = 32;
const ENTRY_LEN: usize = 20;
/// Seqno of the entry that marks a finished (sealed) file.
pub const SEALED: Seqno = Seqno(i64::MAX);
/// Default spacing of index entries.
pub const DEFAULT_INTERVAL: u32 = 64 * 1024;

/// The path of the index of data file `n`.
pub fn index_path(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("thl.index.{n:010}"))
}

/// One index entry: the record of `seqno` (fragment 0) starts at `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub seqno: Seqno,
    pub offset: u64,
}

/// The entries of one data file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseIndex {
    /// Entries, increasing in seqno and offset.
    pub entries: Vec<IndexEntry>,
    /// Offset of the ROTATE record when the file is finished.
    pub sealed_at: Option<u64>,
}

impl SparseIndex {
    /// The last entry with `entry.seqno <= seqno`, if any.
    pub fn floor(&self, seqno: Seqno) -> Option<IndexEntry> {
        let i = self.entries.partition_point(|e| e.seqno <= seqno);
        i.checked_sub(1).map(|i| self.entries[i])
    }

    /// Whether the record at `offset` (fragment `fragno`) gets an entry.
    pub fn wants(&self, offset: u64, fragno: u16, interval: u32) -> bool {
        fragno == 0
            && self
                .entries
                .last()
                .is_none_or(|l| offset >= l.offset + u64::from(interval))
    }

    /// Drops the entries at or after `offset` (and the seal).
    pub fn cut_at(&mut self, offset: u64) {
        self.entries.retain(|e| e.offset < offset);
        self.sealed_at = None;
    }
}

fn encode_header(n: u32, interval: u32, base: Seqno) -> [u8; INDEX_HEADER_LEN] {
    let mut b = [0u8; INDEX_HEADER_LEN];
    b[0..4].copy_from_slice(&INDEX_MAGIC);
    b[4..6].copy_from_slice(&INDEX_VERSION.to_le_bytes());
    b[6..8].copy_from_slice(&(INDEX_HEADER_LEN as u16).to_le_bytes());
    b[8..12].copy_from_slice(&n.to_le_bytes());
    b[12..16].copy_from_slice(&interval.to_le_bytes());
    b[16..24].copy_from_slice(&base.0.to_le_bytes());
    let crc = crc32fast::hash(&b[0..28]);
    b[28..32].copy_from_slice(&crc.to_le_bytes());
    b
}

fn encode_entry(seqno: Seqno, offset: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&seqno.0.to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// An index read from disk.
#[derive(Debug, Clone)]
pub struct LoadedIndex {
    /// The valid prefix.
    pub index: SparseIndex,
    /// True when the file exists and every byte of it is valid.
    pub intact: bool,
}

/// Reads the index of data file `n` (`data_len` bytes, first seqno `base`).
/// Never fails: a missing or damaged index yields its valid prefix.
pub fn load(dir: &Path, n: u32, base: Seqno, data_len: u64) -> LoadedIndex {
    let bad = |index| LoadedIndex { index, intact: false };
    let path = index_path(dir, n);
    let Ok(meta) = fs::metadata(&path) else {
        return bad(SparseIndex::default());
    };
    // One entry per record at most: anything larger is garbage, do not read it.
    let cap = INDEX_HEADER_LEN as u64 + (data_len / u64::from(record::MIN_RECORD_LEN) + 2) * ENTRY_LEN as u64;
    if meta.len() > cap {
        return bad(SparseIndex::default());
    }
    let Ok(bytes) = fs::read(&path) else {
        return bad(SparseIndex::default());
    };
    let Some(h) = bytes.get(..INDEX_HEADER_LEN) else {
        return bad(SparseIndex::default());
    };
    if h[..] != encode_header(n, u32::from_le_bytes([h[12], h[13], h[14], h[15]]), base)[..] {
        return bad(SparseIndex::default());
    }
    let mut index = SparseIndex::default();
    let mut chunks = bytes[INDEX_HEADER_LEN..].chunks_exact(ENTRY_LEN);
    for c in chunks.by_ref() {
        let crc = u32::from_le_bytes([c[16], c[17], c[18], c[19]]);
        let mut s = [0u8; 8];
        s.copy_from_slice(&c[0..8]);
        let seqno = Seqno(i64::from_le_bytes(s));
        s.copy_from_slice(&c[8..16]);
        let offset = u64::from_le_bytes(s);
        let ordered = index
            .entries
            .last()
            .is_none_or(|l| seqno > l.seqno && offset > l.offset);
        let in_file = offset >= FILE_HEADER_LEN && offset < data_len;
        if crc != crc32fast::hash(&c[0..16]) || !ordered || !in_file || index.sealed_at.is_some() {
            return bad(index);
        }
        if seqno == SEALED {
            if offset + record::ROTATE_RECORD_LEN as u64 != data_len {
                return bad(index);
            }
            index.sealed_at = Some(offset);
        } else {
            index.entries.push(IndexEntry { seqno, offset });
        }
    }
    let intact = chunks.remainder().is_empty();
    LoadedIndex { index, intact }
}

/// Builds the index of a data file from its bytes (checking lengths only,
/// not CRCs). Stops at the first unreadable record and returns what it has
/// with the error.
pub fn build(data: &[u8], interval: u32) -> (SparseIndex, Option<(u64, RecordError)>) {
    build_from(data, interval, SparseIndex::default(), FILE_HEADER_LEN)
}

/// Continues `index` by scanning `data` from `from` (the offset of its last
/// entry, or the file start).
pub fn build_from(
    data: &[u8],
    interval: u32,
    mut index: SparseIndex,
    from: u64,
) -> (SparseIndex, Option<(u64, RecordError)>) {
    index.cut_at(from);
    for item in Frames::new(data, from, false) {
        match item {
            Ok((off, f)) => match f.rtype {
                RecordType::Event => match record::decode_fixed(f.payload) {
                    Ok(fx) => {
                        if index.wants(off, fx.fragno, interval) {
                            index.entries.push(IndexEntry {
                                seqno: fx.seqno,
                                offset: off,
                            });
                        }
                    }
                    Err(e) => return (index, Some((off, e))),
                },
                RecordType::Rotate => {
                    index.sealed_at = Some(off);
                    break;
                }
            },
            Err(e) => return (index, Some(e)),
        }
    }
    (index, None)
}

/// Writes a whole index file (temp file + rename).
pub fn write_full(dir: &Path, n: u32, base: Seqno, interval: u32, index: &SparseIndex) -> Result<()> {
    let path = index_path(dir, n);
    let tmp = path.with_extension("tmp");
    let mut buf = encode_header(n, interval, base).to_vec();
    for e in &index.entries {
        encode_entry(e.seqno, e.offset, &mut buf);
    }
    if let Some(at) = index.sealed_at {
        encode_entry(SEALED, at, &mut buf);
    }
    super::private::create(&tmp)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &buf))
        .map_err(|e| StoreError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| StoreError::io(&path, e))
}

/// Appends entries to the index of the active data file.
#[derive(Debug)]
pub struct IndexAppender {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    interval: u32,
    /// The entries so far (the in-memory copy).
    pub index: SparseIndex,
}

impl IndexAppender {
    /// Writes `index` as the whole index of data file `n` and continues it.
    pub fn start(dir: &Path, n: u32, base: Seqno, interval: u32, index: SparseIndex) -> Result<IndexAppender> {
        write_full(dir, n, base, interval, &index)?;
        let path = index_path(dir, n);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(IndexAppender {
            path,
            file,
            buf: Vec::new(),
            interval,
            index,
        })
    }

    /// Notes a record written at `offset`.
    pub fn note(&mut self, offset: u64, seqno: Seqno, fragno: u16) {
        if self.index.wants(offset, fragno, self.interval) {
            self.index.entries.push(IndexEntry { seqno, offset });
            encode_entry(seqno, offset, &mut self.buf);
        }
    }

    /// Notes the ROTATE record that finishes the file.
    pub fn seal(&mut self, offset: u64) {
        self.index.sealed_at = Some(offset);
        encode_entry(SEALED, offset, &mut self.buf);
    }

    /// Writes buffered entries to the OS (no fsync: the index is rebuildable).
    pub fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.file
                .write_all(&self.buf)
                .map_err(|e| StoreError::io(&self.path, e))?;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_wants() {
        let idx = SparseIndex {
            entries: vec![
                IndexEntry {
                    seqno: Seqno(10),
                    offset: 32,
                },
                IndexEntry {
                    seqno: Seqno(20),
                    offset: 5000,
                },
            ],
            sealed_at: None,
        };
        assert_eq!(idx.floor(Seqno(9)), None);
        assert_eq!(idx.floor(Seqno(10)).map(|e| e.offset), Some(32));
        assert_eq!(idx.floor(Seqno(19)).map(|e| e.offset), Some(32));
        assert_eq!(idx.floor(Seqno(1000)).map(|e| e.offset), Some(5000));
        assert!(!idx.wants(6000, 0, 4096));
        assert!(idx.wants(9096, 0, 4096));
        assert!(!idx.wants(9096, 1, 4096));
    }
}

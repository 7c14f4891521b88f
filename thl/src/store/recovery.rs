//! Opening a log for writing: checking what is on disk, cutting a torn
//! tail, repairing indexes. Also the record scan shared with `verify`.
//!
//! Invariants established before a `Writer` accepts an append:
//!
//! * Every file but the last ends with a valid ROTATE record whose
//!   `last_seqno` + 1 is the next file's base seqno (checked by reading 21
//!   bytes per file, not by scanning it). A missing or bad trailer is a hard
//!   error naming the file and the first bad offset (the file is then
//!   scanned to find it).
//! * The last file holds only whole transactions: its records are
//!   CRC-checked from its last valid index entry to the end; a torn record
//!   (incomplete, or a bad CRC/zeroed length on the very last record) and an
//!   unfinished transaction at the end are cut, with a `tracing::warn`
//!   naming the file, the offset and the seqnos cut. Anything else wrong is
//!   `StoreError::Corrupt`. A last file left with no record is deleted.
//! * Index files of finished files are complete (ending with the sentinel);
//!   a missing or damaged one is rebuilt from its data file, with a warning.
//!
//! Cost: one header + one 21-byte trailer + one index file per data file,
//! plus the records of the last file after its last index entry.

use std::fs;
use std::path::Path;

use super::error::{Result, StoreError};
use super::index::{self, SparseIndex};
use super::segment::{self, SegmentMap, FILE_HEADER_LEN};
use crate::record::{self, FixedHeader, RecordError, RecordType};
use crate::seqno::Seqno;

/// What the writer knows about one data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegMeta {
    pub no: u32,
    pub base: Seqno,
    /// Highest seqno (seqno_end) of a complete transaction in the file.
    pub last: Option<Seqno>,
    /// True when the file ends with a ROTATE record.
    pub sealed: bool,
}

/// The state of a scan through records.
#[derive(Debug, Clone, Default)]
pub(crate) struct ScanState {
    /// Seqno the next transaction must have (`None`: not known).
    pub expected: Option<Seqno>,
    /// The transaction in progress: (seqno, last fragno).
    pub open: Option<(Seqno, u16)>,
    /// seqno_end of the last complete transaction.
    pub last_complete: Option<Seqno>,
    /// Offset just after the last complete transaction.
    pub complete_end: u64,
    /// Number of records seen.
    pub records: u64,
}

impl ScanState {
    pub fn at(offset: u64, expected: Option<Seqno>, last_complete: Option<Seqno>) -> ScanState {
        ScanState {
            expected,
            open: None,
            last_complete,
            complete_end: offset,
            records: 0,
        }
    }

    /// The last seqno seen (for error messages).
    pub fn last_good(&self) -> Option<Seqno> {
        self.open.map(|(s, _)| s).or(self.last_complete)
    }

    /// Applies the ordering rules to the next record; `Err` describes the
    /// violation.
    pub fn accept(&mut self, h: &FixedHeader, end: u64) -> std::result::Result<(), String> {
        match self.open {
            Some((s, f)) => {
                if h.seqno != s || h.fragno != f.wrapping_add(1) || h.seqno_end != s {
                    return Err(format!(
                        "expected seqno {s} fragno {}, found seqno {} fragno {}",
                        f.wrapping_add(1),
                        h.seqno,
                        h.fragno
                    ));
                }
            }
            None => {
                if h.fragno != 0 {
                    return Err(format!("seqno {} starts with fragno {}", h.seqno, h.fragno));
                }
                if let Some(e) = self.expected {
                    if h.seqno != e {
                        return Err(format!("expected seqno {e}, found {}", h.seqno));
                    }
                }
            }
        }
        self.records += 1;
        if h.last_frag {
            self.open = None;
            self.last_complete = Some(h.seqno_end);
            self.expected = Some(h.seqno_end + 1);
            self.complete_end = end;
        } else {
            self.open = Some((h.seqno, h.fragno));
        }
        Ok(())
    }
}

/// How a scan ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScanEnd {
    /// Clean end of the bytes.
    Eof,
    /// A ROTATE record ending the file.
    Rotate { offset: u64, last_seqno: Seqno, next: u32 },
    /// A record that may be a torn write (the last bytes of the file).
    Torn { offset: u64, reason: String },
    /// A record that is wrong for sure.
    Corrupt { offset: u64, reason: String },
}

fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// Scans `bytes` from `from` with CRC checks, applying the ordering rules.
/// With `full_header` every event header is decoded (strings included).
/// `on_event(offset, header)` is called for each accepted event.
pub(crate) fn scan(
    bytes: &[u8],
    from: u64,
    st: &mut ScanState,
    full_header: bool,
    mut on_event: impl FnMut(u64, &FixedHeader),
) -> ScanEnd {
    for item in segment::Frames::new(bytes, from, true) {
        let (off, f) = match item {
            Ok(x) => x,
            Err((off, e)) => {
                let rest = &bytes[off as usize..];
                let torn = match e {
                    RecordError::Incomplete { .. } => true,
                    RecordError::BadCrc { .. } => {
                        record::frame_len(rest).is_ok_and(|l| u64::from(l) >= rest.len() as u64)
                    }
                    RecordError::BadLength { .. } => all_zero(rest),
                    _ => false,
                };
                let reason = e.to_string();
                return if torn {
                    ScanEnd::Torn { offset: off, reason }
                } else {
                    ScanEnd::Corrupt { offset: off, reason }
                };
            }
        };
        let end = off + f.raw.len() as u64;
        match f.rtype {
            RecordType::Event => {
                let fx = match record::decode_fixed(f.payload) {
                    Ok(fx) => fx,
                    Err(e) => {
                        return ScanEnd::Corrupt {
                            offset: off,
                            reason: e.to_string(),
                        }
                    }
                };
                if full_header {
                    if let Err(e) = record::decode_event_header(f.payload) {
                        return ScanEnd::Corrupt {
                            offset: off,
                            reason: e.to_string(),
                        };
                    }
                }
                if let Err(reason) = st.accept(&fx, end) {
                    return ScanEnd::Corrupt { offset: off, reason };
                }
                on_event(off, &fx);
            }
            RecordType::Rotate => {
                let (last_seqno, next) = match record::decode_rotate(f.payload) {
                    Ok(x) => x,
                    Err(e) => {
                        return ScanEnd::Corrupt {
                            offset: off,
                            reason: e.to_string(),
                        }
                    }
                };
                if end != bytes.len() as u64 {
                    return ScanEnd::Corrupt {
                        offset: off,
                        reason: "ROTATE record is not the last record".into(),
                    };
                }
                if st.open.is_some() || st.last_complete != Some(last_seqno) {
                    return ScanEnd::Corrupt {
                        offset: off,
                        reason: format!(
                            "ROTATE names last seqno {last_seqno}, file ends at {:?} (open transaction {:?})",
                            st.last_complete, st.open
                        ),
                    };
                }
                return ScanEnd::Rotate {
                    offset: off,
                    last_seqno,
                    next,
                };
            }
        }
    }
    ScanEnd::Eof
}

/// The result of opening a log for writing.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub segments: Vec<SegMeta>,
    /// The index of the last file, when it is not sealed.
    pub tail_index: Option<SparseIndex>,
}

/// Scans a whole finished file to find why its trailer is missing.
fn diagnose(dir: &Path, no: u32, base: Seqno) -> StoreError {
    let path = segment::data_path(dir, no);
    let map = match SegmentMap::open(&path) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let mut st = ScanState::at(FILE_HEADER_LEN, Some(base), None);
    match scan(map.bytes(), FILE_HEADER_LEN, &mut st, false, |_, _| {}) {
        ScanEnd::Torn { offset, reason } | ScanEnd::Corrupt { offset, reason } => {
            StoreError::corrupt(&path, offset, st.last_good(), reason)
        }
        ScanEnd::Eof => StoreError::corrupt(
            &path,
            map.bytes().len() as u64,
            st.last_good(),
            "file ends without a ROTATE record but is not the last file (truncated?)",
        ),
        ScanEnd::Rotate { offset, next, .. } => StoreError::corrupt(
            &path,
            offset,
            st.last_good(),
            format!("ROTATE record names next file {next}, expected {}", no + 1),
        ),
    }
}

fn remove_segment(dir: &Path, no: u32) -> Result<()> {
    segment::remove_if_exists(&segment::data_path(dir, no))?;
    segment::remove_if_exists(&index::index_path(dir, no))
}

/// Opens the log in `dir` for writing (the caller holds the lock).
pub(crate) fn recover(dir: &Path, interval: u32, sync: bool) -> Result<Recovered> {
    // Leftovers of an interrupted truncation or index rewrite.
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("thl.") && (name.ends_with(".tmp") || name.ends_with(".truncating")) {
                segment::remove_if_exists(&e.path())?;
            }
        }
    }
    let mut nos = segment::list_data_files(dir)?;
    // A last file without a valid header and no records is a half-created
    // rotation: delete it (Tungsten does the same).
    while let Some(&last) = nos.last() {
        let path = segment::data_path(dir, last);
        let len = fs::metadata(&path).map_err(|e| StoreError::io(&path, e))?.len();
        if len > FILE_HEADER_LEN {
            break;
        }
        tracing::warn!(file = %path.display(), len, "deleting a THL file holding no record");
        remove_segment(dir, last)?;
        nos.pop();
    }
    let mut segments: Vec<SegMeta> = Vec::with_capacity(nos.len());
    for (i, &no) in nos.iter().enumerate() {
        let path = segment::data_path(dir, no);
        let header = segment::read_header(dir, no)?;
        if let Some(prev) = segments.last() {
            let want = prev.last.map_or(header.base_seqno, |l| l + 1);
            if header.base_seqno != want {
                return Err(StoreError::corrupt(
                    &path,
                    16,
                    prev.last,
                    format!(
                        "base seqno {} does not follow the previous file (expected {want})",
                        header.base_seqno
                    ),
                ));
            }
        }
        if i + 1 < nos.len() {
            let Some((rot_off, last, next)) = segment::read_rotate_trailer(&path)? else {
                return Err(diagnose(dir, no, header.base_seqno));
            };
            if next != no + 1 || last < header.base_seqno {
                return Err(diagnose(dir, no, header.base_seqno));
            }
            let len = rot_off + record::ROTATE_RECORD_LEN as u64;
            let loaded = index::load(dir, no, header.base_seqno, len);
            if !loaded.intact || loaded.index.sealed_at != Some(rot_off) {
                tracing::warn!(file = %index::index_path(dir, no).display(), "rebuilding a missing or damaged THL index");
                let map = SegmentMap::open(&path)?;
                let (idx, err) = index::build(map.bytes(), interval);
                if err.is_some() || idx.sealed_at != Some(rot_off) {
                    return Err(diagnose(dir, no, header.base_seqno));
                }
                index::write_full(dir, no, header.base_seqno, interval, &idx)?;
            }
            segments.push(SegMeta {
                no,
                base: header.base_seqno,
                last: Some(last),
                sealed: true,
            });
            continue;
        }
        // The last file.
        let prev_last = segments.last().and_then(|s| s.last);
        let (meta, tail_index) = recover_last(dir, no, header.base_seqno, prev_last, interval, sync)?;
        match meta {
            Some(m) => {
                segments.push(m);
                return Ok(Recovered { segments, tail_index });
            }
            None => {
                remove_segment(dir, no)?;
                return Ok(Recovered {
                    segments,
                    tail_index: None,
                });
            }
        }
    }
    Ok(Recovered {
        segments,
        tail_index: None,
    })
}

/// Recovers the last file. Returns `None` when it ends up holding no record.
fn recover_last(
    dir: &Path,
    no: u32,
    base: Seqno,
    prev_last: Option<Seqno>,
    interval: u32,
    sync: bool,
) -> Result<(Option<SegMeta>, Option<SparseIndex>)> {
    let path = segment::data_path(dir, no);
    let map = SegmentMap::open(&path)?;
    let bytes = map.bytes();
    let len = bytes.len() as u64;
    let loaded = index::load(dir, no, base, len);
    let mut idx = loaded.index;
    idx.sealed_at = None;
    // Start at the last index entry whose record really is fragment 0 of
    // its seqno; else at the file start.
    let mut start = FILE_HEADER_LEN;
    let mut last_complete = prev_last;
    if let Some(e) = idx.entries.last().copied() {
        let ok = record::parse_frame(&bytes[e.offset as usize..])
            .ok()
            .filter(|f| f.rtype == RecordType::Event)
            .and_then(|f| record::decode_fixed(f.payload).ok())
            .is_some_and(|fx| fx.seqno == e.seqno && fx.fragno == 0);
        if ok && e.seqno > base {
            start = e.offset;
            last_complete = Some(e.seqno - 1);
        } else if !ok {
            tracing::warn!(file = %index::index_path(dir, no).display(), "THL index does not match its data file; rebuilding");
            idx = SparseIndex::default();
        }
    }
    idx.cut_at(start);
    let mut st = ScanState::at(
        start,
        Some(if start == FILE_HEADER_LEN {
            base
        } else {
            last_complete.map_or(base, |l| l + 1)
        }),
        last_complete,
    );
    let mut pending = Vec::new();
    let end = scan(bytes, start, &mut st, false, |off, fx| {
        pending.push((off, fx.seqno, fx.fragno))
    });
    for (off, seqno, fragno) in pending {
        if off < st.complete_end && idx.wants(off, fragno, interval) {
            idx.entries.push(index::IndexEntry { seqno, offset: off });
        }
    }
    let mut sealed = false;
    let mut cut_reason = None;
    match end {
        ScanEnd::Eof => {
            if st.complete_end < len {
                cut_reason = Some("incomplete transaction (last fragment missing)".to_string());
            }
        }
        ScanEnd::Rotate { offset, next, .. } => {
            if next != no + 1 {
                return Err(StoreError::corrupt(
                    &path,
                    offset,
                    st.last_good(),
                    format!("ROTATE names next file {next}"),
                ));
            }
            sealed = true;
            idx.sealed_at = Some(offset);
        }
        ScanEnd::Torn { offset, reason } => {
            cut_reason = Some(format!("torn record at offset {offset}: {reason}"));
        }
        ScanEnd::Corrupt { offset, reason } => {
            return Err(StoreError::corrupt(&path, offset, st.last_good(), reason));
        }
    }
    if let Some(reason) = cut_reason {
        let first_cut = st.last_complete.map_or(base, |l| l + 1);
        let cut_through = st.open.map(|(s, _)| s);
        tracing::warn!(
            file = %path.display(),
            offset = st.complete_end,
            bytes_cut = len - st.complete_end,
            first_seqno_cut = %first_cut,
            last_seqno_cut = ?cut_through,
            %reason,
            "truncating the torn tail of the THL"
        );
        drop(map);
        segment::truncate_by_replace(&path, st.complete_end, sync)?;
    }
    if st.complete_end == FILE_HEADER_LEN {
        return Ok((None, None));
    }
    let meta = SegMeta {
        no,
        base,
        last: st.last_complete,
        sealed,
    };
    if sealed {
        index::write_full(dir, no, base, interval, &idx)?;
        Ok((Some(meta), None))
    } else {
        Ok((Some(meta), Some(idx)))
    }
}

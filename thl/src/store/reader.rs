//! Reading the log: seeking, cursors, tailing, and records as raw bytes.
//!
//! Invariants:
//!
//! * Readers never take the write lock and never modify a file. They map
//!   data files read-only and remap a file when it has grown.
//! * A record is handed out only after its frame is complete and its CRC
//!   matches. An incomplete record at the end of the log is "not yet
//!   written": `next()` returns `None` and a later call sees it. A bad
//!   record anywhere is `StoreError::Corrupt` naming file, offset and the
//!   last good seqno; corrupt bytes are never returned.
//! * A reader handed out by a `Writer` (same process) sees only records up
//!   to its watermark: the durable one by default, so nothing is served
//!   downstream before it is on disk. It waits for new data on the writer's
//!   condvar (no polling).
//! * A reader opened on a directory (`Reader::open`, e.g. in another
//!   process) sees every complete record on disk, including fragments of a
//!   transaction still being written and data not yet fsynced. It follows
//!   the writer by sleeping (1 ms doubling to 50 ms) between looks at the
//!   files, since no cross-process wakeup is shared.
//! * Seeking reads one index file and scans record headers (not bodies)
//!   from the nearest index entry.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use memmap2::Mmap;

use super::durability::{Marks, Shared};
use super::error::{Result, StoreError};
use super::index;
use super::recovery::{self, ScanEnd, ScanState};
use super::segment::{self, SegmentMap, FILE_HEADER_LEN};
use crate::event::EventHeader;
use crate::record::{self, RecordError, RecordType};
use crate::seqno::Seqno;

/// Which records an in-process reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Only transactions covered by an fdatasync (the durable watermark).
    #[default]
    Durable,
    /// Every complete transaction handed to the OS.
    Written,
}

/// One EVENT record, borrowed from a memory map (cheap to clone).
#[derive(Clone)]
pub struct RecordRef {
    map: Arc<Mmap>,
    path: Arc<PathBuf>,
    file_no: u32,
    start: usize,
    len: usize,
    body_start: usize,
    header: EventHeader,
}

impl std::fmt::Debug for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordRef")
            .field("file_no", &self.file_no)
            .field("offset", &self.start)
            .field("len", &self.len)
            .field("header", &self.header)
            .finish()
    }
}

impl RecordRef {
    fn new(map: &Arc<Mmap>, path: &Arc<PathBuf>, file_no: u32, start: usize, len: usize) -> Result<RecordRef> {
        let payload = &map[start + record::FRAME_HEADER_LEN..start + len];
        let (header, at) = record::decode_event_header(payload)
            .map_err(|e| StoreError::corrupt(path.as_path(), start as u64, None, e.to_string()))?;
        Ok(RecordRef {
            map: Arc::clone(map),
            path: Arc::clone(path),
            file_no,
            start,
            len,
            body_start: start + record::FRAME_HEADER_LEN + at,
            header,
        })
    }

    /// The whole framed record, exactly as on disk and on the wire.
    pub fn raw_bytes(&self) -> &[u8] {
        &self.map[self.start..self.start + self.len]
    }

    /// The event header.
    pub fn header(&self) -> &EventHeader {
        &self.header
    }

    /// The opaque body bytes.
    pub fn body(&self) -> &[u8] {
        &self.map[self.body_start..self.start + self.len]
    }

    /// Decodes the whole event (header and body, `codec::decode_body`).
    pub fn decode_event(&self) -> Result<crate::event::ReplEvent> {
        let body = crate::codec::decode_body(self.body()).map_err(|e| StoreError::Body {
            file: self.path.to_path_buf(),
            offset: self.start as u64,
            seqno: self.header.seqno,
            fragno: self.header.fragno,
            reason: e.to_string(),
        })?;
        Ok(crate::event::ReplEvent {
            header: self.header.clone(),
            body,
        })
    }

    /// The data file number holding the record.
    pub fn file_no(&self) -> u32 {
        self.file_no
    }

    /// The data file holding the record.
    pub fn file_path(&self) -> &Path {
        &self.path
    }

    /// Offset of the record in its file.
    pub fn offset(&self) -> u64 {
        self.start as u64
    }
}

/// One data file as tools see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub no: u32,
    pub path: PathBuf,
    /// Seqno of the first record (the header's base seqno).
    pub first_seqno: Seqno,
    /// Highest seqno of a complete transaction in the file.
    pub last_seqno: Option<Seqno>,
    pub size: u64,
    pub modified: SystemTime,
    /// True when the file is finished (ends with a ROTATE record).
    pub sealed: bool,
}

/// The log as tools see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    pub dir: PathBuf,
    pub min_seqno: Option<Seqno>,
    pub max_seqno: Option<Seqno>,
    pub files: Vec<FileInfo>,
}

/// The result of a successful `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyReport {
    pub files: usize,
    pub records: u64,
    pub min_seqno: Option<Seqno>,
    pub max_seqno: Option<Seqno>,
    /// An incomplete record or transaction at the end of the last file
    /// (being written, or to be cut by the next writer): file and offset.
    pub unfinished_tail: Option<(PathBuf, u64)>,
    /// Index problems (harmless: the writer rebuilds indexes on open).
    pub index_problems: Vec<String>,
}

#[derive(Debug)]
struct ReaderInner {
    dir: PathBuf,
    shared: Option<(Arc<Shared>, Visibility)>,
    bases: Mutex<BTreeMap<u32, Seqno>>,
}

/// A reader of one THL directory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reader {
    inner: Arc<ReaderInner>,
}

fn visible(m: &Marks, v: Visibility) -> Option<Seqno> {
    match v {
        Visibility::Durable => m.durable,
        Visibility::Written => m.written,
    }
}

impl Reader {
    /// Opens a reader on `dir` without any lock (any process).
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader> {
        let dir = dir.as_ref().to_path_buf();
        fs::metadata(&dir).map_err(|e| StoreError::io(&dir, e))?;
        Ok(Reader::new(dir, None))
    }

    pub(crate) fn new(dir: PathBuf, shared: Option<(Arc<Shared>, Visibility)>) -> Reader {
        Reader {
            inner: Arc::new(ReaderInner {
                dir,
                shared,
                bases: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The THL directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The first seqno of data file `no`. A file shorter than its header is
    /// one the writer is creating (as the cursor takes it): a transient
    /// error, not a corrupt file, so that a reader racing the creation (or a
    /// creation that failed on a full disk and is being cut) retries.
    fn base(&self, no: u32) -> Result<Seqno> {
        if let Some(b) = self.inner.bases.lock().unwrap_or_else(PoisonError::into_inner).get(&no) {
            return Ok(*b);
        }
        let path = segment::data_path(&self.inner.dir, no);
        if fs::metadata(&path).is_ok_and(|m| m.len() < FILE_HEADER_LEN) {
            let being_created = std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file is shorter than its header: the writer is creating it",
            );
            return Err(StoreError::io(path, being_created));
        }
        let b = segment::read_header(&self.inner.dir, no)?.base_seqno;
        self.inner
            .bases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(no, b);
        Ok(b)
    }

    /// The watermark limit of an in-process reader.
    fn limit(&self) -> Option<Option<Seqno>> {
        self.inner.shared.as_ref().map(|(s, v)| visible(&s.lock(), *v))
    }

    /// Lowest seqno stored.
    pub fn min_seqno(&self) -> Result<Option<Seqno>> {
        let nos = segment::list_data_files(&self.inner.dir)?;
        match nos.first() {
            Some(&no) => match self.base(no) {
                Ok(b) => Ok(Some(b)),
                // Purged under us: look again.
                Err(StoreError::Io { .. }) if !segment::data_path(&self.inner.dir, no).exists() => self.min_seqno(),
                Err(e) => Err(e),
            },
            None => Ok(None),
        }
    }

    /// Highest seqno this reader may see: the watermark for an in-process
    /// reader, else the last complete transaction on disk.
    pub fn max_seqno(&self) -> Result<Option<Seqno>> {
        match self.limit() {
            Some(l) => Ok(l),
            None => self.disk_max(),
        }
    }

    /// Last complete transaction on disk (reads the last file's index and
    /// the records after its last entry).
    fn disk_max(&self) -> Result<Option<Seqno>> {
        let nos = segment::list_data_files(&self.inner.dir)?;
        let Some(&last) = nos.last() else { return Ok(None) };
        let (l, _) = self.file_tail(last)?;
        match l {
            Some(l) => Ok(Some(l)),
            None => {
                let base = self.base(last)?;
                Ok(if nos.len() > 1 { Some(base - 1) } else { None })
            }
        }
    }

    /// Last complete seqno in file `no` and whether it is sealed.
    fn file_tail(&self, no: u32) -> Result<(Option<Seqno>, bool)> {
        let path = segment::data_path(&self.inner.dir, no);
        if let Some((_, last, _)) = segment::read_rotate_trailer(&path)? {
            return Ok((Some(last), true));
        }
        let base = self.base(no)?;
        let map = SegmentMap::open(&path)?;
        let bytes = map.bytes();
        let (start, before) = self.index_start(no, base, bytes, Seqno::MAX);
        let mut last = before;
        for item in segment::Frames::new(bytes, start, false) {
            let Ok((_, f)) = item else { break };
            if f.rtype == RecordType::Rotate {
                return Ok((last, true));
            }
            match record::decode_fixed(f.payload) {
                Ok(fx) if fx.last_frag => last = Some(fx.seqno_end),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok((last, false))
    }

    /// Where to start scanning file `no` for `seqno`: the offset of the
    /// nearest valid index entry at or below it, and the last complete
    /// seqno before that offset (when known).
    fn index_start(&self, no: u32, base: Seqno, bytes: &[u8], seqno: Seqno) -> (u64, Option<Seqno>) {
        let loaded = index::load(&self.inner.dir, no, base, bytes.len() as u64);
        if let Some(e) = loaded.index.floor(seqno) {
            let ok = record::peek_frame(&bytes[e.offset as usize..])
                .ok()
                .filter(|f| f.rtype == RecordType::Event)
                .and_then(|f| record::decode_fixed(f.payload).ok())
                .is_some_and(|fx| fx.seqno == e.seqno && fx.fragno == 0);
            if ok {
                return (e.offset, if e.seqno > base { Some(e.seqno - 1) } else { None });
            }
            tracing::warn!(file = %index::index_path(&self.inner.dir, no).display(), "THL index entry does not match the data; scanning");
        }
        (FILE_HEADER_LEN, None)
    }

    /// Finds the position of the first record of `seqno` (or of the filtered
    /// range holding it); `seqno` may be one past the last stored seqno.
    pub(crate) fn locate(&self, seqno: Seqno) -> Result<(u32, u64)> {
        self.locate_at(seqno, true)
    }

    /// As `locate`; with `containing` false, finds the first record whose
    /// seqno is >= `seqno` instead (a filtered range straddling `seqno` is
    /// skipped: used to cut the log before `seqno`).
    pub(crate) fn locate_at(&self, seqno: Seqno, containing: bool) -> Result<(u32, u64)> {
        let dir = &self.inner.dir;
        let nos = segment::list_data_files(dir)?;
        let not_found = |this: &Reader| -> Result<StoreError> {
            Ok(StoreError::SeqnoNotFound {
                dir: dir.clone(),
                seqno,
                min: this.min_seqno()?,
                max: this.max_seqno()?,
            })
        };
        if nos.is_empty() {
            return if seqno == Seqno::FIRST {
                Ok((1, FILE_HEADER_LEN))
            } else {
                Err(not_found(self)?)
            };
        }
        // Greatest file whose base <= seqno (binary search on header bases).
        let mut lo = 0usize;
        let mut hi = nos.len();
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.base(nos[mid])? <= seqno {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 {
            return Err(not_found(self)?);
        }
        let no = nos[lo - 1];
        let base = self.base(no)?;
        let path = segment::data_path(dir, no);
        let map = SegmentMap::open(&path)?;
        let bytes = map.bytes();
        let (start, before) = self.index_start(no, base, bytes, seqno);
        let mut last = before.or(if lo > 1 { Some(base - 1) } else { None });
        let mut frames = segment::Frames::new(bytes, start, false);
        for item in frames.by_ref() {
            match item {
                Ok((off, f)) => match f.rtype {
                    RecordType::Event => {
                        let fx = record::decode_fixed(f.payload)
                            .map_err(|e| StoreError::corrupt(&path, off, last, e.to_string()))?;
                        if (if containing { fx.seqno_end } else { fx.seqno }) >= seqno {
                            return Ok((no, off));
                        }
                        if fx.last_frag {
                            last = Some(fx.seqno_end);
                        }
                    }
                    RecordType::Rotate => return Ok((no + 1, FILE_HEADER_LEN)),
                },
                Err((_, RecordError::Incomplete { .. })) => break,
                Err((off, e)) => return Err(StoreError::corrupt(&path, off, last, e.to_string())),
            }
        }
        // End of the written data.
        let at_end = |l: Seqno| if containing { seqno == l + 1 } else { seqno <= l + 1 };
        if last.map_or(seqno == base, at_end) {
            return Ok((no, frames.position()));
        }
        Err(not_found(self)?)
    }

    /// A cursor positioned at the first record of `seqno`. `seqno` may be
    /// one past the last stored seqno (to tail the log).
    pub fn cursor(&self, seqno: Seqno) -> Result<Cursor> {
        let (no, pos) = self.locate(seqno)?;
        let mut c = Cursor {
            reader: self.clone(),
            no,
            pos,
            map: None,
            want: seqno,
            last_good: None,
        };
        c.open_map()?;
        Ok(c)
    }

    /// Waits until `seqno` is visible to this reader (true) or `timeout`
    /// passes (false). In-process readers wait on the writer's condvar;
    /// others sleep between looks at the files.
    pub fn wait_for(&self, seqno: Seqno, timeout: Duration) -> Result<bool> {
        if let Some((s, v)) = &self.inner.shared {
            let v = *v;
            return Ok(s.wait_until(timeout, |m| visible(m, v).is_some_and(|x| x >= seqno)));
        }
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_millis(1);
        loop {
            match self.disk_max() {
                Ok(max) if max.is_some_and(|x| x >= seqno) => return Ok(true),
                Ok(_) => {}
                // The writer is creating the last file (see `base`): wait.
                Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            std::thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }

    /// Files, their seqno ranges, sizes and modification times.
    pub fn info(&self) -> Result<LogInfo> {
        let nos = segment::list_data_files(&self.inner.dir)?;
        let mut files = Vec::with_capacity(nos.len());
        for no in nos {
            let path = segment::data_path(&self.inner.dir, no);
            let meta = fs::metadata(&path).map_err(|e| StoreError::io(&path, e))?;
            let first_seqno = self.base(no)?;
            let (last_seqno, sealed) = self.file_tail(no)?;
            files.push(FileInfo {
                no,
                path,
                first_seqno,
                last_seqno,
                size: meta.len(),
                modified: meta.modified().map_err(|e| StoreError::io(&self.inner.dir, e))?,
                sealed,
            });
        }
        Ok(LogInfo {
            dir: self.inner.dir.clone(),
            min_seqno: files.first().map(|f| f.first_seqno),
            max_seqno: self.max_seqno()?,
            files,
        })
    }

    /// The records of data file `no`, in order (for `thl list -file`).
    pub fn file_records(&self, no: u32) -> Result<FileRecords> {
        let path = segment::data_path(&self.inner.dir, no);
        segment::read_header(&self.inner.dir, no)?;
        let map = SegmentMap::open(&path)?;
        Ok(FileRecords {
            map: Arc::clone(map.map()),
            path: Arc::new(path),
            no,
            pos: FILE_HEADER_LEN,
            done: false,
            last_good: None,
        })
    }

    /// Checks every record of every file: frame and CRC, header decodable,
    /// seqno and fragment order, file headers, ROTATE trailers, and index
    /// entries. Returns the first problem as `StoreError::Corrupt`.
    pub fn verify(&self) -> Result<VerifyReport> {
        let dir = &self.inner.dir;
        let nos = segment::list_data_files(dir)?;
        let mut rep = VerifyReport {
            files: nos.len(),
            ..VerifyReport::default()
        };
        let mut prev_last: Option<Seqno> = None;
        for (i, &no) in nos.iter().enumerate() {
            let path = segment::data_path(dir, no);
            let base = segment::read_header(dir, no)?.base_seqno;
            if i > 0 && prev_last.map(|l| l + 1) != Some(base) {
                return Err(StoreError::corrupt(
                    &path,
                    16,
                    prev_last,
                    format!("base seqno {base} does not follow the previous file"),
                ));
            }
            if i == 0 {
                rep.min_seqno = Some(base);
            }
            let map = SegmentMap::open(&path)?;
            let mut st = ScanState::at(FILE_HEADER_LEN, Some(base), prev_last);
            let end = recovery::scan(map.bytes(), FILE_HEADER_LEN, &mut st, true, |_, _| {});
            rep.records += st.records;
            let is_last = i + 1 == nos.len();
            match end {
                ScanEnd::Rotate { offset, next, .. } => {
                    if next != no + 1 {
                        return Err(StoreError::corrupt(
                            &path,
                            offset,
                            st.last_good(),
                            format!("ROTATE names next file {next}"),
                        ));
                    }
                }
                ScanEnd::Eof if is_last => {
                    if st.open.is_some() {
                        rep.unfinished_tail = Some((path.clone(), st.complete_end));
                    }
                }
                ScanEnd::Eof => {
                    return Err(StoreError::corrupt(
                        &path,
                        map.bytes().len() as u64,
                        st.last_good(),
                        "file ends without a ROTATE record but is not the last file (truncated?)",
                    ))
                }
                ScanEnd::Torn { offset, .. } if is_last => rep.unfinished_tail = Some((path.clone(), offset)),
                ScanEnd::Torn { offset, reason } | ScanEnd::Corrupt { offset, reason } => {
                    return Err(StoreError::corrupt(&path, offset, st.last_good(), reason))
                }
            }
            let loaded = index::load(dir, no, base, map.bytes().len() as u64);
            for e in &loaded.index.entries {
                let ok = record::peek_frame(&map.bytes()[e.offset as usize..])
                    .ok()
                    .and_then(|f| record::decode_fixed(f.payload).ok())
                    .is_some_and(|fx| fx.seqno == e.seqno && fx.fragno == 0);
                if !ok {
                    rep.index_problems.push(format!(
                        "{}: entry for seqno {} at offset {} does not match",
                        index::index_path(dir, no).display(),
                        e.seqno,
                        e.offset
                    ));
                    break;
                }
            }
            if !loaded.intact && (!is_last || loaded.index.entries.is_empty()) {
                rep.index_problems.push(format!(
                    "{}: missing, damaged or incomplete",
                    index::index_path(dir, no).display()
                ));
            }
            prev_last = st.last_complete.or(prev_last);
            rep.max_seqno = st.last_complete.or(rep.max_seqno);
        }
        Ok(rep)
    }
}

/// Iterator over the EVENT records of one file; stops at the end of the
/// file, at an incomplete last record (not yet written), or after the first
/// error.
#[derive(Debug)]
pub struct FileRecords {
    map: Arc<Mmap>,
    path: Arc<PathBuf>,
    no: u32,
    pos: u64,
    done: bool,
    last_good: Option<Seqno>,
}

impl Iterator for FileRecords {
    type Item = Result<RecordRef>;

    fn next(&mut self) -> Option<Result<RecordRef>> {
        if self.done {
            return None;
        }
        let rest = self.map.get(self.pos as usize..).unwrap_or(&[]);
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        match record::parse_frame(rest) {
            Ok(f) if f.rtype == RecordType::Event => {
                let r = RecordRef::new(&self.map, &self.path, self.no, self.pos as usize, f.raw.len());
                self.pos += f.raw.len() as u64;
                if let Ok(r) = &r {
                    self.last_good = Some(r.header.seqno);
                } else {
                    self.done = true;
                }
                Some(r)
            }
            Ok(_) => {
                self.done = true;
                None
            }
            Err(e @ RecordError::Incomplete { .. }) => {
                self.done = true;
                // Tolerated only at the end of the last file.
                let dir = self.path.parent().unwrap_or(Path::new("."));
                if segment::data_path(dir, self.no + 1).exists() {
                    return Some(Err(StoreError::corrupt(
                        self.path.as_path(),
                        self.pos,
                        self.last_good,
                        e.to_string(),
                    )));
                }
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(StoreError::corrupt(
                    self.path.as_path(),
                    self.pos,
                    self.last_good,
                    e.to_string(),
                )))
            }
        }
    }
}

/// A position in the log that yields records in order.
#[derive(Debug)]
pub struct Cursor {
    reader: Reader,
    no: u32,
    pos: u64,
    map: Option<(SegmentMap, Arc<PathBuf>)>,
    /// The seqno of the next record wanted (for waits).
    want: Seqno,
    last_good: Option<Seqno>,
}

impl Cursor {
    /// (file number, offset) of the next record.
    pub fn position(&self) -> (u32, u64) {
        (self.no, self.pos)
    }

    /// Maps the current file if it exists; Ok(false) when it does not yet.
    fn open_map(&mut self) -> Result<bool> {
        if self.map.is_some() {
            return Ok(true);
        }
        let path = segment::data_path(&self.reader.inner.dir, self.no);
        if !path.exists() {
            return Ok(false);
        }
        if fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < FILE_HEADER_LEN {
            return Ok(false); // being created
        }
        segment::read_header(&self.reader.inner.dir, self.no)?;
        let map = SegmentMap::open(&path)?;
        self.map = Some((map, Arc::new(path)));
        Ok(true)
    }

    /// The next record, or `None` when none is available yet.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<RecordRef>> {
        let limit = self.reader.limit();
        if let Some(l) = limit {
            if l.is_none_or(|l| self.want > l) {
                return Ok(None);
            }
        }
        let mut refreshed = false;
        loop {
            if !self.open_map()? {
                return Ok(None);
            }
            let Some((map, path)) = self.map.as_mut() else {
                return Ok(None);
            };
            let rest = map.bytes().get(self.pos as usize..).unwrap_or(&[]);
            match record::parse_frame(rest) {
                Ok(f) if f.rtype == RecordType::Rotate => {
                    self.no += 1;
                    self.pos = FILE_HEADER_LEN;
                    self.map = None;
                    refreshed = false;
                }
                Ok(f) => {
                    let r = RecordRef::new(map.map(), path, self.no, self.pos as usize, f.raw.len())?;
                    let h = &r.header;
                    if let Some(l) = limit {
                        if l.is_none_or(|l| h.seqno > l) {
                            return Ok(None);
                        }
                    }
                    let len = f.raw.len() as u64;
                    // Far enough behind what this cursor reads.
                    map.release_behind(self.pos as usize);
                    self.pos += len;
                    self.want = if h.last_frag { h.seqno_end + 1 } else { h.seqno };
                    self.last_good = Some(h.seqno);
                    return Ok(Some(r));
                }
                Err(e @ RecordError::Incomplete { .. }) => {
                    if refreshed || !map.refresh()? {
                        // Not yet written, unless a later file exists: then
                        // this file is finished and the record is damaged.
                        if segment::data_path(&self.reader.inner.dir, self.no + 1).exists() {
                            map.refresh()?;
                            if record::parse_frame(map.bytes().get(self.pos as usize..).unwrap_or(&[])).is_err() {
                                return Err(StoreError::corrupt(
                                    path.as_path(),
                                    self.pos,
                                    self.last_good,
                                    e.to_string(),
                                ));
                            }
                            continue;
                        }
                        return Ok(None);
                    }
                    refreshed = true;
                }
                Err(e) => {
                    return Err(StoreError::corrupt(
                        path.as_path(),
                        self.pos,
                        self.last_good,
                        e.to_string(),
                    ));
                }
            }
        }
    }

    /// The next record, waiting up to `timeout` for one to be written.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<RecordRef>> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_millis(1);
        loop {
            if let Some(r) = self.next()? {
                return Ok(Some(r));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            if let Some((s, v)) = &self.reader.inner.shared {
                let (v, want) = (*v, self.want);
                if s.wait_until(deadline - now, |m| visible(m, v).is_some_and(|x| x >= want)) {
                    continue;
                }
                if Instant::now() >= deadline {
                    return Ok(None);
                }
            }
            // Another process's writer (or ours closed): look again later.
            std::thread::sleep(nap.min(deadline.saturating_duration_since(Instant::now())));
            nap = (nap * 2).min(Duration::from_millis(50));
        }
    }
}

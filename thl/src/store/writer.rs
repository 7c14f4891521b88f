//! The single writer of a THL directory: appends, rotation, group commit,
//! purge and retention.
//!
//! Invariants:
//!
//! * Appends are ordered: the first record of a transaction has fragno 0
//!   and seqno = max stored + 1 (any seqno >= 0 on an empty log); the next
//!   fragments have the same seqno and fragno + 1; a filtered range is one
//!   record `seqno..=seqno_end` (fragno 0, last_frag). Anything else is
//!   `StoreError::Rejected` and changes nothing.
//! * Rotation happens only before a fragno 0 record, when the active file
//!   has reached `file_size`: all fragments of a seqno are in one file, and
//!   a file may overshoot the size by one transaction. The old file gets a
//!   ROTATE record and is fdatasynced before the new file is created.
//! * Appends go to a buffer; `commit()` writes it to the OS and, under
//!   `SyncPolicy::EveryCommit`, fdatasyncs once for everything appended
//!   since the last commit (group commit), then advances the durable
//!   watermark and wakes in-process readers.
//! * A long transaction (its fragments reach the OS before its commit)
//!   asks the OS to start writing each further `WRITEBACK_EVERY` bytes to
//!   the device (`StoreIo::start_writeback`, a hint), so the commit's
//!   fdatasync waits for less; only the fdatasync makes anything durable.
//! * Any I/O error while writing or syncing poisons the writer and cuts the
//!   active file back to what the last successful fdatasync covered (a file
//!   no fdatasync covered is removed): after a failed fdatasync the kernel
//!   may have dropped the pages, so the bytes after it are unknown even if
//!   they read back. `recover()` (or reopening) then continues from the
//!   durable end; the caller re-extracts or re-fetches what was cut, which
//!   no reader was shown (readers see the durable watermark at most).
//! * Writes, fdatasyncs and file creation go through `StoreConfig::io`
//!   (`io.rs`), the seam where tests make the disk fail.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::SystemTime;

use super::durability::{self, Shared};
use super::error::{Result, StoreError};
use super::index::{self, IndexAppender};
use super::lock::DirLock;
use super::reader::{Reader, Visibility};
use super::recovery::{self, SegMeta};
use super::retention::{self, Candidate, PurgeReport, Retention};
use super::segment::{self, FILE_HEADER_LEN};
use super::{StoreConfig, SyncPolicy};
use crate::event::EventHeader;
use crate::faults;
use crate::record::{self, FixedHeader, RecordType};
use crate::seqno::Seqno;

#[derive(Debug)]
struct Active {
    no: u32,
    path: PathBuf,
    file: Arc<File>,
    buf: Vec<u8>,
    /// Length including buffered bytes.
    len: u64,
    index: IndexAppender,
    /// Created by this writer: an I/O error before its first fdatasync
    /// removes it (a file found on open is never removed).
    created: bool,
    /// Where writeback was last started or an fdatasync covered: bytes
    /// after it that are written to the OS are not yet on their way to the
    /// device.
    kicked: u64,
}

impl Active {
    /// Bytes handed to the OS (the rest of `len` is buffered).
    fn written(&self) -> u64 {
        self.len - self.buf.len() as u64
    }
}

/// Bytes a transaction writes to the OS between two starts of writeback
/// (`StoreIo::start_writeback`).
const WRITEBACK_EVERY: u64 = 1 << 20;

/// The single writer of a THL directory (see the module invariants).
#[derive(Debug)]
pub struct Writer {
    cfg: StoreConfig,
    shared: Arc<Shared>,
    lock: DirLock,
    segments: Vec<SegMeta>,
    active: Option<Active>,
    /// seqno_end of the last complete transaction.
    complete: Option<Seqno>,
    /// The transaction being appended: (seqno, last fragno).
    open: Option<(Seqno, u16)>,
    /// Bytes written to the OS since the last fdatasync.
    unsynced: bool,
    /// A reused buffer: the record being framed.
    scratch: Vec<u8>,
    syncer: Option<JoinHandle<()>>,
}

impl Writer {
    /// Opens (creating the directory if needed) the log for writing: takes
    /// the lock, then recovers (see `recovery`).
    pub fn open(cfg: StoreConfig) -> Result<Writer> {
        if cfg.file_size == 0 || cfg.index_interval == 0 {
            return Err(StoreError::InvalidArgument(
                "file_size and index_interval must be > 0".into(),
            ));
        }
        super::private::create_dir(&cfg.dir).map_err(|e| StoreError::io(&cfg.dir, e))?;
        let lock = DirLock::acquire(&cfg.dir)?;
        let shared = Arc::new(Shared::new(cfg.dir.clone(), None));
        let mut w = Writer {
            cfg,
            shared,
            lock,
            segments: Vec::new(),
            active: None,
            complete: None,
            open: None,
            unsynced: false,
            scratch: Vec::new(),
            syncer: None,
        };
        w.load()?;
        if let SyncPolicy::Interval(every) = w.cfg.sync {
            let h = durability::spawn_syncer(Arc::clone(&w.shared), every, Arc::clone(&w.cfg.io.0))
                .map_err(|e| StoreError::io(&w.cfg.dir, e))?;
            w.syncer = Some(h);
        }
        Ok(w)
    }

    /// (Re)builds the in-memory state from the files (recovery).
    fn load(&mut self) -> Result<()> {
        let rec = recovery::recover(
            &self.cfg.dir,
            self.cfg.index_interval,
            self.cfg.sync != SyncPolicy::Never,
        )?;
        self.segments = rec.segments;
        self.active = None;
        self.open = None;
        self.unsynced = false;
        self.complete = self.segments.iter().rev().find_map(|s| s.last);
        if let (Some(last), Some(idx)) = (self.segments.last(), rec.tail_index) {
            let path = segment::data_path(&self.cfg.dir, last.no);
            let file = fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(|e| StoreError::io(&path, e))?;
            let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
            let index = IndexAppender::start(&self.cfg.dir, last.no, last.base, self.cfg.index_interval, idx)?;
            let file = Arc::new(file);
            // What recovery kept counts as synced (it is fdatasynced below).
            let mut m = self.shared.lock();
            m.active = Some((last.no, Arc::clone(&file)));
            m.synced = Some((last.no, len));
            drop(m);
            self.active = Some(Active {
                no: last.no,
                path,
                file,
                buf: Vec::new(),
                len,
                index,
                created: false,
                kicked: len,
            });
        }
        // What recovery kept is on disk; make sure it is durable.
        if self.cfg.sync != SyncPolicy::Never {
            if let Some(a) = &self.active {
                self.cfg
                    .io
                    .0
                    .sync_data(&a.file)
                    .map_err(|e| StoreError::io(&a.path, e))?;
            }
            segment::sync_dir(&self.cfg.dir)?;
        }
        let mut m = self.shared.lock();
        m.written = self.complete;
        m.durable = self.complete;
        m.poisoned = None;
        if self.active.is_none() {
            m.active = None;
        }
        drop(m);
        self.shared.notify();
        Ok(())
    }

    /// The THL directory.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// The lock file held.
    pub fn lock_path(&self) -> &Path {
        self.lock.path()
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Lowest seqno stored.
    pub fn min_seqno(&self) -> Option<Seqno> {
        self.segments.first().map(|s| s.base)
    }

    /// Highest seqno of a complete transaction appended (durable or not).
    pub fn max_seqno(&self) -> Option<Seqno> {
        self.complete
    }

    /// The durable watermark: highest seqno known to be on disk.
    pub fn durable_seqno(&self) -> Option<Seqno> {
        self.shared.lock().durable
    }

    /// A reader in this process, seeing records up to the durable watermark
    /// (`Visibility::Durable`) or up to what was written to the OS.
    pub fn reader(&self, visibility: Visibility) -> Reader {
        Reader::new(self.cfg.dir.clone(), Some((Arc::clone(&self.shared), visibility)))
    }

    fn rejected(&self, h: &FixedHeader, reason: String) -> StoreError {
        StoreError::Rejected {
            dir: self.cfg.dir.clone(),
            seqno: h.seqno,
            fragno: h.fragno,
            reason,
        }
    }

    /// Refuses to write after an I/O error (also one of the background
    /// syncer, which leaves the cut to the writer).
    fn check_poison(&mut self) -> Result<()> {
        let Some(reason) = self.shared.lock().poisoned.clone() else {
            return Ok(());
        };
        self.cut_unsynced();
        Err(StoreError::Poisoned {
            dir: self.cfg.dir.clone(),
            reason,
        })
    }

    /// Whether an I/O error stopped the writer (see [`Writer::recover`]).
    pub fn is_poisoned(&self) -> bool {
        self.shared.lock().poisoned.is_some()
    }

    /// Continues after an I/O error: rebuilds the state from the files
    /// (recovery; the log was cut back to its durable end when the error
    /// happened) and clears the poison. Appends resume after
    /// [`max_seqno`](Writer::max_seqno), which may be lower than before.
    pub fn recover(&mut self) -> Result<()> {
        self.load()
    }

    fn poison<T>(&mut self, e: StoreError) -> Result<T> {
        let first = {
            let mut m = self.shared.lock();
            let first = m.poisoned.is_none();
            m.poisoned.get_or_insert_with(|| e.to_string());
            first
        };
        if first {
            self.cut_unsynced();
        }
        Err(e)
    }

    /// Cuts the active file back to what the last successful fdatasync
    /// covered, or removes it if none did (module invariants), and forgets
    /// it. Best effort: a failure is logged and left to recovery.
    fn cut_unsynced(&mut self) {
        let Some(a) = self.active.take() else { return };
        let synced = {
            let mut m = self.shared.lock();
            m.active = None;
            m.synced.filter(|(no, _)| *no == a.no).map(|(_, len)| len)
        };
        let res = match synced {
            Some(len) => a.file.set_len(len).and_then(|()| a.file.sync_data()).map(|()| len),
            None if !a.created => {
                tracing::error!(file = %a.path.display(), "THL I/O error before the file's first fdatasync; left to recovery");
                return;
            }
            None => fs::remove_file(&a.path)
                .and_then(|()| {
                    let _ = fs::remove_file(index::index_path(&self.cfg.dir, a.no));
                    File::open(&self.cfg.dir).and_then(|d| d.sync_all())
                })
                .map(|()| 0),
        };
        match res {
            Ok(len) => tracing::warn!(file = %a.path.display(), kept_bytes = len, was_bytes = a.len,
                "THL I/O error: the file is cut back to its last fdatasync"),
            Err(e) => tracing::error!(file = %a.path.display(), error = %e,
                "THL I/O error: cutting the file back to its last fdatasync failed (recovery will cut a torn tail on open)"),
        }
    }

    fn check_order(&self, h: &FixedHeader) -> Result<()> {
        match (self.open, self.complete) {
            (Some((s, f)), _) => {
                if h.seqno != s || h.fragno != f.wrapping_add(1) || h.seqno_end != h.seqno {
                    return Err(self.rejected(
                        h,
                        format!(
                            "transaction {s} is open at fragno {f}: expected seqno {s} fragno {}",
                            f.wrapping_add(1)
                        ),
                    ));
                }
            }
            (None, Some(max)) => {
                if h.seqno <= max {
                    return Err(self.rejected(h, format!("seqno is not above the max stored seqno {max}")));
                }
                if h.seqno != max + 1 {
                    return Err(self.rejected(h, format!("gap: the next seqno must be {}", max + 1)));
                }
                if h.fragno != 0 {
                    return Err(self.rejected(h, "a transaction must start at fragno 0".into()));
                }
            }
            (None, None) => {
                if h.fragno != 0 {
                    return Err(self.rejected(h, "a transaction must start at fragno 0".into()));
                }
            }
        }
        Ok(())
    }

    /// Appends one event record: `header` and the opaque, already encoded
    /// `body`. Buffered until `commit()`.
    pub fn append(&mut self, header: &EventHeader, body: &[u8]) -> Result<()> {
        self.append_with(header, |out| out.extend_from_slice(body))
    }

    /// Appends one event, its body encoded straight into the record.
    pub fn append_event(&mut self, event: &crate::event::ReplEvent) -> Result<()> {
        self.append_with(&event.header, |out| crate::codec::encode_body(&event.body, out))
    }

    fn append_with(&mut self, header: &EventHeader, body: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let res = record::encode_event_with(header, &mut buf, body)
            .map_err(|e| StoreError::Rejected {
                dir: self.cfg.dir.clone(),
                seqno: header.seqno,
                fragno: header.fragno,
                reason: e.to_string(),
            })
            .and_then(|()| {
                let fx = record::decode_fixed(&buf[record::FRAME_HEADER_LEN..]).map_err(|e| StoreError::BadRecord {
                    dir: self.cfg.dir.clone(),
                    source: e,
                })?;
                self.append_frame(&buf, &fx)
            });
        self.scratch = buf;
        res
    }

    /// Appends a whole framed record received from another THL (a relay),
    /// verbatim, after checking its frame, CRC, header and order.
    pub fn append_raw(&mut self, raw: &[u8]) -> Result<()> {
        let bad = |e| StoreError::BadRecord {
            dir: self.cfg.dir.clone(),
            source: e,
        };
        let f = record::parse_frame(raw).map_err(bad)?;
        if f.raw.len() != raw.len() {
            return Err(bad(record::RecordError::Malformed {
                what: "raw record (trailing bytes)",
            }));
        }
        if f.rtype != RecordType::Event {
            return Err(bad(record::RecordError::Malformed {
                what: "raw record (not an EVENT)",
            }));
        }
        record::decode_event_header(f.payload).map_err(bad)?;
        let fx = record::decode_fixed(f.payload).map_err(bad)?;
        self.append_frame(raw, &fx)
    }

    fn append_frame(&mut self, raw: &[u8], fx: &FixedHeader) -> Result<()> {
        self.check_poison()?;
        self.check_order(fx)?;
        if fx.fragno == 0 && self.active.as_ref().is_some_and(|a| a.len >= self.cfg.file_size) {
            self.rotate()?;
        }
        if self.active.is_none() {
            self.new_segment(fx.seqno)?;
        }
        let cap = self.cfg.write_buffer;
        let Some(a) = self.active.as_mut() else {
            return Err(StoreError::InvalidArgument("no active THL file".into()));
        };
        a.index.note(a.len, fx.seqno, fx.fragno);
        let mut res = Ok(());
        if a.buf.len() + raw.len() > cap && !a.buf.is_empty() {
            res = self.cfg.io.0.write_all(&a.file, &a.buf);
            a.buf.clear();
        }
        if res.is_ok() {
            if raw.len() >= cap {
                res = self.cfg.io.0.write_all(&a.file, raw);
            } else {
                a.buf.extend_from_slice(raw);
            }
        }
        a.len += raw.len() as u64;
        if let Err(e) = res {
            let e = StoreError::io(&a.path, e);
            return self.poison(e);
        }
        // A long transaction: what it wrote to the OS starts on its way to
        // the device now, so the commit's fdatasync waits for less.
        let written = a.written();
        if self.cfg.sync != SyncPolicy::Never && written.saturating_sub(a.kicked) >= WRITEBACK_EVERY {
            self.cfg.io.0.start_writeback(&a.file, a.kicked, written - a.kicked);
            a.kicked = written;
        }
        if fx.last_frag {
            self.open = None;
            self.complete = Some(fx.seqno_end);
            if let Some(s) = self.segments.last_mut() {
                s.last = Some(fx.seqno_end);
            }
        } else {
            self.open = Some((fx.seqno, fx.fragno));
        }
        Ok(())
    }

    /// Writes buffered records and index entries to the OS.
    fn flush(&mut self) -> Result<()> {
        let Some(a) = self.active.as_mut() else { return Ok(()) };
        if !a.buf.is_empty() {
            if faults::fires(faults::THL_TORN_WRITE) {
                let _ = self.cfg.io.0.write_all(&a.file, &a.buf[..a.buf.len().div_ceil(2)]);
                faults::die(faults::THL_TORN_WRITE);
            }
            let res = self.cfg.io.0.write_all(&a.file, &a.buf);
            a.buf.clear();
            self.unsynced = true;
            if let Err(e) = res {
                let e = StoreError::io(&a.path, e);
                return self.poison(e);
            }
        }
        if let Err(e) = a.index.flush() {
            tracing::warn!(error = %e, "THL index write failed (it will be rebuilt on open)");
        }
        Ok(())
    }

    fn sync_active(&mut self) -> Result<()> {
        if let Some(a) = &mut self.active {
            if let Err(e) = self.cfg.io.0.sync_data(&a.file) {
                let e = StoreError::io(&a.path, e);
                return self.poison(e);
            }
            self.shared.lock().synced = Some((a.no, a.len));
            a.kicked = a.written();
        }
        self.unsynced = false;
        Ok(())
    }

    /// Ends a group of appends: writes them to the OS, syncs according to
    /// the policy, advances the watermarks and wakes readers. Only complete
    /// transactions count toward the watermarks.
    pub fn commit(&mut self) -> Result<()> {
        self.check_poison()?;
        self.flush()?;
        faults::crash_point(faults::THL_BEFORE_SYNC);
        let durable_now = match self.cfg.sync {
            SyncPolicy::EveryCommit => {
                if self.unsynced {
                    self.sync_active()?;
                }
                true
            }
            SyncPolicy::Interval(_) => false,
            SyncPolicy::Never => true,
        };
        let mut m = self.shared.lock();
        m.written = self.complete;
        if durable_now {
            m.durable = self.complete;
            if let Some(a) = &self.active {
                m.synced = Some((a.no, a.len));
            }
        }
        drop(m);
        self.shared.notify();
        Ok(())
    }

    /// Writes and fdatasyncs everything appended, whatever the policy.
    pub fn sync(&mut self) -> Result<()> {
        self.check_poison()?;
        self.flush()?;
        self.sync_active()?;
        let mut m = self.shared.lock();
        m.written = self.complete;
        m.durable = self.complete;
        drop(m);
        self.shared.notify();
        Ok(())
    }

    fn rotate(&mut self) -> Result<()> {
        let Some(last) = self.segments.last().and_then(|s| s.last) else {
            return Ok(());
        };
        let Some(no) = self.active.as_ref().map(|a| a.no) else {
            return Ok(());
        };
        let mut rot = Vec::with_capacity(record::ROTATE_RECORD_LEN);
        record::encode_rotate(last, no + 1, &mut rot);
        if let Some(a) = self.active.as_mut() {
            a.index.seal(a.len);
            a.buf.extend_from_slice(&rot);
            a.len += rot.len() as u64;
        }
        self.flush()?;
        if self.cfg.sync != SyncPolicy::Never {
            self.sync_active()?;
        }
        if let Some(s) = self.segments.last_mut() {
            s.sealed = true;
        }
        self.active = None;
        Ok(())
    }

    fn new_segment(&mut self, base: Seqno) -> Result<()> {
        let no = self.segments.last().map_or(1, |s| s.no + 1);
        let path = segment::data_path(&self.cfg.dir, no);
        let file = match segment::create_data_file(&self.cfg.dir, no, base, &*self.cfg.io.0) {
            Ok(f) => f,
            Err(e) => return self.poison(e),
        };
        let index = IndexAppender::start(
            &self.cfg.dir,
            no,
            base,
            self.cfg.index_interval,
            index::SparseIndex::default(),
        )?;
        if self.cfg.sync != SyncPolicy::Never {
            segment::sync_dir(&self.cfg.dir)?;
        }
        let file = Arc::new(file);
        self.shared.lock().active = Some((no, Arc::clone(&file)));
        self.segments.push(SegMeta {
            no,
            base,
            last: None,
            sealed: false,
        });
        self.active = Some(Active {
            no,
            path,
            file,
            buf: Vec::new(),
            len: FILE_HEADER_LEN,
            index,
            created: true,
            kicked: 0,
        });
        self.unsynced = true;
        Ok(())
    }

    fn candidates(&self) -> Result<Vec<Candidate>> {
        self.segments
            .iter()
            .map(|s| {
                let path = segment::data_path(&self.cfg.dir, s.no);
                let meta = fs::metadata(&path).map_err(|e| StoreError::io(&path, e))?;
                let mtime = meta.modified().map_err(|e| StoreError::io(&path, e))?;
                Ok(Candidate {
                    last: s.last,
                    size: meta.len(),
                    mtime,
                })
            })
            .collect()
    }

    fn delete_front(&mut self, n: usize) -> Result<Vec<PathBuf>> {
        let mut deleted = Vec::new();
        for s in self.segments.drain(..n) {
            let path = segment::data_path(&self.cfg.dir, s.no);
            faults::crash_point(faults::THL_BEFORE_SEGMENT_DELETE);
            segment::remove_if_exists(&path)?;
            segment::remove_if_exists(&index::index_path(&self.cfg.dir, s.no))?;
            tracing::info!(file = %path.display(), first = %s.base, last = ?s.last, "purged THL file");
            deleted.push(path);
        }
        Ok(deleted)
    }

    fn report(&self, deleted: Vec<PathBuf>, truncated: Option<(PathBuf, u64)>) -> PurgeReport {
        PurgeReport {
            deleted,
            truncated,
            min_seqno: self.min_seqno(),
            max_seqno: self.max_seqno(),
        }
    }

    /// Removes the seqnos `low..=high` from the log. The range must include
    /// one end of the log (`low <= min` or `high >= max`).
    ///
    /// * Bottom purge (`low <= min`): deletes whole files, oldest first,
    ///   whose seqnos are all `<= high` and `< still_needed`; never the
    ///   active (last) file. A file straddling `high` is kept whole.
    /// * Top purge (`high >= max`, `low > min`): a tail rollback. Requires
    ///   `still_needed > max`. Deletes the files holding only seqnos >=
    ///   `low` and cuts the file holding `low` just before its record (a
    ///   filtered range straddling `low` is kept whole); the previous file
    ///   becomes the active one.
    pub fn purge(&mut self, low: Seqno, high: Seqno, still_needed: Seqno) -> Result<PurgeReport> {
        self.check_poison()?;
        if low > high {
            return Err(StoreError::InvalidArgument(format!(
                "purge range {low}..={high} is empty"
            )));
        }
        let (Some(min), Some(max)) = (self.min_seqno(), self.max_seqno()) else {
            return Ok(self.report(Vec::new(), None));
        };
        if low <= min {
            let n = retention::plan_bottom_purge(&self.candidates()?, high, still_needed);
            let deleted = self.delete_front(n)?;
            return Ok(self.report(deleted, None));
        }
        if high < max {
            return Err(StoreError::InvalidArgument(format!(
                "purge range {low}..={high} must include one end of the log {min}..={max}"
            )));
        }
        if still_needed <= max {
            return Err(StoreError::InvalidArgument(format!(
                "top purge from {low} would remove seqnos still needed (from {still_needed})"
            )));
        }
        if self.open.is_some() {
            return Err(StoreError::InvalidArgument(
                "cannot purge while a transaction is open".into(),
            ));
        }
        self.sync()?;
        let (no, off) = self.reader(Visibility::Written).locate_at(low, false)?;
        self.active = None;
        self.shared.lock().active = None;
        let mut deleted = Vec::new();
        for s in self.segments.iter().rev().filter(|s| s.no > no) {
            let path = segment::data_path(&self.cfg.dir, s.no);
            segment::remove_if_exists(&path)?;
            segment::remove_if_exists(&index::index_path(&self.cfg.dir, s.no))?;
            deleted.push(path);
        }
        let path = segment::data_path(&self.cfg.dir, no);
        let mut truncated = None;
        if path.exists() {
            segment::truncate_by_replace(&path, off, self.cfg.sync != SyncPolicy::Never)?;
            truncated = Some((path, off));
        }
        tracing::warn!(dir = %self.cfg.dir.display(), low = %low, "THL tail purged");
        self.load()?;
        Ok(self.report(deleted, truncated))
    }

    /// Applies the retention policy at time `now`: deletes the oldest files
    /// that are too old or make the log too large, never one holding a
    /// seqno >= `still_needed`, never the active file.
    pub fn apply_retention(&mut self, r: &Retention, still_needed: Seqno, now: SystemTime) -> Result<PurgeReport> {
        let n = retention::plan_retention(&self.candidates()?, r, still_needed, now);
        let deleted = self.delete_front(n)?;
        Ok(self.report(deleted, None))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let res = if self.cfg.sync == SyncPolicy::Never {
            self.commit()
        } else {
            self.sync()
        };
        if let Err(e) = res {
            tracing::warn!(dir = %self.cfg.dir.display(), error = %e, "THL writer closed with an error");
        }
        self.shared.lock().closed = true;
        self.shared.notify();
        if let Some(h) = self.syncer.take() {
            let _ = h.join();
        }
    }
}

//! The writer's file operations behind one seam, so that tests can make
//! the disk fail (faults F4 and F13 of `FAULTS.md`): [`StoreIo`] with the
//! real implementation ([`RealIo`]) and a failing one ([`FaultyIo`]).
//!
//! Only the operations whose failure the writer must survive go through
//! it: writing record bytes, fdatasync, creating a data file. Reads (mmap),
//! the lock, the index and directory syncs use the file system directly.
//!
//! Invariant of every implementation: an `Err` may follow a partial write
//! (as `write(2)` does on a full disk); the writer treats any error as
//! "the bytes after the last successful fdatasync are unknown" (see
//! `writer`: the log is cut back to its durable point).

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::faults;

/// The file operations of a writer.
pub trait StoreIo: Send + Sync + fmt::Debug {
    /// Writes all of `bytes` at the end of `file` (opened for append).
    fn write_all(&self, file: &File, bytes: &[u8]) -> io::Result<()>;
    /// fdatasync.
    fn sync_data(&self, file: &File) -> io::Result<()>;
    /// Creates `path`, which must not exist, for reading and appending.
    fn create_new(&self, path: &Path) -> io::Result<File>;
    /// Asks the OS to start writing `len` bytes of `file` from `offset` to
    /// the device without waiting (a hint: the fdatasync that follows is
    /// what makes them durable, and reports any error).
    fn start_writeback(&self, _file: &File, _offset: u64, _len: u64) {}
}

/// The file system as it is. With the `failpoints` feature, the points
/// [`faults::THL_DISK_FULL`] and [`faults::THL_SYNC_FAILS`] make writes and
/// syncs fail as a full disk and a failing device would.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealIo;

impl StoreIo for RealIo {
    fn write_all(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        if faults::fires(faults::THL_DISK_FULL) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        file.write_all(bytes)
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        if faults::fires(faults::THL_SYNC_FAILS) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.sync_data()
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&self, file: &File, offset: u64, len: u64) {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else {
            return;
        };
        // SAFETY: a valid open descriptor and a plain range; the call only
        // schedules writeback of pages already written.
        let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        super::private::options()
            .read(true)
            .append(true)
            .create_new(true)
            .open(path)
    }
}

/// The seam as held by a [`StoreConfig`](super::StoreConfig): compared by
/// identity, real by default.
#[derive(Clone)]
pub struct IoSeam(pub Arc<dyn StoreIo>);

impl Default for IoSeam {
    fn default() -> IoSeam {
        IoSeam(Arc::new(RealIo))
    }
}

impl fmt::Debug for IoSeam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for IoSeam {
    fn eq(&self, other: &IoSeam) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for IoSeam {}

/// A disk that fails on demand, for tests: a space budget (a write that
/// does not fit writes what fits, then fails with ENOSPC), failing
/// fdatasyncs (EIO), and a read-only mode (EROFS on every write, sync and
/// create). Arm it while a writer uses it; the changes apply to the next
/// operation.
#[derive(Debug)]
pub struct FaultyIo {
    /// Bytes that still fit; `u64::MAX` is unlimited.
    space: AtomicU64,
    failing_syncs: AtomicU32,
    read_only: AtomicBool,
    syncs: AtomicU64,
    writebacks: Mutex<Vec<(u64, u64)>>,
}

impl FaultyIo {
    /// A disk with unlimited space that does not fail yet.
    pub fn new() -> Arc<FaultyIo> {
        Arc::new(FaultyIo {
            space: AtomicU64::new(u64::MAX),
            failing_syncs: AtomicU32::new(0),
            read_only: AtomicBool::new(false),
            syncs: AtomicU64::new(0),
            writebacks: Mutex::new(Vec::new()),
        })
    }

    /// From now on only `bytes` more fit.
    pub fn set_space(&self, bytes: u64) {
        self.space.store(bytes, Ordering::SeqCst);
    }

    /// Unlimited space again ("space returns").
    pub fn free_space(&self) {
        self.space.store(u64::MAX, Ordering::SeqCst);
    }

    /// The next `n` fdatasyncs fail with EIO.
    pub fn fail_syncs(&self, n: u32) {
        self.failing_syncs.store(n, Ordering::SeqCst);
    }

    /// Every write, sync and create fails with EROFS while set.
    pub fn set_read_only(&self, on: bool) {
        self.read_only.store(on, Ordering::SeqCst);
    }

    /// The (offset, length) of every writeback started so far.
    pub fn writebacks(&self) -> Vec<(u64, u64)> {
        self.writebacks.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Successful fdatasyncs so far.
    pub fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::SeqCst)
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.read_only.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::EROFS));
        }
        Ok(())
    }
}

impl StoreIo for FaultyIo {
    fn write_all(&self, mut file: &File, bytes: &[u8]) -> io::Result<()> {
        self.check_writable()?;
        let space = self.space.load(Ordering::SeqCst);
        let fits = usize::try_from(space).unwrap_or(usize::MAX).min(bytes.len());
        file.write_all(&bytes[..fits])?;
        if space != u64::MAX {
            self.space.store(space - fits as u64, Ordering::SeqCst);
        }
        if fits < bytes.len() {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }

    fn sync_data(&self, file: &File) -> io::Result<()> {
        self.check_writable()?;
        let failing = self.failing_syncs.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing_syncs.store(failing - 1, Ordering::SeqCst);
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        file.sync_data()?;
        self.syncs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn start_writeback(&self, file: &File, offset: u64, len: u64) {
        self.writebacks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((offset, len));
        RealIo.start_writeback(file, offset, len);
    }

    fn create_new(&self, path: &Path) -> io::Result<File> {
        self.check_writable()?;
        RealIo.create_new(path)
    }
}

//! The single-writer lock of a THL directory.
//!
//! Invariants:
//!
//! * At most one `Writer` per directory, across processes and within one:
//!   the writer holds an exclusive `flock` on `thl.lock` for its lifetime.
//!   `flock` locks belong to the open file description, so a second open in
//!   the same process conflicts too; the kernel drops the lock when the
//!   holder exits, even on `kill -9`, so a stale lock file never blocks.
//! * The lock file holds the holder's pid in decimal (informational only:
//!   it names the holder in the error of the second writer).
//! * Readers never take the lock.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};

/// Name of the lock file in a THL directory.
pub const LOCK_FILE: &str = "thl.lock";

/// How many times (10 ms apart) a lock that names this process is tried
/// again before it counts as held (see `DirLock::acquire`).
const SELF_HELD_RETRIES: u32 = 100;

/// A held directory lock; released on drop.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir` or fails with [`StoreError::Locked`]: at
    /// once when another process holds it, after up to a second when the
    /// lock names this process (a child being spawned may share a dropped
    /// writer's descriptor until its exec).
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = super::private::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let mut tries = 0;
        loop {
            // SAFETY: flock on a file descriptor we own and keep open; no
            // memory is passed to the kernel.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(StoreError::io(&path, err));
            }
            let mut s = String::new();
            let _ = file.seek(SeekFrom::Start(0));
            let pid: Option<u32> = file.read_to_string(&mut s).ok().and_then(|_| s.trim().parse().ok());
            // Held by this process: a writer just dropped whose lock a
            // child being spawned still shares until its exec (the
            // descriptor is close-on-exec); wait that out, briefly.
            if pid == Some(std::process::id()) && tries < SELF_HELD_RETRIES {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
                pid,
            });
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(pid.as_bytes()))
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(DirLock { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

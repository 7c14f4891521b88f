//! Provisioning a node from another (`tprovision`, issue "grow the composite
//! cluster live"): the source's replicator streams a copy of its database,
//! the node's replicator restores it and resumes replication after the
//! position the copy holds. No ssh between hosts: the two replicators talk
//! over their REST APIs, with the ini's credentials.
//!
//! | file | job |
//! |---|---|
//! | `frame.rs` | the stream's framing (byte table, golden bytes) |
//! | `backup.rs` | source side: `mariadb-backup` / `mariadb-dump`, streamed |
//! | `fetch.rs` | node side: the HTTP client of that stream, and GETs of status |
//! | `position.rs` | source side: the seqno of a primary copy's binlog position (`--allow-primary`) |
//! | `restore.rs` | node side: unpack, prepare, swap, boot script, position |
//! | `job.rs` | node side: one provision, its checks, phases and progress |
//!
//! Layering: `provision` uses `config` and `service`; `rest` serves its
//! routes; nothing below `rest` imports it.

pub mod backup;
pub mod fetch;
pub mod frame;
pub mod job;
pub mod position;
pub mod restore;

pub use job::Provisioner;

use std::path::PathBuf;

/// A fresh private directory for one provision's temporary files (option
/// file, `mariadb-backup`'s target directory).
fn scratch_dir() -> Result<PathBuf, String> {
    use std::os::unix::fs::DirBuilderExt as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tungsten-provision-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

/// How much of a tool's stderr a failure reports.
const STDERR_TAIL: usize = 4096;

/// Reads a child's stderr to its end; the last [`STDERR_TAIL`] bytes, as
/// text, for the error that names the tool.
fn stderr_tail(stderr: Option<tokio::process::ChildStderr>) -> tokio::task::JoinHandle<String> {
    use tokio::io::AsyncReadExt as _;
    tokio::spawn(async move {
        let mut all = Vec::new();
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut all).await;
        }
        let from = all.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&all[from..]).trim().to_owned()
    })
}

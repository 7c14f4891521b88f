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
//! Layering: `provision` uses `config`, `service`, `applier` (the catalog
//! tables' definitions), `binlog` and `extractor` (binlog positions, event
//! ids); `rest` serves its routes; nothing below `rest` imports it (the
//! unit test of `job.rs` serves a source with `rest::router`).

pub mod backup;
pub mod fetch;
pub mod frame;
pub mod job;
pub mod position;
pub mod restore;

pub use job::Provisioner;

/// A fresh private directory (random name, mode 0700, removed on drop)
/// for one provision's temporary files: the option file with the
/// database password, `mariadb-backup`'s target directory.
fn scratch_dir() -> Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix("tungsten-provision-")
        .tempdir()
        .map_err(|e| {
            format!(
                "cannot create a private directory in {}: {e}",
                std::env::temp_dir().display()
            )
        })
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

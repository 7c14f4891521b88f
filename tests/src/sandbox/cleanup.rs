//! Removing the sandbox roots of test processes that were SIGKILLed (their
//! `mariadbd` died with them, but `TempDir` never ran).
//!
//! Invariants: every root is a directory `tungsten-sandbox-*` in
//! `std::env::temp_dir()` holding `owner.pid` ([`OWNER_FILE`], written by
//! `set.rs`); a root is removed only if that file names a process that no
//! longer exists, so a live sandbox (of any engineer) is never touched. A
//! root without a readable `owner.pid` is left alone. Best effort: errors
//! are ignored.

use std::path::Path;

pub(super) const ROOT_PREFIX: &str = "tungsten-sandbox-";
pub(super) const OWNER_FILE: &str = "owner.pid";

/// Removes the roots left by test processes that were SIGKILLed (their
/// `mariadbd` died with them, but `TempDir` never ran): a root whose
/// `owner.pid` names a process that no longer exists. Best effort.
pub(super) fn sweep_stale_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(ROOT_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(pid) = std::fs::read_to_string(dir.join(OWNER_FILE)) else {
            continue;
        };
        let alive = pid
            .trim()
            .parse::<u32>()
            .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            // Servers a boot script started did not die with the owner.
            for instance in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                super::boot::kill_adopted(&instance.path());
            }
            tracing::info!(dir = %dir.display(), "removing stale sandbox root");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

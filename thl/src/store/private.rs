//! Who may read what the store writes: the THL holds every replicated row,
//! so its files are the replicator's user's alone.
//!
//! Invariants: every file the store creates (data, index, lock, the
//! temporary copies of a truncation or an index rewrite) is created mode
//! 0600, whatever the process umask; a directory it creates is 0700 (with
//! its missing parents), and its parent is fsynced so that the new
//! directory survives a crash. An existing directory keeps its mode (the
//! operator chose it).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

/// The mode of the files the store creates.
pub const FILE_MODE: u32 = 0o600;
/// The mode of the directories the store creates.
pub const DIR_MODE: u32 = 0o700;

/// `OpenOptions` whose `create` makes a 0600 file.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates (or truncates) `path` for writing, 0600 when new.
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// Creates `dir` and its missing parents 0700 and fsyncs the parent of
/// each directory created; nothing when it exists.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = vec![dir];
    while let Some(parent) = missing.last().and_then(|d| d.parent()) {
        if parent.as_os_str().is_empty() || parent.is_dir() {
            break;
        }
        missing.push(parent);
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    for d in missing.iter().rev() {
        if let Some(parent) = d.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)?.sync_all()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_private_whatever_the_umask() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/b/thl");
        create_dir(&dir).expect("create");
        assert_eq!((mode(&root.path().join("a")), mode(&dir)), (DIR_MODE, DIR_MODE));
        let f = dir.join("thl.data.0000000001");
        drop(create(&f).expect("file"));
        assert_eq!(mode(&f), FILE_MODE);
        create_dir(&dir).expect("exists: a no-op");
    }
}

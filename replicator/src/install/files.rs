//! Placing `replicator install`'s files: each planned file (its final
//! path and rendered contents) is written under the `--root`, after every
//! one has been checked; and the marker line is read back to tell whose a
//! file is. What the files contain is `render.rs` beside this one.
//!
//! Invariants:
//! * a file whose first line is not install's marker, or that was written
//!   for another host, is never replaced unless `force`;
//! * [`apply`] checks every file before it writes any: a refusal writes
//!   nothing;
//! * a file is replaced atomically (a temporary file in its directory,
//!   renamed), mode 0644; an unchanged one is not rewritten.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::render::MARKER;

/// `path` under `root` (`/etc/x` under `/tmp/r` is `/tmp/r/etc/x`).
pub fn under(root: &Path, path: &Path) -> PathBuf {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The host a file was written for, when its first line is install's
/// marker.
pub fn written_for(contents: &[u8]) -> Option<String> {
    let first = contents.split(|b| *b == b'\n').next()?;
    let first = std::str::from_utf8(first).ok()?;
    let rest = first.strip_prefix(MARKER)?.strip_prefix(" for host ")?;
    let host = rest.split(' ').next().unwrap_or_default();
    (!host.is_empty()).then(|| host.to_owned())
}

/// One file to write: its final path and contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub path: PathBuf,
    pub contents: String,
}

/// What install found at a planned file's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Unchanged,
    /// Marked for this host, other contents.
    Ours,
    /// Marked for another host.
    OtherHost,
    /// Not written by install (or a symlink, or unreadable as a file).
    Foreign,
}

fn state_of(path: &Path, contents: &str, host: &str) -> Result<(State, Option<String>), String> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((State::Absent, None)),
        Err(e) => {
            return Err(format!(
                "cannot inspect {}: {e} (fix: check its permissions)",
                path.display()
            ))
        }
    };
    if meta.is_dir() {
        return Err(format!(
            "{} is a directory (fix: move it away; install writes a file there)",
            path.display()
        ));
    }
    if !meta.is_file() {
        return Ok((State::Foreign, None));
    }
    let old =
        fs::read(path).map_err(|e| format!("cannot read {}: {e} (fix: check its permissions)", path.display()))?;
    if old == contents.as_bytes() {
        return Ok((State::Unchanged, None));
    }
    Ok(match written_for(&old) {
        Some(h) if h == host => (State::Ours, Some(h)),
        Some(h) => (State::OtherHost, Some(h)),
        None => (State::Foreign, None),
    })
}

/// Writes `contents` to `path` through a temporary file in its directory,
/// mode 0644.
fn write_atomic(path: &Path, contents: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .ok_or_else(|| format!("{} has no directory", path.display()))?;
    fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot create the directory {}: {e} (fix: run as a user who may write there, or pass --root DIR)",
            dir.display()
        )
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.replicator-install.tmp"));
    let result = (|| -> io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!(
            "cannot write {}: {e} (fix: run as a user who may write there, or pass --root DIR)",
            path.display()
        )
    })
}

/// Checks every planned file, then writes those that differ (nothing with
/// `dry_run`); returns the report lines. A file install did not write
/// (or wrote for another host) is refused unless `force`: then nothing is
/// written.
pub fn apply(root: &Path, host: &str, files: &[Planned], force: bool, dry_run: bool) -> Result<Vec<String>, String> {
    let mut states = Vec::new();
    let mut refused = Vec::new();
    for f in files {
        let at = under(root, &f.path);
        let (state, other) = state_of(&at, &f.contents, host)?;
        match state {
            State::Foreign if !force => refused.push(format!(
                "{} exists and was not written by replicator install (fix: move it away, or pass --force to replace it)",
                at.display()
            )),
            State::OtherHost if !force => refused.push(format!(
                "{} was written by replicator install for host {} (fix: `replicator uninstall --host {}` first, \
                 or pass --force to replace it)",
                at.display(),
                other.unwrap_or_default(),
                host
            )),
            _ => {}
        }
        states.push((f, at, state));
    }
    if !refused.is_empty() {
        return Err(format!("nothing written:\n  {}", refused.join("\n  ")));
    }
    let mut report = Vec::new();
    for (f, at, state) in states {
        let verb = match (state, dry_run) {
            (State::Unchanged, _) => "unchanged",
            (State::Absent, false) => "written",
            (State::Absent, true) => "would write",
            (State::Ours, false) => "updated",
            (State::Ours, true) => "would update",
            (_, false) => "replaced",
            (_, true) => "would replace",
        };
        if state != State::Unchanged && !dry_run {
            write_atomic(&at, &f.contents)?;
        }
        report.push(format!("{verb:<13} {}", at.display()));
        if dry_run && state != State::Unchanged {
            for line in f.contents.lines() {
                report.push(format!("    | {line}"));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::{shell_word, systemd_word};

    #[test]
    fn markers_and_paths() {
        assert_eq!(
            written_for(b"# written by replicator install for host h1 from /x.ini\nrest"),
            Some("h1".into())
        );
        assert_eq!(
            written_for(b"#!/bin/sh\n# written by replicator install for host h1 from /x"),
            None
        );
        assert_eq!(written_for(b""), None);
        assert_eq!(
            under(Path::new("/tmp/r"), Path::new("/etc/x")),
            PathBuf::from("/tmp/r/etc/x")
        );
        assert_eq!(under(Path::new("/"), Path::new("/etc/x")), PathBuf::from("/etc/x"));
        assert_eq!(systemd_word("a\"b"), "\"a\\\"b\"");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("/opt/continuent"), "/opt/continuent");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn apply_is_idempotent_and_refuses_foreign_files_unless_forced() {
        let root = tempfile::tempdir().expect("tempdir");
        let file = |path: &str, contents: &str| Planned {
            path: PathBuf::from(path),
            contents: format!("{MARKER} for host h1 from /x.ini\n{contents}"),
        };
        let files = vec![file("/etc/a.conf", "one\n"), file("/opt/b/c.sh", "two\n")];
        let r = apply(root.path(), "h1", &files, false, false).expect("first");
        assert!(r.iter().all(|l| l.starts_with("written")), "{r:?}");
        let r = apply(root.path(), "h1", &files, false, false).expect("again");
        assert!(r.iter().all(|l| l.starts_with("unchanged")), "{r:?}");
        let changed = vec![file("/etc/a.conf", "three\n"), file("/opt/b/c.sh", "two\n")];
        let r = apply(root.path(), "h1", &changed, false, false).expect("update");
        assert!(r[0].starts_with("updated"), "{r:?}");
        // Another host's file, and a foreign one: refused, nothing written.
        let e = apply(root.path(), "h2", &files, false, false).expect_err("other host");
        assert!(e.contains("for host h1") && e.contains("--force"), "{e}");
        let foreign = root.path().join("etc/a.conf");
        fs::write(&foreign, "mine\n").expect("write");
        let e = apply(root.path(), "h1", &files, false, false).expect_err("foreign");
        assert!(e.contains("was not written by replicator install"), "{e}");
        assert_eq!(fs::read_to_string(&foreign).expect("read"), "mine\n");
        let r = apply(root.path(), "h1", &files, true, true).expect("dry run");
        assert!(r[0].starts_with("would replace"), "{r:?}");
        assert_eq!(fs::read_to_string(&foreign).expect("read"), "mine\n");
        apply(root.path(), "h1", &files, true, false).expect("forced");
        assert!(fs::read_to_string(&foreign).expect("read").ends_with("one\n"));
        let mode = fs::metadata(&foreign).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }
}

//! The template data directory: made once per `mariadbd` version by
//! `mariadb-install-db`, cached, and copied into each instance's
//! directory ([`copy_dir`], called by `instance.rs`).
//!
//! Invariants:
//! * **Made once, atomically.** The template is keyed by the `mariadbd`
//!   version and by [`TEMPLATE_LAYOUT`]. It is built in a private staging
//!   directory and renamed into place, so concurrent test processes never
//!   see a half-built template: the final directory exists only if
//!   complete. Whoever renames first wins; a loser drops its own copy.
//! * The cache lives in `$TUNGSTEN_SANDBOX_CACHE` ([`CACHE_ENV`]), or else
//!   in `std::env::temp_dir()/tungsten-mariadb-templates`.
//! * Within a process the path is computed once (a `OnceLock`).

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::binaries::{find_binary, mariadbd_path, mariadbd_version};
use super::error::{io_err, SandboxError};
use super::logs::{tail_lines, LOG_TAIL_LINES};
use super::ports::pick_seed;

/// Bumped whenever the way the template is made changes, so old caches are
/// not reused.
pub const TEMPLATE_LAYOUT: u32 = 1;
/// Environment variable naming the template cache directory.
pub const CACHE_ENV: &str = "TUNGSTEN_SANDBOX_CACHE";

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn cache_root() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tungsten-mariadb-templates"))
}

/// Returns the template data directory for this `mariadbd`, building it
/// first if needed (atomically: build in a private directory, then rename).
pub fn template_datadir() -> Result<PathBuf, SandboxError> {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    if let Some(t) = TEMPLATE.get() {
        return Ok(t.clone());
    }
    let mariadbd = mariadbd_path()?;
    let install_db = find_binary("mariadb-install-db")?;
    let version = mariadbd_version(&mariadbd)?;
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(io_err("create template cache", &root))?;
    let final_dir = root.join(format!("template-v{TEMPLATE_LAYOUT}-{}", sanitize(&version)));
    if !final_dir.join("mysql").is_dir() {
        let staging = root.join(format!(".staging-{}-{}", std::process::id(), pick_seed()));
        let _ = std::fs::remove_dir_all(&staging);
        let out = Command::new(&install_db)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", staging.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg("--skip-name-resolve")
            .arg("--innodb-log-file-size=8M")
            .arg("--innodb-buffer-pool-size=32M")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("run mariadb-install-db", &install_db))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&staging);
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(SandboxError::InstallDb {
                status: out.status,
                datadir: staging,
                output: tail_lines(&output, LOG_TAIL_LINES),
            });
        }
        // Whoever renames first wins; a loser drops its own copy.
        if std::fs::rename(&staging, &final_dir).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
            if !final_dir.join("mysql").is_dir() {
                return Err(SandboxError::Io {
                    what: "rename template into place".into(),
                    path: final_dir,
                    source: io::Error::other("rename failed and no template exists"),
                });
            }
        }
    }
    Ok(TEMPLATE.get_or_init(|| final_dir).clone())
}

pub(super) fn copy_dir(from: &Path, to: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(to).map_err(io_err("create directory", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("read directory", from))? {
        let entry = entry.map_err(io_err("read directory entry", from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ty = entry.file_type().map_err(io_err("stat", &src))?;
        if ty.is_dir() {
            copy_dir(&src, &dst)?;
        } else if ty.is_file() {
            std::fs::copy(&src, &dst).map_err(io_err("copy template file", &src))?;
        }
    }
    Ok(())
}

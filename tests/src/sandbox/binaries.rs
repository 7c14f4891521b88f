//! Finding the MariaDB binaries: `mariadbd` (or [`MARIADBD_ENV`]) and
//! `mariadb-install-db`, and the server's version (which keys the template
//! cache, `template.rs`).
//!
//! Invariants: a binary is looked for in `$PATH`, then `/usr/sbin`,
//! `/usr/local/sbin`; a missing one is [`SandboxError::MissingBinary`] with
//! the install hint, never a panic. A `$TUNGSTEN_MARIADBD` naming no file is
//! an error, not a fallback to the search.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::{io_err, SandboxError};

/// Environment variable naming the `mariadbd` binary (default: found in
/// `$PATH`, `/usr/sbin`, `/usr/local/sbin`).
pub const MARIADBD_ENV: &str = "TUNGSTEN_MARIADBD";

/// Finds a MariaDB binary: `$PATH`, then `/usr/sbin`, `/usr/local/sbin`.
pub(super) fn find_binary(name: &str) -> Result<PathBuf, SandboxError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| SandboxError::MissingBinary {
            binary: name.to_owned(),
        })
}

pub(super) fn mariadbd_path() -> Result<PathBuf, SandboxError> {
    match std::env::var_os(MARIADBD_ENV) {
        Some(p) if Path::new(&p).is_file() => Ok(PathBuf::from(p)),
        Some(p) => Err(SandboxError::MissingBinary {
            binary: PathBuf::from(p).display().to_string(),
        }),
        None => find_binary("mariadbd"),
    }
}

/// `mariadbd --version`, e.g. `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for ...`.
pub(super) fn mariadbd_version(mariadbd: &Path) -> Result<String, SandboxError> {
    let out = Command::new(mariadbd)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(io_err("run mariadbd --version", mariadbd))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown");
    Ok(version.to_owned())
}

//! Where a host's tools find the deployment, as Tungsten's do.
//!
//! * The ini: `--config FILE` (or the environment variable [`INI_ENV`], which
//!   the tools' option reads), else [`DEFAULT_INI`], where `tpm` keeps it.
//! * This host: `--host NAME` (an ini host name, or a name or address of one:
//!   `Deployment::host_named`) or [`HOST_ENV`], else the system host
//!   name's, else the one whose address this machine has
//!   (`Deployment::this_host`).

use std::path::{Path, PathBuf};

/// Tungsten's location of the deployment's ini.
pub const DEFAULT_INI: &str = "/etc/tungsten/tungsten.ini";

/// The environment variable that names the ini when `--config` is not
/// given.
pub const INI_ENV: &str = "TUNGSTEN_INI";

/// The environment variable that names this host when `--host` is not
/// given (`env.sh` sets it to the host it was installed for, so that the
/// tools work with no flags where the system host name is not the ini's).
pub const HOST_ENV: &str = "TUNGSTEN_HOST";

/// The environment variable that names the hosts file when
/// `--hosts-file` is not given (`env.sh` sets it when the host was
/// installed with one).
pub const HOSTS_FILE_ENV: &str = "TUNGSTEN_HOSTS_FILE";

/// The ini a tool reads: the one it was given, else [`DEFAULT_INI`].
pub fn ini_path(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| PathBuf::from(DEFAULT_INI), Path::to_path_buf)
}

/// The ini an operator tool reads: the one it was given, else
/// [`DEFAULT_INI`] when this machine has one (a node of a deployment).
pub fn ini_if_any(given: Option<&Path>) -> Option<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(|| Some(PathBuf::from(DEFAULT_INI)).filter(|p| p.is_file()))
}

/// What to tell an operator whose tool found no ini at `path`.
pub fn missing_ini_hint(path: &Path) -> String {
    format!(
        "no deployment file at {}: pass --config FILE (or set {INI_ENV}=FILE)",
        path.display()
    )
}

/// This machine's host name (`/proc/sys/kernel/hostname`, this UTS
/// namespace's), `None` when it cannot be read.
pub fn system_host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_ini_wins_over_tungstens_location() {
        let given = Path::new("/tmp/x/tungsten.ini");
        assert_eq!(ini_path(Some(given)), given);
        assert_eq!(ini_path(None), Path::new(DEFAULT_INI));
        assert_eq!(ini_if_any(Some(given)).as_deref(), Some(given));
        assert!(missing_ini_hint(Path::new(DEFAULT_INI)).contains("TUNGSTEN_INI"));
    }
}

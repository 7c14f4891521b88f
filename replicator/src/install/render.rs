//! What `replicator install` writes, as text: the systemd unit, `env.sh` and
//! the completion scripts, each rendered from a [`Spec`] (the final paths,
//! the host, the service user). Nothing here touches the file system; where
//! the files go and how they are written is `files.rs` beside this one, and
//! where the spec comes from is `mod.rs`.
//!
//! Invariants:
//! * every rendering starts with [`Spec::marker`], the [`MARKER`] line
//!   naming the host and the ini (`files.rs` reads it back);
//! * a rendering depends only on its inputs: the same spec gives the same
//!   bytes (re-running install leaves unchanged files untouched);
//! * every path or name put in the unit goes through [`systemd_word`], and
//!   every one put in `env.sh` through [`shell_word`], so spaces, quotes,
//!   `%` and `$` are taken literally (paths with control characters are
//!   refused before a spec is made).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use control::config::locate;

/// The systemd unit's name.
pub const UNIT_NAME: &str = "tungsten-replicator.service";
/// Where local units live.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// Where bash-completion loads a command's completions from.
pub const BASH_COMPLETIONS_DIR: &str = "/usr/share/bash-completion/completions";
/// The first line of every file install writes starts with this.
pub const MARKER: &str = "# written by replicator install";
/// How long systemd waits for the replicator to reach a transaction
/// boundary before SIGKILL (a large transaction may be applying).
pub const STOP_TIMEOUT: &str = "10min";
/// Open files (THL files, the catalog's RocksDB files, sockets).
pub const NOFILE: u32 = 65_536;

/// Everything the files are rendered from (absolute paths, final
/// locations, not under the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The host's ini name.
    pub host: String,
    pub ini: PathBuf,
    pub hosts_file: Option<PathBuf>,
    /// `--install-directory`, passed on to the service.
    pub install_directory_override: Option<PathBuf>,
    /// The effective install directory (env.sh goes to its `share/`).
    pub install_directory: PathBuf,
    pub bin_dir: PathBuf,
    pub user: String,
}

impl Spec {
    /// The marker line of every file written for this spec.
    pub fn marker(&self) -> String {
        format!("{MARKER} for host {} from {}", self.host, self.ini.display())
    }

    pub fn unit_path() -> PathBuf {
        Path::new(UNIT_DIR).join(UNIT_NAME)
    }

    pub fn env_path(&self) -> PathBuf {
        env_path_in(&self.install_directory)
    }
}

pub(super) fn env_path_in(install_directory: &Path) -> PathBuf {
    install_directory.join("share").join("env.sh")
}

pub(super) fn completion_path(tool: &str) -> PathBuf {
    Path::new(BASH_COMPLETIONS_DIR).join(tool)
}

/// One word of a systemd `ExecStart=` line: specifiers (`%`) and variables
/// (`$`) taken literally, quoted when it has blanks or quotes.
pub fn systemd_word(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%")
        .replace('$', "$$");
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == ';')
    {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// A POSIX shell word: as is when every character is plain, else
/// single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub(super) fn show(p: &Path) -> String {
    p.display().to_string()
}

/// The systemd unit.
pub fn render_unit(spec: &Spec) -> String {
    let mut exec = vec![
        systemd_word(&show(&spec.bin_dir.join("replicator"))),
        "--config".to_owned(),
        systemd_word(&show(&spec.ini)),
        "--host".to_owned(),
        systemd_word(&spec.host),
    ];
    if let Some(f) = &spec.hosts_file {
        exec.extend(["--hosts-file".to_owned(), systemd_word(&show(f))]);
    }
    if let Some(d) = &spec.install_directory_override {
        exec.extend(["--install-directory".to_owned(), systemd_word(&show(d))]);
    }
    let host = &spec.host;
    format!(
        "{marker}
# `replicator uninstall` removes this file; re-run `replicator install` after
# changing the ini's user= or install-directory.
# env.sh: {env}
[Unit]
Description=Tungsten replicator of {host}
Wants=network-online.target
After=network-online.target mariadb.service

[Service]
Type=simple
User={user}
ExecStart={exec}
# SIGHUP re-reads the ini (as `trepctl reload`).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# SIGTERM: every service goes offline at its next transaction boundary, then
# the process exits 0; a large transaction may take a while to finish.
KillSignal=SIGTERM
TimeoutStopSec={STOP_TIMEOUT}
LimitNOFILE={NOFILE}

[Install]
WantedBy=multi-user.target
",
        marker = spec.marker(),
        env = spec.env_path().display(),
        user = spec.user,
        exec = exec.join(" "),
    )
}

/// `env.sh`: the binaries on the PATH (once), `TUNGSTEN_INI`,
/// `TUNGSTEN_HOST` (the tools then act for this host with no flags), and
/// `TUNGSTEN_HOSTS_FILE` when installed with one; in bash
/// the completions at `completions` (final paths). Safe to source under
/// `set -eu`.
pub fn render_env(spec: &Spec, completions: &[PathBuf]) -> String {
    let bin = shell_word(&show(&spec.bin_dir));
    let mut out = format!(
        "{marker}
# Puts replicator, trepctl and thl on the PATH and names the deployment's ini:
#   source {env}
# (`replicator uninstall` removes this file.)
case \":${{PATH:-}}:\" in
    *:{bin}:*) ;;
    *) PATH={bin}\"${{PATH:+:$PATH}}\"; export PATH ;;
esac
TUNGSTEN_INI={ini}
export TUNGSTEN_INI
{host_var}={host}
export {host_var}
",
        marker = spec.marker(),
        env = shell_word(&show(&spec.env_path())),
        ini = shell_word(&show(&spec.ini)),
        host_var = locate::HOST_ENV,
        host = shell_word(&spec.host),
    );
    if let Some(f) = &spec.hosts_file {
        let _ = writeln!(
            out,
            "{var}={file}\nexport {var}",
            var = locate::HOSTS_FILE_ENV,
            file = shell_word(&show(f))
        );
    }
    if !completions.is_empty() {
        out.push_str("if [ -n \"${BASH_VERSION:-}\" ]; then\n");
        for c in completions {
            let c = shell_word(&show(c));
            let _ = writeln!(out, "    if [ -r {c} ]; then . {c}; fi");
        }
        out.push_str("fi\n");
    }
    out
}

/// A completion script with the marker line on top.
pub fn render_completion(spec: &Spec, script: &str) -> String {
    let mut out = spec.marker();
    out.push('\n');
    out.push_str(script);
    if !script.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::{env_named_in_unit, service_user, written_for};
    use control::config::Deployment;

    fn spec() -> Spec {
        Spec {
            host: "db1.alpha".into(),
            ini: PathBuf::from("/etc/tungsten/tungsten.ini"),
            hosts_file: None,
            install_directory_override: None,
            install_directory: PathBuf::from("/opt/continuent"),
            bin_dir: PathBuf::from("/opt/continuent/tungsten/bin"),
            user: "tungsten".into(),
        }
    }

    const INI: &str = "[defaults]\nuser=tungsten\nreplication-password=secret\n\n\
                       [alpha]\nmaster=db1.alpha\nmembers=db1.alpha,db2.alpha\n";

    #[test]
    fn unit_golden() {
        let dep = Deployment::parse(INI, "tungsten.ini").expect("parses");
        let (user, origin) = service_user(&dep, &["alpha"]).expect("one user");
        assert_eq!(user, "tungsten");
        assert_eq!(origin, "user= on line 2 [defaults] of the ini");
        let unit = render_unit(&Spec { user, ..spec() });
        let expected = "\
# written by replicator install for host db1.alpha from /etc/tungsten/tungsten.ini
# `replicator uninstall` removes this file; re-run `replicator install` after
# changing the ini's user= or install-directory.
# env.sh: /opt/continuent/share/env.sh
[Unit]
Description=Tungsten replicator of db1.alpha
Wants=network-online.target
After=network-online.target mariadb.service

[Service]
Type=simple
User=tungsten
ExecStart=/opt/continuent/tungsten/bin/replicator --config /etc/tungsten/tungsten.ini --host db1.alpha
# SIGHUP re-reads the ini (as `trepctl reload`).
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5s
# SIGTERM: every service goes offline at its next transaction boundary, then
# the process exits 0; a large transaction may take a while to finish.
KillSignal=SIGTERM
TimeoutStopSec=10min
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
";
        assert_eq!(unit, expected);
        assert_eq!(written_for(unit.as_bytes()).as_deref(), Some("db1.alpha"));
        assert_eq!(
            env_named_in_unit(unit.as_bytes()),
            Some(PathBuf::from("/opt/continuent/share/env.sh"))
        );
    }

    #[test]
    fn unit_passes_hosts_file_and_install_directory_and_quotes_odd_paths() {
        let unit = render_unit(&Spec {
            ini: PathBuf::from("/srv/my deploy/100%$x.ini"),
            hosts_file: Some(PathBuf::from("/srv/hosts")),
            install_directory_override: Some(PathBuf::from("/srv/tr")),
            ..spec()
        });
        assert!(
            unit.contains(
                "ExecStart=/opt/continuent/tungsten/bin/replicator --config \"/srv/my deploy/100%%$$x.ini\" \
                 --host db1.alpha --hosts-file /srv/hosts --install-directory /srv/tr\n"
            ),
            "{unit}"
        );
    }

    #[test]
    fn env_sh_puts_the_binaries_first_once_and_sources_completions_in_bash() {
        let env = render_env(
            &Spec {
                bin_dir: PathBuf::from("/opt/it's/bin"),
                ..spec()
            },
            &[completion_path("trepctl")],
        );
        assert!(env.starts_with("# written by replicator install for host db1.alpha from "));
        assert!(env.contains("    *:'/opt/it'\\''s/bin':*) ;;\n"), "{env}");
        assert!(
            env.contains("PATH='/opt/it'\\''s/bin'\"${PATH:+:$PATH}\"; export PATH"),
            "{env}"
        );
        assert!(env.contains("TUNGSTEN_INI=/etc/tungsten/tungsten.ini\nexport TUNGSTEN_INI\n"));
        assert!(env.contains("TUNGSTEN_HOST=db1.alpha\nexport TUNGSTEN_HOST\n"), "{env}");
        assert!(env.contains(
            "    if [ -r /usr/share/bash-completion/completions/trepctl ]; then . \
             /usr/share/bash-completion/completions/trepctl; fi\n"
        ));
    }
}

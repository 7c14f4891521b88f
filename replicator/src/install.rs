//! `replicator install` and `replicator uninstall`: a host's service files,
//! in the spirit of Tungsten's `tpm install`.
//!
//! `install` writes, for this host of the ini:
//!
//! * `/etc/systemd/system/tungsten-replicator.service`: the replicator with
//!   `--config <ini> --host <host>` (and `--hosts-file`/`--install-directory`
//!   when given), `Restart=on-failure`, `User=` from the ini's `user=` key
//!   (default [`DEFAULT_USER`]), SIGTERM with a generous stop timeout (the
//!   replicator stops at a transaction boundary), SIGHUP to reload the ini;
//! * `<install-directory>/share/env.sh`: puts the binaries' directory on the
//!   `PATH`, exports `TUNGSTEN_INI` and sources the bash completions
//!   (Tungsten's `source /opt/continuent/share/env.sh`);
//! * `/usr/share/bash-completion/completions/trepctl` and `.../thl`, made
//!   by running the sibling binaries' `completions bash` (a `thl` without
//!   that command, from an older build, is passed over).
//!
//! Every path is written under `--root` (default `/`), as under `DESTDIR`:
//! the files name their final paths, so a staging root can be copied into
//! place. Nothing here runs `systemctl`; the report says what to run.
//!
//! Invariants:
//! * every file written starts with the [`MARKER`] line naming the host and
//!   the ini; a file without it (or written for another host) is never
//!   replaced or removed unless `--force`;
//! * install checks every file before it writes any: a refusal writes
//!   nothing; each file is replaced atomically (a temporary file renamed);
//! * re-running install with the same inputs produces the same bytes and
//!   leaves unchanged files untouched;
//! * the service never runs as root unless `--allow-root`;
//! * uninstall removes only marked files, refuses while the unit is
//!   enabled (unless `--force`), and reports what it removed and left.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use clap::Args;
use control::config::{locate, Deployment};

/// The systemd unit's name.
pub const UNIT_NAME: &str = "tungsten-replicator.service";
/// Where local units live.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// The link `systemctl enable` makes (the unit is `WantedBy=` this target).
pub const WANTS_DIR: &str = "/etc/systemd/system/multi-user.target.wants";
/// Where bash-completion loads a command's completions from.
pub const BASH_COMPLETIONS_DIR: &str = "/usr/share/bash-completion/completions";
/// The service user when the ini has no `user=`.
pub const DEFAULT_USER: &str = "tungsten";
/// The install directory when the ini has no `install-directory`.
pub const DEFAULT_INSTALL_DIRECTORY: &str = "/opt/continuent";
/// The first line of every file install writes starts with this.
pub const MARKER: &str = "# written by replicator install";
/// How long systemd waits for the replicator to reach a transaction
/// boundary before SIGKILL (a large transaction may be applying).
pub const STOP_TIMEOUT: &str = "10min";
/// Open files (THL files, the catalog's RocksDB files, sockets).
pub const NOFILE: u32 = 65_536;

/// The tools whose bash completions install writes, and whether a missing
/// one is an error (an older `thl` had no `completions` command).
const COMPLETING_TOOLS: &[(&str, bool)] = &[("trepctl", true), ("thl", false)];

/// `replicator install`.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Write every file under DIR instead of / (a staging root, as DESTDIR:
    /// the files name their final paths). DIR must exist.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Print each file that would be written, with its contents; write
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The directory holding the replicator, trepctl and thl binaries, used
    /// in the unit's ExecStart and put on the PATH by env.sh (default: the
    /// directory of this replicator binary).
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Replace files that replicator install did not write, or wrote for
    /// another host.
    #[arg(long)]
    pub force: bool,
    /// Let the service run as root when the ini says user=root (it needs no
    /// root privileges; refused without this flag).
    #[arg(long)]
    pub allow_root: bool,
}

/// `replicator uninstall`.
#[derive(Debug, Clone, Args)]
pub struct UninstallArgs {
    /// Remove the files under DIR instead of / (the root install wrote
    /// to).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove files install wrote for another host, and the unit
    /// while it is still enabled.
    #[arg(long)]
    pub force: bool,
}

/// The daemon's global options that install and uninstall use.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The ini (`--config`, else `$TUNGSTEN_INI`, else the default path).
    pub ini: PathBuf,
    pub host: Option<String>,
    pub hosts_file: Option<PathBuf>,
    pub install_directory: Option<PathBuf>,
}

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

fn env_path_in(install_directory: &Path) -> PathBuf {
    install_directory.join("share").join("env.sh")
}

fn completion_path(tool: &str) -> PathBuf {
    Path::new(BASH_COMPLETIONS_DIR).join(tool)
}

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

fn refuse_control(what: &str, s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{what} {s:?} contains a control character (a newline?): use a path without one"
        ));
    }
    Ok(())
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

fn show(p: &Path) -> String {
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

/// `env.sh`: the binaries on the PATH (once), `TUNGSTEN_INI` (and
/// `TUNGSTEN_HOSTS_FILE` when installed with one), and in bash
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
",
        marker = spec.marker(),
        env = shell_word(&show(&spec.env_path())),
        ini = shell_word(&show(&spec.ini)),
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

/// The service user: the ini's `user=` for this host's dataservices (their
/// sections, else `[defaults]`), else [`DEFAULT_USER`]; with where it came
/// from, for the report.
pub fn service_user(dep: &Deployment, services: &[&str]) -> Result<(String, String), String> {
    let mut found: Vec<(String, String)> = Vec::new();
    for name in services {
        let Some(ds) = dep.dataservice(name) else { continue };
        let Some(raw) = dep.raw(ds, "user") else { continue };
        let at = format!("line {} [{}]", raw.line, raw.section);
        let value = raw.value.as_deref().map(str::trim).unwrap_or_default();
        if value.is_empty() {
            return Err(format!(
                "{}: {at} {}: needs a user name (fix: write user=tungsten, or remove the line)",
                dep.origin, raw.written
            ));
        }
        if !found.iter().any(|(v, _)| v == value) {
            found.push((value.to_owned(), at));
        }
    }
    match found.as_slice() {
        [] => Ok((
            DEFAULT_USER.to_owned(),
            "the ini sets no user=; set user= in [defaults] to choose another".to_owned(),
        )),
        [(user, at)] => {
            let ok = user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !user.starts_with('-')
                && user.len() <= 32;
            if !ok {
                return Err(format!(
                    "{}: {at} user={user} is not a user name systemd accepts (fix: letters, digits, _ - . only)",
                    dep.origin
                ));
            }
            Ok((user.clone(), format!("user= on {at} of the ini")))
        }
        several => Err(format!(
            "{}: this host's dataservices name different users ({}): one replicator process runs as one user \
             (fix: set one user= in [defaults])",
            dep.origin,
            several
                .iter()
                .map(|(u, at)| format!("user={u} at {at}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Whether `user` is root (by name or uid).
fn is_root(user: &str) -> bool {
    user == "root" || user == "0"
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

fn absolute(p: &Path, what: &str) -> Result<PathBuf, String> {
    let abs = std::path::absolute(p).map_err(|e| format!("{what} {}: {e}", p.display()))?;
    refuse_control(what, &show(&abs))?;
    Ok(abs)
}

fn host_name(g: &Globals) -> Result<String, String> {
    match &g.host {
        Some(h) => Ok(h.clone()),
        None => locate::system_host_name().ok_or_else(|| "cannot read the system host name: pass --host NAME".into()),
    }
}

/// Runs `<bin_dir>/<tool> completions bash`. `Ok(None)`: the binary is
/// there and has no such command, or is missing and optional.
fn completions_of(bin_dir: &Path, tool: &str, required: bool) -> Result<Option<String>, String> {
    let exe = bin_dir.join(tool);
    if !exe.is_file() {
        return if required {
            Err(format!(
                "{} not found, whose `{tool} completions bash` install needs (fix: build or install {tool} there, or \
                 pass --bin-dir DIR, the directory holding replicator, trepctl and thl)",
                exe.display()
            ))
        } else {
            Ok(None)
        };
    }
    let out = Command::new(&exe)
        .args(["completions", "bash"])
        .env_remove(locate::INI_ENV)
        .output()
        .map_err(|e| format!("cannot run {}: {e} (fix: check that it is executable)", exe.display()))?;
    if out.status.success() && !out.stdout.is_empty() {
        let script = String::from_utf8(out.stdout).map_err(|_| {
            format!(
                "`{} completions bash` printed something other than UTF-8",
                exe.display()
            )
        })?;
        return Ok(Some(script));
    }
    if required {
        Err(format!(
            "`{} completions bash` failed ({}): {} (fix: use a {tool} of the same version, --bin-dir DIR)",
            exe.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    } else {
        Ok(None)
    }
}

/// Whether `user` exists here (`getent passwd`); `None` when unknown.
fn user_exists(user: &str) -> Option<bool> {
    let out = Command::new("getent").args(["passwd", user]).output().ok()?;
    match out.status.code() {
        Some(0) => Some(true),
        Some(2) => Some(false),
        _ => None,
    }
}

/// `replicator install`: the report to print, or what stopped it (nothing
/// written then).
pub fn install(g: &Globals, a: &InstallArgs) -> Result<String, String> {
    if !g.ini.is_file() {
        return Err(locate::missing_ini_hint(&g.ini));
    }
    let ini = absolute(&g.ini, "the ini")?;
    let hosts_file = g
        .hosts_file
        .as_deref()
        .map(|p| absolute(p, "the hosts file"))
        .transpose()?;
    let install_directory_override = g
        .install_directory
        .as_deref()
        .map(|p| absolute(p, "the install directory"))
        .transpose()?;
    if !a.root.is_dir() {
        return Err(format!(
            "--root {}: no such directory (fix: create it, or pass an existing one)",
            a.root.display()
        ));
    }
    let dep = Deployment::load(&ini, hosts_file.as_deref()).map_err(|e| e.to_string())?;
    dep.validate()
        .map_err(|e| format!("{e}\n(fix the ini first: `replicator validate` lists every problem)"))?;
    let host = dep.this_host(g.host.as_deref()).map_err(|e| e.to_string())?;
    let plan = dep.service_plan(&host).map_err(|e| e.to_string())?;
    let services: Vec<&str> = plan.services.iter().map(|s| s.service.as_str()).collect();
    let (user, user_origin) = service_user(&dep, &services)?;
    if is_root(&user) && !a.allow_root {
        return Err(format!(
            "{user_origin}: the service would run as root; the replicator needs no root privileges (fix: set user= \
             to a service account such as {DEFAULT_USER}, or pass --allow-root)"
        ));
    }
    let install_directory = match &install_directory_override {
        Some(d) => d.clone(),
        None => {
            let d = plan.services.first().map_or_else(
                || PathBuf::from(DEFAULT_INSTALL_DIRECTORY),
                |s| s.settings.install_directory.clone(),
            );
            if !d.is_absolute() {
                return Err(format!(
                    "{}: install-directory={} is not an absolute path (fix: write an absolute one, e.g. {DEFAULT_INSTALL_DIRECTORY})",
                    ini.display(),
                    d.display()
                ));
            }
            refuse_control("install-directory", &show(&d))?;
            d
        }
    };
    let bin_dir = match &a.bin_dir {
        Some(d) => absolute(d, "--bin-dir")?,
        None => {
            let exe = std::env::current_exe()
                .map_err(|e| format!("cannot find this binary's directory ({e}): pass --bin-dir DIR"))?;
            let dir = exe
                .parent()
                .map(Path::to_path_buf)
                .ok_or("cannot find this binary's directory: pass --bin-dir DIR")?;
            absolute(&dir, "the binaries' directory")?
        }
    };
    let replicator = bin_dir.join("replicator");
    if !replicator.is_file() {
        return Err(format!(
            "{} not found, which the unit would run (fix: pass --bin-dir DIR, the directory holding replicator, \
             trepctl and thl)",
            replicator.display()
        ));
    }
    let spec = Spec {
        host: plan.host.clone(),
        ini,
        hosts_file,
        install_directory_override,
        install_directory,
        bin_dir,
        user,
    };
    let mut completions = Vec::new();
    for (tool, required) in COMPLETING_TOOLS {
        if let Some(script) = completions_of(&spec.bin_dir, tool, *required)? {
            completions.push((completion_path(tool), render_completion(&spec, &script)));
        }
    }
    let completion_paths: Vec<PathBuf> = completions.iter().map(|(p, _)| p.clone()).collect();
    let mut files = vec![
        Planned {
            path: Spec::unit_path(),
            contents: render_unit(&spec),
        },
        Planned {
            path: spec.env_path(),
            contents: render_env(&spec, &completion_paths),
        },
    ];
    files.extend(
        completions
            .into_iter()
            .map(|(path, contents)| Planned { path, contents }),
    );

    let mut report = vec![format!(
        "host {}: the service runs as {} ({user_origin})",
        spec.host, spec.user
    )];
    report.extend(apply(&a.root, &spec.host, &files, a.force, a.dry_run)?);
    let staged = a.root != Path::new("/");
    if !staged && !a.dry_run && user_exists(&spec.user) == Some(false) {
        report.push(format!(
            "warning: user {0} does not exist here: useradd --system --home-dir {1} --shell /usr/sbin/nologin {0}",
            spec.user,
            spec.install_directory.display()
        ));
    }
    report.push("next:".into());
    if staged {
        report.push(format!(
            "  the files are under {}: copy them to the same paths under / on the host",
            a.root.display()
        ));
    }
    report.push(format!(
        "  install -d -o {} {}    # the THL and the catalog live there",
        spec.user,
        shell_word(&show(&spec.install_directory))
    ));
    report.push("  systemctl daemon-reload && systemctl enable --now tungsten-replicator".into());
    report.push(format!("  source {}", shell_word(&show(&spec.env_path()))));
    Ok(report.join("\n"))
}

/// The `# env.sh: PATH` line of a unit install wrote.
fn env_named_in_unit(unit: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(unit).ok()?;
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix("# env.sh: "))
        .map(PathBuf::from)
}

/// `replicator uninstall`: removes the files install wrote for this host
/// (every one with `--force`), and reports what it removed and left.
pub fn uninstall(g: &Globals, a: &UninstallArgs) -> Result<String, String> {
    if !a.root.is_dir() {
        return Err(format!(
            "--root {}: no such directory (fix: pass the root install wrote to)",
            a.root.display()
        ));
    }
    let mut report = Vec::new();
    let given_host = host_name(g)?.trim().to_ascii_lowercase();
    // The ini gives the host's ini name and its install directory; without
    // it, the host as given and the default directory (and the unit's
    // record of where env.sh went).
    let mut host = given_host.clone();
    let mut env_candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = &g.install_directory {
        env_candidates.push(env_path_in(&absolute(d, "the install directory")?));
    }
    match Deployment::load(&g.ini, g.hosts_file.as_deref()) {
        Ok(dep) => match dep.service_plan(&given_host) {
            Ok(plan) => {
                host = plan.host.clone();
                env_candidates.extend(plan.services.iter().map(|s| env_path_in(&s.settings.install_directory)));
            }
            Err(e) => report.push(format!("note: {e}: looking for host {given_host}'s files by that name")),
        },
        Err(e) => report.push(format!(
            "note: {e}: looking for env.sh under {DEFAULT_INSTALL_DIRECTORY} and where the unit says"
        )),
    }
    env_candidates.push(env_path_in(Path::new(DEFAULT_INSTALL_DIRECTORY)));
    let unit = Spec::unit_path();
    let unit_at = under(&a.root, &unit);
    let unit_bytes = fs::read(&unit_at).ok();
    if let Some(p) = unit_bytes.as_deref().and_then(env_named_in_unit) {
        env_candidates.push(p);
    }
    let enabled_link = under(&a.root, &Path::new(WANTS_DIR).join(UNIT_NAME));
    let unit_ours = unit_bytes.as_deref().and_then(written_for).is_some();
    if unit_ours && fs::symlink_metadata(&enabled_link).is_ok() && !a.force {
        return Err(format!(
            "tungsten-replicator is still enabled ({} exists): run `systemctl disable --now tungsten-replicator` \
             first (or pass --force); nothing removed",
            enabled_link.display()
        ));
    }
    let mut paths = vec![unit];
    paths.extend(env_candidates);
    paths.extend(COMPLETING_TOOLS.iter().map(|(t, _)| completion_path(t)));
    let mut seen = Vec::new();
    let mut removed_unit = false;
    for p in paths {
        let at = under(&a.root, &p);
        if seen.contains(&at) {
            continue;
        }
        seen.push(at.clone());
        let meta = match fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                report.push(format!("left         {}: cannot inspect it: {e}", at.display()));
                continue;
            }
        };
        let marked = if meta.is_file() {
            fs::read(&at).ok().as_deref().and_then(written_for)
        } else {
            None
        };
        match marked {
            None => report.push(format!(
                "left         {}: not written by replicator install",
                at.display()
            )),
            Some(h) if h != host && !a.force => report.push(format!(
                "left         {}: written for host {h} (uninstall with --host {h}, or pass --force)",
                at.display()
            )),
            Some(_) if a.dry_run => report.push(format!("would remove {}", at.display())),
            Some(_) => {
                fs::remove_file(&at).map_err(|e| {
                    format!(
                        "cannot remove {}: {e} (fix: run as a user who may write there)",
                        at.display()
                    )
                })?;
                report.push(format!("removed      {}", at.display()));
                removed_unit |= p == Spec::unit_path();
            }
        }
    }
    if !report
        .iter()
        .any(|l| l.starts_with("removed") || l.starts_with("would remove"))
    {
        report.push(format!(
            "nothing of replicator install's for host {host} under {}",
            a.root.display()
        ));
    }
    if removed_unit && a.root == Path::new("/") {
        report.push("next:\n  systemctl daemon-reload".into());
    }
    Ok(report.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn user_defaults_to_tungsten_and_disagreements_are_refused() {
        let dep = Deployment::parse("[alpha]\nmaster=db1\n", "t.ini").expect("parses");
        let (user, origin) = service_user(&dep, &["alpha"]).expect("default");
        assert_eq!(user, DEFAULT_USER);
        assert!(origin.contains("sets no user="), "{origin}");

        let two = "[defaults]\nuser=tungsten\n[alpha]\nmaster=db1\n[beta]\nrelay=db1\nrelay-source=alpha\nuser=other\n";
        let dep = Deployment::parse(two, "t.ini").expect("parses");
        let e = service_user(&dep, &["alpha", "beta"]).expect_err("two users");
        assert!(
            e.contains("user=tungsten at line 2 [defaults]") && e.contains("user=other at line 8 [beta]"),
            "{e}"
        );

        let dep = Deployment::parse("[alpha]\nmaster=db1\nuser=\n", "t.ini").expect("parses");
        assert!(service_user(&dep, &["alpha"])
            .expect_err("empty")
            .contains("needs a user name"));
        let dep = Deployment::parse("[alpha]\nmaster=db1\nuser=a b\n", "t.ini").expect("parses");
        assert!(service_user(&dep, &["alpha"]).is_err());
        assert!(is_root("root") && is_root("0") && !is_root("tungsten"));
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
        assert!(env.contains(
            "    if [ -r /usr/share/bash-completion/completions/trepctl ]; then . \
             /usr/share/bash-completion/completions/trepctl; fi\n"
        ));
    }

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

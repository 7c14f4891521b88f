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
//!
//! Modules: `render` (what the files contain, from a [`Spec`]) and `files`
//! (writing them under the root, reading the marker back); this one holds
//! the commands and their arguments, and makes the spec from the ini.

mod files;
mod render;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use control::config::{locate, Deployment};

pub use files::{apply, under, written_for, Planned};
use render::{completion_path, env_path_in, show};
pub use render::{
    render_completion, render_env, render_unit, shell_word, systemd_word, Spec, BASH_COMPLETIONS_DIR, MARKER, NOFILE,
    STOP_TIMEOUT, UNIT_DIR, UNIT_NAME,
};

/// The link `systemctl enable` makes (the unit is `WantedBy=` this target).
pub const WANTS_DIR: &str = "/etc/systemd/system/multi-user.target.wants";
/// The service user when the ini has no `user=`.
pub const DEFAULT_USER: &str = "tungsten";
/// The install directory when the ini has no `install-directory`.
pub const DEFAULT_INSTALL_DIRECTORY: &str = "/opt/continuent";

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

fn refuse_control(what: &str, s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err(format!(
            "{what} {s:?} contains a control character (a newline?): use a path without one"
        ));
    }
    Ok(())
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
}

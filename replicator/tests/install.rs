//! `replicator install` and `replicator uninstall` end to end, into a
//! temporary root: the real binary, the real `trepctl` beside it (for the
//! completions), `systemd-analyze verify` on the unit when this machine has
//! it, bash on env.sh and the completions. No database, no systemd running.
//!
//! Run: `cargo build -p trepctl && cargo test -p replicator --test install`

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPLICATOR: &str = env!("CARGO_BIN_EXE_replicator");

const INI: &str = "\
[defaults]
user=tungsten-svc
replication-password=secret
rest-api-admin-user=admin
rest-api-admin-password=secret

[alpha]
master=db1
members=db1,db2
";

/// The directory of the binaries under test (replicator, and trepctl when
/// built).
fn bin_dir() -> PathBuf {
    Path::new(REPLICATOR)
        .parent()
        .expect("the replicator binary has a directory")
        .to_path_buf()
}

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(ini: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("tungsten.ini"), ini).expect("write ini");
        fs::write(dir.path().join("hosts"), "127.0.0.11 db1\n127.0.0.12 db2\n").expect("write hosts");
        fs::create_dir(dir.path().join("root")).expect("root");
        Site { dir }
    }

    fn ini(&self) -> PathBuf {
        self.dir.path().join("tungsten.ini")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn at(&self, path: &str) -> PathBuf {
        self.root().join(path.trim_start_matches('/'))
    }

    fn replicator(&self, args: &[&str]) -> Output {
        Command::new(REPLICATOR)
            .arg("--config")
            .arg(self.ini())
            .arg("--hosts-file")
            .arg(self.dir.path().join("hosts"))
            .args(["--host", "db1"])
            .args(args)
            .arg("--root")
            .arg(self.root())
            .env_remove("TUNGSTEN_INI")
            .env_remove("TUNGSTEN_HOST")
            .env_remove("TUNGSTEN_HOSTS_FILE")
            .output()
            .expect("replicator runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.replicator(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "replicator {args:?} failed: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.replicator(args);
        assert!(
            !out.status.success(),
            "replicator {args:?} succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

const UNIT: &str = "/etc/systemd/system/tungsten-replicator.service";
const ENV: &str = "/opt/continuent/share/env.sh";
const TREPCTL_COMPLETIONS: &str = "/usr/share/bash-completion/completions/trepctl";
const THL_COMPLETIONS: &str = "/usr/share/bash-completion/completions/thl";

fn bash(script: &str) -> Output {
    Command::new("bash")
        .args(["-c", script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .expect("bash runs")
}

fn need_trepctl() {
    let trepctl = bin_dir().join("trepctl");
    assert!(
        trepctl.is_file(),
        "{} not found: build it first (cargo build -p trepctl); install runs `trepctl completions bash`",
        trepctl.display()
    );
}

#[test]
fn install_writes_the_unit_env_and_completions_and_uninstall_removes_only_them() {
    need_trepctl();
    let site = Site::new(INI);
    let bin = bin_dir();

    let out = site.ok(&["install"]);
    for f in [UNIT, ENV, TREPCTL_COMPLETIONS] {
        assert!(
            out.contains(&format!("written       {}", site.at(f).display())),
            "{out}"
        );
    }
    assert!(
        out.contains("runs as tungsten-svc (user= on line 2 [defaults] of the ini)"),
        "{out}"
    );
    assert!(
        out.contains("systemctl daemon-reload && systemctl enable --now tungsten-replicator"),
        "{out}"
    );

    // The unit.
    let unit = fs::read_to_string(site.at(UNIT)).expect("the unit");
    let marker = format!(
        "# written by replicator install for host db1 from {}\n",
        site.ini().display()
    );
    assert!(unit.starts_with(&marker), "{unit}");
    let exec = format!(
        "ExecStart={}/replicator --config {} --host db1 --hosts-file {}\n",
        bin.display(),
        site.ini().display(),
        site.dir.path().join("hosts").display()
    );
    for line in [
        exec.as_str(),
        "\nUser=tungsten-svc\n",
        "\nRestart=on-failure\n",
        "\nKillSignal=SIGTERM\n",
        "\nTimeoutStopSec=10min\n",
        "\nAfter=network-online.target mariadb.service\n",
        "\nLimitNOFILE=65536\n",
        "\nWantedBy=multi-user.target\n",
    ] {
        assert!(unit.contains(line), "missing {line:?} in\n{unit}");
    }
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(site.at(UNIT))
        .output()
    {
        Ok(v) => {
            let stderr = String::from_utf8_lossy(&v.stderr);
            assert!(v.status.success(), "systemd-analyze verify: {stderr}");
            assert!(
                !stderr.contains("tungsten-replicator.service"),
                "systemd-analyze verify warns about the unit: {stderr}"
            );
        }
        Err(e) => println!("note: systemd-analyze not available ({e}): the unit was not verified by systemd"),
    }

    // env.sh: valid shell, puts trepctl first on the PATH, names the ini,
    // and is safe to source twice under set -eu.
    let env = site.at(ENV);
    assert!(fs::read_to_string(&env).expect("env.sh").starts_with(&marker));
    let syntax = bash(&format!("bash -n '{}'", env.display()));
    assert!(
        syntax.status.success(),
        "bash -n env.sh: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let sourced = bash(&format!(
        "set -eu; source '{0}'; source '{0}'; command -v trepctl; echo \"$TUNGSTEN_INI\"; echo \"$TUNGSTEN_HOST\"; echo \"$PATH\"",
        env.display()
    ));
    let text = String::from_utf8_lossy(&sourced.stdout);
    assert!(
        sourced.status.success(),
        "sourcing env.sh: {}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            bin.join("trepctl").display().to_string(),
            site.ini().display().to_string(),
            "db1".to_owned(),
            format!("{}:/usr/bin:/bin", bin.display()),
        ]
    );

    // The completions: each tool's own script, which bash loads.
    for (file, tool) in [(TREPCTL_COMPLETIONS, "trepctl"), (THL_COMPLETIONS, "thl")] {
        let loaded = bash(&format!(
            "bash -n '{0}' && source '{0}' && complete -p {tool}",
            site.at(file).display()
        ));
        assert!(
            String::from_utf8_lossy(&loaded.stdout).contains(&format!("-F _{tool}")),
            "{}{}",
            String::from_utf8_lossy(&loaded.stdout),
            String::from_utf8_lossy(&loaded.stderr)
        );
    }

    // Again: the same bytes, nothing rewritten.
    let contents_and_times = || -> Vec<_> {
        [UNIT, ENV, TREPCTL_COMPLETIONS, THL_COMPLETIONS]
            .iter()
            .map(|f| {
                let p = site.at(f);
                (
                    fs::read(&p).expect("read"),
                    fs::metadata(&p).and_then(|m| m.modified()).expect("mtime"),
                )
            })
            .collect()
    };
    let before = contents_and_times();
    let again = site.ok(&["install"]);
    assert_eq!(again.matches("unchanged").count(), 4, "{again}");
    assert_eq!(before, contents_and_times());

    // A file install did not write (the operator replaced thl's
    // completions) stays; an enabled unit is not removed.
    fs::write(site.at(THL_COMPLETIONS), "complete -F _mine thl\n").expect("foreign file");
    let wants = site.at("/etc/systemd/system/multi-user.target.wants");
    fs::create_dir_all(&wants).expect("wants dir");
    std::os::unix::fs::symlink(UNIT, wants.join("tungsten-replicator.service")).expect("enable link");
    let e = site.fails(&["uninstall"]);
    assert!(
        e.contains("systemctl disable --now tungsten-replicator") && e.contains("nothing removed"),
        "{e}"
    );
    assert!(site.at(UNIT).is_file());
    fs::remove_file(wants.join("tungsten-replicator.service")).expect("disable");

    let dry = site.ok(&["uninstall", "--dry-run"]);
    assert_eq!(dry.matches("would remove").count(), 3, "{dry}");
    assert!(site.at(UNIT).is_file() && site.at(ENV).is_file());

    let out = site.ok(&["uninstall"]);
    for f in [UNIT, ENV, TREPCTL_COMPLETIONS] {
        assert!(out.contains(&format!("removed      {}", site.at(f).display())), "{out}");
        assert!(!site.at(f).exists(), "{f} is still there");
    }
    assert!(
        out.contains(&format!(
            "left         {}: not written by replicator install",
            site.at(THL_COMPLETIONS).display()
        )),
        "{out}"
    );
    assert_eq!(
        fs::read_to_string(site.at(THL_COMPLETIONS)).expect("foreign file"),
        "complete -F _mine thl\n"
    );
    let nothing = site.ok(&["uninstall"]);
    assert!(
        nothing.contains("nothing of replicator install's for host db1"),
        "{nothing}"
    );
}

#[test]
fn install_refuses_a_foreign_file_root_and_missing_binaries_and_writes_nothing() {
    need_trepctl();
    let site = Site::new(INI);

    // A unit the operator wrote: refused (naming it and the fix), nothing
    // written; --force replaces it.
    fs::create_dir_all(site.at("/etc/systemd/system")).expect("dir");
    fs::write(site.at(UNIT), "[Service]\nExecStart=/bin/true\n").expect("foreign unit");
    let e = site.fails(&["install"]);
    assert!(
        e.contains(&site.at(UNIT).display().to_string()) && e.contains("--force"),
        "{e}"
    );
    assert!(!site.at(ENV).exists(), "env.sh was written despite the refusal");
    let out = site.ok(&["install", "--force"]);
    assert!(
        out.contains(&format!("replaced      {}", site.at(UNIT).display())),
        "{out}"
    );

    // --dry-run writes nothing and shows the contents.
    let fresh = Site::new(INI);
    let dry = fresh.ok(&["install", "--dry-run"]);
    assert!(
        dry.contains("would write") && dry.contains("    | Restart=on-failure"),
        "{dry}"
    );
    assert_eq!(fs::read_dir(fresh.root()).expect("root").count(), 0);

    // user=root is refused without --allow-root.
    let rooted = Site::new(&INI.replace("user=tungsten-svc", "user=root"));
    let e = rooted.fails(&["install"]);
    assert!(e.contains("run as root") && e.contains("--allow-root"), "{e}");
    let out = rooted.ok(&["install", "--allow-root", "--dry-run"]);
    assert!(out.contains("    | User=root"), "{out}");

    // No trepctl in --bin-dir: the path and the fix.
    let bin = fresh.dir.path().join("bin");
    fs::create_dir(&bin).expect("bin");
    std::os::unix::fs::symlink(REPLICATOR, bin.join("replicator")).expect("link");
    let e = fresh.fails(&["install", "--bin-dir", bin.to_str().expect("utf-8 path")]);
    assert!(
        e.contains(&format!("{} not found", bin.join("trepctl").display())) && e.contains("--bin-dir"),
        "{e}"
    );
    assert_eq!(fs::read_dir(fresh.root()).expect("root").count(), 0);
}

//! `trepctl`, the operator CLI: a client of the replicator's REST API
//! (`replicator::rest`).
//!
//! Invariants: every command goes through the REST API (trepctl never
//! touches the THL or the catalog); every command prints Tungsten's layout
//! or, with `-json`, the API's JSON unchanged; exit status 0 on success, 1
//! on any error (including a `wait` that did not reach its goal), 2 on a
//! usage error.

use std::process::ExitCode;

use trepctl::cli::{Cli, Command};
use trepctl::run;

fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "trepctl", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("trepctl: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trepctl::cli::Target;

    fn parse(args: &[&str]) -> Cli {
        Cli::parse_args(std::iter::once("trepctl").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn tungsten_single_dash_options_parse() {
        let c = parse(&[
            "-host",
            "db1",
            "-port",
            "9000",
            "-service",
            "alpha",
            "online",
            "-skip-seqno",
            "10,12-14",
            "-until-seqno",
            "20",
            "-force",
        ]);
        assert_eq!(
            (c.host.as_deref(), c.port, c.service.as_deref()),
            (Some("db1"), Some(9000), Some("alpha"))
        );
        match c.command {
            Command::Online(a) => {
                assert_eq!(
                    (a.skip_seqno.as_deref(), a.until_seqno, a.force),
                    (Some("10,12-14"), Some(20), true)
                );
            }
            other => panic!("{other:?}"),
        }
        let c = parse(&["status", "-name", "tasks", "-json"]);
        assert!(c.json);
        assert!(matches!(c.command, Command::Status { name: Some(ref n) } if n == "tasks"));
        let c = parse(&["--service", "a", "offline", "--immediate"]);
        assert!(matches!(c.command, Command::Offline { immediate: true }));
        let c = parse(&["reset", "-thl", "-y"]);
        assert!(matches!(c.command, Command::Reset(ref r) if r.thl && r.yes && !r.all));
        let c = parse(&["wait", "-applied", "5", "-limit", "10"]);
        assert!(matches!(c.command, Command::Wait(ref w) if w.applied == Some(5) && w.limit == Some(10)));
        let c = parse(&["setrole", "-role", "replica", "-uri", "thl://h:2112/"]);
        assert!(matches!(c.command, Command::Setrole { ref role, .. } if role == "replica"));
        let c = parse(&["offline-deferred", "-at-seqno", "7"]);
        assert!(matches!(c.command, Command::OfflineDeferred { at_seqno: 7 }));
    }

    #[test]
    fn usage_errors_are_refused() {
        for bad in [
            &["wait"][..],
            &["wait", "-applied", "1", "-state", "ONLINE"],
            &["bogus"],
            &["offline-deferred"],
            &["completions", "tcsh"],
        ] {
            assert!(
                Cli::parse_args(std::iter::once("trepctl").chain(bad.iter().copied())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn every_command_has_help() {
        let cmd = <Cli as clap::CommandFactory>::command();
        for sub in cmd.get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
        }
    }

    #[test]
    fn the_target_comes_from_the_ini_with_credentials() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ini = dir.path().join("tungsten.ini");
        std::fs::write(
            &ini,
            "[defaults]\nrest-api-admin-user=adm\nrest-api-admin-password=s3\nreplicator-rest-api-address=0.0.0.0\nreplicator-rest-api-port=8111\n\
             [alpha]\ntopology=clustered\nmaster=host1.alpha\nmembers=host1.alpha\n",
        )
        .expect("ini");
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "127.0.1.7 host1.alpha\n").expect("hosts");
        let (ini, hosts) = (ini.display().to_string(), hosts.display().to_string());
        let c = parse(&[
            "--config",
            &ini,
            "--hosts-file",
            &hosts,
            "-host",
            "host1.alpha",
            "services",
        ]);
        let t = Target::resolve(&c).expect("target");
        assert_eq!(t.url, "http://127.0.1.7:8111");
        assert_eq!(
            (t.user.as_deref(), t.password.as_ref().map(|p| p.expose())),
            (Some("adm"), Some("s3"))
        );
        let c = parse(&["--hosts-file", &hosts, "-host", "host1.alpha", "-user", "x", "services"]);
        assert_eq!(Target::resolve(&c).expect("target").addr, "127.0.1.7:8097");
        let c = parse(&["services"]);
        assert_eq!(Target::resolve(&c).expect("target").url, "http://localhost:8097");
    }
}

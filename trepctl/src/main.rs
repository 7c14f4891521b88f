//! `trepctl`, the operator CLI: a client of the replicator's REST API
//! (`replicator::rest`).
//!
//! Invariants: every command goes through the REST API (trepctl never
//! touches the THL or the catalog); every command prints Tungsten's layout
//! or, with `-json`, the API's JSON unchanged; exit status 0 on success, 1
//! on any error (including a `wait` that did not reach its goal), 2 on a
//! usage error.

mod cli;
mod client;
mod output;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use cli::{Cli, Command, Target};
use client::{request, ClientError};

const BASE: &str = "/api/v2/replicator";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(150);

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

struct Session {
    target: Target,
}

impl Session {
    fn get(&self, path: &str) -> Result<Value, ClientError> {
        request(&self.target, "GET", &format!("{BASE}{path}"), None, DEFAULT_TIMEOUT)
    }

    fn post(&self, path: &str, body: Value, timeout: Duration) -> Result<Value, ClientError> {
        request(&self.target, "POST", &format!("{BASE}{path}"), Some(&body), timeout)
    }

    /// The service to address: -service, else the only one.
    fn service(&self, cli: &Cli) -> Result<String, String> {
        if let Some(s) = &cli.service {
            return Ok(s.clone());
        }
        let list = self.get("/services").map_err(|e| e.to_string())?;
        let names: Vec<String> = output::records(&list)
            .iter()
            .filter_map(|m| m.get("serviceName").and_then(Value::as_str).map(str::to_owned))
            .collect();
        match names.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(format!("the replicator at {} runs no service", self.target.url)),
            many => Err(format!(
                "the replicator runs several services ({}): choose one with -service NAME",
                many.join(", ")
            )),
        }
    }
}

fn show(cli: &Cli, name: &str, v: &Value) -> String {
    if cli.json {
        format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default())
    } else {
        output::command(name, &output::records(v))
    }
}

fn confirm(question: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err(format!("{question} needs confirmation: add -y"));
    }
    print!("{question} [yes/NO] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn run(cli: &Cli) -> Result<String, String> {
    let s = Session {
        target: Target::resolve(cli)?,
    };
    let e = |e: ClientError| e.to_string();
    let svc = |s: &Session| -> Result<String, String> { Ok(format!("/service/{}", s.service(cli)?)) };
    Ok(match &cli.command {
        Command::Completions { .. } => String::new(),
        Command::Version => {
            let v = s.get("/version").map_err(e)?;
            if cli.json {
                show(cli, "version", &v)
            } else {
                format!("{}\n", v["version"].as_str().unwrap_or_default())
            }
        }
        Command::Services { full } => {
            let v = if *full {
                let all = s.get("/status").map_err(e)?;
                Value::Array(
                    all.as_object()
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default(),
                )
            } else {
                s.get("/services").map_err(e)?
            };
            show(cli, "services", &v)
        }
        Command::Status { name } => {
            let q = name.as_ref().map(|n| format!("?name={n}")).unwrap_or_default();
            let v = s.get(&format!("{}/status{q}", svc(&s)?)).map_err(e)?;
            show(cli, "status", &v)
        }
        Command::Online(a) => {
            if a.skip.is_some() || a.seqno.is_some() {
                return Err("-skip and -seqno are obsolete: use -skip-seqno LIST or -until-seqno N".into());
            }
            let body = json!({"skipSeqno": a.skip_seqno, "fromEvent": a.from_event, "baseSeqno": a.base_seqno, "untilSeqno": a.until_seqno, "force": a.force});
            let body = strip_nulls(body);
            let v = s
                .post(&format!("{}/online", svc(&s)?), body, DEFAULT_TIMEOUT)
                .map_err(e)?;
            state_line(cli, &v)
        }
        Command::Offline { immediate } => {
            let v = s
                .post(
                    &format!("{}/offline", svc(&s)?),
                    json!({"immediate": immediate}),
                    DEFAULT_TIMEOUT,
                )
                .map_err(e)?;
            state_line(cli, &v)
        }
        Command::OfflineDeferred { at_seqno } => {
            let v = s
                .post(
                    &format!("{}/offline-deferred", svc(&s)?),
                    json!({"atSeqno": at_seqno}),
                    DEFAULT_TIMEOUT,
                )
                .map_err(e)?;
            if cli.json {
                show(cli, "offline-deferred", &v)
            } else {
                format!("{}\n", v["offlineRequests"].as_str().unwrap_or_default())
            }
        }
        Command::Setrole { role, uri } => {
            let v = s
                .post(
                    &format!("{}/setrole", svc(&s)?),
                    strip_nulls(json!({"role": role, "uri": uri})),
                    DEFAULT_TIMEOUT,
                )
                .map_err(e)?;
            if cli.json {
                show(cli, "setrole", &v)
            } else {
                format!(
                    "Role set to {} (used at the next online)\n",
                    v["role"].as_str().unwrap_or_default()
                )
            }
        }
        Command::Reset(a) => {
            let path = format!("{}/reset", svc(&s)?);
            let what = match (a.all, a.thl, a.db) {
                (false, false, false) | (true, _, _) => "the THL, the catalog and the tracking schema",
                (_, true, true) => "the THL and the tracking schema",
                (_, true, false) => "the THL",
                (_, false, true) => "the tracking schema",
            };
            if !a.yes
                && !confirm(&format!(
                    "Do you really want to delete {what} of service {}?",
                    path.trim_start_matches("/service/")
                ))?
            {
                return Ok("Reset cancelled\n".into());
            }
            let v = s
                .post(&path, json!({"all": a.all, "thl": a.thl, "db": a.db}), DEFAULT_TIMEOUT)
                .map_err(e)?;
            if cli.json {
                show(cli, "reset", &v)
            } else {
                let removed: Vec<String> = v["removed"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|r| format!("Deleted {r}\n"))
                    .collect();
                if removed.is_empty() {
                    "Nothing to delete\n".into()
                } else {
                    removed.concat()
                }
            }
        }
        Command::Heartbeat { name } => {
            let v = s
                .post(
                    &format!("{}/heartbeat", svc(&s)?),
                    strip_nulls(json!({"name": name})),
                    DEFAULT_TIMEOUT,
                )
                .map_err(e)?;
            if cli.json {
                show(cli, "heartbeat", &v)
            } else {
                String::new()
            }
        }
        Command::Flush { limit } => {
            let t = Duration::from_secs(limit.unwrap_or(60) + 30);
            let v = s
                .post(&format!("{}/flush", svc(&s)?), strip_nulls(json!({"limit": limit})), t)
                .map_err(e)?;
            if cli.json {
                show(cli, "flush", &v)
            } else {
                format!(
                    "Master log is synchronized with database at log sequence number: {}\n",
                    v["seqno"]
                )
            }
        }
        Command::Wait(a) => {
            if let Some(st) = &a.state {
                st.parse::<control::state::State>()
                    .map(|_| ())
                    .or_else(|_| control::state::check_state_pattern(st))
                    .map_err(|e| e.to_string())?;
            }
            let t = a
                .limit
                .map_or(Duration::from_secs(86_400 + 30), |l| Duration::from_secs(l + 30));
            let v = s
                .post(
                    &format!("{}/wait", svc(&s)?),
                    strip_nulls(json!({"applied": a.applied, "state": a.state, "limit": a.limit})),
                    t,
                )
                .map_err(e)?;
            let goal = a.applied.map_or_else(
                || format!("state {}", a.state.clone().unwrap_or_default()),
                |n| format!("applied seqno {n}"),
            );
            if v["reached"] != Value::Bool(true) {
                return Err(format!(
                    "wait for {goal}: not reached (state {}, applied seqno {})",
                    text(&v["state"]),
                    v["appliedLastSeqno"]
                ));
            }
            if cli.json {
                show(cli, "wait", &v)
            } else {
                String::new()
            }
        }
        Command::Clients => {
            let v = s.get(&format!("{}/clients", svc(&s)?)).map_err(e)?;
            show(cli, "clients", &v)
        }
        Command::Qs => {
            let v = s.get(&format!("{}/status", svc(&s)?)).map_err(e)?;
            if cli.json {
                show(cli, "qs", &v)
            } else {
                output::records(&v)
                    .first()
                    .map(|m| output::quick_status(m))
                    .unwrap_or_default()
            }
        }
        Command::Perf => {
            let base = svc(&s)?;
            let st = s.get(&format!("{base}/status")).map_err(e)?;
            let tasks = s.get(&format!("{base}/status?name=tasks")).map_err(e)?;
            if cli.json {
                show(cli, "perf", &tasks)
            } else {
                let in_state = st["timeInStateSeconds"]
                    .as_str()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0.0);
                output::perf(&output::records(&tasks), in_state)
            }
        }
    })
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn state_line(cli: &Cli, v: &Value) -> String {
    if cli.json {
        show(cli, "state", v)
    } else {
        format!("{}: {}\n", text(&v["serviceName"]), text(&v["state"]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((t.user.as_deref(), t.password.as_deref()), (Some("adm"), Some("s3")));
        let c = parse(&["--hosts-file", &hosts, "-host", "host1.alpha", "-user", "x", "services"]);
        assert_eq!(Target::resolve(&c).expect("target").addr, "127.0.1.7:8097");
        let c = parse(&["services"]);
        assert_eq!(Target::resolve(&c).expect("target").url, "http://localhost:8097");
    }
}

//! One function per `trepctl` command: the REST call it makes and what it
//! prints (Tungsten's layout, or the API's JSON with `-json`).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use control::requests::{
    FlushRequest, HeartbeatRequest, OfflineDeferredRequest, OfflineRequest, OnlineRequest, ResetScope, SetroleRequest,
    WaitRequest,
};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Cli, OnlineArgs, ResetArgs, Target, WaitArgs};
use crate::client::{request, ClientError};
use crate::output;

const BASE: &str = "/api/v2/replicator";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(150);

/// A connection target for the commands of one run.
pub struct Session {
    pub target: Target,
}

impl Session {
    fn get(&self, path: &str) -> Result<Value, ClientError> {
        request(&self.target, "GET", &format!("{BASE}{path}"), None, DEFAULT_TIMEOUT)
    }

    /// POSTs one of the API's request bodies (`control::requests`).
    fn post(&self, path: &str, body: &impl Serialize, timeout: Duration) -> Result<Value, ClientError> {
        let url = format!("{BASE}{path}");
        let body = serde_json::to_value(body).map_err(|e| ClientError::Protocol {
            url: url.clone(),
            message: format!("cannot encode the request: {e}"),
        })?;
        request(&self.target, "POST", &url, Some(&body), timeout)
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

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn state_line(cli: &Cli, v: &Value) -> String {
    if cli.json {
        show(cli, "state", v)
    } else {
        format!("{}: {}\n", text(&v["serviceName"]), text(&v["state"]))
    }
}

/// A REST error as trepctl prints it.
fn failed(e: ClientError) -> String {
    e.to_string()
}

/// `/service/NAME` of the service to address.
fn service_path(cli: &Cli, s: &Session) -> Result<String, String> {
    Ok(format!("/service/{}", s.service(cli)?))
}

/// The replicator's version.
pub fn version(cli: &Cli, s: &Session) -> Result<String, String> {
    let v = s.get("/version").map_err(failed)?;
    Ok(if cli.json {
        show(cli, "version", &v)
    } else {
        format!("{}\n", v["version"].as_str().unwrap_or_default())
    })
}

/// The services of the replicator (`-full`: with their status).
pub fn services(cli: &Cli, s: &Session, full: bool) -> Result<String, String> {
    let v = if full {
        let all = s.get("/status").map_err(failed)?;
        Value::Array(
            all.as_object()
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default(),
        )
    } else {
        s.get("/services").map_err(failed)?
    };
    Ok(show(cli, "services", &v))
}

/// A service's status, or one of its `-name` lists.
pub fn status(cli: &Cli, s: &Session, name: Option<&str>) -> Result<String, String> {
    let q = name.as_ref().map(|n| format!("?name={n}")).unwrap_or_default();
    let v = s.get(&format!("{}/status{q}", service_path(cli, s)?)).map_err(failed)?;
    Ok(show(cli, "status", &v))
}

/// `online`: the options go to the REST API, which validates them.
pub fn online(cli: &Cli, s: &Session, a: &OnlineArgs) -> Result<String, String> {
    if a.skip.is_some() || a.seqno.is_some() {
        return Err("-skip and -seqno are obsolete: use -skip-seqno LIST or -until-seqno N".into());
    }
    let body = OnlineRequest {
        skip_seqno: a.skip_seqno.clone(),
        from_event: a.from_event.clone(),
        base_seqno: a.base_seqno,
        until_seqno: a.until_seqno,
        force: a.force,
    };
    let v = s
        .post(&format!("{}/online", service_path(cli, s)?), &body, DEFAULT_TIMEOUT)
        .map_err(failed)?;
    Ok(state_line(cli, &v))
}

/// `offline [-immediate]`.
pub fn offline(cli: &Cli, s: &Session, immediate: bool) -> Result<String, String> {
    let v = s
        .post(
            &format!("{}/offline", service_path(cli, s)?),
            &OfflineRequest { immediate },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(state_line(cli, &v))
}

/// `offline-deferred -at-seqno N`.
pub fn offline_deferred(cli: &Cli, s: &Session, at_seqno: i64) -> Result<String, String> {
    let v = s
        .post(
            &format!("{}/offline-deferred", service_path(cli, s)?),
            &OfflineDeferredRequest {
                at_seqno: Some(at_seqno),
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "offline-deferred", &v)
    } else {
        format!("{}\n", v["offlineRequests"].as_str().unwrap_or_default())
    })
}

/// `setrole -role R [-uri U]`, used at the next `online`.
pub fn setrole(cli: &Cli, s: &Session, role: &str, uri: Option<&str>) -> Result<String, String> {
    let v = s
        .post(
            &format!("{}/setrole", service_path(cli, s)?),
            &SetroleRequest {
                role: Some(role.to_owned()),
                uri: uri.map(str::to_owned),
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "setrole", &v)
    } else {
        format!(
            "Role set to {} (used at the next online)\n",
            v["role"].as_str().unwrap_or_default()
        )
    })
}

/// `reset [-all|-thl|-db] [-y]`, after a confirmation.
pub fn reset(cli: &Cli, s: &Session, a: &ResetArgs) -> Result<String, String> {
    let path = format!("{}/reset", service_path(cli, s)?);
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
        .post(
            &path,
            &ResetScope {
                all: a.all,
                thl: a.thl,
                db: a.db,
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
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
    })
}

/// `heartbeat [-name N]`.
pub fn heartbeat(cli: &Cli, s: &Session, name: Option<&str>) -> Result<String, String> {
    let v = s
        .post(
            &format!("{}/heartbeat", service_path(cli, s)?),
            &HeartbeatRequest {
                name: name.map(str::to_owned),
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "heartbeat", &v)
    } else {
        String::new()
    })
}

/// `flush [-limit S]`: the seqno at which the THL holds the source's current position.
pub fn flush(cli: &Cli, s: &Session, limit: Option<u64>) -> Result<String, String> {
    let t = Duration::from_secs(limit.unwrap_or(60) + 30);
    let v = s
        .post(&format!("{}/flush", service_path(cli, s)?), &FlushRequest { limit }, t)
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "flush", &v)
    } else {
        format!(
            "Master log is synchronized with database at log sequence number: {}\n",
            v["seqno"]
        )
    })
}

/// `wait -applied N | -state S [-limit S]`: an error when the goal is not reached.
pub fn wait(cli: &Cli, s: &Session, a: &WaitArgs) -> Result<String, String> {
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
            &format!("{}/wait", service_path(cli, s)?),
            &WaitRequest {
                applied: a.applied,
                state: a.state.clone(),
                limit: a.limit,
            },
            t,
        )
        .map_err(failed)?;
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
    Ok(if cli.json { show(cli, "wait", &v) } else { String::new() })
}

/// The THL clients of the service.
pub fn clients(cli: &Cli, s: &Session) -> Result<String, String> {
    let v = s.get(&format!("{}/clients", service_path(cli, s)?)).map_err(failed)?;
    Ok(show(cli, "clients", &v))
}

/// One line of quick status.
pub fn qs(cli: &Cli, s: &Session) -> Result<String, String> {
    let v = s.get(&format!("{}/status", service_path(cli, s)?)).map_err(failed)?;
    Ok(if cli.json {
        show(cli, "qs", &v)
    } else {
        output::records(&v)
            .first()
            .map(|m| output::quick_status(m))
            .unwrap_or_default()
    })
}

/// The stages' figures.
pub fn perf(cli: &Cli, s: &Session) -> Result<String, String> {
    let base = service_path(cli, s)?;
    let st = s.get(&format!("{base}/status")).map_err(failed)?;
    let tasks = s.get(&format!("{base}/status?name=tasks")).map_err(failed)?;
    Ok(if cli.json {
        show(cli, "perf", &tasks)
    } else {
        let in_state = st["timeInStateSeconds"]
            .as_str()
            .and_then(|x| x.parse().ok())
            .unwrap_or(0.0);
        output::perf(&output::records(&tasks), in_state)
    })
}

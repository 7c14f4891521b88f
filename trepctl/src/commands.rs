//! One function per `trepctl` command: the REST call it makes and what it
//! prints (Tungsten's layout, or the API's JSON with `-json`).
//!
//! Invariants: `-json` prints the answer's JSON as it came; a command that
//! reads a field of an answer reads it through the answer's type in
//! `control::responses` (`Answer::typed`), so a field the replicator
//! left out is an error naming the route and the field, never a default.
//! Status maps have no fixed set of properties: they are printed as maps
//! (`output`), and a property a command needs is looked up by name
//! (`property`), with the same kind of error when it is absent.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use control::requests::{
    FlushRequest, HeartbeatRequest, OfflineDeferredRequest, OfflineRequest, OnlineRequest, ReadOnlyRequest, ResetScope,
    SetroleRequest, WaitRequest,
};
use control::responses::{
    AllStatus, FlushResponse, OfflineDeferredResponse, ReadOnlyResponse, ResetResponse, ServiceSummary,
    SetroleResponse, StateResponse, StatusMap, VersionResponse, WaitResponse,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Cli, OnlineArgs, ResetArgs, Target, WaitArgs};
use crate::client::{request, ClientError};
use crate::output;

const BASE: &str = control::requests::API_BASE;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(150);

/// A connection target for the commands of one run.
pub struct Session {
    pub target: Target,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("url", &self.target.url)
            .finish_non_exhaustive()
    }
}

/// One answer of the REST API: its JSON as it came, and the URL that gave it.
#[derive(Debug)]
pub(crate) struct Answer {
    url: String,
    json: Value,
}

impl Answer {
    /// The answer as `T`, its type in `control::responses`. A field of `T`
    /// the answer lacks is an error naming the route and the field (serde's
    /// "missing field" message); a field of another type names the route
    /// and the types.
    pub(crate) fn typed<T: DeserializeOwned>(&self) -> Result<T, String> {
        T::deserialize(&self.json).map_err(|e| self.bad(e.to_string()))
    }

    /// An answer that is not what the API promises.
    fn bad(&self, message: String) -> String {
        ClientError::Protocol {
            url: self.url.clone(),
            message,
        }
        .to_string()
    }
}

/// The value of `key` in a status map of `answer`; absent is an error
/// naming the route and the property.
fn property<'a>(answer: &Answer, map: &'a StatusMap, key: &str) -> Result<&'a str, String> {
    map.get(key)
        .map(String::as_str)
        .ok_or_else(|| answer.bad(format!("the status map has no property `{key}`")))
}

impl Session {
    pub(crate) fn get(&self, path: &str) -> Result<Answer, ClientError> {
        let path = format!("{BASE}{path}");
        let json = request(&self.target, "GET", &path, None, DEFAULT_TIMEOUT)?;
        Ok(Answer {
            url: format!("{}{path}", self.target.url),
            json,
        })
    }

    /// POSTs one of the API's request bodies (`control::requests`).
    pub(crate) fn post(&self, path: &str, body: &impl Serialize, timeout: Duration) -> Result<Answer, ClientError> {
        let path = format!("{BASE}{path}");
        let body = serde_json::to_value(body).map_err(|e| ClientError::Protocol {
            url: path.clone(),
            message: format!("cannot encode the request: {e}"),
        })?;
        let json = request(&self.target, "POST", &path, Some(&body), timeout)?;
        Ok(Answer {
            url: format!("{}{path}", self.target.url),
            json,
        })
    }

    /// The service to address: -service, else the only one.
    fn service(&self, cli: &Cli) -> Result<String, String> {
        if let Some(s) = &cli.service {
            return Ok(s.clone());
        }
        let list: Vec<ServiceSummary> = self.get("/services").map_err(|e| e.to_string())?.typed()?;
        let names: Vec<String> = list.into_iter().map(|m| m.service_name).collect();
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

/// The answer of `online` and `offline`.
fn state_line(cli: &Cli, ans: &Answer) -> Result<String, String> {
    Ok(if cli.json {
        show(cli, "state", &ans.json)
    } else {
        let r: StateResponse = ans.typed()?;
        format!("{}: {}\n", r.service_name, r.state)
    })
}

/// A REST error as trepctl prints it.
pub(crate) fn failed(e: ClientError) -> String {
    e.to_string()
}

/// `/service/NAME` of the service to address.
pub(crate) fn service_path(cli: &Cli, s: &Session) -> Result<String, String> {
    Ok(format!("/service/{}", s.service(cli)?))
}

/// The replicator's version.
pub fn version(cli: &Cli, s: &Session) -> Result<String, String> {
    let ans = s.get("/version").map_err(failed)?;
    Ok(if cli.json {
        show(cli, "version", &ans.json)
    } else {
        format!("{}\n", ans.typed::<VersionResponse>()?.version)
    })
}

/// The services of the replicator (`-full`: with their status).
pub fn services(cli: &Cli, s: &Session, full: bool) -> Result<String, String> {
    let v = if full {
        let all: AllStatus = s.get("/status").map_err(failed)?.typed()?;
        Value::Array(
            all.into_values()
                .map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
                .collect(),
        )
    } else {
        s.get("/services").map_err(failed)?.json
    };
    Ok(show(cli, "services", &v))
}

/// A service's status, or one of its `-name` lists.
pub fn status(cli: &Cli, s: &Session, name: Option<&str>) -> Result<String, String> {
    let q = name.as_ref().map(|n| format!("?name={n}")).unwrap_or_default();
    let ans = s.get(&format!("{}/status{q}", service_path(cli, s)?)).map_err(failed)?;
    Ok(show(cli, "status", &ans.json))
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
    let ans = s
        .post(&format!("{}/online", service_path(cli, s)?), &body, DEFAULT_TIMEOUT)
        .map_err(failed)?;
    state_line(cli, &ans)
}

/// `offline [-immediate]`.
pub fn offline(cli: &Cli, s: &Session, immediate: bool) -> Result<String, String> {
    let ans = s
        .post(
            &format!("{}/offline", service_path(cli, s)?),
            &OfflineRequest { immediate },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    state_line(cli, &ans)
}

/// `offline-deferred -at-seqno N`.
pub fn offline_deferred(cli: &Cli, s: &Session, at_seqno: i64) -> Result<String, String> {
    let ans = s
        .post(
            &format!("{}/offline-deferred", service_path(cli, s)?),
            &OfflineDeferredRequest {
                at_seqno: Some(at_seqno),
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "offline-deferred", &ans.json)
    } else {
        format!("{}\n", ans.typed::<OfflineDeferredResponse>()?.offline_requests)
    })
}

/// `setrole -role R [-uri U]`, used at the next `online`.
pub fn setrole(cli: &Cli, s: &Session, role: &str, uri: Option<&str>) -> Result<String, String> {
    let ans = s
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
        show(cli, "setrole", &ans.json)
    } else {
        format!(
            "Role set to {} (used at the next online)\n",
            ans.typed::<SetroleResponse>()?.role
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
    let ans = s
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
        show(cli, "reset", &ans.json)
    } else {
        let removed: Vec<String> = ans
            .typed::<ResetResponse>()?
            .removed
            .iter()
            .map(|r| format!("Deleted {r}\n"))
            .collect();
        if removed.is_empty() {
            "Nothing to delete\n".into()
        } else {
            removed.concat()
        }
    })
}

/// `read-only on|off`: the local database's `read_only`.
pub fn read_only(cli: &Cli, s: &Session, on: bool) -> Result<String, String> {
    let ans = s
        .post(
            &format!("{}/read-only", service_path(cli, s)?),
            &ReadOnlyRequest { read_only: on },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "read-only", &ans.json)
    } else {
        let r: ReadOnlyResponse = ans.typed()?;
        format!("read_only: {} (was {})\n", on_off(r.read_only), on_off(r.before))
    })
}

/// `ON` or `OFF`, as MariaDB shows a boolean variable.
pub(crate) fn on_off(v: bool) -> &'static str {
    if v {
        "ON"
    } else {
        "OFF"
    }
}

/// `heartbeat [-name N]`.
pub fn heartbeat(cli: &Cli, s: &Session, name: Option<&str>) -> Result<String, String> {
    let ans = s
        .post(
            &format!("{}/heartbeat", service_path(cli, s)?),
            &HeartbeatRequest {
                name: name.map(str::to_owned),
            },
            DEFAULT_TIMEOUT,
        )
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "heartbeat", &ans.json)
    } else {
        String::new()
    })
}

/// `flush [-limit S]`: the seqno at which the THL holds the source's current position.
pub fn flush(cli: &Cli, s: &Session, limit: Option<u64>) -> Result<String, String> {
    let t = Duration::from_secs(limit.unwrap_or(60) + 30);
    let ans = s
        .post(&format!("{}/flush", service_path(cli, s)?), &FlushRequest { limit }, t)
        .map_err(failed)?;
    Ok(if cli.json {
        show(cli, "flush", &ans.json)
    } else {
        format!(
            "Master log is synchronized with database at log sequence number: {}\n",
            ans.typed::<FlushResponse>()?.seqno
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
    let ans = s
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
    let w: WaitResponse = ans.typed()?;
    if !w.reached {
        return Err(format!(
            "wait for {goal}: not reached (state {}, applied seqno {})",
            w.state, w.applied_last_seqno
        ));
    }
    Ok(if cli.json {
        show(cli, "wait", &ans.json)
    } else {
        String::new()
    })
}

/// The THL clients of the service.
pub fn clients(cli: &Cli, s: &Session) -> Result<String, String> {
    let ans = s.get(&format!("{}/clients", service_path(cli, s)?)).map_err(failed)?;
    Ok(show(cli, "clients", &ans.json))
}

/// One line of quick status.
pub fn qs(cli: &Cli, s: &Session) -> Result<String, String> {
    let ans = s.get(&format!("{}/status", service_path(cli, s)?)).map_err(failed)?;
    Ok(if cli.json {
        show(cli, "qs", &ans.json)
    } else {
        output::records(&ans.json)
            .first()
            .map(|m| output::quick_status(m))
            .unwrap_or_default()
    })
}

/// `reload`: the replicator re-reads its ini.
pub fn reload(cli: &Cli, s: &Session) -> Result<String, String> {
    let ans = s
        .post("/reload", &serde_json::json!({}), DEFAULT_TIMEOUT)
        .map_err(failed)?;
    if cli.json {
        return Ok(show(cli, "reload", &ans.json));
    }
    let applied: Vec<String> = ans
        .json
        .get("applied")
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default();
    let ini = ans.json.get("ini").and_then(|v| v.as_str()).unwrap_or("the ini");
    Ok(if applied.is_empty() {
        format!("Reloaded {ini}: nothing changed for this host\n")
    } else {
        format!(
            "Reloaded {ini}:\n{}",
            applied.iter().map(|a| format!("- {a}\n")).collect::<String>()
        )
    })
}

/// The stages' figures (`status -name stages`).
pub fn perf(cli: &Cli, s: &Session) -> Result<String, String> {
    let base = service_path(cli, s)?;
    let stages = s.get(&format!("{base}/status?name=stages")).map_err(failed)?;
    let maps: Vec<StatusMap> = stages.typed()?;
    for m in &maps {
        property(&stages, m, "stage")?;
    }
    Ok(if cli.json {
        show(cli, "perf", &stages.json)
    } else {
        output::perf(&output::records(&stages.json))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;
    use crate::cli::Command;

    /// A replicator that answers each request whose first line contains
    /// one of `routes`' keys with its body (200), the rest with a 404; it
    /// serves `count` requests. Returns its session.
    fn fake(routes: &[(&'static str, &'static str)], count: usize) -> (Session, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let routes = routes.to_vec();
        let server = std::thread::spawn(move || {
            for _ in 0..count {
                let (mut s, _) = listener.accept().expect("accept");
                let req = read_request(&mut s);
                let line = req.lines().next().unwrap_or_default().to_owned();
                let (status, body) = routes.iter().find(|(k, _)| line.contains(k)).map_or(
                    ("404 Not Found", r#"{"error":"no such route","status":404}"#),
                    |(_, b)| ("200 OK", *b),
                );
                let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}", body.len());
            }
        });
        let target = Target {
            addr: format!("127.0.0.1:{port}"),
            url: format!("http://127.0.0.1:{port}"),
            user: None,
            password: None,
            tls: None,
        };
        (Session { target }, server)
    }

    /// The whole request, body included (closing a socket with unread
    /// bytes resets the connection before the client reads the answer).
    fn read_request(s: &mut std::net::TcpStream) -> String {
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).expect("read");
            req.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&req).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if n == 0 || req.len() >= end + 4 + length {
                    return text;
                }
            } else if n == 0 {
                return text;
            }
        }
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_args(std::iter::once("trepctl").chain(args.iter().copied())).expect("parses")
    }

    #[test]
    fn a_field_the_replicator_leaves_out_is_an_error_naming_the_route_and_the_field() {
        let (s, server) = fake(&[("/wait", r#"{"state":"ONLINE","appliedLastSeqno":3}"#)], 1);
        let c = cli(&["-service", "alpha", "wait", "-applied", "3"]);
        let Command::Wait(w) = &c.command else {
            panic!("{:?}", c.command)
        };
        let e = wait(&c, &s, w).expect_err("no reached");
        assert!(
            e.contains("/api/v2/replicator/service/alpha/wait") && e.contains("missing field `reached`"),
            "{e}"
        );
        server.join().expect("server");

        let services = r#"[{"appliedLastSeqno":"-1","appliedLatency":"-1.0","masterConnectUri":"","relativeLatency":"-1.0",
            "role":"master","serviceType":"local","started":"true","state":"ONLINE"}]"#;
        let (s, server) = fake(&[("/services", services)], 1);
        let e = flush(&cli(&["flush"]), &s, None).expect_err("no serviceName");
        assert!(
            e.contains("/api/v2/replicator/services") && e.contains("missing field `serviceName`"),
            "{e}"
        );
        server.join().expect("server");

        let (s, server) = fake(&[("/status?name=stages", r#"[{"eventCount":"3"}]"#)], 1);
        let e = perf(&cli(&["-service", "alpha", "perf"]), &s).expect_err("no stage");
        assert!(
            e.contains("/api/v2/replicator/service/alpha/status?name=stages") && e.contains("`stage`"),
            "{e}"
        );
        server.join().expect("server");
    }

    #[test]
    fn typed_answers_print_tungsten_lines_and_json_prints_the_answer_as_it_came() {
        let services = r#"[{"appliedLastSeqno":"-1","appliedLatency":"-1.0","masterConnectUri":"","relativeLatency":"-1.0",
            "role":"master","serviceName":"alpha","serviceType":"local","started":"true","state":"ONLINE"}]"#;
        let (s, server) = fake(&[("/services", services), ("/flush", r#"{"seqno":12}"#)], 2);
        assert_eq!(
            flush(&cli(&["flush"]), &s, None),
            Ok("Master log is synchronized with database at log sequence number: 12\n".into())
        );
        server.join().expect("server");

        let answer = r#"{"serviceName":"alpha","state":"OFFLINE:NORMAL","addedLater":1}"#;
        let (s, server) = fake(&[("/offline", answer)], 2);
        assert_eq!(
            offline(&cli(&["-service", "alpha", "offline"]), &s, false),
            Ok("alpha: OFFLINE:NORMAL\n".into())
        );
        let out = offline(&cli(&["-service", "alpha", "-json", "offline"]), &s, false).expect("json");
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["addedLater"], 1, "{out}");
        server.join().expect("server");
    }
}

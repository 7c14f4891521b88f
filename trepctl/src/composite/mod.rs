//! `trepctl composite ...` (issue 13): `status`, the topology view (every
//! host of every dataservice of the ini, one line each, as its replicator
//! reports it through the REST API, and the composite dataservices with
//! their members), and `switch`, `failover`, `recover` (`switch.rs`).
//!
//! Invariants: it needs the ini (`--config`, `$TUNGSTEN_INI` or
//! `/etc/tungsten/tungsten.ini`) and never this host's own name (it may run
//! anywhere that reaches the replicators); a host that does not answer is
//! a line that says why, never a failed command; each request has a short
//! timeout, so a dead site costs seconds, not minutes.

use std::time::Duration;

use control::config::{locate, Deployment};
use control::responses::ServiceSummary;

use crate::cli::{Cli, Target};
use crate::client::request;

mod host;
mod switch;

pub use switch::{failover, recover, switch};

const PER_HOST: Duration = Duration::from_secs(5);

/// The topology table.
pub fn status(cli: &Cli) -> Result<String, String> {
    let ini = locate::ini_if_any(cli.config.as_deref())
        .ok_or("composite status needs the deployment's ini: pass --config tungsten.ini")?;
    let dep = Deployment::load(&ini, cli.hosts_file.as_deref()).map_err(|e| e.to_string())?;
    Ok(status_table(&dep, &ini, cli))
}

/// The topology table of `dep`.
fn status_table(dep: &Deployment, ini: &std::path::Path, cli: &Cli) -> String {
    let ini = ini.to_path_buf();
    let mut rows = vec![["DATASERVICE", "HOST", "ROLE", "STATE", "APPLIED", "LATENCY", "UPSTREAM"].map(str::to_owned)];
    for ds in &dep.dataservices {
        for host in ds.hosts() {
            rows.push(host_row(dep, &ini, &ds.name, &host, cli));
        }
    }
    let mut out = table(&rows);
    for c in &dep.composites {
        out.push_str(&format!("{}: composite of {}\n", c.name, c.members.join(", ")));
    }
    out
}

fn host_row(dep: &Deployment, ini: &std::path::Path, service: &str, host: &str, cli: &Cli) -> [String; 7] {
    let unreachable = |why: String| {
        [
            service.to_owned(),
            host.to_owned(),
            "-".into(),
            "UNREACHABLE".into(),
            "-".into(),
            "-".into(),
            why,
        ]
    };
    let target = match Target::for_ini_host(dep, ini, host, cli) {
        Ok(t) => t,
        Err(e) => return unreachable(e),
    };
    let path = format!("{}/services", control::requests::API_BASE);
    let answer = match request(&target, "GET", &path, None, PER_HOST) {
        Ok(v) => v,
        Err(e) => return unreachable(e.to_string()),
    };
    let services: Vec<ServiceSummary> = match serde_json::from_value(answer) {
        Ok(s) => s,
        Err(e) => return unreachable(format!("bad answer from {}: {e}", target.url)),
    };
    match services.into_iter().find(|s| s.service_name == service) {
        Some(s) => [
            service.to_owned(),
            host.to_owned(),
            s.role.to_string(),
            s.state.to_string(),
            s.applied_last_seqno,
            s.applied_latency,
            if s.master_connect_uri.is_empty() {
                "-".into()
            } else {
                s.master_connect_uri
            },
        ],
        None => unreachable(format!(
            "{host}'s replicator runs no service {service} (restart it with this ini?)"
        )),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(rows: &[[String; 7]]) -> String {
    let mut width = [0usize; 7];
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().zip(width).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_host_is_a_line_not_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ini = dir.path().join("tungsten.ini");
        std::fs::write(
            &ini,
            "[defaults]\nreplicator-rest-api-address=0.0.0.0\nreplicator-rest-api-port=1\n\
             [alpha]\nmaster=a1\nmembers=a1,a2\n[gamma]\ncomposite-datasources=alpha\n",
        )
        .expect("ini");
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "127.0.0.1 a1\n127.0.0.1 a2\n").expect("hosts");
        let cli = Cli::parse_args([
            "trepctl",
            "--config",
            &ini.display().to_string(),
            "--hosts-file",
            &hosts.display().to_string(),
            "composite",
            "status",
        ])
        .expect("parses");
        let out = status(&cli).expect("a table");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("DATASERVICE  HOST"), "{out}");
        assert!(
            lines[1].starts_with("alpha        a1") && lines[1].contains("UNREACHABLE"),
            "{out}"
        );
        assert!(
            lines[2].contains("a2") && lines[2].contains("connection refused"),
            "{out}"
        );
        assert_eq!(lines[3], "gamma: composite of alpha");
    }
}

//! The description of a running conformance deployment that the runner and
//! its checkpoint subprocesses (started by mysqltest's `--exec`) share
//! through the environment, and the things both need from it: a root
//! connection to a host, how the replicas replicate ([`Replication`]: the
//! project's replicators or MariaDB's native replication), and the state
//! of a host's replicator.
//!
//! Invariants: the first host is the primary; a replicator's state is read
//! from its REST API through the project's `trepctl` (`-json status`),
//! with a bounded wait; connections go through each instance's Unix socket
//! as root, so nothing a test does to accounts hides a host. A native
//! topology carries no replicator paths (there are none).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use mysql_async::{Conn, Opts, OptsBuilder};

const ENV_MODE: &str = "CONFORMANCE_MODE";
const ENV_HOSTS: &str = "CONFORMANCE_HOSTS";
const ENV_INI: &str = "CONFORMANCE_INI";
const ENV_HOSTS_FILE: &str = "CONFORMANCE_HOSTS_FILE";
const ENV_TREPCTL: &str = "CONFORMANCE_TREPCTL";
const ENV_THL: &str = "CONFORMANCE_MASTER_THL";
const ENV_RESULTS: &str = "CONFORMANCE_RESULTS";
const ENV_WAIT: &str = "CONFORMANCE_WAIT_SECS";

/// One host of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// Its replication service (`alpha`, `beta`).
    pub service: String,
    /// Its `mariadbd` socket.
    pub socket: PathBuf,
}

/// Which replication the runner measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The project's replicators (the default).
    Tungsten,
    /// MariaDB's own replication, as an oracle: what a native replica
    /// gets wrong is MariaDB's, not the project's.
    Native,
}

impl Mode {
    /// Its name in the environment and the TSV.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Tungsten => "tungsten",
            Mode::Native => "native",
        }
    }

    /// Parses [`Mode::as_str`].
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "tungsten" => Some(Mode::Tungsten),
            "native" => Some(Mode::Native),
            _ => None,
        }
    }

    /// What replicates, for the runner's first line and summary.
    pub fn describe(&self) -> &'static str {
        match self {
            Mode::Tungsten => "tungsten replicators",
            Mode::Native => "native replication",
        }
    }
}

/// The project's replicators: what `trepctl` and the master's THL need.
#[derive(Debug, Clone)]
pub struct Replicators {
    pub ini: PathBuf,
    pub hosts_file: PathBuf,
    pub trepctl: PathBuf,
    /// The master replicator's THL directory (transactions extracted).
    pub master_thl: PathBuf,
}

/// How the replicas replicate.
#[derive(Debug, Clone)]
pub enum Replication {
    Tungsten(Replicators),
    /// MariaDB's native replication (GTID, `MASTER_USE_GTID=slave_pos`):
    /// each replica's state is its `SHOW SLAVE STATUS` ([`super::native`]).
    Native,
}

impl Replication {
    pub fn mode(&self) -> Mode {
        match self {
            Replication::Tungsten(_) => Mode::Tungsten,
            Replication::Native => Mode::Native,
        }
    }
}

/// What a checkpoint needs to know about the deployment.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The primary first, then the replicas.
    pub hosts: Vec<Host>,
    pub replication: Replication,
    /// The file checkpoints append their results to (one JSON per line).
    pub results: PathBuf,
    /// The longest wait for the replicas to apply a marker.
    pub wait: Duration,
}

/// A replicator's state as its REST API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatorState {
    pub state: String,
    pub pending_error: String,
    pub pending_seqno: String,
    pub applied_seqno: String,
}

impl ReplicatorState {
    /// Whether the replicator stopped on an error.
    pub fn is_error(&self) -> bool {
        self.state.contains("ERROR")
    }
}

impl Topology {
    /// The primary.
    pub fn primary(&self) -> &Host {
        &self.hosts[0]
    }

    /// The replicas.
    pub fn replicas(&self) -> &[Host] {
        &self.hosts[1..]
    }

    /// The environment that carries this description.
    pub fn to_env(&self) -> Vec<(String, String)> {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|h| format!("{}={}={}", h.name, h.service, h.socket.display()))
            .collect();
        let mut env = vec![
            (ENV_MODE.into(), self.replication.mode().as_str().into()),
            (ENV_HOSTS.into(), hosts.join(";")),
            (ENV_RESULTS.into(), self.results.display().to_string()),
            (ENV_WAIT.into(), self.wait.as_secs().to_string()),
        ];
        if let Replication::Tungsten(r) = &self.replication {
            env.extend([
                (ENV_INI.into(), r.ini.display().to_string()),
                (ENV_HOSTS_FILE.into(), r.hosts_file.display().to_string()),
                (ENV_TREPCTL.into(), r.trepctl.display().to_string()),
                (ENV_THL.into(), r.master_thl.display().to_string()),
            ]);
        }
        env
    }

    /// The file a checkpoint touches while it waits for a replica busy with
    /// one long applier statement: the runner extends the test's
    /// `--timeout` while it is fresh ([`super::checkpoint`]).
    pub fn busy_file(&self) -> PathBuf {
        self.results.with_extension("busy")
    }

    /// Reads the description from the environment (in a checkpoint).
    pub fn from_env() -> Result<Topology, String> {
        let var = |k: &str| {
            std::env::var(k).map_err(|_| format!("{k} is not set: `checkpoint` runs under the conformance runner only"))
        };
        let mut hosts = Vec::new();
        for item in var(ENV_HOSTS)?.split(';') {
            let mut parts = item.splitn(3, '=');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(n), Some(s), Some(sock)) => hosts.push(Host {
                    name: n.into(),
                    service: s.into(),
                    socket: sock.into(),
                }),
                _ => return Err(format!("{ENV_HOSTS}: bad entry {item:?} (want name=service=socket)")),
            }
        }
        if hosts.len() < 2 {
            return Err(format!("{ENV_HOSTS}: a primary and at least one replica are needed"));
        }
        let wait = var(ENV_WAIT)?
            .parse()
            .map_err(|e| format!("{ENV_WAIT}: not a number of seconds: {e}"))?;
        let mode = var(ENV_MODE)?;
        let replication = match Mode::parse(&mode) {
            Some(Mode::Tungsten) => Replication::Tungsten(Replicators {
                ini: var(ENV_INI)?.into(),
                hosts_file: var(ENV_HOSTS_FILE)?.into(),
                trepctl: var(ENV_TREPCTL)?.into(),
                master_thl: var(ENV_THL)?.into(),
            }),
            Some(Mode::Native) => Replication::Native,
            None => return Err(format!("{ENV_MODE}: {mode:?} is neither `tungsten` nor `native`")),
        };
        Ok(Topology {
            hosts,
            replication,
            results: var(ENV_RESULTS)?.into(),
            wait: Duration::from_secs(wait),
        })
    }

    /// Root over the host's socket.
    pub fn opts(host: &Host) -> Opts {
        OptsBuilder::default()
            .socket(Some(host.socket.display().to_string()))
            .user(Some("root"))
            .into()
    }

    /// A root connection to `host` (bounded).
    pub async fn connect(host: &Host) -> Result<Conn, String> {
        match tokio::time::timeout(Duration::from_secs(20), Conn::new(Self::opts(host))).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(format!(
                "{}: cannot connect as root through {}: {e}",
                host.name,
                host.socket.display()
            )),
            Err(_) => Err(format!("{}: connecting took more than 20s", host.name)),
        }
    }

    /// How far the primary's replication stream went: the highest seqno
    /// of the master's THL, or natively the primary's binlog GTID sequence
    /// numbers summed over domains ([`super::native::gtid_position`]).
    pub async fn primary_position(&self) -> Option<i64> {
        match &self.replication {
            Replication::Tungsten(r) => r.master_max_seqno(),
            Replication::Native => super::native::gtid_position(self.primary()).await,
        }
    }
}

impl Replicators {
    /// The state of `host`'s replicator, through `trepctl -json status`.
    pub fn replicator_state(&self, host: &Host) -> Result<ReplicatorState, String> {
        let out = Command::new(&self.trepctl)
            .arg("--config")
            .arg(&self.ini)
            .arg("--hosts-file")
            .arg(&self.hosts_file)
            .args(["--host", &host.name, "--service", &host.service, "--json", "status"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.trepctl.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{}: trepctl status failed: {}",
                host.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{}: trepctl -json status is not JSON: {e}", host.name))?;
        let get = |k: &str| match &v[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(ReplicatorState {
            state: get("state"),
            pending_error: get("pendingError"),
            pending_seqno: get("pendingErrorSeqno"),
            applied_seqno: get("appliedLastSeqno"),
        })
    }

    /// The highest seqno the master's THL holds.
    pub fn master_max_seqno(&self) -> Option<i64> {
        crate::process::thl_max_seqno(&self.master_thl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_round_trips() {
        let t = Topology {
            hosts: vec![
                Host {
                    name: "host1.alpha".into(),
                    service: "alpha".into(),
                    socket: "/tmp/a.sock".into(),
                },
                Host {
                    name: "host2.alpha".into(),
                    service: "alpha".into(),
                    socket: "/tmp/b.sock".into(),
                },
            ],
            replication: Replication::Tungsten(Replicators {
                ini: "/x/tungsten.ini".into(),
                hosts_file: "/x/hosts".into(),
                trepctl: "/bin/trepctl".into(),
                master_thl: "/x/thl".into(),
            }),
            results: "/x/r.jsonl".into(),
            wait: Duration::from_secs(42),
        };
        for (k, v) in t.to_env() {
            std::env::set_var(k, v);
        }
        let back = Topology::from_env().expect("parses");
        assert_eq!(back.hosts, t.hosts);
        assert_eq!(back.wait, t.wait);
        assert_eq!(back.results, t.results);
        match back.replication {
            Replication::Tungsten(r) => assert_eq!(r.trepctl, PathBuf::from("/bin/trepctl")),
            Replication::Native => panic!("a tungsten topology came back native"),
        }
        // Native: no replicator paths, and the mode survives.
        let native = Topology {
            replication: Replication::Native,
            ..t
        };
        for k in [ENV_INI, ENV_HOSTS_FILE, ENV_TREPCTL, ENV_THL] {
            std::env::remove_var(k);
        }
        let env = native.to_env();
        assert!(env.iter().all(|(k, _)| k != ENV_TREPCTL), "{env:?}");
        for (k, v) in env {
            std::env::set_var(k, v);
        }
        let back = Topology::from_env().expect("parses");
        assert_eq!(back.replication.mode(), Mode::Native);
        assert_eq!(back.hosts, native.hosts);
        std::env::set_var(ENV_MODE, "galera");
        assert!(Topology::from_env().is_err());
    }
}

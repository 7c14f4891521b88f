//! The conformance deployment: four sandboxed `mariadbd` on loopback
//! addresses and four `replicator` processes, master -> slave and
//! master -> relay -> slave:
//!
//! ```text
//! [alpha] master=host1.alpha members=host1.alpha,host2.alpha
//! [beta]  relay=host1.beta   members=host1.beta,host2.beta   relay-source=alpha
//! ```
//!
//! In the native mode ([`Mode::Native`]) the same four servers, with the
//! same options, replicate with MariaDB's own replication in the same
//! shape ([`SOURCES`]: host2.alpha and host1.beta from the primary,
//! host2.beta from host1.beta, which logs what it applies: the sandbox
//! runs every server with `log-slave-updates`), set up by
//! [`super::native`]; no replicator runs.
//!
//! Every server runs with mtr's defaults that change what a statement does
//! (latin1 server charset, MyISAM default engine, local-infile,
//! `log-bin-trust-function-creators`), so a replica behaves as the primary
//! would. The primary also listens on 127.0.0.1 (tests connect there) with
//! the deployment's port, chosen free on 127.0.0.1 and on the hosts'
//! addresses. Each host has the `mtr` schema (`mtr.add_suppression`) and
//! `tungsten_conformance.marker`, created locally without binlogging.
//!
//! mtr's data directory is `<vardir>/mysqld.1/data`, so tests read mtr's
//! files with `LOAD DATA INFILE '../../std_data/...'` (resolved by the
//! server from its data directory). The sandbox puts the data directories
//! at `<sandbox root>/<host>/data` (the sandbox root is in the vardir), so
//! the root gets a symlink `std_data` to the vardir's copy of std_data
//! ([`Deploy::start`]): the same relative path reaches the same files,
//! from every host. The servers keep the sandbox's `secure_file_priv`
//! (none; MariaDB reports a missing file there as
//! ER_OPTION_PREVENTS_STATEMENT, 1290, which is what the tests got).
//!
//! The replicas (not the primary) run with `--symbolic-links=0`
//! (`REPLICA_SERVER_ARGS`), in both modes: MariaDB then ignores a
//! table's or partition's `DATA DIRECTORY`/`INDEX DIRECTORY` with a
//! warning and keeps the files in the data directory. Otherwise a replica
//! creating the table with the primary's directories would collide with
//! the primary's own files there (`Errcode: 17 "File exists"`), since the
//! four servers share one file system; on separate machines that cannot
//! happen. The columns and rows the checkpoints compare do not depend on
//! where a table's files are.
//!
//! What a deployment is built with is its [`Settings`]: every server's
//! binlog format (the run's `--binlog-format`, ROW or MIXED, after mtr's
//! defaults), and for a test whose options rename the binlog, those
//! options (and `TZ`), with which the primary restarts right after its
//! first start, before the `mtr` schema is created and before anything
//! replicates: the master replicator then reads from the first file of the
//! renamed binlog (`SHOW BINARY LOGS`), a native replica from the start of
//! its GTID history ([`super::options`] says why).
//!
//! Invariants: waits are bounded; everything dies with the runner (sandbox
//! and process invariants); a deployment is built from scratch (fresh
//! servers, native replicas reset); [`Deploy::clean`] leaves only the `test`,
//! `mtr` and `tungsten_*` schemas, through the binlog, and checks that
//! every replica followed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::checkpoint::{self, Kind, MARKER_DDL};
use super::native;
use super::options::{BinlogFormat, ServerSetup};
use super::topology::{Host, Mode, Replication, Replicators, Topology};
use crate::cluster::{channels_from_env, defaults_section, service_of};
use crate::process::{workspace_bin, Deployment, ReplicatorProcess};
use crate::sandbox::{free_port, loopback_specs, Instance, InstanceSpec, Sandbox};

/// The hosts, the primary first.
pub const HOSTS: [&str; 4] = ["host1.alpha", "host2.alpha", "host1.beta", "host2.beta"];
/// The primary.
pub const PRIMARY: &str = HOSTS[0];
/// `(replica, source)`: who replicates from whom, in both modes (the
/// tungsten ini above says the same with services).
pub const SOURCES: [(&str, &str); 3] = [
    ("host2.alpha", "host1.alpha"),
    ("host1.beta", "host1.alpha"),
    ("host2.beta", "host1.beta"),
];

/// mtr's server defaults that matter to replication (include/default_mysqld.cnf).
const MTR_SERVER_ARGS: &[&str] = &[
    "--character-set-server=latin1",
    "--collation-server=latin1_swedish_ci",
    "--default-storage-engine=MyISAM",
    "--local-infile=1",
    "--log-bin-trust-function-creators=1",
    "--binlog-direct-non-transactional-updates=1",
    "--use-stat-tables=preferably",
    "--histogram-type=JSON_HB",
    "--max-heap-table-size=1M",
    "--plugin-maturity=unknown",
    // mtr's binlog name (include/have_log_bin-master.opt), which tests use.
    "--log-bin=master-bin",
    // The versioning suite's functions (TRT_*), as its common.opt loads them.
    "--plugin-load-add=test_versioning.so",
];

/// The replicas' own options (module doc: one machine, one file system).
const REPLICA_SERVER_ARGS: &[&str] = &["--symbolic-links=0"];

/// The time zones that mtr's bootstrap loads into every server
/// (`Europe/Moscow`, `UTC`, `MET` ...; Debian ships the file with the
/// server): tests set them in their sessions, and statement replay on the
/// replicas needs them too. Loaded when the file exists.
const MTR_TIME_ZONES: &str = "/usr/share/mysql/mysql_test_data_timezone.sql";

/// The `mtr` schema of mtr's bootstrap, reduced to what tests call.
const MTR_SCHEMA: &[&str] = &[
    "CREATE DATABASE IF NOT EXISTS mtr",
    "CREATE TABLE IF NOT EXISTS mtr.test_suppressions (pattern VARCHAR(255)) ENGINE=MyISAM",
    "CREATE TABLE IF NOT EXISTS mtr.global_suppressions (pattern VARCHAR(255)) ENGINE=MyISAM",
    "CREATE PROCEDURE IF NOT EXISTS mtr.add_suppression(pattern VARCHAR(255)) \
     BEGIN INSERT INTO mtr.test_suppressions (pattern) VALUES (pattern); END",
    "CREATE DATABASE IF NOT EXISTS test",
];

/// The seqno-visible state of the deployment, for a fresh start.
fn ini(port: u16) -> String {
    format!(
        "{}{}\
         [alpha]\n\
         topology=clustered\n\
         master=host1.alpha\n\
         members=host1.alpha,host2.alpha\n\
         [beta]\n\
         topology=clustered\n\
         relay=host1.beta\n\
         members=host1.beta,host2.beta\n\
         relay-source=alpha\n",
        defaults_section(port),
        channels_from_env()
    )
}

/// How a deployment's servers start: what a fresh deployment must be
/// rebuilt for when it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Every server's `--binlog-format` (the run's `--binlog-format`).
    pub format: BinlogFormat,
    /// The server options (and environment) the primary starts with from
    /// the start: those of a test that renames the binlog (module doc),
    /// none otherwise.
    pub primary: ServerSetup,
    /// The replicas' `--default-storage-engine`, when the test sets the
    /// primary's (`options::engine_set`); mtr's MyISAM otherwise.
    pub replica_engine: Option<String>,
}

/// What replicates.
#[derive(Debug)]
enum Replicating {
    Tungsten {
        deployment: Deployment,
        processes: BTreeMap<String, ReplicatorProcess>,
    },
    Native,
}

/// The running deployment.
#[derive(Debug)]
pub struct Deploy {
    pub sandbox: Sandbox,
    replicating: Replicating,
    root: PathBuf,
    /// The port of every host (the primary also on 127.0.0.1).
    pub port: u16,
    /// The primary's extra server options of a clean start (mtr's
    /// defaults and the binlog format, without a test's options).
    primary_args: Vec<String>,
    /// How the servers were started.
    settings: Settings,
    /// The checkpoint wait.
    pub wait: Duration,
}

impl Deploy {
    /// Starts the four servers and their replication under `root` (which
    /// must not exist or be empty): the replicators, waiting until every
    /// one is ONLINE, or natively the replicas, waiting until they run.
    /// `std_data` (the vardir's copy) is linked as `std_data` beside the
    /// hosts' directories (module doc).
    /// `settings` say how the servers start: their binlog format, and the
    /// options a test gives the primary from the start.
    pub async fn start(
        root: &Path,
        wait: Duration,
        mode: Mode,
        std_data: &Path,
        settings: &Settings,
    ) -> Result<Deploy, String> {
        let (sandbox, port, primary_args) = start_servers(root, settings).await?;
        let link = sandbox.root().join("std_data");
        std::os::unix::fs::symlink(std_data, &link)
            .map_err(|e| format!("link {} to {}: {e}", link.display(), std_data.display()))?;
        let mut deploy = Deploy {
            sandbox,
            replicating: Replicating::Native,
            root: root.to_path_buf(),
            port,
            primary_args,
            settings: settings.clone(),
            wait,
        };
        match mode {
            Mode::Tungsten => deploy.start_replicators().await?,
            Mode::Native => {
                for (replica, source) in SOURCES {
                    native::replicate(deploy.sandbox.get(replica), deploy.sandbox.get(source)).await?;
                }
            }
        }
        deploy.wait_online(Duration::from_secs(90)).await?;
        Ok(deploy)
    }

    /// Writes the tungsten deployment and starts a replicator per host,
    /// the master's from the start of the primary's binlog.
    async fn start_replicators(&mut self) -> Result<(), String> {
        let hosts: Vec<(String, String)> = self
            .sandbox
            .instances()
            .iter()
            .map(|i| (i.name().to_owned(), i.address().to_string()))
            .collect();
        let deployment = Deployment::create(&self.root, &ini(self.port), &hosts).map_err(|e| e.to_string())?;
        let first_binlog = self
            .primary()
            .query("SHOW BINARY LOGS")
            .await
            .map_err(|e| e.to_string())?
            .first()
            .and_then(|r| r.first().cloned())
            .ok_or("the primary has no binary log")?;
        let mut processes = BTreeMap::new();
        for host in HOSTS {
            let from = format!("{first_binlog}:4");
            let extra: Vec<&str> = if host == PRIMARY {
                vec!["--from-event", &from]
            } else {
                vec![]
            };
            let p = deployment
                .start(host, &extra)
                .map_err(|e| format!("start the replicator of {host}: {e}"))?;
            processes.insert(host.to_owned(), p);
        }
        self.replicating = Replicating::Tungsten { deployment, processes };
        Ok(())
    }

    /// Which replication runs.
    pub fn mode(&self) -> Mode {
        match self.replicating {
            Replicating::Tungsten { .. } => Mode::Tungsten,
            Replicating::Native => Mode::Native,
        }
    }

    /// The replicators' deployment (ini, hosts file), none natively.
    pub fn deployment(&self) -> Option<&Deployment> {
        match &self.replicating {
            Replicating::Tungsten { deployment, .. } => Some(deployment),
            Replicating::Native => None,
        }
    }

    /// The primary.
    pub fn primary(&self) -> &Instance {
        self.sandbox.get(PRIMARY)
    }

    /// The primary, mutably (restarts).
    pub fn primary_mut(&mut self) -> &mut Instance {
        self.sandbox.get_mut(PRIMARY)
    }

    /// The primary's server options of a clean start.
    pub fn primary_args(&self) -> &[String] {
        &self.primary_args
    }

    /// How the servers were started.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The deployment directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The description shared with checkpoints; `results` is the file they
    /// append to.
    pub fn topology(&self, results: &Path) -> Result<Topology, String> {
        let replication = match &self.replicating {
            Replicating::Tungsten { deployment, .. } => Replication::Tungsten(Replicators {
                ini: deployment.ini().to_path_buf(),
                hosts_file: deployment.hosts_file().to_path_buf(),
                trepctl: workspace_bin("trepctl").map_err(|e| e.to_string())?,
                master_thl: deployment.thl_dir(PRIMARY, "alpha"),
            }),
            Replicating::Native => Replication::Native,
        };
        Ok(Topology {
            hosts: HOSTS
                .iter()
                .map(|h| Host {
                    name: (*h).to_owned(),
                    service: service_of(h).to_owned(),
                    socket: self.sandbox.get(h).socket(),
                })
                .collect(),
            replication,
            results: results.to_path_buf(),
            wait: self.wait,
        })
    }

    /// Waits until every replicator reports ONLINE (an ERROR state fails
    /// at once), or natively until every replica's threads run.
    pub async fn wait_online(&self, timeout: Duration) -> Result<(), String> {
        let topo = self.topology(&self.root.join("startup.jsonl"))?;
        let (replicators, processes) = match (&topo.replication, &self.replicating) {
            (Replication::Tungsten(r), Replicating::Tungsten { processes, .. }) => (r, processes),
            _ => return native::wait_running(&topo, timeout).await,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let mut all = true;
            let mut last = Vec::new();
            for h in &topo.hosts {
                match replicators.replicator_state(h) {
                    Ok(s) if s.is_error() => {
                        return Err(format!("{} went {} at start: {}", h.name, s.state, s.pending_error))
                    }
                    Ok(s) => {
                        all &= s.state == "ONLINE";
                        last.push(format!("{}={}", h.name, s.state));
                    }
                    Err(e) => {
                        all = false;
                        last.push(format!("{}: {e}", h.name));
                    }
                }
            }
            if all {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = processes
                    .values()
                    .map(|p| format!("--- {}:\n{}", p.host(), p.log_tail(6)))
                    .collect();
                return Err(format!(
                    "replicators not ONLINE within {timeout:?}: {}\n{}",
                    last.join(", "),
                    logs.join("\n")
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The last lines of every replicator's log, or natively of every
    /// replica's error log (where MariaDB reports a replication error).
    pub fn replicator_logs(&self, lines: usize) -> String {
        match &self.replicating {
            Replicating::Tungsten { processes, .. } => processes
                .values()
                .map(|p| format!("--- {}:\n{}", p.host(), p.log_tail(lines)))
                .collect::<Vec<_>>()
                .join("\n"),
            Replicating::Native => SOURCES
                .iter()
                .map(|(replica, _)| {
                    let log = self.sandbox.get(replica).error_log();
                    let tail = match std::fs::read_to_string(&log) {
                        Ok(text) => {
                            let all: Vec<&str> = text.lines().collect();
                            all[all.len().saturating_sub(lines)..].join("\n")
                        }
                        Err(e) => format!("(cannot read {}: {e})", log.display()),
                    };
                    format!("--- {replica}:\n{tail}")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Drops every schema a test left (through the binlog), recreates
    /// `test`, empties `mtr.test_suppressions`, then checks with a
    /// checkpoint that every replica followed and holds the same tables.
    pub async fn clean(&self) -> Result<(), String> {
        let primary = self.primary();
        let schemas = primary
            .query(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN \
                 ('mysql','information_schema','performance_schema','sys','mtr') AND SCHEMA_NAME NOT LIKE 'tungsten\\_%'",
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut sql = vec![
            "SET SESSION sql_log_bin=1".to_owned(),
            "SET SESSION foreign_key_checks=0".to_owned(),
        ];
        for s in schemas.iter().filter_map(|r| r.first()) {
            sql.push(format!("DROP DATABASE IF EXISTS `{}`", s.replace('`', "``")));
        }
        sql.push("CREATE DATABASE test".into());
        sql.push("DELETE FROM mtr.test_suppressions".into());
        primary.exec(&sql.join("; ")).await.map_err(|e| e.to_string())?;
        let topo = self.topology(&self.root.join("clean.jsonl"))?;
        let rec = checkpoint::run(&topo, "clean").await;
        match rec.kind {
            Kind::Compared if rec.differences.is_empty() && rec.tables.len() <= 2 => Ok(()),
            Kind::Compared => Err(format!(
                "after cleaning, {} tables remain and {} differ",
                rec.tables.len(),
                rec.differences.len()
            )),
            _ => Err(format!("cleaning: {}", rec.error)),
        }
    }
}

/// Starts the four servers with mtr's defaults and the run's binlog format
/// (the primary also on 127.0.0.1, on a port free there and on the hosts'
/// addresses); the primary then restarts with the test's options of
/// `settings`, if any, before anything is written or replicated; each
/// server gets the `mtr` schema and the marker table. Returns the sandbox,
/// the port and the primary's options of a clean start.
async fn start_servers(root: &Path, settings: &Settings) -> Result<(Sandbox, u16, Vec<String>), String> {
    if std::env::var_os("TUNGSTEN_SANDBOX_MAX_INSTANCES").is_none() {
        std::env::set_var("TUNGSTEN_SANDBOX_MAX_INSTANCES", HOSTS.len().to_string());
    }
    let mut specs = None;
    for _ in 0..20 {
        let port = free_port().map_err(|e| e.to_string())?;
        if let Ok(s) = loopback_specs(HOSTS.len(), port) {
            specs = Some(s);
            break;
        }
    }
    let specs = specs.ok_or("no free port on 127.0.0.1 and a loopback block")?;
    let port = specs[0].port;
    let specs: Vec<InstanceSpec> = specs
        .into_iter()
        .zip(HOSTS)
        .map(|(spec, host)| {
            let mut args: Vec<String> = MTR_SERVER_ARGS.iter().map(|s| (*s).to_owned()).collect();
            args.push(settings.format.server_arg());
            if host == PRIMARY {
                args.push(format!("--bind-address={},127.0.0.1", spec.address));
            } else {
                args.extend(REPLICA_SERVER_ARGS.iter().map(|s| (*s).to_owned()));
                args.extend(
                    settings
                        .replica_engine
                        .iter()
                        .map(|e| format!("--default-storage-engine={e}")),
                );
            }
            InstanceSpec {
                name: host.to_owned(),
                extra_args: args,
                ..spec
            }
        })
        .collect();
    let primary_args = specs[0].extra_args.clone();
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut sandbox = Sandbox::start(specs).await.map_err(|e| e.to_string())?;
    if !settings.primary.is_empty() {
        let mut args = primary_args.clone();
        args.extend(settings.primary.args.iter().cloned());
        let primary = sandbox.get_mut(PRIMARY);
        primary.set_env(settings.primary.env.clone());
        primary.restart_with(args).await.map_err(|e| {
            format!(
                "the primary did not start with the test's options {:?} (environment {:?}): {e}",
                settings.primary.args, settings.primary.env
            )
        })?;
    }
    for inst in sandbox.instances() {
        let mut sql = vec!["SET SESSION sql_log_bin=0".to_owned()];
        sql.extend(MTR_SCHEMA.iter().map(|s| (*s).to_owned()));
        sql.extend(MARKER_DDL.split("; ").map(str::to_owned));
        for s in sql {
            // One statement per call: CREATE PROCEDURE has semicolons.
            exec_session(inst, &s).await?;
        }
        if let Ok(zones) = std::fs::read_to_string(MTR_TIME_ZONES) {
            exec_session(inst, &format!("USE mysql; {zones}")).await?;
        }
    }
    Ok((sandbox, port, primary_args))
}

async fn exec_session(inst: &Instance, sql: &str) -> Result<(), String> {
    let mut c = mysql_async::Conn::new(inst.root_opts())
        .await
        .map_err(|e| format!("{}: {e}", inst.name()))?;
    let r = c
        .query_drop(format!("SET SESSION sql_log_bin=0; {sql}"))
        .await
        .map_err(|e| format!("{}: `{sql}`: {e}", inst.name()));
    let _ = c.disconnect().await;
    r
}

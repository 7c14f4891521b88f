//! The seed's composite active/passive cluster on one machine, for the
//! end-to-end tests and the demo:
//!
//! * `alpha`: host1.alpha (master), host2.alpha and host3.alpha (slaves);
//! * `beta`: host1.beta (relay, `relay-source=alpha`), host2.beta and
//!   host3.beta (slaves of the relay);
//! * `gamma`: `composite-datasources=alpha,beta`.
//!
//! Every host is a sandboxed `mariadbd` on its own loopback address (same
//! port on all) plus a `replicator` process started from one `tungsten.ini`
//! and one hosts file. Waits are bounded; everything dies with its owner.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::process::{Deployment, ReplicatorProcess};
use crate::sandbox::{loopback_specs, Instance, InstanceSpec, Sandbox, SandboxError, DEFAULT_PORT};

/// The six hosts, in start order: the master first, then the relay.
pub const HOSTS: [&str; 6] = [
    "host1.alpha",
    "host2.alpha",
    "host3.alpha",
    "host1.beta",
    "host2.beta",
    "host3.beta",
];
/// The REST credentials of the seed ini.
pub const REST_USER: &str = "apiuser";
pub const REST_PASSWORD: &str = "secret";

/// The service a host runs (its dataservice).
pub fn service_of(host: &str) -> &'static str {
    if host.ends_with(".alpha") {
        "alpha"
    } else {
        "beta"
    }
}

/// The `[defaults]` section of the test deployments: the sandbox's
/// replication user and port, the REST credentials.
pub fn defaults_section(port: u16) -> String {
    format!(
        "[defaults]\n\
         replication-user=tungsten\n\
         replication-password=secret\n\
         replication-port={port}\n\
         rest-api-admin-user={REST_USER}\n\
         rest-api-admin-password={REST_PASSWORD}\n\
         replicator-rest-api-address=0.0.0.0\n"
    )
}

/// The seed `tungsten.ini` with the sandbox's port (and
/// [`CHANNELS_ENV`]'s channels, when set).
pub fn seed_ini(port: u16) -> String {
    format!(
        "{}{}\
         [alpha]\n\
         topology=clustered\n\
         master=host1.alpha\n\
         members=host1.alpha,host2.alpha,host3.alpha\n\
         [beta]\n\
         topology=clustered\n\
         relay=host1.beta\n\
         members=host1.beta,host2.beta,host3.beta\n\
         relay-source=alpha\n\
         [gamma]\n\
         composite-datasources=alpha,beta\n",
        defaults_section(port),
        channels_from_env()
    )
}

/// The hosts of `north`, the dataservice the provisioning test and
/// `scripts/demo --add-cluster` add to the seed's cluster (relay db7,
/// slaves db8 and db9, `relay-source=alpha`).
pub const NORTH_HOSTS: [&str; 3] = ["db7", "db8", "db9"];

/// [`seed_ini`] with the keys that let `tprovision` find, stop and start
/// every sandbox database (`datasource-mysql-data-directory` and
/// `datasource-boot-script` under `sandbox`, `{host}` in the paths), and
/// with `north` (in `gamma` too) when `with_north`.
pub fn growable_ini(port: u16, sandbox: &Path, with_north: bool) -> String {
    let local = format!(
        "datasource-mysql-data-directory={root}/{{host}}/data\n\
         datasource-boot-script={root}/{{host}}/boot.sh\n",
        root = sandbox.display()
    );
    let mut ini = seed_ini(port).replacen("[defaults]\n", &format!("[defaults]\n{local}"), 1);
    if with_north {
        ini = ini.replace(
            "[gamma]\ncomposite-datasources=alpha,beta\n",
            "[north]\ntopology=clustered\nrelay=db7\nmembers=db7,db8,db9\nrelay-source=alpha\n\
             [gamma]\ncomposite-datasources=alpha,beta,north\n",
        );
    }
    ini
}

/// A chain of three hosts for the fault-injection tests: host1.alpha
/// (master) → host1.beta (relay of `beta`, `relay-source=alpha`) →
/// host2.beta (its slave). Small THL files and a one-second retention make
/// every restart rotate and purge files.
pub const CHAIN_HOSTS: [&str; 3] = ["host1.alpha", "host1.beta", "host2.beta"];

/// The environment variable that gives the slaves and relays of the chain,
/// of the seed deployment and of the conformance runner's deployment that
/// many apply channels (`1`: one channel, `svc-parallelization-type=none`;
/// unset: the default, 4 by key): `scripts/torture`, `scripts/conformance`
/// and the random workload with another parallelism.
pub const CHANNELS_ENV: &str = "TUNGSTEN_TEST_CHANNELS";
/// How those channels share the work: `key` (the default) or `disk` (by
/// shard).
pub const SCHEDULER_ENV: &str = "TUNGSTEN_TEST_SCHEDULER";

/// The `[defaults]` lines that give every slave and relay
/// [`CHANNELS_ENV`]'s apply channels with [`SCHEDULER_ENV`]'s scheduler
/// (none when both are unset: the replicator's defaults).
pub fn channels_from_env() -> String {
    let scheduler = std::env::var(SCHEDULER_ENV).ok();
    let channels = std::env::var(CHANNELS_ENV).ok().and_then(|n| n.parse::<u32>().ok());
    match (channels, scheduler) {
        (Some(1), _) => "svc-parallelization-type=none\n".into(),
        (Some(n), scheduler) => format!(
            "svc-parallelization-type={}\nchannels={n}\n",
            scheduler.as_deref().unwrap_or("key")
        ),
        (None, Some(scheduler)) => format!("svc-parallelization-type={scheduler}\nchannels=4\n"),
        (None, None) => String::new(),
    }
}

/// The chain's `tungsten.ini` with the sandbox's port (and
/// [`CHANNELS_ENV`]'s channels, when set).
pub fn chain_ini(port: u16) -> String {
    let channels = channels_from_env();
    format!(
        "{}\
         {channels}\
         thl-log-file-size=128k\n\
         thl-log-retention=1s\n\
         [alpha]\n\
         topology=clustered\n\
         master=host1.alpha\n\
         members=host1.alpha\n\
         [beta]\n\
         topology=clustered\n\
         relay=host1.beta\n\
         members=host1.beta,host2.beta\n\
         relay-source=alpha\n\
         [gamma]\n\
         composite-datasources=alpha,beta\n",
        defaults_section(port)
    )
}

/// The name of the test deployments' CA.
pub const DEPLOYMENT_CA: &str = "tungsten-rs test deployment CA";

/// The deployment's CA and a certificate for every host name the test
/// deployments use, under `root/tls` (`crate::tls`).
pub fn deployment_certs(root: &Path) -> Result<crate::tls::Certs, ClusterError> {
    let mut hosts: Vec<&str> = HOSTS.iter().chain(&NORTH_HOSTS).copied().collect();
    hosts.extend(CHAIN_HOSTS.iter().filter(|h| !HOSTS.contains(h)));
    crate::tls::Certs::write(&root.join("tls"), DEPLOYMENT_CA, &hosts)
        .map_err(|e| ClusterError::Io(io::Error::other(e)))
}

/// `ini` with the THL over TLS (`thl-ssl=true`, mutual authentication)
/// with `certs`' files.
pub fn with_tls(ini: &str, certs: &crate::tls::Certs) -> String {
    ini.replacen("[defaults]\n", &format!("[defaults]\n{}", certs.ini_keys()), 1)
}

/// Errors of the cluster harness.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Sandbox(Box<SandboxError>),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{0}")]
    Timeout(String),
}

impl From<SandboxError> for ClusterError {
    fn from(e: SandboxError) -> Self {
        ClusterError::Sandbox(Box::new(e))
    }
}

/// The running cluster.
#[derive(Debug)]
pub struct Cluster {
    pub sandbox: Sandbox,
    pub deployment: Deployment,
    pub processes: BTreeMap<String, ReplicatorProcess>,
    /// The hosts, master first.
    hosts: Vec<&'static str>,
    /// The master now (`hosts[0]` until [`Cluster::set_master`]).
    master: &'static str,
    first_binlog: String,
    root: PathBuf,
}

impl Cluster {
    /// Starts six MariaDB instances and writes the deployment under `root`
    /// (replicators are started with [`Cluster::start_replicators`]), with
    /// the THL over TLS and mutual authentication ([`with_tls`]).
    pub async fn create(root: &Path) -> Result<Cluster, ClusterError> {
        let certs = deployment_certs(root)?;
        Cluster::create_with_spares(root, &HOSTS, &[], |port, _| with_tls(&seed_ini(port), &certs)).await
    }

    /// Starts the three MariaDB instances of [`CHAIN_HOSTS`] and writes
    /// [`chain_ini`].
    pub async fn chain(root: &Path) -> Result<Cluster, ClusterError> {
        Cluster::create_with(root, &CHAIN_HOSTS, chain_ini).await
    }

    async fn create_with(root: &Path, hosts: &[&'static str], ini: fn(u16) -> String) -> Result<Cluster, ClusterError> {
        Cluster::create_with_spares(root, hosts, &[], |port, _| ini(port)).await
    }

    /// Starts a MariaDB instance for each of `hosts` and of `spares` and
    /// writes the deployment with `ini(port, sandbox root)`; the cluster's
    /// hosts (waits, checksums) are `hosts` only: `spares` are databases
    /// for hosts a test adds later (`Cluster::db` reaches them).
    pub async fn create_with_spares(
        root: &Path,
        hosts: &[&'static str],
        spares: &[&'static str],
        ini: impl FnOnce(u16, &Path) -> String,
    ) -> Result<Cluster, ClusterError> {
        if std::env::var_os("TUNGSTEN_SANDBOX_MAX_INSTANCES").is_none() {
            std::env::set_var(
                "TUNGSTEN_SANDBOX_MAX_INSTANCES",
                (hosts.len() + spares.len()).max(6).to_string(),
            );
        }
        let all: Vec<&'static str> = hosts.iter().chain(spares).copied().collect();
        let specs: Vec<InstanceSpec> = loopback_specs(all.len(), DEFAULT_PORT)?
            .into_iter()
            .zip(all.iter().copied())
            .map(|(spec, host)| InstanceSpec {
                name: host.to_owned(),
                ..spec
            })
            .collect();
        let port = specs[0].port;
        let addresses: Vec<(String, String)> = specs.iter().map(|s| (s.name.clone(), s.address.to_string())).collect();
        let sandbox = Sandbox::start(specs).await?;
        let deployment = Deployment::create(root, &ini(port, sandbox.root()), &addresses)?;
        let first_binlog = sandbox
            .get(hosts[0])
            .query("SHOW BINARY LOGS")
            .await?
            .first()
            .and_then(|r| r.first().cloned())
            .unwrap_or_else(|| "mysql-bin.000001".into());
        Ok(Cluster {
            sandbox,
            deployment,
            processes: BTreeMap::new(),
            hosts: hosts.to_vec(),
            master: hosts[0],
            first_binlog,
            root: root.to_path_buf(),
        })
    }

    /// The deployment's directory (ini, hosts file, install directories).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db(&self, host: &str) -> &Instance {
        self.sandbox.get(host)
    }

    /// The hosts, master first.
    pub fn hosts(&self) -> &[&'static str] {
        &self.hosts
    }

    /// Starts (or restarts) the replicator of `host`.
    pub fn start_replicator(&mut self, host: &str) -> Result<(), ClusterError> {
        self.start_replicator_with_env(host, &[])
    }

    /// Starts (or restarts) the replicator of `host` with extra environment
    /// variables (`FAILPOINTS` arms its crash points).
    pub fn start_replicator_with_env(&mut self, host: &str, env: &[(&str, &str)]) -> Result<(), ClusterError> {
        let from = format!("{}:4", self.first_binlog);
        let extra: Vec<&str> = if host == self.hosts[0] {
            vec!["--from-event", &from]
        } else {
            vec![]
        };
        let process = self.deployment.start_with_env(host, &extra, env)?;
        self.processes.insert(host.to_owned(), process);
        Ok(())
    }

    /// Starts every host's replicator.
    pub fn start_replicators(&mut self) -> Result<(), ClusterError> {
        for host in self.hosts.clone() {
            self.start_replicator(host)?;
        }
        Ok(())
    }

    /// SIGKILLs the replicator of `host`.
    pub fn kill_replicator(&mut self, host: &str) {
        if let Some(mut p) = self.processes.remove(host) {
            p.kill();
        }
    }

    /// Makes `host` the master the waits measure against (after a switch
    /// or failover moved the role).
    pub fn set_master(&mut self, host: &str) {
        if let Some(h) = self.hosts.iter().find(|h| **h == host) {
            self.master = h;
        }
    }

    /// The master now.
    pub fn master(&self) -> &'static str {
        self.master
    }

    fn master_thl(&self) -> PathBuf {
        self.deployment.thl_dir(self.master, service_of(self.master))
    }

    /// The highest seqno in the master's THL.
    pub fn master_max_seqno(&self) -> Option<i64> {
        crate::process::thl_max_seqno(&self.master_thl())
    }

    /// The seqno a host has applied (its `trep_commit_seqno`); the master
    /// counts as having applied what its THL holds.
    pub async fn applied_seqno(&self, host: &str) -> Option<i64> {
        if host == self.master {
            return self.master_max_seqno();
        }
        let sql = format!("SELECT MIN(seqno) FROM tungsten_{}.trep_commit_seqno", service_of(host));
        self.db(host)
            .query_value(&sql)
            .await
            .ok()
            .flatten()
            .and_then(|v| v.parse().ok())
    }

    /// The GTID sequence number of the master THL's last transaction.
    fn master_thl_gtid_seq(&self) -> Option<i64> {
        let reader = thl::store::Reader::open(self.master_thl()).ok()?;
        let max = reader.max_seqno().ok()??;
        let mut cursor = reader.cursor(max).ok()?;
        // Any fragment of the last transaction names its GTID.
        while let Some(record) = cursor.next().ok()? {
            let event = record.decode_event().ok()?;
            if let Some(gtid) = event.body.metadata_value(thl::event::meta::GTID) {
                return gtid.rsplit('-').next()?.parse().ok();
            }
        }
        None
    }

    /// Waits until the master's THL holds the last transaction its database
    /// committed, then until every host applied the master's last seqno.
    pub async fn wait_until_applied(&self, timeout: Duration) -> Result<i64, ClusterError> {
        let deadline = Instant::now() + timeout;
        let source = crate::process::source_gtid_seq(self.db(self.master)).await;
        while self.master_thl_gtid_seq() < Some(source) {
            if Instant::now() > deadline {
                return Err(ClusterError::Timeout(format!(
                    "the master's THL did not reach its database's GTID sequence {source} within {timeout:?} (at {:?})",
                    self.master_thl_gtid_seq()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut last = BTreeMap::new();
        loop {
            let target = self.master_max_seqno();
            if let Some(target) = target {
                let mut all = true;
                for &host in &self.hosts {
                    let applied = self.applied_seqno(host).await;
                    last.insert(host, applied);
                    all &= applied == Some(target);
                }
                if all {
                    return Ok(target);
                }
            }
            if Instant::now() > deadline {
                let logs: Vec<String> = self
                    .processes
                    .values()
                    .map(|p| format!("--- {}:\n{}", p.host(), p.log_tail(8)))
                    .collect();
                return Err(ClusterError::Timeout(format!(
                    "not every host applied seqno {target:?} within {timeout:?}: {last:?}\n{}",
                    logs.join("\n")
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `CHECKSUM TABLE` of each table on every host.
    pub async fn checksums(&self, tables: &[&str]) -> Result<BTreeMap<String, Vec<u64>>, ClusterError> {
        let mut out = BTreeMap::new();
        for &host in &self.hosts {
            let mut sums = Vec::new();
            for t in tables {
                sums.push(self.db(host).checksum_table(t).await?);
            }
            out.insert(host.to_owned(), sums);
        }
        Ok(out)
    }
}

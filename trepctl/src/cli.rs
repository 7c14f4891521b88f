//! trepctl's command line: phase one (clap parses, doc comments are the
//! help) and phase two ([`Target::resolve`]: where the replicator is and
//! which credentials to send).
//!
//! Tungsten's single-dash long options (`-service alpha`, `-skip-seqno 10`)
//! are rewritten to `--long` by `control::dash_args::normalize` before parsing.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use control::config::{locate, Deployment, HostsFile, Resolver};
use control::secret::Secret;

/// Operator CLI of the replicator: status and control of its services
/// through the REST API.
#[derive(Debug, Parser)]
#[command(
    name = "trepctl",
    version,
    after_help = "Tungsten's single-dash options work too: trepctl -service alpha online -skip-seqno 10"
)]
pub struct Cli {
    /// The replicator's host: with an ini, its name there or a name or
    /// address of it (default: $TUNGSTEN_HOST, else this machine's: its
    /// host name's, else the ini host with its address); without, any
    /// name or address (default: localhost). Resolved through --hosts-file
    /// first.
    #[arg(long, global = true, env = locate::HOST_ENV)]
    pub host: Option<String>,
    /// The REST API port (default: the ini's, else 8097).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// The service (implicit when the replicator has only one).
    #[arg(long, global = true)]
    pub service: Option<String>,
    /// REST user (default: rest-api-admin-user from --config).
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// REST password (default: rest-api-admin-password from --config).
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// The tungsten.ini to read the REST address and credentials from
    /// (default: $TUNGSTEN_INI, else /etc/tungsten/tungsten.ini when this
    /// machine has one).
    #[arg(long, global = true, env = locate::INI_ENV)]
    pub config: Option<PathBuf>,
    /// A file in /etc/hosts format consulted before the system resolver
    /// (default: $TUNGSTEN_HOSTS_FILE).
    #[arg(long, global = true, env = locate::HOSTS_FILE_ENV)]
    pub hosts_file: Option<PathBuf>,
    /// Print JSON instead of Tungsten's NAME VALUE layout.
    #[arg(long, global = true)]
    pub json: bool,
    /// With rest-api-ssl: do not check the replicator's certificate against
    /// the ini's ssl-ca. The session is still encrypted, but to whoever
    /// answers: anyone on the network path can then read the credentials
    /// and the answers, and change them.
    #[arg(long, global = true)]
    pub insecure: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the replicator's version.
    Version,
    /// List the services with their state, role and applied seqno.
    Services {
        /// Print the full status of each service.
        #[arg(long)]
        full: bool,
    },
    /// Print the status of the service.
    Status {
        /// A detail view: tasks, stores or shards.
        #[arg(long)]
        name: Option<String>,
    },
    /// Go online (from OFFLINE:NORMAL or OFFLINE:ERROR).
    Online(OnlineArgs),
    /// Go offline at the next transaction boundary.
    Offline {
        /// Stop at once instead of at a transaction boundary.
        #[arg(long)]
        immediate: bool,
    },
    /// Go offline once a seqno has been applied.
    OfflineDeferred {
        /// The seqno after whose apply the service goes offline.
        #[arg(long, value_name = "SEQNO")]
        at_seqno: i64,
    },
    /// Change the role (and upstream) used at the next online; OFFLINE:NORMAL only.
    Setrole {
        /// master (primary), slave (replica) or relay.
        #[arg(long)]
        role: String,
        /// Upstream THL URI(s), comma separated: thl://host:2112/.
        #[arg(long)]
        uri: Option<String>,
    },
    /// Delete the service's THL, catalog and/or tracking schema; offline only.
    Reset(ResetArgs),
    /// Re-read the ini on the running replicator (as SIGHUP): takes what
    /// needs no restart, refuses (naming it) what does.
    Reload,
    /// Replace this node's database by a copy of another host's and resume
    /// replication after the copy's position (also the `tprovision` tool).
    Provision(ProvisionArgs),
    /// Set the local database's read_only (on|off): fences a primary.
    ReadOnly {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        value: String,
    },
    /// Insert a heartbeat on the master (it flows through the THL).
    Heartbeat {
        /// The heartbeat's name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Insert a heartbeat and wait until the THL holds it; prints its seqno.
    Flush {
        /// Seconds to wait (default 60).
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Wait for an applied seqno or a state.
    Wait(WaitArgs),
    /// List the downstream replicators connected to this one.
    Clients,
    /// A three-line quick status.
    Qs,
    /// Per-stage performance figures.
    Perf,
    /// The whole deployment of the ini (--config): its status, one line per
    /// host, and switch, failover and recover of the active site.
    Composite {
        #[command(subcommand)]
        action: CompositeAction,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `composite ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum CompositeAction {
    /// One line per host: dataservice, host, role, state, applied seqno,
    /// latency, upstream (or why the host did not answer).
    Status,
    /// Planned switch of the active site: fence the old primary
    /// (read_only), flush it, promote the relay of the target site, make
    /// the old master its relay; rolls back on any failure.
    Switch {
        /// The dataservice that becomes active (its relay becomes master).
        #[arg(long)]
        to: String,
    },
    /// The active site is gone: promote the relay of the target site and
    /// report the last seqno it had from the old one.
    Failover {
        /// The dataservice that becomes active.
        #[arg(long)]
        to: String,
    },
    /// A former active site rejoins as a passive one, if its history is a
    /// prefix of the active one's (else it names the tprovision to run).
    Recover {
        /// The dataservice that rejoins.
        dataservice: String,
    },
}

#[derive(Debug, Args, Default, Clone)]
pub struct OnlineArgs {
    /// Seqnos to skip when applying: 10, 10-20 or 10,12-14,16.
    #[arg(long, value_name = "LIST")]
    pub skip_seqno: Option<String>,
    /// Start extracting at this binlog position (mysql-bin.000003:4).
    #[arg(long, value_name = "EVENT")]
    pub from_event: Option<String>,
    /// With -from-event (and an empty THL): the seqno before the first extracted transaction, which gets N+1.
    #[arg(long, value_name = "SEQNO")]
    pub base_seqno: Option<i64>,
    /// Go offline once this seqno is applied.
    #[arg(long, value_name = "SEQNO")]
    pub until_seqno: Option<i64>,
    /// Skip the epoch/seqno handshake with the upstream (not supported yet: the replicator refuses it with a message).
    #[arg(long)]
    pub force: bool,
    /// Obsolete Tungsten forms, refused with a hint.
    #[arg(long, hide = true)]
    pub skip: Option<String>,
    #[arg(long, hide = true)]
    pub seqno: Option<String>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct ResetArgs {
    /// THL, catalog and tracking schema (the default).
    #[arg(long)]
    pub all: bool,
    /// The THL (and the catalog's history of it; the role is kept).
    #[arg(long)]
    pub thl: bool,
    /// DROP SCHEMA `tungsten_<service>` on the local database.
    #[arg(long)]
    pub db: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "yes")]
    pub yes: bool,
}

#[derive(Debug, Args, Default, Clone)]
pub struct WaitArgs {
    /// Wait until this seqno is applied.
    #[arg(long, conflicts_with = "state", required_unless_present = "state")]
    pub applied: Option<i64>,
    /// Wait until this state (or prefix: OFFLINE, GOING-ONLINE).
    #[arg(long)]
    pub state: Option<String>,
    /// Seconds to wait at most.
    #[arg(long)]
    pub limit: Option<u64>,
}

impl Cli {
    /// Parses Tungsten-style or clap-style arguments.
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString>,
    {
        let cmd = <Cli as clap::CommandFactory>::command();
        let normalized = control::dash_args::normalize(&cmd, args);
        <Cli as clap::Parser>::try_parse_from(normalized)
    }
}

/// `provision -source HOST [-method mariabackup|mysqldump] ...`.
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// The host to copy from: a replica of this dataservice or of its
    /// relay-source (an ini host name, or a name or address of one).
    #[arg(long, short = 's')]
    pub source: String,
    /// mariabackup (a physical copy by mariadb-backup; also xtrabackup) or
    /// mysqldump (a logical copy by mariadb-dump --single-transaction).
    #[arg(long, short = 'm', default_value = "mariabackup")]
    pub method: String,
    /// Copy threads on the source (mariadb-backup --parallel).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Accept the dataservice's primary as the source.
    #[arg(long)]
    pub allow_primary: bool,
    /// The most seqnos the source may lag behind the chain's master (default 1000).
    #[arg(long)]
    pub max_lag: Option<i64>,
    /// Give up waiting after this many seconds (the provision goes on in
    /// the replicator; `provision -status` shows it). Default: no limit.
    #[arg(long)]
    pub limit: Option<u64>,
}

/// Where the replicator is and how to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to connect to.
    pub addr: String,
    /// `http://host:port`, for messages.
    pub url: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// HTTPS (`rest-api-ssl`) and how to check the certificate.
    pub tls: Option<crate::tls::TargetTls>,
}

impl Target {
    /// The replicator of `name`, an ini host (or a name or address of one),
    /// with the ini's REST address and credentials (`-user`, `-password`,
    /// `-port` win).
    pub fn for_ini_host(dep: &Deployment, ini: &std::path::Path, name: &str, cli: &Cli) -> Result<Target, String> {
        let plan = dep.service_plan(name).map_err(|e| e.to_string())?;
        let listen = plan.rest_listen.ok_or_else(|| {
            format!(
                "{}: the REST API is disabled (replicator-rest-api=false)",
                ini.display()
            )
        })?;
        let ip = if listen.ip().is_unspecified() {
            plan.address
        } else {
            listen.ip()
        };
        let mut t = Target::at(
            &ip.to_string(),
            cli.port.unwrap_or(listen.port()),
            cli.user.clone().or(plan.rest_user),
            cli.password.as_deref().map(Secret::from).or(plan.rest_password),
        );
        if let Some(p) = plan.rest_tls {
            t.url = t.url.replacen("http://", "https://", 1);
            t.tls = Some(crate::tls::TargetTls {
                ca: (!cli.insecure).then_some(p.ca),
                name: plan.host,
            });
        }
        Ok(t)
    }

    fn at(host: &str, port: u16, user: Option<String>, password: Option<Secret>) -> Target {
        let hostport = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Target {
            url: format!("http://{hostport}"),
            addr: hostport,
            user,
            password,
            tls: None,
        }
    }

    /// Works out the address and credentials from the options and the ini.
    pub fn resolve(cli: &Cli) -> Result<Target, String> {
        if let Some(ini) = locate::ini_if_any(cli.config.as_deref()) {
            let dep = Deployment::load(&ini, cli.hosts_file.as_deref()).map_err(|e| e.to_string())?;
            let name = dep.this_host(cli.host.as_deref()).map_err(|e| e.to_string())?;
            return Target::for_ini_host(&dep, &ini, &name, cli);
        }
        let (host, port) = {
            let name = cli.host.clone().unwrap_or_else(|| "localhost".to_owned());
            let host = match &cli.hosts_file {
                Some(f) => {
                    let hf = HostsFile::load(f).map_err(|e| e.to_string())?;
                    Resolver::new(Some(hf)).resolve(&name).map_or(name, |ip| ip.to_string())
                }
                None => name,
            };
            (host, cli.port.unwrap_or(8097))
        };
        Ok(Target::at(
            &host,
            port,
            cli.user.clone(),
            cli.password.as_deref().map(Secret::from),
        ))
    }
}

//! `tprovision`: Tungsten's provisioning command. Replaces this node's
//! database by a copy of a replica's and brings the node back online after
//! the copy's position; the replicators do the work (the source's streams
//! the copy, this node's restores it), this tool starts it and shows the
//! progress. The same as `trepctl provision`.
//!
//! ```text
//! tprovision -s host2.alpha -m mariabackup [--threads 4]
//!            [--config tungsten.ini] [--host db7] [--hosts-file FILE]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use control::config::locate;
use trepctl::cli::{Cli, Command, ProvisionArgs};

/// Provision this node from another host of its dataservice (or of its
/// relay-source): copy the source's database with mariadb-backup or
/// mariadb-dump, streamed by the replicators, and resume replication after
/// the copy's position.
#[derive(Debug, Parser)]
#[command(
    name = "tprovision",
    version,
    after_help = "Needs this host's replicator running (it does the work) and the source's replicator reachable.\n\
                  The source must be a replica (ONLINE or OFFLINE:NORMAL, not far behind); this node's \
                  service goes OFFLINE during the copy and ONLINE after it."
)]
struct Args {
    /// The host to copy from (Tungsten's -s).
    #[arg(short = 's', long)]
    source: String,
    /// mariabackup (also xtrabackup, mariadb-backup) or mysqldump (also mariadb-dump).
    #[arg(short = 'm', long, default_value = "mariabackup")]
    method: String,
    /// Copy threads on the source (mariadb-backup --parallel).
    #[arg(long)]
    threads: Option<u32>,
    /// Accept the dataservice's primary as the source.
    #[arg(long)]
    allow_primary: bool,
    /// The most seqnos the source may lag behind the chain's master (default 1000).
    #[arg(long)]
    max_lag: Option<i64>,
    /// The deployment's tungsten.ini (default: $TUNGSTEN_INI, else /etc/tungsten/tungsten.ini).
    #[arg(long, env = locate::INI_ENV)]
    config: Option<PathBuf>,
    /// This host: its ini name, or a name or address of one (default:
    /// $TUNGSTEN_HOST, else this machine's).
    #[arg(long, env = locate::HOST_ENV)]
    host: Option<String>,
    /// A file in /etc/hosts format consulted before the system resolver
    /// (default: $TUNGSTEN_HOSTS_FILE).
    #[arg(long, env = locate::HOSTS_FILE_ENV)]
    hosts_file: Option<PathBuf>,
    /// The service to provision (implicit when the host runs one).
    #[arg(long)]
    service: Option<String>,
    /// With rest-api-ssl: do not check the replicator's certificate (see
    /// trepctl --help: anyone on the network path can then read and change
    /// the exchange).
    #[arg(long)]
    insecure: bool,
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    let a = Args::parse_from(control::dash_args::normalize(
        &<Args as clap::CommandFactory>::command(),
        args,
    ));
    let cli = Cli {
        host: a.host,
        port: None,
        service: a.service,
        user: None,
        password: None,
        config: a.config,
        hosts_file: a.hosts_file,
        json: false,
        insecure: a.insecure,
        command: Command::Provision(ProvisionArgs {
            source: a.source,
            method: a.method,
            threads: a.threads,
            allow_primary: a.allow_primary,
            max_lag: a.max_lag,
            limit: None,
        }),
    };
    match trepctl::run(&cli) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("tprovision: {message}");
            ExitCode::FAILURE
        }
    }
}

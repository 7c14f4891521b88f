//! `thl`: inspect and maintain a Transaction History Log directory
//! in the manner of Tungsten's `thl` tool: its commands `info`, `list`,
//! `index` and `purge`, its `list` options `-low`, `-high`, `-seqno`,
//! `-file`, `-headers`, `-json`, `-sql` and `-no-checksum` (accepted; CRCs
//! are always checked), its `list` layouts (`thl::display`), plus `verify`.
//! The directory is `-dir DIR`, or `-service NAME`: DIR/thl/NAME with
//! `-install-dir DIR`, else the service's THL directory on this host
//! (`-host`, default the system host name) in the deployment's ini
//! (`-config`, default `$TUNGSTEN_INI`, else `/etc/tungsten/tungsten.ini`).
//!
//! Options take one dash or two (`-low 10` = `--low 10`). Exit codes: 0
//! success, 1 a problem was found or the operation failed, 2 usage error.
//! Every command but `purge` only reads: it takes no lock and works on a
//! log another process is writing.

// The crate root is `src/bin/thl.rs`: its modules live in `src/bin/thl/`.
#[path = "thl/inspect.rs"]
mod inspect;
#[path = "thl/list.rs"]
mod list;
#[path = "thl/purge.rs"]
mod purge;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use control::config::{locate, Deployment};
use thl::store::StoreError;

/// Inspect and maintain a THL (Transaction History Log) directory.
///
/// Options take one dash or two: `thl list -low 10` = `thl list --low 10`.
/// Exit codes: 0 success, 1 problem found or operation failed, 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "thl", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which log to work on.
#[derive(Debug, Args)]
struct LogArgs {
    /// The THL directory (holding thl.data.NNNNNNNNNN files).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The replication service whose THL to use: DIR/thl/NAME with
    /// -install-dir, else the THL directory the deployment's ini gives this
    /// host for it (-dir takes precedence).
    #[arg(long, global = true, value_name = "NAME")]
    service: Option<String>,
    /// The replicator's install directory: -service NAME uses DIR/thl/NAME.
    #[arg(long = "install-dir", global = true, value_name = "DIR")]
    install_dir: Option<PathBuf>,
    /// The deployment's tungsten.ini, for -service (default: $TUNGSTEN_INI,
    /// else /etc/tungsten/tungsten.ini).
    #[arg(long, global = true, value_name = "FILE", env = locate::INI_ENV)]
    config: Option<PathBuf>,
    /// This host in the ini, for -service: its name there, or a name or
    /// address of it (default: $TUNGSTEN_HOST, else this machine's).
    #[arg(long, global = true, value_name = "HOST", env = locate::HOST_ENV)]
    host: Option<String>,
    /// A file in /etc/hosts format consulted before the system resolver
    /// (default: $TUNGSTEN_HOSTS_FILE).
    #[arg(long = "hosts-file", global = true, value_name = "FILE", env = locate::HOSTS_FILE_ENV)]
    hosts_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print events: all, a seqno range, one seqno, or one file.
    ///
    /// Default layout: Tungsten's `SEQ# = .. / FRAG# = ..` blocks (times in
    /// UTC). -headers: one tab-separated line per fragment (seqno, epoch,
    /// frag, lastFrag, time, eventId, sourceId, shard). -headers -json: a
    /// JSON array of header objects. -json alone: each fragment as one
    /// line of JSON (the event model serialized by serde). -sql: a script
    /// that re-executes the events (real INSERT/UPDATE/DELETE for rows).
    List(list::ListArgs),
    /// Print the log directory, its files, size and seqno range.
    Info(ChecksumArg),
    /// Print the seqno range of each file: `LogIndexEntry <file>(<first>:<last>)`.
    Index(ChecksumArg),
    /// Delete the oldest (or newest) events. Needs the write lock: stop the
    /// replicator first.
    ///
    /// The range must include one end of the log. Purging from the low end
    /// deletes whole files whose events are all <= -high (never the last,
    /// active file); purging from the high end (-low N up to the maximum)
    /// cuts the log back to just before seqno N. Without -low/-high:
    /// everything but the active file. Asks for confirmation unless -y.
    Purge(purge::PurgeArgs),
    /// Check every record (frames, CRCs, seqno order, file headers, indexes)
    /// and decode every event body. Prints OK with counts, or the first
    /// problem (file, offset, seqno) and exits 1.
    Verify(ChecksumArg),
    /// Print a shell completion script (`replicator install` writes bash's).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// Options shared by the read-only commands.
#[derive(Debug, Args)]
struct ChecksumArg {
    /// Accepted for compatibility with Tungsten; CRCs are always checked.
    #[arg(long = "no-checksum")]
    no_checksum: bool,
}

/// How a command failed.
#[derive(Debug)]
enum Failure {
    /// Bad arguments (exit 2).
    Usage(String),
    /// The operation failed or found a problem (exit 1).
    Failed(String),
    /// stdout was closed (`thl list | head`): stop quietly.
    Pipe,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Failed(e.to_string())
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Failure::Pipe
        } else {
            Failure::Failed(format!("cannot write the output: {e}"))
        }
    }
}

type CmdResult = Result<(), Failure>;

impl LogArgs {
    /// The THL directory the options name.
    fn resolve(&self) -> Result<PathBuf, Failure> {
        if let Some(d) = &self.dir {
            return Ok(d.clone());
        }
        match (&self.service, &self.install_dir) {
            (Some(s), Some(i)) => Ok(i.join("thl").join(s)),
            (Some(s), None) => self.dir_in_deployment(s),
            (None, _) => Err(Failure::Usage(
                "no log given: pass -dir <THL directory> (or -service NAME, with -install-dir DIR or the \
                 deployment's ini)"
                    .into(),
            )),
        }
    }

    /// The THL directory of `service` on this host, from the deployment's
    /// ini.
    fn dir_in_deployment(&self, service: &str) -> Result<PathBuf, Failure> {
        let ini = locate::ini_path(self.config.as_deref());
        if self.config.is_none() && !ini.is_file() {
            return Err(Failure::Usage(format!(
                "cannot find the THL of service '{service}': {} (or pass -dir <THL directory>, or -install-dir DIR \
                 to use DIR/thl/{service})",
                locate::missing_ini_hint(&ini)
            )));
        }
        let deployment =
            Deployment::load(&ini, self.hosts_file.as_deref()).map_err(|e| Failure::Usage(e.to_string()))?;
        let host = deployment
            .this_host(self.host.as_deref())
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let plan = deployment
            .service_plan(&host)
            .map_err(|e| Failure::Usage(e.to_string()))?;
        let names: Vec<&str> = plan.services.iter().map(|s| s.service.as_str()).collect();
        plan.services
            .iter()
            .find(|s| s.service == service)
            .map(|s| s.thl_dir.clone())
            .ok_or_else(|| {
                Failure::Usage(format!(
                    "host {} runs no service '{service}' in {} (its services: {})",
                    plan.host,
                    ini.display(),
                    names.join(", ")
                ))
            })
    }
}

fn run(cli: Cli) -> CmdResult {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        clap_complete::generate(shell, &mut cmd, "thl", &mut out);
        return out.flush().map_err(Failure::from);
    }
    let dir = cli.log.resolve()?;
    let res = match cli.command {
        Command::List(a) => list::run(&dir, &a, &mut out),
        Command::Info(_) => inspect::info(&dir, &mut out),
        Command::Index(_) => inspect::index(&dir, &mut out),
        Command::Verify(_) => inspect::verify(&dir, &mut out),
        Command::Purge(a) => purge::run(&dir, &a, &mut out),
        Command::Completions { .. } => Ok(()),
    };
    // Whatever was printed before a failure is still shown.
    let flushed = out.flush();
    res?;
    flushed.map_err(Failure::from)
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .init();

    let mut cmd = Cli::command();
    cmd.build();
    let args = control::dash_args::normalize(&cmd, std::env::args_os());
    let cli = match cmd.try_get_matches_from(args).and_then(|m| Cli::from_arg_matches(&m)) {
        Ok(c) => c,
        // Help and version exit 0, usage errors 2.
        Err(e) => e.exit(),
    };
    match run(cli) {
        Ok(()) | Err(Failure::Pipe) => ExitCode::SUCCESS,
        Err(Failure::Failed(m)) => {
            eprintln!("thl: {m}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("thl: {m}");
            ExitCode::from(2)
        }
    }
}

//! The `replicator` daemon.
//!
//! `replicator --config tungsten.ini --host host1.alpha` runs the services of
//! that host; `replicator validate` checks the file (and, with `--host`, the
//! host's local database) and reports every problem at once.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use replicator::config::{Deployment, HostPlan, Role, ServicePlan};
use replicator::extractor::{run_master, MasterSettings};
use replicator::extractor::event_id::EventId;
use replicator::source::StartPosition;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// The replicator daemon: reads a primary's binlog into the THL, serves it,
/// and applies it downstream.
#[derive(Debug, Parser)]
#[command(name = "replicator", version)]
struct Cli {
    /// The deployment's tungsten.ini.
    #[arg(long, global = true, default_value = "/opt/continuent/tungsten.ini")]
    config: PathBuf,
    /// This host's name in the ini (default: the system host name).
    #[arg(long, global = true)]
    host: Option<String>,
    /// A file in /etc/hosts format consulted before the system resolver, so
    /// that several hosts can live on one machine on their own loopback
    /// addresses.
    #[arg(long, global = true)]
    hosts_file: Option<PathBuf>,
    /// Overrides the ini's install-directory: the THL goes to
    /// DIR/thl/<service>, the catalog to DIR/catalog/<service>.
    #[arg(long, global = true)]
    install_directory: Option<PathBuf>,
    /// When a master's THL is empty, start extracting at this binlog
    /// position (`mysql-bin.000001:4`) instead of the source's current one.
    #[arg(long, global = true)]
    from_event: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host's services (the default).
    Run,
    /// Check the configuration and report every problem with its fix.
    Validate,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<_> = std::env::args_os().collect();
    let cli = Cli::parse_from(thl::dash_args::normalize(&<Cli as clap::CommandFactory>::command(), args));
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("replicator: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let deployment = Deployment::load(&cli.config, cli.hosts_file.as_deref()).map_err(|e| e.to_string())?;
    for w in deployment.warnings() {
        warn!("{}: {w}", cli.config.display());
    }
    if matches!(cli.command, Some(Command::Validate)) {
        return Ok(validate(&deployment, &cli));
    }
    deployment.validate().map_err(|e| e.to_string())?;
    let host = match &cli.host {
        Some(h) => h.clone(),
        None => system_host_name()?,
    };
    let mut plan = deployment.service_plan(&host).map_err(|e| e.to_string())?;
    if let Some(dir) = &cli.install_directory {
        override_install_directory(&mut plan, dir);
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(plan, &cli))
}

fn validate(deployment: &Deployment, cli: &Cli) -> ExitCode {
    let problems = deployment.problems();
    if let Some(host) = &cli.host {
        if let Err(e) = deployment.service_plan(host) {
            println!("- {e}");
            return ExitCode::FAILURE;
        }
    }
    if problems.is_empty() {
        println!("{}: no problems found", cli.config.display());
        ExitCode::SUCCESS
    } else {
        println!("{}: {} problem(s):", cli.config.display(), problems.len());
        for p in &problems {
            println!("- {p}");
        }
        ExitCode::FAILURE
    }
}

fn override_install_directory(plan: &mut HostPlan, dir: &std::path::Path) {
    for s in &mut plan.services {
        s.thl_dir = dir.join("thl").join(&s.service);
        s.catalog_dir = dir.join("catalog").join(&s.service);
    }
}

async fn serve(plan: HostPlan, cli: &Cli) -> Result<ExitCode, String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for service in &plan.services {
        match service.role {
            Role::Master => {
                let settings = master_settings(&plan, service, cli)?;
                let name = service.service.clone();
                let stop = stop_rx.clone();
                tasks.spawn(async move { (name, run_master(settings, stop).await.map_err(|e| e.to_string())) });
            }
            role => {
                return Err(format!(
                    "service {} on {}: the {role} role is not available in this build yet (only master is)",
                    service.service, plan.host
                ))
            }
        }
    }
    info!(host = %plan.host, services = plan.services.len(), "replicator started");
    let mut failed = false;
    tokio::select! {
        _ = shutdown_signal() => info!("stopping at the next transaction boundary"),
        Some(done) = tasks.join_next() => {
            failed |= report(done);
        }
    }
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        failed |= report(done);
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn report(done: Result<(String, Result<(), String>), tokio::task::JoinError>) -> bool {
    match done {
        Ok((name, Ok(()))) => {
            info!(service = %name, "stopped");
            false
        }
        Ok((name, Err(e))) => {
            error!(service = %name, "OFFLINE:ERROR: {e}");
            true
        }
        Err(e) => {
            error!("a service task failed: {e}");
            true
        }
    }
}

fn master_settings(plan: &HostPlan, s: &ServicePlan, cli: &Cli) -> Result<MasterSettings, String> {
    let source = mysql_async::OptsBuilder::default()
        .ip_or_hostname(s.db.address.to_string())
        .tcp_port(s.db.port)
        .user(Some(s.db.user.clone()))
        .pass(Some(s.db.password.clone()))
        .prefer_socket(false);
    let mut m = MasterSettings::new(&s.service, &plan.host, source.into(), s.thl_dir.clone(), s.catalog_dir.clone());
    m.thl.file_size = s.settings.thl_log_file_size;
    m.frag_size = usize::try_from(s.settings.thl_frag_size).unwrap_or(usize::MAX);
    if let Some(text) = &cli.from_event {
        let id = EventId::parse(text).map_err(|e| format!("--from-event: {e}"))?;
        m.start_when_empty = StartPosition::FilePos { file: id.file, pos: id.offset };
    }
    Ok(m)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn system_host_name() -> Result<String, String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it or truncates, and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return Err("cannot read the system host name: pass --host NAME".into());
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

//! The `replicator` daemon.
//!
//! `replicator --config tungsten.ini --host host1.alpha` runs the services of
//! that host under the service manager and serves the REST API;
//! `replicator validate` checks the file (and, with `--host`, the host's
//! local database) and reports every problem at once;
//! `replicator install` writes the host's systemd unit, env.sh and shell
//! completions (`replicator uninstall` removes them).
//!
//! Invariants: the process exits 0 after SIGTERM/SIGINT once every service
//! has gone offline at a transaction boundary; a service that fails stays in
//! OFFLINE:ERROR (the process keeps serving the API) until an operator acts.
//! Services go online at start unless `auto-enable=false` (also
//! `repl-auto-enable`) in the ini or `--offline` on the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use replicator::config::{locate, Deployment, HostPlan, Role};
use replicator::peer;
use replicator::pipeline::master::replica_server_id;
use replicator::provision::Provisioner;
use replicator::rest::{self, Credentials};
use replicator::service::reload::{override_install_directory, reload, IniSource};
use replicator::service::{db, Manager, RoleLauncher};
use replicator::source::preflight;
use tokio::sync::watch;
use tracing::{error, info, warn};

/// mimalloc rather than glibc's malloc: decoding allocates per value, and
/// malloc/free took about a third of the master's CPU; with mimalloc the
/// extraction of a backlog takes about a fifth less time and decoding alone
/// runs 1.5x as fast (`benches/benches/extract.rs`, in the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `replicator --version`: says whether this build carries crash points
/// (the fault-injection tests check it before they arm any).
const VERSION: &str = if thl::faults::ENABLED {
    concat!(env!("CARGO_PKG_VERSION"), " (crash points: on)")
} else {
    env!("CARGO_PKG_VERSION")
};

/// The replicator daemon: reads a primary's binlog into the THL, serves it,
/// and applies it downstream.
#[derive(Debug, Parser)]
#[command(name = "replicator", version = VERSION)]
struct Cli {
    /// The deployment's tungsten.ini (default: $TUNGSTEN_INI, else
    /// /etc/tungsten/tungsten.ini, where Tungsten's tpm keeps it).
    #[arg(long, global = true, env = locate::INI_ENV)]
    config: Option<PathBuf>,
    /// This host: its name in the ini, or a name or address that resolves to
    /// one ini host's (default: $TUNGSTEN_HOST, else the system host name's
    /// ini host, else the ini host with an address of this machine).
    #[arg(long, global = true, env = locate::HOST_ENV)]
    host: Option<String>,
    /// A file in /etc/hosts format consulted before the system resolver, so
    /// that several hosts can live on one machine on their own loopback
    /// addresses (default: $TUNGSTEN_HOSTS_FILE).
    #[arg(long, global = true, env = locate::HOSTS_FILE_ENV)]
    hosts_file: Option<PathBuf>,
    /// Overrides the ini's install-directory: the THL goes to
    /// DIR/thl/<service>, the catalog to DIR/catalog/<service>.
    #[arg(long, global = true)]
    install_directory: Option<PathBuf>,
    /// When a master's THL is empty, start extracting at this binlog
    /// position (`mysql-bin.000001:4`) instead of the source's current one.
    #[arg(long, global = true)]
    from_event: Option<String>,
    /// Start every service OFFLINE:NORMAL, whatever auto-enable says.
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host's services (the default).
    Run,
    /// Check the configuration (and, with --host, the local database) and
    /// report every problem with its fix.
    Validate,
    /// Write this host's systemd unit (tungsten-replicator.service, as the
    /// ini's user=), env.sh and shell completions, as Tungsten's tpm install.
    Install(replicator::install::InstallArgs),
    /// Remove the files `replicator install` wrote, and only those.
    Uninstall(replicator::install::UninstallArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args: Vec<_> = std::env::args_os().collect();
    let cli = Cli::parse_from(control::dash_args::normalize(
        &<Cli as clap::CommandFactory>::command(),
        args,
    ));
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("replicator: {message}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let ini = locate::ini_path(cli.config.as_deref());
    let globals = || replicator::install::Globals {
        ini: ini.clone(),
        host: cli.host.clone(),
        hosts_file: cli.hosts_file.clone(),
        install_directory: cli.install_directory.clone(),
    };
    let installing = matches!(cli.command, Some(Command::Install(_) | Command::Uninstall(_)));
    if installing && (cli.offline || cli.from_event.is_some()) {
        return Err(
            "--offline and --from-event concern one run, not the installed unit (for services that start \
                    OFFLINE, set auto-enable=false in the ini)"
                .into(),
        );
    }
    let report = match &cli.command {
        Some(Command::Install(args)) => Some(replicator::install::install(&globals(), args)?),
        Some(Command::Uninstall(args)) => Some(replicator::install::uninstall(&globals(), args)?),
        _ => None,
    };
    if let Some(report) = report {
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    if cli.config.is_none() && !ini.is_file() {
        return Err(locate::missing_ini_hint(&ini));
    }
    let deployment = Deployment::load(&ini, cli.hosts_file.as_deref()).map_err(|e| e.to_string())?;
    for w in deployment.warnings() {
        warn!("{}: {w}", ini.display());
    }
    if matches!(cli.command, Some(Command::Validate)) {
        return validate(&deployment, &cli, &ini);
    }
    deployment.validate().map_err(|e| e.to_string())?;
    let host = deployment.this_host(cli.host.as_deref()).map_err(|e| e.to_string())?;
    let mut plan = deployment.service_plan(&host).map_err(|e| e.to_string())?;
    if let Some(dir) = &cli.install_directory {
        override_install_directory(&mut plan, dir);
    }
    arm_crash_points()?;
    runtime()?.block_on(serve(plan, &cli, ini))
}

/// Arms the crash points named in `FAILPOINTS` (fault-injection tests,
/// `thl::faults`); refuses names that are not points, and says so when
/// this build carries none.
fn arm_crash_points() -> Result<(), String> {
    let Some(spec) = std::env::var_os("FAILPOINTS") else {
        return Ok(());
    };
    if !thl::faults::ENABLED {
        warn!(
            "FAILPOINTS={} is ignored: this build has no crash points (build with --features replicator/failpoints)",
            spec.to_string_lossy()
        );
        return Ok(());
    }
    let armed = thl::faults::arm_from_env();
    for a in &armed {
        let name = a.split('=').next().unwrap_or_default();
        if !thl::faults::ALL.contains(&name) && !thl::faults::ERROR_POINTS.contains(&name) {
            return Err(format!(
                "FAILPOINTS names `{name}`, which is not a fault point (known: {}, {})",
                thl::faults::ALL.join(", "),
                thl::faults::ERROR_POINTS.join(", ")
            ));
        }
    }
    warn!(armed = ?armed, "crash points armed (FAILPOINTS)");
    Ok(())
}

fn validate(deployment: &Deployment, cli: &Cli, ini: &Path) -> Result<ExitCode, String> {
    let mut problems: Vec<String> = deployment.problems().iter().map(ToString::to_string).collect();
    if let Some(host) = &cli.host {
        match deployment.service_plan(host) {
            Err(e) => problems.push(e.to_string()),
            Ok(plan) => {
                problems.extend(check_tls(&plan));
                problems.extend(runtime()?.block_on(check_databases(&plan)));
            }
        }
    }
    if problems.is_empty() {
        println!("{}: no problems found", ini.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}: {} problem(s):", ini.display(), problems.len());
        for p in &problems {
            println!("- {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// Each service's THL TLS material, and the REST API's, loads (readable,
/// a certificate and a key that go together, a CA); a THL port in clear
/// on an address other than loopback is a warning.
fn check_tls(plan: &HostPlan) -> Vec<String> {
    let mut out = Vec::new();
    for s in &plan.services {
        let at = format!("{} ({})", plan.host, s.service);
        match &s.tls {
            Some(p) => {
                if let Err(e) = replicator::tls::load(p, p.mutual) {
                    out.push(format!("{at}: {e}"));
                }
            }
            None if !s.thl_listen.ip().is_loopback() => out.push(format!(
                "{at}: (warning) the THL port {} is in clear on a non-loopback address: anyone who reaches it \
                 reads every replicated row; set thl-ssl=true with ssl-cert, ssl-key and ssl-ca",
                s.thl_listen
            )),
            None => {}
        }
    }
    match (&plan.rest_tls, plan.rest_listen) {
        (Some(p), _) => {
            if let Err(e) = replicator::tls::load(p, false) {
                out.push(format!("{} (REST API, rest-api-ssl): {e}", plan.host));
            }
        }
        (None, Some(addr)) if !addr.ip().is_loopback() => out.push(format!(
            "{}: (warning) the REST API {addr} is plain HTTP on a non-loopback address: its credentials and answers \
             cross the network in clear; set rest-api-ssl=true",
            plan.host
        )),
        (None, _) => {}
    }
    out
}

/// The source preflight checks of every master service on its local database.
async fn check_databases(plan: &HostPlan) -> Vec<String> {
    let mut out = Vec::new();
    for s in plan.services.iter().filter(|s| s.role == Role::Master) {
        let at = format!(
            "service {} (database {}:{} as {})",
            s.service, s.db.address, s.db.port, s.db.user
        );
        let mut conn = match mysql_async::Conn::new(db::opts(s)).await {
            Ok(c) => c,
            Err(e) => {
                out.push(format!(
                    "{at}: cannot connect: {e} (fix: start the database, or correct replication-port/-user/-password)"
                ));
                continue;
            }
        };
        let settings = preflight::read_settings(&mut conn).await;
        let privileges = preflight::read_privileges(&mut conn).await;
        let _ = conn.disconnect().await;
        match (settings, privileges) {
            (Ok(settings), Ok(privileges)) => {
                match preflight::check(&settings, &privileges, replica_server_id(&s.service, &plan.host)) {
                    Ok(warnings) => out.extend(warnings.iter().map(|w| format!("{at}: (warning) {w}"))),
                    Err(e) => {
                        out.extend(e.failures.iter().map(|f| format!("{at}: {f}")));
                        out.extend(e.warnings.iter().map(|w| format!("{at}: (warning) {w}")));
                    }
                }
            }
            (Err(e), _) | (_, Err(e)) => out.push(format!("{at}: cannot read the server settings: {e}")),
        }
    }
    out
}

async fn serve(plan: HostPlan, cli: &Cli, ini: PathBuf) -> Result<ExitCode, String> {
    let hosts = match &cli.hosts_file {
        Some(path) => Some(replicator::config::HostsFile::load(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let source = IniSource {
        ini,
        hosts_file: cli.hosts_file.clone(),
        install_directory: cli.install_directory.clone(),
    };
    let rest_tls = peer::local_tls(&plan).map_err(|e| format!("the REST API's TLS (rest-api-ssl): {e}"))?;
    let other_heads = match source.load() {
        Ok(dep) => plan
            .services
            .iter()
            .map(|s| {
                let heads = peer::history_heads(&dep, &s.service, &plan.host, rest_tls.as_ref()).0;
                (s.service.clone(), heads)
            })
            .collect(),
        Err(e) => {
            warn!("cannot list the other heads of the services' histories (a master will not check for a second one): {e}");
            Default::default()
        }
    };
    let launcher = Arc::new(RoleLauncher {
        default_from_event: cli.from_event.clone(),
        resolver: replicator::config::Resolver::new(hosts),
        other_heads,
    });
    let manager = Manager::new(plan.clone(), launcher);
    let (stop_rest, mut rest_stopped) = watch::channel(false);
    let mut rest_task = None;
    if let Some(addr) = plan.rest_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen for the REST API on {addr}: {e} (another replicator there? set replicator-rest-api-address/-port)"))?;
        let auth = rest::admin_credentials(&plan, addr).map_err(|e| format!("{}: {e}", source.ini.display()))?;
        let readonly = match (&plan.rest_readonly_user, &plan.rest_readonly_password) {
            (Some(user), Some(password)) => Some(Credentials {
                user: user.clone(),
                password: password.expose().to_owned(),
            }),
            _ => None,
        };
        let provisioner = Provisioner::new(manager.clone(), source.clone());
        let router = rest::router_full(manager.clone(), auth, readonly, Some(provisioner));
        let scheme = if rest_tls.is_some() { "https" } else { "http" };
        rest_task = Some(tokio::spawn(rest::serve(
            listener,
            router,
            async move {
                let _ = rest_stopped.wait_for(|s| *s).await;
            },
            rest_tls.clone(),
        )));
        info!(%addr, %scheme, "REST API serving");
    }
    info!(host = %plan.host, services = plan.services.len(), "replicator started");
    for s in manager.services() {
        let auto_enable = plan
            .services
            .iter()
            .find(|p| p.service == s.name())
            .is_none_or(|p| p.settings.auto_enable);
        if !cli.offline && auto_enable {
            if let Err(e) = s.online(&Default::default()) {
                error!(service = %s.name(), "cannot go online: {e}");
            }
        } else {
            info!(service = %s.name(), "auto-enable is off: staying OFFLINE:NORMAL (`trepctl online` to start)");
        }
    }
    // SIGHUP re-reads the ini (as `trepctl reload`); SIGTERM/SIGINT stop.
    while let Signal::Reload = next_signal().await {
        if let Err(e) = reload(&manager, &source) {
            warn!("SIGHUP: {}", e.message);
        }
    }
    info!("stopping every service at the next transaction boundary");
    manager.shutdown().await;
    let _ = stop_rest.send(true);
    if let Some(t) = rest_task {
        match t.await {
            Ok(Err(e)) => error!("REST API: {e}"),
            Err(e) => error!("REST API task: {e}"),
            Ok(Ok(())) => {}
        }
    }
    info!("replicator stopped");
    Ok(ExitCode::SUCCESS)
}

enum Signal {
    Stop,
    Reload,
}

async fn next_signal() -> Signal {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => Signal::Stop,
        _ = tokio::signal::ctrl_c() => Signal::Stop,
        _ = hup.recv() => Signal::Reload,
    }
}

//! `trepctl`, the operator CLI: a client of the replicator's REST API
//! (`replicator::rest`), and `tprovision`, its provisioning front end.
//!
//! Invariants: every command goes through the REST API (trepctl never
//! touches the THL or the catalog); every command prints Tungsten's layout
//! or, with `-json`, the API's JSON unchanged; exit status 0 on success, 1
//! on any error (including a `wait` that did not reach its goal), 2 on a
//! usage error.

pub mod cli;
pub mod client;
pub mod commands;
pub mod composite;
pub mod output;
pub mod provision;
pub mod tls;

use cli::{Cli, Command, Target};
use commands::Session;

/// Runs one parsed command line; the text to print, or the error.
pub fn run(cli: &Cli) -> Result<String, String> {
    // The whole deployment: no single replicator to resolve first.
    if let Command::Composite { action } = &cli.command {
        return match action {
            cli::CompositeAction::Status => composite::status(cli),
            cli::CompositeAction::Switch { to } => composite::switch(cli, to),
            cli::CompositeAction::Failover { to } => composite::failover(cli, to),
            cli::CompositeAction::Recover { dataservice } => composite::recover(cli, dataservice),
        };
    }
    let s = Session {
        target: Target::resolve(cli)?,
    };
    match &cli.command {
        Command::Completions { .. } => Ok(String::new()),
        Command::Version => commands::version(cli, &s),
        Command::Services { full } => commands::services(cli, &s, *full),
        Command::Status { name } => commands::status(cli, &s, name.as_deref()),
        Command::Online(a) => commands::online(cli, &s, a),
        Command::Offline { immediate } => commands::offline(cli, &s, *immediate),
        Command::OfflineDeferred { at_seqno } => commands::offline_deferred(cli, &s, *at_seqno),
        Command::Setrole { role, uri } => commands::setrole(cli, &s, role, uri.as_deref()),
        Command::Reset(a) => commands::reset(cli, &s, a),
        Command::Provision(a) => provision::provision(cli, &s, a),
        Command::Reload => commands::reload(cli, &s),
        Command::Composite { .. } => composite::status(cli),
        Command::ReadOnly { value } => commands::read_only(cli, &s, value == "on"),
        Command::Heartbeat { name } => commands::heartbeat(cli, &s, name.as_deref()),
        Command::Flush { limit } => commands::flush(cli, &s, *limit),
        Command::Wait(a) => commands::wait(cli, &s, a),
        Command::Clients => commands::clients(cli, &s),
        Command::Qs => commands::qs(cli, &s),
        Command::Perf => commands::perf(cli, &s),
    }
}

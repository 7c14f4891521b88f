//! What the replicator daemon and its operator tools (`trepctl`, `thl`)
//! share, so that the tools need none of the daemon's machinery (RocksDB,
//! the async runtime, the HTTP server):
//!
//! * [`config`]: `tungsten.ini`, hosts files, and what a host runs.
//! * [`state`]: the states of a replication service, as Tungsten names
//!   them.
//! * [`dash_args`]: Tungsten's single-dash long options (`-low 10`).
//! * [`requests`]: the bodies of the REST API's commands.
//! * [`responses`]: the REST API's answers and its error body.
//! * [`secret`]: passwords that never print.
//!
//! Invariant: this crate imports no other crate of the workspace.

pub mod config;
pub mod dash_args;
pub mod requests;
pub mod responses;
pub mod secret;
pub mod state;

//! The replicator: services, pipelines, the binlog extractor, the THL
//! server and client, the applier, the catalog and the REST API.
//!
//! * [`binlog`]: decoding MySQL/MariaDB binary log events into THL values.
//! * [`source`]: the connection to the source database as a replica, and the
//!   preflight checks of its settings.
//! * [`catalog`]: the replicator's RocksDB catalog (epochs, schema history,
//!   role, downstream positions).
//! * [`extractor`]: the master pipeline, source binlog → THL.
//! * [`pipeline`]: the slave and relay stages (apply).
//! * [`service`]: services' live progress and state.
//! * [`config`]: `tungsten.ini`, hosts files, and what a host runs.
//! * [`tls`]: the THL port's TLS (`thls://`): the deployment's CA, each
//!   host's certificate, reloaded when the files change.
//! * [`thl_net`]: the THL server and client (`thl://host:2112/`): resume
//!   handshake with epoch checks, durable-only streaming, heartbeats.
//! * [`applier`]: THL events → SQL on a MySQL/MariaDB target, exactly once
//!   (position row in the same transaction, block commit).
//! * [`packet_limit`]: the client-side packet limit error, as the source
//!   and the applier classify it.
//! * [`budget`]: the bytes of THL records read and not yet used, per reader.
//! * [`meter`]: per-stage work meters (events, busy time, queue), for
//!   `trepctl perf` and `/metrics`.
//! * [`install`]: `replicator install`/`uninstall`, the host's systemd unit,
//!   env.sh and shell completions.
//! * [`statement_kind`]: which statements commit implicitly (or change a
//!   schema), for the extractor and the applier alike.

pub mod applier;
pub mod binlog;
pub mod budget;
pub mod catalog;
pub mod clock;
pub use control::config;
pub mod extractor;
pub mod install;
pub mod meter;
pub mod packet_limit;
pub mod peer;
pub mod pipeline;
pub mod provision;
pub mod rest;
pub mod retry;
pub mod service;
pub mod source;
pub mod statement_kind;
pub mod thl_net;
pub mod tls;

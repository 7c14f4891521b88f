//! The replicator: services, pipelines, the binlog extractor, the THL
//! server and client, the applier, the catalog and the REST API.
//!
//! * [`binlog`]: decoding MySQL/MariaDB binary log events into THL values.
//! * [`source`]: the connection to the source database as a replica, and the
//!   preflight checks of its settings.
//! * [`catalog`]: the replicator's RocksDB catalog (epochs, schema history,
//!   role, downstream positions).
//! * [`extractor`]: the master pipeline, source binlog → THL.
//! * [`config`]: `tungsten.ini`, hosts files, and what a host runs.

pub mod binlog;
pub mod catalog;
pub mod config;
pub mod extractor;
pub mod source;

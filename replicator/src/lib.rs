//! The replicator: services, pipelines, the binlog extractor, the THL
//! server and client, the applier, the catalog and the REST API.
//!
//! Built up issue by issue; see the README for what works today.

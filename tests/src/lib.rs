//! Test support: the MariaDB sandbox and helpers shared by the integration tests.
//!
//! * [`sandbox`]: starts N real `mariadbd` instances in a temporary directory
//!   (template data directory copied per instance, ROW binlog, each instance
//!   on its own loopback address or port) and tears them down.
//! * [`apply_support`]: helpers of the applier tests (events, bounded steps).
//! * [`cluster`]: the seed's composite cluster (six hosts) on one machine.
//! * [`dashboard`]: the Grafana dashboard's queried metrics, and those a
//!   `/metrics` answer exports.
//! * [`process`]: a deployment (ini, hosts file, install directories) and
//!   `replicator` processes started from it.
//! * [`load`]: a write load that follows the primary through a switch or a
//!   failover, and the exactly-once check of what it committed.
//! * [`tls`]: a CA and host certificates for TLS deployments.
//! * [`torture`]: fault rounds (SIGKILLs, crash points) on a master → relay
//!   → slave chain under load, and the exactly-once oracle.

pub mod apply_support;
pub mod cluster;
pub mod conformance;
pub mod dashboard;
pub mod fault_proxy;
pub mod load;
pub mod process;
pub mod randgen;
pub mod sandbox;
pub mod tls;
pub mod torture;

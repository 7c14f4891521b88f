//! A sandbox of real `mariadbd` instances for integration tests and the demo.
//!
//! # What it does
//!
//! [`Sandbox::start`] starts one `mariadbd` per [`InstanceSpec`], each in its
//! own directory under one temporary root, and returns once every instance
//! accepts connections and has the replication account (`tungsten`/`secret`
//! by default, `ALL PRIVILEGES ON *.* WITH GRANT OPTION`, since the applier
//! uses the same account).
//!
//! # Files, one job each
//!
//! | file | job |
//! |------|-----|
//! | `spec.rs` | what to start: [`InstanceSpec`], [`SandboxOptions`], the defaults |
//! | `ports.rs` | free loopback addresses and ports: [`loopback_specs`], [`localhost_specs`], [`free_port`] |
//! | `binaries.rs` | finding `mariadbd` and `mariadb-install-db`, the server version |
//! | `template.rs` | the template data directory, made once per version and copied per instance |
//! | `boot.rs` | the instance's boot script (`datasource-boot-script`) and the servers it started |
//! | `spawn.rs` | [`spawn_with_death_signal`]: children that die with the test process |
//! | `instance.rs` | [`Instance`]: creation, directory layout, accessors, connection options |
//! | `server.rs` | an instance's `mariadbd` process: command line, start, wait, stop, kill, restart, drop |
//! | `sql.rs` | SQL as `root` over the socket: account set-up and the test helpers |
//! | `set.rs` | [`Sandbox`]: the instances sharing one root, and their teardown |
//! | `permits.rs` | the cap on `mariadbd` per test process |
//! | `cleanup.rs` | removing the roots of SIGKILLed test processes |
//! | `logs.rs` | log tails for the errors |
//! | `error.rs` | [`SandboxError`] |
//!
//! # Invariants
//!
//! Each file's documentation states the ones it keeps; in short:
//!
//! * **Template made once, atomically** (`template.rs`), cached in
//!   `$TUNGSTEN_SANDBOX_CACHE` or `std::env::temp_dir()/tungsten-mariadb-templates`.
//! * **Every instance dies with its owner**: killed by pid on drop
//!   (`server.rs`), spawned with a parent-death signal from a thread that
//!   never exits (`spawn.rs`); the root of a SIGKILLed process is removed by
//!   the next [`Sandbox::start`] (`cleanup.rs`).
//! * **Bounded waits**: start, stop, every connection attempt and statement
//!   have a deadline ([`SandboxOptions`]); a failed start reports the tail of
//!   the instance's error log.
//! * **Clean binlog**: the set-up statements run with `sql_log_bin=0`
//!   (`sql.rs`).
//! * Only loopback addresses (`127.0.0.0/8`) are accepted (`instance.rs`).
//! * At most [`DEFAULT_MAX_INSTANCES`] (`$TUNGSTEN_SANDBOX_MAX_INSTANCES`)
//!   `mariadbd` per test process: sandboxes of tests running in parallel
//!   wait (bounded) for slots, so plain `cargo test` is safe too
//!   (`permits.rs`).
//!
//! # Addresses
//!
//! Each instance listens either on its own loopback address with the same
//! port (as the deployment does: 13306 on every host; all of 127.0.0.0/8 is
//! routed to `lo` on Linux), see [`loopback_specs`], or on 127.0.0.1 with
//! distinct ports, see [`localhost_specs`]. Both helpers pick addresses or
//! ports that are free at the time of the call, so several engineers can run
//! sandboxes at once.
//!
//! Helpers ([`Instance::exec`], [`Instance::query`], ...) connect as `root`
//! through the instance's Unix socket, so they keep working whatever a test
//! does to the replication account. [`Instance::opts`] and [`Instance::url`]
//! give TCP access as the replication account.

// Errors are on the cold path and carry the log tail for the operator;
// keeping `SandboxError` flat lets tests match its variants directly.
#![allow(clippy::result_large_err)]

mod binaries;
mod boot;
mod cleanup;
mod error;
mod instance;
mod logs;
mod permits;
mod ports;
mod server;
mod set;
mod spawn;
mod spec;
mod sql;
mod template;

pub use binaries::MARIADBD_ENV;
pub use error::SandboxError;
pub use instance::Instance;
pub use permits::{DEFAULT_MAX_INSTANCES, MAX_INSTANCES_ENV};
pub use ports::{free_port, localhost_specs, loopback_specs};
pub use set::Sandbox;
pub use spawn::spawn_with_death_signal;
pub use spec::{InstanceSpec, SandboxOptions, DEFAULT_PASSWORD, DEFAULT_PORT, DEFAULT_USER};
pub use template::{template_datadir, CACHE_ENV, TEMPLATE_LAYOUT};

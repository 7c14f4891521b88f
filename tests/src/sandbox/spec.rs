//! What to start: [`InstanceSpec`] (one `mariadbd`: name, loopback address,
//! port, server id, extra options) and [`SandboxOptions`] (the account and
//! the deadlines shared by every instance of a sandbox), with their
//! defaults.
//!
//! Invariants: plain data, no I/O. The checks of a spec (loopback address,
//! non-zero server id, names, addresses and server ids distinct within a
//! sandbox) are made where instances start (`instance.rs`, `set.rs`).

use std::net::Ipv4Addr;
use std::time::Duration;

/// The port every deployed host uses.
pub const DEFAULT_PORT: u16 = 13306;
/// Default replication account.
pub const DEFAULT_USER: &str = "tungsten";
/// Default password of the replication account.
pub const DEFAULT_PASSWORD: &str = "secret";

/// One instance to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// A short name, unique in the sandbox; also its directory name.
    pub name: String,
    /// A loopback address (127.0.0.0/8) to bind.
    pub address: Ipv4Addr,
    /// The TCP port.
    pub port: u16,
    /// `--server-id`, non-zero and unique in the sandbox.
    pub server_id: u32,
    /// Extra `mariadbd` options, appended last so they override the
    /// defaults (e.g. `--binlog-format=STATEMENT`).
    pub extra_args: Vec<String>,
}

impl InstanceSpec {
    /// An instance with no extra options.
    pub fn new(name: impl Into<String>, address: Ipv4Addr, port: u16, server_id: u32) -> Self {
        Self {
            name: name.into(),
            address,
            port,
            server_id,
            extra_args: Vec::new(),
        }
    }

    /// Adds one `mariadbd` option (e.g. `--innodb-flush-log-at-trx-commit=2`).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Adds several `mariadbd` options.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `address:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }
}

/// Settings shared by every instance of a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Replication account name (`tungsten`).
    pub user: String,
    /// Replication account password (`secret`).
    pub password: String,
    /// Longest wait for an instance to accept connections.
    pub start_timeout: Duration,
    /// Longest wait for `mariadbd` to exit after SIGTERM in [`Instance::stop`](super::Instance::stop).
    pub stop_timeout: Duration,
    /// Longest wait for one helper SQL statement.
    pub sql_timeout: Duration,
    /// Longest wait for instance slots held by other tests of this process
    /// (see [`MAX_INSTANCES_ENV`](super::MAX_INSTANCES_ENV)).
    pub permit_timeout: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            user: DEFAULT_USER.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            start_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(60),
            sql_timeout: Duration::from_secs(60),
            permit_timeout: Duration::from_secs(900),
        }
    }
}

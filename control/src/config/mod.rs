//! `tungsten.ini`, hosts files, and what a host runs (the keys an operator
//! writes: `README.md`, "Configuration").
//!
//! * [`ini`]: the file syntax (comments, sections, `key=value`, bare flags).
//! * [`keys`]: the known tpm keys, aliases (`primary`→`master`, `repl-`
//!   prefix, ...) and typed values (ports, durations, sizes, booleans).
//! * [`model`]: [`Deployment`] — `[defaults]`, dataservices, composites;
//!   every value keeps its section and line. A dataservice's value overrides
//!   `[defaults]`, which overrides the built-in default.
//! * [`validate`](Deployment::validate): every problem at once, each with
//!   its fix.
//! * [`resolve`](Deployment::service_plan): a host's services, roles,
//!   upstream URIs, listen addresses and directories.
//! * [`hosts`]: `--hosts-file` (`/etc/hosts` format), consulted before the
//!   system resolver.
//! * [`locate`]: where the tools find the ini and which host they are on.
//!
//! Invariants: host names are compared in lower case; an unknown key is a
//! [`Warning`] (section, key, line), never an error; parsing fails only on
//! syntax errors (all of them reported), everything else is a [`Problem`]
//! from `validate`.

pub mod hosts;
pub mod ini;
pub mod keys;
mod lineage;
pub mod locate;
pub mod model;
mod resolve;
mod role;
mod validate;

use std::path::{Path, PathBuf};

pub use hosts::{resolve, HostsFile, HostsFileError, Resolver};
pub use model::{Composite, Dataservice, Deployment, Problem, RawValue, ServiceSettings, Warning};
pub use resolve::{DbTarget, HostPlan, LocalDatabase, ServicePlan, TlsPaths};
pub use role::{Role, UnknownRole};
pub use validate::ValidationErrors;

/// An error loading or resolving a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: syntax errors:\n{}", errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Syntax {
        origin: String,
        errors: Vec<ini::SyntaxError>,
    },
    #[error(transparent)]
    HostsFile(#[from] HostsFileError),
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(
        "host {host} is in no dataservice (master, relay, members or slaves), by name or by address; known hosts: {}",
        known.join(", ")
    )]
    UnknownHost { host: String, known: Vec<String> },
    #[error(
        "{given} is address {address}, which is the address of several hosts of the ini ({}): pass the host's name",
        hosts.join(", ")
    )]
    AmbiguousAddress {
        given: String,
        address: std::net::IpAddr,
        hosts: Vec<String>,
    },
    #[error(
        "host name {host} does not resolve{}",
        match hosts_file {
            Some(p) => format!(" (add `<address> {host}` to the hosts file {})", p.display()),
            None => " (use DNS, /etc/hosts, or --hosts-file FILE)".to_owned(),
        }
    )]
    Unresolved { host: String, hosts_file: Option<PathBuf> },
    #[error("dataservice {service} has neither master= nor relay=")]
    NoHead { service: String },
    #[error(
        "which host of the ini is this machine? {}; {}: pass --host NAME",
        match system_name {
            Some(n) => format!("its host name {n} is none of them"),
            None => "its host name cannot be read".to_owned(),
        },
        if local.is_empty() {
            "none of the ini's hosts has an address of this machine".to_owned()
        } else {
            format!("several have an address of this machine ({})", local.join(", "))
        }
    )]
    NotThisMachine {
        system_name: Option<String>,
        local: Vec<String>,
    },
    #[error("dataservice {service}: relay-source {source_name:?} names no other dataservice")]
    UnknownSource { service: String, source_name: String },
}

impl Deployment {
    /// Parses ini text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Deployment, ConfigError> {
        let ini = ini::parse(text).map_err(|errors| ConfigError::Syntax {
            origin: origin.to_owned(),
            errors,
        })?;
        Ok(Deployment::from_ini(&ini, origin))
    }

    /// Reads `ini_path`, and the hosts file when given.
    pub fn load(ini_path: &Path, hosts_file: Option<&Path>) -> Result<Deployment, ConfigError> {
        let text = std::fs::read_to_string(ini_path).map_err(|source| ConfigError::Read {
            path: ini_path.to_owned(),
            source,
        })?;
        let dep = Deployment::parse(&text, &ini_path.display().to_string())?;
        let hosts = hosts_file.map(HostsFile::load).transpose()?;
        Ok(dep.with_resolver(Resolver::new(hosts)))
    }
}

#[cfg(test)]
mod tests;

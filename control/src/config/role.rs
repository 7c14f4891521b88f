//! The role of a replication service on a host.

use serde::{Deserialize, Serialize};

/// What a service does on a host (its pipeline: `ARCHITECTURE.md` §1; how
/// a host gets its role from the ini: `resolve.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// binlog → THL, serves THL.
    Master,
    /// remote THL → local THL → DBMS.
    Slave,
    /// a slave that also serves its THL (primary of a passive cluster).
    Relay,
}

impl Role {
    /// Tungsten's spelling: `master`, `slave`, `relay`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Slave => "slave",
            Role::Relay => "relay",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is none of the accepted spellings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use master (or primary), slave (or replica), or relay")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    /// Accepts `master`/`primary`, `slave`/`replica`, `relay`, any case.
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "master" | "primary" => Ok(Role::Master),
            "slave" | "replica" => Ok(Role::Slave),
            "relay" => Ok(Role::Relay),
            _ => Err(UnknownRole(s.to_owned())),
        }
    }
}

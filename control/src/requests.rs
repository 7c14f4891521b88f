//! The bodies of the REST API's commands (`POST /api/v2/replicator/service/
//! NAME/<command>`), as `trepctl` sends them and the replicator reads them:
//! one definition for both sides, in JSON with camelCase names.
//!
//! Invariants: the replicator refuses a field it does not know
//! (`deny_unknown_fields`); an absent optional field is not sent (`null`
//! never stands for a value); what each value may be is checked by the
//! replicator, which names the option and an example in its error.

use serde::{Deserialize, Serialize};

/// The REST API's base path (the replicator serves it, `trepctl` and a
/// provisioning replicator call it).
pub const API_BASE: &str = "/api/v2/replicator";

/// `online [-skip-seqno LIST] [-from-event F:P [-base-seqno N]]
/// [-until-seqno N] [-force]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnlineRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_seqno: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_seqno: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_seqno: Option<i64>,
    #[serde(default)]
    pub force: bool,
}

/// `offline [-immediate]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfflineRequest {
    #[serde(default)]
    pub immediate: bool,
}

/// `offline-deferred -at-seqno N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OfflineDeferredRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_seqno: Option<i64>,
}

/// `setrole -role master|slave|relay [-uri thl://host:port/,...]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetroleRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// How a provision copies the source's data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisionMethod {
    /// A physical copy by `mariadb-backup` (also spelled `mariabackup` and,
    /// as Tungsten's MySQL tooling names it, `xtrabackup`).
    #[default]
    #[serde(alias = "mariabackup", alias = "mariadb-backup", alias = "xtrabackup")]
    Mariabackup,
    /// A logical copy by `mariadb-dump --single-transaction` (also
    /// `mariadb-dump`).
    #[serde(alias = "mariadb-dump")]
    Mysqldump,
}

impl ProvisionMethod {
    /// The name as `tprovision -m` and the status show it.
    pub fn name(self) -> &'static str {
        match self {
            ProvisionMethod::Mariabackup => "mariabackup",
            ProvisionMethod::Mysqldump => "mysqldump",
        }
    }
}

impl std::str::FromStr for ProvisionMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "mariabackup" | "mariadb-backup" | "xtrabackup" => Ok(ProvisionMethod::Mariabackup),
            "mysqldump" | "mariadb-dump" => Ok(ProvisionMethod::Mysqldump),
            other => Err(format!(
                "unknown provisioning method `{other}`: use mariabackup or mysqldump"
            )),
        }
    }
}

/// `tprovision -s SOURCE [-m METHOD] [--threads N] [--allow-primary]`: the
/// body of `POST .../service/NAME/provision` on the node to provision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProvisionRequest {
    /// The host to copy from (an ini host name, or a name or address of one).
    pub source: String,
    #[serde(default)]
    pub method: ProvisionMethod,
    /// Copy threads on the source (`mariadb-backup --parallel`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Accept a primary as the source.
    #[serde(default)]
    pub allow_primary: bool,
    /// The most seqnos the source may be behind its dataservice's head
    /// (default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_lag: Option<i64>,
}

/// The body of `POST /api/v2/replicator/provision/backup` on the source:
/// what the provisioning replicator asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupRequest {
    #[serde(default)]
    pub method: ProvisionMethod,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

/// What `reset` clears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetScope {
    /// THL, catalog and the `tungsten_<service>` schema (the default when
    /// nothing is chosen).
    #[serde(default)]
    pub all: bool,
    /// The THL directory (and the catalog's THL-derived history; the role
    /// set by `setrole` is kept).
    #[serde(default)]
    pub thl: bool,
    /// `DROP SCHEMA tungsten_<service>` on the local database.
    #[serde(default)]
    pub db: bool,
}

/// `heartbeat [-name N]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeartbeatRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `flush [-limit SECONDS]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlushRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `read-only on|off`: `SET GLOBAL read_only` on the host's database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadOnlyRequest {
    pub read_only: bool,
}

/// `wait -applied N | -state S [-limit SECONDS]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_options_are_not_sent_and_names_are_camel_case() {
        let r = OnlineRequest {
            skip_seqno: Some("10,12-14".into()),
            until_seqno: Some(20),
            ..OnlineRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&r).expect("json"),
            r#"{"skipSeqno":"10,12-14","untilSeqno":20,"force":false}"#
        );
        assert_eq!(serde_json::to_string(&WaitRequest::default()).expect("json"), "{}");
        let back: OnlineRequest = serde_json::from_str(r#"{"skipSeqno":"10,12-14","untilSeqno":20}"#).expect("read");
        assert_eq!(back, r);
        assert!(serde_json::from_str::<OfflineRequest>(r#"{"immediately":true}"#).is_err());
    }
}

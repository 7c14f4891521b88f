//! The answers of the REST API (`/api/v2/replicator/...`), as the
//! replicator sends them and `trepctl` reads them: one definition for both
//! sides. The routes and which type answers each are in the module
//! documentation of `replicator::rest`.
//!
//! Invariants:
//!
//! * The JSON is the one the API has always sent: the same field names
//!   (camelCase, except `time_ms` of [`SetroleResponse`]) and the same value
//!   types. Where Tungsten prints a value as a string (the status map, the
//!   services list, the clients list) it stays a string here, even a number
//!   (`"appliedLastSeqno": "-1"`).
//! * Each struct declares its fields in the byte order of their JSON names,
//!   so that the bytes sent are those of the sorted maps the handlers built
//!   before these types existed.
//! * Reading is strict about what a type declares (a missing field is an
//!   error that names it) and tolerant of fields it does not know, so that
//!   a newer replicator may add some.
//! * Tungsten's status map and the lists of `status -name tasks|stores|
//!   shards` have no fixed set of properties: they stay maps
//!   ([`StatusMap`]), read by name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::state::State;

/// A status map: Tungsten's property name → its value, always a string
/// (`GET .../status`; each entry of `status -name tasks|stores|shards`).
pub type StatusMap = BTreeMap<String, String>;

/// `GET /status`: the status map of every service, by service name.
pub type AllStatus = BTreeMap<String, StatusMap>;

/// `GET /version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    pub version: String,
}

/// One entry of `GET /services` (`trepctl services`). Values are strings,
/// as in the status map whose properties they repeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSummary {
    /// The last applied seqno (`"-1"`: none).
    pub applied_last_seqno: String,
    /// Seconds, three decimals (`"-1.0"`: not known).
    pub applied_latency: String,
    /// The upstream THL URIs in force, comma-separated (empty on a master).
    pub master_connect_uri: String,
    /// Seconds, three decimals (`"-1.0"`: not known).
    pub relative_latency: String,
    pub role: Role,
    pub service_name: String,
    /// Always `"local"`.
    pub service_type: String,
    /// Always `"true"`: a service the replicator runs.
    pub started: String,
    pub state: State,
}

/// `POST .../online` and `POST .../offline`: the state the command left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateResponse {
    pub service_name: String,
    pub state: State,
}

/// `POST .../offline-deferred`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfflineDeferredResponse {
    /// `Offline at sequence number: N`, as the status map's
    /// `offlineRequests`.
    pub offline_requests: String,
    pub service_name: String,
    pub state: State,
}

/// `POST .../setrole`: the role now recorded, used at the next `online`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetroleResponse {
    pub role: Role,
    /// When it was set, ms since the Unix epoch.
    pub time_ms: i64,
    /// The upstream THL URIs, tried in order; empty for a master.
    pub upstream: Vec<String>,
}

/// `POST .../reset`: what was deleted, one phrase each (`THL directory
/// /path`, `catalog /path`, `schema tungsten_alpha`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetResponse {
    pub removed: Vec<String>,
}

/// `POST .../heartbeat`: what the heartbeat wrote and where the source's
/// binlog was right after it committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    pub binlog_file: String,
    pub binlog_pos: u64,
    pub name: String,
    pub salt: i64,
}

/// `POST .../flush`: the seqno at which the THL holds the source's
/// position of the flush's heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlushResponse {
    pub seqno: i64,
}

/// `POST .../read-only`: the database's `read_only` before and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOnlyResponse {
    pub before: bool,
    pub read_only: bool,
}

/// `POST .../wait`: whether the goal was reached, and where the service
/// stood when the wait ended (a 200 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitResponse {
    pub applied_last_seqno: i64,
    pub reached: bool,
    pub state: State,
}

/// One entry of `GET .../clients`: a downstream THL client of the
/// service's THL server. Values are strings, as in a status map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientEntry {
    /// The highest seqno the client reported applied (`"-1"`: none).
    pub applied_seqno: String,
    pub client_id: String,
    /// Seconds since the Unix epoch.
    pub connected_since: String,
    /// The highest seqno the client acknowledged as stored (`"-1"`: none).
    pub last_acked_seqno: String,
    /// The client's address, `ip:port`.
    pub peer: String,
}

/// `GET .../service/NAME/provision`: where the node's last provision
/// stands (`phase` `idle` when none ran since the replicator started).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionStatus {
    /// `idle`, `checking`, `offline`, `copying`, `preparing`, `restarting`,
    /// `positioning`, `online`, `done` or `failed`.
    pub phase: String,
    pub source: String,
    pub method: String,
    /// Bytes received from the source so far.
    pub bytes: u64,
    /// The source's estimate of the whole copy (its data size), 0 when
    /// unknown.
    pub expected_bytes: u64,
    pub elapsed_seconds: f64,
    /// The seqno (and epoch) the node resumes after, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// What failed, with the fix, when `phase` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ProvisionStatus {
    /// True once the provision ended (`done` or `failed`), or never ran.
    pub fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "done" | "failed" | "idle")
    }
}

/// `GET .../service/NAME/position-at?binlog=FILE:POS`: the THL's last
/// transaction that ends at or before that binlog position of the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionAtResponse {
    pub seqno: i64,
    pub epoch: i64,
    pub event_id: String,
    pub source_id: String,
}

/// The body of every error answer: the message (with the fix) and the
/// HTTP status code again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub status: u16,
}

/// `GET .../service/NAME/history`: the service's samples of the last hour,
/// oldest first, taken every `intervalSeconds` by the replicator (at most
/// an hour of them: the ring of `replicator::service::history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryResponse {
    pub interval_seconds: u64,
    pub samples: Vec<HistorySample>,
    pub service_name: String,
}

/// One sample of [`HistoryResponse`]. Unlike the status map these are JSON
/// numbers; a figure that was not known is `null` (nothing applied yet,
/// the apply counter restarted between two samples), never invented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistorySample {
    /// The last applied (master: extracted) seqno, `-1` for none.
    pub applied_last_seqno: i64,
    /// Seconds from source commit to apply of that transaction.
    pub applied_latency: Option<f64>,
    /// Transactions applied per second since the previous sample.
    pub rate: Option<f64>,
    /// Seconds from that transaction's source commit to the sample.
    pub relative_latency: Option<f64>,
    pub state: State,
    /// When the sample was taken, ms since the Unix epoch.
    pub time_ms: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The bytes of `typed` are those of `map` (the `json!` the handlers
    /// built before), and `map` reads back as `typed`.
    fn same<T>(typed: &T, map: serde_json::Value)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        assert_eq!(
            serde_json::to_string(typed).expect("typed"),
            serde_json::to_string(&map).expect("map")
        );
        assert_eq!(&serde_json::from_value::<T>(map).expect("reads back"), typed);
    }

    #[test]
    fn the_wire_is_that_of_the_maps_the_handlers_built() {
        same(
            &ServiceSummary {
                applied_last_seqno: "-1".into(),
                applied_latency: "-1.0".into(),
                master_connect_uri: String::new(),
                relative_latency: "-1.0".into(),
                role: Role::Master,
                service_name: "alpha".into(),
                service_type: "local".into(),
                started: "true".into(),
                state: State::OfflineNormal,
            },
            json!({"appliedLastSeqno": "-1", "appliedLatency": "-1.0", "relativeLatency": "-1.0",
                "masterConnectUri": "", "role": "master", "serviceName": "alpha", "serviceType": "local",
                "started": "true", "state": "OFFLINE:NORMAL"}),
        );
        same(
            &VersionResponse {
                version: "Tungsten Replicator (Rust) 0.1.0".into(),
            },
            json!({"version": "Tungsten Replicator (Rust) 0.1.0"}),
        );
        same(
            &StateResponse {
                service_name: "alpha".into(),
                state: State::Synchronizing,
            },
            json!({"serviceName": "alpha", "state": "GOING-ONLINE:SYNCHRONIZING"}),
        );
        same(
            &OfflineDeferredResponse {
                offline_requests: "Offline at sequence number: 50".into(),
                service_name: "alpha".into(),
                state: State::Online,
            },
            json!({"serviceName": "alpha", "state": "ONLINE", "offlineRequests": "Offline at sequence number: 50"}),
        );
        same(
            &SetroleResponse {
                role: Role::Slave,
                time_ms: 1_765_000_000_000,
                upstream: vec!["thl://up:2112/".into()],
            },
            json!({"role": "slave", "upstream": ["thl://up:2112/"], "time_ms": 1_765_000_000_000_i64}),
        );
        same(
            &ResetResponse {
                removed: vec!["THL directory /x/thl/alpha".into(), "schema tungsten_alpha".into()],
            },
            json!({"removed": ["THL directory /x/thl/alpha", "schema tungsten_alpha"]}),
        );
        same(
            &HeartbeatResponse {
                binlog_file: "mysql-bin.000002".into(),
                binlog_pos: 1234,
                name: "MASTER_ONLINE".into(),
                salt: 7,
            },
            json!({"name": "MASTER_ONLINE", "salt": 7, "binlogFile": "mysql-bin.000002", "binlogPos": 1234}),
        );
        same(&FlushResponse { seqno: 12 }, json!({"seqno": 12}));
        same(
            &WaitResponse {
                applied_last_seqno: -1,
                reached: false,
                state: State::OfflineError,
            },
            json!({"reached": false, "state": "OFFLINE:ERROR", "appliedLastSeqno": -1}),
        );
        same(
            &ClientEntry {
                applied_seqno: "-1".into(),
                client_id: "host2.alpha".into(),
                connected_since: "1765000000".into(),
                last_acked_seqno: "41".into(),
                peer: "127.0.0.2:40000".into(),
            },
            json!({"clientId": "host2.alpha", "peer": "127.0.0.2:40000", "lastAckedSeqno": "41",
                "appliedSeqno": "-1", "connectedSince": "1765000000"}),
        );
        same(
            &ErrorBody {
                error: "no such service".into(),
                status: 404,
            },
            json!({"error": "no such service", "status": 404}),
        );
    }

    #[test]
    fn a_missing_field_is_named_and_an_unknown_one_is_ignored() {
        let e = serde_json::from_value::<WaitResponse>(json!({"state": "ONLINE", "appliedLastSeqno": 3}))
            .expect_err("no reached");
        assert!(e.to_string().contains("missing field `reached`"), "{e}");
        let w: WaitResponse =
            serde_json::from_value(json!({"reached": true, "state": "ONLINE", "appliedLastSeqno": 3, "later": 1}))
                .expect("an added field is ignored");
        assert!(w.reached);
    }
}

#[cfg(test)]
mod history_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_history_sample_is_numbers_with_null_for_unknown() {
        let h = HistoryResponse {
            interval_seconds: 10,
            samples: vec![HistorySample {
                applied_last_seqno: 41,
                applied_latency: Some(0.25),
                rate: None,
                relative_latency: Some(1.5),
                state: State::Online,
                time_ms: 1_765_000_000_000,
            }],
            service_name: "alpha".into(),
        };
        let want = json!({"intervalSeconds": 10, "samples": [{"appliedLastSeqno": 41, "appliedLatency": 0.25,
            "rate": null, "relativeLatency": 1.5, "state": "ONLINE", "timeMs": 1_765_000_000_000_i64}],
            "serviceName": "alpha"});
        assert_eq!(
            serde_json::to_string(&h).expect("typed"),
            serde_json::to_string(&want).expect("map")
        );
        assert_eq!(serde_json::from_value::<HistoryResponse>(want).expect("reads back"), h);
    }
}

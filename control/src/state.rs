//! Tungsten's service states and the error a service is left with.
//!
//! Invariants: the names printed are Tungsten's exactly (`OFFLINE:NORMAL`,
//! `GOING-ONLINE:SYNCHRONIZING`, `ONLINE`, `GOING-OFFLINE`,
//! `OFFLINE:ERROR`); a [`PendingError`] exists exactly while the state is
//! `OFFLINE:ERROR`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of one replication service, named as Tungsten names it.
///
/// Transitions (made by the manager alone, `manager.rs`):
///
/// | From | Event | To |
/// |---|---|---|
/// | OFFLINE:NORMAL, OFFLINE:ERROR | `online` | GOING-ONLINE:SYNCHRONIZING |
/// | OFFLINE:NORMAL, OFFLINE:ERROR | `online`, and the pipeline cannot start | OFFLINE:ERROR |
/// | GOING-ONLINE:SYNCHRONIZING | the pipeline is positioned and streaming | ONLINE |
/// | ONLINE | the pipeline is (re)connecting | GOING-ONLINE:SYNCHRONIZING |
/// | ONLINE, GOING-ONLINE:SYNCHRONIZING | a transient failure: relaunch with backoff | GOING-ONLINE:SYNCHRONIZING |
/// | ONLINE, GOING-ONLINE:SYNCHRONIZING | a definite failure | OFFLINE:ERROR, with a [`PendingError`] |
/// | ONLINE, GOING-ONLINE:SYNCHRONIZING | `offline`, or the `-until-seqno` / `offline-deferred -at-seqno` point applied | GOING-OFFLINE, then OFFLINE:NORMAL |
/// | OFFLINE:ERROR | `offline` | OFFLINE:NORMAL (the error cleared) |
///
/// `setrole` needs OFFLINE:NORMAL, `reset` either offline state. Tungsten's
/// other states (`OFFLINE:CONFIGURING`, `GOING-ONLINE:PROVISIONING`, the
/// restore states) do not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum State {
    #[serde(rename = "OFFLINE:NORMAL")]
    OfflineNormal,
    #[serde(rename = "GOING-ONLINE:SYNCHRONIZING")]
    Synchronizing,
    #[serde(rename = "ONLINE")]
    Online,
    #[serde(rename = "GOING-OFFLINE")]
    GoingOffline,
    #[serde(rename = "OFFLINE:ERROR")]
    OfflineError,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 5] = [
        State::OfflineNormal,
        State::Synchronizing,
        State::Online,
        State::GoingOffline,
        State::OfflineError,
    ];

    /// Tungsten's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            State::OfflineNormal => "OFFLINE:NORMAL",
            State::Synchronizing => "GOING-ONLINE:SYNCHRONIZING",
            State::Online => "ONLINE",
            State::GoingOffline => "GOING-OFFLINE",
            State::OfflineError => "OFFLINE:ERROR",
        }
    }

    /// `OFFLINE:NORMAL` or `OFFLINE:ERROR`.
    pub fn is_offline(self) -> bool {
        matches!(self, State::OfflineNormal | State::OfflineError)
    }

    /// Whether this state satisfies `trepctl wait -state want`: equal, or
    /// `want` is a prefix at a `:` boundary (`OFFLINE` matches both
    /// offline states, `GOING-ONLINE` matches `GOING-ONLINE:SYNCHRONIZING`).
    pub fn matches(self, want: &str) -> bool {
        let me = self.as_str();
        let want = want.trim().to_ascii_uppercase();
        me == want || me.strip_prefix(want.as_str()).is_some_and(|rest| rest.starts_with(':'))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name that is no known state (nor a prefix of one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?}: use one of OFFLINE, OFFLINE:NORMAL, OFFLINE:ERROR, GOING-ONLINE, GOING-ONLINE:SYNCHRONIZING, ONLINE, GOING-OFFLINE")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<State, UnknownState> {
        let up = s.trim().to_ascii_uppercase();
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == up)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// Checks that `want` names a state or a state prefix (for `wait -state`).
pub fn check_state_pattern(want: &str) -> Result<(), UnknownState> {
    if State::ALL.iter().any(|s| s.matches(want)) {
        Ok(())
    } else {
        Err(UnknownState(want.to_owned()))
    }
}

/// Why a service is in `OFFLINE:ERROR` (Tungsten's `pendingError*` fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingError {
    /// A one-line summary (`pendingError`).
    pub error: String,
    /// A short machine-readable code (`pendingErrorCode`), `NONE` when the
    /// pipeline gave none.
    pub code: String,
    /// The event id being processed when it failed, if known.
    pub event_id: Option<String>,
    /// The seqno being processed when it failed, if known.
    pub seqno: Option<i64>,
    /// The full message, with the cause and the fix (`pendingExceptionMessage`).
    pub exception: String,
}

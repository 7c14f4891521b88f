//! One host of the deployment as the composite commands drive it: a REST
//! session to its replicator and the few commands a role change needs,
//! each one waiting for its outcome and failing with the host's own
//! reason (its pending error), never "timed out" alone.

use std::time::{Duration, Instant};

use control::config::{Deployment, Role};
use control::requests::{FlushRequest, OfflineRequest, OnlineRequest, ReadOnlyRequest, SetroleRequest, WaitRequest};
use control::responses::{FlushResponse, ReadOnlyResponse, ServiceSummary, StatusMap, WaitResponse};
use control::state::State;

use crate::cli::{Cli, Target};
use crate::commands::Session;

/// How long one step may wait for a state or a seqno.
pub const STEP_LIMIT: Duration = Duration::from_secs(90);
const REQUEST: Duration = Duration::from_secs(30);

/// A host of the ini and its replicator's service.
pub struct Host {
    pub name: String,
    /// Its dataservice: the service name on its replicator.
    pub ds: String,
    session: Result<Session, String>,
}

impl Host {
    pub fn new(dep: &Deployment, ini: &std::path::Path, cli: &Cli, name: &str, ds: &str) -> Host {
        Host {
            name: name.to_owned(),
            ds: ds.to_owned(),
            session: Target::for_ini_host(dep, ini, name, cli).map(|target| Session { target }),
        }
    }

    fn session(&self) -> Result<&Session, String> {
        self.session.as_ref().map_err(|e| format!("{}: {e}", self.name))
    }

    fn path(&self, what: &str) -> String {
        format!("/service/{}/{what}", self.ds)
    }

    fn fail(&self, e: impl std::fmt::Display) -> String {
        format!("{}: {e}", self.name)
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        body: &impl serde::Serialize,
        timeout: Duration,
    ) -> Result<T, String> {
        let s = self.session()?;
        s.post(&self.path(what), body, timeout)
            .map_err(|e| self.fail(e))?
            .typed()
            .map_err(|e| self.fail(e))
    }

    /// Its service as the replicator lists it.
    pub fn summary(&self) -> Result<ServiceSummary, String> {
        let list: Vec<ServiceSummary> = self
            .session()?
            .get("/services")
            .map_err(|e| self.fail(e))?
            .typed()
            .map_err(|e| self.fail(e))?;
        list.into_iter()
            .find(|s| s.service_name == self.ds)
            .ok_or_else(|| self.fail(format!("its replicator runs no service {}", self.ds)))
    }

    /// Its full status map.
    pub fn status(&self) -> Result<StatusMap, String> {
        self.session()?
            .get(&self.path("status"))
            .map_err(|e| self.fail(e))?
            .typed()
            .map_err(|e| self.fail(e))
    }

    /// One property of the status map, or `-`.
    pub fn property(&self, key: &str) -> String {
        self.status()
            .ok()
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_else(|| "-".into())
    }

    /// `SET GLOBAL read_only` on its database; the value before.
    pub fn read_only(&self, on: bool) -> Result<bool, String> {
        let r: ReadOnlyResponse = self.post("read-only", &ReadOnlyRequest { read_only: on }, REQUEST)?;
        Ok(r.before)
    }

    /// Offline at a transaction boundary (a no-op when offline; clears an
    /// error).
    pub fn offline(&self) -> Result<(), String> {
        let _: serde_json::Value = self.post("offline", &OfflineRequest { immediate: false }, REQUEST * 4)?;
        Ok(())
    }

    /// Online, then ONLINE within [`STEP_LIMIT`]; else the host's error.
    pub fn online(&self) -> Result<(), String> {
        let _: serde_json::Value = self.post("online", &OnlineRequest::default(), REQUEST)?;
        self.wait_state("ONLINE")
    }

    /// Waits until the service is in `state` (within [`STEP_LIMIT`]; an
    /// error at once when it lands in OFFLINE:ERROR).
    pub fn wait_state(&self, state: &str) -> Result<(), String> {
        let w: WaitResponse = self.post(
            "wait",
            &WaitRequest {
                applied: None,
                state: Some(state.into()),
                limit: Some(STEP_LIMIT.as_secs()),
            },
            STEP_LIMIT + REQUEST,
        )?;
        if w.reached {
            return Ok(());
        }
        let within = if w.state == State::OfflineError {
            String::new()
        } else {
            format!(" within {} s", STEP_LIMIT.as_secs())
        };
        Err(self.fail(format!(
            "did not reach {state}{within}: it is {} ({})",
            w.state,
            self.property("pendingError")
        )))
    }

    /// `setrole`; refused unless OFFLINE:NORMAL.
    pub fn set_role(&self, role: Role, uri: Option<&str>) -> Result<(), String> {
        let _: serde_json::Value = self.post(
            "setrole",
            &SetroleRequest {
                role: Some(role.to_string()),
                uri: uri.map(str::to_owned),
            },
            REQUEST,
        )?;
        Ok(())
    }

    /// A heartbeat on a master and the seqno at which its THL holds it.
    pub fn flush(&self) -> Result<i64, String> {
        let limit = STEP_LIMIT.as_secs();
        let r: FlushResponse = self.post("flush", &FlushRequest { limit: Some(limit) }, STEP_LIMIT + REQUEST)?;
        Ok(r.seqno)
    }

    /// Waits until `seqno` is applied (within `limit`), in any state but
    /// OFFLINE:ERROR (a relay whose upstream just went offline applied it
    /// while it reconnects).
    pub fn wait_applied(&self, seqno: i64, limit: Duration) -> Result<(), String> {
        let w: WaitResponse = self.post(
            "wait",
            &WaitRequest {
                applied: Some(seqno),
                state: None,
                limit: Some(limit.as_secs()),
            },
            limit + REQUEST,
        )?;
        if w.reached {
            return Ok(());
        }
        Err(self.fail(format!(
            "did not apply seqno {seqno} within {} s (applied {}, {}: {})",
            limit.as_secs(),
            w.applied_last_seqno,
            w.state,
            self.property("pendingError")
        )))
    }

    /// Applied `seqno` and ONLINE (a slave that just reconnected says so a
    /// moment after it applied): the end of a site change for this host.
    pub fn caught_up(&self, seqno: i64) -> Result<(), String> {
        self.wait_applied(seqno, STEP_LIMIT)?;
        self.wait_state("ONLINE")
    }

    /// Waits until it applied everything its THL holds; that seqno.
    pub fn drain(&self, limit: Duration) -> Result<i64, String> {
        let deadline = Instant::now() + limit;
        loop {
            let m = self.status()?;
            let num = |k: &str| m.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(-1);
            let (stored, applied) = (num("maximumStoredSeqNo"), num("appliedLastSeqno"));
            if applied >= stored {
                return Ok(applied);
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!(
                    "applied seqno {applied} of the {stored} its THL holds within {} s ({}: {})",
                    limit.as_secs(),
                    m.get("state").map_or("-", String::as_str),
                    m.get("pendingError").map_or("-", String::as_str)
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Its role and state, when its replicator answers.
    pub fn role_state(&self) -> Option<(Role, State)> {
        self.summary().ok().map(|s| (s.role, s.state))
    }
}

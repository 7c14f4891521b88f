//! The control commands of a service besides `online`: `offline`
//! (`-immediate`, deferred), `setrole`, `reset`, `heartbeat`, `flush` and
//! `wait`.
//!
//! # Invariants
//!
//! * `offline` asks the pipeline to stop at a transaction boundary
//!   (GOING-OFFLINE) and waits for it; `-immediate` aborts the pipeline task
//!   (the THL writer's recovery cuts an unfinished transaction).
//! * A master that becomes a relay or slave gets the applied position of
//!   its THL's last transaction, after checking that its binlog holds
//!   nothing unextracted (`demotion.rs`); otherwise the role is unchanged.
//! * A relay or slave that becomes the master records where in its own
//!   binlog it will extract from, after checking that it applied its whole
//!   THL (`promotion.rs`); otherwise the role is unchanged.
//! * `setrole` only in OFFLINE:NORMAL, `reset` only offline; the role is
//!   written to the catalog (which the pipeline holds while it runs, so the
//!   catalog is only opened here while the service is offline).
//! * Locks are never held across an await.

use std::time::{Duration, Instant};

use thl::seqno::Seqno;
use tracing::info;

use super::db;
use super::error::{bad, conflict, failed, ErrorKind, ServiceError};
use super::state::State;
use super::supervisor::{ResetResponse, ResetScope, Service, WaitResponse, OFFLINE_TIMEOUT};
use crate::binlog::BinlogPosition;
use crate::catalog::{Catalog, CatalogError, RoleRecord};
use crate::config::{Role, ServicePlan};

impl Service {
    /// `offline [-immediate]`: stops at a transaction boundary (or at once)
    /// and waits for OFFLINE:NORMAL. From OFFLINE:ERROR it clears the error.
    pub async fn offline(&self, immediate: bool) -> Result<State, ServiceError> {
        {
            let mut g = self.lock();
            match g.state {
                State::OfflineNormal => return Ok(State::OfflineNormal),
                State::OfflineError => {
                    g.error = None;
                    g.enter(State::OfflineNormal);
                    return Ok(State::OfflineNormal);
                }
                _ => {
                    g.enter(State::GoingOffline);
                    self.progress.set_stop_after(None);
                    if let Some(tx) = &g.stop_tx {
                        let _ = tx.send(true);
                    }
                    if immediate {
                        if let Some(a) = &g.abort {
                            a.abort();
                        }
                    }
                }
            }
        }
        info!(service = %self.name(), immediate, "GOING-OFFLINE");
        let out = self.wait_state("OFFLINE", OFFLINE_TIMEOUT).await;
        if out.reached {
            Ok(self.state())
        } else {
            Err(ServiceError::new(
                ErrorKind::Timeout,
                format!(
                    "service {} did not stop within {}s (state {}); try `trepctl offline -immediate`",
                    self.name(),
                    OFFLINE_TIMEOUT.as_secs(),
                    out.state
                ),
            ))
        }
    }

    /// `offline-deferred -at-seqno N`: go offline once seqno N is applied.
    pub fn offline_deferred(&self, at_seqno: i64) -> Result<(), ServiceError> {
        let Some(at_seqno) = Seqno::from_wire(at_seqno) else {
            return Err(bad(format!("-at-seqno {at_seqno}: must be >= 0")));
        };
        // Under the lock: the state cannot change between the check and the set.
        let g = self.lock();
        if !matches!(g.state, State::Online | State::Synchronizing) {
            return Err(conflict(format!(
                "service {} is {}: offline-deferred needs it ONLINE or GOING-ONLINE",
                self.name(),
                g.state
            )));
        }
        self.progress.set_stop_after(Some(at_seqno));
        drop(g);
        Ok(())
    }

    /// `setrole -role R [-uri U]`: only in OFFLINE:NORMAL; stored in the
    /// catalog and used from the next `online`.
    pub async fn set_role(&self, role: Role, uri: Vec<String>) -> Result<RoleRecord, ServiceError> {
        let upstream = match role {
            Role::Master if !uri.is_empty() => {
                return Err(bad("a master has no upstream: drop -uri (or choose -role slave/relay)"));
            }
            Role::Master => Vec::new(),
            Role::Slave | Role::Relay if uri.is_empty() => {
                if self.plan.upstream.is_empty() {
                    return Err(bad(format!(
                        "-role {role} needs -uri thl://host:2112/ (the ini gives this host no upstream for {})",
                        self.name()
                    )));
                }
                self.plan.upstream.clone()
            }
            Role::Slave | Role::Relay => {
                for u in &uri {
                    if !(u.starts_with("thl://") || u.starts_with("thls://")) {
                        return Err(bad(format!(
                            "-uri {u:?}: expected thl://host:port/ or thls://host:port/"
                        )));
                    }
                }
                uri
            }
        };
        {
            let g = self.lock();
            if g.state != State::OfflineNormal {
                return Err(conflict(format!(
                    "service {} is {}: setrole needs OFFLINE:NORMAL (use `trepctl offline` first)",
                    self.name(),
                    g.state
                )));
            }
        }
        let was_master = self.lock().role == Role::Master;
        if was_master && role != Role::Master {
            super::demotion::hand_over(&self.plan, &self.host).await?;
        }
        if !was_master && role == Role::Master {
            super::promotion::record_start(&self.plan, &self.host).await?;
        }
        let rec = RoleRecord {
            role,
            upstream,
            time_ms: crate::clock::now_ms(),
        };
        let dir = self.plan.catalog_dir.clone();
        let write = rec.clone();
        with_catalog(dir, move |c| c.set_role(&write))
            .await
            .map_err(|e| failed(format!("setrole: {e}")))?;
        let mut g = self.lock();
        g.role = rec.role;
        g.upstream = rec.upstream.clone();
        info!(service = %self.name(), role = %rec.role, upstream = ?rec.upstream, "role set");
        Ok(rec)
    }

    /// `reset`: only offline.
    pub async fn reset(&self, scope: ResetScope) -> Result<ResetResponse, ServiceError> {
        let scope = if !scope.all && !scope.thl && !scope.db {
            ResetScope { all: true, ..scope }
        } else {
            scope
        };
        if !self.state().is_offline() {
            return Err(conflict(format!(
                "service {} is {}: reset needs it offline (use `trepctl offline` first)",
                self.name(),
                self.state()
            )));
        }
        let mut report = ResetResponse::default();
        if scope.all || scope.thl {
            let thl = self.plan.thl_dir.clone();
            if thl.exists() {
                std::fs::remove_dir_all(&thl)
                    .map_err(|e| failed(format!("cannot delete the THL directory {}: {e}", thl.display())))?;
                report.removed.push(format!("THL directory {}", thl.display()));
            }
            let cat = self.plan.catalog_dir.clone();
            let keep = if scope.all {
                None
            } else {
                read_role(&self.plan).ok().flatten()
            };
            if cat.exists() {
                std::fs::remove_dir_all(&cat)
                    .map_err(|e| failed(format!("cannot delete the catalog {}: {e}", cat.display())))?;
                report.removed.push(format!("catalog {}", cat.display()));
            }
            if let Some(rec) = keep {
                with_catalog(cat, move |c| c.set_role(&rec))
                    .await
                    .map_err(|e| failed(format!("reset: keeping the role: {e}")))?;
            } else {
                let mut g = self.lock();
                g.role = self.plan.role;
                g.upstream = self.plan.upstream.clone();
            }
            self.progress.reset();
        }
        if scope.all || scope.db {
            let schema = db::tracking_schema(self.name());
            db::drop_schema(&self.plan, &schema)
                .await
                .map_err(|e| failed(format!("reset -db: {e}")))?;
            report.removed.push(format!("schema {schema}"));
        }
        info!(service = %self.name(), removed = ?report.removed, "reset");
        Ok(report)
    }

    fn require_master_online(&self, what: &str) -> Result<(), ServiceError> {
        let g = self.lock();
        if g.role != Role::Master {
            return Err(conflict(format!(
                "{what} runs on a master; service {} is a {}",
                self.name(),
                g.role
            )));
        }
        if !matches!(g.state, State::Online | State::Synchronizing) {
            return Err(conflict(format!(
                "service {} is {}: {what} needs it ONLINE",
                self.name(),
                g.state
            )));
        }
        Ok(())
    }

    /// `heartbeat [-name N]`: a row in `tungsten_<service>.heartbeat` on the
    /// source, which flows through the THL like any transaction.
    pub async fn heartbeat(&self, name: Option<&str>) -> Result<db::Heartbeat, ServiceError> {
        self.require_master_online("heartbeat")?;
        let name = name.unwrap_or("MASTER_ONLINE");
        let stored = self.progress.snapshot().stored_seqno;
        db::heartbeat(&self.plan, self.name(), name, stored)
            .await
            .map_err(|e| failed(format!("heartbeat: {e}")))
    }

    /// `read-only on|off`: `SET GLOBAL read_only` on this host's database
    /// (a switch fences the old primary with it); the value before.
    pub async fn set_read_only(&self, on: bool) -> Result<bool, ServiceError> {
        let before = db::set_read_only(&self.plan, on)
            .await
            .map_err(|e| failed(format!("read-only: {e}")))?;
        info!(service = %self.name(), before, now = on, "read_only set on the local database");
        Ok(before)
    }

    /// `flush`: a heartbeat, then wait until the THL holds it; the seqno.
    pub async fn flush(&self, limit: Duration) -> Result<i64, ServiceError> {
        let hb = self.heartbeat(Some("FLUSH")).await?;
        let target = BinlogPosition::new(hb.binlog_file.clone(), hb.binlog_pos);
        let deadline = Instant::now() + limit;
        loop {
            let p = self.progress.snapshot();
            if db::position_reached(&p.stored_event_id, &target) {
                return Ok(Seqno::or_minus_one(p.stored_seqno));
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::new(
                    ErrorKind::Timeout,
                    format!(
                        "flush: the THL did not reach {} within {}s (last stored: seqno {} at {})",
                        target,
                        limit.as_secs(),
                        Seqno::or_minus_one(p.stored_seqno),
                        p.stored_event_id
                    ),
                ));
            }
            if self.state().is_offline() {
                return Err(conflict(format!(
                    "flush: service {} went {} before the THL held the heartbeat",
                    self.name(),
                    self.state()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `wait -applied N`.
    pub async fn wait_applied(&self, seqno: i64, limit: Duration) -> WaitResponse {
        let deadline = Instant::now() + limit;
        loop {
            let applied = self.progress.snapshot().applied_seqno;
            let state = self.state();
            let reached = applied.is_some_and(|a| a.0 >= seqno);
            if reached || Instant::now() >= deadline || state == State::OfflineError {
                return WaitResponse {
                    reached,
                    state,
                    applied_last_seqno: Seqno::or_minus_one(applied),
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `wait -state S` (a state or a prefix such as `OFFLINE`). Gives up
    /// early when the service lands in OFFLINE:ERROR and that was not asked.
    pub async fn wait_state(&self, want: &str, limit: Duration) -> WaitResponse {
        let deadline = Instant::now() + limit;
        loop {
            let state = self.state();
            let reached = state.matches(want);
            if reached || Instant::now() >= deadline || state == State::OfflineError {
                let applied = self.progress.snapshot().applied_seqno;
                return WaitResponse {
                    reached,
                    state,
                    applied_last_seqno: Seqno::or_minus_one(applied),
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Runs `f` on the service's catalog on a blocking thread, retrying for a
/// few seconds while another holder (a pipeline just aborted) releases it.
pub(super) async fn with_catalog<T: Send + 'static>(
    dir: std::path::PathBuf,
    f: impl Fn(&Catalog) -> Result<T, CatalogError> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match Catalog::open(&dir) {
                Ok(c) => return f(&c).map_err(|e| e.to_string()),
                Err(CatalogError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|e| Err(format!("the catalog task failed: {e}")))
}

/// The role record in the catalog, without creating an empty catalog.
pub(super) fn read_role(plan: &ServicePlan) -> Result<Option<RoleRecord>, CatalogError> {
    if !plan.catalog_dir.exists() {
        return Ok(None);
    }
    Catalog::open(&plan.catalog_dir)?.role()
}

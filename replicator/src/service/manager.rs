//! The service manager: one state machine per replication service.
//!
//! # Invariants
//!
//! * Only the manager sets a service's [`State`]; pipelines only report
//!   [`Progress`]. GOING-ONLINE:SYNCHRONIZING ↔ ONLINE follows the
//!   pipeline's activity (Connecting ↔ Streaming), checked every
//!   [`OBSERVE_EVERY`].
//! * Every online session has a generation number; a supervisor of an older
//!   session never changes the state of a newer one.
//! * A pipeline returning `Ok` → OFFLINE:NORMAL; a definite `Err` →
//!   OFFLINE:ERROR with the pending error; a transient `Err` (not asked to
//!   stop) → GOING-ONLINE:SYNCHRONIZING and a relaunch with backoff
//!   ([`Policy::PIPELINE`], `crate::retry`).
//! * `offline` asks the pipeline to stop at a transaction boundary
//!   (GOING-OFFLINE) and waits for it; `-immediate` aborts the pipeline task
//!   (the THL writer's recovery cuts an unfinished transaction).
//! * `setrole` only in OFFLINE:NORMAL, `reset` only offline; the role is
//!   written to the catalog (which the pipeline holds while it runs, so the
//!   catalog is only opened by the manager while the service is offline).
//! * Locks are never held across an await.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::{error, info, warn};

use super::db;
use super::launcher::{PipelineFailure, PipelineFuture, PipelineLauncher, ServiceContext};
use super::options::{OnlineOptions, OnlineRequest};
use super::state::{check_state_pattern, PendingError, State};
use super::Progress;
use thl::seqno::Seqno;

use crate::binlog::BinlogPosition;
use crate::catalog::{Catalog, CatalogError, RoleRecord};
use crate::config::{HostPlan, Role, ServicePlan};
use crate::retry::{Backoff, Policy};

/// How often the manager looks at a running pipeline's progress.
pub const OBSERVE_EVERY: Duration = Duration::from_millis(100);
/// How long `offline` waits for the pipeline to stop.
pub const OFFLINE_TIMEOUT: Duration = Duration::from_secs(120);

/// What kind of failure a control command met (maps to an HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No such service (404).
    NotFound,
    /// A malformed or unsupported option (400).
    BadRequest,
    /// The command is not allowed in the current state or role (409).
    Conflict,
    /// The command ran and failed (500).
    Failed,
    /// The command did not finish in time (504).
    Timeout,
}

/// A control command's error: its kind and a message with the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ServiceError {
        ServiceError {
            kind,
            message: message.into(),
        }
    }
}

fn conflict(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Conflict, m)
}

fn bad(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::BadRequest, m)
}

fn failed(m: impl Into<String>) -> ServiceError {
    ServiceError::new(ErrorKind::Failed, m)
}

/// Where `clients` reads from; the THL server installs one. Each entry is
/// a downstream THL client as `trepctl clients` shows it.
pub type ClientsSource = Arc<dyn Fn() -> Vec<ClientEntry> + Send + Sync>;

pub use control::requests::ResetScope;
// What `clients`, `reset` and `wait` return is the REST API's answer as it is.
pub use control::responses::{ClientEntry, ResetResponse, WaitResponse};

#[derive(Debug)]
struct Inner {
    state: State,
    since: Instant,
    error: Option<PendingError>,
    generation: u64,
    stop_tx: Option<watch::Sender<bool>>,
    abort: Option<AbortHandle>,
    /// The role and upstream in force (catalog, else plan).
    role: Role,
    upstream: Vec<String>,
    options: OnlineOptions,
    /// When the current online session started, and the applied count then.
    online_since: Option<(Instant, u64)>,
}

impl Inner {
    fn enter(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.since = Instant::now();
        }
    }
}

/// One replication service and its state machine.
pub struct Service {
    plan: ServicePlan,
    host: String,
    launcher: Arc<dyn PipelineLauncher>,
    progress: Progress,
    inner: Mutex<Inner>,
    clients: Mutex<Option<ClientsSource>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("service", &self.plan.service)
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// A consistent view of a service for status, metrics and `wait`.
#[derive(Debug, Clone)]
pub struct ServiceView {
    pub state: State,
    pub time_in_state: Duration,
    pub error: Option<PendingError>,
    pub role: Role,
    pub upstream: Vec<String>,
    pub offline_at: Option<i64>,
    pub progress: super::PipelineProgress,
    /// Transactions per second since the service went online.
    pub events_per_second: f64,
    pub options: OnlineOptions,
}

impl Service {
    /// A service in OFFLINE:NORMAL with the role of the catalog (if one was
    /// set with `setrole`), else of the plan.
    pub fn new(plan: ServicePlan, host: &str, launcher: Arc<dyn PipelineLauncher>) -> Arc<Service> {
        let (role, upstream) = match read_role(&plan) {
            Ok(Some(r)) => (r.role, r.upstream),
            Ok(None) => (plan.role, plan.upstream.clone()),
            Err(e) => {
                warn!(service = %plan.service, "cannot read the role from the catalog, using the ini's: {e}");
                (plan.role, plan.upstream.clone())
            }
        };
        Arc::new(Service {
            host: host.to_owned(),
            launcher,
            progress: Progress::new(),
            inner: Mutex::new(Inner {
                state: State::OfflineNormal,
                since: Instant::now(),
                error: None,
                generation: 0,
                stop_tx: None,
                abort: None,
                role,
                upstream,
                options: OnlineOptions::default(),
                online_since: None,
            }),
            clients: Mutex::new(None),
            plan,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section only assigns fields: a poisoned lock is consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.plan.service
    }

    pub fn plan(&self) -> &ServicePlan {
        &self.plan
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    /// A consistent view.
    pub fn view(&self) -> ServiceView {
        let g = self.lock();
        let progress = self.progress.snapshot();
        let events_per_second = match g.online_since {
            Some((t, base)) if g.state == State::Online || g.state == State::Synchronizing => {
                let secs = t.elapsed().as_secs_f64();
                if secs > 0.0 {
                    progress.applied_count.saturating_sub(base) as f64 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        ServiceView {
            state: g.state,
            time_in_state: g.since.elapsed(),
            error: g.error.clone(),
            role: g.role,
            upstream: g.upstream.clone(),
            offline_at: self.progress.stop_after(),
            progress,
            events_per_second,
            options: g.options.clone(),
        }
    }

    /// Installs the source of `clients` (the THL server).
    pub fn set_clients_source(&self, source: ClientsSource) {
        *self.clients.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    /// Downstream THL clients: those of the THL server the pipeline runs
    /// (master, relay), or of an installed source.
    pub fn clients(&self) -> Vec<ClientEntry> {
        let source = self.clients.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(f) = source {
            return f();
        }
        self.progress.thl_clients().into_iter().map(client_record).collect()
    }

    fn context(&self, g: &Inner, stop: watch::Receiver<bool>) -> ServiceContext {
        ServiceContext {
            plan: self.plan.clone(),
            host: self.host.clone(),
            role: g.role,
            upstream: g.upstream.clone(),
            options: g.options.clone(),
            stop,
            progress: self.progress.clone(),
        }
    }

    /// `online`: OFFLINE → GOING-ONLINE:SYNCHRONIZING, pipeline launched.
    /// Refuses an option the pipeline cannot honour (400, state unchanged);
    /// a pipeline that cannot start leaves OFFLINE:ERROR (and the error).
    pub fn online(self: &Arc<Self>, req: &OnlineRequest) -> Result<State, ServiceError> {
        let options = OnlineOptions::from_request(req).map_err(bad)?;
        let mut g = self.lock();
        if !g.state.is_offline() {
            return Err(conflict(format!(
                "service {} is {}: online needs OFFLINE:NORMAL or OFFLINE:ERROR (use `trepctl offline` first)",
                self.name(),
                g.state
            )));
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let previous = std::mem::replace(&mut g.options, options);
        let ctx = self.context(&g, stop_rx.clone());
        let fut = match self.launcher.launch(ctx) {
            Ok(f) => f,
            Err(f) if f.code.as_deref() == Some("BAD_OPTION") => {
                g.options = previous;
                return Err(bad(f.message));
            }
            Err(f) => {
                g.generation += 1;
                let message = f.message.clone();
                Self::set_error(&mut g, &f, &self.progress);
                error!(service = %self.name(), "OFFLINE:ERROR: {message}");
                return Err(failed(message));
            }
        };
        g.generation += 1;
        let generation = g.generation;
        g.error = None;
        self.progress.set_stop_after(g.options.until_seqno);
        g.stop_tx = Some(stop_tx);
        g.online_since = Some((Instant::now(), self.progress.snapshot().applied_count));
        g.enter(State::Synchronizing);
        drop(g);
        info!(service = %self.name(), "GOING-ONLINE:SYNCHRONIZING");
        let svc = self.clone();
        tokio::spawn(async move { svc.supervise(generation, fut, stop_rx).await });
        Ok(State::Synchronizing)
    }

    fn set_error(g: &mut Inner, f: &PipelineFailure, progress: &Progress) {
        let seqno = f.seqno.or_else(|| {
            let p = progress.snapshot();
            Some(p.applied_seqno.map_or(0, |s| s.0 + 1))
        });
        let first_line = f.message.lines().next().unwrap_or_default().to_owned();
        g.error = Some(PendingError {
            error: first_line,
            code: f.code.clone().unwrap_or_else(|| "NONE".into()),
            event_id: f.event_id.clone(),
            seqno,
            exception: f.message.clone(),
        });
        g.stop_tx = None;
        g.abort = None;
        progress.set_stop_after(None);
        g.enter(State::OfflineError);
    }

    async fn supervise(self: Arc<Self>, generation: u64, first: PipelineFuture, mut stop: watch::Receiver<bool>) {
        let mut next = Some(first);
        let mut backoff = Backoff::new(Policy::PIPELINE);
        loop {
            let fut = match next.take() {
                Some(f) => f,
                None => {
                    let launched = {
                        let g = self.lock();
                        if g.generation != generation {
                            return;
                        }
                        self.launcher.launch(self.context(&g, stop.clone()))
                    };
                    match launched {
                        Ok(f) => f,
                        Err(f) => return self.finish(generation, Some(f)),
                    }
                }
            };
            let mut handle = tokio::spawn(fut);
            {
                let mut g = self.lock();
                if g.generation == generation {
                    g.abort = Some(handle.abort_handle());
                }
            }
            let mut tick = tokio::time::interval(OBSERVE_EVERY);
            let result = loop {
                tokio::select! {
                    r = &mut handle => break r,
                    _ = tick.tick() => self.observe(generation),
                }
            };
            let stopping = *stop.borrow();
            match result {
                Ok(Ok(())) => return self.finish(generation, None),
                Ok(Err(f)) if f.transient && stopping => return self.finish(generation, None),
                Ok(Err(f)) if f.transient => {
                    let delay = backoff.next_delay();
                    warn!(service = %self.name(), retry_in_ms = delay.as_millis() as u64, "pipeline interrupted: {f}; relaunching");
                    self.progress
                        .connecting(&self.progress.snapshot().pipeline_source, Some(f.message.clone()));
                    {
                        let mut g = self.lock();
                        if g.generation != generation {
                            return;
                        }
                        g.enter(State::Synchronizing);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.changed() => return self.finish(generation, None),
                    }
                }
                Ok(Err(f)) => return self.finish(generation, Some(f)),
                Err(e) if e.is_cancelled() => return self.finish(generation, None),
                Err(e) => {
                    return self.finish(
                        generation,
                        Some(PipelineFailure::definite(
                            "PANIC",
                            format!("the pipeline task failed: {e}"),
                        )),
                    )
                }
            }
        }
    }

    /// Follows the pipeline's activity; enforces `-until-seqno` and
    /// `offline-deferred -at-seqno`.
    fn observe(&self, generation: u64) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        let p = self.progress.snapshot();
        match (g.state, p.activity) {
            (State::Synchronizing, super::Activity::Streaming) => {
                g.enter(State::Online);
                info!(service = %self.name(), "ONLINE");
            }
            (State::Online, super::Activity::Connecting) => g.enter(State::Synchronizing),
            _ => {}
        }
        if let Some(n) = self.progress.stop_after() {
            if p.applied_seqno.is_some_and(|s| s.0 >= n) && g.state != State::GoingOffline {
                info!(service = %self.name(), seqno = %Seqno::or_minus_one(p.applied_seqno), "reached the requested offline point {n}");
                self.progress.set_stop_after(None);
                g.enter(State::GoingOffline);
                if let Some(tx) = &g.stop_tx {
                    let _ = tx.send(true);
                }
            }
        }
    }

    fn finish(&self, generation: u64, failure: Option<PipelineFailure>) {
        let mut g = self.lock();
        if g.generation != generation {
            return;
        }
        self.progress.idle();
        match failure {
            None => {
                g.stop_tx = None;
                g.abort = None;
                self.progress.set_stop_after(None);
                g.enter(State::OfflineNormal);
                info!(service = %self.name(), "OFFLINE:NORMAL");
            }
            Some(f) => {
                error!(service = %self.name(), "OFFLINE:ERROR: {}", f.message);
                Self::set_error(&mut g, &f, &self.progress);
            }
        }
    }

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
        if at_seqno < 0 {
            return Err(bad(format!("-at-seqno {at_seqno}: must be >= 0")));
        }
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
        let stored = Seqno::or_minus_one(self.progress.snapshot().stored_seqno);
        db::heartbeat(&self.plan, self.name(), name, stored)
            .await
            .map_err(|e| failed(format!("heartbeat: {e}")))
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
async fn with_catalog<T: Send + 'static>(
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
fn read_role(plan: &ServicePlan) -> Result<Option<RoleRecord>, CatalogError> {
    if !plan.catalog_dir.exists() {
        return Ok(None);
    }
    Catalog::open(&plan.catalog_dir)?.role()
}

/// Every service of the host.
#[derive(Debug)]
pub struct Manager {
    host: String,
    started: Instant,
    plan: HostPlan,
    services: Vec<Arc<Service>>,
}

impl Manager {
    /// Builds the services of `plan` (all OFFLINE:NORMAL).
    pub fn new(plan: HostPlan, launcher: Arc<dyn PipelineLauncher>) -> Arc<Manager> {
        let services = plan
            .services
            .iter()
            .map(|s| Service::new(s.clone(), &plan.host, launcher.clone()))
            .collect();
        Arc::new(Manager {
            host: plan.host.clone(),
            started: Instant::now(),
            plan,
            services,
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn plan(&self) -> &HostPlan {
        &self.plan
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The REST listen address (for `rmiPort` and the like).
    pub fn rest_listen(&self) -> Option<SocketAddr> {
        self.plan.rest_listen
    }

    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// The service called `name`, or a 404 listing the known ones.
    pub fn service(&self, name: &str) -> Result<&Arc<Service>, ServiceError> {
        self.services.iter().find(|s| s.name() == name).ok_or_else(|| {
            let known: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
            ServiceError::new(
                ErrorKind::NotFound,
                format!("no service {name:?} on {}; services: {}", self.host, known.join(", ")),
            )
        })
    }

    /// Brings every service online (at start, with auto-enable); a service
    /// that cannot start is left OFFLINE:ERROR and logged.
    pub fn online_all(&self) {
        for s in &self.services {
            if let Err(e) = s.online(&OnlineRequest::default()) {
                error!(service = %s.name(), "cannot go online: {e}");
            }
        }
    }

    /// Takes every service offline at a transaction boundary (SIGTERM).
    pub async fn shutdown(&self) {
        let mut set = tokio::task::JoinSet::new();
        for s in &self.services {
            let s = s.clone();
            set.spawn(async move { (s.name().to_owned(), s.offline(false).await) });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok((name, Ok(state))) => info!(service = %name, "{state}"),
                Ok((name, Err(e))) => error!(service = %name, "offline: {e}"),
                Err(e) => error!("offline task failed: {e}"),
            }
        }
    }

    /// Checks a `wait -state` pattern.
    pub fn check_state(want: &str) -> Result<(), ServiceError> {
        check_state_pattern(want).map_err(|e| bad(e.to_string()))
    }
}

/// One connected THL client as `trepctl clients` shows it.
fn client_record(c: crate::thl_net::ClientInfo) -> ClientEntry {
    let seqno = |s: Option<i64>| s.map_or_else(|| "-1".to_owned(), |v| v.to_string());
    let since = c
        .connected_since
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ClientEntry {
        applied_seqno: seqno(c.applied_seqno),
        client_id: c.client_id,
        connected_since: since.to_string(),
        last_acked_seqno: seqno(c.last_acked_seqno),
        peer: c.peer.to_string(),
    }
}

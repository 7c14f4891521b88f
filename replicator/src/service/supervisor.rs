//! One replication service and its state machine: going online,
//! supervising the pipeline, and what its ending means.
//!
//! # Invariants
//!
//! * Only the service's state machine sets its [`State`]; pipelines only
//!   report [`Progress`]. GOING-ONLINE:SYNCHRONIZING ↔ ONLINE follows the
//!   pipeline's activity (Connecting ↔ Streaming), checked every
//!   [`OBSERVE_EVERY`].
//! * Every online session has a generation number; a supervisor of an older
//!   session never changes the state of a newer one.
//! * A pipeline returning `Ok` → OFFLINE:NORMAL; a definite `Err` →
//!   OFFLINE:ERROR with the pending error; a transient `Err` (not asked to
//!   stop) → GOING-ONLINE:SYNCHRONIZING and a relaunch with backoff
//!   ([`Policy::PIPELINE`], `crate::retry`).
//! * Locks are never held across an await.
//!
//! The operator's other commands are in `commands.rs`; the services of a
//! host in `manager.rs`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use thl::seqno::Seqno;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::{error, info, warn};

use super::commands::read_role;
use super::error::{bad, conflict, failed, ServiceError};
use super::launcher::{PipelineFailure, PipelineFuture, PipelineLauncher, ServiceContext};
use super::options::{OnlineOptions, OnlineRequest};
use super::state::{PendingError, State};
use super::Progress;
use crate::config::{Role, ServicePlan};
use crate::retry::{Backoff, Policy};

/// How often the manager looks at a running pipeline's progress.
pub const OBSERVE_EVERY: Duration = Duration::from_millis(100);
/// How long `offline` waits for the pipeline to stop.
pub const OFFLINE_TIMEOUT: Duration = Duration::from_secs(120);

/// Where `clients` reads from; the THL server installs one. Each entry is
/// a downstream THL client as `trepctl clients` shows it.
pub type ClientsSource = Arc<dyn Fn() -> Vec<ClientEntry> + Send + Sync>;

pub use control::requests::ResetScope;
// What `clients`, `reset` and `wait` return is the REST API's answer as it is.
pub use control::responses::{ClientEntry, ResetResponse, WaitResponse};

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) state: State,
    pub(super) since: Instant,
    pub(super) error: Option<PendingError>,
    pub(super) generation: u64,
    pub(super) stop_tx: Option<watch::Sender<bool>>,
    pub(super) abort: Option<AbortHandle>,
    /// The role and upstream in force (catalog, else plan).
    pub(super) role: Role,
    pub(super) upstream: Vec<String>,
    pub(super) options: OnlineOptions,
    /// When the current online session started, and the applied count then.
    pub(super) online_since: Option<(Instant, u64)>,
}

impl Inner {
    pub(super) fn enter(&mut self, state: State) {
        if self.state != state {
            self.state = state;
            self.since = Instant::now();
        }
    }
}

/// One replication service and its state machine.
pub struct Service {
    pub(super) plan: ServicePlan,
    pub(super) host: String,
    pub(super) launcher: Arc<dyn PipelineLauncher>,
    pub(super) progress: Progress,
    pub(super) inner: Mutex<Inner>,
    pub(super) clients: Mutex<Option<ClientsSource>>,
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

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
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
            offline_at: self.progress.stop_after().map(i64::from),
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

    pub(super) fn context(&self, g: &Inner, stop: watch::Receiver<bool>) -> ServiceContext {
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

    /// Takes `upstream` (a reloaded ini's) as the upstream of the next
    /// online, unless `trepctl setrole` set the one in force (false then).
    pub fn take_upstream(&self, upstream: &[String]) -> bool {
        if !matches!(read_role(&self.plan), Ok(None)) {
            return false;
        }
        self.lock().upstream = upstream.to_vec();
        true
    }

    /// `online`: OFFLINE → GOING-ONLINE:SYNCHRONIZING, pipeline launched.
    /// Refuses an option the pipeline cannot honour (400, state unchanged);
    /// a pipeline that cannot start leaves OFFLINE:ERROR (and the error).
    pub fn online(self: &Arc<Self>, req: &OnlineRequest) -> Result<State, ServiceError> {
        let options = OnlineOptions::from_request(req).map_err(bad)?;
        if let Some(what) = super::marker::unfinished_provision(&self.plan) {
            return Err(conflict(format!(
                "service {} has an unfinished provision ({}): its data may be half copied; run tprovision \
                 again (it removes {} when it succeeds)",
                self.name(),
                what.trim(),
                super::marker::provision_marker(&self.plan).display()
            )));
        }
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

    pub(super) fn set_error(g: &mut Inner, f: &PipelineFailure, progress: &Progress) {
        let seqno = f.seqno.or_else(|| {
            let p = progress.snapshot();
            Some(p.applied_seqno.map_or(Seqno::FIRST, Seqno::next))
        });
        let first_line = f.message.lines().next().unwrap_or_default().to_owned();
        g.error = Some(PendingError {
            error: first_line,
            code: f.code.clone().unwrap_or_else(|| "NONE".into()),
            event_id: f.event_id.clone(),
            seqno: seqno.map(i64::from),
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
            if p.applied_seqno.is_some_and(|s| s >= n) && g.state != State::GoingOffline {
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
}

/// One connected THL client as `trepctl clients` shows it.
fn client_record(c: crate::thl_net::ClientInfo) -> ClientEntry {
    let seqno = |s: Option<Seqno>| Seqno::or_minus_one(s).to_string();
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

//! How the service manager starts a pipeline: the [`PipelineLauncher`]
//! contract, and [`RoleLauncher`], the launcher the daemon uses, which picks
//! the pipeline by role.
//!
//! # The contract
//!
//! * [`PipelineLauncher::launch`] gets a [`ServiceContext`] (the plan, the
//!   role and upstream in force, the validated online options, the stop
//!   signal and the [`Progress`] to report into) and either refuses at once
//!   (a role not built yet, an online option the pipeline cannot honour:
//!   never ignore one silently) or returns the pipeline future.
//! * The future runs until `stop` turns true, then returns `Ok(())` at a
//!   transaction boundary; or it returns `Err` with a [`PipelineFailure`].
//!   A transient failure (`transient: true`) makes the manager relaunch
//!   with backoff in GOING-ONLINE:SYNCHRONIZING; any other goes to
//!   OFFLINE:ERROR.
//! * The pipeline reports `progress.connecting(..)` while (re)connecting and
//!   `progress.streaming(..)` once positioned: the manager maps them to
//!   GOING-ONLINE:SYNCHRONIZING and ONLINE. It reports `stored`/`applied`
//!   per transaction; `until_seqno` and `offline-deferred` are enforced by
//!   the manager from `applied`, and exactly by the pipelines: a slave's or
//!   relay's apply stage applies nothing after [`Progress::stop_after`], a
//!   master's extractor stores nothing after it.
//! * Any `async fn(settings, stop, progress) -> Result<(), E>` whose `E`
//!   implements [`PipelineError`] plugs in with [`pipeline`].
//!
//! The slave and relay pipelines plug in at one place:
//! [`RoleLauncher::launch`]'s `Role::Slave | Role::Relay` arm.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use thl::seqno::Seqno;
use tokio::sync::watch;

use super::options::OnlineOptions;
use super::Progress;
use crate::applier::ApplierConfig;
use crate::config::{HostPlan, Role, ServicePlan};
use crate::extractor::event_id::EventId;
use crate::peer::Peer;
use crate::pipeline::apply::ApplyStageError;
use crate::pipeline::slave::resolver_from;
use crate::pipeline::{run_master, ExtractError, MasterSettings};
use crate::pipeline::{run_slave, SlaveError, SlaveSettings};
use crate::source::StartPosition;

/// Everything a pipeline needs to run one online session of a service.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    /// The service as resolved from the ini.
    pub plan: ServicePlan,
    /// This host's name (the master's source id).
    pub host: String,
    /// The role in force: the catalog's (`setrole`), else the plan's.
    pub role: Role,
    /// The upstream THL URIs in force (`setrole -uri`, else the plan's).
    pub upstream: Vec<String>,
    /// The validated `online` options.
    pub options: OnlineOptions,
    /// Turns true when the service must stop at a transaction boundary.
    pub stop: watch::Receiver<bool>,
    /// Where the pipeline reports.
    pub progress: Progress,
}

/// Why a pipeline stopped (or refused to start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFailure {
    /// The whole message: cause, position and fix.
    pub message: String,
    /// A short code (`pendingErrorCode`), e.g. `EXTRACT`, `UNSUPPORTED`.
    pub code: Option<String>,
    /// The seqno being processed, when known.
    pub seqno: Option<Seqno>,
    /// The native event id being processed, when known.
    pub event_id: Option<String>,
    /// Whether relaunching from the last stored position may cure it.
    pub transient: bool,
}

impl PipelineFailure {
    /// A definite failure with a message and a code.
    pub fn definite(code: &str, message: impl Into<String>) -> PipelineFailure {
        PipelineFailure {
            message: message.into(),
            code: Some(code.to_owned()),
            seqno: None,
            event_id: None,
            transient: false,
        }
    }
}

impl std::fmt::Display for PipelineFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What the manager needs to know about a pipeline's error type.
pub trait PipelineError: std::fmt::Display {
    /// Whether relaunching from the last stored position may cure it.
    fn is_transient(&self) -> bool;
    /// A short code for `pendingErrorCode`.
    fn code(&self) -> Option<String> {
        None
    }
    /// The seqno being processed when it failed.
    fn seqno(&self) -> Option<Seqno> {
        None
    }
    /// The native event id being processed when it failed.
    fn event_id(&self) -> Option<String> {
        None
    }
}

impl<E: PipelineError> From<&E> for PipelineFailure {
    fn from(e: &E) -> PipelineFailure {
        PipelineFailure {
            message: e.to_string(),
            code: e.code(),
            seqno: e.seqno(),
            event_id: e.event_id(),
            transient: e.is_transient(),
        }
    }
}

impl PipelineError for ExtractError {
    fn is_transient(&self) -> bool {
        ExtractError::is_transient(self)
    }

    fn code(&self) -> Option<String> {
        let code = match self {
            ExtractError::Source(_) => "SOURCE",
            ExtractError::Store(_) => "THL",
            ExtractError::Catalog(_) => "CATALOG",
            ExtractError::Decode { .. } => "DECODE",
            ExtractError::Unsupported { .. } => "UNSUPPORTED_EVENT",
            ExtractError::Incident { .. } => "INCIDENT",
            ExtractError::Build { .. } => "BUILD",
            ExtractError::BadResumePoint { .. } => "RESUME_POINT",
            ExtractError::Promotion { .. } => "PROMOTION",
            ExtractError::Worker(_) => "WORKER",
            ExtractError::Serve(_) => "THL_SERVER",
        };
        Some(code.to_owned())
    }

    fn seqno(&self) -> Option<Seqno> {
        match self {
            ExtractError::Decode { seqno, .. }
            | ExtractError::Unsupported { seqno, .. }
            | ExtractError::Build { seqno, .. }
            | ExtractError::BadResumePoint { seqno, .. }
            | ExtractError::Promotion { seqno, .. } => Some(*seqno),
            _ => None,
        }
    }

    fn event_id(&self) -> Option<String> {
        match self {
            ExtractError::Decode { at, .. }
            | ExtractError::Unsupported { at, .. }
            | ExtractError::Incident { at, .. } => Some(format!("{}:{:016}", at.file, at.pos)),
            ExtractError::BadResumePoint { event_id, .. } => Some(event_id.clone()),
            _ => None,
        }
    }
}

/// A running pipeline.
pub type PipelineFuture = Pin<Box<dyn Future<Output = Result<(), PipelineFailure>> + Send + 'static>>;

/// Wraps a pipeline future with a typed error into a [`PipelineFuture`].
pub fn pipeline<F, E>(fut: F) -> PipelineFuture
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: PipelineError,
{
    Box::pin(async move { fut.await.map_err(|e| PipelineFailure::from(&e)) })
}

/// Starts the pipeline of a service (see the module doc for the contract).
pub trait PipelineLauncher: Send + Sync + std::fmt::Debug + 'static {
    /// Refuses at once, or returns the running pipeline.
    fn launch(&self, ctx: ServiceContext) -> Result<PipelineFuture, PipelineFailure>;
}

/// The daemon's launcher: master → [`run_master`] (which also serves the
/// THL); slave and relay → [`run_slave`] (a relay serves its THL too).
#[derive(Debug, Clone, Default)]
pub struct RoleLauncher {
    /// `replicator --from-event`: where an empty master THL starts.
    pub default_from_event: Option<String>,
    /// How slaves and relays resolve their upstream's host name (the
    /// deployment's: hosts file first).
    pub resolver: crate::config::Resolver,
    /// Per service, the other heads of its history (`peer::history_heads`):
    /// asked before this host extracts as master.
    pub other_heads: std::collections::BTreeMap<String, Vec<Peer>>,
}

/// How long each other head may take to say whether it is master.
const MASTER_CHECK_WAIT: Duration = Duration::from_secs(3);

/// Refuses to extract as master of `service` while another head of its
/// history answers as its ONLINE master: two masters would write two
/// histories under one seqno series (a failed-over site's old master whose
/// replicator restarts, its catalog still saying master). A head that
/// does not answer does not count (it may be the site that is gone).
async fn refuse_a_second_master(service: &str, heads: &[Peer]) -> Result<(), PipelineFailure> {
    let online = |s: &control::responses::ServiceSummary| s.state == crate::service::State::Online;
    match crate::peer::master_among(heads, MASTER_CHECK_WAIT, online).await {
        Ok((other, theirs)) => Err(PipelineFailure::definite(
            "ANOTHER_MASTER",
            format!(
                "{} answers as the ONLINE master of {}, which carries this service's history: this host does not \
                 extract beside it. If it is a former master whose site failed over, `trepctl composite recover \
                 {service}` makes it a relay of the active site (its history checked); if {} should not be master, \
                 fix that first",
                other.host, theirs.service_name, other.host
            ),
        )),
        Err(_) => Ok(()),
    }
}

impl PipelineLauncher for RoleLauncher {
    fn launch(&self, ctx: ServiceContext) -> Result<PipelineFuture, PipelineFailure> {
        match ctx.role {
            Role::Master => {
                let settings = self.master_settings(&ctx)?;
                let heads = self.other_heads.get(&ctx.plan.service).cloned().unwrap_or_default();
                let service = ctx.plan.service.clone();
                let master = pipeline(run_master(settings, ctx.stop, ctx.progress));
                Ok(Box::pin(async move {
                    refuse_a_second_master(&service, &heads).await?;
                    master.await
                }))
            }
            Role::Slave | Role::Relay => {
                let settings = self.slave_settings(&ctx)?;
                let resolver = resolver_from(self.resolver.clone());
                Ok(pipeline(run_slave(settings, ctx.stop, ctx.progress, resolver)))
            }
        }
    }
}

impl PipelineError for SlaveError {
    fn is_transient(&self) -> bool {
        SlaveError::is_transient(self)
    }

    fn code(&self) -> Option<String> {
        let code = match self {
            SlaveError::Store(_) => "THL",
            SlaveError::Catalog(_) => "CATALOG",
            SlaveError::Client(_) => "UPSTREAM",
            SlaveError::Apply(_) => "APPLY",
            SlaveError::Serve { .. } => "THL_SERVER",
            SlaveError::Task(_) => "TASK",
        };
        Some(code.to_owned())
    }

    fn seqno(&self) -> Option<Seqno> {
        match self {
            SlaveError::Apply(ApplyStageError::Apply(e)) => e.seqno(),
            _ => None,
        }
    }
}

impl RoleLauncher {
    /// The master's settings from the plan and the online options; refuses
    /// the options a master cannot honour.
    pub fn master_settings(&self, ctx: &ServiceContext) -> Result<MasterSettings, PipelineFailure> {
        let o = &ctx.options;
        let refuse = |m: String| Err(PipelineFailure::definite("BAD_OPTION", m));
        if !o.skip_seqno.is_empty() {
            return refuse("-skip-seqno applies to the apply side (slave, relay); a master extracts every transaction. Go online without it".into());
        }
        if o.force {
            return refuse("-force skips the upstream handshake of a slave or relay; a master has no upstream. Go online without it".into());
        }
        let s: &ServicePlan = &ctx.plan;
        let source = mysql_async::OptsBuilder::default()
            .ip_or_hostname(s.db.address.to_string())
            .tcp_port(s.db.port)
            .user(Some(s.db.user.clone()))
            .pass(Some(s.db.password.expose()))
            .prefer_socket(false);
        let mut m = MasterSettings::new(
            &s.service,
            &ctx.host,
            source.into(),
            s.thl_dir.clone(),
            s.catalog_dir.clone(),
        );
        m.serve = Some(s.thl_listen);
        m.tls = tls_of(s)?;
        m.reader_expiry = s.settings.thl_reader_expiry;
        m.retention = s.settings.thl_log_retention;
        m.thl.file_size = s.settings.thl_log_file_size;
        m.frag_size = usize::try_from(s.settings.thl_frag_size).unwrap_or(usize::MAX);
        let from = match (&o.from_event, &self.default_from_event) {
            (Some(ev), _) => {
                if let Some(max) = thl_max(&s.thl_dir) {
                    return refuse(format!(
                        "-from-event {ev}: the THL already holds transactions up to seqno {max} and extraction resumes after the last one; \
                         to restart elsewhere, clear it first with `trepctl reset -thl -y`"
                    ));
                }
                Some(ev)
            }
            (None, Some(ev)) => Some(ev),
            (None, None) => None,
        };
        if let Some(text) = from {
            let id = EventId::parse(text)
                .map_err(|e| PipelineFailure::definite("BAD_OPTION", format!("-from-event: {e}")))?;
            m.start_when_empty = StartPosition::FilePos(id.at);
        }
        // Validated with -from-event (which requires an empty THL).
        m.base_seqno = o.base_seqno;
        Ok(m)
    }
}

impl RoleLauncher {
    /// A slave's or relay's settings; refuses the online options its
    /// pipeline cannot honour yet.
    pub fn slave_settings(&self, ctx: &ServiceContext) -> Result<SlaveSettings, PipelineFailure> {
        let o = &ctx.options;
        let refuse = |m: String| Err(PipelineFailure::definite("BAD_OPTION", m));
        if o.from_event.is_some() || o.base_seqno.is_some() {
            return refuse(
                "-from-event and -base-seqno apply to a master's extraction, not to a slave or relay".into(),
            );
        }
        if o.force {
            return refuse("-force is not supported yet: a slave always checks its upstream's epochs".into());
        }
        if ctx.upstream.is_empty() {
            return refuse(format!("service {}: no upstream THL URI for a {} (check master=/relay=/relay-source in the ini, or `trepctl setrole -uri`)", ctx.plan.service, ctx.role));
        }
        let s: &ServicePlan = &ctx.plan;
        let target = mysql_async::OptsBuilder::default()
            .ip_or_hostname(s.db.address.to_string())
            .tcp_port(s.db.port)
            .user(Some(s.db.user.clone()))
            .pass(Some(s.db.password.expose()))
            .prefer_socket(false);
        let mut thl = thl::store::StoreConfig::new(s.thl_dir.clone());
        thl.file_size = s.settings.thl_log_file_size;
        let mut applier = ApplierConfig::new(s.service.clone());
        applier.block_commit_size = usize::try_from(s.settings.block_commit_size)
            .unwrap_or(usize::MAX)
            .max(1);
        applier.block_commit_interval = s.settings.block_commit_interval;
        applier.log_slave_updates = s.settings.log_slave_updates;
        applier.zero_row_policy = s.settings.zero_row_update;
        Ok(SlaveSettings {
            service: s.service.clone(),
            host: ctx.host.clone(),
            role: ctx.role,
            upstream: ctx.upstream.clone(),
            thl,
            catalog_dir: s.catalog_dir.clone(),
            target: target.into(),
            applier,
            serve: (ctx.role == Role::Relay).then_some(s.thl_listen),
            retention: s.settings.thl_log_retention,
            skip: o.skip_seqno.clone(),
            channels: s.settings.apply_channels,
            scheduler: s.settings.apply_scheduler,
            reader_expiry: s.settings.thl_reader_expiry,
            tls: tls_of(s)?,
        })
    }
}

/// The THL's TLS of `s` (`thl-ssl=true`), its files loaded: a file that
/// does not load refuses the online, naming it.
fn tls_of(s: &ServicePlan) -> Result<Option<crate::tls::TlsHandle>, PipelineFailure> {
    s.tls
        .as_ref()
        .map(|p| crate::tls::load(p, p.mutual))
        .transpose()
        .map_err(|e| PipelineFailure::definite("TLS", e.to_string()))
}

/// The highest seqno of the THL in `dir`, if any.
pub fn thl_max(dir: &PathBuf) -> Option<Seqno> {
    thl::store::Reader::open(dir).ok()?.max_seqno().ok().flatten()
}

/// The plan of one service of `plan` by name.
pub fn find_service<'a>(plan: &'a HostPlan, name: &str) -> Option<&'a ServicePlan> {
    plan.services.iter().find(|s| s.service == name)
}

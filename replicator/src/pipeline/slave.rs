//! The slave and relay pipelines: upstream THL → local THL → target database;
//! a relay also serves its local THL to the slaves of its own cluster.
//!
//! # Invariants
//!
//! * The local THL is a byte-identical copy of the upstream's (same seqno,
//!   epoch, event id): the client appends received records verbatim.
//! * The client resumes from the local THL's last complete transaction
//!   (the writer's recovery cuts a partial one), and the applier from the
//!   target's `trep_commit_seqno`: after any crash each stage restarts
//!   exactly where its own durable state ends.
//! * A relay serves only records at or below its durable watermark, and the
//!   seqnos its downstream readers acknowledge are kept in the catalog, so
//!   retention never purges what a known reader has not stored.
//! * A definite error in any stage (diverged epoch, purged seqno, a failed
//!   statement) stops the whole pipeline with that error; transient ones are
//!   retried inside each stage.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::Opts;
use thl::store::{StoreConfig, StoreError, Visibility, Writer};
use tokio::sync::watch;
use tracing::info;

use super::apply::{run_apply_stage, ApplyStageError, Retry};
use super::channels::check_channel_rows;
use super::progress::{PipelineEnd, Progress, Stage};
use super::retention::{OwnApplier, RetentionClock};
use super::serve::{serve_thl, ServeError};
use super::skip::SkipSeqnos;
use crate::applier::{Applier, ApplierConfig};
use crate::catalog::{Catalog, CatalogError};
use crate::config::model::ApplyScheduler;
use crate::config::Role;
use crate::retry::Backoff;
use crate::thl_net::{frame, ClientConfig, ClientError, Committed, Resolver, ThlClient};

/// Everything a slave or relay pipeline needs.
#[derive(Debug, Clone)]
pub struct SlaveSettings {
    pub service: String,
    /// This host's name: the client id upstream, and the source id a relay
    /// announces downstream.
    pub host: String,
    /// Slave or relay.
    pub role: Role,
    /// Upstream THL URIs, tried in turn.
    pub upstream: Vec<String>,
    pub thl: StoreConfig,
    pub catalog_dir: PathBuf,
    /// The target database.
    pub target: Opts,
    pub applier: ApplierConfig,
    /// Where a relay serves its THL (`None`: do not serve).
    pub serve: Option<SocketAddr>,
    /// THL files older than this may be deleted once no reader needs them.
    pub retention: Duration,
    /// Transactions to skip on apply (`trepctl online -skip-seqno`).
    pub skip: SkipSeqnos,
    /// Apply channels (`channels` with `svc-parallelization-type=disk`);
    /// more than one applies by shard (`pipeline/channels.rs`).
    pub channels: u32,
    /// How the channels share the transactions.
    pub scheduler: ApplyScheduler,
    /// `thl-reader-expiry`: a downstream reader silent this long no longer
    /// holds this THL (`retention.rs`).
    pub reader_expiry: std::time::Duration,
    /// TLS of the THL (`thl-ssl`): the upstream's `thls://` and, on a
    /// relay, its own server.
    pub tls: Option<crate::tls::TlsHandle>,
}

/// Why a slave or relay pipeline stopped.
#[derive(Debug, thiserror::Error)]
pub enum SlaveError {
    #[error("THL: {0}")]
    Store(#[from] StoreError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    #[error("upstream: {0}")]
    Client(#[from] ClientError),
    #[error("apply: {0}")]
    Apply(#[from] ApplyStageError),
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error("a pipeline task failed: {0}")]
    Task(String),
}

impl SlaveError {
    /// The stages retry their transient errors themselves, so an error
    /// that reaches here is for the operator, except an I/O error of the
    /// local THL as the pipeline starts (a full disk, a failed fdatasync in
    /// recovery): the service relaunches the pipeline until the disk works.
    pub fn is_transient(&self) -> bool {
        matches!(self, SlaveError::Store(e) if e.is_transient())
    }
}

/// Runs the pipeline until `stop` turns true (`Ok`) or a definite error.
pub async fn run_slave(
    settings: SlaveSettings,
    stop: watch::Receiver<bool>,
    progress: Progress,
    resolver: Resolver,
) -> Result<(), SlaveError> {
    // Whatever the exit path: release the server (and the catalog and port
    // it holds) and report idle.
    let _end = PipelineEnd(&progress);
    slave_pipeline(settings, stop, &progress, resolver).await
}

async fn slave_pipeline(
    settings: SlaveSettings,
    stop: watch::Receiver<bool>,
    progress: &Progress,
    resolver: Resolver,
) -> Result<(), SlaveError> {
    let writer = Writer::open(settings.thl.clone())?;
    let thl_empty = writer.max_seqno().is_none();
    let reader = writer.reader(Visibility::Durable);
    let catalog = Arc::new(Catalog::open(&settings.catalog_dir)?);
    let source = settings.upstream.first().cloned().unwrap_or_default();
    progress.connecting(&source, None);
    if let Some(max) = writer.max_seqno() {
        progress.stored(max, None, "");
    }
    info!(service = %settings.service, role = %settings.role, upstream = ?settings.upstream, "slave pipeline starting");

    let (halt_tx, halt_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();

    if let (Some(addr), Role::Relay) = (settings.serve, settings.role) {
        let server = serve_thl(
            addr,
            frame::Role::Relay,
            &settings.host,
            reader.clone(),
            catalog.clone(),
            settings.tls.clone(),
            progress.shared_meter(Stage::Serve),
        )
        .await?;
        progress.set_thl_server(Some(server.clone()));
        let mut halt = halt_rx.clone();
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = halt.wait_for(|h| *h).await;
            };
            server
                .run(shutdown)
                .await
                .map_err(|source| SlaveError::Serve(ServeError { addr, source }))
        });
    }

    // An empty THL starts after what the target committed (a host restored
    // from a backup, or after `reset -thl`): the appliers connect first, and
    // the lowest channel's position is where the client starts.
    let mut appliers = None;
    let mut client_cfg = ClientConfig::new(settings.upstream.clone(), settings.host.clone());
    client_cfg.tls = settings.tls.clone();
    if thl_empty {
        let Some(a) = connect_appliers(
            settings.target.clone(),
            settings.applier.clone(),
            settings.channels,
            settings.scheduler,
            halt_rx.clone(),
            progress,
        )
        .await?
        else {
            return Ok(());
        };
        let lowest = a.iter().filter_map(Applier::last_applied).min_by_key(|p| p.seqno);
        client_cfg.start_after = lowest.map(|p| Committed {
            seqno: p.seqno,
            epoch: p.epoch,
            event_id: p.event_id,
        });
        if let Some(c) = &client_cfg.start_after {
            info!(service = %settings.service, seqno = %c.seqno, epoch = %c.epoch, event_id = %c.event_id,
                "the THL is empty: fetching from the target's committed position (checked upstream, then skipped)");
        }
        appliers = Some(a);
    }
    // The client owns the local THL and reports into the service's
    // progress as it goes.
    let mut client = ThlClient::new(client_cfg, writer, resolver)?.observed_by(Arc::new(progress.clone()));
    progress.set_upstream_client(Some(client.progress_handle()));
    {
        // Retention: never past what our applier or a known reader needs.
        let purger = client.purger();
        let catalog = catalog.clone();
        let progress = progress.clone();
        let mut clock = RetentionClock::new(settings.retention, settings.reader_expiry);
        let mut halt = halt_rx.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(clock.every()) => {}
                    _ = halt.wait_for(|h| *h) => return Ok(()),
                }
                let own = OwnApplier::Applied(progress.snapshot().applied_seqno);
                let purger = purger.clone();
                let catalog = catalog.clone();
                clock = tokio::task::spawn_blocking(move || {
                    let mut purge = |policy: &_, needed, now| purger.apply_retention(policy, needed, now);
                    clock.maybe_run(&mut purge, &catalog, own);
                    clock
                })
                .await
                .map_err(|e| SlaveError::Task(e.to_string()))?;
            }
        });
    }
    {
        let mut halt = halt_rx.clone();
        tasks.spawn(async move {
            let shutdown = async move {
                let _ = halt.wait_for(|h| *h).await;
            };
            client.run(shutdown).await.map_err(SlaveError::from)
        });
    }
    {
        let halt = halt_rx.clone();
        let progress = progress.clone();
        let target = settings.target.clone();
        let cfg = settings.applier.clone();
        let channels = settings.channels;
        let scheduler = settings.scheduler;
        let skip = settings.skip.clone();
        tasks.spawn(async move {
            let appliers = match appliers {
                Some(a) => a,
                None => match connect_appliers(target, cfg, channels, scheduler, halt.clone(), &progress).await? {
                    Some(a) => a,
                    None => return Ok(()),
                },
            };
            run_apply_stage(reader, appliers, halt, progress, Retry::default(), skip, scheduler)
                .await
                .map_err(SlaveError::from)
        });
    }

    let mut stop = stop;
    let mut first_error = None;
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        Some(done) = tasks.join_next() => {
            first_error = task_error(done);
        }
    }
    let _ = halt_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if first_error.is_none() {
            first_error = task_error(done);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn task_error(done: Result<Result<(), SlaveError>, tokio::task::JoinError>) -> Option<SlaveError> {
    match done {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(e) => Some(SlaveError::Task(e.to_string())),
    }
}

/// Connects one applier per channel, in channel order: channel 0 first,
/// which checks that the target's position rows allow this channel count
/// (`channels::check_channel_rows`) and forgets the rows of channels no
/// longer used, then the others (whose rows start as a copy of channel
/// 0's). `Ok(None)` when stopped first.
async fn connect_appliers(
    target: Opts,
    cfg: ApplierConfig,
    channels: u32,
    scheduler: ApplyScheduler,
    halt: watch::Receiver<bool>,
    progress: &Progress,
) -> Result<Option<Vec<Applier>>, SlaveError> {
    let channels = channels.max(1);
    let apply_err = |e| SlaveError::Apply(ApplyStageError::Apply(e));
    let mut appliers = Vec::with_capacity(channels as usize);
    for channel in 0..channels {
        let cfg = ApplierConfig { channel, ..cfg.clone() };
        let Some(mut applier) = connect_applier(target.clone(), cfg, halt.clone(), progress).await? else {
            return Ok(None);
        };
        if channel == 0 {
            let rows = applier.channel_seqnos().await.map_err(apply_err)?;
            let recorded = applier.apply_routing().await.map_err(apply_err)?;
            let forget = check_channel_rows(&rows, channels, recorded.as_deref(), scheduler)
                .map_err(|m| SlaveError::Apply(ApplyStageError::Channels(m)))?;
            if forget {
                applier.forget_channels_from(channels).await.map_err(apply_err)?;
            }
            if recorded.as_deref() != Some(scheduler.routing()) {
                applier
                    .set_apply_routing(scheduler.routing())
                    .await
                    .map_err(apply_err)?;
            }
        }
        appliers.push(applier);
    }
    Ok(Some(appliers))
}

/// Connects the applier, retrying while the target is unavailable.
/// `Ok(None)` when stopped first.
async fn connect_applier(
    target: Opts,
    cfg: ApplierConfig,
    mut halt: watch::Receiver<bool>,
    progress: &Progress,
) -> Result<Option<Applier>, SlaveError> {
    let mut backoff = Backoff::new(Retry::default().backoff);
    loop {
        let connected = tokio::select! {
            r = Applier::connect(target.clone(), cfg.clone()) => r,
            _ = halt.wait_for(|h| *h) => return Ok(None),
        };
        match connected {
            Ok(a) => return Ok(Some(a)),
            Err(e) if e.is_transient() => {
                progress.connecting(
                    &progress.snapshot().pipeline_source,
                    Some(format!("target database: {e}")),
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = halt.wait_for(|h| *h) => return Ok(None),
                }
            }
            Err(e) => return Err(SlaveError::Apply(ApplyStageError::Apply(e))),
        }
    }
}

/// A THL resolver from the deployment's host resolution (hosts file first).
pub fn resolver_from(config: crate::config::Resolver) -> Resolver {
    Arc::new(move |host, port| match config.resolve(host) {
        Some(ip) => Ok(vec![SocketAddr::new(ip, port)]),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("host {host} does not resolve (hosts file, then DNS)"),
        )),
    })
}

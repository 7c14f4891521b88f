//! The master pipeline: the source's binlog, read as a replica, into the THL.
//!
//! # Invariants
//!
//! * **The THL is the position.** The resume point is the event id of the
//!   last complete transaction in the THL (the binlog position after its
//!   commit). The writer's recovery cuts an unfinished transaction on open,
//!   so after any crash or reconnect extraction restarts exactly after the
//!   last transaction stored: never a gap, never a duplicate.
//! * **Epochs.** Each time the master goes online its epoch is the next
//!   seqno it will write; it is recorded in the catalog. Reconnects inside
//!   one online session keep the epoch.
//! * **Nothing is skipped silently.** An event the decoder cannot turn into
//!   THL (unsupported type, undecodable row, a bad CRC) stops extraction
//!   with a definite error naming the seqno, binlog position, event type and
//!   table.
//! * **Durable in groups.** Transactions are appended as they finish and
//!   committed (one fdatasync with the default sync policy) when no further
//!   event is waiting or after `commit_every` transactions, so a burst
//!   pays one sync per group and an idle source one per transaction.
//! * **Offline points are exact.** With `-until-seqno N` or
//!   `offline-deferred -at-seqno N` nothing after N's transaction is stored:
//!   extraction ends at that boundary, and the next start resumes after it.
//! * **Bounded memory.** The source reader and the writer are joined by a
//!   bounded channel of batches (`QUEUED_BATCHES` of about
//!   `BATCH_BYTES`), and large transactions leave the builder in
//!   fragments of `frag_size`.
//!
//! Threads: one tokio task reads the source and hands over, in one batch,
//! each event it awaited and those already received after it; one blocking
//! thread decodes, builds transactions and writes the THL (all CPU and
//! disk work).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::Opts;
use thl::event::{ReplEvent, RowChanges, Statement};
use thl::seqno::{Epoch, Seqno};
use thl::store::{StoreConfig, StoreError, Visibility, Writer};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

mod load_files;
pub mod promotion;
mod temporal;

use self::temporal::{PrecisionLookupError, TemporalPrecisions};
use super::progress::{commit_time_ms, Activity, PipelineEnd, Progress, ShardTxn, Stage};
use super::retention::{OwnApplier, RetentionClock};
use super::serve::{serve_thl, ServeError};
use crate::binlog::event_types::{BEGIN_LOAD_QUERY_EVENT, EXECUTE_LOAD_QUERY_EVENT, TABLE_MAP_EVENT};
use crate::binlog::load_data;
use crate::binlog::{BinlogError, BinlogEvent, BinlogPosition, Decoder, ErrorKind, PendingVars};
use crate::catalog::{Catalog, CatalogError, EpochRecord, TableDef};
use crate::clock::now_ms;
use crate::extractor::builder::{BuildError, BuilderConfig, SourcePos, TransactionBuilder, TxnInput};
use crate::extractor::create_table::{declared_columns, same_columns, table_without_engine};
use crate::extractor::event_id::EventId;
use crate::retry::{Backoff, Policy};
use crate::source::error::classify;
use crate::source::{preflight, BinlogSource, RawEvent, SourceError, StartPosition, StreamConfig, StreamPosition};
use crate::statement_kind::{changes_schema, transaction_control, TransactionControl};
use crate::thl_net::Role;

/// Everything the master pipeline of one service needs.
#[derive(Debug, Clone)]
pub struct MasterSettings {
    /// The replication service (dataservice) name.
    pub service: String,
    /// This master's identity in every THL header (its host name).
    pub source_id: String,
    /// Connection to the source database.
    pub source: Opts,
    /// Our server id as a replica of the source.
    pub server_id: u32,
    /// The THL.
    pub thl: StoreConfig,
    /// The catalog directory.
    pub catalog_dir: PathBuf,
    /// Transactions larger than this leave in fragments (bytes).
    pub frag_size: usize,
    /// Where to start when the THL is empty.
    pub start_when_empty: StartPosition,
    /// When the THL is empty: number extracted transactions from this + 1
    /// (`trepctl online -from-event F:P -base-seqno N`, to regenerate a THL
    /// that continues an existing history). `None`: start at 0.
    pub base_seqno: Option<Seqno>,
    /// Commit the THL at least every this many transactions.
    pub commit_every: usize,
    /// The source's heartbeat period.
    pub heartbeat: Duration,
    /// Delays between reconnects after a transient error (`crate::retry`).
    pub retry: Policy,
    /// Where to serve the THL to slaves and relays (`None`: do not serve).
    pub serve: Option<SocketAddr>,
    /// THL files older than this may be deleted once no reader needs them.
    pub retention: Duration,
    /// `thl-reader-expiry` (`retention.rs`).
    pub reader_expiry: Duration,
    /// TLS of the THL server (`thl-ssl`).
    pub tls: Option<crate::tls::TlsHandle>,
}

impl MasterSettings {
    /// Defaults for everything but the identities, directories and source.
    pub fn new(service: &str, source_id: &str, source: Opts, thl_dir: PathBuf, catalog_dir: PathBuf) -> MasterSettings {
        MasterSettings {
            service: service.to_owned(),
            source_id: source_id.to_owned(),
            source,
            server_id: replica_server_id(service, source_id),
            thl: StoreConfig::new(thl_dir),
            catalog_dir,
            frag_size: 1_000_000,
            start_when_empty: StartPosition::Current,
            base_seqno: None,
            commit_every: 1000,
            heartbeat: Duration::from_secs(1),
            retry: Policy::PIPELINE,
            serve: None,
            retention: Duration::from_secs(7 * 24 * 3600),
            reader_expiry: super::retention::DEFAULT_READER_EXPIRY,
            tls: None,
        }
    }
}

/// A stable server id for our replica connection, derived from the service
/// and host so that two replicators never collide by accident.
pub fn replica_server_id(service: &str, host: &str) -> u32 {
    let crc = crc32fast::hash(format!("tungsten-rs/{service}/{host}").as_bytes());
    1_000_000 + crc % 1_000_000_000
}

/// Why extraction stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The source or the network failed; the pipeline retries by itself, so
    /// this is only returned when asked to stop while retrying.
    #[error("source: {0}")]
    Source(Box<SourceError>),
    #[error("THL: {0}")]
    Store(#[from] StoreError),
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
    /// The binlog holds something that cannot be turned into THL.
    #[error("cannot extract seqno {seqno} at {at}: {source}. Nothing after this position was stored; fix the cause (or start after it with `trepctl online -from-event`) and go online again")]
    Decode {
        seqno: Seqno,
        at: BinlogPosition,
        source: Box<BinlogError>,
    },
    #[error("cannot extract seqno {seqno} at {at}: event type {event_type} ({reason}) is not supported. Nothing was skipped; the service stops here")]
    Unsupported {
        seqno: Seqno,
        at: BinlogPosition,
        event_type: u8,
        reason: String,
    },
    #[error("the source wrote incident {kind} at {at} ({message}): its binlog may be missing changes; check the source and restart from a known position")]
    Incident {
        at: BinlogPosition,
        kind: u16,
        message: String,
    },
    #[error("cannot extract seqno {seqno}: {source}")]
    Build { seqno: Seqno, source: BuildError },
    #[error("the last THL event (seqno {seqno}) has event id {event_id:?}, which is not a binlog position: {why}")]
    BadResumePoint {
        seqno: Seqno,
        event_id: String,
        why: String,
    },
    #[error(
        "cannot extract as the new master after seqno {seqno} (the THL's last transaction came from {from}): {why}"
    )]
    Promotion { seqno: Seqno, from: String, why: String },
    #[error("the extractor thread failed: {0}")]
    Worker(String),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

impl From<SourceError> for ExtractError {
    fn from(e: SourceError) -> Self {
        ExtractError::Source(Box::new(e))
    }
}

impl ExtractError {
    /// Whether reconnecting from the last stored position may cure it.
    pub fn is_transient(&self) -> bool {
        match self {
            ExtractError::Source(e) => e.is_transient(),
            ExtractError::Store(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Runs the master pipeline until `stop` turns true (then returns `Ok`) or
/// a definite error. Transient source errors are retried with backoff.
pub async fn run_master(
    settings: MasterSettings,
    stop: watch::Receiver<bool>,
    progress: Progress,
) -> Result<(), ExtractError> {
    // Whatever the exit path: release the server (and the catalog and port
    // it holds) and report idle.
    let _end = PipelineEnd(&progress);
    master_pipeline(settings, stop, &progress).await
}

async fn master_pipeline(
    settings: MasterSettings,
    mut stop: watch::Receiver<bool>,
    progress: &Progress,
) -> Result<(), ExtractError> {
    let catalog = Arc::new(Catalog::open(&settings.catalog_dir)?);
    let mut writer = Writer::open(settings.thl.clone())?;
    let last = last_header(&writer)?;
    // A promoted relay: its THL ends with another host's transactions.
    let promoted_at = match &last {
        Some(h) if h.source_id != settings.source_id => Some(promotion::promotion_start(&settings, h, &catalog).await?),
        _ => None,
    };
    let mut resume = last
        .as_ref()
        .map(|h| resume_after(h, &settings, promoted_at.as_ref()))
        .transpose()?;
    let first_seqno = settings.base_seqno.map_or(Seqno::FIRST, Seqno::next);
    let next_seqno = writer.max_seqno().map_or(first_seqno, Seqno::next);
    let epoch = Epoch::starting_at(next_seqno);
    if catalog.last_epoch()?.map(|e| e.epoch) != Some(epoch) {
        catalog.record_epoch(&EpochRecord {
            epoch,
            first_seqno: next_seqno,
            source_id: settings.source_id.clone(),
            time_ms: now_ms(),
            start: promoted_at
                .as_ref()
                .map(|at| EventId::new(at.clone(), None).to_string()),
        })?;
    }
    if let Some(last) = last {
        // What is already stored counts as extracted (status after a restart).
        progress.stored(last.seqno, Some(last.epoch), &last.event_id);
        progress.applied(
            last.seqno,
            &last.event_id,
            commit_time_ms(last.source_tstamp_ms, last.extract_tstamp_ms),
            last.extract_tstamp_ms,
        );
    }
    info!(service = %settings.service, %epoch, %next_seqno, "master online");
    let mut server = ServerTask::start(&settings, &writer, &catalog, progress).await?;
    let mut backoff = Backoff::new(settings.retry);
    let result = loop {
        if *stop.borrow() {
            break Ok(());
        }
        let start = resume.clone().unwrap_or_else(|| settings.start_when_empty.clone());
        let SessionEnd {
            writer: returned,
            outcome,
        } = session(
            &settings,
            &catalog,
            writer,
            (epoch, first_seqno),
            start,
            stop.clone(),
            progress,
        )
        .await;
        match outcome {
            Ok(()) => break Ok(()),
            Err(e) if e.is_transient() => {
                // A THL error poisons the writer: reopen it like a half-written transaction.
                let reopen = matches!(e, ExtractError::Store(_));
                if progress.snapshot().activity == Activity::Streaming {
                    // It had been streaming: a fresh failure, not a failing retry.
                    backoff.reset();
                }
                progress.connecting(&source_address(&settings.source), Some(e.to_string()));
                let delay = backoff.next_delay();
                warn!(service = %settings.service, error = %e, retry_in_ms = delay.as_millis() as u64, "extraction interrupted; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => break Ok(()),
                }
                match returned {
                    Some(w) if !reopen => writer = w,
                    other => {
                        // A transaction was left half-written, or the THL
                        // failed (a poisoned writer): reopening cuts it
                        // (recovery), and the server must follow the new
                        // writer.
                        drop(other);
                        server.stop().await;
                        (writer, resume) = open_thl(&settings, promoted_at.as_ref())?;
                        server = ServerTask::start(&settings, &writer, &catalog, progress).await?;
                        continue;
                    }
                }
                resume = last_position(&writer, &settings, promoted_at.as_ref())?;
            }
            Err(e) => break Err(e),
        }
    };
    server.stop().await;
    result
}

/// The THL server of a master, bound to one writer's durable watermark.
struct ServerTask {
    halt: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServerTask {
    async fn start(
        settings: &MasterSettings,
        writer: &Writer,
        catalog: &Arc<Catalog>,
        progress: &Progress,
    ) -> Result<ServerTask, ExtractError> {
        let (halt, mut halted) = watch::channel(false);
        let Some(addr) = settings.serve else {
            return Ok(ServerTask { halt, task: None });
        };
        let reader = writer.reader(Visibility::Durable);
        let server = serve_thl(
            addr,
            Role::Master,
            &settings.source_id,
            reader,
            catalog.clone(),
            settings.tls.clone(),
            progress.shared_meter(Stage::Serve),
        )
        .await?;
        info!(service = %settings.service, %addr, "serving the THL");
        progress.set_thl_server(Some(server.clone()));
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = halted.wait_for(|h| *h).await;
            };
            if let Err(e) = server.run(shutdown).await {
                warn!(%addr, error = %e, "THL server stopped");
            }
        });
        Ok(ServerTask { halt, task: Some(task) })
    }

    async fn stop(&mut self) {
        let _ = self.halt.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// `host:port` of the source database.
pub fn source_address(opts: &Opts) -> String {
    format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())
}

/// Opens the THL and works out where extraction resumes.
fn open_thl(
    settings: &MasterSettings,
    promoted_at: Option<&BinlogPosition>,
) -> Result<(Writer, Option<StartPosition>), ExtractError> {
    let writer = Writer::open(settings.thl.clone())?;
    let resume = last_position(&writer, settings, promoted_at)?;
    Ok((writer, resume))
}

/// The header of the last record of the last complete transaction.
fn last_header(writer: &Writer) -> Result<Option<thl::event::EventHeader>, ExtractError> {
    let Some(max) = writer.max_seqno() else {
        return Ok(None);
    };
    let reader = writer.reader(Visibility::Written);
    let mut cursor = reader.cursor(max)?;
    let mut last = None;
    while let Some(record) = cursor.next()? {
        last = Some(record.header().clone());
    }
    Ok(last)
}

/// Where extraction resumes after the THL's last complete transaction.
fn last_position(
    writer: &Writer,
    settings: &MasterSettings,
    promoted_at: Option<&BinlogPosition>,
) -> Result<Option<StartPosition>, ExtractError> {
    last_header(writer)?
        .as_ref()
        .map(|h| resume_after(h, settings, promoted_at))
        .transpose()
}

/// After `last` in this host's binlog when this host extracted it; at the
/// promotion position when another host did (`master/promotion.rs`).
fn resume_after(
    last: &thl::event::EventHeader,
    settings: &MasterSettings,
    promoted_at: Option<&BinlogPosition>,
) -> Result<StartPosition, ExtractError> {
    match promoted_at {
        Some(at) if last.source_id != settings.source_id => {
            info!(seqno = %last.seqno, from = %last.source_id, %at, "promoted: extracting from this host's own binlog");
            Ok(StartPosition::FilePos(at.clone()))
        }
        _ => resume_point(last),
    }
}

/// Where extraction resumes after the transaction that ends with `header`.
fn resume_point(header: &thl::event::EventHeader) -> Result<StartPosition, ExtractError> {
    let id = EventId::parse(&header.event_id).map_err(|e| ExtractError::BadResumePoint {
        seqno: header.seqno,
        event_id: header.event_id.clone(),
        why: e.to_string(),
    })?;
    info!(seqno = %header.seqno, event_id = %header.event_id, "resuming after the last stored transaction");
    Ok(StartPosition::FilePos(id.at))
}

/// How a session ended, and the writer it borrowed.
struct SessionEnd {
    /// The writer, on a transaction boundary, for the next session; `None`
    /// when it was closed: fragments of an unfinished transaction had been
    /// appended (reopening the log cuts them: recovery), or the worker
    /// thread failed with it.
    writer: Option<Writer>,
    outcome: Result<(), ExtractError>,
}

/// One connection to the source; the writer moves to the session's worker
/// thread and comes back in the [`SessionEnd`].
async fn session(
    settings: &MasterSettings,
    catalog: &Arc<Catalog>,
    writer: Writer,
    (epoch, first_seqno): (Epoch, Seqno),
    start: StartPosition,
    mut stop: watch::Receiver<bool>,
    progress: &Progress,
) -> SessionEnd {
    let addr = source_address(&settings.source);
    progress.connecting(&addr, None);
    let connected = async {
        let user = settings.source.user().unwrap_or("").to_owned();
        let mut conn = mysql_async::Conn::new(settings.source.clone())
            .await
            .map_err(|e| classify(e, &addr, &user, &StreamPosition::default(), true))?;
        preflight(&mut conn, settings.server_id).await?;
        let _ = conn.disconnect().await;
        let mut cfg = StreamConfig::new(settings.server_id);
        cfg.heartbeat = settings.heartbeat;
        BinlogSource::connect_with(settings.source.clone(), cfg, start).await
    };
    let mut source = tokio::select! {
        r = connected => match r {
            Ok(s) => s,
            Err(e) => return SessionEnd { writer: Some(writer), outcome: Err(e.into()) },
        },
        _ = stop.changed() => return SessionEnd { writer: Some(writer), outcome: Ok(()) },
    };
    progress.streaming(&addr);

    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    let queued = Arc::new(AtomicU64::new(0));
    let worker_settings = settings.clone();
    let catalog = catalog.clone();
    let worker_progress = progress.clone();
    let worker_queued = queued.clone();
    let runtime = tokio::runtime::Handle::current();
    let worker = tokio::task::spawn_blocking(move || {
        let mut w = Worker::new(&worker_settings, catalog, writer, (epoch, first_seqno), worker_progress);
        w.precisions = Some(TemporalPrecisions::new(worker_settings.source.clone(), runtime));
        let outcome = w.run(rx, &worker_queued);
        let writer = (!(w.builder.in_transaction() && w.appended_partial)).then_some(w.writer);
        SessionEnd { writer, outcome }
    });
    let mut source_error = None;
    loop {
        tokio::select! {
            ev = source.next_event() => match ev {
                Ok(raw) => {
                    let (batch, failed) = received_batch(raw, &mut source);
                    queued.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if tx.send(batch).await.is_err() {
                        break; // the worker stopped with an error
                    }
                    if failed.is_some() {
                        source_error = failed;
                        break;
                    }
                }
                Err(e) => {
                    source_error = Some(e);
                    break;
                }
            },
            _ = stop.changed() => break,
        }
    }
    drop(tx);
    let end = worker.await.unwrap_or_else(|e| SessionEnd {
        writer: None,
        outcome: Err(ExtractError::Worker(e.to_string())),
    });
    let outcome = match (end.outcome, source_error) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(e)) => Err(e.into()),
        (Ok(()), None) => Ok(()),
    };
    SessionEnd {
        writer: end.writer,
        outcome,
    }
}

/// Batches waiting for the worker: with [`BATCH_BYTES`], what the session
/// holds ahead of the worker is about this many MiB.
const QUEUED_BATCHES: usize = 8;

/// A batch stops growing at this many bytes of events (one event may be
/// larger: it travels alone).
const BATCH_BYTES: usize = 1 << 20;

/// `first` and the events received after it that are already here, up to
/// [`BATCH_BYTES`]: the worker is woken once for what one socket read
/// brought, not once per event (on two cores the wake-ups cost more than
/// the hand-over). A failure after some events comes back beside them.
fn received_batch(first: RawEvent, source: &mut BinlogSource) -> (Vec<RawEvent>, Option<SourceError>) {
    let mut bytes = first.bytes.len();
    let mut batch = vec![first];
    while bytes < BATCH_BYTES {
        match source.next_received() {
            Some(Ok(raw)) => {
                bytes += raw.bytes.len();
                batch.push(raw);
            }
            Some(Err(e)) => return (batch, Some(e)),
            None => break,
        }
    }
    (batch, None)
}

/// Decodes, builds and writes, on a blocking thread.
struct Worker {
    writer: Writer,
    catalog: Arc<Catalog>,
    decoder: Decoder,
    builder: TransactionBuilder,
    pending: PendingVars,
    /// Files of `LOAD DATA` statements until their statement.
    load_files: load_files::LoadFiles,
    known_tables: HashMap<(String, String), TableDef>,
    built: Vec<ReplEvent>,
    uncommitted: usize,
    commit_every: usize,
    service: String,
    progress: Progress,
    /// Fragments of the open transaction were appended to the THL.
    appended_partial: bool,
    /// The transaction at the offline point (`-until-seqno`,
    /// `offline-deferred -at-seqno`) is stored: extraction stops there.
    reached_stop: bool,
    retention: RetentionClock,
    /// The last final fragment appended but not yet reported as durable.
    last_finished: Option<thl::event::EventHeader>,
    /// The transactions appended since the last commit, for the per-shard
    /// figures.
    finished: Vec<ShardTxn>,
    /// Where the fractional precision of pre-5.6 temporal columns comes
    /// from (`None`: tables with such columns cannot be decoded exactly).
    precisions: Option<TemporalPrecisions>,
    /// THL events appended, and the time spent appending them, since the
    /// session started (the extract stage's time is the rest).
    appended: (u64, std::time::Duration),
}

impl Worker {
    fn new(
        settings: &MasterSettings,
        catalog: Arc<Catalog>,
        writer: Writer,
        (epoch, first_seqno): (Epoch, Seqno),
        progress: Progress,
    ) -> Worker {
        let next_seqno = writer.max_seqno().map_or(first_seqno, Seqno::next);
        let cfg = BuilderConfig {
            source_id: settings.source_id.clone(),
            service: settings.service.clone(),
            frag_size: settings.frag_size,
        };
        Worker {
            writer,
            catalog,
            decoder: Decoder::new(""),
            builder: TransactionBuilder::new(cfg, next_seqno, epoch),
            pending: PendingVars::default(),
            load_files: load_files::LoadFiles::default(),
            known_tables: HashMap::new(),
            built: Vec::new(),
            uncommitted: 0,
            commit_every: settings.commit_every.max(1),
            service: settings.service.clone(),
            progress,
            appended_partial: false,
            reached_stop: false,
            retention: RetentionClock::new(settings.retention, settings.reader_expiry),
            last_finished: None,
            finished: Vec::new(),
            precisions: None,
            appended: (0, std::time::Duration::ZERO),
        }
    }

    /// Handles the session's batches in order; `queued` counts the events
    /// received and not yet handled (the extract stage's queue).
    fn run(&mut self, mut rx: mpsc::Receiver<Vec<RawEvent>>, queued: &AtomicU64) -> Result<(), ExtractError> {
        while let Some(batch) = rx.blocking_recv() {
            let mut events = batch.into_iter().peekable();
            while let Some(raw) = events.next() {
                let (started, before) = (std::time::Instant::now(), self.appended);
                self.handle(&raw)?;
                // The extract stage's share: decoding and building, not appending.
                let extract = self.progress.meter(Stage::Extract);
                extract.record(
                    self.appended.0 - before.0,
                    started.elapsed().saturating_sub(self.appended.1 - before.1),
                );
                extract.set_queue(queued.fetch_sub(1, Ordering::Relaxed).saturating_sub(1));
                if self.reached_stop {
                    // Nothing after the offline point is stored; the next start
                    // resumes after it.
                    return self.commit();
                }
                let nothing_waiting = events.peek().is_none() && rx.is_empty();
                if self.uncommitted > 0
                    && (nothing_waiting || self.uncommitted >= self.commit_every)
                    && !self.builder.in_transaction()
                {
                    self.commit()?;
                }
            }
        }
        // The source ended or we were asked to stop: make what is complete durable.
        self.commit()
    }

    fn commit(&mut self) -> Result<(), ExtractError> {
        let writer = &mut self.writer;
        self.progress.meter(Stage::Store).time(0, || writer.commit())?;
        self.uncommitted = 0;
        if let Some(h) = self.last_finished.take() {
            self.progress.stored(h.seqno, Some(h.epoch), &h.event_id);
            let commit_ms = commit_time_ms(h.source_tstamp_ms, h.extract_tstamp_ms);
            self.progress
                .applied(h.seqno, &h.event_id, commit_ms, h.extract_tstamp_ms);
        }
        self.progress.shards_committed(self.finished.drain(..));
        let writer = &mut self.writer;
        let mut purge = |policy: &_, needed, now| writer.apply_retention(policy, needed, now);
        self.retention.maybe_run(&mut purge, &self.catalog, OwnApplier::Absent);
        Ok(())
    }

    fn handle(&mut self, raw: &RawEvent) -> Result<(), ExtractError> {
        if self.decoder.file_name() != &*raw.file {
            self.decoder.set_file_name(&raw.file);
        }
        let seqno = self.builder.next_seqno();
        let event = self
            .decoder
            .decode(&raw.bytes, raw.pos)
            .map_err(|source| ExtractError::Decode {
                seqno,
                at: raw.position(),
                source: Box::new(source),
            })?;
        self.learn_temporal_precision(&event, raw, seqno)?;
        let header = self.decoder.last_header().cloned();
        let at = SourcePos {
            after: raw.next_position(),
            timestamp: header.as_ref().map_or(0, |h| h.timestamp),
            server_id: header.as_ref().map_or(0, |h| h.server_id),
        };
        self.consume(event, &at, raw.bytes.len())
    }

    fn consume(&mut self, event: BinlogEvent, at: &SourcePos, size: usize) -> Result<(), ExtractError> {
        let seqno = self.builder.next_seqno();
        let input = match event {
            BinlogEvent::MariaGtid(g) => {
                let gtid = TxnInput::Gtid {
                    gtid: g.to_text(),
                    // `XA COMMIT|ROLLBACK` groups have no terminating XID.
                    standalone: g.standalone() || g.completes_xa(),
                };
                match g.xid.as_ref().filter(|_| g.prepares_xa()) {
                    // The GTID implies `XA START`: push the GTID, then the
                    // statement the target runs.
                    Some(xid) => {
                        self.push(gtid, at, size, seqno)?;
                        TxnInput::XaStart {
                            statement: Statement {
                                sql: format!("XA START {}", xid.to_sql()).into_bytes(),
                                ..Statement::default()
                            },
                            prepared: true,
                        }
                    }
                    None => gtid,
                }
            }
            // MySQL: a transaction is GTID + BEGIN ... COMMIT; DDL is GTID + the statement.
            BinlogEvent::MysqlGtid(g) => TxnInput::Gtid {
                gtid: g.to_text(),
                standalone: true,
            },
            BinlogEvent::Query(q) => match transaction_control(&q.sql) {
                Some(TransactionControl::Begin) => TxnInput::Begin,
                Some(TransactionControl::Commit) => TxnInput::Commit,
                Some(TransactionControl::Rollback) => TxnInput::Rollback,
                Some(TransactionControl::XaStart) => TxnInput::XaStart {
                    statement: q.into_statement(),
                    prepared: false,
                },
                // MariaDB logs a one-phase commit as XA_PREPARE, never as a
                // query: either form completes the transaction here.
                Some(TransactionControl::XaComplete | TransactionControl::XaOnePhase) => {
                    TxnInput::XaComplete(q.into_statement())
                }
                // `binlog_alter_two_phase`: the ALTER runs at its COMMIT ALTER.
                _ if q.status.is_two_phase_alter_without_effect() => TxnInput::Commit,
                // `XA END` and everything else: a statement of the transaction.
                _ => {
                    let mut statement = q.into_statement();
                    self.pending.apply_to(&mut statement.session);
                    self.note_engine(&mut statement);
                    TxnInput::Statement(statement)
                }
            },
            BinlogEvent::Xid(_) => TxnInput::Commit,
            BinlogEvent::XaPrepare(x) => TxnInput::XaPrepare {
                statement: Statement {
                    sql: x.statement().into_bytes(),
                    ..Statement::default()
                },
                one_phase: x.one_phase,
            },
            BinlogEvent::Rows(r) => {
                let mut changes = r.changes;
                self.describe_columns(&mut changes, seqno)?;
                TxnInput::Rows(changes)
            }
            BinlogEvent::TransactionPayload { events, .. } => {
                for inner in events {
                    self.consume(inner, at, size)?;
                }
                return Ok(());
            }
            BinlogEvent::LoadBlock(block) => {
                return self.load_files.add(block).map_err(|reason| ExtractError::Unsupported {
                    seqno,
                    at: at.after.clone(),
                    event_type: BEGIN_LOAD_QUERY_EVENT,
                    reason,
                });
            }
            BinlogEvent::DeleteFile { file_id } => {
                self.load_files.delete(file_id);
                return Ok(());
            }
            BinlogEvent::ExecuteLoad(e) => {
                let Some(infile) = self.load_files.take(e.file_id) else {
                    return Err(ExtractError::Unsupported {
                        seqno,
                        at: at.after.clone(),
                        event_type: EXECUTE_LOAD_QUERY_EVENT,
                        reason: format!("LOAD DATA of file {} whose blocks were not read before it", e.file_id),
                    });
                };
                let sql = load_data::rewrite_to_local(&e);
                let mut statement = e.query.into_statement();
                statement.sql = sql;
                statement.infile = Some(infile);
                self.pending.apply_to(&mut statement.session);
                TxnInput::Statement(statement)
            }
            BinlogEvent::Unsupported { event_type, reason } => {
                return Err(ExtractError::Unsupported {
                    seqno,
                    at: at.after.clone(),
                    event_type,
                    reason,
                })
            }
            BinlogEvent::Incident { kind, message } => {
                return Err(ExtractError::Incident {
                    at: at.after.clone(),
                    kind,
                    message,
                })
            }
            ev @ (BinlogEvent::IntVar { .. } | BinlogEvent::Rand { .. } | BinlogEvent::UserVar(_)) => {
                self.pending.observe(&ev);
                return Ok(());
            }
            // Position, liveness and description events carry nothing to store.
            BinlogEvent::FormatDescription(_)
            | BinlogEvent::Rotate { .. }
            | BinlogEvent::GtidList { .. }
            | BinlogEvent::PreviousGtids(_)
            | BinlogEvent::BinlogCheckpoint { .. }
            | BinlogEvent::Annotate(_)
            | BinlogEvent::TableMap(_)
            | BinlogEvent::Heartbeat { .. }
            | BinlogEvent::Stop
            | BinlogEvent::StartEncryption { .. }
            | BinlogEvent::Ignored { .. } => return Ok(()),
        };
        self.push(input, at, size, seqno)
    }

    /// Feeds one input to the transaction builder and appends what it
    /// finished to the THL.
    fn push(&mut self, input: TxnInput, at: &SourcePos, size: usize, seqno: Seqno) -> Result<(), ExtractError> {
        self.builder
            .push(input, at, size, &mut self.built)
            .map_err(|source| ExtractError::Build { seqno, source })?;
        if self.built.is_empty() {
            return Ok(());
        }
        // Read once per finished transaction or fragment, not per event.
        let stop_after = self.progress.stop_after();
        for event in self.built.drain(..) {
            if event.header.fragno == 0 && stop_after.is_some_and(|n| event.header.seqno > n) {
                self.reached_stop = true;
                break;
            }
            let started = std::time::Instant::now();
            self.writer.append_event(&event)?;
            let took = started.elapsed();
            self.progress.meter(Stage::Store).record(1, took);
            self.appended = (self.appended.0 + 1, self.appended.1 + took);
            self.appended_partial = !event.header.last_frag;
            if event.header.last_frag {
                self.uncommitted += 1;
                self.reached_stop |= stop_after.is_some_and(|n| event.header.seqno_end >= n);
                self.finished.push(ShardTxn {
                    shard: event.header.shard_id.clone(),
                    seqno: event.header.seqno,
                    event_id: event.header.event_id.clone(),
                    source_tstamp_ms: commit_time_ms(event.header.source_tstamp_ms, event.header.extract_tstamp_ms),
                });
                self.last_finished = Some(event.header);
            }
        }
        Ok(())
    }

    /// For a `CREATE TABLE` that leaves the engine to the session's default
    /// (not in the binlog): the engine the table got on the source, for the
    /// applier to create it alike. Best effort: when the source cannot say
    /// (table gone, query failed), the target's default applies, as on
    /// MariaDB's own replica.
    fn note_engine(&mut self, statement: &mut Statement) {
        let Some((schema, table)) = table_without_engine(&statement.sql, statement.default_db.as_deref()) else {
            return;
        };
        let Some(lookup) = self.precisions.as_mut() else { return };
        match lookup.table_engine(&schema, &table) {
            Ok(found) => match declared_columns(&statement.sql) {
                Some(declared) if !same_columns(&declared, &found.columns) => {
                    warn!(service = %self.service, table = %format!("{schema}.{table}"),
                        "the created table has other columns on the source now (created again since); the target's \
                         default engine applies")
                }
                _ => statement.session.default_storage_engine = found.engine,
            },
            Err(e) => warn!(service = %self.service, table = %format!("{schema}.{table}"), error = %e,
                "cannot read the engine of a created table from the source; the target's default applies"),
        }
    }

    /// Before the rows events of a TABLE_MAP with pre-5.6 temporal columns
    /// are decoded: tells the decoder their fractional precision, from the
    /// source's definition (the binlog does not carry it). DDL empties the
    /// cache of definitions.
    fn learn_temporal_precision(
        &mut self,
        event: &BinlogEvent,
        raw: &RawEvent,
        seqno: Seqno,
    ) -> Result<(), ExtractError> {
        // A definition that does not tell n stops like an undecodable event.
        let stop = |message: String| ExtractError::Decode {
            seqno,
            at: raw.position(),
            source: Box::new(BinlogError::new(
                &raw.file,
                raw.pos,
                Some(TABLE_MAP_EVENT),
                ErrorKind::Unsupported(message),
            )),
        };
        match event {
            BinlogEvent::Query(q) if changes_schema(&q.sql) => {
                if let Some(p) = self.precisions.as_mut() {
                    p.invalidate();
                }
                Ok(())
            }
            BinlogEvent::TableMap(tm) if !tm.old_temporal_columns().is_empty() => {
                let Some(lookup) = self.precisions.as_mut() else {
                    return Err(stop(format!(
                        "table {} has pre-5.6 temporal columns and no connection to the source is configured to \
                         learn their fractional precision",
                        tm.qualified_name()
                    )));
                };
                let precisions = match lookup.precisions(tm) {
                    Ok(p) => p,
                    Err(PrecisionLookupError::Definition(message)) => return Err(stop(message)),
                    Err(PrecisionLookupError::Query(e)) => {
                        let addr = source_address(lookup.opts());
                        let user = lookup.opts().user().unwrap_or("").to_owned();
                        let at = StreamPosition::default();
                        return Err(classify(e, &addr, &user, &at, false).into());
                    }
                };
                self.decoder
                    .refine_temporal_precision(tm.table_id, &precisions)
                    .map_err(|e| stop(e.to_string()))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Records each table's definition in the schema history when it
    /// changes, and fills in column names a source without
    /// `binlog_row_metadata=FULL` left out, from the definition in force at
    /// this seqno.
    fn describe_columns(&mut self, changes: &mut RowChanges, seqno: Seqno) -> Result<(), ExtractError> {
        let key = (changes.schema.clone(), changes.table.clone());
        let named = changes.columns.iter().all(|c| !c.name.is_empty());
        if !named {
            if let Some(def) = self.catalog.table_at(&key.0, &key.1, seqno)? {
                if def.columns.len() == changes.columns.len() {
                    for (col, known) in changes.columns.iter_mut().zip(&def.columns) {
                        col.name.clone_from(&known.name);
                        col.key = known.key;
                    }
                }
            }
            return Ok(());
        }
        let def = TableDef {
            columns: changes.columns.clone(),
            primary_key: changes.columns.iter().filter(|c| c.key).map(|c| c.index).collect(),
        };
        if self.known_tables.get(&key) != Some(&def) {
            if self.catalog.table_at(&key.0, &key.1, seqno)?.as_ref() != Some(&def) {
                self.catalog.record_table(&key.0, &key.1, seqno, &def)?;
                info!(service = %self.service, table = %format!("{}.{}", key.0, key.1), %seqno, "recorded table definition");
            }
            self.known_tables.insert(key, def);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_server_ids_are_stable_and_large() {
        let a = replica_server_id("alpha", "host1.alpha");
        assert_eq!(a, replica_server_id("alpha", "host1.alpha"));
        assert_ne!(a, replica_server_id("alpha", "host2.alpha"));
        assert!(a >= 1_000_000);
    }
}

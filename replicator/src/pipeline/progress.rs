//! The live state of a replication service, written by its pipeline and
//! read by the control plane (`trepctl status`, the REST API, metrics).
//!
//! Invariants: a pipeline only *reports* (what it stored, applied, where it
//! is connected); the service manager alone decides the service's
//! `State` (`control/src/state.rs`). `service/status.rs` turns these fields into Tungsten's
//! status properties (its module doc says which field feeds which
//! property). Readers get a consistent snapshot ([`Progress::snapshot`]);
//! writers hold the lock only to copy a few fields.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use thl::seqno::{Epoch, Seqno};

use crate::clock::now_ms;
use crate::meter::{StageMeter, StageReading};
use crate::thl_net::{ClientInfo, ClientObserver, ProgressHandle, ThlServer};

/// What the pipeline is doing right now (the manager maps it to a state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Activity {
    /// Not started, or stopped.
    Idle,
    /// Connecting or reconnecting to the source or upstream.
    Connecting,
    /// Connected and replicating.
    Streaming,
}

/// Live figures of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineProgress {
    pub activity: Activity,
    /// Where the pipeline reads from: the source database address
    /// (master) or the upstream THL URI (slave, relay).
    pub pipeline_source: String,
    /// Last transaction written to the local THL.
    pub stored_seqno: Option<Seqno>,
    pub stored_event_id: String,
    /// Epoch of the last stored transaction (a master's; slaves and relays
    /// copy records without reading their epochs).
    pub stored_epoch: Option<Epoch>,
    /// Last transaction applied (master: extracted) and its event id.
    pub applied_seqno: Option<Seqno>,
    pub applied_event_id: String,
    /// Source commit time of the last applied transaction (ms), as
    /// [`commit_time_ms`] estimates it.
    pub applied_commit_ms: i64,
    /// When the last transaction was applied (ms).
    pub applied_at_ms: i64,
    /// Extraction time of the last applied transaction (ms).
    pub applied_extract_tstamp_ms: i64,
    /// Transactions applied since the pipeline started.
    pub applied_count: u64,
    /// The last transient problem (cleared when streaming resumes).
    pub last_transient_error: Option<String>,
    /// The apply stage is retrying a transient target error: the attempt,
    /// the seqno, the error and the statement. Not cleared by the upstream
    /// connection's state: only when a transaction is applied or the stage
    /// ends (a stage stuck on one seqno while the THL streams in must show).
    pub apply_retry: Option<String>,
}

impl Default for PipelineProgress {
    fn default() -> Self {
        PipelineProgress {
            activity: Activity::Idle,
            pipeline_source: String::new(),
            stored_seqno: None,
            stored_event_id: String::new(),
            stored_epoch: None,
            applied_seqno: None,
            applied_event_id: String::new(),
            applied_commit_ms: 0,
            applied_at_ms: 0,
            applied_extract_tstamp_ms: 0,
            applied_count: 0,
            last_transient_error: None,
            apply_retry: None,
        }
    }
}

/// One committed transaction, as the per-shard figures count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTxn {
    /// The event's shard id (its database, or `#UNKNOWN`).
    pub shard: String,
    pub seqno: Seqno,
    pub event_id: String,
    /// Commit time on the source (ms), as [`commit_time_ms`] estimates it.
    pub source_tstamp_ms: i64,
}

/// The latest time (ms) a transaction can have committed on the source:
/// the master's extraction time, but no later than the end of the
/// binlog's second. The binlog's timestamps have a one-second resolution,
/// so a transaction stamped second S committed in [S, S+1 s); the master
/// extracts it milliseconds after its commit when it keeps up, so its
/// extraction time dates the commit to the millisecond; when it lags (a
/// backlog), the end of second S is the best bound left. `0` when the
/// source time is unknown; the source time alone when the extraction time
/// is unknown or earlier (clocks apart).
pub fn commit_time_ms(source_tstamp_ms: i64, extract_tstamp_ms: i64) -> i64 {
    if source_tstamp_ms <= 0 || extract_tstamp_ms < source_tstamp_ms {
        return source_tstamp_ms.max(0);
    }
    extract_tstamp_ms.min(source_tstamp_ms + 999)
}

/// The figures of one shard (`trepctl status -name shards`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardProgress {
    /// Transactions of the shard committed since the pipeline started.
    pub event_count: u64,
    pub applied_seqno: Seqno,
    pub applied_event_id: String,
    /// Source commit time of the shard's last transaction (ms).
    pub source_tstamp_ms: i64,
    /// When it was committed here (ms).
    pub applied_at_ms: i64,
}

/// A shared handle on a pipeline's progress. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    live: Arc<Mutex<PipelineProgress>>,
    thl_server: Arc<Mutex<Option<ThlServer>>>,
    /// The last seqno to apply before the service goes offline
    /// (`online -until-seqno`, `offline-deferred -at-seqno`): the one place
    /// the manager keeps it and the apply stage reads it.
    stop_after: Arc<Mutex<Option<Seqno>>>,
    /// Per-shard figures, apart from the rest: only `status -name shards`
    /// reads them (the manager's snapshots every 100 ms do not copy them).
    shards: Arc<Mutex<BTreeMap<String, ShardProgress>>>,
    /// Parallel apply's figures (`status -name tasks`), apart likewise.
    channels: Arc<Mutex<ChannelFigures>>,
    /// The stages' work meters (`trepctl perf`, `/metrics`).
    meters: Arc<StageMeters>,
    /// A slave's or relay's THL client, for what it knows of the upstream.
    upstream: Arc<Mutex<Option<ProgressHandle>>>,
    /// The apply stage's retries since the replicator started.
    retries: Arc<ApplyRetries>,
}

/// The apply stage's retries from the committed position after a
/// transient failure, and those of them caused by an InnoDB deadlock
/// (error 1213: the target rolled a transaction back; the retry resolves
/// it). A parallel channel never waits for another while it holds
/// uncommitted work (`channels.rs`), so a deadlock can only be InnoDB's.
#[derive(Debug, Default)]
pub struct ApplyRetries {
    retries: std::sync::atomic::AtomicU64,
    deadlocks: std::sync::atomic::AtomicU64,
}

/// The stages of the pipelines, as `trepctl perf` and `/metrics` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Master: binlog events decoded into THL transactions.
    Extract,
    /// Master: THL events appended and made durable.
    Store,
    /// Slave and relay: THL records received from upstream and made durable.
    Receive,
    /// Slave and relay: transactions applied to the target.
    Apply,
    /// Every role: THL records sent to downstream replicators.
    Serve,
}

impl Stage {
    /// The stage's name in `perf`, `status -name tasks` and the metrics' `stage` label.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Extract => "extract",
            Stage::Store => "store",
            Stage::Receive => "receive",
            Stage::Apply => "apply",
            Stage::Serve => "serve",
        }
    }
}

/// One meter per [`Stage`].
#[derive(Debug, Default)]
pub struct StageMeters([Arc<StageMeter>; 5]);

impl StageMeters {
    pub fn get(&self, stage: Stage) -> &Arc<StageMeter> {
        &self.0[stage as usize]
    }
}

/// One apply channel's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelFigure {
    /// The last transaction it committed.
    pub committed: Option<Seqno>,
    /// The transactions given to it and not committed yet.
    pub queued: usize,
    /// Milliseconds from that transaction's source commit
    /// ([`commit_time_ms`]) to its commit here (`None`: not known).
    pub latency_ms: Option<i64>,
}

/// Parallel apply's figures: per channel, and the scheduler's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelFigures {
    /// Per channel.
    pub channels: Vec<ChannelFigure>,
    /// Transactions that ran alone (every channel drained around them).
    pub barriers: u64,
    /// Transactions that waited for another channel's commit (by key).
    pub waits: u64,
    /// Times the key history outgrew its cap and the channels drained.
    pub overflows: u64,
}

impl Progress {
    pub fn new() -> Progress {
        Progress::default()
    }

    fn lock(&self) -> MutexGuard<'_, PipelineProgress> {
        // A panic while holding this lock cannot leave it inconsistent
        // (plain field copies), so a poisoned lock is still usable.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes (or withdraws) the THL server the pipeline runs, for
    /// `trepctl clients`.
    pub fn set_thl_server(&self, server: Option<ThlServer>) {
        *self.thl_server.lock().unwrap_or_else(|p| p.into_inner()) = server;
    }

    /// Sets (or clears) the last seqno to apply: the apply stage stops at
    /// that transaction boundary, before anything later.
    pub fn set_stop_after(&self, seqno: Option<Seqno>) {
        *self.stop_after.lock().unwrap_or_else(|p| p.into_inner()) = seqno;
    }

    /// The last seqno to apply, if the service is to stop after it.
    pub fn stop_after(&self) -> Option<Seqno> {
        *self.stop_after.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes (or withdraws) the THL client of a slave or relay.
    pub fn set_upstream_client(&self, client: Option<ProgressHandle>) {
        *self.upstream.lock().unwrap_or_else(|p| p.into_inner()) = client;
    }

    /// The highest seqno the upstream said it has (at the handshake, in
    /// heartbeats and records), while a THL client runs.
    pub fn upstream_head(&self) -> Option<Seqno> {
        let client = self.upstream.lock().unwrap_or_else(|p| p.into_inner()).clone();
        client.and_then(|c| c.get().server_max_seqno)
    }

    /// The downstream replicators connected to the pipeline's THL server.
    pub fn thl_clients(&self) -> Vec<ClientInfo> {
        let server = self.thl_server.lock().unwrap_or_else(|p| p.into_inner()).clone();
        server.map(|s| s.clients()).unwrap_or_default()
    }

    /// A consistent copy.
    pub fn snapshot(&self) -> PipelineProgress {
        self.lock().clone()
    }

    pub fn connecting(&self, source: &str, problem: Option<String>) {
        let mut p = self.lock();
        p.activity = Activity::Connecting;
        p.pipeline_source = source.to_owned();
        if problem.is_some() {
            p.last_transient_error = problem;
        }
    }

    pub fn streaming(&self, source: &str) {
        let mut p = self.lock();
        p.activity = Activity::Streaming;
        p.pipeline_source = source.to_owned();
        p.last_transient_error = None;
    }

    /// The apply stage is retrying (`Some`), or no longer (`None`).
    pub fn apply_retry(&self, problem: Option<String>) {
        self.lock().apply_retry = problem;
    }

    pub fn idle(&self) {
        self.lock().activity = Activity::Idle;
    }

    /// Forgets every figure (after `trepctl reset` removed the THL).
    pub fn reset(&self) {
        *self.lock() = PipelineProgress::default();
        self.shards.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Transactions committed (applied to the target; on a master, stored),
    /// each counted under its shard.
    pub fn shards_committed(&self, txns: impl IntoIterator<Item = ShardTxn>) {
        let now = now_ms();
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        for t in txns {
            let s = shards.entry(t.shard).or_default();
            s.event_count += 1;
            s.applied_seqno = t.seqno;
            s.applied_event_id = t.event_id;
            s.source_tstamp_ms = t.source_tstamp_ms;
            s.applied_at_ms = now;
        }
    }

    /// The per-shard figures, by shard id.
    pub fn shards(&self) -> Vec<(String, ShardProgress)> {
        let shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        shards.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Publishes parallel apply's figures.
    pub fn set_channel_figures(&self, figures: ChannelFigures) {
        *self.channels.lock().unwrap_or_else(|p| p.into_inner()) = figures;
    }

    /// Parallel apply's figures (empty with one channel).
    pub fn channel_figures(&self) -> ChannelFigures {
        self.channels.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The meter of `stage`, to record into.
    pub fn meter(&self, stage: Stage) -> &StageMeter {
        self.meters.get(stage)
    }

    /// The meter of `stage`, shared (the THL server records into it).
    pub fn shared_meter(&self, stage: Stage) -> Arc<StageMeter> {
        Arc::clone(self.meters.get(stage))
    }

    /// The apply stage retried after a transient failure (`deadlock`: an
    /// InnoDB deadlock).
    pub fn apply_retried(&self, deadlock: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.retries.retries.fetch_add(1, SeqCst);
        if deadlock {
            self.retries.deadlocks.fetch_add(1, SeqCst);
        }
    }

    /// The apply stage's retries and the deadlocks among them (never more
    /// deadlocks than retries: a retry is counted before its cause).
    pub fn apply_retries(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::SeqCst;
        let deadlocks = self.retries.deadlocks.load(SeqCst);
        (self.retries.retries.load(SeqCst).max(deadlocks), deadlocks)
    }

    /// A reading of `stage`'s meter.
    pub fn stage_reading(&self, stage: Stage) -> StageReading {
        self.meters.get(stage).read()
    }

    /// A transaction reached the local THL.
    pub fn stored(&self, seqno: Seqno, epoch: Option<Epoch>, event_id: &str) {
        let mut p = self.lock();
        p.stored_seqno = Some(seqno);
        p.stored_epoch = epoch;
        p.stored_event_id.clear();
        p.stored_event_id.push_str(event_id);
    }

    /// A transaction was applied (on a master: extracted and stored);
    /// `commit_ms` is its source commit time as [`commit_time_ms`] gives it.
    pub fn applied(&self, seqno: Seqno, event_id: &str, commit_ms: i64, extract_tstamp_ms: i64) {
        let mut p = self.lock();
        p.applied_seqno = Some(seqno);
        p.applied_event_id.clear();
        p.applied_event_id.push_str(event_id);
        p.applied_commit_ms = commit_ms;
        p.applied_extract_tstamp_ms = extract_tstamp_ms;
        p.applied_at_ms = now_ms();
        p.applied_count += 1;
        p.apply_retry = None;
    }
}

/// Clears what a pipeline lent its [`Progress`] (the THL server, which
/// holds the catalog and the port, and the upstream client) and reports
/// idle when dropped: however the pipeline ends, `offline -immediate`
/// (which drops its task mid-await) included.
#[derive(Debug)]
pub struct PipelineEnd<'a>(pub &'a Progress);

impl Drop for PipelineEnd<'_> {
    fn drop(&mut self) {
        self.0.set_thl_server(None);
        self.0.set_upstream_client(None);
        self.0.idle();
    }
}

/// The slave's THL client reports here as it goes, and learns from here
/// what the apply stage applied (for its ACKs).
impl ClientObserver for Progress {
    fn reconnecting(&self, uri: &str, error: &str) {
        self.connecting(uri, Some(error.to_owned()));
    }

    fn streaming(&self, uri: &str) {
        Progress::streaming(self, uri);
    }

    fn stored(&self, seqno: Seqno, records: u64, busy: std::time::Duration) {
        self.meter(Stage::Receive).record(records, busy);
        Progress::stored(self, seqno, None, "");
    }

    fn applied(&self) -> Option<Seqno> {
        self.lock().applied_seqno
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_transactions_are_counted_per_shard() {
        let p = Progress::new();
        let txn = |shard: &str, seqno| ShardTxn {
            shard: shard.into(),
            seqno: Seqno(seqno),
            event_id: format!("mysql-bin.000001:{seqno:016};1"),
            source_tstamp_ms: 1000 * seqno,
        };
        p.shards_committed([txn("shop", 1), txn("crm", 2), txn("shop", 3)]);
        let shards = p.shards();
        let names: Vec<&str> = shards.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["crm", "shop"]);
        assert_eq!((shards[1].1.event_count, shards[1].1.applied_seqno), (2, Seqno(3)));
        p.reset();
        assert!(p.shards().is_empty());
    }

    #[test]
    fn the_commit_time_is_the_extraction_time_bounded_by_the_binlog_second() {
        // Extracted live, 3 ms after a commit in second 100: the extraction dates it.
        assert_eq!(commit_time_ms(100_000, 100_437), 100_437);
        // Extracted from a backlog: the end of the binlog's second bounds it.
        assert_eq!(commit_time_ms(100_000, 160_000), 100_999);
        // Unknown or earlier extraction time (clocks apart): the binlog's time.
        assert_eq!(commit_time_ms(100_000, 0), 100_000);
        assert_eq!(commit_time_ms(100_000, 99_000), 100_000);
        // Unknown source time: unknown.
        assert_eq!(commit_time_ms(0, 5_000), 0);
    }

    #[test]
    fn reports_are_visible_in_snapshots() {
        let p = Progress::new();
        p.connecting("thl://h:2112/", Some("refused".into()));
        assert_eq!(p.snapshot().activity, Activity::Connecting);
        p.streaming("thl://h:2112/");
        p.stored(Seqno(4), Some(Epoch(0)), "mysql-bin.000001:0000000000000400;1");
        p.applied(Seqno(4), "mysql-bin.000001:0000000000000400;1", 1000, 1001);
        let s = p.snapshot();
        assert_eq!(
            (s.stored_seqno, s.applied_seqno, s.applied_count),
            (Some(Seqno(4)), Some(Seqno(4)), 1)
        );
        assert_eq!(s.last_transient_error, None);
    }

    #[test]
    fn apply_retry_survives_streaming_until_a_transaction_applies() {
        let p = Progress::new();
        p.apply_retry(Some("attempt 2: lock wait timeout at seqno 5".into()));
        p.streaming("thl://h:2112/");
        assert_eq!(
            p.snapshot().apply_retry.as_deref(),
            Some("attempt 2: lock wait timeout at seqno 5")
        );
        p.applied(Seqno(5), "e", 1, 2);
        assert_eq!(p.snapshot().apply_retry, None);
    }
}

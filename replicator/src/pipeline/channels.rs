//! Parallel apply: the apply stage's pass when a service has more than one
//! channel (`apply.rs` runs it and retries it). Two ways to spread the
//! transactions (`svc-parallelization-type`):
//!
//! * **By shard** (`disk`, `memory`: Tungsten's mode). A transaction goes
//!   to the channel of its shard id (its database; [`channel_of`], a
//!   stable hash). The transactions of a database are applied in seqno
//!   order; those of different databases run side by side.
//! * **By key** (`key`). A transaction goes to the channel [`route`] gives
//!   (a stable hash of its first row's table and primary key, from the THL
//!   alone) and waits, before it starts, until the channels that hold the
//!   last earlier writers of its keys have committed them
//!   (`dependencies.rs`, `scheduler.rs`). A channel commits what it holds
//!   before it waits, so no channel ever waits while holding what another
//!   waits for: waits name earlier seqnos only, and every wait ends.
//!
//! # Invariants
//!
//! * **One channel, one row.** A channel applies its transactions on its
//!   own connection, in seqno order, and commits its own position row
//!   (`trep_commit_seqno`, `task_id` = channel) in the same target
//!   transaction as the data.
//! * **Barriers.** By shard, a transaction of no single database (shard
//!   `#UNKNOWN`: row changes across databases, a statement without a
//!   database), a transaction with a statement (DDL, or DML logged as a
//!   statement: its shard is the session's default database, but its text
//!   may name tables of any other: `DROP TABLE test.t1` from `mtr`), and a
//!   fragmented transaction (a later fragment may reach another database)
//!   wait until every channel has committed everything it was given, run
//!   on channel 0 alone, and are committed before anything after them is
//!   dispatched ([`needs_barrier`]). By key, statements and fragments
//!   ([`alone_whatever_keys`]) run alone the same way, on channel 0, and
//!   whatever the key scheduler cannot reason about runs alone on its
//!   routed channel.
//! * **A source session's temporary tables are on one connection.** They
//!   exist only in the target session that ran their `CREATE TEMPORARY
//!   TABLE` (a statement, under MIXED logging) and are used by statements
//!   only (row events never name them): every transaction with a statement
//!   runs on channel 0, in both modes. Routing by key recorded before this
//!   rule (`key` in `trep_apply_routing`, now `key2`) is a different
//!   routing: a restart from rows it left at different seqnos is refused.
//! * **Exactly once per channel.** After any stop or crash each channel
//!   resumes after its own row: the THL is read from the lowest of them,
//!   and each channel's applier skips what its own row covers. A channel
//!   only ever applies the transactions of its shards, so nothing is
//!   applied twice and nothing skipped.
//! * **Idle channels keep up.** [`SYNC_PAUSE`] after the last sync when
//!   the input pauses, and at least every [`SYNC_EVERY`] transactions, a
//!   channel that has committed everything
//!   it was given and whose row is behind the last transaction dispatched
//!   gets that transaction without its changes: its row moves there (it
//!   has no transaction of its own at or before it left to apply), so a
//!   restart does not read the THL from an idle channel's old position
//!   (which retention may have purged meanwhile), and every row tells how
//!   far the target is.
//! * **A clean stop aligns the rows.** On `offline` and at the offline point,
//!   once everything dispatched is committed, every channel's row is moved
//!   to the last transaction dispatched (a channel that applied nothing of
//!   it gets it without its changes), so that all rows name one seqno: the
//!   channel count may then change. A start with another channel count
//!   than the target's rows is refused unless they name one seqno
//!   ([`check_channel_rows`]).
//! * **The applied seqno is a low watermark**: every transaction at or below
//!   the seqno the progress reports is committed on its channel.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use thl::event::{Change, ReplEvent, SHARD_UNKNOWN};
use thl::seqno::Seqno;
use tokio::sync::{mpsc, watch};
use tracing::info;

use super::apply::{
    check_expected, skipped_or_whole, sleep_until, take_committed, ApplyStageError, Fed, Pending, CHANNEL_EVENTS,
};
use super::progress::{ChannelFigure, ChannelFigures, Progress, Stage};
use super::scheduler::{route, KeyScheduler, SchedulerStats, Writer, HISTORY_CAP};
use super::skip::SkipSeqnos;
use crate::applier::{AppliedPosition, Applier, XaHold};
use crate::budget::Ticket;
use crate::clock::now_ms;
use crate::config::model::ApplyScheduler;
use crate::meter::StageMeter;

/// Transactions dispatched between two syncs of the idle channels while
/// the input does not pause.
pub const SYNC_EVERY: u64 = 1000;
/// The shortest time between two syncs when the input pauses (each sync
/// is a commit on every idle channel).
pub const SYNC_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The channel of a shard: FNV-1a of its id, modulo the channel count.
pub fn channel_of(shard: &str, channels: u32) -> u32 {
    let hash = shard.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % u64::from(channels.max(1))) as u32
}

/// Whether the transaction of `ev` must run alone by shard (see the module
/// doc): [`alone_whatever_keys`], or of no single database.
pub fn needs_barrier(ev: &ReplEvent) -> bool {
    ev.header.shard_id == SHARD_UNKNOWN || alone_whatever_keys(ev)
}

/// Whether the transaction of `ev` must run alone in either mode: one cut
/// into fragments (a later fragment may reach anything), or one with a
/// statement (its text may name any table).
pub fn alone_whatever_keys(ev: &ReplEvent) -> bool {
    let h = &ev.header;
    h.fragno > 0 || !h.last_frag || ev.body.changes.iter().any(|c| matches!(c, Change::Statement(_)))
}

/// Refuses a channel count or a scheduler that differs from the one the
/// target's rows were written with, unless they all name one seqno (a
/// clean offline): the routing would change, and a channel would apply
/// again, or skip, what another one's row says. Returns the rows to forget
/// (task ids at or above `channels`). `rows` are (task id, committed
/// seqno); `recorded` is the scheduler the rows were written with (`None`:
/// written before it was recorded, by shard).
pub fn check_channel_rows(
    rows: &[(u32, Option<Seqno>)],
    channels: u32,
    recorded: Option<&str>,
    scheduler: ApplyScheduler,
) -> Result<bool, String> {
    let forget = rows.iter().any(|&(t, _)| t >= channels);
    let same_count = rows.len() == channels as usize && !forget;
    let was = recorded.unwrap_or(ApplyScheduler::Shard.routing());
    let same_scheduler = rows.len() < 2 || was == scheduler.routing();
    let one_seqno = rows.windows(2).all(|w| w[0].1 == w[1].1);
    if (same_count && same_scheduler) || one_seqno {
        return Ok(forget);
    }
    let described: Vec<String> = rows
        .iter()
        .map(|(t, s)| format!("{t}: {}", Seqno::or_minus_one(*s)))
        .collect();
    let setting = ApplyScheduler::of_routing(was).map_or(
        "svc-parallelization-type=key with the replicator version that wrote them (its routing by key is not this one's)",
        ApplyScheduler::setting,
    );
    Err(format!(
        "the target's trep_commit_seqno has {} channel rows at different seqnos (task_id: seqno {}), written by \
         {} channel(s) routed by {was}, and this service now has {channels} channel(s) routed by {}: the channel count and \
         svc-parallelization-type may change only after a clean offline, which brings every row to one seqno. \
         Set them back ({} channels, {}) and go online, then `trepctl offline`, then change them",
        rows.len(),
        described.join(", "),
        rows.len(),
        scheduler.routing(),
        rows.len(),
        setting,
    ))
}

/// What a channel tells the dispatcher.
enum Notice {
    /// Its committed seqno moved.
    Committed { channel: usize, seqno: Option<Seqno> },
    /// It ended (its input closed, or an error that [`finish`] collects).
    Ended,
}

/// A transaction for a channel, and the seqnos it must wait for on other
/// channels (by key: `dependencies.rs`; none by shard).
pub(super) struct Work {
    event: ReplEvent,
    after: Vec<(usize, Seqno)>,
    /// Its bytes of the in-flight budget (none for the dispatcher's own
    /// position events), given back once it is applied.
    ticket: Option<Ticket>,
}

impl Work {
    fn alone(event: ReplEvent) -> Work {
        Work {
            event,
            after: Vec::new(),
            ticket: None,
        }
    }
}

/// What every channel publishes for the others: its committed seqno, the
/// highest seqno another channel waits for it to commit (it commits as soon
/// as it has applied that one, rather than at the end of its block), and
/// whether one of them failed (a channel waiting for another then stops
/// waiting).
struct Board {
    committed: Vec<watch::Sender<Option<Seqno>>>,
    wanted: Vec<AtomicI64>,
    failed: watch::Sender<bool>,
}

impl Board {
    fn new(committed: &[Option<Seqno>]) -> Board {
        Board {
            committed: committed.iter().map(|&s| watch::channel(s).0).collect(),
            wanted: committed.iter().map(|_| AtomicI64::new(-1)).collect(),
            failed: watch::channel(false).0,
        }
    }

    /// Whether another channel waits for `applier`'s channel to commit
    /// what it has applied and not committed.
    fn awaited(&self, channel: usize, applier: &Applier) -> bool {
        let wanted = Seqno(self.wanted[channel].load(Ordering::Acquire));
        wanted.0 >= 0
            && applier.applied_seqno().is_some_and(|a| a >= wanted)
            && applier.last_applied_seqno().is_none_or(|c| c < wanted)
    }

    fn reached(&self, channel: usize, seqno: Seqno) -> bool {
        self.committed[channel].borrow().is_some_and(|c| c >= seqno)
    }

    /// Until every `(channel, seqno)` of `after` is committed; `Err` when
    /// a channel failed first.
    async fn wait(&self, after: &[(usize, Seqno)]) -> Result<(), ApplyStageError> {
        let mut failed = self.failed.subscribe();
        for &(channel, seqno) in after {
            self.wanted[channel].fetch_max(seqno.0, Ordering::AcqRel);
            let mut committed = self.committed[channel].subscribe();
            tokio::select! {
                r = committed.wait_for(|c| c.is_some_and(|c| c >= seqno)) => {
                    r.map_err(|_| ApplyStageError::ChannelEnded)?;
                }
                _ = failed.wait_for(|f| *f) => return Err(ApplyStageError::ChannelEnded),
            }
        }
        Ok(())
    }
}

/// One channel: applies what it is sent, commits when its queue is idle,
/// and reports each committed seqno. Before waiting for another channel it
/// commits what it holds, so that no channel ever waits while holding an
/// uncommitted transaction that another may be waiting for.
async fn channel(
    index: usize,
    mut applier: Applier,
    mut rx: mpsc::Receiver<Work>,
    notices: mpsc::UnboundedSender<Notice>,
    board: Arc<Board>,
    mut expect: Option<AppliedPosition>,
    meter: Arc<StageMeter>,
) -> (Applier, Result<(), ApplyStageError>) {
    let result = async {
        let mut reported = applier.last_applied_seqno();
        loop {
            let deadline = applier.commit_deadline();
            let next = tokio::select! {
                work = rx.recv() => work,
                _ = sleep_until(deadline) => {
                    let started = Instant::now();
                    applier.flush_idle().await?;
                    meter.record(0, started.elapsed());
                    report(index, &applier, &notices, &board, &mut reported);
                    continue;
                }
            };
            let Some(Work { event, after, ticket }) = next else {
                applier.flush().await?;
                report(index, &applier, &notices, &board, &mut reported);
                return Ok(());
            };
            if !after.iter().all(|&(c, s)| board.reached(c, s)) {
                applier.flush().await?;
                report(index, &applier, &notices, &board, &mut reported);
                board.wait(&after).await?;
            }
            check_expected(&mut expect, &event.header)?;
            let started = Instant::now();
            applier.apply(&event).await?;
            drop(ticket);
            let awaited = board.awaited(index, &applier);
            if (rx.is_empty() || awaited) && applier.has_pending() {
                applier.flush_idle().await?;
            }
            meter.record(1, started.elapsed());
            report(index, &applier, &notices, &board, &mut reported);
        }
    }
    .await;
    if result.is_err() {
        board.failed.send_replace(true);
    }
    let _ = notices.send(Notice::Ended);
    (applier, result)
}

fn report(
    index: usize,
    applier: &Applier,
    notices: &mpsc::UnboundedSender<Notice>,
    board: &Board,
    reported: &mut Option<Seqno>,
) {
    let now = applier.last_applied_seqno();
    if now != *reported {
        *reported = now;
        board.committed[index].send_replace(now);
        let _ = notices.send(Notice::Committed {
            channel: index,
            seqno: now,
        });
    }
}

/// What the dispatcher knows of each channel and of the transactions in
/// flight.
struct Ledger {
    /// Per channel: its committed seqno, and the last seqnos of the
    /// transactions sent to it that it has not committed yet.
    committed: Vec<Option<Seqno>>,
    outstanding: Vec<VecDeque<Seqno>>,
    /// Per channel: the latency of its last committed transaction (ms).
    latency_ms: Vec<Option<i64>>,
    /// Transactions dispatched and not yet under the watermark.
    pending: BTreeMap<Seqno, Pending>,
    /// The last transaction dispatched (for aligning the rows).
    last: Option<ReplEvent>,
    /// The watermark reported.
    reported: Option<Seqno>,
    /// The channels' notices.
    notices: mpsc::UnboundedReceiver<Notice>,
    /// The scheduler's counters.
    stats: SchedulerStats,
}

impl Ledger {
    /// Takes a channel's notice; `Err` when the channel ended.
    fn notice(&mut self, notice: Notice, progress: &Progress) -> Result<(), ApplyStageError> {
        let Notice::Committed { channel, seqno } = notice else {
            return Err(ApplyStageError::ChannelEnded);
        };
        self.committed[channel] = seqno;
        if let Some(commit_ms) = seqno.and_then(|s| self.pending.get(&s)).map(Pending::commit_ms) {
            self.latency_ms[channel] = (commit_ms > 0).then(|| (now_ms() - commit_ms).max(0));
        }
        if let Some(s) = seqno {
            let q = &mut self.outstanding[channel];
            while q.front().is_some_and(|&f| f <= s) {
                q.pop_front();
            }
        }
        self.report(progress);
        self.publish(progress);
        Ok(())
    }

    /// Publishes the channels' figures (`status -name tasks`).
    fn publish(&self, progress: &Progress) {
        progress.set_channel_figures(ChannelFigures {
            channels: self
                .committed
                .iter()
                .zip(&self.outstanding)
                .zip(&self.latency_ms)
                .map(|((committed, q), latency_ms)| ChannelFigure {
                    committed: *committed,
                    queued: q.len(),
                    latency_ms: *latency_ms,
                })
                .collect(),
            barriers: self.stats.barriers,
            waits: self.stats.waits,
            overflows: self.stats.overflows,
        });
    }

    /// A channel that has committed all it was given and whose row is
    /// behind the last transaction dispatched, if any.
    fn behind(&self) -> Option<usize> {
        let last = self.last.as_ref()?;
        let end = last.header.seqno_end.max(last.header.seqno);
        (0..self.committed.len()).find(|&c| self.outstanding[c].is_empty() && self.committed[c].is_none_or(|s| s < end))
    }

    fn drained(&self) -> bool {
        self.outstanding.iter().all(VecDeque::is_empty)
    }

    /// Every transaction at or below it is committed: below the first
    /// outstanding one of any channel, else the last dispatched.
    fn watermark(&self) -> Option<Seqno> {
        let first_outstanding = self.outstanding.iter().filter_map(|q| q.front()).min();
        match first_outstanding {
            Some(&f) => f.prev(),
            None => self
                .last
                .as_ref()
                .map(|e| e.header.seqno_end.max(e.header.seqno))
                .or_else(|| self.committed.iter().flatten().min().copied()),
        }
    }

    /// Publishes the watermark and the transactions under it.
    fn report(&mut self, progress: &Progress) {
        let Some(w) = self.watermark() else { return };
        if self.reported == Some(w) {
            return;
        }
        self.reported = Some(w);
        if let Some((event_id, source_ms, extract_ms)) = take_committed(&mut self.pending, w, progress) {
            progress.applied(w, &event_id, source_ms, extract_ms);
        }
    }
}

/// One pass of parallel apply: starts a task per channel, dispatches the
/// THL's events from `rx` until stopped, the offline point, or an error.
/// Returns the appliers (to retry with) and the outcome.
pub(super) async fn apply_in_parallel(
    appliers: Vec<Applier>,
    rx: &mut mpsc::Receiver<Fed>,
    stop: &mut watch::Receiver<bool>,
    progress: &Progress,
    skip: &SkipSeqnos,
    scheduler: ApplyScheduler,
) -> (Vec<Applier>, Result<(), ApplyStageError>) {
    let n = appliers.len();
    let (notice_tx, notices) = mpsc::unbounded_channel();
    let mut routing = match (scheduler, appliers.first()) {
        (ApplyScheduler::Key, Some(a)) => {
            Routing::Key(Box::new(KeyScheduler::new(a.target_opts(), &a.config().service, n)))
        }
        _ => Routing::Shard,
    };
    let mut senders = Vec::with_capacity(n);
    let mut tasks = tokio::task::JoinSet::new();
    let mut ledger = Ledger {
        committed: appliers.iter().map(Applier::last_applied_seqno).collect(),
        outstanding: vec![VecDeque::new(); n],
        latency_ms: vec![None; n],
        pending: BTreeMap::new(),
        last: None,
        reported: None,
        notices,
        stats: SchedulerStats::default(),
    };
    ledger.publish(progress);
    let board = Arc::new(Board::new(&ledger.committed));
    if let Some(low) = appliers
        .iter()
        .filter_map(Applier::last_applied)
        .min_by_key(|p| p.seqno)
    {
        progress.applied(low.seqno, &low.event_id, 0, 0);
        ledger.reported = Some(low.seqno);
    }
    for (index, mut applier) in appliers.into_iter().enumerate() {
        // An XA transaction runs alone: its completion comes only after its
        // prepare is committed, never next on the session that prepared it.
        applier.set_xa_hold(XaHold::Never);
        let (tx, channel_rx) = mpsc::channel(CHANNEL_EVENTS);
        senders.push(tx);
        let expect = applier.last_applied().filter(|p| p.last_frag);
        tasks.spawn(channel(
            index,
            applier,
            channel_rx,
            notice_tx.clone(),
            board.clone(),
            expect,
            progress.shared_meter(Stage::Apply),
        ));
    }
    drop(notice_tx);
    let outcome = dispatch(&senders, rx, stop, progress, skip, &mut ledger, &mut routing).await;
    info!(
        barriers = ledger.stats.barriers,
        waits = ledger.stats.waits,
        overflows = ledger.stats.overflows,
        "parallel apply: pass ended"
    );
    if let Ok(true) = outcome {
        // Between transactions: every row to the last one dispatched (module doc).
        align(&senders, &mut ledger, progress).await;
    }
    if outcome.is_err() {
        // No channel waits for another any more.
        board.failed.send_replace(true);
    }
    drop(senders);
    finish(tasks, outcome.map(|_| ())).await
}

/// Waits for the channel tasks and puts their appliers back in channel
/// order. The first error wins; a channel's own error replaces the
/// dispatcher's "a channel ended" that it caused.
async fn finish(
    mut tasks: tokio::task::JoinSet<(Applier, Result<(), ApplyStageError>)>,
    mut outcome: Result<(), ApplyStageError>,
) -> (Vec<Applier>, Result<(), ApplyStageError>) {
    let mut appliers = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((applier, result)) => {
                if let (Ok(()) | Err(ApplyStageError::ChannelEnded), Err(e)) = (&outcome, result) {
                    outcome = Err(e);
                }
                appliers.push(applier);
            }
            Err(e) => {
                if matches!(outcome, Ok(()) | Err(ApplyStageError::ChannelEnded)) {
                    outcome = Err(ApplyStageError::Reader(format!("an apply channel failed: {e}")));
                }
            }
        }
    }
    appliers.sort_by_key(|a| a.config().channel);
    (appliers, outcome)
}

/// How the dispatcher places transactions.
enum Routing {
    /// By shard (the database): Tungsten's `disk` and `memory`.
    Shard,
    /// By the keys of the rows (`scheduler.rs`).
    Key(Box<KeyScheduler>),
}

/// Routes events to the channels until the input ends, `stop`, or the
/// offline point; barriers wait for every channel (module doc). `Ok(true)`
/// when it stopped between transactions (the rows may be aligned).
async fn dispatch(
    senders: &[mpsc::Sender<Work>],
    rx: &mut mpsc::Receiver<Fed>,
    stop: &mut watch::Receiver<bool>,
    progress: &Progress,
    skip: &SkipSeqnos,
    ledger: &mut Ledger,
    routing: &mut Routing,
) -> Result<bool, ApplyStageError> {
    let channels = senders.len() as u32;
    // The channel of the transaction whose fragments are arriving.
    let mut open: Option<usize> = None;
    // The header of the transaction's first fragment, until its last.
    let mut first_fragment: Option<thl::event::EventHeader> = None;
    let mut since_sync = 0u64;
    let mut last_sync = tokio::time::Instant::now();
    loop {
        let sync_owed = open.is_none() && ledger.behind().is_some();
        let next = tokio::select! {
            ev = rx.recv() => ev,
            Some(n) = ledger.notices.recv() => {
                ledger.notice(n, progress)?;
                continue;
            }
            _ = tokio::time::sleep_until(last_sync + SYNC_PAUSE), if sync_owed => {
                sync_idle(senders, ledger).await?;
                since_sync = 0;
                last_sync = tokio::time::Instant::now();
                continue;
            }
            _ = stop.changed() => return Ok(open.is_none()),
        };
        let Some(Fed { event, ticket }) = next else {
            return Ok(open.is_none());
        };
        let h = &event.header;
        if h.fragno == 0 && progress.stop_after().is_some_and(|n| h.seqno > n) {
            info!(seqno = %h.seqno, "stopping before this transaction, at the requested offline point");
            return Ok(true);
        }
        let mut barrier = match routing {
            Routing::Shard => needs_barrier(&event),
            // Rows of several databases: their keys tell.
            Routing::Key(_) => alone_whatever_keys(&event),
        };
        let mut after = Vec::new();
        let target = match (open, &mut *routing) {
            (Some(c), _) => c,
            (None, Routing::Shard) if barrier => 0,
            (None, Routing::Shard) => channel_of(&event.header.shard_id, channels) as usize,
            // Statements on one connection, with the temporary tables of
            // the source sessions they create.
            (None, Routing::Key(_)) if barrier => 0,
            (None, Routing::Key(k)) => {
                let first_rows = event.body.changes.iter().find_map(|c| match c {
                    Change::Rows(rc) => Some(rc),
                    Change::Statement(_) => None,
                });
                let target = route(first_rows, &event.header.shard_id, channels) as usize;
                let keys = if barrier { None } else { k.keys(&event).await };
                match keys {
                    None => barrier = true,
                    Some(keys) => {
                        let h = &event.header;
                        let me = Writer {
                            seqno: h.seqno_end.max(h.seqno),
                            channel: target,
                        };
                        after = k.history.depend(&keys, me);
                        after.retain(|&(c, s)| ledger.committed[c].is_none_or(|done| done < s));
                        ledger.stats.waits += u64::from(!after.is_empty());
                        tracing::debug!(seqno = %me.seqno, channel = target, ?after, keys = keys.len(), "dispatched by key");
                    }
                }
                target
            }
        };
        if open.is_none() && barrier {
            ledger.stats.barriers += 1;
            if !wait_drained(ledger, progress, stop).await? {
                return Ok(true);
            }
        }
        let h = &event.header;
        let last = h.seqno_end.max(h.seqno);
        let ends = h.last_frag;
        if ledger.committed[target].is_none_or(|c| last > c) {
            ledger.pending.insert(last, Pending::of(h));
            if ends {
                ledger.outstanding[target].push_back(last);
            }
        }
        let event = skipped_or_whole(event, skip);
        if event.header.fragno == 0 {
            first_fragment = Some(event.header.clone());
        }
        if ends {
            // What an idle channel's row moves to: the whole transaction,
            // named by its first fragment (the event a restart checks the
            // row against), never a later fragment alone, which an applier
            // would take as the middle of a transaction.
            let mut header = first_fragment.take().unwrap_or_else(|| event.header.clone());
            header.last_frag = true;
            ledger.last = Some(ReplEvent {
                header,
                body: thl::event::EventBody::default(),
            });
        }
        let statement = barrier && event.body.changes.iter().any(|c| matches!(c, Change::Statement(_)));
        senders[target]
            .send(Work {
                event,
                after,
                ticket: Some(ticket),
            })
            .await
            .map_err(|_| ApplyStageError::ChannelEnded)?;
        open = (!ends).then_some(target);
        if ends && barrier && !wait_drained(ledger, progress, stop).await? {
            return Ok(true);
        }
        if let Routing::Key(k) = routing {
            if ends && barrier {
                // Everything is committed: nothing to wait for, and a
                // statement may have changed a key.
                k.history.clear();
                if statement {
                    k.forget_tables();
                }
            } else if k.history.entries() > HISTORY_CAP {
                k.history.forget_committed(&ledger.committed);
                if k.history.entries() > HISTORY_CAP / 2 {
                    ledger.stats.overflows += 1;
                    if !wait_drained(ledger, progress, stop).await? {
                        return Ok(true);
                    }
                    k.history.clear();
                }
            }
        }
        since_sync += u64::from(ends);
        if open.is_none() && since_sync >= SYNC_EVERY {
            sync_idle(senders, ledger).await?;
            since_sync = 0;
            last_sync = tokio::time::Instant::now();
        }
    }
}

/// Takes commit notices until every channel has committed what it was
/// given: `Ok(true)`; `Ok(false)` on `stop`; `Err` when a channel ended
/// (its error is collected by [`finish`]).
async fn wait_drained(
    ledger: &mut Ledger,
    progress: &Progress,
    stop: &mut watch::Receiver<bool>,
) -> Result<bool, ApplyStageError> {
    while !ledger.drained() {
        tokio::select! {
            notice = ledger.notices.recv() => match notice {
                Some(n) => ledger.notice(n, progress)?,
                None => return Err(ApplyStageError::ChannelEnded),
            },
            _ = stop.changed() => return Ok(false),
        }
    }
    Ok(true)
}

/// Moves the row of every channel that has committed all it was given and
/// is behind the last transaction dispatched to that transaction (module
/// doc), by sending it without its changes.
async fn sync_idle(senders: &[mpsc::Sender<Work>], ledger: &mut Ledger) -> Result<(), ApplyStageError> {
    let Some(last) = ledger.last.clone() else { return Ok(()) };
    let end = last.header.seqno_end.max(last.header.seqno);
    while let Some(c) = ledger.behind() {
        ledger.outstanding[c].push_back(end);
        senders[c]
            .send(Work::alone(last.clone()))
            .await
            .map_err(|_| ApplyStageError::ChannelEnded)?;
    }
    Ok(())
}

/// After a clean stop: waits until everything dispatched is committed, then
/// moves every row behind the last transaction there ([`sync_idle`]) and
/// waits for those commits. A channel that fails meanwhile ends the
/// alignment; its error is reported by [`finish`].
async fn align(senders: &[mpsc::Sender<Work>], ledger: &mut Ledger, progress: &Progress) {
    let (_keep, mut never) = watch::channel(false);
    if matches!(wait_drained(ledger, progress, &mut never).await, Ok(true)) && sync_idle(senders, ledger).await.is_ok()
    {
        let _ = wait_drained(ledger, progress, &mut never).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::{EventBody, EventHeader, RowAction, RowChanges, RowFlags, SessionVars, Statement};

    #[test]
    fn a_shard_always_goes_to_the_same_channel_and_shards_spread() {
        assert_eq!(channel_of("shop", 4), channel_of("shop", 4));
        assert_eq!(channel_of("anything", 1), 0);
        let used: std::collections::HashSet<u32> = (0..64).map(|i| channel_of(&format!("db{i}"), 4)).collect();
        assert_eq!(used.len(), 4, "64 databases use every one of 4 channels");
    }

    #[test]
    fn a_channel_count_changes_only_when_every_row_names_one_seqno() {
        let s = |n| Some(Seqno(n));
        // Same count: fine, nothing to forget.
        let shard = ApplyScheduler::Shard;
        assert_eq!(check_channel_rows(&[(0, s(5)), (1, s(9))], 2, None, shard), Ok(false));
        // A fresh target (one row), any count.
        assert_eq!(
            check_channel_rows(&[(0, None)], 4, None, ApplyScheduler::Key),
            Ok(false)
        );
        // Down from 3 to 1 after a clean offline: forget rows 1 and 2.
        assert_eq!(
            check_channel_rows(&[(0, s(7)), (1, s(7)), (2, s(7))], 1, Some("shard"), shard),
            Ok(true)
        );
        // Up from 2 to 4 after a clean offline.
        assert_eq!(check_channel_rows(&[(0, s(7)), (1, s(7))], 4, None, shard), Ok(false));
        // Rows at different seqnos: refused, naming them.
        let e = check_channel_rows(&[(0, s(7)), (1, s(3))], 4, None, shard)
            .err()
            .unwrap_or_default();
        assert!(e.contains("0: 7, 1: 3") && e.contains("clean offline"), "{e}");
        // Same count, another scheduler, rows apart: refused too.
        let e = check_channel_rows(&[(0, s(7)), (1, s(3))], 2, Some("shard"), ApplyScheduler::Key)
            .err()
            .unwrap_or_default();
        assert!(e.contains("routed by shard") && e.contains("routed by key2"), "{e}");
        // ... and allowed once the rows name one seqno.
        assert_eq!(
            check_channel_rows(&[(0, s(7)), (1, s(7))], 2, Some("shard"), ApplyScheduler::Key),
            Ok(false)
        );
        // The routing by key of an earlier version is another routing.
        let e = check_channel_rows(&[(0, s(7)), (1, s(3))], 2, Some("key"), ApplyScheduler::Key)
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("by key,") && e.contains("the replicator version that wrote them"),
            "{e}"
        );
        assert_eq!(
            check_channel_rows(&[(0, s(7)), (1, s(7))], 2, Some("key"), ApplyScheduler::Key),
            Ok(false)
        );
    }

    #[test]
    fn only_whole_row_changes_of_one_database_run_side_by_side() {
        let h = EventHeader {
            seqno: Seqno(3),
            seqno_end: Seqno(3),
            fragno: 0,
            last_frag: true,
            epoch: thl::seqno::Epoch(0),
            source_id: "db1".into(),
            event_id: "mysql-bin.000001:0000000000000100;1".into(),
            shard_id: "shop".into(),
            source_tstamp_ms: 0,
            extract_tstamp_ms: 0,
        };
        let rows = ReplEvent {
            header: h.clone(),
            body: EventBody {
                changes: vec![Change::Rows(RowChanges {
                    schema: "shop".into(),
                    table: "t".into(),
                    action: RowAction::Insert,
                    columns: vec![],
                    before_columns: vec![],
                    after_columns: vec![],
                    flags: RowFlags::default(),
                    rows: vec![],
                })],
                ..EventBody::default()
            },
        };
        assert!(!needs_barrier(&rows));
        let with = |f: &dyn Fn(&mut ReplEvent)| {
            let mut ev = rows.clone();
            f(&mut ev);
            needs_barrier(&ev)
        };
        assert!(with(&|e| e.header.last_frag = false), "the first fragment of several");
        assert!(with(&|e| e.header.fragno = 2), "the last fragment");
        assert!(with(&|e| e.header.shard_id = SHARD_UNKNOWN.into()), "several databases");
        assert!(
            with(&|e| e.body.changes.push(Change::Statement(Statement {
                default_db: Some("mtr".into()),
                sql: b"DROP TABLE test.t1".to_vec(),
                session: SessionVars::default(),
                error_code: 0,
                infile: None,
            }))),
            "a statement may name any database"
        );
    }
}

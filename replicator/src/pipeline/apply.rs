//! The apply stage: local THL → target database, exactly once.
//!
//! # Invariants
//!
//! * The target's `trep_commit_seqno` row is the position: the stage reads
//!   the THL from the applier's committed position, so after any crash,
//!   reconnect or error it re-feeds exactly what the target has not
//!   committed (the applier skips anything it already covers).
//! * **One history.** The THL's event at the committed seqno, when the THL
//!   holds it (or will: an empty or shorter THL is waited for), must carry
//!   the committed epoch and event id; otherwise the THL is another history
//!   (`reset -thl`, an upstream replaced) and the stage stops before
//!   applying anything ([`ApplyStageError::Diverged`]), where it would have
//!   skipped the new history's seqnos up to the old position.
//! * `online -until-seqno N` and `offline-deferred -at-seqno N`: nothing
//!   after N is applied ([`Progress::stop_after`]).
//! * Only durable THL records are applied (the reader is restricted to the
//!   writer's durable watermark).
//! * A block is committed when the THL has nothing more to give at once, so
//!   an idle slave applies each transaction promptly and a backlog is
//!   applied in blocks (`block_commit_size`, `block_commit_interval`).
//! * Transient target errors (lost connection, deadlock, read-only) retry
//!   with backoff from the committed position; definite ones stop the stage
//!   with the seqno and SQL.
//! * **A stage that cannot progress says so.** While retrying, the last
//!   error, its seqno and the attempt count are in the progress
//!   (`applyRetryError` of `trepctl status`), cleared once a transaction
//!   commits. The same server error at the same seqno `Retry::limit`'s
//!   `max_attempts` times in a row, or for its `max_elapsed`, stops the stage with a
//!   definite error (OFFLINE:ERROR) naming the error, the seqno and the
//!   statement. Errors without a server code (the target unreachable) keep
//!   retrying, visibly.
//!
//! A blocking thread reads and decodes the THL (mmap + condvar wakeups) and
//! hands events to the async apply loop through a bounded channel.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use thl::event::ReplEvent;
use thl::seqno::Seqno;
use thl::store::{Reader, StoreError};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::progress::{commit_time_ms, Progress, ShardTxn, Stage};
use super::skip::SkipSeqnos;
use crate::applier::{AppliedPosition, Applier, ApplyError};
use crate::budget::{Budget, Ticket, IN_FLIGHT_BYTES};
use crate::config::model::ApplyScheduler;
use crate::retry::{Backoff, Limit, Policy, Streak};

/// Events in flight between the THL reader thread and the applier (and
/// at most [`IN_FLIGHT_BYTES`] of THL: `budget.rs` in the crate root).
pub(super) const CHANNEL_EVENTS: usize = 512;
/// How long the reader thread waits for new records before checking stop.
const TAIL_WAIT: Duration = Duration::from_millis(200);

/// Why the apply stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyStageError {
    #[error("{0}")]
    Apply(#[from] ApplyError),
    #[error("reading the local THL: {0}")]
    Store(#[from] StoreError),
    #[error("the THL reader thread failed: {0}")]
    Reader(String),
    /// The target's committed position is not the THL's event at that seqno.
    #[error("{0}")]
    Diverged(String),
    /// The target's channel rows do not allow this channel count.
    #[error("{0}")]
    Channels(String),
    /// An apply channel ended before the dispatcher (`channels.rs`): its
    /// own error, collected when the channels are joined, takes this
    /// one's place.
    #[error("an apply channel ended")]
    ChannelEnded,
}

impl ApplyStageError {
    pub fn is_transient(&self) -> bool {
        match self {
            ApplyStageError::Apply(e) => e.is_transient(),
            ApplyStageError::Store(e) => e.is_transient(),
            ApplyStageError::Reader(_) | ApplyStageError::Diverged(_) | ApplyStageError::Channels(_) => false,
            ApplyStageError::ChannelEnded => true,
        }
    }
}

/// Backoff bounds for transient target errors, and when to give up
/// (`crate::retry`).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub backoff: Policy,
    /// Identical failures (same seqno, same server error) before the stage
    /// stops in error, and for how long at most.
    pub limit: Limit,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            backoff: Policy::PIPELINE,
            limit: Limit {
                max_attempts: 10,
                max_elapsed: Duration::from_secs(600),
            },
        }
    }
}

/// InnoDB's deadlock error: the target rolled the transaction back.
const ER_LOCK_DEADLOCK: u16 = 1213;

/// What makes two apply failures identical: the seqno and the server's
/// error code. `None` without a server code (the target did not answer:
/// not counted).
fn streak_key(e: &ApplyError) -> Option<(Option<Seqno>, u16)> {
    Some((e.seqno(), e.code()?))
}

/// Applies the THL behind `reader` with `appliers` (one per channel, in
/// channel order; more than one applies by shard: `channels.rs`) until
/// `stop` turns true (then commits what is pending and returns `Ok`) or a
/// definite error. Transactions in `skip` (`trepctl online -skip-seqno`)
/// only move the position: their changes are not applied.
pub async fn run_apply_stage(
    reader: Reader,
    mut appliers: Vec<Applier>,
    mut stop: watch::Receiver<bool>,
    progress: Progress,
    retry: Retry,
    skip: SkipSeqnos,
    scheduler: ApplyScheduler,
) -> Result<(), ApplyStageError> {
    if appliers.is_empty() {
        return Err(ApplyStageError::Reader("no apply channel".into()));
    }
    let mut backoff = Backoff::new(retry.backoff);
    let mut streak: Option<Streak<(Option<Seqno>, u16)>> = None;
    loop {
        let applied_before = progress.snapshot().applied_count;
        let outcome = if appliers.len() == 1 {
            apply_from_position(&reader, &mut appliers[0], &mut stop, &progress, &skip).await
        } else {
            let channels = appliers.len();
            let (back, outcome) = parallel_pass(
                &reader,
                std::mem::take(&mut appliers),
                &mut stop,
                &progress,
                &skip,
                scheduler,
            )
            .await;
            appliers = back;
            if appliers.len() != channels {
                // A channel task failed and took its applier: the pipeline
                // starts again (the service relaunches it).
                return outcome.and(Err(ApplyStageError::Reader("an apply channel was lost".into())));
            }
            outcome
        };
        if progress.snapshot().applied_count > applied_before {
            // It made progress: a fresh failure, not a failing retry.
            backoff.reset();
            streak = None;
        }
        match outcome {
            Ok(()) => {
                progress.apply_retry(None);
                return Ok(());
            }
            Err(ApplyStageError::Apply(e)) if e.is_transient() => {
                if let Some(key) = streak_key(&e) {
                    let (attempts, elapsed) = Streak::count(&mut streak, key);
                    if retry.limit.reached(attempts, elapsed) {
                        progress.apply_retry(None);
                        return Err(ApplyStageError::Apply(e.gave_up(attempts, elapsed)));
                    }
                }
                let attempts = Streak::attempts(&streak).max(1);
                progress.apply_retried(e.code() == Some(ER_LOCK_DEADLOCK));
                let delay = backoff.next_delay();
                warn!(error = %e, attempt = attempts, retry_in_ms = delay.as_millis() as u64, "apply interrupted; retrying from the committed position");
                progress.apply_retry(Some(format!("attempt {attempts}: {e}")));
                progress.connecting(&progress.snapshot().pipeline_source, Some(e.to_string()));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return Ok(()),
                }
                for applier in &mut appliers {
                    let reconnected = tokio::select! {
                        r = applier.reconnect() => r,
                        _ = stop.changed() => return Ok(()),
                    };
                    match reconnected {
                        Ok(()) => {}
                        Err(e) if e.is_transient() => break,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) if e.is_transient() => {
                progress.apply_retried(false);
                let delay = backoff.next_delay();
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "apply interrupted; retrying from the committed position");
                progress.apply_retry(Some(e.to_string()));
                progress.connecting(&progress.snapshot().pipeline_source, Some(e.to_string()));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => return Ok(()),
                }
            }
            Err(e) => {
                progress.apply_retry(None);
                return Err(e);
            }
        }
    }
}

/// One pass of parallel apply: the THL from the lowest channel's committed
/// transaction (each channel checks its own against it, and skips what its
/// row covers), dispatched by shard (`channels.rs`).
async fn parallel_pass(
    reader: &Reader,
    appliers: Vec<Applier>,
    stop: &mut watch::Receiver<bool>,
    progress: &Progress,
    skip: &SkipSeqnos,
    scheduler: ApplyScheduler,
) -> (Vec<Applier>, Result<(), ApplyStageError>) {
    let committed: Vec<Option<Seqno>> = appliers.iter().map(Applier::last_applied_seqno).collect();
    let min = match reader.min_seqno() {
        Ok(m) => m,
        Err(e) => return (appliers, Err(e.into())),
    };
    let lowest = committed.iter().copied().min().flatten();
    let from = match (committed.iter().all(Option::is_some), lowest) {
        (true, Some(low)) if min.is_none_or(|m| m <= low) => low,
        _ => min.unwrap_or(Seqno::FIRST),
    };
    let from_committed = committed.iter().all(Option::is_some);
    info!(%from, channels = appliers.len(), ?scheduler, "applying the THL in parallel");
    let mut feed = Feed::start(reader, from, from_committed);
    let (appliers, result) =
        super::channels::apply_in_parallel(appliers, &mut feed.rx, stop, progress, skip, scheduler).await;
    let read_result = feed.stop().await;
    (appliers, result.and(read_result))
}

/// An event read from the THL, with the bytes it holds of the in-flight
/// budget until it has been applied (dropped).
pub(super) struct Fed {
    pub event: ReplEvent,
    pub ticket: Ticket,
}

/// A pass's THL reader thread and the events it sends ([`read_thl`]).
struct Feed {
    rx: mpsc::Receiver<Fed>,
    budget: Budget,
    halt: Arc<AtomicBool>,
    thread: tokio::task::JoinHandle<Result<(), ApplyStageError>>,
}

impl Feed {
    fn start(reader: &Reader, from: Seqno, from_committed: bool) -> Feed {
        let (tx, rx) = mpsc::channel::<Fed>(CHANNEL_EVENTS);
        let budget = Budget::new(IN_FLIGHT_BYTES);
        let halt = Arc::new(AtomicBool::new(false));
        let thread = {
            let reader = reader.clone();
            let halt = halt.clone();
            let budget = budget.clone();
            tokio::task::spawn_blocking(move || read_thl(&reader, from, from_committed, &tx, &budget, &halt))
        };
        Feed {
            rx,
            budget,
            halt,
            thread,
        }
    }

    /// Stops the thread and returns how its reading ended.
    async fn stop(self) -> Result<(), ApplyStageError> {
        self.halt.store(true, Ordering::Relaxed);
        self.budget.close();
        drop(self.rx);
        self.thread
            .await
            .unwrap_or_else(|e| Err(ApplyStageError::Reader(e.to_string())))
    }
}

/// One pass: read from the applier's committed position and apply until
/// stopped or an error.
async fn apply_from_position(
    reader: &Reader,
    applier: &mut Applier,
    stop: &mut watch::Receiver<bool>,
    progress: &Progress,
    skip: &SkipSeqnos,
) -> Result<(), ApplyStageError> {
    // Committed positions end transactions (the applier never commits
    // between fragments); a position inside one would restart at its seqno.
    let committed = applier.last_applied();
    let from = committed
        .as_ref()
        .map_or(Seqno::FIRST, |p| if p.last_frag { p.seqno.next() } else { p.seqno });
    let min = reader.min_seqno()?;
    let from = match min {
        Some(min) if from < min && committed.is_none() => min,
        _ => from,
    };
    // Read from the committed transaction itself when the THL still holds
    // it (or will: it is empty or shorter): it must be the one the target
    // applied, or the THL is another history (module doc).
    let expect = committed.filter(|p| p.last_frag && min.is_none_or(|m| m <= p.seqno));
    let from = expect.as_ref().map_or(from, |p| p.seqno);
    info!(%from, "applying the THL");
    let mut feed = Feed::start(reader, from, expect.is_some());
    let result = apply_events(applier, &mut feed.rx, stop, progress, skip, expect).await;
    let read_result = feed.stop().await;
    result.and(read_result)
}

async fn apply_events(
    applier: &mut Applier,
    rx: &mut mpsc::Receiver<Fed>,
    stop: &mut watch::Receiver<bool>,
    progress: &Progress,
    skip: &SkipSeqnos,
    mut expect: Option<AppliedPosition>,
) -> Result<(), ApplyStageError> {
    let mut times = Times::default();
    report(applier, progress, &mut times);
    loop {
        let deadline = applier.commit_deadline();
        let next = tokio::select! {
            ev = rx.recv() => ev,
            _ = stop.changed() => {
                applier.flush().await?;
                report(applier, progress, &mut times);
                return Ok(());
            }
            _ = sleep_until(deadline) => {
                let started = std::time::Instant::now();
                applier.flush_idle().await?;
                progress.meter(Stage::Apply).record(0, started.elapsed());
                report(applier, progress, &mut times);
                continue;
            }
        };
        let Some(Fed { event, ticket }) = next else {
            // The reader thread ended (stop or error): commit what we have.
            applier.flush().await?;
            report(applier, progress, &mut times);
            return Ok(());
        };
        let h = &event.header;
        check_expected(&mut expect, h)?;
        // `online -until-seqno N`, `offline-deferred -at-seqno N`: nothing
        // after N is applied; the service goes offline at N's boundary.
        if h.fragno == 0 && progress.stop_after().is_some_and(|n| h.seqno > n) {
            info!(
                seqno = %h.seqno,
                "stopping before this transaction, at the requested offline point"
            );
            applier.flush().await?;
            report(applier, progress, &mut times);
            return Ok(());
        }
        let last = h.seqno_end.max(h.seqno);
        if applier.last_applied_seqno().is_none_or(|committed| last > committed) {
            // Not what the target committed before (read again to check it).
            times.pending.insert(last, Pending::of(h));
        }
        let started = std::time::Instant::now();
        applier.apply(&skipped_or_whole(event, skip)).await?;
        drop(ticket);
        if rx.is_empty() && applier.has_pending() {
            applier.flush_idle().await?;
        }
        progress.meter(Stage::Apply).record(1, started.elapsed());
        report(applier, progress, &mut times);
    }
}

/// The event, or for a transaction in `skip` (`online -skip-seqno`) the
/// event without its changes: it only moves the position.
pub(super) fn skipped_or_whole(event: ReplEvent, skip: &SkipSeqnos) -> ReplEvent {
    if !skip.contains(event.header.seqno) {
        return event;
    }
    let h = &event.header;
    warn!(seqno = %h.seqno, fragno = h.fragno, event_id = %h.event_id, "skipping the transaction as asked (-skip-seqno)");
    ReplEvent {
        header: event.header,
        body: thl::event::EventBody::default(),
    }
}

/// Checks `h` against the committed position still `expect`ed (the first
/// events read start at the committed transaction itself); the check is
/// done once, at that transaction, or given up when the THL goes past it.
pub(super) fn check_expected(
    expect: &mut Option<AppliedPosition>,
    h: &thl::event::EventHeader,
) -> Result<(), ApplyStageError> {
    if let Some(p) = expect {
        if h.seqno > p.seqno {
            *expect = None;
        } else if h.seqno_end.max(h.seqno) >= p.seqno && h.fragno == p.fragno {
            check_history(p, h)?;
            *expect = None;
        }
    }
    Ok(())
}

/// The THL's event at the target's committed seqno must be the one the
/// target applied: same epoch and event id. Otherwise the THL was reset or
/// its upstream replaced by another history, and applying on from the
/// committed seqno would skip or mix transactions of the new one.
fn check_history(committed: &AppliedPosition, h: &thl::event::EventHeader) -> Result<(), ApplyStageError> {
    if h.epoch == committed.epoch && h.event_id == committed.event_id {
        return Ok(());
    }
    Err(ApplyStageError::Diverged(format!(
        "the target's committed position is seqno {} (epoch {}, event id {}, from {}), but this THL's seqno {} is \
         epoch {}, event id {} (from {}): the THL holds another history than the one the target applied (a \
         `reset -thl`, or an upstream with another history). Nothing was applied. Reprovision this host from a \
         replica of the current history (its data follows the other one); `trepctl reset -db` forgets the \
         position, for a target whose data is known to be the new history's start",
        committed.seqno,
        committed.epoch,
        committed.event_id,
        committed.source_id,
        h.seqno,
        h.epoch,
        h.event_id,
        h.source_id
    )))
}

/// Transactions applied but not yet reported (by their last seqno), and
/// the last seqno reported.
#[derive(Default)]
struct Times {
    pending: BTreeMap<Seqno, Pending>,
    reported: Option<Seqno>,
}

/// What the progress reports of a transaction once it is committed.
pub(super) struct Pending {
    txn: ShardTxn,
    extract_tstamp_ms: i64,
}

impl Pending {
    /// The transaction's source commit time ([`commit_time_ms`]; 0: unknown).
    pub(super) fn commit_ms(&self) -> i64 {
        self.txn.source_tstamp_ms
    }

    pub(super) fn of(h: &thl::event::EventHeader) -> Pending {
        Pending {
            txn: ShardTxn {
                shard: h.shard_id.clone(),
                seqno: h.seqno_end.max(h.seqno),
                event_id: h.event_id.clone(),
                source_tstamp_ms: commit_time_ms(h.source_tstamp_ms, h.extract_tstamp_ms),
            },
            extract_tstamp_ms: h.extract_tstamp_ms,
        }
    }
}

/// Takes the transactions at or below `upto` out of `pending` and reports
/// each under its shard; returns the event id and the source and
/// extraction times of `upto`'s own, when it is among them.
pub(super) fn take_committed(
    pending: &mut BTreeMap<Seqno, Pending>,
    upto: Seqno,
    progress: &Progress,
) -> Option<(String, i64, i64)> {
    let later = pending.split_off(&upto.next());
    let done = std::mem::replace(pending, later);
    let last = done
        .get(&upto)
        .map(|p| (p.txn.event_id.clone(), p.txn.source_tstamp_ms, p.extract_tstamp_ms));
    progress.shards_committed(done.into_values().map(|p| p.txn));
    last
}

/// Publishes the committed position (with its event's times) and the
/// transactions it covers, per shard, when it moved.
fn report(applier: &Applier, progress: &Progress, times: &mut Times) {
    let seqno = applier.last_applied_seqno();
    if seqno.is_none() || seqno == times.reported {
        return;
    }
    let Some(pos) = applier.last_applied() else {
        return;
    };
    let (source_ms, extract_ms) =
        take_committed(&mut times.pending, pos.seqno, progress).map_or((0, 0), |(_, s, e)| (s, e));
    times.reported = Some(pos.seqno);
    progress.applied(pos.seqno, &pos.event_id, source_ms, extract_ms);
}

pub(super) async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

/// The reader thread: decodes records from `from` on and sends them.
/// Sends the THL's events from seqno `from` on. `from_committed`: `from` is
/// the target's committed seqno, read only to check it; when the THL (empty
/// when the stage started) begins right after it, reading starts there.
fn read_thl(
    reader: &Reader,
    from: Seqno,
    from_committed: bool,
    tx: &mpsc::Sender<Fed>,
    budget: &Budget,
    halt: &AtomicBool,
) -> Result<(), ApplyStageError> {
    while !reader.wait_for(from, TAIL_WAIT)? {
        if halt.load(Ordering::Relaxed) || tx.is_closed() {
            return Ok(());
        }
    }
    let from = if from_committed && reader.min_seqno()? == Some(from.next()) {
        from.next()
    } else {
        from
    };
    let mut cursor = reader.cursor(from)?;
    loop {
        if halt.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(record) = cursor.next_timeout(TAIL_WAIT)? else {
            if tx.is_closed() {
                return Ok(());
            }
            continue;
        };
        if record.header().seqno_end < from {
            continue;
        }
        // Room first: the decoded event is several times its record.
        let Some(ticket) = budget.take_blocking(record.raw_bytes().len()) else {
            return Ok(());
        };
        let event = record.decode_event()?;
        if tx.blocking_send(Fed { event, ticket }).is_err() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::applier::{Failure, TransientError};
    use thl::seqno::Epoch;

    fn transient(seqno: Seqno, code: Option<u16>) -> ApplyError {
        ApplyError::Transient(Box::new(TransientError(Failure {
            seqno: Some(seqno),
            fragno: 0,
            table: None,
            sql: Some("ALTER TABLE t2 EXCHANGE PARTITION p0 WITH TABLE t1".into()),
            code,
            message: "Lock wait timeout exceeded".into(),
            last_committed: Some(seqno - 1),
        })))
    }

    #[test]
    fn identical_failures_are_counted_and_end_in_a_definite_error() {
        let mut streak = None;
        let mut count = |e: &ApplyError| streak_key(e).map(|k| Streak::count(&mut streak, k).0);
        assert_eq!(count(&transient(Seqno(5), Some(1205))), Some(1));
        assert_eq!(count(&transient(Seqno(5), Some(1205))), Some(2));
        // Another seqno or another error starts again.
        assert_eq!(count(&transient(Seqno(6), Some(1205))), Some(1));
        assert_eq!(count(&transient(Seqno(6), Some(1213))), Some(1));
        // The target not answering is not counted.
        assert_eq!(count(&transient(Seqno(6), None)), None);
        let e = transient(Seqno(6), Some(1205)).gave_up(10, Duration::from_secs(42));
        assert!(!e.is_transient());
        assert_eq!((e.seqno(), e.code()), (Some(Seqno(6)), Some(1205)));
        let text = e.to_string();
        assert!(
            text.contains("10 times") && text.contains("EXCHANGE PARTITION"),
            "{text}"
        );
        assert!(text.contains("trepctl online -skip-seqno 6"), "{text}");
    }

    /// A THL written from seqno `first` on, `n` one-fragment transactions.
    fn thl_from(dir: &std::path::Path, first: i64, n: i64) -> Reader {
        let mut w = thl::store::Writer::open(thl::store::StoreConfig::new(dir)).expect("writer");
        for seqno in first..first + n {
            let event = ReplEvent {
                header: thl::event::EventHeader {
                    seqno: Seqno(seqno),
                    seqno_end: Seqno(seqno),
                    fragno: 0,
                    last_frag: true,
                    epoch: Epoch(first),
                    source_id: "db1".into(),
                    event_id: format!("mysql-bin.000001:{seqno};-1"),
                    shard_id: "s".into(),
                    source_tstamp_ms: 0,
                    extract_tstamp_ms: 0,
                },
                body: thl::event::EventBody::default(),
            };
            w.append_event(&event).expect("append");
        }
        w.commit().expect("commit");
        Reader::open(dir).expect("reader")
    }

    fn read_seqnos(reader: &Reader, from: i64, from_committed: bool) -> Result<Vec<i64>, ApplyStageError> {
        let (tx, mut rx) = mpsc::channel(16);
        let halt = AtomicBool::new(false);
        let reader = reader.clone();
        let budget = Budget::new(IN_FLIGHT_BYTES);
        let handle = std::thread::spawn(move || read_thl(&reader, Seqno(from), from_committed, &tx, &budget, &halt));
        let mut seqnos = Vec::new();
        while seqnos.len() < 3 {
            match rx.blocking_recv() {
                Some(fed) => seqnos.push(fed.event.header.seqno.0),
                None => break,
            }
        }
        drop(rx);
        handle.join().expect("reader thread")?;
        Ok(seqnos)
    }

    #[test]
    fn reading_from_the_committed_seqno_starts_after_it_where_the_thl_begins() {
        let dir = tempfile::tempdir().expect("tmp");
        // Upstream purged up to seqno 4, which the target committed.
        let reader = thl_from(dir.path(), 5, 3);
        assert_eq!(read_seqnos(&reader, 4, true).expect("read"), vec![5, 6, 7]);
        // Another gap is still an error, and so is a seqno not committed.
        assert!(read_seqnos(&reader, 3, true).is_err());
        assert!(read_seqnos(&reader, 4, false).is_err());
        // Where the THL holds the committed seqno, it is read first.
        assert_eq!(read_seqnos(&reader, 5, true).expect("read"), vec![5, 6, 7]);
    }
}

//! `trepctl status`: the status map of a service under Tungsten's property
//! names, and the `-name` variants.
//!
//! Invariants: every value is a string, as Tungsten prints them (scripts
//! such as `tungsten_skip_seqno` read them that way); figures that are not
//! known are `-1` (seqnos, latencies) or `NONE` (ids, errors), never
//! invented. Latencies are seconds with three decimals.
//!
//! The properties of [`status`] and where their values come from (`p.` is
//! the pipeline's [`PipelineProgress`](super::PipelineProgress)):
//!
//! | property | value |
//! |---|---|
//! | `appliedLastSeqno`, `appliedLastEventId` | the last transaction applied to the target (a master: extracted and stored): `p.applied_seqno`, `p.applied_event_id` |
//! | `appliedLatency` | seconds from that transaction's source commit to its apply, the commit dated by the master's extraction time (milliseconds after it when the master keeps up) but no later than the end of the binlog's second (`pipeline::progress::commit_time_ms`; the binlog's own timestamps have a one-second resolution, and MariaDB's microsecond `Q_HRNOW` dates only the start of a statement that read the clock) |
//! | `relativeLatency` | seconds from that transaction's source commit (dated alike) to now |
//! | `applyRetryError` | not Tungsten's: the transient error the apply stage is retrying (`p.apply_retry`; the service stays ONLINE meanwhile) |
//! | `currentEventId` | a master's extractor position, the event id of the last stored transaction; `NONE` on slaves and relays |
//! | `latestEpochNumber` | the epoch of the last stored transaction (`p.stored_epoch`; `-1` where the pipeline does not report it: slaves and relays) |
//! | `minimumStoredSeqNo`, `maximumStoredSeqNo` | the local THL's range, read from its files |
//! | `masterConnectUri` | the upstream THL URIs in force, comma-separated (empty on a master) |
//! | `masterListenUri` | `thl://` (`thls://` with `thl-ssl`) and this service's THL listen address |
//! | `pipelineSource` | where the pipeline reads: the source database (master) or the upstream URI (`p.pipeline_source`); `UNKNOWN` before it connects |
//! | `state`, `transitioningTo`, `timeInStateSeconds` | the [`State`], the state a transition leads to (`ONLINE` while synchronizing, `OFFLINE:NORMAL` while going offline, else empty), seconds in it |
//! | `offlineRequests` | `Offline at sequence number: N` after `offline-deferred -at-seqno N`, else `NONE` |
//! | `pendingError`, `pendingErrorCode`, `pendingErrorEventId`, `pendingErrorSeqno`, `pendingExceptionMessage` | the [`PendingError`](super::PendingError) of OFFLINE:ERROR: first line, short code, event id, seqno, whole message with the fix |
//! | `role`, `serviceName`, `simpleServiceName`, `clusterName` | the role in force and the service (dataservice) name |
//! | `host`, `sourceId`, `dataServerHost` | this host's name (twice), the local database's address |
//! | `rmiPort` | the REST API's port (Tungsten's RMI port has no equivalent) |
//! | `uptimeSeconds`, `currentTimeMillis`, `version`, `useSSLConnection` | process uptime, now, [`version`], `thl-ssl` |
//! | `seqnosBehind` | not Tungsten's: on a slave or relay, the transactions the upstream has (its last seqno, as its THL server announced it) that are not applied here yet; `-1` on a master and before the first connection |
//! | `catchUpEtaSeconds` | not Tungsten's: `seqnosBehind` over the apply stage's recent rate (`-1` while nothing is applied or not known) |
//! | `channels` | apply channels on a slave or relay (`channels`, 4 by key by default; 1 with `svc-parallelization-type=none`), else 1 |
//! | `autoRecoveryEnabled`, `autoRecoveryTotal`, `resourcePrecedence`, `seqnoType`, `serviceType`, `siteName`, `timezone`, `extensions` | fixed: `false`, `0`, `99`, `java.lang.Long`, `local`, `default`, `GMT`, empty (no auto-recovery, Tungsten's values for the rest) |

use control::responses::ServiceSummary;
pub use control::responses::StatusMap;

use thl::seqno::{Epoch, Seqno};

use super::manager::{Manager, Service, ServiceView};
use super::State;
use crate::clock::now_ms;
use crate::config::Role;
use crate::pipeline::progress::Stage;

/// The replicator's version string.
pub fn version() -> String {
    format!("Tungsten Replicator (Rust) {}", env!("CARGO_PKG_VERSION"))
}

/// Seconds from the last applied transaction's source commit (as
/// `pipeline::progress::commit_time_ms` dates it: to the millisecond by the
/// master's extraction time) to its apply.
pub fn applied_latency(v: &ServiceView) -> Option<f64> {
    (v.progress.applied_seqno.is_some() && v.progress.applied_commit_ms > 0)
        .then(|| (v.progress.applied_at_ms - v.progress.applied_commit_ms).max(0) as f64 / 1000.0)
}

/// Seconds from the last applied transaction's source commit to now.
pub fn relative_latency(v: &ServiceView) -> Option<f64> {
    (v.progress.applied_seqno.is_some() && v.progress.applied_commit_ms > 0)
        .then(|| (now_ms() - v.progress.applied_commit_ms).max(0) as f64 / 1000.0)
}

/// The THL's first and last seqno (`-1` when empty or absent).
pub fn thl_range(s: &Service) -> (i64, i64) {
    match thl::store::Reader::open(&s.plan().thl_dir) {
        Ok(r) => (
            Seqno::or_minus_one(r.min_seqno().ok().flatten()),
            Seqno::or_minus_one(r.max_seqno().ok().flatten()),
        ),
        Err(_) => (-1, -1),
    }
}

/// On a slave or relay, the transactions the upstream has that are not
/// applied here: from its last seqno (the THL client's, else the local
/// THL's) to the applied one. `None` on a master or before anything is
/// known.
pub fn seqnos_behind(s: &Service, v: &ServiceView) -> Option<u64> {
    if v.role == Role::Master {
        return None;
    }
    let head = s.progress().upstream_head().max(v.progress.stored_seqno)?;
    let applied = v.progress.applied_seqno.map_or(-1, |a| a.0);
    Some(u64::try_from(head.0 - applied).unwrap_or(0))
}

/// Seconds until `behind` transactions are applied at the apply stage's
/// recent rate (`None` while it applies nothing).
pub fn catch_up_eta(s: &Service, behind: Option<u64>) -> Option<f64> {
    let behind = behind?;
    if behind == 0 {
        return Some(0.0);
    }
    let rate = s.progress().stage_reading(Stage::Apply).recent_rate;
    (rate > 0.0).then(|| behind as f64 / rate)
}

/// The stages a role runs (`trepctl perf`): a master extracts, stores and
/// serves; a slave receives and applies; a relay also serves.
pub fn role_stages(role: Role) -> &'static [Stage] {
    match role {
        Role::Master => &[Stage::Extract, Stage::Store, Stage::Serve],
        Role::Slave => &[Stage::Receive, Stage::Apply],
        Role::Relay => &[Stage::Receive, Stage::Apply, Stage::Serve],
    }
}

/// The work waiting for `stage` (`None`: not measured): binlog events
/// read and not decoded (extract), records the upstream has and this THL
/// not (receive), transactions stored and not applied (apply), records the
/// slowest downstream client has not been sent (serve).
pub fn stage_queue(s: &Service, v: &ServiceView, stage: Stage) -> Option<u64> {
    let stored = v.progress.stored_seqno.map_or(-1, |x| x.0);
    let gap = |from: i64, to: i64| u64::try_from(to - from).unwrap_or(0);
    match stage {
        Stage::Extract => s.progress().stage_reading(stage).queue,
        Stage::Store => None,
        Stage::Receive => s.progress().upstream_head().map(|h| gap(stored, h.0)),
        Stage::Apply => Some(gap(v.progress.applied_seqno.map_or(-1, |x| x.0), stored)),
        Stage::Serve => s
            .progress()
            .thl_clients()
            .iter()
            .map(|c| gap(c.sent_up_to.map_or(-1, |x| x.0), stored))
            .max(),
    }
}

/// `status -name stages` (`trepctl perf`): per stage of the role, the THL
/// events handled since the replicator started, their rate over the last
/// few seconds, the work time per event and in all, and the queue before
/// the stage. `-1` where a figure is not known.
pub fn stage_figures(s: &Service) -> Vec<StatusMap> {
    let v = s.view();
    role_stages(v.role)
        .iter()
        .map(|&stage| {
            let r = s.progress().stage_reading(stage);
            let mut t = StatusMap::new();
            t.insert("stage".into(), stage.name().into());
            t.insert("eventCount".into(), r.events.to_string());
            t.insert("eventsPerSecond".into(), format!("{:.1}", r.recent_rate));
            t.insert(
                "msPerEvent".into(),
                r.ms_per_event().map_or_else(|| "-1".into(), |ms| format!("{ms:.3}")),
            );
            t.insert("busySeconds".into(), format!("{:.3}", r.busy_seconds));
            t.insert(
                "queue".into(),
                stage_queue(s, &v, stage).map_or(-1, |q| q as i64).to_string(),
            );
            t
        })
        .collect()
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "NONE".into()
    } else {
        s.to_owned()
    }
}

/// The full status map of `s`.
pub fn status(m: &Manager, s: &Service) -> StatusMap {
    let v = s.view();
    let plan = s.plan();
    let p = &v.progress;
    let (min, max) = thl_range(s);
    let scheme = if plan.settings.thl_ssl { "thls" } else { "thl" };
    let lat = |x: Option<f64>| x.map_or_else(|| "-1.0".to_owned(), |l| format!("{l:.3}"));
    let err = v.error.as_ref();
    let transitioning = match v.state {
        State::Synchronizing => "ONLINE",
        State::GoingOffline => "OFFLINE:NORMAL",
        _ => "",
    };
    let offline_requests = match v.offline_at {
        Some(n) => format!("Offline at sequence number: {n}"),
        None => "NONE".into(),
    };
    let mut out = StatusMap::new();
    let mut put = |k: &str, val: String| {
        out.insert(k.to_owned(), val);
    };
    put("appliedLastEventId", or_none(&p.applied_event_id));
    // Not a Tungsten property: the transient error the apply stage is
    // retrying (the service stays ONLINE meanwhile), `NONE` otherwise.
    put(
        "applyRetryError",
        p.apply_retry.clone().unwrap_or_else(|| "NONE".into()),
    );
    put("appliedLastSeqno", Seqno::or_minus_one(p.applied_seqno).to_string());
    put("appliedLatency", lat(applied_latency(&v)));
    put("autoRecoveryEnabled", "false".into());
    put("autoRecoveryTotal", "0".into());
    let channels = match v.role {
        Role::Master => 1,
        Role::Slave | Role::Relay => s.plan().settings.apply_channels,
    };
    put("channels", channels.to_string());
    let behind = seqnos_behind(s, &v);
    put("seqnosBehind", behind.map_or(-1, |b| b as i64).to_string());
    put(
        "catchUpEtaSeconds",
        catch_up_eta(s, behind).map_or_else(|| "-1".into(), |e| format!("{e:.3}")),
    );
    put("clusterName", s.name().to_owned());
    put(
        "currentEventId",
        if v.role == Role::Master && !p.stored_event_id.is_empty() {
            p.stored_event_id.clone()
        } else {
            "NONE".into()
        },
    );
    put("currentTimeMillis", now_ms().to_string());
    put("dataServerHost", plan.db.address.to_string());
    put("extensions", String::new());
    put("host", s.host().to_owned());
    put("latestEpochNumber", Epoch::or_minus_one(p.stored_epoch).to_string());
    put("masterConnectUri", v.upstream.join(","));
    put("masterListenUri", format!("{scheme}://{}/", plan.thl_listen));
    put("maximumStoredSeqNo", max.to_string());
    put("minimumStoredSeqNo", min.to_string());
    put("offlineRequests", offline_requests);
    put("pendingError", err.map_or_else(|| "NONE".into(), |e| e.error.clone()));
    put(
        "pendingErrorCode",
        err.map_or_else(|| "NONE".into(), |e| e.code.clone()),
    );
    put(
        "pendingErrorEventId",
        err.and_then(|e| e.event_id.clone()).unwrap_or_else(|| "NONE".into()),
    );
    put("pendingErrorSeqno", err.and_then(|e| e.seqno).unwrap_or(-1).to_string());
    put(
        "pendingExceptionMessage",
        err.map_or_else(|| "NONE".into(), |e| e.exception.clone()),
    );
    put(
        "pipelineSource",
        if p.pipeline_source.is_empty() {
            "UNKNOWN".into()
        } else {
            p.pipeline_source.clone()
        },
    );
    put("relativeLatency", lat(relative_latency(&v)));
    put("resourcePrecedence", "99".into());
    put("rmiPort", m.rest_listen().map_or(8097, |a| a.port()).to_string());
    put("role", v.role.to_string());
    put("seqnoType", "java.lang.Long".into());
    put("serviceName", s.name().to_owned());
    put("serviceType", "local".into());
    put("simpleServiceName", s.name().to_owned());
    put("siteName", "default".into());
    put("sourceId", s.host().to_owned());
    put("state", v.state.to_string());
    put("timeInStateSeconds", format!("{:.3}", v.time_in_state.as_secs_f64()));
    put("timezone", "GMT".into());
    put("transitioningTo", transitioning.into());
    put("uptimeSeconds", format!("{:.3}", m.uptime().as_secs_f64()));
    put("useSSLConnection", plan.settings.thl_ssl.to_string());
    put("version", version());
    out
}

/// One entry of `trepctl services`.
pub fn service_summary(s: &Service) -> ServiceSummary {
    let v = s.view();
    let lat = |x: Option<f64>| x.map_or_else(|| "-1.0".to_owned(), |l| format!("{l:.3}"));
    ServiceSummary {
        applied_last_seqno: Seqno::or_minus_one(v.progress.applied_seqno).to_string(),
        applied_latency: lat(applied_latency(&v)),
        master_connect_uri: v.upstream.join(","),
        relative_latency: lat(relative_latency(&v)),
        role: v.role,
        service_name: s.name().to_owned(),
        service_type: "local".into(),
        started: "true".into(),
        state: v.state,
    }
}

/// A task (stage) of the pipeline under Tungsten's name, and the meters
/// its `extractTime` and `applyTime` come from.
#[derive(Debug, Clone, Copy)]
pub struct Task {
    pub name: &'static str,
    /// `None`: not measured (`-1`).
    pub extract: Option<Stage>,
    pub apply: Stage,
}

/// The pipeline's tasks by role: a master's binlog-to-thl decodes
/// (extract) and builds and writes the THL (store); a slave's or relay's
/// remote-to-thl stores what it receives, its thl-to-dbms applies.
pub fn stages(role: Role) -> &'static [Task] {
    const BINLOG_TO_THL: Task = Task {
        name: "binlog-to-thl",
        extract: Some(Stage::Extract),
        apply: Stage::Store,
    };
    const REMOTE_TO_THL: Task = Task {
        name: "remote-to-thl",
        extract: None,
        apply: Stage::Receive,
    };
    const THL_TO_DBMS: Task = Task {
        name: "thl-to-dbms",
        extract: None,
        apply: Stage::Apply,
    };
    match role {
        Role::Master => &[BINLOG_TO_THL],
        Role::Slave | Role::Relay => &[REMOTE_TO_THL, THL_TO_DBMS],
    }
}

/// `status -name tasks`: one record per stage, and with parallel apply one
/// per apply channel (`taskId` = channel, its own committed seqno and
/// queue, the scheduler's counters). Only the last stage carries the
/// applied figures, and on a slave or relay the apply stage's `retries`
/// after transient failures and `deadlocksResolved` (InnoDB deadlocks among
/// them, resolved by the retry). Times are Tungsten's seconds of work since the
/// replicator started: `extractTime` (binlog-to-thl: decoding), `applyTime`
/// (binlog-to-thl: appending to the THL; remote-to-thl: storing what was
/// received; thl-to-dbms: applying, summed over channels), `filterTime`
/// 0 (no filters run); what is not measured is `-1` (reading the network
/// or the THL, `otherTime`).
pub fn tasks(s: &Service) -> Vec<StatusMap> {
    let v = s.view();
    let p = &v.progress;
    let tasks = stages(v.role);
    let figures = s.progress().channel_figures();
    let mut out = Vec::new();
    for (i, task) in tasks.iter().enumerate() {
        let last = i + 1 == tasks.len();
        let (seqno, id) = if last {
            (p.applied_seqno, p.applied_event_id.clone())
        } else {
            (p.stored_seqno, p.stored_event_id.clone())
        };
        let mut t = StatusMap::new();
        t.insert("stage".into(), task.name.into());
        t.insert("taskId".into(), "0".into());
        t.insert("cancelled".into(), v.state.is_offline().to_string());
        t.insert("state".into(), v.state.to_string());
        t.insert(
            "eventCount".into(),
            if last { p.applied_count.to_string() } else { "-1".into() },
        );
        t.insert("appliedLastSeqno".into(), Seqno::or_minus_one(seqno).to_string());
        t.insert("appliedLastEventId".into(), or_none(&id));
        t.insert(
            "appliedLatency".into(),
            applied_latency(&v).map_or_else(|| "-1.0".into(), |l| format!("{l:.3}")),
        );
        let busy = |stage: Stage| format!("{:.3}", s.progress().stage_reading(stage).busy_seconds);
        t.insert("extractTime".into(), task.extract.map_or_else(|| "-1".into(), busy));
        t.insert("applyTime".into(), busy(task.apply));
        t.insert("filterTime".into(), "0.000".into());
        t.insert("otherTime".into(), "-1".into());
        if last && v.role != Role::Master {
            let (retries, deadlocks) = s.progress().apply_retries();
            t.insert("retries".into(), retries.to_string());
            t.insert("deadlocksResolved".into(), deadlocks.to_string());
        }
        if !last || figures.channels.len() < 2 {
            out.push(t);
            continue;
        }
        for (channel, f) in figures.channels.iter().enumerate() {
            let mut c = t.clone();
            c.insert("taskId".into(), channel.to_string());
            c.insert("appliedLastSeqno".into(), Seqno::or_minus_one(f.committed).to_string());
            c.insert(
                "appliedLatency".into(),
                f.latency_ms
                    .map_or_else(|| "-1.0".into(), |ms| format!("{:.3}", ms as f64 / 1000.0)),
            );
            c.insert("queuedTransactions".into(), f.queued.to_string());
            c.insert("barriers".into(), figures.barriers.to_string());
            c.insert("dependencyWaits".into(), figures.waits.to_string());
            c.insert("historyOverflows".into(), figures.overflows.to_string());
            out.push(c);
        }
    }
    out
}

/// `status -name stores`: the THL.
pub fn stores(s: &Service) -> Vec<StatusMap> {
    let mut t = StatusMap::new();
    t.insert("name".into(), "thl".into());
    t.insert("storeClass".into(), "thl::store::Writer".into());
    t.insert("logDir".into(), s.plan().thl_dir.display().to_string());
    t.insert("logFileSize".into(), s.plan().settings.thl_log_file_size.to_string());
    t.insert(
        "logFileRetention".into(),
        format!("{}s", s.plan().settings.thl_log_retention.as_secs()),
    );
    match thl::store::Reader::open(&s.plan().thl_dir).and_then(|r| r.info()) {
        Ok(info) => {
            t.insert(
                "minimumStoredSeqNo".into(),
                Seqno::or_minus_one(info.min_seqno).to_string(),
            );
            t.insert(
                "maximumStoredSeqNo".into(),
                Seqno::or_minus_one(info.max_seqno).to_string(),
            );
            t.insert("logFiles".into(), info.files.len().to_string());
            t.insert("activeSeqno".into(), Seqno::or_minus_one(info.max_seqno).to_string());
        }
        Err(_) => {
            for k in ["minimumStoredSeqNo", "maximumStoredSeqNo", "activeSeqno"] {
                t.insert(k.into(), "-1".into());
            }
            t.insert("logFiles".into(), "0".into());
        }
    }
    vec![t]
}

/// `status -name shards`: one map per shard (database) the pipeline
/// committed transactions of since it started, as Tungsten prints them.
pub fn shards(s: &Service) -> Vec<StatusMap> {
    let v = s.view();
    let stage = stages(v.role).last().map_or("", |t| t.name);
    s.progress()
        .shards()
        .into_iter()
        .map(|(shard, p)| {
            let mut t = StatusMap::new();
            t.insert("shardId".into(), shard);
            t.insert("stage".into(), stage.into());
            t.insert("eventCount".into(), p.event_count.to_string());
            t.insert("appliedLastSeqno".into(), p.applied_seqno.to_string());
            t.insert("appliedLastEventId".into(), or_none(&p.applied_event_id));
            let latency = (p.applied_at_ms - p.source_tstamp_ms).max(0) as f64 / 1000.0;
            t.insert("appliedLatency".into(), format!("{latency:.3}"));
            t
        })
        .collect()
}

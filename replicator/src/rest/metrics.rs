//! `/metrics` in the Prometheus text format (0.0.4).
//!
//! Invariants: every metric is declared here once, with its type and
//! labels; every sample carries the `service` label; a figure that is not
//! known (nothing applied yet, no THL) is left out rather than reported as 0.
//! Names follow Prometheus' conventions: the unit in the name (`_seconds`),
//! `_total` for counters. The dashboard `dashboards/grafana-replicator.json`
//! queries these names (a test checks each one it uses is exported).

use std::fmt::Write as _;

use crate::service::{status, Manager, State};

/// gauge, {service}: last applied (master: extracted) seqno.
pub const APPLIED_SEQNO: &str = "replicator_applied_last_seqno";
/// gauge, {service}: seconds from source commit to apply of the last transaction.
pub const APPLIED_LATENCY: &str = "replicator_applied_latency_seconds";
/// gauge, {service}: seconds from the last applied transaction's source commit to now.
pub const RELATIVE_LATENCY: &str = "replicator_relative_latency_seconds";
/// gauge, {service}: transactions per second since the service went online.
pub const EVENTS_PER_SECOND: &str = "replicator_events_per_second";
/// counter, {service}: transactions applied since the process started.
pub const EVENTS_TOTAL: &str = "replicator_events_total";
/// gauge, {service}: lowest seqno in the THL.
pub const THL_MIN: &str = "replicator_thl_min_seqno";
/// gauge, {service}: highest seqno in the THL.
pub const THL_MAX: &str = "replicator_thl_max_seqno";
/// gauge, {service, state}: 1 for the current state, 0 for the others.
pub const STATE: &str = "replicator_state";
/// gauge, {service}: seconds in the current state.
pub const TIME_IN_STATE: &str = "replicator_time_in_state_seconds";
/// gauge, {service, role, host, version}: always 1; the labels say what runs.
pub const INFO: &str = "replicator_service_info";
/// gauge, {service}: transactions the upstream has that are not applied here (slaves, relays).
pub const SEQNOS_BEHIND: &str = "replicator_seqnos_behind";
/// counter, {service, stage}: THL events a stage handled.
pub const STAGE_EVENTS: &str = "replicator_stage_events_total";
/// counter, {service, stage}: seconds a stage spent working.
pub const STAGE_BUSY: &str = "replicator_stage_busy_seconds_total";
/// gauge, {service, stage}: work waiting for a stage (see `status -name stages`).
pub const STAGE_QUEUE: &str = "replicator_stage_queue_events";
/// counter, {service, cause}: the apply stage's retries after a transient
/// failure (`cause`: `deadlock` for InnoDB's, else `other`).
pub const APPLY_RETRIES: &str = "replicator_apply_retries_total";

const HELP: [(&str, &str, &str); 15] = [
    (APPLIED_SEQNO, "gauge", "Last applied (master: extracted) seqno."),
    (
        APPLIED_LATENCY,
        "gauge",
        "Seconds from source commit to apply of the last transaction.",
    ),
    (
        RELATIVE_LATENCY,
        "gauge",
        "Seconds since the source commit of the last applied transaction.",
    ),
    (
        EVENTS_PER_SECOND,
        "gauge",
        "Transactions per second since the service went online.",
    ),
    (
        EVENTS_TOTAL,
        "counter",
        "Transactions applied since the replicator started.",
    ),
    (THL_MIN, "gauge", "Lowest seqno in the THL."),
    (THL_MAX, "gauge", "Highest seqno in the THL."),
    (STATE, "gauge", "1 for the service's current state, 0 for the others."),
    (TIME_IN_STATE, "gauge", "Seconds in the current state."),
    (
        INFO,
        "gauge",
        "Always 1: the service, its role, the host and the version.",
    ),
    (
        SEQNOS_BEHIND,
        "gauge",
        "Transactions the upstream has that are not applied here yet.",
    ),
    (STAGE_EVENTS, "counter", "THL events a pipeline stage handled."),
    (STAGE_BUSY, "counter", "Seconds a pipeline stage spent working."),
    (STAGE_QUEUE, "gauge", "Work waiting for a pipeline stage."),
    (
        APPLY_RETRIES,
        "counter",
        "Retries of the apply stage after a transient failure, by cause.",
    ),
];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics of every service.
pub fn render(m: &Manager) -> String {
    let mut out = String::new();
    let mut samples: Vec<(&str, String, f64)> = Vec::new();
    for s in m.services() {
        let v = s.view();
        let svc = format!("service=\"{}\"", escape(s.name()));
        if let Some(applied) = v.progress.applied_seqno {
            samples.push((APPLIED_SEQNO, svc.clone(), applied.0 as f64));
        }
        if let Some(l) = status::applied_latency(&v) {
            samples.push((APPLIED_LATENCY, svc.clone(), l));
        }
        if let Some(l) = status::relative_latency(&v) {
            samples.push((RELATIVE_LATENCY, svc.clone(), l));
        }
        samples.push((EVENTS_PER_SECOND, svc.clone(), v.events_per_second));
        samples.push((EVENTS_TOTAL, svc.clone(), v.progress.applied_count as f64));
        let (min, max) = status::thl_range(s);
        if min >= 0 {
            samples.push((THL_MIN, svc.clone(), min as f64));
            samples.push((THL_MAX, svc.clone(), max as f64));
        }
        for st in State::ALL {
            let labels = format!("{svc},state=\"{st}\"");
            samples.push((STATE, labels, if st == v.state { 1.0 } else { 0.0 }));
        }
        samples.push((TIME_IN_STATE, svc.clone(), v.time_in_state.as_secs_f64()));
        let info = format!(
            "{svc},role=\"{}\",host=\"{}\",version=\"{}\"",
            v.role,
            escape(s.host()),
            escape(env!("CARGO_PKG_VERSION"))
        );
        samples.push((INFO, info, 1.0));
        if let Some(b) = status::seqnos_behind(s, &v) {
            samples.push((SEQNOS_BEHIND, svc.clone(), b as f64));
        }
        if v.role != crate::config::Role::Master {
            let (retries, deadlocks) = s.progress().apply_retries();
            samples.push((APPLY_RETRIES, format!("{svc},cause=\"deadlock\""), deadlocks as f64));
            samples.push((
                APPLY_RETRIES,
                format!("{svc},cause=\"other\""),
                retries.saturating_sub(deadlocks) as f64,
            ));
        }
        for stage in status::role_stages(v.role) {
            let labels = format!("{svc},stage=\"{}\"", stage.name());
            let r = s.progress().stage_reading(*stage);
            samples.push((STAGE_EVENTS, labels.clone(), r.events as f64));
            samples.push((STAGE_BUSY, labels.clone(), r.busy_seconds));
            if let Some(q) = status::stage_queue(s, &v, *stage) {
                samples.push((STAGE_QUEUE, labels, q as f64));
            }
        }
    }
    for (name, kind, help) in HELP {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (_, labels, value) in samples.iter().filter(|(n, _, _)| *n == name) {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
    out
}

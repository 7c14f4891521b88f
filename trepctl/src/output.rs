//! Tungsten's output layouts: `Processing X command...`, a `NAME VALUE`
//! table of `key : value` lines sorted by name, `Finished X command...`.
//!
//! Invariants: keys are printed in sorted order, padded to the longest key
//! of the block so the colons line up; non-string JSON values are printed
//! as JSON; nothing here talks to the network.

use std::fmt::Write as _;

use serde_json::{Map, Value};

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One `NAME VALUE` block.
pub fn block(map: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let w = keys.iter().map(|k| k.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(out, "{:<w$}   VALUE", "NAME");
    let _ = writeln!(out, "{:<w$}   -----", "----");
    for k in keys {
        let _ = writeln!(out, "{k:<w$} : {}", text(&map[k.as_str()]));
    }
    out
}

/// A command's output: the processing line, one block per record, the
/// finished line.
pub fn command(name: &str, records: &[&Map<String, Value>]) -> String {
    let mut out = format!("Processing {name} command...\n");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&block(r));
    }
    let _ = writeln!(out, "Finished {name} command...");
    out
}

/// The records of a JSON answer (an object, or an array of objects).
pub fn records(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Object(m) => vec![m],
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn num(m: &Map<String, Value>, k: &str) -> f64 {
    m.get(k).map(text).and_then(|s| s.parse().ok()).unwrap_or(-1.0)
}

fn secs(x: f64) -> String {
    if x < 0.0 {
        "unknown".into()
    } else {
        format!("{x:.3}s")
    }
}

/// `qs`: three lines from a status map.
pub fn quick_status(m: &Map<String, Value>) -> String {
    let s = |k: &str| m.get(k).map(text).unwrap_or_default();
    let state = s("state");
    let pretty = match state.as_str() {
        "ONLINE" => "Online".to_owned(),
        "OFFLINE:NORMAL" => "Offline".to_owned(),
        "OFFLINE:ERROR" => "Offline with error".to_owned(),
        other => other.to_owned(),
    };
    let mut out = format!(
        "{} {pretty} for {}, running for {}\n",
        s("serviceName"),
        secs(num(m, "timeInStateSeconds")),
        secs(num(m, "uptimeSeconds"))
    );
    if s("role") == "master" {
        let _ = writeln!(
            out,
            "Latency {} from DB commit into THL (source {}), {} since last source commit",
            secs(num(m, "appliedLatency")),
            s("pipelineSource"),
            secs(num(m, "relativeLatency"))
        );
    } else {
        let _ = writeln!(
            out,
            "Latency {} from source commit into target DB (upstream {}), {} since last source commit",
            secs(num(m, "appliedLatency")),
            s("masterConnectUri"),
            secs(num(m, "relativeLatency"))
        );
    }
    let applied = num(m, "appliedLastSeqno") as i64;
    let max = num(m, "maximumStoredSeqNo") as i64;
    // The upstream's figure where the replicator knows it (slaves, relays).
    let behind = match num(m, "seqnosBehind") as i64 {
        b if b >= 0 => b.to_string(),
        _ if max >= 0 && applied >= 0 => (max - applied).max(0).to_string(),
        _ => "unknown".into(),
    };
    let eta = num(m, "catchUpEtaSeconds");
    let eta = if eta > 0.0 {
        format!(", caught up in about {}", secs(eta))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{applied} last applied, {behind} transactions behind{eta} ({}-{} stored)",
        s("minimumStoredSeqNo"),
        s("maximumStoredSeqNo")
    );
    if state == "OFFLINE:ERROR" {
        let _ = writeln!(out, "Error: {}", s("pendingError"));
    }
    out
}

/// `perf`: one row per stage from `status -name stages`, and what the
/// columns mean.
pub fn perf(stages: &[&Map<String, Value>]) -> String {
    let mut out = format!(
        "{:<8} {:>12} {:>10} {:>10} {:>12} {:>8}\n",
        "Stage", "Events", "Events/s", "ms/event", "Busy (s)", "Queue"
    );
    for t in stages {
        let s = |k: &str| t.get(k).map(text).unwrap_or_default();
        let dash = |k: &str| match s(k).as_str() {
            "-1" | "" => "-".to_owned(),
            v => v.to_owned(),
        };
        let _ = writeln!(
            out,
            "{:<8} {:>12} {:>10} {:>10} {:>12} {:>8}",
            s("stage"),
            s("eventCount"),
            s("eventsPerSecond"),
            dash("msPerEvent"),
            s("busySeconds"),
            dash("queue")
        );
    }
    out.push_str(
        "Events: THL events since the replicator started; Events/s: over the last seconds; ms/event and Busy: \
         work time (apply: summed over channels); Queue: binlog events to decode (extract), seqnos upstream not \
         stored (receive), stored not applied (apply), not yet sent to the slowest client (serve).\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn perf_prints_a_row_per_stage_with_dashes_for_what_is_not_measured() {
        let v = json!([
            {"stage": "receive", "eventCount": "120", "eventsPerSecond": "40.0", "msPerEvent": "0.250",
             "busySeconds": "0.030", "queue": "5"},
            {"stage": "apply", "eventCount": "0", "eventsPerSecond": "0.0", "msPerEvent": "-1",
             "busySeconds": "0.000", "queue": "-1"},
        ]);
        let out = perf(&records(&v));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["receive", "120", "40.0", "0.250", "0.030", "5"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["apply", "0", "0.0", "-", "0.000", "-"]
        );
        assert!(lines[3].starts_with("Events: THL events"), "{out}");
    }

    #[test]
    fn status_is_sorted_and_aligned_between_the_banner_lines() {
        let v = json!({"state": "ONLINE", "appliedLastSeqno": "12", "role": "master"});
        let out = command("status", &records(&v));
        assert_eq!(
            out,
            "Processing status command...\n\
             NAME               VALUE\n\
             ----               -----\n\
             appliedLastSeqno : 12\n\
             role             : master\n\
             state            : ONLINE\n\
             Finished status command...\n"
        );
    }

    #[test]
    fn services_print_one_block_per_service() {
        let v = json!([{"serviceName": "alpha", "state": "ONLINE"}, {"serviceName": "beta", "started": true}]);
        let out = command("services", &records(&v));
        assert_eq!(out.matches("NAME").count(), 2);
        assert!(out.contains("serviceName : beta\nstarted     : true\n"), "{out}");
    }

    #[test]
    fn quick_status_has_three_lines() {
        let v = json!({"serviceName": "alpha", "state": "ONLINE", "role": "master", "timeInStateSeconds": "3.5",
            "uptimeSeconds": "10", "appliedLatency": "0.25", "relativeLatency": "1", "pipelineSource": "db:3306",
            "appliedLastSeqno": "8", "minimumStoredSeqNo": "0", "maximumStoredSeqNo": "10"});
        let out = quick_status(records(&v)[0]);
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(
            out.starts_with("alpha Online for 3.500s, running for 10.000s\n"),
            "{out}"
        );
        assert!(
            out.contains("8 last applied, 2 transactions behind (0-10 stored)"),
            "{out}"
        );
    }
}

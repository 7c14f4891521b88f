//! The Grafana dashboard of the repository (`dashboards/grafana-replicator.json`)
//! and the metrics it queries, for the test that each one is exported.

use std::collections::BTreeSet;

/// The dashboard's JSON, as shipped.
pub const DASHBOARD: &str = include_str!("../../dashboards/grafana-replicator.json");

/// The `replicator_*` metric names in the expressions of every panel (and
/// of the template variables' queries).
pub fn queried_metrics() -> Result<BTreeSet<String>, serde_json::Error> {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD)?;
    let mut names = BTreeSet::new();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    for q in queries {
        names.extend(metric_names(q));
    }
    Ok(names)
}

/// Every `expr` and `query`/`definition` string under `v`.
fn collect_queries<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                match (k.as_str(), child) {
                    ("expr" | "query" | "definition", serde_json::Value::String(s)) => out.push(s),
                    _ => collect_queries(child, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|c| collect_queries(c, out)),
        _ => {}
    }
}

/// The `replicator_…` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    expr.split(|c: char| !is_ident(c))
        .filter(|w| w.starts_with("replicator_"))
        .map(str::to_owned)
        .collect()
}

/// The metric names with samples in a Prometheus text exposition.
pub fn exported_metrics(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// `GET /metrics` of `host`'s replicator, with the deployment's
/// credentials and TLS (as another replicator of it would ask).
pub async fn metrics_of(deployment: &crate::process::Deployment, host: &str) -> Result<String, String> {
    let dep = control::config::Deployment::load(deployment.ini(), Some(deployment.hosts_file()))
        .map_err(|e| e.to_string())?;
    let plan = dep.service_plan(host).map_err(|e| e.to_string())?;
    let tls = replicator::peer::local_tls(&plan)?;
    replicator::peer::Peer::of(&plan, tls.as_ref())?
        .get_text("/metrics")
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_parses_and_names_the_replicators_metrics() {
        let names = queried_metrics().expect("the dashboard is JSON");
        for n in [
            "replicator_applied_latency_seconds",
            "replicator_events_total",
            "replicator_stage_busy_seconds_total",
            "replicator_service_info",
        ] {
            assert!(names.contains(n), "{n} in {names:?}");
        }
        assert!(names.iter().all(|n| !n.ends_with('_')), "{names:?}");
    }

    #[test]
    fn exported_names_are_read_from_sample_lines_only() {
        let text = "# HELP replicator_x X.\n# TYPE replicator_x gauge\nreplicator_x{service=\"a\"} 1\nreplicator_y 2\n";
        assert_eq!(
            exported_metrics(text).into_iter().collect::<Vec<_>>(),
            ["replicator_x", "replicator_y"]
        );
    }
}

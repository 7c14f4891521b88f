//! The status page as HTML: one document with its CSS inline and its
//! charts as inline SVG (`chart.rs`), no script, no external resource.
//!
//! Invariants: every text that comes from the ini or from a replicator's
//! answer goes through [`escape`], in element content and in attribute
//! values alike; each host is one `<tr class="host">` with `data-host`,
//! `data-service`, `data-role` and `data-state` (`UNREACHABLE` when it did
//! not answer), the markup tests and scripts read.

use std::fmt::Write as _;

use control::responses::{HistorySample, StatusMap};

use super::chart::{Chart, Series};
use super::{DsView, HostView, Snapshot, REFRESH_SECONDS};

/// `text` with `&`, `<`, `>`, `"` and `'` replaced by their entities: safe
/// in element content and in a quoted attribute value.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = include_str!("style.css");

/// The chart colours: applied latency, relative latency, apply rate.
const APPLIED: &str = "#2563eb";
const RELATIVE: &str = "#d97706";
const RATE: &str = "#059669";

/// The longest window a chart shows: the history's hour.
const HOUR_MS: i64 = 3_600_000;

/// The CSS class of a state's badge.
fn state_class(state: &str) -> &'static str {
    match state {
        "ONLINE" => "ok",
        "OFFLINE:NORMAL" => "warn",
        "OFFLINE:ERROR" | "UNREACHABLE" => "bad",
        s if s.starts_with("GOING-") => "busy",
        _ => "muted",
    }
}

fn get<'a>(status: &'a StatusMap, key: &str) -> &'a str {
    status.get(key).map_or("", String::as_str)
}

/// A seqno as shown: `—` for none (`-1`) or not a number.
fn seqno(v: &str) -> String {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => n.to_string(),
        _ => "—".into(),
    }
}

/// Latency seconds as shown: `0.123 s`, `—` when not known.
fn latency(v: &str) -> String {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => format!("{x:.3} s"),
        _ => "—".into(),
    }
}

/// What a value of the status map says, if anything (`NONE` and empty say
/// nothing).
fn said(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty() && v != "NONE").then_some(v)
}

impl HostView {
    /// The role it reports, else the ini's.
    pub fn role(&self) -> String {
        match &self.answer {
            Ok(a) if !get(&a.status, "role").is_empty() => get(&a.status, "role").to_owned(),
            _ => self.ini_role.to_string(),
        }
    }

    /// The state it reports, or `UNREACHABLE`.
    pub fn state(&self) -> String {
        match &self.answer {
            Ok(a) if !get(&a.status, "state").is_empty() => get(&a.status, "state").to_owned(),
            Ok(_) => "UNKNOWN".into(),
            Err(_) => "UNREACHABLE".into(),
        }
    }
}

impl DsView {
    /// The host that answers as master, if one does.
    fn master(&self) -> Option<&HostView> {
        self.hosts.iter().find(|h| h.answer.is_ok() && h.role() == "master")
    }

    /// The head as it answers (its master or relay), else the ini's head.
    fn head(&self) -> Option<(&HostView, bool)> {
        self.master()
            .or_else(|| self.hosts.iter().find(|h| h.answer.is_ok() && h.role() == "relay"))
            .map(|h| (h, true))
            .or_else(|| self.hosts.first().map(|h| (h, false)))
    }
}

/// The page of `snap`.
pub fn render(snap: &Snapshot) -> String {
    let mut out = String::with_capacity(32 << 10);
    let served = escape(&snap.served_by);
    let when = thl::display::utc_datetime(snap.generated_ms.div_euclid(1000));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Replication status · {served}</title><style>{STYLE}</style></head><body>\
         <header><div><h1>Replication status</h1><span class=\"meta\">served by <b>{served}</b> · {} · \
         {when} UTC · refreshes every {REFRESH_SECONDS} s</span></div>{}</header><main>",
        escape(&snap.source),
        summary(snap),
    );
    if let Some(n) = &snap.notice {
        let _ = write!(out, "<p class=\"notice\">{}</p>", escape(n));
    }
    topology(&mut out, snap);
    for ds in &snap.dataservices {
        dataservice(&mut out, ds, snap);
    }
    let _ = writeln!(
        out,
        "<p class=\"legend\"><span class=\"key\" style=\"background:{APPLIED}\"></span>applied latency \
         (source commit to apply) <span class=\"key\" style=\"background:{RELATIVE}\"></span>relative latency \
         (source commit of the last applied transaction to now) <span class=\"key\" \
         style=\"background:{RATE}\"></span>transactions applied per second. Charts: the samples of the last hour, \
         one every 10 s, as each replicator keeps them.</p></main></body></html>"
    );
    out
}

/// The header's count of hosts by state.
fn summary(snap: &Snapshot) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut total = 0;
    for h in snap.dataservices.iter().flat_map(|d| &d.hosts) {
        total += 1;
        let s = h.state();
        match counts.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    let mut out = format!(
        "<span class=\"summary\">{total} host{} ",
        if total == 1 { "" } else { "s" }
    );
    for (state, n) in counts {
        let _ = write!(
            out,
            "<span class=\"badge {}\">{n} {}</span> ",
            state_class(&state),
            escape(&state)
        );
    }
    out.push_str("</span>");
    out
}

/// The composites and their dataservices as cards: which is active, which
/// relay follows which.
fn topology(out: &mut String, snap: &Snapshot) {
    out.push_str("<section class=\"topology\"><h2>Topology</h2>");
    let mut shown: Vec<&str> = Vec::new();
    for c in &snap.composites {
        let _ = write!(
            out,
            "<div class=\"composite\" data-composite=\"{n}\"><h3>{n} <span class=\"sub\">composite of {}</span></h3>\
             <div class=\"cards\">",
            escape(&c.members.join(", ")),
            n = escape(&c.name),
        );
        for m in &c.members {
            if let Some(ds) = snap.dataservices.iter().find(|d| &d.name == m) {
                card(out, ds);
                shown.push(&ds.name);
            }
        }
        out.push_str("</div></div>");
    }
    let rest: Vec<&DsView> = snap
        .dataservices
        .iter()
        .filter(|d| !shown.contains(&d.name.as_str()))
        .collect();
    if !rest.is_empty() {
        out.push_str("<div class=\"composite\"><div class=\"cards\">");
        for ds in rest {
            card(out, ds);
        }
        out.push_str("</div></div>");
    }
    out.push_str("</section>");
}

fn card(out: &mut String, ds: &DsView) {
    let active = ds.master().is_some();
    let any_relay = ds.hosts.iter().any(|h| h.answer.is_ok() && h.role() == "relay");
    let (badge, class) = match (active, any_relay) {
        (true, _) => ("ACTIVE", "ok"),
        (false, true) => ("PASSIVE", "muted"),
        (false, false) => ("NO HEAD ANSWERS", "bad"),
    };
    let online = ds.hosts.iter().filter(|h| h.state() == "ONLINE").count();
    let _ = write!(
        out,
        "<div class=\"ds{}\" data-dataservice=\"{}\" data-active=\"{active}\"><div class=\"ds-name\">{} \
         <span class=\"badge {class}\">{badge}</span></div>",
        if active { " active" } else { "" },
        escape(&ds.name),
        escape(&ds.name),
    );
    if let Some((head, live)) = ds.head() {
        let _ = write!(
            out,
            "<div>{} <b>{}</b>{}",
            escape(&head.role()),
            escape(&head.host),
            if live {
                ""
            } else {
                " <span class=\"sub\">(from the ini)</span>"
            }
        );
        if let Some(src) = &ds.relay_source {
            let _ = write!(out, " follows <b>{}</b>", escape(src));
        }
        out.push_str("</div>");
        if let Ok(a) = &head.answer {
            if let Some(up) = said(get(&a.status, "masterConnectUri")) {
                let _ = write!(out, "<div class=\"sub\">reads {}</div>", escape(up));
            }
        }
    }
    let _ = write!(
        out,
        "<div class=\"sub\">{} host{} · {online} ONLINE</div></div>",
        ds.hosts.len(),
        if ds.hosts.len() == 1 { "" } else { "s" }
    );
}

const COLUMNS: usize = 10;

fn dataservice(out: &mut String, ds: &DsView, snap: &Snapshot) {
    let _ = write!(
        out,
        "<section class=\"dataservice\" data-dataservice=\"{n}\"><h2>{n}",
        n = escape(&ds.name)
    );
    if let Some(src) = &ds.relay_source {
        let _ = write!(out, " <span class=\"sub\">relay-source {}</span>", escape(src));
    }
    out.push_str(
        "</h2><table><colgroup><col class=\"c-host\"><col class=\"c-role\"><col class=\"c-state\">\
         <col class=\"c-seqno\"><col class=\"c-lat\"><col class=\"c-lat\"><col class=\"c-thl\">\
         <col class=\"c-up\"><col class=\"c-chart\"><col class=\"c-chart\"></colgroup><thead><tr><th>Host</th><th>Role</th><th>State</th><th class=\"num\">Applied seqno</th>\
         <th class=\"num\">Applied latency</th><th class=\"num\">Relative latency</th><th class=\"num\">THL seqnos</th>\
         <th>Upstream</th><th>Latency, last hour</th><th>Apply rate, last hour</th></tr></thead><tbody>",
    );
    for h in &ds.hosts {
        host_row(out, ds, h, snap);
    }
    out.push_str("</tbody></table></section>");
}

fn host_row(out: &mut String, ds: &DsView, h: &HostView, snap: &Snapshot) {
    let (role, state) = (h.role(), h.state());
    let me = if h.host == snap.served_by {
        "<span class=\"sub\">this replicator</span>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<tr class=\"host\" data-host=\"{host}\" data-service=\"{svc}\" data-role=\"{r}\" data-state=\"{s}\">\
         <td class=\"hostname\">{host}{me}</td><td>{r}</td><td><span class=\"badge {}\">{}</span></td>",
        state_class(&state),
        escape(&state).replace(':', ":<wbr>"),
        host = escape(&h.host),
        svc = escape(&ds.name),
        r = escape(&role),
        s = escape(&state),
    );
    let a = match &h.answer {
        Ok(a) => a,
        Err(why) => {
            let _ = write!(
                out,
                "<td colspan=\"{}\" class=\"why\">did not answer: {}</td></tr>",
                COLUMNS - 3,
                escape(why)
            );
            return;
        }
    };
    let st = &a.status;
    let (min, max) = (
        seqno(get(st, "minimumStoredSeqNo")),
        seqno(get(st, "maximumStoredSeqNo")),
    );
    let thl = if min == "—" && max == "—" {
        "empty".to_owned()
    } else {
        format!("{min} – {max}")
    };
    let upstream = said(get(st, "masterConnectUri")).unwrap_or("—");
    let _ = write!(
        out,
        "<td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"upstream\">{}</td><td class=\"chart\">{}</td><td class=\"chart\">{}</td></tr>",
        escape(&seqno(get(st, "appliedLastSeqno"))),
        escape(&latency(get(st, "appliedLatency"))),
        escape(&latency(get(st, "relativeLatency"))),
        escape(&thl),
        escape(upstream).replace(',', ",<wbr>"),
        latency_chart(&a.history, snap.generated_ms),
        rate_chart(&a.history, snap.generated_ms),
    );
    let problems = [
        ("pending error", get(st, "pendingError"), "error"),
        ("retrying", get(st, "applyRetryError"), "retry"),
    ];
    for (what, text, class) in problems {
        let Some(text) = said(text) else { continue };
        let mut detail = String::new();
        if let Some(code) = said(get(st, "pendingErrorCode")).filter(|_| class == "error") {
            let _ = write!(detail, " [{code}]");
        }
        if let Some(n) = said(get(st, "pendingErrorSeqno")).filter(|n| class == "error" && *n != "-1") {
            let _ = write!(detail, " at seqno {n}");
        }
        let _ = write!(
            out,
            "<tr class=\"{class}\" data-host=\"{}\"><td></td><td colspan=\"{}\">{what}{}: {}</td></tr>",
            escape(&h.host),
            COLUMNS - 1,
            escape(&detail),
            escape(text)
        );
    }
}

const CHART_W: u32 = 160;
const CHART_H: u32 = 46;

fn points(history: &[HistorySample], f: impl Fn(&HistorySample) -> Option<f64>) -> Vec<(i64, Option<f64>)> {
    history.iter().map(|s| (s.time_ms, f(s))).collect()
}

fn latency_chart(history: &[HistorySample], now_ms: i64) -> String {
    Chart {
        width: CHART_W,
        height: CHART_H,
        unit: "s",
        min_top: 1.0,
        now_ms,
        max_span_ms: HOUR_MS,
        series: vec![
            Series {
                label: "applied latency",
                colour: APPLIED,
                points: points(history, |s| s.applied_latency),
            },
            Series {
                label: "relative latency",
                colour: RELATIVE,
                points: points(history, |s| s.relative_latency),
            },
        ],
    }
    .svg()
}

fn rate_chart(history: &[HistorySample], now_ms: i64) -> String {
    Chart {
        width: CHART_W,
        height: CHART_H,
        unit: "tx/s",
        min_top: 1.0,
        now_ms,
        max_span_ms: HOUR_MS,
        series: vec![Series {
            label: "apply rate",
            colour: RATE,
            points: points(history, |s| s.rate),
        }],
    }
    .svg()
}

#[cfg(test)]
mod tests {
    use super::super::{CompositeView, HostAnswer};
    use super::*;
    use crate::config::Role;
    use crate::service::State;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("plain text é"), "plain text é");
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        // Already escaped text is escaped again, not trusted.
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    fn status(pairs: &[(&str, &str)]) -> StatusMap {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn online(role: &str, seqno: &str, upstream: &str) -> Result<HostAnswer, String> {
        Ok(HostAnswer {
            status: status(&[
                ("role", role),
                ("state", "ONLINE"),
                ("appliedLastSeqno", seqno),
                ("appliedLatency", "0.120"),
                ("relativeLatency", "3.500"),
                ("minimumStoredSeqNo", "0"),
                ("maximumStoredSeqNo", seqno),
                ("masterConnectUri", upstream),
                ("pendingError", "NONE"),
                ("applyRetryError", "NONE"),
            ]),
            history: vec![
                HistorySample {
                    applied_last_seqno: 10,
                    applied_latency: Some(0.1),
                    rate: None,
                    relative_latency: Some(0.4),
                    state: State::Online,
                    time_ms: 1_765_000_000_000 - 20_000,
                },
                HistorySample {
                    applied_last_seqno: 42,
                    applied_latency: Some(0.12),
                    rate: Some(3.2),
                    relative_latency: Some(3.5),
                    state: State::Online,
                    time_ms: 1_765_000_000_000,
                },
            ],
        })
    }

    fn snapshot() -> Snapshot {
        let host = |host: &str, ini_role: Role, answer| HostView {
            host: host.into(),
            ini_role,
            answer,
        };
        Snapshot {
            served_by: "a1".into(),
            generated_ms: 1_765_000_000_000,
            source: "/etc/tungsten/tungsten.ini".into(),
            notice: None,
            composites: vec![CompositeView {
                name: "gamma".into(),
                members: vec!["alpha".into(), "beta".into()],
            }],
            dataservices: vec![
                DsView {
                    name: "alpha".into(),
                    relay_source: None,
                    hosts: vec![
                        host("a1", Role::Master, online("master", "42", "")),
                        host("a2", Role::Slave, online("slave", "42", "thls://a1:2112/")),
                    ],
                },
                DsView {
                    name: "beta".into(),
                    relay_source: Some("alpha".into()),
                    hosts: vec![
                        host("b1", Role::Relay, online("relay", "42", "thls://a1:2112/")),
                        host(
                            "b2",
                            Role::Slave,
                            Err("cannot connect to the replicator at 127.0.0.4:8097: Connection refused <os>".into()),
                        ),
                    ],
                },
            ],
        }
    }

    #[test]
    fn a_page_shows_every_host_and_says_why_one_did_not_answer() {
        let page = render(&snapshot());
        assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(!page.contains("<script"), "no script");
        for (host, svc, role, state) in [
            ("a1", "alpha", "master", "ONLINE"),
            ("a2", "alpha", "slave", "ONLINE"),
            ("b1", "beta", "relay", "ONLINE"),
            ("b2", "beta", "slave", "UNREACHABLE"),
        ] {
            let row = format!(
                "<tr class=\"host\" data-host=\"{host}\" data-service=\"{svc}\" data-role=\"{role}\" \
                 data-state=\"{state}\">"
            );
            assert_eq!(page.matches(&row).count(), 1, "{row} in {page}");
        }
        assert!(
            page.contains(
                "did not answer: cannot connect to the replicator at 127.0.0.4:8097: Connection refused &lt;os&gt;"
            ),
            "{page}"
        );
        // The topology: alpha has the master, beta's relay follows alpha.
        assert!(
            page.contains("data-dataservice=\"alpha\" data-active=\"true\""),
            "{page}"
        );
        assert!(
            page.contains("data-dataservice=\"beta\" data-active=\"false\""),
            "{page}"
        );
        assert!(page.contains("relay <b>b1</b> follows <b>alpha</b>"), "{page}");
        assert!(page.contains("reads thls://a1:2112/"), "{page}");
        assert!(page.contains("data-composite=\"gamma\""), "{page}");
        // The figures and the charts of the hosts that answered.
        assert!(
            page.contains("<td class=\"num\">0.120 s</td><td class=\"num\">3.500 s</td>"),
            "{page}"
        );
        assert!(page.contains("0 – 42"), "{page}");
        assert_eq!(
            page.matches("<svg class=\"chart\"").count(),
            6,
            "two charts per answering host"
        );
        assert!(page.contains("3 ONLINE") && page.contains("1 UNREACHABLE"), "{page}");
        assert!(page.contains(">a1<span class=\"sub\">this replicator</span>"), "{page}");
    }

    #[test]
    fn a_pending_error_is_shown_escaped_and_the_state_coloured() {
        let mut snap = snapshot();
        let Ok(a) = &mut snap.dataservices[1].hosts[0].answer else {
            panic!("b1 answers")
        };
        for (k, v) in [
            ("state", "OFFLINE:ERROR"),
            ("pendingError", "Event application failed: <b>dup</b> & \"key\""),
            ("pendingErrorCode", "APPLY"),
            ("pendingErrorSeqno", "43"),
        ] {
            a.status.insert(k.into(), v.into());
        }
        let page = render(&snap);
        assert!(
            page.contains("data-host=\"b1\" data-service=\"beta\" data-role=\"relay\" data-state=\"OFFLINE:ERROR\"")
        );
        assert!(
            page.contains("<span class=\"badge bad\">OFFLINE:<wbr>ERROR</span>"),
            "{page}"
        );
        assert!(
            page.contains(
                "pending error [APPLY] at seqno 43: Event application failed: &lt;b&gt;dup&lt;/b&gt; &amp; &quot;key&quot;"
            ),
            "{page}"
        );
        assert!(!page.contains("<b>dup</b>"));
        // Without a master answering, alpha is no longer active.
        snap.dataservices[0].hosts[0].answer = Err("timed out".into());
        let page = render(&snap);
        assert!(
            page.contains("data-dataservice=\"alpha\" data-active=\"false\""),
            "{page}"
        );
        assert!(page.contains("NO HEAD ANSWERS"), "{page}");
    }
}

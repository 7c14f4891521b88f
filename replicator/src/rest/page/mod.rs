//! The status page (`GET /` on the REST port): the composite topology of
//! the ini this replicator runs from (dataservices, hosts, roles, which
//! dataservice is active, which relay follows which), and for each host
//! its state, applied seqno, both latencies, THL range, pending error and
//! the last hour's latencies and apply rate as small charts, polled from
//! every host's REST API. Server-side HTML ([`html`]) with inline CSS and
//! SVG ([`chart`]), compiled into the binary; the page refreshes itself.
//!
//! Invariants:
//!
//! * The page is read-only and behind the API's authentication like
//!   every route (the read-only user may open it).
//! * Each host is asked (`GET .../status`, then `GET .../service/NAME/
//!   history` of its services) with the ini's credentials (the read-only
//!   user's when the ini names one) and TLS ([`crate::peer`]), every host
//!   at once, each within [`PER_HOST`]: a dead or slow host costs that
//!   long and becomes a row saying why, never a failed page. This host
//!   answers from memory, without the network.
//! * At most one poll runs at a time per replicator and its page is
//!   reused for [`REUSE`] (a browser refreshing, several viewers): opening
//!   the page never makes more than one request per host and service per
//!   [`REUSE`].
//! * The ini is re-read for each poll (a reloaded topology shows); when it
//!   cannot be read the page says why and shows this host's services.

pub mod chart;
pub mod html;

use std::sync::Arc;
use std::time::{Duration, Instant};

use control::responses::{AllStatus, HistoryResponse, HistorySample, StatusMap};

use crate::config::Role;
use crate::peer::Peer;
use crate::service::reload::IniSource;
use crate::service::{status, Manager};

/// How long one host may take to answer (its status and its history).
pub const PER_HOST: Duration = Duration::from_secs(2);
/// How long a rendered page is served again before the hosts are asked
/// anew.
pub const REUSE: Duration = Duration::from_secs(2);
/// The page's `<meta http-equiv="refresh">`, seconds.
pub const REFRESH_SECONDS: u32 = 5;

/// What the page shows.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The host whose replicator serves the page.
    pub served_by: String,
    pub generated_ms: i64,
    /// Where the topology comes from (the ini's path).
    pub source: String,
    /// Why the topology is incomplete, when it is.
    pub notice: Option<String>,
    pub composites: Vec<CompositeView>,
    pub dataservices: Vec<DsView>,
}

/// A composite dataservice of the ini.
#[derive(Debug, Clone)]
pub struct CompositeView {
    pub name: String,
    pub members: Vec<String>,
}

/// A dataservice of the ini and its hosts, in the ini's order.
#[derive(Debug, Clone)]
pub struct DsView {
    pub name: String,
    pub relay_source: Option<String>,
    pub hosts: Vec<HostView>,
}

/// One host of a dataservice: its ini role, and its answer or why there
/// is none.
#[derive(Debug, Clone)]
pub struct HostView {
    pub host: String,
    pub ini_role: Role,
    pub answer: Result<HostAnswer, String>,
}

/// What a host's replicator said about one service.
#[derive(Debug, Clone)]
pub struct HostAnswer {
    pub status: StatusMap,
    /// Oldest first; empty when the history could not be read.
    pub history: Vec<HistorySample>,
}

/// What one host's replicator said about all its services.
#[derive(Debug, Clone)]
struct Polled {
    status: AllStatus,
    history: Vec<(String, Vec<HistorySample>)>,
}

/// The last page and when it was made; one poll at a time.
#[derive(Debug, Default)]
pub struct PageCache {
    last: tokio::sync::Mutex<Option<(Instant, Arc<String>)>>,
    /// This host's REST TLS (`rest-api-ssl`), loaded by the first poll
    /// and kept: the handle reloads itself when its files change
    /// (`crate::tls`), so polls do not read the files again.
    tls: std::sync::Mutex<Option<crate::tls::TlsHandle>>,
}

impl PageCache {
    /// The page: the last one if younger than [`REUSE`], else a new one
    /// (callers arriving meanwhile wait for it and share it).
    pub async fn page(&self, manager: &Arc<Manager>, ini: Option<&IniSource>) -> Arc<String> {
        let mut last = self.last.lock().await;
        if let Some((at, page)) = last.as_ref() {
            if at.elapsed() < REUSE {
                return page.clone();
            }
        }
        let tls = self.local_tls(manager);
        let page = Arc::new(html::render(&snapshot(manager, ini, tls).await));
        *last = Some((Instant::now(), page.clone()));
        page
    }

    /// This host's REST TLS: the kept one, else loaded now (and kept when
    /// it loads).
    fn local_tls(&self, manager: &Manager) -> Result<Option<crate::tls::TlsHandle>, String> {
        let mut kept = self.tls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = kept.as_ref() {
            return Ok(Some(t.clone()));
        }
        let loaded =
            crate::peer::local_tls(manager.plan()).map_err(|e| format!("this host's TLS files (rest-api-ssl): {e}"))?;
        kept.clone_from(&loaded);
        Ok(loaded)
    }
}

/// Polls every host of the deployment and builds the page's model; `tls`:
/// this host's REST TLS ([`crate::peer::local_tls`]), or why it is missing.
pub async fn snapshot(
    manager: &Arc<Manager>,
    ini: Option<&IniSource>,
    tls: Result<Option<crate::tls::TlsHandle>, String>,
) -> Snapshot {
    let me = manager.host().to_owned();
    let loaded = match ini {
        Some(src) => src.load().map(|d| (src.ini.display().to_string(), d)).map_err(|e| {
            format!(
                "cannot read {} ({e}); showing this host's services only",
                src.ini.display()
            )
        }),
        None => Err("this replicator was started without its ini: showing its own services only".to_owned()),
    };
    let (source, dep, notice) = match loaded {
        Ok((path, d)) => (path, Some(d), None),
        Err(why) => ("this host".to_owned(), None, Some(why)),
    };
    let Some(dep) = dep else {
        let local = local_answer(manager);
        let dataservices = manager
            .plan()
            .services
            .iter()
            .map(|s| DsView {
                name: s.service.clone(),
                relay_source: None,
                hosts: vec![HostView {
                    host: me.clone(),
                    ini_role: s.role,
                    answer: Ok(pick(&local, &s.service)),
                }],
            })
            .collect();
        return Snapshot {
            served_by: me,
            generated_ms: crate::clock::now_ms(),
            source,
            notice,
            composites: Vec::new(),
            dataservices,
        };
    };

    // Every host once, even one of several dataservices.
    let mut hosts: Vec<String> = Vec::new();
    for h in dep.dataservices.iter().flat_map(|d| d.hosts()) {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut answers: Vec<(String, Result<Polled, String>)> = Vec::new();
    for host in &hosts {
        if *host == me {
            answers.push((host.clone(), Ok(local_answer(manager))));
            continue;
        }
        let peer = match (&tls, dep.service_plan(host)) {
            (_, Err(e)) => Err(e.to_string()),
            (Err(e), Ok(plan)) if plan.rest_tls.is_some() => Err(e.clone()),
            (Ok(t), Ok(plan)) => Peer::of(&plan, t.as_ref()).map(|p| with_readonly(p, &plan)),
            (Err(_), Ok(plan)) => Peer::of(&plan, None).map(|p| with_readonly(p, &plan)),
        };
        let services: Vec<String> = dep
            .dataservices
            .iter()
            .filter(|d| d.hosts().contains(host))
            .map(|d| d.name.clone())
            .collect();
        let host = host.clone();
        tasks.spawn(async move {
            let answer = match peer {
                Ok(p) => poll(&p, &services).await,
                Err(e) => Err(e),
            };
            (host, answer)
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(a) => answers.push(a),
            Err(e) => tracing::warn!("status page: a poll task failed: {e}"),
        }
    }
    let dataservices = dep
        .dataservices
        .iter()
        .map(|d| DsView {
            name: d.name.clone(),
            relay_source: d.relay_source().map(str::to_owned),
            hosts: d
                .hosts()
                .into_iter()
                .map(|h| {
                    let answer = match answers.iter().find(|(name, _)| *name == h) {
                        Some((_, Ok(p))) if p.status.contains_key(&d.name) => Ok(pick(p, &d.name)),
                        Some((_, Ok(_))) => Err(format!(
                            "its replicator runs no service {} (started from another ini?)",
                            d.name
                        )),
                        Some((_, Err(e))) => Err(e.clone()),
                        None => Err("the poll of this host failed (see the replicator's log)".to_owned()),
                    };
                    HostView {
                        ini_role: dep.role_in(d, &h),
                        host: h,
                        answer,
                    }
                })
                .collect(),
        })
        .collect();
    Snapshot {
        served_by: me,
        generated_ms: crate::clock::now_ms(),
        source,
        notice,
        composites: dep
            .composites
            .iter()
            .map(|c| CompositeView {
                name: c.name.clone(),
                members: c.members.clone(),
            })
            .collect(),
        dataservices,
    }
}

/// `peer` asked with the read-only user when the ini names one: the page
/// only reads.
fn with_readonly(mut peer: Peer, plan: &crate::config::HostPlan) -> Peer {
    if let (Some(u), Some(p)) = (&plan.rest_readonly_user, &plan.rest_readonly_password) {
        peer.credentials = Some((u.clone(), p.expose().to_owned()));
    }
    peer
}

/// This host's services, from memory.
fn local_answer(m: &Manager) -> Polled {
    Polled {
        status: m
            .services()
            .iter()
            .map(|s| (s.name().to_owned(), status::status(m, s)))
            .collect(),
        history: m
            .services()
            .iter()
            .map(|s| {
                let samples = m.history().get(s.name()).map(|h| h.samples).unwrap_or_default();
                (s.name().to_owned(), samples)
            })
            .collect(),
    }
}

/// One service of a host's answer.
fn pick(p: &Polled, service: &str) -> HostAnswer {
    HostAnswer {
        status: p.status.get(service).cloned().unwrap_or_default(),
        history: p
            .history
            .iter()
            .find(|(s, _)| s == service)
            .map(|(_, h)| h.clone())
            .unwrap_or_default(),
    }
}

/// Asks `peer` for its status, then the history of each of `services` it
/// runs, all within [`PER_HOST`]. No status: why; no history: no chart.
async fn poll(peer: &Peer, services: &[String]) -> Result<Polled, String> {
    let deadline = tokio::time::Instant::now() + PER_HOST;
    let base = control::requests::API_BASE;
    let status: AllStatus = tokio::time::timeout_at(deadline, peer.get_json(&format!("{base}/status")))
        .await
        .map_err(|_| format!("no answer within {} s", PER_HOST.as_secs()))??;
    let mut history = Vec::new();
    for s in services.iter().filter(|s| status.contains_key(*s)) {
        let path = format!("{base}/service/{s}/history");
        match tokio::time::timeout_at(deadline, peer.get_json::<HistoryResponse>(&path)).await {
            Ok(Ok(mut h)) => {
                // No more than a ring holds, whatever the peer sent.
                let extra = h.samples.len().saturating_sub(crate::service::history::CAPACITY);
                h.samples.drain(..extra);
                history.push((s.clone(), h.samples));
            }
            Ok(Err(e)) => tracing::debug!(host = %peer.host, "status page: no history of {s}: {e}"),
            Err(_) => tracing::debug!(host = %peer.host, "status page: no history of {s} in time"),
        }
    }
    Ok(Polled { status, history })
}

//! One provision of a local service, run by its replicator
//! (`POST .../service/NAME/provision`; `tprovision` starts it and shows its
//! progress from `GET .../service/NAME/provision`).
//!
//! Steps: check the source (an ini host of a dataservice that carries this
//! one's history, `control/src/config/lineage.rs`, not this host, its
//! service ONLINE or OFFLINE:NORMAL, not a primary, at most `maxLag`
//! seqnos behind the history's live master); take the
//! service offline; stream the copy from the source's replicator; restore
//! it (`restore.rs`); take over the copied position; reset the THL and the
//! catalog (the THL then starts empty and the upstream resumes after the
//! copied position, as the handshake allows); online.
//!
//! Invariants: one provision per service at a time; the service stays
//! offline on any failure, with the reason in the status; the marker
//! (`service/marker.rs`) is written once the service is offline, so
//! `online` refuses while the provision runs; it is removed when the
//! provision fails before the local data changed, and otherwise only once
//! the copy and its position are in place, so a provision interrupted
//! anywhere (this replicator killed, the source killed) never lets a
//! half-copied node go online. An ONLINE master is never provisioned (its
//! position is its binlog); an offline one whose history has another
//! master now (a failed-over site) is, and follows that master as a relay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use control::requests::{BackupRequest, ProvisionMethod, ProvisionRequest};
use control::responses::{PositionAtResponse, ProvisionStatus, ServiceSummary};
use tracing::{error, info};

use super::fetch::request_backup;
use super::frame::Frame;
use super::restore;
use crate::config::{Deployment, HostPlan, Role, ServicePlan};
use crate::peer::{self, Peer};
use crate::service::marker::provision_marker;
use crate::service::reload::IniSource;
use crate::service::{ErrorKind, Manager, ResetScope, Service, ServiceError, State};
use crate::tls::TlsHandle;
use control::requests::API_BASE as BASE;

/// How long the provisioned service may take to come ONLINE.
const ONLINE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// The default of `maxLag`.
pub const DEFAULT_MAX_LAG: i64 = 1000;

/// The provisions of this replicator's services.
#[derive(Debug)]
pub struct Provisioner {
    manager: Arc<Manager>,
    ini: IniSource,
    status: Mutex<HashMap<String, ProvisionStatus>>,
}

/// A progress handle shared with the running job.
#[derive(Debug, Clone)]
struct Report {
    provisioner: Arc<Provisioner>,
    service: String,
    started: Instant,
}

impl Report {
    fn update(&self, f: impl FnOnce(&mut ProvisionStatus)) {
        if let Ok(mut all) = self.provisioner.status.lock() {
            if let Some(s) = all.get_mut(&self.service) {
                f(s);
                s.elapsed_seconds = self.started.elapsed().as_secs_f64();
            }
        }
    }
    fn phase(&self, phase: &str) {
        info!(service = %self.service, phase, "provision");
        self.update(|s| s.phase = phase.into());
    }
}

impl Provisioner {
    /// Where the deployment is described.
    pub fn ini(&self) -> &IniSource {
        &self.ini
    }

    pub fn new(manager: Arc<Manager>, ini: IniSource) -> Arc<Provisioner> {
        Arc::new(Provisioner {
            manager,
            ini,
            status: Mutex::new(HashMap::new()),
        })
    }

    /// Where the provision of `service` stands.
    pub fn status(&self, service: &str) -> Result<ProvisionStatus, ServiceError> {
        self.manager.service(service)?;
        let all = self.status.lock().map_err(|_| poisoned())?;
        Ok(all.get(service).cloned().unwrap_or_else(|| ProvisionStatus {
            phase: "idle".into(),
            ..Default::default()
        }))
    }

    /// Starts a provision of `service` (409 while one runs).
    pub fn start(self: &Arc<Self>, service: &str, req: ProvisionRequest) -> Result<ProvisionStatus, ServiceError> {
        let svc = self.manager.service(service)?.clone();
        let status = ProvisionStatus {
            phase: "checking".into(),
            source: req.source.clone(),
            method: req.method.name().into(),
            ..Default::default()
        };
        {
            let mut all = self.status.lock().map_err(|_| poisoned())?;
            if let Some(s) = all.get(service).filter(|s| !s.finished()) {
                return Err(ServiceError::new(
                    ErrorKind::Conflict,
                    format!(
                        "a provision of {service} from {} is already running ({})",
                        s.source, s.phase
                    ),
                ));
            }
            all.insert(service.to_owned(), status.clone());
        }
        let report = Report {
            provisioner: self.clone(),
            service: service.to_owned(),
            started: Instant::now(),
        };
        let host = self.manager.plan().clone();
        let ini = self.ini.clone();
        tokio::spawn(async move {
            match run(&svc, &host, &ini, &req, &report).await {
                Ok(position) => {
                    info!(service = %svc.name(), %position, "provision done");
                    report.update(|s| {
                        s.phase = "done".into();
                        s.position = Some(position);
                    });
                }
                Err(e) => {
                    error!(service = %svc.name(), "provision failed: {e}");
                    report.update(|s| {
                        s.phase = "failed".into();
                        s.error = Some(e);
                    });
                }
            }
        });
        Ok(status)
    }
}

fn poisoned() -> ServiceError {
    ServiceError::new(ErrorKind::Failed, "provision status lock poisoned")
}

/// The source's REST API, and the service of the source whose history
/// this node takes.
struct Source {
    peer: Peer,
    host: String,
    service: String,
    /// The source is its dataservice's primary (`--allow-primary`): the
    /// copy's position comes from its binlog position, not from a
    /// `trep_commit_seqno` row.
    primary: bool,
}

/// The checks of the module doc, before anything changes.
/// `local`: this host's TLS as a REST client (`peer::local_tls`).
async fn check_source(
    deployment: &Deployment,
    me: &HostPlan,
    local: Option<&TlsHandle>,
    svc: &ServicePlan,
    req: &ProvisionRequest,
) -> Result<Source, String> {
    let host = deployment.host_named(&req.source).map_err(|e| e.to_string())?;
    if host == me.host {
        return Err(format!(
            "the source {host} is this host: name another host of {}",
            svc.service
        ));
    }
    let allowed = deployment.provision_sources(&svc.service);
    let source_ds = deployment.dataservice_of(&host).unwrap_or_default().to_owned();
    if !allowed.contains(&source_ds) {
        return Err(format!(
            "{host} is in dataservice {source_ds}, which does not carry {}'s history: provision from a host of {}",
            svc.service,
            allowed.join(" or ")
        ));
    }
    let plan = deployment.service_plan(&host).map_err(|e| e.to_string())?;
    let peer = Peer::of(&plan, local).map_err(|e| format!("{e}: it cannot serve a copy"))?;
    let rest = peer.addr;
    if Peer::of(me, local).is_ok_and(|mine| mine.addr == rest) {
        return Err(format!(
            "{host}'s REST API resolves to this host's own ({rest}): check the hosts' addresses (--hosts-file, DNS)"
        ));
    }
    let mut source = Source {
        peer,
        host: host.clone(),
        service: source_ds.clone(),
        primary: false,
    };
    let services: Vec<ServiceSummary> = source.peer.get_json(&format!("{BASE}/services")).await?;
    let theirs = services
        .iter()
        .find(|s| s.service_name == source_ds)
        .ok_or_else(|| format!("{host}'s replicator runs no service {source_ds}"))?;
    if !matches!(theirs.state, State::Online | State::OfflineNormal) {
        return Err(format!(
            "{host}'s service {source_ds} is {}: a source must be ONLINE or OFFLINE:NORMAL (fix it, or choose another source)",
            theirs.state
        ));
    }
    if theirs.role == Role::Master {
        if !req.allow_primary {
            return Err(format!(
                "{host} is the primary of {source_ds}: provision from a replica (its copy holds the position), \
                 or pass --allow-primary"
            ));
        }
        if req.method != ProvisionMethod::Mariabackup {
            return Err(format!(
                "{host} is the primary of {source_ds}: from a primary only mariabackup is offered (its copy names \
                 the binlog position it is consistent with, which sets the position): use -m mariabackup"
            ));
        }
        source.primary = true;
        return Ok(source);
    }
    let applied: i64 = theirs.applied_last_seqno.parse().unwrap_or(-1);
    if applied < 0 {
        return Err(format!("{host} has applied nothing yet: choose a source that has"));
    }
    let (master, head) = history_master(deployment, local, &source_ds, "").await?;
    let max_lag = req.max_lag.unwrap_or(DEFAULT_MAX_LAG);
    if head - applied > max_lag {
        return Err(format!(
            "{host} is {} seqnos behind (applied {applied}; the master {master} is at {head}), more than maxLag {max_lag}: \
             wait until it catches up, or choose another source",
            head - applied
        ));
    }
    Ok(source)
}

/// A master is provisioned only when it is a former one: offline, and
/// another head of its history is master (its site failed over and its
/// data diverged, `trepctl composite recover`). It then rejoins as a relay
/// of that master: the upstream for it.
async fn former_master_upstream(
    deployment: &Deployment,
    me: &str,
    local: Option<&TlsHandle>,
    ds: &str,
    state: State,
) -> Result<Option<String>, String> {
    if state == State::Online {
        return Err(format!(
            "{me} is the ONLINE master of {ds}: a master's position is its binlog, not a copy's; provision slaves \
             and relays (or `trepctl setrole -role slave` first)"
        ));
    }
    let (master, _) = history_master(deployment, local, ds, me).await.map_err(|e| {
        format!("{me} is a master of {ds} and no other master of its history was found to follow after the copy: {e}")
    })?;
    let master_ds = deployment.dataservice_of(&master).unwrap_or_default();
    let uri = deployment
        .head_uri(master_ds)
        .ok_or_else(|| format!("no THL address for {master}, the master of {master_ds}"))?;
    info!(%master, %uri, "a former master: after the copy it follows the history's master as a relay");
    Ok(Some(uri))
}

/// The live master of `ds`'s history (one of the heads of the dataservices
/// that carry it, `lineage.rs`, whichever a switch made master) but
/// `skip`, and its last seqno; an error naming every head and why it did
/// not count.
async fn history_master(
    deployment: &Deployment,
    local: Option<&TlsHandle>,
    ds: &str,
    skip: &str,
) -> Result<(String, i64), String> {
    let (peers, mut why) = peer::history_heads(deployment, ds, skip, local);
    match peer::master_among(&peers, std::time::Duration::from_secs(30), |_| true).await {
        Ok((p, m)) => Ok((p.host, m.applied_last_seqno.parse().unwrap_or(-1))),
        Err(more) => {
            why.extend(more);
            Err(format!(
                "no master of {ds}'s history answered, to measure the source's lag ({})",
                why.join("; ")
            ))
        }
    }
}

async fn run(
    svc: &Arc<Service>,
    me: &HostPlan,
    ini: &IniSource,
    req: &ProvisionRequest,
    report: &Report,
) -> Result<String, String> {
    let deployment = ini.load()?;
    let plan = svc.plan().clone();
    let local = peer::local_tls(me)?;
    let view = svc.view();
    let rejoin = if view.role == Role::Master {
        former_master_upstream(&deployment, &me.host, local.as_ref(), &plan.service, view.state).await?
    } else {
        None
    };
    let source = check_source(&deployment, me, local.as_ref(), &plan, req).await?;
    report.update(|s| s.source = source.host.clone());
    report.phase("offline");
    svc.offline(false).await.map_err(|e| e.message)?;
    let datadir = match req.method {
        ProvisionMethod::Mariabackup => {
            let d = restore::data_directory(&plan).await?;
            restore::check_swappable(&d)?;
            Some(d)
        }
        ProvisionMethod::Mysqldump => None,
    };
    report.phase("copying");
    let backup = BackupRequest {
        method: req.method,
        threads: req.threads,
    };
    let mut stream = request_backup(&source.peer, &backup).await?;
    let header = match stream.next().await? {
        Some(Frame::Header(h)) => h,
        Some(Frame::Failed(m)) => return Err(format!("the source {} failed: {m}", source.host)),
        Some(_) => return Err(format!("the source {} sent data before its header", source.host)),
        None => return Err(format!("the source {} sent nothing", source.host)),
    };
    report.update(|s| s.expected_bytes = header.expected_bytes);
    let marker = provision_marker(&plan);
    let mark = || {
        if let Some(dir) = marker.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(
            &marker,
            format!(
                "from {} by {}, started by this replicator\n",
                source.host,
                req.method.name()
            ),
        )
        .map_err(|e| format!("cannot write the provision marker {}: {e}", marker.display()))
    };
    // Marked from here on: `online` refuses until the provision ends (a
    // failure before the local data changed removes the mark again).
    mark()?;
    let mut data_changed = false;
    let work = super::scratch_dir()?;
    let result = async {
        let staging = datadir.as_deref().map(restore::staging_dir);
        let mut sink = match &staging {
            Some(staging) => restore::unpack_into(staging)?,
            None => {
                data_changed = true;
                restore::drop_schemas_not_in(&plan, &header.schemas).await?;
                let cnf = super::backup::write_option_file(work.path(), &plan)?;
                restore::load_into_database(&cnf).await?
            }
        };
        let mut received = 0u64;
        loop {
            match stream.next().await? {
                Some(Frame::Data(d)) => {
                    sink.write(&d).await?;
                    received += d.len() as u64;
                    report.update(|s| s.bytes = received);
                }
                Some(Frame::End(end)) if end.bytes == received => break,
                Some(Frame::End(end)) => {
                    return Err(format!(
                        "the source {} sent {} bytes but says it sent {}: the copy is incomplete",
                        source.host, received, end.bytes
                    ))
                }
                Some(Frame::Failed(m)) => return Err(format!("the source {} failed: {m}", source.host)),
                Some(Frame::Header(_)) => return Err("a second header in the stream".into()),
                None => return Err("the stream ended without its end frame".into()),
            }
        }
        sink.finish().await?;
        let mut from_primary = None;
        if let (Some(staging), Some(datadir)) = (&staging, &datadir) {
            report.phase("preparing");
            restore::prepare(staging).await?;
            if source.primary {
                let at = restore::binlog_position_of_copy(staging)?;
                from_primary = Some(seqno_at(&source, &at).await?);
            }
            report.phase("restarting");
            data_changed = true;
            restore::boot(&plan, "stop").await?;
            let swapped = restore::swap(datadir, staging);
            let started = restore::boot(&plan, "start").await;
            match (swapped, started) {
                (Ok(()), Ok(())) => {}
                (Err(e), Ok(())) => return Err(format!("{e} (MariaDB was started again on its previous data)")),
                (_, Err(e)) => return Err(format!("{e}: the local MariaDB is STOPPED; start it by hand")),
            }
            restore::wait_for_database(&plan).await?;
        }
        Ok::<_, String>(from_primary)
    }
    .await;
    drop(work);
    let from_primary = match result {
        Ok(p) => p,
        Err(e) => {
            if let Some(staging) = datadir.as_deref().map(restore::staging_dir) {
                let _ = std::fs::remove_dir_all(staging);
            }
            if !data_changed {
                let _ = std::fs::remove_file(&marker);
            }
            return Err(e);
        }
    };
    report.phase("positioning");
    let position = match from_primary {
        Some(point) => restore::write_position(&plan, &point).await?,
        None => restore::take_position(&plan, &source.service, &plan.service).await?,
    };
    svc.reset(ResetScope {
        thl: true,
        ..Default::default()
    })
    .await
    .map_err(|e| e.message)?;
    if let Some(uri) = rejoin {
        svc.set_role(Role::Relay, vec![uri]).await.map_err(|e| e.message)?;
    }
    std::fs::remove_file(&marker)
        .map_err(|e| format!("cannot remove the provision marker {}: {e}", marker.display()))?;
    report.phase("online");
    svc.online(&Default::default()).map_err(|e| e.message)?;
    let reached = svc.wait_state("ONLINE", ONLINE_TIMEOUT).await;
    if !reached.reached {
        let why = svc.view().error.map(|e| format!(": {}", e.error)).unwrap_or_default();
        return Err(format!(
            "the copy is in place ({position}) but the service did not come ONLINE (it is {}{why}); see \
             `trepctl status`",
            reached.state
        ));
    }
    Ok(format!("{position}, copied from {} ({})", source.host, source.service))
}

/// How long the primary's THL may take to reach the copy's binlog
/// position (its extractor is behind by at most that).
const POSITION_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The primary's THL transaction that the copy ends with: asked of the
/// primary's replicator until its THL reaches the position.
async fn seqno_at(source: &Source, at: &str) -> Result<PositionAtResponse, String> {
    let path = format!("{BASE}/service/{}/position-at?binlog={at}", source.service);
    let deadline = Instant::now() + POSITION_WAIT;
    loop {
        match source.peer.get_json::<PositionAtResponse>(&path).await {
            Ok(p) => return Ok(p),
            Err(e) if e.contains("does not reach") && Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(format!(
                    "the copy's binlog position {at} has no THL transaction on {}: {e}",
                    source.host
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HostsFile, Resolver};
    use crate::service::tests::{until_state, FakeLauncher};
    use crate::service::PipelineFailure;

    /// A source whose service is in OFFLINE:ERROR is refused with its
    /// state, before anything changes.
    #[tokio::test]
    async fn a_source_in_offline_error_is_refused() {
        let listener = tokio::net::TcpListener::bind("127.77.0.2:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let ini = format!(
            "[defaults]\nreplication-password=x\nrest-api-admin-user=admin\nrest-api-admin-password=pw\n\
             replicator-rest-api-address=0.0.0.0\nreplicator-rest-api-port={port}\n\
             [alpha]\nmaster=a1\nmembers=a1,a2\n[north]\nrelay=n1\nmembers=n1\nrelay-source=alpha\n"
        );
        let hosts = HostsFile::parse("127.77.0.1 a1\n127.77.0.2 a2\n127.77.0.3 n1\n", "hosts").expect("hosts");
        let deployment = Deployment::parse(&ini, "t.ini")
            .expect("ini")
            .with_resolver(Resolver::new(Some(hosts)).with_system(false));
        let fake = Arc::new(FakeLauncher::default());
        *fake.refuse.lock().expect("lock") = Some(PipelineFailure::definite("APPLY", "the target refused seqno 7"));
        let source = Manager::new(deployment.service_plan("a2").expect("a2"), fake);
        let svc = source.service("alpha").expect("alpha").clone();
        assert!(svc.online(&Default::default()).is_err());
        until_state(&svc, State::OfflineError).await;
        let router = crate::rest::router(source.clone(), None);
        tokio::spawn(async move { axum::serve(listener, router).await });

        let me = deployment.service_plan("n1").expect("n1");
        let req = ProvisionRequest {
            source: "a2".into(),
            ..Default::default()
        };
        let err = check_source(&deployment, &me, None, &me.services[0], &req)
            .await
            .err()
            .expect("refused");
        assert!(err.contains("a2's service alpha is OFFLINE:ERROR"), "{err}");
    }
}

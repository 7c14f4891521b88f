//! The REST API (v2) of the replicator, and `/metrics`.
//!
//! # Invariants
//!
//! * With credentials configured (`rest-api-admin-user` /
//!   `rest-api-admin-password`), **every** route requires HTTP basic auth;
//!   a missing or wrong `Authorization` gets 401 before any handler runs, so
//!   it never changes state. Without credentials the daemon refuses to
//!   start ([`admin_credentials`]) unless the API listens on a loopback
//!   address and `rest-api-allow-anonymous=true`; it then warns.
//! * Every POST is audit-logged once it is answered: the user, the route,
//!   the status and the time it took. A read-only user
//!   (`rest-api-readonly-user`) may call the GET routes only; its POSTs get
//!   403 and change nothing.
//! * Bodies are at most [`MAX_BODY_BYTES`] (413 beyond); every `limit` is
//!   at most [`MAX_LIMIT_SECONDS`] (400 beyond), `threads` at most
//!   [`MAX_PROVISION_THREADS`].
//! * Bodies are JSON (an empty body means "no options"); unknown fields are
//!   refused. Request bodies are the types of `control::requests`, answers
//!   those of `control::responses` (shared with `trepctl`; the table below
//!   names them). Every error is `{"error": "<message with the fix>",
//!   "status": <code>}` (`ErrorBody`) with 400 (bad option), 401, 404 (no
//!   such service), 409 (wrong state or role), 500 (the command failed) or
//!   504 (timeout).
//! * The router is built by [`router`] and tested in memory.
//! * The status page (`/`) is GET only, like the JSON it is made of; it
//!   names no credential and runs no script (its `Content-Security-Policy`
//!   allows none).
//!
//! # Routes (base `/api/v2/replicator`)
//!
//! Answer types are those of `control::responses`; a status map
//! (`StatusMap`) has Tungsten's property names and string values, and no
//! fixed set of properties.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/services` | | `[{serviceName, state, role, appliedLastSeqno, appliedLatency, relativeLatency, masterConnectUri, serviceType, started}]` (`Vec<ServiceSummary>`) |
//! | GET | `/status` | | `{service: status map}` (`AllStatus`) |
//! | GET | `/version` | | `{"version": ".."}` (`VersionResponse`) |
//! | GET | `/service/{name}/status[?name=tasks\|stores\|shards\|stages]` | | status map (`StatusMap`) or a list of maps (`Vec<StatusMap>`) |
//! | POST | `/service/{name}/online` | `{skipSeqno?: "10,12-14", fromEvent?, baseSeqno?, untilSeqno?, force?}` | `{serviceName, state}` (`StateResponse`) |
//! | POST | `/service/{name}/offline` | `{immediate?}` | `{serviceName, state}` (`StateResponse`) |
//! | POST | `/service/{name}/offline-deferred` | `{atSeqno}` | `{serviceName, state, offlineRequests}` (`OfflineDeferredResponse`) |
//! | POST | `/service/{name}/setrole` | `{role: master\|primary\|slave\|replica\|relay, uri?: "thl://h:2112/[,..]"}` | `{role, upstream, time_ms}` (`SetroleResponse`) |
//! | POST | `/service/{name}/reset` | `{all?, thl?, db?}` | `{removed: [..]}` (`ResetResponse`) |
//! | POST | `/service/{name}/heartbeat` | `{name?}` | `{name, salt, binlogFile, binlogPos}` (`HeartbeatResponse`) |
//! | POST | `/service/{name}/read-only` | `{readOnly: bool}` | `{before, readOnly}` (`ReadOnlyResponse`): `SET GLOBAL read_only` on the host's database (the fence of `trepctl composite switch`) |
//! | POST | `/service/{name}/flush` | `{limit?: seconds}` | `{seqno}` (`FlushResponse`) |
//! | POST | `/service/{name}/wait` | `{applied: N \| state: "ONLINE", limit?: seconds}` | `{reached, state, appliedLastSeqno}` (`WaitResponse`) |
//! | GET | `/service/{name}/clients` | | `[{clientId, peer, lastAckedSeqno, appliedSeqno, connectedSince}]` (`Vec<ClientEntry>`) |
//! | POST | `/service/{name}/provision` | `{source, method?: mariabackup\|mysqldump, threads?, allowPrimary?, maxLag?}` | 202, `ProvisionStatus`: the provision started (`tprovision`; `crate::provision`) |
//! | GET | `/service/{name}/provision` | | `ProvisionStatus`: its phase, bytes copied of expected, position, error |
//! | GET | `/service/{name}/position-at?binlog=FILE:POS` | | `{seqno, epoch, eventId, sourceId}` (`PositionAtResponse`): the THL's last transaction ending at or before that binlog position; 409 while the THL does not reach it (`provision/position.rs`) |
//! | POST | `/reload` | | `{ini, applied: [..]}` (`ReloadReport`): the ini re-read; 409 naming what needs a restart (`service::reload`) |
//! | POST | `/provision/backup` | `{method?, threads?}` | the framed copy of this host's database (`provision/frame.rs`), for a provisioning replicator; like `provision` and `reload`, 403 when the API runs without credentials |
//! | GET | `/service/{name}/history` | | `{intervalSeconds, samples: [{appliedLastSeqno, appliedLatency, rate, relativeLatency, state, timeMs}], serviceName}` (`HistoryResponse`): the last hour, a sample every 10 s, oldest first; unknown figures `null` (`service::history`) |
//! | GET | `/metrics` (no base) | | Prometheus text ([`metrics`]) |
//! | GET | `/` (no base) | | the status page, HTML ([`page`]): the ini's topology and every host's state, figures and last hour, polled from their REST APIs; refreshes itself every 5 s |

pub mod metrics;
pub mod page;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::Role;
use crate::provision::{backup, position, Provisioner};
use crate::service::{status, Manager, OnlineRequest};
use crate::service::{ErrorKind, ResetScope, ServiceError};
use control::requests::{
    BackupRequest, FlushRequest, HeartbeatRequest, OfflineDeferredRequest, OfflineRequest, ProvisionRequest,
    ReadOnlyRequest, SetroleRequest, WaitRequest,
};
use control::responses::{
    AllStatus, ErrorBody, FlushResponse, HeartbeatResponse, OfflineDeferredResponse, ReadOnlyResponse, ServiceSummary,
    SetroleResponse, StateResponse, VersionResponse,
};

/// The API's base path.
pub const BASE: &str = control::requests::API_BASE;

/// Basic-auth credentials the API requires.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The REST API's admin credentials from `plan`. Without them the API
/// would let anyone who reaches it drive every service (and read a copy of
/// the data through the provisioning route): refused, unless it listens on
/// a loopback address and the ini says `rest-api-allow-anonymous=true` (a
/// test deployment).
pub fn admin_credentials(
    plan: &crate::config::HostPlan,
    addr: std::net::SocketAddr,
) -> Result<Option<Credentials>, String> {
    if let (Some(user), Some(password)) = (&plan.rest_user, &plan.rest_password) {
        return Ok(Some(Credentials {
            user: user.clone(),
            password: password.expose().to_owned(),
        }));
    }
    let allowed = plan.services.iter().any(|s| s.settings.rest_api_allow_anonymous);
    if allowed && addr.ip().is_loopback() {
        tracing::warn!(%addr, "REST API without authentication (rest-api-allow-anonymous=true, loopback only)");
        return Ok(None);
    }
    Err(format!(
        "the REST API at {addr} would accept anyone: set rest-api-admin-user and rest-api-admin-password (or \
         replicator-rest-api=false; a test deployment on a loopback address may set rest-api-allow-anonymous=true)"
    ))
}

/// The one error type of the API, turned into a response in one place.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(String),
    Service(ServiceError),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        ApiError::Service(e)
    }
}

fn bad_request(m: impl Into<String>) -> ApiError {
    ApiError::Service(ServiceError::new(ErrorKind::BadRequest, m))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::Service(e) => (
                match e.kind {
                    ErrorKind::NotFound => StatusCode::NOT_FOUND,
                    ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
                    ErrorKind::Conflict => StatusCode::CONFLICT,
                    ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                    ErrorKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                },
                e.message,
            ),
        };
        let body = ErrorBody {
            error: message,
            status: code.as_u16(),
        };
        let mut resp = (code, Json(body)).into_response();
        if code == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"replicator\""),
            );
        }
        resp
    }
}

type ApiResult = Result<Response, ApiError>;

#[derive(Debug, Clone)]
struct App {
    manager: Arc<Manager>,
    auth: Option<Arc<Credentials>>,
    /// The read-only user (`rest-api-readonly-user`): GET routes only.
    readonly: Option<Arc<Credentials>>,
    provisioner: Option<Arc<Provisioner>>,
    /// The status page's last rendering ([`page::PageCache`]).
    page: Arc<page::PageCache>,
}

/// The API over `manager`; `auth` `None` leaves it open. Without a
/// provisioner the provision routes answer 404.
pub fn router(manager: Arc<Manager>, auth: Option<Credentials>) -> Router {
    router_with(manager, auth, None)
}

/// [`router`] with the provisioning of this host's services.
pub fn router_with(manager: Arc<Manager>, auth: Option<Credentials>, provisioner: Option<Arc<Provisioner>>) -> Router {
    router_full(manager, auth, None, provisioner)
}

/// [`router_with`] and a read-only user, who may call the GET routes
/// (status, services, metrics, ...) and nothing that changes state (403).
/// It counts only when `auth` is set.
pub fn router_full(
    manager: Arc<Manager>,
    auth: Option<Credentials>,
    readonly: Option<Credentials>,
    provisioner: Option<Arc<Provisioner>>,
) -> Router {
    let app = App {
        manager,
        auth: auth.map(Arc::new),
        readonly: readonly.map(Arc::new),
        provisioner,
        page: Arc::default(),
    };
    let svc = |p: &str| format!("{BASE}/service/{{name}}/{p}");
    Router::new()
        .route(&format!("{BASE}/services"), get(services))
        .route(&format!("{BASE}/status"), get(all_status))
        .route(&format!("{BASE}/version"), get(version))
        .route(&svc("status"), get(service_status))
        .route(&svc("online"), post(online))
        .route(&svc("offline"), post(offline))
        .route(&svc("offline-deferred"), post(offline_deferred))
        .route(&svc("setrole"), post(setrole))
        .route(&svc("reset"), post(reset))
        .route(&svc("heartbeat"), post(heartbeat))
        .route(&svc("flush"), post(flush))
        .route(&svc("read-only"), post(read_only))
        .route(&svc("wait"), post(wait))
        .route(&svc("clients"), get(clients))
        .route(&svc("provision"), post(provision_start).get(provision_status))
        .route(&svc("position-at"), get(position_at))
        .route(&format!("{BASE}/provision/backup"), post(provision_backup))
        .route(&format!("{BASE}/reload"), post(reload))
        .route(&svc("history"), get(history))
        .route("/metrics", get(metrics_text))
        .route("/", get(status_page))
        .fallback(|| async {
            ApiError::Service(ServiceError::new(
                ErrorKind::NotFound,
                format!("no such route; the API is under {BASE}/ (see the replicator::rest docs)"),
            ))
        })
        .layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(app)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The user of a valid `Authorization: Basic` header.
fn check_basic(headers: &HeaderMap, want: &Credentials) -> Result<String, String> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("authentication required: send HTTP basic auth with rest-api-admin-user / rest-api-admin-password")?;
    let text = value.to_str().map_err(|_| "malformed Authorization header")?;
    let encoded = text
        .strip_prefix("Basic ")
        .ok_or("only HTTP basic authentication is accepted")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "malformed basic credentials (not base64)")?;
    let decoded = String::from_utf8(decoded).map_err(|_| "malformed basic credentials (not UTF-8)")?;
    let (user, password) = decoded.split_once(':').ok_or("malformed basic credentials (no ':')")?;
    let ok_user = constant_time_eq(user.as_bytes(), want.user.as_bytes());
    let ok_pass = constant_time_eq(password.as_bytes(), want.password.as_bytes());
    if ok_user && ok_pass {
        Ok(user.to_owned())
    } else {
        Err("wrong user or password (check rest-api-admin-user / rest-api-admin-password)".into())
    }
}

async fn authenticate(AxState(app): AxState<App>, req: Request, next: Next) -> Response {
    let changes_state = req.method() != axum::http::Method::GET;
    let user = match &app.auth {
        None => "anonymous".to_owned(),
        Some(admin) => match check_basic(req.headers(), admin) {
            Ok(u) => u,
            Err(m) => match app.readonly.as_deref().map(|ro| check_basic(req.headers(), ro)) {
                Some(Ok(u)) if !changes_state => u,
                Some(Ok(u)) => {
                    info!(user = %u, method = %req.method(), uri = %req.uri(), status = 403, "REST admin request refused: a read-only user");
                    return ApiError::Service(ServiceError::new(
                        ErrorKind::Forbidden,
                        format!(
                            "{u} is the read-only user (rest-api-readonly-user): it may read status, services and \
                             metrics; changes need rest-api-admin-user"
                        ),
                    ))
                    .into_response();
                }
                _ => {
                    info!(method = %req.method(), uri = %req.uri(), "REST request refused: {m}");
                    return ApiError::Unauthorized(m).into_response();
                }
            },
        },
    };
    if !changes_state {
        return next.run(req).await;
    }
    // The audit line of a state-changing request: who, what, and how it ended.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    info!(
        user = %user,
        %method,
        %uri,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "REST admin request"
    );
    resp
}

/// The longest `limit` a request may ask for: a week.
pub const MAX_LIMIT_SECONDS: u64 = 7 * 86_400;
/// The largest request body: every body is a small JSON object.
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// The most copy threads a provision may ask the source for.
pub const MAX_PROVISION_THREADS: u32 = 64;

/// A request's `limit` in seconds (`default` when absent), bounded by
/// [`MAX_LIMIT_SECONDS`].
fn seconds(limit: Option<u64>, default: u64) -> Result<Duration, ApiError> {
    match limit.unwrap_or(default) {
        s if s <= MAX_LIMIT_SECONDS => Ok(Duration::from_secs(s)),
        s => Err(bad_request(format!(
            "limit {s}: at most {MAX_LIMIT_SECONDS} seconds (a week)"
        ))),
    }
}

/// Parses a JSON body; empty means all defaults.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| bad_request(format!("bad JSON body: {e}")))
}

/// A 200 with `v` as JSON (one of the types of `control::responses`).
fn ok(v: impl Serialize) -> ApiResult {
    Ok(Json(v).into_response())
}

async fn services(AxState(app): AxState<App>) -> ApiResult {
    let list: Vec<ServiceSummary> = app
        .manager
        .services()
        .iter()
        .map(|s| status::service_summary(s))
        .collect();
    ok(list)
}

async fn all_status(AxState(app): AxState<App>) -> ApiResult {
    let m = &app.manager;
    let all: AllStatus = m
        .services()
        .iter()
        .map(|s| (s.name().to_owned(), status::status(m, s)))
        .collect();
    ok(all)
}

async fn version() -> ApiResult {
    ok(VersionResponse {
        version: status::version(),
    })
}

#[derive(Debug, Deserialize)]
struct StatusQuery {
    name: Option<String>,
}

async fn service_status(
    AxState(app): AxState<App>,
    Path(name): Path<String>,
    Query(q): Query<StatusQuery>,
) -> ApiResult {
    let m = &app.manager;
    let s = m.service(&name)?;
    match q.name.as_deref() {
        None | Some("") => ok(status::status(m, s)),
        Some("tasks") => ok(status::tasks(s)),
        Some("stores") => ok(status::stores(s)),
        Some("shards") => ok(status::shards(s)),
        Some("stages") => ok(status::stage_figures(s)),
        Some(other) => Err(bad_request(format!(
            "status -name {other:?}: supported names are tasks, stores, shards, stages"
        ))),
    }
}

async fn online(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let req: OnlineRequest = body(&bytes)?;
    let state = s.online(&req)?;
    ok(StateResponse {
        service_name: name,
        state,
    })
}

async fn offline(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: OfflineRequest = body(&bytes)?;
    let state = s.offline(b.immediate).await?;
    ok(StateResponse {
        service_name: name,
        state,
    })
}

async fn offline_deferred(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: OfflineDeferredRequest = body(&bytes)?;
    let at = b.at_seqno.ok_or_else(|| {
        bad_request("offline-deferred needs -at-seqno N (the other -at-* forms are not supported yet)")
    })?;
    s.offline_deferred(at)?;
    ok(OfflineDeferredResponse {
        offline_requests: format!("Offline at sequence number: {at}"),
        service_name: name,
        state: s.state(),
    })
}

async fn setrole(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: SetroleRequest = body(&bytes)?;
    let role: Role = b
        .role
        .as_deref()
        .ok_or_else(|| bad_request("setrole needs -role master|slave|relay"))?
        .parse()
        .map_err(|e: crate::config::UnknownRole| bad_request(e.to_string()))?;
    let uri: Vec<String> = b
        .uri
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect();
    let rec = s.set_role(role, uri).await?;
    ok(SetroleResponse {
        role: rec.role,
        time_ms: rec.time_ms,
        upstream: rec.upstream,
    })
}

async fn reset(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let scope: ResetScope = body(&bytes)?;
    ok(s.reset(scope).await?)
}

/// The provisioner, for a caller that authenticated: copying the whole
/// database, replacing it, or re-reading the ini is never open to anyone
/// who can reach the port (403 when the API runs without credentials).
fn provisioner(app: &App) -> Result<&Arc<Provisioner>, ApiError> {
    if app.auth.is_none() {
        return Err(ApiError::Service(ServiceError::new(
            ErrorKind::Forbidden,
            "provisioning and reload need the REST API's credentials: set rest-api-admin-user and \
             rest-api-admin-password in the ini",
        )));
    }
    app.provisioner.as_ref().ok_or_else(|| {
        ApiError::Service(ServiceError::new(
            ErrorKind::NotFound,
            "this replicator does not provision (it was started without its ini)",
        ))
    })
}

async fn provision_start(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let req: ProvisionRequest = body(&bytes)?;
    if req.source.trim().is_empty() {
        return Err(bad_request("provision needs a source host (tprovision -s HOST)"));
    }
    if req.threads.is_some_and(|t| t == 0 || t > MAX_PROVISION_THREADS) {
        return Err(bad_request(format!(
            "threads {}: from 1 to {MAX_PROVISION_THREADS}",
            req.threads.unwrap_or_default()
        )));
    }
    if req.max_lag.is_some_and(|l| l < 0) {
        return Err(bad_request(format!(
            "maxLag {}: a number of seqnos, 0 or more",
            req.max_lag.unwrap_or_default()
        )));
    }
    let status = provisioner(&app)?.start(&name, req)?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

async fn provision_status(AxState(app): AxState<App>, Path(name): Path<String>) -> ApiResult {
    ok(provisioner(&app)?.status(&name)?)
}

#[derive(Debug, Deserialize)]
struct PositionAtQuery {
    binlog: String,
}

async fn position_at(
    AxState(app): AxState<App>,
    Path(name): Path<String>,
    Query(q): Query<PositionAtQuery>,
) -> ApiResult {
    let dir = app.manager.service(&name)?.plan().thl_dir.clone();
    let host = app.manager.host().to_owned();
    let at = crate::extractor::event_id::EventId::parse(&q.binlog)
        .map_err(|e| {
            bad_request(format!(
                "binlog={}: {e} (write FILE:POS, e.g. mysql-bin.000003:4242)",
                q.binlog
            ))
        })?
        .at;
    let lookup = tokio::task::spawn_blocking(move || position::transaction_ending_at(&dir, &at, &host))
        .await
        .map_err(|e| ApiError::Service(ServiceError::new(ErrorKind::Failed, e.to_string())))?
        .map_err(|m| ApiError::Service(ServiceError::new(ErrorKind::Failed, m)))?;
    match lookup {
        position::Lookup::Found(answer) => ok(answer),
        position::Lookup::NotYet(last) => Err(ApiError::Service(ServiceError::new(
            ErrorKind::Conflict,
            format!(
                "the THL of {name} does not reach binlog position {} yet (its last transaction ends at {last})",
                q.binlog
            ),
        ))),
    }
}

async fn reload(AxState(app): AxState<App>) -> ApiResult {
    ok(crate::service::reload::reload(&app.manager, provisioner(&app)?.ini())?)
}

async fn provision_backup(AxState(app): AxState<App>, bytes: Bytes) -> ApiResult {
    provisioner(&app)?;
    let req: BackupRequest = body(&bytes)?;
    if req.threads.is_some_and(|t| t > MAX_PROVISION_THREADS) {
        return Err(bad_request(format!(
            "threads {}: at most {MAX_PROVISION_THREADS}",
            req.threads.unwrap_or_default()
        )));
    }
    let stream = backup::start(app.manager.plan(), req)
        .await
        .map_err(|m| ApiError::Service(ServiceError::new(ErrorKind::Failed, m)))?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

async fn heartbeat(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: HeartbeatRequest = body(&bytes)?;
    let hb = s.heartbeat(b.name.as_deref()).await?;
    ok(HeartbeatResponse {
        binlog_file: hb.binlog_file,
        binlog_pos: hb.binlog_pos,
        name: hb.name,
        salt: hb.salt,
    })
}

async fn flush(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: FlushRequest = body(&bytes)?;
    let seqno = s.flush(seconds(b.limit, 60)?).await?;
    ok(FlushResponse { seqno })
}

async fn read_only(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: ReadOnlyRequest = body(&bytes)?;
    let before = s.set_read_only(b.read_only).await?;
    ok(ReadOnlyResponse {
        before,
        read_only: b.read_only,
    })
}

async fn wait(AxState(app): AxState<App>, Path(name): Path<String>, bytes: Bytes) -> ApiResult {
    let s = app.manager.service(&name)?;
    let b: WaitRequest = body(&bytes)?;
    // Without -limit, wait up to a day (an HTTP request must end some day).
    let limit = seconds(b.limit, 86_400)?;
    let out = match (b.applied, b.state) {
        (Some(n), None) => s.wait_applied(n, limit).await,
        (None, Some(st)) => {
            Manager::check_state(&st)?;
            s.wait_state(&st, limit).await
        }
        _ => return Err(bad_request("wait needs exactly one of -applied N or -state S")),
    };
    ok(out)
}

async fn clients(AxState(app): AxState<App>, Path(name): Path<String>) -> ApiResult {
    let s = app.manager.service(&name)?;
    ok(s.clients())
}

async fn metrics_text(AxState(app): AxState<App>) -> ApiResult {
    let text = metrics::render(&app.manager);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

async fn history(AxState(app): AxState<App>, Path(name): Path<String>) -> ApiResult {
    let s = app.manager.service(&name)?;
    let h = app.manager.history().get(s.name()).ok_or_else(|| {
        ApiError::Service(ServiceError::new(
            ErrorKind::NotFound,
            format!("no history of service {name} (it is sampled from the replicator's start)"),
        ))
    })?;
    ok(h)
}

/// The status page ([`page`]): HTML, never cached by the browser, no
/// script or outside resource allowed.
async fn status_page(AxState(app): AxState<App>) -> ApiResult {
    let html = app
        .page
        .page(&app.manager, app.provisioner.as_ref().map(|p| p.ini()))
        .await;
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html.as_str().to_owned(),
    )
        .into_response())
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    tls: Option<crate::tls::TlsHandle>,
) -> std::io::Result<()> {
    match tls {
        None => axum::serve(listener, router).with_graceful_shutdown(shutdown).await,
        Some(tls) => serve_https(listener, router, shutdown, tls).await,
    }
}

/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE: Duration = Duration::from_secs(10);

/// HTTPS (`rest-api-ssl`): each connection's TLS handshake (bounded), then
/// HTTP/1.1 on it; the certificate files are read again when they change
/// (`crate::tls`). Stops accepting at `shutdown`.
async fn serve_https(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    tls: crate::tls::TlsHandle,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "REST accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.0.server());
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(TLS_HANDSHAKE, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return tracing::info!(%peer, "REST TLS handshake failed: {e}"),
                Err(_) => return tracing::info!(%peer, "REST TLS handshake timed out"),
            };
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(%peer, "REST connection ended: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests;

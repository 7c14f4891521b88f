//! A client of the other replicators' REST APIs (HTTP/1.1, basic auth with
//! the ini's credentials): what a replicator asks of its peers (a
//! provision's source and lag, whether another master of its history is
//! online), and where each peer's API is.
//!
//! Invariants: connecting, the answer's head and the reading of a body
//! have timeouts; an error answer is read up to 64 KiB and its message
//! returned; other answers up to 16 MiB; nothing read is trusted (a
//! malformed answer is an error naming the peer, never a panic).

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use control::responses::ErrorBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;

use control::responses::ServiceSummary;

use crate::config::{Deployment, HostPlan, Role};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a peer's REST API is, the credentials it takes, and the TLS it
/// speaks (`rest-api-ssl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its ini host name (also the name its certificate must carry).
    pub host: String,
    pub addr: SocketAddr,
    pub credentials: Option<(String, String)>,
    /// HTTPS, verified with this host's CA.
    pub tls: Option<crate::tls::TlsHandle>,
}

impl Peer {
    /// The REST API of `plan`'s host: its listen address, or its own
    /// address when it listens on all (or loopback) addresses. `local`:
    /// this host's TLS ([`local_tls`]), needed when the peer speaks HTTPS.
    pub fn of(plan: &HostPlan, local: Option<&crate::tls::TlsHandle>) -> Result<Peer, String> {
        let listen = plan
            .rest_listen
            .ok_or_else(|| format!("host {} has replicator-rest-api=false", plan.host))?;
        let ip = if listen.ip().is_unspecified() || listen.ip().is_loopback() {
            plan.address
        } else {
            listen.ip()
        };
        let tls = match (&plan.rest_tls, local) {
            (None, _) => None,
            (Some(_), Some(t)) => Some(t.clone()),
            (Some(_), None) => {
                return Err(format!(
                    "{} serves its REST API over HTTPS (rest-api-ssl): this host needs ssl-cert, ssl-key and ssl-ca \
                     (and rest-api-ssl) to reach it",
                    plan.host
                ))
            }
        };
        Ok(Peer {
            host: plan.host.clone(),
            addr: SocketAddr::new(ip, listen.port()),
            credentials: plan
                .rest_user
                .clone()
                .zip(plan.rest_password.as_ref().map(|p| p.expose().to_owned())),
            tls,
        })
    }

    /// The credentials as [`get_json`] takes them.
    pub fn creds(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// `GET path` on this peer, decoded from JSON.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        fetch_json(self.addr, self.creds(), self.tls_to(), path).await
    }

    /// `GET path` on this peer, as text (`/metrics`).
    pub async fn get_text(&self, path: &str) -> Result<String, String> {
        let body = fetch(self.addr, self.creds(), self.tls_to(), path).await?;
        String::from_utf8(body.to_vec()).map_err(|e| format!("GET {path} from {}: {e}", self.host))
    }

    /// The TLS of a request to this peer: the handle and the name to check.
    pub(crate) fn tls_to(&self) -> Option<(&crate::tls::TlsHandle, &str)> {
        self.tls.as_ref().map(|t| (t, self.host.as_str()))
    }
}

/// This host's TLS as a REST client (`rest-api-ssl` with its `ssl-*`
/// files), for peers that speak HTTPS.
pub fn local_tls(me: &HostPlan) -> Result<Option<crate::tls::TlsHandle>, String> {
    me.rest_tls
        .as_ref()
        .map(|p| crate::tls::load(p, false))
        .transpose()
        .map_err(|e| e.to_string())
}

/// One request to the replicator at `addr` (connect, TLS when `tls`, and
/// answer head bounded; basic auth when `credentials`): the answer, its
/// body unread.
pub(crate) async fn send(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    tls: Option<(&crate::tls::TlsHandle, &str)>,
    request: hyper::http::request::Builder,
    body: Bytes,
    head_wait: Duration,
) -> Result<hyper::Response<Incoming>, String> {
    let at = |what: &str, e: &dyn std::fmt::Display| format!("{what} the replicator at {addr}: {e}");
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| at("timed out connecting to", &"after 10 s"))?
        .map_err(|e| at("cannot connect to", &e))?;
    let mut sender = match tls {
        None => http1(tcp).await,
        Some((tls, name)) => {
            let server = rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|e| at("TLS name of", &e))?;
            let stream = tokio::time::timeout(
                CONNECT_TIMEOUT,
                tokio_rustls::TlsConnector::from(tls.0.client()).connect(server, tcp),
            )
            .await
            .map_err(|_| at("no TLS handshake with", &"within 10 s"))?
            .map_err(|e| at("TLS handshake with", &e))?;
            http1(stream).await
        }
    }
    .map_err(|e| at("HTTP handshake with", &e))?;
    let mut request = request
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/json");
    if let Some((user, password)) = credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        request = request.header(hyper::header::AUTHORIZATION, format!("Basic {token}"));
    }
    let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
    tokio::time::timeout(head_wait, sender.send_request(request))
        .await
        .map_err(|_| at("no answer from", &format!("within {} s", head_wait.as_secs())))?
        .map_err(|e| at("request to", &e))
}

/// An HTTP/1.1 client connection on `io`, driven by its own task.
async fn http1<S>(io: S) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// A body read whole, at most `limit` bytes, within 30 s.
async fn read_body(body: Incoming, limit: usize) -> Result<Bytes, String> {
    tokio::time::timeout(
        Duration::from_secs(30),
        http_body_util::Limited::new(body, limit).collect(),
    )
    .await
    .map_err(|_| "the answer's body did not arrive within 30 s".to_owned())?
    .map(|b| b.to_bytes())
    .map_err(|e| format!("reading the answer's body: {e}"))
}

/// The message of an error answer (`ErrorBody`, else its text).
pub(crate) async fn error_message(body: Incoming) -> String {
    match read_body(body, 64 << 10).await {
        Ok(text) => serde_json::from_slice::<ErrorBody>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&text).into_owned()),
        Err(e) => e,
    }
}

/// `GET path` on the replicator at `addr`, decoded from JSON.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    path: &str,
) -> Result<T, String> {
    fetch_json(addr, credentials, None, path).await
}

/// [`get_json`], over TLS when `tls`.
async fn fetch_json<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    tls: Option<(&crate::tls::TlsHandle, &str)>,
    path: &str,
) -> Result<T, String> {
    let body = fetch(addr, credentials, tls, path).await?;
    serde_json::from_slice(&body).map_err(|e| format!("GET {path} from the replicator at {addr}: {e}"))
}

/// `GET path`, over TLS when `tls`: the body of a successful answer (at
/// most 16 MiB), else an error with the answer's message.
async fn fetch(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    tls: Option<(&crate::tls::TlsHandle, &str)>,
    path: &str,
) -> Result<Bytes, String> {
    let at = |e: &dyn std::fmt::Display| format!("GET {path} from the replicator at {addr}: {e}");
    let resp = send(
        addr,
        credentials,
        tls,
        hyper::Request::get(path),
        Bytes::new(),
        Duration::from_secs(30),
    )
    .await?;
    let status = resp.status();
    if !status.is_success() {
        let message = error_message(resp.into_body()).await;
        return Err(at(&format!("{status}: {message}")));
    }
    read_body(resp.into_body(), 16 << 20).await.map_err(|e| at(&e))
}

/// The heads of `ds`'s history (`Deployment::history_heads`) but `skip`,
/// as peers; a head without a REST API is left out, with the reason.
pub fn history_heads(
    deployment: &Deployment,
    ds: &str,
    skip: &str,
    local: Option<&crate::tls::TlsHandle>,
) -> (Vec<Peer>, Vec<String>) {
    let (mut peers, mut why) = (Vec::new(), Vec::new());
    for head in deployment.history_heads(ds).into_iter().filter(|h| h != skip) {
        match deployment
            .service_plan(&head)
            .map_err(|e| e.to_string())
            .and_then(|p| Peer::of(&p, local))
        {
            Ok(p) => peers.push(p),
            Err(e) => why.push(format!("{head}: {e}")),
        }
    }
    (peers, why)
}

/// The first of `peers` whose replicator runs a service in the master role
/// that `counts` (each asked within `wait`), with that service; else why
/// none counted.
pub async fn master_among(
    peers: &[Peer],
    wait: Duration,
    counts: impl Fn(&ServiceSummary) -> bool,
) -> Result<(Peer, ServiceSummary), Vec<String>> {
    let mut why = Vec::new();
    let path = format!("{}/services", control::requests::API_BASE);
    for p in peers {
        let asked = tokio::time::timeout(wait, p.get_json::<Vec<ServiceSummary>>(&path)).await;
        match asked {
            Ok(Ok(services)) => match services.into_iter().find(|s| s.role == Role::Master && counts(s)) {
                Some(m) => return Ok((p.clone(), m)),
                None => why.push(format!("{}: not a master", p.host)),
            },
            Ok(Err(e)) => why.push(format!("{}: {e}", p.host)),
            Err(_) => why.push(format!("{}: no answer within {} s", p.host, wait.as_secs())),
        }
    }
    Err(why)
}

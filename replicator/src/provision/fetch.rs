//! The provisioning node's client of the source's backup stream: one
//! HTTP/1.1 `POST /api/v2/replicator/provision/backup` to the source's REST
//! API (basic auth with the ini's credentials), whose body is read frame by
//! frame (`frame.rs`).
//!
//! Invariants: connecting, the answer's head and every read of a body have
//! timeouts ([`IDLE_TIMEOUT`] between reads of a copy: a source that stops
//! sending is a failure, not a hang); an error answer is read up to 64
//! KiB and its message returned; other answers up to 16 MiB.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use control::requests::BackupRequest;
use control::responses::ErrorBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;

use super::frame::{Frame, FrameReader};
use control::requests::API_BASE as BASE;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the source may send nothing (mariadb-backup's first bytes
/// come after it has looked at every table).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The open stream of a backup.
#[derive(Debug)]
pub struct BackupStream {
    body: Incoming,
    reader: FrameReader,
    source: SocketAddr,
}

/// One request to the replicator at `addr` (connect and answer head
/// bounded, basic auth when `credentials`): the answer, its body unread.
async fn send(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    request: hyper::http::request::Builder,
    body: Bytes,
    head_wait: Duration,
) -> Result<hyper::Response<Incoming>, String> {
    let at = |what: &str, e: &dyn std::fmt::Display| format!("{what} the replicator at {addr}: {e}");
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| at("timed out connecting to", &"after 10 s"))?
        .map_err(|e| at("cannot connect to", &e))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .map_err(|e| at("HTTP handshake with", &e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
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
async fn error_message(body: Incoming) -> String {
    match read_body(body, 64 << 10).await {
        Ok(text) => serde_json::from_slice::<ErrorBody>(&text)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&text).into_owned()),
        Err(e) => e,
    }
}

/// Asks the replicator at `source` for a backup.
pub async fn request_backup(
    source: SocketAddr,
    credentials: Option<(&str, &str)>,
    req: &BackupRequest,
) -> Result<BackupStream, String> {
    let body = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    let request = hyper::Request::post(format!("{BASE}/provision/backup"));
    let resp = send(source, credentials, request, Bytes::from(body), IDLE_TIMEOUT).await?;
    let status = resp.status();
    if !status.is_success() {
        let message = error_message(resp.into_body()).await;
        return Err(format!("the source refused the backup ({status}): {message}"));
    }
    Ok(BackupStream {
        body: resp.into_body(),
        reader: FrameReader::default(),
        source,
    })
}

impl BackupStream {
    /// The next frame; `Ok(None)` after a clean end (the `E` or `F` frame
    /// was returned before).
    pub async fn next(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if let Some(f) = self.reader.next_frame().map_err(|e| e.to_string())? {
                return Ok(Some(f));
            }
            let next = tokio::time::timeout(IDLE_TIMEOUT, self.body.frame())
                .await
                .map_err(|_| {
                    format!(
                        "the source {} sent nothing for {} s",
                        self.source,
                        IDLE_TIMEOUT.as_secs()
                    )
                })?;
            match next {
                None => {
                    self.reader.finish().map_err(|e| e.to_string())?;
                    return Ok(None);
                }
                Some(Err(e)) => return Err(format!("reading the stream from {}: {e}", self.source)),
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        self.reader.push(d);
                    }
                }
            }
        }
    }
}

/// `GET path` on the replicator at `addr`, decoded from JSON.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    addr: SocketAddr,
    credentials: Option<(&str, &str)>,
    path: &str,
) -> Result<T, String> {
    let at = |e: &dyn std::fmt::Display| format!("GET {path} from the replicator at {addr}: {e}");
    let resp = send(
        addr,
        credentials,
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
    let body = read_body(resp.into_body(), 16 << 20).await.map_err(|e| at(&e))?;
    serde_json::from_slice(&body).map_err(|e| at(&e))
}

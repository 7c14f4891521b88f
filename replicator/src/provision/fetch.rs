//! The provisioning node's client of the source's backup stream: one
//! HTTP/1.1 `POST /api/v2/replicator/provision/backup` to the source's REST
//! API (basic auth with the ini's credentials, through `crate::peer`),
//! whose body is read frame by frame (`frame.rs`).
//!
//! Invariants: the answer's head and every read of a body have timeouts
//! ([`IDLE_TIMEOUT`] between reads of a copy: a source that stops sending
//! is a failure, not a hang); an error answer's message is returned.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use control::requests::BackupRequest;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use super::frame::{Frame, FrameReader};
use crate::peer::{error_message, send};
use control::requests::API_BASE as BASE;

pub use crate::peer::get_json;
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

/// Asks the replicator at `source` for a backup.
pub async fn request_backup(source: &crate::peer::Peer, req: &BackupRequest) -> Result<BackupStream, String> {
    let body = serde_json::to_vec(req).map_err(|e| e.to_string())?;
    let request = hyper::Request::post(format!("{BASE}/provision/backup"));
    let resp = send(
        source.addr,
        source.creds(),
        source.tls_to(),
        request,
        Bytes::from(body),
        IDLE_TIMEOUT,
    )
    .await?;
    let status = resp.status();
    if !status.is_success() {
        let message = error_message(resp.into_body()).await;
        return Err(format!("the source refused the backup ({status}): {message}"));
    }
    Ok(BackupStream {
        body: resp.into_body(),
        reader: FrameReader::default(),
        source: source.addr,
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

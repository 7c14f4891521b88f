//! Serving a THL to downstream replicators (slaves of the same cluster,
//! relays of passive clusters), for every role: a master serves what it
//! extracts, a relay what it receives. The server itself is
//! `thl_net/server.rs`; this module binds it and records each reader's
//! acknowledgements in the catalog, where retention and `trepctl clients`
//! read them.
//!
//! Invariant: an acknowledgement is recorded only as the client sent it
//! (its durable seqno); a failure to record it is logged, never fatal.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::thl_net::{frame, AckCallback, ServerConfig, ThlServer};

/// The THL server could not be bound (the port is taken, the address is
/// not this host's): for the operator.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve the THL on {addr}: {source}")]
pub struct ServeError {
    pub addr: SocketAddr,
    pub source: io::Error,
}

/// Binds a THL server on `addr` whose readers' acknowledgements are kept
/// in the catalog (for retention and `trepctl clients`).
pub async fn serve_thl(
    addr: SocketAddr,
    role: frame::Role,
    source_id: &str,
    reader: thl::store::Reader,
    catalog: Arc<Catalog>,
    tls: Option<crate::tls::TlsHandle>,
    meter: Arc<crate::meter::StageMeter>,
) -> Result<ThlServer, ServeError> {
    let mut cfg = ServerConfig::new(role, source_id);
    cfg.on_ack = Some(ack_recorder(catalog));
    cfg.tls = tls;
    cfg.meter = Some(meter);
    ThlServer::bind(addr, cfg, reader)
        .await
        .map_err(|source| ServeError { addr, source })
}

/// An ACK callback that records each reader's durable seqno in the catalog.
fn ack_recorder(catalog: Arc<Catalog>) -> AckCallback {
    AckCallback::new(move |ack| {
        if let Some(seqno) = ack.durable_seqno {
            if let Err(e) = catalog.acknowledge(&ack.client_id, seqno, now_ms()) {
                tracing::warn!(client = %ack.client_id, error = %e, "cannot record the acknowledgement");
            }
        }
    })
}

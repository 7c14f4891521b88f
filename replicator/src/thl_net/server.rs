//! The THL server: one listener, one tokio task per client, each with a
//! blocking feeder that tails the log through its own cursor.
//!
//! Invariants:
//!
//! * **Only durable records are served.** The source is an in-process
//!   [`Reader`] from `Writer::reader(Visibility::Durable)`: its cursors stop
//!   at the durable watermark and wake on the writer's condvar (no polling).
//! * **Bytes are sent as stored.** A RECORD payload is
//!   `RecordRef::raw_bytes()`, a slice of the memory map; nothing is decoded
//!   beyond the fixed header (to check order) or re-encoded.
//! * **No gap, no duplicate.** The stream starts at the seqno decided by the
//!   handshake (`handshake::decide`), and the feeder checks every record
//!   against [`Sequence`] before sending it; a break (a purge under a slow
//!   client, an unexpected first record) ends the stream with a NOK.
//! * **A client acknowledges only what it holds.** An ACK beyond the
//!   seqno it held at RESUME and the records this connection sent it is a
//!   protocol violation: the connection closes and the ACK is not recorded
//!   (retention never trusts a seqno nobody was sent).
//! * **Limits.** At most `max_per_peer` connections from one address; at
//!   most `max_connections` in all, counted with TLS only once the TLS
//!   handshake (and so the client's certificate) passed.
//! * **A bad client harms only itself.** Per-connection deadlines (handshake,
//!   every write), frame caps checked before allocation, a connection limit,
//!   and no shared lock held across I/O. A protocol violation closes that
//!   connection with a WARN naming the peer; nothing here panics on input.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use thl::record::MAX_RECORD_LEN;
use thl::seqno::Seqno;
use thl::store::{Reader, RecordRef, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};

use super::error::{FrameError, NokCode};
use super::frame::{
    self, Ack, FrameDecoder, Heartbeat, Hello, Message, MsgType, Nok, OkMsg, Resume, Role, PROTOCOL_VERSION,
};
use super::handshake::{self, ClientPos, Decision, Rules, Sequence, ServerLog, Start};
use crate::budget::{Budget, Ticket, IN_FLIGHT_BYTES};
use crate::clock::now_ms;

/// Default TCP port of the THL protocol.
pub const DEFAULT_PORT: u16 = 2112;

/// Called with each ACK a client sends (retention, `trepctl clients`).
#[derive(Clone)]
pub struct AckCallback(Arc<dyn Fn(&AckInfo) + Send + Sync>);

impl AckCallback {
    /// Wraps `f`. It runs on the connection's task: keep it short.
    pub fn new(f: impl Fn(&AckInfo) + Send + Sync + 'static) -> AckCallback {
        AckCallback(Arc::new(f))
    }
}

impl std::fmt::Debug for AckCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckCallback")
    }
}

/// One acknowledgement from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckInfo {
    pub client_id: String,
    pub peer: SocketAddr,
    /// Highest seqno the client stored durably.
    pub durable_seqno: Option<Seqno>,
    /// Highest seqno applied downstream of the client, when it knows.
    pub applied_seqno: Option<Seqno>,
}

/// A connected client, as `trepctl clients` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub client_id: String,
    pub peer: SocketAddr,
    /// Highest seqno the client acknowledged as durably stored.
    pub last_acked_seqno: Option<Seqno>,
    /// Highest seqno the client reported applied.
    pub applied_seqno: Option<Seqno>,
    /// The next seqno the server will send it.
    pub next_seqno: Option<Seqno>,
    /// The highest seqno it may acknowledge: its last one at RESUME, then
    /// the last this connection sent it.
    pub sent_up_to: Option<Seqno>,
    pub connected_since: SystemTime,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Announced in HELLO.
    pub role: Role,
    /// This replicator's `source_id`, announced in HELLO.
    pub source_id: String,
    /// Connections beyond this are closed at once (after a NOK); with TLS,
    /// established ones (after their handshake).
    pub max_connections: usize,
    /// Connections from one address beyond this are closed at once.
    pub max_per_peer: usize,
    /// HELLO out, RESUME in, OK/NOK out: all within this.
    pub handshake_timeout: Duration,
    /// Each write must make progress within this, or the client is dropped.
    pub write_timeout: Duration,
    /// A client without a position must start at seqno 0 (on by default: a
    /// blank host that started at a purged log's minimum would silently
    /// lack everything before it).
    pub require_seqno_zero: bool,
    /// Records (and the client heartbeat interval) are clamped to these.
    pub min_heartbeat: Duration,
    pub max_heartbeat: Duration,
    /// Records queued per client between its feeder and its socket, and
    /// their bytes at most (a larger record travels alone).
    pub queue_records: usize,
    pub queue_bytes: usize,
    /// Called on every ACK.
    pub on_ack: Option<AckCallback>,
    /// TLS (`thls://`): every connection is a TLS handshake first, within
    /// the handshake timeout; with `thl-auth=mtls` the client must present
    /// a certificate of the deployment's CA (`crate::tls`).
    pub tls: Option<crate::tls::TlsHandle>,
    /// Where the records sent to every client, and the time spent sending
    /// them, are counted (the serve stage of `trepctl perf`).
    pub meter: Option<Arc<crate::meter::StageMeter>>,
}

impl ServerConfig {
    /// Defaults: 64 connections, 5 s handshake, 30 s write timeout, blank
    /// clients start at seqno 0 or are refused.
    pub fn new(role: Role, source_id: impl Into<String>) -> ServerConfig {
        ServerConfig {
            role,
            source_id: source_id.into(),
            max_connections: 64,
            max_per_peer: 16,
            handshake_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(30),
            require_seqno_zero: true,
            min_heartbeat: Duration::from_millis(50),
            max_heartbeat: Duration::from_secs(60),
            queue_records: 256,
            queue_bytes: IN_FLIGHT_BYTES,
            on_ack: None,
            tls: None,
            meter: None,
        }
    }
}

#[derive(Debug)]
struct Inner {
    cfg: ServerConfig,
    source: Reader,
    listener: Mutex<Option<TcpListener>>,
    local: SocketAddr,
    clients: Mutex<BTreeMap<u64, ClientInfo>>,
    active: AtomicUsize,
    next_id: AtomicU64,
    /// Connections per client address.
    per_peer: Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    /// TLS handshakes in progress.
    handshaking: AtomicUsize,
}

/// The THL server. Cheap to clone: clones share the listener and the
/// client list.
#[derive(Debug, Clone)]
pub struct ThlServer {
    inner: Arc<Inner>,
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The peer went away or the network failed.
    Io(io::Error),
    /// The peer broke the protocol or was too slow.
    Protocol(String),
    /// The server refused the client (NOK sent).
    Refused(NokCode, String),
    /// Server shutdown.
    Shutdown,
}

impl From<FrameError> for End {
    fn from(e: FrameError) -> End {
        End::Protocol(e.to_string())
    }
}

struct ActiveGuard(Arc<Inner>, u64);

impl ActiveGuard {
    /// A place among the `max_connections` and the connection's id; `None`
    /// at the limit.
    fn take(inner: &Arc<Inner>) -> Option<(ActiveGuard, u64)> {
        let n = inner.active.fetch_add(1, Ordering::AcqRel);
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let guard = ActiveGuard(Arc::clone(inner), id);
        (n < inner.cfg.max_connections).then_some((guard, id))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.1);
    }
}

impl ThlServer {
    /// Binds the listener. `source` must be an in-process reader from
    /// `Writer::reader(Visibility::Durable)` (a reader opened on a directory
    /// would serve records that are not yet durable).
    pub async fn bind(addr: impl ToSocketAddrs, cfg: ServerConfig, source: Reader) -> io::Result<ThlServer> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok(ThlServer {
            inner: Arc::new(Inner {
                cfg,
                source,
                listener: Mutex::new(Some(listener)),
                local,
                clients: Mutex::new(BTreeMap::new()),
                active: AtomicUsize::new(0),
                next_id: AtomicU64::new(1),
                per_peer: Mutex::new(std::collections::HashMap::new()),
                handshaking: AtomicUsize::new(0),
            }),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// The connected clients (past the handshake).
    pub fn clients(&self) -> Vec<ClientInfo> {
        self.inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Number of open connections (including those in the handshake).
    pub fn connections(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Accepts and serves clients until `shutdown` completes, then closes
    /// every connection (waiting up to 2 s for their tasks). Can run once.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let listener = self
            .inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| io::Error::other("THL server is already running"))?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        tracing::info!(addr = %self.inner.local, role = ?self.inner.cfg.role, "THL server listening");
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                acc = listener.accept() => match acc {
                    Ok((sock, peer)) => self.admit(sock, peer, &mut tasks, &stop_rx),
                    Err(e) => {
                        // EMFILE and friends: do not spin.
                        tracing::warn!(error = %e, "THL server accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(res) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = res {
                        tracing::error!(error = %e, "THL connection task failed");
                    }
                }
            }
        }
        drop(listener);
        let _ = stop_tx.send(true);
        let drain = async { while tasks.join_next().await.is_some() {} };
        if timeout(Duration::from_secs(2), drain).await.is_err() {
            tasks.abort_all();
        }
        tracing::info!(addr = %self.inner.local, "THL server stopped");
        Ok(())
    }

    /// Takes a connection in, within the limits: at most
    /// `max_per_peer` from one address (the rest get NOK 101 at once);
    /// without TLS at most `max_connections` in all; with TLS the
    /// connections count against `max_connections` only once their TLS
    /// handshake succeeded (so unauthenticated ones cannot lock certified
    /// replicators out), and at most four times `max_connections`
    /// handshakes run at a time besides.
    fn admit(&self, sock: TcpStream, peer: SocketAddr, tasks: &mut JoinSet<()>, stop: &watch::Receiver<bool>) {
        let inner = &self.inner;
        let Some(peer_slot) = PeerSlot::take(inner, peer.ip()) else {
            tracing::warn!(%peer, limit = inner.cfg.max_per_peer, "THL connection refused: limit per address reached");
            let nok = too_many(format!(
                "{} holds {} connections to this THL server, its limit per address",
                peer.ip(),
                inner.cfg.max_per_peer
            ));
            // One non-blocking attempt, then close.
            let _ = sock.try_write(&nok.to_bytes());
            return;
        };
        let _ = sock.set_nodelay(true);
        let inner = Arc::clone(inner);
        let stop = stop.clone();
        let Some(tls) = inner.cfg.tls.clone() else {
            let Some((guard, id)) = ActiveGuard::take(&inner) else {
                let _ = sock.try_write(&connection_limit(&inner, &peer).to_bytes());
                return;
            };
            tasks.spawn(async move {
                let _slots = (peer_slot, guard);
                log_end(peer, serve(&inner, sock, peer, id, stop, None).await);
            });
            return;
        };
        let Some(handshake) = HandshakeSlot::take(&inner) else {
            tracing::warn!(%peer, "THL connection refused: too many TLS handshakes at once");
            return;
        };
        tasks.spawn(async move {
            let _peer_slot = peer_slot;
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.0.server());
            let accepted = timeout(inner.cfg.handshake_timeout, acceptor.accept(sock)).await;
            drop(handshake);
            let mut s = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return log_end(peer, End::Protocol(format!("TLS handshake failed: {e}"))),
                Err(_) => {
                    let why = format!("no TLS handshake within {:?}", inner.cfg.handshake_timeout);
                    return log_end(peer, End::Protocol(why));
                }
            };
            let Some((_guard, id)) = ActiveGuard::take(&inner) else {
                let _ = send(&mut s, &connection_limit(&inner, &peer), Duration::from_millis(200)).await;
                return;
            };
            let names = tls.0.mutual().then(|| crate::tls::peer_names(s.get_ref().1));
            log_end(peer, serve(&inner, s, peer, id, stop, names).await);
        });
    }
}

/// A NOK 101 with `text`.
fn too_many(text: String) -> Message {
    Message::Nok(Nok {
        code: NokCode::TooManyConnections,
        text,
    })
}

/// The NOK of a server at its connection limit, warned.
fn connection_limit(inner: &Inner, peer: &SocketAddr) -> Message {
    let limit = inner.cfg.max_connections;
    tracing::warn!(%peer, limit, "THL connection refused: connection limit reached");
    too_many(format!("the THL server has reached its limit of {limit} connections"))
}

/// Logs how a client connection ended.
fn log_end(peer: SocketAddr, end: End) {
    match end {
        End::Io(e) => tracing::info!(%peer, error = %e, "THL client disconnected"),
        End::Protocol(why) => tracing::warn!(%peer, "THL connection closed: {why}"),
        End::Refused(code, text) => tracing::warn!(%peer, %code, "THL client refused: {text}"),
        End::Shutdown => tracing::debug!(%peer, "THL connection closed: server shutdown"),
    }
}

/// One of an address's connections (at most `max_per_peer`).
struct PeerSlot(Arc<Inner>, std::net::IpAddr);

impl PeerSlot {
    fn take(inner: &Arc<Inner>, ip: std::net::IpAddr) -> Option<PeerSlot> {
        let mut m = inner.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        let n = m.entry(ip).or_insert(0);
        if *n >= inner.cfg.max_per_peer {
            return None;
        }
        *n += 1;
        Some(PeerSlot(Arc::clone(inner), ip))
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut m = self.0.per_peer.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// One TLS handshake in progress (at most four times `max_connections`
/// at a time, each for at most the handshake timeout).
struct HandshakeSlot(Arc<Inner>);

impl HandshakeSlot {
    fn take(inner: &Arc<Inner>) -> Option<HandshakeSlot> {
        let n = inner.handshaking.fetch_add(1, Ordering::AcqRel);
        let slot = HandshakeSlot(Arc::clone(inner));
        (n < inner.cfg.max_connections.saturating_mul(4)).then_some(slot)
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        self.0.handshaking.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Writes `buf` fully; each write call must progress within `t`.
async fn write_all_timeout<W: AsyncWrite + Unpin>(w: &mut W, mut buf: &[u8], t: Duration) -> Result<(), End> {
    while !buf.is_empty() {
        match timeout(t, w.write(buf)).await {
            Ok(Ok(0)) => return Err(End::Io(io::ErrorKind::WriteZero.into())),
            Ok(Ok(n)) => buf = &buf[n..],
            Ok(Err(e)) => return Err(End::Io(e)),
            Err(_) => return Err(End::Protocol(format!("write stalled for {t:?} (client not reading)"))),
        }
    }
    Ok(())
}

async fn flush_timeout<W: AsyncWrite + Unpin>(w: &mut W, t: Duration) -> Result<(), End> {
    match timeout(t, w.flush()).await {
        Ok(r) => r.map_err(End::Io),
        Err(_) => Err(End::Protocol(format!("write stalled for {t:?} (client not reading)"))),
    }
}

/// Reads one control message before `deadline`.
async fn read_message<R: AsyncRead + Unpin>(
    rd: &mut R,
    dec: &mut FrameDecoder,
    deadline: Instant,
    what: &str,
) -> Result<Message, End> {
    let mut tmp = [0u8; 1024];
    loop {
        if let Some(f) = dec.next_frame()? {
            return Ok(Message::decode(f.msg_type, f.payload)?);
        }
        match timeout_at(deadline, rd.read(&mut tmp)).await {
            Ok(Ok(0)) => {
                return Err(End::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("closed before {what}"),
                )))
            }
            Ok(Ok(n)) => dec.extend(&tmp[..n]),
            Ok(Err(e)) => return Err(End::Io(e)),
            Err(_) => {
                return Err(End::Protocol(format!(
                    "handshake timeout: no complete {what} ({} bytes buffered)",
                    dec.buffered()
                )))
            }
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, End> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| End::Protocol(format!("internal task failed: {e}")))
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, m: &Message, t: Duration) -> Result<(), End> {
    write_all_timeout(w, &m.to_bytes(), t).await?;
    flush_timeout(w, t).await
}

async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, code: NokCode, text: String, t: Duration) -> End {
    let m = Message::Nok(Nok {
        code,
        text: text.clone(),
    });
    let _ = send(w, &m, t).await;
    End::Refused(code, text)
}

/// One client connection: handshake, then records until it ends.
/// `names`: with mutual TLS, the DNS names of the client's certificate,
/// one of which its RESUME's client id must be.
async fn serve<S>(
    inner: &Arc<Inner>,
    sock: S,
    peer: SocketAddr,
    id: u64,
    stop: watch::Receiver<bool>,
    names: Option<Vec<String>>,
) -> End
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(sock);
    let mut dec = FrameDecoder::new(0);
    let accepted = match handshake(inner, &mut rd, &mut wr, &mut dec, names.as_deref()).await {
        Ok(a) => a,
        Err(e) => return e,
    };
    let Accepted {
        resume,
        start,
        heartbeat,
    } = accepted;
    tracing::info!(%peer, client = %resume.client_id, start = ?start, "THL client connected");
    inner.clients.lock().unwrap_or_else(PoisonError::into_inner).insert(
        id,
        ClientInfo {
            client_id: resume.client_id.clone(),
            peer,
            last_acked_seqno: None,
            applied_seqno: None,
            next_seqno: start.seqno(),
            sent_up_to: resume.last_seqno,
            connected_since: SystemTime::now(),
        },
    );
    let client = Connected {
        inner,
        id,
        client_id: &resume.client_id,
        peer,
    };
    match client.stream(rd, wr, dec, start, heartbeat, stop).await {
        Ok(never) => match never {},
        Err(end) => end,
    }
}

/// What a handshake agreed: the client's RESUME, where its stream starts,
/// and the heartbeat interval.
struct Accepted {
    resume: Resume,
    start: Start,
    heartbeat: Duration,
}

/// HELLO out, RESUME in, OK (or NOK) out, within the handshake timeout.
async fn handshake<R, W>(
    inner: &Arc<Inner>,
    rd: &mut R,
    wr: &mut W,
    dec: &mut FrameDecoder,
    names: Option<&[String]>,
) -> Result<Accepted, End>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let cfg = &inner.cfg;
    let deadline = Instant::now() + cfg.handshake_timeout;
    let wt = cfg.write_timeout.min(cfg.handshake_timeout);
    let cannot_read = |e: StoreError| (NokCode::ServerError, format!("the server cannot read its THL: {e}"));
    // HELLO.
    let src = inner.source.clone();
    let (min, max) = match blocking(move || Ok::<_, StoreError>((src.min_seqno()?, src.max_seqno()?))).await? {
        Ok(v) => v,
        Err(e) => {
            let (code, text) = cannot_read(e);
            return Err(refuse(wr, code, text, wt).await);
        }
    };
    let hello = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        role: cfg.role,
        min_seqno: min,
        max_seqno: max,
        durable_seqno: max,
        max_record_len: MAX_RECORD_LEN,
        source_id: cfg.source_id.clone(),
    });
    send(wr, &hello, wt).await?;
    // RESUME.
    let resume = match read_message(rd, dec, deadline, "RESUME").await? {
        Message::Resume(r) => r,
        m => {
            let why = format!("expected RESUME, got {}", m.msg_type().name());
            return Err(refuse(wr, NokCode::ProtocolError, why.clone(), wt)
                .await
                .into_protocol(why));
        }
    };
    if resume.version != PROTOCOL_VERSION {
        let text = format!(
            "protocol version {} is not supported by this THL server (version {PROTOCOL_VERSION}): upgrade the client",
            resume.version
        );
        return Err(refuse(wr, NokCode::ProtocolVersion, text, wt).await);
    }
    if let Some(names) = names.filter(|n| !n.iter().any(|n| n.eq_ignore_ascii_case(&resume.client_id))) {
        let text = format!(
            "client id {:?} is not a name of the client's certificate ({}): a replicator reads and acknowledges \
             under its own host name",
            resume.client_id,
            names.join(", ")
        );
        return Err(refuse(wr, NokCode::IdentityMismatch, text, wt).await);
    }
    let heartbeat = Duration::from_millis(u64::from(resume.heartbeat_ms)).clamp(cfg.min_heartbeat, cfg.max_heartbeat);
    // Decide, then OK or NOK.
    let (log, start) = match decide(inner, &resume).await? {
        Ok((log, Decision::Accept(start))) => (log, start),
        Ok((_, Decision::Reject { code, text })) => return Err(refuse(wr, code, text, wt).await),
        Err(e) => {
            let (code, text) = cannot_read(e);
            return Err(refuse(wr, code, text, wt).await);
        }
    };
    let ok = Message::Ok(OkMsg {
        min_seqno: log.min,
        max_seqno: log.max,
        start_seqno: start.seqno(),
    });
    send(wr, &ok, wt).await?;
    Ok(Accepted {
        resume,
        start,
        heartbeat,
    })
}

/// The resume rules ([`handshake::decide`]) applied to the log as it is
/// now, read on a blocking thread.
async fn decide(inner: &Arc<Inner>, resume: &Resume) -> Result<Result<(ServerLog, Decision), StoreError>, End> {
    let pos = ClientPos {
        last_seqno: resume.last_seqno,
        last_epoch: resume.last_epoch,
        last_frag: resume.last_frag,
        event_id: resume.event_id.clone(),
    };
    let src = inner.source.clone();
    let rules = Rules {
        require_seqno_zero: inner.cfg.require_seqno_zero,
    };
    blocking(move || -> Result<(ServerLog, Decision), StoreError> {
        let mut log = ServerLog {
            min: src.min_seqno()?,
            max: src.max_seqno()?,
            epoch_at_last: None,
            event_id_at_last: None,
        };
        if let Some(last) = pos.last_seqno.filter(|&l| log.holds(l)) {
            if let Some(r) = src.cursor(last)?.next()? {
                log.epoch_at_last = Some(r.header().epoch);
                log.event_id_at_last = Some(r.header().event_id.clone());
            }
        }
        let d = handshake::decide(&pos, &log, rules);
        Ok((log, d))
    })
    .await
}

/// A client past its handshake.
struct Connected<'a> {
    inner: &'a Arc<Inner>,
    id: u64,
    client_id: &'a str,
    peer: SocketAddr,
}

impl Connected<'_> {
    /// Sends records from `start` as the log grows (a heartbeat when idle)
    /// and takes the client's ACKs, until the connection ends.
    async fn stream<R, W>(
        &self,
        mut rd: R,
        wr: W,
        mut dec: FrameDecoder,
        start: Start,
        heartbeat: Duration,
        mut stop: watch::Receiver<bool>,
    ) -> Result<std::convert::Infallible, End>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let cfg = &self.inner.cfg;
        let (tx, mut rx) = mpsc::channel(cfg.queue_records.max(1));
        // Dropping `rx` (this task ends) drops the queued records and their
        // tickets, so a feeder waiting for room wakes and finds the channel
        // closed.
        let budget = Budget::new(cfg.queue_bytes);
        let src = self.inner.source.clone();
        let poll = heartbeat.min(Duration::from_millis(250));
        tokio::task::spawn_blocking(move || feed(&src, start, &tx, &budget, poll));
        // Bytes that came with RESUME (a pipelining or confused client).
        self.take_acks(&mut dec)?;
        let mut tmp = vec![0u8; 1024];
        let mut out = tokio::io::BufWriter::with_capacity(64 * 1024, wr);
        let mut last_sent = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => {
                    let m = Message::Nok(Nok { code: NokCode::ShuttingDown, text: "the THL server is shutting down".into() });
                    let _ = send(&mut out, &m, Duration::from_millis(200)).await;
                    return Err(End::Shutdown);
                }
                r = rd.read(&mut tmp) => match r {
                    Ok(0) => return Err(End::Io(io::ErrorKind::UnexpectedEof.into())),
                    Ok(n) => {
                        dec.extend(&tmp[..n]);
                        self.take_acks(&mut dec)?;
                    }
                    Err(e) => return Err(End::Io(e)),
                },
                f = rx.recv() => {
                    self.send_burst(&mut out, f, &mut rx).await?;
                    last_sent = Instant::now();
                }
                () = tokio::time::sleep_until(last_sent + heartbeat) => {
                    let hb = Message::Heartbeat(Heartbeat {
                        durable_seqno: self.inner.source.max_seqno().ok().flatten(),
                        server_time_ms: now_ms(),
                    });
                    send(&mut out, &hb, cfg.write_timeout).await?;
                    last_sent = Instant::now();
                }
            }
        }
    }

    /// Writes `first` and whatever else the feed has queued (up to 1 MiB),
    /// then flushes; a failure the feed queued is sent as NOK.
    async fn send_burst<W: AsyncWrite + Unpin>(
        &self,
        out: &mut W,
        first: Option<Feed>,
        rx: &mut mpsc::Receiver<Feed>,
    ) -> Result<(), End> {
        let t = self.inner.cfg.write_timeout;
        let started = Instant::now();
        let mut next = first;
        let mut sent = 0usize;
        let mut records = 0u64;
        loop {
            match next {
                Some(Feed::Record(r, _ticket)) => {
                    let raw = r.raw_bytes();
                    write_all_timeout(out, &frame::record_header(raw.len() as u32), t).await?;
                    write_all_timeout(out, raw, t).await?;
                    let hd = r.header();
                    let nxt = if hd.last_frag { hd.seqno_end + 1 } else { hd.seqno };
                    if let Some(c) = self
                        .inner
                        .clients
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get_mut(&self.id)
                    {
                        c.next_seqno = Some(nxt);
                        c.sent_up_to = c.sent_up_to.max(Some(hd.seqno_end));
                    }
                    sent += raw.len();
                    records += 1;
                }
                Some(Feed::Fail(code, text)) => {
                    let _ = flush_timeout(out, t).await;
                    return Err(refuse(out, code, text, t).await);
                }
                None => return Err(End::Protocol("the log reader stopped".into())),
            }
            if sent >= 1 << 20 {
                break;
            }
            match rx.try_recv() {
                Ok(f) => next = Some(f),
                Err(_) => break,
            }
        }
        flush_timeout(out, t).await?;
        if let Some(m) = &self.inner.cfg.meter {
            m.record(records, started.elapsed());
        }
        Ok(())
    }

    /// Handles the ACKs buffered in `dec`; anything else is a protocol error.
    fn take_acks(&self, dec: &mut FrameDecoder) -> Result<(), End> {
        take_acks(self.inner, self.id, self.client_id, self.peer, dec)
    }
}

impl End {
    fn into_protocol(self, why: String) -> End {
        match self {
            End::Refused(..) => End::Protocol(why),
            e => e,
        }
    }
}

/// Handles the ACKs buffered in `dec`; anything else is a protocol error.
fn take_acks(
    inner: &Arc<Inner>,
    id: u64,
    client_id: &str,
    peer: SocketAddr,
    dec: &mut FrameDecoder,
) -> Result<(), End> {
    while let Some(f) = dec.next_frame()? {
        if f.msg_type != MsgType::Ack {
            return Err(End::Protocol(format!(
                "unexpected {} while streaming (only ACK is allowed)",
                f.msg_type.name()
            )));
        }
        let Message::Ack(Ack {
            durable_seqno,
            applied_seqno,
        }) = Message::decode(f.msg_type, f.payload)?
        else {
            return Err(End::Protocol("undecodable ACK".into()));
        };
        if let Some(c) = inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&id)
        {
            // Only what it was sent (or held at RESUME) can be stored:
            // anything beyond is forged or confused, and would let
            // retention delete what this client still needs.
            let beyond = [durable_seqno, applied_seqno]
                .into_iter()
                .flatten()
                .find(|&s| Some(s) > c.sent_up_to);
            if let Some(s) = beyond {
                return Err(End::Protocol(format!(
                    "client {client_id} acknowledged seqno {s}, but this connection sent it up to seqno {} (and \
                     it held that one at RESUME): a forged or confused acknowledgement, not recorded",
                    Seqno::or_minus_one(c.sent_up_to)
                )));
            }
            c.last_acked_seqno = durable_seqno.or(c.last_acked_seqno);
            c.applied_seqno = applied_seqno.or(c.applied_seqno);
        }
        if let Some(cb) = &inner.cfg.on_ack {
            (cb.0)(&AckInfo {
                client_id: client_id.to_string(),
                peer,
                durable_seqno,
                applied_seqno,
            });
        }
    }
    Ok(())
}

/// Waits for a first record on an empty log; never spins, even if the
/// writer is gone (then `wait_for` returns at once).
fn wait_first(src: &Reader, poll: Duration) {
    let t0 = std::time::Instant::now();
    let _ = src.wait_for(Seqno::FIRST, poll);
    if let Some(rest) = poll.checked_sub(t0.elapsed()) {
        std::thread::sleep(rest);
    }
}

#[derive(Debug)]
enum Feed {
    /// A record, holding its bytes of the client's budget until sent.
    Record(RecordRef, Ticket),
    Fail(NokCode, String),
}

/// Tails the log from `start` and queues records for one client, checking
/// their order. Runs on a blocking thread; returns when the client's task
/// is gone (the channel is closed) or after queueing a failure.
fn feed(src: &Reader, start: Start, tx: &mpsc::Sender<Feed>, budget: &Budget, poll: Duration) {
    let fail = |code, text: String| {
        let _ = tx.blocking_send(Feed::Fail(code, text));
    };
    let first = loop {
        if tx.is_closed() {
            return;
        }
        match start {
            Start::At(s) => break s,
            Start::First => match src.min_seqno() {
                Ok(Some(m)) => break m,
                Ok(None) => {
                    wait_first(src, poll);
                }
                Err(e) => return fail(NokCode::ServerError, format!("the server cannot read its THL: {e}")),
            },
        }
    };
    let mut cursor = loop {
        if tx.is_closed() {
            return;
        }
        match src.cursor(first) {
            Ok(c) => break c,
            // Empty log: wait for the first record.
            Err(StoreError::SeqnoNotFound { min: None, .. }) => {
                wait_first(src, poll);
            }
            Err(StoreError::SeqnoNotFound { min: Some(min), max, .. }) if min > first => {
                return fail(
                    NokCode::WrongFirstSeqno,
                    format!("the server does not have seqno {first} expected by the client (its log starts at {min}, max {max:?})"),
                )
            }
            Err(StoreError::SeqnoNotFound { min, max, .. }) => {
                return fail(
                    NokCode::SeqnoPurged,
                    format!("seqno {first} is no longer in the server's THL (stored {min:?}..{max:?}): purged while the client connected"),
                )
            }
            Err(e) => return fail(NokCode::ServerError, format!("the server cannot read its THL: {e}")),
        }
    };
    let mut seq = Sequence::new(Some(first));
    let mut sent_any = false;
    loop {
        if tx.is_closed() {
            return;
        }
        match cursor.next_timeout(poll) {
            Ok(Some(r)) => {
                let h = r.header();
                if let Err(why) = seq.accept(h.seqno, h.seqno_end, h.fragno, h.last_frag) {
                    if sent_any {
                        return fail(NokCode::ServerError, format!("the server's THL is out of order: {why}"));
                    }
                    return fail(
                        NokCode::WrongFirstSeqno,
                        format!("the server does not have seqno {first} expected by the client: {why}"),
                    );
                }
                sent_any = true;
                let Some(ticket) = budget.take_blocking(r.raw_bytes().len()) else {
                    return;
                };
                if tx.blocking_send(Feed::Record(r, ticket)).is_err() {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => return fail(NokCode::ServerError, format!("the server cannot read its THL: {e}")),
        }
    }
}

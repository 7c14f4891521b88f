//! The THL client: pulls records from a THL server into a local THL.
//!
//! Invariants:
//!
//! * **Resume from what is stored.** The position sent in RESUME is the last
//!   record appended to the local writer (seqno, epoch, fragno, last_frag),
//!   tracked under the writer's lock together with the appends, so it is
//!   right even if a session is cancelled mid-batch.
//! * **No gap, no duplicate.** Every received record is checked (frame CRC,
//!   header, [`Sequence`] order starting at the seqno the client needs)
//!   before it is appended verbatim with `Writer::append_raw`, which checks
//!   the order once more. After a reconnect in the middle of a fragmented
//!   transaction the server resends it from fragment 0 and the client skips
//!   the fragments it already has. After a process restart the writer's
//!   recovery has cut the partial transaction, so the client asks for it
//!   whole.
//! * **Acknowledge only durable data.** ACK carries the writer's durable
//!   watermark after a commit (group commit: one commit per burst of
//!   records), at most once per `ack_interval`.
//! * **Errors are typed by what to do.** Network trouble, timeouts, a silent
//!   server (no message within `heartbeat_timeout`) and transient NOKs are
//!   retried over the URI list with jittered exponential backoff; a
//!   diverged or purged history, a protocol version mismatch, an order
//!   violation or a store failure ends [`ThlClient::run`] with
//!   [`ClientError::Definite`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thl::record::{self, RecordType, MAX_RECORD_LEN};
use thl::seqno::{Epoch, Seqno};
use thl::store::{PurgeReport, Retention, StoreError, Visibility, Writer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

use crate::retry::{Backoff, Policy};

use super::error::{ClientError, DefiniteKind};
use super::frame::{Ack, FrameDecoder, Message, MsgType, Nok, Resume, Role, PROTOCOL_VERSION};
use super::handshake::Sequence;
use super::server::DEFAULT_PORT;

/// Resolves a host name and port to addresses (the caller's hosts file, or
/// [`system_resolver`]). Called on a blocking thread.
pub type Resolver = Arc<dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync>;

/// Resolves through the operating system (`getaddrinfo`).
pub fn system_resolver() -> Resolver {
    Arc::new(|host, port| (host, port).to_socket_addrs().map(Iterator::collect))
}

/// A parsed `thl://host:port/` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThlUri {
    pub host: String,
    pub port: u16,
    /// `thls://`: TLS, the server's certificate checked against the
    /// deployment's CA (`crate::tls`).
    pub tls: bool,
}

impl ThlUri {
    /// Parses `thl://host[:port][/]` or `thls://...` (TLS; IPv6 hosts in
    /// brackets; default port 2112).
    pub fn parse(s: &str) -> Result<ThlUri, String> {
        let bad = |why: &str| format!("invalid THL URI {s:?}: {why} (expected thl://host:port/ or thls://host:port/)");
        let lower = s.to_ascii_lowercase();
        let tls = lower.starts_with("thls://");
        let scheme_len = if tls { 7 } else { 6 };
        let Some(rest) = s.get(scheme_len..).filter(|_| tls || lower.starts_with("thl://")) else {
            return Err(bad("the scheme must be thl:// or thls://"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(bad("no path allowed"));
        }
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let Some((h, after)) = r.split_once(']') else {
                return Err(bad("unclosed ["));
            };
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ]"))?)),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("bad port"))?,
            None => DEFAULT_PORT,
        };
        Ok(ThlUri {
            host: host.to_string(),
            port,
            tls,
        })
    }
}

impl fmt::Display for ThlUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "thls" } else { "thl" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}/", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}/", self.host, self.port)
        }
    }
}

/// The bytes that already arrived (decrypted, for TLS), without waiting:
/// 0 when none did, at the end of the stream, or on an error (the next
/// read meets those).
async fn read_ready<R: AsyncRead + Unpin>(rd: &mut R, buf: &mut [u8]) -> usize {
    std::future::poll_fn(|cx| {
        let mut rb = tokio::io::ReadBuf::new(buf);
        match std::pin::Pin::new(&mut *rd).poll_read(cx, &mut rb) {
            std::task::Poll::Ready(Ok(())) => std::task::Poll::Ready(rb.filled().len()),
            std::task::Poll::Ready(Err(_)) | std::task::Poll::Pending => std::task::Poll::Ready(0),
        }
    })
    .await
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Servers, tried in turn.
    pub uris: Vec<String>,
    /// This client's name, shown in the server's client list.
    pub client_id: String,
    /// The server sends HEARTBEAT after this much idle time.
    pub heartbeat_interval: Duration,
    /// No message for this long: the server is dead, reconnect (3× the
    /// heartbeat interval by default).
    pub heartbeat_timeout: Duration,
    pub connect_timeout: Duration,
    /// HELLO in, RESUME out, OK in: all within this.
    pub handshake_timeout: Duration,
    /// Reconnect backoff: starts at `initial`, doubles to `cap`, each wait
    /// jittered in [d/2, d) (`crate::retry`).
    pub backoff: Policy,
    /// At most one ACK per interval.
    pub ack_interval: Duration,
    /// Commit at least every this many records.
    pub commit_every: usize,
    /// RECORD messages larger than this are a protocol error.
    pub max_record_len: u32,
    /// Where to start while the local THL is empty: after the last
    /// transaction the target committed, as a host restored from a backup
    /// or after `reset -thl` does. The client resumes as if it held that
    /// transaction's first fragment, so the server compares its epoch and
    /// event id (another history is refused) and sends it again; it is
    /// stored (the applier skips it, its position covers it), so that this
    /// host's own THL clients, provisioned from its database, can resume
    /// after it too. `None`: a blank host, which the server lets start only
    /// at seqno 0.
    pub start_after: Option<Committed>,
    /// The TLS of `thls://` URIs (`None`: a `thls://` URI is a
    /// configuration error).
    pub tls: Option<crate::tls::TlsHandle>,
}

/// The last transaction a target committed (its `trep_commit_seqno`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub seqno: Seqno,
    pub epoch: Epoch,
    pub event_id: String,
}

impl ClientConfig {
    /// Defaults: heartbeat 3 s (timeout 9 s), connect 3 s, handshake 5 s,
    /// backoff 0.5 s to 10 s, ACK every 500 ms, commit every 1000 records.
    pub fn new(uris: Vec<String>, client_id: impl Into<String>) -> ClientConfig {
        ClientConfig {
            uris,
            client_id: client_id.into(),
            heartbeat_interval: Duration::from_secs(3),
            heartbeat_timeout: Duration::from_secs(9),
            connect_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            backoff: Policy::THL_CLIENT,
            ack_interval: Duration::from_millis(500),
            commit_every: 1000,
            max_record_len: MAX_RECORD_LEN,
            start_after: None,
            tls: None,
        }
    }
}

/// What `trepctl status` shows of the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientProgress {
    /// The server streaming to us now (`pipelineSource`).
    pub connected_uri: Option<String>,
    pub server_source_id: Option<String>,
    pub server_role: Option<Role>,
    /// Highest seqno durably stored in the local THL.
    pub last_stored_seqno: Option<Seqno>,
    /// Highest seqno the server has (HELLO, OK, HEARTBEAT, records).
    pub server_max_seqno: Option<Seqno>,
    /// Records received (all sessions).
    pub records_received: u64,
    /// Successful handshakes.
    pub sessions: u64,
    /// The last transient error (kept after recovery, for diagnosis).
    pub last_error: Option<String>,
}

/// A shared view of a client's progress, usable while it runs.
#[derive(Debug, Clone)]
pub struct ProgressHandle {
    progress: Arc<Mutex<ClientProgress>>,
}

impl ProgressHandle {
    /// A snapshot.
    pub fn get(&self) -> ClientProgress {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn update(&self, f: impl FnOnce(&mut ClientProgress)) {
        f(&mut self.progress.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Who is told what the client does as it happens (the pipeline's
/// progress, which `trepctl status` shows), and who tells the client the
/// seqno applied downstream of it (sent upstream in ACKs).
pub trait ClientObserver: Send + Sync + 'static {
    /// Connecting again to `uri` after `error`.
    fn reconnecting(&self, uri: &str, error: &str);
    /// Streaming from `uri`.
    fn streaming(&self, uri: &str);
    /// The local THL durably holds every record up to `seqno`; the batch
    /// that got it there was `records` records, appended and made durable
    /// in `busy`.
    fn stored(&self, seqno: Seqno, records: u64, busy: std::time::Duration);
    /// The last transaction applied downstream of this client, if any.
    fn applied(&self) -> Option<Seqno>;
}

/// An observer that watches nothing and has applied nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl ClientObserver for Unobserved {
    fn reconnecting(&self, _: &str, _: &str) {}
    fn streaming(&self, _: &str) {}
    fn stored(&self, _: Seqno, _: u64, _: std::time::Duration) {}
    fn applied(&self) -> Option<Seqno> {
        None
    }
}

/// The retention side of the local THL a [`ThlClient`] owns: it deletes
/// old files and cannot append. The client alone appends.
#[derive(Clone)]
pub struct LogPurger {
    writer: Arc<Mutex<Writer>>,
}

impl fmt::Debug for LogPurger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogPurger").finish_non_exhaustive()
    }
}

impl LogPurger {
    /// [`Writer::apply_retention`] on the client's log (blocking: call it
    /// on a blocking thread).
    pub fn apply_retention(
        &self,
        policy: &Retention,
        still_needed: Seqno,
        now: SystemTime,
    ) -> Result<PurgeReport, StoreError> {
        lock(&self.writer).apply_retention(policy, still_needed, now)
    }
}

/// The end of the local log, kept with the writer's appends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct LocalPos {
    /// seqno_end and epoch of the last complete transaction.
    complete: Option<(Seqno, Epoch)>,
    /// An open transaction: seqno, last fragno stored, epoch.
    open: Option<(Seqno, u16, Epoch)>,
}

impl LocalPos {
    fn after(mut self, fx: &record::FixedHeader) -> LocalPos {
        if fx.last_frag {
            self.complete = Some((fx.seqno_end, fx.epoch));
            self.open = None;
        } else {
            self.open = Some((fx.seqno, fx.fragno, fx.epoch));
        }
        self
    }
}

/// The THL client (see the module invariants).
pub struct ThlClient {
    cfg: ClientConfig,
    uris: Vec<ThlUri>,
    /// The local THL: the client is its only appender; the mutex lets the
    /// client's blocking store tasks and its [`LogPurger`] take turns.
    writer: Arc<Mutex<Writer>>,
    resolver: Resolver,
    progress: ProgressHandle,
    observer: Arc<dyn ClientObserver>,
    pos: Arc<Mutex<Option<LocalPos>>>,
    /// The store task in flight, awaited when `run` is cancelled so that no
    /// append outlives it.
    inflight: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl fmt::Debug for ThlClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThlClient")
            .field("cfg", &self.cfg)
            .field("progress", &self.progress.get())
            .finish()
    }
}

/// Received records waiting to be appended.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Each record's end in `bytes`, and its fixed header.
    records: Vec<(usize, record::FixedHeader)>,
}

const BATCH_BYTES: usize = 16 << 20;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ThlClient {
    /// A client that owns `writer` and appends what it receives to it
    /// (retention goes through [`ThlClient::purger`]).
    pub fn new(cfg: ClientConfig, writer: Writer, resolver: Resolver) -> Result<ThlClient, ClientError> {
        let cfg_err = |m: String| ClientError::definite("-", DefiniteKind::Config, m);
        if cfg.uris.is_empty() {
            return Err(cfg_err("no THL server URI configured".into()));
        }
        let uris = cfg
            .uris
            .iter()
            .map(|u| ThlUri::parse(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(cfg_err)?;
        let progress = ProgressHandle {
            progress: Arc::new(Mutex::new(ClientProgress {
                last_stored_seqno: writer.durable_seqno(),
                ..ClientProgress::default()
            })),
        };
        Ok(ThlClient {
            cfg,
            uris,
            writer: Arc::new(Mutex::new(writer)),
            resolver,
            progress,
            observer: Arc::new(Unobserved),
            pos: Arc::new(Mutex::new(None)),
            inflight: Arc::new(Mutex::new(None)),
        })
    }

    /// A snapshot of the progress.
    pub fn progress(&self) -> ClientProgress {
        self.progress.get()
    }

    /// A handle on the progress, readable while the client runs.
    pub fn progress_handle(&self) -> ProgressHandle {
        self.progress.clone()
    }

    /// Reports to `observer` from now on (see [`ClientObserver`]).
    pub fn observed_by(mut self, observer: Arc<dyn ClientObserver>) -> ThlClient {
        self.observer = observer;
        self
    }

    /// The handle through which retention deletes old files of the log.
    pub fn purger(&self) -> LogPurger {
        LogPurger {
            writer: Arc::clone(&self.writer),
        }
    }

    /// Replicates until `shutdown` completes (`Ok`) or a definite error.
    /// Transient errors are retried here, with backoff, over the URIs in
    /// turn; each shows in [`ClientProgress::last_error`].
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), ClientError> {
        let res = self.run_inner(shutdown).await;
        // A session cancelled by the shutdown may have left a store running.
        let pending = lock(&self.inflight).take();
        if let Some(h) = pending {
            let _ = h.await;
        }
        self.progress.update(|p| p.connected_uri = None);
        res
    }

    async fn run_inner(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), ClientError> {
        tokio::pin!(shutdown);
        if lock(&self.pos).is_none() {
            let w = Arc::clone(&self.writer);
            let p = tokio::task::spawn_blocking(move || read_pos(&lock(&w)))
                .await
                .map_err(|e| ClientError::definite("-", DefiniteKind::Store, format!("internal task failed: {e}")))?
                .map_err(|e| {
                    ClientError::definite("-", DefiniteKind::Store, format!("cannot read the local THL: {e}"))
                })?;
            *lock(&self.pos) = Some(p);
        }
        let mut backoff = Backoff::jittered(self.cfg.backoff, seed(&self.cfg.client_id));
        let mut i = 0usize;
        loop {
            let uri = self.uris[i % self.uris.len()].clone();
            i = i.wrapping_add(1);
            let mut streamed = false;
            let err = tokio::select! {
                () = &mut shutdown => return Ok(()),
                e = self.attempt(&uri, &mut streamed) => e,
            };
            self.progress.update(|p| {
                p.connected_uri = None;
                p.last_error = Some(err.to_string());
            });
            self.observer.reconnecting(&uri.to_string(), &err.to_string());
            if !err.is_transient() {
                tracing::error!(uri = %uri, "{err}");
                return Err(err);
            }
            tracing::warn!(uri = %uri, "{err}; retrying");
            if streamed {
                backoff.reset();
            }
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    async fn connect(&self, uri: &ThlUri) -> Result<TcpStream, ClientError> {
        let u = uri.to_string();
        let (host, port, resolver) = (uri.host.clone(), uri.port, Arc::clone(&self.resolver));
        let addrs = tokio::task::spawn_blocking(move || resolver(&host, port))
            .await
            .map_err(|e| ClientError::transient(&u, format!("resolver task failed: {e}")))?
            .map_err(|e| ClientError::transient(&u, format!("cannot resolve {}: {e}", uri.host)))?;
        let mut last = format!("{} resolves to no address", uri.host);
        for a in addrs {
            match timeout(self.cfg.connect_timeout, TcpStream::connect(a)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Ok(Err(e)) => last = format!("connect to {a}: {e}"),
                Err(_) => last = format!("connect to {a}: timed out after {:?}", self.cfg.connect_timeout),
            }
        }
        Err(ClientError::transient(&u, last))
    }

    /// One connection: returns why it ended. `streamed` is set once the
    /// handshake succeeded.
    async fn attempt(&self, uri: &ThlUri, streamed: &mut bool) -> ClientError {
        if let Err(e) = self.recover_store().await {
            return e;
        }
        let sock = match self.connect(uri).await {
            Ok(s) => s,
            Err(e) => return e,
        };
        let u = uri.to_string();
        let ended = if uri.tls {
            match self.tls_connect(uri, sock).await {
                Ok(tls) => self.session(&u, tls, streamed).await,
                Err(e) => return e,
            }
        } else {
            self.session(&u, sock, streamed).await
        };
        match ended {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }

    /// The TLS handshake of a `thls://` URI: the server's certificate must
    /// chain to the deployment's CA and name `uri.host` (a spoofed master
    /// is a definite error: retrying cannot fix it).
    async fn tls_connect(
        &self,
        uri: &ThlUri,
        sock: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
        let u = uri.to_string();
        let Some(tls) = &self.cfg.tls else {
            return Err(ClientError::definite(
                &u,
                DefiniteKind::Config,
                "a thls:// upstream needs this host's ssl-cert, ssl-key and ssl-ca in the ini".to_owned(),
            ));
        };
        let name = rustls::pki_types::ServerName::try_from(uri.host.clone()).map_err(|e| {
            ClientError::definite(&u, DefiniteKind::Config, format!("TLS server name {}: {e}", uri.host))
        })?;
        let connector = tokio_rustls::TlsConnector::from(tls.0.client());
        match timeout(self.cfg.handshake_timeout, connector.connect(name, sock)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(crate::tls::handshake_error(&e).map_or_else(
                || ClientError::transient(&u, format!("TLS handshake: {e}")),
                |why| ClientError::definite(&u, DefiniteKind::Tls, why),
            )),
            Err(_) => Err(ClientError::transient(
                &u,
                format!("TLS handshake: no answer within {:?}", self.cfg.handshake_timeout),
            )),
        }
    }

    async fn session<S>(&self, u: &str, sock: S, streamed: &mut bool) -> Result<std::convert::Infallible, ClientError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let cfg = &self.cfg;
        let (mut rd, mut wr) = tokio::io::split(sock);
        let mut dec = FrameDecoder::new(cfg.max_record_len);
        let deadline = Instant::now() + cfg.handshake_timeout;
        // HELLO.
        let hello = match read_control(u, &mut rd, &mut dec, deadline, "HELLO").await? {
            Message::Hello(h) => h,
            Message::Nok(n) => return Err(refused(u, n)),
            m => {
                return Err(ClientError::transient(
                    u,
                    format!("protocol error: expected HELLO, got {}", m.msg_type().name()),
                ))
            }
        };
        if hello.version != PROTOCOL_VERSION {
            return Err(ClientError::definite(
                u,
                DefiniteKind::ProtocolVersion,
                format!(
                    "the THL server speaks protocol version {}, this client version {PROTOCOL_VERSION}: upgrade the older side",
                    hello.version
                ),
            ));
        }
        self.progress.update(|p| {
            p.server_source_id = Some(hello.source_id.clone());
            p.server_role = Some(hello.role);
            p.server_max_seqno = hello.max_seqno;
        });
        // RESUME. An empty local log with a committed position in the
        // target asks for that position's own transaction, to check it.
        let pos = lock(&self.pos).unwrap_or_default();
        let resend_committed = match (pos.open, pos.complete) {
            (None, None) => cfg.start_after.clone(),
            _ => None,
        };
        let (last_seqno, last_epoch, last_fragno, last_frag) = match (pos.open, pos.complete, &resend_committed) {
            (Some((s, f, e)), ..) => (Some(s), Some(e), f, false),
            (None, Some((s, e)), _) => (Some(s), Some(e), 0, true),
            // As a client holding fragments of it: the server checks the
            // epoch and starts at its fragment 0.
            (None, None, Some(c)) => (Some(c.seqno), Some(c.epoch), 0, false),
            (None, None, None) => (None, None, 0, true),
        };
        let resume = Message::Resume(Resume {
            version: PROTOCOL_VERSION,
            last_seqno,
            last_epoch,
            last_fragno,
            last_frag,
            heartbeat_ms: u32::try_from(cfg.heartbeat_interval.as_millis()).unwrap_or(u32::MAX),
            client_id: cfg.client_id.clone(),
            event_id: match (&resend_committed, last_seqno) {
                (Some(c), _) => c.event_id.clone(),
                (None, Some(s)) => self.local_event_id(s).await?,
                (None, None) => String::new(),
            },
        });
        write_timeout(u, &mut wr, &resume.to_bytes(), cfg.handshake_timeout).await?;
        // OK or NOK.
        let ok = match read_control(u, &mut rd, &mut dec, deadline, "OK").await? {
            Message::Ok(o) => o,
            Message::Nok(n) => return Err(refused(u, n)),
            m => {
                return Err(ClientError::transient(
                    u,
                    format!("protocol error: expected OK, got {}", m.msg_type().name()),
                ))
            }
        };
        let needed = match (pos.open, pos.complete, &resend_committed) {
            (Some((s, ..)), ..) => Some(s),
            (None, Some((s, _)), _) => Some(s + 1),
            (None, None, Some(c)) => Some(c.seqno),
            (None, None, None) => None,
        };
        let first = match (needed, ok.start_seqno) {
            (Some(n), Some(s)) if n != s => {
                return Err(ClientError::definite(
                    u,
                    DefiniteKind::ProtocolViolation,
                    format!("the server would start at seqno {s}, but the client needs seqno {n}"),
                ))
            }
            (Some(n), None) => {
                return Err(ClientError::definite(
                    u,
                    DefiniteKind::ProtocolViolation,
                    format!("the server would start at its first record, but the client needs seqno {n}"),
                ))
            }
            (n, s) => n.or(s),
        };
        *streamed = true;
        tracing::info!(uri = %u, server = %hello.source_id, start = ?first, "THL client connected");
        self.progress.update(|p| {
            p.connected_uri = Some(u.to_string());
            p.sessions += 1;
            p.server_max_seqno = p.server_max_seqno.max(ok.max_seqno);
        });
        self.observer.streaming(u);
        let resume = Resumed {
            first,
            skip: pos.open.map(|(s, f, _)| (s, f)),
        };
        self.stream(u, &mut rd, &mut wr, dec, resume).await
    }

    /// Receives records until the session fails: takes the complete frames
    /// buffered, stores each burst with one commit, acknowledges, reads more.
    async fn stream<R, W>(
        &self,
        u: &str,
        rd: &mut R,
        wr: &mut W,
        mut dec: FrameDecoder,
        resumed: Resumed,
    ) -> Result<std::convert::Infallible, ClientError>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let cfg = &self.cfg;
        let mut incoming = Incoming::new(resumed);
        let mut acks = Acks::default();
        let mut tmp = vec![0u8; 64 * 1024];
        let mut last_msg = Instant::now();
        loop {
            self.take_frames(u, &mut dec, &mut incoming)?;
            if !incoming.batch.records.is_empty() {
                let full = incoming.batch_full(cfg.commit_every);
                if !full && !dec.has_frame() {
                    // More already arrived? Then it joins this commit.
                    if let n @ 1.. = read_ready(rd, &mut tmp).await {
                        dec.extend(&tmp[..n]);
                        last_msg = Instant::now();
                        continue;
                    }
                }
                if !full && dec.has_frame() {
                    continue;
                }
                acks.durable = self.store(u, std::mem::take(&mut incoming.batch)).await?;
                thl::faults::crash_point(thl::faults::CLIENT_AFTER_STORE);
            }
            let applied = self.observer.applied();
            let ack_due = acks.due(applied);
            if ack_due && acks.last.elapsed() >= cfg.ack_interval {
                let m = Message::Ack(Ack {
                    durable_seqno: acks.durable,
                    applied_seqno: applied,
                });
                write_timeout(u, wr, &m.to_bytes(), cfg.heartbeat_timeout).await?;
                acks.sent(applied);
            }
            if dec.has_frame() {
                continue;
            }
            let dead = last_msg + cfg.heartbeat_timeout;
            let wake = if ack_due {
                dead.min(acks.last + cfg.ack_interval)
            } else {
                dead
            };
            match timeout_at(wake, rd.read(&mut tmp)).await {
                Ok(Ok(0)) => return Err(ClientError::transient(u, "the server closed the connection")),
                Ok(Ok(n)) => {
                    dec.extend(&tmp[..n]);
                    last_msg = Instant::now();
                }
                Ok(Err(e)) => return Err(ClientError::transient(u, format!("read failed: {e}"))),
                Err(_) if Instant::now() >= dead => {
                    return Err(ClientError::transient(
                        u,
                        format!(
                            "heartbeat timeout: no message from the server for {:?}",
                            cfg.heartbeat_timeout
                        ),
                    ))
                }
                Err(_) => {}
            }
        }
    }

    /// Moves the complete frames buffered in `dec` into `incoming` (until
    /// its batch is full): records are checked and queued, heartbeats
    /// noted; a NOK or an unexpected message ends the session.
    fn take_frames(&self, u: &str, dec: &mut FrameDecoder, incoming: &mut Incoming) -> Result<(), ClientError> {
        let bad = |e: &dyn fmt::Display| ClientError::transient(u, format!("bad message from the server: {e}"));
        while !incoming.batch_full(self.cfg.commit_every) {
            let Some(f) = dec.next_frame().map_err(|e| bad(&e))? else {
                return Ok(());
            };
            match f.msg_type {
                MsgType::Record => {
                    let fx = incoming.accept(u, f.payload)?;
                    self.progress.update(|p| {
                        p.records_received += 1;
                        p.server_max_seqno = p.server_max_seqno.max(Some(fx.seqno_end).filter(|_| fx.last_frag));
                    });
                }
                MsgType::Heartbeat => {
                    if let Message::Heartbeat(h) = Message::decode(f.msg_type, f.payload).map_err(|e| bad(&e))? {
                        self.progress
                            .update(|p| p.server_max_seqno = p.server_max_seqno.max(h.durable_seqno));
                    }
                }
                MsgType::Nok => {
                    return match Message::decode(f.msg_type, f.payload) {
                        Ok(Message::Nok(n)) => Err(refused(u, n)),
                        _ => Err(ClientError::transient(u, "bad NOK message from the server")),
                    };
                }
                t => {
                    return Err(ClientError::transient(
                        u,
                        format!("protocol error: unexpected {} while streaming", t.name()),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The event id of the local log's record of `seqno` (its fragment 0),
    /// which RESUME carries for the server to compare: read once per
    /// connection, not kept per record received. Read from the files (a
    /// half-stored transaction is past the writer's watermarks).
    async fn local_event_id(&self, seqno: Seqno) -> Result<String, ClientError> {
        let w = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || -> Result<String, StoreError> {
            let dir = lock(&w).dir().to_path_buf();
            match thl::store::Reader::open(dir)?.cursor(seqno)?.next()? {
                Some(r) => Ok(r.header().event_id.clone()),
                None => Err(StoreError::InvalidArgument(format!(
                    "cannot read the record of the stored seqno {seqno}"
                ))),
            }
        })
        .await
        .map_err(|e| ClientError::definite("-", DefiniteKind::Store, format!("internal task failed: {e}")))?
        .map_err(|e| store_error("-", &e))
    }

    /// After an I/O error of the local THL (a full disk, a failed
    /// fdatasync: the writer cut the log back to its durable end), recovers
    /// the writer and restarts from its end; a no-op otherwise.
    async fn recover_store(&self) -> Result<(), ClientError> {
        let (w, pos) = (Arc::clone(&self.writer), Arc::clone(&self.pos));
        let res = tokio::task::spawn_blocking(move || -> Result<Option<LocalPos>, StoreError> {
            let mut w = lock(&w);
            if !w.is_poisoned() {
                return Ok(None);
            }
            w.recover()?;
            let p = read_pos(&w)?;
            *lock(&pos) = Some(p);
            Ok(Some(p))
        })
        .await
        .map_err(|e| ClientError::definite("-", DefiniteKind::Store, format!("internal task failed: {e}")))?;
        match res {
            Ok(Some(p)) => {
                tracing::warn!(resume_after = ?p.complete, "the local THL recovered from an I/O error; fetching again from its end");
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => Err(store_error("-", &e)),
        }
    }

    /// Appends the batch verbatim and commits; returns the durable seqno.
    async fn store(&self, u: &str, batch: Batch) -> Result<Option<Seqno>, ClientError> {
        let (w, pos, progress, observer) = (
            Arc::clone(&self.writer),
            Arc::clone(&self.pos),
            self.progress.clone(),
            Arc::clone(&self.observer),
        );
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::task::spawn_blocking(move || {
            let res = (|| -> Result<Option<Seqno>, StoreError> {
                let started = std::time::Instant::now();
                let mut w = lock(&w);
                let mut start = 0;
                for (end, fx) in &batch.records {
                    w.append_raw(&batch.bytes[start..*end])?;
                    if start == 0 {
                        thl::faults::crash_point(thl::faults::CLIENT_MID_BATCH);
                    }
                    start = *end;
                    let mut p = lock(&pos);
                    *p = Some(p.unwrap_or_default().after(fx));
                }
                w.commit()?;
                let durable = w.durable_seqno();
                progress.update(|p| p.last_stored_seqno = durable);
                if let Some(seqno) = durable {
                    observer.stored(seqno, batch.records.len() as u64, started.elapsed());
                }
                Ok(durable)
            })();
            let _ = tx.send(res);
        });
        *lock(&self.inflight) = Some(task);
        let res = rx.await;
        lock(&self.inflight).take();
        let res = res.map_err(|_| ClientError::definite(u, DefiniteKind::Store, "the store task failed"))?;
        res.map_err(|e| store_error(u, &e))
    }
}

/// A failure of the local THL: an I/O error (a full disk, a failed
/// fdatasync) is retried once the writer recovers; anything else is for
/// the operator.
fn store_error(u: &str, e: &StoreError) -> ClientError {
    if e.is_transient() {
        ClientError::transient(
            u,
            format!("the local THL failed to store records from the server: {e} (retried; the log was cut back to its last durable transaction)"),
        )
    } else {
        ClientError::definite(
            u,
            DefiniteKind::Store,
            format!("the local THL failed to store a record from the server: {e} (fix the cause and restart the service; the THL is recovered on open)"),
        )
    }
}

/// Where a session's stream starts: the first seqno, and the fragments of
/// an open transaction already stored.
#[derive(Debug)]
struct Resumed {
    first: Option<Seqno>,
    skip: Option<(Seqno, u16)>,
}

/// The records of a session on their way to the local log: their order,
/// what of them the log already holds, and the batch to store.
#[derive(Debug)]
struct Incoming {
    seq: Sequence,
    /// Fragments of the open transaction already stored: (seqno, last fragno).
    skip: Option<(Seqno, u16)>,
    batch: Batch,
}

impl Incoming {
    fn new(resumed: Resumed) -> Incoming {
        Incoming {
            seq: Sequence::new(resumed.first),
            skip: resumed.skip,
            batch: Batch::default(),
        }
    }

    fn batch_full(&self, commit_every: usize) -> bool {
        self.batch.records.len() >= commit_every.max(1) || self.batch.bytes.len() >= BATCH_BYTES
    }

    /// One RECORD payload: checked (CRC, EVENT type, order), then dropped
    /// if the log or the target already holds it, else queued. Returns its
    /// fixed header.
    fn accept(&mut self, u: &str, payload: &[u8]) -> Result<record::FixedHeader, ClientError> {
        let violation = |m: String| ClientError::definite(u, DefiniteKind::ProtocolViolation, m);
        let corrupt = |e: &dyn fmt::Display| ClientError::transient(u, format!("corrupt record from the server: {e}"));
        let fr = record::parse_frame(payload).map_err(|e| corrupt(&e))?;
        if fr.rtype != RecordType::Event {
            return Err(violation("the server sent a record that is not an EVENT".into()));
        }
        let fx = record::decode_fixed(fr.payload).map_err(|e| corrupt(&e))?;
        self.seq
            .accept(fx.seqno, fx.seqno_end, fx.fragno, fx.last_frag)
            .map_err(|why| violation(format!("the server sent records out of order: {why}")))?;
        if let Some((s, k)) = self.skip {
            // Resent fragments of the transaction we are in.
            if fx.seqno != s || fx.last_frag && fx.fragno <= k {
                return Err(violation(format!(
                    "the client stored fragments 0..={k} of seqno {s}, but the server sent seqno {} fragno {}{}",
                    fx.seqno,
                    fx.fragno,
                    if fx.last_frag { " (last)" } else { "" }
                )));
            }
            if fx.fragno <= k {
                if fx.fragno == k {
                    self.skip = None;
                }
                return Ok(fx);
            }
        }
        self.batch.bytes.extend_from_slice(payload);
        self.batch.records.push((self.batch.bytes.len(), fx));
        Ok(fx)
    }
}

/// What was acknowledged, and when.
#[derive(Debug)]
struct Acks {
    /// The local log's durable seqno after the last store.
    durable: Option<Seqno>,
    acked: Option<Seqno>,
    applied_sent: Option<Seqno>,
    last: Instant,
}

impl Default for Acks {
    fn default() -> Acks {
        Acks {
            durable: None,
            acked: None,
            applied_sent: None,
            last: Instant::now(),
        }
    }
}

impl Acks {
    fn due(&self, applied: Option<Seqno>) -> bool {
        self.durable != self.acked || applied != self.applied_sent
    }

    fn sent(&mut self, applied: Option<Seqno>) {
        self.acked = self.durable;
        self.applied_sent = applied;
        self.last = Instant::now();
    }
}

/// The end of the local log: the last complete transaction and its epoch.
/// A freshly opened writer has no open transaction (recovery cut it).
fn read_pos(w: &Writer) -> Result<LocalPos, StoreError> {
    let Some(max) = w.max_seqno() else {
        return Ok(LocalPos::default());
    };
    let rec = w.reader(Visibility::Written).cursor(max)?.next()?;
    let Some(r) = rec else {
        return Err(StoreError::InvalidArgument(format!(
            "cannot read the record of the last stored seqno {max}"
        )));
    };
    Ok(LocalPos {
        complete: Some((max, r.header().epoch)),
        open: None,
    })
}

fn refused(u: &str, n: Nok) -> ClientError {
    if n.code.is_transient() {
        ClientError::transient(u, format!("the server refused the client ({}): {}", n.code, n.text))
    } else {
        ClientError::definite(u, DefiniteKind::Refused(n.code), n.text)
    }
}

async fn write_timeout<W: AsyncWrite + Unpin>(u: &str, w: &mut W, buf: &[u8], t: Duration) -> Result<(), ClientError> {
    match timeout(t, async {
        w.write_all(buf).await?;
        w.flush().await
    })
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ClientError::transient(u, format!("write failed: {e}"))),
        Err(_) => Err(ClientError::transient(u, format!("write timed out after {t:?}"))),
    }
}

async fn read_control<R: AsyncRead + Unpin>(
    u: &str,
    rd: &mut R,
    dec: &mut FrameDecoder,
    deadline: Instant,
    what: &str,
) -> Result<Message, ClientError> {
    let mut tmp = [0u8; 4096];
    loop {
        match dec.next_frame() {
            Ok(Some(f)) if f.msg_type == MsgType::Record => {
                return Err(ClientError::transient(
                    u,
                    format!("protocol error: RECORD before {what}"),
                ))
            }
            Ok(Some(f)) => {
                return Message::decode(f.msg_type, f.payload)
                    .map_err(|e| ClientError::transient(u, format!("bad {what} from the server: {e}")))
            }
            Ok(None) => {}
            Err(e) => return Err(ClientError::transient(u, format!("bad message from the server: {e}"))),
        }
        match timeout_at(deadline, rd.read(&mut tmp)).await {
            Ok(Ok(0)) => {
                return Err(ClientError::transient(
                    u,
                    format!("the server closed the connection before {what}"),
                ))
            }
            Ok(Ok(n)) => dec.extend(&tmp[..n]),
            // TLS 1.3: the server refuses our certificate (or its absence)
            // after our side of the handshake ended: at the first read.
            Ok(Err(e)) => {
                return Err(crate::tls::handshake_error(&e).map_or_else(
                    || ClientError::transient(u, format!("read failed: {e}")),
                    |why| ClientError::definite(u, DefiniteKind::Tls, why),
                ))
            }
            Err(_) => {
                return Err(ClientError::transient(
                    u,
                    format!("handshake timeout: no {what} from the server"),
                ))
            }
        }
    }
}

fn seed(id: &str) -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (t ^ h ^ u64::from(std::process::id())) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        assert_eq!(
            ThlUri::parse("thl://db1:2112/"),
            Ok(ThlUri {
                host: "db1".into(),
                port: 2112,
                tls: false
            })
        );
        assert_eq!(
            ThlUri::parse("thl://db1"),
            Ok(ThlUri {
                host: "db1".into(),
                port: 2112,
                tls: false
            })
        );
        assert_eq!(
            ThlUri::parse("THL://10.0.0.1:3000"),
            Ok(ThlUri {
                host: "10.0.0.1".into(),
                port: 3000,
                tls: false
            })
        );
        assert_eq!(
            ThlUri::parse("thl://[::1]:2113/"),
            Ok(ThlUri {
                host: "::1".into(),
                port: 2113,
                tls: false
            })
        );
        assert_eq!(
            ThlUri::parse("THLS://db1:2112/").map(|u| (u.tls, u.to_string())),
            Ok((true, "thls://db1:2112/".into()))
        );
        assert_eq!(
            ThlUri::parse("thl://[::1]:2113/").map(|u| u.to_string()),
            Ok("thl://[::1]:2113/".into())
        );
        for bad in [
            "db1:2112",
            "thlx://db1:2112/",
            "thl://:2112/",
            "thl://db1:0/",
            "thl://db1:x/",
            "thl://db1/x",
            "thl://[::1",
        ] {
            assert!(ThlUri::parse(bad).is_err(), "{bad}");
        }
    }
}

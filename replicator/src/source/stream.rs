//! The binlog dump: [`BinlogSource`] and [`RawEvent`] (see the module doc
//! of [`crate::source`] for how the raw bytes are rebuilt and positioned).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::Stream;
use mysql_async::binlog::events::{BinlogEventFooter, BinlogEventHeader, Event};
use mysql_async::binlog::BinlogChecksumAlg;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest, Conn, Opts, OptsBuilder};

use super::error::{classify, codes, DefiniteError, SourceError, StreamPosition, TransientError, BINLOG_PACKET_LIMIT};
use super::preflight::{ensure_server_id, PreflightError, SourceSettings};
use super::queries::{self, ServerInfo};
use crate::binlog::BinlogPosition;

const FORMAT_DESCRIPTION_EVENT: u8 = 15;
const ROTATE_EVENT: u8 = 4;
const HEARTBEAT_EVENT: u8 = 27;
const MARIADB_GTID_EVENT: u8 = 162;
/// LOG_EVENT_ARTIFICIAL_F: the event is not in the binlog file.
const ARTIFICIAL_FLAG: u16 = 0x20;
const HEADER_LEN: usize = BinlogEventHeader::LEN;
const CRC_LEN: usize = BinlogEventFooter::BINLOG_CHECKSUM_LEN;

/// Where a dump starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartPosition {
    /// A binlog file and offset (4 is the first event of a file).
    FilePos(BinlogPosition),
    /// After the given MariaDB GTID state (`domain-server-seqno[,...]`):
    /// the first event streamed is the transaction following it.
    MariaGtid(String),
    /// The source's current position (`SHOW MASTER STATUS`).
    Current,
}

impl fmt::Display for StartPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FilePos(at) => write!(f, "{at}"),
            Self::MariaGtid(g) => write!(f, "GTID {g}"),
            Self::Current => f.write_str("the current position"),
        }
    }
}

impl StartPosition {
    fn as_stream_position(&self) -> StreamPosition {
        match self {
            Self::FilePos(at) => StreamPosition {
                at: Some(at.clone()),
                gtid: None,
            },
            Self::MariaGtid(g) => StreamPosition {
                at: None,
                gtid: Some(g.clone()),
            },
            Self::Current => StreamPosition::default(),
        }
    }
}

/// The position `file:pos`, or `None` while the file is not known (a GTID
/// start before the server's first ROTATE names it).
fn known_position(file: &str, pos: u64) -> Option<BinlogPosition> {
    (!file.is_empty()).then(|| BinlogPosition::new(file, pos))
}

/// How the trailing bytes of a raw event are to be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlg {
    /// No checksum: the event ends with its payload.
    Off,
    /// The last 4 bytes are the little-endian CRC32 (IEEE, as `crc32fast`)
    /// of everything before them. For a format description event, the
    /// `LOG_EVENT_BINLOG_IN_USE_F` flag (0x1) must be cleared in the header
    /// before computing it, as the server does.
    Crc32,
}

/// One binlog event, exactly as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The whole event: 19-byte header, payload, and the 4-byte checksum
    /// when `checksum` is [`ChecksumAlg::Crc32`]. A format description
    /// event always ends with the checksum-algorithm byte and 4 checksum
    /// bytes; with the algorithm OFF those 4 bytes are not a valid CRC (the
    /// server does not recompute them when it rewrites the header of the
    /// FDE it re-sends at the start of a dump), so do not check them.
    pub bytes: Vec<u8>,
    /// The checksum algorithm in force for this event (for a format
    /// description event: the algorithm it declares).
    pub checksum: ChecksumAlg,
    /// The binlog file the event is in (shared by the events of a file;
    /// [`RawEvent::position`] and [`RawEvent::next_position`] give the
    /// event's place as a [`BinlogPosition`]).
    pub file: Arc<str>,
    /// Offset of the event's first byte in `file` (for an artificial
    /// event: the current position).
    pub pos: u64,
    /// Offset after the event: where a dump resuming after it starts.
    pub next_pos: u64,
    /// Not in the binlog file (fake ROTATE, re-sent FDE, heartbeat).
    pub artificial: bool,
}

impl RawEvent {
    /// Where the event starts.
    pub fn position(&self) -> BinlogPosition {
        BinlogPosition::new(&*self.file, self.pos)
    }

    /// Where a dump resuming after the event starts.
    pub fn next_position(&self) -> BinlogPosition {
        BinlogPosition::new(&*self.file, self.next_pos)
    }

    /// The event type byte (header offset 4).
    pub fn event_type(&self) -> u8 {
        self.bytes.get(4).copied().unwrap_or(0)
    }

    /// The originating server id (header offset 5).
    pub fn server_id(&self) -> u32 {
        self.bytes
            .get(5..9)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// The payload: after the header, before the checksum. For a format
    /// description event the 4 checksum bytes are left out whatever the
    /// algorithm (it always carries them); its payload ends with the
    /// algorithm byte.
    pub fn payload(&self) -> &[u8] {
        let end = if self.checksum == ChecksumAlg::Crc32 || self.event_type() == FORMAT_DESCRIPTION_EVENT {
            self.bytes.len().saturating_sub(CRC_LEN)
        } else {
            self.bytes.len()
        };
        self.bytes.get(HEADER_LEN..end).unwrap_or(&[])
    }
}

/// Settings of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Our server id: non-zero, unique in the topology.
    pub server_id: u32,
    /// `@master_heartbeat_period`: the server sends a heartbeat after this
    /// long without events.
    pub heartbeat: Duration,
    /// A silence longer than this (no event, no heartbeat) is a
    /// [`TransientError::Idle`]. Keep it several heartbeats long.
    pub idle_timeout: Duration,
    /// Deadline for connecting and for each setup query.
    pub connect_timeout: Duration,
}

impl StreamConfig {
    /// Defaults: heartbeat 1 s, idle timeout 30 s, connect timeout 10 s.
    pub fn new(server_id: u32) -> Self {
        Self {
            server_id,
            heartbeat: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A binlog dump connection to the source.
///
/// After any error the connection is unusable: drop it and
/// [`BinlogSource::connect`] again from the last durable position.
pub struct BinlogSource {
    stream: BinlogStream,
    opts: Opts,
    config: StreamConfig,
    addr: String,
    user: String,
    server: ServerInfo,
    start: StartPosition,
    /// Current file (empty until the first ROTATE).
    file: Arc<str>,
    /// Offset after the last event.
    pos: u64,
    /// Last GTID seen.
    gtid: Option<String>,
    /// From the last format description event; `None` before the first.
    checksum: Option<ChecksumAlg>,
    /// The first event, read by `connect` to surface start errors early.
    pending: Option<RawEvent>,
    /// How the stream ended, seen by [`BinlogSource::next_received`] and
    /// reported by the next [`BinlogSource::next_event`] (`Some(None)`: the
    /// server ended the dump).
    failed: Option<Option<mysql_async::Error>>,
}

impl fmt::Debug for BinlogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinlogSource")
            .field("addr", &self.addr)
            .field("server", &self.server)
            .field("start", &self.start)
            .field("position", &self.position())
            .field("checksum", &self.checksum)
            .finish_non_exhaustive()
    }
}

async fn bounded<T>(
    fut: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
    waited: Duration,
    what: &str,
    ctx: (&str, &str, &StreamPosition, bool),
) -> Result<T, SourceError> {
    let (addr, user, at, connecting) = ctx;
    match tokio::time::timeout(waited, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(e, addr, user, at, connecting)),
        Err(_) => Err(TransientError::Timeout {
            addr: addr.to_owned(),
            at: at.clone(),
            what: what.to_owned(),
            waited,
        }
        .into()),
    }
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

impl BinlogSource {
    /// Connects as a replica with server id `our_server_id` and default
    /// [`StreamConfig`], and starts the dump at `start`.
    pub async fn connect(opts: Opts, our_server_id: u32, start: StartPosition) -> Result<Self, SourceError> {
        Self::connect_with(opts, StreamConfig::new(our_server_id), start).await
    }

    /// Connects and starts the dump. The first event is read before
    /// returning, so a purged position, an unknown GTID or missing
    /// privileges are reported here.
    pub async fn connect_with(opts: Opts, config: StreamConfig, start: StartPosition) -> Result<Self, SourceError> {
        let addr = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
        let user = opts.user().unwrap_or("").to_owned();
        let at = start.as_stream_position();
        let t = config.connect_timeout;
        let opts: Opts = OptsBuilder::from_opts(opts)
            .max_allowed_packet(Some(BINLOG_PACKET_LIMIT))
            .into();

        let mut conn = bounded(Conn::new(opts.clone()), t, "connect", (&addr, &user, &at, true)).await?;
        let ctx = (&addr[..], &user[..], &at, false);
        let server = bounded(queries::server_info(&mut conn), t, "SELECT @@version", ctx).await?;

        let settings = SourceSettings {
            is_mariadb: server.is_mariadb,
            server_id: Some(server.server_id),
            ..SourceSettings::default()
        };
        if let Some(finding) = ensure_server_id(&settings, config.server_id) {
            let _ = conn.disconnect().await;
            return Err(DefiniteError::Settings {
                addr,
                at,
                source: PreflightError {
                    failures: vec![finding],
                    warnings: vec![],
                },
            }
            .into());
        }

        let (file, pos) = match &start {
            StartPosition::FilePos(at) => (at.file.clone(), at.pos),
            StartPosition::MariaGtid(gtid) => {
                if !server.is_mariadb {
                    let _ = conn.disconnect().await;
                    return Err(DefiniteError::GtidUnsupported {
                        addr,
                        version: server.version,
                        requested: gtid.clone(),
                    }
                    .into());
                }
                // MariaDB finds the file itself from @slave_connect_state.
                (String::new(), 4)
            }
            StartPosition::Current => {
                match bounded(queries::current_position(&mut conn), t, "SHOW MASTER STATUS", ctx).await? {
                    Some(p) => (p.file, p.pos),
                    None => {
                        let _ = conn.disconnect().await;
                        return Err(DefiniteError::Server {
                            addr,
                            at,
                            code: 0,
                            message: "SHOW MASTER STATUS is empty: binary logging is off (set log_bin)".into(),
                        }
                        .into());
                    }
                }
            }
        };

        let at = StreamPosition {
            at: known_position(&file, pos),
            gtid: at.gtid,
        };
        let ctx = (&addr[..], &user[..], &at, false);
        let heartbeat_ns = u64::try_from(config.heartbeat.as_nanos()).unwrap_or(u64::MAX);
        let mut setup = vec![
            "SET @mariadb_slave_capability=4".to_owned(),
            format!("SET @master_heartbeat_period={heartbeat_ns}"),
        ];
        if let StartPosition::MariaGtid(gtid) = &start {
            setup.push(format!("SET @slave_connect_state={}", sql_quote(gtid)));
            setup.push("SET @slave_gtid_strict_mode=1".to_owned());
            setup.push("SET @slave_gtid_ignore_duplicates=0".to_owned());
        }
        for sql in &setup {
            bounded(conn.query_drop(sql), t, sql, ctx).await?;
        }

        let request = BinlogStreamRequest::new(config.server_id)
            .with_filename(file.as_bytes())
            .with_pos(pos);
        let stream = bounded(conn.get_binlog_stream(request), t, "COM_BINLOG_DUMP", ctx).await?;

        let mut source = Self {
            stream,
            opts,
            config,
            addr,
            user,
            server,
            start: match start {
                StartPosition::Current => StartPosition::FilePos(BinlogPosition::new(file.clone(), pos)),
                other => other,
            },
            file: Arc::from(file.as_str()),
            pos,
            gtid: at.gtid.clone(),
            checksum: None,
            pending: None,
            failed: None,
        };
        let first = source.read_event().await?;
        source.pending = Some(first);
        Ok(source)
    }

    /// The next event (blocking until one arrives, bounded by
    /// [`StreamConfig::idle_timeout`]; heartbeats count as events).
    pub async fn next_event(&mut self) -> Result<RawEvent, SourceError> {
        if let Some(event) = self.pending.take() {
            return Ok(event);
        }
        self.read_event().await
    }

    /// The position after the last event received, and the last GTID.
    pub fn position(&self) -> StreamPosition {
        StreamPosition {
            at: known_position(&self.file, self.pos),
            gtid: self.gtid.clone(),
        }
    }

    /// Where the dump started (`Current` resolved to a file:pos).
    pub fn start(&self) -> &StartPosition {
        &self.start
    }

    /// The source's version and server id.
    pub fn server(&self) -> &ServerInfo {
        &self.server
    }

    /// The checksum algorithm of the current binlog file (`None` before
    /// the first format description event).
    pub fn checksum(&self) -> Option<ChecksumAlg> {
        self.checksum
    }

    /// Closes the dump connection.
    pub async fn close(self) {
        let _ = self.stream.close().await;
    }

    /// The next event if it was already received: no waiting and no timer,
    /// so a caller can take what one socket read brought in one go. `None`
    /// when the next event has not arrived yet, and also when the stream
    /// failed or ended: the next [`BinlogSource::next_event`] reports that.
    // The error is the cold path, as in `frame`.
    #[allow(clippy::result_large_err)]
    pub fn next_received(&mut self) -> Option<Result<RawEvent, SourceError>> {
        if let Some(event) = self.pending.take() {
            return Some(Ok(event));
        }
        if self.failed.is_some() {
            return None;
        }
        // A no-op waker is fine: the caller's next `next_event` polls again
        // with its own waker before it waits.
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut self.stream).poll_next(&mut cx) {
            Poll::Pending => None,
            Poll::Ready(Some(Ok(event))) => Some(self.frame(&event)),
            Poll::Ready(end_or_error) => {
                self.failed = Some(end_or_error.and_then(Result::err));
                None
            }
        }
    }

    async fn read_event(&mut self) -> Result<RawEvent, SourceError> {
        let polled = match self.failed.take() {
            Some(end_or_error) => end_or_error.map(Err),
            None => {
                let idle = self.config.idle_timeout;
                let stream = &mut self.stream;
                let next = std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx));
                match tokio::time::timeout(idle, next).await {
                    Ok(polled) => polled,
                    Err(_) => {
                        return Err(TransientError::Idle {
                            addr: self.addr.clone(),
                            at: self.position(),
                            idle,
                            heartbeat: self.config.heartbeat,
                        }
                        .into())
                    }
                }
            }
        };
        match polled {
            None => Err(TransientError::ConnectionLost {
                addr: self.addr.clone(),
                at: self.position(),
                detail: "the source ended the binlog dump".into(),
            }
            .into()),
            Some(Err(e)) => Err(self.stream_error(e).await),
            Some(Ok(event)) => self.frame(&event),
        }
    }

    /// Rebuilds the raw bytes of `event` and advances the position.
    // The error is the cold path; `SourceError` stays flat so callers can
    // match variants directly.
    #[allow(clippy::result_large_err)]
    fn frame(&mut self, event: &Event) -> Result<RawEvent, SourceError> {
        let header = event.header();
        let event_type = header.event_type_raw();
        let event_size = header.event_size() as usize;
        let is_fde = event_type == FORMAT_DESCRIPTION_EVENT;
        let footer = event.footer();

        let mut bytes = Vec::with_capacity(event_size);
        bytes.extend_from_slice(&header.timestamp().to_le_bytes());
        bytes.push(event_type);
        bytes.extend_from_slice(&header.server_id().to_le_bytes());
        bytes.extend_from_slice(&header.event_size().to_le_bytes());
        bytes.extend_from_slice(&header.log_pos().to_le_bytes());
        bytes.extend_from_slice(&header.flags_raw().to_le_bytes());
        bytes.extend_from_slice(event.data());

        let checksum = if is_fde {
            match footer.get_checksum_alg() {
                Ok(Some(alg)) => {
                    bytes.push(alg as u8);
                    if let Some(crc) = event.checksum() {
                        bytes.extend_from_slice(&crc);
                    }
                    let ours = match alg {
                        BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_OFF => ChecksumAlg::Off,
                        BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32 => ChecksumAlg::Crc32,
                    };
                    self.checksum = Some(ours);
                    // An FDE always carries the 4 checksum bytes; with the
                    // algorithm OFF they are not a CRC.
                    ours
                }
                // A pre-5.6.1 FDE has no checksum fields: such servers are
                // not supported (nor is binlog_row_metadata on them).
                Ok(None) => {
                    return Err(self.protocol(
                        "format description event without checksum fields: the source is older than \
                         MySQL 5.6.1 / MariaDB 5.3 and is not supported"
                            .into(),
                    ))
                }
                Err(unknown) => {
                    return Err(self.protocol(format!(
                        "format description event declares unknown checksum algorithm {}",
                        u8::from(unknown)
                    )))
                }
            }
        } else if !footer.get_checksum_enabled() {
            // Inside a MySQL TRANSACTION_PAYLOAD_EVENT: never checksummed.
            ChecksumAlg::Off
        } else if let Some(alg) = self.checksum {
            if alg == ChecksumAlg::Crc32 {
                match event.checksum() {
                    Some(crc) => bytes.extend_from_slice(&crc),
                    None => return Err(self.protocol("checksum missing on a CRC32 event".into())),
                }
            }
            alg
        } else {
            // Before the first FDE (the first fake ROTATE) mysql_common
            // strips nothing: the bytes are complete; find out whether they
            // end with a CRC.
            let split = bytes.len().saturating_sub(CRC_LEN);
            if split >= HEADER_LEN && bytes[split..] == crc32fast::hash(&bytes[..split]).to_le_bytes() {
                ChecksumAlg::Crc32
            } else {
                ChecksumAlg::Off
            }
        };

        if bytes.len() != event_size {
            return Err(self.protocol(format!(
                "event type {event_type}: rebuilt {} bytes but the header says {event_size}",
                bytes.len()
            )));
        }

        let log_pos = u64::from(header.log_pos());
        let artificial = log_pos == 0 || header.flags_raw() & ARTIFICIAL_FLAG != 0 || event_type == HEARTBEAT_EVENT;
        let file = Arc::clone(&self.file);
        let (pos, next_pos) = if artificial || log_pos < event_size as u64 {
            (self.pos, self.pos)
        } else {
            (log_pos - event_size as u64, log_pos)
        };
        self.pos = next_pos;

        match event_type {
            ROTATE_EVENT => {
                // payload: position u64, then the next file's name.
                let payload_end = match checksum {
                    ChecksumAlg::Crc32 => bytes.len() - CRC_LEN,
                    ChecksumAlg::Off => bytes.len(),
                };
                let payload = bytes.get(HEADER_LEN..payload_end).unwrap_or(&[]);
                if payload.len() < 8 {
                    return Err(self.protocol("ROTATE event shorter than 8 bytes".into()));
                }
                let (pos_bytes, name) = payload.split_at(8);
                let mut p = [0u8; 8];
                p.copy_from_slice(pos_bytes);
                self.file = Arc::from(String::from_utf8_lossy(name).as_ref());
                self.pos = u64::from_le_bytes(p);
            }
            MARIADB_GTID_EVENT => {
                let payload = bytes.get(HEADER_LEN..).unwrap_or(&[]);
                if let (Some(seq), Some(domain)) = (payload.get(0..8), payload.get(8..12)) {
                    let mut s = [0u8; 8];
                    s.copy_from_slice(seq);
                    let mut d = [0u8; 4];
                    d.copy_from_slice(domain);
                    self.gtid = Some(format!(
                        "{}-{}-{}",
                        u32::from_le_bytes(d),
                        header.server_id(),
                        u64::from_le_bytes(s)
                    ));
                }
            }
            _ => {}
        }

        Ok(RawEvent {
            bytes,
            checksum,
            file,
            pos,
            next_pos,
            artificial,
        })
    }

    fn protocol(&self, detail: String) -> SourceError {
        DefiniteError::Protocol {
            addr: self.addr.clone(),
            at: self.position(),
            detail,
        }
        .into()
    }

    /// Classifies an error of the dump. ERROR 1236 needs a look at the
    /// server (on a new connection) to name what is available.
    async fn stream_error(&self, err: mysql_async::Error) -> SourceError {
        let at = self.position();
        let mysql_async::Error::Server(server_err) = &err else {
            return classify(err, &self.addr, &self.user, &at, false);
        };
        if server_err.code != codes::MASTER_FATAL_ERROR_READING_BINLOG {
            return classify(err, &self.addr, &self.user, &at, false);
        }
        let message = server_err.message.clone();
        let lower = message.to_ascii_lowercase();
        // MariaDB: "Could not find first log file name in binary log index
        // file" (file:pos start), "Could not find GTID state requested by
        // slave in any binlog files" (GTID start); MySQL: "... has purged
        // binary logs containing GTIDs that the slave requires".
        let purged = lower.contains("could not find first log file name")
            || lower.contains("could not find gtid state")
            || lower.contains("purged");
        let unknown_gtid = lower.contains("which is not in the master's binlog");
        if !purged && !unknown_gtid {
            return classify(err, &self.addr, &self.user, &at, false);
        }
        // Look at the server on a fresh, bounded connection; if that fails
        // the error is still definite, with less detail.
        let lookup = async {
            let mut conn = Conn::new(self.opts.clone()).await?;
            let logs = queries::binary_logs(&mut conn).await;
            let gtid_pos = queries::gtid_binlog_pos(&mut conn).await;
            let _ = conn.disconnect().await;
            Ok::<_, mysql_async::Error>((logs?, gtid_pos?))
        };
        let (available, gtid_binlog_pos) = match tokio::time::timeout(self.config.connect_timeout, lookup).await {
            Ok(Ok((logs, gtid))) => (logs, gtid),
            _ => (Vec::new(), None),
        };
        if unknown_gtid {
            return DefiniteError::UnknownGtid {
                addr: self.addr.clone(),
                requested: match &self.start {
                    StartPosition::MariaGtid(g) => g.clone(),
                    other => other.to_string(),
                },
                gtid_binlog_pos,
                server_message: message,
            }
            .into();
        }
        DefiniteError::BinlogPurged {
            addr: self.addr.clone(),
            needed: at,
            available,
            server_message: message,
        }
        .into()
    }
}

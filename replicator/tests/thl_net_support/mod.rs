//! Helpers shared by the `thl_net_*` tests: synthetic THLs, servers on
//! loopback, a fake server speaking the protocol by hand, bounded waits.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicator::thl_net::frame::{self, Hello, Message, OkMsg, PROTOCOL_VERSION};
use replicator::thl_net::{ClientConfig, Resolver, Role, ServerConfig, ThlServer};
use thl::event::EventHeader;
use thl::seqno::{Epoch, Seqno};
use thl::store::{Reader, StoreConfig, SyncPolicy, Visibility, Writer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn header(seqno: i64, seqno_end: i64, fragno: u16, last_frag: bool, epoch: i64) -> EventHeader {
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno_end),
        fragno,
        last_frag,
        epoch: Epoch(epoch),
        source_id: "master1".into(),
        event_id: format!("mysql-bin.000001:{:016};1", seqno * 100 + i64::from(fragno)),
        shard_id: "db".into(),
        source_tstamp_ms: 1_700_000_000_000 + seqno,
        extract_tstamp_ms: 1_700_000_000_001 + seqno,
    }
}

pub fn open_writer(dir: &Path, sync: SyncPolicy) -> Writer {
    let mut cfg = StoreConfig::new(dir);
    cfg.sync = sync;
    cfg.file_size = 64 * 1024;
    Writer::open(cfg).expect("open writer")
}

fn body(seqno: i64, fragno: u16) -> Vec<u8> {
    let n = 50 + (seqno as usize * 37 + usize::from(fragno) * 11) % 400;
    (0..n).map(|i| (i as u8) ^ (seqno as u8) ^ (fragno as u8)).collect()
}

/// Appends transaction `seqno` in `frags` fragments (no commit).
pub fn append_txn(w: &mut Writer, seqno: i64, epoch: i64, frags: u16) {
    for f in 0..frags {
        w.append(&header(seqno, seqno, f, f + 1 == frags, epoch), &body(seqno, f))
            .expect("append");
    }
}

/// Appends seqnos `from..to`: every 7th in 3 fragments, seqno 20 (when in
/// range) a filtered range 20..=22; commits.
pub fn fill(w: &mut Writer, from: i64, to: i64, epoch: i64) {
    let mut s = from;
    while s < to {
        if s == 20 && to > 23 {
            w.append(&header(20, 22, 0, true, epoch), b"").expect("range");
            s = 23;
            continue;
        }
        append_txn(w, s, epoch, if s % 7 == 3 { 3 } else { 1 });
        s += 1;
    }
    w.commit().expect("commit");
}

/// Every record of a THL directory, as raw bytes.
pub fn raw_records(dir: &Path) -> Vec<Vec<u8>> {
    let r = Reader::open(dir).expect("reader");
    let Some(min) = r.min_seqno().expect("min") else {
        return Vec::new();
    };
    let mut c = r.cursor(min).expect("cursor");
    let mut out = Vec::new();
    while let Some(rec) = c.next().expect("next") {
        out.push(rec.raw_bytes().to_vec());
    }
    out
}

/// Resolves the test's host names ("master", "relay", ...) to loopback.
pub fn hosts() -> Resolver {
    Arc::new(|host: &str, port: u16| match host {
        "master" | "relay" | "fake" | "silent" | "localhost" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
        h => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{h} is not in the hosts file"),
        )),
    })
}

pub fn uri(host: &str, addr: SocketAddr) -> String {
    format!("thl://{host}:{}/", addr.port())
}

/// Fast timings for tests.
pub fn client_cfg(uris: Vec<String>, id: &str) -> ClientConfig {
    let mut c = ClientConfig::new(uris, id);
    c.heartbeat_interval = Duration::from_millis(200);
    c.heartbeat_timeout = Duration::from_millis(800);
    c.connect_timeout = Duration::from_millis(500);
    c.handshake_timeout = Duration::from_millis(800);
    c.backoff = replicator::retry::Policy {
        initial: Duration::from_millis(30),
        cap: Duration::from_millis(200),
    };
    c.ack_interval = Duration::from_millis(30);
    c.commit_every = 64;
    c
}

pub struct Running {
    pub server: ThlServer,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .expect("server stops")
                .expect("join")
                .expect("run");
        }
    }
}

pub async fn serve(addr: &str, cfg: ServerConfig, source: Reader) -> Running {
    let server = ThlServer::bind(addr, cfg, source).await.expect("bind");
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let s = server.clone();
    let task = tokio::spawn(s.run(async move {
        let _ = rx.await;
    }));
    Running {
        server,
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

pub async fn serve_writer(w: &Writer, role: Role, id: &str) -> Running {
    serve(
        "127.0.0.1:0",
        ServerConfig::new(role, id),
        w.reader(Visibility::Durable),
    )
    .await
}

/// Polls `cond` every 10 ms; panics with `what` after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `fut` with a deadline.
pub async fn bounded<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}

/// What a fake server does after its scripted messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Close,
    Silent,
}

/// A hand-written server: accepts one connection at a time, sends HELLO,
/// reads (and ignores) RESUME, sends OK(start) and `records`, then closes or
/// stays silent. With `speak` false it accepts and never speaks.
pub async fn fake_server(
    speak: bool,
    start: Option<Seqno>,
    records: Vec<Vec<u8>>,
    then: Then,
) -> (SocketAddr, JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let h = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            if speak {
                let hello = Message::Hello(Hello {
                    version: PROTOCOL_VERSION,
                    role: Role::Master,
                    min_seqno: Some(Seqno(0)),
                    max_seqno: Some(Seqno(1000)),
                    durable_seqno: Some(Seqno(1000)),
                    max_record_len: 1 << 20,
                    source_id: "fake".into(),
                });
                let _ = s.write_all(&hello.to_bytes()).await;
                let mut b = [0u8; 512];
                let _ = tokio::time::timeout(
                    Duration::from_millis(500),
                    tokio::io::AsyncReadExt::read(&mut s, &mut b),
                )
                .await;
                let ok = Message::Ok(OkMsg {
                    min_seqno: Some(Seqno(0)),
                    max_seqno: Some(Seqno(1000)),
                    start_seqno: start,
                });
                let mut out = ok.to_bytes();
                for r in &records {
                    frame::encode_record(r, &mut out);
                }
                let _ = s.write_all(&out).await;
                let _ = s.flush().await;
            }
            if then == Then::Silent || !speak {
                held.push(s);
            } else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                drop(s);
            }
        }
    });
    (addr, h)
}

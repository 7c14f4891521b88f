//! A TCP fault proxy for the network-fault tests (fault F8: the network
//! between a THL server and its client). It listens on a loopback address,
//! forwards every accepted connection to one upstream address, and applies a
//! [`Mode`] that the test changes while traffic flows:
//!
//! * [`Mode::Pass`]: bytes flow both ways as fast as the peers go.
//! * [`Mode::Cut`]: every current connection is reset (RST on both sides)
//!   and every new one is accepted and reset at once, until the mode changes.
//! * [`Mode::Stall`]: connections stay open (new ones are accepted and
//!   connected upstream) but no byte is forwarded in either direction.
//! * [`Mode::Drip`]: bytes flow in slices of at most `bytes_per_tick`, one
//!   slice per `tick` and direction.
//!
//! [`FaultProxy::cut_all`] is the one-shot fault: it resets every connection
//! open at the time of the call, mid-stream, and leaves the mode as it is.
//!
//! Invariants:
//!
//! * **Owned and bounded in time.** The proxy runs on its own thread with its
//!   own single-threaded tokio runtime, independent of the test's runtime.
//!   Dropping [`FaultProxy`] stops the listener, ends every connection task
//!   (the runtime is dropped with them) and joins the thread; nothing on that
//!   thread blocks, so the join is prompt.
//! * **Bounded in memory.** At most [`MAX_CONNECTIONS`] connections (more are
//!   reset on accept); each direction of a connection owns one buffer of
//!   [`BUF_LEN`] bytes and reads only when that buffer has been written out.
//!   Stall and Drip slow the reading side down (TCP backpressure), they never
//!   queue bytes in the proxy.
//! * **Bytes are never altered, reordered or silently dropped.** A byte read
//!   from one side is written to the other, in order, or the whole connection
//!   is reset (Cut, [`FaultProxy::cut_all`], an I/O error on either side). A
//!   mode change takes effect between two slices: reads and writes are
//!   cancel-safe, so a write interrupted by a mode change wrote nothing and
//!   is retried under the new mode.
//! * **End of stream is forwarded.** EOF on one side becomes a write
//!   shutdown (FIN) on the other; the connection ends when both directions
//!   have ended.
//! * **Nothing panics on network input.** Every I/O error ends (resets) the
//!   connection it happened on and is counted; no other connection notices.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// The most connections the proxy forwards at once; more are reset on accept.
pub const MAX_CONNECTIONS: usize = 32;
/// The buffer of one direction of one connection.
pub const BUF_LEN: usize = 16 * 1024;
/// How long the proxy waits for the upstream to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What the proxy does to the traffic (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Reset every connection, refuse (accept and reset) new ones.
    Cut,
    /// Keep connections open, forward nothing.
    Stall,
    /// Forward at most `bytes_per_tick` bytes (at least 1) per `tick`, in
    /// each direction of each connection.
    Drip { bytes_per_tick: usize, tick: Duration },
}

/// Counters since the proxy started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections forwarded to the upstream.
    pub forwarded: u64,
    /// Connections reset on accept: mode Cut, the connection limit, or the
    /// upstream unreachable.
    pub refused: u64,
    /// Forwarded connections reset by Cut or [`FaultProxy::cut_all`].
    pub cut: u64,
    /// Forwarded connections that ended on an I/O error of a peer.
    pub failed: u64,
    /// Forwarded connections open now.
    pub active: u64,
    /// Bytes forwarded from clients to the upstream.
    pub bytes_up: u64,
    /// Bytes forwarded from the upstream to clients.
    pub bytes_down: u64,
}

#[derive(Debug, Default)]
struct Counters {
    forwarded: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    failed: AtomicU64,
    active: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            forwarded: get(&self.forwarded),
            refused: get(&self.refused),
            cut: get(&self.cut),
            failed: get(&self.failed),
            active: get(&self.active),
            bytes_up: get(&self.bytes_up),
            bytes_down: get(&self.bytes_down),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A running proxy; dropping it stops it (see the module documentation).
#[derive(Debug)]
pub struct FaultProxy {
    listen: SocketAddr,
    upstream: SocketAddr,
    mode: watch::Sender<Mode>,
    cuts: watch::Sender<u64>,
    counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Binds `listen` (port 0 picks a free port) and starts forwarding to
    /// `upstream` in [`Mode::Pass`].
    pub fn start(listen: SocketAddr, upstream: SocketAddr) -> io::Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let listen = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (mode, mode_rx) = watch::channel(Mode::Pass);
        let (cuts, cuts_rx) = watch::channel(0u64);
        let (stop, stop_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let shared = Shared {
            upstream,
            mode: mode_rx,
            cuts: cuts_rx,
            counters: Arc::clone(&counters),
        };
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{listen}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => accept_loop(listener, shared, stop_rx).await,
                        Err(e) => tracing::error!(%listen, "fault proxy: cannot register the listener: {e}"),
                    }
                });
                // Dropping the runtime here drops every connection task.
                drop(runtime);
            })?;
        Ok(FaultProxy {
            listen,
            upstream,
            mode,
            cuts,
            counters,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address the proxy listens on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The address it forwards to.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.upstream
    }

    /// Switches every connection, current and future, to `mode`.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Resets every connection open now, in whatever state it is; the mode
    /// stays as it is (connections accepted later are not affected).
    pub fn cut_all(&self) {
        self.cuts
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What every connection task needs.
#[derive(Debug, Clone)]
struct Shared {
    upstream: SocketAddr,
    mode: watch::Receiver<Mode>,
    cuts: watch::Receiver<u64>,
    counters: Arc<Counters>,
}

async fn accept_loop(listener: TcpListener, shared: Shared, mut stop: oneshot::Receiver<()>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((sock, _peer)) => {
                    let cut = *shared.mode.borrow() == Mode::Cut;
                    if cut || tasks.len() >= MAX_CONNECTIONS {
                        bump(&shared.counters.refused);
                        reset(&sock);
                        continue;
                    }
                    let mut conn = shared.clone();
                    // Only cuts requested from now on concern this connection.
                    conn.cuts.borrow_and_update();
                    tasks.spawn(connection(sock, conn));
                }
                // Out of descriptors or the like: pause rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

/// RST instead of FIN when `sock` is dropped.
fn reset(sock: &TcpStream) {
    let _ = sock.set_zero_linger();
}

/// How a direction (or a connection) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// EOF read and forwarded as a write shutdown.
    Eof,
    /// Mode Cut or a one-shot cut.
    Cut,
    /// An I/O error on either side.
    Failed,
    /// The proxy is going away.
    Shutdown,
}

/// Decrements the active count however the task ends (also when aborted).
struct ActiveGuard(Arc<Counters>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(mut client: TcpStream, shared: Shared) {
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) => {
            bump(&shared.counters.refused);
            reset(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    bump(&shared.counters.forwarded);
    bump(&shared.counters.active);
    let _guard = ActiveGuard(Arc::clone(&shared.counters));
    let end = {
        let (client_rd, client_wr) = client.split();
        let (up_rd, up_wr) = upstream.split();
        let to_upstream = pump(client_rd, up_wr, shared.clone(), &shared.counters.bytes_up);
        let to_client = pump(up_rd, client_wr, shared.clone(), &shared.counters.bytes_down);
        tokio::pin!(to_upstream, to_client);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            let end = tokio::select! {
                end = &mut to_upstream, if !up_done => { up_done = true; end }
                end = &mut to_client, if !down_done => { down_done = true; end }
            };
            if end != End::Eof {
                break end;
            }
            if up_done && down_done {
                break End::Eof;
            }
        }
    };
    match end {
        End::Eof | End::Shutdown => {}
        End::Cut | End::Failed => {
            bump(if end == End::Cut {
                &shared.counters.cut
            } else {
                &shared.counters.failed
            });
            reset(&client);
            reset(&upstream);
        }
    }
}

/// What a wait on the controls saw.
enum Control {
    /// The mode changed: look at it again.
    Mode,
    /// A cut ([`End::Cut`]) or the proxy going away ([`End::Shutdown`]).
    End(End),
}

async fn control(mode: &mut watch::Receiver<Mode>, cuts: &mut watch::Receiver<u64>) -> Control {
    tokio::select! {
        changed = mode.changed() => match changed {
            Ok(()) => Control::Mode,
            Err(_) => Control::End(End::Shutdown),
        },
        changed = cuts.changed() => match changed {
            Ok(()) => Control::End(End::Cut),
            Err(_) => Control::End(End::Shutdown),
        },
    }
}

/// One direction of a connection: `rd` to `wr` under the current mode.
async fn pump(mut rd: ReadHalf<'_>, mut wr: WriteHalf<'_>, shared: Shared, bytes: &AtomicU64) -> End {
    let Shared { mut mode, mut cuts, .. } = shared;
    let mut buf = vec![0u8; BUF_LEN];
    // buf[start..end] was read and is not written yet.
    let (mut start, mut end) = (0usize, 0usize);
    let mut eof = false;
    loop {
        let current = *mode.borrow_and_update();
        let (slice, tick) = match current {
            Mode::Cut => return End::Cut,
            Mode::Stall => match control(&mut mode, &mut cuts).await {
                Control::Mode => continue,
                Control::End(e) => return e,
            },
            Mode::Pass => (BUF_LEN, None),
            Mode::Drip { bytes_per_tick, tick } => (bytes_per_tick.clamp(1, BUF_LEN), Some(tick)),
        };
        if start == end {
            if eof {
                let _ = wr.shutdown().await;
                return End::Eof;
            }
            tokio::select! {
                read = rd.read(&mut buf[..slice]) => match read {
                    Ok(0) => eof = true,
                    Ok(n) => (start, end) = (0, n),
                    Err(_) => return End::Failed,
                },
                c = control(&mut mode, &mut cuts) => if let Control::End(e) = c { return e },
            }
            continue;
        }
        let n = (end - start).min(slice);
        tokio::select! {
            written = wr.write(&buf[start..start + n]) => match written {
                Ok(0) | Err(_) => return End::Failed,
                Ok(k) => {
                    start += k;
                    bytes.fetch_add(k as u64, Ordering::Relaxed);
                }
            },
            c = control(&mut mode, &mut cuts) => {
                if let Control::End(e) = c {
                    return e;
                }
                continue;
            }
        }
        if let Some(tick) = tick {
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                c = control(&mut mode, &mut cuts) => if let Control::End(e) = c { return e },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const LOCAL: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

    /// An upstream that echoes what it reads.
    async fn echo_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind(LOCAL).await.expect("bind the echo server");
        let addr = listener.local_addr().expect("echo address");
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut rd, mut wr) = sock.split();
                    let _ = tokio::io::copy(&mut rd, &mut wr).await;
                });
            }
        });
        (addr, task)
    }

    async fn roundtrip(sock: &mut TcpStream, data: &[u8], wait: Duration) -> io::Result<Vec<u8>> {
        sock.write_all(data).await?;
        let mut back = vec![0u8; data.len()];
        tokio::time::timeout(wait, sock.read_exact(&mut back))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo"))??;
        Ok(back)
    }

    #[tokio::test]
    async fn modes_pass_stall_drip_and_cut() {
        let (upstream, echo) = echo_server().await;
        let proxy = FaultProxy::start(LOCAL, upstream).expect("proxy starts");
        let mut sock = TcpStream::connect(proxy.listen_addr()).await.expect("connect");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let back = roundtrip(&mut sock, &data, Duration::from_secs(5)).await.expect("pass");
        assert_eq!(back, data);

        proxy.set_mode(Mode::Stall);
        let stalled = roundtrip(&mut sock, b"stalled", Duration::from_millis(300)).await;
        assert!(stalled.is_err(), "a stalled proxy forwarded bytes");
        proxy.set_mode(Mode::Drip {
            bytes_per_tick: 2,
            tick: Duration::from_millis(5),
        });
        // The stalled bytes arrive now, slowly.
        let mut back = vec![0u8; 7];
        tokio::time::timeout(Duration::from_secs(5), sock.read_exact(&mut back))
            .await
            .expect("drip delivers")
            .expect("read");
        assert_eq!(&back, b"stalled");
        proxy.set_mode(Mode::Pass);
        assert_eq!(
            roundtrip(&mut sock, b"again", Duration::from_secs(5))
                .await
                .expect("pass"),
            b"again"
        );

        // A one-shot cut resets the connection and leaves the mode as it is.
        proxy.cut_all();
        let mut one = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut one)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "the connection survived a cut: {read:?}"
        );
        let mut sock = TcpStream::connect(proxy.listen_addr()).await.expect("reconnect");
        assert_eq!(
            roundtrip(&mut sock, b"after", Duration::from_secs(5))
                .await
                .expect("pass"),
            b"after"
        );

        // Cut: the open connection is reset, new ones are refused.
        proxy.set_mode(Mode::Cut);
        let read = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut one)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "survived Cut: {read:?}");
        // The reset may reach the client before its connect completes.
        if let Ok(mut refused) = TcpStream::connect(proxy.listen_addr()).await {
            let read = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut one)).await;
            assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "not refused: {read:?}");
        }
        let stats = proxy.stats();
        assert_eq!(stats.cut, 2, "{stats:?}");
        assert!(stats.refused >= 1, "{stats:?}");
        drop(proxy);
        echo.abort();
    }
}

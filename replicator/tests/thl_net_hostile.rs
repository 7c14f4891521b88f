//! Hostile peers: garbage and slow clients on the THL port while a healthy
//! client streams (F15), and silent servers detected by the client (F8).
//!
//! Run: `cargo test -p replicator --test thl_net_hostile`.

mod thl_net_support;

use std::time::Duration;

use replicator::thl_net::frame::{Ack, Message, Resume, PROTOCOL_VERSION};
use replicator::thl_net::{Role, ServerConfig, ThlClient};
use thl::seqno::Seqno;
use thl::store::{SyncPolicy, Visibility};
use thl_net_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMIT: Duration = Duration::from_secs(10);

/// Reads until EOF or error; true when the server closed within `limit`.
async fn closed_by_server(s: &mut TcpStream, limit: Duration) -> bool {
    let mut b = [0u8; 4096];
    let t = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(t, s.read(&mut b)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Reads the server's HELLO (any bytes) first.
async fn read_some(s: &mut TcpStream) {
    let mut b = [0u8; 256];
    let _ = tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await;
}

fn resume() -> Message {
    Message::Resume(Resume {
        version: PROTOCOL_VERSION,
        last_seqno: None,
        last_epoch: None,
        last_fragno: 0,
        last_frag: true,
        heartbeat_ms: 1000,
        client_id: "bad".into(),
        event_id: String::new(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_do_not_disturb_a_healthy_one() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 20, 0);
    let mut cfg = ServerConfig::new(Role::Master, "master1");
    cfg.max_connections = 16;
    cfg.handshake_timeout = Duration::from_millis(1500);
    let srv = serve("127.0.0.1:0", cfg, mw.reader(Visibility::Durable)).await;
    let addr = srv.addr;
    let producer = std::thread::spawn(move || {
        for k in 0..300 {
            fill(&mut mw, 20 + k * 5, 25 + k * 5, 0);
            std::thread::sleep(Duration::from_millis(10));
        }
        mw
    });
    let mut c = ThlClient::new(
        client_cfg(vec![uri("master", addr)], "healthy"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        c.run(async move {
            let _ = rx.await;
        })
        .await
    });
    wait_until(LIMIT, "healthy client streaming", || {
        p.get().last_stored_seqno.is_some_and(|x| x >= Seqno(30))
    })
    .await;
    let sessions = p.get().sessions;

    let mut bad = Vec::new();
    // Random bytes.
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        read_some(&mut s).await;
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let _ = s.write_all(&junk).await;
        ("random bytes", closed_by_server(&mut s, Duration::from_secs(3)).await)
    }));
    // A 4 GiB length prefix.
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        read_some(&mut s).await;
        let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff, 2]).await;
        ("4 GiB length", closed_by_server(&mut s, Duration::from_secs(3)).await)
    }));
    // A truncated RESUME, then silence.
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        read_some(&mut s).await;
        let r = resume().to_bytes();
        let _ = s.write_all(&r[..r.len() / 2]).await;
        (
            "truncated resume",
            closed_by_server(&mut s, Duration::from_secs(3)).await,
        )
    }));
    // Wrong order: an ACK instead of RESUME; a RESUME then a second RESUME.
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        read_some(&mut s).await;
        let _ = s
            .write_all(
                &Message::Ack(Ack {
                    durable_seqno: Some(Seqno(1)),
                    applied_seqno: None,
                })
                .to_bytes(),
            )
            .await;
        (
            "ack before resume",
            closed_by_server(&mut s, Duration::from_secs(3)).await,
        )
    }));
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        read_some(&mut s).await;
        let mut twice = resume().to_bytes();
        twice.extend(resume().to_bytes());
        let _ = s.write_all(&twice).await;
        ("resume twice", closed_by_server(&mut s, Duration::from_secs(3)).await)
    }));
    // Slow-loris: a valid RESUME, one byte per second.
    bad.push(tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let r = resume().to_bytes();
        for b in r {
            if s.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        ("slow-loris", closed_by_server(&mut s, Duration::from_secs(1)).await)
    }));
    // 200 idle connections: beyond the limit they are closed at once, the
    // others at the handshake timeout.
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = TcpStream::connect(addr).await {
            idle.push(s);
        }
    }
    // The limit holds during the flood, long before the handshake timeout
    // (1.5 s) could close the idle connections by itself.
    wait_until(
        Duration::from_millis(500),
        "the connection limit (16) enforced at once",
        || srv.server.connections() <= 16,
    )
    .await;
    let idle_task = tokio::spawn(async move {
        let mut closed = 0;
        for mut s in idle {
            if closed_by_server(&mut s, Duration::from_secs(3)).await {
                closed += 1;
            }
        }
        closed
    });

    // The healthy client keeps receiving while all this goes on.
    let target = p.get().last_stored_seqno.map_or(Seqno(99), |s| s + 100);
    wait_until(LIMIT, "healthy client progress during the attack", || {
        p.get().last_stored_seqno.is_some_and(|x| x >= target)
    })
    .await;
    for b in bad {
        let (what, closed) = bounded(LIMIT, "hostile client", b).await.expect("join");
        assert!(closed, "the server did not close the {what} connection");
    }
    assert_eq!(bounded(LIMIT, "idle connections", idle_task).await.expect("join"), 200);
    let mw = producer.join().expect("producer");
    wait_until(LIMIT, "healthy client catches up", || {
        p.get().last_stored_seqno == Some(Seqno(1519))
    })
    .await;
    assert_eq!(p.get().sessions, sessions, "the healthy client never reconnected");
    assert_eq!(srv.server.clients().len(), 1);
    wait_until(LIMIT, "bad connections gone", || srv.server.connections() == 1).await;
    let _ = tx.send(());
    bounded(LIMIT, "client stops", h).await.expect("join").expect("ok");
    srv.stop().await;
    drop(mw);
    assert_eq!(raw_records(s.path()), raw_records(m.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_timeout_detects_a_silent_server() {
    // One server speaks HELLO and OK, then nothing; another accepts and
    // never speaks at all.
    let (after_ok, h1) = fake_server(true, None, Vec::new(), Then::Silent).await;
    let (mute, h2) = fake_server(false, None, Vec::new(), Then::Silent).await;
    for (addr, want) in [(after_ok, "heartbeat timeout"), (mute, "handshake timeout")] {
        let s = tempfile::tempdir().expect("tmp");
        let mut c = ThlClient::new(
            client_cfg(vec![uri("silent", addr)], "slave1"),
            open_writer(s.path(), SyncPolicy::Never),
            hosts(),
        )
        .expect("client");
        let p = c.progress_handle();
        let t0 = std::time::Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let h = tokio::spawn(async move {
            c.run(async move {
                let _ = rx.await;
            })
            .await
        });
        wait_until(LIMIT, want, || p.get().last_error.is_some_and(|e| e.contains(want))).await;
        // 800 ms timeout in the test config: detected well within 3 s.
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
        let _ = tx.send(());
        bounded(LIMIT, "client stops", h).await.expect("join").expect("ok");
    }
    h1.abort();
    h2.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_host_and_refused_port_are_transient() {
    let s = tempfile::tempdir().expect("tmp");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let uris = vec!["thl://nowhere:2112/".to_string(), format!("thl://localhost:{port}/")];
    let mut c = ThlClient::new(
        client_cfg(uris, "slave1"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        c.run(async move {
            let _ = rx.await;
        })
        .await
    });
    wait_until(LIMIT, "refused", || {
        p.get().last_error.is_some_and(|e| e.contains("connect to"))
    })
    .await;
    let _ = tx.send(());
    bounded(LIMIT, "client stops", h)
        .await
        .expect("join")
        .expect("still retrying, not failed");
}

/// A client that acknowledges seqnos it was never sent (to let retention
/// delete what a lagging reader needs) is closed, and its ACK is not
/// recorded; one that acknowledges what it was sent is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_acknowledgement_is_refused_and_not_recorded() {
    let m = tempfile::tempdir().expect("tmp");
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 5, 0);
    let acks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut cfg = ServerConfig::new(Role::Master, "master1");
    let seen = acks.clone();
    cfg.on_ack = Some(replicator::thl_net::AckCallback::new(move |a| {
        seen.lock().expect("acks").push((a.client_id.clone(), a.durable_seqno));
    }));
    let srv = serve("127.0.0.1:0", cfg, mw.reader(Visibility::Durable)).await;
    let ack = |s: i64| {
        Message::Ack(Ack {
            durable_seqno: Some(Seqno(s)),
            applied_seqno: None,
        })
        .to_bytes()
    };
    // A blank client (it holds nothing) is sent seqnos 0..=4: an ACK of 4
    // is true, one of 1000 is forged.
    for (claim, closed) in [(4, false), (1000, true)] {
        let mut s = TcpStream::connect(srv.addr).await.expect("connect");
        read_some(&mut s).await;
        s.write_all(&resume().to_bytes()).await.expect("resume");
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(&ack(claim)).await.expect("ack");
        assert_eq!(
            closed_by_server(&mut s, Duration::from_secs(2)).await,
            closed,
            "an ACK of seqno {claim}"
        );
    }
    let recorded = acks.lock().expect("acks").clone();
    assert_eq!(recorded, vec![("bad".to_owned(), Some(Seqno(4)))], "only the true ACK");
    srv.stop().await;
}

/// Fifty idle connections from one address take at most `max_per_peer`
/// places (the rest are closed at once): a client from another address
/// connects and streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 20, 0);
    let mut cfg = ServerConfig::new(Role::Master, "master1");
    cfg.max_connections = 8;
    cfg.max_per_peer = 4;
    let srv = serve("127.0.0.1:0", cfg, mw.reader(Visibility::Durable)).await;
    let mut idle = Vec::new();
    let mut closed = 0;
    for _ in 0..50 {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind("127.0.0.2:0".parse().expect("addr")).expect("bind");
        let mut c = sock.connect(srv.addr).await.expect("connect");
        if closed_by_server(&mut c, Duration::from_millis(200)).await {
            closed += 1;
        } else {
            idle.push(c);
        }
    }
    assert_eq!((idle.len(), closed), (4, 46), "four places for one address");
    let mut c = ThlClient::new(
        client_cfg(vec![uri("master", srv.addr)], "slave1"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let want = raw_records(m.path());
    let (path, n) = (s.path().to_path_buf(), want.len());
    let streamed = wait_until(LIMIT, "the other address streams", move || {
        raw_records(&path).len() >= n
    });
    bounded(LIMIT, "the client ends at the shutdown", c.run(streamed))
        .await
        .expect("the client streams");
    assert_eq!(raw_records(s.path()), want, "every record, byte for byte");
    drop(idle);
    srv.stop().await;
}

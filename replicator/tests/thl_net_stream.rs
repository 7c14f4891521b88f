//! THL server → client streaming on loopback (no database): byte-identical
//! replication, a relay chain, reconnects without gap or duplicate, and
//! fragmented transactions cut by a lost connection.
//!
//! Run: `cargo test -p replicator --test thl_net_stream`.

mod thl_net_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use replicator::thl_net::{AckCallback, Role, ServerConfig, ThlClient};
use thl::seqno::Seqno;
use thl::store::{SyncPolicy, Visibility};
use thl_net_support::*;
use tokio::sync::oneshot;

const LONG: Duration = Duration::from_secs(10);

fn spawn_client(
    mut c: ThlClient,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), replicator::thl_net::ClientError>>,
) {
    let (tx, rx) = oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        c.run(async move {
            let _ = rx.await;
        })
        .await
    });
    (tx, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_to_client_is_byte_identical_and_acked() {
    let m = tempfile::tempdir().expect("tmp");
    let s = tempfile::tempdir().expect("tmp");
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 300, 0);
    let acks = Arc::new(AtomicU64::new(0));
    let a = Arc::clone(&acks);
    let mut cfg = ServerConfig::new(Role::Master, "master1");
    cfg.on_ack = Some(AckCallback::new(move |_| {
        a.fetch_add(1, Ordering::Relaxed);
    }));
    let srv = serve("127.0.0.1:0", cfg, mw.reader(Visibility::Durable)).await;
    let c = ThlClient::new(
        client_cfg(vec![uri("master", srv.addr)], "slave1"),
        open_writer(s.path(), SyncPolicy::EveryCommit),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (stop, h) = spawn_client(c);
    wait_until(LONG, "client stores seqno 299", || {
        p.get().last_stored_seqno == Some(Seqno(299))
    })
    .await;
    // Live tail: more transactions after the client caught up.
    fill(&mut mw, 300, 320, 0);
    wait_until(LONG, "client stores seqno 319", || {
        p.get().last_stored_seqno == Some(Seqno(319))
    })
    .await;
    let server = srv.server.clone();
    wait_until(LONG, "the server sees the ACK of 319", || {
        server
            .clients()
            .iter()
            .any(|c| c.client_id == "slave1" && c.last_acked_seqno == Some(Seqno(319)))
    })
    .await;
    assert!(acks.load(Ordering::Relaxed) > 0);
    let prog = p.get();
    assert_eq!(prog.connected_uri.as_deref(), Some(uri("master", srv.addr).as_str()));
    assert_eq!(prog.server_max_seqno, Some(Seqno(319)));
    let _ = stop.send(());
    bounded(LONG, "client stops", h)
        .await
        .expect("join")
        .expect("client ok");
    srv.stop().await;
    assert_eq!(raw_records(s.path()), raw_records(m.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_master_relay_client() {
    let (m, r, s) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 200, 0);
    let msrv = serve_writer(&mw, Role::Master, "master1").await;
    let rw = open_writer(r.path(), SyncPolicy::EveryCommit);
    let rsrv = serve_writer(&rw, Role::Relay, "relay1").await;
    let relay = ThlClient::new(client_cfg(vec![uri("master", msrv.addr)], "relay1"), rw, hosts()).expect("client");
    let slave = ThlClient::new(
        client_cfg(vec![uri("relay", rsrv.addr)], "slave1"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let (pr, ps) = (relay.progress_handle(), slave.progress_handle());
    let (stop_r, hr) = spawn_client(relay);
    let (stop_s, hs) = spawn_client(slave);
    fill(&mut mw, 200, 260, 5);
    wait_until(LONG, "slave stores seqno 259", || {
        ps.get().last_stored_seqno == Some(Seqno(259))
    })
    .await;
    assert_eq!(pr.get().last_stored_seqno, Some(Seqno(259)));
    assert_eq!(ps.get().server_role, Some(Role::Relay));
    let _ = stop_s.send(());
    let _ = stop_r.send(());
    bounded(LONG, "slave stops", hs).await.expect("join").expect("ok");
    bounded(LONG, "relay stops", hr).await.expect("join").expect("ok");
    rsrv.stop().await;
    msrv.stop().await;
    let want = raw_records(m.path());
    assert_eq!(raw_records(r.path()), want);
    assert_eq!(raw_records(s.path()), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_after_server_restart_mid_stream() {
    let m = tempfile::tempdir().expect("tmp");
    let s = tempfile::tempdir().expect("tmp");
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 50, 0);
    let reader = mw.reader(Visibility::Durable);
    // A producer keeps writing while the server restarts.
    let producer = std::thread::spawn(move || {
        for k in 0..60 {
            fill(&mut mw, 50 + k * 10, 60 + k * 10, 0);
            std::thread::sleep(Duration::from_millis(10));
        }
        mw
    });
    let srv = serve(
        "127.0.0.1:0",
        ServerConfig::new(Role::Master, "master1"),
        reader.clone(),
    )
    .await;
    let addr = srv.addr;
    let c = ThlClient::new(
        client_cfg(vec![uri("master", addr)], "slave1"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (stop, h) = spawn_client(c);
    wait_until(LONG, "client passes seqno 150", || {
        p.get().last_stored_seqno.is_some_and(|x| x >= Seqno(150))
    })
    .await;
    srv.stop().await;
    let at_stop = p.get().last_stored_seqno;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let srv = serve(&addr.to_string(), ServerConfig::new(Role::Master, "master1"), reader).await;
    let mw = producer.join().expect("producer");
    wait_until(LONG, "client stores seqno 649", || {
        p.get().last_stored_seqno == Some(Seqno(649))
    })
    .await;
    assert!(p.get().sessions >= 2, "{:?} (stopped at {at_stop:?})", p.get());
    let _ = stop.send(());
    bounded(LONG, "client stops", h).await.expect("join").expect("ok");
    srv.stop().await;
    drop(mw);
    assert_eq!(raw_records(s.path()), raw_records(m.path()));
}

/// Records of a THL from `from` on (as sent by a server).
fn records_from(dir: &std::path::Path, from: usize, n: usize) -> Vec<Vec<u8>> {
    raw_records(dir).into_iter().skip(from).take(n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_txn_cut_then_writer_reopened_restarts_at_fragment_zero() {
    let m = tempfile::tempdir().expect("tmp");
    let s = tempfile::tempdir().expect("tmp");
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 3, 0);
    append_txn(&mut mw, 3, 0, 5); // seqno 3 in 5 fragments
    fill(&mut mw, 4, 10, 0);
    // A server that sends seqnos 0..=2 and fragments 0..=1 of seqno 3, then
    // drops the connection.
    let partial = records_from(m.path(), 0, 5);
    let (fake, fh) = fake_server(true, None, partial, Then::Close).await;
    let c = ThlClient::new(
        client_cfg(vec![uri("fake", fake)], "slave1"),
        open_writer(s.path(), SyncPolicy::EveryCommit),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (stop, h) = spawn_client(c);
    wait_until(LONG, "the fake server's records", || p.get().records_received >= 5).await;
    let _ = stop.send(());
    bounded(LONG, "client stops", h).await.expect("join").expect("ok");
    fh.abort();
    assert_eq!(p.get().last_stored_seqno, Some(Seqno(2)));
    // The process "restarts": the writer reopens and recovery cuts seqno 3.
    assert_eq!(
        raw_records(s.path()).len(),
        5,
        "fragments 0..=1 of seqno 3 reached the disk"
    );
    let sw = open_writer(s.path(), SyncPolicy::EveryCommit);
    assert_eq!(raw_records(s.path()).len(), 3, "recovery cut the partial transaction");
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    let c = ThlClient::new(client_cfg(vec![uri("master", srv.addr)], "slave1"), sw, hosts()).expect("client");
    let p = c.progress_handle();
    let (stop, h) = spawn_client(c);
    wait_until(LONG, "client stores seqno 9", || {
        p.get().last_stored_seqno == Some(Seqno(9))
    })
    .await;
    let _ = stop.send(());
    bounded(LONG, "client stops", h).await.expect("join").expect("ok");
    srv.stop().await;
    assert_eq!(raw_records(s.path()), raw_records(m.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_reconnect_mid_fragment_skips_stored_fragments() {
    let m = tempfile::tempdir().expect("tmp");
    let s = tempfile::tempdir().expect("tmp");
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 3, 0);
    append_txn(&mut mw, 3, 0, 5);
    fill(&mut mw, 4, 30, 0);
    let partial = records_from(m.path(), 0, 6); // 0..=2, seqno 3 fragments 0..=2
    let (fake, fh) = fake_server(true, None, partial, Then::Close).await;
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    // Same client, same writer: first the fake server, then the master.
    let c = ThlClient::new(
        client_cfg(vec![uri("fake", fake), uri("master", srv.addr)], "slave1"),
        open_writer(s.path(), SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    let p = c.progress_handle();
    let (stop, h) = spawn_client(c);
    wait_until(LONG, "client stores seqno 29", || {
        p.get().last_stored_seqno == Some(Seqno(29))
    })
    .await;
    let _ = stop.send(());
    bounded(LONG, "client stops", h).await.expect("join").expect("ok");
    fh.abort();
    srv.stop().await;
    assert_eq!(raw_records(s.path()), raw_records(m.path()));
}

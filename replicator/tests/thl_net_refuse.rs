//! Handshake refusals end the client with a definite error carrying the
//! server's text: diverged epoch, purged seqno, client ahead of server, a
//! blank client at a purged minimum.
//!
//! Run: `cargo test -p replicator --test thl_net_refuse`.

mod thl_net_support;

use std::time::Duration;

use replicator::thl_net::{ClientError, DefiniteKind, NokCode, Role, ThlClient};
use thl::seqno::{Epoch, Seqno};
use thl::store::SyncPolicy;
use thl_net_support::*;

const LIMIT: Duration = Duration::from_secs(10);

/// Runs a client of `slave` against a master until it stops by itself.
async fn run_against(master: &Running, slave: &std::path::Path) -> Result<(), ClientError> {
    let mut c = ThlClient::new(
        client_cfg(vec![uri("master", master.addr)], "slave1"),
        open_writer(slave, SyncPolicy::Never),
        hosts(),
    )
    .expect("client");
    bounded(LIMIT, "client stops on its own", c.run(std::future::pending())).await
}

fn definite(e: Result<(), ClientError>, code: NokCode) -> String {
    match e {
        Err(ClientError::Definite {
            kind: DefiniteKind::Refused(c),
            message,
            ..
        }) if c == code => message,
        other => panic!("expected a definite {code} refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_mismatch_is_definite_with_guidance() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 10, 0);
    // The slave's seqno 4 came from a failed master (epoch 4).
    let mut sw = open_writer(s.path(), SyncPolicy::Never);
    fill(&mut sw, 0, 4, 0);
    fill(&mut sw, 4, 5, 4);
    drop(sw);
    let before = raw_records(s.path());
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    let msg = definite(run_against(&srv, s.path()).await, NokCode::EpochMismatch);
    assert!(
        msg.contains(
            "epoch mismatch at seqno 4: the histories diverged after seqno 3 at the latest (epoch 4 on the client, 0 on \
             this server)"
        ),
        "{msg}"
    );
    assert!(msg.contains("reprovision the client's host"), "{msg}");
    assert!(srv.server.clients().is_empty());
    srv.stop().await;
    assert_eq!(raw_records(s.path()), before, "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purged_seqno_is_definite_naming_min_and_max() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 600, 0);
    let rep = mw.purge(Seqno(0), Seqno(300), Seqno(i64::MAX)).expect("purge");
    let min = rep.min_seqno.expect("min");
    assert!(min > Seqno(3), "the purge removed seqnos up to {min}");
    let mut sw = open_writer(s.path(), SyncPolicy::Never);
    fill(&mut sw, 0, 3, 0);
    drop(sw);
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    let msg = definite(run_against(&srv, s.path()).await, NokCode::SeqnoPurged);
    assert!(
        msg.contains(&format!("min stored seqno {min}, max stored seqno 599")),
        "{msg}"
    );
    assert!(msg.contains("seqno 3"), "{msg}");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ahead_of_server_is_refused() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 10, 0);
    let mut sw = open_writer(s.path(), SyncPolicy::Never);
    fill(&mut sw, 0, 15, 0);
    drop(sw);
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    let msg = definite(run_against(&srv, s.path()).await, NokCode::ClientAhead);
    assert!(
        msg.contains("client has seqno 14") && msg.contains("max stored seqno 9"),
        "{msg}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_client_is_refused_at_a_purged_minimum_and_one_with_a_position_starts_at_it() {
    let (m, s) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let mut mw = open_writer(m.path(), SyncPolicy::Never);
    fill(&mut mw, 0, 600, 0);
    mw.purge(Seqno(0), Seqno(300), Seqno(i64::MAX)).expect("purge");
    let min = mw.min_seqno().expect("min");
    assert!(min > Seqno(0));
    let srv = serve_writer(&mw, Role::Master, "master1").await;
    // No THL and no position: starting at the minimum would leave out
    // seqnos 0..min without a word.
    let msg = definite(run_against(&srv, s.path()).await, NokCode::SeqnoPurged);
    assert!(
        msg.contains("must start at seqno 0") && msg.contains("Provision the client"),
        "{msg}"
    );
    assert!(raw_records(s.path()).is_empty(), "nothing was stored");

    // A client whose database committed `min` (restored from a backup)
    // has that transaction checked by the server (epoch and event id) and
    // stores from it on; one whose committed transaction is another one is
    // refused.
    let committed = |event_id: &str| replicator::thl_net::Committed {
        seqno: min,
        epoch: Epoch(0),
        event_id: event_id.to_owned(),
    };
    let server_event_id = thl::store::Reader::open(m.path())
        .expect("reader")
        .cursor(min)
        .expect("cursor")
        .next()
        .expect("record")
        .expect("min")
        .header()
        .event_id
        .clone();
    let mut cfg = client_cfg(vec![uri("master", srv.addr)], "slave1");
    cfg.start_after = Some(committed("mysql-bin.000009:0000000000000004;-1"));
    let mut c = ThlClient::new(cfg, open_writer(s.path(), SyncPolicy::Never), hosts()).expect("client");
    let e = bounded(LIMIT, "client stops on its own", c.run(std::future::pending())).await;
    let msg = definite(e, NokCode::EpochMismatch);
    assert!(msg.contains(&format!("history mismatch at seqno {min}")), "{msg}");
    assert!(raw_records(s.path()).is_empty(), "nothing was stored");
    let mut cfg = client_cfg(vec![uri("master", srv.addr)], "slave1");
    cfg.start_after = Some(committed(&server_event_id));
    drop(c);
    let mut c = ThlClient::new(cfg, open_writer(s.path(), SyncPolicy::Never), hosts()).expect("client");
    let p = c.progress_handle();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(async move {
        c.run(async move {
            let _ = rx.await;
        })
        .await
    });
    wait_until(LIMIT, "client stores seqno 599", || {
        p.get().last_stored_seqno == Some(Seqno(599))
    })
    .await;
    let _ = tx.send(());
    bounded(LIMIT, "client stops", h).await.expect("join").expect("ok");
    srv.stop().await;
    // The committed transaction is stored too (its applier skips it), so
    // that hosts provisioned from this one's database can resume from its
    // THL (PROTOCOL.md §4, rule 5).
    assert_eq!(
        raw_records(s.path()),
        raw_records(m.path()),
        "the committed seqno and everything after it, verbatim"
    );
}

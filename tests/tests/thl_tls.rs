//! The THL port with TLS and mutual authentication (issue 14), on the
//! chain host1.alpha (master) → host1.beta (relay) → host2.beta (slave)
//! with `thl-ssl=true`, one CA and a certificate per host:
//!
//! * the chain streams over `thls://` (the relay serves TLS too) and the
//!   keyless ledger is exact on every host;
//! * a client without a certificate of the CA gets no record, and neither
//!   does a plain `thl://` client on the TLS port, nor a certified host
//!   whose client id is not its certificate's name;
//! * the REST API is HTTPS (`rest-api-ssl`): trepctl checks the
//!   certificate with the ini's CA (another CA is refused, `--insecure`
//!   goes on), plain HTTP gets nothing;
//! * a forged master (a server that answers as host1.alpha with a
//!   certificate of another CA, serving a real THL) is refused by the
//!   slave pointed at it: OFFLINE:ERROR naming the certificate, nothing
//!   applied; pointed back, the slave goes on;
//! * 200 idle connections from ten addresses do not stop the relay from
//!   reconnecting and streaming (they never authenticate, so they take no
//!   place of a replicator's); garbage and a slow-loris on the TLS port
//!   are closed, as on a plain port.
//!
//! Run: `cargo test -p tests --test thl_tls` (three `mariadbd`, three
//! replicators).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use replicator::thl_net::{ClientConfig, Role, ServerConfig, ThlClient, ThlServer};
use replicator::tls::{Tls, TlsFiles, TlsHandle};
use tests::cluster::{chain_ini, Cluster, CHAIN_HOSTS};
use tests::process::read_thl;
use tests::tls::Certs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SLAVE: &str = "host2.beta";

fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> (bool, String) {
    let (ok, out) = cluster
        .deployment
        .run_tool("trepctl", Some(host), args)
        .expect("trepctl runs");
    println!("trepctl -host {host} {}:\n{out}", args.join(" "));
    (ok, out)
}

/// `host` goes offline, takes `uri` as its upstream and goes online.
fn follow(cluster: &Cluster, host: &str, uri: &str) {
    for args in [
        &["offline"][..],
        &["setrole", "-role", "slave", "-uri", uri],
        &["online"],
    ] {
        let (ok, out) = trepctl(cluster, host, args);
        assert!(ok, "{out}");
    }
}

fn tls(certs: &Certs, host: &str, mutual: bool) -> TlsHandle {
    let files = TlsFiles {
        cert: certs.dir.join(format!("{host}.pem")),
        key: certs.dir.join(format!("{host}.key")),
        ca: certs.dir.join("ca.pem"),
    };
    TlsHandle(Arc::new(Tls::load(files, mutual).expect("TLS files load")))
}

/// A THL client into an empty THL of its own, run for at most `secs`: the
/// records it stored and how it ended.
async fn stranger(cluster: &Cluster, uri: &str, tls: Option<TlsHandle>, secs: u64) -> (usize, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let writer = thl::store::Writer::open(thl::store::StoreConfig::new(dir.path().to_path_buf())).expect("writer");
    let mut cfg = ClientConfig::new(vec![uri.to_owned()], "stranger");
    cfg.tls = tls;
    let addr = cluster.db("host1.alpha").address();
    let resolver: replicator::thl_net::Resolver =
        Arc::new(move |_: &str, port: u16| Ok(vec![SocketAddr::new(addr.into(), port)]));
    let mut client = ThlClient::new(cfg, writer, resolver).expect("client");
    let ended = tokio::time::timeout(Duration::from_secs(secs), client.run(std::future::pending())).await;
    let ended = format!("{ended:?}");
    println!("stranger at {uri}: {ended}");
    drop(client);
    (read_thl(dir.path()).map(|e| e.len()).unwrap_or(0), ended)
}

/// Reads until the server closes (true) or `limit` passes (false).
async fn closed_within(s: &mut tokio::net::TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn wait_for(cluster: &Cluster, host: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, out) = trepctl(cluster, host, &["status"]);
        if out.contains(what) {
            return out;
        }
        assert!(Instant::now() < deadline, "{host} never showed {what:?}:\n{out}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_streams_over_tls_and_strangers_get_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = Certs::write(&dir.path().join("tls"), "deployment CA", &CHAIN_HOSTS).expect("certs");
    let rogue = Certs::write(&dir.path().join("rogue"), "rogue CA", &["host1.alpha"]).expect("rogue certs");
    let keys = certs.ini_keys();
    let mut cluster = Cluster::create_with_spares(dir.path(), &CHAIN_HOSTS, &[], |port, _| {
        chain_ini(port).replacen("[defaults]\n", &format!("[defaults]\n{keys}"), 1)
    })
    .await
    .expect("three sandboxes");
    cluster.start_replicators().expect("three replicators");
    cluster
        .db("host1.alpha")
        .exec("CREATE DATABASE app; CREATE TABLE app.ledger (txn BIGINT NOT NULL, note VARCHAR(32))")
        .await
        .expect("schema");
    for i in 1..=50 {
        cluster
            .db("host1.alpha")
            .exec(&format!("INSERT INTO app.ledger VALUES ({i}, 'over TLS')"))
            .await
            .expect("write");
    }
    let last = cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied over TLS");
    let (_, status) = trepctl(&cluster, SLAVE, &["status"]);
    assert!(status.contains("thls://host1.beta:2112/"), "{status}");

    // Strangers: no certificate of the CA, or no TLS at all.
    let no_cert = tls(&certs, SLAVE, false);
    let (stored, ended) = stranger(&cluster, "thls://host1.alpha:2112/", Some(no_cert), 10).await;
    assert_eq!(stored, 0);
    assert!(ended.contains("not a replicator of this deployment"), "{ended}");
    let (stored, _) = stranger(&cluster, "thl://host1.alpha:2112/", None, 3).await;
    assert_eq!(stored, 0);
    // A certified host that reads (and would acknowledge) under another
    // name than its certificate's.
    let (stored, ended) = stranger(&cluster, "thls://host1.alpha:2112/", Some(tls(&certs, SLAVE, true)), 10).await;
    assert_eq!(stored, 0);
    assert!(
        ended.contains("IdentityMismatch") && ended.contains("host2.beta"),
        "{ended}"
    );
    let (_, clients) = trepctl(&cluster, "host1.alpha", &["clients"]);
    assert!(!clients.contains("stranger"), "{clients}");

    // The REST API is HTTPS: trepctl checks it with the ini's CA; with
    // another CA it refuses, with --insecure it goes on (encrypted, to
    // whoever answered).
    let (_, status) = trepctl(&cluster, "host1.alpha", &["status"]);
    assert!(status.contains("ONLINE"), "{status}");
    let other_ini = dir.path().join("rogue-ca.ini");
    let text = std::fs::read_to_string(cluster.deployment.ini()).expect("ini");
    let rogue_ca = format!("ssl-ca={}/ca.pem", rogue.dir.display());
    let own_ca = format!("ssl-ca={}/ca.pem", certs.dir.display());
    std::fs::write(&other_ini, text.replace(&own_ca, &rogue_ca)).expect("ini");
    let trepctl_with = |ini: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(tests::process::workspace_bin("trepctl").expect("trepctl"))
            .arg("--config")
            .arg(ini)
            .arg("--hosts-file")
            .arg(cluster.deployment.hosts_file())
            .args(["--host", "host1.alpha"])
            .args(extra)
            .arg("services")
            .output()
            .expect("trepctl");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = trepctl_with(&other_ini, &[]);
    assert!(!ok && out.contains("TLS") && out.contains("ssl-ca"), "{out}");
    let (ok, out) = trepctl_with(&other_ini, &["--insecure"]);
    assert!(ok && out.contains("ONLINE"), "{out}");
    let plain = replicator::provision::fetch::get_json::<serde_json::Value>(
        SocketAddr::new(cluster.db("host1.alpha").address().into(), 8097),
        Some((tests::cluster::REST_USER, tests::cluster::REST_PASSWORD)),
        "/api/v2/replicator/services",
    )
    .await;
    assert!(plain.is_err(), "plain HTTP on the HTTPS port: {plain:?}");

    // A forged master: host1.alpha's name and THL, another CA's certificate.
    let rogue_addr = SocketAddr::new(cluster.db("host1.alpha").address().into(), 3113);
    let mut cfg = ServerConfig::new(Role::Master, "host1.alpha");
    cfg.tls = Some(tls(&rogue, "host1.alpha", false));
    let reader = thl::store::Reader::open(cluster.deployment.thl_dir("host1.alpha", "alpha")).expect("THL");
    let forged = ThlServer::bind(rogue_addr, cfg, reader).await.expect("forged master");
    let (stop_forged, stopped) = tokio::sync::oneshot::channel::<()>();
    let forged_task = tokio::spawn(forged.run(async move {
        let _ = stopped.await;
    }));
    follow(&cluster, SLAVE, "thls://host1.alpha:3113/");
    let status = wait_for(&cluster, SLAVE, "OFFLINE:ERROR");
    assert!(status.contains("not a replicator of this deployment"), "{status}");
    let _ = stop_forged.send(());
    let _ = forged_task.await;

    // Pointed back at its relay, it goes on; nothing was applied twice.
    follow(&cluster, SLAVE, "thls://host1.beta:2112/");
    cluster
        .db("host1.alpha")
        .exec("INSERT INTO app.ledger VALUES (51, 'after the forgery')")
        .await
        .expect("write");
    let now = cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("applied");
    assert!(now > last);

    // A flood: 200 idle connections from ten other addresses on the
    // master's THL port. They never authenticate, so they take no place of
    // a replicator's: the relay reconnects and streams.
    let master = SocketAddr::new(cluster.db("host1.alpha").address().into(), 2112);
    let mut flood = Vec::new();
    for i in 0..200u8 {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(SocketAddr::from(([127, 250, 0, i % 10 + 1], 0)))
            .expect("bind");
        if let Ok(s) = sock.connect(master).await {
            flood.push(s);
        }
    }
    // Garbage and a slow-loris on the TLS port are closed, as on a plain
    // port: the first at once (not a TLS handshake), the second at the
    // handshake timeout (5 s).
    let mut garbage = tokio::net::TcpStream::connect(master).await.expect("connect");
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 0, 1, 2, 3])
        .await
        .expect("write");
    garbage.write_all(&[0xab; 4096]).await.expect("write");
    assert!(
        closed_within(&mut garbage, Duration::from_secs(3)).await,
        "garbage is closed"
    );
    let mut slow = tokio::net::TcpStream::connect(master).await.expect("connect");
    let dripping = async {
        for b in [0x16u8, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03] {
            if slow.write_all(&[b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    };
    dripping.await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "the slow-loris is closed"
    );
    for args in [&["offline"][..], &["online"]] {
        let (ok, out) = trepctl(&cluster, "host1.beta", args);
        assert!(ok, "{out}");
    }
    cluster
        .db("host1.alpha")
        .exec("INSERT INTO app.ledger VALUES (52, 'through a flood')")
        .await
        .expect("write");
    cluster
        .wait_until_applied(Duration::from_secs(60))
        .await
        .expect("the relay reconnected and streamed through the flood");
    drop(flood);
    for host in CHAIN_HOSTS {
        let v = cluster
            .db(host)
            .query_value("SELECT CONCAT(COUNT(*), '/', COUNT(DISTINCT txn)) FROM app.ledger")
            .await
            .expect("ledger");
        assert_eq!(v.as_deref(), Some("52/52"), "{host}");
    }
}

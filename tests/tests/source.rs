//! The source connection (`replicator::source`) against real MariaDB from
//! the sandbox: preflight checks, raw event streaming with CRC, GTID start,
//! and error classification (purged binlog, unknown GTID, stopped server).
//!
//! Run: `cargo test -p tests --test source -- --test-threads=1`
//! (each test starts one `mariadbd`).

use std::time::Duration;

use replicator::source::{
    preflight, BinlogPosition, BinlogSource, ChecksumAlg, DefiniteError, RawEvent, Severity, SourceError,
    StartPosition, StreamConfig, TransientError,
};
use tests::sandbox::{localhost_specs, loopback_specs, InstanceSpec, Sandbox, DEFAULT_PORT};

const OUR_SERVER_ID: u32 = 4242;
const QUERY_EVENT: u8 = 2;
const ROTATE_EVENT: u8 = 4;
const XID_EVENT: u8 = 16;
const FDE: u8 = 15;
const WRITE_ROWS_V1: u8 = 23;
const HEARTBEAT: u8 = 27;
const TABLE_MAP: u8 = 19;
const MARIADB_GTID: u8 = 162;

async fn one(extra: &[&str]) -> Sandbox {
    let spec: InstanceSpec = loopback_specs(1, DEFAULT_PORT)
        .expect("free address")
        .remove(0)
        .args(extra.iter().copied());
    Sandbox::start(vec![spec]).await.expect("sandbox starts")
}

fn config() -> StreamConfig {
    StreamConfig {
        heartbeat: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(10),
        ..StreamConfig::new(OUR_SERVER_ID)
    }
}

/// Checks the CRC the way a decoder must: CRC32 over header + payload, with
/// the FDE's LOG_EVENT_BINLOG_IN_USE_F flag cleared.
fn crc_ok(ev: &RawEvent) -> bool {
    let n = ev.bytes.len();
    assert!(n >= 19 + 4, "event too short: {n}");
    let mut body = ev.bytes[..n - 4].to_vec();
    if ev.event_type() == FDE {
        body[17] &= !1;
    }
    crc32fast::hash(&body).to_le_bytes() == ev.bytes[n - 4..]
}

fn header_size(ev: &RawEvent) -> usize {
    u32::from_le_bytes(ev.bytes[9..13].try_into().expect("4 bytes")) as usize
}

/// Reads events until `stop` says so (bounded: 30 s, 10 000 events).
async fn read_until(src: &mut BinlogSource, mut stop: impl FnMut(&RawEvent, &[RawEvent]) -> bool) -> Vec<RawEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for _ in 0..10_000 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; seen types {:?}",
            types(&seen)
        );
        let ev = src.next_event().await.expect("event");
        let done = stop(&ev, &seen);
        seen.push(ev);
        if done {
            return seen;
        }
    }
    panic!("condition not met in 10 000 events");
}

fn types(events: &[RawEvent]) -> Vec<u8> {
    events.iter().map(RawEvent::event_type).collect()
}

fn query_text(ev: &RawEvent) -> String {
    // QUERY payload: thread id 4, exec time 4, db len 1, error 2, status len 2,
    // status vars, db, NUL, query.
    let p = ev.payload();
    let db_len = p[8] as usize;
    let status_len = u16::from_le_bytes([p[11], p[12]]) as usize;
    String::from_utf8_lossy(&p[13 + status_len + db_len + 1..]).into_owned()
}

#[tokio::test]
async fn preflight_passes_on_a_sandbox_instance() {
    let sandbox = one(&[]).await;
    let db = &sandbox.instances()[0];
    let mut conn = mysql_async::Conn::new(db.opts()).await.expect("connect");
    let report = preflight(&mut conn, OUR_SERVER_ID).await.expect("preflight passes");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.settings.server_id, Some(1));
    assert!(report.settings.is_mariadb);
    assert!(report.privileges.replication_slave && report.privileges.select_global);

    // Helper queries.
    use replicator::source::queries;
    let pos = queries::current_position(&mut conn)
        .await
        .expect("query")
        .expect("binlog on");
    assert_eq!(pos.file, "mysql-bin.000001");
    assert!(pos.pos >= 4);
    assert_eq!(queries::server_id(&mut conn).await.expect("query"), 1);
    assert!(queries::version(&mut conn).await.expect("query").contains("MariaDB"));
    assert!(queries::gtid_binlog_pos(&mut conn).await.expect("query").is_some());
    let logs = queries::binary_logs(&mut conn).await.expect("query");
    assert_eq!(logs[0].name, "mysql-bin.000001");
    conn.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn preflight_reports_every_failure_with_expected_and_actual() {
    let sandbox = one(&["--binlog-format=STATEMENT", "--binlog-row-metadata=MINIMAL"]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE USER weak@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO weak@'%'")
        .await
        .expect("create weak user");
    let opts = db.opts_builder().user(Some("weak")).pass(Some("pw"));
    let mut conn = mysql_async::Conn::new(opts).await.expect("connect");
    // Our server id equal to the source's: one more failure.
    let err = preflight(&mut conn, db.server_id()).await.expect_err("preflight fails");
    conn.disconnect().await.expect("disconnect");
    eprintln!("{err}");
    let SourceError::Definite(DefiniteError::Settings { source, .. }) = &err else {
        panic!("expected a settings error, got {err:?}");
    };
    let failed: Vec<&str> = source.failures.iter().map(|f| f.setting).collect();
    assert_eq!(
        failed,
        ["binlog_format", "binlog_row_metadata", "server_id", "privileges"],
        "{err}"
    );
    assert!(source.failures.iter().all(|f| f.severity == Severity::Failure));
    let text = err.to_string();
    for needle in [
        "binlog_format: expected ROW, got STATEMENT",
        "binlog_row_metadata: expected FULL, got MINIMAL",
        "set binlog_row_metadata=FULL in the [mariadbd] section of my.cnf and restart",
        "server_id: expected different from the replicator's server id 1, got 1",
        "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.*",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[tokio::test]
async fn streams_raw_events_with_valid_crc_from_the_start() {
    let sandbox = one(&[]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO shop.t VALUES (1, 'one'), (2, 'two')")
        .await
        .expect("setup");

    let start = StartPosition::FilePos(BinlogPosition::new("mysql-bin.000001", 4));
    let mut src = BinlogSource::connect_with(db.opts(), config(), start)
        .await
        .expect("connect");
    assert!(src.server().is_mariadb);
    let events = read_until(&mut src, |ev, seen| {
        ev.event_type() == XID_EVENT && types(seen).contains(&WRITE_ROWS_V1)
    })
    .await;

    // The first event is the fake ROTATE naming the first file, then the FDE.
    assert_eq!(events[0].event_type(), ROTATE_EVENT);
    assert!(events[0].artificial);
    assert_eq!(events[1].event_type(), FDE);
    assert_eq!(src.checksum(), Some(ChecksumAlg::Crc32));
    assert_eq!(&*events[2].file, "mysql-bin.000001");

    let mut expected_pos = 4;
    for ev in &events {
        assert_eq!(ev.bytes.len(), header_size(ev), "type {}", ev.event_type());
        assert_eq!(ev.checksum, ChecksumAlg::Crc32, "type {}", ev.event_type());
        assert!(crc_ok(ev), "bad CRC on type {} at {}", ev.event_type(), ev.pos);
        if !ev.artificial {
            // Contiguous, except where the server left out an event the dump
            // did not ask for: ANNOTATE_ROWS, just before a TABLE_MAP.
            if ev.event_type() == TABLE_MAP {
                assert!(ev.pos >= expected_pos, "type {} went backwards", ev.event_type());
            } else {
                assert_eq!(ev.pos, expected_pos, "type {} not contiguous", ev.event_type());
            }
            expected_pos = ev.next_pos;
        }
    }
    // The contract with the decoder: every raw event decodes, CRC checked.
    let mut decoder = replicator::binlog::Decoder::new("mysql-bin.000001");
    for ev in &events {
        decoder.set_file_name(&ev.file);
        if let Err(e) = decoder.decode(&ev.bytes, ev.pos) {
            panic!(
                "decoder refused type {} at {}:{}: {e}",
                ev.event_type(),
                ev.file,
                ev.pos
            );
        }
    }

    // MariaDB's own events arrive (capability 4): GTID events, not dummies.
    let t = types(&events);
    assert!(t.contains(&MARIADB_GTID), "{t:?}");
    let queries: Vec<String> = events
        .iter()
        .filter(|e| e.event_type() == QUERY_EVENT)
        .map(query_text)
        .collect();
    assert!(queries.iter().any(|q| q.contains("CREATE TABLE shop.t")), "{queries:?}");
    assert!(!queries.iter().any(|q| q.starts_with("# Dummy")), "{queries:?}");
    assert!(t.contains(&TABLE_MAP), "TABLE_MAP missing: {t:?}");
    assert_eq!(
        src.position().at,
        Some(BinlogPosition::new("mysql-bin.000001", expected_pos))
    );
    assert!(src.position().gtid.is_some());

    // Live: a new insert arrives, and heartbeats flow when idle.
    db.exec("INSERT INTO shop.t VALUES (3, 'three')").await.expect("insert");
    let live = read_until(&mut src, |ev, _| ev.event_type() == XID_EVENT).await;
    assert!(types(&live).contains(&WRITE_ROWS_V1));
    let hb = read_until(&mut src, |ev, _| ev.event_type() == HEARTBEAT).await;
    let hb = hb.last().expect("heartbeat");
    assert!(hb.artificial);
    assert!(crc_ok(hb));

    // Crossing a rotation: the real ROTATE ends the old file, the new file
    // starts with its FDE at 4.
    db.exec("FLUSH BINARY LOGS; INSERT INTO shop.t VALUES (4, 'four')")
        .await
        .expect("rotate and insert");
    let crossed = read_until(&mut src, |ev, _| ev.event_type() == XID_EVENT).await;
    let rotate = crossed.iter().find(|e| e.event_type() == ROTATE_EVENT).expect("rotate");
    assert!(!rotate.artificial);
    assert_eq!(&*rotate.file, "mysql-bin.000001");
    let fde = crossed.iter().find(|e| e.event_type() == FDE).expect("new file's FDE");
    assert_eq!((&*fde.file, fde.pos), ("mysql-bin.000002", 4));
    let xid = crossed.last().expect("xid");
    assert_eq!(&*xid.file, "mysql-bin.000002");
    assert_eq!(
        src.position().at,
        Some(BinlogPosition::new("mysql-bin.000002", xid.next_pos))
    );
    for ev in &crossed {
        assert!(ev.event_type() == HEARTBEAT || crc_ok(ev));
        decoder.set_file_name(&ev.file);
        if let Err(e) = decoder.decode(&ev.bytes, ev.pos) {
            panic!(
                "decoder refused type {} at {}:{}: {e}",
                ev.event_type(),
                ev.file,
                ev.pos
            );
        }
    }
    src.close().await;

    // From the current position (mid-file): the re-sent FDE is artificial
    // and its CRC still valid.
    let mut src = BinlogSource::connect_with(db.opts(), config(), StartPosition::Current)
        .await
        .expect("connect at current");
    let events = read_until(&mut src, |ev, _| ev.event_type() == FDE).await;
    let fde = events.last().expect("fde");
    assert!(fde.artificial);
    assert!(crc_ok(fde));
    src.close().await;
}

#[tokio::test]
async fn checksum_none_and_current_position() {
    let sandbox = one(&["--binlog-checksum=NONE"]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY)")
        .await
        .expect("setup");
    let mut src = BinlogSource::connect_with(db.opts(), config(), StartPosition::Current)
        .await
        .expect("connect");
    let StartPosition::FilePos(BinlogPosition { file, pos }) = src.start().clone() else {
        panic!("Current must resolve to a file:pos");
    };
    assert_eq!(file, "mysql-bin.000001");
    db.exec("INSERT INTO d.t VALUES (1)").await.expect("insert");
    let events = read_until(&mut src, |ev, _| ev.event_type() == XID_EVENT).await;
    assert_eq!(src.checksum(), Some(ChecksumAlg::Off));
    let mut first_real = None;
    for ev in &events {
        assert_eq!(ev.bytes.len(), header_size(ev), "type {}", ev.event_type());
        if ev.event_type() == FDE {
            // Declares OFF; its payload ends with the algorithm byte 0.
            assert_eq!(ev.checksum, ChecksumAlg::Off);
            assert_eq!(ev.payload().last(), Some(&0));
        }
        if ev.event_type() != ROTATE_EVENT && ev.event_type() != FDE {
            assert_eq!(ev.checksum, ChecksumAlg::Off, "type {}", ev.event_type());
        }
        if !ev.artificial && first_real.is_none() {
            first_real = Some(ev.pos);
        }
    }
    assert_eq!(first_real, Some(pos), "first event starts at the current position");
    assert!(types(&events).contains(&WRITE_ROWS_V1));
    src.close().await;
}

#[tokio::test]
async fn starts_from_a_mariadb_gtid() {
    let sandbox = one(&[]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE DATABASE g; CREATE TABLE g.t (id INT PRIMARY KEY); INSERT INTO g.t VALUES (1)")
        .await
        .expect("setup");
    let after_first = db
        .query_value("SELECT @@gtid_binlog_pos")
        .await
        .expect("query")
        .expect("value");
    db.exec("INSERT INTO g.t VALUES (2); INSERT INTO g.t VALUES (3)")
        .await
        .expect("more");
    let (domain, server, seq) = {
        let parts: Vec<u64> = after_first.split('-').map(|p| p.parse().expect("number")).collect();
        (parts[0], parts[1], parts[2])
    };

    let start = StartPosition::MariaGtid(after_first.clone());
    let mut src = BinlogSource::connect_with(db.opts(), config(), start)
        .await
        .expect("connect");
    let events = read_until(&mut src, |ev, _| ev.event_type() == MARIADB_GTID).await;
    let gtid = events.last().expect("gtid event");
    let p = gtid.payload();
    let got_seq = u64::from_le_bytes(p[0..8].try_into().expect("8 bytes"));
    let got_domain = u32::from_le_bytes(p[8..12].try_into().expect("4 bytes"));
    assert_eq!(
        (u64::from(got_domain), u64::from(gtid.server_id()), got_seq),
        (domain, server, seq + 1)
    );
    assert_eq!(src.position().gtid, Some(format!("{domain}-{server}-{}", seq + 1)));
    assert!(crc_ok(gtid));
    let at = src.position().at.expect("the fake ROTATE named the file");
    assert!(!at.file.is_empty(), "the fake ROTATE named the file");
    assert!(!at.file.contains('\u{1f}'), "checksum bytes in file name");
    src.close().await;

    // A GTID the source never had: definite, names it.
    let err = BinlogSource::connect_with(db.opts(), config(), StartPosition::MariaGtid("0-1-999".into()))
        .await
        .expect_err("unknown GTID");
    eprintln!("{err}");
    assert!(
        matches!(&err, SourceError::Definite(DefiniteError::UnknownGtid { requested, gtid_binlog_pos: Some(_), .. }) if requested == "0-1-999"),
        "{err:?}"
    );
    assert!(err.to_string().contains("0-1-999"), "{err}");
}

#[tokio::test]
async fn purged_binlog_is_a_definite_error_naming_needed_and_available() {
    let sandbox = one(&[]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE DATABASE p; CREATE TABLE p.t (id INT PRIMARY KEY); INSERT INTO p.t VALUES (1)")
        .await
        .expect("setup");
    let early_gtid = db.query_value("SELECT @@gtid_binlog_pos").await.expect("q").expect("v");
    db.exec("FLUSH BINARY LOGS").await.expect("flush");
    db.exec("INSERT INTO p.t VALUES (2)").await.expect("insert");
    db.exec("FLUSH BINARY LOGS").await.expect("flush");
    // MariaDB keeps a binlog until its binlog checkpoint is reached
    // (PURGE then only warns): retry, bounded.
    for attempt in 0.. {
        db.exec("PURGE BINARY LOGS TO 'mysql-bin.000003'").await.expect("purge");
        let oldest = db.query_value("SHOW BINARY LOGS").await.expect("q");
        if oldest.as_deref() == Some("mysql-bin.000003") {
            break;
        }
        assert!(attempt < 100, "mysql-bin.000002 never purged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let start = StartPosition::FilePos(BinlogPosition::new("mysql-bin.000001", 4));
    let err = BinlogSource::connect_with(db.opts(), config(), start)
        .await
        .expect_err("purged");
    eprintln!("{err}");
    assert!(!err.is_transient());
    let SourceError::Definite(DefiniteError::BinlogPurged { needed, available, .. }) = &err else {
        panic!("expected BinlogPurged, got {err:?}");
    };
    assert_eq!(needed.at, Some(BinlogPosition::new("mysql-bin.000001", 4)));
    assert_eq!(available.first().map(|b| b.name.as_str()), Some("mysql-bin.000003"));
    let text = err.to_string();
    assert!(text.contains("need mysql-bin.000001:4"), "{text}");
    assert!(text.contains("oldest available mysql-bin.000003:4"), "{text}");

    // The same by GTID: the binlog holding the next transaction is gone.
    let err = BinlogSource::connect_with(db.opts(), config(), StartPosition::MariaGtid(early_gtid.clone()))
        .await
        .expect_err("purged GTID");
    eprintln!("{err}");
    assert!(
        matches!(&err, SourceError::Definite(DefiniteError::BinlogPurged { needed, .. }) if needed.gtid.as_deref() == Some(early_gtid.as_str())),
        "{err:?}"
    );
    assert!(err.to_string().contains("mysql-bin.000003"), "{err}");
}

#[tokio::test]
async fn stopped_server_is_a_transient_error() {
    let mut sandbox = one(&[]).await;
    let mut src = BinlogSource::connect_with(
        sandbox.instances()[0].opts(),
        config(),
        StartPosition::FilePos(BinlogPosition::new("mysql-bin.000001", 4)),
    )
    .await
    .expect("connect");
    read_until(&mut src, |ev, _| ev.event_type() == FDE).await;
    let resume = src.position().at.expect("a file:pos start keeps its file");
    // The first event of the file after that point, to find again.
    let after = loop {
        let ev = src.next_event().await.expect("event after the FDE");
        if !ev.artificial {
            break (ev.event_type(), ev.pos, ev.bytes.clone());
        }
    };

    // Server stops while streaming.
    let db = &mut sandbox.instances_mut()[0];
    db.stop().await.expect("stop");
    let err = loop {
        match tokio::time::timeout(Duration::from_secs(20), src.next_event()).await {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => break e,
            Err(_) => panic!("no error within 20 s of the server stopping"),
        }
    };
    eprintln!("{err}");
    assert!(err.is_transient(), "{err:?}");
    assert!(err.position().is_some());

    // Reconnecting while it is down: transient too.
    let err = BinlogSource::connect_with(db.opts(), config(), StartPosition::Current)
        .await
        .expect_err("server down");
    eprintln!("{err}");
    assert!(
        matches!(err, SourceError::Transient(TransientError::Connect { .. })),
        "{err:?}"
    );

    // After a restart, resuming from the saved position works.
    db.restart().await.expect("restart");
    let start = StartPosition::FilePos(resume.clone());
    let mut src = BinlogSource::connect_with(db.opts(), config(), start)
        .await
        .expect("reconnect");
    let ev = src.next_event().await.expect("event");
    assert_eq!(ev.event_type(), ROTATE_EVENT);
    // The stream goes on exactly where it left off: the same event, same
    // bytes, at the same position (nothing skipped, nothing repeated).
    let again = loop {
        let ev = src.next_event().await.expect("event after the resume point");
        if !ev.artificial && ev.event_type() != FDE {
            break (ev.event_type(), ev.pos, ev.bytes.clone());
        }
    };
    assert_eq!(again, after, "resumed at {resume}");
}

/// `next_received` (what the extractor batches) hands out the same events
/// as `next_event`, in order, without waiting; a failure it sees is kept
/// for the next `next_event`, which reports it.
#[tokio::test]
async fn received_events_match_awaited_ones_and_a_failure_waits_for_next_event() {
    let mut sandbox = one(&[]).await;
    let db = &sandbox.instances()[0];
    db.exec("CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v VARCHAR(200))")
        .await
        .expect("setup");
    let inserts: Vec<String> = (1..=300)
        .map(|i| format!("INSERT INTO shop.t VALUES ({i}, REPEAT('x', 150))"))
        .collect();
    db.exec(&inserts.join("; ")).await.expect("300 transactions");
    let last_xid = |ev: &RawEvent, seen: &[RawEvent]| {
        ev.event_type() == XID_EVENT && seen.iter().filter(|e| e.event_type() == XID_EVENT).count() == 299
    };
    let start = || StartPosition::FilePos(BinlogPosition::new("mysql-bin.000001", 4));

    // One event at a time, each awaited.
    let mut src = BinlogSource::connect_with(db.opts(), config(), start())
        .await
        .expect("connect");
    let awaited = read_until(&mut src, last_xid).await;

    // Awaited, then whatever already arrived.
    let mut src = BinlogSource::connect_with(db.opts(), config(), start())
        .await
        .expect("connect");
    let mut batched: Vec<RawEvent> = Vec::new();
    let (mut awaits, mut received) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while batched.len() < awaited.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out at {} events",
            batched.len()
        );
        batched.push(src.next_event().await.expect("event"));
        awaits += 1;
        while batched.len() < awaited.len() {
            match src.next_received() {
                Some(ev) => {
                    batched.push(ev.expect("event"));
                    received += 1;
                }
                None => break,
            }
        }
    }
    let key = |e: &RawEvent| (e.event_type(), e.pos, e.next_pos, e.bytes.clone());
    assert_eq!(
        batched.iter().map(key).collect::<Vec<_>>(),
        awaited.iter().map(key).collect::<Vec<_>>()
    );
    assert!(
        received > 0,
        "every one of {awaits} events was awaited: nothing came batched"
    );

    // The server goes away: next_received never reports it, next_event does.
    sandbox.instances_mut()[0].stop().await.expect("stop");
    let err = loop {
        while let Some(ev) = src.next_received() {
            ev.expect("an event received before the stop");
        }
        match tokio::time::timeout(Duration::from_secs(20), src.next_event()).await {
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => break e,
            Err(_) => panic!("no error within 20 s of the server stopping"),
        }
    };
    assert!(err.is_transient(), "{err:?}");
    assert!(src.next_received().is_none(), "nothing after the failure");
}

#[tokio::test]
async fn access_denied_and_same_server_id_are_definite() {
    let spec = localhost_specs(1).expect("port").remove(0);
    let sandbox = Sandbox::start(vec![spec]).await.expect("start");
    let db = &sandbox.instances()[0];

    let bad = db.opts_builder().pass(Some("wrong"));
    let err = BinlogSource::connect_with(bad.into(), config(), StartPosition::Current)
        .await
        .expect_err("bad password");
    assert!(
        matches!(
            err,
            SourceError::Definite(DefiniteError::AccessDenied { code: 1045, .. })
        ),
        "{err:?}"
    );

    // An account without REPLICATION SLAVE is refused by the dump itself.
    db.exec("CREATE USER ro@'%' IDENTIFIED BY 'pw'; GRANT SELECT, BINLOG MONITOR ON *.* TO ro@'%'")
        .await
        .expect("user");
    let ro = db.opts_builder().user(Some("ro")).pass(Some("pw"));
    let err = BinlogSource::connect_with(ro.into(), config(), StartPosition::Current)
        .await
        .expect_err("no REPLICATION SLAVE");
    eprintln!("{err}");
    assert!(
        matches!(err, SourceError::Definite(DefiniteError::AccessDenied { .. })),
        "{err:?}"
    );

    let err = BinlogSource::connect(db.opts(), db.server_id(), StartPosition::Current)
        .await
        .expect_err("same server id");
    assert!(
        matches!(err, SourceError::Definite(DefiniteError::Settings { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("server_id"), "{err}");
}

#[tokio::test]
async fn silent_source_is_a_transient_idle_error() {
    let mut sandbox = one(&[]).await;
    let db = &mut sandbox.instances_mut()[0];
    let cfg = StreamConfig {
        heartbeat: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(1),
        ..StreamConfig::new(OUR_SERVER_ID)
    };
    let mut src = BinlogSource::connect_with(db.opts(), cfg, StartPosition::Current)
        .await
        .expect("connect");
    // Heartbeats keep an idle stream alive past the idle timeout.
    let hb = read_until(&mut src, |ev, seen| {
        ev.event_type() == HEARTBEAT && seen.iter().filter(|e| e.event_type() == HEARTBEAT).count() >= 6
    })
    .await;
    assert!(hb.len() >= 7);

    // A frozen server (as a silent network cut): no heartbeat, Idle.
    let pid = libc::pid_t::try_from(db.pid().expect("running")).expect("pid");
    // SAFETY: signalling our own child mariadbd.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let result = tokio::time::timeout(Duration::from_secs(10), src.next_event()).await;
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let err = result.expect("bounded").expect_err("idle");
    eprintln!("{err}");
    assert!(
        matches!(err, SourceError::Transient(TransientError::Idle { .. })),
        "{err:?}"
    );
}

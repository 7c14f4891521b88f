//! `trepctl` end to end: a sandbox MariaDB master, the `replicator` process
//! with its REST API, and the `trepctl` binary reading the same ini.
//!
//! Covers: `services`, `status` (layout and `-json`), `wait`, `heartbeat`,
//! `flush`, `offline`, `online`, a wrong password and an unreachable
//! replicator (clear messages, exit 1), the ini from `$TUNGSTEN_INI` and the
//! host by its address, SIGTERM → exit 0.
//!
//! Run: `cargo test -p tests --test trepctl -- --test-threads=1`

use std::process::{Command, Output};
use std::time::Duration;

use tests::process::{read_thl, workspace_bin, Deployment};
use tests::sandbox::{loopback_specs, Sandbox, DEFAULT_PORT};
use thl::event::Change;

const HOST: &str = "host1.alpha";
const SERVICE: &str = "alpha";

fn trepctl(d: &Deployment, args: &[&str]) -> Output {
    let bin = workspace_bin("trepctl").expect("trepctl built");
    Command::new(bin)
        .arg("--config")
        .arg(d.ini())
        .arg("--hosts-file")
        .arg(d.hosts_file())
        .args(["-host", HOST])
        .args(args)
        .output()
        .expect("trepctl runs")
}

fn ok(d: &Deployment, args: &[&str]) -> String {
    let out = trepctl(d, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "trepctl {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn failing(d: &Deployment, args: &[&str]) -> String {
    let out = trepctl(d, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "trepctl {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn status_json(d: &Deployment) -> serde_json::Value {
    serde_json::from_str(&ok(d, &["status", "-json"])).expect("status -json is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trepctl_drives_a_master_through_the_rest_api() {
    let spec = loopback_specs(1, DEFAULT_PORT)
        .expect("free loopback address")
        .remove(0);
    let spec = tests::sandbox::InstanceSpec {
        name: HOST.into(),
        ..spec
    };
    let address = spec.address.to_string();
    let host_address = address.clone();
    let port = spec.port;
    let sandbox = Sandbox::start(vec![spec]).await.expect("sandbox starts");
    let db = sandbox.get(HOST);
    let root = tempfile::tempdir().expect("tempdir");
    let ini = format!(
        "[defaults]\nreplication-user=tungsten\nreplication-password=secret\nreplication-port={port}\n\
         rest-api-admin-user=admin\nrest-api-admin-password=s3cret\nreplicator-rest-api-address=0.0.0.0\n\
         [{SERVICE}]\ntopology=clustered\nmaster={HOST}\nmembers={HOST}\n"
    );
    let d = Deployment::create(root.path(), &ini, &[(HOST.into(), address)]).expect("deployment");
    let first = db.query("SHOW BINARY LOGS").await.expect("binlogs")[0][0].clone();
    let mut process = d
        .start(HOST, &["--from-event", &format!("{first}:4")])
        .expect("replicator starts");

    // The REST API comes up; the service goes online by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let out = trepctl(&d, &["services"]);
        if out.status.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "REST API never came up:\n{}",
            process.log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ok(&d, &["wait", "-state", "ONLINE", "-limit", "60"]);
    let services = ok(&d, &["services"]);
    assert!(services.starts_with("Processing services command...\n"), "{services}");
    assert!(
        services.contains("serviceName      : alpha\n") && services.contains("state            : ONLINE\n"),
        "{services}"
    );
    assert!(services.ends_with("Finished services command...\n"), "{services}");
    // An operator's habits: the ini from $TUNGSTEN_INI, the host by its address.
    let by_address = Command::new(workspace_bin("trepctl").expect("trepctl built"))
        .env("TUNGSTEN_INI", d.ini())
        .arg("--hosts-file")
        .arg(d.hosts_file())
        .args(["-host", &host_address, "services"])
        .output()
        .expect("trepctl runs");
    assert!(
        by_address.status.success()
            && String::from_utf8_lossy(&by_address.stdout).contains("serviceName      : alpha\n"),
        "trepctl -host {host_address} with TUNGSTEN_INI: {}",
        String::from_utf8_lossy(&by_address.stderr)
    );

    db.exec("CREATE DATABASE shop").await.expect("db");
    db.exec("CREATE TABLE shop.t (id INT PRIMARY KEY)")
        .await
        .expect("table");
    db.exec("INSERT INTO shop.t VALUES (1),(2)").await.expect("insert");
    let flushed = ok(&d, &["flush", "-limit", "60"]);
    let seqno: i64 = flushed
        .trim()
        .strip_prefix("Master log is synchronized with database at log sequence number: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("flush output: {flushed}"));
    assert!(seqno >= 3, "flush after 3 transactions and a heartbeat: {seqno}");
    let status = ok(&d, &["status"]);
    assert!(status.starts_with("Processing status command...\nNAME"), "{status}");
    assert!(
        status.contains(&format!("\nappliedLastSeqno        : {seqno}\n")),
        "{status}"
    );
    assert!(status.contains("\nstate                   : ONLINE\n"), "{status}");
    assert!(status.contains("\nrole                    : master\n"), "{status}");
    let st = status_json(&d);
    assert_eq!(st["maximumStoredSeqNo"], seqno.to_string());
    assert_eq!(st["minimumStoredSeqNo"], "0");
    assert_eq!(st["pendingError"], "NONE");
    // The shop database's two transactions (CREATE TABLE, INSERT); CREATE
    // DATABASE is in no database: the shard #UNKNOWN.
    let shards = ok(&d, &["status", "-name", "shards"]);
    assert!(
        shards.contains("eventCount         : 2\nshardId            : shop\n")
            && shards.contains("shardId            : #UNKNOWN\n"),
        "{shards}"
    );

    // heartbeat: a row of tungsten_alpha.heartbeat reaches the THL.
    ok(&d, &["heartbeat", "-name", "hb1"]);
    let after = ok(&d, &["flush"]);
    assert!(after.contains("log sequence number"), "{after}");
    let events = read_thl(&d.thl_dir(HOST, SERVICE)).expect("THL");
    let heartbeats = events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter(|c| matches!(c, Change::Rows(r) if r.schema == "tungsten_alpha" && r.table == "heartbeat"))
        .count();
    assert!(
        heartbeats >= 3,
        "flush, heartbeat, flush: {heartbeats} heartbeat row changes"
    );

    // offline / online
    assert_eq!(ok(&d, &["offline"]), "alpha: OFFLINE:NORMAL\n");
    assert_eq!(status_json(&d)["state"], "OFFLINE:NORMAL");
    assert!(failing(&d, &["heartbeat"]).contains("needs it ONLINE"));
    ok(&d, &["online"]);
    ok(&d, &["wait", "-state", "ONLINE", "-limit", "60"]);
    db.exec("INSERT INTO shop.t VALUES (3)").await.expect("insert");
    let again = ok(&d, &["flush"]);
    assert!(again.contains("log sequence number"), "{again}");

    // `online -until-seqno N` on a master with a backlog in the binlog:
    // nothing after N's transaction is stored (issue 9, window 6).
    ok(&d, &["offline"]);
    let before: i64 = status_json(&d)["maximumStoredSeqNo"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("max stored seqno");
    for i in 100..200 {
        db.exec(&format!("INSERT INTO shop.t VALUES ({i})"))
            .await
            .expect("backlog");
    }
    let until = before + 37;
    ok(&d, &["online", "-until-seqno", &until.to_string()]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let stopped = loop {
        let st = status_json(&d);
        let max: i64 = st["maximumStoredSeqNo"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1);
        if st["state"] == "OFFLINE:NORMAL" && max > before {
            break st;
        }
        assert!(std::time::Instant::now() < deadline, "never stopped at {until}: {st}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stopped["maximumStoredSeqNo"], until.to_string(), "{stopped}");
    let stored = read_thl(&d.thl_dir(HOST, SERVICE)).expect("THL");
    assert_eq!(stored.last().map(|e| e.header.seqno.0), Some(until));
    ok(&d, &["online"]);
    ok(&d, &["wait", "-state", "ONLINE", "-limit", "60"]);
    let rest = ok(&d, &["flush", "-limit", "60"]);
    assert!(rest.contains("log sequence number"), "{rest}");
    let all = read_thl(&d.thl_dir(HOST, SERVICE)).expect("THL");
    let rows: usize = all
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(|c| match c {
            Change::Rows(r) if r.schema == "shop" => Some(r.rows.len()),
            _ => None,
        })
        .sum();
    assert_eq!(rows, 2 + 1 + 100, "every row once, none lost at the stop");

    // Errors an operator meets.
    let e = failing(&d, &["-password", "wrong", "services"]);
    assert!(
        e.contains("refused the credentials") && e.contains("-user/-password"),
        "{e}"
    );
    let e = failing(&d, &["-port", "1", "services"]);
    assert!(
        e.contains("cannot reach the replicator at http://") && e.contains("is it running? (check -host/-port)"),
        "{e}"
    );
    let e = failing(&d, &["-service", "nope", "status"]);
    assert!(e.contains("no service \"nope\"") && e.contains("alpha"), "{e}");
    let e = failing(&d, &["setrole", "-role", "slave", "-uri", "thl://elsewhere:2112/"]);
    assert!(e.contains("OFFLINE:NORMAL"), "{e}");

    assert_eq!(
        process.terminate(Duration::from_secs(30)),
        Some(0),
        "SIGTERM stops cleanly:\n{}",
        process.log_tail(20)
    );
}

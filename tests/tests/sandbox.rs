//! Tests of the MariaDB sandbox itself (real `mariadbd`).
//!
//! Run: `cargo test -p tests --test sandbox -- --test-threads=1`
//! (each test starts at most two `mariadbd`).

use mysql_async::prelude::Queryable;
use tests::sandbox::{localhost_specs, loopback_specs, Sandbox, DEFAULT_PORT};

#[tokio::test]
async fn two_instances_on_loopback_addresses_same_port() {
    let specs = loopback_specs(2, DEFAULT_PORT).expect("free loopback block");
    assert_ne!(specs[0].address, specs[1].address);
    assert_eq!(specs[0].port, specs[1].port);
    let mut sandbox = Sandbox::start(specs).await.expect("sandbox starts");

    for (i, instance) in sandbox.instances().iter().enumerate() {
        let row = instance
            .query("SELECT @@log_bin, @@binlog_format, @@server_id, @@binlog_row_metadata, @@binlog_row_image, @@log_slave_updates, @@bind_address, @@port")
            .await
            .expect("query");
        let expected_id = (i + 1).to_string();
        let expected_port = DEFAULT_PORT.to_string();
        let expected_addr = instance.address().to_string();
        assert_eq!(
            row,
            vec![vec![
                "1",
                "ROW",
                expected_id.as_str(),
                "FULL",
                "FULL",
                "1",
                expected_addr.as_str(),
                expected_port.as_str(),
            ]],
            "{}",
            instance.name()
        );
        // No anonymous user left, and the fresh binlog has no user events.
        let anonymous = instance
            .query_value("SELECT COUNT(*) FROM mysql.user WHERE user = ''")
            .await
            .expect("query");
        assert_eq!(anonymous.as_deref(), Some("0"));

        // The replication account over TCP, on this instance's address.
        let mut conn = mysql_async::Conn::new(instance.opts())
            .await
            .expect("connect as tungsten over TCP");
        let (user, server_id): (String, u32) = conn
            .query_first("SELECT CURRENT_USER(), @@server_id")
            .await
            .expect("query")
            .expect("one row");
        assert_eq!(user, "tungsten@%");
        assert_eq!(server_id, instance.server_id());
        let grants: Vec<String> = conn.query("SHOW GRANTS").await.expect("grants");
        assert!(
            grants
                .iter()
                .any(|g| g.contains("ALL PRIVILEGES ON *.*") && g.contains("WITH GRANT OPTION")),
            "{grants:?}"
        );
        conn.disconnect().await.expect("disconnect");

        // The URL form works too.
        let mut conn = mysql_async::Conn::from_url(format!("{}?prefer_socket=false", instance.url()))
            .await
            .expect("connect by URL");
        conn.query_drop("DO 1").await.expect("DO 1");
        conn.disconnect().await.expect("disconnect");
    }

    // Helpers: exec, query, checksum_table.
    let db1 = sandbox.get("db1");
    db1.exec("CREATE DATABASE t; CREATE TABLE t.a (id INT PRIMARY KEY, v VARCHAR(10)); INSERT INTO t.a VALUES (1,'x'),(2,NULL)")
        .await
        .expect("exec");
    assert_eq!(
        db1.query("SELECT id, v FROM t.a ORDER BY id").await.expect("query"),
        vec![vec!["1", "x"], vec!["2", "NULL"]]
    );
    let sum = db1.checksum_table("t.a").await.expect("checksum");
    assert_ne!(sum, 0);
    assert!(db1.checksum_table("t.missing").await.is_err());

    // stop, restart, kill.
    let pids: Vec<u32> = sandbox.instances().iter().filter_map(|i| i.pid()).collect();
    assert_eq!(pids.len(), 2);
    let db1 = sandbox.get_mut("db1");
    db1.stop().await.expect("stop");
    assert!(!db1.is_running());
    assert!(db1.query("SELECT 1").await.is_err());
    db1.restart().await.expect("restart");
    assert_eq!(db1.checksum_table("t.a").await.expect("checksum after restart"), sum);
    db1.kill().expect("kill");
    db1.restart().await.expect("restart after crash");
    assert_eq!(db1.checksum_table("t.a").await.expect("checksum after crash"), sum);

    sandbox.stop_all().await.expect("stop all");
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still alive"
        );
    }
}

#[tokio::test]
async fn extra_options_and_distinct_ports_on_localhost() {
    let mut specs = localhost_specs(1).expect("free port");
    let spec = specs
        .remove(0)
        .args(["--binlog-format=STATEMENT", "--innodb-flush-log-at-trx-commit=2"]);
    let sandbox = Sandbox::start(vec![spec]).await.expect("sandbox starts");
    let db = &sandbox.instances()[0];
    assert_eq!(db.address().to_string(), "127.0.0.1");
    let row = db
        .query("SELECT @@binlog_format, @@innodb_flush_log_at_trx_commit, @@port")
        .await
        .expect("query");
    assert_eq!(
        row,
        vec![vec!["STATEMENT".to_owned(), "2".to_owned(), db.port().to_string()]]
    );
    let pid = db.pid().expect("running");
    drop(sandbox);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} survived drop"
    );
}

#[tokio::test]
async fn start_failure_reports_the_error_log() {
    let mut specs = localhost_specs(1).expect("free port");
    let spec = specs.remove(0).arg("--no-such-option-at-all");
    let err = Sandbox::start(vec![spec]).await.expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains("no-such-option-at-all"), "{text}");
}

#[tokio::test]
async fn non_loopback_address_is_refused() {
    let spec = tests::sandbox::InstanceSpec::new("x", std::net::Ipv4Addr::new(10, 0, 0, 1), 13306, 1);
    let err = Sandbox::start(vec![spec]).await.expect_err("must fail");
    assert!(err.to_string().contains("not a loopback"), "{err}");
}

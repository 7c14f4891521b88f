//! MariaDB 5.3 fractional temporals (`TIME(n) /* mariadb-5.3 */`, created
//! with `mysql56_temporal_format=OFF`) through the master extractor: the
//! binlog does not carry n, the extractor learns it from the source's
//! definition, and the THL holds the exact values (issue 8, item 2). A table
//! converted since the event stops the master with a message naming the
//! table, column, position and fix.
//!
//! Run: `cargo test -p tests --test hires_temporal -- --test-threads=1`
//! (each test starts one `mariadbd` and one `replicator`).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::process::{read_thl, Deployment, ReplicatorProcess};
use tests::sandbox::{loopback_specs, Instance, Sandbox, DEFAULT_PORT};
use thl::event::{Change, DateTime, ReplEvent, RowAction, RowChanges, Time, Value};

const HOST: &str = "host1.alpha";
const SERVICE: &str = "alpha";
const WAIT: Duration = Duration::from_secs(60);

struct Master {
    sandbox: Sandbox,
    deployment: Deployment,
    _root: tempfile::TempDir,
    first_binlog: String,
}

impl Master {
    async fn start() -> Master {
        let spec = loopback_specs(1, DEFAULT_PORT)
            .expect("free loopback address")
            .remove(0);
        let spec = tests::sandbox::InstanceSpec {
            name: HOST.into(),
            ..spec
        };
        let address = spec.address.to_string();
        let port = spec.port;
        let sandbox = Sandbox::start(vec![spec]).await.expect("sandbox starts");
        let root = tempfile::tempdir().expect("tempdir");
        let ini = format!(
            "[defaults]\nreplication-user=tungsten\nreplication-password=secret\nreplication-port={port}\n\
             rest-api-admin-user=apiuser\nrest-api-admin-password=secret\n\
             [{SERVICE}]\ntopology=clustered\nmaster={HOST}\nmembers={HOST}\n"
        );
        let deployment = Deployment::create(root.path(), &ini, &[(HOST.into(), address)]).expect("deployment");
        let first_binlog = sandbox.get(HOST).query("SHOW BINARY LOGS").await.expect("binlogs")[0][0].clone();
        Master {
            sandbox,
            deployment,
            _root: root,
            first_binlog,
        }
    }

    fn db(&self) -> &Instance {
        self.sandbox.get(HOST)
    }

    fn replicator(&self) -> ReplicatorProcess {
        let from = format!("{}:4", self.first_binlog);
        self.deployment
            .start(HOST, &["--from-event", &from])
            .expect("replicator starts")
    }

    /// Waits until the THL holds the source's last transaction, then reads it.
    async fn drained_thl(&self, process: &mut ReplicatorProcess) -> Vec<ReplEvent> {
        assert!(
            tests::process::source_gtid_seq(self.db()).await > 0,
            "the source wrote transactions"
        );
        tests::process::drained_thl(self.db(), &self.deployment.thl_dir(HOST, SERVICE), process, WAIT).await
    }
}

fn rows_of<'a>(events: &'a [ReplEvent], table: &'a str) -> Vec<&'a RowChanges> {
    events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(move |c| match c {
            Change::Rows(r) if r.table == table => Some(r),
            _ => None,
        })
        .collect()
}

/// Creates `db1.t1` in the 5.3 format (and leaves the server's default as it was).
const OLD_FORMAT_DDL: &[&str] = &[
    "CREATE DATABASE db1",
    "SET GLOBAL mysql56_temporal_format = OFF",
    "CREATE TABLE db1.t1 (id INT NOT NULL PRIMARY KEY, d VARCHAR(64), t TIME(1), t6 TIME(6), dt3 DATETIME(3), \
     dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL DEFAULT NULL, ts2 TIMESTAMP(2) NULL DEFAULT NULL, t0 TIME, dt0 DATETIME)",
    "SET GLOBAL mysql56_temporal_format = ON",
];

const ROWS: &str = "INSERT INTO db1.t1 VALUES
    (1, 'a', '10:20:30.1', '-838:59:59.999999', '2001-02-03 04:05:06.789', '9999-12-31 23:59:59.999999',
     '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01.01', '-12:00:01', '0000-00-00 00:00:00'),
    (2, 'b', '10:20:30.1', '838:59:59.999999', '0000-00-00 00:00:00.000', '1000-01-01 00:00:00.000001',
     '1970-01-01 00:00:01.000001', NULL, '838:59:59', '9999-12-31 23:59:59'),
    (3, NULL, '-00:00:00.1', '-00:00:00.000001', NULL, NULL, NULL, '2000-01-01 00:00:00.5', NULL, NULL),
    (4, 'n', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";

fn time(negative: bool, hours: u16, minutes: u8, seconds: u8, micros: u32) -> Value {
    Value::Time(Time {
        negative,
        hours,
        minutes,
        seconds,
        micros,
    })
}

fn datetime(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, micros: u32) -> Value {
    Value::DateTime(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micros,
    })
}

fn ts(secs: i64, micros: u32) -> Value {
    Value::Timestamp { secs, micros }
}

/// The rows of `ROWS`, exactly (session time zone +00:00).
fn expected_rows() -> Vec<Vec<Value>> {
    let s = |t: &str| Value::Bytes(t.as_bytes().to_vec());
    vec![
        vec![
            Value::Int(1),
            s("a"),
            time(false, 10, 20, 30, 100_000),
            time(true, 838, 59, 59, 999_999),
            datetime(2001, 2, 3, 4, 5, 6, 789_000),
            datetime(9999, 12, 31, 23, 59, 59, 999_999),
            ts(2_147_483_647, 999_999),
            ts(1, 10_000),
            time(true, 12, 0, 1, 0),
            datetime(0, 0, 0, 0, 0, 0, 0),
        ],
        vec![
            Value::Int(2),
            s("b"),
            time(false, 10, 20, 30, 100_000),
            time(false, 838, 59, 59, 999_999),
            datetime(0, 0, 0, 0, 0, 0, 0),
            datetime(1000, 1, 1, 0, 0, 0, 1),
            ts(1, 1),
            Value::Null,
            time(false, 838, 59, 59, 0),
            datetime(9999, 12, 31, 23, 59, 59, 0),
        ],
        vec![
            Value::Int(3),
            Value::Null,
            time(true, 0, 0, 0, 100_000),
            time(true, 0, 0, 0, 1),
            Value::Null,
            Value::Null,
            Value::Null,
            ts(946_684_800, 500_000),
            Value::Null,
            Value::Null,
        ],
        {
            let mut r = vec![Value::Int(4), s("n")];
            r.resize(10, Value::Null);
            r
        },
    ]
}

async fn session(db: &Instance) -> mysql_async::Conn {
    let mut conn = mysql_async::Conn::new(db.root_opts()).await.expect("connect");
    conn.query_drop("SET SESSION sql_mode = '', time_zone = '+00:00'")
        .await
        .expect("session");
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractional_53_temporals_are_extracted_exactly() {
    let m = Master::start().await;
    let mut conn = session(m.db()).await;
    for sql in OLD_FORMAT_DDL {
        conn.query_drop(*sql).await.expect("DDL");
    }
    let column_type: Option<String> = conn
        .query_first("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'db1' AND TABLE_NAME = 't1' AND COLUMN_NAME = 't'")
        .await
        .expect("column type");
    assert_eq!(
        column_type.as_deref(),
        Some("time(1) /* mariadb-5.3 */"),
        "the table is in the 5.3 format"
    );
    let mut process = m.replicator();
    conn.query_drop(ROWS).await.expect("insert");
    conn.query_drop("UPDATE db1.t1 SET t = '-00:00:01.5', dt3 = '2024-02-29 12:00:00.001' WHERE id = 1")
        .await
        .expect("update");
    conn.query_drop("DELETE FROM db1.t1 WHERE id = 2")
        .await
        .expect("delete");
    // The definition is read when the extractor reaches the rows: let it
    // before the table changes (see the next test for when it cannot).
    m.drained_thl(&mut process).await;
    // A table created since (5.6 format, same name): the cache is refreshed by the DDL.
    conn.query_drop("DROP TABLE db1.t1").await.expect("drop");
    conn.query_drop("CREATE TABLE db1.t1 (id INT PRIMARY KEY, t TIME(1))")
        .await
        .expect("create");
    conn.query_drop("INSERT INTO db1.t1 VALUES (9, '-01:02:03.4')")
        .await
        .expect("insert new");
    let _ = conn.disconnect().await;
    let events = m.drained_thl(&mut process).await;

    let changes = rows_of(&events, "t1");
    assert_eq!(changes.len(), 4, "insert, update, delete, insert into the new table");
    let insert = changes[0];
    assert_eq!(insert.action, RowAction::Insert);
    let metas: Vec<(u8, u16, &str)> = insert
        .columns
        .iter()
        .map(|c| (c.type_code, c.type_meta, c.type_desc.as_str()))
        .collect();
    assert_eq!(
        metas[2..],
        [
            (11, 1, "time(1)"),
            (11, 6, "time(6)"),
            (12, 3, "datetime(3)"),
            (12, 6, "datetime(6)"),
            (7, 6, "timestamp(6)"),
            (7, 2, "timestamp(2)"),
            (11, 0, "time"),
            (12, 0, "datetime"),
        ],
        "the precision travels in type_meta of the pre-5.6 types"
    );
    let got: Vec<Vec<Value>> = insert.rows.iter().map(|r| r.after.clone()).collect();
    assert_eq!(got, expected_rows());

    let update = changes[1];
    assert_eq!(update.action, RowAction::Update);
    assert_eq!(update.rows.len(), 1);
    let before = &update.rows[0].before;
    let after = &update.rows[0].after;
    assert_eq!(before, &expected_rows()[0], "update before image");
    let mut want = expected_rows()[0].clone();
    want[2] = time(true, 0, 0, 1, 500_000);
    want[4] = datetime(2024, 2, 29, 12, 0, 0, 1_000);
    assert_eq!(after, &want, "update after image");

    let delete = changes[2];
    assert_eq!(delete.action, RowAction::Delete);
    assert_eq!(delete.rows[0].before, expected_rows()[1]);

    let new = changes[3];
    assert_eq!(
        (new.columns[1].type_code, new.columns[1].type_meta),
        (19, 1),
        "TIME2(1)"
    );
    assert_eq!(new.rows[0].after, vec![Value::Int(9), time(true, 1, 2, 3, 400_000)]);
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_converted_since_the_event_stops_the_master_with_the_fix() {
    let m = Master::start().await;
    let mut conn = session(m.db()).await;
    for sql in OLD_FORMAT_DDL {
        conn.query_drop(*sql).await.expect("DDL");
    }
    conn.query_drop(ROWS).await.expect("insert");
    // Converted to the 5.6 format before the extractor reads the rows.
    conn.query_drop("ALTER TABLE db1.t1 FORCE").await.expect("convert");
    let _ = conn.disconnect().await;
    let mut process = m.replicator();
    let deadline = Instant::now() + WAIT;
    let log = loop {
        let log = process.log_tail(60);
        if log.contains("OFFLINE:ERROR") {
            break log;
        }
        assert!(process.exited().is_none(), "the replicator exited:\n{log}");
        assert!(
            Instant::now() < deadline,
            "the service should stop in OFFLINE:ERROR:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        log.contains("`db1`.`t1` column 3 (`t`)")
            && log.contains("time(1)")
            && log.contains(&m.first_binlog)
            && log.contains("ALTER TABLE ... FORCE"),
        "names table, column, position and fix:\n{log}"
    );
    // Nothing of the table's rows was stored.
    let events = read_thl(&m.deployment.thl_dir(HOST, SERVICE)).expect("the master's THL is readable");
    assert!(
        rows_of(&events, "t1").is_empty(),
        "no rows decoded with a guessed precision"
    );
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_host_of_the_cluster_ends_with_the_masters_values() {
    use tests::cluster::{Cluster, HOSTS};
    let root = tempfile::tempdir().expect("tempdir");
    let mut cluster = Cluster::create(root.path()).await.expect("cluster");
    cluster.start_replicators().expect("replicators");
    let mut conn = session(cluster.db(HOSTS[0])).await;
    for sql in OLD_FORMAT_DDL {
        conn.query_drop(*sql).await.expect("DDL");
    }
    conn.query_drop(ROWS).await.expect("insert");
    conn.query_drop("UPDATE db1.t1 SET t = '-00:00:01.5', dt3 = '2024-02-29 12:00:00.001' WHERE id = 1")
        .await
        .expect("update");
    conn.query_drop("DELETE FROM db1.t1 WHERE id = 2")
        .await
        .expect("delete");
    let _ = conn.disconnect().await;
    let seqno = cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("all hosts apply");
    // Text of every value at full precision (the hosts' tables may be in
    // the 5.6 format: CHECKSUM TABLE would differ for equal values).
    let select = "SELECT id, d, CAST(t AS CHAR), CAST(t6 AS CHAR), CAST(dt3 AS CHAR), CAST(dt6 AS CHAR), \
                  CAST(ts6 AS CHAR), CAST(ts2 AS CHAR), CAST(t0 AS CHAR), CAST(dt0 AS CHAR) FROM db1.t1 ORDER BY id";
    let master = cluster.db(HOSTS[0]).query(select).await.expect("master rows");
    assert_eq!(master.len(), 3, "rows 1, 3, 4 remain: {master:?}");
    assert_eq!(master[0][2], "-00:00:01.5");
    for host in &HOSTS[1..] {
        let rows = cluster.db(host).query(select).await.expect("rows");
        assert_eq!(rows, master, "{host} differs from the master after seqno {seqno}");
    }
}

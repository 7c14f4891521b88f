//! The master role end to end: a real MariaDB source, the `replicator`
//! binary as a process, and the THL it writes, checked value by value
//! against `SELECT` on the source (binary protocol, so values are typed and
//! exact).
//!
//! Covers: every column type with edge values, multi-row INSERT, UPDATE,
//! DELETE, DDL (CREATE, ALTER ADD/DROP/RENAME COLUMN, RENAME TABLE, TRUNCATE,
//! DROP), a 200k-row transaction (fragmented, memory bounded), STATEMENT and
//! MIXED formats with their session variables, a MyISAM table, a purged
//! binlog at restart, and a seeded SIGKILL loop auditing the THL afterwards.
//!
//! Run: `cargo test -p tests --test master -- --test-threads=1`
//! (each test starts one `mariadbd` and one `replicator`).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::process::{wait_for_thl_seqno, Deployment, ReplicatorProcess};
use tests::sandbox::{loopback_specs, Instance, Sandbox, DEFAULT_PORT};
use thl::event::{meta, Change, ColumnSpec, ReplEvent, RowAction, RowChanges, Value};

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
    async fn start(extra_mariadb_args: &[&str]) -> Master {
        let spec = loopback_specs(1, DEFAULT_PORT)
            .expect("free loopback address")
            .remove(0);
        let spec = tests::sandbox::InstanceSpec {
            name: HOST.into(),
            ..spec
        }
        .args(extra_mariadb_args.iter().copied());
        let address = spec.address.to_string();
        let port = spec.port;
        let sandbox = Sandbox::start(vec![spec]).await.expect("sandbox starts");
        let root = tempfile::tempdir().expect("tempdir");
        let ini = format!(
            "[defaults]\nreplication-user=tungsten\nreplication-password=secret\nreplication-port={port}\n\
             rest-api-admin-user=apiuser\nrest-api-admin-password=secret\n\
             thl-log-file-size=2000000\n\
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

    fn thl_dir(&self) -> PathBuf {
        self.deployment.thl_dir(HOST, SERVICE)
    }

    /// The number of transactions the source has written (GTID seq of domain 0).
    async fn source_transactions(&self) -> i64 {
        tests::process::source_gtid_seq(self.db()).await
    }

    /// Waits until the THL holds the source's last transaction, then reads it.
    async fn drained_thl(&self, process: &mut ReplicatorProcess) -> Vec<ReplEvent> {
        tests::process::drained_thl(self.db(), &self.thl_dir(), process, WAIT).await
    }
}

fn rows_of<'a>(events: &'a [ReplEvent], table: &'a str) -> impl Iterator<Item = &'a RowChanges> + 'a {
    events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(move |c| match c {
            Change::Rows(r) if r.table == table => Some(r),
            _ => None,
        })
}

fn statements(events: &[ReplEvent]) -> Vec<String> {
    events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(|c| match c {
            Change::Statement(s) => Some(String::from_utf8_lossy(&s.sql).into_owned()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Every type, value by value.

const TYPES_DDL: &str = "CREATE TABLE db1.types (
    id INT NOT NULL PRIMARY KEY,
    ti TINYINT, uti TINYINT UNSIGNED, si SMALLINT, usi SMALLINT UNSIGNED,
    mi MEDIUMINT, umi MEDIUMINT UNSIGNED, i INT, ui INT UNSIGNED, bi BIGINT, ubi BIGINT UNSIGNED,
    d1 DECIMAL(65,30), d2 DECIMAL(5,0), d3 DECIMAL(10,4) UNSIGNED,
    f FLOAT, db DOUBLE,
    dt DATE, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL,
    tm TIME(6), tm1 TIME(1), tm2 TIME(2), tm0 TIME, y YEAR,
    b1 BIT(1), b10 BIT(10), b64 BIT(64),
    e ENUM('a','b','c'), s SET('x','y','z'),
    c CHAR(10), vc VARCHAR(300) CHARACTER SET utf8mb4, l1 VARCHAR(20) CHARACTER SET latin1,
    bn BINARY(4), vb VARBINARY(10), tx TEXT, bl BLOB, mb MEDIUMBLOB, js JSON,
    g GEOMETRY, pt POINT, u8 VARCHAR(10) CHARACTER SET utf8mb3, uu UUID, i6 INET6, n INT NULL
) ENGINE=InnoDB";

const TYPES_ROWS: &[&str] = &[
    "INSERT INTO db1.types VALUES (1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295,
      9223372036854775807, 18446744073709551615,
      '12345678901234567890123456789012345.123456789012345678901234567890', 99999, 123456.7890,
      3.14159, 1.7976931348623157e308,
      '9999-12-31', '9999-12-31 23:59:59.999999', '2024-02-29 12:00:00', '2038-01-19 03:14:07.999999', '1970-01-01 00:00:01',
      '838:59:59.000000', '-00:00:00.5', '-12:34:56.78', '-838:59:59', 2155,
      b'1', b'1010101010', b'1111111111111111111111111111111111111111111111111111111111111111',
      'c', 'x,z', 'abc', 'emoji \u{1F600} ok', 'caf\u{e9}',
      x'00ff0a00', x'0001', REPEAT('t', 70000), REPEAT(x'ab', 70000), REPEAT('m', 300000), '{\"k\": [1, 2, null]}',
      ST_GeomFromText('LINESTRING(0 0, 1 1, 2 0)'), ST_GeomFromText('POINT(1.5 -2.5)', 4326), 'd\u{e9}j\u{e0}',
      '00000000-0000-0000-0000-000000000000', '::1', NULL)",
    "INSERT INTO db1.types VALUES (2, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0,
      -9223372036854775808, 0,
      '-0.000000000000000000000000000001', -99999, 0,
      -0.0, -2.2250738585072014e-308,
      '1000-01-01', '1000-01-01 00:00:00.000001', '1000-01-01 00:00:00', '1970-01-01 00:00:01.000001', '2038-01-19 03:14:07',
      '-838:59:59.000000', '00:00:00.1', '-00:00:00.01', '00:00:00', 1901,
      b'0', b'0', b'0',
      'a', '', '', '', '',
      x'00000000', '', '', '', '', '[]',
      ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('POINT(0 0)'), '',
      'ffffffff-ffff-ffff-ffff-ffffffffffff', '2001:db8::ff00:42:8329', -1)",
    // Zero dates, YEAR 0 and NULLs everywhere they are allowed.
    "INSERT INTO db1.types (id, dt, dtm, dtm0, ts, ts0, y, tm, e, s) VALUES
      (3, '0000-00-00', '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', 0, NULL, NULL, NULL),
      (4, '2024-00-00', '2024-01-00 10:00:00.5', NULL, NULL, NULL, NULL, '-00:00:00.000001', 'b', 'x,y,z')",
];

const UPDATES: &[&str] = &[
    "UPDATE db1.types SET ti = ti - 1, vc = CONCAT(vc, '!'), tm1 = '-00:00:01.5', y = 0, n = 7 WHERE id = 1",
    "UPDATE db1.types SET d1 = -d1, f = f * 2, js = '{\"a\": 1}', e = 'b' WHERE id IN (2, 3)",
];

/// The SELECT list that returns each column in a form comparable with the
/// THL value: ENUM/SET as numbers, character columns as their raw bytes.
fn select_list(columns: &[ColumnSpec]) -> String {
    columns
        .iter()
        .map(|c| match c.type_code {
            247 | 248 => format!("`{}` + 0", c.name),
            // UUID and INET6 travel as their 16-byte binary form.
            _ if c.name == "uu" || c.name == "i6" => format!("CAST(`{}` AS BINARY(16))", c.name),
            15 | 253 | 254 | 252 if c.collation.is_some_and(|id| id != 63) => format!("CAST(`{}` AS BINARY)", c.name),
            _ => format!("`{}`", c.name),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn snapshot(db: &Instance, columns: &[ColumnSpec]) -> BTreeMap<i64, Vec<mysql_async::Value>> {
    let mut conn = mysql_async::Conn::new(db.root_opts()).await.expect("connect");
    conn.query_drop("SET time_zone = '+00:00'").await.expect("tz");
    let sql = format!("SELECT {} FROM db1.types ORDER BY id", select_list(columns));
    // exec: the binary protocol, so values arrive typed and exact.
    let rows: Vec<mysql_async::Row> = conn.exec(sql, ()).await.expect("select");
    let _ = conn.disconnect().await;
    rows.into_iter()
        .map(|r| {
            let values = r.unwrap();
            let id = match &values[0] {
                mysql_async::Value::Int(i) => *i,
                other => panic!("id is {other:?}"),
            };
            (id, values)
        })
        .collect()
}

/// Whether a THL value equals what the source's SELECT returned.
fn same(thl: &Value, col: &ColumnSpec, sql: &mysql_async::Value) -> bool {
    use mysql_async::Value as S;
    match (thl, sql) {
        (Value::Null, S::NULL) => true,
        (Value::Int(a), S::Int(b)) => a == b,
        (Value::Int(a), S::UInt(b)) => u64::try_from(*a).ok() == Some(*b),
        (Value::UInt(a), S::UInt(b)) => a == b,
        (Value::UInt(a), S::Int(b)) => u64::try_from(*b).ok() == Some(*a),
        (Value::Float(a), S::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::Double(a), S::Double(b)) => a.to_bits() == b.to_bits(),
        (Value::Decimal(a), S::Bytes(b)) => a.as_bytes() == b.as_slice(),
        (Value::Date(d), S::Date(y, m, dd, 0, 0, 0, 0)) => (d.year, d.month, d.day) == (*y, *m, *dd),
        (Value::DateTime(d), S::Date(y, m, dd, h, mi, s, us)) => {
            (d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros) == (*y, *m, *dd, *h, *mi, *s, *us)
        }
        (Value::Timestamp { secs: 0, micros: 0 }, S::Date(0, 0, 0, 0, 0, 0, 0)) => true,
        (Value::Timestamp { secs, micros }, S::Date(..)) => timestamp_text(*secs, *micros) == date_text(sql),
        (Value::Time(t), S::Time(neg, days, h, m, s, us)) => {
            let hours = *days * 24 + u32::from(*h);
            let zero = hours == 0 && *m == 0 && *s == 0 && *us == 0;
            (t.negative == *neg || zero) && (u32::from(t.hours), t.minutes, t.seconds, t.micros) == (hours, *m, *s, *us)
        }
        (Value::Year(y), S::Int(b)) => i64::from(*y) == *b,
        (Value::Year(y), S::UInt(b)) => u64::from(*y) == *b,
        (Value::Bit(v), S::Bytes(b)) => {
            let width = usize::from(col.type_meta >> 8) + usize::from(col.type_meta & 0xff).div_ceil(8);
            let be = v.to_be_bytes();
            be[8 - width.min(8)..] == b[..]
        }
        (Value::Enum(i), S::Int(b)) => i64::from(*i) == *b,
        (Value::Enum(i), S::UInt(b)) => u64::from(*i) == *b,
        (Value::Enum(i), S::Double(b)) => f64::from(*i) == *b,
        (Value::Set(m), S::Int(b)) => i64::try_from(*m).ok() == Some(*b),
        (Value::Set(m), S::UInt(b)) => m == b,
        (Value::Set(m), S::Double(b)) => (*m as f64) == *b,
        (Value::Bytes(a), S::Bytes(b)) => a == b,
        _ => false,
    }
}

fn date_text(v: &mysql_async::Value) -> String {
    match v {
        mysql_async::Value::Date(y, m, d, h, mi, s, us) => {
            format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
        }
        other => format!("{other:?}"),
    }
}

/// A UTC date-time from Unix seconds (civil-from-days, no dependency).
fn timestamp_text(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{micros:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The values of one image keyed by column index.
fn image(r: &RowChanges, values: &[Value], before: bool) -> BTreeMap<u16, Value> {
    let cols = if before { &r.before_columns } else { &r.after_columns };
    cols.iter().copied().zip(values.iter().cloned()).collect()
}

fn assert_image_matches(r: &RowChanges, img: &BTreeMap<u16, Value>, source: &[mysql_async::Value], what: &str) {
    for (idx, value) in img {
        let col = &r.columns[usize::from(*idx)];
        let sql = &source[usize::from(*idx)];
        assert!(
            same(value, col, sql),
            "{what}: column {} ({} type {}): THL {value:?} != source {sql:?}",
            col.name,
            col.type_desc,
            col.type_code
        );
    }
}

fn id_of(img: &BTreeMap<u16, Value>) -> i64 {
    match img.get(&0) {
        Some(Value::Int(i)) => *i,
        other => panic!("id is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_and_dml_match_the_source_value_by_value() {
    let m = Master::start(&[]).await;
    let db = m.db();
    db.exec("CREATE DATABASE db1").await.expect("create db");
    db.exec(TYPES_DDL).await.expect("create table");
    let mut process = m.replicator();
    db.exec("SET SESSION sql_mode = ''").await.ok();
    let mut conn = mysql_async::Conn::new(db.root_opts()).await.expect("connect");
    conn.query_drop("SET SESSION sql_mode = '', time_zone = '+00:00'")
        .await
        .expect("session");
    for sql in TYPES_ROWS {
        conn.query_drop(*sql).await.expect("insert");
    }
    // Multi-row insert of the same values under new ids.
    conn.query_drop("INSERT INTO db1.types SELECT id + 10, ti, uti, si, usi, mi, umi, i, ui, bi, ubi, d1, d2, d3, f, db, dt, dtm, dtm0, ts, ts0, tm, tm1, tm2, tm0, y, b1, b10, b64, e, s, c, vc, l1, bn, vb, tx, bl, mb, js, g, pt, u8, uu, i6, n FROM db1.types")
        .await
        .expect("multi-row insert");
    let events = m.drained_thl(&mut process).await;
    let inserts: Vec<&RowChanges> = rows_of(&events, "types").collect();
    let columns = inserts.first().expect("row events for db1.types").columns.clone();
    assert!(
        columns.iter().all(|c| !c.name.is_empty()),
        "column names travel in the event"
    );
    assert!(columns[0].key, "the primary key travels in the event");
    let after_inserts = snapshot(db, &columns).await;

    for sql in UPDATES {
        conn.query_drop(*sql).await.expect("update");
    }
    let after_updates = snapshot(db, &columns).await;
    conn.query_drop("DELETE FROM db1.types WHERE id IN (2, 11)")
        .await
        .expect("delete");
    let _ = conn.disconnect().await;
    let events = m.drained_thl(&mut process).await;

    let mut seen = [0usize; 3];
    for r in rows_of(&events, "types") {
        for row in &r.rows {
            match r.action {
                RowAction::Insert => {
                    let after = image(r, &row.after, false);
                    assert_image_matches(r, &after, &after_inserts[&id_of(&after)], "INSERT");
                    seen[0] += 1;
                }
                RowAction::Update => {
                    let before = image(r, &row.before, true);
                    let after = image(r, &row.after, false);
                    assert_image_matches(r, &before, &after_inserts[&id_of(&before)], "UPDATE before");
                    assert_image_matches(r, &after, &after_updates[&id_of(&after)], "UPDATE after");
                    seen[1] += 1;
                }
                RowAction::Delete => {
                    let before = image(r, &row.before, true);
                    assert_image_matches(r, &before, &after_updates[&id_of(&before)], "DELETE");
                    seen[2] += 1;
                }
            }
        }
    }
    assert_eq!(seen, [8, 3, 2], "rows inserted, updated, deleted");
    let codes = process.terminate(Duration::from_secs(20));
    assert_eq!(codes, Some(0), "SIGTERM stops cleanly:\n{}", process.log_tail(20));
}

// ---------------------------------------------------------------------------
// DDL.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddl_is_stored_in_order_and_rows_follow_the_new_definitions() {
    let m = Master::start(&[]).await;
    let mut process = m.replicator();
    let db = m.db();
    for sql in [
        "CREATE DATABASE d",
        "CREATE TABLE d.t (id INT PRIMARY KEY, a INT)",
        "INSERT INTO d.t VALUES (1, 1)",
        "ALTER TABLE d.t ADD COLUMN b VARCHAR(10)",
        "INSERT INTO d.t VALUES (2, 2, 'two')",
        "ALTER TABLE d.t DROP COLUMN a",
        "INSERT INTO d.t VALUES (3, 'three')",
        "ALTER TABLE d.t RENAME COLUMN b TO c",
        "INSERT INTO d.t VALUES (4, 'four')",
        "RENAME TABLE d.t TO d.u",
        "INSERT INTO d.u VALUES (5, 'five')",
        "TRUNCATE TABLE d.u",
        "DROP TABLE d.u",
    ] {
        db.exec(sql).await.expect(sql);
    }
    let events = m.drained_thl(&mut process).await;
    let ddl: Vec<String> = events
        .iter()
        .filter(|e| e.body.metadata_value(meta::SCHEMA_CHANGE) == Some("true"))
        .flat_map(|e| statements(std::slice::from_ref(e)))
        .collect();
    let expected = [
        "CREATE DATABASE",
        "CREATE TABLE",
        "ADD COLUMN",
        "DROP COLUMN",
        "RENAME COLUMN",
        "RENAME TABLE",
        "TRUNCATE",
        "DROP TABLE",
    ];
    assert_eq!(ddl.len(), expected.len(), "{ddl:#?}");
    for (stmt, word) in ddl.iter().zip(expected) {
        assert!(stmt.contains(word), "{stmt} should contain {word}");
    }
    let names: Vec<Vec<String>> = events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(|c| match c {
            Change::Rows(r) => Some(r.columns.iter().map(|c| c.name.clone()).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        vec![
            vec!["id", "a"],
            vec!["id", "a", "b"],
            vec!["id", "b"],
            vec!["id", "c"],
            vec!["id", "c"]
        ],
        "each row is described by the definition in force at its position"
    );
    let seqnos: Vec<i64> = events.iter().map(|e| e.header.seqno.0).collect();
    assert!(seqnos.windows(2).all(|w| w[1] == w[0] + 1), "dense seqnos: {seqnos:?}");
    process.terminate(Duration::from_secs(20));
}

// ---------------------------------------------------------------------------
// A large transaction.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200k_row_transaction_is_fragmented_with_bounded_memory() {
    let m = Master::start(&[]).await;
    let db = m.db();
    db.exec("CREATE DATABASE big").await.expect("db");
    db.exec("CREATE TABLE big.t (id INT PRIMARY KEY, v VARCHAR(40))")
        .await
        .expect("table");
    let mut process = m.replicator();
    db.exec("INSERT INTO big.t SELECT seq, CONCAT('row-', seq, '-padding-padding') FROM big.seq_1_to_200000")
        .await
        .expect("big insert");
    let events = m.drained_thl(&mut process).await;
    let big: Vec<&ReplEvent> = events
        .iter()
        .filter(|e| e.header.shard_id == "big" && !e.body.changes.is_empty())
        .collect();
    let last = big.last().expect("the big transaction");
    let frags: Vec<&&ReplEvent> = big.iter().filter(|e| e.header.seqno == last.header.seqno).collect();
    let sizes: Vec<(u16, usize)> = frags.iter().map(|e| (e.header.fragno, e.body.changes.len())).collect();
    assert!(frags.len() > 5, "fragmented: {} fragments: {sizes:?}", frags.len());
    assert!(
        frags.iter().enumerate().all(|(i, e)| usize::from(e.header.fragno) == i),
        "fragnos dense from 0"
    );
    assert!(frags.iter().rev().skip(1).all(|e| !e.header.last_frag) && last.header.last_frag);
    let rows: usize = rows_of(&events, "t").map(|r| r.rows.len()).sum();
    assert_eq!(rows, 200_000);
    let peak = process.peak_rss_kib().expect("peak RSS");
    assert!(
        peak < 200 * 1024,
        "extractor peak RSS {peak} KiB: memory must stay bounded by fragments"
    );
    process.terminate(Duration::from_secs(20));
}

// ---------------------------------------------------------------------------
// Statement-based events and MyISAM.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_and_mixed_formats_carry_their_session_state() {
    let m = Master::start(&[]).await;
    let mut process = m.replicator();
    let mut conn = mysql_async::Conn::new(m.db().root_opts()).await.expect("connect");
    for sql in [
        "CREATE DATABASE s",
        "CREATE TABLE s.t (id INT AUTO_INCREMENT PRIMARY KEY, r DOUBLE, u VARCHAR(20), ts DATETIME(6))",
        "CREATE TABLE s.m (id INT PRIMARY KEY, v INT) ENGINE=MyISAM",
        "SET SESSION binlog_format = 'STATEMENT'",
        "SET @who = 'stmt-user'",
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES', time_zone = '+02:00', foreign_key_checks = 0",
        "INSERT INTO s.t (r, u, ts) VALUES (RAND(), @who, NOW(6))",
        "SET SESSION binlog_format = 'MIXED'",
        "INSERT INTO s.t (r, u, ts) VALUES (1.5, @who, NOW(6))",
        "SET SESSION binlog_format = 'ROW'",
        "INSERT INTO s.m VALUES (1, 10), (2, 20)",
        "UPDATE s.m SET v = v + 1",
    ] {
        conn.query_drop(sql).await.expect(sql);
    }
    let _ = conn.disconnect().await;
    let events = m.drained_thl(&mut process).await;
    let inserts: Vec<&thl::event::Statement> = events
        .iter()
        .flat_map(|e| &e.body.changes)
        .filter_map(|c| match c {
            Change::Statement(s) if s.sql.starts_with(b"INSERT INTO s.t") => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(inserts.len(), 2, "both statement-format inserts are statements");
    let first = &inserts[0].session;
    assert_eq!(first.insert_id, Some(1), "INSERT_ID travels with the statement");
    assert!(first.rand_seeds.is_some(), "RAND seeds travel with the statement");
    assert!(first
        .user_vars
        .iter()
        .any(|u| u.name == "who" && u.value == Value::Bytes(b"stmt-user".to_vec())));
    assert_eq!(first.time_zone.as_deref(), Some("+02:00"));
    assert_eq!(first.foreign_key_checks, Some(false));
    assert!(first.sql_mode.is_some() && first.timestamp_us.is_some_and(|t| t % 1_000_000 != 0 || t > 0));
    assert_eq!(inserts[0].default_db, None);
    let myisam: usize = rows_of(&events, "m").map(|r| r.rows.len()).sum();
    assert_eq!(myisam, 4, "MyISAM rows (2 inserted, 2 updated) are extracted");
    process.terminate(Duration::from_secs(20));
}

// ---------------------------------------------------------------------------
// A purged binlog.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binlog_purged_past_the_resume_point_stops_with_the_positions() {
    let m = Master::start(&[]).await;
    let db = m.db();
    let mut process = m.replicator();
    db.exec("CREATE DATABASE p").await.expect("db");
    m.drained_thl(&mut process).await;
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));
    db.exec("CREATE TABLE p.t (id INT PRIMARY KEY)").await.expect("table");
    db.exec("FLUSH BINARY LOGS").await.expect("flush");
    let current = db.query("SHOW MASTER STATUS").await.expect("status")[0][0].clone();
    // PURGE skips a log that a (not yet reaped) dump thread still reads:
    // retry until the old log is really gone.
    let deadline = Instant::now() + WAIT;
    loop {
        db.exec(&format!("PURGE BINARY LOGS TO '{current}'"))
            .await
            .expect("purge");
        let logs = db.query("SHOW BINARY LOGS").await.expect("binlogs");
        if logs.iter().all(|l| l[0] != m.first_binlog) {
            break;
        }
        assert!(Instant::now() < deadline, "{} was not purged: {logs:?}", m.first_binlog);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The service goes OFFLINE:ERROR (the process stays up for the
    // operator) with a message naming the needed and available positions.
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
        log.contains(&m.first_binlog) && log.contains(&current),
        "names needed and available positions:\n{log}"
    );
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));
}

// ---------------------------------------------------------------------------
// SIGKILL at random moments.

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loop_leaves_each_transaction_exactly_once() {
    let seed: u64 = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    let iterations: usize = std::env::var("KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    eprintln!("kill loop: seed {seed:#x}, {iterations} iterations (replay with KILL_SEED)");
    let mut rng = Rng(seed);
    let m = Master::start(&[]).await;
    let db = m.db();
    db.exec("CREATE DATABASE k").await.expect("db");
    db.exec("CREATE TABLE k.c (id INT PRIMARY KEY, n BIGINT)")
        .await
        .expect("counter");
    db.exec("INSERT INTO k.c VALUES (1, 0)").await.expect("row");
    db.exec("CREATE TABLE k.log (id INT AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(200))")
        .await
        .expect("log");
    // One row per writer transaction in a table without a key: a
    // transaction stored twice shows as a duplicate value.
    db.exec("CREATE TABLE k.ledger (n BIGINT)").await.expect("ledger");

    let writer_opts = db.root_opts();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let writer = tokio::spawn(async move {
        let mut conn = mysql_async::Conn::new(writer_opts).await.expect("writer connects");
        let mut n = 0u64;
        while !*stop_rx.borrow_and_update() {
            let tx = format!(
                "BEGIN; UPDATE k.c SET n = n + 1 WHERE id = 1; INSERT INTO k.log (payload) VALUES (REPEAT('p', 150)); \
                 INSERT INTO k.ledger VALUES ({n}); COMMIT"
            );
            conn.query_drop(tx).await.expect("writer transaction");
            n += 1;
            if n % 50 == 0 {
                conn.query_drop("INSERT INTO k.log (payload) SELECT REPEAT('bulk', 40) FROM k.seq_1_to_3000")
                    .await
                    .expect("bulk");
            }
        }
        n
    });

    for i in 0..iterations {
        let mut process = m.replicator();
        tokio::time::sleep(Duration::from_millis(100 + rng.below(900))).await;
        assert!(
            process.exited().is_none(),
            "iteration {i}: replicator died by itself:\n{}",
            process.log_tail(30)
        );
        process.kill();
    }
    let _ = stop_tx.send(true);
    let writes = writer.await.expect("writer");
    assert!(writes > 0);

    let mut process = m.replicator();
    let events = m.drained_thl(&mut process).await;
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));

    // Oracle (b): dense seqnos, each GTID once, epochs never decreasing,
    // whole transactions, every CRC valid.
    let reader = thl::store::Reader::open(m.thl_dir()).expect("reader");
    let report = reader.verify().expect("verify");
    eprintln!("{report:?}");
    let mut seqno = events.first().map(|e| e.header.seqno.0).expect("events");
    assert_eq!(seqno, 0);
    let mut gtids = HashSet::new();
    let mut epoch = 0;
    let mut expected_frag = 0u16;
    for e in &events {
        let h = &e.header;
        assert_eq!(
            (h.seqno.0, h.fragno),
            (seqno, expected_frag),
            "dense seqnos and fragnos"
        );
        assert!(h.epoch.0 >= epoch, "epochs never decrease at seqno {}", h.seqno);
        epoch = h.epoch.0;
        if h.last_frag {
            let gtid = e.body.metadata_value(meta::GTID).expect("gtid").to_owned();
            assert!(gtids.insert(gtid.clone()), "GTID {gtid} stored twice");
            seqno += 1;
            expected_frag = 0;
        } else {
            expected_frag += 1;
        }
    }
    let source_txns = m.source_transactions().await;
    assert_eq!(gtids.len() as i64, source_txns, "every source transaction exactly once");
    let counter_updates = rows_of(&events, "c")
        .filter(|r| r.action == RowAction::Update)
        .map(|r| r.rows.len())
        .sum::<usize>();
    let n = m
        .db()
        .query_value("SELECT n FROM k.c")
        .await
        .expect("n")
        .unwrap_or_default();
    assert_eq!(
        counter_updates.to_string(),
        n,
        "counter updates in the THL equal the counter"
    );
    let ledger: Vec<String> = rows_of(&events, "ledger")
        .filter(|r| r.action == RowAction::Insert)
        .flat_map(|r| r.rows.iter().map(|row| format!("{:?}", row.after)))
        .collect();
    let distinct: HashSet<&String> = ledger.iter().collect();
    assert_eq!(
        (ledger.len() as u64, distinct.len() as u64),
        (writes, writes),
        "ledger rows in the THL = distinct rows = writer transactions"
    );
    let epochs: HashSet<i64> = events.iter().map(|e| e.header.epoch.0).collect();
    assert!(epochs.len() > 1, "each restart starts a new epoch");
    assert!(wait_for_thl_seqno(&m.thl_dir(), seqno - 1, Duration::from_secs(1)).is_some());
}

// ---------------------------------------------------------------------------
// Regenerating a THL from a binlog position with a seqno base.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_from_event_with_base_seqno_numbers_from_the_base() {
    let m = Master::start(&[]).await;
    m.db().exec("CREATE DATABASE b").await.expect("db");
    m.db()
        .exec("CREATE TABLE b.t (id INT PRIMARY KEY)")
        .await
        .expect("table");
    let mut process = m.deployment.start(HOST, &["--offline"]).expect("replicator starts");
    let from = format!("{}:4", m.first_binlog);
    let deadline = Instant::now() + WAIT;
    let out = loop {
        let out = std::process::Command::new(tests::process::workspace_bin("trepctl").expect("trepctl"))
            .arg("--config")
            .arg(m.deployment.ini())
            .arg("--hosts-file")
            .arg(m.deployment.hosts_file())
            .args(["-host", HOST, "online", "-from-event", &from, "-base-seqno", "99"])
            .output()
            .expect("trepctl runs");
        if out.status.success() {
            break out;
        }
        // The REST API may not be listening yet.
        assert!(
            Instant::now() < deadline,
            "trepctl online: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(out.status.success());
    let events = m.drained_thl(&mut process).await;
    assert_eq!(
        events.first().map(|e| e.header.seqno.0),
        Some(100),
        "the first transaction is base + 1"
    );
    assert_eq!(
        events.first().map(|e| e.header.epoch.0),
        Some(100),
        "and so is the epoch"
    );
    assert_eq!(process.terminate(Duration::from_secs(20)), Some(0));
}

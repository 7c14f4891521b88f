//! Statement replay fidelity of the applier against a real MariaDB (one
//! sandbox instance per test): each statement under its own session, the
//! applier's own statements under an ASCII-safe one, MariaDB's verdicts on
//! source/target errors, and DDL that must not wait on its own session.
//!
//! Run: `cargo test -p tests --test applier_statements -- --test-threads=1`

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use replicator::applier::Applier;
use tests::apply_support::*;
use tests::sandbox::Instance;
use thl::event::{meta, Change, SessionVars, Statement};

/// A statement change with the given session.
fn stmt_in(sql: &[u8], session: SessionVars, error_code: u16) -> Change {
    Change::Statement(Statement {
        default_db: Some(DB.into()),
        sql: sql.to_vec(),
        session,
        error_code,
        infile: None,
    })
}

/// The utf8 session with another client/connection collation.
fn session(client: u16, connection: u16) -> SessionVars {
    SessionVars {
        charset_client: Some(client),
        collation_connection: Some(connection),
        ..utf8_session()
    }
}

async fn hex_rows(i: &Instance, sql: &str) -> Vec<(String, String)> {
    values(i, sql).await
}

async fn create_db(a: &mut Applier) {
    apply(
        a,
        &event(
            0,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt(None, &format!("CREATE DATABASE {DB}"))],
        ),
    )
    .await;
}

/// Item 5 and 6: `SET NAMES latin1; CREATE TABLE ..; SET NAMES utf8mb4;
/// INSERT .. 'gås'` and the variants the source logs: each statement under
/// its own charsets, collation ids that are not a charset's default
/// (47 = latin1_bin), a ucs2 connection collation; and the applier's own
/// statements after it (row changes, heartbeat, position) still work.
#[tokio::test]
async fn every_statement_runs_under_its_own_charsets() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    let latin1 = SessionVars {
        collation_server: Some(8),
        ..session(8, 8)
    };
    apply(
        &mut a,
        &event(
            1,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt_in(
                b"CREATE TABLE t1 (a INT PRIMARY KEY, b VARCHAR(10) CHARACTER SET utf8mb4)",
                latin1.clone(),
                0,
            )],
        ),
    )
    .await;
    apply(&mut a, &ddl(2, SIMPLE_TABLE)).await;
    // 'gås' in UTF-8 under utf8mb4, in latin1 under latin1 and latin1_bin.
    let gas_utf8 = "INSERT INTO t1 VALUES (1,'gås')".as_bytes().to_vec();
    let mut gas_latin1 = b"INSERT INTO t1 VALUES (2,'g".to_vec();
    gas_latin1.extend([0xE5, b's', b'\'', b')']);
    let mut gas_latin1_bin = b"INSERT INTO t1 VALUES (3,'g".to_vec();
    gas_latin1_bin.extend([0xE5, b's', b'\'', b')']);
    apply(&mut a, &event(3, &[], vec![stmt_in(&gas_utf8, session(45, 45), 0)])).await;
    apply(&mut a, &event(4, &[], vec![stmt_in(&gas_latin1, latin1, 0)])).await;
    apply(
        &mut a,
        &event(5, &[], vec![stmt_in(&gas_latin1_bin, session(47, 47), 0)]),
    )
    .await;
    // utf8mb4 client, ucs2 connection (`SET collation_connection=ucs2_general_ci`).
    apply(
        &mut a,
        &event(
            6,
            &[],
            vec![stmt_in(
                "INSERT INTO t1 VALUES (4,'gås')".as_bytes(),
                session(45, 35),
                0,
            )],
        ),
    )
    .await;
    // Then the applier's own statements: a row change, a heartbeat, the
    // position (all after the ucs2 statement, in one block).
    apply(&mut a, &insert_event(7, 1, "x")).await;
    apply(&mut a, &event(8, &[(meta::HEARTBEAT, "hb")], vec![])).await;
    // And a statement again, after the row context.
    apply(
        &mut a,
        &event(
            9,
            &[],
            vec![stmt_in(
                "INSERT INTO t1 VALUES (5,'gås')".as_bytes(),
                session(45, 45),
                0,
            )],
        ),
    )
    .await;
    flush(&mut a).await;
    let got = hex_rows(i, &format!("SELECT CAST(a AS CHAR), HEX(b) FROM {DB}.t1 ORDER BY a")).await;
    let want: Vec<(String, String)> = (1..=5).map(|n| (n.to_string(), "67C3A573".to_owned())).collect();
    assert_eq!(got, want, "every row holds 'gås' in utf8mb4");
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t WHERE id=1")).await, 1);
    assert_eq!(position(i).await[0], "9");
}

/// Item 5 (rest): values a statement leaves on the session and the next
/// one's event does not carry are the source's defaults, not the previous
/// statement's: auto_increment_increment/offset (absent = 1/1),
/// lc_time_names (absent = en_US), collation_database (absent = the
/// database's own).
#[tokio::test]
async fn absent_session_values_are_the_source_defaults() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    apply(
        &mut a,
        &ddl(
            1,
            "CREATE TABLE ai (id INT AUTO_INCREMENT PRIMARY KEY, m VARCHAR(20), cdb VARCHAR(40), inc VARCHAR(20)) ENGINE=InnoDB",
        ),
    )
    .await;
    let special = SessionVars {
        auto_increment_increment: Some(10),
        auto_increment_offset: Some(3),
        lc_time_names: Some(4), // de_DE
        collation_database: Some(47),
        ..utf8_session()
    };
    let sql = b"INSERT INTO ai (m, cdb, inc) VALUES (MONTHNAME('2020-03-01'), @@collation_database, \
        CONCAT(@@auto_increment_increment, '/', @@auto_increment_offset))";
    apply(&mut a, &event(2, &[], vec![stmt_in(sql, special, 0)])).await;
    apply(&mut a, &event(3, &[], vec![stmt_in(sql, utf8_session(), 0)])).await;
    flush(&mut a).await;
    let mut c = checker(i).await;
    let got: Vec<(i64, String, String, String)> = c
        .query(format!("SELECT id, m, cdb, inc FROM {DB}.ai ORDER BY id"))
        .await
        .expect("rows");
    let default_cdb: Option<String> = c
        .query_first(format!(
            "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='{DB}'"
        ))
        .await
        .expect("schema");
    c.disconnect().await.expect("disconnect");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].0, got[0].1.as_str(), got[0].2.as_str(), got[0].3.as_str()),
        (3, "März", "latin1_bin", "10/3")
    );
    assert_eq!((got[1].1.as_str(), got[1].3.as_str()), ("March", "1/1"), "{got:?}");
    assert_eq!(Some(got[1].2.clone()), default_cdb);
}

/// Item 10: DROPs of missing objects as the source logs them, and the
/// "expected error" of a query event.
#[tokio::test]
async fn missing_objects_and_expected_errors_follow_mariadb() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    apply(&mut a, &ddl(1, SIMPLE_TABLE)).await;
    apply(&mut a, &ddl(2, "CREATE TABLE t2 (a INT)")).await;
    // `DROP TABLE t2, no_such_table` as logged (error 0): t2 is dropped.
    apply(
        &mut a,
        &ddl(3, "DROP TABLE `t2`,`no_such_table` /* generated by server */"),
    )
    .await;
    assert_eq!(
        count(
            i,
            &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='{DB}' AND TABLE_NAME='t2'")
        )
        .await,
        0
    );
    apply(&mut a, &ddl(4, "CREATE SEQUENCE s1")).await;
    apply(
        &mut a,
        &ddl(5, "DROP SEQUENCE `s1`,`nosuchseq` /* generated by server */"),
    )
    .await;
    apply(&mut a, &ddl(6, "DROP TEMPORARY TABLE `tt` /* generated by server */")).await;
    apply(
        &mut a,
        &event(
            7,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt(None, &format!("/* c */ CREATE DATABASE {DB}"))],
        ),
    )
    .await;
    apply(&mut a, &ddl(8, "DROP DATABASE IF EXISTS nosuchdb")).await;
    apply(
        &mut a,
        &event(
            9,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt(None, "DROP DATABASE nosuchdb")],
        ),
    )
    .await;
    // CREATE TABLE over an existing one is not a missing object: it stops.
    let err = apply_err(&mut a, &ddl(10, "CREATE TABLE t (id INT)")).await;
    assert_eq!(err.code(), Some(1050), "{err}");
    assert!(!err.is_transient());
    apply(&mut a, &event(10, &[], vec![])).await;

    // The source failed with a duplicate key (1062): the same on the
    // target is tolerated; an equal one (1062 for 1586) too.
    apply(&mut a, &insert_event(11, 1, "one")).await;
    let dup = stmt_in(b"INSERT INTO t VALUES (1, 'again')", utf8_session(), 1062);
    apply(&mut a, &event(12, &[], vec![dup])).await;
    let dup_named = stmt_in(b"INSERT INTO t VALUES (1, 'again')", utf8_session(), 1586);
    apply(&mut a, &event(13, &[], vec![dup_named])).await;
    flush(&mut a).await;
    // The source failed but the target succeeds: divergence, definite.
    let diverged = stmt_in(b"INSERT INTO t VALUES (2, 'two')", utf8_session(), 1062);
    let err = apply_err(&mut a, &event(14, &[], vec![diverged])).await;
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("different outcomes"), "{err}");
    // Another error than the source's: definite, with both codes.
    let other = stmt_in(b"INSERT INTO no_such VALUES (2)", utf8_session(), 1062);
    let err = apply_err(&mut a, &event(14, &[], vec![other])).await;
    assert_eq!(err.code(), Some(1146), "{err}");
    assert!(err.to_string().contains("1062"), "{err}");
    // Interrupted on the source: not replayed, definite.
    let killed = stmt_in(b"INSERT INTO t VALUES (3, 'three')", utf8_session(), 1317);
    let err = apply_err(&mut a, &event(14, &[], vec![killed])).await;
    assert!(
        !err.is_transient() && err.to_string().contains("interrupted on the source"),
        "{err}"
    );
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 1);
    assert_eq!(position(i).await[0], "13");
}

/// Item 11: `ALTER TABLE .. EXCHANGE PARTITION` under the apply session's
/// `autocommit=0` waited for its own lock (1205, retried for ever).
/// main.ctype_utf8mb4_uca, ctype_utf8_uca: collation ids above 2047
/// (utf8mb4_uca1400_ai_ci = 2304, utf8mb3_uca1400_swedish_nopad_ai_ci =
/// 2116) that MariaDB 10.10+ lists only in COLLATION_CHARACTER_SET_APPLICABILITY:
/// `SET character_set_client=2304` is refused (1115), the charset's name is not.
#[tokio::test]
async fn collation_ids_of_uca1400_collations_are_named() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    apply(&mut a, &ddl(1, "CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(10) CHARACTER SET utf8mb4, w VARCHAR(64) CHARACTER SET utf8mb3)")).await;
    let sql =
        "INSERT INTO c VALUES (1, 'gås', 'gås'), (2, CONCAT('a', CHAR(0xC3A5 USING utf8mb4)), @@collation_connection)";
    apply(
        &mut a,
        &event(2, &[], vec![stmt_in(sql.as_bytes(), session(2304, 2304), 0)]),
    )
    .await;
    apply(
        &mut a,
        &event(
            3,
            &[],
            vec![stmt_in(b"INSERT INTO c VALUES (3, 'x', 'y')", session(2116, 2116), 0)],
        ),
    )
    .await;
    flush(&mut a).await;
    let got = hex_rows(i, &format!("SELECT HEX(v), w FROM {DB}.c ORDER BY id")).await;
    assert_eq!(
        got,
        vec![
            ("67C3A573".to_string(), "gås".to_string()),
            ("61C3A5".to_string(), "utf8mb4_uca1400_ai_ci".to_string()),
            ("78".to_string(), "y".to_string()),
        ]
    );
}

/// binlog.binlog_row_drop_tmp_tbl: a temporary table of one source session
/// must not hide the base table of the same name from another session's
/// statements; CONNECTION_ID() is the source session's.
#[tokio::test]
async fn temporary_tables_belong_to_their_source_session() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    let thread = |id: u32| SessionVars {
        thread_id: Some(id),
        ..utf8_session()
    };
    apply(&mut a, &ddl(1, "CREATE TABLE t1 (a INT)")).await;
    let statements: [(u32, &[u8]); 6] = [
        (10, b"INSERT INTO t1 VALUES (1), (2), (CONNECTION_ID())"),
        (11, b"CREATE TEMPORARY TABLE t1 (b BLOB)"),
        (11, b"INSERT INTO t1 VALUES ('temp')"),
        (10, b"DELETE d1 FROM t1 AS d1 WHERE d1.a = 2"),
        (12, b"INSERT INTO t1 SELECT CONNECTION_ID()"),
        (11, b"DROP TEMPORARY TABLE IF EXISTS t1"),
    ];
    for (seqno, (id, sql)) in (2..).zip(statements) {
        apply(&mut a, &event(seqno, &[], vec![stmt_in(sql, thread(id), 0)])).await;
    }
    flush(&mut a).await;
    let got: Vec<i64> = values(i, &format!("SELECT a FROM {DB}.t1 ORDER BY a")).await;
    assert_eq!(got, vec![1, 10, 12]);
}

/// `XA ROLLBACK` of an xid that another session still holds prepared fails
/// with XAER_NOTA: that is not "already completed" (the transaction would
/// stay prepared with its locks), so it is retried; once the session is
/// gone it completes.
#[tokio::test]
async fn xa_completion_is_not_skipped_while_the_target_lists_it_prepared() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    apply(
        &mut a,
        &ddl(1, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB"),
    )
    .await;
    let mut holder = checker(i).await;
    holder
        .query_drop(format!(
            "XA START 'held'; INSERT INTO {DB}.t VALUES (1, 'held'); XA END 'held'; XA PREPARE 'held'"
        ))
        .await
        .expect("prepare on another session");
    let complete = |seqno: i64| {
        event(
            seqno,
            &[(meta::XA, meta::XA_COMPLETE), (meta::UNSAFE_FOR_BLOCK_COMMIT, "true")],
            vec![stmt_in(b"XA ROLLBACK X'68656c64',X'',1", utf8_session(), 0)],
        )
    };
    let err = apply_err(&mut a, &complete(2)).await;
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("lists the transaction as prepared"), "{err}");
    holder.disconnect().await.expect("disconnect");
    // The server detaches it once the session is closed (asynchronously).
    let mut done = false;
    for _ in 0..100 {
        a.reconnect().await.expect("reconnect");
        if a.apply(&complete(2)).await.is_ok() {
            done = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(done, "XA ROLLBACK never completed");
    flush(&mut a).await;
    let recovered: Vec<Row> = values(i, "XA RECOVER").await;
    assert!(recovered.is_empty(), "still prepared");
}

/// main.ctype_create: `USE d; ALTER DATABASE DEFAULT CHARACTER SET latin2`
/// names no database; the source logs it with `d` as the default, right
/// after `CREATE DATABASE d` (which the applier runs without `USE`, as
/// `CREATE OR REPLACE DATABASE`).
#[tokio::test]
async fn alter_database_without_a_name_alters_the_default_database() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    let db_event = |seqno: i64, sql: &str| event(seqno, &[(meta::SCHEMA_CHANGE, "true")], vec![stmt(Some(DB), sql)]);
    apply(
        &mut a,
        &db_event(0, &format!("CREATE DATABASE {DB} DEFAULT CHARACTER SET latin7")),
    )
    .await;
    apply(&mut a, &db_event(1, "ALTER DATABASE DEFAULT CHARACTER SET latin2")).await;
    // rpl.rpl_create_drop_db: logged with the new database as the default.
    let fresh = event(
        2,
        &[(meta::SCHEMA_CHANGE, "true")],
        vec![stmt(Some("db2"), "CREATE OR REPLACE DATABASE db2")],
    );
    apply(&mut a, &fresh).await;
    apply(
        &mut a,
        &event(
            3,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt(Some("db2"), "DROP DATABASE db2")],
        ),
    )
    .await;
    flush(&mut a).await;
    let charsets: Vec<String> = values(
        i,
        &format!("SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='{DB}'"),
    )
    .await;
    assert_eq!(charsets, vec!["latin2".to_string()]);
}

#[tokio::test]
async fn exchange_partition_does_not_wait_on_its_own_session() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    {
        // Fail fast if the DDL waits on a lock.
        let mut c = checker(i).await;
        c.query_drop("SET GLOBAL innodb_lock_wait_timeout=3, GLOBAL lock_wait_timeout=5")
            .await
            .expect("timeouts");
        c.disconnect().await.expect("disconnect");
    }
    let mut a = applier(i, config()).await;
    create_db(&mut a).await;
    apply(&mut a, &ddl(1, "CREATE TABLE t1 (a INT PRIMARY KEY) ENGINE=InnoDB")).await;
    apply(
        &mut a,
        &ddl(
            2,
            "CREATE TABLE t2 (a INT PRIMARY KEY) ENGINE=InnoDB PARTITION BY RANGE (a) \
             (PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN MAXVALUE)",
        ),
    )
    .await;
    apply(
        &mut a,
        &event(
            3,
            &[],
            vec![stmt_in(b"INSERT INTO t1 VALUES (1), (2)", utf8_session(), 0)],
        ),
    )
    .await;
    apply(
        &mut a,
        &ddl(4, "/* x */ ALTER TABLE t2 EXCHANGE PARTITION p0 WITH TABLE t1"),
    )
    .await;
    // The apply session is back in autocommit=0: a following statement and
    // its position commit together.
    apply(
        &mut a,
        &event(5, &[], vec![stmt_in(b"INSERT INTO t2 VALUES (50)", utf8_session(), 0)]),
    )
    .await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t2")).await, 3);
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t1")).await, 0);
    assert_eq!(position(i).await[0], "5");
}

/// Parallel apply, main.type_date at 8 channels: a channel whose session
/// selected `test` keeps the name while another channel drops `test`; a
/// stored function (or an `information_schema` query that opens every view)
/// run meanwhile leaves that session with no database at all (MariaDB's
/// forced switch back to a missing database), silently. Once `test` exists
/// again, a statement in it must select it again, not trust the name (it
/// failed with 1046, No database selected).
#[tokio::test]
async fn a_database_dropped_by_another_channel_is_selected_again() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut other = applier(i, config()).await;
    let mut a = applier(i, replicator::applier::ApplierConfig { channel: 1, ..config() }).await;
    create_db(&mut other).await;
    let mut c = checker(i).await;
    c.query_drop(
        "CREATE DATABASE fns; CREATE TABLE fns.t (a INT); \
         CREATE FUNCTION fns.f() RETURNS INT DETERMINISTIC RETURN 1",
    )
    .await
    .expect("a function in another database");
    apply(&mut a, &ddl(1, "CREATE TABLE t1 (a INT)")).await;
    flush(&mut a).await;
    let db_event = |seqno: i64, sql: &str| event(seqno, &[(meta::SCHEMA_CHANGE, "true")], vec![stmt(Some(DB), sql)]);
    apply(&mut other, &db_event(1, &format!("DROP DATABASE {DB}"))).await;
    flush(&mut other).await;
    // A statement of a source session without a default database.
    apply(
        &mut a,
        &event(2, &[], vec![stmt(None, "INSERT INTO fns.t VALUES (fns.f())")]),
    )
    .await;
    flush(&mut a).await;
    apply(&mut other, &db_event(2, &format!("CREATE DATABASE {DB}"))).await;
    flush(&mut other).await;
    apply(&mut a, &ddl(3, "CREATE TABLE t2 (a INT)")).await;
    flush(&mut a).await;
    let tables: Vec<String> = values(
        i,
        &format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='{DB}'"),
    )
    .await;
    assert_eq!(tables, vec!["t2".to_string()]);
}

//! Row changes with the semantics of MariaDB's own replica (issue 8): the
//! applier sends them as `BINLOG` statements, so target triggers do not
//! fire, the rows event's foreign key flag is followed, values are stored
//! from their binary form, and a transaction the source rolled back is
//! rolled back. Against a real MariaDB.
//!
//! Run: `cargo test -p tests --test applier_rows -- --test-threads=2`

use replicator::applier::ApplyError;
use tests::apply_support::*;
use thl::event::{meta, Change, ColumnSpec, Date, DateTime, RowAction, RowFlags, Value};

/// `MYSQL_TYPE_*` codes used below.
const LONG: u8 = 3;
const VARCHAR: u8 = 15;
const DATETIME2: u8 = 18;
const DATE: u8 = 10;
const STRING: u8 = 254;

fn with_flags(mut change: Change, flags: RowFlags) -> Change {
    if let Change::Rows(rc) = &mut change {
        rc.flags = flags;
    }
    change
}

#[tokio::test]
async fn target_triggers_do_not_fire_for_replicated_rows() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &ddl(2, "CREATE TABLE audit (id INT) ENGINE=InnoDB")).await;
    apply(
        &mut a,
        &ddl(
            3,
            "CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.id)",
        ),
    )
    .await;
    // The source logged its trigger's row itself: one row for t, one for audit.
    let audit_cols = vec![col(0, "id", LONG, 0, false)];
    apply(
        &mut a,
        &event(
            4,
            &[],
            vec![
                rows_change("t", RowAction::Insert, &simple_cols(), vec![ins(simple_row(1, "a"))]),
                rows_change("audit", RowAction::Insert, &audit_cols, vec![ins(vec![Value::Int(1)])]),
            ],
        ),
    )
    .await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 1);
    assert_eq!(
        count(i, &format!("SELECT COUNT(*) FROM {DB}.audit")).await,
        1,
        "the target's trigger fired again"
    );
}

#[tokio::test]
async fn foreign_key_checks_follow_the_rows_event_flags() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(
        &mut a,
        &ddl(
            2,
            "CREATE TABLE child (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES t (id)) ENGINE=InnoDB",
        ),
    )
    .await;
    let cols = vec![col(0, "id", LONG, 0, true), col(1, "p", LONG, 0, false)];
    let orphan = |seqno, id, flags| {
        event(
            seqno,
            &[],
            vec![with_flags(
                rows_change(
                    "child",
                    RowAction::Insert,
                    &cols,
                    vec![ins(vec![Value::Int(id), Value::Int(99)])],
                ),
                flags,
            )],
        )
    };
    // The source ran with foreign_key_checks=0: the orphan row applies.
    let off = RowFlags {
        no_foreign_key_checks: true,
        relaxed_unique_checks: false,
        no_check_constraint_checks: false,
    };
    apply(&mut a, &orphan(3, 1, off)).await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.child")).await, 1);
    // With checks on (and the previous statement's session irrelevant), the
    // target refuses it, as the source would have.
    let err = apply_err(&mut a, &orphan(4, 2, RowFlags::default())).await;
    let ApplyError::Definite(d) = &err else {
        panic!("expected a definite error: {err}")
    };
    assert_eq!(d.code, Some(1452), "{err}");
    assert_eq!(d.seqno.map(|s| s.0), Some(4));
    assert!(
        err.to_string().contains("BINLOG (INSERT `apptest`.`child`: 1 row)"),
        "{err}"
    );
}

#[tokio::test]
async fn values_are_stored_exactly_whatever_the_session_and_sql_mode() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(
        &mut a,
        &ddl(
            2,
            "CREATE TABLE v (id INT PRIMARY KEY, l VARCHAR(10) CHARACTER SET latin1, \
             u VARCHAR(10) CHARACTER SET utf8mb4, d DATE, dt DATETIME(6), uu UUID, ip INET6) ENGINE=InnoDB",
        ),
    )
    .await;
    let latin1 = |c: ColumnSpec| ColumnSpec {
        collation: Some(8),
        ..c
    };
    let utf8 = |c: ColumnSpec| ColumnSpec {
        collation: Some(45),
        ..c
    };
    let binary16 = |c: ColumnSpec| ColumnSpec {
        collation: Some(63),
        ..c
    };
    let cols = vec![
        col(0, "id", LONG, 0, true),
        latin1(col(1, "l", VARCHAR, 10, false)),
        utf8(col(2, "u", VARCHAR, 40, false)),
        col(3, "d", DATE, 0, false),
        col(4, "dt", DATETIME2, 6, false),
        binary16(col(5, "uu", STRING, (u16::from(STRING) << 8) | 16, false)),
        binary16(col(6, "ip", STRING, (u16::from(STRING) << 8) | 16, false)),
    ];
    let mut v4 = vec![
        0x6c, 0xcd, 0x78, 0x0c, 0xba, 0xba, 0x40, 0x26, 0x9f, 0x88, 0x0c, 0x12, 0x3a, 0x4b, 0x5c, 0x6d,
    ];
    let mut loopback = vec![0u8; 16];
    loopback[15] = 1;
    let row = |id: i64, uu: Vec<u8>, ip: Vec<u8>| {
        vec![
            Value::Int(id),
            Value::Bytes(vec![b'g', 0xe5, b's']),
            Value::Bytes("gås".as_bytes().to_vec()),
            // Allowed by the source's ALLOW_INVALID_DATES.
            Value::Date(Date {
                year: 2001,
                month: 2,
                day: 29,
            }),
            Value::DateTime(DateTime {
                year: 0,
                month: 0,
                day: 0,
                hour: 0,
                minute: 0,
                second: 0,
                micros: 0,
            }),
            Value::Bytes(uu),
            Value::Bytes(ip),
        ]
    };
    // A previous statement left a ucs2 connection collation and a strict
    // sql_mode: row values do not depend on either.
    let mut ucs2 = stmt(Some(DB), "INSERT INTO t VALUES (100, 'x')");
    if let Change::Statement(s) = &mut ucs2 {
        s.session.collation_connection = Some(35);
        s.session.sql_mode = Some((1 << 21) | (1 << 22));
    }
    apply(
        &mut a,
        &event(
            3,
            &[],
            vec![
                ucs2,
                rows_change(
                    "v",
                    RowAction::Insert,
                    &cols,
                    vec![
                        ins(row(1, vec![0; 16], loopback.clone())),
                        ins(row(2, std::mem::take(&mut v4), loopback)),
                    ],
                ),
            ],
        ),
    )
    .await;
    flush(&mut a).await;
    let got = i
        .query(&format!(
            "SELECT id, HEX(l), HEX(u), CAST(d AS CHAR), CAST(dt AS CHAR), CAST(uu AS CHAR), CAST(ip AS CHAR) \
             FROM {DB}.v ORDER BY id"
        ))
        .await
        .expect("select");
    assert_eq!(
        got,
        vec![
            vec![
                "1".to_string(),
                "67E573".into(),
                "67C3A573".into(),
                "2001-02-29".into(),
                "0000-00-00 00:00:00.000000".into(),
                "00000000-0000-0000-0000-000000000000".into(),
                "::1".into(),
            ],
            vec![
                "2".to_string(),
                "67E573".into(),
                "67C3A573".into(),
                "2001-02-29".into(),
                "0000-00-00 00:00:00.000000".into(),
                "6ccd780c-baba-4026-9f88-0c123a4b5c6d".into(),
                "::1".into(),
            ],
        ]
    );
}

#[tokio::test]
async fn a_transaction_the_source_rolled_back_is_rolled_back() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &insert_event(2, 1, "kept")).await;
    // BEGIN; INSERT INTO t VALUES (2); CREATE TEMPORARY TABLE tt (a INT); ROLLBACK;
    apply(
        &mut a,
        &event(
            3,
            &[(meta::ROLLBACK, "true"), (meta::UNSAFE_FOR_BLOCK_COMMIT, "true")],
            vec![
                rows_change(
                    "t",
                    RowAction::Insert,
                    &simple_cols(),
                    vec![ins(simple_row(2, "undone"))],
                ),
                stmt(Some(DB), "CREATE TEMPORARY TABLE tt (a INT)"),
            ],
        ),
    )
    .await;
    apply(&mut a, &insert_event(4, 3, "after")).await;
    flush(&mut a).await;
    assert_eq!(
        i.query(&format!("SELECT id FROM {DB}.t ORDER BY id"))
            .await
            .expect("select"),
        vec![vec!["1".to_string()], vec!["3".to_string()]]
    );
    assert_eq!(position(i).await[0], "4");
}

#[tokio::test]
async fn an_apply_user_without_binlog_replay_is_refused_at_connect_naming_the_grant() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    i.exec(
        "CREATE USER 'weak'@'%' IDENTIFIED BY 'weak'; \
         GRANT ALL ON `tungsten_alpha`.* TO 'weak'@'%'; GRANT ALL ON `apptest`.* TO 'weak'@'%'; \
         GRANT BINLOG ADMIN ON *.* TO 'weak'@'%'",
    )
    .await
    .expect("create user");
    let opts = i.opts_builder().user(Some("weak")).pass(Some("weak"));
    let err = match bounded("connect", replicator::applier::Applier::connect(opts.into(), config())).await {
        Ok(_) => panic!("a user without BINLOG REPLAY must be refused"),
        Err(e) => e,
    };
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("GRANT BINLOG REPLAY"), "{err}");
}

//! The MySQL/MariaDB applier against a real MariaDB (one sandbox instance per
//! test).
//!
//! Run: `cargo test -p tests --test applier -- --test-threads=2`

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value as P};
use replicator::applier::{ApplyError, RowMethod, ZeroRowPolicy};
use tests::apply_support::*;
use tests::sandbox::Instance;
use thl::event::{
    meta, Change, ColumnSpec, Date, DateTime, ReplEvent, RowAction, RowImage, Statement, Time, UserVar, Value,
};
use thl::testing::{LONG_BYTES_LEN, TIMESTAMP_MAX_SECS, TIME_NEG_SUBSECOND, ZERO_DATE, ZERO_DATETIME};

// ---------------------------------------------------------------- all types

const TYPES_TABLE: &str = "CREATE TABLE types (
    id INT PRIMARY KEY,
    u64 BIGINT UNSIGNED, i64 BIGINT, f FLOAT, d DOUBLE, dec65 DECIMAL(65,30),
    dt DATE, dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR,
    b64 BIT(64), b9 BIT(9), e ENUM('a','b','c'), s SET('x','y','z'),
    u VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
    l VARCHAR(64) CHARACTER SET latin1, bl LONGBLOB, j JSON, g GEOMETRY, vb VARBINARY(16)
) ENGINE=InnoDB";

fn types_cols() -> Vec<ColumnSpec> {
    let mut c = vec![
        col(0, "id", 3, 0, true),
        col(1, "u64", 8, 0, false),
        col(2, "i64", 8, 0, false),
        col(3, "f", 4, 4, false),
        col(4, "d", 5, 8, false),
        col(5, "dec65", 246, (65 << 8) | 30, false),
        col(6, "dt", 10, 0, false),
        col(7, "dtm", 18, 6, false),
        col(8, "ts", 17, 6, false),
        col(9, "tm", 19, 6, false),
        col(10, "y", 13, 0, false),
        col(11, "b64", 16, 8 << 8, false),
        col(12, "b9", 16, (1 << 8) | 1, false),
        col(13, "e", 254, (247 << 8) | 1, false),
        col(14, "s", 254, (248 << 8) | 1, false),
        col(15, "u", 15, 256, false),
        col(16, "l", 15, 64, false),
        col(17, "bl", 252, 4, false),
        col(18, "j", 252, 4, false),
        col(19, "g", 255, 4, false),
        col(20, "vb", 15, 16, false),
    ];
    c[1].unsigned = true;
    c[15].collation = Some(224);
    c[16].collation = Some(8);
    c[17].collation = Some(63);
    c[20].collation = Some(63);
    c
}

const DEC_MIN: &str = "-12345678901234567890123456789012345.123456789012345678901234567890";

fn point_4326() -> Vec<u8> {
    let mut g = 4326u32.to_le_bytes().to_vec();
    g.extend([1, 1, 0, 0, 0]);
    g.extend(1.5f64.to_le_bytes());
    g.extend((-2.25f64).to_le_bytes());
    g
}

fn blob() -> Vec<u8> {
    (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

// The rows hold one value per column of `types`, so they are tied to its
// types: the shared edges (thl::testing) where a column takes them, local
// values for the column's own (DECIMAL(65,30), TIME(6), BIT(9)...).
fn types_row1() -> Vec<Value> {
    vec![
        Value::Int(1),
        Value::UInt(u64::MAX),
        Value::Int(i64::MIN),
        Value::Float(0.1),
        Value::Double(1.0 / 3.0),
        Value::Decimal(DEC_MIN.into()),
        Value::Date(ZERO_DATE),
        Value::DateTime(ZERO_DATETIME),
        Value::Timestamp { secs: 0, micros: 0 },
        Value::Time(Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 58,
            micros: 999_999,
        }),
        Value::Year(0),
        Value::Bit(u64::MAX),
        Value::Bit(0x1ff),
        Value::Enum(2),
        Value::Set(0b101),
        Value::Bytes("héllo 😀 wörld".as_bytes().to_vec()),
        Value::Bytes(vec![0xE9, 0xE8, 0xFF, b'a']),
        Value::Bytes(blob()),
        Value::Bytes(br#"{"a": [1, 2.5, "x"]}"#.to_vec()),
        Value::Bytes(point_4326()),
        Value::Bytes(vec![0, 1, 2, 0xff]),
    ]
}

fn types_row2_nulls() -> Vec<Value> {
    let mut v = vec![Value::Int(2)];
    v.extend(std::iter::repeat_n(Value::Null, 20));
    v
}

fn types_row3() -> Vec<Value> {
    vec![
        Value::Int(3),
        Value::UInt(0),
        Value::Int(i64::MAX),
        Value::Float(f32::MAX),
        Value::Double(f64::MIN_POSITIVE),
        Value::Decimal("0.000000000000000000000000000001".into()),
        Value::Date(Date {
            year: 2020,
            month: 0,
            day: 0,
        }),
        Value::DateTime(DateTime {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            micros: 999_999,
        }),
        Value::Timestamp {
            secs: TIMESTAMP_MAX_SECS,
            micros: 999_999,
        },
        Value::Time(TIME_NEG_SUBSECOND),
        Value::Year(2155),
        Value::Bit(0),
        Value::Bit(1),
        Value::Enum(0),
        Value::Set(0),
        Value::Bytes(vec![]),
        Value::Bytes(b"plain".to_vec()),
        Value::Bytes(vec![0; LONG_BYTES_LEN]),
        Value::Bytes(b"[]".to_vec()),
        Value::Null,
        Value::Bytes(vec![]),
    ]
}

/// Normalises integers (the protocol may return either sign) for comparison.
fn same(a: &P, b: &P) -> bool {
    let int = |v: &P| match v {
        P::Int(i) => Some(i128::from(*i)),
        P::UInt(u) => Some(i128::from(*u)),
        _ => None,
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (P::Float(x), P::Float(y)) => x.to_bits() == y.to_bits(),
            (P::Double(x), P::Double(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        },
    }
}

/// What reading `v` back with the binary protocol gives.
fn expected(v: &Value, c: &ColumnSpec) -> P {
    match (v, c.name.as_str()) {
        (Value::Null, _) => P::NULL,
        (Value::Int(i), _) => P::Int(*i),
        (Value::UInt(u), _) => P::UInt(*u),
        (Value::Float(f), _) => P::Float(*f),
        (Value::Double(d), _) => P::Double(*d),
        (Value::Decimal(s), _) => P::Bytes(s.clone().into_bytes()),
        (Value::Date(d), _) => P::Date(d.year, d.month, d.day, 0, 0, 0, 0),
        (Value::DateTime(d), _) => P::Date(d.year, d.month, d.day, d.hour, d.minute, d.second, d.micros),
        (Value::Timestamp { secs: 0, micros: 0 }, _) => P::Date(0, 0, 0, 0, 0, 0, 0),
        (
            Value::Timestamp {
                secs: TIMESTAMP_MAX_SECS,
                micros,
            },
            _,
        ) => P::Date(2038, 1, 19, 3, 14, 7, *micros),
        (Value::Timestamp { .. }, _) => unreachable!("not used"),
        (Value::Time(t), _) => P::Time(
            t.negative,
            u32::from(t.hours / 24),
            (t.hours % 24) as u8,
            t.minutes,
            t.seconds,
            t.micros,
        ),
        (Value::Year(y), _) => P::Int(i64::from(*y)),
        (Value::Bit(b), "b64") => P::Bytes(b.to_be_bytes().to_vec()),
        (Value::Bit(b), _) => P::Bytes(b.to_be_bytes()[6..].to_vec()),
        (Value::Enum(i), _) => P::Bytes(match i {
            0 => b"".to_vec(),
            2 => b"b".to_vec(),
            _ => unreachable!("not used"),
        }),
        (Value::Set(m), _) => P::Bytes(match m {
            0 => b"".to_vec(),
            5 => b"x,z".to_vec(),
            _ => unreachable!("not used"),
        }),
        (Value::Bytes(b), _) => P::Bytes(b.clone()),
    }
}

async fn check_types_row(c: &mut Conn, id: i64, want: &[Value]) {
    let cols = types_cols();
    let names: Vec<String> = cols.iter().map(|c| format!("`{}`", c.name)).collect();
    let sql = format!("SELECT {} FROM {DB}.types WHERE id=?", names.join(","));
    let row: Row = bounded("select", c.exec_first(sql.as_str(), (id,)))
        .await
        .expect("select")
        .unwrap_or_else(|| panic!("row {id} missing"));
    let got = row.unwrap();
    for (i, colspec) in cols.iter().enumerate() {
        let exp = expected(&want[i], colspec);
        assert!(
            same(&got[i], &exp),
            "row {id} column {}: got {:?}, want {:?}",
            colspec.name,
            truncated(&got[i]),
            truncated(&exp)
        );
    }
}

/// A text-protocol value as text (`NULL` for NULL).
fn text(v: &P) -> String {
    match v {
        P::NULL => "NULL".into(),
        P::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

fn truncated(v: &P) -> String {
    let s = format!("{v:?}");
    s.chars().take(200).collect()
}

#[tokio::test]
async fn every_type_round_trips_exactly_and_reapply_is_a_no_op() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    assert_eq!(a.last_applied(), None);
    create_simple(&mut a).await;
    let mut events = vec![ddl(2, TYPES_TABLE)];
    let cols = types_cols();
    events.push(event(
        3,
        &[],
        vec![rows_change(
            "types",
            RowAction::Insert,
            &cols,
            vec![ins(types_row1()), ins(types_row2_nulls()), ins(types_row3())],
        )],
    ));
    for ev in &events {
        apply(&mut a, ev).await;
    }
    flush(&mut a).await;
    assert_eq!(position(i).await[..3], ["3", "0", "1"]);
    let mut c = checker(i).await;
    check_types_row(&mut c, 1, &types_row1()).await;
    check_types_row(&mut c, 2, &types_row2_nulls()).await;
    check_types_row(&mut c, 3, &types_row3()).await;
    // The geometry is a real one, with its SRID.
    let g = i
        .query(&format!("SELECT ST_AsText(g), ST_SRID(g) FROM {DB}.types WHERE id=1"))
        .await
        .expect("geometry");
    assert_eq!(g, vec![vec!["POINT(1.5 -2.25)".to_owned(), "4326".to_owned()]]);

    // UPDATE row 1 (before image: every column, key: id) and row 3 (its
    // before image holds a zero-in-date DATE, a NULL, ENUM 0...).
    let mut new1 = types_row1();
    new1[15] = Value::Bytes("ünïcödé ✓ 🚀".as_bytes().to_vec());
    new1[16] = Value::Bytes(vec![0xC0, 0xFF]);
    new1[11] = Value::Bit(1 << 63);
    new1[1] = Value::UInt(u64::MAX - 1);
    let mut new3 = types_row3();
    new3[2] = Value::Int(i64::MIN + 1);
    let upd = event(
        4,
        &[],
        vec![rows_change(
            "types",
            RowAction::Update,
            &cols,
            vec![
                RowImage {
                    before: types_row1(),
                    after: new1.clone(),
                },
                RowImage {
                    before: types_row3(),
                    after: new3.clone(),
                },
            ],
        )],
    );
    apply(&mut a, &upd).await;
    // DELETE row 2 (all NULLs but the key).
    let del = event(
        5,
        &[],
        vec![rows_change(
            "types",
            RowAction::Delete,
            &cols,
            vec![RowImage {
                before: types_row2_nulls(),
                after: vec![],
            }],
        )],
    );
    apply(&mut a, &del).await;
    flush(&mut a).await;
    assert_eq!(a.stats().zero_row_changes, 0);
    check_types_row(&mut c, 1, &new1).await;
    check_types_row(&mut c, 3, &new3).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.types")).await, 2);
    assert_eq!(
        position(i).await,
        ["5", "0", "1", "7", "mysql-bin.000001:0000000000001005;5", "db1", DB]
    );

    // Re-applying everything is a no-op, on this applier and on a new one.
    let checksum = i.checksum_table(&format!("{DB}.types")).await.expect("checksum");
    let all: Vec<ReplEvent> = events.iter().cloned().chain([upd.clone(), del.clone()]).collect();
    for ev in &all {
        apply(&mut a, ev).await;
    }
    flush(&mut a).await;
    let last = a.last_applied();
    drop(a);
    let mut b = applier(i, config()).await;
    assert_eq!(b.last_applied(), last);
    assert_eq!(b.last_applied().map(|p| (p.seqno.0, p.epoch.0)), Some((5, 7)));
    create_simple(&mut b).await;
    for ev in &all {
        apply(&mut b, ev).await;
    }
    flush(&mut b).await;
    assert_eq!(b.stats().events_skipped, 2 + all.len() as u64);
    assert_eq!(b.stats().events_applied, 0);
    assert_eq!(b.stats().commits, 0);
    assert_eq!(
        i.checksum_table(&format!("{DB}.types")).await.expect("checksum"),
        checksum
    );
    // The next event is applied.
    apply(&mut b, &insert_event(6, 10, "next")).await;
    flush(&mut b).await;
    assert_eq!(position(i).await[0], "6");
    c.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn table_without_key_deletes_and_updates_one_of_duplicate_rows() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(
        &mut a,
        &ddl(2, "CREATE TABLE nk (a INT, b VARCHAR(10), f FLOAT, d DECIMAL(65,30))"),
    )
    .await;
    let cols = vec![
        col(0, "a", 3, 0, false),
        col(1, "b", 15, 40, false),
        col(2, "f", 4, 4, false),
        col(3, "d", 246, (65 << 8) | 30, false),
    ];
    // Two decimals that are the same DOUBLE: only an exact comparison tells them apart.
    let dup = vec![
        Value::Int(1),
        Value::Bytes(b"x".to_vec()),
        Value::Float(0.1),
        Value::Decimal("1.000000000000000000000000000001".into()),
    ];
    let near = vec![
        Value::Int(1),
        Value::Bytes(b"x".to_vec()),
        Value::Float(0.1),
        Value::Decimal("1.000000000000000000000000000002".into()),
    ];
    let nulls = vec![Value::Int(2), Value::Null, Value::Null, Value::Null];
    apply(
        &mut a,
        &event(
            3,
            &[],
            vec![rows_change(
                "nk",
                RowAction::Insert,
                &cols,
                // `near` first: a DOUBLE comparison would find it first.
                vec![
                    ins(near.clone()),
                    ins(dup.clone()),
                    ins(dup.clone()),
                    ins(nulls.clone()),
                ],
            )],
        ),
    )
    .await;
    apply(
        &mut a,
        &event(
            4,
            &[],
            vec![rows_change(
                "nk",
                RowAction::Delete,
                &cols,
                vec![RowImage {
                    before: dup.clone(),
                    after: vec![],
                }],
            )],
        ),
    )
    .await;
    let mut changed = nulls.clone();
    changed[1] = Value::Bytes(b"was null".to_vec());
    apply(
        &mut a,
        &event(
            5,
            &[],
            vec![rows_change(
                "nk",
                RowAction::Update,
                &cols,
                vec![RowImage {
                    before: nulls,
                    after: changed,
                }],
            )],
        ),
    )
    .await;
    flush(&mut a).await;
    assert_eq!(a.stats().zero_row_changes, 0);
    let got = i
        .query(&format!("SELECT a, b, d FROM {DB}.nk ORDER BY a, d"))
        .await
        .expect("rows");
    assert_eq!(
        got,
        vec![
            vec!["1", "x", "1.000000000000000000000000000001"],
            vec!["1", "x", "1.000000000000000000000000000002"],
            vec!["2", "was null", "NULL"],
        ]
    );
}

#[tokio::test]
async fn block_commit_groups_25_transactions_into_3_commits() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    let commits_before = a.stats().commits;
    let com_commit = || async {
        let r = i.query("SHOW GLOBAL STATUS LIKE 'Com_commit'").await.expect("status");
        r[0][1].parse::<u64>().expect("number")
    };
    let global_before = com_commit().await;
    for n in 0..25 {
        apply(&mut a, &insert_event(2 + n, n, "v")).await;
        if n == 21 {
            // Two blocks committed, the third open: another session sees 20.
            assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 20);
            assert_eq!(position(i).await[0], "21");
        }
    }
    assert!(a.has_pending());
    assert!(a.commit_deadline().is_some());
    assert_eq!(a.stats().commits - commits_before, 2);
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 20);
    flush(&mut a).await;
    assert!(!a.has_pending());
    assert_eq!(a.stats().commits - commits_before, 3);
    assert_eq!(com_commit().await - global_before, 3);
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 25);
    assert_eq!(position(i).await[0], "26");
    assert_eq!(a.last_applied().map(|p| p.seqno.0), Some(26));

    // The interval also ends a block.
    let mut cfg = config();
    cfg.block_commit_interval = Duration::from_millis(200);
    drop(a);
    let mut a = applier(i, cfg).await;
    apply(&mut a, &insert_event(27, 100, "t")).await;
    assert_eq!(a.stats().commits, 0);
    tokio::time::sleep(Duration::from_millis(250)).await;
    apply(&mut a, &insert_event(28, 101, "t")).await;
    assert_eq!(a.stats().commits, 1);
    assert_eq!(position(i).await[0], "28");
}

/// Issue 9, window 1: a statement that commits implicitly (GRANT,
/// ANALYZE TABLE ..., here without any metadata saying so) inside an open
/// block would commit the block's earlier transactions without their
/// position: another session would see rows the position does not cover,
/// and after a crash they would apply twice. It runs alone instead.
#[tokio::test]
async fn statements_that_commit_implicitly_never_commit_a_block_without_its_position() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    let keyless = format!("CREATE TABLE {DB}.k (n INT) ENGINE=InnoDB");
    apply(&mut a, &ddl(2, &keyless)).await;
    let insert = |seqno: i64| {
        event(
            seqno,
            &[],
            vec![stmt(Some(DB), &format!("INSERT INTO k VALUES ({seqno})"))],
        )
    };
    apply(&mut a, &insert(3)).await;
    for (seqno, sql) in [
        (
            4,
            "/* privileges */ GRANT SELECT ON *.* TO 'reader'@'localhost' IDENTIFIED BY 'x'",
        ),
        (5, "ANALYZE TABLE k"),
        (6, "REVOKE SELECT ON *.* FROM 'reader'@'localhost'"),
    ] {
        // Visible rows are covered by the committed position.
        let visible = count(i, &format!("SELECT COUNT(*) FROM {DB}.k")).await;
        let committed: i64 = position(i).await[0].parse().expect("seqno");
        assert!(
            visible == 0 || committed >= seqno - 1,
            "before seqno {seqno}: {visible} rows visible, position {committed}"
        );
        apply(&mut a, &event(seqno, &[], vec![stmt(Some(DB), sql)])).await;
        let visible = count(i, &format!("SELECT COUNT(*) FROM {DB}.k")).await;
        let committed: i64 = position(i).await[0].parse().expect("seqno");
        assert_eq!((visible, committed), (1, seqno), "after seqno {seqno} ({sql})");
    }
    apply(&mut a, &insert(7)).await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(DISTINCT n) FROM {DB}.k")).await, 2);
    assert_eq!(position(i).await[0], "7");
}

/// Issue 9, window 2: a DDL statement that took effect on the target while
/// its position did not commit (a crash between the two) runs again on
/// restart; its mark in `trep_ddl_in_flight`, committed before it, tells the
/// applier that an error saying "done already" means done. Without a mark
/// the same error is a divergence, and the mark of a failed DDL is cleared.
#[tokio::test]
async fn a_ddl_cut_off_from_its_position_is_recognised_on_restart() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    flush(&mut a).await;
    drop(a);
    // The crash: seqno 2's DDL ran, its position did not commit.
    let ev = ddl(2, "CREATE TABLE t2 (a INT)");
    i.exec(&format!("CREATE TABLE {DB}.t2 (a INT)"))
        .await
        .expect("the DDL's effect");
    i.exec(&format!(
        "REPLACE INTO tungsten_{SVC}.trep_ddl_in_flight (task_id, seqno, eventid) VALUES (0, 2, '{}')",
        ev.header.event_id
    ))
    .await
    .expect("its mark");
    let mut a = applier(i, config()).await;
    apply(&mut a, &ev).await;
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "2");
    let marks = format!("SELECT COUNT(*) FROM tungsten_{SVC}.trep_ddl_in_flight");
    assert_eq!(count(i, &marks).await, 0, "the mark goes with the position");

    // No mark: the table exists on the target for another reason.
    let e = apply_err(&mut a, &ddl(3, "CREATE TABLE t2 (a INT)")).await;
    assert!(!e.is_transient(), "{e}");
    assert!(e.to_string().contains("1050"), "{e}");
    assert_eq!(count(i, &marks).await, 0, "a failed DDL leaves no mark");
    assert_eq!(position(i).await[0], "2");
}

/// A schema change that does not fail when run twice (an unnamed `ADD
/// INDEX` adds a second index) and was cut off from its position: the
/// mark's before image of the table decides whether it took effect.
#[tokio::test]
async fn an_alter_cut_off_from_its_position_runs_once_whether_or_not_it_took_effect() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    flush(&mut a).await;
    drop(a);
    let indexes =
        format!("SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = '{DB}' AND table_name = 't'");
    let indexes_before = count(i, &indexes).await;

    // The crash after the ALTER: it took effect, its position did not.
    let ev = ddl(2, "ALTER TABLE t ADD INDEX (v)");
    mark_with_before_image(i, &ev).await;
    i.exec(&format!("ALTER TABLE {DB}.t ADD INDEX (v)"))
        .await
        .expect("its effect");
    let mut a = applier(i, config()).await;
    apply(&mut a, &ev).await;
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "2");
    assert_eq!(count(i, &indexes).await, indexes_before + 1, "one index, not two");
    drop(a);

    // The crash before it: the mark was committed, the ALTER never ran.
    let ev = ddl(3, "ALTER TABLE t ADD INDEX (v)");
    mark_with_before_image(i, &ev).await;
    let mut a = applier(i, config()).await;
    apply(&mut a, &ev).await;
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "3");
    assert_eq!(count(i, &indexes).await, indexes_before + 2, "it ran now");
    let marks = format!("SELECT COUNT(*) FROM tungsten_{SVC}.trep_ddl_in_flight");
    assert_eq!(count(i, &marks).await, 0, "the mark goes with the position");
}

/// Commits the DDL mark of `ev` as the applier does before it runs: with
/// table `t`'s definition now.
async fn mark_with_before_image(i: &Instance, ev: &ReplEvent) {
    let before = i.query(&format!("SHOW CREATE TABLE {DB}.t")).await.expect("definition")[0][1].clone();
    let hex: String = before.bytes().map(|b| format!("{b:02X}")).collect();
    i.exec(&format!(
        "REPLACE INTO tungsten_{SVC}.trep_ddl_in_flight (task_id, seqno, eventid, before_def) \
         VALUES (0, {}, '{}', CONVERT(X'{hex}' USING utf8mb4))",
        ev.header.seqno, ev.header.event_id
    ))
    .await
    .expect("its mark");
}

#[tokio::test]
async fn failing_statement_is_definite_and_nothing_of_its_block_is_committed() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    let committed = a.last_applied();
    for n in 0..3 {
        apply(&mut a, &insert_event(2 + n, n, "ok")).await;
    }
    // seqno 5 inserts a duplicate key.
    let bad = insert_event(5, 1, "dup");
    let err = apply_err(&mut a, &bad).await;
    let ApplyError::Definite(d) = &err else {
        panic!("expected definite: {err}")
    };
    assert_eq!(d.seqno.map(|s| s.0), Some(5));
    assert_eq!(d.code, Some(1062));
    assert_eq!(d.table.as_deref(), Some("`apptest`.`t`"));
    assert!(
        d.sql
            .as_deref()
            .is_some_and(|s| s.starts_with("BINLOG (INSERT `apptest`.`t`: 1 row)")),
        "{d:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("seqno 5") && text.contains("trepctl online -skip-seqno 5") && text.contains("Duplicate entry"),
        "{text}"
    );
    assert_eq!(a.last_applied(), committed);
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 0);
    assert_eq!(position(i).await[0], "1");

    // Re-fed from last_applied()+1, then seqno 5 skipped as an empty event.
    for n in 0..3 {
        apply(&mut a, &insert_event(2 + n, n, "ok")).await;
    }
    let mut skipped = bad.clone();
    skipped.body.changes.clear();
    apply(&mut a, &skipped).await;
    apply(&mut a, &insert_event(6, 6, "after")).await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 4);
    assert_eq!(position(i).await[0], "6");

    // A statement error carries the SQL; a column without a name is definite.
    let err = apply_err(
        &mut a,
        &event(7, &[], vec![stmt(Some(DB), "INSERT INTO nope VALUES (1)")]),
    )
    .await;
    assert_eq!(err.code(), Some(1146));
    assert!(err.to_string().contains("INSERT INTO nope VALUES (1)"), "{err}");
    // Columns are positional for the target's row applier: a source that
    // logs no column names (binlog_row_metadata=MINIMAL) applies.
    let mut cols = simple_cols();
    cols[1].name.clear();
    let nameless = |seqno| {
        event(
            seqno,
            &[],
            vec![rows_change(
                "t",
                RowAction::Insert,
                &cols,
                vec![ins(simple_row(seqno, "x"))],
            )],
        )
    };
    apply(&mut a, &nameless(7)).await;
    flush(&mut a).await;
    assert_eq!(
        count(i, &format!("SELECT COUNT(*) FROM {DB}.t WHERE id=7 AND v='x'")).await,
        1
    );
    drop(a);
    // The SQL method needs names: a definite error naming seqno and table.
    let mut cfg = config();
    cfg.row_method = RowMethod::Sql;
    let mut a = applier(i, cfg).await;
    let err = apply_err(&mut a, &nameless(8)).await;
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(
        text.contains("seqno 8") && text.contains("`apptest`.`t`") && text.contains("no name"),
        "{text}"
    );
    assert_eq!(position(i).await[0], "7");
}

#[tokio::test]
async fn zero_row_update_warns_or_stops() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &insert_event(2, 1, "one")).await;
    let update = |seqno, before: Vec<Value>, after: Vec<Value>| {
        event(
            seqno,
            &[],
            vec![rows_change(
                "t",
                RowAction::Update,
                &simple_cols(),
                vec![RowImage { before, after }],
            )],
        )
    };
    // Same values: CLIENT_FOUND_ROWS counts the matched row.
    apply(&mut a, &update(3, simple_row(1, "one"), simple_row(1, "one"))).await;
    assert_eq!(a.stats().zero_row_changes, 0);
    // Missing row under Warn: applied, counted.
    apply(&mut a, &update(4, simple_row(42, "x"), simple_row(42, "y"))).await;
    assert_eq!(a.stats().zero_row_changes, 1);
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "4");
    drop(a);

    let mut cfg = config();
    cfg.zero_row_policy = ZeroRowPolicy::Stop;
    let mut a = applier(i, cfg).await;
    apply(&mut a, &insert_event(5, 2, "two")).await;
    let err = apply_err(&mut a, &update(6, simple_row(43, "x"), simple_row(43, "y"))).await;
    let text = err.to_string();
    assert!(!err.is_transient());
    assert!(
        text.contains("seqno 6") && text.contains("matched no row") && text.contains("id=Int(43)"),
        "{text}"
    );
    assert_eq!(position(i).await[0], "4");
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t WHERE id=2")).await, 0);
    // The same for DELETE.
    apply(&mut a, &insert_event(5, 2, "two")).await;
    let del = event(
        6,
        &[],
        vec![rows_change(
            "t",
            RowAction::Delete,
            &simple_cols(),
            vec![RowImage {
                before: simple_row(44, "x"),
                after: vec![],
            }],
        )],
    );
    assert!(apply_err(&mut a, &del)
        .await
        .to_string()
        .contains("DELETE matched no row"));
}

async fn binlog_mentions(i: &Instance, needle: &str) -> bool {
    let logs = i.query("SHOW BINARY LOGS").await.expect("binary logs");
    for log in logs {
        let events = i
            .query(&format!("SHOW BINLOG EVENTS IN '{}'", log[0]))
            .await
            .expect("events");
        if events.iter().any(|e| e.iter().any(|f| f.contains(needle))) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn sql_log_bin_off_by_default_and_on_with_log_slave_updates() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &insert_event(2, 1, "quiet")).await;
    flush(&mut a).await;
    assert!(
        !binlog_mentions(i, "apptest").await,
        "applied changes reached the binlog"
    );
    assert!(!binlog_mentions(i, "trep_commit_seqno").await);
    drop(a);

    let mut cfg = config();
    cfg.log_slave_updates = true;
    let mut a = applier(i, cfg).await;
    apply(
        &mut a,
        &ddl(3, "CREATE TABLE logged (id INT PRIMARY KEY, v VARCHAR(20))"),
    )
    .await;
    apply(&mut a, &insert_event(4, 2, "logged")).await;
    flush(&mut a).await;
    assert!(binlog_mentions(i, "CREATE TABLE logged").await);
    assert!(
        binlog_mentions(i, "(apptest.t)").await,
        "row events of the applied insert"
    );
}

#[tokio::test]
async fn statements_replay_with_their_session() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(
        &mut a,
        &ddl(
            2,
            "CREATE TABLE s (id INT AUTO_INCREMENT PRIMARY KEY, l VARCHAR(20) CHARACTER SET latin1, \
             ts DATETIME(6), uv BIGINT, us VARCHAR(20) CHARACTER SET utf8mb4, r DOUBLE, z DATE, tz VARCHAR(40))",
        ),
    )
    .await;
    // latin1 statement text, SET TIMESTAMP with µs, INSERT_ID, user variables.
    let mut sql = b"INSERT INTO s (l, ts, uv, us) VALUES ('caf".to_vec();
    sql.extend([0xE9, b'\'']);
    sql.extend(b", NOW(6), @n, @s)");
    let mut session = utf8_session();
    session.charset_client = Some(8);
    session.collation_connection = Some(8);
    session.collation_server = Some(8);
    session.timestamp_us = Some(1_600_000_000_123_456);
    session.insert_id = Some(100);
    session.user_vars = vec![
        UserVar {
            name: "n".into(),
            value: Value::Int(-5),
            collation: None,
            unsigned: false,
            data_type: None,
        },
        UserVar {
            name: "s".into(),
            value: Value::Bytes("ü😀".as_bytes().to_vec()),
            collation: Some(45),
            unsigned: false,
            data_type: None,
        },
    ];
    let latin1 = Change::Statement(Statement {
        default_db: Some(DB.into()),
        sql,
        session,
        error_code: 0,
        infile: None,
    });
    // RAND() with the source's seeds; zero date under sql_mode=''.
    let mut seeded = utf8_session();
    seeded.rand_seeds = Some((12345, 67890));
    seeded.sql_mode = Some(0);
    seeded.time_zone = Some("-05:00".into());
    let rand = Change::Statement(Statement {
        default_db: Some(DB.into()),
        sql: b"INSERT INTO s (id, r, z, tz) VALUES (7, RAND(), '0000-00-00', @@session.time_zone)".to_vec(),
        session: seeded,
        error_code: 0,
        infile: None,
    });
    apply(&mut a, &event(3, &[], vec![latin1, rand])).await;
    flush(&mut a).await;
    let mut c = checker(i).await;
    let got: Vec<Row> = rows(
        &mut c,
        &format!("SELECT id, HEX(l), ts, uv, HEX(us), z, tz FROM {DB}.s ORDER BY id"),
    )
    .await;
    let text_rows: Vec<Vec<String>> = got.into_iter().map(|r| r.unwrap().iter().map(text).collect()).collect();
    let text = text_rows;
    // Ordered by id: 7 (RAND) then 100 (INSERT_ID).
    assert_eq!(
        text[1][..5],
        ["100", "636166E9", "2020-09-13 12:26:40.123456", "-5", "C3BCF09F9880"]
    );
    assert_eq!(text[0][0], "7");
    assert_eq!(text[0][5], "0000-00-00");
    assert_eq!(text[0][6], "-05:00");
    let r: Option<f64> = c
        .query_first(format!("SELECT r FROM {DB}.s WHERE id=7"))
        .await
        .expect("r");
    c.query_drop("SET @@rand_seed1=12345, @@rand_seed2=67890")
        .await
        .expect("seed");
    let want: Option<f64> = c.query_first("SELECT RAND()").await.expect("rand");
    assert_eq!(r.map(f64::to_bits), want.map(f64::to_bits));

    // Strict sql_mode with NO_ZERO_DATE rejects the zero date (definite),
    // unless the source failed with the same error.
    let mut strict = utf8_session();
    strict.sql_mode = Some((1 << 21) | (1 << 23) | (1 << 24));
    let zero = |error_code| {
        Change::Statement(Statement {
            default_db: Some(DB.into()),
            sql: b"INSERT INTO s (id, z) VALUES (8, '0000-00-00')".to_vec(),
            session: strict.clone(),
            error_code,
            infile: None,
        })
    };
    let err = apply_err(&mut a, &event(4, &[], vec![zero(0)])).await;
    assert_eq!(err.code(), Some(1292), "{err}");
    apply(&mut a, &event(4, &[], vec![zero(1292)])).await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.s WHERE id=8")).await, 0);
    assert_eq!(position(i).await[0], "4");
    c.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn fragments_filtered_ranges_and_heartbeats() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &insert_event(2, 1, "plain")).await;
    let frag = |fragno: u16, last_frag: bool, id: i64| {
        let mut ev = insert_event(3, id, "frag");
        ev.header.fragno = fragno;
        ev.header.last_frag = last_frag;
        ev
    };
    // Fragment 0 commits the open block first, then stays open.
    apply(&mut a, &frag(0, false, 10)).await;
    assert_eq!(position(i).await[0], "2");
    apply(&mut a, &frag(1, false, 11)).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 1);
    // An idle input or a deadline never commits between fragments.
    assert!(a.commit_deadline().is_none() && a.in_fragmented_transaction());
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "2");
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 1);
    // A crash between fragments: the target rolls the fragments back.
    drop(a);
    let mut a = applier(i, config()).await;
    assert_eq!(a.last_applied().map(|p| p.seqno.0), Some(2));
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 1);
    // A fragment out of order is refused.
    let err = apply_err(&mut a, &frag(1, false, 11)).await;
    assert!(err.to_string().contains("fragment 1 of seqno 3"), "{err}");
    for (fragno, last, id) in [(0, false, 10), (1, false, 11), (2, true, 12)] {
        apply(&mut a, &frag(fragno, last, id)).await;
    }
    // Committed at the last fragment.
    assert!(!a.has_pending());
    assert_eq!(position(i).await[..3], ["3", "2", "1"]);
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 4);

    // A filtered range moves the position only.
    let mut range = event(4, &[], vec![]);
    range.header.seqno_end = thl::seqno::Seqno(9);
    apply(&mut a, &range).await;
    flush(&mut a).await;
    assert_eq!(position(i).await[0], "9");
    apply(&mut a, &insert_event(8, 99, "covered")).await;
    assert_eq!(a.stats().events_skipped, 1);

    // A heartbeat fills the heartbeat table.
    let mut hb = event(10, &[(meta::HEARTBEAT, "hb-test")], vec![]);
    hb.header.source_tstamp_ms -= 1500;
    apply(&mut a, &hb).await;
    flush(&mut a).await;
    let row = i
        .query(&format!("SELECT seqno, name, lag_millis >= 1500, target_tstamp IS NOT NULL, source_tstamp IS NOT NULL FROM tungsten_{SVC}.heartbeat"))
        .await
        .expect("heartbeat");
    assert_eq!(row, vec![vec!["10", "hb-test", "1", "1", "1"]]);
    assert_eq!(position(i).await[0], "10");
}

#[tokio::test]
async fn catalog_has_tungsten_columns_and_channels_copy_task_0() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    let cols = i
        .query(&format!(
            "SELECT COLUMN_NAME, COLUMN_TYPE, COLUMN_KEY FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA='tungsten_{SVC}' AND TABLE_NAME='trep_commit_seqno' ORDER BY ORDINAL_POSITION"
        ))
        .await
        .expect("columns");
    let got: Vec<String> = cols.iter().map(|c| format!("{} {} {}", c[0], c[1], c[2])).collect();
    assert_eq!(
        got,
        [
            "task_id int(11) PRI",
            "seqno bigint(20) ",
            "fragno smallint(6) ",
            "last_frag char(1) ",
            "source_id varchar(128) ",
            "epoch_number bigint(20) ",
            "eventid varchar(128) ",
            "applied_latency int(11) ",
            "update_timestamp timestamp ",
            "shard_id varchar(128) ",
            "extract_timestamp timestamp ",
        ]
    );
    assert_eq!(position(i).await[0], "-1");
    create_simple(&mut a).await;
    drop(a);
    let mut cfg = config();
    cfg.channel = 2;
    let b = applier(i, cfg).await;
    assert_eq!(b.last_applied().map(|p| p.seqno.0), Some(1));
    assert_eq!(
        count(i, &format!("SELECT COUNT(*) FROM tungsten_{SVC}.trep_commit_seqno")).await,
        2
    );
}

#[tokio::test]
async fn lost_connection_is_transient_and_the_block_is_re_applied() {
    let sb = sandbox().await;
    let i = &sb.instances()[0];
    let mut a = applier(i, config()).await;
    create_simple(&mut a).await;
    apply(&mut a, &insert_event(2, 1, "a")).await;
    let ids = i
        .query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER='tungsten'")
        .await
        .expect("processlist");
    assert_eq!(ids.len(), 1, "{ids:?}");
    i.exec(&format!("KILL CONNECTION {}", ids[0][0])).await.expect("kill");
    let err = apply_err(&mut a, &insert_event(3, 2, "b")).await;
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("retry from seqno 2"), "{err}");
    assert_eq!(a.last_applied().map(|p| p.seqno.0), Some(1));
    // The caller re-feeds from last_applied() + 1; the applier reconnects.
    apply(&mut a, &insert_event(2, 1, "a")).await;
    apply(&mut a, &insert_event(3, 2, "b")).await;
    flush(&mut a).await;
    assert_eq!(count(i, &format!("SELECT COUNT(*) FROM {DB}.t")).await, 2);
    assert_eq!(position(i).await[0], "3");
}

//! Golden files pin the body layout: each fixed body must encode to exactly
//! the bytes of `tests/golden/body_<name>.bin`, and those bytes must decode
//! back to the body. Regenerate (after a deliberate format change, with a
//! version bump) with `THL_BLESS=1 cargo test -p thl --test codec_golden`.

use std::path::PathBuf;
use thl::codec::{decode_body, encode_body};
use thl::event::{
    meta, Change, ColumnSpec, Date, DateTime, EventBody, RowAction, RowChanges, RowFlags, RowImage, SessionVars,
    Statement, Time, UserVar, Value,
};
use thl::testing::{TIME_MIN_WHOLE, ZERO_DATE, ZERO_DATETIME};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/body_{name}.bin"))
}

/// A heartbeat: metadata only.
fn heartbeat() -> EventBody {
    EventBody {
        metadata: vec![
            (meta::DBMS_TYPE.into(), "mysql".into()),
            (meta::SERVICE.into(), "alpha".into()),
            (meta::HEARTBEAT.into(), "MASTER_ONLINE".into()),
        ],
        changes: vec![],
    }
}

/// A DDL statement with a rich session.
fn statement() -> EventBody {
    EventBody {
        metadata: vec![
            (meta::GTID.into(), "0-1-1042".into()),
            (meta::SERVER_ID.into(), "1".into()),
            (meta::SCHEMA_CHANGE.into(), "true".into()),
        ],
        changes: vec![Change::Statement(Statement {
            default_db: Some("shop".into()),
            sql: b"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(32))".to_vec(),
            session: SessionVars {
                timestamp_us: Some(1_715_900_000_123_456),
                thread_id: Some(77),
                sql_mode: Some(1_411_383_296),
                time_zone: Some("+00:00".into()),
                charset_client: Some(33),
                collation_connection: Some(33),
                collation_server: Some(8),
                collation_database: None,
                lc_time_names: Some(0),
                foreign_key_checks: Some(true),
                unique_checks: Some(true),
                autocommit: Some(true),
                sql_auto_is_null: Some(false),
                auto_increment_increment: Some(2),
                auto_increment_offset: Some(1),
                insert_id: Some(1000),
                last_insert_id: None,
                rand_seeds: Some((123_456_789, 987_654_321)),
                user_vars: vec![
                    UserVar {
                        name: "a".into(),
                        value: Value::Bytes(b"hello".to_vec()),
                        collation: Some(33),
                        unsigned: false,
                        data_type: None,
                    },
                    UserVar {
                        name: "n".into(),
                        value: Value::UInt(u64::MAX),
                        collation: None,
                        unsigned: true,
                        data_type: None,
                    },
                ],
                default_storage_engine: Some("InnoDB".into()),
                ..SessionVars::default()
            },
            error_code: 0,
            infile: None,
        })],
    }
}

/// A statement with the flags2 options of MariaDB's query events (session
/// bits 20-23, added to version 2 after `statement`'s layout was pinned:
/// that golden file stays as it was and still decodes).
fn statement_options() -> EventBody {
    EventBody {
        metadata: vec![(meta::SCHEMA_CHANGE.into(), "true".into())],
        changes: vec![Change::Statement(Statement {
            default_db: Some("test".into()),
            sql: b"create table t1 (f1 timestamp, f2 timestamp)".to_vec(),
            session: SessionVars {
                sql_mode: Some(1_411_383_296),
                check_constraint_checks: Some(true),
                sql_if_exists: Some(false),
                explicit_defaults_for_timestamp: Some(true),
                system_versioning_insert_history: Some(false),
                ..SessionVars::default()
            },
            error_code: 0,
            infile: None,
        })],
    }
}

/// A statement using a geometry-typed user variable (its data type name
/// after the value, user var flag bit 2).
fn statement_geometry_var() -> EventBody {
    let mut point = vec![0, 0, 0, 0, 1, 1, 0, 0, 0];
    point.extend_from_slice(&1f64.to_le_bytes());
    point.extend_from_slice(&1f64.to_le_bytes());
    EventBody {
        metadata: vec![],
        changes: vec![Change::Statement(Statement {
            default_db: Some("test".into()),
            sql: b"CREATE TABLE t1 AS SELECT @p AS p".to_vec(),
            session: SessionVars {
                user_vars: vec![UserVar {
                    name: "p".into(),
                    value: Value::Bytes(point),
                    collation: Some(63),
                    unsigned: false,
                    data_type: Some("point".into()),
                }],
                ..SessionVars::default()
            },
            error_code: 0,
            infile: None,
        })],
    }
}

/// `LOAD DATA` logged as a statement: the file's bytes travel with it
/// (statement flag bit 1).
fn statement_infile() -> EventBody {
    EventBody {
        metadata: vec![],
        changes: vec![Change::Statement(Statement {
            default_db: Some("ld".into()),
            sql: b"LOAD DATA LOCAL INFILE 'tungsten-load-data' INTO  TABLE t".to_vec(),
            session: SessionVars::default(),
            error_code: 0,
            infile: Some(b"1\tab\n2\tcd\n".to_vec()),
        })],
    }
}

fn column(index: u16, name: &str, type_code: u8, type_meta: u16, type_desc: &str) -> ColumnSpec {
    ColumnSpec {
        index,
        name: name.into(),
        type_code,
        type_meta,
        unsigned: false,
        nullable: index != 0,
        key: index == 0,
        collation: None,
        type_desc: type_desc.into(),
    }
}

/// Row changes with one column of each value variant.
fn rows() -> EventBody {
    let columns = vec![
        ColumnSpec {
            unsigned: true,
            ..column(0, "id", 8, 0, "bigint(20) unsigned")
        },
        column(1, "i", 8, 0, "bigint(20)"),
        column(2, "f", 4, 4, "float"),
        column(3, "d", 5, 8, "double"),
        column(4, "dec", 246, 0x0a04, "decimal(10,4)"),
        column(5, "dt", 10, 0, "date"),
        column(6, "dtm", 18, 6, "datetime(6)"),
        column(7, "ts", 17, 3, "timestamp(3)"),
        column(8, "tm", 19, 6, "time(6)"),
        column(9, "y", 13, 0, "year(4)"),
        column(10, "b", 16, 0x0800, "bit(64)"),
        column(11, "e", 254, 0xf701, "enum('a','b')"),
        column(12, "s", 254, 0xf801, "set('x','y','z')"),
        ColumnSpec {
            collation: Some(45),
            ..column(13, "txt", 15, 128, "varchar(32)")
        },
    ];
    // Edges of each column's type: the shared ones from thl::testing, the
    // rest local (not in the shared set, or tied to a column such as the
    // decimal(10,4)); any change to these values changes body_rows.bin.
    let before = vec![
        Value::UInt(u64::MAX),
        Value::Int(i64::MIN),
        Value::Float(f32::from_bits(0x7fc0_0001)),
        Value::Double(-0.0),
        Value::Decimal("-123456.7890".into()),
        Value::Date(ZERO_DATE),
        Value::DateTime(ZERO_DATETIME),
        Value::Timestamp { secs: 0, micros: 0 },
        Value::Time(TIME_MIN_WHOLE),
        Value::Year(0),
        Value::Bit(u64::MAX),
        Value::Enum(0),
        Value::Set(0),
        Value::Null,
    ];
    let after = vec![
        Value::UInt(1),
        Value::Int(-1),
        Value::Float(1.5),
        Value::Double(f64::from_bits(0x7ff4_0000_0000_00ff)),
        Value::Decimal("0.0001".into()),
        Value::Date(Date {
            year: 2024,
            month: 2,
            day: 29,
        }),
        Value::DateTime(DateTime {
            year: 2024,
            month: 5,
            day: 17,
            hour: 13,
            minute: 37,
            second: 42,
            micros: 123_456,
        }),
        Value::Timestamp {
            secs: 1_715_952_662,
            micros: 999_000,
        },
        Value::Time(Time {
            negative: true,
            hours: 0,
            minutes: 0,
            seconds: 1,
            micros: 250_000,
        }),
        Value::Year(2155),
        Value::Bit(0b1010),
        Value::Enum(2),
        Value::Set(0b101),
        Value::Bytes("héllo, wörld".as_bytes().to_vec()),
    ];
    let all: Vec<u16> = (0..14).collect();
    EventBody {
        metadata: vec![(meta::GTID.into(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:23".into())],
        changes: vec![
            Change::Rows(RowChanges {
                schema: "shop".into(),
                table: "types".into(),
                action: RowAction::Update,
                columns: columns.clone(),
                before_columns: all.clone(),
                after_columns: all,
                flags: RowFlags {
                    no_foreign_key_checks: true,
                    relaxed_unique_checks: false,
                    no_check_constraint_checks: false,
                },
                rows: vec![RowImage { before, after }],
            }),
            Change::Rows(RowChanges {
                schema: "shop".into(),
                table: "types".into(),
                action: RowAction::Delete,
                columns,
                before_columns: vec![0],
                after_columns: vec![],
                flags: RowFlags {
                    no_foreign_key_checks: false,
                    relaxed_unique_checks: true,
                    no_check_constraint_checks: true,
                },
                rows: vec![
                    RowImage {
                        before: vec![Value::UInt(1)],
                        after: vec![],
                    },
                    RowImage {
                        before: vec![Value::UInt(2)],
                        after: vec![],
                    },
                ],
            }),
        ],
    }
}

fn check_golden(name: &str, body: &EventBody) {
    let mut bytes = Vec::new();
    encode_body(body, &mut bytes);
    let path = golden_path(name);
    if std::env::var_os("THL_BLESS").is_some_and(|v| v == "1") {
        if let Err(e) = std::fs::write(&path, &bytes) {
            panic!("cannot write {}: {e}", path.display());
        }
        return;
    }
    let golden = match std::fs::read(&path) {
        Ok(g) => g,
        Err(e) => panic!("cannot read {} (generate with THL_BLESS=1): {e}", path.display()),
    };
    assert!(bytes == golden, "encoding of {name} differs from {}", path.display());
    let decoded = match decode_body(&golden) {
        Ok(b) => b,
        Err(e) => panic!("{}: {e}", path.display()),
    };
    // NaN defeats `PartialEq`: compare the bytes of a re-encoding (bit-exact)
    // and the `Debug` forms (every field).
    let mut again = Vec::new();
    encode_body(&decoded, &mut again);
    assert!(again == golden, "{name}: decode then encode differs");
    assert_eq!(format!("{decoded:?}"), format!("{body:?}"));
}

#[test]
fn golden_heartbeat() {
    check_golden("heartbeat", &heartbeat());
}

#[test]
fn golden_statement() {
    check_golden("statement", &statement());
}

#[test]
fn golden_statement_options() {
    check_golden("statement_options", &statement_options());
}

#[test]
fn golden_statement_geometry_var() {
    check_golden("statement_geometry_var", &statement_geometry_var());
}

#[test]
fn golden_statement_infile() {
    check_golden("statement_infile", &statement_infile());
}

#[test]
fn golden_rows() {
    check_golden("rows", &rows());
}

/// A body of format version 1 (before row flags existed) still decodes, with
/// both checks on, and re-encodes as the current version.
#[test]
fn golden_rows_version_1_still_decodes() {
    let path = golden_path("rows_v1");
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(golden[0], 1, "the v1 golden file starts with version 1");
    let decoded = decode_body(&golden).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut want = rows();
    for change in &mut want.changes {
        if let Change::Rows(r) = change {
            r.flags = RowFlags::default();
        }
    }
    assert_eq!(format!("{decoded:?}"), format!("{want:?}"));
    let mut again = Vec::new();
    encode_body(&decoded, &mut again);
    assert_eq!(again[0], thl::codec::BODY_FORMAT_VERSION);
}

#[test]
fn golden_empty() {
    check_golden("empty", &EventBody::default());
}

//! Round-trip tests of the body codec: every `Value` variant and edge value
//! (the shared set, `thl::testing::edge_values`), arbitrary bodies
//! (proptest), a multi-MB blob, and byte-level spot checks of the layout
//! documented in `thl::codec`.

use proptest::prelude::*;
use thl::codec::{decode_body, encode_body, BODY_FORMAT_VERSION};
use thl::event::{
    Change, ColumnSpec, Date, DateTime, EventBody, RowAction, RowChanges, RowImage, SessionVars, Statement, Time,
    UserVar, Value,
};
use thl::testing::edge_values;

fn encode(body: &EventBody) -> Vec<u8> {
    let mut out = Vec::new();
    encode_body(body, &mut out);
    out
}

/// Floats compared by their bits (NaN != NaN under `PartialEq`).
fn bitwise(v: &Value) -> Value {
    match v {
        Value::Float(f) => Value::Bytes(format!("f32:{:#x}", f.to_bits()).into_bytes()),
        Value::Double(f) => Value::Bytes(format!("f64:{:#x}", f.to_bits()).into_bytes()),
        other => other.clone(),
    }
}

/// The body with every float replaced by a bit-exact stand-in.
fn comparable(body: &EventBody) -> EventBody {
    let mut body = body.clone();
    for change in &mut body.changes {
        match change {
            Change::Statement(s) => {
                for uv in &mut s.session.user_vars {
                    uv.value = bitwise(&uv.value);
                }
            }
            Change::Rows(r) => {
                for row in &mut r.rows {
                    for v in row.before.iter_mut().chain(row.after.iter_mut()) {
                        *v = bitwise(v);
                    }
                }
            }
        }
    }
    body
}

/// Encodes, decodes, and checks both the value (bitwise) and the canonical
/// bytes (re-encoding gives the same bytes).
fn assert_round_trip(body: &EventBody) {
    let bytes = encode(body);
    assert_eq!(bytes.first(), Some(&BODY_FORMAT_VERSION));
    let decoded = match decode_body(&bytes) {
        Ok(b) => b,
        Err(e) => panic!("decode failed: {e}"),
    };
    assert_eq!(comparable(&decoded), comparable(body));
    assert_eq!(encode(&decoded), bytes, "re-encoding differs");
}

fn rows_body(values: Vec<Value>) -> EventBody {
    let columns: Vec<ColumnSpec> = (0..values.len())
        .map(|i| ColumnSpec {
            index: i as u16,
            name: format!("c{i}"),
            type_code: 15,
            type_meta: 32,
            unsigned: false,
            nullable: true,
            key: i == 0,
            collation: Some(45),
            type_desc: "varchar(32)".into(),
        })
        .collect();
    let indexes: Vec<u16> = (0..values.len() as u16).collect();
    EventBody {
        metadata: vec![],
        changes: vec![Change::Rows(RowChanges {
            schema: "db".into(),
            table: "t".into(),
            action: RowAction::Update,
            columns,
            before_columns: indexes.clone(),
            after_columns: indexes,
            flags: thl::event::RowFlags::default(),
            rows: vec![RowImage {
                before: values.clone(),
                after: values,
            }],
        })],
    }
}

#[test]
fn every_value_variant_and_edge_value() {
    assert_round_trip(&rows_body(edge_values()));
}

#[test]
fn every_value_as_user_var() {
    let user_vars = edge_values()
        .into_iter()
        .enumerate()
        .map(|(i, value)| UserVar {
            name: format!("v{i}"),
            value,
            collation: (i % 2 == 0).then_some(33),
            unsigned: i % 3 == 0,
            data_type: (i % 4 == 1).then(|| "point".to_owned()),
        })
        .collect();
    let body = EventBody {
        metadata: vec![],
        changes: vec![Change::Statement(Statement {
            session: SessionVars {
                user_vars,
                ..SessionVars::default()
            },
            ..Statement::default()
        })],
    };
    assert_round_trip(&body);
}

#[test]
fn empty_and_default_bodies() {
    assert_round_trip(&EventBody::default());
    assert_eq!(encode(&EventBody::default()), [BODY_FORMAT_VERSION, 0, 0]);
    let minimal = EventBody {
        metadata: vec![(String::new(), String::new())],
        changes: vec![
            Change::Statement(Statement::default()),
            Change::Rows(RowChanges {
                schema: String::new(),
                table: String::new(),
                action: RowAction::Insert,
                columns: vec![ColumnSpec {
                    index: 0,
                    name: String::new(),
                    type_code: 0,
                    type_meta: 0,
                    unsigned: false,
                    nullable: false,
                    key: false,
                    collation: None,
                    type_desc: String::new(),
                }],
                before_columns: vec![],
                after_columns: vec![0],
                flags: thl::event::RowFlags::default(),
                rows: vec![
                    RowImage::default(),
                    RowImage {
                        before: vec![],
                        after: vec![Value::Null],
                    },
                ],
            }),
        ],
    };
    assert_round_trip(&minimal);
}

#[test]
fn all_session_vars_at_their_extremes() {
    let session = SessionVars {
        timestamp_us: Some(i64::MIN),
        thread_id: Some(u32::MAX),
        sql_mode: Some(u64::MAX),
        time_zone: Some("Europe/Paris".into()),
        charset_client: Some(u16::MAX),
        collation_connection: Some(0),
        collation_server: Some(255),
        collation_database: Some(224),
        lc_time_names: Some(0),
        foreign_key_checks: Some(false),
        unique_checks: Some(true),
        autocommit: Some(false),
        sql_auto_is_null: Some(true),
        auto_increment_increment: Some(u16::MAX),
        auto_increment_offset: Some(1),
        insert_id: Some(u64::MAX),
        last_insert_id: Some(0),
        rand_seeds: Some((u64::MAX, 0)),
        user_vars: vec![UserVar {
            name: "x".into(),
            value: Value::UInt(u64::MAX),
            collation: None,
            unsigned: true,
            data_type: None,
        }],
        default_storage_engine: Some("InnoDB".into()),
        check_constraint_checks: Some(false),
        sql_if_exists: Some(true),
        explicit_defaults_for_timestamp: Some(false),
        system_versioning_insert_history: Some(true),
    };
    let body = EventBody {
        metadata: vec![("gtid".into(), "0-1-42".into())],
        changes: vec![Change::Statement(Statement {
            default_db: Some("db".into()),
            sql: b"INSERT INTO t VALUES (@x, RAND())".to_vec(),
            session,
            error_code: u16::MAX,
            infile: Some(b"1\tab\n2\tcd\n".to_vec()),
        })],
    };
    assert_round_trip(&body);
}

#[test]
fn multi_megabyte_blob() {
    let blob: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let body = rows_body(vec![Value::Bytes(blob), Value::Int(1)]);
    assert_round_trip(&body);
}

/// Spot checks of the documented layout, byte by byte.
#[test]
fn layout_spot_checks() {
    let body = EventBody {
        metadata: vec![("a".into(), "bc".into())],
        changes: vec![Change::Statement(Statement {
            default_db: Some("d".into()),
            sql: b"S".to_vec(),
            session: SessionVars {
                foreign_key_checks: Some(true),
                timestamp_us: Some(-1),
                ..SessionVars::default()
            },
            error_code: 300,
            infile: None,
        })],
    };
    #[rustfmt::skip]
    let expected = [
        2,                          // version
        1, 1, b'a', 2, b'b', b'c',  // metadata: count, name, value
        1,                          // change count
        0x01,                       // Statement
        0x01, 1, b'd',              // flags (default_db), default_db
        1, b'S',                    // sql
        0x81, 0x04,                 // mask: bits 0 and 9 = 0x201 as varint
        0x01,                       // timestamp_us -1 zigzag
        0x01,                       // foreign_key_checks
        0xac, 0x02,                 // error_code 300
    ];
    assert_eq!(encode(&body), expected);

    let values = [
        (Value::Null, vec![0x00]),
        (Value::Int(i64::MIN), [vec![0x01], vec![0xff; 9], vec![0x01]].concat()),
        (Value::Int(-2), vec![0x01, 0x03]),
        (Value::UInt(300), vec![0x02, 0xac, 0x02]),
        (Value::Float(1.0), vec![0x03, 0x00, 0x00, 0x80, 0x3f]),
        (Value::Double(-0.0), vec![0x04, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        (Value::Decimal("-1.5".into()), vec![0x05, 4, b'-', b'1', b'.', b'5']),
        (
            Value::Date(Date {
                year: 2024,
                month: 5,
                day: 17,
            }),
            vec![0x06, 0xe8, 0x07, 5, 17],
        ),
        (
            Value::DateTime(DateTime {
                year: 2024,
                month: 5,
                day: 17,
                hour: 1,
                minute: 2,
                second: 3,
                micros: 200,
            }),
            vec![0x07, 0xe8, 0x07, 5, 17, 1, 2, 3, 0xc8, 0x01],
        ),
        (Value::Timestamp { secs: 1, micros: 0 }, vec![0x08, 0x02, 0x00]),
        (
            Value::Time(Time {
                negative: true,
                hours: 838,
                minutes: 1,
                seconds: 2,
                micros: 5,
            }),
            vec![0x09, 0x01, 0x46, 0x03, 1, 2, 5],
        ),
        (Value::Year(2155), vec![0x0a, 0x6b, 0x08]),
        (Value::Bit(5), vec![0x0b, 5]),
        (Value::Enum(2), vec![0x0c, 2]),
        (Value::Set(3), vec![0x0d, 3]),
        (Value::Bytes(vec![9, 8]), vec![0x0e, 2, 9, 8]),
    ];
    for (value, payload) in values {
        let body = EventBody {
            metadata: vec![],
            changes: vec![Change::Rows(RowChanges {
                schema: "s".into(),
                table: "t".into(),
                action: RowAction::Delete,
                columns: vec![ColumnSpec {
                    index: 0,
                    name: "c".into(),
                    type_code: 8,
                    type_meta: 0,
                    unsigned: true,
                    nullable: false,
                    key: true,
                    collation: Some(63),
                    type_desc: String::new(),
                }],
                before_columns: vec![0],
                after_columns: vec![],
                flags: thl::event::RowFlags::default(),
                rows: vec![RowImage {
                    before: vec![value.clone()],
                    after: vec![],
                }],
            })],
        };
        #[rustfmt::skip]
        let head = [
            2, 0, 1,                    // version, no metadata, one change
            0x02,                       // Rows
            1, b's', 1, b't',           // schema, table
            0x03,                       // DELETE
            0,                          // row flags: checks on
            1,                          // one column:
            0, 1, b'c', 8, 0,           //   index, name, type_code, type_meta
            0b1101, 63, 0,              //   flags (unsigned, key, collation), collation, type_desc
            1, 0, 0,                    // before_columns [0], after_columns []
            1, 1,                       // one row, before image holds one value
        ];
        let expected = [&head[..], &payload, &[0]].concat(); // empty after image
        assert_eq!(encode(&body), expected, "{value:?}");
    }
}

// ---- proptest: arbitrary bodies ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => ".{0,12}",
        1 => (any::<char>(), 65_537usize..66_000).prop_map(|(c, n)| c.to_string().repeat(n)),
    ]
}

fn blob() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => (any::<u8>(), 65_537usize..70_000).prop_map(|(b, n)| vec![b; n]),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX)].prop_map(Value::Int),
        prop_oneof![any::<u64>(), Just(u64::MAX)].prop_map(Value::UInt),
        any::<u32>().prop_map(|b| Value::Float(f32::from_bits(b))),
        any::<u64>().prop_map(|b| Value::Double(f64::from_bits(b))),
        "-?[0-9]{1,30}(\\.[0-9]{1,30})?".prop_map(Value::Decimal),
        (any::<u16>(), any::<u8>(), any::<u8>()).prop_map(|(year, month, day)| Value::Date(Date { year, month, day })),
        (any::<u16>(), any::<[u8; 5]>(), any::<u32>()).prop_map(|(year, b, micros)| {
            let [month, day, hour, minute, second] = b;
            Value::DateTime(DateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                micros,
            })
        }),
        (any::<i64>(), any::<u32>()).prop_map(|(secs, micros)| Value::Timestamp { secs, micros }),
        (any::<bool>(), any::<u16>(), any::<u8>(), any::<u8>(), any::<u32>()).prop_map(
            |(negative, hours, minutes, seconds, micros)| {
                Value::Time(Time {
                    negative,
                    hours,
                    minutes,
                    seconds,
                    micros,
                })
            }
        ),
        prop_oneof![Just(0u16), 1901u16..=2155, any::<u16>()].prop_map(Value::Year),
        any::<u64>().prop_map(Value::Bit),
        any::<u16>().prop_map(Value::Enum),
        any::<u64>().prop_map(Value::Set),
        blob().prop_map(Value::Bytes),
    ]
}

fn user_var() -> impl Strategy<Value = UserVar> {
    (text(), value(), any::<Option<u16>>(), any::<bool>()).prop_map(|(name, value, collation, unsigned)| UserVar {
        name,
        value,
        collation,
        unsigned,
        data_type: None,
    })
}

fn session() -> impl Strategy<Value = SessionVars> {
    let a = (
        any::<Option<i64>>(),
        any::<Option<u32>>(),
        any::<Option<u64>>(),
        proptest::option::of(text()),
        any::<[Option<u16>; 5]>(),
    );
    let b = (
        any::<[Option<bool>; 8]>(),
        any::<[Option<u16>; 2]>(),
        any::<[Option<u64>; 2]>(),
        any::<Option<(u64, u64)>>(),
        proptest::collection::vec(user_var(), 0..3),
        proptest::option::of(text()),
    );
    (a, b).prop_map(
        |((ts, thread, mode, tz, ids), (flags, inc, ids64, seeds, uvs, engine))| {
            let [charset_client, collation_connection, collation_server, collation_database, lc] = ids;
            let [foreign_key_checks, unique_checks, autocommit, sql_auto_is_null, check_constraint_checks, sql_if_exists, explicit_defaults_for_timestamp, system_versioning_insert_history] =
                flags;
            SessionVars {
                timestamp_us: ts,
                thread_id: thread,
                sql_mode: mode,
                time_zone: tz,
                charset_client,
                collation_connection,
                collation_server,
                collation_database,
                lc_time_names: lc,
                foreign_key_checks,
                unique_checks,
                autocommit,
                sql_auto_is_null,
                auto_increment_increment: inc[0],
                auto_increment_offset: inc[1],
                insert_id: ids64[0],
                last_insert_id: ids64[1],
                rand_seeds: seeds,
                user_vars: uvs,
                default_storage_engine: engine,
                check_constraint_checks,
                sql_if_exists,
                explicit_defaults_for_timestamp,
                system_versioning_insert_history,
            }
        },
    )
}

fn statement() -> impl Strategy<Value = Statement> {
    (
        proptest::option::of(text()),
        blob(),
        session(),
        any::<u16>(),
        proptest::option::of(blob()),
    )
        .prop_map(|(default_db, sql, session, error_code, infile)| Statement {
            default_db,
            sql,
            session,
            error_code,
            infile,
        })
}

fn column_spec() -> impl Strategy<Value = ColumnSpec> {
    (
        any::<u16>(),
        text(),
        any::<u8>(),
        any::<u16>(),
        any::<[bool; 3]>(),
        any::<Option<u16>>(),
        text(),
    )
        .prop_map(
            |(index, name, type_code, type_meta, [unsigned, nullable, key], collation, type_desc)| ColumnSpec {
                index,
                name,
                type_code,
                type_meta,
                unsigned,
                nullable,
                key,
                collation,
                type_desc,
            },
        )
}

fn row_changes() -> impl Strategy<Value = RowChanges> {
    let action = prop_oneof![
        Just(RowAction::Insert),
        Just(RowAction::Update),
        Just(RowAction::Delete)
    ];
    let row = (
        proptest::collection::vec(value(), 0..6),
        proptest::collection::vec(value(), 0..6),
    )
        .prop_map(|(before, after)| RowImage { before, after });
    (
        text(),
        text(),
        action,
        proptest::collection::vec(column_spec(), 0..4),
        proptest::collection::vec(any::<u16>(), 0..4),
        proptest::collection::vec(any::<u16>(), 0..4),
        proptest::collection::vec(row, 0..4),
        (any::<bool>(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(schema, table, action, columns, before_columns, after_columns, rows, (fk, uniq, check))| RowChanges {
                schema,
                table,
                action,
                columns,
                before_columns,
                after_columns,
                flags: thl::event::RowFlags {
                    no_foreign_key_checks: fk,
                    relaxed_unique_checks: uniq,
                    no_check_constraint_checks: check,
                },
                rows,
            },
        )
}

fn event_body() -> impl Strategy<Value = EventBody> {
    let change = prop_oneof![
        statement().prop_map(Change::Statement),
        row_changes().prop_map(Change::Rows)
    ];
    (
        proptest::collection::vec((text(), text()), 0..4),
        proptest::collection::vec(change, 0..4),
    )
        .prop_map(|(metadata, changes)| EventBody { metadata, changes })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_body_round_trips(body in event_body()) {
        assert_round_trip(&body);
    }

    #[test]
    fn arbitrary_value_round_trips(v in value()) {
        assert_round_trip(&rows_body(vec![v]));
    }
}

/// Rough throughput of a typical 8-column row. Informational; run with
/// `cargo test -p thl --release --test codec_roundtrip -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_typical_rows() {
    let row = vec![
        Value::Int(123_456),
        Value::UInt(42),
        Value::Bytes(b"customer-name-0001".to_vec()),
        Value::Decimal("1234.50".into()),
        Value::DateTime(DateTime {
            year: 2024,
            month: 5,
            day: 17,
            hour: 13,
            minute: 37,
            second: 42,
            micros: 0,
        }),
        Value::Null,
        Value::Double(3.25),
        Value::Bytes(vec![b'x'; 64]),
    ];
    let mut body = rows_body(row.clone());
    if let Some(Change::Rows(r)) = body.changes.first_mut() {
        r.rows = vec![
            RowImage {
                before: vec![],
                after: row
            };
            1000
        ];
    }
    let mut out = Vec::new();
    let rounds = 1000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        out.clear();
        encode_body(&body, &mut out);
    }
    let enc = start.elapsed();
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(decode_body(&out).is_ok());
    }
    let dec = start.elapsed();
    let rows = f64::from(rounds * 1000);
    println!(
        "{} bytes/row; encode {:.2} M rows/s; decode {:.2} M rows/s",
        out.len() / 1000,
        rows / enc.as_secs_f64() / 1e6,
        rows / dec.as_secs_f64() / 1e6
    );
}

//! The encoder against the decoder: row changes written as binlog events
//! decode back to the same values, edge values included.

use thl::event::{ColumnSpec, Date, DateTime, RowAction, RowChanges, RowFlags, RowImage, Time, Value};
use thl::testing::{LONG_BYTES_LEN, TIMESTAMP_MAX_SECS, TIME_ONE_MICRO, ZERO_DATE, ZERO_DATETIME};

use super::encode::{decimal_to_bin, EventWriter, ROWS_EVENT_TARGET};
use super::table_map::types::*;
use super::values::decimal_to_string;
use super::{BinlogEvent, Decoder};

/// A nullable column `c<index>`, the first one the key (also used by the
/// applier's `BINLOG` statement tests).
pub(crate) fn col(index: u16, type_code: u8, type_meta: u16) -> ColumnSpec {
    ColumnSpec {
        type_meta,
        key: index == 0,
        ..ColumnSpec::of_type(index, format!("c{index}"), type_code)
    }
}

fn changes(action: RowAction, columns: Vec<ColumnSpec>, rows: Vec<RowImage>) -> RowChanges {
    let all: Vec<u16> = (0..columns.len() as u16).collect();
    RowChanges {
        schema: "db".into(),
        table: "t".into(),
        action,
        columns,
        before_columns: if action == RowAction::Insert {
            vec![]
        } else {
            all.clone()
        },
        after_columns: if action == RowAction::Delete { vec![] } else { all },
        flags: RowFlags::default(),
        rows,
    }
}

/// Splits a buffer of whole events by their `event_size`.
pub(super) fn split_events(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while bytes.len() >= 13 {
        let size = u32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]) as usize;
        let (e, rest) = bytes.split_at(size);
        out.push(e);
        bytes = rest;
    }
    assert!(bytes.is_empty(), "trailing bytes after the last event");
    out
}

/// Writes FDE + TABLE_MAP + rows events, decodes them, and returns the rows
/// events' changes (merged) and their flags.
fn round_trip(rc: &RowChanges) -> (RowChanges, Vec<u16>) {
    let w = EventWriter::new(7, 1_700_000_000);
    let mut bytes = Vec::new();
    w.format_description(&mut bytes);
    w.table_map(&mut bytes, 42, rc).expect("table map encodes");
    w.rows(&mut bytes, 42, rc, true).expect("rows encode");
    let mut dec = Decoder::new("encoded");
    let mut merged: Option<RowChanges> = None;
    let mut flags = Vec::new();
    for (i, e) in split_events(&bytes).into_iter().enumerate() {
        match dec.decode(e, i as u64).unwrap_or_else(|err| panic!("event {i}: {err}")) {
            BinlogEvent::Rows(r) => {
                flags.push(r.flags);
                match &mut merged {
                    Some(m) => m.rows.extend(r.changes.rows),
                    None => merged = Some(r.changes),
                }
            }
            BinlogEvent::FormatDescription(_) | BinlogEvent::TableMap(_) => {}
            other => panic!("unexpected event {}", other.kind_name()),
        }
    }
    let merged = merged.unwrap_or_else(|| panic!("no rows event decoded"));
    (merged, flags)
}

#[test]
fn every_kind_round_trips_with_edge_values() {
    let mut u = col(2, LONGLONG, 0);
    u.unsigned = true;
    let mut binary = col(13, STRING, (u16::from(STRING) << 8) | 4);
    binary.collation = Some(63);
    let mut varchar = col(16, VARCHAR, 300);
    varchar.collation = Some(45);
    let mut blob = col(17, BLOB, 4);
    blob.collation = Some(63);
    let columns = vec![
        col(0, LONG, 0),
        col(1, LONGLONG, 0),
        u,
        col(3, INT24, 0),
        col(4, FLOAT, 4),
        col(5, DOUBLE, 8),
        col(6, NEWDECIMAL, (65 << 8) | 30),
        col(7, YEAR, 0),
        col(8, DATE, 0),
        col(9, TIME2, 6),
        col(10, DATETIME2, 3),
        col(11, TIMESTAMP2, 2),
        col(12, BIT, 8 << 8),
        binary,
        col(14, ENUM, (u16::from(ENUM) << 8) | 2),
        col(15, SET, (u16::from(SET) << 8) | 8),
        varchar,
        blob,
        col(18, TIME2, 1),
        col(19, TIME2, 4),
    ];
    let big_dec = format!("-{}.{}", "9".repeat(35), "1".repeat(30));
    // One value per column above, so tied to its type: the shared edges
    // (thl::testing) where the column takes them, local values where the
    // edge is the column's own (INT24's range, TIME2(6)'s -838:59:59.999999,
    // DATETIME2(3)'s last millisecond...).
    let row1 = vec![
        Value::Int(i64::from(i32::MIN)),
        Value::Int(i64::MIN),
        Value::UInt(u64::MAX),
        Value::Int(-8_388_608),
        Value::Float(f32::from_bits(0x7fc0_0001)),
        Value::Double(-0.0),
        Value::Decimal(big_dec),
        Value::Year(2155),
        Value::Date(ZERO_DATE),
        Value::Time(Time {
            negative: true,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 999_999,
        }),
        Value::DateTime(DateTime {
            year: 9999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 59,
            micros: 999_000,
        }),
        Value::Timestamp {
            secs: TIMESTAMP_MAX_SECS,
            micros: 990_000,
        },
        Value::Bit(u64::MAX),
        Value::Bytes(vec![0, 1, 0, 0]),
        Value::Enum(300),
        Value::Set(1 << 63),
        Value::Bytes("gås \u{1F600}".repeat(10).into_bytes()),
        Value::Bytes(vec![0u8; LONG_BYTES_LEN]),
        Value::Time(Time {
            negative: true,
            hours: 10,
            minutes: 20,
            seconds: 30,
            micros: 100_000,
        }),
        Value::Time(Time {
            negative: true,
            hours: 0,
            minutes: 0,
            seconds: 0,
            micros: 100,
        }),
    ];
    let row2: Vec<Value> = (0..columns.len())
        .map(|i| if i == 0 { Value::Int(2) } else { Value::Null })
        .collect();
    let row3 = vec![
        Value::Int(3),
        Value::Int(0),
        Value::UInt(0),
        Value::Int(8_388_607),
        Value::Float(1.5),
        Value::Double(f64::MAX),
        Value::Decimal("0.000000000000000000000000000001".into()),
        Value::Year(0),
        Value::Date(Date {
            year: 2001,
            month: 2,
            day: 29,
        }),
        Value::Time(TIME_ONE_MICRO),
        Value::DateTime(ZERO_DATETIME),
        Value::Timestamp { secs: 0, micros: 0 },
        Value::Bit(0),
        Value::Bytes(vec![0xff, 0, 0, 0]),
        Value::Enum(0),
        Value::Set(0),
        Value::Bytes(vec![]),
        Value::Bytes(vec![]),
        Value::Time(Time {
            negative: false,
            hours: 838,
            minutes: 59,
            seconds: 59,
            micros: 900_000,
        }),
        Value::Time(Time {
            negative: true,
            hours: 1,
            minutes: 0,
            seconds: 0,
            micros: 999_900,
        }),
    ];
    for action in [RowAction::Insert, RowAction::Delete, RowAction::Update] {
        let rows = [&row1, &row2, &row3]
            .iter()
            .map(|r| match action {
                RowAction::Insert => RowImage {
                    before: vec![],
                    after: (*r).clone(),
                },
                RowAction::Delete => RowImage {
                    before: (*r).clone(),
                    after: vec![],
                },
                RowAction::Update => RowImage {
                    before: row2.clone(),
                    after: (*r).clone(),
                },
            })
            .collect();
        let rc = changes(action, columns.clone(), rows);
        let (back, flags) = round_trip(&rc);
        // NaN payloads defeat PartialEq: compare the Debug forms.
        assert_eq!(format!("{:?}", back.rows), format!("{:?}", rc.rows), "{action:?}");
        let wire = |c: &ColumnSpec| (c.type_code, c.type_meta, c.unsigned, c.collation);
        let back_types: Vec<_> = back.columns.iter().map(wire).collect();
        let want_types: Vec<_> = rc.columns.iter().map(wire).collect();
        assert_eq!(back_types, want_types);
        assert_eq!(
            flags.last().map(|f| f & 1),
            Some(1),
            "the last event ends the statement"
        );
    }
}

/// Issue 8, item 1: a row with a few NULLs in a table of nine columns.
#[test]
fn nine_columns_with_eight_nulls_decode() {
    let columns: Vec<ColumnSpec> = (0..9).map(|i| col(i, LONG, 0)).collect();
    let mut after = vec![Value::Int(1)];
    after.resize(9, Value::Null);
    let rc = changes(RowAction::Insert, columns, vec![RowImage { before: vec![], after }]);
    let (back, _) = round_trip(&rc);
    assert_eq!(back.rows, rc.rows);
}

#[test]
fn row_flags_travel_and_large_changes_are_cut_into_events() {
    let columns = vec![col(0, LONG, 0), col(1, BLOB, 2)];
    let rows: Vec<RowImage> = (0..40)
        .map(|i| RowImage {
            before: vec![],
            after: vec![Value::Int(i), Value::Bytes(vec![b'x'; 10_000])],
        })
        .collect();
    let mut rc = changes(RowAction::Insert, columns, rows);
    rc.flags = RowFlags {
        no_foreign_key_checks: true,
        relaxed_unique_checks: true,
        no_check_constraint_checks: true,
    };
    let (back, flags) = round_trip(&rc);
    assert_eq!(back.rows, rc.rows);
    assert_eq!(back.flags, rc.flags);
    assert!(flags.len() >= 400_000 / ROWS_EVENT_TARGET, "{} events", flags.len());
    let (last, rest) = flags.split_last().expect("events");
    assert_eq!(*last, 2 | 4 | 128 | 1);
    assert!(rest.iter().all(|f| *f == 2 | 4 | 128), "{rest:?}");
}

#[test]
fn old_temporal_types_and_json_are_written_in_mariadb_types() {
    let columns = vec![
        col(0, LONG, 0),
        col(1, TIME, 0),
        col(2, DATETIME, 0),
        col(3, TIMESTAMP, 0),
        col(4, JSON, 4),
    ];
    let after = vec![
        Value::Int(1),
        Value::Time(Time {
            negative: true,
            hours: 12,
            minutes: 0,
            seconds: 1,
            micros: 0,
        }),
        Value::DateTime(DateTime {
            year: 1999,
            month: 12,
            day: 31,
            hour: 23,
            minute: 59,
            second: 58,
            micros: 0,
        }),
        Value::Timestamp {
            secs: 1_000_000_000,
            micros: 0,
        },
        Value::Bytes(br#"{"a": [1, 2.5, "x"]}"#.to_vec()),
    ];
    let rc = changes(RowAction::Insert, columns, vec![RowImage { before: vec![], after }]);
    let (back, _) = round_trip(&rc);
    assert_eq!(back.rows, rc.rows);
    let types: Vec<u8> = back.columns.iter().map(|c| c.type_code).collect();
    assert_eq!(types, vec![LONG, TIME2, DATETIME2, TIMESTAMP2, BLOB]);
}

#[test]
fn values_that_do_not_fit_are_errors_naming_the_column() {
    let bad = [
        (col(1, TINY, 0), Value::Int(128)),
        (col(1, VARCHAR, 10), Value::Bytes(vec![b'a'; 256])),
        (col(1, NEWDECIMAL, (5 << 8) | 2), Value::Decimal("1234.5".into())),
        (col(1, NEWDECIMAL, (5 << 8) | 2), Value::Decimal("1.234".into())),
        (
            col(1, TIME2, 0),
            Value::Time(Time {
                negative: false,
                hours: 1,
                minutes: 0,
                seconds: 0,
                micros: 5,
            }),
        ),
        (col(1, LONG, 0), Value::Bytes(b"1".to_vec())),
    ];
    for (c, v) in bad {
        let rc = changes(
            RowAction::Insert,
            vec![col(0, LONG, 0), c],
            vec![RowImage {
                before: vec![],
                after: vec![Value::Int(1), v.clone()],
            }],
        );
        let err = EventWriter::new(1, 0)
            .rows(&mut Vec::new(), 1, &rc, true)
            .expect_err(&format!("{v:?} must not encode"));
        assert_eq!(err.column, Some((1, "c1".into())), "{err}");
        assert!(err.to_string().contains("db.t column 1 (`c1`)"), "{err}");
    }
}

#[test]
fn decimals_round_trip_through_their_binary_form() {
    let cases = [
        ("0.00", 5, 2),
        ("-0.01", 5, 2),
        ("999.99", 5, 2),
        ("-999.99", 5, 2),
        ("123456789012345678", 18, 0),
        ("-1", 1, 0),
        ("0.123456789", 10, 9),
        ("12345678901234567890.1234567891", 30, 10),
    ];
    for (text, p, s) in cases {
        let mut bin = Vec::new();
        decimal_to_bin(text, p, s, &mut bin).expect("encodes");
        let (back, used) = decimal_to_string(&bin, p, s).expect("decodes");
        assert_eq!(used, bin.len());
        assert_eq!(back, text, "DECIMAL({p},{s})");
    }
}

#[test]
fn mariadb_53_fractional_temporals_round_trip_as_new_format_types() {
    use super::table_map::{column_kind, parse_table_map};
    use super::values::Kind;
    for fsp in 1..=6u8 {
        let unit = 10u32.pow(6 - u32::from(fsp));
        let frac = 999_999 / unit * unit;
        let columns = vec![
            col(0, LONG, 0),
            col(1, TIME, u16::from(fsp)),
            col(2, DATETIME, u16::from(fsp)),
            col(3, TIMESTAMP, u16::from(fsp)),
        ];
        assert_eq!(column_kind(&columns[1]).ok(), Some(Kind::TimeHires { fsp }));
        assert_eq!(column_kind(&columns[2]).ok(), Some(Kind::DateTimeHires { fsp }));
        assert_eq!(column_kind(&columns[3]).ok(), Some(Kind::TimestampHires { fsp }));
        let row = |negative: bool, hours: u16, micros: u32, year: u16, secs: i64| RowImage {
            before: vec![],
            after: vec![
                Value::Int(1),
                Value::Time(Time {
                    negative,
                    hours,
                    minutes: 59,
                    seconds: 59,
                    micros,
                }),
                Value::DateTime(DateTime {
                    year,
                    month: 12,
                    day: 31,
                    hour: 23,
                    minute: 59,
                    second: 59,
                    micros,
                }),
                Value::Timestamp { secs, micros },
            ],
        };
        let mut nulls = row(false, 0, 0, 0, 0);
        nulls.after[1..].fill(Value::Null);
        let rows = vec![
            row(false, 838, frac, 9999, 0x7FFF_FFFF),
            row(true, 838, frac, 1000, 1),
            row(true, 0, unit, 0, 0),
            nulls,
        ];
        let rc = changes(RowAction::Insert, columns, rows);
        let (back, _) = round_trip(&rc);
        assert_eq!(back.rows, rc.rows, "fsp {fsp}");
        let written: Vec<(u8, u16)> = back.columns.iter().map(|c| (c.type_code, c.type_meta)).collect();
        let f = u16::from(fsp);
        assert_eq!(written, vec![(LONG, 0), (TIME2, f), (DATETIME2, f), (TIMESTAMP2, f)]);
    }
    // A table map with such columns, refined as the extractor does: the
    // THL column specs give back the refined kinds.
    let columns = vec![
        col(0, LONG, 0),
        col(1, TIME, 0),
        col(2, DATETIME, 0),
        col(3, TIMESTAMP, 0),
    ];
    let rc = changes(RowAction::Insert, columns, vec![]);
    let mut bytes = Vec::new();
    EventWriter::new(7, 0)
        .table_map(&mut bytes, 5, &rc)
        .expect("table map encodes");
    // Payload after the 19-byte header, without the CRC.
    let tm = parse_table_map(&bytes[19..bytes.len() - 4], 8).expect("table map parses");
    assert_eq!(
        tm.old_temporal_columns(),
        Vec::<usize>::new(),
        "the encoder writes the new types"
    );
    let decoded = rc.clone();
    let tm = super::TableMap {
        table_id: 5,
        flags: 0,
        schema: "db".into(),
        table: "t".into(),
        kinds: decoded.columns.iter().map(|c| column_kind(c).expect("kind")).collect(),
        columns: decoded.columns,
        json_columns: 0,
        has_optional_metadata: false,
        has_column_names: false,
    };
    assert_eq!(tm.old_temporal_columns(), vec![1, 2, 3]);
    let refined = tm.with_temporal_precision(&[(1, 1), (2, 0), (3, 6)]).expect("refines");
    assert_eq!(
        refined.kinds[1..],
        [
            Kind::TimeHires { fsp: 1 },
            Kind::DateTimeOld,
            Kind::TimestampHires { fsp: 6 }
        ]
    );
    for (c, k) in refined.columns.iter().zip(&refined.kinds) {
        assert_eq!(column_kind(c).ok(), Some(*k));
    }
    assert_eq!(refined.columns[1].type_desc, "time(1)");
    assert!(tm.with_temporal_precision(&[(0, 1)]).is_err(), "not a temporal column");
    assert!(tm.with_temporal_precision(&[(1, 7)]).is_err(), "precision 7");
}

#[test]
fn mariadb_compressed_columns_decode_and_travel_uncompressed() {
    use super::values::uncompress_column;
    use std::io::Write as _;
    let text = b"compress me ".repeat(40);
    // zlib-wrapped (header 0x82: method 8, 2 length bytes) and raw deflate (0x8a).
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&text).expect("deflate");
    let mut stored = vec![0x82, (text.len() >> 8) as u8, text.len() as u8];
    stored.extend(zlib.finish().expect("deflate"));
    assert_eq!(uncompress_column(&stored).expect("zlib"), text);
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&text).expect("deflate");
    let mut stored_raw = vec![0x8a, (text.len() >> 8) as u8, text.len() as u8];
    stored_raw.extend(raw.finish().expect("deflate"));
    assert_eq!(uncompress_column(&stored_raw).expect("raw deflate"), text);
    assert_eq!(uncompress_column(b"\x00plain").expect("uncompressed"), b"plain");
    assert_eq!(uncompress_column(b"").expect("empty"), b"");
    // A wrong length, an unknown method, a truncated header are errors.
    stored[2] ^= 1;
    assert!(uncompress_column(&stored).is_err());
    assert!(uncompress_column(b"\x12abc").is_err());
    assert!(uncompress_column(b"\x83\x01").is_err());

    let mut v = col(1, VARCHAR_COMPRESSED, 501);
    v.collation = Some(8);
    let mut b = col(2, BLOB_COMPRESSED, 2);
    b.collation = Some(63);
    let rc = changes(
        RowAction::Insert,
        vec![col(0, LONG, 0), v, b],
        vec![
            RowImage {
                before: vec![],
                after: vec![
                    Value::Int(1),
                    Value::Bytes(text[..400].to_vec()),
                    Value::Bytes(text.clone()),
                ],
            },
            RowImage {
                before: vec![],
                after: vec![Value::Int(2), Value::Bytes(vec![]), Value::Null],
            },
        ],
    );
    let (back, _) = round_trip(&rc);
    assert_eq!(back.rows, rc.rows);
    // A 255-byte value in a column whose stored form has a 1-byte length
    // does not fit uncompressed: it travels compressed.
    let short = col(1, VARCHAR_COMPRESSED, 255);
    let rc = changes(
        RowAction::Insert,
        vec![col(0, LONG, 0), short],
        vec![RowImage {
            before: vec![],
            after: vec![Value::Int(1), Value::Bytes(vec![b'a'; 255])],
        }],
    );
    let (back, _) = round_trip(&rc);
    assert_eq!(back.rows, rc.rows);
}

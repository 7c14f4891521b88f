//! Malformed input: decoding must return an error naming the offset, never
//! panic, and never allocate more than the input justifies.

use proptest::prelude::*;
use std::time::{Duration, Instant};
use thl::codec::{decode_body, encode_body, DecodeReason, BODY_FORMAT_VERSION};
use thl::event::{
    Change, ColumnSpec, Date, EventBody, RowAction, RowChanges, RowImage, SessionVars, Statement, Time, UserVar, Value,
};

/// A body using every structure, several optional fields and value tags.
fn sample() -> EventBody {
    let columns = (0..3)
        .map(|i| ColumnSpec {
            index: i,
            name: format!("c{i}"),
            type_code: 3,
            type_meta: 300,
            unsigned: i == 1,
            nullable: true,
            key: i == 0,
            collation: (i == 2).then_some(45),
            type_desc: "int(11)".into(),
        })
        .collect();
    let image = vec![
        Value::Int(-5),
        Value::Time(Time {
            negative: true,
            hours: 1,
            minutes: 2,
            seconds: 3,
            micros: 4,
        }),
        Value::Bytes(b"abc".to_vec()),
    ];
    EventBody {
        metadata: vec![("gtid".into(), "0-1-2".into()), ("dbms_type".into(), "mysql".into())],
        changes: vec![
            Change::Statement(Statement {
                default_db: Some("db".into()),
                sql: b"UPDATE t SET a = @v".to_vec(),
                session: SessionVars {
                    timestamp_us: Some(1_700_000_000_000_000),
                    time_zone: Some("SYSTEM".into()),
                    unique_checks: Some(false),
                    insert_id: Some(300),
                    user_vars: vec![UserVar {
                        name: "v".into(),
                        value: Value::Double(1.25),
                        collation: Some(8),
                        unsigned: false,
                        data_type: None,
                    }],
                    ..SessionVars::default()
                },
                error_code: 1062,
                infile: None,
            }),
            Change::Rows(RowChanges {
                schema: "db".into(),
                table: "t".into(),
                action: RowAction::Update,
                columns,
                before_columns: vec![0, 1, 2],
                after_columns: vec![0, 1, 2],
                flags: thl::event::RowFlags::default(),
                rows: vec![RowImage {
                    before: image.clone(),
                    after: vec![
                        Value::UInt(u64::MAX),
                        Value::Date(Date {
                            year: 2000,
                            month: 1,
                            day: 1,
                        }),
                        Value::Decimal("1.50".into()),
                    ],
                }],
            }),
        ],
    }
}

fn encoded_sample() -> Vec<u8> {
    let mut out = Vec::new();
    encode_body(&sample(), &mut out);
    out
}

fn reason_of(bytes: &[u8]) -> (usize, DecodeReason) {
    match decode_body(bytes) {
        Ok(body) => panic!("decoded malformed input {bytes:02x?} to {body:?}"),
        Err(e) => (e.offset(), e.reason().clone()),
    }
}

#[test]
fn sample_decodes() {
    let bytes = encoded_sample();
    assert!(decode_body(&bytes).is_ok_and(|b| b == sample()));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = encoded_sample();
    for len in 0..bytes.len() {
        let prefix = bytes.get(..len).unwrap_or_default();
        let err = match decode_body(prefix) {
            Ok(_) => panic!("prefix of {len} bytes decoded"),
            Err(e) => e,
        };
        assert!(
            err.offset() <= len,
            "offset {} past the end of {len} bytes",
            err.offset()
        );
    }
}

#[test]
fn empty_input() {
    let (offset, reason) = reason_of(&[]);
    assert_eq!(offset, 0);
    assert!(matches!(
        reason,
        DecodeReason::Truncated {
            what: "format version",
            ..
        }
    ));
}

#[test]
fn unknown_version_is_refused_with_a_clear_message() {
    for version in [0, BODY_FORMAT_VERSION + 1] {
        let mut bytes = encoded_sample();
        if let Some(v) = bytes.first_mut() {
            *v = version;
        }
        let err = match decode_body(&bytes) {
            Ok(_) => panic!("decoded version {version}"),
            Err(e) => e,
        };
        assert_eq!(err.offset(), 0);
        assert_eq!(err.reason(), &DecodeReason::UnsupportedVersion(version));
        let msg = err.to_string();
        assert!(
            msg.contains("byte offset 0") && msg.contains(&format!("version {version}")),
            "{msg}"
        );
    }
}

#[test]
fn trailing_garbage_is_an_error() {
    let mut bytes = encoded_sample();
    let len = bytes.len();
    bytes.push(0);
    assert_eq!(reason_of(&bytes), (len, DecodeReason::TrailingBytes { count: 1 }));
}

#[test]
fn huge_length_prefix_fails_fast() {
    // One metadata option whose name claims u32::MAX, then u64::MAX, bytes.
    let cases: [&[u8]; 3] = [
        &[1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, b'a'],
        &[1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        // A Value::Bytes of 1 GiB in a row image.
        &[
            1, 0, 1, 2, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0x0e, 0x80, 0x80, 0x80, 0x80, 0x04, 0,
        ],
    ];
    for bytes in cases {
        let start = Instant::now();
        let (offset, reason) = reason_of(bytes);
        assert!(start.elapsed() < Duration::from_millis(100));
        assert!(matches!(reason, DecodeReason::Truncated { .. }), "{reason:?}");
        assert!(offset < bytes.len());
    }
}

#[test]
fn huge_counts_fail_fast() {
    // metadata count u64::MAX; change count 2^32; a row count of 2^28.
    let cases: [&[u8]; 3] = [
        &[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[1, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 2, 3],
        &[1, 0, 1, 2, 0, 0, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0],
    ];
    for bytes in cases {
        let (offset, reason) = reason_of(bytes);
        assert!(matches!(reason, DecodeReason::CountTooLarge { .. }), "{reason:?}");
        assert!(offset < bytes.len());
    }
}

#[test]
fn varint_overflow_and_overlong() {
    // Metadata count with 11 bytes / a 10th byte of 2 / a non-minimal zero.
    let (_, r) = reason_of(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]);
    assert!(matches!(r, DecodeReason::VarintOverflow { .. }), "{r:?}");
    let (_, r) = reason_of(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0]);
    assert!(matches!(r, DecodeReason::VarintOverflow { .. }), "{r:?}");
    let (offset, r) = reason_of(&[1, 0x80, 0x00, 0]);
    assert_eq!(offset, 1);
    assert!(matches!(r, DecodeReason::VarintNotMinimal { .. }), "{r:?}");
}

#[test]
fn invalid_utf8_names_the_bad_byte() {
    // Metadata name "a\xff".
    let (offset, r) = reason_of(&[1, 1, 2, b'a', 0xff, 0, 0]);
    assert_eq!(offset, 4);
    assert_eq!(r, DecodeReason::InvalidUtf8 { what: "metadata name" });
}

#[test]
fn unknown_tags_and_flags() {
    let (offset, r) = reason_of(&[1, 0, 1, 0x03, 0, 0, 0, 0]);
    assert_eq!(
        (offset, r),
        (
            3,
            DecodeReason::UnknownTag {
                what: "change tag",
                tag: 3
            }
        )
    );
    // Statement flags with bit 2 set.
    let (_, r) = reason_of(&[1, 0, 1, 0x01, 0x04, 0, 0, 0]);
    assert!(matches!(r, DecodeReason::UnknownFlags { bits: 4, .. }), "{r:?}");
    // Session presence mask with bit 19 set.
    let (_, r) = reason_of(&[1, 0, 1, 0x01, 0, 0, 0x80, 0x80, 0x20, 0]);
    assert!(matches!(r, DecodeReason::UnknownFlags { bits: 0x80000, .. }), "{r:?}");
    // Rows action 4.
    let (offset, r) = reason_of(&[1, 0, 1, 0x02, 0, 0, 4, 0, 0, 0, 0]);
    assert_eq!(
        (offset, r),
        (
            6,
            DecodeReason::UnknownTag {
                what: "rows action",
                tag: 4
            }
        )
    );
    // Value tag 0x0f in a before image.
    let (offset, r) = reason_of(&[1, 0, 1, 0x02, 0, 0, 1, 0, 0, 0, 1, 1, 0x0f, 0]);
    assert_eq!(
        (offset, r),
        (
            12,
            DecodeReason::UnknownTag {
                what: "value tag",
                tag: 0x0f
            }
        )
    );
}

#[test]
fn invalid_bool_out_of_range_and_empty_user_vars() {
    // foreign_key_checks (bit 9) = 2.
    let (_, r) = reason_of(&[1, 0, 1, 0x01, 0, 0, 0x80, 0x04, 2, 0]);
    assert!(matches!(r, DecodeReason::InvalidBool { byte: 2, .. }), "{r:?}");
    // error_code 65536.
    let (_, r) = reason_of(&[1, 0, 1, 0x01, 0, 0, 0, 0x80, 0x80, 0x04]);
    assert!(matches!(r, DecodeReason::OutOfRange { value: 65536, .. }), "{r:?}");
    // user_vars bit (18) set with an empty list.
    let (_, r) = reason_of(&[1, 0, 1, 0x01, 0, 0, 0x80, 0x80, 0x10, 0, 0]);
    assert!(matches!(r, DecodeReason::EmptyList { .. }), "{r:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Flipped bytes never panic; anything accepted is canonical.
    #[test]
    fn byte_flips_never_panic(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = encoded_sample();
        for (at, x) in flips {
            let i = at.index(bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b ^= x;
            }
        }
        if let Ok(body) = decode_body(&bytes) {
            let mut again = Vec::new();
            encode_body(&body, &mut again);
            prop_assert_eq!(again, bytes);
        }
    }

    /// Arbitrary bytes after a valid version byte never panic.
    #[test]
    fn random_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![BODY_FORMAT_VERSION];
        bytes.extend_from_slice(&tail);
        if let Ok(body) = decode_body(&bytes) {
            let mut again = Vec::new();
            encode_body(&body, &mut again);
            prop_assert_eq!(again, bytes);
        }
    }
}

use super::*;
use crate::event::{
    ColumnSpec, EventBody, RowAction, RowChanges, RowImage, SessionVars, Statement, Time, UserVar, Value,
};

pub(crate) fn header(seqno: i64) -> EventHeader {
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno),
        fragno: 0,
        last_frag: true,
        epoch: Epoch(0),
        source_id: "host1.alpha".into(),
        event_id: "mysql-bin.000002:0000000000001234;17".into(),
        shard_id: "test".into(),
        source_tstamp_ms: 1_795_687_872_000,
        extract_tstamp_ms: 1_795_687_872_005,
    }
}

fn col(index: u16, name: &str, type_code: u8, key: bool, collation: Option<u16>) -> ColumnSpec {
    ColumnSpec {
        key,
        collation,
        ..ColumnSpec::of_type(index, name, type_code)
    }
}

fn table(action: RowAction, rows: Vec<RowImage>) -> RowChanges {
    let (before_columns, after_columns) = match action {
        RowAction::Insert => (vec![], vec![0, 1]),
        RowAction::Update => (vec![0, 1], vec![0, 1]),
        RowAction::Delete => (vec![0, 1], vec![]),
    };
    RowChanges {
        schema: "test".into(),
        table: "t".into(),
        action,
        columns: vec![col(0, "id", 3, true, None), col(1, "name", 15, false, Some(45))],
        before_columns,
        after_columns,
        flags: crate::event::RowFlags::default(),
        rows,
    }
}

fn row(before: Vec<Value>, after: Vec<Value>) -> RowImage {
    RowImage { before, after }
}

fn s(text: &str) -> Value {
    Value::Bytes(text.as_bytes().to_vec())
}

fn statement(db: &str, sql: &str) -> Statement {
    Statement {
        default_db: Some(db.into()),
        sql: sql.as_bytes().to_vec(),
        session: SessionVars {
            timestamp_us: Some(1_795_687_872_000_000),
            charset_client: Some(33),
            collation_connection: Some(33),
            collation_server: Some(8),
            autocommit: Some(true),
            sql_auto_is_null: Some(false),
            foreign_key_checks: Some(true),
            unique_checks: Some(true),
            sql_mode: Some(1 << 21),
            ..SessionVars::default()
        },
        error_code: 0,
        infile: None,
    }
}

fn sample_event() -> ReplEvent {
    ReplEvent {
        header: header(12),
        body: EventBody {
            metadata: vec![
                ("mysql_server_id".into(), "1".into()),
                ("dbms_type".into(), "mysql".into()),
                ("gtid".into(), "0-1-12".into()),
            ],
            changes: vec![
                Change::Statement(statement(
                    "test",
                    "CREATE TABLE t (id int primary key, name varchar(10))",
                )),
                Change::Rows(table(
                    RowAction::Insert,
                    vec![row(vec![], vec![Value::Int(1), s("abc")])],
                )),
                Change::Rows(table(
                    RowAction::Update,
                    vec![row(vec![Value::Int(1), s("abc")], vec![Value::Int(1), s("it's")])],
                )),
            ],
        },
    }
}

#[test]
fn default_layout() {
    let text = format_event(&sample_event());
    let expected = "\
SEQ# = 12 / FRAG# = 0 (last frag)
- TIME = 2026-11-26 10:11:12.0
- EPOCH# = 0
- EVENTID = mysql-bin.000002:0000000000001234;17
- SOURCEID = host1.alpha
- METADATA = [mysql_server_id=1;dbms_type=mysql;gtid=0-1-12;shard=test]
- TYPE = com.continuent.tungsten.replicator.event.ReplDBMSEvent
- OPTIONS = [##charset = UTF-8, autocommit = 1, sql_auto_is_null = 0, foreign_key_checks = 1, unique_checks = 1, sql_mode = 'STRICT_TRANS_TABLES', character_set_client = 33, collation_connection = 33, collation_server = 8, timestamp = 1795687872]
- SCHEMA = test
- SQL(0) = CREATE TABLE t (id int primary key, name varchar(10))
- SQL(1) =
 - ACTION = INSERT
 - SCHEMA = test
 - TABLE = t
 - ROW# = 0
  - COL(1: id) = 1
  - COL(2: name) = abc
- SQL(2) =
 - ACTION = UPDATE
 - SCHEMA = test
 - TABLE = t
 - ROW# = 0
  - COL(1: id) = 1
  - COL(2: name) = it's
  - KEY(1: id) = 1
  - KEY(2: name) = abc
";
    assert_eq!(text, expected);
}

#[test]
fn schema_printed_when_it_changes_and_fragments() {
    let mut ev = sample_event();
    ev.header.fragno = 3;
    ev.header.last_frag = false;
    ev.body.metadata.push(("shard".into(), "other".into()));
    ev.body.changes = vec![
        Change::Statement(statement("a", "SELECT 1")),
        Change::Statement(statement("a", "SELECT 2")),
        Change::Statement(Statement {
            error_code: 1062,
            ..statement("b", "SELECT 3")
        }),
        Change::Statement(Statement {
            default_db: None,
            session: SessionVars::default(),
            ..statement("b", "SELECT 4")
        }),
    ];
    let text = format_event(&ev);
    assert!(text.starts_with("SEQ# = 12 / FRAG# = 3\n"), "{text}");
    assert!(text.contains("- METADATA = [mysql_server_id=1;dbms_type=mysql;gtid=0-1-12;shard=other]\n"));
    assert_eq!(text.matches("- SCHEMA = a\n").count(), 1);
    assert_eq!(text.matches("- SCHEMA = b\n").count(), 1);
    assert_eq!(text.matches("- OPTIONS = ").count(), 3);
    assert!(text.contains("- ERRORCODE = 1062\n- SQL(2) = SELECT 3\n"));
    assert!(text.ends_with("- SQL(3) = SELECT 4\n"));
}

#[test]
fn delete_and_missing_names_and_malformed_images() {
    let mut r = table(RowAction::Delete, vec![row(vec![Value::Int(7), Value::Null], vec![])]);
    r.columns[0].name.clear();
    let mut ev = ReplEvent {
        header: header(1),
        body: EventBody {
            metadata: vec![],
            changes: vec![Change::Rows(r)],
        },
    };
    let text = format_event(&ev);
    assert!(
        text.contains(" - ROW# = 0\n  - KEY(1: ) = 7\n  - KEY(2: name) = NULL\n"),
        "{text}"
    );
    assert!(!text.contains("COL("));
    // An image with more values than columns, and an index outside the table.
    if let Some(Change::Rows(r)) = ev.body.changes.first_mut() {
        r.before_columns = vec![9];
        r.rows[0].before = vec![Value::Int(1), Value::Int(2)];
    }
    let text = format_event(&ev);
    assert!(
        text.contains("  - KEY(?10: ) = Int(1)\n  - KEY(??: ) = Int(2)\n"),
        "{text}"
    );
}

#[test]
fn filtered_range_layout() {
    let mut h = header(5);
    h.seqno_end = Seqno(9);
    let ev = ReplEvent {
        header: h,
        body: EventBody::default(),
    };
    let text = format_event(&ev);
    assert!(
        text.ends_with(
            "- METADATA = [shard=test]\n- TYPE = com.continuent.tungsten.replicator.event.ReplDBMSFilteredEvent\n\
         ## Filtered events ## seqno 5..=9 (5 events)\n"
        ),
        "{text}"
    );
    assert_eq!(header_comments(&ev.header), "filtered 5-9");
}

#[test]
fn undecodable_body() {
    let text = format_undecodable(&header(3), "bad tag");
    assert!(text.starts_with("SEQ# = 3 / FRAG# = 0 (last frag)\n- TIME = "));
    assert!(text.ends_with("- SOURCEID = host1.alpha\n- ERROR = bad tag\n"));
}

#[test]
fn headers_line_and_json() {
    let h = header(12);
    assert_eq!(
        header_line(&h),
        "12\t0\t0\ttrue\t2026-11-26 10:11:12.0\tmysql-bin.000002:0000000000001234;17\thost1.alpha\ttest"
    );
    let j = serde_json::to_value(HeaderJson::new(&h)).expect("json");
    assert_eq!(
        j,
        serde_json::json!({
            "seqno": 12, "epoch": 0, "frag": 0, "lastFrag": true, "time": "2026-11-26 10:11:12.0",
            "eventId": "mysql-bin.000002:0000000000001234;17", "sourceId": "host1.alpha", "comments": "test"
        })
    );
    let mut f = header(5);
    f.seqno_end = Seqno(9);
    assert_eq!(serde_json::to_value(HeaderJson::new(&f)).expect("json")["seqnoEnd"], 9);
}

#[test]
fn full_event_json_reads_back() {
    let mut ev = sample_event();
    if let Some(Change::Rows(r)) = ev.body.changes.get_mut(1) {
        r.rows[0].after = vec![
            Value::Double(0.1),
            Value::Time(Time {
                negative: true,
                hours: 1,
                minutes: 2,
                seconds: 3,
                micros: 4,
            }),
        ];
    }
    let line = event_json(&ev).expect("json");
    assert!(!line.contains('\n'));
    let back: ReplEvent = serde_json::from_str(&line).expect("parse");
    assert_eq!(back, ev);
}

#[test]
fn sql_script() {
    let mut script = SqlScript::new();
    let text = script.event(&sample_event());
    let expected = "\
-- SEQ# = 12 / FRAG# = 0 (last frag) / EPOCH# = 0 / TIME = 2026-11-26 10:11:12.0 / EVENTID = mysql-bin.000002:0000000000001234;17 / SOURCEID = host1.alpha
BEGIN;
USE `test`;
SET @@session.sql_mode=2097152, @@session.foreign_key_checks=1, @@session.unique_checks=1, @@session.autocommit=1, @@session.sql_auto_is_null=0, @@session.character_set_client=33, @@session.collation_connection=33, @@session.collation_server=8;
SET TIMESTAMP=1795687872;
CREATE TABLE t (id int primary key, name varchar(10));
SET @@session.time_zone='+00:00';
INSERT INTO `test`.`t` (`id`, `name`) VALUES (1, 'abc');
UPDATE `test`.`t` SET `id` = 1, `name` = 'it''s' WHERE `id` = 1 LIMIT 1;
COMMIT;
";
    assert_eq!(text, expected);
    // Same session again: only what changes is set again.
    let mut ev = sample_event();
    ev.body.changes.truncate(1);
    if let Some(Change::Statement(st)) = ev.body.changes.first_mut() {
        st.session.time_zone = Some("Europe/Paris".into());
        st.session.insert_id = Some(5);
        st.session.user_vars = vec![UserVar {
            name: "v".into(),
            value: Value::Bytes(b"x".to_vec()),
            collation: Some(45),
            unsigned: false,
            data_type: None,
        }];
        st.sql = b"CREATE PROCEDURE p() BEGIN SELECT 1; END".to_vec();
    }
    ev.header.seqno = Seqno(13);
    ev.header.seqno_end = Seqno(13);
    let text = script.event(&ev);
    assert!(!text.contains("BEGIN;\n"), "{text}");
    assert!(!text.contains("USE "));
    assert!(
        text.contains(
            "\nSET @@session.time_zone='Europe/Paris';\nSET INSERT_ID=5;\nSET @`v`:='x';\nSET TIMESTAMP=1795687872;\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("DELIMITER $$\nCREATE PROCEDURE p() BEGIN SELECT 1; END$$\nDELIMITER ;\n"),
        "{text}"
    );
    // A trailing `;` in the source text is dropped, not doubled.
    let mut semi = sample_event();
    semi.body.changes = vec![Change::Statement(statement("test", "DROP TABLE t;  "))];
    assert!(script.event(&semi).ends_with("\nDROP TABLE t;\n"));
    // Rows after a statement changed the time zone: set back to UTC.
    let mut rows = sample_event();
    rows.body.changes.remove(0);
    let text = script.event(&rows);
    assert!(
        text.contains("BEGIN;\nSET @@session.time_zone='+00:00';\nINSERT"),
        "{text}"
    );
}

#[test]
fn sql_rows_delete_null_safe_and_keyless() {
    let r = table(RowAction::Delete, vec![row(vec![Value::Int(7), Value::Null], vec![])]);
    assert_eq!(
        row_sql(&r, &r.rows[0]),
        "DELETE FROM `test`.`t` WHERE `id` = 7 LIMIT 1;"
    );
    let mut keyless = r.clone();
    keyless.columns[0].key = false;
    assert_eq!(
        row_sql(&keyless, &keyless.rows[0]),
        "DELETE FROM `test`.`t` WHERE `id` = 7 AND `name` IS NULL LIMIT 1;"
    );
    // Key not in a minimal before image: fall back to the columns there.
    let mut minimal = keyless.clone();
    minimal.columns[0].key = true;
    minimal.before_columns = vec![1];
    minimal.rows[0].before = vec![s("x")];
    assert_eq!(
        row_sql(&minimal, &minimal.rows[0]),
        "DELETE FROM `test`.`t` WHERE `name` = 'x' LIMIT 1;"
    );
    let mut empty = keyless;
    empty.before_columns.clear();
    empty.rows[0].before.clear();
    assert_eq!(
        row_sql(&empty, &empty.rows[0]),
        "DELETE FROM `test`.`t` WHERE FALSE LIMIT 1;"
    );
}

#[test]
fn sql_rows_without_names_and_quoting() {
    let mut r = table(RowAction::Insert, vec![row(vec![], vec![Value::Int(1), s("a")])]);
    r.schema = "we`ird".into();
    r.columns[0].name.clear();
    r.columns[1].name.clear();
    assert_eq!(row_sql(&r, &r.rows[0]), "INSERT INTO `we``ird`.`t` VALUES (1, 'a');");
    let mut u = table(
        RowAction::Update,
        vec![row(vec![Value::Int(1), s("a")], vec![Value::Int(2), s("b")])],
    );
    u.columns[1].name.clear();
    assert_eq!(
        row_sql(&u, &u.rows[0]),
        "-- column names unknown: UPDATE `test`.`t` SET `id` = 2, @2 = 'b' WHERE `id` = 1 LIMIT 1;"
    );
    let mut partial = r.clone();
    partial.after_columns = vec![1];
    partial.rows[0].after = vec![s("z")];
    assert_eq!(
        row_sql(&partial, &partial.rows[0]),
        "-- column names unknown: INSERT INTO `we``ird`.`t` (@2) VALUES ('z');"
    );
}

#[test]
fn sql_filtered_heartbeat_and_rollback() {
    let mut script = SqlScript::new();
    let mut h = header(5);
    h.seqno_end = Seqno(9);
    let text = script.event(&ReplEvent {
        header: h,
        body: EventBody::default(),
    });
    assert!(
        text.ends_with("-- ## Filtered events ## seqno 5..=9 (5 events)\n"),
        "{text}"
    );
    let empty = ReplEvent {
        header: header(10),
        body: EventBody::default(),
    };
    assert_eq!(script.event(&empty).lines().count(), 1);
    let mut rb = sample_event();
    rb.body.metadata.push(("rollback".into(), "true".into()));
    assert!(script.event(&rb).ends_with("ROLLBACK;\n"));
    // Fragments: BEGIN on the first, COMMIT on the last only.
    let mut f0 = sample_event();
    f0.header.last_frag = false;
    let t0 = script.event(&f0);
    assert!(t0.contains("BEGIN;\n") && !t0.contains("COMMIT;"));
    let mut f1 = sample_event();
    f1.header.fragno = 1;
    let t1 = script.event(&f1);
    assert!(!t1.contains("BEGIN;\n") && t1.ends_with("COMMIT;\n"));
}

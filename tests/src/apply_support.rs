//! Helpers of the applier tests: a one-instance sandbox, bounded steps, and
//! builders of THL events (headers, statements, row changes) against the
//! test database [`DB`] of service [`SVC`].

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use replicator::applier::{Applier, ApplierConfig, ApplyError};
use thl::event::{
    meta, Change, ColumnSpec, EventBody, EventHeader, ReplEvent, RowAction, RowChanges, RowImage, SessionVars,
    Statement, Value,
};
use thl::seqno::{Epoch, Seqno};

use crate::sandbox::{localhost_specs, Instance, Sandbox};

pub const SVC: &str = "alpha";
pub const DB: &str = "apptest";
/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(60);

pub async fn sandbox() -> Sandbox {
    Sandbox::start(localhost_specs(1).expect("free port"))
        .await
        .expect("sandbox starts")
}

pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: timed out"))
}

pub fn config() -> ApplierConfig {
    ApplierConfig {
        block_commit_interval: Duration::from_secs(3600),
        ..ApplierConfig::new(SVC)
    }
}

pub async fn applier(i: &Instance, cfg: ApplierConfig) -> Applier {
    bounded("connect", Applier::connect(i.opts(), cfg))
        .await
        .expect("applier connects")
}

pub async fn apply(a: &mut Applier, ev: &ReplEvent) {
    bounded("apply", a.apply(ev))
        .await
        .unwrap_or_else(|e| panic!("apply seqno {}: {e}", ev.header.seqno));
}

pub async fn apply_err(a: &mut Applier, ev: &ReplEvent) -> ApplyError {
    match bounded("apply", a.apply(ev)).await {
        Ok(()) => panic!("seqno {} should fail", ev.header.seqno),
        Err(e) => e,
    }
}

pub async fn flush(a: &mut Applier) {
    bounded("flush", a.flush()).await.expect("flush");
}

/// A root connection that reads values without charset conversion, in UTC.
pub async fn checker(i: &Instance) -> Conn {
    let mut c = Conn::new(i.root_opts()).await.expect("root connection");
    c.query_drop("SET character_set_results=NULL, time_zone='+00:00'")
        .await
        .expect("session");
    c
}

pub async fn rows(c: &mut Conn, sql: &str) -> Vec<Row> {
    bounded("query", c.query(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The rows of `sql`, each converted to `T`, on a fresh [`checker`] connection.
pub async fn values<T: mysql_async::prelude::FromRow>(i: &Instance, sql: &str) -> Vec<T> {
    let mut c = checker(i).await;
    let got = rows(&mut c, sql).await;
    c.disconnect().await.expect("disconnect");
    got.into_iter().map(mysql_async::from_row).collect()
}

pub async fn count(i: &Instance, sql: &str) -> i64 {
    let v = i.query_value(sql).await.expect("query");
    v.as_deref().unwrap_or("0").parse().expect("a number")
}

/// `trep_commit_seqno` of task 0 as seen by another connection.
pub async fn position(i: &Instance) -> Vec<String> {
    let r = i
        .query(&format!(
            "SELECT seqno, fragno, last_frag, epoch_number, eventid, source_id, shard_id FROM tungsten_{SVC}.trep_commit_seqno WHERE task_id=0"
        ))
        .await
        .expect("position");
    r.into_iter().next().expect("a row")
}

pub fn header(seqno: i64) -> EventHeader {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno),
        fragno: 0,
        last_frag: true,
        epoch: Epoch(7),
        source_id: "db1".into(),
        event_id: format!("mysql-bin.000001:{:016};{seqno}", 1000 + seqno),
        shard_id: DB.into(),
        source_tstamp_ms: now - 5,
        extract_tstamp_ms: now - 2,
    }
}

pub fn event(seqno: i64, metadata: &[(&str, &str)], changes: Vec<Change>) -> ReplEvent {
    ReplEvent {
        header: header(seqno),
        body: EventBody {
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            changes,
        },
    }
}

pub fn utf8_session() -> SessionVars {
    SessionVars {
        sql_mode: Some((1 << 21) | (1 << 26) | (1 << 28) | (1 << 30)),
        time_zone: Some("+00:00".into()),
        charset_client: Some(45),
        collation_connection: Some(45),
        collation_server: Some(45),
        foreign_key_checks: Some(true),
        unique_checks: Some(true),
        timestamp_us: Some(1_700_000_000_000_000),
        ..SessionVars::default()
    }
}

pub fn stmt(db: Option<&str>, sql: &str) -> Change {
    Change::Statement(Statement {
        default_db: db.map(str::to_owned),
        sql: sql.as_bytes().to_vec(),
        session: utf8_session(),
        error_code: 0,
        infile: None,
    })
}

/// A DDL event (alone in its block).
pub fn ddl(seqno: i64, sql: &str) -> ReplEvent {
    event(seqno, &[(meta::SCHEMA_CHANGE, "true")], vec![stmt(Some(DB), sql)])
}

pub fn col(index: u16, name: &str, type_code: u8, type_meta: u16, key: bool) -> ColumnSpec {
    ColumnSpec {
        type_meta,
        nullable: !key,
        key,
        ..ColumnSpec::of_type(index, name, type_code)
    }
}

pub fn rows_change(table: &str, action: RowAction, columns: &[ColumnSpec], images: Vec<RowImage>) -> Change {
    let all: Vec<u16> = (0..columns.len() as u16).collect();
    Change::Rows(RowChanges {
        schema: DB.into(),
        table: table.into(),
        action,
        columns: columns.to_vec(),
        before_columns: if action == RowAction::Insert {
            vec![]
        } else {
            all.clone()
        },
        after_columns: if action == RowAction::Delete { vec![] } else { all },
        flags: thl::event::RowFlags::default(),
        rows: images,
    })
}

pub fn ins(after: Vec<Value>) -> RowImage {
    RowImage { before: vec![], after }
}

pub fn simple_cols() -> Vec<ColumnSpec> {
    vec![col(0, "id", 3, 0, true), col(1, "v", 15, 80, false)]
}

pub fn simple_row(id: i64, v: &str) -> Vec<Value> {
    vec![Value::Int(id), Value::Bytes(v.as_bytes().to_vec())]
}

pub const SIMPLE_TABLE: &str = "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB";

/// seqno 0: CREATE DATABASE; seqno 1: CREATE TABLE t.
pub async fn create_simple(a: &mut Applier) {
    apply(
        a,
        &event(
            0,
            &[(meta::SCHEMA_CHANGE, "true")],
            vec![stmt(None, &format!("CREATE DATABASE {DB}"))],
        ),
    )
    .await;
    apply(a, &ddl(1, SIMPLE_TABLE)).await;
}

pub fn insert_event(seqno: i64, id: i64, v: &str) -> ReplEvent {
    event(
        seqno,
        &[],
        vec![rows_change(
            "t",
            RowAction::Insert,
            &simple_cols(),
            vec![ins(simple_row(id, v))],
        )],
    )
}

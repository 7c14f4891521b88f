//! Groups decoded binlog events into THL transactions and fragments.
//!
//! # Invariants
//!
//! * A transaction starts at a GTID event, a `BEGIN` query, or a statement
//!   outside any transaction (DDL, non-transactional writes without GTID);
//!   it ends at an XID, a `COMMIT`/`ROLLBACK` query, or right after the one
//!   statement of a standalone group. Nothing outside a transaction is ever
//!   dropped: row changes with no open transaction are an error.
//! * Seqnos are dense: every finished transaction takes the next seqno, and
//!   all of its fragments carry it with `fragno = 0, 1, ..`; only the final
//!   one has `last_frag`.
//! * Memory is bounded by `frag_size`: once the changes held for the open
//!   transaction reach it, they leave as a fragment (the one exception is a
//!   single binlog event larger than `frag_size`, which cannot be split).
//! * The event id of a final fragment is the binlog position after the
//!   commit event, so a restart from it resumes at the next transaction.

use std::collections::BTreeSet;

use thl::event::{meta, Change, EventBody, EventHeader, ReplEvent, RowChanges, Statement, SHARD_UNKNOWN};
use thl::seqno::{Epoch, Seqno};

use super::event_id::EventId;
use crate::binlog::BinlogPosition;
use crate::clock::now_ms;
use crate::statement_kind::{changes_schema, commits_implicitly, transaction_control, TransactionControl};

/// What the builder needs to know about one decoded binlog event.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnInput {
    /// A GTID event opens a transaction. `standalone` groups hold one
    /// statement and no COMMIT (MariaDB's FL_STANDALONE).
    Gtid { gtid: String, standalone: bool },
    /// A `BEGIN` query.
    Begin,
    /// Any other query, with the session state it ran under.
    Statement(Statement),
    /// The rows of one rows event.
    Rows(RowChanges),
    /// XID, or a `COMMIT` query.
    Commit,
    /// A `ROLLBACK` query: non-transactional changes already happened on the
    /// source, so the transaction is kept and marked.
    Rollback,
    /// `XA START xid` (a query on MySQL, implied by the GTID on MariaDB):
    /// opens an XA transaction, held as its first statement. `prepared`:
    /// the source said already that it ends with `XA PREPARE` (MariaDB's
    /// GTID flag); otherwise (MySQL) it may end with a one-phase commit, so
    /// it is held whole, never fragmented (a fragmented one-phase XA commit
    /// could not commit its position with its data).
    XaStart { statement: Statement, prepared: bool },
    /// The XA_PREPARE event: `XA PREPARE xid` ends the transaction, which
    /// stays prepared; `one_phase` (`XA COMMIT xid ONE PHASE`) commits it.
    XaPrepare { statement: Statement, one_phase: bool },
    /// `XA COMMIT xid` or `XA ROLLBACK xid` of a prepared XA transaction: a
    /// transaction of its own.
    XaComplete(Statement),
}

/// Where the event that produced an input sits in the source binlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePos {
    /// The position after the event (its header's `log_pos`) in the binlog
    /// file holding it.
    pub after: BinlogPosition,
    /// The event's timestamp, seconds since the Unix epoch.
    pub timestamp: u32,
    /// The source's server id that wrote the event.
    pub server_id: u32,
}

/// Fixed facts of an extraction session.
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    /// The master's identity (`source_id` in every header).
    pub source_id: String,
    /// The replication service name (metadata `service`).
    pub service: String,
    /// Fragment threshold in bytes of binlog events held.
    pub frag_size: usize,
}

/// A transaction that the binlog left open where it must not be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("row changes of {table} at {at} arrived outside any transaction")]
    RowsOutsideTransaction { table: String, at: BinlogPosition },
    #[error("XA PREPARE at {at} arrived outside any XA transaction")]
    XaOutsideTransaction { at: BinlogPosition },
    #[error("GTID {gtid} at {at} started while transaction {open} was still open")]
    GtidInsideTransaction {
        gtid: String,
        open: String,
        at: BinlogPosition,
    },
    #[error("transaction at {at} has more than 65535 fragments")]
    TooManyFragments { at: BinlogPosition },
}

#[derive(Debug)]
struct OpenTxn {
    gtid: Option<String>,
    standalone: bool,
    explicit_begin: bool,
    fragno: u16,
    changes: Vec<Change>,
    held_bytes: usize,
    schemas: BTreeSet<String>,
    no_schema: bool,
    thread_id: Option<u32>,
    schema_change: bool,
    /// A statement that commits implicitly and changes no schema (GRANT,
    /// ANALYZE TABLE ...): the transaction is unsafe for block commit.
    implicit_commit: bool,
    first_server_id: u32,
    /// Set when the transaction writes a `tungsten_<service>.heartbeat` row.
    heartbeat: Option<String>,
    /// The [`meta::XA`] value of an XA transaction.
    xa: Option<&'static str>,
    /// Held whole, never fragmented (see [`TxnInput::XaStart`]).
    whole: bool,
}

/// Turns a stream of [`TxnInput`] into THL events.
#[derive(Debug)]
pub struct TransactionBuilder {
    cfg: BuilderConfig,
    next_seqno: Seqno,
    epoch: Epoch,
    open: Option<OpenTxn>,
}

impl TransactionBuilder {
    /// `next_seqno` is the seqno the next transaction gets; `epoch` the epoch
    /// of this master session (normally equal to `next_seqno` at start).
    pub fn new(cfg: BuilderConfig, next_seqno: Seqno, epoch: Epoch) -> TransactionBuilder {
        TransactionBuilder {
            cfg,
            next_seqno,
            epoch,
            open: None,
        }
    }

    /// The seqno the next transaction will get.
    pub fn next_seqno(&self) -> Seqno {
        self.next_seqno
    }

    /// True while a transaction is open (some of its events were read).
    pub fn in_transaction(&self) -> bool {
        self.open.is_some()
    }

    /// Feeds one input; finished fragments are appended to `out`.
    /// `event_bytes` is the size of the binlog event, for fragmenting.
    pub fn push(
        &mut self,
        input: TxnInput,
        at: &SourcePos,
        event_bytes: usize,
        out: &mut Vec<ReplEvent>,
    ) -> Result<(), BuildError> {
        match input {
            TxnInput::Gtid { gtid, standalone } => {
                if let Some(open) = &self.open {
                    return Err(BuildError::GtidInsideTransaction {
                        gtid,
                        open: open.gtid.clone().unwrap_or_else(|| "without GTID".into()),
                        at: at.after.clone(),
                    });
                }
                let mut txn = OpenTxn::new(at.server_id);
                txn.gtid = Some(gtid);
                txn.standalone = standalone;
                self.open = Some(txn);
            }
            TxnInput::Begin => {
                self.open
                    .get_or_insert_with(|| OpenTxn::new(at.server_id))
                    .explicit_begin = true;
            }
            TxnInput::Statement(statement) => {
                let opened_here = self.open.is_none();
                let txn = self.open.get_or_insert_with(|| OpenTxn::new(at.server_id));
                let alone = opened_here || (txn.standalone && !txn.explicit_begin);
                // DDL anywhere in the transaction (also MySQL's atomic
                // CREATE ... SELECT inside BEGIN), and any other statement
                // that commits implicitly (GRANT, ANALYZE TABLE ...), forces
                // block boundaries.
                if changes_schema(&statement.sql) {
                    txn.schema_change = true;
                } else if commits_implicitly(&statement.sql) {
                    txn.implicit_commit = true;
                }
                txn.thread_id = statement.session.thread_id.or(txn.thread_id);
                match &statement.default_db {
                    Some(db) => {
                        txn.schemas.insert(db.clone());
                    }
                    None => txn.no_schema = true,
                }
                txn.hold(Change::Statement(statement), event_bytes);
                if alone {
                    return self.finish(at, false, out);
                }
                self.fragment_if_full(at, out)?;
            }
            TxnInput::Rows(rows) => {
                let Some(txn) = self.open.as_mut() else {
                    return Err(BuildError::RowsOutsideTransaction {
                        table: format!("{}.{}", rows.schema, rows.table),
                        at: at.after.clone(),
                    });
                };
                txn.schemas.insert(rows.schema.clone());
                if let Some(name) = heartbeat_name(&rows) {
                    txn.heartbeat = Some(name);
                }
                txn.hold(Change::Rows(rows), event_bytes);
                self.fragment_if_full(at, out)?;
            }
            TxnInput::Commit => {
                if self.open.is_some() {
                    self.finish(at, false, out)?;
                }
            }
            TxnInput::Rollback => {
                if self.open.is_some() {
                    self.finish(at, true, out)?;
                }
            }
            TxnInput::XaStart { statement, prepared } => {
                let txn = self.open.get_or_insert_with(|| OpenTxn::new(at.server_id));
                txn.explicit_begin = true;
                txn.xa = Some(meta::XA_PREPARE);
                txn.whole = !prepared;
                txn.hold(Change::Statement(statement), event_bytes);
            }
            TxnInput::XaPrepare { statement, one_phase } => {
                let Some(txn) = self.open.as_mut() else {
                    return Err(BuildError::XaOutsideTransaction { at: at.after.clone() });
                };
                if one_phase && txn.fragno == 0 {
                    // A one-phase XA commit is an ordinary commit: applied as
                    // one, its position commits in the same target
                    // transaction.
                    txn.changes.retain(|c| !is_xa_boundary(c));
                    txn.xa = None;
                } else {
                    if one_phase {
                        txn.xa = None;
                    }
                    txn.hold(Change::Statement(statement), event_bytes);
                }
                self.finish(at, false, out)?;
            }
            TxnInput::XaComplete(statement) => {
                let txn = self.open.get_or_insert_with(|| OpenTxn::new(at.server_id));
                txn.xa = Some(meta::XA_COMPLETE);
                if let Some(db) = &statement.default_db {
                    txn.schemas.insert(db.clone());
                }
                txn.hold(Change::Statement(statement), event_bytes);
                self.finish(at, false, out)?;
            }
        }
        Ok(())
    }

    fn fragment_if_full(&mut self, at: &SourcePos, out: &mut Vec<ReplEvent>) -> Result<(), BuildError> {
        let full = self
            .open
            .as_ref()
            .is_some_and(|t| t.held_bytes >= self.cfg.frag_size && !t.whole);
        if full {
            self.emit(at, false, false, out)?;
        }
        Ok(())
    }

    fn finish(&mut self, at: &SourcePos, rollback: bool, out: &mut Vec<ReplEvent>) -> Result<(), BuildError> {
        self.emit(at, true, rollback, out)?;
        self.open = None;
        self.next_seqno = self.next_seqno.next();
        Ok(())
    }

    fn emit(&mut self, at: &SourcePos, last: bool, rollback: bool, out: &mut Vec<ReplEvent>) -> Result<(), BuildError> {
        let Some(txn) = self.open.as_mut() else {
            return Ok(());
        };
        let mut metadata = vec![
            (meta::SERVER_ID.to_owned(), txn.first_server_id.to_string()),
            (meta::DBMS_TYPE.to_owned(), "mysql".to_owned()),
            (meta::SERVICE.to_owned(), self.cfg.service.clone()),
        ];
        if let Some(gtid) = &txn.gtid {
            metadata.push((meta::GTID.to_owned(), gtid.clone()));
        }
        if txn.schema_change {
            metadata.push((meta::SCHEMA_CHANGE.to_owned(), "true".to_owned()));
        }
        if let Some(name) = &txn.heartbeat {
            metadata.push((meta::HEARTBEAT.to_owned(), name.clone()));
        }
        if let Some(xa) = txn.xa {
            metadata.push((meta::XA.to_owned(), xa.to_owned()));
        }
        if txn.schema_change || txn.implicit_commit || rollback || txn.fragno > 0 || !last || txn.xa.is_some() {
            metadata.push((meta::UNSAFE_FOR_BLOCK_COMMIT.to_owned(), "true".to_owned()));
        }
        if rollback {
            metadata.push((meta::ROLLBACK.to_owned(), "true".to_owned()));
        }
        let shard_id = match (txn.schemas.len(), txn.no_schema) {
            (1, false) => txn.schemas.iter().next().cloned().unwrap_or_default(),
            _ => SHARD_UNKNOWN.to_owned(),
        };
        let header = EventHeader {
            seqno: self.next_seqno,
            seqno_end: self.next_seqno,
            fragno: txn.fragno,
            last_frag: last,
            epoch: self.epoch,
            source_id: self.cfg.source_id.clone(),
            event_id: EventId::new(at.after.clone(), txn.thread_id).to_string(),
            shard_id,
            source_tstamp_ms: i64::from(at.timestamp) * 1000,
            extract_tstamp_ms: now_ms(),
        };
        let changes = std::mem::take(&mut txn.changes);
        txn.held_bytes = 0;
        if !last {
            txn.fragno = txn
                .fragno
                .checked_add(1)
                .ok_or_else(|| BuildError::TooManyFragments { at: at.after.clone() })?;
        }
        out.push(ReplEvent {
            header,
            body: EventBody { metadata, changes },
        });
        Ok(())
    }
}

impl OpenTxn {
    fn new(server_id: u32) -> OpenTxn {
        OpenTxn {
            gtid: None,
            standalone: false,
            explicit_begin: false,
            fragno: 0,
            changes: Vec::new(),
            held_bytes: 0,
            schemas: BTreeSet::new(),
            no_schema: false,
            thread_id: None,
            schema_change: false,
            implicit_commit: false,
            first_server_id: server_id,
            heartbeat: None,
            xa: None,
            whole: false,
        }
    }

    fn hold(&mut self, change: Change, bytes: usize) {
        self.changes.push(change);
        self.held_bytes = self.held_bytes.saturating_add(bytes);
    }
}

/// True for the `XA START` and `XA END` statements of an XA transaction.
fn is_xa_boundary(change: &Change) -> bool {
    let Change::Statement(s) = change else { return false };
    matches!(
        transaction_control(&s.sql),
        Some(TransactionControl::XaStart | TransactionControl::XaEnd)
    )
}

/// The heartbeat name when `rows` write Tungsten's heartbeat table
/// (`tungsten_<service>.heartbeat`, written by `trepctl heartbeat` on the
/// master): the transaction then carries the `heartbeat` metadata, and every
/// applier downstream records its own lag.
fn heartbeat_name(rows: &RowChanges) -> Option<String> {
    if !rows.is_heartbeat_table() {
        return None;
    }
    let name_col = rows.columns.iter().position(|c| c.name == "name")?;
    let slot = rows.after_columns.iter().position(|&i| usize::from(i) == name_col);
    let value = slot.and_then(|k| rows.rows.last()?.after.get(k));
    Some(match value {
        Some(thl::event::Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => "NONE".to_owned(),
    })
}

/// `text` after leading `/* .. */` comments (executable comments keep
/// their content).
pub(crate) fn skip_comments(mut text: &str) -> &str {
    loop {
        text = text.trim_start();
        if let Some(rest) = text.strip_prefix("/*") {
            match rest.split_once("*/") {
                // Keep executable comments' content (`/*!40000 ALTER ...*/`).
                Some((inner, after)) if inner.starts_with('!') => {
                    let inner = inner.trim_start_matches(|c: char| c == '!' || c.is_ascii_digit());
                    return if inner.trim().is_empty() { after } else { inner };
                }
                Some((_, after)) => text = after,
                None => return "",
            }
        } else {
            return text;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thl::event::RowAction;

    fn pos(next: u64) -> SourcePos {
        SourcePos {
            after: BinlogPosition::new("mysql-bin.000001", next),
            timestamp: 1_700_000_000,
            server_id: 7,
        }
    }

    fn builder(frag: usize) -> TransactionBuilder {
        let cfg = BuilderConfig {
            source_id: "host1".into(),
            service: "alpha".into(),
            frag_size: frag,
        };
        TransactionBuilder::new(cfg, Seqno(5), Epoch(5))
    }

    fn rows(schema: &str) -> RowChanges {
        RowChanges {
            schema: schema.into(),
            table: "t".into(),
            action: RowAction::Insert,
            columns: vec![],
            before_columns: vec![],
            after_columns: vec![],
            flags: thl::event::RowFlags::default(),
            rows: vec![],
        }
    }

    fn stmt(db: Option<&str>, sql: &str) -> Statement {
        Statement {
            default_db: db.map(Into::into),
            sql: sql.as_bytes().to_vec(),
            ..Statement::default()
        }
    }

    #[test]
    fn gtid_rows_xid_is_one_transaction_with_the_commit_position() {
        let mut b = builder(1 << 20);
        let mut out = vec![];
        let gtid = TxnInput::Gtid {
            gtid: "0-7-3".into(),
            standalone: false,
        };
        b.push(gtid, &pos(100), 40, &mut out).ok();
        b.push(TxnInput::Rows(rows("db1")), &pos(200), 100, &mut out).ok();
        b.push(TxnInput::Commit, &pos(231), 31, &mut out).ok();
        assert_eq!(out.len(), 1);
        let h = &out[0].header;
        assert_eq!((h.seqno, h.fragno, h.last_frag, h.epoch), (Seqno(5), 0, true, Epoch(5)));
        assert_eq!(h.event_id, "mysql-bin.000001:0000000000000231;-1");
        assert_eq!(h.shard_id, "db1");
        assert_eq!(out[0].body.metadata_value(meta::GTID), Some("0-7-3"));
        assert_eq!(b.next_seqno(), Seqno(6));
    }

    #[test]
    fn standalone_ddl_is_its_own_transaction_and_a_schema_change() {
        let mut b = builder(1 << 20);
        let mut out = vec![];
        b.push(
            TxnInput::Gtid {
                gtid: "0-7-4".into(),
                standalone: true,
            },
            &pos(10),
            40,
            &mut out,
        )
        .ok();
        b.push(
            TxnInput::Statement(stmt(Some("db1"), "/* x */ CREATE TABLE t (a int)")),
            &pos(90),
            80,
            &mut out,
        )
        .ok();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].body.metadata_value(meta::SCHEMA_CHANGE), Some("true"));
        assert!(!b.in_transaction());
    }

    #[test]
    fn large_transactions_leave_in_fragments() {
        let mut b = builder(250);
        let mut out = vec![];
        b.push(TxnInput::Begin, &pos(10), 40, &mut out).ok();
        for i in 0..10 {
            b.push(TxnInput::Rows(rows("db1")), &pos(100 + i * 100), 100, &mut out)
                .ok();
        }
        b.push(TxnInput::Commit, &pos(2000), 31, &mut out).ok();
        let frags: Vec<_> = out
            .iter()
            .map(|e| (e.header.seqno, e.header.fragno, e.header.last_frag))
            .collect();
        assert_eq!(
            frags,
            vec![
                (Seqno(5), 0, false),
                (Seqno(5), 1, false),
                (Seqno(5), 2, false),
                (Seqno(5), 3, true)
            ]
        );
        let total: usize = out.iter().map(|e| e.body.changes.len()).sum();
        assert_eq!(total, 10);
    }

    #[test]
    fn several_schemas_make_an_unknown_shard_and_rollback_is_kept() {
        let mut b = builder(1 << 20);
        let mut out = vec![];
        b.push(TxnInput::Begin, &pos(10), 40, &mut out).ok();
        b.push(TxnInput::Rows(rows("a")), &pos(20), 10, &mut out).ok();
        b.push(TxnInput::Rows(rows("b")), &pos(30), 10, &mut out).ok();
        b.push(TxnInput::Rollback, &pos(40), 10, &mut out).ok();
        assert_eq!(out[0].header.shard_id, SHARD_UNKNOWN);
        assert_eq!(out[0].body.metadata_value(meta::ROLLBACK), Some("true"));
    }

    #[test]
    fn rows_outside_a_transaction_are_an_error_naming_the_position() {
        let mut b = builder(1 << 20);
        let err = b.push(TxnInput::Rows(rows("a")), &pos(20), 10, &mut vec![]).err();
        assert!(matches!(
            err,
            Some(BuildError::RowsOutsideTransaction {
                at: BinlogPosition { pos: 20, .. },
                ..
            })
        ));
    }

    #[test]
    fn heartbeat_rows_mark_the_transaction() {
        let mut b = builder(1 << 20);
        let mut out = vec![];
        let mut hb = rows("tungsten_alpha");
        hb.table = "heartbeat".into();
        hb.columns = vec![thl::event::ColumnSpec {
            index: 0,
            name: "name".into(),
            type_code: 15,
            type_meta: 128,
            unsigned: false,
            nullable: true,
            key: false,
            collation: Some(33),
            type_desc: "varchar(128)".into(),
        }];
        hb.after_columns = vec![0];
        hb.rows = vec![thl::event::RowImage {
            before: vec![],
            after: vec![thl::event::Value::Bytes(b"NIGHTLY".to_vec())],
        }];
        b.push(TxnInput::Begin, &pos(10), 40, &mut out).ok();
        b.push(TxnInput::Rows(hb), &pos(20), 10, &mut out).ok();
        b.push(TxnInput::Commit, &pos(30), 10, &mut out).ok();
        assert_eq!(out[0].body.metadata_value(meta::HEARTBEAT), Some("NIGHTLY"));
    }

    #[test]
    fn statements_that_commit_implicitly_are_unsafe_for_block_commit() {
        for (sql, schema_change) in [
            ("/* x */ GRANT SELECT ON db1.* TO u", None),
            ("ANALYZE TABLE t", None),
            ("/*!40000 ALTER TABLE t DISABLE KEYS */", Some("true")),
        ] {
            let mut b = builder(1 << 20);
            let mut out = vec![];
            let gtid = TxnInput::Gtid {
                gtid: "0-7-4".into(),
                standalone: true,
            };
            b.push(gtid, &pos(10), 40, &mut out).ok();
            b.push(TxnInput::Statement(stmt(Some("db1"), sql)), &pos(90), 80, &mut out)
                .ok();
            assert_eq!(out.len(), 1, "{sql}");
            assert_eq!(
                out[0].body.metadata_value(meta::UNSAFE_FOR_BLOCK_COMMIT),
                Some("true"),
                "{sql}"
            );
            assert_eq!(out[0].body.metadata_value(meta::SCHEMA_CHANGE), schema_change, "{sql}");
        }
    }
}

//! The MySQL/MariaDB applier: THL events → the target, exactly once, with
//! the semantics of the target's own replica.
//!
//! # Invariants
//!
//! * **Exactly once.** The channel's row in
//!   `tungsten_<service>.trep_commit_seqno` is updated *in the same target
//!   transaction* as the changes it covers (once per block, just before its
//!   COMMIT, with the position of the block's last event), so the target's
//!   data and its position always agree: a crash at any point
//!   leaves either the whole block with its position, or neither. On
//!   (re)connect the applier reads that row ([`Applier::last_applied`]) and
//!   skips every event it covers ([`AppliedPosition::covers`]: seqno below the
//!   position, or same seqno and fragno at or below it), so re-feeding events
//!   after a restart or an error is a no-op for what is already committed.
//! * **After any error, nothing of the open block is committed** (the
//!   applier rolls back, or the target does when the connection is lost):
//!   the caller re-feeds events from `last_applied() + 1`. The position never
//!   moves backwards.
//! * **Block boundaries** (see `block.rs`): a target transaction holds up to
//!   `block_commit_size` source transactions and is committed after the
//!   last fragment of the transaction that fills it, after
//!   `block_commit_interval`, or on [`Applier::flush`]. A transaction with
//!   metadata `schema_change`, `unsafe_for_block_commit` or `rollback`, a
//!   fragmented transaction, and a DML statement while the target has a
//!   table with a transaction-precise history (`history.rs`), is alone: the
//!   block is committed before it and after its last fragment. Fragments
//!   of one transaction share one target transaction, committed at its
//!   last fragment.
//! * Filtered ranges (`seqno_end > seqno`) and empty events only move the
//!   position (to `seqno_end`).
//! * DDL commits implicitly on MariaDB: the position of a DDL event is
//!   committed just after it. A crash between the two re-applies the DDL
//!   (Tungsten has the same window); the error then names the seqno to skip.
//!
//! * **Row changes have the target's native replica semantics** (default
//!   [`RowMethod::Binlog`], `binlog_rows.rs`): they are re-encoded as binlog
//!   events and applied by `BINLOG '...'` statements, so target triggers do
//!   not fire, columns the target computes stay the target's, values are
//!   stored from their binary form and each rows event's foreign key and
//!   unique check flags apply. A row to update or delete that is missing
//!   (1032) makes the applier retry those changes row by row through SQL
//!   ([`RowMethod::Sql`]), where the zero-row policy decides and an error
//!   names the key. Rows of the applier's own `tungsten_<service>` schema
//!   coming from upstream are not applied (that schema is this applier's).
//! * **A transaction the source rolled back** (metadata `rollback`: it
//!   reached the binlog for a non-transactional side effect) is applied and
//!   rolled back, alone in its block; its position commits after.
//! * **XA** (metadata `xa`): a transaction that ends with `XA PREPARE` is
//!   prepared on the target, alone, and the session holds it (a session
//!   holding a prepared XA transaction can do nothing else): when the next
//!   event is its own `XA COMMIT|ROLLBACK`, it completes there, as the
//!   source session that prepared it usually does, and the session keeps
//!   its temporary tables; the position then commits with the completion's.
//!   Any other event, or an idle second, ends the session first (MariaDB
//!   10.5+ keeps the transaction prepared) and the prepare's position
//!   commits on a new session. Under parallel apply the completion never
//!   comes next on the same session (an XA transaction runs alone: its
//!   completion is dispatched once the prepare is committed), so a channel
//!   ends the session at once ([`XaHold::Never`]) rather than after the idle
//!   second; statement-logged temporary tables of that source session are
//!   then lost on the target, as when other transactions come between.
//!   If the target crashed in between, `XA START` finds the xid prepared
//!   already (1440) and the event only moves the position.
//!   `XA COMMIT|ROLLBACK` of a transaction prepared by an ended session
//!   runs under `autocommit=1`; replayed after a crash, its unknown xid
//!   (1397) is tolerated with a warning.
//!
//! # Round trips
//!
//! The row changes of one event with equal flags go as one `BINLOG`
//! statement (several when they outgrow the target's `max_allowed_packet`);
//! the position row goes once per block, with the COMMIT. Statement events,
//! heartbeats and session changes come in THL order.
//!
//! # Session
//!
//! The apply connection runs with `autocommit=0`, `sql_log_bin=0` unless
//! `log_slave_updates`, and `CLIENT_FOUND_ROWS` (UPDATE reports matched rows,
//! so the zero-row policy is not fooled by an UPDATE that changes nothing).
//! It reads the FORMAT_DESCRIPTION of the `BINLOG` statements when it
//! connects, so a missing `BINLOG REPLAY` privilege is named at once.
//! Statements replay under the source's session variables (`statement.rs`,
//! `session.rs`); the applier's own statements (`BINLOG`, the position and
//! heartbeat rows) under a fixed ASCII-safe context.

mod altered_table;
mod batch;
mod bind;
mod binlog_rows;
mod block;
pub(crate) mod catalog_table;
mod error;
mod geometry;
mod history;
mod infile;
mod keyless;
mod session;
mod sql;
mod statement;
mod table_keys;

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value as P};
use thl::event::{meta, Change, ReplEvent, RowAction, RowChanges, Statement, Value};
use thl::seqno::{Epoch, Seqno};
use tracing::{debug, info, warn};

pub use catalog_table::AppliedPosition;
pub use error::{ApplyError, DefiniteError, Failure, TransientError, MAX_SQL_IN_ERROR};
pub use infile::infile_data;
pub use session::{sql_mode_names, ROW_SQL_MODE, SQL_MODE_BITS};
pub use sql::{quote_ident, table_name, MAX_PLACEHOLDERS};
pub use table_keys::{read_cascade_groups, read_table_keys, CascadeGroups, Compare, KeyColumn, KeyIndex, TableKeys};

use crate::clock::now_ms;
use crate::statement_kind::commits_implicitly;
use batch::{Batch, Item};
use bind::{bind, wire_size, Use};
use binlog_rows::{format_description_statement, row_statements, runs, Run, Step, BIND_BASE64};
use block::{must_be_alone, Block};
use catalog_table::{heartbeat_params, position_params, CatalogNames};
use error::{breaks_connection, Ctx};
use history::PreciseHistory;
use session::{set_statement, CollationNames, SessionState};
use sql::{delete_sql, image_columns, insert_sql, key_plan, update_sql, InsertVerb, KeyPlan};
use statement::{completed_xid, is_transaction_control, prepared_xid};

/// Prepared statements kept per connection (row statements of many tables,
/// batch sizes).
const STMT_CACHE_SIZE: usize = 256;
/// Upper bound of the parameter bytes of one multi-row INSERT.
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Upper bound of one `BINLOG` statement (also bounded by the target's
/// `max_allowed_packet`).
const MAX_BINLOG_STATEMENT: usize = 16 << 20;
/// `ER_KEY_NOT_FOUND`: a rows event found no row to update or delete.
const ER_KEY_NOT_FOUND: u16 = 1032;
/// `ER_XAER_DUPID`: `XA START` of an xid that exists (prepared) already.
const ER_XAER_DUPID: u16 = 1440;
/// How long the target may take to close the session that prepared an XA
/// transaction ([`Applier::detach_prepared_xa`]).
const XA_DETACH_WAIT: Duration = Duration::from_secs(10);
/// How long an idle applier keeps the session that prepared an XA
/// transaction, waiting for its `XA COMMIT|ROLLBACK` ([`HeldXa`]).
const XA_HOLD: Duration = Duration::from_secs(1);
/// Whether an applier holds the session that prepared an XA transaction
/// (the applier's `HeldXa`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XaHold {
    /// Held for its completion, which may come next (one channel).
    #[default]
    Held,
    /// Ended at once: parallel apply, where the completion comes only
    /// after the prepare is committed (holding would only wait).
    Never,
}

/// The XA transaction that the apply session prepared and still holds: its
/// position is pending, in the open block. The next event decides what
/// happens to the session: the transaction's own `XA COMMIT|ROLLBACK`
/// completes it there (as the source session that prepared it usually
/// does), with the session's temporary tables intact; anything else, or
/// [`XA_HOLD`] of idleness, ends the session first
/// ([`Applier::detach_prepared_xa`]) and commits the position on a new
/// one.
#[derive(Debug, Clone)]
struct HeldXa {
    xid: statement::Xid,
    /// When an idle applier lets it go.
    until: Instant,
}
/// A DDL mark found at connect (`trep_ddl_in_flight`): the statement was
/// running when the applier last stopped.
#[derive(Debug, Clone)]
struct DdlInFlight {
    seqno: Seqno,
    event_id: String,
    /// The altered table's definition before it (`altered_table`).
    before_def: Option<String>,
}

/// `ER_XAER_NOTA`: `XA COMMIT|ROLLBACK` of an unknown xid.
const ER_XAER_NOTA: u16 = 1397;
/// `ER_XA_RBROLLBACK`: `XA COMMIT|ROLLBACK` of a branch the server rolled
/// back. MariaDB does so to a prepared branch that changed nothing when its
/// session ends (measured on 10.11: `XA START 'b'; XA END 'b'; XA PREPARE
/// 'b'`, disconnect, then `XA COMMIT 'b'` or `XA ROLLBACK 'b'` from another
/// session fails with 1402 and the xid is gone).
const ER_XA_RBROLLBACK: u16 = 1402;
/// `ER_UNKNOWN_SYSTEM_VARIABLE`.
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
/// `ER_BAD_FIELD_ERROR` (unknown column).
const ER_BAD_FIELD: u16 = 1054;
/// Session settings of a replica's applier that a client session must ask for.
const REPLICA_SESSION: &str = "SET SESSION system_versioning_alter_history=KEEP";
/// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: a privilege such as BINLOG REPLAY is missing.
const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;

/// How row changes reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowMethod {
    /// `BINLOG '...'` statements: the target's own row-event applier, with
    /// its native replica's semantics (see `binlog_rows.rs`). Needs
    /// `BINLOG REPLAY` (MariaDB 10.5.2+) or `SUPER`.
    #[default]
    Binlog,
    /// INSERT/UPDATE/DELETE statements keyed by the primary key. Not
    /// exact: target triggers fire, computed columns are written, values
    /// go through SQL conversions. For targets where `BINLOG` is not
    /// allowed.
    Sql,
}

pub use crate::config::model::ZeroRowPolicy;

/// Settings of one applier channel.
#[derive(Debug, Clone)]
pub struct ApplierConfig {
    /// Service name: the catalog schema is `tungsten_<service>`.
    pub service: String,
    /// Channel number (`task_id` in `trep_commit_seqno`).
    pub channel: u32,
    /// Source transactions per target commit.
    pub block_commit_size: usize,
    /// Longest time a block stays open while events keep arriving.
    pub block_commit_interval: Duration,
    /// Write applied changes to the target's binlog (`false`:
    /// `SET sql_log_bin=0` on the apply session).
    pub log_slave_updates: bool,
    /// UPDATE/DELETE matching no row.
    pub zero_row_policy: ZeroRowPolicy,
    /// How row changes are applied.
    pub row_method: RowMethod,
}

impl ApplierConfig {
    /// Defaults: channel 0, blocks of 10 transactions or 1 s, no binlog,
    /// warn on zero-row changes.
    pub fn new(service: impl Into<String>) -> ApplierConfig {
        ApplierConfig {
            service: service.into(),
            channel: 0,
            block_commit_size: 10,
            block_commit_interval: Duration::from_secs(1),
            log_slave_updates: false,
            zero_row_policy: ZeroRowPolicy::Warn,
            row_method: RowMethod::Binlog,
        }
    }
}

/// Counters since the applier was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplierStats {
    /// Target commits issued by the applier.
    pub commits: u64,
    /// Blocks abandoned after an error.
    pub rollbacks: u64,
    /// Events applied (including position-only ones).
    pub events_applied: u64,
    /// Events skipped because the position already covered them.
    pub events_skipped: u64,
    /// Statements replayed.
    pub statements: u64,
    /// Row changes applied.
    pub rows: u64,
    /// UPDATE/DELETE rows that matched nothing.
    pub zero_row_changes: u64,
    /// Large UPDATEs of tables without any index applied set-based
    /// (`keyless.rs`).
    pub set_based_updates: u64,
}

/// One apply channel on one target connection.
#[derive(Debug)]
pub struct Applier {
    opts: Opts,
    cfg: ApplierConfig,
    names: CatalogNames,
    conn: Option<Conn>,
    /// The connection must be dropped (its protocol state is unknown).
    broken: bool,
    session: SessionState,
    collations: CollationNames,
    /// Position committed on the target.
    committed: Option<AppliedPosition>,
    /// Position of the last event applied in the open block (= `committed`
    /// when no block is open).
    pending: Option<AppliedPosition>,
    /// Header of the last event applied in the open block: its position is
    /// written to `trep_commit_seqno` just before the block's COMMIT, in
    /// the same target transaction (one statement per block, not per event).
    position_header: Option<thl::event::EventHeader>,
    /// Row statements of the current event, sent in one round trip.
    batch: Batch,
    block: Block,
    stats: ApplierStats,
    max_batch_bytes: usize,
    /// Upper bound of one `BINLOG` statement on this target.
    max_binlog_statement: usize,
    /// The target's `max_allowed_packet` less room for the protocol: the
    /// longest statement it takes.
    packet_limit: usize,
    /// The connection has read the FORMAT_DESCRIPTION of our `BINLOG`
    /// statements.
    format_description_sent: bool,
    /// An XA transaction (seqno) found prepared on the target already: its
    /// fragments only move the position.
    xa_already_prepared: Option<Seqno>,
    /// The target keeps a prepared XA transaction when its session ends
    /// (MariaDB 10.5.2+, MySQL 5.7.7+).
    keeps_prepared_xa: bool,
    last_service: Option<String>,
    /// Tables whose history follows the target's transactions.
    precise_history: PreciseHistory,
    /// Upstream tracking schemas whose heartbeat table this target has
    /// (made when missing: [`Applier::create_heartbeat_table`]).
    heartbeat_schemas: std::collections::HashSet<String>,
    /// The DDL mark found at connect (seqno, event id): that statement was
    /// running when the applier last stopped (`statement.rs`).
    ddl_found_in_flight: Option<DdlInFlight>,
    /// A DDL mark of this channel to delete with the next position commit.
    ddl_mark_pending: bool,
    /// The XA transaction this session prepared, kept for its completion.
    held_xa: Option<HeldXa>,
    /// When a prepared XA transaction's session is held.
    xa_hold: XaHold,
}

/// The open connection, or the transient error of having none (it was
/// dropped after an error; the caller retries, which reconnects).
fn connected<'a>(conn: &'a mut Option<Conn>, ctx: &Ctx<'_>) -> Result<&'a mut Conn, ApplyError> {
    conn.as_mut()
        .ok_or_else(|| ctx.transient("not connected to the target"))
}

/// Whether `rc` writes the heartbeat row of a tracking schema with a full
/// after image and column names (see [`Applier::replace_heartbeat`]).
fn is_upstream_heartbeat(rc: &RowChanges) -> bool {
    rc.is_heartbeat_table()
        && (rc.action == RowAction::Delete || rc.after_columns.len() == rc.columns.len())
        && rc.columns.iter().all(|c| !c.name.is_empty())
}

/// Reads column `i` of a row without panicking on unexpected values.
fn get<T: mysql_async::prelude::FromValue>(row: &Row, i: usize) -> Result<T, String> {
    match row.get_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(format!("column {i}: {e}")),
        None => Err(format!("column {i} missing")),
    }
}

/// `name=value, ..` of a row's key, for logs (at most ~256 bytes).
fn describe_key(before: &[&thl::event::ColumnSpec], values: &[Value], plan: &KeyPlan) -> String {
    let mut s = String::new();
    for &p in &plan.positions {
        if !s.is_empty() {
            s.push_str(", ");
        }
        let v = format!("{:?}", values.get(p).unwrap_or(&Value::Null));
        s.push_str(&before[p].name);
        s.push('=');
        s.push_str(&v[..floor_char_boundary(&v, 64)]);
        if s.len() > 256 {
            s.push_str(", ..");
            break;
        }
    }
    s
}

/// Which of the statement options of MariaDB's flags2 the target has as
/// session variables: from `information_schema.SESSION_VARIABLES`
/// (MariaDB), else `performance_schema.session_variables` (MySQL 5.7+);
/// none when neither can be read.
async fn optional_session_variables(conn: &mut Conn) -> Result<Vec<String>, mysql_async::Error> {
    let names: Vec<String> = thl::event::SERVER_OPTION_NAMES
        .iter()
        .map(|name| format!("'{name}'"))
        .collect();
    let list = names.join(", ");
    for table in [
        "information_schema.SESSION_VARIABLES",
        "performance_schema.session_variables",
    ] {
        let sql = format!("SELECT VARIABLE_NAME FROM {table} WHERE LOWER(VARIABLE_NAME) IN ({list})");
        match conn.query::<String, _>(sql).await {
            Ok(found) => return Ok(found),
            Err(mysql_async::Error::Server(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Vec::new())
}

/// True when a server of `version` (`@@version`) keeps a prepared XA
/// transaction after its session ends: MariaDB 10.5.2+, MySQL 5.7.7+.
fn keeps_prepared_xa(version: &str) -> bool {
    let numbers: Vec<u32> = version
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let v = (
        numbers.first().copied().unwrap_or(0),
        numbers.get(1).copied().unwrap_or(0),
        numbers.get(2).copied().unwrap_or(0),
    );
    if version.contains("MariaDB") {
        v >= (10, 5, 2)
    } else {
        v >= (5, 7, 7)
    }
}

/// What a `BINLOG` statement applies, for errors and logs (its text is
/// base64): `BINLOG (UPDATE db.t: 3 rows; INSERT db.u: 1 row)`.
fn describe_rows(changes: &[&RowChanges]) -> String {
    let parts: Vec<String> = changes
        .iter()
        .map(|rc| {
            let n = rc.rows.len();
            format!(
                "{} {}: {n} row{}",
                rc.action.as_str(),
                table_name(&rc.schema, &rc.table),
                if n == 1 { "" } else { "s" }
            )
        })
        .collect();
    format!("BINLOG ({})", parts.join("; "))
}

/// The largest char boundary of `s` at or below `i` (`str::floor_char_boundary`
/// is not stable at our MSRV).
fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl Applier {
    /// Connects to the target, creates the catalog if needed and reads the
    /// channel's position.
    pub async fn connect(opts: Opts, cfg: ApplierConfig) -> Result<Applier, ApplyError> {
        if cfg.service.is_empty() {
            return Err(Ctx::default().definite("the service name is empty"));
        }
        let opts: Opts = OptsBuilder::from_opts(opts)
            .client_found_rows(true)
            .stmt_cache_size(STMT_CACHE_SIZE)
            .into();
        let mut applier = Applier {
            opts,
            names: CatalogNames::new(&cfg.service),
            cfg,
            conn: None,
            broken: false,
            session: SessionState::default(),
            collations: CollationNames::new(),
            committed: None,
            pending: None,
            position_header: None,
            batch: Batch::default(),
            block: Block::default(),
            stats: ApplierStats::default(),
            max_batch_bytes: MAX_BATCH_BYTES,
            max_binlog_statement: MAX_BINLOG_STATEMENT,
            packet_limit: MAX_BINLOG_STATEMENT,
            format_description_sent: false,
            xa_already_prepared: None,
            keeps_prepared_xa: false,
            last_service: None,
            precise_history: PreciseHistory::default(),
            heartbeat_schemas: std::collections::HashSet::new(),
            ddl_found_in_flight: None,
            ddl_mark_pending: false,
            held_xa: None,
            xa_hold: XaHold::default(),
        };
        applier.reconnect().await?;
        Ok(applier)
    }

    /// The channel's committed position; `None` when nothing was applied.
    pub fn last_applied(&self) -> Option<AppliedPosition> {
        self.committed.clone()
    }

    /// The committed seqno, without copying the position.
    pub fn last_applied_seqno(&self) -> Option<Seqno> {
        self.committed.as_ref().map(|p| p.seqno)
    }

    /// The seqno of the last event applied, committed or not.
    pub fn applied_seqno(&self) -> Option<Seqno> {
        self.pending.as_ref().map(|p| p.seqno)
    }

    /// How it connects to the target (for a helper's own connection).
    pub fn target_opts(&self) -> Opts {
        self.opts.clone()
    }

    /// The settings.
    pub fn config(&self) -> &ApplierConfig {
        &self.cfg
    }

    /// Whether this applier holds the session of an XA transaction it
    /// prepared (parallel apply sets [`XaHold::Never`]).
    pub fn set_xa_hold(&mut self, hold: XaHold) {
        self.xa_hold = hold;
    }

    /// Counters.
    pub fn stats(&self) -> ApplierStats {
        self.stats
    }

    /// True while a block is open (applied but not committed events).
    pub fn has_pending(&self) -> bool {
        self.block.is_open()
    }

    /// When the open block must be committed by time: the caller, idle
    /// until then, calls [`Applier::flush`].
    pub fn commit_deadline(&self) -> Option<Instant> {
        if let Some(held) = &self.held_xa {
            return Some(held.until);
        }
        if self.in_fragmented_transaction() {
            return None;
        }
        self.block.deadline(self.cfg.block_commit_interval)
    }

    /// True between the first and the last fragment of a transaction: the
    /// block cannot be committed there (nothing half-applied is visible).
    pub fn in_fragmented_transaction(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| !p.last_frag)
    }

    /// Drops the connection (rolling back any open block), connects again
    /// and re-reads the position. Called by [`Applier::apply`] after a lost
    /// connection.
    pub async fn reconnect(&mut self) -> Result<(), ApplyError> {
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.disconnect().await {
                debug!(error = %e, "disconnect of the old apply connection");
            }
        }
        self.broken = false;
        self.held_xa = None;
        self.session.invalidate();
        self.block.reset();
        let ctx = Ctx::default();
        let mut conn = Conn::new(self.opts.clone()).await.map_err(|e| ctx.classify(e))?;
        let mut setup: Vec<String> = Vec::new();
        if !self.cfg.log_slave_updates {
            setup.push("SET SESSION sql_log_bin=0".into());
        }
        setup.push("SET SESSION autocommit=0".into());
        setup.extend(self.names.create_statements());
        if self.cfg.channel != 0 {
            setup.push(self.names.expand_channel(self.cfg.channel));
        }
        setup.push("COMMIT".into());
        for sql in &setup {
            conn.query_drop(sql.as_str()).await.map_err(|e| {
                Ctx {
                    sql: Some(sql.as_bytes()),
                    ..Ctx::default()
                }
                .classify(e)
            })?;
        }
        // What MariaDB's replica does for its applier thread: DDL on a
        // system-versioned table replays (the source allowed it; the
        // replica keeps the history as is). Absent on MySQL and MariaDB
        // before 10.3.4 (1193), where it has no meaning.
        match conn.query_drop(REPLICA_SESSION).await {
            Ok(()) => {}
            Err(mysql_async::Error::Server(se)) if se.code == ER_UNKNOWN_SYSTEM_VARIABLE => {}
            Err(e) => {
                return Err(Ctx {
                    sql: Some(REPLICA_SESSION.as_bytes()),
                    ..Ctx::default()
                }
                .classify(e))
            }
        }
        // MariaDB 10.10 and later list the ids of collations such as
        // utf8mb4_uca1400_ai_ci (2304) only in the applicability table, by
        // full name; earlier servers have no FULL_COLLATION_NAME column.
        let collations: Vec<Row> = match conn
            .query(
                "SELECT ID, CHARACTER_SET_NAME, FULL_COLLATION_NAME \
                 FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY WHERE ID IS NOT NULL",
            )
            .await
        {
            Err(mysql_async::Error::Server(se)) if se.code == ER_BAD_FIELD => conn
                .query("SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS")
                .await
                .map_err(|e| ctx.classify(e))?,
            other => other.map_err(|e| ctx.classify(e))?,
        };
        self.collations.clear();
        for row in &collations {
            if let (Ok(id), Ok(cs), Ok(name)) = (get::<u16>(row, 0), get::<String>(row, 1), get::<String>(row, 2)) {
                self.collations.insert(id, (cs, name));
            }
        }
        let variables = optional_session_variables(&mut conn)
            .await
            .map_err(|e| ctx.classify(e))?;
        self.session.set_target_variables(variables.iter().map(String::as_str));
        let server: Option<(String, u64)> = conn
            .query_first("SELECT @@version, @@max_allowed_packet")
            .await
            .map_err(|e| ctx.classify(e))?;
        self.keeps_prepared_xa = server.as_ref().is_some_and(|(version, _)| keeps_prepared_xa(version));
        if let Some((_, m)) = server {
            let half = usize::try_from(m / 2).unwrap_or(MAX_BATCH_BYTES);
            self.max_batch_bytes = half.clamp(64 << 10, MAX_BATCH_BYTES);
            let whole = usize::try_from(m).unwrap_or(MAX_BINLOG_STATEMENT);
            self.max_binlog_statement = whole.saturating_sub(4096).clamp(64 << 10, MAX_BINLOG_STATEMENT);
            self.packet_limit = whole.saturating_sub(4096).max(64 << 10);
        }
        // The row applier's FORMAT_DESCRIPTION, sent now so that a missing
        // privilege is named at connect time, not at the first row.
        self.format_description_sent = false;
        if self.cfg.row_method == RowMethod::Binlog {
            let fde = format_description_statement();
            if let Err(e) = conn.query_drop(fde.as_str()).await {
                let fde_ctx = Ctx {
                    sql: Some(b"BINLOG (FORMAT_DESCRIPTION)"),
                    ..Ctx::default()
                };
                return Err(match e {
                    mysql_async::Error::Server(se) if se.code == ER_SPECIFIC_ACCESS_DENIED => fde_ctx.definite_code(
                        se.code,
                        format!(
                            "the apply user may not run BINLOG statements, which apply row changes with the \
                             target's own row applier ({}): GRANT BINLOG REPLAY ON *.* (MariaDB 10.5.2 and \
                             later; SUPER before) to the replication user",
                            se.message
                        ),
                    ),
                    e => fde_ctx.classify(e),
                });
            }
            self.format_description_sent = true;
        }
        let select = self.names.select_position(self.cfg.channel);
        let sql_ctx = Ctx {
            sql: Some(select.as_bytes()),
            ..Ctx::default()
        };
        let row: Option<Row> = conn
            .query_first(select.as_str())
            .await
            .map_err(|e| sql_ctx.classify(e))?;
        let row = row.ok_or_else(|| sql_ctx.definite(format!("no row for task_id {}", self.cfg.channel)))?;
        let position = Self::parse_position(&row).map_err(|m| sql_ctx.definite(m))?;
        let mark: Option<(i64, Option<String>, Option<String>)> = conn
            .query_first(self.names.select_ddl(self.cfg.channel))
            .await
            .map_err(|e| ctx.classify(e))?;
        // A mark at or before the committed seqno is stale (its position
        // committed with it deleted; kept only by a crash of an older
        // version): only a later one was in flight.
        self.ddl_found_in_flight = mark
            .filter(|(seqno, ..)| position.as_ref().is_none_or(|p| Seqno(*seqno) > p.seqno))
            .map(|(seqno, event_id, before_def)| DdlInFlight {
                seqno: Seqno(seqno),
                event_id: event_id.unwrap_or_default(),
                before_def,
            });
        self.ddl_mark_pending = self.ddl_found_in_flight.is_some();
        conn.query_drop("COMMIT").await.map_err(|e| ctx.classify(e))?;
        debug!(service = %self.cfg.service, channel = self.cfg.channel, position = ?position, "applier connected");
        self.committed = position;
        self.pending = self.committed.clone();
        self.conn = Some(conn);
        Ok(())
    }

    fn parse_position(row: &Row) -> Result<Option<AppliedPosition>, String> {
        let seqno: Option<i64> = get(row, 0)?;
        let Some(seqno) = seqno.and_then(Seqno::from_wire) else {
            return Ok(None);
        };
        let fragno: Option<i64> = get(row, 1)?;
        let last_frag: Option<String> = get(row, 2)?;
        let epoch: Option<i64> = get(row, 3)?;
        let event_id: Option<String> = get(row, 4)?;
        let source_id: Option<String> = get(row, 5)?;
        Ok(Some(AppliedPosition {
            seqno,
            fragno: u16::try_from(fragno.unwrap_or(0)).map_err(|_| format!("fragno {fragno:?}"))?,
            last_frag: !matches!(last_frag.as_deref(), Some("0" | "f" | "F" | "false")),
            epoch: Epoch(epoch.unwrap_or(0)),
            event_id: event_id.unwrap_or_default(),
            source_id: source_id.unwrap_or_default(),
        }))
    }

    /// Applies one event (a transaction or a fragment) inside the open
    /// block; commits when a block boundary is reached. On error the block
    /// is rolled back: re-feed events from `last_applied() + 1`.
    pub async fn apply(&mut self, ev: &ReplEvent) -> Result<(), ApplyError> {
        if self.conn.is_none() {
            self.reconnect().await?;
        }
        if let Some(p) = &self.pending {
            if p.covers(&ev.header) {
                debug!(
                    seqno = %ev.header.seqno,
                    fragno = ev.header.fragno,
                    last_applied = %p.seqno,
                    "skipping over previously applied event"
                );
                self.stats.events_skipped += 1;
                return Ok(());
            }
        }
        match self.apply_event(ev).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// Commits the open block, if any (the caller's input is idle, or the
    /// [`commit_deadline`](Applier::commit_deadline) passed), unless it ends
    /// inside a fragmented transaction.
    pub async fn flush(&mut self) -> Result<(), ApplyError> {
        // Mid-transaction the block waits for the last fragment; if the
        // caller stops there, dropping the connection rolls it back.
        if !self.block.is_open() || self.in_fragmented_transaction() {
            return Ok(());
        }
        match self.commit().await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    /// [`flush`](Applier::flush) for a caller whose input is idle: a
    /// prepared XA transaction that the session holds (`HeldXa`) stays
    /// held until the [`commit_deadline`](Applier::commit_deadline), for its
    /// own `XA COMMIT|ROLLBACK` to arrive.
    pub async fn flush_idle(&mut self) -> Result<(), ApplyError> {
        if self.held_xa.as_ref().is_some_and(|h| Instant::now() < h.until) {
            return Ok(());
        }
        self.flush().await
    }

    /// Every channel row of the target's position table: task id and
    /// committed seqno (`None`: nothing applied), by task id.
    pub async fn channel_seqnos(&mut self) -> Result<Vec<(u32, Option<Seqno>)>, ApplyError> {
        let sql = format!(
            "SELECT task_id, seqno FROM {} ORDER BY task_id",
            self.names.commit_seqno
        );
        let rows: Vec<(u32, i64)> = self.catalog_statement(&sql).await?;
        Ok(rows.into_iter().map(|(t, s)| (t, Seqno::from_wire(s))).collect())
    }

    /// The scheduler parallel apply last ran with on this target
    /// (`trep_apply_routing`); `None` before any (or before the table).
    pub async fn apply_routing(&mut self) -> Result<Option<String>, ApplyError> {
        let sql = format!("SELECT scheduler FROM {} WHERE id = 0", self.names.apply_routing);
        let rows: Vec<String> = self.catalog_statement(&sql).await?;
        Ok(rows.into_iter().next())
    }

    /// Records the scheduler parallel apply runs with.
    pub async fn set_apply_routing(&mut self, scheduler: &str) -> Result<(), ApplyError> {
        let sql = format!(
            "REPLACE INTO {} (id, scheduler) VALUES (0, '{scheduler}')",
            self.names.apply_routing
        );
        self.catalog_statement::<Row>(&sql).await.map(drop)
    }

    /// Deletes the position rows of the channels numbered `channels` and
    /// up (the channel count went down after a clean offline).
    pub async fn forget_channels_from(&mut self, channels: u32) -> Result<(), ApplyError> {
        let sql = format!("DELETE FROM {} WHERE task_id >= {channels}", self.names.commit_seqno);
        self.catalog_statement::<Row>(&sql).await.map(drop)
    }

    /// Runs one statement on the service's catalog tables, outside any
    /// block, and commits.
    async fn catalog_statement<T: mysql_async::prelude::FromRow + Send + 'static>(
        &mut self,
        sql: &str,
    ) -> Result<Vec<T>, ApplyError> {
        let ctx = Ctx {
            sql: Some(sql.as_bytes()),
            ..Ctx::default()
        };
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| ctx.transient("not connected to the target"))?;
        let rows = conn.query(sql).await.map_err(|e| ctx.classify(e))?;
        conn.query_drop("COMMIT").await.map_err(|e| ctx.classify(e))?;
        Ok(rows)
    }

    /// Commits what is pending and disconnects.
    pub async fn close(mut self) -> Result<(), ApplyError> {
        self.flush().await?;
        if let Some(conn) = self.conn.take() {
            if let Err(e) = conn.disconnect().await {
                debug!(error = %e, "disconnect of the apply connection");
            }
        }
        Ok(())
    }

    fn ctx<'a>(&self, ev: &ReplEvent) -> Ctx<'a> {
        Ctx {
            seqno: Some(ev.header.seqno),
            fragno: ev.header.fragno,
            table: None,
            sql: None,
            last_committed: self.committed.as_ref().map(|p| p.seqno),
        }
    }

    /// Abandons the open block after an error.
    async fn abort(&mut self) {
        // A session holding a prepared XA transaction refuses ROLLBACK
        // (XAER_RMFAIL); ending it keeps the transaction prepared.
        if self.held_xa.take().is_some() || self.broken {
            self.conn = None;
        } else if let Some(conn) = self.conn.as_mut() {
            if let Err(e) = conn.query_drop("ROLLBACK").await {
                warn!(error = %e, "ROLLBACK after an apply error failed; dropping the connection");
                self.conn = None;
            }
        }
        self.broken = false;
        self.session.invalidate();
        self.block.reset();
        self.pending = self.committed.clone();
        self.position_header = None;
        self.batch.clear();
        self.stats.rollbacks += 1;
    }

    async fn commit(&mut self) -> Result<(), ApplyError> {
        let ctx = Ctx {
            seqno: self.pending.as_ref().map(|p| p.seqno),
            last_committed: self.committed.as_ref().map(|p| p.seqno),
            ..Ctx::default()
        };
        if self.held_xa.is_some() {
            self.let_go_of_held_xa(&ctx).await?;
        }
        self.flush_batch().await?;
        let mut mark_cleared = false;
        if let Some(h) = self.position_header.take() {
            self.row_context(None, &ctx).await?;
            let params = position_params(&h, self.cfg.channel, now_ms());
            self.exec(&self.names.update_position(), params, &ctx).await?;
            if self.ddl_mark_pending {
                let channel = vec![P::from(self.cfg.channel)];
                self.exec(&self.names.clear_ddl(), channel, &ctx).await?;
                mark_cleared = true;
            }
        }
        thl::faults::crash_point(thl::faults::APPLIER_BEFORE_COMMIT);
        self.query(b"COMMIT", &ctx).await?;
        if mark_cleared {
            self.ddl_mark_pending = false;
            self.ddl_found_in_flight = None;
        }
        self.committed = self.pending.clone();
        self.block.reset();
        self.stats.commits += 1;
        Ok(())
    }

    async fn apply_event(&mut self, ev: &ReplEvent) -> Result<(), ApplyError> {
        let h = &ev.header;
        let ctx = self.ctx(ev);
        if h.fragno > 0 {
            let follows = self
                .pending
                .as_ref()
                .is_some_and(|p| p.seqno == h.seqno && !p.last_frag && p.fragno + 1 == h.fragno);
            if !follows {
                return Err(ctx.definite(format!(
                    "fragment {} of seqno {} does not follow the last applied position {:?}: \
                     a fragmented transaction must be applied from its fragment 0",
                    h.fragno, h.seqno, self.pending
                )));
            }
        }
        let completes_held = h.fragno == 0 && self.completes_held_xa(ev);
        if self.held_xa.is_some() && !completes_held {
            // Ends the session, and commits the prepared transaction's
            // position on a new one.
            self.commit().await?;
        }
        // Asked of every event: DDL makes the answer be asked again.
        let precise_history = h.fragno == 0 && !completes_held && self.changes_precise_history(ev, &ctx).await?;
        let alone = must_be_alone(ev) || precise_history;
        let service = ev.body.metadata_value(meta::SERVICE);
        let service_changed = matches!((self.last_service.as_deref(), service), (Some(a), Some(b)) if a != b);
        if self.block.is_open() && ((alone && h.fragno == 0) || service_changed) && !completes_held {
            self.commit().await?;
        }
        if let Some(s) = service {
            self.last_service = Some(s.to_owned());
        }
        self.block.touch(Instant::now());
        let xa = ev.body.metadata_value(meta::XA);
        if h.fragno == 0 {
            self.xa_already_prepared = None;
        }
        let skip_changes = self.xa_already_prepared == Some(h.seqno);
        if xa == Some(meta::XA_PREPARE) && !self.keeps_prepared_xa {
            return Err(ctx.definite(
                "a prepared XA transaction: this target would roll it back when the apply session ends \
                 (it needs MariaDB 10.5.2 or later, or MySQL 5.7.7 or later, to keep it prepared until its XA \
                 COMMIT); upgrade the target, or commit or roll back the transaction on the source and skip it",
            ));
        }
        if !h.is_filtered() && !skip_changes {
            for (k, run) in runs(&ev.body.changes).into_iter().enumerate() {
                match run {
                    Run::Statement(s) => match self.apply_statement(ev, s).await {
                        Ok(()) => {}
                        // A crash after `XA PREPARE` on the target, before
                        // its position committed: the transaction is
                        // prepared there already (`XA START` finds its xid).
                        Err(e)
                            if xa == Some(meta::XA_PREPARE)
                                && h.fragno == 0
                                && k == 0
                                && e.code() == Some(ER_XAER_DUPID) =>
                        {
                            warn!(seqno = %h.seqno, error = %e, "XA transaction already prepared on the target: recording its position only");
                            self.xa_already_prepared = Some(h.seqno);
                            break;
                        }
                        // The same after `XA COMMIT|ROLLBACK`: the xid is gone,
                        // unless the target still lists it as prepared.
                        Err(e) if xa == Some(meta::XA_COMPLETE) && e.code() == Some(ER_XAER_NOTA) => {
                            if self.still_prepared(s, &ctx).await? {
                                return Err(ctx.transient(format!(
                                    "{e}; yet the target lists the transaction as prepared (its session may \
                                     not be closed yet)"
                                )));
                            }
                            warn!(seqno = %h.seqno, error = %e, "XA transaction already completed on the target: recording its position only");
                        }
                        // A branch that changed nothing on the target (its
                        // changes were all to non-transactional tables, which
                        // the source logged apart, or none): the target
                        // dropped it when the preparing session ended, and
                        // completing it has no effect, as on the source.
                        Err(e) if xa == Some(meta::XA_COMPLETE) && e.code() == Some(ER_XA_RBROLLBACK) => {
                            if self.still_prepared(s, &ctx).await? {
                                return Err(e);
                            }
                            info!(seqno = %h.seqno, "XA transaction changed nothing on the target, which dropped it when its session ended: nothing to complete");
                        }
                        Err(e) => return Err(e),
                    },
                    Run::Rows(mut changes) => {
                        // The upstream's rows of our own catalog schema (its
                        // heartbeat row) are its bookkeeping: this applier
                        // keeps its own rows there (see the heartbeat below).
                        changes.retain(|rc| rc.schema != self.names.schema);
                        if changes.is_empty() {
                            continue;
                        }
                        if changes.iter().all(|rc| is_upstream_heartbeat(rc)) {
                            for rc in changes {
                                self.replace_heartbeat(ev, rc).await?;
                            }
                            continue;
                        }
                        match self.cfg.row_method {
                            RowMethod::Binlog => self.apply_rows_binlog_runs(ev, &changes).await?,
                            RowMethod::Sql => {
                                for rc in changes {
                                    self.apply_rows(ev, rc).await?;
                                }
                            }
                        }
                    }
                }
            }
            if let Some(name) = ev.body.metadata_value(meta::HEARTBEAT) {
                self.flush_batch().await?;
                self.row_context(None, &ctx).await?;
                let params = heartbeat_params(h, name, now_ms());
                self.exec(&self.names.upsert_heartbeat(), params, &ctx).await?;
            }
        }
        // The event's row statements reach the target before it counts as applied.
        self.flush_batch().await?;
        if completes_held {
            self.held_xa = None;
        }
        if h.last_frag && xa == Some(meta::XA_PREPARE) && self.xa_already_prepared != Some(h.seqno) {
            // A session with a prepared XA transaction can do nothing else;
            // MariaDB (10.5+) keeps the transaction when the session ends.
            // The session is held for the transaction's own completion
            // (`HeldXa`), unless its xid cannot be read back or `xa_hold`
            // says the completion cannot come next.
            let xid = ev.body.changes.iter().rev().find_map(|c| match c {
                Change::Statement(s) => prepared_xid(&s.sql),
                Change::Rows(_) => None,
            });
            match xid.filter(|_| self.xa_hold == XaHold::Held) {
                Some(xid) => {
                    self.held_xa = Some(HeldXa {
                        xid,
                        until: Instant::now() + XA_HOLD,
                    })
                }
                None => self.detach_prepared_xa(&ctx).await?,
            }
        }
        if h.last_frag && !h.is_filtered() && ev.body.metadata_value(meta::ROLLBACK).is_some() {
            // The source rolled the transaction back (it reached the binlog
            // for its non-transactional part): undo its transactional
            // changes here too. It is alone in its block, so nothing else is
            // undone; its position commits next, by itself.
            self.query(b"ROLLBACK", &ctx).await?;
        }
        self.position_header = Some(h.clone());
        self.pending = Some(AppliedPosition::of(h));
        if h.last_frag {
            self.block.add_transaction();
        }
        self.stats.events_applied += 1;
        if self.held_xa.is_some() {
            // The session can commit nothing now: the position waits.
            return Ok(());
        }
        if (alone && h.last_frag)
            || self.block.full_after(
                ev,
                self.cfg.block_commit_size,
                self.cfg.block_commit_interval,
                Instant::now(),
            )
        {
            self.commit().await?;
        }
        Ok(())
    }

    /// Whether the xid that `XA COMMIT|ROLLBACK` statement `s` names is
    /// listed by the target's `XA RECOVER` (false for a form whose xid
    /// cannot be read: MariaDB logs `X'gtrid',X'bqual',formatID`).
    async fn still_prepared(&mut self, s: &Statement, ctx: &Ctx<'_>) -> Result<bool, ApplyError> {
        let Some((gtrid, bqual, format)) = completed_xid(&s.sql) else {
            return Ok(false);
        };
        let conn = connected(&mut self.conn, ctx)?;
        let rows: Vec<Row> = conn.query("XA RECOVER").await.map_err(|e| ctx.classify(e))?;
        let mut data = gtrid.clone();
        data.extend_from_slice(&bqual);
        Ok(rows.iter().any(|r| {
            get::<i64>(r, 0).is_ok_and(|f| f == format)
                && get::<usize>(r, 1).is_ok_and(|g| g == gtrid.len())
                && get::<Vec<u8>>(r, 3).is_ok_and(|d| d == data)
        }))
    }

    /// True when `ev` completes the XA transaction the session holds
    /// ([`HeldXa`]).
    fn completes_held_xa(&self, ev: &ReplEvent) -> bool {
        self.held_xa.is_some()
            && ev.body.changes.iter().any(|c| match c {
                Change::Statement(s) => self.holds_prepared(&s.sql),
                Change::Rows(_) => false,
            })
    }

    /// True when `sql` is `XA COMMIT|ROLLBACK` of the transaction the
    /// session holds.
    fn holds_prepared(&self, sql: &[u8]) -> bool {
        self.held_xa
            .as_ref()
            .is_some_and(|held| completed_xid(sql).is_some_and(|xid| xid == held.xid))
    }

    /// Ends the session that holds a prepared XA transaction ([`HeldXa`])
    /// and keeps the transaction's position pending on the new session, for
    /// the commit that follows.
    async fn let_go_of_held_xa(&mut self, ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        self.held_xa = None;
        let pending = self.pending.clone();
        let header = self.position_header.clone();
        self.detach_prepared_xa(ctx).await?;
        self.pending = pending;
        self.position_header = header;
        self.block.touch(Instant::now());
        self.block.add_transaction();
        Ok(())
    }

    /// Ends the session that prepared an XA transaction, so that the target
    /// keeps the transaction prepared for another session to complete, and
    /// waits (bounded by [`XA_DETACH_WAIT`]) until the server has closed the
    /// old session: a disconnect is asynchronous, and until it is done the
    /// xid still belongs to the old session (`XA COMMIT|ROLLBACK` from the
    /// new one fails with XAER_NOTA, and the transaction keeps its locks).
    async fn detach_prepared_xa(&mut self, ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        let old = self.conn.as_ref().map(Conn::id);
        self.reconnect().await?;
        let Some(old) = old else {
            return Ok(());
        };
        let started = Instant::now();
        loop {
            let conn = connected(&mut self.conn, ctx)?;
            let open: Option<u64> = conn
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?",
                    (old,),
                )
                .await
                .map_err(|e| ctx.classify(e))?;
            if open == Some(0) {
                return Ok(());
            }
            if started.elapsed() >= XA_DETACH_WAIT {
                return Err(ctx.transient(format!(
                    "the target still has session {old}, which prepared the XA transaction, {:?} after it was \
                     closed",
                    XA_DETACH_WAIT
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// True when the event runs a DML statement while the target has a
    /// table with a transaction-precise history (`history.rs`): it is then
    /// alone in its target transaction.
    async fn changes_precise_history(&mut self, ev: &ReplEvent, ctx: &Ctx<'_>) -> Result<bool, ApplyError> {
        let statements = ev.body.changes.iter().filter_map(|c| match c {
            Change::Statement(s) => Some(s),
            Change::Rows(_) => None,
        });
        let mut dml = false;
        for s in statements {
            if commits_implicitly(&s.sql) {
                self.precise_history.forget();
            } else if !is_transaction_control(&s.sql) {
                dml = true;
            }
        }
        if !dml {
            return Ok(false);
        }
        let conn = connected(&mut self.conn, ctx)?;
        self.precise_history.on_target(conn).await.map_err(|e| ctx.classify(e))
    }

    async fn apply_statement(&mut self, ev: &ReplEvent, s: &Statement) -> Result<(), ApplyError> {
        self.replay_statement(ev, s).await
    }

    async fn row_context(&mut self, timestamp_us: Option<i64>, ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        let sets = self.session.row_context(timestamp_us);
        if let Some(set) = set_statement(&sets) {
            // Queued statements ran under the previous session values.
            self.flush_batch().await?;
            self.query(set.as_bytes(), ctx).await?;
        }
        Ok(())
    }

    /// Applies row changes with equal flags through `BINLOG` statements.
    /// Applies a run of row changes with the target's row applier, except
    /// a large `UPDATE` of a keyless table, which goes set-based when it can
    /// (`keyless.rs`).
    async fn apply_rows_binlog_runs(&mut self, ev: &ReplEvent, changes: &[&RowChanges]) -> Result<(), ApplyError> {
        let (mut start, mut i) = (0, 0);
        while i < changes.len() {
            let n = keyless::eligible_run(&changes[i..]);
            if n == 0 {
                i += 1;
                continue;
            }
            if start < i {
                self.apply_rows_binlog(ev, &changes[start..i]).await?;
                start = i;
            }
            if self.apply_keyless_update(ev, &changes[i..i + n]).await? {
                start = i + n;
            }
            i += n;
        }
        if start < changes.len() {
            self.apply_rows_binlog(ev, &changes[start..]).await?;
        }
        Ok(())
    }

    async fn apply_rows_binlog(&mut self, ev: &ReplEvent, changes: &[&RowChanges]) -> Result<(), ApplyError> {
        let tables =
            changes
                .iter()
                .map(|rc| table_name(&rc.schema, &rc.table))
                .fold(Vec::<String>::new(), |mut v, t| {
                    if !v.contains(&t) {
                        v.push(t);
                    }
                    v
                });
        let ctx = Ctx {
            table: Some(tables.join(", ")),
            ..self.ctx(ev)
        };
        self.flush_batch().await?;
        // Our own statements run under an ASCII-safe session (base64 text).
        self.row_context(None, &ctx).await?;
        if !self.format_description_sent {
            self.query(format_description_statement().as_bytes(), &ctx).await?;
            self.format_description_sent = true;
        }
        let server_id = ev
            .body
            .metadata_value(meta::SERVER_ID)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0);
        let timestamp = u32::try_from((ev.header.source_tstamp_ms / 1000).max(0)).unwrap_or(u32::MAX);
        let statements = row_statements(
            changes,
            server_id,
            timestamp,
            self.max_binlog_statement,
            self.packet_limit,
        )
        .map_err(|e| {
            Ctx {
                table: Some(e.table.clone()),
                ..ctx.clone()
            }
            .definite(format!("row change cannot be written for the target: {e}"))
        })?;
        for (sql, range) in statements {
            let part = &changes[range];
            let what = describe_rows(part);
            let conn = connected(&mut self.conn, &ctx)?;
            let mut result = Ok(());
            for step in sql {
                result = match step {
                    Step::Query(q) => conn.query_drop(q).await,
                    Step::Bind(b64) => conn.exec_drop(BIND_BASE64, (b64.into_bytes(),)).await,
                };
                if result.is_err() {
                    break;
                }
            }
            // The row applier set the session time to the events' time.
            self.session.forget_timestamp();
            match result {
                Ok(()) => self.stats.rows += part.iter().map(|rc| rc.rows.len() as u64).sum::<u64>(),
                // A row to change is missing: the server rolled the statement
                // back. Apply the changes row by row: each missing row goes
                // through the zero-row policy, and an error names its key.
                Err(mysql_async::Error::Server(se)) if se.code == ER_KEY_NOT_FOUND => {
                    debug!(seqno = %ev.header.seqno, error = %se.message, "{what}: applying row by row");
                    for rc in part {
                        self.apply_rows(ev, rc).await?;
                    }
                    self.flush_batch().await?;
                }
                Err(e) => {
                    self.broken |= breaks_connection(&e);
                    return Err(Ctx {
                        sql: Some(what.as_bytes()),
                        ..ctx.clone()
                    }
                    .classify(e));
                }
            }
        }
        Ok(())
    }

    async fn apply_rows(&mut self, ev: &ReplEvent, rc: &RowChanges) -> Result<(), ApplyError> {
        let table = table_name(&rc.schema, &rc.table);
        let ctx = Ctx {
            table: Some(table.clone()),
            ..self.ctx(ev)
        };
        // The session timestamp matters only where the server fills columns
        // itself (defaults, ON UPDATE CURRENT_TIMESTAMP): with a full after
        // image every column is given, so no `SET timestamp` round trip.
        let partial = rc.action != RowAction::Delete && rc.after_columns.len() < rc.columns.len();
        let ts = (partial && ev.header.source_tstamp_ms > 0).then(|| ev.header.source_tstamp_ms * 1000);
        self.row_context(ts, &ctx).await?;
        let before = image_columns(rc, &rc.before_columns).map_err(|m| ctx.definite(m))?;
        let after = image_columns(rc, &rc.after_columns).map_err(|m| ctx.definite(m))?;
        for (n, row) in rc.rows.iter().enumerate() {
            let (want_before, want_after) = match rc.action {
                RowAction::Insert => (0, after.len()),
                RowAction::Update => (before.len(), after.len()),
                RowAction::Delete => (before.len(), 0),
            };
            if (rc.action != RowAction::Insert && row.before.len() != want_before)
                || (rc.action != RowAction::Delete && row.after.len() != want_after)
            {
                return Err(ctx.definite(format!(
                    "{} row {n}: images of {}/{} values for {want_before}/{want_after} columns",
                    rc.action.as_str(),
                    row.before.len(),
                    row.after.len()
                )));
            }
        }
        match rc.action {
            RowAction::Insert => self.insert_rows(rc, &after, &table, &ctx, InsertVerb::Insert).await,
            RowAction::Update | RowAction::Delete => {
                if before.is_empty() {
                    return Err(ctx.definite(format!("{} without a before image", rc.action.as_str())));
                }
                let plan = key_plan(&before, &rc.columns);
                let sql = if rc.action == RowAction::Update {
                    if after.is_empty() {
                        debug!(seqno = %ev.header.seqno, table = %table, "UPDATE with an empty after image: nothing to set");
                        return Ok(());
                    }
                    update_sql(&table, &after, &before, &plan)
                } else {
                    delete_sql(&table, &before, &plan)
                };
                for row in &rc.rows {
                    let mut params: Vec<P> = Vec::with_capacity(after.len() + plan.positions.len());
                    if rc.action == RowAction::Update {
                        params.extend(row.after.iter().zip(&after).map(|(v, c)| bind(v, c, Use::Store)));
                    }
                    params.extend(
                        plan.positions
                            .iter()
                            .map(|&p| bind(&row.before[p], before[p], Use::Compare)),
                    );
                    let item = Item {
                        seqno: Some(ev.header.seqno),
                        fragno: ev.header.fragno,
                        table: table.clone(),
                        action: rc.action,
                        rows: 1,
                        key: Some(describe_key(&before, &row.before, &plan)),
                        start: 0,
                    };
                    self.batch.push(&sql, &params, item);
                    if self.batch.sql.len() >= self.max_batch_bytes {
                        self.flush_batch().await?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Applies the inserts and updates of an upstream service's heartbeat
    /// row (`tungsten_<service>.heartbeat`, Tungsten's table: no triggers,
    /// key `id`) as `REPLACE` of the after image: the row is the upstream's
    /// bookkeeping, and after its `reset -db` the upstream inserts row 1 anew
    /// where this target still has it (1062), or updates a row this target
    /// no longer has. Deletes apply as rows do.
    async fn replace_heartbeat(&mut self, ev: &ReplEvent, rc: &RowChanges) -> Result<(), ApplyError> {
        if rc.action == RowAction::Delete {
            return self.apply_rows(ev, rc).await;
        }
        let table = table_name(&rc.schema, &rc.table);
        let ctx = Ctx {
            table: Some(table.clone()),
            ..self.ctx(ev)
        };
        if !self.heartbeat_schemas.contains(&rc.schema) {
            self.create_heartbeat_table(&rc.schema, &ctx).await?;
            self.heartbeat_schemas.insert(rc.schema.clone());
        }
        self.row_context(None, &ctx).await?;
        let after = image_columns(rc, &rc.after_columns).map_err(|m| ctx.definite(m))?;
        self.insert_rows(rc, &after, &table, &ctx, InsertVerb::Replace).await
    }

    /// Creates an upstream's heartbeat table when this target lacks it (a
    /// master promoted after its table was made never logs it again, so a
    /// former master that follows it never received it): on a connection
    /// of its own (DDL would commit the open block), not binlogged (it is
    /// bookkeeping of this target, not an event of the history).
    async fn create_heartbeat_table(&self, schema: &str, ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        let names = CatalogNames::in_schema(schema.to_owned());
        let fail = |e: mysql_async::Error| ctx.transient(format!("creating the upstream's heartbeat table: {e}"));
        let mut conn = Conn::new(self.opts.clone()).await.map_err(fail)?;
        for sql in [
            "SET SESSION sql_log_bin=0".to_owned(),
            names.create_schema(),
            names.create_heartbeat(),
        ] {
            conn.query_drop(sql).await.map_err(fail)?;
        }
        let _ = conn.disconnect().await;
        Ok(())
    }

    fn zero_rows(
        &mut self,
        seqno: Option<Seqno>,
        action: RowAction,
        table: &str,
        key: &str,
        sql: &str,
        ctx: &Ctx<'_>,
    ) -> Result<(), ApplyError> {
        self.stats.zero_row_changes += 1;
        match self.cfg.zero_row_policy {
            ZeroRowPolicy::Stop => Err(Ctx {
                sql: Some(sql.as_bytes()),
                ..ctx.clone()
            }
            .definite(format!(
                "{} matched no row (key {key}); zero-row policy is stop",
                action.as_str()
            ))),
            ZeroRowPolicy::Warn => {
                let seqno = Seqno::or_minus_one(seqno);
                warn!(seqno, table = %table, key = %key, "{} matched no row on the target", action.as_str());
                Ok(())
            }
            ZeroRowPolicy::Ignore => Ok(()),
        }
    }

    async fn insert_rows(
        &mut self,
        rc: &RowChanges,
        after: &[&thl::event::ColumnSpec],
        table: &str,
        ctx: &Ctx<'_>,
        verb: InsertVerb,
    ) -> Result<(), ApplyError> {
        let per_row = after.len().max(1);
        let max_rows = (MAX_PLACEHOLDERS / per_row).max(1);
        let mut start = 0;
        while start < rc.rows.len() {
            let mut end = start;
            let mut bytes = 0usize;
            while end < rc.rows.len() && end - start < max_rows {
                let size: usize = rc.rows[end].after.iter().map(wire_size).sum();
                if end > start && bytes + size > self.max_batch_bytes {
                    break;
                }
                bytes += size;
                end += 1;
            }
            let rows = &rc.rows[start..end];
            let sql = insert_sql(verb, table, after, rows.len());
            let params: Vec<P> = rows
                .iter()
                .flat_map(|r| r.after.iter().zip(after).map(|(v, c)| bind(v, c, Use::Store)))
                .collect();
            let item = Item {
                seqno: ctx.seqno,
                fragno: ctx.fragno,
                table: table.to_owned(),
                action: RowAction::Insert,
                rows: rows.len() as u64,
                key: None,
                start: 0,
            };
            self.batch.push(&sql, &params, item);
            if self.batch.sql.len() >= self.max_batch_bytes {
                self.flush_batch().await?;
            }
            start = end;
        }
        Ok(())
    }

    /// Sends the queued row statements as one multi-statement query and
    /// checks each one's affected rows (see `batch.rs`).
    async fn flush_batch(&mut self) -> Result<(), ApplyError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut self.batch);
        let outcome = self.run_batch(&batch).await;
        // Keep the buffer's capacity for the next event.
        batch.clear();
        self.batch = batch;
        outcome
    }

    /// Runs `batch` and applies the zero-row policy to each statement's
    /// affected rows.
    async fn run_batch(&mut self, batch: &Batch) -> Result<(), ApplyError> {
        let last_committed = self.committed.as_ref().map(|p| p.seqno);
        let ctx_of = |i: usize| {
            let item = batch.items.get(i).or(batch.items.last());
            Ctx {
                seqno: item.and_then(|it| it.seqno),
                fragno: item.map_or(0, |it| it.fragno),
                table: item.map(|it| it.table.clone()),
                sql: Some(batch.statement(i).as_bytes()),
                last_committed,
            }
        };
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| ctx_of(0).transient("not connected to the target"))?;
        let n = batch.items.len();
        let mut affected = Vec::with_capacity(n);
        let failure = match conn.query_iter(batch.sql.as_str()).await {
            Err(e) => Some((0, e)),
            Ok(mut result) => {
                let mut failure = None;
                for i in 0..n {
                    affected.push(result.affected_rows());
                    if i + 1 < n {
                        if let Err(e) = result.next().await {
                            failure = Some((i + 1, e));
                            break;
                        }
                    }
                }
                if failure.is_none() {
                    if let Err(e) = result.drop_result().await {
                        failure = Some((n.saturating_sub(1), e));
                    }
                }
                failure
            }
        };
        if let Some((i, e)) = failure {
            self.broken |= breaks_connection(&e);
            return Err(ctx_of(i).classify(e));
        }
        for (i, (item, &rows)) in batch.items.iter().zip(&affected).enumerate() {
            self.stats.rows += item.rows;
            if let (Some(key), 0) = (&item.key, rows) {
                let ctx = ctx_of(i);
                self.zero_rows(item.seqno, item.action, &item.table, key, batch.statement(i), &ctx)?;
            }
        }
        Ok(())
    }

    /// Runs a text statement.
    async fn query(&mut self, sql: &[u8], ctx: &Ctx<'_>) -> Result<(), ApplyError> {
        let ctx = Ctx {
            sql: Some(sql),
            ..ctx.clone()
        };
        let conn = connected(&mut self.conn, &ctx)?;
        match conn.query_drop(sql).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.broken |= breaks_connection(&e);
                Err(ctx.classify(e))
            }
        }
    }

    /// Runs a prepared statement; returns the affected (matched) rows.
    async fn exec(&mut self, sql: &str, params: Vec<P>, ctx: &Ctx<'_>) -> Result<u64, ApplyError> {
        let ctx = Ctx {
            sql: Some(sql.as_bytes()),
            ..ctx.clone()
        };
        let conn = connected(&mut self.conn, &ctx)?;
        match conn.exec_drop(sql, params).await {
            Ok(()) => Ok(conn.affected_rows()),
            Err(e) => {
                self.broken |= breaks_connection(&e);
                Err(ctx.classify(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keeps_prepared_xa;

    #[test]
    fn which_targets_keep_prepared_xa_transactions() {
        assert!(keeps_prepared_xa("10.11.19-MariaDB-0+deb12u1-log"));
        assert!(keeps_prepared_xa("10.5.2-MariaDB"));
        assert!(!keeps_prepared_xa("10.4.34-MariaDB"));
        assert!(keeps_prepared_xa("8.0.36"));
        assert!(!keeps_prepared_xa("5.6.51-log"));
    }
}

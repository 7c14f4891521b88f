//! The event model: one [`ReplEvent`] is one transaction, or one fragment of a
//! large one (where events are made and consumed: `ARCHITECTURE.md` §3).
//!
//! Invariants the rest of the system relies on:
//!
//! * `seqno` is dense and starts at 0. A [`EventHeader::seqno_end`] greater
//!   than `seqno` marks a *filtered range*: the seqnos `seqno..=seqno_end`
//!   were dropped on purpose and the range record keeps the log dense.
//! * A transaction is the fragments `fragno = 0, 1, ..` of one seqno; only the
//!   last carries `last_frag = true`. Fragments of one seqno are contiguous in
//!   the log and never span a file rotation.
//! * `epoch` is the first seqno a master wrote in the online session that
//!   produced the event; it never decreases along the log.
//! * Values are exact: nothing is converted through a lossy intermediate. A
//!   value's meaning comes with its [`ColumnSpec`] (type, signedness, charset),
//!   which travels in the same event.
//!
//! The binary encoding is in `codec` and documented in `thl/FORMAT.md`.

use serde::{Deserialize, Serialize};

pub use crate::seqno::{Epoch, Seqno};

/// `shard_id` of a transaction that touches several databases, or none.
pub const SHARD_UNKNOWN: &str = "#UNKNOWN";

/// Names of well-known metadata options (`EventBody::metadata`).
pub mod meta {
    /// The source's GTID of the transaction, `domain-server-seqno` (MariaDB)
    /// or `uuid:n` (MySQL).
    pub const GTID: &str = "gtid";
    /// The source's `server_id` that wrote the transaction.
    pub const SERVER_ID: &str = "mysql_server_id";
    /// Always `mysql` for events from a MySQL/MariaDB source.
    pub const DBMS_TYPE: &str = "dbms_type";
    /// Name of the replication service that extracted the event.
    pub const SERVICE: &str = "service";
    /// Present on a heartbeat event; the value is the heartbeat name.
    pub const HEARTBEAT: &str = "heartbeat";
    /// Present (`true`) when the transaction contains DDL.
    pub const SCHEMA_CHANGE: &str = "schema_change";
    /// Present (`true`) when the transaction must not share a block commit.
    pub const UNSAFE_FOR_BLOCK_COMMIT: &str = "unsafe_for_block_commit";
    /// Present (`true`) when the source rolled the transaction back (MyISAM).
    pub const ROLLBACK: &str = "rollback";
    /// An XA transaction: `prepare` on every fragment of one that ends with
    /// `XA PREPARE` (its changes stay prepared on the target until a later
    /// `complete` transaction), `complete` on the `XA COMMIT|ROLLBACK` of a
    /// prepared one.
    pub const XA: &str = "xa";
    /// Values of [`XA`].
    pub const XA_PREPARE: &str = "prepare";
    pub const XA_COMPLETE: &str = "complete";
}

/// One transaction or one fragment of a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplEvent {
    pub header: EventHeader,
    pub body: EventBody,
}

/// The fields of an event that seeking, indexing and serving need. They are
/// stored before the body in every record, so they are readable without
/// decoding the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventHeader {
    /// Global transaction number, dense from 0.
    pub seqno: Seqno,
    /// Last seqno covered by this record: equal to `seqno` for an ordinary
    /// event, greater for a filtered range.
    pub seqno_end: Seqno,
    /// Fragment number within the transaction, from 0.
    pub fragno: u16,
    /// True on the final fragment of the transaction.
    pub last_frag: bool,
    /// Epoch of the master session that extracted the event.
    pub epoch: Epoch,
    /// Identity of the master that extracted the event (its host name).
    pub source_id: String,
    /// Native position: `mysql-bin.000018:0000000000070227;140`.
    pub event_id: String,
    /// The database the transaction touched, or [`SHARD_UNKNOWN`].
    pub shard_id: String,
    /// Commit time on the source, ms since the Unix epoch.
    pub source_tstamp_ms: i64,
    /// When the extractor read the event, ms since the Unix epoch.
    pub extract_tstamp_ms: i64,
}

impl EventHeader {
    /// True when this record stands for a range of dropped seqnos.
    pub fn is_filtered(&self) -> bool {
        self.seqno_end != self.seqno
    }
}

/// The content of an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventBody {
    /// Metadata options, in order (see [`meta`] for the well-known names).
    pub metadata: Vec<(String, String)>,
    /// The changes of the transaction (or fragment), in source order.
    pub changes: Vec<Change>,
}

impl EventBody {
    /// The value of the first metadata option called `name`.
    pub fn metadata_value(&self, name: &str) -> Option<&str> {
        self.metadata.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One change inside a transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Change {
    Statement(Statement),
    Rows(RowChanges),
}

/// A statement to replay as SQL, with the session state it ran under.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// The default database (`USE`) when the statement ran.
    pub default_db: Option<String>,
    /// The statement text, as bytes in the client character set.
    pub sql: Vec<u8>,
    /// The session state the statement depends on.
    pub session: SessionVars,
    /// The error code the statement ended with on the source (0 = success).
    pub error_code: u16,
    /// For a `LOAD DATA` logged as a statement: the file's content, which
    /// the statement (rewritten to `LOAD DATA LOCAL INFILE`) reads.
    #[serde(default)]
    pub infile: Option<Vec<u8>>,
}

/// Session state carried by a statement. `None` means "not set by the
/// source for this statement".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionVars {
    /// `SET TIMESTAMP`, in microseconds since the Unix epoch.
    pub timestamp_us: Option<i64>,
    /// The server's thread id that ran the statement.
    pub thread_id: Option<u32>,
    /// `sql_mode` as the binlog's bit mask.
    pub sql_mode: Option<u64>,
    /// `time_zone` as text (`SYSTEM`, `+00:00`, `Europe/Paris`).
    pub time_zone: Option<String>,
    /// `character_set_client`, `collation_connection`, `collation_server`:
    /// collation ids.
    pub charset_client: Option<u16>,
    pub collation_connection: Option<u16>,
    pub collation_server: Option<u16>,
    /// `collation_database` (a collation id), when the source sent it.
    pub collation_database: Option<u16>,
    /// `lc_time_names` as its numeric id.
    pub lc_time_names: Option<u16>,
    pub foreign_key_checks: Option<bool>,
    pub unique_checks: Option<bool>,
    pub autocommit: Option<bool>,
    pub sql_auto_is_null: Option<bool>,
    pub auto_increment_increment: Option<u16>,
    pub auto_increment_offset: Option<u16>,
    /// `SET INSERT_ID`.
    pub insert_id: Option<u64>,
    /// `SET LAST_INSERT_ID`.
    pub last_insert_id: Option<u64>,
    /// `RAND()` seeds.
    pub rand_seeds: Option<(u64, u64)>,
    /// User variables the statement reads (`SET @name = value`).
    pub user_vars: Vec<UserVar>,
    /// The storage engine a `CREATE TABLE` without `ENGINE=` got on the
    /// source (the binlog does not carry the session's
    /// `default_storage_engine`; the extractor reads it from the source).
    pub default_storage_engine: Option<String>,
    /// MariaDB's `check_constraint_checks`, `sql_if_exists`,
    /// `explicit_defaults_for_timestamp` (also MySQL's, from its own status
    /// variable) and `system_versioning_insert_history`: bits of the query
    /// event's flags2 that MariaDB's replica restores for each statement.
    pub check_constraint_checks: Option<bool>,
    pub sql_if_exists: Option<bool>,
    pub explicit_defaults_for_timestamp: Option<bool>,
    pub system_versioning_insert_history: Option<bool>,
}

/// The session variables of [`SessionVars::server_options`], in order.
pub const SERVER_OPTION_NAMES: [&str; 4] = [
    "check_constraint_checks",
    "sql_if_exists",
    "explicit_defaults_for_timestamp",
    "system_versioning_insert_history",
];

impl SessionVars {
    /// The flags2 options, in the order of [`SERVER_OPTION_NAMES`].
    pub fn server_options(&self) -> [Option<bool>; 4] {
        [
            self.check_constraint_checks,
            self.sql_if_exists,
            self.explicit_defaults_for_timestamp,
            self.system_versioning_insert_history,
        ]
    }
}

/// A user variable referenced by a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserVar {
    pub name: String,
    /// `Value::Null` for NULL; strings are `Value::Bytes` in `collation`.
    pub value: Value,
    /// Collation id of a string value.
    pub collation: Option<u16>,
    /// True for an unsigned integer value.
    pub unsigned: bool,
    /// MariaDB's data type of the value when its result type does not say
    /// it (a geometry: `point`, `linestring`, ..., `geometry`), as the
    /// binlog names it.
    #[serde(default)]
    pub data_type: Option<String>,
}

/// What a row change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RowAction {
    Insert,
    Update,
    Delete,
}

impl RowAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RowAction::Insert => "INSERT",
            RowAction::Update => "UPDATE",
            RowAction::Delete => "DELETE",
        }
    }
}

/// Row changes of one table: the rows of one (or several consecutive)
/// binlog rows events.
///
/// Row images may hold only some columns (a source with
/// `binlog_row_image=MINIMAL`): `before_columns` and `after_columns` list the
/// indexes (into `columns`) of the columns each before and after image holds,
/// in order, and each image holds exactly that many values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowChanges {
    pub schema: String,
    pub table: String,
    pub action: RowAction,
    /// Every column of the table, in table order, as in force at this seqno.
    pub columns: Vec<ColumnSpec>,
    /// Columns present in before images (empty for INSERT).
    pub before_columns: Vec<u16>,
    /// Columns present in after images (empty for DELETE).
    pub after_columns: Vec<u16>,
    /// The checks the source session had switched off for these rows (the
    /// binlog rows event's flags): the target applies them the same way.
    pub flags: RowFlags,
    pub rows: Vec<RowImage>,
}

impl RowChanges {
    /// Whether these rows are of a replicator's heartbeat table
    /// (`tungsten_<service>.heartbeat`, Tungsten's name).
    pub fn is_heartbeat_table(&self) -> bool {
        self.schema.starts_with("tungsten_") && self.table == "heartbeat"
    }
}

/// Per-rows switches the source logged with a rows event. The default (both
/// `false`) is "checks on", which is also what a body of format version 1
/// (written before the flags were kept) decodes to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RowFlags {
    /// `foreign_key_checks=0` was in force (`NO_FOREIGN_KEY_CHECKS_F`).
    pub no_foreign_key_checks: bool,
    /// `unique_checks=0` was in force (`RELAXED_UNIQUE_CHECKS_F`).
    pub relaxed_unique_checks: bool,
    /// MariaDB's `check_constraint_checks=0` was in force
    /// (`NO_CHECK_CONSTRAINT_CHECKS_F`).
    pub no_check_constraint_checks: bool,
}

/// One row change: the before image (UPDATE, DELETE) and the after image
/// (INSERT, UPDATE).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowImage {
    pub before: Vec<Value>,
    pub after: Vec<Value>,
}

/// A table column as the source defined it at the event's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSpec {
    /// Position in the table, from 0.
    pub index: u16,
    /// Column name; empty when the source did not provide one.
    pub name: String,
    /// The MySQL binlog type code (`MYSQL_TYPE_*`, e.g. 3 = LONG, 15 = VARCHAR).
    pub type_code: u8,
    /// The binlog type metadata (length, precision, fsp ...), as in the
    /// table map event.
    pub type_meta: u16,
    pub unsigned: bool,
    pub nullable: bool,
    /// Part of the primary key.
    pub key: bool,
    /// Collation id of a character column.
    pub collation: Option<u16>,
    /// SQL type as text when known (`varchar(32)`, `enum('a','b')`).
    pub type_desc: String,
}

impl ColumnSpec {
    /// A column known only by its position, name and type code: no type
    /// metadata, signed, nullable, not in the key, no collation, no type
    /// text (the fields a caller then sets are the ones it knows).
    pub fn of_type(index: u16, name: impl Into<String>, type_code: u8) -> ColumnSpec {
        ColumnSpec {
            index,
            name: name.into(),
            type_code,
            type_meta: 0,
            unsigned: false,
            nullable: true,
            key: false,
            collation: None,
            type_desc: String::new(),
        }
    }
}

/// A column value. Exact for every MySQL/MariaDB type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    /// TINYINT .. BIGINT, signed.
    Int(i64),
    /// TINYINT .. BIGINT UNSIGNED.
    UInt(u64),
    /// FLOAT, bit-exact.
    Float(f32),
    /// DOUBLE, bit-exact.
    Double(f64),
    /// DECIMAL as exact text (`-12.3400`).
    Decimal(String),
    /// DATE; zero dates (`0000-00-00`) and zero parts are allowed.
    Date(Date),
    /// DATETIME with microseconds; zero dates allowed.
    DateTime(DateTime),
    /// TIMESTAMP: seconds since the Unix epoch and microseconds (0 = zero date).
    Timestamp {
        secs: i64,
        micros: u32,
    },
    /// TIME, may be negative, up to 838:59:59.
    Time(Time),
    /// YEAR, 0 or 1901..2155.
    Year(u16),
    /// BIT(n), up to 64 bits.
    Bit(u64),
    /// ENUM: the 1-based member index (0 = the empty error value).
    Enum(u16),
    /// SET: the member bit mask.
    Set(u64),
    /// CHAR, VARCHAR, TEXT (in the column's collation), BINARY, VARBINARY,
    /// BLOB, JSON text, GEOMETRY (WKB with SRID), up to 1 GiB.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Time {
    pub negative: bool,
    pub hours: u16,
    pub minutes: u8,
    pub seconds: u8,
    pub micros: u32,
}

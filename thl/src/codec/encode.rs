//! The encoder: appends to the caller's `Vec<u8>`, allocates nothing else.

use super::{session_bit as sb, tag, BODY_FORMAT_VERSION};
use crate::event::{
    Change, ColumnSpec, EventBody, RowAction, RowChanges, RowImage, SessionVars, Statement, UserVar, Value,
};

/// Encodes a whole body (see the module documentation for the layout).
pub(super) fn body(body: &EventBody, out: &mut Vec<u8>) {
    out.push(BODY_FORMAT_VERSION);
    count(out, body.metadata.len());
    for (name, value) in &body.metadata {
        bytes(out, name.as_bytes());
        bytes(out, value.as_bytes());
    }
    count(out, body.changes.len());
    for change in &body.changes {
        match change {
            Change::Statement(s) => {
                out.push(tag::CHANGE_STATEMENT);
                statement(out, s);
            }
            Change::Rows(r) => {
                out.push(tag::CHANGE_ROWS);
                row_changes(out, r);
            }
        }
    }
}

fn statement(out: &mut Vec<u8>, s: &Statement) {
    let mut flags = 0;
    if s.default_db.is_some() {
        flags |= tag::STMT_DEFAULT_DB;
    }
    if s.infile.is_some() {
        flags |= tag::STMT_INFILE;
    }
    out.push(flags);
    if let Some(db) = &s.default_db {
        bytes(out, db.as_bytes());
    }
    bytes(out, &s.sql);
    session(out, &s.session);
    varint(out, u64::from(s.error_code));
    if let Some(data) = &s.infile {
        bytes(out, data);
    }
}

/// The presence mask of the session vars: one bit per present field.
fn session_mask(s: &SessionVars) -> u64 {
    let bits = [
        (sb::TIMESTAMP_US, s.timestamp_us.is_some()),
        (sb::THREAD_ID, s.thread_id.is_some()),
        (sb::SQL_MODE, s.sql_mode.is_some()),
        (sb::TIME_ZONE, s.time_zone.is_some()),
        (sb::CHARSET_CLIENT, s.charset_client.is_some()),
        (sb::COLLATION_CONNECTION, s.collation_connection.is_some()),
        (sb::COLLATION_SERVER, s.collation_server.is_some()),
        (sb::COLLATION_DATABASE, s.collation_database.is_some()),
        (sb::LC_TIME_NAMES, s.lc_time_names.is_some()),
        (sb::FOREIGN_KEY_CHECKS, s.foreign_key_checks.is_some()),
        (sb::UNIQUE_CHECKS, s.unique_checks.is_some()),
        (sb::AUTOCOMMIT, s.autocommit.is_some()),
        (sb::SQL_AUTO_IS_NULL, s.sql_auto_is_null.is_some()),
        (sb::AUTO_INCREMENT_INCREMENT, s.auto_increment_increment.is_some()),
        (sb::AUTO_INCREMENT_OFFSET, s.auto_increment_offset.is_some()),
        (sb::INSERT_ID, s.insert_id.is_some()),
        (sb::LAST_INSERT_ID, s.last_insert_id.is_some()),
        (sb::RAND_SEEDS, s.rand_seeds.is_some()),
        (sb::USER_VARS, !s.user_vars.is_empty()),
        (sb::DEFAULT_STORAGE_ENGINE, s.default_storage_engine.is_some()),
        (sb::CHECK_CONSTRAINT_CHECKS, s.check_constraint_checks.is_some()),
        (sb::SQL_IF_EXISTS, s.sql_if_exists.is_some()),
        (
            sb::EXPLICIT_DEFAULTS_FOR_TIMESTAMP,
            s.explicit_defaults_for_timestamp.is_some(),
        ),
        (
            sb::SYSTEM_VERSIONING_INSERT_HISTORY,
            s.system_versioning_insert_history.is_some(),
        ),
    ];
    bits.iter()
        .filter(|(_, present)| *present)
        .fold(0, |mask, (bit, _)| mask | (1 << bit))
}

/// Session vars: the presence mask, then the present fields in bit order.
fn session(out: &mut Vec<u8>, s: &SessionVars) {
    varint(out, session_mask(s));
    if let Some(v) = s.timestamp_us {
        zigzag(out, v);
    }
    if let Some(v) = s.thread_id {
        varint(out, u64::from(v));
    }
    if let Some(v) = s.sql_mode {
        varint(out, v);
    }
    if let Some(v) = &s.time_zone {
        bytes(out, v.as_bytes());
    }
    let ids = [
        s.charset_client,
        s.collation_connection,
        s.collation_server,
        s.collation_database,
        s.lc_time_names,
    ];
    for v in ids.into_iter().flatten() {
        varint(out, u64::from(v));
    }
    let flags = [s.foreign_key_checks, s.unique_checks, s.autocommit, s.sql_auto_is_null];
    for v in flags.into_iter().flatten() {
        out.push(u8::from(v));
    }
    let auto_inc = [s.auto_increment_increment, s.auto_increment_offset];
    for v in auto_inc.into_iter().flatten() {
        varint(out, u64::from(v));
    }
    for v in [s.insert_id, s.last_insert_id].into_iter().flatten() {
        varint(out, v);
    }
    if let Some((seed1, seed2)) = s.rand_seeds {
        varint(out, seed1);
        varint(out, seed2);
    }
    if !s.user_vars.is_empty() {
        count(out, s.user_vars.len());
        for uv in &s.user_vars {
            user_var(out, uv);
        }
    }
    if let Some(v) = &s.default_storage_engine {
        bytes(out, v.as_bytes());
    }
    let options = [
        s.check_constraint_checks,
        s.sql_if_exists,
        s.explicit_defaults_for_timestamp,
        s.system_versioning_insert_history,
    ];
    for v in options.into_iter().flatten() {
        out.push(u8::from(v));
    }
}

fn user_var(out: &mut Vec<u8>, uv: &UserVar) {
    bytes(out, uv.name.as_bytes());
    let mut flags = 0;
    if uv.unsigned {
        flags |= tag::UV_UNSIGNED;
    }
    if uv.collation.is_some() {
        flags |= tag::UV_COLLATION;
    }
    if uv.data_type.is_some() {
        flags |= tag::UV_DATA_TYPE;
    }
    out.push(flags);
    if let Some(c) = uv.collation {
        varint(out, u64::from(c));
    }
    if let Some(t) = &uv.data_type {
        bytes(out, t.as_bytes());
    }
    value(out, &uv.value);
}

fn row_changes(out: &mut Vec<u8>, r: &RowChanges) {
    bytes(out, r.schema.as_bytes());
    bytes(out, r.table.as_bytes());
    out.push(match r.action {
        RowAction::Insert => tag::ACTION_INSERT,
        RowAction::Update => tag::ACTION_UPDATE,
        RowAction::Delete => tag::ACTION_DELETE,
    });
    let mut flags = 0;
    if r.flags.no_foreign_key_checks {
        flags |= tag::ROWS_NO_FK_CHECKS;
    }
    if r.flags.relaxed_unique_checks {
        flags |= tag::ROWS_RELAXED_UNIQUE_CHECKS;
    }
    if r.flags.no_check_constraint_checks {
        flags |= tag::ROWS_NO_CHECK_CONSTRAINT_CHECKS;
    }
    out.push(flags);
    count(out, r.columns.len());
    for c in &r.columns {
        column_spec(out, c);
    }
    for list in [&r.before_columns, &r.after_columns] {
        count(out, list.len());
        for &i in list {
            varint(out, u64::from(i));
        }
    }
    count(out, r.rows.len());
    for row in &r.rows {
        row_image(out, row);
    }
}

fn column_spec(out: &mut Vec<u8>, c: &ColumnSpec) {
    varint(out, u64::from(c.index));
    bytes(out, c.name.as_bytes());
    out.push(c.type_code);
    varint(out, u64::from(c.type_meta));
    let mut flags = 0;
    if c.unsigned {
        flags |= tag::COL_UNSIGNED;
    }
    if c.nullable {
        flags |= tag::COL_NULLABLE;
    }
    if c.key {
        flags |= tag::COL_KEY;
    }
    if c.collation.is_some() {
        flags |= tag::COL_COLLATION;
    }
    out.push(flags);
    if let Some(coll) = c.collation {
        varint(out, u64::from(coll));
    }
    bytes(out, c.type_desc.as_bytes());
}

fn row_image(out: &mut Vec<u8>, row: &RowImage) {
    for image in [&row.before, &row.after] {
        count(out, image.len());
        for v in image {
            value(out, v);
        }
    }
}

/// One value: its tag byte, then its payload.
fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(tag::NULL),
        Value::Int(n) => {
            out.push(tag::INT);
            zigzag(out, *n);
        }
        Value::UInt(n) => {
            out.push(tag::UINT);
            varint(out, *n);
        }
        Value::Float(f) => {
            out.push(tag::FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Double(f) => {
            out.push(tag::DOUBLE);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Decimal(s) => {
            out.push(tag::DECIMAL);
            bytes(out, s.as_bytes());
        }
        Value::Date(d) => {
            out.push(tag::DATE);
            let [y0, y1] = d.year.to_le_bytes();
            out.extend_from_slice(&[y0, y1, d.month, d.day]);
        }
        Value::DateTime(d) => {
            out.push(tag::DATETIME);
            let [y0, y1] = d.year.to_le_bytes();
            out.extend_from_slice(&[y0, y1, d.month, d.day, d.hour, d.minute, d.second]);
            varint(out, u64::from(d.micros));
        }
        Value::Timestamp { secs, micros } => {
            out.push(tag::TIMESTAMP);
            zigzag(out, *secs);
            varint(out, u64::from(*micros));
        }
        Value::Time(t) => {
            out.push(tag::TIME);
            let flags = if t.negative { tag::TIME_NEGATIVE } else { 0 };
            let [h0, h1] = t.hours.to_le_bytes();
            out.extend_from_slice(&[flags, h0, h1, t.minutes, t.seconds]);
            varint(out, u64::from(t.micros));
        }
        Value::Year(y) => {
            out.push(tag::YEAR);
            out.extend_from_slice(&y.to_le_bytes());
        }
        Value::Bit(n) => {
            out.push(tag::BIT);
            varint(out, *n);
        }
        Value::Enum(n) => {
            out.push(tag::ENUM);
            varint(out, u64::from(*n));
        }
        Value::Set(n) => {
            out.push(tag::SET);
            varint(out, *n);
        }
        Value::Bytes(b) => {
            out.push(tag::BYTES);
            bytes(out, b);
        }
    }
}

/// Unsigned LEB128, minimal.
#[inline]
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Signed integer as a zigzag varint.
#[inline]
fn zigzag(out: &mut Vec<u8>, v: i64) {
    varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// A count of items (a `usize` always fits a `u64`).
#[inline]
fn count(out: &mut Vec<u8>, n: usize) {
    varint(out, n as u64);
}

/// A length-prefixed byte string.
#[inline]
fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    count(out, b.len());
    out.extend_from_slice(b);
}

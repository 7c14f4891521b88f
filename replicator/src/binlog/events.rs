//! Small fixed-layout events: QUERY, ROTATE, XID, INTVAR, RAND, USER_VAR,
//! INCIDENT, HEARTBEAT, ROWS_QUERY. `p` is the payload after the common
//! header, without the CRC trailer; `post` is the FDE's post-header length.
//!
//! | event      | layout                                                                  |
//! |------------|-------------------------------------------------------------------------|
//! | QUERY      | thread u32, exec u32, db_len u8, error u16, [vars_len u16], vars, db, NUL, sql |
//! | ROTATE     | position u64, file name (rest)                                          |
//! | XID        | xid u64                                                                 |
//! | INTVAR     | kind u8 (1 LAST_INSERT_ID, 2 INSERT_ID), value u64                      |
//! | RAND       | seed1 u64, seed2 u64                                                    |
//! | USER_VAR   | name_len u32, name, is_null u8, [type u8, charset u32, len u32, value, [flags u8]] |
//! | INCIDENT   | kind u16, msg_len u8, msg                                               |
//! | HEARTBEAT  | file name (rest); the header's log_pos is the position                  |
//! | ROWS_QUERY | len u8 (ignored, may be truncated), sql (rest)                          |

use thl::event::{SessionVars, Statement, UserVar, Value};

use super::cursor::Cursor;
use super::error::{malformed, KResult};
use super::status_vars::{parse_status_vars, StatusVars};
use super::values::decimal_to_string;

/// A decoded QUERY_EVENT (also the inflated MariaDB QUERY_COMPRESSED_EVENT).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryEvent {
    pub thread_id: u32,
    pub exec_time: u32,
    pub error_code: u16,
    /// `None` when the statement ran without a default database.
    pub default_db: Option<String>,
    pub sql: Vec<u8>,
    /// Status variables; `status.session` is complete except for what
    /// INTVAR/RAND/USER_VAR events before the query add (see
    /// [`super::session::PendingVars`]). `session.timestamp_us` = header
    /// timestamp and the micro-seconds from Q_MICROSECONDS/Q_HRNOW.
    pub status: StatusVars,
}

impl QueryEvent {
    /// The THL statement of this query (session variables as decoded).
    pub fn to_statement(&self) -> Statement {
        Statement {
            default_db: self.default_db.clone(),
            sql: self.sql.clone(),
            session: self.status.session.clone(),
            error_code: self.error_code,
            infile: None,
        }
    }

    /// Like [`Self::to_statement`] without copying.
    pub fn into_statement(self) -> Statement {
        Statement {
            default_db: self.default_db,
            sql: self.sql,
            session: self.status.session,
            error_code: self.error_code,
            infile: None,
        }
    }
}

pub fn parse_query(p: &[u8], post: usize, timestamp: u32) -> KResult<QueryEvent> {
    let mut c = Cursor::new(p);
    let thread_id = c.u32("query thread_id")?;
    let exec_time = c.u32("query exec_time")?;
    let db_len = usize::from(c.u8("query db_len")?);
    let error_code = c.u16("query error_code")?;
    let vars_len = if post >= 13 {
        usize::from(c.u16("query status_vars_len")?)
    } else {
        0
    };
    if post > 13 {
        c.skip(post - 13, "query post-header")?;
    }
    let block = c.take(vars_len, "query status_vars")?;
    let mut status = parse_status_vars(block)?;
    let db = c.take(db_len, "query db")?;
    c.skip(1, "query db NUL")?;
    let sql = c.take_rest().to_vec();
    let s = &mut status.session;
    s.thread_id = Some(thread_id);
    s.timestamp_us = Some(i64::from(timestamp) * 1_000_000 + i64::from(status.micros.unwrap_or(0)));
    Ok(QueryEvent {
        thread_id,
        exec_time,
        error_code,
        default_db: if db.is_empty() {
            None
        } else {
            Some(String::from_utf8_lossy(db).into_owned())
        },
        sql,
        status,
    })
}

/// ROTATE: the next file and the position in it.
pub fn parse_rotate(p: &[u8], post: usize) -> KResult<(String, u64)> {
    let mut c = Cursor::new(p);
    let pos = if post >= 8 { c.u64("rotate position")? } else { 4 };
    if post > 8 {
        c.skip(post - 8, "rotate post-header")?;
    }
    Ok((String::from_utf8_lossy(c.take_rest()).into_owned(), pos))
}

pub fn parse_xid(p: &[u8]) -> KResult<u64> {
    Ok(Cursor::new(p).u64("xid")?)
}

/// INTVAR kinds.
pub const INTVAR_LAST_INSERT_ID: u8 = 1;
pub const INTVAR_INSERT_ID: u8 = 2;

pub fn parse_intvar(p: &[u8]) -> KResult<(u8, u64)> {
    let mut c = Cursor::new(p);
    Ok((c.u8("intvar type")?, c.u64("intvar value")?))
}

pub fn parse_rand(p: &[u8]) -> KResult<(u64, u64)> {
    let mut c = Cursor::new(p);
    Ok((c.u64("rand seed1")?, c.u64("rand seed2")?))
}

/// USER_VAR value types (`Item_result`).
const STRING_RESULT: u8 = 0;
const REAL_RESULT: u8 = 1;
const INT_RESULT: u8 = 2;
const DECIMAL_RESULT: u8 = 4;

pub fn parse_user_var(p: &[u8]) -> KResult<UserVar> {
    let mut c = Cursor::new(p);
    let name_len = c.u32("user_var name_len")? as usize;
    let name = String::from_utf8_lossy(c.take(name_len, "user_var name")?).into_owned();
    let is_null = c.u8("user_var is_null")? != 0;
    if is_null {
        return Ok(UserVar {
            name,
            value: Value::Null,
            collation: None,
            unsigned: false,
            data_type: None,
        });
    }
    let ty = c.u8("user_var type")?;
    let charset = c.u32("user_var charset")?;
    let len = c.u32("user_var value_len")? as usize;
    let val = c.take(len, "user_var value")?;
    let (unsigned, data_type) = user_var_attributes(&mut c)?;
    let (value, collation) = match ty {
        STRING_RESULT => (Value::Bytes(val.to_vec()), u16::try_from(charset).ok()),
        REAL_RESULT => {
            let b: [u8; 8] = val
                .try_into()
                .map_err(|_| malformed("user_var REAL value is not 8 bytes"))?;
            (Value::Double(f64::from_le_bytes(b)), None)
        }
        INT_RESULT => {
            let b: [u8; 8] = val
                .try_into()
                .map_err(|_| malformed("user_var INT value is not 8 bytes"))?;
            if unsigned {
                (Value::UInt(u64::from_le_bytes(b)), None)
            } else {
                (Value::Int(i64::from_le_bytes(b)), None)
            }
        }
        DECIMAL_RESULT => {
            let mut d = Cursor::new(val);
            let precision = d.u8("user_var decimal precision")?;
            let scale = d.u8("user_var decimal scale")?;
            let (s, _) = decimal_to_string(d.rest(), precision, scale)?;
            (Value::Decimal(s), None)
        }
        t => return Err(malformed(format!("user_var value type {t}"))),
    };
    Ok(UserVar {
        name,
        value,
        collation,
        unsigned,
        data_type,
    })
}

/// USER_VAR's optional attributes after the value (MariaDB's
/// `Log_event_data_type::unpack_optional_attributes`): chunks, each a
/// signature byte: 0 = signed, 1 = unsigned (MySQL's flags byte), 2 = the
/// data type's name (a length byte, then the name: `point`, `geometry` ...,
/// for values whose result type does not say their type).
fn user_var_attributes(c: &mut Cursor<'_>) -> KResult<(bool, Option<String>)> {
    let (mut unsigned, mut data_type) = (false, None);
    while !c.is_empty() {
        match c.u8("user_var attribute")? {
            0 => unsigned = false,
            1 => unsigned = true,
            2 => {
                let n = usize::from(c.u8("user_var data type name length")?);
                let name = c.take(n, "user_var data type name")?;
                data_type = Some(String::from_utf8_lossy(name).into_owned());
            }
            other => return Err(malformed(format!("user_var attribute chunk {other}"))),
        }
    }
    Ok((unsigned, data_type))
}

pub fn parse_incident(p: &[u8]) -> KResult<(u16, String)> {
    let mut c = Cursor::new(p);
    let kind = c.u16("incident type")?;
    let msg = if c.is_empty() {
        String::new()
    } else {
        let n = usize::from(c.u8("incident message length")?);
        String::from_utf8_lossy(c.take(n, "incident message")?).into_owned()
    };
    Ok((kind, msg))
}

/// ROWS_QUERY_LOG_EVENT (MySQL's ANNOTATE): the statement text.
pub fn parse_rows_query(p: &[u8]) -> KResult<Vec<u8>> {
    let mut c = Cursor::new(p);
    c.skip(1, "rows_query length")?;
    Ok(c.take_rest().to_vec())
}

/// Applies INTVAR/RAND/USER_VAR contents to session variables.
pub fn apply_intvar(s: &mut SessionVars, kind: u8, value: u64) {
    match kind {
        INTVAR_LAST_INSERT_ID => s.last_insert_id = Some(value),
        _ => s.insert_id = Some(value),
    }
}

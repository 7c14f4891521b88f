//! The QUERY_EVENT status-variable block, parsed by us (mysql_common stops
//! at MariaDB's keys 128/129).
//!
//! The block is a sequence of `key(1) value` pairs; the value's length
//! depends on the key:
//!
//! | key | name                               | value                                   |
//! |-----|------------------------------------|-----------------------------------------|
//! | 0   | Q_FLAGS2_CODE                      | u32 (`OPTION_*` bits)                   |
//! | 1   | Q_SQL_MODE_CODE                    | u64                                     |
//! | 2   | Q_CATALOG_CODE                     | len u8, bytes, NUL                      |
//! | 3   | Q_AUTO_INCREMENT                   | increment u16, offset u16               |
//! | 4   | Q_CHARSET_CODE                     | client u16, connection u16, server u16  |
//! | 5   | Q_TIME_ZONE_CODE                   | len u8, bytes                           |
//! | 6   | Q_CATALOG_NZ_CODE                  | len u8, bytes                           |
//! | 7   | Q_LC_TIME_NAMES_CODE               | u16                                     |
//! | 8   | Q_CHARSET_DATABASE_CODE            | u16                                     |
//! | 9   | Q_TABLE_MAP_FOR_UPDATE_CODE        | u64                                     |
//! | 10  | Q_MASTER_DATA_WRITTEN_CODE         | u32                                     |
//! | 11  | Q_INVOKER                          | len u8 user, len u8 host                |
//! | 12  | Q_UPDATED_DB_NAMES                 | count u8 (254 = too many), NUL-term names |
//! | 13  | Q_MICROSECONDS                     | u24                                     |
//! | 16  | Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP  | u8                                      |
//! | 17  | Q_DDL_LOGGED_WITH_XID              | u64                                     |
//! | 18  | Q_DEFAULT_COLLATION_FOR_UTF8MB4    | u16                                     |
//! | 19  | Q_SQL_REQUIRE_PRIMARY_KEY          | u8                                      |
//! | 20  | Q_DEFAULT_TABLE_ENCRYPTION         | u8                                      |
//! | 128 | Q_HRNOW (MariaDB)                  | u24 microseconds of the timestamp       |
//! | 129 | Q_XID (MariaDB)                    | u64                                     |
//!
//! An unknown key ends parsing (its length is unknown); the key is reported
//! in [`StatusVars::unknown_key`] so nothing is lost silently.

use thl::event::SessionVars;

use super::cursor::Cursor;
use super::error::KResult;

/// `OPTION_*` bits of Q_FLAGS2_CODE, both flavours.
pub const OPTION_AUTO_IS_NULL: u32 = 1 << 14;
pub const OPTION_NOT_AUTOCOMMIT: u32 = 1 << 19;
pub const OPTION_NO_FOREIGN_KEY_CHECKS: u32 = 1 << 26;
pub const OPTION_RELAXED_UNIQUE_CHECKS: u32 = 1 << 27;

/// `OPTION_*` bits that only MariaDB writes to Q_FLAGS2_CODE (MySQL masks
/// flags2 to the four above, so these bits mean nothing in its events).
/// Measured on MariaDB 10.11: `SET check_constraint_checks=0` sets bit 15,
/// `explicit_defaults_for_timestamp=1` bit 24, `sql_if_exists=1` bit 28,
/// `system_versioning_insert_history=1` bit 30.
pub const MARIADB_OPTION_NO_CHECK_CONSTRAINT_CHECKS: u32 = 1 << 15;
pub const MARIADB_OPTION_EXPLICIT_DEF_TIMESTAMP: u32 = 1 << 24;
pub const MARIADB_OPTION_IF_EXISTS: u32 = 1 << 28;
pub const MARIADB_OPTION_INSERT_HISTORY: u32 = 1 << 30;

/// Everything the status block carried. `session` holds what THL
/// statements replay; the rest is informational.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusVars {
    pub session: SessionVars,
    pub flags2: Option<u32>,
    /// Microseconds of the statement's timestamp (Q_MICROSECONDS or
    /// MariaDB's Q_HRNOW).
    pub micros: Option<u32>,
    /// MariaDB Q_XID: the XID of a DDL that is its own transaction.
    pub xid: Option<u64>,
    /// MySQL Q_DDL_LOGGED_WITH_XID.
    pub ddl_xid: Option<u64>,
    pub catalog: Option<String>,
    /// Q_INVOKER `(user, host)`.
    pub invoker: Option<(String, String)>,
    /// Q_UPDATED_DB_NAMES (`None` when absent or too many).
    pub updated_db_names: Option<Vec<String>>,
    pub table_map_for_update: Option<u64>,
    pub default_collation_for_utf8mb4: Option<u16>,
    pub sql_require_primary_key: Option<u8>,
    pub default_table_encryption: Option<u8>,
    /// MariaDB Q_GTID_FLAGS3 (the GTID's extra flags: two-phase ALTER).
    pub gtid_flags3: Option<u8>,
    /// A key this parser does not know; parsing stopped there.
    pub unknown_key: Option<u8>,
}

/// Q_GTID_FLAGS3 bits (MariaDB 10.8+, `binlog_alter_two_phase`): the query is
/// the `START ALTER` of an ALTER that a later `COMMIT ALTER` (the same
/// statement text) or `ROLLBACK ALTER` ends.
pub const FL_START_ALTER_E1: u8 = 2;
pub const FL_COMMIT_ALTER_E1: u8 = 4;
pub const FL_ROLLBACK_ALTER_E1: u8 = 8;

impl StatusVars {
    /// Fills the session options that MariaDB's flags2 carries (its replica
    /// restores them for every statement). Only for a MariaDB source: the
    /// bits mean nothing in MySQL's events.
    pub fn read_mariadb_options(&mut self) {
        let Some(f) = self.flags2 else { return };
        let s = &mut self.session;
        s.check_constraint_checks = Some(f & MARIADB_OPTION_NO_CHECK_CONSTRAINT_CHECKS == 0);
        s.sql_if_exists = Some(f & MARIADB_OPTION_IF_EXISTS != 0);
        s.explicit_defaults_for_timestamp = Some(f & MARIADB_OPTION_EXPLICIT_DEF_TIMESTAMP != 0);
        s.system_versioning_insert_history = Some(f & MARIADB_OPTION_INSERT_HISTORY != 0);
    }

    /// The query only announces an ALTER (`START ALTER`) or withdraws one
    /// (`ROLLBACK ALTER`): a replica runs the ALTER once, at its `COMMIT
    /// ALTER`, which carries the same text.
    pub fn is_two_phase_alter_without_effect(&self) -> bool {
        self.gtid_flags3
            .is_some_and(|f| f & (FL_START_ALTER_E1 | FL_ROLLBACK_ALTER_E1) != 0)
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses a status block.
pub fn parse_status_vars(block: &[u8]) -> KResult<StatusVars> {
    let mut c = Cursor::new(block);
    let mut v = StatusVars::default();
    while !c.is_empty() {
        let key = c.u8("status var key")?;
        match key {
            0 => {
                let f = c.u32("Q_FLAGS2_CODE")?;
                v.flags2 = Some(f);
                v.session.autocommit = Some(f & OPTION_NOT_AUTOCOMMIT == 0);
                v.session.foreign_key_checks = Some(f & OPTION_NO_FOREIGN_KEY_CHECKS == 0);
                v.session.unique_checks = Some(f & OPTION_RELAXED_UNIQUE_CHECKS == 0);
                v.session.sql_auto_is_null = Some(f & OPTION_AUTO_IS_NULL != 0);
            }
            1 => v.session.sql_mode = Some(c.u64("Q_SQL_MODE_CODE")?),
            2 => {
                let n = c.u8("Q_CATALOG_CODE")?;
                v.catalog = Some(lossy(c.take(usize::from(n), "Q_CATALOG_CODE")?));
                c.skip(1, "Q_CATALOG_CODE")?;
            }
            3 => {
                v.session.auto_increment_increment = Some(c.u16("Q_AUTO_INCREMENT")?);
                v.session.auto_increment_offset = Some(c.u16("Q_AUTO_INCREMENT")?);
            }
            4 => {
                v.session.charset_client = Some(c.u16("Q_CHARSET_CODE")?);
                v.session.collation_connection = Some(c.u16("Q_CHARSET_CODE")?);
                v.session.collation_server = Some(c.u16("Q_CHARSET_CODE")?);
            }
            5 => {
                let n = c.u8("Q_TIME_ZONE_CODE")?;
                v.session.time_zone = Some(lossy(c.take(usize::from(n), "Q_TIME_ZONE_CODE")?));
            }
            6 => {
                let n = c.u8("Q_CATALOG_NZ_CODE")?;
                v.catalog = Some(lossy(c.take(usize::from(n), "Q_CATALOG_NZ_CODE")?));
            }
            7 => v.session.lc_time_names = Some(c.u16("Q_LC_TIME_NAMES_CODE")?),
            8 => v.session.collation_database = Some(c.u16("Q_CHARSET_DATABASE_CODE")?),
            9 => v.table_map_for_update = Some(c.u64("Q_TABLE_MAP_FOR_UPDATE_CODE")?),
            10 => {
                c.u32("Q_MASTER_DATA_WRITTEN_CODE")?;
            }
            11 => {
                let n = c.u8("Q_INVOKER")?;
                let user = lossy(c.take(usize::from(n), "Q_INVOKER")?);
                let n = c.u8("Q_INVOKER")?;
                let host = lossy(c.take(usize::from(n), "Q_INVOKER")?);
                v.invoker = Some((user, host));
            }
            12 => {
                let n = c.u8("Q_UPDATED_DB_NAMES")?;
                if n == 254 {
                    v.updated_db_names = None;
                } else {
                    let mut names = Vec::with_capacity(usize::from(n).min(16));
                    for _ in 0..n {
                        let rest = c.rest();
                        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                        names.push(lossy(&rest[..end]));
                        c.skip((end + 1).min(rest.len()), "Q_UPDATED_DB_NAMES")?;
                    }
                    v.updated_db_names = Some(names);
                }
            }
            13 => v.micros = Some(c.uint_n(3, "Q_MICROSECONDS")? as u32),
            16 => {
                v.session.explicit_defaults_for_timestamp = Some(c.u8("Q_EXPLICIT_DEFAULTS_FOR_TIMESTAMP")? != 0);
            }
            17 => v.ddl_xid = Some(c.u64("Q_DDL_LOGGED_WITH_XID")?),
            18 => v.default_collation_for_utf8mb4 = Some(c.u16("Q_DEFAULT_COLLATION_FOR_UTF8MB4")?),
            19 => v.sql_require_primary_key = Some(c.u8("Q_SQL_REQUIRE_PRIMARY_KEY")?),
            20 => v.default_table_encryption = Some(c.u8("Q_DEFAULT_TABLE_ENCRYPTION")?),
            128 => v.micros = Some(c.uint_n(3, "Q_HRNOW")? as u32),
            129 => v.xid = Some(c.u64("Q_XID")?),
            130 => {
                let flags = c.u8("Q_GTID_FLAGS3")?;
                if flags & (FL_COMMIT_ALTER_E1 | FL_ROLLBACK_ALTER_E1) != 0 {
                    c.u64("Q_GTID_FLAGS3 start alter seq_no")?;
                }
                v.gtid_flags3 = Some(flags);
            }
            k => {
                v.unknown_key = Some(k);
                break;
            }
        }
    }
    Ok(v)
}

//! Session variables of the apply connection: what is set, and the `SET`
//! that brings it to what the next change needs.
//!
//! The tracker remembers the value of every variable the applier set on its
//! connection; a `SET @@session.x=...` is sent only for the ones that differ
//! (all changes in one `SET`). On any error the tracker is
//! [invalidated](SessionState::invalidate), so the next change sets everything
//! again.
//!
//! Two contexts alternate on the connection:
//!
//! * **Statements** run under the source's session, as the binlog query event
//!   recorded it, each under exactly its own values (what MariaDB's own
//!   `Query_log_event::do_apply_event` does): `sql_mode` (bit mask → names,
//!   see [`sql_mode_names`]), `time_zone`, `character_set_client` (the event
//!   holds a *collation* id, e.g. 47 = `latin1_bin` after `SET NAMES latin1
//!   COLLATE latin1_bin`; the server takes a number there only for a
//!   charset's default collation (error 1115 otherwise), so it is set by
//!   charset *name*, as `mariadb-binlog` prints it), `collation_connection` /
//!   `collation_server` (by id: any collation id is accepted),
//!   `collation_database` (by id when the event has one, else the default
//!   database's own, by selecting it again), `lc_time_names` (id; absent
//!   means 0, `en_US`), `foreign_key_checks`, `unique_checks`,
//!   `sql_auto_is_null`, `auto_increment_increment/offset` (absent means
//!   1/1: the source writes them only when they differ), `timestamp` (with
//!   µs), `pseudo_thread_id` (the source session's thread id: MariaDB keys
//!   temporary tables by it, so the temporary tables of several source
//!   sessions live apart in the one apply session, as on MariaDB's replica,
//!   and `CONNECTION_ID()` returns it), the options of
//!   MariaDB's flags2 (`check_constraint_checks`, `sql_if_exists`,
//!   `explicit_defaults_for_timestamp`, `system_versioning_insert_history`:
//!   set only on a target that has the variable; one that lacks it replays
//!   only the value such a server behaves as, and names the variable
//!   otherwise); and per statement, always:
//!   `insert_id`, `last_insert_id`, the `RAND()` seeds and user variables.
//! * **Rows** (and the position and heartbeat rows, and every other
//!   statement of the applier's own) run with [`ROW_SQL_MODE`]
//!   (`NO_AUTO_VALUE_ON_ZERO` only: non-strict, zero dates and zero parts
//!   accepted, ENUM index 0 accepted, an explicit 0 in an AUTO_INCREMENT
//!   column kept, as MariaDB's own row applier does), `time_zone='+00:00'`
//!   (TIMESTAMP values are bound as UTC datetimes),
//!   `character_set_client=binary` (string parameters are stored without
//!   conversion: exact for every column charset),
//!   `collation_connection=utf8mb4_general_ci` (ASCII-compatible: a source
//!   statement may leave `ucs2`/`utf16`/`utf32` there, under which the
//!   ASCII literals of our own statements would be read as 2- or 4-byte
//!   characters and refused, error 1231), and `timestamp` = the source
//!   commit time (defaults and `ON UPDATE CURRENT_TIMESTAMP` of columns
//!   missing from a minimal image get the source's time, not ours).
//!
//! Character sets of the `SET` itself: MariaDB refuses a
//! `character_set_client` whose characters are not single-byte-based
//! (ucs2, utf16, utf32: error 1231), and the source never logs one (it
//! asserts `mbminlen == 1`), so the text of every `SET` (ASCII) parses as
//! is. Its string literals, though, take the *current*
//! `collation_connection`, which may be ucs2: every literal therefore
//! carries the `_latin1` introducer, and names are written as identifiers.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use thl::event::{SessionVars, UserVar, Value, SERVER_OPTION_NAMES};

use super::sql::quote_ident;

/// `sql_mode` of row changes: `NO_AUTO_VALUE_ON_ZERO` (bit 19).
pub const ROW_SQL_MODE: u64 = 1 << 19;
/// `character_set_client` of row changes: the `binary` collation id.
pub const BINARY_COLLATION: u16 = 63;
/// `character_set_client` for a statement that carries none, and the
/// `collation_connection` of the applier's own statements
/// (`utf8mb4_general_ci`).
pub const DEFAULT_CLIENT_COLLATION: u16 = 45;

/// `sql_mode` flag names by bit (one table for the whole project).
pub use thl::display::SQL_MODE_BITS;

/// The comma-separated names of a binlog `sql_mode` bit mask, or the bits
/// no name is known for.
pub fn sql_mode_names(mask: u64) -> Result<String, u64> {
    let unknown = mask & !((1u64 << SQL_MODE_BITS.len()) - 1);
    if unknown != 0 {
        return Err(unknown);
    }
    Ok(SQL_MODE_BITS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1u64 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(","))
}

/// A string literal safe under any `sql_mode` (`'` doubled, no backslash
/// escapes: callers pass only values without backslashes or hex them) and
/// any `collation_connection` (the `_latin1` introducer: the bytes are read
/// as latin1, not as the connection's charset, which may be ucs2).
fn str_literal(s: &str) -> String {
    format!("_latin1'{}'", s.replace('\'', "''"))
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2 + 3);
    s.push_str("X'");
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s.push('\'');
    s
}

/// `secs.micros` for `@@session.timestamp`.
fn timestamp_literal(us: i64) -> String {
    format!("{}.{:06}", us.div_euclid(1_000_000), us.rem_euclid(1_000_000))
}

/// Character set and full collation names by collation id (from the
/// target's `information_schema`: `COLLATION_CHARACTER_SET_APPLICABILITY`
/// on MariaDB 10.10 and later, which alone lists ids above 2047 such as
/// utf8mb4_uca1400_ai_ci's 2304, else `COLLATIONS`).
pub type CollationNames = HashMap<u16, (String, String)>;

/// A user variable's value as a SQL literal (hex for strings, so the
/// literal means the same under every `sql_mode` and client charset); a
/// geometry-typed one as the expression that gives it its type too
/// (`super::geometry`).
fn user_var_literal(u: &UserVar, names: &CollationNames) -> String {
    if let (Some(t), Value::Bytes(b)) = (&u.data_type, &u.value) {
        if let Some(expr) = super::geometry::user_var_expression(t, b) {
            return expr;
        }
    }
    match &u.value {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::UInt(v) => v.to_string(),
        // `{:e}` is the shortest text that reads back to the same bits, and
        // an exponent makes the server parse a DOUBLE, not a DECIMAL.
        Value::Double(d) => format!("{d:e}"),
        Value::Float(f) => format!("{:e}", f64::from(*f)),
        Value::Decimal(d) => d.clone(),
        Value::Bytes(b) => match u.collation.and_then(|id| names.get(&id)) {
            Some((cs, coll)) if cs != "binary" => {
                format!("_{cs} {} COLLATE {}", hex(b), quote_ident(coll))
            }
            _ => hex(b),
        },
        other => format!("{other:?}"),
    }
}

/// For each of MariaDB's flags2 options (`thl::event::SERVER_OPTION_NAMES`),
/// the value a server without the variable behaves as (older servers,
/// MySQL).
const SERVER_OPTIONS_IMPLIED: [bool; 4] = [true, false, false, false];

/// Database DDL (`CREATE|ALTER|DROP DATABASE`) started by any applier of
/// the process so far: see [`SessionState::current_db`].
static DATABASE_DDL: AtomicU64 = AtomicU64::new(0);

/// Counts a database DDL that is about to run (on any connection): every
/// applier's cached default database is then in doubt.
pub(crate) fn database_ddl_started() {
    DATABASE_DDL.fetch_add(1, Ordering::SeqCst);
}

/// The count of database DDL so far, for [`SessionState::db_selected`].
pub(crate) fn database_ddl_count() -> u64 {
    DATABASE_DDL.load(Ordering::SeqCst)
}

/// What the applier has set on its connection (`None`: unknown).
#[derive(Debug, Default, Clone)]
pub(crate) struct SessionState {
    /// The default database selected by the last `USE`, and the count of
    /// database DDL ([`DATABASE_DDL`]) when it ran.
    db: Option<(String, u64)>,
    sql_mode: Option<u64>,
    time_zone: Option<String>,
    charset_client: Option<u16>,
    collation_connection: Option<u16>,
    collation_server: Option<u16>,
    /// A statement set `collation_database` explicitly: the next one without
    /// it must get its default database's again (`USE`).
    collation_database_set: bool,
    lc_time_names: Option<u16>,
    /// `DEFAULT` (the target's own) unless a `CREATE TABLE` needs the
    /// engine it got on the source.
    default_storage_engine: Option<String>,
    foreign_key_checks: Option<bool>,
    unique_checks: Option<bool>,
    sql_auto_is_null: Option<bool>,
    auto_increment_increment: Option<u16>,
    auto_increment_offset: Option<u16>,
    timestamp_us: Option<i64>,
    pseudo_thread_id: Option<u32>,
    server_options: [Option<bool>; 4],
    /// Which of `SERVER_OPTION_NAMES` the target has (learned at connect;
    /// kept when the rest is forgotten).
    target_has: [bool; 4],
}

/// Adds `@@session.<name>=<literal>` when `want` differs from `cur`.
fn track<T: PartialEq + Clone>(
    out: &mut Vec<String>,
    cur: &mut Option<T>,
    want: Option<&T>,
    name: &str,
    lit: impl FnOnce(&T) -> String,
) {
    if let Some(w) = want {
        if cur.as_ref() != Some(w) {
            out.push(format!("@@session.{name}={}", lit(w)));
            *cur = Some(w.clone());
        }
    }
}

fn bool_lit(b: &bool) -> String {
    u8::from(*b).to_string()
}

impl SessionState {
    /// Forgets everything (after an error or a reconnect).
    pub fn invalidate(&mut self) {
        *self = SessionState {
            target_has: self.target_has,
            ..SessionState::default()
        };
    }

    /// Records which of `SERVER_OPTION_NAMES` the target has, from the names
    /// of its session variables (any case).
    pub fn set_target_variables<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.target_has = [false; 4];
        for name in names {
            if let Some(i) = SERVER_OPTION_NAMES.iter().position(|n| n.eq_ignore_ascii_case(name)) {
                self.target_has[i] = true;
            }
        }
    }

    /// The server changed the session's timestamp behind our back (a
    /// `BINLOG` statement sets it to its events' time): the next statement
    /// that needs one sets it again.
    pub fn forget_timestamp(&mut self) {
        self.timestamp_us = None;
    }

    /// The assignments that put the session in the row context.
    pub fn row_context(&mut self, timestamp_us: Option<i64>) -> Vec<String> {
        let mut out = Vec::new();
        track(&mut out, &mut self.sql_mode, Some(&ROW_SQL_MODE), "sql_mode", |_| {
            str_literal("NO_AUTO_VALUE_ON_ZERO")
        });
        track(
            &mut out,
            &mut self.time_zone,
            Some(&"+00:00".to_owned()),
            "time_zone",
            |s| str_literal(s),
        );
        track(
            &mut out,
            &mut self.charset_client,
            Some(&BINARY_COLLATION),
            "character_set_client",
            |_| "binary".to_owned(),
        );
        track(
            &mut out,
            &mut self.collation_connection,
            Some(&DEFAULT_CLIENT_COLLATION),
            "collation_connection",
            u16::to_string,
        );
        track(
            &mut out,
            &mut self.timestamp_us,
            timestamp_us.as_ref(),
            "timestamp",
            |t| timestamp_literal(*t),
        );
        out
    }

    /// True when the statement must select its default database again
    /// before [`SessionState::statement_context`]: the previous statement
    /// set `collation_database` explicitly and this one does not (`USE`
    /// gives the session the database's own collation, as MariaDB's slave
    /// does for an event without one).
    pub fn needs_use_for_collation_database(&self, v: &SessionVars) -> bool {
        self.collation_database_set && v.collation_database.is_none()
    }

    /// The assignments for a statement: tracked variables that differ, then
    /// the per-statement ones (always sent). `Err` names an `sql_mode` bit
    /// mask with unknown bits.
    pub fn statement_context(&mut self, v: &SessionVars, names: &CollationNames) -> Result<Vec<String>, String> {
        self.check_server_options(v)?;
        let mut out = Vec::new();
        let client = v.charset_client.unwrap_or(DEFAULT_CLIENT_COLLATION);
        // By charset name: a number is accepted only for a charset's default
        // collation (47, latin1_bin, is refused with error 1115). A collation
        // the target's information_schema does not list (the internal
        // `filename` charset, 17) goes by number, as the native replica
        // sets it: the server itself says if it does not know it.
        let client_charset = match names.get(&client) {
            Some((cs, _)) => quote_ident(cs),
            None => client.to_string(),
        };
        if let Some(mask) = v.sql_mode {
            let text = sql_mode_names(mask)
                .map_err(|bits| format!("sql_mode {mask:#x} has bits {bits:#x} unknown to the applier"))?;
            track(&mut out, &mut self.sql_mode, Some(&mask), "sql_mode", |_| {
                str_literal(&text)
            });
        }
        track(&mut out, &mut self.time_zone, v.time_zone.as_ref(), "time_zone", |s| {
            str_literal(s)
        });
        track(
            &mut out,
            &mut self.charset_client,
            Some(&client),
            "character_set_client",
            |_| client_charset.clone(),
        );
        track(
            &mut out,
            &mut self.collation_connection,
            v.collation_connection.as_ref(),
            "collation_connection",
            u16::to_string,
        );
        track(
            &mut out,
            &mut self.collation_server,
            v.collation_server.as_ref(),
            "collation_server",
            u16::to_string,
        );
        // Sent only when not 0 (en_US), which an absent value means.
        track(
            &mut out,
            &mut self.lc_time_names,
            Some(&v.lc_time_names.unwrap_or(0)),
            "lc_time_names",
            u16::to_string,
        );
        // The source's engine for a CREATE TABLE without ENGINE=, else the
        // target's own default.
        let engine = v.default_storage_engine.clone().unwrap_or_else(|| "DEFAULT".to_owned());
        track(
            &mut out,
            &mut self.default_storage_engine,
            Some(&engine),
            "default_storage_engine",
            |e| if e == "DEFAULT" { e.clone() } else { quote_ident(e) },
        );
        track(
            &mut out,
            &mut self.foreign_key_checks,
            v.foreign_key_checks.as_ref(),
            "foreign_key_checks",
            bool_lit,
        );
        track(
            &mut out,
            &mut self.unique_checks,
            v.unique_checks.as_ref(),
            "unique_checks",
            bool_lit,
        );
        track(
            &mut out,
            &mut self.sql_auto_is_null,
            v.sql_auto_is_null.as_ref(),
            "sql_auto_is_null",
            bool_lit,
        );
        // Written by the source only when not 1/1.
        track(
            &mut out,
            &mut self.auto_increment_increment,
            Some(&v.auto_increment_increment.unwrap_or(1)),
            "auto_increment_increment",
            u16::to_string,
        );
        track(
            &mut out,
            &mut self.auto_increment_offset,
            Some(&v.auto_increment_offset.unwrap_or(1)),
            "auto_increment_offset",
            u16::to_string,
        );
        // The source session's thread id: temporary tables are keyed by it
        // (one source session's cannot hide another's, or a base table of
        // the same name), and CONNECTION_ID() returns it.
        track(
            &mut out,
            &mut self.pseudo_thread_id,
            v.thread_id.as_ref(),
            "pseudo_thread_id",
            u32::to_string,
        );
        for (i, want) in v.server_options().into_iter().enumerate() {
            if let Some(w) = want.filter(|_| self.target_has[i]) {
                track(
                    &mut out,
                    &mut self.server_options[i],
                    Some(&w),
                    SERVER_OPTION_NAMES[i],
                    bool_lit,
                );
            }
        }
        // `USE` (sent before this `SET`) resets it; an explicit one is set
        // for this statement only.
        if let Some(id) = v.collation_database {
            out.push(format!("@@session.collation_database={id}"));
        }
        self.collation_database_set = v.collation_database.is_some();
        track(
            &mut out,
            &mut self.timestamp_us,
            v.timestamp_us.as_ref(),
            "timestamp",
            |t| timestamp_literal(*t),
        );
        // Consumed by the next statement: always set when present.
        if let Some(id) = v.insert_id {
            out.push(format!("@@session.insert_id={id}"));
        }
        if let Some(id) = v.last_insert_id {
            out.push(format!("@@session.last_insert_id={id}"));
        }
        if let Some((s1, s2)) = v.rand_seeds {
            out.push(format!("@@session.rand_seed1={s1}, @@session.rand_seed2={s2}"));
        }
        for u in &v.user_vars {
            out.push(format!("@{}={}", quote_ident(&u.name), user_var_literal(u, names)));
        }
        Ok(out)
    }

    /// `Err` when the statement ran under a value of a `SERVER_OPTION_NAMES`
    /// variable that the target does not have and does not behave as.
    fn check_server_options(&self, v: &SessionVars) -> Result<(), String> {
        for (i, want) in v.server_options().into_iter().enumerate() {
            let (name, implied) = (SERVER_OPTION_NAMES[i], SERVER_OPTIONS_IMPLIED[i]);
            match want {
                Some(w) if !self.target_has[i] && w != implied => {
                    return Err(format!(
                        "the source ran the statement with {name}={}, a session variable the target does not \
                         have (it behaves as {name}={}): replicate to a server that has it",
                        u8::from(w),
                        u8::from(implied)
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The session's default database as the last `USE` selected it, or
    /// `None` when it must be selected again: never selected, forgotten, or
    /// a database DDL ran since on any connection of the process.
    ///
    /// Why the last: the server keeps a session's default database by name
    /// when another session drops it; while it is missing, any stored code
    /// the session runs (a function, trigger or view, or a routine loaded by
    /// an `information_schema` query that opens every view, as the
    /// precise-history question does: `history.rs`) switches back to it with
    /// MariaDB's forced `mysql_change_db`, which leaves the session with **no**
    /// database, silently. Once the database was created again, a statement
    /// that trusted the name failed with error 1046 (No database selected).
    /// With parallel apply the DDL runs on another channel's connection.
    pub fn current_db(&self) -> Option<&str> {
        self.db
            .as_ref()
            .filter(|(_, epoch)| *epoch == DATABASE_DDL.load(Ordering::SeqCst))
            .map(|(db, _)| db.as_str())
    }

    /// Records that `USE db` succeeded (see [`SessionState::current_db`]).
    /// `epoch`: the database DDL count read before the `USE` was sent.
    pub fn db_selected(&mut self, db: &str, epoch: u64) {
        self.db = Some((db.to_owned(), epoch));
    }

    /// Forgets the default database (before database DDL, after `DROP
    /// DATABASE`, which may have dropped the current one).
    pub fn forget_db(&mut self) {
        self.db = None;
    }
}

/// `SET a, b, c`, or `None` when there is nothing to set.
pub(crate) fn set_statement(assignments: &[String]) -> Option<String> {
    (!assignments.is_empty()).then(|| format!("SET {}", assignments.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_mode_table() {
        assert_eq!(sql_mode_names(0).as_deref(), Ok(""));
        // MariaDB 10.11 default.
        assert_eq!(
            sql_mode_names((1 << 21) | (1 << 26) | (1 << 28) | (1 << 30)).as_deref(),
            Ok("STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION")
        );
        assert_eq!(sql_mode_names(1 << 34).as_deref(), Ok("TIME_ROUND_FRACTIONAL"));
        assert_eq!(sql_mode_names(1 << 40), Err(1 << 40));
    }

    #[test]
    fn only_differences_are_set() {
        let mut s = SessionState::default();
        let mut names = CollationNames::new();
        names.insert(33, ("utf8mb3".into(), "utf8mb3_general_ci".into()));
        names.insert(8, ("latin1".into(), "latin1_swedish_ci".into()));
        let v = SessionVars {
            sql_mode: Some(1 << 21),
            time_zone: Some("SYSTEM".into()),
            charset_client: Some(33),
            collation_connection: Some(33),
            collation_server: Some(8),
            foreign_key_checks: Some(true),
            timestamp_us: Some(1_700_000_000_123_456),
            insert_id: Some(5),
            ..SessionVars::default()
        };
        let first = s.statement_context(&v, &names).expect("known bits");
        assert_eq!(
            set_statement(&first).as_deref(),
            Some("SET @@session.sql_mode=_latin1'STRICT_TRANS_TABLES', @@session.time_zone=_latin1'SYSTEM', @@session.character_set_client=`utf8mb3`, @@session.collation_connection=33, @@session.collation_server=8, @@session.lc_time_names=0, @@session.default_storage_engine=DEFAULT, @@session.foreign_key_checks=1, @@session.auto_increment_increment=1, @@session.auto_increment_offset=1, @@session.timestamp=1700000000.123456, @@session.insert_id=5")
        );
        let again = s.statement_context(&v, &names).expect("known bits");
        assert_eq!(again, vec!["@@session.insert_id=5".to_owned()]);
        let rows = s.row_context(Some(2_000_000));
        assert_eq!(
            rows,
            vec![
                "@@session.sql_mode=_latin1'NO_AUTO_VALUE_ON_ZERO'",
                "@@session.time_zone=_latin1'+00:00'",
                "@@session.character_set_client=binary",
                "@@session.collation_connection=45",
                "@@session.timestamp=2.000000"
            ]
        );
        assert!(s.row_context(Some(2_000_000)).is_empty());
        s.invalidate();
        assert_eq!(s.row_context(None).len(), 4);
    }

    #[test]
    fn collation_ids_by_name_and_absent_values_reset() {
        let mut names = CollationNames::new();
        names.insert(47, ("latin1".into(), "latin1_bin".into()));
        names.insert(35, ("ucs2".into(), "ucs2_general_ci".into()));
        let mut s = SessionState::default();
        let v = SessionVars {
            charset_client: Some(47),
            collation_connection: Some(35),
            collation_database: Some(47),
            lc_time_names: Some(3),
            auto_increment_increment: Some(5),
            ..SessionVars::default()
        };
        let sets = s.statement_context(&v, &names).expect("known ids");
        assert!(
            sets.contains(&"@@session.character_set_client=`latin1`".to_owned()),
            "{sets:?}"
        );
        assert!(
            sets.contains(&"@@session.collation_connection=35".to_owned()),
            "{sets:?}"
        );
        assert!(sets.contains(&"@@session.collation_database=47".to_owned()), "{sets:?}");
        let plain = SessionVars {
            charset_client: Some(47),
            ..SessionVars::default()
        };
        assert!(s.needs_use_for_collation_database(&plain));
        let sets = s.statement_context(&plain, &names).expect("known ids");
        assert_eq!(
            sets,
            vec!["@@session.lc_time_names=0", "@@session.auto_increment_increment=1"],
            "absent values are the source's defaults"
        );
        assert!(!s.needs_use_for_collation_database(&plain));
        // Our own statements never run under the statement's ucs2 connection.
        assert!(s
            .row_context(None)
            .contains(&"@@session.collation_connection=45".to_owned()));
        let unknown = SessionVars {
            charset_client: Some(999),
            ..SessionVars::default()
        };
        // A collation the target's information_schema does not list (the
        // internal `filename` charset) goes by number: the server decides.
        let sets = s.statement_context(&unknown, &names).expect("by number");
        assert!(
            sets.contains(&"@@session.character_set_client=999".to_owned()),
            "{sets:?}"
        );
    }

    #[test]
    fn database_ddl_anywhere_makes_the_default_database_doubtful() {
        let mut s = SessionState::default();
        assert_eq!(s.current_db(), None);
        s.db_selected("test", database_ddl_count());
        assert_eq!(s.current_db(), Some("test"));
        // Another applier's DROP DATABASE (another channel's connection).
        database_ddl_started();
        assert_eq!(s.current_db(), None, "selected before a database DDL");
        s.db_selected("test", database_ddl_count());
        assert_eq!(s.current_db(), Some("test"));
        // Read before the USE, bumped while it ran: still doubtful.
        let before = database_ddl_count();
        database_ddl_started();
        s.db_selected("test", before);
        assert_eq!(s.current_db(), None);
        s.db_selected("test", database_ddl_count());
        s.invalidate();
        assert_eq!(s.current_db(), None);
    }

    #[test]
    fn user_var_literals() {
        let mut names = CollationNames::new();
        names.insert(8, ("latin1".into(), "latin1_swedish_ci".into()));
        names.insert(45, ("utf8mb4".into(), "utf8mb4_general_ci".into()));
        let u = |value, collation| UserVar {
            name: "a`b".into(),
            value,
            collation,
            unsigned: false,
            data_type: None,
        };
        assert_eq!(
            user_var_literal(&u(Value::Bytes(vec![0xe9]), Some(8)), &names),
            "_latin1 X'E9' COLLATE `latin1_swedish_ci`"
        );
        assert_eq!(user_var_literal(&u(Value::Bytes(vec![1]), Some(63)), &names), "X'01'");
        assert_eq!(user_var_literal(&u(Value::Double(0.1), None), &names), "1e-1");
        assert_eq!(
            user_var_literal(&u(Value::UInt(u64::MAX), None), &names),
            "18446744073709551615"
        );
        let mut s = SessionState::default();
        let v = SessionVars {
            user_vars: vec![u(Value::Int(-1), None)],
            ..SessionVars::default()
        };
        let sets = s.statement_context(&v, &names).expect("ok");
        assert_eq!(sets.last().map(String::as_str), Some("@`a``b`=-1"));
    }

    #[test]
    fn server_options_are_set_where_the_target_has_them() {
        let names = CollationNames::new();
        let v = SessionVars {
            check_constraint_checks: Some(true),
            explicit_defaults_for_timestamp: Some(true),
            ..SessionVars::default()
        };
        let has = |sets: &[String], what: &str| sets.iter().any(|s| s == what);
        let mut s = SessionState::default();
        s.set_target_variables(["CHECK_CONSTRAINT_CHECKS", "explicit_defaults_for_timestamp"]);
        let sets = s.statement_context(&v, &names).expect("ok");
        assert!(has(&sets, "@@session.check_constraint_checks=1"), "{sets:?}");
        assert!(has(&sets, "@@session.explicit_defaults_for_timestamp=1"), "{sets:?}");
        // Tracked: not sent again; kept across invalidation.
        let sets = s.statement_context(&v, &names).expect("ok");
        assert!(!sets.iter().any(|s| s.contains("explicit_defaults")), "{sets:?}");
        s.invalidate();
        let sets = s.statement_context(&v, &names).expect("ok");
        assert!(has(&sets, "@@session.explicit_defaults_for_timestamp=1"), "{sets:?}");

        // A target without the variables: the value it behaves as is
        // skipped, another one is an error naming the variable.
        let mut old = SessionState::default();
        let implied = SessionVars {
            explicit_defaults_for_timestamp: Some(false),
            check_constraint_checks: Some(true),
            ..SessionVars::default()
        };
        let sets = old.statement_context(&implied, &names).expect("ok");
        assert!(!sets
            .iter()
            .any(|s| s.contains("explicit_defaults") || s.contains("check_constraint")));
        let err = old.statement_context(&v, &names).expect_err("refused");
        assert!(err.contains("explicit_defaults_for_timestamp=1"), "{err}");
    }
}

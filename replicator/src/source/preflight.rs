//! Preflight checks of the source, before streaming.
//!
//! One `ensure_*` function per requirement. Each is a pure function of the
//! settings read from the server ([`SourceSettings`], [`Privileges`]), so
//! it is unit-tested without a server. [`preflight`] reads the settings once,
//! runs **every** check, and reports **every** failure at once
//! ([`PreflightError`]); warnings are returned in the [`PreflightReport`] (and
//! logged) without stopping.
//!
//! Each finding names the setting, the expected value, the actual value and
//! the fix.
//!
//! | Requirement | Accepted | Warning | Refused |
//! |---|---|---|---|
//! | `log_bin` | ON | | OFF |
//! | `binlog_format` | ROW | MIXED (statement-logged transactions arrive as SQL text) | STATEMENT |
//! | `binlog_row_image` | FULL, MINIMAL, NOBLOB | | anything else |
//! | `binlog_row_metadata` | FULL | | NO_LOG, MINIMAL, absent (server too old) |
//! | `server_id` | non-zero, not ours | | 0, or equal to ours |
//! | privileges | REPLICATION SLAVE, REPLICATION CLIENT / BINLOG MONITOR and SELECT on `*.*` | SELECT only on some schemas | any missing |
//!
//! `binlog_row_image` MINIMAL and NOBLOB are accepted, as MariaDB's own
//! replica accepts them: the server still logs every column of the before
//! image of a table without primary key, the THL records which columns
//! each image holds, and the appliers (the target's own row applier, and
//! the SQL fallback, which sets and compares only present columns) apply
//! the images as given. A target that lacks a row cannot get it back from
//! a partial image; that is the source's setting, as it is natively.
//!
//! Privileges are read from `SHOW GRANTS` (the current account). Grants
//! held only through a role are not expanded and are reported missing.

use std::fmt;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::error::{classify, DefiniteError, SourceError, StreamPosition};

/// Whether a finding stops the extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Works, with a caveat.
    Warning,
    /// Cannot work; streaming is refused.
    Failure,
}

/// One wrong setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightFinding {
    /// Warning or failure.
    pub severity: Severity,
    /// The setting (server variable, or `privileges`).
    pub setting: &'static str,
    /// What we need.
    pub expected: String,
    /// What the server has.
    pub actual: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for PreflightFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}; fix: {}",
            self.setting, self.expected, self.actual, self.fix
        )
    }
}

/// Every failure (and warning) found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PreflightError {
    /// The failures (at least one).
    pub failures: Vec<PreflightFinding>,
    /// The warnings.
    pub warnings: Vec<PreflightFinding>,
}

impl fmt::Display for PreflightError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} source requirement(s) not met:", self.failures.len())?;
        for finding in &self.failures {
            write!(f, "\n  - {finding}")?;
        }
        for finding in &self.warnings {
            write!(f, "\n  - (warning) {finding}")?;
        }
        Ok(())
    }
}

/// The checks passed; what was read, and the warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightReport {
    /// The server settings read.
    pub settings: SourceSettings,
    /// The account's privileges.
    pub privileges: Privileges,
    /// Warnings (already logged at WARN).
    pub warnings: Vec<PreflightFinding>,
}

/// The source's global settings that matter (`None`: the variable does not
/// exist on this server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSettings {
    /// `@@version`.
    pub version: String,
    /// Whether the server is MariaDB.
    pub is_mariadb: bool,
    /// `log_bin` (`ON`/`OFF`).
    pub log_bin: Option<String>,
    /// `binlog_format`.
    pub binlog_format: Option<String>,
    /// `binlog_row_image`.
    pub binlog_row_image: Option<String>,
    /// `binlog_row_metadata`.
    pub binlog_row_metadata: Option<String>,
    /// `server_id`.
    pub server_id: Option<u32>,
}

impl SourceSettings {
    fn section(&self) -> &'static str {
        if self.is_mariadb {
            "[mariadbd]"
        } else {
            "[mysqld]"
        }
    }
}

fn shown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(variable absent)".to_owned())
}

/// Binary logging must be on.
pub fn ensure_log_bin(s: &SourceSettings) -> Option<PreflightFinding> {
    let on = matches!(
        s.log_bin.as_deref().map(str::to_ascii_uppercase).as_deref(),
        Some("ON" | "1")
    );
    (!on).then(|| PreflightFinding {
        severity: Severity::Failure,
        setting: "log_bin",
        expected: "ON".into(),
        actual: shown(&s.log_bin),
        fix: format!(
            "set log_bin=mysql-bin in the {} section of my.cnf and restart the server",
            s.section()
        ),
    })
}

/// ROW, or MIXED with a warning; STATEMENT refused.
pub fn ensure_binlog_format(s: &SourceSettings) -> Option<PreflightFinding> {
    let fix = format!(
        "SET GLOBAL binlog_format=ROW and set binlog_format=ROW in the {} section of my.cnf \
         (sessions already open keep their format until they reconnect)",
        s.section()
    );
    match s.binlog_format.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("ROW") => None,
        Some("MIXED") => Some(PreflightFinding {
            severity: Severity::Warning,
            setting: "binlog_format",
            expected: "ROW".into(),
            actual: "MIXED".into(),
            fix: format!("statements the server logs as SQL text are replicated as statements; {fix}"),
        }),
        _ => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "binlog_format",
            expected: "ROW".into(),
            actual: shown(&s.binlog_format),
            fix,
        }),
    }
}

/// FULL, MINIMAL or NOBLOB (see the module doc); anything else (a value
/// this code does not know, or none: a server too old) is refused.
pub fn ensure_binlog_row_image(s: &SourceSettings) -> Option<PreflightFinding> {
    match s.binlog_row_image.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("FULL" | "MINIMAL" | "NOBLOB") => None,
        _ => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "binlog_row_image",
            expected: "FULL, MINIMAL or NOBLOB".into(),
            actual: shown(&s.binlog_row_image),
            fix: format!(
                "SET GLOBAL binlog_row_image=FULL and set binlog_row_image=FULL in the {} section of my.cnf",
                s.section()
            ),
        }),
    }
}

/// FULL (column names, signedness and charsets in the table maps).
pub fn ensure_binlog_row_metadata(s: &SourceSettings) -> Option<PreflightFinding> {
    match s.binlog_row_metadata.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("FULL") => None,
        None => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "binlog_row_metadata",
            expected: "FULL".into(),
            actual: format!("(variable absent on {})", s.version),
            fix: "upgrade the source to MariaDB 10.5+ or MySQL 8.0.1+".into(),
        }),
        Some(_) => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "binlog_row_metadata",
            expected: "FULL".into(),
            actual: shown(&s.binlog_row_metadata),
            fix: format!(
                "set binlog_row_metadata=FULL in the {} section of my.cnf and restart \
                 (or SET GLOBAL binlog_row_metadata=FULL; only events logged afterwards carry the metadata)",
                s.section()
            ),
        }),
    }
}

/// Non-zero, and different from the replicator's own server id.
pub fn ensure_server_id(s: &SourceSettings, our_server_id: u32) -> Option<PreflightFinding> {
    match s.server_id {
        Some(0) | None => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "server_id",
            expected: "non-zero".into(),
            actual: s.server_id.map_or("(variable absent)".into(), |v| v.to_string()),
            fix: format!(
                "set server_id to a unique non-zero value in the {} section of my.cnf and restart",
                s.section()
            ),
        }),
        Some(id) if id == our_server_id => Some(PreflightFinding {
            severity: Severity::Failure,
            setting: "server_id",
            expected: format!("different from the replicator's server id {our_server_id}"),
            actual: id.to_string(),
            fix: "give the replicator a server id that no server in the topology uses".into(),
        }),
        Some(_) => None,
    }
}

/// What `SHOW GRANTS` gives the account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Privileges {
    /// REPLICATION SLAVE (REPLICA) on `*.*`.
    pub replication_slave: bool,
    /// REPLICATION CLIENT, or MariaDB's BINLOG MONITOR, on `*.*`.
    pub replication_client: bool,
    /// SELECT on `*.*`.
    pub select_global: bool,
    /// SELECT on some schema or table only.
    pub select_partial: bool,
    /// The `SHOW GRANTS` lines.
    pub grants: Vec<String>,
}

impl Privileges {
    /// Parses `SHOW GRANTS` lines.
    pub fn from_grants(grants: Vec<String>) -> Self {
        let mut p = Self::default();
        for line in &grants {
            let upper = line.to_ascii_uppercase();
            let Some(rest) = upper.strip_prefix("GRANT ") else {
                continue;
            };
            let Some((privs, object)) = rest.split_once(" ON ") else {
                // A role grant: `GRANT role TO user`.
                continue;
            };
            let global = object.trim_start().starts_with("*.*");
            for privilege in privs.split(',').map(str::trim) {
                match privilege {
                    "ALL PRIVILEGES" | "ALL" if global => {
                        p.replication_slave = true;
                        p.replication_client = true;
                        p.select_global = true;
                    }
                    "ALL PRIVILEGES" | "ALL" => p.select_partial = true,
                    "REPLICATION SLAVE" | "REPLICATION REPLICA" if global => p.replication_slave = true,
                    "REPLICATION CLIENT" | "BINLOG MONITOR" if global => p.replication_client = true,
                    "SELECT" if global => p.select_global = true,
                    "SELECT" => p.select_partial = true,
                    _ => {}
                }
            }
        }
        // Never carry the password hash into messages and logs.
        p.grants = grants
            .into_iter()
            .map(|g| match g.to_ascii_uppercase().find(" IDENTIFIED BY") {
                Some(i) => {
                    let rest = &g[i..];
                    let tail = rest.to_ascii_uppercase().find(" WITH ").map_or("", |j| &rest[j..]);
                    format!("{}{tail}", &g[..i])
                }
                None => g,
            })
            .collect();
        p
    }
}

/// REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR), SELECT.
pub fn ensure_privileges(p: &Privileges, is_mariadb: bool) -> Vec<PreflightFinding> {
    let monitor = if is_mariadb {
        "BINLOG MONITOR"
    } else {
        "REPLICATION CLIENT"
    };
    let actual = if p.grants.is_empty() {
        "(no grants)".to_owned()
    } else {
        p.grants.join("; ")
    };
    let mut missing = Vec::new();
    if !p.replication_slave {
        missing.push("REPLICATION SLAVE");
    }
    if !p.replication_client {
        missing.push(monitor);
    }
    if !p.select_global && !p.select_partial {
        missing.push("SELECT");
    }
    let mut findings = Vec::new();
    if !missing.is_empty() {
        findings.push(PreflightFinding {
            severity: Severity::Failure,
            setting: "privileges",
            expected: format!("REPLICATION SLAVE, {monitor}, SELECT ON *.*"),
            actual: actual.clone(),
            fix: format!("GRANT {} ON *.* TO the replicator's account", missing.join(", ")),
        });
    } else if !p.select_global {
        findings.push(PreflightFinding {
            severity: Severity::Warning,
            setting: "privileges",
            expected: "SELECT ON *.*".into(),
            actual,
            fix: "GRANT SELECT ON *.* TO the replicator's account, or tables outside the granted schemas \
                  cannot be provisioned or checked"
                .into(),
        });
    }
    findings
}

/// Runs every check on settings already read.
pub fn check(
    settings: &SourceSettings,
    privileges: &Privileges,
    our_server_id: u32,
) -> Result<Vec<PreflightFinding>, PreflightError> {
    let findings: Vec<PreflightFinding> = [
        ensure_log_bin(settings),
        ensure_binlog_format(settings),
        ensure_binlog_row_image(settings),
        ensure_binlog_row_metadata(settings),
        ensure_server_id(settings, our_server_id),
    ]
    .into_iter()
    .flatten()
    .chain(ensure_privileges(privileges, settings.is_mariadb))
    .collect();
    let (failures, warnings): (Vec<_>, Vec<_>) = findings.into_iter().partition(|f| f.severity == Severity::Failure);
    if failures.is_empty() {
        Ok(warnings)
    } else {
        Err(PreflightError { failures, warnings })
    }
}

/// Reads the global settings.
pub async fn read_settings(conn: &mut Conn) -> Result<SourceSettings, mysql_async::Error> {
    let rows: Vec<(String, Option<String>)> = conn
        .query(
            "SHOW GLOBAL VARIABLES WHERE Variable_name IN \
             ('version', 'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata', 'server_id')",
        )
        .await?;
    let mut s = SourceSettings::default();
    for (name, value) in rows {
        match name.to_ascii_lowercase().as_str() {
            "version" => s.version = value.unwrap_or_default(),
            "log_bin" => s.log_bin = value,
            "binlog_format" => s.binlog_format = value,
            "binlog_row_image" => s.binlog_row_image = value,
            "binlog_row_metadata" => s.binlog_row_metadata = value,
            "server_id" => s.server_id = value.and_then(|v| v.trim().parse().ok()),
            _ => {}
        }
    }
    s.is_mariadb = s.version.contains("MariaDB");
    Ok(s)
}

/// What a server running with `--skip-grant-tables` grants: everything
/// (it checks no privilege); `SHOW GRANTS` fails there with 1290.
fn skip_grant_tables(e: &mysql_async::Error) -> Option<Privileges> {
    match e {
        mysql_async::Error::Server(se) if se.code == 1290 && se.message.contains("skip-grant-tables") => {
            Some(Privileges {
                replication_slave: true,
                replication_client: true,
                select_global: true,
                select_partial: false,
                grants: vec!["(the server runs with --skip-grant-tables: it checks no privilege)".into()],
            })
        }
        _ => None,
    }
}

/// Reads the current account's grants.
pub async fn read_privileges(conn: &mut Conn) -> Result<Privileges, mysql_async::Error> {
    let rows: Vec<Row> = match conn.query("SHOW GRANTS").await {
        Ok(rows) => rows,
        Err(e) => return skip_grant_tables(&e).ok_or(e),
    };
    let grants = rows
        .iter()
        .filter_map(|r| match r.as_ref(0) {
            Some(mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect();
    Ok(Privileges::from_grants(grants))
}

/// Reads the settings and privileges and runs every `ensure_*` check.
/// Failures come back together as [`DefiniteError::Settings`]; a lost
/// connection as a transient error.
pub async fn preflight(conn: &mut Conn, our_server_id: u32) -> Result<PreflightReport, SourceError> {
    let addr = format!("{}:{}", conn.opts().ip_or_hostname(), conn.opts().tcp_port());
    let user = conn.opts().user().unwrap_or("").to_owned();
    let at = StreamPosition::default();
    let settings = read_settings(conn)
        .await
        .map_err(|e| classify(e, &addr, &user, &at, false))?;
    let privileges = read_privileges(conn)
        .await
        .map_err(|e| classify(e, &addr, &user, &at, false))?;
    match check(&settings, &privileges, our_server_id) {
        Ok(warnings) => {
            for w in &warnings {
                tracing::warn!(source = %addr, "preflight: {w}");
            }
            Ok(PreflightReport {
                settings,
                privileges,
                warnings,
            })
        }
        Err(source) => Err(DefiniteError::Settings { addr, at, source }.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> SourceSettings {
        SourceSettings {
            version: "10.11.19-MariaDB".into(),
            is_mariadb: true,
            log_bin: Some("ON".into()),
            binlog_format: Some("ROW".into()),
            binlog_row_image: Some("FULL".into()),
            binlog_row_metadata: Some("FULL".into()),
            server_id: Some(1),
        }
    }

    fn all_privileges() -> Privileges {
        Privileges::from_grants(vec![
            "GRANT ALL PRIVILEGES ON *.* TO `tungsten`@`%` IDENTIFIED BY PASSWORD '*x' WITH GRANT OPTION".into(),
        ])
    }

    #[test]
    fn good_settings_pass() {
        assert_eq!(check(&good(), &all_privileges(), 99), Ok(vec![]));
    }

    #[test]
    fn partial_row_images_are_accepted() {
        for image in ["MINIMAL", "noblob", "FULL"] {
            let s = SourceSettings {
                binlog_row_image: Some(image.into()),
                ..good()
            };
            assert_eq!(ensure_binlog_row_image(&s), None, "{image}");
        }
        let none = SourceSettings {
            binlog_row_image: None,
            ..good()
        };
        assert!(ensure_binlog_row_image(&none).is_some());
    }

    #[test]
    fn every_failure_is_reported() {
        let s = SourceSettings {
            log_bin: Some("OFF".into()),
            binlog_format: Some("STATEMENT".into()),
            binlog_row_image: Some("COMPLETE".into()),
            binlog_row_metadata: Some("MINIMAL".into()),
            server_id: Some(7),
            ..good()
        };
        let err = check(&s, &Privileges::default(), 7).expect_err("fails");
        let settings: Vec<_> = err.failures.iter().map(|f| f.setting).collect();
        assert_eq!(
            settings,
            [
                "log_bin",
                "binlog_format",
                "binlog_row_image",
                "binlog_row_metadata",
                "server_id",
                "privileges"
            ]
        );
        let text = err.to_string();
        assert!(text.contains("binlog_format: expected ROW, got STATEMENT"), "{text}");
        assert!(text.contains("[mariadbd] section of my.cnf"), "{text}");
        assert!(
            text.contains("GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.*"),
            "{text}"
        );
    }

    #[test]
    fn mixed_is_a_warning() {
        let s = SourceSettings {
            binlog_format: Some("MIXED".into()),
            ..good()
        };
        let warnings = check(&s, &all_privileges(), 2).expect("passes");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].severity, Severity::Warning);
    }

    #[test]
    fn server_id_zero_and_absent_metadata() {
        let s = SourceSettings {
            server_id: Some(0),
            binlog_row_metadata: None,
            ..good()
        };
        let err = check(&s, &all_privileges(), 2).expect_err("fails");
        assert_eq!(err.failures.len(), 2);
    }

    #[test]
    fn a_server_without_grant_tables_grants_everything() {
        let err = |code, message: &str| {
            mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: message.into(),
                state: "HY000".into(),
            })
        };
        let p = skip_grant_tables(&err(
            1290,
            "The MariaDB server is running with the --skip-grant-tables option so it cannot execute this statement",
        ))
        .expect("everything");
        assert!(p.replication_slave && p.replication_client && p.select_global);
        assert!(skip_grant_tables(&err(1290, "running with the --read-only option")).is_none());
        assert!(skip_grant_tables(&err(1045, "Access denied")).is_none());
    }

    #[test]
    fn grants_are_parsed() {
        let p = Privileges::from_grants(vec![
            "GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `r`@`%`".into(),
            "GRANT SELECT ON `shop`.* TO `r`@`%`".into(),
            "GRANT `some_role` TO `r`@`%`".into(),
        ]);
        assert!(p.replication_slave && p.replication_client);
        let hidden = Privileges::from_grants(vec![
            "GRANT SELECT ON *.* TO `r`@`%` IDENTIFIED BY PASSWORD '*ABC' WITH GRANT OPTION".into(),
        ]);
        assert_eq!(hidden.grants, ["GRANT SELECT ON *.* TO `r`@`%` WITH GRANT OPTION"]);
        assert!(!p.select_global && p.select_partial);
        let findings = ensure_privileges(&p, true);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Warning);

        let p = Privileges::from_grants(vec!["GRANT SELECT ON *.* TO `r`@`%`".into()]);
        let findings = ensure_privileges(&p, false);
        assert_eq!(findings[0].severity, Severity::Failure);
        assert!(
            findings[0].fix.contains("REPLICATION SLAVE, REPLICATION CLIENT"),
            "{}",
            findings[0].fix
        );
    }
}

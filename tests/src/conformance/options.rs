//! What a test's server options mean to the runner, beyond being passed to
//! the primary: the options mtr itself consumes, the ones that make the
//! primary a new source, and the binlog format a run uses.
//!
//! * `--timezone=X` is not a `mariadbd` option (the server exits with
//!   status 7): mtr takes it out of the options and starts the test's
//!   servers with `TZ=X` in their environment, and so does the runner for
//!   the primary ([`ServerSetup`]; `--default-time-zone=...` stays a server
//!   option and, as in mtr, also sets `TZ=GMT-8` unless a later
//!   `--timezone` says otherwise). The replicas keep their own
//!   environment: the runner gives a test's options (`.opt`,
//!   `-master.opt`) to the primary only, and a replicator or native
//!   replica applies what the binlog says, which carries the session time
//!   zone of every statement that depends on it.
//! * A test whose options rename the binlog (`--log-bin=NAME` other than
//!   mtr's `master-bin`, `--log-bin-index=...`) makes the primary a
//!   new source: the master replicator (or a native replica) resumes from
//!   a `master-bin` position that the renamed binlog does not hold, as an
//!   operator's would, who would reprovision. The runner therefore builds
//!   such a test's deployment from scratch with the options from the
//!   start ([`renames_binlog`]), in both modes. A test that restarts the
//!   primary in its middle (mtr's expect file, `$restart_parameters`) with
//!   options that rename the binlog or keep changes out of it is refused
//!   ([`mid_test_restart_refusal`]): the replicators cannot follow a
//!   source that changes under them, by design.
//! * Options that shape the tables a replayed DDL statement creates, which
//!   no binlog carries ([`REPLICA_ALIKE_OPTIONS`]: `innodb_default_row_format`,
//!   `innodb_strict_mode`), are given to the replicas too, as `SET GLOBAL`
//!   before the test ([`replica_globals`]; the deployment is rebuilt after
//!   any test with options): an operator configures every server of a
//!   cluster alike, and mtr's `-master.opt` says nothing about a replica
//!   that is not the test's own (main.partition_exchange: a table created
//!   under `innodb_default_row_format=COMPACT` on the primary came out
//!   `Dynamic` on the replicas, and a later `EXCHANGE PARTITION` stopped
//!   them with 1731, MariaDB's own replica too).
//! * The binlog does not carry a session's `default_storage_engine` either:
//!   a `CREATE TABLE` without `ENGINE=` gets the replica's default, on
//!   MariaDB's own replica (gcol.gcol_select_innodb and
//!   gcol.innodb_virtual_fk stop it: an InnoDB table is MyISAM there). The
//!   master replicator reads the engine the table got from the source, as
//!   it is when the extractor gets there, which is best effort: a table
//!   altered, renamed or dropped since cannot say. A test that sets the
//!   default engine ([`engine_set`]: `set default_storage_engine=innodb`,
//!   in 76 tests of gcol, vcol, rpl and versioning) therefore gets a
//!   deployment whose replicas start with that engine as their default, as
//!   an operator configures every server of a cluster alike: its outcome
//!   no longer depends on how far the extractor lags behind.
//! * [`BinlogFormat`]: the format every server of a run starts with (ROW,
//!   the default, or MIXED, under which statement-logged transactions
//!   arrive as SQL text). STATEMENT is not offered: the master replicator
//!   refuses a STATEMENT-format source by design. [`format_needed`] reads
//!   which formats a test accepts (mtr's `have_binlog_format_*.inc`), for
//!   `--list`.
//!
//! Invariants: options are matched by name with dashes and underscores
//! alike and without case; nothing here reads the server.

use std::fmt;

/// The binlog name every server of a run starts with: mtr's
/// (`include/have_log_bin-master.opt`), which tests name in `SHOW BINLOG
/// EVENTS IN 'master-bin.000001'` and `$MYSQLD_DATADIR/master-bin.000001`.
pub const SANDBOX_BINLOG: &str = "master-bin";

/// `--name=value` split into the normalized name (no leading dashes,
/// lowercase, `-` for `_`) and the value, if any.
fn name_value(opt: &str) -> (String, Option<&str>) {
    let bare = opt.trim_start_matches('-');
    let (name, value) = match bare.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (bare, None),
    };
    (name.replace('_', "-").to_ascii_lowercase(), value)
}

/// A test's server options as the primary gets them: `mariadbd` options
/// and environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSetup {
    /// `mariadbd` options (`--timezone` taken out).
    pub args: Vec<String>,
    /// `TZ`, when the options set it (module doc).
    pub env: Vec<(String, String)>,
}

impl ServerSetup {
    /// mtr's reading of a test's options: `--timezone=X` becomes `TZ=X`;
    /// `--default-time-zone=...` stays and sets `TZ=GMT-8` (the last one
    /// wins, as in mtr).
    pub fn from_options(opts: &[String]) -> ServerSetup {
        let mut args = Vec::new();
        let mut tz = None;
        for o in opts {
            match name_value(o) {
                (n, Some(v)) if n == "timezone" => tz = Some(v.to_owned()),
                (n, _) if n == "default-time-zone" => {
                    tz = Some("GMT-8".to_owned());
                    args.push(o.clone());
                }
                _ => args.push(o.clone()),
            }
        }
        ServerSetup {
            args,
            env: tz.map(|v| vec![("TZ".to_owned(), v)]).unwrap_or_default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty() && self.env.is_empty()
    }
}

/// Dynamic server options that shape the tables DDL creates and that the
/// binlog does not carry (normalized names, module doc).
pub const REPLICA_ALIKE_OPTIONS: &[&str] = &["innodb-default-row-format", "innodb-strict-mode"];

/// The `SET GLOBAL` statements that give the replicas the test's
/// [`REPLICA_ALIKE_OPTIONS`] (`--loose-` prefixes taken off; values other
/// than a bare word or number are not passed on).
pub fn replica_globals(opts: &[String]) -> Vec<String> {
    opts.iter()
        .filter_map(|o| {
            let (name, value) = name_value(o);
            let name = name.strip_prefix("loose-").unwrap_or(&name);
            let value = value?;
            let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (REPLICA_ALIKE_OPTIONS.contains(&name) && bare)
                .then(|| format!("SET GLOBAL {}={value}", name.replace('-', "_")))
        })
        .collect()
}

/// The first option that renames the primary's binlog, if any: a
/// `--log-bin=NAME` whose name is not [`SANDBOX_BINLOG`], a bare
/// `--log-bin` (the server then names it after the host: `mysqld-bin`,
/// rpl.rpl_semi_sync_wait_point), or any `--log-bin-index`.
pub fn renames_binlog(opts: &[String]) -> Option<&String> {
    opts.iter().find(|o| match name_value(o) {
        (n, Some(v)) if n == "log-bin" => {
            let base = v.rsplit('/').next().unwrap_or(v);
            let base = base.strip_suffix(".index").unwrap_or(base);
            base != SANDBOX_BINLOG
        }
        (n, None) => n == "log-bin",
        (n, Some(_)) => n == "log-bin-index",
    })
}

/// The options of the server restarts a test asks for in its middle:
/// `$restart_parameters` (include/restart_mysqld.inc) and `restart:` lines
/// written to mtr's expect file; comments are ignored.
pub fn mid_test_restart_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('#') {
            continue;
        }
        let rest = if let Some(i) = l.find("restart_parameters") {
            l[i + "restart_parameters".len()..]
                .trim_start()
                .strip_prefix('=')
                .map(str::to_owned)
        } else {
            l.find("restart:").map(|i| l[i + "restart:".len()..].to_owned())
        };
        if let Some(rest) = rest {
            let rest = rest
                .trim()
                .trim_end_matches(';')
                .trim_matches(|c| c == '"' || c == '\'');
            out.extend(
                super::catalog::split_options(rest)
                    .into_iter()
                    .filter(|o| o.starts_with("--")),
            );
        }
    }
    out
}

/// Why a test must be refused for what it restarts the primary with in
/// its middle: options that rename the binlog or keep changes out of it.
pub fn mid_test_restart_refusal(text: &str) -> Option<String> {
    let opts = mid_test_restart_options(text);
    if let Some(o) = renames_binlog(&opts) {
        return Some(format!(
            "restarts the primary in the middle of the test with {o}, which renames its binlog: the master \
             replicator (or a native replica) cannot follow a source whose binlog changes under it (an operator \
             would reprovision; a decision, README \"Conformance\")"
        ));
    }
    opts.iter().find_map(|o| {
        let (n, v) = name_value(o);
        let norm = match v {
            Some(v) => format!("{n}={}", v.to_ascii_lowercase()),
            None => n,
        };
        super::catalog::UNREPLICABLE_OPTIONS
            .iter()
            .find(|p| norm.starts_with(**p))
            .map(|p| {
                format!(
                    "restarts the primary in the middle of the test with {o} ({p}), which keeps changes out of the \
                     binlog the replicators read"
                )
            })
    })
}

/// The binlog format of a run's servers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BinlogFormat {
    #[default]
    Row,
    Mixed,
}

impl BinlogFormat {
    /// Parses `row` or `mixed` (any case); STATEMENT is refused with the
    /// reason.
    pub fn parse(s: &str) -> Result<BinlogFormat, String> {
        match s.to_ascii_lowercase().as_str() {
            "row" => Ok(BinlogFormat::Row),
            "mixed" => Ok(BinlogFormat::Mixed),
            "statement" | "stmt" => Err(
                "--binlog-format statement is not offered: the master replicator refuses a STATEMENT-format source \
                 by design (use row or mixed)"
                    .to_owned(),
            ),
            other => Err(format!("--binlog-format {other:?}: want row or mixed")),
        }
    }

    /// As `@@binlog_format` shows it.
    pub fn as_str(&self) -> &'static str {
        match self {
            BinlogFormat::Row => "ROW",
            BinlogFormat::Mixed => "MIXED",
        }
    }

    /// The server option.
    pub fn server_arg(&self) -> String {
        format!("--binlog-format={}", self.as_str())
    }
}

impl fmt::Display for BinlogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// mtr's format includes and the formats each accepts.
const FORMAT_INCLUDES: &[(&str, &[&str])] = &[
    ("have_binlog_format_mixed_or_row.inc", &["MIXED", "ROW"]),
    ("have_binlog_format_mixed_or_statement.inc", &["MIXED", "STATEMENT"]),
    ("have_binlog_format_row_or_statement.inc", &["ROW", "STATEMENT"]),
    ("have_binlog_format_mixed.inc", &["MIXED"]),
    ("have_binlog_format_row.inc", &["ROW"]),
    ("have_binlog_format_statement.inc", &["STATEMENT"]),
    ("not_binlog_format_row.inc", &["MIXED", "STATEMENT"]),
];

/// The formats a test accepts, from the `have_binlog_format_*.inc` it
/// sources (none: any). Several includes: the formats all accept.
pub fn format_needed(texts: &[String]) -> Option<Vec<&'static str>> {
    let mut accepted: Option<Vec<&'static str>> = None;
    for text in texts {
        for line in text.lines() {
            let l = line.trim_start().trim_start_matches("--").trim_start();
            if l.starts_with('#') || !l.starts_with("source") {
                continue;
            }
            if let Some((_, formats)) = FORMAT_INCLUDES.iter().find(|(inc, _)| l.contains(inc)) {
                accepted = Some(match accepted {
                    None => formats.to_vec(),
                    Some(prev) => prev.into_iter().filter(|f| formats.contains(f)).collect(),
                });
            }
        }
    }
    accepted
}

/// The storage engine the replicas start with as their default for a test
/// that sets the primary's `default_storage_engine` (module doc): the first
/// literal value a `SET [GLOBAL|SESSION] default_storage_engine` of the test
/// (then of its includes) gives, when it is an engine built into every
/// server other than mtr's own default, MyISAM.
pub fn engine_set(texts: &[String]) -> Option<String> {
    let value = texts.iter().find_map(|text| {
        text.lines().find_map(|line| {
            let lower = line.trim().to_ascii_lowercase();
            let at = lower.find("default_storage_engine")?;
            let head = lower[..at].trim_start().trim_start_matches("eval").trim_start();
            if !head.starts_with("set") {
                return None;
            }
            let value = lower[at + "default_storage_engine".len()..]
                .trim_start()
                .strip_prefix('=')?;
            let value = value
                .trim()
                .trim_end_matches(';')
                .trim()
                .trim_matches(|c| c == '\'' || c == '"');
            (!value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| value.to_owned())
        })
    })?;
    // Only engines every server has built in (a plugin's engine, such as
    // ARCHIVE, would keep a replica from starting).
    match value.as_str() {
        "maria" => Some("aria".to_owned()),
        "innodb" | "aria" | "memory" | "csv" => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_engine_a_test_sets_is_read_from_its_first_set() {
        let texts = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            engine_set(&texts(&[
                "--source include/have_innodb.inc\neval SET @@session.default_storage_engine = 'InnoDB';"
            ])),
            Some("innodb".to_owned())
        );
        assert_eq!(
            engine_set(&texts(&["set default_storage_engine=innodb;"])),
            Some("innodb".to_owned())
        );
        assert_eq!(
            engine_set(&texts(&["SELECT 1;", "SET GLOBAL default_storage_engine=memory;"])),
            Some("memory".to_owned())
        );
        assert_eq!(
            engine_set(&texts(&["eval SET @@session.default_storage_engine = 'MyISAM';"])),
            None
        );
        assert_eq!(
            engine_set(&texts(&["eval set default_storage_engine= $default_engine;"])),
            None
        );
        assert_eq!(
            engine_set(&texts(&[
                "let $e = `SELECT @@session.default_storage_engine='innodb'`;"
            ])),
            None
        );
        assert_eq!(engine_set(&texts(&["CREATE TABLE t (a INT);"])), None);
        assert_eq!(
            engine_set(&texts(&["set @@default_storage_engine=\"maria\";"])),
            Some("aria".to_owned())
        );
        assert_eq!(
            engine_set(&texts(&["SET @@session.default_storage_engine = 'archive';"])),
            None
        );
    }

    #[test]
    fn options_that_shape_tables_go_to_the_replicas() {
        assert_eq!(
            replica_globals(&v(&[
                "--loose-innodb_default_row_format=COMPACT",
                "--innodb-strict-mode=off",
                "--default-storage-engine=MyISAM",
                "--innodb-strict-mode='0; DROP'",
            ])),
            v(&[
                "SET GLOBAL innodb_default_row_format=COMPACT",
                "SET GLOBAL innodb_strict_mode=off"
            ])
        );
        assert!(replica_globals(&v(&["--innodb-strict-mode"])).is_empty());
    }

    #[test]
    fn timezone_becomes_tz_in_the_environment() {
        let s = ServerSetup::from_options(&v(&["--binlog_annotate_row_events", "--timezone=GMT-3"]));
        assert_eq!(s.args, v(&["--binlog_annotate_row_events"]));
        assert_eq!(s.env, vec![("TZ".to_owned(), "GMT-3".to_owned())]);
        let d = ServerSetup::from_options(&v(&["--default-time-zone=+01:00"]));
        assert_eq!(d.args, v(&["--default-time-zone=+01:00"]));
        assert_eq!(d.env, vec![("TZ".to_owned(), "GMT-8".to_owned())]);
        let last = ServerSetup::from_options(&v(&["--default_time_zone=+01:00", "--timezone=MET"]));
        assert_eq!(last.env, vec![("TZ".to_owned(), "MET".to_owned())]);
        let none = ServerSetup::from_options(&v(&["--log-bin"]));
        assert!(none.env.is_empty());
        assert!(!none.is_empty());
        assert!(ServerSetup::from_options(&[]).is_empty());
    }

    #[test]
    fn a_new_binlog_name_or_index_renames_the_binlog() {
        assert_eq!(
            renames_binlog(&v(&["--log-bin=other"])).map(String::as_str),
            Some("--log-bin=other")
        );
        assert!(renames_binlog(&v(&["--log_bin=binlog"])).is_some());
        assert!(renames_binlog(&v(&["--log-bin-index=master-bin"])).is_some());
        assert!(renames_binlog(&v(&["--log-bin=master-bin"])).is_none());
        assert!(renames_binlog(&v(&["--log-bin=mysql-bin"])).is_some());
        assert!(renames_binlog(&v(&["--log-bin", "--log-bin-trust-function-creators=1"])).is_some());
        assert!(renames_binlog(&v(&["--log-bin-trust-function-creators=1"])).is_none());
        assert!(renames_binlog(&v(&["--log-bin-compress=1", "--log_bin_use_v1_row_events=1"])).is_none());
    }

    #[test]
    fn mid_test_restarts_that_rename_the_binlog_are_refused() {
        // binlog.binlog_rotate_perf
        let t = "--source include/restart_mysqld.inc\n--let $restart_parameters=--log-bin=new_log_bin\n\
                 --source include/restart_mysqld.inc\n--let $restart_parameters=\n";
        assert_eq!(mid_test_restart_options(t), v(&["--log-bin=new_log_bin"]));
        assert!(mid_test_restart_refusal(t).is_some_and(|r| r.contains("--log-bin=new_log_bin")));
        // rpl.rpl_gtid_stop_start: an expect file's restart line.
        let t =
            "--append_file $MYSQLTEST_VARDIR/tmp/mysqld.2.expect\nrestart: --skip-slave-start=1 --skip-log-bin\nEOF\n";
        assert!(mid_test_restart_refusal(t).is_some_and(|r| r.contains("skip-log-bin")));
        // A restart with harmless options, or a comment, is not refused.
        assert!(mid_test_restart_refusal("--let $restart_parameters= --innodb-page-size=16k\n").is_none());
        assert!(mid_test_restart_refusal("# restart: --log-bin=x\n").is_none());
        assert!(mid_test_restart_refusal("--source include/restart_mysqld.inc\n").is_none());
    }

    #[test]
    fn formats_row_and_mixed_only() {
        assert_eq!(BinlogFormat::parse("MIXED"), Ok(BinlogFormat::Mixed));
        assert_eq!(BinlogFormat::parse("row"), Ok(BinlogFormat::Row));
        assert!(BinlogFormat::parse("statement").is_err_and(|e| e.contains("by design")));
        assert!(BinlogFormat::parse("rows").is_err());
        assert_eq!(BinlogFormat::default().server_arg(), "--binlog-format=ROW");
    }

    #[test]
    fn format_includes_give_the_accepted_formats() {
        let t = v(&["--source include/have_binlog_format_mixed.inc\n"]);
        assert_eq!(format_needed(&t), Some(vec!["MIXED"]));
        let t = v(&["source include/have_binlog_format_mixed_or_statement.inc;\n"]);
        assert_eq!(format_needed(&t), Some(vec!["MIXED", "STATEMENT"]));
        let t = v(&[
            "-- source include/have_binlog_format_mixed_or_row.inc\n",
            "--source include/not_binlog_format_row.inc\n",
        ]);
        assert_eq!(format_needed(&t), Some(vec!["MIXED"]));
        assert_eq!(format_needed(&v(&["--source include/have_innodb.inc\n"])), None);
    }
}

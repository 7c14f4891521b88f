//! Which tests exist and which are chosen: the suites of
//! `mariadb-test-data` (`main/*.test`, `suite/<s>/t/*.test`), the CI
//! subset, and the documented list of tests refused by design.
//!
//! Invariants: a selection names only existing files (an unknown `--test`
//! or `--suite` is an error naming what exists); the order is stable
//! (suite, then test name) so two runs of one selection run the same tests
//! in the same order.

use std::fs;
use std::path::{Path, PathBuf};

use super::options;

/// Where Debian's `mariadb-test-data` installs the tests.
pub const DEFAULT_BASEDIR: &str = "/usr/share/mysql/mysql-test";

/// The CI subset: quick tests across main/rpl/binlog/versioning/gcol that
/// exercise types, triggers, foreign keys and character sets.
pub const CI: &[&str] = &[
    "main.type_enum",
    "main.type_set",
    "main.type_bit",
    "main.foreign_key",
    "main.ctype_latin1",
    "rpl.rpl_row_trig002",
    "rpl.rpl_foreign_key_innodb",
    "rpl.rpl_set_charset",
    "rpl.rpl_bit_npk",
    "rpl.rpl_row_blob_innodb",
    "rpl.rpl_row_sp006_InnoDB",
    "binlog.binlog_row_ctype_ucs",
    "versioning.insert",
    "versioning.rpl",
    "gcol.gcol_ins_upd_innodb",
    "gcol.gcol_trigger_sp_innodb",
    "gcol.gcol_update",
];

/// The areas of `main` that the fidelity bar names (issue 8): types,
/// charsets, functions, DML, triggers, partitions, defaults,
/// auto-increment, GIS and JSON, as test-name patterns.
pub const FULL_MAIN: &[&str] = &[
    "main.type_*",
    "main.ctype_*",
    "main.func_*",
    "main.insert*",
    "main.update*",
    "main.delete*",
    "main.replace*",
    "main.trigger*",
    "main.partition*",
    "main.default*",
    "main.auto_increment*",
    "main.gis*",
    "main.*json*",
];

/// The whole suites of the fidelity bar (with [`FULL_MAIN`]: `--full`).
pub const FULL_SUITES: &[&str] = &["rpl", "binlog", "versioning", "gcol", "vcol", "sql_sequence", "period"];

/// Tests that cannot be replicated by design or cannot run on one server,
/// with the reason. Besides this list, a test whose text (or a rewritten
/// include) runs `RESET MASTER` is refused (see the rewrite module), and so
/// is one that changes table files in the primary's data directory
/// ([`copies_into_datadir`]), and one that restarts the primary in its
/// middle with options that rename the binlog or keep changes out of it
/// ([`options::mid_test_restart_refusal`]).
pub const REFUSED: &[(&str, &str)] = &[
    (
        "rpl.rpl_circular_for_4_hosts",
        "needs four servers replicating in a ring (a topology, not a workload)",
    ),
    (
        "rpl.rpl_semi_sync",
        "semi-synchronous replication is a property of the native replica protocol",
    ),
    (
        "main.mysqld--help",
        "prints the server's option list; nothing to replicate",
    ),
    (
        "main.ipv6",
        "the primary listens on `::` only (`--bind-address=::`): the replicas on 127.0.0.0/8 cannot reach it, \
         MariaDB's replica neither (checked with --native)",
    ),
];

/// Why MariaDB's own replication diverges on `test` too, when all of
/// `differing` (`schema.table`) are its known tables ([`NATIVE_DIVERGES`]).
pub fn native_divergence(test: &str, differing: &[&str]) -> Option<&'static str> {
    let (_, tables, why) = NATIVE_DIVERGES.iter().find(|(t, _, _)| *t == test)?;
    (!differing.is_empty() && differing.iter().all(|d| tables.contains(d))).then_some(*why)
}

/// Tests where MariaDB's own replication leaves the same tables different
/// (each checked with `--native`; the MariaDB issue named where there is
/// one): test, the tables, why. When only these tables differ, the outcome
/// is `native-diverges`, not `differ`; any other difference still counts.
pub const NATIVE_DIVERGES: &[(&str, &[&str], &str)] = &[
    (
        "sql_sequence.default",
        &["test.t1"],
        "ALTER TABLE ... ADD COLUMN ... DEFAULT NEXT VALUE FOR s2 is logged as a statement after the sequence's \
         own row updates: a replica fills the new column from the already advanced sequence",
    ),
    (
        "sql_sequence.other",
        &["test.s1"],
        "NEXTVAL() from a trigger through a view is not logged: the sequence's row differs",
    ),
    (
        "rpl.rpl_create_select_row",
        &["test.ta"],
        "MDEV-36027: a failed CREATE ... SELECT does not log what its function wrote to a non-transactional table",
    ),
    (
        "rpl.rpl_sp_effects",
        &["test.t2"],
        "under MIXED, `CREATE TABLE t2 AS SELECT a` in a procedure (a: a declared INT variable) is logged with the \
         variable as the literal 4: the replica's column is int(1), the primary's int(11)",
    ),
    (
        "rpl.rpl_spec_variables",
        &["test.t1"],
        "under MIXED, WEEK() depends on default_week_format, which a statement event does not carry: the replica \
         computes the row with its own",
    ),
    (
        "main.max_session_mem_used",
        &["test.t1"],
        "REPAIR LOCAL TABLE t1 USE_FRM under a tiny max_session_mem_used empties the Aria table on the primary, \
         and LOCAL keeps the repair out of the binlog: replicas keep the row",
    ),
    (
        "versioning.delete",
        &["test.t1"],
        "an ON DELETE SET NULL cascade on a timestamp-versioned table runs in the replica's InnoDB at its own \
         time, which the history rows record (MariaDB's replica stops there with 1032)",
    ),
];

/// Server options (normalized: no leading dashes, `-` for `_`) with which
/// part of a test's changes never reach the binlog.
pub const UNREPLICABLE_OPTIONS: &[&str] = &[
    "binlog-do-db",
    "binlog-ignore-db",
    "skip-log-bin",
    "disable-log-bin",
    "log-bin=0",
    "log-bin=off",
];

/// Variables of mtr's environment that `.opt` files use, with their value
/// here (Debian's plugin directory is the server's default).
pub const OPTION_VARIABLES: &[(&str, &str)] = &[
    ("$TEST_VERSIONING_SO", "test_versioning.so"),
    ("$HA_EXAMPLE_SO", "ha_example.so"),
    ("$HA_ARCHIVE_SO", "ha_archive.so"),
    ("$HA_BLACKHOLE_SO", "ha_blackhole.so"),
    ("$HA_FEDERATEDX_SO", "ha_federatedx.so"),
    ("$FUNC_TEST_SO", "func_test.so"),
    ("$TYPE_MYSQL_JSON_SO", "type_mysql_json.so"),
];

/// One test.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TestCase {
    /// `main`, `rpl`, `versioning` ...
    pub suite: String,
    /// The file name without `.test`.
    pub name: String,
    /// The `.test` file.
    pub path: PathBuf,
    /// The suite directory (mysqltest `--suite-dir`).
    pub suite_dir: PathBuf,
}

impl TestCase {
    /// `suite.name`.
    pub fn id(&self) -> String {
        format!("{}.{}", self.suite, self.name)
    }

    /// The reason the test is refused: it is in [`REFUSED`], or its server
    /// options keep changes out of the binlog ([`UNREPLICABLE_OPTIONS`]).
    pub fn refused(&self) -> Option<String> {
        let id = self.id();
        if let Some((_, r)) = REFUSED.iter().find(|(t, _)| *t == id) {
            return Some((*r).to_owned());
        }
        // The test's text and its direct includes, read once.
        let texts = self.texts();
        if texts.iter().any(|t| edits_binlog_index(t)) {
            return Some(
                "edits the primary's binlog index file behind the server's back: a replica cannot find the \
                 next binlog (MariaDB's fails with 1236 too, as the test expects)"
                    .to_owned(),
            );
        }
        if texts.iter().any(|t| expects_incident(t)) {
            return Some(
                "makes the primary write an INCIDENT event on purpose (it expects the replica to stop with \
                 ER_SLAVE_INCIDENT, 1590): the replicators stop there by design, naming the incident"
                    .to_owned(),
            );
        }
        if texts.iter().any(|t| copies_into_datadir(t)) {
            return Some(
                "copies, writes or removes files in the primary's data directory ($MYSQLD_DATADIR) behind \
                 the server's back (table, partition or trigger files, or binlog files of another server put \
                 in place of the primary's): no binlog carries that"
                    .to_owned(),
            );
        }
        if let Some(reason) = texts.iter().find_map(|t| options::mid_test_restart_refusal(t)) {
            return Some(reason);
        }
        let opts = self.server_options();
        for o in &opts {
            let norm = o.trim_start_matches('-').replace('_', "-").to_ascii_lowercase();
            if norm.starts_with("lower-case-table-names") {
                return Some(format!(
                    "server option {o}: the replicas would need it too (it is fixed when a data directory is \
                     created), and the runner gives a test's options to the primary only"
                ));
            }
            if let Some(p) = UNREPLICABLE_OPTIONS.iter().find(|p| norm.starts_with(**p)) {
                return Some(format!(
                    "server option {o} ({p}) keeps changes out of the binlog the replicators read"
                ));
            }
        }
        None
    }

    /// Whether the test's options rename the primary's binlog: its
    /// deployment is then built from scratch with them
    /// ([`options::renames_binlog`]); the option, if so.
    pub fn renames_binlog(&self) -> Option<String> {
        options::renames_binlog(&self.server_options()).cloned()
    }

    /// The engine the test's replicas start with as their default
    /// ([`options::engine_set`]), if it sets one.
    pub fn engine_set(&self) -> Option<String> {
        options::engine_set(&self.texts())
    }

    /// The binlog formats the test accepts (none: any), from the
    /// `have_binlog_format_*.inc` it or its direct includes source.
    pub fn formats_accepted(&self) -> Option<Vec<&'static str>> {
        options::format_needed(&self.texts())
    }

    /// The test's text and the text of the files it sources directly
    /// (found beside the test, in its suite, in `suite/` or in mysql-test:
    /// `--source suite/rpl/include/x.inc` names its file from there; one
    /// level).
    fn texts(&self) -> Vec<String> {
        let read = |p: &std::path::Path| std::fs::read(p).ok().map(|b| String::from_utf8_lossy(&b).into_owned());
        let Some(test) = read(&self.path) else {
            return Vec::new();
        };
        let dirs: Vec<PathBuf> = [
            self.path.parent(),
            Some(self.suite_dir.as_path()),
            self.suite_dir.parent(),
            self.suite_dir.parent().and_then(Path::parent),
        ]
        .into_iter()
        .flatten()
        .map(|d| d.to_path_buf())
        .collect();
        let mut out = vec![test.clone()];
        for line in test.lines() {
            let l = line.trim_start().trim_start_matches("--").trim_start();
            let Some(file) = l.strip_prefix("source ") else {
                continue;
            };
            let file = file.trim().trim_end_matches(';').trim();
            if let Some(text) = dirs.iter().find_map(|d| read(&d.join(file))) {
                out.push(text);
            }
        }
        out
    }

    /// Server options the test asks mtr for (`<name>.opt`,
    /// `<name>-master.opt`), one per element, with the variables of
    /// [`OPTION_VARIABLES`] replaced; an option naming another variable is
    /// left out (mtr-only).
    pub fn server_options(&self) -> Vec<String> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let mut opts = Vec::new();
        for f in [format!("{}.opt", self.name), format!("{}-master.opt", self.name)] {
            if let Ok(text) = fs::read_to_string(dir.join(f)) {
                opts.extend(split_options(&text));
            }
        }
        opts.into_iter()
            .map(|mut o| {
                for (var, value) in OPTION_VARIABLES {
                    o = o.replace(var, value);
                }
                o
            })
            .filter(|o| !o.contains('$'))
            .collect()
    }
}

/// Splits an mtr `.opt` file into options (whitespace-separated, double
/// quotes group).
pub fn split_options(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Why a selection is invalid.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{basedir}: not found or unreadable ({source}); install the tests with `scripts/install-deps --conformance` (Debian package mariadb-test-data)")]
    Missing {
        basedir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no suite {0:?}; suites: {1}")]
    NoSuite(String, String),
    #[error("no test {0:?} (give suite.name, e.g. main.type_enum, a name unique among the suites, or a pattern with `*`, e.g. 'main.ctype_*')")]
    NoTest(String),
}

/// The directory holding a suite's `.test` files: `main` itself, `t/` of a
/// suite that has one, else the suite's own directory (Debian ships
/// `sql_sequence` flat).
fn test_dir(suite: &str, suite_dir: &Path) -> PathBuf {
    let t = suite_dir.join("t");
    if suite == "main" || !t.is_dir() {
        suite_dir.to_path_buf()
    } else {
        t
    }
}

/// Whether a directory holds `.test` files directly.
fn has_tests(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut es| es.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "test"))))
}

/// `name` matches `pattern`, where `*` stands for any run of characters.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// All suites: `main` and each `suite/<s>` that has a `t/` directory or
/// `.test` files of its own.
pub fn suites(basedir: &Path) -> Result<Vec<(String, PathBuf)>, CatalogError> {
    let mut out = vec![("main".to_owned(), basedir.join("main"))];
    let dir = basedir.join("suite");
    let entries = fs::read_dir(&dir).map_err(|source| CatalogError::Missing {
        basedir: dir.clone(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("t").is_dir() || has_tests(&e.path()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    out.extend(names.into_iter().map(|n| {
        let p = dir.join(&n);
        (n, p)
    }));
    Ok(out)
}

/// The tests of one suite, sorted by name.
pub fn tests_of(suite: &str, suite_dir: &Path) -> Result<Vec<TestCase>, CatalogError> {
    let tdir = test_dir(suite, suite_dir);
    let entries = fs::read_dir(&tdir).map_err(|source| CatalogError::Missing {
        basedir: tdir.clone(),
        source,
    })?;
    let mut out: Vec<TestCase> = entries
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_name()?.to_str()?.strip_suffix(".test")?.to_owned();
            Some(TestCase {
                suite: suite.to_owned(),
                name,
                path: p.clone(),
                suite_dir: suite_dir.to_path_buf(),
            })
        })
        .collect();
    out.sort();
    Ok(out)
}

/// What to run.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub suites: Vec<String>,
    pub tests: Vec<String>,
    pub ci: bool,
    /// The fidelity bar: [`FULL_MAIN`] and [`FULL_SUITES`].
    pub full: bool,
    /// Keep every n-th test (spread evenly) to get about this many.
    pub sample: Option<usize>,
}

/// Resolves a selection (no suite and no test: `main`).
pub fn select(basedir: &Path, sel: &Selection) -> Result<Vec<TestCase>, CatalogError> {
    let all_suites = suites(basedir)?;
    let suite_names = || all_suites.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(",");
    let mut out = Vec::new();
    let mut wanted: Vec<String> = sel.tests.clone();
    if sel.ci {
        wanted.extend(CI.iter().map(|s| (*s).to_owned()));
    }
    let mut suites_wanted = sel.suites.clone();
    if sel.full {
        wanted.extend(FULL_MAIN.iter().map(|s| (*s).to_owned()));
        suites_wanted.extend(FULL_SUITES.iter().map(|s| (*s).to_owned()));
    }
    if wanted.is_empty() && suites_wanted.is_empty() {
        suites_wanted.push("main".into());
    }
    for s in &suites_wanted {
        let Some((name, dir)) = all_suites.iter().find(|(n, _)| n == s) else {
            return Err(CatalogError::NoSuite(s.clone(), suite_names()));
        };
        let mut tests = tests_of(name, dir)?;
        if let Some(n) = sel.sample.filter(|&n| n > 0 && n < tests.len()) {
            let step = tests.len() as f64 / n as f64;
            tests = (0..n)
                .filter_map(|i| tests.get((i as f64 * step) as usize).cloned())
                .collect();
        }
        out.extend(tests);
    }
    for t in &wanted {
        let (suite, name) = match t.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, t.as_str()),
        };
        let mut found = Vec::new();
        for (sname, dir) in &all_suites {
            if suite.is_some_and(|s| s != sname) {
                continue;
            }
            if name.contains('*') {
                let mut matching = tests_of(sname, dir)?;
                matching.retain(|tc| glob_matches(name, &tc.name));
                found.extend(matching);
                continue;
            }
            let path = test_dir(sname, dir).join(format!("{name}.test"));
            if path.is_file() {
                found.push(TestCase {
                    suite: sname.clone(),
                    name: name.to_owned(),
                    path,
                    suite_dir: dir.clone(),
                });
                break;
            }
        }
        if found.is_empty() {
            return Err(CatalogError::NoTest(t.clone()));
        }
        for tc in found {
            if !out.contains(&tc) {
                out.push(tc);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_of_the_binlog_index_are_seen() {
        assert!(edits_binlog_index(
            "let TRUNCATE_FILE= $MYSQLD_DATADIR/master-bin.index;"
        ));
        assert!(edits_binlog_index("append_file $MYSQLD_DATADIR/master-bin.index;"));
        assert!(!edits_binlog_index("--cat_file $MYSQLD_DATADIR/master-bin.index"));
    }

    #[test]
    fn an_include_named_from_mysql_test_is_read() {
        // rpl.rpl_parallel_29322 sources `suite/rpl/include/...inc`, which
        // puts another server's binlog in place of the primary's.
        let root = tempfile::tempdir().expect("tempdir");
        let suite_dir = root.path().join("suite/rpl");
        fs::create_dir_all(suite_dir.join("t")).expect("t");
        fs::create_dir_all(suite_dir.join("include")).expect("include");
        fs::write(
            suite_dir.join("include/body.inc"),
            "--copy_file $MYSQL_TEST_DIR/std_data/other-bin.000001 $datadir/master-bin.000002\n",
        )
        .expect("include");
        let path = suite_dir.join("t/x.test");
        fs::write(&path, "--source suite/rpl/include/body.inc\n").expect("test");
        let tc = TestCase {
            suite: "rpl".into(),
            name: "x".into(),
            path,
            suite_dir,
        };
        assert!(
            tc.refused().is_some_and(|r| r.contains("binlog files")),
            "{:?}",
            tc.refused()
        );
    }

    #[test]
    fn tests_waiting_for_an_incident_stop_are_seen() {
        assert!(expects_incident(
            "# 1590=ER_SLAVE_INCIDENT\n--let $slave_sql_errno= 1590\n"
        ));
        assert!(expects_incident("let $slave_sql_errno=1590;"));
        assert!(!expects_incident("--let $slave_sql_errno= 1062\n"));
    }

    #[test]
    fn only_the_known_tables_make_a_native_divergence() {
        assert!(native_divergence("sql_sequence.default", &["test.t1"]).is_some());
        assert!(native_divergence("sql_sequence.default", &["test.t1", "test.t2"]).is_none());
        assert!(native_divergence("sql_sequence.default", &[]).is_none());
        assert!(native_divergence("main.type_enum", &["test.t1"]).is_none());
    }

    #[test]
    fn glob_star_matches_any_run() {
        assert!(glob_matches("type_*", "type_enum"));
        assert!(glob_matches("*json*", "func_json"));
        assert!(glob_matches("*json*", "json"));
        assert!(glob_matches("insert", "insert"));
        assert!(!glob_matches("insert", "insert_select"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("a*b*c", "axxcyyb"));
        assert!(!glob_matches("ab*ba", "aba"));
    }

    #[test]
    fn options_split_on_whitespace_and_keep_quoted_groups() {
        assert_eq!(
            split_options("--a=1 \"--b=x y\"\n--c"),
            vec!["--a=1".to_owned(), "--b=x y".to_owned(), "--c".to_owned()]
        );
    }

    #[test]
    fn the_ci_subset_exists_when_the_tests_are_installed() {
        let base = Path::new(DEFAULT_BASEDIR);
        assert!(
            base.join("main").is_dir(),
            "{DEFAULT_BASEDIR}/main missing: run scripts/install-deps --conformance (mariadb-test-data)"
        );
        let sel = Selection {
            ci: true,
            ..Selection::default()
        };
        let tests = select(base, &sel).expect("CI subset resolves");
        assert_eq!(tests.len(), CI.len());
    }
}

/// True when a test writes, truncates or removes the binlog index file
/// (`master-bin.index`) itself.
pub fn edits_binlog_index(test: &str) -> bool {
    test.lines().any(|l| {
        let l = l
            .trim_start()
            .trim_start_matches("--")
            .trim_start()
            .to_ascii_lowercase();
        let writes = [
            "append_file",
            "write_file",
            "remove_file",
            "copy_file",
            "move_file",
            "let truncate_file",
        ]
        .iter()
        .any(|c| l.starts_with(c));
        writes && l.contains("-bin.index")
    })
}

/// True when a test waits for its replica to stop at an INCIDENT event
/// (`ER_SLAVE_INCIDENT`, 1590): the primary writes one on purpose.
pub fn expects_incident(test: &str) -> bool {
    test.contains("ER_SLAVE_INCIDENT")
        || test.lines().any(|l| {
            let l = l.trim_start().trim_start_matches("--").trim_start();
            l.strip_prefix("let $slave_sql_errno")
                .is_some_and(|rest| rest.trim_start_matches([' ', '=']).starts_with("1590"))
        })
}

/// True when a test changes table files behind the server's back: it
/// copies, moves or writes files into the server's data directory
/// (`.frm`/`.ibd`/`.MYD` files made elsewhere, or a table's or trigger's
/// file written with `write_file` or `SELECT ... INTO OUTFILE`), or
/// removes a table's, partition's or trigger's file there
/// (`remove_file $MYSQLD_DATADIR/test/t1.par`): those tables appear,
/// change or break on the primary without any statement in its binlog.
/// A binlog file copied there is another server's binlog put in place of
/// the primary's (rpl.rpl_old_master, rpl.rpl_parallel_29322's include:
/// its events appear in the primary's binlog without having run there).
/// Files that are not table files (an OUTFILE's `.txt` that the test then
/// removes, `#sql*` leftovers) do not count.
pub fn copies_into_datadir(test: &str) -> bool {
    test.lines().any(changes_table_files) || outfile_into_table_file(test)
}

/// One line's mysqltest command (`--` or `;` form) that copies into the
/// data directory, or writes or removes a table file there.
fn changes_table_files(line: &str) -> bool {
    let cmd = line.trim_start().trim_start_matches("--").trim_start();
    let cmd = cmd.trim_end().trim_end_matches(';').trim_end();
    // ASCII lowercasing keeps byte offsets: `rest` is cut from `cmd`, whose
    // case the file extensions keep (`t1.CSV` is a table, `x.csv` an OUTFILE).
    let lower = cmd.to_ascii_lowercase();
    let rest_after = |prefix: &str| lower.starts_with(prefix).then(|| &cmd[prefix.len()..]);
    let args = |rest: &str| -> Vec<String> {
        rest.split_whitespace()
            .map(|a| a.trim_matches(['\'', '"']).to_owned())
            .collect()
    };
    let in_datadir = |p: &str| p.to_ascii_lowercase().contains("datadir");
    for copy in [
        "copy_file ",
        "copy_files_wildcard ",
        "move_file ",
        "exec cp ",
        "exec mv ",
    ] {
        if let Some(rest) = rest_after(copy) {
            // The destination: the second argument (the first for a
            // wildcard copy is the source directory too).
            return args(rest).get(1).is_some_and(|dest| in_datadir(dest));
        }
    }
    if let Some(rest) = rest_after("write_file ").or_else(|| rest_after("remove_file ")) {
        return args(rest).first().is_some_and(|p| in_datadir(p) && is_table_file(p));
    }
    if let Some(rest) = rest_after("remove_files_wildcard ") {
        let a = args(rest);
        return match (a.first(), a.get(1)) {
            (Some(dir), Some(pattern)) => in_datadir(dir) && !pattern.starts_with("#sql") && is_table_file(pattern),
            _ => false,
        };
    }
    if let Some(rest) = rest_after("exec rm ") {
        return args(rest).iter().any(|p| in_datadir(p) && is_table_file(p));
    }
    false
}

/// Whether a statement writes a table file in the data directory with
/// `INTO OUTFILE`/`INTO DUMPFILE` (the file name may be on the next line).
fn outfile_into_table_file(test: &str) -> bool {
    let lower = test.to_ascii_lowercase();
    ["into outfile", "into dumpfile"].iter().any(|kw| {
        lower.match_indices(kw).any(|(at, _)| {
            let dest = test[at + kw.len()..].trim_start().trim_start_matches(['\'', '"']);
            let dest = dest.split(['\'', '"']).next().unwrap_or("");
            let dest = dest.split_whitespace().next().unwrap_or("");
            dest.to_ascii_lowercase().contains("datadir") && is_table_file(dest)
        })
    })
}

/// A file name with the extension of a table's data, index or definition,
/// of a partitioned table's `.par`, or of a trigger's `.TRG`/`.TRN`, in
/// the case the server writes them.
fn is_table_file(path: &str) -> bool {
    const TABLE_FILES: &[&str] = &[
        ".frm", ".ibd", ".MYD", ".MYI", ".MAD", ".MAI", ".CSV", ".CSM", ".ARZ", ".ARM", ".par", ".TRG", ".TRN",
    ];
    TABLE_FILES.iter().any(|ext| path.ends_with(ext))
}

#[cfg(test)]
mod datadir_tests {
    use super::copies_into_datadir;

    #[test]
    fn copying_table_files_into_the_datadir_is_seen() {
        assert!(copies_into_datadir(
            "let $d=`select 1`;\n--copy_file std_data/t.frm $MYSQLD_DATADIR/test/t.frm\n"
        ));
        assert!(copies_into_datadir(
            "copy_files_wildcard $src $MYSQLD_DATADIR/test *.ibd;"
        ));
        assert!(copies_into_datadir(
            "copy_file std_data/vcol_autoinc.frm $datadir/test/vcol_autoinc.frm;"
        ));
        assert!(!copies_into_datadir(
            "--copy_file $MYSQLD_DATADIR/test/t.frm $MYSQLTEST_VARDIR/tmp/t.frm"
        ));
        // main.type_timestamp writes a table's data file.
        assert!(copies_into_datadir(
            "--eval SELECT CONCAT(0xFF) INTO OUTFILE '$MYSQLD_DATADIR/test/t1.MYD' FIELDS TERMINATED BY ''"
        ));
        assert!(copies_into_datadir("--write_file $MYSQLD_DATADIR/test/t1.frm"));
        assert!(!copies_into_datadir(
            "SELECT * INTO OUTFILE '$MYSQLD_DATADIR/test/t1.txt' FROM t1"
        ));
        assert!(!copies_into_datadir("--write_file $MYSQLTEST_VARDIR/tmp/t1.frm"));
    }

    #[test]
    fn removing_table_files_from_the_datadir_is_seen() {
        // main.partition_myisam removes the .par of a partitioned table.
        assert!(copies_into_datadir("--remove_file $MYSQLD_DATADIR/test/t1.par\n"));
        assert!(copies_into_datadir("remove_file $MYSQLD_DATADIR/test/t1#P#p0.MYI;"));
        assert!(copies_into_datadir("--remove_file $datadir/test/t1.frm;"));
        assert!(copies_into_datadir("--exec rm -f $MYSQLD_DATADIR/test/t1.MYD"));
        assert!(copies_into_datadir(
            "--remove_files_wildcard $MYSQLD_DATADIR/test *.frm"
        ));
        // Leftovers of an interrupted ALTER are no table.
        assert!(!copies_into_datadir(
            "--remove_files_wildcard $MYSQLD_DATADIR/test #sql*.frm"
        ));
        // A file the test wrote there through SQL stays allowed.
        assert!(!copies_into_datadir(
            "SELECT * INTO OUTFILE '$MYSQLD_DATADIR/test/t1.txt' FROM t1;\n--remove_file $MYSQLD_DATADIR/test/t1.txt\n"
        ));
        // rpl.rpl_loaddata_local: an OUTFILE named .csv is not a CSV table (t1.CSV).
        assert!(!copies_into_datadir("--remove_file $MYSQLD_DATADIR/bug60580.csv"));
        assert!(copies_into_datadir("--remove_file $MYSQLD_DATADIR/test/t1.CSV"));
        // Outside the data directory, nothing is refused.
        assert!(!copies_into_datadir("--remove_file $MYSQLTEST_VARDIR/tmp/t1.frm"));
        assert!(!copies_into_datadir("--remove_file $MYSQLD_DATADIR/mysql_upgrade_info"));
    }

    #[test]
    fn trigger_files_are_table_files() {
        // main.trigger-compat writes .TRN/.TRG files, removes t1.TRG and
        // rewrites it with an OUTFILE whose name is on the next line.
        assert!(copies_into_datadir("--write_file $MYSQLD_DATADIR/test/tr11.TRN\nEOF\n"));
        assert!(copies_into_datadir("--write_file $MYSQLD_DATADIR/test/t1.TRG"));
        assert!(copies_into_datadir(
            "--remove_file $MYSQLD_DATADIR/mysqltest_db1/t1.TRG"
        ));
        assert!(copies_into_datadir(
            "evalp SELECT SUBSTRING_INDEX(a,'definers=',1) INTO OUTFILE\n '$MYSQLD_DATADIR/mysqltest_db1/t1.TRG'\nFROM patch;"
        ));
        assert!(!copies_into_datadir(
            "evalp LOAD DATA LOCAL INFILE '$MYSQLD_DATADIR/mysqltest_db1/t1.TRG' INTO TABLE patch;"
        ));
    }
}

//! Runs one test: rewrite it, run `mariadb-test` against the primary while
//! the replicators replicate, take the final checkpoint, classify.
//!
//! mtr's environment is provided where it is reasonable: the variables
//! tests read (`MYSQLTEST_VARDIR`, `MYSQL_TMP_DIR`, `MYSQL_TEST_DIR`,
//! `MASTER_MYPORT`, `MASTER_MYSOCK`, `SLAVE_MYPORT` (the primary too),
//! `MYSQL`, `MYSQL_DUMP`, `MYSQL_BINLOG`, `MYSQLADMIN` ...), the primary's
//! error log as `$MYSQLTEST_VARDIR/log/mysqld.1.err`, the test's `.opt`
//! server options (the primary restarts with them, and without them after
//! the test; `--timezone=X`, which mtr consumes, as `TZ=X` in the
//! environment of the primary and of mysqltest, [`super::options`]; a
//! test that renames the binlog gets a deployment built with its options
//! from the start, by the binary), and mtr's expect-file protocol for
//! server restarts (`include/restart_mysqld.inc`: the runner restarts the primary when the
//! test wrote `restart[: options]` to `$MYSQLTEST_VARDIR/tmp/*.expect`).
//! As mtr does, the vardir holds a copy of `<basedir>/std_data`
//! ([`prepare_vardir`]: `load_file('$MYSQLTEST_VARDIR/std_data/...')`).
//! The test's output is recorded, not compared with its `.result` file (a
//! single-server run cannot reproduce mtr's output); a test that aborts is
//! a `mysqltest-error`.
//!
//! Invariants: mysqltest is killed at the test's timeout; a stop or
//! timeout recorded by any checkpoint makes the outcome `stop`; a test is
//! `clean` only if at least one checkpoint compared the tables and none
//! found a difference.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::catalog::{native_divergence, TestCase};
use super::checkpoint::{self, Kind, Record};
use super::deploy::Deploy;
use super::options::ServerSetup;
use super::rewrite::{self, Layout};
use crate::sandbox::spawn_with_death_signal;

/// mysqltest's exit code for a test that skipped itself.
const MYSQLTEST_SKIP: i32 = 62;

/// How a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Clean,
    Differ,
    Stop,
    Refused,
    /// Only tables that MariaDB's own replication leaves different too
    /// ([`super::catalog::NATIVE_DIVERGES`]) differ.
    NativeDiverges,
    MysqltestError,
    /// The test skipped itself (a requirement such as a debug build, a
    /// binlog format other than ROW, a plugin): nothing ran, nothing to
    /// compare beyond what it wrote before skipping.
    Skipped,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::Differ => "differ",
            Outcome::Stop => "stop",
            Outcome::Refused => "refused",
            Outcome::NativeDiverges => "native-diverges",
            Outcome::MysqltestError => "mysqltest-error",
            Outcome::Skipped => "skipped",
        }
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub basedir: PathBuf,
    /// Where each test's files go (`<work>/<suite>.<test>/`).
    pub work: PathBuf,
    /// `$MYSQLTEST_VARDIR`: holds the sandbox roots (`$TMPDIR` of the run).
    pub vardir: PathBuf,
    /// The longest a test may run.
    pub timeout: Duration,
}

/// The result of one test.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub suite: String,
    pub test: String,
    pub outcome: Outcome,
    /// Seqnos the master extracted while the test ran (natively: how far
    /// the primary's binlog GTIDs advanced, [`super::native::gtid_position`]).
    pub transactions: i64,
    /// Distinct tables compared.
    pub tables: usize,
    /// `table@host,host: detail`, distinct.
    pub differing: Vec<String>,
    pub error: String,
    pub elapsed: Duration,
    /// The deployment must be rebuilt before the next test.
    pub needs_rebuild: bool,
}

impl TestResult {
    /// The result of a test refused by design (`reason`), which needs no
    /// deployment.
    pub fn refused(tc: &TestCase, reason: String) -> TestResult {
        TestResult::new(tc, Outcome::Refused, reason)
    }

    /// The result of a test whose own deployment (built with its options
    /// from the start) did not start: `error` says why.
    pub fn failed_start(tc: &TestCase, error: String) -> TestResult {
        let mut r = TestResult::new(tc, Outcome::MysqltestError, error);
        r.needs_rebuild = true;
        r
    }

    fn new(tc: &TestCase, outcome: Outcome, error: String) -> TestResult {
        TestResult {
            suite: tc.suite.clone(),
            test: tc.name.clone(),
            outcome,
            transactions: 0,
            tables: 0,
            differing: Vec::new(),
            error,
            elapsed: Duration::ZERO,
            needs_rebuild: false,
        }
    }
}

fn tool(name: &str, cnf: &Path) -> String {
    format!("{name} --defaults-file={}", cnf.display())
}

/// A directory as mysqltest wants it: it concatenates names to
/// `--basedir`, `--suite-dir` and `--overlay-dir`, so they end with `/`.
fn slash(p: &Path) -> String {
    let s = p.display().to_string();
    if s.ends_with('/') {
        s
    } else {
        format!("{s}/")
    }
}

/// The last meaningful lines of mysqltest's output.
fn error_lines(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("The result from queries just before") && !l.starts_with("More results")
        })
        .collect();
    let keep: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("mysqltest:") || l.contains("failed") || l.contains("ERROR"))
        .copied()
        .collect();
    let chosen = if keep.is_empty() { lines } else { keep };
    chosen[chosen.len().saturating_sub(3)..].join(" | ")
}

fn skip_reason(output: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(2)..].join(" | ")
}

/// Copies `<basedir>/std_data` to `<vardir>/std_data`, as mtr does before
/// a run (tests read and copy files there through `$MYSQLTEST_VARDIR`; a
/// copy, not a link, so a test that removes a file there cannot touch the
/// installed suite).
pub fn prepare_vardir(basedir: &Path, vardir: &Path) -> Result<(), String> {
    copy_tree(&basedir.join("std_data"), &vardir.join("std_data"))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("create {}: {e}", to.display()))?;
    let entries = std::fs::read_dir(from).map_err(|e| format!("read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", from.display()))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).map_err(|e| format!("copy {} to {}: {e}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// Reads the expect file mtr's restart protocol writes, if any.
fn read_expect(tmp: &Path) -> Option<(PathBuf, String)> {
    let entries = std::fs::read_dir(tmp).ok()?;
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "expect") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            return Some((p, text.trim().trim_matches('"').to_owned()));
        }
    }
    None
}

/// Runs `tc` on the deployment.
pub async fn run_test(deploy: &mut Deploy, tc: &TestCase, opts: &RunOptions) -> TestResult {
    let started = Instant::now();
    let mut r = run_inner(deploy, tc, opts).await;
    r.elapsed = started.elapsed();
    r
}

async fn run_inner(deploy: &mut Deploy, tc: &TestCase, opts: &RunOptions) -> TestResult {
    if let Some(reason) = tc.refused() {
        return TestResult::refused(tc, reason);
    }
    let dir = opts.work.join(tc.id());
    let _ = std::fs::remove_dir_all(&dir);
    let overlay = dir.join("overlay");
    // One vardir for the run (it holds the sandbox roots, so the servers'
    // data directories are inside it, as mysqltest's file commands require);
    // its tmp/ is emptied for each test.
    let var = opts.vardir.clone();
    let tmp = var.join("tmp");
    let log = var.join("log");
    let _ = std::fs::remove_dir_all(&tmp);
    for d in [&overlay, &tmp, &log] {
        if let Err(e) = std::fs::create_dir_all(d) {
            return TestResult::new(tc, Outcome::MysqltestError, format!("create {}: {e}", d.display()));
        }
    }
    let layout = Layout {
        basedir: opts.basedir.clone(),
        suite_dir: tc.suite_dir.clone(),
        overlay: overlay.clone(),
    };
    let prepared = match rewrite::prepare(&tc.path, &layout) {
        Ok(p) => p,
        Err(e) => {
            return TestResult::new(
                tc,
                Outcome::MysqltestError,
                format!("rewrite {}: {e}", tc.path.display()),
            )
        }
    };
    let results = dir.join("checkpoints.jsonl");
    let topo = match deploy.topology(&results) {
        Ok(t) => t,
        Err(e) => return TestResult::new(tc, Outcome::MysqltestError, e),
    };
    let primary_socket = deploy.primary().socket();
    let _ = std::fs::remove_file(log.join("mysqld.1.err"));
    let _ = std::os::unix::fs::symlink(deploy.primary().error_log(), log.join("mysqld.1.err"));
    // The client tools' options, as mtr's my.cnf gives them
    // (`$MYSQL --defaults-group-suffix=.1` must still work).
    let cnf = var.join("my.cnf");
    let cnf_text = format!(
        "[client]\nuser=root\nsocket={}\nport={}\nloose-local-infile=1\n[client.1]\n[client.2]\n",
        primary_socket.display(),
        deploy.port
    );
    if let Err(e) = std::fs::write(&cnf, cnf_text) {
        return TestResult::new(tc, Outcome::MysqltestError, format!("{}: {e}", cnf.display()));
    }

    // The test's server options: the primary restarts with them (with
    // `--timezone` as `TZ`, module options), unless the deployment was
    // built with them from the start (a test that renames the binlog).
    let setup = ServerSetup::from_options(&tc.server_options());
    let server_opts = setup.args.clone();
    let mut needs_rebuild = false;
    if !setup.is_empty() {
        needs_rebuild = true;
        if deploy.settings().primary != setup {
            let mut args = deploy.primary_args().to_vec();
            args.extend(server_opts.iter().cloned());
            deploy.primary_mut().set_env(setup.env.clone());
            if let Err(e) = deploy.primary_mut().restart_with(args).await {
                let mut r = TestResult::new(
                    tc,
                    Outcome::MysqltestError,
                    format!(
                        "the primary did not start with the test's options {server_opts:?} (environment {:?}): {e}",
                        setup.env
                    ),
                );
                r.needs_rebuild = true;
                return r;
            }
        }
    }
    let replica_sets = super::options::replica_globals(&server_opts);
    if let Err(e) = super::on_replicas::set_globals(&topo, &replica_sets).await {
        let mut r = TestResult::new(
            tc,
            Outcome::MysqltestError,
            format!("the replicas did not take the test's options that shape tables: {e}"),
        );
        r.needs_rebuild = true;
        return r;
    }
    let globals_before = globals(deploy).await;
    let seqno_before = topo.primary_position().await.unwrap_or(-1);

    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "conformance".into());
    let output_path = dir.join("mysqltest.log");
    let output = match std::fs::File::create(&output_path) {
        Ok(f) => f,
        Err(e) => return TestResult::new(tc, Outcome::MysqltestError, format!("{}: {e}", output_path.display())),
    };
    let port = deploy.port.to_string();
    let sock = primary_socket.display().to_string();
    let mut cmd = Command::new("mariadb-test");
    cmd.arg("--no-defaults")
        .arg(format!("--socket={sock}"))
        .arg(format!("--port={port}"))
        .args([
            "--host=localhost",
            "--user=root",
            "--database=test",
            "--record",
            "--tail-lines=5",
        ])
        .arg("--max-connect-retries=20")
        .arg(format!("--basedir={}", slash(&opts.basedir)))
        .arg(format!("--suite-dir={}", slash(&tc.suite_dir)))
        .arg(format!("--overlay-dir={}", slash(&overlay)))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--logdir={}", log.display()))
        .arg(format!("--test-file={}", prepared.test_file.display()))
        .arg(format!(
            "--result-file={}",
            dir.join(format!("{}.result", tc.name)).display()
        ))
        // mtr runs mysqltest in the mysql-test directory (`std_data/...`).
        .current_dir(&opts.basedir)
        .stdin(Stdio::null())
        .stdout(match output.try_clone() {
            Ok(f) => Stdio::from(f),
            Err(_) => Stdio::null(),
        })
        .stderr(output)
        .envs(topo.to_env())
        .env("CONFORMANCE_CHECKPOINT", format!("{exe} checkpoint"))
        .env("CONFORMANCE_ON_REPLICAS", format!("{exe} on-replicas"))
        .env("MYSQLTEST_VARDIR", &var)
        .env("MYSQL_TMP_DIR", &tmp)
        .env("MYSQL_TEST_DIR", &opts.basedir)
        .env("MYSQL_SHAREDIR", "/usr/share/mysql")
        .env("MYSQL_CHARSETSDIR", "/usr/share/mysql/charsets")
        .env("MYSQLTEST_FILE", &tc.path)
        .env("MASTER_MYPORT", &port)
        .env("MASTER_MYSOCK", &sock)
        .env("SLAVE_MYPORT", &port)
        .env("SLAVE_MYSOCK", &sock)
        .env("DEFAULT_MASTER_PORT", &port)
        .env("MYSQL", tool("mariadb", &cnf))
        .env("MYSQL_SLAVE", tool("mariadb", &cnf))
        .env("MYSQL_DUMP", tool("mariadb-dump", &cnf))
        .env("MYSQL_DUMP_SLAVE", tool("mariadb-dump", &cnf))
        .env("MYSQL_IMPORT", tool("mariadb-import", &cnf))
        .env("MYSQL_SHOW", tool("mariadb-show", &cnf))
        .env("MYSQL_CHECK", tool("mariadb-check", &cnf))
        .env("MYSQLADMIN", tool("mariadb-admin", &cnf))
        .env(
            "MYSQL_BINLOG",
            format!("mariadb-binlog --no-defaults --local-load={}", tmp.display()),
        )
        .env("MYSQL_PLUGIN", "mariadb-plugin")
        // mtr runs mysqltest (and so mariadb-binlog) in the test's TZ too.
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(
            super::catalog::OPTION_VARIABLES
                .iter()
                .map(|(k, v)| (k.trim_start_matches('$'), *v)),
        );
    let mut child = match spawn_with_death_signal(cmd) {
        Ok(c) => c,
        Err(e) => {
            return TestResult::new(
                tc,
                Outcome::MysqltestError,
                format!("cannot run mariadb-test: {e}; install it with scripts/install-deps --conformance"),
            )
        }
    };
    let mut deadline = Instant::now() + opts.timeout;
    let mut notes = Vec::new();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(e) => {
                notes.push(format!("wait for mariadb-test: {e}"));
                break None;
            }
        }
        if Instant::now() >= deadline && checkpoint_busy(&topo) {
            // A checkpoint waits for a replica busy with one long applier
            // statement (it bounds that wait itself).
            deadline = Instant::now() + Duration::from_secs(10);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            notes.push(format!("timed out after {:?} (--timeout)", opts.timeout));
            break None;
        }
        if !deploy.primary_mut().is_running() {
            needs_rebuild = true;
            match read_expect(&tmp) {
                Some((_, text)) if text.starts_with("wait") || text.is_empty() => {}
                Some((path, text)) if text.starts_with("restart") => {
                    let mut args = deploy.primary_args().to_vec();
                    args.extend(server_opts.iter().cloned());
                    if let Some((_, extra)) = text.split_once(':') {
                        let extra: Vec<String> = super::catalog::split_options(extra)
                            .into_iter()
                            .filter(|o| !o.contains('$'))
                            .collect();
                        let extra = ServerSetup::from_options(&extra);
                        args.extend(extra.args);
                        if !extra.env.is_empty() {
                            deploy.primary_mut().set_env(extra.env);
                        }
                    }
                    let _ = std::fs::remove_file(&path);
                    if let Err(e) = deploy.primary_mut().restart_with(args).await {
                        notes.push(format!("the primary did not restart as the test asked ({text}): {e}"));
                    }
                }
                other => {
                    notes.push(format!(
                        "the primary exited without a restart request (expect file: {:?}); restarted",
                        other.map(|(_, t)| t)
                    ));
                    let args = deploy.primary_args().to_vec();
                    if let Err(e) = deploy.primary_mut().restart_with(args).await {
                        notes.push(format!("restart failed: {e}"));
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if !deploy.primary_mut().is_running() {
        needs_rebuild = true;
        let args = deploy.primary_args().to_vec();
        if let Err(e) = deploy.primary_mut().restart_with(args).await {
            notes.push(format!("the primary did not restart after the test: {e}"));
        }
    }
    let mut records = checkpoint::read_all(&results);
    if !records.iter().any(|r| r.kind.is_fatal()) {
        let last = checkpoint::run(&topo, "end of test").await;
        let _ = checkpoint::append(&topo, &last);
        records.push(last);
    }
    let output_text = std::fs::read_to_string(&output_path).unwrap_or_default();
    let mut r = classify(tc, &records, status.and_then(|s| s.code()), &output_text, &notes);
    r.transactions = topo.primary_position().await.unwrap_or(-1) - seqno_before;
    if globals(deploy).await != globals_before {
        needs_rebuild = true;
    }
    r.needs_rebuild = needs_rebuild || r.outcome == Outcome::Stop;
    r
}

/// Classifies a finished test from its checkpoints and mysqltest's exit.
fn classify(tc: &TestCase, records: &[Record], code: Option<i32>, output: &str, notes: &[String]) -> TestResult {
    let mut tables = BTreeSet::new();
    let mut differing = BTreeSet::new();
    let mut first_diff = None;
    for rec in records {
        tables.extend(rec.tables.iter().cloned());
        for (table, hosts, detail) in &rec.differences {
            differing.insert(format!("{table}@{}", hosts.join(",")));
            first_diff.get_or_insert_with(|| format!("{table} on {} at {}: {detail}", hosts.join(","), rec.label));
        }
    }
    let fatal = records.iter().find(|r| r.kind.is_fatal());
    let compared = records.iter().any(|r| r.kind == Kind::Compared);
    let mysqltest_failed = code != Some(0) && code != Some(MYSQLTEST_SKIP);
    let mut error_parts: Vec<String> = Vec::new();
    let outcome = if let Some(f) = fatal {
        error_parts.push(format!("{} at {}", f.error, f.label));
        Outcome::Stop
    } else if let Some(d) = first_diff {
        let tables: BTreeSet<&str> = differing
            .iter()
            .map(|t| t.split_once('@').map_or(t.as_str(), |(table, _)| table))
            .collect();
        let known = native_divergence(&tc.id(), &tables.into_iter().collect::<Vec<_>>());
        if let Some(why) = known {
            error_parts.push(format!("MariaDB's own replica diverges too: {why}"));
        }
        error_parts.push(d);
        if mysqltest_failed {
            error_parts.push(format!("mysqltest: {}", error_lines(output)));
        }
        if known.is_some() {
            Outcome::NativeDiverges
        } else {
            Outcome::Differ
        }
    } else if code == Some(MYSQLTEST_SKIP) {
        error_parts.push(skip_reason(output));
        Outcome::Skipped
    } else if mysqltest_failed || !compared {
        error_parts.push(error_lines(output));
        if !compared {
            let why: Vec<&str> = records
                .iter()
                .map(|r| r.error.as_str())
                .filter(|e| !e.is_empty())
                .collect();
            error_parts.push(format!("no checkpoint compared the tables: {}", why.join("; ")));
        }
        Outcome::MysqltestError
    } else {
        Outcome::Clean
    };
    error_parts.extend(notes.iter().cloned());
    let mut r = TestResult::new(tc, outcome, error_parts.join(" | "));
    r.tables = tables.len();
    r.differing = differing.into_iter().collect();
    r
}

/// The primary's global variables that a test may leave changed.
/// Whether a checkpoint touched the topology's busy file in the last ten
/// seconds (it does every five while it waits for a busy replica).
fn checkpoint_busy(topo: &super::topology::Topology) -> bool {
    let fresh = |t: std::time::SystemTime| t.elapsed().is_ok_and(|age| age < Duration::from_secs(10));
    std::fs::metadata(topo.busy_file())
        .and_then(|m| m.modified())
        .is_ok_and(fresh)
}

async fn globals(deploy: &Deploy) -> Vec<Vec<String>> {
    deploy
        .primary()
        .query(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES \
             WHERE VARIABLE_NAME NOT LIKE 'GTID%' AND VARIABLE_NAME NOT IN \
             ('TIMESTAMP','LAST_INSERT_ID','INSERT_ID','PSEUDO_THREAD_ID','RAND_SEED1','RAND_SEED2','WARNING_COUNT','ERROR_COUNT', \
             'IDENTITY','LAST_GTID','SERVER_UID','IN_TRANSACTION','INNODB_BUFFER_POOL_LOAD_NOW','INNODB_BUFFER_POOL_DUMP_NOW') \
             ORDER BY 1",
        )
        .await
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc() -> TestCase {
        TestCase {
            suite: "main".into(),
            name: "t".into(),
            path: "/x/t.test".into(),
            suite_dir: "/x".into(),
        }
    }

    fn rec(kind: Kind, diffs: usize) -> Record {
        Record {
            label: "end of test".into(),
            kind,
            tables: vec!["test.t1".into()],
            differences: (0..diffs)
                .map(|i| (format!("test.t{i}"), vec!["host2.alpha".into()], "rows differ".into()))
                .collect(),
            error: if matches!(kind, Kind::Stop) {
                "host2.alpha is OFFLINE:ERROR".into()
            } else {
                String::new()
            },
            skipped_tables: vec![],
        }
    }

    #[test]
    fn the_vardir_gets_a_copy_of_std_data() {
        let base = tempfile::tempdir().expect("tempdir");
        let var = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(base.path().join("std_data/sub")).expect("mkdir");
        std::fs::write(base.path().join("std_data/words.dat"), "Aarhus\n").expect("write");
        std::fs::write(base.path().join("std_data/sub/x.txt"), "x").expect("write");
        prepare_vardir(base.path(), var.path()).expect("copies");
        assert_eq!(
            std::fs::read_to_string(var.path().join("std_data/words.dat")).expect("copied"),
            "Aarhus\n"
        );
        assert!(var.path().join("std_data/sub/x.txt").is_file());
        assert!(prepare_vardir(&base.path().join("missing"), var.path()).is_err());
    }

    #[test]
    fn outcomes_follow_the_checkpoints_then_mysqltest() {
        let t = tc();
        assert_eq!(
            classify(&t, &[rec(Kind::Compared, 0)], Some(0), "", &[]).outcome,
            Outcome::Clean
        );
        let d = classify(
            &t,
            &[rec(Kind::Compared, 1)],
            Some(1),
            "mysqltest: At line 3: failed",
            &[],
        );
        assert_eq!(d.outcome, Outcome::Differ);
        assert!(d.error.contains("test.t0 on host2.alpha"), "{}", d.error);
        assert!(d.error.contains("mysqltest:"), "{}", d.error);
        let s = classify(&t, &[rec(Kind::Compared, 1), rec(Kind::Stop, 0)], Some(1), "", &[]);
        assert_eq!(s.outcome, Outcome::Stop);
        assert!(s.error.contains("OFFLINE:ERROR"));
        assert_eq!(
            classify(
                &t,
                &[rec(Kind::Compared, 0)],
                Some(1),
                "mysqltest: At line 9: query 'x' failed",
                &[]
            )
            .outcome,
            Outcome::MysqltestError
        );
        assert_eq!(
            classify(&t, &[rec(Kind::Compared, 0)], Some(62), "skipped: needs debug", &[]).outcome,
            Outcome::Skipped
        );
        // Nothing compared is never clean.
        assert_eq!(
            classify(&t, &[rec(Kind::Skipped, 0)], Some(0), "", &[]).outcome,
            Outcome::MysqltestError
        );
    }
}

//! The conformance runner (issue 8): replays MariaDB's regression tests on
//! a sandbox primary while the project's replicators replicate to a slave
//! and through a relay to a slave of the relay, and reports every
//! difference. With `--native`, MariaDB's own replication replicates in
//! the same shape instead (the oracle: what differs there is MariaDB's).
//! See `tests::conformance` and the README's "Conformance".
//!
//! ```text
//! conformance [--native] [--binlog-format row|mixed] [--ci] [--full] [--suite S[,S]]...
//!             [--test [SUITE.]NAME]... [--sample N] [--list] [--keep] [--timeout SECS]
//!             [--wait SECS] [--tsv FILE] [--work DIR] [--basedir DIR]
//! conformance checkpoint LABEL     (run by mysqltest through --exec)
//! conformance on-replicas ERRNO SQL (likewise: a plugin statement on every replica)
//! ```
//!
//! `--binlog-format` is every server's binlog format (ROW by default);
//! STATEMENT is not offered, since the master replicator refuses a
//! STATEMENT-format source by design. A deployment is built when a test
//! needs one: from scratch for the first test, after a test that left the
//! servers changed, and, with the test's options from the start, for a
//! test whose options rename the binlog (`tests::conformance::options`).
//!
//! Exit status: 0 when no test differs or stops, 1 when one does, 2 when
//! the runner itself cannot work (bad arguments, no tests, no deployment).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tests::conformance::catalog::TestCase;
use tests::conformance::catalog::{self, Selection};
use tests::conformance::checkpoint;
use tests::conformance::deploy::{Deploy, Settings};
use tests::conformance::on_replicas;
use tests::conformance::options::{BinlogFormat, ServerSetup};
use tests::conformance::report;
use tests::conformance::run::{prepare_vardir, run_test, Outcome, RunOptions, TestResult};
use tests::conformance::topology::{Mode, Topology};

const USAGE: &str = "usage: conformance [--native] [--binlog-format row|mixed] [--ci] [--full] [--suite S[,S]]... \
[--test [SUITE.]NAME]... [--sample N] [--list] [--keep] [--timeout SECS] [--wait SECS] [--tsv FILE] [--work DIR] \
[--basedir DIR]
  --binlog-format: every server's binlog format, row (default) or mixed; statement is not offered (the master \
replicator refuses a STATEMENT-format source by design)";

#[derive(Debug)]
struct Args {
    mode: Mode,
    format: BinlogFormat,
    sel: Selection,
    list: bool,
    keep: bool,
    timeout: Duration,
    wait: Duration,
    tsv: Option<PathBuf>,
    work: Option<PathBuf>,
    basedir: PathBuf,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        mode: Mode::Tungsten,
        format: BinlogFormat::Row,
        sel: Selection::default(),
        list: false,
        keep: false,
        timeout: Duration::from_secs(300),
        wait: Duration::from_secs(60),
        tsv: None,
        work: None,
        basedir: PathBuf::from(catalog::DEFAULT_BASEDIR),
    };
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let secs = |name: &str, v: String| -> Result<Duration, String> {
            v.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{name} {v:?}: want a number of seconds"))
        };
        if matches!(key, "--native" | "--ci" | "--full" | "--list" | "--keep") && inline.is_some() {
            return Err(format!("{key} takes no value\n{USAGE}"));
        }
        match key {
            "--native" => a.mode = Mode::Native,
            "--binlog-format" => {
                a.format = BinlogFormat::parse(&value("--binlog-format")?).map_err(|e| format!("{e}\n{USAGE}"))?
            }
            "--ci" => a.sel.ci = true,
            "--full" => a.sel.full = true,
            "--list" => a.list = true,
            "--keep" => a.keep = true,
            "--suite" => a.sel.suites.extend(
                value("--suite")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            ),
            "--test" => a
                .sel
                .tests
                .extend(value("--test")?.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
            "--sample" => {
                let v = value("--sample")?;
                a.sel.sample = Some(
                    v.parse()
                        .map_err(|_| format!("--sample {v:?}: want a number of tests"))?,
                );
            }
            "--timeout" => a.timeout = secs("--timeout", value("--timeout")?)?,
            "--wait" => a.wait = secs("--wait", value("--wait")?)?,
            "--tsv" => a.tsv = Some(value("--tsv")?.into()),
            "--work" => a.work = Some(value("--work")?.into()),
            "--basedir" => a.basedir = value("--basedir")?.into(),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(a)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("checkpoint") {
        return checkpoint_main(argv.get(1).map(String::as_str).unwrap_or("checkpoint")).await;
    }
    if argv.first().map(String::as_str) == Some("on-replicas") {
        return match (argv.get(1), argv.get(2), argv.len()) {
            (Some(errno), Some(sql), 3) => on_replicas_main(errno, sql).await,
            _ => {
                eprintln!("usage: conformance on-replicas ERRNO SQL (one argument each; run by mysqltest)");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// The checkpoint subcommand: exit 0 to let the test go on, 3 to stop it.
async fn checkpoint_main(label: &str) -> ExitCode {
    let topo = match Topology::from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("conformance checkpoint: {e}");
            return ExitCode::from(2);
        }
    };
    let rec = checkpoint::run(&topo, label).await;
    if let Err(e) = checkpoint::append(&topo, &rec) {
        eprintln!(
            "conformance checkpoint: cannot record to {}: {e}",
            topo.results.display()
        );
        return ExitCode::from(2);
    }
    if rec.kind.is_fatal() {
        eprintln!("conformance checkpoint {label}: {}", rec.error);
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}

/// The on-replicas subcommand: exit 0 to let the test go on, 3 to stop it
/// (a replica refused the statement).
async fn on_replicas_main(errno: &str, sql: &str) -> ExitCode {
    let topo = match Topology::from_env() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("conformance on-replicas: {e}");
            return ExitCode::from(2);
        }
    };
    match on_replicas::run(&topo, errno, sql).await {
        Ok(lines) => {
            for l in lines {
                println!("conformance on-replicas: {l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("conformance on-replicas: {e}");
            ExitCode::from(3)
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let tests = catalog::select(&args.basedir, &args.sel).map_err(|e| e.to_string())?;
    if tests.is_empty() {
        return Err("the selection holds no test".into());
    }
    if args.list {
        println!("# {} tests, {}", tests.len(), report::describe(args.mode, args.format));
        for t in &tests {
            println!("{}", list_line(t, args.format));
        }
        return Ok(true);
    }
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("tungsten-conformance-{}", std::process::id())));
    if work.exists() && std::fs::read_dir(&work).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(format!(
            "{} exists and is not empty: choose another --work",
            work.display()
        ));
    }
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let tsv = args.tsv.clone().unwrap_or_else(|| work.join("conformance.tsv"));
    // The servers' data directories must lie inside $MYSQLTEST_VARDIR
    // (mysqltest's file commands refuse other paths): the sandbox roots go
    // to $TMPDIR, so it becomes the vardir; the template cache stays shared.
    let vardir = work.join("var");
    std::fs::create_dir_all(&vardir).map_err(|e| format!("{}: {e}", vardir.display()))?;
    if std::env::var_os("TUNGSTEN_SANDBOX_CACHE").is_none() {
        std::env::set_var(
            "TUNGSTEN_SANDBOX_CACHE",
            std::env::temp_dir().join("tungsten-mariadb-templates"),
        );
    }
    std::env::set_var("TMPDIR", &vardir);
    prepare_vardir(&args.basedir, &vardir)?;
    let opts = RunOptions {
        basedir: args.basedir.clone(),
        vardir: vardir.clone(),
        work: work.join("tests"),
        timeout: args.timeout,
    };
    println!(
        "== {} tests, {}; work directory {} (per-test files of tests not clean are kept, everything with --keep); TSV {}",
        tests.len(),
        report::describe(args.mode, args.format),
        work.display(),
        tsv.display()
    );
    let mut generation = 0;
    let std_data = vardir.join("std_data");
    // The deployment is built when a test needs one (module doc); `stale`:
    // the last test left it changed, the next test gets a fresh one (a
    // stale one is still what --keep keeps at the end).
    let mut deploy: Option<Deploy> = None;
    let mut stale = false;
    let mut results = Vec::new();
    for tc in &tests {
        let r = if let Some(reason) = tc.refused() {
            TestResult::refused(tc, reason)
        } else {
            let settings = settings_for(tc, args.format);
            let reusable = deploy.as_ref().is_some_and(|d| !stale && *d.settings() == settings);
            let mut failed_start = None;
            if !reusable {
                // A replaced deployment's files go (its THL and catalog
                // would fill the disk over a suite; the logs of a stop
                // were printed with the test's line).
                if let Some(old) = deploy.take() {
                    let root = old.root().to_path_buf();
                    drop(old);
                    let _ = std::fs::remove_dir_all(root);
                }
                stale = false;
                match start(&work, &mut generation, args.wait, args.mode, &std_data, &settings).await {
                    Ok(d) => deploy = Some(d),
                    // A deployment built for the test's own options that
                    // does not start fails that test, not the run.
                    Err(e) if !settings.primary.is_empty() => failed_start = Some(e),
                    Err(e) => return Err(e),
                }
            }
            match (deploy.as_mut(), failed_start) {
                (Some(d), None) => run_test(d, tc, &opts).await,
                (_, e) => TestResult::failed_start(tc, e.unwrap_or_default()),
            }
        };
        println!("{}", report::line(&r));
        if let (Some(d), Outcome::Stop) = (&deploy, r.outcome) {
            let what = match args.mode {
                Mode::Tungsten => "replicator logs",
                Mode::Native => "replica error logs",
            };
            println!("   {what}:\n{}", indent(&d.replicator_logs(4)));
        }
        let ran = r.outcome != Outcome::Refused;
        stale |= r.needs_rebuild;
        results.push(r);
        let _ = report::write_tsv(&tsv, &results, args.mode, args.format);
        if let (Some(d), true, false) = (&deploy, ran, stale) {
            if let Err(e) = d.clean().await {
                println!("   cleaning after the test failed ({e}); rebuilding the deployment");
                stale = true;
            }
        }
    }
    report::write_tsv(&tsv, &results, args.mode, args.format).map_err(|e| format!("{}: {e}", tsv.display()))?;
    println!("\n{}", report::summary(&results, args.mode, args.format));
    println!("TSV: {}", tsv.display());
    let ok = !results
        .iter()
        .any(|r| matches!(r.outcome, Outcome::Differ | Outcome::Stop));
    let Some(mut deploy) = deploy else {
        if args.keep {
            println!("== --keep: no deployment ran (every test was refused)");
        }
        return Ok(ok);
    };
    if args.keep {
        let data = deploy.sandbox.keep_files();
        if stale {
            println!(
                "== --keep: the deployment is kept as the last test left it (it would be rebuilt before another test)"
            );
        }
        match deploy.deployment() {
            Some(d) => println!(
                "== --keep: the last deployment runs until Ctrl-C: {} (ini {}, hosts {}); MariaDB data in {}; per-test files in {}",
                deploy.root().display(),
                d.ini().display(),
                d.hosts_file().display(),
                data.display(),
                opts.work.display()
            ),
            None => println!(
                "== --keep: the last deployment (native replication) runs until Ctrl-C: {}; MariaDB data (sockets) in {}; per-test files in {}",
                deploy.root().display(),
                data.display(),
                opts.work.display()
            ),
        }
        let _ = tokio::signal::ctrl_c().await;
    } else {
        drop(deploy);
        // The per-test files (rewritten test, mysqltest log, checkpoints)
        // are small: kept for the tests that were not clean.
        for r in results.iter().filter(|r| r.outcome == Outcome::Clean) {
            let _ = std::fs::remove_dir_all(opts.work.join(format!("{}.{}", r.suite, r.test)));
        }
        for g in 1..=generation {
            let _ = std::fs::remove_dir_all(work.join(format!("deploy-{g}")));
        }
        // The copy of std_data (16 MB) is the installed suite's.
        let _ = std::fs::remove_dir_all(vardir.join("std_data"));
    }
    Ok(ok)
}

async fn start(
    work: &std::path::Path,
    generation: &mut usize,
    wait: Duration,
    mode: Mode,
    std_data: &std::path::Path,
    settings: &Settings,
) -> Result<Deploy, String> {
    *generation += 1;
    let root = work.join(format!("deploy-{generation}"));
    Deploy::start(&root, wait, mode, std_data, settings)
        .await
        .map_err(|e| format!("cannot start the deployment in {}: {e}", root.display()))
}

/// The deployment a test needs: the run's format, the test's options
/// from the start when they rename the binlog (the primary is then a new
/// source, `tests::conformance::options`), and the replicas' default engine
/// when the test sets the primary's.
fn settings_for(tc: &TestCase, format: BinlogFormat) -> Settings {
    Settings {
        format,
        primary: match tc.renames_binlog() {
            Some(_) => ServerSetup::from_options(&tc.server_options()),
            None => ServerSetup::default(),
        },
        replica_engine: tc.engine_set(),
    }
}

/// A `--list` line: the test, and why it is refused, or which deployment
/// it gets, or that it will skip itself under the run's format.
fn list_line(t: &TestCase, format: BinlogFormat) -> String {
    if let Some(r) = t.refused() {
        return format!("{}\trefused: {r}", t.id());
    }
    let mut notes = Vec::new();
    if let Some(o) = t.renames_binlog() {
        notes.push(format!(
            "fresh deployment with the test's options ({o} renames the binlog)"
        ));
    }
    if let Some(engine) = t.engine_set() {
        notes.push(format!(
            "replicas default to engine {engine} (the test sets the primary's default_storage_engine, which no \
             binlog carries)"
        ));
    }
    if let Some(formats) = t.formats_accepted().filter(|f| !f.contains(&format.as_str())) {
        notes.push(format!(
            "skips itself under binlog_format={format} (accepts {})",
            formats.join(", ")
        ));
    }
    if notes.is_empty() {
        t.id()
    } else {
        format!("{}\t{}", t.id(), notes.join("; "))
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("   {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod argument_tests {
    use super::*;

    fn args(a: &[&str]) -> Result<Args, String> {
        parse_args(&a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn native_selects_the_oracle_mode_and_tungsten_is_the_default() {
        let a = args(&["--test", "sql_sequence.default", "--native", "--wait=30"]).expect("parses");
        assert_eq!(a.mode, Mode::Native);
        assert_eq!(a.sel.tests, vec!["sql_sequence.default".to_owned()]);
        assert_eq!(a.wait, Duration::from_secs(30));
        let d = args(&["--ci"]).expect("parses");
        assert_eq!(d.mode, Mode::Tungsten);
        assert!(d.sel.ci);
        assert!(args(&["--native=yes"]).is_err(), "--native takes no value");
        assert!(args(&["--nativ"]).is_err());
    }

    #[test]
    fn binlog_format_is_row_by_default_mixed_on_demand_never_statement() {
        assert_eq!(args(&["--ci"]).expect("parses").format, BinlogFormat::Row);
        assert_eq!(
            args(&["--binlog-format", "mixed", "--native"]).expect("parses").format,
            BinlogFormat::Mixed
        );
        assert_eq!(
            args(&["--binlog-format=ROW"]).expect("parses").format,
            BinlogFormat::Row
        );
        let e = args(&["--binlog-format", "statement"]).expect_err("refused");
        assert!(e.contains("by design"), "{e}");
        assert!(args(&["--binlog-format"]).is_err(), "needs a value");
    }
}

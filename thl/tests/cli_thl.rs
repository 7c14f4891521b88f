//! Runs the built `thl` binary against logs written through the store API.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use thl::seqno::{Epoch, Seqno};

use thl::event::{
    Change, ColumnSpec, EventBody, EventHeader, ReplEvent, RowAction, RowChanges, RowImage, SessionVars, Statement,
    Value,
};
use thl::store::{StoreConfig, SyncPolicy, Writer};

fn header(seqno: i64, fragno: u16, last_frag: bool) -> EventHeader {
    EventHeader {
        seqno: Seqno(seqno),
        seqno_end: Seqno(seqno),
        fragno,
        last_frag,
        epoch: Epoch(0),
        source_id: "host1.alpha".into(),
        event_id: format!("mysql-bin.000002:{:016};17", 1000 + seqno),
        shard_id: "test".into(),
        source_tstamp_ms: 1_795_687_872_000 + seqno * 1000,
        extract_tstamp_ms: 1_795_687_872_000 + seqno * 1000 + 5,
    }
}

fn columns() -> Vec<ColumnSpec> {
    let c = |index: u16, name: &str, type_code: u8, key: bool, collation: Option<u16>| ColumnSpec {
        nullable: !key,
        key,
        collation,
        ..ColumnSpec::of_type(index, name, type_code)
    };
    vec![
        c(0, "id", 3, true, None),
        c(1, "name", 15, false, Some(45)),
        c(2, "data", 252, false, Some(63)),
    ]
}

fn insert(seqno: i64) -> Change {
    Change::Rows(RowChanges {
        schema: "test".into(),
        table: "t".into(),
        action: RowAction::Insert,
        columns: columns(),
        before_columns: vec![],
        after_columns: vec![0, 1, 2],
        flags: thl::event::RowFlags::default(),
        rows: vec![RowImage {
            before: vec![],
            after: vec![
                Value::Int(seqno),
                Value::Bytes(format!("row{seqno}").into_bytes()),
                Value::Bytes(vec![0, 0xff]),
            ],
        }],
    })
}

fn event(seqno: i64) -> ReplEvent {
    let changes = if seqno == 0 {
        vec![Change::Statement(Statement {
            default_db: Some("test".into()),
            sql: b"CREATE TABLE t (id int primary key, name varchar(20), data blob)".to_vec(),
            session: SessionVars {
                timestamp_us: Some(1_795_687_872_000_000),
                autocommit: Some(true),
                ..SessionVars::default()
            },
            error_code: 0,
            infile: None,
        })]
    } else {
        vec![insert(seqno)]
    };
    ReplEvent {
        header: header(seqno, 0, true),
        body: EventBody {
            metadata: vec![
                ("mysql_server_id".into(), "1".into()),
                ("dbms_type".into(), "mysql".into()),
            ],
            changes,
        },
    }
}

fn cfg(dir: &Path, file_size: u64) -> StoreConfig {
    let mut c = StoreConfig::new(dir);
    c.file_size = file_size;
    c.sync = SyncPolicy::Never;
    c
}

/// The events the standard log holds: seqnos 0..=9 where 5 has two
/// fragments and 10..=12 is a filtered range; files rotate about every two
/// transactions.
fn expected_events() -> Vec<ReplEvent> {
    let mut evs = Vec::new();
    for s in 0..10 {
        if s == 5 {
            let mut a = event(5);
            a.header.last_frag = false;
            let mut b = event(5);
            b.header.fragno = 1;
            evs.push(a);
            evs.push(b);
        } else {
            evs.push(event(s));
        }
    }
    let mut f = event(10);
    f.header.seqno_end = Seqno(12);
    f.body = EventBody::default();
    evs.push(f);
    evs
}

fn write_log(dir: &Path) -> Vec<ReplEvent> {
    let evs = expected_events();
    let mut w = Writer::open(cfg(dir, 300)).expect("open writer");
    for e in &evs {
        w.append_event(e).expect("append");
        if e.header.last_frag {
            w.commit().expect("commit");
        }
    }
    drop(w);
    evs
}

fn log() -> (tempfile::TempDir, PathBuf, Vec<ReplEvent>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("thl").join("alpha");
    let evs = write_log(&dir);
    (tmp, dir, evs)
}

fn thl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_thl"))
        .args(args)
        .env_remove("TUNGSTEN_INI")
        .output()
        .expect("run thl")
}

fn thl_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_thl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn thl");
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait thl")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn d(dir: &Path) -> &str {
    dir.to_str().expect("utf-8 temp path")
}

fn seq_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("SEQ# = "))
        .map(str::to_string)
        .collect()
}

#[test]
fn list_default_layout() {
    let (_t, dir, _) = log();
    let out = ok(&thl(&["list", "-dir", d(&dir), "-seqno", "3"]));
    assert_eq!(
        out,
        "\
SEQ# = 3 / FRAG# = 0 (last frag)
- TIME = 2026-11-26 10:11:15.0
- EPOCH# = 0
- EVENTID = mysql-bin.000002:0000000000001003;17
- SOURCEID = host1.alpha
- METADATA = [mysql_server_id=1;dbms_type=mysql;shard=test]
- TYPE = com.continuent.tungsten.replicator.event.ReplDBMSEvent
- SQL(0) =
 - ACTION = INSERT
 - SCHEMA = test
 - TABLE = t
 - ROW# = 0
  - COL(1: id) = 3
  - COL(2: name) = row3
  - COL(3: data) = x'00ff'
"
    );
    let all = ok(&thl(&["list", "-dir", d(&dir)]));
    assert_eq!(seq_lines(&all).len(), 12);
    assert!(all.contains("SEQ# = 5 / FRAG# = 0\n") && all.contains("SEQ# = 5 / FRAG# = 1 (last frag)\n"));
    assert!(all.contains("- SQL(0) = CREATE TABLE t"));
    assert!(all.contains("## Filtered events ## seqno 10..=12 (3 events)"));
    // A seqno inside the filtered range shows the range record.
    let inside = ok(&thl(&["list", "-dir", d(&dir), "-seqno", "11"]));
    assert_eq!(seq_lines(&inside), ["SEQ# = 10 / FRAG# = 0 (last frag)"]);
}

#[test]
fn list_ranges_single_and_double_dash() {
    let (_t, dir, _) = log();
    let single = ok(&thl(&["list", "-dir", d(&dir), "-low", "2", "-high", "4"]));
    let double = ok(&thl(&["--dir", d(&dir), "list", "--low", "2", "--high", "4"]));
    let aliases = ok(&thl(&["list", "-from", "2", "-to=4", "-dir", d(&dir)]));
    assert_eq!(single, double);
    assert_eq!(single, aliases);
    assert_eq!(
        seq_lines(&single),
        [
            "SEQ# = 2 / FRAG# = 0 (last frag)",
            "SEQ# = 3 / FRAG# = 0 (last frag)",
            "SEQ# = 4 / FRAG# = 0 (last frag)"
        ]
    );
    let tail = ok(&thl(&["list", "-dir", d(&dir), "-low", "9"]));
    assert_eq!(seq_lines(&tail).len(), 2);
    let missing = thl(&["list", "-dir", d(&dir), "-seqno", "99"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("seqno 99 is not in the THL"),
        "{}",
        stderr(&missing)
    );
    let bad = thl(&["list", "-dir", d(&dir), "-low", "5", "-high", "2"]);
    assert_eq!(bad.status.code(), Some(2));
    let conflict = thl(&["list", "-dir", d(&dir), "-seqno", "1", "-low", "2"]);
    assert_eq!(conflict.status.code(), Some(2));
}

#[test]
fn list_headers_tsv_and_json() {
    let (_t, dir, evs) = log();
    let out = ok(&thl(&["list", "-dir", d(&dir), "-headers", "-no-checksum"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), evs.len());
    assert_eq!(
        lines[0],
        "0\t0\t0\ttrue\t2026-11-26 10:11:12.0\tmysql-bin.000002:0000000000001000;17\thost1.alpha\ttest"
    );
    assert!(lines[5].starts_with("5\t0\t0\tfalse\t"));
    assert!(lines[11].ends_with("\tfiltered 10-12"));

    let out = ok(&thl(&[
        "list",
        "-dir",
        d(&dir),
        "-headers",
        "-json",
        "-low",
        "4",
        "-high",
        "6",
    ]));
    let v: serde_json::Value = serde_json::from_str(&out).expect("a JSON array");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 4);
    assert_eq!(arr[0]["seqno"], 4);
    assert_eq!(arr[1]["frag"], 0);
    assert_eq!(arr[1]["lastFrag"], false);
    assert_eq!(arr[2]["frag"], 1);
    assert_eq!(arr[3]["eventId"], "mysql-bin.000002:0000000000001006;17");
    assert_eq!(arr[3]["sourceId"], "host1.alpha");
    assert_eq!(arr[3]["time"], "2026-11-26 10:11:18.0");
    assert_eq!(arr[3]["epoch"], 0);
    // Empty selection is still a valid array.
    let none = ok(&thl(&[
        "list",
        "-dir",
        d(&dir),
        "-headers",
        "-json",
        "-file",
        "thl.data.0000000001",
        "-low",
        "9",
    ]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&none).expect("json"),
        serde_json::json!([])
    );
}

#[test]
fn list_json_reads_back_as_events() {
    let (_t, dir, evs) = log();
    let out = ok(&thl(&["list", "-dir", d(&dir), "-json"]));
    let back: Vec<ReplEvent> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect();
    assert_eq!(back, evs);
}

#[test]
fn list_sql() {
    let (_t, dir, _) = log();
    let out = ok(&thl(&["list", "-dir", d(&dir), "-sql", "-high", "5"]));
    assert!(
        out.contains("USE `test`;\nSET @@session.autocommit=1;\nSET TIMESTAMP=1795687872;\nCREATE TABLE t"),
        "{out}"
    );
    assert!(out.contains("BEGIN;\nSET @@session.time_zone='+00:00';\nINSERT INTO `test`.`t` (`id`, `name`, `data`) VALUES (1, 'row1', x'00ff');\nCOMMIT;\n"), "{out}");
    // Seqno 5 has two fragments: one BEGIN, one COMMIT.
    let five = ok(&thl(&["list", "-dir", d(&dir), "-sql", "-seqno", "5"]));
    assert_eq!(five.matches("BEGIN;").count(), 1);
    assert_eq!(five.matches("COMMIT;").count(), 1);
    assert_eq!(five.matches("INSERT INTO").count(), 2);
    assert!(out.lines().all(|l| !l.starts_with("SEQ#")));
}

#[test]
fn list_file_info_and_index() {
    let (_t, dir, _) = log();
    let index = ok(&thl(&["index", "-dir", d(&dir)]));
    let entries: Vec<&str> = index.lines().collect();
    assert!(entries.len() >= 3, "{index}");
    assert!(
        entries[0].starts_with("LogIndexEntry thl.data.0000000001(0:"),
        "{index}"
    );
    assert!(entries.last().is_some_and(|l| l.ends_with(":12)")), "{index}");
    // -file lists exactly the seqnos of that file.
    let second = entries[1];
    let range = second
        .trim_start_matches("LogIndexEntry thl.data.0000000002(")
        .trim_end_matches(')');
    let (first, last) = range.split_once(':').expect("range");
    let (first, last): (i64, i64) = (first.parse().expect("first"), last.parse().expect("last"));
    for file_arg in [
        "thl.data.0000000002",
        &dir.join("thl.data.0000000002").display().to_string(),
        "2",
    ] {
        let out = ok(&thl(&["list", "-dir", d(&dir), "-file", file_arg, "-headers"]));
        let seqnos: Vec<i64> = out
            .lines()
            .map(|l| l.split('\t').next().and_then(|s| s.parse().ok()).expect("seqno"))
            .collect();
        assert_eq!(seqnos.first(), Some(&first), "{out}");
        assert_eq!(seqnos.last(), Some(&last), "{out}");
    }
    let bad = thl(&["list", "-dir", d(&dir), "-file", "nonsense"]);
    assert_eq!(bad.status.code(), Some(2));
    let absent = thl(&["list", "-dir", d(&dir), "-file", "thl.data.0000000099"]);
    assert_eq!(absent.status.code(), Some(1));

    let info = ok(&thl(&["info", "-dir", d(&dir)]));
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines[0], format!("log directory = {}", dir.display()));
    assert_eq!(lines[1], format!("log files = {}", entries.len()));
    assert!(
        lines[2].starts_with("logs size = 0.00 MB") || lines[2].starts_with("logs size = 0.0"),
        "{info}"
    );
    assert_eq!(&lines[3..6], ["min seq# = 0", "max seq# = 12", "events = 13"]);
    assert!(lines[6].starts_with("oldest file = thl.data.0000000001 ("), "{info}");
    assert!(lines[7].starts_with("newest file = thl.data.00000000"), "{info}");
}

#[test]
fn service_from_the_deployments_ini_with_the_host_named_by_its_address() {
    let t = tempfile::tempdir().expect("tempdir");
    let ini = t.path().join("tungsten.ini");
    let hosts = t.path().join("hosts");
    std::fs::write(
        &ini,
        format!(
            "[defaults]\ninstall-directory={}\n[alpha]\ntopology=clustered\nmaster=host1.alpha\n\
             members=host1.alpha,host2.alpha\n",
            t.path().display()
        ),
    )
    .expect("ini");
    std::fs::write(&hosts, "127.0.1.1 host1.alpha\n127.0.1.2 host2.alpha\n").expect("hosts");
    let deployment = control::config::Deployment::load(&ini, Some(&hosts)).expect("deployment");
    let plan = deployment.service_plan("host2.alpha").expect("plan");
    let evs = write_log(&plan.services[0].thl_dir);
    let (ini, hosts) = (ini.to_str().expect("utf-8"), hosts.to_str().expect("utf-8"));
    let by_address = [
        "-service",
        "alpha",
        "-config",
        ini,
        "-hosts-file",
        hosts,
        "-host",
        "127.0.1.2",
    ];
    let out = ok(&thl(&[&by_address[..], &["list", "-headers"]].concat()));
    assert_eq!(out.lines().count(), evs.len());
    let other = thl(&[
        "-service",
        "beta",
        "-config",
        ini,
        "-hosts-file",
        hosts,
        "-host",
        "host2.alpha",
        "info",
    ]);
    assert_eq!(other.status.code(), Some(2));
    assert!(stderr(&other).contains("runs no service 'beta'"), "{}", stderr(&other));
    let unknown = thl(&[
        "-service",
        "alpha",
        "-config",
        ini,
        "-hosts-file",
        hosts,
        "-host",
        "127.0.9.9",
        "info",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("by name or by address"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn service_and_usage_errors() {
    let (t, _dir, _) = log();
    let root = t.path().to_str().expect("utf-8");
    let out = ok(&thl(&["-service", "alpha", "-install-dir", root, "list", "-headers"]));
    assert_eq!(out.lines().count(), 12);
    let no_install = thl(&["-service", "alpha", "info"]);
    assert_eq!(no_install.status.code(), Some(2));
    assert!(stderr(&no_install).contains("-dir"), "{}", stderr(&no_install));
    let nothing = thl(&["info"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("-dir"));
    assert_eq!(thl(&["list", "-dir", root, "-bogus"]).status.code(), Some(2));
    assert_eq!(thl(&["frobnicate"]).status.code(), Some(2));
    let missing = thl(&["info", "-dir", &format!("{root}/nope")]);
    assert_eq!(missing.status.code(), Some(1));
    for cmd in ["list", "info", "index", "purge", "verify"] {
        let h = thl(&[cmd, "--help"]);
        assert_eq!(h.status.code(), Some(0), "{cmd}");
        assert!(stdout(&h).contains("Usage: thl"), "{cmd}");
    }
    let h = ok(&thl(&["help", "list"]));
    assert!(h.contains("-low") || h.contains("--low"));
    assert_eq!(thl(&["-help"]).status.code(), Some(0));
}

#[test]
fn verify_good_and_corrupted() {
    let (_t, dir, _) = log();
    let out = ok(&thl(&["verify", "-dir", d(&dir)]));
    assert!(out.starts_with("OK: "), "{out}");
    assert!(out.contains("12 bodies decoded, seqnos 0..=12"), "{out}");

    // Flip one byte inside a record of the second file.
    let path = dir.join("thl.data.0000000002");
    let mut bytes = std::fs::read(&path).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&path, &bytes).expect("write");
    let bad = thl(&["verify", "-dir", d(&dir)]);
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    let err = stderr(&bad);
    assert!(
        err.contains("verify FAILED") && err.contains("thl.data.0000000002") && err.contains("offset"),
        "{err}"
    );
    // list stops at the damage with the same kind of message.
    let listed = thl(&["list", "-dir", d(&dir), "-headers"]);
    assert_eq!(listed.status.code(), Some(1));
    assert!(stderr(&listed).contains("corrupt THL file"), "{}", stderr(&listed));
}

#[test]
fn undecodable_body_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("thl");
    {
        let mut w = Writer::open(cfg(&dir, 1 << 20)).expect("writer");
        w.append_event(&event(0)).expect("append");
        w.append(&header(1, 0, true), b"\x63not a body")
            .expect("append raw body");
        w.append_event(&event(2)).expect("append");
        w.commit().expect("commit");
    }
    let v = thl(&["verify", "-dir", d(&dir)]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        stderr(&v).contains("cannot decode the body of seqno 1"),
        "{}",
        stderr(&v)
    );
    let l = thl(&["list", "-dir", d(&dir)]);
    assert_eq!(l.status.code(), Some(1));
    let out = stdout(&l);
    assert!(
        out.contains("SEQ# = 1 / FRAG# = 0 (last frag)\n") && out.contains("- ERROR = "),
        "{out}"
    );
    assert!(out.contains("SEQ# = 2 / FRAG# = 0"), "{out}");
    // Headers need no body.
    ok(&thl(&["list", "-dir", d(&dir), "-headers"]));
}

#[test]
fn works_while_a_writer_is_active_and_purge_names_it() {
    let (_t, dir, _) = log();
    let mut w = Writer::open(cfg(&dir, 300)).expect("writer");
    // An open transaction: its first fragment is on disk, the last is not.
    let mut e = event(13);
    e.header.last_frag = false;
    w.append_event(&e).expect("append");
    w.commit().expect("commit");
    let out = ok(&thl(&["list", "-dir", d(&dir), "-headers"]));
    assert_eq!(out.lines().count(), 12, "{out}");
    ok(&thl(&["info", "-dir", d(&dir)]));
    ok(&thl(&["verify", "-dir", d(&dir)]));
    let p = thl(&["purge", "-dir", d(&dir), "-y"]);
    assert_eq!(p.status.code(), Some(1));
    let err = stderr(&p);
    assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
    assert!(err.contains("in use by another writer"), "{err}");
    drop(w);
}

#[test]
fn purge_confirm_and_yes() {
    let (_t, dir, _) = log();
    let files_before = std::fs::read_dir(&dir).expect("dir").count();
    let cancelled = thl_stdin(&["purge", "-dir", d(&dir), "-high", "3"], "n\n");
    assert_eq!(cancelled.status.code(), Some(1));
    assert!(stderr(&cancelled).contains("WARNING"), "{}", stderr(&cancelled));
    assert!(stderr(&cancelled).contains("cancelled"));
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), files_before);

    let yes = thl_stdin(&["purge", "-dir", d(&dir), "-high", "3"], "y\n");
    let out = ok(&yes);
    assert!(out.contains("Deleted thl.data.0000000001"), "{out}");
    let min = ok(&thl(&["info", "-dir", d(&dir)]));
    assert!(!min.contains("min seq# = 0\n"), "{min}");

    // -y skips the question; the range must touch an end of the log.
    let mid = thl(&["purge", "-dir", d(&dir), "-low", "6", "-high", "7", "-y"]);
    assert_eq!(mid.status.code(), Some(2), "{}", stderr(&mid));
    let top = ok(&thl(&["purge", "-dir", d(&dir), "--low", "9", "-y"]));
    assert!(
        top.contains("The THL now holds seqnos ") && top.contains("..=8"),
        "{top}"
    );
    let idx = ok(&thl(&["index", "-dir", d(&dir)]));
    assert!(idx.lines().last().is_some_and(|l| l.ends_with(":8)")), "{idx}");
    ok(&thl(&["verify", "-dir", d(&dir)]));
}

#[test]
fn empty_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = ok(&thl(&["info", "-dir", d(tmp.path())]));
    assert!(
        out.contains("log files = 0\n") && out.contains("min seq# = -1\n") && out.contains("events = 0\n"),
        "{out}"
    );
    assert_eq!(ok(&thl(&["list", "-dir", d(tmp.path())])), "");
    assert_eq!(ok(&thl(&["index", "-dir", d(tmp.path())])), "");
    assert!(ok(&thl(&["verify", "-dir", d(tmp.path())])).starts_with("OK: 0 files"));
}

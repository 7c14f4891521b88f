//! Cross-process behaviour (fault F7 and readers in other processes): a
//! writer in a child process holds the lock and a second writer fails naming
//! its pid; a reader in a child process follows a writer appending (with
//! rotations) through the files alone, by sleep-based waiting. The children
//! are this test binary re-run with an environment variable.

mod store_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thl::seqno::Seqno;

use store_support::*;
use thl::store::{Reader, StoreError, Writer};

const READER_ENV: &str = "THL_STORE_TEST_CHILD_READER";
const WRITER_ENV: &str = "THL_STORE_TEST_CHILD_WRITER";
const TXNS: i64 = 200;

fn spawn_child(test: &str, env: &str, dir: &std::path::Path) -> Child {
    Command::new(std::env::current_exe().expect("exe"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child")
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Child side: follow the log until transaction TXNS - 1 is read.
#[test]
fn child_reader() {
    let Some(dir) = std::env::var_os(READER_ENV) else {
        return;
    };
    let r = Reader::open(&dir).expect("reader");
    println!("READY");
    std::io::stdout().flush().expect("flush");
    assert!(r.wait_for(Seqno(0), LONG).expect("wait"), "no data");
    let mut c = r.cursor(Seqno(0)).expect("cursor");
    let mut next = 0;
    let mut frag = 0;
    while next < TXNS {
        let rec = c
            .next_timeout(LONG)
            .expect("next")
            .expect("timed out following the writer");
        let h = rec.header();
        assert_eq!((h.seqno.0, h.fragno), (next, frag), "order");
        assert_eq!(rec.body(), &body(h.seqno.0, h.fragno, 40)[..]);
        if h.last_frag {
            next += 1;
            frag = 0;
        } else {
            frag += 1;
        }
    }
    println!("CHILD-OK {next}");
}

/// Child side: hold the write lock until stdin closes.
#[test]
fn child_writer() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let _w = Writer::open(cfg(std::path::Path::new(&dir), 1 << 20)).expect("child writer");
    println!("LOCKED");
    std::io::stdout().flush().expect("flush");
    // Until stdin closes, at most 60 s (never hang a test run).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
        let _ = tx.send(());
    });
    let _ = rx.recv_timeout(Duration::from_secs(60));
}

#[test]
fn reader_in_another_process_follows_the_writer() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = Writer::open(cfg(dir.path(), 1500)).expect("open");
    let mut child = spawn_child("child_reader", READER_ENV, dir.path());
    // Start writing once the child is waiting on the empty log.
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    while !lines.last().is_some_and(|l: &String| l.contains("READY")) {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).expect("read") > 0,
            "child exited early: {lines:?}"
        );
        lines.push(line);
    }
    for s in 0..TXNS {
        append_txn(&mut w, s, (s % 3 + 1) as u16, 40);
        if s % 5 == 4 {
            w.commit().expect("commit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    w.commit().expect("commit");
    assert!(
        wait_with_timeout(&mut child, Duration::from_secs(60)),
        "child reader failed or timed out"
    );
    lines.extend(out.lines().map_while(Result::ok));
    assert!(
        lines.iter().any(|l| l.contains(&format!("CHILD-OK {TXNS}"))),
        "{lines:?}"
    );
    assert!(Reader::open(dir.path()).expect("r").info().expect("info").files.len() > 3);
}

#[test]
fn writer_in_another_process_blocks_a_second_writer() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = spawn_child("child_writer", WRITER_ENV, dir.path());
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    // The harness prints `test child_writer ... ` before the child's output.
    while !line.contains("LOCKED") {
        line.clear();
        assert!(
            out.read_line(&mut line).expect("read") > 0,
            "child exited before locking"
        );
    }
    let t = Instant::now();
    match Writer::open(cfg(dir.path(), 1 << 20)) {
        Err(StoreError::Locked { dir: d, pid }) => {
            assert_eq!(d, dir.path());
            assert_eq!(pid, Some(child.id()));
        }
        other => panic!("expected the lock error, got {other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(1), "must fail fast");
    drop(child.stdin.take()); // child exits, the kernel releases the lock
    assert!(wait_with_timeout(&mut child, Duration::from_secs(30)));
    Writer::open(cfg(dir.path(), 1 << 20)).expect("lock free after the holder exited");
}

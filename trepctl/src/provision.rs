//! `trepctl provision` and the `tprovision` tool: start a provision of this
//! node in its replicator (`POST .../service/NAME/provision`), then follow
//! it (`GET` of the same route every half second) with a progress bar of
//! the bytes copied against the source's data size, and print a summary.
//!
//! Invariants: the exit status is 0 only when the replicator reports the
//! provision `done`; every failure prints the replicator's reason (which
//! names the fix); the bar is drawn only on a terminal, otherwise one
//! progress line every 10 seconds goes to stderr.

use std::time::{Duration, Instant};

use control::requests::{ProvisionMethod, ProvisionRequest};
use control::responses::ProvisionStatus;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{Cli, ProvisionArgs};
use crate::commands::{failed, service_path, Session, DEFAULT_TIMEOUT};

const POLL: Duration = Duration::from_millis(500);
const LINE_EVERY: Duration = Duration::from_secs(10);

/// Runs one provision to its end.
pub fn provision(cli: &Cli, s: &Session, a: &ProvisionArgs) -> Result<String, String> {
    let method: ProvisionMethod = a.method.parse()?;
    let base = service_path(cli, s)?;
    let path = format!("{base}/provision");
    let req = ProvisionRequest {
        source: a.source.clone(),
        method,
        threads: a.threads,
        allow_primary: a.allow_primary,
        max_lag: a.max_lag,
    };
    s.post(&path, &req, DEFAULT_TIMEOUT).map_err(failed)?;
    let started = Instant::now();
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(new_bar);
    let mut last_line = Instant::now();
    let status = loop {
        std::thread::sleep(POLL);
        let st: ProvisionStatus = s.get(&path).map_err(failed)?.typed()?;
        match &bar {
            Some(bar) => draw(bar, &st),
            None if last_line.elapsed() >= LINE_EVERY => {
                eprintln!("tprovision: {}", line(&st));
                last_line = Instant::now();
            }
            None => {}
        }
        if st.finished() {
            break st;
        }
        if a.limit.is_some_and(|l| started.elapsed() > Duration::from_secs(l)) {
            return Err(format!(
                "gave up waiting after {} s: the provision goes on in the replicator ({}); GET {}{path} shows it",
                started.elapsed().as_secs(),
                line(&st),
                s.target.url
            ));
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match status.phase.as_str() {
        "done" => Ok(summary(&status)),
        "idle" => Err(format!(
            "the replicator at {} no longer knows the provision (it restarted?): the node stays OFFLINE; check \
             `trepctl status` and run tprovision again",
            s.target.url
        )),
        _ => Err(format!(
            "provision from {} failed in {:.0} s: {}",
            status.source,
            status.elapsed_seconds,
            status.error.as_deref().unwrap_or("no reason given")
        )),
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn draw(bar: &ProgressBar, st: &ProvisionStatus) {
    // The source's estimate may be below what the copy turns out to be.
    bar.set_length(st.expected_bytes.max(st.bytes));
    bar.set_position(st.bytes);
    bar.set_message(st.phase.clone());
}

fn mib(b: u64) -> f64 {
    b as f64 / (1 << 20) as f64
}

/// MiB copied per second so far.
fn rate(st: &ProvisionStatus) -> f64 {
    if st.elapsed_seconds > 0.0 {
        mib(st.bytes) / st.elapsed_seconds
    } else {
        0.0
    }
}

fn line(st: &ProvisionStatus) -> String {
    format!(
        "{}: {:.1} of ~{:.1} MiB from {} ({:.1} MiB/s, {:.0} s)",
        st.phase,
        mib(st.bytes),
        mib(st.expected_bytes),
        st.source,
        rate(st),
        st.elapsed_seconds
    )
}

fn summary(st: &ProvisionStatus) -> String {
    format!(
        "Provisioned by {} from {}: {:.1} MiB in {:.1} s ({:.1} MiB/s)\nPosition: {}\nThe service is ONLINE.\n",
        st.method,
        st.source,
        mib(st.bytes),
        st.elapsed_seconds,
        rate(st),
        st.position.as_deref().unwrap_or("unknown")
    )
}

//! The status page (`GET /` on a replicator's REST port) in a real browser:
//! headless Chromium (Debian's `chromium`) opens it over HTTPS, with the
//! ini's read-only user, on host1.alpha of the six-host composite cluster
//! (TLS on the THL and the REST API). Every host appears with its role and
//! ONLINE, alpha is the active site and beta's relay follows it; after the
//! relay is taken offline the page shows it OFFLINE:NORMAL.
//!
//! The screenshots and the DOM are kept under
//! `$CARGO_TARGET_DIR/test-artifacts/` (`status-page.png`,
//! `status-page-relay-offline.png`, and their `.html`).
//!
//! Run: `cargo test -p tests --test status_page -- --nocapture` (starts six
//! `mariadbd`, six replicators and Chromium). Chromium missing is a
//! failure, not a skip: `scripts/install-deps` installs it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::cluster::{deployment_certs, seed_ini, with_tls, Cluster, HOSTS};

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The read-only REST user the test's ini adds: the page needs no more.
const VIEWER: (&str, &str) = ("viewer", "look-only");
/// How long one Chromium run may take.
const BROWSER_WAIT: Duration = Duration::from_secs(60);
/// The host whose replicator serves the page.
const SERVER: &str = "host1.alpha";
const RELAY: &str = "host1.beta";

/// Where the screenshots and DOMs go: `$CARGO_TARGET_DIR/test-artifacts`.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("test-artifacts"), |t| t.join("test-artifacts"));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn chromium() -> &'static str {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test needs Debian's chromium package; run scripts/install-deps \
         (as root) or apt-get install chromium fonts-dejavu-core"
    );
    CHROMIUM
}

/// Runs headless Chromium on `url` with `args` (a fresh profile each
/// time), bounded by [`BROWSER_WAIT`]: its stdout. On a timeout the whole
/// process group it started is killed.
async fn browse(url: &str, args: &[String]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        // The deployment's CA is private (tests/src/tls.rs): Chromium would
        // refuse the replicator's certificate. The REST API's own checks of
        // it are tested by thl_tls.rs.
        "--ignore-certificate-errors",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(args)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    let pid = child.id();
    match tokio::time::timeout(BROWSER_WAIT, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            assert!(
                out.status.success(),
                "chromium failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
        Ok(Err(e)) => panic!("waiting for chromium: {e}"),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // SAFETY: kill(2) on the process group this test started
                // (process_group(0) made the child its leader).
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            panic!("chromium did not finish within {BROWSER_WAIT:?} on {url}");
        }
    }
}

/// One `<tr class="host" ...>` of the page: its data attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    host: String,
    service: String,
    role: String,
    state: String,
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}

/// The host rows of a DOM as Chromium serialised it.
fn rows(dom: &str) -> Vec<Row> {
    dom.match_indices("<tr class=\"host\"")
        .filter_map(|(at, _)| {
            let tag = &dom[at..at + dom[at..].find('>')?];
            Some(Row {
                host: attribute(tag, "data-host")?,
                service: attribute(tag, "data-service")?,
                role: attribute(tag, "data-role")?,
                state: attribute(tag, "data-state")?,
            })
        })
        .collect()
}

/// Loads the page until `done` holds for its rows (bounded): the DOM.
async fn page_until(url: &str, what: &str, done: impl Fn(&[Row]) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let dom = browse(url, &["--dump-dom".to_owned()]).await;
        if done(&rows(&dom)) {
            return dom;
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {what}; rows: {:#?}\n{dom}",
            rows(&dom)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Screenshot of `url` into `name` under [`artifacts`], and its DOM beside.
async fn keep(url: &str, name: &str, dom: &str) -> PathBuf {
    let png = artifacts().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    browse(
        url,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1400,1000".to_owned(),
        ],
    )
    .await;
    let size = std::fs::metadata(&png)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", png.display()))
        .len();
    assert!(size > 10_000, "{} is only {size} bytes", png.display());
    std::fs::write(artifacts().join(format!("{name}.html")), dom).expect("keep the DOM");
    println!("status page screenshot: {} ({size} bytes)", png.display());
    png
}

fn role_of(host: &str) -> &'static str {
    match host {
        "host1.alpha" => "master",
        RELAY => "relay",
        _ => "slave",
    }
}

/// Steady writes on the master for `secs` seconds, so that the charts'
/// samples (every 10 s) see transactions applied.
async fn load(cluster: &Cluster, secs: u64) {
    let mut conn = mysql_async::Conn::new(cluster.db(HOSTS[0]).root_opts())
        .await
        .expect("connect to the master");
    let until = Instant::now() + Duration::from_secs(secs);
    let mut i = 0;
    while Instant::now() < until {
        for _ in 0..5 {
            i += 1;
            conn.query_drop(format!("INSERT INTO app.page (id, v) VALUES ({i}, 'row {i}')"))
                .await
                .expect("write");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = conn.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_every_host_and_a_relay_going_offline() {
    chromium();
    let root = tempfile::tempdir().expect("tempdir");
    let certs = deployment_certs(root.path()).expect("certificates");
    let (user, password) = VIEWER;
    let mut cluster = Cluster::create_with_spares(root.path(), &HOSTS, &[], |port, _| {
        with_tls(&seed_ini(port), &certs).replacen(
            "[defaults]\n",
            &format!("[defaults]\nrest-api-readonly-user={user}\nrest-api-readonly-password={password}\n"),
            1,
        )
    })
    .await
    .expect("cluster");
    cluster.start_replicators().expect("replicators");
    for sql in [
        "CREATE DATABASE app",
        "CREATE TABLE app.page (id INT PRIMARY KEY, v VARCHAR(100))",
    ] {
        cluster.db(HOSTS[0]).exec(sql).await.expect(sql);
    }
    load(&cluster, 25).await;
    let seqno = cluster
        .wait_until_applied(Duration::from_secs(120))
        .await
        .expect("every host applies the load");
    println!("all six hosts applied seqno {seqno}");

    let url = format!("https://{user}:{password}@{}:8097/", cluster.db(SERVER).address());
    let dom = page_until(&url, "six hosts ONLINE", |rows| {
        rows.len() == HOSTS.len() && rows.iter().all(|r| r.state == "ONLINE")
    })
    .await;
    let found = rows(&dom);
    for host in HOSTS {
        let row = found
            .iter()
            .find(|r| r.host == host)
            .unwrap_or_else(|| panic!("{host} missing from the page: {found:#?}"));
        assert_eq!(row.role, role_of(host), "{row:?}");
        assert_eq!(row.service, tests::cluster::service_of(host), "{row:?}");
        assert_eq!(row.state, "ONLINE", "{row:?}");
    }
    // The topology: alpha has the master, beta's relay follows alpha.
    assert!(dom.contains("data-dataservice=\"alpha\" data-active=\"true\""), "{dom}");
    assert!(dom.contains("relay <b>host1.beta</b> follows <b>alpha</b>"), "{dom}");
    assert!(dom.contains("data-composite=\"gamma\""), "{dom}");
    assert!(!dom.contains("did not answer"), "{dom}");
    assert!(dom.contains("<svg class=\"chart\""), "{dom}");
    keep(&url, "status-page", &dom).await;

    // The relay goes offline: the page shows it.
    let (ok, out) = cluster
        .deployment
        .run_tool("trepctl", Some(RELAY), &["offline"])
        .expect("trepctl runs");
    assert!(ok, "relay offline:\n{out}");
    let dom = page_until(&url, "the relay OFFLINE:NORMAL", |rows| {
        rows.iter()
            .any(|r| r.host == RELAY && r.role == "relay" && r.state == "OFFLINE:NORMAL")
    })
    .await;
    let found = rows(&dom);
    assert_eq!(found.len(), HOSTS.len(), "{found:#?}");
    for r in found.iter().filter(|r| r.host != RELAY) {
        // Alpha goes on; beta's slaves lost their upstream and try again
        // (GOING-ONLINE:SYNCHRONIZING), which the page shows as it is.
        let fine = match r.service.as_str() {
            "alpha" => r.state == "ONLINE",
            _ => r.state == "ONLINE" || r.state == "GOING-ONLINE:SYNCHRONIZING",
        };
        assert!(fine, "only the relay went offline: {found:#?}");
    }
    keep(&url, "status-page-relay-offline", &dom).await;

    // Without credentials the browser gets the 401 and no page (headless
    // Chromium cancels the login prompt and shows nothing).
    let anonymous = format!("https://{}:8097/", cluster.db(SERVER).address());
    let dom = browse(&anonymous, &["--dump-dom".to_owned()]).await;
    assert!(rows(&dom).is_empty() && !dom.contains("Replication status"), "{dom}");
}

//! Fault F8, the network between a THL server and its client, end to end: a
//! master (MariaDB + `replicator`) and a slave (MariaDB + `replicator`)
//! whose upstream THL address is a [`FaultProxy`] in front of the master's
//! THL server. Under a steady load the proxy cuts, stalls (longer than the
//! client's heartbeat timeout), drips, and cuts connections mid-stream
//! (also mid-frame, while dripping); then it passes again and the slave must
//! catch up with nothing lost or duplicated, still ONLINE.
//!
//! How the slave is pointed at the proxy, without any replicator option: the
//! slave's upstream URI is `thl://host1.alpha:<thl-port>/`, resolved with the
//! slave's own hosts file. The master and the slave share one `tungsten.ini`
//! but get two deployments (two hosts files): the master's maps host1.alpha
//! to the master's loopback address, the slave's maps it to the proxy's
//! (another loopback address, same port).
//!
//! Run: `cargo test -p tests --test network_faults -- --test-threads=1`
//! (starts two `mariadbd` and two replicators; about 35 s). With
//! `NETWORK_FAULTS_KEEP=1` the deployment directory (replicator logs, THLs)
//! is kept and its path printed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tests::fault_proxy::{FaultProxy, Mode, Stats};
use tests::process::{read_thl, workspace_bin, Deployment, ReplicatorProcess};
use tests::sandbox::{loopback_specs, Instance, InstanceSpec, Sandbox, DEFAULT_PORT};

const MASTER: &str = "host1.alpha";
const SLAVE: &str = "host2.alpha";
const SERVICE: &str = "alpha";
const THL_PORT: u16 = 2112;
const TABLES: &[&str] = &["app.keyed", "app.ledger"];
/// How long the slave may take to catch up once the proxy passes again (a
/// reconnect after a long cut waits out the client's backoff, up to ~5 s).
const CATCH_UP: Duration = Duration::from_secs(40);
/// Set: keep the deployment directory (ini, hosts files, replicator logs,
/// THLs) after the test.
const KEEP_ENV: &str = "NETWORK_FAULTS_KEEP";
/// The longest a query on a sandbox database may take.
const QUERY_WAIT: Duration = Duration::from_secs(20);

fn ini(db_port: u16) -> String {
    format!(
        "[defaults]\n\
         replication-user=tungsten\n\
         replication-password=secret\n\
         replication-port={db_port}\n\
         thl-port={THL_PORT}\n\
         rest-api-admin-user=apiuser\n\
         rest-api-admin-password=secret\n\
         replicator-rest-api-address=0.0.0.0\n\
         [{SERVICE}]\n\
         topology=clustered\n\
         master={MASTER}\n\
         members={MASTER},{SLAVE}\n"
    )
}

/// The master, the slave and the proxy between them. Fields drop in this
/// order: the replicators (SIGKILL) and the proxy before the databases.
struct Rig {
    slave: ReplicatorProcess,
    master: ReplicatorProcess,
    proxy: FaultProxy,
    master_deployment: Deployment,
    slave_deployment: Deployment,
    sandbox: Sandbox,
    _root: tempfile::TempDir,
}

impl Rig {
    fn master_db(&self) -> &Instance {
        self.sandbox.get(MASTER)
    }

    fn slave_db(&self) -> &Instance {
        self.sandbox.get(SLAVE)
    }

    /// The last lines of both replicators' logs, for failure messages.
    fn logs(&self) -> String {
        format!(
            "--- master replicator ({MASTER}) log tail:\n{}\n--- slave replicator ({SLAVE}) log tail:\n{}\n--- proxy: {:?}",
            self.master.log_tail(40),
            self.slave.log_tail(60),
            self.proxy.stats()
        )
    }

    /// Panics (with the logs) if either replicator process has exited.
    fn assert_running(&mut self, when: &str) {
        let master = self.master.exited();
        let slave = self.slave.exited();
        if master.is_some() || slave.is_some() {
            panic!(
                "{when}: a replicator exited (master {master:?}, slave {slave:?})\n{}",
                self.logs()
            );
        }
    }

    /// `trepctl status` of the slave (its own ini and hosts file).
    fn slave_status(&self) -> (bool, String) {
        let bin = match workspace_bin("trepctl") {
            Ok(b) => b,
            Err(e) => return (false, e.to_string()),
        };
        match Command::new(bin)
            .arg("--config")
            .arg(self.slave_deployment.ini())
            .arg("--hosts-file")
            .arg(self.slave_deployment.hosts_file())
            .args(["-host", SLAVE, "status"])
            .output()
        {
            Ok(out) => (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            ),
            Err(e) => (false, format!("trepctl: {e}")),
        }
    }

    fn master_max_seqno(&self) -> Option<i64> {
        tests::process::thl_max_seqno(&self.master_deployment.thl_dir(MASTER, SERVICE))
    }

    async fn slave_applied_seqno(&self) -> Option<i64> {
        let sql = format!("SELECT MIN(seqno) FROM tungsten_{SERVICE}.trep_commit_seqno");
        self.value(self.slave_db(), &sql).await
    }

    /// The first value of `sql` on `db` as a number; `None` on an error.
    async fn value(&self, db: &Instance, sql: &str) -> Option<i64> {
        let v = self.bounded(db.query_value(sql), sql).await;
        v.ok().flatten().and_then(|v| v.parse().ok())
    }

    /// `fut`, or a panic with the logs after [`QUERY_WAIT`].
    async fn bounded<T>(&self, fut: impl std::future::Future<Output = T>, what: &str) -> T {
        match tokio::time::timeout(QUERY_WAIT, fut).await {
            Ok(v) => v,
            Err(_) => panic!("{what}: no answer within {QUERY_WAIT:?}\n{}", self.logs()),
        }
    }
}

/// The value of `name` in trepctl's `NAME : VALUE` output.
fn field(output: &str, name: &str) -> Option<String> {
    output.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim().to_owned())
    })
}

/// Starts a proxy on the first free address of `candidates` at `port`.
fn start_proxy(candidates: impl IntoIterator<Item = Ipv4Addr>, port: u16, upstream: SocketAddr) -> FaultProxy {
    let mut tried = Vec::new();
    for ip in candidates {
        match FaultProxy::start(SocketAddr::new(IpAddr::V4(ip), port), upstream) {
            Ok(p) => return p,
            Err(e) => tried.push(format!("{ip}:{port}: {e}")),
        }
    }
    panic!("no loopback address for the proxy: {tried:?}");
}

async fn start_rig() -> Rig {
    let mut specs = loopback_specs(2, DEFAULT_PORT).expect("two free loopback addresses");
    let slave_spec = InstanceSpec {
        name: SLAVE.into(),
        ..specs.remove(1)
    };
    let master_spec = InstanceSpec {
        name: MASTER.into(),
        ..specs.remove(0)
    };
    let (master_ip, slave_ip, db_port) = (master_spec.address, slave_spec.address, master_spec.port);
    let sandbox = Sandbox::start(vec![master_spec, slave_spec])
        .await
        .expect("sandbox starts");
    // The proxy: another address of the sandbox's /24, the THL port.
    let [a, b, c, _] = master_ip.octets();
    let proxy = start_proxy(
        (3..=250u8).map(|d| Ipv4Addr::new(a, b, c, d)),
        THL_PORT,
        SocketAddr::new(IpAddr::V4(master_ip), THL_PORT),
    );
    let proxy_ip = proxy.listen_addr().ip().to_string();

    let mut root = tempfile::tempdir().expect("tempdir");
    if std::env::var_os(KEEP_ENV).is_some() {
        root.disable_cleanup(true);
        eprintln!("{KEEP_ENV}: the deployment and logs stay in {}", root.path().display());
    }
    let ini = ini(db_port);
    let master_deployment = Deployment::create(
        &root.path().join("master"),
        &ini,
        &[
            (MASTER.into(), master_ip.to_string()),
            (SLAVE.into(), slave_ip.to_string()),
        ],
    )
    .expect("master deployment");
    // The slave sees the master at the proxy's address.
    let slave_deployment = Deployment::create(
        &root.path().join("slave"),
        &ini,
        &[(MASTER.into(), proxy_ip), (SLAVE.into(), slave_ip.to_string())],
    )
    .expect("slave deployment");

    let first_binlog = sandbox.get(MASTER).query("SHOW BINARY LOGS").await.expect("binlogs")[0][0].clone();
    let from = format!("{first_binlog}:4");
    let master = master_deployment
        .start(MASTER, &["--from-event", &from])
        .expect("master replicator starts");
    let slave = slave_deployment.start(SLAVE, &[]).expect("slave replicator starts");
    let rig = Rig {
        slave,
        master,
        proxy,
        master_deployment,
        slave_deployment,
        sandbox,
        _root: root,
    };
    for sql in [
        "CREATE DATABASE app",
        "CREATE TABLE app.keyed (id INT PRIMARY KEY, v VARCHAR(64), pad MEDIUMTEXT) ENGINE=InnoDB",
        "CREATE TABLE app.ledger (n INT, note VARCHAR(64)) ENGINE=InnoDB",
    ] {
        rig.bounded(rig.master_db().exec(sql), sql).await.expect(sql);
    }
    rig
}

/// One writer: transaction `i` inserts row `i` into the keyed table (every
/// 20th with 30 KB of padding, so records span many TCP segments) and row `i`
/// into the keyless ledger. Runs until `stop`; returns how many committed.
async fn writer(db: mysql_async::Opts, stop: Arc<AtomicBool>, written: Arc<AtomicI64>) -> Result<i64, String> {
    let mut conn = mysql_async::Conn::new(db).await.map_err(|e| format!("connect: {e}"))?;
    let mut i: i64 = 0;
    while !stop.load(Ordering::Acquire) {
        let pad = if i % 20 == 0 { 30_000 } else { 200 };
        let tx = format!(
            "BEGIN; INSERT INTO app.keyed VALUES ({i}, 'row {i}', REPEAT(CHAR(65 + {i} % 26), {pad})); \
             INSERT INTO app.ledger VALUES ({i}, 'tx {i}'); COMMIT"
        );
        conn.query_drop(tx).await.map_err(|e| format!("transaction {i}: {e}"))?;
        i += 1;
        written.store(i, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    let _ = conn.disconnect().await;
    Ok(i)
}

fn phase(rig: &Rig, started: Instant, what: &str) {
    let Stats {
        forwarded,
        refused,
        cut,
        failed,
        active,
        bytes_up,
        bytes_down,
    } = rig.proxy.stats();
    eprintln!(
        "[{:>5.1}s] {what}: proxy forwarded={forwarded} refused={refused} cut={cut} failed={failed} \
         active={active} up={bytes_up} down={bytes_down}",
        started.elapsed().as_secs_f64()
    );
}

/// Sleeps `d`, checking every 250 ms that both replicators still run.
async fn hold(rig: &mut Rig, d: Duration, what: &str) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        rig.assert_running(what);
        tokio::time::sleep(Duration::from_millis(250).min(end.saturating_duration_since(Instant::now()))).await;
    }
}

/// Waits (bounded) until the proxy has forwarded `more` bytes downstream
/// beyond `from` over an open connection, i.e. the slave streams again.
async fn wait_streaming(rig: &mut Rig, from: u64, more: u64, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let s = rig.proxy.stats();
        if s.active > 0 && s.bytes_down >= from + more {
            return;
        }
        rig.assert_running(what);
        if Instant::now() > deadline {
            panic!(
                "{what}: the slave did not stream through the proxy within {timeout:?}\n{}",
                rig.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slave_survives_cuts_stalls_and_drips_between_it_and_the_thl_server() {
    let started = Instant::now();
    let mut rig = start_rig().await;
    phase(&rig, started, "sandbox, replicators and proxy started");

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicI64::new(0));
    let load = tokio::spawn(writer(
        rig.master_db().root_opts(),
        Arc::clone(&stop),
        Arc::clone(&written),
    ));

    // Pass: the slave connects and streams.
    wait_streaming(&mut rig, 0, 4096, Duration::from_secs(30), "first connection").await;
    hold(&mut rig, Duration::from_secs(2), "pass").await;
    phase(&rig, started, "streaming");

    // Cut: the connection is reset and reconnects are refused for 3 s.
    let before = rig.proxy.stats();
    rig.proxy.set_mode(Mode::Cut);
    hold(&mut rig, Duration::from_secs(3), "cut").await;
    let after = rig.proxy.stats();
    assert!(after.cut > before.cut, "Cut reset no connection\n{}", rig.logs());
    assert!(
        after.refused > before.refused,
        "the slave did not try to reconnect during a 3 s cut\n{}",
        rig.logs()
    );
    rig.proxy.set_mode(Mode::Pass);
    phase(&rig, started, "after cut");
    let down = rig.proxy.stats().bytes_down;
    wait_streaming(&mut rig, down, 4096, Duration::from_secs(15), "reconnect after cut").await;
    hold(&mut rig, Duration::from_secs(1), "pass").await;

    // Stall longer than the client's heartbeat timeout (9 s): it gives up on
    // the silent connection and reconnects into the stalled proxy.
    rig.proxy.set_mode(Mode::Stall);
    // (A slice already being written when the mode changed may still land.)
    hold(&mut rig, Duration::from_millis(500), "stall").await;
    let before = rig.proxy.stats();
    hold(&mut rig, Duration::from_secs(10), "stall").await;
    let after = rig.proxy.stats();
    assert_eq!(
        (after.bytes_down, after.bytes_up),
        (before.bytes_down, before.bytes_up),
        "Stall forwarded bytes\n{}",
        rig.logs()
    );
    rig.proxy.set_mode(Mode::Pass);
    phase(&rig, started, "after stall");
    let down = rig.proxy.stats().bytes_down;
    wait_streaming(&mut rig, down, 4096, Duration::from_secs(15), "streaming after stall").await;
    hold(&mut rig, Duration::from_secs(1), "pass").await;

    // Drip, with two cuts mid-stream: a slice of 64 bytes is far smaller
    // than a record, so these cuts land mid-frame.
    rig.proxy.set_mode(Mode::Drip {
        bytes_per_tick: 64,
        tick: Duration::from_millis(5),
    });
    for round in 0..2 {
        hold(&mut rig, Duration::from_millis(1500), "drip").await;
        let before = rig.proxy.stats();
        rig.proxy.cut_all();
        phase(&rig, started, &format!("cut during drip {round}"));
        let down = before.bytes_down;
        wait_streaming(&mut rig, down, 256, Duration::from_secs(10), "streaming during drip").await;
    }
    hold(&mut rig, Duration::from_secs(1), "drip").await;
    rig.proxy.set_mode(Mode::Pass);
    phase(&rig, started, "after drip");

    // Mid-stream cuts at full speed, each once the slave streams again.
    for _ in 0..5 {
        let down = rig.proxy.stats().bytes_down;
        wait_streaming(&mut rig, down, 2048, Duration::from_secs(10), "streaming before a cut").await;
        hold(&mut rig, Duration::from_millis(300), "pass").await;
        rig.proxy.cut_all();
    }
    phase(&rig, started, "after mid-stream cuts");
    // A short flap: cut, pass, cut, pass.
    for _ in 0..2 {
        rig.proxy.set_mode(Mode::Cut);
        hold(&mut rig, Duration::from_millis(400), "flap cut").await;
        rig.proxy.set_mode(Mode::Pass);
        hold(&mut rig, Duration::from_millis(400), "flap pass").await;
    }
    phase(&rig, started, "after flaps");

    stop.store(true, Ordering::Release);
    let total = match tokio::time::timeout(Duration::from_secs(10), load).await {
        Ok(Ok(Ok(n))) => n,
        Ok(Ok(Err(e))) => panic!("the writer failed: {e}"),
        Ok(Err(e)) => panic!("the writer task failed: {e}"),
        Err(_) => panic!("the writer did not stop (wrote {})", written.load(Ordering::Acquire)),
    };
    phase(&rig, started, &format!("load stopped after {total} transactions"));
    assert!(total > 100, "too little load: {total} transactions");

    // Catch-up, bounded: the slave holds every ledger row and has applied
    // the master's last seqno.
    let deadline = Instant::now() + CATCH_UP;
    let (rows, applied, target) = loop {
        rig.assert_running("catch-up");
        let rows = rig.value(rig.slave_db(), "SELECT COUNT(*) FROM app.ledger").await;
        let target = rig.master_max_seqno();
        let applied = rig.slave_applied_seqno().await;
        if rows == Some(total) && target.is_some() && applied == target {
            break (rows, applied, target);
        }
        if Instant::now() > deadline {
            panic!(
                "the slave did not catch up within {CATCH_UP:?}: ledger rows {rows:?} of {total}, \
                 applied seqno {applied:?}, master THL max {target:?}\n{}",
                rig.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    phase(
        &rig,
        started,
        &format!("caught up: {rows:?} ledger rows, seqno {applied:?} of {target:?}"),
    );

    // Exactly once: one ledger row per source transaction.
    let sql = "SELECT COUNT(*), COUNT(DISTINCT n), MIN(n), MAX(n) FROM app.ledger";
    let ledger = rig.bounded(rig.slave_db().query(sql), sql).await.expect("ledger query");
    let expected = vec![vec![
        total.to_string(),
        total.to_string(),
        "0".to_string(),
        (total - 1).to_string(),
    ]];
    assert_eq!(
        ledger,
        expected,
        "slave ledger (COUNT, DISTINCT, MIN, MAX)\n{}",
        rig.logs()
    );
    for table in TABLES {
        let what = format!("CHECKSUM TABLE {table}");
        let m = rig.bounded(rig.master_db().checksum_table(table), &what).await;
        let s = rig.bounded(rig.slave_db().checksum_table(table), &what).await;
        let (m, s) = (m.expect("master checksum"), s.expect("slave checksum"));
        assert_eq!(m, s, "CHECKSUM TABLE {table}: master {m}, slave {s}\n{}", rig.logs());
    }
    // The slave's THL is the master's, record for record.
    let master_thl = read_thl(&rig.master_deployment.thl_dir(MASTER, SERVICE)).expect("master THL");
    let slave_thl = read_thl(&rig.slave_deployment.thl_dir(SLAVE, SERVICE)).expect("slave THL");
    let headers = |events: &[thl::event::ReplEvent]| events.iter().map(|e| e.header.clone()).collect::<Vec<_>>();
    if headers(&master_thl) != headers(&slave_thl) {
        let first = master_thl
            .iter()
            .zip(&slave_thl)
            .position(|(m, s)| m.header != s.header)
            .unwrap_or(master_thl.len().min(slave_thl.len()));
        panic!(
            "the slave's THL differs from the master's ({} vs {} records) from record {first}: {:?} vs {:?}\n{}",
            master_thl.len(),
            slave_thl.len(),
            master_thl.get(first).map(|e| &e.header),
            slave_thl.get(first).map(|e| &e.header),
            rig.logs()
        );
    }

    // Still ONLINE, not stopped by any of it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        rig.assert_running("final status");
        let (ok, out) = rig.slave_status();
        if ok && field(&out, "state").as_deref() == Some("ONLINE") {
            break;
        }
        if Instant::now() > deadline {
            panic!("the slave is not ONLINE:\n{out}\n{}", rig.logs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = rig.proxy.stats();
    phase(&rig, started, "done");
    assert!(stats.cut >= 7, "fewer connections cut than faults injected: {stats:?}");
    eprintln!("--- slave replicator log tail:\n{}", rig.slave.log_tail(25));
}

//! The demo of the README's first command: the seed's composite
//! active/passive cluster on local sandbox databases.
//!
//! Starts six MariaDB instances (host1..3.alpha, host1..3.beta, each on its
//! own loopback address) and six `replicator` processes from one
//! `tungsten.ini` (the THL over TLS with mutual authentication: a CA and a
//! certificate per host are made under the deployment's `tls/`), writes some load on host1.alpha, waits until every host
//! applied it, prints `trepctl services` of every node and the table
//! checksums; then the passive site takes over: `trepctl composite switch
//! -to beta` (host1.beta becomes the primary, host1.alpha its relay),
//! orders are written on host1.beta and reach every host, and the switch
//! back to alpha. It keeps the cluster running until Ctrl-C (or exits at
//! once with `--exit`). Everything it started dies with it.
//!
//! With `--add-cluster` it then grows the cluster live, as an operator
//! would (issue 12): while a writer keeps committing on host1.alpha, it
//! adds `north` (relay db7, slaves db8 and db9, `relay-source=alpha`) to
//! the ini, has the six running replicators re-read it (`trepctl reload`),
//! starts north's replicators OFFLINE on empty databases and provisions
//! them with `tprovision` (db7 from host2.alpha by mariabackup, db8 from
//! db7 by mysqldump, db9 from db7 by mariabackup), then prints `trepctl
//! services` of all nine hosts, `trepctl composite status` and the
//! checksums.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tests::cluster::{growable_ini, with_tls, Cluster, DEPLOYMENT_CA, HOSTS, NORTH_HOSTS};
use tests::process::workspace_bin;
use tests::tls::Certs;

const TABLES: &[&str] = &["shop.customers", "shop.orders", "shop.stock"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let exit_at_once = std::env::args().any(|a| a == "--exit");
    let add_cluster = std::env::args().any(|a| a == "--add-cluster");
    let root = std::env::var_os("DEMO_DIR").map_or_else(|| std::env::temp_dir().join("tungsten-demo"), PathBuf::from);
    match run(&root, exit_at_once, add_cluster).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(root: &Path, exit_at_once: bool, add_cluster: bool) -> Result<(), Box<dyn std::error::Error>> {
    if root.exists() {
        // Only ever delete a previous demo's deployment.
        let previous = root.join("tungsten.ini").is_file() && root.join("hosts").is_file();
        if !previous {
            return Err(format!(
                "{} exists and is not a previous demo deployment: choose another DEMO_DIR",
                root.display()
            )
            .into());
        }
        std::fs::remove_dir_all(root)?;
    }
    let spares: &[&'static str] = if add_cluster { &NORTH_HOSTS } else { &[] };
    println!(
        "== Starting {} MariaDB sandboxes under {}",
        HOSTS.len() + spares.len(),
        root.display()
    );
    // The ini names the files; they are written once the hosts have their
    // addresses, which the certificates name too (the status page's URL).
    let certs = Certs { dir: root.join("tls") };
    let mut cluster = Cluster::create_with_spares(root, &HOSTS, spares, |port, sandbox| {
        with_tls(&growable_ini(port, sandbox, false), &certs)
    })
    .await?;
    let addressed: Vec<(&str, Vec<IpAddr>)> = HOSTS
        .iter()
        .chain(spares)
        .map(|h| (*h, vec![IpAddr::V4(cluster.db(h).address())]))
        .collect();
    Certs::write_with_addresses(&certs.dir, DEPLOYMENT_CA, &addressed)?;
    println!(
        "   THL over TLS with mutual authentication: CA and host certificates in {}",
        certs.dir.display()
    );
    println!("   tungsten.ini: {}", cluster.deployment.ini().display());
    println!("   hosts file:   {}", cluster.deployment.hosts_file().display());
    println!("== Starting six replicators (alpha: master + 2 slaves; beta: relay + 2 slaves; gamma = alpha,beta)");
    cluster.start_replicators()?;

    println!("== Writing load on host1.alpha");
    let mut conn = mysql_async::Conn::new(cluster.db(HOSTS[0]).root_opts()).await?;
    for sql in [
        "CREATE DATABASE shop",
        "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128), since DATETIME(6))",
        "CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer INT, amount DECIMAL(12,2), note TEXT)",
        "CREATE TABLE shop.stock (sku INT PRIMARY KEY, qty INT UNSIGNED, price DOUBLE)",
        "INSERT INTO shop.stock SELECT seq, 1000, seq * 1.25 FROM shop.seq_1_to_200",
    ] {
        conn.query_drop(sql).await?;
    }
    for i in 1..=300 {
        let tx = format!(
            "BEGIN; INSERT INTO shop.customers VALUES ({i}, 'customer {i}', 'c{i}@example.com', NOW(6)) \
             ON DUPLICATE KEY UPDATE name = VALUES(name); \
             INSERT INTO shop.orders (customer, amount, note) VALUES ({i}, {}.{:02}, 'order of customer {i}'); \
             UPDATE shop.stock SET qty = qty - 1 WHERE sku = {}; COMMIT",
            i * 3 % 500,
            i % 100,
            i % 200 + 1
        );
        conn.query_drop(tx).await?;
    }
    conn.query_drop("DELETE FROM shop.orders WHERE customer % 10 = 0")
        .await?;
    conn.disconnect().await?;

    let seqno = cluster.wait_until_applied(Duration::from_secs(180)).await?;
    println!("== Every host applied seqno {seqno}");
    for host in HOSTS {
        println!("\n-- trepctl -host {host} services");
        // The state follows the pipeline within a moment: give it that moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut out = trepctl(&cluster, host, &["services"])?;
        while !out.contains(": ONLINE") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            out = trepctl(&cluster, host, &["services"])?;
        }
        print!("{out}");
    }
    println!("\n-- trepctl -host host2.beta status (excerpt)");
    let status = trepctl(&cluster, "host2.beta", &["status"])?;
    for line in status.lines().filter(|l| {
        [
            "appliedLastSeqno",
            "pipelineSource",
            "role ",
            "state ",
            "serviceName",
            "masterConnectUri",
            "appliedLatency",
            "seqnosBehind",
        ]
        .iter()
        .any(|k| l.trim_start().starts_with(k))
    }) {
        println!("{line}");
    }
    println!("\n-- trepctl -host host1.beta perf (the relay: what each stage did)");
    print!("{}", trepctl(&cluster, "host1.beta", &["perf"])?);

    print_checksums(&cluster, "six").await?;
    switch_and_back(&mut cluster).await?;

    let trepctl_bin = workspace_bin("trepctl")?;
    println!(
        "\n== The cluster is running. Try, in another terminal (what `replicator install`'s env.sh sets on a node):\n   \
         export PATH={}:$PATH TUNGSTEN_INI={} TUNGSTEN_HOSTS_FILE={} TUNGSTEN_HOST=host1.beta\n   \
         trepctl services                      # this host's (host1.beta's); -host NAME or ADDRESS for another\n   \
         trepctl -host host2.alpha status\n   trepctl composite status\n   thl -dir {} list -headers",
        trepctl_bin.parent().map_or_else(|| ".".into(), |d| d.display().to_string()),
        cluster.deployment.ini().display(),
        cluster.deployment.hosts_file().display(),
        cluster.deployment.thl_dir(HOSTS[0], "alpha").display(),
    );
    println!(
        "   the status page of the whole composite: https://{}:8097/ in a browser on this machine (user {}, password \
         {}; the certificate, which names that address, is signed by the demo's own CA, {}: trust it or accept \
         the warning)",
        cluster.db(HOSTS[0]).address(),
        tests::cluster::REST_USER,
        tests::cluster::REST_PASSWORD,
        cluster.root().join("tls").join("ca.pem").display(),
    );
    if add_cluster {
        grow(&mut cluster).await?;
    }
    if exit_at_once {
        println!("== --exit given: stopping the cluster");
        return Ok(());
    }
    println!(
        "== Press Ctrl-C to stop it: every replicator and MariaDB instance stops, and {} is left for inspection.",
        root.display()
    );
    tokio::signal::ctrl_c().await?;
    println!("\n== Stopping");
    Ok(())
}

/// `CHECKSUM TABLE` of the demo's tables on the cluster's hosts, printed;
/// an error when they differ.
async fn print_checksums(cluster: &Cluster, how_many: &str) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== CHECKSUM TABLE on every host");
    let sums = cluster.checksums(TABLES).await?;
    println!(
        "{:<13} {}",
        "host",
        TABLES.iter().map(|t| format!("{t:>16}")).collect::<String>()
    );
    for (host, s) in &sums {
        println!(
            "{host:<13} {}",
            s.iter().map(|v| format!("{v:>16}")).collect::<String>()
        );
    }
    let reference = &sums[HOSTS[0]];
    let same = sums.values().all(|s| s == reference);
    println!(
        "checksums {}",
        if same {
            format!("are equal on all {how_many} hosts")
        } else {
            "DIFFER".into()
        }
    );
    if !same {
        return Err("checksums differ between hosts".into());
    }
    Ok(())
}

/// The passive site takes over (issue 13): `trepctl composite switch -to
/// beta`, orders written on beta's new primary reach all six hosts, then
/// the switch back to alpha.
async fn switch_and_back(cluster: &mut Cluster) -> Result<(), Box<dyn std::error::Error>> {
    for (to, primary) in [("beta", "host1.beta"), ("alpha", "host1.alpha")] {
        println!("\n== trepctl composite switch -to {to}");
        let (ok, out) = cluster
            .deployment
            .run_tool("trepctl", None, &["composite", "switch", "-to", to])?;
        print!("{out}");
        if !ok {
            return Err(format!("the switch to {to} failed").into());
        }
        cluster.set_master(primary);
        println!("== Writing 100 orders on the new primary {primary}");
        let mut conn = mysql_async::Conn::new(cluster.db(primary).root_opts()).await?;
        for n in 1..=100 {
            conn.query_drop(format!(
                "INSERT INTO shop.orders (customer, amount, note) VALUES ({n}, 2.00, 'order {n} on {primary}')"
            ))
            .await?;
        }
        conn.disconnect().await?;
        let seqno = cluster.wait_until_applied(Duration::from_secs(180)).await?;
        println!("== Every host applied seqno {seqno}");
        print_checksums(cluster, "six").await?;
    }
    Ok(())
}

/// `--add-cluster`: adds north under load and provisions its three hosts.
async fn grow(cluster: &mut Cluster) -> Result<(), Box<dyn std::error::Error>> {
    for host in HOSTS.iter().chain(&NORTH_HOSTS) {
        cluster.db(host).write_boot_script()?;
    }
    println!("\n== Writing load on host1.alpha while north is added (one order per 20 ms)");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, opts) = (stop.clone(), cluster.db(HOSTS[0]).root_opts());
        tokio::spawn(async move {
            let mut conn = mysql_async::Conn::new(opts).await?;
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                conn.query_drop(format!(
                    "INSERT INTO shop.orders (customer, amount, note) VALUES ({}, 1.00, 'order during the growth {n}')",
                    n % 300 + 1
                ))
                .await?;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok::<u64, mysql_async::Error>(n)
        })
    };
    let port = cluster.db(HOSTS[0]).port();
    let certs = tests::tls::Certs {
        dir: cluster.root().join("tls"),
    };
    let ini = with_tls(&growable_ini(port, cluster.sandbox.root(), true), &certs);
    std::fs::write(cluster.deployment.ini(), &ini)?;
    println!("== Added to {}:", cluster.deployment.ini().display());
    println!(
        "   [north] relay=db7 members=db7,db8,db9 relay-source=alpha; [gamma] composite-datasources=alpha,beta,north"
    );
    for host in HOSTS {
        print!(
            "-- trepctl -host {host} reload: {}",
            trepctl(cluster, host, &["reload"])?
        );
    }
    println!("== Starting north's replicators OFFLINE on empty databases");
    for host in NORTH_HOSTS {
        let p = cluster.deployment.start(host, &["--offline"])?;
        cluster.processes.insert(host.to_owned(), p);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for host in NORTH_HOSTS {
        while !trepctl(cluster, host, &["services"])?.contains("OFFLINE:NORMAL") {
            if std::time::Instant::now() > deadline {
                return Err(format!("{host}'s replicator did not come up").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (host, source, method) in [
        ("db7", "host2.alpha", "mariabackup"),
        ("db8", "db7", "mysqldump"),
        ("db9", "db7", "mariabackup"),
    ] {
        println!("\n== tprovision --host {host} -s {source} -m {method}");
        let status = Command::new(workspace_bin("tprovision")?)
            .arg("--config")
            .arg(cluster.deployment.ini())
            .arg("--hosts-file")
            .arg(cluster.deployment.hosts_file())
            .args(["--host", host, "-s", source, "-m", method])
            .status()?;
        if !status.success() {
            return Err(format!("tprovision of {host} failed ({status})").into());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let orders = writer.await??;
    println!("\n== {orders} orders written during the growth; waiting for all nine hosts");
    let seqno = cluster.wait_until_applied(Duration::from_secs(180)).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    for host in NORTH_HOSTS {
        loop {
            let applied = cluster
                .db(host)
                .query_value("SELECT MIN(seqno) FROM tungsten_north.trep_commit_seqno")
                .await?;
            if applied.as_deref() == Some(seqno.to_string().as_str()) {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("{host} did not apply seqno {seqno} (at {applied:?})").into());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    println!("== Every host applied seqno {seqno}");
    for host in HOSTS.iter().chain(&NORTH_HOSTS) {
        println!("\n-- trepctl -host {host} services");
        print!("{}", trepctl(cluster, host, &["services"])?);
    }
    let (_, topology) = cluster.deployment.run_tool("trepctl", None, &["composite", "status"])?;
    println!("\n-- trepctl composite status");
    print!("{topology}");
    println!("\n== CHECKSUM TABLE on all nine hosts");
    let mut all = Vec::new();
    for host in HOSTS.iter().chain(&NORTH_HOSTS) {
        let mut sums = Vec::new();
        for t in TABLES {
            sums.push(cluster.db(host).checksum_table(t).await?);
        }
        println!(
            "{host:<13} {}",
            sums.iter().map(|v| format!("{v:>16}")).collect::<String>()
        );
        all.push(sums);
    }
    let same = all.iter().all(|s| s == &all[0]);
    println!(
        "checksums {}",
        if same { "are equal on all nine hosts" } else { "DIFFER" }
    );
    if !same {
        return Err("checksums differ between hosts".into());
    }
    Ok(())
}

/// Runs trepctl against `host` and returns its output.
fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    Ok(cluster.deployment.run_tool("trepctl", Some(host), args)?.1)
}

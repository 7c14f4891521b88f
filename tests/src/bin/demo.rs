//! The demo of the README's first command: the seed's composite
//! active/passive cluster on local sandbox databases.
//!
//! Starts six MariaDB instances (host1..3.alpha, host1..3.beta, each on its
//! own loopback address) and six `replicator` processes from one
//! `tungsten.ini`, writes some load on host1.alpha, waits until every host
//! applied it, prints `trepctl services` of every node and the table
//! checksums, then keeps the cluster running until Ctrl-C (or exits at once
//! with `--exit`). Everything it started dies with it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tests::cluster::{Cluster, HOSTS};
use tests::process::workspace_bin;

const TABLES: &[&str] = &["shop.customers", "shop.orders", "shop.stock"];

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let exit_at_once = std::env::args().any(|a| a == "--exit");
    let root = std::env::var_os("DEMO_DIR").map_or_else(|| std::env::temp_dir().join("tungsten-demo"), PathBuf::from);
    match run(&root, exit_at_once).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(root: &Path, exit_at_once: bool) -> Result<(), Box<dyn std::error::Error>> {
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
    println!("== Starting six MariaDB sandboxes under {}", root.display());
    let mut cluster = Cluster::create(root).await?;
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
        ]
        .iter()
        .any(|k| l.trim_start().starts_with(k))
    }) {
        println!("{line}");
    }

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
        if same { "are equal on all six hosts" } else { "DIFFER" }
    );
    if !same {
        return Err("checksums differ between hosts".into());
    }

    let trepctl_bin = workspace_bin("trepctl")?;
    println!(
        "\n== The cluster is running. Try, in another terminal:\n   {} --config {} --hosts-file {} -host host1.beta status\n   {} -dir {} list -headers",
        trepctl_bin.display(),
        cluster.deployment.ini().display(),
        cluster.deployment.hosts_file().display(),
        workspace_bin("thl")?.display(),
        cluster.deployment.thl_dir(HOSTS[0], "alpha").display(),
    );
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

/// Runs trepctl against `host` and returns its output.
fn trepctl(cluster: &Cluster, host: &str, args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new(workspace_bin("trepctl")?)
        .arg("--config")
        .arg(cluster.deployment.ini())
        .arg("--hosts-file")
        .arg(cluster.deployment.hosts_file())
        .arg("-host")
        .arg(host)
        .args(args)
        .output()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        text.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    Ok(text)
}

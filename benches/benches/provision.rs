//! Provisioning rate: `tprovision` of a new node from a replica against a
//! plain `mariadb-backup` of the same replica to a local directory, in the
//! same run, alternating.
//!
//! What it does:
//!
//! 1. Sandboxes `host1.alpha` (master), `host2.alpha` (its slave) and `db7`
//!    (the relay of `north`, `relay-source=alpha`, its replicator OFFLINE).
//! 2. On the master: `bench.t(id BIGINT PK, pad VARCHAR(1000))`,
//!    `PROVISION_MB` MB of rows in transactions of 20,000 rows; waits until
//!    host2.alpha applied them.
//! 3. `PROVISION_RUNS` pairs, order reversed every other pair:
//!    * **plain**: `mariadb-backup --backup` of host2.alpha into a local
//!      directory, then `--prepare` of it (both timed);
//!    * **ours**: `tprovision --host db7 -s host2.alpha -m mariabackup`,
//!      timed end to end: the checks, the stream from host2.alpha's
//!      replicator, unpack, prepare, the data directory swapped, MariaDB
//!      restarted, the position taken, the service ONLINE.
//!
//! Both copy the same data directory on the same disk; "ours" writes it
//! once more (unpacked by `mbstream` from the stream) and restarts a
//! server, "plain" stops at a prepared directory.
//!
//! Run: `cargo build --release --workspace --bins && cargo bench -p benches --bench
//! provision` (a few minutes, mostly the load); `BENCH_QUICK=1`: 64 MB, 2
//! pairs. Environment: `PROVISION_MB` (512; quick 64), `PROVISION_RUNS`
//! (3; quick 2).

use std::path::Path;
use std::time::{Duration, Instant};

use benches::{env_u64, fmt_med, fsync_rate, median, quick, run_command, Table};
use tests::cluster::{defaults_section, Cluster};
use tests::process::workspace_bin;

const HOSTS: [&str; 2] = ["host1.alpha", "host2.alpha"];
const ROWS_PER_TXN: u64 = 20_000;

fn ini(port: u16, sandbox: &Path) -> String {
    format!(
        "{}datasource-mysql-data-directory={root}/{{host}}/data\n\
         datasource-boot-script={root}/{{host}}/boot.sh\n\
         [alpha]\ntopology=clustered\nmaster=host1.alpha\nmembers=host1.alpha,host2.alpha\n\
         [north]\ntopology=clustered\nrelay=db7\nmembers=db7\nrelay-source=alpha\n",
        defaults_section(port),
        root = sandbox.display()
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("provision bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mb = env_u64("PROVISION_MB", if quick() { 64 } else { 512 });
    let runs = env_u64("PROVISION_RUNS", if quick() { 2 } else { 3 }) as usize;
    let work = tempfile::tempdir_in("/var/tmp")?;
    let mut cluster = Cluster::create_with_spares(&work.path().join("deploy"), &HOSTS, &["db7"], ini).await?;
    for host in ["host1.alpha", "host2.alpha", "db7"] {
        cluster.db(host).write_boot_script()?;
    }
    cluster.start_replicators()?;
    let p = cluster.deployment.start("db7", &["--offline"])?;
    cluster.processes.insert("db7".into(), p);

    println!("== loading {mb} MB into bench.t on the master");
    let master = cluster.db(HOSTS[0]);
    master
        .exec("CREATE DATABASE bench; CREATE TABLE bench.t (id BIGINT PRIMARY KEY, pad VARCHAR(1000))")
        .await?;
    let rows = mb * 1000;
    let mut from = 1;
    while from <= rows {
        let to = (from + ROWS_PER_TXN - 1).min(rows);
        master
            .exec(&format!(
                "INSERT INTO bench.t SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM bench.seq_{from}_to_{to}"
            ))
            .await?;
        from = to + 1;
    }
    let seqno = cluster.wait_until_applied(Duration::from_secs(1800)).await?;
    println!("   host2.alpha applied seqno {seqno}");

    let source = cluster.db(HOSTS[1]);
    let cnf = work.path().join("client.cnf");
    std::fs::write(
        &cnf,
        format!(
            "[mariadb-backup]\nuser={}\npassword={}\nhost={}\nport={}\n",
            source.user(),
            source.password(),
            source.address(),
            source.port()
        ),
    )?;
    let mut table = Table::new([
        "pair",
        "fsync/s",
        "plain backup s",
        "+ prepare s",
        "ours s",
        "ours MB",
        "ours/plain",
    ]);
    let (mut plain_s, mut ours_s, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs {
        let fsync = fsync_rate(work.path(), Duration::from_secs(2))?;
        let mut plain = (0.0, 0.0);
        let mut ours = (0.0, 0u64);
        for side in if i % 2 == 0 {
            ["plain", "ours"]
        } else {
            ["ours", "plain"]
        } {
            if side == "plain" {
                let target = work.path().join("plain");
                let _ = std::fs::remove_dir_all(&target);
                let t = Instant::now();
                run_command(
                    tokio::process::Command::new("mariadb-backup")
                        .arg(format!("--defaults-file={}", cnf.display()))
                        .arg("--backup")
                        .arg(format!("--target-dir={}", target.display()))
                        .arg(format!("--datadir={}", source.datadir().display())),
                    Duration::from_secs(1800),
                )
                .await?;
                let backup = t.elapsed().as_secs_f64();
                run_command(
                    tokio::process::Command::new("mariadb-backup")
                        .arg("--prepare")
                        .arg(format!("--target-dir={}", target.display())),
                    Duration::from_secs(1800),
                )
                .await?;
                plain = (backup, t.elapsed().as_secs_f64());
                let _ = std::fs::remove_dir_all(&target);
            } else {
                let t = Instant::now();
                let out = run_command(
                    tokio::process::Command::new(workspace_bin("tprovision")?)
                        .arg("--config")
                        .arg(cluster.deployment.ini())
                        .arg("--hosts-file")
                        .arg(cluster.deployment.hosts_file())
                        .args(["--host", "db7", "-s", "host2.alpha", "-m", "mariabackup"]),
                    Duration::from_secs(1800),
                )
                .await?;
                let secs = t.elapsed().as_secs_f64();
                ours = (
                    secs,
                    replicator::provision::backup::dir_size(&cluster.db("db7").datadir()),
                );
                if !out.contains("Provisioned by mariabackup") {
                    return Err(format!("unexpected tprovision output: {out}").into());
                }
            }
        }
        plain_s.push(plain.1);
        ours_s.push(ours.0);
        ratio.push(plain.1 / ours.0);
        table.row([
            (i + 1).to_string(),
            format!("{fsync:.0}"),
            format!("{:.1}", plain.0),
            format!("{:.1}", plain.1),
            format!("{:.1}", ours.0),
            format!("{:.0}", ours.1 as f64 / 1e6),
            format!("{:.2}x", plain.1 / ours.0),
        ]);
    }
    println!(
        "\n== provisioning {mb} MB of rows: tprovision vs mariadb-backup --backup + --prepare to a local directory"
    );
    table.print();
    println!(
        "medians: plain {} s, ours {} s; speed ours/plain (median of per-pair ratios) {:.2}x",
        fmt_med(&plain_s, 1),
        fmt_med(&ours_s, 1),
        median(&ratio)
    );
    Ok(())
}

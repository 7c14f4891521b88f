//! The source side of a provision: runs `mariadb-backup --backup
//! --stream=xbstream` or `mariadb-dump --single-transaction` against the
//! local MariaDB and streams its output in frames (`frame.rs`).
//!
//! Invariants: the tool's credentials go through an option file readable
//! by this user only (never the command line, which `ps` shows); the tool
//! is killed when the stream is dropped (the provisioning node went away),
//! and its temporary directory is removed; the stream ends with `E` only
//! when the tool exited 0, else with `F` and the tail of its stderr.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use control::requests::{BackupRequest, ProvisionMethod};
use mysql_async::prelude::Queryable;
use tokio::io::AsyncReadExt as _;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::frame::{encode, End, Frame, Header, MAX_PAYLOAD};
use crate::config::HostPlan;
use crate::service::db;

/// Schemas that are the server's own, never copied by mysqldump.
pub const SYSTEM_SCHEMAS: &[&str] = &["mysql", "information_schema", "performance_schema", "sys"];

/// A body stream of frames (for `axum::body::Body::from_stream`).
#[derive(Debug)]
pub struct FrameStream(mpsc::Receiver<Bytes>);

impl futures_core::Stream for FrameStream {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|b| b.map(Ok))
    }
}

/// What the source knows before it starts the tool.
struct Facts {
    header: Header,
    datadir: PathBuf,
}

/// Starts the backup of `plan`'s local database and returns its frames; a
/// failure before the tool starts is an `Err` (the request's answer).
pub async fn start(plan: &HostPlan, req: BackupRequest) -> Result<FrameStream, String> {
    let service = plan.services.first().ok_or("this host runs no service")?;
    let facts = facts(plan, req.method).await?;
    let work = super::scratch_dir()?;
    let defaults = write_option_file(work.path(), service)?;
    let mut cmd = match req.method {
        ProvisionMethod::Mariabackup => {
            let mut c = tokio::process::Command::new("mariadb-backup");
            // The server's option file (datasource-mysql-conf) tells where
            // InnoDB keeps what the data directory does not; the
            // credentials come on top of it.
            match &service.local.conf {
                Some(conf) => c
                    .arg(format!("--defaults-file={}", conf.display()))
                    .arg(format!("--defaults-extra-file={}", defaults.display())),
                None => c.arg(format!("--defaults-file={}", defaults.display())),
            };
            c.arg("--backup")
                .arg("--stream=xbstream")
                .arg(format!("--target-dir={}", work.path().join("target").display()))
                .arg(format!("--datadir={}", facts.datadir.display()))
                .arg(format!("--parallel={}", req.threads.unwrap_or(1).max(1)));
            c
        }
        ProvisionMethod::Mysqldump => {
            let mut c = tokio::process::Command::new("mariadb-dump");
            c.arg(format!("--defaults-file={}", defaults.display()))
                .args([
                    "--single-transaction",
                    "--routines",
                    "--events",
                    "--triggers",
                    "--add-drop-database",
                    "--hex-blob",
                    "--databases",
                ])
                .args(&facts.header.schemas);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let tool = if req.method == ProvisionMethod::Mariabackup {
        "mariadb-backup"
    } else {
        "mariadb-dump"
    };
    let child = cmd.spawn().map_err(|e| {
        format!("cannot run {tool}: {e} (install Debian's mariadb-backup / mariadb-client package on the source host)")
    })?;
    info!(tool, schemas = ?facts.header.schemas, "provisioning stream started");
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::spawn(pump(child, tool, facts.header, work, tx));
    Ok(FrameStream(rx))
}

/// Sends the header, the tool's stdout, then the end or failure frame.
async fn pump(
    mut child: tokio::process::Child,
    tool: &'static str,
    header: Header,
    work: tempfile::TempDir,
    tx: mpsc::Sender<Bytes>,
) {
    let started = Instant::now();
    let err_task = super::stderr_tail(child.stderr.take());
    let mut sent = 0u64;
    let mut receiver_gone = tx.send(encode(&Frame::Header(header))).await.is_err();
    if let Some(mut out) = child.stdout.take() {
        let mut buf = vec![0u8; MAX_PAYLOAD / 4];
        while !receiver_gone {
            match out.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    sent += n as u64;
                    receiver_gone = tx
                        .send(encode(&Frame::Data(Bytes::copy_from_slice(&buf[..n]))))
                        .await
                        .is_err();
                }
                Err(e) => {
                    let _ = tx
                        .send(encode(&Frame::Failed(format!("reading {tool}'s output: {e}"))))
                        .await;
                    receiver_gone = true;
                }
            }
        }
    }
    if receiver_gone {
        warn!(tool, bytes = sent, "the provisioning node went away: stopping the copy");
        let _ = child.kill().await;
    }
    let status = child.wait().await;
    let stderr = err_task.await.unwrap_or_default();
    let last = match status {
        Ok(s) if s.success() => Frame::End(End {
            bytes: sent,
            seconds: started.elapsed().as_secs_f64(),
        }),
        Ok(s) => Frame::Failed(format!("{tool} failed on the source ({s}): {stderr}")),
        Err(e) => Frame::Failed(format!("{tool} on the source: {e}")),
    };
    if !receiver_gone {
        info!(
            tool,
            bytes = sent,
            ok = matches!(last, Frame::End(_)),
            "provisioning stream finished"
        );
        let _ = tx.send(encode(&last)).await;
    }
    drop(work);
}

/// The header and the data directory, from the local database.
async fn facts(plan: &HostPlan, method: ProvisionMethod) -> Result<Facts, String> {
    let service = plan.services.first().ok_or("this host runs no service")?;
    let mut conn = mysql_async::Conn::new(db::opts(service))
        .await
        .map_err(|e| format!("cannot connect to the local database: {e}"))?;
    let q = |e: mysql_async::Error| format!("reading the local database's facts: {e}");
    let (version, datadir): (String, String) = conn
        .query_first("SELECT @@version, @@datadir")
        .await
        .map_err(q)?
        .ok_or("no answer to SELECT @@version")?;
    let schemas: Vec<String> = conn
        .query("SELECT schema_name FROM information_schema.schemata ORDER BY schema_name")
        .await
        .map_err(q)?;
    let data_size: Option<u64> = conn
        .query_first(
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS UNSIGNED) FROM information_schema.tables",
        )
        .await
        .map_err(q)?;
    let _ = conn.disconnect().await;
    let datadir = service
        .local
        .data_directory
        .clone()
        .unwrap_or_else(|| PathBuf::from(datadir));
    let expected_bytes = match method {
        ProvisionMethod::Mariabackup => dir_size(&datadir).max(data_size.unwrap_or(0)),
        ProvisionMethod::Mysqldump => data_size.unwrap_or(0),
    };
    Ok(Facts {
        header: Header {
            method: method.name().into(),
            host: plan.host.clone(),
            services: plan
                .services
                .iter()
                .map(|s| (s.service.clone(), s.role.to_string()))
                .collect(),
            schemas: schemas
                .into_iter()
                .filter(|s| !SYSTEM_SCHEMAS.contains(&s.to_ascii_lowercase().as_str()))
                .collect(),
            expected_bytes,
            server_version: version,
        },
        datadir,
    })
}

/// Bytes under `dir` (a progress estimate; unreadable entries count 0).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// A value of a MariaDB option file, double-quoted with `\` and `"`
/// escaped, so that `#`, quotes and edge spaces survive.
fn option_value(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// An option file (mode 0600) with the local database's address and
/// credentials, for the client tools.
pub fn write_option_file(dir: &Path, service: &crate::config::ServicePlan) -> Result<PathBuf, String> {
    let path = dir.join("client.cnf");
    let body = format!(
        "user={}\npassword={}\nhost={}\nport={}\n",
        option_value(&service.db.user),
        option_value(service.db.password.expose()),
        service.db.address,
        service.db.port
    );
    let text = format!("[client]\n{body}[mariadb-backup]\n{body}");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::option_value;

    #[test]
    fn option_values_are_quoted_and_escaped() {
        assert_eq!(option_value("secret"), r#""secret""#);
        assert_eq!(option_value(r#"a#b"c\d "#), r#""a#b\"c\\d ""#);
    }
}

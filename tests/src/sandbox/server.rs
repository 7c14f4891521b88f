//! The `mariadbd` process of an [`Instance`]: its command line, spawning
//! it, waiting until it accepts connections, stopping, killing and
//! restarting it, and killing it on drop.
//!
//! Invariants:
//! * **Every instance dies with its owner.** An [`Instance`] kills its
//!   `mariadbd` by pid when dropped (also during a panic unwind), and it is
//!   spawned through `spawn.rs`, so it also dies if the test process is
//!   SIGKILLed.
//! * **Bounded waits.** Start and stop have deadlines
//!   ([`SandboxOptions`](super::SandboxOptions)); a failed start reports the
//!   tail of the instance's error log.
//! * The spec's extra options come last on the command line, so they
//!   override the defaults (ROW binlog, full row metadata and image,
//!   `--log-slave-updates`, small InnoDB buffers); `--no-defaults` first.
//! * Signals go only to our own unreaped child, so its pid cannot have been
//!   recycled.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::Conn;

use super::error::{io_err, SandboxError};
use super::instance::Instance;
use super::logs::{tail_file, LOG_TAIL_LINES};
use super::spawn::spawn_with_death_signal;

impl Instance {
    pub(super) fn argv(&self) -> Vec<String> {
        let d = &self.dir;
        let s = &self.spec;
        let mut args = vec![
            // --no-defaults must come first.
            "--no-defaults".to_owned(),
            "--user=root".to_owned(),
            format!("--datadir={}", d.join("data").display()),
            format!("--socket={}", d.join("mysqld.sock").display()),
            format!("--pid-file={}", d.join("mysqld.pid").display()),
            format!("--tmpdir={}", d.join("tmp").display()),
            format!("--log-error={}", d.join("error.log").display()),
            format!("--bind-address={}", s.address),
            format!("--port={}", s.port),
            format!("--server-id={}", s.server_id),
            "--log-bin=mysql-bin".to_owned(),
            "--relay-log=relay-bin".to_owned(),
            "--binlog-format=ROW".to_owned(),
            "--binlog-row-metadata=FULL".to_owned(),
            "--binlog-row-image=FULL".to_owned(),
            "--log-slave-updates".to_owned(),
            "--skip-name-resolve".to_owned(),
            "--innodb-buffer-pool-size=32M".to_owned(),
            "--innodb-log-file-size=8M".to_owned(),
            "--innodb-buffer-pool-load-at-startup=0".to_owned(),
            "--innodb-buffer-pool-dump-at-shutdown=0".to_owned(),
            "--max-connections=200".to_owned(),
        ];
        args.extend(s.extra_args.iter().cloned());
        args
    }

    pub(super) fn spawn(&mut self) -> Result<(), SandboxError> {
        if self.is_running() {
            return Err(SandboxError::AlreadyRunning {
                name: self.spec.name.clone(),
            });
        }
        let console = self.dir.join("console.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&console)
            .map_err(io_err("open console log", &console))?;
        let err = out.try_clone().map_err(io_err("dup console log", &console))?;
        let mut cmd = Command::new(&self.mariadbd);
        cmd.args(self.argv()).stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child = spawn_with_death_signal(cmd).map_err(io_err("spawn mariadbd", &self.mariadbd))?;
        tracing::debug!(name = %self.spec.name, addr = %self.spec.addr(), pid = child.id(), "mariadbd started");
        self.child = Some(child);
        Ok(())
    }

    /// Waits (bounded) until `root` can connect through the socket.
    pub(super) async fn wait_ready(&mut self) -> Result<(), SandboxError> {
        let started = Instant::now();
        let deadline = started + self.options.start_timeout;
        let mut last_error: String;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(SandboxError::Exited {
                        name: self.spec.name.clone(),
                        addr: self.spec.addr(),
                        status,
                        log: self.error_log(),
                        log_tail: tail_file(&self.error_log(), LOG_TAIL_LINES),
                    });
                }
            } else {
                return Err(SandboxError::NotRunning {
                    name: self.spec.name.clone(),
                });
            }
            if self.socket().exists() {
                match tokio::time::timeout(Duration::from_secs(5), Conn::new(self.root_opts())).await {
                    Ok(Ok(conn)) => {
                        let _ = conn.disconnect().await;
                        return Ok(());
                    }
                    Ok(Err(e)) => last_error = e.to_string(),
                    Err(_) => last_error = "connect timed out after 5s".into(),
                }
            } else {
                last_error = "socket not created yet".into();
            }
            if Instant::now() >= deadline {
                return Err(SandboxError::StartTimeout {
                    name: self.spec.name.clone(),
                    addr: self.spec.addr(),
                    waited: started.elapsed(),
                    last_error,
                    log: self.error_log(),
                    log_tail: tail_file(&self.error_log(), LOG_TAIL_LINES),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops `mariadbd` gracefully: SIGTERM, then waits up to
    /// `stop_timeout`; if it is still running, SIGKILL and
    /// [`SandboxError::StopTimeout`].
    pub async fn stop(&mut self) -> Result<(), SandboxError> {
        let Some(mut child) = self.child.take() else {
            return Err(SandboxError::NotRunning {
                name: self.spec.name.clone(),
            });
        };
        let pid = child.id();
        signal(pid, libc::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < self.options.stop_timeout {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(e) => {
                    return Err(SandboxError::Io {
                        what: format!("wait for mariadbd pid {pid}"),
                        path: self.dir.clone(),
                        source: e,
                    })
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(SandboxError::StopTimeout {
            name: self.spec.name.clone(),
            pid,
            waited: started.elapsed(),
        })
    }

    /// Kills `mariadbd` with SIGKILL (a crash, for fault tests) and reaps it.
    pub fn kill(&mut self) -> Result<(), SandboxError> {
        let Some(mut child) = self.child.take() else {
            return Err(SandboxError::NotRunning {
                name: self.spec.name.clone(),
            });
        };
        let pid = child.id();
        signal(pid, libc::SIGKILL);
        child
            .wait()
            .map_err(io_err(format!("wait for mariadbd pid {pid}"), &self.dir))?;
        Ok(())
    }

    /// Starts a stopped (or killed) instance again on the same data
    /// directory, address and options, and waits until it accepts
    /// connections. If it is running, stops it first.
    pub async fn restart(&mut self) -> Result<(), SandboxError> {
        if self.is_running() {
            self.stop().await?;
        }
        // A stale socket would make wait_ready try too early; harmless, but
        // remove it so the wait reflects the new server.
        let _ = std::fs::remove_file(self.socket());
        self.spawn()?;
        self.wait_ready().await
    }

    /// Environment variables for `mariadbd` from its next start on (they
    /// replace earlier ones; e.g. `TZ`, which mtr sets for a test's
    /// `--timezone`). The running server is not touched.
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    /// The environment variables given with [`Instance::set_env`].
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// Same as [`Instance::restart`] with different extra options (they
    /// replace the spec's extra options from now on).
    pub async fn restart_with(&mut self, extra_args: Vec<String>) -> Result<(), SandboxError> {
        if self.is_running() {
            self.stop().await?;
        }
        self.spec.extra_args = extra_args;
        self.restart().await
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our
        // own unreaped child, so it cannot have been recycled.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Data is temporary: SIGKILL is the fastest bounded stop.
            signal(child.id(), libc::SIGKILL);
            let _ = child.wait();
        }
        // A server the boot script started is not our child.
        super::boot::kill_adopted(&self.dir);
    }
}

//! A sandbox of real `mariadbd` instances for integration tests and the demo.
//!
//! # What it does
//!
//! [`Sandbox::start`] starts one `mariadbd` per [`InstanceSpec`], each in its
//! own directory under one temporary root, and returns once every instance
//! accepts connections and has the replication account (`tungsten`/`secret`
//! by default, `ALL PRIVILEGES ON *.* WITH GRANT OPTION`, since the applier
//! uses the same account).
//!
//! # Invariants
//!
//! * **Template made once, atomically.** The data directory produced by
//!   `mariadb-install-db` is cached in a directory keyed by the `mariadbd`
//!   version and by [`TEMPLATE_LAYOUT`]. It is built in a private temporary
//!   directory and renamed into place, so concurrent test processes never see
//!   a half-built template: the final directory exists only if complete.
//!   The cache lives in `$TUNGSTEN_SANDBOX_CACHE`, or else in
//!   `std::env::temp_dir()/tungsten-mariadb-templates`.
//! * **Every instance dies with its owner.** An [`Instance`] kills its
//!   `mariadbd` by pid when dropped (also during a panic unwind). Each
//!   `mariadbd` is spawned with `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so a test
//!   process killed with SIGKILL leaves no orphan. Because the death signal
//!   fires when the *thread* that forked exits, every `mariadbd` is forked
//!   from one dedicated thread that lives as long as the process (never from
//!   a tokio worker or blocking-pool thread, which may exit while the server
//!   should still run). The root directory of a SIGKILLed process is
//!   removed by the next [`Sandbox::start`] (it records its owner's pid).
//! * **Bounded waits.** Start, stop and every connection attempt have a
//!   deadline ([`SandboxOptions`]); a failed start reports the tail of the
//!   instance's error log.
//! * **Clean binlog.** The setup statements (dropping the anonymous users that
//!   `mariadb-install-db` creates, which would shadow `tungsten@'%'`, and
//!   creating the replication account) run with `sql_log_bin=0`, so a fresh
//!   instance's binlog holds no user events.
//! * Only loopback addresses (`127.0.0.0/8`) are accepted.
//! * At most [`DEFAULT_MAX_INSTANCES`] (`$TUNGSTEN_SANDBOX_MAX_INSTANCES`)
//!   `mariadbd` per test process: sandboxes of tests running in parallel
//!   wait (bounded) for slots, so plain `cargo test` is safe too.
//!
//! # Addresses
//!
//! Each instance listens either on its own loopback address with the same
//! port (as the deployment does: 13306 on every host; all of 127.0.0.0/8 is
//! routed to `lo` on Linux), see [`loopback_specs`], or on 127.0.0.1 with
//! distinct ports, see [`localhost_specs`]. Both helpers pick addresses or
//! ports that are free at the time of the call, so several engineers can run
//! sandboxes at once.
//!
//! Helpers ([`Instance::exec`], [`Instance::query`], ...) connect as `root`
//! through the instance's Unix socket, so they keep working whatever a test
//! does to the replication account. [`Instance::opts`] and [`Instance::url`]
//! give TCP access as the replication account.

// Errors are on the cold path and carry the log tail for the operator;
// keeping `SandboxError` flat lets tests match its variants directly.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Value};

/// The port every deployed host uses.
pub const DEFAULT_PORT: u16 = 13306;
/// Default replication account.
pub const DEFAULT_USER: &str = "tungsten";
/// Default password of the replication account.
pub const DEFAULT_PASSWORD: &str = "secret";
/// Bumped whenever the way the template is made changes, so old caches are
/// not reused.
pub const TEMPLATE_LAYOUT: u32 = 1;
/// Environment variable naming the template cache directory.
pub const CACHE_ENV: &str = "TUNGSTEN_SANDBOX_CACHE";
/// Environment variable naming the `mariadbd` binary (default: found in
/// `$PATH`, `/usr/sbin`, `/usr/local/sbin`).
pub const MARIADBD_ENV: &str = "TUNGSTEN_MARIADBD";

const INSTALL_HINT: &str = "run `apt-get install -y mariadb-server`";
const LOG_TAIL_LINES: usize = 40;

/// Why the sandbox could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A MariaDB binary is not installed.
    #[error("`{binary}` not found (searched $PATH, /usr/sbin, /usr/local/sbin): {INSTALL_HINT}")]
    MissingBinary {
        /// The binary looked for.
        binary: String,
    },
    /// A filesystem or process operation failed.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// `mariadb-install-db` failed.
    #[error("mariadb-install-db failed ({status}) for {datadir}:\n{output}")]
    InstallDb {
        /// Its exit status.
        status: ExitStatus,
        /// The data directory it was building.
        datadir: PathBuf,
        /// The tail of its output.
        output: String,
    },
    /// The instance did not accept connections in time.
    #[error("instance {name} ({addr}) did not accept connections within {waited:?}; last error: {last_error}; tail of {log}:\n{log_tail}")]
    StartTimeout {
        /// Instance name.
        name: String,
        /// `address:port`.
        addr: String,
        /// How long we waited.
        waited: Duration,
        /// The last connection error.
        last_error: String,
        /// The error log path.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// `mariadbd` exited while we waited for it to accept connections.
    #[error("instance {name} ({addr}): mariadbd exited during start-up ({status}); tail of {log}:\n{log_tail}")]
    Exited {
        /// Instance name.
        name: String,
        /// `address:port`.
        addr: String,
        /// Its exit status.
        status: ExitStatus,
        /// The error log path.
        log: PathBuf,
        /// Its last lines.
        log_tail: String,
    },
    /// `mariadbd` did not stop within the deadline (it was then killed).
    #[error("instance {name}: mariadbd (pid {pid}) did not stop within {waited:?} after SIGTERM; killed")]
    StopTimeout {
        /// Instance name.
        name: String,
        /// Its pid.
        pid: u32,
        /// How long we waited.
        waited: Duration,
    },
    /// An operation needs a running instance.
    #[error("instance {name} is not running")]
    NotRunning {
        /// Instance name.
        name: String,
    },
    /// An operation needs a stopped instance.
    #[error("instance {name} is already running")]
    AlreadyRunning {
        /// Instance name.
        name: String,
    },
    /// A bad argument (non-loopback address, duplicate name, ...).
    #[error("invalid sandbox request: {0}")]
    Invalid(String),
    /// No free loopback address or port was found.
    #[error("no free loopback {0} found")]
    NoFreeAddress(String),
    /// An SQL statement failed.
    #[error("instance {name}: `{sql}` failed: {source}")]
    Sql {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// The driver error.
        #[source]
        source: mysql_async::Error,
    },
    /// An SQL statement did not finish in time.
    #[error("instance {name}: `{sql}` did not finish within {waited:?}")]
    SqlTimeout {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// How long we waited.
        waited: Duration,
    },
    /// A query result did not have the expected shape.
    #[error("instance {name}: unexpected result for `{sql}`: {detail}")]
    Unexpected {
        /// Instance name.
        name: String,
        /// The statement.
        sql: String,
        /// What was wrong.
        detail: String,
    },
}

fn io_err(what: impl Into<String>, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> SandboxError {
    let (what, path) = (what.into(), path.into());
    move |source| SandboxError::Io { what, path, source }
}

/// One instance to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// A short name, unique in the sandbox; also its directory name.
    pub name: String,
    /// A loopback address (127.0.0.0/8) to bind.
    pub address: Ipv4Addr,
    /// The TCP port.
    pub port: u16,
    /// `--server-id`, non-zero and unique in the sandbox.
    pub server_id: u32,
    /// Extra `mariadbd` options, appended last so they override the
    /// defaults (e.g. `--binlog-format=STATEMENT`).
    pub extra_args: Vec<String>,
}

impl InstanceSpec {
    /// An instance with no extra options.
    pub fn new(name: impl Into<String>, address: Ipv4Addr, port: u16, server_id: u32) -> Self {
        Self {
            name: name.into(),
            address,
            port,
            server_id,
            extra_args: Vec::new(),
        }
    }

    /// Adds one `mariadbd` option (e.g. `--innodb-flush-log-at-trx-commit=2`).
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Adds several `mariadbd` options.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `address:port`.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }
}

fn is_free(addr: Ipv4Addr, port: u16) -> bool {
    TcpListener::bind((addr, port)).is_ok()
}

static PICK_COUNTER: AtomicU32 = AtomicU32::new(0);

fn pick_seed() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(nanos)
        .wrapping_add(PICK_COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(7919))
}

/// `n` specs named `db1`..`dbN`, server ids 1..=N, all on `port`, each on
/// its own address `127.A.B.1`..`127.A.B.N` where `A.B` (A ≥ 1, so never
/// 127.0.0.x) is a block found free on `port` now.
pub fn loopback_specs(n: usize, port: u16) -> Result<Vec<InstanceSpec>, SandboxError> {
    if n == 0 || n > 250 {
        return Err(SandboxError::Invalid(format!("{n} instances")));
    }
    let seed = pick_seed();
    for attempt in 0..200u32 {
        let v = seed.wrapping_add(attempt.wrapping_mul(40_503));
        let a = 1 + (v % 250) as u8;
        let b = ((v / 250) % 256) as u8;
        let block: Vec<Ipv4Addr> = (1..=n).map(|i| Ipv4Addr::new(127, a, b, i as u8)).collect();
        if block.iter().all(|&ip| is_free(ip, port)) {
            return Ok(block
                .into_iter()
                .enumerate()
                .map(|(i, ip)| InstanceSpec::new(format!("db{}", i + 1), ip, port, i as u32 + 1))
                .collect());
        }
    }
    Err(SandboxError::NoFreeAddress(format!(
        "block of {n} addresses with port {port} free"
    )))
}

/// A TCP port free on 127.0.0.1 now (asked of the kernel).
pub fn free_port() -> Result<u16, SandboxError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind 127.0.0.1:0", "127.0.0.1"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(io_err("local_addr", "127.0.0.1"))
}

/// `n` specs named `db1`..`dbN`, server ids 1..=N, all on 127.0.0.1 with
/// distinct ports free now.
pub fn localhost_specs(n: usize) -> Result<Vec<InstanceSpec>, SandboxError> {
    // Hold every listener until all ports are chosen so they are distinct.
    let mut held = Vec::with_capacity(n);
    let mut specs = Vec::with_capacity(n);
    for i in 0..n {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("bind 127.0.0.1:0", "127.0.0.1"))?;
        let port = listener.local_addr().map_err(io_err("local_addr", "127.0.0.1"))?.port();
        held.push(listener);
        specs.push(InstanceSpec::new(
            format!("db{}", i + 1),
            Ipv4Addr::LOCALHOST,
            port,
            i as u32 + 1,
        ));
    }
    drop(held);
    Ok(specs)
}

/// Settings shared by every instance of a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Replication account name (`tungsten`).
    pub user: String,
    /// Replication account password (`secret`).
    pub password: String,
    /// Longest wait for an instance to accept connections.
    pub start_timeout: Duration,
    /// Longest wait for `mariadbd` to exit after SIGTERM in [`Instance::stop`].
    pub stop_timeout: Duration,
    /// Longest wait for one helper SQL statement.
    pub sql_timeout: Duration,
    /// Longest wait for instance slots held by other tests of this process
    /// (see [`MAX_INSTANCES_ENV`]).
    pub permit_timeout: Duration,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            user: DEFAULT_USER.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            start_timeout: Duration::from_secs(60),
            stop_timeout: Duration::from_secs(60),
            sql_timeout: Duration::from_secs(60),
            permit_timeout: Duration::from_secs(900),
        }
    }
}

/// Finds a MariaDB binary: `$PATH`, then `/usr/sbin`, `/usr/local/sbin`.
fn find_binary(name: &str) -> Result<PathBuf, SandboxError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| SandboxError::MissingBinary {
            binary: name.to_owned(),
        })
}

fn mariadbd_path() -> Result<PathBuf, SandboxError> {
    match std::env::var_os(MARIADBD_ENV) {
        Some(p) if Path::new(&p).is_file() => Ok(PathBuf::from(p)),
        Some(p) => Err(SandboxError::MissingBinary {
            binary: PathBuf::from(p).display().to_string(),
        }),
        None => find_binary("mariadbd"),
    }
}

/// `mariadbd --version`, e.g. `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for ...`.
fn mariadbd_version(mariadbd: &Path) -> Result<String, SandboxError> {
    let out = Command::new(mariadbd)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(io_err("run mariadbd --version", mariadbd))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown");
    Ok(version.to_owned())
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn cache_root() -> PathBuf {
    std::env::var_os(CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tungsten-mariadb-templates"))
}

/// Returns the template data directory for this `mariadbd`, building it
/// first if needed (atomically: build in a private directory, then rename).
pub fn template_datadir() -> Result<PathBuf, SandboxError> {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    if let Some(t) = TEMPLATE.get() {
        return Ok(t.clone());
    }
    let mariadbd = mariadbd_path()?;
    let install_db = find_binary("mariadb-install-db")?;
    let version = mariadbd_version(&mariadbd)?;
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(io_err("create template cache", &root))?;
    let final_dir = root.join(format!("template-v{TEMPLATE_LAYOUT}-{}", sanitize(&version)));
    if !final_dir.join("mysql").is_dir() {
        let staging = root.join(format!(".staging-{}-{}", std::process::id(), pick_seed()));
        let _ = std::fs::remove_dir_all(&staging);
        let out = Command::new(&install_db)
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", staging.display()))
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg("--skip-name-resolve")
            .arg("--innodb-log-file-size=8M")
            .arg("--innodb-buffer-pool-size=32M")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("run mariadb-install-db", &install_db))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&staging);
            let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&out.stderr));
            return Err(SandboxError::InstallDb {
                status: out.status,
                datadir: staging,
                output: tail_lines(&output, LOG_TAIL_LINES),
            });
        }
        // Whoever renames first wins; a loser drops its own copy.
        if std::fs::rename(&staging, &final_dir).is_err() {
            let _ = std::fs::remove_dir_all(&staging);
            if !final_dir.join("mysql").is_dir() {
                return Err(SandboxError::Io {
                    what: "rename template into place".into(),
                    path: final_dir,
                    source: io::Error::other("rename failed and no template exists"),
                });
            }
        }
    }
    Ok(TEMPLATE.get_or_init(|| final_dir).clone())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), SandboxError> {
    std::fs::create_dir_all(to).map_err(io_err("create directory", to))?;
    for entry in std::fs::read_dir(from).map_err(io_err("read directory", from))? {
        let entry = entry.map_err(io_err("read directory entry", from))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let ty = entry.file_type().map_err(io_err("stat", &src))?;
        if ty.is_dir() {
            copy_dir(&src, &dst)?;
        } else if ty.is_file() {
            std::fs::copy(&src, &dst).map_err(io_err("copy template file", &src))?;
        }
    }
    Ok(())
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of a log file (reads at most its last 64 KiB).
fn tail_file(path: &Path, n: usize) -> String {
    let read = || -> io::Result<String> {
        let mut f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(tail_lines(&String::from_utf8_lossy(&buf), n))
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

// ---------------------------------------------------------------------------
// Spawning from a thread that never exits (PR_SET_PDEATHSIG is per thread).

type SpawnReply = mpsc::Sender<io::Result<Child>>;

fn spawner() -> &'static Mutex<mpsc::Sender<(Command, SpawnReply)>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<(Command, SpawnReply)>>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Command, SpawnReply)>();
        // The thread lives until the process exits: it is the parent thread
        // of every mariadbd, so their death signal fires only when the
        // process itself dies.
        let spawned = std::thread::Builder::new()
            .name("sandbox-spawner".into())
            .spawn(move || {
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
                // All senders gone: never happens (the sender is static), but
                // park rather than exit so children are never signalled.
                loop {
                    std::thread::park();
                }
            });
        if let Err(e) = spawned {
            // Without the thread, spawn_with_death_signal reports the error.
            tracing::error!("cannot start the sandbox spawner thread: {e}");
        }
        Mutex::new(tx)
    })
}

/// Spawns `cmd` so that the child gets SIGKILL when this process dies.
pub fn spawn_with_death_signal(mut cmd: Command) -> io::Result<Child> {
    // SAFETY: getpid is async-signal-safe and has no preconditions.
    let parent = unsafe { libc::getpid() };
    let pre_exec = move || -> io::Result<()> {
        // SAFETY: prctl(PR_SET_PDEATHSIG) and getppid are async-signal-safe
        // and touch no memory of the parent; they run in the forked child.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent exited before exec"));
            }
        }
        Ok(())
    };
    // SAFETY: the closure only calls async-signal-safe functions and
    // allocates nothing on success (see above).
    unsafe {
        cmd.pre_exec(pre_exec);
    }
    let (reply_tx, reply_rx) = mpsc::channel();
    {
        let tx = spawner()
            .lock()
            .map_err(|_| io::Error::other("sandbox spawner lock poisoned"))?;
        tx.send((cmd, reply_tx))
            .map_err(|_| io::Error::other("sandbox spawner thread is gone"))?;
    }
    reply_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| io::Error::other("sandbox spawner thread did not answer"))?
}

// ---------------------------------------------------------------------------

/// One running (or stopped) `mariadbd`.
pub struct Instance {
    spec: InstanceSpec,
    options: SandboxOptions,
    mariadbd: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
    /// Environment variables added to `mariadbd`'s at each start (none
    /// unless [`Instance::set_env`] gave some).
    env: Vec<(String, String)>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("name", &self.spec.name)
            .field("addr", &self.spec.addr())
            .field("server_id", &self.spec.server_id)
            .field("dir", &self.dir)
            .field("pid", &self.pid())
            .finish()
    }
}

impl Instance {
    /// Copies the template into `root/<name>` and starts the instance.
    async fn create(root: &Path, spec: InstanceSpec, options: SandboxOptions) -> Result<Self, SandboxError> {
        if !spec.address.is_loopback() {
            return Err(SandboxError::Invalid(format!(
                "{}: {} is not a loopback address",
                spec.name, spec.address
            )));
        }
        if spec.server_id == 0 {
            return Err(SandboxError::Invalid(format!("{}: server_id 0", spec.name)));
        }
        let mariadbd = mariadbd_path()?;
        let template = template_datadir()?;
        let dir = root.join(&spec.name);
        let mut instance = Self {
            spec,
            options,
            mariadbd,
            dir,
            child: None,
            env: Vec::new(),
        };
        copy_dir(&template, &instance.datadir())?;
        let tmp = instance.dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io_err("create tmpdir", &tmp))?;
        instance.spawn()?;
        instance.wait_ready().await?;
        instance.setup_accounts().await?;
        Ok(instance)
    }

    /// The spec it was started with.
    pub fn spec(&self) -> &InstanceSpec {
        &self.spec
    }
    /// Its name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }
    /// Its address.
    pub fn address(&self) -> Ipv4Addr {
        self.spec.address
    }
    /// Its port.
    pub fn port(&self) -> u16 {
        self.spec.port
    }
    /// Its `--server-id`.
    pub fn server_id(&self) -> u32 {
        self.spec.server_id
    }
    /// Its directory (holds `data/`, `tmp/`, the socket and the logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Its data directory (binlogs are `data/mysql-bin.*`).
    pub fn datadir(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// Its Unix socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("mysqld.sock")
    }
    /// Its error log.
    pub fn error_log(&self) -> PathBuf {
        self.dir.join("error.log")
    }
    /// The pid of the running `mariadbd`, if any.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    /// Whether `mariadbd` is running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }
    /// The replication account name.
    pub fn user(&self) -> &str {
        &self.options.user
    }
    /// The replication account password.
    pub fn password(&self) -> &str {
        &self.options.password
    }

    /// `mysql://user:password@address:port`. Add `?prefer_socket=false` to
    /// keep mysql_async on TCP (as [`Instance::opts`] does).
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@{}:{}",
            self.options.user, self.options.password, self.spec.address, self.spec.port
        )
    }

    /// TCP options as the replication account (socket preference off, so
    /// the connection really uses the instance's address).
    pub fn opts(&self) -> Opts {
        self.opts_builder().into()
    }

    /// [`Instance::opts`] as a builder, to add a database or change the user.
    pub fn opts_builder(&self) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname(self.spec.address.to_string())
            .tcp_port(self.spec.port)
            .user(Some(self.options.user.clone()))
            .pass(Some(self.options.password.clone()))
            .prefer_socket(false)
    }

    /// Options for `root` over the Unix socket (no password).
    pub fn root_opts(&self) -> Opts {
        OptsBuilder::default()
            .socket(Some(self.socket().display().to_string()))
            .user(Some("root"))
            .into()
    }

    fn argv(&self) -> Vec<String> {
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

    fn spawn(&mut self) -> Result<(), SandboxError> {
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
    async fn wait_ready(&mut self) -> Result<(), SandboxError> {
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

    /// Drops the anonymous users and creates the replication account,
    /// without writing to the binlog.
    async fn setup_accounts(&self) -> Result<(), SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = async {
            self.run(&mut conn, "SET SESSION sql_log_bin=0").await?;
            let anonymous = self
                .rows(&mut conn, "SELECT user, host FROM mysql.user WHERE user = ''")
                .await?;
            for row in anonymous {
                let host = row.get(1).cloned().unwrap_or_default();
                let sql = format!("DROP USER ''@'{}'", host.replace('\'', "''"));
                self.run(&mut conn, &sql).await?;
            }
            let user = self.options.user.replace('\'', "''");
            let pass = self.options.password.replace('\'', "''");
            self.run(
                &mut conn,
                &format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pass}'"),
            )
            .await?;
            self.run(
                &mut conn,
                &format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%' WITH GRANT OPTION"),
            )
            .await?;
            self.run(&mut conn, "FLUSH PRIVILEGES").await
        }
        .await;
        let _ = conn.disconnect().await;
        result
    }

    async fn root_conn(&self) -> Result<Conn, SandboxError> {
        let what = "(connect as root)";
        match tokio::time::timeout(self.options.sql_timeout, Conn::new(self.root_opts())).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(source)) => Err(SandboxError::Sql {
                name: self.spec.name.clone(),
                sql: what.into(),
                source,
            }),
            Err(_) => Err(SandboxError::SqlTimeout {
                name: self.spec.name.clone(),
                sql: what.into(),
                waited: self.options.sql_timeout,
            }),
        }
    }

    async fn run(&self, conn: &mut Conn, sql: &str) -> Result<(), SandboxError> {
        match tokio::time::timeout(self.options.sql_timeout, conn.query_drop(sql)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(SandboxError::Sql {
                name: self.spec.name.clone(),
                sql: sql.into(),
                source,
            }),
            Err(_) => Err(SandboxError::SqlTimeout {
                name: self.spec.name.clone(),
                sql: sql.into(),
                waited: self.options.sql_timeout,
            }),
        }
    }

    async fn rows(&self, conn: &mut Conn, sql: &str) -> Result<Vec<Vec<String>>, SandboxError> {
        let rows: Vec<Row> = match tokio::time::timeout(self.options.sql_timeout, conn.query(sql)).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(source)) => {
                return Err(SandboxError::Sql {
                    name: self.spec.name.clone(),
                    sql: sql.into(),
                    source,
                })
            }
            Err(_) => {
                return Err(SandboxError::SqlTimeout {
                    name: self.spec.name.clone(),
                    sql: sql.into(),
                    waited: self.options.sql_timeout,
                })
            }
        };
        Ok(rows
            .into_iter()
            .map(|row| row.unwrap().into_iter().map(value_to_string).collect())
            .collect())
    }

    /// Runs statements (several may be separated by `;`) as root on a fresh
    /// connection.
    pub async fn exec(&self, sql: &str) -> Result<(), SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = self.run(&mut conn, sql).await;
        let _ = conn.disconnect().await;
        result
    }

    /// Runs a query as root on a fresh connection and returns its rows, each
    /// value as text (`NULL` as the string `"NULL"`; binary values lossily
    /// decoded as UTF-8).
    pub async fn query(&self, sql: &str) -> Result<Vec<Vec<String>>, SandboxError> {
        let mut conn = self.root_conn().await?;
        let result = self.rows(&mut conn, sql).await;
        let _ = conn.disconnect().await;
        result
    }

    /// The first column of the first row, if any.
    pub async fn query_value(&self, sql: &str) -> Result<Option<String>, SandboxError> {
        Ok(self
            .query(sql)
            .await?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next()))
    }

    /// `CHECKSUM TABLE db.table` (for comparing source and target). Fails if
    /// the table does not exist.
    pub async fn checksum_table(&self, table: &str) -> Result<u64, SandboxError> {
        let sql = format!("CHECKSUM TABLE {table}");
        let rows = self.query(&sql).await?;
        let value = rows.first().and_then(|r| r.get(1)).cloned();
        match value.as_deref().map(str::parse::<u64>) {
            Some(Ok(v)) => Ok(v),
            _ => Err(SandboxError::Unexpected {
                name: self.spec.name.clone(),
                sql,
                detail: format!("checksum {value:?} (does the table exist?)"),
            }),
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
    }
}

fn value_to_string(v: Value) -> String {
    match v {
        Value::NULL => "NULL".to_owned(),
        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        other => other.as_sql(true).trim_matches('\'').to_owned(),
    }
}

const ROOT_PREFIX: &str = "tungsten-sandbox-";
const OWNER_FILE: &str = "owner.pid";

/// Removes the roots left by test processes that were SIGKILLed (their
/// `mariadbd` died with them, but `TempDir` never ran): a root whose
/// `owner.pid` names a process that no longer exists. Best effort.
fn sweep_stale_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(ROOT_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(pid) = std::fs::read_to_string(dir.join(OWNER_FILE)) else {
            continue;
        };
        let alive = pid
            .trim()
            .parse::<u32>()
            .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            tracing::info!(dir = %dir.display(), "removing stale sandbox root");
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A set of instances sharing one temporary root directory. Dropping it
/// kills every instance, then removes the directory.
pub struct Sandbox {
    // Declared before `root`: instances die before their files go.
    instances: Vec<Instance>,
    root: tempfile::TempDir,
    // Released last, once every instance is dead.
    _permits: tokio::sync::OwnedSemaphorePermit,
}

/// Environment variable capping the `mariadbd` a test process runs at
/// once (default [`DEFAULT_MAX_INSTANCES`]).
pub const MAX_INSTANCES_ENV: &str = "TUNGSTEN_SANDBOX_MAX_INSTANCES";
/// Default cap of `mariadbd` per test process (the build machine has 2
/// cores shared by several engineers).
pub const DEFAULT_MAX_INSTANCES: usize = 3;

fn max_instances() -> usize {
    std::env::var(MAX_INSTANCES_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_MAX_INSTANCES)
}

/// Takes `n` of the process-wide instance permits, so tests run in
/// parallel queue instead of starting more than the cap (bounded wait).
async fn acquire_instance_permits(
    n: usize,
    waited: Duration,
) -> Result<tokio::sync::OwnedSemaphorePermit, SandboxError> {
    // The semaphore and its capacity: a later, larger cap (the cluster
    // harness raises it to 6 for its six hosts) adds permits, so a process
    // whose first sandbox was made under the default cap never waits for
    // permits that do not exist.
    static PERMITS: OnceLock<Mutex<(usize, std::sync::Arc<tokio::sync::Semaphore>)>> = OnceLock::new();
    let max = max_instances();
    if n > max {
        return Err(SandboxError::Invalid(format!(
            "{n} instances asked, at most {max} per process (set {MAX_INSTANCES_ENV} to raise it)"
        )));
    }
    let semaphore = {
        let cell = PERMITS.get_or_init(|| Mutex::new((max, std::sync::Arc::new(tokio::sync::Semaphore::new(max)))));
        let mut guard = cell
            .lock()
            .map_err(|_| SandboxError::Invalid("instance semaphore lock poisoned".into()))?;
        let (cap, semaphore) = &mut *guard;
        if max > *cap {
            semaphore.add_permits(max - *cap);
            *cap = max;
        }
        semaphore.clone()
    };
    let count = u32::try_from(n).map_err(|_| SandboxError::Invalid(format!("{n} instances")))?;
    match tokio::time::timeout(waited, semaphore.acquire_many_owned(count)).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(_)) => Err(SandboxError::Invalid("instance semaphore closed".into())),
        Err(_) => Err(SandboxError::Invalid(format!(
            "waited {waited:?} for {n} of {max} instance slots held by other tests"
        ))),
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("root", &self.root.path())
            .field("instances", &self.instances)
            .finish()
    }
}

impl Sandbox {
    /// Starts one instance per spec with default options.
    pub async fn start(specs: Vec<InstanceSpec>) -> Result<Self, SandboxError> {
        Self::start_with(specs, SandboxOptions::default()).await
    }

    /// Starts one instance per spec. On error, the instances already started
    /// are killed.
    pub async fn start_with(specs: Vec<InstanceSpec>, options: SandboxOptions) -> Result<Self, SandboxError> {
        for (i, a) in specs.iter().enumerate() {
            for b in &specs[i + 1..] {
                if a.name == b.name {
                    return Err(SandboxError::Invalid(format!("duplicate name {}", a.name)));
                }
                if a.address == b.address && a.port == b.port {
                    return Err(SandboxError::Invalid(format!(
                        "{} and {} both on {}",
                        a.name,
                        b.name,
                        a.addr()
                    )));
                }
                if a.server_id == b.server_id {
                    return Err(SandboxError::Invalid(format!(
                        "{} and {} both have server_id {}",
                        a.name, b.name, a.server_id
                    )));
                }
            }
        }
        let permits = acquire_instance_permits(specs.len(), options.permit_timeout).await?;
        sweep_stale_roots();
        let root = tempfile::Builder::new()
            .prefix(ROOT_PREFIX)
            .tempdir()
            .map_err(io_err("create sandbox root", std::env::temp_dir()))?;
        let owner = root.path().join(OWNER_FILE);
        std::fs::write(&owner, std::process::id().to_string()).map_err(io_err("write owner pid", &owner))?;
        let mut sandbox = Self {
            instances: Vec::with_capacity(specs.len()),
            root,
            _permits: permits,
        };
        for spec in specs {
            let instance = Instance::create(sandbox.root.path(), spec, options.clone()).await?;
            sandbox.instances.push(instance);
        }
        Ok(sandbox)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// All instances, in spec order.
    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }

    /// All instances, mutably.
    pub fn instances_mut(&mut self) -> &mut [Instance] {
        &mut self.instances
    }

    /// The instance named `name`.
    ///
    /// # Panics
    /// If there is no such instance (a bug in the test).
    pub fn get(&self, name: &str) -> &Instance {
        match self.instances.iter().find(|i| i.name() == name) {
            Some(i) => i,
            None => panic!("no sandbox instance named {name}"),
        }
    }

    /// The instance named `name`, mutably.
    ///
    /// # Panics
    /// If there is no such instance (a bug in the test).
    pub fn get_mut(&mut self, name: &str) -> &mut Instance {
        match self.instances.iter_mut().find(|i| i.name() == name) {
            Some(i) => i,
            None => panic!("no sandbox instance named {name}"),
        }
    }

    /// Stops every running instance gracefully (bounded), reporting the
    /// first failure after trying them all.
    pub async fn stop_all(&mut self) -> Result<(), SandboxError> {
        let mut first_err = None;
        for instance in &mut self.instances {
            if instance.is_running() {
                if let Err(e) = instance.stop().await {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Keeps the root directory after drop (for post-mortem); the instances
    /// are still killed. Returns its path.
    pub fn keep_files(&mut self) -> PathBuf {
        let path = self.root.path().to_path_buf();
        self.root.disable_cleanup(true);
        path
    }
}

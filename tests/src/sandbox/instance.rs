//! [`Instance`]: one `mariadbd` of a sandbox: its creation (template copied
//! into its directory, started, replication account set up), its directory
//! layout, and how to reach it (accessors, TCP and socket options).
//!
//! Invariants:
//! * Only loopback addresses (`127.0.0.0/8`) and non-zero server ids are
//!   accepted.
//! * The directory layout, also used by `server.rs` (`argv`): `data/` (the
//!   data directory, binlogs `data/mysql-bin.*`), `tmp/`, `mysqld.sock`,
//!   `mysqld.pid`, `error.log`, `console.log` (stdout and stderr).
//! * [`Instance::opts`] uses TCP as the replication account with socket
//!   preference off, so a connection really goes through the instance's
//!   address; [`Instance::root_opts`] is `root` over the Unix socket (what
//!   the helpers of `sql.rs` use, whatever a test does to the account).
//! * The fields are `pub(super)`: only the files of `sandbox/` touch them;
//!   the process is managed by `server.rs`, the SQL helpers are in `sql.rs`.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Child;

use mysql_async::{Opts, OptsBuilder};

use super::binaries::mariadbd_path;
use super::error::{io_err, SandboxError};
use super::spec::{InstanceSpec, SandboxOptions};
use super::template::{copy_dir, template_datadir};

/// One running (or stopped) `mariadbd`.
pub struct Instance {
    pub(super) spec: InstanceSpec,
    pub(super) options: SandboxOptions,
    pub(super) mariadbd: PathBuf,
    pub(super) dir: PathBuf,
    pub(super) child: Option<Child>,
    /// Environment variables added to `mariadbd`'s at each start (none
    /// unless [`Instance::set_env`] gave some).
    pub(super) env: Vec<(String, String)>,
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
    pub(super) async fn create(root: &Path, spec: InstanceSpec, options: SandboxOptions) -> Result<Self, SandboxError> {
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
}

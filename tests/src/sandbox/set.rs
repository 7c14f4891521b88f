//! [`Sandbox`]: a set of instances sharing one temporary root directory:
//! starting them (specs checked, permits taken, stale roots swept, root
//! made), finding them by name, stopping them all, and the teardown.
//!
//! Invariants:
//! * Names, `address:port` pairs and server ids are distinct within a
//!   sandbox (checked before anything starts).
//! * The root records its owner's pid (`owner.pid`, see `cleanup.rs`).
//! * Drop order is the field order: the instances die (killed by pid,
//!   `server.rs`), then the root directory goes (unless
//!   [`Sandbox::keep_files`]), then the instance permits (`permits.rs`) are
//!   released.
//! * On a failed start, the instances already started are killed (dropped).

use std::fmt;
use std::path::{Path, PathBuf};

use super::cleanup::{sweep_stale_roots, OWNER_FILE, ROOT_PREFIX};
use super::error::{io_err, SandboxError};
use super::instance::Instance;
use super::permits::acquire_instance_permits;
use super::spec::{InstanceSpec, SandboxOptions};

/// A set of instances sharing one temporary root directory. Dropping it
/// kills every instance, then removes the directory.
pub struct Sandbox {
    // Declared before `root`: instances die before their files go.
    instances: Vec<Instance>,
    root: tempfile::TempDir,
    // Released last, once every instance is dead.
    _permits: tokio::sync::OwnedSemaphorePermit,
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
        check_distinct(&specs)?;
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

/// Names, `address:port` pairs and server ids must be distinct.
fn check_distinct(specs: &[InstanceSpec]) -> Result<(), SandboxError> {
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
    Ok(())
}

//! The cap on `mariadbd` per test process: sandboxes of tests running in
//! parallel wait (bounded) for slots, so plain `cargo test` is safe too.
//!
//! Invariants: at most [`DEFAULT_MAX_INSTANCES`], or
//! `$TUNGSTEN_SANDBOX_MAX_INSTANCES` ([`MAX_INSTANCES_ENV`]), instances run
//! at once in one process. A later, larger cap (`tests/src/cluster.rs`
//! raises it to 6 for its six hosts) adds permits, so a process whose first
//! sandbox was made under the default cap never waits for permits that do
//! not exist. Asking more than the cap fails at once; waiting is bounded by
//! `permit_timeout`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::error::SandboxError;

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
pub(super) async fn acquire_instance_permits(
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

//! Crash points: named places where a fault-injection test makes the
//! process die as a SIGKILL would (no destructor, no flush, no fsync).
//!
//! Compiled only with the `failpoints` feature (the `tests` package enables
//! it; `cargo build --release -p replicator` does not): without it every
//! [`crash_point`] is an empty inline function.
//!
//! Arming: the `FAILPOINTS` environment variable of the process, read once
//! by [`arm_from_env`] at start, in the `fail` crate's syntax, e.g.
//! `FAILPOINTS='applier.before-commit=3*off->return'` dies at the fourth
//! time the applier is about to COMMIT. `return` means "die here"; the
//! crate's other actions (`sleep(ms)`, `pause`, `panic`) work as documented
//! there.
//!
//! The points, by the window of exactly-once they test (each is named in
//! `FAULTS.md` with its test):
//!
//! | name | where |
//! |---|---|
//! | [`THL_BEFORE_SYNC`] | `Writer::commit`: records written to the OS, not yet fdatasynced |
//! | [`THL_TORN_WRITE`] | `Writer`: half of a record written to the OS, then death |
//! | [`THL_BEFORE_SEGMENT_DELETE`] | purge/retention: about to delete a THL file |
//! | [`CLIENT_MID_BATCH`] | THL client: some records of a received batch appended, not committed |
//! | [`CLIENT_AFTER_STORE`] | THL client (slave, relay): batch stored, not yet acknowledged |
//! | [`APPLIER_BEFORE_COMMIT`] | applier: block's statements and position written, COMMIT not sent |
//! | [`APPLIER_AFTER_DDL`] | applier: a DDL executed (it committed itself), its position not |
//!
//! Two more points make the THL's disk fail instead of killing the process
//! (`store::RealIo`), e.g. `FAILPOINTS='thl.disk-full=5*off->20*return'`
//! fails 20 writes after 5 good ones, then the space "returns":
//!
//! | name | failure |
//! |---|---|
//! | [`THL_DISK_FULL`] | a write of THL bytes fails with ENOSPC |
//! | [`THL_SYNC_FAILS`] | an fdatasync of a THL file fails with EIO |

/// `thl::store::Writer::commit`, between the write to the OS and fdatasync.
pub const THL_BEFORE_SYNC: &str = "thl.before-sync";
/// `thl::store::Writer`, after writing the first half of a record's bytes.
pub const THL_TORN_WRITE: &str = "thl.torn-write";
/// `thl::store::Writer`, before deleting a purged or retired file.
pub const THL_BEFORE_SEGMENT_DELETE: &str = "thl.before-segment-delete";
/// The THL client, after appending the first record of a batch.
pub const CLIENT_MID_BATCH: &str = "client.mid-batch";
/// The THL client, after storing a batch and before acknowledging it.
pub const CLIENT_AFTER_STORE: &str = "client.after-store";
/// The applier, before the COMMIT of a block.
pub const APPLIER_BEFORE_COMMIT: &str = "applier.before-commit";
/// The applier, after a DDL statement and before its position commits.
pub const APPLIER_AFTER_DDL: &str = "applier.after-ddl";

/// Every point, for the torture run's choice and for validation.
pub const ALL: [&str; 7] = [
    THL_BEFORE_SYNC,
    THL_TORN_WRITE,
    THL_BEFORE_SEGMENT_DELETE,
    CLIENT_MID_BATCH,
    CLIENT_AFTER_STORE,
    APPLIER_BEFORE_COMMIT,
    APPLIER_AFTER_DDL,
];

/// `store::RealIo::write_all` fails with ENOSPC.
pub const THL_DISK_FULL: &str = "thl.disk-full";
/// `store::RealIo::sync_data` fails with EIO.
pub const THL_SYNC_FAILS: &str = "thl.sync-fails";

/// The points that make an operation fail (not the process die).
pub const ERROR_POINTS: [&str; 2] = [THL_DISK_FULL, THL_SYNC_FAILS];

/// Whether this build carries crash points.
pub const ENABLED: bool = cfg!(feature = "failpoints");

/// Set once `FAILPOINTS` armed a point: until then every point costs one
/// atomic load (no registry lookup in the paths they sit on).
#[cfg(feature = "failpoints")]
static ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Arms the points named in `FAILPOINTS` (a no-op without the feature).
/// Returns the names armed, for the start-up log.
pub fn arm_from_env() -> Vec<String> {
    #[cfg(feature = "failpoints")]
    {
        let scenario = fail::FailScenario::setup();
        // The scenario lives as long as the process.
        std::mem::forget(scenario);
        let armed: Vec<String> = fail::list()
            .into_iter()
            .map(|(name, action)| format!("{name}={action}"))
            .collect();
        ARMED.store(!armed.is_empty(), std::sync::atomic::Ordering::Release);
        armed
    }
    #[cfg(not(feature = "failpoints"))]
    {
        Vec::new()
    }
}

/// Dies here, as by SIGKILL, when the point `name` is armed with `return`.
#[inline]
pub fn crash_point(name: &str) {
    if fires(name) {
        die(name);
    }
}

/// Whether the point `name` is armed to fire now (for points that must do
/// something before dying, such as a torn write). Consumes one hit.
#[cfg(feature = "failpoints")]
pub fn fires(name: &str) -> bool {
    ARMED.load(std::sync::atomic::Ordering::Acquire) && fail::eval(name, |_| ()).is_some()
}

/// Without the feature: never.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn fires(_name: &str) -> bool {
    false
}

/// SIGKILL of this process (stderr first, so the log says why).
pub fn die(name: &str) -> ! {
    eprintln!("failpoint {name}: killing the process");
    // SAFETY: kill(2) on our own pid with a valid signal number.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

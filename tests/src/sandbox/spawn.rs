//! Spawning a child that dies with this process: [`spawn_with_death_signal`]
//! (used for `mariadbd` by `server.rs`, and for the replicator and
//! mysqltest processes by `tests/src/process.rs` and
//! `tests/src/conformance/run.rs`).
//!
//! Invariants: every child is spawned with `prctl(PR_SET_PDEATHSIG,
//! SIGKILL)`, so a test process killed with SIGKILL leaves no orphan.
//! Because the death signal fires when the *thread* that forked exits, every
//! child is forked from one dedicated thread that lives as long as the
//! process (never from a tokio worker or blocking-pool thread, which may
//! exit while the child should still run). A child whose parent died
//! between fork and `prctl` fails to start instead of living on.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

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

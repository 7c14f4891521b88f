//! Free addresses and ports: [`loopback_specs`] (one loopback address per
//! instance, all on the same port, as the deployment does: all of
//! 127.0.0.0/8 is routed to `lo` on Linux), [`localhost_specs`] (127.0.0.1,
//! distinct ports) and [`free_port`].
//!
//! Invariants: an address or port is chosen only if it can be bound at the
//! time of the call, and the search starts from a seed mixing the pid, the
//! clock and a counter ([`pick_seed`]), so several engineers' sandboxes on
//! one machine do not pick the same block. `loopback_specs` never picks
//! 127.0.0.x. Free now is not free later: a race with another process is
//! reported by the instance's start, not prevented here.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::{io_err, SandboxError};
use super::spec::InstanceSpec;

fn is_free(addr: Ipv4Addr, port: u16) -> bool {
    TcpListener::bind((addr, port)).is_ok()
}

static PICK_COUNTER: AtomicU32 = AtomicU32::new(0);

pub(super) fn pick_seed() -> u32 {
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

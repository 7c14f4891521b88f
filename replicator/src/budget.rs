//! How many bytes of THL records may be in flight between a thread that
//! reads the THL and the task that uses what it read: the apply stage's
//! reader and its appliers (`pipeline/apply.rs`), a THL server's feeder and
//! its client's socket (`thl_net/server.rs`).
//!
//! A count of records bounds nothing when records are fragments of a large
//! transaction (a megabyte of THL each, several once decoded): 512 queued
//! fragments held half a gigabyte on a slave applying a million-row
//! transaction, and 256 queued for a THL client kept as many pages of the
//! memory map resident. So every record read takes a [`Ticket`] for its
//! size before it is queued, and the ticket travels with the record (or
//! the event decoded from it) until it has been used: dropping it gives the
//! bytes back.
//!
//! # Invariants
//!
//! * The tickets alive at any time add up to at most the budget's size in
//!   THL bytes (a record larger than the whole budget takes all of it, so
//!   it travels alone).
//! * A reader waiting for room always wakes: when a ticket is dropped (the
//!   consumer used its record, or dropped its queue with the records in
//!   it, as the THL server's client task does when it ends), or when the
//!   budget is closed ([`Budget::close`]: refused at once, as the apply
//!   stage does when it stops its reader).

use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The THL bytes of records read and not yet used, at most, per reader.
pub const IN_FLIGHT_BYTES: usize = 8 << 20;

/// The room for events in flight (see the module doc).
#[derive(Debug, Clone)]
pub struct Budget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    taken: usize,
    closed: bool,
}

/// The bytes one event holds of the budget, given back when dropped.
#[derive(Debug)]
pub struct Ticket {
    shared: Arc<Shared>,
    bytes: usize,
}

impl Budget {
    /// A budget of `bytes` (at least one).
    pub fn new(bytes: usize) -> Budget {
        Budget {
            shared: Arc::new(Shared {
                size: bytes.max(1),
                state: Mutex::new(State::default()),
                freed: Condvar::new(),
            }),
        }
    }

    /// Waits (blocking the calling thread: never call it on an async
    /// worker) until `bytes` fit, and takes them; `None` once the budget is
    /// closed.
    pub fn take_blocking(&self, bytes: usize) -> Option<Ticket> {
        self.take(bytes, true)
    }

    /// Takes `bytes` if they fit now.
    #[cfg(test)]
    fn try_take(&self, bytes: usize) -> Option<Ticket> {
        self.take(bytes, false)
    }

    /// Takes `bytes` (a larger request takes the whole budget), waiting for
    /// room when `wait`; `None` when closed, or full and not waiting.
    fn take(&self, bytes: usize, wait: bool) -> Option<Ticket> {
        let bytes = bytes.clamp(1, self.shared.size);
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.closed {
                return None;
            }
            if state.taken + bytes <= self.shared.size {
                state.taken += bytes;
                return Some(Ticket {
                    shared: Arc::clone(&self.shared),
                    bytes,
                });
            }
            if !wait {
                return None;
            }
            state = self.shared.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Refuses every ticket from now on (a waiting taker gets `None`).
    pub fn close(&self) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.shared.freed.notify_all();
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.taken -= self.bytes;
        drop(state);
        self.shared.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn tickets_hold_their_bytes_until_dropped_and_a_huge_one_travels_alone() {
        let budget = Budget::new(10 << 10);
        let a = budget.try_take(6 << 10).expect("fits");
        assert!(budget.try_take(5 << 10).is_none(), "6 + 5 KiB over 10 KiB");
        let b = budget.try_take(4 << 10).expect("6 + 4 KiB fit");
        drop(a);
        let huge = budget.try_take(1 << 30);
        assert!(huge.is_none(), "the huge one waits for all of the room");
        drop(b);
        let huge = budget.try_take(1 << 30).expect("alone, it takes the whole budget");
        assert!(budget.try_take(1).is_none());
        drop(huge);
        assert!(budget.try_take(10 << 10).is_some(), "all of it is free again");
    }

    #[test]
    fn a_closed_budget_wakes_a_waiting_taker_with_none() {
        let budget = Budget::new(1 << 10);
        let held = budget.try_take(1 << 10).expect("fits");
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.take_blocking(1).is_none())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        budget.close();
        assert!(waiter.join().expect("the waiter returns"), "closed: no ticket");
        drop(held);
    }
}

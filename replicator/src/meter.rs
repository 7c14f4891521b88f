//! Per-stage work meters: how many THL events a pipeline stage handled and
//! how long it was busy with them (`trepctl perf`, `status -name tasks`,
//! `/metrics`).
//!
//! Invariants: a stage records only after the work is done (an event
//! counted was extracted, stored, sent or applied); busy time is the time
//! the stage spent on that work, not the time it waited for input, so
//! `busy / events` is the time per event and `1 / that` the rate the stage
//! could sustain. Counters only grow (Prometheus counters);
//! [`StageMeter::recent_rate`] is the rate between two readings at least
//! [`WINDOW`] apart (readers close windows; writers never wait). Recording is
//! lock-free (relaxed atomics): readers may see an event counted before
//! its busy time, never a torn value.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The span over which [`StageMeter::recent_rate`] measures.
pub const WINDOW: Duration = Duration::from_secs(5);

/// One stage's counters.
#[derive(Debug)]
pub struct StageMeter {
    events: AtomicU64,
    busy_ns: AtomicU64,
    /// Work waiting for the stage (`-1`: the stage does not measure it).
    queue: AtomicI64,
    /// The current window: its start and the event count then; and the
    /// rate of the last complete window.
    window: Mutex<Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    events_at_start: u64,
    last_rate: f64,
}

/// A reading of a [`StageMeter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageReading {
    /// Events handled since the process started.
    pub events: u64,
    /// Seconds spent on them.
    pub busy_seconds: f64,
    /// Events per second over the last window.
    pub recent_rate: f64,
    /// Work waiting (`None`: not measured by this stage).
    pub queue: Option<u64>,
}

impl StageReading {
    /// Milliseconds of work per event (`None` before the first event).
    pub fn ms_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.busy_seconds * 1000.0 / self.events as f64)
    }
}

impl Default for StageMeter {
    fn default() -> Self {
        StageMeter {
            events: AtomicU64::new(0),
            busy_ns: AtomicU64::new(0),
            queue: AtomicI64::new(-1),
            window: Mutex::new(Window {
                start: Instant::now(),
                events_at_start: 0,
                last_rate: 0.0,
            }),
        }
    }
}

impl StageMeter {
    /// `events` were handled in `busy`.
    pub fn record(&self, events: u64, busy: Duration) {
        self.events.fetch_add(events, Relaxed);
        self.busy_ns
            .fetch_add(u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX), Relaxed);
    }

    /// Times `work` and records it as `events` events.
    pub fn time<T>(&self, events: u64, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let out = work();
        self.record(events, started.elapsed());
        out
    }

    /// The work waiting for the stage now.
    pub fn set_queue(&self, waiting: u64) {
        self.queue.store(i64::try_from(waiting).unwrap_or(i64::MAX), Relaxed);
    }

    /// Events per second over the last window: once the current window
    /// is [`WINDOW`] old, its rate (and a new window starts); before, the
    /// rate of the window before.
    pub fn recent_rate(&self) -> f64 {
        let now = Instant::now();
        let events = self.events.load(Relaxed);
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let elapsed = now.duration_since(w.start);
        let current = events.saturating_sub(w.events_at_start) as f64 / elapsed.as_secs_f64().max(1e-3);
        if elapsed >= WINDOW {
            *w = Window {
                start: now,
                events_at_start: events,
                last_rate: current,
            };
            return current;
        }
        w.last_rate
    }

    /// A reading of every figure.
    pub fn read(&self) -> StageReading {
        let queue = self.queue.load(Relaxed);
        StageReading {
            events: self.events.load(Relaxed),
            busy_seconds: self.busy_ns.load(Relaxed) as f64 / 1e9,
            recent_rate: self.recent_rate(),
            queue: u64::try_from(queue).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_busy_time_add_up_and_give_the_time_per_event() {
        let m = StageMeter::default();
        assert_eq!(m.read().ms_per_event(), None);
        assert_eq!(m.read().queue, None);
        m.record(3, Duration::from_millis(6));
        m.record(1, Duration::from_millis(2));
        m.set_queue(7);
        let r = m.read();
        assert_eq!((r.events, r.queue), (4, Some(7)));
        assert!((r.ms_per_event().unwrap_or_default() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn the_recent_rate_is_measured_over_a_window() {
        let m = StageMeter::default();
        // Pretend the window started a window ago.
        m.window.lock().expect("window lock").start = Instant::now() - WINDOW;
        m.time(50, || ());
        let rate = m.recent_rate();
        assert!(rate > 8.0 && rate <= 10.0, "50 events over ~5 s: {rate}");
        // Until the next window closes, the last one's rate is reported.
        m.record(1000, Duration::ZERO);
        assert_eq!(m.recent_rate(), rate);
    }
}

//! The last hour of each service, for the status page's charts and
//! `GET /api/v2/replicator/service/NAME/history`: a ring of samples per
//! service (time, state, applied seqno, both latencies, apply rate),
//! taken every [`SAMPLE_EVERY`] by a task [`Manager::new`] starts
//! ([`spawn_sampler`]).
//!
//! Invariants:
//!
//! * Memory is bounded: at most [`CAPACITY`] samples per service (an hour
//!   at [`SAMPLE_EVERY`]), the oldest dropped first, and rings only for the
//!   services of the host's plan (nothing read from the network creates
//!   one).
//! * A figure that is not known is `None`, never invented: the latencies
//!   before anything was applied, the rate of the first sample and of one
//!   taken after the pipeline's apply counter restarted (a new pipeline
//!   counts from 0).
//! * The sampler holds the manager only while it samples (a `Weak`
//!   otherwise) and ends once the manager is gone.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use control::responses::{HistoryResponse, HistorySample};
use thl::seqno::Seqno;

use super::manager::{Manager, Service};
use super::status;
use crate::clock::now_ms;

/// How often each service is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// Samples kept per service: one hour at [`SAMPLE_EVERY`].
pub const CAPACITY: usize = 360;

/// One service's ring and what the next rate is computed from.
#[derive(Debug, Default)]
struct Ring {
    samples: VecDeque<HistorySample>,
    /// The apply counter and the time of the previous sample.
    last: Option<(u64, i64)>,
}

/// The rings of a host's services.
#[derive(Debug)]
pub struct History {
    capacity: usize,
    interval: Duration,
    rings: Mutex<BTreeMap<String, Ring>>,
}

impl History {
    /// Rings for `services`, each of at most `capacity` samples taken every
    /// `interval`.
    pub fn new<'a>(services: impl IntoIterator<Item = &'a str>, capacity: usize, interval: Duration) -> History {
        History {
            capacity: capacity.max(1),
            interval,
            rings: Mutex::new(services.into_iter().map(|s| (s.to_owned(), Ring::default())).collect()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Ring>> {
        self.rings.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one sample of `service` taken at `at_ms`, with its apply
    /// counter `applied_count` (the rate is its growth since the previous
    /// sample). A service without a ring is ignored.
    pub fn record(&self, service: &str, at_ms: i64, applied_count: u64, mut sample: HistorySample) {
        let mut rings = self.lock();
        let Some(ring) = rings.get_mut(service) else {
            return;
        };
        sample.time_ms = at_ms;
        sample.rate = match ring.last {
            Some((count, then)) if applied_count >= count && at_ms > then => {
                Some((applied_count - count) as f64 * 1000.0 / (at_ms - then) as f64)
            }
            _ => None,
        };
        ring.last = Some((applied_count, at_ms));
        while ring.samples.len() >= self.capacity {
            ring.samples.pop_front();
        }
        ring.samples.push_back(sample);
    }

    /// Samples `s` now.
    pub fn sample(&self, s: &Service) {
        let v = s.view();
        let sample = HistorySample {
            applied_last_seqno: Seqno::or_minus_one(v.progress.applied_seqno),
            applied_latency: status::applied_latency(&v),
            rate: None,
            relative_latency: status::relative_latency(&v),
            state: v.state,
            time_ms: 0,
        };
        self.record(s.name(), now_ms(), v.progress.applied_count, sample);
    }

    /// The samples of `service`, oldest first (`None`: no such ring).
    pub fn get(&self, service: &str) -> Option<HistoryResponse> {
        let rings = self.lock();
        let ring = rings.get(service)?;
        Some(HistoryResponse {
            interval_seconds: self.interval.as_secs(),
            samples: ring.samples.iter().cloned().collect(),
            service_name: service.to_owned(),
        })
    }
}

/// Samples every service of `manager` every `every`, the first at once,
/// until the manager is dropped.
pub async fn run_sampler(manager: Weak<Manager>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(m) = manager.upgrade() else {
            return;
        };
        for s in m.services() {
            m.history().sample(s);
        }
    }
}

/// Starts [`run_sampler`] on the current tokio runtime; without one (a
/// manager built outside a runtime, in a test) nothing samples.
pub fn spawn_sampler(manager: Weak<Manager>, every: Duration) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(run_sampler(manager, every));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::State;

    fn sample(seqno: i64) -> HistorySample {
        HistorySample {
            applied_last_seqno: seqno,
            applied_latency: Some(0.5),
            rate: None,
            relative_latency: Some(1.0),
            state: State::Online,
            time_ms: 0,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_rates_come_from_counts() {
        let h = History::new(["alpha"], 3, Duration::from_secs(10));
        h.record("alpha", 10_000, 0, sample(0));
        h.record("alpha", 20_000, 50, sample(50));
        h.record("alpha", 30_000, 50, sample(50));
        // The pipeline restarted: its counter is lower, the rate unknown.
        h.record("alpha", 40_000, 7, sample(57));
        h.record("alpha", 50_000, 27, sample(77));
        let got = h.get("alpha").expect("ring");
        assert_eq!(got.interval_seconds, 10);
        let times: Vec<i64> = got.samples.iter().map(|s| s.time_ms).collect();
        assert_eq!(times, [30_000, 40_000, 50_000]);
        let rates: Vec<Option<f64>> = got.samples.iter().map(|s| s.rate).collect();
        assert_eq!(rates, [Some(0.0), None, Some(2.0)]);
        assert_eq!(got.samples[2].applied_last_seqno, 77);
    }

    #[test]
    fn the_first_rate_is_unknown_and_unknown_services_get_no_ring() {
        let h = History::new(["alpha"], CAPACITY, SAMPLE_EVERY);
        h.record("alpha", 1_000, 5, sample(4));
        h.record("nope", 2_000, 5, sample(4));
        assert_eq!(h.get("alpha").expect("ring").samples[0].rate, None);
        assert!(h.get("nope").is_none());
    }

    #[tokio::test]
    async fn the_sampler_samples_every_service_and_ends_with_its_manager() {
        let (_d, _fake, m) = crate::service::tests::fixture();
        // Manager::new started one sampler (every 10 s, the first at once).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while m.history().get("alpha").expect("ring").samples.is_empty() {
            assert!(std::time::Instant::now() < deadline, "no sample within 5 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let first = &m.history().get("alpha").expect("ring").samples[0];
        assert_eq!(first.state, State::OfflineNormal);
        assert_eq!(first.applied_last_seqno, -1);
        assert_eq!(first.applied_latency, None);
        let weak = std::sync::Arc::downgrade(&m);
        let task = tokio::spawn(run_sampler(weak, Duration::from_millis(5)));
        drop(m);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the sampler ends once the manager is gone")
            .expect("no panic");
    }
}

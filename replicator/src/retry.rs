//! One retry policy for the loops that outlive a transient failure.
//!
//! An error says what its caller must do (`is_transient()`: retry; else
//! stop and tell the operator). A loop that retries waits a [`Backoff`]
//! between attempts: the first wait is [`Policy::initial`], each next one
//! twice the last up to [`Policy::cap`], optionally jittered (each wait
//! drawn from the upper half of its step, so that clients cut off together
//! do not come back together), and back to `initial` once the operation
//! made progress. Where an identical failure repeating means that retrying
//! cannot help, a [`Streak`] counts it and a [`Limit`] says when to give
//! up.
//!
//! Which layer retries what (each loop retries only its own operation;
//! what it cannot retry goes up as a definite error):
//!
//! | loop | retries | policy | progress resets | gives up |
//! |---|---|---|---|---|
//! | THL client (`thl_net/client.rs`) | connecting and streaming from an upstream, its URIs in turn | 500 ms → 10 s, jittered | records were streamed | never (definite errors stop it) |
//! | master (`pipeline/master.rs`) | the source connection and extraction session | 200 ms → 5 s | it had been streaming | never |
//! | apply stage (`pipeline/apply.rs`) | applying from the committed position | 200 ms → 5 s | a transaction was applied | the same seqno failing with the same server error 10 times or for 10 minutes |
//! | slave (`pipeline/slave.rs`) | connecting the applier to its target | 200 ms → 5 s | — | never |
//! | service manager (`service/manager.rs`) | relaunching a pipeline that ended with a transient error | 200 ms → 5 s | — | never (a definite error is OFFLINE:ERROR) |
//!
//! Invariants: a wait is never shorter than half of `initial` nor longer
//! than `cap`; without jitter the waits are exactly `initial`, `2·initial`,
//! ... `cap`.

use std::time::{Duration, Instant};

/// The bounds of a [`Backoff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The first wait, and the wait after progress.
    pub initial: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Policy {
    /// 200 ms doubling to 5 s: the master, the apply stage and the service
    /// manager.
    pub const PIPELINE: Policy = Policy {
        initial: Duration::from_millis(200),
        cap: Duration::from_secs(5),
    };
    /// 500 ms doubling to 10 s: THL clients (jittered).
    pub const THL_CLIENT: Policy = Policy {
        initial: Duration::from_millis(500),
        cap: Duration::from_secs(10),
    };
}

/// The waits between the attempts of one failing operation.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: Policy,
    step: Duration,
    /// xorshift state when the waits are jittered.
    jitter: Option<u64>,
}

impl Backoff {
    /// Exact waits: `initial`, twice that, ... up to `cap`.
    pub fn new(policy: Policy) -> Backoff {
        Backoff {
            policy,
            step: policy.initial,
            jitter: None,
        }
    }

    /// Jittered waits: each drawn from `[step/2, step)`, the draws seeded by
    /// `seed` (e.g. a hash of the client's id: clients differ, a run is
    /// reproducible).
    pub fn jittered(policy: Policy, seed: u64) -> Backoff {
        Backoff {
            jitter: Some(seed | 1),
            ..Backoff::new(policy)
        }
    }

    /// The wait before the next attempt; the step doubles for the one after.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(self.policy.cap).max(self.policy.initial);
        match &mut self.jitter {
            None => step,
            Some(rng) => {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                let half = step / 2;
                half + half.mul_f64((*rng % 1000) as f64 / 1000.0)
            }
        }
    }

    /// The operation made progress: the next failure is a fresh one.
    pub fn reset(&mut self) {
        self.step = self.policy.initial;
    }
}

/// When to stop retrying an identical failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Identical consecutive failures before giving up.
    pub max_attempts: u32,
    /// Longest time an identical failure is retried.
    pub max_elapsed: Duration,
}

impl Limit {
    /// True when a streak of `attempts` over `elapsed` has reached the limit.
    pub fn reached(&self, attempts: u32, elapsed: Duration) -> bool {
        attempts >= self.max_attempts || elapsed >= self.max_elapsed
    }
}

/// Identical consecutive failures, told apart by a key (for the apply
/// stage: the seqno and the server's error code).
#[derive(Debug)]
pub struct Streak<K> {
    key: K,
    attempts: u32,
    since: Instant,
}

impl<K: PartialEq> Streak<K> {
    /// Counts a failure with `key`: one more when it continues the current
    /// streak, else a new streak of one. Returns the streak's attempts and
    /// age.
    pub fn count(streak: &mut Option<Streak<K>>, key: K) -> (u32, Duration) {
        match streak {
            Some(s) if s.key == key => s.attempts += 1,
            _ => {
                *streak = Some(Streak {
                    key,
                    attempts: 1,
                    since: Instant::now(),
                })
            }
        }
        streak
            .as_ref()
            .map_or((0, Duration::ZERO), |s| (s.attempts, s.since.elapsed()))
    }

    /// The attempts of the current streak (0 when there is none).
    pub fn attempts(streak: &Option<Streak<K>>) -> u32 {
        streak.as_ref().map_or(0, |s| s.attempts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn exact_waits_double_to_the_cap_and_start_over_after_progress() {
        let mut b = Backoff::new(Policy::PIPELINE);
        let waits: Vec<Duration> = (0..7).map(|_| b.next_delay()).collect();
        assert_eq!(
            waits,
            [MS(200), MS(400), MS(800), MS(1600), MS(3200), MS(5000), MS(5000)]
        );
        b.reset();
        assert_eq!(b.next_delay(), MS(200));
    }

    #[test]
    fn jittered_waits_stay_in_the_upper_half_of_their_step() {
        let mut b = Backoff::jittered(Policy::THL_CLIENT, 42);
        let mut step = Policy::THL_CLIENT.initial;
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let d = b.next_delay();
            assert!(d >= step / 2 && d < step, "{d:?} for a step of {step:?}");
            distinct.insert(d);
            step = (step * 2).min(Policy::THL_CLIENT.cap);
        }
        assert!(distinct.len() > 10, "the waits vary: {distinct:?}");
        let mut again = Backoff::jittered(Policy::THL_CLIENT, 42);
        let mut other = Backoff::jittered(Policy::THL_CLIENT, 43);
        assert_eq!(
            again.next_delay(),
            Backoff::jittered(Policy::THL_CLIENT, 42).next_delay()
        );
        assert_ne!(
            (0..5).map(|_| again.next_delay()).collect::<Vec<_>>(),
            (0..5).map(|_| other.next_delay()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_streak_counts_identical_failures_only() {
        let mut s: Option<Streak<(i64, u16)>> = None;
        assert_eq!(Streak::count(&mut s, (5, 1205)).0, 1);
        assert_eq!(Streak::count(&mut s, (5, 1205)).0, 2);
        assert_eq!(Streak::count(&mut s, (5, 1213)).0, 1);
        assert_eq!(Streak::count(&mut s, (6, 1213)).0, 1);
        assert_eq!(Streak::attempts(&s), 1);
        let limit = Limit {
            max_attempts: 3,
            max_elapsed: Duration::from_secs(60),
        };
        assert!(!limit.reached(2, Duration::from_secs(59)));
        assert!(limit.reached(3, Duration::ZERO));
        assert!(limit.reached(1, Duration::from_secs(60)));
    }
}

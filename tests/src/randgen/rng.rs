//! The generator's PRNG: splitmix64, written here so that a seed gives the
//! same workload on every platform and with every dependency version.
//!
//! Invariant: the sequence depends only on the seed and on the order of
//! calls; nothing reads the clock, the environment or a hash seed.

/// A splitmix64 stream.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`; 0 gives 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for a workload, and portable.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi as i128 - lo as i128 + 1) as u128;
        let v = if span > u128::from(u64::MAX) {
            u128::from(self.next_u64())
        } else {
            u128::from(self.below(span as u64))
        };
        (lo as i128 + v as i128) as i64
    }

    /// A value in `lo..=hi`, as `usize`.
    pub fn urange(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as i64, hi as i64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An independent stream derived from this one (for a sub-generator
    /// whose number of draws must not shift the parent's sequence).
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_sequence_is_fixed_by_the_seed() {
        // Reference values of splitmix64 for seed 0 (from the published algorithm).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            let (x, y) = (a.range(-5, 5), b.range(-5, 5));
            assert_eq!(x, y);
            assert!((-5..=5).contains(&x));
        }
        assert_eq!(
            Rng::new(1).range(i64::MIN, i64::MAX),
            Rng::new(1).range(i64::MIN, i64::MAX)
        );
    }
}

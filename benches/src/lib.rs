//! Shared helpers of the benchmarks (timing, medians, baselines).

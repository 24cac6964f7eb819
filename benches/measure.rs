//! Timing helpers shared by the benchmarks: CPU time of the whole process and medians.

// Each benchmark uses some of them.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// CPU time of every thread of this process so far (Linux: `/proc/self/task/*/schedstat`),
/// which other tenants of a shared machine disturb far less than the wall clock.
pub fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Wall-clock and CPU time of `work`.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration, Option<Duration>) {
    let cpu_before = cpu_time();
    let started = Instant::now();
    let result = work();
    let wall = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    (result, wall, cpu)
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The median of each round's own ratio `a[i] / b[i]`: a round disturbed by another tenant
/// moves both sides, not the ratio. `None` without paired samples.
pub fn median_ratio(a: &[Duration], b: &[Duration]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    Some(ratios[ratios.len() / 2])
}

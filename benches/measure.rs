//! Timing helpers shared by the benchmarks: CPU time of the whole process and medians.

// Each benchmark uses some of them.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// CPU time of every thread of this process so far, those that have exited included (the
/// process CPU-time clock), which other tenants of a shared machine disturb far less than
/// the wall clock. Summing `/proc/self/task/*/schedstat` instead missed the expansion's
/// per-entry threads, which have exited by the time a run ends.
pub fn cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

/// Wall-clock time of `work` and the CPU time (user and system) of the child processes that
/// ended meanwhile: what a command run by `work` cost.
pub fn timed_children<T>(work: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let result = work();
    let wall = started.elapsed();
    (result, wall, children_cpu().saturating_sub(cpu_before))
}

/// CPU time (user and system) of the children that ended so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
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

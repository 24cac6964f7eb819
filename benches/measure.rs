//! Timing helpers shared by the benchmarks: CPU time of the whole process and medians.

// Each benchmark uses some of them.
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// CPU time of every thread of this process so far, those that have exited included (the
/// process CPU-time clock), which other tenants of a shared machine disturb far less than
/// the wall clock. Summing `/proc/self/task/*/schedstat` instead missed the expansion's
/// per-entry threads, which have exited by the time a run ends.
pub(crate) fn cpu_time() -> Option<Duration> {
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
pub(crate) fn timed_children<T>(work: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let cpu_before = children_cpu();
    let started = Instant::now();
    let result = work();
    let wall = started.elapsed();
    (result, wall, children_cpu().saturating_sub(cpu_before))
}

/// What one command cost: its wall-clock time, the CPU time (user and system) of it and of
/// the processes it waited for, and the peak resident memory of the largest of them.
pub(crate) struct ChildCost {
    pub wall: Duration,
    pub cpu: Duration,
    /// Bytes: the largest `ru_maxrss` of the process and the children it waited for (a
    /// supervised `policyrun` is a small parent and its worker, the worker the larger).
    pub peak_memory: u64,
}

/// Set for a copy of the benchmark that only runs a command and writes its cost here.
const LAUNCH: &str = "POLICYRUN_BENCH_LAUNCH_COST";

/// Runs `command` to its end, its standard output captured (standard error as the command
/// has it), and measures it with `wait4`. Linux gives a process the memory peak of the
/// address space it replaced at `exec`: a child of this benchmark (which holds the corpus)
/// would report the benchmark's own peak. So a fresh copy of the benchmark, small, starts
/// the command and reports its cost ([`launch_if_asked`]).
pub(crate) fn run_measured(command: &std::process::Command) -> (std::process::Output, ChildCost) {
    let report = tempfile::NamedTempFile::new().expect("a file for the cost");
    let mut launcher = std::process::Command::new(std::env::current_exe().expect("this bench"));
    launcher
        .arg(command.get_program())
        .args(command.get_args())
        .env(LAUNCH, report.path())
        .stderr(std::process::Stdio::inherit());
    if let Some(dir) = command.get_current_dir() {
        launcher.current_dir(dir);
    }
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => launcher.env(name, value),
            None => launcher.env_remove(name),
        };
    }
    let started = Instant::now();
    let output = launcher.output().expect("the launcher runs");
    let wall = started.elapsed();
    let text = std::fs::read_to_string(report.path()).expect("the launcher's report");
    let numbers: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let [cpu_micros, peak_memory] = numbers[..] else {
        panic!("the launcher's report: {text:?}");
    };
    let cost = ChildCost {
        wall,
        cpu: Duration::from_micros(cpu_micros),
        peak_memory,
    };
    (output, cost)
}

/// In the copy of the benchmark [`run_measured`] starts: runs the command given as the
/// arguments (output inherited), waits for it with `wait4`, writes its CPU time in
/// microseconds and its peak memory in bytes, and exits with its status. Returns in every
/// other run.
pub(crate) fn launch_if_asked() {
    let Some(report) = std::env::var_os(LAUNCH) else {
        return;
    };
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("a command to launch");
    let child = std::process::Command::new(program)
        .args(args)
        .env_remove(LAUNCH)
        .spawn()
        .expect("the command starts");
    let pid = libc::pid_t::try_from(child.id()).expect("a process id");
    let mut status: libc::c_int = 0;
    // SAFETY: both pointers are valid and writable for the call; the child is ours and
    // waited for only here (`child` is forgotten: std never waits for it).
    let (waited, usage) = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        let waited = libc::wait4(pid, &mut status, 0, &mut usage);
        (waited, usage)
    };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    std::mem::forget(child);
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    // Linux counts ru_maxrss in kibibytes.
    let peak = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    std::fs::write(
        report,
        format!(
            "{} {peak}\n",
            micros(usage.ru_utime) + micros(usage.ru_stime)
        ),
    )
    .expect("the cost written");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code);
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
pub(crate) fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration, Option<Duration>) {
    let cpu_before = cpu_time();
    let started = Instant::now();
    let result = work();
    let wall = started.elapsed();
    let cpu = cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    (result, wall, cpu)
}

pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The median of each round's own ratio `a[i] / b[i]`: a round disturbed by another tenant
/// moves both sides, not the ratio. `None` without paired samples.
pub(crate) fn median_ratio(a: &[Duration], b: &[Duration]) -> Option<f64> {
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

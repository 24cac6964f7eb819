//! Enforces `limits.memory_bytes`: the commands that evaluate a repository's jsonnet and
//! policies run as a child process (the same binary, the same arguments) that this process
//! watches. Rust aborts on a failed allocation, so a run that exhausted its memory in
//! process ended with exit 134 and no report; from outside, a worker past its budget is
//! stopped, the entries and objects it was evaluating (it says which, see
//! `model::supervision`) are handed to a new worker as errors to report, and that worker
//! does the run without them and writes every report.
//!
//! The budget is the worker's resident memory, read from `/proc` every few milliseconds:
//! what the run holds, not what it reserves (rayon's and the evaluator threads' 256 MiB
//! stacks and mimalloc's 1 GiB arena are address space the run never touches, and count
//! in full against `RLIMIT_AS` and `RLIMIT_DATA`; BENCHMARKS.md). Linux only; elsewhere the
//! command runs in this process and the budget is not enforced.

use crate::model::supervision::{Cause, Stopped};

/// How a supervised command ended.
pub enum Ended {
    /// The worker's own exit code: it wrote the reports.
    Exited(i32),
    /// No worker could finish the run, for this reason; no report was written.
    Failed(String),
}

/// Whether the command line names a command whose work runs in a supervised worker:
/// the gate, `expand`, `apply` and `diff` (the commands with `[limits]`).
pub fn wanted(command: &Option<crate::cli::args::Command>) -> bool {
    use crate::cli::args::Command;
    let supervised = matches!(
        command,
        None | Some(
            Command::Check(_)
                | Command::Review(_)
                | Command::Expand(_)
                | Command::Apply(_)
                | Command::Diff(_),
        )
    );
    supervised
        && cfg!(target_os = "linux")
        && !crate::model::supervision::is_worker()
        && std::env::var_os(UNSUPERVISED_ENV).is_none()
}

/// Set to run in this process, with no budget: for measuring what supervision costs.
pub const UNSUPERVISED_ENV: &str = "POLICYRUN_UNSUPERVISED";

/// Workers started at most for one run: each one after the first leaves out at least one
/// more entry or object, or evaluates one at a time.
const MAX_WORKERS: usize = 32;

/// What one worker left behind.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
enum WorkerEnd {
    Exited(i32),
    Stopped {
        cause: Cause,
        /// The keys of the work in flight when it stopped.
        in_flight: Vec<String>,
        /// It had begun to change something outside itself.
        final_part: bool,
    },
}

/// Runs this command line in workers until one finishes it.
pub fn run() -> Ended {
    let mut stopped: Vec<Stopped> = Vec::new();
    let mut serial = false;
    for _ in 0..MAX_WORKERS {
        let end = match worker::run(&stopped, serial) {
            Ok(end) => end,
            Err(problem) => {
                return Ended::Failed(format!("cannot start the worker process: {problem}"));
            }
        };
        let (cause, in_flight, final_part) = match end {
            WorkerEnd::Exited(code) => return Ended::Exited(code),
            WorkerEnd::Stopped {
                cause,
                in_flight,
                final_part,
            } => (cause, in_flight, final_part),
        };
        let why = match cause {
            Cause::Memory(budget) => format!(
                "the run exceeded the memory budget of {} (`limits.memory_bytes`, `--memory-bytes`)",
                crate::model::supervision::shown_bytes(budget)
            ),
            Cause::Signal(signal) => format!(
                "the worker process ended with signal {signal} ({})",
                crate::model::supervision::signal_name(signal)
            ),
        };
        if final_part {
            return Ended::Failed(format!(
                "{why} after it began to change the clusters; it is not run again"
            ));
        }
        if in_flight.is_empty() {
            return Ended::Failed(format!(
                "{why} outside the evaluation of any entry or object; no report was written"
            ));
        }
        // Several things in flight: only one of them may be to blame, so the next worker
        // evaluates one at a time and the next stop names it alone.
        if in_flight.len() > 1 && !serial {
            serial = true;
            continue;
        }
        stopped.extend(in_flight.into_iter().map(|key| Stopped { key, cause }));
    }
    Ended::Failed(format!(
        "{MAX_WORKERS} worker processes were stopped; the run is given up"
    ))
}

#[cfg(target_os = "linux")]
mod worker {
    use std::collections::HashMap;
    use std::fs::File;
    use std::io::{BufRead as _, BufReader};
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
    use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
    use std::process::Command;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::mpsc::RecvTimeoutError;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::WorkerEnd;
    use crate::model::supervision::{
        CHANNEL_ENV, Cause, Message, SERIAL_ENV, STOPPED_ENV, Stopped,
    };

    /// The budget before the worker announces its own: it reads only its configuration
    /// until then.
    const BEFORE_ANNOUNCED: u64 = crate::cli::config::MEMORY_BYTES.default;

    /// The worker being watched, for the signal handler (0: none).
    static WORKER_PID: AtomicI32 = AtomicI32::new(0);
    /// The last signal passed on to the worker (0: none): a worker it ended is not to blame.
    static FORWARDED: AtomicI32 = AtomicI32::new(0);

    /// What the worker said so far.
    #[derive(Default)]
    struct Heard {
        budget: Option<u64>,
        in_flight: HashMap<String, usize>,
        final_part: bool,
    }

    pub(super) fn run(stopped: &[Stopped], serial: bool) -> Result<WorkerEnd, String> {
        forward_signals();
        let (read_end, write_end) = pipe()?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command
            .args(std::env::args_os().skip(1))
            .env(CHANNEL_ENV, write_end.as_raw_fd().to_string())
            .env(
                STOPPED_ENV,
                serde_json::to_string(stopped).map_err(|e| e.to_string())?,
            );
        if serial {
            command.env(SERIAL_ENV, "1");
        } else {
            command.env_remove(SERIAL_ENV);
        }
        let channel = write_end.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, prctl, getppid)
        // run, on plain integers.
        unsafe {
            command.pre_exec(move || {
                // The worker inherits the channel (every other descriptor of ours is closed
                // on exec) and ends with this process, however it ends.
                if libc::fcntl(channel, libc::F_SETFD, 0) != 0
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| e.to_string())?;
        drop(write_end);
        let pid = child.id() as i32;
        WORKER_PID.store(pid, Ordering::SeqCst);
        // Waited for on a thread of its own, so that the worker's end is seen at once, not
        // at the next reading of its memory.
        let (ended, end) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = ended.send(child.wait());
        });

        let heard = Arc::new(Mutex::new(Heard::default()));
        let listener = {
            let heard = heard.clone();
            std::thread::spawn(move || listen(File::from(read_end), &heard))
        };
        let page = page_size();
        let mut over_budget = None;
        let mut pause = Duration::ZERO;
        let status = loop {
            match end.recv_timeout(pause) {
                Ok(Ok(status)) => break status,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err("lost track of the worker process".into());
                }
            }
            let budget = lock(&heard).budget.unwrap_or(BEFORE_ANNOUNCED);
            let resident = resident_bytes(pid, page).unwrap_or(0);
            if over_budget.is_none() && resident > budget {
                over_budget = Some(budget);
                // SAFETY: kill takes plain integers. The pid is our child's: it was not
                // reaped when its end was last looked for, microseconds ago, and the kernel
                // does not hand a pid out again that soon.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            // Closer to the budget, more often: a run allocates a few GB/s at most, so the
            // worker overshoots by a few MB before it is stopped.
            pause = Duration::from_millis(if resident > budget / 2 { 1 } else { 10 });
        };
        WORKER_PID.store(0, Ordering::SeqCst);
        // The channel ends with the worker (its children do not inherit it).
        let _ = listener.join();
        let heard = std::mem::take(&mut *lock(&heard));
        let cause = match (over_budget, status.signal()) {
            (Some(budget), _) => Cause::Memory(budget),
            // Interrupted as asked: ends as the command would have, in the shell's way.
            (None, Some(signal)) if FORWARDED.load(Ordering::SeqCst) != 0 => {
                return Ok(WorkerEnd::Exited(128 + signal));
            }
            (None, Some(signal)) => Cause::Signal(signal),
            (None, None) => return Ok(WorkerEnd::Exited(status.code().unwrap_or(1))),
        };
        let mut in_flight: Vec<String> = heard
            .in_flight
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(key, _)| key)
            .collect();
        in_flight.sort();
        Ok(WorkerEnd::Stopped {
            cause,
            in_flight,
            final_part: heard.final_part,
        })
    }

    fn lock(heard: &Mutex<Heard>) -> std::sync::MutexGuard<'_, Heard> {
        heard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads the worker's messages until it ends.
    fn listen(channel: File, heard: &Mutex<Heard>) {
        let mut reader = BufReader::with_capacity(LISTEN_BUFFER, channel);
        let mut line = String::new();
        loop {
            // Read what a short wait gathers, not each message as it comes: a cold gate
            // sends two per entry and per object (30,000 on 12,060 objects), and waking for
            // each cost the run as much time as the messages themselves. Nothing here needs
            // them sooner: the in-flight work is read when the worker has ended, after the
            // channel is drained to its end.
            if reader.buffer().is_empty() {
                std::thread::sleep(LISTEN_PAUSE);
            }
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = line.trim_end_matches('\n');
            let Some(message) = Message::parse(line) else {
                continue;
            };
            let mut heard = lock(heard);
            match message {
                Message::Budget(bytes) => heard.budget = Some(bytes),
                Message::Begin(key) => *heard.in_flight.entry(key).or_default() += 1,
                Message::End(key) => {
                    if let Some(count) = heard.in_flight.get_mut(&key) {
                        *count = count.saturating_sub(1);
                    }
                }
                Message::Final => heard.final_part = true,
            }
        }
    }

    /// How long the listener lets messages gather, and room for what gathers: at most a
    /// few hundred messages of about a hundred bytes arrive in that time.
    const LISTEN_PAUSE: Duration = Duration::from_millis(2);
    const LISTEN_BUFFER: usize = 64 * 1024;

    fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        // SAFETY: both descriptors were just opened, and are owned here alone.
        Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
    }

    fn page_size() -> u64 {
        // SAFETY: sysconf takes a constant and has no other effect.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if size > 0 { size as u64 } else { 4096 }
    }

    /// The worker's resident set, from the second field of `/proc/PID/statm` (pages).
    fn resident_bytes(pid: i32, page: u64) -> Option<u64> {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages * page)
    }

    /// Ctrl-C, a CI job's SIGTERM and a closed terminal reach the worker, which ends as it
    /// would have alone (`apply` stops its rollout and still reports); this process waits
    /// for it.
    fn forward_signals() {
        extern "C" fn forward(signal: libc::c_int) {
            FORWARDED.store(signal, Ordering::SeqCst);
            let pid = WORKER_PID.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: kill is async-signal-safe and takes plain integers.
                unsafe { libc::kill(pid, signal) };
            }
        }
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: the handler only loads an atomic and calls kill, both
            // async-signal-safe.
            unsafe {
                libc::signal(signal, forward as *const () as libc::sighandler_t);
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod worker {
    use super::WorkerEnd;
    use crate::model::supervision::Stopped;

    pub(super) fn run(_: &[Stopped], _: bool) -> Result<WorkerEnd, String> {
        Err("supervision needs Linux".into())
    }
}

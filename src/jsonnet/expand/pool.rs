//! Evaluates entries on threads of their own, each entry within a time budget. jrsonnet
//! cannot be interrupted (it has no hook to stop an evaluation, and a fold over
//! `std.range(0, 2000000000)` ran until CI killed the gate without a report), so an entry past
//! its budget becomes an error and its thread is abandoned: nothing waits for it, a new
//! thread takes the remaining entries, and it ends with the process. An abandoned entry's
//! late result is never used, so it cannot be cached either.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::{Expanded, Failure, Progress, Worker};
use crate::jsonnet::stack::WORKER_STACK;
use crate::model::events::Events;
use crate::model::expansion::Entry;
use crate::model::outcome::Location;
use crate::model::repository::Repository;
use crate::model::supervision::{self, Work};

/// An entry to evaluate: its index in the caller's list, and the entry.
type Job = (usize, Entry);

/// What a thread sends back: which thread, which job, and the expansion.
type Done = (usize, usize, Expanded);

/// One evaluator thread as the coordinator knows it.
struct Thread {
    id: usize,
    jobs: Sender<Job>,
    /// Set when the thread is abandoned: its entry's `std.trace` lines are no longer printed.
    silenced: Arc<AtomicBool>,
    /// The kernel's id of the thread, to lower an abandoned thread's priority.
    #[cfg(target_os = "linux")]
    tid: Arc<std::sync::atomic::AtomicI32>,
}

/// Evaluates `jobs` on `threads` evaluator threads, each entry within `repo`'s evaluation
/// budget. Returns, in no particular order, each job's expansion and whether it finished
/// within the budget (only those may be cached). `progress` steps once per job; the threads
/// send their entries' traces to `events`.
pub(super) fn evaluate(
    repo: &Repository,
    jobs: Vec<Job>,
    threads: usize,
    events: &Arc<dyn Events>,
    progress: &Progress,
) -> Vec<(usize, Expanded, bool)> {
    let budget = repo.evaluation_budget;
    let shared = Arc::new(repo.clone());
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    let mut queue: VecDeque<Job> = jobs.into();
    let mut results = Vec::with_capacity(queue.len());
    let mut idle: Vec<Thread> = Vec::new();
    // Per busy thread: the thread, its job's entry and index, and the job's deadline.
    let mut busy: Vec<(Thread, Job, Instant)> = Vec::new();
    let mut next_id = 0;
    let mut spawn = |idle: &mut Vec<Thread>| -> Result<(), String> {
        let thread = spawn_thread(next_id, shared.clone(), events.clone(), done_tx.clone())?;
        next_id += 1;
        idle.push(thread);
        Ok(())
    };
    let mut spawn_problem = None;
    for _ in 0..threads.max(1).min(queue.len()) {
        if let Err(problem) = spawn(&mut idle) {
            spawn_problem = Some(problem);
            break;
        }
    }
    loop {
        while !queue.is_empty()
            && let Some(thread) = idle.pop()
        {
            let Some(job) = queue.pop_front() else { break };
            // An entry an earlier worker process was stopped in is not evaluated again.
            if let Some(message) = supervision::stopped(Work::Entry(&job.1.path)) {
                let failure = Failure {
                    message,
                    detail: None,
                    location: Some(Location::file(job.1.path.clone())),
                };
                results.push((job.0, failed(repo, &job.1, failure, Duration::ZERO), false));
                progress.step();
                idle.push(thread);
                continue;
            }
            match thread.jobs.send(job.clone()) {
                Ok(()) => busy.push((thread, job, deadline(budget))),
                // The thread is gone (it cannot be, short of a bug): the job waits for another.
                Err(_) => queue.push_front(job),
            }
        }
        if busy.is_empty() {
            // No thread could be started, or none is left: say so for every entry left.
            let why = spawn_problem
                .clone()
                .unwrap_or_else(|| "no evaluator thread is left".to_owned());
            for (index, entry) in queue.drain(..) {
                let failure = Failure::plain(format!("cannot evaluate: {why}"));
                results.push((index, failed(repo, &entry, failure, Duration::ZERO), false));
                progress.step();
            }
            break;
        }
        let soonest = busy
            .iter()
            .map(|(_, _, d)| *d)
            .min()
            .unwrap_or_else(Instant::now);
        match done_rx.recv_timeout(soonest.saturating_duration_since(Instant::now())) {
            Ok((id, index, expanded)) => {
                // A late result of an abandoned job finds no busy thread and is dropped.
                if let Some(at) = busy
                    .iter()
                    .position(|(t, (i, _), _)| t.id == id && *i == index)
                {
                    let (thread, _, _) = busy.swap_remove(at);
                    results.push((index, expanded, true));
                    progress.step();
                    idle.push(thread);
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                let mut abandoned = 0;
                let mut at = 0;
                while at < busy.len() {
                    if busy[at].2 > now {
                        at += 1;
                        continue;
                    }
                    let (thread, (index, entry), _) = busy.swap_remove(at);
                    abandon(thread);
                    results.push((index, over_budget(repo, &entry, budget), false));
                    progress.step();
                    abandoned += 1;
                }
                for _ in 0..abandoned.min(queue.len()) {
                    if let Err(problem) = spawn(&mut idle) {
                        spawn_problem = Some(problem);
                    }
                }
            }
            // The coordinator holds a sender itself; this cannot happen.
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    results
}

fn deadline(budget: Duration) -> Instant {
    let now = Instant::now();
    // A budget too far in the future to represent is no budget at all.
    now.checked_add(budget)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

fn spawn_thread(
    id: usize,
    repo: Arc<Repository>,
    events: Arc<dyn Events>,
    done: Sender<Done>,
) -> Result<Thread, String> {
    let (jobs, received) = mpsc::channel::<Job>();
    let silenced = Arc::new(AtomicBool::new(false));
    #[cfg(target_os = "linux")]
    let tid = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let thread = Thread {
        id,
        jobs,
        silenced: silenced.clone(),
        #[cfg(target_os = "linux")]
        tid: tid.clone(),
    };
    // The thread stores its kernel id when it starts; it is read only when the thread is
    // abandoned, a whole budget after the thread received its entry.
    std::thread::Builder::new()
        .name(format!("jsonnet-{id}"))
        .stack_size(WORKER_STACK)
        .spawn(move || {
            #[cfg(target_os = "linux")]
            // SAFETY: gettid has no preconditions and cannot fail.
            tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
            let mut worker = Worker::new(&repo, events);
            worker.silence_with(silenced);
            // Ends when the coordinator drops its sender: at the end of the run, or when it
            // abandoned this thread's entry.
            while let Ok((index, entry)) = received.recv() {
                let working = supervision::working(Work::Entry(&entry.path));
                let expanded = worker.expand_guarded(&entry);
                drop(working);
                if done.send((id, index, expanded)).is_err() {
                    break;
                }
            }
            drop(worker);
            wait_for_the_process_end()
        })
        .map_err(|e| format!("cannot start an evaluator thread: {e}"))?;
    Ok(thread)
}

/// Where an evaluator thread ends up once it has no more entries: it never ends by itself.
///
/// What its jsonnet values leave behind is reference cycles (objects reach themselves
/// through `self`, closures hold their scope). Were the thread to end, its object space would
/// trace all of them, on the cores the later stages need (a fifth of a cold gate's CPU time on
/// 3,000 entries, BENCHMARKS.md, issue 16); the process ends soon after the run, and the
/// memory goes with it. The object space cannot be leaked instead (`ObjectSpace::leak`): that
/// frees the head of its list while jrsonnet's own thread-local values (its empty object)
/// still point into it, and their destructors at the thread's end wrote into freed memory —
/// heap corruption that crashed about one gate in twenty on a repository whose jsonnet wrote
/// `{}` (found by `tests/all/differential`). Parked, the thread runs no destructor at all.
fn wait_for_the_process_end() -> ! {
    loop {
        std::thread::park();
    }
}

/// Lets an evaluation run on without anyone waiting for it: its traces go unprinted, it
/// gets the least CPU time (so that it slows the entries still to come as little as
/// possible), and its thread waits for the process's end once its evaluation is over.
fn abandon(thread: Thread) {
    thread.silenced.store(true, Ordering::SeqCst);
    #[cfg(target_os = "linux")]
    {
        let tid = thread.tid.load(Ordering::SeqCst);
        if tid > 0 {
            // The thread cannot have ended yet: it waits for this coordinator's sender to
            // go (below) before it ends, so the id is still its own. Failing to lower the
            // priority only costs speed.
            // SAFETY: setpriority takes plain integers and reports failure by its result.
            let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19) };
        }
    }
    drop(thread.jobs);
}

fn failed(repo: &Repository, entry: &Entry, failure: Failure, elapsed: Duration) -> Expanded {
    Expanded {
        entry: entry.clone(),
        cluster: repo.clusters[entry.cluster].name.clone(),
        elapsed,
        result: Err(failure),
        inputs: None,
        traces: Vec::new(),
    }
}

/// The error of an entry that did not finish within its budget: names the budget and the
/// settings that change it.
fn over_budget(repo: &Repository, entry: &Entry, budget: Duration) -> Expanded {
    let failure = Failure {
        message: over_budget_message(budget),
        detail: None,
        location: Some(Location::file(entry.path.clone())),
    };
    failed(repo, entry, failure, budget)
}

fn over_budget_message(budget: Duration) -> String {
    format!(
        "evaluation time budget exceeded: the entry did not finish within {} s \
         (`limits.evaluation_seconds` in policyrun.toml, or `--evaluation-seconds`); \
         its evaluation was abandoned",
        budget.as_secs_f64()
    )
}

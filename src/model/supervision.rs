//! The worker's side of a supervised run (the supervisor is `cli::supervise`). A run's
//! work happens in a child process whose memory a supervising process watches, because
//! Rust aborts on a failed allocation and nothing in-process can turn exhaustion into a
//! report. So that a stopped worker's run can still end with every report, the worker says
//! which entry or object it starts and finishes evaluating; the supervisor starts a new
//! worker, which reports the ones that were in flight as errors instead of evaluating them.
//!
//! Process-wide, like the allocator it stands in for: the channel is an inherited file
//! descriptor and the stopped work comes from the environment, both fixed at start. Outside
//! a supervised worker every function here does nothing.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use super::outcome::ObjectId;

/// The file descriptor the worker writes its messages to (set by the supervisor).
pub const CHANNEL_ENV: &str = "POLICYRUN_SUPERVISOR_CHANNEL";
/// The work earlier workers were stopped in, as JSON (a list of [`Stopped`]).
pub const STOPPED_ENV: &str = "POLICYRUN_SUPERVISOR_STOPPED";
/// Set when the worker must evaluate one thing at a time, so that the next stop names
/// its cause alone.
pub const SERIAL_ENV: &str = "POLICYRUN_SUPERVISOR_SERIAL";

/// Longest key sent as it is: a message must fit one atomic pipe write (`PIPE_BUF`, 4 KiB
/// on Linux) so that messages of concurrent threads never interleave. Longer keys are sent
/// as their digest, which both sides compute alike.
const LONGEST_KEY: usize = 2048;

/// What a worker evaluates.
#[derive(Debug, Clone, Copy)]
pub enum Work<'a> {
    /// An entry's jsonnet evaluation; its path relative to the repository.
    Entry(&'a Path),
    /// The policies for one object.
    Object(&'a ObjectId),
}

/// Why a worker was stopped while it evaluated some work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// Its memory passed the budget of this many bytes.
    Memory(u64),
    /// It ended by this signal (a stack overflow, an allocation the system refused).
    Signal(i32),
}

/// Work a worker was stopped in, and why: what the next worker reports instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopped {
    pub key: String,
    pub cause: Cause,
}

/// One line a worker sends, as the supervisor reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The memory budget, once the configuration is read.
    Budget(u64),
    Begin(String),
    End(String),
    /// From here on the run changes something outside itself (a cluster): it must not be
    /// run a second time.
    Final,
}

impl Message {
    fn line(&self) -> String {
        match self {
            Message::Budget(bytes) => format!("budget {bytes}\n"),
            Message::Begin(key) => format!("begin {key}\n"),
            Message::End(key) => format!("end {key}\n"),
            Message::Final => "final\n".to_owned(),
        }
    }

    /// A line the worker wrote, without its newline; `None` for anything else.
    pub fn parse(line: &str) -> Option<Message> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "budget" => rest.parse().ok().map(Message::Budget),
            "begin" => Some(Message::Begin(rest.to_owned())),
            "end" => Some(Message::End(rest.to_owned())),
            "final" => Some(Message::Final),
            _ => None,
        }
    }
}

/// The key that names `work` in messages and in [`STOPPED_ENV`]: the same in every worker
/// of a run, and on one line.
pub fn key(work: Work) -> String {
    let key = match work {
        Work::Entry(path) => serde_json::json!(["entry", path.to_string_lossy()]).to_string(),
        Work::Object(id) => serde_json::json!([
            "object",
            id.cluster,
            id.entry.to_string_lossy(),
            id.item,
            id.api_version,
            id.kind,
            id.namespace,
            id.name
        ])
        .to_string(),
    };
    if key.len() <= LONGEST_KEY {
        key
    } else {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(key.as_bytes());
        format!("sha256:{}", data_encoding::HEXLOWER.encode(&digest))
    }
}

/// What this process is told as a supervised worker.
struct Worker {
    channel: Option<File>,
    stopped: HashMap<String, Cause>,
    serial: bool,
}

fn worker() -> &'static Worker {
    static WORKER: OnceLock<Worker> = OnceLock::new();
    WORKER.get_or_init(|| Worker {
        channel: channel(),
        stopped: std::env::var(STOPPED_ENV)
            .ok()
            .and_then(|text| serde_json::from_str::<Vec<Stopped>>(&text).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.key, s.cause))
            .collect(),
        serial: std::env::var_os(SERIAL_ENV).is_some(),
    })
}

#[cfg(target_os = "linux")]
fn channel() -> Option<File> {
    use std::os::fd::FromRawFd as _;
    let fd: i32 = std::env::var(CHANNEL_ENV).ok()?.parse().ok()?;
    // The descriptor stays this process's own: programs it starts (git, credential
    // plugins) must not hold the channel open after it ends.
    // SAFETY: fcntl takes plain integers and reports a bad descriptor by its result.
    if fd < 3 || unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
        return None;
    }
    // SAFETY: the supervisor opened this descriptor for this process alone and nothing
    // else here uses it; `OnceLock` takes it once.
    Some(unsafe { File::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn channel() -> Option<File> {
    None
}

/// Starts the worker's side before anything else runs (the first message sent does too).
pub fn start() {
    let _ = worker();
}

fn send(message: Message) {
    if let Some(mut channel) = worker().channel.as_ref() {
        // One write per message (see `LONGEST_KEY`). A supervisor that stopped listening
        // has ended; the worker's run goes on regardless.
        let _ = channel.write_all(message.line().as_bytes());
    }
}

/// Whether this process is a supervised worker.
pub fn is_worker() -> bool {
    worker().channel.is_some()
}

/// Tells the supervisor the memory budget, once the configuration is known.
pub fn announce_budget(bytes: u64) {
    send(Message::Budget(bytes));
}

/// Tells the supervisor that the run now changes something outside itself.
pub fn final_part() {
    send(Message::Final);
}

/// Whether to evaluate one entry or object at a time.
pub fn serial() -> bool {
    worker().serial
}

/// Evaluation of `work` in progress, until dropped.
#[must_use = "the work is in flight only while this lives"]
pub struct Working(Option<String>);

/// Tells the supervisor that `work` starts, and (when the result is dropped) that it ended.
pub fn working(work: Work) -> Working {
    if !is_worker() {
        return Working(None);
    }
    let key = key(work);
    send(Message::Begin(key.clone()));
    Working(Some(key))
}

impl Drop for Working {
    fn drop(&mut self) {
        if let Some(key) = self.0.take() {
            send(Message::End(key));
        }
    }
}

/// Why an earlier worker was stopped while evaluating `work`, as the message of its error
/// outcome; `None` when it was not.
pub fn stopped(work: Work) -> Option<String> {
    let worker = worker();
    if worker.stopped.is_empty() {
        return None;
    }
    let cause = *worker.stopped.get(&key(work))?;
    let what = match work {
        Work::Entry(_) => "evaluating this entry",
        Work::Object(_) => "evaluating the policies for this object",
    };
    Some(match cause {
        Cause::Memory(budget) => format!(
            "memory budget exceeded: {what} took the run past {} (`limits.memory_bytes` in \
             policyrun.toml, or `--memory-bytes`); it was stopped, and the run went on without it",
            shown_bytes(budget)
        ),
        Cause::Signal(signal) => format!(
            "{what} ended the process with signal {signal} ({}): a stack overflow, or memory \
             the system refused; the run went on without it",
            signal_name(signal)
        ),
    })
}

/// `4 GiB`, `256 MiB`, `1.5 GiB`, or bytes when not a round number of KiB.
pub fn shown_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            let shown = format!("{value:.2}");
            let shown = shown.trim_end_matches('0').trim_end_matches('.');
            return format!("{shown} {unit}");
        }
    }
    format!("{bytes} bytes")
}

/// The usual name of a signal's number, for messages.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        6 => "SIGABRT",
        7 => "SIGBUS",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_as_written() {
        for message in [
            Message::Budget(4 << 30),
            Message::Begin(key(Work::Entry(Path::new("clusters/dev/a b.jsonnet")))),
            Message::End("[\"entry\",\"x\\ny\"]".to_owned()),
            Message::Final,
        ] {
            let line = message.line();
            assert!(
                line.ends_with('\n') && line.matches('\n').count() == 1,
                "{line}"
            );
            assert_eq!(Message::parse(line.trim_end_matches('\n')), Some(message));
        }
        assert_eq!(Message::parse("anything else"), None);
    }

    #[test]
    fn keys_fit_one_pipe_write_and_differ_by_kind() {
        let entry = key(Work::Entry(Path::new("clusters/dev/x.jsonnet")));
        assert_eq!(entry, "[\"entry\",\"clusters/dev/x.jsonnet\"]");
        let long = "x".repeat(10_000);
        let long_key = key(Work::Entry(Path::new(&long)));
        assert!(long_key.starts_with("sha256:") && long_key.len() < 100);
        let id = ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/x.jsonnet".into(),
            item: None,
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("a".into()),
            name: "b".into(),
        };
        assert!(key(Work::Object(&id)).starts_with("[\"object\",\"dev\""));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(shown_bytes(4 << 30), "4 GiB");
        assert_eq!(shown_bytes(256 << 20), "256 MiB");
        assert_eq!(shown_bytes(3 << 29), "1.5 GiB");
        assert_eq!(shown_bytes(100), "100 bytes");
    }
}

//! What a stage has to say while it runs — progress, a status line, a jsonnet trace — as
//! events, so that no stage writes to the terminal itself: the pipeline hands each stage a
//! sink (a progress bar, plain lines for CI, or nothing) and one more output format means
//! one more sink, not a change in every stage.

use std::time::Duration;

/// One thing worth showing while a run goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Work on `total` items begins (`None`: a wait of unknown length, such as a bake);
    /// `what` says what is counted ("expanding", "dev: ready"). `log_every` is how often a
    /// plain progress line about it is worth a log's space (a stage's wait of minutes more
    /// often than a bake of an hour); `None` leaves the pace to the sink.
    Begin {
        what: &'a str,
        total: Option<u64>,
        log_every: Option<Duration>,
    },
    /// Items done so far, and what is still awaited (empty when there is nothing to say).
    Progress { done: u64, status: &'a str },
    /// The work begun last is over.
    End,
    /// A line people read as it happens, such as "dev: waiting for 12 objects".
    Line(&'a str),
    /// A line only a log needs, such as what a wait begun is waiting for: a live display
    /// shows the work as it goes and leaves it out.
    LogLine(&'a str),
    /// A line a jsonnet `std.trace` wrote, already made visible, with its newline.
    Trace(&'a str),
}

/// Where events go. Stages call it from worker threads, so it is shared.
pub trait Events: Send + Sync {
    fn emit(&self, event: Event<'_>);
}

/// Events nobody wants: benchmarks, tests and machine-readable runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unseen;

impl Events for Unseen {
    fn emit(&self, _: Event<'_>) {}
}

impl Unseen {
    /// A handle for code that keeps its sink beyond a call (evaluator threads).
    pub fn shared() -> std::sync::Arc<dyn Events> {
        std::sync::Arc::new(Unseen)
    }
}

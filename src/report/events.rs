//! The sinks that turn a run's events into what a person watching sees: a live progress bar
//! on a terminal, or plain lines at a steady pace in CI logs. Stages only emit events
//! ([`crate::model::events`]); this is the one place that draws them.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::events::{Event, Events};

/// Writes a line to standard error; a closed stream is not worth failing a run for. One
/// write per line, so that workers' lines do not interleave mid-line.
fn line_to_stderr(line: &str) {
    let mut text = line.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A terminal: a bar (or a spinner, for a wait of unknown length) while work goes on;
/// lines and traces printed above it.
#[derive(Default)]
pub struct Bar {
    current: Mutex<Option<ProgressBar>>,
}

impl Bar {
    pub fn new() -> Bar {
        Bar::default()
    }
}

impl Events for Bar {
    fn emit(&self, event: Event<'_>) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        match event {
            Event::Begin { what, total } => {
                if let Some(old) = current.take() {
                    old.finish_and_clear();
                }
                let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
                let template = match total {
                    // The status right after the count, so that the expansion reads
                    // "expanding 3/10 entries", then the bar.
                    Some(_) => "{spinner} {prefix} {pos}/{len} {msg} {wide_bar} {elapsed}",
                    None => "{spinner} {prefix} {wide_msg}",
                };
                if let Ok(style) = ProgressStyle::with_template(template) {
                    bar.set_style(style);
                }
                bar.set_prefix(what.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                *current = Some(bar);
            }
            Event::Progress { done, status } => {
                if let Some(bar) = current.as_ref() {
                    bar.set_position(done);
                    bar.set_message(status.to_owned());
                }
            }
            Event::End => {
                if let Some(bar) = current.take() {
                    bar.finish_and_clear();
                }
            }
            Event::Line(text) | Event::Trace(text) => match current.as_ref() {
                Some(bar) => bar.suspend(|| line_to_stderr(text)),
                None => line_to_stderr(text),
            },
        }
    }
}

/// A CI log: the start of each piece of work, then its progress as a plain line at most
/// once per `every` (a log is read later, and a line per tick would bury it).
pub struct Lines {
    every: Duration,
    state: Mutex<LinesState>,
}

struct LinesState {
    what: String,
    total: Option<u64>,
    last: Instant,
}

impl Lines {
    pub fn every(every: Duration) -> Lines {
        Lines {
            every,
            state: Mutex::new(LinesState {
                what: String::new(),
                total: None,
                last: Instant::now(),
            }),
        }
    }
}

impl Events for Lines {
    fn emit(&self, event: Event<'_>) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match event {
            Event::Begin { what, total } => {
                state.what = what.to_owned();
                state.total = total;
                state.last = Instant::now();
            }
            Event::Progress { done, status } => {
                if state.last.elapsed() < self.every {
                    return;
                }
                state.last = Instant::now();
                let count = match state.total {
                    Some(total) => format!(" {done}/{total}"),
                    None => String::new(),
                };
                let rest = if status.is_empty() {
                    String::new()
                } else {
                    format!(", {status}")
                };
                line_to_stderr(&format!("{}{count}{rest}", state.what));
            }
            Event::End => {}
            Event::Line(text) | Event::Trace(text) => line_to_stderr(text),
        }
    }
}

/// Traces and lines only, no progress: a run whose output is machine-readable still shows
/// what the sources traced, as the jsonnet tool would.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracesOnly;

impl Events for TracesOnly {
    fn emit(&self, event: Event<'_>) {
        if let Event::Trace(text) = event {
            line_to_stderr(text);
        }
    }
}

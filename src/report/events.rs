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
            Event::Begin { what, total, .. } => {
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
            // The bar shows the work live.
            Event::LogLine(_) => {}
        }
    }
}

/// A CI log: the start of each piece of work, then its progress as a plain line at most
/// once per `every`, or per the pace the work asked for (a log is read later, and a line
/// per tick would bury it).
pub struct Lines {
    every: Duration,
    state: Mutex<LinesState>,
}

struct LinesState {
    what: String,
    total: Option<u64>,
    every: Duration,
    last: Instant,
}

impl Lines {
    pub fn every(every: Duration) -> Lines {
        Lines {
            every,
            state: Mutex::new(LinesState {
                what: String::new(),
                total: None,
                every,
                last: Instant::now(),
            }),
        }
    }

    /// The line `event` is worth in a log now, if any.
    fn line_for(&self, event: Event<'_>) -> Option<String> {
        let Ok(mut state) = self.state.lock() else {
            return None;
        };
        match event {
            Event::Begin {
                what,
                total,
                log_every,
            } => {
                state.what = what.to_owned();
                state.total = total;
                state.every = log_every.unwrap_or(self.every);
                state.last = Instant::now();
                None
            }
            Event::Progress { done, status } => {
                if state.last.elapsed() < state.every {
                    return None;
                }
                state.last = Instant::now();
                Some(progress_line(&state.what, state.total, done, status))
            }
            Event::End => None,
            Event::Line(text) | Event::LogLine(text) | Event::Trace(text) => Some(text.to_owned()),
        }
    }
}

/// `dev: ready 3/12, waiting on …` for counted work; `dev: baking 1m of 10m, …` for a
/// wait of unknown length, whose status says how far it is.
fn progress_line(what: &str, total: Option<u64>, done: u64, status: &str) -> String {
    let mut line = what.to_owned();
    if let Some(total) = total {
        line.push_str(&format!(" {done}/{total}"));
        if !status.is_empty() {
            line.push(',');
        }
    }
    if !status.is_empty() {
        line.push(' ');
        line.push_str(status);
    }
    line
}

impl Events for Lines {
    fn emit(&self, event: Event<'_>) {
        if let Some(line) = self.line_for(event) {
            line_to_stderr(&line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gets_a_progress_line_at_the_pace_the_work_asked_for() {
        let lines = Lines::every(Duration::ZERO);
        let counted = Event::Begin {
            what: "dev: ready",
            total: Some(4),
            log_every: None,
        };
        assert_eq!(lines.line_for(counted), None);
        assert_eq!(
            lines.line_for(Event::Progress {
                done: 2,
                status: "waiting on Deployment app/web (1 of 3 updated replicas are available)",
            }),
            Some(
                "dev: ready 2/4, waiting on Deployment app/web (1 of 3 updated replicas are available)"
                    .to_owned()
            )
        );
        assert_eq!(
            lines.line_for(Event::Progress {
                done: 3,
                status: ""
            }),
            Some("dev: ready 3/4".to_owned())
        );
        // A bake asks for a slower pace than the sink's own.
        let wait = Event::Begin {
            what: "dev: baking",
            total: None,
            log_every: Some(Duration::from_secs(3600)),
        };
        assert_eq!(lines.line_for(wait), None);
        let later = Event::Progress {
            done: 0,
            status: "30s of 10m, no alerts",
        };
        assert_eq!(lines.line_for(later), None);
        let lines = Lines::every(Duration::from_secs(3600));
        lines.line_for(Event::Begin {
            what: "dev: baking",
            total: None,
            log_every: Some(Duration::ZERO),
        });
        assert_eq!(
            lines.line_for(later),
            Some("dev: baking 30s of 10m, no alerts".to_owned())
        );
    }

    #[test]
    fn a_log_keeps_every_line_it_is_given() {
        let lines = Lines::every(Duration::from_secs(3600));
        for event in [
            Event::Line("dev: healthy"),
            Event::LogLine("dev: waiting for 4 objects to become ready"),
            Event::Trace("TRACE: x\n"),
        ] {
            assert!(lines.line_for(event).is_some(), "{event:?}");
        }
        assert_eq!(lines.line_for(Event::End), None);
    }
}

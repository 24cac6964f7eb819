//! TAP (`--output tap`), the Test Anything Protocol version 13 that conftest and kubeconform
//! also write, for pipelines that already read it: one test point per outcome, the plan
//! first, and what a problem says in a YAML diagnostic block under its test point.
//!
//! TAP is line-oriented, so nothing from the repository under review may end a line: a
//! description is made [`visible`] and its `#` and `\` escaped (an unescaped `#` starts a
//! directive), and diagnostic values are double-quoted YAML strings with every control
//! character escaped — in the subset of YAML that Perl's TAP::Parser (`prove`) reads.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{Report, RunInfo};
use crate::model::outcome::{Outcome, Status};
use crate::model::text::visible;

pub(crate) struct Tap<W: Write> {
    out: W,
}

impl<W: Write> Tap<W> {
    pub(crate) fn new(out: W) -> Self {
        Tap { out }
    }
}

impl<W: Write> Report for Tap<W> {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        let mut text = String::with_capacity(outcomes.len() * 80 + 64);
        text.push_str("TAP version 13\n");
        let _ = writeln!(text, "1..{}", outcomes.len());
        for (index, outcome) in outcomes.iter().enumerate() {
            test_point(&mut text, index + 1, outcome);
        }
        let _ = writeln!(text, "# {}", super::counts_line(info.command, outcomes));
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

/// `ok N - description`, with a `# SKIP` directive for a skipped outcome and a diagnostic
/// block for anything that has something to say.
fn test_point(text: &mut String, number: usize, outcome: &Outcome) {
    let ok = if outcome.status.is_failure() {
        "not ok"
    } else {
        "ok"
    };
    let _ = write!(text, "{ok} {number} - {}", description(outcome));
    if outcome.status == Status::Skipped {
        // The reason on the same line, as TAP consumers show it.
        let reason = outcome.message.lines().next().unwrap_or_default();
        let _ = write!(text, " # SKIP {}", visible(reason));
    }
    text.push('\n');
    if matches!(outcome.status, Status::Passed | Status::Skipped) {
        return;
    }
    text.push_str("  ---\n");
    let _ = writeln!(text, "  status: {}", outcome.status.as_str());
    let _ = writeln!(text, "  stage: {}", outcome.stage.as_str());
    let _ = writeln!(text, "  check: {}", quoted(&outcome.check));
    let _ = writeln!(text, "  message: {}", quoted(&outcome.message));
    let messages = outcome.each_message();
    if messages.len() > 1 {
        text.push_str("  messages:\n");
        for message in messages {
            let _ = writeln!(text, "    - {}", quoted(message));
        }
    }
    if let Some(location) = &outcome.location {
        let _ = writeln!(text, "  at: {}", quoted(&location.to_string()));
    }
    if let Some(detail) = &outcome.detail {
        let _ = writeln!(text, "  detail: {}", quoted(detail));
    }
    text.push_str("  ...\n");
}

/// `cluster: stage subject [check]` (no cluster for what belongs to none), as the human
/// report names an outcome under its cluster's heading, on one line and with `#` and `\`
/// escaped so that no part of it reads as a directive. The cluster tells apart the same
/// object judged in several clusters.
fn description(outcome: &Outcome) -> String {
    let subject = outcome.subject_name();
    let mut line = match &outcome.cluster {
        Some(cluster) => format!("{cluster}: {} {subject}", outcome.stage.as_str()),
        None => format!("{} {subject}", outcome.stage.as_str()),
    };
    // Policy subjects already end in their rule.
    if !subject.ends_with(&format!(" {}", outcome.check)) {
        let _ = write!(line, " [{}]", outcome.check);
    }
    visible(&line).replace('\\', "\\\\").replace('#', "\\#")
}

/// A double-quoted YAML string: `\`, `"` and every control character escaped, so that any
/// text stays on its line and reads back as it was.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Control characters are all below U+00A0: two hex digits name each.
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Location, Stage};
    use std::time::Duration;

    fn render(outcomes: &[Outcome]) -> String {
        let mut out = Vec::new();
        let info = RunInfo {
            command: "validate",
            elapsed: Duration::ZERO,
            stats: None,
        };
        Tap::new(&mut out).write(outcomes, &info).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_cluster_names_which_cluster_judged_the_object() {
        let outcomes = vec![
            Outcome::new(Stage::Policy, "security.deny_privileged", Status::Failed)
                .cluster("dev")
                .subject("Deployment webcache/proxy security.deny_privileged"),
            Outcome::new(Stage::Policy, "security.deny_privileged", Status::Failed)
                .cluster("int")
                .subject("Deployment webcache/proxy security.deny_privileged"),
        ];
        let text = render(&outcomes);
        assert!(
            text.contains(
                "not ok 1 - dev: policy Deployment webcache/proxy security.deny_privileged\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "not ok 2 - int: policy Deployment webcache/proxy security.deny_privileged\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn plan_points_directives_and_diagnostics() {
        let outcomes = vec![
            Outcome::new(Stage::Schema, "schema", Status::Passed).subject("Namespace app (a:1)"),
            Outcome::new(Stage::Schema, "schema", Status::Failed)
                .subject("ConfigMap app/x (a:5)")
                .message("/data/n: 3 is not of type \"string\"")
                .location(Location::file("a")),
            Outcome::new(Stage::Schema, "read", Status::Skipped)
                .subject("empty.yaml")
                .message("no Kubernetes objects"),
            Outcome::new(Stage::Policy, "main.warn", Status::Warning)
                .subject("Pod a/b main.warn")
                .messages(vec!["one".into(), "two".into()]),
        ];
        let text = render(&outcomes);
        assert!(text.starts_with("TAP version 13\n1..4\n"), "{text}");
        assert!(
            text.contains("ok 1 - schema Namespace app (a:1) [schema]\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "not ok 2 - schema ConfigMap app/x (a:5) [schema]\n  ---\n  status: failed\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  message: \"/data/n: 3 is not of type \\\"string\\\"\"\n"),
            "{text}"
        );
        assert!(
            text.contains("ok 3 - schema empty.yaml [read] # SKIP no Kubernetes objects\n"),
            "{text}"
        );
        assert!(
            text.contains("ok 4 - policy Pod a/b main.warn\n  ---\n  status: warning\n"),
            "{text}"
        );
        assert!(text.contains("  messages:\n    - \"one\"\n    - \"two\"\n"));
    }

    #[test]
    fn hostile_text_stays_on_its_line() {
        let outcomes = vec![
            Outcome::new(Stage::Schema, "read", Status::Error)
                .subject("evil\nok 99 - forged # SKIP x.yaml")
                .message("line\nok 98 - forged\x1b[2J")
                .detail("a\\b\r\n\u{85}"),
        ];
        let text = render(&outcomes);
        assert!(
            text.contains("not ok 1 - schema evil\\\\u{a}ok 99 - forged \\# SKIP x.yaml [read]\n"),
            "{text}"
        );
        assert!(
            text.contains("  message: \"line\\nok 98 - forged\\x1B[2J\"\n"),
            "{text}"
        );
        assert!(text.contains("  detail: \"a\\\\b\\r\\n\\x85\"\n"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("ok 9")), "{text}");
    }

    #[test]
    fn an_empty_run_has_an_empty_plan() {
        assert!(render(&[]).starts_with("TAP version 13\n1..0\n"));
    }
}

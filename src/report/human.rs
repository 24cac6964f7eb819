//! The report people read: problems grouped by cluster, each with its message, location and
//! detail (diff, jsonnet stack), then one summary line. Colour only when asked for.

use std::io::{self, Write};

use super::{Report, RunInfo};
use crate::model::outcome::{Outcome, Stage, Status, Summary};
use crate::model::text::visible;

pub struct Human<W: Write> {
    out: W,
    color: bool,
    /// List passed and skipped outcomes too, not only problems.
    verbose: bool,
}

impl<W: Write> Human<W> {
    pub fn new(out: W, color: bool, verbose: bool) -> Self {
        Human {
            out,
            color,
            verbose,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn label(&self, status: Status) -> String {
        let (code, text) = match status {
            Status::Passed => ("32", "ok  "),
            Status::Skipped => ("2", "skip"),
            Status::Warning => ("33", "warn"),
            Status::Failed => ("31;1", "FAIL"),
            Status::Error => ("31;1", "ERR "),
        };
        self.paint(code, text)
    }

    fn detail_line(&self, line: &str) -> String {
        let code = if line.starts_with("+++") || line.starts_with("---") {
            "1"
        } else if line.starts_with('+') {
            "32"
        } else if line.starts_with('-') {
            "31"
        } else if line.starts_with("@@") {
            "36"
        } else {
            return line.to_owned();
        };
        self.paint(code, line)
    }

    /// One finding that several objects share: the check and the count, the message once,
    /// then each object with where it is.
    fn write_group(&mut self, members: &[&Outcome]) -> io::Result<()> {
        let first = members[0];
        let line = format!(
            "  {} {:<10} {} ×{}",
            self.label(first.status),
            first.stage.as_str(),
            visible(&first.check),
            members.len()
        );
        writeln!(self.out, "{line}")?;
        self.write_messages(first)?;
        self.write_detail(first)?;
        writeln!(self.out, "         on:")?;
        for member in members {
            let subject = member.subject_name();
            let object = subject
                .strip_suffix(&format!(" {}", member.check))
                .unwrap_or(&subject);
            let at = member
                .location
                .as_ref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            writeln!(self.out, "           {}{}", visible(object), visible(&at))?;
        }
        Ok(())
    }

    fn write_outcome(&mut self, outcome: &Outcome) -> io::Result<()> {
        let subject = outcome.subject_name();
        // Policy subjects already end in their rule (one testcase per object and rule).
        let check = if subject.ends_with(&format!(" {}", outcome.check)) {
            String::new()
        } else {
            format!(" {}", self.paint("2", &format!("[{}]", outcome.check)))
        };
        let line = format!(
            "  {} {:<10} {}{check}",
            self.label(outcome.status),
            outcome.stage.as_str(),
            visible(&subject),
        );
        writeln!(self.out, "{line}")?;
        self.write_messages(outcome)?;
        if let Some(location) = &outcome.location {
            writeln!(self.out, "         at {}", visible(&location.to_string()))?;
        }
        self.write_detail(outcome)
    }

    /// The outcome's message, or its findings one per line under the constraint or waiver
    /// they come with.
    fn write_messages(&mut self, outcome: &Outcome) -> io::Result<()> {
        if let Some((lead, messages)) = outcome.itemized() {
            if !lead.is_empty() {
                writeln!(self.out, "         {}:", visible(lead))?;
            }
            for message in messages {
                writeln!(self.out, "         - {}", visible(message))?;
            }
        } else if !outcome.message.is_empty() {
            writeln!(self.out, "         {}", visible(&outcome.message))?;
        }
        Ok(())
    }

    /// The outcome's detail (a diff, a stack, the rule's place), a line at a time.
    fn write_detail(&mut self, outcome: &Outcome) -> io::Result<()> {
        if let Some(detail) = &outcome.detail {
            for line in detail.lines() {
                let painted = self.detail_line(&visible(line));
                writeln!(self.out, "           {painted}")?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Report for Human<W> {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        let mut clusters: Vec<Option<&str>> = Vec::new();
        for outcome in outcomes {
            if !clusters.contains(&outcome.cluster.as_deref()) {
                clusters.push(outcome.cluster.as_deref());
            }
        }
        for cluster in clusters {
            let group: Vec<&Outcome> = outcomes
                .iter()
                .filter(|o| o.cluster.as_deref() == cluster)
                .collect();
            let summary = Summary::of(group.iter().copied());
            let name = match cluster {
                Some(name) => name,
                None if info.command == "validate" => "manifests",
                None => "repository",
            };
            let heading = self.paint("1", name);
            writeln!(self.out, "{heading}: {}", counts(&summary))?;
            let mut waived: Vec<&Outcome> = Vec::new();
            // The same finding on several objects (the same messages and detail, such as
            // the rule's place) is said once, with the objects listed after it.
            let same = |a: &Outcome, b: &Outcome| {
                a.stage == b.stage
                    && a.check == b.check
                    && a.status == b.status
                    && a.message == b.message
                    && a.messages == b.messages
                    && a.detail == b.detail
                    && a.object.is_some()
                    && b.object.is_some()
            };
            let mut said: Vec<usize> = Vec::new();
            for (index, outcome) in group.iter().enumerate() {
                let outcome = *outcome;
                if said.contains(&index) {
                    continue;
                }
                if !self.verbose
                    && matches!(
                        outcome.status,
                        Status::Failed | Status::Error | Status::Warning
                    )
                {
                    let alike: Vec<usize> = (index + 1..group.len())
                        .filter(|i| same(outcome, group[*i]))
                        .collect();
                    if !alike.is_empty() {
                        let mut members = vec![outcome];
                        members.extend(alike.iter().map(|i| group[*i]));
                        said.extend(alike);
                        self.write_group(&members)?;
                        continue;
                    }
                }
                // What a rollout did not apply is shown, and so is a whole file skipped
                // (`validate` and `test`: it holds no objects): it explains a count that
                // would otherwise surprise. Waived and excepted policy results are counted
                // in one line, listed with their reasons with `-v`: on a green run they
                // were most of what was printed.
                let skipped_file = outcome.status == Status::Skipped
                    && (outcome.stage == Stage::Apply || outcome.object.is_none());
                if outcome.status == Status::Skipped
                    && outcome.stage == Stage::Policy
                    && outcome.object.is_some()
                    && !self.verbose
                {
                    waived.push(outcome);
                    continue;
                }
                if self.verbose
                    || skipped_file
                    || !matches!(outcome.status, Status::Passed | Status::Skipped)
                {
                    self.write_outcome(outcome)?;
                }
            }
            if !waived.is_empty() {
                // Check names come from the policies under review: shown, never sent as
                // they are.
                let checks = visible(&tally(waived.iter().map(|o| o.check.as_str())));
                writeln!(
                    self.out,
                    "  {} {} waived or excepted: {checks} (-v lists them with their reasons)",
                    self.label(Status::Skipped),
                    waived.len(),
                )?;
            }
        }
        if let Some(stats) = &info.stats {
            for line in stats_lines(stats, self.verbose) {
                writeln!(self.out, "{}", visible(&line))?;
            }
        }
        let summary = Summary::of(outcomes);
        let verdict = if summary.has_failures() {
            self.paint("31;1", "FAILED")
        } else if info.command == "diff" && summary.warnings > 0 {
            // `diff` reports what would change as warnings (exit code 3).
            self.paint("33;1", "CHANGES")
        } else {
            self.paint("32;1", "PASSED")
        };
        // Said only when it adds something: a failed check that found several things.
        let violations = if summary.violations > summary.failed {
            format!(" ({} violations)", summary.violations)
        } else {
            String::new()
        };
        // The summary line names what failed, so a log's last line says what to look at.
        let failing = tally(
            outcomes
                .iter()
                .filter(|o| matches!(o.status, Status::Failed | Status::Error))
                .map(|o| o.check.as_str()),
        );
        let failing = if failing.is_empty() {
            String::new()
        } else {
            format!("; failing: {failing}")
        };
        writeln!(
            self.out,
            "policyrun {}: {verdict}: {} checks, {}{violations} in {:.2}s{}",
            info.command,
            summary.total(),
            counts(&summary),
            info.elapsed.as_secs_f64(),
            visible(&failing)
        )?;
        self.out.flush()
    }
}

/// `check ×n` for each distinct check, most frequent first (then by name); at most six,
/// then how many more.
fn tally<'a>(checks: impl Iterator<Item = &'a str>) -> String {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for check in checks {
        match counted.iter_mut().find(|(c, _)| *c == check) {
            Some((_, n)) => *n += 1,
            None => counted.push((check, 1)),
        }
    }
    counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = counted
        .iter()
        .take(6)
        .map(|(check, n)| {
            if *n == 1 {
                (*check).to_owned()
            } else {
                format!("{check} ×{n}")
            }
        })
        .collect();
    let mut text = shown.join(", ");
    if counted.len() > 6 {
        text.push_str(&format!(" and {} more", counted.len() - 6));
    }
    text
}

/// What the run says about its expansions: notes always (an ignored cache record), the
/// counts of evaluated and cached entries with `-v`.
fn stats_lines(stats: &crate::model::stats::Stats, verbose: bool) -> Vec<String> {
    let mut lines: Vec<String> = stats.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(since) = &stats.changed_since {
        lines.push(format!(
            "changed since {since}: {} of {} entries checked, {} skipped (nothing they read changed)",
            stats.checked,
            stats.entries,
            stats.entries - stats.checked
        ));
    }
    if verbose {
        let mut line = format!(
            "expansion: {} entries, {} evaluated, {} from the cache",
            stats.checked, stats.evaluated, stats.cached
        );
        match &stats.cache_dir {
            Some(dir) => line.push_str(&format!(
                " ({} written to {})",
                stats.cache_writes,
                dir.display()
            )),
            None => line.push_str(" (no cache)"),
        }
        lines.push(line);
        if stats.policy_recalled > 0 {
            lines.push(format!(
                "policies: the verdicts of {} object(s) from the cache",
                stats.policy_recalled
            ));
        }
        if stats.schema_recalled > 0 {
            lines.push(format!(
                "schema: the passes of {} object(s) from the cache",
                stats.schema_recalled
            ));
        }
    }
    lines
}

fn counts(summary: &Summary) -> String {
    let mut parts = vec![format!("{} passed", summary.passed)];
    for (n, word) in [
        (summary.warnings, "warning(s)"),
        (summary.failed, "failed"),
        (summary.errors, "error(s)"),
        (summary.skipped, "skipped"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Location, Stage};
    use std::time::Duration;

    fn render(outcomes: &[Outcome], color: bool) -> String {
        let mut out = Vec::new();
        let info = RunInfo {
            command: "check",
            elapsed: Duration::from_millis(1500),
            stats: None,
        };
        Human::new(&mut out, color, false)
            .write(outcomes, &info)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample() -> Vec<Outcome> {
        vec![
            Outcome::new(Stage::Expand, "evaluate", Status::Passed)
                .cluster("dev")
                .subject("clusters/dev/a.jsonnet"),
            Outcome::new(Stage::Freshness, "up-to-date", Status::Failed)
                .cluster("dev")
                .subject("generated/dev/a/x.json")
                .message("stale")
                .detail("--- a\n+++ b\n-old\n+new")
                .location(Location::file("generated/dev/a/x.json")),
        ]
    }

    #[test]
    fn lists_problems_grouped_with_summary() {
        let text = render(&sample(), false);
        assert!(text.starts_with("dev: 1 passed, 1 failed\n"), "{text}");
        assert!(
            text.contains("FAIL freshness  generated/dev/a/x.json"),
            "{text}"
        );
        assert!(!text.contains("clusters/dev/a.jsonnet"), "{text}");
        assert!(text.contains("           +new"), "{text}");
        assert!(
            text.ends_with(
                "policyrun check: FAILED: 2 checks, 1 passed, 1 failed in 1.50s; failing: up-to-date\n"
            ),
            "{text}"
        );
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn control_characters_from_sources_are_shown_not_sent() {
        let outcomes = vec![
            Outcome::new(Stage::Expand, "evaluate", Status::Error)
                .cluster("dev")
                .subject("clusters/dev/a.jsonnet")
                .message("boom \x1b[2J\x07")
                .detail("line \x1b]0;title\x07"),
        ];
        let text = render(&outcomes, false);
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text:?}");
        assert!(text.contains("boom \\u{1b}[2J"), "{text}");
    }

    #[test]
    fn stats_show_notes_always_and_counts_when_verbose() {
        let stats = crate::model::stats::Stats {
            entries: 3,
            checked: 3,
            evaluated: 1,
            cached: 2,
            changed_since: None,
            cache_dir: Some("/c/repo-1".into()),
            cache_writes: 1,
            policy_recalled: 7,
            policy_shared: 0,
            schema_shared: 0,
            schema_recalled: 4,
            notes: vec!["cache: ignored 1 unusable record(s)".into()],
        };
        let info = RunInfo {
            command: "check",
            elapsed: Duration::ZERO,
            stats: Some(stats),
        };
        let render = |verbose| {
            let mut out = Vec::new();
            Human::new(&mut out, false, verbose)
                .write(&sample(), &info)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        let quiet = render(false);
        assert!(
            quiet.contains("note: cache: ignored 1 unusable record(s)\n"),
            "{quiet}"
        );
        assert!(!quiet.contains("expansion:"), "{quiet}");
        assert!(!quiet.contains("policies:"), "{quiet}");
        assert!(!quiet.contains("schema:"), "{quiet}");
        let verbose = render(true);
        assert!(
            verbose.contains(
                "expansion: 3 entries, 1 evaluated, 2 from the cache (1 written to /c/repo-1)\n"
            ),
            "{verbose}"
        );
        assert!(
            verbose.contains("policies: the verdicts of 7 object(s) from the cache\n"),
            "{verbose}"
        );
        assert!(
            verbose.contains("schema: the passes of 4 object(s) from the cache\n"),
            "{verbose}"
        );
    }

    #[test]
    fn several_messages_get_a_line_each_and_are_counted() {
        let mut constraint = Outcome::new(Stage::Policy, "K8sLabels/need", Status::Failed)
            .cluster("dev")
            .subject("ConfigMap default/a K8sLabels/need")
            .messages(vec![
                "missing label team".into(),
                "missing label owner".into(),
            ]);
        constraint.message = format!("K8sLabels/need: {}", constraint.message);
        let rule = Outcome::new(Stage::Policy, "main.deny", Status::Failed)
            .cluster("dev")
            .subject("ConfigMap default/a main.deny")
            .messages(vec!["first".into(), "second".into()]);
        let text = render(&[constraint, rule], false);
        assert!(
            text.contains(
                "         K8sLabels/need:\n         - missing label team\n         - missing label owner\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("main.deny\n         - first\n         - second\n"),
            "{text}"
        );
        assert!(!text.contains("first; second"), "{text}");
        assert!(
            text.ends_with(
                "FAILED: 2 checks, 0 passed, 2 failed (4 violations) in 1.50s; failing: K8sLabels/need, main.deny\n"
            ),
            "{text}"
        );
    }

    /// Waived results are one line per cluster without `-v`, with their checks counted;
    /// `-v` lists each with its reason.
    #[test]
    fn waived_results_are_counted_in_one_line_and_listed_with_verbose() {
        let waived = |name: &str, check: &str| Outcome {
            object: Some(std::sync::Arc::new(crate::model::outcome::ObjectId {
                cluster: "dev".into(),
                entry: "clusters/dev/a.jsonnet".into(),
                item: None,
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("shop".into()),
                name: name.into(),
            })),
            ..Outcome::new(Stage::Policy, check, Status::Skipped)
                .cluster("dev")
                .subject(format!("Pod shop/{name} {check}"))
                .message("waived until 2099-01-01 by team: because")
        };
        let outcomes = vec![
            waived("a", "security.deny_privileged"),
            waived("b", "security.deny_privileged"),
            waived("c", "namespace.deny_unknown_namespace"),
        ];
        let quiet = render(&outcomes, false);
        assert!(
            quiet.contains("  skip 3 waived or excepted: security.deny_privileged ×2, namespace.deny_unknown_namespace (-v lists them with their reasons)\n"),
            "{quiet}"
        );
        assert!(!quiet.contains("because"), "{quiet}");
        assert!(!quiet.contains("; failing:"), "{quiet}");
        let mut out = Vec::new();
        let info = RunInfo {
            command: "check",
            elapsed: Duration::from_millis(1500),
            stats: None,
        };
        Human::new(&mut out, false, true)
            .write(&outcomes, &info)
            .unwrap();
        let verbose = String::from_utf8(out).unwrap();
        assert_eq!(verbose.matches("because").count(), 3, "{verbose}");
        assert!(!verbose.contains("waived or excepted:"), "{verbose}");
    }

    /// The same finding on several objects is said once, the objects listed after it;
    /// `-v` shows each on its own.
    #[test]
    fn the_same_finding_on_several_objects_is_said_once() {
        let failed = |name: &str| Outcome {
            object: Some(std::sync::Arc::new(crate::model::outcome::ObjectId {
                cluster: "dev".into(),
                entry: "clusters/dev/a.jsonnet".into(),
                item: None,
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: name.into(),
            })),
            ..Outcome::new(
                Stage::Policy,
                "security.deny_readiness_probe",
                Status::Failed,
            )
            .cluster("dev")
            .subject(format!(
                "Deployment shop/{name} security.deny_readiness_probe"
            ))
            .message("container \"app\" has no readinessProbe")
            .detail("rule deny_readiness_probe at <built-in>/security/security.rego:9")
            .location(Location::file(format!("generated/dev/{name}.json")))
        };
        let outcomes = vec![failed("a"), failed("b"), failed("c")];
        let text = render(&outcomes, false);
        assert_eq!(text.matches("has no readinessProbe").count(), 1, "{text}");
        assert!(
            text.contains("  FAIL policy     security.deny_readiness_probe ×3\n"),
            "{text}"
        );
        assert!(
            text.contains("         on:\n           Deployment shop/a at generated/dev/a.json\n           Deployment shop/b at generated/dev/b.json\n"),
            "{text}"
        );
        let mut out = Vec::new();
        let info = RunInfo {
            command: "check",
            elapsed: Duration::from_millis(1500),
            stats: None,
        };
        Human::new(&mut out, false, true)
            .write(&outcomes, &info)
            .unwrap();
        let verbose = String::from_utf8(out).unwrap();
        assert_eq!(
            verbose.matches("has no readinessProbe").count(),
            3,
            "{verbose}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render(&sample(), true);
        assert!(text.contains("\x1b[31m-old\x1b[0m"), "{text}");
    }
}

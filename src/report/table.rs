//! A plain aligned table (`--output table`): one row per outcome — status, cluster, stage,
//! check, subject, file, message — for people who read a run in a terminal or feed it to `column`,
//! `grep` or `awk`. Rows are those the human report lists (problems, waived results, files
//! without objects; every outcome with `-v`), then the summary line. Every cell is one
//! [`visible`] line, so a hostile file name cannot add a row; colour only when asked for.

use std::io::{self, Write};

use super::{Report, RunInfo};
use crate::model::outcome::{Outcome, Stage, Status};
use crate::model::text::visible;

pub(crate) struct Table<W: Write> {
    out: W,
    color: bool,
    verbose: bool,
}

impl<W: Write> Table<W> {
    pub(crate) fn new(out: W, color: bool, verbose: bool) -> Self {
        Table {
            out,
            color,
            verbose,
        }
    }

    /// Whether a row is shown: the human report's choice.
    fn shows(&self, outcome: &Outcome) -> bool {
        self.verbose
            || !matches!(outcome.status, Status::Passed | Status::Skipped)
            || (outcome.status == Status::Skipped
                && (matches!(outcome.stage, Stage::Policy | Stage::Apply)
                    || outcome.object.is_none()))
    }
}

const HEADER: [&str; 7] = [
    "STATUS", "CLUSTER", "STAGE", "CHECK", "SUBJECT", "FILE", "MESSAGE",
];

/// What an empty cell shows, so that every row splits into the same columns.
const NONE: &str = "-";

/// One cell: a single line, control characters (line breaks too) shown escaped.
fn cell(text: &str) -> String {
    visible(text)
}

impl<W: Write> Report for Table<W> {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        let rows: Vec<(Status, [String; 7])> = outcomes
            .iter()
            .filter(|o| self.shows(o))
            .map(|o| {
                // Where to fix it: the located file and line, else the entry.
                let file = match (&o.location, &o.entry) {
                    (Some(location), _) => cell(&location.to_string()),
                    (None, Some(entry)) => cell(&entry.display().to_string()),
                    (None, None) => NONE.to_owned(),
                };
                (
                    o.status,
                    [
                        o.status.as_str().to_owned(),
                        o.cluster.as_deref().map_or_else(|| NONE.to_owned(), cell),
                        o.stage.as_str().to_owned(),
                        cell(&o.check),
                        cell(&o.subject_name()),
                        file,
                        cell(&o.message),
                    ],
                )
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for (_, row) in &rows {
            for (width, text) in widths.iter_mut().zip(row) {
                *width = (*width).max(text.chars().count());
            }
        }
        let mut text = String::new();
        let line = |text: &mut String, cells: [&str; 7], paint: Option<&str>| {
            for (i, value) in cells.iter().enumerate() {
                let last = i == cells.len() - 1;
                let padding = if last {
                    0
                } else {
                    widths[i] - value.chars().count()
                };
                match (i, paint) {
                    (0, Some(code)) => text.push_str(&format!("\x1b[{code}m{value}\x1b[0m")),
                    _ => text.push_str(value),
                }
                if !last {
                    text.push_str(&" ".repeat(padding + 2));
                }
            }
            let trimmed = text.trim_end_matches(' ').len();
            text.truncate(trimmed);
            text.push('\n');
        };
        line(&mut text, HEADER, None);
        for (status, row) in &rows {
            let paint = self.color.then_some(match status {
                Status::Passed => "32",
                Status::Skipped => "2",
                Status::Warning => "33",
                Status::Failed | Status::Error => "31;1",
            });
            line(&mut text, row.each_ref().map(String::as_str), paint);
        }
        text.push_str(&super::counts_line(info.command, outcomes));
        text.push('\n');
        self.out.write_all(text.as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn render(outcomes: &[Outcome], color: bool, verbose: bool) -> String {
        let mut out = Vec::new();
        let info = RunInfo {
            command: "validate",
            elapsed: Duration::ZERO,
            stats: None,
        };
        Table::new(&mut out, color, verbose)
            .write(outcomes, &info)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample() -> Vec<Outcome> {
        vec![
            Outcome::new(Stage::Schema, "schema", Status::Passed).subject("Namespace app (a:1)"),
            Outcome::new(Stage::Schema, "metadata", Status::Failed)
                .subject("ConfigMap app/Bad (a:5)")
                .message("metadata.name `Bad` is not valid"),
        ]
    }

    #[test]
    fn columns_line_up() {
        let text = render(&sample(), false, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "STATUS  CLUSTER  STAGE   CHECK     SUBJECT                  FILE  MESSAGE"
        );
        assert_eq!(
            lines[1],
            "passed  -        schema  schema    Namespace app (a:1)      -"
        );
        assert_eq!(
            lines[2],
            "failed  -        schema  metadata  ConfigMap app/Bad (a:5)  -     metadata.name `Bad` is not valid"
        );
        assert!(lines[3].starts_with("policyrun validate: FAILED: 2 checks, 1 passed"));
        assert!(!text.contains('\x1b'));
        // Without -v only the problems.
        let quiet = render(&sample(), false, false);
        assert_eq!(quiet.lines().count(), 3, "{quiet}");
        assert!(render(&sample(), true, false).contains("\x1b[31;1mfailed\x1b[0m"));
    }

    #[test]
    fn rows_name_the_cluster_and_the_file_to_fix() {
        let outcomes = vec![
            Outcome::new(Stage::Policy, "security.deny_privileged", Status::Failed)
                .cluster("dev")
                .entry(std::path::PathBuf::from("clusters/dev/squid.jsonnet"))
                .subject("Deployment webcache/proxy security.deny_privileged")
                .message("container \"squid\" is privileged")
                .location(crate::model::outcome::Location {
                    file: "generated/dev/squid/squid.json".into(),
                    line: Some(3),
                    column: None,
                }),
            Outcome::new(Stage::Expand, "evaluate", Status::Error)
                .cluster("int")
                .entry(std::path::PathBuf::from("clusters/int/a.jsonnet"))
                .message("boom"),
        ];
        let text = render(&outcomes, false, false);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .take(2)
            .map(|l| {
                l.split("  ")
                    .filter(|c| !c.trim().is_empty())
                    .map(str::trim)
                    .collect()
            })
            .collect();
        assert_eq!(rows[0][1], "dev", "{text}");
        assert_eq!(rows[0][5], "generated/dev/squid/squid.json:3", "{text}");
        assert_eq!(rows[1][1], "int", "{text}");
        assert!(rows[1].contains(&"clusters/int/a.jsonnet"), "{text}");
    }

    #[test]
    fn hostile_text_cannot_add_a_row() {
        let outcomes = vec![
            Outcome::new(Stage::Schema, "read", Status::Error)
                .subject("x\npassed  schema  forged")
                .message("a\r\nb\x1b[2J"),
        ];
        let text = render(&outcomes, false, false);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("x\\u{a}passed  schema  forged"), "{text}");
        assert!(text.contains("a\\u{d}\\u{a}b\\u{1b}[2J"), "{text}");
    }
}

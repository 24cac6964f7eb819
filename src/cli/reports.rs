//! The end of every command: outcomes sorted once, then every report the plan asks for
//! written (human, JSON, TAP or table on standard output, JUnit to a file), and the counts
//! that `main` turns into the exit code.

use std::io;
use std::time::Instant;

use crate::cli::UsageError;
use crate::cli::args::Output;
use crate::cli::plan::ReportPlan;
use crate::model::outcome::{Outcome, Summary, every_pass};
use crate::model::stats::Stats;
use crate::report::review::{Form, ReviewReport};
use crate::report::{
    self, Report, RunInfo, human::Human, json::Json, junit::Junit, sarif::Sarif, table::Table,
    tap::Tap,
};

/// Sorts the outcomes, writes every report of `plan` and returns the counts for `main`.
/// `stats` says how `check` came by its expansions.
pub(crate) fn finish(
    plan: &ReportPlan,
    outcomes: &mut Vec<Outcome>,
    started: Instant,
    stats: Option<Stats>,
) -> Result<Summary, UsageError> {
    if lists_every_pass(plan) {
        *outcomes = every_pass(std::mem::take(outcomes));
    }
    report::sort(outcomes, &plan.cluster_order);
    let info = RunInfo {
        command: plan.command,
        elapsed: started.elapsed(),
        stats,
    };
    write_reports(plan, outcomes, &info)?;
    Ok(Summary::of(outcomes.iter()))
}

/// Whether a report of `plan` shows every check that passed, each on its own: the others
/// count passes, or list them by check (JUnit), and take an outcome that counts several
/// passes as it is ([`Outcome::passes`]).
fn lists_every_pass(plan: &ReportPlan) -> bool {
    plan.verbose || matches!(plan.output, Output::Json | Output::Tap)
}

/// How much of a report on standard output is gathered before it is written.
const STDOUT_BUFFER: usize = 1 << 16;

/// Writes every report of `plan`, the outcomes already sorted. Every report is written even
/// when another fails: a closed standard output (`| head`) must not cost Jenkins its JUnit
/// file. A reader that stopped reading is not an error; any other failure to write a report
/// is, since the verdict would not reach anyone.
pub(crate) fn write_reports(
    plan: &ReportPlan,
    outcomes: &[Outcome],
    info: &RunInfo,
) -> Result<(), UsageError> {
    // Standard output is line-buffered: a report written through it directly costs one write
    // call per line (a JSON report of 380,000 checks made 8 million of them and took 9 s).
    let stdout = io::BufWriter::with_capacity(STDOUT_BUFFER, io::stdout().lock());
    let review_form = match plan.output {
        Output::Markdown => Some(Form::Markdown),
        Output::Human if plan.review_on_stdout => Some(Form::Text {
            verbose: plan.verbose,
        }),
        Output::Json | Output::JsonProblems if plan.review_on_stdout => Some(Form::Json),
        _ => None,
    };
    let mut reports: Vec<Box<dyn Report>> = vec![match (review_form, &plan.review) {
        (Some(form), Some(review)) => Box::new(ReviewReport::new(stdout, review.clone(), form)),
        (Some(_), None) => {
            return Err(UsageError(format!(
                "{}: there is no review to write (-o markdown needs --review-base REF)",
                plan.command
            )));
        }
        (None, _) => match plan.output {
            Output::Human | Output::Markdown => {
                Box::new(Human::new(stdout, plan.color, plan.verbose))
            }
            Output::Json => Box::new(Json::new(stdout)),
            Output::JsonProblems => Box::new(Json::problems_only(stdout)),
            Output::Tap => Box::new(Tap::new(stdout)),
            Output::Table => Box::new(Table::new(stdout, plan.color, plan.verbose)),
            Output::Sarif => Box::new(Sarif::new(stdout)),
        },
    }];
    if let (Some(path), Some(review)) = (&plan.review_out, &plan.review) {
        reports.push(Box::new(ReviewReport::<io::Sink>::file(
            path.clone(),
            review.clone(),
        )));
    }
    if let Some(path) = &plan.junit {
        // Written only to a regular file or a new path: the report replaces what is there
        // (a link, a FIFO or a device such as /dev/full became a regular file).
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && !meta.file_type().is_file()
        {
            return Err(UsageError(format!(
                "--junit {}: not a regular file; reports are written only to regular files or new paths",
                path.display()
            )));
        }
        reports.push(Box::new(Junit::new(path.clone())));
    }
    let mut first_error = None;
    for report in &mut reports {
        if let Err(e) = report.write(outcomes, info)
            && e.kind() != io::ErrorKind::BrokenPipe
            && first_error.is_none()
        {
            first_error = Some(UsageError(format!("cannot write the report: {e}")));
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_is_refused_where_it_would_replace_something_else_than_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let plan = ReportPlan {
            command: "check",
            output: Output::Json,
            verbose: false,
            color: false,
            junit: Some(dir.path().to_path_buf()),
            cluster_order: Vec::new(),
            review: None,
            review_on_stdout: false,
            review_out: None,
        };
        let Err(UsageError(message)) = write_reports(&plan, &[], &RunInfo::default()) else {
            panic!("a directory is not a report file");
        };
        assert_eq!(
            message,
            format!(
                "--junit {}: not a regular file; reports are written only to regular files or new paths",
                dir.path().display()
            )
        );
        assert!(dir.path().is_dir(), "the directory stays");
    }
}

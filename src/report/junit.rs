//! JUnit XML for Jenkins: one testsuite per stage and cluster, one testcase per entry or
//! generated file, classnames `policyrun.<cluster>.<stage>` so that Jenkins' test tree groups
//! by cluster, then stage. Written with quick-junit, which escapes text and drops characters
//! XML cannot hold (ANSI escapes from jsonnet errors, for one).

use std::io;
use std::path::PathBuf;

use quick_junit::{
    NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite, XmlString,
};
use rayon::prelude::*;

use super::{Report, RunInfo};
use crate::outcome::{Outcome, Stage, Status};
use crate::write::write_atomically;

/// Writes the JUnit file atomically, so Jenkins never publishes half a report.
pub struct Junit {
    path: PathBuf,
}

impl Junit {
    pub fn new(path: PathBuf) -> Self {
        Junit { path }
    }
}

impl Report for Junit {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        let xml = render(outcomes, info)?;
        write_atomically(&self.path, xml.as_bytes())
    }
}

/// Dots in a classname nest Jenkins packages; a cluster named by its domain stays one level.
fn class_part(text: &str) -> String {
    text.replace('.', "_")
}

/// The whole document, from outcomes in report order (`report::sort`): suites appear in
/// that order (clusters in rollout order), testcases by subject within a suite. Outcomes
/// about the same subject in one suite — neighbours, once sorted — become one testcase
/// whose status is the worst of them.
pub fn render(outcomes: &[Outcome], info: &RunInfo) -> io::Result<String> {
    fn suite_of(o: &Outcome) -> (Stage, &str) {
        (o.stage, o.cluster.as_deref().unwrap_or("repository"))
    }
    let mut report = JunitReport::new("policyrun");
    report.set_time(info.elapsed);
    // Suites are built on every core (a large gate has tens of thousands of testcases),
    // then added in order.
    let suites: Vec<&[Outcome]> = outcomes
        .chunk_by(|a, b| suite_of(a) == suite_of(b))
        .collect();
    let built: Vec<TestSuite> = suites
        .par_iter()
        .map(|suite_outcomes| {
            let (stage, cluster) = suite_of(&suite_outcomes[0]);
            // Made once: quick-junit runs every string it is given through an ANSI escape
            // parser, which for one classname per testcase was a third of a warm run
            // with 345,000 testcases; a ready XmlString is taken as it is.
            let classname = XmlString::new(format!(
                "policyrun.{}.{}",
                class_part(cluster),
                stage.as_str()
            ));
            let cases: Vec<&[Outcome]> = suite_outcomes
                .chunk_by(|a, b| a.subject_name() == b.subject_name())
                .collect();
            let cases: Vec<TestCase> = cases
                .par_iter()
                .map(|case| {
                    let group: Vec<&Outcome> = case.iter().collect();
                    test_case(case[0].subject_name().into_owned(), &classname, &group)
                })
                .collect();
            let mut suite = TestSuite::new(format!("{cluster} {stage}"));
            suite.add_test_cases(cases);
            suite
        })
        .collect();
    report.add_test_suites(built);
    let xml = report
        .to_string()
        .map_err(|e| io::Error::other(format!("cannot write JUnit XML: {e}")))?;
    Ok(drop_root_skipped_attribute(xml))
}

/// The testcase for one subject: the worst status of its outcomes, with their messages,
/// locations and details. Warnings pass (Jenkins has no such status) with their text kept
/// in the testcase's system-out.
fn test_case(subject: String, classname: &XmlString, group: &[&Outcome]) -> TestCase {
    let worst = group
        .iter()
        .map(|o| o.status)
        .max()
        .unwrap_or(Status::Passed);
    if worst == Status::Passed {
        // Most testcases: nothing to say, so nothing is formatted.
        let mut case = TestCase::new(subject, TestCaseStatus::success());
        case.set_classname(classname.clone());
        return case;
    }
    let shown: Vec<&Outcome> = group
        .iter()
        .copied()
        .filter(|o| o.status == worst)
        .collect();
    let mut text = String::new();
    for outcome in &shown {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&format!("[{}] {}", outcome.check, outcome.message));
        if let Some(location) = &outcome.location {
            text.push_str(&format!("\nat {location}"));
        }
        if let Some(detail) = &outcome.detail {
            text.push('\n');
            text.push_str(detail);
        }
    }
    let status = match worst {
        Status::Passed | Status::Warning => TestCaseStatus::success(),
        Status::Skipped => {
            let mut status = TestCaseStatus::skipped();
            // junit-4.xsd allows no attributes on <skipped>: the reason goes in its text.
            status.set_description(text.clone());
            status
        }
        Status::Failed | Status::Error => {
            let kind = if worst == Status::Error {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut status = TestCaseStatus::non_success(kind);
            status
                .set_message(shown[0].message.clone())
                .set_type(shown[0].check.clone())
                .set_description(text.clone());
            status
        }
    };
    let mut case = TestCase::new(subject, status);
    case.set_classname(classname.clone());
    if worst == Status::Warning {
        case.set_system_out(format!("warning: {text}"));
    }
    case
}

/// quick-junit 0.7 always writes `skipped="N"` on `<testsuites>`, an attribute Jenkins'
/// junit-4.xsd does not declare; the counts stay on each `<testsuite>`.
fn drop_root_skipped_attribute(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let end = xml[start..].find('>').map_or(xml.len(), |i| start + i);
    let tag = &xml[start..end];
    let Some(at) = tag.find(" skipped=\"") else {
        return xml;
    };
    let value_start = start + at + " skipped=\"".len();
    let Some(close) = xml[value_start..].find('"') else {
        return xml;
    };
    let mut out = String::with_capacity(xml.len());
    out.push_str(&xml[..start + at]);
    out.push_str(&xml[value_start + close + 1..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Location;
    use std::time::Duration;

    fn info() -> RunInfo {
        RunInfo {
            command: "check",
            elapsed: Duration::from_millis(10),
            stats: None,
        }
    }

    #[test]
    fn hostile_text_stays_well_formed_and_grouped() {
        let outcomes = vec![
            Outcome::new(Stage::Expand, "evaluate", Status::Error)
                .cluster("dev.example.com")
                .subject("dev.example.com/a.jsonnet")
                .message("assert failed: ]]> <b> & \x1b[31mred\x1b[0m \u{0}")
                .detail("trace ]]> \x07")
                .location(Location::file("dev.example.com/a.jsonnet")),
            Outcome::new(Stage::Expand, "unique-identity", Status::Failed)
                .cluster("dev.example.com")
                .subject("dev.example.com/a.jsonnet")
                .message("duplicate"),
            Outcome::new(Stage::Freshness, "up-to-date", Status::Warning)
                .cluster("dev.example.com")
                .subject("generated/x.json")
                .message("formatting only"),
            Outcome::new(Stage::Freshness, "up-to-date", Status::Skipped)
                .cluster("dev.example.com")
                .subject("generated/y.json")
                .message("waived"),
        ];
        let xml = render(&outcomes, &info()).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        assert!(root.attribute("skipped").is_none(), "{xml}");
        let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
        assert_eq!(suites.len(), 2);
        assert_eq!(suites[0].attribute("name"), Some("dev.example.com expand"));
        let cases: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3, "{xml}");
        assert_eq!(
            cases[0].attribute("classname"),
            Some("policyrun.dev_example_com.expand")
        );
        let error = cases[0]
            .children()
            .find(|n| n.has_tag_name("error"))
            .unwrap();
        assert!(error.attribute("message").unwrap().contains("]]> <b> &"));
        assert!(!xml.contains('\x1b') && !xml.contains('\u{0}') && !xml.contains('\x07'));
        assert!(cases[1].children().any(|n| n.has_tag_name("system-out")));
        let skipped = cases[2]
            .children()
            .find(|n| n.has_tag_name("skipped"))
            .unwrap();
        assert_eq!(skipped.attributes().count(), 0);
    }

    #[test]
    fn root_skipped_attribute_is_dropped() {
        let xml = "<?xml?>\n<testsuites name=\"p\" tests=\"1\" skipped=\"0\" failures=\"0\">\n<testsuite skipped=\"0\">".to_owned();
        assert_eq!(
            drop_root_skipped_attribute(xml),
            "<?xml?>\n<testsuites name=\"p\" tests=\"1\" failures=\"0\">\n<testsuite skipped=\"0\">"
        );
    }
}

//! JUnit XML for Jenkins: one testsuite per stage and cluster, one testcase per entry or
//! generated file, classnames `policyrun.<cluster>.<stage>` so that Jenkins' test tree groups
//! by cluster, then stage. The document is written here, element by element, with text
//! escaped and what XML cannot hold dropped (ANSI escapes from jsonnet errors, other control
//! characters): it replaced quick-junit, which built every testcase as a structure and ran
//! each string through an ANSI parser — half of a warm run with 345,000 testcases
//! (BENCHMARKS.md). `testdata/junit-4.xsd` is Jenkins' schema; the tests hold the output to it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;

use rayon::prelude::*;

use super::{Report, RunInfo};
use crate::model::atomic::write_atomically;
use crate::model::outcome::{Outcome, Stage, Status};

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

/// One testsuite, written (its opening tag apart: it holds counts known only once the
/// testcases are written), with its counts for the document's root.
struct Suite {
    head: String,
    cases: String,
    tests: usize,
    failures: usize,
    errors: usize,
}

/// The whole document, from outcomes in report order (`report::sort`): suites appear in
/// that order (clusters in rollout order), testcases by subject within a suite. Outcomes
/// about the same subject in one suite — neighbours, once sorted — become one testcase
/// whose status is the worst of them.
pub fn render(outcomes: &[Outcome], info: &RunInfo) -> io::Result<String> {
    fn suite_of(o: &Outcome) -> (Stage, &str) {
        (o.stage, o.cluster.as_deref().unwrap_or("repository"))
    }
    // Suites are written on every core (a large gate has hundreds of thousands of
    // testcases), then joined in order.
    let suites: Vec<&[Outcome]> = outcomes
        .chunk_by(|a, b| suite_of(a) == suite_of(b))
        .collect();
    let written: Vec<Suite> = suites
        .par_iter()
        .map(|suite_outcomes| {
            let (stage, cluster) = suite_of(&suite_outcomes[0]);
            let classname = escaped(&format!(
                "policyrun.{}.{}",
                class_part(cluster),
                stage.as_str()
            ))
            .into_owned();
            let cases: Vec<&[Outcome]> = suite_outcomes
                .chunk_by(|a, b| a.subject_name() == b.subject_name())
                .collect();
            let mut xml = String::with_capacity(cases.len() * 120 + 32);
            let mut counts = [0usize; 3];
            for case in &cases {
                let worst = test_case(&mut xml, &case[0].subject_name(), &classname, case);
                match worst {
                    Status::Failed => counts[0] += 1,
                    Status::Error => counts[1] += 1,
                    Status::Skipped => counts[2] += 1,
                    Status::Passed | Status::Warning => {}
                }
            }
            let [failures, errors, skipped] = counts;
            let head = format!(
                "    <testsuite name=\"{}\" tests=\"{}\" skipped=\"{skipped}\" errors=\"{errors}\" failures=\"{failures}\">\n",
                escaped(&format!("{cluster} {stage}")),
                cases.len()
            );
            xml.push_str("    </testsuite>\n");
            Suite {
                head,
                cases: xml,
                tests: cases.len(),
                failures,
                errors,
            }
        })
        .collect();
    let (tests, failures, errors) = written.iter().fold((0, 0, 0), |(t, f, e), s| {
        (t + s.tests, f + s.failures, e + s.errors)
    });
    let size: usize = written.iter().map(|s| s.head.len() + s.cases.len()).sum();
    let mut xml = String::with_capacity(size + 200);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"policyrun\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        info.elapsed.as_secs_f64()
    );
    for suite in &written {
        xml.push_str(&suite.head);
        xml.push_str(&suite.cases);
    }
    xml.push_str("</testsuites>\n");
    Ok(xml)
}

/// Writes the testcase for one subject and returns its status: the worst of its outcomes,
/// with their messages, locations and details. Warnings pass (Jenkins has no such status)
/// with their text kept in the testcase's system-out.
fn test_case(xml: &mut String, subject: &str, classname: &str, group: &[Outcome]) -> Status {
    let worst = group
        .iter()
        .map(|o| o.status)
        .max()
        .unwrap_or(Status::Passed);
    let _ = write!(
        xml,
        "        <testcase name=\"{}\" classname=\"{classname}\"",
        escaped(subject)
    );
    if worst == Status::Passed {
        // Most testcases: nothing to say, so nothing is formatted.
        xml.push_str("/>\n");
        return worst;
    }
    let shown: Vec<&Outcome> = group.iter().filter(|o| o.status == worst).collect();
    let mut text = String::new();
    for outcome in &shown {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        match outcome.itemized() {
            // Several findings: each on its own line, so that Jenkins shows them as a list.
            Some((lead, messages)) => {
                let _ = write!(text, "[{}]", outcome.check);
                if !lead.is_empty() {
                    let _ = write!(text, " {lead}:");
                }
                for message in messages {
                    let _ = write!(text, "\n- {message}");
                }
            }
            None => {
                let _ = write!(text, "[{}] {}", outcome.check, outcome.message);
            }
        }
        if let Some(location) = &outcome.location {
            let _ = write!(text, "\nat {location}");
        }
        if let Some(detail) = &outcome.detail {
            text.push('\n');
            text.push_str(detail);
        }
    }
    xml.push_str(">\n");
    match worst {
        Status::Passed => {}
        Status::Warning => {
            let _ = writeln!(
                xml,
                "            <system-out>warning: {}</system-out>",
                escaped(&text)
            );
        }
        Status::Skipped => {
            // junit-4.xsd allows no attributes on <skipped>: the reason goes in its text.
            let _ = writeln!(xml, "            <skipped>{}</skipped>", escaped(&text));
        }
        Status::Failed | Status::Error => {
            let element = if worst == Status::Error {
                "error"
            } else {
                "failure"
            };
            let _ = writeln!(
                xml,
                "            <{element} message=\"{}\" type=\"{}\">{}</{element}>",
                escaped(&shown[0].message),
                escaped(&shown[0].check),
                escaped(&text)
            );
        }
    }
    xml.push_str("        </testcase>\n");
    worst
}

/// `text` as XML character data or an attribute value: markup characters escaped, ANSI
/// escape sequences and the characters XML 1.0 cannot hold (controls other than tab, line
/// feed and carriage return; U+FFFE, U+FFFF) dropped.
fn escaped(text: &str) -> Cow<'_, str> {
    let plain = |c: char| {
        !matches!(c, '&' | '<' | '>' | '"' | '\'' | '\u{FFFE}' | '\u{FFFF}')
            && (c >= ' ' || matches!(c, '\t' | '\n' | '\r'))
            && c != '\u{7f}'
    };
    if text.chars().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{1b}' => match chars.next() {
                // CSI: parameters up to a final byte in @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Any other escape is ESC and one character.
                _ => {}
            },
            c if plain(c) => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Location;
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
        assert!(
            error
                .attribute("message")
                .unwrap()
                .contains("]]> <b> & red ")
        );
        assert!(!xml.contains("[31m") && !xml.contains("[0m"), "{xml}");
        assert!(!xml.contains('\x1b') && !xml.contains('\u{0}') && !xml.contains('\x07'));
        assert!(cases[1].children().any(|n| n.has_tag_name("system-out")));
        let skipped = cases[2]
            .children()
            .find(|n| n.has_tag_name("skipped"))
            .unwrap();
        assert_eq!(skipped.attributes().count(), 0);
        let counts = |node: roxmltree::Node, name: &str| node.attribute(name).map(str::to_owned);
        assert_eq!(counts(root, "tests").as_deref(), Some("3"));
        assert_eq!(counts(root, "errors").as_deref(), Some("1"));
        assert_eq!(counts(suites[1], "skipped").as_deref(), Some("1"));
    }

    #[test]
    fn several_messages_are_lines_of_the_failure_text() {
        let mut constraint = Outcome::new(Stage::Policy, "K8sLabels/need", Status::Failed)
            .cluster("dev")
            .subject("ConfigMap default/a K8sLabels/need")
            .messages(vec!["missing <team>".into(), "missing owner".into()]);
        constraint.message = format!("K8sLabels/need: {}", constraint.message);
        let rule = Outcome::new(Stage::Policy, "main.deny", Status::Failed)
            .cluster("dev")
            .subject("ConfigMap default/a main.deny")
            .messages(vec!["first".into(), "second".into()])
            .location(Location::file("generated/dev/a.json"));
        let xml = render(&[constraint, rule], &info()).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let failures: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .collect();
        assert_eq!(failures.len(), 2, "{xml}");
        assert_eq!(
            failures[0].text(),
            Some("[K8sLabels/need] K8sLabels/need:\n- missing <team>\n- missing owner")
        );
        assert_eq!(
            failures[0].attribute("message"),
            Some("K8sLabels/need: missing <team>; missing owner")
        );
        assert_eq!(
            failures[1].text(),
            Some("[main.deny]\n- first\n- second\nat generated/dev/a.json")
        );
    }

    #[test]
    fn escapes_markup_and_drops_what_xml_cannot_hold() {
        assert!(matches!(escaped("plain text\twith tab"), Cow::Borrowed(_)));
        assert_eq!(
            escaped("a<b>&\"c\" 'd'"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;"
        );
        assert_eq!(
            escaped("\u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7}x \u{1b}]8;;u\u{1b}\\y \u{1b}Mz"),
            "red x y z"
        );
        assert_eq!(
            escaped("nul\u{0} bell\u{7} del\u{7f} \u{FFFE}\n"),
            "nul bell del \n"
        );
    }
}

//! JUnit XML for Jenkins: one testsuite per stage and cluster, classnames
//! `policyrun.<cluster>.<stage>` so that Jenkins' test tree groups by cluster (package
//! `policyrun.<cluster>`), then stage (class); the review of a change is one suite of its
//! own, `policyrun.review`, its testcases named `<cluster>: <object>`. Every subject with a problem — a failure, an
//! error, a warning or a skip — is a testcase of its own, named by its subject; the passes
//! of a suite are one testcase per check, `passed: <check>`, whose system-out lists what
//! passed. A green run of thousands of objects is then a few hundred testcases, not tens of
//! thousands, and every name is stable between runs (Jenkins' history and trend graphs
//! follow a testcase by its name). Each suite's `properties` count its outcomes by status:
//! the testcase counts no longer do. The document is written here, element by element,
//! with text escaped and what XML cannot hold dropped (ANSI escapes from jsonnet errors,
//! other control characters): it replaced quick-junit, which built every testcase as a
//! structure and ran each string through an ANSI parser — half of a warm run with 345,000
//! testcases (BENCHMARKS.md). `testdata/junit-4.xsd` is Jenkins' schema; the tests hold the
//! output to it.

use std::borrow::Cow;
use std::collections::BTreeMap;
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

/// One suite's outcomes (neighbours by subject) as a testsuite named `name`.
fn write_suite(suite_outcomes: &[Outcome], name: &str, classname: &str) -> Suite {
    let mut xml = String::with_capacity(suite_outcomes.len() * 60 + 32);
    let mut counts = [0usize; 3];
    let mut tests = 0;
    let mut passes: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for subject in suite_outcomes.chunk_by(|a, b| a.subject_name() == b.subject_name()) {
        let mut problems = Vec::new();
        for outcome in subject {
            if !outcome.passed_checks.is_empty() {
                for check in &outcome.passed_checks {
                    passes.entry(check).or_default().push(outcome);
                }
            } else if outcome.status == Status::Passed {
                passes.entry(&outcome.check).or_default().push(outcome);
            } else {
                problems.push(outcome);
            }
        }
        if problems.is_empty() {
            continue;
        }
        tests += 1;
        let worst = test_case(&mut xml, &subject[0].subject_name(), classname, &problems);
        match worst {
            Status::Failed => counts[0] += 1,
            Status::Error => counts[1] += 1,
            Status::Skipped => counts[2] += 1,
            Status::Passed | Status::Warning => {}
        }
    }
    for (check, passed) in &passes {
        tests += 1;
        passes_case(&mut xml, check, classname, passed);
    }
    let [failures, errors, skipped] = counts;
    let mut head = format!(
        "    <testsuite name=\"{}\" tests=\"{tests}\" skipped=\"{skipped}\" errors=\"{errors}\" failures=\"{failures}\">\n",
        escaped(name),
    );
    outcome_counts(&mut head, suite_outcomes);
    xml.push_str("    </testsuite>\n");
    Suite {
        head,
        cases: xml,
        tests,
        failures,
        errors,
    }
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
/// that order (clusters in rollout order), the testcases of subjects with problems by
/// subject within a suite, then the passes, one testcase per check. Outcomes about the same
/// subject in one suite — neighbours, once sorted — become one testcase whose status is the
/// worst of them.
pub fn render(outcomes: &[Outcome], info: &RunInfo) -> io::Result<String> {
    fn suite_of(o: &Outcome) -> (Stage, &str) {
        (o.stage, o.cluster.as_deref().unwrap_or("repository"))
    }
    // Suites are written on every core (a large gate has hundreds of thousands of
    // outcomes), then joined in order. The review of a change is one suite after them all,
    // its testcases named by cluster: Jenkins shows it as one place (docs/review.md).
    let suites: Vec<&[Outcome]> = outcomes
        .chunk_by(|a, b| suite_of(a) == suite_of(b))
        .filter(|suite| suite[0].stage != Stage::Review)
        .collect();
    let mut written: Vec<Suite> = suites
        .par_iter()
        .map(|suite_outcomes| {
            let (stage, cluster) = suite_of(&suite_outcomes[0]);
            let classname = escaped(&format!(
                "policyrun.{}.{}",
                class_part(cluster),
                stage.as_str()
            ))
            .into_owned();
            write_suite(suite_outcomes, &format!("{cluster} {stage}"), &classname)
        })
        .collect();
    let review: Vec<Outcome> = outcomes
        .iter()
        .filter(|o| o.stage == Stage::Review)
        .map(|o| {
            let mut named = o.clone();
            if let Some(cluster) = &o.cluster {
                named.subject = Some(format!("{cluster}: {}", o.subject_name()));
            }
            named
        })
        .collect();
    if !review.is_empty() {
        written.push(write_suite(&review, "review", "policyrun.review"));
    }
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

/// The suite's outcomes counted by status, as its `properties`: what its testcases, which
/// group the passes, no longer count.
fn outcome_counts(xml: &mut String, outcomes: &[Outcome]) {
    let summary = crate::model::outcome::Summary::of(outcomes);
    xml.push_str("        <properties>\n");
    for (name, count) in [
        ("outcomes", summary.total()),
        ("passed", summary.passed),
        ("warnings", summary.warnings),
        ("failed", summary.failed),
        ("errors", summary.errors),
        ("skipped", summary.skipped),
    ] {
        let _ = writeln!(
            xml,
            "            <property name=\"policyrun.{name}\" value=\"{count}\"/>"
        );
    }
    xml.push_str("        </properties>\n");
}

/// The testcase of a check's passes in one suite: named by the check alone, so that it is
/// the same testcase from run to run; `assertions` counts the passes and system-out lists
/// what passed (the object and where it is, else the subject), the first
/// [`LISTED_PASSES`] of them.
fn passes_case(xml: &mut String, check: &str, classname: &str, passed: &[&Outcome]) {
    let mut text = format!("{} passed:", passed.len());
    for outcome in passed.iter().take(LISTED_PASSES) {
        text.push('\n');
        match &outcome.object {
            Some(object) => text.push_str(&object.display_name()),
            None => {
                // A policy subject ends with its check, which the testcase's name says.
                let subject = outcome.subject_name();
                let suffix = format!(" {check}");
                text.push_str(subject.strip_suffix(&suffix).unwrap_or(&subject));
            }
        }
        if let Some(location) = &outcome.location {
            let _ = write!(text, " at {location}");
        }
    }
    if passed.len() > LISTED_PASSES {
        let _ = write!(
            text,
            "\n... and {} more (`-o json` lists every check)",
            passed.len() - LISTED_PASSES
        );
    }
    let _ = writeln!(
        xml,
        "        <testcase name=\"{}\" classname=\"{classname}\" assertions=\"{}\">",
        escaped(&format!("{PASSED}{check}")),
        passed.len()
    );
    let _ = writeln!(
        xml,
        "            <system-out>{}</system-out>",
        escaped(&text)
    );
    xml.push_str("        </testcase>\n");
}

/// At most this many passes of a check are listed in its testcase: a rule that passes on
/// every object of a large tree listed them all, and the report of a green gate on 12,060
/// objects was 25 MB that Jenkins keeps with every build (issue 29).
pub const LISTED_PASSES: usize = 100;

/// How the testcase of a check's passes is named: `passed: <check>`.
pub const PASSED: &str = "passed: ";

/// Writes the testcase for one subject's problems and returns its status: the worst of
/// them, with their messages, locations and details. Warnings pass (Jenkins has no such
/// status) with their text kept in the testcase's system-out.
fn test_case(xml: &mut String, subject: &str, classname: &str, group: &[&Outcome]) -> Status {
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

    /// ConfigMap `app/<name>` of cluster `dev`, and where it starts: the first line of its
    /// own generated file.
    fn config_map(name: &str) -> (crate::model::outcome::ObjectId, Location) {
        let id = crate::model::outcome::ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/app.jsonnet".into(),
            item: None,
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("app".into()),
            name: name.into(),
        };
        let mut location = Location::file(format!("generated/dev/app/{name}.json"));
        location.line = Some(1);
        (id, location)
    }

    #[test]
    fn passes_are_one_testcase_per_check_and_problems_keep_their_own() {
        let rule = |name: &str, check: &str, status: Status| {
            let (id, location) = config_map(name);
            Outcome::new(Stage::Policy, check, status)
                .cluster("dev")
                .subject(format!("ConfigMap app/{name} {check}"))
                .object(id)
                .location(location)
        };
        let mut outcomes = Vec::new();
        for name in ["a", "b", "c"] {
            outcomes.push(rule(name, "main.deny", Status::Passed));
            outcomes.push(rule(name, "main.warn", Status::Passed));
        }
        outcomes[2] = rule("b", "main.deny", Status::Failed).message("no owner");
        outcomes[5] = rule("c", "main.warn", Status::Skipped).message("waived");
        crate::report::sort(&mut outcomes, &["dev".to_owned()]);
        let xml = render(&outcomes, &info()).unwrap();
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let cases: Vec<(&str, Option<&str>)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| (n.attribute("name").unwrap(), n.attribute("assertions")))
            .collect();
        assert_eq!(
            cases,
            [
                ("ConfigMap app/b main.deny", None),
                ("ConfigMap app/c main.warn", None),
                ("passed: main.deny", Some("2")),
                ("passed: main.warn", Some("2")),
            ],
            "{xml}"
        );
        let passed = doc
            .descendants()
            .find(|n| n.attribute("name") == Some("passed: main.deny"))
            .unwrap();
        assert_eq!(passed.attribute("classname"), Some("policyrun.dev.policy"));
        assert_eq!(
            passed
                .children()
                .find(|n| n.has_tag_name("system-out"))
                .unwrap()
                .text(),
            Some(
                "2 passed:\nConfigMap app/a at generated/dev/app/a.json:1\nConfigMap app/c at generated/dev/app/c.json:1"
            )
        );
        // Testcases counted as testcases; outcomes counted in the suite's properties.
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .unwrap();
        let attribute = |name: &str| suite.attribute(name).unwrap();
        assert_eq!(
            (
                attribute("tests"),
                attribute("failures"),
                attribute("skipped")
            ),
            ("4", "1", "1")
        );
        let property = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                .and_then(|n| n.attribute("value"))
        };
        assert_eq!(property("policyrun.outcomes"), Some("6"));
        assert_eq!(property("policyrun.passed"), Some("4"));
        assert_eq!(property("policyrun.failed"), Some("1"));
        assert_eq!(property("policyrun.skipped"), Some("1"));
        // The names do not depend on how many passed: a second run with another object
        // has the same testcases.
        let mut more = outcomes.clone();
        more.push(rule("d", "main.deny", Status::Passed));
        more.push(rule("d", "main.warn", Status::Passed));
        crate::report::sort(&mut more, &["dev".to_owned()]);
        let again = render(&more, &info()).unwrap();
        let names = |xml: &str| -> Vec<String> {
            roxmltree::Document::parse(xml)
                .unwrap()
                .descendants()
                .filter_map(|n| n.attribute("name").map(str::to_owned))
                .collect()
        };
        assert_eq!(names(&xml), names(&again));
    }

    #[test]
    fn passes_counted_in_one_outcome_are_written_as_passes_made_one_by_one() {
        use crate::model::outcome::every_pass;
        use std::sync::Arc;
        let objects = LISTED_PASSES + 7;
        let checks: Vec<Arc<str>> = vec!["p.deny".into(), "p.warn".into()];
        let mut counted = Vec::new();
        for i in 0..objects {
            let name = format!("cm-{i:04}");
            let (id, location) = config_map(&name);
            let mut subject = Outcome::new(Stage::Policy, "", Status::Passed)
                .cluster("dev")
                .subject(format!("ConfigMap app/{name}"))
                .object(id)
                .location(location);
            subject.entry = Some("clusters/dev/app.jsonnet".into());
            // One object fails a rule: its other rule still passes in the count.
            if i == 3 {
                counted.push(
                    Outcome::new(Stage::Policy, "p.deny", Status::Failed)
                        .cluster("dev")
                        .subject(format!("{} p.deny", subject.subject.clone().unwrap()))
                        .message("no"),
                );
                counted.push(Outcome::passes(subject, vec![checks[1].clone()]));
            } else {
                counted.push(Outcome::passes(subject, checks.clone()));
            }
        }
        let mut one_by_one = every_pass(counted.clone());
        assert_eq!(one_by_one.len(), 2 * objects);
        assert_eq!(
            one_by_one[0].subject.as_deref(),
            Some("ConfigMap app/cm-0000 p.deny")
        );
        assert_eq!(one_by_one[0].check, "p.deny");
        assert!(one_by_one.iter().all(|o| o.passed_checks.is_empty()));
        crate::report::sort(&mut counted, &["dev".to_owned()]);
        crate::report::sort(&mut one_by_one, &["dev".to_owned()]);
        assert_eq!(
            crate::model::outcome::Summary::of(&counted),
            crate::model::outcome::Summary::of(&one_by_one)
        );
        let xml = render(&counted, &info()).unwrap();
        assert_eq!(xml, render(&one_by_one, &info()).unwrap());
        let doc = roxmltree::Document::parse(&xml).unwrap();
        let listed = doc
            .descendants()
            .find(|n| n.attribute("name") == Some("passed: p.warn"))
            .unwrap();
        assert_eq!(listed.attribute("assertions"), Some("107"));
        let text = listed
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1 + LISTED_PASSES + 1, "{text}");
        assert_eq!(lines[0], "107 passed:");
        assert_eq!(
            lines[1],
            "ConfigMap app/cm-0000 at generated/dev/app/cm-0000.json:1"
        );
        assert_eq!(
            lines[LISTED_PASSES + 1],
            "... and 7 more (`-o json` lists every check)"
        );
        assert!(
            xml.contains("assertions=\"106\""),
            "p.deny: one object failed it"
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

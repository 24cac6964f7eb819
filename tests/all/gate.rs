//! The gate end to end: the real binary on fixture repositories under `testdata/`.

use crate::support;

use std::fs;
use std::path::Path;

use support::{assert_valid_junit, fixture, json_outcomes, policyrun};

#[test]
fn clean_repository_passes() {
    let repo = fixture("basic");
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("PASSED: 19 checks, 18 passed, 1 warning(s)"),
        "{}",
        run.stdout
    );

    let run = policyrun(repo.path(), &["check", "--output", "json"]);
    assert_eq!(run.code, 0);
    let outcomes = json_outcomes(&run);
    assert_eq!(
        outcomes.keys().map(String::as_str).collect::<Vec<_>>(),
        vec![
            "ConfigMap app/settings",
            "Namespace app",
            "clusters/dev/app.jsonnet",
            "clusters/int/app.jsonnet",
            "clusters/int/config/unused.jsonnet",
            "generated/dev/app/ns.json",
            "generated/dev/app/settings.json",
            "generated/int/app/ns.json",
            "generated/int/app/settings.json",
            "lib/mini.libsonnet",
            // No policies: the report says so (issue 27).
            "policyrun.toml",
        ]
    );
    // Each source in the style stage too: the entries' outcomes come first (stage order).
    let stages = |subject: &str| -> Vec<String> {
        outcomes[subject]
            .iter()
            .map(|o| o["stage"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(stages("clusters/dev/app.jsonnet"), ["expand", "style"]);
    assert_eq!(stages("lib/mini.libsonnet"), ["style"]);
    assert!(
        outcomes
            .values()
            .flatten()
            .all(|o| o["status"] == "passed" || o["check"] == "configured")
    );
}

#[test]
fn policyrun_finds_its_configuration_from_a_subdirectory() {
    let repo = fixture("basic");
    let run = policyrun(&repo.path().join("clusters/dev"), &["--cluster", "dev"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // dev's files and the shared ones (lib/), not int's.
    assert!(run.stdout.contains("PASSED: 10 checks"), "{}", run.stdout);
}

/// Every failure kind in one run: each entry and file gets its own status and message,
/// and no failure hides another.
#[test]
fn every_failure_kind_is_reported_with_its_status() {
    let repo = fixture("broken");
    let junit = repo.path().join("report.xml");
    let run = policyrun(
        repo.path(),
        &["--output", "json", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = json_outcomes(&run);
    let one = |subject: &str, check: &str| -> serde_json::Value {
        outcomes[subject]
            .iter()
            .find(|o| o["check"] == check)
            .unwrap_or_else(|| panic!("no {check} outcome for {subject}: {outcomes:#?}"))
            .clone()
    };

    let stale = one("generated/dev/stale/cm.json", "up-to-date");
    assert_eq!(stale["status"], "failed");
    assert!(stale["message"].as_str().unwrap().starts_with("stale"));
    let diff = stale["detail"].as_str().unwrap();
    assert!(
        diff.contains("-    \"replicas\": \"2\"") && diff.contains("+    \"replicas\": \"3\""),
        "{diff}"
    );

    // Every outcome lists its findings: here the one message of each check.
    assert_eq!(stale["messages"], serde_json::json!([stale["message"]]));
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for outcome in doc["outcomes"].as_array().unwrap() {
        let expected = match outcome["message"].as_str().unwrap() {
            "" => serde_json::json!([]),
            message => serde_json::json!([message]),
        };
        assert_eq!(outcome["messages"], expected, "{outcome}");
    }
    assert_eq!(doc["summary"]["violations"], doc["summary"]["failed"]);

    let missing = one("generated/dev/missing/cm.json", "up-to-date");
    assert_eq!(missing["status"], "failed");
    assert!(missing["message"].as_str().unwrap().starts_with("missing"));

    let orphan = one("generated/dev/gone/cm.json", "up-to-date");
    assert_eq!(orphan["status"], "failed");
    assert_eq!(orphan["cluster"], "dev");
    assert!(orphan["message"].as_str().unwrap().starts_with("orphaned"));

    let floats = one("generated/dev/floats/cm.json", "up-to-date");
    assert_eq!(floats["status"], "warning");
    assert!(
        floats["message"]
            .as_str()
            .unwrap()
            .starts_with("formatting only")
    );
    assert!(
        floats["detail"]
            .as_str()
            .unwrap()
            .contains("-          \"cpu\": 0.10000000000000001")
    );

    let syntax = one("clusters/dev/syntax.jsonnet", "evaluate");
    assert_eq!(syntax["status"], "error");
    assert!(syntax["message"].as_str().unwrap().contains("syntax error"));
    assert_eq!(syntax["location"]["file"], "clusters/dev/syntax.jsonnet");
    assert_eq!(syntax["location"]["line"], 3);
    assert_eq!(syntax["location"]["column"], 82);

    let assert = one("clusters/dev/assert.jsonnet", "evaluate");
    assert_eq!(assert["status"], "error");
    assert_eq!(
        assert["message"],
        "assert failed: replicas must be positive, got 0"
    );
    assert_eq!(assert["location"]["line"], 2);
    assert_eq!(assert["location"]["column"], 28);
    let stack = assert["detail"].as_str().unwrap();
    assert!(
        stack.contains("clusters/dev/assert.jsonnet:4:")
            && stack.contains("function <replicas> call"),
        "{stack}"
    );

    let error = one("clusters/dev/error.jsonnet", "evaluate");
    assert_eq!(error["status"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("no data for ]]> <here> &")
    );
    assert_eq!(error["location"]["line"], 3);

    let escape = one("clusters/dev/escape.jsonnet", "evaluate");
    assert_eq!(escape["status"], "error");
    let message = escape["message"].as_str().unwrap();
    assert!(
        message.contains("refused") && message.contains("outside the repository"),
        "{message}"
    );
    assert_eq!(escape["location"]["line"], 2);

    let duplicate = one("clusters/dev/dup-b.jsonnet", "unique-identity");
    assert_eq!(duplicate["status"], "failed");
    let message = duplicate["message"].as_str().unwrap();
    assert!(
        message.contains("ConfigMap app/same")
            && message.contains("generated/dev/dup-a/cm.json")
            && message.contains("generated/dev/dup-b/other.json"),
        "{message}"
    );
    assert_eq!(duplicate["object"]["name"], "same");
    assert_eq!(
        one("clusters/dev/dup-a.jsonnet", "evaluate")["status"],
        "passed"
    );

    // The JUnit report of the same run: valid for Jenkins, one testcase per entry or file.
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    let child = |name: &str, tag: &str| case(name).children().find(|n| n.has_tag_name(tag));
    assert_eq!(
        case("clusters/dev/assert.jsonnet").attribute("classname"),
        Some("policyrun.dev.expand")
    );
    assert!(child("clusters/dev/assert.jsonnet", "error").is_some());
    assert!(child("clusters/dev/escape.jsonnet", "error").is_some());
    let error_text = child("clusters/dev/error.jsonnet", "error").unwrap();
    assert!(
        error_text
            .attribute("message")
            .unwrap()
            .contains("]]> <here> &")
    );
    assert!(!xml.contains('\u{1b}'));
    let dup = child("clusters/dev/dup-b.jsonnet", "failure").unwrap();
    assert_eq!(dup.attribute("type"), Some("unique-identity"));
    assert_eq!(
        case("generated/dev/stale/cm.json").attribute("classname"),
        Some("policyrun.dev.freshness")
    );
    for failing in [
        "generated/dev/stale/cm.json",
        "generated/dev/missing/cm.json",
        "generated/dev/gone/cm.json",
    ] {
        assert!(child(failing, "failure").is_some(), "{failing}");
    }
    assert!(child("generated/dev/floats/cm.json", "failure").is_none());
    assert!(child("generated/dev/floats/cm.json", "system-out").is_some());
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| n.attribute("name").unwrap().to_owned())
        .collect();
    assert_eq!(
        suites,
        [
            "dev expand",
            "dev freshness",
            "dev schema",
            "dev style",
            "repository policy",
            "repository style"
        ]
    );
    // The source that does not parse is reported once, by the expansion, at the position
    // the C++ jsonnet parser (which the style stage runs) gives; the style stage does not
    // report it again.
    let expand = case("clusters/dev/syntax.jsonnet");
    assert_eq!(expand.attribute("classname"), Some("policyrun.dev.expand"));
    let error = expand.children().find(|n| n.has_tag_name("error")).unwrap();
    assert!(
        error
            .text()
            .unwrap()
            .contains("at clusters/dev/syntax.jsonnet:3:"),
        "{xml}"
    );
    assert!(
        !doc.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .any(
                |n| n.attribute("name") == Some("clusters/dev/syntax.jsonnet")
                    && n.attribute("classname") == Some("policyrun.dev.style")
            ),
        "{xml}"
    );
}

#[test]
fn human_report_names_every_problem_and_exit_code_is_one() {
    let repo = fixture("broken");
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 1);
    for needle in [
        "FAIL freshness  generated/dev/stale/cm.json",
        "FAIL freshness  generated/dev/missing/cm.json",
        "FAIL freshness  generated/dev/gone/cm.json",
        "warn freshness  generated/dev/floats/cm.json",
        "ERR  expand     clusters/dev/syntax.jsonnet",
        "at clusters/dev/assert.jsonnet:2:28",
        "FAIL expand     clusters/dev/dup-b.jsonnet",
        "FAILED: 36 checks, 26 passed, 2 warning(s), 4 failed, 4 error(s)",
    ] {
        assert!(
            run.stdout.contains(needle),
            "missing {needle:?} in\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains('\u{1b}'),
        "control characters reached the terminal"
    );
}

#[test]
fn junit_is_deterministic() {
    let repo = fixture("broken");
    let strip_times = |xml: String| {
        xml.split(' ')
            .filter(|part| !part.starts_with("time="))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut reports = Vec::new();
    for name in ["a.xml", "b.xml"] {
        let path = repo.path().join(name);
        policyrun(repo.path(), &["-j", "2", "--junit", path.to_str().unwrap()]);
        reports.push(strip_times(fs::read_to_string(path).unwrap()));
    }
    assert_eq!(reports[0], reports[1]);
}

#[test]
fn expand_then_check_passes_and_leaves_unchanged_files_alone() {
    let repo = fixture("broken");
    let root = repo.path();
    // Only the entries that evaluate: drop the broken ones.
    for broken in ["syntax", "assert", "error", "escape", "dup-b"] {
        fs::remove_file(root.join(format!("clusters/dev/{broken}.jsonnet"))).unwrap();
    }
    let untouched = root.join("generated/dev/dup-a/cm.json");
    let before = fs::metadata(&untouched).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));

    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for line in [
        "wrote   generated/dev/floats/cm.json",
        "wrote   generated/dev/missing/cm.json",
        "wrote   generated/dev/stale/cm.json",
        "removed generated/dev/dup-b/other.json",
        "removed generated/dev/gone/cm.json",
        "3 written, 2 removed, 1 unchanged",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
    assert_eq!(
        fs::metadata(&untouched).unwrap().modified().unwrap(),
        before
    );
    assert!(
        !root.join("generated/dev/gone").exists(),
        "empty orphan directory left behind"
    );
    let leftovers: Vec<_> = walkdir::WalkDir::new(root.join("generated"))
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let run = policyrun(root, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = policyrun(root, &["expand"]);
    assert!(
        run.stdout.contains("0 written, 0 removed, 4 unchanged"),
        "{}",
        run.stdout
    );
}

#[test]
fn expand_keeps_the_files_of_an_entry_that_fails() {
    let repo = fixture("basic");
    let root = repo.path();
    let committed = fs::read(root.join("generated/int/app/settings.json")).unwrap();
    fs::write(root.join("clusters/int/app.jsonnet"), "{ broken: ").unwrap();
    fs::write(root.join("generated/dev/app/ns.json"), "{}\n").unwrap();

    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("ERR  expand     clusters/int/app.jsonnet"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("wrote   generated/dev/app/ns.json"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read(root.join("generated/int/app/settings.json")).unwrap(),
        committed
    );
    assert!(root.join("generated/int/app/ns.json").exists());
}

#[test]
fn domain_named_layout_is_gated_by_its_configuration_alone() {
    let repo = fixture("domain-layout");
    let run = policyrun(repo.path(), &["--output", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let outcomes = json_outcomes(&run);
    // Files the C++ jsonnet tool wrote are byte-identical, except a fraction's digits.
    for (subject, list) in &outcomes {
        // No policies configured (issue 27).
        let expected = if subject.ends_with("canary.json") || subject == "policyrun.toml" {
            "warning"
        } else {
            "passed"
        };
        assert_eq!(list[0]["status"], expected, "{subject}");
    }
    // Files and entries (with their style checks), the schema checks of the four objects
    // (per subject), the library's style check, and the note that no policy is configured.
    assert_eq!(outcomes.len(), 14);
    assert!(outcomes.contains_key("generated/web.example.com/frontend/canary.json"));

    let run = policyrun(repo.path(), &["--format-only", "fail"]);
    assert_eq!(run.code, 1, "{}", run.stdout);

    let config = repo.path().join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("format_only = \"fail\"\n{text}")).unwrap();
    assert_eq!(policyrun(repo.path(), &[]).code, 1);
}

#[test]
fn per_file_layout_writes_one_file_per_entry() {
    let repo = fixture("basic");
    let root = repo.path();
    let text = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    fs::write(
        root.join("policyrun.toml"),
        format!("layout = \"per-file\"\n{text}"),
    )
    .unwrap();
    let run = policyrun(root, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("generated/dev/app.json"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("orphaned"), "{}", run.stdout);

    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let list: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root.join("generated/dev/app.json")).unwrap())
            .unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!root.join("generated/dev/app").exists());
    assert_eq!(policyrun(root, &[]).code, 0);
}

#[test]
fn configuration_errors_exit_two_and_name_the_key() {
    let repo = fixture("basic");
    let config = repo.path().join("policyrun.toml");
    let original = fs::read_to_string(&config).unwrap();

    fs::write(&config, format!("generatd = \"out\"\n{original}")).unwrap();
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("policyrun.toml") && run.stderr.contains("generatd"),
        "{}",
        run.stderr
    );

    fs::write(&config, format!("indent = -1\n{original}")).unwrap();
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("indent"), "{}", run.stderr);

    fs::write(&config, &original).unwrap();
    let run = policyrun(repo.path(), &["--cluster", "web"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown cluster `web`"),
        "{}",
        run.stderr
    );

    let run = policyrun(repo.path(), &["--no-such-flag"]);
    assert_eq!(run.code, 2);

    let empty = tempfile::tempdir().unwrap();
    let run = policyrun(empty.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no policyrun.toml"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn nothing_outside_the_repository_reaches_a_report() {
    let repo = fixture("basic");
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("token");
    fs::write(&secret, "TOKEN-0123456789").unwrap();

    // An import through a symlink that leads out of the repository.
    std::os::unix::fs::symlink(&secret, root.join("clusters/dev/token.txt")).unwrap();
    fs::write(
        root.join("clusters/dev/leak.jsonnet"),
        "{ cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'app' }, data: { t: importstr 'token.txt' } } }\n",
    )
    .unwrap();
    // An absolute import, and a committed generated file that is a symlink out.
    fs::write(
        root.join("clusters/int/leak.jsonnet"),
        format!("{{ cm: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'y', namespace: 'app' }}, data: {{ t: importstr '{}' }} }} }}\n", secret.display()),
    )
    .unwrap();
    fs::remove_file(root.join("generated/dev/app/settings.json")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("generated/dev/app/settings.json")).unwrap();

    let junit = root.join("junit.xml");
    let run = policyrun(
        root,
        &["--output", "json", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.code, 1);
    let xml = fs::read_to_string(&junit).unwrap();
    for text in [&run.stdout, &run.stderr, &xml] {
        assert!(!text.contains("TOKEN-0123456789"), "secret leaked:\n{text}");
    }
    let outcomes = json_outcomes(&run);
    let dev = &outcomes["clusters/dev/leak.jsonnet"][0];
    assert_eq!(dev["status"], "error");
    assert!(
        dev["message"]
            .as_str()
            .unwrap()
            .contains("symbolic link that leads outside"),
        "{dev}"
    );
    let int = &outcomes["clusters/int/leak.jsonnet"][0];
    assert!(
        int["message"]
            .as_str()
            .unwrap()
            .contains("absolute paths are not allowed"),
        "{int}"
    );
    let link = &outcomes["generated/dev/app/settings.json"][0];
    assert_eq!(link["status"], "error");
    assert!(
        link["message"].as_str().unwrap().contains("symbolic link"),
        "{link}"
    );

    // expand must not write through, or delete, the link.
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 1);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "TOKEN-0123456789");
}

#[test]
fn odd_values_fail_cleanly_without_a_panic() {
    let repo = fixture("basic");
    let root = repo.path();
    let cases = [
        ("string", "'just a string'", "must evaluate to an object"),
        ("items", "{ items_:: [1, 2] }", "must be an object"),
        (
            "single",
            "{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }",
            "single Kubernetes object",
        ),
        (
            "key",
            "{ items_:: { '../escape': { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } } } }",
            "cannot be used as a file name",
        ),
        (
            "noname",
            "{ a: { apiVersion: 'v1', kind: 'Namespace', metadata: {} } }",
            "metadata.name is missing",
        ),
        ("scalar", "{ a: 42 }", "not a Kubernetes object"),
        (
            "deep",
            "local f(n) = if n == 0 then 0 else 1 + f(n - 1); { a: f(100000) }",
            "stack overflow",
        ),
        (
            "extvar",
            "{ a: std.extVar('nope') }",
            "external variable is not defined",
        ),
        ("function", "function(x) x", "must evaluate to an object"),
    ];
    for (name, code, _) in cases {
        fs::write(root.join(format!("clusters/dev/{name}.jsonnet")), code).unwrap();
    }
    fs::write(root.join("clusters/dev/binary.jsonnet"), [0xff, 0xfe, 0x00]).unwrap();
    let run = policyrun(root, &["--output", "json", "--cluster", "dev"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let outcomes = json_outcomes(&run);
    for (name, _, expected) in cases {
        let outcome = &outcomes[&format!("clusters/dev/{name}.jsonnet")][0];
        assert!(
            matches!(outcome["status"].as_str(), Some("error" | "failed")),
            "{name}: {outcome}"
        );
        let text = format!("{}\n{}", outcome["message"], outcome["detail"]);
        assert!(
            text.contains(expected),
            "{name}: expected {expected:?} in {text}"
        );
    }
    let binary = &outcomes["clusters/dev/binary.jsonnet"][0];
    assert_eq!(binary["status"], "error");
    // Named relative to the repository: the agent's paths are nobody's business.
    assert!(
        binary["message"]
            .as_str()
            .unwrap()
            .starts_with("clusters/dev/binary.jsonnet: not valid UTF-8"),
        "{binary}"
    );
    // Regression: a deep recursion printed its 500 identical frames one by one.
    let deep = &outcomes["clusters/dev/deep.jsonnet"][0];
    let stack = deep["detail"].as_str().unwrap();
    assert!(stack.lines().count() <= 41, "{stack}");
    assert!(stack.contains("more times"), "{stack}");
    assert!(
        deep["message"].as_str().unwrap().contains("max_stack"),
        "{deep}"
    );
    // The clean entry next to them is still checked.
    assert_eq!(
        outcomes["generated/dev/app/settings.json"][0]["status"],
        "passed"
    );
}

#[test]
fn recursion_as_deep_as_the_jsonnet_tool_allows_works() {
    let repo = fixture("basic");
    let root = repo.path();
    fs::write(
        root.join("clusters/dev/deep.jsonnet"),
        "local f(n) = if n == 0 then 0 else 1 + f(n - 1);\n{ items_:: { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep', namespace: 'app' }, data: { n: std.toString(f(450)) } } } }\n",
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json", "--cluster", "dev"]);
    let outcomes = json_outcomes(&run);
    assert_eq!(
        outcomes["clusters/dev/deep.jsonnet"][0]["status"], "passed",
        "{}",
        run.stdout
    );
}

#[test]
fn help_documents_exit_codes() {
    let run = policyrun(Path::new("."), &["--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Exit codes: 0"), "{}", run.stdout);
}

/// Each failure kind on its own decides the exit code: failures give 1, a formatting-only
/// difference alone passes with a warning.
#[test]
fn each_failure_alone_sets_the_exit_code() {
    type Mutation = fn(&Path);
    let cases: [(&str, Mutation, i32, &str); 8] = [
        (
            "stale",
            |r| edit(r, "generated/dev/app/settings.json", "0.25", "0.5"),
            1,
            "stale",
        ),
        (
            "missing",
            |r| fs::remove_file(r.join("generated/dev/app/ns.json")).unwrap(),
            1,
            "missing",
        ),
        (
            "orphaned",
            |r| fs::write(r.join("generated/int/app/old.json"), "{}\n").unwrap(),
            1,
            "orphaned",
        ),
        (
            "formatting",
            |r| {
                edit(
                    r,
                    "generated/dev/app/settings.json",
                    "  \"kind\"",
                    "     \"kind\"",
                )
            },
            0,
            "formatting only",
        ),
        (
            "syntax",
            |r| {
                edit(
                    r,
                    "clusters/dev/app.jsonnet",
                    "mini.List() {",
                    "mini.List() {{",
                )
            },
            1,
            "syntax error",
        ),
        (
            "assert",
            |r| {
                edit(
                    r,
                    "lib/mini.libsonnet",
                    "List():: {",
                    "List():: { assert false : 'lists are off',",
                )
            },
            1,
            "assert failed: lists are off",
        ),
        (
            "escape",
            |r| {
                edit(
                    r,
                    "clusters/dev/app.jsonnet",
                    "'mini.libsonnet'",
                    "'../../../mini.libsonnet'",
                )
            },
            1,
            "outside the repository",
        ),
        (
            "duplicate",
            |r| {
                edit(
                    r,
                    "clusters/dev/app.jsonnet",
                    "ns: mini.Namespace('app'),",
                    "ns: mini.Namespace('app'), ns2: mini.Namespace('app'),",
                )
            },
            1,
            "duplicate object Namespace app",
        ),
    ];
    for (name, mutate, code, message) in cases {
        let repo = fixture("basic");
        mutate(repo.path());
        let junit = repo.path().join("junit.xml");
        let run = policyrun(repo.path(), &["--junit", junit.to_str().unwrap()]);
        assert_eq!(run.code, code, "{name}:\n{}", run.stdout);
        assert!(
            run.stdout.contains(message),
            "{name}: no {message:?} in\n{}",
            run.stdout
        );
        let xml = fs::read_to_string(&junit).unwrap();
        assert_valid_junit(&xml);
        let failing = xml.matches("<failure").count() + xml.matches("<error").count();
        assert_eq!(failing > 0, code != 0, "{name}:\n{xml}");
        if name == "formatting" {
            assert!(
                xml.contains("warning: [up-to-date] formatting only"),
                "{xml}"
            );
        }
    }
}

fn edit(root: &Path, file: &str, from: &str, to: &str) {
    let path = root.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no {from:?}");
    fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Regression: reading a List's hidden `items_` from outside while the List's own assert
/// reads it too made jrsonnet evaluate the items twice (half the gate's time went there).
#[test]
fn items_are_evaluated_once_even_when_asserts_read_them() {
    let repo = fixture("basic");
    fs::write(
        repo.path().join("clusters/dev/traced.jsonnet"),
        "{\n  items_:: std.trace('evaluating items', { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'traced', namespace: 'app' } } }),\n  assert std.length(self.items_) > 0 : 'no items',\n}\n",
    )
    .unwrap();
    let run = policyrun(repo.path(), &["--cluster", "dev"]);
    assert_eq!(
        run.stderr.matches("evaluating items").count(),
        1,
        "{}",
        run.stderr
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let repo = fixture("broken");
    // Not a terminal (captured output), NO_COLOR set by the helper: plain text.
    let run = policyrun(repo.path(), &[]);
    assert!(!run.stdout.contains("\u{1b}["), "{}", run.stdout);
    let run = policyrun(repo.path(), &["--color", "always"]);
    assert!(
        run.stdout.contains("\u{1b}[31;1mFAIL\u{1b}[0m"),
        "{}",
        run.stdout
    );
    let run = policyrun(repo.path(), &["--color", "auto"]);
    assert!(!run.stdout.contains("\u{1b}["));
}

/// Regression: reports grouped clusters alphabetically; they follow the rollout order.
#[test]
fn reports_list_clusters_in_rollout_order() {
    let repo = fixture("basic");
    fs::write(
        repo.path().join("policyrun.toml"),
        "[[cluster]]\nname = \"int\"\n\n[[cluster]]\nname = \"dev\"\n",
    )
    .unwrap();
    let junit = repo.path().join("junit.xml");
    let run = policyrun(repo.path(), &["-v", "--junit", junit.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let int = run.stdout.find("int: ").expect("int heading");
    let dev = run.stdout.find("dev: ").expect("dev heading");
    assert!(int < dev, "{}", run.stdout);

    let xml = fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suites: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    assert_eq!(
        suites,
        vec![
            "int expand",
            "int freshness",
            "int schema",
            "int style",
            "dev expand",
            "dev freshness",
            "dev schema",
            "dev style",
            "repository policy",
            "repository style"
        ]
    );
}

/// Regression: a reader that stops early (`policyrun | head`) made policyrun stop before
/// writing the JUnit file and exit 2; the verdict and the JUnit file must not depend on it.
#[test]
fn closed_standard_output_still_writes_junit_and_keeps_the_verdict() {
    use std::process::{Command, Stdio};
    for (fixture_name, expected) in [("broken", 1), ("basic", 0)] {
        let repo = fixture(fixture_name);
        let junit = repo.path().join("junit.xml");
        let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
            .args(["-v", "--junit", junit.to_str().unwrap()])
            .current_dir(repo.path())
            .env("NO_COLOR", "1")
            .env("POLICYRUN_CACHE_DIR", support::test_cache_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(expected), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_valid_junit(&fs::read_to_string(&junit).unwrap());
    }
    let repo = fixture("broken");
    let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .arg("expand")
        .current_dir(repo.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}

/// Regression: with `--cluster dev`, a committed `generated/dev` that is a symbolic link
/// was walked into, so its target's files were listed as orphans and `expand` deleted
/// them outside the repository.
#[cfg(unix)]
#[test]
fn a_linked_cluster_directory_is_neither_walked_nor_cleaned() {
    let repo = fixture("basic");
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("precious.json");
    fs::write(&victim, "{}\n").unwrap();
    fs::remove_dir_all(root.join("generated/dev")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("generated/dev")).unwrap();

    for args in [
        &["--cluster", "dev", "--output", "json"][..],
        &["--output", "json"][..],
    ] {
        let run = policyrun(root, args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stdout);
        assert!(!run.stdout.contains("precious"), "{args:?}: {}", run.stdout);
        let outcomes = json_outcomes(&run);
        let link = &outcomes["generated/dev"][0];
        assert_eq!(link["status"], "error", "{link}");
    }
    for args in [&["expand", "--cluster", "dev"][..], &["expand"][..]] {
        let run = policyrun(root, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(
            victim.exists(),
            "{args:?} deleted a file outside the repository"
        );
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            1,
            "{args:?} wrote outside the repository"
        );
    }
}

/// Regression: `std.trace` text went to stderr raw, so a pull request could send escape
/// sequences to the terminal or CI log of whoever runs the gate.
#[test]
fn trace_output_is_shown_escaped() {
    let repo = fixture("basic");
    fs::write(
        repo.path().join("clusters/dev/traced.jsonnet"),
        "{ items_:: { cm: std.trace('look \\u001b[2J\\u0007 here', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 't', namespace: 'app' } }) } }\n",
    )
    .unwrap();
    let run = policyrun(repo.path(), &["--cluster", "dev"]);
    assert!(run.stderr.contains("TRACE:"), "{}", run.stderr);
    assert!(
        run.stderr.contains("look \\u{1b}[2J\\u{7} here"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'));
}

/// Regression: `expand` listed the files it removed raw; a committed file name carrying an
/// escape sequence reached the terminal. Such a name is now an error of its own (issue 13,
/// item 10): shown escaped, and the file is left alone.
#[test]
fn expand_listing_shows_odd_file_names_escaped() {
    let repo = fixture("basic");
    let odd = repo.path().join("generated/dev/app/odd\u{1b}[2J.json");
    fs::write(&odd, "{}\n").unwrap();
    let run = policyrun(repo.path(), &["expand"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(
            "generated/dev/app/odd\\u{1b}[2J.json: file name contains control characters"
        ),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\u{1b}'), "{}", run.stdout);
    assert_eq!(fs::read_to_string(&odd).unwrap(), "{}\n");
}

/// Regression: a stale Secret showed its old and new values in the diff of every report.
#[test]
fn stale_secrets_are_diffed_without_their_values() {
    let repo = fixture("basic");
    let root = repo.path();
    fs::write(
        root.join("clusters/dev/secret.jsonnet"),
        "{ items_:: { db: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'app' }, data: { password: 'bmV3LXNlY3JldA==' } } } }\n",
    )
    .unwrap();
    assert_eq!(policyrun(root, &["expand"]).code, 0);
    edit(
        root,
        "generated/dev/secret/db.json",
        "bmV3LXNlY3JldA==",
        "b2xkLXNlY3JldA==",
    );
    let junit = root.join("junit.xml");
    let run = policyrun(root, &["--junit", junit.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("<hidden, changed>"), "{}", run.stdout);
    let xml = fs::read_to_string(junit).unwrap();
    for text in [&run.stdout, &xml] {
        assert!(
            !text.contains("bmV3LXNlY3JldA==") && !text.contains("b2xkLXNlY3JldA=="),
            "{text}"
        );
    }
}

/// Regression: a source nested a few thousand levels deep (any pull request can write one)
/// aborted the whole process with a stack overflow on the default 2 MiB worker stacks.
#[test]
fn deeply_nested_sources_are_judged_not_fatal() {
    let repo = fixture("basic");
    let depth = 5_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    fs::write(
        repo.path().join("clusters/dev/deep.jsonnet"),
        format!("{{ items_: {{}}, deep:: {nested} }}\n"),
    )
    .unwrap();
    // `policyrun` panics here if the process ends by a signal.
    let run = policyrun(repo.path(), &["check"]);
    assert!(run.code <= 1, "{}{}", run.stdout, run.stderr);
}

/// Regression: with a single entry rayon ran the whole expansion on the calling thread, the
/// process's 8 MiB main thread, so a value nested 100,000 levels deep (a `foldl` builds one
/// from a one-line source) aborted `expand` while its manifestation failed cleanly on the
/// workers' stacks.
#[test]
fn a_deep_value_in_a_lone_entry_is_an_error_not_an_abort() {
    let repo = tempfile::tempdir().unwrap();
    support::write_file(
        repo.path(),
        "policyrun.toml",
        "jpath = []\n[[cluster]]\nname = \"dev\"\n",
    );
    support::write_file(
        repo.path(),
        "clusters/dev/deep.jsonnet",
        "{ items_: { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep', namespace: 'app' }, data: { v: std.toString(std.foldl(function(acc, x) [acc], std.range(1, 100000), [])) } } } }\n",
    );
    // `policyrun` panics here if the process ends by a signal.
    let run = policyrun(repo.path(), &["expand"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("max_stack"), "{}", run.stdout);
}

/// Regression: a source nested far deeper than anyone writes by hand — here a chain of
/// 300,000 unary minus signs in an imported library, 300 KB — aborted the process in
/// jrsonnet's parser and kept libjsonnet's formatter busy for over a minute. It is refused
/// before either parses it, with its place.
#[test]
fn a_source_nested_beyond_the_limit_is_refused_with_its_place() {
    let repo = fixture("basic");
    support::write_file(
        repo.path(),
        "lib/deep.libsonnet",
        &format!("{{\n  n: {}1,\n}}\n", "-".repeat(300_000)),
    );
    support::write_file(
        repo.path(),
        "clusters/dev/deep.jsonnet",
        "local deep = import 'deep.libsonnet';\n{ items_: { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'deep', namespace: 'app' }, data: { n: std.toString(deep.n) } } } }\n",
    );
    // `policyrun` panics here if the process ends by a signal.
    let run = policyrun(repo.path(), &["check", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = json_outcomes(&run);
    let evaluate = &outcomes["clusters/dev/deep.jsonnet"][0];
    assert_eq!(evaluate["status"], "error", "{evaluate}");
    let message = evaluate["message"].as_str().unwrap();
    assert!(
        message.contains("lib/deep.libsonnet`:2:") && message.contains("nested more than"),
        "{message}"
    );
    let style = &outcomes["lib/deep.libsonnet"];
    assert!(
        style
            .iter()
            .any(|o| o["status"] == "error" && o["location"]["line"] == 2),
        "{style:?}"
    );
}

/// A renamed cluster (issue 27): its old tree is one finding that names the cluster and the
/// likely new name, not one "orphaned" failure per file; `expand` says once why it removes
/// the old tree; then the gate passes.
#[test]
fn a_renamed_cluster_is_said_once_and_expand_says_why_it_removes_the_old_tree() {
    let repo = fixture("basic");
    let root = repo.path();
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    fs::write(
        root.join("policyrun.toml"),
        config.replace("name = \"dev\"", "name = \"develop\""),
    )
    .unwrap();
    fs::rename(root.join("clusters/dev"), root.join("clusters/develop")).unwrap();
    let committed = walkdir::WalkDir::new(root.join("generated/dev"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count();
    assert!(committed > 1);

    let run = policyrun(root, &["check", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = support::outcome_list(&run);
    let about_dev: Vec<&serde_json::Value> =
        outcomes.iter().filter(|o| o["cluster"] == "dev").collect();
    assert_eq!(about_dev.len(), 1, "{about_dev:#?}");
    assert_eq!(about_dev[0]["subject"], "generated/dev/");
    assert_eq!(about_dev[0]["status"], "failed");
    let message = about_dev[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("cluster `dev` is no longer configured in policyrun.toml (renamed to `develop`, which has nothing committed yet?)")
            && message.contains(&format!("its {committed} committed files below generated/dev")),
        "{message}"
    );
    assert!(
        !outcomes.iter().any(|o| o["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("orphaned"))),
        "{}",
        run.stdout
    );

    let expand = policyrun(root, &["expand"]);
    assert_eq!(expand.code, 0, "{}{}", expand.stdout, expand.stderr);
    assert!(
        expand.stdout.contains(&format!(
            "removed generated/dev/: cluster `dev` is no longer configured in policyrun.toml ({committed} files)\n"
        )),
        "{}",
        expand.stdout
    );
    assert!(
        !expand.stdout.contains("removed generated/dev/app"),
        "{}",
        expand.stdout
    );
    assert!(!root.join("generated/dev").exists());
    assert_eq!(policyrun(root, &["check"]).code, 0);
}

/// A committed tree written with another indent (the C++ jsonnet tool's 3) is named by its
/// indent, so the user sets `indent` instead of rewriting every committed file (issue 27).
#[test]
fn a_tree_written_with_another_indent_names_the_setting() {
    let repo = fixture("domain-layout");
    let root = repo.path();
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    fs::write(
        root.join("policyrun.toml"),
        config.replace("indent = 3\n", "indent = 2\n"),
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json"]);
    let hints = support::outcome_list(&run)
        .into_iter()
        .filter(|o| {
            o["message"]
                .as_str()
                .is_some_and(|m| m.contains("indented by 3 where policyrun.toml says `indent = 2`; if the whole tree is, set `indent = 3`"))
        })
        .count();
    assert!(hints >= 4, "{}", run.stdout);
}

/// `--output json-problems` (issue 28): the JSON report without the passes, its summary
/// still counting every outcome, so a consumer of problems reads only them.
#[test]
fn json_problems_holds_every_problem_and_no_pass() {
    let repo = fixture("broken");
    let all = policyrun(repo.path(), &["--output", "json"]);
    let problems = policyrun(repo.path(), &["--output", "json-problems"]);
    assert_eq!(all.code, 1);
    assert_eq!(problems.code, 1, "{}{}", problems.stdout, problems.stderr);
    let whole: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    let only: serde_json::Value = serde_json::from_str(&problems.stdout).unwrap();
    assert_eq!(only["summary"], whole["summary"]);
    let not_passed: Vec<&serde_json::Value> = whole["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] != "passed")
        .collect();
    let listed = only["outcomes"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert_eq!(listed.len(), not_passed.len());
    assert!(listed.iter().all(|o| o["status"] != "passed"));
}

/// A report on standard output is written in blocks: through the line-buffered standard
/// output it cost one `write` per line, and a JSON report of 380,000 checks took 9 s of
/// system time. Counted by the kernel (`syscw` of `/proc/PID/io`, read before the process is
/// reaped), not timed.
#[cfg(target_os = "linux")]
#[test]
fn a_report_on_standard_output_is_written_in_blocks_not_line_by_line() {
    use std::process::{Command, Stdio};

    let repo = fixture("basic");
    let report = repo.path().join("report.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args(["check", "--no-cache", "--output", "json"])
        .current_dir(repo.path())
        .env("NO_COLOR", "1")
        .env_remove("CHANGE_TARGET")
        // One process, so that its counters hold every write of the report.
        .env("POLICYRUN_UNSUPERVISED", "1")
        .stdout(fs::File::create(&report).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::id_t::from(child.id());
    // SAFETY: waitid with WNOWAIT only waits for the child to end and leaves it unreaped, so
    // its /proc entry stays; `info` is plain data the call fills in.
    let waited = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT)
    };
    assert_eq!(waited, 0, "waitid: {}", std::io::Error::last_os_error());
    let counters = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    assert!(child.wait().unwrap().success());
    let writes: usize = counters
        .lines()
        .find_map(|line| line.strip_prefix("syscw: "))
        .expect("a syscw line")
        .trim()
        .parse()
        .unwrap();
    let lines = fs::read_to_string(&report).unwrap().lines().count();
    assert!(
        lines > 200,
        "a report of {lines} lines is too small to tell"
    );
    assert!(
        writes < lines / 4,
        "{writes} write calls for a report of {lines} lines:\n{counters}"
    );
}

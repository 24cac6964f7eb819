//! The style stage and `policyrun fmt` end to end: the real binary on `testdata/style`, where
//! `lib/` and the entry are in jsonnetfmt's canonical form and `common/app.libsonnet` is not.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use support::{assert_valid_junit, fixture, json_outcomes, manifest_dir, policyrun};

const UNFORMATTED: &str = "common/app.libsonnet";
const FORMATTED: [&str; 2] = ["lib/mini.libsonnet", "clusters/dev/app.jsonnet"];

/// The style outcome of `subject` in a JSON report.
fn style(run: &support::Run, subject: &str) -> serde_json::Value {
    json_outcomes(run)
        .get(subject)
        .and_then(|list| list.iter().find(|o| o["stage"] == "style").cloned())
        .unwrap_or_else(|| panic!("no style outcome for {subject}:\n{}", run.stdout))
}

fn read(root: &Path, file: &str) -> String {
    fs::read_to_string(root.join(file)).unwrap()
}

#[test]
fn formatted_sources_pass_and_an_unformatted_one_fails_with_a_diff() {
    let repo = fixture("style");
    let junit = repo.path().join("junit.xml");
    let run = policyrun(
        repo.path(),
        &["--output", "json", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for file in FORMATTED {
        assert_eq!(style(&run, file)["status"], "passed", "{file}");
    }
    assert_eq!(style(&run, "clusters/dev/app.jsonnet")["cluster"], "dev");
    let failed = style(&run, UNFORMATTED);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["check"], "formatted");
    assert!(failed.get("cluster").is_none(), "{failed}");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("policyrun fmt common/app.libsonnet"),
        "{failed}"
    );
    assert_eq!(failed["location"]["file"], UNFORMATTED);
    assert_eq!(failed["location"]["line"], 1);
    let diff = failed["detail"].as_str().unwrap();
    for line in [
        "--- common/app.libsonnet\n",
        "+++ common/app.libsonnet (formatted)\n",
        "-local mini = import \"mini.libsonnet\";\n",
        "+local defaults = import '../lib/mini.libsonnet';\n",
        "+  // The application's settings.\n",
        "+    data+: { greeting: 'hello', \"it's\": 'quoted' },\n",
    ] {
        assert!(diff.contains(line), "missing {line:?} in\n{diff}");
    }
    // Every other stage passes: the style stage alone decides this run.
    let others = json_outcomes(&run)
        .into_values()
        .flatten()
        .filter(|o| o["stage"] != "style")
        .filter(|o| o["status"] != "passed")
        // The fixture has no policies, which the policy stage says as a warning.
        .filter(|o| !(o["stage"] == "policy" && o["status"] == "warning"))
        .count();
    assert_eq!(others, 0, "{}", run.stdout);

    // JUnit: a testcase per file that fails, the files that pass one testcase per suite,
    // in a suite per cluster (shared files: `repository`).
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<(String, String, bool)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.attribute("classname").unwrap().ends_with(".style"))
        .map(|n| {
            (
                n.attribute("classname").unwrap().to_owned(),
                n.attribute("name").unwrap().to_owned(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect();
    let expected = [
        ("policyrun.dev.style", "passed: formatted", false),
        ("policyrun.repository.style", "common/app.libsonnet", true),
        ("policyrun.repository.style", "passed: formatted", false),
    ];
    assert_eq!(
        cases,
        expected.map(|(c, n, f)| (c.to_owned(), n.to_owned(), f))
    );
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(failure.attribute("type"), Some("formatted"));
    assert!(
        failure
            .text()
            .unwrap()
            .contains("+++ common/app.libsonnet (formatted)")
    );
    let listed: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("name") == Some("passed: formatted"))
        .filter_map(|n| n.children().find(|c| c.has_tag_name("system-out"))?.text())
        .collect();
    assert!(
        listed[0].contains("\nclusters/dev/app.jsonnet")
            && listed[1].contains("\nlib/mini.libsonnet"),
        "{listed:?}"
    );

    // The human report shows the diff under the file.
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("FAIL style      common/app.libsonnet [formatted]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("           +local mini = import 'mini.libsonnet';"),
        "{}",
        run.stdout
    );
}

#[test]
fn fmt_rewrites_only_what_is_not_canonical_and_keeps_permissions() {
    let repo = fixture("style");
    let root = repo.path();
    // Old modification times, so that an untouched file is told from a rewritten one
    // however fast the test runs.
    let past = SystemTime::now() - Duration::from_secs(3600);
    for file in FORMATTED.iter().chain([&UNFORMATTED]) {
        let handle = fs::File::options()
            .write(true)
            .open(root.join(file))
            .unwrap();
        handle.set_modified(past).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(root.join(UNFORMATTED), fs::Permissions::from_mode(0o640)).unwrap();
    }
    let generated_before = read(root, "generated/dev/app/settings.json");

    let run = policyrun(root, &["fmt"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(
            "formatted common/app.libsonnet\n1 formatted, 2 unchanged, 0 not formatted (errors)\n"
        ),
        "{}",
        run.stdout
    );
    assert!(read(root, UNFORMATTED).starts_with(
        "local defaults = import '../lib/mini.libsonnet';\nlocal mini = import 'mini.libsonnet';\n"
    ));
    let modified = |file: &str| fs::metadata(root.join(file)).unwrap().modified().unwrap();
    for file in FORMATTED {
        assert_eq!(modified(file), past, "{file} was written");
    }
    assert!(modified(UNFORMATTED) > past);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(root.join(UNFORMATTED))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
    // No temporary file is left beside it.
    let names: Vec<String> = fs::read_dir(root.join("common"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["app.libsonnet"]);

    // Formatting changes no value: the committed JSON is still what the sources produce,
    // and the whole gate passes now.
    let run = policyrun(root, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        read(root, "generated/dev/app/settings.json"),
        generated_before
    );
    let run = policyrun(root, &["expand"]);
    assert!(
        run.stdout.contains("0 written, 0 removed, 1 unchanged"),
        "{}",
        run.stdout
    );

    // A second run has nothing to do.
    let run = policyrun(root, &["fmt"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with("0 formatted, 3 unchanged"),
        "{}",
        run.stdout
    );
}

#[test]
fn fmt_check_exits_one_without_writing() {
    let repo = fixture("style");
    let root = repo.path();
    let before = read(root, UNFORMATTED);
    let run = policyrun(root, &["fmt", "--check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("would format common/app.libsonnet\n1 would format, 2 unchanged"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("+  unused:: defaults,"),
        "{}",
        run.stdout
    );
    assert_eq!(read(root, UNFORMATTED), before);

    // Only the paths named are looked at.
    let run = policyrun(root, &["fmt", "--check", "lib", "clusters/dev/app.jsonnet"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("0 would format, 2 unchanged"),
        "{}",
        run.stdout
    );
    // From a subdirectory, paths are relative to it.
    let run = policyrun(&root.join("common"), &["fmt", "--check", "app.libsonnet"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("would format common/app.libsonnet\n")
    );
}

#[test]
fn options_in_policyrun_toml_change_the_verdict() {
    let repo = fixture("style");
    let root = repo.path();
    assert_eq!(policyrun(root, &["fmt"]).code, 0);
    let config = root.join("policyrun.toml");
    let original = read(root, "policyrun.toml");

    // Double quotes: every file that holds a string literal is no longer canonical.
    fs::write(
        &config,
        format!("{original}\n[style]\nstring_style = \"double\"\n"),
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lib = style(&run, "lib/mini.libsonnet");
    assert_eq!(lib["status"], "failed");
    assert!(
        lib["detail"]
            .as_str()
            .unwrap()
            .contains("+    apiVersion: \"v1\",\n"),
        "{lib}"
    );
    // fmt follows the same options, and then the gate passes with them.
    assert_eq!(policyrun(root, &["fmt"]).code, 0);
    assert!(read(root, "lib/mini.libsonnet").contains("kind: \"ConfigMap\","));
    assert_eq!(policyrun(root, &[]).code, 0);

    // Indentation, and an exclusion: common/ is left out of the stage.
    fs::write(
        &config,
        format!(
            "{original}\n[style]\nstring_style = \"leave\"\nindent = 4\nexclude = [\"common\"]\n"
        ),
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json"]);
    assert_eq!(run.code, 1);
    assert_eq!(style(&run, "lib/mini.libsonnet")["status"], "failed");
    assert!(!json_outcomes(&run).contains_key(UNFORMATTED));

    // Disabled: no style outcome at all, and the gate passes.
    fs::write(&config, format!("{original}\n[style]\nenabled = false\n")).unwrap();
    let run = policyrun(root, &["--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        !run.stdout.contains("\"stage\": \"style\""),
        "{}",
        run.stdout
    );

    // A bad value is a configuration error naming the key (exit 2).
    fs::write(
        &config,
        format!("{original}\n[style]\nstring_style = \"backtick\"\n"),
    )
    .unwrap();
    let run = policyrun(root, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("string_style"), "{}", run.stderr);
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let repo = fixture("style");
    let root = repo.path();
    fs::write(
        root.join("common/broken.libsonnet"),
        "{\n  a: 1,\n  b: [1, 2,,],\n}\n",
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json"]);
    assert_eq!(run.code, 1);
    let broken = style(&run, "common/broken.libsonnet");
    assert_eq!(broken["status"], "error");
    assert_eq!(broken["location"]["file"], "common/broken.libsonnet");
    assert_eq!(broken["location"]["line"], 3);
    assert_eq!(broken["location"]["column"], 12);
    assert!(
        broken["message"]
            .as_str()
            .unwrap()
            .starts_with("does not parse: common/broken.libsonnet:3:12: "),
        "{broken}"
    );

    // fmt reports it the same way, exits 1, and still formats the other files.
    let run = policyrun(root, &["fmt"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("ERR  style      common/broken.libsonnet [formatted]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("at common/broken.libsonnet:3:12"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("formatted common/app.libsonnet\n"));
    assert!(
        run.stdout
            .contains("1 formatted, 2 unchanged, 1 not formatted (errors)")
    );
    assert_eq!(
        read(root, "common/broken.libsonnet"),
        "{\n  a: 1,\n  b: [1, 2,,],\n}\n"
    );
}

#[test]
fn fmt_refuses_paths_outside_the_repository_and_the_generated_tree() {
    let repo = fixture("style");
    let root = repo.path();
    let outside = tempfile::tempdir().unwrap();
    let foreign = outside.path().join("x.jsonnet");
    fs::write(&foreign, "{a:1}\n").unwrap();
    let mut refused = vec![
        foreign.display().to_string(),
        "generated/dev/app/settings.json".to_owned(),
        "missing.jsonnet".to_owned(),
    ];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&foreign, root.join("common/link.libsonnet")).unwrap();
        refused.push("common/link.libsonnet".to_owned());
    }
    for path in &refused {
        let run = policyrun(root, &["fmt", path]);
        assert_eq!(run.code, 2, "{path}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("policyrun: error:"), "{}", run.stderr);
    }
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "{a:1}\n");
    // The repository's own walk does not follow the link either.
    let run = policyrun(root, &["fmt"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(fs::read_to_string(&foreign).unwrap(), "{a:1}\n");
}

#[test]
fn our_own_sources_are_in_canonical_form() {
    let run = policyrun(
        &manifest_dir(),
        &["fmt", "--check", "lib", "common", "clusters"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("0 would format"), "{}", run.stdout);
}

/// The canonical form is jsonnetfmt's: Debian's `jsonnetfmt` (0.18) agrees with policyrun
/// on which files are canonical and on what the others become. CI installs it and
/// requires it; elsewhere the comparison is skipped when it is missing.
#[test]
fn output_matches_the_jsonnetfmt_command() {
    let probe = Command::new("jsonnetfmt").arg("--version").output();
    if probe.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have jsonnetfmt (Debian package `jsonnet`)"
        );
        eprintln!("jsonnetfmt not installed: comparison skipped");
        return;
    }
    let repo = fixture("style");
    let root = repo.path();
    let canonical = |file: &Path| {
        Command::new("jsonnetfmt")
            .arg("--test")
            .arg(file)
            .status()
            .unwrap()
            .success()
    };
    for file in FORMATTED {
        assert!(canonical(&root.join(file)), "jsonnetfmt rewrites {file}");
    }
    assert!(!canonical(&root.join(UNFORMATTED)));
    let theirs = Command::new("jsonnetfmt")
        .arg(root.join(UNFORMATTED))
        .output()
        .unwrap();
    assert!(theirs.status.success());
    assert_eq!(policyrun(root, &["fmt"]).code, 0);
    assert_eq!(
        read(root, UNFORMATTED),
        String::from_utf8(theirs.stdout).unwrap()
    );

    // Our own sources, which the gate checks on every pull request.
    let ours = manifest_dir();
    for dir in ["lib", "common", "clusters"] {
        for entry in walkdir::WalkDir::new(ours.join(dir)) {
            let path = entry.unwrap().into_path();
            if path
                .extension()
                .is_some_and(|e| e == "jsonnet" || e == "libsonnet")
            {
                assert!(canonical(&path), "jsonnetfmt rewrites {}", path.display());
            }
        }
    }
}

/// A small deterministic generator (xorshift): the cases differ by seed, not by run.
struct Cases(u64);

impl Cases {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }
}

/// Lines before the place of an error: comments and strings that mention the import's path
/// or hold multi-byte characters, so a location found by searching text or counting
/// characters would be wrong.
fn preamble(cases: &mut Cases, path: &str) -> String {
    let mut text = String::new();
    for i in 0..cases.below(4) {
        text.push_str(match cases.below(5) {
            0 => "// see 'PATH' for the rest\n",
            1 => "/* import 'PATH' was here */\n",
            2 => "local naïve = 'ünïcödé';\n",
            3 => "# \"PATH\"\n",
            _ => "\n",
        });
        text = text.replace("PATH", path);
        if i % 2 == 1 {
            text.push_str(&format!("local unused{i} = {i};\n"));
        }
    }
    text
}

/// Whether the C++ tool refuses the entry before running it (a syntax error).
fn reference_is_static(root: &Path, entry: &str) -> bool {
    let output = Command::new("jsonnet")
        .args(["-J", "lib", entry])
        .current_dir(root)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stderr).starts_with("STATIC ERROR: ")
}

/// The C++ `jsonnet` tool's first location in its error output (`file:L:C…`), and its
/// message (the text after `STATIC ERROR: file:L:C: ` or `RUNTIME ERROR: `); `None` when
/// the source evaluates.
fn cpp_error(root: &Path, entry: &str) -> Option<(String, usize, usize, String)> {
    let output = Command::new("jsonnet")
        .args(["-J", "lib", entry])
        .current_dir(root)
        .output()
        .unwrap();
    if output.status.success() {
        // A mutation that left a valid source (a trailing comma deleted): nothing to compare.
        return None;
    }
    let text = String::from_utf8(output.stderr).unwrap();
    let (message, place) = if let Some(rest) = text.strip_prefix("STATIC ERROR: ") {
        let first = rest.lines().next()?;
        let (place, message) = first.split_once(": ")?;
        (message.to_owned(), place.to_owned())
    } else {
        let rest = text.strip_prefix("RUNTIME ERROR: ")?;
        let mut lines = rest.lines();
        let message = lines.next()?.to_owned();
        let place = lines.next()?.trim().split('\t').next()?.to_owned();
        (message, place)
    };
    // file:L:C, file:L:C-C2 or file:(L:C)-(L2:C2)
    let (file, position) = place.split_once(':')?;
    let position = position.trim_start_matches('(');
    let mut numbers = position.split([':', '-', ')']);
    let line = numbers.next()?.parse().ok()?;
    let column = numbers.next()?.parse().ok()?;
    Some((file.to_owned(), line, column, message))
}

/// jsonnet errors are located as the C++ `jsonnet` tool locates them (issue 27), on generated
/// cases: an import that is not found (every import form, after comments and strings that
/// mention its path and multi-byte text) at the import's line and column; a syntax error in
/// an entry or in a library it imports (a token deleted or doubled in a valid source) at
/// the parser's line and column and in its words, reported once (not again by the style
/// stage); a runtime error inside a library function (a missing field, an index out of
/// bounds, an operator on the wrong types, `error`, `assert`, an undefined ext var) at the
/// library's faulty line, not at the call. Debian's `jsonnet` package (installed in CI for `jsonnetfmt`) is the reference.
#[test]
fn jsonnet_errors_are_located_as_the_cpp_jsonnet_tool_locates_them() {
    let found = Command::new("jsonnet")
        .arg("--version")
        .output()
        .map_err(|e| e.to_string())
        .map(|_| ());
    if !support::required_in_ci("the C++ jsonnet tool", "apt-get install jsonnet", found) {
        return;
    }
    let seed = std::env::var("POLICYRUN_JSONNET_ERRORS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_u64);
    let mut cases = Cases(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(
        root.join("policyrun.toml"),
        "jpath = [\"lib\"]\nlayout = \"per-file\"\n[[cluster]]\nname = \"dev\"\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("clusters/dev")).unwrap();
    fs::create_dir_all(root.join("lib")).unwrap();
    let valid = "{\n  apiVersion: 'v1',\n  kind: 'ConfigMap',\n  metadata: { name: 'cm', labels: { a: 'b' } },\n  data: { list: std.toString([1, 2, 3]), sum: std.toString(1 + 2 * 3) },\n}\n";
    let mut expected = Vec::new();
    for case in 0..60 {
        let entry = format!("clusters/dev/case{case}.jsonnet");
        match cases.below(4) {
            0 => {
                let path = format!(
                    "{}missing{case}.libsonnet",
                    cases.pick(&["", "sub/", "../"])
                );
                let form = cases
                    .pick(&[
                        "import 'P'",
                        "import \"P\"",
                        "(import 'P')",
                        "importstr 'P'",
                        "import @'P'",
                    ])
                    .replace('P', &path);
                let indent = " ".repeat(cases.below(6));
                let text = format!(
                    "{}{indent}local x = {form};\n{{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'c{case}' }}, data: {{ x: std.toString(x) }} }}\n",
                    preamble(&mut cases, &path)
                );
                fs::write(root.join(&entry), text).unwrap();
            }
            3 => {
                // A runtime error inside a library function the entry calls: the faulty
                // line is in the library, not at the call.
                let (body, call) = [
                    ("x.missing", "{}"),
                    ("x[5]", "[1]"),
                    ("x + 1", "{}"),
                    ("x + 1", "'a' + {}"),
                    ("error 'boom ' + x", "'a'"),
                    ("assert x > 1 : 'too small'; x", "0"),
                    ("std.extVar('nope')", "0"),
                    ("x.a.b", "{ a: {} }"),
                    ("[x[i] for i in std.range(0, 3)]", "[1]"),
                ][cases.below(9)];
                let library = format!("lib/case{case}.libsonnet");
                let lines = "\n".repeat(cases.below(3));
                fs::write(
                    root.join(&library),
                    format!(
                        "{}{{\n{lines}  f(x)::\n    {body},\n}}\n",
                        preamble(&mut cases, "lib")
                    ),
                )
                .unwrap();
                fs::write(
                    root.join(&entry),
                    format!("local l = import 'case{case}.libsonnet';\n{{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'c{case}' }}, data: {{ v: std.toString(l.f({call})) }} }}\n"),
                )
                .unwrap();
            }
            kind => {
                // A token of the valid source deleted or doubled.
                let tokens = [",", "}", "]", ":", "(", "'", "{", "["];
                let token = cases.pick(&tokens);
                let places: Vec<usize> = valid.match_indices(token).map(|(i, _)| i).collect();
                let at = places[cases.below(places.len())];
                let mut broken = valid.to_owned();
                if cases.below(2) == 0 {
                    broken.remove(at);
                } else {
                    broken.insert_str(at, token);
                }
                let broken = format!("{}{broken}", preamble(&mut cases, "lib"));
                if kind == 1 {
                    fs::write(root.join(&entry), broken).unwrap();
                } else {
                    let library = format!("lib/case{case}.libsonnet");
                    fs::write(root.join(&library), broken).unwrap();
                    fs::write(
                        root.join(&entry),
                        format!("(import 'case{case}.libsonnet') + {{ metadata+: {{ name: 'c{case}' }} }}\n"),
                    )
                    .unwrap();
                }
            }
        }
        if let Some(reference) = cpp_error(root, &entry) {
            expected.push((entry, reference));
        }
    }
    let run = policyrun(root, &["check", "--no-cache", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = support::outcome_list(&run);
    let mut differences = Vec::new();
    for (entry, (file, line, column, message)) in &expected {
        let Some(ours) = outcomes.iter().find(|o| {
            o["stage"] == "expand" && o["entry"] == entry.as_str() && o["status"] == "error"
        }) else {
            differences.push(format!(
                "{entry}: no expansion error; C++: {file}:{line}:{column}: {message}"
            ));
            continue;
        };
        let location = &ours["location"];
        let ours_message = ours["message"].as_str().unwrap();
        let import_error = message.starts_with("couldn't open import");
        let static_error = reference_is_static(root, entry);
        // A runtime error's line is what a reader needs; the columns of a span differ
        // between the implementations (an assert's condition or its whole statement).
        let same_place = location["file"] == file.as_str()
            && location["line"] == *line
            && (location["column"] == *column || !(static_error || import_error));
        let static_error = static_error && !import_error;
        let same_words = !static_error || ours_message == format!("syntax error: {message}");
        if !same_place || !same_words {
            differences.push(format!(
                "{entry}: ours {}:{}:{} {ours_message:?}; C++ {file}:{line}:{column} {message:?}",
                location["file"], location["line"], location["column"]
            ));
        }
        // One report per syntax error: the style stage does not report it again.
        if static_error {
            let again = outcomes.iter().filter(|o| {
                o["stage"] == "style"
                    && o["location"]["file"] == file.as_str()
                    && o["status"] == "error"
            });
            if again.count() > 0 {
                differences.push(format!("{entry}: the style stage reports {file} again"));
            }
        }
    }
    eprintln!(
        "jsonnet errors: {} cases compared with the C++ jsonnet tool, {} differences (seed {seed:#x})",
        expected.len(),
        differences.len()
    );
    assert!(
        expected.len() >= 40,
        "too few cases fail in the C++ tool: {}",
        expected.len()
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

//! The style stage and `policyrun fmt` end to end: the real binary on `testdata/style`, where
//! `lib/` and the entry are in jsonnetfmt's canonical form and `common/app.libsonnet` is not.

mod support;

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
        .count();
    assert_eq!(others, 0, "{}", run.stdout);

    // JUnit: one testcase per file, in a suite per cluster (shared files: `repository`).
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
        ("policyrun.dev.style", "clusters/dev/app.jsonnet", false),
        ("policyrun.repository.style", "common/app.libsonnet", true),
        ("policyrun.repository.style", "lib/mini.libsonnet", false),
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

//! Issue 13, through the real binary: a pull request cannot make the gate lose or leak what
//! the repository holds. Each test reproduces an attack that broke an earlier build.

use crate::support;

use std::fs;

use support::{
    edit_file, fixture, outcome_list, policyrun, policyrun_within, write_file, written_junit,
};

/// `generated = "policies"` (or `lib`, `.git`, a cluster directory) was accepted, and
/// `expand` then deleted the policies as orphans of the generated tree.
#[test]
fn a_generated_root_over_other_configured_paths_is_refused_and_nothing_is_deleted() {
    for (generated, named) in [
        ("policies", "policy.dirs[0]"),
        (".git", ".git"),
        ("clusters", "cluster[0].dir"),
    ] {
        let dir = fixture("policy-gate");
        let root = dir.path();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
        fs::write(
            root.join("policyrun.toml"),
            format!("generated = \"{generated}\"\n{config}"),
        )
        .unwrap();
        let before = tree(root);
        for command in ["expand", "check"] {
            let run = policyrun(root, &[command]);
            assert_eq!(
                run.code, 2,
                "{generated}: {command}: {}{}",
                run.stdout, run.stderr
            );
            assert!(
                run.stderr.contains(named) && run.stderr.contains("generated"),
                "{generated}: {}",
                run.stderr
            );
        }
        assert_eq!(tree(root), before, "{generated}: nothing changed");
    }
}

/// Every file below `root` with its content.
fn tree(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(root).unwrap().display().to_string(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// `policies/sub` as a symbolic link to a directory of policies: they never ran, the run
/// passed, and nothing said so.
#[test]
fn a_linked_directory_of_policies_fails_the_run() {
    let dir = fixture("policy-gate");
    let root = dir.path();
    let elsewhere = root.join("more-policies");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(
        elsewhere.join("deny.rego"),
        "package gate\nimport rego.v1\ndeny_everything contains \"no\" if true\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("policies/sub")).unwrap();
    let run = policyrun(root, &["check", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let load: Vec<serde_json::Value> = outcome_list(&run)
        .into_iter()
        .filter(|o| o["check"] == "load" && o["status"] == "error")
        .collect();
    assert_eq!(load.len(), 1, "{load:#?}");
    assert_eq!(load[0]["location"]["file"], "policies/sub");
    assert!(
        load[0]["message"]
            .as_str()
            .unwrap()
            .contains("symbolic link to a directory"),
        "{}",
        load[0]["message"]
    );
}

/// `ln -s /proc/self/environ policyrun.toml`: the TOML parse error printed the file's first
/// line, the agent's whole environment. The configuration is now read only as a regular file,
/// and a parse error names the line and column without quoting the text.
#[test]
fn the_configuration_is_never_quoted_from_outside_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("environ");
    fs::write(
        &secret,
        "AWS_SECRET_ACCESS_KEY=leaked-credential\0PATH=/bin\0",
    )
    .unwrap();
    std::os::unix::fs::symlink(&secret, root.join("policyrun.toml")).unwrap();
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("leaked-credential"), "{all}");
    assert!(all.contains("symbolic link"), "{all}");

    // A broken file of the repository's own: the place, not its text.
    fs::remove_file(root.join("policyrun.toml")).unwrap();
    fs::write(
        root.join("policyrun.toml"),
        "jpath = [\n  \"lib\"\nTOKEN = leaked-credential\n",
    )
    .unwrap();
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 2);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains("leaked-credential"), "{all}");
    assert!(all.contains("line 3, column 1"), "{all}");
}

/// Committed JSON with a key twice (`"kind": "Secret", "kind": "ConfigMap"`) counted as
/// "formatting only" (a warning, exit 0), although parsers disagree on which value wins.
#[test]
fn committed_json_with_a_key_twice_is_stale() {
    let dir = fixture("basic");
    let root = dir.path();
    let file = root.join("generated/int/app/settings.json");
    let text = fs::read_to_string(&file).unwrap();
    let twice = text.replace(
        "  \"kind\": \"ConfigMap\",",
        "  \"kind\": \"Secret\",\n  \"kind\": \"ConfigMap\",",
    );
    assert_ne!(text, twice);
    fs::write(&file, twice).unwrap();
    let run = policyrun(root, &["check", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let stale: Vec<serde_json::Value> = outcome_list(&run)
        .into_iter()
        .filter(|o| o["stage"] == "freshness" && o["status"] == "failed")
        .collect();
    assert_eq!(stale.len(), 1, "{stale:#?}");
    let message = stale[0]["message"].as_str().unwrap();
    assert!(
        message.contains("duplicate key `kind` at line 8"),
        "{message}"
    );
}

/// `--junit PATH` where PATH was a link, a FIFO or a device replaced it with a regular file.
#[test]
fn the_junit_report_is_written_only_to_a_regular_file_or_a_new_path() {
    let dir = fixture("basic");
    let root = dir.path();
    let target = root.join("kept.txt");
    fs::write(&target, "kept\n").unwrap();
    std::os::unix::fs::symlink(&target, root.join("link.xml")).unwrap();
    fs::create_dir(root.join("a-directory.xml")).unwrap();
    for name in ["link.xml", "a-directory.xml"] {
        let run = policyrun(root, &["check", "--junit", name]);
        assert_eq!(run.code, 2, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }
    assert!(
        fs::symlink_metadata(root.join("link.xml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "kept\n");
    // A new path and an existing regular file are written.
    for name in ["new.xml", "new.xml"] {
        let run = policyrun(root, &["check", "--junit", name]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            fs::read_to_string(root.join(name))
                .unwrap()
                .contains("<testsuites")
        );
    }
}

/// The configured policy directory and waiver files are read through no link either: one
/// committed by a pull request decides which policies and waivers judge it.
#[test]
fn a_linked_policy_directory_or_waiver_file_is_refused() {
    let dir = fixture("policy-gate");
    let root = dir.path();
    fs::rename(root.join("policies"), root.join("real-policies")).unwrap();
    std::os::unix::fs::symlink(root.join("real-policies"), root.join("policies")).unwrap();
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("policy.dirs"), "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);

    let dir = fixture("policy-gate");
    let root = dir.path();
    fs::rename(
        root.join("policies/waivers.yaml"),
        root.join("waivers-elsewhere.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        root.join("waivers-elsewhere.yaml"),
        root.join("policies/waivers.yaml"),
    )
    .unwrap();
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("policy.waivers[0]"), "{}", run.stderr);
}

// Secrets (items 2-4)

/// The Secret of [`secret_repository`]'s entry: what no report may show, in every form a
/// policy can get it in (committed, decoded, transformed).
const SECRET_FORMS: &[&str] = &[
    "aHVudGVyMi1zZWtyaXQ=",
    "hunter2-sekrit",
    "HUNTER2-SEKRIT",
    "h.u.n.t.e.r",
    "tok-sekrit-99",
    "TOK-SEKRIT-99",
    "dG9rLXNla3JpdC05OQ==",
];

/// A repository whose one cluster holds a Secret (`app/creds`, with `data.password`, an empty
/// `data.empty` and `stringData.token`) and a ConfigMap, with `policies` in package `leak`
/// `[policy]` lines `policy` and more `files`; its generated JSON is committed (by `expand`).
fn secret_repository(policy: &str, policies: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_file(
        root,
        "policyrun.toml",
        &format!(
            "jpath = []\n\n[[cluster]]\nname = \"dev\"\n\n[policy]\nnamespaces = [\"leak\"]\n{policy}\n\n[style]\nenabled = false\n"
        ),
    );
    write_file(root, "clusters/dev/app.jsonnet", SECRET_ENTRY);
    write_file(root, "policies/leak.rego", policies);
    for (path, text) in files {
        write_file(root, path, text);
    }
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    dir
}

const SECRET_ENTRY: &str = "{
  items_: {
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } },
    settings: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'app' }, data: { a: 'b' } },
    creds: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds', namespace: 'app' },
      data: { password: std.base64('hunter2-sekrit'), empty: '' },
      stringData: { token: 'tok-sekrit-99' },
    },
  },
}
";

/// Everything a run wrote: standard output and error, and the JUnit report if any.
fn everything_shown(root: &std::path::Path, run: &support::Run) -> String {
    let junit = fs::read_to_string(root.join("report.xml")).unwrap_or_default();
    let _ = fs::remove_file(root.join("report.xml"));
    format!("{}\n{}\n{junit}", run.stdout, run.stderr)
}

fn assert_no_secret_shown(what: &str, shown: &str) {
    for form in SECRET_FORMS {
        assert!(!shown.contains(form), "{what}: {form:?} shown:\n{shown}");
    }
}

/// A policy's `print` of a Secret's values (committed, decoded) reached standard error
/// unredacted, and the run passed — `check` and `test`, on either engine, and from a
/// Gatekeeper template reading the inventory. Print output is now kept with the rule's
/// result, through the same redaction as messages; `reveal_secret_values = true` (policies
/// see the values) is where only that redaction stands between a print and the log.
#[test]
fn a_policy_that_prints_secret_values_shows_them_hidden() {
    let policies = "package leak
import rego.v1

warn_print contains \"printed\" if {
  input.kind == \"Secret\"
  print(\"raw\", input.data.password, \"decoded\", base64.decode(input.data.password), \"string\", input.stringData.token)
}
";
    let template = "apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sprintsecrets
spec:
  crd:
    spec:
      names:
        kind: K8sPrintSecrets
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sprintsecrets

        violation[{\"msg\": msg}] {
          creds := data.inventory.namespace.app.v1.Secret.creds
          print(\"reviewing\", input.review.object.kind, \"inventory\", creds.data.password, creds.stringData.token)
          input.review.object.kind == \"never\"
          msg := \"never\"
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sPrintSecrets
metadata:
  name: print-secrets
spec:
  match:
    kinds:
      - apiGroups: [\"\"]
        kinds: [\"ConfigMap\", \"Secret\"]
";
    for reveal in [true, false] {
        let dir = secret_repository(
            &format!("reveal_secret_values = {reveal}\ngatekeeper = [\"gatekeeper\"]"),
            policies,
            &[("gatekeeper/print.yaml", template)],
        );
        let root = dir.path();
        for engine in ["interpreter", "vm"] {
            let what = format!("reveal {reveal}, {engine}");
            let engine_flag: &[&str] = if reveal {
                &["--policy-engine", engine, "--allow-secret-values"]
            } else {
                &["--policy-engine", engine]
            };
            for args in [
                &["check", "--junit", "report.xml"][..],
                &["check", "--output", "json", "--junit", "report.xml"],
                &["check", "-v"],
                &["test", "generated/dev/app/creds.json"],
                &["test", "--output", "json", "generated/dev/app"],
            ] {
                let args: Vec<&str> = args.iter().chain(engine_flag).copied().collect();
                let run = policyrun(root, &args);
                assert_eq!(run.code, 0, "{what} {args:?}: {}{}", run.stdout, run.stderr);
                let shown = everything_shown(root, &run);
                assert_no_secret_shown(&format!("{what} {args:?}"), &shown);
                if args.contains(&"json") {
                    // What was printed is there, with the values hidden.
                    let details: Vec<String> = outcome_list(&run)
                        .iter()
                        .filter_map(|o| o["detail"].as_str())
                        .filter(|d| d.contains("print: "))
                        .map(str::to_owned)
                        .collect();
                    let printed = details.join("\n");
                    assert!(
                        printed.contains("leak.rego:6: raw ")
                            && printed.contains("decoded <hidden> string <hidden>"),
                        "{what}: {printed}"
                    );
                    if args[0] == "check" {
                        assert!(
                            printed.contains("reviewing ConfigMap inventory")
                                && printed.contains("reviewing Secret inventory"),
                            "{what}: {printed}"
                        );
                    }
                }
            }
        }
    }
}

/// A committed Secret whose source now yields a ConfigMap at the same path: the stale
/// diff showed the old Secret's values in every report (the other way round was masked).
#[test]
fn a_secret_the_sources_turn_into_a_config_map_keeps_its_values_hidden() {
    let dir = secret_repository(
        "",
        "package leak\nimport rego.v1\ndeny_nothing if false\n",
        &[],
    );
    let root = dir.path();
    let secret_at = SECRET_ENTRY.find("    creds: {").unwrap();
    let entry = format!(
        "{}    creds: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'creds', namespace: 'app' }}, data: {{ password: 'not secret' }} }},\n  }},\n}}\n",
        &SECRET_ENTRY[..secret_at]
    );
    write_file(root, "clusters/dev/app.jsonnet", &entry);
    for args in [
        &["check", "--junit", "report.xml"][..],
        &["check", "--output", "json", "--junit", "report.xml"],
    ] {
        let run = policyrun(root, args);
        assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
        let shown = everything_shown(root, &run);
        assert_no_secret_shown(&format!("{args:?}"), &shown);
        assert!(shown.contains("password"), "{shown}");
        assert!(shown.contains("<hidden, changed>"), "{shown}");
        if args.contains(&"json") {
            let stale: Vec<serde_json::Value> = outcome_list(&run)
                .into_iter()
                .filter(|o| o["stage"] == "freshness" && o["status"] == "failed")
                .collect();
            assert_eq!(stale.len(), 1, "{stale:#?}");
            assert_eq!(stale[0]["subject"], "generated/dev/app/creds.json");
        }
    }
}

/// A policy message built from a transformed secret value (`upper(p)`, `concat(".",
/// split(p, ""))` of `p := base64.decode(input.data.password)`) was printed: redaction
/// matches exact values only. Policies now see placeholders (empty values stay empty), in
/// `check` and `test`, on either engine; the verdict memory keeps what they saw apart
/// from what they see with `reveal_secret_values = true`.
#[test]
fn policies_see_secret_values_masked_so_no_transformation_leaks_them() {
    let policies = "package leak
import rego.v1

deny_transformed contains msg if {
  input.kind == \"Secret\"
  p := base64.decode(input.data.password)
  msg := sprintf(\"upper %s dotted %s token %s\", [upper(p), concat(\".\", split(p, \"\")), upper(input.stringData.token)])
}

warn_empty contains msg if {
  input.kind == \"Secret\"
  some key, value in input.data
  value == \"\"
  msg := sprintf(\"%s is empty\", [key])
}
";
    let dir = secret_repository("", policies, &[]);
    let root = dir.path();
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    let masked = "upper <HIDDEN> dotted <.h.i.d.d.e.n.> token <HIDDEN>";
    for engine in ["interpreter", "vm"] {
        for args in [
            &["check", "--junit", "report.xml"][..],
            &["check", "--output", "json", "--cache-dir", cache_dir],
            &["check", "--output", "json", "--cache-dir", cache_dir],
            &["test", "--output", "json", "generated/dev/app"],
        ] {
            let args: Vec<&str> = args
                .iter()
                .chain(&["--policy-engine", engine])
                .copied()
                .collect();
            let run = policyrun(root, &args);
            assert_eq!(run.code, 1, "{args:?}: {}{}", run.stdout, run.stderr);
            let shown = everything_shown(root, &run);
            assert_no_secret_shown(&format!("{args:?}"), &shown);
            assert!(shown.contains(masked), "{args:?}: {shown}");
            assert!(shown.contains("empty is empty"), "{args:?}: {shown}");
        }
    }

    // The file asking for the values is not enough: it comes with the pull request. The
    // run says so, and the policies still see placeholders.
    edit_file(
        root,
        "policyrun.toml",
        "namespaces = [\"leak\"]",
        "namespaces = [\"leak\"]\nreveal_secret_values = true",
    );
    for command in [
        &["check", "--output", "json", "--cache-dir", cache_dir][..],
        &["test", "--output", "json", "generated/dev/app"],
    ] {
        let run = policyrun(root, command);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        let shown = everything_shown(root, &run);
        assert_no_secret_shown(&format!("{command:?}"), &shown);
        assert!(shown.contains(masked), "{command:?}: {shown}");
        let warned = outcome_list(&run).into_iter().any(|o| {
            o["check"] == "reveal_secret_values"
                && o["status"] == "warning"
                && o["message"]
                    .as_str()
                    .unwrap()
                    .contains("--allow-secret-values")
        });
        assert!(warned, "{command:?}: {}", run.stdout);
    }
    // With the runner's consent too, the same object with the values revealed is another
    // verdict, not the remembered one.
    let run = policyrun(
        root,
        &[
            "check",
            "--output",
            "json",
            "--cache-dir",
            cache_dir,
            "--allow-secret-values",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let messages: Vec<serde_json::Value> = outcome_list(&run)
        .into_iter()
        .filter(|o| o["check"] == "leak.deny_transformed" && o["status"] == "failed")
        .collect();
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("upper HUNTER2-SEKRIT dotted h.u.n"),
        "{}",
        messages[0]["message"]
    );
}

// Nesting and names (items 8, 10)

/// `check --output json --junit report.xml` in `root`: the exit code, the JSON report's
/// outcomes (the document must parse) and the JUnit report (it must validate).
fn judged(root: &std::path::Path) -> (i32, Vec<serde_json::Value>, support::Run) {
    let run = policyrun(
        root,
        &["check", "--output", "json", "--junit", "report.xml"],
    );
    let outcomes = outcome_list(&run);
    support::assert_valid_junit(&fs::read_to_string(root.join("report.xml")).unwrap());
    (run.code, outcomes, run)
}

/// The outcomes about `subject` (an entry or a generated file) with this status.
fn about<'a>(
    outcomes: &'a [serde_json::Value],
    subject: &str,
    status: &str,
) -> Vec<&'a serde_json::Value> {
    outcomes
        .iter()
        .filter(|o| o["subject"] == subject && o["status"] == status)
        .collect()
}

/// A file imported under another extension (`import 'deep.data'`) holding 300,000 `[`
/// aborted the run with a stack overflow: no report, every other entry's result lost.
#[test]
fn a_deep_file_imported_under_any_extension_is_an_error_not_a_crash() {
    let dir = fixture("basic");
    let root = dir.path();
    let deep = "[".repeat(300_000);
    fs::write(root.join("clusters/dev/deep.data"), &deep).unwrap();
    fs::write(root.join("clusters/dev/deep.text"), &deep).unwrap();
    // Read first as text by one entry (kept by the evaluator), imported as code by the next.
    fs::write(
        root.join("clusters/dev/a_text.jsonnet"),
        "{ cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'app' }, data: { n: std.toString(std.length(importstr 'deep.text')) } } }",
    )
    .unwrap();
    fs::write(
        root.join("clusters/dev/b_code.jsonnet"),
        "{ x: import 'deep.text' }",
    )
    .unwrap();
    fs::write(
        root.join("clusters/dev/deep.jsonnet"),
        "{ x: import 'deep.data' }",
    )
    .unwrap();
    fs::write(
        root.join("clusters/dev/json.jsonnet"),
        "{ x: std.parseJson(importstr 'deep.data') }",
    )
    .unwrap();
    for jobs in ["1", "2"] {
        let run = policyrun(root, &["check", "-j", jobs, "--output", "json"]);
        assert_eq!(run.code, 1, "-j {jobs}: {}{}", run.stdout, run.stderr);
    }
    let (code, outcomes, run) = judged(root);
    assert_eq!(code, 1, "{}{}", run.stdout, run.stderr);
    for entry in ["deep", "b_code"] {
        let errors = about(&outcomes, &format!("clusters/dev/{entry}.jsonnet"), "error");
        assert_eq!(errors.len(), 1, "{entry}: {outcomes:#?}");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.contains("nested more than 10000 levels"),
            "{message}"
        );
    }
    let json = about(&outcomes, "clusters/dev/json.jsonnet", "error");
    assert!(
        json[0]["message"]
            .as_str()
            .unwrap()
            .contains("recursion limit"),
        "{json:#?}"
    );
    // Read as text only, the same bytes are data, and the other entries are judged.
    assert!(
        about(&outcomes, "clusters/dev/a_text.jsonnet", "error").is_empty(),
        "{outcomes:#?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o["subject"] == "clusters/int/app.jsonnet" && o["status"] == "passed"),
        "{outcomes:#?}"
    );
}

/// An entry file name with control characters or invalid UTF-8 ended the run with exit 2 and
/// no report; a generated file with such a name cut the `--output json` document off
/// mid-way. Each is now an error of its own, shown escaped, and every other entry is judged.
#[test]
fn badly_named_entries_and_generated_files_are_errors_in_complete_reports() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = fixture("basic");
    let root = dir.path();
    let entry = fs::read(root.join("clusters/dev/app.jsonnet")).unwrap();
    let committed = fs::read(root.join("generated/dev/app/ns.json")).unwrap();
    let bad_entries: [&[u8]; 2] = [
        b"clusters/dev/bad\x1b[2J.jsonnet",
        b"clusters/dev/c\xff.jsonnet",
    ];
    for name in bad_entries {
        fs::write(root.join(OsStr::from_bytes(name)), &entry).unwrap();
    }
    let bad_dir = root.join(OsStr::from_bytes(b"generated/dev/d\x07"));
    fs::create_dir_all(&bad_dir).unwrap();
    fs::write(bad_dir.join("ns.json"), &committed).unwrap();
    let bad_file = root.join(OsStr::from_bytes(b"generated/dev/app/x\xff.json"));
    fs::write(&bad_file, &committed).unwrap();

    let (code, outcomes, run) = judged(root);
    assert_eq!(code, 1, "{}{}", run.stdout, run.stderr);
    for (subject, says) in [
        ("clusters/dev/bad\\u{1b}[2J.jsonnet", "control characters"),
        ("clusters/dev/c\\xFF.jsonnet", "not valid UTF-8"),
        ("generated/dev/d\\u{7}", "control characters"),
        ("generated/dev/app/x\\xFF.json", "not valid UTF-8"),
    ] {
        let errors = about(&outcomes, subject, "error");
        assert_eq!(errors.len(), 1, "{subject}: {outcomes:#?}");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
    // The other entries are judged as ever: evaluated, their files fresh.
    for subject in [
        "clusters/dev/app.jsonnet",
        "clusters/int/app.jsonnet",
        "generated/dev/app/ns.json",
        "generated/int/app/settings.json",
    ] {
        assert!(
            !about(&outcomes, subject, "passed").is_empty(),
            "{subject}: {outcomes:#?}"
        );
    }
    // The human report names them escaped, and sends no control character to the terminal.
    let human = policyrun(root, &["check"]);
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains("clusters/dev/c\\xFF.jsonnet"),
        "{}",
        human.stdout
    );
    assert!(
        !human.stdout.contains(['\u{1b}', '\u{7}']),
        "{}",
        human.stdout
    );

    // `expand` writes and removes nothing under a badly named path, and says why.
    let expand = policyrun(root, &["expand"]);
    assert_eq!(expand.code, 1, "{}{}", expand.stdout, expand.stderr);
    assert!(
        expand.stdout.contains("generated/dev/app/x\\xFF.json"),
        "{}",
        expand.stdout
    );
    assert_eq!(fs::read(&bad_file).unwrap(), committed);
    assert_eq!(fs::read(bad_dir.join("ns.json")).unwrap(), committed);
    for name in bad_entries {
        assert_eq!(fs::read(root.join(OsStr::from_bytes(name))).unwrap(), entry);
    }
}

/// `std.parseYaml` of text nested in block sequences (`- - - … 1`, no brackets for the YAML
/// scanner to count) aborted the run with a stack overflow at 30,000 levels.
#[test]
fn deep_yaml_text_is_an_error_not_a_crash() {
    let dir = fixture("basic");
    let root = dir.path();
    fs::write(
        root.join("clusters/dev/deep.yaml"),
        format!("{}1\n", "- ".repeat(300_000)),
    )
    .unwrap();
    fs::write(
        root.join("clusters/dev/yaml.jsonnet"),
        "{ x: std.parseYaml(importstr 'deep.yaml') }",
    )
    .unwrap();
    let (code, outcomes, run) = judged(root);
    assert_eq!(code, 1, "{}{}", run.stdout, run.stderr);
    let errors = about(&outcomes, "clusters/dev/yaml.jsonnet", "error");
    assert_eq!(errors.len(), 1, "{outcomes:#?}");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.contains("failed to parse yaml") && message.contains("depth"),
        "{message}"
    );
    assert!(
        !about(&outcomes, "clusters/int/app.jsonnet", "passed").is_empty(),
        "{outcomes:#?}"
    );
}

// Budgets (item 9)

/// Appends `text` to the repository's policyrun.toml.
fn configure(root: &std::path::Path, text: &str) {
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    fs::write(root.join("policyrun.toml"), format!("{config}\n{text}")).unwrap();
}

/// The `error` outcomes of a JSON run whose message names `key`.
fn over_budget<'a>(outcomes: &'a [serde_json::Value], key: &str) -> Vec<&'a serde_json::Value> {
    outcomes
        .iter()
        .filter(|o| o["status"] == "error" && o["message"].as_str().unwrap().contains(key))
        .collect()
}

/// A fold over `std.range(0, 2000000000)` ran until CI killed the gate, with no report.
/// Past its budget the entry is an error naming the budget; the other entries are checked
/// and every report is written. The cache does not keep the failure as a result: a warm
/// run evaluates the entry again and fails again. `expand` writes nothing for the entry.
#[test]
fn an_entry_past_its_evaluation_budget_is_an_error_and_the_run_reports() {
    let dir = fixture("basic");
    let root = dir.path();
    support::write_file(
        root,
        "clusters/dev/runaway.jsonnet",
        "{ cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'runaway', namespace: 'app' },\n\
         data: { n: std.toString(std.foldl(function(sum, x) sum + x, std.range(0, 2000000000), 0)) } } }\n",
    );
    configure(root, "[limits]\nevaluation_seconds = 1\n");
    let cache = tempfile::tempdir().unwrap();
    let cache_dir = cache.path().to_str().unwrap();
    for run_number in ["cold", "warm"] {
        let args = [
            "check",
            "--output",
            "json",
            "--junit",
            "junit.xml",
            "--cache-dir",
            cache_dir,
        ];
        let run = policyrun_within(root, &args, 60);
        assert_eq!(run.code, 1, "{run_number}: {}{}", run.stdout, run.stderr);
        let outcomes = outcome_list(&run);
        let errors = over_budget(&outcomes, "limits.evaluation_seconds");
        assert_eq!(errors.len(), 1, "{run_number}: {outcomes:#?}");
        assert_eq!(errors[0]["subject"], "clusters/dev/runaway.jsonnet");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("evaluation time budget exceeded"),
            "{}",
            errors[0]["message"]
        );
        // The other entries were evaluated and their objects checked.
        let evaluated: Vec<&serde_json::Value> = outcomes
            .iter()
            .filter(|o| o["check"] == "evaluate" && o["status"] == "passed")
            .collect();
        assert_eq!(evaluated.len(), 2, "{run_number}: {outcomes:#?}");
        assert!(
            outcomes
                .iter()
                .any(|o| o["stage"] == "schema" && o["status"] == "passed"),
            "{outcomes:#?}"
        );
        assert!(written_junit(&root.join("junit.xml")).contains("evaluation time budget exceeded"));
        fs::remove_file(root.join("junit.xml")).unwrap();
    }

    let run = policyrun_within(root, &["expand", "--evaluation-seconds", "1"], 60);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("limits.evaluation_seconds")
            || run.stderr.contains("limits.evaluation_seconds"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(!root.join("generated/dev/runaway").exists());
    assert!(root.join("generated/int/app/settings.json").exists());
}

/// The command line's budget replaces the file's; the file may not lift a budget beyond
/// its ceiling.
#[test]
fn budgets_have_ceilings_in_the_file_and_the_command_line_replaces_them() {
    let dir = fixture("basic");
    let root = dir.path();
    configure(root, "[limits]\nevaluation_seconds = 601\n");
    let run = policyrun_within(root, &["check"], 60);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("limits.evaluation_seconds") && run.stderr.contains("1 to 600"),
        "{}",
        run.stderr
    );
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    fs::write(
        root.join("policyrun.toml"),
        config.replace("evaluation_seconds = 601", "evaluation_seconds = 600"),
    )
    .unwrap();
    let run = policyrun_within(root, &["check"], 60);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    for flag in [
        "--evaluation-seconds",
        "--policy-seconds",
        "--style-source-bytes",
    ] {
        let run = policyrun_within(root, &["check", flag, "0"], 60);
        assert_eq!(run.code, 2, "{flag}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
    }
}

/// A comprehension over `numbers.range(1, 100000)` squared ran until CI killed the gate. Past
/// the object's budget its package is an error naming the budget, on either engine; the
/// other objects are judged and every report is written.
#[test]
fn policies_past_an_objects_budget_are_an_error_on_both_engines() {
    let dir = fixture("basic");
    let root = dir.path();
    support::write_file(
        root,
        "policies/runaway.rego",
        "package main\nimport rego.v1\n\nr := numbers.range(1, 100000)\n\n\
         deny contains msg if {\n  input.kind == \"ConfigMap\"\n  n := count([x | some a in r; some b in r; x := a * b])\n  msg := sprintf(\"%d\", [n])\n}\n\n\
         deny_empty_name contains \"no name\" if {\n  input.metadata.name == \"\"\n}\n",
    );
    configure(root, "[limits]\npolicy_seconds = 1\n");
    for engine in ["interpreter", "vm"] {
        let args = [
            "check",
            "--no-cache",
            "--policy-engine",
            engine,
            "--output",
            "json",
            "--junit",
            "junit.xml",
        ];
        let run = policyrun_within(root, &args, 60);
        assert_eq!(run.code, 1, "{engine}: {}{}", run.stdout, run.stderr);
        let outcomes = outcome_list(&run);
        let errors = over_budget(&outcomes, "limits.policy_seconds");
        // The ConfigMap of each cluster; their Namespaces pass.
        assert_eq!(errors.len(), 2, "{engine}: {outcomes:#?}");
        for error in &errors {
            assert_eq!(error["stage"], "policy");
            assert!(
                error["subject"]
                    .as_str()
                    .unwrap()
                    .contains("ConfigMap app/settings"),
                "{error}"
            );
        }
        let namespaces_judged = outcomes
            .iter()
            .filter(|o| {
                o["stage"] == "policy"
                    && o["status"] == "passed"
                    && o["subject"].as_str().unwrap().contains("Namespace app")
            })
            .count();
        assert_eq!(namespaces_judged, 4, "{engine}: {outcomes:#?}");
        assert!(written_junit(&root.join("junit.xml")).contains("policy time budget exceeded"));
        fs::remove_file(root.join("junit.xml")).unwrap();
    }
}

/// A Gatekeeper template that runs away is bounded by the same budget.
#[test]
fn a_constraint_template_past_the_objects_budget_is_an_error() {
    let dir = fixture("policy-gate");
    let root = dir.path();
    support::write_file(
        root,
        "gatekeeper/runaway.yaml",
        "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8srunaway\n\
         spec:\n  crd:\n    spec:\n      names:\n        kind: K8sRunaway\n  targets:\n\
         \x20   - target: admission.k8s.gatekeeper.sh\n      rego: |\n        package k8srunaway\n\n\
         \x20       violation[{\"msg\": msg}] {\n          r := numbers.range(1, 100000)\n\
         \x20         n := count([x | x := r[_] * r[_]])\n          msg := sprintf(\"%v\", [n])\n        }\n\
         ---\napiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRunaway\nmetadata:\n  name: runaway\n\
         spec:\n  match:\n    kinds:\n      - apiGroups: [\"\"]\n        kinds: [\"ConfigMap\"]\n",
    );
    configure(root, "[limits]\npolicy_seconds = 1\n");
    let run = policyrun_within(root, &["check", "--no-cache", "--output", "json"], 90);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let errors = over_budget(&outcomes, "limits.policy_seconds");
    assert!(!errors.is_empty(), "{outcomes:#?}");
    assert!(
        errors.iter().all(|e| e["check"] == "K8sRunaway/runaway"),
        "{errors:#?}"
    );
}

/// A 25 MB entry took 10 GB in the style stage. A source over the style budget is an error
/// naming it, never formatted; the other sources are checked and every report is written.
#[test]
fn a_source_over_the_style_budget_is_an_error_and_is_not_formatted() {
    let dir = fixture("basic");
    let root = dir.path();
    let big = format!("[\n{}]\n", "  1,\n".repeat(200));
    support::write_file(root, "lib/big.libsonnet", &big);
    configure(root, "[limits]\nstyle_source_bytes = 1000\n");
    let run = policyrun_within(
        root,
        &["check", "--output", "json", "--junit", "junit.xml"],
        60,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let errors = over_budget(&outcomes, "limits.style_source_bytes");
    assert_eq!(errors.len(), 1, "{outcomes:#?}");
    assert_eq!(errors[0]["stage"], "style");
    assert_eq!(errors[0]["subject"], "lib/big.libsonnet");
    let formatted = outcomes
        .iter()
        .filter(|o| o["stage"] == "style" && o["status"] == "passed")
        .count();
    assert!(formatted >= 3, "{outcomes:#?}");
    assert!(written_junit(&root.join("junit.xml")).contains("style size budget exceeded"));

    // The command line's budget replaces the file's.
    // The command line's budget replaces the file's: the source is canonical.
    let run = policyrun_within(root, &["check", "--style-source-bytes", "100000"], 60);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// `-j 20000` ran until CI killed it, without a report: more worker threads than policyrun
/// allows is a usage error.
#[test]
fn more_jobs_than_the_cap_is_a_usage_error() {
    let dir = fixture("basic");
    let root = dir.path();
    for command in ["check", "expand"] {
        let run = policyrun_within(root, &[command, "-j", "20000"], 60);
        assert_eq!(run.code, 2, "{command}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("--jobs 20000") && run.stderr.contains("at most 256"),
            "{}",
            run.stderr
        );
    }
    let run = policyrun_within(root, &["check", "-j", "256"], 60);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// `verify` gives each policy unit test an object's budget: a runaway test is an error
/// naming it, and the other tests still run.
#[test]
fn a_policy_test_past_the_budget_is_an_error() {
    let dir = fixture("basic");
    let root = dir.path();
    support::write_file(
        root,
        "policies/main.rego",
        "package main\nimport rego.v1\n\ndeny contains \"no name\" if input.metadata.name == \"\"\n",
    );
    support::write_file(
        root,
        "policies/main_test.rego",
        "package main_test\nimport rego.v1\n\n\
         test_runaway if {\n  r := numbers.range(1, 100000)\n  count([x | x := r[_] * r[_]]) > 0\n}\n\n\
         test_named if {\n  denied := data.main.deny with input as {\"metadata\": {\"name\": \"a\"}}\n  count(denied) == 0\n}\n",
    );
    configure(root, "[limits]\npolicy_seconds = 1\n");
    let run = policyrun_within(root, &["verify", "--output", "json"], 60);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let errors = over_budget(&outcomes, "limits.policy_seconds");
    assert_eq!(errors.len(), 1, "{outcomes:#?}");
    assert_eq!(errors[0]["subject"], "main_test.test_runaway");
    assert!(
        outcomes
            .iter()
            .any(|o| o["subject"] == "main_test.test_named" && o["status"] == "passed"),
        "{outcomes:#?}"
    );
}

//! Who judges a pull request: the gate Jenkins runs on a pull request must be policyrun as
//! `main` has it, never a binary built from the pull request under review, which could change
//! the judge (skip a stage, pass everything) and be judged by it. No Jenkins runs here, so the
//! pipeline's stages are read from the `Jenkinsfile` itself, and the shell script that tells a
//! pull request that changes policyrun from one that does not is run for real.

use std::fs;
use std::path::Path;
use std::process::Command;

fn jenkinsfile() -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Jenkinsfile")).unwrap()
}

/// The Groovy text with comments blanked out (strings kept), so that a word in a comment is
/// never taken for a step.
fn without_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        if rest.starts_with(&['/', '/']) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if rest.starts_with(&['/', '*']) {
            i += 2;
            while i < chars.len() && !chars[i..].starts_with(&['*', '/']) {
                i += 1;
            }
            i += 2;
        } else if let Some(end) = string_end(&chars, i) {
            out.extend(&chars[i..end]);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Where the string literal starting at `i` ends (one past its closing quote), if one starts
/// there: `'…'`, `"…"`, `'''…'''` or `"""…"""`, with backslash escapes.
fn string_end(chars: &[char], i: usize) -> Option<usize> {
    let quote = *chars.get(i)?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let triple = chars[i..].starts_with(&[quote, quote, quote]);
    let mut j = i + if triple { 3 } else { 1 };
    while j < chars.len() {
        if chars[j] == '\\' {
            j += 2;
        } else if triple && chars[j..].starts_with(&[quote, quote, quote]) {
            return Some(j + 3);
        } else if !triple && chars[j] == quote {
            return Some(j + 1);
        } else {
            j += 1;
        }
    }
    Some(chars.len())
}

/// The block (`{ … }`, braces included) that follows the first occurrence of `head`.
fn block_after(code: &str, head: &str) -> Option<String> {
    let start = code.find(head)? + head.len();
    let chars: Vec<char> = code[start..].chars().collect();
    let open = chars.iter().position(|&c| c == '{')?;
    let mut depth = 0usize;
    let mut i = open;
    while i < chars.len() {
        if let Some(end) = string_end(&chars, i) {
            i = end;
            continue;
        }
        match chars[i] {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(chars[open..=i].iter().collect());
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn stage(code: &str, name: &str) -> String {
    block_after(code, &format!("stage('{name}')"))
        .unwrap_or_else(|| panic!("the Jenkinsfile has no stage `{name}`"))
}

/// The names of every stage, in order.
fn stage_names(code: &str) -> Vec<String> {
    code.match_indices("stage('")
        .filter_map(|(at, head)| {
            let rest = &code[at + head.len()..];
            Some(rest[..rest.find('\'')?].to_owned())
        })
        .collect()
}

fn runs_on_pull_requests(stage: &str) -> bool {
    block_after(stage, "when").is_some_and(|when| when.contains("changeRequest()"))
}

#[test]
fn the_pull_request_gate_runs_the_judge_built_from_main() {
    let code = without_comments(&jenkinsfile());

    // The judge: main's sources only, in a workspace emptied first.
    let judge_stages: Vec<String> = stage_names(&code)
        .into_iter()
        .filter(|name| stage(&code, name).contains("stash name: 'judge'"))
        .collect();
    assert_eq!(
        judge_stages.len(),
        1,
        "exactly one stage builds the judge: {judge_stages:?}"
    );
    let judge = stage(&code, &judge_stages[0]);
    assert!(
        judge.contains("skipDefaultCheckout()"),
        "the judge's stage must not check out the pull request:\n{judge}"
    );
    assert!(!judge.contains("checkout scm"), "{judge}");
    let emptied = judge.find("deleteDir()");
    let checked_out = judge.find("checkout(trustedSources())");
    assert!(
        emptied.is_some() && checked_out.is_some() && emptied < checked_out,
        "the judge's workspace is emptied, then main is checked out:\n{judge}"
    );
    let base = block_after(&code, "void gateBase()").expect("gateBase()");
    assert!(
        base.contains("checkout(trustedSources())")
            && base.contains("+HEAD:refs/policyrun/gate-main"),
        "the gate's base is main, as the judge's sources are:\n{base}"
    );
    let sources = block_after(&code, "Map trustedSources()").expect("trustedSources()");
    assert!(
        sources.contains("branches: [[name: 'refs/heads/main']]"),
        "{sources}"
    );
    for chosen_by_the_pull_request in ["CHANGE_TARGET", "CHANGE_BRANCH", "scm.branches", "env."] {
        assert!(
            !sources.contains(chosen_by_the_pull_request),
            "the trusted branch must not come from the build's metadata ({chosen_by_the_pull_request}):\n{sources}"
        );
    }

    // Every gate a pull request is judged by runs the judge, not a binary of its own.
    let mut gates = 0;
    for name in stage_names(&code) {
        let body = stage(&code, &name);
        if !runs_on_pull_requests(&body) || !body.contains("policyrun check") {
            continue;
        }
        let gating = !body.contains("catchError(buildResult: 'SUCCESS'");
        if gating {
            gates += 1;
            assert!(body.contains("unstash 'judge'"), "stage {name}:\n{body}");
            assert!(
                !body.contains("unstash 'policyrun'"),
                "stage {name}:\n{body}"
            );
            assert!(!body.contains("cargo build"), "stage {name}:\n{body}");
            for command in body.match_indices("policyrun check").map(|(at, _)| at) {
                let before = &body[..command];
                assert!(
                    before.ends_with("judge/"),
                    "stage {name} runs a gate that is not the judge: `{}`",
                    &body[command.saturating_sub(30)..command + 15]
                );
            }
            // The single gate says what the change does, against main, and publishes it.
            if name == "Gate" {
                assert!(
                    body.contains("--review-base refs/policyrun/gate-main")
                        && body.contains("--review-out reports/review.md")
                        && body.contains("publishReview()"),
                    "stage {name}:\n{body}"
                );
            }
            // Judged by the gate as main has it, never by rules the pull request edited.
            assert!(
                body.contains("--gate-from refs/policyrun/gate-main")
                    && body.contains("gateBase()"),
                "stage {name}:\n{body}"
            );
        } else {
            // A gate of the pull request's own binary is information: never published as
            // test results (the JUnit step would mark the build unstable).
            assert!(!body.contains("junit testResults"), "stage {name}:\n{body}");
        }
    }
    assert!(gates >= 2, "the single gate and the sharded gate: {gates}");

    // Only main's builds publish the gate cache; a pull request's gate reads a private copy
    // made from main's artifact, after clearing anything the pull request put there.
    for name in stage_names(&code) {
        let body = stage(&code, &name);
        if body.contains("archiveArtifacts artifacts: 'gate-cache") {
            assert!(!runs_on_pull_requests(&body), "stage {name}:\n{body}");
            assert!(body.contains("branch 'main'"), "stage {name}:\n{body}");
        }
        if runs_on_pull_requests(&body) && body.contains("judge/policyrun check") {
            assert!(body.contains("gateCache()"), "stage {name}:\n{body}");
            assert!(!body.contains("archiveArtifacts"), "stage {name}:\n{body}");
        }
    }
    let copy = block_after(&code, "void gateCache()").expect("gateCache()");
    let cleared = copy.find("rm -rf published \"$WORKSPACE@tmp/gate-cache\"");
    let copied = copy.find("copyArtifacts(");
    assert!(
        cleared.is_some() && copied.is_some() && cleared < copied,
        "the copy starts from an empty place:\n{copy}"
    );
    assert!(copy.contains("+ '/main'"), "only main's artifact:\n{copy}");

    // The binary built from the checked-out sources serves main's own builds only.
    for name in stage_names(&code) {
        let body = stage(&code, &name);
        if body.contains("stash name: 'policyrun'") {
            assert!(!runs_on_pull_requests(&body), "stage {name}:\n{body}");
            assert!(body.contains("branch 'main'"), "stage {name}:\n{body}");
        }
    }
}

/// The shell script of `policyrunSources()`, as Groovy hands it to `sh`.
fn sources_script() -> String {
    let code = without_comments(&jenkinsfile());
    let body = block_after(&code, "String policyrunSources()").expect("policyrunSources()");
    let start = body.find("'''").expect("a ''' script") + 3;
    let end = start + body[start..].find("'''").expect("its end");
    // Groovy's escapes in a ''' string: `\\` is one backslash.
    body[start..end].replace("\\\\", "\\")
}

fn digest(tree: &Path) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(sources_script())
        .current_dir(tree)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn the_next_gate_runs_exactly_when_a_pull_request_changes_policyrun() {
    let tree = |dir: &Path| {
        write(dir, "Cargo.toml", "[package]\nname = \"policyrun\"\n");
        write(dir, "Cargo.lock", "version = 4\n");
        write(dir, "src/main.rs", "fn main() {}\n");
        write(dir, "tests/all/gate.rs", "#[test]\nfn t() {}\n");
        write(
            dir,
            "testdata/basic/policyrun.toml",
            "[[cluster]]\nname = \"dev\"\n",
        );
        write(dir, "clusters/dev/app.jsonnet", "{}\n");
        write(dir, "policies/main.rego", "package main\n");
    };
    let main = tempfile::tempdir().unwrap();
    let pull = tempfile::tempdir().unwrap();
    tree(main.path());
    tree(pull.path());
    let judged = digest(main.path());
    assert_eq!(judged.len(), 64 + 3, "sha256sum's `<hex>  -`: {judged}");

    // The repository's content changes; the tool does not.
    write(pull.path(), "clusters/dev/app.jsonnet", "{ a: 1 }\n");
    write(pull.path(), "clusters/dev/new.jsonnet", "{}\n");
    assert_eq!(digest(pull.path()), judged);

    for (path, text) in [
        ("src/main.rs", "fn main() { std::process::exit(0) }\n"),
        ("src/skip.rs", "\n"),
        (
            "Cargo.toml",
            "[package]\nname = \"policyrun\"\nbuild = \"b.rs\"\n",
        ),
        ("tests/all/gate.rs", "\n"),
        ("testdata/basic/policyrun.toml", "\n"),
        ("src/name with spaces.rs", "\n"),
        ("build.rs", "fn main() {}\n"),
        (".cargo/config.toml", "[build]\nrustflags = []\n"),
        // The built-in packs are built from policies/ (issue 27).
        ("policies/main.rego", "package main\nimport rego.v1\n"),
    ] {
        let changed = tempfile::tempdir().unwrap();
        tree(changed.path());
        write(changed.path(), path, text);
        assert_ne!(digest(changed.path()), judged, "a change to {path}");
    }
    let removed = tempfile::tempdir().unwrap();
    tree(removed.path());
    fs::remove_file(removed.path().join("tests/all/gate.rs")).unwrap();
    assert_ne!(digest(removed.path()), judged, "a removed test");
}

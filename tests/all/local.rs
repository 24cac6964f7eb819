//! The local workflow around the binary: the pre-push hook it installs (run for real by
//! git), shell completions and manual pages generated from its command-line definition.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::git;

/// A fixture repository under git with one commit, and a bare remote to push to.
fn repository(fixture: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let repo = support::fixture(fixture);
    let remote = tempfile::tempdir().unwrap();
    git(remote.path(), &["init", "-q", "--bare"]);
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "initial"]);
    git(
        repo.path(),
        &["remote", "add", "origin", remote.path().to_str().unwrap()],
    );
    (repo, remote)
}

fn push(repo: &Path) -> std::process::Output {
    Command::new("git")
        .args(["push", "-q", "origin", "HEAD:main"])
        .current_dir(repo)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn the_installed_hook_lets_a_passing_tree_be_pushed_and_stops_a_failing_one() {
    let (repo, _remote) = repository("basic");
    let run = support::policyrun(repo.path(), &["hook", "install"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let hook = repo.path().join(".git/hooks/pre-push");
    assert!(run.stdout.contains("installed"), "{}", run.stdout);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&hook).unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0o111, "executable");
    }
    // Installing again changes nothing.
    let again = support::policyrun(repo.path(), &["hook", "install"]);
    assert!(again.stdout.contains("up to date"), "{}", again.stdout);

    let pushed = push(repo.path());
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // A source change without the regenerated JSON: the gate fails and so does the push.
    let entry = repo.path().join("clusters/dev/app.jsonnet");
    let text = fs::read_to_string(&entry).unwrap();
    fs::write(&entry, text.replace("ratio: '0.25'", "ratio: '0.5'")).unwrap();
    git(
        repo.path(),
        &["commit", "-q", "-am", "a change not expanded"],
    );
    let refused = push(repo.path());
    assert!(!refused.status.success(), "the push went through");
    let said = String::from_utf8_lossy(&refused.stdout).to_string()
        + &String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("FAILED"), "{said}");

    let removed = support::policyrun(repo.path(), &["hook", "uninstall"]);
    assert_eq!(removed.code, 0, "{}", removed.stderr);
    assert!(!hook.exists());
}

#[test]
fn a_hook_policyrun_did_not_write_is_left_alone() {
    let (repo, _remote) = repository("basic");
    let hook = repo.path().join(".git/hooks/pre-push");
    fs::write(&hook, "#!/bin/sh\nmake lint\n").unwrap();
    for action in ["install", "uninstall"] {
        let run = support::policyrun(repo.path(), &["hook", action]);
        assert_eq!(run.code, 2, "{action}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("not written by policyrun"),
            "{}",
            run.stderr
        );
        assert_eq!(fs::read_to_string(&hook).unwrap(), "#!/bin/sh\nmake lint\n");
    }
}

#[test]
fn outside_a_git_repository_the_hook_is_a_usage_error() {
    let repo = support::fixture("basic");
    let run = support::policyrun(repo.path(), &["hook", "install"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not in a git repository"),
        "{}",
        run.stderr
    );
}

/// Completion is answered by the binary (each shell's script asks `POLICYRUN_COMPLETE=<shell>
/// policyrun -- <words>`): bash, driven as it completes, gets the commands, and for
/// `--cluster` and `--until` the clusters of the nearest policyrun.toml rather than file
/// names (issue 27).
#[test]
fn completion_offers_commands_and_the_configured_clusters() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = support::policyrun(dir.path(), &["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(
            run.stdout.contains("POLICYRUN_COMPLETE"),
            "{shell}: {}",
            run.stdout
        );
    }
    let unknown = support::policyrun(dir.path(), &["completions", "tcsh"]);
    assert_eq!(unknown.code, 2);

    let script = dir.path().join("policyrun.bash");
    let bash_script = support::policyrun(dir.path(), &["completions", "bash"]).stdout;
    fs::write(&script, &bash_script).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_policyrun"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // What bash offers for the words typed so far, the last one being completed.
    let complete = |cwd: &Path, words: &[&str]| -> Vec<String> {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let last = words.len() - 1;
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={last}; COMP_TYPE=9; \
             _clap_complete_policyrun policyrun '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words[last],
            words[last.saturating_sub(1)],
        );
        let output = Command::new("bash")
            .arg("-c")
            .arg(program)
            .current_dir(cwd)
            .env("PATH", &path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let repo = support::fixture("basic");
    let inside = repo.path().join("clusters");
    assert_eq!(
        complete(&inside, &["policyrun", "check", "--cluster", ""]),
        ["dev", "int"]
    );
    assert_eq!(
        complete(&inside, &["policyrun", "apply", "--until", "i"]),
        ["int"]
    );
    assert_eq!(
        complete(&inside, &["policyrun", "test", "--cluster", "d"]),
        ["dev"]
    );
    assert_eq!(complete(&inside, &["policyrun", "ch"]), ["check"]);
    // Outside a repository there is no cluster to offer, and no error.
    assert!(complete(dir.path(), &["policyrun", "check", "--cluster", ""]).is_empty());
}

#[test]
fn manual_pages_are_written_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let page = support::policyrun(dir.path(), &["man"]);
    assert_eq!(page.code, 0, "{}", page.stderr);
    assert!(page.stdout.contains(".TH policyrun 1"), "{}", page.stdout);
    assert!(
        page.stdout.contains("Exit codes"),
        "the long help is the page"
    );

    let out = dir.path().join("man1");
    fs::create_dir(&out).unwrap();
    let run = support::policyrun(dir.path(), &["man", "--out-dir", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for command in ["check", "apply", "diff", "hook"] {
        let text = fs::read_to_string(out.join(format!("policyrun-{command}.1"))).unwrap();
        assert!(
            text.contains(&format!(".TH policyrun-{command} 1")),
            "{text}"
        );
    }
    assert!(
        fs::read_to_string(out.join("policyrun-apply.1"))
            .unwrap()
            .contains("kubeconfig")
    );
    let missing = support::policyrun(dir.path(), &["man", "--out-dir", "nowhere"]);
    assert_eq!(missing.code, 2);
}

/// On a terminal, `policyrun man` shows the page formatted by the system's `man` (and its
/// pager), not roff source (issue 27). `script` gives the run a terminal; `MANPAGER=cat`
/// stands in for the pager.
#[test]
fn the_manual_page_is_formatted_on_a_terminal() {
    let tools = ["man", "script"]
        .iter()
        .map(|tool| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .output()
                .map_err(|e| e.to_string())
                .and_then(|o| {
                    if o.status.success() {
                        Ok(())
                    } else {
                        Err(format!("no {tool}"))
                    }
                })
        })
        .collect::<Result<Vec<()>, String>>()
        .map(|_| ());
    if !support::required_in_ci("man and script", "apt-get install man-db bsdutils", tools) {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_policyrun");
    let output = Command::new("script")
        .args(["-qec", &format!("{binary} man"), "/dev/null"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("General Commands Manual"), "{shown}");
    assert!(!shown.contains(".TH policyrun"), "{shown}");
    // Piped, the roff source as before (for `man -l -` or a file).
    let piped = support::policyrun(Path::new("."), &["man"]);
    assert!(piped.stdout.contains(".TH policyrun 1"));
}

/// Options may come before the command, as git, make and kubectl users write them
/// (`policyrun -C dir check`), and mean what they mean after it; `-o` is `--output`.
#[test]
fn options_before_the_command_mean_what_they_mean_after_it() {
    let repo = support::fixture("basic");
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = repo.path().to_str().unwrap();
    let outcomes = |run: &support::Run| {
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        support::outcome_list(run)
    };
    let after = support::policyrun(
        elsewhere.path(),
        &["check", "-C", dir, "--cluster", "dev", "--output", "json"],
    );
    let before = support::policyrun(
        elsewhere.path(),
        &["-C", dir, "--cluster", "dev", "-o", "json", "check"],
    );
    assert_eq!(outcomes(&before), outcomes(&after));
    assert!(
        outcomes(&before)
            .iter()
            .all(|o| o["entry"].as_str().is_none_or(|e| !e.contains("/int/"))),
        "--cluster dev before the command selects dev only"
    );
    // Before another command than the default one, too.
    let expand = support::policyrun(elsewhere.path(), &["-C", dir, "expand"]);
    assert_eq!(expand.code, 0, "{}{}", expand.stdout, expand.stderr);
    // An option the command does not take is refused, naming it.
    let refused = support::policyrun(elsewhere.path(), &["--no-cache", "verify", "-C", dir]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("--no-cache"), "{}", refused.stderr);
}

/// `test` with no policies anywhere says so, not that a `--policy` nobody gave is missing.
#[test]
fn test_without_any_policies_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("x.json"), "{\"a\": 1}").unwrap();
    let run = support::policyrun(dir.path(), &["test", "x.json"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("no policies: no `policy` directory here"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("--policy:"), "{}", run.stderr);
    let named = support::policyrun(dir.path(), &["test", "-p", "rules", "x.json"]);
    assert_eq!(named.code, 2);
    assert!(
        named.stderr.contains("--policy: rules does not exist"),
        "{}",
        named.stderr
    );
}

/// `policyrun init` on this repository with its `policyrun.toml` and `policies/` removed
/// (issue 27): it finds the three clusters, the generated root and `lib/`, writes a
/// configuration and a baseline of today's findings, and the gate is green; a second `init`
/// never overwrites the file.
#[test]
fn init_adopts_this_repository_and_starts_green_with_a_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for part in ["clusters", "common", "lib", "generated"] {
        support::copy_tree(&support::manifest_dir().join(part), &root.join(part));
    }
    let init = support::policyrun(
        root,
        &[
            "init",
            "--baseline-owner",
            "team-platform",
            "--baseline-expires",
            "2099-12-31",
        ],
    );
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    assert!(
        init.stderr.contains("found 3 cluster(s) (dev, int, web), the generated JSON in generated/ (indent 2), import paths [lib]"),
        "{}",
        init.stderr
    );
    let written = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    assert!(
        written.contains("packs = [\"namespace\", \"security\", \"cluster\"]"),
        "{written}"
    );
    assert!(
        written.contains("waivers = [\"policyrun-baseline.yaml\"]"),
        "{written}"
    );
    let baseline = fs::read_to_string(root.join("policyrun-baseline.yaml")).unwrap();
    assert!(baseline.contains("owner: \"team-platform\""), "{baseline}");
    let gate = support::policyrun(root, &[]);
    assert_eq!(gate.code, 0, "{}{}", gate.stdout, gate.stderr);

    let again = support::policyrun(root, &["init"]);
    assert_eq!(again.code, 2, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stderr.contains("init never overwrites it"),
        "{}",
        again.stderr
    );
    assert_eq!(
        fs::read_to_string(root.join("policyrun.toml")).unwrap(),
        written
    );
}

/// `init` on a repository laid out otherwise (issue 27): cluster directories named by
/// domain at the root, JSON indented by 3 as the C++ tool writes it, and an ext var whose
/// value `init` reads back from the committed JSON; the gate is green without a baseline.
#[test]
fn init_reads_another_layout_and_the_ext_vars_committed_json_shows() {
    let repo = support::fixture("domain-layout");
    let root = repo.path();
    fs::remove_file(root.join("policyrun.toml")).unwrap();
    let init = support::policyrun(root, &["init"]);
    assert_eq!(init.code, 0, "{}{}", init.stdout, init.stderr);
    let written = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    for line in [
        "indent = 3\n",
        "owner = \"platform-team\"\n",
        "name = \"dev.example.com\"\ndir = \"dev.example.com\"\n",
        "name = \"web.example.com\"\ndir = \"web.example.com\"\n",
        "jpath = [\"lib\"]\n",
    ] {
        assert!(written.contains(line), "missing {line:?} in\n{written}");
    }
    assert!(!root.join("policyrun-baseline.yaml").exists());
    let gate = support::policyrun(root, &[]);
    assert_eq!(gate.code, 0, "{}{}", gate.stdout, gate.stderr);
}

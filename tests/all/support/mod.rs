//! Shared helpers for the integration tests: copies of fixture repositories, running the
//! real binary, reading its JSON report, and checking JUnit XML against Jenkins' schema.

pub(crate) mod apiserver;
pub(crate) mod prometheus;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs git in `root` with a fixed identity and no signing, whatever the machine's git
/// configuration says; a failure fails the test with git's words.
pub(crate) fn git(root: &Path, args: &[&str]) -> std::process::Output {
    let output = Command::new("git")
        .args(["-c", "user.name=policyrun tests"])
        .args(["-c", "user.email=tests@policyrun.invalid"])
        .args(["-c", "commit.gpgsign=false"])
        .args(["-c", "init.defaultBranch=main"])
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Writes `text` to `path` below `root`, creating its directories.
pub(crate) fn write_file(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, text).unwrap();
}

/// Replaces `from` by `to` in `path` below `root`, which must contain it.
pub(crate) fn edit_file(root: &Path, path: &str, from: &str, to: &str) {
    let text = fs::read_to_string(root.join(path)).unwrap();
    assert!(text.contains(from), "{path} has no {from:?}");
    write_file(root, path, &text.replace(from, to));
}

/// A private copy of `testdata/<name>`, so tests can change it and run in parallel.
pub(crate) fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&manifest_dir().join("testdata").join(name), dir.path());
    dir
}

/// A private copy of a fixture with an empty cache directory of its own, outside it.
pub(crate) struct CachedRepo {
    pub dir: tempfile::TempDir,
    pub cache: tempfile::TempDir,
}

impl CachedRepo {
    pub(crate) fn new(fixture_name: &str) -> CachedRepo {
        CachedRepo {
            dir: fixture(fixture_name),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `policyrun check --output json` with this repository's cache, and its report.
    pub(crate) fn check(&self, extra: &[&str]) -> (Run, serde_json::Value) {
        let mut args = vec![
            "check",
            "--output",
            "json",
            "--cache-dir",
            self.cache.path().to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let run = policyrun(self.root(), &args);
        let doc = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
        (run, doc)
    }
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            fs::create_dir_all(&target).unwrap();
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The expansion cache the tests' runs share (unless a test names its own): inside the
/// target directory, so that tests never write into the user's `~/.cache`, and shared,
/// so that the suite runs the cache's hits, writes and concurrent use all the time.
pub(crate) fn test_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("policyrun-cache")
}

/// Runs `policyrun` in `dir` with no colour and no CI-dependent behaviour.
pub(crate) fn policyrun(dir: &Path, args: &[&str]) -> Run {
    policyrun_with(dir, args, &[])
}

/// As `policyrun`, with more environment variables.
pub(crate) fn policyrun_with(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_policyrun"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // A Jenkins pull-request build (the Jenkinsfile's "Next gate" runs these tests in
        // one) sets CHANGE_TARGET, which makes `check` review the change: not here.
        .env_remove("CHANGE_TARGET")
        .env("POLICYRUN_CACHE_DIR", test_cache_dir());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    Run {
        code: output.status.code().expect("policyrun ended by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// As `policyrun`, with `input` on standard input.
pub(crate) fn policyrun_stdin(dir: &Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("POLICYRUN_CACHE_DIR", test_cache_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("policyrun ended by a signal"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Runs `policyrun` in `dir` with no colour and the tests' cache, but kills it after
/// `seconds`: a budget that does not hold must fail the test (with what it wrote to standard
/// error so far), not hang the suite.
pub(crate) fn policyrun_within(dir: &Path, args: &[&str], seconds: u64) -> Run {
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("POLICYRUN_CACHE_DIR", test_cache_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs, so that a full pipe cannot stall it.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(seconds) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "policyrun {args:?} did not finish within {seconds} s; stderr so far:\n{}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code: status.code().expect("policyrun ended by a signal"),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// The outcomes of a `policyrun --output json` run, in report order.
pub(crate) fn outcome_list(run: &Run) -> Vec<serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    doc["outcomes"].as_array().unwrap().clone()
}

/// `policyrun --output json` outcomes keyed by subject (each subject's outcomes in order).
pub(crate) fn json_outcomes(run: &Run) -> BTreeMap<String, Vec<serde_json::Value>> {
    let mut map: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for outcome in outcome_list(run) {
        let subject = outcome["subject"].as_str().unwrap().to_owned();
        map.entry(subject).or_default().push(outcome);
    }
    map
}

/// Whether OPA's Python bindings load (the reference in the tests); under CI their absence
/// fails the test.
pub(crate) fn opa_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import opa_bindings"])
        .output();
    let found = match probe {
        Ok(output) if output.status.success() => Ok(()),
        // Python's last line names the missing module; the traceback above it does not help.
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("python3 -c 'import opa_bindings' failed")
            .to_owned()),
        Err(e) => Err(format!("python3: {e}")),
    };
    required_in_ci(
        "OPA's Python bindings",
        "pip install --ignore-requires-python opa-golib-python-bindings==0.4.4",
        found,
    )
}

/// Whether Perl's TAP::Parser (Debian's perl ships it) is there to read TAP reports; under
/// CI its absence fails the test.
pub(crate) fn tap_parser_available() -> bool {
    let probe = Command::new("perl")
        .args(["-MTAP::Parser", "-MJSON::PP", "-e1"])
        .output();
    let found = match probe {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr)
            .lines()
            .next()
            .unwrap_or("perl -MTAP::Parser failed")
            .to_owned()),
        Err(e) => Err(format!("perl: {e}")),
    };
    required_in_ci("Perl's TAP::Parser", "apt-get install perl", found)
}

/// What Perl's TAP::Parser reads in a TAP document (`tests/all/support/tap-summary.pl`): the
/// plan, counts, parse errors, and each test point with its directive and YAML diagnostics.
pub(crate) fn parse_tap(tap: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.tap");
    fs::write(&file, tap).unwrap();
    let output = Command::new("perl")
        .arg(manifest_dir().join("tests/all/support/tap-summary.pl"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "TAP::Parser failed: {}\n{tap}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Checks a JUnit document against `testdata/junit-4.xsd` (Jenkins' JUnit model): every
/// element and attribute is declared, required attributes are present, children allowed.
/// The schema is read, not restated, so the check follows the file.
pub(crate) fn assert_valid_junit(xml: &str) {
    let xsd_text = fs::read_to_string(manifest_dir().join("testdata/junit-4.xsd")).unwrap();
    let xsd = roxmltree::Document::parse(&xsd_text).unwrap();
    struct Rule {
        attributes: BTreeSet<String>,
        required: BTreeSet<String>,
        children: BTreeSet<String>,
    }
    let mut rules: BTreeMap<String, Rule> = BTreeMap::new();
    for element in xsd
        .root_element()
        .children()
        .filter(|n| n.has_tag_name("element"))
    {
        let name = element.attribute("name").unwrap().to_owned();
        let mut rule = Rule {
            attributes: BTreeSet::new(),
            required: BTreeSet::new(),
            children: BTreeSet::new(),
        };
        for node in element.descendants() {
            if node.has_tag_name("attribute") {
                let attr = node.attribute("name").unwrap().to_owned();
                if node.attribute("use") == Some("required") {
                    rule.required.insert(attr.clone());
                }
                rule.attributes.insert(attr);
            } else if node.has_tag_name("element") && node != element {
                rule.children
                    .insert(node.attribute("ref").unwrap().to_owned());
            }
        }
        rules.insert(name, rule);
    }
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"));
    assert_eq!(doc.root_element().tag_name().name(), "testsuites");
    for node in doc.descendants().filter(|n| n.is_element()) {
        let name = node.tag_name().name();
        let rule = rules
            .get(name)
            .unwrap_or_else(|| panic!("element <{name}> is not in junit-4.xsd"));
        for attr in node.attributes() {
            assert!(
                rule.attributes.contains(attr.name()),
                "attribute {} on <{name}> is not in junit-4.xsd",
                attr.name()
            );
        }
        for required in &rule.required {
            assert!(
                node.attribute(required.as_str()).is_some(),
                "<{name}> lacks {required}"
            );
        }
        for child in node.children().filter(|n| n.is_element()) {
            assert!(
                rule.children.contains(child.tag_name().name()),
                "<{}> is not allowed in <{name}>",
                child.tag_name().name()
            );
        }
    }
    xmllint(xml);
}

/// The JUnit file a run wrote: present, and valid against Jenkins' schema.
pub(crate) fn written_junit(path: &Path) -> String {
    let xml = fs::read_to_string(path).unwrap_or_else(|e| panic!("no JUnit file: {e}"));
    assert_valid_junit(&xml);
    xml
}

/// Also validates with xmllint where it is installed (CI installs it and requires it).
fn xmllint(xml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    fs::write(&file, xml).unwrap();
    let result = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(manifest_dir().join("testdata/junit-4.xsd"))
        .arg(&file)
        .output();
    match result {
        Ok(output) => assert!(
            output.status.success(),
            "xmllint rejects the report: {}\n{xml}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("xmllint not installed: checked against junit-4.xsd without it");
        }
        Err(e) => panic!("CI must have xmllint (libxml2-utils): {e}"),
    }
}

/// Whether an optional tool of the tests is usable (`found`). Without it a test skips with
/// a note naming how to install it; under CI (`CI` set) its absence fails the test, so that
/// a check never silently stops running there.
pub(crate) fn required_in_ci(what: &str, install: &str, found: Result<(), String>) -> bool {
    match found {
        Ok(()) => true,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("{what} not available ({why}): skipped; install with `{install}`");
            false
        }
        Err(why) => panic!("CI must have {what} ({why}); install with `{install}`"),
    }
}

/// [`policyrun`] from async tests: the binary runs on a blocking thread, so the test's own
/// servers keep answering it.
pub(crate) async fn policyrun_async(dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        policyrun(&dir, &args)
    })
    .await
    .unwrap()
}

/// Links that lead `lib/v` to `lib/v1`, and the link to point elsewhere to lead it to
/// `lib/v2` instead.
#[cfg(unix)]
pub(crate) struct Chain {
    pub links: &'static [(&'static str, &'static str)],
    /// The link and its new target.
    pub retarget: (&'static str, &'static str),
}

/// `lib/v` a link to `v1`, and `lib/v` a link to `lib/w`, a link to `v1`.
#[cfg(unix)]
pub(crate) const CHAINS: [Chain; 2] = [
    Chain {
        links: &[("lib/v", "v1")],
        retarget: ("lib/v", "v2"),
    },
    Chain {
        links: &[("lib/v", "w"), ("lib/w", "v1")],
        retarget: ("lib/w", "v2"),
    },
];

/// Points the symbolic link `path` below `root` at `target`, as `ln -sfn` does.
#[cfg(unix)]
pub(crate) fn relink(root: &Path, path: &str, target: &str) {
    let link = root.join(path);
    if fs::symlink_metadata(&link).is_ok() {
        fs::remove_file(&link).unwrap();
    }
    fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &link).unwrap();
}

/// The policy stage's outcomes for `documents` (not Kubernetes objects, as `policyrun test`
/// judges them): no cluster, no memory, each pass an outcome of its own.
pub(crate) fn judge_documents(
    stage: &policyrun::policy::PolicyStage,
    documents: &[policyrun::policy::Document],
) -> Vec<policyrun::model::outcome::Outcome> {
    let contexts =
        std::collections::HashMap::from([(None, policyrun::policy::ClusterContext::default())]);
    let input = policyrun::policy::Input {
        targets: &[],
        documents,
        contexts: &contexts,
        namespaced: &|_, _| None,
        share: &policyrun::policy::RunShare::whole(),
        memory: None,
        every_object: true,
    };
    policyrun::model::outcome::every_pass(stage.run(input).outcomes)
}

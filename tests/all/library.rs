//! The tests of our own `lib/kube.libsonnet`: every `lib/tests/*_test.jsonnet` must evaluate
//! (its asserts hold), and every `lib/tests/fail/*.jsonnet` must fail with the message its
//! first line names (`// expect-error: <text>`). Evaluated by policyrun's own evaluator,
//! sandbox included, as the `dev` cluster.

use std::fs;
use std::path::{Path, PathBuf};

use policyrun::cli::config::Config;
use policyrun::jsonnet::expand::evaluate_file;
use policyrun::report::events::TracesOnly;

fn repository() -> Config {
    Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policyrun.toml")).unwrap()
}

fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found: Vec<PathBuf> = fs::read_dir(root.join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    found.sort();
    found
}

#[test]
fn library_tests_pass() {
    let config = repository();
    let tests = files("lib/tests", "_test.jsonnet");
    assert!(
        tests.len() >= 3,
        "expected the library's tests in lib/tests: {tests:?}"
    );
    let failures: Vec<String> = tests
        .iter()
        .filter_map(|test| {
            evaluate_file(&config.repo, 0, test, &traces())
                .err()
                .map(|f| {
                    format!(
                        "{}: {}\n{}",
                        test.display(),
                        f.message,
                        f.detail.unwrap_or_default()
                    )
                })
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn library_asserts_catch_common_mistakes() {
    let config = repository();
    let cases = files("lib/tests/fail", ".jsonnet");
    assert!(
        cases.len() >= 5,
        "expected failing cases in lib/tests/fail: {cases:?}"
    );
    for case in cases {
        let source = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&case)).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("// expect-error:"))
            .unwrap_or_else(|| {
                panic!(
                    "{}: first line must be `// expect-error: <text>`",
                    case.display()
                )
            })
            .trim();
        match evaluate_file(&config.repo, 0, &case, &traces()) {
            Ok(output) => panic!(
                "{} evaluated, but must fail with {expected:?}:\n{output}",
                case.display()
            ),
            Err(failure) => assert!(
                failure.message.contains(expected),
                "{}: expected {expected:?}, got {:?}",
                case.display(),
                failure.message
            ),
        }
    }
}

/// The library's traces reach stderr as the jsonnet tool's would.
fn traces() -> std::sync::Arc<dyn policyrun::model::events::Events> {
    std::sync::Arc::new(TracesOnly)
}

//! Issue 13, through the real binary: a pull request cannot make the gate lose or leak what
//! the repository holds. Each test reproduces an attack that broke an earlier build.

mod support;

use std::fs;

use support::{fixture, policyrun};

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

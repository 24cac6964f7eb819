//! `policyrun fmt`: rewrites jsonnet sources into the canonical form the style stage checks.
//! Each file is replaced atomically with its permissions kept, and a file already in
//! canonical form is never written, so editors, build tools and `make` see no change.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::libjsonnet::Formatter;
use super::{CHECK, Problem, SourceForm, judge, outcome, owner, sources};
use crate::model::atomic::replace_atomically;
use crate::model::outcome::{Outcome, Stage, Status, shown_path};
use crate::model::repository::Repository;

/// What a `fmt` run did: one outcome per file (plus any directory that could not be
/// listed), and the files it rewrote — or, with `check_only`, would rewrite.
#[derive(Debug, Default)]
pub(crate) struct FmtRun {
    pub outcomes: Vec<Outcome>,
    pub changed: Vec<PathBuf>,
    pub unchanged: usize,
    pub check_only: bool,
}

impl FmtRun {
    /// The lines `fmt` prints before its report: what changed and the counts. File names
    /// come from the repository, so they are shown escaped.
    pub(crate) fn listing(&self) -> String {
        let verb = if self.check_only {
            "would format"
        } else {
            "formatted"
        };
        let mut text = String::new();
        for path in &self.changed {
            text.push_str(&format!("{verb} {}\n", shown_path(path)));
        }
        let problems = self
            .outcomes
            .iter()
            .filter(|o| o.status == Status::Error)
            .count();
        text.push_str(&format!(
            "{} {verb}, {} unchanged, {problems} not formatted (errors)\n",
            self.changed.len(),
            self.unchanged,
        ));
        text
    }
}

/// A path `fmt` was given that it will not format: nothing runs (exit 2). `given` is the
/// path as given.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FmtError {
    /// It does not exist or cannot be resolved.
    #[error("{}: {source}", .given.display())]
    Unresolved {
        given: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Outside the repository, after symbolic links are resolved.
    #[error(
        "{}: outside the repository ({}); fmt only rewrites the repository's files",
        .given.display(),
        .root.display()
    )]
    Outside { given: PathBuf, root: PathBuf },
    /// Below the generated root, which `expand` writes.
    #[error(
        "{}: below the generated root `{}`, which `expand` writes; fmt leaves it alone",
        .given.display(),
        .generated.display()
    )]
    Generated { given: PathBuf, generated: PathBuf },
}

/// Formats `paths` (files or directories, relative to `cwd`; every source of the
/// repository when empty). A path that does not exist, lies outside the repository (after
/// symbolic links are resolved) or below the generated root is an `Err`: nothing runs.
/// Directories are searched like the repository is by the style stage; a file named
/// explicitly is formatted whatever its extension.
pub(crate) fn run(
    repo: &Repository,
    settings: &super::Settings,
    cwd: &Path,
    paths: &[PathBuf],
    check_only: bool,
) -> Result<FmtRun, FmtError> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    if paths.is_empty() {
        (files, problems) = sources(repo, &settings.exclude, &repo.root);
    }
    for given in paths {
        let relative = inside_repository(repo, &cwd.join(given), given)?;
        let full = repo.root.join(&relative);
        if full.is_dir() {
            let (found, trouble) = sources(repo, &settings.exclude, &full);
            files.extend(found);
            problems.extend(trouble);
        } else {
            files.push(relative);
        }
    }
    files.sort();
    files.dedup();

    let options = &settings.options;
    let results: Vec<(PathBuf, Result<SourceForm, Problem>, Option<String>)> = files
        .into_par_iter()
        .map_init(
            || Formatter::new(options),
            |formatter, path| {
                let verdict = judge(formatter, &repo.root, &path, settings.max_source_bytes);
                let written = match (&verdict, check_only) {
                    (Ok(SourceForm::NotCanonical { formatted, .. }), false) => Some(
                        replace_atomically(&repo.root.join(&path), formatted.as_bytes())
                            .map_err(|e| format!("cannot write {}: {e}", path.display())),
                    ),
                    _ => None,
                };
                match written {
                    Some(Err(message)) => (path, verdict, Some(message)),
                    _ => (path, verdict, None),
                }
            },
        )
        .collect();

    let mut run = FmtRun {
        check_only,
        ..FmtRun::default()
    };
    for (path, verdict, write_error) in results {
        let cluster = owner(repo, &path).map(|c| c.name.as_str());
        let mut reported = outcome(&path, cluster, &verdict);
        match (&verdict, write_error) {
            (_, Some(message)) => {
                reported.status = Status::Error;
                reported.message = message;
            }
            (Ok(SourceForm::NotCanonical { .. }), None) => {
                run.changed.push(path.clone());
                if !check_only {
                    // Rewritten: it passes now, and the diff says what changed.
                    reported.status = Status::Passed;
                    reported.message = "rewritten in canonical form".to_owned();
                }
            }
            (Ok(SourceForm::Canonical), None) => run.unchanged += 1,
            (Err(_), None) => {}
        }
        run.outcomes.push(reported);
    }
    run.outcomes.extend(
        problems
            .into_iter()
            .map(|problem| problem_outcome(repo, problem)),
    );
    Ok(run)
}

fn problem_outcome(repo: &Repository, problem: Problem) -> Outcome {
    let mut outcome = Outcome::new(Stage::Style, CHECK, Status::Error)
        .subject(shown_path(&problem.location.file))
        .message(problem.message)
        .location(problem.location);
    outcome.cluster = owner(repo, &outcome.location.as_ref().unwrap().file).map(|c| c.name.clone());
    outcome
}

/// `path` relative to the repository root, after every symbolic link is resolved, so a
/// link that leads out (or into the generated tree) is refused, not written through.
fn inside_repository(repo: &Repository, path: &Path, given: &Path) -> Result<PathBuf, FmtError> {
    let real = path.canonicalize().map_err(|source| FmtError::Unresolved {
        given: given.to_path_buf(),
        source,
    })?;
    let relative = real
        .strip_prefix(&repo.root)
        .map_err(|_| FmtError::Outside {
            given: given.to_path_buf(),
            root: repo.root.clone(),
        })?;
    if relative.starts_with(&repo.generated) {
        return Err(FmtError::Generated {
            given: given.to_path_buf(),
            generated: repo.generated.clone(),
        });
    }
    Ok(relative.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn repo() -> (tempfile::TempDir, crate::cli::config::Config) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("clusters/dev/good.jsonnet", "{ a: 1 }\n"),
            ("clusters/dev/ugly.jsonnet", "{a:1}\n"),
            ("lib/bad.libsonnet", "{ a: }\n"),
            ("generated/dev/x.json", "{\"a\": 1}\n"),
        ] {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        let repo = crate::cli::config::Config::parse(
            "[[cluster]]\nname = \"dev\"\n",
            dir.path().canonicalize().unwrap(),
        )
        .unwrap();
        (dir, repo)
    }

    #[test]
    fn rewrites_only_what_is_not_canonical() {
        let (dir, repo) = repo();
        let run = run(&repo.repo, &repo.style, dir.path(), &[], false).unwrap();
        assert_eq!(
            run.changed,
            vec![PathBuf::from("clusters/dev/ugly.jsonnet")]
        );
        assert_eq!(run.unchanged, 1);
        let read = |p: &str| fs::read_to_string(dir.path().join(p)).unwrap();
        assert_eq!(read("clusters/dev/ugly.jsonnet"), "{ a: 1 }\n");
        assert_eq!(read("lib/bad.libsonnet"), "{ a: }\n");
        assert_eq!(read("generated/dev/x.json"), "{\"a\": 1}\n");
        let bad = run
            .outcomes
            .iter()
            .find(|o| o.subject.as_deref() == Some("lib/bad.libsonnet"))
            .unwrap();
        assert_eq!(bad.status, Status::Error);
        assert!(
            run.listing()
                .ends_with("1 formatted, 1 unchanged, 1 not formatted (errors)\n")
        );
    }

    #[test]
    fn check_only_writes_nothing() {
        let (dir, repo) = repo();
        let run = run(
            &repo.repo,
            &repo.style,
            dir.path(),
            &[PathBuf::from("clusters")],
            true,
        )
        .unwrap();
        assert_eq!(
            run.changed,
            vec![PathBuf::from("clusters/dev/ugly.jsonnet")]
        );
        let ugly = run
            .outcomes
            .iter()
            .find(|o| o.status == Status::Failed)
            .unwrap();
        assert!(ugly.detail.as_ref().unwrap().contains("+{ a: 1 }"));
        assert_eq!(
            fs::read_to_string(dir.path().join("clusters/dev/ugly.jsonnet")).unwrap(),
            "{a:1}\n"
        );
        assert!(
            run.listing()
                .starts_with("would format clusters/dev/ugly.jsonnet\n")
        );
    }

    #[test]
    fn paths_outside_or_generated_are_refused() {
        let (dir, repo) = repo();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("x.jsonnet"), "{a:1}\n").unwrap();
        let err = run(
            &repo.repo,
            &repo.style,
            dir.path(),
            &[outside.path().join("x.jsonnet")],
            false,
        )
        .unwrap_err();
        assert!(matches!(err, FmtError::Outside { .. }), "{err}");
        assert!(err.to_string().contains("outside the repository"), "{err}");
        let err = run(
            &repo.repo,
            &repo.style,
            dir.path(),
            &[PathBuf::from("generated/dev/x.json")],
            false,
        )
        .unwrap_err();
        assert!(
            matches!(&err, FmtError::Generated { given, .. } if given == Path::new("generated/dev/x.json")),
            "{err}"
        );
        let err = run(
            &repo.repo,
            &repo.style,
            dir.path(),
            &[PathBuf::from("nope.jsonnet")],
            false,
        )
        .unwrap_err();
        assert!(matches!(err, FmtError::Unresolved { .. }), "{err}");
        assert!(err.to_string().starts_with("nope.jsonnet: "), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                outside.path().join("x.jsonnet"),
                dir.path().join("clusters/dev/link.jsonnet"),
            )
            .unwrap();
            let err = run(
                &repo.repo,
                &repo.style,
                dir.path(),
                &[PathBuf::from("clusters/dev/link.jsonnet")],
                false,
            )
            .unwrap_err();
            assert!(matches!(err, FmtError::Outside { .. }), "{err}");
            assert_eq!(
                fs::read_to_string(outside.path().join("x.jsonnet")).unwrap(),
                "{a:1}\n"
            );
        }
    }
}

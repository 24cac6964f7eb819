//! An import resolver that keeps `import`, `importstr` and `importbin` inside the repository:
//! pre-merge runs evaluate untrusted pull requests on an agent that holds cluster credentials,
//! so a jsonnet file must not be able to read (and print into a report) anything outside it.
//! It also refuses, before jrsonnet parses it, every file that is parsed as jsonnet (an entry,
//! or a file some source `import`s, whatever its extension) and nests deeper than the parser
//! can take: see [`crate::model::nesting`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::io::ErrorKind as IoErrorKind;
use std::path::{Component, Path, PathBuf};

use jrsonnet_evaluator::{AsPathLike, Error, ImportResolver, Result, SourcePath, error::ErrorKind};
use jrsonnet_gcmodule::Acyclic;
use jrsonnet_ir::SourceFile;

use crate::jsonnet::import_kinds::{CodeImports, code_imports};
use crate::jsonnet::imports::{ImportLog, Probe, Way};
use crate::jsonnet::links::{self, End};
use crate::model::nesting::{self, TooDeep};

/// Why an entry file cannot be evaluated: it is not there, or the sandbox refuses it as it
/// would refuse the import (a link out of the repository, too deeply nested, ...).
#[derive(Debug, thiserror::Error)]
pub(crate) enum EntryError {
    #[error("{}: no such file", .0.display())]
    Missing(PathBuf),
    /// The evaluator's message (its error cannot leave the thread that made it).
    #[error("{0}")]
    Refused(String),
}

/// Resolves imports like the jsonnet tool (relative to the importing file, then each import
/// path in order) but only to regular files whose real path lies inside `root`.
#[derive(Acyclic)]
pub(crate) struct SandboxResolver {
    root: PathBuf,
    jpath: Vec<PathBuf>,
    /// Where every resolution and read is recorded, when the caller wants entries' inputs.
    log: Option<ImportLog>,
    /// What decides whether a file may reach jrsonnet's parser.
    parsing: RefCell<Parsing>,
}

/// The resolver's record of the files jrsonnet reads and how it takes them. jrsonnet keeps
/// a file's contents for the whole life of its state: a file read first for `importstr`
/// and `import`ed later is parsed from that copy, without another read. So the nesting of
/// what was read is kept, and checked again whenever an `import` resolves to the file.
#[derive(Default)]
struct Parsing {
    /// Every file read: whether its nesting is within the limit.
    nesting: HashMap<PathBuf, Result<(), TooDeep>>,
    /// Every file read: the paths it imports as code.
    imports: HashMap<PathBuf, CodeImports>,
    /// How each file was last asked for; jrsonnet reads a file right after resolving it,
    /// so this is how the read that follows takes it. A file read without being resolved
    /// here (an entry resolved elsewhere) counts as code.
    last_asked_as_text: HashMap<PathBuf, bool>,
}

impl SandboxResolver {
    /// `root` and every `jpath` entry must be canonical; config loading guarantees it.
    /// Without recording: for tests, and for the C++ evaluation that only locates an error
    /// (jrsonnet's evaluation of the entry recorded what it read).
    pub(crate) fn new(root: PathBuf, jpath: Vec<PathBuf>) -> Self {
        SandboxResolver {
            root,
            jpath,
            log: None,
            parsing: RefCell::default(),
        }
    }

    /// A resolver that records what it resolves and reads into `log`.
    pub(crate) fn recording(root: PathBuf, jpath: Vec<PathBuf>, log: ImportLog) -> Self {
        SandboxResolver {
            root,
            jpath,
            log: Some(log),
            parsing: RefCell::default(),
        }
    }

    /// The source path of an entry file, checked like an import (and, as it is parsed,
    /// like one that imports it as code).
    pub(crate) fn entry(&self, relative: &Path) -> std::result::Result<SourcePath, EntryError> {
        let candidate = lexically_normal(&self.root.join(relative));
        let found = match self.check(&candidate, &relative.display().to_string()) {
            Ok(Some(path)) => path,
            Ok(None) => return Err(EntryError::Missing(relative.to_path_buf())),
            Err(e) => return Err(EntryError::Refused(e.error().to_string())),
        };
        self.asked_for(&found, true)
            .map_err(|e| EntryError::Refused(e.error().to_string()))?;
        if let (Some(log), Some(real)) = (&self.log, found.path()) {
            log.entered(&candidate, real, self.way(&candidate, Some(real)));
        }
        Ok(found)
    }

    /// The symbolic links met on the way to `candidate`, when the walk ends where the
    /// sandbox found the file (`real`) or, for a path where it found nothing, at nothing;
    /// `None` (inputs unknown) when the two disagree. Only a recording resolver walks.
    fn way(&self, candidate: &Path, real: Option<&Path>) -> Way {
        self.log.as_ref()?;
        let walked = links::walk(&self.root, candidate);
        let agrees = match (&walked.end, real) {
            (End::Reached(end), Some(real)) => end == real,
            // A link out of the repository to nothing: the sandbox found nothing too.
            (End::Missing | End::Outside, None) => true,
            _ => false,
        };
        agrees.then_some(walked.links)
    }

    /// Records how `found` is asked for; a file asked for as code that was already read and
    /// is too deep is refused now, since jrsonnet would parse its kept copy.
    fn asked_for(&self, found: &SourcePath, as_code: bool) -> Result<()> {
        let Some(file) = found.downcast_ref::<SourceFile>() else {
            return Ok(());
        };
        let mut parsing = self.parsing.borrow_mut();
        parsing
            .last_asked_as_text
            .insert(file.path().to_path_buf(), !as_code);
        match parsing.nesting.get(file.path()) {
            Some(Err(deep)) if as_code => Err(self.too_deep(file.path(), deep)),
            _ => Ok(()),
        }
    }

    /// Whether `from` imports `requested` as code. A source this resolver did not read (none
    /// should import) counts as importing everything as code.
    fn imports_as_code(&self, from: &SourcePath, requested: &str) -> bool {
        let parsing = self.parsing.borrow();
        from.downcast_ref::<SourceFile>()
            .and_then(|file| parsing.imports.get(file.path()))
            .is_none_or(|imports| imports.includes(requested))
    }

    fn too_deep(&self, path: &Path, deep: &TooDeep) -> Error {
        refused(format!(
            "`{}`:{}:{}: {}",
            self.display(path),
            deep.line,
            deep.column,
            deep.message()
        ))
    }

    fn display<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, str> {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
    }

    /// The importing file's directory first, then each import path in order. Every place
    /// looked at is pushed to `probes`, with the links on its way: one where nothing was
    /// found is an input as much as the file found, since a file created there would be
    /// imported instead.
    fn resolve_checked(
        &self,
        from: &SourcePath,
        requested: &Path,
        shown: &str,
        probes: &mut Vec<Probe>,
    ) -> Result<Option<SourcePath>> {
        if requested.has_root() {
            return Err(refused(format!(
                "import of `{shown}` refused: absolute paths are not allowed, import relative to the file or to an import path"
            )));
        }
        let base = match from.downcast_ref::<SourceFile>() {
            Some(file) => file.path().parent().unwrap_or(&self.root).to_path_buf(),
            None if from.is_default() => self.root.clone(),
            None => {
                return Err(refused(format!(
                    "import of `{shown}` refused: only files can import other files"
                )));
            }
        };
        let candidates = std::iter::once(&base)
            .chain(&self.jpath)
            .map(|dir| lexically_normal(&dir.join(requested)));
        for candidate in candidates {
            match self.check(&candidate, shown)? {
                Some(found) => {
                    if let Some(real) = found.path() {
                        let way = self.way(&candidate, Some(real));
                        probes.push(Probe::Found {
                            candidate,
                            real: real.to_path_buf(),
                            way,
                        });
                    }
                    return Ok(Some(found));
                }
                None => {
                    let way = self.way(&candidate, None);
                    probes.push(Probe::Absent {
                        path: candidate,
                        way,
                    });
                }
            }
        }
        Ok(None)
    }

    /// jrsonnet attaches no stack frame to a failed import, so name the importing file and
    /// the place of the import ourselves: `(file:line:column)` at the end of the message,
    /// the import's first column, read with jsonnet's own lexer.
    fn locate(&self, error: Error, from: &SourcePath, shown: &str) -> Error {
        let Some(file) = from.downcast_ref::<SourceFile>() else {
            return error;
        };
        let position = fs::read_to_string(file.path()).ok().and_then(|code| {
            let (offset, _) = super::import_kinds::import_span(&code, shown)?;
            let before = &code[..offset];
            let line = before.matches('\n').count() + 1;
            // In bytes, as the C++ jsonnet tool counts columns.
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            Some(format!(":{line}:{column}"))
        });
        let ErrorKind::RuntimeError(message) = error.error() else {
            return error;
        };
        refused(format!(
            "{message} ({}{})",
            self.display(file.path()),
            position.unwrap_or_default()
        ))
    }

    /// Why nothing was found for an import: every place looked at, in order, as the C++
    /// jsonnet tool says "no match locally or in the Jsonnet library paths".
    fn not_found(&self, from: &SourcePath, shown: &str) -> Error {
        let beside = match from.downcast_ref::<SourceFile>() {
            Some(file) => file.path().parent().unwrap_or(&self.root).to_path_buf(),
            None => self.root.clone(),
        };
        let shown_dir = |dir: &Path| {
            let shown = self.display(dir);
            if shown.is_empty() {
                "the repository root".to_owned()
            } else {
                format!("{shown}/")
            }
        };
        let paths: Vec<String> = self.jpath.iter().map(|dir| shown_dir(dir)).collect();
        let first = shown_dir(&beside);
        let searched = if paths.is_empty() {
            format!("in {first} (no import paths are configured: `jpath` in policyrun.toml)")
        } else {
            format!("in {first}, nor in the import paths {}", paths.join(", "))
        };
        refused(format!("import of `{shown}`: no such file {searched}"))
    }

    /// `Ok(None)` when nothing is there, so the next search location is tried.
    fn check(&self, candidate: &Path, requested: &str) -> Result<Option<SourcePath>> {
        if !candidate.starts_with(&self.root) {
            return Err(refused(format!(
                "import of `{requested}` refused: it leads outside the repository"
            )));
        }
        let meta = match fs::metadata(candidate) {
            Ok(meta) => meta,
            Err(e) if e.kind() == IoErrorKind::NotFound => {
                // A dangling symlink is "not found" for metadata(); say what it is.
                if fs::symlink_metadata(candidate).is_ok() {
                    return Err(refused(format!(
                        "import of `{requested}` refused: `{}` is a symbolic link to nothing",
                        self.display(candidate)
                    )));
                }
                return Ok(None);
            }
            Err(e) => {
                return Err(refused(format!(
                    "import of `{requested}`: cannot read `{}`: {e}",
                    self.display(candidate)
                )));
            }
        };
        let real = candidate.canonicalize().map_err(|e| {
            refused(format!(
                "import of `{requested}`: cannot resolve `{}`: {e}",
                self.display(candidate)
            ))
        })?;
        if !real.starts_with(&self.root) {
            return Err(refused(format!(
                "import of `{requested}` refused: `{}` is a symbolic link that leads outside the repository",
                self.display(candidate)
            )));
        }
        if meta.is_dir() {
            return Err(refused(format!(
                "import of `{requested}`: `{}` is a directory",
                self.display(candidate)
            )));
        }
        if !meta.is_file() {
            return Err(refused(format!(
                "import of `{requested}` refused: `{}` is not a regular file",
                self.display(candidate)
            )));
        }
        Ok(Some(SourcePath::new(SourceFile::new(real))))
    }
}

impl ImportResolver for SandboxResolver {
    fn resolve_from(&self, from: &SourcePath, path: &dyn AsPathLike) -> Result<SourcePath> {
        let requested_path = path.as_path();
        let requested: &Path = requested_path.as_ref();
        let shown = requested.to_string_lossy();
        let mut probes = Vec::new();
        let found = self
            .resolve_checked(from, requested, &shown, &mut probes)
            .and_then(|found| {
                if let Some(found) = &found {
                    let as_code = requested
                        .to_str()
                        .is_none_or(|path| self.imports_as_code(from, path));
                    self.asked_for(found, as_code)?;
                }
                Ok(found)
            })
            .map_err(|e| self.locate(e, from, &shown))?;
        // Only a successful import is an edge: a failed one fails whatever evaluates it.
        if let (Some(log), Some(_), Some(file)) =
            (&self.log, &found, from.downcast_ref::<SourceFile>())
        {
            log.resolved(file.path(), probes);
        }
        found.ok_or_else(|| self.locate(self.not_found(from, &shown), from, &shown))
    }

    fn load_file_contents(&self, resolved: &SourcePath) -> Result<Vec<u8>> {
        let Some(file) = resolved.downcast_ref::<SourceFile>() else {
            return Err(refused(
                "only files inside the repository can be imported".into(),
            ));
        };
        // resolve_from only hands out canonical paths inside the root; check again anyway,
        // since this is the one place that reads.
        if !file.path().starts_with(&self.root) {
            return Err(refused(format!(
                "reading `{}` refused: it is outside the repository",
                file.path().display()
            )));
        }
        let bytes = fs::read(file.path())
            .map_err(|e| refused(format!("cannot read `{}`: {e}", self.display(file.path()))))?;
        // Refused before jrsonnet parses it: nested deep enough, it would overflow the
        // parser's stack and abort the whole run. What is read for `importstr` or
        // `importbin` is not parsed (long base64 or prose can look deep to the estimate).
        let nesting = nesting::check(&bytes);
        let imports = std::str::from_utf8(&bytes)
            .map_or(CodeImports::Paths(Default::default()), code_imports);
        let as_code = {
            let mut parsing = self.parsing.borrow_mut();
            parsing.imports.insert(file.path().to_path_buf(), imports);
            parsing
                .nesting
                .insert(file.path().to_path_buf(), nesting.clone());
            parsing.last_asked_as_text.get(file.path()) != Some(&true)
        };
        if as_code && let Err(deep) = nesting {
            return Err(self.too_deep(file.path(), &deep));
        }
        if let Some(log) = &self.log {
            log.read(file.path(), &bytes);
        }
        Ok(bytes)
    }
}

fn refused(message: String) -> Error {
    Error::new(ErrorKind::RuntimeError(message.into()))
}

/// Removes `.` and folds `..` without touching the file system, so that an escape is seen
/// before anything outside the root is even looked at.
fn lexically_normal(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::expansion::Seen;

    #[test]
    fn lexical_normalisation() {
        assert_eq!(
            lexically_normal(Path::new("/r/clusters/dev/../../lib/./k.libsonnet")),
            PathBuf::from("/r/lib/k.libsonnet")
        );
        assert_eq!(
            lexically_normal(Path::new("/r/../../etc")),
            PathBuf::from("/etc")
        );
    }

    fn resolver() -> (tempfile::TempDir, SandboxResolver) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("lib")).unwrap();
        fs::create_dir_all(root.join("clusters/dev")).unwrap();
        fs::write(root.join("lib/k.libsonnet"), "{}").unwrap();
        fs::write(root.join("clusters/dev/a.jsonnet"), "{}").unwrap();
        let resolver = SandboxResolver::new(root.clone(), vec![root.join("lib")]);
        (dir, resolver)
    }

    fn from_entry(r: &SandboxResolver) -> SourcePath {
        r.entry(Path::new("clusters/dev/a.jsonnet")).unwrap()
    }

    #[test]
    fn resolves_relative_then_jpath() {
        let (_dir, r) = resolver();
        let from = from_entry(&r);
        let via_jpath = r.resolve_from(&from, &"k.libsonnet").unwrap();
        assert!(via_jpath.path().unwrap().ends_with("lib/k.libsonnet"));
        let relative = r.resolve_from(&from, &"../../lib/k.libsonnet").unwrap();
        assert_eq!(relative.path(), via_jpath.path());
        assert!(r.load_file_contents(&relative).is_ok());
    }

    #[test]
    fn a_missing_entry_is_missing() {
        let (_dir, r) = resolver();
        let err = r.entry(Path::new("clusters/dev/gone.jsonnet")).unwrap_err();
        assert!(
            matches!(&err, EntryError::Missing(path) if path == Path::new("clusters/dev/gone.jsonnet")),
            "{err}"
        );
        assert_eq!(err.to_string(), "clusters/dev/gone.jsonnet: no such file");
    }

    #[test]
    fn refuses_escapes() {
        let (_dir, r) = resolver();
        let from = from_entry(&r);
        let err = r.resolve_from(&from, &"/etc/passwd").unwrap_err();
        assert!(err.to_string().contains("absolute"), "{err}");
        let err = r.resolve_from(&from, &"../../../etc/passwd").unwrap_err();
        assert!(err.to_string().contains("outside the repository"), "{err}");
        assert!(
            err.error()
                .to_string()
                .ends_with("(clusters/dev/a.jsonnet)"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_leading_out() {
        let (dir, r) = resolver();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "token").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            dir.path().join("clusters/dev/secret.txt"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("lib/vendor")).unwrap();
        let from = from_entry(&r);
        for import in ["secret.txt", "vendor/secret"] {
            let err = r.resolve_from(&from, &import).unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{import}: {err}");
        }
        let err = r.entry(Path::new("clusters/dev/secret.txt")).unwrap_err();
        assert!(
            matches!(&err, EntryError::Refused(why) if why.contains("symbolic link")),
            "{err}"
        );
    }

    #[test]
    fn records_where_it_looked_and_what_it_read() {
        let (dir, _) = resolver();
        let root = dir.path().canonicalize().unwrap();
        let log = ImportLog::new();
        let r = SandboxResolver::recording(root.clone(), vec![root.join("lib")], log.clone());
        let from = from_entry(&r);
        let found = r.resolve_from(&from, &"k.libsonnet").unwrap();
        r.load_file_contents(&found).unwrap();
        r.load_file_contents(&from).unwrap();
        let entry = root.join("clusters/dev/a.jsonnet");
        let inputs = log.inputs(&root, &entry).unwrap();
        let listed: Vec<(String, bool)> = inputs
            .iter()
            .map(|i| (i.path.display().to_string(), i.seen != Seen::Absent))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("clusters/dev/a.jsonnet".to_owned(), true),
                ("clusters/dev/k.libsonnet".to_owned(), false),
                ("lib/k.libsonnet".to_owned(), true),
            ]
        );
        // A failed import adds nothing.
        assert!(r.resolve_from(&from, &"nope.libsonnet").is_err());
        assert_eq!(log.inputs(&root, &entry).unwrap(), inputs);
    }

    /// Every link on the way to an entry, to what its imports found and to where they
    /// found nothing (relative to the entry's real directory: `stacks/`) is recorded with
    /// its target, links that links lead through included.
    #[cfg(unix)]
    #[test]
    fn records_the_links_on_the_way() {
        use std::os::unix::fs::symlink;
        let (dir, _) = resolver();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("lib/v1")).unwrap();
        fs::create_dir_all(root.join("stacks")).unwrap();
        fs::write(root.join("lib/v1/x.libsonnet"), "{}").unwrap();
        fs::write(root.join("stacks/a.jsonnet"), "{}").unwrap();
        symlink("w", root.join("lib/v")).unwrap();
        symlink("v1", root.join("lib/w")).unwrap();
        symlink("gone", root.join("stacks/v")).unwrap();
        fs::remove_file(root.join("clusters/dev/a.jsonnet")).unwrap();
        symlink(
            "../../stacks/a.jsonnet",
            root.join("clusters/dev/a.jsonnet"),
        )
        .unwrap();
        let log = ImportLog::new();
        let r = SandboxResolver::recording(root.clone(), vec![root.join("lib")], log.clone());
        let from = from_entry(&r);
        r.load_file_contents(&from).unwrap();
        let found = r.resolve_from(&from, &"v/x.libsonnet").unwrap();
        r.load_file_contents(&found).unwrap();
        let inputs = log
            .inputs(&root, &root.join("clusters/dev/a.jsonnet"))
            .unwrap();
        let listed: Vec<(String, Seen)> = inputs
            .iter()
            .map(|i| {
                let seen = match &i.seen {
                    Seen::File(_) => Seen::File(crate::model::digest::Digest::of(b"{}")),
                    other => other.clone(),
                };
                (i.path.display().to_string(), seen)
            })
            .collect();
        let file = Seen::File(crate::model::digest::Digest::of(b"{}"));
        let link = |target: &str| Seen::Link(PathBuf::from(target));
        assert_eq!(
            listed,
            vec![
                ("clusters/dev/a.jsonnet".to_owned(), file.clone()),
                (
                    "clusters/dev/a.jsonnet".to_owned(),
                    link("../../stacks/a.jsonnet")
                ),
                ("lib/v".to_owned(), link("w")),
                ("lib/v/x.libsonnet".to_owned(), file.clone()),
                ("lib/v1/x.libsonnet".to_owned(), file.clone()),
                ("lib/w".to_owned(), link("v1")),
                ("stacks/a.jsonnet".to_owned(), file.clone()),
                ("stacks/v".to_owned(), link("gone")),
                ("stacks/v/x.libsonnet".to_owned(), Seen::Absent),
            ]
        );
    }

    /// The file as jrsonnet reads it: resolved from `from`, then loaded.
    fn read(r: &SandboxResolver, from: &SourcePath, path: &str) -> Result<Vec<u8>> {
        r.resolve_from(from, &path)
            .and_then(|found| r.load_file_contents(&found))
    }

    #[test]
    fn deep_files_are_refused_when_parsed_whatever_their_extension() {
        let (dir, r) = resolver();
        let deep = "[".repeat(nesting::LIMIT + 1);
        fs::write(dir.path().join("clusters/dev/deep.data"), &deep).unwrap();
        fs::write(dir.path().join("clusters/dev/deep.jsonnet"), &deep).unwrap();
        fs::write(
            dir.path().join("clusters/dev/a.jsonnet"),
            "{ t: importstr 'deep.data', b: importbin 'deep.jsonnet', c: import 'deep.data' }",
        )
        .unwrap();
        fs::write(
            dir.path().join("clusters/dev/text.jsonnet"),
            "{ t: importstr 'deep.data' }",
        )
        .unwrap();
        let a = from_entry(&r);
        r.load_file_contents(&a).unwrap();
        let err = read(&r, &a, "deep.data").unwrap_err();
        assert!(
            err.to_string()
                .contains("`clusters/dev/deep.data`:1:10001: nested more than"),
            "{err}"
        );

        // Read as text, by a file that never imports it as code: no check.
        let text = r.entry(Path::new("clusters/dev/text.jsonnet")).unwrap();
        r.load_file_contents(&text).unwrap();
        assert_eq!(read(&r, &text, "deep.data").unwrap(), deep.as_bytes());
        // Kept by jrsonnet from that read, then imported as code: refused when resolved.
        let err = r.resolve_from(&a, &"deep.data").unwrap_err();
        assert!(err.to_string().contains("nested more than"), "{err}");
        assert!(
            err.to_string().contains("(clusters/dev/a.jsonnet:1:"),
            "{err}"
        );
        // The same goes for an entry that was read as text before.
        let entry = r.entry(Path::new("clusters/dev/deep.jsonnet")).unwrap();
        r.asked_for(&entry, false).unwrap();
        r.load_file_contents(&entry).unwrap();
        let err = r.entry(Path::new("clusters/dev/deep.jsonnet")).unwrap_err();
        assert!(
            matches!(&err, EntryError::Refused(why) if why.contains("nested more than")),
            "{err}"
        );
        // A file read without being resolved here is parsed: an entry.
        let root = dir.path().canonicalize().unwrap();
        let fresh = SandboxResolver::new(root.clone(), Vec::new());
        let entry = SourcePath::new(SourceFile::new(root.join("clusters/dev/deep.jsonnet")));
        assert!(fresh.load_file_contents(&entry).is_err());
    }

    #[test]
    fn a_missing_file_is_named_with_every_place_looked_at_and_the_import_located() {
        let (dir, r) = resolver();
        let root = dir.path().canonicalize().unwrap();
        // Located at the import itself, not at an earlier mention of the path in a comment.
        fs::write(
            root.join("clusters/dev/a.jsonnet"),
            "// uses 'nope.libsonnet'\nlocal s = 'é';  local k = (import 'nope.libsonnet');\nk\n",
        )
        .unwrap();
        let from = from_entry(&r);
        let err = r.resolve_from(&from, &"nope.libsonnet").unwrap_err();
        assert_eq!(
            err.error().to_string(),
            "runtime error: import of `nope.libsonnet`: no such file in clusters/dev/, nor in the import paths lib/ (clusters/dev/a.jsonnet:2:29)"
        );
    }
}

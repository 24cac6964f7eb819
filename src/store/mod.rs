//! The private, checksummed cache directory outside the repository, in which stages keep
//! what they remember between runs (expansion records, policy verdicts, canonical sources):
//! one place decides where it lives, that only its owner can write it, how a repository's
//! part of it is named, and how what is read back is checked — so no stage can trust a
//! forged or damaged file by forgetting one of those steps.
//!
//! Where it lives is decided by whoever runs policyrun — `--cache-dir`, `POLICYRUN_CACHE_DIR`,
//! `$XDG_CACHE_HOME/policyrun`, `~/.cache/policyrun` — never by `policyrun.toml`: that file
//! comes with the pull request under review, and must not choose where the agent writes.
//! A directory inside the repository is refused for the same reason (a pull request could
//! commit forged files there).
//!
//! Nothing read from the store is trusted before it is checked: a blob or record carries its
//! magic word, the format, and a SHA-256 of its body; one that does not hold is ignored,
//! never an error.

mod buckets;
mod prune;

pub use buckets::Buckets;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::model::atomic::{self, Durability};
use crate::model::digest::Digest;

/// Changes whenever the layout of what the store holds changes, or what an earlier release
/// stored must never be recalled again; files of another format are ignored (and its
/// directory name changes with it). 3: records list the symbolic links their imports went
/// through, keys name the budgets, and verdicts shared by an analysis that missed helpers in
/// other files of a package are forgotten (issue 23).
pub const FORMAT: u32 = 3;

/// The evaluator whose output the tool's records hold: another jrsonnet may evaluate or
/// print values differently. Checked against Cargo.lock by a unit test, so it cannot go
/// stale.
pub const ENGINE: &str = "jrsonnet-evaluator 0.5.0-pre98, jrsonnet-stdlib 0.5.0-pre98";

/// The environment variable naming the cache directory (`--cache-dir` overrides it).
pub const DIR_VARIABLE: &str = "POLICYRUN_CACHE_DIR";

/// Why a cache directory cannot be used, or a blob written to it. The caller decides whether
/// that stops the run (see [`for_run`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A `--cache-name` that is not one plain directory name (`name` as given).
    #[error(
        "`{}` must be 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`",
        crate::model::text::visible(.name)
    )]
    BadName { name: String },
    /// The directory (as given, or one policyrun owns in it) cannot be resolved or inspected.
    #[error("cache directory {}: {source}", .dir.display())]
    Unreachable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The directory is inside the repository, where a pull request could commit records.
    #[error(
        "cache directory {} is inside the repository; it must live outside it (a pull request could commit records there)",
        .dir.display()
    )]
    InsideRepository { dir: PathBuf },
    #[error("cannot create the cache directory {}: {source}", .dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory policyrun owns in the cache is not this user's alone.
    #[error(
        "cache directory {} is not a directory owned by this user and writable by it alone; not using it",
        .dir.display()
    )]
    NotPrivate { dir: PathBuf },
    /// A blob or bucket cannot be written (`dir` is the repository's directory).
    #[error("cannot write to the cache in {}: {source}", .dir.display())]
    Write {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A cache the command line asked for that cannot be used: the run stops (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("--cache-name: {0}")]
    CacheName(#[source] StoreError),
    #[error("--cache-dir: {0}")]
    CacheDir(#[source] StoreError),
}

/// Why a record read back is not one `seal` made: it is ignored, never trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("truncated before its format line")]
    NoFormatLine,
    /// Another magic word or format.
    #[error("not a record of this format")]
    OtherFormat,
    #[error("truncated before its checksum")]
    NoChecksum,
    #[error("checksum mismatch (truncated or garbled)")]
    ChecksumMismatch,
}

/// The default cache directory: `$POLICYRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/policyrun`,
/// else `~/.cache/policyrun`; `None` when none of these can be told.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute(DIR_VARIABLE)
        .or_else(|| absolute("XDG_CACHE_HOME").map(|p| p.join("policyrun")))
        .or_else(|| absolute("HOME").map(|p| p.join(".cache").join("policyrun")))
}

/// The store a run uses for the repository at `root`: none with `--no-cache`; `explicit`
/// (`--cache-dir`) must be usable, or the run stops (exit 2: the caller asked for it); the
/// default directory is only used when it is usable, otherwise the run goes on without a
/// cache and the note says why. `name` (`--cache-name`) names the repository's directory
/// instead of its path, so that checkouts in different places share it.
pub fn for_run(
    root: &Path,
    explicit: Option<&Path>,
    name: Option<&str>,
    disabled: bool,
) -> Result<(Option<Store>, Option<String>), FlagError> {
    if disabled {
        return Ok((None, None));
    }
    if let Some(name) = name {
        check_name(name).map_err(FlagError::CacheName)?;
    }
    let open = |dir: &Path| Store::open_with(dir, root, tool_version(), name);
    if let Some(dir) = explicit {
        return open(dir)
            .map(|store| (Some(store), None))
            .map_err(FlagError::CacheDir);
    }
    let Some(dir) = default_dir() else {
        return Ok((
            None,
            Some(format!(
                "cache: no cache directory (set {DIR_VARIABLE}, XDG_CACHE_HOME or HOME); every entry is evaluated"
            )),
        ));
    };
    Ok(match open(&dir) {
        Ok(store) => (Some(store), None),
        Err(problem) => (
            None,
            Some(format!("cache: {problem}; every entry is evaluated")),
        ),
    })
}

/// What identifies the tool that wrote a file: its version, the evaluator's, and the build
/// (a digest of the sources, the compiler and the profile, made by `build.rs`). A
/// development build changes evaluation without changing its version number, so each
/// build of other sources gets records of its own; builds of the same sources with the same
/// toolchain share them, wherever and whenever they were built (docs/jenkins.md, "The trusted gate cache").
pub fn tool_version() -> String {
    format!(
        "policyrun {} (build {}); {ENGINE}",
        env!("CARGO_PKG_VERSION"),
        env!("POLICYRUN_BUILD_ID")
    )
}

/// One repository's directory in a cache directory, opened for one tool version.
#[derive(Debug, Clone)]
pub struct Store {
    /// `<cache dir>/expansions-v<FORMAT>/<repository>`.
    dir: PathBuf,
    tool: String,
}

impl Store {
    /// The store of the repository at `root` below `dir`, created when missing. An `Err`
    /// says why it cannot be used; the caller decides whether that stops the run.
    pub fn open(dir: &Path, root: &Path) -> Result<Store, StoreError> {
        Store::open_as(dir, root, tool_version())
    }

    /// As `open`, for the given tool version (tests use another).
    pub fn open_as(dir: &Path, root: &Path, tool: String) -> Result<Store, StoreError> {
        Store::open_with(dir, root, tool, None)
    }

    /// As `open_as`, the repository's directory named `name` when given (see [`for_run`]),
    /// else after the repository's place. `root` is the repository's real path.
    pub fn open_with(
        dir: &Path,
        root: &Path,
        tool: String,
        name: Option<&str>,
    ) -> Result<Store, StoreError> {
        let given = dir;
        let unreachable = |source| StoreError::Unreachable {
            dir: given.to_path_buf(),
            source,
        };
        let inside = || StoreError::InsideRepository {
            dir: given.to_path_buf(),
        };
        let dir = std::path::absolute(dir).map_err(unreachable)?;
        // Decided before anything is created: a refused directory must not appear.
        if real_path(&dir).starts_with(root) {
            return Err(inside());
        }
        create_private_dir(&dir)?;
        let real = dir.canonicalize().map_err(unreachable)?;
        if real.starts_with(root) {
            return Err(inside());
        }
        let format_dir = real.join(format!("expansions-v{FORMAT}"));
        let repository = format_dir.join(match name {
            Some(name) => format!("named-{name}"),
            None => repository_name(root),
        });
        for dir in [&format_dir, &repository] {
            create_private_dir(dir)?;
            check_private(dir)?;
        }
        // Best effort: a store that cannot note its use or tidy up still works.
        let now = SystemTime::now();
        let _ = prune::touch(&repository.join(prune::LAST_USED), now);
        prune::prune_unused(&format_dir, &repository, now);
        prune::prune_other_formats(&real, FORMAT, now);
        Ok(Store {
            dir: repository,
            tool,
        })
    }

    /// This repository's directory: deleting it clears everything remembered for it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tool version the store was opened for: records of another are not ours.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// The body of a named blob (`name`, starting with the line `magic FORMAT salt-digest
    /// body-digest`) when it was written for `salt` and is whole: a missing, damaged or
    /// foreign file is `None`, never trusted (its checksum is checked).
    pub fn read_memory(&self, name: &str, magic: &str, salt: &str) -> Option<Vec<u8>> {
        let bytes = fs::read(self.dir.join(name)).ok()?;
        let (header, body) = split_line(&bytes)?;
        (header == blob_header(magic, salt, body).as_bytes()).then(|| body.to_vec())
    }

    /// Replaces a named blob with `body`, for `salt`, atomically.
    pub fn write_blob(
        &self,
        name: &str,
        magic: &str,
        salt: &str,
        body: &[u8],
    ) -> Result<(), StoreError> {
        let mut bytes = blob_header(magic, salt, body).into_bytes();
        bytes.push(b'\n');
        bytes.extend_from_slice(body);
        atomic::write_with(&self.dir.join(name), &bytes, Durability::Unsynced)
            .map_err(|e| self.write_problem(e))
    }
    fn write_problem(&self, source: std::io::Error) -> StoreError {
        StoreError::Write {
            dir: self.dir.clone(),
            source,
        }
    }
}

fn blob_header(magic: &str, salt: &str, body: &[u8]) -> String {
    format!(
        "{magic} {FORMAT} {} {}",
        Digest::of(salt.as_bytes()).to_hex(),
        Digest::of(body).to_hex()
    )
}

/// A record sealed for a bucket: the line `magic FORMAT`, the hex SHA-256 of `body`, and
/// `body`.
pub fn seal(magic: &str, body: &[u8]) -> Vec<u8> {
    let mut record = format!("{magic} {FORMAT}\n{}\n", Digest::of(body).to_hex()).into_bytes();
    record.extend_from_slice(body);
    record
}

/// The body of a record `seal` made with `magic`, or why it is not one (truncated,
/// garbled, of another format).
pub fn unseal<'b>(magic: &str, record: &'b [u8]) -> Result<&'b [u8], RecordError> {
    let (first, rest) = split_line(record).ok_or(RecordError::NoFormatLine)?;
    if first != format!("{magic} {FORMAT}").as_bytes() {
        return Err(RecordError::OtherFormat);
    }
    let (checksum, body) = split_line(rest).ok_or(RecordError::NoChecksum)?;
    if checksum != Digest::of(body).to_hex().as_bytes() {
        return Err(RecordError::ChecksumMismatch);
    }
    Ok(body)
}

/// The first line of `bytes` (without its newline) and the rest; `None` without a newline.
pub(crate) fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// `<last component of the root>-<16 hex digits of its path's digest>`: unique per
/// checkout, and readable for whoever wants to delete one repository's records.
fn repository_name(root: &Path) -> String {
    let name: String = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let digest = Digest::of(root.as_os_str().as_encoded_bytes()).to_hex();
    format!("{}-{}", name.trim_start_matches('.'), &digest[..16])
}

/// A `--cache-name`: one plain directory name, readable in a listing.
fn check_name(name: &str) -> Result<(), StoreError> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 64 || !plain || name.starts_with('.') {
        return Err(StoreError::BadName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `path` (absolute) with the symbolic links of its existing part resolved, the rest as
/// given: where a directory would be created.
fn real_path(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => break,
        }
    }
    let mut real = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        real.push(name);
    }
    real
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| StoreError::Create {
        dir: dir.to_path_buf(),
        source,
    })
}

/// The directories policyrun owns in the cache must be this user's alone: files written
/// there by someone else would be believed.
fn check_private(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(dir).map_err(|source| StoreError::Unreachable {
            dir: dir.to_path_buf(),
            source,
        })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(StoreError::NotPrivate {
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store of its own for a repository of its own (both directories live as long as
    /// the returned guards); the memories' tests use it too.
    pub(crate) fn opened() -> (tempfile::TempDir, tempfile::TempDir, Store) {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        let store = Store::open_as(cache.path(), &root, "t".into()).unwrap();
        (repo, cache, store)
    }

    #[test]
    fn a_blob_is_read_back_only_whole_and_for_its_salt_and_magic() {
        let (_repo, _cache, store) = opened();
        store
            .write_blob("blob", "magic-word", "salt 1", b"line 1\nline 2\n")
            .unwrap();
        assert_eq!(
            store.read_memory("blob", "magic-word", "salt 1").as_deref(),
            Some(&b"line 1\nline 2\n"[..])
        );
        assert_eq!(store.read_memory("blob", "magic-word", "salt 2"), None);
        assert_eq!(store.read_memory("blob", "other-magic", "salt 1"), None);
        assert_eq!(store.read_memory("missing", "magic-word", "salt 1"), None);
        // One changed byte in the body, or a cut one, and the blob is refused.
        let path = store.dir().join("blob");
        let bytes = fs::read(&path).unwrap();
        let mut garbled = bytes.clone();
        *garbled.last_mut().unwrap() = b'x';
        fs::write(&path, &garbled).unwrap();
        assert_eq!(store.read_memory("blob", "magic-word", "salt 1"), None);
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(store.read_memory("blob", "magic-word", "salt 1"), None);
    }

    #[test]
    fn a_sealed_record_is_unsealed_only_whole_and_with_its_magic() {
        let sealed = seal("kind-a", b"body\nmore");
        assert_eq!(unseal("kind-a", &sealed), Ok(&b"body\nmore"[..]));
        assert_eq!(unseal("kind-b", &sealed), Err(RecordError::OtherFormat));
        assert_eq!(
            unseal("kind-a", &sealed[..sealed.len() - 1]),
            Err(RecordError::ChecksumMismatch)
        );
        assert_eq!(
            unseal("kind-a", b"kind-a 2"),
            Err(RecordError::NoFormatLine)
        );
        assert_eq!(
            unseal("kind-a", format!("kind-a {FORMAT}\nabc").as_bytes()),
            Err(RecordError::NoChecksum)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            unseal("kind-a", &flipped),
            Err(RecordError::ChecksumMismatch)
        );
    }

    #[test]
    fn the_directory_is_private_and_outside_the_repository() {
        let (repo, cache, store) = opened();
        assert!(
            store
                .dir()
                .starts_with(cache.path().canonicalize().unwrap())
        );
        assert!(store.dir().parent().unwrap().ends_with("expansions-v3"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(store.dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        let root = repo.path().canonicalize().unwrap();
        let inside = root.join("cache");
        assert!(matches!(
            Store::open_as(&inside, &root, "t".into()),
            Err(StoreError::InsideRepository { dir }) if dir == inside
        ));
        assert!(!inside.exists(), "a refused directory is not created");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A directory policyrun owns in the cache that others may write.
            let shared = cache.path().join("shared");
            let format_dir = shared.join(format!("expansions-v{FORMAT}"));
            fs::create_dir_all(&format_dir).unwrap();
            fs::set_permissions(&format_dir, fs::Permissions::from_mode(0o777)).unwrap();
            let err = Store::open_as(&shared, &root, "t".into()).unwrap_err();
            assert!(matches!(err, StoreError::NotPrivate { .. }), "{err}");
        }
        let named = Store::open_with(cache.path(), &root, "t".into(), Some("gate")).unwrap();
        assert!(named.dir().ends_with("expansions-v3/named-gate"));
    }

    #[test]
    fn engine_matches_the_locked_evaluator() {
        let lock = include_str!("../../Cargo.lock");
        for name in ["jrsonnet-evaluator", "jrsonnet-stdlib"] {
            let version = lock
                .split("[[package]]")
                .find(|p| p.contains(&format!("name = \"{name}\"\n")))
                .and_then(|p| p.split("version = \"").nth(1))
                .and_then(|v| v.split('"').next())
                .unwrap();
            assert!(
                ENGINE.contains(&format!("{name} {version}")),
                "ENGINE says {ENGINE}, Cargo.lock has {name} {version}"
            );
        }
    }

    #[test]
    fn repository_names_are_readable_and_distinct() {
        let a = repository_name(Path::new("/work/repo"));
        let b = repository_name(Path::new("/other/repo"));
        assert!(a.starts_with("repo-") && b.starts_with("repo-"), "{a} {b}");
        assert_ne!(a, b);
        let odd = repository_name(Path::new("/x/..\u{1b}[2Jevil name"));
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !odd.starts_with('.'),
            "{odd}"
        );
    }

    #[test]
    fn cache_names_are_plain_directory_names() {
        for good in ["policyrun-gate", "a", "main_1.2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "x\u{1b}", &"x".repeat(65)] {
            assert!(
                matches!(check_name(bad), Err(StoreError::BadName { name }) if name == bad),
                "{bad}"
            );
        }
        let repo = tempfile::tempdir().unwrap();
        let err = for_run(repo.path(), None, Some("a/b"), false).unwrap_err();
        assert!(
            matches!(err, FlagError::CacheName(StoreError::BadName { .. })),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "--cache-name: `a/b` must be 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`"
        );
        let inside = repo.path().canonicalize().unwrap().join("cache");
        let err = for_run(
            &repo.path().canonicalize().unwrap(),
            Some(&inside),
            None,
            false,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                FlagError::CacheDir(StoreError::InsideRepository { .. })
            ),
            "{err}"
        );
    }
}

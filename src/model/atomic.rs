//! Whole-file writes that a reader (or a crash) never sees half done: every file policyrun
//! writes — generated JSON, reformatted sources, reports, the hook, cache records — goes
//! through here.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether the data must be on disk before the rename makes it visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `fsync` before the rename: files people keep (sources, generated JSON, reports).
    Synced,
    /// No `fsync`: files that are checked when read and worth only a re-computation when
    /// a crash damages them (the cache).
    Unsynced,
}

/// Writes to a temporary file beside the target and renames it over the target, so a
/// reader (or a crash) never sees half a file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_through_temp(path, bytes, None, Durability::Synced)
}

/// Replaces an existing file atomically, giving the new file the old one's permissions:
/// rewriting a source (`policyrun fmt`) must not make a private file readable or an
/// executable one plain.
pub(crate) fn replace_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let permissions = fs::metadata(path)?.permissions();
    write_through_temp(path, bytes, Some(permissions), Durability::Synced)
}

/// As [`write_atomically`], with the durability chosen by the caller.
pub(crate) fn write_with(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    write_through_temp(path, bytes, None, durability)
}

fn write_through_temp(
    path: &Path,
    bytes: &[u8],
    permissions: Option<fs::Permissions>,
    durability: Durability,
) -> std::io::Result<()> {
    // Unique per process and write: threads of one run write beside each other.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.policyrun-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.write_all(bytes)?;
        if durability == Durability::Synced {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<std::ffi::OsString> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.json");
        fs::write(&target, "old").unwrap();
        write_atomically(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(names(dir.path()).len(), 1, "{:?}", names(dir.path()));
        write_with(&target, b"newer", Durability::Unsynced).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "newer");
        assert_eq!(names(dir.path()).len(), 1, "{:?}", names(dir.path()));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty directory fails after the temp file is written.
        let target = dir.path().join("taken");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("inside"), "kept").unwrap();
        assert!(write_atomically(&target, b"new").is_err());
        assert_eq!(fs::read_to_string(target.join("inside")).unwrap(), "kept");
        assert_eq!(names(dir.path()).len(), 1, "{:?}", names(dir.path()));
    }

    #[cfg(unix)]
    #[test]
    fn replacing_keeps_the_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run.jsonnet");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o750)).unwrap();
        replace_atomically(&target, b"new").unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o750);
    }
}

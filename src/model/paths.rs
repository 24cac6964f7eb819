//! Looks at paths below the repository root without following symbolic links: a link
//! committed by a pull request must never redirect a read into a report, or a write,
//! to somewhere outside the repository.

use std::fs::{self, Metadata};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Why a path below the root cannot be looked at; `path` is relative to the root.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    /// A component on the way is a symbolic link, which policyrun does not follow.
    #[error("{} is a symbolic link; policyrun does not follow links here", .path.display())]
    SymbolicLink { path: PathBuf },
    /// A component on the way cannot be inspected (other than by not existing).
    #[error("cannot inspect {}: {source}", .path.display())]
    Inspect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The metadata of `root/relative`, checking every component on the way: `Ok(None)` when
/// something on the way does not exist, `Err` naming the first symbolic link (or
/// unreadable component).
pub(crate) fn lstat_below(root: &Path, relative: &Path) -> Result<Option<Metadata>, PathError> {
    let mut path = root.to_path_buf();
    let mut last = None;
    for part in relative.components() {
        path.push(part);
        let shown = || path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(PathError::SymbolicLink { path: shown() });
            }
            Ok(meta) => last = Some(meta),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(PathError::Inspect {
                    path: shown(),
                    source,
                });
            }
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_missing_plain_and_linked_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), "x").unwrap();
        assert!(
            lstat_below(root, Path::new("a/b/f"))
                .unwrap()
                .unwrap()
                .is_file()
        );
        assert!(lstat_below(root, Path::new("a/c/f")).unwrap().is_none());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("a"), root.join("l")).unwrap();
            let err = lstat_below(root, Path::new("l/b/f")).unwrap_err();
            assert!(
                matches!(&err, PathError::SymbolicLink { path } if path == Path::new("l")),
                "{err}"
            );
        }
    }
}

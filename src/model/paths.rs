//! Looks at paths below the repository root without following symbolic links: a link
//! committed by a pull request must never redirect a read into a report, or a write,
//! to somewhere outside the repository.

use std::fs::{self, Metadata};
use std::io::ErrorKind;
use std::path::Path;

/// The metadata of `root/relative`, checking every component on the way: `Ok(None)` when
/// something on the way does not exist, `Err` naming the first symbolic link (or
/// unreadable component).
pub(crate) fn lstat_below(root: &Path, relative: &Path) -> Result<Option<Metadata>, String> {
    let mut path = root.to_path_buf();
    let mut last = None;
    for part in relative.components() {
        path.push(part);
        let shown = || {
            path.strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string()
        };
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link; policyrun does not follow links here",
                    shown()
                ));
            }
            Ok(meta) => last = Some(meta),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot inspect {}: {e}", shown())),
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
            assert!(err.starts_with("l is a symbolic link"), "{err}");
        }
    }
}

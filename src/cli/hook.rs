//! `policyrun hook install`: a git pre-push hook that runs the gate, so that what Jenkins
//! would refuse is refused before it leaves the machine. A hook someone else wrote is never
//! overwritten or removed; ours is recognised by a marker line and replaced freely.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::model::atomic::write_atomically;

/// The line that marks a hook as ours.
pub(crate) const MARKER: &str = "# policyrun pre-push hook: written by `policyrun hook install`";

/// What installing or removing did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Done {
    Installed(PathBuf),
    /// Ours was there already with the same text.
    UpToDate(PathBuf),
    Removed(PathBuf),
    /// There was no hook of ours to remove.
    NotInstalled(PathBuf),
}

/// Why the hook cannot be installed or removed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HookError {
    #[error("cannot run git: {0}")]
    NoGit(#[source] std::io::Error),
    /// git's own words, trimmed.
    #[error("{} is not in a git repository: {stderr}", .root.display())]
    NotARepository { root: PathBuf, stderr: String },
    /// A hook someone else wrote is at the path: it stays.
    #[error(
        "{} exists and was not written by policyrun; leaving it alone (add `policyrun check` to it, or move it away and install again)",
        .0.display()
    )]
    Foreign(PathBuf),
    /// As [`HookError::Foreign`], of a file that is not even text.
    #[error("{} exists and was not written by policyrun; leaving it alone", .0.display())]
    ForeignBinary(PathBuf),
    /// `uninstall` of a hook someone else wrote.
    #[error("{} was not written by policyrun; leaving it alone", .0.display())]
    NotOurs(PathBuf),
    /// `action`: `read`, `create`, `write`, `remove`; `path` the file or directory.
    #[error("cannot {action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot make {} executable: {source}", .path.display())]
    Executable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl HookError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HookError {
        let path = path.to_path_buf();
        move |source| HookError::Io {
            action,
            path,
            source,
        }
    }
}

/// The pre-push hook's path in the repository at `root`, as git sees it: `core.hooksPath`
/// and linked work trees are honoured because git itself is asked.
pub(crate) fn hook_path(root: &Path) -> Result<PathBuf, HookError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .map_err(HookError::NoGit)?;
    if !output.status.success() {
        return Err(HookError::NotARepository {
            root: root.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    let hooks = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    // git answers relative to the directory it was run in.
    Ok(root.join(hooks).join("pre-push"))
}

/// The hook's text. It runs the binary that installed it while that exists, else the
/// `policyrun` on the PATH; from the repository's top, where git runs hooks.
pub(crate) fn script(binary: &Path) -> String {
    let quoted = binary.display().to_string().replace('\'', r"'\''");
    format!(
        "#!/bin/sh\n\
         {MARKER}\n\
         # The same gate Jenkins runs on a pull request; `git push --no-verify` skips it.\n\
         policyrun='{quoted}'\n\
         if [ ! -x \"$policyrun\" ]; then\n\
         \x20   policyrun=policyrun\n\
         fi\n\
         exec \"$policyrun\" check\n"
    )
}

/// Writes our hook at `path`, refusing to replace one we did not write.
pub(crate) fn install(path: &Path, binary: &Path) -> Result<Done, HookError> {
    let text = script(binary);
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => return Ok(Done::UpToDate(path.to_owned())),
        Ok(existing) if !existing.contains(MARKER) => {
            return Err(HookError::Foreign(path.to_owned()));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(HookError::ForeignBinary(path.to_owned()));
        }
        Err(e) => return Err(HookError::io("read", path)(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(HookError::io("create", dir))?;
    }
    write_atomically(path, text.as_bytes()).map_err(HookError::io("write", path))?;
    make_executable(path)?;
    Ok(Done::Installed(path.to_owned()))
}

/// Removes our hook at `path`; a hook we did not write stays.
pub(crate) fn uninstall(path: &Path) -> Result<Done, HookError> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.contains(MARKER) => {
            std::fs::remove_file(path).map_err(HookError::io("remove", path))?;
            Ok(Done::Removed(path.to_owned()))
        }
        Ok(_) => Err(HookError::NotOurs(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Done::NotInstalled(path.to_owned()))
        }
        Err(e) => Err(HookError::io("read", path)(e)),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), HookError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        HookError::Executable {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), HookError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_outside_git_has_no_hook_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = hook_path(dir.path()).unwrap_err();
        assert!(
            matches!(&err, HookError::NotARepository { root, .. } if root == dir.path()),
            "{err}"
        );
    }

    #[test]
    fn the_script_quotes_the_binary_and_falls_back_to_the_path() {
        let text = script(Path::new("/opt/it's/policyrun"));
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains(MARKER));
        assert!(
            text.contains(r"policyrun='/opt/it'\''s/policyrun'"),
            "{text}"
        );
        assert!(text.ends_with("exec \"$policyrun\" check\n"));
    }

    #[test]
    fn ours_is_replaced_and_removed_a_foreign_one_never() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooks/pre-push");
        let binary = Path::new("/usr/bin/policyrun");
        assert_eq!(
            install(&path, binary).unwrap(),
            Done::Installed(path.clone())
        );
        assert_eq!(
            install(&path, binary).unwrap(),
            Done::UpToDate(path.clone())
        );
        // A newer binary's path: ours, so replaced.
        let moved = Path::new("/usr/local/bin/policyrun");
        assert_eq!(
            install(&path, moved).unwrap(),
            Done::Installed(path.clone())
        );
        assert_eq!(uninstall(&path).unwrap(), Done::Removed(path.clone()));
        assert_eq!(uninstall(&path).unwrap(), Done::NotInstalled(path.clone()));

        std::fs::write(&path, "#!/bin/sh\nmake lint\n").unwrap();
        let refused = install(&path, binary).unwrap_err();
        assert!(
            matches!(&refused, HookError::Foreign(p) if *p == path),
            "{refused}"
        );
        assert!(matches!(uninstall(&path), Err(HookError::NotOurs(_))));
        std::fs::write(&path, b"\xff\xfe").unwrap();
        assert!(matches!(
            install(&path, binary),
            Err(HookError::ForeignBinary(_))
        ));
        std::fs::write(&path, "#!/bin/sh\nmake lint\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "#!/bin/sh\nmake lint\n"
        );
    }
}

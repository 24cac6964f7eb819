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

/// The pre-push hook's path in the repository at `root`, as git sees it: `core.hooksPath`
/// and linked work trees are honoured because git itself is asked.
pub(crate) fn hook_path(root: &Path) -> Result<PathBuf, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "--git-path", "hooks"])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} is not in a git repository: {}",
            root.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
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
pub(crate) fn install(path: &Path, binary: &Path) -> Result<Done, String> {
    let text = script(binary);
    match std::fs::read_to_string(path) {
        Ok(existing) if existing == text => return Ok(Done::UpToDate(path.to_owned())),
        Ok(existing) if !existing.contains(MARKER) => {
            return Err(format!(
                "{} exists and was not written by policyrun; leaving it alone (add `policyrun check` to it, or move it away and install again)",
                path.display()
            ));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(format!(
                "{} exists and was not written by policyrun; leaving it alone",
                path.display()
            ));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    write_atomically(path, text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    make_executable(path)?;
    Ok(Done::Installed(path.to_owned()))
}

/// Removes our hook at `path`; a hook we did not write stays.
pub(crate) fn uninstall(path: &Path) -> Result<Done, String> {
    match std::fs::read_to_string(path) {
        Ok(existing) if existing.contains(MARKER) => {
            std::fs::remove_file(path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            Ok(Done::Removed(path.to_owned()))
        }
        Ok(_) => Err(format!(
            "{} was not written by policyrun; leaving it alone",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Done::NotInstalled(path.to_owned()))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} executable: {e}", path.display()))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(install(&path, binary), Ok(Done::Installed(path.clone())));
        assert_eq!(install(&path, binary), Ok(Done::UpToDate(path.clone())));
        // A newer binary's path: ours, so replaced.
        let moved = Path::new("/usr/local/bin/policyrun");
        assert_eq!(install(&path, moved), Ok(Done::Installed(path.clone())));
        assert_eq!(uninstall(&path), Ok(Done::Removed(path.clone())));
        assert_eq!(uninstall(&path), Ok(Done::NotInstalled(path.clone())));

        std::fs::write(&path, "#!/bin/sh\nmake lint\n").unwrap();
        let refused = install(&path, binary).unwrap_err();
        assert!(refused.contains("not written by policyrun"), "{refused}");
        assert!(uninstall(&path).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "#!/bin/sh\nmake lint\n"
        );
    }
}

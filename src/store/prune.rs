//! Tidying the cache directory: every checkout (a worktree, a CI workspace) has a directory
//! of its own there, and one whose checkout is gone would otherwise stay forever.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The file whose modification time says when a repository's directory was last used.
pub(super) const LAST_USED: &str = "last-used";

/// The file whose modification time says when unused directories were last looked for.
const LAST_PRUNED: &str = ".last-pruned";

/// How long a repository's directory outlives its last use.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How often a run looks for them.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes the directories of repositories not used for [`UNUSED_FOR`] (by their
/// `last-used` file, else the directory's own time), at most once per [`PRUNE_EVERY`];
/// never `this` repository's, and nothing that is not a plain directory. Failures are
/// ignored: other runs may be deleting the same directories.
pub(super) fn prune_unused(format_dir: &Path, this: &Path, now: SystemTime) -> usize {
    let marker = format_dir.join(LAST_PRUNED);
    let recently = fs::metadata(&marker)
        .and_then(|m| m.modified())
        .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age < PRUNE_EVERY));
    if recently || touch(&marker, now).is_err() {
        return 0;
    }
    let Ok(listing) = fs::read_dir(format_dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in listing.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || path == this {
            continue;
        }
        let used = fs::metadata(path.join(LAST_USED))
            .or_else(|_| fs::symlink_metadata(&path))
            .and_then(|m| m.modified());
        let unused = used.is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > UNUSED_FOR));
        if unused && fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Tidies the directories of other formats in the cache directory `cache` as
/// [`prune_unused`] tidies this one's (an older release may still be using its own), and
/// removes one that is left with nothing but its pruning marker: no release reads it any more.
pub(super) fn prune_other_formats(cache: &Path, current: u32, now: SystemTime) -> usize {
    let Ok(listing) = fs::read_dir(cache) else {
        return 0;
    };
    let mut removed = 0;
    for entry in listing.flatten() {
        let name = entry.file_name();
        let other = name
            .to_str()
            .and_then(|n| n.strip_prefix("expansions-v"))
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|format| format != current);
        if !other || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        // No directory of theirs is this run's: `dir` itself stands in for "none".
        removed += prune_unused(&dir, &dir, now);
        let left: Vec<_> = fs::read_dir(&dir)
            .map(|l| l.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        if left.iter().all(|n| n == LAST_PRUNED) {
            let _ = fs::remove_file(dir.join(LAST_PRUNED));
            let _ = fs::remove_dir(&dir);
        }
    }
    removed
}

/// Creates `path` if missing and sets its modification time to `now`.
pub(super) fn touch(path: &Path, now: SystemTime) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?
        .set_modified(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_unused_for_a_month_are_deleted_at_most_once_a_day() {
        let cache = tempfile::tempdir().unwrap();
        let format_dir = cache.path().join("expansions-v3");
        let now = SystemTime::now();
        let days = |n: u64| now - Duration::from_secs(n * 24 * 60 * 60);
        let repository = |name: &str, used: Option<SystemTime>| {
            let dir = format_dir.join(name);
            fs::create_dir_all(&dir).unwrap();
            if let Some(used) = used {
                touch(&dir.join(LAST_USED), used).unwrap();
            }
            dir
        };
        let this = repository("this-1", Some(days(90)));
        let gone = repository("gone-2", Some(days(31)));
        let recent = repository("recent-3", Some(days(20)));
        // No last-used file: the directory's own time counts.
        let unmarked = repository("unmarked-4", None);
        let file = format_dir.join("stray-file");
        fs::write(&file, "x").unwrap();
        assert_eq!(prune_unused(&format_dir, &this, now), 1);
        assert!(this.exists() && recent.exists() && unmarked.exists() && file.exists());
        assert!(!gone.exists());
        // Within a day of that, nothing is looked at again.
        let again = repository("gone-5", Some(days(40)));
        assert_eq!(
            prune_unused(&format_dir, &this, now + Duration::from_secs(3600)),
            0
        );
        assert!(again.exists());
        let tomorrow = now + Duration::from_secs(25 * 60 * 60);
        assert_eq!(prune_unused(&format_dir, &this, tomorrow), 1);
        assert!(!again.exists());
        // A symbolic link to a directory is not followed, nor removed.
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            touch(&outside.path().join(LAST_USED), days(100)).unwrap();
            std::os::unix::fs::symlink(outside.path(), format_dir.join("link-6")).unwrap();
            let later = tomorrow + Duration::from_secs(25 * 60 * 60);
            assert_eq!(prune_unused(&format_dir, &this, later), 0);
            assert!(outside.path().join(LAST_USED).exists());
        }
    }

    #[test]
    fn directories_of_other_formats_go_once_nothing_in_them_is_used() {
        let cache = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let days = |n: u64| now - Duration::from_secs(n * 24 * 60 * 60);
        let repository = |format: &str, name: &str, used: SystemTime| {
            let dir = cache.path().join(format).join(name);
            fs::create_dir_all(&dir).unwrap();
            touch(&dir.join(LAST_USED), used).unwrap();
            dir
        };
        let old_gone = repository("expansions-v1", "gone-1", days(40));
        let old_recent = repository("expansions-v2", "recent-2", days(3));
        let current = repository("expansions-v3", "gone-3", days(40));
        fs::create_dir_all(cache.path().join("expansions-vx")).unwrap();
        assert_eq!(prune_other_formats(cache.path(), 3, now), 1);
        assert!(!old_gone.exists() && !cache.path().join("expansions-v1").exists());
        // Still used by an older release: kept until a month after its last use.
        assert!(old_recent.exists());
        // The current format's directories are `prune_unused`'s, with this run's excepted.
        assert!(current.exists() && cache.path().join("expansions-vx").exists());
        let later = now + Duration::from_secs(40 * 24 * 60 * 60);
        assert_eq!(prune_other_formats(cache.path(), 3, later), 1);
        assert!(!cache.path().join("expansions-v2").exists());
    }
}

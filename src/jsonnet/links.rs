//! The symbolic links on the way to a path, followed one component at a time as the kernel
//! follows them. Where an import resolves to depends on every link it passes through, not
//! only on the path written and the bytes found at the end (`ln -sfn v2 lib/v` changes what
//! `import 'v/x.libsonnet'` reads and no file's bytes), so the expansion records list each
//! link met with its target, and `--changed-since` finds a retargeted link, which git lists
//! by its own path, among an entry's inputs. The same walk records them and checks them.

use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

/// A symbolic link met on the way to a path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Link {
    /// Absolute, inside the root; its directory has no links, so this is where git lists
    /// the link.
    pub path: PathBuf,
    /// What the link says, as written (`fs::read_link`): compared, never opened.
    pub target: PathBuf,
}

/// Where a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// At an existing file or directory, whose real path (no links) this is.
    Reached(PathBuf),
    /// A component does not exist.
    Missing,
    /// A link, or `..`, leads out of the root: not followed any further.
    Outside,
    /// The walk cannot go on: too many links (a loop), a file where a directory is
    /// needed, a component that cannot be read.
    Stuck,
}

/// What walking to a path met: the links, in the order met, and where it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Walk {
    pub links: Vec<Link>,
    pub end: End,
}

/// Linux's limit on the links one path resolution follows (`MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Walks from `root` (canonical) to `path` (absolute, below `root`), following every
/// symbolic link met, a link whose target passes through other links included, and never
/// looking outside `root`.
pub(crate) fn walk(root: &Path, path: &Path) -> Walk {
    let mut links = Vec::new();
    let Ok(inside) = path.strip_prefix(root) else {
        return Walk {
            links,
            end: End::Outside,
        };
    };
    // Still to walk, the next component last: a link's target goes in front of the rest.
    let mut pending: Vec<OsString> = Vec::new();
    push_front(&mut pending, inside);
    let mut current = root.to_path_buf();
    let end = loop {
        let Some(name) = pending.pop() else {
            break End::Reached(current);
        };
        match Path::new(&name).components().next() {
            None | Some(Component::CurDir) => continue,
            Some(Component::ParentDir) => {
                // `current` has no links, so its parent is the real parent.
                if current == root {
                    break End::Outside;
                }
                current.pop();
                continue;
            }
            Some(_) => {}
        }
        let next = current.join(&name);
        let meta = match fs::symlink_metadata(&next) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => break End::Missing,
            Err(_) => break End::Stuck,
        };
        if meta.file_type().is_symlink() {
            if links.len() == MAX_LINKS {
                break End::Stuck;
            }
            let Ok(target) = fs::read_link(&next) else {
                break End::Stuck;
            };
            links.push(Link {
                path: next,
                target: target.clone(),
            });
            if target.has_root() {
                let Ok(inside) = target.strip_prefix(root) else {
                    break End::Outside;
                };
                current = root.to_path_buf();
                push_front(&mut pending, inside);
            } else {
                push_front(&mut pending, &target);
            }
        } else if meta.is_dir() || pending.is_empty() {
            current = next;
        } else {
            // A file where a directory is needed.
            break End::Stuck;
        }
    };
    Walk { links, end }
}

/// Puts `path`'s components in front of what is still to walk.
fn push_front(pending: &mut Vec<OsString>, path: &Path) {
    let components: Vec<OsString> = path
        .components()
        .map(|c| c.as_os_str().to_os_string())
        .collect();
    pending.extend(components.into_iter().rev());
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["lib/v1", "lib/v2", "a/b"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(root.join("lib/v1/x.libsonnet"), "1").unwrap();
        fs::write(root.join("lib/v2/x.libsonnet"), "2").unwrap();
        (dir, root)
    }

    fn link(root: &Path, path: &str, target: &str) -> Link {
        Link {
            path: root.join(path),
            target: PathBuf::from(target),
        }
    }

    #[test]
    fn a_path_without_links_reaches_itself() {
        let (_dir, root) = tree();
        let path = root.join("lib/v1/x.libsonnet");
        assert_eq!(
            walk(&root, &path),
            Walk {
                links: Vec::new(),
                end: End::Reached(path)
            }
        );
        assert_eq!(walk(&root, &root.join("lib/v3/x")).end, End::Missing);
        assert_eq!(
            walk(&root, &root.join("lib/v1/x.libsonnet/y")).end,
            End::Stuck
        );
        assert_eq!(walk(&root, Path::new("/etc/passwd")).end, End::Outside);
    }

    #[test]
    fn links_are_met_in_order_and_followed_through_one_another() {
        let (_dir, root) = tree();
        symlink("w", root.join("lib/v")).unwrap();
        symlink("v1", root.join("lib/w")).unwrap();
        symlink("../lib/v/x.libsonnet", root.join("a/x.libsonnet")).unwrap();
        let found = walk(&root, &root.join("a/x.libsonnet"));
        assert_eq!(
            found.links,
            vec![
                link(&root, "a/x.libsonnet", "../lib/v/x.libsonnet"),
                link(&root, "lib/v", "w"),
                link(&root, "lib/w", "v1"),
            ]
        );
        assert_eq!(found.end, End::Reached(root.join("lib/v1/x.libsonnet")));

        // `..` after a link is the parent of where the link leads, not of the link.
        symlink("../a/b", root.join("lib/deep")).unwrap();
        let found = walk(&root, &root.join("lib/deep/../b"));
        assert_eq!(found.end, End::Reached(root.join("a/b")));

        // An absolute target inside the root is followed from the root.
        symlink(root.join("lib/v2"), root.join("lib/abs")).unwrap();
        let found = walk(&root, &root.join("lib/abs/x.libsonnet"));
        assert_eq!(found.end, End::Reached(root.join("lib/v2/x.libsonnet")));
    }

    #[test]
    fn links_out_of_the_root_to_nothing_and_in_loops_end_the_walk() {
        let (_dir, root) = tree();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.join("lib/out")).unwrap();
        symlink("../../..", root.join("lib/up")).unwrap();
        symlink("nowhere", root.join("lib/dangling")).unwrap();
        symlink("loop", root.join("lib/loop")).unwrap();
        let end = |path: &str| walk(&root, &root.join(path));
        let found = end("lib/out/x");
        assert_eq!(found.end, End::Outside);
        assert_eq!(
            found.links,
            vec![Link {
                path: root.join("lib/out"),
                target: outside.path().to_path_buf()
            }]
        );
        assert_eq!(end("lib/up/x").end, End::Outside);
        assert_eq!(end("lib/dangling/x").end, End::Missing);
        assert_eq!(
            end("lib/dangling/x").links,
            vec![link(&root, "lib/dangling", "nowhere")]
        );
        let looped = end("lib/loop/x");
        assert_eq!(looped.end, End::Stuck);
        assert_eq!(looped.links.len(), MAX_LINKS);
    }
}

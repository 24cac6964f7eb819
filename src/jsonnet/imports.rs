//! Which files each entry's value depends on, as the evaluator actually resolved and read
//! them, and the symbolic links on their way: the cache keys its records by their contents
//! and `--changed-since` decides from them which entries a change reaches. A dependency
//! list that misses a file or a link would let either serve a stale verdict, so this errs
//! on the side of listing too much.
//!
//! jrsonnet keeps every evaluated file per evaluator state, so a second entry on the same
//! worker that imports `lib/x.libsonnet` gets x's value without x's own imports being
//! resolved again. The log therefore keeps import *edges* (importing file → what its import
//! found) for the state's whole life, and an entry's inputs are the closure of its edges:
//! everything the entry could have reached, never less than what it did reach.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::jsonnet::links::Link;
use crate::model::digest::Digest;
use crate::model::expansion::{Input, Seen};

/// The symbolic links met on the way to a probed path (see `links`), or `None` when they
/// could not be told as the sandbox resolved the path (the tree changed meanwhile, or a
/// link leads out of the repository and back): then the entry's inputs are unknown.
pub(crate) type Way = Option<Vec<Link>>;

/// What one import found on its way: each place it looked, in search order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Probe {
    /// Nothing at this (absolute) path.
    Absent { path: PathBuf, way: Way },
    /// A file at `candidate`, whose real path (symbolic links resolved) is `real`.
    Found {
        candidate: PathBuf,
        real: PathBuf,
        way: Way,
    },
}

#[derive(Default)]
struct Log {
    /// Absolute real path of an importing file → what its imports found.
    edges: HashMap<PathBuf, HashSet<Probe>>,
    /// Absolute real path → digest of the bytes the evaluator was given.
    read: HashMap<PathBuf, Digest>,
    /// Absolute path of an entry file → how it resolved when it was last evaluated.
    entries: HashMap<PathBuf, (PathBuf, Way)>,
}

/// The import log of one evaluator state, shared by the state's import resolver (which
/// writes it) and the worker that owns the state (which asks it for an entry's inputs).
/// Not `Send`, like the state it belongs to.
#[derive(Clone, Default)]
pub(crate) struct ImportLog(Rc<RefCell<Log>>);

impl ImportLog {
    pub(crate) fn new() -> Self {
        ImportLog::default()
    }

    /// `from` (an absolute real path) imported something; `probes` is where the import
    /// looked, ending with what it found.
    pub(crate) fn resolved(&self, from: &Path, probes: Vec<Probe>) {
        let mut log = self.0.borrow_mut();
        let edges = log.edges.entry(from.to_path_buf()).or_default();
        edges.extend(probes);
    }

    /// The entry file `entry` (absolute) is about to be evaluated from `real`, reached by
    /// `way`. Kept from the moment it resolved, so that a record names the file the value
    /// was computed from even when a link is retargeted during the evaluation.
    pub(crate) fn entered(&self, entry: &Path, real: &Path, way: Way) {
        self.0
            .borrow_mut()
            .entries
            .insert(entry.to_path_buf(), (real.to_path_buf(), way));
    }

    /// The evaluator was given these bytes for `path` (absolute, real). Hashing the bytes
    /// it actually read, rather than the file later, means a record can never claim a
    /// content the value was not computed from.
    pub(crate) fn read(&self, path: &Path, bytes: &[u8]) {
        self.0
            .borrow_mut()
            .read
            .insert(path.to_path_buf(), Digest::of(bytes));
    }

    /// Every path the entry file `entry` (absolute) reached through its imports,
    /// transitively, relative to `root`, sorted, the entry included, with every symbolic
    /// link met on the way to any of them. `None` when the list cannot be complete: the
    /// entry never resolved, a file was reached that was never read and cannot be read
    /// now, a way could not be told, or a path is seen both as absent and as present, or
    /// a link with two targets (the tree changed during the run).
    pub(crate) fn inputs(&self, root: &Path, entry: &Path) -> Option<Vec<Input>> {
        let log = self.0.borrow();
        let (real, way) = log.entries.get(entry)?;
        let mut found: BTreeMap<PathBuf, Seen> = BTreeMap::new();
        let mut links: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        let mut add = |absolute: &Path, seen: Seen| -> Option<()> {
            let relative = absolute.strip_prefix(root).ok()?.to_path_buf();
            match found.insert(relative, seen.clone()) {
                Some(previous) if previous != seen => None,
                _ => Some(()),
            }
        };
        let mut add_way = |way: &Way| -> Option<()> {
            for link in way.as_ref()? {
                let relative = link.path.strip_prefix(root).ok()?.to_path_buf();
                match links.insert(relative, link.target.clone()) {
                    Some(previous) if previous != link.target => return None,
                    _ => {}
                }
            }
            Some(())
        };
        let digest_of = |real: &Path| -> Option<Digest> {
            log.read
                .get(real)
                .copied()
                .or_else(|| std::fs::read(real).ok().map(|bytes| Digest::of(&bytes)))
        };
        let mut seen: HashSet<&Path> = HashSet::new();
        let mut queue: Vec<&Path> = vec![real];
        let digest = digest_of(real)?;
        add(real, Seen::File(digest))?;
        // An entry that is a link: where it points is an input too.
        add(entry, Seen::File(digest))?;
        add_way(way)?;
        while let Some(file) = queue.pop() {
            if !seen.insert(file) {
                continue;
            }
            let Some(probes) = log.edges.get(file) else {
                continue;
            };
            for probe in probes {
                match probe {
                    Probe::Absent { path, way } => {
                        add(path, Seen::Absent)?;
                        add_way(way)?;
                    }
                    Probe::Found {
                        candidate,
                        real,
                        way,
                    } => {
                        let digest = digest_of(real)?;
                        add(candidate, Seen::File(digest))?;
                        if candidate != real {
                            add(real, Seen::File(digest))?;
                        }
                        add_way(way)?;
                        queue.push(real);
                    }
                }
            }
        }
        let mut inputs: Vec<Input> = found
            .into_iter()
            .map(|(path, seen)| Input { path, seen })
            .chain(links.into_iter().map(|(path, target)| Input {
                path,
                seen: Seen::Link(target),
            }))
            .collect();
        inputs.sort();
        Some(inputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_through_hex() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Digest::from_hex("abc"), None);
        assert_eq!(Digest::from_hex(&"zz".repeat(32)), None);
    }

    fn absent(path: PathBuf) -> Probe {
        Probe::Absent {
            path,
            way: Some(Vec::new()),
        }
    }

    fn found(candidate: PathBuf, real: PathBuf) -> Probe {
        Probe::Found {
            candidate,
            real,
            way: Some(Vec::new()),
        }
    }

    fn link(path: PathBuf, target: &str) -> Link {
        Link {
            path,
            target: PathBuf::from(target),
        }
    }

    /// Each input as (path, kind), kind one of `file`, `absent`, `link <target>`.
    fn listed(inputs: &[Input]) -> Vec<(String, String)> {
        inputs
            .iter()
            .map(|i| {
                let kind = match &i.seen {
                    Seen::File(_) => "file".to_owned(),
                    Seen::Absent => "absent".to_owned(),
                    Seen::Link(target) => format!("link {}", target.display()),
                };
                (i.path.display().to_string(), kind)
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
            .collect()
    }

    #[test]
    fn inputs_are_the_closure_of_the_edges() {
        let root = Path::new("/r");
        let log = ImportLog::new();
        let entry = root.join("clusters/dev/a.jsonnet");
        let stack = root.join("common/app.jsonnet");
        let lib = root.join("lib/kube.libsonnet");
        let data = root.join("common/config/app.conf");
        log.read(&entry, b"entry");
        log.read(&stack, b"stack");
        log.read(&lib, b"lib");
        log.read(&data, b"data");
        log.entered(&entry, &entry, Some(Vec::new()));
        log.resolved(
            &entry,
            vec![
                absent(root.join("clusters/dev/kube.libsonnet")),
                found(lib.clone(), lib.clone()),
                found(stack.clone(), stack.clone()),
            ],
        );
        // Recorded while another entry evaluated the stack: still reached from this one.
        log.resolved(
            &stack,
            vec![found(root.join("common/config/link.conf"), data.clone())],
        );
        // Unrelated edges are not followed.
        log.resolved(
            &root.join("clusters/dev/b.jsonnet"),
            vec![absent(root.join("clusters/dev/other"))],
        );
        let inputs = log.inputs(root, &entry).unwrap();
        assert_eq!(
            listed(&inputs),
            pairs(&[
                ("clusters/dev/a.jsonnet", "file"),
                ("clusters/dev/kube.libsonnet", "absent"),
                ("common/app.jsonnet", "file"),
                ("common/config/app.conf", "file"),
                ("common/config/link.conf", "file"),
                ("lib/kube.libsonnet", "file"),
            ])
        );
        assert_eq!(inputs[3].seen, Seen::File(Digest::of(b"data")));
        assert_eq!(inputs[3].seen, inputs[4].seen);
    }

    /// The links on the way to every path listed are inputs of their own, each once, also
    /// at a path that is an input as a file (an entry that is a link).
    #[test]
    fn links_on_the_way_are_inputs() {
        let root = Path::new("/r");
        let log = ImportLog::new();
        let entry = root.join("clusters/dev/a.jsonnet");
        let real_entry = root.join("stacks/one/a.jsonnet");
        let x = root.join("lib/v1/x.libsonnet");
        log.read(&real_entry, b"entry");
        log.read(&x, b"x");
        log.entered(
            &entry,
            &real_entry,
            Some(vec![link(entry.clone(), "../../stacks/one/a.jsonnet")]),
        );
        log.resolved(
            &real_entry,
            vec![
                Probe::Absent {
                    path: root.join("stacks/one/v/x.libsonnet"),
                    way: Some(vec![link(root.join("stacks/one/v"), "gone")]),
                },
                Probe::Found {
                    candidate: root.join("lib/v/x.libsonnet"),
                    real: x.clone(),
                    way: Some(vec![
                        link(root.join("lib/v"), "w"),
                        link(root.join("lib/w"), "v1"),
                    ]),
                },
                Probe::Found {
                    candidate: root.join("lib/v/x.libsonnet"),
                    real: x.clone(),
                    way: Some(vec![link(root.join("lib/v"), "w")]),
                },
            ],
        );
        assert_eq!(
            listed(&log.inputs(root, &entry).unwrap()),
            pairs(&[
                ("clusters/dev/a.jsonnet", "file"),
                ("clusters/dev/a.jsonnet", "link ../../stacks/one/a.jsonnet"),
                ("lib/v", "link w"),
                ("lib/v/x.libsonnet", "file"),
                ("lib/v1/x.libsonnet", "file"),
                ("lib/w", "link v1"),
                ("stacks/one/a.jsonnet", "file"),
                ("stacks/one/v", "link gone"),
                ("stacks/one/v/x.libsonnet", "absent"),
            ])
        );

        // A link seen with two targets (retargeted during the run), or a way that could
        // not be told: the list cannot be complete.
        for way in [Some(vec![link(root.join("lib/v"), "v2")]), None] {
            let log2 = ImportLog::new();
            log2.read(&real_entry, b"entry");
            log2.read(&x, b"x");
            log2.entered(&entry, &real_entry, Some(Vec::new()));
            log2.resolved(
                &real_entry,
                vec![
                    Probe::Found {
                        candidate: root.join("lib/v/x.libsonnet"),
                        real: x.clone(),
                        way: Some(vec![link(root.join("lib/v"), "v1")]),
                    },
                    Probe::Found {
                        candidate: root.join("lib/v/x.libsonnet"),
                        real: x.clone(),
                        way,
                    },
                ],
            );
            assert_eq!(log2.inputs(root, &entry), None);
        }
    }

    #[test]
    fn contradictions_and_unreadable_files_make_the_list_unknown() {
        let root = Path::new("/nonexistent-root");
        let log = ImportLog::new();
        let entry = root.join("a.jsonnet");
        log.read(&entry, b"entry");
        // Never resolved as an entry.
        assert_eq!(log.inputs(root, &entry), None);
        log.entered(&entry, &entry, Some(Vec::new()));
        // Never read, and not readable now.
        log.resolved(
            &entry,
            vec![found(root.join("x.libsonnet"), root.join("x.libsonnet"))],
        );
        assert_eq!(log.inputs(root, &entry), None);

        let log = ImportLog::new();
        log.read(&entry, b"entry");
        log.read(&root.join("x.libsonnet"), b"x");
        log.entered(&entry, &entry, Some(Vec::new()));
        log.resolved(
            &entry,
            vec![
                absent(root.join("x.libsonnet")),
                found(root.join("x.libsonnet"), root.join("x.libsonnet")),
            ],
        );
        assert_eq!(log.inputs(root, &entry), None);

        // An entry whose way could not be told.
        let log = ImportLog::new();
        log.read(&entry, b"entry");
        log.entered(&entry, &entry, None);
        assert_eq!(log.inputs(root, &entry), None);
    }
}

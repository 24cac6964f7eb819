//! Which files each entry's value depends on, as the evaluator actually resolved and read
//! them: the cache keys its records by their contents and `--changed-since` decides from
//! them which entries a change reaches. A dependency list that misses a file would let
//! either serve a stale verdict, so this errs on the side of listing too much.
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

use crate::model::digest::Digest;
use crate::model::expansion::Input;

/// What one import found on its way: each place it looked, in search order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Probe {
    /// Nothing at this (absolute) path.
    Absent(PathBuf),
    /// A file at `candidate`, whose real path (symbolic links resolved) is `real`.
    Found { candidate: PathBuf, real: PathBuf },
}

#[derive(Default)]
struct Log {
    /// Absolute real path of an importing file → what its imports found.
    edges: HashMap<PathBuf, HashSet<Probe>>,
    /// Absolute real path → digest of the bytes the evaluator was given.
    read: HashMap<PathBuf, Digest>,
}

/// The import log of one evaluator state, shared by the state's import resolver (which
/// writes it) and the worker that owns the state (which asks it for an entry's inputs).
/// Not `Send`, like the state it belongs to.
#[derive(Clone, Default)]
pub struct ImportLog(Rc<RefCell<Log>>);

impl ImportLog {
    pub fn new() -> Self {
        ImportLog::default()
    }

    /// `from` (an absolute real path) imported something; `probes` is where the import
    /// looked, ending with what it found.
    pub fn resolved(&self, from: &Path, probes: Vec<Probe>) {
        let mut log = self.0.borrow_mut();
        let edges = log.edges.entry(from.to_path_buf()).or_default();
        edges.extend(probes);
    }

    /// The evaluator was given these bytes for `path` (absolute, real). Hashing the bytes
    /// it actually read, rather than the file later, means a record can never claim a
    /// content the value was not computed from.
    pub fn read(&self, path: &Path, bytes: &[u8]) {
        self.0
            .borrow_mut()
            .read
            .insert(path.to_path_buf(), Digest::of(bytes));
    }

    /// Every path the entry file `entry` (absolute; `real` with symbolic links resolved)
    /// reached through its imports, transitively, relative to `root`, sorted, the entry
    /// included. `None` when the list cannot be complete: a file was reached that was
    /// never read and cannot be read now, or a path is seen both as absent and as present
    /// (the tree changed during the run).
    pub fn inputs(&self, root: &Path, entry: &Path, real: &Path) -> Option<Vec<Input>> {
        let log = self.0.borrow();
        let mut found: BTreeMap<PathBuf, Option<Digest>> = BTreeMap::new();
        let mut add = |absolute: &Path, digest: Option<Digest>| -> Option<()> {
            let relative = absolute.strip_prefix(root).ok()?.to_path_buf();
            match found.insert(relative, digest) {
                Some(previous) if previous != digest => None,
                _ => Some(()),
            }
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
        add(real, Some(digest))?;
        // An entry that is a link: where it points is an input too.
        add(entry, Some(digest))?;
        while let Some(file) = queue.pop() {
            if !seen.insert(file) {
                continue;
            }
            let Some(probes) = log.edges.get(file) else {
                continue;
            };
            for probe in probes {
                match probe {
                    Probe::Absent(path) => add(path, None)?,
                    Probe::Found { candidate, real } => {
                        let digest = digest_of(real)?;
                        add(candidate, Some(digest))?;
                        if candidate != real {
                            add(real, Some(digest))?;
                        }
                        queue.push(real);
                    }
                }
            }
        }
        Some(
            found
                .into_iter()
                .map(|(path, digest)| Input { path, digest })
                .collect(),
        )
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
        log.resolved(
            &entry,
            vec![
                Probe::Absent(root.join("clusters/dev/kube.libsonnet")),
                Probe::Found {
                    candidate: lib.clone(),
                    real: lib.clone(),
                },
                Probe::Found {
                    candidate: stack.clone(),
                    real: stack.clone(),
                },
            ],
        );
        // Recorded while another entry evaluated the stack: still reached from this one.
        log.resolved(
            &stack,
            vec![Probe::Found {
                candidate: root.join("common/config/link.conf"),
                real: data.clone(),
            }],
        );
        // Unrelated edges are not followed.
        log.resolved(
            &root.join("clusters/dev/b.jsonnet"),
            vec![Probe::Absent(root.join("clusters/dev/other"))],
        );
        let inputs = log.inputs(root, &entry, &entry).unwrap();
        let listed: Vec<(&str, bool)> = inputs
            .iter()
            .map(|i| (i.path.to_str().unwrap(), i.digest.is_some()))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("clusters/dev/a.jsonnet", true),
                ("clusters/dev/kube.libsonnet", false),
                ("common/app.jsonnet", true),
                ("common/config/app.conf", true),
                ("common/config/link.conf", true),
                ("lib/kube.libsonnet", true),
            ]
        );
        assert_eq!(inputs[3].digest, Some(Digest::of(b"data")));
        assert_eq!(inputs[3].digest, inputs[4].digest);
    }

    #[test]
    fn contradictions_and_unreadable_files_make_the_list_unknown() {
        let root = Path::new("/nonexistent-root");
        let log = ImportLog::new();
        let entry = root.join("a.jsonnet");
        log.read(&entry, b"entry");
        // Never read, and not readable now.
        log.resolved(
            &entry,
            vec![Probe::Found {
                candidate: root.join("x.libsonnet"),
                real: root.join("x.libsonnet"),
            }],
        );
        assert_eq!(log.inputs(root, &entry, &entry), None);

        let log = ImportLog::new();
        log.read(&entry, b"entry");
        log.read(&root.join("x.libsonnet"), b"x");
        log.resolved(
            &entry,
            vec![
                Probe::Absent(root.join("x.libsonnet")),
                Probe::Found {
                    candidate: root.join("x.libsonnet"),
                    real: root.join("x.libsonnet"),
                },
            ],
        );
        assert_eq!(log.inputs(root, &entry, &entry), None);
    }
}

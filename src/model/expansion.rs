//! What the jsonnet stage hands to the stages after it, as plain data: the entries, the
//! files and objects each produced (or why it produced nothing), and the files it read.
//! Freshness, schema, policy and apply read these without knowing jsonnet.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::model::digest::Digest;
use crate::model::outcome::{Location, ObjectId};
use crate::model::repository::{Layout, Repository};
use crate::model::value::ObjectValue;

/// One jsonnet file to evaluate for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the cluster in `Repository::clusters`.
    pub cluster: usize,
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// File name without `.jsonnet`: the name of its generated file or directory.
    pub stem: String,
}

/// One path an entry's value depends on, and what the evaluation found there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Input {
    /// Relative to the repository root.
    pub path: PathBuf,
    pub seen: Seen,
}

/// What an entry's evaluation found at one of its input paths. A path can be an input
/// twice: as a link (its target) and as the file the link leads to (its content).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seen {
    /// A file with this content, links on its way followed.
    File(Digest),
    /// Nothing: an import looked for a file here and found none. A file created there
    /// later would be imported instead of the one found further along the search path, so
    /// its absence is an input too.
    Absent,
    /// A symbolic link with this target, as written, met on the way to another input:
    /// where an import resolves to depends on it, though no path an import names does.
    /// Its path is where git lists it (no links in its directory).
    Link(PathBuf),
}

/// A Kubernetes object the sources produce, with where it will be committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub id: ObjectId,
    /// Read through [`Object::value`]: an object recalled from the cache is parsed from its
    /// file's text only when something reads it.
    pub value: ObjectValue,
    /// The generated file holding it, relative to the repository root.
    pub file: PathBuf,
    /// Where in that file's JSON it is (RFC 6901): `""` for a file that is the object, else
    /// its place in a List (`/items/3`). Empty too for an object a record lists without its
    /// value (context the run does not check or report).
    pub pointer: String,
    /// Its content's digest, from the text it was read from (`Digest::of_object_in`);
    /// `None` for an object a record lists without its value.
    pub digest: Option<Digest>,
}

impl Object {
    /// The object's value, parsed now if nothing read it before.
    pub fn value(&self) -> &Value {
        self.value.get()
    }
}

/// One file the layout commits for an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Produced {
    /// Relative to the repository root, below the generated root.
    pub path: PathBuf,
    /// The item key (per-item layout).
    pub item: Option<String>,
    /// Exactly the bytes the jsonnet command-line tool would write. Its parsed value lives
    /// on in the entry's `objects`; a copy here would double the memory of a large run.
    /// Shared with the objects that are parsed from it when first read.
    pub text: Arc<str>,
    /// The digest of `text`, computed once when the file is produced and kept with its
    /// record: it names the file's objects in the stages' memories
    /// ([`Digest::of_object_in`]), and a recalled file is not hashed again.
    pub digest: Digest,
}

impl Produced {
    /// A file produced now: its digest is computed from `text`.
    pub fn new(path: PathBuf, item: Option<String>, text: String) -> Self {
        let digest = Digest::of(text.as_bytes());
        Produced {
            path,
            item,
            text: text.into(),
            digest,
        }
    }
}

/// Why an entry produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error, first line.
    pub message: String,
    /// The whole error with the jsonnet stack.
    pub detail: Option<String>,
    pub location: Option<Location>,
}

impl Failure {
    pub fn plain(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            detail: None,
            location: None,
        }
    }
}

/// What one entry expanded to.
#[derive(Debug, Clone, PartialEq)]
pub struct Expanded {
    pub entry: Entry,
    pub cluster: String,
    pub elapsed: Duration,
    pub result: Result<ExpandedFiles, Failure>,
    /// Every file the evaluator resolved or read for this entry, transitively, the places
    /// its imports looked and found nothing, and the symbolic links on the way to any of
    /// them, sorted by path. `None` when that list cannot be known completely (an
    /// evaluator panic, an unreadable import, a link that changed during the run).
    pub inputs: Option<Vec<Input>>,
    /// The `std.trace` lines printed while the entry evaluated, as printed: a result taken
    /// from the cache prints them again, as an evaluation would.
    pub traces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpandedFiles {
    pub files: Vec<Produced>,
    pub objects: Vec<Object>,
    /// Values that are not well-formed Kubernetes objects (no kind, no name, ...).
    pub problems: Vec<String>,
}

/// Where an entry's generated files go: a directory (per-item) or one file (per-file).
pub fn output_prefix(repo: &Repository, cluster: &str, entry: &Entry) -> PathBuf {
    let dir = repo.generated.join(cluster);
    match repo.layout {
        Layout::PerItem => dir.join(&entry.stem),
        Layout::PerFile => dir.join(format!("{}.json", entry.stem)),
    }
}

//! A content-addressed cache of expansion results, kept in the store (outside the
//! repository), so that a re-run skips evaluating every entry whose inputs did not change
//! (evaluation is most of a run).
//!
//! It works like ccache's direct mode or Bazel's action cache: which files an entry reads is
//! only known after evaluating it, so a first-level key names everything known beforehand
//! (entry path, ext vars, the configuration that shapes the output or decides whether the
//! evaluation succeeds, tool and engine versions) and leads to one record listing the
//! entry's inputs (see `imports`) and the files it produced: each file read with its
//! digest, each place an import found nothing, and each symbolic link on the way to any of
//! them with its target. A record is used only when every input is still as recorded and
//! no other link lies on their way (so every import resolves where it did); otherwise the
//! entry is evaluated and the record replaced. Records live in the store's buckets.
//!
//! Nothing read from the cache is trusted before it is checked: a record is sealed by the
//! store (format version and a SHA-256 of everything after it), and carries its own key
//! and paths that must lie where the entry's files belong under the layout. A truncated,
//! garbled or foreign record is ignored (and replaced), never an error.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::jsonnet::expand;
use crate::jsonnet::links::{self, End};
use crate::model::digest::Digest;
use crate::model::events::{Event, Events};
use crate::model::expansion::Entry;
use crate::model::expansion::{Expanded, ExpandedFiles, Object, Produced, output_prefix};
use crate::model::expansion::{Input, Seen};
use crate::model::outcome::ObjectId;
use crate::model::repository::{Layout, Repository};
use crate::model::value::ObjectValue;
use crate::store::{self, Buckets, FORMAT, Store, StoreError};

/// The first line of every record.
const MAGIC: &str = "policyrun-expansion-cache";

/// The expansion records of one repository's store.
#[derive(Debug, Clone, Copy)]
pub struct Records<'s> {
    store: &'s Store,
}

/// Why an entry's record was not used.
#[derive(Debug)]
pub enum Miss {
    /// No record: never cached, or the configuration or tool changed.
    Absent,
    /// A record whose inputs changed since: the usual reason to evaluate again.
    Stale,
    /// A record that is unreadable, truncated, garbled or not ours: ignored and replaced.
    Rejected(Rejection),
}

/// What is wrong with a record that is not used: it is ignored and replaced, and the
/// run's notes say why.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// Not sealed whole, or sealed for another format.
    #[error(transparent)]
    Unsealed(#[from] store::RecordError),
    #[error("truncated inside its header")]
    NoHeader,
    #[error("unreadable header: {0}")]
    Header(#[source] serde_json::Error),
    /// The header's key, tool or entry is another's.
    #[error("a record of another entry or tool (foreign)")]
    Foreign,
    #[error("an input digest is not hex")]
    InputDigest,
    #[error("input path {} is not plain", .0.display())]
    InputPath(PathBuf),
    #[error("its inputs do not hold the entry")]
    NoEntryInput,
    #[error("file {} does not fit the layout", .0.display())]
    FileLayout(PathBuf),
    #[error("file {} is not where this entry's files go", .0.display())]
    FilePlace(PathBuf),
    #[error("payload shorter than its header says, or not text")]
    PayloadShort,
    #[error("a file digest is not hex")]
    FileDigest,
    #[error("payload longer than its header says")]
    PayloadLong,
    #[error("an object names a file the record does not hold")]
    ObjectFile,
    #[error("an object's place is not a JSON pointer")]
    ObjectPointer,
    /// A file that holds several objects does not parse.
    #[error("file {} is not JSON: {source}", .path.display())]
    FileNotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("an object's place is not in its file")]
    ObjectPlace,
}

/// An entry's record, checked: its format, checksum, key and paths are sound.
#[derive(Debug, Clone)]
pub struct Record {
    inputs: Vec<Input>,
    traces: Vec<String>,
    /// Each produced file, with the digest it was recorded with.
    files: Vec<Produced>,
    objects: Vec<(usize, ObjectHeader)>,
    /// The produced values that are not Kubernetes objects, as the expansion said.
    problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    key: String,
    tool: String,
    entry: PathBuf,
    inputs: Vec<InputHeader>,
    files: Vec<FileHeader>,
    /// Each object's identity and place, so that a hit knows its objects without parsing
    /// their files: a value is parsed when a check reads it.
    objects: Vec<ObjectHeader>,
    /// What the expansion found wrong with produced values (not Kubernetes objects).
    problems: Vec<String>,
    /// What `std.trace` printed during the evaluation, replayed on a hit.
    traces: Vec<String>,
}

/// One input as a record holds it. Each is an object naming its kind: a record written
/// before links were inputs holds `[path, digest]` pairs, which do not read as this shape
/// (such a record is rejected, never taken for one without links).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum InputHeader {
    /// Path and hex digest of the file's content.
    File(PathBuf, String),
    /// Nothing may be at the path.
    Absent(PathBuf),
    /// Path and target of a symbolic link.
    Link(PathBuf, PathBuf),
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct FileHeader {
    path: PathBuf,
    item: Option<String>,
    bytes: usize,
    /// Hex digest of the file's text: the record's checksum already vouches for the text,
    /// so a hit need not hash it again.
    digest: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ObjectHeader {
    file: usize,
    /// Where in the file's JSON the object is (`""`: the file is the object).
    pointer: String,
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

/// The part of the configuration and environment an entry's verdict depends on besides
/// its inputs: everything in here is in the first-level key. The import paths are the
/// directories they resolved to when policyrun.toml was read (a retargeted `lib` link
/// makes another key).
#[derive(Serialize)]
struct KeyMaterial<'a> {
    format: u32,
    tool: &'a str,
    entry: &'a Path,
    cluster: &'a str,
    ext_vars: &'a BTreeMap<String, String>,
    jpath: Vec<&'a Path>,
    generated: &'a Path,
    layout: String,
    items_field: &'a str,
    indent: usize,
    max_stack: usize,
    /// Whether the evaluation finishes in time decides whether the entry passes: a record
    /// made under a generous budget must not stand in for an evaluation a tight one stops.
    evaluation_budget: Duration,
}

impl<'s> Records<'s> {
    /// The expansion records kept in `store`, for its tool version.
    pub fn in_store(store: &'s Store) -> Records<'s> {
        Records { store }
    }

    /// The first-level key of an entry: a hex SHA-256 of everything its output depends on
    /// besides the files it reads.
    pub fn key(&self, repo: &Repository, entry: &Entry) -> String {
        let cluster = &repo.clusters[entry.cluster];
        let material = KeyMaterial {
            format: FORMAT,
            tool: self.store.tool(),
            entry: &entry.path,
            cluster: &cluster.name,
            ext_vars: &cluster.ext_vars,
            jpath: repo
                .jpath
                .iter()
                .map(|p| p.strip_prefix(&repo.root).unwrap_or(p))
                .collect(),
            generated: &repo.generated,
            layout: repo.layout.to_string(),
            items_field: &repo.items_field,
            indent: repo.indent,
            max_stack: repo.max_stack,
            evaluation_budget: repo.evaluation_budget,
        };
        // Serialising plain strings, numbers and a sorted map cannot fail.
        let bytes = serde_json::to_vec(&material).unwrap_or_default();
        Digest::of(&bytes).to_hex()
    }

    /// Reads the buckets that hold `keys`' records.
    pub fn load(&self, keys: &[String]) -> Buckets {
        self.store.load_buckets(keys)
    }

    /// The entry's record when there is a sound one whose inputs are all unchanged in
    /// `tree`.
    pub fn lookup(
        &self,
        loaded: &Buckets,
        repo: &Repository,
        entry: &Entry,
        key: &str,
        tree: &WorkTree,
    ) -> Result<Record, Miss> {
        let Some(bytes) = loaded.get(key) else {
            return Err(Miss::Absent);
        };
        let record = self
            .decode(repo, entry, key, bytes)
            .map_err(Miss::Rejected)?;
        if tree.unchanged(&record.inputs) {
            Ok(record)
        } else {
            Err(Miss::Stale)
        }
    }

    fn decode(
        &self,
        repo: &Repository,
        entry: &Entry,
        key: &str,
        bytes: &[u8],
    ) -> Result<Record, Rejection> {
        let body = store::unseal(MAGIC, bytes)?;
        let (header, payload) = store::split_line(body).ok_or(Rejection::NoHeader)?;
        let header: Header = serde_json::from_slice(header).map_err(Rejection::Header)?;
        if header.key != key || header.tool != self.store.tool() || header.entry != entry.path {
            return Err(Rejection::Foreign);
        }
        let mut inputs = Vec::with_capacity(header.inputs.len());
        for input in header.inputs {
            let (path, seen) = match input {
                InputHeader::File(path, hex) => {
                    let digest = Digest::from_hex(&hex).ok_or(Rejection::InputDigest)?;
                    (path, Seen::File(digest))
                }
                InputHeader::Absent(path) => (path, Seen::Absent),
                // The target is only compared with what the link says now, never opened.
                InputHeader::Link(path, target) => (path, Seen::Link(target)),
            };
            if !plain_relative(&path) {
                return Err(Rejection::InputPath(path));
            }
            inputs.push(Input { path, seen });
        }
        // Every evaluation reads its entry: a record without it is not one of ours.
        if !inputs
            .iter()
            .any(|i| i.path == entry.path && matches!(i.seen, Seen::File(_)))
        {
            return Err(Rejection::NoEntryInput);
        }
        let cluster = &repo.clusters[entry.cluster].name;
        let prefix = output_prefix(repo, cluster, entry);
        let mut files = Vec::with_capacity(header.files.len());
        let mut offset = 0;
        for file in header.files {
            let expected = match (&repo.layout, &file.item) {
                (Layout::PerFile, None) => prefix.clone(),
                (Layout::PerItem, Some(item)) if expand::plain_item_key(item) => {
                    prefix.join(format!("{item}.json"))
                }
                _ => return Err(Rejection::FileLayout(file.path)),
            };
            if file.path != expected {
                return Err(Rejection::FilePlace(file.path));
            }
            let end = offset + file.bytes;
            let text: Arc<str> = payload
                .get(offset..end)
                .and_then(|bytes| std::str::from_utf8(bytes).ok())
                .ok_or(Rejection::PayloadShort)?
                .into();
            let digest = Digest::from_hex(&file.digest).ok_or(Rejection::FileDigest)?;
            files.push(Produced {
                path: file.path,
                item: file.item,
                text,
                digest,
            });
            offset = end;
        }
        if offset != payload.len() {
            return Err(Rejection::PayloadLong);
        }
        let mut objects = Vec::with_capacity(header.objects.len());
        for object in header.objects {
            if object.file >= files.len() {
                return Err(Rejection::ObjectFile);
            }
            if !object.pointer.is_empty() && !object.pointer.starts_with('/') {
                return Err(Rejection::ObjectPointer);
            }
            objects.push((object.file, object));
        }
        Ok(Record {
            inputs,
            traces: header.traces,
            files,
            objects,
            problems: header.problems,
        })
    }

    /// The record of a successful expansion whose inputs are known, to be saved; `None`
    /// for one that is not cached (failures are evaluated again every time, which keeps
    /// their messages exactly what the evaluator says).
    pub fn record(&self, key: &str, expanded: &Expanded) -> Option<Vec<u8>> {
        let (Ok(files), Some(inputs)) = (&expanded.result, &expanded.inputs) else {
            return None;
        };
        let index: HashMap<&Path, usize> = files
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_path(), i))
            .collect();
        let mut objects = Vec::with_capacity(files.objects.len());
        for object in &files.objects {
            let file = *index.get(object.file.as_path())?;
            objects.push(ObjectHeader {
                file,
                pointer: object.pointer.clone(),
                api_version: object.id.api_version.clone(),
                kind: object.id.kind.clone(),
                namespace: object.id.namespace.clone(),
                name: object.id.name.clone(),
            });
        }
        let header = Header {
            key: key.to_owned(),
            tool: self.store.tool().to_owned(),
            entry: expanded.entry.path.clone(),
            inputs: inputs
                .iter()
                .map(|i| match &i.seen {
                    Seen::File(digest) => InputHeader::File(i.path.clone(), digest.to_hex()),
                    Seen::Absent => InputHeader::Absent(i.path.clone()),
                    Seen::Link(target) => InputHeader::Link(i.path.clone(), target.clone()),
                })
                .collect(),
            files: files
                .files
                .iter()
                .map(|f| FileHeader {
                    path: f.path.clone(),
                    item: f.item.clone(),
                    bytes: f.text.len(),
                    digest: f.digest.to_hex(),
                })
                .collect(),
            objects,
            problems: files.problems.clone(),
            traces: expanded.traces.clone(),
        };
        // A path that is not UTF-8 cannot be written as JSON: such an entry is not cached.
        let mut body = serde_json::to_vec(&header).ok()?;
        body.push(b'\n');
        for file in &files.files {
            body.extend_from_slice(file.text.as_bytes());
        }
        Some(store::seal(MAGIC, &body))
    }

    /// Saves `new` records (key, record) and drops the `rejected` keys' records (see
    /// [`Store::save_buckets`]). Returns how many records were written.
    pub fn save(
        &self,
        new: Vec<(String, Vec<u8>)>,
        rejected: &[String],
    ) -> Result<usize, StoreError> {
        self.store.save_buckets(MAGIC, new, rejected)
    }
}

impl Record {
    /// The inputs the entry's value was computed from.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The entry's expansion, rebuilt from the files it produced: the same files, objects
    /// and problems an evaluation gives, and the recorded inputs. The evaluation's trace
    /// lines go to `events` again, as the evaluation would have sent them. A file that is
    /// one object is not parsed here: its object's value is, when a check reads it.
    pub fn into_expanded(
        self,
        repo: &Repository,
        entry: &Entry,
        events: &dyn Events,
    ) -> Result<Expanded, Rejection> {
        let started = std::time::Instant::now();
        for line in &self.traces {
            let shown = crate::model::text::visible(line.trim_end_matches('\n'));
            events.emit(Event::Trace(&format!("{shown}\n")));
        }
        let objects = self.rebuilt_objects(repo, entry, |_| true)?;
        Ok(Expanded {
            entry: entry.clone(),
            cluster: repo.clusters[entry.cluster].name.clone(),
            elapsed: started.elapsed(),
            result: Ok(ExpandedFiles {
                files: self.files,
                objects,
                problems: self.problems,
            }),
            inputs: Some(self.inputs),
            traces: self.traces,
        })
    }

    /// The entry's objects as its record lists them, without parsing its files: identities
    /// and generated files only, each value `null`, except that objects of the kinds in
    /// `parse` get their values (and their places and digests).
    pub fn objects(&self, repo: &Repository, entry: &Entry, parse: &[&str]) -> Vec<Object> {
        let wanted = |header: &ObjectHeader| parse.contains(&header.kind.as_str());
        // A file that does not hold what its header says gives no values: the objects are
        // still known by name, as a record that parses nothing knows them.
        self.rebuilt_objects(repo, entry, wanted)
            .or_else(|_| self.rebuilt_objects(repo, entry, |_| false))
            .unwrap_or_default()
    }

    /// The record's objects, each `wanted` one with its value (parsed from its file only
    /// when the file holds several objects, else when read), place and digest; the others
    /// with their identities and files only.
    fn rebuilt_objects(
        &self,
        repo: &Repository,
        entry: &Entry,
        wanted: impl Fn(&ObjectHeader) -> bool,
    ) -> Result<Vec<Object>, Rejection> {
        let cluster = &repo.clusters[entry.cluster].name;
        // Files that are not one object at their top (a List, a map of objects) are parsed
        // once here and their objects taken out of them.
        let mut parsed: HashMap<usize, serde_json::Value> = HashMap::new();
        let mut objects = Vec::with_capacity(self.objects.len());
        for (file, header) in &self.objects {
            let produced = &self.files[*file];
            let id = ObjectId {
                cluster: cluster.clone(),
                entry: entry.path.clone(),
                item: produced.item.clone(),
                api_version: header.api_version.clone(),
                kind: header.kind.clone(),
                namespace: header.namespace.clone(),
                name: header.name.clone(),
            };
            if !wanted(header) {
                objects.push(Object {
                    id,
                    value: ObjectValue::default(),
                    file: produced.path.clone(),
                    pointer: String::new(),
                    digest: None,
                });
                continue;
            }
            let value = if header.pointer.is_empty() {
                ObjectValue::in_text(produced.text.clone())
            } else {
                let whole = match parsed.entry(*file) {
                    std::collections::hash_map::Entry::Occupied(whole) => whole.into_mut(),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(serde_json::from_str(&produced.text).map_err(|source| {
                            Rejection::FileNotJson {
                                path: produced.path.clone(),
                                source,
                            }
                        })?)
                    }
                };
                // Objects never hold one another: each place is taken once.
                let taken = whole
                    .pointer_mut(&header.pointer)
                    .map(serde_json::Value::take)
                    .ok_or(Rejection::ObjectPlace)?;
                ObjectValue::parsed(taken)
            };
            objects.push(Object {
                id,
                value,
                file: produced.path.clone(),
                digest: Some(Digest::of_object_in(&produced.digest, &header.pointer)),
                pointer: header.pointer.clone(),
            });
        }
        Ok(objects)
    }
}

/// The repository's files as they are now, for checking recorded inputs: each path is
/// looked at once per run, however many records name it.
pub struct WorkTree {
    root: PathBuf,
    seen: Mutex<HashMap<PathBuf, Arc<Look>>>,
}

/// One path as it is now.
struct Look {
    content: Content,
    /// Every symbolic link on the way to the path (relative path, target), the path itself
    /// included when it is one.
    links: Vec<(PathBuf, PathBuf)>,
}

/// What the sandbox would find at a path, links followed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Content {
    Absent,
    File(Digest),
    /// Neither: a directory, a special file, a link leading out of the repository, an
    /// unreadable file, a way that cannot be followed. No record can match it; evaluating
    /// says what is wrong.
    Unusable,
}

impl WorkTree {
    pub fn new(root: &Path) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether every input is still as recorded — a file with its content, nothing, a
    /// link with its target — and every link on the way to any of them now is one the
    /// inputs list: a link that appeared, or a directory turned into one, would make an
    /// import resolve elsewhere with every recorded path unchanged.
    pub fn unchanged(&self, inputs: &[Input]) -> bool {
        let recorded: HashMap<&Path, &Path> = inputs
            .iter()
            .filter_map(|input| match &input.seen {
                Seen::Link(target) => Some((input.path.as_path(), target.as_path())),
                _ => None,
            })
            .collect();
        inputs.iter().all(|input| {
            let now = self.look(&input.path);
            let same_way = now
                .links
                .iter()
                .all(|(path, target)| recorded.get(path.as_path()) == Some(&target.as_path()));
            same_way
                && match &input.seen {
                    Seen::File(digest) => now.content == Content::File(*digest),
                    Seen::Absent => now.content == Content::Absent,
                    // Still a link: the last one met on the way to itself.
                    Seen::Link(_) => now.links.iter().any(|(path, _)| *path == input.path),
                }
        })
    }

    fn look(&self, relative: &Path) -> Arc<Look> {
        if let Some(look) = self.seen.lock().ok().and_then(|m| m.get(relative).cloned()) {
            return look;
        }
        let look = Arc::new(self.examine(relative));
        if let Ok(mut map) = self.seen.lock() {
            map.insert(relative.to_path_buf(), look.clone());
        }
        look
    }

    fn examine(&self, relative: &Path) -> Look {
        let full = self.root.join(relative);
        let walked = links::walk(&self.root, &full);
        let links = walked
            .links
            .into_iter()
            .filter_map(|link| {
                let path = link.path.strip_prefix(&self.root).ok()?.to_path_buf();
                Some((path, link.target))
            })
            .collect();
        let content = match walked.end {
            End::Stuck => Content::Unusable,
            End::Reached(real) => Self::content_of_real(&real),
            End::Missing | End::Outside => self.content(&full),
        };
        Look { content, links }
    }

    /// What the sandbox finds at `real`, a path inside the root with no link left (where
    /// the walk ended having followed every link, or a path resolved): only its own kind is
    /// left to check before reading it. Resolving a walked path again cost a dozen system
    /// calls per input, for every entry of a warm run.
    fn content_of_real(real: &Path) -> Content {
        match fs::symlink_metadata(real) {
            Ok(meta) if meta.is_file() => match fs::read(real) {
                Ok(bytes) => Content::File(Digest::of(&bytes)),
                Err(e) if e.kind() == ErrorKind::NotFound => Content::Absent,
                Err(_) => Content::Unusable,
            },
            Ok(_) => Content::Unusable,
            Err(e) if e.kind() == ErrorKind::NotFound => Content::Absent,
            Err(_) => Content::Unusable,
        }
    }

    /// As the sandbox would see the path: only a regular file whose real path is inside
    /// the repository is read (a committed link to `/dev/zero` must not be hashed).
    fn content(&self, full: &Path) -> Content {
        match fs::symlink_metadata(full) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Content::Absent,
            Err(_) => return Content::Unusable,
            Ok(_) => {}
        }
        let Ok(real) = full.canonicalize() else {
            return Content::Unusable;
        };
        if !real.starts_with(&self.root) {
            return Content::Unusable;
        }
        Self::content_of_real(&real)
    }
}

/// A relative path of plain names only, as the cache writes them.
fn plain_relative(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(text: &str) -> (tempfile::TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "vendor", "clusters/dev", "clusters/int"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let repo = crate::cli::config::Config::parse(text, dir.path().canonicalize().unwrap())
            .unwrap()
            .repo;
        (dir, repo)
    }

    /// Every event, as the sink saw it: what a terminal or log would have been sent.
    #[derive(Default)]
    struct Collected(Mutex<Vec<String>>);

    impl Events for Collected {
        fn emit(&self, event: Event<'_>) {
            self.0.lock().unwrap().push(format!("{event:?}"));
        }
    }

    /// Progress and traces reach the sink as events, and a record taken from the cache sends
    /// the same trace lines, byte for byte, as the evaluation it replaces.
    #[test]
    fn an_evaluation_and_its_record_send_the_same_traces() {
        let (dir, repo) = repo_with("[[cluster]]\nname = \"dev\"\n");
        fs::write(
            dir.path().join("clusters/dev/a.jsonnet"),
            "std.trace('hello \\u001b[2J', { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'x' } } })",
        )
        .unwrap();
        let entry = Entry {
            cluster: 0,
            path: PathBuf::from("clusters/dev/a.jsonnet"),
            stem: "a".into(),
        };
        let evaluating = std::sync::Arc::new(Collected::default());
        let sink: std::sync::Arc<dyn Events> = evaluating.clone();
        let expanded = expand::expand_all(&repo, std::slice::from_ref(&entry), &sink);
        let seen = evaluating.0.lock().unwrap().clone();
        let trace = "Trace(\"TRACE: hello \\\\u{1b}[2J\\n\")";
        assert_eq!(
            seen,
            [
                "Begin { what: \"expanding\", total: Some(1), log_every: None }",
                trace,
                "Progress { done: 1, status: \"entries\" }",
                "End",
            ],
            "{seen:#?}"
        );

        let cache_dir = tempfile::tempdir().unwrap();
        let store = Store::open_as(cache_dir.path(), &repo.root, "t".into()).unwrap();
        let records = Records::in_store(&store);
        let key = records.key(&repo, &entry);
        let record = records.record(&key, &expanded[0]).expect("a record");
        records.save(vec![(key.clone(), record)], &[]).unwrap();
        let loaded = records.load(std::slice::from_ref(&key));
        let tree = WorkTree::new(&repo.root);
        let hit = records
            .lookup(&loaded, &repo, &entry, &key, &tree)
            .expect("a hit");
        let replaying = Collected::default();
        let rebuilt = hit.into_expanded(&repo, &entry, &replaying).unwrap();
        assert_eq!(*replaying.0.lock().unwrap(), [trace]);
        assert_eq!(rebuilt.traces, expanded[0].traces);
    }

    /// Every setting that shapes an entry's output, or decides whether its evaluation
    /// succeeds, is part of its key.
    #[test]
    fn the_key_covers_what_shapes_the_output() {
        let base = "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n";
        let entry = |cluster: usize, path: &str| Entry {
            cluster,
            path: PathBuf::from(path),
            stem: "a".into(),
        };
        let key = |text: &str, tool: &str, e: &Entry| {
            let (dir, repo) = repo_with(text);
            let cache_dir = tempfile::tempdir().unwrap();
            let store = Store::open_as(cache_dir.path(), &repo.root, tool.into()).unwrap();
            let key = Records::in_store(&store).key(&repo, e);
            drop(dir);
            key
        };
        let dev = entry(0, "clusters/dev/a.jsonnet");
        let reference = key(base, "t", &dev);
        assert_eq!(key(base, "t", &dev), reference, "keys are stable");
        let mut seen = std::collections::HashSet::from([reference.clone()]);
        for (what, text, tool, e) in [
            ("tool", base.to_owned(), "u", dev.clone()),
            (
                "entry",
                base.to_owned(),
                "t",
                entry(0, "clusters/dev/b.jsonnet"),
            ),
            (
                "cluster",
                base.to_owned(),
                "t",
                entry(1, "clusters/dev/a.jsonnet"),
            ),
            (
                "ext var",
                format!("[ext_vars]\nx = \"1\"\n{base}"),
                "t",
                dev.clone(),
            ),
            (
                "jpath",
                format!("jpath = [\"vendor\", \"lib\"]\n{base}"),
                "t",
                dev.clone(),
            ),
            (
                "generated",
                format!("generated = \"out\"\n{base}"),
                "t",
                dev.clone(),
            ),
            (
                "layout",
                format!("layout = \"per-file\"\n{base}"),
                "t",
                dev.clone(),
            ),
            (
                "items field",
                format!("items_field = \"objects\"\n{base}"),
                "t",
                dev.clone(),
            ),
            ("indent", format!("indent = 3\n{base}"), "t", dev.clone()),
            (
                "max stack",
                format!("max_stack = 100\n{base}"),
                "t",
                dev.clone(),
            ),
            (
                "evaluation budget",
                format!("[limits]\nevaluation_seconds = 5\n{base}"),
                "t",
                dev.clone(),
            ),
        ] {
            assert!(
                seen.insert(key(&text, tool, &e)),
                "{what} does not change the key"
            );
        }
        // What cannot change an expansion is not in it: the format_only verdict.
        assert_eq!(
            key(&format!("format_only = \"fail\"\n{base}"), "t", &dev),
            reference
        );
    }

    #[test]
    fn records_with_paths_outside_the_entrys_place_are_refused() {
        let (dir, repo) = repo_with("[[cluster]]\nname = \"dev\"\n");
        fs::write(dir.path().join("clusters/dev/a.jsonnet"), "{}").unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let store = Store::open_as(cache_dir.path(), &repo.root, "t".into()).unwrap();
        let cache = Records::in_store(&store);
        let entry = Entry {
            cluster: 0,
            path: PathBuf::from("clusters/dev/a.jsonnet"),
            stem: "a".into(),
        };
        let key = cache.key(&repo, &entry);
        let record = |header: Header, payload: &str| {
            let mut body = serde_json::to_vec(&header).unwrap();
            body.push(b'\n');
            body.extend_from_slice(payload.as_bytes());
            store::seal(MAGIC, &body)
        };
        let header = |path: &str, item: Option<&str>, input: &str| Header {
            key: key.clone(),
            tool: "t".into(),
            entry: entry.path.clone(),
            inputs: vec![
                InputHeader::File(entry.path.clone(), Digest::of(b"{}").to_hex()),
                InputHeader::Absent(PathBuf::from(input)),
            ],
            files: vec![FileHeader {
                path: PathBuf::from(path),
                item: item.map(str::to_owned),
                bytes: 2,
                digest: Digest::of(b"{}").to_hex(),
            }],
            objects: Vec::new(),
            problems: Vec::new(),
            traces: Vec::new(),
        };
        let good = record(header("generated/dev/a/x.json", Some("x"), "lib/x"), "{}");
        assert!(cache.decode(&repo, &entry, &key, &good).is_ok());
        let place = std::mem::discriminant(&Rejection::FilePlace(PathBuf::new()));
        let layout = std::mem::discriminant(&Rejection::FileLayout(PathBuf::new()));
        let input_path = std::mem::discriminant(&Rejection::InputPath(PathBuf::new()));
        for (path, item, input, expected) in [
            ("generated/dev/b/x.json", Some("x"), "lib/x", place),
            (
                "generated/dev/a/../../../etc/x.json",
                Some("x"),
                "lib/x",
                place,
            ),
            ("generated/dev/a/y.json", Some("x"), "lib/x", place),
            ("generated/dev/a/x.json", None, "lib/x", layout),
            ("generated/dev/a/x.json", Some("x"), "../x", input_path),
            (
                "generated/dev/a/x.json",
                Some("x"),
                "/etc/passwd",
                input_path,
            ),
        ] {
            let bytes = record(header(path, item, input), "{}");
            let error = cache.decode(&repo, &entry, &key, &bytes).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&error),
                expected,
                "{path} {item:?} {input}: {error}"
            );
        }
        let short = record(header("generated/dev/a/x.json", Some("x"), "lib/x"), "{");
        assert!(matches!(
            cache.decode(&repo, &entry, &key, &short),
            Err(Rejection::PayloadShort)
        ));

        // A link's path is held to the same rule; its target is only ever compared.
        for (link, accepted) in [("lib/v", true), ("../v", false), ("/lib/v", false)] {
            let mut with_link = header("generated/dev/a/x.json", Some("x"), "lib/x");
            with_link
                .inputs
                .push(InputHeader::Link(link.into(), "/etc/../v1".into()));
            let bytes = record(with_link, "{}");
            assert_eq!(
                cache.decode(&repo, &entry, &key, &bytes).is_ok(),
                accepted,
                "{link}"
            );
        }
        // Inputs that do not hold the entry are not an evaluation's.
        let mut without_entry = header("generated/dev/a/x.json", Some("x"), "lib/x");
        without_entry.inputs.remove(0);
        let bytes = record(without_entry, "{}");
        assert!(cache.decode(&repo, &entry, &key, &bytes).is_err());
        // A file's digest names its objects in the later stages' memories: one that is not
        // a digest rejects the record.
        let mut unnamed = header("generated/dev/a/x.json", Some("x"), "lib/x");
        unnamed.files[0].digest = "not hex".into();
        let bytes = record(unnamed, "{}");
        assert!(cache.decode(&repo, &entry, &key, &bytes).is_err());
    }

    /// A record written before links were inputs (`[path, digest]` pairs) is rejected
    /// whole, never read as one whose inputs hold no links.
    #[test]
    fn a_record_in_the_shape_before_links_is_rejected() {
        let (dir, repo) = repo_with("[[cluster]]\nname = \"dev\"\n");
        fs::write(dir.path().join("clusters/dev/a.jsonnet"), "{}").unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let store = Store::open_as(cache_dir.path(), &repo.root, "t".into()).unwrap();
        let cache = Records::in_store(&store);
        let entry = Entry {
            cluster: 0,
            path: PathBuf::from("clusters/dev/a.jsonnet"),
            stem: "a".into(),
        };
        let key = cache.key(&repo, &entry);
        let old = serde_json::json!({
            "key": key,
            "tool": "t",
            "entry": "clusters/dev/a.jsonnet",
            "inputs": [
                ["clusters/dev/a.jsonnet", Digest::of(b"{}").to_hex()],
                ["clusters/dev/x.libsonnet", null],
            ],
            "files": [{ "path": "generated/dev/a/x.json", "item": "x", "bytes": 2 }],
            "objects": [],
            "traces": [],
        });
        let mut body = serde_json::to_vec(&old).unwrap();
        body.push(b'\n');
        body.extend_from_slice(b"{}");
        let bytes = store::seal(MAGIC, &body);
        let error = cache.decode(&repo, &entry, &key, &bytes).unwrap_err();
        assert!(matches!(error, Rejection::Header(_)), "{error}");
        assert!(
            error.to_string().starts_with("unreadable header: "),
            "{error}"
        );
    }

    /// Only regular files inside the repository are read; a link is followed only inside it.
    #[test]
    #[cfg(unix)]
    fn the_work_tree_reads_only_regular_files_inside_the_repository() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("lib/dir")).unwrap();
        fs::write(root.join("lib/x.libsonnet"), "x").unwrap();
        symlink("/dev/zero", root.join("lib/zero.libsonnet")).unwrap();
        symlink("dir", root.join("lib/to-dir.libsonnet")).unwrap();
        symlink("x.libsonnet", root.join("lib/to-x.libsonnet")).unwrap();
        let fifo = root.join("lib/pipe.libsonnet");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        let tree = WorkTree::new(&root);
        let content = |path: &str| tree.look(Path::new(path)).content;
        assert!(content("lib/x.libsonnet") == Content::File(Digest::of(b"x")));
        assert!(content("lib/to-x.libsonnet") == Content::File(Digest::of(b"x")));
        assert!(content("lib/zero.libsonnet") == Content::Unusable);
        assert!(content("lib/dir") == Content::Unusable);
        assert!(content("lib/to-dir.libsonnet") == Content::Unusable);
        assert!(content("lib/none.libsonnet") == Content::Absent);
        if made.is_ok_and(|s| s.success()) {
            assert!(content("lib/pipe.libsonnet") == Content::Unusable);
        }
    }

    /// A recorded link must still be a link with the recorded target, and no link the
    /// record does not list may lie on the way to any input now.
    #[cfg(unix)]
    #[test]
    fn the_work_tree_checks_the_links_on_the_way() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for (path, text) in [
            ("lib/v1/x.libsonnet", "same"),
            ("lib/v2/x.libsonnet", "same"),
            ("lib/v3/x.libsonnet", "same"),
        ] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), text).unwrap();
        }
        symlink("v1", root.join("lib/v")).unwrap();
        let input = |path: &str, seen: Seen| Input {
            path: PathBuf::from(path),
            seen,
        };
        let same = Seen::File(Digest::of(b"same"));
        let inputs = vec![
            input("lib/v", Seen::Link("v1".into())),
            input("lib/v/x.libsonnet", same.clone()),
            input("lib/v1/x.libsonnet", same.clone()),
            input("lib/v/y.libsonnet", Seen::Absent),
        ];
        assert!(WorkTree::new(&root).unchanged(&inputs));
        // Without the link among the inputs, the way to the import is not the recorded one.
        assert!(!WorkTree::new(&root).unchanged(&inputs[1..]));

        fs::remove_file(root.join("lib/v")).unwrap();
        symlink("v2", root.join("lib/v")).unwrap();
        assert!(!WorkTree::new(&root).unchanged(&inputs), "retargeted");

        fs::remove_file(root.join("lib/v")).unwrap();
        symlink("w", root.join("lib/v")).unwrap();
        symlink("v1", root.join("lib/w")).unwrap();
        let chained = [
            vec![
                input("lib/v", Seen::Link("w".into())),
                input("lib/w", Seen::Link("v1".into())),
            ],
            inputs[1..].to_vec(),
        ]
        .concat();
        assert!(WorkTree::new(&root).unchanged(&chained));
        assert!(
            !WorkTree::new(&root).unchanged(&inputs),
            "a link in between"
        );

        // A directory on a recorded real path turned into a link to identical files: every
        // recorded path has its bytes, but relative imports would resolve elsewhere.
        fs::rename(root.join("lib/v1"), root.join("lib/old")).unwrap();
        symlink("v3", root.join("lib/v1")).unwrap();
        assert!(!WorkTree::new(&root).unchanged(&chained));

        // A link turned back into what it led to is no link any more.
        fs::remove_file(root.join("lib/v1")).unwrap();
        fs::remove_file(root.join("lib/w")).unwrap();
        fs::rename(root.join("lib/old"), root.join("lib/w")).unwrap();
        let only_w = [
            vec![input("lib/v", Seen::Link("w".into()))],
            vec![input("lib/w", Seen::Link("v1".into()))],
        ]
        .concat();
        assert!(!WorkTree::new(&root).unchanged(&only_w));
    }

    #[test]
    fn plain_paths_only() {
        assert!(plain_relative(Path::new("lib/kube.libsonnet")));
        for bad in ["", "/etc/passwd", "../x", "lib/../x", "./x"] {
            assert!(!plain_relative(Path::new(bad)), "{bad}");
        }
    }
}

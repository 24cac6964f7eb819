//! A content-addressed cache of expansion results, outside the repository, so that a re-run
//! skips evaluating every entry whose inputs did not change (evaluation is most of a run).
//!
//! It works like ccache's direct mode or Bazel's action cache: which files an entry reads is
//! only known after evaluating it, so a first-level key names everything known beforehand
//! (entry path, ext vars, the configuration that shapes the output, tool and engine
//! versions) and leads to one record listing the entry's inputs with their digests (see
//! `imports`) and the files it produced. A record is used only when every input still has
//! the recorded content (or is still absent); otherwise the entry is evaluated and the
//! record replaced. Records live in a fixed number of bucket files chosen by key, not one
//! file per entry: creating thousands of small files made a run that wrote every record
//! (after a change to a shared library) twice as slow as no cache at all (BENCHMARKS.md).
//!
//! Nothing read from the cache is trusted before it is checked: a record carries its format
//! version, a SHA-256 of everything after it, its own key, and paths that must lie where
//! the entry's files belong. A truncated, garbled or foreign record is ignored (and
//! replaced), never an error. Buckets are written to a temporary file and renamed, so
//! concurrent runs see either the old or the new bucket, whole; of two runs rewriting one
//! bucket at once, the last wins and the other's new records are simply not cached.
//!
//! Where it lives is decided by whoever runs policyrun — `--cache-dir`, `POLICYRUN_CACHE_DIR`,
//! `$XDG_CACHE_HOME/policyrun`, `~/.cache/policyrun` — never by `policyrun.toml`: that file
//! comes with the pull request under review, and must not choose where the agent writes.
//! A directory inside the repository is refused for the same reason (a pull request could
//! commit forged records there).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::jsonnet::expand;
use crate::model::atomic::{self, Durability};
use crate::model::digest::Digest;
use crate::model::expansion::Entry;
use crate::model::expansion::Input;
use crate::model::expansion::{Expanded, Object, output_prefix};
use crate::model::outcome::ObjectId;
use crate::model::repository::{Layout, Repository};

/// Changes whenever the record layout changes; records of another format are ignored.
pub const FORMAT: u32 = 2;

/// The first line of every record.
const MAGIC: &str = "policyrun-expansion-cache";

/// The first line of every bucket file.
const BUCKET_MAGIC: &str = "policyrun-expansion-bucket";

/// How many bucket files a repository's records are spread over: few enough that writing
/// every record creates few files, enough that one changed entry rewrites a small one.
const BUCKETS: usize = 64;

/// The evaluator whose output is cached: another jrsonnet may evaluate or print values
/// differently. Checked against Cargo.lock by a unit test, so it cannot go stale.
pub const ENGINE: &str = "jrsonnet-evaluator 0.5.0-pre98, jrsonnet-stdlib 0.5.0-pre98";

/// The environment variable naming the cache directory (`--cache-dir` overrides it).
pub const DIR_VARIABLE: &str = "POLICYRUN_CACHE_DIR";

/// The default cache directory: `$POLICYRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/policyrun`,
/// else `~/.cache/policyrun`; `None` when none of these can be told.
pub fn default_dir() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    absolute(DIR_VARIABLE)
        .or_else(|| absolute("XDG_CACHE_HOME").map(|p| p.join("policyrun")))
        .or_else(|| absolute("HOME").map(|p| p.join(".cache").join("policyrun")))
}

/// The cache a run uses: none with `--no-cache`; `explicit` (`--cache-dir`) must be usable,
/// or the run stops (exit 2: the caller asked for it); the default directory is only used
/// when it is usable, otherwise the run goes on without a cache and the note says why.
/// `name` (`--cache-name`) names the repository's records in the directory instead of its
/// path, so that checkouts in different places share them.
pub fn for_run(
    repo: &Repository,
    explicit: Option<&Path>,
    name: Option<&str>,
    disabled: bool,
) -> Result<(Option<Cache>, Option<String>), String> {
    if disabled {
        return Ok((None, None));
    }
    if let Some(name) = name {
        check_name(name).map_err(|e| format!("--cache-name: {e}"))?;
    }
    let open = |dir: &Path| Cache::open_with(dir, repo, tool_version(), name);
    if let Some(dir) = explicit {
        return open(dir)
            .map(|cache| (Some(cache), None))
            .map_err(|e| format!("--cache-dir: {e}"));
    }
    let Some(dir) = default_dir() else {
        return Ok((
            None,
            Some(format!(
                "cache: no cache directory (set {DIR_VARIABLE}, XDG_CACHE_HOME or HOME); every entry is evaluated"
            )),
        ));
    };
    Ok(match open(&dir) {
        Ok(cache) => (Some(cache), None),
        Err(problem) => (
            None,
            Some(format!("cache: {problem}; every entry is evaluated")),
        ),
    })
}

/// What identifies the tool that produced a record: its version, the evaluator's, and the
/// build (a digest of the sources, the compiler and the profile, made by `build.rs`). A
/// development build changes evaluation without changing its version number, so each
/// build of other sources gets records of its own; builds of the same sources with the same
/// toolchain share them, wherever and whenever they were built (see [Jenkins] in README).
pub fn tool_version() -> String {
    format!(
        "policyrun {} (build {}); {ENGINE}",
        env!("CARGO_PKG_VERSION"),
        env!("POLICYRUN_BUILD_ID")
    )
}

/// One repository's records in a cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    /// `<cache dir>/expansions-v<FORMAT>/<repository>`.
    records: PathBuf,
    tool: String,
}

/// Why an entry's record was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// No record: never cached, or the configuration or tool changed.
    Absent,
    /// A record whose inputs changed since: the usual reason to evaluate again.
    Stale,
    /// A record that is unreadable, truncated, garbled or not ours: ignored and replaced.
    Rejected(String),
}

/// The buckets holding some entries' records, read once for a run.
pub struct Loaded {
    buckets: Vec<Vec<u8>>,
    /// Key → (bucket, the record's bytes in it).
    index: HashMap<String, (usize, std::ops::Range<usize>)>,
    /// Buckets that could not be read whole; the records after the damage are lost.
    pub notes: Vec<String>,
}

/// An entry's record, checked: its format, checksum, key and paths are sound.
#[derive(Debug, Clone)]
pub struct Record {
    inputs: Vec<Input>,
    traces: Vec<String>,
    /// Each produced file: path, item key and text.
    files: Vec<(PathBuf, Option<String>, String)>,
    objects: Vec<(usize, ObjectHeader)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    key: String,
    tool: String,
    entry: PathBuf,
    /// Path and hex digest; no digest: the path must not exist.
    inputs: Vec<(PathBuf, Option<String>)>,
    files: Vec<FileHeader>,
    /// Each object's identity, so that a run checking only some entries knows the others'
    /// objects without parsing their files.
    objects: Vec<ObjectHeader>,
    /// What `std.trace` printed during the evaluation, replayed on a hit.
    traces: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct FileHeader {
    path: PathBuf,
    item: Option<String>,
    bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ObjectHeader {
    file: usize,
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

/// The part of the configuration and environment an entry's output depends on besides
/// its inputs: everything in here is in the first-level key.
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
}

impl Cache {
    /// The cache for the repository at `repo.root` below `dir`, created when missing.
    /// An `Err` says why it cannot be used; the caller decides whether that stops the run.
    pub fn open(dir: &Path, repo: &Repository) -> Result<Cache, String> {
        Cache::open_as(dir, repo, tool_version())
    }

    /// As `open`, for records of the given tool version (tests use another).
    pub fn open_as(dir: &Path, repo: &Repository, tool: String) -> Result<Cache, String> {
        Cache::open_with(dir, repo, tool, None)
    }

    /// As `open_as`, the repository's records named `name` when given (see [`for_run`]),
    /// else after the repository's place.
    pub fn open_with(
        dir: &Path,
        repo: &Repository,
        tool: String,
        name: Option<&str>,
    ) -> Result<Cache, String> {
        let shown = dir.display();
        let dir = std::path::absolute(dir).map_err(|e| format!("cache directory {shown}: {e}"))?;
        // Decided before anything is created: a refused directory must not appear.
        if real_path(&dir).starts_with(&repo.root) {
            return Err(format!(
                "cache directory {shown} is inside the repository; it must live outside it (a pull request could commit records there)"
            ));
        }
        create_private_dir(&dir)?;
        let real = dir
            .canonicalize()
            .map_err(|e| format!("cache directory {shown}: {e}"))?;
        if real.starts_with(&repo.root) {
            return Err(format!(
                "cache directory {shown} is inside the repository; it must live outside it (a pull request could commit records there)"
            ));
        }
        let format_dir = real.join(format!("expansions-v{FORMAT}"));
        let records = format_dir.join(match name {
            Some(name) => format!("named-{name}"),
            None => repository_name(&repo.root),
        });
        for dir in [&format_dir, &records] {
            create_private_dir(dir)?;
            check_private(dir)?;
        }
        // Best effort: a cache that cannot note its use or tidy up still works.
        let now = SystemTime::now();
        let _ = touch(&records.join(LAST_USED), now);
        prune_unused(&format_dir, &records, now);
        Ok(Cache { records, tool })
    }

    /// This repository's record directory: deleting it clears the repository's cache.
    pub fn dir(&self) -> &Path {
        &self.records
    }

    /// The first-level key of an entry: a hex SHA-256 of everything its output depends on
    /// besides the files it reads.
    pub fn key(&self, repo: &Repository, entry: &Entry) -> String {
        let cluster = &repo.clusters[entry.cluster];
        let material = KeyMaterial {
            format: FORMAT,
            tool: &self.tool,
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
        };
        // Serialising plain strings, numbers and a sorted map cannot fail.
        let bytes = serde_json::to_vec(&material).unwrap_or_default();
        Digest::of(&bytes).to_hex()
    }

    fn bucket_path(&self, bucket: usize) -> PathBuf {
        self.records.join(format!("{bucket:02}.bucket"))
    }

    /// Reads the buckets that hold `keys`' records (in parallel: it is file I/O).
    pub fn load(&self, keys: &[String]) -> Loaded {
        let mut wanted: Vec<usize> = keys.iter().map(|k| bucket_of(k)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let read: Vec<(usize, Vec<u8>, Option<String>)> = wanted
            .par_iter()
            .filter_map(|&bucket| match fs::read(self.bucket_path(bucket)) {
                Ok(bytes) => Some((bucket, bytes, None)),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => Some((
                    bucket,
                    Vec::new(),
                    Some(format!("cannot read bucket {bucket:02}: {e}")),
                )),
            })
            .collect();
        let mut loaded = Loaded {
            buckets: Vec::with_capacity(read.len()),
            index: HashMap::new(),
            notes: Vec::new(),
        };
        for (bucket, bytes, problem) in read {
            loaded.notes.extend(problem);
            let (records, damage) = parse_bucket(&bytes);
            if let Some(damage) = damage {
                loaded.notes.push(format!(
                    "bucket {bucket:02} is damaged ({damage}); the records after it were ignored"
                ));
            }
            let at = loaded.buckets.len();
            for (key, range) in records {
                loaded.index.insert(key, (at, range));
            }
            loaded.buckets.push(bytes);
        }
        loaded
    }

    /// The entry's record when there is a sound one whose inputs are all unchanged in
    /// `tree`.
    pub fn lookup(
        &self,
        loaded: &Loaded,
        repo: &Repository,
        entry: &Entry,
        key: &str,
        tree: &WorkTree,
    ) -> Result<Record, Miss> {
        let Some((bucket, range)) = loaded.index.get(key) else {
            return Err(Miss::Absent);
        };
        let record = self
            .decode(repo, entry, key, &loaded.buckets[*bucket][range.clone()])
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
    ) -> Result<Record, String> {
        let (magic, rest) = split_line(bytes).ok_or("truncated before its format line")?;
        if magic != format!("{MAGIC} {FORMAT}").as_bytes() {
            return Err("not a record of this format".into());
        }
        let (checksum, body) = split_line(rest).ok_or("truncated before its checksum")?;
        if checksum != Digest::of(body).to_hex().as_bytes() {
            return Err("checksum mismatch (truncated or garbled)".into());
        }
        let (header, payload) = split_line(body).ok_or("truncated inside its header")?;
        let header: Header =
            serde_json::from_slice(header).map_err(|e| format!("unreadable header: {e}"))?;
        if header.key != key || header.tool != self.tool || header.entry != entry.path {
            return Err("a record of another entry or tool (foreign)".into());
        }
        let mut inputs = Vec::with_capacity(header.inputs.len());
        for (path, digest) in header.inputs {
            if !plain_relative(&path) {
                return Err(format!("input path {} is not plain", path.display()));
            }
            let digest = match digest {
                None => None,
                Some(hex) => Some(Digest::from_hex(&hex).ok_or("an input digest is not hex")?),
            };
            inputs.push(Input { path, digest });
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
                _ => {
                    return Err(format!(
                        "file {} does not fit the layout",
                        file.path.display()
                    ));
                }
            };
            if file.path != expected {
                return Err(format!(
                    "file {} is not where this entry's files go",
                    file.path.display()
                ));
            }
            let end = offset + file.bytes;
            let text = payload
                .get(offset..end)
                .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
                .ok_or("payload shorter than its header says, or not text")?;
            files.push((file.path, file.item, text));
            offset = end;
        }
        if offset != payload.len() {
            return Err("payload longer than its header says".into());
        }
        let mut objects = Vec::with_capacity(header.objects.len());
        for object in header.objects {
            if object.file >= files.len() {
                return Err("an object names a file the record does not hold".into());
            }
            objects.push((object.file, object));
        }
        Ok(Record {
            inputs,
            traces: header.traces,
            files,
            objects,
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
                api_version: object.id.api_version.clone(),
                kind: object.id.kind.clone(),
                namespace: object.id.namespace.clone(),
                name: object.id.name.clone(),
            });
        }
        let header = Header {
            key: key.to_owned(),
            tool: self.tool.clone(),
            entry: expanded.entry.path.clone(),
            inputs: inputs
                .iter()
                .map(|i| (i.path.clone(), i.digest.map(|d| d.to_hex())))
                .collect(),
            files: files
                .files
                .iter()
                .map(|f| FileHeader {
                    path: f.path.clone(),
                    item: f.item.clone(),
                    bytes: f.text.len(),
                })
                .collect(),
            objects,
            traces: expanded.traces.clone(),
        };
        // A path that is not UTF-8 cannot be written as JSON: such an entry is not cached.
        let mut body = serde_json::to_vec(&header).ok()?;
        body.push(b'\n');
        for file in &files.files {
            body.extend_from_slice(file.text.as_bytes());
        }
        let mut record = format!("{MAGIC} {FORMAT}\n{}\n", Digest::of(&body).to_hex()).into_bytes();
        record.extend_from_slice(&body);
        Some(record)
    }

    /// Saves `new` records (key, record) and drops the `rejected` keys' records: each
    /// bucket concerned is read again (another run may have written it meanwhile), the
    /// sound records in it kept, and it is written whole through a temporary file.
    /// Returns how many records were written.
    pub fn save(&self, new: Vec<(String, Vec<u8>)>, rejected: &[String]) -> Result<usize, String> {
        let mut by_bucket: BTreeMap<usize, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for key in rejected {
            by_bucket.entry(bucket_of(key)).or_default();
        }
        for (key, record) in new {
            by_bucket
                .entry(bucket_of(&key))
                .or_default()
                .push((key, record));
        }
        let results: Vec<Result<usize, String>> = by_bucket
            .into_par_iter()
            .map(|(bucket, new)| {
                let path = self.bucket_path(bucket);
                let old = fs::read(&path).unwrap_or_default();
                let (kept, _) = parse_bucket(&old);
                let mut records: BTreeMap<&str, &[u8]> = kept
                    .iter()
                    .filter(|(key, range)| {
                        !rejected.contains(key) && sound_record(&old[range.clone()])
                    })
                    .map(|(key, range)| (key.as_str(), &old[range.clone()]))
                    .collect();
                for (key, record) in &new {
                    records.insert(key, record);
                }
                let mut bytes = format!("{BUCKET_MAGIC} {FORMAT}\n").into_bytes();
                for (key, record) in records {
                    bytes.extend_from_slice(format!("{key} {}\n", record.len()).as_bytes());
                    bytes.extend_from_slice(record);
                }
                atomic::write_with(&path, &bytes, Durability::Unsynced)
                    .map(|()| new.len())
                    .map_err(|e| {
                        format!(
                            "cannot write to the cache in {}: {e}",
                            self.records.display()
                        )
                    })
            })
            .collect();
        let mut written = 0;
        for result in results {
            written += result?;
        }
        Ok(written)
    }
}

impl Record {
    /// The inputs the entry's value was computed from.
    pub fn inputs(&self) -> &[Input] {
        &self.inputs
    }

    /// The entry's expansion, rebuilt from the files it produced: the same files, objects
    /// and problems an evaluation gives, and the recorded inputs. The evaluation's trace
    /// lines are printed again, as the evaluation would have printed them.
    pub fn expanded(&self, repo: &Repository, entry: &Entry) -> Result<Expanded, String> {
        let started = std::time::Instant::now();
        for line in &self.traces {
            let shown = crate::model::text::visible(line.trim_end_matches('\n'));
            expand::print_trace_line(&format!("{shown}\n"));
        }
        let files = self
            .files
            .iter()
            .map(|(path, item, text)| (path.clone(), item.clone(), text.clone()));
        let result = expand::rebuild(repo, entry, files).map_err(|f| f.message)?;
        Ok(Expanded {
            entry: entry.clone(),
            cluster: repo.clusters[entry.cluster].name.clone(),
            elapsed: started.elapsed(),
            result: Ok(result),
            inputs: Some(self.inputs.clone()),
            traces: self.traces.clone(),
        })
    }

    /// The entry's objects as its record lists them, without parsing its files: identities
    /// and generated files only, each value `null`, except that objects of the kinds in
    /// `parse` get their values (the file is parsed for them).
    pub fn objects(&self, repo: &Repository, entry: &Entry, parse: &[&str]) -> Vec<Object> {
        let cluster = &repo.clusters[entry.cluster].name;
        let mut parsed: HashMap<usize, Vec<Object>> = HashMap::new();
        self.objects
            .iter()
            .map(|(file, header)| {
                let (path, item, text) = &self.files[*file];
                let id = ObjectId {
                    cluster: cluster.clone(),
                    entry: entry.path.clone(),
                    item: item.clone(),
                    api_version: header.api_version.clone(),
                    kind: header.kind.clone(),
                    namespace: header.namespace.clone(),
                    name: header.name.clone(),
                };
                let mut value = serde_json::Value::Null;
                if parse.contains(&header.kind.as_str()) {
                    let objects = parsed.entry(*file).or_insert_with(|| {
                        expand::rebuild(repo, entry, [(path.clone(), item.clone(), text.clone())])
                            .map(|files| files.objects)
                            .unwrap_or_default()
                    });
                    if let Some(object) = objects.iter().find(|o| o.id == id) {
                        value = object.value.clone();
                    }
                }
                Object {
                    id,
                    value,
                    file: path.clone(),
                }
            })
            .collect()
    }
}

/// The repository's files as they are now, for checking recorded inputs: each path is
/// looked at once per run, however many records name it.
pub struct WorkTree {
    root: PathBuf,
    seen: Mutex<HashMap<PathBuf, Seen>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    Absent,
    File(Digest),
    /// Neither: a directory, a special file, a link leading out of the repository, an
    /// unreadable file. No record can match it; evaluating says what is wrong.
    Unusable,
}

impl WorkTree {
    pub fn new(root: &Path) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Whether every input still has its recorded content, or is still absent.
    pub fn unchanged(&self, inputs: &[Input]) -> bool {
        inputs.iter().all(|input| {
            let now = self.look(&input.path);
            match input.digest {
                None => now == Seen::Absent,
                Some(digest) => now == Seen::File(digest),
            }
        })
    }

    fn look(&self, relative: &Path) -> Seen {
        if let Some(seen) = self.seen.lock().ok().and_then(|m| m.get(relative).copied()) {
            return seen;
        }
        let seen = self.examine(relative);
        if let Ok(mut map) = self.seen.lock() {
            map.insert(relative.to_path_buf(), seen);
        }
        seen
    }

    /// As the sandbox would see the path: only a regular file whose real path is inside
    /// the repository is read (a committed link to `/dev/zero` must not be hashed).
    fn examine(&self, relative: &Path) -> Seen {
        let full = self.root.join(relative);
        match fs::symlink_metadata(&full) {
            Err(e) if e.kind() == ErrorKind::NotFound => return Seen::Absent,
            Err(_) => return Seen::Unusable,
            Ok(_) => {}
        }
        let Ok(real) = full.canonicalize() else {
            return Seen::Unusable;
        };
        if !real.starts_with(&self.root) || !fs::metadata(&real).is_ok_and(|m| m.is_file()) {
            return Seen::Unusable;
        }
        match fs::read(&real) {
            Ok(bytes) => Seen::File(Digest::of(&bytes)),
            Err(_) => Seen::Unusable,
        }
    }
}

/// `<last component of the root>-<16 hex digits of its path's digest>`: unique per
/// checkout, and readable for whoever wants to delete one repository's records.
fn repository_name(root: &Path) -> String {
    let name: String = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let digest = Digest::of(root.as_os_str().as_encoded_bytes()).to_hex();
    format!("{}-{}", name.trim_start_matches('.'), &digest[..16])
}

/// A `--cache-name`: one plain directory name, readable in a listing.
fn check_name(name: &str) -> Result<(), String> {
    let plain = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 64 || !plain || name.starts_with('.') {
        return Err(format!(
            "`{}` must be 1 to 64 letters, digits, `-`, `_` or `.`, not starting with `.`",
            crate::model::text::visible(name)
        ));
    }
    Ok(())
}

/// A relative path of plain names only, as the cache writes them.
fn plain_relative(path: &Path) -> bool {
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// `path` (absolute) with the symbolic links of its existing part resolved, the rest as
/// given: where a directory would be created.
fn real_path(path: &Path) -> PathBuf {
    let mut existing = path;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => break,
        }
    }
    let mut real = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.into_iter().rev() {
        real.push(name);
    }
    real
}

/// The bucket a key's record lives in.
fn bucket_of(key: &str) -> usize {
    key.get(..2)
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
        % BUCKETS
}

/// The records of a bucket file (`<key> <length>` lines, each followed by the record),
/// as far as it can be read, and what stopped the reading when it did not reach the end.
fn parse_bucket(bytes: &[u8]) -> (Vec<(String, std::ops::Range<usize>)>, Option<String>) {
    let mut records = Vec::new();
    if bytes.is_empty() {
        return (records, None);
    }
    let Some((magic, _)) = split_line(bytes) else {
        return (records, Some("truncated before its format line".into()));
    };
    if magic != format!("{BUCKET_MAGIC} {FORMAT}").as_bytes() {
        return (records, Some("not a bucket of this format".into()));
    }
    let stop = |records: Vec<(String, std::ops::Range<usize>)>, what: &str| {
        let count = records.len();
        (records, Some(format!("{what} after {count} records")))
    };
    let mut at = magic.len() + 1;
    while at < bytes.len() {
        let Some((line, _)) = split_line(&bytes[at..]) else {
            return stop(records, "truncated");
        };
        let start = at + line.len() + 1;
        let parsed = std::str::from_utf8(line).ok().and_then(|line| {
            let (key, length) = line.split_once(' ')?;
            let valid = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
            Some((key.to_owned(), length.parse::<usize>().ok()?)).filter(|_| valid)
        });
        let Some((key, length)) = parsed else {
            return stop(records, "garbled");
        };
        let Some(end) = start.checked_add(length).filter(|&end| end <= bytes.len()) else {
            return stop(records, "truncated");
        };
        records.push((key, start..end));
        at = end;
    }
    (records, None)
}

/// Whether a record's format line and checksum hold (what a bucket rewrite keeps).
fn sound_record(record: &[u8]) -> bool {
    let Some((magic, rest)) = split_line(record) else {
        return false;
    };
    let Some((checksum, body)) = split_line(rest) else {
        return false;
    };
    magic == format!("{MAGIC} {FORMAT}").as_bytes()
        && checksum == Digest::of(body).to_hex().as_bytes()
}

fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    Some((&bytes[..end], &bytes[end + 1..]))
}

/// The file whose modification time says when a repository's records were last used.
const LAST_USED: &str = "last-used";

/// The file whose modification time says when unused records were last looked for.
const LAST_PRUNED: &str = ".last-pruned";

/// How long a repository's records outlive their last use. Every checkout (a worktree, a
/// CI workspace) has records of its own; those of one gone for this long are deleted.
const UNUSED_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How often a run looks for them.
const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Deletes the records of repositories not used for [`UNUSED_FOR`] (by their `last-used`
/// file, else the directory's own time), at most once per [`PRUNE_EVERY`]; never `this`
/// repository's, and nothing that is not a plain directory. Failures are ignored: other
/// runs may be deleting the same directories.
fn prune_unused(format_dir: &Path, this: &Path, now: SystemTime) -> usize {
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

/// Creates `path` if missing and sets its modification time to `now`.
fn touch(path: &Path, now: SystemTime) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?
        .set_modified(now)
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))
}

/// The directories policyrun owns in the cache must be this user's alone: records written
/// there by someone else would be believed.
fn check_private(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::symlink_metadata(dir)
            .map_err(|e| format!("cache directory {}: {e}", dir.display()))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "cache directory {} is not a directory owned by this user and writable by it alone; not using it",
                dir.display()
            ));
        }
    }
    Ok(())
}

/// The style stage's memory in a repository's cache directory: the digests of the sources
/// it found canonical, for one formatter and set of options (the salt).
const STYLE_FILE: &str = "style-canonical";
const STYLE_MAGIC: &str = "policyrun-style-canonical";

impl Cache {
    /// The body of a stage's memory file (`name`, starting with the line `magic FORMAT
    /// salt-digest body-digest`) when it was written for `salt` and is whole: a missing,
    /// damaged or foreign file is `None`, never trusted (its checksum is checked).
    pub fn read_memory(&self, name: &str, magic: &str, salt: &str) -> Option<Vec<u8>> {
        let bytes = fs::read(self.records.join(name)).ok()?;
        let (header, body) = split_line(&bytes)?;
        let expected = format!(
            "{magic} {FORMAT} {} {}",
            Digest::of(salt.as_bytes()).to_hex(),
            Digest::of(body).to_hex()
        );
        (header == expected.as_bytes()).then(|| body.to_vec())
    }

    /// Replaces a stage's memory file with `body`, for `salt`, atomically.
    pub fn write_memory(
        &self,
        name: &str,
        magic: &str,
        salt: &str,
        body: &[u8],
    ) -> Result<(), String> {
        let mut bytes = format!(
            "{magic} {FORMAT} {} {}\n",
            Digest::of(salt.as_bytes()).to_hex(),
            Digest::of(body).to_hex()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        atomic::write_with(&self.records.join(name), &bytes, Durability::Unsynced).map_err(|e| {
            format!(
                "cannot write to the cache in {}: {e}",
                self.records.display()
            )
        })
    }

    /// Digests of the sources found canonical before with `salt` (the formatter's version
    /// and options); empty when there are none, or they are for another salt, or the file
    /// is damaged.
    pub fn canonical_sources(&self, salt: &str) -> std::collections::HashSet<Digest> {
        let Some(body) = self.read_memory(STYLE_FILE, STYLE_MAGIC, salt) else {
            return Default::default();
        };
        body.split(|b| *b == b'\n')
            .filter_map(|line| Digest::from_hex(std::str::from_utf8(line).ok()?))
            .collect()
    }

    /// Replaces the memory with `digests` (this run's canonical sources), for `salt`.
    pub fn save_canonical_sources(
        &self,
        salt: &str,
        digests: &std::collections::BTreeSet<Digest>,
    ) -> Result<(), String> {
        let mut body = String::with_capacity(digests.len() * 65);
        for digest in digests {
            body.push_str(&digest.to_hex());
            body.push('\n');
        }
        self.write_memory(STYLE_FILE, STYLE_MAGIC, salt, body.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_unused_for_a_month_are_deleted_at_most_once_a_day() {
        let cache = tempfile::tempdir().unwrap();
        let format_dir = cache.path().join("expansions-v2");
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
    fn engine_matches_the_locked_evaluator() {
        let lock = include_str!("../Cargo.lock");
        for name in ["jrsonnet-evaluator", "jrsonnet-stdlib"] {
            let version = lock
                .split("[[package]]")
                .find(|p| p.contains(&format!("name = \"{name}\"\n")))
                .and_then(|p| p.split("version = \"").nth(1))
                .and_then(|v| v.split('"').next())
                .unwrap();
            assert!(
                ENGINE.contains(&format!("{name} {version}")),
                "ENGINE says {ENGINE}, Cargo.lock has {name} {version}"
            );
        }
    }

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

    /// Every setting that shapes an entry's output is part of its key.
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
            let cache = Cache::open_as(cache_dir.path(), &repo, tool.into()).unwrap();
            let key = cache.key(&repo, e);
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
        let cache = Cache::open_as(cache_dir.path(), &repo, "t".into()).unwrap();
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
            let mut bytes =
                format!("{MAGIC} {FORMAT}\n{}\n", Digest::of(&body).to_hex()).into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        };
        let header = |path: &str, item: Option<&str>, input: &str| Header {
            key: key.clone(),
            tool: "t".into(),
            entry: entry.path.clone(),
            inputs: vec![(PathBuf::from(input), None)],
            files: vec![FileHeader {
                path: PathBuf::from(path),
                item: item.map(str::to_owned),
                bytes: 2,
            }],
            objects: Vec::new(),
            traces: Vec::new(),
        };
        let good = record(header("generated/dev/a/x.json", Some("x"), "lib/x"), "{}");
        assert!(cache.decode(&repo, &entry, &key, &good).is_ok());
        for (path, item, input) in [
            ("generated/dev/b/x.json", Some("x"), "lib/x"),
            ("generated/dev/a/../../../etc/x.json", Some("x"), "lib/x"),
            ("generated/dev/a/y.json", Some("x"), "lib/x"),
            ("generated/dev/a/x.json", None, "lib/x"),
            ("generated/dev/a/x.json", Some("x"), "../x"),
            ("generated/dev/a/x.json", Some("x"), "/etc/passwd"),
        ] {
            let bytes = record(header(path, item, input), "{}");
            assert!(
                cache.decode(&repo, &entry, &key, &bytes).is_err(),
                "{path} {item:?} {input}"
            );
        }
        let short = record(header("generated/dev/a/x.json", Some("x"), "lib/x"), "{");
        assert!(cache.decode(&repo, &entry, &key, &short).is_err());
    }

    #[test]
    fn repository_names_are_readable_and_distinct() {
        let a = repository_name(Path::new("/work/repo"));
        let b = repository_name(Path::new("/other/repo"));
        assert!(a.starts_with("repo-") && b.starts_with("repo-"), "{a} {b}");
        assert_ne!(a, b);
        let odd = repository_name(Path::new("/x/..\u{1b}[2Jevil name"));
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !odd.starts_with('.'),
            "{odd}"
        );
    }

    #[test]
    fn cache_names_are_plain_directory_names() {
        for good in ["policyrun-gate", "a", "main_1.2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "..", "x\u{1b}", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_paths_only() {
        assert!(plain_relative(Path::new("lib/kube.libsonnet")));
        for bad in ["", "/etc/passwd", "../x", "lib/../x", "./x"] {
            assert!(!plain_relative(Path::new(bad)), "{bad}");
        }
    }
}

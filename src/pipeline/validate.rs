//! `policyrun validate` and `policyrun test`: the schema and policy stages of the gate on
//! plain JSON and YAML manifests
//! (files, directories, standard input), so that manifests from anywhere get the same
//! verdict as the expanded tree; `test` also judges any other JSON or YAML document, as
//! conftest does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::jsonnet::expand::identity;
use crate::model::manifests::{self, Format, Item, ReadError};
use crate::model::object::Target;
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status, shown_path};
use crate::model::value::ObjectValue;
use crate::pipeline::Error;
use crate::policy::{ClusterContext, Document, PolicyStage, waivers::Date};
use crate::schema::{self, Catalog, Settings, gvk::Gvk};

/// What `test` finds in directories: any data conftest would read, of the formats policyrun
/// parses.
const TEST_FORMATS: &[Format] = &[Format::Json, Format::Yaml, Format::Toml];

/// How `test` reads its files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    /// Every document of the run is one input (conftest's `--combine`).
    pub combine: bool,
    /// Every file is read in this format, whatever its extension (conftest's `--parser`).
    pub parser: Option<Format>,
}

/// Check name for input that is not a Kubernetes object at all.
pub const READ: &str = "read";

/// The message of a file that holds no object.
pub const NO_OBJECTS: &str =
    "no Kubernetes objects: the file holds no documents, only comments, or only empty Lists";

/// One object read from a manifest.
pub struct ManifestObject {
    pub id: ObjectId,
    pub value: ObjectValue,
    pub location: Location,
}

impl ManifestObject {
    /// The object as the schema and policy stages see it.
    pub fn target(&self) -> Target<'_> {
        Target {
            subject: subject(self),
            cluster: None,
            entry: Some(&self.id.entry),
            id: &self.id,
            value: &self.value,
            location: self.location.clone(),
            source: None,
            content: None,
        }
    }
}

/// Validates every object in `paths` (`-` is standard input). A path that does not exist,
/// or a run that found no file at all, is an `Err`: a gate that read nothing must not pass.
/// A file without objects is a skipped outcome (see [`read_objects`]). With `share`, objects
/// of equal content share one schema check.
///
/// Standard input is read a batch of documents at a time, each batch validated and dropped
/// before the next is read: a stream of any length takes the memory of one batch.
pub fn run(settings: Settings, paths: &[PathBuf], share: bool) -> Result<Vec<Outcome>, Error> {
    let mut catalog = Catalog::new(settings)?;
    let stdin = Path::new("-");
    let files: Vec<PathBuf> = paths.iter().filter(|p| *p != stdin).cloned().collect();
    let mut outcomes = Vec::new();
    let validate = |catalog: &mut Catalog, found: Vec<ManifestObject>| {
        let targets: Vec<Target> = found.iter().map(ManifestObject::target).collect();
        let input = schema::Input {
            targets: &targets,
            context: &[],
            share,
            // `validate` keeps no cache: its manifests come and go with each call.
            memory: None,
            every_object: false,
        };
        schema::run(catalog, input).outcomes
    };
    if !files.is_empty() {
        let (found, read) = read_objects(&files, Stage::Schema)?;
        outcomes.extend(read);
        outcomes.extend(validate(&mut catalog, found));
    }
    if files.len() < paths.len() {
        let mut stream = std::io::stdin().lock();
        let shape = manifests::Shape::Objects;
        let items = manifests::read_stream(&mut stream, stdin, shape, &mut |items| {
            let (found, read) = objects_of(items, Stage::Schema);
            outcomes.extend(read);
            outcomes.extend(validate(&mut catalog, found));
        })?;
        if items == 0 {
            outcomes.push(nothing_in(stdin, Stage::Schema));
        }
    }
    Ok(outcomes)
}

/// `policyrun test`: the policy stage on plain manifests and documents, like `conftest
/// test`. The Namespaces among the files are the ones policies see as created; `cluster`
/// gives the name and `[cluster.policy]` parameters to judge them as, if any. With
/// `reading.combine`, every document of the run is one input, `[{"path", "contents"}, ...]`.
/// With `share`, objects of equal inputs share one evaluation of a rule.
///
/// Standard input in YAML is judged a batch of documents at a time, so that a stream of any
/// length holds one batch of parsed documents: it is kept in an unnamed temporary file
/// (removed by the system when the run ends) and read twice, first for the Namespaces it
/// creates, which every object's verdict depends on. It is read whole where the run needs
/// every document at once: `--combine`, and Gatekeeper constraints (their inventory is
/// every object).
pub fn test(
    root: &Path,
    settings: &crate::policy::Settings,
    cluster: Option<ClusterContext>,
    paths: &[PathBuf],
    reading: Reading,
    share: bool,
) -> Result<Vec<Outcome>, Error> {
    if settings.is_empty() {
        return Err(Error::NoPolicies);
    }
    let mut stage = PolicyStage::new(root, settings);
    if !share {
        stage = stage.without_sharing();
    }
    let Reading { combine, parser } = reading;
    let stdin = Path::new("-");
    let stream = (paths.iter().any(|p| p == stdin)
        && !combine
        && matches!(parser, None | Some(Format::Yaml))
        && !stage.judges_objects_together())
    .then(spool_stdin)
    .transpose()?;
    let read = |path: &Path| {
        if combine {
            manifests::read_data(path, parser)
        } else {
            manifests::read_documents(path, parser)
        }
    };
    let (items, mut outcomes) =
        read_items(paths, Stage::Policy, TEST_FORMATS, &read, stream.is_some())?;
    let (found, plain) = judged_as(items, combine, &mut outcomes);
    let targets: Vec<Target> = found.iter().map(ManifestObject::target).collect();
    let mut namespaces = crate::policy::namespaces_by_cluster(&targets)
        .remove(&None)
        .unwrap_or_default();
    let mut streamed = 0;
    if let Some(spool) = &stream {
        streamed = read_spool(spool, &mut |items| {
            let (found, _) = judged_as(items, false, &mut Vec::new());
            let targets: Vec<Target> = found.iter().map(ManifestObject::target).collect();
            namespaces.extend(
                crate::policy::namespaces_by_cluster(&targets)
                    .remove(&None)
                    .unwrap_or_default(),
            );
        })?;
        if streamed == 0 {
            outcomes.push(nothing_in(stdin, Stage::Policy));
        }
    }
    if found.is_empty() && plain.is_empty() && outcomes.is_empty() && streamed == 0 {
        return Err(Error::NoDocuments {
            paths: paths.to_vec(),
        });
    }
    let combined = combine.then(|| combined_input(&plain));
    let documents: Vec<Document> = match &combined {
        Some(value) => vec![Document {
            subject: "combined input".to_owned(),
            file: None,
            value,
            location: None,
        }],
        None => plain.iter().map(Plain::document).collect(),
    };
    let mut context = cluster.unwrap_or_default();
    context.namespaces = namespaces;
    let contexts = HashMap::from([(None, context)]);
    let catalog = Catalog::new(Settings::default())?;
    let namespaced = |_: Option<&str>, id: &ObjectId| {
        catalog.namespaced(None, &Gvk::from_api_version(&id.api_version, &id.kind))
    };
    let whole = crate::policy::RunShare::whole();
    // Plain files come and go: there is no cache to remember their verdicts in.
    let (said, session) = stage.start(&contexts, &namespaced, Date::today(), &whole, None);
    outcomes.extend(said);
    let Some(mut session) = session else {
        return Ok(outcomes);
    };
    outcomes.extend(session.judge(&targets, &documents));
    if let Some(spool) = &stream {
        read_spool(spool, &mut |items| {
            let (found, plain) = judged_as(items, false, &mut outcomes);
            let targets: Vec<Target> = found.iter().map(ManifestObject::target).collect();
            let documents: Vec<Document> = plain.iter().map(Plain::document).collect();
            outcomes.extend(session.judge(&targets, &documents));
        })?;
    }
    outcomes.extend(session.finish());
    Ok(outcomes)
}

/// Copies standard input into an unnamed temporary file, readable only by this user and
/// gone when the run ends, so that it can be read more than once a batch at a time.
fn spool_stdin() -> Result<std::fs::File, Error> {
    let mut spool = tempfile::tempfile().map_err(Error::Spool)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut spool)
        .map_err(|source| ReadError::Stdin { source })?;
    Ok(spool)
}

/// Reads the spooled standard input from its start, a batch of documents at a time (see
/// [`manifests::read_stream`]); returns how many items it held.
fn read_spool(spool: &std::fs::File, take: &mut dyn FnMut(Vec<Item>)) -> Result<usize, ReadError> {
    use std::io::{Seek, SeekFrom};
    let mut file = spool;
    file.seek(SeekFrom::Start(0))
        .map_err(|source| ReadError::Stdin { source })?;
    let mut reader = std::io::BufReader::new(file);
    manifests::read_stream(
        &mut reader,
        Path::new("-"),
        manifests::Shape::Documents,
        take,
    )
}

/// What `test` judges among `items`: the Kubernetes objects, and the plain documents (with
/// `combine`, every document is plain); what cannot be judged is an outcome.
fn judged_as(
    items: Vec<Item>,
    combine: bool,
    outcomes: &mut Vec<Outcome>,
) -> (Vec<ManifestObject>, Vec<Plain>) {
    let mut found = Vec::new();
    let mut plain = Vec::new();
    for item in items {
        let location = Location {
            file: item.file.clone(),
            line: Some(item.line),
            column: None,
        };
        let value = match item.value {
            Ok(value) => value,
            Err(problem) => {
                outcomes.push(unreadable(
                    Stage::Policy,
                    &item.file,
                    Some(item.line),
                    problem,
                ));
                continue;
            }
        };
        if let Some(what) = scalar(&value) {
            // A YAML line without `key: value` reads as a string: judging it would pass
            // every rule that reads a field.
            outcomes.push(
                Outcome::new(Stage::Policy, READ, Status::Failed)
                    .entry(item.file.clone())
                    .subject(place(&location, &item.pointer))
                    .message(format!(
                        "not a document policies can judge: {what}, where rules read the fields of a mapping or the items of a list"
                    ))
                    .location(location),
            );
            continue;
        }
        // A document whose Kubernetes identity is incomplete (no `metadata.name`) is data
        // all the same: conftest judges it, as a document without an object context.
        if !combine && is_kubernetes(&value) && manifest_identity(&value).is_ok() {
            match object(&item.file, &item.pointer, value, location, Stage::Policy) {
                Ok(object) => found.push(object),
                Err(outcome) => outcomes.push(*outcome),
            }
        } else {
            plain.push(Plain {
                item: Item {
                    value: Ok(Value::Null),
                    ..item
                },
                value,
                location,
            });
        }
    }
    (found, plain)
}

/// A document of `test` that is not a Kubernetes object (or, with `--combine`, any).
struct Plain {
    /// Where it was read; its value is taken out into `value`.
    item: Item,
    value: Value,
    location: Location,
}

impl Plain {
    fn document(&self) -> Document<'_> {
        let mut subject = format!("{}[{}]", shown_path(&self.item.file), self.item.document);
        if !self.item.pointer.is_empty() {
            subject = format!("{subject} {}", self.item.pointer);
        }
        Document {
            subject,
            file: Some(&self.item.file),
            value: &self.value,
            location: Some(self.location.clone()),
        }
    }
}

/// conftest's combined input: one `{"path", "contents"}` per file in the order read, the
/// contents the file's document, or the list of its documents when it holds several.
fn combined_input(plain: &[Plain]) -> Value {
    let mut files: Vec<(&Path, Vec<&Value>)> = Vec::new();
    for document in plain {
        match files.last_mut() {
            Some((file, values)) if *file == document.item.file => values.push(&document.value),
            _ => files.push((&document.item.file, vec![&document.value])),
        }
    }
    Value::Array(
        files
            .into_iter()
            .map(|(file, values)| {
                let contents = match values.as_slice() {
                    [one] => (*one).clone(),
                    many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
                };
                serde_json::json!({"path": shown_path(file), "contents": contents})
            })
            .collect(),
    )
}

/// A mapping that names its `apiVersion` and `kind` means to be a Kubernetes object: it is
/// judged with the Kubernetes context, and a broken identity is a failure, not plain data.
fn is_kubernetes(value: &Value) -> bool {
    value.get("apiVersion").is_some() && value.get("kind").is_some()
}

/// What a document that is neither a mapping nor a list is, if it is one.
fn scalar(value: &Value) -> Option<&'static str> {
    match value {
        Value::Object(_) | Value::Array(_) => None,
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
        Value::Null => Some("null"),
    }
}

/// The files behind `paths`, read with `read`; a file that cannot be read is an outcome of
/// `stage`, a path that does not exist an `Err`. A file that holds nothing (empty, only
/// comments, only empty `List`s) is a skipped outcome saying so, as kubeconform passes such
/// a file: a manifest rendered empty is not broken. Only a run that found no file at all is
/// an `Err`.
fn read_items(
    paths: &[PathBuf],
    stage: Stage,
    formats: &[Format],
    read: &dyn Fn(&Path) -> Result<Vec<Item>, ReadError>,
    stdin_streamed: bool,
) -> Result<(Vec<Item>, Vec<Outcome>), Error> {
    let mut outcomes = Vec::new();
    let mut items = Vec::new();
    let mut files_found = 0;
    for path in paths {
        let files = if path == Path::new("-") && stdin_streamed {
            // Read by the caller, a batch at a time.
            files_found += 1;
            continue;
        } else if path == Path::new("-") {
            vec![path.clone()]
        } else {
            manifests::files_of(path, formats)?
        };
        files_found += files.len();
        for file in files {
            match read(&file) {
                Ok(read) if read.is_empty() => outcomes.push(nothing_in(&file, stage)),
                Ok(read) => items.extend(read),
                Err(problem) => outcomes.push(unreadable(stage, &file, None, problem.to_string())),
            }
        }
    }
    if files_found == 0 {
        let extensions: Vec<&str> = formats
            .iter()
            .flat_map(|f| match f {
                Format::Json => &[".json"][..],
                Format::Yaml => &[".yaml", ".yml"][..],
                Format::Toml => &[".toml"][..],
            })
            .copied()
            .collect();
        return Err(Error::NoFiles {
            extensions,
            paths: paths.to_vec(),
        });
    }
    Ok((items, outcomes))
}

/// The outcome of a file that holds no object: skipped, as kubeconform passes such a file.
fn nothing_in(file: &Path, stage: Stage) -> Outcome {
    Outcome::new(stage, READ, Status::Skipped)
        .entry(file.to_path_buf())
        .subject(Location::file(file).to_string())
        .message(NO_OBJECTS)
        .location(Location::file(file))
}

/// The Kubernetes object read at `file` and `pointer`, or why it is not one.
fn object(
    file: &Path,
    pointer: &str,
    value: Value,
    location: Location,
    stage: Stage,
) -> Result<ManifestObject, Box<Outcome>> {
    match manifest_identity(&value) {
        Ok(crate::jsonnet::expand::Identity {
            api_version,
            kind,
            namespace,
            name,
        }) => Ok(ManifestObject {
            id: ObjectId {
                cluster: String::new(),
                entry: file.to_path_buf(),
                item: (!pointer.is_empty()).then(|| pointer.to_owned()),
                api_version,
                kind,
                namespace,
                name,
            },
            value: value.into(),
            location,
        }),
        Err(problem) => Err(Box::new(
            Outcome::new(stage, READ, Status::Failed)
                .entry(file.to_path_buf())
                .subject(place(&location, pointer))
                .message(format!("not a Kubernetes object: {problem}"))
                .location(location),
        )),
    }
}

/// Reads every object in `paths`; input that is not an object is an outcome of `stage`.
pub fn read_objects(
    paths: &[PathBuf],
    stage: Stage,
) -> Result<(Vec<ManifestObject>, Vec<Outcome>), Error> {
    let (items, mut outcomes) = read_items(
        paths,
        stage,
        manifests::MANIFEST_FORMATS,
        &manifests::read_objects,
        false,
    )?;
    let (found, read) = objects_of(items, stage);
    outcomes.extend(read);
    Ok((found, outcomes))
}

/// The objects among `items`; anything that is not one is an outcome of `stage`.
fn objects_of(items: Vec<Item>, stage: Stage) -> (Vec<ManifestObject>, Vec<Outcome>) {
    let mut outcomes = Vec::new();
    let mut found = Vec::new();
    for item in items {
        let location = Location {
            file: item.file.clone(),
            line: Some(item.line),
            column: None,
        };
        let value = match item.value {
            Ok(value) => value,
            Err(problem) => {
                outcomes.push(unreadable(stage, &item.file, Some(item.line), problem));
                continue;
            }
        };
        match object(&item.file, &item.pointer, value, location, stage) {
            Ok(object) => found.push(object),
            Err(outcome) => outcomes.push(*outcome),
        }
    }
    (found, outcomes)
}

/// Who a manifest's object is: as the gate's `identity`, with what `kubectl create` takes
/// besides — an object named by `metadata.generateName` alone is known by that prefix (the
/// schema stage checks it as a prefix) — and a document lacking both `apiVersion` and
/// `kind` said to lack both. The gate keeps requiring `metadata.name`: it applies
/// server-side, by name.
fn manifest_identity(value: &Value) -> Result<crate::jsonnet::expand::Identity, String> {
    let absent = |v: Option<&Value>| v.is_none_or(|v| v.as_str() == Some(""));
    if absent(value.get("apiVersion")) && absent(value.get("kind")) {
        return Err("apiVersion and kind are missing".into());
    }
    let metadata = value.get("metadata");
    let generate_name = metadata
        .and_then(|m| m.get("generateName"))
        .and_then(Value::as_str)
        .filter(|prefix| !prefix.is_empty());
    match generate_name {
        Some(prefix) if absent(metadata.and_then(|m| m.get("name"))) => {
            // The identity of the object as if the prefix were its name; nothing else of
            // the object is copied.
            let mut named = serde_json::Map::new();
            for key in ["apiVersion", "kind"] {
                if let Some(field) = value.get(key) {
                    named.insert(key.to_owned(), field.clone());
                }
            }
            let mut meta = serde_json::Map::new();
            meta.insert("name".into(), Value::String(prefix.to_owned()));
            if let Some(namespace) = metadata.and_then(|m| m.get("namespace")) {
                meta.insert("namespace".into(), namespace.clone());
            }
            named.insert("metadata".into(), Value::Object(meta));
            identity(&Value::Object(named)).map_err(|e| e.to_string())
        }
        // `kubectl create` takes either; the gate's message names only the one it needs.
        _ => identity(value).map_err(|problem| {
            problem.to_string().replace(
                "metadata.name is missing",
                "metadata.name and metadata.generateName are missing",
            )
        }),
    }
}

/// `Kind namespace/name (file:line)`: names repeat across files, places do not.
fn subject(found: &ManifestObject) -> String {
    format!(
        "{} ({})",
        found.id.display_name(),
        place(
            &found.location,
            found.id.item.as_deref().unwrap_or_default()
        )
    )
}

fn place(location: &Location, pointer: &str) -> String {
    if pointer.is_empty() {
        location.to_string()
    } else {
        format!("{location} {pointer}")
    }
}

fn unreadable(stage: Stage, file: &Path, line: Option<usize>, problem: String) -> Outcome {
    let mut location = Location::file(file);
    location.line = line;
    Outcome::new(stage, READ, Status::Error)
        .entry(file.to_path_buf())
        .subject(location.to_string())
        .message(problem)
        .location(location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_hold_nothing_to_read_are_errors_of_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        assert!(matches!(
            run(Settings::default(), std::slice::from_ref(&missing), true),
            Err(Error::Read(ReadError::Io { path, .. })) if path == missing
        ));
        std::fs::write(dir.path().join("notes.txt"), "a: 1\n").unwrap();
        let err = run(Settings::default(), &[dir.path().to_path_buf()], true).unwrap_err();
        assert!(
            matches!(&err, Error::NoFiles { extensions, .. } if extensions == &[".json", ".yaml", ".yml"]),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "no manifest files (.json, .yaml, .yml) in {}",
                dir.path().display()
            )
        );
        let no_policies = test(
            dir.path(),
            &crate::policy::Settings::default(),
            None,
            &[dir.path().to_path_buf()],
            Reading::default(),
            true,
        );
        assert!(matches!(no_policies, Err(Error::NoPolicies)));
    }
}

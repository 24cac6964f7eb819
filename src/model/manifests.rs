//! Plain manifest files — JSON, or YAML with several documents — read into Kubernetes
//! objects with the file and line each came from, for `policyrun validate` and for CRD files;
//! or into plain documents of any shape, for `policyrun test` (conftest judges any data).
//! Every document is parsed on its own, so one broken document never hides the others.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;
use walkdir::WalkDir;

/// One object read from a manifest, or why a document (or a List item) is not one.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The file as the user named it (`-` for standard input).
    pub file: PathBuf,
    /// 1-based line where the document (or the problem) starts.
    pub line: usize,
    /// Where in the document the object sits (`/items/3` inside a List), empty at the top.
    pub pointer: String,
    /// 0-based index of the document in its file (a JSON file is one document); documents
    /// with no content (blank, only comments) are not counted.
    pub document: usize,
    pub value: Result<Value, String>,
}

/// The formats the readers parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    /// YAML as the Kubernetes tooling reads it (see [`super::yaml`]); JSON is YAML too.
    Yaml,
    /// TOML, for `policyrun test` (conftest reads it too).
    Toml,
}

impl Format {
    /// The format a file's extension names: `.json`, `.yaml`/`.yml`, `.toml`.
    pub fn of(path: &Path) -> Option<Format> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some(Format::Json),
            Some("yaml" | "yml") => Some(Format::Yaml),
            Some("toml") => Some(Format::Toml),
            _ => None,
        }
    }
}

/// Why a manifest file (or standard input) cannot be read at all; a document that does not
/// parse is an [`Item`] of its own, never this.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file or directory cannot be opened or read.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory tree cannot be walked.
    #[error("{}: {source}", .path.display())]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    /// Standard input cannot be read.
    #[error("standard input: {source}")]
    Stdin {
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{}: not UTF-8 text", .path.display())]
    NotText { path: PathBuf },
    /// No `--parser` was given and the file's extension names no format policyrun reads.
    #[error(
        "{}: policyrun reads JSON (.json), YAML (.yaml, .yml) and TOML (.toml), not {what}; `--parser json|yaml|toml` reads it as one of them",
        .path.display()
    )]
    UnknownFormat {
        path: PathBuf,
        /// `` `.ext` files `` or `files without an extension`.
        what: String,
    },
}

/// The formats of Kubernetes manifests, what `validate` finds in directories: JSON and YAML.
pub const MANIFEST_FORMATS: &[Format] = &[Format::Json, Format::Yaml];

/// The manifest files below `path`: the file itself, or every `.json`, `.yaml` and `.yml`
/// file in a directory tree (sorted, symbolic links not followed). The policy stage's
/// form, with the reason as text until it takes [`ReadError`] (issue 30); the others call
/// [`files_of`] with [`MANIFEST_FORMATS`].
pub fn files(path: &Path) -> Result<Vec<PathBuf>, String> {
    files_of(path, MANIFEST_FORMATS).map_err(|e| e.to_string())
}

/// As [`files`], for documents of any of `formats` (by extension).
pub fn files_of(path: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReadError> {
    let meta = fs::metadata(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    for item in WalkDir::new(path).follow_links(false).sort_by_file_name() {
        let item = item.map_err(|source| ReadError::Walk {
            path: path.to_path_buf(),
            source,
        })?;
        let known = Format::of(item.path()).is_some_and(|f| formats.contains(&f));
        if item.file_type().is_file() && known {
            found.push(item.into_path());
        }
    }
    Ok(found)
}

/// Reads a file (or standard input for `-`) into its objects: JSON by a `.json` extension,
/// else YAML (kubectl reads any file so). The policy stage's form, with the reason as text
/// until it takes [`ReadError`] (issue 30); the others call [`read_objects`].
pub fn read(path: &Path) -> Result<Vec<Item>, String> {
    read_objects(path).map_err(|e| e.to_string())
}

/// As [`read`].
pub fn read_objects(path: &Path) -> Result<Vec<Item>, ReadError> {
    let format = match Format::of(path) {
        Some(Format::Json) => Format::Json,
        _ => Format::Yaml,
    };
    read_as(path, Shape::Objects, format)
}

/// Reads a file (or standard input for `-`) into its documents as they are: arrays and
/// scalars are kept (the caller decides what they mean), a `List` is opened only when it is a
/// Kubernetes one (it has an `apiVersion`), and a `null` document is no document. The format
/// is `parser`, else the file's extension's; a file of another extension is an error (its
/// text read as YAML would give policies something it does not say).
pub fn read_documents(path: &Path, parser: Option<Format>) -> Result<Vec<Item>, ReadError> {
    read_as(path, Shape::Documents, format_for(path, parser)?)
}

/// Reads a file (or standard input for `-`) into its documents exactly as written: as
/// [`read_documents`], but no `List` is opened (`test --combine` hands policies the files'
/// documents, not the objects inside them).
pub fn read_data(path: &Path, parser: Option<Format>) -> Result<Vec<Item>, ReadError> {
    read_as(path, Shape::Data, format_for(path, parser)?)
}

/// The format to read `path` in: `parser`, else its extension's; standard input is YAML
/// (which JSON is too).
fn format_for(path: &Path, parser: Option<Format>) -> Result<Format, ReadError> {
    if let Some(format) = parser {
        return Ok(format);
    }
    if path == Path::new("-") {
        return Ok(Format::Yaml);
    }
    Format::of(path).ok_or_else(|| {
        let what = match path.extension().and_then(|e| e.to_str()) {
            Some(extension) => format!("`.{extension}` files"),
            None => "files without an extension".to_owned(),
        };
        ReadError::UnknownFormat {
            path: path.to_path_buf(),
            what,
        }
    })
}

/// What the reader expects a document to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Kubernetes objects: anything else is reported as not one.
    Objects,
    /// Any data, for policies in conftest's conventions; Kubernetes Lists opened.
    Documents,
    /// Any data, as written.
    Data,
}

fn read_as(path: &Path, shape: Shape, format: Format) -> Result<Vec<Item>, ReadError> {
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| ReadError::Stdin { source })?;
        text
    } else {
        let bytes = fs::read(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        String::from_utf8(bytes).map_err(|_| ReadError::NotText {
            path: path.to_path_buf(),
        })?
    };
    Ok(match format {
        Format::Toml => parse_toml(&text, path, shape),
        _ => parse_as(&text, path, format == Format::Json, shape),
    })
}

/// A TOML file: one document, a table (as conftest reads it: dates become their text).
fn parse_toml(text: &str, file: &Path, shape: Shape) -> Vec<Item> {
    let mut out = Vec::new();
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => match toml_json(toml::Value::Table(table)) {
            Ok(value) => flatten(value, file, (1, 0), String::new(), shape, &mut out),
            Err(problem) => out.push(Item {
                file: file.to_path_buf(),
                line: 1,
                pointer: String::new(),
                document: 0,
                value: Err(format!("not valid TOML for JSON: {problem}")),
            }),
        },
        Err(e) => {
            let line = e.span().map_or(1, |span| {
                text[..span.start.min(text.len())].matches('\n').count() + 1
            });
            out.push(Item {
                file: file.to_path_buf(),
                line,
                pointer: String::new(),
                document: 0,
                value: Err(format!("not valid TOML: {}", e.message())),
            });
        }
    }
    out
}

/// A TOML value as JSON data: dates and times as their TOML text; a float JSON cannot hold
/// (`inf`, `nan`) is an error.
fn toml_json(value: toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(number) => Value::from(number),
        toml::Value::Float(float) => serde_json::Number::from_f64(float)
            .map(Value::Number)
            .ok_or_else(|| format!("`{float}` is a float JSON cannot hold"))?,
        toml::Value::Boolean(flag) => Value::Bool(flag),
        toml::Value::Datetime(datetime) => Value::String(datetime.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(toml_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| toml_json(value).map(|value| (key, value)))
                .collect::<Result<serde_json::Map<_, _>, _>>()?,
        ),
    })
}

/// Parses manifest text: JSON when `json` is set, else a YAML stream (JSON is YAML too).
pub fn parse(text: &str, file: &Path, json: bool) -> Vec<Item> {
    parse_as(text, file, json, Shape::Objects)
}

fn parse_as(text: &str, file: &Path, json: bool, shape: Shape) -> Vec<Item> {
    let mut out = Vec::new();
    if json {
        // A blank file holds no document, as a blank YAML file does.
        if text.trim().is_empty() {
            return out;
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Null) if shape != Shape::Objects => {}
            Ok(value) => flatten(value, file, (1, 0), String::new(), shape, &mut out),
            Err(e) => out.push(Item {
                file: file.to_path_buf(),
                line: e.line(),
                pointer: String::new(),
                document: 0,
                value: Err(format!("not valid JSON: {e}")),
            }),
        }
        return out;
    }
    let documents = yaml_documents(text)
        .into_iter()
        .enumerate()
        .map(|(index, (line, document))| (line, index, document))
        .collect();
    out.extend(parse_yaml_documents(documents, file, shape));
    out
}

/// Text of standard input read before its documents are parsed and handed on: a stream
/// of any length is held a batch at a time (with its parsed values, about 40 times this).
const STREAM_BATCH_BYTES: usize = 1 << 20;

/// Reads a YAML stream (standard input) as its whole text is read in `shape` ([`parse`] for
/// objects, [`read_documents`] for documents), a batch of whole documents at a time: each
/// batch's items go to `take` and are dropped with it, so the stream is never held whole.
/// Documents are split, numbered and placed exactly as in the whole text. Returns how many
/// items were read.
pub fn read_stream(
    reader: &mut dyn std::io::BufRead,
    file: &Path,
    shape: Shape,
    take: &mut dyn FnMut(Vec<Item>),
) -> Result<usize, ReadError> {
    let mut batch = Batch {
        file,
        shape,
        take,
        documents: Vec::new(),
        bytes: 0,
        next_index: 0,
        items: 0,
    };
    let mut line = String::new();
    let mut line_number = 0;
    let mut document = String::new();
    let mut document_line = 1;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|source| ReadError::Io {
                path: file.to_path_buf(),
                source,
            })?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let content = line.trim_end_matches('\n');
        if is_marker(content, "---") || is_marker(content, "...") {
            let next = if is_marker(content, "---") {
                // `--- value` keeps its content on the marker line.
                line[3..].to_owned()
            } else {
                String::new()
            };
            batch.keep(std::mem::replace(&mut document, next), document_line);
            document_line = line_number;
        } else {
            document.push_str(&line);
        }
        if batch.bytes >= STREAM_BATCH_BYTES {
            batch.flush();
        }
    }
    batch.keep(document, document_line);
    batch.flush();
    Ok(batch.items)
}

/// The documents of a stream read but not yet handed on.
struct Batch<'a> {
    file: &'a Path,
    shape: Shape,
    take: &'a mut dyn FnMut(Vec<Item>),
    /// Each document's first line, index among the stream's documents, and text.
    documents: Vec<(usize, usize, String)>,
    bytes: usize,
    next_index: usize,
    items: usize,
}

impl Batch<'_> {
    /// A document read whole; one without content is no document and takes no index.
    fn keep(&mut self, document: String, line: usize) {
        if has_content(&document) {
            self.bytes += document.len();
            self.documents.push((line, self.next_index, document));
            self.next_index += 1;
        }
    }

    /// Parses the documents kept and hands their items on.
    fn flush(&mut self) {
        let documents = self
            .documents
            .iter()
            .map(|(line, index, text)| (*line, *index, text.as_str()))
            .collect();
        let parsed = parse_yaml_documents(documents, self.file, self.shape);
        self.items += parsed.len();
        (self.take)(parsed);
        self.documents.clear();
        self.bytes = 0;
    }
}

/// Whether a document holds more than blank lines and comments.
fn has_content(document: &str) -> bool {
    document
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
}

/// A line that is a document marker (`---` or `...`, alone or followed by a space).
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// Parses YAML documents, each with its first line in the file and its index among the
/// file's documents, into items in document order.
fn parse_yaml_documents(
    documents: Vec<(usize, usize, &str)>,
    file: &Path,
    shape: Shape,
) -> Vec<Item> {
    // Documents are independent: a large stream parses on every core.
    let parsed: Vec<Vec<Item>> = documents
        .into_par_iter()
        .map(|(line, index, document)| {
            let mut out = Vec::new();
            // Objects are placed at their first line of content, past the marker and comments.
            let first_content = document
                .lines()
                .position(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .unwrap_or(0);
            match parse_yaml(document, line) {
                Ok(Value::Null) => {}
                Ok(value) => flatten(
                    value,
                    file,
                    (line + first_content, index),
                    String::new(),
                    shape,
                    &mut out,
                ),
                Err((at, message)) => out.push(Item {
                    file: file.to_path_buf(),
                    line: at,
                    pointer: String::new(),
                    document: index,
                    value: Err(message),
                }),
            }
            out
        })
        .collect();
    parsed.into_iter().flatten().collect()
}

/// Splits a YAML stream at its document markers. A line starting with `---` or `...`
/// (followed by a space or nothing) is a marker wherever it stands — YAML forbids such lines
/// inside content — so the split is exact and each document keeps its first line number.
fn yaml_documents(text: &str) -> Vec<(usize, &str)> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches('\n');
        if is_marker(content, "---") || is_marker(content, "...") {
            documents.push((start_line, &text[start..offset]));
            // `--- value` keeps its content on the marker line.
            let after = if is_marker(content, "---") {
                offset + 3
            } else {
                offset + line.len()
            };
            start = after.min(text.len());
            start_line = index + 1;
        }
        offset += line.len();
    }
    documents.push((start_line, &text[start..]));
    documents
        .into_iter()
        .filter(|(_, doc)| has_content(doc))
        .collect()
}

/// One YAML document as JSON data, read as the Kubernetes tooling reads it (see
/// [`super::yaml`]), the document starting at line `first_line` of its file. On failure,
/// the file's line and the message.
fn parse_yaml(document: &str, first_line: usize) -> Result<Value, (usize, String)> {
    super::yaml::parse_document_at(document, first_line)
        .map_err(|problem| (problem.line, format!("not valid YAML: {}", problem.message)))
}

/// Objects of a document (at `line`, document `index` of its file): `List` kinds are
/// opened, anything that is no object is reported (kept as it is for [`Shape::Documents`]).
fn flatten(
    value: Value,
    file: &Path,
    (line, index): (usize, usize),
    pointer: String,
    shape: Shape,
    out: &mut Vec<Item>,
) {
    let is_list = value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array)
        // A shopping list in plain data is data: only a Kubernetes List holds objects.
        && match shape {
            Shape::Objects => true,
            Shape::Documents => value.get("apiVersion").is_some_and(Value::is_string),
            Shape::Data => false,
        };
    if is_list {
        if let Value::Object(mut map) = value
            && let Some(Value::Array(items)) = map.remove("items")
        {
            for (i, item) in items.into_iter().enumerate() {
                flatten(
                    item,
                    file,
                    (line, index),
                    format!("{pointer}/items/{i}"),
                    shape,
                    out,
                );
            }
        }
        return;
    }
    let value = if value.is_object() || shape != Shape::Objects {
        Ok(value)
    } else {
        Err(format!(
            "not a Kubernetes object but {}",
            match value {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            }
        ))
    };
    out.push(Item {
        file: file.to_path_buf(),
        line,
        pointer,
        document: index,
        value,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(reads: &[Item]) -> Vec<(usize, String, Result<String, String>)> {
        reads
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.pointer.clone(),
                    r.value
                        .as_ref()
                        .map(|v| v.to_string())
                        .map_err(Clone::clone),
                )
            })
            .collect()
    }

    #[test]
    fn documents_keep_their_lines_and_lists_open() {
        let text = "# leading comment\n---\nkind: A\n---\n# only a comment\n---\nkind: List\nitems:\n- kind: B\n- 3\n...\n--- {kind: C}\n";
        let reads = parse(text, Path::new("m.yaml"), false);
        assert_eq!(
            values(&reads),
            vec![
                (3, String::new(), Ok("{\"kind\":\"A\"}".into())),
                (7, "/items/0".into(), Ok("{\"kind\":\"B\"}".into())),
                (
                    7,
                    "/items/1".into(),
                    Err("not a Kubernetes object but a number".into())
                ),
                (12, String::new(), Ok("{\"kind\":\"C\"}".into())),
            ]
        );
    }

    #[test]
    fn a_broken_document_does_not_hide_the_others() {
        let text = "kind: A\nname: x\nname: y\n---\nkind: [\n---\nkind: D\n";
        let reads = parse(text, Path::new("m.yaml"), false);
        assert_eq!(reads.len(), 3, "{reads:?}");
        let first = reads[0].value.as_ref().unwrap_err();
        assert!(first.contains("duplicate key `name`"), "{first}");
        assert_eq!(reads[0].line, 3);
        assert!(
            reads[1]
                .value
                .as_ref()
                .unwrap_err()
                .starts_with("not valid YAML")
        );
        assert_eq!(reads[1].line, 5);
        assert_eq!(reads[2].value.as_ref().unwrap()["kind"], "D");
        assert_eq!(reads[2].line, 7);
    }

    #[test]
    fn a_stream_read_in_batches_reads_as_its_whole_text() {
        let mut text = String::from("# leading comment\n---\nkind: A\n---\n# only a comment\n");
        for i in 0..20_000 {
            text.push_str(&format!("--- {{kind: C, n: {i}}}\n...\n---\nkind: List\nitems:\n- kind: B\n- 3\n---\nkind: [\n---\n[1, 2]\n---\napiVersion: v1\nkind: List\nitems: [{{a: 1}}]\n---\nplain\n"));
        }
        // `validate -` reads objects, `test -` documents: each stream as its whole text.
        for shape in [Shape::Objects, Shape::Documents] {
            let whole = parse_as(&text, Path::new("-"), false, shape);
            let mut streamed = Vec::new();
            let mut batches = 0;
            let read = read_stream(&mut text.as_bytes(), Path::new("-"), shape, &mut |items| {
                batches += 1;
                streamed.extend(items);
            })
            .unwrap();
            assert!(batches > 1, "{batches}");
            assert_eq!(read, whole.len());
            assert_eq!(streamed, whole, "{shape:?}");
        }
    }

    #[test]
    fn block_scalars_are_not_split() {
        let text = "kind: ConfigMap\ndata:\n  a: |\n    --- not a marker, indented\n    x\n";
        let reads = parse(text, Path::new("m.yaml"), false);
        assert_eq!(reads.len(), 1);
        assert_eq!(
            reads[0].value.as_ref().unwrap()["data"]["a"],
            "--- not a marker, indented\nx\n"
        );
    }

    #[test]
    fn documents_keep_any_shape_and_their_index() {
        let text = "# c\n---\n[1, 2]\n---\nhello\n---\nnull\n---\nkind: ShoppingList\nitems: [a]\n---\napiVersion: v1\nkind: List\nitems: [{kind: A}]\n";
        let documents = parse_as(text, Path::new("d.yaml"), false, Shape::Documents);
        let seen: Vec<(usize, usize, String, String)> = documents
            .iter()
            .map(|d| {
                let value = d.value.as_ref().unwrap().to_string();
                (d.document, d.line, d.pointer.clone(), value)
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (0, 3, String::new(), "[1,2]".into()),
                (1, 5, String::new(), "\"hello\"".into()),
                // `null` is no document but keeps its place in the count.
                (
                    3,
                    9,
                    String::new(),
                    "{\"items\":[\"a\"],\"kind\":\"ShoppingList\"}".into()
                ),
                (4, 12, "/items/0".into(), "{\"kind\":\"A\"}".into()),
            ]
        );
        // As written: not even a Kubernetes List is opened.
        let data = parse_as(text, Path::new("d.yaml"), false, Shape::Data);
        assert_eq!(data.len(), 4);
        assert_eq!(data[3].value.as_ref().unwrap()["kind"], "List");
        let json = parse_as("null", Path::new("d.json"), true, Shape::Data);
        assert!(json.is_empty());
    }

    #[test]
    fn files_that_cannot_be_read_say_why_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        assert!(
            matches!(read_objects(&missing), Err(ReadError::Io { path, .. }) if path == missing)
        );
        assert!(matches!(
            files_of(&missing, MANIFEST_FORMATS),
            Err(ReadError::Io { .. })
        ));
        let binary = dir.path().join("binary.yaml");
        fs::write(&binary, b"kind: \xff\n").unwrap();
        assert!(matches!(
            read_objects(&binary),
            Err(ReadError::NotText { .. })
        ));
        let notes = dir.path().join("notes.txt");
        fs::write(&notes, "a: 1\n").unwrap();
        let err = read_documents(&notes, None).unwrap_err();
        assert!(
            matches!(&err, ReadError::UnknownFormat { what, .. } if what == "`.txt` files"),
            "{err}"
        );
        assert!(read_documents(&notes, Some(Format::Yaml)).is_ok());
        // The policy stage's form keeps the message.
        assert_eq!(
            read(&binary).unwrap_err(),
            format!("{}: not UTF-8 text", binary.display())
        );
    }

    #[test]
    fn json_files() {
        let reads = parse(
            "{\"kind\": \"List\", \"items\": [{\"kind\": \"A\"}]}",
            Path::new("m.json"),
            true,
        );
        assert_eq!(reads[0].pointer, "/items/0");
        assert!(parse(" \n", Path::new("m.json"), true).is_empty());
        let reads = parse("{\n\"kind\": }", Path::new("m.json"), true);
        assert_eq!(reads[0].line, 2);
        assert!(
            reads[0]
                .value
                .as_ref()
                .unwrap_err()
                .starts_with("not valid JSON")
        );
    }
}

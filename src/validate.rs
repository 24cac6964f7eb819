//! `policyrun validate`: the schema stage of the gate on plain JSON and YAML manifests
//! (files, directories, standard input), so that manifests from anywhere get the same
//! verdict as the expanded tree.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::expand::identity;
use crate::manifests;
use crate::outcome::{Location, ObjectId, Outcome, Stage, Status};
use crate::schema::{self, Catalog, Settings, Target};

/// Check name for input that is not a Kubernetes object at all.
pub const READ: &str = "read";

/// One object read from a manifest.
struct Found {
    id: ObjectId,
    value: Value,
    location: Location,
}

/// Validates every object in `paths` (`-` is standard input). A path that does not exist,
/// or input with no object at all, is an `Err`: a gate that checked nothing must not pass.
pub fn run(settings: Settings, paths: &[PathBuf]) -> Result<Vec<Outcome>, String> {
    let mut catalog = Catalog::new(settings)?;
    let mut outcomes = Vec::new();
    let mut items = Vec::new();
    for path in paths {
        let files = if path == Path::new("-") {
            vec![path.clone()]
        } else {
            manifests::files(path)?
        };
        for file in files {
            match manifests::read(&file) {
                Ok(read) => items.extend(read),
                Err(problem) => outcomes.push(unreadable(&file, None, problem)),
            }
        }
    }
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
                outcomes.push(unreadable(&item.file, Some(item.line), problem));
                continue;
            }
        };
        match identity(&value) {
            Ok((api_version, kind, namespace, name)) => found.push(Found {
                id: ObjectId {
                    cluster: String::new(),
                    entry: item.file.clone(),
                    item: (!item.pointer.is_empty()).then(|| item.pointer.clone()),
                    api_version,
                    kind,
                    namespace,
                    name,
                },
                value,
                location,
            }),
            Err(problem) => outcomes.push(
                Outcome::new(Stage::Schema, READ, Status::Failed)
                    .entry(item.file.clone())
                    .subject(place(&location, &item.pointer))
                    .message(format!("not a Kubernetes object: {problem}"))
                    .location(location),
            ),
        }
    }
    if found.is_empty() && outcomes.is_empty() {
        return Err(format!(
            "no Kubernetes objects in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let targets: Vec<Target> = found
        .iter()
        .map(|f| Target {
            subject: subject(f),
            cluster: None,
            entry: Some(&f.id.entry),
            id: &f.id,
            value: &f.value,
            location: f.location.clone(),
        })
        .collect();
    outcomes.extend(schema::run(&mut catalog, &targets));
    Ok(outcomes)
}

/// `Kind namespace/name (file:line)`: names repeat across files, places do not.
fn subject(found: &Found) -> String {
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

fn unreadable(file: &Path, line: Option<usize>, problem: String) -> Outcome {
    let mut location = Location::file(file);
    location.line = line;
    Outcome::new(Stage::Schema, READ, Status::Error)
        .entry(file.to_path_buf())
        .subject(location.to_string())
        .message(problem)
        .location(location)
}

//! The object every check looks at, wherever it came from — an expanded entry or a plain
//! manifest file: its identity, its value and where to point a reader.

use std::path::Path;

use serde_json::Value;

use crate::model::digest::Digest;
use crate::model::json_lines;
use crate::model::outcome::{Location, ObjectId};

/// The kind that defines other kinds: the schema stage learns custom resources from it, and
/// the jsonnet stage keeps its values for entries a run does not check.
pub const CRD_KIND: &str = "CustomResourceDefinition";

/// One object to check, wherever it came from.
pub struct Target<'a> {
    /// How reports name it (one JUnit testcase per subject).
    pub subject: String,
    pub cluster: Option<&'a str>,
    pub entry: Option<&'a Path>,
    pub id: &'a ObjectId,
    pub value: &'a Value,
    /// Where to point a reader: the file, and the line where the object starts when known.
    pub location: Location,
    /// The JSON text the object was read from, when a check may want the line of one of
    /// its fields (a generated file); `None` for plain manifests, located by object only.
    pub source: Option<Source<'a>>,
    /// What names the object's content across runs when it is known without work (read
    /// from a generated file: [`Digest::of_object_in`]); `None`: computed from the value
    /// when a memory asks ([`Target::content_digest`]).
    pub content: Option<Digest>,
}

/// The JSON text of an object's file and the object's place in it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub text: &'a str,
    /// The object's JSON pointer in `text` (`""` when the file is the object).
    pub pointer: &'a str,
}

impl Target<'_> {
    /// The key of the object's content for the stages' memories: the one it was read with,
    /// else a digest of its value.
    pub fn content_digest(&self) -> Digest {
        self.content.unwrap_or_else(|| Digest::of_value(self.value))
    }

    /// Where a finding about `pointer` (inside the object) is: the line of that field in
    /// the object's file, of the nearest field on the way to it when the text lacks it,
    /// else of the object.
    pub fn location_of(&self, pointer: &str) -> Location {
        let mut location = self.location.clone();
        if let Some(source) = self.source
            && let Some(line) =
                json_lines::nearest_line(source.text, &format!("{}{pointer}", source.pointer))
        {
            location.line = Some(line);
        }
        location
    }
}

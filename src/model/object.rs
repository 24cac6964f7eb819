//! The object every check looks at, wherever it came from — an expanded entry or a plain
//! manifest file: its identity, its value and where to point a reader.

use std::path::Path;

use serde_json::Value;

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
    pub location: Location,
}

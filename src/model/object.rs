//! The object every check looks at, wherever it came from — an expanded entry or a plain
//! manifest file: its identity, its value and where to point a reader.

use std::path::Path;

use serde_json::Value;

use crate::model::digest::Digest;
use crate::model::json_lines;
use crate::model::outcome::{Location, ObjectId};
use crate::model::same::Content;
use crate::model::secrets;
use crate::model::value::ObjectValue;

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
    /// Read through [`Target::value`]: parsed only when a check needs it.
    pub value: &'a ObjectValue,
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

impl<'a> Target<'a> {
    /// The object's value, parsed now if no check asked for it before.
    pub fn value(&self) -> &'a Value {
        self.value.get()
    }

    /// The key of the object's content for the stages' memories: the one it was read with,
    /// else a digest of its value.
    pub fn content_digest(&self) -> Digest {
        self.content
            .unwrap_or_else(|| Digest::of_value(self.value()))
    }

    /// The object as the stages find its equals ([`crate::model::same::first_equal`]): by
    /// its content digest when it is a whole generated file, whose text is the value as the
    /// expansion writes every value, so equal values have equal digests; by its value
    /// otherwise (the digest of an item names the whole List's text, which other items
    /// change).
    pub fn sharing_content(&self) -> Content<'_> {
        let whole_file = self.source.is_some_and(|s| s.pointer.is_empty());
        Content {
            value: self.value,
            digest: self.content.filter(|_| whole_file),
        }
    }

    /// Whether the object is a Secret or holds one at any depth
    /// ([`secrets::holds_secret`]). An object that is a whole generated file is first
    /// looked for in its text: with neither the word `Secret` nor a `\u` escape (the only
    /// way JSON can spell a letter otherwise) no string in it is `"Secret"`, so none of
    /// its objects is a Secret, and its value need not be walked.
    pub fn holds_secret(&self) -> bool {
        self.may_spell("Secret") && secrets::holds_secret(self.value())
    }

    /// Whether a string of the object may be `word` (letters, digits, `.` and `-` only),
    /// as far as its text tells without parsing it: an object that is a whole generated
    /// file and whose text holds neither `word` nor a `\u` escape (the only way JSON can
    /// spell such a character otherwise) holds no such string, as key or value.
    pub fn may_spell(&self, word: &str) -> bool {
        debug_assert!(
            word.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        );
        match self.source {
            Some(source) if source.pointer.is_empty() => {
                source.text.contains(word) || source.text.contains("\\u")
            }
            _ => true,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> ObjectId {
        ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/app.jsonnet".into(),
            item: None,
            api_version: "v1".into(),
            kind: "List".into(),
            namespace: None,
            name: "x".into(),
        }
    }

    fn target<'a>(
        id: &'a ObjectId,
        value: &'a ObjectValue,
        source: Option<Source<'a>>,
        content: Option<Digest>,
    ) -> Target<'a> {
        Target {
            subject: "x".into(),
            cluster: Some("dev"),
            entry: None,
            id,
            value,
            location: Location::file("generated/dev/app.json"),
            source,
            content,
        }
    }

    fn holds_secret(text: &str, pointer: &str) -> bool {
        let value = ObjectValue::parsed(serde_json::from_str(text).unwrap());
        let id = id();
        target(&id, &value, Some(Source { text, pointer }), None).holds_secret()
    }

    #[test]
    fn only_a_whole_generated_file_is_found_equal_by_its_digest() {
        let text = r#"{"kind": "ConfigMap"}"#;
        let (id, value) = (id(), ObjectValue::in_text(text.into()));
        let digest = Digest::of_object_in(&Digest::of(text.as_bytes()), "");
        let whole = Source { text, pointer: "" };
        let item = Source {
            text,
            pointer: "/items/0",
        };
        let of = |source, content| {
            target(&id, &value, source, content)
                .sharing_content()
                .digest
        };
        assert_eq!(of(Some(whole), Some(digest)), Some(digest));
        assert_eq!(of(Some(item), Some(digest)), None);
        assert_eq!(of(None, None), None);
        // Naming the content needs no value: a recalled file is not parsed for it.
        assert!(!value.is_parsed());
    }

    #[test]
    fn a_secret_is_found_however_its_text_spells_it() {
        let nested = r#"{"kind": "Template", "objects": [{"apiVersion": "v1", "kind": "Secret"}]}"#;
        assert!(holds_secret(nested, ""));
        // JSON may spell a letter as an escape: the text rules nothing out then.
        let escaped = r#"{"apiVersion": "v1", "kind": "\u0053ecret"}"#;
        assert!(holds_secret(escaped, ""));
        let plain = r#"{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "Secrets"}}"#;
        assert!(!holds_secret(plain, ""));
        let unrelated = r#"{"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "\u00e9"}}"#;
        assert!(!holds_secret(unrelated, ""));
    }
}

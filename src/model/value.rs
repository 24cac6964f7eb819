//! An object's value as the checks read it: parsed from its generated file's text only when
//! one of them asks, so that a run recalling every verdict builds none.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

/// An object's value, parsed from its generated file's text the first time a check asks
/// for it. A run that recalls the verdicts of unchanged objects compares their texts and
/// never builds their values: parsing every generated file was a sixth of a warm gate's
/// CPU, and the values ten times the size of their text (BENCHMARKS.md, issue 29).
#[derive(Debug, Clone, Default)]
pub struct ObjectValue {
    parsed: OnceLock<Value>,
    /// The JSON text of a value not parsed yet: a whole generated file.
    text: Option<Arc<str>>,
}

impl ObjectValue {
    /// A value already parsed.
    pub fn parsed(value: Value) -> Self {
        ObjectValue {
            parsed: OnceLock::from(value),
            text: None,
        }
    }

    /// The value of `text`, parsed when first asked for. `text` is the generated file the
    /// expansion parsed when it produced it, kept byte for byte under the record's
    /// checksum: this build's parser took it then and takes it again.
    pub fn in_text(text: Arc<str>) -> Self {
        ObjectValue {
            parsed: OnceLock::new(),
            text: Some(text),
        }
    }

    /// The value, parsed now if it was not yet.
    pub fn get(&self) -> &Value {
        self.parsed.get_or_init(|| match &self.text {
            // Unreachable for a text `in_text` accepts (see there): the same bytes parsed
            // before, with the same parser (the record's key names the build).
            Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            None => Value::Null,
        })
    }

    /// Whether the value has been built: by its producer, or by a check that asked.
    pub fn is_parsed(&self) -> bool {
        self.parsed.get().is_some()
    }
}

impl PartialEq for ObjectValue {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl From<Value> for ObjectValue {
    fn from(value: Value) -> Self {
        ObjectValue::parsed(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_in_its_text_is_parsed_once_when_first_read() {
        let value = ObjectValue::in_text(r#"{"kind": "ConfigMap", "data": {"a": "1"}}"#.into());
        assert!(!value.is_parsed());
        assert_eq!(value.get()["data"]["a"], "1");
        assert!(value.is_parsed());
        assert!(std::ptr::eq(value.get(), value.get()));
        assert_eq!(
            value,
            ObjectValue::parsed(serde_json::json!({"data": {"a": "1"}, "kind": "ConfigMap"}))
        );
        assert_eq!(ObjectValue::default().get(), &Value::Null);
    }
}

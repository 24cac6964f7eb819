//! One definition of what a Secret is and how its values are kept out of sight, shared by
//! everything that shows or hands on objects: the diffs of the freshness stage and of
//! `diff`/`apply`, the objects the policies judge, and the redaction of what policies say.
//! The gate runs on pull requests whose build logs more people read than the repository's
//! Secrets are meant for.

use std::borrow::Cow;

use serde_json::Value;

/// What a hidden value is shown as, and what policies see for a non-empty `stringData` value.
pub const HIDDEN: &str = "<hidden>";

/// What policies see for a non-empty `data` value: [`HIDDEN`] in base64, so that a policy
/// that decodes `data` values (`base64.decode`, `base64.is_valid`) keeps working and reads
/// the same placeholder as in `stringData`.
pub const HIDDEN_BASE64: &str = "PGhpZGRlbj4=";

/// The annotation `kubectl apply` writes with the whole applied object, values included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A core Secret (`apiVersion: v1`, `kind: Secret`), as the API server tells one: a kind
/// called Secret in another group is some other resource.
pub fn is_secret(value: &Value) -> bool {
    value.get("kind").and_then(Value::as_str) == Some("Secret")
        && value.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Whether `value` is a Secret or holds one at any depth (a template's objects, an unopened
/// list).
pub fn holds_secret(value: &Value) -> bool {
    match value {
        _ if is_secret(value) => true,
        Value::Object(map) => map.values().any(holds_secret),
        Value::Array(items) => items.iter().any(holds_secret),
        _ => false,
    }
}

/// The object as policies see it: unless `reveal`, every Secret in it (itself or nested)
/// has each `data` and `stringData` value replaced by a placeholder ([`HIDDEN_BASE64`],
/// [`HIDDEN`]) — an empty value stays empty, so that a policy can still tell a Secret
/// without values, and keys stay as they are. A Secret's kubectl last-applied annotation,
/// which holds its values too, becomes [`HIDDEN`]. Objects without a Secret are borrowed.
pub fn as_policies_see(value: &Value, reveal: bool) -> Cow<'_, Value> {
    if reveal || !holds_secret(value) {
        return Cow::Borrowed(value);
    }
    let mut masked = value.clone();
    mask_for_policies(&mut masked);
    Cow::Owned(masked)
}

fn mask_for_policies(value: &mut Value) {
    if is_secret(value) {
        for (field, placeholder) in [("data", HIDDEN_BASE64), ("stringData", HIDDEN)] {
            match value.get_mut(field) {
                Some(Value::Object(entries)) => {
                    for entry in entries.values_mut() {
                        mask_value(entry, placeholder);
                    }
                }
                // Not a map of values (an invalid Secret, which the schema stage fails):
                // hidden as a whole.
                Some(other) => mask_value(other, placeholder),
                None => {}
            }
        }
        if let Some(applied) = value
            .get_mut("metadata")
            .and_then(|m| m.get_mut("annotations"))
            .and_then(|a| a.get_mut(LAST_APPLIED))
        {
            mask_value(applied, HIDDEN);
        }
        return;
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(mask_for_policies),
        Value::Array(items) => items.iter_mut().for_each(mask_for_policies),
        _ => {}
    }
}

/// Replaces a value that says anything by `placeholder`; `""`, `null`, `[]` and `{}` stay.
fn mask_value(value: &mut Value, placeholder: &str) {
    let empty = match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    };
    if !empty {
        *value = Value::String(placeholder.to_owned());
    }
}

/// The strings the values of the Secrets in `value` (itself or nested) can appear as in
/// text: as committed, and base64-decoded (`data`) or encoded (`stringData`); longest
/// first, so that a value containing another is hidden whole.
pub fn value_strings(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_value_strings(value, &mut found);
    found.sort_by_key(|text| std::cmp::Reverse(text.len()));
    found
}

fn collect_value_strings(value: &Value, found: &mut Vec<String>) {
    if is_secret(value) {
        let mut add = |text: &str| {
            if !text.is_empty() && !found.iter().any(|f| f == text) {
                found.push(text.to_owned());
            }
        };
        if let Some(data) = value.get("data").and_then(Value::as_object) {
            for value in data.values().filter_map(Value::as_str) {
                add(value);
                if let Ok(decoded) = data_encoding::BASE64.decode(value.as_bytes())
                    && let Ok(text) = String::from_utf8(decoded)
                {
                    add(&text);
                }
            }
        }
        if let Some(data) = value.get("stringData").and_then(Value::as_object) {
            for value in data.values().filter_map(Value::as_str) {
                add(value);
                add(&data_encoding::BASE64.encode(value.as_bytes()));
            }
        }
        return;
    }
    match value {
        Value::Object(map) => map.values().for_each(|v| collect_value_strings(v, found)),
        Value::Array(items) => items.iter().for_each(|v| collect_value_strings(v, found)),
        _ => {}
    }
}

/// `text` with every one of `values` (from [`value_strings`]) replaced by [`HIDDEN`].
pub fn hide(text: &str, values: &[String]) -> String {
    let mut text = text.to_owned();
    for value in values {
        if text.contains(value.as_str()) {
            text = text.replace(value.as_str(), HIDDEN);
        }
    }
    text
}

/// Replaces the values of every Secret's `data` and `stringData` in `value` by markers;
/// `other` is the same place on the other side, to tell changed values from equal ones. A
/// value counts as unchanged only where the other side is a Secret too: "the same as the
/// ConfigMap's value" would tell the value.
pub fn mask_secrets(value: &mut Value, other: Option<&Value>) {
    if is_secret(value) {
        let other = other.filter(|o| is_secret(o));
        for field in ["data", "stringData"] {
            let theirs = other.and_then(|o| o.get(field));
            let marker = |same: bool| {
                Value::String(
                    if same {
                        "<hidden>"
                    } else {
                        "<hidden, changed>"
                    }
                    .to_owned(),
                )
            };
            match value.get_mut(field) {
                Some(Value::Object(entries)) => {
                    for (key, entry) in entries.iter_mut() {
                        let same = theirs.and_then(|t| t.get(key)) == Some(&*entry);
                        *entry = marker(same);
                    }
                }
                // Not a map (an invalid Secret): hidden whole.
                Some(whole) if !whole.is_null() => {
                    let same = theirs == Some(&*whole);
                    *whole = marker(same);
                }
                _ => {}
            }
        }
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                mask_secrets(child, other.and_then(|o| o.get(key)));
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                mask_secrets(child, other.and_then(|o| o.get(i)));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_base64_placeholder_decodes_to_the_plain_one() {
        let decoded = data_encoding::BASE64
            .decode(HIDDEN_BASE64.as_bytes())
            .unwrap();
        assert_eq!(decoded, HIDDEN.as_bytes());
    }

    #[test]
    fn policies_see_placeholders_and_empty_values_stay_empty() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"}},
            "data": {"password": "aHVudGVyMg==", "empty": "", "odd": 12},
            "stringData": {"token": "s3cr3t", "none": ""}});
        let seen = as_policies_see(&secret, false);
        assert_eq!(
            *seen,
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "db", "annotations": {LAST_APPLIED: HIDDEN}},
                "data": {"password": HIDDEN_BASE64, "empty": "", "odd": HIDDEN_BASE64},
                "stringData": {"token": HIDDEN, "none": ""}})
        );
        assert!(matches!(
            as_policies_see(&secret, true),
            Cow::Borrowed(v) if *v == secret
        ));
    }

    #[test]
    fn nested_secrets_and_malformed_fields_are_masked_other_kinds_kept() {
        let template = json!({"apiVersion": "template.openshift.io/v1", "kind": "Template",
            "objects": [{"apiVersion": "v1", "kind": "Secret", "data": "aHVudGVyMg=="}],
            "data": {"kept": "plain"}});
        let seen = as_policies_see(&template, false);
        assert_eq!(seen["objects"][0]["data"], HIDDEN_BASE64);
        assert_eq!(seen["data"]["kept"], "plain");
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}});
        assert!(matches!(
            as_policies_see(&config_map, false),
            Cow::Borrowed(_)
        ));
        let other_group = json!({"apiVersion": "example.com/v1", "kind": "Secret",
            "data": {"a": "b"}});
        assert!(!is_secret(&other_group));
    }

    #[test]
    fn value_strings_cover_committed_decoded_and_encoded_forms_longest_first() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "tok"}});
        let found = value_strings(&json!({"items": [secret]}));
        assert_eq!(found, ["aHVudGVyMg==", "hunter2", "dG9r", "tok"]);
        assert_eq!(hide("hunter2 and tok", &found), "<hidden> and <hidden>");
    }
}

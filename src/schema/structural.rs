//! What the API server does to a custom resource before it validates it: nulls the schema
//! does not allow are dropped, then the CRD's defaults are filled in. Validating the object
//! as written instead fails valid objects (`spec: {cephfs: null}` from YAML whose children
//! are commented out; a `oneOf` that a defaulted field decides). Both steps work on a copy
//! that only validation sees: freshness, policies and apply see the object as written.
//!
//! The rules are the API server's (k8s.io/apiextensions-apiserver, pkg/apiserver/schema/
//! defaulting: `PruneNonNullableNullsWithoutDefaults`, which "removes non-nullable
//! non-defaultable null values from object. Non-nullable nulls that have a default are left
//! alone here and will be defaulted later", then `Default`; the Kubernetes documentation,
//! "Extend the Kubernetes API with CustomResourceDefinitions", section "Defaulting and
//! Nullable"). Defaults apply to the properties of objects that are present, recursively
//! (into a default just applied too), in array items and map values; only the structural
//! skeleton (`properties`, `items`, `additionalProperties`) carries them — a structural
//! schema allows no `default` under `allOf`/`anyOf`/`oneOf`/`not`. Below
//! `x-kubernetes-preserve-unknown-fields` a field without a schema is left as it is.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

/// The skeleton of a CRD version's `openAPIV3Schema` that defaulting and null pruning read.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Structural {
    properties: BTreeMap<String, Structural>,
    items: Option<Box<Structural>>,
    /// `additionalProperties` when it is a schema (`true` and `false` carry no defaults).
    additional: Option<Box<Structural>>,
    /// `default: null` is no default, as on the API server (a nil `Default.Object`).
    default: Option<Value>,
    nullable: bool,
}

/// The preparation of one custom resource kind's objects for validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Preparation {
    root: Structural,
    has_defaults: bool,
}

impl Preparation {
    /// From a CRD version's `openAPIV3Schema`. The root's `metadata` is left out: the API
    /// server reads it as an `ObjectMeta`, whatever the CRD says about it.
    pub(crate) fn new(openapi: &Value) -> Preparation {
        let mut root = Structural::from_openapi(openapi);
        root.properties.remove("metadata");
        let has_defaults = root.has_defaults();
        Preparation { root, has_defaults }
    }

    /// `object` as the API server validates it: nulls pruned, defaults applied. Borrowed
    /// when neither changes anything (most objects: no defaults, no nulls).
    pub(crate) fn apply<'v>(&self, object: &'v Value) -> Cow<'v, Value> {
        if !self.has_defaults && !has_prunable_null(object, Some(&self.root)) {
            return Cow::Borrowed(object);
        }
        let mut copy = object.clone();
        prune_nulls(&mut copy, Some(&self.root));
        apply_defaults(&mut copy, &self.root);
        Cow::Owned(copy)
    }
}

impl Structural {
    fn from_openapi(node: &Value) -> Structural {
        let Value::Object(node) = node else {
            return Structural::default();
        };
        let properties = match node.get("properties") {
            Some(Value::Object(properties)) => properties
                .iter()
                .map(|(name, schema)| (name.clone(), Structural::from_openapi(schema)))
                .collect(),
            _ => BTreeMap::new(),
        };
        let child = |key: &str| match node.get(key) {
            Some(schema @ Value::Object(_)) => Some(Box::new(Structural::from_openapi(schema))),
            _ => None,
        };
        Structural {
            properties,
            items: child("items"),
            additional: child("additionalProperties"),
            default: node.get("default").filter(|d| !d.is_null()).cloned(),
            nullable: node.get("nullable") == Some(&Value::Bool(true)),
        }
    }

    fn has_defaults(&self) -> bool {
        self.default.is_some()
            || self.properties.values().any(Structural::has_defaults)
            || self.items.as_deref().is_some_and(Structural::has_defaults)
            || self
                .additional
                .as_deref()
                .is_some_and(Structural::has_defaults)
    }

    /// The schema of `field` of an object: its property, else the map values' schema
    /// (`getSchemaForField`).
    fn field(&self, field: &str) -> Option<&Structural> {
        self.properties.get(field).or(self.additional.as_deref())
    }

    /// A null here is dropped (no default) or replaced (a default).
    fn changes_null(&self) -> bool {
        !self.nullable
    }
}

/// Whether pruning or defaulting would change a null somewhere in `value`.
fn has_prunable_null(value: &Value, schema: Option<&Structural>) -> bool {
    let Some(schema) = schema else {
        return false;
    };
    match value {
        Value::Object(map) => map.iter().any(|(key, child)| {
            let below = schema.field(key);
            (child.is_null() && below.is_some_and(Structural::changes_null))
                || has_prunable_null(child, below)
        }),
        Value::Array(items) => {
            let below = schema.items.as_deref();
            items.iter().any(|item| {
                (item.is_null() && below.is_some_and(|s| s.changes_null() && s.default.is_some()))
                    || has_prunable_null(item, below)
            })
        }
        _ => false,
    }
}

/// `PruneNonNullableNullsWithoutDefaults`: a null field whose schema neither allows null nor
/// has a default is removed. Array items are never removed (a null item stays and fails).
fn prune_nulls(value: &mut Value, schema: Option<&Structural>) {
    match value {
        Value::Object(map) => {
            map.retain(|key, child| {
                !(child.is_null()
                    && schema
                        .and_then(|s| s.field(key))
                        .is_some_and(|s| !s.nullable && s.default.is_none()))
            });
            for (key, child) in map.iter_mut() {
                prune_nulls(child, schema.and_then(|s| s.field(key)));
            }
        }
        Value::Array(items) => {
            let below = schema.and_then(|s| s.items.as_deref());
            for item in items {
                prune_nulls(item, below);
            }
        }
        _ => {}
    }
}

/// `Default`: every property with a default that is absent, or null without `nullable`,
/// takes a copy of it; then every field is defaulted below, a default just applied too.
fn apply_defaults(value: &mut Value, schema: &Structural) {
    match value {
        Value::Object(map) => {
            for (key, property) in &schema.properties {
                let Some(default) = &property.default else {
                    continue;
                };
                match map.get(key) {
                    None => {
                        map.insert(key.clone(), default.clone());
                    }
                    Some(Value::Null) if !property.nullable => {
                        map.insert(key.clone(), default.clone());
                    }
                    Some(_) => {}
                }
            }
            for (key, child) in map.iter_mut() {
                if let Some(property) = schema.properties.get(key) {
                    apply_defaults(child, property);
                } else if let Some(values) = schema.additional.as_deref() {
                    replace_null(child, values);
                    apply_defaults(child, values);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.items.as_deref() {
                for item in items {
                    replace_null(item, item_schema);
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// A null map value or array item without `nullable` takes the schema's default, if any.
fn replace_null(value: &mut Value, schema: &Structural) {
    if value.is_null()
        && !schema.nullable
        && let Some(default) = &schema.default
    {
        *value = default.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepared(schema: Value, object: Value) -> Value {
        Preparation::new(&schema).apply(&object).into_owned()
    }

    #[test]
    fn nulls_without_nullable_or_default_are_dropped() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "cephfs": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
            "note": {"type": "string", "nullable": true},
            "tier": {"type": "string", "default": "standard"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"type": "string"}}
        }}}});
        let object = json!({"spec": {"cephfs": null, "note": null, "tier": null,
            "labels": {"a": null, "b": "x"}, "list": ["a", null], "unknown": null}});
        assert_eq!(
            prepared(schema, object),
            json!({"spec": {"note": null, "tier": "standard", "labels": {"b": "x"},
                "list": ["a", null], "unknown": null}})
        );
    }

    #[test]
    fn defaults_fill_present_objects_recursively() {
        let schema = json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "never"}}},
            "spec": {"type": "object", "properties": {
                "type": {"type": "string", "default": "IPAddress"},
                "absent": {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}},
                "made": {"type": "object", "default": {}, "properties": {"y": {"type": "integer", "default": 2}}},
                "ports": {"type": "array", "items": {"type": "object", "properties": {
                    "protocol": {"type": "string", "default": "TCP"}}}},
                "byName": {"type": "object", "additionalProperties": {"type": "object", "default": {"z": 0},
                    "properties": {"weight": {"type": "integer", "default": 1}}}},
                "kept": {"type": "string", "nullable": true, "default": "d"},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "properties": {"known": {"type": "string", "default": "k"}}}
            }}
        }});
        let object = json!({"metadata": {"name": "n"}, "spec": {
            "ports": [{"port": 53}, {"protocol": "UDP"}],
            "byName": {"a": {}, "b": null},
            "kept": null,
            "free": {"other": {"x": null}}
        }});
        assert_eq!(
            prepared(schema, object),
            json!({"metadata": {"name": "n"}, "spec": {
                "type": "IPAddress",
                "made": {"y": 2},
                "ports": [{"port": 53, "protocol": "TCP"}, {"protocol": "UDP"}],
                "byName": {"a": {"weight": 1}, "b": {"z": 0, "weight": 1}},
                "kept": null,
                "free": {"other": {"x": null}, "known": "k"}
            }})
        );
    }

    #[test]
    fn nothing_to_do_borrows() {
        let preparation = Preparation::new(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string", "nullable": true}}}}}));
        let object = json!({"spec": {"a": null}, "other": {"b": null}});
        assert!(matches!(preparation.apply(&object), Cow::Borrowed(_)));
        let object = json!({"spec": {"b": null}});
        assert!(matches!(preparation.apply(&object), Cow::Borrowed(_)));
        let preparation = Preparation::new(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}));
        let object = json!({"spec": {"a": null}});
        assert_eq!(preparation.apply(&object).into_owned(), json!({"spec": {}}));
    }
}

//! Schemas of custom resources from their `CustomResourceDefinition`s: each served version's
//! `openAPIV3Schema` (OpenAPI 3.0, structural) becomes a strict JSON Schema 2020-12 document
//! with the Kubernetes extensions honoured, as the API server would apply them.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::model::digest::Digest;
use crate::model::outcome::ObjectId;

use super::bundle::DEFINITIONS_URI;
use super::gvk::Gvk;
use super::places::{self, Places};
use super::structural::Preparation;

pub(crate) use crate::model::object::CRD_KIND;
pub(crate) const CRD_API_VERSION: &str = "apiextensions.k8s.io/v1";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// One served version of a custom resource.
#[derive(Debug, Clone)]
pub(crate) struct CrdVersion {
    pub gvk: Gvk,
    /// The CRD's `metadata.name`, for messages.
    pub crd: String,
    pub namespaced: bool,
    pub schema: Value,
    /// What the API server does to an object before validating it (nulls, defaults).
    pub preparation: Arc<Preparation>,
    /// Where the API server checks labels inside an object (embedded resources).
    pub places: Arc<Places>,
    /// The CRD marks this version deprecated (with its warning text, if any).
    pub deprecation: Option<String>,
    /// What names everything above across runs: the CRD's name, group, kind and scope and
    /// the version as written (its schema with the defaults and nulls `schema` drops).
    pub source: Digest,
}

/// Whether an object so named is a CustomResourceDefinition: its identity is read from the
/// same two fields [`is_crd`] reads, and asking needs no value.
pub(crate) fn names_a_crd(id: &ObjectId) -> bool {
    id.kind == CRD_KIND && id.api_version == CRD_API_VERSION
}

pub(crate) fn is_crd(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(CRD_KIND)
        && object.get("apiVersion").and_then(Value::as_str) == Some(CRD_API_VERSION)
}

/// Why a CRD's versions cannot be read; `crd` is its name (`(unnamed)` without one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CrdError {
    /// A field every CRD has (`pointer`: `/spec/group`, `/spec/names/kind`, `/spec/scope`).
    #[error("CustomResourceDefinition {crd}: {pointer} is missing")]
    Missing { crd: String, pointer: &'static str },
    #[error("CustomResourceDefinition {crd}: spec.scope is `{scope}`, not Namespaced or Cluster")]
    Scope { crd: String, scope: String },
    #[error("CustomResourceDefinition {crd}: spec.versions is missing")]
    NoVersions { crd: String },
    #[error("CustomResourceDefinition {crd}: spec.versions[{index}].name is missing")]
    VersionName { crd: String, index: usize },
    /// A served version without a schema.
    #[error("CustomResourceDefinition {crd}: version {version} has no schema.openAPIV3Schema")]
    NoSchema { crd: String, version: String },
}

/// The served versions a CRD defines. A CRD too malformed to read is an `Err`; the schema
/// stage reports the CRD object itself against the built-in CRD schema as well.
pub(crate) fn versions(crd: &Value) -> Result<Vec<CrdVersion>, CrdError> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)")
        .to_owned();
    let text = |pointer: &'static str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .ok_or_else(|| CrdError::Missing {
                crd: name.clone(),
                pointer,
            })
    };
    let group = text("/spec/group")?;
    let kind = text("/spec/names/kind")?;
    let namespaced = match text("/spec/scope")? {
        "Namespaced" => true,
        "Cluster" => false,
        other => {
            return Err(CrdError::Scope {
                crd: name,
                scope: other.to_owned(),
            });
        }
    };
    let Some(list) = crd.pointer("/spec/versions").and_then(Value::as_array) else {
        return Err(CrdError::NoVersions { crd: name });
    };
    let mut out = Vec::new();
    for (i, version) in list.iter().enumerate() {
        let Some(version_name) = version.get("name").and_then(Value::as_str) else {
            return Err(CrdError::VersionName {
                crd: name,
                index: i,
            });
        };
        if version.get("served") != Some(&Value::Bool(true)) {
            continue;
        }
        let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
            return Err(CrdError::NoSchema {
                crd: name,
                version: version_name.to_owned(),
            });
        };
        let deprecation = (version.get("deprecated") == Some(&Value::Bool(true))).then(|| {
            version
                .get("deprecationWarning")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    format!("{group}/{version_name} {kind} is deprecated (CustomResourceDefinition {name})")
                })
        });
        let written = serde_json::to_vec(version).unwrap_or_default();
        let source = Digest::of_parts(
            b"crd version",
            &[
                name.as_bytes(),
                group.as_bytes(),
                kind.as_bytes(),
                &[u8::from(namespaced)],
                &written,
            ],
        );
        out.push(CrdVersion {
            source,
            gvk: Gvk::new(group, version_name, kind),
            crd: name.clone(),
            namespaced,
            schema: root_schema(schema),
            preparation: Arc::new(Preparation::new(schema)),
            places: Arc::new(places::from_crd_schema(schema)),
            deprecation,
        });
    }
    Ok(out)
}

/// Where the CRD's served versions have CEL rules (`x-kubernetes-validations`), as
/// `<version> <JSON pointer in its openAPIV3Schema>`. policyrun does not evaluate CEL; the
/// schema stage says so once, on the CRD, rather than on every object.
pub(crate) fn cel_rules(crd: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for version in crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = version.get("name").and_then(Value::as_str).unwrap_or("?");
        if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
            let mut pointers = Vec::new();
            find_cel(schema, &mut String::new(), &mut pointers);
            found.extend(pointers.into_iter().map(|p| {
                let p = if p.is_empty() { "/".to_owned() } else { p };
                format!("{name} {p}")
            }));
        }
    }
    found
}

/// Follows only the schema keywords, so that a property *named* `x-kubernetes-validations`
/// is not taken for rules.
fn find_cel(node: &Value, pointer: &mut String, found: &mut Vec<String>) {
    let Value::Object(node) = node else {
        return;
    };
    if node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .is_some_and(|rules| !rules.is_empty())
    {
        found.push(pointer.clone());
    }
    let mut below = |key: &str, child: &Value, pointer: &mut String| {
        let length = pointer.len();
        pointer.push('/');
        pointer.push_str(&crate::model::outcome::pointer_segment(key));
        find_cel(child, pointer, found);
        pointer.truncate(length);
    };
    for map_key in ["properties", "patternProperties", "definitions"] {
        if let Some(Value::Object(children)) = node.get(map_key) {
            for (name, child) in children {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(map_key);
                below(name, child, pointer);
                pointer.truncate(length);
            }
        }
    }
    for key in ["items", "additionalProperties", "not", "additionalItems"] {
        match node.get(key) {
            Some(child @ Value::Object(_)) => below(key, child, pointer),
            Some(Value::Array(children)) => {
                for (i, child) in children.iter().enumerate() {
                    let length = pointer.len();
                    pointer.push('/');
                    pointer.push_str(key);
                    below(&i.to_string(), child, pointer);
                    pointer.truncate(length);
                }
            }
            _ => {}
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(children)) = node.get(key) {
            for (i, child) in children.iter().enumerate() {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(key);
                below(&i.to_string(), child, pointer);
                pointer.truncate(length);
            }
        }
    }
}

/// The whole object's schema: the CRD's, plus `apiVersion`, `kind` and a full `ObjectMeta`
/// (the API server ignores a CRD's own description of `metadata` beyond the name).
fn root_schema(openapi: &Value) -> Value {
    let mut root = match convert(openapi, true) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    root.insert("type".into(), "object".into());
    let properties = root
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(properties) = properties {
        properties.insert("apiVersion".into(), json!({"type": "string"}));
        properties.insert("kind".into(), json!({"type": "string"}));
        properties.insert(
            "metadata".into(),
            json!({"$ref": format!("{DEFINITIONS_URI}#/$defs/{OBJECT_META}")}),
        );
    }
    root.insert(
        "$schema".into(),
        "https://json-schema.org/draft/2020-12/schema".into(),
    );
    Value::Object(root)
}

const COPIED: &[&str] = &[
    "pattern",
    "minimum",
    "maximum",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "maxProperties",
    "minProperties",
    "required",
];

/// The `format`s checked: those whose JSON Schema meaning is the API server's. The others
/// differ (kube-openapi's strfmt parses with Go: `duration` is `5m`, not ISO 8601's `PT5M`;
/// `uuid` may lack dashes; `uri` may be a path) or are not checked there at all (`time`,
/// `regex`, `int32`): checking them here would fail objects the API server takes.
const CHECKED_FORMATS: &[&str] = &["byte", "date", "date-time"];

/// One node of an OpenAPI 3.0 structural schema as JSON Schema 2020-12. `structural` is
/// false below `allOf`/`anyOf`/`oneOf`/`not`, whose value validations must not close objects.
fn convert(node: &Value, structural: bool) -> Value {
    let Value::Object(source) = node else {
        return json!({});
    };
    let flag = |key: &str| source.get(key) == Some(&Value::Bool(true));
    let nullable = flag("nullable");
    let preserve_unknown = flag("x-kubernetes-preserve-unknown-fields");
    let embedded = flag("x-kubernetes-embedded-resource");
    let mut out = Map::new();

    if flag("x-kubernetes-int-or-string") {
        let mut types = vec![json!("integer"), json!("string")];
        if nullable {
            types.push(json!("null"));
        }
        out.insert("type".into(), Value::Array(types));
    } else if let Some(Value::String(kind)) = source.get("type") {
        out.insert(
            "type".into(),
            if nullable {
                json!([kind, "null"])
            } else {
                json!(kind)
            },
        );
    }
    for key in COPIED {
        if let Some(value) = source.get(*key) {
            out.insert((*key).into(), value.clone());
        }
    }
    if let Some(Value::String(format)) = source.get("format")
        && CHECKED_FORMATS.contains(&format.as_str())
    {
        out.insert("format".into(), format.as_str().into());
    }
    // As on the API server, a null never matches an enum, `nullable` or not (kube-openapi's
    // common validator skips null members and fails a null value).
    if let Some(Value::Array(values)) = source.get("enum") {
        out.insert("enum".into(), Value::Array(values.clone()));
    }
    // OpenAPI 3.0 (draft 4) booleans become 2020-12 numbers.
    for (flag_key, bound_key) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if flag(flag_key)
            && let Some(bound) = out.remove(bound_key)
        {
            out.insert(flag_key.into(), bound);
        }
    }
    let mut properties = match source.get("properties") {
        Some(Value::Object(props)) => props
            .iter()
            .map(|(k, v)| (k.clone(), convert(v, structural)))
            .collect::<Map<_, _>>(),
        _ => Map::new(),
    };
    if embedded {
        properties
            .entry("apiVersion")
            .or_insert_with(|| json!({"type": "string"}));
        properties
            .entry("kind")
            .or_insert_with(|| json!({"type": "string"}));
        properties
            .entry("metadata")
            .or_insert_with(|| json!({"$ref": format!("{DEFINITIONS_URI}#/$defs/{OBJECT_META}")}));
        let required = out
            .entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(required) = required {
            for key in ["apiVersion", "kind"] {
                if !required.iter().any(|r| r == key) {
                    required.push(key.into());
                }
            }
        }
    }
    let has_properties = !properties.is_empty() || source.contains_key("properties");
    if has_properties {
        out.insert("properties".into(), Value::Object(properties));
    }
    if let Some(items) = source.get("items")
        && items.is_object()
    {
        out.insert("items".into(), convert(items, structural));
    }
    match source.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            out.insert("additionalProperties".into(), Value::Bool(*allowed));
        }
        Some(schema @ Value::Object(_)) => {
            out.insert("additionalProperties".into(), convert(schema, structural));
        }
        _ => {
            // Unknown fields are pruned by the API server and refused by kubectl's strict
            // field validation: refuse them here too, unless the schema keeps them.
            let is_object =
                source.get("type").and_then(Value::as_str) == Some("object") || has_properties;
            if structural && is_object && !preserve_unknown {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
        }
    }
    let mut junctors = Map::new();
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = source.get(key) {
            junctors.insert(
                key.into(),
                Value::Array(branches.iter().map(|b| convert(b, false)).collect()),
            );
        }
    }
    if let Some(not) = source.get("not") {
        junctors.insert("not".into(), convert(not, false));
    }
    if nullable && !junctors.is_empty() {
        // The API server checks a null only against `type` and `enum` (kube-openapi's
        // SchemaValidator exits early on null): `allOf`/`anyOf`/`oneOf`/`not` hold for
        // everything else.
        out.insert("if".into(), json!({"type": "null"}));
        out.insert("else".into(), Value::Object(junctors));
    } else {
        out.extend(junctors);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "backups.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Backup", "plural": "backups"},
                "scope": "Namespaced",
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["schedule"],
                                "properties": {
                                    "schedule": {"type": "string", "pattern": "^\\S+ \\S+ \\S+ \\S+ \\S+$"},
                                    "keep": {"type": "integer", "minimum": 0, "exclusiveMinimum": true, "nullable": true},
                                    "port": {"x-kubernetes-int-or-string": true},
                                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                                    "mode": {"type": "string", "enum": ["full", "incremental"]}
                                },
                                "anyOf": [{"required": ["keep"]}, {"properties": {"mode": {"enum": ["full"]}}}]
                            }
                        }
                    }}},
                    {"name": "v1beta1", "served": true, "deprecated": true, "deprecationWarning": "use v1", "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                    {"name": "v1alpha1", "served": false, "schema": {"openAPIV3Schema": {"type": "object"}}}
                ]
            }
        })
    }

    /// A validator for the converted schema, with ObjectMeta stubbed in a registry.
    fn validator(schema: &Value) -> jsonschema::Validator {
        let defs = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {OBJECT_META: {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": false}}
        });
        let registry = jsonschema::Registry::new()
            .add(DEFINITIONS_URI, defs)
            .unwrap()
            .prepare()
            .unwrap();
        // Formats checked as the catalog checks them.
        jsonschema::options()
            .with_registry(&registry)
            .offline()
            .should_validate_formats(true)
            .should_ignore_unknown_formats(true)
            .build(schema)
            .unwrap()
    }

    fn errors(v: &jsonschema::Validator, object: Value) -> Vec<String> {
        v.iter_errors(&object)
            .map(|e| format!("{}: {}", e.instance_path(), e))
            .collect()
    }

    #[test]
    fn served_versions_with_scope_and_deprecation() {
        let versions = versions(&crd()).unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].gvk, Gvk::new("example.com", "v1", "Backup"));
        assert!(versions[0].namespaced);
        assert_eq!(versions[1].deprecation.as_deref(), Some("use v1"));
        let broken = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": "x"}, "spec": {"group": "g", "names": {"kind": "K"}, "scope": "Sometimes", "versions": []}});
        assert_eq!(
            super::versions(&broken).unwrap_err(),
            CrdError::Scope {
                crd: "x".into(),
                scope: "Sometimes".into()
            }
        );
        let mut unnamed = broken.clone();
        unnamed["metadata"] = json!({});
        unnamed["spec"]["scope"] = json!("Cluster");
        unnamed["spec"]["versions"] = json!([{"name": "v1", "served": true}, {}]);
        let err = super::versions(&unnamed).unwrap_err();
        assert!(
            matches!(&err, CrdError::NoSchema { crd, version } if crd == "(unnamed)" && version == "v1"),
            "{err}"
        );
        unnamed["spec"]["versions"] = json!([{"name": "v1", "served": false}, {}]);
        assert!(matches!(
            super::versions(&unnamed),
            Err(CrdError::VersionName { index: 1, .. })
        ));
        unnamed["spec"].as_object_mut().unwrap().remove("group");
        let err = super::versions(&unnamed).unwrap_err();
        assert!(matches!(
            err,
            CrdError::Missing {
                pointer: "/spec/group",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "CustomResourceDefinition (unnamed): /spec/group is missing"
        );
    }

    #[test]
    fn nulls_formats_and_enums_as_the_api_server_checks_them() {
        let schema = root_schema(
            &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "choice": {"type": "object", "nullable": true,
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
                "mode": {"type": "string", "nullable": true, "enum": ["x", "y"]},
                "every": {"type": "string", "format": "duration"},
                "id": {"type": "string", "format": "uuid"},
                "at": {"type": "string", "format": "date-time"}
            }}}}),
        );
        let validator = validator(&schema);
        let spec = |spec: Value| json!({"apiVersion": "g/v1", "kind": "K", "metadata": {"name": "n"}, "spec": spec});
        // A null skips `oneOf`; Go durations and dashless UUIDs are the API server's.
        assert_eq!(
            errors(
                &validator,
                spec(
                    json!({"choice": null, "every": "5m", "id": "0123456789abcdef0123456789abcdef"})
                )
            ),
            Vec::<String>::new()
        );
        let found = errors(
            &validator,
            spec(json!({"choice": {"a": "1", "b": "2"}, "mode": null, "at": "yesterday"})),
        )
        .join("\n");
        for expected in [
            "/spec/choice: {\"a\":\"1\",\"b\":\"2\"} is valid under more than one",
            "/spec/mode: null is not one of",
            "/spec/at: \"yesterday\" is not a \"date-time\"",
        ] {
            assert!(found.contains(expected), "missing {expected:?} in\n{found}");
        }
    }

    #[test]
    fn cel_rules_are_found_by_schema_keyword_only() {
        let crd = json!({"spec": {"versions": [
            {"name": "v1", "schema": {"openAPIV3Schema": {"type": "object",
                "x-kubernetes-validations": [{"rule": "true"}],
                "properties": {
                    "x-kubernetes-validations": {"type": "array", "items": {"type": "string"}},
                    "spec": {"type": "object", "properties": {"list": {"type": "array", "items": {
                        "type": "object", "x-kubernetes-validations": [{"rule": "self.a > 0"}]}}}},
                    "empty": {"type": "object", "x-kubernetes-validations": []}
                }}}},
            {"name": "v2", "schema": {"openAPIV3Schema": {"type": "object"}}}
        ]}});
        assert_eq!(
            cel_rules(&crd),
            ["v1 /", "v1 /properties/spec/properties/list/items"]
        );
    }

    #[test]
    fn converted_schema_is_strict_and_honours_the_extensions() {
        let v1 = &versions(&crd()).unwrap()[0];
        let validator = validator(&v1.schema);
        let ok = json!({
            "apiVersion": "example.com/v1", "kind": "Backup", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "keep": null, "port": "http", "extra": {"anything": [1, 2]},
                     "template": {"apiVersion": "v1", "kind": "Pod", "spec": {"free": "form"}}, "mode": "full"}
        });
        assert_eq!(errors(&validator, ok.clone()), Vec::<String>::new());
        let mut with_int_port = ok.clone();
        with_int_port["spec"]["port"] = json!(8080);
        assert!(errors(&validator, with_int_port).is_empty());

        let bad = json!({
            "apiVersion": "example.com/v1", "kind": "Backup", "metadata": {"name": "nightly", "labelz": {}},
            "spec": {"keep": 0, "port": true, "unknown": 1, "template": {"kind": "Pod"}, "mode": "sometimes"},
            "stray": true
        });
        let found = errors(&validator, bad).join("\n");
        for expected in [
            "/spec: \"schedule\" is a required property",
            "/spec: Additional properties are not allowed ('unknown' was unexpected)",
            "/spec/keep: 0 is less than or equal to the minimum of 0",
            "/spec/port: true is not of types",
            "/spec/template: \"apiVersion\" is a required property",
            "/spec/mode: \"sometimes\" is not one of",
            ": Additional properties are not allowed ('stray' was unexpected)",
            "/metadata: Additional properties are not allowed ('labelz' was unexpected)",
        ] {
            assert!(found.contains(expected), "missing {expected:?} in\n{found}");
        }
    }
}

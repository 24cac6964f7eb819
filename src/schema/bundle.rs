//! The Kubernetes type definitions of one release: the built-in bundle compiled into the
//! binary (so that a fresh install validates offline), or a `vX.Y.Z-local-strict` directory
//! of PyPI's `kubernetes-validate` for other releases. Both become the same `Definitions`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::gvk::Gvk;

/// The release of the built-in bundle (`schemas/kubernetes-1.35.json`, written by
/// `scripts/update-schemas.py`); the apply stage pins k8s-openapi to the same release.
pub const BUILTIN_VERSION: KubeVersion = KubeVersion {
    major: 1,
    minor: 35,
    patch: 0,
};

const BUILTIN: &str = include_str!("../../schemas/kubernetes-1.35.json");

/// The `$id` the definitions are registered under: kubernetes-validate's kind files refer to
/// it as `/api/_definitions.json`.
pub const DEFINITIONS_URI: &str = "https://kubernetes.io/api/_definitions.json";

/// A Kubernetes release, `1.35` or `1.35.0` (a leading `v` is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim().trim_start_matches('v');
        let parts: Vec<&str> = trimmed.split('.').collect();
        let number = |s: &str| s.parse::<u32>().ok();
        match parts.as_slice() {
            [major, minor] => Some((number(major), number(minor), Some(0))),
            [major, minor, patch] => Some((number(major), number(minor), number(patch))),
            _ => None,
        }
        .and_then(|(a, b, c)| Some((a?, b?, c?)))
        .map(|(major, minor, patch)| KubeVersion {
            major,
            minor,
            patch,
        })
        .ok_or_else(|| format!("`{text}` is not a Kubernetes version such as 1.35 or 1.35.0"))
    }

    /// Same major and minor: schemas do not change in patch releases.
    pub fn same_release(&self, other: &KubeVersion) -> bool {
        self.major == other.major && self.minor == other.minor
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Every type of one release, indexed by the kinds that can be applied.
pub struct Definitions {
    pub version: KubeVersion,
    /// Where they came from, for messages.
    pub source: String,
    /// The JSON Schema document holding every definition under `$defs`; the catalog moves
    /// it into its `$ref` registry.
    pub document: Value,
    /// Top-level kinds: the definition name of each.
    pub kinds: HashMap<Gvk, String>,
    /// `group/Kind` -> namespaced, for every kind whose scope is known.
    pub namespaced: HashMap<String, bool>,
}

#[derive(Deserialize)]
struct BundleFile {
    kubernetes_version: String,
    source: String,
    namespaced: HashMap<String, bool>,
    definitions: Value,
}

impl Definitions {
    /// The bundle compiled into the binary.
    pub fn builtin() -> Result<Definitions, String> {
        let bundle: BundleFile = serde_json::from_str(BUILTIN)
            .map_err(|e| format!("the built-in schema bundle is damaged: {e}"))?;
        let version = KubeVersion::parse(&bundle.kubernetes_version)?;
        Ok(Definitions::new(
            version,
            format!(
                "built-in schemas for Kubernetes {version} ({})",
                bundle.source
            ),
            bundle.definitions,
            bundle.namespaced,
        ))
    }

    /// `<dir>/_definitions.json` of a kubernetes-validate schema directory. Scope comes
    /// from `known_scopes` (the built-in bundle's): a kind keeps its scope across releases.
    pub fn from_directory(
        dir: &Path,
        version: KubeVersion,
        known_scopes: HashMap<String, bool>,
    ) -> Result<Definitions, String> {
        let path = dir.join("_definitions.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let document: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
        if document.get("$defs").and_then(Value::as_object).is_none() {
            return Err(format!(
                "{}: no `$defs`; expected kubernetes-validate's _definitions.json",
                path.display()
            ));
        }
        Ok(Definitions::new(
            version,
            format!("schemas for Kubernetes {version} from {}", dir.display()),
            document,
            known_scopes,
        ))
    }

    fn new(
        version: KubeVersion,
        source: String,
        mut document: Value,
        namespaced: HashMap<String, bool>,
    ) -> Definitions {
        tighten(&mut document);
        let mut kinds = HashMap::new();
        if let Some(defs) = document.get("$defs").and_then(Value::as_object) {
            for (name, schema) in defs {
                let Some([gvk]) = schema
                    .get("x-kubernetes-group-version-kind")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                else {
                    continue;
                };
                let is_object = schema
                    .get("properties")
                    .and_then(|p| p.get("kind"))
                    .is_some();
                let field = |key: &str| gvk.get(key).and_then(Value::as_str);
                if let (true, Some(group), Some(version), Some(kind)) =
                    (is_object, field("group"), field("version"), field("kind"))
                {
                    kinds.insert(Gvk::new(group, version, kind), name.clone());
                }
            }
        }
        Definitions {
            version,
            source,
            document,
            kinds,
            namespaced,
        }
    }

    /// The schema of one top-level kind: a reference into the definitions document.
    pub fn kind_schema(&self, gvk: &Gvk) -> Option<Value> {
        let name = self.kinds.get(gvk)?;
        Some(serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("{DEFINITIONS_URI}#/$defs/{name}"),
        }))
    }

    /// Whether the definitions hold any version of `group/Kind`.
    pub fn stable_version_of(&self, gvk: &Gvk) -> Option<String> {
        self.kinds
            .keys()
            .filter(|other| other.group == gvk.group && other.kind == gvk.kind)
            .filter(|other| !other.is_prerelease())
            .map(Gvk::api_version)
            .min()
    }
}

/// Pattern of a Kubernetes quantity (`resource.Quantity`): the published schema only says
/// "string or number", so `memory: "lots"` would pass although the API server refuses it.
pub const QUANTITY_PATTERN: &str =
    r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?(\d+(\.\d*)?|\.\d+))?$";

/// Rules the API server enforces that the published schemas leave out.
fn tighten(document: &mut Value) {
    let quantity = document
        .get_mut("$defs")
        .and_then(|defs| defs.get_mut("io.k8s.apimachinery.pkg.api.resource.Quantity"))
        .and_then(|q| q.get_mut("oneOf"))
        .and_then(Value::as_array_mut);
    if let Some(branches) = quantity {
        for branch in branches {
            let is_string = branch
                .get("type")
                .map(|t| {
                    t == "string" || t.as_array().is_some_and(|a| a.contains(&"string".into()))
                })
                .unwrap_or(false);
            if is_string && let Some(object) = branch.as_object_mut() {
                object.insert("pattern".into(), QUANTITY_PATTERN.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            KubeVersion::parse("1.35").unwrap(),
            KubeVersion {
                major: 1,
                minor: 35,
                patch: 0
            }
        );
        assert_eq!(KubeVersion::parse("v1.33.2").unwrap().to_string(), "1.33.2");
        assert!(KubeVersion::parse("latest").is_err());
        assert!(KubeVersion::parse("1").is_err());
        assert!(KubeVersion::parse("1.x").is_err());
    }

    #[test]
    fn builtin_bundle_indexes_kinds_and_scopes() {
        let defs = Definitions::builtin().unwrap();
        assert!(defs.version.same_release(&BUILTIN_VERSION));
        let deploy = Gvk::new("apps", "v1", "Deployment");
        assert_eq!(defs.kinds[&deploy], "io.k8s.api.apps.v1.Deployment");
        assert!(defs.kind_schema(&deploy).is_some());
        assert!(
            !defs
                .kinds
                .contains_key(&Gvk::new("extensions", "v1beta1", "Deployment"))
        );
        assert_eq!(defs.namespaced.get("apps/Deployment"), Some(&true));
        assert_eq!(defs.namespaced.get("/Namespace"), Some(&false));
        assert_eq!(
            defs.namespaced.get("rbac.authorization.k8s.io/ClusterRole"),
            Some(&false)
        );
        // Every kind that can be stored has a scope.
        let unscoped: Vec<String> = defs
            .kinds
            .keys()
            .filter(|g| !g.kind.ends_with("List"))
            .filter(|g| !defs.namespaced.contains_key(&g.group_kind()))
            .map(Gvk::to_string)
            .collect();
        let mut unscoped = unscoped;
        unscoped.sort();
        assert_eq!(
            unscoped,
            vec![
                "authentication.k8s.io/v1/TokenRequest",
                "autoscaling/v1/Scale",
                "policy/v1/Eviction",
                "v1/Status"
            ]
        );
        assert_eq!(
            defs.stable_version_of(&Gvk::new("resource.k8s.io", "v1beta2", "ResourceClaim")),
            Some("resource.k8s.io/v1".to_owned())
        );
    }

    /// The bundle leaves out annotations (`description`), never fields that share their
    /// names: these are all the fields of that kind in the published definitions.
    #[test]
    fn fields_named_like_annotations_are_kept() {
        let defs = Definitions::builtin().unwrap();
        let properties = |name: &str| -> Vec<String> {
            let pointer = format!("/$defs/{name}/properties");
            let found = defs.document.pointer(&pointer);
            let found = found
                .and_then(Value::as_object)
                .unwrap_or_else(|| panic!("{name}"));
            found.keys().cloned().collect()
        };
        for (definition, field) in [
            ("io.k8s.api.scheduling.v1.PriorityClass", "description"),
            (
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceColumnDefinition",
                "description",
            ),
            (
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.ExternalDocumentation",
                "description",
            ),
            (
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
                "description",
            ),
            (
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
                "x-kubernetes-preserve-unknown-fields",
            ),
            (
                "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
                "$ref",
            ),
        ] {
            assert!(
                properties(definition).iter().any(|p| p == field),
                "{definition} has no field {field}"
            );
        }
    }

    #[test]
    fn quantity_pattern_accepts_what_the_api_server_does() {
        let re = regex_lite(QUANTITY_PATTERN);
        for ok in [
            "1", "100m", "1.5Gi", "2e3", "0.5", ".5", "+1", "64Mi", "1E", "1e-3",
        ] {
            assert!(re(ok), "{ok}");
        }
        for bad in ["lots", "1GB", "1 Gi", "", "Gi", "1.2.3"] {
            assert!(!re(bad), "{bad}");
        }
    }

    /// The pattern checked the way the validator will check it.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        let validator = jsonschema::validator_for(&schema).unwrap();
        move |s: &str| validator.is_valid(&Value::String(s.to_owned()))
    }
}

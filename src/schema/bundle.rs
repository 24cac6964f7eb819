//! The Kubernetes type definitions of one release: a bundle compiled into the binary for
//! every release from 1.25 to 1.37 (so that a fresh install validates any of them offline),
//! or a `vX.Y.Z-local-strict` directory of PyPI's `kubernetes-validate` for other releases.
//! Both become the same `Definitions`.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::gvk::Gvk;

/// The release objects are checked against unless a setting names another; the apply stage
/// pins k8s-openapi to the same release.
pub(crate) const BUILTIN_VERSION: KubeVersion = KubeVersion {
    major: 1,
    minor: 35,
    patch: 0,
};

/// The bundles compiled into the binary, by minor release of Kubernetes 1, oldest first:
/// `schemas/kubernetes-1.<minor>.json.zlib`, written by `scripts/update-schemas.py` (zlib
/// keeps the 13 releases at 0.3 MB where the JSON is 3.9 MB; BENCHMARKS.md, issue 24). Each
/// is inflated only when a run uses its release.
const BUILTIN_BUNDLES: [(u32, &[u8]); 13] = [
    (
        25,
        include_bytes!("../../schemas/kubernetes-1.25.json.zlib"),
    ),
    (
        26,
        include_bytes!("../../schemas/kubernetes-1.26.json.zlib"),
    ),
    (
        27,
        include_bytes!("../../schemas/kubernetes-1.27.json.zlib"),
    ),
    (
        28,
        include_bytes!("../../schemas/kubernetes-1.28.json.zlib"),
    ),
    (
        29,
        include_bytes!("../../schemas/kubernetes-1.29.json.zlib"),
    ),
    (
        30,
        include_bytes!("../../schemas/kubernetes-1.30.json.zlib"),
    ),
    (
        31,
        include_bytes!("../../schemas/kubernetes-1.31.json.zlib"),
    ),
    (
        32,
        include_bytes!("../../schemas/kubernetes-1.32.json.zlib"),
    ),
    (
        33,
        include_bytes!("../../schemas/kubernetes-1.33.json.zlib"),
    ),
    (
        34,
        include_bytes!("../../schemas/kubernetes-1.34.json.zlib"),
    ),
    (
        35,
        include_bytes!("../../schemas/kubernetes-1.35.json.zlib"),
    ),
    (
        36,
        include_bytes!("../../schemas/kubernetes-1.36.json.zlib"),
    ),
    (
        37,
        include_bytes!("../../schemas/kubernetes-1.37.json.zlib"),
    ),
];

/// The releases built in, oldest first.
pub(crate) fn builtin_releases() -> impl Iterator<Item = KubeVersion> {
    BUILTIN_BUNDLES.iter().map(|(minor, _)| KubeVersion {
        major: 1,
        minor: *minor,
        patch: 0,
    })
}

/// Whether `version`'s release is built in (any patch release of it).
pub(crate) fn is_builtin(version: &KubeVersion) -> bool {
    builtin_releases().any(|builtin| builtin.same_release(version))
}

/// The releases built in, for messages: `1.25 to 1.37`.
pub(crate) fn builtin_range() -> String {
    let mut releases = builtin_releases();
    let first = releases.next();
    match (first, releases.last()) {
        (Some(first), Some(last)) => format!(
            "{}.{} to {}.{}",
            first.major, first.minor, last.major, last.minor
        ),
        (Some(only), None) => format!("{}.{}", only.major, only.minor),
        _ => "none".to_owned(),
    }
}

/// The message for a release that is neither built in nor in the schema directory, if any.
pub(crate) fn not_built_in(version: &KubeVersion, schema_dir: Option<&Path>) -> String {
    let (major, minor) = (version.major, version.minor);
    let range = builtin_range();
    match schema_dir {
        None => format!(
            "Kubernetes {major}.{minor} is not built in (built in: {range}); set `schema_dir` (or --schema-dir) to a directory holding v{major}.{minor}.0-local-strict (see scripts/update-schemas.py --extract)"
        ),
        Some(dir) => format!(
            "Kubernetes {major}.{minor} is not built in (built in: {range}) and {} holds no v{major}.{minor}.0-local-strict",
            dir.display()
        ),
    }
}

/// Why the definitions of one release cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Neither built in nor in the schema directory (if one is set).
    #[error("{}", not_built_in(.version, .schema_dir.as_deref()))]
    NotBuiltIn {
        version: KubeVersion,
        schema_dir: Option<PathBuf>,
    },
    /// The bundle compiled into the binary does not inflate, parse, or hold its release.
    #[error(
        "the built-in schema bundle of Kubernetes {}.{} is damaged: {problem}",
        .version.major,
        .version.minor
    )]
    Damaged {
        version: KubeVersion,
        problem: String,
    },
    /// The release a built-in bundle says it holds is no version.
    #[error(transparent)]
    BundledVersion(#[from] VersionError),
    /// A schema directory's `_definitions.json` cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not valid JSON: {source}", .path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Valid JSON, but not kubernetes-validate's definitions.
    #[error("{}: no `$defs`; expected kubernetes-validate's _definitions.json", .path.display())]
    NoDefinitions { path: PathBuf },
}

/// A text that names no Kubernetes release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a Kubernetes version such as 1.35 or 1.35.0")]
pub struct VersionError {
    pub text: String,
}

/// The `vX.Y.Z-local-strict` directory of `version` in a schema directory, if it holds one:
/// the exact release first, then `vX.Y.0`.
pub(crate) fn release_directory(dir: &Path, version: &KubeVersion) -> Option<PathBuf> {
    [
        format!("v{version}-local-strict"),
        format!("v{}.{}.0-local-strict", version.major, version.minor),
    ]
    .iter()
    .map(|name| dir.join(name))
    .find(|path| path.is_dir())
}

/// The built-in release nearest to `version`: the scopes of a release read from a schema
/// directory come from it (a kind keeps its scope across releases).
pub(crate) fn nearest_builtin(version: &KubeVersion) -> KubeVersion {
    builtin_releases()
        .min_by_key(|builtin| {
            (
                builtin.major.abs_diff(version.major),
                builtin.minor.abs_diff(version.minor),
            )
        })
        .unwrap_or(BUILTIN_VERSION)
}

/// The `$id` the definitions are registered under: kubernetes-validate's kind files refer to
/// it as `/api/_definitions.json`.
pub(crate) const DEFINITIONS_URI: &str = "https://kubernetes.io/api/_definitions.json";

/// A Kubernetes release, `1.35` or `1.35.0` (a leading `v` is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub fn parse(text: &str) -> Result<Self, VersionError> {
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
        .ok_or_else(|| VersionError {
            text: text.to_owned(),
        })
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
pub(crate) struct Definitions {
    pub version: KubeVersion,
    /// Where they came from, for messages.
    pub source: String,
    /// The JSON Schema document holding every definition under `$defs`; the catalog moves
    /// it into its `$ref` registry.
    pub document: Value,
    /// Top-level kinds: the definition name of each.
    pub kinds: HashMap<Gvk, String>,
    /// Top-level kinds: the schema of a whole object (see [`top_level`]), made before the
    /// document moves into the registry.
    kind_schemas: HashMap<Gvk, Value>,
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
    /// The built-in bundle of the default release, [`BUILTIN_VERSION`] (the tests' release).
    #[cfg(test)]
    pub(crate) fn builtin() -> Result<Definitions, BundleError> {
        Definitions::builtin_release(&BUILTIN_VERSION)
    }

    /// The bundle compiled into the binary for `version`'s release, inflated and read.
    pub(crate) fn builtin_release(version: &KubeVersion) -> Result<Definitions, BundleError> {
        let compressed = BUILTIN_BUNDLES
            .iter()
            .find(|(minor, _)| version.major == 1 && *minor == version.minor)
            .map(|(_, bytes)| *bytes)
            .ok_or(BundleError::NotBuiltIn {
                version: *version,
                schema_dir: None,
            })?;
        let damaged = |e: &dyn fmt::Display| BundleError::Damaged {
            version: *version,
            problem: e.to_string(),
        };
        let mut text = Vec::new();
        flate2::read::ZlibDecoder::new(compressed)
            .read_to_end(&mut text)
            .map_err(|e| damaged(&e))?;
        let bundle: BundleFile = serde_json::from_slice(&text).map_err(|e| damaged(&e))?;
        let bundled = KubeVersion::parse(&bundle.kubernetes_version)?;
        if !bundled.same_release(version) {
            return Err(damaged(&format!("it holds Kubernetes {bundled}")));
        }
        Ok(Definitions::new(
            bundled,
            format!(
                "built-in schemas for Kubernetes {bundled} ({})",
                bundle.source
            ),
            bundle.definitions,
            bundle.namespaced,
        ))
    }

    /// `<dir>/_definitions.json` of a kubernetes-validate schema directory. Scope comes
    /// from `known_scopes` (the built-in bundle's): a kind keeps its scope across releases.
    pub(crate) fn from_directory(
        dir: &Path,
        version: KubeVersion,
        known_scopes: HashMap<String, bool>,
    ) -> Result<Definitions, BundleError> {
        let path = dir.join("_definitions.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(source) => return Err(BundleError::Read { path, source }),
        };
        let document: Value = match serde_json::from_str(&text) {
            Ok(document) => document,
            Err(source) => return Err(BundleError::NotJson { path, source }),
        };
        if document.get("$defs").and_then(Value::as_object).is_none() {
            return Err(BundleError::NoDefinitions { path });
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
        let mut kind_schemas = HashMap::new();
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
                    let gvk = Gvk::new(group, version, kind);
                    kind_schemas.insert(gvk.clone(), top_level(schema));
                    kinds.insert(gvk, name.clone());
                }
            }
        }
        Definitions {
            version,
            source,
            document,
            kinds,
            kind_schemas,
            namespaced,
        }
    }

    /// The schema of a whole object of one top-level kind (see [`top_level`]).
    pub(crate) fn kind_schema(&self, gvk: &Gvk) -> Option<Value> {
        self.kind_schemas.get(gvk).cloned()
    }

    /// Whether the definitions hold any version of `group/Kind`.
    pub(crate) fn stable_version_of(&self, gvk: &Gvk) -> Option<String> {
        self.kinds
            .keys()
            .filter(|other| other.group == gvk.group && other.kind == gvk.kind)
            .filter(|other| !other.is_prerelease())
            .map(Gvk::api_version)
            .min()
    }
}

/// A kind's definition as the schema of a whole object, made the way kubernetes-validate's
/// (and kubeconform's) file for the kind is made from it: the object itself is not null, and
/// each of its own fields may be (`value: null` in a PriorityClass passes there, though
/// `value` is required: the API server decodes the null as no value). Without this policyrun
/// failed such objects where the reference passes them (tests/all/schema_reference.rs);
/// `scripts/update-schemas.py` checks the rule against every kind file of every release.
/// `$ref`s become absolute, into the registered definitions.
fn top_level(definition: &Value) -> Value {
    let mut schema = definition.clone();
    if let Some(object) = schema.as_object_mut() {
        object.insert("type".into(), "object".into());
        object.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        if let Some(Value::Object(fields)) = object.get_mut("properties") {
            fields.values_mut().for_each(nullable);
        }
    }
    absolute_refs(&mut schema);
    schema
}

/// Lets a field's schema take null as well, when it names its types.
fn nullable(field: &mut Value) {
    let Some(object) = field.as_object_mut() else {
        return;
    };
    match object.get_mut("type") {
        Some(Value::String(only)) => {
            let only = std::mem::take(only);
            object.insert("type".into(), serde_json::json!([only, "null"]));
        }
        Some(Value::Array(types)) if !types.iter().any(|t| t == "null") => {
            types.push("null".into());
        }
        _ => {}
    }
}

/// `#/$defs/...` (inside the definitions document) and `/api/_definitions.json#/...` (the
/// kind files' form) as absolute references into the registered definitions.
fn absolute_refs(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(target) if key == "$ref" => {
                        if target.starts_with('#') {
                            *target = format!("{DEFINITIONS_URI}{target}");
                        } else if target.starts_with("/api/_definitions.json") {
                            *target = format!("https://kubernetes.io{target}");
                        }
                    }
                    _ => absolute_refs(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(absolute_refs),
        _ => {}
    }
}

/// Pattern of a Kubernetes quantity (`resource.Quantity`): the published schema only says
/// "string or number", so `memory: "lots"` would pass although the API server refuses it.
pub(crate) const QUANTITY_PATTERN: &str =
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
    fn a_schema_directory_that_holds_no_definitions_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let version = KubeVersion::parse("1.40").unwrap();
        let read = |dir: &Path| Definitions::from_directory(dir, version, HashMap::new()).err();
        assert!(matches!(read(dir.path()), Some(BundleError::Read { .. })));
        let file = dir.path().join("_definitions.json");
        std::fs::write(&file, "{").unwrap();
        assert!(
            matches!(read(dir.path()), Some(BundleError::NotJson { path, .. }) if path == file)
        );
        std::fs::write(&file, "{}").unwrap();
        let err = read(dir.path()).unwrap();
        assert!(matches!(err, BundleError::NoDefinitions { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no `$defs`; expected kubernetes-validate's _definitions.json",
                file.display()
            )
        );
    }

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
        for bad in ["latest", "1", "1.x"] {
            assert_eq!(
                KubeVersion::parse(bad),
                Err(VersionError { text: bad.into() })
            );
        }
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

    #[test]
    fn every_builtin_release_loads_with_its_kinds_and_scopes() {
        let releases: Vec<KubeVersion> = builtin_releases().collect();
        assert_eq!(releases.first().unwrap().to_string(), "1.25.0");
        assert_eq!(releases.last().unwrap().to_string(), "1.37.0");
        assert!(is_builtin(&BUILTIN_VERSION));
        assert!(is_builtin(&KubeVersion::parse("1.29.7").unwrap()));
        assert!(!is_builtin(&KubeVersion::parse("1.24").unwrap()));
        assert!(!is_builtin(&KubeVersion::parse("2.29").unwrap()));
        assert_eq!(builtin_range(), "1.25 to 1.37");
        let deploy = Gvk::new("apps", "v1", "Deployment");
        let not_stored = [
            "authentication.k8s.io/TokenRequest",
            "autoscaling/Scale",
            "policy/Eviction",
            "/Status",
        ];
        for release in releases {
            let defs = Definitions::builtin_release(&release).unwrap();
            assert_eq!(defs.version, release);
            assert!(defs.kind_schema(&deploy).is_some(), "{release}");
            assert!(defs.kinds.len() > 100, "{release}: {}", defs.kinds.len());
            let unscoped: Vec<String> = defs
                .kinds
                .keys()
                .filter(|g| !g.kind.ends_with("List"))
                .map(Gvk::group_kind)
                .filter(|gk| !defs.namespaced.contains_key(gk))
                .filter(|gk| !not_stored.contains(&gk.as_str()))
                .collect();
            assert!(unscoped.is_empty(), "{release}: no scope for {unscoped:?}");
        }
        let old = KubeVersion::parse("1.24").unwrap();
        let problem = Definitions::builtin_release(&old).err().unwrap();
        assert!(
            matches!(&problem, BundleError::NotBuiltIn { version, schema_dir: None } if *version == old),
            "{problem}"
        );
        assert!(
            problem
                .to_string()
                .starts_with("Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)"),
            "{problem}"
        );
    }

    /// Every bundle in `schemas/` is built in, and every built-in one is there.
    #[test]
    fn the_bundles_in_schemas_are_the_ones_built_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("kubernetes-"))
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = builtin_releases()
            .map(|v| format!("kubernetes-{}.{}.json.zlib", v.major, v.minor))
            .collect();
        built_in.sort();
        assert_eq!(on_disk, built_in);
    }

    /// The hand-kept lifecycle table agrees with every release built in: a version it calls
    /// removed has no schema there, and has one in the release before its removal.
    #[test]
    fn lifecycle_table_agrees_with_every_release() {
        use super::super::lifecycle::{ApiStatus, Lifecycle};
        let table = Lifecycle::builtin().unwrap();
        let releases: Vec<Definitions> = builtin_releases()
            .map(|v| Definitions::builtin_release(&v).unwrap())
            .collect();
        for (gvk, removed) in table.kinds() {
            for defs in &releases {
                let is_removed = matches!(
                    table.verdict(&gvk, defs.version),
                    Some(ApiStatus::Removed { .. })
                );
                if is_removed {
                    assert!(
                        !defs.kinds.contains_key(&gvk),
                        "{gvk} has a schema in {} though the table says removed in {removed:?}",
                        defs.version
                    );
                }
            }
            let Some(removed) = removed.map(|r| KubeVersion::parse(r).unwrap()) else {
                continue;
            };
            if let Some(before) = releases
                .iter()
                .find(|d| d.version.major == removed.major && d.version.minor + 1 == removed.minor)
            {
                assert!(
                    before.kinds.contains_key(&gvk),
                    "{gvk}: the table says removed in {removed}, but {} has no schema",
                    before.version
                );
            }
        }
    }

    /// A kind's schema is its definition with the object not null and its own fields
    /// nullable, referring into the registered definitions.
    #[test]
    fn kind_schemas_are_the_reference_top_level() {
        let defs = Definitions::builtin().unwrap();
        let schema = defs
            .kind_schema(&Gvk::new("scheduling.k8s.io", "v1", "PriorityClass"))
            .unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["properties"]["value"]["type"],
            serde_json::json!(["integer", "null"])
        );
        assert_eq!(schema["required"], serde_json::json!(["value"]));
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["properties"]["metadata"]["$ref"],
            format!("{DEFINITIONS_URI}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
        );
        let mut registry_document = defs.document.clone();
        registry_document["$id"] = DEFINITIONS_URI.into();
        let registry = jsonschema::Registry::new()
            .add(DEFINITIONS_URI, registry_document)
            .and_then(|builder| builder.prepare())
            .unwrap();
        let validator = jsonschema::options()
            .with_registry(&registry)
            .build(&schema)
            .unwrap();
        let object = |value: Value| {
            serde_json::json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "critical"}, "value": value})
        };
        assert!(validator.is_valid(&object(1000.into())));
        assert!(validator.is_valid(&object(Value::Null)));
        assert!(!validator.is_valid(&object("high".into())));
        assert!(!validator.is_valid(&Value::Null));
    }

    /// The bundle leaves out annotations (`description`), never fields that share their
    /// names: these are all the fields of that kind in the published definitions.
    #[test]
    fn fields_named_like_annotations_are_kept() {
        for release in builtin_releases() {
            fields_named_like_annotations_are_kept_in(&release);
        }
    }

    fn fields_named_like_annotations_are_kept_in(release: &KubeVersion) {
        let defs = Definitions::builtin_release(release).unwrap();
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
                "{release}: {definition} has no field {field}"
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

//! The schema stage: every object checked offline against the Kubernetes schemas of its
//! cluster's release (built in, or from a schema directory), schemas from configured
//! locations and from the `CustomResourceDefinition`s in the tree, the lifecycle of its API
//! version, and the naming rules the API server enforces beyond the schemas. `check` and
//! `validate` share it.

pub(crate) mod bundle;
pub(crate) mod crd;
pub(crate) mod gvk;
pub(crate) mod lifecycle;
pub mod memory;
pub(crate) mod names;
pub(crate) mod places;
pub(crate) mod structural;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde_json::Value;

use crate::model::digest::Digest;
use crate::model::expansion::Object;
use crate::model::object::Target;
use crate::model::outcome::{Location, Outcome, Stage, Status};
use crate::model::same::Content;
use crate::model::stage::StageReport;
use crate::model::stats::Stats;
use bundle::{
    BUILTIN_VERSION, BundleError, DEFINITIONS_URI, Definitions, KubeVersion, VersionError,
};
use crd::CrdError;
use gvk::Gvk;
use lifecycle::{ApiStatus, Lifecycle};
use memory::SchemaMemory;
use names::NameRules;
use places::Places;
use structural::Preparation;

/// The check against the schema (and the API version's lifecycle).
pub const SCHEMA: &str = "schema";
/// The check of names, labels and annotations.
pub const METADATA: &str = "metadata";

/// At most this many schema errors of one object are listed.
const MAX_ERRORS: usize = 50;

/// How schemas are found; paths are absolute (configuration resolves them inside the
/// repository, the command line may point anywhere).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The release of every cluster without one of its own; `None`: [`BUILTIN_VERSION`].
    pub kubernetes_version: Option<KubeVersion>,
    /// Clusters whose objects are checked against a release of their own
    /// (`[cluster.schema] kubernetes_version`): clusters are upgraded one at a time.
    pub cluster_versions: BTreeMap<String, KubeVersion>,
    /// Where other releases live: `vX.Y.Z-local-strict` directories of kubernetes-validate.
    pub schema_dir: Option<PathBuf>,
    /// Set when `schema_dir` comes from the repository: the files read from it must really
    /// lie inside this directory.
    pub schema_dir_confined_to: Option<PathBuf>,
    /// Searched in order before everything else: directories holding
    /// `<kind>-<group>-<version>.json` files, or path templates (see `location_candidates`).
    pub locations: Vec<SchemaLocation>,
    /// `CustomResourceDefinition` files or directories (JSON or YAML) for every cluster.
    pub crd_files: Vec<PathBuf>,
    /// An object without a schema is skipped instead of failing.
    pub ignore_missing: bool,
    /// Kinds (`Kind`) or `group/version/Kind`s (`v1/Kind` for the core group) not checked.
    pub skip: Vec<String>,
}

/// Why the catalog cannot be built: the schema stage cannot run at all (a usage problem).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A release's definitions cannot be had.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The schema directory's definitions lie outside the repository that names them.
    #[error(transparent)]
    Confined(#[from] ConfinedError),
    #[error("cannot prepare the schemas: {0}")]
    Registry(#[source] jsonschema::ReferencingError),
    /// The release of one cluster (`[cluster.schema] kubernetes_version`).
    #[error("cluster {cluster}: {source}")]
    Cluster {
        cluster: String,
        #[source]
        source: Box<CatalogError>,
    },
    /// A table compiled into the binary is damaged.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// A table compiled into the binary (API lifecycle, object names) that does not read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{file} is damaged: {source}")]
    Damaged {
        file: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{file}: {source}")]
    Version {
        file: &'static str,
        #[source]
        source: VersionError,
    },
}

/// A file named by the repository's configuration that does not really lie inside it.
#[derive(Debug, thiserror::Error)]
pub enum ConfinedError {
    #[error("cannot resolve {}: {source}", .path.display())]
    Unresolved {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A committed symbolic link leads the read elsewhere.
    #[error("{} is a symbolic link that leads outside the repository; not read", .path.display())]
    Outside { path: PathBuf },
}

/// A schema location and, when it comes from the repository's configuration, the directory
/// its files must really lie in (a committed symbolic link must not lead the read outside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaLocation {
    pub path: String,
    pub confined_to: Option<PathBuf>,
}

/// A compiled-once schema of one kind.
pub struct KindSchema {
    /// Where the schema comes from, for messages.
    origin: String,
    schema: Value,
    /// Compiled once per release it is used with (a CRD's schema refers to the release's
    /// ObjectMeta, and clusters may run different releases), by the catalog's release index.
    compiled: OnceLock<Box<[OnceLock<Compiled>]>>,
    /// A custom resource's: what the API server does to an object before validating it.
    preparation: Option<Arc<Preparation>>,
    /// What names this schema across runs (the memory's keys): its origin and text, or the
    /// CRD version it was made from (whose defaults and nulls the text alone does not keep).
    identity: Digest,
}

/// A kind schema compiled against one release, or why it does not compile.
type Compiled = Result<jsonschema::Validator, String>;

/// What the configured locations hold for a kind (`None`: nothing), looked up once.
type Located = Option<Result<Arc<KindSchema>, String>>;

impl KindSchema {
    fn new(origin: String, schema: Value) -> Arc<Self> {
        let text = serde_json::to_vec(&schema).unwrap_or_default();
        Arc::new(KindSchema {
            identity: Digest::of_parts(b"kind schema", &[origin.as_bytes(), &text]),
            origin,
            schema,
            compiled: OnceLock::new(),
            preparation: None,
        })
    }

    fn custom(
        origin: String,
        schema: Value,
        preparation: Arc<Preparation>,
        source: &Digest,
    ) -> Arc<Self> {
        Arc::new(KindSchema {
            identity: Digest::of_parts(b"custom kind schema", &[origin.as_bytes(), &source.0]),
            origin,
            schema,
            compiled: OnceLock::new(),
            preparation: Some(preparation),
        })
    }
}

/// How one kind is checked, decided once per kind before the parallel part.
#[derive(Clone)]
enum Resolution {
    Skipped(String),
    Removed(ApiStatus),
    Schema {
        schema: Arc<KindSchema>,
        /// The catalog's index of the release the object's cluster runs.
        release: usize,
        warning: Option<String>,
    },
    Missing,
    Broken(String),
}

/// The custom resources one set of CRDs defines, with their compiled-once schemas.
type CustomKinds = HashMap<Gvk, (crd::CrdVersion, Arc<KindSchema>)>;

/// One release a run checks against: its definitions and their `$ref` registry.
struct Release {
    definitions: Definitions,
    registry: jsonschema::Registry<'static>,
    /// Where the API server checks labels inside built-in objects, by definition name.
    places: HashMap<String, Arc<Places>>,
    /// What names the definitions across runs: a built-in release by its version (the
    /// build is in every memory's salt), a schema directory's by their text.
    fingerprint: Digest,
}

impl Release {
    /// The definitions of `version`: from `schema_dir` when it holds the release (a team's
    /// own copy wins), else built in; registered once for every `$ref`.
    fn load(version: KubeVersion, settings: &Settings) -> Result<Release, CatalogError> {
        let found = settings
            .schema_dir
            .as_deref()
            .and_then(|dir| bundle::release_directory(dir, &version));
        let mut from_directory = false;
        let mut definitions = match (found, &settings.schema_dir) {
            (Some(found), _) => {
                from_directory = true;
                if let Some(root) = &settings.schema_dir_confined_to {
                    ensure_inside(&found.join("_definitions.json"), root)?;
                }
                // A kind keeps its scope across releases: the nearest built-in one's.
                let scopes = Definitions::builtin_release(&bundle::nearest_builtin(&version))?;
                Definitions::from_directory(&found, version, scopes.namespaced)?
            }
            (None, _) if bundle::is_builtin(&version) => Definitions::builtin_release(&version)?,
            (None, dir) => {
                return Err(BundleError::NotBuiltIn {
                    version,
                    schema_dir: dir.clone(),
                }
                .into());
            }
        };
        // Read before the registry takes the document.
        let places = places::from_definitions(&definitions.document);
        let fingerprint = if from_directory {
            let text = serde_json::to_vec(&definitions.document).unwrap_or_default();
            Digest::of_parts(b"release from a directory", &[&text])
        } else {
            Digest::of_parts(
                b"built-in release",
                &[definitions.version.to_string().as_bytes()],
            )
        };
        let registry = jsonschema::Registry::new()
            // Moved, not copied: the registry is the only reader of the document.
            .add(DEFINITIONS_URI, std::mem::take(&mut definitions.document))
            .and_then(|builder| builder.prepare())
            .map_err(CatalogError::Registry)?;
        Ok(Release {
            definitions,
            registry,
            places,
            fingerprint,
        })
    }
}

/// Everything the schema stage knows: the definitions of each release the settings name
/// (registered once for all `$ref`s), the lifecycle and naming tables, custom resources per
/// cluster, and how each kind seen so far resolves.
pub struct Catalog {
    /// Every release the settings name, each loaded once; the other releases built in are
    /// never inflated.
    releases: Vec<Release>,
    /// The index of the release of clusters without one of their own (and of objects of no
    /// cluster: `validate`).
    default_release: usize,
    /// Clusters with a release of their own: the index of each one's.
    cluster_releases: HashMap<String, usize>,
    lifecycle: Lifecycle,
    names: NameRules,
    settings: Settings,
    /// Custom resources: `None` for configured CRD files (every cluster), else per cluster.
    crds: HashMap<Option<String>, CustomKinds>,
    builtin: HashMap<(usize, Gvk), Arc<KindSchema>>,
    located: HashMap<(usize, Gvk), Located>,
    resolved: HashMap<(Option<String>, Gvk), Resolution>,
    /// The CRDs seen whose schemas have CEL rules, which policyrun does not evaluate.
    with_cel_rules: BTreeSet<String>,
}

impl Catalog {
    /// Loads the definitions of the releases the settings name (the default one and the
    /// clusters' own) and the tables; reads no CRD files yet. `check` builds the catalog
    /// while the entries expand, so the releases load then.
    pub fn new(settings: Settings) -> Result<Catalog, CatalogError> {
        let mut releases: Vec<Release> = Vec::new();
        let mut index_of = |version: KubeVersion| -> Result<usize, CatalogError> {
            if let Some(i) = releases
                .iter()
                .position(|r| r.definitions.version.same_release(&version))
            {
                return Ok(i);
            }
            releases.push(Release::load(version, &settings)?);
            Ok(releases.len() - 1)
        };
        let default_release = index_of(settings.kubernetes_version.unwrap_or(BUILTIN_VERSION))?;
        let mut cluster_releases = HashMap::new();
        for (cluster, version) in &settings.cluster_versions {
            let index = index_of(*version).map_err(|source| CatalogError::Cluster {
                cluster: cluster.clone(),
                source: Box::new(source),
            })?;
            cluster_releases.insert(cluster.clone(), index);
        }
        Ok(Catalog {
            releases,
            default_release,
            cluster_releases,
            lifecycle: Lifecycle::builtin()?,
            names: NameRules::builtin()?,
            settings,
            crds: HashMap::new(),
            builtin: HashMap::new(),
            located: HashMap::new(),
            resolved: HashMap::new(),
            with_cel_rules: BTreeSet::new(),
        })
    }

    /// The index of the release `cluster`'s objects are checked against.
    fn release_of(&self, cluster: Option<&str>) -> usize {
        cluster
            .and_then(|c| self.cluster_releases.get(c))
            .copied()
            .unwrap_or(self.default_release)
    }

    /// The definitions `cluster`'s objects are checked against.
    fn definitions(&self, cluster: Option<&str>) -> &Definitions {
        &self.releases[self.release_of(cluster)].definitions
    }

    /// Takes the served versions of a CRD for `cluster` (`None`: every cluster).
    pub(crate) fn add_crd(
        &mut self,
        cluster: Option<&str>,
        object: &Value,
        origin: &str,
    ) -> Result<(), CrdError> {
        let versions = crd::versions(object)?;
        if let Some(version) = versions.first()
            && !crd::cel_rules(object).is_empty()
        {
            self.with_cel_rules.insert(version.crd.clone());
        }
        let table = self.crds.entry(cluster.map(str::to_owned)).or_default();
        for version in versions {
            let schema = KindSchema::custom(
                format!("CustomResourceDefinition {} in {origin}", version.crd),
                version.schema.clone(),
                version.preparation.clone(),
                &version.source,
            );
            table.insert(version.gvk.clone(), (version, schema));
        }
        self.resolved.clear();
        Ok(())
    }

    /// Whether objects of this kind are namespaced, from the CRDs of `cluster` or the
    /// release's type data; `None` when nobody says.
    pub fn namespaced(&self, cluster: Option<&str>, gvk: &Gvk) -> Option<bool> {
        self.crd(cluster, gvk)
            .map(|(version, _)| version.namespaced)
            .or_else(|| {
                self.definitions(cluster)
                    .namespaced
                    .get(&gvk.group_kind())
                    .copied()
            })
    }

    fn crd(&self, cluster: Option<&str>, gvk: &Gvk) -> Option<&(crd::CrdVersion, Arc<KindSchema>)> {
        cluster
            .and_then(|c| self.crds.get(&Some(c.to_owned())))
            .and_then(|table| table.get(gvk))
            .or_else(|| self.crds.get(&None).and_then(|table| table.get(gvk)))
    }

    /// Decides, serially, how each kind in `kinds` is checked, so that the parallel part
    /// only reads. Schema files are read here; compiling waits for the first object.
    pub fn resolve<'a>(&mut self, kinds: impl IntoIterator<Item = (Option<&'a str>, Gvk)>) {
        for (cluster, gvk) in kinds {
            let key = (cluster.map(str::to_owned), gvk);
            if self.resolved.contains_key(&key) {
                continue;
            }
            let resolution = self.resolution(cluster, &key.1);
            self.resolved.insert(key, resolution);
        }
    }

    fn resolution(&mut self, cluster: Option<&str>, gvk: &Gvk) -> Resolution {
        if let Some(rule) = self
            .settings
            .skip
            .iter()
            .find(|rule| **rule == gvk.kind || **rule == gvk.to_string())
        {
            return Resolution::Skipped(format!("skipped: `{rule}` is in the skip list"));
        }
        let release = self.release_of(cluster);
        let verdict = self
            .lifecycle
            .verdict(gvk, self.releases[release].definitions.version);
        if let Some(removed @ ApiStatus::Removed { .. }) = &verdict {
            return Resolution::Removed(removed.clone());
        }
        let mut warning = verdict.map(|v| v.message(gvk));
        if let Some(found) = self.located(release, gvk) {
            return match found {
                Ok(schema) => Resolution::Schema {
                    schema,
                    release,
                    warning,
                },
                Err(problem) => Resolution::Broken(problem),
            };
        }
        if let Some((version, schema)) = self.crd(cluster, gvk) {
            return Resolution::Schema {
                schema: schema.clone(),
                release,
                warning: warning.or_else(|| version.deprecation.clone()),
            };
        }
        let definitions = &self.releases[release].definitions;
        let Some(schema_value) = definitions.kind_schema(gvk) else {
            return Resolution::Missing;
        };
        if warning.is_none()
            && gvk.is_prerelease()
            && let Some(stable) = definitions.stable_version_of(gvk)
        {
            warning = Some(format!(
                "{} {} is a pre-release version: {stable} is the stable one",
                gvk.api_version(),
                gvk.kind
            ));
        }
        let origin = definitions.source.clone();
        let schema = self
            .builtin
            .entry((release, gvk.clone()))
            .or_insert_with(|| KindSchema::new(origin, schema_value))
            .clone();
        Resolution::Schema {
            schema,
            release,
            warning,
        }
    }

    /// The first configured location holding a schema for `gvk` in `release` (a template
    /// may name the release: `{kubernetes_version}`).
    fn located(&mut self, release: usize, gvk: &Gvk) -> Located {
        let key = (release, gvk.clone());
        if let Some(found) = self.located.get(&key) {
            return found.clone();
        }
        let version = self.releases[release].definitions.version;
        let found = self
            .settings
            .locations
            .iter()
            .flat_map(|location| {
                location_candidates(&location.path, gvk, version)
                    .into_iter()
                    .map(move |path| (path, location.confined_to.as_deref()))
            })
            .find(|(path, _)| path.is_file())
            .map(|(path, confined_to)| {
                if let Some(root) = confined_to {
                    ensure_inside(&path, root).map_err(|e| e.to_string())?;
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read schema {}: {e}", path.display()))?;
                let schema: Value = serde_json::from_str(&text)
                    .map_err(|e| format!("schema {} is not valid JSON: {e}", path.display()))?;
                Ok(KindSchema::new(
                    format!("schema {}", path.display()),
                    schema,
                ))
            });
        self.located.insert(key, found.clone());
        found
    }

    /// `schema` compiled against `release`'s definitions, once.
    fn compile<'s>(
        &self,
        schema: &'s KindSchema,
        release: usize,
    ) -> Result<&'s jsonschema::Validator, String> {
        let per_release = schema
            .compiled
            .get_or_init(|| self.releases.iter().map(|_| OnceLock::new()).collect());
        per_release[release]
            .get_or_init(|| {
                jsonschema::options()
                    .with_registry(&self.releases[release].registry)
                    .offline()
                    .should_validate_formats(true)
                    .should_ignore_unknown_formats(true)
                    .with_format("byte", is_base64)
                    .build(&schema.schema)
                    .map_err(|e| format!("the schema from {} does not compile: {e}", schema.origin))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Checks one object: its schema outcome and its metadata outcome.
    pub fn check_object(&self, target: &Target) -> [Outcome; 2] {
        let gvk = Gvk::from_api_version(&target.id.api_version, &target.id.kind);
        let base = |check: &str| passed(target, check);
        let schema = match self
            .resolved
            .get(&(target.cluster.map(str::to_owned), gvk.clone()))
        {
            None => Outcome {
                status: Status::Error,
                ..base(SCHEMA)
            }
            .message(format!("internal error: {gvk} was not resolved before checking")),
            Some(Resolution::Skipped(why)) => Outcome {
                status: Status::Skipped,
                ..base(SCHEMA)
            }
            .message(why.clone()),
            Some(Resolution::Removed(verdict)) => Outcome {
                status: Status::Failed,
                ..base(SCHEMA)
            }
            .message(verdict.message(&gvk)),
            Some(Resolution::Missing) => Outcome {
                status: if self.settings.ignore_missing {
                    Status::Skipped
                } else {
                    Status::Failed
                },
                ..base(SCHEMA)
            }
            .message(format!(
                "no schema for {gvk} (Kubernetes {}, no CustomResourceDefinition or schema location has it){}",
                self.definitions(target.cluster).version,
                if self.settings.ignore_missing {
                    ""
                } else {
                    "; --ignore-missing-schemas skips such objects"
                }
            )),
            Some(Resolution::Broken(problem)) => Outcome {
                status: Status::Error,
                ..base(SCHEMA)
            }
            .message(problem.clone()),
            Some(Resolution::Schema {
                schema,
                release,
                warning,
            }) => self.validate(schema, *release, warning.as_deref(), target, base(SCHEMA)),
        };
        let schema = with_cel_caveat(schema, target.value());
        // A skipped kind is skipped by every check: names and labels too.
        if let Some(Resolution::Skipped(why)) = self
            .resolved
            .get(&(target.cluster.map(str::to_owned), gvk.clone()))
        {
            let metadata = Outcome {
                status: Status::Skipped,
                ..base(METADATA)
            }
            .message(why.clone());
            return [schema, metadata];
        }
        let problems = self.metadata_problems(target, &gvk);
        let metadata = if problems.is_empty() {
            base(METADATA)
        } else {
            let mut outcome = summarize(base(METADATA), Status::Failed, &problems);
            outcome.location = Some(target.location_of(problem_place(&problems[0])));
            outcome
        };
        [schema, metadata]
    }

    /// The digest of how each resolved kind is checked, for the kinds checked against a
    /// schema (the memory remembers those only): the schema, the release's definitions,
    /// the kind's scope (the metadata check reads it) and the warning the check gives.
    fn resolution_digests(&self) -> HashMap<(Option<String>, Gvk), Digest> {
        self.resolved
            .iter()
            .filter_map(|((cluster, gvk), resolution)| {
                let Resolution::Schema {
                    schema,
                    release,
                    warning,
                } = resolution
                else {
                    return None;
                };
                let scope: &[u8] = match self.namespaced(cluster.as_deref(), gvk) {
                    None => b"unknown",
                    Some(true) => b"namespaced",
                    Some(false) => b"cluster",
                };
                let digest = Digest::of_parts(
                    b"schema resolution",
                    &[
                        &schema.identity.0,
                        &self.releases[*release].fingerprint.0,
                        scope,
                        warning.as_deref().map_or(b"no warning", str::as_bytes),
                    ],
                );
                Some(((cluster.clone(), gvk.clone()), digest))
            })
            .collect()
    }

    /// What the API server would refuse about the names, namespace, labels and annotations
    /// of an object: its own metadata, and the places of its kind.
    fn metadata_problems(&self, target: &Target, gvk: &Gvk) -> Vec<String> {
        let mut problems = Vec::new();
        // A manifest for `kubectl create` may leave the name to the API server (`validate`
        // only: the gate's objects always have a name).
        let named = target
            .value()
            .pointer("/metadata/name")
            .is_some_and(|name| name.as_str() != Some(""));
        let generate_name = target
            .value()
            .pointer("/metadata/generateName")
            .and_then(Value::as_str);
        let problem = match generate_name {
            Some(prefix) if !named => self.names.check_generate_name(gvk, prefix),
            _ => self.names.check_name(gvk, &target.id.name),
        };
        problems.extend(problem);
        // The API server keeps (and checks) the namespace of namespaced kinds only; it
        // clears a cluster-scoped object's. Of a kind nobody knows the scope of, nothing
        // is said: its schema check already fails or was skipped on purpose.
        if let Some(Value::String(namespace)) = target.value().pointer("/metadata/namespace")
            && !namespace.is_empty()
            && self.namespaced(target.cluster, gvk) == Some(true)
        {
            problems.extend(names::check_namespace(namespace));
        }
        problems.extend(names::check_labels(
            target.value(),
            self.places(target.cluster, gvk),
        ));
        problems
    }

    /// Where the API server checks labels inside objects of `gvk`: from the CRD that
    /// defines it for `cluster`, else from the release's definitions.
    fn places(&self, cluster: Option<&str>, gvk: &Gvk) -> Option<&Places> {
        if let Some((version, _)) = self.crd(cluster, gvk) {
            return Some(&version.places);
        }
        let release = &self.releases[self.release_of(cluster)];
        release
            .definitions
            .kinds
            .get(gvk)
            .and_then(|definition| release.places.get(definition))
            .map(Arc::as_ref)
    }

    fn validate(
        &self,
        schema: &KindSchema,
        release: usize,
        warning: Option<&str>,
        target: &Target,
        base: Outcome,
    ) -> Outcome {
        let validator = match self.compile(schema, release) {
            Ok(validator) => validator,
            Err(problem) => {
                return Outcome {
                    status: Status::Error,
                    ..base
                }
                .message(problem);
            }
        };
        // A custom resource is validated as the API server sees it: nulls its schema does
        // not allow dropped, the CRD's defaults applied — on a copy, the object stays as
        // written for every other check.
        let value = match &schema.preparation {
            Some(preparation) => preparation.apply(target.value()),
            None => Cow::Borrowed(target.value()),
        };
        // Most objects are valid: ask the cheap question first.
        if validator.is_valid(&value) {
            return match warning {
                None => base,
                Some(warning) => Outcome {
                    status: Status::Warning,
                    ..base
                }
                .message(warning),
            };
        }
        // Secret values never reach a report, not even inside an error message.
        let secret = target.id.is_secret();
        // The message names the first error: the outcome points at its line.
        let mut first_place = None;
        let mut errors: Vec<String> = validator
            .iter_errors(&value)
            .take(MAX_ERRORS + 1)
            .map(|error| {
                first_place.get_or_insert_with(|| error.instance_path().as_str().to_owned());
                describe(&error, secret)
            })
            .collect();
        if errors.len() > MAX_ERRORS {
            errors.truncate(MAX_ERRORS);
            errors.push(format!(
                "... more than {MAX_ERRORS} errors, the rest not shown"
            ));
        }
        match (errors.is_empty(), warning) {
            (true, None) => base,
            (true, Some(warning)) => Outcome {
                status: Status::Warning,
                ..base
            }
            .message(warning),
            (false, warning) => {
                let mut outcome = summarize(base, Status::Failed, &errors);
                if let Some(pointer) = first_place {
                    outcome.location = Some(target.location_of(&pointer));
                }
                if matches!(value, Cow::Owned(_)) {
                    let said = outcome
                        .detail
                        .take()
                        .unwrap_or_else(|| outcome.message.clone());
                    outcome.detail = Some(format!("{said}\n{PREPARED}"));
                }
                if let Some(warning) = warning {
                    outcome.detail =
                        Some(format!("{}\n{warning}", outcome.detail.unwrap_or_default()));
                }
                outcome
            }
        }
    }
}

/// Check name for a `CustomResourceDefinition` whose custom resources cannot be read.
pub const CUSTOM_RESOURCES: &str = "custom-resources";

impl Catalog {
    /// Reads the configured CRD files (for every cluster). A file that cannot be read or
    /// a CRD that cannot be used is an error outcome naming the file and line.
    pub fn load_crd_files(&mut self) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let mut problem = |file: &Path, line: Option<usize>, message: String| {
            let mut location = Location::file(file);
            location.line = line;
            outcomes.push(
                Outcome::new(Stage::Schema, CUSTOM_RESOURCES, Status::Error)
                    .subject(file.display().to_string())
                    .message(message)
                    .location(location),
            );
        };
        for path in self.settings.crd_files.clone() {
            let files = match crate::model::manifests::files(&path) {
                Ok(files) => files,
                Err(e) => {
                    problem(&path, None, format!("cannot read CRD files: {e}"));
                    continue;
                }
            };
            for file in files {
                let items = match crate::model::manifests::read(&file) {
                    Ok(items) => items,
                    Err(e) => {
                        problem(&file, None, e);
                        continue;
                    }
                };
                for item in items {
                    match item.value {
                        Ok(value) if crd::is_crd(&value) => {
                            if let Err(e) = self.add_crd(None, &value, &file.display().to_string())
                            {
                                problem(&file, Some(item.line), e.to_string());
                            }
                        }
                        Ok(_) => {}
                        Err(e) => problem(&file, Some(item.line), e),
                    }
                }
            }
        }
        outcomes
    }
}

/// Where a metadata problem is: the JSON pointer it starts with (`/metadata/labels: ...`),
/// else the object's metadata (a name's problem names no pointer).
fn problem_place(problem: &str) -> &str {
    match problem.split_once(": ") {
        Some((pointer, _)) if pointer.starts_with('/') && !pointer.contains(' ') => pointer,
        _ => "/metadata",
    }
}

/// The first problem as the message (with a count of the others), all of them as detail.
fn summarize(base: Outcome, status: Status, problems: &[String]) -> Outcome {
    let outcome = Outcome { status, ..base };
    match problems.len() {
        1 => outcome.message(problems[0].clone()),
        n => outcome
            .message(format!("{} (and {} more)", problems[0], n - 1))
            .detail(problems.join("\n")),
    }
}

/// Said under the errors of a custom resource that was checked as the API server sees it.
const PREPARED: &str = "(checked as the API server sees the object: nulls its schema does not allow dropped, the CustomResourceDefinition's defaults applied)";

/// A check `target` passed, with nothing to say: what a fresh check gives and what the
/// memory recalls.
fn passed(target: &Target, check: &str) -> Outcome {
    let mut outcome = Outcome::new(Stage::Schema, check, Status::Passed)
        .subject(target.subject.clone())
        .object(target.id.clone())
        .location(target.location.clone());
    outcome.cluster = target.cluster.map(str::to_owned);
    outcome.entry = target.entry.map(Path::to_path_buf);
    outcome
}

/// A CRD's schema outcome says once, for all its objects, that its CEL rules
/// (`x-kubernetes-validations`) are not evaluated.
fn with_cel_caveat(outcome: Outcome, object: &Value) -> Outcome {
    if outcome.status == Status::Skipped || !crd::is_crd(object) {
        return outcome;
    }
    let rules = crd::cel_rules(object);
    let Some(first) = rules.first() else {
        return outcome;
    };
    let at = match rules.len() {
        1 => first.clone(),
        n => format!("{first} and {} more", n - 1),
    };
    let caveat = format!(
        "not checked: the CEL rules (x-kubernetes-validations) at {at}; policyrun does not evaluate CEL, the API server will"
    );
    let detail = match outcome.detail {
        Some(detail) => format!("{detail}\n{caveat}"),
        None if outcome.message.is_empty() => caveat,
        None => format!("{}\n{caveat}", outcome.message),
    };
    Outcome {
        detail: Some(detail),
        ..outcome
    }
}

/// One note for the run: which CRDs have CEL rules that no check evaluated.
fn cel_note(crds: &BTreeSet<String>) -> Option<String> {
    const NAMED: usize = 5;
    let names: Vec<&str> = crds.iter().take(NAMED).map(String::as_str).collect();
    let more = match crds.len().saturating_sub(NAMED) {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    (!crds.is_empty()).then(|| {
        format!(
            "schema: CEL rules (x-kubernetes-validations) are not evaluated, the API server checks them: {} CustomResourceDefinition{} ha{} some ({}{more})",
            crds.len(),
            if crds.len() == 1 { "" } else { "s" },
            if crds.len() == 1 { "s" } else { "ve" },
            names.join(", ")
        )
    })
}

/// `/json/pointer: what is wrong`. Instance values appear only when short, and never for a
/// Secret.
fn describe(error: &jsonschema::ValidationError, secret: bool) -> String {
    let pointer = error.instance_path().as_str();
    let pointer = if pointer.is_empty() { "/" } else { pointer };
    let text = if secret {
        error.masked_with("the value").to_string()
    } else {
        let full = error.to_string();
        if full.len() > 240 {
            error.masked_with("the value").to_string()
        } else {
            full
        }
    };
    format!("{pointer}: {text}")
}

/// What the schema stage checks, and what it only learns kinds from.
pub struct Input<'a, 'm> {
    pub targets: &'a [Target<'a>],
    /// Objects of entries the run does not check (`--changed-since` leaves them out): their
    /// CustomResourceDefinitions still define kinds for the others, and their problems are
    /// their own entry's, not reported here.
    pub context: &'a [Object],
    /// Whether objects of equal content checked against the same schema share one check
    /// (off, every object is checked on its own — the reports are the same).
    pub share: bool,
    /// The passes of earlier runs; `None` without a cache.
    pub memory: Option<SchemaMemory<'m>>,
    /// Every object of the tree is among the targets: only then may the memory forget the
    /// passes of objects it did not see.
    pub every_object: bool,
}

/// The whole schema stage, for `check` and `validate` alike: the configured CRD files, the
/// CRDs among the context and the targets (for their cluster) define custom resources, each
/// distinct kind is resolved once, then every object is checked in parallel, unless the
/// memory knows it passed. The report counts the objects that took the check of an earlier
/// object of the same content, and those whose pass was recalled.
pub fn run(catalog: &mut Catalog, input: Input) -> StageReport {
    let Input {
        targets,
        context,
        share,
        memory,
        every_object,
    } = input;
    let mut outcomes = catalog.load_crd_files();
    // Read by their names first: a run that recalls every verdict parses no other value.
    let context_crds = context
        .iter()
        .filter(|o| crd::names_a_crd(&o.id) && crd::is_crd(o.value()));
    for object in context_crds {
        let origin = object.file.display().to_string();
        let _ = catalog.add_crd(Some(&object.id.cluster), object.value(), &origin);
    }
    let crds = targets
        .iter()
        .filter(|t| crd::names_a_crd(t.id) && crd::is_crd(t.value()));
    for target in crds {
        let origin = target.location.to_string();
        if let Err(problem) = catalog.add_crd(target.cluster, target.value(), &origin) {
            let mut outcome = Outcome::new(Stage::Schema, CUSTOM_RESOURCES, Status::Failed)
                .subject(target.subject.clone())
                .object(target.id.clone())
                .message(problem.to_string())
                .location(target.location.clone());
            outcome.cluster = target.cluster.map(str::to_owned);
            outcome.entry = target.entry.map(Path::to_path_buf);
            outcomes.push(outcome);
        }
    }
    let kinds: HashSet<(Option<&str>, &str, &str)> = targets
        .iter()
        .map(|t| (t.cluster, t.id.api_version.as_str(), t.id.kind.as_str()))
        .collect();
    catalog.resolve(
        kinds.into_iter().map(|(cluster, api_version, kind)| {
            (cluster, Gvk::from_api_version(api_version, kind))
        }),
    );
    let keys = memory_keys(catalog, targets, memory.is_some());
    let recalled: Vec<bool> = keys
        .par_iter()
        .map(|key| {
            key.zip(memory.as_ref())
                .is_some_and(|(key, m)| m.knows(&key))
        })
        .collect();
    let (checked, shared) = if share {
        check_sharing(catalog, targets, &recalled)
    } else {
        (check(catalog, targets, &recalled), 0)
    };
    let mut notes = cel_note(&catalog.with_cel_rules)
        .into_iter()
        .collect::<Vec<_>>();
    let mut stats = Stats {
        schema_shared: shared,
        ..Stats::default()
    };
    if let Some(memory) = memory {
        // A pass is kept only as a fresh check would give it: nothing said, nothing
        // moved; anything else is checked again next time and keeps its exact words.
        let kept: BTreeSet<Digest> = targets
            .par_iter()
            .zip(&checked)
            .zip(&keys)
            .zip(&recalled)
            .filter_map(|(((target, pair), key), recalled)| {
                let key = (*key)?;
                let clean = *recalled
                    || (pair[0] == passed(target, SCHEMA) && pair[1] == passed(target, METADATA));
                clean.then_some(key)
            })
            .collect();
        stats.schema_recalled = recalled.iter().filter(|r| **r).count();
        if let Err(problem) = memory.save(kept, every_object) {
            notes.push(format!("cache: {problem}"));
        }
    }
    outcomes.extend(checked.into_iter().flatten());
    StageReport {
        outcomes,
        notes,
        stats,
    }
}

/// Each target's key in the memory (`None`: its kind is not checked against a schema, or
/// there is no memory).
fn memory_keys(catalog: &Catalog, targets: &[Target], with_memory: bool) -> Vec<Option<Digest>> {
    if !with_memory {
        return vec![None; targets.len()];
    }
    let resolutions = catalog.resolution_digests();
    targets
        .par_iter()
        .map(|target| {
            let gvk = Gvk::from_api_version(&target.id.api_version, &target.id.kind);
            let resolution = resolutions.get(&(target.cluster.map(str::to_owned), gvk))?;
            Some(Digest::of_parts(
                b"schema check",
                &[&resolution.0, &target.content_digest().0],
            ))
        })
        .collect()
}

/// Checks every target in parallel, but those `recalled` (they passed); the catalog must
/// have resolved their kinds.
fn check(catalog: &Catalog, targets: &[Target], recalled: &[bool]) -> Vec<[Outcome; 2]> {
    targets
        .par_iter()
        .zip(recalled)
        .map(|(target, recalled)| recalled_or_checked(catalog, target, *recalled))
        .collect()
}

fn recalled_or_checked(catalog: &Catalog, target: &Target, recalled: bool) -> [Outcome; 2] {
    if recalled {
        [passed(target, SCHEMA), passed(target, METADATA)]
    } else {
        catalog.check_object(target)
    }
}

/// As [`check`], each content checked once per schema: an object equal to an earlier one
/// whose kind resolves to the same compiled schema (a cluster's CRDs may give the same kind
/// another) takes that object's verdicts, about itself. Everything else a check reads — the
/// name and labels, the API version — is part of the content. Recalled objects are left out
/// of the comparison: they need no check.
fn check_sharing(
    catalog: &Catalog,
    targets: &[Target],
    recalled: &[bool],
) -> (Vec<[Outcome; 2]>, usize) {
    let values: Vec<Option<Content>> = targets
        .iter()
        .zip(recalled)
        .map(|(t, recalled)| (!recalled).then(|| t.sharing_content()))
        .collect();
    let first = crate::model::same::first_equal(&values);
    let schema_of = |target: &Target| {
        let gvk = Gvk::from_api_version(&target.id.api_version, &target.id.kind);
        match catalog
            .resolved
            .get(&(target.cluster.map(str::to_owned), gvk))
        {
            Some(Resolution::Schema {
                schema,
                release,
                warning,
            }) => Some((Arc::as_ptr(schema), *release, warning.clone())),
            _ => None,
        }
    };
    let takes: Vec<Option<usize>> = targets
        .par_iter()
        .enumerate()
        .map(|(i, target)| {
            let earlier = first[i];
            (earlier != i
                && !recalled[i]
                && schema_of(target).is_some()
                && schema_of(target) == schema_of(&targets[earlier]))
            .then_some(earlier)
        })
        .collect();
    let checked: Vec<Option<[Outcome; 2]>> = targets
        .par_iter()
        .zip(&takes)
        .zip(recalled)
        .map(|((target, takes), recalled)| {
            takes
                .is_none()
                .then(|| recalled_or_checked(catalog, target, *recalled))
        })
        .collect();
    let outcomes = targets
        .par_iter()
        .zip(&takes)
        .zip(&checked)
        .map(|((target, takes), own)| match (own, takes) {
            (Some(own), _) => own.clone(),
            (None, Some(earlier)) => match &checked[*earlier] {
                Some(found) => found.clone().map(|o| about(o, &targets[*earlier], target)),
                None => catalog.check_object(target),
            },
            (None, None) => catalog.check_object(target),
        })
        .collect();
    let shared = takes.iter().filter(|t| t.is_some()).count();
    (outcomes, shared)
}

/// Another object's verdict (`found` about `earlier`), about `target`. A finding's line
/// moves with the object: equal values printed alike have their fields at the same
/// distance from their first line, wherever they are in their files.
fn about(found: Outcome, earlier: &Target, target: &Target) -> Outcome {
    let mut location = target.location.clone();
    if let (Some(found_line), Some(from), Some(to)) = (
        found.location.as_ref().and_then(|l| l.line),
        earlier.location.line,
        target.location.line,
    ) && earlier.source.is_some()
        && target.source.is_some()
    {
        location.line = Some(to + found_line.saturating_sub(from));
    }
    let mut outcome = Outcome {
        subject: Some(target.subject.clone()),
        object: Some(Arc::new(target.id.clone())),
        location: Some(location),
        ..found
    };
    outcome.cluster = target.cluster.map(str::to_owned);
    outcome.entry = target.entry.map(Path::to_path_buf);
    outcome
}

/// The files a location offers for `gvk`. A directory holds kubernetes-validate's and
/// kubeconform's naming, `<kind>-<group>-<version>.json` (first label of the group,
/// `<kind>-<version>.json` for the core group). A path with `{...}` is a template:
/// `{kind}` (lowercase), `{Kind}`, `{group}` (full), `{group_prefix}` (first label),
/// `{version}`, `{kubernetes_version}`; for the core group, `-{group}` and
/// `-{group_prefix}` vanish with their dash.
pub fn location_candidates(location: &str, gvk: &Gvk, release: KubeVersion) -> Vec<PathBuf> {
    let kind = gvk.kind.to_lowercase();
    let prefix = gvk.group.split('.').next().unwrap_or_default();
    if location.contains('{') {
        let mut template = location.to_owned();
        if gvk.group.is_empty() {
            for placeholder in ["{group}", "{group_prefix}"] {
                template = template
                    .replace(&format!("-{placeholder}"), "")
                    .replace(&format!("{placeholder}-"), "");
            }
        }
        let path = template
            .replace("{kind}", &kind)
            .replace("{Kind}", &gvk.kind)
            .replace("{group}", &gvk.group)
            .replace("{group_prefix}", prefix)
            .replace("{version}", &gvk.version)
            .replace("{kubernetes_version}", &release.to_string());
        return vec![PathBuf::from(path)];
    }
    let dir = Path::new(location);
    let name = if gvk.group.is_empty() {
        format!("{kind}-{}.json", gvk.version)
    } else {
        format!("{kind}-{prefix}-{}.json", gvk.version)
    };
    vec![dir.join(name)]
}

/// A file that came from the repository's configuration must really lie inside it: a
/// committed symbolic link must not lead a read elsewhere.
fn ensure_inside(file: &Path, root: &Path) -> Result<(), ConfinedError> {
    let real = file
        .canonicalize()
        .map_err(|source| ConfinedError::Unresolved {
            path: file.to_path_buf(),
            source,
        })?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(ConfinedError::Outside {
            path: file.to_path_buf(),
        })
    }
}

/// Kubernetes' `byte` format: standard base64 with padding (how Secret data is decoded).
fn is_base64(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let padding = bytes.iter().rev().take_while(|b| **b == b'=').count();
    padding <= 2
        && bytes[..bytes.len() - padding]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::ObjectId;
    use serde_json::json;

    fn id(api_version: &str, kind: &str, name: &str) -> ObjectId {
        ObjectId {
            cluster: "dev".into(),
            entry: PathBuf::from("clusters/dev/a.jsonnet"),
            item: None,
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("web".into()),
            name: name.into(),
        }
    }

    fn run(catalog: &mut Catalog, id: &ObjectId, value: &Value) -> [Outcome; 2] {
        let gvk = Gvk::from_api_version(&id.api_version, &id.kind);
        catalog.resolve([(Some("dev"), gvk)]);
        catalog.check_object(&Target {
            subject: id.display_name(),
            cluster: Some("dev"),
            entry: None,
            id,
            value: &crate::model::value::ObjectValue::parsed(value.clone()),
            location: Location::file("generated/dev/a/x.json"),
            source: None,
            content: None,
        })
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web", "labels": {"name": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"name": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": {"name": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}
                }
            }
        })
    }

    #[test]
    fn builtin_schema_passes_and_fails_with_pointers() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        let object_id = id("apps/v1", "Deployment", "web");
        let [schema, metadata] = run(&mut catalog, &object_id, &deployment());
        assert_eq!(schema.status, Status::Passed, "{schema:?}");
        assert_eq!(metadata.status, Status::Passed, "{metadata:?}");

        let mut broken = deployment();
        broken["spec"]["replicas"] = json!("two");
        broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy2"] = json!("Always");
        broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] =
            json!(80.5);
        broken["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = json!(true);
        broken["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] =
            json!("lots");
        broken["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("name");
        let [schema, _] = run(&mut catalog, &object_id, &broken);
        assert_eq!(schema.status, Status::Failed);
        let detail = schema.detail.unwrap();
        for expected in [
            "/spec/replicas: \"two\" is not of types",
            "/spec/template/spec/containers/0: Additional properties are not allowed ('imagePullPolicy2' was unexpected)",
            "/spec/template/spec/containers/0/ports/0/containerPort: 80.5 is not of type",
            "/spec/strategy/rollingUpdate/maxSurge: true is not valid under any of the schemas listed in the 'oneOf' keyword",
            "/spec/template/spec/containers/0/resources/requests/memory: \"lots\" is not valid under any of the schemas",
            "/spec/template/spec/containers/0: \"name\" is a required property",
        ] {
            assert!(
                detail.contains(expected),
                "missing {expected:?} in\n{detail}"
            );
        }
    }

    #[test]
    fn removed_deprecated_missing_and_skipped() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        let old = id("extensions/v1beta1", "Deployment", "web");
        let [schema, _] = run(
            &mut catalog,
            &old,
            &json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "web"}}),
        );
        assert_eq!(schema.status, Status::Failed);
        assert!(
            schema
                .message
                .contains("removed in Kubernetes 1.16: use apps/v1"),
            "{}",
            schema.message
        );

        let endpoints = id("v1", "Endpoints", "web");
        let [schema, _] = run(
            &mut catalog,
            &endpoints,
            &json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "web"}}),
        );
        assert_eq!(schema.status, Status::Warning, "{schema:?}");
        assert!(
            schema.message.contains("EndpointSlice"),
            "{}",
            schema.message
        );

        let beta = id("resource.k8s.io/v1beta2", "DeviceClass", "gpu");
        let [schema, _] = run(
            &mut catalog,
            &beta,
            &json!({"apiVersion": "resource.k8s.io/v1beta2", "kind": "DeviceClass", "metadata": {"name": "gpu"}, "spec": {}}),
        );
        assert_eq!(schema.status, Status::Warning, "{schema:?}");
        assert!(
            schema
                .message
                .contains("resource.k8s.io/v1 is the stable one"),
            "{}",
            schema.message
        );

        let custom = id("example.com/v1", "Widget", "w");
        let value =
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
        let [schema, _] = run(&mut catalog, &custom, &value);
        assert_eq!(schema.status, Status::Failed);
        assert!(
            schema
                .message
                .starts_with("no schema for example.com/v1/Widget"),
            "{}",
            schema.message
        );

        let mut lenient = Catalog::new(Settings {
            ignore_missing: true,
            ..Settings::default()
        })
        .unwrap();
        let [schema, _] = run(&mut lenient, &custom, &value);
        assert_eq!(schema.status, Status::Skipped);

        for rule in ["Widget", "example.com/v1/Widget"] {
            let mut skipping = Catalog::new(Settings {
                skip: vec![rule.into()],
                ..Settings::default()
            })
            .unwrap();
            let [schema, _] = run(&mut skipping, &custom, &value);
            assert_eq!(schema.status, Status::Skipped, "{rule}");
        }
    }

    #[test]
    fn secret_values_never_appear_in_messages() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        let secret = id("v1", "Secret", "db");
        let value = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "web"},
            "data": {"password": "hunter2-not-base64!", "n": 12345}, "stringData": {"token": 987654}});
        let [schema, _] = run(&mut catalog, &secret, &value);
        assert_eq!(schema.status, Status::Failed);
        let text = format!("{} {}", schema.message, schema.detail.clone().unwrap());
        for leaked in ["hunter2", "12345", "987654"] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert!(text.contains("/data/password"), "{text}");
    }

    #[test]
    fn custom_resources_from_crds_per_cluster() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Cluster",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}
        });
        catalog
            .add_crd(Some("dev"), &crd, "generated/dev/crds/widgets.json")
            .unwrap();
        let gvk = Gvk::from_api_version("example.com/v1", "Widget");
        assert_eq!(catalog.namespaced(Some("dev"), &gvk), Some(false));
        assert_eq!(catalog.namespaced(Some("int"), &gvk), None);
        assert_eq!(
            catalog.namespaced(None, &Gvk::from_api_version("apps/v1", "Deployment")),
            Some(true)
        );
        let widget = id("example.com/v1", "Widget", "w");
        let good = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}});
        let [schema, _] = run(&mut catalog, &widget, &good);
        assert_eq!(schema.status, Status::Passed, "{schema:?}");
        let bad = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": "big", "colour": "red"}});
        let [schema, _] = run(&mut catalog, &widget, &bad);
        assert_eq!(schema.status, Status::Failed);
        let detail = schema.detail.unwrap();
        assert!(
            detail.contains("/spec/size: \"big\" is not of type \"integer\""),
            "{detail}"
        );
        assert!(detail.contains("'colour' was unexpected"), "{detail}");
    }

    /// Each cluster is checked against its own release: an API version removed in 1.32 is
    /// only deprecated for a cluster still on 1.29, and pod-level resources (1.32) are an
    /// unknown field there.
    #[test]
    fn clusters_are_checked_against_their_own_release() {
        let old = KubeVersion::parse("1.29").unwrap();
        let mut catalog = Catalog::new(Settings {
            cluster_versions: [("old".to_owned(), old)].into(),
            ..Settings::default()
        })
        .unwrap();
        let flow = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta3", "kind": "FlowSchema",
            "metadata": {"name": "health"},
            "spec": {"priorityLevelConfiguration": {"name": "exempt"}}});
        let mut pod_resources = deployment();
        pod_resources["spec"]["template"]["spec"]["resources"] = json!({"limits": {"cpu": "1"}});
        let verdict = |catalog: &mut Catalog, cluster: &str, value: &Value| {
            let api_version = value["apiVersion"].as_str().unwrap();
            let kind = value["kind"].as_str().unwrap();
            let object_id = id(api_version, kind, "x");
            let gvk = Gvk::from_api_version(api_version, kind);
            catalog.resolve([(Some(cluster), gvk)]);
            let [schema, _] = catalog.check_object(&Target {
                subject: object_id.display_name(),
                cluster: Some(cluster),
                entry: None,
                id: &object_id,
                value: &crate::model::value::ObjectValue::parsed(value.clone()),
                location: Location::file("generated/x.json"),
                source: None,
                content: None,
            });
            (schema.status, schema.message)
        };
        let (status, message) = verdict(&mut catalog, "old", &flow);
        assert_eq!(status, Status::Warning, "{message}");
        assert!(
            message.contains("deprecated since Kubernetes 1.29"),
            "{message}"
        );
        let (status, message) = verdict(&mut catalog, "new", &flow);
        assert_eq!(status, Status::Failed, "{message}");
        assert!(message.contains("removed in Kubernetes 1.32"), "{message}");
        let (status, message) = verdict(&mut catalog, "old", &pod_resources);
        assert_eq!(status, Status::Failed, "{message}");
        assert!(message.contains("'resources' was unexpected"), "{message}");
        let (status, message) = verdict(&mut catalog, "new", &pod_resources);
        assert_eq!(status, Status::Passed, "{message}");
        // The same CRD schema compiles against each cluster's release.
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Cluster",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object"}}}}}]}
        });
        catalog.add_crd(None, &crd, "crds/widgets.yaml").unwrap();
        let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {}});
        for cluster in ["old", "new"] {
            let (status, message) = verdict(&mut catalog, cluster, &widget);
            assert_eq!(status, Status::Passed, "{cluster}: {message}");
        }
        // A release that is neither built in nor in a schema directory.
        let unknown = Catalog::new(Settings {
            cluster_versions: [("old".to_owned(), KubeVersion::parse("1.24").unwrap())].into(),
            ..Settings::default()
        })
        .err()
        .unwrap();
        assert!(
            matches!(&unknown, CatalogError::Cluster { cluster, source }
                if cluster == "old"
                    && matches!(**source, CatalogError::Bundle(BundleError::NotBuiltIn { .. }))),
            "{unknown}"
        );
        assert!(
            unknown.to_string().starts_with(
                "cluster old: Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)"
            ),
            "{unknown}"
        );
    }

    #[test]
    fn metadata_rules_follow_the_kind() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        // A namespaced kind's namespace is a DNS label; a cluster-scoped one's is dropped
        // by the API server and not checked.
        let mut object_id = id("apps/v1", "Deployment", "web");
        let mut value = deployment();
        value["metadata"]["namespace"] = json!("${AUTOSCALER_NS}");
        let [_, metadata] = run(&mut catalog, &object_id, &value);
        assert_eq!(metadata.status, Status::Failed, "{metadata:?}");
        assert!(
            metadata
                .message
                .starts_with("/metadata/namespace: namespace `${AUTOSCALER_NS}`"),
            "{}",
            metadata.message
        );
        object_id = id("rbac.authorization.k8s.io/v1", "ClusterRole", "reader");
        let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader", "namespace": "${X}"}, "rules": []});
        let [_, metadata] = run(&mut catalog, &object_id, &role);
        assert_eq!(metadata.status, Status::Passed, "{metadata:?}");
        // A Service's selector is labels; a ConfigMap has no selector at all.
        let service = id("v1", "Service", "web");
        let [_, metadata] = run(
            &mut catalog,
            &service,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "web"},
                "spec": {"selector": {"app": "not a label"}, "ports": [{"port": 80}]}}),
        );
        assert!(
            metadata
                .message
                .starts_with("/spec/selector/app: label value"),
            "{metadata:?}"
        );
        let config = id("v1", "ConfigMap", "c");
        let [_, metadata] = run(
            &mut catalog,
            &config,
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "web"},
                "data": {"matchLabels": "not a label"}}),
        );
        assert_eq!(metadata.status, Status::Passed, "{metadata:?}");
        // A skipped kind is skipped by the metadata check too.
        let mut skipping = Catalog::new(Settings {
            skip: vec!["Service".into()],
            ..Settings::default()
        })
        .unwrap();
        let [schema, metadata] = run(
            &mut skipping,
            &service,
            &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Bad_Name"}}),
        );
        assert_eq!(schema.status, Status::Skipped);
        assert_eq!(metadata.status, Status::Skipped, "{metadata:?}");
    }

    #[test]
    fn custom_resources_are_validated_as_the_api_server_sees_them() {
        let mut catalog = Catalog::new(Settings::default()).unwrap();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "pools.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Pool", "plural": "pools"}, "scope": "Cluster",
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object",
                        "x-kubernetes-validations": [{"rule": "has(self.mode)"}],
                        "required": ["mode"],
                        "properties": {
                            "mode": {"type": "string", "default": "fast"},
                            "cache": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}}}}]}
        });
        catalog.add_crd(Some("dev"), &crd, "crd.json").unwrap();
        let pool = id("example.com/v1", "Pool", "p");
        let value = json!({"apiVersion": "example.com/v1", "kind": "Pool", "metadata": {"name": "p"},
            "spec": {"cache": null}});
        let [schema, _] = run(&mut catalog, &pool, &value);
        assert_eq!(schema.status, Status::Passed, "{schema:?}");
        let broken = json!({"apiVersion": "example.com/v1", "kind": "Pool", "metadata": {"name": "p"},
            "spec": {"mode": 3}});
        let [schema, _] = run(&mut catalog, &pool, &broken);
        assert_eq!(schema.status, Status::Failed, "{schema:?}");
        assert_eq!(schema.message, "/spec/mode: 3 is not of type \"string\"");
        assert!(schema.detail.unwrap().ends_with(PREPARED));
        // The CRD itself says once that its CEL rule is not evaluated.
        let crd_id = id(crd::CRD_API_VERSION, crd::CRD_KIND, "pools.example.com");
        let [schema, _] = run(&mut catalog, &crd_id, &crd);
        assert_eq!(schema.status, Status::Passed, "{schema:?}");
        assert!(
            schema.detail.as_deref().unwrap_or_default().starts_with(
                "not checked: the CEL rules (x-kubernetes-validations) at v1 /properties/spec;"
            ),
            "{schema:?}"
        );
        assert_eq!(
            cel_note(&catalog.with_cel_rules).unwrap(),
            "schema: CEL rules (x-kubernetes-validations) are not evaluated, the API server checks them: 1 CustomResourceDefinition has some (pools.example.com)"
        );
    }

    #[test]
    fn locations_and_templates() {
        let release = BUILTIN_VERSION;
        let deploy = Gvk::from_api_version("apps/v1", "Deployment");
        let service = Gvk::from_api_version("v1", "Service");
        let cert = Gvk::from_api_version("cert-manager.io/v1", "Certificate");
        assert_eq!(
            location_candidates("/s", &deploy, release),
            vec![PathBuf::from("/s/deployment-apps-v1.json")]
        );
        assert_eq!(
            location_candidates("/s", &service, release),
            vec![PathBuf::from("/s/service-v1.json")]
        );
        assert_eq!(
            location_candidates("/s/{kind}-{group}-{version}.json", &service, release),
            vec![PathBuf::from("/s/service-v1.json")]
        );
        assert_eq!(
            location_candidates("/c/{group}/{Kind}_{version}.json", &cert, release),
            vec![PathBuf::from("/c/cert-manager.io/Certificate_v1.json")]
        );
        assert_eq!(
            location_candidates(
                "/k/v{kubernetes_version}/{kind}-{group_prefix}-{version}.json",
                &cert,
                release
            ),
            vec![PathBuf::from("/k/v1.35.0/certificate-cert-manager-v1.json")]
        );
    }

    #[test]
    fn files_named_by_the_repository_must_lie_inside_it() {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        std::fs::write(root.join("inside.json"), "{}").unwrap();
        assert!(ensure_inside(&root.join("inside.json"), &root).is_ok());
        assert!(matches!(
            ensure_inside(&root.join("missing.json"), &root),
            Err(ConfinedError::Unresolved { .. })
        ));
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::fs::write(outside.path().join("x.json"), "{}").unwrap();
            std::os::unix::fs::symlink(outside.path().join("x.json"), root.join("link.json"))
                .unwrap();
            let err = ensure_inside(&root.join("link.json"), &root).unwrap_err();
            assert!(matches!(&err, ConfinedError::Outside { path } if path.ends_with("link.json")));
            // A schema directory whose definitions lead out: the catalog is not built.
            let dir = root.join("schemas/v1.40.0-local-strict");
            std::fs::create_dir_all(&dir).unwrap();
            std::os::unix::fs::symlink(
                outside.path().join("x.json"),
                dir.join("_definitions.json"),
            )
            .unwrap();
            let refused = Catalog::new(Settings {
                kubernetes_version: Some(KubeVersion::parse("1.40").unwrap()),
                schema_dir: Some(root.join("schemas")),
                schema_dir_confined_to: Some(root.clone()),
                ..Settings::default()
            });
            assert!(matches!(
                refused,
                Err(CatalogError::Confined(ConfinedError::Outside { .. }))
            ));
        }
    }

    #[test]
    fn base64_format() {
        for ok in ["", "aGVsbG8=", "aGVsbG8h", "YQ==", "a+/b"] {
            assert!(is_base64(ok), "{ok}");
        }
        for bad in ["aGVsbG8", "hunter2!", "a===", "YQ=a"] {
            assert!(!is_base64(bad), "{bad}");
        }
    }
}

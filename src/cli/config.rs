//! Reads and validates `policyrun.toml`, so that every later stage works from checked,
//! repository-relative settings and a bad file stops the run before anything is evaluated.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::paths::PathError;
pub use crate::model::repository::CONFIG_FILE;
use crate::model::repository::{Cluster, FormatOnly, Layout, Repository};
pub use crate::pipeline::settings::Config;
use crate::pipeline::settings::ZeroTimeout;
use crate::pipeline::settings::{ApplySettings, ClusterRollout};
use crate::schema::bundle::{BundleError, VersionError};
use crate::style::ExcludeError;

/// Recursion depth of the jsonnet command-line tool; jrsonnet's own default (200) is lower,
/// so deep but valid libraries would fail only here.
pub const DEFAULT_MAX_STACK: usize = 500;

/// One `[limits]` key: its default and the most policyrun.toml may raise it to. The file
/// comes with the pull request under review, so a ceiling keeps a pull request from lifting
/// a budget without bound; the trusted caller's command-line flags (`--evaluation-seconds`,
/// ...) replace the file's value and may go up to `flag_max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The key in `[limits]`, as messages name it.
    pub key: &'static str,
    /// The command-line flag that replaces the file's value.
    pub flag: &'static str,
    /// The least either may set: below it nothing useful could run.
    pub min: u64,
    pub default: u64,
    pub file_max: u64,
    pub flag_max: u64,
}

/// Seconds one entry's jsonnet evaluation may take. Entries evaluate in milliseconds; a
/// minute is far beyond any real one and still well inside a CI step's timeout.
pub const EVALUATION_SECONDS: Budget = Budget {
    key: "limits.evaluation_seconds",
    flag: "--evaluation-seconds",
    min: 1,
    default: 60,
    file_max: 600,
    flag_max: 86_400,
};

/// Seconds the policies may take for one object (every rule and constraint together).
/// Objects take microseconds to milliseconds.
pub const POLICY_SECONDS: Budget = Budget {
    key: "limits.policy_seconds",
    flag: "--policy-seconds",
    min: 1,
    default: crate::policy::DEFAULT_OBJECT_BUDGET.as_secs(),
    file_max: 60,
    flag_max: 86_400,
};

/// Bytes of one jsonnet source the style stage formats. libjsonnet's formatter needs up to
/// about 400 times a source's size in memory (a 25 MB file took 10 GB; a 1 MiB array of
/// numbers 340 MB): 1 MiB, 40 times our largest library (`lib/kube.libsonnet`, 24 KB), stays
/// near that; the file's ceiling, 8 MiB, near 3 GB.
pub const STYLE_SOURCE_BYTES: Budget = Budget {
    key: "limits.style_source_bytes",
    flag: "--style-source-bytes",
    min: 1,
    default: crate::style::DEFAULT_MAX_SOURCE_BYTES,
    file_max: 8 << 20,
    flag_max: 1 << 30,
};

/// Bytes of memory the process doing a run's work may hold (its resident set), enforced
/// by a supervising process (`cli::supervise`): past it, the entries and objects being
/// evaluated become errors and the run goes on without them. A gate on 3,000 entries
/// peaks near 1 GiB (BENCHMARKS.md), so 4 GiB is generous and still far below an agent's
/// memory; the file's ceiling, 16 GiB, keeps a pull request from taking the machine. The
/// least, 64 MiB, is about what the process needs before it evaluates anything.
pub const MEMORY_BYTES: Budget = Budget {
    key: "limits.memory_bytes",
    flag: "--memory-bytes",
    min: 64 << 20,
    default: 4 << 30,
    file_max: 16 << 30,
    flag_max: 1 << 40,
};

impl Budget {
    /// The value set in policyrun.toml (or the default), checked against the file's range.
    fn checked_file_value(&self, value: Option<i64>) -> Result<u64, BudgetError> {
        match value {
            None => Ok(self.default),
            Some(n) if n >= 0 && (self.min..=self.file_max).contains(&(n as u64)) => Ok(n as u64),
            Some(n) => Err(BudgetError::File {
                budget: *self,
                value: n,
            }),
        }
    }

    /// A value given on the command line, checked against the flag's range.
    pub fn checked_flag_value(&self, value: u64) -> Result<u64, BudgetError> {
        if (self.min..=self.flag_max).contains(&value) {
            Ok(value)
        } else {
            Err(BudgetError::Flag {
                budget: *self,
                value,
            })
        }
    }
}

/// A budget out of its range: the file's (`[limits]`) or the command line's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "{}: {value} is out of range ({} to {}; the command line's {} may set more)",
        .budget.key, .budget.min, .budget.file_max, .budget.flag
    )]
    File { budget: Budget, value: i64 },
    #[error(
        "{} {value}: out of range ({} to {})",
        .budget.flag, .budget.min, .budget.flag_max
    )]
    Flag { budget: Budget, value: u64 },
}

/// A configuration problem: always names the file, and the key where there is one.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", .path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub problem: ConfigProblem,
}

/// What is wrong with the configuration file, or in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    /// `path` is where the search started.
    #[error(
        "no {CONFIG_FILE} here or in any parent directory: `policyrun init` writes one for an existing repository (every key: docs/configuration.md in policyrun's sources)"
    )]
    NotFound,
    /// The directory the search starts in cannot be opened.
    #[error("cannot open directory: {0}")]
    Directory(#[source] std::io::Error),
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// A link (to /proc/self/environ, say) would have the parse error quote what it
    /// points to.
    #[error(
        "is a symbolic link; the configuration is read only as a regular file of the repository"
    )]
    SymbolicLink,
    /// A FIFO would hang the run.
    #[error("is not a regular file")]
    NotAFile,
    #[error("cannot resolve the repository root: {0}")]
    Root(#[source] std::io::Error),
    /// The text does not hold (boxed: [`SettingError`] is large and this is the rare path).
    #[error(transparent)]
    Setting(Box<SettingError>),
}

/// A setting that cannot be used, in `policyrun.toml` (or given for it on the command
/// line): the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// Not TOML, or a key or value the file's shape refuses: `line L, column C[, key
    /// `K`]: message`, nothing of the file echoed raw.
    #[error("{0}")]
    Toml(String),
    /// A `[cache]` table: the file comes with the change under review.
    #[error(
        "cache: the expansion cache's directory is chosen by whoever runs policyrun \
         (--cache-dir or {}), not by this file, which comes with the change under review",
        crate::store::DIR_VARIABLE
    )]
    CacheTable,
    #[error(
        "{key}: `{text}` must be a relative path inside the repository (no `..`, not absolute)"
    )]
    NotRelative { key: String, text: String },
    #[error("{key}: `{text}` cannot be opened: {source}")]
    CannotOpen {
        key: String,
        text: String,
        #[source]
        source: std::io::Error,
    },
    /// After symbolic links are resolved.
    #[error("{key}: `{text}` leads outside the repository (to {})", .to.display())]
    LeadsOutside {
        key: String,
        text: String,
        to: PathBuf,
    },
    #[error("{key}: `{text}` is not a directory")]
    NotADirectory { key: String, text: String },
    /// A symbolic link (or an unreadable component) on the way to a path that must have none.
    #[error("{key}: {source}")]
    Link {
        key: String,
        #[source]
        source: PathError,
    },
    /// The generated root exists and is no directory.
    #[error("{key}: `{}` exists and is not a directory", .path.display())]
    ExistsNotADirectory { key: String, path: PathBuf },
    #[error("generated: must be a directory below the repository root, not the root itself")]
    GeneratedIsRoot,
    #[error("items_field: must not be empty")]
    EmptyItemsField,
    /// `range`: `0 to 16 spaces`, `1 to 100000`, ...
    #[error("{key}: {value} is out of range ({range})")]
    OutOfRange {
        key: String,
        value: i64,
        range: String,
    },
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error("{key}: `{name}` is not a valid ext var name")]
    ExtVarName { key: String, name: String },
    #[error(transparent)]
    Timeout(#[from] ZeroTimeout),
    #[error("no [[cluster]] table: list the clusters in rollout order")]
    NoClusters,
    /// `key`: `cluster[i]`.
    #[error(
        "{key}.name: `{name}` is not a valid cluster name (letters, digits, `-`, `_` and `.`, at most 253)"
    )]
    ClusterName { key: String, name: String },
    #[error("{key}.name: cluster `{name}` is listed twice")]
    DuplicateCluster { key: String, name: String },
    /// `key`: `cluster[i].dir`.
    #[error("{key}: `{dir}` lies inside the generated root `{generated}`")]
    ClusterInGenerated {
        key: String,
        dir: String,
        generated: String,
    },
    #[error(
        "{key}.ext_vars: `cluster` is set by policyrun to the cluster's name and cannot be configured"
    )]
    ClusterExtVar { key: String },
    #[error("{key}.policy: cannot be passed to policies: {source}")]
    ClusterPolicy {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(transparent)]
    Bake(#[from] crate::apply::bake::SettingsError),
    /// A path the configuration names overlaps the generated root, which `expand` rewrites.
    #[error(
        "generated: `{generated}` overlaps {key} (`{}`): `expand` writes below the generated root and deletes what it does not produce there",
        .path.display()
    )]
    Overlap {
        generated: String,
        key: String,
        path: PathBuf,
    },
    #[error("{key}: {source}")]
    Version {
        key: String,
        #[source]
        source: VersionError,
    },
    /// A release neither built in nor in the schema directory.
    #[error("{key}: {source}")]
    Release {
        key: String,
        #[source]
        source: BundleError,
    },
    #[error(
        "{key}: `{location}`: policyrun reads schemas offline only; download them into the repository"
    )]
    OnlineLocation { key: String, location: String },
    /// An empty entry of a list (`schema.skip[0]`, `policy.namespaces[0]`).
    #[error("{key}: empty")]
    Empty { key: String },
    /// `policy.packs` names a pack that is not built in (the policy stage's words).
    #[error(transparent)]
    Packs(#[from] crate::policy::packs::UnknownPack),
    #[error(transparent)]
    Exclude(#[from] ExcludeError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    jpath: Option<Vec<String>>,
    generated: Option<String>,
    layout: Option<Layout>,
    items_field: Option<String>,
    indent: Option<i64>,
    format_only: Option<FormatOnly>,
    max_stack: Option<i64>,
    #[serde(default)]
    ext_vars: BTreeMap<String, String>,
    #[serde(default, rename = "cluster")]
    clusters: Vec<RawCluster>,
    #[serde(default)]
    schema: RawSchema,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    apply: RawApply,
    #[serde(default)]
    style: RawStyle,
    #[serde(default)]
    limits: RawLimits,
    /// Only read to refuse it with a reason (see `Config::parse`).
    cache: Option<toml::Value>,
}

/// `[apply]`: the rollout's timeouts and the bake's defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApply {
    timeout: Option<u64>,
    stage_timeout: Option<u64>,
    #[serde(default)]
    bake: crate::apply::bake::RawSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    packs: Vec<String>,
    dirs: Option<Vec<String>>,
    namespaces: Option<Vec<String>>,
    #[serde(default)]
    all_namespaces: bool,
    rego_version: Option<crate::policy::RegoVersion>,
    engine: Option<crate::policy::RegoEngine>,
    #[serde(default)]
    waivers: Vec<String>,
    #[serde(default)]
    gatekeeper: Vec<String>,
    #[serde(default)]
    reveal_secret_values: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStyle {
    enabled: Option<bool>,
    indent: Option<i64>,
    max_blank_lines: Option<i64>,
    string_style: Option<crate::style::StringStyle>,
    comment_style: Option<crate::style::CommentStyle>,
    pad_arrays: Option<bool>,
    pad_objects: Option<bool>,
    pretty_field_names: Option<bool>,
    sort_imports: Option<bool>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// `[limits]`: the budgets that keep a hostile or broken change from running the gate
/// until CI kills it without a report.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    evaluation_seconds: Option<i64>,
    policy_seconds: Option<i64>,
    style_source_bytes: Option<i64>,
    memory_bytes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    kubernetes_version: Option<String>,
    schema_dir: Option<String>,
    #[serde(default)]
    locations: Vec<String>,
    #[serde(default)]
    crds: Vec<String>,
    #[serde(default)]
    ignore_missing: bool,
    #[serde(default)]
    skip: Vec<String>,
}

/// `[cluster.schema]`: what a cluster's objects are checked against, where it differs from
/// the `[schema]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClusterSchema {
    kubernetes_version: Option<String>,
}

/// `kubernetes_version`: the Kubernetes release whose schemas and API lifecycle objects are
/// checked against. `[schema]` sets it for every cluster, `[cluster.schema]` for one
/// (clusters are upgraded one at a time), and `--kubernetes-version` replaces both for a
/// run. Default: [`BUILTIN_VERSION`](crate::schema::bundle::BUILTIN_VERSION) (1.35).
/// Releases 1.25 to 1.37 are built in; another is read from `schema_dir`, which must hold
/// its `vX.Y.0-local-strict` directory. `key` names the setting in messages.
pub fn kubernetes_version(
    key: &str,
    text: &str,
    schema_dir: Option<&Path>,
) -> Result<crate::schema::bundle::KubeVersion, SettingError> {
    use crate::schema::bundle::{self, KubeVersion};
    let version = KubeVersion::parse(text).map_err(|source| SettingError::Version {
        key: key.to_owned(),
        source,
    })?;
    let in_schema_dir =
        schema_dir.is_some_and(|dir| bundle::release_directory(dir, &version).is_some());
    if in_schema_dir || bundle::is_builtin(&version) {
        return Ok(version);
    }
    Err(SettingError::Release {
        key: key.to_owned(),
        source: BundleError::NotBuiltIn {
            version,
            schema_dir: schema_dir.map(Path::to_path_buf),
        },
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: String,
    dir: Option<String>,
    context: Option<String>,
    #[serde(default)]
    ext_vars: BTreeMap<String, String>,
    policy: Option<toml::Table>,
    #[serde(default)]
    schema: RawClusterSchema,
    #[serde(default)]
    apply: ApplySettings,
    #[serde(default)]
    bake: crate::apply::bake::RawSettings,
}

/// What the command that loads the configuration reads of the repository. A setting a
/// command never reads is still checked as written (a relative path inside the
/// repository) but need not exist, so `validate` runs in a repository whose jsonnet
/// library is not checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// The jsonnet tree: `check`, `expand`, `apply`, `diff`, `fmt`. Every directory the
    /// file names must exist inside the repository.
    Tree,
    /// Plain manifests and policies: `validate`, `test`, `verify`. Schema, CRD, policy,
    /// waiver and constraint paths must exist inside the repository, as they are read;
    /// `jpath`, `generated` and cluster directories need not exist, and `jpath` is kept
    /// as written (joined to the root), not resolved.
    Manifests,
}

impl Config {
    /// Finds `policyrun.toml` in `start` or the nearest parent holding one, and loads it.
    pub fn discover(start: &Path) -> Result<Config, ConfigError> {
        match Config::find(start)? {
            Some(path) => Config::load(&path),
            None => Err(ConfigError {
                path: start.to_path_buf(),
                problem: ConfigProblem::NotFound,
            }),
        }
    }

    /// The `policyrun.toml` in `start` or its nearest parent holding one, if any.
    pub fn find(start: &Path) -> Result<Option<PathBuf>, ConfigError> {
        let start = start.canonicalize().map_err(|e| ConfigError {
            path: start.to_path_buf(),
            problem: ConfigProblem::Directory(e),
        })?;
        Ok(start
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE))
            .find(|candidate| candidate.is_file()))
    }

    /// Loads a configuration file; its directory is the repository root.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_for(path, Needs::Tree)
    }

    /// Loads a configuration file for a command that reads only what `needs` says.
    pub fn load_for(path: &Path, needs: Needs) -> Result<Config, ConfigError> {
        // Read only as a regular file of the repository: a link (to /proc/self/environ, say)
        // would have the parse error quote what it points to, and a FIFO would hang the run.
        let refuse = |problem: ConfigProblem| ConfigError {
            path: path.to_path_buf(),
            problem,
        };
        let meta = std::fs::symlink_metadata(path).map_err(|e| refuse(ConfigProblem::Read(e)))?;
        if meta.file_type().is_symlink() {
            return Err(refuse(ConfigProblem::SymbolicLink));
        }
        if !meta.is_file() {
            return Err(refuse(ConfigProblem::NotAFile));
        }
        let text = std::fs::read_to_string(path).map_err(|e| refuse(ConfigProblem::Read(e)))?;
        let root = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."))
            .canonicalize()
            .map_err(|e| refuse(ConfigProblem::Root(e)))?;
        Config::parse_for(&text, root, needs)
            .map_err(|e| refuse(ConfigProblem::Setting(Box::new(e))))
    }

    /// Parses and validates configuration text for the repository at `root` (canonical).
    pub fn parse(text: &str, root: PathBuf) -> Result<Config, SettingError> {
        Config::parse_for(text, root, Needs::Tree)
    }

    /// As [`Config::parse`], for a command that reads only what `needs` says.
    pub fn parse_for(text: &str, root: PathBuf, needs: Needs) -> Result<Config, SettingError> {
        let mut raw: RawConfig =
            toml::from_str(text).map_err(|e| SettingError::Toml(toml_error(text, &e)))?;
        if raw.cache.is_some() {
            return Err(SettingError::CacheTable);
        }

        let jpath = raw
            .jpath
            .unwrap_or_else(|| vec!["lib".to_owned()])
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let key = format!("jpath[{i}]");
                match needs {
                    Needs::Tree => existing_dir_inside(&root, &key, dir),
                    Needs::Manifests => Ok(root.join(relative_inside(&key, dir)?)),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;

        let generated_text = raw.generated.unwrap_or_else(|| "generated".to_owned());
        let generated = relative_inside("generated", &generated_text)?;
        if generated.as_os_str().is_empty() {
            return Err(SettingError::GeneratedIsRoot);
        }
        if needs == Needs::Tree {
            refuse_symlinks_below(&root, &generated, "generated")?;
        }

        let items_field = raw.items_field.unwrap_or_else(|| "items_".to_owned());
        if items_field.is_empty() {
            return Err(SettingError::EmptyItemsField);
        }

        let indent = match raw.indent {
            None => 2,
            Some(n @ 0..=16) => n as usize,
            Some(n) => return Err(out_of_range("indent", n, "0 to 16 spaces")),
        };
        let max_stack = match raw.max_stack {
            None => DEFAULT_MAX_STACK,
            Some(n @ 1..=100_000) => n as usize,
            Some(n) => return Err(out_of_range("max_stack", n, "1 to 100000")),
        };

        for name in raw.ext_vars.keys() {
            check_ext_var_name("ext_vars", name)?;
        }

        let apply = ApplySettings {
            timeout: raw.apply.timeout,
            stage_timeout: raw.apply.stage_timeout,
        };
        apply.check("apply")?;
        // Taken before the cluster tables are: the schema settings hold each cluster's release.
        let cluster_schemas: Vec<(String, RawClusterSchema)> = raw
            .clusters
            .iter_mut()
            .map(|c| (c.name.clone(), std::mem::take(&mut c.schema)))
            .collect();
        let (clusters, rollout) = cluster_tables(
            raw.clusters,
            &raw.ext_vars,
            apply,
            &raw.apply.bake,
            &Place {
                root: &root,
                generated: &generated,
                generated_text: &generated_text,
                needs,
            },
        )?;

        let schema = schema_settings(&root, raw.schema, cluster_schemas)?;
        let mut policy = policy_settings(&root, raw.policy)?;
        let mut style = style_settings(raw.style)?;
        let evaluation_budget = Duration::from_secs(
            EVALUATION_SECONDS.checked_file_value(raw.limits.evaluation_seconds)?,
        );
        policy.object_budget =
            Duration::from_secs(POLICY_SECONDS.checked_file_value(raw.limits.policy_seconds)?);
        style.max_source_bytes =
            STYLE_SOURCE_BYTES.checked_file_value(raw.limits.style_source_bytes)?;
        let memory_budget = MEMORY_BYTES.checked_file_value(raw.limits.memory_bytes)?;

        refuse_overlaps(
            &Place {
                root: &root,
                generated: &generated,
                generated_text: &generated_text,
                needs,
            },
            &jpath,
            &clusters,
            &schema,
            &policy,
        )?;

        Ok(Config {
            gate_root: root.clone(),
            repo: Repository {
                root,
                jpath,
                generated,
                layout: raw.layout.unwrap_or(Layout::PerItem),
                items_field,
                indent,
                format_only: raw.format_only.unwrap_or(FormatOnly::Warn),
                max_stack,
                evaluation_budget,
                clusters,
            },
            schema,
            policy,
            style,
            rollout,
            memory_budget,
        })
    }
}

/// Where the configuration is read, for the checks that need the repository: its root,
/// the generated root (and how the file wrote it, for messages) and what the command reads.
struct Place<'a> {
    root: &'a Path,
    generated: &'a Path,
    generated_text: &'a str,
    needs: Needs,
}

/// The `[[cluster]]` tables, in rollout order: each cluster's tree and its rollout settings.
fn cluster_tables(
    raw_clusters: Vec<RawCluster>,
    ext_vars_default: &BTreeMap<String, String>,
    apply: ApplySettings,
    default_bake: &crate::apply::bake::RawSettings,
    place: &Place,
) -> Result<(Vec<Cluster>, Vec<ClusterRollout>), SettingError> {
    if raw_clusters.is_empty() {
        return Err(SettingError::NoClusters);
    }
    let mut names = BTreeSet::new();
    let mut clusters = Vec::with_capacity(raw_clusters.len());
    let mut rollout = Vec::with_capacity(raw_clusters.len());
    for (i, rc) in raw_clusters.into_iter().enumerate() {
        let key = format!("cluster[{i}]");
        check_cluster_name(&key, &rc.name)?;
        if !names.insert(rc.name.clone()) {
            return Err(SettingError::DuplicateCluster { key, name: rc.name });
        }
        let dir_text = rc.dir.unwrap_or_else(|| format!("clusters/{}", rc.name));
        let dir_key = format!("{key}.dir");
        let dir = relative_inside(&dir_key, &dir_text)?;
        if place.needs == Needs::Tree {
            existing_dir_inside(place.root, &dir_key, &dir_text)?;
        }
        if dir.starts_with(place.generated) {
            return Err(SettingError::ClusterInGenerated {
                key: dir_key,
                dir: dir_text,
                generated: place.generated_text.to_owned(),
            });
        }
        let mut ext_vars = ext_vars_default.clone();
        for (name, value) in rc.ext_vars {
            check_ext_var_name(&format!("{key}.ext_vars"), &name)?;
            ext_vars.insert(name, value);
        }
        if ext_vars.contains_key("cluster") {
            return Err(SettingError::ClusterExtVar { key });
        }
        ext_vars.insert("cluster".to_owned(), rc.name.clone());
        let policy = match rc.policy {
            None => serde_json::Value::Object(serde_json::Map::new()),
            Some(table) => {
                serde_json::to_value(table).map_err(|source| SettingError::ClusterPolicy {
                    key: key.clone(),
                    source,
                })?
            }
        };
        rc.apply.check(&format!("{key}.apply"))?;
        let bake = crate::apply::bake::Settings::resolve(
            &format!("{key}.bake"),
            &rc.name,
            &rc.bake,
            default_bake,
        )?;
        rollout.push(ClusterRollout {
            apply: rc.apply.or(apply),
            bake,
            context: rc.context.unwrap_or_else(|| rc.name.clone()),
        });
        clusters.push(Cluster {
            policy,
            name: rc.name,
            dir,
            ext_vars,
        });
    }
    Ok((clusters, rollout))
}

/// `expand` writes below the generated root and deletes what it did not write there:
/// nothing else the configuration names may lie inside it or around it.
fn refuse_overlaps(
    place: &Place,
    jpath: &[PathBuf],
    clusters: &[Cluster],
    schema: &crate::schema::Settings,
    policy: &crate::policy::Settings,
) -> Result<(), SettingError> {
    let mut named: Vec<(String, PathBuf)> = vec![(".git".to_owned(), place.root.join(".git"))];
    named.extend(
        jpath
            .iter()
            .enumerate()
            .map(|(i, dir)| (format!("jpath[{i}]"), dir.clone())),
    );
    named.extend(
        clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("cluster[{i}].dir"), place.root.join(&c.dir))),
    );
    for (key, paths) in [
        ("policy.dirs", &policy.dirs),
        ("policy.waivers", &policy.waivers),
        ("policy.gatekeeper", &policy.gatekeeper),
        ("schema.crds", &schema.crd_files),
    ] {
        named.extend(
            paths
                .iter()
                .enumerate()
                .map(|(i, path)| (format!("{key}[{i}]"), path.clone())),
        );
    }
    named.extend(
        schema
            .schema_dir
            .iter()
            .map(|dir| ("schema.schema_dir".to_owned(), dir.clone())),
    );
    let generated_path = place.root.join(place.generated);
    for (key, path) in named {
        if generated_path.starts_with(&path) || path.starts_with(&generated_path) {
            let shown = path.strip_prefix(place.root).unwrap_or(&path);
            return Err(SettingError::Overlap {
                generated: place.generated_text.to_owned(),
                key,
                path: shown.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The `[schema]` table and each cluster's `[cluster.schema]` (by cluster name, in order):
/// every path inside the repository, since the configuration comes with the pull request
/// under review.
fn schema_settings(
    root: &Path,
    raw: RawSchema,
    cluster_schemas: Vec<(String, RawClusterSchema)>,
) -> Result<crate::schema::Settings, SettingError> {
    use crate::schema::{SchemaLocation, Settings};
    let schema_dir = raw
        .schema_dir
        .map(|dir| existing_dir_inside(root, "schema.schema_dir", &dir))
        .transpose()?;
    let default_version = raw
        .kubernetes_version
        .map(|v| kubernetes_version("schema.kubernetes_version", &v, schema_dir.as_deref()))
        .transpose()?;
    let mut cluster_versions = BTreeMap::new();
    for (i, (name, cluster)) in cluster_schemas.into_iter().enumerate() {
        if let Some(text) = cluster.kubernetes_version {
            let key = format!("cluster[{i}].schema.kubernetes_version");
            cluster_versions.insert(
                name,
                kubernetes_version(&key, &text, schema_dir.as_deref())?,
            );
        }
    }
    let mut locations = Vec::with_capacity(raw.locations.len());
    for (i, location) in raw.locations.iter().enumerate() {
        let key = format!("schema.locations[{i}]");
        if location.contains("://") {
            return Err(SettingError::OnlineLocation {
                key,
                location: location.clone(),
            });
        }
        let relative = relative_inside(&key, location)?;
        if !location.contains('{') {
            existing_dir_inside(root, &key, location)?;
        }
        locations.push(SchemaLocation {
            path: root.join(relative).to_string_lossy().into_owned(),
            confined_to: Some(root.to_path_buf()),
        });
    }
    let mut crd_files = Vec::with_capacity(raw.crds.len());
    for (i, path) in raw.crds.iter().enumerate() {
        crd_files.push(existing_inside(root, &format!("schema.crds[{i}]"), path)?);
    }
    for (i, rule) in raw.skip.iter().enumerate() {
        if rule.trim().is_empty() {
            return Err(SettingError::Empty {
                key: format!("schema.skip[{i}]"),
            });
        }
    }
    Ok(Settings {
        kubernetes_version: default_version,
        cluster_versions,
        schema_dir_confined_to: schema_dir.as_ref().map(|_| root.to_path_buf()),
        schema_dir,
        locations,
        crd_files,
        ignore_missing: raw.ignore_missing,
        skip: raw.skip,
    })
}

/// The `[policy]` table. `packs` selects built-in packs, which the directories add to.
/// Without `dirs`, `policies/` is used when it exists (a repository without policies has
/// no policy stage, and its report says so); named directories must exist. With packs and
/// without `namespaces`, every package of the directories runs (the packs' always do).
fn policy_settings(root: &Path, raw: RawPolicy) -> Result<crate::policy::Settings, SettingError> {
    // The policy stage's check says why in words (issue 30: its error is not typed yet).
    crate::policy::packs::check_names(&raw.packs)?;
    // What judges the pull request is read only through no link at all: a linked policy
    // directory or waiver file is refused, as a linked `.rego` file below them is.
    let inside = |key: &str, paths: &[String]| {
        paths
            .iter()
            .enumerate()
            .map(|(i, path)| {
                let key = format!("{key}[{i}]");
                crate::model::paths::lstat_below(root, &relative_inside(&key, path)?).map_err(
                    |source| SettingError::Link {
                        key: key.clone(),
                        source,
                    },
                )?;
                existing_inside(root, &key, path)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let dirs = match raw.dirs {
        None if root.join("policies").is_dir() => {
            crate::model::paths::lstat_below(root, Path::new("policies")).map_err(|source| {
                SettingError::Link {
                    key: "policy.dirs".into(),
                    source,
                }
            })?;
            vec![existing_dir_inside(root, "policy.dirs", "policies")?]
        }
        None => Vec::new(),
        Some(dirs) => inside("policy.dirs", &dirs)?,
    };
    let every_own_package = raw.namespaces.is_none() && !raw.packs.is_empty();
    let namespaces = raw.namespaces.unwrap_or_else(|| vec!["main".to_owned()]);
    for (i, namespace) in namespaces.iter().enumerate() {
        if namespace.trim().is_empty() {
            return Err(SettingError::Empty {
                key: format!("policy.namespaces[{i}]"),
            });
        }
    }
    let waivers = inside("policy.waivers", &raw.waivers)?;
    let gatekeeper = inside("policy.gatekeeper", &raw.gatekeeper)?;
    Ok(crate::policy::Settings {
        packs: raw.packs,
        dirs,
        namespaces,
        all_namespaces: raw.all_namespaces,
        every_own_package,
        rego_version: raw.rego_version.unwrap_or_default(),
        engine: raw.engine.unwrap_or_default(),
        waivers,
        gatekeeper,
        reveal_secret_values: raw.reveal_secret_values,
        ..crate::policy::Settings::default()
    })
}

/// The `[style]` table; every default is jsonnetfmt's.
fn style_settings(raw: RawStyle) -> Result<crate::style::Settings, SettingError> {
    use crate::style::{Exclude, FormatOptions, Settings};
    let defaults = FormatOptions::default();
    let count = |key: &str, value: Option<i64>, default: u32, max: i64| match value {
        None => Ok(default),
        Some(n) if (0..=max).contains(&n) => Ok(n as u32),
        Some(n) => Err(out_of_range(
            &format!("style.{key}"),
            n,
            &format!("0 to {max}"),
        )),
    };
    Ok(Settings {
        enabled: raw.enabled.unwrap_or(true),
        options: FormatOptions {
            indent: count("indent", raw.indent, defaults.indent, 16)?,
            max_blank_lines: count(
                "max_blank_lines",
                raw.max_blank_lines,
                defaults.max_blank_lines,
                100,
            )?,
            string_style: raw.string_style.unwrap_or(defaults.string_style),
            comment_style: raw.comment_style.unwrap_or(defaults.comment_style),
            pad_arrays: raw.pad_arrays.unwrap_or(defaults.pad_arrays),
            pad_objects: raw.pad_objects.unwrap_or(defaults.pad_objects),
            pretty_field_names: raw
                .pretty_field_names
                .unwrap_or(defaults.pretty_field_names),
            sort_imports: raw.sort_imports.unwrap_or(defaults.sort_imports),
        },
        exclude: Exclude::new("style.exclude", raw.exclude)?,
        ..Settings::default()
    })
}

/// A relative path without `..`, `.` or root components, as written in the file.
fn relative_inside(key: &str, text: &str) -> Result<PathBuf, SettingError> {
    let path = Path::new(text);
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(SettingError::NotRelative {
                    key: key.to_owned(),
                    text: text.to_owned(),
                });
            }
        }
    }
    Ok(clean)
}

/// An existing file or directory inside the repository, canonical, checked after symlinks
/// are resolved.
fn existing_inside(root: &Path, key: &str, text: &str) -> Result<PathBuf, SettingError> {
    let relative = relative_inside(key, text)?;
    let canonical =
        root.join(&relative)
            .canonicalize()
            .map_err(|source| SettingError::CannotOpen {
                key: key.to_owned(),
                text: text.to_owned(),
                source,
            })?;
    if !canonical.starts_with(root) {
        return Err(SettingError::LeadsOutside {
            key: key.to_owned(),
            text: text.to_owned(),
            to: canonical,
        });
    }
    Ok(canonical)
}

/// An existing directory inside the repository, canonical, checked after symlinks are resolved.
fn existing_dir_inside(root: &Path, key: &str, text: &str) -> Result<PathBuf, SettingError> {
    let canonical = existing_inside(root, key, text)?;
    if !canonical.is_dir() {
        return Err(SettingError::NotADirectory {
            key: key.to_owned(),
            text: text.to_owned(),
        });
    }
    Ok(canonical)
}

/// A TOML error as `line L, column C: message`, without the excerpt of the text the parser
/// adds: the file may not be what it claims to be, and nothing read is echoed raw.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    // The message may hold a value of the file (`invalid type: string "…"`): kept short, and
    // control characters escaped.
    let message = crate::model::text::excerpt(error.message(), 200);
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            // The key of a `key = value` line names what is wrong; only the key is shown.
            let key = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.split_once('='))
                .map(|(key, _)| key.trim())
                .filter(|key| {
                    !key.is_empty()
                        && key.len() <= 64
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.\"' ".contains(c))
                });
            match key {
                Some(key) => format!("line {line}, column {column}, key `{key}`: {message}"),
                None => format!("line {line}, column {column}: {message}"),
            }
        }
        None => message,
    }
}

/// `expand` writes below the generated root, so no part of it may be a symlink: one committed
/// by a pull request would redirect those writes (and the freshness reads) elsewhere.
fn refuse_symlinks_below(root: &Path, relative: &Path, key: &str) -> Result<(), SettingError> {
    match crate::model::paths::lstat_below(root, relative) {
        Err(source) => Err(SettingError::Link {
            key: key.to_owned(),
            source,
        }),
        Ok(Some(meta)) if !meta.is_dir() => Err(SettingError::ExistsNotADirectory {
            key: key.to_owned(),
            path: relative.to_path_buf(),
        }),
        Ok(_) => Ok(()),
    }
}

/// Cluster names become directory names under the generated root and JUnit suite names.
fn check_cluster_name(key: &str, name: &str) -> Result<(), SettingError> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if valid {
        Ok(())
    } else {
        Err(SettingError::ClusterName {
            key: key.to_owned(),
            name: name.to_owned(),
        })
    }
}

fn check_ext_var_name(key: &str, name: &str) -> Result<(), SettingError> {
    if name.is_empty() || name.chars().any(|c| c.is_control()) {
        return Err(SettingError::ExtVarName {
            key: key.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// A number out of the range a key allows.
fn out_of_range(key: &str, value: i64, range: &str) -> SettingError {
    SettingError::OutOfRange {
        key: key.to_owned(),
        value,
        range: range.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "clusters/dev", "clusters/int", "dev.example.com"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        dir
    }

    fn parse(dir: &tempfile::TempDir, text: &str) -> Result<Config, SettingError> {
        Config::parse(text, dir.path().canonicalize().unwrap())
    }

    #[test]
    fn short_file_gets_defaults() {
        let dir = repo();
        let cfg = parse(
            &dir,
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n",
        )
        .unwrap();
        assert_eq!(cfg.repo.generated, PathBuf::from("generated"));
        assert_eq!(cfg.repo.layout, Layout::PerItem);
        assert_eq!(cfg.repo.items_field, "items_");
        assert_eq!(cfg.repo.indent, 2);
        assert_eq!(cfg.repo.max_stack, 500);
        assert_eq!(cfg.repo.clusters[1].dir, PathBuf::from("clusters/int"));
        assert_eq!(cfg.rollout[1].context, "int");
        assert_eq!(cfg.repo.clusters[1].ext_vars["cluster"], "int");
        assert_eq!(
            cfg.repo.jpath,
            vec![dir.path().canonicalize().unwrap().join("lib")]
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = repo();
        let err = parse(&dir, "generatd = \"x\"\n[[cluster]]\nname = \"dev\"\n").unwrap_err();
        assert!(
            matches!(&err, SettingError::Toml(text) if text.contains("key `generatd`")),
            "{err}"
        );
        let err = parse(&dir, "[[cluster]]\nname = \"dev\"\nkontext = \"x\"\n").unwrap_err();
        assert!(
            matches!(&err, SettingError::Toml(text) if text.contains("kontext")),
            "{err}"
        );
    }

    #[test]
    fn each_cluster_bakes_with_its_own_keys_over_the_apply_table_s() {
        let dir = repo();
        let text = "[apply]\ntimeout = 60\n[apply.bake]\nduration = 600\nprometheus = \"http://p:9090\"\n\
                    [[cluster]]\nname = \"dev\"\n[cluster.bake]\nduration = 30\n\
                    [[cluster]]\nname = \"int\"\n";
        let cfg = parse(&dir, text).unwrap();
        assert_eq!(cfg.rollout[0].bake.duration.as_secs(), 30);
        assert_eq!(cfg.rollout[1].bake.duration.as_secs(), 600);
        assert_eq!(cfg.rollout[1].bake.prometheus, "http://p:9090");
        assert_eq!(cfg.rollout[1].apply.timeout, Some(60));
        // Without a bake table nothing bakes, as before there was one.
        let cfg = parse(&dir, "[[cluster]]\nname = \"dev\"\n").unwrap();
        assert!(!cfg.rollout[0].bake.enabled());
        let err = parse(
            &dir,
            "[apply.bake]\nduraton = 5\n[[cluster]]\nname = \"dev\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("duraton"), "{err}");
        let err = parse(
            &dir,
            "[[cluster]]\nname = \"dev\"\n[cluster.bake]\nduration = 5\n",
        )
        .unwrap_err();
        assert!(
            matches!(
                &err,
                SettingError::Bake(crate::apply::bake::SettingsError::NoServer { key })
                    if key == "cluster[0].bake"
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "cluster[0].bake.prometheus: the server to ask is needed when `duration` is set"
        );
    }

    #[test]
    fn the_generated_root_overlaps_nothing_else_the_configuration_names() {
        let dir = repo();
        std::fs::create_dir_all(dir.path().join("policies/security")).unwrap();
        std::fs::write(dir.path().join("policies/waivers.yaml"), "[]\n").unwrap();
        let cluster = "[[cluster]]\nname = \"dev\"\n";
        for (text, key) in [
            ("generated = \"policies\"\n", "policy.dirs[0]"),
            ("generated = \"policies/security/out\"\n", "policy.dirs[0]"),
            ("generated = \"lib\"\n", "jpath[0]"),
            ("generated = \".git\"\n", ".git"),
            ("generated = \".git/objects\"\n", ".git"),
            ("generated = \"clusters\"\n", "cluster[0].dir"),
            ("generated = \"clusters/dev/out\"\n", "cluster[0].dir"),
            (
                "generated = \"out\"\njpath = [\"lib\", \"dev.example.com\"]\n[policy]\nwaivers = [\"policies/waivers.yaml\"]\n",
                "",
            ),
        ] {
            let result = parse(&dir, &format!("{text}{cluster}"));
            if key.is_empty() {
                assert!(result.is_ok(), "{text}: {:?}", result.err());
                continue;
            }
            let err = result.err().unwrap_or_else(|| panic!("{text} is accepted"));
            assert!(
                err.to_string().contains(key) && err.to_string().contains("generated"),
                "{text}: {err}"
            );
        }
        let err = parse(
            &dir,
            &format!("generated = \"policies\"\n[policy]\ndirs = []\nwaivers = [\"policies/waivers.yaml\"]\n{cluster}"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("policy.waivers[0]"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let dir = repo();
        let cluster = "[[cluster]]\nname = \"dev\"\n";
        for (text, key) in [
            ("layout = \"flat\"\n", "flat"),
            ("indent = 40\n", "indent"),
            ("indent = \"two\"\n", "indent"),
            ("max_stack = 0\n", "max_stack"),
            ("generated = \"../out\"\n", "generated"),
            ("generated = \"/tmp/out\"\n", "generated"),
            ("generated = \".\"\n", "generated"),
            ("jpath = [\"nope\"]\n", "jpath[0]"),
            ("format_only = \"maybe\"\n", "maybe"),
        ] {
            let err = parse(&dir, &format!("{text}{cluster}")).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        let err = parse(&dir, "[[cluster]]\nname = \"a/b\"\n").unwrap_err();
        assert!(
            matches!(&err, SettingError::ClusterName { key, name } if key == "cluster[0]" && name == "a/b"),
            "{err}"
        );
        let err = parse(
            &dir,
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"dev\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(&err, SettingError::DuplicateCluster { .. }),
            "{err}"
        );
        let err = parse(&dir, "[[cluster]]\nname = \"web\"\n").unwrap_err();
        assert!(
            matches!(&err, SettingError::CannotOpen { key, .. } if key == "cluster[0].dir"),
            "{err}"
        );
        let err = parse(&dir, "").unwrap_err();
        assert!(matches!(err, SettingError::NoClusters), "{err}");
        let err = parse(&dir, &format!("[cache]\ndir = \"/etc\"\n{cluster}")).unwrap_err();
        assert!(matches!(err, SettingError::CacheTable), "{err}");
        assert_eq!(
            err.to_string(),
            "cache: the expansion cache's directory is chosen by whoever runs policyrun (--cache-dir or POLICYRUN_CACHE_DIR), not by this file, which comes with the change under review"
        );
        let err = parse(
            &dir,
            "[[cluster]]\nname = \"dev\"\next_vars = { cluster = \"x\" }\n",
        )
        .unwrap_err();
        assert!(
            matches!(&err, SettingError::ClusterExtVar { key } if key == "cluster[0]"),
            "{err}"
        );
    }

    #[test]
    fn manifest_commands_need_no_tree_but_stay_inside_the_repository() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("crds")).unwrap();
        let text = "jpath = [\"vendor/lib\"]\ngenerated = \"out\"\n[schema]\ncrds = [\"crds\"]\n[[cluster]]\nname = \"dev\"\n";
        let err = Config::parse(text, root.clone()).unwrap_err();
        assert!(
            matches!(&err, SettingError::CannotOpen { key, .. } if key == "jpath[0]"),
            "{err}"
        );
        let cfg = Config::parse_for(text, root.clone(), Needs::Manifests).unwrap();
        assert_eq!(cfg.repo.jpath, vec![root.join("vendor/lib")]);
        assert_eq!(cfg.schema.crd_files, vec![root.join("crds")]);
        // What the manifest commands read must exist inside the repository; the rest must
        // still be written as a path inside it.
        for (text, key) in [
            ("[schema]\ncrds = [\"missing\"]\n", "schema.crds[0]"),
            ("[schema]\ncrds = [\"../crds\"]\n", "schema.crds[0]"),
            ("[policy]\ndirs = [\"missing\"]\n", "policy.dirs[0]"),
            ("[schema]\nschema_dir = \"missing\"\n", "schema.schema_dir"),
            ("jpath = [\"../lib\"]\n", "jpath[0]"),
            ("generated = \"/tmp/out\"\n", "generated"),
        ] {
            let err = Config::parse_for(
                &format!("{text}[[cluster]]\nname = \"dev\"\n"),
                root.clone(),
                Needs::Manifests,
            )
            .unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        let err = Config::parse_for(
            "[[cluster]]\nname = \"dev\"\ndir = \"../elsewhere\"\n",
            root.clone(),
            Needs::Manifests,
        )
        .unwrap_err();
        assert!(
            matches!(&err, SettingError::NotRelative { key, .. } if key == "cluster[0].dir"),
            "{err}"
        );
    }

    #[test]
    fn domain_named_layout_is_expressible() {
        let dir = repo();
        let cfg = parse(
            &dir,
            "indent = 3\n[ext_vars]\nregion = \"eu\"\n[[cluster]]\nname = \"dev.example.com\"\ndir = \"dev.example.com\"\next_vars = { region = \"us\" }\n",
        )
        .unwrap();
        let c = &cfg.repo.clusters[0];
        assert_eq!(c.dir, PathBuf::from("dev.example.com"));
        assert_eq!(c.ext_vars["region"], "us");
        assert_eq!(c.ext_vars["cluster"], "dev.example.com");
        assert_eq!(cfg.repo.indent, 3);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_repository_are_refused() {
        let dir = repo();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("vendor")).unwrap();
        let err = parse(&dir, "jpath = [\"vendor\"]\n[[cluster]]\nname = \"dev\"\n").unwrap_err();
        assert!(
            matches!(&err, SettingError::LeadsOutside { key, .. } if key == "jpath[0]"),
            "{err}"
        );
        std::os::unix::fs::symlink(outside.path(), dir.path().join("generated")).unwrap();
        let err = parse(&dir, "[[cluster]]\nname = \"dev\"\n").unwrap_err();
        assert!(
            matches!(
                &err,
                SettingError::Link {
                    source: PathError::SymbolicLink { .. },
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn clusters_may_run_other_kubernetes_releases() {
        let dir = repo();
        std::fs::create_dir_all(dir.path().join("clusters/web")).unwrap();
        let cfg = parse(
            &dir,
            "[schema]\nkubernetes_version = \"1.34\"\n\
             [[cluster]]\nname = \"dev\"\n[cluster.schema]\nkubernetes_version = \"1.37\"\n\
             [[cluster]]\nname = \"int\"\n\
             [[cluster]]\nname = \"web\"\n[cluster.schema]\nkubernetes_version = \"v1.29.4\"\n",
        )
        .unwrap();
        assert_eq!(cfg.schema.kubernetes_version.unwrap().to_string(), "1.34.0");
        let versions: Vec<(String, String)> = cfg
            .schema
            .cluster_versions
            .iter()
            .map(|(c, v)| (c.clone(), v.to_string()))
            .collect();
        assert_eq!(
            versions,
            [
                ("dev".into(), "1.37.0".into()),
                ("web".into(), "1.29.4".into())
            ]
        );
        for (table, problem) in [
            (
                "[cluster.schema]\nkubernetes_version = \"1.24\"\n",
                "cluster[0].schema.kubernetes_version: Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)",
            ),
            (
                "[cluster.schema]\nkubernetes_version = \"next\"\n",
                "cluster[0].schema.kubernetes_version: `next` is not a Kubernetes version",
            ),
            (
                "[cluster.schema]\nlocations = []\n",
                "unknown field `locations`",
            ),
        ] {
            let err = parse(&dir, &format!("[[cluster]]\nname = \"dev\"\n{table}")).unwrap_err();
            assert!(err.to_string().contains(problem), "{table}: {err}");
        }
        // A release that is not built in comes from the schema directory.
        std::fs::create_dir_all(dir.path().join("schemas/v1.24.0-local-strict")).unwrap();
        let cfg = parse(
            &dir,
            "[schema]\nschema_dir = \"schemas\"\n[[cluster]]\nname = \"dev\"\n[cluster.schema]\nkubernetes_version = \"1.24\"\n",
        )
        .unwrap();
        assert_eq!(cfg.schema.cluster_versions["dev"].to_string(), "1.24.0");
        let err = parse(
            &dir,
            "[schema]\nschema_dir = \"schemas\"\nkubernetes_version = \"1.23\"\n[[cluster]]\nname = \"dev\"\n",
        )
        .unwrap_err();
        assert!(
            matches!(
                &err,
                SettingError::Release {
                    source: BundleError::NotBuiltIn {
                        schema_dir: Some(_),
                        ..
                    },
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("holds no v1.23.0-local-strict"),
            "{err}"
        );
    }

    #[test]
    fn schema_table_is_checked_and_kept_inside() {
        let dir = repo();
        std::fs::create_dir_all(dir.path().join("schemas/crds")).unwrap();
        std::fs::write(dir.path().join("schemas/crds/a.yaml"), "").unwrap();
        let cfg = parse(
            &dir,
            "[schema]\nkubernetes_version = \"1.35\"\nlocations = [\"schemas\", \"schemas/{kind}-{group}-{version}.json\"]\ncrds = [\"schemas/crds\"]\nignore_missing = true\nskip = [\"SealedSecret\"]\n[[cluster]]\nname = \"dev\"\n",
        )
        .unwrap();
        let root = dir.path().canonicalize().unwrap();
        assert_eq!(cfg.schema.kubernetes_version.unwrap().to_string(), "1.35.0");
        assert_eq!(cfg.schema.locations.len(), 2);
        assert!(
            cfg.schema.locations[1]
                .path
                .ends_with("schemas/{kind}-{group}-{version}.json")
        );
        assert_eq!(
            cfg.schema.locations[0].confined_to.as_deref(),
            Some(root.as_path())
        );
        assert_eq!(cfg.schema.crd_files, vec![root.join("schemas/crds")]);
        assert!(cfg.schema.ignore_missing);

        let cluster = "[[cluster]]\nname = \"dev\"\n";
        for (text, key) in [
            (
                "[schema]\nkubernetes_version = \"latest\"\n",
                "schema.kubernetes_version",
            ),
            ("[schema]\nlocations = [\"/etc\"]\n", "schema.locations[0]"),
            (
                "[schema]\nlocations = [\"../x/{kind}.json\"]\n",
                "schema.locations[0]",
            ),
            (
                "[schema]\nlocations = [\"https://example.com/{kind}.json\"]\n",
                "offline",
            ),
            ("[schema]\ncrds = [\"missing.yaml\"]\n", "schema.crds[0]"),
            ("[schema]\nschema_dir = \"nope\"\n", "schema.schema_dir"),
            ("[schema]\nskip = [\"\"]\n", "schema.skip[0]"),
            (
                "[schema]\nkubernetes_version = \"1.24\"\n",
                "schema.kubernetes_version: Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)",
            ),
            ("[schema]\nignore_misssing = true\n", "ignore_misssing"),
        ] {
            let err = parse(&dir, &format!("{text}{cluster}")).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn style_table_defaults_to_jsonnetfmt_and_names_bad_keys() {
        use crate::style::{CommentStyle, FormatOptions, StringStyle};
        let dir = repo();
        let cluster = "[[cluster]]\nname = \"dev\"\n";
        let cfg = parse(&dir, cluster).unwrap();
        assert!(cfg.style.enabled);
        assert_eq!(cfg.style.options, FormatOptions::default());
        assert_eq!(cfg.style.options.string_style, StringStyle::Single);
        assert_eq!(cfg.style.options.comment_style, CommentStyle::Slash);
        assert!((cfg.style.options.indent, cfg.style.options.max_blank_lines) == (2, 2));

        let cfg = parse(
            &dir,
            &format!(
                "{cluster}[style]\nenabled = false\nindent = 4\nmax_blank_lines = 1\nstring_style = \"double\"\ncomment_style = \"hash\"\npad_arrays = true\npad_objects = false\npretty_field_names = false\nsort_imports = false\nexclude = [\"vendor\", \"**/*_gen.libsonnet\"]\n"
            ),
        )
        .unwrap();
        let options = &cfg.style.options;
        assert!(!cfg.style.enabled);
        assert_eq!((options.indent, options.max_blank_lines), (4, 1));
        assert_eq!(options.string_style, StringStyle::Double);
        assert_eq!(options.comment_style, CommentStyle::Hash);
        assert!(options.pad_arrays && !options.pad_objects);
        assert!(!options.pretty_field_names && !options.sort_imports);
        assert!(cfg.style.exclude.matches(Path::new("lib/x_gen.libsonnet")));

        for (text, key) in [
            ("[style]\nindnet = 2\n", "indnet"),
            ("[style]\nindent = 17\n", "style.indent"),
            ("[style]\nindent = -1\n", "style.indent"),
            ("[style]\nmax_blank_lines = 1000\n", "style.max_blank_lines"),
            ("[style]\nstring_style = \"backtick\"\n", "string_style"),
            ("[style]\ncomment_style = \"semicolon\"\n", "comment_style"),
            ("[style]\npad_arrays = \"yes\"\n", "pad_arrays"),
            ("[style]\nexclude = [\"../other\"]\n", "style.exclude[0]"),
        ] {
            let err = parse(&dir, &format!("{cluster}{text}")).unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn secret_values_are_masked_for_policies_unless_revealed() {
        let dir = repo();
        let clusters = "[[cluster]]\nname = \"dev\"\n";
        let config = parse(&dir, clusters).unwrap();
        assert!(!config.policy.reveal_secret_values);
        let config = parse(
            &dir,
            &format!("{clusters}[policy]\nreveal_secret_values = true\n"),
        )
        .unwrap();
        assert!(config.policy.reveal_secret_values);
        let err = parse(
            &dir,
            &format!("{clusters}[policy]\nreveal_secret_values = \"yes\"\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("reveal_secret_values"), "{err}");
    }

    #[test]
    fn limits_default_and_are_kept_below_their_ceilings() {
        let dir = repo();
        let cluster = "[[cluster]]\nname = \"dev\"\n";
        let cfg = parse(&dir, cluster).unwrap();
        assert_eq!(cfg.repo.evaluation_budget, Duration::from_secs(60));
        assert_eq!(cfg.policy.object_budget, Duration::from_secs(5));
        assert_eq!(cfg.style.max_source_bytes, 1 << 20);

        let cfg = parse(
            &dir,
            &format!(
                "{cluster}[limits]\nevaluation_seconds = 600\npolicy_seconds = 1\nstyle_source_bytes = 100\n"
            ),
        )
        .unwrap();
        assert_eq!(cfg.repo.evaluation_budget, Duration::from_secs(600));
        assert_eq!(cfg.policy.object_budget, Duration::from_secs(1));
        assert_eq!(cfg.style.max_source_bytes, 100);

        for (line, key) in [
            ("evaluation_seconds = 601", "limits.evaluation_seconds"),
            ("evaluation_seconds = 0", "limits.evaluation_seconds"),
            ("policy_seconds = 61", "limits.policy_seconds"),
            ("policy_seconds = -1", "limits.policy_seconds"),
            ("style_source_bytes = 8388609", "limits.style_source_bytes"),
            ("wall_seconds = 1", "wall_seconds"),
        ] {
            let err = parse(&dir, &format!("{cluster}[limits]\n{line}\n")).unwrap_err();
            assert!(err.to_string().contains(key), "{line}: {err}");
        }
        assert_eq!(POLICY_SECONDS.checked_flag_value(3600), Ok(3600));
        assert_eq!(
            POLICY_SECONDS.checked_flag_value(0),
            Err(BudgetError::Flag {
                budget: POLICY_SECONDS,
                value: 0
            })
        );
        assert_eq!(
            POLICY_SECONDS
                .checked_flag_value(0)
                .unwrap_err()
                .to_string(),
            "--policy-seconds 0: out of range (1 to 86400)"
        );
        assert!(EVALUATION_SECONDS.checked_flag_value(86_401).is_err());
    }

    #[test]
    fn the_memory_budget_defaults_and_is_kept_between_its_floor_and_ceiling() {
        let dir = repo();
        let cluster = "[[cluster]]\nname = \"dev\"\n";
        assert_eq!(parse(&dir, cluster).unwrap().memory_budget, 4 << 30);
        let cfg = parse(
            &dir,
            &format!("{cluster}[limits]\nmemory_bytes = 268435456\n"),
        )
        .unwrap();
        assert_eq!(cfg.memory_budget, 256 << 20);
        for value in ["67108863", "17179869185", "-1"] {
            let err = parse(
                &dir,
                &format!("{cluster}[limits]\nmemory_bytes = {value}\n"),
            )
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    SettingError::Budget(BudgetError::File {
                        budget: MEMORY_BYTES,
                        ..
                    })
                ),
                "{value}: {err}"
            );
            assert!(
                err.to_string().contains("67108864 to 17179869184"),
                "{value}: {err}"
            );
        }
        let err = parse(
            &dir,
            &format!("{cluster}[limits]\nmemory_bytes = \"4GiB\"\n"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("memory_bytes"), "{err}");
        assert_eq!(MEMORY_BYTES.checked_flag_value(64 << 30), Ok(64 << 30));
        for value in [1, (1 << 40) + 1] {
            let err = MEMORY_BYTES.checked_flag_value(value).unwrap_err();
            assert!(
                matches!(err, BudgetError::Flag { budget: MEMORY_BYTES, value: v } if v == value),
                "{err}"
            );
        }
    }

    #[test]
    fn a_file_that_cannot_be_loaded_says_why_by_kind() {
        let dir = repo();
        let root = dir.path().canonicalize().unwrap();
        let err = Config::discover(&root).unwrap_err();
        assert!(matches!(err.problem, ConfigProblem::NotFound), "{err}");
        assert_eq!(err.path, root);
        let file = root.join(CONFIG_FILE);
        std::fs::create_dir(&file).unwrap();
        let err = Config::load(&file).unwrap_err();
        assert!(matches!(err.problem, ConfigProblem::NotAFile), "{err}");
        std::fs::remove_dir(&file).unwrap();
        std::fs::write(&file, "indent = 40\n[[cluster]]\nname = \"dev\"\n").unwrap();
        let err = Config::discover(&root.join("clusters/dev")).unwrap_err();
        assert!(
            matches!(&err.problem, ConfigProblem::Setting(setting)
                if matches!(**setting, SettingError::OutOfRange { value: 40, .. })),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: indent: 40 is out of range (0 to 16 spaces)",
                file.display()
            )
        );
        #[cfg(unix)]
        {
            std::fs::rename(&file, root.join("real.toml")).unwrap();
            std::os::unix::fs::symlink(root.join("real.toml"), &file).unwrap();
            let err = Config::load(&file).unwrap_err();
            assert!(matches!(err.problem, ConfigProblem::SymbolicLink), "{err}");
        }
    }

    #[test]
    fn select_clusters_keeps_rollout_order() {
        let dir = repo();
        let cfg = parse(
            &dir,
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n",
        )
        .unwrap();
        let picked = cfg
            .repo
            .select_clusters(&["int".to_owned(), "dev".to_owned()])
            .unwrap();
        assert_eq!(picked[0].name, "dev");
        let unknown = cfg.repo.select_clusters(&["web".to_owned()]).unwrap_err();
        assert_eq!(unknown.name, "web");
        assert_eq!(unknown.known, ["dev", "int"]);
        assert_eq!(
            unknown.to_string(),
            "unknown cluster `web` (configured: dev, int)"
        );
    }
}

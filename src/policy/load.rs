//! Reads the policy directories into one regorus engine, once: Rego modules in either syntax,
//! data files, and the conftest rules each package declares. Anything that would let a
//! policy pass without running — a module that does not parse, a call to a builtin regorus
//! lacks — is a problem found here, before any object is evaluated.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use regorus::unstable::{Parser, Rule as AstRule, RuleHead};
use regorus::{Engine, Value};
use walkdir::WalkDir;

use super::evaluate::builtins;
use super::packs;
use super::rego::kinds::Kinds;
use super::rego::modules::{
    ModuleInfo, RuleKind, missing_functions, module_infos, package_path, reserved_names, rule_kind,
    unrepeatable_call,
};
use super::rego::opa;
use super::rego::problem::{Problem, error_problem};
use super::rego::{deprecated, safety};
use super::settings::{RegoEngine, RegoVersion, Settings};
use crate::model::digest::Digest;
use sha2::{Digest as _, Sha256};

/// A rule the policy stage evaluates for every object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDecl {
    pub name: String,
    /// The rule's full reference (`data.security.deny_privileged`).
    pub path: String,
    /// How reports name it: `package.rule` (`security.deny_privileged`). Shared: an
    /// object's passes carry it (see [`crate::model::outcome::Outcome::passes`]).
    pub check: std::sync::Arc<str>,
    pub kind: RuleKind,
    pub file: PathBuf,
    pub line: usize,
    /// The kinds of object the rule can report on, from every definition of it in the
    /// package: the interpreter skips the others (see [`crate::policy::rego::kinds`]).
    pub kinds: Kinds,
}

impl RuleDecl {
    /// The name conftest's `exception` rules use: the part after `deny_`, `violation_` or
    /// `warn_` (empty for the bare rule).
    pub fn exception_name(&self) -> &str {
        self.name.split_once('_').map_or("", |(_, suffix)| suffix)
    }
}

/// A package selected for evaluation, with the rules it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Dotted name as written after `package` (`main`, `kubernetes.security`).
    pub name: String,
    /// A Rego reference to the package document (`data.kubernetes.security`).
    pub reference: String,
    pub rules: Vec<RuleDecl>,
    /// `data.<package>.exception` when the package declares conftest `exception` rules.
    pub exception_path: Option<String>,
}

/// The loaded policies: an engine holding every module and data file (not yet prepared:
/// each cluster adds its own context data first), and the packages to evaluate.
#[derive(Clone)]
pub struct Loaded {
    /// The modules as the interpreter evaluates them as OPA does (see `rego::opa`).
    pub engine: Engine,
    /// The same for regorus' virtual machine, which needs more rewrites; made only when the
    /// virtual machine is the configured engine.
    pub vm_engine: Option<Engine>,
    pub modules: Vec<ModuleInfo>,
    pub packages: Vec<Package>,
    /// What the policies are made of: every module and data file read, path and content,
    /// and the syntax setting they were read with.
    pub digest: Digest,
    /// Where a module calls a builtin whose value is not the same on every call
    /// (`time.now_ns`, `rand.intn`, ...) or that has an effect (`print`): the verdicts of
    /// such policies are not worth remembering between runs.
    pub unrepeatable: Option<String>,
    /// Negations that fail open (see [`crate::policy::rego::safety::fail_open_negations`]): warnings, not
    /// errors.
    pub notes: Vec<Problem>,
    /// For `verify`: the `package.name` of each test definition renamed to run on its own,
    /// and the `package.test_x#01` name `opa test` reports it by.
    pub test_names: HashMap<String, String>,
}

/// The files below the policy directories: `.rego` modules and `.json`/`.yaml`/`.yml` data,
/// sorted, links refused (a pull request could point one anywhere on the agent).
fn policy_files(
    root: &Path,
    settings: &Settings,
    problems: &mut Vec<Problem>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut rego = Vec::new();
    let mut data = Vec::new();
    let dirs = settings
        .dirs
        .iter()
        .map(|d| (d, true, settings.data_in_dirs));
    let data_only = settings.data.iter().map(|d| (d, false, true));
    for (dir, with_modules, with_data) in dirs.chain(data_only) {
        for item in WalkDir::new(dir).follow_links(false).sort_by_file_name() {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    problems.push(problem(root, dir, format!("cannot list: {e}")));
                    continue;
                }
            };
            let path = item.path();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let wanted = match extension {
                "rego" => with_modules,
                "json" | "yaml" | "yml" => with_data,
                _ => false,
            };
            // A linked directory would hold policies that never run: refused like a linked
            // module, not skipped in silence.
            let linked_directory = item.path_is_symlink() && path.is_dir();
            if (!wanted && !linked_directory) || settings.is_excluded(path) {
                continue;
            }
            if linked_directory {
                problems.push(problem(
                    root,
                    path,
                    "is a symbolic link to a directory; policy directories are read only as directories inside the repository, and the policies in this one would never run"
                        .into(),
                ));
                continue;
            }
            if item.path_is_symlink() {
                problems.push(problem(
                    root,
                    path,
                    "is a symbolic link; policy files are read only as regular files inside the repository"
                        .into(),
                ));
                continue;
            }
            if !item.file_type().is_file() {
                continue;
            }
            if extension == "rego" {
                rego.push(path.to_path_buf());
            } else {
                data.push(path.to_path_buf());
            }
        }
    }
    (rego, data)
}

fn problem(root: &Path, path: &Path, message: String) -> Problem {
    Problem {
        file: relative(root, path),
        line: None,
        column: None,
        message,
        detail: None,
    }
}

/// `path` relative to the repository root for reports (unchanged when outside it).
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// What the policies are loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Judging objects: the selected packages must exist and hold rules; `*_test.rego`
    /// files are left out, so that test rules never run against objects.
    Judge,
    /// Running the unit tests (`verify`), as `opa test` does: every module, tests included,
    /// every package; no package needs to be selected or to hold a rule.
    Verify,
}

/// Loads every module and data file for `purpose`: the selected built-in packs' modules,
/// then the policy directories'.
pub fn load(root: &Path, settings: &Settings, purpose: Purpose) -> Result<Loaded, Vec<Problem>> {
    load_with(root, settings, purpose, &packs::modules(&settings.packs))
}

/// [`load`] with the given built-in modules (a test gives other texts).
fn load_with(
    root: &Path,
    settings: &Settings,
    purpose: Purpose,
    builtins: &[packs::BuiltinModule],
) -> Result<Loaded, Vec<Problem>> {
    let with_tests = purpose == Purpose::Verify;
    let mut problems = Vec::new();
    let (rego_files, data_files) = policy_files(root, settings, &mut problems);
    let mut engine = Engine::new();
    // Fail closed: a builtin that errors (a bad regex, a failed conversion) stops the run
    // instead of quietly making a `deny` undefined.
    engine.set_strict_builtin_errors(true);
    let mut modules = Vec::new();
    let mut contents = Sha256::new();
    let mut take_in = |path: &Path, bytes: &[u8]| {
        for part in [path.as_os_str().as_encoded_bytes(), bytes] {
            contents.update((part.len() as u64).to_le_bytes());
            contents.update(part);
        }
    };
    take_in(
        Path::new("rego"),
        format!("{:?}", settings.rego_version).as_bytes(),
    );
    let mut sources = Vec::new();
    // Named and digested as any module: a binary with changed packs never recalls the
    // verdicts of the packs it was not built with.
    for module in builtins {
        let display = PathBuf::from(module.shown());
        take_in(&display, module.text.as_bytes());
        sources.push((display, module.text.to_owned(), false));
    }
    for path in &rego_files {
        let is_test = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with("_test.rego"));
        if is_test && !with_tests {
            continue;
        }
        let display = relative(root, path);
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(problem(root, path, format!("cannot read: {e}")));
                continue;
            }
        };
        take_in(&display, text.as_bytes());
        sources.push((display, text, is_test));
    }
    let test_names = if purpose == Purpose::Verify {
        separate_test_definitions(&mut sources, settings.rego_version)
    } else {
        HashMap::new()
    };
    for (display, text, is_test) in sources {
        let name = display.to_string_lossy().into_owned();
        match add_module(&mut engine, &name, text, settings.rego_version) {
            Ok(reference) => modules.push((display, reference, is_test)),
            Err(p) => problems.push(p),
        }
    }
    let mut waiver_notes = Vec::new();
    for path in &data_files {
        let added = fs::read_to_string(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| {
                take_in(&relative(root, path), text.as_bytes());
                add_data_file(&mut engine, path, &text)
            });
        match added {
            Ok(DataFile::Merged) => {}
            Ok(DataFile::Waivers) => waiver_notes.push(problem(
                root,
                path,
                "is a list of waivers, not policy data (data is an object): it is not loaded, and its waivers apply only when [policy] waivers names it".into(),
            )),
            Err(message) => problems.push(problem(root, path, message)),
        }
    }
    let digest = Digest(contents.finalize().into());
    let infos = module_infos(&mut engine, &modules);
    problems.extend(replaced_packs(&infos, builtins));
    problems.extend(reserved_names(&mut engine));
    problems.extend(missing_functions(&mut engine));
    problems.extend(safety::unsafe_variables(&mut engine));
    if !problems.is_empty() {
        return Err(problems);
    }
    for namespace in settings.namespaces.iter().filter(|_| {
        !settings.all_namespaces && !settings.every_own_package && purpose == Purpose::Judge
    }) {
        if !infos.iter().any(|i| !i.is_test && &i.package == namespace) {
            problems.push(selection_problem(
                root,
                settings,
                format!(
                    "no module declares package `{namespace}` (selected by [policy] namespaces or --namespace; packages here: {})",
                    package_list(&infos)
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let packages = select_packages(&infos, settings);
    if packages.is_empty() && purpose == Purpose::Judge {
        // Policies that judge nothing would pass every object.
        return Err(vec![selection_problem(
            root,
            settings,
            format!(
                "no deny, violation or warn rule in the selected packages (packages here: {})",
                package_list(&infos)
            ),
        )]);
    }
    let unrepeatable = unrepeatable_call(&mut engine);
    let mut notes = safety::fail_open_negations(&mut engine);
    notes.extend(waiver_notes);
    // From here on the modules are evaluated as OPA evaluates them (`rego::opa`); every
    // check above saw them as written.
    let vm_engine = match settings.engine {
        RegoEngine::Vm => Some(builtins::evaluation_engine(&mut engine, opa::Target::Vm)?),
        RegoEngine::Interpreter => None,
    };
    let engine = builtins::evaluation_engine(&mut engine, opa::Target::Interpreter)?;
    Ok(Loaded {
        engine,
        vm_engine,
        modules: infos,
        packages,
        digest,
        unrepeatable,
        notes,
        test_names,
    })
}

/// A module's package, the byte range and name of each of its test rules' heads in its
/// prepared text (see `rego::opa::prepare`), every rule name it defines, and that text.
type ModuleHeads = (String, Vec<(usize, usize, String)>, HashSet<String>, String);

/// Gives every definition of a test rule a name of its own, as `opa test` does before it
/// runs each definition as a test: in a package, the first definition of `test_x` keeps its
/// name and the next ones are `test_x#01`, `test_x#02`, ... (in the order the files are
/// loaded, each file's in source order). regorus would evaluate them together, as one rule
/// that holds when any of its definitions does, hiding a failing one; so each duplicate's
/// head is renamed in the source (same lines and columns after it on its line only), to a
/// name no rule of the package has. The heads are found in the text as regorus reads it,
/// after OPA's reading is prepared (which inserts text), so a module with a renamed test
/// continues prepared (preparing it again changes nothing). Returns each renamed test's `package.name` with the
/// `package.test_x#01` reports show.
fn separate_test_definitions(
    sources: &mut [(PathBuf, String, bool)],
    version: RegoVersion,
) -> HashMap<String, String> {
    // Per module: its package and the byte ranges and names of its test rules' heads.
    let mut heads: Vec<Option<ModuleHeads>> = Vec::new();
    for (display, text, _) in sources.iter() {
        let mut scratch = Engine::new();
        if add_module(
            &mut scratch,
            &display.to_string_lossy(),
            text.clone(),
            version,
        )
        .is_err()
        {
            // The real load reports the error.
            heads.push(None);
            continue;
        }
        let modules = scratch.get_modules().clone();
        let Some(module) = modules.first() else {
            heads.push(None);
            continue;
        };
        let package = package_path(module).join(".");
        let prepared = module.package.span.source.get_contents().clone();
        let mut tests = Vec::new();
        let mut names = HashSet::new();
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                AstRule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => refr,
                },
                AstRule::Default { refr, .. } => refr,
            };
            let Ok(parts) = Parser::get_path_ref_components(refr) else {
                continue;
            };
            if let [only] = parts.as_slice() {
                let name = only.text().to_owned();
                names.insert(name.clone());
                if name.starts_with("test_") {
                    tests.push((only.start as usize, only.end as usize, name));
                }
            }
        }
        heads.push(Some((package, tests, names, prepared)));
    }
    let taken: HashMap<&str, HashSet<&str>> =
        heads
            .iter()
            .flatten()
            .fold(HashMap::new(), |mut taken, (package, _, names, _)| {
                taken
                    .entry(package.as_str())
                    .or_default()
                    .extend(names.iter().map(String::as_str));
                taken
            });
    let mut count: HashMap<String, usize> = HashMap::new();
    let mut edits: Vec<Vec<(usize, usize, String)>> = vec![Vec::new(); sources.len()];
    let mut shown = HashMap::new();
    for (index, found) in heads.iter().enumerate() {
        let Some((package, tests, _, _)) = found else {
            continue;
        };
        for (start, end, name) in tests {
            let key = format!("{package}.{name}");
            let seen = count.entry(key).or_insert(0);
            if *seen > 0 {
                let mut renamed = format!("{name}__{seen:02}");
                while taken
                    .get(package.as_str())
                    .is_some_and(|names| names.contains(renamed.as_str()))
                {
                    renamed.push('_');
                }
                shown.insert(
                    format!("{package}.{renamed}"),
                    format!("{package}.{name}#{seen:02}"),
                );
                edits[index].push((*start, *end, renamed));
            }
            *seen += 1;
        }
    }
    for (((_, text, _), mut edits), found) in sources.iter_mut().zip(edits).zip(heads) {
        let Some((_, _, _, prepared)) = found else {
            continue;
        };
        if edits.is_empty() {
            continue;
        }
        *text = prepared;
        // From the end, so that earlier offsets stay valid.
        edits.sort_by_key(|(start, _, _)| std::cmp::Reverse(*start));
        for (start, end, renamed) in edits {
            if text.get(start..end).is_some() {
                text.replace_range(start..end, &renamed);
            }
        }
    }
    shown
}

/// Adds one module in the configured syntax. `auto` tries Rego v1 and then v0, so a
/// repository can mix libraries of both ages; when neither parses, the error of the
/// dialect that got further is the one the author needs.
fn add_module(
    engine: &mut Engine,
    name: &str,
    text: String,
    version: RegoVersion,
) -> Result<String, Problem> {
    let attempt = |engine: &mut Engine, v0: bool| -> Result<String, Problem> {
        // Read as OPA's parser reads it (see `rego::opa::syntax`); a construct OPA refuses
        // is refused here with its place.
        let prepared = opa::prepare(name, &text, v0)?;
        // In v0, OPA's deprecated built-ins mean what OPA defines them as; found in the
        // text regorus reads, which only OPA's reading makes parse.
        let prepared = if v0 {
            deprecated::rewrite_v0(name, &prepared)
        } else {
            prepared
        };
        engine.set_rego_v0(v0);
        engine
            .add_policy(name.to_owned(), prepared)
            .map_err(|e| error_problem(Path::new(name), &e.to_string()))
    };
    let at = |p: &Problem| (p.line.unwrap_or(0), p.column.unwrap_or(0));
    let result = match version {
        RegoVersion::V1 => attempt(engine, false),
        RegoVersion::V0 => attempt(engine, true),
        RegoVersion::Auto => match attempt(engine, false) {
            Ok(package) => Ok(package),
            Err(v1_error) => match attempt(engine, true) {
                Ok(package) => Ok(package),
                Err(v0_error) => {
                    // A v1 complaint about a missing `if` or `contains` only says that the
                    // module is v0; the v0 parser's error is then the real one.
                    let v1_only_dialect = v1_error.message.contains("keyword is required");
                    let (v0_at, v1_at) = (at(&v0_error), at(&v1_error));
                    Err(if v0_at > v1_at || (v0_at == v1_at && v1_only_dialect) {
                        v0_error
                    } else {
                        v1_error
                    })
                }
            },
        },
    };
    engine.set_rego_v0(false);
    result
}

/// Adds a module from elsewhere (a ConstraintTemplate) in whichever syntax it parses as.
pub fn add_source(engine: &mut Engine, name: &str, text: String) -> Result<String, Problem> {
    add_module(engine, name, text, RegoVersion::Auto)
}

/// Data files are merged at the root of `data`, as `opa eval -d` and `conftest --data` do.
/// What became of a data file below the policy directories.
enum DataFile {
    /// Its keys are in `data`.
    Merged,
    /// A list of waivers (entries naming a `rule`), such as a copy of policyrun's packs
    /// brings in `waivers.yaml`: no data, and no reason to refuse the policies beside it.
    Waivers,
}

fn add_data_file(engine: &mut Engine, path: &Path, text: &str) -> Result<DataFile, String> {
    let json = path.extension().and_then(|e| e.to_str()) == Some("json");
    let value: serde_json::Value = if json {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        // As OPA's `-d` reads YAML (sigs.k8s.io/yaml): see `model::yaml`.
        crate::model::yaml::parse_document(text)
            .map_err(|p| format!("not valid YAML: line {}: {}", p.line, p.message))?
    };
    if let Some(entries) = value.as_array()
        && entries
            .iter()
            .all(|entry| entry.get("rule").is_some_and(serde_json::Value::is_string))
    {
        return Ok(DataFile::Waivers);
    }
    if !value.is_object() {
        return Err(
            "a data file must hold an object, whose keys are merged into `data` (a waiver file is named in [policy] waivers)"
                .into(),
        );
    }
    engine
        .add_data(Value::from(value))
        .map(|_| DataFile::Merged)
        .map_err(|e| format!("cannot merge into data: {e}"))
}

/// Is this module one of a built-in pack's?
fn is_builtin(file: &Path) -> bool {
    file.starts_with(packs::PREFIX)
}

/// A repository module in the package of a selected built-in pack: regorus would merge it
/// into the pack, so that it could add to or change what the pack's rules say without
/// anyone seeing it. A repository that wants its own version of a pack does not select it.
fn replaced_packs(infos: &[ModuleInfo], builtins: &[packs::BuiltinModule]) -> Vec<Problem> {
    let builtin_packages: BTreeMap<&str, &Path> = infos
        .iter()
        .filter(|i| is_builtin(&i.file))
        .map(|i| (i.package.as_str(), i.file.as_path()))
        .collect();
    infos
        .iter()
        .filter(|i| !is_builtin(&i.file))
        .filter_map(|info| {
            let module = builtin_packages.get(info.package.as_str())?;
            let pack = builtins
                .iter()
                .find(|b| Path::new(&b.shown()) == *module)
                .map_or("?", |b| b.pack);
            let message = if pack == packs::SHARED {
                format!(
                    "package `{}` is the built-in packs' shared helpers ({}), which come with [policy] packs: a repository's policies add to the built-in packs and cannot change them; name this package otherwise",
                    info.package,
                    module.display()
                )
            } else {
                format!(
                    "package `{}` is the built-in pack `{pack}` ({}), selected by [policy] packs: a repository's policies add to the built-in packs and cannot change them; to use this one instead, remove \"{pack}\" from [policy] packs",
                    info.package,
                    module.display()
                )
            };
            Some(Problem {
                file: info.file.clone(),
                line: None,
                column: None,
                message,
                detail: None,
            })
        })
        .collect()
}

/// A problem with which packages are selected, placed at the first policy directory.
fn selection_problem(root: &Path, settings: &Settings, message: String) -> Problem {
    Problem {
        file: settings
            .dirs
            .first()
            .map(|d| relative(root, d))
            .unwrap_or_default(),
        line: None,
        column: None,
        message,
        detail: None,
    }
}

fn package_list(infos: &[ModuleInfo]) -> String {
    let names: std::collections::BTreeSet<&str> = infos
        .iter()
        .filter(|i| !i.is_test)
        .map(|i| i.package.as_str())
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// The packages whose conftest rules run: the configured namespaces (or every package), each
/// with the rules its modules declare. A package with no such rule produces no results.
fn select_packages(infos: &[ModuleInfo], settings: &Settings) -> Vec<Package> {
    let mut by_name: BTreeMap<&str, Package> = BTreeMap::new();
    for info in infos.iter().filter(|i| !i.is_test) {
        // A selected pack's rules run whatever `namespaces` selects among the repository's.
        let selected = settings.all_namespaces
            || settings.every_own_package
            || settings.namespaces.contains(&info.package)
            || is_builtin(&info.file);
        if !selected {
            continue;
        }
        let package = by_name.entry(&info.package).or_insert_with(|| Package {
            name: info.package.clone(),
            reference: info.reference.clone(),
            rules: Vec::new(),
            exception_path: None,
        });
        for (name, line) in &info.rules {
            if name == "exception" {
                package.exception_path = Some(format!("{}.exception", info.reference));
            } else if let Some(kind) = rule_kind(name)
                && !info.functions.contains(name)
                && !package.rules.iter().any(|r| r.name == *name)
            {
                package.rules.push(RuleDecl {
                    path: format!("{}.{name}", info.reference),
                    check: format!("{}.{name}", info.package).into(),
                    name: name.clone(),
                    kind,
                    file: info.file.clone(),
                    line: *line,
                    kinds: package_kinds(infos, &info.package, name),
                });
            }
        }
    }
    by_name
        .into_values()
        .filter(|p| !p.rules.is_empty())
        .collect()
}

/// The kinds a rule can report on over every module of its package (tests included, when
/// loaded: their definitions are part of the rule too).
fn package_kinds(infos: &[ModuleInfo], package: &str, rule: &str) -> Kinds {
    infos
        .iter()
        .filter(|i| i.package == package)
        .filter_map(|i| i.kinds.get(rule).cloned())
        .reduce(Kinds::union)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_names_drop_the_prefix() {
        let rule = |name: &str| RuleDecl {
            name: name.into(),
            path: format!("data.p.{name}"),
            check: format!("p.{name}").into(),
            kind: RuleKind::Deny,
            file: PathBuf::new(),
            line: 1,
            kinds: Kinds::Any,
        };
        assert_eq!(rule("deny_run_as_root").exception_name(), "run_as_root");
        assert_eq!(rule("deny").exception_name(), "");
    }

    fn load_text(module: &str) -> Result<Loaded, Vec<Problem>> {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("p.rego"), module).unwrap();
        let settings = Settings {
            dirs: vec![dir.path().to_path_buf()],
            ..Settings::default()
        };
        load(dir.path(), &settings, Purpose::Judge)
    }

    /// The verdict memory's key names the policies by this digest: a binary whose built-in
    /// pack says something else must not recall the verdicts of the old one.
    #[test]
    fn the_digest_follows_the_built_in_modules_text() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            packs: vec!["p".to_owned()],
            namespaces: Vec::new(),
            ..Settings::default()
        };
        let digest = |text: &'static str| {
            let module = packs::BuiltinModule {
                pack: "p",
                path: "p/p.rego",
                text,
            };
            load_with(dir.path(), &settings, Purpose::Judge, &[module])
                .unwrap()
                .digest
        };
        let before = digest("package p\nimport rego.v1\ndeny contains \"a\" if input.a\n");
        let after = digest("package p\nimport rego.v1\ndeny contains \"a\" if input.b\n");
        assert_ne!(before, after);
        assert_eq!(
            before,
            digest("package p\nimport rego.v1\ndeny contains \"a\" if input.a\n")
        );
    }

    #[test]
    fn functions_named_like_rules_are_not_results() {
        let loaded = load_text(
            "package main\nimport rego.v1\ndeny_if(x) if x > 1\ndeny contains \"big\" if deny_if(input.n)\nwarn_x contains \"w\" if input.w\n",
        )
        .unwrap();
        let names: Vec<&str> = loaded.packages[0]
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["deny", "warn_x"]);
    }

    #[test]
    fn v0_and_v1_modules_both_load_and_bad_ones_name_their_line() {
        assert!(load_text("package main\ndeny[msg] {\n  msg := \"x\"\n}\n").is_ok());
        assert!(load_text("package main\nimport rego.v1\ndeny contains \"x\" if true\n").is_ok());
        // A v0 module with a syntax error: the v0 parser's error, not v1's "`if` required".
        let problems = load_text("package main\n\ndeny[msg] {\n  msg := \n}\n")
            .err()
            .unwrap();
        assert_eq!(problems[0].file, PathBuf::from("p.rego"));
        assert_eq!(problems[0].line, Some(3));
        assert!(
            !problems[0].message.contains("`if`"),
            "{}",
            problems[0].message
        );
    }
}

//! OPA is the reference for what a Rego policy means: policyrun's verdicts (regorus'
//! interpreter and its virtual machine) must equal OPA's, object by object and rule by rule,
//! on the example repository and on a generated corpus that varies every field our packs
//! read; and every bundled module, tests included, must compile in OPA with its tests true.
//! OPA runs through `scripts/opa-reference` (PyPI's opa-golib-python-bindings); without it
//! the tests skip with a note, except under CI, which installs it (`.ci/run`).

use crate::support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use policyrun::cli::config::Config;
use policyrun::jsonnet::{discover, expand};
use policyrun::model::object::Target;
use policyrun::model::outcome::{Location, ObjectId, Outcome, Stage, Status};
use policyrun::model::secrets;
use policyrun::model::value::ObjectValue;
use policyrun::pipeline::check;
use policyrun::policy::{self, ClusterContext, PolicyStage, RegoEngine, RunShare, Settings};
use policyrun::schema::Catalog;
use serde_json::{Value, json};
use support::{manifest_dir, opa_available, policyrun};

/// The packages of the bundled packs, as our own policyrun.toml selects them.
const PACKAGES: [&str; 3] = ["namespace", "security", "cluster"];

/// How many differences a failing comparison prints in full.
const SHOWN: usize = 25;

// ---- OPA through scripts/opa-reference ---------------------------------------------------

/// Runs `scripts/opa-reference MODE` with `job` on standard input; its JSON answer.
fn opa_reference(mode: &str, job: &Value) -> Value {
    OpaRun::start(mode, job).answer()
}

/// `scripts/opa-reference` at work in its own process, while policyrun evaluates.
struct OpaRun {
    mode: String,
    child: std::process::Child,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
    started: Instant,
}

impl OpaRun {
    fn start(mode: &str, job: &Value) -> OpaRun {
        let mut child = Command::new("python3")
            .arg(manifest_dir().join("scripts/opa-reference"))
            .arg(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let text = serde_json::to_vec(job).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Written from another thread: the answer may fill the pipe before the job is read.
        let writer = std::thread::spawn(move || stdin.write_all(&text));
        OpaRun {
            mode: mode.to_owned(),
            child,
            writer,
            started: Instant::now(),
        }
    }

    fn answer(self) -> Value {
        let output = self.child.wait_with_output().unwrap();
        self.writer
            .join()
            .unwrap()
            .expect("job written to opa-reference");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let mode = &self.mode;
        // Its own time is in its note; this one includes waiting for policyrun.
        eprintln!(
            "OPA ({mode}) answered after {:.1?}: {}",
            self.started.elapsed(),
            stderr.trim()
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!(
                "opa-reference {mode} answered no JSON ({e}), status {}: {stderr}",
                output.status
            )
        })
    }
}

/// The `.rego` files below `dirs`, keyed by their path relative to the repository root;
/// `with_tests` includes `*_test.rego` (policyrun loads them only for `verify`).
fn rego_modules(root: &Path, dirs: &[PathBuf], with_tests: bool) -> BTreeMap<String, String> {
    let mut modules = BTreeMap::new();
    for dir in dirs {
        for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy();
            if !entry.file_type().is_file() || !name.ends_with(".rego") {
                continue;
            }
            if name.ends_with("_test.rego") && !with_tests {
                continue;
            }
            let path = entry.path();
            let shown = path.strip_prefix(root).unwrap_or(path);
            modules.insert(
                shown.to_string_lossy().into_owned(),
                std::fs::read_to_string(path).unwrap(),
            );
        }
    }
    modules
}

/// A private copy of our packs without their waiver file: the comparison is about raw
/// verdicts, which waivers would turn into skips (and the waiver file is no policy data).
/// `POLICYRUN_OPA_PACKS` names another packs directory to compare instead of policies/ (a
/// pack author's work in progress).
fn packs_without_waivers() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let packs = std::env::var_os("POLICYRUN_OPA_PACKS")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("policies"));
    support::copy_tree(&packs, &dir.path().join("policies"));
    let _ = std::fs::remove_file(dir.path().join("policies/waivers.yaml"));
    dir
}

fn pack_settings(root: &Path) -> Settings {
    Settings {
        dirs: vec![root.join("policies")],
        namespaces: PACKAGES.iter().map(|p| p.to_string()).collect(),
        ..Settings::default()
    }
}

// ---- verdicts ----------------------------------------------------------------------------

/// What a rule says about an object, in a form both engines can be compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Passed,
    /// The rule's messages, each on its own, sorted.
    Failed(Vec<String>),
    /// An evaluation error (texts differ between engines; that there is one must not).
    Error(String),
    /// Anything else policyrun reports (an `exception`, a warning rule): never expected.
    Other(String),
}

impl Verdict {
    fn same_as(&self, other: &Verdict) -> bool {
        match (self, other) {
            (Verdict::Error(_), Verdict::Error(_)) => true,
            _ => self == other,
        }
    }

    fn short(&self) -> String {
        let cut = |text: &str| -> String {
            let mut text = text.replace('\n', " ");
            if text.len() > 160 {
                let end = (0..=160).rev().find(|i| text.is_char_boundary(*i)).unwrap();
                text.truncate(end);
                text.push('…');
            }
            text
        };
        match self {
            Verdict::Passed => "passed".to_owned(),
            Verdict::Failed(messages) => format!("failed: {}", cut(&messages.join(" | "))),
            Verdict::Error(text) => format!("error: {}", cut(text)),
            Verdict::Other(text) => cut(text),
        }
    }
}

/// policyrun's verdict before waivers: an object's own waiver annotation turns a failure
/// into a skip that keeps the rule's messages in its detail.
fn policyrun_verdict(outcome: &Outcome) -> Verdict {
    let sorted = |messages: Vec<&str>| {
        let mut messages: Vec<String> = messages.into_iter().map(str::to_owned).collect();
        messages.sort();
        messages
    };
    let waived = (outcome.status == Status::Skipped)
        .then(|| outcome.detail.as_deref()?.strip_prefix("waived result: "))
        .flatten()
        .is_some();
    if waived {
        // A waived result keeps the messages it waived.
        return Verdict::Failed(sorted(outcome.each_message()));
    }
    match outcome.status {
        Status::Passed => Verdict::Passed,
        Status::Failed => Verdict::Failed(sorted(outcome.each_message())),
        Status::Error => Verdict::Error(outcome.message.clone()),
        other => Verdict::Other(format!("{other:?}: {}", outcome.message)),
    }
}

/// OPA's verdict as policyrun would report it: each message on its own, sorted, with a
/// Secret's values hidden, as policyrun hides them in every message about a Secret.
fn opa_verdict(target: &Target, check: &str, answer: &Value) -> Verdict {
    if let Some(error) = answer.get("error") {
        return Verdict::Error(error.as_str().unwrap_or_default().to_owned());
    }
    let messages: Vec<String> = answer["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("opa-reference answered {answer} for {check}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    if messages.is_empty() {
        return Verdict::Passed;
    }
    let mut outcome = [Outcome::new(Stage::Policy, check, Status::Failed).messages(messages)];
    policy::redact::secret_values(target, &mut outcome);
    let [outcome] = outcome;
    let mut messages: Vec<String> = outcome
        .each_message()
        .into_iter()
        .map(str::to_owned)
        .collect();
    messages.sort();
    Verdict::Failed(messages)
}

/// One object of a corpus, owned so that targets can borrow it.
struct Item {
    cluster: String,
    id: ObjectId,
    value: ObjectValue,
    file: PathBuf,
    /// What the generator changed, for reading a difference.
    about: String,
}

fn targets(items: &[Item]) -> Vec<Target<'_>> {
    items
        .iter()
        .map(|item| Target {
            subject: item.id.display_name(),
            cluster: Some(&item.cluster),
            entry: Some(&item.id.entry),
            id: &item.id,
            value: &item.value,
            location: Location::file(item.file.clone()),
            source: None,
            content: None,
        })
        .collect()
}

/// One disagreement between policyrun and OPA.
struct Difference {
    engine: RegoEngine,
    object: String,
    check: String,
    policyrun: Verdict,
    opa: Verdict,
}

/// Compares policyrun's verdicts on `targets` with OPA's, for both engines. `run` evaluates
/// the targets with a stage as the code under test does; `contexts` and `namespaced` are
/// what it hands the stage, from which each object's `data.policyrun` is built for OPA.
fn compare(
    root: &Path,
    settings: &Settings,
    targets: &[Target],
    about: &dyn Fn(usize) -> String,
    contexts: &HashMap<Option<String>, ClusterContext>,
    namespaced: &dyn Fn(Option<&str>, &ObjectId) -> Option<bool>,
    run: &dyn Fn(&PolicyStage) -> Vec<Outcome>,
) -> Comparison {
    let key = |cluster: Option<&str>, file: &Path| (cluster.map(str::to_owned), file.to_owned());
    let index: HashMap<_, usize> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| (key(t.cluster, &t.location.file), i))
        .collect();
    assert_eq!(index.len(), targets.len(), "every object has its own file");

    // The rules and data files as the stage loads them; OPA runs while policyrun does.
    let stage = PolicyStage::new(root, settings);
    let checks: Vec<(String, String)> = stage
        .packages()
        .iter()
        .flat_map(|p| {
            assert!(
                p.exception_path.is_none(),
                "package {} has `exception` rules, which this comparison does not model",
                p.name
            );
            p.rules.iter().map(|r| {
                let path = r.path.strip_prefix("data.").unwrap_or(&r.path).to_owned();
                (r.check.to_string(), path)
            })
        })
        .collect();
    if checks.is_empty() {
        let problems: Vec<String> = run(&stage)
            .iter()
            .filter(|o| o.check == policy::LOAD)
            .map(|o| {
                format!(
                    "{}: {}",
                    o.subject.as_deref().unwrap_or_default(),
                    o.message
                )
            })
            .collect();
        panic!("no rules to compare:\n{}", problems.join("\n"));
    }
    let mut data_files = stage.data_files().expect("policies loaded");
    // The context of each object comes with its case.
    if let Some(data) = data_files.as_object_mut() {
        data.remove("policyrun");
    }
    let rules: Vec<&str> = checks.iter().map(|(_, path)| path.as_str()).collect();
    let cases: Vec<Value> = targets
        .iter()
        .map(|target| {
            let cluster = &contexts[&target.cluster.map(str::to_owned)];
            let context =
                policy::policyrun_document(cluster, target, namespaced(target.cluster, target.id))
                    .unwrap();
            // The object as the stage hands it to the policies: Secret values masked.
            let object = secrets::as_policies_see(target.value(), settings.reveal_secret_values);
            json!({"object": object, "policyrun": context, "rules": rules})
        })
        .collect();
    let job = json!({
        "modules": rego_modules(root, &settings.dirs, false),
        "data": data_files,
        "cases": cases,
    });
    let opa = OpaRun::start("eval", &job);
    drop(job);

    let mut verdicts_by_engine = Vec::new();
    for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
        let settings = Settings {
            engine,
            ..settings.clone()
        };
        let stage = PolicyStage::new(root, &settings);
        let mut verdicts: HashMap<(usize, String), Verdict> = HashMap::new();
        let started = Instant::now();
        let outcomes = run(&stage);
        eprintln!(
            "policyrun ({engine:?}): {} objects in {:.1?}",
            targets.len(),
            started.elapsed()
        );
        for outcome in outcomes {
            let location = outcome.location.as_ref().map(|l| l.file.clone());
            let found =
                location.and_then(|file| index.get(&key(outcome.cluster.as_deref(), &file)));
            let Some(&i) = found else {
                panic!("{engine:?}: an outcome about no object of the corpus: {outcome:?}");
            };
            let previous = verdicts.insert((i, outcome.check.clone()), policyrun_verdict(&outcome));
            assert!(previous.is_none(), "two outcomes for one rule: {outcome:?}");
        }
        verdicts_by_engine.push((engine, verdicts));
    }
    let answer = opa.answer();
    if let Some(refused) = answer["compile_error"].as_str() {
        eprintln!("OPA refuses the modules, so every rule is an error there: {refused}");
    }
    let answers = answer["cases"].as_array().expect("one answer per case");
    assert_eq!(answers.len(), targets.len());

    let mut opa_failures: BTreeMap<String, usize> =
        checks.iter().map(|(check, _)| (check.clone(), 0)).collect();
    for (i, target) in targets.iter().enumerate() {
        for (check, path) in &checks {
            if let Verdict::Failed(_) = opa_verdict(target, check, &answers[i][path.as_str()]) {
                *opa_failures.get_mut(check).unwrap() += 1;
            }
        }
    }
    let mut differences = Vec::new();
    for (engine, verdicts) in &verdicts_by_engine {
        for (i, target) in targets.iter().enumerate() {
            for (check, path) in &checks {
                let opa = opa_verdict(target, check, &answers[i][path.as_str()]);
                let ours = verdicts
                    .get(&(i, check.clone()))
                    .cloned()
                    .unwrap_or_else(|| Verdict::Other("no outcome".to_owned()));
                if !ours.same_as(&opa) {
                    differences.push(Difference {
                        engine: *engine,
                        object: format!(
                            "{} {} ({})",
                            target.cluster.unwrap_or_default(),
                            target.location.file.display(),
                            about(i)
                        ),
                        check: check.clone(),
                        policyrun: ours,
                        opa,
                    });
                }
            }
        }
    }
    Comparison {
        compared: targets.len() * checks.len(),
        differences,
        opa_failures,
    }
}

/// What [`compare`] found.
struct Comparison {
    /// Verdicts compared per engine.
    compared: usize,
    differences: Vec<Difference>,
    /// Per rule, on how many objects OPA found violations.
    opa_failures: BTreeMap<String, usize>,
}

/// Fails with the first differences in full and how many each engine has per rule; with
/// `POLICYRUN_OPA_DIFFERENCES` set, writes every difference to that file as JSON lines.
fn assert_no_differences(corpus: &str, compared: usize, differences: &[Difference]) {
    if let Some(path) = std::env::var_os("POLICYRUN_OPA_DIFFERENCES") {
        let mut lines = String::new();
        for d in differences {
            let line = json!({
                "corpus": corpus,
                "engine": format!("{:?}", d.engine),
                "object": d.object,
                "check": d.check,
                "policyrun": format!("{:?}", d.policyrun),
                "opa": format!("{:?}", d.opa),
            });
            lines.push_str(&format!("{line}\n"));
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(lines.as_bytes()).unwrap();
    }
    if differences.is_empty() {
        eprintln!("{corpus}: {compared} verdicts per engine, all equal to OPA's");
        return;
    }
    let mut per_rule: BTreeMap<(&str, String), usize> = BTreeMap::new();
    for d in differences {
        *per_rule
            .entry((d.check.as_str(), format!("{:?}", d.engine)))
            .or_default() += 1;
    }
    let mut text = format!(
        "{corpus}: {} verdicts (both engines) differ from OPA's, of {compared} per engine\n",
        differences.len()
    );
    text.push_str("per rule and engine:\n");
    for ((check, engine), count) in &per_rule {
        text.push_str(&format!("  {check:45} {engine:12} {count}\n"));
    }
    text.push_str(&format!("first {SHOWN}:\n"));
    for d in differences.iter().take(SHOWN) {
        text.push_str(&format!(
            "- {:?} {} on {}\n    policyrun: {}\n    OPA:       {}\n",
            d.engine,
            d.check,
            d.object,
            d.policyrun.short(),
            d.opa.short()
        ));
    }
    panic!("{text}");
}

// ---- (a) the example repository ----------------------------------------------------------

/// Our packs on every object of the example repository, each cluster at its configured
/// level, through the gate's own path (expansion, contexts, scopes from the schemas).
#[test]
fn example_repository_verdicts_equal_opas() {
    if !opa_available() {
        return;
    }
    let root = manifest_dir();
    let config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let entries = discover::entries(&config.repo, &clusters)
        .expect("entries")
        .entries;
    let expanded = expand::expand_all(
        &config.repo,
        &entries,
        &policyrun::model::events::Unseen::shared(),
    );
    let targets = check::targets(&expanded);
    assert!(targets.len() > 100, "{} objects", targets.len());
    let catalog = Catalog::new(config.schema.clone()).expect("schemas");
    let packs = packs_without_waivers();
    let contexts = check::cluster_contexts(&config, &targets, &[]);
    let about = |i: usize| targets[i].subject.clone();
    let found = compare(
        packs.path(),
        &pack_settings(packs.path()),
        &targets,
        &about,
        &contexts,
        &|cluster, id| check::namespaced(&catalog, cluster, id),
        &|stage| check::policy_outcomes(&config, stage, &catalog, &targets, &RunShare::whole()),
    );
    assert_no_differences("example repository", found.compared, &found.differences);
}

// ---- (b) a generated corpus --------------------------------------------------------------

/// SplitMix64: a small deterministic generator, so that a difference is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A value a field is set to; `None` removes the field.
type Choice = Option<Value>;

/// The shapes every field is tried with besides its meaningful values.
fn odd_shapes() -> Vec<Choice> {
    vec![
        None,
        Some(Value::Null),
        Some(json!({})),
        Some(json!([])),
        Some(json!("")),
        Some(json!("x")),
        Some(json!(1)),
        Some(json!(true)),
    ]
}

fn with_odd(values: Vec<Value>) -> Vec<Choice> {
    let mut choices: Vec<Choice> = values.into_iter().map(Some).collect();
    choices.extend(odd_shapes());
    choices
}

/// Sets `path` below `value` (creating objects on the way, replacing what is not one), or
/// removes it when `choice` is `None`.
fn set_path(value: &mut Value, path: &[&str], choice: &Choice) {
    let (last, parents) = path.split_last().unwrap();
    let mut here = value;
    for key in parents {
        if !here.is_object() {
            if choice.is_none() {
                return;
            }
            *here = json!({});
        }
        here = here
            .as_object_mut()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
    if !here.is_object() {
        if choice.is_none() {
            return;
        }
        *here = json!({});
    }
    let object = here.as_object_mut().unwrap();
    match choice {
        Some(v) => {
            object.insert(last.to_string(), v.clone());
        }
        None => {
            object.remove(*last);
        }
    }
}

/// A host in a probe or lifecycle handler: the baseline control of Kubernetes 1.34.
fn handler_choices() -> Vec<Value> {
    vec![
        json!({"httpGet": {"path": "/healthz", "port": 8080}}),
        json!({"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}),
        json!({"httpGet": {"port": 80, "host": ""}}),
        json!({"httpGet": {"port": 80, "host": null}}),
        json!({"httpGet": {"port": 80, "host": 1}}),
        json!({"httpGet": null}),
        json!({"tcpSocket": {"port": 80}}),
        json!({"tcpSocket": {"port": 80, "host": "example.com"}}),
        json!({"tcpSocket": {"port": 80, "host": ""}}),
        json!({"tcpSocket": "x"}),
        json!({"exec": {"command": ["true"]}}),
        json!({"grpc": {"port": 9000}}),
    ]
}

/// Every field our packs read (and the Pod Security Standards' further controls), with
/// the values it is tried with: relative to a container, or to the pod spec.
fn container_fields() -> Vec<(&'static [&'static str], Vec<Choice>)> {
    let selinux = || {
        with_odd(vec![
            json!({"type": "container_t"}),
            json!({"type": "container_init_t"}),
            json!({"type": "container_kvm_t"}),
            json!({"type": "container_engine_t"}),
            json!({"type": "spc_t"}),
            json!({"type": ""}),
            json!({"type": null}),
            json!({"type": 1}),
            json!({"user": "system_u"}),
            json!({"role": "system_r"}),
            json!({"user": ""}),
            json!({"role": null}),
            json!({"level": "s0:c123,c456"}),
        ])
    };
    let seccomp = || {
        with_odd(vec![
            json!({"type": "RuntimeDefault"}),
            json!({"type": "Localhost", "localhostProfile": "profiles/audit.json"}),
            json!({"type": "Unconfined"}),
            json!({"type": null}),
            json!({"type": ""}),
            json!({"type": 1}),
        ])
    };
    let apparmor = || {
        with_odd(vec![
            json!({"type": "RuntimeDefault"}),
            json!({"type": "Localhost", "localhostProfile": "k8s-apparmor"}),
            json!({"type": "Unconfined"}),
            json!({"type": null}),
            json!({"type": 1}),
        ])
    };
    let windows = || {
        with_odd(vec![
            json!({"hostProcess": true}),
            json!({"hostProcess": false}),
            json!({"hostProcess": null}),
            json!({"hostProcess": "true"}),
            json!({"runAsUserName": "ContainerUser"}),
        ])
    };
    let handlers = || with_odd(handler_choices());
    vec![
        (&["name"], with_odd(vec![json!("app"), json!("sidecar")])),
        (
            &["image"],
            with_odd(vec![
                json!("nginx"),
                json!("nginx:latest"),
                json!("nginx:LATEST"),
                json!("nginx:1.27"),
                json!("nginx@sha256:0123abcd"),
                json!("nginx:latest@sha256:0123abcd"),
                json!("registry.local:5000/nginx"),
                json!("registry.local:5000/nginx:1.2"),
                json!("nginx:"),
                json!("nginx@"),
                json!(["nginx:1"]),
            ]),
        ),
        (&["securityContext"], odd_shapes()),
        (
            &["securityContext", "privileged"],
            with_odd(vec![json!(true), json!(false), json!("true")]),
        ),
        (&["securityContext", "capabilities"], odd_shapes()),
        (
            &["securityContext", "capabilities", "drop"],
            with_odd(vec![
                json!(["ALL"]),
                json!(["all"]),
                json!(["NET_RAW"]),
                json!(["NET_RAW", "ALL"]),
                json!([null]),
                json!("ALL"),
                json!({"ALL": true}),
            ]),
        ),
        (
            &["securityContext", "capabilities", "add"],
            with_odd(vec![
                json!(["NET_BIND_SERVICE"]),
                json!([
                    "AUDIT_WRITE",
                    "CHOWN",
                    "DAC_OVERRIDE",
                    "FOWNER",
                    "FSETID",
                    "KILL",
                    "MKNOD",
                    "NET_BIND_SERVICE",
                    "SETFCAP",
                    "SETGID",
                    "SETPCAP",
                    "SETUID",
                    "SYS_CHROOT"
                ]),
                json!(["NET_RAW"]),
                json!(["SYS_PTRACE", "BPF"]),
                json!(["chown"]),
                json!(["CHOWN"]),
                json!(["SYS_ADMIN"]),
                json!(["NET_ADMIN", "CHOWN"]),
                json!(["ALL"]),
                json!([null]),
                json!([1]),
                json!("SYS_ADMIN"),
            ]),
        ),
        (
            &["securityContext", "procMount"],
            with_odd(vec![json!("Default"), json!("Unmasked"), json!("default")]),
        ),
        (&["securityContext", "seLinuxOptions"], selinux()),
        (&["securityContext", "seccompProfile"], seccomp()),
        (&["securityContext", "appArmorProfile"], apparmor()),
        (&["securityContext", "windowsOptions"], windows()),
        (
            &["securityContext", "runAsNonRoot"],
            with_odd(vec![json!(true), json!(false), json!("true")]),
        ),
        (
            &["securityContext", "runAsUser"],
            with_odd(vec![
                json!(0),
                json!(1000),
                json!("0"),
                json!(-1),
                json!(0.0),
            ]),
        ),
        (
            &["securityContext", "allowPrivilegeEscalation"],
            with_odd(vec![json!(true), json!(false), json!("false")]),
        ),
        (
            &["ports"],
            with_odd(vec![
                json!([{"containerPort": 80}]),
                json!([{"containerPort": 80, "hostPort": 0}]),
                json!([{"containerPort": 80, "hostPort": 8080}]),
                json!([{"hostPort": null}]),
                json!([{"hostPort": "80"}]),
                json!([{"containerPort": 80}, {"containerPort": 81, "hostPort": 81}]),
                json!([null]),
                json!([{}]),
            ]),
        ),
        (
            &["resources"],
            with_odd(vec![
                json!({"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}),
                json!({"requests": {"cpu": "100m", "memory": "64Mi"}}),
                json!({"limits": {"cpu": "1", "memory": "128Mi"}}),
                json!({"requests": {"cpu": "", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}),
                json!({"requests": {"cpu": null, "memory": "64Mi"}, "limits": {"cpu": "1", "memory": null}}),
                json!({"requests": {"cpu": 1, "memory": 1}, "limits": {"cpu": 2, "memory": 2}}),
                json!({"requests": null, "limits": {"cpu": "1", "memory": "128Mi"}}),
                json!({"requests": "x", "limits": []}),
            ]),
        ),
        (&["readinessProbe"], handlers()),
        (&["livenessProbe"], handlers()),
        (&["startupProbe"], handlers()),
        (&["lifecycle", "postStart"], handlers()),
        (&["lifecycle", "preStop"], handlers()),
        (&["lifecycle"], odd_shapes()),
    ]
}

fn pod_fields() -> Vec<(&'static [&'static str], Vec<Choice>)> {
    let flag = || with_odd(vec![json!(true), json!(false), json!("true")]);
    let fields = container_fields();
    let from_container = |name: &[&str]| {
        fields
            .iter()
            .find(|(path, _)| *path == name)
            .map(|(_, choices)| choices.clone())
            .unwrap()
    };
    vec![
        (&["hostNetwork"], flag()),
        (&["hostPID"], flag()),
        (&["hostIPC"], flag()),
        (&["hostUsers"], flag()),
        (
            &["os"],
            with_odd(vec![
                json!({"name": "linux"}),
                json!({"name": "windows"}),
                json!({"name": null}),
                json!({"name": "Windows"}),
            ]),
        ),
        (&["securityContext"], odd_shapes()),
        (
            &["securityContext", "sysctls"],
            with_odd(vec![
                json!([{"name": "kernel.shm_rmid_forced", "value": "1"}]),
                json!([{"name": "net.ipv4.ip_local_port_range", "value": "1024 65000"}]),
                json!([{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]),
                json!([{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]),
                json!([
                    {"name": "kernel.shm_rmid_forced"}, {"name": "net.ipv4.ip_local_port_range"},
                    {"name": "net.ipv4.ip_unprivileged_port_start"}, {"name": "net.ipv4.tcp_syncookies"},
                    {"name": "net.ipv4.ping_group_range"}, {"name": "net.ipv4.ip_local_reserved_ports"},
                    {"name": "net.ipv4.tcp_keepalive_time"}, {"name": "net.ipv4.tcp_fin_timeout"},
                    {"name": "net.ipv4.tcp_keepalive_intvl"}, {"name": "net.ipv4.tcp_keepalive_probes"},
                    {"name": "net.ipv4.tcp_rmem"}, {"name": "net.ipv4.tcp_wmem"}
                ]),
                json!([{"name": "kernel.msgmax", "value": "65536"}]),
                json!([{"name": "net.core.somaxconn", "value": "1024"}]),
                json!([{"name": "kernel.shm_rmid_forced"}, {"name": "vm.swappiness", "value": "1"}]),
                json!([{"name": null}]),
                json!([{}]),
                json!(["kernel.msgmax"]),
                json!([null]),
            ]),
        ),
        (
            &["securityContext", "seLinuxOptions"],
            from_container(&["securityContext", "seLinuxOptions"]),
        ),
        (
            &["securityContext", "seccompProfile"],
            from_container(&["securityContext", "seccompProfile"]),
        ),
        (
            &["securityContext", "appArmorProfile"],
            from_container(&["securityContext", "appArmorProfile"]),
        ),
        (
            &["securityContext", "windowsOptions"],
            from_container(&["securityContext", "windowsOptions"]),
        ),
        (
            &["securityContext", "runAsNonRoot"],
            from_container(&["securityContext", "runAsNonRoot"]),
        ),
        (
            &["securityContext", "runAsUser"],
            from_container(&["securityContext", "runAsUser"]),
        ),
        (
            &["volumes"],
            with_odd(vec![
                json!([{"name": "scratch", "emptyDir": {}}]),
                json!([{"name": "config", "configMap": {"name": "c"}}, {"name": "s", "secret": {"secretName": "s"}}]),
                json!([{"name": "root", "hostPath": {"path": "/"}}]),
                json!([{"name": "root", "hostPath": {}}]),
                json!([{"name": "root", "hostPath": null}]),
                json!([{"hostPath": {"path": "/var/run"}}]),
                json!([{"name": 1, "hostPath": "x"}]),
                json!([{"name": "nfs", "nfs": {"server": "n", "path": "/"}}]),
                json!([{"name": "git", "gitRepo": {"repository": "r"}}]),
                json!([{"name": "disk", "iscsi": {"targetPortal": "t", "iqn": "i", "lun": 0}}]),
                json!([{"name": "cinder", "cinder": {"volumeID": "v"}}, {"name": "e", "emptyDir": null}]),
                json!([{"name": "pvc", "persistentVolumeClaim": null}]),
                json!([{"name": "p", "projected": {"sources": []}}, {"name": "c", "csi": {"driver": "d"}}]),
                json!([{"name": "e", "ephemeral": {}}, {"name": "d", "downwardAPI": {}}]),
                json!([{"name": "only-name"}]),
                json!([null]),
            ]),
        ),
        (
            &["containers"],
            with_odd(vec![json!([null]), json!([{}]), json!([{"name": "bare"}])]),
        ),
        (&["initContainers"], with_odd(vec![json!([{}])])),
        (&["ephemeralContainers"], with_odd(vec![json!([{}])])),
    ]
}

/// A container every rule at every level accepts.
fn compliant_container(name: &str) -> Value {
    json!({
        "name": name,
        "image": "registry.local/app:1.0",
        "ports": [{"containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "128Mi"}
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}
        }
    })
}

fn compliant_pod_spec() -> Value {
    json!({
        "containers": [compliant_container("app")],
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "scratch", "emptyDir": {}}]
    })
}

const POD_KINDS: [(&str, &str); 8] = [
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
    ("v1", "ReplicationController"),
];

/// The object of `kind` around a pod spec and pod metadata, where that kind keeps them.
fn pod_bearing(api_version: &str, kind: &str, name: &str, spec: Value, metadata: Value) -> Value {
    let template = json!({"metadata": metadata, "spec": spec});
    let spec = match kind {
        "Pod" => {
            return json!({"apiVersion": api_version, "kind": kind, "metadata": metadata_with(metadata, name), "spec": template["spec"]});
        }
        "CronJob" => {
            json!({"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        _ => json!({"selector": {"matchLabels": {"app": name}}, "template": template}),
    };
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": "apps"},
        "spec": spec,
    })
}

fn metadata_with(mut metadata: Value, name: &str) -> Value {
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["name"] = json!(name);
    metadata["namespace"] = json!("apps");
    metadata
}

/// Annotations of the pod: AppArmor's older form.
fn annotation_choices() -> Vec<Choice> {
    let key = "container.apparmor.security.beta.kubernetes.io/app";
    with_odd(vec![
        json!({key: "runtime/default"}),
        json!({key: "localhost/k8s-apparmor"}),
        json!({key: "unconfined"}),
        json!({key: ""}),
        json!({key: 1}),
        json!({key: null}),
        json!({"example.com/owner": "team"}),
    ])
}

/// The object's own namespace, which the namespace pack reads.
fn namespace_choices() -> Vec<Choice> {
    with_odd(vec![json!("apps"), json!("default"), json!("elsewhere")])
}

/// The cluster contexts objects are judged in: every Pod Security level, unset and
/// unknown levels, pinned standard versions, and the other packs' settings.
fn corpus_clusters() -> Vec<(String, Value)> {
    let mut clusters = vec![
        (
            "privileged".to_owned(),
            json!({"pod_security": "privileged"}),
        ),
        ("unset".to_owned(), json!({})),
        (
            "unknown-level".to_owned(),
            json!({"pod_security": "strict"}),
        ),
        (
            "public".to_owned(),
            json!({"pod_security": "restricted", "public_load_balancers": true, "external_namespaces": ["elsewhere"]}),
        ),
        (
            "odd-settings".to_owned(),
            json!({"pod_security": 1, "public_load_balancers": "true", "external_namespaces": "elsewhere", "pod_security_version": 1.35}),
        ),
        (
            "unknown-version".to_owned(),
            json!({"pod_security": "baseline", "pod_security_version": "1.35"}),
        ),
    ];
    for level in ["baseline", "restricted"] {
        clusters.push((level.to_owned(), json!({"pod_security": level})));
        for version in ["v1.33", "v1.34", "v1.35", "latest"] {
            clusters.push((
                format!("{level}-{version}"),
                json!({"pod_security": level, "pod_security_version": version}),
            ));
        }
    }
    clusters
}

/// Which clusters an object goes to: mostly those where the Pod Security rules apply.
fn pick_cluster(rng: &mut Rng, clusters: &[(String, Value)]) -> String {
    let weighted = ["baseline", "restricted"];
    if rng.below(10) < 6 {
        let level = rng.pick(&weighted);
        let versions: Vec<&String> = clusters
            .iter()
            .map(|(name, _)| name)
            .filter(|name| name.starts_with(level))
            .collect();
        return rng.pick(&versions).to_string();
    }
    rng.pick(clusters).0.clone()
}

/// Where a changed field is: in the pod spec, or in a container of one of the three lists.
#[derive(Clone, Copy)]
enum Field {
    Pod(&'static [&'static str]),
    Container(&'static [&'static str]),
}

/// Fields whose rules read them together: the pod's setting and the container's override,
/// user namespaces and `procMount` (Kubernetes 1.35), Windows pods and the Linux-only
/// controls, capabilities dropped and added. One change at a time rarely meets the other.
const INTERACTING: [(Field, Field); 10] = [
    (
        Field::Pod(&["hostUsers"]),
        Field::Container(&["securityContext", "procMount"]),
    ),
    (
        Field::Pod(&["os"]),
        Field::Container(&["securityContext", "allowPrivilegeEscalation"]),
    ),
    (
        Field::Pod(&["os"]),
        Field::Container(&["securityContext", "seccompProfile"]),
    ),
    (
        Field::Pod(&["os"]),
        Field::Container(&["securityContext", "capabilities", "drop"]),
    ),
    (
        Field::Pod(&["securityContext", "runAsNonRoot"]),
        Field::Container(&["securityContext", "runAsNonRoot"]),
    ),
    (
        Field::Pod(&["securityContext", "runAsUser"]),
        Field::Container(&["securityContext", "runAsUser"]),
    ),
    (
        Field::Pod(&["securityContext", "seccompProfile"]),
        Field::Container(&["securityContext", "seccompProfile"]),
    ),
    (
        Field::Pod(&["securityContext", "windowsOptions"]),
        Field::Container(&["securityContext", "windowsOptions"]),
    ),
    (
        Field::Pod(&["securityContext", "appArmorProfile"]),
        Field::Container(&["securityContext", "appArmorProfile"]),
    ),
    (
        Field::Container(&["securityContext", "capabilities", "drop"]),
        Field::Container(&["securityContext", "capabilities", "add"]),
    ),
];

/// Sets `field` of `spec` to one of its choices (in a container of a list picked at random,
/// which is created if missing), and notes the change.
fn change_field(
    rng: &mut Rng,
    spec: &mut Value,
    field: Field,
    catalogue: &[(&'static [&'static str], Vec<Choice>)],
    changes: &mut Vec<String>,
) {
    let path = match field {
        Field::Pod(path) | Field::Container(path) => path,
    };
    let choices = &catalogue
        .iter()
        .find(|(known, _)| *known == path)
        .unwrap_or_else(|| panic!("no choices for {path:?}"))
        .1;
    let choice = rng.pick(choices);
    match field {
        Field::Pod(_) => {
            set_path(spec, path, choice);
            changes.push(format!("spec.{}={}", path.join("."), shown(choice)));
        }
        Field::Container(_) => {
            let list = *rng.pick(&[
                "containers",
                "containers",
                "initContainers",
                "ephemeralContainers",
            ]);
            if !spec.is_object() {
                *spec = compliant_pod_spec();
            }
            if !spec[list].is_array() || spec[list].as_array().unwrap().is_empty() {
                spec[list] = json!([compliant_container(&format!("{list}-0"))]);
            }
            let items = spec[list].as_array_mut().unwrap();
            if items.len() < 2 && rng.below(4) == 0 {
                items.push(compliant_container(&format!("{list}-1")));
            }
            let at = rng.below(items.len());
            set_path(&mut items[at], path, choice);
            changes.push(format!("{list}[{at}].{}={}", path.join("."), shown(choice)));
        }
    }
}

/// A pod-bearing object: a compliant workload with one to three fields changed (a
/// container field in any of the three lists, a pod field, the pod's annotations or the
/// object's namespace), a quarter of them with a pair of interacting fields changed first,
/// and a line saying what changed.
fn pod_item(rng: &mut Rng, number: usize) -> (Value, String) {
    let (api_version, kind) = *rng.pick(&POD_KINDS);
    let mut spec = compliant_pod_spec();
    let mut annotations: Choice = None;
    let mut namespace: Option<Choice> = None;
    let mut changes = Vec::new();
    let container = container_fields();
    let pod = pod_fields();
    let catalogue_of = |field: Field| match field {
        Field::Pod(_) => &pod,
        Field::Container(_) => &container,
    };
    if rng.below(4) == 0 {
        let (first, second) = *rng.pick(&INTERACTING);
        change_field(rng, &mut spec, first, catalogue_of(first), &mut changes);
        change_field(rng, &mut spec, second, catalogue_of(second), &mut changes);
    }
    for _ in 0..1 + rng.below(3) {
        match rng.below(10) {
            0..=5 => {
                let path = rng.pick(&container).0;
                change_field(
                    rng,
                    &mut spec,
                    Field::Container(path),
                    &container,
                    &mut changes,
                );
            }
            6..=8 => {
                let path = rng.pick(&pod).0;
                change_field(rng, &mut spec, Field::Pod(path), &pod, &mut changes);
            }
            _ if rng.below(2) == 0 => {
                let choices = annotation_choices();
                let choice = rng.pick(&choices).clone();
                changes.push(format!("pod annotations={}", shown(&choice)));
                annotations = choice;
            }
            _ => {
                let choices = namespace_choices();
                let choice = rng.pick(&choices).clone();
                changes.push(format!("metadata.namespace={}", shown(&choice)));
                namespace = Some(choice);
            }
        }
    }
    let mut metadata = json!({"labels": {"app": "app"}});
    if let Some(annotations) = annotations {
        metadata["annotations"] = annotations;
    }
    let name = format!("w{number}");
    let mut object = pod_bearing(api_version, kind, &name, spec, metadata);
    if let Some(choice) = namespace {
        set_path(&mut object, &["metadata", "namespace"], &choice);
    }
    (object, format!("{kind}: {}", changes.join(", ")))
}

fn shown(choice: &Choice) -> String {
    match choice {
        None => "<absent>".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// The objects the other packs read: Services (load balancers and their annotations),
/// Ingresses (TLS), Secrets (plaintext values), Namespaces, and objects of every scope with
/// and without a namespace.
fn other_item(rng: &mut Rng, number: usize) -> (Value, String) {
    let name = format!("o{number}");
    let lb_annotation = [
        json!({"networking.gke.io/load-balancer-type": "Internal"}),
        json!({"cloud.google.com/load-balancer-type": "Internal"}),
        json!({"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}),
        json!({"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}),
        json!({"service.beta.kubernetes.io/azure-load-balancer-internal": "true"}),
        json!({"service.beta.kubernetes.io/aws-load-balancer-internal": "false"}),
        json!({"networking.gke.io/load-balancer-type": "internal"}),
        json!({}),
        json!(null),
    ];
    let object = match rng.below(6) {
        0 => {
            let service_type = rng
                .pick(&[
                    json!("LoadBalancer"),
                    json!("LoadBalancer"),
                    json!("LoadBalancer"),
                    json!("ClusterIP"),
                    json!("NodePort"),
                    json!(null),
                    json!(1),
                ])
                .clone();
            let mut service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "apps"}, "spec": {"type": service_type, "ports": [{"port": 80}]}});
            if rng.below(3) != 0 {
                service["metadata"]["annotations"] = rng.pick(&lb_annotation).clone();
            }
            service
        }
        1 => {
            let api = rng.pick(&[
                "networking.k8s.io/v1",
                "extensions/v1beta1",
                "example.com/v1",
            ]);
            let hosts = [
                json!("shop.example.com"),
                json!("a.b.example.com"),
                json!(""),
                json!(null),
                json!(1),
            ];
            let host = rng.pick(&hosts).clone();
            let tls = rng
                .pick(&[
                    json!(null),
                    json!([]),
                    json!([{"hosts": ["shop.example.com"], "secretName": "tls"}]),
                    json!([{"hosts": ["*.example.com"]}]),
                    json!([{"hosts": ["*.b.example.com", "other.example.com"]}]),
                    json!([{"secretName": "tls"}]),
                    json!([{"hosts": "shop.example.com"}]),
                    json!(["x"]),
                    json!({"hosts": ["shop.example.com"]}),
                ])
                .clone();
            let mut ingress = json!({"apiVersion": api, "kind": "Ingress", "metadata": {"name": name, "namespace": "apps"}, "spec": {"rules": [{"host": host}]}});
            if !tls.is_null() || rng.below(2) == 0 {
                ingress["spec"]["tls"] = tls;
            }
            ingress
        }
        2 => {
            let data = rng
                .pick(&[
                    json!(null),
                    json!({}),
                    json!({"password": "c2VjcmV0"}),
                    json!({"b": "eA==", "a": "eQ=="}),
                    json!("x"),
                ])
                .clone();
            let field = rng.pick(&["data", "stringData"]);
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "apps"}, field.to_string(): data})
        }
        3 => {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": rng.pick(&["apps", "extra"])}})
        }
        4 => {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name, "namespace": "apps"}})
        }
        _ => json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}}),
    };
    let mut object = object;
    if rng.below(4) == 0 {
        let choices = namespace_choices();
        let choice = rng.pick(&choices).clone();
        set_path(&mut object, &["metadata", "namespace"], &choice);
    }
    let about = format!(
        "{}: {}",
        object["kind"].as_str().unwrap(),
        object["metadata"]
    );
    (object, about)
}

/// Where a kind lives in the generated clusters: cluster-scoped, namespaced, or unknown to
/// the schemas (a custom resource without its CRD).
fn corpus_scope(id: &ObjectId) -> Option<bool> {
    match id.kind.as_str() {
        "Namespace" | "ClusterRole" => Some(false),
        "Widget" => None,
        _ => Some(true),
    }
}

const POD_OBJECTS: usize = 6000;
const OTHER_OBJECTS: usize = 600;

fn generated_corpus() -> Vec<Item> {
    let mut rng = Rng(0x0000_5eed_0a12);
    let clusters = corpus_clusters();
    let mut items = Vec::new();
    for number in 0..POD_OBJECTS + OTHER_OBJECTS {
        let (value, about) = if number < POD_OBJECTS {
            pod_item(&mut rng, number)
        } else {
            other_item(&mut rng, number)
        };
        let cluster = pick_cluster(&mut rng, &clusters);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let id = ObjectId {
            cluster: cluster.clone(),
            entry: PathBuf::from(format!("clusters/{cluster}/corpus.jsonnet")),
            item: Some(format!("item{number}")),
            api_version: text(&value["apiVersion"]),
            kind: text(&value["kind"]),
            namespace: value["metadata"]["namespace"].as_str().map(str::to_owned),
            name: text(&value["metadata"]["name"]),
        };
        items.push(Item {
            file: PathBuf::from(format!("generated/{cluster}/corpus/{number}.json")),
            cluster,
            id,
            value: value.into(),
            about,
        });
    }
    items
}

/// Our packs on the generated corpus, every object in the cluster it was assigned to.
#[test]
fn generated_corpus_verdicts_equal_opas() {
    if !opa_available() {
        return;
    }
    let packs = packs_without_waivers();
    let root = packs.path();
    let items = generated_corpus();
    let pod_kinds: BTreeSet<&str> = items.iter().map(|i| i.id.kind.as_str()).collect();
    for (_, kind) in POD_KINDS {
        assert!(pod_kinds.contains(kind), "the corpus has no {kind}");
    }
    let targets = targets(&items);
    let mut contexts: HashMap<Option<String>, ClusterContext> = corpus_clusters()
        .into_iter()
        .map(|(name, policy)| {
            let context = ClusterContext {
                name: name.clone(),
                policy,
                namespaces: BTreeSet::new(),
            };
            (Some(name), context)
        })
        .collect();
    for (cluster, names) in policy::namespaces_by_cluster(&targets) {
        contexts.get_mut(&cluster).unwrap().namespaces = names;
    }
    let settings = pack_settings(root);
    let scope = |_: Option<&str>, id: &ObjectId| corpus_scope(id);
    let about = |i: usize| items[i].about.clone();
    let found = compare(
        root,
        &settings,
        &targets,
        &about,
        &contexts,
        &scope,
        &|stage| {
            let input = policyrun::policy::Input {
                targets: &targets,
                documents: &[],
                contexts: &contexts,
                namespaced: &scope,
                share: &RunShare::whole(),
                memory: None,
                every_object: true,
            };
            policyrun::model::outcome::every_pass(stage.run(input).outcomes)
        },
    );
    assert_no_differences("generated corpus", found.compared, &found.differences);
    // Equal verdicts prove little about a rule the corpus never breaks: every rule must
    // find violations (and pass objects), or the generator needs the fields it reads.
    let never: Vec<&String> = found
        .opa_failures
        .iter()
        .filter(|(_, failed)| **failed == 0 || **failed == targets.len())
        .map(|(check, _)| check)
        .collect();
    assert!(
        never.is_empty(),
        "the generated corpus never fails (or always fails) these rules in OPA; \
         extend the generator with the fields they read: {never:?}\nper rule: {:?}",
        found.opa_failures
    );
    eprintln!("objects failing each rule in OPA: {:?}", found.opa_failures);
}

// ---- the bundled modules and their tests -------------------------------------------------

/// Every module under policies/, tests included, compiles in OPA; every `test_*` rule is true
/// in OPA and passes in `policyrun verify`, and both find the same tests.
#[test]
fn bundled_modules_compile_and_their_tests_pass_in_opa() {
    if !opa_available() {
        return;
    }
    let root = manifest_dir();
    let modules = rego_modules(&root, &[root.join("policies")], true);
    assert!(modules.keys().any(|m| m.ends_with("_test.rego")));
    let answer = opa_reference("test", &json!({"modules": modules}));
    assert!(
        answer["compile_error"].is_null(),
        "OPA refuses the bundled modules: {}",
        answer["compile_error"].as_str().unwrap_or_default()
    );
    let opa_tests = answer["tests"].as_object().unwrap();
    let failing: Vec<_> = opa_tests
        .iter()
        .filter(|(_, status)| *status != "pass")
        .map(|(name, status)| format!("{name}: {status}"))
        .collect();
    assert!(
        failing.is_empty(),
        "tests not true in OPA:\n{}",
        failing.join("\n")
    );

    let run = policyrun(
        &root,
        &["verify", "--policy", "policies", "--output", "json"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let verified: BTreeSet<String> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["check"] == "test" && o["status"] == "passed")
        .map(|o| o["subject"].as_str().unwrap().to_owned())
        .collect();
    let in_opa: BTreeSet<String> = opa_tests.keys().cloned().collect();
    assert_eq!(
        verified, in_opa,
        "`policyrun verify` and OPA do not run the same tests"
    );
}

/// The driver itself: one rule's error does not hide another rule's verdict, messages come
/// sorted from strings and `{"msg": ...}` objects, an undefined rule passes, a value that
/// is no set of messages is an error, the context reaches `data.policyrun`, and a module
/// OPA refuses is reported as such for every rule.
#[test]
fn opa_reference_reports_each_rules_own_verdict() {
    if !opa_available() {
        return;
    }
    let module = r#"package probe
import rego.v1
deny_kind contains msg if {
    msg := sprintf("kind %s in %s", [input.kind, data.policyrun.cluster.name])
}
deny_objects contains {"msg": "b"} if input.kind == "Pod"
deny_objects contains "a" if input.kind == "Pod"
deny_broken contains msg if {
    msg := sprintf("%d", [1 / input.zero])
}
deny_undefined := input.missing
deny_shape := 3
deny_threshold contains "over" if data.limits.max < input.size
"#;
    let job = json!({
        "modules": {"probe.rego": module},
        "data": {"limits": {"max": 2}},
        "cases": [{
            "object": {"kind": "Pod", "zero": 0, "size": 3},
            "policyrun": {"cluster": {"name": "dev"}},
            "rules": ["probe.deny_kind", "probe.deny_objects", "probe.deny_broken",
                      "probe.deny_undefined", "probe.deny_shape", "probe.deny_threshold"],
        }],
    });
    let answer = opa_reference("eval", &job);
    assert!(answer["compile_error"].is_null(), "{answer}");
    let case = &answer["cases"][0];
    assert_eq!(
        case["probe.deny_kind"],
        json!({"messages": ["kind Pod in dev"]})
    );
    assert_eq!(case["probe.deny_objects"], json!({"messages": ["a", "b"]}));
    assert!(
        case["probe.deny_broken"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("divide by zero")),
        "{case}"
    );
    assert_eq!(case["probe.deny_undefined"], json!({"messages": []}));
    assert!(case["probe.deny_shape"]["error"].is_string(), "{case}");
    assert_eq!(case["probe.deny_threshold"], json!({"messages": ["over"]}));

    let unsafe_module = "package probe\nimport rego.v1\ndeny contains \"x\" if {\n  c := input.containers[_]\n  not c.drop[_] == \"ALL\"\n}\n";
    let job = json!({
        "modules": {"probe.rego": unsafe_module},
        "cases": [{"object": {}, "policyrun": {}, "rules": ["probe.deny"]}],
    });
    let answer = opa_reference("eval", &job);
    let refused = answer["compile_error"].as_str().unwrap_or_default();
    assert!(refused.contains("rego_unsafe_var_error"), "{answer}");
    assert!(
        answer["cases"][0]["probe.deny"]["error"].is_string(),
        "{answer}"
    );

    // Test mode: a test that is not true is named, and the run says so.
    let tests = "package probe_test\nimport rego.v1\ntest_true if true\ntest_false if false\ntest_undefined if input.x\n";
    let answer = opa_reference("test", &json!({"modules": {"probe_test.rego": tests}}));
    assert_eq!(
        answer["tests"],
        json!({"probe_test.test_true": "pass", "probe_test.test_false": "fail", "probe_test.test_undefined": "fail"})
    );
}

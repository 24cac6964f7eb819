//! Gatekeeper's ConstraintTemplates and constraints evaluated before merge the way the
//! admission controller evaluates them: the template's Rego sees `input.review.object`,
//! `input.parameters` and `data.inventory` (the cluster's expanded objects), and only
//! objects the constraint's `match` selects are judged.
//!
//! A namespaced object without `metadata.namespace` is judged as the object the API server
//! will create: one in the `default` namespace (`kubectl apply` without `-n` targets it, and
//! the server fills in the request's namespace before admission). So `match` selects it as
//! an object of `default`, the template's review has `namespace` and
//! `object.metadata.namespace` set to `default`, and the inventory lists it there.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use regorus::{Engine, Value};
use serde_json::{Value as Json, json};

use super::evaluate::budget::{self, ObjectBudget};
use super::evaluate::builtins;
use super::evaluate::results::{self, RuleResult};
use super::load;
use super::outcomes::{self, load_outcome, policy_outcome};
use super::rego::modules::missing_functions;
use super::rego::opa;
use super::rego::problem::{self, Problem};
use super::rego::safety;
use crate::model::object::Target;
use crate::model::outcome::{ObjectId, Outcome, Status};

/// Where the API server creates a namespaced object that names no namespace.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The label the API server puts on every Namespace (its name), which Gatekeeper's
/// `namespaceSelector` sees like any other.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

const TEMPLATE_GROUP: &str = "templates.gatekeeper.sh/";
const CONSTRAINT_GROUP: &str = "constraints.gatekeeper.sh/";

/// A ConstraintTemplate compiled into an engine (not yet given an inventory).
#[derive(Clone)]
struct Template {
    kind: String,
    engine: Engine,
    /// `data.<package>.violation`.
    violation: String,
}

/// How a constraint's violations count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enforcement {
    Deny,
    Warn,
    DryRun,
}

#[derive(Debug, Clone)]
struct Constraint {
    kind: String,
    name: String,
    template: usize,
    enforcement: Enforcement,
    selector: Match,
    parameters: Json,
}

/// A constraint's `spec.match`.
#[derive(Debug, Clone, Default)]
struct Match {
    /// (apiGroups, kinds) pairs; empty matches every kind.
    kinds: Vec<(Vec<String>, Vec<String>)>,
    namespaces: Option<Vec<String>>,
    excluded_namespaces: Vec<String>,
    label_selector: Option<Json>,
    namespace_selector: Option<Json>,
    scope: String,
    name: Option<String>,
}

/// The templates and constraints read from the configured Gatekeeper paths.
#[derive(Clone, Default)]
pub(crate) struct Constraints {
    templates: Vec<Template>,
    constraints: Vec<Constraint>,
}

/// Per rayon worker: its clones of the (template, cluster) engines.
pub(crate) type WorkerEngines = HashMap<(usize, Option<String>), Engine>;

impl Constraints {
    /// No constraint judges anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// Reads every ConstraintTemplate and constraint below `paths` (YAML or JSON). Any other
    /// object there, a template that does not compile, or a constraint without a template
    /// fails the run.
    pub(crate) fn read(root: &Path, paths: &[PathBuf]) -> Result<Constraints, Vec<Outcome>> {
        let mut problems: Vec<Problem> = Vec::new();
        let mut templates = Vec::new();
        let mut raw_constraints = Vec::new();
        for path in paths {
            let files = match crate::model::manifests::files(path) {
                Ok(files) => files,
                Err(message) => {
                    problems.push(problem(root, path, None, message));
                    continue;
                }
            };
            for file in files {
                let items = match crate::model::manifests::read(&file) {
                    Ok(items) => items,
                    Err(message) => {
                        problems.push(problem(root, &file, None, message));
                        continue;
                    }
                };
                for item in items {
                    let value = match item.value {
                        Ok(value) => value,
                        Err(message) => {
                            problems.push(problem(root, &file, Some(item.line), message));
                            continue;
                        }
                    };
                    let api_version = value["apiVersion"].as_str().unwrap_or("");
                    let kind = value["kind"].as_str().unwrap_or("");
                    if api_version.starts_with(TEMPLATE_GROUP) && kind == "ConstraintTemplate" {
                        match template(root, &file, item.line, &value) {
                            Ok(t) => templates.push(t),
                            Err(mut found) => problems.append(&mut found),
                        }
                    } else if api_version.starts_with(CONSTRAINT_GROUP) {
                        raw_constraints.push((file.clone(), item.line, value));
                    } else {
                        problems.push(problem(
                            root,
                            &file,
                            Some(item.line),
                            format!(
                                "`{api_version}` `{kind}` is neither a Gatekeeper ConstraintTemplate nor a constraint"
                            ),
                        ));
                    }
                }
            }
        }
        let mut constraints = Vec::new();
        for (file, line, value) in raw_constraints {
            match constraint(&templates, &value) {
                Ok(c) => constraints.push(c),
                Err(message) => problems.push(problem(root, &file, Some(line), message)),
            }
        }
        if problems.is_empty() {
            Ok(Constraints {
                templates,
                constraints,
            })
        } else {
            Err(problems.into_iter().map(load_outcome).collect())
        }
    }

    /// Gives every template each cluster's inventory, once, before the parallel part.
    /// `namespaced` tells a kind's scope (as for [`Prepared::evaluate`]).
    pub(crate) fn prepare<'a>(
        &'a self,
        targets: &[Target],
        namespaced: &(dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
        object_budget: std::time::Duration,
    ) -> Result<Prepared<'a>, Vec<Outcome>> {
        let mut prepared = Prepared {
            constraints: &self.constraints,
            engines: HashMap::new(),
            namespace_labels: HashMap::new(),
            violations: self.templates.iter().map(|t| t.violation.clone()).collect(),
        };
        if self.constraints.is_empty() {
            return Ok(prepared);
        }
        let mut inventories: BTreeMap<Option<&str>, Json> = BTreeMap::new();
        for target in targets {
            let inventory = inventories
                .entry(target.cluster)
                .or_insert_with(|| json!({"cluster": {}, "namespace": {}}));
            let id = target.id;
            let landing = Landing::of(target, namespaced);
            let slot = match landing.namespace {
                Some(ns) if !is_namespace(id) => &mut inventory["namespace"][ns],
                _ => &mut inventory["cluster"],
            };
            slot[id.api_version.as_str()][id.kind.as_str()][id.name.as_str()] =
                landing.object(target.value()).into_owned();
            if is_namespace(id) {
                prepared.namespace_labels.insert(
                    (target.cluster.map(str::to_owned), id.name.clone()),
                    namespace_labels(&id.name, target.value().pointer("/metadata/labels")),
                );
            }
        }
        let used: std::collections::BTreeSet<usize> =
            self.constraints.iter().map(|c| c.template).collect();
        for (cluster, inventory) in inventories {
            for &t in &used {
                let mut engine = self.templates[t].engine.clone();
                engine
                    .add_data(Value::from(json!({ "inventory": inventory })))
                    .map_err(|e| {
                        vec![load_outcome(Problem {
                            file: PathBuf::from(&self.templates[t].kind),
                            line: None,
                            column: None,
                            message: format!("cannot add the inventory to data: {e}"),
                            detail: None,
                        })]
                    })?;
                engine.set_input(Value::new_object());
                // The warm-up may run away as an object's evaluation can.
                engine.set_execution_timer_config(budget::timer(object_budget));
                let _ = engine.eval_query(self.templates[t].violation.clone(), false);
                let _ = engine.take_prints();
                prepared
                    .engines
                    .insert((t, cluster.map(str::to_owned)), engine);
            }
        }
        Ok(prepared)
    }
}

/// Constraints with engines that know each cluster's inventory.
pub(crate) struct Prepared<'a> {
    constraints: &'a [Constraint],
    engines: HashMap<(usize, Option<String>), Engine>,
    /// Labels of every Namespace object, by (cluster, name), for `namespaceSelector`, with
    /// the label the API server adds.
    namespace_labels: HashMap<(Option<String>, String), Json>,
    violations: Vec<String>,
}

impl Prepared<'_> {
    /// Whether there is no constraint to evaluate: nothing to do, nothing to announce.
    pub(crate) fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }

    /// One outcome per constraint that selects the object: passed, or its violations.
    pub(crate) fn evaluate(
        &self,
        workers: &mut WorkerEngines,
        target: &Target,
        namespaced: &(dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
        budget: &ObjectBudget,
    ) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        let landing = Landing::of(target, namespaced);
        for constraint in self.constraints {
            if !self.selects(constraint, target, &landing) {
                continue;
            }
            let key = (constraint.template, target.cluster.map(str::to_owned));
            let engine = match workers.entry(key.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => match self.engines.get(&key) {
                    Some(engine) => e.insert(engine.clone()),
                    None => continue,
                },
            };
            let check = format!("{}/{}", constraint.kind, constraint.name);
            let (group, version) = match target.id.api_version.rsplit_once('/') {
                Some((g, v)) => (g, v),
                None => ("", target.id.api_version.as_str()),
            };
            let input = json!({
                "review": {
                    "kind": {"group": group, "version": version, "kind": target.id.kind},
                    "name": target.id.name,
                    "namespace": landing.review_namespace(target.id),
                    "operation": "CREATE",
                    "object": landing.object(target.value()),
                },
                "parameters": constraint.parameters,
            });
            engine.set_input(Value::from(input));
            let base = policy_outcome(target, &check, Status::Passed);
            let over_budget = || {
                Outcome {
                    status: Status::Error,
                    ..base.clone()
                }
                .message(budget.message(&format!("constraint {check}")))
            };
            let Some(timer) = budget.timer() else {
                outcomes.push(over_budget());
                continue;
            };
            engine.set_execution_timer_config(timer);
            let result = engine.eval_query(self.violations[constraint.template].clone(), false);
            let prints = engine.take_prints().unwrap_or_default();
            let result = result.map_err(|e| e.to_string()).and_then(|r| {
                let value = r
                    .result
                    .first()
                    .and_then(|r| r.expressions.first())
                    .map(|e| serde_json::to_value(&e.value))
                    .transpose()
                    .map_err(|e| e.to_string())?;
                results::verdict("violation", value.as_ref())
            });
            let outcome = match result {
                Ok(RuleResult::Clean) => base,
                Ok(RuleResult::Messages(messages)) => {
                    let status = match constraint.enforcement {
                        Enforcement::Deny => Status::Failed,
                        Enforcement::Warn | Enforcement::DryRun => Status::Warning,
                    };
                    let note = if constraint.enforcement == Enforcement::DryRun {
                        " (enforcementAction: dryrun)"
                    } else {
                        ""
                    };
                    let line = format!("{check}{note}: {}", messages.join("; "));
                    // Each violation on its own, as gator lists them; the line names the
                    // constraint.
                    let mut outcome = Outcome { status, ..base }.messages(messages);
                    outcome.message = line;
                    outcome
                }
                Err(_) if budget.is_spent() => over_budget(),
                Err(text) => {
                    let (message, _) = problem::engine_error(&text);
                    Outcome {
                        status: Status::Error,
                        ..base
                    }
                    .message(format!("template {} failed: {message}", constraint.kind))
                    .detail(text)
                }
            };
            outcomes.push(outcomes::with_prints(
                outcome,
                &prints.iter().collect::<Vec<_>>(),
            ));
        }
        outcomes
    }

    /// Gatekeeper's `match`: kinds, scope, namespaces, excludedNamespaces, name,
    /// labelSelector and namespaceSelector, all of which must hold.
    fn selects(&self, constraint: &Constraint, target: &Target, landing: &Landing) -> bool {
        let m = &constraint.selector;
        let id = target.id;
        let group = id.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        if !m.kinds.is_empty()
            && !m.kinds.iter().any(|(groups, kinds)| {
                (groups.is_empty() || groups.iter().any(|g| g == "*" || g == group))
                    && (kinds.is_empty() || kinds.iter().any(|k| k == "*" || *k == id.kind))
            })
        {
            return false;
        }
        match m.scope.as_str() {
            "Cluster" if landing.is_namespaced => return false,
            "Namespaced" if !landing.is_namespaced => return false,
            _ => {}
        }
        let namespace = landing.namespace;
        // A cluster-scoped object (other than a Namespace) has no namespace to disqualify it:
        // Gatekeeper lets it through `namespaces` and `namespaceSelector`, as through
        // `excludedNamespaces`.
        if let (Some(wanted), Some(ns)) = (&m.namespaces, namespace)
            && !wanted.iter().any(|w| wildcard_matches(w, ns))
        {
            return false;
        }
        if let Some(ns) = namespace
            && m.excluded_namespaces
                .iter()
                .any(|w| wildcard_matches(w, ns))
        {
            return false;
        }
        if let Some(name) = &m.name
            && !wildcard_matches(name, &id.name)
        {
            return false;
        }
        if let Some(selector) = &m.label_selector
            && !label_selector_matches(selector, target.value().pointer("/metadata/labels"))
        {
            return false;
        }
        if let (Some(selector), Some(ns)) = (&m.namespace_selector, namespace) {
            let labels = self
                .namespace_labels
                .get(&(target.cluster.map(str::to_owned), ns.to_owned()));
            // `default` exists in every cluster: when the tree does not declare it, its
            // labels are those the API server gives it. Any other namespace the tree does
            // not create is unknown, and selects nothing.
            let fallback;
            let labels = match labels {
                Some(labels) => labels,
                None if ns == DEFAULT_NAMESPACE => {
                    fallback = namespace_labels(ns, None);
                    &fallback
                }
                None => return false,
            };
            if !label_selector_matches(selector, Some(labels)) {
                return false;
            }
        }
        true
    }
}

/// Where an object lands in its cluster, as Gatekeeper's match and review see it.
struct Landing<'t> {
    /// From the cluster's schemas and CRDs; an unknown kind counts as namespaced when it
    /// names a namespace.
    is_namespaced: bool,
    /// The namespace the object belongs to: a Namespace's own name, `metadata.namespace`,
    /// or `default` for a namespaced object that names none; `None` for cluster-scoped ones.
    namespace: Option<&'t str>,
    /// The namespace is `default` only because the object names none.
    defaulted: bool,
}

impl<'t> Landing<'t> {
    fn of(
        target: &Target<'t>,
        namespaced: &(dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
    ) -> Landing<'t> {
        let id = target.id;
        let is_namespaced = namespaced(target.cluster, id).unwrap_or(id.namespace.is_some());
        let (namespace, defaulted) = if is_namespace(id) {
            // Gatekeeper treats a Namespace as belonging to itself.
            (Some(id.name.as_str()), false)
        } else {
            match id.namespace.as_deref() {
                Some(ns) => (Some(ns), false),
                None if is_namespaced => (Some(DEFAULT_NAMESPACE), true),
                None => (None, false),
            }
        };
        Landing {
            is_namespaced,
            namespace,
            defaulted,
        }
    }

    /// `review.namespace`: the namespace of the request, empty for cluster-scoped objects
    /// (and for a Namespace, whose creation request names none).
    fn review_namespace(&self, id: &ObjectId) -> &'t str {
        match self.namespace {
            Some(ns) if !is_namespace(id) => ns,
            _ => "",
        }
    }

    /// The object as admission sees it: with `metadata.namespace` filled in where the
    /// namespace was defaulted.
    fn object<'v>(&self, value: &'v Json) -> std::borrow::Cow<'v, Json> {
        match self.namespace {
            Some(ns) if self.defaulted => {
                let mut object = value.clone();
                if let Some(fields) = object.as_object_mut() {
                    let metadata = fields.entry("metadata").or_insert_with(|| json!({}));
                    if let Some(metadata) = metadata.as_object_mut() {
                        metadata.insert("namespace".to_owned(), json!(ns));
                    }
                }
                std::borrow::Cow::Owned(object)
            }
            _ => std::borrow::Cow::Borrowed(value),
        }
    }
}

fn is_namespace(id: &ObjectId) -> bool {
    id.kind == "Namespace" && id.api_version == "v1"
}

/// A Namespace's labels as the cluster has them: those of its object (if any), and the
/// API server's own label with its name, which no object can change.
fn namespace_labels(name: &str, declared: Option<&Json>) -> Json {
    let mut labels = declared
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    labels.insert(NAMESPACE_NAME_LABEL.to_owned(), json!(name));
    Json::Object(labels)
}

/// Gatekeeper's name patterns: exact, or a glob with `*` at its end (a prefix: `kube-*`), at its
/// start (a suffix: `*-system`) or at both (a part: `*-test-*`).
fn wildcard_matches(pattern: &str, value: &str) -> bool {
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => value.contains(rest.strip_suffix('*').unwrap_or(rest)),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

/// A Kubernetes label selector (`matchLabels`, `matchExpressions` with In, NotIn, Exists,
/// DoesNotExist) against an object's labels.
fn label_selector_matches(selector: &Json, labels: Option<&Json>) -> bool {
    let get = |key: &str| labels.and_then(|l| l.get(key)).and_then(Json::as_str);
    if let Some(wanted) = selector.get("matchLabels").and_then(Json::as_object) {
        for (key, value) in wanted {
            if get(key) != value.as_str() {
                return false;
            }
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Json::as_array) {
        for expression in expressions {
            let key = expression["key"].as_str().unwrap_or("");
            let values: Vec<&str> = expression["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let actual = get(key);
            let holds = match expression["operator"].as_str().unwrap_or("") {
                "In" => actual.is_some_and(|a| values.contains(&a)),
                "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            };
            if !holds {
                return false;
            }
        }
    }
    true
}

fn problem(root: &Path, file: &Path, line: Option<usize>, message: String) -> Problem {
    Problem {
        file: load::relative(root, file),
        line,
        column: None,
        message,
        detail: None,
    }
}

/// Compiles a ConstraintTemplate's admission target: its `rego` (or `code` with engine
/// Rego) and `libs`, in the syntax each parses as.
fn template(root: &Path, file: &Path, line: usize, value: &Json) -> Result<Template, Vec<Problem>> {
    let fail = |message: String| vec![problem(root, file, Some(line), message)];
    let kind = value
        .pointer("/spec/crd/spec/names/kind")
        .and_then(Json::as_str)
        .ok_or_else(|| fail("ConstraintTemplate without spec.crd.spec.names.kind".into()))?
        .to_owned();
    let targets = value
        .pointer("/spec/targets")
        .and_then(Json::as_array)
        .ok_or_else(|| fail(format!("ConstraintTemplate {kind}: no spec.targets")))?;
    let admission = targets
        .iter()
        .find(|t| t["target"] == "admission.k8s.gatekeeper.sh")
        .ok_or_else(|| {
            fail(format!(
                "ConstraintTemplate {kind}: no target admission.k8s.gatekeeper.sh"
            ))
        })?;
    let (rego, libs) = if let Some(rego) = admission["rego"].as_str() {
        (rego.to_owned(), admission["libs"].clone())
    } else if let Some(code) = admission["code"]
        .as_array()
        .and_then(|code| code.iter().find(|c| c["engine"] == "Rego"))
    {
        let rego = code
            .pointer("/source/rego")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                fail(format!(
                    "ConstraintTemplate {kind}: code without source.rego"
                ))
            })?;
        (
            rego.to_owned(),
            code.pointer("/source/libs").cloned().unwrap_or(Json::Null),
        )
    } else {
        return Err(fail(format!(
            "ConstraintTemplate {kind}: no Rego in its admission target (only Rego templates can be evaluated before merge)"
        )));
    };
    let display = load::relative(root, file);
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(true);
    // Print output goes with the constraint's result, through the redaction of Secret
    // values, never straight to the terminal.
    engine.set_gather_prints(true);
    let mut sources = vec![(format!("{}#{kind}", display.display()), rego)];
    for (i, lib) in libs.as_array().into_iter().flatten().enumerate() {
        if let Some(lib) = lib.as_str() {
            sources.push((
                format!("{}#{kind}.libs[{i}]", display.display()),
                lib.to_owned(),
            ));
        }
    }
    let mut package = None;
    for (name, text) in sources {
        let added = load::add_source(&mut engine, &name, text).map_err(|p| vec![p])?;
        package.get_or_insert(added);
    }
    let mut problems = missing_functions(&mut engine);
    // Gatekeeper compiles templates with OPA, which refuses unsafe variables.
    problems.extend(safety::unsafe_variables(&mut engine));
    if !problems.is_empty() {
        return Err(problems);
    }
    // Evaluated as OPA evaluates it (`rego::opa`); the checks above saw it as written.
    let mut engine = builtins::evaluation_engine(&mut engine, opa::Target::Interpreter)?;
    engine.set_gather_prints(true);
    let package = package.unwrap_or_default();
    Ok(Template {
        violation: format!("{package}.violation"),
        kind,
        engine,
    })
}

fn constraint(templates: &[Template], value: &Json) -> Result<Constraint, String> {
    let kind = value["kind"].as_str().unwrap_or("").to_owned();
    let name = value
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("constraint {kind} without metadata.name"))?
        .to_owned();
    let template = templates
        .iter()
        .position(|t| t.kind == kind)
        .ok_or_else(|| {
            format!("constraint {kind}/{name}: no ConstraintTemplate defines kind {kind}")
        })?;
    let enforcement = match value
        .pointer("/spec/enforcementAction")
        .and_then(Json::as_str)
        .unwrap_or("deny")
    {
        "deny" => Enforcement::Deny,
        "warn" => Enforcement::Warn,
        "dryrun" => Enforcement::DryRun,
        other => {
            return Err(format!(
                "constraint {kind}/{name}: unknown enforcementAction `{other}` (deny, warn, dryrun)"
            ));
        }
    };
    let m = value.pointer("/spec/match").cloned().unwrap_or(Json::Null);
    let strings = |v: &Json| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let kinds = m["kinds"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|k| (strings(&k["apiGroups"]), strings(&k["kinds"])))
                .collect()
        })
        .unwrap_or_default();
    let scope = m["scope"].as_str().unwrap_or("*").to_owned();
    if !matches!(scope.as_str(), "*" | "Cluster" | "Namespaced") {
        return Err(format!(
            "constraint {kind}/{name}: match.scope `{scope}` is not *, Cluster or Namespaced"
        ));
    }
    Ok(Constraint {
        kind,
        name,
        template,
        enforcement,
        selector: Match {
            kinds,
            namespaces: m.get("namespaces").map(strings),
            excluded_namespaces: strings(&m["excludedNamespaces"]),
            label_selector: m.get("labelSelector").cloned(),
            namespace_selector: m.get("namespaceSelector").cloned(),
            scope,
            name: m["name"].as_str().map(str::to_owned),
        },
        parameters: value
            .pointer("/spec/parameters")
            .cloned()
            .unwrap_or_else(|| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::ObjectValue;

    #[test]
    fn label_selectors() {
        let labels = json!({"team": "web", "tier": "front"});
        let selector = json!({"matchLabels": {"team": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "legacy", "operator": "DoesNotExist"}
        ]});
        assert!(label_selector_matches(&selector, Some(&labels)));
        let selector =
            json!({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["web"]}]});
        assert!(!label_selector_matches(&selector, Some(&labels)));
        let selector = json!({"matchExpressions": [{"key": "team", "operator": "Exists"}]});
        assert!(!label_selector_matches(&selector, None));
    }

    fn id(kind: &str, api_version: &str, namespace: Option<&str>, name: &str) -> ObjectId {
        ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/app.jsonnet".into(),
            item: None,
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
        }
    }

    fn target<'a>(id: &'a ObjectId, value: &'a ObjectValue) -> Target<'a> {
        Target {
            subject: id.display_name(),
            cluster: Some("dev"),
            entry: None,
            id,
            value,
            location: crate::model::outcome::Location::file("generated/dev/app/x.json"),
            source: None,
            content: None,
        }
    }

    /// Scopes as the built-in schemas know them; `Widget` is a kind nobody knows.
    fn scope(_: Option<&str>, id: &ObjectId) -> Option<bool> {
        match id.kind.as_str() {
            "ConfigMap" => Some(true),
            "ClusterRole" | "Namespace" => Some(false),
            _ => None,
        }
    }

    #[test]
    fn a_namespaced_object_without_namespace_lands_in_default() {
        let value = ObjectValue::parsed(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
        );
        let loose = id("ConfigMap", "v1", None, "a");
        let landing = Landing::of(&target(&loose, &value), &scope);
        assert!(landing.is_namespaced && landing.defaulted);
        assert_eq!(landing.namespace, Some("default"));
        assert_eq!(landing.review_namespace(&loose), "default");
        assert_eq!(
            landing.object(value.get())["metadata"],
            json!({"name": "a", "namespace": "default"})
        );
        // Named namespace: kept, object untouched.
        let placed = id("ConfigMap", "v1", Some("app"), "a");
        let landing = Landing::of(&target(&placed, &value), &scope);
        assert_eq!((landing.namespace, landing.defaulted), (Some("app"), false));
        assert!(matches!(
            landing.object(value.get()),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn cluster_scoped_and_unknown_objects_keep_no_namespace() {
        let value = ObjectValue::parsed(json!({"metadata": {"name": "x"}}));
        for object in [
            id("ClusterRole", "rbac.authorization.k8s.io/v1", None, "x"),
            // Unknown scope and no namespace: cluster-scoped, as before.
            id("Widget", "example.com/v1", None, "x"),
        ] {
            let landing = Landing::of(&target(&object, &value), &scope);
            assert!(!landing.is_namespaced, "{object:?}");
            assert_eq!(landing.namespace, None);
            assert_eq!(landing.review_namespace(&object), "");
        }
        let namespace = id("Namespace", "v1", None, "app");
        let landing = Landing::of(&target(&namespace, &value), &scope);
        assert_eq!(landing.namespace, Some("app"));
        assert_eq!(landing.review_namespace(&namespace), "");
        assert!(!landing.defaulted);
    }

    #[test]
    fn namespaces_carry_the_api_servers_name_label() {
        assert_eq!(
            namespace_labels("app", Some(&json!({"team": "web"}))),
            json!({"team": "web", "kubernetes.io/metadata.name": "app"})
        );
        // The server's value wins over a declared one.
        assert_eq!(
            namespace_labels(
                "app",
                Some(&json!({"kubernetes.io/metadata.name": "other"}))
            ),
            json!({"kubernetes.io/metadata.name": "app"})
        );
        assert_eq!(
            namespace_labels("default", None),
            json!({"kubernetes.io/metadata.name": "default"})
        );
    }

    #[test]
    fn match_sees_the_default_namespace() {
        let constraint = |selector: Json| {
            let m: Json = json!({"match": selector});
            let templates = [Template {
                kind: "K8sX".into(),
                engine: Engine::new(),
                violation: "data.x.violation".into(),
            }];
            let mut value = json!({"kind": "K8sX", "metadata": {"name": "c"}, "spec": m});
            value["apiVersion"] = json!("constraints.gatekeeper.sh/v1beta1");
            super::constraint(&templates, &value).unwrap()
        };
        let constraints = [
            constraint(json!({"namespaces": ["default"]})),
            constraint(json!({"excludedNamespaces": ["def*"]})),
            constraint(
                json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "default"}}}),
            ),
            constraint(json!({"namespaceSelector": {"matchLabels": {"tier": "base"}}})),
            constraint(json!({"scope": "Namespaced"})),
            constraint(json!({"scope": "Cluster"})),
        ];
        let mut prepared = Prepared {
            constraints: &constraints,
            engines: HashMap::new(),
            namespace_labels: HashMap::new(),
            violations: Vec::new(),
        };
        let selected = |prepared: &Prepared, object: &ObjectId| -> Vec<usize> {
            let value = ObjectValue::parsed(json!({}));
            let target = target(object, &value);
            let landing = Landing::of(&target, &scope);
            (0..constraints.len())
                .filter(|&i| prepared.selects(&constraints[i], &target, &landing))
                .collect()
        };
        let loose = id("ConfigMap", "v1", None, "a");
        // `default` not in the tree: only its automatic label is known.
        assert_eq!(selected(&prepared, &loose), [0, 2, 4]);
        prepared.namespace_labels.insert(
            (Some("dev".into()), "default".into()),
            namespace_labels("default", Some(&json!({"tier": "base"}))),
        );
        assert_eq!(selected(&prepared, &loose), [0, 2, 3, 4]);
        let elsewhere = id("ConfigMap", "v1", Some("app"), "a");
        assert_eq!(selected(&prepared, &elsewhere), [1, 4]);
        // Cluster-scoped: no namespace disqualifies it (Gatekeeper's match), only the scope.
        let cluster_role = id("ClusterRole", "rbac.authorization.k8s.io/v1", None, "r");
        assert_eq!(selected(&prepared, &cluster_role), [0, 1, 2, 3, 5]);
        // A Namespace is matched as its own namespace, and is cluster-scoped.
        let namespace = id("Namespace", "v1", None, "app");
        assert_eq!(selected(&prepared, &namespace), [1, 5]);
    }

    #[test]
    fn name_patterns() {
        assert!(wildcard_matches("kube-*", "kube-system"));
        assert!(!wildcard_matches("kube-*", "default"));
        assert!(wildcard_matches("default", "default"));
        assert!(!wildcard_matches("default", "default-2"));
        assert!(wildcard_matches("*-system", "gatekeeper-system"));
        assert!(!wildcard_matches("*-system", "system-a"));
        assert!(wildcard_matches("*-test-*", "app-test-1"));
        assert!(!wildcard_matches("*-test-*", "app-prod-1"));
        assert!(wildcard_matches("*", "anything"));
    }
}

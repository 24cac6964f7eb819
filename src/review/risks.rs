//! The changes a reviewer must not miss in a pull request of thousands of generated lines:
//! wider RBAC, added privileges, changed or unpinned images, workloads scaled to zero,
//! Services made public, Secrets touched, deletions, CRDs and Namespaces. Each rule is
//! documented in docs/review.md (a test keeps the two alike) and judges only the difference
//! between the two versions of one object, so an unchanged risk is never flagged twice.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::ObjectKey;
use super::fields::{image_change, split_image};
use super::parts::{containers, ingress_hosts, pod_spec, subjects};
use crate::model::secrets;

/// One rule of the review's risk flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskRule {
    RbacWidened,
    PrivilegesAdded,
    ServicePublic,
    SecretTouched,
    ObjectDeleted,
    NamespaceChanged,
    CrdChanged,
    ReplicasZero,
    ImageUnpinned,
    ImageChanged,
}

impl RiskRule {
    /// Every rule, most serious first (the order reports list them in).
    pub const ALL: [RiskRule; 10] = [
        RiskRule::RbacWidened,
        RiskRule::PrivilegesAdded,
        RiskRule::ServicePublic,
        RiskRule::SecretTouched,
        RiskRule::ObjectDeleted,
        RiskRule::NamespaceChanged,
        RiskRule::CrdChanged,
        RiskRule::ReplicasZero,
        RiskRule::ImageUnpinned,
        RiskRule::ImageChanged,
    ];

    /// The rule's id, as reports and docs/review.md name it.
    pub fn id(self) -> &'static str {
        match self {
            RiskRule::RbacWidened => "rbac-widened",
            RiskRule::PrivilegesAdded => "privileges-added",
            RiskRule::ServicePublic => "service-public",
            RiskRule::SecretTouched => "secret-touched",
            RiskRule::ObjectDeleted => "object-deleted",
            RiskRule::NamespaceChanged => "namespace-changed",
            RiskRule::CrdChanged => "crd-changed",
            RiskRule::ReplicasZero => "replicas-zero",
            RiskRule::ImageUnpinned => "image-unpinned",
            RiskRule::ImageChanged => "image-changed",
        }
    }

    /// The rule in a few words, as a heading.
    pub fn title(self) -> &'static str {
        match self {
            RiskRule::RbacWidened => "RBAC widened",
            RiskRule::PrivilegesAdded => "Privileges added",
            RiskRule::ServicePublic => "Made public",
            RiskRule::SecretTouched => "Secret touched",
            RiskRule::ObjectDeleted => "Deleted",
            RiskRule::NamespaceChanged => "Namespace changed",
            RiskRule::CrdChanged => "CRD changed",
            RiskRule::ReplicasZero => "Scaled to zero",
            RiskRule::ImageUnpinned => "Image not pinned",
            RiskRule::ImageChanged => "Image changed",
        }
    }
}

/// One flag on one object's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    pub rule: RiskRule,
    pub message: String,
}

/// What a rule may look at besides the object: the cluster's other objects (a binding is
/// as powerful as the role it names).
pub struct Surroundings<'a> {
    /// An object of the same cluster on the base side.
    pub role_before: &'a dyn Fn(&ObjectKey) -> Option<&'a Value>,
    /// An object of the same cluster on the head side.
    pub role_after: &'a dyn Fn(&ObjectKey) -> Option<&'a Value>,
}

/// The risks of one object's change from `old` to `new` (either may be absent).
pub fn assess(
    key: &ObjectKey,
    old: Option<&Value>,
    new: Option<&Value>,
    around: &Surroundings<'_>,
    hidden: &[String],
) -> Vec<Risk> {
    let mut risks = Vec::new();
    let mut flag = |rule: RiskRule, message: String| {
        risks.push(Risk {
            rule,
            message: secrets::hide(&message, hidden),
        })
    };
    let rbac = key.group == "rbac.authorization.k8s.io";
    let core = key.group.is_empty();
    match key.kind.as_str() {
        "Role" | "ClusterRole" if rbac => {
            if let Some(message) = role_widened(old, new) {
                flag(RiskRule::RbacWidened, message);
            }
        }
        "RoleBinding" | "ClusterRoleBinding" if rbac => {
            if let Some(message) = binding_widened(key, old, new, around) {
                flag(RiskRule::RbacWidened, message);
            }
        }
        "Service" if core => {
            if let Some(message) = service_made_public(old, new) {
                flag(RiskRule::ServicePublic, message);
            }
        }
        "Ingress" if key.group == "networking.k8s.io" || key.group == "extensions" => {
            let added: Vec<String> = ingress_hosts(new)
                .difference(&ingress_hosts(old))
                .cloned()
                .collect();
            if new.is_some() && !added.is_empty() {
                flag(
                    RiskRule::ServicePublic,
                    format!("Ingress now serves host {}", list(&added)),
                );
            }
        }
        "Secret" if core => flag(RiskRule::SecretTouched, secret_change(old, new)),
        "Namespace" if core => {
            let labels = changed_labels(old, new);
            flag(
                RiskRule::NamespaceChanged,
                match (old, new) {
                    (None, _) => "new Namespace".to_owned(),
                    (_, None) => "Namespace removed (deleting it deletes everything in it)".into(),
                    _ if !labels.is_empty() => format!("labels changed: {}", list(&labels)),
                    _ => "Namespace changed".to_owned(),
                },
            );
        }
        "CustomResourceDefinition" if key.group == "apiextensions.k8s.io" => {
            flag(RiskRule::CrdChanged, crd_change(old, new));
        }
        _ => {}
    }
    if let (Some(old), Some(new)) = (old, new)
        && let Some(replicas) = new.pointer("/spec/replicas").and_then(Value::as_u64)
        && replicas == 0
    {
        // A missing count is the API's default of 1.
        let before = old.pointer("/spec/replicas").map_or(Some(1), Value::as_u64);
        if before != Some(0) {
            let before = before.map_or("?".to_owned(), |n| n.to_string());
            flag(
                RiskRule::ReplicasZero,
                format!("replicas {before} → 0: nothing of it runs"),
            );
        }
    }
    if let Some(message) = privileges_added(old, new) {
        flag(RiskRule::PrivilegesAdded, message);
    }
    let (changed, unpinned) = image_changes(old, new);
    if !unpinned.is_empty() {
        flag(RiskRule::ImageUnpinned, unpinned.join("; "));
    }
    if !changed.is_empty() {
        flag(RiskRule::ImageChanged, changed.join("; "));
    }
    if old.is_some() && new.is_none() {
        // `apply --prune` never deletes these (src/apply/prune.rs).
        let never_pruned = matches!(key.kind.as_str(), "Namespace" | "CustomResourceDefinition");
        flag(
            RiskRule::ObjectDeleted,
            if never_pruned {
                "removed from the tree: never pruned, it stays in the cluster until deleted by hand"
                    .to_owned()
            } else {
                "removed from the tree: `apply --prune` deletes it from the cluster (without --prune it stays)"
                    .to_owned()
            },
        );
    }
    risks
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// One permission a role grants: API group, resource, verb, and the one object name it is
/// restricted to (`None`: every object); or a non-resource URL with its verb.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Permission {
    Resource {
        group: String,
        resource: String,
        verb: String,
        name: Option<String>,
    },
    Url {
        url: String,
        verb: String,
    },
}

impl Permission {
    /// Whether `self` grants at least what `other` does.
    fn covers(&self, other: &Permission) -> bool {
        let wide = |mine: &str, theirs: &str| mine == "*" || mine == theirs;
        match (self, other) {
            (
                Permission::Resource {
                    group,
                    resource,
                    verb,
                    name,
                },
                Permission::Resource {
                    group: g,
                    resource: r,
                    verb: v,
                    name: n,
                },
            ) => {
                wide(group, g)
                    && (wide(resource, r)
                        || (resource.as_str() == "*/*")
                        || resource.strip_suffix("/*").is_some_and(|base| {
                            r.split('/').next() == Some(base) && r.contains('/')
                        }))
                    && wide(verb, v)
                    && (name.is_none() || name == n)
            }
            (Permission::Url { url, verb }, Permission::Url { url: u, verb: v }) => {
                wide(verb, v)
                    && (url == u
                        || url
                            .strip_suffix('*')
                            .is_some_and(|prefix| u.starts_with(prefix)))
            }
            _ => false,
        }
    }

    /// A permission that gives much by itself: any wildcard, the verbs that step around
    /// RBAC, reading Secrets, running commands in pods, the kubelet's API.
    fn powerful(&self) -> bool {
        match self {
            Permission::Resource {
                group,
                resource,
                verb,
                ..
            } => {
                group == "*"
                    || resource == "*"
                    || verb == "*"
                    || matches!(verb.as_str(), "escalate" | "bind" | "impersonate")
                    || (resource == "secrets" && matches!(verb.as_str(), "get" | "list" | "watch"))
                    || (matches!(resource.as_str(), "pods/exec" | "pods/attach")
                        && verb == "create")
                    || resource == "nodes/proxy"
                    || (resource == "serviceaccounts/token" && verb == "create")
            }
            Permission::Url { url, verb } => url == "*" || verb == "*",
        }
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// Every permission a Role's or ClusterRole's rules grant.
fn permissions(role: Option<&Value>) -> Vec<Permission> {
    let mut out = Vec::new();
    for rule in role
        .and_then(|r| r.get("rules"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let verbs = strings(rule.get("verbs"));
        for url in strings(rule.get("nonResourceURLs")) {
            for verb in &verbs {
                out.push(Permission::Url {
                    url: url.clone(),
                    verb: verb.clone(),
                });
            }
        }
        let names = strings(rule.get("resourceNames"));
        let names: Vec<Option<String>> = if names.is_empty() {
            vec![None]
        } else {
            names.into_iter().map(Some).collect()
        };
        for group in strings(rule.get("apiGroups")) {
            for resource in strings(rule.get("resources")) {
                for verb in &verbs {
                    for name in &names {
                        out.push(Permission::Resource {
                            group: group.clone(),
                            resource: resource.clone(),
                            verb: verb.clone(),
                            name: name.clone(),
                        });
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The labels that fold a ClusterRole into the built-in user-facing roles.
const AGGREGATE_LABELS: [&str; 3] = [
    "rbac.authorization.k8s.io/aggregate-to-admin",
    "rbac.authorization.k8s.io/aggregate-to-edit",
    "rbac.authorization.k8s.io/aggregate-to-view",
];

fn role_widened(old: Option<&Value>, new: Option<&Value>) -> Option<String> {
    let new = new?;
    let before = permissions(old);
    let after = permissions(Some(new));
    let added: Vec<&Permission> = after
        .iter()
        .filter(|p| !before.iter().any(|b| b.covers(p)))
        .collect();
    let mut said = Vec::new();
    let shown = |perms: &[&Permission]| permissions_text(perms);
    if old.is_some() && !added.is_empty() {
        said.push(format!("grants more: {}", shown(&added)));
    } else if old.is_none() {
        let powerful: Vec<&Permission> = added.into_iter().filter(|p| p.powerful()).collect();
        if !powerful.is_empty() {
            said.push(format!("new role grants {}", shown(&powerful)));
        }
    }
    let labelled = |v: Option<&Value>, label: &str| {
        v.and_then(|v| v.pointer("/metadata/labels"))
            .and_then(|l| l.get(label))
            .and_then(Value::as_str)
            == Some("true")
    };
    for label in AGGREGATE_LABELS {
        if labelled(Some(new), label) && !labelled(old, label) {
            let role = label.rsplit('-').next().unwrap_or(label);
            said.push(format!(
                "its rules are now part of the built-in `{role}` role ({label})"
            ));
        }
    }
    if old.and_then(|o| o.get("aggregationRule")) != new.get("aggregationRule")
        && new.get("aggregationRule").is_some()
    {
        said.push("aggregates other roles by label (aggregationRule changed)".to_owned());
    }
    (!said.is_empty()).then(|| said.join("; "))
}

/// Permissions as a reviewer reads them: verbs together per resource ("get, list secrets"),
/// at most six resources, then a count.
fn permissions_text(perms: &[&Permission]) -> String {
    let mut by_target: Vec<(String, Vec<String>)> = Vec::new();
    for permission in perms {
        let (target, verb) = match permission {
            Permission::Resource {
                group,
                resource,
                verb,
                name,
            } => {
                let mut target = resource.clone();
                if !group.is_empty() {
                    target.push_str(&format!(" ({group})"));
                }
                if let Some(name) = name {
                    target.push_str(&format!(" named {name}"));
                }
                (target, verb)
            }
            Permission::Url { url, verb } => (url.clone(), verb),
        };
        match by_target.iter_mut().find(|(t, _)| *t == target) {
            Some((_, verbs)) => verbs.push(verb.clone()),
            None => by_target.push((target, vec![verb.clone()])),
        }
    }
    let mut text: Vec<String> = by_target
        .iter()
        .take(6)
        .map(|(target, verbs)| format!("{} {target}", verbs.join(", ")))
        .collect();
    if by_target.len() > 6 {
        text.push(format!("and {} more resources", by_target.len() - 6));
    }
    text.join("; ")
}

/// The built-in roles that give much: whoever is bound to them can do most things.
const POWERFUL_ROLES: [&str; 3] = ["cluster-admin", "admin", "edit"];

/// Groups that are everyone.
const EVERYONE: [&str; 3] = [
    "system:authenticated",
    "system:unauthenticated",
    "system:anonymous",
];

fn binding_widened(
    key: &ObjectKey,
    old: Option<&Value>,
    new: Option<&Value>,
    around: &Surroundings<'_>,
) -> Option<String> {
    let new = new?;
    let role_kind = new.pointer("/roleRef/kind").and_then(Value::as_str)?;
    let role_name = new.pointer("/roleRef/name").and_then(Value::as_str)?;
    let role_key = ObjectKey {
        group: "rbac.authorization.k8s.io".to_owned(),
        kind: role_kind.to_owned(),
        namespace: (role_kind == "Role")
            .then(|| key.namespace.clone())
            .flatten(),
        name: role_name.to_owned(),
    };
    let powerful = (role_kind == "ClusterRole" && POWERFUL_ROLES.contains(&role_name))
        || [
            (around.role_after)(&role_key),
            (around.role_before)(&role_key),
        ]
        .into_iter()
        .flatten()
        .next()
        .is_some_and(|role| permissions(Some(role)).iter().any(Permission::powerful));
    let role = format!(
        "{role_kind} {role_name}{}",
        if powerful { " (powerful)" } else { "" }
    );
    let after = subjects(Some(new));
    let before = subjects(old);
    let everyone: Vec<String> = after
        .iter()
        .filter(|s| EVERYONE.iter().any(|e| s.ends_with(&format!(" {e}"))))
        .filter(|s| !before.contains(*s))
        .cloned()
        .collect();
    let added: Vec<String> = after.difference(&before).cloned().collect();
    let role_changed = old.is_some_and(|o| o.get("roleRef") != new.get("roleRef"));
    if old.is_none() {
        if powerful || !everyone.is_empty() {
            return Some(format!("new binding of {role} to {}", list(&added)));
        }
        return None;
    }
    if role_changed {
        return Some(format!("now binds {role} (was {})", {
            let old = old.unwrap_or(&Value::Null);
            let field = |f: &str| {
                old.pointer(&format!("/roleRef/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            format!("{} {}", field("kind"), field("name"))
        }));
    }
    (!added.is_empty()).then(|| format!("binds {role} to more subjects: {}", list(&added)))
}

/// Whether a Service is reachable from outside the cluster, and how.
fn exposure(service: Option<&Value>) -> Option<String> {
    let service = service?;
    let kind = service
        .pointer("/spec/type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let external_ips = strings(service.pointer("/spec/externalIPs"));
    if !external_ips.is_empty() {
        return Some(format!("external IPs {}", list(&external_ips)));
    }
    match kind {
        "NodePort" => Some("type NodePort (a port on every node)".to_owned()),
        "LoadBalancer" if !internal(service) => {
            let ranges = strings(service.pointer("/spec/loadBalancerSourceRanges"));
            Some(if ranges.is_empty() {
                "a public LoadBalancer open to every address".to_owned()
            } else {
                format!("a public LoadBalancer for {}", list(&ranges))
            })
        }
        _ => None,
    }
}

/// The annotations that make a LoadBalancer internal: as the built-in cluster pack's
/// `internal_load_balancer_annotations` (policies/cluster/cluster.rego), AWS's with any
/// value but "false" or empty.
fn internal(service: &Value) -> bool {
    let annotation = |key: &str| {
        service
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    };
    [
        ("networking.gke.io/load-balancer-type", "Internal"),
        ("cloud.google.com/load-balancer-type", "Internal"),
        (
            "service.beta.kubernetes.io/aws-load-balancer-scheme",
            "internal",
        ),
        (
            "service.beta.kubernetes.io/azure-load-balancer-internal",
            "true",
        ),
    ]
    .iter()
    .any(|(key, value)| annotation(key) == Some(value))
        || annotation("service.beta.kubernetes.io/aws-load-balancer-internal")
            .is_some_and(|v| !v.is_empty() && v != "false")
}

fn service_made_public(old: Option<&Value>, new: Option<&Value>) -> Option<String> {
    let after = exposure(new)?;
    match exposure(old) {
        None => Some(format!("now {after}")),
        Some(before) if before != after => Some(format!("now {after} (was {before})")),
        Some(_) => None,
    }
}

fn secret_change(old: Option<&Value>, new: Option<&Value>) -> String {
    let keys = |v: Option<&Value>| -> BTreeSet<String> {
        ["data", "stringData"]
            .iter()
            .filter_map(|f| v.and_then(|v| v.get(*f)).and_then(Value::as_object))
            .flat_map(|m| m.keys().cloned())
            .collect()
    };
    let value = |v: Option<&Value>, key: &str| {
        ["data", "stringData"]
            .iter()
            .find_map(|f| v.and_then(|v| v.get(*f)).and_then(|m| m.get(key)).cloned())
    };
    match (old, new) {
        (None, _) => format!(
            "new Secret with keys {}",
            list(&keys(new).into_iter().collect::<Vec<_>>())
        ),
        (_, None) => "Secret removed".to_owned(),
        _ => {
            let all: BTreeSet<String> = keys(old).union(&keys(new)).cloned().collect();
            let changed: Vec<String> = all
                .into_iter()
                .filter(|k| value(old, k) != value(new, k))
                .collect();
            if changed.is_empty() {
                "Secret changed (no value)".to_owned()
            } else {
                format!("values changed (hidden): {}", list(&changed))
            }
        }
    }
}

fn changed_labels(old: Option<&Value>, new: Option<&Value>) -> Vec<String> {
    let labels = |v: Option<&Value>| {
        v.and_then(|v| v.pointer("/metadata/labels"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (a, b) = (labels(old), labels(new));
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let shown = |v: Option<&Value>| {
                v.and_then(Value::as_str)
                    .map_or("(none)".to_owned(), str::to_owned)
            };
            format!("{k} {} → {}", shown(a.get(k)), shown(b.get(k)))
        })
        .collect()
}

fn crd_change(old: Option<&Value>, new: Option<&Value>) -> String {
    let versions = |v: Option<&Value>| -> Vec<(String, bool, Option<Value>)> {
        v.and_then(|v| v.pointer("/spec/versions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|version| {
                (
                    version
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    version
                        .get("served")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    version.get("schema").cloned(),
                )
            })
            .collect()
    };
    match (old, new) {
        (None, _) => "new CustomResourceDefinition: a new API in the cluster".to_owned(),
        (_, None) => {
            "CustomResourceDefinition removed (deleting it deletes every object of its kind)"
                .to_owned()
        }
        _ => {
            let (before, after) = (versions(old), versions(new));
            let mut said = Vec::new();
            for (name, served, schema) in &before {
                match after.iter().find(|(n, _, _)| n == name) {
                    None => said.push(format!("version {name} removed")),
                    Some((_, now_served, now_schema)) => {
                        if *served && !now_served {
                            said.push(format!("version {name} no longer served"));
                        }
                        if schema != now_schema {
                            said.push(format!("schema of {name} changed"));
                        }
                    }
                }
            }
            for (name, _, _) in &after {
                if !before.iter().any(|(n, _, _)| n == name) {
                    said.push(format!("version {name} added"));
                }
            }
            if old.and_then(|o| o.pointer("/spec/scope"))
                != new.and_then(|n| n.pointer("/spec/scope"))
            {
                said.push("scope changed".to_owned());
            }
            if said.is_empty() {
                "CustomResourceDefinition changed".to_owned()
            } else {
                said.join("; ")
            }
        }
    }
}

/// What a pod spec may do beyond an ordinary pod, each said on its own.
fn privileges(value: Option<&Value>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let Some(spec) = value.and_then(pod_spec) else {
        return found;
    };
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec.get(field) == Some(&Value::Bool(true)) {
            found.insert(field.to_owned());
        }
    }
    for volume in spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(path) = volume.pointer("/hostPath/path").and_then(Value::as_str) {
            found.insert(format!("hostPath volume {path}"));
        }
    }
    let root = |context: Option<&Value>| {
        context
            .and_then(|c| c.get("runAsUser"))
            .and_then(Value::as_u64)
            == Some(0)
    };
    if root(spec.get("securityContext")) {
        found.insert("runs as root (runAsUser 0)".to_owned());
    }
    let unconfined = |context: Option<&Value>| {
        context
            .and_then(|c| c.pointer("/seccompProfile/type"))
            .and_then(Value::as_str)
            == Some("Unconfined")
    };
    if unconfined(spec.get("securityContext")) {
        found.insert("seccomp Unconfined".to_owned());
    }
    for container in containers(spec) {
        let name = container.get("name").and_then(Value::as_str).unwrap_or("?");
        let context = container.get("securityContext");
        let flag = |field: &str| context.and_then(|c| c.get(field)) == Some(&Value::Bool(true));
        if flag("privileged") {
            found.insert(format!("privileged (container {name})"));
        }
        if flag("allowPrivilegeEscalation") {
            found.insert(format!("allowPrivilegeEscalation (container {name})"));
        }
        if root(context) {
            found.insert(format!("runs as root (container {name})"));
        }
        if unconfined(context) {
            found.insert(format!("seccomp Unconfined (container {name})"));
        }
        if context
            .and_then(|c| c.get("procMount"))
            .and_then(Value::as_str)
            == Some("Unmasked")
        {
            found.insert(format!("procMount Unmasked (container {name})"));
        }
        for capability in strings(context.and_then(|c| c.pointer("/capabilities/add"))) {
            found.insert(format!("capability {capability} (container {name})"));
        }
        for port in container
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(host_port) = port.get("hostPort").and_then(Value::as_u64)
                && host_port != 0
            {
                found.insert(format!("hostPort {host_port} (container {name})"));
            }
        }
    }
    found
}

fn privileges_added(old: Option<&Value>, new: Option<&Value>) -> Option<String> {
    let before = privileges(old);
    let added: Vec<String> = privileges(new).difference(&before).cloned().collect();
    (!added.is_empty()).then(|| format!("adds {}", list(&added)))
}

/// Images of a pod spec by container name.
fn images(value: Option<&Value>) -> Vec<(String, String)> {
    let Some(spec) = value.and_then(pod_spec) else {
        return Vec::new();
    };
    containers(spec)
        .filter_map(|c| {
            Some((
                c.get("name")?.as_str()?.to_owned(),
                c.get("image")?.as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// An image that names no version: no tag and no digest, or the tag `latest`.
pub fn unpinned(image: &str) -> bool {
    let (_, reference) = split_image(image);
    reference.is_empty() || reference == "latest"
}

/// (images changed in containers that were there, unpinned images new to the object).
fn image_changes(old: Option<&Value>, new: Option<&Value>) -> (Vec<String>, Vec<String>) {
    let before = images(old);
    let mut changed = Vec::new();
    let mut unpinned_now = Vec::new();
    for (name, image) in images(new) {
        let was = before.iter().find(|(n, _)| *n == name).map(|(_, i)| i);
        if let Some(was) = was
            && *was != image
        {
            changed.push(format!("container {name}: {}", image_change(was, &image)));
        } else if was.is_none() && old.is_some() {
            changed.push(format!("container {name} added with image {image}"));
        }
        if unpinned(&image) && was.is_none_or(|was| !unpinned(was) || *was != image) {
            unpinned_now.push(format!(
                "container {name}: {image} names no version (use a tag other than latest, or a digest)"
            ));
        }
    }
    (changed, unpinned_now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none(_: &ObjectKey) -> Option<&'static Value> {
        None
    }

    fn rules(value: &Value, old: Option<Value>, new: Option<Value>) -> Vec<RiskRule> {
        let key = ObjectKey::of(value).unwrap();
        assess(
            &key,
            old.as_ref(),
            new.as_ref(),
            &Surroundings {
                role_before: &none,
                role_after: &none,
            },
            &[],
        )
        .into_iter()
        .map(|r| r.rule)
        .collect()
    }

    fn role(rules: Value) -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "reader"}, "rules": rules})
    }

    #[test]
    fn every_rule_is_documented_and_nothing_else_is() {
        let docs = include_str!("../../docs/review.md");
        let documented: Vec<&str> = docs
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        let rules: Vec<&str> = RiskRule::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(
            documented, rules,
            "docs/review.md's table, in the order reports use"
        );
    }

    #[test]
    fn a_role_that_grants_more_is_widened_and_one_that_grants_less_is_not() {
        let narrow = role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]));
        let wider =
            role(json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]));
        let star = role(json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]));
        assert_eq!(
            rules(&narrow, Some(narrow.clone()), Some(wider.clone())),
            [RiskRule::RbacWidened]
        );
        assert!(rules(&narrow, Some(wider.clone()), Some(narrow.clone())).is_empty());
        assert!(rules(&narrow, Some(star.clone()), Some(wider.clone())).is_empty());
        // A new role is flagged only for what gives much by itself.
        assert!(rules(&narrow, None, Some(narrow.clone())).is_empty());
        assert_eq!(
            rules(&star, None, Some(star.clone())),
            [RiskRule::RbacWidened]
        );
    }

    #[test]
    fn subresource_wildcards_cover_their_subresources() {
        let wide = Permission::Resource {
            group: String::new(),
            resource: "pods/*".into(),
            verb: "get".into(),
            name: None,
        };
        let exec = Permission::Resource {
            group: String::new(),
            resource: "pods/exec".into(),
            verb: "get".into(),
            name: None,
        };
        let pods = Permission::Resource {
            group: String::new(),
            resource: "pods".into(),
            verb: "get".into(),
            name: None,
        };
        assert!(wide.covers(&exec));
        assert!(!wide.covers(&pods));
    }

    #[test]
    fn a_binding_to_a_powerful_role_or_to_everyone_is_flagged() {
        let binding = |role: &str, subject: Value| {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "b"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": [subject]})
        };
        let sa = json!({"kind": "ServiceAccount", "name": "ci", "namespace": "tools"});
        let everyone = json!({"kind": "Group", "name": "system:authenticated"});
        let admin = binding("cluster-admin", sa.clone());
        assert_eq!(
            rules(&admin, None, Some(admin.clone())),
            [RiskRule::RbacWidened]
        );
        let plain = binding("reader", sa.clone());
        assert!(rules(&plain, None, Some(plain.clone())).is_empty());
        let open = binding("reader", everyone);
        assert_eq!(
            rules(&open, None, Some(open.clone())),
            [RiskRule::RbacWidened]
        );
        let mut more = plain.clone();
        more["subjects"]
            .as_array_mut()
            .unwrap()
            .push(json!({"kind": "User", "name": "eve"}));
        assert_eq!(
            rules(&plain, Some(plain.clone()), Some(more)),
            [RiskRule::RbacWidened]
        );
    }

    #[test]
    fn privileges_images_replicas_and_exposure() {
        let base = crate::review::tests::deployment("nginx:1.25", 2);
        let mut privileged = base.clone();
        privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] =
            json!({"privileged": true, "capabilities": {"add": ["NET_ADMIN"]}});
        privileged["spec"]["template"]["spec"]["hostNetwork"] = json!(true);
        assert_eq!(
            rules(&base, Some(base.clone()), Some(privileged.clone())),
            [RiskRule::PrivilegesAdded]
        );
        // Taking a privilege away is no risk.
        assert!(rules(&base, Some(privileged), Some(base.clone())).is_empty());
        let bumped = crate::review::tests::deployment("nginx:1.27", 2);
        assert_eq!(
            rules(&base, Some(base.clone()), Some(bumped)),
            [RiskRule::ImageChanged]
        );
        let latest = crate::review::tests::deployment("nginx:latest", 2);
        assert_eq!(
            rules(&base, Some(base.clone()), Some(latest.clone())),
            [RiskRule::ImageUnpinned, RiskRule::ImageChanged]
        );
        assert_eq!(rules(&base, None, Some(latest)), [RiskRule::ImageUnpinned]);
        assert!(unpinned("registry:5000/app") && !unpinned("registry:5000/app:1"));
        let stopped = crate::review::tests::deployment("nginx:1.25", 0);
        assert_eq!(
            rules(&base, Some(base.clone()), Some(stopped.clone())),
            [RiskRule::ReplicasZero]
        );
        assert!(rules(&base, None, Some(stopped)).is_empty());
        assert_eq!(
            rules(&base, Some(base.clone()), None),
            [RiskRule::ObjectDeleted]
        );

        let service = |spec: Value, annotations: Value| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "s", "namespace": "n", "annotations": annotations}, "spec": spec})
        };
        let cluster_ip = service(json!({"ports": []}), json!({}));
        let public = service(json!({"type": "LoadBalancer"}), json!({}));
        let internal = service(
            json!({"type": "LoadBalancer"}),
            json!({"service.beta.kubernetes.io/aws-load-balancer-internal": "0.0.0.0/0"}),
        );
        assert_eq!(
            rules(&cluster_ip, Some(cluster_ip.clone()), Some(public.clone())),
            [RiskRule::ServicePublic]
        );
        assert!(
            rules(
                &cluster_ip,
                Some(cluster_ip.clone()),
                Some(internal.clone())
            )
            .is_empty()
        );
        assert_eq!(
            rules(&cluster_ip, Some(internal), Some(public)),
            [RiskRule::ServicePublic]
        );
    }
}

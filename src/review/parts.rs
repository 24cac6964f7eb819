//! Where Kubernetes objects keep what a review speaks of: pod specs and their containers,
//! an Ingress's hosts, a binding's subjects. Read by the risks and by the fields' phrases.

use std::collections::BTreeSet;

use serde_json::Value;

/// The hosts an Ingress's rules serve (`*` for a rule without one).
pub(super) fn ingress_hosts(ingress: Option<&Value>) -> BTreeSet<String> {
    ingress
        .and_then(|v| v.pointer("/spec/rules"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|rule| {
            rule.get("host")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_owned()
        })
        .collect()
}

/// A binding's subjects, `Kind namespace/name` (or `Kind name`).
pub(super) fn subjects(binding: Option<&Value>) -> BTreeSet<String> {
    binding
        .and_then(|b| b.get("subjects"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let field = |f: &str| s.get(f).and_then(Value::as_str).unwrap_or("");
            match field("namespace") {
                "" => format!("{} {}", field("kind"), field("name")),
                ns => format!("{} {ns}/{}", field("kind"), field("name")),
            }
        })
        .collect()
}

/// The pod spec of a pod-bearing object.
pub(super) fn pod_spec(value: &Value) -> Option<&Value> {
    match value.get("kind")?.as_str()? {
        "Pod" => value.get("spec"),
        "CronJob" => value.pointer("/spec/jobTemplate/spec/template/spec"),
        "PodTemplate" => value.pointer("/template/spec"),
        _ => value.pointer("/spec/template/spec"),
    }
}

/// The containers of a pod spec, every list of them.
pub(super) fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .filter_map(|list| spec.get(list).and_then(Value::as_array))
        .flatten()
}

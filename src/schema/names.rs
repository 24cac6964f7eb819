//! What the API server checks about names, labels and annotations beyond the schemas (which
//! only say "string"): object names per kind (rules in `schemas/object-names.json`), the
//! namespace, label keys and values, annotation keys and their total size — each where the
//! API server checks it (`places`), not wherever a key happens to be called `matchLabels`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::TableError;
use super::gvk::Gvk;
use super::places::{Places, Rule as PlaceRule};
use crate::model::outcome::pointer_segment;

const NAMES: &str = include_str!("../../schemas/object-names.json");

/// Kubernetes' limit on all annotations of one object together.
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Rule {
    DnsSubdomain,
    DnsLabel,
    #[serde(rename = "dns-1035-label")]
    Dns1035Label,
    PathSegment,
}

#[derive(Debug, Clone, Deserialize)]
struct KindRule {
    rule: Rule,
    max_length: Option<usize>,
}

#[derive(Deserialize)]
struct File {
    default: KindRule,
    kinds: HashMap<String, KindRule>,
}

pub(crate) struct NameRules {
    default: KindRule,
    kinds: HashMap<String, KindRule>,
}

impl NameRules {
    pub(crate) fn builtin() -> Result<NameRules, TableError> {
        let file: File = serde_json::from_str(NAMES).map_err(|source| TableError::Damaged {
            file: "schemas/object-names.json",
            source,
        })?;
        Ok(NameRules {
            default: file.default,
            kinds: file.kinds,
        })
    }

    fn rule_of(&self, gvk: &Gvk) -> &KindRule {
        self.kinds.get(&gvk.group_kind()).unwrap_or(&self.default)
    }

    /// Problems with `name` as the name of a `gvk` object; empty when it is fine.
    pub(crate) fn check_name(&self, gvk: &Gvk, name: &str) -> Option<String> {
        let rule = self.rule_of(gvk);
        if let Some(max) = rule.max_length
            && name.len() > max
        {
            return Some(format!(
                "metadata.name `{name}` is {} characters long; a {} name may have at most {max}",
                name.len(),
                gvk.kind
            ));
        }
        rule_problem(rule.rule, name).map(|says| {
            format!(
                "metadata.name `{name}` is not valid for a {}: it must be {says}",
                gvk.kind
            )
        })
    }

    /// Problems with `prefix` as the `metadata.generateName` of a `gvk` object without a
    /// name, checked as the API server does on create: the prefix itself (a trailing `-`
    /// allowed) against the kind's rule, then the name it generates — the prefix cut to
    /// [`MAX_GENERATED_PREFIX`] bytes and [`GENERATED_SUFFIX`] random lowercase letters and
    /// digits — against the rule and the kind's length limit. Which letters and digits does
    /// not matter: every rule treats them alike after the first character.
    pub(crate) fn check_generate_name(&self, gvk: &Gvk, prefix: &str) -> Option<String> {
        let rule = self.rule_of(gvk);
        let masked = match prefix.strip_suffix('-') {
            Some(rest) if !rest.is_empty() => format!("{rest}a"),
            _ => prefix.to_owned(),
        };
        if let Some(says) = rule_problem(rule.rule, &masked) {
            return Some(format!(
                "metadata.generateName `{prefix}` is not valid for a {}: it must be {says} (a trailing `-` allowed)",
                gvk.kind
            ));
        }
        let mut cut = MAX_GENERATED_PREFIX.min(prefix.len());
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        let generated = format!("{}{}", &prefix[..cut], "x".repeat(GENERATED_SUFFIX));
        if let Some(max) = rule.max_length
            && generated.len() > max
        {
            return Some(format!(
                "metadata.generateName `{prefix}` is too long for a {}: the name generated from it has {} characters (the prefix and {GENERATED_SUFFIX} random ones), a {} name may have at most {max}",
                gvk.kind,
                generated.len(),
                gvk.kind
            ));
        }
        rule_problem(rule.rule, &generated).map(|says| {
            format!(
                "metadata.generateName `{prefix}` is not valid for a {}: the name generated from it (the prefix and {GENERATED_SUFFIX} random lowercase letters and digits) must be {says}",
                gvk.kind
            )
        })
    }
}

/// Random characters the API server appends to `metadata.generateName`.
pub(crate) const GENERATED_SUFFIX: usize = 5;

/// The API server keeps at most this many bytes of `metadata.generateName`, so that the
/// generated name fits a 63-character DNS label.
pub(crate) const MAX_GENERATED_PREFIX: usize = 63 - GENERATED_SUFFIX;

/// What `name` must be under `rule`, when it is not.
fn rule_problem(rule: Rule, name: &str) -> Option<&'static str> {
    let (ok, says) = match rule {
        Rule::DnsSubdomain => (
            is_dns_subdomain(name),
            "a DNS subdomain (at most 253 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit)",
        ),
        Rule::DnsLabel => (
            is_dns_label(name),
            "a DNS label (at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit)",
        ),
        Rule::Dns1035Label => (
            is_dns_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()),
            "a DNS-1035 label (at most 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit)",
        ),
        Rule::PathSegment => (
            !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains('/')
                && !name.contains('%'),
            "a path segment (not `.` or `..`, no `/` or `%`)",
        ),
    };
    (!ok).then_some(says)
}

/// Problems with the labels and annotations of an object: its own `metadata`, and the
/// places of its kind (`places`: label selectors, label maps, nested `ObjectMeta`s,
/// embedded resources) — nowhere else, since nowhere else does the API server read a key
/// as a label. Values that are not strings are the schema's business.
pub(crate) fn check_labels(object: &Value, places: Option<&Places>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut path = Vec::new();
    if let Some(Value::Object(meta)) = object.get("metadata") {
        path.push(Segment::Key("metadata"));
        check_meta_labels(meta, &mut path, &mut problems);
        path.pop();
    }
    if let (Some(places), Value::Object(map)) = (places, object) {
        // The root's own metadata is checked above, with the kind's rules.
        for (field, below) in &places.fields {
            if field != "metadata"
                && let Some(child) = map.get(field)
            {
                path.push(Segment::Key(field));
                walk(child, below, &mut path, &mut problems);
                path.pop();
            }
        }
    }
    problems
}

/// Problems with `namespace` as the `metadata.namespace` of an object of a namespaced kind
/// (`ValidateObjectMeta` checks it as a DNS label, `ValidateNamespaceName`).
pub(crate) fn check_namespace(namespace: &str) -> Option<String> {
    rule_problem(Rule::DnsLabel, namespace).map(|says| {
        format!("/metadata/namespace: namespace `{namespace}` is not valid: it must be {says}")
    })
}

/// One step on the way down an object.
#[derive(Clone, Copy)]
enum Segment<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSON pointer of `path`, built only when there is something to report.
fn pointer(path: &[Segment]) -> String {
    path.iter()
        .map(|segment| match segment {
            Segment::Key(key) => format!("/{}", pointer_segment(key)),
            Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// Applies the rules of `places` to `value` and to what lies below it.
fn walk<'v>(
    value: &'v Value,
    places: &Places,
    path: &mut Vec<Segment<'v>>,
    problems: &mut Vec<String>,
) {
    for rule in &places.here {
        apply(*rule, value, path, problems);
    }
    match value {
        Value::Object(map) => {
            for (field, below) in &places.fields {
                if let Some((key, child)) = map.get_key_value(field) {
                    path.push(Segment::Key(key));
                    walk(child, below, path, problems);
                    path.pop();
                }
            }
            if let Some(below) = &places.values {
                for (key, child) in map {
                    path.push(Segment::Key(key));
                    walk(child, below, path, problems);
                    path.pop();
                }
            }
        }
        Value::Array(items) => {
            if let Some(below) = &places.items {
                for (i, item) in items.iter().enumerate() {
                    path.push(Segment::Index(i));
                    walk(item, below, path, problems);
                    path.pop();
                }
            }
        }
        _ => {}
    }
}

fn apply<'v>(
    rule: PlaceRule,
    value: &'v Value,
    path: &mut Vec<Segment<'v>>,
    problems: &mut Vec<String>,
) {
    let Value::Object(map) = value else {
        return;
    };
    match rule {
        PlaceRule::LabelSelector => {
            if let Some(Value::Object(labels)) = map.get("matchLabels") {
                path.push(Segment::Key("matchLabels"));
                check_label_map(labels, path, problems);
                path.pop();
            }
        }
        PlaceRule::LabelMap => check_label_map(map, path, problems),
        PlaceRule::TemplateMeta => check_meta_labels(map, path, problems),
        PlaceRule::EmbeddedResource => {
            let Some(Value::Object(meta)) = map.get("metadata") else {
                return;
            };
            path.push(Segment::Key("metadata"));
            // Only what is set: the API server fills in a name for the check and requires
            // no namespace here (objectmeta.validateEmbeddedResource).
            if let Some(Value::String(name)) = meta.get("name")
                && !name.is_empty()
                && let Some(says) = rule_problem(Rule::PathSegment, name)
            {
                problems.push(format!(
                    "{}/name: name `{name}` of an embedded object is not valid: it must be {says}",
                    pointer(path)
                ));
            }
            if let Some(Value::String(namespace)) = meta.get("namespace")
                && !namespace.is_empty()
                && let Some(says) = rule_problem(Rule::DnsLabel, namespace)
            {
                problems.push(format!(
                    "{}/namespace: namespace `{namespace}` of an embedded object is not valid: it must be {says}",
                    pointer(path)
                ));
            }
            check_meta_labels(meta, path, problems);
            path.pop();
        }
    }
}

/// The labels and annotations of one `metadata`.
fn check_meta_labels<'v>(
    meta: &'v serde_json::Map<String, Value>,
    path: &mut Vec<Segment<'v>>,
    problems: &mut Vec<String>,
) {
    if let Some(Value::Object(labels)) = meta.get("labels") {
        path.push(Segment::Key("labels"));
        check_label_map(labels, path, problems);
        path.pop();
    }
    if let Some(Value::Object(annotations)) = meta.get("annotations") {
        path.push(Segment::Key("annotations"));
        check_annotations(annotations, &pointer(path), problems);
        path.pop();
    }
}

fn check_label_map(
    labels: &serde_json::Map<String, Value>,
    path: &[Segment],
    problems: &mut Vec<String>,
) {
    for (key, value) in labels {
        if let Some(problem) = qualified_name_problem(key) {
            problems.push(format!(
                "{}: label key `{key}` is not valid: {problem}",
                pointer(path)
            ));
        }
        if let Value::String(value) = value
            && let Some(problem) = label_value_problem(value)
        {
            problems.push(format!(
                "{}/{}: label value `{value}` is not valid: {problem}",
                pointer(path),
                pointer_segment(key)
            ));
        }
    }
}

fn check_annotations(
    annotations: &serde_json::Map<String, Value>,
    pointer: &str,
    problems: &mut Vec<String>,
) {
    let mut total = 0;
    for (key, value) in annotations {
        if let Some(problem) = qualified_name_problem(key) {
            problems.push(format!(
                "{pointer}: annotation key `{key}` is not valid: {problem}"
            ));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > MAX_ANNOTATIONS_BYTES {
        problems.push(format!(
            "{pointer}: the annotations take {total} bytes; Kubernetes allows at most {MAX_ANNOTATIONS_BYTES}"
        ));
    }
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| is_alnum(c) || c == '-')
        && s.starts_with(is_alnum)
        && s.ends_with(is_alnum)
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| is_alnum(c) || c == '-')
                && part.starts_with(is_alnum)
                && part.ends_with(is_alnum)
        })
}

/// `[prefix/]name`: the prefix a DNS subdomain, the name at most 63 characters of
/// letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Some(format!("the prefix `{prefix}` must be a DNS subdomain"));
    }
    if name.is_empty() {
        return Some("the name part is empty".to_owned());
    }
    if name.len() > 63 {
        return Some(format!(
            "the name part is {} characters long, at most 63 are allowed",
            name.len()
        ));
    }
    if !name_chars_ok(name) {
        return Some(
            "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
                .to_owned(),
        );
    }
    None
}

fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 {
        return Some(format!(
            "it is {} characters long, at most 63 are allowed",
            value.len()
        ));
    }
    (!name_chars_ok(value)).then(|| {
        "use letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit"
            .to_owned()
    })
}

fn name_chars_ok(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_rule_of_their_kind() {
        let rules = NameRules::builtin().unwrap();
        let deploy = Gvk::from_api_version("apps/v1", "Deployment");
        assert!(rules.check_name(&deploy, "web.frontend-1").is_none());
        assert!(
            rules
                .check_name(&deploy, "Web")
                .unwrap()
                .contains("DNS subdomain")
        );
        assert!(rules.check_name(&deploy, "-web").is_some());
        let ns = Gvk::from_api_version("v1", "Namespace");
        assert!(rules.check_name(&ns, "team-a").is_none());
        assert!(
            rules
                .check_name(&ns, "team.a")
                .unwrap()
                .contains("DNS label")
        );
        let svc = Gvk::from_api_version("v1", "Service");
        assert!(rules.check_name(&svc, "1web").unwrap().contains("DNS-1035"));
        let role = Gvk::from_api_version("rbac.authorization.k8s.io/v1", "ClusterRole");
        assert!(rules.check_name(&role, "system:controller:x").is_none());
        assert!(rules.check_name(&role, "a/b").is_some());
        let cron = Gvk::from_api_version("batch/v1", "CronJob");
        assert!(rules.check_name(&cron, &"a".repeat(52)).is_none());
        assert!(
            rules
                .check_name(&cron, &"a".repeat(53))
                .unwrap()
                .contains("at most 52")
        );
        let custom = Gvk::from_api_version("cert-manager.io/v1", "Certificate");
        assert!(rules.check_name(&custom, "web_tls").is_some());
    }

    #[test]
    fn generated_names_are_checked_as_prefixes() {
        let rules = NameRules::builtin().unwrap();
        let pod = Gvk::from_api_version("v1", "Pod");
        assert!(rules.check_generate_name(&pod, "web-").is_none());
        assert!(rules.check_generate_name(&pod, "web").is_none());
        assert!(rules.check_generate_name(&pod, "web.v1-").is_none());
        let upper = rules.check_generate_name(&pod, "Web-").unwrap();
        assert!(
            upper.contains("generateName `Web-`") && upper.contains("DNS subdomain"),
            "{upper}"
        );
        assert!(rules.check_generate_name(&pod, "web.").is_some());
        assert!(rules.check_generate_name(&pod, "-").is_some());
        // The API server keeps 58 characters of a longer prefix.
        let ns = Gvk::from_api_version("v1", "Namespace");
        assert!(rules.check_generate_name(&ns, &"a".repeat(62)).is_none());
        assert!(rules.check_generate_name(&ns, &"a".repeat(64)).is_some());
        let svc = Gvk::from_api_version("v1", "Service");
        assert!(rules.check_generate_name(&svc, "api-").is_none());
        assert!(
            rules
                .check_generate_name(&svc, "1api-")
                .unwrap()
                .contains("DNS-1035")
        );
        // 47 characters and 5 generated are 52, a CronJob's most.
        let cron = Gvk::from_api_version("batch/v1", "CronJob");
        assert!(rules.check_generate_name(&cron, &"a".repeat(47)).is_none());
        let long = rules.check_generate_name(&cron, &"a".repeat(48)).unwrap();
        assert!(
            long.contains("53 characters") && long.contains("at most 52"),
            "{long}"
        );
    }

    /// The places of a built-in kind, from the built-in definitions.
    fn builtin_places(definition: &str) -> std::sync::Arc<Places> {
        let definitions = crate::schema::bundle::Definitions::builtin().unwrap();
        crate::schema::places::from_definitions(&definitions.document)[definition].clone()
    }

    #[test]
    fn label_keys_values_and_annotations() {
        let object = json!({
            "metadata": {
                "labels": {"app.kubernetes.io/name": "web", "ok_key": "", "bad key": "x", "Bad.Prefix/x": "y", "v": "-starts-with-dash"},
                "annotations": {"example.com/note": "anything at all: spaces, / and :", "/empty-prefix": "x"}
            },
            "spec": {
                "selector": {"matchLabels": {"app": "a".repeat(64)}},
                "template": {"metadata": {"labels": {"tier": "front end"}}}
            }
        });
        let places = builtin_places("io.k8s.api.apps.v1.Deployment");
        let problems = check_labels(&object, Some(&places));
        let text = problems.join("\n");
        assert_eq!(problems.len(), 6, "{text}");
        assert!(
            text.contains("/metadata/labels: label key `bad key`"),
            "{text}"
        );
        assert!(text.contains("`Bad.Prefix/x`"), "{text}");
        assert!(
            text.contains("/metadata/labels/v: label value `-starts-with-dash`"),
            "{text}"
        );
        assert!(text.contains("annotation key `/empty-prefix`"), "{text}");
        assert!(text.contains("/spec/selector/matchLabels/app"), "{text}");
        assert!(
            text.contains("/spec/template/metadata/labels/tier"),
            "{text}"
        );
        assert!(check_labels(&json!({"metadata": {"labels": {"a": "b"}}}), None).is_empty());
        // Without places only the object's own metadata is read.
        assert_eq!(check_labels(&object, None).len(), 4, "{text}");
    }

    #[test]
    fn only_the_places_of_the_kind_are_read() {
        // A ConfigMap has no selectors: a `matchLabels` in it is data.
        let config = json!({"metadata": {"name": "x"}, "data": {"matchLabels": "a b"},
            "spec": {"matchLabels": {"k": "not a label"}}});
        assert!(check_labels(&config, None).is_empty());
        let service = json!({"spec": {"selector": {"app": "not a label"}}});
        let problems = check_labels(
            &service,
            Some(&builtin_places("io.k8s.api.core.v1.Service")),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("/spec/selector/app: label value `not a label`"),
            "{problems:?}"
        );
        // An embedded resource of a custom resource: its metadata as the API server checks it.
        let places = crate::schema::places::from_crd_schema(
            &json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"templates": {"type": "array", "items": {
                "type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}}}}}),
        );
        let custom = json!({"spec": {"templates": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b", "namespace": "Upper", "labels": {"a": "not a label"}}}
        ]}});
        let problems = check_labels(&custom, Some(&places));
        let text = problems.join("\n");
        assert_eq!(problems.len(), 3, "{text}");
        assert!(
            text.contains("/spec/templates/1/metadata/name: name `a/b` of an embedded object"),
            "{text}"
        );
        assert!(
            text.contains("/spec/templates/1/metadata/namespace: namespace `Upper`"),
            "{text}"
        );
        assert!(
            text.contains("/spec/templates/1/metadata/labels/a: label value"),
            "{text}"
        );
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert!(check_namespace("kube-system").is_none());
        let problem = check_namespace("${AUTOSCALER_NS}").unwrap();
        assert!(
            problem.starts_with("/metadata/namespace: namespace `${AUTOSCALER_NS}` is not valid: it must be a DNS label"),
            "{problem}"
        );
        assert!(check_namespace("team.a").is_some());
        assert!(check_namespace(&"a".repeat(64)).is_some());
    }

    #[test]
    fn annotations_have_a_total_size() {
        let big = "x".repeat(MAX_ANNOTATIONS_BYTES);
        let problems = check_labels(&json!({"metadata": {"annotations": {"a": big}}}), None);
        assert!(problems[0].contains("at most 262144"), "{problems:?}");
    }
}

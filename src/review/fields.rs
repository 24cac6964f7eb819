//! The fields that differ between two versions of an object, as a reviewer reads them: a
//! path through named lists by name (`containers[app].image`, not `containers/0/image`),
//! old → new values, Secret values hidden, and the changes Kubernetes users speak of by name
//! ("image nginx:1.25 → 1.27", "replicas 3 → 1") said that way.

use serde::Serialize;
use serde_json::Value;

use super::parts;
use crate::model::secrets;

/// What a value turns into where it must not be shown.
pub const HIDDEN: &str = "(hidden)";

/// Longest value shown whole; a longer one is cut (the JSON report has the field's path,
/// the generated files have the rest).
const SHOWN_CHARS: usize = 160;

/// One field that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    /// Where, from the object's top: `spec.template.spec.containers[app].image`.
    pub path: String,
    /// The old value as shown (`None`: the field is new).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The new value as shown (`None`: the field is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
    /// The change in a reviewer's words.
    pub text: String,
    /// `text` names the change ("replicas 3 → 1") rather than repeating path and values.
    #[serde(skip)]
    pub named: bool,
    /// Where the field is (or, for one that is gone, its nearest parent) in the new object:
    /// a JSON pointer from the object's top.
    #[serde(skip)]
    pub pointer: String,
    /// Its line in the generated file, where the file could be read again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// The same change, wherever it is: the same field with the same values (its line differs
/// between clusters' files and does not make it another change).
impl PartialEq for FieldChange {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.old == other.old && self.new == other.new
    }
}

impl Eq for FieldChange {}

/// The pointer in the new object of a path: it stops at an item only the old list had.
fn pointer_of(segments: &[Segment]) -> String {
    let mut pointer = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => {
                pointer.push('/');
                pointer.push_str(&crate::model::outcome::pointer_segment(key));
            }
            Segment::Named(_, Some(index)) | Segment::Index(index) => {
                pointer.push_str(&format!("/{index}"));
            }
            Segment::Named(_, None) => break,
        }
    }
    pointer
}

/// Every field that differs between `old` and `new`, in the order of the new object's
/// fields (then the removed ones). `hidden` are the Secret values never to be shown.
pub fn changes(old: &Value, new: &Value, hidden: &[String]) -> Vec<FieldChange> {
    let secret = secrets::is_secret(old) || secrets::is_secret(new);
    let mut found = Vec::new();
    walk(&mut Vec::new(), Some(old), Some(new), secret, &mut found);
    found
        .into_iter()
        .map(|(segments, old, new)| describe(&segments, old, new, secret, hidden))
        .collect()
}

/// One step of a path: a map key, a named list item, or a list index.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    /// An item of a list merged by name, with its index in the new list (`None`: it is
    /// only in the old one).
    Named(String, Option<usize>),
    Index(usize),
}

type Found<'a> = Vec<(Vec<Segment>, Option<&'a Value>, Option<&'a Value>)>;

fn walk<'a>(
    path: &mut Vec<Segment>,
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    secret: bool,
    found: &mut Found<'a>,
) {
    if old == new {
        return;
    }
    // A Secret's values are compared key by key and never descended into.
    let secret_values = secret
        && path.len() == 1
        && matches!(&path[0], Segment::Key(k) if k == "data" || k == "stringData");
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            for (key, value) in b {
                path.push(Segment::Key(key.clone()));
                if secret_values {
                    if a.get(key) != Some(value) {
                        found.push((path.clone(), a.get(key), Some(value)));
                    }
                } else {
                    walk(path, a.get(key), Some(value), secret, found);
                }
                path.pop();
            }
            for (key, value) in a.iter().filter(|(k, _)| !b.contains_key(*k)) {
                path.push(Segment::Key(key.clone()));
                found.push((path.clone(), Some(value), None));
                path.pop();
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b)))
            if a.iter().chain(b).all(|v| v.is_object()) =>
        {
            match (names(a), names(b)) {
                (Some(old_names), Some(new_names)) => {
                    for (index, (name, value)) in new_names.iter().zip(b).enumerate() {
                        let before = old_names.iter().position(|n| n == name).map(|i| &a[i]);
                        path.push(Segment::Named(name.clone(), Some(index)));
                        walk(path, before, Some(value), secret, found);
                        path.pop();
                    }
                    for (name, value) in old_names.iter().zip(a) {
                        if !new_names.contains(name) {
                            path.push(Segment::Named(name.clone(), None));
                            found.push((path.clone(), Some(value), None));
                            path.pop();
                        }
                    }
                }
                _ => {
                    for i in 0..a.len().max(b.len()) {
                        path.push(Segment::Index(i));
                        walk(path, a.get(i), b.get(i), secret, found);
                        path.pop();
                    }
                }
            }
        }
        _ => found.push((path.clone(), old, new)),
    }
}

/// The `name` of every item, when every item has one and they are all different (the
/// lists Kubernetes merges by name: containers, env, ports, volumes).
fn names(items: &[Value]) -> Option<Vec<String>> {
    let names: Vec<String> = items
        .iter()
        .map(|item| item.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect::<Option<_>>()?;
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    (sorted.len() == names.len()).then_some(names)
}

fn path_text(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) if plain_key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Key(key) => {
                text.push('[');
                text.push_str(&Value::String(key.clone()).to_string());
                text.push(']');
            }
            Segment::Named(name, _) if plain_key(name) => {
                text.push('[');
                text.push_str(name);
                text.push(']');
            }
            Segment::Named(name, _) => {
                text.push('[');
                text.push_str(&Value::String(name.clone()).to_string());
                text.push(']');
            }
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// A key shown bare: letters, digits, `-`, `_` and `/` (label keys), not starting with a
/// digit-free punctuation. Anything else (dots, spaces, brackets) is quoted.
fn plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | ':'))
}

/// A value as a reviewer reads it: a one-line string as it is, anything else as compact
/// JSON; multi-line text by its line count; long values cut.
pub fn shown(value: &Value, hidden: &[String]) -> String {
    let text = match value {
        Value::String(s) if s.contains('\n') => {
            format!("({} lines of text)", s.lines().count())
        }
        Value::String(s) if !s.is_empty() && s.trim() == s => s.clone(),
        other => other.to_string(),
    };
    let text = secrets::hide(&text, hidden);
    cut(&text)
}

fn cut(text: &str) -> String {
    if text.chars().count() <= SHOWN_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(SHOWN_CHARS).collect();
    out.push('…');
    out
}

fn describe(
    segments: &[Segment],
    old: Option<&Value>,
    new: Option<&Value>,
    secret: bool,
    hidden: &[String],
) -> FieldChange {
    let path = path_text(segments);
    // Anything below a Secret's data is a value (or, in an invalid Secret, holds them).
    let secret_value = secret
        && matches!(segments.first(), Some(Segment::Key(k)) if k == "data" || k == "stringData");
    let show = |v: Option<&Value>| {
        v.map(|v| {
            if secret_value {
                HIDDEN.to_owned()
            } else {
                shown(v, hidden)
            }
        })
    };
    let (old_shown, new_shown) = (show(old), show(new));
    let (text, named) = match phrase(
        segments,
        old,
        new,
        old_shown.as_deref(),
        new_shown.as_deref(),
        secret_value,
    ) {
        Some(text) => (secrets::hide(&text, hidden), true),
        None => (
            match (&old_shown, &new_shown) {
                (None, Some(b)) => format!("{path}: added {b}"),
                (Some(a), None) => format!("{path}: removed (was {a})"),
                (a, b) => format!("{path}: {}", arrow(a.as_deref(), b.as_deref())),
            },
            false,
        ),
    };
    FieldChange {
        path,
        old: old_shown,
        new: new_shown,
        text,
        named,
        pointer: pointer_of(segments),
        line: None,
    }
}

/// The container a path is inside, when it is: `containers[app]…` → `app`.
fn container(segments: &[Segment]) -> Option<(usize, &str)> {
    segments
        .windows(2)
        .enumerate()
        .find_map(|(i, pair)| match pair {
            [Segment::Key(list), Segment::Named(name, _)]
                if matches!(
                    list.as_str(),
                    "containers" | "initContainers" | "ephemeralContainers"
                ) =>
            {
                Some((i + 2, name.as_str()))
            }
            _ => None,
        })
}

/// The change in the words Kubernetes users have for it, where there are such words.
fn phrase(
    segments: &[Segment],
    old: Option<&Value>,
    new: Option<&Value>,
    old_shown: Option<&str>,
    new_shown: Option<&str>,
    secret_value: bool,
) -> Option<String> {
    if secret_value {
        // `data.password` → `password`; an invalid Secret's whole `data` stays `data`.
        let key = match segments {
            [_, rest @ ..] if !rest.is_empty() => path_text(rest),
            _ => path_text(segments),
        };
        return Some(match (old, new) {
            (None, _) => format!("Secret value {key} added (hidden)"),
            (_, None) => format!("Secret value {key} removed"),
            _ => format!("Secret value {key} changed (hidden)"),
        });
    }
    if let Some((at, name)) = container(segments) {
        let rest: Vec<&str> = segments[at..]
            .iter()
            .map(|s| match s {
                Segment::Key(k) | Segment::Named(k, _) => k.as_str(),
                Segment::Index(_) => "",
            })
            .collect();
        let words = match (rest.as_slice(), old_shown, new_shown) {
            ([], None, Some(_)) => Some("added".to_owned()),
            ([], Some(_), None) => Some("removed".to_owned()),
            (["image"], Some(a), Some(b)) => Some(image_change(a, b)),
            (["resources", which @ ("limits" | "requests"), resource], a, b) => Some(format!(
                "{resource} {} {}",
                if *which == "limits" {
                    "limit"
                } else {
                    "request"
                },
                arrow(a, b)
            )),
            (["env", var, "value"], a, b) | (["env", var], a, b) => {
                Some(format!("env {var} {}", arrow(a, b)))
            }
            _ => None,
        };
        if let Some(words) = words {
            return Some(format!("container {name}: {words}"));
        }
    }
    let keys: Vec<&str> = segments
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.as_str(),
            _ => "",
        })
        .collect();
    match keys.as_slice() {
        ["spec", "replicas"] => Some(format!("replicas {}", arrow(old_shown, new_shown))),
        ["spec", "type"] => Some(format!("type {}", arrow(old_shown, new_shown))),
        ["roleRef", ..] => Some(format!("role {}", arrow(old_shown, new_shown))),
        _ => None,
    }
}

fn arrow(old: Option<&str>, new: Option<&str>) -> String {
    format!("{} → {}", old.unwrap_or("(none)"), new.unwrap_or("(none)"))
}

/// `image nginx:1.25 → 1.27` when only the tag (or digest) changes, else both whole.
pub(crate) fn image_change(old: &str, new: &str) -> String {
    let (old_repo, _) = split_image(old);
    let (new_repo, new_ref) = split_image(new);
    if old_repo == new_repo && !new_ref.is_empty() {
        format!("image {old} → {new_ref}")
    } else {
        format!("image {old} → {new}")
    }
}

/// An image's repository and its tag or digest (`@sha256:…` or `:tag`); the port of a
/// registry (`host:5000/app`) is not a tag.
pub fn split_image(image: &str) -> (&str, &str) {
    if let Some(at) = image.find('@') {
        return (&image[..at], &image[at + 1..]);
    }
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => (
            &image[..last_slash + colon],
            &image[last_slash + colon + 1..],
        ),
        None => (image, ""),
    }
}

/// What an added (or removed) object is, in a few words, where its kind has them: a
/// binding's role and subjects, a workload's images, a Service's type and ports, the keys of
/// a ConfigMap or Secret (never a Secret's values).
pub fn about(value: &Value, hidden: &[String]) -> Option<String> {
    let kind = value.get("kind").and_then(Value::as_str)?;
    let keys = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let text = match kind {
        "RoleBinding" | "ClusterRoleBinding" => {
            let field = |f: &str| value.pointer(f).and_then(Value::as_str).unwrap_or("?");
            let subjects: Vec<String> = parts::subjects(Some(value)).into_iter().collect();
            format!(
                "binds {} {} to {}",
                field("/roleRef/kind"),
                field("/roleRef/name"),
                if subjects.is_empty() {
                    "no one".to_owned()
                } else {
                    subjects.join(", ")
                }
            )
        }
        "Service" => {
            let kind = value
                .pointer("/spec/type")
                .and_then(Value::as_str)
                .unwrap_or("ClusterIP");
            let ports: Vec<String> = value
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("port").map(|p| p.to_string()))
                .collect();
            format!("type {kind}, ports {}", ports.join(", "))
        }
        "ConfigMap" => format!("keys {}", keys(value.get("data")).join(", ")),
        "Secret" => {
            let mut names = keys(value.get("data"));
            names.extend(keys(value.get("stringData")));
            format!("keys {} (values hidden)", names.join(", "))
        }
        "Ingress" => {
            let hosts: Vec<String> = parts::ingress_hosts(Some(value)).into_iter().collect();
            format!("hosts {}", hosts.join(", "))
        }
        "Namespace" => return None,
        _ => {
            let spec = parts::pod_spec(value)?;
            let images: Vec<String> = parts::containers(spec)
                .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut text = format!("images {}", images.join(", "));
            if let Some(replicas) = value.pointer("/spec/replicas") {
                text.push_str(&format!(", replicas {replicas}"));
            }
            text
        }
    };
    Some(cut(&secrets::hide(&text, hidden)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(old: Value, new: Value) -> Vec<String> {
        changes(&old, &new, &[])
            .into_iter()
            .map(|c| c.text)
            .collect()
    }

    #[test]
    fn named_lists_are_followed_by_name_and_known_fields_are_said_by_name() {
        let old = crate::review::tests::deployment("nginx:1.25", 3);
        let mut new = crate::review::tests::deployment("nginx:1.27", 1);
        new["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!({"name": "sidecar", "image": "envoy:1"}));
        let found = changes(&old, &new, &[]);
        let paths: Vec<&str> = found.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.replicas",
                "spec.template.spec.containers[sidecar]",
                "spec.template.spec.containers[app].image"
            ]
        );
        let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "replicas 3 → 1",
                "container sidecar: added",
                "container app: image nginx:1.25 → 1.27"
            ]
        );
    }

    #[test]
    fn registry_ports_are_not_tags() {
        assert_eq!(split_image("reg:5000/app"), ("reg:5000/app", ""));
        assert_eq!(split_image("reg:5000/app:1.2"), ("reg:5000/app", "1.2"));
        assert_eq!(split_image("app@sha256:ab"), ("app", "sha256:ab"));
        assert_eq!(
            image_change("reg:5000/app:1", "other/app:1"),
            "image reg:5000/app:1 → other/app:1"
        );
    }

    #[test]
    fn secret_values_are_hidden_and_copies_of_them_elsewhere_too() {
        let old = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2", "user": "bob"}});
        let new = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "correct horse", "token": "t0ken"}});
        let found = changes(&old, &new, &[]);
        let all = format!("{found:?}");
        for value in ["hunter2", "correct horse", "t0ken", "bob"] {
            assert!(!all.contains(value), "{value} shown: {all}");
        }
        assert!(
            all.contains("Secret value password changed (hidden)"),
            "{all}"
        );
        assert!(all.contains("Secret value token added (hidden)"), "{all}");
        assert!(all.contains("Secret value user removed"), "{all}");
        let hidden = vec!["hunter2".to_owned()];
        let env = |v: &str| {
            json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "env": [{"name": "P", "value": v}]}]}})
        };
        let shown = format!("{:?}", changes(&env("x"), &env("hunter2"), &hidden));
        assert!(
            !shown.contains("hunter2") && shown.contains("env P"),
            "{shown}"
        );
    }

    #[test]
    fn lists_without_names_go_by_index_and_odd_keys_are_quoted() {
        assert_eq!(
            texts(json!({"a": [{"x": 1}]}), json!({"a": [{"x": 2}, {"x": 3}]})),
            ["a[0].x: 1 → 2", "a[1]: added {\"x\":3}"]
        );
        assert_eq!(
            texts(
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}}),
                json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}}})
            ),
            ["metadata.labels[\"app.kubernetes.io/name\"]: a → b"]
        );
        assert_eq!(
            texts(
                json!({"data": {"f": "a\nb\n"}}),
                json!({"data": {"f": "a\nb\nc\n"}})
            ),
            ["data.f: (2 lines of text) → (3 lines of text)"]
        );
    }
}

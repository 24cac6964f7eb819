//! `policyrun diff`: what applying would change, per object — the live object against the
//! API server's own answer to a dry-run apply (so defaults and merges are the server's), with
//! the fields the server manages left out and Secret values hidden.

use serde_json::Value;

use super::kubeapi::{self, ApplyOptions, Resources};
use super::stage::Desired;
use crate::model::outcome::{Location, Outcome, Stage, Status};
use crate::model::secrets;

/// Check name of a diff result: passed when nothing would change, a warning with the diff
/// when something would.
pub(crate) const DIFF: &str = "diff";

/// Metadata the API server writes, not the repository.
const SERVER_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
];

/// Leaves out what the server manages: `status`, server-written metadata, and kubectl's
/// last-applied annotation.
pub(crate) fn strip_server_fields(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    map.remove("status");
    if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in SERVER_METADATA {
            metadata.remove(*field);
        }
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
            if annotations.is_empty() {
                metadata.remove("annotations");
            }
        }
    }
}

/// A unified diff from the live object to the one applying would leave, Secret values
/// hidden; `None` when they are the same.
pub(crate) fn object_diff(name: &str, live: Option<&Value>, predicted: &Value) -> Option<String> {
    let mut after = predicted.clone();
    strip_server_fields(&mut after);
    let mut before = match live {
        Some(live) => {
            let mut live = live.clone();
            strip_server_fields(&mut live);
            live
        }
        None => Value::Null,
    };
    if before == after {
        return None;
    }
    let changed_secrets = changed_secret_keys(&before, &after);
    let reference = before.clone();
    crate::model::secrets::mask_secrets(&mut before, Some(&after));
    crate::model::secrets::mask_secrets(&mut after, Some(&reference));
    let text = |value: &Value| match value {
        Value::Null => String::new(),
        other => serde_json::to_string_pretty(other).unwrap_or_default() + "\n",
    };
    let (old, new) = (text(&before), text(&after));
    let mut diff = similar::TextDiff::from_lines(old.as_str(), new.as_str())
        .unified_diff()
        .context_radius(3)
        .header(&format!("{name} (live)"), &format!("{name} (after apply)"))
        .to_string();
    if !changed_secrets.is_empty() {
        // Hidden values look the same on both sides; say which ones change.
        diff.push_str(&format!(
            "Secret values that would change (hidden): {}\n",
            changed_secrets.join(", ")
        ));
    }
    Some(diff)
}

/// `data.<key>` and `stringData.<key>` of a Secret whose values differ between the sides.
/// Either side may be the Secret: where the other is not one, every value of the Secret
/// counts as changed.
fn changed_secret_keys(before: &Value, after: &Value) -> Vec<String> {
    if before.is_null() || !(secrets::is_secret(before) || secrets::is_secret(after)) {
        return Vec::new();
    }
    let side = |value: &'_ Value, field: &str| -> Option<Value> {
        secrets::is_secret(value)
            .then(|| value.get(field).cloned())
            .flatten()
    };
    let mut keys = Vec::new();
    for field in ["data", "stringData"] {
        let (old, new) = (side(before, field), side(after, field));
        let not_a_map = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_object());
        if not_a_map(&old) || not_a_map(&new) {
            // An invalid Secret's field, hidden whole.
            if old != new {
                keys.push(field.to_owned());
            }
            continue;
        }
        let names: std::collections::BTreeSet<&String> = [&old, &new]
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|m| m.keys())
            .collect();
        for key in names {
            if old.as_ref().and_then(|m| m.get(key)) != new.as_ref().and_then(|m| m.get(key)) {
                keys.push(format!("{field}.{key}"));
            }
        }
    }
    keys
}

/// One diff result per object of a cluster.
pub(crate) async fn cluster(client: &kube::Client, objects: Vec<Desired>) -> Vec<Outcome> {
    let mut resources = Resources::default();
    let mut outcomes = Vec::with_capacity(objects.len());
    for desired in objects {
        let base = Outcome::new(Stage::Apply, DIFF, Status::Passed)
            .cluster(&desired.id.cluster)
            .entry(desired.id.entry.clone())
            .subject(desired.id.display_name())
            .object(desired.id.clone())
            .location(Location::file(desired.file.clone()));
        let dry_run = ApplyOptions {
            dry_run: true,
            force_conflicts: false,
        };
        let result = async {
            resources
                .resolve(client, &desired.id.api_version, &desired.id.kind)
                .await?;
            let live = kubeapi::get(client, &resources, &desired.value).await?;
            let predicted = kubeapi::apply(client, &resources, &desired.value, dry_run).await?;
            Ok::<_, String>((live, predicted))
        }
        .await;
        outcomes.push(match result {
            Err(problem) => Outcome {
                status: Status::Error,
                ..base
            }
            .message(problem),
            Ok((live, predicted)) => {
                match object_diff(&desired.id.display_name(), live.as_ref(), &predicted) {
                    None => base.message("no changes"),
                    Some(diff) => Outcome {
                        status: Status::Warning,
                        ..base
                    }
                    .message(if live.is_some() {
                        "would change"
                    } else {
                        "would be created"
                    })
                    .detail(diff),
                }
            }
        });
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_fields_do_not_count_as_changes() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "1", "resourceVersion": "7", "managedFields": [],
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "data": {"k": "v"}, "status": {}});
        let predicted = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "1", "resourceVersion": "8"}, "data": {"k": "v"}});
        assert_eq!(object_diff("ConfigMap a", Some(&live), &predicted), None);
        let changed = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a"}, "data": {"k": "w"}});
        let diff = object_diff("ConfigMap a", Some(&live), &changed).unwrap();
        assert!(
            diff.contains("-    \"k\": \"v\"") && diff.contains("+    \"k\": \"w\""),
            "{diff}"
        );
    }

    #[test]
    fn secret_values_are_hidden_in_diffs() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}});
        let predicted = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "bmV3LXBhc3M=", "user": "YWRtaW4="}});
        let diff = object_diff("Secret db", Some(&live), &predicted).unwrap();
        assert!(
            !diff.contains("aHVudGVyMg==") && !diff.contains("bmV3LXBhc3M="),
            "{diff}"
        );
        assert!(!diff.contains("YWRtaW4="), "{diff}");
        assert!(
            diff.contains("would change (hidden): data.password"),
            "{diff}"
        );
    }

    #[test]
    fn a_secret_on_the_live_side_only_is_hidden_too() {
        let live = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}});
        let predicted = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}});
        let diff = object_diff("db", Some(&live), &predicted).unwrap();
        assert!(
            diff.contains("-    \"password\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(
            diff.contains("would change (hidden): data.password"),
            "{diff}"
        );
        let diff = object_diff("db", Some(&predicted), &live).unwrap();
        assert!(
            diff.contains("+    \"password\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(
            diff.contains("would change (hidden): data.password"),
            "{diff}"
        );
    }

    #[test]
    fn a_new_object_is_all_additions() {
        let predicted = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        let diff = object_diff("ConfigMap a", None, &predicted).unwrap();
        assert!(
            diff.lines()
                .filter(|l| l.starts_with('-') && !l.starts_with("---"))
                .count()
                == 0
        );
        assert!(diff.contains("+  \"kind\": \"ConfigMap\""), "{diff}");
    }
}

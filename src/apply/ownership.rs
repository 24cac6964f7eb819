//! Which live objects policyrun may prune: only those it applied itself, for this cluster,
//! from an entry of this repository, and that the tree no longer holds. Other tools deleted
//! objects that merely carried an inherited label, or whole namespaces; here the label only
//! narrows the listing, and the ownership annotation decides.

use std::collections::HashSet;

use serde_json::Value;

/// The label every applied object carries, so that a cluster can be listed for pruning.
pub(crate) const MANAGED_LABEL: &str = "app.kubernetes.io/managed-by";
/// Its value.
pub(crate) const MANAGED_VALUE: &str = "policyrun";
/// The annotation that says who applied the object: `<repository>/<cluster>/<entry>`.
pub(crate) const OWNER_ANNOTATION: &str = "policyrun.io/owner";

/// Who applies an object: the repository, the cluster and the entry that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Owner {
    pub(crate) repository: String,
    pub(crate) cluster: String,
    pub(crate) entry: String,
}

impl Owner {
    /// The annotation value.
    pub(crate) fn annotation(&self) -> String {
        format!("{}/{}/{}", self.repository, self.cluster, self.entry)
    }

    /// Reads an annotation value back: the repository and cluster never contain `/`
    /// (cluster names cannot; the repository id is checked when configured), the entry may.
    pub(crate) fn parse(text: &str) -> Option<Owner> {
        let (repository, rest) = text.split_once('/')?;
        let (cluster, entry) = rest.split_once('/')?;
        if repository.is_empty() || cluster.is_empty() || entry.is_empty() {
            return None;
        }
        Some(Owner {
            repository: repository.to_owned(),
            cluster: cluster.to_owned(),
            entry: entry.to_owned(),
        })
    }
}

/// Who a live object's identity is: (apiVersion group, kind, namespace, name). The version
/// is left out: the same object is served under several.
pub(crate) type LiveKey = (String, String, Option<String>, String);

/// The key of a live or desired object.
pub(crate) fn key(object: &Value) -> Option<LiveKey> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let api_version = text("/apiVersion")?;
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    Some((
        group.to_owned(),
        text("/kind")?.to_owned(),
        text("/metadata/namespace").map(str::to_owned),
        text("/metadata/name")?.to_owned(),
    ))
}

/// Adds policyrun's label and ownership annotation to an object about to be applied.
pub(crate) fn mark(object: &mut Value, owner: &Owner) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, key, value) in [
        ("labels", MANAGED_LABEL, MANAGED_VALUE.to_owned()),
        ("annotations", OWNER_ANNOTATION, owner.annotation()),
    ] {
        let map = metadata
            .entry(field)
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(map) = map.as_object_mut() {
            map.insert(key.to_owned(), Value::String(value));
        }
    }
}

/// Why a live object is or is not pruned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PruneDecision {
    /// Applied by this repository for this cluster, and no longer in the tree.
    Prune,
    /// Still in the tree.
    Desired,
    /// No ownership annotation: not policyrun's (a label alone proves nothing).
    NotOurs,
    /// Applied by another repository or for another cluster.
    OwnedElsewhere(String),
    /// Owned by something inside the cluster (a controller's `ownerReferences`).
    Controlled,
}

/// Decides, for one live object, whether pruning may delete it.
pub(crate) fn prune_decision(
    live: &Value,
    desired: &HashSet<LiveKey>,
    repository: &str,
    cluster: &str,
) -> PruneDecision {
    if key(live).is_some_and(|k| desired.contains(&k)) {
        return PruneDecision::Desired;
    }
    let annotation = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(OWNER_ANNOTATION))
        .and_then(Value::as_str);
    let Some(text) = annotation else {
        return PruneDecision::NotOurs;
    };
    let Some(owner) = Owner::parse(text) else {
        return PruneDecision::OwnedElsewhere(text.to_owned());
    };
    if owner.repository != repository || owner.cluster != cluster {
        return PruneDecision::OwnedElsewhere(text.to_owned());
    }
    let controlled = live
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| !refs.is_empty());
    if controlled {
        return PruneDecision::Controlled;
    }
    PruneDecision::Prune
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn owner() -> Owner {
        Owner {
            repository: "infra".into(),
            cluster: "dev".into(),
            entry: "clusters/dev/web.jsonnet".into(),
        }
    }

    fn live(annotation: Option<&str>) -> Value {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "old", "namespace": "web", "labels": {MANAGED_LABEL: MANAGED_VALUE}}});
        if let Some(annotation) = annotation {
            object["metadata"]["annotations"] = json!({OWNER_ANNOTATION: annotation});
        }
        object
    }

    #[test]
    fn owner_annotations_round_trip() {
        let text = owner().annotation();
        assert_eq!(text, "infra/dev/clusters/dev/web.jsonnet");
        assert_eq!(Owner::parse(&text), Some(owner()));
        assert_eq!(Owner::parse("infra/dev"), None);
    }

    #[test]
    fn marking_adds_label_and_annotation_and_keeps_the_rest() {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"app": "web"}}});
        mark(&mut object, &owner());
        assert_eq!(object["metadata"]["labels"]["app"], "web");
        assert_eq!(object["metadata"]["labels"][MANAGED_LABEL], MANAGED_VALUE);
        assert_eq!(
            object["metadata"]["annotations"][OWNER_ANNOTATION],
            "infra/dev/clusters/dev/web.jsonnet"
        );
    }

    #[test]
    fn only_our_own_objects_that_left_the_tree_are_pruned() {
        let desired = HashSet::new();
        assert_eq!(
            prune_decision(&live(Some(&owner().annotation())), &desired, "infra", "dev"),
            PruneDecision::Prune
        );
        // A label alone (inherited, copied) is not ownership.
        assert_eq!(
            prune_decision(&live(None), &desired, "infra", "dev"),
            PruneDecision::NotOurs
        );
        // Another cluster's or repository's objects are left alone.
        assert!(matches!(
            prune_decision(
                &live(Some("infra/web/clusters/web/web.jsonnet")),
                &desired,
                "infra",
                "dev"
            ),
            PruneDecision::OwnedElsewhere(_)
        ));
        assert!(matches!(
            prune_decision(&live(Some("other/dev/x.jsonnet")), &desired, "infra", "dev"),
            PruneDecision::OwnedElsewhere(_)
        ));
        // Still desired: kept, whatever the version it is served under.
        let mut desired = HashSet::new();
        desired.insert(
            key(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "old", "namespace": "web"}}))
            .unwrap(),
        );
        assert_eq!(
            prune_decision(&live(Some(&owner().annotation())), &desired, "infra", "dev"),
            PruneDecision::Desired
        );
    }

    #[test]
    fn objects_a_controller_owns_are_not_pruned() {
        let mut object = live(Some(&owner().annotation()));
        object["metadata"]["ownerReferences"] = json!([{"kind": "Deployment", "name": "web"}]);
        assert_eq!(
            prune_decision(&object, &HashSet::new(), "infra", "dev"),
            PruneDecision::Controlled
        );
    }
}

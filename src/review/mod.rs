//! What a change does to the clusters, told offline: the generated trees of a base revision
//! and of the change under review, compared object by object per cluster, with the fields that
//! change (Secret values never shown), the same change in several clusters said once, and
//! the risks a reviewer must not miss flagged. Plain data in, plain data out: reading the
//! trees is the pipeline's, writing them out the report's.

pub mod fields;
pub mod group;
mod parts;
pub mod risks;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::model::outcome::{Location, Outcome, Stage, Status};
use crate::model::secrets;

pub use fields::FieldChange;
pub use group::Group;
pub use risks::{Risk, RiskRule};

/// Who an object is inside one cluster, whatever file holds it: a change of API version
/// (apps/v1beta2 → apps/v1) is a change of the same object, as the API server sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// The API group (`""` for the core group).
    pub group: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// The key of an object's value; `None` when it has no kind or name.
    pub fn of(value: &Value) -> Option<ObjectKey> {
        let api_version = value.get("apiVersion")?.as_str()?;
        let kind = value.get("kind")?.as_str()?;
        let metadata = value.get("metadata")?;
        let name = metadata.get("name")?.as_str()?;
        let namespace = metadata
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|ns| !ns.is_empty());
        Some(ObjectKey {
            group: group_of(api_version).to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        })
    }

    /// `Kind namespace/name` (or `Kind name`), the way kubectl users read it.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The group part of an `apiVersion`.
pub fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}

/// One object of a generated tree, as the pipeline read it.
#[derive(Debug, Clone)]
pub struct TreeObject {
    pub cluster: String,
    pub key: ObjectKey,
    pub value: Value,
    /// The generated file, relative to the repository root.
    pub file: PathBuf,
    /// 1-based line where the object starts in its file.
    pub line: usize,
    /// Where the object is in its file (`/items/3` in a List; empty at the top).
    pub pointer: String,
}

/// The line of a JSON pointer in a generated file of the head side, where it can tell.
pub type Locate<'a> = &'a dyn Fn(&std::path::Path, &str) -> Option<usize>;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Changed,
    Removed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One object's change in one cluster.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectChange {
    pub cluster: String,
    pub key: ObjectKey,
    pub change: ChangeKind,
    /// The file on the side that has the object (head's, else base's).
    pub file: PathBuf,
    pub line: usize,
    /// For a changed object, every field that differs; for an added or removed one, empty.
    pub fields: Vec<FieldChange>,
    /// For an added or removed object, what it is in a few words (`fields::about`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub risks: Vec<Risk>,
}

impl ObjectChange {
    /// Whether two clusters' changes of the same object are the same change: the kind of
    /// change, the fields with their values, what it is, and the risks.
    fn same_as(&self, other: &ObjectChange) -> bool {
        self.change == other.change
            && self.fields == other.fields
            && self.about == other.about
            && self.risks == other.risks
    }
}

/// The whole review: every object change, per cluster and grouped across clusters.
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    /// The base revision as given, and the commit it was resolved to.
    pub base: String,
    pub base_commit: String,
    /// The clusters in rollout order (then any the base has that the configuration lost).
    pub clusters: Vec<String>,
    /// Every object change, by cluster (in `clusters` order), then kind, namespace, name.
    pub changes: Vec<ObjectChange>,
    /// The same object's changes, clusters with the same change together.
    pub groups: Vec<Group>,
    /// Files of the trees that are not objects (not valid JSON, no kind or name): said,
    /// never skipped silently.
    pub unreadable: Vec<String>,
}

impl Review {
    /// Counts per cluster: (added, changed, removed, risks).
    pub fn counts(&self, cluster: &str) -> [usize; 4] {
        let mut counts = [0; 4];
        for change in self.changes.iter().filter(|c| c.cluster == cluster) {
            counts[match change.change {
                ChangeKind::Added => 0,
                ChangeKind::Changed => 1,
                ChangeKind::Removed => 2,
            }] += 1;
            counts[3] += change.risks.len();
        }
        counts
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The check name of a cluster's count of changes.
pub const CHANGES: &str = "changes";

/// The review as outcomes, for the reports every run writes (the JUnit suite, the human
/// report): per cluster a passed outcome counting its changes, and a warning per risk flag
/// on the object it flags. A review never fails a gate: what fails is the gate's own.
pub fn outcomes(review: &Review) -> Vec<Outcome> {
    let mut out = Vec::new();
    for cluster in &review.clusters {
        let [added, changed, removed, risks] = review.counts(cluster);
        if added + changed + removed == 0 {
            continue;
        }
        out.push(
            Outcome::new(Stage::Review, CHANGES, Status::Passed)
                .cluster(cluster)
                .subject(format!("changes since {}", review.base))
                .message(format!(
                    "{added} added, {changed} changed, {removed} removed; {risks} risk flag(s)"
                )),
        );
    }
    for change in &review.changes {
        for risk in &change.risks {
            out.push(
                Outcome::new(Stage::Review, risk.rule.id(), Status::Warning)
                    .cluster(&change.cluster)
                    .subject(change.key.display())
                    .message(format!("{}: {}", risk.rule.title(), risk.message))
                    .location(Location {
                        line: Some(change.line),
                        ..Location::file(change.file.clone())
                    }),
            );
        }
    }
    for problem in &review.unreadable {
        out.push(
            Outcome::new(Stage::Review, "readable", Status::Warning)
                .subject("generated tree")
                .message(format!("not reviewed: {problem}")),
        );
    }
    out
}

/// What compare needs to know beyond the trees.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Cluster names in rollout order.
    pub clusters: Vec<String>,
}

/// Compares the base and head objects of the changed files. Objects of files that did not
/// change are the same on both sides and need not be given.
pub fn compare(
    base: Vec<TreeObject>,
    head: Vec<TreeObject>,
    context: &Context,
    base_name: (&str, &str),
    locate: Locate<'_>,
) -> Review {
    // Every Secret value of either side is hidden wherever it would be shown, also outside
    // Secrets (a value copied into an environment variable).
    let mut hidden: Vec<String> = base
        .iter()
        .chain(&head)
        .flat_map(|o| secrets::value_strings(&o.value))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    hidden.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));

    let mut before: BTreeMap<(String, ObjectKey), TreeObject> = BTreeMap::new();
    for object in base {
        before
            .entry((object.cluster.clone(), object.key.clone()))
            .or_insert(object);
    }
    let mut after: BTreeMap<(String, ObjectKey), TreeObject> = BTreeMap::new();
    for object in head {
        after
            .entry((object.cluster.clone(), object.key.clone()))
            .or_insert(object);
    }

    let mut changes = Vec::new();
    let keys: std::collections::BTreeSet<&(String, ObjectKey)> =
        before.keys().chain(after.keys()).collect();
    for key in keys {
        let (old, new) = (before.get(key), after.get(key));
        // The side that has the object points the reader at it: head's, else base's.
        let (change, shown) = match (old, new) {
            (Some(old), Some(new)) if old.value == new.value => continue,
            (Some(_), Some(new)) => (ChangeKind::Changed, new),
            (None, Some(new)) => (ChangeKind::Added, new),
            (Some(old), None) => (ChangeKind::Removed, old),
            (None, None) => continue,
        };
        let mut fields = Vec::new();
        let mut about = None;
        match (old, new) {
            (Some(old), Some(new)) => {
                fields = fields::changes(&old.value, &new.value, &hidden);
                for field in &mut fields {
                    field.line = locate(&new.file, &format!("{}{}", new.pointer, field.pointer));
                }
            }
            _ => about = fields::about(&shown.value, &hidden),
        }
        let mut change = ObjectChange {
            cluster: key.0.clone(),
            key: key.1.clone(),
            change,
            file: shown.file.clone(),
            line: shown.line,
            fields,
            about,
            risks: Vec::new(),
        };
        let cluster_before = |k: &ObjectKey| before.get(&(key.0.clone(), k.clone()));
        let cluster_after = |k: &ObjectKey| after.get(&(key.0.clone(), k.clone()));
        change.risks = risks::assess(
            &key.1,
            old.map(|o| &o.value),
            new.map(|o| &o.value),
            &risks::Surroundings {
                role_before: &|k| cluster_before(k).map(|o| &o.value),
                role_after: &|k| cluster_after(k).map(|o| &o.value),
            },
            &hidden,
        );
        changes.push(change);
    }

    moved_between_namespaces(&mut changes);
    let mut clusters = context.clusters.clone();
    for change in &changes {
        if !clusters.contains(&change.cluster) {
            clusters.push(change.cluster.clone());
        }
    }
    let rank = |cluster: &str| clusters.iter().position(|c| c == cluster);
    changes.sort_by(|a, b| {
        rank(&a.cluster)
            .cmp(&rank(&b.cluster))
            .then_with(|| a.key.kind.cmp(&b.key.kind))
            .then_with(|| a.key.namespace.cmp(&b.key.namespace))
            .then_with(|| a.key.name.cmp(&b.key.name))
            .then_with(|| a.key.group.cmp(&b.key.group))
    });
    let groups = group::of(&changes, &clusters);
    Review {
        base: base_name.0.to_owned(),
        base_commit: base_name.1.to_owned(),
        clusters,
        changes,
        groups,
        unreadable: Vec::new(),
    }
}

/// An object removed from one namespace and added in another of the same cluster is a
/// move: the API server sees a new object and deletes the old one, so its data (a volume
/// claim's, a Secret's) does not follow.
fn moved_between_namespaces(changes: &mut [ObjectChange]) {
    let mut removed: std::collections::HashMap<(String, String, String, String), String> =
        Default::default();
    for change in changes.iter().filter(|c| c.change == ChangeKind::Removed) {
        if let Some(namespace) = &change.key.namespace {
            removed.insert(
                (
                    change.cluster.clone(),
                    change.key.group.clone(),
                    change.key.kind.clone(),
                    change.key.name.clone(),
                ),
                namespace.clone(),
            );
        }
    }
    for change in changes.iter_mut().filter(|c| c.change == ChangeKind::Added) {
        let from = removed.get(&(
            change.cluster.clone(),
            change.key.group.clone(),
            change.key.kind.clone(),
            change.key.name.clone(),
        ));
        if let Some(from) = from {
            change.risks.push(Risk {
                rule: RiskRule::NamespaceChanged,
                message: format!(
                    "moved from namespace {from} to {}: a new object, and the old one is deleted",
                    change.key.namespace.as_deref().unwrap_or("(none)")
                ),
            });
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn object(cluster: &str, value: Value) -> TreeObject {
        TreeObject {
            cluster: cluster.to_owned(),
            key: ObjectKey::of(&value).unwrap(),
            file: PathBuf::from(format!("generated/{cluster}/x.json")),
            line: 1,
            pointer: String::new(),
            value,
        }
    }

    pub(crate) fn deployment(image: &str, replicas: u64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "app", "image": image}]}}}})
    }

    fn context() -> Context {
        Context {
            clusters: vec!["dev".into(), "int".into(), "web".into()],
        }
    }

    #[test]
    fn equal_objects_are_no_change_and_an_api_version_move_is_a_change_of_the_same_object() {
        let old = deployment("nginx:1.25", 2);
        let mut new = old.clone();
        let review = compare(
            vec![object("dev", old.clone())],
            vec![object("dev", new.clone())],
            &context(),
            ("main", "abc"),
            &|_, _| None,
        );
        assert!(review.is_empty());
        new["apiVersion"] = json!("apps/v1beta2");
        let review = compare(
            vec![object("dev", old)],
            vec![object("dev", new)],
            &context(),
            ("main", "abc"),
            &|_, _| None,
        );
        assert_eq!(review.changes.len(), 1);
        assert_eq!(review.changes[0].change, ChangeKind::Changed);
        assert_eq!(review.changes[0].fields[0].path, "apiVersion");
    }

    #[test]
    fn an_object_moved_to_another_namespace_is_flagged_on_its_new_place() {
        let old = deployment("a:1", 1);
        let mut new = old.clone();
        new["metadata"]["namespace"] = json!("shop-v2");
        let review = compare(
            vec![object("dev", old)],
            vec![object("dev", new)],
            &context(),
            ("main", "abc"),
            &|_, _| None,
        );
        let added = review
            .changes
            .iter()
            .find(|c| c.change == ChangeKind::Added)
            .unwrap();
        assert_eq!(added.risks[0].rule, RiskRule::NamespaceChanged);
        assert!(
            added.risks[0]
                .message
                .contains("from namespace shop to shop-v2")
        );
    }

    #[test]
    fn changes_come_in_rollout_order_with_clusters_the_configuration_lost_last() {
        let review = compare(
            vec![
                object("web", deployment("a:1", 1)),
                object("old", deployment("a:1", 1)),
            ],
            vec![
                object("web", deployment("a:2", 1)),
                object("dev", deployment("a:2", 1)),
            ],
            &context(),
            ("main", "abc"),
            &|_, _| None,
        );
        let order: Vec<(&str, ChangeKind)> = review
            .changes
            .iter()
            .map(|c| (c.cluster.as_str(), c.change))
            .collect();
        assert_eq!(
            order,
            [
                ("dev", ChangeKind::Added),
                ("web", ChangeKind::Changed),
                ("old", ChangeKind::Removed)
            ]
        );
        assert_eq!(review.clusters.last().map(String::as_str), Some("old"));
    }
}

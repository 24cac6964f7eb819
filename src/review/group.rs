//! The same change in several clusters said once: a change to a shared stack or library
//! lands in every cluster, and a reviewer should read it once, with the clusters where it
//! differs set apart ("int and web: …; dev: …").

use serde::Serialize;

use super::{ChangeKind, FieldChange, ObjectChange, ObjectKey, Risk, RiskRule};

/// One object's changes across the clusters.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key: ObjectKey,
    /// Clusters with the same change together, in rollout order of their first cluster.
    pub parts: Vec<Part>,
}

/// The clusters where an object changed in the same way, and that way.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub clusters: Vec<String>,
    pub change: ChangeKind,
    pub fields: Vec<FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    pub risks: Vec<Risk>,
}

impl Group {
    /// The most serious rule any part flags.
    pub fn worst(&self) -> Option<RiskRule> {
        self.parts
            .iter()
            .flat_map(|p| &p.risks)
            .map(|r| r.rule)
            .min()
    }
}

/// Groups `changes` (sorted by cluster order) by object, then by equal change.
pub fn of(changes: &[ObjectChange], clusters: &[String]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: std::collections::HashMap<&ObjectKey, usize> = Default::default();
    let mut signatures: Vec<Vec<usize>> = Vec::new();
    for (index, change) in changes.iter().enumerate() {
        let at = *by_key.entry(&change.key).or_insert_with(|| {
            groups.push(Group {
                key: change.key.clone(),
                parts: Vec::new(),
            });
            signatures.push(Vec::new());
            groups.len() - 1
        });
        let group = &mut groups[at];
        let same = signatures[at]
            .iter()
            .position(|&first| changes[first].same_as(change));
        match same {
            Some(part) => group.parts[part].clusters.push(change.cluster.clone()),
            None => {
                signatures[at].push(index);
                group.parts.push(Part {
                    clusters: vec![change.cluster.clone()],
                    change: change.change,
                    fields: change.fields.clone(),
                    about: change.about.clone(),
                    risks: change.risks.clone(),
                });
            }
        }
    }
    let rank = |g: &Group| {
        g.parts
            .first()
            .and_then(|p| p.clusters.first())
            .and_then(|c| clusters.iter().position(|x| x == c))
    };
    groups.sort_by(|a, b| {
        // Risky ones first, the most serious rule first; then the order of the listing.
        let risk = |g: &Group| g.worst().map_or(usize::MAX, |r| r as usize);
        risk(a)
            .cmp(&risk(b))
            .then_with(|| a.key.kind.cmp(&b.key.kind))
            .then_with(|| a.key.namespace.cmp(&b.key.namespace))
            .then_with(|| a.key.name.cmp(&b.key.name))
            .then_with(|| rank(a).cmp(&rank(b)))
    });
    groups
}

/// Cluster names as a reader says them: "dev", "dev and int", "dev, int and web".
pub fn clusters_text(clusters: &[String]) -> String {
    match clusters {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::tests::{deployment, object};
    use crate::review::{Context, compare};

    #[test]
    fn the_same_change_in_three_clusters_is_one_part_and_a_different_one_its_own() {
        let clusters = ["dev", "int", "web"];
        let base: Vec<_> = clusters
            .iter()
            .map(|c| object(c, deployment("nginx:1.25", 2)))
            .collect();
        let head = vec![
            object("dev", deployment("nginx:1.27", 1)),
            object("int", deployment("nginx:1.27", 2)),
            object("web", deployment("nginx:1.27", 2)),
        ];
        let context = Context {
            clusters: clusters.iter().map(|c| c.to_string()).collect(),
        };
        let review = compare(base, head, &context, ("main", "abc"), &|_, _| None);
        assert_eq!(review.groups.len(), 1);
        let parts: Vec<String> = review.groups[0]
            .parts
            .iter()
            .map(|p| clusters_text(&p.clusters))
            .collect();
        assert_eq!(parts, ["dev", "int and web"]);
        assert_eq!(
            clusters_text(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}

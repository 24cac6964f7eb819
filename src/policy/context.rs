//! What policies are told about the cluster and the object they judge
//! (`data.policyrun`), and what a run judges: the documents that are not Kubernetes
//! objects, and the share of the objects a run reports (`--shard`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use regorus::Value;

use crate::model::object::Target;
use crate::model::outcome::Location;

/// A document that is not a Kubernetes object (or `test --combine`'s combined input),
/// judged by the Rego rules as `input` in conftest's conventions.
pub struct Document<'a> {
    /// How reports name it: `values.yaml[0]`, the file and the document's index in it.
    pub subject: String,
    pub file: Option<&'a Path>,
    pub value: &'a serde_json::Value,
    pub location: Option<Location>,
}

/// What policies know about the cluster they judge (`data.policyrun.cluster`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterContext {
    pub name: String,
    /// The cluster's `[cluster.policy]` table from policyrun.toml.
    pub policy: serde_json::Value,
    /// Names of the Namespace objects in the cluster's tree.
    pub namespaces: BTreeSet<String>,
}

impl ClusterContext {
    pub(crate) fn to_data(&self) -> serde_json::Value {
        serde_json::json!({
            "policyrun": {
                "cluster": {
                    "name": self.name,
                    "policy": if self.policy.is_null() { serde_json::json!({}) } else { self.policy.clone() },
                    "namespaces": self.namespaces,
                }
            }
        })
    }
}

/// The Namespace names among `targets`, per cluster.
pub fn namespaces_by_cluster(targets: &[Target]) -> HashMap<Option<String>, BTreeSet<String>> {
    let mut found: HashMap<Option<String>, BTreeSet<String>> = HashMap::new();
    for target in targets {
        if target.id.kind == "Namespace" && target.id.api_version == "v1" {
            found
                .entry(target.cluster.map(str::to_owned))
                .or_default()
                .insert(target.id.name.clone());
        }
    }
    found
}

/// The share of a policy run that is evaluated and reported (`--shard`): every target
/// is still context, but only those it `owns` are reported, and one part (`run_wide`)
/// reports the waiver files' own verdicts, which need every object's results.
pub struct RunShare<'a> {
    pub owns: &'a (dyn Fn(&Target) -> bool + Sync),
    pub run_wide: bool,
    /// Every object of the tree is among the targets, so a file waiver that waived nothing
    /// is known to waive nothing (not so when `--changed-since` left entries out).
    pub usage_known: bool,
}

impl RunShare<'static> {
    /// The whole run.
    pub fn whole() -> RunShare<'static> {
        RunShare {
            owns: &|_| true,
            run_wide: true,
            usage_known: true,
        }
    }
}

/// `data.policyrun` exactly as the stage hands it to regorus for `target` in `cluster`
/// (`namespaced` as [`crate::policy::PolicyStage::run`]'s callback tells it): for checking verdicts with
/// another engine.
pub fn policyrun_document(
    cluster: &ClusterContext,
    target: &Target,
    namespaced: Option<bool>,
) -> Result<serde_json::Value, serde_json::Error> {
    let mut document = cluster.to_data()["policyrun"].take();
    let object = serde_json::to_value(ObjectContext::of(target, namespaced).to_value())?;
    document["object"] = object;
    Ok(document)
}

/// What policies know about the object they judge (`data.policyrun.object`).
pub(crate) struct ObjectContext<'a> {
    pub(crate) entry: Option<&'a Path>,
    pub(crate) generated: &'a Path,
    pub(crate) namespaced: Option<bool>,
}

impl ObjectContext<'_> {
    pub(crate) fn of<'t>(target: &'t Target, namespaced: Option<bool>) -> ObjectContext<'t> {
        ObjectContext {
            entry: target.entry,
            generated: &target.location.file,
            namespaced,
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut object = BTreeMap::new();
        if let Some(entry) = self.entry {
            object.insert(
                Value::from("entry"),
                Value::from(entry.to_string_lossy().as_ref()),
            );
        }
        object.insert(
            Value::from("generated"),
            Value::from(self.generated.to_string_lossy().as_ref()),
        );
        if let Some(namespaced) = self.namespaced {
            object.insert(Value::from("namespaced"), Value::from(namespaced));
        }
        Value::from(object)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::outcome::ObjectId;
    use crate::model::value::ObjectValue;
    use std::path::PathBuf;

    pub(crate) fn object_id() -> ObjectId {
        ObjectId {
            cluster: "dev".to_owned(),
            entry: PathBuf::from("clusters/dev/app.jsonnet"),
            item: Some("deploy".to_owned()),
            api_version: "apps/v1".to_owned(),
            kind: "Deployment".to_owned(),
            namespace: Some("apps".to_owned()),
            name: "app".to_owned(),
        }
    }

    #[test]
    fn policyrun_document_holds_the_cluster_and_the_objects_context() {
        let id = object_id();
        let value = ObjectValue::parsed(serde_json::json!({"kind": "Deployment"}));
        let target = Target {
            subject: id.display_name(),
            cluster: Some("dev"),
            entry: Some(&id.entry),
            id: &id,
            value: &value,
            location: Location::file("generated/dev/app/deploy.json"),
            source: None,
            content: None,
        };
        let cluster = ClusterContext {
            name: "dev".to_owned(),
            policy: serde_json::Value::Null,
            namespaces: BTreeSet::from(["apps".to_owned()]),
        };
        assert_eq!(
            policyrun_document(&cluster, &target, Some(true)).unwrap(),
            serde_json::json!({
                "cluster": {"name": "dev", "policy": {}, "namespaces": ["apps"]},
                "object": {
                    "entry": "clusters/dev/app.jsonnet",
                    "generated": "generated/dev/app/deploy.json",
                    "namespaced": true
                }
            })
        );
        // An unknown scope is left out, as regorus sees it: undefined, not null.
        let document = policyrun_document(&cluster, &target, None).unwrap();
        assert!(document["object"].get("namespaced").is_none(), "{document}");
    }
}

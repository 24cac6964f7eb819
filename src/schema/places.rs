//! Where inside an object the API server applies its label and annotation rules: a label
//! key that breaks them is only a problem where the API server reads it as a label. For
//! built-in kinds the places come from the release's definitions (every `$ref` to a
//! `LabelSelector` or to a nested `ObjectMeta`), for custom resources from the CRD's schema
//! (`x-kubernetes-embedded-resource` objects). A key that merely happens to be called
//! `matchLabels` — a property in a CRD's own schema, a free map in a custom resource — is
//! not a label selector.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

const LABEL_SELECTOR: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector";
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// Plain `map[string]string` fields the API server validates as labels
/// (`ValidateLabels` in `ValidateService` and `ValidatePodSpec`); the definitions cannot
/// tell them from any other string map.
const LABEL_MAPS: &[(&str, &str)] = &[
    ("io.k8s.api.core.v1.ServiceSpec", "selector"),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector"),
];

/// `LabelSelector` fields the API server does not validate: an HPA's metric selector is
/// handed to the metrics adapter (`validateMetricIdentifier` checks only the metric's name).
const NOT_VALIDATED: &[(&str, &str)] = &[
    ("io.k8s.api.autoscaling.v2.MetricIdentifier", "selector"),
    (
        "io.k8s.api.autoscaling.v2beta2.MetricIdentifier",
        "selector",
    ),
];

/// What the API server checks about the value found at a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A `LabelSelector`: the keys and values of its `matchLabels`.
    LabelSelector,
    /// A map whose keys and values are labels (a Service's selector, `nodeSelector`).
    LabelMap,
    /// An `ObjectMeta` below the root — a pod template's, a claim template's, a job
    /// template's: its labels and annotations (the objects made from it carry them).
    TemplateMeta,
    /// A custom resource's `x-kubernetes-embedded-resource` object: its `metadata` as the
    /// API server validates embedded metadata (name as a path segment, namespace as a DNS
    /// label, when set; labels; annotations).
    EmbeddedResource,
}

/// A tree of the places of one kind: the rules at this node, then the places below it by
/// field, by array item and by map value. Empty subtrees are left out, so a kind without
/// places is one empty node.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Places {
    pub here: Vec<Rule>,
    pub fields: BTreeMap<String, Arc<Places>>,
    pub items: Option<Arc<Places>>,
    pub values: Option<Arc<Places>>,
}

impl Places {
    pub(crate) fn is_empty(&self) -> bool {
        self.here.is_empty()
            && self.fields.is_empty()
            && self.items.is_none()
            && self.values.is_none()
    }

    fn shared(self) -> Option<Arc<Places>> {
        (!self.is_empty()).then(|| Arc::new(self))
    }
}

/// The places of every definition in a release's definitions document (`$defs`), by
/// definition name; definitions without places are left out. Each definition is walked
/// once (a definition reached again reuses its places), so this costs one pass over the
/// document.
pub(crate) fn from_definitions(document: &Value) -> HashMap<String, Arc<Places>> {
    let Some(defs) = document.get("$defs").and_then(Value::as_object) else {
        return HashMap::new();
    };
    let mut walker = DefinitionWalker {
        defs,
        done: HashMap::new(),
        in_progress: HashSet::new(),
    };
    for name in defs.keys() {
        walker.definition(name);
    }
    walker
        .done
        .into_iter()
        .filter_map(|(name, places)| places.map(|p| (name, p)))
        .collect()
}

struct DefinitionWalker<'d> {
    defs: &'d serde_json::Map<String, Value>,
    done: HashMap<String, Option<Arc<Places>>>,
    /// Definitions on the current way down: a recursive type (none of the ones with label
    /// places is) contributes nothing the second time.
    in_progress: HashSet<String>,
}

impl DefinitionWalker<'_> {
    fn definition(&mut self, name: &str) -> Option<Arc<Places>> {
        match name {
            LABEL_SELECTOR => {
                return Some(Arc::new(Places {
                    here: vec![Rule::LabelSelector],
                    ..Places::default()
                }));
            }
            OBJECT_META => {
                return Some(Arc::new(Places {
                    here: vec![Rule::TemplateMeta],
                    ..Places::default()
                }));
            }
            _ => {}
        }
        if let Some(found) = self.done.get(name) {
            return found.clone();
        }
        let schema = self.defs.get(name)?;
        if !self.in_progress.insert(name.to_owned()) {
            return None;
        }
        let mut places = self
            .node(schema)
            .map_or_else(Places::default, Arc::unwrap_or_clone);
        for (definition, field) in LABEL_MAPS {
            if *definition == name {
                places.fields.insert(
                    (*field).to_owned(),
                    Arc::new(Places {
                        here: vec![Rule::LabelMap],
                        ..Places::default()
                    }),
                );
            }
        }
        for (definition, field) in NOT_VALIDATED {
            if *definition == name {
                places.fields.remove(*field);
            }
        }
        self.in_progress.remove(name);
        let places = places.shared();
        self.done.insert(name.to_owned(), places.clone());
        places
    }

    fn node(&mut self, schema: &Value) -> Option<Arc<Places>> {
        let Value::Object(schema) = schema else {
            return None;
        };
        if let Some(Value::String(reference)) = schema.get("$ref") {
            return reference
                .rsplit_once("/$defs/")
                .or_else(|| reference.rsplit_once("/definitions/"))
                .and_then(|(_, name)| self.definition(name));
        }
        let mut places = Places::default();
        if let Some(Value::Object(properties)) = schema.get("properties") {
            for (field, child) in properties {
                if let Some(below) = self.node(child) {
                    places.fields.insert(field.clone(), below);
                }
            }
        }
        if let Some(items) = schema.get("items") {
            places.items = self.node(items);
        }
        if let Some(values @ Value::Object(_)) = schema.get("additionalProperties") {
            places.values = self.node(values);
        }
        places.shared()
    }
}

/// The places of a custom resource, from its CRD's `openAPIV3Schema`: every
/// `x-kubernetes-embedded-resource` object (the root's own metadata is checked apart).
pub(crate) fn from_crd_schema(schema: &Value) -> Places {
    crd_node(schema).map_or_else(Places::default, Arc::unwrap_or_clone)
}

fn crd_node(schema: &Value) -> Option<Arc<Places>> {
    let Value::Object(schema) = schema else {
        return None;
    };
    let mut places = Places::default();
    if schema.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true)) {
        places.here.push(Rule::EmbeddedResource);
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (field, child) in properties {
            if let Some(below) = crd_node(child) {
                places.fields.insert(field.clone(), below);
            }
        }
    }
    if let Some(items) = schema.get("items") {
        places.items = crd_node(items);
    }
    if let Some(values @ Value::Object(_)) = schema.get("additionalProperties") {
        places.values = crd_node(values);
    }
    places.shared()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::bundle::Definitions;

    fn path<'p>(mut places: &'p Places, steps: &[&str]) -> Option<&'p Places> {
        for step in steps {
            places = match *step {
                "*" => places.items.as_deref()?,
                "{}" => places.values.as_deref()?,
                field => places.fields.get(field)?.as_ref(),
            };
        }
        Some(places)
    }

    #[test]
    fn builtin_places_come_from_the_definitions() {
        let definitions = Definitions::builtin().unwrap();
        let all = from_definitions(&definitions.document);
        let deployment = &all["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            path(deployment, &["spec", "selector"]).unwrap().here,
            [Rule::LabelSelector]
        );
        assert_eq!(
            path(deployment, &["spec", "template", "metadata"])
                .unwrap()
                .here,
            [Rule::TemplateMeta]
        );
        assert_eq!(
            path(deployment, &["spec", "template", "spec", "nodeSelector"])
                .unwrap()
                .here,
            [Rule::LabelMap]
        );
        assert_eq!(
            path(
                deployment,
                &[
                    "spec",
                    "template",
                    "spec",
                    "topologySpreadConstraints",
                    "*",
                    "labelSelector"
                ]
            )
            .unwrap()
            .here,
            [Rule::LabelSelector]
        );
        let cron = &all["io.k8s.api.batch.v1.CronJob"];
        assert!(
            path(
                cron,
                &["spec", "jobTemplate", "spec", "template", "metadata"]
            )
            .is_some()
        );
        let service = &all["io.k8s.api.core.v1.Service"];
        assert_eq!(
            path(service, &["spec", "selector"]).unwrap().here,
            [Rule::LabelMap]
        );
        let policy = &all["io.k8s.api.networking.v1.NetworkPolicy"];
        for way in [
            &["spec", "podSelector"][..],
            &["spec", "ingress", "*", "from", "*", "namespaceSelector"],
            &["spec", "egress", "*", "to", "*", "podSelector"],
        ] {
            assert_eq!(
                path(policy, way).unwrap().here,
                [Rule::LabelSelector],
                "{way:?}"
            );
        }
        let claims = &all["io.k8s.api.apps.v1.StatefulSet"];
        assert_eq!(
            path(claims, &["spec", "volumeClaimTemplates", "*", "metadata"])
                .unwrap()
                .here,
            [Rule::TemplateMeta]
        );
        // Not checked by the API server: an HPA's metric selector; a ConfigMap has nothing.
        let hpa = &all["io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"];
        assert!(path(hpa, &["spec", "metrics"]).is_none(), "{hpa:?}");
        // Only their own metadata (checked apart, with the kind's name rule): a ConfigMap,
        // and a CRD, whose schema has no labels whatever its properties are called.
        for kind in [
            "io.k8s.api.core.v1.ConfigMap",
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        ] {
            let places = &all[kind];
            assert_eq!(
                places.fields.keys().collect::<Vec<_>>(),
                ["metadata"],
                "{kind}"
            );
            assert!(places.here.is_empty() && places.items.is_none() && places.values.is_none());
        }
    }

    #[test]
    fn custom_resource_places_are_its_embedded_resources() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    "extra": {"type": "array", "items": {"type": "object", "x-kubernetes-embedded-resource": true}}
                }}
            }
        });
        let places = from_crd_schema(&schema);
        assert_eq!(
            path(&places, &["spec", "template"]).unwrap().here,
            [Rule::EmbeddedResource]
        );
        assert_eq!(
            path(&places, &["spec", "extra", "*"]).unwrap().here,
            [Rule::EmbeddedResource]
        );
        assert!(path(&places, &["spec", "matchLabels"]).is_none());
        assert!(from_crd_schema(&serde_json::json!({"type": "object"})).is_empty());
    }
}

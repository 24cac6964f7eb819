//! Opt-in pruning (`policyrun apply --prune`): after a healthy stage, the objects policyrun
//! applied to this cluster earlier and that the tree no longer holds are deleted, newest
//! dependents first. What may go is decided by `ownership`; Namespaces and
//! CustomResourceDefinitions are never deleted automatically, since everything in them would
//! go too.

use std::collections::HashSet;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{Discovery, verbs};
use serde_json::Value;

use super::kubeapi::{api_error, retrying};
use super::order::delete_order;
use super::ownership::{self, LiveKey, MANAGED_LABEL, MANAGED_VALUE, Verdict};
use super::stage::Desired;
use crate::model::outcome::{Outcome, Stage, Status};

/// Check name of a pruning result.
pub const PRUNED: &str = "pruned";

/// Deletes (or, in a dry run, names) what pruning may delete in one cluster.
pub async fn run(
    client: &kube::Client,
    desired: &[Desired],
    repository: &str,
    cluster: &str,
    dry_run: bool,
) -> Vec<Outcome> {
    let wanted: HashSet<LiveKey> = desired
        .iter()
        .filter_map(|d| ownership::key(&d.value))
        .collect();
    let outcome = |status, subject: String, message: String| {
        Outcome::new(Stage::Apply, PRUNED, status)
            .cluster(cluster)
            .subject(subject)
            .message(message)
    };
    let discovery = match Discovery::new(client.clone()).run().await {
        Ok(discovery) => discovery,
        Err(e) => {
            return vec![outcome(
                Status::Error,
                format!("prune {cluster}"),
                format!("cannot list the cluster's resources: {}", api_error(&e)),
            )];
        }
    };
    let selector = format!("{MANAGED_LABEL}={MANAGED_VALUE}");
    let listing = ListParams::default().labels(&selector);
    let deleting = DeleteParams::default();
    let mut doomed: Vec<(Value, Api<DynamicObject>, String)> = Vec::new();
    let mut outcomes = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if !capabilities.supports_operation(verbs::LIST)
                || !capabilities.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            let listed = match retrying(|| api.list(&listing)).await {
                Ok(listed) => listed,
                Err(e) => {
                    outcomes.push(outcome(
                        Status::Error,
                        format!("prune {cluster} {}", resource.kind),
                        format!("cannot list {}: {}", resource.plural, api_error(&e)),
                    ));
                    continue;
                }
            };
            for item in listed {
                let Ok(mut live) = serde_json::to_value(&item) else {
                    continue;
                };
                // List items need not carry their type.
                live["apiVersion"] = Value::String(resource.api_version.clone());
                live["kind"] = Value::String(resource.kind.clone());
                if ownership::verdict(&live, &wanted, repository, cluster) != Verdict::Prune {
                    continue;
                }
                let namespace = live.pointer("/metadata/namespace").and_then(Value::as_str);
                let api = match namespace {
                    Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                    None => Api::all_with(client.clone(), &resource),
                };
                let name = live
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                doomed.push((live, api, name));
            }
        }
    }
    for (_, members) in delete_order(doomed, |(live, _, _)| {
        (
            live["apiVersion"].as_str().unwrap_or(""),
            live["kind"].as_str().unwrap_or(""),
        )
    }) {
        for (live, api, name) in members {
            let kind = live["kind"].as_str().unwrap_or("").to_owned();
            let subject = match live.pointer("/metadata/namespace").and_then(Value::as_str) {
                Some(ns) => format!("{kind} {ns}/{name}"),
                None => format!("{kind} {name}"),
            };
            if matches!(kind.as_str(), "Namespace" | "CustomResourceDefinition") {
                outcomes.push(outcome(
                    Status::Warning,
                    subject,
                    format!(
                        "no longer in the tree, but a {kind} is never pruned automatically (everything in it would be deleted too): delete it by hand"
                    ),
                ));
                continue;
            }
            if dry_run {
                outcomes.push(outcome(Status::Passed, subject, "would be pruned".into()));
                continue;
            }
            match retrying(|| api.delete(&name, &deleting)).await {
                Ok(_) => outcomes.push(outcome(Status::Passed, subject, "pruned".into())),
                Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 404) => {
                    outcomes.push(outcome(Status::Passed, subject, "already gone".into()))
                }
                Err(e) => outcomes.push(outcome(Status::Failed, subject, api_error(&e))),
            }
        }
    }
    outcomes
}

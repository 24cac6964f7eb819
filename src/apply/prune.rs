//! Opt-in pruning (`policyrun apply --prune`): after a healthy stage, the objects policyrun
//! applied to this cluster earlier and that the tree no longer holds are deleted, newest
//! dependents first. What may go is decided by `ownership`; Namespaces and
//! CustomResourceDefinitions are never deleted automatically, since everything in them would
//! go too.

use std::collections::HashSet;

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use kube::discovery::{Discovery, verbs};
use serde_json::Value;

use super::kubeapi::{api_error, path_segment, resource_api, retrying};
use super::order::delete_order;
use super::ownership::{self, LiveKey, MANAGED_LABEL, MANAGED_VALUE, PruneDecision};
use super::stage::Desired;
use crate::model::outcome::{Outcome, Stage, Status};

/// Check name of a pruning result.
pub(crate) const PRUNED: &str = "pruned";

/// Deletes (or, in a dry run, names) what pruning may delete in one cluster.
pub(crate) async fn run(
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
    let (doomed, mut outcomes) = match prunable(client, &wanted, repository, cluster).await {
        Ok(found) => found,
        Err(problem) => return vec![problem],
    };
    outcomes.extend(delete(doomed, cluster, dry_run).await);
    outcomes
}

fn outcome(cluster: &str, status: Status, subject: String, message: String) -> Outcome {
    Outcome::new(Stage::Apply, PRUNED, status)
        .cluster(cluster)
        .subject(subject)
        .message(message)
}

/// A live object pruning may delete, with the API to delete it through and its name as
/// one path segment (or why there is none), and its name.
type Doomed = (Value, Result<(Api<DynamicObject>, String), String>, String);

/// Every live object with policyrun's label that ownership says pruning may delete, and an
/// outcome for each kind that could not be listed; an error when the cluster's resources
/// cannot be discovered at all.
async fn prunable(
    client: &kube::Client,
    wanted: &HashSet<LiveKey>,
    repository: &str,
    cluster: &str,
) -> Result<(Vec<Doomed>, Vec<Outcome>), Outcome> {
    let discovery = Discovery::new(client.clone()).run().await.map_err(|e| {
        outcome(
            cluster,
            Status::Error,
            format!("prune {cluster}"),
            format!("cannot list the cluster's resources: {}", api_error(&e)),
        )
    })?;
    let selector = format!("{MANAGED_LABEL}={MANAGED_VALUE}");
    let listing = ListParams::default().labels(&selector);
    let mut doomed: Vec<Doomed> = Vec::new();
    let mut outcomes = Vec::new();
    for group in discovery.groups() {
        for (resource, capabilities) in group.recommended_resources() {
            if !capabilities.supports_operation(verbs::LIST)
                || !capabilities.supports_operation(verbs::DELETE)
            {
                continue;
            }
            let api = match resource_api(client, &resource, None) {
                Ok(api) => api,
                Err(problem) => {
                    outcomes.push(outcome(
                        cluster,
                        Status::Error,
                        format!("prune {cluster} {}", resource.kind),
                        format!("cannot list {}: {problem}", resource.plural),
                    ));
                    continue;
                }
            };
            let listed = match retrying(|| api.list(&listing)).await {
                Ok(listed) => listed,
                Err(e) => {
                    outcomes.push(outcome(
                        cluster,
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
                if ownership::prune_decision(&live, wanted, repository, cluster)
                    != PruneDecision::Prune
                {
                    continue;
                }
                // The name and namespace are the server's, and still only data: a name
                // `cluster-admin#x` must delete that object, never `cluster-admin`.
                let namespace = live.pointer("/metadata/namespace").and_then(Value::as_str);
                let name = live
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let target = resource_api(client, &resource, namespace).and_then(|api| {
                    Ok((
                        api,
                        path_segment(&format!("the name of this {}", resource.kind), &name)?,
                    ))
                });
                doomed.push((live, target, name));
            }
        }
    }
    Ok((doomed, outcomes))
}

/// Deletes (or names, in a dry run) newest dependents first; Namespaces and CRDs are only
/// named.
async fn delete(doomed: Vec<Doomed>, cluster: &str, dry_run: bool) -> Vec<Outcome> {
    let deleting = DeleteParams::default();
    let mut outcomes = Vec::new();
    for (_, members) in delete_order(doomed, |(live, _, _)| {
        (
            live["apiVersion"].as_str().unwrap_or(""),
            live["kind"].as_str().unwrap_or(""),
        )
    }) {
        for (live, target, name) in members {
            let kind = live["kind"].as_str().unwrap_or("").to_owned();
            let subject = match live.pointer("/metadata/namespace").and_then(Value::as_str) {
                Some(ns) => format!("{kind} {ns}/{name}"),
                None => format!("{kind} {name}"),
            };
            let outcome =
                |status, message: String| outcome(cluster, status, subject.clone(), message);
            if matches!(kind.as_str(), "Namespace" | "CustomResourceDefinition") {
                outcomes.push(outcome(
                    Status::Warning,
                    format!(
                        "no longer in the tree, but a {kind} is never pruned automatically (everything in it would be deleted too): delete it by hand"
                    ),
                ));
                continue;
            }
            if dry_run {
                outcomes.push(outcome(Status::Passed, "would be pruned".into()));
                continue;
            }
            let (api, segment) = match target {
                Ok(target) => target,
                Err(problem) => {
                    outcomes.push(outcome(Status::Failed, problem));
                    continue;
                }
            };
            match retrying(|| api.delete(&segment, &deleting)).await {
                Ok(_) => outcomes.push(outcome(Status::Passed, "pruned".into())),
                Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 404) => {
                    outcomes.push(outcome(Status::Passed, "already gone".into()))
                }
                Err(e) => outcomes.push(outcome(Status::Failed, api_error(&e))),
            }
        }
    }
    outcomes
}

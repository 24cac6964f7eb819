//! When an applied object counts as rolled out, with `kubectl rollout status` semantics:
//! decided from the live object alone (plain JSON), so that the watch loop, the test API
//! server's simulator and the unit tests share one definition.

use serde_json::Value;

/// Where an object's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Rolled out; the text says how (`3 of 3 updated replicas are available`).
    Ready(String),
    /// Not yet; the text says what is waited on.
    Waiting(String),
    /// Will not become ready without a change (`ProgressDeadlineExceeded`, a failed Job).
    Failed(String),
}

// The stage matches on the variants; the tests only ask whether it is ready.
#[cfg(test)]
impl Readiness {
    fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready(_))
    }
}

/// The readiness of a live object. Kinds without a rollout are ready once applied.
pub(crate) fn of(object: &Value) -> Readiness {
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(group, _)| group);
    match (group, kind(object)) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(object),
        _ => Readiness::Ready("applied".into()),
    }
}

fn kind(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// `status.<field>`, absent counting as 0 (the API server omits zero counts).
fn count(object: &Value, field: &str) -> i64 {
    int(object, &format!("/status/{field}")).unwrap_or(0)
}

/// The controller has seen the latest spec: `status.observedGeneration` caught up with
/// `metadata.generation`.
fn observed(object: &Value) -> bool {
    let generation = int(object, "/metadata/generation").unwrap_or(0);
    let observed = int(object, "/status/observedGeneration").unwrap_or(0);
    observed > 0 && generation <= observed
}

/// The condition of `type`, as (status, reason, message).
fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            let text = |key| c.get(key).and_then(Value::as_str).unwrap_or("");
            (text("status"), text("reason"), text("message"))
        })
}

fn deployment(object: &Value) -> Readiness {
    if !observed(object) {
        return Readiness::Waiting("waiting for the deployment spec update to be observed".into());
    }
    if let Some((_, "ProgressDeadlineExceeded", message)) = condition(object, "Progressing") {
        return Readiness::Failed(format!(
            "exceeded its progress deadline (ProgressDeadlineExceeded){}",
            suffix(message)
        ));
    }
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let updated = count(object, "updatedReplicas");
    let total = count(object, "replicas");
    let available = count(object, "availableReplicas");
    if updated < wanted {
        Readiness::Waiting(format!(
            "{updated} out of {wanted} new replicas have been updated"
        ))
    } else if total > updated {
        Readiness::Waiting(format!(
            "{} old replicas are pending termination",
            total - updated
        ))
    } else if available < updated {
        Readiness::Waiting(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        Readiness::Ready(format!(
            "{available} of {wanted} updated replicas are available"
        ))
    }
}

fn stateful_set(object: &Value) -> Readiness {
    if !observed(object) {
        return Readiness::Waiting("waiting for the statefulset spec update to be observed".into());
    }
    let wanted = int(object, "/spec/replicas").unwrap_or(1);
    let ready = count(object, "readyReplicas");
    let strategy = object
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    if strategy == "OnDelete" {
        // Pods change only when deleted: the rollout is the operator's; ready pods suffice.
        return if ready < wanted {
            Readiness::Waiting(format!("{ready} of {wanted} pods are ready (OnDelete)"))
        } else {
            Readiness::Ready(format!("{ready} of {wanted} pods are ready (OnDelete)"))
        };
    }
    if ready < wanted {
        return Readiness::Waiting(format!("waiting for {} pods to be ready", wanted - ready));
    }
    let partition = int(object, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    if partition > 0 {
        let updated = count(object, "updatedReplicas");
        let target = (wanted - partition).max(0);
        return if updated < target {
            Readiness::Waiting(format!(
                "partitioned rollout: {updated} out of {target} new pods have been updated"
            ))
        } else {
            Readiness::Ready(format!(
                "partitioned rollout complete: {updated} new pods have been updated"
            ))
        };
    }
    let text = |key: &str| {
        object
            .pointer(&format!("/status/{key}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (current, update) = (text("currentRevision"), text("updateRevision"));
    if update != current {
        Readiness::Waiting(format!(
            "rolling update to revision {update}: {} of {wanted} pods updated",
            count(object, "updatedReplicas")
        ))
    } else {
        Readiness::Ready(format!("{ready} pods at revision {update}"))
    }
}

fn daemon_set(object: &Value) -> Readiness {
    if !observed(object) {
        return Readiness::Waiting("waiting for the daemon set spec update to be observed".into());
    }
    let desired = count(object, "desiredNumberScheduled");
    let updated = count(object, "updatedNumberScheduled");
    let available = count(object, "numberAvailable");
    let strategy = object
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    if strategy != "OnDelete" && updated < desired {
        Readiness::Waiting(format!(
            "{updated} out of {desired} new pods have been updated"
        ))
    } else if available < desired {
        Readiness::Waiting(format!(
            "{available} of {desired} updated pods are available"
        ))
    } else {
        Readiness::Ready(format!("{available} of {desired} pods are available"))
    }
}

fn job(object: &Value) -> Readiness {
    if let Some(("True", reason, message)) = condition(object, "Failed") {
        return Readiness::Failed(format!("failed ({reason}){}", suffix(message)));
    }
    if let Some(("True", _, _)) = condition(object, "Complete") {
        return Readiness::Ready(format!(
            "complete: {} succeeded",
            count(object, "succeeded")
        ));
    }
    Readiness::Waiting(format!(
        "{} active, {} succeeded, {} failed",
        count(object, "active"),
        count(object, "succeeded"),
        count(object, "failed")
    ))
}

fn crd(object: &Value) -> Readiness {
    if let Some(("False", reason, message)) = condition(object, "NamesAccepted") {
        return Readiness::Failed(format!("names not accepted ({reason}){}", suffix(message)));
    }
    match condition(object, "Established") {
        Some(("True", _, _)) => Readiness::Ready("established".into()),
        _ => Readiness::Waiting("waiting to be established".into()),
    }
}

fn suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_with(generation: i64, status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "generation": generation},
               "spec": {"replicas": 3}, "status": status})
    }

    #[test]
    fn deployment_waits_for_the_spec_to_be_observed() {
        let d = deployment_with(
            2,
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        );
        assert!(matches!(of(&d), Readiness::Waiting(text) if text.contains("observed")));
    }

    #[test]
    fn deployment_steps_like_kubectl_rollout_status() {
        let waiting = |status| match of(&deployment_with(2, status)) {
            Readiness::Waiting(text) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            waiting(json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1})),
            "1 out of 3 new replicas have been updated"
        );
        assert_eq!(
            waiting(json!({"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3})),
            "1 old replicas are pending termination"
        );
        assert_eq!(
            waiting(
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2})
            ),
            "2 of 3 updated replicas are available"
        );
        assert!(
            of(&deployment_with(
                2,
                json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3})
            ))
            .is_ready()
        );
    }

    #[test]
    fn deployment_past_its_progress_deadline_fails_at_once() {
        let d = deployment_with(
            2,
            json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                   "message": "ReplicaSet \"web-1\" has timed out progressing."}]}),
        );
        assert!(
            matches!(of(&d), Readiness::Failed(text) if text.contains("ProgressDeadlineExceeded") && text.contains("timed out"))
        );
    }

    #[test]
    fn stateful_set_by_update_strategy() {
        let sts = |spec: Value, status: Value| {
            of(
                &json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"generation": 1},
                       "spec": spec, "status": status}),
            )
        };
        let rolling = json!({"replicas": 2});
        assert!(matches!(
            sts(
                rolling.clone(),
                json!({"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "a", "updateRevision": "b", "updatedReplicas": 1})
            ),
            Readiness::Waiting(_)
        ));
        assert!(
            sts(rolling.clone(), json!({"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "b", "updateRevision": "b"}))
                .is_ready()
        );
        assert!(matches!(
            sts(rolling, json!({"observedGeneration": 1, "readyReplicas": 1})),
            Readiness::Waiting(text) if text == "waiting for 1 pods to be ready"
        ));
        let partitioned = json!({"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
        assert!(matches!(
            sts(
                partitioned.clone(),
                json!({"observedGeneration": 1, "readyReplicas": 4, "updatedReplicas": 1})
            ),
            Readiness::Waiting(_)
        ));
        assert!(
            sts(
                partitioned,
                json!({"observedGeneration": 1, "readyReplicas": 4, "updatedReplicas": 2})
            )
            .is_ready()
        );
        let on_delete = json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}});
        assert!(
            sts(on_delete, json!({"observedGeneration": 1, "readyReplicas": 2, "currentRevision": "a", "updateRevision": "b"}))
                .is_ready()
        );
    }

    #[test]
    fn daemon_set_counts_updated_and_available_pods() {
        let ds = |status: Value| {
            of(
                &json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"generation": 3}, "spec": {}, "status": status}),
            )
        };
        assert!(matches!(
            ds(json!({"observedGeneration": 3, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2, "numberAvailable": 3})),
            Readiness::Waiting(text) if text == "2 out of 3 new pods have been updated"
        ));
        assert!(matches!(
            ds(
                json!({"observedGeneration": 3, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2})
            ),
            Readiness::Waiting(_)
        ));
        assert!(ds(json!({"observedGeneration": 3, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3})).is_ready());
        assert!(matches!(
            ds(json!({"observedGeneration": 2})),
            Readiness::Waiting(_)
        ));
    }

    #[test]
    fn job_completes_or_fails() {
        let job = |status: Value| {
            of(&json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {}, "status": status}))
        };
        assert!(matches!(job(json!({"active": 1})), Readiness::Waiting(_)));
        assert!(
            job(json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}))
                .is_ready()
        );
        assert!(matches!(
            job(json!({"failed": 4, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})),
            Readiness::Failed(text) if text.contains("BackoffLimitExceeded")
        ));
    }

    #[test]
    fn crds_wait_until_established_and_other_kinds_are_ready_when_applied() {
        let crd = |conditions: Value| {
            of(
                &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "status": {"conditions": conditions}}),
            )
        };
        assert!(matches!(crd(json!([])), Readiness::Waiting(_)));
        assert!(crd(json!([{"type": "Established", "status": "True"}])).is_ready());
        assert!(matches!(
            crd(
                json!([{"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict"}])
            ),
            Readiness::Failed(_)
        ));
        assert!(of(&json!({"apiVersion": "v1", "kind": "ConfigMap"})).is_ready());
    }
}

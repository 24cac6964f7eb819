//! Why a workload did not become ready, in the words its pods and events give: a container
//! waiting (`ImagePullBackOff`, `CrashLoopBackOff`), one that last ended badly (`OOMKilled`),
//! a pod that cannot be scheduled, and the latest event about the object. A rollout status
//! alone ("1 of 3 updated replicas available") rarely says what to fix. Best effort: what
//! cannot be read is left out, the failure stands either way.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::kubeapi;

/// The longest piece of text taken from a pod or event, so a report stays readable.
const MOST: usize = 300;

/// What the cluster says about the workload `object` (its pods and latest event), if
/// anything; for kinds without pods, its events only.
pub(crate) async fn explain(client: &kube::Client, object: &Value) -> Option<String> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let (namespace, name) = (text("/metadata/namespace")?, text("/metadata/name")?);
    // The namespace goes into the path as one encoded segment, the name into a field
    // selector escaped (kubeapi), and labels into a selector only when they are labels.
    let namespace = kubeapi::path_segment("the namespace", namespace).ok()?;
    let mut found = Vec::new();
    if let Some(selector) = pod_selector(object) {
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let params = ListParams::default().labels(&selector).limit(50);
        if let Ok(list) = pods.list(&params).await {
            found.extend(list.items.iter().find_map(pod_problem));
        }
    }
    let events: Api<Event> = Api::namespaced(client.clone(), &namespace);
    let params = ListParams::default().fields(&format!(
        "involvedObject.name={}",
        kubeapi::field_selector_value(name)
    ));
    if let Ok(list) = events.list(&params).await {
        found.extend(latest_event(&list.items));
    }
    (!found.is_empty()).then(|| found.join("; "))
}

/// `a=b,c=d` from the workload's `spec.selector.matchLabels` (a Job's may be left to the
/// server, so its pod template's labels then). A label selector has no escapes: a key or
/// value with anything but the characters labels are made of (`,`, `=`, `!`, a space)
/// would change the selector, so there is none then.
fn pod_selector(object: &Value) -> Option<String> {
    let labels = object
        .pointer("/spec/selector/matchLabels")
        .or_else(|| object.pointer("/spec/template/metadata/labels"))?
        .as_object()?;
    let mut terms = Vec::with_capacity(labels.len());
    for (key, value) in labels {
        let value = value.as_str()?;
        let label_key = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/');
        let label_value = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if key.is_empty() || !key.chars().all(label_key) || !value.chars().all(label_value) {
            return None;
        }
        terms.push(format!("{key}={value}"));
    }
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The first thing wrong with a pod: a container waiting for a reason other than starting
/// up, one whose last run ended in failure, or the pod not scheduled.
fn pod_problem(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in containers {
        let state = container.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.as_deref().unwrap_or("");
            if !matches!(reason, "" | "ContainerCreating" | "PodInitializing") {
                return Some(clip(format!(
                    "pod {name}: container {} waiting: {reason}{}",
                    container.name,
                    waiting
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                )));
            }
        }
        let ended = container
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref());
        if let Some(ended) = ended.filter(|t| t.exit_code != 0) {
            return Some(clip(format!(
                "pod {name}: container {} last ended: {} (exit code {})",
                container.name,
                ended.reason.as_deref().unwrap_or("Error"),
                ended.exit_code
            )));
        }
    }
    let unscheduled = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    Some(clip(format!(
        "pod {name}: not scheduled: {}{}",
        unscheduled.reason.as_deref().unwrap_or("Unschedulable"),
        unscheduled
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default()
    )))
}

/// The latest event, a warning before any normal one of the same age.
fn latest_event(events: &[Event]) -> Option<String> {
    let when = |event: &Event| {
        event
            .last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| event.event_time.as_ref().map(|t| t.0.to_string()))
            .or_else(|| {
                event
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0.to_string())
            })
            .unwrap_or_default()
    };
    let latest = events
        .iter()
        .max_by_key(|event| (when(event), event.type_.as_deref() == Some("Warning")))?;
    Some(clip(format!(
        "last event: {} {}: {}",
        latest.type_.as_deref().unwrap_or("Normal"),
        latest.reason.as_deref().unwrap_or(""),
        latest.message.as_deref().unwrap_or("")
    )))
}

/// At most `MOST` characters, cut at a character boundary.
fn clip(text: String) -> String {
    match text.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "api-1"}, "status": status})).unwrap()
    }

    #[test]
    fn a_waiting_container_is_named_with_its_reason_and_message() {
        let stuck = pod(json!({"containerStatuses": [{"name": "api", "ready": false,
            "restartCount": 4, "image": "api:2", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}}]}));
        assert_eq!(
            pod_problem(&stuck).unwrap(),
            "pod api-1: container api waiting: CrashLoopBackOff (back-off 40s)"
        );
        // Starting up is not a problem.
        let starting = pod(json!({"containerStatuses": [{"name": "api", "ready": false,
            "restartCount": 0, "image": "api:2", "imageID": "",
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}));
        assert_eq!(pod_problem(&starting), None);
    }

    #[test]
    fn a_container_that_last_ended_badly_or_an_unscheduled_pod_is_named() {
        let killed = pod(json!({"containerStatuses": [{"name": "api", "ready": false,
            "restartCount": 1, "image": "api:2", "imageID": "",
            "state": {"running": {}},
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}));
        assert_eq!(
            pod_problem(&killed).unwrap(),
            "pod api-1: container api last ended: OOMKilled (exit code 137)"
        );
        let pending = pod(
            json!({"conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available"}]}),
        );
        assert_eq!(
            pod_problem(&pending).unwrap(),
            "pod api-1: not scheduled: Unschedulable (0/3 nodes are available)"
        );
    }

    #[test]
    fn the_latest_event_wins_and_long_text_is_clipped() {
        let event = |reason: &str, at: &str, message: &str| -> Event {
            serde_json::from_value(json!({"metadata": {"name": reason},
                "involvedObject": {"name": "api"}, "type": "Warning", "reason": reason,
                "message": message, "lastTimestamp": at}))
            .unwrap()
        };
        let events = [
            event("Old", "2026-11-29T00:00:01Z", "first"),
            event("New", "2026-11-29T00:00:09Z", &"x".repeat(400)),
        ];
        let latest = latest_event(&events).unwrap();
        assert!(
            latest.starts_with("last event: Warning New: xxx"),
            "{latest}"
        );
        assert_eq!(latest.chars().count(), MOST + 1);
        assert_eq!(latest_event(&[]), None);
    }

    #[test]
    fn the_pod_selector_comes_from_match_labels_or_the_template() {
        let deployment =
            json!({"spec": {"selector": {"matchLabels": {"app": "api", "tier": "web"}}}});
        assert_eq!(pod_selector(&deployment).unwrap(), "app=api,tier=web");
        let job = json!({"spec": {"template": {"metadata": {"labels": {"job": "migrate"}}}}});
        assert_eq!(pod_selector(&job).unwrap(), "job=migrate");
        assert_eq!(pod_selector(&json!({"spec": {}})), None);
        // Not labels: no selector rather than another one.
        let injected =
            json!({"spec": {"selector": {"matchLabels": {"app": "api,tier!=web", "x": "1"}}}});
        assert_eq!(pod_selector(&injected), None);
    }
}

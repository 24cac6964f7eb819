//! One stage of the rollout: every object of one cluster's tree server-side applied in
//! dependency order (a group at a time, a bounded number of requests at once), CRDs waited
//! on before what may use them, then every object watched until it is rolled out, failed,
//! or out of time. The stage is healthy only when every object is applied and ready.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::kubeapi::{self, ApplyOptions, Resources};
use super::order::{Group, apply_order};
use super::readiness::Readiness;
use super::{Cancel, diagnose, watch};
use crate::model::events::{Event, Events};
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status};
use crate::model::stage::StageReport;

/// Check names of the apply stage: each object is `applied`, then `ready`.
const APPLIED: &str = "applied";
const READY: &str = "ready";
/// Problems of the stage as a whole (the gate refused, no connection).
pub(crate) const STAGE: &str = "stage";

/// How a stage runs.
#[derive(Debug, Clone, Copy)]
pub struct StageOptions {
    pub apply: ApplyOptions,
    /// How long one object may take to become ready.
    pub resource_timeout: Duration,
    /// How long the whole stage may take.
    pub stage_timeout: Duration,
    /// The longest pause before a waiting object is read again when it cannot be watched.
    pub retry: Duration,
    /// Requests in flight at once within a group.
    pub concurrency: usize,
    /// What happens to workloads that do not become ready.
    pub on_failure: OnFailure,
}

/// How often a log gets a line about what a stage still waits on.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// `--on-failure`: what to do with the rollouts that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Leave them as they are (the default).
    #[default]
    Leave,
    /// Pause them, as `kubectl rollout pause` does (Deployments only).
    Pause,
    /// Put back the pod template they had before this stage (Deployments, StatefulSets,
    /// DaemonSets), as `kubectl rollout undo` does with the previous revision.
    Undo,
}

/// Check name of what `--on-failure` did to a failed rollout.
const ON_FAILURE: &str = "on-failure";

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            apply: ApplyOptions::default(),
            resource_timeout: Duration::from_secs(300),
            stage_timeout: Duration::from_secs(900),
            retry: Duration::from_secs(2),
            concurrency: 8,
            on_failure: OnFailure::Leave,
        }
    }
}

/// One object to apply: who it is, where it was generated, its JSON. The same three things
/// as the expansion's `Object`, with policyrun's ownership mark added to the value and the
/// identity shared (`Arc`) by every outcome about it; `pipeline::rollout::desired_objects`
/// builds one from the other.
#[derive(Debug, Clone)]
pub struct Desired {
    pub id: Arc<ObjectId>,
    pub file: PathBuf,
    pub value: Value,
}

/// What one stage applies, and to which cluster.
pub struct Input<'a> {
    /// The cluster's API server.
    pub client: &'a kube::Client,
    pub objects: Vec<Desired>,
    /// Set when the user interrupts: requests in flight finish, nothing new starts.
    pub cancel: &'a Cancel,
}

/// What a stage did: its report (one `applied` and, unless a dry run, one `ready` outcome per
/// object), and what the rollout decides on besides.
pub struct StageResult {
    pub report: StageReport,
    pub healthy: bool,
    /// The workloads whose spec this stage changed (or created), with what they were before;
    /// kept only when `--on-failure` is to act on them, for a bake that fails later.
    pub(crate) changed: Vec<Changed>,
}

/// A workload the stage changed, and the live object before it did.
#[derive(Debug, Clone)]
pub(crate) struct Changed {
    desired: Desired,
    before: Option<Value>,
}

fn outcome(desired: &Desired, check: &str, status: Status) -> Outcome {
    Outcome::new(Stage::Apply, check, status)
        .cluster(&desired.id.cluster)
        .entry(desired.id.entry.clone())
        .subject(desired.id.display_name())
        .object(desired.id.clone())
        .location(Location::file(desired.file.clone()))
}

/// Runs one stage: the input's objects applied to its cluster in order, then waited on. A
/// dry run applies with `dryRun=All` and waits for nothing: the server validated, nothing
/// changed. Once the input's `cancel` is cancelled, requests in flight finish, nothing new is
/// applied and waits end. What is waited on goes to `events`.
pub async fn run(options: &StageOptions, input: Input<'_>, events: &dyn Events) -> StageResult {
    let Input {
        client,
        objects,
        cancel,
    } = input;
    let options = *options;
    let mut stage = StageRun {
        client,
        options,
        cancel,
        events,
        started: Instant::now(),
        resources: Resources::default(),
        outcomes: Vec::new(),
        applied: Vec::new(),
        healthy: true,
        workloads_before: HashMap::new(),
        changed: Vec::new(),
    };
    for (group, members) in
        apply_order(objects, |d| (d.id.api_version.as_str(), d.id.kind.as_str()))
    {
        if !stage.healthy || cancel.is_cancelled() {
            stage.skip(group, &members);
            continue;
        }
        stage.apply_group(group, members).await;
        if stage.healthy && group == Group::Definitions && !options.apply.dry_run {
            stage.wait_for_definitions().await;
        }
    }
    if !options.apply.dry_run && stage.healthy {
        stage.wait_for_rollouts().await;
    }
    StageResult {
        report: StageReport::of(stage.outcomes),
        healthy: stage.healthy,
        changed: stage.changed,
    }
}

/// One stage as it goes: what it was given, and what it has done so far.
struct StageRun<'a> {
    client: &'a kube::Client,
    options: StageOptions,
    cancel: &'a Cancel,
    events: &'a dyn Events,
    started: Instant,
    resources: Resources,
    outcomes: Vec<Outcome>,
    /// Applied and not yet waited for.
    applied: Vec<Desired>,
    healthy: bool,
    /// The workloads as they were before this stage, for `--on-failure undo` and to tell
    /// which ones this stage changed (kept only when `--on-failure` is to act).
    workloads_before: HashMap<Arc<ObjectId>, Value>,
    changed: Vec<Changed>,
}

impl StageRun<'_> {
    /// A group after a failed one, or after Ctrl-C: its objects are not applied at all.
    fn skip(&mut self, group: Group, members: &[Desired]) {
        let reason = if self.cancel.is_cancelled() {
            "not applied: interrupted".to_owned()
        } else {
            format!("not applied: an earlier group ({group} depends on it) failed")
        };
        for desired in members {
            self.outcomes
                .push(outcome(desired, APPLIED, Status::Skipped).message(reason.clone()));
        }
        self.healthy = false;
    }

    /// Applies a group's objects at once, a bounded number of requests in flight.
    async fn apply_group(&mut self, group: Group, members: Vec<Desired>) {
        let unknown_kinds = self.look_up_kinds(&members).await;
        let acting_on_failure =
            group == Group::Workloads && self.options.on_failure != OnFailure::Leave;
        if acting_on_failure {
            self.remember_workloads_before(&members).await;
        }
        let (client, options, cancel, resources) =
            (self.client, self.options, self.cancel, &self.resources);
        let results: Vec<(Desired, Result<Value, String>)> = stream::iter(members)
            .map(|desired| {
                let unknown = unknown_kinds
                    .get(&(desired.id.api_version.clone(), desired.id.kind.clone()))
                    .cloned()
                    .flatten();
                async move {
                    let result = match unknown {
                        _ if cancel.is_cancelled() => Err("not applied: interrupted".to_owned()),
                        Some(problem) => Err(problem),
                        None => {
                            kubeapi::apply(client, resources, &desired.value, options.apply).await
                        }
                    };
                    (desired, result)
                }
            })
            .buffer_unordered(options.concurrency.max(1))
            .collect()
            .await;
        for (desired, result) in results {
            match result {
                Ok(live) => {
                    if acting_on_failure {
                        self.note_if_changed(&desired, &live);
                    }
                    let note = if options.apply.dry_run {
                        "server-side dry run accepted"
                    } else {
                        ""
                    };
                    self.outcomes
                        .push(outcome(&desired, APPLIED, Status::Passed).message(note));
                    self.applied.push(desired);
                }
                Err(problem) => {
                    self.healthy = false;
                    self.outcomes
                        .push(outcome(&desired, APPLIED, Status::Failed).message(problem));
                }
            }
        }
    }

    /// Looks up each kind of the group once, one at a time (a lookup may run discovery):
    /// per apiVersion and kind, why it cannot be applied, if it cannot.
    async fn look_up_kinds(
        &mut self,
        members: &[Desired],
    ) -> HashMap<(String, String), Option<String>> {
        let mut unknown_kinds = HashMap::new();
        for desired in members {
            let key = (desired.id.api_version.clone(), desired.id.kind.clone());
            if let std::collections::hash_map::Entry::Vacant(not_yet_looked_up) =
                unknown_kinds.entry(key)
            {
                let (api_version, kind) = not_yet_looked_up.key();
                let resolved = self.resources.resolve(self.client, api_version, kind).await;
                not_yet_looked_up.insert(resolved.err());
            }
        }
        unknown_kinds
    }

    async fn remember_workloads_before(&mut self, members: &[Desired]) {
        for desired in members {
            if let Ok(Some(live)) = kubeapi::get(self.client, &self.resources, &desired.value).await
            {
                self.workloads_before.insert(desired.id.clone(), live);
            }
        }
    }

    /// Keeps a workload this stage created or whose spec it changed, for a bake that fails.
    fn note_if_changed(&mut self, desired: &Desired, live: &Value) {
        let before = self.workloads_before.get(&desired.id);
        // The generation grows exactly when the spec changed.
        let generation = |v: &Value| v.pointer("/metadata/generation").cloned();
        if before.is_none_or(|b| generation(b) != generation(live)) {
            self.changed.push(Changed {
                desired: desired.clone(),
                before: before.cloned(),
            });
        }
    }

    /// Custom resources can be applied only once their definitions are established.
    async fn wait_for_definitions(&mut self) {
        let is_definition =
            |d: &Desired| Group::of(&d.id.api_version, &d.id.kind) == Group::Definitions;
        let crds: Vec<Desired> = self
            .applied
            .iter()
            .filter(|d| is_definition(d))
            .cloned()
            .collect();
        let waited = self.wait_all(crds).await;
        self.healthy &= waited.iter().all(|w| w.outcome.status == Status::Passed);
        self.outcomes.extend(waited.into_iter().map(|w| w.outcome));
        self.applied.retain(|d| !is_definition(d));
    }

    /// Waits for everything applied to roll out; `--on-failure` acts on the workloads that
    /// did not.
    async fn wait_for_rollouts(&mut self) {
        let applied = std::mem::take(&mut self.applied);
        let waited = self.wait_all(applied).await;
        self.healthy &= waited.iter().all(|w| w.outcome.status == Status::Passed);
        if self.options.on_failure != OnFailure::Leave {
            for failed in waited.iter().filter(|w| w.outcome.status != Status::Passed) {
                let desired = &failed.desired;
                if Group::of(&desired.id.api_version, &desired.id.kind) != Group::Workloads {
                    continue;
                }
                let before = self.workloads_before.get(&desired.id);
                let action = self.options.on_failure;
                self.outcomes.push(
                    after_failure(self.client, &self.resources, desired, before, action).await,
                );
            }
        }
        self.outcomes.extend(waited.into_iter().map(|w| w.outcome));
    }

    async fn wait_all(&self, objects: Vec<Desired>) -> Vec<Waited> {
        wait_all(
            self.client,
            &self.resources,
            objects,
            self.options,
            self.started,
            self.cancel,
            self.events,
        )
        .await
    }
}

/// `--on-failure` for a stage that became ready and then failed its bake: pauses or rolls
/// back every workload the stage changed, as for a rollout that did not become ready.
pub(crate) async fn after_bake_failure(
    client: &kube::Client,
    changed: &[Changed],
    action: OnFailure,
) -> Vec<Outcome> {
    let mut resources = Resources::default();
    let mut outcomes = Vec::new();
    for workload in changed {
        let id = &workload.desired.id;
        if let Err(problem) = resources.resolve(client, &id.api_version, &id.kind).await {
            outcomes.push(outcome(&workload.desired, ON_FAILURE, Status::Failed).message(problem));
            continue;
        }
        outcomes.push(
            after_failure(
                client,
                &resources,
                &workload.desired,
                workload.before.as_ref(),
                action,
            )
            .await,
        );
    }
    outcomes
}

/// Pauses a failed rollout or puts its previous spec back; the outcome says which, or why
/// neither could be done.
async fn after_failure(
    client: &kube::Client,
    resources: &Resources,
    desired: &Desired,
    before: Option<&Value>,
    action: OnFailure,
) -> Outcome {
    let base = outcome(desired, ON_FAILURE, Status::Passed);
    let result = match action {
        OnFailure::Leave => return base.message("left as it is"),
        OnFailure::Pause if desired.id.kind != "Deployment" => {
            return Outcome {
                status: Status::Warning,
                ..base
            }
            .message(format!(
                "not paused: only Deployments can be paused, not a {}",
                desired.id.kind
            ));
        }
        OnFailure::Pause => kubeapi::merge_patch(
            client,
            resources,
            &desired.value,
            &serde_json::json!({"spec": {"paused": true}}),
        )
        .await
        .map(|_| "paused (resume with kubectl rollout resume)".to_owned()),
        OnFailure::Undo
            if !matches!(
                desired.id.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet"
            ) =>
        {
            return Outcome {
                status: Status::Warning,
                ..base
            }
            .message(format!(
                "not rolled back: a {} has no revisions to go back to",
                desired.id.kind
            ));
        }
        OnFailure::Undo => {
            let Some(before) = before.and_then(|b| b.pointer("/spec/template")) else {
                return Outcome {
                    status: Status::Warning,
                    ..base
                }
                .message("not rolled back: it did not exist before this stage");
            };
            match kubeapi::get(client, resources, &desired.value).await {
                Err(problem) => Err(problem),
                Ok(None) => Err("not rolled back: it is gone".to_owned()),
                Ok(Some(now)) => {
                    let now = now.pointer("/spec/template").unwrap_or(&Value::Null);
                    match merge_patch_between(now, before) {
                        None => {
                            return Outcome {
                                status: Status::Warning,
                                ..base
                            }
                            .message(
                                "not rolled back: this stage did not change its pod template",
                            );
                        }
                        Some(template) => kubeapi::merge_patch(
                            client,
                            resources,
                            &desired.value,
                            &serde_json::json!({"spec": {"template": template}}),
                        )
                        .await
                        .map(|_| {
                            "rolled back to the pod template it had before this stage".to_owned()
                        }),
                    }
                }
            }
        }
    };
    match result {
        Ok(done) => base.message(done),
        Err(problem) => Outcome {
            status: Status::Failed,
            ..base
        }
        .message(problem),
    }
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`: changed members set,
/// members `to` lacks set to null; `None` when they are equal. A rollback by merge patch
/// changes the pod template only, as `kubectl rollout undo` does, and leaves the rest of the
/// spec (replicas an autoscaler owns, say) to whoever manages it.
fn merge_patch_between(from: &Value, to: &Value) -> Option<Value> {
    if from == to {
        return None;
    }
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in to {
                let change = match from.get(key) {
                    Some(old) => merge_patch_between(old, value),
                    None => Some(value.clone()),
                };
                if let Some(change) = change {
                    patch.insert(key.clone(), change);
                }
            }
            for key in from.keys().filter(|key| !to.contains_key(*key)) {
                patch.insert(key.clone(), Value::Null);
            }
            Some(Value::Object(patch))
        }
        _ => Some(to.clone()),
    }
}

/// An object waited on, and how the wait ended: what `--on-failure` acts on is the object
/// itself, never found again from the report's text.
struct Waited {
    desired: Desired,
    outcome: Outcome,
}

/// Waits for every object at once, each within the resource timeout and all within what
/// is left of the stage's.
async fn wait_all(
    client: &kube::Client,
    resources: &Resources,
    objects: Vec<Desired>,
    options: StageOptions,
    started: Instant,
    cancel: &Cancel,
    events: &dyn Events,
) -> Vec<Waited> {
    let total = objects.len();
    let cluster = objects
        .first()
        .map(|d| d.id.cluster.clone())
        .unwrap_or_default();
    let watching = Watching::default();
    let waits = stream::iter(objects)
        .map(|desired| {
            let watching = &watching;
            async move {
                let left = options.stage_timeout.saturating_sub(started.elapsed());
                let limit = options.resource_timeout.min(left);
                let name = desired.id.display_name();
                let (readiness, waited) = watch::wait(
                    client,
                    resources,
                    &desired.value,
                    limit,
                    options.retry,
                    cancel,
                    |why| watching.waiting(&name, why),
                )
                .await;
                watching.finished(&name);
                let status = match readiness {
                    Readiness::Ready(_) => Status::Passed,
                    Readiness::Waiting(_) | Readiness::Failed(_) => Status::Failed,
                };
                let mut message = match readiness {
                    Readiness::Ready(how) => how,
                    Readiness::Failed(why) => why,
                    Readiness::Waiting(what) => format!(
                        "not ready after {:.0?} ({}): {what}",
                        waited,
                        if limit < options.resource_timeout {
                            "stage timeout"
                        } else {
                            "timeout"
                        }
                    ),
                };
                let workload =
                    Group::of(&desired.id.api_version, &desired.id.kind) == Group::Workloads;
                if status == Status::Failed
                    && workload
                    && !cancel.is_cancelled()
                    && let Some(why) = diagnose::explain(client, &desired.value).await
                {
                    message = format!("{message}; {why}");
                }
                let outcome = outcome(&desired, READY, status).message(message);
                Waited { desired, outcome }
            }
        })
        .buffer_unordered(options.concurrency.max(1) * 4)
        .collect::<Vec<Waited>>();
    let (waited, ()) = tokio::join!(waits, watching.show(&cluster, total, events));
    waited
}

/// What a stage is still waiting on, for live progress.
#[derive(Default)]
struct Watching {
    pending: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
    done: std::sync::atomic::AtomicUsize,
}

impl Watching {
    fn waiting(&self, name: &str, why: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(name.to_owned(), why.to_owned());
        }
    }

    fn finished(&self, name: &str) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.remove(name);
        }
        self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The first few objects waited on, with why.
    fn summary(&self) -> (usize, String) {
        let pending = self.pending.lock().map(|p| p.clone()).unwrap_or_default();
        let shown: Vec<String> = pending
            .iter()
            .take(3)
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        let more = pending.len().saturating_sub(shown.len());
        let mut text = shown.join(", ");
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        (pending.len(), text)
    }

    /// Reports progress until every object has finished waiting.
    async fn show(&self, cluster: &str, total: usize, events: &dyn Events) {
        use std::sync::atomic::Ordering;
        let what = format!("{cluster}: ready");
        events.emit(Event::Begin {
            what: &what,
            total: Some(total as u64),
            log_every: Some(LOG_EVERY),
        });
        events.emit(Event::LogLine(&format!(
            "{cluster}: waiting for {total} objects to become ready"
        )));
        while self.done.load(Ordering::SeqCst) < total {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (waiting, text) = self.summary();
            let status = if waiting > 0 {
                format!("waiting on {text}")
            } else {
                String::new()
            };
            events.emit(Event::Progress {
                done: self.done.load(Ordering::SeqCst) as u64,
                status: &status,
            });
        }
        events.emit(Event::End);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merge_patch_between_two_values_turns_one_into_the_other() {
        use serde_json::json;
        let from = json!({"metadata": {"annotations": {"new": "1"}, "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "x", "image": "x:2"}]}});
        let to = json!({"metadata": {"labels": {"app": "x"}},
            "spec": {"containers": [{"name": "x", "image": "x:1"}]}});
        let patch = merge_patch_between(&from, &to).unwrap();
        assert_eq!(
            patch,
            json!({"metadata": {"annotations": null},
                "spec": {"containers": [{"name": "x", "image": "x:1"}]}})
        );
        assert_eq!(merge_patch_between(&to, &to), None);
        // Not an object: replaced whole.
        assert_eq!(merge_patch_between(&json!(1), &to), Some(to.clone()));
    }

    #[test]
    fn progress_names_the_first_objects_waited_on_and_counts_the_rest() {
        let watching = Watching::default();
        for (name, why) in [
            ("Deployment a/web", "1 of 3 updated replicas are available"),
            (
                "Deployment a/api",
                "waiting for the deployment spec update to be observed",
            ),
            ("Job a/migrate", "1 active, 0 succeeded, 0 failed"),
            ("StatefulSet a/db", "waiting for 1 pods to be ready"),
            ("DaemonSet a/agent", "1 of 2 updated pods are available"),
        ] {
            watching.waiting(name, why);
        }
        watching.finished("Deployment a/api");
        let (count, text) = watching.summary();
        assert_eq!(count, 4);
        assert_eq!(
            text,
            "DaemonSet a/agent (1 of 2 updated pods are available), Deployment a/web (1 of 3 updated replicas are available), Job a/migrate (1 active, 0 succeeded, 0 failed) and 1 more"
        );
    }
}

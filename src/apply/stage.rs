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
use super::readiness::{self, Readiness};
use crate::outcome::{Location, ObjectId, Outcome, Stage, Status};

/// Check names of the apply stage: each object is `applied`, then `ready`.
pub const APPLIED: &str = "applied";
pub const READY: &str = "ready";
/// Problems of the stage as a whole (the gate refused, no connection).
pub const STAGE: &str = "stage";

/// How a stage runs.
#[derive(Debug, Clone, Copy)]
pub struct StageOptions {
    pub apply: ApplyOptions,
    /// How long one object may take to become ready.
    pub resource_timeout: Duration,
    /// How long the whole stage may take.
    pub stage_timeout: Duration,
    /// How often a waiting object is looked at again.
    pub poll: Duration,
    /// Requests in flight at once within a group.
    pub concurrency: usize,
    /// What happens to workloads that do not become ready.
    pub on_failure: OnFailure,
}

/// `--on-failure`: what to do with the rollouts that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// Leave them as they are (the default).
    #[default]
    Leave,
    /// Pause them, as `kubectl rollout pause` does (Deployments only).
    Pause,
    /// Put back the spec they had before this stage.
    Undo,
}

/// Check name of what `--on-failure` did to a failed rollout.
pub const ON_FAILURE: &str = "on-failure";

/// Set when the user interrupts (Ctrl-C): requests in flight finish, nothing new starts,
/// waits end. Process-wide, as the signal is.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

impl Default for StageOptions {
    fn default() -> Self {
        StageOptions {
            apply: ApplyOptions::default(),
            resource_timeout: Duration::from_secs(300),
            stage_timeout: Duration::from_secs(900),
            poll: Duration::from_secs(2),
            concurrency: 8,
            on_failure: OnFailure::Leave,
        }
    }
}

/// One object to apply: who it is, where it was generated, its JSON.
#[derive(Debug, Clone)]
pub struct Desired {
    pub id: Arc<ObjectId>,
    pub file: PathBuf,
    pub value: Value,
}

/// What a stage did: one `applied` and (unless a dry run) one `ready` outcome per object.
pub struct StageResult {
    pub outcomes: Vec<Outcome>,
    pub healthy: bool,
}

fn outcome(desired: &Desired, check: &str, status: Status) -> Outcome {
    Outcome::new(Stage::Apply, check, status)
        .cluster(&desired.id.cluster)
        .entry(desired.id.entry.clone())
        .subject(desired.id.display_name())
        .object(desired.id.clone())
        .location(Location::file(desired.file.clone()))
}

/// Runs one stage against `client`. A dry run applies with `dryRun=All` and waits for
/// nothing: the server validated, nothing changed.
pub async fn run(
    client: &kube::Client,
    objects: Vec<Desired>,
    options: StageOptions,
) -> StageResult {
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut resources = Resources::default();
    let mut applied: Vec<Desired> = Vec::new();
    let mut healthy = true;
    // The workloads as they were before this stage, for `--on-failure undo`.
    let mut previous: HashMap<String, Value> = HashMap::new();
    for (group, members) in
        apply_order(objects, |d| (d.id.api_version.as_str(), d.id.kind.as_str()))
    {
        if !healthy || interrupted() {
            // A failed group's dependents are not applied at all.
            let reason = if interrupted() {
                "not applied: interrupted".to_owned()
            } else {
                format!("not applied: an earlier group ({group} depends on it) failed")
            };
            for desired in &members {
                outcomes.push(outcome(desired, APPLIED, Status::Skipped).message(reason.clone()));
            }
            healthy = false;
            continue;
        }
        // Kinds are looked up one at a time (each group version once), then applied at once.
        let mut lookups = HashMap::new();
        for desired in &members {
            let key = (desired.id.api_version.clone(), desired.id.kind.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = lookups.entry(key) {
                let (api_version, kind) = slot.key();
                let found = resources.resolve(client, api_version, kind).await;
                slot.insert(found.err());
            }
        }
        if group == Group::Workloads && options.on_failure == OnFailure::Undo {
            for desired in &members {
                if let Ok(Some(live)) = kubeapi::get(client, &resources, &desired.value).await {
                    previous.insert(desired.id.display_name(), live);
                }
            }
        }
        let resources_now = &resources;
        let results: Vec<(Desired, Result<Value, String>)> = stream::iter(members)
            .map(|desired| {
                let lookup = lookups
                    .get(&(desired.id.api_version.clone(), desired.id.kind.clone()))
                    .cloned()
                    .flatten();
                async move {
                    let result = match lookup {
                        _ if interrupted() => Err("not applied: interrupted".to_owned()),
                        Some(problem) => Err(problem),
                        None => {
                            kubeapi::apply(client, resources_now, &desired.value, options.apply)
                                .await
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
                Ok(_) => {
                    let note = if options.apply.dry_run {
                        "server-side dry run accepted"
                    } else {
                        ""
                    };
                    outcomes.push(outcome(&desired, APPLIED, Status::Passed).message(note));
                    applied.push(desired);
                }
                Err(problem) => {
                    healthy = false;
                    outcomes.push(outcome(&desired, APPLIED, Status::Failed).message(problem));
                }
            }
        }
        if healthy && group == Group::Definitions && !options.apply.dry_run {
            // Custom resources can be applied only once their definitions are established.
            let crds: Vec<Desired> = applied
                .iter()
                .filter(|d| Group::of(&d.id.api_version, &d.id.kind) == Group::Definitions)
                .cloned()
                .collect();
            let waited = wait_all(client, &resources, crds, options, started).await;
            healthy &= waited.iter().all(|o| o.status == Status::Passed);
            outcomes.extend(waited);
            applied.retain(|d| Group::of(&d.id.api_version, &d.id.kind) != Group::Definitions);
        }
    }
    if !options.apply.dry_run && healthy {
        let by_name: HashMap<String, Desired> = applied
            .iter()
            .map(|d| (d.id.display_name(), d.clone()))
            .collect();
        let waited = wait_all(client, &resources, applied, options, started).await;
        healthy &= waited.iter().all(|o| o.status == Status::Passed);
        if options.on_failure != OnFailure::Leave {
            for failed in waited.iter().filter(|o| o.status != Status::Passed) {
                let Some(desired) = failed.subject.as_ref().and_then(|s| by_name.get(s)) else {
                    continue;
                };
                if Group::of(&desired.id.api_version, &desired.id.kind) != Group::Workloads {
                    continue;
                }
                let before = previous.get(&desired.id.display_name());
                outcomes.push(
                    after_failure(client, &resources, desired, before, options.on_failure).await,
                );
            }
        }
        outcomes.extend(waited);
    }
    StageResult { outcomes, healthy }
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
        OnFailure::Undo => match before {
            None => {
                return Outcome {
                    status: Status::Warning,
                    ..base
                }
                .message("not rolled back: it did not exist before this stage");
            }
            Some(before) => {
                let mut restored = before.clone();
                super::diff::strip_server_fields(&mut restored);
                let force = ApplyOptions {
                    dry_run: false,
                    force_conflicts: true,
                };
                kubeapi::apply(client, resources, &restored, force)
                    .await
                    .map(|_| "rolled back to the spec it had before this stage".to_owned())
            }
        },
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

/// Waits for every object at once, each within the resource timeout and all within what
/// is left of the stage's.
async fn wait_all(
    client: &kube::Client,
    resources: &Resources,
    objects: Vec<Desired>,
    options: StageOptions,
    started: Instant,
) -> Vec<Outcome> {
    stream::iter(objects)
        .map(|desired| async move {
            let left = options.stage_timeout.saturating_sub(started.elapsed());
            let limit = options.resource_timeout.min(left);
            let (readiness, waited) =
                wait(client, resources, &desired.value, limit, options.poll).await;
            let status = match readiness {
                Readiness::Ready(_) => Status::Passed,
                Readiness::Waiting(_) | Readiness::Failed(_) => Status::Failed,
            };
            let message = match readiness {
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
            outcome(&desired, READY, status).message(message)
        })
        .buffer_unordered(options.concurrency.max(1) * 4)
        .collect()
        .await
}

/// Looks at one object until it is ready, has failed, or `limit` has passed; returns the
/// last readiness and how long it waited. It looks again soon at first (most objects are
/// ready within a second), then less often, up to every `poll`.
pub async fn wait(
    client: &kube::Client,
    resources: &Resources,
    object: &Value,
    limit: Duration,
    poll: Duration,
) -> (Readiness, Duration) {
    let started = Instant::now();
    let mut interval = poll.min(Duration::from_millis(50));
    loop {
        let readiness = match kubeapi::get(client, resources, object).await {
            Ok(Some(live)) => readiness::of(&live),
            Ok(None) => Readiness::Waiting("not found".into()),
            // A transient error is another reason to look again.
            Err(problem) => Readiness::Waiting(format!("cannot read it: {problem}")),
        };
        if !matches!(readiness, Readiness::Waiting(_)) || started.elapsed() >= limit {
            return (readiness, started.elapsed());
        }
        if interrupted() {
            return (
                Readiness::Failed(match readiness {
                    Readiness::Waiting(what) => format!("interrupted while waiting: {what}"),
                    other => format!("interrupted: {other:?}"),
                }),
                started.elapsed(),
            );
        }
        tokio::time::sleep(interval.min(limit.saturating_sub(started.elapsed()))).await;
        interval = (interval * 2).min(poll);
    }
}

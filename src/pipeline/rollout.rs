//! `policyrun apply`: the clusters in rollout order, one stage each. A stage starts only when
//! the gate passes for that cluster's tree, and the next starts only when the stage is
//! healthy: the first cluster that does not become healthy stops the rollout.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::events::Events;
use crate::model::expansion::Expanded;
use crate::model::outcome::{Outcome, Stage, Status};
use crate::model::repository::Cluster;
use crate::pipeline::Error;
use crate::pipeline::check;
use crate::pipeline::settings::{ClusterRollout, Config};

use crate::apply::Cancel;
use crate::apply::bake::{ConnectError, PreflightError};
use crate::apply::ownership::{self, Owner};
use crate::apply::prometheus::Prometheus;
use crate::apply::stage::{self, Desired, STAGE, StageOptions};

/// What `policyrun apply` was asked to do.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// Only these clusters (in rollout order); empty means all.
    pub clusters: Vec<String>,
    /// Stop after this cluster.
    pub until: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// Everything but the timeouts, which come from each cluster's settings...
    pub stage: StageOptions,
    /// ...unless given here (the command line).
    pub timeouts: crate::pipeline::settings::ApplySettings,
    /// After a healthy stage, delete what policyrun applied before and the tree dropped.
    pub prune: bool,
    /// Promote as soon as a stage is ready, without the configured bake (an emergency).
    pub no_bake: bool,
}

/// The clusters a plan walks, in rollout order.
pub(crate) fn clusters<'a>(
    config: &'a Config,
    plan: &Plan,
) -> Result<Vec<(&'a Cluster, &'a ClusterRollout)>, Error> {
    let mut selected = config.repo.select_clusters(&plan.clusters)?;
    if let Some(until) = &plan.until {
        let Some(last) = selected.iter().position(|c| &c.name == until) else {
            return Err(Error::UntilNotSelected {
                until: until.clone(),
                selected: selected.iter().map(|c| c.name.clone()).collect(),
            });
        };
        selected.truncate(last + 1);
    }
    selected
        .into_iter()
        .map(|cluster| match config.rollout_of(&cluster.name) {
            Some(rollout) => Ok((cluster, rollout)),
            None => Err(Error::NoRolloutSettings {
                cluster: cluster.name.clone(),
            }),
        })
        .collect()
}

/// The repository's name in ownership annotations: its directory's name.
pub(crate) fn repository_name(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().replace('/', "-"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "repository".to_owned())
}

/// The objects of a cluster's expansions as they are applied: with policyrun's label and
/// ownership annotation.
pub(crate) fn desired_objects(
    repository: &str,
    cluster: &str,
    expanded: &[crate::model::expansion::Expanded],
) -> Vec<Desired> {
    expanded
        .iter()
        .filter(|e| e.cluster == cluster)
        .filter_map(|e| e.result.as_ref().ok())
        .flat_map(|files| files.objects.iter())
        .map(|object| {
            let mut value = object.value().clone();
            ownership::mark(
                &mut value,
                &Owner {
                    repository: repository.to_owned(),
                    cluster: cluster.to_owned(),
                    entry: object.id.entry.to_string_lossy().into_owned(),
                },
            );
            Desired {
                id: Arc::new(object.id.clone()),
                file: object.file.clone(),
                value,
            }
        })
        .collect()
}

/// `policyrun diff`: per selected cluster, what applying its tree would change.
pub(crate) fn diff(
    config: &Config,
    plan: &Plan,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<Outcome>, Error> {
    let repository = repository_name(&config.repo.root);
    let mut outcomes = Vec::new();
    for (cluster, rollout) in clusters(config, plan)? {
        let options = check::Options {
            clusters: vec![cluster.name.clone()],
            ..check::Options::default()
        };
        let check::Expansion {
            expanded,
            badly_named,
            ..
        } = check::expand(config, &options)?;
        outcomes.extend(badly_named);
        outcomes.extend(
            check::expansion_outcomes(&expanded)
                .into_iter()
                .filter(|o| o.status.is_failure()),
        );
        let objects = desired_objects(&repository, &cluster.name, &expanded);
        let result = runtime.block_on(async {
            let client =
                crate::apply::kubeapi::connect(&rollout.context, plan.kubeconfig.as_deref())
                    .await?;
            Ok::<_, String>(crate::apply::diff::cluster(&client, objects).await)
        });
        match result {
            Ok(found) => outcomes.extend(found),
            Err(problem) => outcomes.push(
                Outcome::new(Stage::Apply, STAGE, Status::Error)
                    .cluster(&cluster.name)
                    .subject(format!("stage {}", cluster.name))
                    .message(problem),
            ),
        }
    }
    Ok(outcomes)
}

/// Runs the rollout; `runtime` drives the API calls, the gate runs on rayon in between.
/// Resolves when SIGINT (Ctrl-C) or, on Unix, SIGTERM arrives; false if neither can be
/// listened for.
async fn stopped_by_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut terminate) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            interrupt = tokio::signal::ctrl_c() => interrupt.is_ok(),
            _ = terminate.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Returns every outcome; the rollout stopped where a stage failed. What a stage or a bake
/// waits on goes to `events`.
pub(crate) fn run(
    config: &Config,
    plan: &Plan,
    runtime: &tokio::runtime::Runtime,
    events: &dyn Events,
) -> Result<Vec<Outcome>, Error> {
    let clusters = clusters(config, plan)?;
    let repository = repository_name(&config.repo.root);
    // From here on Ctrl-C, or the SIGTERM of a CI job that is aborted or out of time,
    // finishes what is in flight and reports instead of killing the process.
    let cancel = Cancel::new();
    let cancel_on_signal = cancel.clone();
    runtime.spawn(async move {
        if stopped_by_signal().await {
            cancel_on_signal.cancel();
        }
    });
    let mut outcomes = Vec::new();
    let mut stopped: Option<String> = None;
    for (cluster, rollout) in clusters {
        if stopped.is_none() && cancel.is_cancelled() {
            stopped = Some("interrupted".to_owned());
        }
        let stage = StageRun {
            cluster,
            rollout,
            plan,
            repository: &repository,
            cancel: &cancel,
            events,
        };
        if let Some(reason) = &stopped {
            outcomes.push(stage.outcome(Status::Skipped, format!("not applied: {reason}")));
            continue;
        }
        let (stage_outcomes, stop) = stage.run(config, runtime)?;
        outcomes.extend(stage_outcomes);
        stopped = stop;
    }
    Ok(outcomes)
}

/// One cluster's stage of a rollout, in its steps: (a) the gate on the cluster's tree,
/// the bake's server checked, (b)-(c) apply and watch, (d) bake and prune, then the verdict.
struct StageRun<'a> {
    cluster: &'a Cluster,
    rollout: &'a ClusterRollout,
    plan: &'a Plan,
    repository: &'a str,
    cancel: &'a Cancel,
    events: &'a dyn Events,
}

/// Why the bake's server cannot be asked: said in the stage's outcome, nothing applied.
#[derive(Debug, thiserror::Error)]
enum BakeServerError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Preflight(#[from] PreflightError),
}

/// How applying and baking one stage went, before the verdict.
struct Applied {
    result: stage::StageResult,
    bake_failed: bool,
}

impl StageRun<'_> {
    fn outcome(&self, status: Status, message: String) -> Outcome {
        Outcome::new(Stage::Apply, STAGE, status)
            .cluster(&self.cluster.name)
            .subject(format!("stage {}", self.cluster.name))
            .message(message)
    }

    /// The stage's outcomes, and why the rollout stops after it (`None`: it goes on).
    fn run(
        &self,
        config: &Config,
        runtime: &tokio::runtime::Runtime,
    ) -> Result<(Vec<Outcome>, Option<String>), Error> {
        let name = &self.cluster.name;
        let expanded = match self.gate(config)? {
            Ok(expanded) => expanded,
            Err(problems) => {
                let mut outcomes = vec![self.outcome(
                    Status::Failed,
                    format!(
                        "refusing to apply: the gate fails for this cluster's tree ({} problems, listed here)",
                        problems.len()
                    ),
                )];
                outcomes.extend(problems);
                return Ok((
                    outcomes,
                    Some(format!("the gate failed for cluster {name}")),
                ));
            }
        };
        let objects = desired_objects(self.repository, name, &expanded);
        let options = self.stage_options();
        // The bake's server and credential are checked before anything is applied: a bake
        // that could never run must not leave the cluster changed.
        let prometheus = match self.bake_server(runtime, options.apply.dry_run) {
            Ok(server) => server,
            Err(problem) => {
                let outcome = self.outcome(
                    Status::Error,
                    format!("cannot verify health: {problem}; nothing applied"),
                );
                return Ok((
                    vec![outcome],
                    Some(format!("cluster {name} cannot be baked")),
                ));
            }
        };
        // From here the cluster may change: a worker process stopped past this point must
        // not be started again to do it a second time (see `cli::supervise`).
        if !options.apply.dry_run {
            crate::model::supervision::final_part();
        }
        let applied = runtime.block_on(self.apply_and_bake(objects, options, prometheus.as_ref()));
        Ok(self.verdict(applied))
    }

    /// (a) The gate for this cluster's tree, as the pull request saw it — but for the style
    /// stage: layout is for reviewers, and must never hold back a rollout. Its expansions
    /// when it passes, its problems when it does not.
    fn gate(&self, config: &Config) -> Result<Result<Vec<Expanded>, Vec<Outcome>>, Error> {
        let options = check::Options {
            clusters: vec![self.cluster.name.clone()],
            ..check::Options::default()
        };
        let mut config = config.clone();
        config.style.enabled = false;
        let run = check::check(&config, &options)?;
        let problems: Vec<Outcome> = run
            .outcomes
            .into_iter()
            .filter(|o| o.status.is_failure())
            .collect();
        Ok(if problems.is_empty() {
            Ok(run.expanded)
        } else {
            Err(problems)
        })
    }

    /// The stage's options: the command line's timeouts over the cluster's own.
    fn stage_options(&self) -> StageOptions {
        let timeouts = self.plan.timeouts.or(self.rollout.apply);
        let mut options = self.plan.stage;
        if let Some(seconds) = timeouts.timeout {
            options.resource_timeout = std::time::Duration::from_secs(seconds);
        }
        if let Some(seconds) = timeouts.stage_timeout {
            options.stage_timeout = std::time::Duration::from_secs(seconds);
        }
        options
    }

    /// The Prometheus server the bake will ask, every query asked once already; `None` when
    /// nothing will be baked.
    fn bake_server(
        &self,
        runtime: &tokio::runtime::Runtime,
        dry_run: bool,
    ) -> Result<Option<Prometheus>, BakeServerError> {
        let bake = &self.rollout.bake;
        if !bake.enabled() || dry_run || self.plan.no_bake {
            return Ok(None);
        }
        runtime.block_on(async {
            let server = bake.connect()?;
            crate::apply::bake::preflight(bake, &server, self.cancel).await?;
            Ok(Some(server))
        })
    }

    /// (b)-(d) Apply and watch every object; when every rollout is ready, bake (or say why
    /// not), act on a failed bake as `--on-failure` says, and prune when asked to.
    async fn apply_and_bake(
        &self,
        objects: Vec<Desired>,
        options: StageOptions,
        prometheus: Option<&Prometheus>,
    ) -> Result<Applied, String> {
        let (cluster, bake, cancel) = (&self.cluster.name, &self.rollout.bake, self.cancel);
        let client =
            crate::apply::kubeapi::connect(&self.rollout.context, self.plan.kubeconfig.as_deref())
                .await?;
        let input = stage::Input {
            client: &client,
            objects: objects.clone(),
            cancel,
        };
        let mut result = stage::run(&options, input, self.events).await;
        let mut bake_failed = false;
        if result.healthy && bake.enabled() {
            let baked = match prometheus {
                None if options.apply.dry_run => crate::apply::bake::skipped(
                    cluster,
                    "skipped: a dry run changes nothing to bake",
                ),
                None => crate::apply::bake::skipped(
                    cluster,
                    "skipped (--no-bake): promoted as soon as every rollout was ready",
                ),
                Some(server) => {
                    crate::apply::bake::run(cluster, bake, server, cancel, self.events).await
                }
            };
            if baked.status.is_failure() {
                result.healthy = false;
                bake_failed = !cancel.is_cancelled();
                if bake_failed && options.on_failure != stage::OnFailure::Leave {
                    result.report.outcomes.extend(
                        stage::after_bake_failure(&client, &result.changed, options.on_failure)
                            .await,
                    );
                }
            }
            result.report.outcomes.push(baked);
        }
        // Only a healthy stage prunes: what replaces a pruned object must be running.
        if self.plan.prune && result.healthy {
            let pruned = crate::apply::prune::run(
                &client,
                &objects,
                self.repository,
                cluster,
                options.apply.dry_run,
            )
            .await;
            result.healthy &= pruned.iter().all(|o| !o.status.is_failure());
            result.report.outcomes.extend(pruned);
        }
        Ok(Applied {
            result,
            bake_failed,
        })
    }

    /// The stage's outcomes and its own verdict, and why the rollout stops here, if it does.
    fn verdict(&self, applied: Result<Applied, String>) -> (Vec<Outcome>, Option<String>) {
        let name = &self.cluster.name;
        let Applied {
            result,
            bake_failed,
        } = match applied {
            Ok(applied) => applied,
            Err(problem) => {
                return (
                    vec![self.outcome(Status::Error, problem)],
                    Some(format!("cluster {name} could not be reached")),
                );
            }
        };
        let healthy = result.healthy;
        let mut outcomes = result.report.outcomes;
        let (outcome, stop) = if healthy {
            (self.outcome(Status::Passed, "healthy".into()), None)
        } else if bake_failed {
            (
                self.outcome(
                    Status::Failed,
                    "ready, then not healthy while baking: the rollout stops here".into(),
                ),
                Some(format!("cluster {name} failed its bake")),
            )
        } else if self.cancel.is_cancelled() {
            (
                self.outcome(
                    Status::Failed,
                    "interrupted: requests in flight finished, nothing further applied".into(),
                ),
                Some("interrupted".to_owned()),
            )
        } else {
            (
                self.outcome(Status::Failed, "not healthy: the rollout stops here".into()),
                Some(format!("cluster {name} did not become healthy")),
            )
        };
        outcomes.push(outcome);
        (outcomes, stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_that_cannot_be_walked_is_an_error_of_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "clusters/dev", "clusters/int"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let config = crate::cli::config::Config::parse(
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n",
            dir.path().canonicalize().unwrap(),
        )
        .unwrap();
        let plan = |clusters: &[&str], until: Option<&str>| Plan {
            clusters: clusters.iter().map(|c| c.to_string()).collect(),
            until: until.map(str::to_owned),
            ..Plan::default()
        };
        let walked: Vec<&str> = clusters(&config, &plan(&[], Some("dev")))
            .unwrap()
            .iter()
            .map(|(c, _)| c.name.as_str())
            .collect();
        assert_eq!(walked, ["dev"]);
        let err = clusters(&config, &plan(&["int"], Some("dev"))).unwrap_err();
        assert!(
            matches!(&err, Error::UntilNotSelected { until, selected } if until == "dev" && selected == &["int"]),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "--until dev: not among the clusters to apply (int)"
        );
        assert!(matches!(
            clusters(&config, &plan(&["web"], None)),
            Err(Error::UnknownCluster(_))
        ));
    }
}

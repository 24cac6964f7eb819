//! The pre-merge gate: runs the stages over the selected clusters and collects their outcomes.
//! Every stage reports per entry, file or object; none stops the others.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::config::Config;
use crate::discover;
use crate::expand::{self, Expanded, Object};
use crate::freshness;
use crate::outcome::{Location, Outcome, Stage, Status};
use crate::policy::{self, ClusterContext, PolicyStage, waivers::Date};
use crate::schema::{self, Catalog, Target, gvk::Gvk};
use crate::shard::Shard;
use crate::style;

pub const EVALUATE: &str = "evaluate";
pub const UNIQUE_IDENTITY: &str = "unique-identity";

/// What a gate run needs to know beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Cluster names to check; empty means all, in rollout order.
    pub clusters: Vec<String>,
    /// Show a progress bar (the caller decides: a terminal, not CI, human output).
    pub progress: bool,
    /// Leave the schema stage out (the benchmark measures what it adds).
    pub without_schema: bool,
    /// Leave the policy stage out.
    pub without_policy: bool,
    /// Check and report only this shard's share (`--shard K/N`).
    pub shard: Option<Shard>,
    /// Leave the style stage out (as `[style] enabled = false` does).
    pub without_style: bool,
}

/// Everything a gate run produced: outcomes for reports, expansions and the schema catalog
/// (which also knows every kind's scope) for later stages.
pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub expanded: Vec<Expanded>,
    pub catalog: Catalog,
}

/// Discovers and expands the selected clusters' entries. A usage problem (unknown cluster,
/// unreadable cluster directory) is an `Err`; everything else is an outcome.
pub fn expand(config: &Config, options: &Options) -> Result<(Vec<Expanded>, bool), String> {
    let clusters = config.select_clusters(&options.clusters)?;
    let all = clusters.len() == config.clusters.len();
    let entries = discover::entries(config, &clusters)?;
    let progress = progress_bar(entries.len() as u64, options.progress);
    let expanded = expand::expand_all(config, &entries, &progress);
    progress.finish_and_clear();
    Ok((expanded, all))
}

/// Runs the gate: style, expansion, identity checks, freshness, schemas and policies. The
/// sources are formatted, the committed tree is listed, and the schemas and policies are
/// loaded while the entries expand: none needs the others, and done afterwards they would
/// be time when one core works and the others idle.
pub fn check(config: &Config, options: &Options) -> Result<Run, String> {
    let clusters = config.select_clusters(&options.clusters)?;
    let all_clusters = clusters.len() == config.clusters.len();
    let with_policy = !options.without_policy && !config.policy.is_empty();
    // The sources are no entry's: shard 1 checks them all (see `Shard::owns`).
    let with_style = !options.without_style
        && config.style.enabled
        && options.shard.is_none_or(|s| s.is_first());
    let ((expanded, (committed, style)), (catalog, policies)) = rayon::join(
        || {
            rayon::join(
                || expand(config, options),
                || {
                    rayon::join(
                        || freshness::CommittedTree::scan(config, &clusters, all_clusters),
                        || with_style.then(|| style::check(config, &clusters)),
                    )
                },
            )
        },
        || {
            rayon::join(
                || Catalog::new(config.schema.clone()),
                || with_policy.then(|| PolicyStage::new(&config.root, &config.policy)),
            )
        },
    );
    let (expanded, _) = expanded?;
    let mut catalog = catalog?;
    // Duplicate identities are found across all entries, then reported by their own shard.
    let mut outcomes = expansion_outcomes(&expanded);
    outcomes.extend(style.into_iter().flatten());
    let owned = |e: &Expanded| {
        options
            .shard
            .is_none_or(|s| s.owns_entry(&e.cluster, &e.entry.path))
    };
    let (own, others): (Vec<Expanded>, Vec<Expanded>) = expanded.into_iter().partition(owned);
    // The other shards' generated files look like orphans here: the filter below leaves
    // them to their owners, and a true orphan to the shard of the entry it names.
    outcomes.extend(freshness::check(config, &committed, &own));
    let own_targets = targets(&own);
    if !options.without_schema {
        outcomes.extend(schema::run(&mut catalog, &own_targets));
    }
    if let Some(policies) = policies {
        // Every object is context (namespaces created, inventory, waiver usage).
        let mut all_targets = own_targets;
        all_targets.extend(targets(&others));
        let part = match &options.shard {
            None => policy::Part::whole(),
            Some(shard) => policy::Part {
                owns: &|t: &Target| {
                    t.cluster
                        .zip(t.entry)
                        .is_some_and(|(c, e)| shard.owns_entry(c, e))
                },
                run_wide: shard.is_first(),
            },
        };
        outcomes.extend(policy_outcomes(
            config,
            &policies,
            &catalog,
            &all_targets,
            &part,
        ));
    }
    if let Some(shard) = &options.shard {
        outcomes.retain(|o| shard.owns(o, &config.generated));
    }
    let mut expanded = own;
    expanded.extend(others);
    Ok(Run {
        outcomes,
        expanded,
        catalog,
    })
}

/// The policy stage over every expanded object, each cluster with its own context.
pub fn policy_outcomes(
    config: &Config,
    policies: &PolicyStage,
    catalog: &Catalog,
    targets: &[Target],
    part: &policy::Part,
) -> Vec<Outcome> {
    let mut namespaces = policy::namespaces_by_cluster(targets);
    let contexts = config
        .clusters
        .iter()
        .map(|c| {
            let key = Some(c.name.clone());
            let context = ClusterContext {
                name: c.name.clone(),
                policy: c.policy.clone(),
                namespaces: namespaces.remove(&key).unwrap_or_default(),
            };
            (key, context)
        })
        .collect();
    policies.run(
        targets,
        &contexts,
        &|cluster, id| {
            catalog.namespaced(cluster, &Gvk::from_api_version(&id.api_version, &id.kind))
        },
        Date::today(),
        part,
    )
}

/// Every expanded object as something the schema and policy stages check.
pub fn targets(expanded: &[Expanded]) -> Vec<Target<'_>> {
    expanded
        .par_iter()
        .filter_map(|e| e.result.as_ref().ok())
        .flat_map_iter(|files| files.objects.iter())
        .map(|o| Target {
            subject: o.id.display_name(),
            cluster: Some(&o.id.cluster),
            entry: Some(&o.id.entry),
            id: &o.id,
            value: &o.value,
            location: Location::file(o.file.clone()),
        })
        .collect()
}

/// One `evaluate` outcome per entry, problems with produced values, and duplicate identities.
pub fn expansion_outcomes(expanded: &[Expanded]) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(expanded.len());
    for e in expanded {
        let base = Outcome::new(Stage::Expand, EVALUATE, Status::Passed)
            .cluster(&e.cluster)
            .entry(e.entry.path.clone())
            .subject(e.entry.path.display().to_string());
        match &e.result {
            Ok(files) => {
                if files.problems.is_empty() {
                    outcomes.push(base);
                } else {
                    outcomes.push(
                        Outcome {
                            status: Status::Failed,
                            ..base
                        }
                        .message(format!(
                            "{} value(s) are not well-formed Kubernetes objects: {}",
                            files.problems.len(),
                            files.problems[0]
                        ))
                        .detail(files.problems.join("\n"))
                        .location(Location::file(e.entry.path.clone())),
                    );
                }
            }
            Err(failure) => {
                let mut outcome = Outcome {
                    status: Status::Error,
                    ..base
                }
                .message(failure.message.clone())
                .location(
                    failure
                        .location
                        .clone()
                        .unwrap_or_else(|| Location::file(e.entry.path.clone())),
                );
                outcome.detail = failure.detail.clone();
                outcomes.push(outcome);
            }
        }
    }
    outcomes.extend(duplicate_identities(expanded));
    outcomes
}

/// Two objects that the cluster would see as one (same group, kind, namespace and name)
/// are a failure naming both sources.
fn duplicate_identities(expanded: &[Expanded]) -> Vec<Outcome> {
    let mut seen: HashMap<(&str, &str, &str, Option<&str>, &str), &Object> = HashMap::new();
    let mut outcomes = Vec::new();
    for object in expanded
        .iter()
        .filter_map(|e| e.result.as_ref().ok())
        .flat_map(|r| r.objects.iter())
    {
        let id = &object.id;
        let group = id.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            id.cluster.as_str(),
            group,
            id.kind.as_str(),
            id.namespace.as_deref(),
            id.name.as_str(),
        );
        if let Some(first) = seen.get(&key) {
            outcomes.push(
                Outcome::new(Stage::Expand, UNIQUE_IDENTITY, Status::Failed)
                    .cluster(&id.cluster)
                    .entry(id.entry.clone())
                    .subject(id.entry.display().to_string())
                    .object(id.clone())
                    .message(format!(
                        "duplicate object {} ({}): produced by {} and by {}",
                        id.display_name(),
                        id.api_version,
                        first.file.display(),
                        object.file.display()
                    ))
                    .location(Location::file(object.file.clone())),
            );
        } else {
            seen.insert(key, object);
        }
    }
    outcomes
}

/// A progress bar on stderr when the caller asks for one (a terminal, outside CI), else a
/// hidden one that costs nothing.
fn progress_bar(len: u64, enabled: bool) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} expanding {pos}/{len} entries {wide_bar} {elapsed}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

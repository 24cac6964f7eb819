//! The pre-merge gate: runs the stages over the selected clusters and collects their outcomes.
//! Every stage reports per entry, file or object; none stops the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::freshness;
use crate::jsonnet;
use crate::jsonnet::discover;
use crate::jsonnet::stage::EntryExpansion;
use crate::model::events::Events;
use crate::model::expansion::Entry;
use crate::model::expansion::{Expanded, ExpandedFiles, Object};
use crate::model::json_lines;
use crate::model::object::{Source, Target};
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status};
use crate::model::repository::Cluster;
use crate::model::stage::{self, StageReport};
use crate::model::stats::Stats;
use crate::pipeline::Error;
use crate::pipeline::changes::Changes;
use crate::pipeline::settings::Config;
use crate::pipeline::shard::Shard;
use crate::policy::{self, ClusterContext, PolicyStage};
use crate::policy::{MemoryError, VerdictMemory};
use crate::report::events::{Bar, TracesOnly};
use crate::schema::{self, Catalog, gvk::Gvk};
use crate::store::Store;
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
    /// Where expansions (and verdicts, canonical sources) are remembered; `None` evaluates
    /// every entry.
    pub cache: Option<Store>,
    /// Notes from the caller for the run's stats (why there is no cache).
    pub notes: Vec<String>,
    /// `check` only: check only the entries a change since this git revision reaches.
    pub changed_since: Option<String>,
    /// Check and report only this shard's share (`--shard K/N`); not with `changed_since`.
    pub shard: Option<Shard>,
    /// Evaluate every object on its own: no policy evaluation or schema check is shared
    /// between objects of the same content (the reports must not differ; tests and
    /// benchmarks compare; `POLICYRUN_NO_SHARING=1` for the binary).
    pub without_sharing: bool,
    /// `check --gate-from`: the protected branch's gate (the configuration is already
    /// judged by it), for the findings about waiver annotations this change adds.
    pub gate: Option<Arc<super::gate::Baseline>>,
    /// The change to the gate is approved: its findings warn instead of failing.
    pub gate_changes_approved: bool,
}

/// Everything a gate run produced: outcomes for reports, expansions and the schema catalog
/// (which also knows every kind's scope) for later stages.
pub struct Run {
    pub outcomes: Vec<Outcome>,
    pub expanded: Vec<Expanded>,
    pub catalog: Catalog,
    pub stats: Stats,
}

/// What `expand` found.
pub struct Expansion {
    pub expanded: Vec<Expanded>,
    /// The error outcomes of entry files whose names cannot be used (never expanded).
    pub badly_named: Vec<Outcome>,
    /// Whether every cluster was selected.
    pub every_cluster: bool,
    pub stats: Stats,
}

/// Discovers and expands the selected clusters' entries. A usage problem (unknown cluster,
/// unreadable cluster directory) is an `Err`; everything else is an outcome.
pub fn expand(config: &Config, options: &Options) -> Result<Expansion, Error> {
    let scope = Scope::of(config, options)?;
    let discovered = discover::entries(&config.repo, &scope.clusters)?;
    let entries = discovered.entries;
    let (parts, stats, _) = expand_entries(config, options, &entries, None)?;
    let expanded = parts
        .into_iter()
        .filter_map(|part| match part {
            EntryExpansion::Checked(expanded) => Some(*expanded),
            EntryExpansion::ContextOnly(_) => None,
        })
        .collect();
    Ok(Expansion {
        expanded,
        badly_named: discovered.badly_named,
        every_cluster: scope.every_cluster,
        stats,
    })
}

/// Expands `entries` with the jsonnet stage: from the records where one is up to date,
/// else by evaluating them (and recording the result). With `changed_since`, an entry the
/// change does not reach is not checked: its record (it has one, or it would be reached)
/// gives its context.
fn expand_entries(
    config: &Config,
    options: &Options,
    entries: &[Entry],
    changed_since: Option<&str>,
) -> Result<(Vec<EntryExpansion>, Stats, Option<Changes>), Error> {
    let input = jsonnet::stage::Input {
        entries,
        records: options.cache.as_ref(),
    };
    // git lists the changes while the records are read: neither needs the other.
    let (changes, recalled) = rayon::join(
        || {
            changed_since
                .map(|rev| Changes::since(config, rev))
                .transpose()
        },
        || jsonnet::stage::recall(&config.repo, &input),
    );
    let changes = changes?;
    let mut stats = Stats {
        changed_since: changes.as_ref().map(|c| c.since.clone()),
        ..Stats::default()
    };
    stats.notes.extend(options.notes.iter().cloned());
    if let Some(path) = changes.as_ref().and_then(|c| c.everything.as_ref()) {
        stats.notes.push(format!(
            "{} changed: every entry is checked",
            path.display()
        ));
    } else if changes.is_some() && options.cache.is_none() {
        stats
            .notes
            .push("without the cache no entry's inputs are known: every entry is checked".into());
    }
    let checked: Vec<bool> = (0..entries.len())
        .map(|i| {
            changes
                .as_ref()
                .is_none_or(|c| c.reaches(config, &entries[i], recalled.inputs(i)))
        })
        .collect();
    let events = expansion_events(options.progress);
    let (parts, report) = jsonnet::stage::run(&config.repo, input, recalled, &checked, &events);
    stats.notes.extend(report.notes);
    stats.absorb(report.stats);
    Ok((parts, stats, changes))
}

/// What part of the repository a run checks, decided once from the options: which
/// clusters, and whether `--changed-since` or `--shard` leaves part of them to other runs.
/// The stages whose memory may forget what a run did not see ask it, not the options.
struct Scope<'c> {
    clusters: Vec<&'c Cluster>,
    /// Every configured cluster is selected.
    every_cluster: bool,
    /// `--changed-since`: entries the change does not reach are not checked.
    partial: bool,
    shard: Option<Shard>,
}

impl<'c> Scope<'c> {
    fn of(config: &'c Config, options: &Options) -> Result<Scope<'c>, Error> {
        let clusters = config.repo.select_clusters(&options.clusters)?;
        let partial = options.changed_since.is_some();
        if partial && options.shard.is_some() {
            return Err(Error::ShardWithChangedSince);
        }
        Ok(Scope {
            every_cluster: clusters.len() == config.repo.clusters.len(),
            clusters,
            partial,
            shard: options.shard,
        })
    }

    /// Every jsonnet source is judged: the style stage runs over all sources whatever
    /// `--changed-since` says, and only the first shard runs it.
    fn every_source(&self) -> bool {
        self.every_cluster
    }

    /// Every entry's objects are among the policy stage's targets (a shard still sees the
    /// others' as context), so a file waiver that waived nothing is known to. With some
    /// clusters selected, another cluster's objects are not: its waivers are not unused.
    fn every_entry_seen(&self) -> bool {
        !self.partial && self.every_cluster
    }

    /// Every object of the tree is evaluated in this run.
    fn every_object(&self) -> bool {
        self.every_cluster && !self.partial && self.shard.is_none()
    }
}

/// Runs the gate: style, expansion, identity checks, freshness, schemas and policies. The
/// sources are formatted, the committed tree is listed, and the schemas and policies are
/// loaded while the entries expand: none needs the others, and done afterwards they would
/// be time when one core works and the others idle.
///
/// With `changed_since`, only the entries the changes reach are checked; the others are
/// context for the checks that look across entries (duplicate identities, the namespaces
/// policies see, the CRDs that define kinds), and freshness looks only at the checked
/// entries' generated files and at the orphans the change may have left. A revision git
/// does not know is an `Err` (a usage error).
///
/// With `shard`, every entry is still expanded — the checks across entries need them all —
/// but only the shard's own entries, files and objects are checked and reported (see
/// `shard`).
pub fn check(config: &Config, options: &Options) -> Result<Run, Error> {
    let scope = Scope::of(config, options)?;
    let discovered = discover::entries(&config.repo, &scope.clusters)?;
    let entries = discovered.entries;
    let started = start(config, options, &scope, &entries);
    let (parts, mut stats, changes) = started.parts?;
    let mut catalog = started.catalog?;
    let (mut outcomes, expanded, context) = split_parts(parts, stats.checked);
    // Reported whatever --changed-since selects: a name that cannot be used is no entry's
    // change to judge, and leaving it out would pass it.
    outcomes.extend(discovered.badly_named);
    outcomes.extend(evaluation_outcomes(&expanded));
    if let Some(mut style) = started.style {
        super::syntax_errors::report_once(&mut outcomes, &mut style.outcomes);
        stage::add(&mut outcomes, &mut stats, style);
    }
    let committed = committed_tree(
        config,
        &scope,
        started.committed,
        &expanded,
        changes.as_ref(),
        &entries,
    );
    let owned = |e: &Expanded| {
        options
            .shard
            .is_none_or(|s| s.owns_entry(&e.cluster, &e.entry.path))
    };
    let (own, others): (Vec<Expanded>, Vec<Expanded>) = expanded.into_iter().partition(owned);
    // The other shards' generated files look like orphans here: the filter below leaves
    // them to their owners, and a true orphan to the shard of the entry it names.
    let input = freshness::Input {
        committed: &committed,
        expanded: &own,
    };
    let policies = started.policies;
    // Freshness reads the committed files, the object checks read the expansions: neither
    // needs the other, and the object checks have serial parts a core would idle through.
    let (fresh, ()) = rayon::join(
        || freshness::run(&config.repo, input),
        || {
            let (outcomes, stats, catalog) = (&mut outcomes, &mut stats, &mut catalog);
            let own_targets = targets(&own);
            if let Some(gate) = &options.gate {
                for target in &own_targets {
                    if let Some(mut finding) = gate.annotation_finding(
                        &target.subject,
                        &target.location.file,
                        target.value(),
                        options.gate_changes_approved,
                    ) {
                        finding.cluster = target.cluster.map(str::to_owned);
                        finding.entry = target.entry.map(Path::to_path_buf);
                        finding.location = Some(target.location_of(&format!(
                            "/metadata/annotations/{}",
                            crate::model::outcome::pointer_segment(super::gate::WAIVER_ANNOTATION)
                        )));
                        outcomes.push(finding);
                    }
                }
            }
            if !options.without_schema {
                let input = schema::Input {
                    targets: &own_targets,
                    context: &context,
                    share: !options.without_sharing,
                    memory: options
                        .cache
                        .as_ref()
                        .map(schema::memory::SchemaMemory::open),
                    every_object: scope.every_object(),
                };
                stage::add(outcomes, stats, schema::run(catalog, input));
            }
            if config.policy.is_empty() {
                outcomes.push(policy::no_policies());
            }
            if let Some((policies, memory)) = policies {
                // Every expanded object is context (namespaces created, inventory, waiver usage).
                let mut all_targets = own_targets;
                all_targets.extend(targets(&others));
                let owns = |t: &Target| {
                    options.shard.is_none_or(|shard| {
                        t.cluster
                            .zip(t.entry)
                            .is_some_and(|(c, e)| shard.owns_entry(c, e))
                    })
                };
                let share = policy::RunShare {
                    owns: &owns,
                    // Said once, by the first shard (or the whole run).
                    run_wide: options.shard.is_none_or(|s| s.is_first()),
                    // Entries left out by --changed-since may use a file waiver: whether one
                    // waives nothing is for a run that sees every entry to say.
                    usage_known: scope.every_entry_seen(),
                };
                let contexts = cluster_contexts(config, &all_targets, &context);
                let input = policy::Input {
                    targets: &all_targets,
                    documents: &[],
                    contexts: &contexts,
                    namespaced: &|cluster, id| namespaced(catalog, cluster, id),
                    share: &share,
                    memory,
                    every_object: scope.every_object(),
                };
                stage::add(outcomes, stats, policies.run(input));
            }
        },
    );
    stage::add(&mut outcomes, &mut stats, fresh);
    if let Some(shard) = &options.shard {
        outcomes.retain(|o| shard.owns(o, &config.repo.generated));
    }
    let mut expanded = own;
    expanded.extend(others);
    Ok(Run {
        outcomes,
        expanded,
        catalog,
        stats,
    })
}

/// What the gate starts at once, since none needs another's result: the entries' expansion,
/// the committed tree's scan, the style stage, the schema catalog and the policies with
/// their memory. Done one after the other they would be time when one core works and the
/// others idle.
struct Started<'c> {
    parts: Result<(Vec<EntryExpansion>, Stats, Option<Changes>), Error>,
    /// `None` in a partial run, which knows where to look only after its entries are chosen.
    committed: Option<freshness::CommittedTree>,
    style: Option<StageReport>,
    catalog: Result<Catalog, schema::CatalogError>,
    policies: Option<(PolicyStage, Option<Result<VerdictMemory<'c>, MemoryError>>)>,
}

fn start<'c>(
    config: &Config,
    options: &'c Options,
    scope: &Scope,
    entries: &[Entry],
) -> Started<'c> {
    let with_policy = !config.policy.is_empty();
    // The sources are no entry's: shard 1 checks them all (see `Shard::owns`).
    let with_style = config.style.enabled && options.shard.is_none_or(|s| s.is_first());
    let ((parts, (committed, style)), (catalog, policies)) = rayon::join(
        || {
            rayon::join(
                || expand_entries(config, options, entries, options.changed_since.as_deref()),
                || {
                    rayon::join(
                        || {
                            (!scope.partial).then(|| {
                                freshness::CommittedTree::scan(
                                    &config.repo,
                                    &scope.clusters,
                                    scope.every_cluster,
                                )
                            })
                        },
                        || {
                            with_style.then(|| {
                                let input = style::Input {
                                    clusters: &scope.clusters,
                                    every_source: scope.every_source(),
                                    memory: options.cache.as_ref(),
                                };
                                style::run(&config.repo, &config.style, input)
                            })
                        },
                    )
                },
            )
        },
        || {
            rayon::join(
                || Catalog::new(config.schema.clone()),
                || {
                    with_policy.then(|| {
                        let mut stage = PolicyStage::new(&config.gate_root, &config.policy);
                        if options.without_sharing {
                            stage = stage.without_sharing();
                        }
                        let memory = options.cache.as_ref().and_then(|c| stage.memory(c));
                        (stage, memory)
                    })
                },
            )
        },
    );
    Started {
        parts,
        committed,
        style,
        catalog,
        policies,
    }
}

/// The checked entries' expansions and the objects of the others (context), and the
/// duplicate-identity outcomes, which look across both.
fn split_parts(
    parts: Vec<EntryExpansion>,
    checked: usize,
) -> (Vec<Outcome>, Vec<Expanded>, Vec<Object>) {
    let text_of = |file: &Path| {
        parts.iter().find_map(|part| match part {
            EntryExpansion::Checked(e) => text_in(e, file),
            EntryExpansion::ContextOnly(_) => None,
        })
    };
    let outcomes = duplicate_identities(
        parts.iter().flat_map(|part| {
            let (objects, checked): (&[Object], bool) = match part {
                EntryExpansion::Checked(e) => (e.result.as_ref().map_or(&[], |r| &r.objects), true),
                EntryExpansion::ContextOnly(objects) => (objects, false),
            };
            objects.iter().map(move |o| (o, checked))
        }),
        &text_of,
    );
    let mut context = Vec::new();
    let mut expanded = Vec::with_capacity(checked);
    for part in parts {
        match part {
            EntryExpansion::Checked(e) => expanded.push(*e),
            EntryExpansion::ContextOnly(objects) => context.extend(objects),
        }
    }
    (outcomes, expanded, context)
}

/// The committed tree freshness compares with: the whole scan, or in a partial run the
/// places of the checked entries and the orphans the change may have left.
fn committed_tree(
    config: &Config,
    scope: &Scope,
    scanned: Option<freshness::CommittedTree>,
    expanded: &[Expanded],
    changes: Option<&Changes>,
    entries: &[Entry],
) -> freshness::CommittedTree {
    if let Some(scanned) = scanned {
        return scanned;
    }
    let mut places: Vec<PathBuf> = expanded
        .iter()
        .map(|e| crate::model::expansion::output_prefix(&config.repo, &e.cluster, &e.entry))
        .collect();
    if let Some(changes) = changes {
        places.extend(changes.orphan_roots(config, &scope.clusters, entries));
    }
    freshness::CommittedTree::scan_some(&config.repo, &places)
}

/// The policy stage over `targets`, each cluster with its own context, without a memory of
/// earlier runs, each pass an outcome of its own (the reference tests compare these
/// outcomes with OPA's).
pub fn policy_outcomes(
    config: &Config,
    policies: &PolicyStage,
    catalog: &Catalog,
    targets: &[Target],
    part: &policy::RunShare,
) -> Vec<Outcome> {
    let contexts = cluster_contexts(config, targets, &[]);
    let input = policy::Input {
        targets,
        documents: &[],
        contexts: &contexts,
        namespaced: &|cluster, id| namespaced(catalog, cluster, id),
        share: part,
        memory: None,
        every_object: true,
    };
    crate::model::outcome::every_pass(policies.run(input).outcomes)
}

/// Each configured cluster's policy context: its `[cluster.policy]` table and the Namespaces
/// among `targets` and the `context` objects (entries not checked, whose Namespaces exist too).
pub fn cluster_contexts(
    config: &Config,
    targets: &[Target],
    context: &[Object],
) -> HashMap<Option<String>, ClusterContext> {
    let mut namespaces = policy::namespaces_by_cluster(targets);
    for object in context {
        let id = &object.id;
        if id.kind == "Namespace" && id.api_version == "v1" {
            namespaces
                .entry(Some(id.cluster.clone()))
                .or_default()
                .insert(id.name.clone());
        }
    }
    config
        .repo
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
        .collect()
}

/// Whether the object's kind is namespaced in `cluster`, as far as the schemas tell.
pub fn namespaced(catalog: &Catalog, cluster: Option<&str>, id: &ObjectId) -> Option<bool> {
    catalog.namespaced(cluster, &Gvk::from_api_version(&id.api_version, &id.kind))
}

/// Every expanded object as something the schema and policy stages check, located at the
/// line where it starts in its generated file.
pub fn targets(expanded: &[Expanded]) -> Vec<Target<'_>> {
    expanded
        .par_iter()
        .filter_map(|e| e.result.as_ref().ok())
        .flat_map_iter(located_targets)
        .collect()
}

/// One entry's objects as targets, each file's text read once for all the objects in it
/// (a List may hold hundreds).
fn located_targets(files: &ExpandedFiles) -> Vec<Target<'_>> {
    let texts: HashMap<&Path, &str> = files
        .files
        .iter()
        .map(|produced| (produced.path.as_path(), &*produced.text))
        .collect();
    let mut by_file: HashMap<&Path, Vec<usize>> = HashMap::new();
    for (index, object) in files.objects.iter().enumerate() {
        by_file
            .entry(object.file.as_path())
            .or_default()
            .push(index);
    }
    let mut lines = vec![None; files.objects.len()];
    for (file, indices) in by_file {
        let Some(text) = texts.get(file) else {
            continue;
        };
        let pointers: Vec<&str> = indices
            .iter()
            .map(|&i| files.objects[i].pointer.as_str())
            .collect();
        // A file that is one object starts it on its first line: no text to read again
        // (the common layout; a warm run would pay for scanning every file).
        if pointers.iter().all(|p| p.is_empty()) && !text.trim_start().is_empty() {
            let first = text.len() - text.trim_start().len();
            let line = 1 + text[..first].matches('\n').count();
            for index in indices {
                lines[index] = Some(line);
            }
            continue;
        }
        for (index, line) in indices
            .into_iter()
            .zip(json_lines::lines_of(text, &pointers))
        {
            lines[index] = line;
        }
    }
    files
        .objects
        .iter()
        .zip(lines)
        .map(|(o, line)| Target {
            subject: o.id.display_name(),
            cluster: Some(&o.id.cluster),
            entry: Some(&o.id.entry),
            id: &o.id,
            value: &o.value,
            location: Location {
                file: o.file.clone(),
                line,
                column: None,
            },
            source: texts.get(o.file.as_path()).map(|text| Source {
                text,
                pointer: &o.pointer,
            }),
            content: o.digest,
        })
        .collect()
}

/// One `evaluate` outcome per entry, problems with produced values, and duplicate identities.
pub fn expansion_outcomes(expanded: &[Expanded]) -> Vec<Outcome> {
    let mut outcomes = evaluation_outcomes(expanded);
    outcomes.extend(duplicate_identities(
        expanded
            .iter()
            .filter_map(|e| e.result.as_ref().ok())
            .flat_map(|r| r.objects.iter())
            .map(|o| (o, true)),
        &|file| expanded.iter().find_map(|e| text_in(e, file)),
    ));
    outcomes
}

/// The text an expansion produced for `file`.
fn text_in<'e>(expanded: &'e Expanded, file: &Path) -> Option<&'e str> {
    let files = expanded.result.as_ref().ok()?;
    files
        .files
        .iter()
        .find(|produced| produced.path == file)
        .map(|produced| &*produced.text)
}

/// One `evaluate` outcome per entry, with the problems of its produced values.
fn evaluation_outcomes(expanded: &[Expanded]) -> Vec<Outcome> {
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
    outcomes
}

/// Two objects that the cluster would see as one (same group, kind, namespace and name)
/// are a failure naming both sources. `objects` come in entry order, each saying whether
/// its entry is checked; a pair is reported when one of the two is (a run that checks
/// some entries still sees a clash with one it does not check).
fn duplicate_identities<'a>(
    objects: impl Iterator<Item = (&'a Object, bool)>,
    text_of: &dyn Fn(&Path) -> Option<&'a str>,
) -> Vec<Outcome> {
    // Cluster, group, kind, namespace, name.
    type Identity<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str);
    let mut seen: HashMap<Identity, (&Object, bool)> = HashMap::new();
    let mut outcomes = Vec::new();
    for (object, checked) in objects {
        let id = &object.id;
        let group = id.api_version.rsplit_once('/').map_or("", |(g, _)| g);
        let key = (
            id.cluster.as_str(),
            group,
            id.kind.as_str(),
            id.namespace.as_deref(),
            id.name.as_str(),
        );
        if let Some(&(first, first_checked)) = seen.get(&key) {
            if !checked && !first_checked {
                continue;
            }
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
                    .location(Location {
                        file: object.file.clone(),
                        // Rare: the file is looked for only now.
                        line: text_of(&object.file)
                            .and_then(|text| json_lines::line_of(text, &object.pointer)),
                        column: None,
                    }),
            );
        } else {
            seen.insert(key, (object, checked));
        }
    }
    outcomes
}

/// Where the expansion's events go: a progress bar on stderr when the caller asks for one
/// (a terminal, outside CI), else only the entries' trace lines, which every run prints.
fn expansion_events(progress: bool) -> Arc<dyn Events> {
    if progress {
        Arc::new(Bar::new())
    } else {
        Arc::new(TracesOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "clusters/dev"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let config = crate::cli::config::Config::parse(
            "[[cluster]]\nname = \"dev\"\n",
            dir.path().canonicalize().unwrap(),
        )
        .unwrap();
        (dir, config)
    }

    #[test]
    fn a_scope_that_cannot_be_run_is_an_error_of_its_kind() {
        let (_dir, config) = config();
        let unknown = Options {
            clusters: vec!["web".into()],
            ..Options::default()
        };
        assert!(matches!(
            check(&config, &unknown),
            Err(Error::UnknownCluster(c)) if c.name == "web"
        ));
        assert!(matches!(
            expand(&config, &unknown),
            Err(Error::UnknownCluster(_))
        ));
        let both = Options {
            changed_since: Some("HEAD".into()),
            shard: Some("1/2".parse().unwrap()),
            ..Options::default()
        };
        assert!(matches!(
            check(&config, &both),
            Err(Error::ShardWithChangedSince)
        ));
        let not_a_revision = Options {
            changed_since: Some("-x".into()),
            without_schema: true,
            ..Options::default()
        };
        let err = check(&config, &not_a_revision).err().unwrap();
        assert!(
            matches!(
                err,
                Error::ChangedSince(crate::pipeline::changes::ChangesError::NotARevision { .. })
            ),
            "{err}"
        );
    }
}

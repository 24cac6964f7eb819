//! The ways a generated repository changes between runs: every kind of input the gate
//! reads — jsonnet files, the links imports go through, `importstr` data, ext vars, cluster
//! contexts, Rego helpers (edited and moved between files and packages), data files,
//! waivers, the engine, entries renamed or added, generated files edited or refreshed.
//! Each mutation changes the model (or the tree, for the ones made by running policyrun)
//! and says what it did, for the log a failing case prints.

use std::path::Path;

use super::model::{
    self, CLUSTER_NAMES, EntryFile, EntryKind, Field, HelperKind, Home, LEVELS, Model, P_FILES,
    Rng, TIERS, WORDS,
};

/// What happens to the tree besides the model: run by the driver after the model is synced.
pub(crate) enum Effect {
    None,
    /// `policyrun expand`: the generated tree is brought up to date.
    Expand,
    /// Append to one generated file (a stale or formatting-only difference).
    TouchGenerated,
}

/// The mutations that change only jsonnet sources and the generated tree, not the
/// configuration or the policies (whose change puts every entry in `--changed-since`'s scope).
const TREE_ONLY: &[usize] = &[0, 1, 2, 3, 4, 5, 13, 14, 15, 16, 18, 20, 22, 23, 27];

/// Applies one random mutation (one of the tree's only, with `tree_only`); returns what it
/// did and what the driver must do.
pub(crate) fn mutate(model: &mut Model, rng: &mut Rng, tree_only: bool) -> (String, Effect) {
    loop {
        let which = if tree_only {
            *rng.pick(TREE_ONLY)
        } else {
            rng.below(28)
        };
        if tree_only && which == 27 {
            return ("generated file edited".into(), Effect::TouchGenerated);
        }
        if let Some(done) = try_mutation(model, rng, which) {
            return done;
        }
    }
}

fn other<'a>(rng: &mut Rng, items: &'a [&'a str], not: &str) -> String {
    loop {
        let item = *rng.pick(items);
        if item != not || items.len() == 1 {
            return item.to_owned();
        }
    }
}

fn try_mutation(model: &mut Model, rng: &mut Rng, which: usize) -> Option<(String, Effect)> {
    let none = |what: String| Some((what, Effect::None));
    match which {
        0 | 1 => {
            model.lib_version = 3 - model.lib_version;
            none(format!("retarget lib/v -> v{}", model.lib_version))
        }
        2 => {
            model.linked_alt = !model.linked_alt;
            let dir = if model.linked_alt { "alt" } else { "entries" };
            none(format!(
                "retarget linked entries to common/{dir}/shared.jsonnet"
            ))
        }
        3 => {
            let v = rng.below(2);
            model.y[v] = other(rng, WORDS, &model.y[v]);
            none(format!(
                "lib/v{}/y.libsonnet version = {}",
                v + 1,
                model.y[v]
            ))
        }
        4 => {
            let i = rng.below(model.motd.len());
            model.motd[i] = other(rng, WORDS, &model.motd[i]);
            none(format!("common/files/motd{i}.txt = {}", model.motd[i]))
        }
        5 => {
            let s = rng.below(model.stacks.len());
            let c = rng.below(model.stacks[s].config_maps.len());
            let cm = &mut model.stacks[s].config_maps[c];
            match rng.below(4) {
                0 => {
                    let value = Field::Value(rng.below(WORDS.len()));
                    cm.fields.retain(|f| !matches!(f, Field::Value(_)));
                    cm.fields.push(value);
                    none(format!("{}: value field {value:?}", cm.name))
                }
                1 => {
                    let field = *rng.pick(&[
                        Field::Version,
                        Field::Tier,
                        Field::Team,
                        Field::Marker,
                        Field::Motd(0),
                        Field::Motd(1),
                        Field::Invalid,
                    ]);
                    if let Some(at) = cm.fields.iter().position(|f| *f == field) {
                        cm.fields.remove(at);
                        none(format!("{}: without field {field:?}", cm.name))
                    } else {
                        cm.fields.push(field);
                        none(format!("{}: with field {field:?}", cm.name))
                    }
                }
                2 => {
                    cm.namespace = if cm.namespace == "apps" {
                        "other"
                    } else {
                        "apps"
                    }
                    .into();
                    none(format!("{}: namespace {}", cm.name, cm.namespace))
                }
                _ => {
                    let rule = format!("p.{}", rng.pick(&model.rules).name);
                    let expires = rng.pick(&["2099-12-31", "2020-01-01"]).to_string();
                    cm.waiver = match cm.waiver {
                        Some(_) if rng.chance(50) => None,
                        _ => Some((rule, expires)),
                    };
                    none(format!("{}: annotation waiver {:?}", cm.name, cm.waiver))
                }
            }
        }
        6 => {
            if rng.chance(30) {
                model.team = other(rng, WORDS, &model.team);
                return none(format!("ext var team = {}", model.team));
            }
            let c = rng.below(model.clusters.len());
            let cluster = &mut model.clusters[c];
            cluster.tier = other(rng, TIERS, &cluster.tier);
            none(format!("{}: ext var tier = {}", cluster.name, cluster.tier))
        }
        7 => {
            let c = rng.below(model.clusters.len());
            let cluster = &mut model.clusters[c];
            if rng.chance(60) {
                cluster.level = other(rng, LEVELS, &cluster.level);
                none(format!(
                    "{}: policy level = {}",
                    cluster.name, cluster.level
                ))
            } else {
                cluster.zone = match cluster.zone {
                    Some(_) if rng.chance(40) => None,
                    _ => Some(rng.pick(WORDS).to_string()),
                };
                none(format!(
                    "{}: policy zone = {:?}",
                    cluster.name, cluster.zone
                ))
            }
        }
        8 => {
            let h = rng.below(model.helpers.len());
            let fresh = model.new_helper(rng);
            let helper = &mut model.helpers[h];
            if rng.chance(50) {
                helper.operand = fresh.operand;
            } else {
                helper.condition = fresh.condition;
                helper.operand = fresh.operand;
            }
            none(format!(
                "helper {}: condition {} operand {}",
                helper.name, helper.condition, helper.operand
            ))
        }
        9 | 10 => {
            // The same helper, defined elsewhere: another file of its package, a ref head,
            // the library package.
            let h = rng.below(model.helpers.len());
            let kind = model.helpers[h].kind.clone();
            let home = match rng.below(4) {
                0 => Home::Lib,
                1 if matches!(kind, HelperKind::Plain | HelperKind::Else) => {
                    Home::RefHead(rng.below(P_FILES.len()))
                }
                _ => Home::Package(rng.below(P_FILES.len())),
            };
            let helper = &mut model.helpers[h];
            helper.home = home;
            if let HelperKind::Defaulted { default_file } = &mut helper.kind {
                *default_file = rng.below(P_FILES.len());
            }
            none(format!(
                "helper {} moves to {:?} ({:?})",
                helper.name, home, helper.kind
            ))
        }
        11 => {
            model.banned = other(rng, WORDS, &model.banned);
            none(format!("data file: banned = {}", model.banned))
        }
        12 => {
            if !model.waivers.is_empty() && rng.chance(40) {
                let w = rng.below(model.waivers.len());
                let removed = model.waivers.remove(w);
                return none(format!("waiver removed: {removed:?}"));
            }
            let waiver = model.new_waiver(rng);
            let what = format!("waiver added: {waiver:?}");
            model.waivers.push(waiver);
            none(what)
        }
        13 => {
            model.shadow_kube = !model.shadow_kube;
            none(format!(
                "common/kube.libsonnet exists: {}",
                model.shadow_kube
            ))
        }
        14 => {
            model.missing_import = match model.missing_import {
                Some(_) => None,
                None => Some(rng.below(model.stacks.len())),
            };
            none(format!(
                "missing import in stack {:?}",
                model.missing_import
            ))
        }
        15 | 16 => Some(("policyrun expand".into(), Effect::Expand)),
        17 => {
            let c = rng.below(model.clusters.len());
            let cluster = &mut model.clusters[c];
            if cluster.extra_namespaces.is_empty() {
                cluster.extra_namespaces.push("other".into());
            } else {
                cluster.extra_namespaces.clear();
            }
            none(format!(
                "{}: namespaces {:?}",
                cluster.name, cluster.extra_namespaces
            ))
        }
        18 => {
            let c = rng.below(model.clusters.len());
            let cluster = &mut model.clusters[c];
            let apps: Vec<usize> = (0..cluster.entries.len())
                .filter(|&e| matches!(cluster.entries[e].kind, EntryKind::Stack(_)))
                .collect();
            let e = *rng.pick(&apps);
            let stem = format!("app{}", 5 + rng.below(4));
            if cluster.entries.iter().any(|x| x.stem == stem) {
                return None;
            }
            let old = std::mem::replace(&mut cluster.entries[e].stem, stem.clone());
            none(format!("{}: entry {old} renamed {stem}", cluster.name))
        }
        19 => {
            model.engine_vm = !model.engine_vm;
            none(format!("engine vm: {}", model.engine_vm))
        }
        20 => {
            // The same stack in another cluster: one more object to share.
            let stack = rng.below(model.stacks.len());
            let c = rng.below(model.clusters.len());
            let cluster = &mut model.clusters[c];
            let stem = format!("extra{}", cluster.entries.len());
            cluster.entries.push(EntryFile {
                stem: stem.clone(),
                kind: EntryKind::Stack(stack),
            });
            none(format!("{}: entry {stem} of stack {stack}", cluster.name))
        }
        21 => {
            if model.rules.len() > 1 && rng.chance(40) {
                let r = rng.below(model.rules.len());
                let name = model.rules[r].name.clone();
                // Waivers and exceptions of a rule that is gone are left as they are.
                model.rules.remove(r);
                return none(format!("rule {name} removed"));
            }
            let index = model
                .rules
                .iter()
                .map(|r| {
                    r.name
                        .rsplit_once("_r")
                        .and_then(|(_, n)| n.parse::<usize>().ok())
                        .unwrap_or(0)
                })
                .max()
                .unwrap_or(0)
                + 1;
            let rule = model.new_rule(rng, index);
            let what = format!("rule added: {rule:?}");
            model.rules.push(rule);
            none(what)
        }
        22 => {
            let i = rng.below(2);
            model.local_origin[i] = other(rng, WORDS, &model.local_origin[i]);
            none(format!(
                "local.libsonnet {i} origin {}",
                model.local_origin[i]
            ))
        }
        23 => {
            let s = rng.below(model.stacks.len());
            model.stacks[s].through_chain = !model.stacks[s].through_chain;
            none(format!(
                "stack {s} imports through lib/cur: {}",
                model.stacks[s].through_chain
            ))
        }
        24 => {
            if !model.exceptions.is_empty() && rng.chance(50) {
                model.exceptions.clear();
                return none("exceptions removed".into());
            }
            let rule = rng.pick(&model.rules).name.clone();
            let suffix = rule.split_once('_').unwrap().1.to_owned();
            let helpers: Vec<usize> = (0..model.helpers.len())
                .filter(|&h| !model::is_function(&model.helpers[h].kind))
                .collect();
            if helpers.is_empty() {
                return None;
            }
            let helper = *rng.pick(&helpers);
            model.exceptions.push((helper, suffix.clone()));
            none(format!("exception for {suffix} by helper h{helper}"))
        }
        26 => {
            model.helpers_renamed = !model.helpers_renamed;
            none(format!(
                "policies/p/helpers.rego renamed: {}",
                model.helpers_renamed
            ))
        }
        _ => {
            if rng.chance(50) {
                return Some(("generated file edited".into(), Effect::TouchGenerated));
            }
            // Rare: a cluster renamed, its directory kept.
            let c = rng.below(model.clusters.len());
            let taken: Vec<String> = model.clusters.iter().map(|c| c.name.clone()).collect();
            let name = format!("{}-renamed", CLUSTER_NAMES[c]);
            if taken.contains(&name) {
                return None;
            }
            let old = std::mem::replace(&mut model.clusters[c].name, name.clone());
            none(format!("cluster {old} renamed {name}"))
        }
    }
}

/// Appends a blank line to the first generated file found, if any.
pub(crate) fn touch_generated(root: &Path, rng: &mut Rng) -> String {
    let mut files: Vec<_> = walkdir::WalkDir::new(root.join("generated"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    files.sort();
    if files.is_empty() {
        return "no generated file to edit".into();
    }
    let file = &files[rng.below(files.len())];
    let mut text = std::fs::read_to_string(file).unwrap();
    if rng.chance(50) {
        text.push('\n');
    } else {
        text = text.replacen("\"v1\"", "\"v2\"", 1);
    }
    std::fs::write(file, text).unwrap();
    format!("edited {}", file.strip_prefix(root).unwrap().display())
}

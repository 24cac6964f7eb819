//! Measures the gate as Jenkins runs it (issue 16), on the synthetic corpus (3 clusters × N
//! stacks, `synthetic.rs`, containers hardened to pass the restricted level) with our policy
//! packs and the `[policy]` and `[cluster.policy]` settings of this repository's own
//! `policyrun.toml` (`dev` baseline, `int` restricted, `web` restricted with public load
//! balancers; packages `namespace`, `security`, `cluster`; our waivers). In one run, as ratios
//! to the floor:
//!
//! - floor: `expand::evaluate_only`, every entry evaluated and manifested on every core, in
//!   this process (as `benches/gate.rs` measures it): what the jsonnet tool alone would do;
//! - the jsonnet tool itself, when there is one (`POLICYRUN_BENCH_JRSONNET=PATH`, else
//!   `jrsonnet` on the PATH): one process per cluster, all at once, each evaluating a file
//!   that imports every entry of its cluster with the cluster's ext vars; checked once to
//!   give every entry's value as `evaluate_only` does;
//! - cold: `policyrun check --no-cache --junit FILE`, the binary;
//! - pull request: one stack changed (its ConfigMap's data, so its three entries and objects
//!   are new; the generated files rewritten outside the timing), starting from a private copy
//!   of the cache main's gate published (`--cache-dir COPY --cache-name policyrun-gate`, as
//!   the Jenkinsfile runs it);
//! - warm: the same with nothing changed.
//!
//! Cold and pull request also run with `POLICYRUN_NO_SHARING=1`, for what sharing evaluations
//! between objects saves. Sides rotate their order every round; each round's ratio is taken
//! on its own and the median reported. Run with `cargo bench --bench jenkins`;
//! `POLICYRUN_BENCH_STACKS=1000`, `POLICYRUN_BENCH_ROUNDS=5` change the defaults;
//! `POLICYRUN_BENCH_CORPUS=DIR` only writes the corpus into DIR.
//!
//! Two shapes of corpus (issue 29): `POLICYRUN_BENCH_SHAPE=jsonnet` (the default) builds every
//! stack with `lib/kube.libsonnet`, where evaluation dominates; `objects` writes each entry as
//! the literal value it expands to (formatted by `policyrun fmt`), the same objects from
//! light jsonnet, where the per-object stages dominate. `POLICYRUN_BENCH_PACKS=0` runs
//! without our packs.

mod measure;
mod synthetic;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use measure::{median, median_ratio};
use policyrun::cli::config::Config;
use serde_json::Value;

/// The name the Jenkinsfile gives main's published gate cache.
const CACHE_NAME: &str = "policyrun-gate";

/// The index of the jsonnet tool's side, the last of the sides.
const TOOL: usize = 6;

/// The stack the pull request changes.
const TOUCHED: &str = "app-0001";

fn collect_garbage() {
    rayon::broadcast(|_| jrsonnet_gcmodule::collect_thread_cycles());
}

/// Our packs, waivers and cluster parameters, as this repository's policyrun.toml sets them:
/// the built-in packs it selects (since issue 27 it loads no policy directory) and its
/// waivers file, copied into the corpus.
fn add_policies(root: &Path) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ours = Config::load(&manifest.join("policyrun.toml")).expect("our policyrun.toml");
    let mut text = String::from("# synthetic, with our packs (benches/jenkins.rs)\n");
    for cluster in synthetic::CLUSTERS {
        let policy = &ours
            .repo
            .clusters
            .iter()
            .find(|c| c.name == cluster)
            .expect("the cluster in our policyrun.toml")
            .policy;
        text.push_str(&format!(
            "\n[[cluster]]\nname = \"{cluster}\"\n[cluster.policy]\n"
        ));
        for (key, value) in policy.as_object().expect("a table") {
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    let mut waivers = Vec::new();
    for (i, file) in ours.policy.waivers.iter().enumerate() {
        let name = format!("waivers-{i}.yaml");
        std::fs::copy(file, root.join(&name)).expect("our waivers");
        waivers.push(name);
    }
    assert!(
        !ours.policy.packs.is_empty(),
        "our policyrun.toml selects packs"
    );
    text.push_str(&format!(
        "\n[policy]\npacks = {:?}\ndirs = []\nwaivers = {:?}\n",
        ours.policy.packs, waivers
    ));
    std::fs::write(root.join("policyrun.toml"), text).expect("policyrun.toml");
}

#[derive(Default)]
struct Side {
    wall: Vec<Duration>,
    /// User and system time: of this process for the floor, of the child processes for
    /// the other sides. Steadier than the wall clock on a shared machine.
    cpu: Vec<Duration>,
    /// Peak resident memory of the side's process, in bytes (`wait4`); none for the floor,
    /// which runs in this process.
    memory: Vec<u64>,
}

/// The jsonnet tool to compare the floor with: `POLICYRUN_BENCH_JRSONNET`, else `jrsonnet`
/// when the PATH has one.
fn jsonnet_tool() -> Option<PathBuf> {
    let tool = std::env::var_os("POLICYRUN_BENCH_JRSONNET")
        .map_or_else(|| PathBuf::from("jrsonnet"), PathBuf::from);
    let answers = Command::new(&tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    answers.then_some(tool)
}

/// Per cluster, the jsonnet tool's command over every entry of that cluster: a file in
/// `dir` that imports each entry under its path, the repository's import paths and the
/// cluster's ext vars.
fn jsonnet_tool_commands(
    tool: &Path,
    repo: &policyrun::model::repository::Repository,
    entries: &[policyrun::model::expansion::Entry],
    dir: &Path,
) -> Vec<Command> {
    (0..repo.clusters.len())
        .map(|cluster| {
            let mut file = String::from("{\n");
            for entry in entries.iter().filter(|e| e.cluster == cluster) {
                let key = serde_json::to_string(&entry.path).expect("a path");
                let path = serde_json::to_string(&repo.root.join(&entry.path)).expect("a path");
                file.push_str(&format!("  {key}: import {path},\n"));
            }
            file.push_str("}\n");
            let every_entry = dir.join(format!("every-entry-{cluster}.jsonnet"));
            std::fs::write(&every_entry, file).expect("the jsonnet tool's input");
            let mut command = Command::new(tool);
            for path in &repo.jpath {
                command.arg("-J").arg(path);
            }
            for (name, value) in &repo.clusters[cluster].ext_vars {
                command.arg("--ext-str").arg(format!("{name}={value}"));
            }
            command
                .arg("--max-stack")
                .arg(repo.max_stack.to_string())
                .arg(&every_entry)
                .current_dir(&repo.root)
                .stderr(Stdio::inherit());
            command
        })
        .collect()
}

/// Runs the jsonnet tool's commands at once and waits for all; their standard outputs.
fn run_jsonnet_tool(commands: &mut [Command]) -> Vec<Vec<u8>> {
    let children: Vec<_> = commands
        .iter_mut()
        .map(|c| {
            c.stdout(Stdio::piped())
                .spawn()
                .expect("the jsonnet tool starts")
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().expect("the jsonnet tool ends");
            assert!(output.status.success(), "the jsonnet tool failed");
            output.stdout
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp runs");
    assert!(status.success());
}

fn main() {
    measure::launch_if_asked();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let stacks: usize = std::env::var("POLICYRUN_BENCH_STACKS")
        .ok()
        .map(|n| n.parse().expect("stack count"))
        .unwrap_or(if benchmarking { 1000 } else { 10 });
    let rounds: usize = std::env::var("POLICYRUN_BENCH_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("round count"))
        .unwrap_or(if benchmarking { 5 } else { 1 });

    let dir = tempfile::tempdir().expect("temporary directory");
    // POLICYRUN_BENCH_CORPUS=DIR only writes the corpus (expanded) into DIR, to time or
    // profile the binary on it by hand.
    let corpus_only = std::env::var_os("POLICYRUN_BENCH_CORPUS").map(PathBuf::from);
    let root = corpus_only
        .clone()
        .unwrap_or_else(|| dir.path().join("repo"));
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    let light = match std::env::var("POLICYRUN_BENCH_SHAPE").as_deref() {
        Ok("objects") => true,
        Ok("jsonnet") | Err(_) => false,
        Ok(other) => panic!("POLICYRUN_BENCH_SHAPE={other}: jsonnet or objects"),
    };
    let packs = std::env::var("POLICYRUN_BENCH_PACKS").as_deref() != Ok("0");
    synthetic::generate_restricted(&root, &library, stacks).expect("the synthetic repository");
    if packs {
        add_policies(&root);
    }
    let config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let entries = policyrun::jsonnet::discover::entries(&config.repo, &clusters)
        .expect("entries")
        .entries;
    let expanded = policyrun::jsonnet::expand::expand_all(
        &config.repo,
        &entries,
        &policyrun::model::events::Unseen::shared(),
    );
    let (_, problems) =
        policyrun::freshness::write::write_tree(&config.repo, &clusters, &expanded, true);
    assert!(problems.is_empty(), "{problems:?}");
    let objects = policyrun::pipeline::check::targets(&expanded).len();
    if light {
        // Each entry becomes the items it expands to, as literals in the List's item map the
        // per-item layout names its files by: the same objects, next to no jsonnet.
        for expansion in &expanded {
            let files = expansion.result.as_ref().expect("evaluates");
            let mut text = String::from(
                "// The objects of this entry, as literals.\n{\n  apiVersion: 'v1',\n  kind: 'List',\n  items_:: {\n",
            );
            for produced in &files.files {
                let key = produced.item.as_deref().expect("the per-item layout");
                text.push_str(&format!(
                    "    {}: {},\n",
                    Value::String(key.to_owned()),
                    produced.text.trim_end()
                ));
            }
            text.push_str("  },\n  items: std.objectValues(self.items_),\n}\n");
            std::fs::write(root.join(&expansion.entry.path), text).expect("an entry");
        }
        let status = Command::new(env!("CARGO_BIN_EXE_policyrun"))
            .arg("fmt")
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .expect("policyrun fmt");
        assert!(status.success(), "policyrun fmt on the light corpus");
    }
    drop(expanded);
    if let Some(corpus) = corpus_only {
        println!("wrote {}", corpus.display());
        return;
    }

    let junit = dir.path().join("gate.xml");
    // As the Jenkinsfile runs it (`check --junit FILE`, human output); with `stats`, the JSON
    // report instead, for checking what a side does (its writing is not what Jenkins pays).
    let run_with = |args: &[&str], sharing: bool, stats: bool| -> (Value, measure::ChildCost) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_policyrun"));
        command.arg("check").arg("--junit").arg(&junit);
        if stats {
            command.args(["--output", "json"]);
        }
        command
            .args(args)
            .current_dir(&root)
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env("POLICYRUN_NO_SHARING", if sharing { "0" } else { "1" })
            .stderr(Stdio::inherit());
        let (output, cost) = measure::run_measured(&command);
        assert!(
            output.status.success(),
            "the corpus must pass the gate: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let doc: Value = if stats {
            serde_json::from_slice(&output.stdout).expect("a JSON report")
        } else {
            Value::Null
        };
        (doc["expansion"].clone(), cost)
    };
    let run = |args: &[&str], sharing: bool| run_with(args, sharing, false);
    let stats_of = |args: &[&str]| run_with(args, true, true).0;
    let path = |p: &Path| p.to_str().expect("UTF-8 path").to_owned();

    // main's build publishes its gate cache.
    let published = dir.path().join("published");
    std::fs::create_dir(&published).expect("the published cache");
    run(
        &["--cache-dir", &path(&published), "--cache-name", CACHE_NAME],
        true,
    );
    let warm = dir.path().join("warm");
    copy_dir(&published, &warm);

    // The pull request: the stack's ConfigMap gets other data, and its generated files are
    // rewritten as the author would commit them.
    // The stack's source: its file in common/, or in the light corpus each cluster's entry.
    let touched: Vec<PathBuf> = if light {
        synthetic::CLUSTERS
            .iter()
            .map(|c| root.join(format!("clusters/{c}/{TOUCHED}.jsonnet")))
            .collect()
    } else {
        vec![root.join(format!("common/{TOUCHED}.jsonnet"))]
    };
    let originals: Vec<String> = touched
        .iter()
        .map(|t| std::fs::read_to_string(t).expect("the stack"))
        .collect();
    let generated: Vec<PathBuf> = synthetic::CLUSTERS
        .iter()
        .map(|c| root.join("generated").join(c).join(TOUCHED))
        .collect();
    let saved = dir.path().join("saved-generated");
    for (cluster, dir) in synthetic::CLUSTERS.iter().zip(&generated) {
        std::fs::create_dir_all(saved.join(cluster)).expect("a directory");
        copy_dir(dir, &saved.join(cluster));
    }
    let edit = |round: usize| {
        for (file, original) in touched.iter().zip(&originals) {
            assert!(original.contains("workers = 4"), "{}", file.display());
            std::fs::write(
                file,
                original.replace("workers = 4", &format!("workers = {}", 5 + round)),
            )
            .expect("edit");
        }
        let status = Command::new(env!("CARGO_BIN_EXE_policyrun"))
            .arg("expand")
            .current_dir(&root)
            .stdout(Stdio::null())
            .status()
            .expect("policyrun expand");
        assert!(status.success());
    };
    let restore = || {
        for (file, original) in touched.iter().zip(&originals) {
            std::fs::write(file, original).expect("restore");
        }
        for (cluster, dir) in synthetic::CLUSTERS.iter().zip(&generated) {
            std::fs::remove_dir_all(dir).expect("remove");
            copy_dir(&saved.join(cluster).join(TOUCHED), dir);
        }
    };

    // Check once what each side does.
    let stats = stats_of(&["--cache-dir", &path(&warm), "--cache-name", CACHE_NAME]);
    assert_eq!(stats["cached"], entries.len());
    if packs {
        assert_eq!(stats["policy_recalled"], objects);
    }
    let stats = stats_of(&["--no-cache"]);
    println!(
        "cold run: {} rule evaluations and {} schema checks shared",
        stats["policy_shared"], stats["schema_shared"]
    );
    edit(usize::MAX / 2);
    let copy = dir.path().join("pr-check");
    copy_dir(&published, &copy);
    let stats = stats_of(&["--cache-dir", &path(&copy), "--cache-name", CACHE_NAME]);
    assert_eq!(stats["evaluated"], 3);
    println!(
        "pull request: {} entries evaluated, {} objects' verdicts recalled of {objects}",
        stats["evaluated"], stats["policy_recalled"]
    );
    restore();

    // The jsonnet tool, checked once to give each entry the value the floor gives it.
    let tool = jsonnet_tool();
    let mut tool_commands = tool
        .as_ref()
        .map(|tool| jsonnet_tool_commands(tool, &config.repo, &entries, dir.path()));
    if let Some(commands) = tool_commands.as_mut() {
        let outputs = run_jsonnet_tool(commands);
        let ours = policyrun::jsonnet::expand::evaluate_only(
            &config.repo,
            &entries,
            &policyrun::model::events::Unseen::shared(),
        );
        let theirs: Vec<Value> = outputs
            .iter()
            .map(|o| serde_json::from_slice(o).expect("the jsonnet tool's JSON"))
            .collect();
        for (entry, text) in entries.iter().zip(ours) {
            let key = entry.path.to_str().expect("UTF-8 path");
            let ours: Value = serde_json::from_str(&text.expect("evaluates")).expect("JSON");
            assert_eq!(
                theirs[entry.cluster][key], ours,
                "the jsonnet tool and evaluate_only differ on {key}"
            );
        }
        println!(
            "the jsonnet tool ({}) gives all {} entries the values evaluate_only gives",
            tool.as_ref()
                .map_or(String::new(), |t| t.display().to_string()),
            entries.len()
        );
    } else {
        println!(
            "no jsonnet tool (POLICYRUN_BENCH_JRSONNET or jrsonnet on the PATH): that side is left out"
        );
    }

    let names = [
        "floor (evaluate_only)",
        "cold (--no-cache)",
        "cold, no sharing",
        "pull request",
        "pull request, no sharing",
        "warm",
        "the jsonnet tool",
    ];
    let mut sides: Vec<Side> = names.iter().map(|_| Side::default()).collect();
    for round in 0..rounds {
        for step in 0..names.len() {
            let which = (round + step) % names.len();
            let (wall, cpu, memory) = match which {
                0 => {
                    collect_garbage();
                    let (texts, wall, cpu) = measure::timed(|| {
                        policyrun::jsonnet::expand::evaluate_only(
                            &config.repo,
                            &entries,
                            &policyrun::model::events::Unseen::shared(),
                        )
                    });
                    assert!(texts.iter().all(Result::is_ok));
                    drop(texts);
                    (wall, cpu.expect("the process CPU-time clock"), None)
                }
                1 | 2 => {
                    let cost = run(&["--no-cache"], which == 1).1;
                    (cost.wall, cost.cpu, Some(cost.peak_memory))
                }
                3 | 4 => {
                    edit(round);
                    let copy = dir.path().join(format!("pr-{round}-{which}"));
                    copy_dir(&published, &copy);
                    let cost = run(
                        &["--cache-dir", &path(&copy), "--cache-name", CACHE_NAME],
                        which == 3,
                    )
                    .1;
                    restore();
                    (cost.wall, cost.cpu, Some(cost.peak_memory))
                }
                5 => {
                    let cost = run(
                        &["--cache-dir", &path(&warm), "--cache-name", CACHE_NAME],
                        true,
                    )
                    .1;
                    (cost.wall, cost.cpu, Some(cost.peak_memory))
                }
                _ => {
                    let Some(commands) = tool_commands.as_mut() else {
                        continue;
                    };
                    let (outputs, wall, cpu) =
                        measure::timed_children(|| run_jsonnet_tool(commands));
                    drop(outputs);
                    (wall, cpu, None)
                }
            };
            sides[which].wall.push(wall);
            sides[which].cpu.push(cpu);
            sides[which].memory.extend(memory);
        }
    }

    println!(
        "policyrun Jenkins benchmark: {} clusters × {stacks} stacks ({} entries, {objects} objects), shape {}, {}, {} cores, median of {rounds} rounds",
        synthetic::CLUSTERS.len(),
        entries.len(),
        if light {
            "objects (light jsonnet)"
        } else {
            "jsonnet (kube.libsonnet)"
        },
        if packs { "our packs" } else { "no packs" },
        rayon::current_num_threads()
    );
    println!(
        "  {:<26} {:>9} {:>9} {:>9} {:>9}   {:>9} {:>9}   {:>8}",
        "side", "wall ms", "/floor", "/tool", "CPU ms", "/floor", "/tool", "peak MB"
    );
    for (name, side) in names.iter().zip(&sides) {
        if side.wall.is_empty() {
            continue;
        }
        let ratio = |of: &[Duration], to: &[Duration]| {
            median_ratio(of, to).map_or("-".into(), |r| format!("{r:.2}×"))
        };
        let ms = |samples: &[Duration]| median(samples.to_vec()).as_secs_f64() * 1e3;
        // The largest of the rounds: what the agent must have.
        let peak = side
            .memory
            .iter()
            .max()
            .map_or("-".into(), |bytes| format!("{:.0}", *bytes as f64 / 1e6));
        println!(
            "  {name:<26} {:>9.1} {:>9} {:>9} {:>9.1}   {:>9} {:>9}   {peak:>8}",
            ms(&side.wall),
            ratio(&side.wall, &sides[0].wall),
            ratio(&side.wall, &sides[TOOL].wall),
            ms(&side.cpu),
            ratio(&side.cpu, &sides[0].cpu),
            ratio(&side.cpu, &sides[TOOL].cpu),
        );
    }
    let show = |a: usize, b: usize| {
        let of = |pick: fn(&Side) -> &Vec<Duration>| {
            median_ratio(pick(&sides[a]), pick(&sides[b])).map_or("-".into(), |r| format!("{r:.3}"))
        };
        format!("{} (CPU {})", of(|s| &s.wall), of(|s| &s.cpu))
    };
    println!(
        "targets: pull request <= 1.5× the floor, cold <= 4×; sharing: cold {} of cold without, pull request {} of pull request without",
        show(1, 2),
        show(3, 4)
    );
    println!(
        "against cold (issue 29: warm <= 0.15, one changed stack <= 0.2): warm {}, pull request {}",
        show(5, 1),
        show(3, 1)
    );
}

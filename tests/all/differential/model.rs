//! The repositories the differential harness generates: a small model of a whole
//! policyrun repository (clusters with their contexts and ext vars, jsonnet stacks that
//! import through files, directories and symbolic links, `importstr` data, entries that are
//! links, Rego spread over files and packages with helpers, functions, defaults, `else`,
//! `with`, exceptions, data files, waivers by file and by annotation) drawn from a seeded
//! random source, and rendered into files. Mutations (`mutate.rs`) change the model; the
//! tree on disk is made to match it again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// splitmix64: small, seedable, the same sequence on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A node of the rendered tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Text(String),
    /// A symbolic link with this (relative) target.
    Link(String),
}

pub(crate) const CLUSTER_NAMES: &[&str] = &["dev", "int", "web"];
pub(crate) const LEVELS: &[&str] = &["low", "high"];
pub(crate) const TIERS: &[&str] = &["test", "prod"];
pub(crate) const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta", "omega", "zeta"];

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    /// The directory below `clusters/` (a rename changes only the name).
    pub dir: String,
    pub name: String,
    pub level: String,
    /// Another `[cluster.policy]` key, read by dynamic lookups.
    pub zone: Option<String>,
    /// The `tier` ext var.
    pub tier: String,
    /// Namespaces its tree creates besides `apps`.
    pub extra_namespaces: Vec<String>,
    pub entries: Vec<EntryFile>,
}

#[derive(Debug, Clone)]
pub(crate) struct EntryFile {
    /// File name without `.jsonnet`.
    pub stem: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EntryKind {
    /// Imports `common/stack<i>.libsonnet`.
    Stack(usize),
    /// A link to `common/<linked_dir>/shared.jsonnet`.
    Linked,
    /// The cluster's Namespaces.
    Namespaces,
    /// Takes long to evaluate and its object long to judge (budget cases only).
    Slow,
}

#[derive(Debug, Clone)]
pub(crate) struct ConfigMapSpec {
    pub name: String,
    /// `apps`, or `other` (which only some clusters create).
    pub namespace: String,
    /// Which data fields it carries.
    pub fields: Vec<Field>,
    /// A waiver in its `policyrun.io/waivers` annotation: rule and expiry.
    pub waiver: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Field {
    /// From `x.libsonnet`, through the versioned directory link.
    Version,
    /// `importstr` of a text file.
    Motd(usize),
    /// The cluster's `tier` ext var.
    Tier,
    /// The global `team` ext var.
    Team,
    /// Which `kube.libsonnet` the stack imported (a shadowing file may appear).
    Marker,
    /// A literal value.
    Value(usize),
    /// A number where the schema wants a string.
    Invalid,
}

#[derive(Debug, Clone)]
pub(crate) struct Stack {
    pub config_maps: Vec<ConfigMapSpec>,
    /// Imports `x.libsonnet` through `cur/` (a link to the link `v`) instead of `v/`.
    pub through_chain: bool,
}

/// Where a Rego helper is defined, which decides how rules may name it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Home {
    /// In one of package `p`'s files (index into [`P_FILES`]).
    Package(usize),
    /// A ref-head rule `checks.<name>` of package `p`, in that file.
    RefHead(usize),
    /// In package `lib.h` (`policies/lib/h.rego`).
    Lib,
}

pub(crate) const P_FILES: &[&str] = &["rules.rego", "helpers.rego", "more.rego"];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HelperKind {
    /// `name if { body }`.
    Plain,
    /// `default name := false` beside `name := true if { body }` (maybe in another file).
    Defaulted { default_file: usize },
    /// `name := true if { body } else := false`.
    Else,
    /// `name(x) := <message> if { body }`, else undefined.
    Function,
    /// `name(x) := <message>` unconditionally, reading the context in the message.
    MessageFunction,
}

#[derive(Debug, Clone)]
pub(crate) struct Helper {
    pub name: String,
    pub home: Home,
    pub kind: HelperKind,
    /// Index into [`conditions`].
    pub condition: usize,
    /// Cluster name or word the condition compares with.
    pub operand: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RuleSpec {
    /// `deny_r3`, `warn_r4`, `violation_r5`.
    pub name: String,
    /// `ConfigMap` or `Namespace`.
    pub kind: String,
    /// Helpers it requires, each maybe negated (index into helpers).
    pub requires: Vec<(usize, bool)>,
    /// A message function (index into helpers), else a constant message.
    pub message: Option<usize>,
    /// Which of package p's files (0: `rules.rego` imports `data.lib.h`; 2: `more.rego`
    /// imports it as `lh`).
    pub file: usize,
    /// How it names each helper: 0 bare (or alias), 1 through `data.`.
    pub spelling: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Waiver {
    pub rule: String,
    pub name: String,
    pub cluster: Option<String>,
    pub expires: String,
}

/// A generated repository.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub clusters: Vec<Cluster>,
    pub team: String,
    pub engine_vm: bool,
    pub style: bool,
    /// Which versioned directory `lib/v` points at (1 or 2).
    pub lib_version: u8,
    /// `lib/v1/y.libsonnet` and `lib/v2/y.libsonnet`'s values.
    pub y: [String; 2],
    pub motd: Vec<String>,
    pub stacks: Vec<Stack>,
    /// `common/kube.libsonnet` shadows `lib/kube.libsonnet` for the stacks.
    pub shadow_kube: bool,
    /// Linked entries point into `common/alt` instead of `common/entries`.
    pub linked_alt: bool,
    /// `local.libsonnet` beside each `shared.jsonnet` (`entries`, `alt`).
    pub local_origin: [String; 2],
    pub helpers: Vec<Helper>,
    pub rules: Vec<RuleSpec>,
    /// `exception` rules: the helper that decides and the rule (name suffix) excepted.
    pub exceptions: Vec<(usize, String)>,
    pub banned: String,
    pub waivers: Vec<Waiver>,
    /// `lib.h` is written in Rego v0.
    pub lib_v0: bool,
    /// Package p's second file is named `aux.rego` instead of `helpers.rego`.
    pub helpers_renamed: bool,
    /// The sizes that make evaluation and judging slow (budget cases).
    pub slow: Option<(u64, u64)>,
    /// A stack imports a file that does not exist.
    pub missing_import: Option<usize>,
}

/// The conditions a helper can test, each reading another part of what policies see.
/// `{}` is the helper's operand.
pub(crate) fn conditions() -> &'static [&'static str] {
    &[
        "data.policyrun.cluster.name == \"{}\"",
        "data.policyrun.cluster.policy.level == \"high\"",
        "some k\n\tdata.policyrun.cluster.policy[k] == \"{}\"",
        "input.metadata.namespace in data.policyrun.cluster.namespaces",
        "contains(data.policyrun.object.entry, \"{}\")",
        "startswith(data.policyrun.object.generated, \"generated/{}/\")",
        "some v in input.data\n\tv == data.config.banned",
        "input.data.tier == \"prod\"",
        "count(data.policyrun.cluster.namespaces) > 1",
        "data.policyrun.object.namespaced == true",
        "data.policyrun.cluster.name != \"{}\" with input as {\"kind\": \"x\"}",
        "object.get(data.policyrun, [\"cluster\", \"policy\", \"zone\"], \"none\") == \"{}\"",
        "some x\n\tdata.config[x] == \"{}\"",
    ]
}

impl Model {
    pub(crate) fn generate(rng: &mut Rng, slow: Option<(u64, u64)>) -> Model {
        let cluster_count = 2 + rng.below(2);
        let stacks: Vec<Stack> = (0..2 + rng.below(3))
            .map(|s| Stack {
                config_maps: (0..1 + rng.below(2))
                    .map(|c| config_map(rng, &format!("s{s}-cm{c}")))
                    .collect(),
                through_chain: rng.chance(30),
            })
            .collect();
        let clusters = (0..cluster_count)
            .map(|c| {
                let mut entries = vec![EntryFile {
                    stem: "namespaces".into(),
                    kind: EntryKind::Namespaces,
                }];
                // The same stacks in several clusters: objects of equal content to share.
                for j in 0..1 + rng.below(3) {
                    entries.push(EntryFile {
                        stem: format!("app{j}"),
                        kind: EntryKind::Stack(rng.below(stacks.len())),
                    });
                }
                if rng.chance(60) {
                    entries.push(EntryFile {
                        stem: "linked".into(),
                        kind: EntryKind::Linked,
                    });
                }
                if slow.is_some() && c == 0 {
                    entries.push(EntryFile {
                        stem: "slow".into(),
                        kind: EntryKind::Slow,
                    });
                }
                Cluster {
                    dir: CLUSTER_NAMES[c].into(),
                    name: CLUSTER_NAMES[c].into(),
                    level: rng.pick(LEVELS).to_string(),
                    zone: rng.chance(50).then(|| rng.pick(WORDS).to_string()),
                    tier: rng.pick(TIERS).to_string(),
                    extra_namespaces: if rng.chance(50) {
                        vec!["other".into()]
                    } else {
                        Vec::new()
                    },
                    entries,
                }
            })
            .collect();
        let mut model = Model {
            clusters,
            team: rng.pick(WORDS).to_string(),
            engine_vm: rng.chance(25),
            style: rng.chance(70),
            lib_version: 1 + rng.below(2) as u8,
            y: [rng.pick(WORDS).to_string(), rng.pick(WORDS).to_string()],
            motd: (0..2).map(|_| rng.pick(WORDS).to_string()).collect(),
            stacks,
            shadow_kube: rng.chance(15),
            linked_alt: rng.chance(50),
            local_origin: ["entries".into(), "alt".into()],
            helpers: Vec::new(),
            rules: Vec::new(),
            exceptions: Vec::new(),
            banned: rng.pick(WORDS).to_string(),
            waivers: Vec::new(),
            lib_v0: rng.chance(30),
            helpers_renamed: false,
            slow,
            missing_import: None,
        };
        for _ in 0..3 + rng.below(5) {
            let helper = model.new_helper(rng);
            model.helpers.push(helper);
        }
        for r in 0..2 + rng.below(5) {
            let rule = model.new_rule(rng, r);
            model.rules.push(rule);
        }
        if rng.chance(40) {
            let rule = rng.below(model.rules.len());
            let suffix = model.rules[rule].name.split_once('_').unwrap().1.to_owned();
            let helper = model.bool_helper(rng);
            model.exceptions.push((helper, suffix));
        }
        for _ in 0..rng.below(3) {
            let waiver = model.new_waiver(rng);
            model.waivers.push(waiver);
        }
        model
    }

    pub(crate) fn new_helper(&self, rng: &mut Rng) -> Helper {
        let index = self.helpers.len();
        let home = match rng.below(5) {
            0 | 1 => Home::Package(rng.below(P_FILES.len())),
            2 => Home::RefHead(rng.below(P_FILES.len())),
            _ => Home::Lib,
        };
        let kind = match rng.below(6) {
            0 => HelperKind::Defaulted {
                default_file: rng.below(P_FILES.len()),
            },
            1 => HelperKind::Else,
            2 => HelperKind::Function,
            3 => HelperKind::MessageFunction,
            _ => HelperKind::Plain,
        };
        // Functions and defaults as ref heads are not spelled here.
        let home = match (home, &kind) {
            (Home::RefHead(f), HelperKind::Plain | HelperKind::Else) => Home::RefHead(f),
            (Home::RefHead(f), _) => Home::Package(f),
            (other, _) => other,
        };
        let mut condition = rng.below(conditions().len());
        // `with` makes a rule read anything: seldom, or nothing would share.
        if condition == 10 && !rng.chance(30) {
            condition = 0;
        }
        let operand = match condition {
            0 | 5 | 10 => rng.pick(CLUSTER_NAMES).to_string(),
            2 => rng.pick(&["high", "low"]).to_string(),
            4 => rng.pick(&["linked", "app0", "dev/"]).to_string(),
            _ => rng.pick(WORDS).to_string(),
        };
        Helper {
            name: format!("h{index}"),
            home,
            kind,
            condition,
            operand,
        }
    }

    fn bool_helper(&mut self, rng: &mut Rng) -> usize {
        let candidates: Vec<usize> = (0..self.helpers.len())
            .filter(|&h| !is_function(&self.helpers[h].kind))
            .collect();
        if candidates.is_empty() {
            let mut helper = self.new_helper(rng);
            helper.kind = HelperKind::Plain;
            if let Home::RefHead(f) = helper.home {
                helper.home = Home::Package(f);
            }
            self.helpers.push(helper);
            return self.helpers.len() - 1;
        }
        *rng.pick(&candidates)
    }

    pub(crate) fn new_rule(&mut self, rng: &mut Rng, index: usize) -> RuleSpec {
        let prefix = *rng.pick(&["deny", "deny", "warn", "violation"]);
        let mut requires = vec![(self.bool_helper(rng), rng.chance(25))];
        if rng.chance(30) {
            requires.push((self.bool_helper(rng), false));
        }
        let functions: Vec<usize> = (0..self.helpers.len())
            .filter(|&h| is_function(&self.helpers[h].kind))
            .collect();
        let message = (!functions.is_empty() && rng.chance(50)).then(|| *rng.pick(&functions));
        RuleSpec {
            name: format!("{prefix}_r{index}"),
            kind: if rng.chance(80) {
                "ConfigMap".into()
            } else {
                "Namespace".into()
            },
            requires,
            message,
            file: *rng.pick(&[0, 2]),
            spelling: rng.below(2),
        }
    }

    pub(crate) fn new_waiver(&self, rng: &mut Rng) -> Waiver {
        let rule = &rng.pick(&self.rules).name;
        let names = self.config_map_names();
        Waiver {
            rule: format!("p.{rule}"),
            name: rng.pick(&names).clone(),
            cluster: rng
                .chance(50)
                .then(|| rng.pick(&self.clusters).name.clone()),
            expires: if rng.chance(85) {
                "2099-12-31".into()
            } else {
                "2020-01-01".into()
            },
        }
    }

    pub(crate) fn config_map_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .stacks
            .iter()
            .flat_map(|s| s.config_maps.iter().map(|c| c.name.clone()))
            .collect();
        names.push("linked".into());
        names
    }

    /// Every file of the repository's sources (not the generated tree), by relative path.
    pub(crate) fn render(&self) -> BTreeMap<PathBuf, Node> {
        let mut files = BTreeMap::new();
        let mut text = |path: &str, body: String| {
            files.insert(PathBuf::from(path), Node::Text(body));
        };
        text("policyrun.toml", self.config());
        text("lib/kube.libsonnet", kube_library("lib"));
        if self.shadow_kube {
            text("common/kube.libsonnet", kube_library("shadow"));
        }
        for v in 1..=2 {
            text(
                &format!("lib/v{v}/x.libsonnet"),
                "local y = import 'y.libsonnet';\n{ version: y.version }\n".into(),
            );
            text(
                &format!("lib/v{v}/y.libsonnet"),
                format!("{{ version: '{}' }}\n", self.y[v - 1]),
            );
        }
        for (i, motd) in self.motd.iter().enumerate() {
            text(&format!("common/files/motd{i}.txt"), format!("{motd}\n"));
        }
        for (s, stack) in self.stacks.iter().enumerate() {
            text(&format!("common/stack{s}.libsonnet"), self.stack(s, stack));
        }
        for (dir, origin) in ["entries", "alt"].iter().zip(&self.local_origin) {
            text(
                &format!("common/{dir}/local.libsonnet"),
                format!("{{ origin: '{origin}' }}\n"),
            );
            text(&format!("common/{dir}/shared.jsonnet"), SHARED_ENTRY.into());
        }
        for cluster in &self.clusters {
            for entry in &cluster.entries {
                let path = format!("clusters/{}/{}.jsonnet", cluster.dir, entry.stem);
                match &entry.kind {
                    EntryKind::Stack(s) => {
                        text(&path, format!("import '../../common/stack{s}.libsonnet'\n"))
                    }
                    EntryKind::Namespaces => text(&path, namespaces_entry(cluster)),
                    EntryKind::Slow => text(&path, SLOW_ENTRY.into()),
                    EntryKind::Linked => {}
                }
            }
        }
        text("policies/lib/h.rego", self.lib_module());
        for (f, file) in P_FILES.iter().enumerate() {
            let file = if f == 1 && self.helpers_renamed {
                "aux.rego"
            } else {
                file
            };
            text(&format!("policies/p/{file}"), self.p_module(f));
        }
        text(
            "policies/data/config.json",
            format!("{{\"config\": {{\"banned\": \"{}\"}}}}\n", self.banned),
        );
        text("waivers.yaml", self.waivers_file());
        files.insert(
            PathBuf::from("lib/v"),
            Node::Link(format!("v{}", self.lib_version)),
        );
        files.insert(PathBuf::from("lib/cur"), Node::Link("v".into()));
        for cluster in &self.clusters {
            for entry in &cluster.entries {
                if entry.kind == EntryKind::Linked {
                    let dir = if self.linked_alt { "alt" } else { "entries" };
                    files.insert(
                        PathBuf::from(format!("clusters/{}/{}.jsonnet", cluster.dir, entry.stem)),
                        Node::Link(format!("../../common/{dir}/shared.jsonnet")),
                    );
                }
            }
        }
        files
    }

    fn config(&self) -> String {
        let mut out = String::new();
        writeln!(out, "[ext_vars]\nteam = \"{}\"\n", self.team).unwrap();
        if let Some((n, m)) = self.slow {
            writeln!(out, "n = \"{n}\"\nm = \"{m}\"\n").unwrap();
        }
        for cluster in &self.clusters {
            writeln!(
                out,
                "[[cluster]]\nname = \"{}\"\ndir = \"clusters/{}\"\n[cluster.ext_vars]\ntier = \"{}\"\n[cluster.policy]\nlevel = \"{}\"",
                cluster.name, cluster.dir, cluster.tier, cluster.level
            )
            .unwrap();
            if let Some(zone) = &cluster.zone {
                writeln!(out, "zone = \"{zone}\"").unwrap();
            }
            out.push('\n');
        }
        writeln!(
            out,
            "[policy]\ndirs = [\"policies\"]\nnamespaces = [\"p\"]\nwaivers = [\"waivers.yaml\"]\nengine = \"{}\"\n",
            if self.engine_vm { "vm" } else { "interpreter" }
        )
        .unwrap();
        writeln!(out, "[style]\nenabled = {}", self.style).unwrap();
        if self.slow.is_some() {
            // Far from the seconds the slow entry and rule take, however busy the machine.
            writeln!(
                out,
                "\n[limits]\nevaluation_seconds = 60\npolicy_seconds = 60"
            )
            .unwrap();
        }
        out
    }

    fn stack(&self, index: usize, stack: &Stack) -> String {
        let mut out = String::from("local kube = import 'kube.libsonnet';\n");
        if self.missing_import == Some(index) {
            out.push_str("local gone = import 'gone.libsonnet';\n");
        }
        let dir = if stack.through_chain { "cur" } else { "v" };
        writeln!(
            out,
            "local x = import '{dir}/x.libsonnet';\n{{\n  items_: {{"
        )
        .unwrap();
        for cm in &stack.config_maps {
            let mut data = String::new();
            for field in &cm.fields {
                let (key, value) = match field {
                    Field::Version => ("version".to_owned(), "x.version".to_owned()),
                    Field::Motd(i) => {
                        (format!("motd{i}"), format!("importstr 'files/motd{i}.txt'"))
                    }
                    Field::Tier => ("tier".into(), "std.extVar('tier')".into()),
                    Field::Team => ("team".into(), "std.extVar('team')".into()),
                    Field::Marker => ("marker".into(), "kube.marker".into()),
                    Field::Value(w) => ("value".into(), format!("'{}'", WORDS[*w])),
                    Field::Invalid => ("count".into(), "3".into()),
                };
                writeln!(data, "      {key}: {value},").unwrap();
            }
            let annotations = match &cm.waiver {
                None => "{}".to_owned(),
                Some((rule, expires)) => format!(
                    "{{ 'policyrun.io/waivers': std.manifestJsonMinified([{{ rule: '{rule}', reason: 'generated', owner: 'harness', expires: '{expires}' }}]) }}"
                ),
            };
            let key = cm.name.replace('-', "_");
            writeln!(
                out,
                "    {key}: kube.configMap('{}', '{}', {{\n{data}    }}, {annotations}),",
                cm.name, cm.namespace
            )
            .unwrap();
        }
        out.push_str("  },\n}\n");
        out
    }

    /// How a rule in `file` of package p names helper `h`.
    fn reference(&self, h: usize, file: usize, spelling: usize) -> String {
        let helper = &self.helpers[h];
        let name = &helper.name;
        match (helper.home, spelling) {
            (Home::Package(_), 0) => name.clone(),
            (Home::Package(_), _) => format!("data.p.{name}"),
            (Home::RefHead(_), 0) => format!("checks.{name}"),
            (Home::RefHead(_), _) => format!("data.p.checks.{name}"),
            (Home::Lib, 0) if file == 2 => format!("lh.{name}"),
            (Home::Lib, 0) => format!("h.{name}"),
            (Home::Lib, _) => format!("data.lib.h.{name}"),
        }
    }

    fn condition(&self, helper: &Helper) -> String {
        conditions()[helper.condition].replace("{}", &helper.operand)
    }

    /// A helper's definitions (in v1 unless `v0`), each with the index of the p file it
    /// goes to (`None`: the lib module).
    fn helper_definitions(&self, helper: &Helper) -> Vec<(Option<usize>, String)> {
        let condition = self.condition(helper);
        let place = match helper.home {
            Home::Package(f) | Home::RefHead(f) => Some(f),
            Home::Lib => None,
        };
        let head = match helper.home {
            Home::RefHead(_) => format!("checks.{}", helper.name),
            _ => helper.name.clone(),
        };
        let message = match helper.condition % 3 {
            0 => "sprintf(\"%s in %s\", [x, data.policyrun.cluster.name])",
            1 => "sprintf(\"%s at %s\", [x, data.policyrun.cluster.policy.level])",
            _ => "concat(\"@\", [x, data.policyrun.object.generated])",
        };
        if helper.home == Home::Lib && self.lib_v0 {
            return vec![(
                place,
                match &helper.kind {
                    HelperKind::Function => {
                        format!("{head}(x) = m {{\n\t{condition}\n\tm := upper(x)\n}}\n")
                    }
                    HelperKind::MessageFunction => {
                        format!("{head}(x) = m {{\n\tm := {message}\n}}\n")
                    }
                    HelperKind::Defaulted { .. } => {
                        format!("default {head} = false\n\n{head} = true {{\n\t{condition}\n}}\n")
                    }
                    HelperKind::Else => {
                        format!("{head} = true {{\n\t{condition}\n}} else = false {{\n\ttrue\n}}\n")
                    }
                    HelperKind::Plain => format!("{head} {{\n\t{condition}\n}}\n"),
                },
            )];
        }
        match &helper.kind {
            HelperKind::Plain => vec![(place, format!("{head} if {{\n\t{condition}\n}}\n"))],
            HelperKind::Else => vec![(
                place,
                format!("{head} := true if {{\n\t{condition}\n}} else := false\n"),
            )],
            HelperKind::Defaulted { default_file } => {
                let default_place = place.map(|_| *default_file);
                vec![
                    (default_place, format!("default {head} := false\n")),
                    (place, format!("{head} := true if {{\n\t{condition}\n}}\n")),
                ]
            }
            HelperKind::Function => vec![(
                place,
                format!("{head}(x) := sprintf(\"%s!\", [x]) if {{\n\t{condition}\n}}\n"),
            )],
            HelperKind::MessageFunction => {
                vec![(place, format!("{head}(x) := {message}\n"))]
            }
        }
    }

    fn lib_module(&self) -> String {
        let v0 = self.lib_v0;
        let mut out = if v0 {
            "package lib.h\n\nimport future.keywords.in\n\n".to_owned()
        } else {
            "package lib.h\n\nimport rego.v1\n\n".to_owned()
        };
        for helper in &self.helpers {
            for (place, text) in self.helper_definitions(helper) {
                if place.is_none() {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        // A package with no rules is no document: keep one.
        out.push_str(if v0 {
            "present = true\n"
        } else {
            "present := true\n"
        });
        out
    }

    fn p_module(&self, file: usize) -> String {
        let mut out = String::from("package p\n\n");
        match file {
            0 => out.push_str("import data.lib.h\n"),
            2 => out.push_str("import data.lib.h as lh\n"),
            _ => {}
        }
        out.push_str("import rego.v1\n\n");
        for helper in &self.helpers {
            for (place, text) in self.helper_definitions(helper) {
                if place == Some(file) {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
        }
        for rule in self.rules.iter().filter(|r| r.file == file) {
            let mut body = format!("\tinput.kind == \"{}\"\n", rule.kind);
            for (h, negated) in &rule.requires {
                let reference = self.reference(*h, file, rule.spelling);
                let not = if *negated { "not " } else { "" };
                writeln!(body, "\t{not}{reference}").unwrap();
            }
            let message = match rule.message {
                Some(f) => format!(
                    "{}(input.metadata.name)",
                    self.reference(f, file, rule.spelling)
                ),
                None => format!("\"{} holds\"", rule.name),
            };
            writeln!(body, "\tmsg := {message}").unwrap();
            let value = if rule.name.starts_with("violation") {
                "{\"msg\": msg}"
            } else {
                "msg"
            };
            writeln!(out, "{} contains {value} if {{\n{body}}}\n", rule.name).unwrap();
        }
        for (h, suffix) in self.exceptions.iter().filter(|_| file == 1) {
            // Spelled through `data.` so that it needs no import in this file.
            let reference = self.reference(*h, 1, 1);
            writeln!(
                out,
                "exception contains rules if {{\n\tinput.kind == \"ConfigMap\"\n\t{reference}\n\trules := [\"{suffix}\"]\n}}\n"
            )
            .unwrap();
        }
        if self.slow.is_some() && file == 1 {
            out.push_str(SLOW_RULE);
        }
        out
    }

    fn waivers_file(&self) -> String {
        if self.waivers.is_empty() {
            return "[]\n".into();
        }
        let mut out = String::new();
        for waiver in &self.waivers {
            writeln!(
                out,
                "- rule: {}\n  kind: ConfigMap\n  name: {}\n  reason: generated\n  owner: harness\n  expires: {}",
                waiver.rule, waiver.name, waiver.expires
            )
            .unwrap();
            if let Some(cluster) = &waiver.cluster {
                writeln!(out, "  cluster: {cluster}").unwrap();
            }
        }
        out
    }
}

pub(crate) fn is_function(kind: &HelperKind) -> bool {
    matches!(kind, HelperKind::Function | HelperKind::MessageFunction)
}

pub(crate) fn config_map(rng: &mut Rng, name: &str) -> ConfigMapSpec {
    let mut fields = Vec::new();
    for field in [
        Field::Version,
        Field::Motd(rng.below(2)),
        Field::Tier,
        Field::Team,
        Field::Marker,
        Field::Value(rng.below(WORDS.len())),
    ] {
        if rng.chance(50) {
            fields.push(field);
        }
    }
    if rng.chance(8) {
        fields.push(Field::Invalid);
    }
    ConfigMapSpec {
        name: name.to_owned(),
        namespace: if rng.chance(80) { "apps" } else { "other" }.into(),
        fields,
        waiver: None,
    }
}

fn kube_library(marker: &str) -> String {
    format!(
        "{{\n  configMap(name, namespace, data, annotations):: {{\n    apiVersion: 'v1',\n    kind: 'ConfigMap',\n    metadata: {{ name: name, namespace: namespace, annotations: annotations }},\n    data: data,\n  }},\n  namespace(name):: {{ apiVersion: 'v1', kind: 'Namespace', metadata: {{ name: name }} }},\n  marker:: '{marker}',\n}}\n"
    )
}

fn namespaces_entry(cluster: &Cluster) -> String {
    let mut out = String::from(
        "local kube = import 'kube.libsonnet';\n{\n  items_: {\n    apps: kube.namespace('apps'),\n",
    );
    for ns in &cluster.extra_namespaces {
        writeln!(out, "    {ns}: kube.namespace('{ns}'),").unwrap();
    }
    out.push_str("  },\n}\n");
    out
}

/// The body of every linked entry: identical in `common/entries` and `common/alt`, whose
/// `local.libsonnet` beside it differs.
const SHARED_ENTRY: &str = "local kube = import 'kube.libsonnet';\nlocal here = import 'local.libsonnet';\n{\n  items_: {\n    linked: kube.configMap('linked', 'apps', { origin: here.origin }, {}),\n  },\n}\n";

/// An entry whose evaluation takes `n` steps and whose ConfigMap makes [`SLOW_RULE`] take
/// `m`.
const SLOW_ENTRY: &str = "local kube = import 'kube.libsonnet';\n{\n  items_: {\n    slow: kube.configMap('slow', 'apps', {\n      m: std.extVar('m'),\n      n: std.toString(std.foldl(function(a, b) a + b, std.range(1, std.parseInt(std.extVar('n'))), 0)),\n    }, {}),\n  },\n}\n";

const SLOW_RULE: &str = "deny_slow contains \"never\" if {\n\tinput.kind == \"ConfigMap\"\n\tinput.metadata.name == \"slow\"\n\tcount([x | some x in numbers.range(1, to_number(input.data.m))]) < 0\n}\n\n";

/// Makes the tree below `root` (except `.git` and `generated`) hold exactly `files`.
pub(crate) fn sync(root: &Path, files: &BTreeMap<PathBuf, Node>) {
    let mut existing = Vec::new();
    let walk = walkdir::WalkDir::new(root).min_depth(1).into_iter();
    for entry in walk.filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        !(e.depth() == 1 && (name == ".git" || name == "generated"))
    }) {
        let entry = entry.unwrap();
        if !entry.file_type().is_dir() {
            existing.push(entry.path().strip_prefix(root).unwrap().to_path_buf());
        }
    }
    for path in existing {
        if !files.contains_key(&path) {
            fs::remove_file(root.join(&path)).unwrap();
        }
    }
    for (path, node) in files {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        let current = match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => Some(Node::Link(
                fs::read_link(&full).unwrap().to_string_lossy().into_owned(),
            )),
            Ok(_) => Some(Node::Text(fs::read_to_string(&full).unwrap_or_default())),
            Err(_) => None,
        };
        if current.as_ref() == Some(node) {
            continue;
        }
        if current.is_some() {
            fs::remove_file(&full).unwrap();
        }
        match node {
            Node::Text(text) => fs::write(&full, text).unwrap(),
            Node::Link(target) => std::os::unix::fs::symlink(target, &full).unwrap(),
        }
    }
}

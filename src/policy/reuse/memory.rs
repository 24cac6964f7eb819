//! The policy stage's memory between runs on one machine: the rule verdicts of each object,
//! so that a local re-run evaluates only the objects whose verdicts could have changed.
//! regorus' interpreter spends hundreds of microseconds on a workload (BENCHMARKS.md); with
//! the expansion cache a warm run was otherwise mostly this stage.
//!
//! A verdict is recalled by a key naming everything an evaluation reads: the policies
//! (every module and data file, path and content), the engine and the build of policyrun,
//! the time budget per object (a verdict reached under a generous budget is not the
//! verdict of a run whose budget would have left the object undecided),
//! the cluster's context (name, parameters, the namespaces its tree creates), the object's
//! context (entry, generated file, scope) and the object's content, by the digest it was
//! read with (what the policies see of it — a Secret's values masked, unless
//! `reveal_secret_values`, which the key names too — follows from it). It lives in the
//! repository's directory of the cache (`store`: outside the repository, private to the
//! user, never chosen by `policyrun.toml`), as one file with a checksum, read whole and
//! ignored whole when damaged or written for other policies. Nothing that failed is
//! remembered — an object whose evaluation raised an error is evaluated again on every run —
//! and policies that call a builtin whose value changes from call to call (`time.now_ns`)
//! or that has an effect (`print`) are not remembered at all. Waivers and Gatekeeper
//! constraints are applied to recalled verdicts as to new ones: they depend on the day and
//! on the whole inventory, not on the object alone.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::model::digest::Digest;
use crate::policy::context::{ClusterContext, ObjectContext};
use crate::policy::evaluate::results::RuleResult;
use crate::policy::load::{Loaded, Package};
use crate::policy::outcomes::PackageVerdicts;
use crate::policy::settings::RegoEngine;
use crate::store::{self, Store, StoreError};

/// Why the verdicts of these policies are not remembered between runs, or were not saved.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A module calls a builtin whose value is not the same on every call, or that has an
    /// effect: its verdicts are not worth remembering.
    #[error(
        "policy verdicts are not remembered between runs: {call}, whose value is not the same on every run"
    )]
    Unrepeatable { call: String },
    /// A worker panicked while it held the verdicts learnt.
    #[error("{0}")]
    Poisoned(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The memory's file in the repository's cache directory, and its first word.
const FILE: &str = "policy-verdicts";
const MAGIC: &str = "policyrun-policy-verdicts";

/// One rule's remembered verdict: its messages (none: clean) and whether an `exception`
/// rule excepted it.
type RuleMemory = (Vec<String>, bool);

/// The verdicts known from earlier runs, and those this run used or found.
pub struct VerdictMemory<'c> {
    cache: &'c Store,
    salt: String,
    known: HashMap<Digest, String>,
    kept: Mutex<BTreeMap<Digest, String>>,
    recalled: AtomicUsize,
    /// Verdicts this run evaluated and remembered.
    learned: AtomicUsize,
}

impl<'c> VerdictMemory<'c> {
    /// The memory for `loaded` evaluated by `engine`, read from `cache`; `Err` says why
    /// these policies' verdicts are not remembered.
    pub fn open(
        cache: &'c Store,
        loaded: &Loaded,
        engine: RegoEngine,
        reveal_secret_values: bool,
        object_budget: Duration,
    ) -> Result<VerdictMemory<'c>, MemoryError> {
        if let Some(call) = &loaded.unrepeatable {
            return Err(MemoryError::Unrepeatable { call: call.clone() });
        }
        let rules: Vec<&str> = loaded
            .packages
            .iter()
            .flat_map(|p| {
                p.exception_path
                    .iter()
                    .chain(p.rules.iter().map(|r| &r.path))
            })
            .map(String::as_str)
            .collect();
        // The object in a key is the one the policies saw: with Secret values masked, unless
        // revealed. The setting is named too, so that a verdict is never recalled across it;
        // and so is the budget, which decides whether a slow rule is decided at all.
        let salt = format!(
            "{}; engine {engine:?}; budget {}ns; secret values {}; policies {}; rules {}",
            store::tool_version(),
            object_budget.as_nanos(),
            if reveal_secret_values {
                "revealed"
            } else {
                "masked"
            },
            loaded.digest.to_hex(),
            rules.join(",")
        );
        let mut known = HashMap::new();
        if let Some(body) = cache.read_memory(FILE, MAGIC, &salt) {
            for line in body.split(|b| *b == b'\n') {
                let Ok(line) = std::str::from_utf8(line) else {
                    continue;
                };
                if let Some((key, verdicts)) = line.split_once('\t')
                    && let Some(key) = Digest::from_hex(key)
                {
                    known.insert(key, verdicts.to_owned());
                }
            }
        }
        Ok(VerdictMemory {
            cache,
            salt,
            known,
            kept: Mutex::new(BTreeMap::new()),
            recalled: AtomicUsize::new(0),
            learned: AtomicUsize::new(0),
        })
    }

    /// What identifies a cluster's context in the keys of its objects.
    pub fn cluster_digest(context: &ClusterContext) -> Digest {
        Digest::of(context.to_data().to_string().as_bytes())
    }

    /// The key of one object's verdicts; `content` names the object
    /// ([`Target::content_digest`](crate::model::object::Target::content_digest)): what
    /// the policies see of it is a function of its content and of the salt.
    pub(crate) fn key(
        &self,
        cluster: &Digest,
        context: &ObjectContext,
        content: &Digest,
    ) -> Digest {
        let entry = context.entry.map(|e| e.as_os_str().as_encoded_bytes());
        Digest::of_parts(
            b"policy verdicts",
            &[
                &cluster.0[..],
                entry.unwrap_or_default(),
                context.generated.as_os_str().as_encoded_bytes(),
                match context.namespaced {
                    None => b"unknown",
                    Some(true) => b"namespaced",
                    Some(false) => b"cluster",
                },
                &content.0[..],
            ],
        )
    }

    /// The verdicts remembered for `key`, if any fit the packages evaluated now.
    pub(crate) fn recall(
        &self,
        key: &Digest,
        packages: &[Package],
    ) -> Option<Vec<PackageVerdicts>> {
        let encoded = self.known.get(key)?;
        let remembered: Vec<Vec<RuleMemory>> = serde_json::from_str(encoded).ok()?;
        let fits = remembered.len() == packages.len()
            && remembered
                .iter()
                .zip(packages)
                .all(|(rules, package)| rules.len() == package.rules.len());
        if !fits {
            return None;
        }
        self.keep(*key, encoded.clone());
        self.recalled.fetch_add(1, Ordering::Relaxed);
        Some(
            remembered
                .into_iter()
                .map(|rules| {
                    PackageVerdicts::Rules(
                        rules
                            .into_iter()
                            .map(|(messages, excepted)| {
                                let verdict = if messages.is_empty() {
                                    RuleResult::Clean
                                } else {
                                    RuleResult::Messages(messages)
                                };
                                (Ok(verdict), excepted)
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    /// Remembers an evaluation's verdicts, unless any of them is an error.
    pub(crate) fn remember(&self, key: Digest, verdicts: &[PackageVerdicts]) {
        let mut remembered: Vec<Vec<RuleMemory>> = Vec::with_capacity(verdicts.len());
        for package in verdicts {
            let PackageVerdicts::Rules(rules) = package else {
                return;
            };
            let mut memory = Vec::with_capacity(rules.len());
            for (verdict, excepted) in rules {
                match verdict {
                    Ok(RuleResult::Clean) => memory.push((Vec::new(), *excepted)),
                    Ok(RuleResult::Messages(messages)) => {
                        memory.push((messages.clone(), *excepted))
                    }
                    Err(_) => return,
                }
            }
            remembered.push(memory);
        }
        if let Ok(encoded) = serde_json::to_string(&remembered) {
            self.keep(key, encoded);
            self.learned.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn keep(&self, key: Digest, encoded: String) {
        if let Ok(mut kept) = self.kept.lock() {
            kept.insert(key, encoded);
        }
    }

    /// How many objects' verdicts came from the memory.
    pub fn recalled(&self) -> usize {
        self.recalled.load(Ordering::Relaxed)
    }

    /// Writes the memory back: what this run recalled or found, and, after a run that did
    /// not evaluate every object (`--changed-since`, a shard), what it knew of the others.
    /// A whole run drops the verdicts of objects that no longer exist.
    pub fn save(self, whole_run: bool) -> Result<(), MemoryError> {
        let mut kept = self
            .kept
            .into_inner()
            .map_err(|e| MemoryError::Poisoned(e.to_string()))?;
        let learned = self.learned.load(Ordering::Relaxed);
        if kept.is_empty() {
            // Nothing evaluated (broken policies, no objects): nothing learnt, nothing lost.
            return Ok(());
        }
        if learned == 0 && (!whole_run || kept.len() == self.known.len()) {
            // Every verdict came from the file, and none in it is of the past: it stays.
            return Ok(());
        }
        if !whole_run {
            for (key, encoded) in self.known {
                kept.entry(key).or_insert(encoded);
            }
        }
        let mut body = String::new();
        for (key, encoded) in &kept {
            body.push_str(&key.to_hex());
            body.push('\t');
            body.push_str(encoded);
            body.push('\n');
        }
        Ok(self
            .cache
            .write_blob(FILE, MAGIC, &self.salt, body.as_bytes())?)
    }
}

//! `--shard K/N`: a deterministic split of one gate run over N Jenkins agents, for trees
//! that outgrow one. Every shard still expands every entry — the checks that look across
//! entries (duplicate identities, the namespaces a cluster creates, Gatekeeper's inventory,
//! whether a file waiver is used) need the whole tree, and evaluation is the cheap part —
//! but checks and reports only what it owns: the entries whose cluster and name hash to it,
//! the generated files of those entries (orphans included, by the entry they would belong
//! to), and, in shard 1, what belongs to the run as a whole. So the union of the shards'
//! results is a single run's, whatever the tree holds.

use std::path::{Component, Path};
use std::str::FromStr;

use crate::model::outcome::Outcome;

/// One of `count` shards; `index` counts from 0 (the command line's K is `index + 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// A `--shard` that is not `K/N` with 1 ≤ K ≤ N.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a shard: expected K/N with 1 <= K <= N, like 2/4")]
pub struct ShardError {
    pub text: String,
}

impl FromStr for Shard {
    type Err = ShardError;

    /// `K/N` with 1 ≤ K ≤ N.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError {
            text: text.to_owned(),
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

impl Shard {
    /// Shard 1, which reports what belongs to the run as a whole.
    pub fn is_first(&self) -> bool {
        self.index == 0
    }

    /// Whether this shard owns the entry `entry` (its file; only the name counts) of
    /// `cluster`.
    pub fn owns_entry(&self, cluster: &str, entry: &Path) -> bool {
        let stem = entry.file_stem().unwrap_or_default().to_string_lossy();
        self.owns_key(cluster, &stem)
    }

    /// Whether this shard owns `path` (relative to the repository root) below the generated
    /// root: `<generated>/<cluster>/<entry-stem>/…` or `<generated>/<cluster>/<entry-stem>.json`
    /// belongs to that entry, whether or not it still exists. `None` for other paths.
    pub fn owns_generated(&self, generated: &Path, path: &Path) -> Option<bool> {
        let below = path.strip_prefix(generated).ok()?;
        let mut parts = below.components().filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy()),
            _ => None,
        });
        let cluster = parts.next()?;
        let Some(first) = parts.next() else {
            // A file directly in the generated root: the run's, so shard 1's.
            return Some(self.is_first());
        };
        let stem = first.strip_suffix(".json").unwrap_or(&first);
        Some(self.owns_key(&cluster, stem))
    }

    /// Whether this shard reports `outcome`: an entry's by the entry, a generated file's by
    /// the file, anything else (policy loading, waiver files) in shard 1 only.
    pub fn owns(&self, outcome: &Outcome, generated: &Path) -> bool {
        if let (Some(cluster), Some(entry)) = (&outcome.cluster, &outcome.entry) {
            return self.owns_entry(cluster, entry);
        }
        let file = outcome.location.as_ref().map(|l| l.file.as_path());
        let subject = outcome.subject.as_deref().map(Path::new);
        file.into_iter()
            .chain(subject)
            .find_map(|path| self.owns_generated(generated, path))
            .unwrap_or(self.is_first())
    }

    fn owns_key(&self, cluster: &str, stem: &str) -> bool {
        fnv1a(&[cluster.as_bytes(), b"/", stem.as_bytes()]) % self.count == self.index
    }
}

/// FNV-1a, 64 bits: fixed by its definition, so a shard's share never changes with the
/// Rust version or platform (std's hasher promises no such thing).
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Location, Stage, Status};

    #[test]
    fn shards_parse_strictly() {
        assert_eq!("2/4".parse::<Shard>().unwrap().to_string(), "2/4");
        assert_eq!("1/1".parse::<Shard>().unwrap().to_string(), "1/1");
        for bad in ["0/4", "5/4", "1/0", "4", "a/b", "1/2/3", "-1/2", ""] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(ShardError { text: bad.into() }),
                "{bad}"
            );
        }
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // Test vectors of the FNV reference.
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foo", b"bar"]), fnv1a(&[b"foobar"]));
    }

    #[test]
    fn every_entry_belongs_to_exactly_one_shard_with_its_generated_files() {
        let generated = Path::new("generated");
        let shards: Vec<Shard> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        let mut per_shard = [0; 3];
        for i in 0..300 {
            let entry = format!("clusters/dev/stack-{i}.jsonnet");
            let owners: Vec<usize> = (0..3)
                .filter(|&s| shards[s].owns_entry("dev", Path::new(&entry)))
                .collect();
            assert_eq!(owners.len(), 1, "{entry}");
            per_shard[owners[0]] += 1;
            for file in [
                format!("generated/dev/stack-{i}/deployment.json"),
                format!("generated/dev/stack-{i}.json"),
            ] {
                assert_eq!(
                    shards[owners[0]].owns_generated(generated, Path::new(&file)),
                    Some(true),
                    "{file}"
                );
            }
        }
        // Roughly even: no shard is left with nothing.
        assert!(per_shard.iter().all(|&n| n > 60), "{per_shard:?}");
        assert_eq!(
            shards[1].owns_generated(generated, Path::new("policies/x.rego")),
            None
        );
    }

    #[test]
    fn outcomes_without_an_entry_or_generated_file_belong_to_the_first_shard() {
        let generated = Path::new("generated");
        let run_wide = Outcome::new(Stage::Policy, "waiver", Status::Warning)
            .location(Location::file("policies/waivers.yaml"));
        let first: Shard = "1/2".parse().unwrap();
        let second: Shard = "2/2".parse().unwrap();
        assert!(first.owns(&run_wide, generated));
        assert!(!second.owns(&run_wide, generated));
        let orphan = Outcome::new(Stage::Freshness, "up-to-date", Status::Failed)
            .subject("generated/dev/gone/x.json");
        assert_ne!(
            first.owns(&orphan, generated),
            second.owns(&orphan, generated)
        );
    }
}

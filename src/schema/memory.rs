//! The schema stage's memory between runs: the objects whose schema and metadata checks
//! passed, so that a re-run checks only the objects whose content or schema changed (a
//! warm run on 12,000 objects spent a sixth of its time checking them again, issue 29).
//!
//! A key names the object's content (the digest it was read with, see
//! [`Target::content_digest`](crate::model::object::Target::content_digest)) and how its
//! kind resolved for its cluster: the schema (its origin and text, or the CRD version it
//! came from), the release it is checked against (its definitions), the kind's scope and
//! the warning the check would give. Only clean passes are remembered: a finding, a warning
//! or a caveat is checked again on every run and keeps the exact words of a fresh check.
//! Like the other memories it lives in the store, one file sealed with its salt (the build
//! of policyrun, which decides the built-in tables and how a check reads an object), read
//! whole and ignored whole when damaged or written by another build.

use std::collections::{BTreeSet, HashSet};

use crate::model::digest::Digest;
use crate::store::{self, Store, StoreError};

/// The memory's file in the repository's store, and its first word.
const FILE: &str = "schema-passes";
const MAGIC: &str = "policyrun-schema-passes";

/// The passes known from earlier runs.
pub struct SchemaMemory<'c> {
    store: &'c Store,
    salt: String,
    known: HashSet<Digest>,
}

impl<'c> SchemaMemory<'c> {
    /// The memory of `store`, empty when there is none for this build or it is damaged.
    pub fn open(store: &'c Store) -> SchemaMemory<'c> {
        let salt = format!("{}; schema and metadata checks", store::tool_version());
        let known = store
            .read_memory(FILE, MAGIC, &salt)
            .map(|body| {
                body.split(|b| *b == b'\n')
                    .filter_map(|line| Digest::from_hex(std::str::from_utf8(line).ok()?))
                    .collect()
            })
            .unwrap_or_default();
        SchemaMemory { store, salt, known }
    }

    /// Whether an object with this key passed before.
    pub fn knows(&self, key: &Digest) -> bool {
        self.known.contains(key)
    }

    /// Writes the memory back: `kept`, the keys of this run's passes (recalled or found),
    /// and, after a run that did not check every object (`--changed-since`, a shard), the
    /// keys it knew of the others. A whole run forgets objects that no longer exist.
    pub fn save(self, mut kept: BTreeSet<Digest>, whole_run: bool) -> Result<(), StoreError> {
        if kept.is_empty() {
            // Nothing passed (or nothing was checked): nothing learnt, nothing lost.
            return Ok(());
        }
        let learned = kept.iter().any(|key| !self.known.contains(key));
        if !learned && (!whole_run || kept.len() == self.known.len()) {
            // Every pass came from the file, and none in it is of the past: it stays.
            return Ok(());
        }
        if !whole_run {
            kept.extend(self.known);
        }
        let mut body = String::with_capacity(kept.len() * 65);
        for key in &kept {
            body.push_str(&key.to_hex());
            body.push('\n');
        }
        self.store
            .write_blob(FILE, MAGIC, &self.salt, body.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::opened as store;

    #[test]
    fn passes_are_kept_forgotten_by_a_whole_run_and_kept_by_a_partial_one() {
        let (_repo, _cache, store) = store();
        let (a, b, c) = (Digest::of(b"a"), Digest::of(b"b"), Digest::of(b"c"));
        let memory = SchemaMemory::open(&store);
        assert!(!memory.knows(&a));
        memory.save([a, b].into(), true).unwrap();
        let memory = SchemaMemory::open(&store);
        assert!(memory.knows(&a) && memory.knows(&b) && !memory.knows(&c));
        // A partial run that saw only `c` keeps what it did not see.
        memory.save([c].into(), false).unwrap();
        let memory = SchemaMemory::open(&store);
        assert!(memory.knows(&a) && memory.knows(&b) && memory.knows(&c));
        // A whole run that saw only `b` forgets the others.
        memory.save([b].into(), true).unwrap();
        let memory = SchemaMemory::open(&store);
        assert!(!memory.knows(&a) && memory.knows(&b) && !memory.knows(&c));
    }

    #[test]
    fn a_damaged_memory_is_ignored_whole() {
        let (_repo, _cache, store) = store();
        let a = Digest::of(b"a");
        SchemaMemory::open(&store).save([a].into(), true).unwrap();
        let file = store.dir().join(FILE);
        let mut text = std::fs::read_to_string(&file).unwrap();
        // One more key, not sealed: the checksum no longer matches.
        text.push_str(&Digest::of(b"forged").to_hex());
        text.push('\n');
        std::fs::write(&file, text).unwrap();
        let memory = SchemaMemory::open(&store);
        assert!(!memory.knows(&a) && !memory.knows(&Digest::of(b"forged")));
    }
}

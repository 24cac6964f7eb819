//! The style stage's memory between runs: the digests of the sources it found canonical,
//! kept in the store for one formatter and set of options (the salt), so that a re-run
//! formats only what changed. Written whole by a run over every source, read whole, and
//! ignored whole when damaged or written for another formatter or options.

use std::collections::{BTreeSet, HashSet};

use crate::model::digest::Digest;
use crate::store::{Store, StoreError};

/// The memory's blob in the repository's store, and its first word.
const STYLE_FILE: &str = "style-canonical";
const STYLE_MAGIC: &str = "policyrun-style-canonical";

/// Digests of the sources found canonical before with `salt` (the formatter's version
/// and options); empty when there are none, or they are for another salt, or the file
/// is damaged.
pub fn canonical_sources(store: &Store, salt: &str) -> HashSet<Digest> {
    let Some(body) = store.read_memory(STYLE_FILE, STYLE_MAGIC, salt) else {
        return Default::default();
    };
    body.split(|b| *b == b'\n')
        .filter_map(|line| Digest::from_hex(std::str::from_utf8(line).ok()?))
        .collect()
}

/// Replaces the memory with `digests` (this run's canonical sources), for `salt`.
pub fn save_canonical_sources(
    store: &Store,
    salt: &str,
    digests: &BTreeSet<Digest>,
) -> Result<(), StoreError> {
    let mut body = String::with_capacity(digests.len() * 65);
    for digest in digests {
        body.push_str(&digest.to_hex());
        body.push('\n');
    }
    store.write_blob(STYLE_FILE, STYLE_MAGIC, salt, body.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sources_are_recalled_for_their_salt_only() {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        let store = Store::open_as(cache.path(), &root, "t".into()).unwrap();
        assert!(canonical_sources(&store, "fmt 1").is_empty());
        let digests: BTreeSet<Digest> = [Digest::of(b"a"), Digest::of(b"b")].into();
        save_canonical_sources(&store, "fmt 1", &digests).unwrap();
        assert_eq!(
            canonical_sources(&store, "fmt 1"),
            digests.iter().copied().collect()
        );
        assert!(canonical_sources(&store, "fmt 2").is_empty());
        // The format written before this module existed: one hex digest per line.
        let text = std::fs::read_to_string(store.dir().join(STYLE_FILE)).unwrap();
        let (header, listed) = text.split_once('\n').unwrap();
        assert!(
            header.starts_with(&format!(
                "policyrun-style-canonical {} ",
                crate::store::FORMAT
            )),
            "{header}"
        );
        let expected: String = digests
            .iter()
            .map(|d| format!("{}\n", d.to_hex()))
            .collect();
        assert_eq!(listed, expected);
    }
}

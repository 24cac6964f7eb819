//! Objects of equal content, found once so that the stages whose verdict about an object
//! depends only on its content (and on settings they compare themselves) can judge each
//! content once: the same Deployment in `int` and `web` is one schema check and, where the
//! rules read nothing that differs between the clusters, one policy evaluation.
//!
//! A hash picks the candidates, equality decides. An object read from a generated file is
//! known by its content digest (the SHA-256 of that text and its place in it, the key its
//! remembered verdicts are kept under): equal digests are equal values, found without
//! walking either. Hashing every value made sharing cost a cold gate more than it saved
//! on a repository of few equal objects (BENCHMARKS.md, issue 29).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use serde_json::Value;

use crate::model::digest::Digest;
use crate::model::value::ObjectValue;

/// A value as [`first_equal`] compares it.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// Parsed only for a content without a digest.
    pub value: &'a ObjectValue,
    /// What names the value's content ([`Digest::of_object_in`]); `None`: the value is
    /// hashed and compared instead.
    pub digest: Option<Digest>,
}

impl Content<'_> {
    fn candidate_hash(&self) -> u64 {
        match &self.digest {
            Some(digest) => {
                let mut head = [0u8; 8];
                head.copy_from_slice(&digest.0[..8]);
                u64::from_le_bytes(head)
            }
            None => {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                hash_value(self.value.get(), &mut hasher);
                hasher.finish()
            }
        }
    }

    /// Two contents are equal when their digests are, or, for a value without one, when
    /// the values are. A value with a digest and an equal one without are found apart
    /// (their candidate hashes differ): a share missed, never a wrong one.
    fn same_as(&self, other: &Content) -> bool {
        match (&self.digest, &other.digest) {
            (Some(a), Some(b)) => a == b,
            _ => self.value.get() == other.value.get(),
        }
    }
}

/// For every value (`None`: left out), the index of the first value equal to it, itself when
/// none comes before.
pub(crate) fn first_equal(values: &[Option<Content>]) -> Vec<usize> {
    let hashes: Vec<u64> = values
        .par_iter()
        .map(|v| v.as_ref().map_or(0, Content::candidate_hash))
        .collect();
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut first: Vec<usize> = (0..values.len()).collect();
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let bucket = buckets.entry(hashes[i]).or_default();
        match bucket.iter().find(|&&r| {
            values[r]
                .as_ref()
                .is_some_and(|earlier| earlier.same_as(value))
        }) {
            Some(&r) => first[i] = r,
            None => bucket.push(i),
        }
    }
    first
}

/// A hash consistent with `serde_json::Value`'s equality (numbers keep their type: `1` and
/// `1.0` are different values).
fn hash_value(value: &Value, hasher: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, b).hash(hasher),
        Value::Number(n) => {
            2u8.hash(hasher);
            if let Some(u) = n.as_u64() {
                (0u8, u).hash(hasher);
            } else if let Some(i) = n.as_i64() {
                (1u8, i).hash(hasher);
            } else {
                (2u8, n.as_f64().map(f64::to_bits)).hash(hasher);
            }
        }
        Value::String(s) => (3u8, s).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            for item in items {
                hash_value(item, hasher);
            }
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(hasher);
            for (key, item) in map {
                key.hash(hasher);
                hash_value(item, hasher);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value known only by itself.
    fn alone(value: &ObjectValue) -> Content<'_> {
        Content {
            value,
            digest: None,
        }
    }

    #[test]
    fn equal_values_point_to_the_first_and_left_out_ones_to_themselves() {
        let a = ObjectValue::parsed(json!({"kind": "Deployment", "spec": {"replicas": 1}}));
        let b = ObjectValue::parsed(json!({"spec": {"replicas": 1}, "kind": "Deployment"}));
        let c = ObjectValue::parsed(json!({"kind": "Deployment", "spec": {"replicas": 1.0}}));
        let values = [Some(&a), Some(&c), None, Some(&b), Some(&c), Some(&a)];
        let contents: Vec<Option<Content>> = values.iter().map(|v| v.map(alone)).collect();
        assert_eq!(first_equal(&contents), [0, 1, 2, 0, 1, 0]);
    }

    #[test]
    fn digests_decide_for_values_that_have_them() {
        let a = ObjectValue::parsed(json!({"kind": "ConfigMap", "data": {"x": "1"}}));
        let text = Digest::of(b"the text of a");
        let in_text = |pointer| Content {
            value: &a,
            digest: Some(Digest::of_object_in(&text, pointer)),
        };
        let contents = [
            Some(in_text("")),
            Some(alone(&a)),
            Some(in_text("")),
            Some(in_text("/items/0")),
            Some(alone(&a)),
            Some(in_text("/items/0")),
        ];
        // Equal digests are one content; a value without a digest meets its equals among
        // the others without one; equal values under different digests are not merged.
        assert_eq!(first_equal(&contents), [0, 1, 0, 3, 1, 3]);
    }
}

//! Objects of equal content, found once so that the stages whose verdict about an object
//! depends only on its content (and on settings they compare themselves) can judge each
//! content once: the same Deployment in `int` and `web` is one schema check and, where the
//! rules read nothing that differs between the clusters, one policy evaluation.
//!
//! Values are compared, never only hashed: a hash picks the candidates, equality decides.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rayon::prelude::*;
use serde_json::Value;

/// For every value (`None`: left out), the index of the first value equal to it, itself when
/// none comes before.
pub fn first_equal(values: &[Option<&Value>]) -> Vec<usize> {
    let hashes: Vec<u64> = values
        .par_iter()
        .map(|v| {
            v.map_or(0, |v| {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                hash_value(v, &mut hasher);
                hasher.finish()
            })
        })
        .collect();
    let mut buckets: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut first: Vec<usize> = (0..values.len()).collect();
    for (i, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let bucket = buckets.entry(hashes[i]).or_default();
        match bucket.iter().find(|&&r| values[r] == Some(*value)) {
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

    #[test]
    fn equal_values_point_to_the_first_and_left_out_ones_to_themselves() {
        let a = json!({"kind": "Deployment", "spec": {"replicas": 1}});
        let b = json!({"spec": {"replicas": 1}, "kind": "Deployment"});
        let c = json!({"kind": "Deployment", "spec": {"replicas": 1.0}});
        let values = [Some(&a), Some(&c), None, Some(&b), Some(&c), Some(&a)];
        assert_eq!(first_equal(&values), [0, 1, 2, 0, 1, 0]);
    }
}

//! Records kept in a fixed number of bucket files chosen by key, not one file per record:
//! creating thousands of small files made a run that wrote every record (after a change to
//! a shared library) twice as slow as no cache at all (BENCHMARKS.md). Buckets are written
//! to a temporary file and renamed, so concurrent runs see either the old or the new
//! bucket, whole; of two runs rewriting one bucket at once, the last wins and the other's
//! new records are simply not kept.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::ErrorKind;
use std::ops::Range;
use std::path::PathBuf;

use rayon::prelude::*;

use super::{FORMAT, Store, StoreError, split_line, unseal};
use crate::model::atomic::{self, Durability};

/// The first line of every bucket file.
const BUCKET_MAGIC: &str = "policyrun-expansion-bucket";

/// How many bucket files a repository's records are spread over: few enough that writing
/// every record creates few files, enough that one changed entry rewrites a small one.
const BUCKETS: usize = 64;

/// The buckets holding some keys' records, read once for a run.
pub struct Buckets {
    buckets: Vec<Vec<u8>>,
    /// Key → (bucket, the record's bytes in it).
    index: HashMap<String, (usize, Range<usize>)>,
    /// Buckets that could not be read whole; the records after the damage are lost.
    pub notes: Vec<String>,
}

impl Buckets {
    /// The bytes of `key`'s record as the bucket holds them, not yet checked.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        let (bucket, range) = self.index.get(key)?;
        Some(&self.buckets[*bucket][range.clone()])
    }
}

impl Store {
    fn bucket_path(&self, bucket: usize) -> PathBuf {
        self.dir.join(format!("{bucket:02}.bucket"))
    }

    /// Reads the buckets that hold `keys`' records (in parallel: it is file I/O).
    pub fn load_buckets(&self, keys: &[String]) -> Buckets {
        let mut wanted: Vec<usize> = keys.iter().map(|k| bucket_of(k)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let read: Vec<(usize, Vec<u8>, Option<String>)> = wanted
            .par_iter()
            .filter_map(|&bucket| match fs::read(self.bucket_path(bucket)) {
                Ok(bytes) => Some((bucket, bytes, None)),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => Some((
                    bucket,
                    Vec::new(),
                    Some(format!("cannot read bucket {bucket:02}: {e}")),
                )),
            })
            .collect();
        // Each bucket's records are listed in parallel too: on 3,003 entries the serial
        // listing was on the warm run's path before any record could be checked.
        let parsed: Vec<_> = read
            .into_par_iter()
            .map(|(bucket, bytes, problem)| {
                let listed = parse_bucket(&bytes);
                (bucket, bytes, problem, listed)
            })
            .collect();
        let mut loaded = Buckets {
            buckets: Vec::with_capacity(parsed.len()),
            index: HashMap::new(),
            notes: Vec::new(),
        };
        for (bucket, bytes, problem, (records, damage)) in parsed {
            loaded.notes.extend(problem);
            if let Some(damage) = damage {
                loaded.notes.push(format!(
                    "bucket {bucket:02} is damaged ({damage}); the records after it were ignored"
                ));
            }
            let at = loaded.buckets.len();
            for (key, range) in records {
                loaded.index.insert(key, (at, range));
            }
            loaded.buckets.push(bytes);
        }
        loaded
    }

    /// Saves `new` records (key, record sealed with `record_magic`) and drops the
    /// `rejected` keys' records: each bucket concerned is read again (another run may have
    /// written it meanwhile), the sound records in it kept, and it is written whole through
    /// a temporary file. Returns how many records were written.
    pub fn save_buckets(
        &self,
        record_magic: &str,
        new: Vec<(String, Vec<u8>)>,
        rejected: &[String],
    ) -> Result<usize, StoreError> {
        let mut by_bucket: BTreeMap<usize, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for key in rejected {
            by_bucket.entry(bucket_of(key)).or_default();
        }
        for (key, record) in new {
            by_bucket
                .entry(bucket_of(&key))
                .or_default()
                .push((key, record));
        }
        let results: Vec<Result<usize, StoreError>> = by_bucket
            .into_par_iter()
            .map(|(bucket, new)| {
                let path = self.bucket_path(bucket);
                let old = fs::read(&path).unwrap_or_default();
                let (kept, _) = parse_bucket(&old);
                let mut records: BTreeMap<&str, &[u8]> = kept
                    .iter()
                    .filter(|(key, range)| {
                        !rejected.contains(key) && unseal(record_magic, &old[range.clone()]).is_ok()
                    })
                    .map(|(key, range)| (key.as_str(), &old[range.clone()]))
                    .collect();
                for (key, record) in &new {
                    records.insert(key, record);
                }
                let mut bytes = format!("{BUCKET_MAGIC} {FORMAT}\n").into_bytes();
                for (key, record) in records {
                    bytes.extend_from_slice(format!("{key} {}\n", record.len()).as_bytes());
                    bytes.extend_from_slice(record);
                }
                atomic::write_with(&path, &bytes, Durability::Unsynced)
                    .map(|()| new.len())
                    .map_err(|e| self.write_problem(e))
            })
            .collect();
        let mut written = 0;
        for result in results {
            written += result?;
        }
        Ok(written)
    }
}

/// The bucket a key's record lives in.
fn bucket_of(key: &str) -> usize {
    key.get(..2)
        .and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
        % BUCKETS
}

/// The records of a bucket file (`<key> <length>` lines, each followed by the record),
/// as far as it can be read, and what stopped the reading when it did not reach the end.
fn parse_bucket(bytes: &[u8]) -> (Vec<(String, Range<usize>)>, Option<String>) {
    let mut records = Vec::new();
    if bytes.is_empty() {
        return (records, None);
    }
    let Some((magic, _)) = split_line(bytes) else {
        return (records, Some("truncated before its format line".into()));
    };
    if magic != format!("{BUCKET_MAGIC} {FORMAT}").as_bytes() {
        return (records, Some("not a bucket of this format".into()));
    }
    let stop = |records: Vec<(String, Range<usize>)>, what: &str| {
        let count = records.len();
        (records, Some(format!("{what} after {count} records")))
    };
    let mut at = magic.len() + 1;
    while at < bytes.len() {
        let Some((line, _)) = split_line(&bytes[at..]) else {
            return stop(records, "truncated");
        };
        let start = at + line.len() + 1;
        let parsed = std::str::from_utf8(line).ok().and_then(|line| {
            let (key, length) = line.split_once(' ')?;
            let valid = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
            Some((key.to_owned(), length.parse::<usize>().ok()?)).filter(|_| valid)
        });
        let Some((key, length)) = parsed else {
            return stop(records, "garbled");
        };
        let Some(end) = start.checked_add(length).filter(|&end| end <= bytes.len()) else {
            return stop(records, "truncated");
        };
        records.push((key, start..end));
        at = end;
    }
    (records, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal;

    fn key(first: char) -> String {
        std::iter::repeat_n(first, 64).collect()
    }

    #[test]
    fn records_are_kept_across_saves_and_damage_loses_only_what_follows() {
        let repo = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        let store = Store::open_as(cache.path(), &root, "t".into()).unwrap();
        // Two keys in one bucket (same first two hex digits), one in another.
        let (a, b, c) = (
            key('a'),
            format!("aa{}", key('b')[2..].to_owned()),
            key('c'),
        );
        assert_eq!(bucket_of(&a), bucket_of(&b));
        let written = store
            .save_buckets(
                "rec",
                vec![
                    (a.clone(), seal("rec", b"A")),
                    (c.clone(), seal("rec", b"C")),
                ],
                &[],
            )
            .unwrap();
        assert_eq!(written, 2);
        store
            .save_buckets("rec", vec![(b.clone(), seal("rec", b"B"))], &[])
            .unwrap();
        let loaded = store.load_buckets(&[a.clone(), b.clone(), c.clone()]);
        assert!(loaded.notes.is_empty(), "{:?}", loaded.notes);
        for (key, body) in [(&a, "A"), (&b, "B"), (&c, "C")] {
            assert_eq!(unseal("rec", loaded.get(key).unwrap()), Ok(body.as_bytes()));
        }
        // A rejected key's record is dropped when its bucket is written again.
        store
            .save_buckets("rec", Vec::new(), std::slice::from_ref(&a))
            .unwrap();
        let loaded = store.load_buckets(&[a.clone(), b.clone()]);
        assert!(loaded.get(&a).is_none() && loaded.get(&b).is_some());
        // A cut bucket keeps the records before the cut, and says so.
        let path = store.bucket_path(bucket_of(&b));
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let loaded = store.load_buckets(std::slice::from_ref(&b));
        assert!(loaded.get(&b).is_none());
        assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
        assert!(loaded.notes[0].contains("damaged"), "{:?}", loaded.notes);
    }

    #[test]
    fn a_bucket_of_another_kind_is_not_read() {
        let (records, damage) = parse_bucket(b"something-else 2\n");
        assert!(records.is_empty());
        assert_eq!(damage.as_deref(), Some("not a bucket of this format"));
        let garbled = format!("{BUCKET_MAGIC} {FORMAT}\nnot-a-key 3\nabc");
        let (records, damage) = parse_bucket(garbled.as_bytes());
        assert!(records.is_empty());
        assert_eq!(damage.as_deref(), Some("garbled after 0 records"));
    }
}

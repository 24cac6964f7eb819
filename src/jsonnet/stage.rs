//! The jsonnet stage's entry point: the selected entries, each taken from the expansion
//! records where one is up to date, else evaluated (and recorded); the entries a run does not
//! check known only by what their records say, for the checks that look across entries.
//! Done in two steps so that the pipeline can list a change's files while the records are
//! read: neither needs the other.

use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::jsonnet::expand;
use crate::jsonnet::records::{Miss, Record, Records, WorkTree};
use crate::model::events::Events;
use crate::model::expansion::{Entry, Expanded, Object};
use crate::model::object::CRD_KIND;
use crate::model::repository::Repository;
use crate::model::stage::StageReport;
use crate::model::stats::Stats;
use crate::store::Store;

/// What the jsonnet stage expands.
pub struct Input<'a> {
    pub entries: &'a [Entry],
    /// Where expansions are remembered between runs; `None` evaluates every entry.
    pub records: Option<&'a Store>,
}

/// What the records hold for the entries, read before the run decides which it checks.
pub struct Recalled {
    lookups: Vec<RecordLookup>,
    /// Keys of records that had to be ignored: saving drops them.
    rejected: Vec<String>,
    notes: Vec<String>,
}

/// What the records hold for one entry.
struct RecordLookup {
    key: Option<String>,
    record: Option<Record>,
}

impl Recalled {
    /// The files the `i`th entry read when it was recorded, if its record is up to date.
    pub fn inputs(&self, i: usize) -> Option<&[crate::model::expansion::Input]> {
        self.lookups[i].record.as_ref().map(Record::inputs)
    }
}

/// One entry's part in a run.
pub enum EntryExpansion {
    /// Checked, with its expansion.
    Checked(Box<Expanded>),
    /// Only known, for the checks that look across entries (`--changed-since` leaves it
    /// out): its objects' identities and generated files, with values only for
    /// CustomResourceDefinitions, which define other entries' kinds.
    ContextOnly(Vec<Object>),
}

/// Looks every entry up in the records (in parallel: reading records and hashing their
/// inputs is file I/O).
pub fn recall(repo: &Repository, input: &Input) -> Recalled {
    let entries = input.entries;
    let Some(records) = input.records.map(Records::in_store) else {
        let lookups = entries
            .iter()
            .map(|_| RecordLookup {
                key: None,
                record: None,
            })
            .collect();
        return Recalled {
            lookups,
            rejected: Vec::new(),
            notes: Vec::new(),
        };
    };
    let keys: Vec<String> = entries.par_iter().map(|e| records.key(repo, e)).collect();
    let loaded = records.load(&keys);
    let mut notes: Vec<String> = loaded.notes.iter().map(|n| format!("cache: {n}")).collect();
    let tree = WorkTree::new(&repo.root);
    let looked: Vec<(RecordLookup, Option<String>)> = entries
        .par_iter()
        .zip(keys)
        .map(|(entry, key)| {
            let (record, rejected) = match records.lookup(&loaded, repo, entry, &key, &tree) {
                Ok(record) => (Some(record), None),
                Err(Miss::Rejected(why)) => {
                    (None, Some(format!("{}: {why}", entry.path.display())))
                }
                Err(Miss::Absent | Miss::Stale) => (None, None),
            };
            let lookup = RecordLookup {
                key: Some(key),
                record,
            };
            (lookup, rejected)
        })
        .collect();
    let rejected: Vec<&String> = looked.iter().filter_map(|(_, r)| r.as_ref()).collect();
    if let Some(first) = rejected.first() {
        notes.push(format!(
            "cache: ignored {} unusable record(s) and evaluated their entries again (first: {first})",
            rejected.len()
        ));
    }
    let rejected = looked
        .iter()
        .filter(|(_, r)| r.is_some())
        .filter_map(|(l, _)| l.key.clone())
        .collect();
    Recalled {
        lookups: looked.into_iter().map(|(l, _)| l).collect(),
        rejected,
        notes,
    }
}

/// The stage: the entries `checked` selects expanded — from their records where up to
/// date, else evaluated and recorded — and the others known from their records. Its stats
/// count the entries, those checked, evaluated and taken from the records, and the records
/// written.
pub fn run(
    repo: &Repository,
    input: Input,
    recalled: Recalled,
    checked: &[bool],
    events: &Arc<dyn Events>,
) -> (Vec<EntryExpansion>, StageReport) {
    let Input { entries, records } = input;
    let records = records.map(|store| (store, Records::in_store(store)));
    let Recalled {
        lookups,
        rejected,
        notes: recalled_notes,
    } = recalled;
    let (keys, recorded): (Vec<Option<String>>, Vec<Option<Record>>) =
        lookups.into_iter().map(|l| (l.key, l.record)).unzip();
    // Each record is taken by the one worker that rebuilds its entry, so that its texts
    // move into the expansion instead of being copied.
    let recorded: Vec<Mutex<Option<Record>>> = recorded.into_iter().map(Mutex::new).collect();
    let take = |i: usize| recorded[i].lock().ok().and_then(|mut r| r.take());
    let mut stats = Stats {
        entries: entries.len(),
        cache_dir: records.as_ref().map(|(s, _)| s.dir().to_path_buf()),
        ..Stats::default()
    };
    let mut notes = Vec::new();
    let selected: Vec<usize> = (0..entries.len()).filter(|&i| checked[i]).collect();
    stats.checked = selected.len();
    let to_expand: Vec<Entry> = selected.iter().map(|&i| entries[i].clone()).collect();
    let new_records: Mutex<Vec<(String, Vec<u8>)>> = Mutex::new(Vec::new());
    let expanded = expand::expand_all_with(
        repo,
        &to_expand,
        events,
        |n| {
            let i = selected[n];
            take(i)?
                .into_expanded(repo, &entries[i], events.as_ref())
                .ok()
        },
        |n, expanded| {
            let (Some((_, records)), Some(key)) = (&records, &keys[selected[n]]) else {
                return;
            };
            // Encoded here, on the worker; written together at the end.
            if let (Some(record), Ok(mut new)) = (records.record(key, expanded), new_records.lock())
            {
                new.push((key.clone(), record));
            }
        },
    );
    if let Some((_, records)) = &records {
        let new = new_records.into_inner().unwrap_or_default();
        if !new.is_empty() || !rejected.is_empty() {
            match records.save(new, &rejected) {
                Ok(written) => stats.cache_writes = written,
                Err(problem) => notes.push(format!("cache: {problem}")),
            }
        }
    }
    let mut expanded = expanded.into_iter();
    let mut parts = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        if checked[i] {
            let Some((expanded, cached)) = expanded.next() else {
                break;
            };
            if cached {
                stats.cached += 1;
            } else {
                stats.evaluated += 1;
            }
            parts.push(EntryExpansion::Checked(Box::new(expanded)));
        } else {
            let objects = take(i)
                .map(|r| r.objects(repo, entry, &[CRD_KIND]))
                .unwrap_or_default();
            parts.push(EntryExpansion::ContextOnly(objects));
        }
    }
    notes.extend(recalled_notes);
    let report = StageReport {
        outcomes: Vec::new(),
        notes,
        stats,
    };
    (parts, report)
}

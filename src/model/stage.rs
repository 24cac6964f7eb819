//! What every stage returns, in one shape: its outcomes, what is worth saying but is no
//! check (a cache that could not be written), and its share of the run's numbers. The
//! pipeline adds the reports of its stages up; no stage saves, prints or counts elsewhere.

use crate::model::outcome::Outcome;
use crate::model::stats::Stats;

/// One stage's results.
#[derive(Debug, Default)]
pub struct StageReport {
    pub outcomes: Vec<Outcome>,
    /// Notes for the run's stats (`cache: …`), never checks.
    pub notes: Vec<String>,
    /// Only the numbers this stage knows are set; the others stay zero.
    pub stats: Stats,
}

impl StageReport {
    pub fn of(outcomes: Vec<Outcome>) -> StageReport {
        StageReport {
            outcomes,
            ..StageReport::default()
        }
    }
}

impl Stats {
    /// Adds a stage's numbers and notes to the run's.
    pub fn absorb(&mut self, stage: Stats) {
        self.entries += stage.entries;
        self.checked += stage.checked;
        self.evaluated += stage.evaluated;
        self.cached += stage.cached;
        self.cache_writes += stage.cache_writes;
        self.policy_recalled += stage.policy_recalled;
        self.policy_shared += stage.policy_shared;
        self.schema_shared += stage.schema_shared;
        self.schema_recalled += stage.schema_recalled;
        if self.changed_since.is_none() {
            self.changed_since = stage.changed_since;
        }
        if self.cache_dir.is_none() {
            self.cache_dir = stage.cache_dir;
        }
        self.notes.extend(stage.notes);
    }
}

/// Adds a stage's report to the run's outcomes and stats.
pub(crate) fn add(outcomes: &mut Vec<Outcome>, stats: &mut Stats, report: StageReport) {
    outcomes.extend(report.outcomes);
    stats.notes.extend(report.notes);
    stats.absorb(report.stats);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_adds_its_numbers_and_notes_and_keeps_the_runs() {
        let mut stats = Stats {
            entries: 3,
            changed_since: Some("main".into()),
            notes: vec!["first".into()],
            ..Stats::default()
        };
        let mut outcomes = Vec::new();
        let stage = StageReport {
            outcomes: Vec::new(),
            notes: vec!["cache: not written".into()],
            stats: Stats {
                schema_shared: 2,
                changed_since: Some("other".into()),
                notes: vec!["second".into()],
                ..Stats::default()
            },
        };
        add(&mut outcomes, &mut stats, stage);
        assert_eq!(stats.entries, 3);
        assert_eq!(stats.schema_shared, 2);
        assert_eq!(stats.changed_since.as_deref(), Some("main"));
        assert_eq!(stats.notes, ["first", "cache: not written", "second"]);
    }
}

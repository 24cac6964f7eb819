//! Reports turn the outcomes of a run into what people and machines read. Several can run
//! for one run (human on stdout and JUnit to a file); each sees the same sorted outcomes.

pub mod human;
pub mod json;
pub mod junit;

use std::io;
use std::time::Duration;

use crate::outcome::Outcome;

/// What every report gets besides the outcomes.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The command that ran (`check`, `expand`), for headers.
    pub command: &'static str,
    pub elapsed: Duration,
}

/// A finished run's outcomes, written somewhere.
pub trait Report {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()>;
}

/// Sorts outcomes into the deterministic order every report uses.
pub fn sort(outcomes: &mut [Outcome]) {
    outcomes.sort_by_cached_key(|o| {
        (
            o.stage,
            o.cluster.clone(),
            o.subject_name(),
            o.check.clone(),
        )
    });
}

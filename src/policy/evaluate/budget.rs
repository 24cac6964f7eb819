//! The policy stage's time budget per object: a hostile or broken policy (a comprehension
//! over `numbers.range(1, 100000)` squared) must end as an error for the objects it judges,
//! not run until CI kills the gate without a report. regorus checks a wall-clock timer
//! cooperatively, in both its interpreter and its virtual machine; each evaluation for an
//! object gets what is left of the object's budget.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;

/// Work units (expressions, loop steps, VM instructions) between two reads of the clock: a
/// clock read costs tens of nanoseconds, a unit about as much, so checks cost a few percent
/// at 1 and nothing measurable at 64, and a budget is still overrun by microseconds only.
const CHECK_INTERVAL: NonZeroU32 = NonZeroU32::new(64).unwrap();

/// One object's budget, started when its first rule is evaluated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectBudget {
    started: Instant,
    limit: Duration,
}

impl ObjectBudget {
    pub(crate) fn start(limit: Duration) -> ObjectBudget {
        ObjectBudget {
            started: Instant::now(),
            limit,
        }
    }

    /// A budget of which `used` was spent before (in an earlier pass over the objects).
    pub(crate) fn resume(limit: Duration, used: Duration) -> ObjectBudget {
        let now = Instant::now();
        ObjectBudget {
            started: now.checked_sub(used).unwrap_or(now),
            limit,
        }
    }

    /// How much of the budget is spent so far.
    pub(crate) fn used(&self) -> Duration {
        self.started.elapsed()
    }

    /// The timer for the next evaluation, with what is left; `None` once it is spent.
    pub(crate) fn timer(&self) -> Option<ExecutionTimerConfig> {
        let left = self.limit.checked_sub(self.started.elapsed())?;
        (!left.is_zero()).then_some(timer(left))
    }

    /// Whether the budget is spent: an evaluation that failed then failed on its timer (or
    /// would have, a moment later), whatever words the engine chose for the error.
    pub(crate) fn is_spent(&self) -> bool {
        self.started.elapsed() >= self.limit
    }

    /// What the object's undecided results say.
    pub(crate) fn message(&self, undecided: &str) -> String {
        over_budget(self.limit, undecided)
    }
}

/// A timer for one evaluation of at most `limit` (the warm-up evaluations before the
/// objects, too).
pub(crate) fn timer(limit: Duration) -> ExecutionTimerConfig {
    ExecutionTimerConfig {
        limit,
        check_interval: CHECK_INTERVAL,
    }
}

/// The error for results left undecided by the budget: it names the budget and how to set it.
pub(crate) fn over_budget(limit: Duration, undecided: &str) -> String {
    format!(
        "policy time budget exceeded: evaluation took more than {} (the budget per object: \
         `limits.policy_seconds` in policyrun.toml, or `--policy-seconds`); {undecided} is undecided",
        seconds(limit)
    )
}

fn seconds(duration: Duration) -> String {
    let whole = duration.as_secs();
    if duration.subsec_nanos() == 0 {
        format!("{whole} s")
    } else {
        format!("{:.3} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_hands_out_what_is_left_and_then_nothing() {
        let budget = ObjectBudget::start(Duration::from_secs(5));
        let timer = budget.timer().unwrap();
        assert!(timer.limit <= Duration::from_secs(5));
        assert!(timer.limit > Duration::from_secs(4));
        assert!(!budget.is_spent());

        let spent = ObjectBudget::start(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(spent.timer().is_none());
        assert!(spent.is_spent());
    }

    #[test]
    fn the_message_names_the_budget_and_its_key() {
        let message = ObjectBudget::start(Duration::from_secs(5)).message("package `main`");
        assert!(message.contains("5 s"), "{message}");
        assert!(message.contains("limits.policy_seconds"), "{message}");
        assert!(message.contains("--policy-seconds"), "{message}");
        assert!(message.contains("package `main`"), "{message}");
    }
}

//! The post-merge staged rollout: `policyrun apply` walks the clusters in rollout order
//! (`rollout`), each a stage that applies its objects and watches them become ready
//! (`stage`, `watch`), through the Kubernetes API (`kubeapi`), then bakes: asks Prometheus
//! for a while whether the cluster stays healthy (`bake`, `prometheus`); a workload that does not is
//! explained by its pods and events (`diagnose`). Our own credentials are kept out of what
//! servers say back (`credentials`). What can be decided from plain JSON is kept apart: the
//! order objects are applied in (`order`), when a live object counts as rolled out
//! (`readiness`), and which live objects pruning may delete (`ownership`).

// What the pipeline calls: the stage and the connection (also for the binary, the tests and
// the benches), the bake, diff, pruning and the ownership mark.
pub(crate) mod bake;
pub(crate) mod diff;
pub mod kubeapi;
pub(crate) mod ownership;
pub(crate) mod prune;
pub mod stage;
// How a stage does its work.
mod credentials;
mod diagnose;
mod order;
pub(crate) mod prometheus;
mod readiness;
mod watch;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A request to stop a rollout (Ctrl-C, a CI job's SIGTERM): requests in flight finish,
/// nothing new starts, waits end. A value the caller creates and hands to each part of
/// apply, rather than a process-wide flag, so that two rollouts in one process — tests run
/// side by side — cannot stop each other. Clones share one request.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks everything holding this value (or a clone of it) to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled (looked at every 50 ms), to race work against: a request in
    /// flight or a pause then ends at once rather than when it would have.
    pub(crate) async fn cancelled(&self) {
        while !self.is_cancelled() {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// `work`'s result, or `None` once cancelled first.
    pub(crate) async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            done = work => Some(done),
            () = self.cancelled() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_the_request_and_another_cancellation_does_not() {
        let rollout = Cancel::new();
        let handed_to_the_signal_handler = rollout.clone();
        let other_rollout = Cancel::new();
        handed_to_the_signal_handler.cancel();
        assert!(rollout.is_cancelled());
        assert!(!other_rollout.is_cancelled());
    }
}

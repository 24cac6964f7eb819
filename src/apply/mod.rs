//! The post-merge staged rollout: `policyrun apply` walks the clusters in rollout order
//! (`rollout`), each a stage that applies its objects and watches them become ready
//! (`stage`, `watch`), through the Kubernetes API (`kubeapi`), then bakes: asks Prometheus
//! for a while whether the cluster stays healthy (`bake`, `prometheus`); a workload that does not is
//! explained by its pods and events (`diagnose`). What can be decided from plain JSON is kept apart: the
//! order objects are applied in (`order`), when a live object counts as rolled out
//! (`readiness`), and which live objects pruning may delete (`ownership`).

pub mod bake;
pub mod diagnose;
pub mod diff;
pub mod kubeapi;
pub mod order;
pub mod ownership;
pub mod prometheus;
pub mod prune;
pub mod readiness;
pub mod stage;
pub mod watch;

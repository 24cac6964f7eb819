//! The post-merge staged rollout (issue 5), built up in steps. What is here decides from
//! plain JSON, without a cluster: the order objects are applied and deleted in, when a live
//! object counts as rolled out, and which live objects pruning may delete. The kube client,
//! the stages and `policyrun apply` come next.

pub mod kubeapi;
pub mod order;
pub mod ownership;
pub mod readiness;
pub mod stage;

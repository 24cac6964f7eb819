//! The integration tests, as one test binary with a module per area (issue 30). Each binary
//! links the crate with kube, regorus, jrsonnet and libjsonnet, so one binary is linked once
//! instead of once per file; `support` is shared by every module.
//!
//! One area runs with a filter on its module: `cargo test --test all gate::`, or one test
//! with `cargo test --test all opa_fuzz::generated`. The tests share one process, so none
//! may change its environment, its current directory or other process-wide state: a test
//! passes what differs to the `policyrun` it runs (`support::policyrun_with`).

mod support;

mod apply;
mod bake;
mod cache;
mod changed_since;
mod conftest_docs;
mod crd_generated;
mod differential;
mod gate;
mod gate_from;
mod hardening;
mod jenkinsfile;
mod layers;
mod library;
mod local;
mod located;
mod manifests;
mod memory_budget;
mod opa_functions;
mod opa_fuzz;
mod opa_reference;
mod opa_safety;
mod policy;
mod policy_memory;
mod review;
mod schema;
mod schema_reference;
mod shard;
mod sharing;
mod style;
mod yaml_reference;

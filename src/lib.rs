//! policyrun: the pre-merge gate, expansion and (later) staged rollout for a repository that
//! keeps Kubernetes configuration as jsonnet. The binary in `main.rs` is a thin shell over
//! these modules so that tests and benchmarks drive the same code.

pub mod apply;
pub mod cli;
pub mod freshness;
pub mod jsonnet;
pub mod model;
pub mod pipeline;
pub mod policy;
pub mod report;
pub mod review;
pub mod schema;
pub mod store;
pub mod style;

/// Exit codes, decided only in `main`.
pub mod exit {
    /// Every check passed (warnings allowed).
    pub const PASSED: i32 = 0;
    /// At least one check failed or could not run.
    pub const FAILED: i32 = 1;
    /// Usage, configuration or I/O problem: the gate could not run at all.
    pub const USAGE: i32 = 2;
    /// `policyrun diff`, as `kubectl diff`: applying would change something (and nothing
    /// failed).
    pub const DIFF_CHANGES: i32 = 1;
    /// `policyrun diff`, as `kubectl diff` (any code above 1): what applying would change
    /// could not be told, because a check failed or could not run.
    pub const DIFF_FAILED: i32 = 2;
}

//! The reuse wing: what need not be evaluated again. Objects of the same content and inputs
//! share one evaluation within a run ([`share`]); verdicts of earlier runs are recalled
//! from the cache ([`memory`], [`recall`]).

pub(crate) mod memory;
pub(crate) mod recall;
pub(crate) mod share;

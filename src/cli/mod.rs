//! The command line's side of the crate: the clap definitions, `policyrun.toml` read into
//! checked settings, flags and file assembled into one plan per command, and the git hook
//! that runs the gate before a push.

pub mod args;
pub mod commands;
pub mod complete;
pub mod config;
pub(crate) mod hook;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod reports;
pub mod supervise;

/// A problem that stops a command before any check can run (usage, configuration or I/O):
/// exit code 2. It holds what `main` prints after `policyrun: error: `; each layer's error
/// becomes one through an explicit conversion below, its message kept as it is.
#[derive(Debug)]
pub struct UsageError(pub String);

/// `From` for each error a command stops on, keeping its message.
macro_rules! usage_error_from {
    ($($error:ty),* $(,)?) => {
        $(
            impl From<$error> for UsageError {
                fn from(error: $error) -> Self {
                    UsageError(error.to_string())
                }
            }
        )*
    };
}

usage_error_from!(
    std::io::Error,
    rayon::ThreadPoolBuildError,
    crate::model::repository::UnknownCluster,
    config::ConfigError,
    config::SettingError,
    config::BudgetError,
    crate::pipeline::Error,
    crate::policy::verify::VerifyError,
    crate::pipeline::review::ReviewError,
    crate::pipeline::gate::BaselineError,
    crate::store::FlagError,
    crate::style::fmt::FmtError,
    hook::HookError,
    complete::RegistrationError,
);

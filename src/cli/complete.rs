//! Shell completion that knows the repository: the shell asks the binary itself
//! (`POLICYRUN_COMPLETE=<shell> policyrun -- <words>`), so `--cluster` and `--until` offer
//! the clusters of the nearest `policyrun.toml`, not file names.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};

use super::config::Config;

/// The environment variable that makes a run a completion request. policyrun's own, so
/// that a `COMPLETE` set for another tool never turns a gate run into one.
pub const VARIABLE: &str = "POLICYRUN_COMPLETE";

/// Answers a completion request for the command line `command` makes and exits, when
/// this run is one; otherwise returns.
pub fn answer_if_asked(command: fn() -> clap::Command) {
    CompleteEnv::with_factory(command).var(VARIABLE).complete();
}

/// Why a shell's registration script cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    /// clap_complete has no completer of that name.
    #[error("no completion for the shell {0}")]
    NoShell(String),
    #[error(transparent)]
    Write(#[from] std::io::Error),
}

/// The script a shell sources once: it asks the binary for every completion.
pub fn registration(shell: clap_complete::Shell) -> Result<Vec<u8>, RegistrationError> {
    let name = shell.to_string();
    let shells = Shells::builtins();
    let completer = shells
        .completer(&name)
        .ok_or_else(|| RegistrationError::NoShell(name.clone()))?;
    let mut script = Vec::new();
    completer.write_registration(VARIABLE, "policyrun", "policyrun", "policyrun", &mut script)?;
    Ok(script)
}

/// The clusters of the `policyrun.toml` found from the current directory up, that start
/// with what was typed; none when there is no readable one (completion never fails loudly).
pub fn cluster_names(typed: &OsStr) -> Vec<CompletionCandidate> {
    let typed = typed.to_string_lossy();
    let Ok(here) = std::env::current_dir() else {
        return Vec::new();
    };
    let Some(names) = configured_clusters(&here) else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|name| name.starts_with(typed.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// The `[[cluster]]` names of the configuration above `start`, in rollout order. Read as
/// plain TOML, not checked: completion works while the rest of the file is being edited.
fn configured_clusters(start: &Path) -> Option<Vec<String>> {
    let path = Config::find(start).ok()??;
    // A regular file of a sane size only: completion must never hang on a FIFO.
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 1 << 20 {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    let table: toml::Table = text.parse().ok()?;
    let clusters = table.get("cluster")?.as_array()?;
    Some(
        clusters
            .iter()
            .filter_map(|c| c.get("name")?.as_str().map(str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_read_from_the_nearest_configuration_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policyrun.toml"),
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n[[cluster]]\nname = \"web\"\nunknown_key = 1\n",
        )
        .unwrap();
        let below = dir.path().join("clusters/dev");
        std::fs::create_dir_all(&below).unwrap();
        assert_eq!(configured_clusters(&below).unwrap(), ["dev", "int", "web"]);
        std::fs::write(dir.path().join("policyrun.toml"), "[[cluster]\n").unwrap();
        assert_eq!(configured_clusters(&below), None);
    }
}

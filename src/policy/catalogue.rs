//! The built-in packs as `policyrun packs` lists them: each pack's rules as the loader finds
//! them (the rules a repository that selects the pack runs), with the README's descriptions
//! and the settings each pack reads.

use std::path::Path;

use serde::Serialize;

use super::load;
use super::packs::{Described, PREFIX, names, rule_descriptions, setting_descriptions};
use super::rego::modules::RuleKind;
use super::rego::problem::Problem;
use super::settings::Settings;

/// The embedded modules do not load (the tests of policyrun rule it out): each problem as
/// `file: message`, `; `-separated.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.iter().map(|p| format!("{}: {}", p.file.display(), p.message)).collect::<Vec<_>>().join("; "))]
pub struct NotLoaded {
    pub problems: Vec<Problem>,
}

/// A built-in pack as `policyrun packs` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackInfo {
    pub name: String,
    pub rules: Vec<RuleInfo>,
    /// The `[cluster.policy]` settings it reads.
    pub settings: Vec<Described>,
}

/// A rule of a built-in pack, as the loader finds it, with the README's description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    /// How reports and waivers name it: `security.deny_privileged`.
    pub check: String,
    pub name: String,
    /// `deny` (a message fails the gate) or `warn`.
    pub kind: &'static str,
    /// `<built-in>/security/security.rego:107`.
    pub location: String,
    /// `None` when the README does not describe it (a test sees that none is).
    pub description: Option<String>,
}

/// Every built-in pack with the rules the loader finds in it (the same rules a repository
/// that selects it runs) and the settings it reads; `Err` when the embedded modules do not
/// load, which the tests of policyrun rule out.
pub fn catalogue() -> Result<Vec<PackInfo>, NotLoaded> {
    let all: Vec<String> = names().iter().map(|n| (*n).to_owned()).collect();
    let settings = Settings {
        packs: all.clone(),
        namespaces: Vec::new(),
        ..Settings::default()
    };
    let loaded = load::load(Path::new(""), &settings, load::Purpose::Judge)
        .map_err(|problems| NotLoaded { problems })?;
    let rules = rule_descriptions();
    let settings = setting_descriptions();
    Ok(all
        .iter()
        .map(|pack| {
            let in_pack = |file: &Path| file.starts_with(Path::new(PREFIX).join(pack));
            PackInfo {
                name: pack.clone(),
                rules: loaded
                    .packages
                    .iter()
                    .flat_map(|p| &p.rules)
                    .filter(|r| in_pack(&r.file))
                    .map(|rule| RuleInfo {
                        check: rule.check.to_string(),
                        name: rule.name.clone(),
                        kind: match rule.kind {
                            RuleKind::Deny => "deny",
                            RuleKind::Warn => "warn",
                        },
                        location: format!("{}:{}", rule.file.display(), rule.line),
                        description: rules
                            .iter()
                            .find(|d| d.pack == *pack && d.name == rule.name)
                            .map(|d| d.text.clone()),
                    })
                    .collect(),
                settings: settings
                    .iter()
                    .filter(|s| s.pack == *pack)
                    .cloned()
                    .collect(),
            }
        })
        .collect())
}

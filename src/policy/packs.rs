//! The rule packs built into policyrun (issue 27): the modules of `policies/namespace`,
//! `policies/security` and `policies/cluster` with the shared `policies/lib`, embedded at build
//! time, so that a repository selects them with `[policy] packs = [...]` instead of copying
//! them out of policyrun's sources. What each rule checks and which `[cluster.policy]`
//! settings a pack reads are read from the packs' README, the one place they are written.

use std::collections::BTreeSet;

use serde::Serialize;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_packs.rs"));
}

/// The pack every other pack needs: its helpers come with any selection.
pub const SHARED: &str = "lib";

/// How reports name a built-in module's file: `<built-in>/security/security.rego`.
pub const PREFIX: &str = "<built-in>";

/// One embedded module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltinModule {
    /// The pack (its directory below `policies/`).
    pub pack: &'static str,
    /// The path below `policies/` (`security/security.rego`).
    pub path: &'static str,
    pub text: &'static str,
}

impl BuiltinModule {
    /// The file name reports show: `<built-in>/security/security.rego`.
    pub fn shown(&self) -> String {
        format!("{PREFIX}/{}", self.path)
    }
}

fn all_modules() -> impl Iterator<Item = BuiltinModule> {
    embedded::MODULES.iter().map(|(path, text)| BuiltinModule {
        pack: path.split_once('/').map_or(*path, |(pack, _)| pack),
        path,
        text,
    })
}

/// The packs a repository can select, sorted (the shared helpers are not one).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = all_modules()
        .map(|m| m.pack)
        .filter(|p| *p != SHARED)
        .collect();
    names.dedup();
    names
}
/// `policy.packs` names a pack that is not built in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "policy.packs[{index}]: no built-in pack `{name}`; the built-in packs are {known} (see `policyrun packs`)"
)]
pub struct UnknownPack {
    pub index: usize,
    pub name: String,
    /// The built-in packs, comma-separated.
    pub known: String,
}

/// `selected` as `[policy] packs` names them: `Err` names the first unknown one and the
/// packs there are.
pub fn check_names(selected: &[String]) -> Result<(), UnknownPack> {
    let known = names();
    for (index, name) in selected.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(UnknownPack {
                index,
                name: name.clone(),
                known: known.join(", "),
            });
        }
    }
    Ok(())
}

/// The modules of the `selected` packs and, when any is selected, the shared helpers.
pub fn modules(selected: &[String]) -> Vec<BuiltinModule> {
    if selected.is_empty() {
        return Vec::new();
    }
    all_modules()
        .filter(|m| m.pack == SHARED || selected.iter().any(|s| s == m.pack))
        .collect()
}

/// `package.rule` of every rule of `pack` that reports (`deny*`, `violation*`, `warn*`),
/// read without evaluating anything: what a change that drops the pack stops checking.
pub fn rule_checks(pack: &str) -> BTreeSet<String> {
    all_modules()
        .filter(|m| m.pack == pack && pack != SHARED)
        .filter_map(|m| super::rego::rules::declared(&m.shown(), m.text).ok())
        .flatten()
        .filter(|check| {
            check
                .rsplit('.')
                .next()
                .is_some_and(|name| super::rego::modules::rule_kind(name).is_some())
        })
        .collect()
}

/// What the packs' README says of a rule or a setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Described {
    pub name: String,
    /// The pack (for a rule: the section it is listed in; for a setting: its `pack` column).
    pub pack: String,
    #[serde(rename = "description")]
    pub text: String,
}

/// The rules listed in the README's `## Rules` section, each under the pack whose heading
/// (a line starting with the pack's name in backquotes) comes before it.
pub fn rule_descriptions() -> Vec<Described> {
    let mut found: Vec<Described> = Vec::new();
    let mut pack: Option<String> = None;
    for line in section(embedded::README, "## Rules") {
        if let Some(item) = line.strip_prefix("- ") {
            if let (Some(pack), Some((name, rest))) = (&pack, quoted_head(item)) {
                found.push(Described {
                    name,
                    pack: pack.clone(),
                    text: plain(rest.trim_start_matches(':').trim()),
                });
            }
        } else if line.starts_with("  ") && !line.trim().is_empty() {
            // A list item continued on the next line.
            if let Some(last) = found.last_mut() {
                last.text.push(' ');
                last.text.push_str(&plain(line.trim()));
            }
        } else if let Some((name, _)) = quoted_head(line) {
            pack = Some(name);
        }
    }
    found
}

/// The `[cluster.policy]` settings of the README's table of cluster parameters: name, pack
/// and what it does (its values and default).
pub fn setting_descriptions() -> Vec<Described> {
    let mut found = Vec::new();
    for line in section(embedded::README, "## Context") {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if let [name, pack, text] = cells.as_slice()
            && let (Some((name, "")), Some((pack, ""))) = (quoted_head(name), quoted_head(pack))
        {
            found.push(Described {
                name,
                pack,
                text: plain(text),
            });
        }
    }
    found
}

/// The lines of a `## ` section of `text`, up to the next one.
fn section<'t>(text: &'t str, heading: &str) -> impl Iterator<Item = &'t str> {
    text.lines()
        .skip_while(move |l| l.trim_end() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
}

/// "`name` rest" -> ("name", " rest").
fn quoted_head(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix('`')?;
    let (name, rest) = rest.split_once('`')?;
    Some((name.to_owned(), rest))
}

/// Markdown's code quotes dropped: the text is printed on a terminal.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::catalogue::catalogue;

    #[test]
    fn the_shared_helpers_come_with_any_pack_and_no_tests_are_embedded() {
        assert_eq!(names(), ["cluster", "namespace", "security"]);
        assert!(modules(&[]).is_empty());
        let security: Vec<&str> = modules(&["security".to_owned()])
            .iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(security, ["lib/kubernetes.rego", "security/security.rego"]);
        assert!(all_modules().all(|m| !m.path.ends_with("_test.rego")));
        assert_eq!(
            modules(&["security".to_owned()])[1].shown(),
            "<built-in>/security/security.rego"
        );
    }

    /// The README is where `policyrun packs` reads descriptions from: every rule and every
    /// setting of every pack is described there, and nothing that is not one.
    #[test]
    fn every_rule_and_setting_of_the_packs_is_described_and_nothing_else() {
        let catalogue = catalogue().unwrap();
        let mut listed = Vec::new();
        for pack in &catalogue {
            assert!(!pack.rules.is_empty(), "{}", pack.name);
            for rule in &pack.rules {
                assert!(
                    rule.description.is_some(),
                    "{} is not described in policies/README.md",
                    rule.check
                );
                listed.push((pack.name.clone(), rule.name.clone()));
            }
        }
        let mut described: Vec<(String, String)> = rule_descriptions()
            .into_iter()
            .map(|d| (d.pack, d.name))
            .collect();
        listed.sort();
        described.sort();
        assert_eq!(listed, described, "README rules that are no pack's rule");

        // Every `data.policyrun.cluster.policy.<name>` a module reads is a described setting.
        let mut read: Vec<String> = Vec::new();
        for module in all_modules() {
            let mut text = module.text;
            while let Some(at) = text.find("cluster.policy.") {
                text = &text[at + "cluster.policy.".len()..];
                let name: String = text
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                read.push(name);
            }
        }
        read.sort();
        read.dedup();
        let mut settings: Vec<String> = setting_descriptions()
            .into_iter()
            .map(|d| {
                assert!(names().contains(&d.pack.as_str()), "{d:?}");
                d.name
            })
            .collect();
        settings.sort();
        assert_eq!(read, settings);
    }

    #[test]
    fn unknown_pack_names_list_the_known_ones() {
        assert!(check_names(&["security".to_owned()]).is_ok());
        let err = check_names(&["security".to_owned(), "nope".to_owned()]).unwrap_err();
        assert_eq!((err.index, err.name.as_str()), (1, "nope"));
        assert_eq!(err.known, names().join(", "));
        assert!(err.known.contains("cluster, namespace, security"), "{err}");
    }
}

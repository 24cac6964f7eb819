//! The rules a Rego module declares, by name, for saying what a change to a policy file does
//! ("removes rule security.deny_privileged") without evaluating anything.

use std::collections::BTreeSet;

use regorus::Engine;
use regorus::unstable::{Parser, Rule as AstRule, RuleHead};

/// Text that parses as neither Rego v1 nor v0: regorus' message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct NotRego {
    pub message: String,
}

/// `package.rule` of every rule and function `text` defines (read as Rego v1, else v0), or
/// why it does not parse.
pub fn declared(name: &str, text: &str) -> Result<BTreeSet<String>, NotRego> {
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    if engine.add_policy(name.to_owned(), text.to_owned()).is_err() {
        engine = Engine::new();
        engine.set_rego_v0(true);
        engine
            .add_policy(name.to_owned(), text.to_owned())
            .map_err(|e| NotRego {
                message: super::problem::engine_error(&e.to_string()).0,
            })?;
    }
    let modules = engine.get_modules().clone();
    let mut found = BTreeSet::new();
    for module in modules.iter() {
        let package = super::modules::package_path(module).join(".");
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                AstRule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => refr,
                },
                AstRule::Default { refr, .. } => refr,
            };
            if let Ok(parts) = Parser::get_path_ref_components(refr) {
                let path: Vec<String> = parts
                    .iter()
                    .map(|p| super::modules::unquote(p.text()))
                    .collect();
                found.insert(format!("{package}.{}", path.join(".")));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_of_either_syntax_by_name() {
        let v1 = "package security\nimport rego.v1\ndeny_privileged contains \"x\" if input.p\nhelper(x) := x\n";
        assert_eq!(
            declared("a.rego", v1).unwrap(),
            BTreeSet::from([
                "security.deny_privileged".to_owned(),
                "security.helper".to_owned()
            ])
        );
        let v0 = "package main\ndeny[msg] { msg := \"x\" }\n";
        assert_eq!(
            declared("b.rego", v0).unwrap(),
            BTreeSet::from(["main.deny".to_owned()])
        );
        assert!(declared("c.rego", "package\n").is_err());
    }
}

//! Secret values never reach a report from the policy stage either: a policy (ours or one
//! from a pull request) may well put `input.data.password` into a message, so every message
//! about a Secret is cleaned of its values, as committed (base64) and decoded.

use crate::model::object::Target;
use crate::model::outcome::Outcome;
use crate::model::secrets;

/// Replaces every value of the target's Secrets (the target itself, or nested in it) in the
/// outcomes' messages (the one line and each finding on its own) and details.
pub fn secret_values(target: &Target, outcomes: &mut [Outcome]) {
    hide_values(&secrets::value_strings(target.value()), outcomes);
}

/// Replaces each of `values` (from [`secrets::value_strings`]) in the outcomes' messages and
/// details.
pub fn hide_values(values: &[String], outcomes: &mut [Outcome]) {
    if values.is_empty() {
        return;
    }
    for outcome in outcomes {
        outcome.message = secrets::hide(&outcome.message, values);
        for message in &mut outcome.messages {
            *message = secrets::hide(message, values);
        }
        if let Some(detail) = &outcome.detail {
            outcome.detail = Some(secrets::hide(detail, values));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Location;
    use crate::model::outcome::{ObjectId, Stage, Status};
    use crate::model::value::ObjectValue;
    use serde_json::json;

    fn target_of<'a>(id: &'a ObjectId, value: &'a ObjectValue) -> Target<'a> {
        Target {
            subject: id.display_name(),
            cluster: Some("dev"),
            entry: None,
            id,
            value,
            location: Location::file("generated/dev/db/secret.json"),
            source: None,
            content: None,
        }
    }

    fn id(kind: &str) -> ObjectId {
        ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/db.jsonnet".into(),
            item: None,
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("db".into()),
            name: "db".into(),
        }
    }

    #[test]
    fn committed_and_decoded_values_are_hidden() {
        // "aHVudGVyMg==" is base64 for "hunter2".
        let value = ObjectValue::parsed(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "s3cr3t-token"}}),
        );
        let id = id("Secret");
        let mut outcomes = vec![
            Outcome::new(Stage::Policy, "main.deny", Status::Failed)
                .message("password hunter2 (aHVudGVyMg==) and s3cr3t-token")
                .detail("token in base64: czNjcjN0LXRva2Vu"),
        ];
        secret_values(&target_of(&id, &value), &mut outcomes);
        assert_eq!(
            outcomes[0].message,
            "password <hidden> (<hidden>) and <hidden>"
        );
        assert_eq!(
            outcomes[0].detail.as_deref(),
            Some("token in base64: <hidden>")
        );
    }

    #[test]
    fn every_message_of_several_is_cleaned() {
        let value = ObjectValue::parsed(
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}}),
        );
        let id = id("Secret");
        let mut outcomes = vec![
            Outcome::new(Stage::Policy, "main.deny", Status::Failed).messages(vec![
                "first hunter2".into(),
                "second aHVudGVyMg==".into(),
                "third is clean".into(),
            ]),
        ];
        secret_values(&target_of(&id, &value), &mut outcomes);
        assert_eq!(
            outcomes[0].messages,
            ["first <hidden>", "second <hidden>", "third is clean"]
        );
        assert_eq!(
            outcomes[0].message,
            "first <hidden>; second <hidden>; third is clean"
        );
        assert!(outcomes[0].itemized().is_some());
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let value = ObjectValue::parsed(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"},
            "data": {"password": "hunter2"}}),
        );
        let id = id("ConfigMap");
        let mut outcomes =
            vec![Outcome::new(Stage::Policy, "main.deny", Status::Failed).message("hunter2")];
        secret_values(&target_of(&id, &value), &mut outcomes);
        assert_eq!(outcomes[0].message, "hunter2");
    }
}

//! Waivers: a named rule switched off for chosen objects, with a reason, an owner and an
//! expiry date, so that every exception to a policy is visible, owned and temporary. They
//! come from waiver files (`[policy] waivers`) and from the `policyrun.io/waivers`
//! annotation of an object itself.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;

use crate::model::object::Target;
use crate::model::outcome::{Location, Outcome, Stage, Status};

/// Check name for problems with waivers themselves (expired, unused, malformed).
pub const WAIVER: &str = "waiver";

/// The annotation holding an object's own waivers: a JSON list of
/// `{"rule", "reason", "owner", "expires"}` objects.
pub const ANNOTATION: &str = "policyrun.io/waivers";

/// Text that is not a real date in the form `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a date in the form YYYY-MM-DD")]
pub struct NotADate {
    pub text: String,
}

/// A calendar date (UTC), compared as (year, month, day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `YYYY-MM-DD`, a real date.
    pub fn parse(text: &str) -> Result<Date, NotADate> {
        let bad = || NotADate {
            text: text.to_owned(),
        };
        let mut parts = text.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if day == 0 || day > days_in_month {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_days((seconds / 86_400) as i64)
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One waiver: the rule (`package.rule`, or a Gatekeeper `Kind/name`), who owns the
/// exception and until when, and (in files) which objects it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiver {
    pub rule: String,
    pub reason: String,
    pub owner: String,
    /// The last day the waiver holds.
    pub expires: Date,
    pub cluster: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Where it was written: the waiver file (or the object).
    pub origin: Location,
    /// How reports name a file waiver (`policies/waivers.yaml waiver 3`).
    pub label: String,
}

impl Waiver {
    fn covers(&self, target: &Target, check: &str) -> bool {
        self.rule == check && self.selects(target)
    }

    /// Whether the waiver names this object, whatever the rule.
    fn selects(&self, target: &Target) -> bool {
        fn matches(wanted: &Option<String>, actual: Option<&str>) -> bool {
            wanted.as_deref().is_none_or(|w| Some(w) == actual)
        }
        matches(&self.cluster, target.cluster)
            && matches(&self.kind, Some(&target.id.kind))
            && matches(&self.namespace, target.id.namespace.as_deref())
            && matches(&self.name, Some(&target.id.name))
    }

    fn is_expired(&self, today: Date) -> bool {
        self.expires < today
    }

    /// Turns a failing or warning result into what the waiver makes of it: skipped with
    /// the reason, or, past its expiry, a failure that says so.
    fn apply(&self, problem: Outcome, today: Date) -> Outcome {
        if self.is_expired(today) {
            let message = format!(
                "waiver expired on {} (owner {}, {}): {}",
                self.expires, self.owner, self.label, problem.message
            );
            Outcome {
                status: Status::Failed,
                ..problem
            }
            .message(message)
        } else {
            let original = problem.message.clone();
            Outcome {
                status: Status::Skipped,
                ..problem
            }
            .message(format!(
                "waived until {} by {}: {}",
                self.expires, self.owner, self.reason
            ))
            .detail(format!("waived result: {original}\nwaiver: {}", self.label))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    rule: String,
    reason: String,
    owner: String,
    expires: String,
    cluster: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

impl RawWaiver {
    fn check(self, origin: Location) -> Result<Waiver, String> {
        for (field, value) in [
            ("rule", &self.rule),
            ("reason", &self.reason),
            ("owner", &self.owner),
        ] {
            if value.trim().is_empty() {
                return Err(format!("`{field}` must not be empty"));
            }
        }
        Ok(Waiver {
            expires: Date::parse(&self.expires).map_err(|e| format!("expires: {e}"))?,
            rule: self.rule,
            reason: self.reason,
            owner: self.owner,
            cluster: self.cluster,
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            label: origin.to_string(),
            origin,
        })
    }
}

/// The waivers of every configured file.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub entries: Vec<Waiver>,
}

impl Waivers {
    /// Whether some file waiver names this object (for whichever rule).
    pub fn may_cover(&self, target: &Target) -> bool {
        self.entries.iter().any(|w| w.selects(target))
    }

    /// Reads the waiver files: each a YAML or JSON list of entries. Every entry needs
    /// `rule`, `reason`, `owner` and `expires`; a bad one fails the run.
    pub fn read(root: &Path, files: &[PathBuf]) -> Result<Waivers, Vec<Outcome>> {
        let mut entries = Vec::new();
        let mut problems = Vec::new();
        for file in files {
            let display = file.strip_prefix(root).unwrap_or(file).to_path_buf();
            let fail = |message: String, line: Option<usize>| {
                let location = Location {
                    file: display.clone(),
                    line,
                    column: None,
                };
                Outcome::new(Stage::Policy, WAIVER, Status::Error)
                    .subject(location.to_string())
                    .message(message)
                    .location(location)
            };
            let list = match read_list(file) {
                Ok(list) => list,
                Err(problem) => {
                    problems.push(fail(problem, None));
                    continue;
                }
            };
            for (i, entry) in list.into_iter().enumerate() {
                let origin = Location::file(display.clone());
                let at = format!("waiver {} (`{}`)", i + 1, rule_of(&entry));
                match serde_json::from_value::<RawWaiver>(entry)
                    .map_err(|e| e.to_string())
                    .and_then(|raw| raw.check(origin))
                {
                    Ok(mut waiver) => {
                        waiver.label = format!("{} waiver {}", display.display(), i + 1);
                        entries.push(waiver);
                    }
                    Err(problem) => problems.push(fail(format!("{at}: {problem}"), None)),
                }
            }
        }
        if problems.is_empty() {
            Ok(Waivers { entries })
        } else {
            Err(problems)
        }
    }
}

/// A waiver file: one YAML (or JSON) document holding a list; empty means no waivers.
fn read_list(file: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let json = file.extension().and_then(|e| e.to_str()) == Some("json");
    let value: Value = if json {
        serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}"))?
    } else if text.trim().is_empty() {
        Value::Null
    } else {
        crate::model::yaml::parse_document(&text)
            .map_err(|p| format!("not valid YAML: line {}: {}", p.line, p.message))?
    };
    match value {
        Value::Array(list) => Ok(list),
        Value::Null => Ok(Vec::new()),
        _ => Err("a waiver file holds a list of waivers".into()),
    }
}

fn rule_of(entry: &Value) -> &str {
    entry.get("rule").and_then(Value::as_str).unwrap_or("?")
}

/// The waivers in an object's `policyrun.io/waivers` annotation (empty without one).
pub(crate) fn from_annotations(target: &Target) -> Result<Vec<Waiver>, String> {
    // Most objects carry no waiver: their values need not be built to know.
    if !target.may_spell("waivers") {
        return Ok(Vec::new());
    }
    let Some(text) = target
        .value()
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
    else {
        return Ok(Vec::new());
    };
    let Some(text) = text.as_str() else {
        return Err(format!("annotation {ANNOTATION} must be a string"));
    };
    let list: Vec<Value> = serde_json::from_str(text)
        .map_err(|e| format!("annotation {ANNOTATION} is not a JSON list of waivers: {e}"))?;
    list.into_iter()
        .map(|entry| {
            let rule = rule_of(&entry).to_owned();
            serde_json::from_value::<RawWaiver>(entry)
                .map_err(|e| e.to_string())
                .and_then(|raw| raw.check(target.location.clone()))
                .map(|mut waiver| {
                    waiver.label = format!("annotation {ANNOTATION} of the object");
                    waiver
                })
                .map_err(|e| format!("annotation {ANNOTATION}, waiver for `{rule}`: {e}"))
        })
        .collect()
}

/// Applies waivers to the results about one object: a failing or warning result that a
/// waiver covers becomes skipped (or, past expiry, a failure saying so). Errors are never
/// waived: a policy that cannot run is not an exception anyone can own. Returns the
/// outcomes and the indices of the file waivers that waived something.
pub fn apply(
    waivers: &Waivers,
    results: Vec<Outcome>,
    target: &Target,
    today: Date,
) -> (Vec<Outcome>, Vec<usize>) {
    let annotated = match from_annotations(target) {
        Ok(annotated) => annotated,
        Err(problem) => {
            let mut outcomes = results;
            outcomes.push(
                super::outcomes::policy_outcome(target, WAIVER, Status::Failed).message(problem),
            );
            return (outcomes, Vec::new());
        }
    };
    let mut used_annotations = vec![false; annotated.len()];
    let mut used_files = Vec::new();
    let mut outcomes: Vec<Outcome> = results
        .into_iter()
        .map(|outcome| {
            if !matches!(outcome.status, Status::Failed | Status::Warning) {
                return outcome;
            }
            if let Some(i) = annotated
                .iter()
                .position(|w| w.covers(target, &outcome.check))
            {
                used_annotations[i] = true;
                return annotated[i].apply(outcome, today);
            }
            if let Some(i) = waivers
                .entries
                .iter()
                .position(|w| w.covers(target, &outcome.check))
            {
                used_files.push(i);
                return waivers.entries[i].apply(outcome, today);
            }
            outcome
        })
        .collect();
    for (waiver, used) in annotated.iter().zip(used_annotations) {
        if waiver.is_expired(today) && !used {
            outcomes.push(
                super::outcomes::policy_outcome(target, WAIVER, Status::Failed).message(format!(
                    "waiver for `{}` (owner {}) expired on {}: remove it from annotation {ANNOTATION}",
                    waiver.rule, waiver.owner, waiver.expires
                )),
            );
        } else if !used {
            outcomes.push(
                super::outcomes::policy_outcome(target, WAIVER, Status::Warning).message(format!(
                    "waiver for `{}` (owner {}) waives nothing: the rule does not fail for this object",
                    waiver.rule, waiver.owner
                )),
            );
        }
    }
    (outcomes, used_files)
}

/// Which file waivers were used anywhere in the run.
pub struct Usage {
    used: Vec<bool>,
}

impl Usage {
    pub fn new(waivers: &Waivers) -> Usage {
        Usage {
            used: vec![false; waivers.entries.len()],
        }
    }

    pub fn mark(&mut self, used: impl IntoIterator<Item = usize>) {
        for i in used {
            if let Some(slot) = self.used.get_mut(i) {
                *slot = true;
            }
        }
    }

    /// An expired file waiver fails the run whether or not it still matches (it must be
    /// renewed or removed); one that waived nothing is a warning, when `usage_known`.
    pub fn report(&self, waivers: &Waivers, today: Date, usage_known: bool) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for (waiver, used) in waivers.entries.iter().zip(&self.used) {
            let subject = format!("{} {}", waiver.label, waiver.rule);
            let base = |status| {
                Outcome::new(Stage::Policy, WAIVER, status)
                    .subject(subject.clone())
                    .location(waiver.origin.clone())
            };
            if waiver.is_expired(today) {
                outcomes.push(base(Status::Failed).message(format!(
                    "waiver for `{}` (owner {}) expired on {}: renew or remove it",
                    waiver.rule, waiver.owner, waiver.expires
                )));
            } else if !used && usage_known {
                outcomes.push(base(Status::Warning).message(format!(
                    "waiver for `{}` (owner {}) matches no failing result",
                    waiver.rule, waiver.owner
                )));
            }
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object::Source;
    use crate::model::outcome::{Location, ObjectId};
    use crate::model::value::ObjectValue;

    /// The waivers of an object that is a whole generated file of `text`, and whether its
    /// value had to be parsed to find them.
    fn annotated(text: &str) -> (Vec<String>, bool) {
        let id = ObjectId {
            cluster: "dev".into(),
            entry: "clusters/dev/app.jsonnet".into(),
            item: None,
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: None,
            name: "x".into(),
        };
        let value = ObjectValue::in_text(text.into());
        let target = Target {
            subject: "x".into(),
            cluster: Some("dev"),
            entry: None,
            id: &id,
            value: &value,
            location: Location::file("generated/dev/app/x.json"),
            source: Some(Source { text, pointer: "" }),
            content: None,
        };
        let rules = from_annotations(&target)
            .unwrap()
            .into_iter()
            .map(|w| w.rule)
            .collect();
        (rules, value.is_parsed())
    }

    #[test]
    fn an_annotation_is_looked_for_in_the_text_before_the_value() {
        let waiver = r#"[{\"rule\": \"a.deny\", \"reason\": \"r\", \"owner\": \"o\", \"expires\": \"2999-01-01\"}]"#;
        let plain =
            format!(r#"{{"metadata": {{"annotations": {{"policyrun.io/waivers": "{waiver}"}}}}}}"#);
        assert_eq!(annotated(&plain), (vec!["a.deny".to_owned()], true));
        // JSON may escape the slash, or any letter: the text rules nothing out then.
        let slash = plain.replace("io/waivers", "io\\/waivers");
        assert_eq!(annotated(&slash), (vec!["a.deny".to_owned()], true));
        let letter = plain.replace("waivers", "\\u0077aivers");
        assert_eq!(annotated(&letter), (vec!["a.deny".to_owned()], true));
        // Without the word, the value is not built to know there is no waiver.
        let none = r#"{"metadata": {"annotations": {"note": "x"}}}"#;
        assert_eq!(annotated(none), (Vec::new(), false));
    }

    #[test]
    fn an_unused_waiver_is_reported_only_when_every_object_was_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("waivers.yaml");
        std::fs::write(
            &file,
            "- rule: a.deny\n  reason: r\n  owner: o\n  expires: 2099-01-01\n\
             - rule: b.deny\n  reason: r\n  owner: o\n  expires: 2000-01-01\n",
        )
        .unwrap();
        let waivers = Waivers::read(dir.path(), &[file]).unwrap();
        let usage = Usage::new(&waivers);
        let today = Date::parse("2026-11-29").unwrap();
        let statuses = |known| -> Vec<Status> {
            usage
                .report(&waivers, today, known)
                .iter()
                .map(|o| o.status)
                .collect()
        };
        assert_eq!(statuses(true), [Status::Warning, Status::Failed]);
        // `--changed-since` left objects out: unused is unknown, expired is still expired.
        assert_eq!(statuses(false), [Status::Failed]);
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(
            Date::parse("2027-02-28").unwrap(),
            Date {
                year: 2027,
                month: 2,
                day: 28
            }
        );
        assert!(Date::parse("2027-02-29").is_err());
        assert!(Date::parse("2028-02-29").is_ok());
        assert!(Date::parse("2027-13-01").is_err());
        assert!(Date::parse("27-01-01").is_err());
        assert!(Date::parse("2027-1-01").is_err());
        assert!(Date::parse("2027-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn days_become_civil_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::from_days(20_786).to_string(), "2026-11-29");
    }

    #[test]
    fn expiry_day_is_still_valid() {
        let waiver_until = Date::parse("2026-11-29").unwrap();
        assert!(waiver_until >= Date::parse("2026-11-29").unwrap());
        assert!(waiver_until < Date::parse("2026-11-30").unwrap());
    }
}

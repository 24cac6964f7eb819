//! A source that does not parse is seen twice in one gate, by the expansion (jrsonnet's
//! parser) and by the style stage (libjsonnet's, the C++ `jsonnet` tool's): it is reported
//! once, by the expansion, in the C++ tool's words and place, which users compare with what
//! `jsonnet` says.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::model::outcome::{Location, Outcome, Stage, Status};
use crate::style::UNPARSABLE;

/// Gives each expansion error that is a syntax error in a file the style stage could not
/// parse either the style stage's message and location, and drops the style stage's report
/// of that file.
pub(crate) fn report_once(expansion: &mut [Outcome], style: &mut Vec<Outcome>) {
    let unparsable: HashMap<PathBuf, (String, Location)> = style
        .iter()
        .filter_map(|o| {
            let reason = o.message.strip_prefix(UNPARSABLE)?;
            let location = o.location.clone()?;
            let reason = without_position(reason, &location.file);
            Some((location.file.clone(), (reason, location)))
        })
        .collect();
    let mut said = HashSet::new();
    for outcome in expansion.iter_mut().filter(|o| {
        o.stage == Stage::Expand
            && o.status == Status::Error
            && o.message.starts_with("syntax error")
    }) {
        let Some(file) = outcome.location.as_ref().map(|l| l.file.clone()) else {
            continue;
        };
        let Some((reason, location)) = unparsable.get(&file) else {
            continue;
        };
        outcome.message = format!("syntax error: {reason}");
        outcome.location = Some(location.clone());
        // jrsonnet's stack of a parse error only repeats its own position in the file;
        // through an import, it shows the way there, which the C++ message lacks.
        if outcome.entry.as_ref() == Some(&file) {
            outcome.detail = None;
        }
        said.insert(file);
    }
    style.retain(|o| {
        !(o.message.starts_with(UNPARSABLE)
            && o.location.as_ref().is_some_and(|l| said.contains(&l.file)))
    });
}

/// libjsonnet's message without the `file:L:C: ` (or `file:L:C-C2: `, `file:(L:C)-(L:C): `)
/// it starts with: the location is the outcome's own.
fn without_position(message: &str, file: &std::path::Path) -> String {
    let file = file.to_string_lossy();
    message
        .strip_prefix(file.as_ref())
        .and_then(|rest| rest.split_once(": "))
        .map_or_else(|| message.to_owned(), |(_, reason)| reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_error(entry: &str, file: &str, line: usize) -> Outcome {
        Outcome::new(Stage::Expand, "evaluate", Status::Error)
            .entry(PathBuf::from(entry))
            .message("syntax error: expected '}', got end of file")
            .detail(format!("{file}:{line}:2"))
            .location(Location {
                file: PathBuf::from(file),
                line: Some(line),
                column: Some(2),
            })
    }

    fn style_error(file: &str) -> Outcome {
        Outcome::new(Stage::Style, "formatted", Status::Error)
            .message(format!(
                "{UNPARSABLE}{file}:11:1: expected a comma before next field."
            ))
            .location(Location {
                file: PathBuf::from(file),
                line: Some(11),
                column: Some(1),
            })
    }

    #[test]
    fn a_syntax_error_is_said_once_in_the_cpp_parsers_words_and_place() {
        let mut expansion = vec![
            expand_error("clusters/dev/app.jsonnet", "clusters/dev/app.jsonnet", 10),
            // Two entries import a broken library: each fails, the import shown.
            expand_error("clusters/dev/a.jsonnet", "lib/k.libsonnet", 3),
            expand_error("clusters/int/a.jsonnet", "lib/k.libsonnet", 3),
        ];
        let mut style = vec![
            style_error("clusters/dev/app.jsonnet"),
            style_error("lib/k.libsonnet"),
            // Parsed by jrsonnet or never expanded: the style stage's report stays.
            style_error("lib/unused.libsonnet"),
        ];
        report_once(&mut expansion, &mut style);
        for outcome in &expansion {
            assert_eq!(
                outcome.message,
                "syntax error: expected a comma before next field."
            );
            assert_eq!(outcome.location.as_ref().unwrap().line, Some(11));
        }
        assert_eq!(expansion[0].detail, None);
        assert!(expansion[1].detail.is_some());
        assert_eq!(style.len(), 1);
        assert_eq!(
            style[0].location.as_ref().unwrap().file,
            PathBuf::from("lib/unused.libsonnet")
        );
    }
}

//! What the analyses of the Rego modules (loading, safety) say is wrong with them, in one
//! place below both, so that neither imports the other's vocabulary.

use std::path::{Path, PathBuf};

/// Something wrong with the policies themselves, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Repository-relative file.
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// The engine's full text (source excerpt), when it has more to say.
    pub detail: Option<String>,
}

/// Splits regorus' error text (`--> file:line:col`, an excerpt, `error: message`) into the
/// message and the position; the full text stays available as detail.
pub fn engine_error(text: &str) -> (String, (usize, usize)) {
    let mut position = (0, 0);
    let mut message = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(place) = line.strip_prefix("--> ") {
            let mut parts = place.rsplitn(3, ':');
            let column = parts.next().and_then(|c| c.parse().ok());
            let row = parts.next().and_then(|r| r.parse().ok());
            if let (Some(row), Some(column)) = (row, column) {
                position = (row, column);
            }
        } else if let Some(rest) = line.strip_prefix("error: ") {
            message = Some(rest.to_owned());
        }
    }
    let message = message.unwrap_or_else(|| {
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("policy error")
            .to_owned()
    });
    (message, position)
}

/// A problem from an engine error, placed at its file, line and column.
pub fn error_problem(file: &Path, text: &str) -> Problem {
    let (message, (line, column)) = engine_error(text);
    Problem {
        file: file.to_path_buf(),
        line: (line > 0).then_some(line),
        column: (column > 0).then_some(column),
        message,
        detail: Some(text.trim_matches('\n').to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_errors_are_split() {
        let text = "\n--> policies/a.rego:4:23\n  |\n4 |   x := to_number(input.kind)\n  |                       ^\nerror: could not parse string as number";
        let (message, at) = engine_error(text);
        assert_eq!(message, "could not parse string as number");
        assert_eq!(at, (4, 23));
    }
}

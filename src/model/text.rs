//! Text that came from elsewhere — the repository under review, a parser, a server — made
//! safe and short enough for a terminal or a CI log, and the one shape every diff takes.

/// Text from the repository under review, made safe for a terminal or a CI log: control
/// characters (an escape sequence in a jsonnet `error` or `std.trace`) are shown escaped
/// instead of driving the reader's terminal. Tabs stay.
pub(crate) fn visible(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// At most `limit` characters of words that came from elsewhere (a parser quoting a file, a
/// server's error), trimmed and made [`visible`], with `…` where they were cut.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    let shown = visible(text.trim());
    if shown.chars().count() <= limit {
        return shown;
    }
    shown.chars().take(limit).collect::<String>() + "…"
}

/// A unified diff from `old` to `new` under the given header names; every report shows
/// diffs in this one shape (the style stage's too).
pub(crate) fn labelled_diff(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    diff.unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

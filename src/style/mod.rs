//! The style stage: every jsonnet source of the repository must be in the canonical form of
//! the reference formatter (`jsonnetfmt`, C++ libjsonnet) with the `[style]` options, so that
//! reviews are about what a change does, not about its layout.

pub mod libjsonnet;

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

/// How string literals are quoted (jsonnetfmt's `--string-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StringStyle {
    /// `'…'` where the string holds no `'` (jsonnetfmt's default).
    Single,
    Double,
    Leave,
}

/// How line comments are written (jsonnetfmt's `--comment-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentStyle {
    Hash,
    /// `//` (jsonnetfmt's default).
    Slash,
    Leave,
}

/// The formatter's options; the defaults are jsonnetfmt's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// Spaces per level; 0 leaves indentation alone.
    pub indent: u32,
    /// Blank lines kept in a row; 0 leaves vertical spacing alone.
    pub max_blank_lines: u32,
    pub string_style: StringStyle,
    pub comment_style: CommentStyle,
    /// `[ 1, 2 ]` instead of `[1, 2]`.
    pub pad_arrays: bool,
    /// `{ a: 1 }` instead of `{a: 1}`.
    pub pad_objects: bool,
    /// `a: 1` instead of `'a': 1`, `x.a` instead of `x['a']`, where the name allows.
    pub pretty_field_names: bool,
    /// Top-level `local x = import '…'` lines in alphabetical order.
    pub sort_imports: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            indent: 2,
            max_blank_lines: 2,
            string_style: StringStyle::Single,
            comment_style: CommentStyle::Slash,
            pad_arrays: false,
            pad_objects: true,
            pretty_field_names: true,
            sort_imports: true,
        }
    }
}

/// The `[style]` table, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `check` runs the stage (`fmt` works either way).
    pub enabled: bool,
    pub options: FormatOptions,
    pub exclude: Exclude,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            options: FormatOptions::default(),
            exclude: Exclude::default(),
        }
    }
}

/// Paths the stage leaves alone: globs over repository-relative paths (`/`-separated; `*`
/// stays inside one component, `**` crosses them). A pattern that names a directory
/// excludes everything below it.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Exclude {
    /// `key` names the setting in error messages (`style.exclude`).
    pub fn new(key: &str, patterns: Vec<String>) -> Result<Exclude, String> {
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            if trimmed.is_empty() || trimmed.starts_with('/') || trimmed.contains("..") {
                return Err(format!(
                    "{key}[{i}]: `{pattern}` must be a relative path or glob inside the repository"
                ));
            }
            let glob = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("{key}[{i}]: `{pattern}`: {e}"))?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| format!("{key}: cannot be compiled: {e}"))?;
        Ok(Exclude { patterns, set })
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn matches(&self, relative: &Path) -> bool {
        !self.patterns.is_empty() && self.set.is_match(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_patterns_are_globs_over_relative_paths() {
        let exclude = Exclude::new(
            "style.exclude",
            vec![
                "vendor".into(),
                "**/*_test.jsonnet".into(),
                "lib/gen/*".into(),
            ],
        )
        .unwrap();
        assert!(exclude.matches(Path::new("vendor")));
        assert!(exclude.matches(Path::new("clusters/dev/a_test.jsonnet")));
        assert!(exclude.matches(Path::new("lib/gen/x.libsonnet")));
        assert!(!exclude.matches(Path::new("lib/gen/deep/x.libsonnet")));
        assert!(!exclude.matches(Path::new("lib/kube.libsonnet")));
        for bad in ["../x", "/etc", "", "a/[b"] {
            let err = Exclude::new("style.exclude", vec![bad.into()]).unwrap_err();
            assert!(err.starts_with("style.exclude[0]"), "{bad}: {err}");
        }
    }
}

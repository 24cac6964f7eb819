//! What the analyses of the Rego modules (loading, safety) say is wrong with them, in one
//! place below both, so that neither imports the other's vocabulary.

use std::path::PathBuf;

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

//! git as the pipeline runs it: a local subprocess (no fetch, no network), its standard
//! output as bytes, its error output made safe for a terminal, since revision names and
//! paths in it come from the repository under review.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Why git gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git cannot be started, or waited for.
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// git failed: its error output, trimmed and made safe for a terminal.
    #[error("{0}")]
    Failed(String),
}

/// Runs git in `dir`; its standard output, or its error output on failure.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    run_with_input(dir, args, None)
}

/// As [`run`], with `input` on git's standard input (`cat-file --batch`), written from a
/// thread of its own so that a large answer cannot block the request.
pub(crate) fn run_with_input(
    dir: &Path,
    args: &[&str],
    input: Option<&[u8]>,
) -> Result<Vec<u8>, GitError> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(GitError::Spawn)?;
    let writer = input.zip(child.stdin.take()).map(|(bytes, mut stdin)| {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || stdin.write_all(&bytes))
    });
    let output = child.wait_with_output().map_err(GitError::Spawn)?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(GitError::Failed(crate::model::text::visible(
            String::from_utf8_lossy(&output.stderr).trim(),
        )))
    }
}

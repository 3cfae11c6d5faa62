//! Located problems in the manifests, as the loader reports them.

use std::fmt;

use crate::escape::visible;
use crate::yaml::Pos;

/// A located problem in the manifests: `file:line:col: Kind/name: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub struct Diagnostic {
    pub file: String,
    pub pos: Pos,
    /// `Kind/name`, or what is known of it.
    pub subject: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The file name, the subject and the message can all hold what a manifest wrote.
        write!(
            f,
            "{}:{}: {}: {}",
            visible(&self.file),
            self.pos,
            visible(&self.subject),
            visible(&self.message)
        )
    }
}

impl Diagnostic {
    /// Whether the directory could not be read, as opposed to read and found
    /// invalid: a file refused or over a limit, or a YAML limit (whose messages,
    /// unlike syntax errors, do not start with "syntax error").
    pub fn is_unreadable(&self) -> bool {
        match self.subject.as_str() {
            "file" | "directory" => true,
            "YAML" => !self.message.starts_with("syntax error"),
            _ => false,
        }
    }

    /// The diagnostic as printed by `--output json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file,
            "line": self.pos.line,
            "col": self.pos.col,
            "subject": self.subject,
            "message": self.message,
        })
    }
}

/// Every problem found, so a user can fix them all in one pass.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ValidationErrors(pub Vec<Diagnostic>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

pub(super) fn diag(
    file: &str,
    pos: Pos,
    subject: impl std::fmt::Display,
    message: impl Into<String>,
) -> Diagnostic {
    Diagnostic {
        file: file.to_string(),
        pos,
        subject: subject.to_string(),
        message: message.into(),
    }
}

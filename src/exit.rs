//! Process exit codes, as documented in the README.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Exit {
    /// Success; with `--detailed-exitcode`, also "nothing to change".
    Ok = 0,
    /// An error, including validation errors.
    Error = 1,
    /// Changes are pending (only with `--detailed-exitcode`).
    Changes = 2,
    /// `vigil drift` found drift.
    Drift = 3,
    /// Refused by a safety guard.
    Refused = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

//! The global flags, set once from the command line and read where a command needs them.

use std::sync::OnceLock;
use std::time::Duration;

use vigil::manifest::Settings;

/// `--deadline`, set once from the command line.
static DEADLINE: OnceLock<Option<Duration>> = OnceLock::new();

/// `--target`, set once from the command line: the targets a run is limited to.
static TARGETS: OnceLock<Vec<String>> = OnceLock::new();

/// Records `--deadline` and `--target` for the run.
pub fn set(deadline: Option<Duration>, targets: Vec<String>) {
    let _ = DEADLINE.set(deadline);
    let _ = TARGETS.set(targets);
}

/// The targets `--target` names (all of them when empty).
pub fn targets() -> Vec<String> {
    TARGETS.get().cloned().unwrap_or_default()
}

/// How long calls are retried: `--deadline`, else Settings, else 15 minutes.
pub fn deadline(settings: &Settings) -> Duration {
    vigil::target::deadline(settings, DEADLINE.get().copied().flatten())
}

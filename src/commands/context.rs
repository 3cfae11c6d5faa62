//! What every command runs with, built once in [`super::run`] and passed down:
//! the global flags, validated from the command line ([`Globals`]), and the
//! process's AWS [`Connector`] (the pacer every target's clients share and the
//! base credentials by region).

use std::sync::Arc;
use std::time::Duration;

use vigil::aws::Connector;
use vigil::manifest::Settings;

use crate::cli::Cli;

/// The global flags, read from the command line once.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `--deadline`.
    pub deadline: Option<Duration>,
    /// `--target`: the targets a run is limited to (all of them when empty).
    pub targets: Vec<String>,
}

impl Globals {
    pub fn from_cli(cli: &Cli) -> Globals {
        Globals {
            deadline: cli.deadline,
            targets: cli.targets.clone(),
        }
    }

    /// How long calls are retried: `--deadline`, else Settings, else 15 minutes.
    pub fn deadline(&self, settings: &Settings) -> Duration {
        vigil::connect::deadline(settings, self.deadline)
    }
}

/// A command's context: its flags and the connector its targets connect through.
#[derive(Debug)]
pub struct Context {
    pub globals: Globals,
    /// One per process: shared with `vigil run`'s controller, which keeps it.
    pub connector: Arc<Connector>,
}

impl Context {
    pub fn new(globals: Globals) -> Context {
        Context {
            globals,
            connector: Arc::new(Connector::new()),
        }
    }
}

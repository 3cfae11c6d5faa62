//! Command-line arguments (clap derive). Turned into validated options in `commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "vigil", version, about = "GitOps reconciler for AWS monitoring resources")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifests offline: syntax, schema, references. Makes no AWS calls.
    Validate {
        /// The desired-state directory.
        #[arg(default_value = "./desired-state")]
        dir: PathBuf,
        /// Skip the checks that need AWS (managed policies exist, templates validate).
        #[arg(long)]
        offline: bool,
    },
    /// Plan and apply the changes that make AWS match the directory.
    Reconcile {
        #[arg(default_value = "./desired-state")]
        dir: PathBuf,
        /// Print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// Exit 2 when changes are pending, 0 when there are none.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Limit to these resources (Kind/name); repeatable. Their references are read, not changed.
        #[arg(long, value_name = "KIND/NAME")]
        only: Vec<String>,
        /// Also write the JSON report to this file, whatever --output says.
        #[arg(long, value_name = "FILE")]
        json_report: Option<PathBuf>,
    },
}

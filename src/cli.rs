//! Command-line arguments (clap derive). Turned into validated options in `commands`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "vigil",
    version,
    about = "GitOps reconciler for AWS monitoring resources"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How long throttled and failing AWS calls are retried before the run reports
    /// them: 15m, 90s. Default: Settings.deadline, else 15m.
    #[arg(long, global = true, value_parser = vigil::duration::parse)]
    pub deadline: Option<Duration>,
    /// Only this target: a Target's name (all its regions) or NAME/REGION; repeatable.
    #[arg(long = "target", value_name = "NAME", global = true)]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftOutput {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The state `vigil test-alarm` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlarmStateArg {
    #[value(name = "ALARM")]
    Alarm,
    #[value(name = "OK")]
    Ok,
    #[value(name = "INSUFFICIENT_DATA")]
    InsufficientData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Markdown,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct TestAlarmArgs {
    /// Declared alarm names, then optionally the desired-state directory (the last
    /// argument is the directory when it names one; default ./desired-state).
    #[arg(value_name = "NAME... [DIR]")]
    pub args: Vec<String>,
    /// Test every declared MetricAlarm and CompositeAlarm.
    #[arg(long)]
    pub all: bool,
    /// The state to set.
    #[arg(long, value_enum, ignore_case = true, default_value_t = AlarmStateArg::Alarm)]
    pub state: AlarmStateArg,
    /// How long to keep the tested state before restoring it.
    #[arg(long, default_value = "60s", value_parser = vigil::duration::parse)]
    pub hold: Duration,
    /// Leave the alarms in the tested state.
    #[arg(long)]
    pub no_restore: bool,
    /// Publish breaching datapoints with PutMetricData (custom namespaces only) instead of SetAlarmState.
    #[arg(long)]
    pub via_metric: bool,
    /// How long to wait for the state change to show (default 10s; with --via-metric, the evaluated periods plus 2m).
    #[arg(long, value_parser = vigil::duration::parse)]
    pub timeout: Option<Duration>,
    #[arg(long, value_enum, default_value_t = DriftOutput::Text)]
    pub output: DriftOutput,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(default_value = "./desired-state")]
    pub dir: PathBuf,
    /// The period the report covers, ending now.
    #[arg(long, default_value = "24h", value_parser = vigil::duration::parse)]
    pub since: Duration,
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifests: syntax, schema, references. Offline checks always; with
    /// credentials, also the read-only checks that need AWS.
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
        /// Delete owned resources that left the directory (also Settings.prune).
        #[arg(long)]
        prune: bool,
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
    /// Report drift (AWS changed outside vigil) apart from pending changes (git changed). Exit 3 on drift.
    Drift {
        #[arg(default_value = "./desired-state")]
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = DriftOutput::Text)]
        output: DriftOutput,
    },
    /// Keep AWS equal to the directory: reconcile at start, after every change, and on a timer.
    Run {
        #[arg(default_value = "./desired-state")]
        dir: PathBuf,
        /// Time between full reconciles, which heal drift (plus up to 10% jitter): 5m, 30s, 100ms.
        #[arg(long, default_value = "5m", value_parser = vigil::duration::parse)]
        interval: Duration,
        /// Where to serve /healthz, /readyz, /metrics and /status; port 0 picks a free port.
        #[arg(long, env = "VIGIL_LISTEN", default_value = "127.0.0.1:9464")]
        listen: String,
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// How long the single-writer lease outlives a replica that stopped renewing it.
        #[arg(long, default_value = "30s", value_parser = vigil::duration::parse)]
        lease_duration: Duration,
    },
    /// Write manifests for resources that already exist, so they can be adopted.
    Import {
        /// The directory to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Only these kinds; repeatable.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only resources whose name starts with this.
        #[arg(long)]
        prefix: Option<String>,
        /// A desired-state directory whose Settings import honours (region, owner,
        /// inventory, the `accountId` guard); with --target, the one that declares
        /// the Target (default `./desired-state`).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Delete every resource vigil owns, in reverse dependency order; keeps those with deletion policy retain.
    Destroy {
        #[arg(default_value = "./desired-state")]
        dir: PathBuf,
        /// Print what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fire declared alarms on purpose to test the notification path, then restore them.
    TestAlarm(TestAlarmArgs),
    /// Alarm states, state changes and metric statistics over a period, with drift,
    /// Config rule compliance and pending SNS subscriptions.
    Report(ReportArgs),
    /// Print the JSON Schema of the manifests, generated from the spec types.
    Schema {
        /// Print the schema of `vigil report --format json` instead.
        #[arg(long)]
        report: bool,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

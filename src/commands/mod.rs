//! The subcommands: each turns arguments into options, runs a stage, prints, and picks an exit code.
//! This is the binary's edge: the library returns typed errors, and `anyhow` lives only here.

mod context;
mod fanout;
mod ops;
mod output;
mod progress;

use std::mem::ManuallyDrop;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{Cli, Command, DriftOutput, Output};
use context::{Context, Globals};
use output::{
    chosen, emit, load, load_reporting, missing_directory, print_parts, print_parts_quiet, refused,
    stop,
};
use vigil::aws::{ApiCalls, Aws};
use vigil::connect;
use vigil::engine::{self, Report};
use vigil::exit::Exit;
use vigil::kinds::KindId;
use vigil::manifest::{self, Manifests};
use vigil::ops::reconcile::{self, RunOptions, StartError};
use vigil::ops::{destroy, drift, import, validate};
use vigil::state;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let ctx = &Context::new(Globals::from_cli(&cli));
    match cli.command {
        Command::Validate { dir, offline } => validate(ctx, &dir, offline).await,
        Command::Reconcile {
            dir,
            dry_run,
            prune,
            output,
            detailed_exitcode,
            only,
            json_report,
        } => {
            let opts = RunOptions {
                dry_run,
                only,
                prune,
                ..Default::default()
            };
            reconcile_cmd(
                ctx,
                &dir,
                &opts,
                output,
                detailed_exitcode,
                json_report.as_deref(),
            )
            .await
        }
        Command::Drift { dir, output } => drift_cmd(ctx, &dir, output).await,
        Command::Run {
            dir,
            interval,
            listen,
            log_format: _,
            lease_duration,
        } => match vigil::controller::Config::new(dir, interval, listen, lease_duration) {
            Ok(mut cfg) => {
                cfg.deadline = ctx.globals.deadline;
                cfg.only = ctx.globals.targets.clone();
                cfg.connector = ctx.connector.clone();
                vigil::controller::run(cfg).await?;
                Ok(Exit::Ok)
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                Ok(Exit::Error)
            }
        },
        Command::Import {
            out,
            kinds,
            prefix,
            dir,
        } => import_cmd(ctx, &out, &kinds, prefix, dir.as_deref()).await,
        Command::Destroy { dir, dry_run } => destroy_cmd(ctx, &dir, dry_run).await,
        Command::TestAlarm(args) => ops::test_alarm(ctx, args).await,
        Command::Report(args) => ops::report(ctx, args).await,
        Command::Schema { report } => {
            emit(&vigil::schema::text(report));
            Ok(Exit::Ok)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vigil", &mut script);
            emit(&String::from_utf8_lossy(&script));
            Ok(Exit::Ok)
        }
    }
}

async fn validate(ctx: &Context, dir: &Path, offline: bool) -> anyhow::Result<Exit> {
    if manifest::is_missing(dir) {
        return Ok(missing_directory(dir, false));
    }
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    // Checks that need AWS (IAM GetPolicy, ValidateTemplate) run only with credentials.
    if !offline && Aws::has_credentials(m.settings.region.as_deref()).await {
        let aws = ctx.connector.connect(m.settings.region.as_deref()).await;
        let found = match validate::remote(&aws, &m).await {
            Ok(found) => found,
            Err(validate::RemoteError::Identify(e)) => {
                return Err(
                    anyhow::Error::new(e).context("identifying the account for the account guard")
                );
            }
            Err(validate::RemoteError::Refused(e)) => {
                let calls = aws.calls.snapshot();
                return Ok(stop(calls, false, "refused", &e.to_string(), Exit::Refused));
            }
        };
        if !found.is_empty() {
            for d in &found {
                eprintln!("{d}");
            }
            eprintln!(
                "validation failed: {} error{}",
                found.len(),
                if found.len() == 1 { "" } else { "s" }
            );
            return Ok(Exit::Error);
        }
    }
    println!(
        "{}: {} resource{} valid{}",
        dir.display(),
        m.resources.len(),
        if m.resources.len() == 1 { "" } else { "s" },
        if m.settings_declared {
            ", with Settings"
        } else {
            ""
        }
    );
    Ok(Exit::Ok)
}

/// Connects and applies the account guard; a refusal or an unknown account is printed here.
/// For the commands that act on one target only.
pub async fn connect(
    ctx: &Context,
    m: &Manifests,
    json: bool,
) -> anyhow::Result<Result<Aws, Exit>> {
    let Some(t) = m.targets.first() else {
        return Ok(Err(Exit::Error));
    };
    let deadline = ctx.globals.deadline(&m.settings);
    match connect::connect_target(&ctx.connector, &m.settings, t, deadline).await {
        Ok(aws) => Ok(Ok(aws)),
        Err((aws, e)) if e.is_refusal() => Ok(Err(stop(
            aws.calls.snapshot(),
            json,
            "refused",
            &e.to_string(),
            Exit::Refused,
        ))),
        Err((_, e)) => Err(e.into()),
    }
}

/// Where the inventory lives for this target's manifests and account.
pub fn store(m: &Manifests, aws: &Aws) -> state::Location {
    connect::inventory_location(
        &m.settings,
        &aws.env.account_id,
        &aws.env.region,
        m.targets.first(),
    )
}

/// A start error as the target's stop: printed later, with the other targets.
fn stopped(aws: &Aws, e: StartError) -> fanout::Stopped {
    let calls = aws.calls.snapshot();
    match e {
        StartError::Refused(msg) => {
            fanout::Stopped::new("refused", format!("refused: {msg}"), Exit::Refused, calls)
        }
        other => fanout::Stopped::new("error", format!("error: {other}"), Exit::Error, calls),
    }
}

/// One target's reconcile, as a section of the output.
async fn reconcile_target(
    aws: Aws,
    m: std::borrow::Cow<'_, Manifests>,
    opts: &RunOptions,
    detailed: bool,
    bars: &progress::Bars,
) -> Result<fanout::Section, fanout::Stopped> {
    // The process exits right after this command: the OS reclaims the
    // manifests and the observed account at once, faster than their destructors
    // would (thousands of resources; about 4% of a no-op plan's CPU time).
    let m = ManuallyDrop::new(m);
    let aws = ManuallyDrop::new(aws);
    let mut opts = opts.clone();
    // Several targets: each shows its own progress, named.
    let label = m.targets.first().filter(|t| t.declared).map(|t| t.key());
    let (display, ticker) = progress::Display::start(aws.pace.clone(), label, bars);
    opts.progress = Some(display.clone());
    let result = reconcile::reconcile(&aws, &m, &opts, &store(&m, &aws)).await;
    ticker.abort();
    display.finish();
    let report = result.map_err(|e| stopped(&aws, e))?;
    Ok(reconcile_section(&report, opts.dry_run, detailed))
}

fn reconcile_section(report: &Report, dry_run: bool, detailed: bool) -> fanout::Section {
    fanout::Section {
        text: report.to_text(),
        markdown: report.to_markdown(),
        json: serde_json::to_value(report).expect("report serializes"),
        exit: if report.failed() {
            Exit::Error
        } else if report.refused() {
            Exit::Refused
        } else if detailed && dry_run && report.has_changes() {
            Exit::Changes
        } else {
            Exit::Ok
        },
    }
}

async fn reconcile_cmd(
    ctx: &Context,
    dir: &Path,
    opts: &RunOptions,
    output: Output,
    detailed: bool,
    json_report: Option<&Path>,
) -> anyhow::Result<Exit> {
    let json = output == Output::Json;
    if manifest::is_missing(dir) {
        let prune = engine::plan::prunes(opts.prune, false, &opts.only);
        if let Err(refusal) = engine::plan::guard_missing_directory(dir, prune) {
            return Ok(refused(json, &refusal));
        }
        return Ok(missing_directory(dir, json));
    }
    let Some(m) = load_reporting(dir, json) else {
        return Ok(Exit::Error);
    };
    let m = ManuallyDrop::new(m);
    let prune = engine::plan::prunes(opts.prune, m.settings.prune, &opts.only);
    let start = match engine::plan::start(&m, prune) {
        Ok(start) => start,
        Err(refusal) => return Ok(refused(json, &refusal)),
    };
    let chosen = match chosen(ctx, &m, json) {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let parts = if start == engine::plan::Start::NothingDeclared {
        let empty = Report {
            dry_run: opts.dry_run,
            changes: Vec::new(),
            summary: Default::default(),
            notes: Vec::new(),
            errors: Vec::new(),
            api_calls: ApiCalls::default(),
        };
        vec![fanout::Part {
            target: m.targets[0].clone(),
            account: None,
            result: Ok(reconcile_section(&empty, opts.dry_run, detailed)),
        }]
    } else {
        let bars = progress::Bars::new();
        fanout::each(ctx, &m, chosen, |aws, m_t| {
            reconcile_target(aws, m_t, opts, detailed, &bars)
        })
        .await
    };
    let text = print_parts(&parts, output, serde_json::json!({"dryRun": opts.dry_run}));
    if let Some(path) = json_report {
        let doc = vigil::secret::redact_text(&print_parts_quiet(&parts, opts.dry_run)).into_owned();
        std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))?;
    }
    emit(&text);
    Ok(fanout::exit_of(&parts))
}

async fn drift_cmd(ctx: &Context, dir: &Path, output: DriftOutput) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let json = output == DriftOutput::Json;
    let chosen = match chosen(ctx, &m, json) {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let parts = fanout::each(ctx, &m, chosen, |aws, m_t| async move {
        let report = drift::run(&aws, &m_t, &store(&m_t, &aws))
            .await
            .map_err(|e| stopped(&aws, e))?;
        Ok(fanout::Section {
            text: report.to_text(),
            markdown: report.to_text(),
            json: serde_json::from_str(&report.to_json()).expect("drift report is JSON"),
            exit: if !report.errors.is_empty() {
                Exit::Error
            } else if report.has_drift() {
                Exit::Drift
            } else {
                Exit::Ok
            },
        })
    })
    .await;
    let output = match output {
        DriftOutput::Text => Output::Text,
        DriftOutput::Json => Output::Json,
    };
    emit(&print_parts(&parts, output, serde_json::json!({})));
    Ok(fanout::exit_of(&parts))
}

async fn import_cmd(
    ctx: &Context,
    out: &Path,
    kinds: &[String],
    prefix: Option<String>,
    dir: Option<&Path>,
) -> anyhow::Result<Exit> {
    let mut parsed = Vec::new();
    for k in kinds {
        match KindId::parse(k) {
            Some(k) => parsed.push(k),
            None => {
                let all: Vec<&str> = KindId::ALL.iter().map(|k| k.name()).collect();
                eprintln!(
                    "error: --kind {k}: unknown kind; expected one of {}",
                    all.join(", ")
                );
                return Ok(Exit::Error);
            }
        }
    }
    let (aws, m) = match import_target(ctx, dir).await? {
        Ok(found) => found,
        Err(exit) => return Ok(exit),
    };
    // With a directory, its Settings say where the inventory is and whose it is.
    let inv = match &m {
        Some(m) => store(m, &aws),
        None => state::Location::default_file(&aws.env.account_id, &aws.env.region),
    }
    .load(&aws)
    .await?;
    let opts = import::ImportOptions {
        out: out.to_path_buf(),
        kinds: parsed,
        prefix,
        owner: m.as_ref().map(|m| m.settings.owner.clone()),
    };
    let imported = import::run(&aws, &opts, &inv).await?;
    for s in &imported.skipped {
        eprintln!("skipped {}", vigil::escape::visible(s));
    }
    for f in &imported.files {
        println!("wrote {}", vigil::escape::visible(&f.display().to_string()));
    }
    eprintln!(
        "imported {} resource{} into {}",
        imported.files.len().saturating_sub(1),
        if imported.files.len() == 2 { "" } else { "s" },
        out.display()
    );
    for f in &imported.failed {
        eprintln!(
            "error: not imported: {}",
            vigil::escape::visible(&vigil::secret::redact_text(f))
        );
    }
    if imported.failed.is_empty() {
        Ok(Exit::Ok)
    } else {
        Ok(Exit::Error)
    }
}

/// Where import reads: the ambient account; with `--dir D`, D's target (its
/// Settings: region, owner, inventory and account guard); with `--target NAME`,
/// that one target of the directory (its credentials and region). The
/// directory's manifests come back for its Settings.
async fn import_target(
    ctx: &Context,
    dir: Option<&Path>,
) -> anyhow::Result<Result<(Aws, Option<Manifests>), Exit>> {
    let dir = match dir {
        Some(d) => d,
        None if ctx.globals.targets.is_empty() => {
            let settings = manifest::Settings::default();
            let t = manifest::Target::implicit(None, None);
            let deadline = ctx.globals.deadline(&settings);
            return match connect::connect_target(&ctx.connector, &settings, &t, deadline).await {
                Ok(aws) => Ok(Ok((aws, None))),
                Err((_, e)) => Err(e.into()),
            };
        }
        None => Path::new("./desired-state"),
    };
    if manifest::is_missing(dir) {
        return Ok(Err(missing_directory(dir, false)));
    }
    let Some(m) = load(dir) else {
        return Ok(Err(Exit::Error));
    };
    let chosen = match chosen(ctx, &m, false) {
        Ok(t) => t,
        Err(exit) => return Ok(Err(exit)),
    };
    if chosen.len() != 1 {
        let keys: Vec<String> = chosen.iter().map(manifest::Target::key).collect();
        eprintln!(
            "error: import reads one target; --target selects {}: name one as NAME/REGION",
            keys.join(", ")
        );
        return Ok(Err(Exit::Error));
    }
    let m_t = m.for_target(&chosen[0]);
    // The account guard refuses here, before any other call.
    Ok(connect(ctx, &m_t, false).await?.map(|aws| (aws, Some(m_t))))
}

async fn destroy_cmd(ctx: &Context, dir: &Path, dry_run: bool) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let chosen = match chosen(ctx, &m, false) {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let parts = fanout::each(ctx, &m, chosen, |aws, m_t| async move {
        let report = destroy::run(&aws, &m_t, &store(&m_t, &aws), dry_run)
            .await
            .map_err(|e| stopped(&aws, e))?;
        Ok(fanout::Section {
            text: report.to_text(),
            markdown: report.to_markdown(),
            json: serde_json::Value::Null,
            exit: if report.failed() {
                Exit::Error
            } else {
                Exit::Ok
            },
        })
    })
    .await;
    emit(&print_parts(&parts, Output::Text, serde_json::json!({})));
    Ok(fanout::exit_of(&parts))
}

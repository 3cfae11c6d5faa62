//! The subcommands: each turns arguments into options, runs a stage, prints, and picks an exit code.

use std::mem::ManuallyDrop;
use std::path::Path;

use anyhow::Context as _;

use crate::aws::{ApiCalls, Aws};
use crate::cli::{Cli, Command, DriftOutput, Output};
use crate::exit::Exit;
use crate::kinds::KindId;
use crate::manifest::{self, Manifests};
use crate::plan::Report;
use crate::reconcile::{self, StartError};
use crate::state;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate { dir, offline } => validate(&dir, offline).await,
        Command::Reconcile {
            dir,
            dry_run,
            prune,
            output,
            detailed_exitcode,
            only,
            json_report,
        } => {
            let opts = reconcile::Options {
                dry_run,
                only,
                prune,
                gate: None,
            };
            reconcile_cmd(
                &dir,
                &opts,
                output,
                detailed_exitcode,
                json_report.as_deref(),
            )
            .await
        }
        Command::Drift { dir, output } => drift_cmd(&dir, output).await,
        Command::Run {
            dir,
            interval,
            listen,
            log_format: _,
            lease_duration,
        } => match crate::controller::Config::new(dir, interval, listen, lease_duration) {
            Ok(cfg) => crate::controller::run(cfg).await,
            Err(msg) => {
                eprintln!("error: {msg}");
                Ok(Exit::Error)
            }
        },
        Command::Import { out, kinds, prefix } => import_cmd(&out, &kinds, prefix).await,
        Command::Destroy { dir, dry_run } => destroy_cmd(&dir, dry_run).await,
        Command::TestAlarm(args) => crate::ops::test_alarm::command(args).await,
        Command::Report(args) => crate::ops::report::command(args).await,
        Command::Schema { report } => Ok(crate::schema::command(report)),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vigil", &mut script);
            emit(&String::from_utf8_lossy(&script));
            Ok(Exit::Ok)
        }
    }
}

/// Prints a report on stdout. A reader that went away (`vigil ... | head`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Loads the directory, printing every located error.
pub fn load(dir: &Path) -> Option<Manifests> {
    load_reporting(dir, false)
}

/// [`load`]; with `json`, a failure is also one JSON document on stdout.
fn load_reporting(dir: &Path, json: bool) -> Option<Manifests> {
    match manifest::load(dir) {
        Ok(m) => Some(m),
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            let summary = format!(
                "validation failed: {} error{}; nothing was changed",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            eprintln!("{summary}");
            if json {
                emit_invalid(&summary, &errors.0);
            }
            None
        }
    }
}

/// A validation failure as JSON: the same shape as a refusal, plus the diagnostics.
/// Nothing was connected, so no call was made.
fn emit_invalid(message: &str, diags: &[manifest::Diagnostic]) {
    let doc = serde_json::json!({
        "error": {"class": "validation", "message": message},
        "diagnostics": diags.iter().map(manifest::Diagnostic::to_json).collect::<Vec<_>>(),
        "apiCalls": ApiCalls::default(),
    });
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).expect("json")
    ));
}

/// A desired-state directory that does not exist is a mistake (a wrong path or
/// working directory), not an empty declaration.
fn missing_directory(dir: &Path, json: bool) -> Exit {
    let d = manifest::missing_directory(dir);
    eprintln!("{d}");
    if json {
        emit_invalid(&d.to_string(), std::slice::from_ref(&d));
    }
    Exit::Error
}

async fn validate(dir: &Path, offline: bool) -> anyhow::Result<Exit> {
    if manifest::is_missing(dir) {
        return Ok(missing_directory(dir, false));
    }
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    // Checks that need AWS (IAM GetPolicy, ValidateTemplate) run only with credentials.
    if !offline && Aws::has_credentials(m.settings.region.as_deref()).await {
        let aws = Aws::connect(m.settings.region.as_deref()).await;
        let checks = m.resources.iter().map(|r| async {
            let issues = r.kind.remote_validate(&aws, &r.spec).await;
            issues
                .0
                .into_iter()
                .map(|(path, msg)| manifest::Diagnostic {
                    file: r.file.clone(),
                    pos: r.locate(&path),
                    subject: r.id(),
                    message: msg,
                })
                .collect::<Vec<_>>()
        });
        let mut found: Vec<_> = futures::future::join_all(checks)
            .await
            .into_iter()
            .flatten()
            .collect();
        if !found.is_empty() {
            found.sort();
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

/// A run that stopped before planning: printed on stderr, and as JSON for `--output json`.
fn stop(calls: ApiCalls, json: bool, class: &str, message: &str, exit: Exit) -> Exit {
    eprintln!("{message}");
    if json {
        let doc = serde_json::json!({
            "error": {"class": class, "message": message},
            "apiCalls": calls,
        });
        emit(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("json")
        ));
    }
    exit
}

/// Connects and applies the account guard. `Some(message)` means the guard refused.
pub async fn connect(m: &Manifests) -> anyhow::Result<(Aws, Option<String>)> {
    let mut aws = Aws::connect(m.settings.region.as_deref()).await;
    aws.env.owner = m.settings.owner.clone();
    let account = aws.caller_account().await.context(
        "cannot identify the AWS account (STS GetCallerIdentity); check your credentials",
    )?;
    if let Some(expected) = &m.settings.account_id
        && *expected != account
    {
        let msg = format!(
            "refused: the credentials belong to account {account}, but Settings.accountId is {expected}; nothing was changed"
        );
        return Ok((aws, Some(msg)));
    }
    aws.env.account_id = account;
    Ok((aws, None))
}

/// Where the inventory lives for this directory and account.
pub fn store(m: &Manifests, aws: &Aws) -> state::Location {
    m.settings
        .inventory
        .clone()
        .unwrap_or_else(|| state::Location::default_file(&aws.env.account_id, &aws.env.region))
}

fn start_error(aws: &Aws, json: bool, e: StartError) -> Exit {
    let calls = aws.calls.snapshot();
    match e {
        StartError::Refused(msg) => stop(
            calls,
            json,
            "refused",
            &format!("refused: {msg}"),
            Exit::Refused,
        ),
        other => stop(
            calls,
            json,
            "error",
            &format!("error: {other}"),
            Exit::Error,
        ),
    }
}

/// The emptiness guard of `reconcile::run`, repeated here so that it refuses
/// before connecting: with nothing declared there is nothing to look up.
const PRUNE_NOTHING: &str = "prune is on but the directory declares no resources (missing, empty, or only Settings); \
     vigil will not delete everything it owns. Run `vigil destroy` to do that on purpose";

async fn reconcile_cmd(
    dir: &Path,
    opts: &reconcile::Options,
    output: Output,
    detailed: bool,
    json_report: Option<&Path>,
) -> anyhow::Result<Exit> {
    let json = output == Output::Json;
    if manifest::is_missing(dir) {
        if opts.prune && opts.only.is_empty() {
            let msg = format!(
                "refused: prune is on but the directory declares no resources: {} does not exist; \
                 vigil will not delete everything it owns. Pass the desired-state directory, or run `vigil destroy` to do that on purpose",
                dir.display()
            );
            return Ok(stop(
                ApiCalls::default(),
                json,
                "refused",
                &msg,
                Exit::Refused,
            ));
        }
        return Ok(missing_directory(dir, json));
    }
    let Some(m) = load_reporting(dir, json) else {
        return Ok(Exit::Error);
    };
    // The process exits right after this command: the OS reclaims the
    // manifests and the observed account at once, faster than their destructors
    // would (thousands of resources; about 4% of a no-op plan's CPU time).
    let m = ManuallyDrop::new(m);
    let prune = (opts.prune || m.settings.prune) && opts.only.is_empty();
    if prune && m.resources.is_empty() {
        let msg = format!("refused: {PRUNE_NOTHING}");
        return Ok(stop(
            ApiCalls::default(),
            json,
            "refused",
            &msg,
            Exit::Refused,
        ));
    }
    let report = if m.resources.is_empty() && !m.settings_declared {
        // Nothing declared and nothing to prune: nothing to look at in AWS.
        // (With Settings, the account guard still runs.)
        Report {
            dry_run: opts.dry_run,
            changes: Vec::new(),
            summary: Default::default(),
            notes: Vec::new(),
            errors: Vec::new(),
            api_calls: ApiCalls::default(),
        }
    } else {
        let (aws, refused) = connect(&m).await?;
        let aws = ManuallyDrop::new(aws);
        if let Some(msg) = refused {
            return Ok(stop(
                aws.calls.snapshot(),
                json,
                "refused",
                &msg,
                Exit::Refused,
            ));
        }
        match reconcile::run(&aws, &m, opts, &store(&m, &aws)).await {
            Ok(r) => r,
            Err(e) => return Ok(start_error(&aws, json, e)),
        }
    };
    if let Some(path) = json_report {
        std::fs::write(path, report.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    match output {
        Output::Text => emit(&report.to_text()),
        Output::Json => emit(&format!("{}\n", report.to_json())),
        Output::Markdown => emit(&report.to_markdown()),
    }
    Ok(if report.failed() {
        Exit::Error
    } else if report.refused() {
        Exit::Refused
    } else if detailed && opts.dry_run && report.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

async fn drift_cmd(dir: &Path, output: DriftOutput) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let json = output == DriftOutput::Json;
    let (aws, refused) = connect(&m).await?;
    if let Some(msg) = refused {
        return Ok(stop(
            aws.calls.snapshot(),
            json,
            "refused",
            &msg,
            Exit::Refused,
        ));
    }
    let report = match crate::drift::run(&aws, &m, &store(&m, &aws)).await {
        Ok(r) => r,
        Err(e) => return Ok(start_error(&aws, json, e)),
    };
    match output {
        DriftOutput::Text => emit(&report.to_text()),
        DriftOutput::Json => emit(&format!("{}\n", report.to_json())),
    }
    Ok(if !report.errors.is_empty() {
        Exit::Error
    } else if report.has_drift() {
        Exit::Drift
    } else {
        Exit::Ok
    })
}

async fn import_cmd(out: &Path, kinds: &[String], prefix: Option<String>) -> anyhow::Result<Exit> {
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
    let mut aws = Aws::connect(None).await;
    aws.env.account_id = aws.caller_account().await.context(
        "cannot identify the AWS account (STS GetCallerIdentity); check your credentials",
    )?;
    let inv = state::Location::default_file(&aws.env.account_id, &aws.env.region)
        .load(&aws)
        .await?;
    let opts = crate::import::Options {
        out: out.to_path_buf(),
        kinds: parsed,
        prefix,
    };
    let imported = crate::import::run(&aws, &opts, &inv).await?;
    for s in &imported.skipped {
        eprintln!("skipped {s}");
    }
    for f in &imported.files {
        println!("wrote {}", f.display());
    }
    eprintln!(
        "imported {} resource{} into {}",
        imported.files.len().saturating_sub(1),
        if imported.files.len() == 2 { "" } else { "s" },
        out.display()
    );
    Ok(Exit::Ok)
}

async fn destroy_cmd(dir: &Path, dry_run: bool) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let (aws, refused) = connect(&m).await?;
    if let Some(msg) = refused {
        return Ok(stop(
            aws.calls.snapshot(),
            false,
            "refused",
            &msg,
            Exit::Refused,
        ));
    }
    let report = match crate::destroy::run(&aws, &m, &store(&m, &aws), dry_run).await {
        Ok(r) => r,
        Err(e) => return Ok(start_error(&aws, false, e)),
    };
    emit(&report.to_text());
    Ok(if report.failed() {
        Exit::Error
    } else {
        Exit::Ok
    })
}

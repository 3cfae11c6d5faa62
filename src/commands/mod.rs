//! The subcommands: each turns arguments into options, runs a stage, prints, and picks an exit code.
//! This is the binary's edge: the library returns typed errors, and `anyhow` lives only here.

mod ops;
mod progress;

use std::mem::ManuallyDrop;
use std::path::Path;

use anyhow::Context as _;

use crate::cli::{Cli, Command, DriftOutput, Output};
use vigil::aws::{ApiCalls, Aws};
use vigil::engine::{self, Report, StartError};
use vigil::exit::Exit;
use vigil::kinds::KindId;
use vigil::manifest::{self, Manifests};
use vigil::state;
use vigil::target::{self, ConnectError};

/// `--deadline`, set once from the command line.
static DEADLINE: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let _ = DEADLINE.set(cli.deadline);
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
            let opts = engine::Options {
                dry_run,
                only,
                prune,
                ..Default::default()
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
        } => match vigil::controller::Config::new(dir, interval, listen, lease_duration) {
            Ok(mut cfg) => {
                cfg.deadline = cli.deadline;
                vigil::controller::run(cfg).await?;
                Ok(Exit::Ok)
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                Ok(Exit::Error)
            }
        },
        Command::Import { out, kinds, prefix } => import_cmd(&out, &kinds, prefix).await,
        Command::Destroy { dir, dry_run } => destroy_cmd(&dir, dry_run).await,
        Command::TestAlarm(args) => ops::test_alarm(args).await,
        Command::Report(args) => ops::report(args).await,
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

/// Connects and applies the account guard; a refusal or an unknown account is printed here.
pub async fn connect(m: &Manifests, json: bool) -> anyhow::Result<Result<Aws, Exit>> {
    let deadline = target::deadline(&m.settings, DEADLINE.get().copied().flatten());
    match target::connect(&m.settings, deadline).await {
        Ok(aws) => Ok(Ok(aws)),
        Err((aws, e @ ConnectError::WrongAccount { .. })) => Ok(Err(stop(
            aws.calls.snapshot(),
            json,
            "refused",
            &e.to_string(),
            Exit::Refused,
        ))),
        Err((_, e)) => Err(e.into()),
    }
}

/// Where the inventory lives for this directory and account.
pub fn store(m: &Manifests, aws: &Aws) -> state::Location {
    target::inventory_location(&m.settings, &aws.env)
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

async fn reconcile_cmd(
    dir: &Path,
    opts: &engine::Options,
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
    if let Err(stop_reason) = engine::plan::guard_directory(&m, prune) {
        return Ok(stop(
            ApiCalls::default(),
            json,
            "refused",
            &stop_reason.to_string(),
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
        let aws = match connect(&m, json).await? {
            Ok(aws) => ManuallyDrop::new(aws),
            Err(exit) => return Ok(exit),
        };
        let (display, ticker) = progress::Display::start(aws.pace.clone());
        let opts = engine::Options {
            progress: Some(display.clone()),
            ..opts.clone()
        };
        let result = engine::reconcile(&aws, &m, &opts, &store(&m, &aws)).await;
        ticker.abort();
        display.finish();
        match result {
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
    let aws = match connect(&m, json).await? {
        Ok(aws) => aws,
        Err(exit) => return Ok(exit),
    };
    let report = match engine::drift::run(&aws, &m, &store(&m, &aws)).await {
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
    aws.pace.start_run(
        DEADLINE
            .get()
            .copied()
            .flatten()
            .unwrap_or(vigil::aws::pace::DEFAULT_DEADLINE),
    );
    aws.env.account_id = aws.caller_account().await.context(
        "cannot identify the AWS account (STS GetCallerIdentity); check your credentials",
    )?;
    aws.pace.set_account(&aws.env.account_id);
    let inv = state::Location::default_file(&aws.env.account_id, &aws.env.region)
        .load(&aws)
        .await?;
    let opts = vigil::import::Options {
        out: out.to_path_buf(),
        kinds: parsed,
        prefix,
    };
    let imported = vigil::import::run(&aws, &opts, &inv).await?;
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
    let aws = match connect(&m, false).await? {
        Ok(aws) => aws,
        Err(exit) => return Ok(exit),
    };
    let report = match engine::destroy::run(&aws, &m, &store(&m, &aws), dry_run).await {
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

//! The subcommands: each turns arguments into options, runs a stage, prints, and picks an exit code.

use std::path::Path;

use anyhow::Context as _;

use crate::aws::Aws;
use crate::cli::{Cli, Command, Output};
use crate::exit::Exit;
use crate::manifest::{self, Manifests};
use crate::reconcile;

pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Validate { dir, offline } => validate(&dir, offline).await,
        Command::Reconcile {
            dir,
            dry_run,
            output,
            detailed_exitcode,
            only,
            json_report,
        } => {
            let opts = reconcile::Options { dry_run, only };
            reconcile_cmd(&dir, &opts, output, detailed_exitcode, json_report.as_deref()).await
        }
    }
}

/// Loads the directory, printing every located error.
fn load(dir: &Path) -> Option<Manifests> {
    match manifest::load(dir) {
        Ok(m) => Some(m),
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{d}");
            }
            eprintln!(
                "validation failed: {} error{}; nothing was changed",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            None
        }
    }
}

async fn validate(dir: &Path, offline: bool) -> anyhow::Result<Exit> {
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
                    pos: r.spec_node.locate(&path).pos,
                    subject: r.id(),
                    message: msg,
                })
                .collect::<Vec<_>>()
        });
        let mut found: Vec<_> = futures::future::join_all(checks).await.into_iter().flatten().collect();
        if !found.is_empty() {
            found.sort();
            for d in &found {
                eprintln!("{d}");
            }
            eprintln!("validation failed: {} error{}", found.len(), if found.len() == 1 { "" } else { "s" });
            return Ok(Exit::Error);
        }
    }
    println!(
        "{}: {} resource{} valid{}",
        dir.display(),
        m.resources.len(),
        if m.resources.len() == 1 { "" } else { "s" },
        if m.settings_declared { ", with Settings" } else { "" }
    );
    Ok(Exit::Ok)
}

/// A run that stopped before planning: printed on stderr, and as JSON for `--output json`.
fn stop(aws: &Aws, output: Output, class: &str, message: &str, exit: Exit) -> Exit {
    eprintln!("{message}");
    if output == Output::Json {
        let doc = serde_json::json!({
            "error": {"class": class, "message": message},
            "apiCalls": aws.calls.snapshot(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
    }
    exit
}

/// Connects and applies the account guard. `Err(message)` means a safety guard refused.
pub async fn connect(m: &Manifests) -> anyhow::Result<(Aws, Option<String>)> {
    let mut aws = Aws::connect(m.settings.region.as_deref()).await;
    aws.env.owner = m.settings.owner.clone();
    let account = aws
        .caller_account()
        .await
        .context("cannot identify the AWS account (STS GetCallerIdentity); check your credentials")?;
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

async fn reconcile_cmd(
    dir: &Path,
    opts: &reconcile::Options,
    output: Output,
    detailed: bool,
    json_report: Option<&Path>,
) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let (aws, refused) = connect(&m).await?;
    if let Some(msg) = refused {
        return Ok(stop(&aws, output, "refused", &msg, Exit::Refused));
    }
    let report = match reconcile::run(&aws, &m, opts).await {
        Ok(r) => r,
        Err(e) => return Ok(stop(&aws, output, "usage", &format!("error: {e}"), Exit::Error)),
    };
    if let Some(path) = json_report {
        std::fs::write(path, report.to_json()).with_context(|| format!("writing {}", path.display()))?;
    }
    match output {
        Output::Text => print!("{}", report.to_text()),
        Output::Json => println!("{}", report.to_json()),
        Output::Markdown => print!("{}", report.to_markdown()),
    }
    Ok(if report.failed() {
        Exit::Error
    } else if detailed && opts.dry_run && report.has_changes() {
        Exit::Changes
    } else {
        Exit::Ok
    })
}

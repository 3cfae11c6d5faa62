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
        Command::Validate { dir } => validate(&dir),
        Command::Reconcile {
            dir,
            dry_run,
            output,
            detailed_exitcode,
            only,
        } => {
            let opts = reconcile::Options { dry_run, only };
            reconcile_cmd(&dir, &opts, output, detailed_exitcode).await
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

fn validate(dir: &Path) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    println!(
        "{}: {} resource{} valid{}",
        dir.display(),
        m.resources.len(),
        if m.resources.len() == 1 { "" } else { "s" },
        if m.settings_declared { ", with Settings" } else { "" }
    );
    Ok(Exit::Ok)
}

/// Connects and applies the account guard. `Err(exit)` means stop with that code.
pub async fn connect(m: &Manifests) -> anyhow::Result<Result<Aws, Exit>> {
    let mut aws = Aws::connect(m.settings.region.as_deref()).await;
    aws.env.owner = m.settings.owner.clone();
    let account = aws
        .caller_account()
        .await
        .context("cannot identify the AWS account (STS GetCallerIdentity); check your credentials")?;
    if let Some(expected) = &m.settings.account_id
        && *expected != account
    {
        eprintln!(
            "refused: the credentials belong to account {account}, but Settings.accountId is {expected}; nothing was changed"
        );
        return Ok(Err(Exit::Refused));
    }
    aws.env.account_id = account;
    Ok(Ok(aws))
}

async fn reconcile_cmd(dir: &Path, opts: &reconcile::Options, output: Output, detailed: bool) -> anyhow::Result<Exit> {
    let Some(m) = load(dir) else {
        return Ok(Exit::Error);
    };
    let aws = match connect(&m).await? {
        Ok(aws) => aws,
        Err(exit) => return Ok(exit),
    };
    let report = reconcile::run(&aws, &m, opts).await?;
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

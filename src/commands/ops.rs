//! `vigil test-alarm` and `vigil report`: arguments to options, then print.

use std::time::{Duration, SystemTime};

use crate::cli::{AlarmStateArg, DriftOutput, ReportArgs, ReportFormat, TestAlarmArgs};
use vigil::exit::Exit;
use vigil::ops::report::collect;
use vigil::ops::test_alarm::{
    Options, default_timeout, run, select, split_args, via_metric_refusals,
};
use vigil::ops::{epoch_secs, html};

/// `vigil test-alarm`.
pub async fn test_alarm(args: TestAlarmArgs) -> anyhow::Result<Exit> {
    let (dir, names) = match split_args(&args.args, args.all) {
        Ok(x) => x,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(Exit::Error);
        }
    };
    let Some(m) = super::load(&dir) else {
        return Ok(Exit::Error);
    };
    let alarms = match select(&m, &names, args.all) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(Exit::Error);
        }
    };
    if args.via_metric {
        let refusals = via_metric_refusals(&m, &alarms);
        if !refusals.is_empty() {
            for r in &refusals {
                eprintln!("error: {r}");
            }
            eprintln!("nothing was changed");
            return Ok(Exit::Error);
        }
    }
    let state = match args.state {
        AlarmStateArg::Alarm => "ALARM",
        AlarmStateArg::Ok => "OK",
        AlarmStateArg::InsufficientData => "INSUFFICIENT_DATA",
    };
    let aws = match super::connect(&m, false).await? {
        Ok(aws) => aws,
        Err(exit) => return Ok(exit),
    };
    let timeout = args
        .timeout
        .unwrap_or_else(|| default_timeout(&m, &alarms, args.via_metric));
    let opts = Options {
        alarms,
        state: state.to_string(),
        hold: args.hold,
        restore: !args.no_restore,
        via_metric: args.via_metric,
        timeout,
        poll: if args.via_metric {
            Duration::from_secs(15).min(timeout)
        } else {
            Duration::from_millis(500)
        },
        progress: true,
    };
    let report = match run(&aws, &opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Error);
        }
    };
    match args.output {
        DriftOutput::Text => super::emit(&report.to_text()),
        DriftOutput::Json => super::emit(&format!("{}\n", report.to_json())),
    }
    for w in report.warnings() {
        eprintln!("{w}");
    }
    Ok(if report.broken > 0 {
        Exit::Error
    } else {
        Exit::Ok
    })
}

/// `vigil report`.
pub async fn report(args: ReportArgs) -> anyhow::Result<Exit> {
    let Some(m) = super::load(&args.dir) else {
        return Ok(Exit::Error);
    };
    let aws = match super::connect(&m, false).await? {
        Ok(aws) => aws,
        Err(exit) => return Ok(exit),
    };
    if args.since.is_zero() {
        eprintln!("error: --since must be longer than 0s");
        return Ok(Exit::Error);
    }
    let report = match collect(&aws, &m, args.since, epoch_secs(SystemTime::now())).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Exit::Error);
        }
    };
    for u in &report.unavailable {
        eprintln!("note: {} unavailable: {}", u.section, u.message);
    }
    let text = match args.format {
        ReportFormat::Markdown => report.to_markdown(),
        ReportFormat::Json => report.to_json() + "\n",
        ReportFormat::Html => html::render(&report),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => super::emit(&text),
    }
    Ok(Exit::Ok)
}

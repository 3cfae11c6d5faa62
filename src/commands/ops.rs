//! `vigil test-alarm` and `vigil report`: arguments to options, then print.

use std::time::{Duration, SystemTime};

use super::context::Context;
use super::fanout::{self, Section, Stopped};
use super::output;
use crate::cli::{AlarmStateArg, DriftOutput, Output, ReportArgs, ReportFormat, TestAlarmArgs};
use vigil::aws::Aws;
use vigil::exit::Exit;
use vigil::manifest::{Manifests, Target};
use vigil::ops::report::collect;
use vigil::ops::test_alarm::{
    TestAlarmOptions, default_timeout, run, select, split_args, via_metric_refusals,
};
use vigil::ops::{epoch_secs, html};

/// `vigil test-alarm`.
pub async fn test_alarm(ctx: &Context, args: TestAlarmArgs) -> anyhow::Result<Exit> {
    let (m, names) = match load_and_check(&args) {
        Ok(x) => x,
        Err(exit) => return Ok(exit),
    };
    let state = match args.state {
        AlarmStateArg::Alarm => "ALARM",
        AlarmStateArg::Ok => "OK",
        AlarmStateArg::InsufficientData => "INSUFFICIENT_DATA",
    };
    let json = args.output == DriftOutput::Json;
    let chosen = match output::chosen(ctx, &m, json) {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let args = &args;
    let names = &names;
    let parts = fanout::each(ctx, &m, chosen, |aws, m_t| async move {
        test_target(&aws, &m_t, args, names, state).await
    })
    .await;
    let output = if json { Output::Json } else { Output::Text };
    output::emit(&output::print_parts(&parts, output, serde_json::json!({})));
    Ok(fanout::exit_of(&parts))
}

/// Loads the directory and checks the named alarms before any call: the
/// manifests and the names, or the exit after the error is printed.
fn load_and_check(args: &TestAlarmArgs) -> Result<(Manifests, Vec<String>), Exit> {
    let (dir, names) = split_args(&args.args, args.all).map_err(|msg| {
        eprintln!("error: {msg}");
        Exit::Error
    })?;
    let m = output::load(&dir).ok_or(Exit::Error)?;
    let alarms = select(&m, &names, args.all).map_err(|msg| {
        eprintln!("error: {msg}");
        Exit::Error
    })?;
    if args.via_metric {
        let refusals = via_metric_refusals(&m, &alarms);
        if !refusals.is_empty() {
            for r in &refusals {
                eprintln!("error: {r}");
            }
            eprintln!("nothing was changed");
            return Err(Exit::Error);
        }
    }
    Ok((m, names))
}

/// One target's test: its own alarms among those named.
async fn test_target(
    aws: &Aws,
    m_t: &Manifests,
    args: &TestAlarmArgs,
    names: &[String],
    state: &str,
) -> Result<Section, Stopped> {
    let stopped = |msg: String| Stopped::new("error", msg, Exit::Error, aws.calls.snapshot());
    // The alarms of this target; names declared only for other targets are not its.
    let mine: Vec<String> = names
        .iter()
        .filter(|n| m_t.resources.iter().any(|r| &r.name == *n))
        .cloned()
        .collect();
    let alarms = select(m_t, &mine, args.all || names.is_empty())
        .map_err(|msg| stopped(format!("error: {msg}")))?;
    let timeout = args
        .timeout
        .unwrap_or_else(|| default_timeout(m_t, &alarms, args.via_metric));
    let opts = TestAlarmOptions {
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
    let report = run(aws, &opts)
        .await
        .map_err(|e| stopped(format!("error: {e}")))?;
    for w in report.warnings() {
        eprintln!("{}", vigil::escape::visible(&w));
    }
    // Alarm reasons and endpoints come from AWS: shown, never acted on by the terminal.
    let text = vigil::escape::visible_lines(&report.to_text()).into_owned();
    Ok(Section {
        text: text.clone(),
        markdown: text,
        json: serde_json::from_str(&report.to_json()).expect("test-alarm report is JSON"),
        exit: if report.broken > 0 {
            Exit::Error
        } else {
            Exit::Ok
        },
    })
}

/// `vigil report`.
pub async fn report(ctx: &Context, args: ReportArgs) -> anyhow::Result<Exit> {
    let Some(m) = output::load(&args.dir) else {
        return Ok(Exit::Error);
    };
    if args.since.is_zero() {
        eprintln!("error: --since must be longer than 0s");
        return Ok(Exit::Error);
    }
    let chosen = match output::chosen(ctx, &m, false) {
        Ok(t) => t,
        Err(exit) => return Ok(exit),
    };
    let since = args.since;
    let now = epoch_secs(SystemTime::now());
    let reports = std::sync::Mutex::new(Vec::new());
    let reports_ref = &reports;
    let parts = fanout::each(ctx, &m, chosen, |aws, m_t| async move {
        let report = collect(&aws, &m_t, since, now).await.map_err(|e| {
            Stopped::new(
                "error",
                format!("error: {e}"),
                Exit::Error,
                aws.calls.snapshot(),
            )
        })?;
        for u in &report.unavailable {
            eprintln!(
                "note: {} unavailable: {}",
                u.section,
                vigil::escape::visible(&u.message)
            );
        }
        let section = Section {
            text: report.to_markdown(),
            markdown: report.to_markdown(),
            json: serde_json::from_str(&report.to_json()).expect("the report is JSON"),
            exit: Exit::Ok,
        };
        let key = m_t.targets.first().map(Target::key).unwrap_or_default();
        reports_ref
            .lock()
            .expect("reports lock")
            .push((key, report));
        Ok(section)
    })
    .await;
    let mut reports = reports.into_inner().expect("reports lock");
    // In the targets' order, which `each` keeps.
    let order: Vec<String> = parts.iter().map(|p| p.target.key()).collect();
    reports.sort_by_key(|(k, _)| order.iter().position(|o| o == k));
    let text = match args.format {
        ReportFormat::Html if fanout::single(&parts) => match reports.first() {
            Some((_, r)) => html::render(r),
            None => {
                fanout::report_stops(&parts);
                return Ok(fanout::exit_of(&parts));
            }
        },
        ReportFormat::Html => {
            fanout::report_stops(&parts);
            let refs: Vec<(String, &vigil::ops::report::DailyReport)> =
                reports.iter().map(|(k, r)| (k.clone(), r)).collect();
            html::render_many(&refs)
        }
        ReportFormat::Markdown => {
            output::print_parts(&parts, Output::Markdown, serde_json::json!({}))
        }
        ReportFormat::Json => output::print_parts(&parts, Output::Json, serde_json::json!({})),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, text)
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => output::emit(&text),
    }
    Ok(fanout::exit_of(&parts))
}

//! The test itself, in steps: read the alarms, judge where notifications go,
//! fire (SetAlarmState, or breaching datapoints with `--via-metric`), wait for
//! the state to show, hold, and put the state back. Start at [`run`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, MetricDatum, StateValue, Statistic, StatisticSet,
};
use aws_smithy_types::DateTime;
use futures::StreamExt;

use super::judge::{Subscriptions, judge};
use super::model::{AlarmTest, TestAlarmOptions, TestReport};
use super::select::aws_namespace_refusal;
use crate::aws::{Aws, AwsError, AwsResultExt};
use crate::ops::{LiveAlarm, describe_alarms, format_duration, sns_arn_parts};

/// Every state reason vigil writes starts with this, so a restore never
/// overwrites a state that CloudWatch itself set in the meantime.
pub const REASON_MARK: &str = "vigil test-alarm:";

/// SetAlarmState takes a reason of at most 1023 characters.
pub(super) const MAX_REASON: usize = 1023;

/// Datapoints that breach the alarm's threshold in each of the periods it evaluates.
pub fn breaching_data(a: &MetricAlarm, now: i64) -> Result<(String, Vec<MetricDatum>), String> {
    let name = a.alarm_name().unwrap_or_default();
    let id = format!("MetricAlarm/{name}");
    let (Some(ns), Some(metric)) = (a.namespace(), a.metric_name()) else {
        return Err(format!(
            "{id}: --via-metric publishes to one metric, but this alarm uses metric math"
        ));
    };
    if ns.starts_with("AWS/") {
        return Err(aws_namespace_refusal(&id, ns));
    }
    let threshold = a.threshold().ok_or_else(|| {
        format!(
            "{id}: the alarm has no static threshold (anomaly band); test it without --via-metric"
        )
    })?;
    let above = match a.comparison_operator() {
        Some(
            ComparisonOperator::GreaterThanThreshold
            | ComparisonOperator::GreaterThanOrEqualToThreshold,
        ) => true,
        Some(
            ComparisonOperator::LessThanThreshold | ComparisonOperator::LessThanOrEqualToThreshold,
        ) => false,
        _ => {
            return Err(format!(
                "{id}: the alarm compares against an anomaly band; test it without --via-metric"
            ));
        }
    };
    let margin = (threshold.abs() * 0.1).max(1.0);
    let value = if above {
        threshold + margin
    } else {
        threshold - margin
    };
    let period = i64::from(a.period().unwrap_or(60).max(1));
    let count = a
        .datapoints_to_alarm()
        .or(a.evaluation_periods())
        .unwrap_or(1)
        .max(1);
    let sample_count = a.statistic() == Some(&Statistic::SampleCount);
    let samples = if above { value.ceil() } else { value.floor() };
    if sample_count && samples < 1.0 {
        return Err(format!(
            "{id}: the alarm fires on fewer than {threshold} samples; datapoints cannot be published to make that happen"
        ));
    }
    let dims: Vec<Dimension> = a.dimensions().to_vec();
    let data = (0..i64::from(count))
        .map(|k| {
            let mut d = MetricDatum::builder()
                .metric_name(metric)
                .set_dimensions(Some(dims.clone()))
                .timestamp(DateTime::from_secs(now - k * period))
                .set_unit(a.unit().cloned());
            d = if sample_count {
                d.statistic_values(
                    StatisticSet::builder()
                        .sample_count(samples)
                        .sum(samples)
                        .minimum(1.0)
                        .maximum(1.0)
                        .build(),
                )
            } else {
                d.value(value)
            };
            d.build()
        })
        .collect();
    Ok((ns.to_string(), data))
}

fn truncate(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    s.chars().take(max).collect()
}

async fn set_state(
    aws: &Aws,
    name: &str,
    state: &str,
    reason: String,
    previous: &str,
) -> Result<(), AwsError> {
    let data = serde_json::json!({"vigil": "test-alarm", "previousState": previous}).to_string();
    aws.clients
        .cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(StateValue::from(state))
        .state_reason(truncate(reason, MAX_REASON))
        .state_reason_data(data)
        .send()
        .await
        .aws("cloudwatch", "SetAlarmState")?;
    Ok(())
}

/// Reads the alarms until each shows `target` or the time is up; returns the last reads.
async fn wait_for(
    aws: &Aws,
    names: &[String],
    target: &str,
    timeout: Duration,
    poll: Duration,
) -> Result<HashMap<String, LiveAlarm>, AwsError> {
    let deadline = Instant::now() + timeout;
    let mut seen = HashMap::new();
    let mut waiting = names.to_vec();
    loop {
        let live = describe_alarms(aws, &waiting).await?;
        waiting.retain(|n| live.get(n).is_none_or(|l| l.state != target));
        seen.extend(live);
        if waiting.is_empty() || Instant::now() + poll > deadline {
            return Ok(seen);
        }
        tokio::time::sleep(poll).await;
    }
}

fn progress(opts: &TestAlarmOptions, msg: &str) {
    if opts.progress {
        eprintln!("{}", crate::secret::redact_text(msg));
    }
}

/// Runs the test. `Err` only when vigil cannot read the alarms at all.
pub async fn run(aws: &Aws, opts: &TestAlarmOptions) -> Result<TestReport, AwsError> {
    let target = opts.state.as_str();
    let names: Vec<String> = opts.alarms.iter().map(|(_, n)| n.clone()).collect();
    let live = describe_alarms(aws, &names).await?;
    let mut tests: Vec<AlarmTest> = opts
        .alarms
        .iter()
        .map(|(kind, name)| AlarmTest::new(*kind, name, live.get(name).map(|l| l.state.clone())))
        .collect();
    judge_paths(aws, target, &live, &mut tests).await;
    if opts.via_metric {
        fire_via_metric(aws, &live, &mut tests).await;
    } else {
        fire_by_state(aws, opts, &mut tests).await;
    }
    let fired: Vec<String> = tests
        .iter()
        .filter(|t| t.fired)
        .map(|t| t.name.clone())
        .collect();
    if !fired.is_empty() {
        confirm(aws, opts, &fired, &mut tests).await?;
    }
    hold_and_restore(aws, opts, &fired, &mut tests).await?;

    let broken = tests.iter().filter(|t| t.broken()).count();
    Ok(TestReport {
        state: target.to_string(),
        via_metric: opts.via_metric,
        hold_seconds: opts.hold.as_secs(),
        restore: opts.restore && !opts.via_metric,
        passed: tests.len() - broken,
        broken,
        alarms: tests,
        api_calls: aws.calls.snapshot(),
    })
}

/// Where notifications go: each same-account topic is read once, however many alarms use it.
async fn judge_paths(
    aws: &Aws,
    target: &str,
    live: &HashMap<String, LiveAlarm>,
    tests: &mut [AlarmTest],
) {
    let mut topics: Vec<String> = live
        .values()
        .flat_map(|l| l.actions_for(target).iter())
        .filter(|a| {
            sns_arn_parts(a)
                .is_some_and(|(r, acct, _)| r == aws.env.region && acct == aws.env.account_id)
        })
        .cloned()
        .collect();
    topics.sort();
    topics.dedup();
    let subs: Subscriptions = futures::stream::iter(topics)
        .map(|arn| async move {
            let r = crate::ops::topic_subscriptions(aws, &arn).await;
            (arn, r)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for t in tests {
        match live.get(&t.name) {
            Some(l) => judge(l, target, &aws.env.region, &aws.env.account_id, &subs, t),
            None => t.problems.push(
                "the alarm does not exist in AWS; run `vigil reconcile` to create it".to_string(),
            ),
        }
    }
}

/// Sets the tested state on every alarm that exists, eight at a time.
async fn fire_by_state(aws: &Aws, opts: &TestAlarmOptions, tests: &mut [AlarmTest]) {
    let target = opts.state.as_str();
    let hold = format_duration(opts.hold);
    // `(index, whether the state was changed at all, outcome)`.
    let results: Vec<(usize, bool, Result<Option<String>, AwsError>)> = futures::stream::iter(
        tests
            .iter()
            .enumerate()
            .filter(|(_, t)| t.previous_state.is_some()),
    )
    .map(|(i, t)| {
        let name = t.name.clone();
        let prev = t.previous_state.clone().unwrap_or_default();
        let restore_note = if opts.restore {
            format!(" vigil puts back {prev} after {hold}.")
        } else {
            String::new()
        };
        async move {
            let (changed, r) = fire_one(aws, &name, &prev, target, &restore_note).await;
            (i, changed, r)
        }
    })
    .buffer_unordered(8)
    .collect()
    .await;
    for (i, changed, r) in results {
        // A state changed by the first step is put back even when the second failed.
        tests[i].fired = changed;
        match r {
            Ok(note) => tests[i].notes.extend(note),
            Err(e) => tests[i]
                .problems
                .push(format!("could not set the state: {e}")),
        }
    }
}

/// Sets `target` on one alarm: whether its state was changed at all, and a note
/// when it went through another state first.
async fn fire_one(
    aws: &Aws,
    name: &str,
    prev: &str,
    target: &str,
    restore_note: &str,
) -> (bool, Result<Option<String>, AwsError>) {
    let mut note = None;
    // AWS notifies only on a change: an alarm already in the target state goes through another first.
    if prev == target {
        let step = if target == "INSUFFICIENT_DATA" {
            "OK"
        } else {
            "INSUFFICIENT_DATA"
        };
        let reason = format!(
            "{REASON_MARK} a step before the test: the alarm was already {prev}, and AWS notifies only on a change."
        );
        if let Err(e) = set_state(aws, name, step, reason, prev).await {
            return (false, Err(e));
        }
        note = Some(format!(
            "it was already {prev}, so vigil set {step} first: AWS notifies only on a change"
        ));
    }
    let reason = format!(
        "{REASON_MARK} a test of the notification path set {target} on purpose; this is not a real {target}.{restore_note}"
    );
    let r = set_state(aws, name, target, reason, prev).await;
    (note.is_some() || r.is_ok(), r.map(|()| note))
}

/// Waits for the fired alarms to show the tested state; a problem for each that does not.
async fn confirm(
    aws: &Aws,
    opts: &TestAlarmOptions,
    fired: &[String],
    tests: &mut [AlarmTest],
) -> Result<(), AwsError> {
    let target = opts.state.as_str();
    progress(
        opts,
        &format!(
            "waiting up to {} for {} alarm(s) to show {target}",
            format_duration(opts.timeout),
            fired.len()
        ),
    );
    let seen = wait_for(aws, fired, target, opts.timeout, opts.poll).await?;
    for t in tests.iter_mut().filter(|t| t.fired) {
        match seen.get(&t.name) {
            Some(l) if l.state == target => t.confirmed = true,
            Some(l) => {
                let mut msg = format!(
                    "the state did not change to {target} within {} (it is {})",
                    format_duration(opts.timeout),
                    l.state
                );
                if opts.via_metric {
                    msg.push_str(
                        "; CloudWatch evaluates an alarm about once a period, so try a longer --timeout (an emulator may not evaluate alarms at all)",
                    );
                }
                t.problems.push(msg);
            }
            None => t
                .problems
                .push("the alarm disappeared during the test".into()),
        }
    }
    Ok(())
}

/// Holds the tested state, then puts the previous one back (unless `--no-restore`).
async fn hold_and_restore(
    aws: &Aws,
    opts: &TestAlarmOptions,
    fired: &[String],
    tests: &mut [AlarmTest],
) -> Result<(), AwsError> {
    let target = opts.state.as_str();
    if opts.via_metric {
        for t in tests.iter_mut().filter(|t| t.fired) {
            t.notes.push(
                "published datapoints cannot be withdrawn: the alarm returns by itself once new datapoints stop breaching"
                    .into(),
            );
        }
    } else if opts.restore && !fired.is_empty() {
        if !opts.hold.is_zero() {
            progress(
                opts,
                &format!(
                    "holding {target} for {} (Ctrl-C restores now)",
                    format_duration(opts.hold)
                ),
            );
            tokio::select! {
                () = tokio::time::sleep(opts.hold) => {}
                _ = tokio::signal::ctrl_c() => progress(opts, "interrupted: restoring now"),
            }
        }
        restore(aws, fired, tests).await?;
    } else if !opts.restore {
        for t in tests.iter_mut().filter(|t| t.fired) {
            t.notes.push(format!("left in {target} (--no-restore)"));
        }
    }
    Ok(())
}

async fn fire_via_metric(aws: &Aws, live: &HashMap<String, LiveAlarm>, tests: &mut [AlarmTest]) {
    let now = crate::ops::epoch_secs(std::time::SystemTime::now());
    for t in tests.iter_mut() {
        let Some(metric) = live.get(&t.name).and_then(|l| l.metric.as_ref()) else {
            if live.contains_key(&t.name) {
                t.problems.push("--via-metric needs a metric alarm".into());
            }
            continue;
        };
        let (ns, data) = match breaching_data(metric, now) {
            Ok(d) => d,
            Err(msg) => {
                t.problems.push(msg);
                continue;
            }
        };
        let n = data.len();
        let value = data.first().and_then(|d| {
            d.value()
                .or(d.statistic_values().and_then(|s| s.sample_count()))
        });
        match aws
            .clients
            .cloudwatch
            .put_metric_data()
            .namespace(&ns)
            .set_metric_data(Some(data))
            .send()
            .await
            .aws("cloudwatch", "PutMetricData")
        {
            Ok(_) => {
                t.fired = true;
                t.notes.push(format!(
                    "published {n} breaching datapoint(s) of {} to {ns}/{}",
                    value.map_or_else(String::new, |v| v.to_string()),
                    metric.metric_name().unwrap_or_default()
                ));
            }
            Err(e) => t
                .problems
                .push(format!("could not publish datapoints: {e}")),
        }
    }
}

async fn restore(aws: &Aws, fired: &[String], tests: &mut [AlarmTest]) -> Result<(), AwsError> {
    let now = describe_alarms(aws, fired).await?;
    let mut written = Vec::new();
    for t in tests.iter_mut().filter(|t| t.fired) {
        let prev = t.previous_state.clone().unwrap_or_default();
        match now.get(&t.name) {
            None => t
                .problems
                .push("the alarm disappeared during the test".into()),
            Some(l) if l.state == prev => {
                t.restored = Some(prev.clone());
                t.notes.push(format!("already back in {prev}"));
            }
            Some(l) if !l.reason.starts_with(REASON_MARK) => t.notes.push(format!(
                "CloudWatch evaluated it to {} during the test; vigil left that state alone",
                l.state
            )),
            Some(_) => {
                let reason = format!(
                    "{REASON_MARK} the test is over; back to the state before it ({prev})."
                );
                match set_state(aws, &t.name, &prev, reason, &prev).await {
                    Ok(()) => {
                        t.restored = Some(prev);
                        written.push(t.name.clone());
                    }
                    Err(e) => t.problems.push(format!(
                        "could not restore {prev}: {e}; it is still in the tested state"
                    )),
                }
            }
        }
    }
    if !written.is_empty() {
        let after = describe_alarms(aws, &written).await?;
        for t in tests.iter_mut().filter(|t| written.contains(&t.name)) {
            let want = t.restored.clone().unwrap_or_default();
            if let Some(l) = after.get(&t.name)
                && l.state != want
            {
                t.problems.push(format!(
                    "restored {want}, but the alarm now shows {}",
                    l.state
                ));
            }
        }
    }
    Ok(())
}

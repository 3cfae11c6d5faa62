//! `vigil test-alarm` (lab step 8): fire declared alarms on purpose, confirm the
//! state changed, show where the notification goes, and put the state back.
//!
//! The notification path is judged from the live alarm: the actions AWS would
//! run for the tested state, and for each SNS topic its subscriptions by status.
//! A path is broken when the notification reaches nobody.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, MetricDatum, StateValue, Statistic, StatisticSet,
};
use aws_smithy_types::DateTime;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;

use super::{
    Endpoint, LiveAlarm, TopicSubscriptions, actions_field, describe_alarms, format_duration,
    sns_arn_parts,
};
use crate::aws::{ApiCalls, Aws, AwsError, AwsResultExt};
use crate::kinds::KindId;
use crate::manifest::Manifests;

/// Every state reason vigil writes starts with this, so a restore never
/// overwrites a state that CloudWatch itself set in the meantime.
pub const REASON_MARK: &str = "vigil test-alarm:";

/// SetAlarmState takes a reason of at most 1023 characters.
const MAX_REASON: usize = 1023;

#[derive(Debug, Clone)]
pub struct Options {
    /// Declared alarms to test, in directory order.
    pub alarms: Vec<(KindId, String)>,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub hold: Duration,
    pub restore: bool,
    pub via_metric: bool,
    /// How long to wait for the state change to show.
    pub timeout: Duration,
    /// Time between reads while waiting.
    pub poll: Duration,
    /// Progress lines on stderr while it runs.
    pub progress: bool,
}

/// One action of the tested state, and where it leads.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCheck {
    pub arn: String,
    /// `sns`, or `other` for actions vigil does not follow (Lambda, Auto Scaling, EC2, SSM).
    pub target: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether vigil read where it leads.
    pub checked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    pub confirmed: Vec<Endpoint>,
    pub pending: Vec<Endpoint>,
}

/// The outcome for one alarm.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmTest {
    pub kind: String,
    pub name: String,
    pub previous_state: Option<String>,
    pub fired: bool,
    pub confirmed: bool,
    /// The state put back, when vigil restored it.
    pub restored: Option<String>,
    pub actions_enabled: Option<bool>,
    pub actions: Vec<ActionCheck>,
    /// Each one means the path is broken.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

impl AlarmTest {
    pub fn broken(&self) -> bool {
        !self.problems.is_empty()
    }

    fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestReport {
    pub state: String,
    pub via_metric: bool,
    pub hold_seconds: u64,
    pub restore: bool,
    pub alarms: Vec<AlarmTest>,
    pub passed: usize,
    pub broken: usize,
    pub api_calls: ApiCalls,
}

/// Splits `NAME... [DIR]`: the last argument is the directory when it names one.
pub fn split_args(args: &[String], all: bool) -> Result<(PathBuf, Vec<String>), String> {
    let mut names = args.to_vec();
    let dir = match names.last() {
        Some(last) if std::path::Path::new(last).is_dir() => {
            PathBuf::from(names.pop().unwrap_or_default())
        }
        _ => PathBuf::from("./desired-state"),
    };
    match (all, names.is_empty()) {
        (true, false) => Err(format!(
            "--all tests every declared alarm; do not name alarms with it ({} given; `{}` is not a directory)",
            names.len(),
            names[0]
        )),
        (false, true) => Err("name the alarms to test, or pass --all".into()),
        _ => Ok((dir, names)),
    }
}

/// The declared alarms to test. Every name must be a declared MetricAlarm or CompositeAlarm.
pub fn select(m: &Manifests, names: &[String], all: bool) -> Result<Vec<(KindId, String)>, String> {
    let declared = super::declared_alarms(m);
    if all {
        if declared.is_empty() {
            return Err(format!(
                "{} declares no MetricAlarm or CompositeAlarm",
                m.dir.display()
            ));
        }
        return Ok(declared);
    }
    let mut out = Vec::new();
    for n in names {
        match declared.iter().find(|(_, d)| d == n) {
            Some(found) if !out.contains(found) => out.push(found.clone()),
            Some(_) => {}
            None => {
                let known: Vec<&str> = declared.iter().map(|(_, d)| d.as_str()).collect();
                return Err(format!(
                    "`{n}` is not an alarm declared in {}; declared alarms: {}",
                    m.dir.display(),
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
    }
    Ok(out)
}

fn aws_namespace_refusal(id: &str, ns: &str) -> String {
    format!(
        "{id}: --via-metric publishes datapoints to the alarm's own metric, but {ns} is an AWS namespace. \
         AWS refuses PutMetricData into AWS/ namespaces, and test datapoints must never mix with a service's \
         real ones. --via-metric works only for custom namespaces; test this alarm without --via-metric (SetAlarmState)"
    )
}

/// Why `--via-metric` cannot test these alarms, read from the manifests before any call.
pub fn via_metric_refusals(m: &Manifests, alarms: &[(KindId, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name) in alarms {
        let id = format!("{kind}/{name}");
        if *kind == KindId::CompositeAlarm {
            out.push(format!(
                "{id}: --via-metric needs a metric alarm; a composite alarm has no metric of its own. \
                 Test it without --via-metric, or test the alarms its rule names"
            ));
            continue;
        }
        let Some(r) = m.find(*kind, name).map(|i| &m.resources[i]) else {
            continue;
        };
        let spec = &r.spec;
        if spec
            .get("metrics")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            out.push(format!(
                "{id}: --via-metric publishes to one metric, but this alarm uses metric math; test it without --via-metric"
            ));
        } else if let Some(ns) = spec.get("namespace").and_then(Value::as_str)
            && ns.starts_with("AWS/")
        {
            out.push(aws_namespace_refusal(&id, ns));
        }
    }
    out
}

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

/// Where the tested state's notifications go. Pure: subscriptions were read before.
fn judge(
    l: &LiveAlarm,
    state: &str,
    region: &str,
    account: &str,
    subs: &HashMap<String, Result<Option<TopicSubscriptions>, AwsError>>,
    t: &mut AlarmTest,
) {
    let actions = l.actions_for(state);
    t.actions_enabled = Some(l.actions_enabled);
    if !l.actions_enabled {
        t.problems.push(
            "actions are disabled (actionsEnabled: false): CloudWatch runs no action on a state change, so notifications reach nobody"
                .into(),
        );
    }
    if actions.is_empty() {
        t.problems.push(format!(
            "notifications reach nobody: the alarm has no {state} action ({} is empty)",
            actions_field(state)
        ));
    }
    let mut reaches = false;
    let mut topic_msgs = Vec::new();
    for arn in actions {
        let Some((r, acct, topic)) = sns_arn_parts(arn) else {
            t.notes.push(format!(
                "{arn}: not an SNS topic; vigil does not follow where it leads"
            ));
            t.actions.push(ActionCheck {
                arn: arn.clone(),
                target: "other",
                topic: None,
                checked: false,
                exists: None,
                confirmed: vec![],
                pending: vec![],
            });
            reaches = true;
            continue;
        };
        let mut check = ActionCheck {
            arn: arn.clone(),
            target: "sns",
            topic: Some(topic.to_string()),
            checked: false,
            exists: None,
            confirmed: vec![],
            pending: vec![],
        };
        if r != region || acct != account {
            t.notes.push(format!(
                "topic {topic} is in account {acct}, region {r}: its subscriptions were not checked"
            ));
            reaches = true;
        } else {
            match subs.get(arn.as_str()) {
                Some(Ok(None)) => {
                    check.checked = true;
                    check.exists = Some(false);
                    topic_msgs.push(format!(
                        "topic {topic} does not exist, so SNS delivers nothing"
                    ));
                }
                Some(Ok(Some(s))) => {
                    check.checked = true;
                    check.exists = Some(true);
                    check.confirmed = s.confirmed.clone();
                    check.pending = s.pending.clone();
                    if !s.confirmed.is_empty() {
                        reaches = true;
                    } else if s.pending.is_empty() {
                        topic_msgs.push(format!(
                            "topic {topic} has no subscription, so SNS delivers to nobody"
                        ));
                    } else {
                        let list: Vec<String> = s.pending.iter().map(ToString::to_string).collect();
                        topic_msgs.push(format!(
                            "topic {topic} has no confirmed subscription: {} pending confirmation ({}); SNS delivers nothing until someone confirms",
                            s.pending.len(),
                            list.join(", ")
                        ));
                    }
                }
                Some(Err(e)) => {
                    t.warnings.push(format!(
                        "topic {topic}: its subscriptions could not be read: {e}"
                    ));
                    reaches = true;
                }
                None => reaches = true,
            }
        }
        t.actions.push(check);
    }
    if !actions.is_empty() && !reaches {
        t.problems.push(format!(
            "notifications reach nobody: no {state} action leads to a confirmed subscription"
        ));
        t.problems.extend(topic_msgs);
    } else {
        t.warnings.extend(topic_msgs);
    }
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

fn progress(opts: &Options, msg: &str) {
    if opts.progress {
        eprintln!("{}", crate::secret::redact_text(msg));
    }
}

/// Runs the test. `Err` only when vigil cannot read the alarms at all.
pub async fn run(aws: &Aws, opts: &Options) -> Result<TestReport, AwsError> {
    let target = opts.state.as_str();
    let names: Vec<String> = opts.alarms.iter().map(|(_, n)| n.clone()).collect();
    let live = describe_alarms(aws, &names).await?;
    let mut tests: Vec<AlarmTest> = opts
        .alarms
        .iter()
        .map(|(kind, name)| AlarmTest {
            kind: kind.name().to_string(),
            name: name.clone(),
            previous_state: live.get(name).map(|l| l.state.clone()),
            fired: false,
            confirmed: false,
            restored: None,
            actions_enabled: None,
            actions: vec![],
            problems: vec![],
            warnings: vec![],
            notes: vec![],
        })
        .collect();

    // Where notifications go: each same-account topic is read once, however many alarms use it.
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
    let subs: HashMap<String, Result<Option<TopicSubscriptions>, AwsError>> =
        futures::stream::iter(topics)
            .map(|arn| async move {
                let r = super::topic_subscriptions(aws, &arn).await;
                (arn, r)
            })
            .buffer_unordered(8)
            .collect()
            .await;
    for t in &mut tests {
        match live.get(&t.name) {
            Some(l) => judge(l, target, &aws.env.region, &aws.env.account_id, &subs, t),
            None => t.problems.push(
                "the alarm does not exist in AWS; run `vigil reconcile` to create it".to_string(),
            ),
        }
    }

    // Fire.
    if opts.via_metric {
        fire_via_metric(aws, &live, &mut tests).await;
    } else {
        let hold = format_duration(opts.hold);
        // `(index, whether the state was changed at all, outcome)`.
        let results: Vec<(usize, bool, Result<Option<String>, AwsError>)> = futures::stream::iter(
            tests.iter().enumerate().filter(|(_, t)| t.previous_state.is_some()),
        )
        .map(|(i, t)| {
            let name = t.name.clone();
            let prev = t.previous_state.clone().unwrap_or_default();
            let restore_note = if opts.restore { format!(" vigil puts back {prev} after {hold}.") } else { String::new() };
            async move {
                let mut note = None;
                // AWS notifies only on a change: an alarm already in the target state goes through another first.
                if prev == target {
                    let step = if target == "INSUFFICIENT_DATA" { "OK" } else { "INSUFFICIENT_DATA" };
                    let reason = format!("{REASON_MARK} a step before the test: the alarm was already {prev}, and AWS notifies only on a change.");
                    if let Err(e) = set_state(aws, &name, step, reason, &prev).await {
                        return (i, false, Err(e));
                    }
                    note = Some(format!("it was already {prev}, so vigil set {step} first: AWS notifies only on a change"));
                }
                let reason = format!(
                    "{REASON_MARK} a test of the notification path set {target} on purpose; this is not a real {target}.{restore_note}"
                );
                let r = set_state(aws, &name, target, reason, &prev).await;
                (i, note.is_some() || r.is_ok(), r.map(|()| note))
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

    // Confirm.
    let fired: Vec<String> = tests
        .iter()
        .filter(|t| t.fired)
        .map(|t| t.name.clone())
        .collect();
    if !fired.is_empty() {
        progress(
            opts,
            &format!(
                "waiting up to {} for {} alarm(s) to show {target}",
                format_duration(opts.timeout),
                fired.len()
            ),
        );
        let seen = wait_for(aws, &fired, target, opts.timeout, opts.poll).await?;
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
    }

    // Hold, then restore.
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
        restore(aws, &fired, &mut tests).await?;
    } else if !opts.restore {
        for t in tests.iter_mut().filter(|t| t.fired) {
            t.notes.push(format!("left in {target} (--no-restore)"));
        }
    }

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

async fn fire_via_metric(aws: &Aws, live: &HashMap<String, LiveAlarm>, tests: &mut [AlarmTest]) {
    let now = super::epoch_secs(std::time::SystemTime::now());
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

impl TestReport {
    pub fn to_json(&self) -> String {
        crate::secret::redact_json(self)
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let how = if self.via_metric {
            "by publishing breaching datapoints"
        } else {
            "by SetAlarmState"
        };
        let then = if self.via_metric {
            String::new()
        } else if self.restore {
            format!(
                ", hold {}, then restore",
                format_duration(Duration::from_secs(self.hold_seconds))
            )
        } else {
            ", no restore".to_string()
        };
        let _ = writeln!(
            out,
            "Testing {} alarm(s): {} {how}{then}.",
            self.alarms.len(),
            self.state
        );
        for t in &self.alarms {
            let _ = writeln!(out);
            let status = match (t.fired, t.confirmed) {
                (_, true) => "confirmed",
                (true, false) => "NOT CONFIRMED",
                (false, false) => "not fired",
            };
            let restored = t
                .restored
                .as_ref()
                .map_or_else(String::new, |s| format!(", restored {s}"));
            let _ = writeln!(
                out,
                "{}: {} -> {}  {status}{restored}",
                t.id(),
                t.previous_state.as_deref().unwrap_or("(absent)"),
                self.state
            );
            if !t.actions.is_empty() {
                let _ = writeln!(out, "  {} actions:", self.state);
            }
            for a in &t.actions {
                match (&a.topic, a.exists) {
                    (Some(topic), Some(true)) => {
                        let _ = writeln!(
                            out,
                            "    SNS topic {topic}: {} confirmed, {} pending",
                            a.confirmed.len(),
                            a.pending.len()
                        );
                        for e in &a.confirmed {
                            let _ = writeln!(out, "      confirmed {e}");
                        }
                        for e in &a.pending {
                            let _ = writeln!(out, "      pending   {e}");
                        }
                    }
                    (Some(topic), Some(false)) => {
                        let _ = writeln!(out, "    SNS topic {topic}: does not exist");
                    }
                    (Some(topic), None) => {
                        let _ = writeln!(out, "    SNS topic {topic}: not checked");
                    }
                    (None, _) => {
                        let _ = writeln!(out, "    {}: not checked", a.arn);
                    }
                }
            }
            for p in &t.problems {
                let _ = writeln!(out, "  !! {}", p.to_uppercase_first());
            }
            for w in &t.warnings {
                let _ = writeln!(out, "  warning: {w}");
            }
            for n in &t.notes {
                let _ = writeln!(out, "  note: {n}");
            }
        }
        let _ = writeln!(out);
        let broken: Vec<String> = self
            .alarms
            .iter()
            .filter(|t| t.broken())
            .map(AlarmTest::id)
            .collect();
        let _ = writeln!(
            out,
            "Result: {} passed, {} broken{}.",
            self.passed,
            self.broken,
            if broken.is_empty() {
                String::new()
            } else {
                format!(" ({})", broken.join(", "))
            }
        );
        // Endpoints print as their shape: a webhook key stays out of the terminal.
        crate::secret::redact_text(&out).into_owned()
    }

    /// The loud part: one line per broken path, for stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.alarms
            .iter()
            .flat_map(|t| {
                t.problems
                    .iter()
                    .map(move |p| format!("WARNING: {}: {p}", t.id()))
            })
            .collect()
    }
}

trait UpperFirst {
    fn to_uppercase_first(&self) -> String;
}

impl UpperFirst for String {
    fn to_uppercase_first(&self) -> String {
        let mut c = self.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => String::new(),
        }
    }
}

/// SetAlarmState shows at once. Datapoints take up to the evaluated periods plus a
/// couple of minutes for CloudWatch to evaluate them.
pub fn default_timeout(m: &Manifests, alarms: &[(KindId, String)], via_metric: bool) -> Duration {
    if !via_metric {
        return Duration::from_secs(10);
    }
    let longest = alarms
        .iter()
        .filter_map(|(k, n)| m.find(*k, n).map(|i| &m.resources[i].spec))
        .map(|s| {
            let period = s.get("period").and_then(Value::as_u64).unwrap_or(60);
            let n = s
                .get("datapointsToAlarm")
                .or_else(|| s.get("evaluationPeriods"))
                .and_then(Value::as_u64)
                .unwrap_or(1);
            period * n
        })
        .max()
        .unwrap_or(60);
    Duration::from_secs((longest + 120).min(1800))
}

#[cfg(test)]
mod tests;

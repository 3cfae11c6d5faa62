//! test-alarm against replayed responses. moto confirms every SNS subscription at
//! once, so the pending-confirmation path (the lab's email before anyone clicks
//! the link) is tested here with the shapes AWS returns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::judge::judge;
use super::run::MAX_REASON;
use super::*;
use crate::aws::Aws;
use crate::aws::testing::{MockClients, aws_with, mock_aws};
use crate::kinds::KindId;
use crate::manifest::Manifests;
use crate::ops::{Endpoint, describe_alarms};
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::set_alarm_state::{SetAlarmStateError, SetAlarmStateOutput};
use aws_sdk_cloudwatch::types::StandardUnit;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricAlarm, StateValue, Statistic,
};
use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
use aws_sdk_sns::types::Subscription;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::Value;

const NAME: &str = "HighCPUUtilization";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:monitoring-lab-alerts";

fn alarm(state: StateValue, reason: &str) -> MetricAlarm {
    MetricAlarm::builder()
        .alarm_name(NAME)
        .alarm_arn(format!(
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{NAME}"
        ))
        .state_value(state)
        .state_reason(reason)
        .actions_enabled(true)
        .alarm_actions(TOPIC)
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .build()
}

fn describe(a: MetricAlarm) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_names() == [NAME])
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(a.clone())
                .build()
        })
}

fn set(state: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_cloudwatch::Client::set_alarm_state)
        .match_requests(move |r| {
            r.alarm_name() == Some(NAME)
                && r.state_value().map(StateValue::as_str) == Some(state)
                && r.state_reason()
                    .is_some_and(|s| s.starts_with(REASON_MARK) && s.len() <= MAX_REASON)
                && r.state_reason_data()
                    .is_some_and(|d| serde_json::from_str::<Value>(d).is_ok())
        })
        .then_output(|| SetAlarmStateOutput::builder().build())
}

fn subscriptions(arn: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .match_requests(|r| r.topic_arn() == Some(TOPIC))
        .then_output(move || {
            ListSubscriptionsByTopicOutput::builder()
                .subscriptions(
                    Subscription::builder()
                        .subscription_arn(arn)
                        .owner("123456789012")
                        .protocol("email")
                        .endpoint("ops@example.com")
                        .topic_arn(TOPIC)
                        .build(),
                )
                .build()
        })
}

/// Clients whose CloudWatch answers `cw` in order and whose SNS answers `sns`.
fn mocked<'a>(
    cw: impl IntoIterator<Item = &'a aws_smithy_mocks::Rule>,
    sns: &aws_smithy_mocks::Rule,
) -> Aws {
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, cw);
    let sns = mock_client!(aws_sdk_sns, RuleMode::Sequential, [sns]);
    aws_with(MockClients {
        cloudwatch: Some(cw),
        sns: Some(sns),
        ..Default::default()
    })
}

fn opts() -> TestAlarmOptions {
    TestAlarmOptions {
        alarms: vec![(KindId::MetricAlarm, NAME.to_string())],
        state: "ALARM".into(),
        hold: Duration::ZERO,
        restore: true,
        via_metric: false,
        timeout: Duration::from_secs(1),
        poll: Duration::from_millis(10),
        progress: false,
    }
}

fn ours(state: StateValue) -> MetricAlarm {
    alarm(state, &format!("{REASON_MARK} a test"))
}

/// The test with the default options against these CloudWatch answers, in
/// order, and this SNS answer; each CloudWatch answer is asked for once.
async fn run_through(rules: &[aws_smithy_mocks::Rule], sns: &aws_smithy_mocks::Rule) -> TestReport {
    let aws = mocked(rules, sns);
    let report = run(&aws, &opts()).await.unwrap();
    for r in rules {
        assert_eq!(r.num_calls(), 1);
    }
    report
}

#[tokio::test]
async fn a_pending_email_subscription_is_a_broken_path_and_the_state_is_put_back() {
    let rules = [
        describe(alarm(
            StateValue::Ok,
            "Threshold Crossed: no datapoint was breaching",
        )),
        set("ALARM"),
        describe(ours(StateValue::Alarm)),
        describe(ours(StateValue::Alarm)),
        set("OK"),
        describe(ours(StateValue::Ok)),
    ];
    let pending = subscriptions("PendingConfirmation");
    let report = run_through(&rules, &pending).await;
    assert_eq!(pending.num_calls(), 1);
    let t = &report.alarms[0];
    assert!(t.fired && t.confirmed, "{t:#?}");
    assert_eq!(t.previous_state.as_deref(), Some("OK"));
    assert_eq!(t.restored.as_deref(), Some("OK"));
    assert_eq!(
        t.actions[0].pending,
        vec![Endpoint {
            protocol: "email".into(),
            endpoint: "ops@example.com".into()
        }]
    );
    assert!(t.actions[0].confirmed.is_empty());
    assert_eq!(
        t.problems,
        vec![
            "notifications reach nobody: no ALARM action leads to a confirmed subscription".to_string(),
            "topic monitoring-lab-alerts has no confirmed subscription: 1 pending confirmation (email:ops@example.com); SNS delivers nothing until someone confirms".to_string(),
        ]
    );
    assert_eq!((report.passed, report.broken), (0, 1));
    let text = report.to_text();
    assert!(
        text.contains("MetricAlarm/HighCPUUtilization: OK -> ALARM  confirmed, restored OK"),
        "{text}"
    );
    assert!(text.contains("    SNS topic monitoring-lab-alerts: 0 confirmed, 1 pending\n      pending   email:ops@example.com"), "{text}");
    assert!(text.contains("  !! Notifications reach nobody"), "{text}");
    assert!(
        text.ends_with("Result: 0 passed, 1 broken (MetricAlarm/HighCPUUtilization).\n"),
        "{text}"
    );
    assert_eq!(report.warnings().len(), 2);
}

#[tokio::test]
async fn an_alarm_already_in_alarm_goes_through_another_state_first() {
    let rules = [
        describe(alarm(
            StateValue::Alarm,
            "Threshold Crossed: 2 datapoints were greater than 80",
        )),
        set("INSUFFICIENT_DATA"),
        set("ALARM"),
        describe(ours(StateValue::Alarm)),
        // Restoring: it is already in its previous state, so nothing is written.
        describe(ours(StateValue::Alarm)),
    ];
    let confirmed = subscriptions("arn:aws:sns:us-east-1:123456789012:monitoring-lab-alerts:0b7f");
    let report = run_through(&rules, &confirmed).await;
    let t = &report.alarms[0];
    assert!(t.problems.is_empty() && t.warnings.is_empty(), "{t:#?}");
    assert_eq!(t.actions[0].confirmed.len(), 1);
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("so vigil set INSUFFICIENT_DATA first")),
        "{:?}",
        t.notes
    );
    assert!(
        t.notes.contains(&"already back in ALARM".to_string()),
        "{:?}",
        t.notes
    );
    assert_eq!((report.passed, report.broken), (1, 0));
}

/// SetAlarmState refused for want of permission.
fn denied_error() -> SetAlarmStateError {
    SetAlarmStateError::generic(crate::aws::testing::error_meta(
        "AccessDenied",
        "User is not authorized to perform: cloudwatch:SetAlarmState",
    ))
}

#[tokio::test]
async fn no_action_for_the_state_and_a_refused_write_are_both_broken() {
    // Testing OK: the lab's alarms have no okActions, so nobody hears of it.
    let denied = mock!(aws_sdk_cloudwatch::Client::set_alarm_state).then_error(denied_error);
    let first = describe(alarm(StateValue::Alarm, "real"));
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, Sequential, [&first, &denied]);
    let mut o = opts();
    o.state = "OK".into();
    let report = run(&aws, &o).await.unwrap();
    assert_eq!(
        (first.num_calls(), denied.num_calls()),
        (1, 1),
        "AccessDenied is not retried"
    );
    let t = &report.alarms[0];
    assert!(!t.fired && !t.confirmed && t.restored.is_none());
    assert_eq!(t.problems.len(), 2, "{:?}", t.problems);
    assert_eq!(
        t.problems[0],
        "notifications reach nobody: the alarm has no OK action (okActions is empty)"
    );
    assert!(
        t.problems[1]
            .starts_with("could not set the state: cloudwatch SetAlarmState: AccessDenied"),
        "{}",
        t.problems[1]
    );
}

#[tokio::test]
async fn an_undeclared_live_state_left_by_cloudwatch_is_not_overwritten() {
    // CloudWatch evaluated the alarm during the hold: its reason is no longer vigil's.
    let rules = [
        describe(alarm(StateValue::Ok, "real")),
        set("ALARM"),
        describe(ours(StateValue::Alarm)),
        describe(alarm(
            StateValue::Alarm,
            "Threshold Crossed: 2 datapoints were greater than 80",
        )),
    ];
    let confirmed = subscriptions("arn:aws:sns:us-east-1:123456789012:monitoring-lab-alerts:0b7f");
    let report = run_through(&rules, &confirmed).await;
    let t = &report.alarms[0];
    assert!(t.restored.is_none());
    assert!(
        t.notes
            .iter()
            .any(|n| n.contains("vigil left that state alone")),
        "{:?}",
        t.notes
    );
    assert_eq!(report.broken, 0);
}

#[tokio::test]
async fn actions_disabled_and_a_missing_topic_reach_nobody() {
    let mut a = alarm(StateValue::Ok, "real");
    a.actions_enabled = Some(false);
    let rules = [describe(a)];
    let missing = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic).then_error(|| {
        aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicError::NotFoundException(
            aws_sdk_sns::types::error::NotFoundException::builder()
                .message("Topic does not exist")
                .meta(aws_smithy_types::error::ErrorMetadata::builder().code("NotFound").message("Topic does not exist").build())
                .build(),
        )
    });
    let aws = mocked(&rules, &missing);
    let mut o = opts();
    o.restore = false;
    // Nothing is set: SetAlarmState is not among the rules, so a call would fail the test.
    let judged = {
        let live = describe_alarms(&aws, &[NAME.to_string()]).await.unwrap();
        let subs = HashMap::from([(
            TOPIC.to_string(),
            super::super::topic_subscriptions(&aws, TOPIC).await,
        )]);
        let mut t = AlarmTest::new(KindId::MetricAlarm, NAME, None);
        judge(
            &live[NAME],
            "ALARM",
            "us-east-1",
            "123456789012",
            &subs,
            &mut t,
        );
        t
    };
    assert_eq!(missing.num_calls(), 1);
    assert_eq!(judged.actions[0].exists, Some(false));
    assert_eq!(
        judged.problems,
        vec![
            "actions are disabled (actionsEnabled: false): CloudWatch runs no action on a state change, so notifications reach nobody".to_string(),
            "notifications reach nobody: no ALARM action leads to a confirmed subscription".to_string(),
            "topic monitoring-lab-alerts does not exist, so SNS delivers nothing".to_string(),
        ]
    );
}

#[test]
fn breaching_datapoints_cross_the_threshold_in_each_evaluated_period() {
    let a = MetricAlarm::builder()
        .alarm_name("HighResponseTime")
        .namespace("MonitoringLab/Application")
        .metric_name("ResponseTime")
        .dimensions(
            Dimension::builder()
                .name("Environment")
                .value("lab")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(3)
        .threshold(400.0)
        .unit(StandardUnit::Milliseconds)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .build();
    let (ns, data) = breaching_data(&a, 10_000).unwrap();
    assert_eq!(ns, "MonitoringLab/Application");
    assert_eq!(data.len(), 3, "one per evaluated period");
    assert!(
        data.iter()
            .all(|d| d.value() == Some(440.0) && d.unit() == Some(&StandardUnit::Milliseconds))
    );
    let ts: Vec<i64> = data.iter().map(|d| d.timestamp().unwrap().secs()).collect();
    assert_eq!(ts, vec![10_000, 9_700, 9_400]);

    let mut low = a.clone();
    low.comparison_operator = Some(ComparisonOperator::LessThanThreshold);
    low.threshold = Some(5.0);
    low.datapoints_to_alarm = Some(1);
    let (_, data) = breaching_data(&low, 0).unwrap();
    assert_eq!((data.len(), data[0].value()), (1, Some(4.0)));

    let mut count = a.clone();
    count.statistic = Some(Statistic::SampleCount);
    count.threshold = Some(10.0);
    let (_, data) = breaching_data(&count, 0).unwrap();
    assert_eq!(
        data[0].statistic_values().unwrap().sample_count(),
        Some(11.0)
    );

    let mut aws_ns = a.clone();
    aws_ns.namespace = Some("AWS/EC2".into());
    assert!(
        breaching_data(&aws_ns, 0)
            .unwrap_err()
            .contains("AWS/EC2 is an AWS namespace")
    );
    let mut band = a;
    band.comparison_operator = Some(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold);
    assert!(
        breaching_data(&band, 0)
            .unwrap_err()
            .contains("anomaly band")
    );
}

fn lab() -> (tempfile::TempDir, Manifests) {
    let tmp = tempfile::tempdir().unwrap();
    let alarm = |name: &str, ns: &str| {
        format!(
            "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata: {{name: {name}}}\nspec:\n  namespace: {ns}\n  metricName: m\n  statistic: Average\n  period: 60\n  evaluationPeriods: 2\n  threshold: 1\n  comparisonOperator: GreaterThanThreshold\n"
        )
    };
    let text = [
        alarm("cpu", "AWS/EC2"),
        alarm("latency", "MonitoringLab/Application"),
        "apiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata: {name: any}\nspec:\n  alarmRule: ALARM(cpu)\n".into(),
    ]
    .join("---\n");
    std::fs::write(tmp.path().join("a.yaml"), text).unwrap();
    let m = crate::manifest::load(tmp.path()).unwrap();
    (tmp, m)
}

#[test]
fn names_must_be_declared_alarms() {
    let (_tmp, m) = lab();
    let all = select(&m, &[], true).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(
        select(&m, &["latency".into(), "latency".into()], false)
            .unwrap()
            .len(),
        1
    );
    let err = select(&m, &["nope".into()], false).unwrap_err();
    assert!(
        err.contains("`nope` is not an alarm declared in")
            && err.ends_with("declared alarms: cpu, latency, any"),
        "{err}"
    );
}

#[test]
fn via_metric_refuses_aws_namespaces_and_composites_before_any_call() {
    let (_tmp, m) = lab();
    let all = select(&m, &[], true).unwrap();
    let refusals = via_metric_refusals(&m, &all);
    assert_eq!(refusals.len(), 2, "{refusals:?}");
    assert!(refusals[0].starts_with("MetricAlarm/cpu: --via-metric publishes datapoints to the alarm's own metric, but AWS/EC2 is an AWS namespace"));
    assert!(refusals[1].starts_with("CompositeAlarm/any: --via-metric needs a metric alarm"));
    let custom = select(&m, &["latency".into()], false).unwrap();
    assert!(via_metric_refusals(&m, &custom).is_empty());
}

#[test]
fn the_last_argument_is_the_directory_when_it_is_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap().to_string();
    let (dir, names) = split_args(&["a".into(), "b".into(), d.clone()], false).unwrap();
    assert_eq!(
        (dir.to_str().unwrap(), names),
        (d.as_str(), vec!["a".to_string(), "b".to_string()])
    );
    let (dir, names) = split_args(&["a".into()], false).unwrap();
    assert_eq!(
        (dir, names),
        (PathBuf::from("./desired-state"), vec!["a".to_string()])
    );
    assert!(
        split_args(std::slice::from_ref(&d), true)
            .unwrap()
            .1
            .is_empty()
    );
    assert!(
        split_args(&["a".into()], true)
            .unwrap_err()
            .starts_with("--all tests every declared alarm")
    );
    assert!(split_args(&[], false).is_err());
}

#[tokio::test]
async fn a_first_step_is_put_back_when_the_second_is_refused() {
    let refused = mock!(aws_sdk_cloudwatch::Client::set_alarm_state)
        .match_requests(|r| r.state_value() == Some(&StateValue::Alarm))
        .then_error(denied_error);
    let first = describe(alarm(StateValue::Alarm, "real"));
    let step = set("INSUFFICIENT_DATA");
    let confirm = describe(ours(StateValue::InsufficientData));
    let before_restore = describe(ours(StateValue::InsufficientData));
    let restore = set("ALARM");
    let after = describe(ours(StateValue::Alarm));
    let rules = [
        &first,
        &step,
        &refused,
        &confirm,
        &before_restore,
        &restore,
        &after,
    ];
    let confirmed = subscriptions("arn:aws:sns:us-east-1:123456789012:monitoring-lab-alerts:0b7f");
    let aws = mocked(rules, &confirmed);
    let mut o = opts();
    o.timeout = Duration::ZERO;
    let report = run(&aws, &o).await.unwrap();
    for r in rules {
        assert_eq!(r.num_calls(), 1);
    }
    let t = &report.alarms[0];
    assert!(t.fired && !t.confirmed);
    assert_eq!(t.restored.as_deref(), Some("ALARM"), "{t:#?}");
    assert!(
        t.problems[0]
            .starts_with("could not set the state: cloudwatch SetAlarmState: AccessDenied"),
        "{:?}",
        t.problems
    );
    assert_eq!(report.broken, 1);
}

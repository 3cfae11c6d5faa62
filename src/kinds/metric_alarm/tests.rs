//! Unit tests of the metric_alarm kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::{apply, observe_live};

fn base() -> Spec {
    Spec {
        metric_name: Some("CPUUtilization".into()),
        namespace: Some("AWS/EC2".into()),
        statistic: Some("Average".into()),
        period: Some(300),
        evaluation_periods: Some(2),
        threshold: Some(80.0),
        comparison_operator: Some("GreaterThanThreshold".into()),
        dimensions: BTreeMap::from([("InstanceId".into(), "i-1".into())]),
        ..Spec::default()
    }
}

fn errors(s: &Spec) -> Vec<String> {
    crate::testkit::fixtures::messages::<MetricAlarm>(s)
}

#[test]
fn defaults_equal_explicit_values() {
    let implicit = base();
    let explicit = Spec {
        treat_missing_data: Some("missing".into()),
        datapoints_to_alarm: Some(2),
        actions_enabled: Some(true),
        ..base()
    };
    assert_eq!(canonical(&implicit, None), canonical(&explicit, None));
}

fn live_alarm(
    dims: &[(&str, &str)],
    state: aws_sdk_cloudwatch::types::StateValue,
) -> aws_sdk_cloudwatch::types::MetricAlarm {
    let mut b = aws_sdk_cloudwatch::types::MetricAlarm::builder()
        .metric_name("CPUUtilization")
        .namespace("AWS/EC2")
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .threshold(80.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .set_ok_actions(Some(vec![]))
        .set_metrics(Some(vec![]))
        .state_value(state.clone())
        .state_reason(format!("{state:?}"));
    for (k, v) in dims {
        b = b.dimensions(Dimension::builder().name(*k).value(*v).build());
    }
    b.build()
}

// `alarmDescription: ""` was compared with the absent description AWS reports:
// a diff on every run, and a PutMetricAlarm to "fix" it each time.
#[test]
fn an_empty_description_is_no_description() {
    let empty = Spec {
        alarm_description: Some(String::new()),
        ..base()
    };
    let live = live_alarm(
        &[("InstanceId", "i-1")],
        aws_sdk_cloudwatch::types::StateValue::Ok,
    );
    assert_eq!(
        canonical(&empty, None),
        canonical(&spec_from_live(&live), None)
    );
}

#[test]
fn dimension_order_and_empty_lists_do_not_matter() {
    use aws_sdk_cloudwatch::types::StateValue;
    let live = live_alarm(&[("InstanceId", "i-1")], StateValue::Ok);
    assert_eq!(
        canonical(&spec_from_live(&live), None),
        canonical(&base(), None)
    );
    let mut two = base();
    two.dimensions.insert("A".into(), "b".into());
    let reversed = live_alarm(&[("InstanceId", "i-1"), ("A", "b")], StateValue::Ok);
    assert_eq!(
        canonical(&spec_from_live(&reversed), None),
        canonical(&two, None)
    );
    // An empty dimension list means absent.
    let mut none = base();
    none.dimensions.clear();
    assert!(canonical(&none, None).get("dimensions").is_none());
}

#[test]
fn state_fields_are_never_compared() {
    use aws_sdk_cloudwatch::types::StateValue;
    let a = live_alarm(&[("InstanceId", "i-1")], StateValue::Alarm);
    let b = live_alarm(&[("InstanceId", "i-1")], StateValue::Ok);
    assert_eq!(
        canonical(&spec_from_live(&a), None),
        canonical(&spec_from_live(&b), None)
    );
}

#[test]
fn actions_compare_as_sets() {
    let mut a = base();
    a.alarm_actions = vec!["arn:b".into(), "arn:a".into()];
    let mut b = base();
    b.alarm_actions = vec!["arn:a".into(), "arn:b".into()];
    assert_eq!(canonical(&a, None), canonical(&b, None));
}

#[test]
fn owner_tag_joins_declared_tags() {
    let mut s = base();
    s.tags = Some(BTreeMap::from([("team".into(), "ops".into())]));
    let env = Env {
        owner: "lab".into(),
        ..Env::default()
    };
    let v = MetricAlarm::normalize(&s, &env);
    assert_eq!(v["tags"], json!({"team": "ops", "vigil:owner": "lab"}));
    // Without `tags`, tags are not managed at all.
    assert!(MetricAlarm::normalize(&base(), &env).get("tags").is_none());
}

#[test]
fn validation_catches_what_aws_rejects() {
    assert!(errors(&base()).is_empty());
    let mut s = base();
    s.extended_statistic = Some("p99".into());
    assert!(errors(&s).iter().any(|e| e.contains("not both")));
    let mut s = base();
    s.period = Some(90);
    assert!(errors(&s).iter().any(|e| e.contains("multiple of 60")));
    let mut s = base();
    s.statistic = Some("Avg".into());
    assert!(
        errors(&s)
            .iter()
            .any(|e| e.contains("`Avg` is not a valid statistic"))
    );
    let mut s = base();
    s.datapoints_to_alarm = Some(3);
    assert!(
        errors(&s)
            .iter()
            .any(|e| e.contains("between 1 and evaluationPeriods"))
    );
    let mut s = base();
    s.alarm_actions = vec!["my-topic".into()];
    assert!(errors(&s).iter().any(|e| e.contains("not an ARN")));
}

#[test]
fn anomaly_band_needs_two_returning_metrics() {
    let s = Spec {
        evaluation_periods: Some(2),
        comparison_operator: Some("LessThanLowerOrGreaterThanUpperThreshold".into()),
        threshold_metric_id: Some("ad1".into()),
        metrics: vec![
            MetricQuery {
                id: "m1".into(),
                metric_stat: Some(MetricStatSpec {
                    metric: MetricSpec {
                        namespace: "AWS/EC2".into(),
                        metric_name: "CPUUtilization".into(),
                        dimensions: BTreeMap::new(),
                    },
                    period: 300,
                    stat: "Average".into(),
                    unit: None,
                }),
                ..Default::default()
            },
            MetricQuery {
                id: "ad1".into(),
                expression: Some("ANOMALY_DETECTION_BAND(m1, 2)".into()),
                ..Default::default()
            },
        ],
        ..Spec::default()
    };
    assert!(errors(&s).is_empty(), "{:?}", errors(&s));
    let mut bad = s.clone();
    bad.threshold = Some(1.0);
    assert!(errors(&bad).iter().any(|e| e.contains("not both")));
}

/// Which DescribeAlarms requests an observe sends, for `wanted`: each as the
/// AlarmNames it carries (empty for a walk of the account).
async fn describe_requests(wanted: &Wanted) -> Vec<Vec<String>> {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_smithy_mocks::mock;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(move |r| {
        s.lock().unwrap().push(r.alarm_names().to_vec());
        DescribeAlarmsOutput::builder().build()
    });
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, MatchAny, [&rule]);
    wanted_alarms(&aws, wanted).await.unwrap();
    seen.lock().unwrap().clone()
}

fn declared(n: usize, population: Option<usize>) -> Wanted {
    Wanted {
        population,
        ..Wanted::names(
            (0..n)
                .map(|i| (format!("alarm-{i:03}"), Value::Null))
                .collect(),
        )
    }
}

// 3 declared in an account the inventory saw holding 250: one DescribeAlarms
// with their names, not three pages of everything. Import, or a declared set
// whose names cost as many calls as a walk, walks the account instead.
#[tokio::test]
async fn a_few_declared_alarms_are_read_by_name_and_many_by_one_walk() {
    assert_eq!(
        describe_requests(&declared(3, Some(250))).await,
        vec![vec!["alarm-000", "alarm-001", "alarm-002"]]
    );
    // 150 names are two calls; a walk of 250, three pages.
    let by_name = describe_requests(&declared(150, Some(250))).await;
    assert_eq!(by_name.iter().map(Vec::len).collect::<Vec<_>>(), [100, 50]);
    for (what, wanted) in [
        ("import", Wanted::everything()),
        ("250 of 250 declared", declared(250, Some(250))),
        ("120 declared, population unknown", declared(120, None)),
        ("3 of an account of 40", declared(3, Some(40))),
    ] {
        assert_eq!(
            describe_requests(&wanted).await,
            vec![Vec::<String>::new()],
            "{what} walks everything"
        );
    }
}

// A throttled DescribeAlarms is retried by the SDK's standard strategy and succeeds;
// the observation then counts two attempts and one throttle.
#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_smithy_mocks::mock;
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .sequence()
        .http_response(crate::aws::testing::cbor_error(
            400,
            "com.amazonaws.cloudwatch#ThrottlingException",
            Some("Throttling;Sender"),
            "Rate exceeded",
        ))
        .output(|| DescribeAlarmsOutput::builder().build())
        .build();
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, Sequential, [&rule], |c| {
        c.retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
    });
    let live = observe_live::<MetricAlarm>(&aws, &Wanted::everything())
        .await
        .unwrap();
    assert!(live.is_empty());
    assert_eq!(rule.num_calls(), 2, "one throttled attempt, one retry");
}

// AccessDenied is terminal: classified once, not retried, and nothing is written.
#[tokio::test]
async fn access_denied_is_terminal_and_not_retried() {
    use aws_smithy_mocks::mock;
    let rule = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .sequence()
        .http_response(crate::aws::testing::cbor_error(
            403,
            "com.amazonaws.cloudwatch#AccessDeniedException",
            Some("AccessDenied;Sender"),
            "AccessDenied for this test",
        ))
        .build();
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, Sequential, [&rule], |c| {
        c.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
    });
    let err = apply::<MetricAlarm>(&aws, "a", &base(), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), crate::aws::ErrorClass::AccessDenied, "{err}");
    assert_eq!(err.aws().unwrap().operation, "PutMetricAlarm");
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    assert_eq!(rule.num_calls(), 1);
}

// The planner's diff decides PutMetricAlarm: a change of tags alone is left to
// the tag sync, a change of anything else is one PutMetricAlarm. The alarm's
// fields are not compared a second time in apply.
#[tokio::test]
async fn put_metric_alarm_follows_the_planners_diff() {
    use crate::diff::FieldDiff;
    use crate::kinds::ApplyOptions;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm).then_output(|| {
        aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput::builder().build()
    });
    let tag = mock!(aws_sdk_cloudwatch::Client::tag_resource).then_output(|| {
        aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput::builder().build()
    });
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&put, &tag]);
    let aws = crate::aws::testing::aws_with(crate::aws::testing::MockClients {
        cloudwatch: Some(cw),
        ..Default::default()
    });
    let spec = Spec {
        tags: Some(BTreeMap::from([("team".into(), "ops".into())])),
        ..base()
    };
    let live = Live {
        name: "a".into(),
        arn: "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a".into(),
        spec: Spec {
            tags: Some(BTreeMap::from([("vigil:owner".into(), "test".into())])),
            ..base()
        },
        state: None,
    };
    let change = |path: &str| ApplyOptions {
        fields: vec![FieldDiff {
            path: path.into(),
            from: None,
            to: Some(serde_json::json!("ops")),
        }],
        ..ApplyOptions::default()
    };
    crate::kinds::apply_typed::<MetricAlarm>(&aws, "a", &spec, Some(&live), &change("tags.team"))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), tag.num_calls()), (0, 1), "tags only");
    crate::kinds::apply_typed::<MetricAlarm>(&aws, "a", &spec, Some(&live), &change("threshold"))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1, "a field other than tags");
}

// The cycle's walk is read, not taken apart: the daily report reads it first,
// and each later reader (an observe, a second observe) still finds every alarm,
// with one DescribeAlarms in all.
#[tokio::test]
async fn the_cycles_alarm_walk_serves_every_reader_in_any_order() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(|| {
        DescribeAlarmsOutput::builder()
            .metric_alarms({
                let mut a = live_alarm(&[], aws_sdk_cloudwatch::types::StateValue::Ok);
                a.alarm_name = Some("cpu".into());
                a
            })
            .build()
    });
    let aws = crate::aws::testing::aws_with(crate::aws::testing::MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&rule]
        )),
        ..Default::default()
    });
    let walk = all_alarms(&aws).await.unwrap();
    assert!(walk.metric.contains_key("cpu"));
    for _ in 0..2 {
        let live = MetricAlarm::observe(&aws, &Wanted::everything())
            .await
            .unwrap();
        assert_eq!(live.keys().collect::<Vec<_>>(), ["cpu"]);
    }
    assert!(all_alarms(&aws).await.unwrap().metric.contains_key("cpu"));
    assert_eq!(rule.num_calls(), 1);
}

fn promql() -> Spec {
    Spec {
        evaluation_criteria: Some(EvaluationCriteriaSpec {
            prom_ql_criteria: PromQlCriteriaSpec {
                query: "up{job=\"api\"} == 0".into(),
                pending_period: Some(300),
                recovery_period: None,
            },
        }),
        evaluation_interval: Some(60),
        alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:alerts".into()],
        ..Spec::default()
    }
}

#[test]
fn a_promql_alarm_needs_no_metric_threshold_or_periods() {
    assert!(errors(&promql()).is_empty(), "{:?}", errors(&promql()));
    // Each field AWS refuses beside EvaluationCriteria is named.
    let mixed = Spec {
        metric_name: Some("CPUUtilization".into()),
        threshold: Some(1.0),
        comparison_operator: Some("GreaterThanThreshold".into()),
        evaluation_periods: Some(1),
        treat_missing_data: Some("missing".into()),
        ..promql()
    };
    let e = errors(&mixed);
    for f in [
        "metricName",
        "threshold",
        "comparisonOperator",
        "evaluationPeriods",
        "treatMissingData",
    ] {
        assert!(
            e.iter()
                .any(|m| m.starts_with(&format!("{f} cannot be used with evaluationCriteria"))),
            "{f}: {e:?}"
        );
    }
}

#[test]
fn promql_interval_and_periods_follow_aws_rules() {
    let no_interval = Spec {
        evaluation_interval: None,
        ..promql()
    };
    assert!(
        errors(&no_interval)
            .iter()
            .any(|e| e.contains("needs evaluationInterval"))
    );
    for (i, ok) in [
        (10, true),
        (20, true),
        (30, true),
        (120, true),
        (45, false),
        (0, false),
    ] {
        let s = Spec {
            evaluation_interval: Some(i),
            ..promql()
        };
        assert_eq!(errors(&s).is_empty(), ok, "{i}: {:?}", errors(&s));
    }
    let mut s = promql();
    s.evaluation_criteria
        .as_mut()
        .unwrap()
        .prom_ql_criteria
        .pending_period = Some(86_401);
    s.evaluation_criteria
        .as_mut()
        .unwrap()
        .prom_ql_criteria
        .query = "  \n".into();
    let e = errors(&s);
    assert!(e.iter().any(|m| m.contains("0 to 86400")), "{e:?}");
    assert!(
        e.iter().any(|m| m.contains("query must not be empty")),
        "{e:?}"
    );
    // An interval belongs to a PromQL alarm only.
    let s = Spec {
        evaluation_interval: Some(60),
        ..base()
    };
    assert!(
        errors(&s)
            .iter()
            .any(|e| e.contains("only for a PromQL alarm"))
    );
    // Without PromQL the operator and the periods are required.
    let s = Spec {
        evaluation_periods: None,
        comparison_operator: None,
        ..base()
    };
    let e = errors(&s);
    assert!(e.contains(&"missing field `evaluationPeriods`: add it to spec".to_string()));
    assert!(e.contains(&"missing field `comparisonOperator`: add it to spec".to_string()));
}

#[test]
fn warm_up_defaults_and_validation() {
    let a = Spec {
        warm_up_configuration: Some(WarmUpSpec {
            warm_up_period_duration_in_minutes: 10,
            only_start_evaluating_after_warm_up_period_ends: None,
        }),
        ..base()
    };
    let mut b = a.clone();
    b.warm_up_configuration
        .as_mut()
        .unwrap()
        .only_start_evaluating_after_warm_up_period_ends = Some(false);
    assert_eq!(canonical(&a, None), canonical(&b, None));
    assert!(errors(&a).is_empty());
    let mut bad = a.clone();
    bad.warm_up_configuration
        .as_mut()
        .unwrap()
        .warm_up_period_duration_in_minutes = 0;
    assert!(
        errors(&bad)
            .iter()
            .any(|e| e.contains("not a warm-up period"))
    );
}

// What DescribeAlarms reports beside a PromQL alarm's criteria (a default
// TreatMissingData, periods of 0) is not a difference, and import writes a
// spec that validates.
#[test]
fn a_live_promql_alarm_reads_back_as_its_spec() {
    use aws_sdk_cloudwatch::types::{AlarmPromQlCriteria, EvaluationCriteria};
    let live = aws_sdk_cloudwatch::types::MetricAlarm::builder()
        .alarm_name("api-down")
        .actions_enabled(true)
        .alarm_actions("arn:aws:sns:us-east-1:123456789012:alerts")
        .treat_missing_data("missing")
        .evaluation_periods(1)
        .evaluation_criteria(EvaluationCriteria::PromQlCriteria(
            AlarmPromQlCriteria::builder()
                .query("up{job=\"api\"} == 0")
                .pending_period(300)
                .recovery_period(0)
                .build(),
        ))
        .evaluation_interval(60)
        .build();
    let spec = spec_from_live(&live);
    assert_eq!(spec.treat_missing_data, None);
    assert_eq!(spec.evaluation_periods, None);
    assert!(errors(&spec).is_empty(), "{:?}", errors(&spec));
    assert_eq!(canonical(&spec, None), canonical(&promql(), None));
    // A metric alarm's interval, if AWS reports one, is not the manifest's.
    let mut metric = live_alarm(
        &[("InstanceId", "i-1")],
        aws_sdk_cloudwatch::types::StateValue::Ok,
    );
    metric.evaluation_interval = Some(300);
    assert_eq!(spec_from_live(&metric).evaluation_interval, None);
}

// PutMetricAlarm carries the criteria, the interval and the warm-up, and none
// of the fields a PromQL alarm may not send.
#[tokio::test]
async fn put_metric_alarm_carries_promql_and_warm_up() {
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm)
        .match_requests(|r| {
            let p = r
                .evaluation_criteria()
                .and_then(|c| c.as_prom_ql_criteria().ok());
            p.and_then(|p| p.query()) == Some("up{job=\"api\"} == 0")
                && p.and_then(|p| p.pending_period()) == Some(300)
                && r.evaluation_interval() == Some(60)
                && r.warm_up_configuration()
                    .and_then(|w| w.warm_up_period_duration_in_minutes())
                    == Some(15)
                && r.evaluation_periods().is_none()
                && r.comparison_operator().is_none()
                && r.threshold().is_none()
                && r.metric_name().is_none()
        })
        .then_output(|| {
            aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput::builder().build()
        });
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&put]);
    let aws = crate::aws::testing::aws_with(crate::aws::testing::MockClients {
        cloudwatch: Some(cw),
        ..Default::default()
    });
    let spec = Spec {
        warm_up_configuration: Some(WarmUpSpec {
            warm_up_period_duration_in_minutes: 15,
            only_start_evaluating_after_warm_up_period_ends: Some(true),
        }),
        ..promql()
    };
    crate::kinds::apply_typed::<MetricAlarm>(&aws, "api-down", &spec, None, &Default::default())
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1);
}

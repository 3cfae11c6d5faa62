//! The report's pure parts, and replayed responses for the APIs moto lacks:
//! DescribeAlarmHistory and DescribeComplianceByConfigRule.

use std::collections::{HashMap, HashSet};

use super::collect::{config_compliance, get_metric_data, history, unavailable};
use super::*;
use crate::aws::ApiCalls;
use crate::aws::testing::mock_aws;
use crate::ops::rfc3339;
use aws_sdk_cloudwatch::operation::describe_alarm_history::DescribeAlarmHistoryOutput;
use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::{
    AlarmHistoryItem, ComparisonOperator, Dimension, MetricDataResult, StandardUnit, Statistic,
    StatusCode,
};
use aws_sdk_cloudwatch::types::{
    AlarmType, HistoryItemType, Metric, MetricAlarm, MetricDataQuery, MetricStat, ScanBy,
};
use aws_sdk_config::operation::describe_compliance_by_config_rule::{
    DescribeComplianceByConfigRuleError, DescribeComplianceByConfigRuleOutput,
};
use aws_sdk_config::types::{
    Compliance, ComplianceByConfigRule, ComplianceContributorCount, ComplianceType,
};
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;
use aws_smithy_types::error::ErrorMetadata;

fn cpu_alarm() -> MetricAlarm {
    MetricAlarm::builder()
        .alarm_name("HighCPUUtilization")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value("i-0123456789abcdef0")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .threshold(80.0)
        .unit(StandardUnit::Percent)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .build()
}

#[test]
fn a_single_metric_alarm_asks_for_min_max_sum_and_count() {
    let q = queries_for(3, &cpu_alarm(), 86_400).unwrap();
    let ids: Vec<&str> = q.queries.iter().filter_map(MetricDataQuery::id).collect();
    assert_eq!(ids, ["a3_mn", "a3_mx", "a3_sm", "a3_n"]);
    let stats: Vec<&str> = q
        .queries
        .iter()
        .filter_map(|x| x.metric_stat()?.stat())
        .collect();
    assert_eq!(stats, ["Minimum", "Maximum", "Sum", "SampleCount"]);
    assert!(
        q.queries
            .iter()
            .all(|x| x.metric_stat().unwrap().period() == Some(300))
    );
    assert!(
        q.queries
            .iter()
            .all(|x| x.metric_stat().unwrap().unit() == Some(&StandardUnit::Percent))
    );
    // An Average alarm's series is Sum over SampleCount per period: no fifth query.
    assert_eq!(
        (q.single, &q.series, q.period),
        (true, &Series::Average, 300)
    );

    let mut max = cpu_alarm();
    max.statistic = Some(Statistic::Maximum);
    assert_eq!(
        queries_for(0, &max, 3600).unwrap().series,
        Series::Query("a0_mx".into())
    );
    let mut p99 = cpu_alarm();
    p99.statistic = None;
    p99.extended_statistic = Some("p99".into());
    let q = queries_for(0, &p99, 3600).unwrap();
    assert_eq!(
        (q.queries.len(), &q.series),
        (5, &Series::Query("a0_s".into()))
    );
    assert_eq!(q.queries[4].metric_stat().unwrap().stat(), Some("p99"));
}

#[test]
fn long_periods_use_a_coarser_chart_period() {
    assert_eq!(chart_period(300, 86_400), 300);
    assert_eq!(
        chart_period(60, 7 * 86_400),
        420,
        "at most 1440 points, in whole minutes"
    );
    assert_eq!(chart_period(10, 3600), 10);
}

#[test]
fn metric_math_ids_are_prefixed_outside_quotes_and_functions() {
    let ids: HashSet<String> = ["m1", "e1", "errors"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        rewrite_ids("100*errors/m1 + FILL(e1, 0) + 1e5", &ids, "a2_"),
        "100*a2_errors/a2_m1 + FILL(a2_e1, 0) + 1e5"
    );
    assert_eq!(
        rewrite_ids(
            "SEARCH('{AWS/EC2,InstanceId} m1', 'Average', 300)",
            &ids,
            "a2_"
        ),
        "SEARCH('{AWS/EC2,InstanceId} m1', 'Average', 300)"
    );
}

#[test]
fn a_metric_math_alarm_keeps_its_queries_and_returns_only_its_expression() {
    let m = |id: &str, name: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("MonitoringLab/Application")
                            .metric_name(name)
                            .build(),
                    )
                    .period(300)
                    .stat("Sum")
                    .build(),
            )
            .return_data(false)
            .build()
    };
    let a = MetricAlarm::builder()
        .alarm_name("ErrorRatio")
        .metrics(m("errors", "Errors"))
        .metrics(m("requests", "Requests"))
        .metrics(
            MetricDataQuery::builder()
                .id("ratio")
                .expression("100*errors/requests")
                .label("ratio")
                .return_data(true)
                .build(),
        )
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .evaluation_periods(1)
        .build();
    let q = queries_for(0, &a, 86_400).unwrap();
    assert!(!q.single);
    assert_eq!(q.series, Series::Query("a0_ratio".into()));
    let e = q
        .queries
        .iter()
        .find(|x| x.id() == Some("a0_ratio"))
        .unwrap();
    assert_eq!(e.expression(), Some("100*a0_errors/a0_requests"));
    assert_eq!(
        q.queries
            .iter()
            .filter(|x| x.return_data() == Some(true))
            .count(),
        1
    );
}

#[test]
fn queries_are_packed_500_a_call_without_splitting_an_alarm() {
    let plans: Vec<AlarmQueries> = (0..126)
        .map(|i| queries_for(i, &cpu_alarm(), 86_400).unwrap())
        .collect();
    let calls = pack(&plans);
    assert_eq!(calls.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 4]);
    let mut p99 = cpu_alarm();
    p99.statistic = None;
    p99.extended_statistic = Some("p99".into());
    let plans: Vec<AlarmQueries> = (0..101)
        .map(|i| queries_for(i, &p99, 86_400).unwrap())
        .collect();
    assert_eq!(
        pack(&plans).iter().map(Vec::len).collect::<Vec<_>>(),
        vec![500, 5]
    );
}

#[test]
fn the_average_is_sum_over_sample_count() {
    let q = queries_for(0, &cpu_alarm(), 3600).unwrap();
    let data = HashMap::from([
        ("a0_mn".to_string(), vec![(0, 10.0), (300, 50.0)]),
        ("a0_mx".to_string(), vec![(0, 30.0), (300, 95.0)]),
        // Three samples of 10, 20, 30, then one of 60: the average is 30, not (20 + 60) / 2.
        ("a0_sm".to_string(), vec![(0, 60.0), (300, 60.0)]),
        ("a0_n".to_string(), vec![(0, 3.0), (300, 1.0)]),
    ]);
    let (series, stats) = stats_from(&q, &data);
    assert_eq!(
        series,
        vec![(0, 20.0), (300, 60.0)],
        "the Average series is Sum / SampleCount per period"
    );
    assert_eq!(
        stats,
        Some(Stats {
            min: 10.0,
            avg: 30.0,
            max: 95.0,
            samples: Some(4.0),
            periods: 2
        })
    );
    let (series, stats) = stats_from(&q, &HashMap::new());
    assert!(series.is_empty() && stats.is_none());
}

fn transition(at: i64, from: &str, to: &str) -> Transition {
    Transition {
        at: rfc3339(at),
        from: from.into(),
        to: to.into(),
        reason: None,
        at_secs: at,
    }
}

#[test]
fn alarm_spans_follow_the_transitions() {
    let ts = [
        transition(100, "OK", "ALARM"),
        transition(300, "ALARM", "OK"),
        transition(700, "OK", "ALARM"),
    ];
    assert_eq!(
        alarm_spans(0, 1000, Some(&ts), "ALARM", Some(700)),
        vec![(100, 300), (700, 1000)]
    );
    // In ALARM since before the period, and no change in it.
    assert_eq!(
        alarm_spans(0, 1000, Some(&[]), "ALARM", Some(-50)),
        vec![(0, 1000)]
    );
    // Entered OK from ALARM during the period: ALARM from the start until then.
    assert_eq!(
        alarm_spans(
            0,
            1000,
            Some(&[transition(400, "ALARM", "OK")]),
            "OK",
            Some(400)
        ),
        vec![(0, 400)]
    );
    // Without history only the current state is known, from when it began.
    assert_eq!(
        alarm_spans(0, 1000, None, "ALARM", Some(600)),
        vec![(600, 1000)]
    );
    assert!(alarm_spans(0, 1000, None, "OK", Some(600)).is_empty());
}

#[test]
fn state_updates_parse_from_history_data_or_summary() {
    let data = r#"{"version":"1.0","oldState":{"stateValue":"OK","stateReason":"Threshold Crossed: 1 datapoint [2.0] was not greater than the threshold (80.0)."},"newState":{"stateValue":"ALARM","stateReason":"Threshold Crossed: 2 datapoints [95.0, 91.0] were greater than the threshold (80.0)."}}"#;
    let (from, to, reason) =
        parse_state_update(Some(data), Some("Alarm updated from OK to ALARM")).unwrap();
    assert_eq!((from.as_str(), to.as_str()), ("OK", "ALARM"));
    assert!(
        reason
            .unwrap()
            .starts_with("Threshold Crossed: 2 datapoints")
    );
    assert_eq!(
        parse_state_update(None, Some("Alarm updated from INSUFFICIENT_DATA to OK")),
        Some(("INSUFFICIENT_DATA".into(), "OK".into(), None))
    );
    assert_eq!(parse_state_update(Some("{}"), Some("Alarm updated")), None);
}

#[test]
fn numbers_print_short() {
    assert_eq!(fmt_num(80.0), "80");
    assert_eq!(fmt_num(83.333_333), "83.33");
    assert_eq!(fmt_num(0.001_23), "0.0012");
    assert_eq!(fmt_num(f64::NAN), "-");
    assert_eq!(
        threshold_text(Some("GreaterThanThreshold"), Some(80.0)),
        "> 80"
    );
    assert_eq!(
        threshold_text(Some("LessThanLowerOrGreaterThanUpperThreshold"), None),
        "band"
    );
}

fn history_item(name: &str, at: i64, from: &str, to: &str) -> AlarmHistoryItem {
    AlarmHistoryItem::builder()
        .alarm_name(name)
        .alarm_type(AlarmType::MetricAlarm)
        .timestamp(DateTime::from_secs(at))
        .history_item_type(HistoryItemType::StateUpdate)
        .history_summary(format!("Alarm updated from {from} to {to}"))
        .history_data(format!(
            r#"{{"version":"1.0","oldState":{{"stateValue":"{from}","stateReason":"before"}},"newState":{{"stateValue":"{to}","stateReason":"Threshold Crossed"}}}}"#
        ))
        .build()
}

// moto answers DescribeAlarmHistory with a 500, so its paging and parsing run here.
#[tokio::test]
async fn history_is_one_account_wide_walk_filtered_to_declared_alarms() {
    let page1 = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.alarm_name().is_none()
                && r.history_item_type() == Some(&HistoryItemType::StateUpdate)
                && r.alarm_types() == [AlarmType::MetricAlarm, AlarmType::CompositeAlarm]
                && r.start_date().map(DateTime::secs) == Some(1000)
                && r.end_date().map(DateTime::secs) == Some(5000)
        })
        .then_output(|| {
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(history_item("HighCPUUtilization", 2000, "OK", "ALARM"))
                .alarm_history_items(history_item("someone-elses-alarm", 2100, "OK", "ALARM"))
                .next_token("page-2")
                .build()
        });
    let page2 = mock!(aws_sdk_cloudwatch::Client::describe_alarm_history)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeAlarmHistoryOutput::builder()
                .alarm_history_items(history_item("HighCPUUtilization", 3000, "ALARM", "OK"))
                .build()
        });
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, Sequential, [&page1, &page2]);
    let names = HashSet::from(["HighCPUUtilization".to_string()]);
    let h = history(&aws, &names, 1000, 5000).await.unwrap();
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
    assert_eq!(h.len(), 1);
    let ts = &h["HighCPUUtilization"];
    assert_eq!(
        ts.iter()
            .map(|t| (t.at_secs, t.to.as_str()))
            .collect::<Vec<_>>(),
        vec![(2000, "ALARM"), (3000, "OK")]
    );
    assert_eq!(
        alarm_spans(1000, 5000, Some(ts), "OK", Some(3000)),
        vec![(2000, 3000)]
    );
}

#[tokio::test]
async fn metric_data_pages_are_merged_by_query_id() {
    let result = |id: &str, ts: &[i64], vs: &[f64]| {
        MetricDataResult::builder()
            .id(id)
            .set_timestamps(Some(ts.iter().map(|t| DateTime::from_secs(*t)).collect()))
            .set_values(Some(vs.to_vec()))
            .status_code(StatusCode::Complete)
            .build()
    };
    let r1 = result("a0_mx", &[0, 300], &[1.0, 2.0]);
    let r2 = result("a0_mx", &[600], &[3.0]);
    let page1 = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.metric_data_queries().len() == 4
                && r.scan_by() == Some(&ScanBy::TimestampAscending)
        })
        .then_output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(r1.clone())
                .next_token("more")
                .build()
        });
    let page2 = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(move || {
            GetMetricDataOutput::builder()
                .metric_data_results(r2.clone())
                .build()
        });
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, Sequential, [&page1, &page2]);
    let q = queries_for(0, &cpu_alarm(), 3600).unwrap();
    let data = get_metric_data(&aws, q.queries, 0, 3600).await.unwrap();
    assert_eq!(data["a0_mx"], vec![(0, 1.0), (300, 2.0), (600, 3.0)]);
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

fn rule_compliance(name: &str, t: ComplianceType, count: Option<i32>) -> ComplianceByConfigRule {
    let mut c = Compliance::builder().compliance_type(t);
    if let Some(n) = count {
        c = c.compliance_contributor_count(
            ComplianceContributorCount::builder()
                .capped_count(n)
                .cap_exceeded(false)
                .build(),
        );
    }
    ComplianceByConfigRule::builder()
        .config_rule_name(name)
        .compliance(c.build())
        .build()
}

// moto has no DescribeComplianceByConfigRule. One undeclared-in-AWS rule fails a
// whole call, so the chunk is asked again rule by rule.
#[tokio::test]
async fn compliance_survives_a_rule_missing_from_aws() {
    let names: Vec<String> = ["encrypted-volumes", "security-group-ssh-check", "gone"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let all = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.config_rule_names().len() == 3)
        .then_error(|| {
            DescribeComplianceByConfigRuleError::NoSuchConfigRuleException(
                aws_sdk_config::types::error::NoSuchConfigRuleException::builder()
                    .message("The ConfigRule 'gone' provided in the request is invalid.")
                    .meta(
                        ErrorMetadata::builder()
                            .code("NoSuchConfigRuleException")
                            .build(),
                    )
                    .build(),
            )
        });
    let enc = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.config_rule_names() == ["encrypted-volumes"])
        .then_output(|| {
            DescribeComplianceByConfigRuleOutput::builder()
                .compliance_by_config_rules(rule_compliance(
                    "encrypted-volumes",
                    ComplianceType::NonCompliant,
                    Some(3),
                ))
                .build()
        });
    let ssh = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.config_rule_names() == ["security-group-ssh-check"])
        .then_output(|| {
            DescribeComplianceByConfigRuleOutput::builder()
                .compliance_by_config_rules(rule_compliance(
                    "security-group-ssh-check",
                    ComplianceType::Compliant,
                    None,
                ))
                .build()
        });
    let gone = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.config_rule_names() == ["gone"])
        .then_error(|| {
            DescribeComplianceByConfigRuleError::NoSuchConfigRuleException(
                aws_sdk_config::types::error::NoSuchConfigRuleException::builder()
                    .meta(
                        ErrorMetadata::builder()
                            .code("NoSuchConfigRuleException")
                            .build(),
                    )
                    .build(),
            )
        });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&all, &enc, &ssh, &gone]);
    let c = config_compliance(&aws, &names).await.unwrap();
    assert_eq!(
        [
            all.num_calls(),
            enc.num_calls(),
            ssh.num_calls(),
            gone.num_calls()
        ],
        [1, 1, 1, 1]
    );
    assert_eq!(c[0].compliance.as_deref(), Some("NON_COMPLIANT"));
    assert_eq!(
        (c[0].non_compliant_resources, c[0].capped),
        (Some(3), Some(false))
    );
    assert_eq!(c[1].compliance.as_deref(), Some("COMPLIANT"));
    assert_eq!(
        (c[2].compliance.as_deref(), c[2].note.as_deref()),
        (None, Some("the rule does not exist in AWS"))
    );
}

#[tokio::test]
async fn compliance_access_denied_is_reported_not_retried() {
    let denied =
        mock!(aws_sdk_config::Client::describe_compliance_by_config_rule).then_error(|| {
            DescribeComplianceByConfigRuleError::generic(crate::aws::testing::error_meta(
                "AccessDeniedException",
                "User is not authorized to perform: config:DescribeComplianceByConfigRule",
            ))
        });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&denied]);
    let e = config_compliance(&aws, &["encrypted-volumes".to_string()])
        .await
        .unwrap_err();
    assert_eq!(e.class, crate::aws::ErrorClass::AccessDenied);
    assert_eq!(denied.num_calls(), 1);
    let u = unavailable("configCompliance", &e);
    assert_eq!(u.class, "accessDenied");
}

#[test]
fn markdown_escapes_every_user_string() {
    let evil = "x`y</code>|z *b* [l](u)\n\n# h";
    let report = DailyReport {
        version: 1,
        generated_at: "2026-01-01T00:00:00Z".into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        period: Period {
            start: "a".into(),
            end: "b".into(),
            seconds: 3600,
        },
        summary: ReportSummary::default(),
        alarms: Vec::new(),
        drift: Some(DriftSection {
            drifted: 1,
            missing: 0,
            pending: 0,
            unmanaged: 0,
            unknown: 0,
            items: vec![DriftEntry {
                status: "drifted".into(),
                kind: "MetricAlarm".into(),
                name: evil.into(),
                detail: Some(evil.into()),
            }],
            errors: Vec::new(),
        }),
        config_rules: vec![RuleCompliance {
            name: evil.into(),
            compliance: Some("COMPLIANT".into()),
            non_compliant_resources: None,
            capped: None,
            note: None,
        }],
        pending_subscriptions: vec![PendingSubscription {
            topic: evil.into(),
            protocol: "https".into(),
            endpoint: evil.into(),
        }],
        unavailable: vec![Unavailable {
            section: "metrics".into(),
            class: "terminal".into(),
            message: evil.into(),
        }],
        api_calls: ApiCalls::default(),
    };
    let md = report.to_markdown();
    // No blank line or heading from the strings, and no raw markup outside code spans.
    assert!(!md.contains("\n# h"), "{md}");
    assert!(!md.contains("\n\n# "), "{md}");
    assert!(
        md.contains("- drifted ``MetricAlarm/x`y</code>|z *b* [l](u)\\n\\n# h``"),
        "{md}"
    );
    assert!(
        md.contains("(x\\`y\\</code\\>\\|z \\*b\\* \\[l\\](u)\\\\n\\\\n# h)"),
        "{md}"
    );
    assert!(md.contains("**Config rules:** ``x`y</code>|z"), "{md}");
    assert!(
        md.contains("_metrics unavailable: x\\`y\\</code\\>"),
        "{md}"
    );
}

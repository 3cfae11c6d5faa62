//! Unit tests of the log_alarm kind: pure validate, normalize and diff, and
//! replayed AWS answers for plan, apply, the second run, import, delete,
//! not-found, pagination and an endpoint that does not serve PutLogAlarm.

use aws_sdk_cloudwatch::operation::delete_alarms::DeleteAlarmsOutput;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::put_log_alarm::PutLogAlarmOutput;
use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
use aws_sdk_cloudwatch::types::AlarmType;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

use super::*;
use crate::aws::ErrorClass;
use crate::aws::testing::{MockClients, aws_with, cbor_error, tagging_client, tagging_rule};
use crate::kinds::KindId;

const NAME: &str = "HttpdErrors";
const ARN: &str = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HttpdErrors";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

fn spec() -> Spec {
    Spec {
        scheduled_query_configuration: QueryConfiguration {
            query_string: "fields @message | filter @message like /ERROR/".into(),
            log_group_identifiers: vec![
                "/aws/ec2/httpd/error_log".into(),
                "/aws/ec2/httpd/access_log".into(),
            ],
            scheduled_query_role_arn: "arn:aws:iam::123456789012:role/LogAlarmQuery".into(),
            schedule_configuration: ScheduleSpec {
                schedule_expression: "rate(5 minutes)".into(),
                start_time_offset: 300,
                end_time_offset: None,
            },
            aggregation_expression: "count(*)".into(),
        },
        query_results_to_evaluate: 3,
        query_results_to_alarm: 2,
        threshold: 10.0,
        comparison_operator: "GreaterThanThreshold".into(),
        alarm_actions: vec![TOPIC.into()],
        ..Spec::default()
    }
}

fn errors(s: &Spec) -> Vec<String> {
    let mut i = Issues::default();
    LogAlarm::validate(s, &mut i);
    i.0.into_iter().map(|(_, m)| m).collect()
}

fn env() -> Env {
    Env {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        owner: "test".into(),
    }
}

/// What DescribeAlarms returns for `spec()` once written, tagged by vigil.
fn described(spec: &Spec) -> aws_sdk_cloudwatch::types::LogAlarm {
    let input = aws_sdk_cloudwatch::operation::put_log_alarm::PutLogAlarmInput::builder()
        .alarm_name(NAME)
        .scheduled_query_configuration(
            ScheduledQueryConfiguration::builder()
                .query_string(&spec.scheduled_query_configuration.query_string)
                // AWS may list the groups in another order.
                .set_log_group_identifiers(Some(
                    spec.scheduled_query_configuration
                        .log_group_identifiers
                        .iter()
                        .rev()
                        .cloned()
                        .collect(),
                ))
                .scheduled_query_role_arn(
                    &spec.scheduled_query_configuration.scheduled_query_role_arn,
                )
                .schedule_configuration(
                    ScheduleConfiguration::builder()
                        .schedule_expression("rate(5 minutes)")
                        .start_time_offset(300)
                        .end_time_offset(0)
                        .build(),
                )
                .aggregation_expression("count(*)")
                .build(),
        )
        .query_results_to_evaluate(spec.query_results_to_evaluate)
        .query_results_to_alarm(spec.query_results_to_alarm)
        .threshold(spec.threshold)
        .comparison_operator(ComparisonOperator::from(spec.comparison_operator.as_str()))
        .actions_enabled(true)
        .set_alarm_actions(Some(spec.alarm_actions.clone()))
        .build()
        .unwrap();
    super::replay::stored(&input, ARN)
}

fn wanted() -> Wanted {
    Wanted::names(BTreeMap::from([(NAME.to_string(), Value::Null)]))
}

#[test]
fn validation_follows_aws_rules() {
    assert!(errors(&spec()).is_empty(), "{:?}", errors(&spec()));
    let mut s = spec();
    s.scheduled_query_configuration.query_string = " ".into();
    s.scheduled_query_configuration
        .log_group_identifiers
        .clear();
    s.scheduled_query_configuration.scheduled_query_role_arn = "LogAlarmQuery".into();
    s.scheduled_query_configuration.aggregation_expression = String::new();
    let e = errors(&s);
    for want in [
        "queryString must not be empty",
        "give 1 to 50 log groups",
        "`LogAlarmQuery` is not an ARN",
        "aggregationExpression must be 1 to 2048",
    ] {
        assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
    }
    let mut s = spec();
    s.scheduled_query_configuration
        .schedule_configuration
        .schedule_expression = "cron(0/5 * * * ? *)".into();
    s.scheduled_query_configuration
        .schedule_configuration
        .end_time_offset = Some(300);
    let e = errors(&s);
    assert!(
        e.iter().any(|m| m.contains("is not a rate expression")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.contains("below startTimeOffset")),
        "{e:?}"
    );
    for (expr, ok) in [
        ("rate(1 minute)", true),
        ("rate(12 hours)", true),
        ("rate(0 minutes)", false),
        ("rate(5 weeks)", false),
        ("rate(5minutes)", false),
    ] {
        assert_eq!(valid_rate(expr), ok, "{expr}");
    }
    let mut s = spec();
    s.query_results_to_alarm = 4;
    s.comparison_operator = "LessThanLowerOrGreaterThanUpperThreshold".into();
    s.treat_missing_data = Some("zero".into());
    let e = errors(&s);
    assert!(
        e.iter()
            .any(|m| m.contains("between 1 and queryResultsToEvaluate (3)")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("not a comparison a log alarm can make")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("`zero` is not a valid treatMissingData")),
        "{e:?}"
    );
    let mut s = spec();
    s.query_results_to_evaluate = 101;
    s.query_results_to_alarm = 1;
    assert!(errors(&s).iter().any(|m| m.contains("1 to 100")));
    let mut s = spec();
    s.action_log_line_count = Some(10);
    assert!(
        errors(&s)
            .iter()
            .any(|m| m.contains("needs actionLogLineRoleArn"))
    );
    s.action_log_line_role_arn = Some("${Role/LogLines.arn}".into());
    assert!(errors(&s).is_empty(), "{:?}", errors(&s));
    s.action_log_line_count = Some(51);
    assert!(errors(&s).iter().any(|m| m.contains("0 to 50")));
    // Actions may reference a topic declared beside the alarm.
    let mut s = spec();
    s.ok_actions = vec!["${Topic/alerts.arn}".into()];
    s.insufficient_data_actions = vec!["alerts".into()];
    let e = errors(&s);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("not an ARN"));
}

#[test]
fn defaults_and_order_do_not_matter() {
    let implicit = spec();
    let mut explicit = spec();
    explicit.treat_missing_data = Some("missing".into());
    explicit.actions_enabled = Some(true);
    explicit.action_log_line_count = Some(0);
    explicit.alarm_description = Some(String::new());
    explicit
        .scheduled_query_configuration
        .schedule_configuration
        .end_time_offset = Some(0);
    explicit
        .scheduled_query_configuration
        .log_group_identifiers
        .reverse();
    explicit
        .scheduled_query_configuration
        .query_string
        .push('\n');
    assert_eq!(canonical(&implicit, None), canonical(&explicit, None));
    // What AWS reports back is the same alarm.
    assert_eq!(
        canonical(&spec_from_live(&described(&spec())), None),
        canonical(&spec(), None)
    );
}

// First run: nothing is listed, so PutLogAlarm creates the alarm with every
// field and the owner tag.
#[tokio::test]
async fn plan_and_create() {
    let none = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_types().contains(&AlarmType::LogAlarm))
        .then_output(|| DescribeAlarmsOutput::builder().build());
    let put = mock!(aws_sdk_cloudwatch::Client::put_log_alarm)
        .match_requests(|r| {
            let q = r.scheduled_query_configuration().unwrap();
            r.alarm_name() == Some(NAME)
                && q.query_string() == Some("fields @message | filter @message like /ERROR/")
                && q.log_group_identifiers().len() == 2
                && q.scheduled_query_role_arn()
                    == Some("arn:aws:iam::123456789012:role/LogAlarmQuery")
                && q.schedule_configuration()
                    .and_then(|s| s.schedule_expression())
                    == Some("rate(5 minutes)")
                && q.aggregation_expression() == Some("count(*)")
                && r.query_results_to_evaluate() == Some(3)
                && r.query_results_to_alarm() == Some(2)
                && r.threshold() == Some(10.0)
                && r.comparison_operator() == Some(&ComparisonOperator::GreaterThanThreshold)
                && r.alarm_actions() == [TOPIC]
                && r.warm_up_configuration()
                    .and_then(|w| w.warm_up_period_duration_in_minutes())
                    == Some(10)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("test"))
        })
        .then_output(|| PutLogAlarmOutput::builder().build());
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&none, &put]
        )),
        ..Default::default()
    });
    let found = KindId::LogAlarm.observe(&aws, &wanted()).await.unwrap();
    assert!(found.found.is_empty());
    let s = Spec {
        warm_up_configuration: Some(WarmUpSpec {
            warm_up_period_duration_in_minutes: 10,
            only_start_evaluating_after_warm_up_period_ends: None,
        }),
        ..spec()
    };
    let attrs = crate::testkit::fixtures::apply_as_planned(
        &aws,
        KindId::LogAlarm,
        NAME,
        &serde_json::to_value(&s).unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(attrs["arn"], ARN);
    assert_eq!(put.num_calls(), 1);
}

/// An AWS answering DescribeAlarms with `alarm`, tagged with vigil's owner tag.
fn aws_listing(
    alarm: aws_sdk_cloudwatch::types::LogAlarm,
    writes: &[&aws_smithy_mocks::Rule],
) -> Aws {
    let list = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .log_alarms(alarm.clone())
            .build()
    });
    let mut rules = vec![&list];
    rules.extend(writes.iter().copied());
    let tags = tagging_rule(&[(ARN, &[("vigil:owner", "test"), ("team", "ops")])]);
    aws_with(MockClients {
        cloudwatch: Some(aws_smithy_mocks::mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            rules.as_slice()
        )),
        tagging: Some(tagging_client(&[&tags])),
        ..Default::default()
    })
}

// Second run: the alarm is listed as written, so the plan is empty and apply
// writes nothing; a changed threshold is one PutLogAlarm; a tag change alone
// is a TagResource, not a PutLogAlarm.
#[tokio::test]
async fn second_run_writes_nothing_and_changes_are_targeted() {
    let put = mock!(aws_sdk_cloudwatch::Client::put_log_alarm)
        .then_output(|| PutLogAlarmOutput::builder().build());
    let tag = mock!(aws_sdk_cloudwatch::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let aws = aws_listing(described(&spec()), &[&put, &tag]);
    let obs = KindId::LogAlarm.observe(&aws, &wanted()).await.unwrap();
    let live = &obs.found[NAME];
    assert_eq!(live.owner, crate::kinds::LiveOwner::Tagged("test".into()));
    let l = crate::kinds::detail::<LogAlarm>(live);
    assert!(
        l.query_arn
            .as_deref()
            .unwrap()
            .contains(":scheduled-query:")
    );
    let desired = KindId::LogAlarm.normalize(&serde_json::to_value(spec()).unwrap(), &env());
    assert!(
        KindId::LogAlarm
            .diff(&desired.unwrap(), &live.state(&env()))
            .is_empty()
    );
    let apply = |s: Spec| {
        let aws = &aws;
        async move {
            crate::testkit::fixtures::apply_as_planned(
                aws,
                KindId::LogAlarm,
                NAME,
                &serde_json::to_value(s).unwrap(),
                Some(live),
            )
            .await
            .unwrap()
        }
    };
    apply(spec()).await;
    assert_eq!((put.num_calls(), tag.num_calls()), (0, 0), "second run");
    apply(Spec {
        threshold: 20.0,
        ..spec()
    })
    .await;
    assert_eq!((put.num_calls(), tag.num_calls()), (1, 0), "threshold");
    apply(Spec {
        tags: Some(BTreeMap::from([("team".into(), "sre".into())])),
        ..spec()
    })
    .await;
    assert_eq!((put.num_calls(), tag.num_calls()), (1, 1), "tags only");
}

// Import writes a manifest that validates and plans nothing, without the owner tag.
#[tokio::test]
async fn import_round_trips() {
    let aws = aws_listing(described(&spec()), &[]);
    let obs = KindId::LogAlarm
        .observe(&aws, &Wanted::everything())
        .await
        .unwrap();
    let live = &obs.found[NAME];
    let imported: Spec = serde_json::from_value(live.spec.clone()).unwrap();
    assert!(errors(&imported).is_empty(), "{:?}", errors(&imported));
    assert_eq!(
        imported.tags,
        Some(BTreeMap::from([("team".into(), "ops".into())]))
    );
    let d = KindId::LogAlarm.diff(&LogAlarm::normalize(&imported, &env()), &live.state(&env()));
    assert!(d.is_empty(), "{d:?}");
}

// Delete is DeleteAlarms by name; an alarm already gone answers ResourceNotFound,
// which the executor takes as deleted.
#[tokio::test]
async fn delete_and_not_found() {
    let del = mock!(aws_sdk_cloudwatch::Client::delete_alarms)
        .match_requests(|r| r.alarm_names() == [NAME])
        .then_output(|| DeleteAlarmsOutput::builder().build());
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::Sequential,
            [&del]
        )),
        ..Default::default()
    });
    let l = Live {
        name: NAME.into(),
        arn: ARN.into(),
        spec: spec(),
        query_arn: None,
        state: None,
    };
    LogAlarm::delete(&aws, NAME, &l).await.unwrap();
    assert_eq!(del.num_calls(), 1);

    let gone = mock!(aws_sdk_cloudwatch::Client::delete_alarms).then_http_response(cbor_error(
        404,
        "com.amazonaws.cloudwatch#ResourceNotFound",
        Some("ResourceNotFound;Sender"),
        "Alarm HttpdErrors does not exist",
    ));
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::Sequential,
            [&gone]
        )),
        ..Default::default()
    });
    let err = LogAlarm::delete(&aws, NAME, &l).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(gone.num_calls(), 1);
}

// The account walk follows NextToken, asks for the three alarm types at once,
// and every alarm kind reads the same pages: one walk serves them all.
#[tokio::test]
async fn one_paginated_walk_serves_every_alarm_kind() {
    let mut second = described(&spec());
    second.alarm_name = Some("second".into());
    let page1 = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| {
            r.next_token().is_none() && r.alarm_types() == crate::kinds::alarms_walk::ALARM_TYPES
        })
        .then_output(|| {
            DescribeAlarmsOutput::builder()
                .log_alarms(described(&spec()))
                .metric_alarms(
                    aws_sdk_cloudwatch::types::MetricAlarm::builder()
                        .alarm_name("cpu")
                        .build(),
                )
                .next_token("page-2")
                .build()
        });
    let page2 = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .log_alarms(second.clone())
                .composite_alarms(
                    aws_sdk_cloudwatch::types::CompositeAlarm::builder()
                        .alarm_name("any")
                        .alarm_rule("ALARM(cpu)")
                        .build(),
                )
                .build()
        });
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&page1, &page2]
        )),
        ..Default::default()
    });
    let logs = LogAlarm::observe(&aws, &Wanted::everything())
        .await
        .unwrap();
    assert_eq!(logs.keys().collect::<Vec<_>>(), ["HttpdErrors", "second"]);
    let metric = crate::kinds::metric_alarm::MetricAlarm::observe(&aws, &Wanted::everything())
        .await
        .unwrap();
    assert_eq!(metric.keys().collect::<Vec<_>>(), ["cpu"]);
    let composite =
        crate::kinds::composite_alarm::CompositeAlarm::observe(&aws, &Wanted::everything())
            .await
            .unwrap();
    assert_eq!(composite.keys().collect::<Vec<_>>(), ["any"]);
    assert_eq!(LogAlarm::listed(&aws), Some(4));
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
}

// moto answers PutLogAlarm with an HTML 500: the endpoint's limit, said plainly.
#[tokio::test]
async fn an_endpoint_without_put_log_alarm_is_unsupported_not_retried() {
    let put = mock!(aws_sdk_cloudwatch::Client::put_log_alarm).then_http_response(|| {
        let mut r = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n",
            ),
        );
        r.headers_mut()
            .insert("content-type", "text/html; charset=utf-8");
        r
    });
    // The real client's classifier (`aws::NoRetryOnHtml500`) forbids the retry;
    // tests/it/log_alarms.rs counts the one attempt through the binary.
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&put]);
    let aws = aws_with(MockClients {
        cloudwatch: Some(cw),
        ..Default::default()
    });
    let err = LogAlarm::apply(&aws, NAME, &spec(), None)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
    assert_eq!(
        err.to_string(),
        "cloudwatch PutLogAlarm: the endpoint does not implement this API (it answered HTTP 500 with an HTML page)"
    );
}

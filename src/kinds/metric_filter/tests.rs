//! Unit tests of the metric_filter kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::observe_live;
use aws_sdk_cloudwatchlogs::operation::delete_metric_filter::DeleteMetricFilterOutput;
use aws_sdk_cloudwatchlogs::operation::put_metric_filter::PutMetricFilterOutput;
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

fn spec() -> Spec {
    Spec {
        log_group_name: "/aws/ec2/httpd/error_log".into(),
        filter_pattern: "ERROR".into(),
        metric_transformations: vec![Transformation {
            metric_name: "HttpdErrors".into(),
            metric_namespace: "MonitoringLab/Logs".into(),
            metric_value: "1".into(),
            ..Transformation::default()
        }],
        apply_on_transformed_logs: None,
    }
}

fn parse(yaml: &str) -> Result<Spec, String> {
    let docs = crate::yaml::parse_documents(yaml).map_err(|e| e.message)?;
    crate::yaml::from_node(&docs[0]).map_err(|e| e.message)
}

#[test]
fn metric_value_may_be_written_as_a_number() {
    let s = parse("logGroupName: g\nfilterPattern: ERROR\nmetricTransformations:\n  - {metricName: m, metricNamespace: n, metricValue: 1}\n").unwrap();
    assert_eq!(s.metric_transformations[0].metric_value, "1");
    assert!(parse("logGroupName: g\nmetricTransformations:\n  - {metricName: m, metricNamespace: n, metricValue: [1]}\n").is_err());
}

#[test]
fn absent_unit_is_none_and_empty_dimensions_are_absent() {
    // DescribeMetricFilters answers with unit None and no dimensions.
    let f = aws_sdk_cloudwatchlogs::types::MetricFilter::builder()
        .filter_name("HttpdErrors")
        .log_group_name("/aws/ec2/httpd/error_log")
        .filter_pattern("ERROR ")
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name("HttpdErrors")
                .metric_namespace("MonitoringLab/Logs")
                .metric_value("1")
                .unit(aws_sdk_cloudwatchlogs::types::StandardUnit::None)
                .set_dimensions(Some(HashMap::new()))
                .build()
                .unwrap(),
        )
        .build();
    let live = canonical(&spec_from_live(&f));
    assert!(MetricFilter::diff(&canonical(&spec()), &live).is_empty());
    let mut counted = spec();
    counted.metric_transformations[0].unit = Some("Count".into());
    let d = MetricFilter::diff(&canonical(&counted), &live);
    assert_eq!(d[0].path, "metricTransformations[0].unit");
}

#[test]
fn validation() {
    let i = crate::testkit::fixtures::issues_of::<MetricFilter>(&spec());
    assert!(i.is_empty(), "{:?}", i.0);
    let mut bad = spec();
    bad.metric_transformations[0].metric_name = "a:b".into();
    bad.metric_transformations[0].unit = Some("Parsecs".into());
    bad.metric_transformations[0].dimensions = (0..4)
        .map(|n| (format!("d{n}"), format!("$.f{n}")))
        .collect();
    bad.log_group_name = "bad group".into();
    let i = crate::testkit::fixtures::issues_of::<MetricFilter>(&bad);
    let paths: Vec<String> = i.0.iter().map(|(p, _)| format!("{p:?}")).collect();
    assert_eq!(i.0.len(), 4, "{:?}", i.0);
    assert!(paths[0].contains("logGroupName"));
    assert!(MetricFilter::validate_name("a*b").is_err());
    assert!(MetricFilter::validate_name("404 errors/min").is_ok());
}

#[test]
fn the_declared_group_is_known_before_resolving() {
    assert_eq!(
        declared_group(&json!({"logGroupName": "/a/b"})).as_deref(),
        Some("/a/b")
    );
    assert_eq!(
        declared_group(&json!({"logGroupName": "${LogGroup//aws/ec2/httpd/error_log.name}"}))
            .as_deref(),
        Some("/aws/ec2/httpd/error_log")
    );
    assert_eq!(
        declared_group(&json!({"logGroupName": "${Stack/s.outputs.Group}"})),
        None
    );
}

fn describe_body(groups: &[&str]) -> String {
    let filters: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "filterName": "HttpdErrors",
                    "filterPattern": "ERROR",
                    "logGroupName": g,
                    "creationTime": 1_700_000_000_000i64,
                    "applyOnTransformedLogs": false,
                    "metricTransformations": [{"metricName": "HttpdErrors", "metricNamespace": "MonitoringLab/Logs", "metricValue": "1", "unit": "None"}]
                })
            })
            .collect();
    json!({ "metricFilters": filters }).to_string()
}

fn http(status: u16, body: String) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

#[tokio::test]
async fn same_name_in_two_groups_picks_the_declared_one_and_says_so() {
    let body = describe_body(&["/aws/ec2/httpd/access_log", "/aws/ec2/httpd/error_log"]);
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_metric_filters)
        .match_requests(|r| r.log_group_name().is_none() && r.filter_name_prefix().is_none())
        .then_http_response(move || http(200, body.clone()));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&list]);
    let wanted = Wanted::names(BTreeMap::from([(
        "HttpdErrors".to_string(),
        json!({"logGroupName": "${LogGroup//aws/ec2/httpd/error_log.name}"}),
    )]));
    let live = observe_live::<MetricFilter>(&aws, &wanted).await.unwrap();
    let l = &live["HttpdErrors"];
    assert_eq!(l.spec.log_group_name, "/aws/ec2/httpd/error_log");
    assert!(
        MetricFilter::diff(&canonical(&spec()), &MetricFilter::live_state(l, &aws.env)).is_empty()
    );
    assert_eq!(
        MetricFilter::notes(l),
        vec![
            "a metric filter of the same name also exists in /aws/ec2/httpd/access_log; vigil manages the one in /aws/ec2/httpd/error_log"
        ]
    );
    assert_eq!(list.num_calls(), 1);
}

#[tokio::test]
async fn moving_to_another_group_puts_then_deletes_the_old_one() {
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_metric_filter)
        .match_requests(|r| {
            r.log_group_name() == Some("/aws/ec2/httpd/access_log")
                && r.filter_name() == Some("HttpdErrors")
                && r.metric_transformations().len() == 1
                && r.metric_transformations()[0].metric_value() == "1"
        })
        .then_output(|| PutMetricFilterOutput::builder().build());
    let del = mock!(aws_sdk_cloudwatchlogs::Client::delete_metric_filter)
        .match_requests(|r| {
            r.log_group_name() == Some("/aws/ec2/httpd/error_log")
                && r.filter_name() == Some("HttpdErrors")
        })
        .then_output(|| DeleteMetricFilterOutput::builder().build());
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&put, &del]);
    let live = Live {
        name: "HttpdErrors".into(),
        spec: spec(),
        others: vec![],
    };
    // Unchanged: nothing is written.
    MetricFilter::apply(&aws, "HttpdErrors", &spec(), Some(&live))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), del.num_calls()), (0, 0));
    let mut moved = spec();
    moved.log_group_name = "/aws/ec2/httpd/access_log".into();
    let d = MetricFilter::diff(
        &canonical(&moved),
        &MetricFilter::live_state(&live, &aws.env),
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "logGroupName");
    MetricFilter::apply(&aws, "HttpdErrors", &moved, Some(&live))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), del.num_calls()), (1, 1));
}

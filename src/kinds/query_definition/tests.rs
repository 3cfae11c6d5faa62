//! Unit tests of the query_definition kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::ErrorClass;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::{diff_of, observe_live};
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

const ERROR_LOG: &str = "/aws/ec2/httpd/error_log";
const ID_A: &str = "0b1c5e7a-3f0e-4d7a-9a53-3c5a8f0e1a11";
const ID_B: &str = "8e2f7a90-1c4d-4b8e-b7a2-6f1d2c3b4a55";

// The lab's query as its Python source holds it: a triple-quoted, indented string.
const LAB_TOP_ERRORS: &str = "\n        fields @timestamp, @message\n        | filter @message like /ERROR/\n        | stats count() by @message\n        | sort count desc\n        | limit 10\n        ";
const CLEAN_TOP_ERRORS: &str = "fields @timestamp, @message\n| filter @message like /ERROR/\n| stats count() by @message\n| sort count desc\n| limit 10";

fn spec() -> Spec {
    Spec {
        query_string: LAB_TOP_ERRORS.into(),
        log_group_names: vec![ERROR_LOG.into()],
    }
}

fn http(status: u16, body: impl Into<String>) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.into()),
    )
}

/// A DescribeQueryDefinitions answer as AWS sends it.
fn listing(defs: &[(&str, &str, &str)]) -> String {
    let defs: Vec<Value> = defs
        .iter()
        .map(|(id, name, query)| {
            json!({
                "queryLanguage": "CWLI",
                "queryDefinitionId": id,
                "name": name,
                "queryString": query,
                "lastModified": 1_717_171_717_171i64,
                "logGroupNames": [ERROR_LOG]
            })
        })
        .collect();
    json!({ "queryDefinitions": defs }).to_string()
}

fn wanted() -> Wanted {
    Wanted::names(BTreeMap::from([(
        "Top Error Messages".to_string(),
        json!({}),
    )]))
}

#[test]
fn stored_text_is_dedented_and_comparison_ignores_indentation() {
    assert_eq!(clean_query(LAB_TOP_ERRORS), CLEAN_TOP_ERRORS);
    assert_eq!(clean_query("  a\n\n    b  \n"), "a\n\n  b");
    assert_eq!(query_key(LAB_TOP_ERRORS), query_key(CLEAN_TOP_ERRORS));
    assert_eq!(
        query_key("fields a\n  | limit 1"),
        query_key("fields a\n| limit 1")
    );
    assert_ne!(
        query_key("fields a | limit 1"),
        query_key("fields a | limit 2")
    );
    assert_eq!(clean_query(" \n\t\n"), "");
}

#[test]
fn log_group_order_and_repeats_do_not_matter() {
    let a = canonical("q", &["/b".into(), "/a".into(), "/a".into()], LANGUAGE);
    let b = canonical("q", &["/a".into(), "/b".into()], LANGUAGE);
    assert_eq!(a, b);
}

#[test]
fn validation() {
    let i = crate::testkit::fixtures::issues_of::<QueryDefinition>(&spec());
    assert!(i.is_empty(), "{:?}", i.0);
    let mut i = Issues::default();
    QueryDefinition::validate(
        &Spec {
            query_string: "\n  \n".into(),
            log_group_names: vec!["bad name".into()],
        },
        &mut i,
    );
    assert_eq!(i.0.len(), 2, "{:?}", i.0);
    assert!(QueryDefinition::validate_name("Top Error Messages").is_ok());
    assert!(QueryDefinition::validate_name("lab/Top Error Messages").is_ok());
    assert!(QueryDefinition::validate_name(&"x".repeat(256)).is_err());
}

#[tokio::test]
async fn create_sends_the_clean_text_and_returns_the_new_id() {
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .match_requests(|r| r.query_definition_name_prefix() == Some("Top Error Messages"))
        .then_http_response(|| http(200, r#"{"queryDefinitions":[]}"#));
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
        .match_requests(|r| {
            r.query_definition_id().is_none()
                && r.name() == Some("Top Error Messages")
                && r.query_string() == Some(CLEAN_TOP_ERRORS)
                && r.log_group_names() == [ERROR_LOG.to_string()]
        })
        .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&list, &put]);
    assert!(
        observe_live::<QueryDefinition>(&aws, &wanted())
            .await
            .unwrap()
            .is_empty()
    );
    let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &spec(), None)
        .await
        .unwrap();
    assert_eq!(attrs["id"], ID_A);
    assert_eq!(attrs["name"], "Top Error Messages");
    assert_eq!((list.num_calls(), put.num_calls()), (1, 1));
}

/// PutQueryDefinition without an id makes a new definition each time it is
/// sent. A 500 after AWS saved it must not send it again: the read-back
/// finds it, and its id is the one returned.
#[tokio::test]
async fn a_create_answered_with_a_500_after_it_took_effect_is_not_sent_again() {
    let found = listing(&[(ID_A, "Top Error Messages", CLEAN_TOP_ERRORS)]);
    let read_back = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .match_requests(|r| r.query_definition_name_prefix() == Some("Top Error Messages"))
        .then_http_response(move || http(200, found.clone()));
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
            .match_requests(|r| r.query_definition_id().is_none())
            .then_http_response(|| {
                http(
                    500,
                    r#"{"__type":"InternalFailure","message":"We encountered an internal error. Please try again."}"#,
                )
            });
    // The SDK's own retry is off, as vigil's clients never retry this
    // operation (`pace::Persist`): only the kind's read-back decides.
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&read_back, &put],
        |c| { c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()) });
    let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &spec(), None)
        .await
        .unwrap();
    assert_eq!(attrs["id"], ID_A);
    assert_eq!(put.num_calls(), 1, "sent once");
    assert_eq!(read_back.num_calls(), 1);
}

#[tokio::test]
async fn unchanged_is_a_no_op_and_an_update_sends_every_field() {
    // AWS holds the lab's text with its indentation, as a script would have saved it.
    let body = listing(&[(ID_A, "Top Error Messages", LAB_TOP_ERRORS)]);
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .then_http_response(move || http(200, body.clone()));
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
        .match_requests(|r| {
            r.query_definition_id() == Some(ID_A)
                && r.name() == Some("Top Error Messages")
                && r.query_string()
                    == Some(
                        "fields @timestamp, @message\n| filter @message like /ERROR/\n| limit 20",
                    )
                && r.log_group_names() == [ERROR_LOG.to_string()]
                && r.query_language().map(|l| l.as_str()) == Some("CWLI")
        })
        .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&list, &put]);
    let live = observe_live::<QueryDefinition>(&aws, &wanted())
        .await
        .unwrap();
    let l = &live["Top Error Messages"];
    assert!(QueryDefinition::notes(l).is_empty());
    let env = aws.env.clone();
    // The manifest's block scalar and the stored indented text are the same query.
    let yaml_spec = Spec {
        query_string: format!("{CLEAN_TOP_ERRORS}\n"),
        ..spec()
    };
    assert!(diff_of::<QueryDefinition>(&yaml_spec, l, &env).is_empty());
    QueryDefinition::apply(&aws, "Top Error Messages", &yaml_spec, Some(l))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 0);

    let changed = Spec {
            query_string: "\n    fields @timestamp, @message\n    | filter @message like /ERROR/\n    | limit 20\n".into(),
            ..spec()
        };
    let d = diff_of::<QueryDefinition>(&changed, l, &env);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "queryString");
    let attrs = QueryDefinition::apply(&aws, "Top Error Messages", &changed, Some(l))
        .await
        .unwrap();
    assert_eq!(attrs["id"], ID_A);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn duplicates_are_reported_and_the_lowest_id_is_managed() {
    let body = listing(&[
        (ID_B, "Top Error Messages", CLEAN_TOP_ERRORS),
        (ID_A, "Top Error Messages", CLEAN_TOP_ERRORS),
        (
            "5d0c0f3e-aaaa-4bbb-8ccc-0123456789ab",
            "Top Error Messages (copy)",
            "fields @message",
        ),
    ]);
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .then_http_response(move || http(200, body.clone()));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&list]);
    let live = observe_live::<QueryDefinition>(&aws, &wanted())
        .await
        .unwrap();
    // A prefix match that is not the declared name is not observed.
    assert_eq!(live.keys().collect::<Vec<_>>(), ["Top Error Messages"]);
    let l = &live["Top Error Messages"];
    assert_eq!(l.id, ID_A);
    assert_eq!(
        QueryDefinition::notes(l),
        vec![format!(
            "1 other query definition(s) share this name ({ID_B}); vigil manages {ID_A} (the lowest id) and leaves the others alone"
        )]
    );
}

#[tokio::test]
async fn delete_removes_the_managed_definition_by_id() {
    let del = mock!(aws_sdk_cloudwatchlogs::Client::delete_query_definition)
        .match_requests(|r| r.query_definition_id() == Some(ID_A))
        .then_http_response(|| http(200, r#"{"success":true}"#));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&del]);
    let l = Live {
        id: ID_A.into(),
        name: "Top Error Messages".into(),
        query_string: CLEAN_TOP_ERRORS.into(),
        log_group_names: vec![ERROR_LOG.into()],
        query_language: LANGUAGE.into(),
        duplicates: vec![ID_B.into()],
    };
    QueryDefinition::delete(&aws, "Top Error Messages", &l)
        .await
        .unwrap();
    assert_eq!(del.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_classified_and_nothing_is_written() {
    let throttled = || {
        http(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    };
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .then_http_response(throttled);
    let put = mock!(aws_sdk_cloudwatchlogs::Client::put_query_definition)
        .then_http_response(|| http(200, json!({ "queryDefinitionId": ID_A }).to_string()));
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&list, &put],
        |c| { c.retry_config(aws_smithy_types::retry::RetryConfig::disabled()) });
    let err = observe_live::<QueryDefinition>(&aws, &wanted())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Throttled, "{err}");
    assert!(err.class().is_retryable());
    assert_eq!(err.aws().unwrap().operation, "DescribeQueryDefinitions");
    assert_eq!((list.num_calls(), put.num_calls()), (1, 0));
}

#[tokio::test]
async fn one_throttle_is_absorbed_by_the_sdk_retry() {
    let body = listing(&[(ID_A, "Top Error Messages", CLEAN_TOP_ERRORS)]);
    let list = mock!(aws_sdk_cloudwatchlogs::Client::describe_query_definitions)
        .sequence()
        .http_response(|| {
            http(
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            )
        })
        .http_response(move || http(200, body.clone()))
        .build();
    let aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, Sequential, [&list]);
    let live = observe_live::<QueryDefinition>(&aws, &wanted())
        .await
        .unwrap();
    assert_eq!(live["Top Error Messages"].id, ID_A);
    assert_eq!(list.num_calls(), 2);
}

/// The lab's queries as log-analysis.py sends them (Python leaves `\S`, `\[`
/// and `\d` as written in a non-raw string), compared with desired-state/.
#[test]
fn desired_state_holds_the_lab_queries_verbatim() {
    let query = |name: &str| {
        let spec = crate::testkit::fixtures::desired_state_spec(
            "logs/insights-queries.yaml",
            crate::kinds::KindId::QueryDefinition,
            name,
        );
        serde_json::from_value::<Spec>(spec).unwrap()
    };
    let lab = [
        ("Top Error Messages", LAB_TOP_ERRORS, ERROR_LOG),
        (
            "Request Rate by Hour",
            "\n        fields @timestamp, @message\n        | filter @message like /GET/\n        | stats count() by bin(1h)\n        | sort @timestamp desc\n        ",
            "/aws/ec2/httpd/access_log",
        ),
        (
            "Response Status Codes",
            r#"
        fields @timestamp, @message
        | parse @message /(?<ip>\S+) \S+ \S+ \[(?<time>[^\]]+)\] "(?<method>\S+) (?<path>\S+) \S+" (?<status>\d+) (?<size>\S+)/
        | stats count() by status
        | sort count desc
        "#,
            "/aws/ec2/httpd/access_log",
        ),
    ];
    for (name, text, group) in lab {
        let s = query(name);
        assert_eq!(clean_query(&s.query_string), clean_query(text), "{name}");
        assert_eq!(
            s.log_group_names,
            [format!("${{LogGroup/{group}.name}}")],
            "{name}"
        );
    }
}

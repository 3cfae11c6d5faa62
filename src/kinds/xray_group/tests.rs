//! Unit tests of the xray_group kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::ErrorClass;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::{apply, apply_unchanged, diff_of, observe_live, observe_one};
use aws_sdk_xray::operation::create_group::CreateGroupOutput;
use aws_sdk_xray::operation::delete_group::DeleteGroupOutput;
use aws_sdk_xray::operation::get_groups::GetGroupsOutput;
use aws_sdk_xray::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_xray::operation::tag_resource::TagResourceOutput;
use aws_sdk_xray::operation::untag_resource::UntagResourceOutput;
use aws_sdk_xray::operation::update_group::UpdateGroupOutput;
use aws_sdk_xray::types::{Group, GroupSummary};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

const NAME: &str = "monitoring-lab-api";
// X-Ray appends a random id to group ARNs, so the ARN must come from AWS.
const ARN: &str =
    "arn:aws:xray:us-east-1:123456789012:group/monitoring-lab-api/LJ6WPMYOKYVWRUBL2WQAFI5AUQ";
const FILTER: &str = "service(\"monitoring-lab-api\")";

fn spec() -> Spec {
    Spec {
        filter_expression: FILTER.into(),
        insights_configuration: Some(InsightsConfiguration {
            insights_enabled: Some(true),
            notifications_enabled: None,
        }),
        tags: Some(BTreeMap::from([(
            "project".to_string(),
            "monitoring-lab".to_string(),
        )])),
    }
}

fn env() -> Env {
    crate::testkit::fixtures::env_of("test")
}

/// GetGroups as AWS answers it: the reserved Default group first, with no filter.
fn summaries(filter: &str, insights: bool) -> Vec<GroupSummary> {
    let conf = |i: bool| {
        aws_sdk_xray::types::InsightsConfiguration::builder()
            .insights_enabled(i)
            .notifications_enabled(false)
            .build()
    };
    vec![
        GroupSummary::builder()
            .group_name("Default")
            .group_arn("arn:aws:xray:us-east-1:123456789012:group/Default")
            .insights_configuration(conf(false))
            .build(),
        GroupSummary::builder()
            .group_name(NAME)
            .group_arn(ARN)
            .filter_expression(filter)
            .insights_configuration(conf(insights))
            .build(),
    ]
}

fn groups_rule(filter: &'static str, insights: bool) -> Rule {
    mock!(aws_sdk_xray::Client::get_groups).then_output(move || {
        GetGroupsOutput::builder()
            .set_groups(Some(summaries(filter, insights)))
            .build()
    })
}

fn tags_rule(tags: &'static [(&'static str, &'static str)]) -> Rule {
    mock!(aws_sdk_xray::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(ARN))
        .then_output(move || {
            ListTagsForResourceOutput::builder()
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| {
                            aws_sdk_xray::types::Tag::builder()
                                .key(*k)
                                .value(*v)
                                .build()
                                .unwrap()
                        })
                        .collect(),
                ))
                .build()
        })
}

fn wanted() -> Wanted {
    Wanted::names(BTreeMap::from([(
        NAME.to_string(),
        json!({"filterExpression": FILTER, "tags": {}}),
    )]))
}

#[test]
fn validation() {
    let i = crate::testkit::fixtures::issues_of::<XRayGroup>(&spec());
    assert!(i.is_empty(), "{:?}", i.0);

    let mut bad = spec();
    bad.filter_expression = "  ".into();
    bad.insights_configuration = Some(InsightsConfiguration {
        insights_enabled: Some(false),
        notifications_enabled: Some(true),
    });
    let i = crate::testkit::fixtures::issues_of::<XRayGroup>(&bad);
    assert_eq!(i.0.len(), 2, "{:?}", i.0);
    assert!(i.0[1].1.contains("insightsEnabled: true"));

    assert!(
        XRayGroup::validate_name("Default")
            .unwrap_err()
            .contains("reserved")
    );
    assert!(XRayGroup::validate_name(&"g".repeat(33)).is_err());
    assert!(XRayGroup::validate_name(NAME).is_ok());
}

/// The group with the filter, insights off and its tags not read.
fn plain_live() -> Live {
    Live {
        name: NAME.into(),
        arn: ARN.into(),
        filter_expression: FILTER.into(),
        insights_enabled: false,
        notifications_enabled: false,
        tags: None,
    }
}

#[test]
fn absent_insights_mean_false_and_filter_whitespace_is_ignored() {
    let s = Spec {
        filter_expression: format!("  {FILTER}\n"),
        ..Spec::default()
    };
    let l = plain_live();
    assert_eq!(
        XRayGroup::normalize(&s, &env()),
        XRayGroup::live_state(&l, &env())
    );
    // Written out in full, the same.
    let explicit = Spec {
        insights_configuration: Some(InsightsConfiguration {
            insights_enabled: Some(false),
            notifications_enabled: Some(false),
        }),
        ..s
    };
    assert_eq!(
        XRayGroup::normalize(&explicit, &env()),
        XRayGroup::live_state(&l, &env())
    );
}

#[test]
fn tags_compare_only_when_declared_and_import_drops_the_owner_tag() {
    let mut s = spec();
    s.tags = None;
    let l = Live {
        insights_enabled: true,
        tags: Some(BTreeMap::from([(
            "vigil:owner".to_string(),
            "test".to_string(),
        )])),
        ..plain_live()
    };
    assert!(XRayGroup::normalize(&s, &env()).get("tags").is_none());
    assert_eq!(
        XRayGroup::live_tags(&l).and_then(crate::kinds::tags::owner),
        Some("test")
    );
    let imported = XRayGroup::to_spec(&l);
    assert_eq!(imported.tags, None);
    assert_eq!(
        imported
            .insights_configuration
            .unwrap()
            .notifications_enabled,
        None
    );
}

#[tokio::test]
async fn create() {
    let get = mock!(aws_sdk_xray::Client::get_groups).then_output(|| {
        GetGroupsOutput::builder()
            .groups(summaries(FILTER, false).remove(0))
            .build()
    });
    let create = mock!(aws_sdk_xray::Client::create_group)
        .match_requests(|r| {
            r.group_name() == Some(NAME)
                && r.filter_expression() == Some(FILTER)
                && r.insights_configuration()
                    .and_then(|c| c.insights_enabled())
                    == Some(true)
                && r.insights_configuration()
                    .and_then(|c| c.notifications_enabled())
                    == Some(false)
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "vigil:owner" && t.value() == "test")
                && r.tags().iter().any(|t| t.key() == "project")
        })
        .then_output(|| {
            CreateGroupOutput::builder()
                .group(
                    Group::builder()
                        .group_name(NAME)
                        .group_arn(ARN)
                        .filter_expression(FILTER)
                        .build(),
                )
                .build()
        });
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &create]);
    let live = observe_live::<XRayGroup>(&aws, &wanted()).await.unwrap();
    assert!(
        live.is_empty(),
        "the reserved Default group is never a declared one"
    );
    let attrs = apply::<XRayGroup>(&aws, NAME, &spec(), None).await.unwrap();
    assert_eq!(attrs["arn"], ARN);
    assert_eq!((get.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn noop_writes_nothing() {
    let get = groups_rule(FILTER, true);
    let tags = tags_rule(&[("project", "monitoring-lab"), ("vigil:owner", "test")]);
    let update = mock!(aws_sdk_xray::Client::update_group)
        .then_output(|| UpdateGroupOutput::builder().build());
    let tag = mock!(aws_sdk_xray::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let untag = mock!(aws_sdk_xray::Client::untag_resource)
        .then_output(|| UntagResourceOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &tags, &update, &tag, &untag]);
    let l = &observe_one::<XRayGroup>(&aws, &wanted(), NAME).await;
    apply_unchanged::<XRayGroup>(&aws, NAME, &spec(), l).await;
    let calls = [&get, &tags, &update, &tag, &untag].map(|r| r.num_calls());
    assert_eq!(calls, [1, 1, 0, 0, 0], "reads, then no write");
}

#[tokio::test]
async fn update_only_when_filter_or_insights_differ() {
    // Someone turned insights off and added a tag in the console; the filter still matches.
    let get = groups_rule(FILTER, false);
    let tags = tags_rule(&[
        ("project", "monitoring-lab"),
        ("vigil:owner", "test"),
        ("extra", "x"),
    ]);
    let update = mock!(aws_sdk_xray::Client::update_group)
        .match_requests(|r| {
            r.group_arn() == Some(ARN)
                && r.filter_expression() == Some(FILTER)
                && r.insights_configuration()
                    .and_then(|c| c.insights_enabled())
                    == Some(true)
        })
        .then_output(|| UpdateGroupOutput::builder().build());
    let tag = mock!(aws_sdk_xray::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let untag = mock!(aws_sdk_xray::Client::untag_resource)
        .match_requests(|r| r.resource_arn() == Some(ARN) && r.tag_keys() == ["extra"])
        .then_output(|| UntagResourceOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &tags, &update, &tag, &untag]);
    let l = &observe_one::<XRayGroup>(&aws, &wanted(), NAME).await;
    let diffs = diff_of::<XRayGroup>(&spec(), l, &aws.env);
    let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        ["insightsConfiguration.insightsEnabled", "tags.extra"]
    );
    apply::<XRayGroup>(&aws, NAME, &spec(), Some(l))
        .await
        .unwrap();
    assert_eq!(
        (update.num_calls(), tag.num_calls(), untag.num_calls()),
        (1, 0, 1)
    );
}

#[tokio::test]
async fn a_tag_change_alone_does_not_update_the_group() {
    let get = groups_rule(FILTER, true);
    let tags = tags_rule(&[("vigil:owner", "test")]);
    let update = mock!(aws_sdk_xray::Client::update_group)
        .then_output(|| UpdateGroupOutput::builder().build());
    let tag = mock!(aws_sdk_xray::Client::tag_resource)
        .match_requests(|r| {
            r.resource_arn() == Some(ARN)
                && r.tags().len() == 1
                && r.tags()[0].key() == "project"
                && r.tags()[0].value() == "monitoring-lab"
        })
        .then_output(|| TagResourceOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &tags, &update, &tag]);
    let live = observe_live::<XRayGroup>(&aws, &wanted()).await.unwrap();
    apply::<XRayGroup>(&aws, NAME, &spec(), Some(&live[NAME]))
        .await
        .unwrap();
    assert_eq!((update.num_calls(), tag.num_calls()), (0, 1));
}

#[tokio::test]
async fn delete_by_arn_and_already_gone_is_fine() {
    let del = mock!(aws_sdk_xray::Client::delete_group)
        .match_requests(|r| r.group_arn() == Some(ARN))
        .then_output(|| DeleteGroupOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, Sequential, [&del]);
    let l = plain_live();
    XRayGroup::delete(&aws, NAME, &l).await.unwrap();
    assert_eq!(del.num_calls(), 1);

    let gone = mock!(aws_sdk_xray::Client::delete_group)
        .then_http_response(|| json_error(400, "InvalidRequestException", "Group not found"));
    let aws = mock_aws!(xray: aws_sdk_xray, Sequential, [&gone]);
    XRayGroup::delete(&aws, NAME, &l).await.unwrap();
    assert_eq!(gone.num_calls(), 1);
}

/// An X-Ray (restJson1) error as it comes over the wire.
fn json_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let mut r = HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
    );
    r.headers_mut().insert("content-type", "application/json");
    r.headers_mut().insert("x-amzn-errortype", code.to_string());
    r
}

#[tokio::test]
async fn an_emulator_without_xray_is_unsupported_not_retried() {
    // moto 5.2.5 has no X-Ray group routes: Werkzeug answers POST /Groups with this page.
    let get = mock!(aws_sdk_xray::Client::get_groups).then_http_response(|| {
            let mut r = HttpResponse::new(
                StatusCode::try_from(404).unwrap(),
                SdkBody::from(
                    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n",
                ),
            );
            r.headers_mut()
                .insert("content-type", "text/html; charset=utf-8");
            r
        });
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get]);
    let err = observe_live::<XRayGroup>(&aws, &wanted())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Unsupported);
    assert_eq!(
        err.to_string(),
        "xray GetGroups: the endpoint does not implement this API (it answered HTTP 404 with an HTML page)"
    );
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_is_classified_and_not_retried() {
    let get = mock!(aws_sdk_xray::Client::get_groups).then_http_response(|| {
        json_error(
            403,
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: xray:GetGroups",
        )
    });
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get]);
    let err = observe_live::<XRayGroup>(&aws, &wanted())
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::AccessDenied);
    assert_eq!(err.aws().unwrap().operation, "GetGroups");
    assert!(err.to_string().contains("xray:GetGroups"), "{err}");
    assert_eq!(get.num_calls(), 1);
}

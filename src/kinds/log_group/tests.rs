//! Unit tests of the log_group kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::apply;
use aws_sdk_cloudwatchlogs::operation::associate_kms_key::AssociateKmsKeyOutput;
use aws_sdk_cloudwatchlogs::operation::delete_retention_policy::DeleteRetentionPolicyOutput;
use aws_sdk_cloudwatchlogs::operation::disassociate_kms_key::DisassociateKmsKeyOutput;
use aws_sdk_cloudwatchlogs::operation::tag_resource::TagResourceOutput;
use aws_sdk_cloudwatchlogs::operation::untag_resource::UntagResourceOutput;
use aws_smithy_mocks::mock;

fn env() -> Env {
    crate::testkit::fixtures::env_of("lab")
}

fn live(retention: Option<i32>) -> Live {
    Live {
        name: "/aws/ec2/httpd/access_log".into(),
        arn: "arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/httpd/access_log".into(),
        spec: Spec {
            retention_in_days: retention,
            kms_key_id: None,
            tags: BTreeMap::from([(super::super::OWNER_TAG.to_string(), "lab".to_string())]),
        },
    }
}

fn issues(s: &Spec) -> Vec<String> {
    // With the tag rules every kind shares, as the loader checks them.
    crate::testkit::fixtures::load_messages::<LogGroup>(s)
}

#[test]
fn names_allow_slashes_and_dots_but_not_the_reserved_prefix() {
    assert!(LogGroup::validate_name("/aws/ec2/httpd/access_log").is_ok());
    assert!(LogGroup::validate_name("app.v2#blue").is_ok());
    assert!(
        LogGroup::validate_name("aws/mine")
            .unwrap_err()
            .contains("reserved")
    );
    assert!(
        LogGroup::validate_name("has space")
            .unwrap_err()
            .contains("' '")
    );
}

#[test]
fn retention_must_be_a_value_aws_accepts() {
    assert!(
        issues(&Spec {
            retention_in_days: Some(30),
            ..Spec::default()
        })
        .is_empty()
    );
    let msgs = issues(&Spec {
        retention_in_days: Some(31),
        ..Spec::default()
    });
    assert!(
        msgs[0].contains("31 is not a retention") && msgs[0].contains("3653"),
        "{msgs:?}"
    );
}

#[test]
fn kms_key_must_be_an_arn_and_reserved_tags_are_refused() {
    let msgs = issues(&Spec {
        kms_key_id: Some("alias/logs".into()),
        tags: BTreeMap::from([("aws:cloudformation".into(), "x".into())]),
        ..Spec::default()
    });
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        issues(&Spec {
            kms_key_id: Some(
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into()
            ),
            ..Spec::default()
        })
        .is_empty()
    );
}

#[test]
fn describe_arn_loses_its_stream_wildcard() {
    let g = aws_sdk_cloudwatchlogs::types::LogGroup::builder()
        .log_group_name("/a")
        .arn("arn:aws:logs:us-east-1:1:log-group:/a:*")
        .build();
    assert_eq!(
        clean_arn(&g).unwrap(),
        "arn:aws:logs:us-east-1:1:log-group:/a"
    );
}

#[test]
fn absent_retention_is_never_expire_and_owner_tag_is_expected() {
    let desired = LogGroup::normalize(&Spec::default(), &env());
    assert!(LogGroup::diff(&desired, &LogGroup::live_state(&live(None), &env())).is_empty());
    let d = LogGroup::diff(&desired, &LogGroup::live_state(&live(Some(7)), &env()));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "retentionInDays");
    assert!(d[0].to.is_none());
}

#[test]
fn common_prefix_of_declared_names() {
    let names = ["/aws/ec2/httpd/access_log", "/aws/ec2/httpd/error_log"];
    assert_eq!(common_prefix(names.into_iter()), "/aws/ec2/httpd/");
    assert_eq!(common_prefix(["a", "b"].into_iter()), "");
    assert_eq!(common_prefix(std::iter::empty()), "");
}

// moto has no AssociateKmsKey or DisassociateKmsKey; this covers them, the
// retention removal and the tag difference.
#[tokio::test]
async fn update_touches_only_what_differs() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let assoc = mock!(aws_sdk_cloudwatchlogs::Client::associate_kms_key)
        .match_requests(move |r| {
            r.log_group_name() == Some("/aws/ec2/httpd/access_log") && r.kms_key_id() == Some(key)
        })
        .then_output(|| AssociateKmsKeyOutput::builder().build());
    let disassoc = mock!(aws_sdk_cloudwatchlogs::Client::disassociate_kms_key)
        .then_output(|| DisassociateKmsKeyOutput::builder().build());
    let del_ret = mock!(aws_sdk_cloudwatchlogs::Client::delete_retention_policy)
        .then_output(|| DeleteRetentionPolicyOutput::builder().build());
    let tag = mock!(aws_sdk_cloudwatchlogs::Client::tag_resource)
        .match_requests(|r| {
            r.resource_arn()
                == Some("arn:aws:logs:us-east-1:123456789012:log-group:/aws/ec2/httpd/access_log")
                && r.tags().is_some_and(|t| {
                    t.len() == 1 && t.get("team").map(String::as_str) == Some("ops")
                })
        })
        .then_output(|| TagResourceOutput::builder().build());
    let untag = mock!(aws_sdk_cloudwatchlogs::Client::untag_resource)
        .then_output(|| UntagResourceOutput::builder().build());
    let mut aws = mock_aws!(logs: aws_sdk_cloudwatchlogs, MatchAny, [&assoc, &disassoc, &del_ret, &tag, &untag]);
    aws.env.owner = "lab".into();
    let spec = Spec {
        retention_in_days: None,
        kms_key_id: Some(key.into()),
        tags: BTreeMap::from([("team".into(), "ops".into())]),
    };
    apply::<LogGroup>(
        &aws,
        "/aws/ec2/httpd/access_log",
        &spec,
        Some(&live(Some(30))),
    )
    .await
    .unwrap();
    assert_eq!(
        (assoc.num_calls(), del_ret.num_calls(), tag.num_calls()),
        (1, 1, 1)
    );
    assert_eq!((disassoc.num_calls(), untag.num_calls()), (0, 0));

    // Removing the key from the manifest disassociates it.
    let mut l = live(None);
    l.spec.kms_key_id = Some(key.into());
    l.spec.tags.insert("team".into(), "ops".into());
    let spec = Spec {
        tags: BTreeMap::from([("team".into(), "ops".into())]),
        ..Spec::default()
    };
    apply::<LogGroup>(&aws, "/aws/ec2/httpd/access_log", &spec, Some(&l))
        .await
        .unwrap();
    assert_eq!(disassoc.num_calls(), 1);
    assert_eq!(
        (
            assoc.num_calls(),
            del_ret.num_calls(),
            tag.num_calls(),
            untag.num_calls()
        ),
        (1, 1, 1, 0)
    );
}

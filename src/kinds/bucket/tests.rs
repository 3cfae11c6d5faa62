//! Unit tests of the bucket kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::{MockClients, aws_with, mock_aws};
use crate::testkit::fixtures::{apply, diff_of, observe_live};
use aws_sdk_s3::operation::get_bucket_versioning::GetBucketVersioningOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

fn env() -> Env {
    crate::testkit::fixtures::env_of("o")
}

fn all_blocked() -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    }
}

fn config_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "AWSConfigBucketPermissionsCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::b"},
        {"Sid": "AWSConfigBucketExistenceCheck", "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    ]})
}

fn spec() -> Spec {
    Spec {
        versioning: Some("Enabled".into()),
        encryption: Some(Encryption {
            sse_algorithm: "AES256".into(),
            ..Encryption::default()
        }),
        policy: Some(config_policy()),
        public_access_block: Some(all_blocked()),
        tags: BTreeMap::from([("project".to_string(), "monitoring-lab".to_string())]),
    }
}

fn live() -> Live {
    let mut p = config_policy();
    p["Statement"].as_array_mut().unwrap().reverse();
    Live {
        name: "b".into(),
        arn: "arn:aws:s3:::b".into(),
        versioning: Versioning::Status(Some("Enabled".into())),
        encryption: Some(Some(Encryption {
            sse_algorithm: "AES256".into(),
            kms_master_key_id: None,
            bucket_key_enabled: Some(false),
        })),
        public_access_block: Some(Some(all_blocked())),
        policy: Some(p),
        tags: BTreeMap::from([
            ("project".to_string(), "monitoring-lab".to_string()),
            ("vigil:owner".to_string(), "o".to_string()),
        ]),
    }
}

fn diff(s: &Spec, l: &Live) -> Vec<FieldDiff> {
    diff_of::<Bucket>(s, l, &env())
}

/// The paths that differ, sorted.
fn changed_paths(s: &Spec, l: &Live) -> Vec<String> {
    let mut paths: Vec<String> = diff(s, l).into_iter().map(|f| f.path).collect();
    paths.sort();
    paths
}

#[test]
fn what_s3_returns_is_a_no_op() {
    assert!(
        diff(&spec(), &live()).is_empty(),
        "{:?}",
        diff(&spec(), &live())
    );
}

#[test]
fn settings_the_spec_leaves_out_are_not_compared() {
    let s = Spec {
        tags: spec().tags,
        policy: Some(config_policy()),
        ..Spec::default()
    };
    assert!(diff(&s, &live()).is_empty(), "{:?}", diff(&s, &live()));
}

#[test]
fn an_undeclared_policy_is_removed() {
    let s = Spec {
        policy: None,
        ..spec()
    };
    let d = diff(&s, &live());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "policy");
    assert!(d[0].to.is_none());
}

#[test]
fn a_missing_public_access_block_is_all_false() {
    let mut l = live();
    l.public_access_block = Some(None);
    assert_eq!(
        changed_paths(&spec(), &l),
        [
            "publicAccessBlock.blockPublicAcls",
            "publicAccessBlock.blockPublicPolicy",
            "publicAccessBlock.ignorePublicAcls",
            "publicAccessBlock.restrictPublicBuckets"
        ]
    );
}

#[test]
fn encryption_defaults_and_changes() {
    let mut l = live();
    l.encryption = Some(Some(Encryption {
        sse_algorithm: "aws:kms".into(),
        kms_master_key_id: Some("alias/x".into()),
        bucket_key_enabled: Some(true),
    }));
    assert_eq!(
        changed_paths(&spec(), &l),
        [
            "encryption.bucketKeyEnabled",
            "encryption.kmsMasterKeyId",
            "encryption.sseAlgorithm"
        ]
    );
    // moto keeps no configuration until one is put: that shows as a change.
    l.encryption = Some(None);
    assert_eq!(diff(&spec(), &l)[0].path, "encryption");
}

#[test]
fn unreadable_versioning_is_not_compared_and_is_noted() {
    let mut l = live();
    l.versioning = Versioning::Unreadable("s3 GetBucketVersioning: unparseable".into());
    let mut s = spec();
    s.versioning = Some("Suspended".into());
    assert!(diff(&s, &l).is_empty());
    assert_eq!(
        Bucket::notes(&l),
        vec![
            "versioning could not be read and was not compared: s3 GetBucketVersioning: unparseable"
        ]
    );
}

#[test]
fn validation() {
    let mut s = spec();
    s.versioning = Some("On".into());
    s.encryption = Some(Encryption {
        sse_algorithm: "SSE-S3".into(),
        kms_master_key_id: Some("k".into()),
        bucket_key_enabled: None,
    });
    s.policy = Some(
        json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}),
    );
    let i = crate::testkit::fixtures::issues_of::<Bucket>(&s);
    let msgs: Vec<&str> = i.0.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(msgs.len(), 4, "{msgs:?}");
    assert!(msgs[0].contains("versioning status"));
    assert!(msgs[1].contains("not an algorithm"));
    assert!(msgs[2].contains("needs sseAlgorithm: aws:kms"));
    assert!(msgs[3].contains("needs a Principal"));
    let i = crate::testkit::fixtures::issues_of::<Bucket>(&spec());
    assert!(i.is_empty(), "{:?}", i.0);
}

#[test]
fn names_follow_s3_rules() {
    assert!(Bucket::validate_name("monitoring-lab-config-bucket").is_ok());
    for bad in [
        "ab",
        "Capital",
        "-start",
        "a..b",
        "192.168.1.1",
        "xn--abc",
        "name-s3alias",
        "under_score",
    ] {
        assert!(Bucket::validate_name(bad).is_err(), "{bad}");
    }
}

#[test]
fn import_omits_defaults_and_the_owner_tag() {
    let s = Bucket::to_spec(&live());
    assert_eq!(s.encryption, None, "SSE-S3 is every bucket's default");
    assert_eq!(s.versioning.as_deref(), Some("Enabled"));
    assert!(!s.tags.contains_key("vigil:owner"));
}

fn versioning_response(body: &'static str) -> HttpResponse {
    HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
}

fn aws_s3(rules: &[&aws_smithy_mocks::Rule]) -> Aws {
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, rules);
    aws_with(MockClients {
        s3: Some(s3),
        ..Default::default()
    })
}

// moto cannot answer GetBucketVersioning in a shape the SDK accepts, so the
// read is tested here against the response AWS sends.
#[tokio::test]
async fn versioning_is_read_from_the_real_response_shape() {
    let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning)
            .match_requests(|r| r.bucket() == Some("b"))
            .then_http_response(|| {
                versioning_response(
                    r#"<?xml version="1.0" encoding="UTF-8"?>
<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
                )
            });
    let aws = aws_s3(&[&rule]);
    assert_eq!(
        read_versioning(&aws, "b").await.unwrap(),
        Versioning::Status(Some("Enabled".into()))
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_never_versioned_bucket_has_no_status() {
    let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
        versioning_response(
            r#"<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>"#,
        )
    });
    let aws = aws_s3(&[&rule]);
    assert_eq!(
        read_versioning(&aws, "b").await.unwrap(),
        Versioning::Status(None)
    );
}

#[tokio::test]
async fn motos_versioning_response_is_classified_unreadable() {
    let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
            versioning_response(
                r#"<?xml version="1.0" encoding="utf-8"?>
<GetBucketVersioningResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></GetBucketVersioningResponse>"#,
            )
        });
    let aws = aws_s3(&[&rule]);
    match read_versioning(&aws, "b").await.unwrap() {
        Versioning::Unreadable(why) => assert_eq!(
            why,
            "s3 GetBucketVersioning: the endpoint answered HTTP 200 with a response the SDK cannot parse, \
                 beginning \"<GetBucketVersioningResponse xmlns=\\\"http://s3.amazonaws.com/doc/2006-03-01/\\\"><St\""
        ),
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

#[tokio::test]
async fn access_denied_on_versioning_fails_the_read() {
    let rule = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_http_response(|| {
            HttpResponse::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"#),
            )
        });
    let aws = aws_s3(&[&rule]);
    let e = read_versioning(&aws, "b").await.unwrap_err();
    assert_eq!(e.class, ErrorClass::AccessDenied);
}

/// A PutBucketVersioning rule that matches only this status.
fn put_versioning(status: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_s3::Client::put_bucket_versioning)
        .match_requests(move |r| {
            r.versioning_configuration()
                .and_then(|c| c.status())
                .map(|s| s.as_str())
                == Some(status)
        })
        .then_output(|| {
            aws_sdk_s3::operation::put_bucket_versioning::PutBucketVersioningOutput::builder()
                .build()
        })
}

/// Create, no-op and update of versioning, asserting the exact calls.
#[tokio::test]
async fn versioning_create_noop_update() {
    let s = Spec {
        versioning: Some("Enabled".into()),
        ..Spec::default()
    };
    let create = mock!(aws_sdk_s3::Client::create_bucket)
        .match_requests(|r| r.bucket() == Some("b") && r.create_bucket_configuration().is_none())
        .then_output(|| {
            aws_sdk_s3::operation::create_bucket::CreateBucketOutput::builder().build()
        });
    let tag = mock!(aws_sdk_s3::Client::put_bucket_tagging).then_output(|| {
        aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
    });
    let put = put_versioning("Enabled");
    let aws = mock_aws!(s3: aws_sdk_s3, MatchAny, [&create, &tag, &put]);
    let attrs = apply::<Bucket>(&aws, "b", &s, None).await.unwrap();
    assert_eq!(attrs["arn"], "arn:aws:s3:::b");
    assert_eq!(
        (create.num_calls(), tag.num_calls(), put.num_calls()),
        (1, 1, 1)
    );

    // Second run: versioning reads Enabled, so nothing is written.
    let mut l = live();
    l.policy = None;
    l.encryption = None;
    l.public_access_block = None;
    l.tags = BTreeMap::from([("vigil:owner".to_string(), "test".to_string())]);
    let aws_env = aws.env.clone();
    assert!(diff_of::<Bucket>(&s, &l, &aws_env).is_empty());
    apply::<Bucket>(&aws, "b", &s, Some(&l)).await.unwrap();
    assert_eq!(
        (create.num_calls(), tag.num_calls(), put.num_calls()),
        (1, 1, 1)
    );

    // Suspended in git: one PutBucketVersioning.
    let suspended = Spec {
        versioning: Some("Suspended".into()),
        ..Spec::default()
    };
    let d = diff_of::<Bucket>(&suspended, &l, &aws_env);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "versioning");
    let put2 = put_versioning("Suspended");
    let aws = aws_s3(&[&put2]);
    apply::<Bucket>(&aws, "b", &suspended, Some(&l))
        .await
        .unwrap();
    assert_eq!(put2.num_calls(), 1);

    // Unreadable versioning is never written on update.
    l.versioning = Versioning::Unreadable("x".into());
    let aws = aws_s3(&[]);
    apply::<Bucket>(&aws, "b", &suspended, Some(&l))
        .await
        .unwrap();
}

#[tokio::test]
async fn observe_reads_versioning_only_where_declared() {
    let list = mock!(aws_sdk_s3::Client::list_buckets).then_output(|| {
        aws_sdk_s3::operation::list_buckets::ListBucketsOutput::builder()
            .buckets(aws_sdk_s3::types::Bucket::builder().name("b").build())
            .buckets(aws_sdk_s3::types::Bucket::builder().name("other").build())
            .build()
    });
    let tags = mock!(aws_sdk_s3::Client::get_bucket_tagging)
        .match_requests(|r| r.bucket() == Some("b"))
        .then_output(|| {
            aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput::builder()
                .set_tag_set(Some(vec![]))
                .build()
                .unwrap()
        });
    let policy = mock!(aws_sdk_s3::Client::get_bucket_policy).then_output(|| {
        aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyOutput::builder()
            .policy(config_policy().to_string())
            .build()
    });
    let versioning = mock!(aws_sdk_s3::Client::get_bucket_versioning).then_output(|| {
        GetBucketVersioningOutput::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
            .build()
    });
    let aws = mock_aws!(s3: aws_sdk_s3, MatchAny, [&list, &tags, &policy, &versioning]);
    let wanted = Wanted::names(BTreeMap::from([(
        "b".to_string(),
        json!({"versioning": "Enabled"}),
    )]));
    let live = observe_live::<Bucket>(&aws, &wanted).await.unwrap();
    assert_eq!(live.keys().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(
        live["b"].versioning,
        Versioning::Status(Some("Suspended".into()))
    );
    assert_eq!(live["b"].encryption, None, "not declared, not read");
    assert_eq!(
        (
            list.num_calls(),
            tags.num_calls(),
            policy.num_calls(),
            versioning.num_calls()
        ),
        (1, 1, 1, 1)
    );
}

//! Unit tests of the role kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::{MockClients, aws_with, mock_aws};
use crate::testkit::fixtures::{apply, diff_of, observe_live};
use aws_sdk_iam::operation::list_roles::{ListRolesError, ListRolesOutput};
use aws_smithy_mocks::mock;

fn trust() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

fn spec() -> Spec {
    Spec {
        assume_role_policy: trust(),
        description: Some("Service role for AWS Config".into()),
        managed_policy_arns: vec!["arn:aws:iam::aws:policy/service-role/AWS_ConfigRole".into()],
        inline_policies: BTreeMap::from([(
            "ConfigBucketDelivery".to_string(),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::b"}]}),
        )]),
        tags: BTreeMap::from([("project".to_string(), "monitoring-lab".to_string())]),
        ..Spec::default()
    }
}

fn env() -> Env {
    crate::testkit::fixtures::env_of("o")
}

/// The role as IAM returns it for `spec()`: URL-encoded, single strings, single statements.
fn live() -> Live {
    Live {
        name: "ConfigServiceRole".into(),
        arn: "arn:aws:iam::123456789012:role/ConfigServiceRole".into(),
        role_id: "AROAEXAMPLE".into(),
        path: "/".into(),
        description: Some("Service role for AWS Config".into()),
        max_session_duration: 3600,
        assume_role_policy: policy::decode(
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%5B%22config.amazonaws.com%22%5D%7D%2C%22Action%22%3A%5B%22sts%3AAssumeRole%22%5D%7D%7D",
        ),
        managed_policy_arns: BTreeSet::from([
            "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole".to_string(),
        ]),
        inline_policies: BTreeMap::from([(
            "ConfigBucketDelivery".to_string(),
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["s3:GetBucketAcl"], "Resource": "arn:aws:s3:::b"}}),
        )]),
        tags: BTreeMap::from([
            ("project".to_string(), "monitoring-lab".to_string()),
            ("vigil:owner".to_string(), "o".to_string()),
        ]),
    }
}

fn errors(s: &Spec) -> Vec<String> {
    // With the tag rules every kind shares, as the loader checks them.
    let i = crate::kinds::validate_typed::<Role>("n", s);
    i.0.into_iter()
        .map(|(p, m)| format!("{p:?}: {m}"))
        .collect()
}

#[test]
fn the_lab_role_is_valid() {
    assert!(errors(&spec()).is_empty(), "{:?}", errors(&spec()));
}

#[test]
fn what_iam_returns_is_a_no_op() {
    let d = diff_of::<Role>(&spec(), &live(), &env());
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn defaults_equal_explicit_values() {
    let mut s = spec();
    s.path = Some("/".into());
    s.max_session_duration = Some(3600);
    assert_eq!(
        Role::normalize(&s, &env()),
        Role::normalize(&spec(), &env())
    );
    let mut l = live();
    l.description = None;
    s.description = Some(String::new());
    assert_eq!(
        Role::normalize(&s, &env())["description"],
        Role::live_state(&l, &env())["description"]
    );
}

#[test]
fn managed_policy_order_does_not_matter() {
    let mut a = spec();
    a.managed_policy_arns = vec![
        "arn:aws:iam::aws:policy/B".into(),
        "arn:aws:iam::aws:policy/A".into(),
    ];
    let mut b = spec();
    b.managed_policy_arns = vec![
        "arn:aws:iam::aws:policy/A".into(),
        "arn:aws:iam::aws:policy/B".into(),
    ];
    assert_eq!(Role::normalize(&a, &env()), Role::normalize(&b, &env()));
}

#[test]
fn changed_policies_are_whole_document_diffs_at_their_paths() {
    let mut s = spec();
    s.assume_role_policy["Statement"][0]["Principal"]["Service"] = json!("ec2.amazonaws.com");
    s.inline_policies
        .insert("Extra.v2".into(), json!({"Statement": []}));
    s.inline_policies.get_mut("ConfigBucketDelivery").unwrap()["Statement"][0]["Action"] =
        json!("s3:*");
    let d = diff_of::<Role>(&s, &live(), &env());
    let paths: Vec<&str> = d.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "assumeRolePolicy",
            "inlinePolicies.ConfigBucketDelivery",
            "inlinePolicies[\"Extra.v2\"]"
        ]
    );
    assert!(d[2].from.is_none());
}

#[test]
fn an_undeclared_inline_policy_shows_as_removed() {
    let mut l = live();
    l.inline_policies
        .insert("Console".into(), json!({"Statement": []}));
    let d = diff_of::<Role>(&spec(), &l, &env());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "inlinePolicies.Console");
    assert!(d[0].to.is_none());
}

#[test]
fn the_labs_policy_arns_get_hints() {
    let mut s = spec();
    s.managed_policy_arns = vec![
        "arn:aws:iam::aws:policy/service-role/ConfigRole".into(),
        "arn:aws:iam::aws:policy/service-role/AWS_ConfigServiceRolePolicy".into(),
        "arn:aws:iam::aws:policy/aws-service-role/AWSSupportServiceRolePolicy".into(),
        "AWS_ConfigRole".into(),
        "arn:aws:iam::${aws:accountId}:policy/Mine".into(),
    ];
    let e = errors(&s);
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(
        e[0].contains("Index(0)")
            && e[0].contains("service-role/AWS_ConfigRole; attach that instead"),
        "{e:?}"
    );
    assert!(
        e[1].contains("Index(1)") && e[1].contains("service-linked role"),
        "{e:?}"
    );
    assert!(
        e[2].contains("Index(2)") && e[2].contains("aws-service-role/"),
        "{e:?}"
    );
    assert!(
        e[3].contains("Index(3)") && e[3].contains("not a managed policy ARN"),
        "{e:?}"
    );
}

#[test]
fn other_fields_are_checked() {
    let s = Spec {
        assume_role_policy: json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
        description: Some("監視".into()),
        path: Some("service-role".into()),
        max_session_duration: Some(60),
        inline_policies: BTreeMap::from([(
            "bad name".to_string(),
            json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]}),
        )]),
        tags: BTreeMap::from([("aws:x".to_string(), "y".to_string())]),
        ..Spec::default()
    };
    let e = errors(&s).join("\n");
    for want in [
        "needs a Principal",
        "Latin-1",
        "starts and ends with /",
        "3600 to 43200",
        "1 to 128 characters",
        "takes no Principal",
        "reserved for AWS",
    ] {
        assert!(e.contains(want), "{want} missing from\n{e}");
    }
}

#[test]
fn names_follow_iam_rules() {
    assert!(Role::validate_name("ConfigServiceRole").is_ok());
    assert!(Role::validate_name("a+b=c,d.e@f_g-h").is_ok());
    assert!(Role::validate_name("has space").is_err());
    assert!(Role::validate_name(&"x".repeat(65)).is_err());
}

#[test]
fn import_omits_defaults_and_the_owner_tag() {
    let s = Role::to_spec(&live());
    assert_eq!(s.path, None);
    assert_eq!(s.max_session_duration, None);
    assert!(!s.tags.contains_key("vigil:owner"));
    assert_eq!(s.managed_policy_arns, spec().managed_policy_arns);
}

#[tokio::test]
async fn a_changed_path_is_refused_before_any_call() {
    let aws = aws_with(MockClients::default());
    let mut s = spec();
    s.path = Some("/service-role/".into());
    let e = apply::<Role>(&aws, "ConfigServiceRole", &s, Some(&live()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("IAM cannot change a path"), "{e}");
}

#[tokio::test]
async fn access_denied_fails_the_observation_and_is_classified() {
    let denied = mock!(aws_sdk_iam::Client::list_roles).then_error(|| {
        ListRolesError::generic(crate::aws::testing::error_meta(
            "AccessDenied",
            "User is not authorized to perform: iam:ListRoles",
        ))
    });
    let aws = mock_aws!(iam: aws_sdk_iam, Sequential, [&denied]);
    let wanted = Wanted::names(BTreeMap::from([(
        "ConfigServiceRole".to_string(),
        Value::Null,
    )]));
    let e = observe_live::<Role>(&aws, &wanted).await.unwrap_err();
    assert_eq!(e.class(), crate::aws::ErrorClass::AccessDenied);
    assert_eq!(e.aws().unwrap().operation, "ListRoles");
    assert_eq!(denied.num_calls(), 1);
}

#[tokio::test]
async fn only_wanted_roles_get_detail_reads() {
    let role = |n: &str| {
        aws_sdk_iam::types::Role::builder()
            .role_name(n)
            .role_id("AROA")
            .arn(format!("arn:aws:iam::123456789012:role/{n}"))
            .path("/")
            .create_date(aws_smithy_types::DateTime::from_secs(0))
            .assume_role_policy_document("%7B%7D")
            .build()
            .unwrap()
    };
    let list = mock!(aws_sdk_iam::Client::list_roles).then_output(move || {
        ListRolesOutput::builder()
            .roles(role("Other"))
            .roles(role("Wanted"))
            .is_truncated(false)
            .build()
            .unwrap()
    });
    let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies)
            .match_requests(|r| r.role_name() == Some("Wanted"))
            .then_output(|| aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput::builder().build());
    let inline = mock!(aws_sdk_iam::Client::list_role_policies)
        .match_requests(|r| r.role_name() == Some("Wanted"))
        .then_output(|| {
            aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput::builder()
                .set_policy_names(Some(vec![]))
                .build()
                .unwrap()
        });
    let tags = mock!(aws_sdk_iam::Client::list_role_tags)
        .match_requests(|r| r.role_name() == Some("Wanted"))
        .then_output(|| {
            aws_sdk_iam::operation::list_role_tags::ListRoleTagsOutput::builder()
                .set_tags(Some(vec![]))
                .build()
                .unwrap()
        });
    let aws = mock_aws!(iam: aws_sdk_iam, MatchAny, [&list, &attached, &inline, &tags]);
    let wanted = Wanted::names(BTreeMap::from([("Wanted".to_string(), Value::Null)]));
    let live = observe_live::<Role>(&aws, &wanted).await.unwrap();
    assert_eq!(live.keys().collect::<Vec<_>>(), vec!["Wanted"]);
    assert_eq!(live["Wanted"].assume_role_policy, json!({}));
    assert_eq!(
        (
            list.num_calls(),
            attached.num_calls(),
            inline.num_calls(),
            tags.num_calls()
        ),
        (1, 1, 1, 1)
    );
}

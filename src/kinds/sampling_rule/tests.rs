//! Unit tests of the sampling_rule kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::ErrorClass;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::{apply, apply_unchanged, diff_of, observe_live, observe_one};
use aws_sdk_xray::operation::create_sampling_rule::CreateSamplingRuleOutput;
use aws_sdk_xray::operation::delete_sampling_rule::DeleteSamplingRuleOutput;
use aws_sdk_xray::operation::get_sampling_rules::GetSamplingRulesOutput;
use aws_sdk_xray::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_xray::operation::tag_resource::TagResourceOutput;
use aws_sdk_xray::operation::untag_resource::UntagResourceOutput;
use aws_sdk_xray::operation::update_sampling_rule::UpdateSamplingRuleOutput;
use aws_sdk_xray::types::SamplingRuleRecord;
use aws_smithy_mocks::mock;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

const NAME: &str = "monitoring-lab-api";
const ARN: &str = "arn:aws:xray:us-east-1:123456789012:sampling-rule/monitoring-lab-api";
const DEFAULT_ARN: &str = "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default";

fn spec() -> Spec {
    Spec {
        resource_arn: Some("*".into()),
        priority: Some(1000),
        fixed_rate: 0.1,
        reservoir_size: 1,
        service_name: Some("monitoring-lab-api".into()),
        service_type: Some("*".into()),
        host: Some("*".into()),
        http_method: Some("*".into()),
        url_path: Some("/api/*".into()),
        version: Some(1),
        attributes: BTreeMap::new(),
        tags: Some(BTreeMap::new()),
    }
}

fn env() -> Env {
    crate::testkit::fixtures::env_of("test")
}

/// The rule as observe reads it from [`sdk_rule`], its tags not read.
fn live_rule(name: &str, arn: &str, f: impl FnOnce(Rule) -> Rule) -> Live {
    Live {
        name: name.into(),
        arn: arn.into(),
        rule: Rule::from_sdk(&sdk_rule(name, arn, f)),
        tags: None,
    }
}

fn sdk_rule(
    name: &str,
    arn: &str,
    f: impl FnOnce(Rule) -> Rule,
) -> aws_sdk_xray::types::SamplingRule {
    let base = if name == DEFAULT_RULE {
        Rule {
            resource_arn: "*".into(),
            priority: 10000,
            fixed_rate: 0.05,
            reservoir_size: 1,
            service_name: "*".into(),
            service_type: "*".into(),
            host: "*".into(),
            http_method: "*".into(),
            url_path: "*".into(),
            version: 1,
            attributes: BTreeMap::new(),
        }
    } else {
        Rule::from_spec(&spec())
    };
    let r = f(base);
    aws_sdk_xray::types::SamplingRule::builder()
        .rule_name(name)
        .rule_arn(arn)
        .resource_arn(r.resource_arn)
        .priority(r.priority)
        .fixed_rate(r.fixed_rate)
        .reservoir_size(r.reservoir_size)
        .service_name(r.service_name)
        .service_type(r.service_type)
        .host(r.host)
        .http_method(r.http_method)
        .url_path(r.url_path)
        .version(r.version)
        // AWS answers with an empty map, not an absent one.
        .set_attributes(Some(r.attributes.into_iter().collect()))
        .build()
        .unwrap()
}

/// GetSamplingRules as AWS answers it: the Default rule is always listed.
fn rules_output(extra: Option<aws_sdk_xray::types::SamplingRule>) -> GetSamplingRulesOutput {
    let record = |r| {
        SamplingRuleRecord::builder()
            .sampling_rule(r)
            .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .modified_at(aws_smithy_types::DateTime::from_secs(1_700_000_500))
            .build()
    };
    let mut b = GetSamplingRulesOutput::builder().sampling_rule_records(record(sdk_rule(
        DEFAULT_RULE,
        DEFAULT_ARN,
        |r| r,
    )));
    if let Some(r) = extra {
        b = b.sampling_rule_records(record(r));
    }
    b.build()
}

fn owner_tags() -> ListTagsForResourceOutput {
    ListTagsForResourceOutput::builder()
        .tags(
            aws_sdk_xray::types::Tag::builder()
                .key("vigil:owner")
                .value("test")
                .build()
                .unwrap(),
        )
        .build()
}

fn wanted(names: &[&str]) -> Wanted {
    Wanted::names(
        names
            .iter()
            .map(|n| (n.to_string(), json!({"tags": {}})))
            .collect(),
    )
}

fn issues(name: &str, s: &Spec) -> Vec<(String, String)> {
    let mut i = Issues::default();
    SamplingRule::validate_named(name, s, &mut i);
    i.0.into_iter()
        .map(|(p, m)| (format!("{p:?}"), m))
        .collect()
}

#[test]
fn validation_enforces_aws_ranges() {
    assert!(issues(NAME, &spec()).is_empty());
    let bad = Spec {
        priority: Some(10000),
        fixed_rate: 1.5,
        reservoir_size: -1,
        version: Some(2),
        http_method: Some("PROPPATCHXX".into()),
        attributes: BTreeMap::from([("k".to_string(), "v".repeat(33))]),
        ..spec()
    };
    let found = issues(NAME, &bad);
    let msgs: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(found.len(), 6, "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("between 0 and 1")));
    assert!(msgs.iter().any(|m| m.contains("1 to 9999")));
    assert!(msgs.iter().any(|m| m.contains("must be 1")));
    let missing = Spec {
        priority: None,
        ..spec()
    };
    assert!(issues(NAME, &missing)[0].1.contains("is required"));
    assert!(SamplingRule::validate_name(&"r".repeat(33)).is_err());
    assert!(SamplingRule::validate_name(&"r".repeat(32)).is_ok());
}

#[test]
fn default_rule_takes_only_rate_and_reservoir() {
    let ok = Spec {
        fixed_rate: 0.1,
        reservoir_size: 2,
        ..Spec::default()
    };
    assert!(issues(DEFAULT_RULE, &ok).is_empty());
    let found = issues(DEFAULT_RULE, &spec());
    // Every matcher, the priority, the version and the tags are AWS's to set.
    assert_eq!(found.len(), 9, "{found:?}");
    assert!(
        found
            .iter()
            .all(|(_, m)| m.contains("only fixedRate and reservoirSize"))
    );
    // Its live form, with AWS's fixed values, is the same as the short manifest.
    let live = live_rule(DEFAULT_RULE, DEFAULT_ARN, |r| Rule {
        fixed_rate: 0.1,
        reservoir_size: 2,
        ..r
    });
    assert_eq!(
        SamplingRule::normalize(&ok, &env()),
        SamplingRule::live_state(&live, &env())
    );
    assert_eq!(SamplingRule::to_spec(&live), ok);
}

#[test]
fn defaults_fill_in_like_aws() {
    // resourceArn and the matchers absent mean "*", version 1, attributes empty.
    let short = Spec {
        priority: Some(1000),
        fixed_rate: 1.0,
        reservoir_size: 0,
        ..Spec::default()
    };
    let live = live_rule(NAME, ARN, |r| Rule {
        fixed_rate: 1.0,
        reservoir_size: 0,
        service_name: "*".into(),
        url_path: "*".into(),
        ..r
    });
    assert_eq!(
        SamplingRule::normalize(&short, &env()),
        SamplingRule::live_state(&live, &env())
    );
    // A rate written as the integer 1 is the same as 1.0.
    let from_yaml: Spec =
        serde_json::from_value(json!({"priority": 1000, "fixedRate": 1, "reservoirSize": 0}))
            .unwrap();
    assert_eq!(
        SamplingRule::normalize(&from_yaml, &env()),
        SamplingRule::live_state(&live, &env())
    );
    // Import writes the defaults back out as absent.
    let imported = SamplingRule::to_spec(&live);
    assert_eq!(imported, short);
}

#[test]
fn update_carries_only_changed_fields() {
    let live = Rule::from_spec(&spec());
    assert!(live.update_from(&live, NAME).is_none());
    let mut want = live.clone();
    want.fixed_rate = 0.2;
    want.url_path = "/api/orders/*".into();
    let u = live.clone();
    let upd = want.update_from(&u, NAME).unwrap();
    assert_eq!(upd.rule_name(), Some(NAME));
    assert_eq!(upd.fixed_rate(), Some(0.2));
    assert_eq!(upd.url_path(), Some("/api/orders/*"));
    assert_eq!(
        (upd.priority(), upd.host(), upd.attributes()),
        (None, None, None)
    );
    // Removing the last attribute sends an empty map, which clears them.
    let mut with_attr = live.clone();
    with_attr.attributes.insert("tier".into(), "gold".into());
    let upd = live.update_from(&with_attr, NAME).unwrap();
    assert_eq!(upd.attributes().map(|a| a.len()), Some(0));
}

#[tokio::test]
async fn create() {
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| rules_output(None));
    let create = mock!(aws_sdk_xray::Client::create_sampling_rule)
        .match_requests(|r| {
            let Some(s) = r.sampling_rule() else {
                return false;
            };
            s.rule_name() == Some(NAME)
                && s.priority() == 1000
                && s.fixed_rate() == 0.1
                && s.reservoir_size() == 1
                && s.service_name() == "monitoring-lab-api"
                && s.url_path() == "/api/*"
                && s.resource_arn() == "*"
                && s.version() == 1
                && s.attributes().is_none()
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "vigil:owner" && t.value() == "test")
        })
        .then_output(|| {
            CreateSamplingRuleOutput::builder()
                .sampling_rule_record(
                    SamplingRuleRecord::builder()
                        .sampling_rule(sdk_rule(NAME, ARN, |r| r))
                        .build(),
                )
                .build()
        });
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &create]);
    let live = observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
        .await
        .unwrap();
    assert!(live.is_empty());
    let attrs = apply::<SamplingRule>(&aws, NAME, &spec(), None)
        .await
        .unwrap();
    assert_eq!(attrs["arn"], ARN);
    assert_eq!((get.num_calls(), create.num_calls()), (1, 1));
}

#[tokio::test]
async fn noop_writes_nothing() {
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules)
        .then_output(|| rules_output(Some(sdk_rule(NAME, ARN, |r| r))));
    let tags = mock!(aws_sdk_xray::Client::list_tags_for_resource)
        .match_requests(|r| r.resource_arn() == Some(ARN))
        .then_output(owner_tags);
    let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
        .then_output(|| UpdateSamplingRuleOutput::builder().build());
    let tag = mock!(aws_sdk_xray::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let untag = mock!(aws_sdk_xray::Client::untag_resource)
        .then_output(|| UntagResourceOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &tags, &update, &tag, &untag]);
    let l = &observe_one::<SamplingRule>(&aws, &wanted(&[NAME]), NAME).await;
    apply_unchanged::<SamplingRule>(&aws, NAME, &spec(), l).await;
    let calls = [&get, &tags, &update, &tag, &untag].map(|r| r.num_calls());
    assert_eq!(calls, [1, 1, 0, 0, 0], "reads, then no write");
}

#[tokio::test]
async fn update_sends_a_partial_sampling_rule_update() {
    // Someone raised the rate to 0.5 in the console.
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| {
        rules_output(Some(sdk_rule(NAME, ARN, |r| Rule {
            fixed_rate: 0.5,
            ..r
        })))
    });
    let tags = mock!(aws_sdk_xray::Client::list_tags_for_resource).then_output(owner_tags);
    let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
        .match_requests(|r| {
            r.sampling_rule_update().is_some_and(|u| {
                u.rule_name() == Some(NAME)
                    && u.fixed_rate() == Some(0.1)
                    && u.priority().is_none()
                    && u.reservoir_size().is_none()
                    && u.service_name().is_none()
                    && u.attributes().is_none()
            })
        })
        .then_output(|| UpdateSamplingRuleOutput::builder().build());
    let tag = mock!(aws_sdk_xray::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &tags, &update, &tag]);
    let l = &observe_one::<SamplingRule>(&aws, &wanted(&[NAME]), NAME).await;
    let diffs = diff_of::<SamplingRule>(&spec(), l, &aws.env);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "fixedRate");
    assert_eq!(
        (diffs[0].from.clone(), diffs[0].to.clone()),
        (Some(json!(0.5)), Some(json!(0.1)))
    );
    apply::<SamplingRule>(&aws, NAME, &spec(), Some(l))
        .await
        .unwrap();
    assert_eq!((update.num_calls(), tag.num_calls()), (1, 0));
}

#[tokio::test]
async fn default_rule_is_updated_in_place_never_created_tagged_or_deleted() {
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_output(|| rules_output(None));
    let update = mock!(aws_sdk_xray::Client::update_sampling_rule)
        .match_requests(|r| {
            r.sampling_rule_update().is_some_and(|u| {
                u.rule_name() == Some(DEFAULT_RULE)
                    && u.fixed_rate() == Some(0.1)
                    && u.reservoir_size().is_none()
            })
        })
        .then_output(|| UpdateSamplingRuleOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get, &update]);
    let s = Spec {
        fixed_rate: 0.1,
        reservoir_size: 1,
        ..Spec::default()
    };
    // Even with tags wanted (import), the Default rule's tags are not read.
    let l = &observe_one::<SamplingRule>(&aws, &Wanted::everything(), DEFAULT_RULE).await;
    assert!(
        SamplingRule::live_tags(l).is_none(),
        "its tags are not read"
    );
    apply::<SamplingRule>(&aws, DEFAULT_RULE, &s, Some(l))
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 1);

    let err = apply::<SamplingRule>(&aws, DEFAULT_RULE, &s, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be created"), "{err}");
    let err = SamplingRule::delete(&aws, DEFAULT_RULE, l)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot be deleted"), "{err}");
    assert_eq!(err.class(), ErrorClass::Terminal);
    // Only the one update was sent.
    assert_eq!((get.num_calls(), update.num_calls()), (1, 1));
}

#[tokio::test]
async fn delete() {
    let del = mock!(aws_sdk_xray::Client::delete_sampling_rule)
        .match_requests(|r| r.rule_name() == Some(NAME) && r.rule_arn().is_none())
        .then_output(|| DeleteSamplingRuleOutput::builder().build());
    let aws = mock_aws!(xray: aws_sdk_xray, Sequential, [&del]);
    let l = Live {
        name: NAME.into(),
        arn: ARN.into(),
        rule: Rule::from_spec(&spec()),
        tags: None,
    };
    SamplingRule::delete(&aws, NAME, &l).await.unwrap();
    assert_eq!(del.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_classified() {
    // X-Ray's ThrottledException is a 429. Retries are off so the test counts one attempt;
    // vigil's own clients retry it (standard mode) before reporting.
    let get = mock!(aws_sdk_xray::Client::get_sampling_rules).then_http_response(|| {
        let mut r = HttpResponse::new(
            StatusCode::try_from(429).unwrap(),
            SdkBody::from(r#"{"message":"Rate exceeded"}"#),
        );
        r.headers_mut().insert("content-type", "application/json");
        r.headers_mut()
            .insert("x-amzn-errortype", "ThrottledException");
        r
    });
    let aws = mock_aws!(xray: aws_sdk_xray, MatchAny, [&get], |c| c
        .retry_config(aws_sdk_xray::config::retry::RetryConfig::disabled()));
    let err = observe_live::<SamplingRule>(&aws, &wanted(&[NAME]))
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Throttled);
    assert!(err.class().is_retryable());
    assert_eq!(
        err.aws().and_then(|a| a.code.as_deref()),
        Some("ThrottledException")
    );
    assert_eq!(
        err.aws().unwrap().message,
        "ThrottledException: Rate exceeded"
    );
    assert_eq!(get.num_calls(), 1);
}

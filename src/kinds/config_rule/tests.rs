//! Unit tests of the config_rule kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::{MockClients, aws_with, mock_aws, tagging_client, tagging_rule};
use crate::testkit::fixtures::{apply, diff_of, observe_live};
use aws_sdk_config::operation::delete_config_rule::DeleteConfigRuleOutput;
use aws_sdk_config::operation::describe_config_rules::{
    DescribeConfigRulesError, DescribeConfigRulesOutput,
};
use aws_sdk_config::operation::get_custom_rule_policy::GetCustomRulePolicyOutput;
use aws_sdk_config::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_config::operation::put_config_rule::PutConfigRuleOutput;
use aws_sdk_config::operation::tag_resource::TagResourceOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

fn env() -> Env {
    crate::testkit::fixtures::env_of("test")
}

fn managed(id: &str) -> Spec {
    Spec {
        source: Source {
            owner: "AWS".into(),
            source_identifier: Some(id.into()),
            ..Source::default()
        },
        ..Spec::default()
    }
}

fn messages(spec: &Spec) -> Vec<String> {
    // With the tag rules every kind shares, as the loader checks them.
    crate::testkit::fixtures::load_messages::<ConfigRule>(spec)
}

fn same(desired: &Spec, live: &Spec) -> Vec<FieldDiff> {
    ConfigRule::diff(
        &ConfigRule::normalize(desired, &env()),
        &canonical(live, live.tags.as_ref()),
    )
}

#[test]
fn input_parameter_values_compare_as_strings() {
    let mut d = managed("ACCESS_KEYS_ROTATED");
    d.input_parameters =
        Some(json!({"maxAccessKeyAge": 90, "strict": true, "ratio": 0.5, "ten": 10.0}));
    let mut l = d.clone();
    l.input_parameters = params_from_live(Some(
        r#"{"maxAccessKeyAge":"90","strict":"true","ratio":"0.5","ten":"10"}"#,
    ));
    assert!(same(&d, &l).is_empty(), "{:?}", same(&d, &l));
    // What AWS receives is strings, as managed rules demand.
    assert_eq!(
        params_wire(d.input_parameters.as_ref()).unwrap(),
        r#"{"maxAccessKeyAge":"90","strict":"true","ratio":"0.5","ten":"10"}"#
    );
    l.input_parameters = params_from_live(Some(
        r#"{"maxAccessKeyAge":"30","strict":"true","ratio":"0.5","ten":"10"}"#,
    ));
    let diffs = same(&d, &l);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "inputParameters.maxAccessKeyAge");
    assert_eq!(diffs[0].from, Some(json!("30")));
    assert_eq!(diffs[0].to, Some(json!("90")));
}

#[test]
fn empty_input_parameters_are_none() {
    let d = managed("ENCRYPTED_VOLUMES");
    let mut l = d.clone();
    for empty in ["{}", "", "  "] {
        l.input_parameters = params_from_live(Some(empty));
        assert!(same(&d, &l).is_empty(), "{empty:?}");
    }
    let mut d2 = d.clone();
    d2.input_parameters = Some(json!({}));
    assert!(same(&d2, &d).is_empty());
    assert_eq!(params_wire(d2.input_parameters.as_ref()), None);
}

#[test]
fn server_added_fields_never_show() {
    // What DescribeConfigRules returns for a rule created with only name and source.
    let r = cfg::ConfigRule::builder()
        .config_rule_name("root-access-key-check")
        .config_rule_arn("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-abc123")
        .config_rule_id("config-rule-abc123")
        .source(
            cfg::Source::builder()
                .owner(cfg::Owner::Aws)
                .source_identifier("IAM_ROOT_ACCESS_KEY_CHECK")
                .build()
                .unwrap(),
        )
        .maximum_execution_frequency(cfg::MaximumExecutionFrequency::TwentyFourHours)
        .config_rule_state(cfg::ConfigRuleState::Active)
        .evaluation_modes(
            cfg::EvaluationModeConfiguration::builder()
                .mode(cfg::EvaluationMode::Detective)
                .build(),
        )
        .input_parameters("{}")
        .description("")
        .build();
    let live = spec_from_live(&r);
    assert!(
        same(&managed("IAM_ROOT_ACCESS_KEY_CHECK"), &live).is_empty(),
        "{:?}",
        same(&managed("IAM_ROOT_ACCESS_KEY_CHECK"), &live)
    );
    // An explicit frequency that differs does show.
    let mut hourly = managed("IAM_ROOT_ACCESS_KEY_CHECK");
    hourly.maximum_execution_frequency = Some("One_Hour".into());
    let d = same(&hourly, &live);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "maximumExecutionFrequency");
    // And a live non-default frequency the manifest leaves out shows as removed.
    let mut six = live.clone();
    six.maximum_execution_frequency = Some("Six_Hours".into());
    assert_eq!(
        same(&managed("IAM_ROOT_ACCESS_KEY_CHECK"), &six)[0].path,
        "maximumExecutionFrequency"
    );
    // Import writes none of the server's additions.
    let imported = ConfigRule::to_spec(&Live {
        name: "root-access-key-check".into(),
        arn: String::new(),
        id: String::new(),
        created_by: None,
        spec: live,
    });
    assert!(imported.evaluation_modes.is_empty());
    assert_eq!(imported.input_parameters, None);
}

#[test]
fn proactive_mode_is_compared() {
    let mut d = managed("ENCRYPTED_VOLUMES");
    d.evaluation_modes = vec![
        EvaluationMode {
            mode: "PROACTIVE".into(),
        },
        EvaluationMode {
            mode: "DETECTIVE".into(),
        },
    ];
    let l = managed("ENCRYPTED_VOLUMES");
    assert_eq!(same(&d, &l)[0].path, "evaluationModes");
    let mut l2 = l.clone();
    l2.evaluation_modes = vec![
        EvaluationMode {
            mode: "DETECTIVE".into(),
        },
        EvaluationMode {
            mode: "PROACTIVE".into(),
        },
    ];
    assert!(same(&d, &l2).is_empty());
}

#[test]
fn triggers_and_scope_are_sets_with_defaults() {
    let mut d = Spec {
        source: Source {
            owner: "CUSTOM_LAMBDA".into(),
            source_identifier: Some("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
            source_details: vec![
                SourceDetail {
                    event_source: None,
                    message_type: "ScheduledNotification".into(),
                    maximum_execution_frequency: None,
                },
                SourceDetail {
                    event_source: Some("aws.config".into()),
                    message_type: "ConfigurationItemChangeNotification".into(),
                    maximum_execution_frequency: None,
                },
            ],
            custom_policy_details: None,
        },
        scope: Some(Scope {
            compliance_resource_types: vec!["AWS::EC2::Volume".into(), "AWS::EC2::Instance".into()],
            ..Scope::default()
        }),
        ..Spec::default()
    };
    let mut l = d.clone();
    l.source.source_details.reverse();
    l.source.source_details[1].maximum_execution_frequency = Some("TwentyFour_Hours".into());
    l.source.source_details[1].event_source = Some("aws.config".into());
    l.scope
        .as_mut()
        .unwrap()
        .compliance_resource_types
        .reverse();
    assert!(same(&d, &l).is_empty(), "{:?}", same(&d, &l));
    // An empty scope is no scope.
    d.scope = Some(Scope::default());
    l.scope = None;
    assert!(same(&d, &l).is_empty());
}

#[test]
fn guard_policy_text_ignores_the_trailing_newline() {
    let d = Spec {
        tags: None,
        ..guard_spec("rule r { configuration.encrypted == true }\n")
    };
    let mut l = d.clone();
    let c = l.source.custom_policy_details.as_mut().unwrap();
    c.policy_text = "rule r { configuration.encrypted == true }".into();
    c.enable_debug_log_delivery = Some(false);
    assert!(same(&d, &l).is_empty());
    assert!(messages(&d).is_empty(), "{:?}", messages(&d));
}

#[test]
fn tags_carry_the_owner_and_are_compared_only_when_declared() {
    let mut d = managed("ENCRYPTED_VOLUMES");
    let mut l = d.clone();
    assert!(same(&d, &l).is_empty());
    d.tags = Some(BTreeMap::from([("team".to_string(), "ops".to_string())]));
    l.tags = Some(BTreeMap::from([("team".to_string(), "ops".to_string())]));
    let diffs = same(&d, &l);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "tags[\"vigil:owner\"]");
}

#[test]
fn validation_catches_what_aws_rejects() {
    assert!(messages(&managed("ENCRYPTED_VOLUMES")).is_empty());
    assert!(
        messages(&managed("ROOT_ACCESS_KEY_CHECK"))[0].contains("use IAM_ROOT_ACCESS_KEY_CHECK")
    );
    assert!(messages(&managed("encrypted-volumes"))[0].contains("upper case"));
    let mut no_id = managed("X");
    no_id.source.source_identifier = None;
    assert!(messages(&no_id)[0].contains("needs sourceIdentifier"));
    let mut bad = managed("ENCRYPTED_VOLUMES");
    bad.maximum_execution_frequency = Some("Daily".into());
    bad.source.owner = "Amazon".into();
    bad.input_parameters = Some(json!("{\"a\":\"b\"}"));
    bad.scope = Some(Scope {
        compliance_resource_types: vec!["AWS::EC2::volume".into(), "EC2 volume".into()],
        tag_key: Some("env".into()),
        ..Scope::default()
    });
    bad.tags = Some(BTreeMap::from([("aws:x".to_string(), "y".to_string())]));
    let m = messages(&bad);
    for want in [
        "`Amazon` is not a valid owner",
        "`Daily` is not a valid maximumExecutionFrequency",
        "not as a JSON string",
        "by tag or by resource, not both",
        "did you mean AWS::EC2::Volume?",
        "write it like AWS::EC2::Instance",
        "reserved for AWS",
    ] {
        assert!(m.iter().any(|x| x.contains(want)), "{want} not in {m:?}");
    }
    let lambda = Spec {
        source: Source {
            owner: "CUSTOM_LAMBDA".into(),
            source_identifier: Some("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
            source_details: vec![SourceDetail {
                event_source: None,
                message_type: "ConfigurationItemChangeNotification".into(),
                maximum_execution_frequency: Some("One_Hour".into()),
            }],
            custom_policy_details: None,
        },
        ..Spec::default()
    };
    assert!(messages(&lambda)[0].contains("a frequency applies only to"));
    let mut no_triggers = lambda.clone();
    no_triggers.source.source_details.clear();
    assert!(messages(&no_triggers)[0].contains("at least one trigger"));
    let policy = Spec {
        source: Source {
            owner: "CUSTOM_POLICY".into(),
            source_identifier: Some("x".into()),
            ..Source::default()
        },
        ..Spec::default()
    };
    let m = messages(&policy);
    assert!(
        m.iter().any(|x| x.contains("has no sourceIdentifier")),
        "{m:?}"
    );
    assert!(
        m.iter().any(|x| x.contains("needs customPolicyDetails")),
        "{m:?}"
    );
    // References are resolved later, so they pass.
    let mut r = lambda.clone();
    r.source.source_details[0].maximum_execution_frequency = None;
    r.source.source_identifier = Some("${Stack/s.outputs.FunctionArn}".into());
    assert!(messages(&r).is_empty(), "{:?}", messages(&r));
}

fn live_rule() -> cfg::ConfigRule {
    cfg::ConfigRule::builder()
        .config_rule_name("guard")
        .config_rule_arn("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-g1")
        .config_rule_id("config-rule-g1")
        .source(
            cfg::Source::builder()
                .owner(cfg::Owner::CustomPolicy)
                .source_details(
                    cfg::SourceDetail::builder()
                        .event_source(cfg::EventSource::AwsConfig)
                        .message_type(cfg::MessageType::ConfigurationItemChangeNotification)
                        .build(),
                )
                // DescribeConfigRules leaves the policy text out.
                .custom_policy_details(
                    cfg::CustomPolicyDetails::builder()
                        .policy_runtime("guard-2.x.x")
                        .policy_text("")
                        .enable_debug_log_delivery(false)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .evaluation_modes(
            cfg::EvaluationModeConfiguration::builder()
                .mode(cfg::EvaluationMode::Detective)
                .build(),
        )
        .config_rule_state(cfg::ConfigRuleState::Active)
        .build()
}

fn guard_spec(text: &str) -> Spec {
    Spec {
        source: Source {
            owner: "CUSTOM_POLICY".into(),
            source_details: vec![SourceDetail {
                event_source: None,
                message_type: "ConfigurationItemChangeNotification".into(),
                maximum_execution_frequency: None,
            }],
            custom_policy_details: Some(CustomPolicyDetails {
                policy_runtime: "guard-2.x.x".into(),
                policy_text: text.into(),
                enable_debug_log_delivery: None,
            }),
            ..Source::default()
        },
        tags: Some(BTreeMap::from([("team".to_string(), "ops".to_string())])),
        ..Spec::default()
    }
}

const POLICY: &str = "rule encrypted { configuration.encrypted == true }";

fn wanted() -> Wanted {
    Wanted::names(BTreeMap::from([(
        "guard".to_string(),
        json!({"tags": {"team": "ops"}}),
    )]))
}

// moto refuses CUSTOM_POLICY rules and returns no EvaluationModes, so the real
// response shapes are replayed here: create, no-op, update and delete.
#[tokio::test]
async fn guard_rule_create_noop_update_delete() {
    let empty = mock!(aws_sdk_config::Client::describe_config_rules)
        .match_requests(|r| r.config_rule_names().is_empty())
        .then_output(|| DescribeConfigRulesOutput::builder().build());
    let put = mock!(aws_sdk_config::Client::put_config_rule)
        .match_requests(|r| {
            let rule = r.config_rule().unwrap();
            rule.config_rule_name() == Some("guard")
                && rule
                    .source()
                    .unwrap()
                    .custom_policy_details()
                    .unwrap()
                    .policy_text()
                    == POLICY
                && rule.input_parameters().is_none()
                && r.tags()
                    .iter()
                    .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("test"))
                && r.tags().iter().any(|t| t.key() == Some("team"))
        })
        .then_output(|| PutConfigRuleOutput::builder().build());
    let after = mock!(aws_sdk_config::Client::describe_config_rules)
        .match_requests(|r| r.config_rule_names() == ["guard"])
        .then_output(|| {
            DescribeConfigRulesOutput::builder()
                .config_rules(live_rule())
                .build()
        });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&empty, &put, &after]);
    assert!(
        observe_live::<ConfigRule>(&aws, &wanted())
            .await
            .unwrap()
            .is_empty()
    );
    let attrs = apply::<ConfigRule>(&aws, "guard", &guard_spec(POLICY), None)
        .await
        .unwrap();
    assert_eq!(
        attrs["arn"],
        "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-g1"
    );
    assert_eq!(attrs["id"], "config-rule-g1");
    assert_eq!((put.num_calls(), after.num_calls()), (1, 1));

    // Second run: Describe leaves the text out, GetCustomRulePolicy fills it in, tags match.
    let listed = mock!(aws_sdk_config::Client::describe_config_rules).then_output(|| {
        DescribeConfigRulesOutput::builder()
            .config_rules(live_rule())
            .build()
    });
    let text = mock!(aws_sdk_config::Client::get_custom_rule_policy)
        .match_requests(|r| r.config_rule_name() == Some("guard"))
        .then_output(|| {
            GetCustomRulePolicyOutput::builder()
                .policy_text(POLICY)
                .build()
        });
    let tags = mock!(aws_sdk_config::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_arn()
                == Some("arn:aws:config:us-east-1:123456789012:config-rule/config-rule-g1")
        })
        .then_output(|| {
            ListTagsForResourceOutput::builder()
                .tags(cfg::Tag::builder().key("team").value("ops").build())
                .tags(cfg::Tag::builder().key("vigil:owner").value("test").build())
                .build()
        });
    let put2 = mock!(aws_sdk_config::Client::put_config_rule)
        .match_requests(|r| {
            r.config_rule()
                .unwrap()
                .source()
                .unwrap()
                .custom_policy_details()
                .unwrap()
                .policy_text()
                == "rule changed {}"
        })
        .then_output(|| PutConfigRuleOutput::builder().build());
    let tag = mock!(aws_sdk_config::Client::tag_resource)
        .then_output(|| TagResourceOutput::builder().build());
    let delete = mock!(aws_sdk_config::Client::delete_config_rule)
        .match_requests(|r| r.config_rule_name() == Some("guard"))
        .then_output(|| DeleteConfigRuleOutput::builder().build());
    let client = mock_client!(
        aws_sdk_config,
        RuleMode::MatchAny,
        [&listed, &text, &tags, &put2, &tag, &delete]
    );
    // moto's Tagging API lists no Config rule: tags then come one call each.
    let batch = tagging_rule(&[]);
    let aws = aws_with(MockClients {
        config: Some(client),
        tagging: Some(tagging_client(&[&batch])),
        ..Default::default()
    });
    let observed = crate::kinds::observe::<ConfigRule>(&aws, &wanted())
        .await
        .unwrap();
    let l = crate::kinds::detail::<ConfigRule>(&observed.found["guard"]);
    assert_eq!(
        (listed.num_calls(), text.num_calls(), tags.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(batch.num_calls(), 1);
    let env = aws.env.clone();
    let d = diff_of::<ConfigRule>(&guard_spec(POLICY), l, &env);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(
        observed.found["guard"].owner,
        crate::kinds::LiveOwner::Tagged("test".into())
    );
    apply::<ConfigRule>(&aws, "guard", &guard_spec(POLICY), Some(l))
        .await
        .unwrap();
    assert_eq!((put2.num_calls(), tag.num_calls()), (0, 0));

    // A changed policy is one put; the tags already match, so no tag call.
    let changed = guard_spec("rule changed {}");
    let d = diff_of::<ConfigRule>(&changed, l, &env);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "source.customPolicyDetails.policyText");
    apply::<ConfigRule>(&aws, "guard", &changed, Some(l))
        .await
        .unwrap();
    assert_eq!((put2.num_calls(), tag.num_calls()), (1, 0));

    ConfigRule::delete(&aws, "guard", l).await.unwrap();
    assert_eq!(delete.num_calls(), 1);
}

/// On AWS, GetResources returns the rules with their tags: no call per rule.
#[tokio::test]
async fn tags_come_in_a_batch_where_the_tagging_api_serves_config() {
    let arn = "arn:aws:config:us-east-1:123456789012:config-rule/config-rule-g1";
    let listed = mock!(aws_sdk_config::Client::describe_config_rules).then_output(|| {
        DescribeConfigRulesOutput::builder()
            .config_rules(live_rule())
            .build()
    });
    let text = mock!(aws_sdk_config::Client::get_custom_rule_policy).then_output(|| {
        GetCustomRulePolicyOutput::builder()
            .policy_text(POLICY)
            .build()
    });
    let batch = tagging_rule(&[(arn, &[("team", "ops"), ("vigil:owner", "test")])]);
    let aws = aws_with(MockClients {
        config: Some(mock_client!(
            aws_sdk_config,
            RuleMode::MatchAny,
            [&listed, &text]
        )),
        tagging: Some(tagging_client(&[&batch])),
        ..Default::default()
    });
    let observed = crate::kinds::observe::<ConfigRule>(&aws, &wanted())
        .await
        .unwrap();
    assert_eq!(
        observed.found["guard"].owner,
        crate::kinds::LiveOwner::Tagged("test".into())
    );
    // The config client has no ListTagsForResource rule: a call would fail.
    assert_eq!(batch.num_calls(), 1);
}

#[tokio::test]
async fn access_denied_is_terminal_and_named() {
    let denied = mock!(aws_sdk_config::Client::describe_config_rules).then_error(|| {
        DescribeConfigRulesError::generic(crate::aws::testing::error_meta(
            "AccessDeniedException",
            "User is not authorized to perform: config:DescribeConfigRules",
        ))
    });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&denied]);
    let err = observe_live::<ConfigRule>(&aws, &wanted())
        .await
        .unwrap_err();
    assert_eq!(err.class(), crate::aws::ErrorClass::AccessDenied);
    assert_eq!(err.aws().unwrap().operation, "DescribeConfigRules");
    assert_eq!(denied.num_calls(), 1, "AccessDenied is not retried");
}

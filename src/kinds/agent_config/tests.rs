//! Unit tests of the agent_config kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::{MockClients, aws_with, mock_aws};
use crate::testkit::fixtures::apply;
use crate::testkit::fixtures::diff_of;
use aws_sdk_ssm::operation::add_tags_to_resource::AddTagsToResourceOutput;
use aws_sdk_ssm::operation::describe_parameters::DescribeParametersOutput;
use aws_sdk_ssm::operation::get_parameters::GetParametersOutput;
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_sdk_ssm::types::{Parameter, ParameterMetadata};
use aws_smithy_mocks::{RuleMode, mock, mock_client};

const NAME: &str = "AmazonCloudWatch-monitoring-lab";

fn env() -> Env {
    crate::testkit::fixtures::env_of("test")
}

fn config() -> Value {
    json!({
        "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
        "logs": {"logs_collected": {"files": {"collect_list": [
            {"file_path": "/var/log/httpd/access_log", "log_group_name": "/aws/ec2/httpd/access_log", "log_stream_name": "{instance_id}", "timezone": "UTC"}
        ]}}}
    })
}

fn spec() -> Spec {
    Spec {
        config: config(),
        ..Spec::default()
    }
}

fn live(value: &str) -> Live {
    Live {
        name: NAME.into(),
        arn: format!("arn:aws:ssm:us-east-1:123456789012:parameter/{NAME}"),
        value: value.into(),
        parameter_type: "String".into(),
        description: Some("set by hand".into()),
        tier: Some("Standard".into()),
        tags: BTreeMap::from([(super::super::OWNER_TAG.to_string(), "test".to_string())]),
    }
}

fn messages(s: &Spec) -> Vec<String> {
    crate::testkit::fixtures::messages::<AgentConfig>(s)
}

#[test]
fn the_name_must_be_readable_under_the_agent_policy() {
    assert!(AgentConfig::validate_name(NAME).is_ok());
    let e = AgentConfig::validate_name("cw-agent-config").unwrap_err();
    assert!(
        e.contains("AmazonCloudWatch-") && e.contains("CloudWatchAgentServerPolicy"),
        "{e}"
    );
    assert!(AgentConfig::validate_name("AmazonCloudWatch-lab/linux").is_err());
}

#[test]
fn size_limits_follow_the_tier() {
    let big = json!({"logs": {"x": "y".repeat(5000)}});
    let m = messages(&Spec {
        config: big.clone(),
        ..Spec::default()
    });
    assert!(
        m[0].contains("4 KB") && m[0].contains("tier: Advanced"),
        "{m:?}"
    );
    assert!(
        messages(&Spec {
            config: big,
            tier: Some("Advanced".into()),
            ..Spec::default()
        })
        .is_empty()
    );
    let huge = json!({"logs": {"x": "y".repeat(9000)}});
    assert!(
        messages(&Spec {
            config: huge,
            tier: Some("Advanced".into()),
            ..Spec::default()
        })[0]
            .contains("8 KB")
    );
    assert!(
        messages(&Spec {
            config: json!("text"),
            tier: Some("Premium".into()),
            ..Spec::default()
        })
        .len()
            == 2
    );
}

// `description: ""` met the absent description DescribeParameters reports: a
// diff on every run, and a PutParameter overwrite to "fix" it each time.
#[test]
fn an_empty_description_matches_the_absent_one() {
    let spec = Spec {
        description: Some(String::new()),
        ..spec()
    };
    let mut l = live(&serialized(&config()));
    l.description = None;
    let d = diff_of::<AgentConfig>(&spec, &l, &env());
    assert!(d.is_empty(), "{d:?}");
}

#[test]
fn json_compares_by_meaning_and_unset_fields_are_not_compared() {
    // Pretty-printed, keys reordered, 60 written as 60.0: the same configuration.
    let stored = r#"{
  "logs": {"logs_collected": {"files": {"collect_list": [
    {"timezone": "UTC", "log_stream_name": "{instance_id}", "log_group_name": "/aws/ec2/httpd/access_log", "file_path": "/var/log/httpd/access_log"}
  ]}}},
  "agent": {"run_as_user": "root", "metrics_collection_interval": 60.0}
}"#;
    let l = live(stored);
    let d = diff_of::<AgentConfig>(&spec(), &l, &env());
    assert!(d.is_empty(), "{d:?}");
    let mut with_desc = spec();
    with_desc.description = Some("CloudWatch agent config for the lab".into());
    with_desc.tier = Some("Intelligent-Tiering".into());
    let d = diff_of::<AgentConfig>(&with_desc, &l, &env());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "description");
    // A changed value is one document diff.
    let mut other = spec();
    other.config["agent"]["metrics_collection_interval"] = json!(30);
    let d = diff_of::<AgentConfig>(&other, &l, &env());
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "config");
}

#[test]
fn a_value_that_is_not_json_shows_as_a_change() {
    let d = diff_of::<AgentConfig>(&spec(), &live("not json"), &env());
    assert_eq!(d[0].path, "config");
    assert_eq!(d[0].from, Some(json!("not json")));
}

#[tokio::test]
async fn observe_reads_ten_names_a_call() {
    let names: Vec<String> = (0..12)
        .map(|i| format!("AmazonCloudWatch-host{i:02}"))
        .collect();
    let get = mock!(aws_sdk_ssm::Client::get_parameters).then_compute_output(|r| {
        // Only the first name of each batch exists.
        let first = r.names()[0].clone();
        let invalid = r.names()[1..].to_vec();
        GetParametersOutput::builder()
            .parameters(
                Parameter::builder()
                    .name(&first)
                    .r#type(ParameterType::String)
                    .value("{}")
                    .version(1)
                    .build(),
            )
            .set_invalid_parameters(Some(invalid))
            .build()
    });
    let describe = mock!(aws_sdk_ssm::Client::describe_parameters)
        .match_requests(|r| {
            r.parameter_filters().len() == 1 && r.parameter_filters()[0].values().len() == 2
        })
        .then_output(|| {
            DescribeParametersOutput::builder()
                .parameters(
                    ParameterMetadata::builder()
                        .name("AmazonCloudWatch-host00")
                        .tier(ParameterTier::Advanced)
                        .build(),
                )
                .build()
        });
    // Tags come from the Tagging API: the two parameters' ARNs in one call.
    let tags = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .match_requests(|r| r.resource_arn_list().len() == 2)
        .then_compute_output(|r| {
            let mappings = r
                .resource_arn_list()
                .iter()
                .map(|arn| {
                    aws_sdk_resourcegroupstagging::types::ResourceTagMapping::builder()
                        .resource_arn(arn)
                        .tags(
                            aws_sdk_resourcegroupstagging::types::Tag::builder()
                                .key("vigil:owner")
                                .value("test")
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect();
            aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(mappings))
                .build()
        });
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&get, &describe]);
    let tagging = mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&tags]);
    let aws = aws_with(MockClients {
        ssm: Some(client),
        tagging: Some(tagging),
        ..Default::default()
    });
    let wanted = Wanted::names(names.iter().map(|n| (n.clone(), json!({}))).collect());
    let live = crate::kinds::KindId::AgentConfig
        .observe(&aws, &wanted)
        .await
        .unwrap()
        .found;
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        ["AmazonCloudWatch-host00", "AmazonCloudWatch-host10"]
    );
    assert_eq!(
        live["AmazonCloudWatch-host10"].owner,
        crate::kinds::LiveOwner::Tagged("test".into())
    );
    let detail = crate::kinds::detail::<AgentConfig>(&live["AmazonCloudWatch-host00"]);
    assert_eq!(detail.tier.as_deref(), Some("Advanced"));
    assert_eq!(
        (get.num_calls(), describe.num_calls(), tags.num_calls()),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn tags_alone_do_not_rewrite_the_value_and_the_live_tier_is_kept() {
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.overwrite() == Some(true)
                && r.tags().is_empty()
                && r.tier() == Some(&ParameterTier::Advanced)
                && r.name() == Some(NAME)
        })
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let add = mock!(aws_sdk_ssm::Client::add_tags_to_resource)
        .match_requests(|r| {
            r.resource_id() == Some(NAME) && r.tags().len() == 1 && r.tags()[0].key() == "team"
        })
        .then_output(|| AddTagsToResourceOutput::builder().build());
    let aws = mock_aws!(ssm: aws_sdk_ssm, MatchAny, [&put, &add]);
    let mut tagged = spec();
    tagged.tags.insert("team".into(), "ops".into());
    let mut l = live(&serialized(&config()));
    l.tier = Some("Advanced".into());
    let attrs = apply::<AgentConfig>(&aws, NAME, &tagged, Some(&l))
        .await
        .unwrap();
    assert_eq!(attrs["arn"], l.arn);
    assert_eq!((put.num_calls(), add.num_calls()), (0, 1));
    // A changed value is written over the Advanced parameter without downgrading it.
    let mut changed = tagged.clone();
    changed.config["agent"]["run_as_user"] = json!("cwagent");
    l.tags.insert("team".into(), "ops".into());
    apply::<AgentConfig>(&aws, NAME, &changed, Some(&l))
        .await
        .unwrap();
    assert_eq!((put.num_calls(), add.num_calls()), (1, 1));
}

/// desired-state/ holds the lab's amazon-cloudwatch-agent.json, with the log
/// group names turned into references.
#[test]
fn desired_state_holds_the_lab_agent_config() {
    let lab: Value = serde_json::from_str(
            r#"{
  "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
  "metrics": {
    "namespace": "MonitoringLab/EC2",
    "metrics_collected": {
      "cpu": {"measurement": ["cpu_usage_idle", "cpu_usage_iowait", "cpu_usage_user", "cpu_usage_system"], "metrics_collection_interval": 60, "totalcpu": false},
      "disk": {"measurement": ["used_percent"], "metrics_collection_interval": 60, "resources": ["*"]},
      "diskio": {"measurement": ["io_time", "read_bytes", "write_bytes", "reads", "writes"], "metrics_collection_interval": 60, "resources": ["*"]},
      "mem": {"measurement": ["mem_used_percent"], "metrics_collection_interval": 60},
      "netstat": {"measurement": ["tcp_established", "tcp_time_wait"], "metrics_collection_interval": 60},
      "swap": {"measurement": ["swap_used_percent"], "metrics_collection_interval": 60}
    }
  },
  "logs": {"logs_collected": {"files": {"collect_list": [
    {"file_path": "/var/log/httpd/access_log", "log_group_name": "/aws/ec2/httpd/access_log", "log_stream_name": "{instance_id}", "timezone": "UTC"},
    {"file_path": "/var/log/httpd/error_log", "log_group_name": "/aws/ec2/httpd/error_log", "log_stream_name": "{instance_id}", "timezone": "UTC"}
  ]}}}
}"#,
        )
        .unwrap();
    let spec = crate::testkit::fixtures::desired_state_spec(
        "agent/cloudwatch-agent.yaml",
        crate::kinds::KindId::AgentConfig,
        "AmazonCloudWatch-monitoring-lab",
    );
    let resolved = crate::refs::substitute_json(&spec, &|expr: &str| {
        expr.strip_prefix("LogGroup/")?
            .strip_suffix(".name")
            .map(str::to_string)
    });
    let s: Spec = serde_json::from_value(resolved).unwrap();
    assert!(crate::diff::same(&s.config, &lab));
    assert!(messages(&s).is_empty());
    // That it is ordered after both log groups is the loader's: manifest's tests.
}

#[test]
fn the_agents_own_placeholders_pass_through_escaped() {
    let written = json!({"metrics": {"append_dimensions": {"InstanceId": "$${aws:InstanceId}"}}});
    let resolved = crate::refs::substitute_json(&written, &|_: &str| None);
    assert_eq!(
        resolved["metrics"]["append_dimensions"]["InstanceId"],
        "${aws:InstanceId}"
    );
    let stored = r#"{"metrics":{"append_dimensions":{"InstanceId":"${aws:InstanceId}"}}}"#;
    let desired = AgentConfig::normalize(
        &Spec {
            config: resolved,
            ..Spec::default()
        },
        &env(),
    );
    let mut l = live(stored);
    l.description = None;
    assert!(AgentConfig::diff(&desired, &AgentConfig::live_state(&l, &env())).is_empty());
}

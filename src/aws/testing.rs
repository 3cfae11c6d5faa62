//! Builds an `Aws` whose clients are given, for tests with aws-smithy-mocks
//! (unit tests, and integration tests through the `testkit` feature). Start at [`aws_with`].
use super::*;

#[derive(Default)]
pub struct MockClients {
    pub cloudwatch: Option<aws_sdk_cloudwatch::Client>,
    pub sns: Option<aws_sdk_sns::Client>,
    pub sts: Option<aws_sdk_sts::Client>,
    pub iam: Option<aws_sdk_iam::Client>,
    pub s3: Option<aws_sdk_s3::Client>,
    pub config: Option<aws_sdk_config::Client>,
    pub logs: Option<aws_sdk_cloudwatchlogs::Client>,
    pub cloudformation: Option<aws_sdk_cloudformation::Client>,
    pub ssm: Option<aws_sdk_ssm::Client>,
    pub secretsmanager: Option<aws_sdk_secretsmanager::Client>,
    pub xray: Option<aws_sdk_xray::Client>,
    pub tagging: Option<aws_sdk_resourcegroupstagging::Client>,
}

/// A Tagging API GetResources rule that answers every request with these
/// resources and tags (owner `test` is what [`aws_with`] runs as).
pub fn tagging_rule(resources: &[(&str, &[(&str, &str)])]) -> aws_smithy_mocks::Rule {
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
    let mappings: Vec<ResourceTagMapping> = resources
        .iter()
        .map(|(arn, tags)| {
            ResourceTagMapping::builder()
                .resource_arn(*arn)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                        .collect(),
                ))
                .build()
        })
        .collect();
    aws_smithy_mocks::mock!(aws_sdk_resourcegroupstagging::Client::get_resources).then_output(
        move || {
            GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(mappings.clone()))
                .build()
        },
    )
}

/// A Tagging API client with these rules.
pub fn tagging_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_resourcegroupstagging::Client {
    aws_smithy_mocks::mock_client!(
        aws_sdk_resourcegroupstagging,
        aws_smithy_mocks::RuleMode::MatchAny,
        rules
    )
}

/// Clients not given are built with no rules, so any call to them fails the test.
pub fn aws_with(m: MockClients) -> Aws {
    use aws_smithy_mocks::{RuleMode, mock_client};
    let none: &[&aws_smithy_mocks::Rule] = &[];
    // The inventory's client is the S3 one in tests.
    let s3 =
        m.s3.unwrap_or_else(|| mock_client!(aws_sdk_s3, RuleMode::Sequential, none));
    Aws {
        clients: Clients {
            cloudwatch: m
                .cloudwatch
                .unwrap_or_else(|| mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, none)),
            sns: m
                .sns
                .unwrap_or_else(|| mock_client!(aws_sdk_sns, RuleMode::Sequential, none)),
            sts: m
                .sts
                .unwrap_or_else(|| mock_client!(aws_sdk_sts, RuleMode::Sequential, none)),
            iam: m
                .iam
                .unwrap_or_else(|| mock_client!(aws_sdk_iam, RuleMode::Sequential, none)),
            s3: s3.clone(),
            config: m
                .config
                .unwrap_or_else(|| mock_client!(aws_sdk_config, RuleMode::Sequential, none)),
            logs: m.logs.unwrap_or_else(|| {
                mock_client!(aws_sdk_cloudwatchlogs, RuleMode::Sequential, none)
            }),
            cloudformation: m.cloudformation.unwrap_or_else(|| {
                mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, none)
            }),
            ssm: m
                .ssm
                .unwrap_or_else(|| mock_client!(aws_sdk_ssm, RuleMode::Sequential, none)),
            secretsmanager: m.secretsmanager.unwrap_or_else(|| {
                mock_client!(aws_sdk_secretsmanager, RuleMode::Sequential, none)
            }),
            xray: m
                .xray
                .unwrap_or_else(|| mock_client!(aws_sdk_xray, RuleMode::Sequential, none)),
            tagging: m.tagging.unwrap_or_else(|| {
                mock_client!(aws_sdk_resourcegroupstagging, RuleMode::Sequential, none)
            }),
            state: s3,
        },
        pace: Arc::new(pace::Scope::new("us-east-1", Arc::new(CallLog::default()))),
        calls: Arc::new(CallLog::default()),
        env: Env {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            owner: "test".into(),
        },
        memo: Memo::default(),
    }
}

//! The AWS services vigil calls, each declared once: its field in [`Clients`],
//! its crate, the name the SDK gives it (which pacing and the call log read),
//! and its default request-rate quotas (see [`super::quotas`]).
//!
//! Adding a service is its crate in `Cargo.toml` and one entry in the
//! `services!` list at the bottom of this file: the client is built, counted
//! and paced, `Settings.quotas` accepts its name, and tests can mock it.
//!
//! An entry reads `field: sdk_crate, "SDK service name" [quota rows]`, with an
//! optional `configure = fn` between the name and the rows for a client that
//! needs more than the shared wiring. A quota row is `aws("Operation", rate)`
//! for a figure AWS publishes, `guess("Operation", rate)` for a conservative
//! pick; service names are vigil's (`cloudwatch`, `logs`, `tagging`, ...),
//! operation names the API's.

use super::quotas::{Quota, aws, guess};
use super::{NoRetryOnHtml500, Wiring};

/// Generates, from the one list of services: [`Clients`] and how it is built,
/// [`SERVICES`], the SDK-name mapping both ways, [`QUOTAS`] and, in tests,
/// `MockClients`.
macro_rules! services {
    ($(
        $(#[$doc:meta])*
        $field:ident: $krate:ident, $sdk:literal $(, configure = $configure:path)? [
            $($how:ident($op:literal, $rate:literal)),* $(,)?
        ]
    )*) => {
        /// Every client vigil uses, built from one shared configuration.
        #[derive(Debug, Clone)]
        pub struct Clients {
            $($(#[$doc])* pub $field: $krate::Client,)*
            /// vigil's own state (an S3 inventory): with the base credentials in the base
            /// region, whatever the target, so one bucket serves every target.
            pub state: aws_sdk_s3::Client,
        }

        impl Clients {
            /// Every service's client from `sdk`, with `w`'s counting, pacing and retries.
            pub(super) fn build(
                sdk: &aws_types::SdkConfig,
                w: &Wiring,
                state: aws_sdk_s3::Client,
            ) -> Clients {
                Clients {
                    $($field: client!($krate, sdk, w $(, |b| $configure(b, sdk))?),)*
                    state,
                }
            }
        }

        /// The services `Settings.quotas` may name.
        pub const SERVICES: &[&str] = &[$(stringify!($field)),*];

        /// vigil's name of an SDK service (the quota table and `Settings.quotas` use it).
        pub fn service_name(sdk: &str) -> &'static str {
            match sdk {
                $($sdk => stringify!($field),)*
                _ => "other",
            }
        }

        /// The SDK's name back from vigil's, for the call log (which uses the SDK's names).
        pub fn sdk_name(service: &str) -> &'static str {
            match service {
                $(stringify!($field) => $sdk,)*
                _ => "other",
            }
        }

        /// The default quotas: one row per operation vigil calls, and a few close relatives.
        pub const QUOTAS: &[Quota] = &[$($($how(stringify!($field), $op, $rate),)*)*];

        /// The clients a test gives; those not given answer nothing.
        #[cfg(any(test, feature = "testkit"))]
        #[derive(Default)]
        pub struct MockClients {
            $(pub $field: Option<$krate::Client>,)*
        }

        #[cfg(any(test, feature = "testkit"))]
        impl Clients {
            /// Clients not given are built with no rules, so any call to them fails the
            /// test. The inventory's client is the S3 one.
            pub fn mocked(mut m: MockClients) -> Clients {
                use aws_smithy_mocks::{RuleMode, mock_client};
                let none: &[&aws_smithy_mocks::Rule] = &[];
                let state = m
                    .s3
                    .get_or_insert_with(|| mock_client!(aws_sdk_s3, RuleMode::Sequential, none))
                    .clone();
                Clients {
                    $($field: m.$field.take().unwrap_or_else(|| {
                        mock_client!($krate, RuleMode::Sequential, none)
                    }),)*
                    state,
                }
            }
        }
    };
}

/// Emulators and custom endpoints rarely serve virtual-hosted buckets.
pub(super) fn path_style(
    b: aws_sdk_s3::config::Builder,
    sdk: &aws_types::SdkConfig,
) -> aws_sdk_s3::config::Builder {
    b.force_path_style(sdk.endpoint_url().is_some())
}

// The list: one entry per service, in the order `Settings.quotas` errors name them.
services! {
    cloudwatch: aws_sdk_cloudwatch, "CloudWatch" [
        // cloudwatch: CloudWatch User Guide, "CloudWatch service quotas" (Rate of ... requests).
        aws("DeleteAlarms", 3.0),
        guess("DeleteAlarmMuteRule", 5.0), // not published
        guess("DeleteAnomalyDetector", 5.0), // not published
        aws("DeleteDashboards", 10.0),
        aws("DescribeAlarmHistory", 20.0),
        aws("DescribeAlarms", 9.0),
        aws("DescribeAlarmsForMetric", 9.0),
        guess("DescribeAnomalyDetectors", 5.0), // not published
        aws("DisableAlarmActions", 3.0),
        aws("EnableAlarmActions", 3.0),
        guess("GetAlarmMuteRule", 5.0), // not published
        aws("GetDashboard", 10.0),
        aws("GetMetricData", 500.0),
        aws("GetMetricStatistics", 400.0),
        guess("ListAlarmMuteRules", 5.0), // not published
        aws("ListDashboards", 10.0),
        aws("ListMetrics", 25.0),
        aws("ListTagsForResource", 10.0),
        guess("PutAlarmMuteRule", 5.0), // not published
        guess("PutAnomalyDetector", 5.0), // not published
        aws("PutCompositeAlarm", 3.0),
        aws("PutDashboard", 10.0),
        guess("PutLogAlarm", 5.0), // not published
        aws("PutMetricAlarm", 3.0),
        aws("PutMetricData", 500.0),
        aws("SetAlarmState", 3.0),
        aws("TagResource", 20.0),
        aws("UntagResource", 20.0),
    ]
    sns: aws_sdk_sns, "SNS" [
        // sns: AWS publishes per-API throttles in the General Reference ("Amazon SNS endpoints
        // and quotas"), but that table could not be read when this one was made: conservative
        // picks at or below the lowest of those figures remembered (10/s).
        guess("CreateTopic", 10.0), // not read
        guess("DeleteTopic", 10.0), // not read
        guess("GetSubscriptionAttributes", 10.0), // not read
        guess("GetTopicAttributes", 10.0), // not read
        guess("ListSubscriptionsByTopic", 10.0), // not read
        guess("ListTagsForResource", 10.0), // not read
        guess("ListTopics", 10.0), // not read
        guess("Publish", 100.0), // not read; far above vigil's use
        guess("SetSubscriptionAttributes", 10.0), // not read
        guess("SetTopicAttributes", 10.0), // not read
        guess("Subscribe", 10.0), // not read
        guess("TagResource", 10.0), // not read
        guess("Unsubscribe", 10.0), // not read
        guess("UntagResource", 10.0), // not read
    ]
    sts: aws_sdk_sts, "STS" [
        // sts: AWS states an account-wide STS request quota; it could not be read when this
        // table was made, so these are conservative picks.
        guess("AssumeRole", 50.0), // not read
        guess("GetCallerIdentity", 50.0), // not read
    ]
    iam: aws_sdk_iam, "IAM" [
        // iam: IAM publishes object-count quotas, not request rates.
        guess("AttachRolePolicy", 5.0), // none published
        guess("CreateRole", 5.0), // none published
        guess("DeleteRole", 5.0), // none published
        guess("DeleteRolePolicy", 5.0), // none published
        guess("DetachRolePolicy", 5.0), // none published
        guess("GetPolicy", 10.0), // none published
        guess("GetRole", 10.0), // none published
        guess("GetRolePolicy", 10.0), // none published
        guess("ListAttachedRolePolicies", 10.0), // none published
        guess("ListInstanceProfilesForRole", 10.0), // none published
        guess("ListRolePolicies", 10.0), // none published
        guess("ListRoleTags", 10.0), // none published
        guess("ListRoles", 10.0), // none published
        guess("PutRolePolicy", 5.0), // none published
        guess("RemoveRoleFromInstanceProfile", 5.0), // none published
        guess("TagRole", 5.0), // none published
        guess("UntagRole", 5.0), // none published
        guess("UpdateAssumeRolePolicy", 5.0), // none published
        guess("UpdateRole", 5.0), // none published
    ]
    s3: aws_sdk_s3, "S3", configure = path_style [
        // s3: S3 User Guide, "Best practices design patterns: optimizing Amazon S3 performance"
        // (3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD a second per partitioned prefix).
        aws("DeleteObject", 3500.0),
        aws("GetObject", 5500.0),
        aws("HeadObject", 5500.0),
        aws("ListObjectsV2", 5500.0),
        aws("PutObject", 3500.0),
        guess("CreateBucket", 10.0), // bucket-level calls: none published
        guess("DeleteBucket", 10.0), // none published
        guess("DeleteBucketPolicy", 10.0), // none published
        guess("DeleteBucketTagging", 10.0), // none published
        guess("DeletePublicAccessBlock", 10.0), // none published
        guess("GetBucketEncryption", 10.0), // none published
        guess("GetBucketLocation", 10.0), // none published
        guess("GetBucketPolicy", 10.0), // none published
        guess("GetBucketTagging", 10.0), // none published
        guess("GetBucketVersioning", 10.0), // none published
        guess("GetPublicAccessBlock", 10.0), // none published
        guess("HeadBucket", 10.0), // none published
        guess("ListBuckets", 10.0), // none published
        guess("PutBucketEncryption", 10.0), // none published
        guess("PutBucketPolicy", 10.0), // none published
        guess("PutBucketTagging", 10.0), // none published
        guess("PutBucketVersioning", 10.0), // none published
        guess("PutPublicAccessBlock", 10.0), // none published
    ]
    config: aws_sdk_config, "Config Service" [
        // config: AWS Config's per-API rates are not in its documentation pages.
        guess("DeleteConfigRule", 2.0), // none published
        guess("DeleteConfigurationRecorder", 2.0), // none published
        guess("DeleteDeliveryChannel", 2.0), // none published
        guess("DescribeComplianceByConfigRule", 5.0), // none published
        guess("DescribeConfigRules", 5.0), // none published
        guess("DescribeConfigurationRecorderStatus", 5.0), // none published
        guess("DescribeConfigurationRecorders", 5.0), // none published
        guess("DescribeDeliveryChannels", 5.0), // none published
        guess("GetCustomRulePolicy", 5.0), // none published
        guess("ListTagsForResource", 5.0), // none published
        guess("PutConfigRule", 2.0), // none published
        guess("PutConfigurationRecorder", 2.0), // none published
        guess("PutDeliveryChannel", 2.0), // none published
        guess("StartConfigurationRecorder", 2.0), // none published
        guess("StopConfigurationRecorder", 2.0), // none published
        guess("TagResource", 2.0), // none published
        guess("UntagResource", 2.0), // none published
    ]
    logs: aws_sdk_cloudwatchlogs, "CloudWatch Logs" [
        // logs: CloudWatch Logs User Guide, "CloudWatch Logs quotas" (per-API TPS rows, as in the
        // awsdocs copy of the page; some may have been raised since, so these err low).
        aws("CreateLogGroup", 5.0),
        aws("CreateLogStream", 50.0),
        aws("DeleteLogGroup", 5.0),
        aws("DescribeLogGroups", 5.0),
        aws("DescribeLogStreams", 5.0),
        aws("FilterLogEvents", 5.0),
        aws("GetLogEvents", 10.0),
        aws("PutLogEvents", 800.0), // 1,500 in us-east-1, us-west-2, eu-west-1
        guess("AssociateKmsKey", 5.0), // none published: 5/s like the listed ones
        guess("DeleteMetricFilter", 5.0), // none published
        guess("DeleteQueryDefinition", 5.0), // none published
        guess("DeleteRetentionPolicy", 5.0), // none published
        guess("DescribeMetricFilters", 5.0), // none published
        guess("DescribeQueryDefinitions", 5.0), // none published
        guess("DisassociateKmsKey", 5.0), // none published
        guess("ListTagsForResource", 5.0), // none published
        guess("PutMetricFilter", 5.0), // none published
        guess("PutQueryDefinition", 5.0), // none published
        guess("PutRetentionPolicy", 5.0), // none published
        guess("TagResource", 5.0), // none published
        guess("UntagResource", 5.0), // none published
    ]
    cloudformation: aws_sdk_cloudformation, "CloudFormation" [
        // cloudformation: CloudFormation publishes no per-API request rates.
        guess("CreateChangeSet", 2.0), // none published
        guess("CreateStack", 2.0), // none published
        guess("DeleteChangeSet", 2.0), // none published
        guess("DeleteStack", 2.0), // none published
        guess("DescribeChangeSet", 5.0), // none published
        guess("DescribeStackDriftDetectionStatus", 5.0), // none published
        guess("DescribeStackEvents", 5.0), // none published
        guess("DescribeStackResourceDrifts", 5.0), // none published
        guess("DescribeStacks", 5.0), // none published
        guess("DetectStackDrift", 2.0), // none published
        guess("GetTemplate", 5.0), // none published
        guess("ListStackResources", 5.0), // none published
        guess("UpdateStack", 2.0), // none published
        guess("UpdateTerminationProtection", 2.0), // none published
        guess("ValidateTemplate", 5.0), // none published
    ]
    ssm: aws_sdk_ssm, "SSM" [
        // ssm: AWS General Reference, "AWS Systems Manager endpoints and quotas" (Parameter
        // Store default throughput 40 TPS, shared there by GetParameter, GetParameters and
        // GetParametersByPath; here each has its own bucket).
        aws("GetParameter", 40.0),
        aws("GetParameters", 40.0),
        aws("GetParametersByPath", 40.0),
        guess("AddTagsToResource", 5.0), // none published
        guess("DeleteParameter", 5.0), // none published
        guess("DescribeParameters", 5.0), // none published
        guess("ListTagsForResource", 5.0), // none published
        guess("PutParameter", 3.0), // none published: writes kept lowest
        guess("RemoveTagsFromResource", 5.0), // none published
    ]
    /// `${secretsmanager:NAME}` references.
    secretsmanager: aws_sdk_secretsmanager, "Secrets Manager" [
        // secretsmanager: "AWS Secrets Manager quotas" (GetSecretValue and DescribeSecret,
        // combined 10,000 a second).
        aws("GetSecretValue", 10000.0),
        guess("BatchGetSecretValue", 100.0), // not read here; kept under GetSecretValue
    ]
    xray: aws_sdk_xray, "XRay" [
        // xray: no per-API rates found for the control-plane calls vigil makes.
        guess("CreateGroup", 5.0), // none found
        guess("CreateSamplingRule", 5.0), // none found
        guess("DeleteGroup", 5.0), // none found
        guess("DeleteSamplingRule", 5.0), // none found
        guess("GetGroup", 5.0), // none found
        guess("GetGroups", 5.0), // none found
        guess("GetSamplingRules", 5.0), // none found
        guess("ListTagsForResource", 5.0), // none found
        guess("TagResource", 5.0), // none found
        guess("UntagResource", 5.0), // none found
        guess("UpdateGroup", 5.0), // none found
        guess("UpdateSamplingRule", 5.0), // none found
    ]
    /// The Resource Groups Tagging API: tags of many resources a call.
    tagging: aws_sdk_resourcegroupstagging, "Resource Groups Tagging API" [
        // tagging: AWS General Reference, "AWS Resource Groups and Tagging endpoints and quotas"
        // (GetResources, 15 requests a second); no figure for the other calls.
        aws("GetResources", 15.0),
        guess("GetTagKeys", 5.0), // none published
        guess("GetTagValues", 5.0), // none published
        guess("TagResources", 5.0), // none published
        guess("UntagResources", 5.0), // none published
    ]
}

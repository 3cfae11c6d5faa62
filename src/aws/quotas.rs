//! AWS default request-rate quotas per (service, operation), per account per
//! region, as plain data. The tests' quota proxy enforces them; a client-side
//! pacer can read them to stay under them.
//!
//! Service names are vigil's (`cloudwatch`, `logs`, `tagging`, ...), operation
//! names are the API's. Rows marked `guess` are conservative picks where AWS
//! publishes no figure (or where none could be read when the table was made);
//! rows marked `aws` carry the published default.

/// One operation's default request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub service: &'static str,
    pub operation: &'static str,
    /// Requests per second, per account per region.
    pub per_second: f64,
    /// Whether AWS publishes this figure; false for a conservative pick.
    pub published: bool,
}

/// The rate of an operation the table does not list: low, so that a pacer
/// reading it errs on the slow side.
pub const FALLBACK: f64 = 5.0;

const fn aws(service: &'static str, operation: &'static str, per_second: f64) -> Quota {
    Quota {
        service,
        operation,
        per_second,
        published: true,
    }
}

const fn guess(service: &'static str, operation: &'static str, per_second: f64) -> Quota {
    Quota {
        service,
        operation,
        per_second,
        published: false,
    }
}

/// The table: one row per operation vigil calls, and a few close relatives.
pub const DEFAULTS: &[Quota] = &[
    // cloudwatch: CloudWatch User Guide, "CloudWatch service quotas" (Rate of ... requests).
    aws("cloudwatch", "DeleteAlarms", 3.0),
    aws("cloudwatch", "DeleteDashboards", 10.0),
    aws("cloudwatch", "DescribeAlarmHistory", 20.0),
    aws("cloudwatch", "DescribeAlarms", 9.0),
    aws("cloudwatch", "DescribeAlarmsForMetric", 9.0),
    aws("cloudwatch", "DisableAlarmActions", 3.0),
    aws("cloudwatch", "EnableAlarmActions", 3.0),
    aws("cloudwatch", "GetDashboard", 10.0),
    aws("cloudwatch", "GetMetricData", 500.0),
    aws("cloudwatch", "GetMetricStatistics", 400.0),
    aws("cloudwatch", "ListDashboards", 10.0),
    aws("cloudwatch", "ListMetrics", 25.0),
    aws("cloudwatch", "ListTagsForResource", 10.0),
    aws("cloudwatch", "PutCompositeAlarm", 3.0),
    aws("cloudwatch", "PutDashboard", 10.0),
    aws("cloudwatch", "PutMetricAlarm", 3.0),
    aws("cloudwatch", "PutMetricData", 500.0),
    aws("cloudwatch", "SetAlarmState", 3.0),
    aws("cloudwatch", "TagResource", 20.0),
    aws("cloudwatch", "UntagResource", 20.0),
    // logs: CloudWatch Logs User Guide, "CloudWatch Logs quotas" (per-API TPS rows, as in the
    // awsdocs copy of the page; some may have been raised since, so these err low).
    aws("logs", "CreateLogGroup", 5.0),
    aws("logs", "CreateLogStream", 50.0),
    aws("logs", "DeleteLogGroup", 5.0),
    aws("logs", "DescribeLogGroups", 5.0),
    aws("logs", "DescribeLogStreams", 5.0),
    aws("logs", "FilterLogEvents", 5.0),
    aws("logs", "GetLogEvents", 10.0),
    aws("logs", "PutLogEvents", 800.0), // 1,500 in us-east-1, us-west-2, eu-west-1
    guess("logs", "AssociateKmsKey", 5.0), // none published: 5/s like the listed ones
    guess("logs", "DeleteMetricFilter", 5.0), // none published
    guess("logs", "DeleteQueryDefinition", 5.0), // none published
    guess("logs", "DeleteRetentionPolicy", 5.0), // none published
    guess("logs", "DescribeMetricFilters", 5.0), // none published
    guess("logs", "DescribeQueryDefinitions", 5.0), // none published
    guess("logs", "DisassociateKmsKey", 5.0), // none published
    guess("logs", "ListTagsForResource", 5.0), // none published
    guess("logs", "PutMetricFilter", 5.0), // none published
    guess("logs", "PutQueryDefinition", 5.0), // none published
    guess("logs", "PutRetentionPolicy", 5.0), // none published
    guess("logs", "TagResource", 5.0),  // none published
    guess("logs", "UntagResource", 5.0), // none published
    // ssm: AWS General Reference, "AWS Systems Manager endpoints and quotas" (Parameter
    // Store default throughput 40 TPS, shared there by GetParameter, GetParameters and
    // GetParametersByPath; here each has its own bucket).
    aws("ssm", "GetParameter", 40.0),
    aws("ssm", "GetParameters", 40.0),
    aws("ssm", "GetParametersByPath", 40.0),
    // secretsmanager: "AWS Secrets Manager quotas" (GetSecretValue and DescribeSecret,
    // combined 10,000 a second).
    aws("secretsmanager", "GetSecretValue", 10000.0),
    guess("secretsmanager", "BatchGetSecretValue", 100.0), // not read here; kept under GetSecretValue
    guess("ssm", "AddTagsToResource", 5.0),                // none published
    guess("ssm", "DeleteParameter", 5.0),                  // none published
    guess("ssm", "DescribeParameters", 5.0),               // none published
    guess("ssm", "ListTagsForResource", 5.0),              // none published
    guess("ssm", "PutParameter", 3.0),                     // none published: writes kept lowest
    guess("ssm", "RemoveTagsFromResource", 5.0),           // none published
    // s3: S3 User Guide, "Best practices design patterns: optimizing Amazon S3 performance"
    // (3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD a second per partitioned prefix).
    aws("s3", "DeleteObject", 3500.0),
    aws("s3", "GetObject", 5500.0),
    aws("s3", "HeadObject", 5500.0),
    aws("s3", "ListObjectsV2", 5500.0),
    aws("s3", "PutObject", 3500.0),
    guess("s3", "CreateBucket", 10.0), // bucket-level calls: none published
    guess("s3", "DeleteBucket", 10.0), // none published
    guess("s3", "DeleteBucketPolicy", 10.0), // none published
    guess("s3", "DeleteBucketTagging", 10.0), // none published
    guess("s3", "DeletePublicAccessBlock", 10.0), // none published
    guess("s3", "GetBucketEncryption", 10.0), // none published
    guess("s3", "GetBucketLocation", 10.0), // none published
    guess("s3", "GetBucketPolicy", 10.0), // none published
    guess("s3", "GetBucketTagging", 10.0), // none published
    guess("s3", "GetBucketVersioning", 10.0), // none published
    guess("s3", "GetPublicAccessBlock", 10.0), // none published
    guess("s3", "HeadBucket", 10.0),   // none published
    guess("s3", "ListBuckets", 10.0),  // none published
    guess("s3", "PutBucketEncryption", 10.0), // none published
    guess("s3", "PutBucketPolicy", 10.0), // none published
    guess("s3", "PutBucketTagging", 10.0), // none published
    guess("s3", "PutBucketVersioning", 10.0), // none published
    guess("s3", "PutPublicAccessBlock", 10.0), // none published
    // sns: AWS publishes per-API throttles in the General Reference ("Amazon SNS endpoints
    // and quotas"), but that table could not be read when this one was made: conservative
    // picks at or below the lowest of those figures remembered (10/s).
    guess("sns", "CreateTopic", 10.0),               // not read
    guess("sns", "DeleteTopic", 10.0),               // not read
    guess("sns", "GetSubscriptionAttributes", 10.0), // not read
    guess("sns", "GetTopicAttributes", 10.0),        // not read
    guess("sns", "ListSubscriptionsByTopic", 10.0),  // not read
    guess("sns", "ListTagsForResource", 10.0),       // not read
    guess("sns", "ListTopics", 10.0),                // not read
    guess("sns", "Publish", 100.0),                  // not read; far above vigil's use
    guess("sns", "SetSubscriptionAttributes", 10.0), // not read
    guess("sns", "SetTopicAttributes", 10.0),        // not read
    guess("sns", "Subscribe", 10.0),                 // not read
    guess("sns", "TagResource", 10.0),               // not read
    guess("sns", "Unsubscribe", 10.0),               // not read
    guess("sns", "UntagResource", 10.0),             // not read
    // tagging: the Resource Groups Tagging API publishes no request rates.
    guess("tagging", "GetResources", 5.0),   // none published
    guess("tagging", "GetTagKeys", 5.0),     // none published
    guess("tagging", "GetTagValues", 5.0),   // none published
    guess("tagging", "TagResources", 5.0),   // none published
    guess("tagging", "UntagResources", 5.0), // none published
    // config: AWS Config's per-API rates are not in its documentation pages.
    guess("config", "DeleteConfigRule", 2.0), // none published
    guess("config", "DeleteConfigurationRecorder", 2.0), // none published
    guess("config", "DeleteDeliveryChannel", 2.0), // none published
    guess("config", "DescribeComplianceByConfigRule", 5.0), // none published
    guess("config", "DescribeConfigRules", 5.0), // none published
    guess("config", "DescribeConfigurationRecorderStatus", 5.0), // none published
    guess("config", "DescribeConfigurationRecorders", 5.0), // none published
    guess("config", "DescribeDeliveryChannels", 5.0), // none published
    guess("config", "GetCustomRulePolicy", 5.0), // none published
    guess("config", "ListTagsForResource", 5.0), // none published
    guess("config", "PutConfigRule", 2.0),    // none published
    guess("config", "PutConfigurationRecorder", 2.0), // none published
    guess("config", "PutDeliveryChannel", 2.0), // none published
    guess("config", "StartConfigurationRecorder", 2.0), // none published
    guess("config", "StopConfigurationRecorder", 2.0), // none published
    guess("config", "TagResource", 2.0),      // none published
    guess("config", "UntagResource", 2.0),    // none published
    // iam: IAM publishes object-count quotas, not request rates.
    guess("iam", "AttachRolePolicy", 5.0), // none published
    guess("iam", "CreateRole", 5.0),       // none published
    guess("iam", "DeleteRole", 5.0),       // none published
    guess("iam", "DeleteRolePolicy", 5.0), // none published
    guess("iam", "DetachRolePolicy", 5.0), // none published
    guess("iam", "GetPolicy", 10.0),       // none published
    guess("iam", "GetRole", 10.0),         // none published
    guess("iam", "GetRolePolicy", 10.0),   // none published
    guess("iam", "ListAttachedRolePolicies", 10.0), // none published
    guess("iam", "ListInstanceProfilesForRole", 10.0), // none published
    guess("iam", "ListRolePolicies", 10.0), // none published
    guess("iam", "ListRoleTags", 10.0),    // none published
    guess("iam", "ListRoles", 10.0),       // none published
    guess("iam", "PutRolePolicy", 5.0),    // none published
    guess("iam", "RemoveRoleFromInstanceProfile", 5.0), // none published
    guess("iam", "TagRole", 5.0),          // none published
    guess("iam", "UntagRole", 5.0),        // none published
    guess("iam", "UpdateAssumeRolePolicy", 5.0), // none published
    guess("iam", "UpdateRole", 5.0),       // none published
    // sts: AWS states an account-wide STS request quota; it could not be read when this
    // table was made, so these are conservative picks.
    guess("sts", "AssumeRole", 50.0),        // not read
    guess("sts", "GetCallerIdentity", 50.0), // not read
    // cloudformation: CloudFormation publishes no per-API request rates.
    guess("cloudformation", "CreateChangeSet", 2.0), // none published
    guess("cloudformation", "CreateStack", 2.0),     // none published
    guess("cloudformation", "DeleteChangeSet", 2.0), // none published
    guess("cloudformation", "DeleteStack", 2.0),     // none published
    guess("cloudformation", "DescribeChangeSet", 5.0), // none published
    guess("cloudformation", "DescribeStackDriftDetectionStatus", 5.0), // none published
    guess("cloudformation", "DescribeStackEvents", 5.0), // none published
    guess("cloudformation", "DescribeStackResourceDrifts", 5.0), // none published
    guess("cloudformation", "DescribeStacks", 5.0),  // none published
    guess("cloudformation", "DetectStackDrift", 2.0), // none published
    guess("cloudformation", "GetTemplate", 5.0),     // none published
    guess("cloudformation", "ListStackResources", 5.0), // none published
    guess("cloudformation", "UpdateStack", 2.0),     // none published
    guess("cloudformation", "UpdateTerminationProtection", 2.0), // none published
    guess("cloudformation", "ValidateTemplate", 5.0), // none published
    // xray: no per-API rates found for the control-plane calls vigil makes.
    guess("xray", "CreateGroup", 5.0),         // none found
    guess("xray", "CreateSamplingRule", 5.0),  // none found
    guess("xray", "DeleteGroup", 5.0),         // none found
    guess("xray", "DeleteSamplingRule", 5.0),  // none found
    guess("xray", "GetGroup", 5.0),            // none found
    guess("xray", "GetGroups", 5.0),           // none found
    guess("xray", "GetSamplingRules", 5.0),    // none found
    guess("xray", "ListTagsForResource", 5.0), // none found
    guess("xray", "TagResource", 5.0),         // none found
    guess("xray", "UntagResource", 5.0),       // none found
    guess("xray", "UpdateGroup", 5.0),         // none found
    guess("xray", "UpdateSamplingRule", 5.0),  // none found
];

/// The table's row for an operation, if it has one.
pub fn lookup(service: &str, operation: &str) -> Option<&'static Quota> {
    DEFAULTS
        .iter()
        .find(|q| q.service == service && q.operation == operation)
}

/// Requests per second AWS allows an operation by default; [`FALLBACK`] for an
/// operation the table does not list.
pub fn default_rate(service: &str, operation: &str) -> f64 {
    lookup(service, operation).map_or(FALLBACK, |q| q.per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_rows_give_their_published_rate() {
        assert_eq!(default_rate("cloudwatch", "DescribeAlarms"), 9.0);
        assert_eq!(default_rate("cloudwatch", "PutMetricAlarm"), 3.0);
        assert_eq!(default_rate("cloudwatch", "TagResource"), 20.0);
        assert!(lookup("cloudwatch", "DescribeAlarms").unwrap().published);
        assert!(!lookup("tagging", "GetResources").unwrap().published);
    }

    #[test]
    fn unknown_operations_and_services_fall_back() {
        assert_eq!(default_rate("cloudwatch", "NoSuchOperation"), FALLBACK);
        assert_eq!(default_rate("nosuchservice", "DescribeAlarms"), FALLBACK);
        // Names are exact: no case folding, no service aliases.
        assert_eq!(default_rate("monitoring", "DescribeAlarms"), FALLBACK);
        assert_eq!(default_rate("cloudwatch", "describealarms"), FALLBACK);
    }

    #[test]
    fn rows_are_unique_and_rates_positive() {
        for (i, q) in DEFAULTS.iter().enumerate() {
            assert!(q.per_second > 0.0, "{q:?}");
            assert!(
                DEFAULTS[..i]
                    .iter()
                    .all(|p| (p.service, p.operation) != (q.service, q.operation)),
                "duplicate row {q:?}"
            );
        }
    }
}

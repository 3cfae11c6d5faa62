//! `DeliveryChannel`: where AWS Config delivers snapshots and history (S3, optionally SNS).
//!
//! AWS refuses PutDeliveryChannel until a configuration recorder exists, and the
//! API has no field naming it, so a channel declares
//! `vigil/depends-on: ConfigurationRecorder/NAME`. Channels cannot be tagged.

use std::collections::BTreeMap;

use aws_sdk_config::types as cfg;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::error::KindError;
use super::{Attrs, Issues, Kind, Wanted};
use crate::aws::{Aws, AwsResultExt, Condition, Env};

const SERVICE: &str = "config";

/// Snapshots go out daily unless the channel says otherwise.
const DEFAULT_FREQUENCY: &str = "TwentyFour_Hours";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Spec {
    /// Usually `${Bucket/NAME.name}`.
    pub s3_bucket_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_kms_key_arn: Option<String>,
    /// AWS spells the member `snsTopicARN`; both are accepted.
    #[serde(
        default,
        alias = "snsTopicARN",
        skip_serializing_if = "Option::is_none"
    )]
    pub sns_topic_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_snapshot_delivery_properties: Option<ConfigSnapshotDeliveryProperties>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigSnapshotDeliveryProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_frequency: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub spec: Spec,
}

pub fn canonical(spec: &Spec) -> Value {
    let mut m = Map::new();
    m.insert("s3BucketName".into(), json!(spec.s3_bucket_name));
    for (k, v) in [
        ("s3KeyPrefix", &spec.s3_key_prefix),
        ("s3KmsKeyArn", &spec.s3_kms_key_arn),
        ("snsTopicArn", &spec.sns_topic_arn),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            m.insert(k.into(), json!(v));
        }
    }
    // Absent and the daily default are the same, whichever way AWS reports it.
    let freq = spec
        .config_snapshot_delivery_properties
        .as_ref()
        .and_then(|p| p.delivery_frequency.as_deref())
        .unwrap_or(DEFAULT_FREQUENCY);
    m.insert(
        "configSnapshotDeliveryProperties".into(),
        json!({"deliveryFrequency": freq}),
    );
    Value::Object(m)
}

pub(crate) fn spec_from_live(c: &cfg::DeliveryChannel) -> Spec {
    let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    Spec {
        s3_bucket_name: c.s3_bucket_name().unwrap_or_default().to_string(),
        s3_key_prefix: some(c.s3_key_prefix()),
        s3_kms_key_arn: some(c.s3_kms_key_arn()),
        sns_topic_arn: some(c.sns_topic_arn()),
        config_snapshot_delivery_properties: c.config_snapshot_delivery_properties().map(|p| {
            ConfigSnapshotDeliveryProperties {
                delivery_frequency: p.delivery_frequency().map(|f| f.as_str().to_string()),
            }
        }),
    }
}

fn check_arn(issues: &mut Issues, path: &str, value: Option<&str>, service: &str, example: &str) {
    let Some(v) = value else { return };
    if v.contains("${") {
        return;
    }
    if v.split(':').nth(2) != Some(service) || !v.starts_with("arn:") {
        issues.at(
            path,
            format!("`{v}` is not an {service} ARN; for example {example}"),
        );
    }
}

pub struct DeliveryChannel;

impl Kind for DeliveryChannel {
    const NAME: &'static str = "DeliveryChannel";
    type Spec = Spec;
    type Live = Live;
    const ATTRIBUTES: &'static [&'static str] = &["name"];

    fn validate_name(name: &str) -> Result<(), String> {
        super::kind::check_plain_name(name, 256, "channel")
    }

    fn validate(s: &Spec, issues: &mut Issues) {
        if s.s3_bucket_name.trim().is_empty() {
            issues.at(
                "s3BucketName",
                "must name the bucket, for example ${Bucket/monitoring-lab-config-bucket.name}",
            );
        } else if !s.s3_bucket_name.contains("${")
            && (s.s3_bucket_name.len() < 3
                || s.s3_bucket_name.len() > 63
                || !s
                    .s3_bucket_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'))
        {
            issues.at(
                "s3BucketName",
                format!("`{}` is not a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens", s.s3_bucket_name),
            );
        }
        if let Some(p) = &s.s3_key_prefix {
            if p.is_empty() {
                issues.at(
                    "s3KeyPrefix",
                    "s3KeyPrefix must not be empty; leave it out for no prefix",
                );
            } else if p.starts_with('/') {
                issues.at(
                    "s3KeyPrefix",
                    format!(
                        "s3KeyPrefix must not start with /; write `{}`",
                        p.trim_start_matches('/')
                    ),
                );
            }
        }
        check_arn(
            issues,
            "snsTopicArn",
            s.sns_topic_arn.as_deref(),
            "sns",
            "${Topic/monitoring-lab-alerts.arn}",
        );
        check_arn(
            issues,
            "s3KmsKeyArn",
            s.s3_kms_key_arn.as_deref(),
            "kms",
            "arn:aws:kms:us-east-1:123456789012:key/ID",
        );
        if let Some(f) = s
            .config_snapshot_delivery_properties
            .as_ref()
            .and_then(|p| p.delivery_frequency.as_ref())
        {
            let allowed = cfg::MaximumExecutionFrequency::values();
            if !allowed.contains(&f.as_str()) {
                issues.at(
                    "configSnapshotDeliveryProperties.deliveryFrequency",
                    format!(
                        "`{f}` is not a valid deliveryFrequency; expected one of {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn normalize(spec: &Spec, _env: &Env) -> Value {
        canonical(spec)
    }

    fn live_state(live: &Live, _env: &Env) -> Value {
        canonical(&live.spec)
    }

    fn attributes(live: &Live) -> Attrs {
        Attrs::from([("name".to_string(), live.name.clone())])
    }

    fn to_spec(live: &Live) -> Spec {
        let mut spec = live.spec.clone();
        if spec
            .config_snapshot_delivery_properties
            .as_ref()
            .is_some_and(|p| p.delivery_frequency.is_none())
        {
            spec.config_snapshot_delivery_properties = None;
        }
        spec
    }

    async fn observe(aws: &Aws, wanted: &Wanted) -> Result<BTreeMap<String, Live>, KindError> {
        // Without names: naming a missing channel is an error, and there is at most one.
        let out = aws
            .clients
            .config
            .describe_delivery_channels()
            .send()
            .await
            .aws(SERVICE, "DescribeDeliveryChannels")?;
        Ok(out
            .delivery_channels()
            .iter()
            .filter_map(|c| {
                let name = c.name()?;
                wanted.contains(name).then(|| {
                    (
                        name.to_string(),
                        Live {
                            name: name.to_string(),
                            spec: spec_from_live(c),
                        },
                    )
                })
            })
            .collect())
    }

    async fn apply(
        aws: &Aws,
        name: &str,
        spec: &Spec,
        live: Option<&Live>,
    ) -> Result<Attrs, KindError> {
        if live.is_none_or(|l| canonical(spec) != canonical(&l.spec)) {
            let channel = cfg::DeliveryChannel::builder()
                .name(name)
                .s3_bucket_name(&spec.s3_bucket_name)
                .set_s3_key_prefix(spec.s3_key_prefix.clone())
                .set_s3_kms_key_arn(spec.s3_kms_key_arn.clone())
                .set_sns_topic_arn(spec.sns_topic_arn.clone())
                .config_snapshot_delivery_properties(
                    cfg::ConfigSnapshotDeliveryProperties::builder()
                        .delivery_frequency(cfg::MaximumExecutionFrequency::from(
                            spec.config_snapshot_delivery_properties
                                .as_ref()
                                .and_then(|p| p.delivery_frequency.as_deref())
                                .unwrap_or(DEFAULT_FREQUENCY),
                        ))
                        .build(),
                )
                .build();
            aws.clients
                .config
                .put_delivery_channel()
                .delivery_channel(channel)
                .send()
                .await
                .aws(SERVICE, "PutDeliveryChannel")?;
        }
        Ok(Attrs::from([("name".to_string(), name.to_string())]))
    }

    /// AWS keeps the last channel while a recorder records; stop it first, as the
    /// lab's cleanup does. The recorder, declared or not, cannot deliver without one.
    async fn delete(aws: &Aws, name: &str, _live: &Live) -> Result<(), KindError> {
        let delete = || {
            aws.clients
                .config
                .delete_delivery_channel()
                .delivery_channel_name(name)
                .send()
        };
        match delete().await.aws(SERVICE, "DeleteDeliveryChannel") {
            Err(e) if e.is(Condition::LastDeliveryChannel) => {
                tracing::info!(
                    channel = name,
                    "stopping the configuration recorder so that its last channel can go"
                );
                super::config_recorder::stop_all(aws).await?;
                delete().await.aws(SERVICE, "DeleteDeliveryChannel")?;
                Ok(())
            }
            other => Ok(other.map(|_| ())?),
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
pub mod strategy;
#[cfg(test)]
mod tests;

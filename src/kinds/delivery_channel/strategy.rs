//! The delivery_channel kind's property strategy ([`strategy`]: valid specs, each written
//! two ways), what AWS answers once one is applied ([`live`]) and what import
//! carries over ([`imported`]). The properties themselves are in `crate::testkit::props`.

use aws_sdk_config::types as cfg;
use proptest::prelude::*;
use proptest::sample::select;

use crate::aws::Env;
use crate::kinds::*;
use crate::testkit::strategy::*;

#[derive(Debug, Clone)]
pub struct ChannelSem {
    pub name: String,
    pub bucket: String,
    pub prefix: Option<String>,
    pub kms: Option<String>,
    pub sns: Option<String>,
    pub frequency: String,
}

pub fn strategy() -> impl Strategy<Value = Case> {
    let sem = (
        select(&["default", "lab channel"][..]),
        select(&["monitoring-lab-config-bucket", "a.b-c"][..]),
        opt_string(&["config", "a/b"]),
        prop::option::of(Just(KMS_KEY.to_string())),
        prop::option::of(Just(arn("sns", "monitoring-lab-alerts"))),
        select(&["TwentyFour_Hours", "One_Hour", "Six_Hours"][..]),
    )
        .prop_map(|(name, bucket, prefix, kms, sns, f)| ChannelSem {
            name: name.into(),
            bucket: bucket.into(),
            prefix,
            kms,
            sns,
            frequency: f.into(),
        });
    case(
        sem,
        |s| s.name.clone(),
        |s, st| {
            let props = (s.frequency != "TwentyFour_Hours" || st.coin("props")).then(|| {
                Obj::new()
                    .when(
                        s.frequency != "TwentyFour_Hours" || st.coin("freq"),
                        "deliveryFrequency",
                        s.frequency.as_str(),
                    )
                    .done(st, "props")
            });
            let sns_key = if st.coin("snsTopicARN") {
                "snsTopicARN"
            } else {
                "snsTopicArn"
            };
            Obj::new()
                .put("s3BucketName", s.bucket.as_str())
                .opt("s3KeyPrefix", s.prefix.as_deref())
                .opt("s3KmsKeyArn", s.kms.as_deref())
                .opt(sns_key, s.sns.as_deref())
                .opt("configSnapshotDeliveryProperties", props)
                .done(st, "channel")
        },
    )
}

// ---- What AWS answers ----

pub fn live(
    name: &str,
    s: &delivery_channel::Spec,
    _st: Style,
    _env: &Env,
) -> delivery_channel::Live {
    // vigil always sends the frequency, and AWS reports it back.
    let freq = s
        .config_snapshot_delivery_properties
        .as_ref()
        .and_then(|p| p.delivery_frequency.as_deref())
        .unwrap_or("TwentyFour_Hours");
    let c = cfg::DeliveryChannel::builder()
        .name(name)
        .s3_bucket_name(&s.s3_bucket_name)
        .set_s3_key_prefix(s.s3_key_prefix.clone())
        .set_s3_kms_key_arn(s.s3_kms_key_arn.clone())
        .set_sns_topic_arn(s.sns_topic_arn.clone())
        .config_snapshot_delivery_properties(
            cfg::ConfigSnapshotDeliveryProperties::builder()
                .delivery_frequency(cfg::MaximumExecutionFrequency::from(freq))
                .build(),
        )
        .build();
    delivery_channel::Live {
        name: name.into(),
        spec: delivery_channel::spec_from_live(&c),
    }
}

/// Import carries the whole spec over.
pub fn imported(s: &delivery_channel::Spec) -> delivery_channel::Spec {
    s.clone()
}

//! Unit tests of the delivery_channel kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::mock_aws;
use aws_sdk_config::operation::delete_delivery_channel::{
    DeleteDeliveryChannelError, DeleteDeliveryChannelOutput,
};
use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
use aws_sdk_config::operation::describe_delivery_channels::DescribeDeliveryChannelsOutput;
use aws_sdk_config::operation::put_delivery_channel::PutDeliveryChannelOutput;
use aws_sdk_config::operation::stop_configuration_recorder::StopConfigurationRecorderOutput;
use aws_smithy_mocks::mock;

fn lab() -> Spec {
    Spec {
        s3_bucket_name: "monitoring-lab-config-bucket".into(),
        config_snapshot_delivery_properties: Some(ConfigSnapshotDeliveryProperties {
            delivery_frequency: Some("TwentyFour_Hours".into()),
        }),
        ..Spec::default()
    }
}

fn messages(spec: &Spec) -> Vec<String> {
    crate::testkit::fixtures::messages::<DeliveryChannel>(spec)
}

#[test]
fn absent_frequency_is_the_daily_default() {
    let mut bare = lab();
    bare.config_snapshot_delivery_properties = None;
    assert_eq!(canonical(&bare), canonical(&lab()));
    bare.config_snapshot_delivery_properties = Some(ConfigSnapshotDeliveryProperties::default());
    assert_eq!(canonical(&bare), canonical(&lab()));
    let mut hourly = lab();
    hourly.config_snapshot_delivery_properties = Some(ConfigSnapshotDeliveryProperties {
        delivery_frequency: Some("One_Hour".into()),
    });
    let d = crate::diff::diff(&canonical(&lab()), &canonical(&hourly), &[]);
    assert_eq!(
        d[0].path,
        "configSnapshotDeliveryProperties.deliveryFrequency"
    );
}

#[test]
fn empty_strings_from_aws_are_absent() {
    let c = cfg::DeliveryChannel::builder()
        .name("default")
        .s3_bucket_name("monitoring-lab-config-bucket")
        .s3_key_prefix("")
        .sns_topic_arn("")
        .build();
    assert_eq!(canonical(&spec_from_live(&c)), canonical(&lab()));
    let spec = DeliveryChannel::to_spec(&Live {
        name: "default".into(),
        spec: spec_from_live(&c),
    });
    assert_eq!(spec.s3_key_prefix, None);
}

#[test]
fn validation() {
    assert!(messages(&lab()).is_empty());
    let mut s = lab();
    s.s3_bucket_name = "${Bucket/monitoring-lab-config-bucket.name}".into();
    s.sns_topic_arn = Some("${Topic/alerts.arn}".into());
    assert!(messages(&s).is_empty());
    s.s3_bucket_name = "Config_Bucket".into();
    s.s3_key_prefix = Some("/config".into());
    s.sns_topic_arn = Some("arn:aws:sqs:us-east-1:1:q".into());
    s.config_snapshot_delivery_properties = Some(ConfigSnapshotDeliveryProperties {
        delivery_frequency: Some("Daily".into()),
    });
    let m = messages(&s);
    for want in [
        "is not a bucket name",
        "must not start with /",
        "is not an sns ARN",
        "`Daily` is not a valid deliveryFrequency",
    ] {
        assert!(m.iter().any(|x| x.contains(want)), "{want} not in {m:?}");
    }
}

#[tokio::test]
async fn create_noop_and_update_write_only_what_differs() {
    let listed = mock!(aws_sdk_config::Client::describe_delivery_channels).then_output(|| {
        DescribeDeliveryChannelsOutput::builder()
            .delivery_channels(
                cfg::DeliveryChannel::builder()
                    .name("default")
                    .s3_bucket_name("monitoring-lab-config-bucket")
                    .build(),
            )
            .build()
    });
    let put = mock!(aws_sdk_config::Client::put_delivery_channel)
        .match_requests(|r| {
            let c = r.delivery_channel().unwrap();
            c.name() == Some("default")
                && c.config_snapshot_delivery_properties()
                    .and_then(|p| p.delivery_frequency())
                    == Some(&cfg::MaximumExecutionFrequency::OneHour)
        })
        .then_output(|| PutDeliveryChannelOutput::builder().build());
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&listed, &put]);
    let found = DeliveryChannel::observe(
        &aws,
        &Wanted::names(BTreeMap::from([("default".to_string(), Value::Null)])),
    )
    .await
    .unwrap();
    let l = &found["default"];
    DeliveryChannel::apply(&aws, "default", &lab(), Some(l))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 0);
    let mut hourly = lab();
    hourly.config_snapshot_delivery_properties = Some(ConfigSnapshotDeliveryProperties {
        delivery_frequency: Some("One_Hour".into()),
    });
    DeliveryChannel::apply(&aws, "default", &hourly, Some(l))
        .await
        .unwrap();
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn delete_stops_a_recording_recorder_then_retries() {
    let refused = mock!(aws_sdk_config::Client::delete_delivery_channel)
            .sequence()
            .error(|| {
                DeleteDeliveryChannelError::generic(crate::aws::testing::error_meta("LastDeliveryChannelDeleteFailedException", "Failed to delete last specified delivery channel with name 'default', because there is a running configuration recorder."))
            })
            .output(|| DeleteDeliveryChannelOutput::builder().build())
            .build();
    let status =
        mock!(aws_sdk_config::Client::describe_configuration_recorder_status).then_output(|| {
            DescribeConfigurationRecorderStatusOutput::builder()
                .configuration_recorders_status(
                    cfg::ConfigurationRecorderStatus::builder()
                        .name("default")
                        .recording(true)
                        .build(),
                )
                .build()
        });
    let stop = mock!(aws_sdk_config::Client::stop_configuration_recorder)
        .match_requests(|r| r.configuration_recorder_name() == Some("default"))
        .then_output(|| StopConfigurationRecorderOutput::builder().build());
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&refused, &status, &stop]);
    let live = Live {
        name: "default".into(),
        spec: lab(),
    };
    DeliveryChannel::delete(&aws, "default", &live)
        .await
        .unwrap();
    assert_eq!(
        (refused.num_calls(), status.num_calls(), stop.num_calls()),
        (2, 1, 1)
    );
}

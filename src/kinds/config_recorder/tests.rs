//! Unit tests of the config_recorder kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::mock_aws;
use crate::testkit::fixtures::{diff_of, observe_live};
use aws_sdk_config::operation::describe_configuration_recorder_status::DescribeConfigurationRecorderStatusOutput;
use aws_sdk_config::operation::describe_configuration_recorders::DescribeConfigurationRecordersOutput;
use aws_sdk_config::operation::put_configuration_recorder::PutConfigurationRecorderOutput;
use aws_sdk_config::operation::start_configuration_recorder::{
    StartConfigurationRecorderError, StartConfigurationRecorderOutput,
};
use aws_sdk_config::operation::stop_configuration_recorder::StopConfigurationRecorderOutput;
use aws_smithy_mocks::mock;

const ROLE: &str = "arn:aws:iam::123456789012:role/ConfigServiceRole";

fn lab() -> Spec {
    Spec {
        role_arn: ROLE.into(),
        recording_group: Some(RecordingGroup {
            all_supported: Some(true),
            include_global_resource_types: Some(true),
            ..RecordingGroup::default()
        }),
        recording_mode: None,
        recording: Some(true),
    }
}

fn messages(spec: &Spec) -> Vec<String> {
    crate::testkit::fixtures::messages::<ConfigurationRecorder>(spec)
}

/// What DescribeConfigurationRecorders returns for the lab's recorder on AWS.
fn aws_recorder(include_global: bool) -> cfg::ConfigurationRecorder {
    cfg::ConfigurationRecorder::builder()
        .arn("arn:aws:config:us-east-1:123456789012:configuration-recorder/default/abcd1234")
        .name("default")
        .role_arn(ROLE)
        .recording_group(
            cfg::RecordingGroup::builder()
                .all_supported(true)
                .include_global_resource_types(include_global)
                .set_resource_types(Some(vec![]))
                .exclusion_by_resource_types(
                    cfg::ExclusionByResourceTypes::builder()
                        .set_resource_types(Some(vec![]))
                        .build(),
                )
                .recording_strategy(
                    cfg::RecordingStrategy::builder()
                        .use_only(cfg::RecordingStrategyType::AllSupportedResourceTypes)
                        .build(),
                )
                .build(),
        )
        .recording_mode(
            cfg::RecordingMode::builder()
                .recording_frequency(cfg::RecordingFrequency::Continuous)
                .set_recording_mode_overrides(Some(vec![]))
                .build()
                .unwrap(),
        )
        .recording_scope(cfg::RecordingScope::Paid)
        .build()
}

fn live(include_global: bool, recording: bool) -> Live {
    Live {
        name: "default".into(),
        arn: None,
        spec: spec_from_live(&aws_recorder(include_global), recording),
        failure: None,
    }
}

fn diff(spec: &Spec, l: &Live) -> Vec<FieldDiff> {
    let env = Env::default();
    diff_of::<ConfigurationRecorder>(spec, l, &env)
}

#[test]
fn aws_defaults_and_server_fields_are_no_change() {
    assert!(
        diff(&lab(), &live(true, true)).is_empty(),
        "{:?}",
        diff(&lab(), &live(true, true))
    );
    // No recording group at all is AWS's default group; no mode is continuous.
    let bare = Spec {
        role_arn: ROLE.into(),
        ..Spec::default()
    };
    assert!(
        diff(&bare, &live(false, true)).is_empty(),
        "{:?}",
        diff(&bare, &live(false, true))
    );
    // moto returns no recordingMode and no ARN.
    let mut moto = live(true, true);
    moto.spec.recording_mode = None;
    assert!(diff(&lab(), &moto).is_empty());
}

#[test]
fn recording_shows_as_its_own_field_and_only_when_declared() {
    let d = diff(&lab(), &live(true, false));
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "recording");
    assert_eq!(
        (d[0].from.clone(), d[0].to.clone()),
        (Some(json!(false)), Some(json!(true)))
    );
    let mut unmanaged = lab();
    unmanaged.recording = None;
    assert!(diff(&unmanaged, &live(true, false)).is_empty());
    assert!(diff(&unmanaged, &live(true, true)).is_empty());
    // Only the recording flag differs: no put is needed.
    assert_eq!(settings(&lab()), settings(&live(true, false).spec));
}

#[test]
fn strategies_are_derived_and_types_are_sets() {
    let mut d = Spec {
        role_arn: ROLE.into(),
        recording_group: Some(RecordingGroup {
            resource_types: vec!["AWS::EC2::Volume".into(), "AWS::EC2::Instance".into()],
            ..RecordingGroup::default()
        }),
        ..Spec::default()
    };
    let mut l = d.clone();
    let g = l.recording_group.as_mut().unwrap();
    g.resource_types.reverse();
    g.all_supported = Some(false);
    g.recording_strategy = Some(RecordingStrategy {
        use_only: INCLUSION.into(),
    });
    g.exclusion_by_resource_types = Some(ExclusionByResourceTypes::default());
    assert_eq!(canonical(&d), canonical(&l));
    d.recording_group = Some(RecordingGroup {
        exclusion_by_resource_types: Some(ExclusionByResourceTypes {
            resource_types: vec!["AWS::EC2::Volume".into()],
        }),
        recording_strategy: Some(RecordingStrategy {
            use_only: EXCLUSION.into(),
        }),
        ..RecordingGroup::default()
    });
    assert!(messages(&d).is_empty(), "{:?}", messages(&d));
    let paths: Vec<String> = crate::diff::diff(&canonical(&d), &canonical(&l), &[])
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert!(
        paths.contains(&"recordingGroup.recordingStrategy.useOnly".to_string()),
        "{paths:?}"
    );
}

#[test]
fn recording_mode_overrides_compare_as_sets() {
    let o = |t: &str, f: &str| RecordingModeOverride {
        description: None,
        resource_types: vec![t.into()],
        recording_frequency: f.into(),
    };
    let mut a = lab();
    a.recording_mode = Some(RecordingMode {
        recording_frequency: "DAILY".into(),
        recording_mode_overrides: vec![
            o("AWS::EC2::Instance", "CONTINUOUS"),
            o("AWS::EC2::Volume", "CONTINUOUS"),
        ],
    });
    let mut b = a.clone();
    b.recording_mode
        .as_mut()
        .unwrap()
        .recording_mode_overrides
        .reverse();
    assert_eq!(canonical(&a), canonical(&b));
    let d = diff(&a, &live(true, true));
    assert!(
        d.iter()
            .any(|f| f.path == "recordingMode.recordingFrequency"),
        "{d:?}"
    );
}

#[test]
fn validation_mirrors_the_api_rules() {
    assert!(messages(&lab()).is_empty());
    let mut s = lab();
    s.role_arn = "ConfigServiceRole".into();
    assert!(messages(&s)[0].contains("not a role ARN"));
    s.role_arn = "${Role/ConfigServiceRole.arn}".into();
    assert!(messages(&s).is_empty());
    s.recording_group = Some(RecordingGroup {
        include_global_resource_types: Some(true),
        ..RecordingGroup::default()
    });
    let m = messages(&s);
    assert!(
        m.iter()
            .any(|x| x.contains("applies only with allSupported: true")),
        "{m:?}"
    );
    assert!(m.iter().any(|x| x.contains("records nothing")), "{m:?}");
    s.recording_group = Some(RecordingGroup {
        all_supported: Some(true),
        resource_types: vec!["AWS::EC2::instance".into()],
        ..RecordingGroup::default()
    });
    let m = messages(&s);
    assert!(
        m.iter()
            .any(|x| x.contains("list resourceTypes only with allSupported: false")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|x| x.contains("did you mean AWS::EC2::Instance?")),
        "{m:?}"
    );
    s.recording_group = Some(RecordingGroup {
        exclusion_by_resource_types: Some(ExclusionByResourceTypes {
            resource_types: vec!["AWS::EC2::Volume".into()],
        }),
        ..RecordingGroup::default()
    });
    assert!(messages(&s)[0].contains("needs recordingStrategy"));
    s.recording_group = None;
    s.recording_mode = Some(RecordingMode {
        recording_frequency: "HOURLY".into(),
        recording_mode_overrides: vec![],
    });
    assert!(messages(&s)[0].contains("`HOURLY` is not a valid recordingFrequency"));
}

#[test]
fn role_arn_accepts_the_api_spelling() {
    let node =
        crate::yaml::parse_documents("roleARN: arn:aws:iam::1:role/r\nrecording: true\n").unwrap();
    let spec: Spec = crate::yaml::from_node(&node[0]).unwrap();
    assert_eq!(spec.role_arn, "arn:aws:iam::1:role/r");
}

#[test]
fn import_leaves_defaults_out() {
    let spec = ConfigurationRecorder::to_spec(&live(true, true));
    assert_eq!(spec, lab());
    let spec = ConfigurationRecorder::to_spec(&live(false, false));
    assert_eq!(spec.recording_group, None);
    assert_eq!(spec.recording, Some(false));
}

fn status(recording: bool) -> DescribeConfigurationRecorderStatusOutput {
    DescribeConfigurationRecorderStatusOutput::builder()
        .configuration_recorders_status(
            cfg::ConfigurationRecorderStatus::builder()
                .name("default")
                .recording(recording)
                .build(),
        )
        .build()
}

// The AWS response shapes (ARN, recordingMode, recordingScope) that moto does not return.
/// DescribeConfigurationRecorders answering with the lab's recorder, as [`aws_recorder`] builds it.
fn listed(recording: bool) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_config::Client::describe_configuration_recorders).then_output(move || {
        DescribeConfigurationRecordersOutput::builder()
            .configuration_recorders(aws_recorder(recording))
            .build()
    })
}

#[tokio::test]
async fn update_of_settings_then_start_in_finalize() {
    let listed = listed(false);
    let stopped = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| status(false));
    let put = mock!(aws_sdk_config::Client::put_configuration_recorder)
        .match_requests(|r| {
            let rec = r.configuration_recorder().unwrap();
            let g = rec.recording_group().unwrap();
            rec.name() == Some("default")
                && rec.role_arn() == Some(ROLE)
                && g.all_supported()
                && g.include_global_resource_types()
                && rec.recording_mode().unwrap().recording_frequency()
                    == &cfg::RecordingFrequency::Continuous
        })
        .then_output(|| PutConfigurationRecorderOutput::builder().build());
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder)
        .match_requests(|r| r.configuration_recorder_name() == Some("default"))
        .then_output(|| StartConfigurationRecorderOutput::builder().build());
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&listed, &stopped, &put, &start]);
    let found = ConfigurationRecorder::observe(
        &aws,
        &Wanted::names(BTreeMap::from([("default".to_string(), Value::Null)])),
    )
    .await
    .unwrap();
    let l = &found["default"];
    assert_eq!(
        l.arn.as_deref(),
        Some("arn:aws:config:us-east-1:123456789012:configuration-recorder/default/abcd1234")
    );
    let paths: Vec<String> = diff(&lab(), l).into_iter().map(|f| f.path).collect();
    assert_eq!(
        paths,
        ["recordingGroup.includeGlobalResourceTypes", "recording"]
    );
    ConfigurationRecorder::apply(&aws, "default", &lab(), Some(l))
        .await
        .unwrap();
    ConfigurationRecorder::finalize(&aws, "default", &lab())
        .await
        .unwrap();
    assert_eq!((put.num_calls(), start.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_failing_recorder_is_reported_as_a_note() {
    let listed = listed(true);
    let failing = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| {
            DescribeConfigurationRecorderStatusOutput::builder()
                .configuration_recorders_status(
                    cfg::ConfigurationRecorderStatus::builder()
                        .name("default")
                        .recording(true)
                        .last_status(cfg::RecorderStatus::Failure)
                        .last_error_code("AccessDenied")
                        .last_error_message("The role cannot write to the bucket")
                        .build(),
                )
                .build()
        });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&listed, &failing]);
    let found = observe_live::<ConfigurationRecorder>(&aws, &Wanted::everything())
        .await
        .unwrap();
    assert_eq!(
        ConfigurationRecorder::notes(&found["default"]),
        [
            "the recorder's last recording attempt failed: AccessDenied: The role cannot write to the bucket"
        ]
    );
    assert!(diff(&lab(), &found["default"]).is_empty());
}

#[tokio::test]
async fn recording_false_stops_and_finalize_does_not_start() {
    let recording = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| status(true));
    let stop = mock!(aws_sdk_config::Client::stop_configuration_recorder)
        .then_output(|| StopConfigurationRecorderOutput::builder().build());
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&recording, &stop]);
    let mut off = lab();
    off.recording = Some(false);
    ConfigurationRecorder::apply(&aws, "default", &off, Some(&live(true, true)))
        .await
        .unwrap();
    ConfigurationRecorder::finalize(&aws, "default", &off)
        .await
        .unwrap();
    assert_eq!((stop.num_calls(), recording.num_calls()), (1, 0));
    // Already recording: finalize reads the status and writes nothing.
    ConfigurationRecorder::finalize(&aws, "default", &lab())
        .await
        .unwrap();
    assert_eq!((stop.num_calls(), recording.num_calls()), (1, 1));
}

#[tokio::test]
async fn start_without_a_channel_fails_with_aws_reason() {
    let stopped = mock!(aws_sdk_config::Client::describe_configuration_recorder_status)
        .then_output(|| status(false));
    let start = mock!(aws_sdk_config::Client::start_configuration_recorder).then_error(|| {
        StartConfigurationRecorderError::generic(crate::aws::testing::error_meta(
            "NoAvailableDeliveryChannelException",
            "Delivery channel is not available to start configuration recorder.",
        ))
    });
    let aws = mock_aws!(config: aws_sdk_config, MatchAny, [&stopped, &start]);
    let err = ConfigurationRecorder::finalize(&aws, "default", &lab())
        .await
        .unwrap_err();
    assert_eq!(err.class(), crate::aws::ErrorClass::Terminal);
    assert!(
        err.to_string()
            .contains("NoAvailableDeliveryChannelException"),
        "{err}"
    );
}

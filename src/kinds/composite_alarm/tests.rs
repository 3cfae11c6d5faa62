//! Unit tests of the composite_alarm kind: pure normalize and diff, and mocked AWS calls.

use super::*;
use crate::aws::testing::{MockClients, aws_with, mock_aws};
use crate::testkit::fixtures::{apply, observe_live};
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::operation::put_composite_alarm::PutCompositeAlarmOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};

fn spec() -> Spec {
    Spec {
        alarm_rule: "ALARM(HighCPUUtilization) OR ALARM(HighMemoryUtilization)".into(),
        alarm_actions: vec!["arn:aws:sns:us-east-1:123456789012:alerts".into()],
        ..Spec::default()
    }
}

#[test]
fn validation() {
    let i = crate::testkit::fixtures::issues_of::<CompositeAlarm>(&spec());
    assert!(i.is_empty(), "{:?}", i.0);
    let mut bad = spec();
    bad.alarm_rule = "ALARM(a".into();
    let i = crate::testkit::fixtures::issues_of::<CompositeAlarm>(&bad);
    assert!(i.0.iter().any(|(_, m)| m.contains("unbalanced")));
}

// `alarmDescription: ""` against the absent one AWS reports was a diff, and a
// PutCompositeAlarm, on every run.
#[test]
fn an_empty_description_is_no_description() {
    let mut empty = spec();
    empty.alarm_description = Some(String::new());
    assert_eq!(canonical(&empty, None), canonical(&spec(), None));
}

#[test]
fn suppressor_periods_default_to_sixty() {
    let mut a = spec();
    a.actions_suppressor = Some("Maintenance".into());
    let mut b = a.clone();
    b.actions_suppressor_wait_period = Some(60);
    b.actions_suppressor_extension_period = Some(60);
    assert_eq!(canonical(&a, None), canonical(&b, None));
}

// moto answers PutCompositeAlarm with a 500, so the create, no-op and update
// path runs against replayed responses here.
#[tokio::test]
async fn create_then_noop_then_update() {
    let live_composite = aws_sdk_cloudwatch::types::CompositeAlarm::builder()
        .alarm_name("Any")
        .alarm_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:Any")
        .alarm_rule(spec().alarm_rule)
        .actions_enabled(true)
        .set_alarm_actions(Some(spec().alarm_actions))
        .set_ok_actions(Some(vec![]))
        .set_insufficient_data_actions(Some(vec![]))
        .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
        .build();
    let empty = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .then_output(|| DescribeAlarmsOutput::builder().build());
    let put = mock!(aws_sdk_cloudwatch::Client::put_composite_alarm)
        .match_requests(|r| {
            r.alarm_name() == Some("Any")
                && r.alarm_rule() == Some(spec().alarm_rule.as_str())
                && r.tags().iter().any(|t| t.key() == Some("vigil:owner"))
        })
        .then_output(|| PutCompositeAlarmOutput::builder().build());
    let aws = mock_aws!(cloudwatch: aws_sdk_cloudwatch, MatchAny, [&empty, &put]);
    let wanted = Wanted::names(BTreeMap::from([("Any".to_string(), Value::Null)]));
    let live = observe_live::<CompositeAlarm>(&aws, &wanted).await.unwrap();
    assert!(live.is_empty());
    let attrs = apply::<CompositeAlarm>(&aws, "Any", &spec(), None)
        .await
        .unwrap();
    assert_eq!(
        attrs["arn"],
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Any"
    );
    assert_eq!(put.num_calls(), 1);

    // Second run: the alarm exists and matches, so nothing is written.
    let lc = live_composite.clone();
    let listed = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        DescribeAlarmsOutput::builder()
            .composite_alarms(lc.clone())
            .build()
    });
    let put2 = mock!(aws_sdk_cloudwatch::Client::put_composite_alarm)
        .then_output(|| PutCompositeAlarmOutput::builder().build());
    let cw = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&listed, &put2]);
    let tags = crate::aws::testing::tagging_rule(&[(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:Any",
        &[("vigil:owner", "test")],
    )]);
    let aws = aws_with(MockClients {
        cloudwatch: Some(cw),
        tagging: Some(crate::aws::testing::tagging_client(&[&tags])),
        ..Default::default()
    });
    let live = observe_live::<CompositeAlarm>(&aws, &wanted).await.unwrap();
    let l = &live["Any"];
    let env = aws.env.clone();
    // Compared as the engine compares: tags read for the owner, not declared, are not compared.
    assert!(
        crate::kinds::KindId::CompositeAlarm
            .diff(
                &CompositeAlarm::normalize(&spec(), &env),
                &CompositeAlarm::live_state(l, &env)
            )
            .is_empty()
    );
    apply::<CompositeAlarm>(&aws, "Any", &spec(), Some(l))
        .await
        .unwrap();
    assert_eq!(put2.num_calls(), 0);

    // A changed rule is written once.
    let mut changed = spec();
    changed.alarm_rule = "ALARM(HighCPUUtilization)".into();
    let diffs = crate::kinds::KindId::CompositeAlarm.diff(
        &CompositeAlarm::normalize(&changed, &env),
        &CompositeAlarm::live_state(l, &env),
    );
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].path, "alarmRule");
    apply::<CompositeAlarm>(&aws, "Any", &changed, Some(l))
        .await
        .unwrap();
    assert_eq!(put2.num_calls(), 1);
}

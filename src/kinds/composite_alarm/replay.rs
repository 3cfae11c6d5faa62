//! The composite_alarm kind against replayed AWS: mock rules that record each write and
//! answer later reads as AWS would (moto does not serve this kind). The cycle
//! and the property are `crate::testkit::replay`'s.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, Tags};
use crate::testkit::replay::*;
use crate::testkit::strategy::{self, Case};

fn replay(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_composite_alarm::PutCompositeAlarmOutput;
    use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatch::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_cloudwatch::types::CompositeAlarm;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::ResourceTagMapping;

    let alarm: Shared<Option<CompositeAlarm>> = shared(None);
    let tags: Shared<Tags> = shared(Tags::new());
    let arn = format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{}",
        strategy::REGION,
        strategy::ACCOUNT,
        case.name
    );
    let (a, t, arn2) = (alarm.clone(), tags.clone(), arn.clone());
    let put =
        mock!(aws_sdk_cloudwatch::Client::put_composite_alarm).then_compute_output(move |r| {
            let suppressed = r.actions_suppressor().is_some();
            // AWS fills both suppressor periods in (60 s), and stores tags only at creation.
            let period = |p: Option<i32>| if suppressed { Some(p.unwrap_or(60)) } else { p };
            let mut stored = a.lock().unwrap();
            if stored.is_none() {
                t.lock().unwrap().extend(
                    r.tags()
                        .iter()
                        .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
                );
            }
            *stored = Some(
                CompositeAlarm::builder()
                    .alarm_name(r.alarm_name().unwrap_or_default())
                    .alarm_arn(&arn2)
                    .set_alarm_rule(r.alarm_rule().map(str::to_string))
                    .set_alarm_description(
                        r.alarm_description()
                            .filter(|d| !d.is_empty())
                            .map(str::to_string),
                    )
                    .actions_enabled(r.actions_enabled().unwrap_or(true))
                    .set_ok_actions(Some(r.ok_actions().to_vec()))
                    .set_alarm_actions(Some(r.alarm_actions().to_vec()))
                    .set_insufficient_data_actions(Some(r.insufficient_data_actions().to_vec()))
                    .set_actions_suppressor(r.actions_suppressor().map(str::to_string))
                    .set_actions_suppressor_wait_period(period(r.actions_suppressor_wait_period()))
                    .set_actions_suppressor_extension_period(period(
                        r.actions_suppressor_extension_period(),
                    ))
                    .state_value(aws_sdk_cloudwatch::types::StateValue::InsufficientData)
                    .build(),
            );
            PutCompositeAlarmOutput::builder().build()
        });
    let a = alarm.clone();
    let describe =
        mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(move |_| {
            DescribeAlarmsOutput::builder()
                .set_composite_alarms(a.lock().unwrap().clone().map(|x| vec![x]))
                .build()
        });
    let t = tags.clone();
    let tag = mock!(aws_sdk_cloudwatch::Client::tag_resource).then_compute_output(move |r| {
        t.lock().unwrap().extend(
            r.tags()
                .iter()
                .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
        );
        TagResourceOutput::builder().build()
    });
    let t = tags.clone();
    let untag = mock!(aws_sdk_cloudwatch::Client::untag_resource).then_compute_output(move |r| {
        let mut t = t.lock().unwrap();
        for k in r.tag_keys() {
            t.remove(k);
        }
        UntagResourceOutput::builder().build()
    });
    let (a, t) = (alarm.clone(), tags.clone());
    let read_tags = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_compute_output(move |_| {
            let mapping = a.lock().unwrap().is_some().then(|| {
                ResourceTagMapping::builder()
                    .resource_arn(&arn)
                    .set_tags(Some(sdk_tags(&t.lock().unwrap(), |k, v| {
                        aws_sdk_resourcegroupstagging::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                            .expect("tag")
                    })))
                    .build()
            });
            GetResourcesOutput::builder()
                .set_resource_tag_mapping_list(Some(mapping.into_iter().collect()))
                .build()
        });
    let aws = aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            [&put, &describe, &tag, &untag]
        )),
        tagging: Some(mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::MatchAny,
            [&read_tags]
        )),
        ..Default::default()
    });
    run(cycle(
        KindId::CompositeAlarm,
        &aws,
        case,
        &[&put, &tag, &untag],
    ))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}

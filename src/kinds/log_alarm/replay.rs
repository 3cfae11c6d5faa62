//! The log_alarm kind against replayed AWS: mock rules that record each
//! PutLogAlarm and answer DescribeAlarms (`LogAlarms`) and the Tagging API as
//! AWS would (no emulator here serves PutLogAlarm). The cycle and the property
//! are `crate::testkit::replay`'s.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, Tags};
use crate::testkit::replay::*;
use crate::testkit::strategy::{self, Case};

/// What DescribeAlarms reports for a log alarm PutLogAlarm wrote: AWS names
/// the scheduled query it manages and spells out `TreatMissingData`.
pub(crate) fn stored(
    r: &aws_sdk_cloudwatch::operation::put_log_alarm::PutLogAlarmInput,
    arn: &str,
) -> aws_sdk_cloudwatch::types::LogAlarm {
    let query = r.scheduled_query_configuration().cloned().map(|mut q| {
        q.query_arn = Some(format!(
            "arn:aws:logs:{}:{}:scheduled-query:6c1f-{}",
            strategy::REGION,
            strategy::ACCOUNT,
            r.alarm_name().unwrap_or_default().len()
        ));
        q.tags = None;
        q
    });
    aws_sdk_cloudwatch::types::LogAlarm::builder()
        .alarm_name(r.alarm_name().unwrap_or_default())
        .alarm_arn(arn)
        .set_alarm_description(r.alarm_description().map(str::to_string))
        .actions_enabled(r.actions_enabled().unwrap_or(true))
        .set_ok_actions(Some(r.ok_actions().to_vec()))
        .set_alarm_actions(Some(r.alarm_actions().to_vec()))
        .set_insufficient_data_actions(Some(r.insufficient_data_actions().to_vec()))
        .set_scheduled_query_configuration(query)
        .set_query_results_to_evaluate(r.query_results_to_evaluate())
        .set_query_results_to_alarm(r.query_results_to_alarm())
        .set_threshold(r.threshold())
        .set_comparison_operator(r.comparison_operator().cloned())
        .treat_missing_data(r.treat_missing_data().unwrap_or("missing"))
        .action_log_line_count(r.action_log_line_count().unwrap_or(0))
        .set_action_log_line_role_arn(r.action_log_line_role_arn().map(str::to_string))
        .set_warm_up_configuration(r.warm_up_configuration().cloned())
        .state_value(aws_sdk_cloudwatch::types::StateValue::InsufficientData)
        .build()
}

fn replay(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_log_alarm::PutLogAlarmOutput;
    use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatch::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_cloudwatch::types::{AlarmType, LogAlarm};
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::ResourceTagMapping;

    let alarm: Shared<Option<LogAlarm>> = shared(None);
    let tags: Shared<Tags> = shared(Tags::new());
    let arn = format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{}",
        strategy::REGION,
        strategy::ACCOUNT,
        case.name
    );
    let (a, t, arn2) = (alarm.clone(), tags.clone(), arn.clone());
    let put = mock!(aws_sdk_cloudwatch::Client::put_log_alarm).then_compute_output(move |r| {
        let mut a = a.lock().unwrap();
        // Tags count at creation only.
        if a.is_none() {
            t.lock().unwrap().extend(
                r.tags()
                    .iter()
                    .filter_map(|x| Some((x.key()?.to_string(), x.value()?.to_string()))),
            );
        }
        *a = Some(stored(r, &arn2));
        PutLogAlarmOutput::builder().build()
    });
    let a = alarm.clone();
    // Log alarms are listed only when AlarmTypes asks for them.
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .match_requests(|r| r.alarm_types().contains(&AlarmType::LogAlarm))
        .then_compute_output(move |_| {
            DescribeAlarmsOutput::builder()
                .set_log_alarms(a.lock().unwrap().clone().map(|x| vec![x]))
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
    run(cycle(KindId::LogAlarm, &aws, case, &[&put, &tag, &untag]))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}

//! The metric_alarm kind against replayed AWS, for the 2026 fields moto 5.2.6
//! neither stores nor returns (`EvaluationCriteria`, `EvaluationInterval`,
//! `WarmUpConfiguration`: its PutMetricAlarm reads none of them). PutMetricAlarm
//! is answered by storing what AWS would, and DescribeAlarms returns it. The
//! cycle and the property are `crate::testkit::replay`'s.

use aws_smithy_mocks::{RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::{KindId, Tags};
use crate::testkit::replay::*;
use crate::testkit::strategy::{self, Case};

/// What DescribeAlarms reports for an alarm PutMetricAlarm wrote.
pub(crate) fn stored(
    r: &aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmInput,
    arn: &str,
) -> aws_sdk_cloudwatch::types::MetricAlarm {
    aws_sdk_cloudwatch::types::MetricAlarm::builder()
        .alarm_name(r.alarm_name().unwrap_or_default())
        .alarm_arn(arn)
        .set_alarm_description(r.alarm_description().map(str::to_string))
        .actions_enabled(r.actions_enabled().unwrap_or(true))
        .set_ok_actions(Some(r.ok_actions().to_vec()))
        .set_alarm_actions(Some(r.alarm_actions().to_vec()))
        .set_insufficient_data_actions(Some(r.insufficient_data_actions().to_vec()))
        .set_metric_name(r.metric_name().map(str::to_string))
        .set_namespace(r.namespace().map(str::to_string))
        .set_statistic(r.statistic().cloned())
        .set_extended_statistic(r.extended_statistic().map(str::to_string))
        .set_dimensions(Some(r.dimensions().to_vec()))
        .set_period(r.period())
        .set_unit(r.unit().cloned())
        .set_evaluation_periods(r.evaluation_periods())
        .set_datapoints_to_alarm(r.datapoints_to_alarm())
        .set_threshold(r.threshold())
        .set_comparison_operator(r.comparison_operator().cloned())
        // AWS reports its default for a metric alarm, none for a PromQL alarm.
        .set_treat_missing_data(
            r.treat_missing_data()
                .map(str::to_string)
                .or_else(|| r.evaluation_criteria().is_none().then(|| "missing".into())),
        )
        .set_evaluate_low_sample_count_percentile(
            r.evaluate_low_sample_count_percentile().map(str::to_string),
        )
        .set_metrics(Some(r.metrics().to_vec()))
        .set_threshold_metric_id(r.threshold_metric_id().map(str::to_string))
        .set_evaluation_criteria(r.evaluation_criteria().cloned())
        .set_evaluation_interval(r.evaluation_interval())
        .set_warm_up_configuration(r.warm_up_configuration().cloned())
        // A PromQL alarm starts in OK, any other in INSUFFICIENT_DATA.
        .state_value(if r.evaluation_criteria().is_some() {
            aws_sdk_cloudwatch::types::StateValue::Ok
        } else {
            aws_sdk_cloudwatch::types::StateValue::InsufficientData
        })
        .build()
}

fn replay(case: &Case) -> Result<(), TestCaseError> {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::put_metric_alarm::PutMetricAlarmOutput;
    use aws_sdk_cloudwatch::operation::tag_resource::TagResourceOutput;
    use aws_sdk_cloudwatch::operation::untag_resource::UntagResourceOutput;
    use aws_sdk_cloudwatch::types::MetricAlarm;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::ResourceTagMapping;

    let alarm: Shared<Option<MetricAlarm>> = shared(None);
    let tags: Shared<Tags> = shared(Tags::new());
    let arn = format!(
        "arn:aws:cloudwatch:{}:{}:alarm:{}",
        strategy::REGION,
        strategy::ACCOUNT,
        case.name
    );
    let (a, t, arn2) = (alarm.clone(), tags.clone(), arn.clone());
    let put = mock!(aws_sdk_cloudwatch::Client::put_metric_alarm).then_compute_output(move |r| {
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
        PutMetricAlarmOutput::builder().build()
    });
    let a = alarm.clone();
    let describe =
        mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_compute_output(move |_| {
            DescribeAlarmsOutput::builder()
                .set_metric_alarms(a.lock().unwrap().clone().map(|x| vec![x]))
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
        KindId::MetricAlarm,
        &aws,
        case,
        &[&put, &tag, &untag],
    ))
}

proptest! {
    #![proptest_config(config())]

    // Every kind of metric alarm the strategy makes, PromQL and warm-up included:
    // applied once, then clean.
    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}

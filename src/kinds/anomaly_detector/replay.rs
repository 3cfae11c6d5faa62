//! The anomaly_detector kind against replayed AWS (no emulator serves it):
//! mock rules over one table of detectors that answer as CloudWatch does, with
//! the shapes of aws-sdk-cloudwatch 1.140's model: PutAnomalyDetector creates
//! or overwrites the detector of a metric, DescribeAnomalyDetectors pages by
//! NextToken (one detector a page here, to walk every page) and filters by
//! type, namespace and metric, DeleteAnomalyDetector answers
//! ResourceNotFoundException for a detector that is not there.

use aws_sdk_cloudwatch::operation::delete_anomaly_detector::DeleteAnomalyDetectorOutput;
use aws_sdk_cloudwatch::operation::describe_anomaly_detectors::DescribeAnomalyDetectorsOutput;
use aws_sdk_cloudwatch::operation::put_anomaly_detector::PutAnomalyDetectorOutput;
use aws_sdk_cloudwatch::types::{
    AnomalyDetector as SdkDetector, AnomalyDetectorStateValue, AnomalyDetectorType,
    SingleMetricAnomalyDetector,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{identity, spec_from_live};
use crate::aws::Aws;
use crate::aws::testing::{MockClients, aws_with};
use crate::kinds::KindId;
use crate::testkit::replay::*;
use crate::testkit::strategy::Case;

/// A detector someone else made, on another metric: never touched, never matched.
pub fn foreign() -> SdkDetector {
    SdkDetector::builder()
        .anomaly_detector_id("ad-foreign")
        .single_metric_anomaly_detector(
            SingleMetricAnomalyDetector::builder()
                .namespace("AWS/EC2")
                .metric_name("NetworkIn")
                .stat("Average")
                .build(),
        )
        .state_value(AnomalyDetectorStateValue::Trained)
        .build()
}

/// The three rules over `table`; `describe` pages one detector at a time.
pub fn rules(table: &Shared<Vec<SdkDetector>>) -> [Rule; 3] {
    let t = table.clone();
    let put =
        mock!(aws_sdk_cloudwatch::Client::put_anomaly_detector).then_compute_output(move |r| {
            let build = |id: Option<String>| {
                SdkDetector::builder()
                    .set_anomaly_detector_id(id)
                    .set_single_metric_anomaly_detector(r.single_metric_anomaly_detector().cloned())
                    .set_metric_math_anomaly_detector(r.metric_math_anomaly_detector().cloned())
                    .set_configuration(r.configuration().cloned())
                    .set_metric_characteristics(r.metric_characteristics().cloned())
                    .state_value(AnomalyDetectorStateValue::PendingTraining)
                    .build()
            };
            let id = identity(&spec_from_live(&build(None)));
            let mut t = t.lock().unwrap();
            match t.iter_mut().find(|x| identity(&spec_from_live(x)) == id) {
                // An overwrite keeps the detector's id.
                Some(x) => *x = build(x.anomaly_detector_id().map(str::to_string)),
                None => {
                    let n = t.len();
                    t.push(build(Some(format!("ad-{n}"))));
                }
            }
            PutAnomalyDetectorOutput::builder().build()
        });
    let t = table.clone();
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_anomaly_detectors)
        .then_compute_output(move |r| {
            let types = if r.anomaly_detector_types().is_empty() {
                vec![AnomalyDetectorType::SingleMetric]
            } else {
                r.anomaly_detector_types().to_vec()
            };
            let matching: Vec<SdkDetector> = t
                .lock()
                .unwrap()
                .iter()
                .filter(|d| {
                    let math = d.metric_math_anomaly_detector().is_some();
                    let ty = if math {
                        AnomalyDetectorType::MetricMath
                    } else {
                        AnomalyDetectorType::SingleMetric
                    };
                    let s = d.single_metric_anomaly_detector();
                    types.contains(&ty)
                        && r.namespace()
                            .is_none_or(|n| s.and_then(|s| s.namespace()) == Some(n))
                        && r.metric_name()
                            .is_none_or(|n| s.and_then(|s| s.metric_name()) == Some(n))
                })
                .cloned()
                .collect();
            let at: usize = r.next_token().map_or(0, |t| t.parse().unwrap());
            let next = (at + 1 < matching.len()).then(|| (at + 1).to_string());
            DescribeAnomalyDetectorsOutput::builder()
                .set_anomaly_detectors(Some(matching.into_iter().skip(at).take(1).collect()))
                .set_next_token(next)
                .build()
        });
    let t = table.clone();
    let delete =
        mock!(aws_sdk_cloudwatch::Client::delete_anomaly_detector).then_compute_output(move |r| {
            let want = SdkDetector::builder()
                .set_single_metric_anomaly_detector(r.single_metric_anomaly_detector().cloned())
                .set_metric_math_anomaly_detector(r.metric_math_anomaly_detector().cloned())
                .build();
            let id = identity(&spec_from_live(&want));
            t.lock()
                .unwrap()
                .retain(|x| identity(&spec_from_live(x)) != id);
            DeleteAnomalyDetectorOutput::builder().build()
        });
    [put, describe, delete]
}

/// DeleteAnomalyDetector of a detector that is not there, as CloudWatch answers
/// it in RPC v2 CBOR (the model's awsQuery code, HTTP 404).
pub fn delete_not_found() -> Rule {
    mock!(aws_sdk_cloudwatch::Client::delete_anomaly_detector).then_http_response(
        crate::aws::testing::cbor_error(
            404,
            "com.amazonaws.cloudwatch#ResourceNotFoundException",
            Some("ResourceNotFoundException;Sender"),
            "Anomaly detector not found",
        ),
    )
}

pub fn aws_over(rules: &[&Rule]) -> Aws {
    aws_with(MockClients {
        cloudwatch: Some(mock_client!(
            aws_sdk_cloudwatch,
            RuleMode::MatchAny,
            rules.iter().copied()
        )),
        ..Default::default()
    })
}

fn replay(case: &Case) -> Result<(), TestCaseError> {
    let table = shared(vec![foreign()]);
    let [put, describe, delete] = rules(&table);
    let aws = aws_over(&[&put, &describe, &delete]);
    run(cycle(KindId::AnomalyDetector, &aws, case, &[&put, &delete]))?;
    // The other detector is untouched.
    let t = table.lock().unwrap();
    prop_assert!(
        t.iter()
            .any(|d| d.anomaly_detector_id() == Some("ad-foreign"))
    );
    prop_assert_eq!(t.len(), 2);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn applies_once(case in super::strategy::strategy()) {
        replay(&case)?;
    }
}

//! Anomaly detectors against moto, which does not serve them (moto 5.2.6 has no
//! Put/Describe/DeleteAnomalyDetector): vigil must say so plainly, try once, and
//! apply everything else, here the band alarm on the same metric. The kind's
//! behaviour (plan, apply, a second run with no write, import, prune, not found,
//! pagination) is proven on replayed answers in `src/kinds/anomaly_detector/`.

use crate::harness::{Lab, changes, writes};

#[tokio::test]
async fn emulator_without_anomaly_detectors_is_reported_as_unsupported_and_the_band_alarm_applies()
{
    let lab = Lab::new().await;
    lab.copy_repo_parts(&["alarms/anomaly-detection.yaml", "notifications"]);
    let unsupported = |report: &serde_json::Value| {
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{report:#}");
        let e = &errors[0];
        assert_eq!(e["kind"], "AnomalyDetector", "{report:#}");
        assert_eq!(e["class"], "unsupported", "{report:#}");
        let m = e["message"].as_str().unwrap();
        assert!(
            m.starts_with(
                "cloudwatch DescribeAnomalyDetectors: the endpoint does not implement this API"
            ),
            "{m}"
        );
        // One attempt (the call log counts every attempt): no retry.
        assert_eq!(
            report["apiCalls"]["byService"]["CloudWatch"]["DescribeAnomalyDetectors"], 1,
            "{report:#}"
        );
        assert!(
            report["apiCalls"]["byService"]["CloudWatch"]
                .get("PutAnomalyDetector")
                .is_none(),
            "{report:#}"
        );
    };

    let (run, plan) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(1);
    unsupported(&plan);
    assert_eq!(writes(&plan), 0);
    let planned = changes(&plan);
    assert!(
        planned.contains(&("create".into(), "MetricAlarm/ResponseTimeAnomaly".into())),
        "{planned:?}"
    );

    let (run, applied) = lab.reconcile_json(&[]);
    run.expect_code(1);
    unsupported(&applied);
    // The band alarm and its topic were written; nothing else failed.
    assert!(writes(&applied) > 0, "{applied:#}");
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let alarms = cw
        .describe_alarms()
        .alarm_names("ResponseTimeAnomaly")
        .send()
        .await
        .unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!(alarm.threshold_metric_id(), Some("ad1"));
    assert!(
        alarm
            .metrics()
            .iter()
            .any(|q| q.expression() == Some("ANOMALY_DETECTION_BAND(m1, 2)"))
    );

    // A second run writes nothing and reports the same limit the same way.
    let (run, again) = lab.reconcile_json(&[]);
    run.expect_code(1);
    unsupported(&again);
    assert_eq!(writes(&again), 0, "{again:#}");
}

//! Log alarms against moto 5.2.6, which serves DescribeAlarms but not
//! PutLogAlarm: vigil must report the endpoint's limit plainly (class
//! `unsupported`, one attempt, no retry) and still apply everything else. The
//! kind's behaviour (plan, apply, second run, import, delete, not-found,
//! pagination) is proven on replayed responses in `src/kinds/log_alarm/`.

use crate::harness::{Lab, changes, writes};

const TOPIC: &str = r#"apiVersion: vigil/v1
kind: Topic
metadata:
  name: log-alerts
spec: {}
"#;

const METRIC_ALARM: &str = r#"apiVersion: vigil/v1
kind: MetricAlarm
metadata:
  name: HighCPU
spec:
  namespace: AWS/EC2
  metricName: CPUUtilization
  statistic: Average
  period: 300
  evaluationPeriods: 2
  threshold: 80
  comparisonOperator: GreaterThanThreshold
  alarmActions: ["${Topic/log-alerts.arn}"]
"#;

const LOG_ALARM: &str = r#"apiVersion: vigil/v1
kind: LogAlarm
metadata:
  name: HttpdErrors
spec:
  alarmDescription: ERROR lines in the httpd error log
  scheduledQueryConfiguration:
    queryString: |
      fields @message
      | filter @message like /ERROR/
    logGroupIdentifiers: [/aws/ec2/httpd/error_log]
    scheduledQueryRoleArn: arn:aws:iam::123456789012:role/LogAlarmQuery
    scheduleConfiguration:
      scheduleExpression: rate(5 minutes)
      startTimeOffset: 300
    aggregationExpression: count(*)
  queryResultsToEvaluate: 3
  queryResultsToAlarm: 2
  threshold: 10
  comparisonOperator: GreaterThanThreshold
  alarmActions: ["${Topic/log-alerts.arn}"]
  warmUpConfiguration:
    warmUpPeriodDurationInMinutes: 10
  tags: {team: web}
"#;

#[tokio::test]
async fn emulator_without_put_log_alarm_is_unsupported_and_the_rest_applies() {
    let lab = Lab::new().await;
    lab.write("topic.yaml", TOPIC);
    lab.write("metric-alarm.yaml", METRIC_ALARM);
    lab.write("log-alarm.yaml", LOG_ALARM);

    // The plan: DescribeAlarms (asking for log alarms too) answers, so the
    // log alarm plans as a create beside the others.
    let (run, plan) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    let planned = changes(&plan);
    for r in [
        "Topic/log-alerts",
        "MetricAlarm/HighCPU",
        "LogAlarm/HttpdErrors",
    ] {
        assert!(
            planned.contains(&("create".to_string(), r.to_string())),
            "{r}: {plan:#}"
        );
    }
    assert_eq!(writes(&plan), 0);

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(1);
    let status = |kind: &str| {
        report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}: {report:#}"))
            .clone()
    };
    let log = status("LogAlarm");
    assert_eq!(log["status"], "failed", "{report:#}");
    assert_eq!(log["errorClass"], "unsupported", "{report:#}");
    assert_eq!(
        log["error"],
        "cloudwatch PutLogAlarm: the endpoint does not implement this API (it answered HTTP 500 with an HTML page)"
    );
    for kind in ["Topic", "MetricAlarm"] {
        assert_eq!(status(kind)["status"], "applied", "{kind}: {report:#}");
    }
    // One attempt: the call log counts every attempt, and a retry would show.
    assert_eq!(
        report["apiCalls"]["byService"]["CloudWatch"]["PutLogAlarm"], 1,
        "{report:#}"
    );
    assert_eq!(
        report["apiCalls"]["byService"]["CloudWatch"]["PutMetricAlarm"], 1,
        "{report:#}"
    );

    // Everything else was applied: the next plan has only the log alarm left.
    let (run, again) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    assert_eq!(
        changes(&again),
        [("create".to_string(), "LogAlarm/HttpdErrors".to_string())],
        "{again:#}"
    );
}

//! The foundation slice end to end: the real binary against moto.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use serde_json::Value;

use crate::harness::{Lab, changes, writes};

fn has(report: &Value, action: &str, id: &str) -> bool {
    changes(report).contains(&(action.to_string(), id.to_string()))
}

const LAB_RESOURCES: &[&str] = &[
    "Topic/monitoring-lab-alerts",
    "MetricAlarm/HighCPUUtilization",
    "MetricAlarm/HighMemoryUtilization",
    "MetricAlarm/HighResponseTime",
    "MetricAlarm/HighErrorRate",
    "Dashboard/MonitoringLabDashboard",
];

#[tokio::test]
async fn dry_run_on_an_empty_account_plans_creates_and_writes_nothing() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    for id in LAB_RESOURCES {
        assert!(
            has(&report, "create", id),
            "{id} missing from {:?}",
            changes(&report)
        );
    }
    assert_eq!(writes(&report), 0);
    // The topic does not exist yet, so the alarms' actions are unknown until apply.
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    text.expect_code(0);
    assert!(
        text.stdout
            .contains("    alarmActions: [\"(known after apply)\"]\n"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("Plan: 6 to create, 0 to update, 0 to delete, 0 unchanged."),
        "{}",
        text.stdout
    );
}

#[tokio::test]
async fn apply_then_second_run_is_clean_with_zero_writes() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["create"], 6, "{report:#}");
    assert!(
        writes(&report) >= 7,
        "topic, subscription, 4 alarms, dashboard"
    );

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(changes(&report).is_empty(), "{report:#}");
    assert_eq!(writes(&report), 0);
    assert_eq!(report["summary"]["unchanged"], 6);

    // A real (non-dry) second reconcile also writes nothing and says so.
    let text = lab.vigil(&["reconcile", "{dir}"]);
    text.expect_code(0);
    assert_eq!(
        text.stdout.trim(),
        "Apply complete: 0 created, 0 updated, 0 deleted, 6 unchanged."
    );

    // The alarms point at the topic created in the same run.
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let alarms = cw.describe_alarms().send().await.unwrap();
    let cpu = alarms
        .metric_alarms()
        .iter()
        .find(|a| a.alarm_name() == Some("HighCPUUtilization"))
        .unwrap();
    assert_eq!(
        cpu.alarm_actions(),
        [format!(
            "arn:aws:sns:us-east-1:{}:monitoring-lab-alerts",
            lab.account
        )]
    );
}

#[tokio::test]
async fn out_of_band_changes_show_as_updates_and_are_put_back() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);

    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    // Someone raises the CPU threshold in the console...
    cw.put_metric_alarm()
        .alarm_name("HighCPUUtilization")
        .alarm_description("Alert when CPU exceeds 80%")
        .namespace("AWS/EC2")
        .metric_name("CPUUtilization")
        .dimensions(
            Dimension::builder()
                .name("InstanceId")
                .value("i-0123456789abcdef0")
                .build(),
        )
        .statistic(Statistic::Average)
        .period(300)
        .evaluation_periods(2)
        .threshold(95.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .unit(aws_sdk_cloudwatch::types::StandardUnit::Percent)
        .alarm_actions(format!(
            "arn:aws:sns:us-east-1:{}:monitoring-lab-alerts",
            lab.account
        ))
        .send()
        .await
        .unwrap();
    // ...and widens a dashboard widget.
    let body = cw
        .get_dashboard()
        .dashboard_name("MonitoringLabDashboard")
        .send()
        .await
        .unwrap()
        .dashboard_body
        .unwrap();
    let mut body: Value = serde_json::from_str(&body).unwrap();
    body["widgets"][0]["width"] = Value::from(24);
    cw.put_dashboard()
        .dashboard_name("MonitoringLabDashboard")
        .dashboard_body(body.to_string())
        .send()
        .await
        .unwrap();

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(2);
    let mut found = changes(&report);
    found.sort();
    assert_eq!(
        found,
        vec![
            (
                "update".to_string(),
                "Dashboard/MonitoringLabDashboard".to_string()
            ),
            (
                "update".to_string(),
                "MetricAlarm/HighCPUUtilization".to_string()
            ),
        ]
    );
    let alarm = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "MetricAlarm")
        .unwrap();
    assert_eq!(alarm["fields"][0]["path"], "threshold");
    assert_eq!(alarm["fields"][0]["from"], 95.0);
    assert_eq!(alarm["fields"][0]["to"], 80.0);
    let text = lab.vigil(&["reconcile", "{dir}", "--dry-run"]);
    assert!(
        text.stdout.contains("threshold: 95 -> 80"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("-       \"width\": 24,"),
        "{}",
        text.stdout
    );

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(report["summary"]["update"], 2);
    let puts = &report["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(puts["PutMetricAlarm"], 1, "{report:#}");
    assert_eq!(puts["PutDashboard"], 1, "{report:#}");

    let (run, report) = lab.reconcile_json(&["--dry-run", "--detailed-exitcode"]);
    run.expect_code(0);
    assert_eq!(writes(&report), 0);
}

#[tokio::test]
async fn a_bad_manifest_exits_1_with_a_located_error_and_no_calls() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.write(
        "alarms/bad.yaml",
        "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: Bad\nspec:\n  namespace: AWS/EC2\n  metricName: CPUUtilization\n  statistic: Average\n  period: 90\n  evaluationPeriods: 1\n  threshold: 1\n  comparisonOperator: GreaterThanThreshold\n",
    );
    let run = lab.vigil(&["reconcile", "{dir}"]);
    run.expect_code(1);
    let file = lab.dir().join("alarms/bad.yaml");
    assert!(
        run.stderr.contains(&format!(
            "{}:9:11: MetricAlarm/Bad: 90 is not a valid period; use 10, 30 or a multiple of 60",
            file.display()
        )),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    // Nothing reached AWS: the account is still empty.
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    assert!(
        cw.describe_alarms()
            .send()
            .await
            .unwrap()
            .metric_alarms()
            .is_empty()
    );
    let sns = aws_sdk_sns::Client::new(&lab.sdk().await);
    assert!(sns.list_topics().send().await.unwrap().topics().is_empty());
}

#[tokio::test]
async fn the_wrong_account_is_refused_before_any_other_call() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.write(
        "settings.yaml",
        "apiVersion: vigil/v1\nkind: Settings\nmetadata: {name: default}\nspec:\n  region: us-east-1\n  accountId: \"999999999999\"\n",
    );
    let (run, report) = lab.reconcile_json(&[]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("Settings.accountId is 999999999999"),
        "{}",
        run.stderr
    );
    assert_eq!(report["error"]["class"], "refused");
    assert_eq!(report["apiCalls"]["total"], 1);
    assert_eq!(
        report["apiCalls"]["byService"]["STS"]["GetCallerIdentity"],
        1
    );
}

#[tokio::test]
async fn only_limits_changes_but_reads_references() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let (run, report) = lab.reconcile_json(&["--only", "Topic/monitoring-lab-alerts"]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("create".into(), "Topic/monitoring-lab-alerts".into())]
    );
    let (run, report) = lab.reconcile_json(&["--dry-run", "--only", "MetricAlarm/HighErrorRate"]);
    run.expect_code(0);
    assert_eq!(
        changes(&report),
        vec![("create".into(), "MetricAlarm/HighErrorRate".into())]
    );
    // The topic exists now, so its ARN is known in the plan.
    let arn = format!(
        "arn:aws:sns:us-east-1:{}:monitoring-lab-alerts",
        lab.account
    );
    let fields = report["changes"][0]["fields"].as_array().unwrap();
    assert!(
        fields
            .iter()
            .any(|f| f["to"] == Value::from(vec![arn.clone()])),
        "{fields:?}"
    );
    let run = lab.vigil(&["reconcile", "{dir}", "--only", "Topic/nope"]);
    run.expect_code(1);
    assert!(run.stderr.contains("--only Topic/nope"), "{}", run.stderr);
}

#[tokio::test]
async fn markdown_plan_for_a_pull_request() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    let run = lab.vigil(&["reconcile", "{dir}", "--dry-run", "--output", "markdown"]);
    run.expect_code(0);
    assert!(
        run.stdout.starts_with("#### vigil plan: 6 to create"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("| ➕ | `Topic/monitoring-lab-alerts` | create |")
    );
}

#[tokio::test]
async fn delete_removes_each_kind() {
    let lab = Lab::new().await;
    lab.copy_fixture("foundation");
    lab.reconcile_json(&[]).0.expect_code(0);
    let mut aws = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    aws.env.account_id = lab.account.clone();
    let m = vigil::manifest::load(&lab.dir()).unwrap();
    let all = (0..m.resources.len()).collect();
    let obs =
        vigil::engine::observe::observe(&aws, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(obs.failed.is_empty());
    assert_eq!(obs.live.len(), 6);
    // Reverse dependency order: alarms and the dashboard before the topic.
    for i in (0..m.resources.len()).rev() {
        let r = &m.resources[i];
        r.kind.delete(&aws, &r.name, &obs.live[&i]).await.unwrap();
    }
    let fresh = vigil::aws::Aws::from_sdk_config(&lab.sdk().await);
    let obs =
        vigil::engine::observe::observe(&fresh, &m, &all, &Default::default(), &Default::default())
            .await;
    assert!(
        obs.live.is_empty(),
        "{:?}",
        obs.live.keys().collect::<Vec<_>>()
    );
}

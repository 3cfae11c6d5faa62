//! CloudWatch alarms where moto falls short, against MiniStack: composite
//! alarms (moto does not serve PutCompositeAlarm), `test-alarm --via-metric`
//! (moto never evaluates alarms) and DescribeAlarms paging (moto answers every
//! alarm in one page). Each lab points CloudWatch alone at MiniStack
//! ([`Lab::ministack`]); STS, SNS and the Tagging API stay on moto.
//!
//! MiniStack keeps alarm tags to itself: moto's Tagging API lists none of them,
//! so vigil confirms the owner tag of each alarm its inventory lists with
//! CloudWatch's ListTagsForResource (a read, one call an alarm).

use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::{AlarmType, Dimension, MetricDatum, StateValue};
use serde_json::Value;

use crate::harness::{Lab, changes, writes};

/// Settings in the lab's own region, pruning on. `extra` is more of the spec,
/// indented two spaces.
fn settings(lab: &Lab, extra: &str) {
    lab.write(
        "settings.yaml",
        &format!(
            "apiVersion: vigil/v1\nkind: Settings\nmetadata:\n  name: default\nspec:\n  region: {}\n  owner: ministack-it\n  prune: true\n{extra}",
            lab.region
        ),
    );
}

/// One call count of the report's apiCalls, 0 when the operation was not called.
fn calls(report: &Value, service: &str, op: &str) -> u64 {
    report["apiCalls"]["byService"][service][op]
        .as_u64()
        .unwrap_or(0)
}

fn summary(report: &Value, what: &str) -> u64 {
    report["summary"][what].as_u64().unwrap()
}

fn field<'a>(report: &'a Value, name: &str, path: &str) -> &'a Value {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .and_then(|c| c["fields"].as_array())
        .and_then(|f| f.iter().find(|f| f["path"] == path))
        .unwrap_or_else(|| panic!("no {path} change for {name}: {report:#}"))
}

/// A metric alarm in a custom namespace, one 60-second period evaluated.
fn metric_alarm(name: &str, metric: &str, threshold: u32, more: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\nspec:\n  namespace: MiniStackIt/App\n  metricName: {metric}\n  dimensions:\n    Environment: it\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: {threshold}\n  comparisonOperator: GreaterThanThreshold\n{more}"
    )
}

fn composite(op: &str) -> String {
    format!(
        "apiVersion: vigil/v1\nkind: CompositeAlarm\nmetadata:\n  name: AppDegraded\nspec:\n  alarmDescription: the queue backs up {op} errors climb\n  alarmRule: ALARM(\"${{MetricAlarm/QueueDepth.name}}\") {op} ALARM(\"${{MetricAlarm/ErrorRate.name}}\")\n"
    )
}

async fn composite_live(lab: &Lab) -> Option<aws_sdk_cloudwatch::types::CompositeAlarm> {
    lab.cloudwatch_client()
        .await
        .describe_alarms()
        .alarm_names("AppDegraded")
        .alarm_types(AlarmType::CompositeAlarm)
        .send()
        .await
        .unwrap()
        .composite_alarms()
        .first()
        .cloned()
}

// A composite alarm over two metric alarms created in the same run: planned
// with its rule whole, applied, clean on a second run, updated by one write
// when the rule changes, and pruned when its manifest goes.
#[tokio::test]
async fn composite_alarm_over_new_alarms_applies_stays_clean_updates_and_prunes() {
    let started = Instant::now();
    let lab = Lab::ministack().await;
    settings(&lab, "");
    lab.write(
        "alarms/children.yaml",
        &format!(
            "{}---\n{}",
            metric_alarm("QueueDepth", "Depth", 100, ""),
            metric_alarm("ErrorRate", "Errors", 5, "")
        ),
    );
    lab.write("alarms/composite.yaml", &composite("OR"));
    let rule = r#"ALARM("QueueDepth") OR ALARM("ErrorRate")"#;

    // The plan: three creates, the rule shown whole though its alarms do not exist yet.
    let (run, plan) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    let mut planned = changes(&plan);
    planned.sort();
    assert_eq!(
        planned,
        [
            ("create".into(), "CompositeAlarm/AppDegraded".into()),
            ("create".into(), "MetricAlarm/ErrorRate".into()),
            ("create".into(), "MetricAlarm/QueueDepth".into()),
        ]
    );
    assert_eq!(field(&plan, "AppDegraded", "alarmRule")["to"], rule);
    assert_eq!(writes(&plan), 0, "{plan:#}");

    // Apply: the children first, then the composite (MiniStack refuses a rule
    // that names an alarm it does not have).
    let (run, applied) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(summary(&applied, "create"), 3, "{applied:#}");
    assert_eq!(calls(&applied, "CloudWatch", "PutMetricAlarm"), 2);
    assert_eq!(calls(&applied, "CloudWatch", "PutCompositeAlarm"), 1);
    assert_eq!(writes(&applied), 3, "{applied:#}");
    let live = composite_live(&lab).await.expect("the composite alarm");
    assert_eq!(live.alarm_rule(), Some(rule));
    assert_eq!(
        live.alarm_description(),
        Some("the queue backs up OR errors climb")
    );
    let cw = lab.cloudwatch_client().await;
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(live.alarm_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags()
            .iter()
            .any(|t| t.key() == Some("vigil:owner") && t.value() == Some("ministack-it")),
        "{tags:?}"
    );

    // MiniStack evaluates the rule vigil wrote: one child in ALARM fires it.
    cw.set_alarm_state()
        .alarm_name("ErrorRate")
        .state_value(StateValue::Alarm)
        .state_reason("ministack test")
        .send()
        .await
        .unwrap();
    let live = composite_live(&lab).await.unwrap();
    assert_eq!(live.state_value(), Some(&StateValue::Alarm), "{live:?}");

    // A second run: nothing to change, no write.
    let (run, again) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(changes(&again), []);
    assert_eq!(summary(&again, "unchanged"), 3);
    assert_eq!(writes(&again), 0, "{again:#}");

    // The rule changes: one update, one PutCompositeAlarm.
    lab.write("alarms/composite.yaml", &composite("AND"));
    let (run, updated) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&updated),
        [("update".into(), "CompositeAlarm/AppDegraded".into())]
    );
    assert_eq!(
        field(&updated, "AppDegraded", "alarmRule")["to"],
        r#"ALARM("QueueDepth") AND ALARM("ErrorRate")"#
    );
    assert_eq!(writes(&updated), 1, "{updated:#}");
    assert_eq!(calls(&updated, "CloudWatch", "PutCompositeAlarm"), 1);
    assert_eq!(
        composite_live(&lab).await.unwrap().alarm_rule(),
        Some(r#"ALARM("QueueDepth") AND ALARM("ErrorRate")"#)
    );

    // Its manifest goes: prune deletes it, and only it.
    lab.remove("alarms/composite.yaml");
    let (run, pruned) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(
        changes(&pruned),
        [("delete".into(), "CompositeAlarm/AppDegraded".into())]
    );
    assert_eq!(writes(&pruned), 1, "{pruned:#}");
    assert_eq!(calls(&pruned, "CloudWatch", "DeleteAlarms"), 1);
    assert!(composite_live(&lab).await.is_none());
    let left = cw.describe_alarms().send().await.unwrap();
    let mut names: Vec<&str> = left
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    names.sort();
    assert_eq!(names, ["ErrorRate", "QueueDepth"]);
    eprintln!("composite alarms on MiniStack: {:?}", started.elapsed());
}

// `test-alarm --via-metric` publishes breaching datapoints and MiniStack's own
// evaluation moves the alarm to ALARM; a datapoint under the threshold brings
// it back to OK, as new datapoints that stop breaching do on AWS.
#[tokio::test]
async fn test_alarm_via_metric_fires_through_evaluation_and_the_alarm_comes_back() {
    let started = Instant::now();
    let lab = Lab::ministack().await;
    settings(&lab, "");
    lab.write(
        "notifications/topic.yaml",
        "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: ministack-alerts\nspec:\n  subscriptions:\n    - protocol: email\n      endpoint: ops@example.com\n",
    );
    let actions = "  alarmActions:\n    - ${Topic/ministack-alerts.arn}\n  okActions:\n    - ${Topic/ministack-alerts.arn}\n";
    lab.write(
        "alarms/response-time.yaml",
        &metric_alarm("HighResponseTime", "ResponseTime", 400, actions),
    );
    lab.reconcile_json(&[]).0.expect_code(0);

    let run = lab.vigil(&[
        "test-alarm",
        "HighResponseTime",
        "{dir}",
        "--via-metric",
        "--timeout",
        "30s",
        "--output",
        "json",
    ]);
    run.expect_code(0);
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let t = &r["alarms"][0];
    assert_eq!(t["previousState"], "INSUFFICIENT_DATA", "{t:#}");
    assert_eq!(
        (t["fired"].as_bool(), t["confirmed"].as_bool()),
        (Some(true), Some(true)),
        "{t:#}"
    );
    assert!(
        t["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n
                == "published 1 breaching datapoint(s) of 440 to MiniStackIt/App/ResponseTime"),
        "{t:#}"
    );
    // The path to someone: moto's SNS, where the subscription is confirmed at once.
    assert_eq!(t["actions"][0]["topic"], "ministack-alerts", "{t:#}");
    assert_eq!(
        (r["passed"].as_u64(), r["broken"].as_u64()),
        (Some(1), Some(0))
    );
    let cw_calls = &r["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(cw_calls["PutMetricData"], 1, "{cw_calls}");
    assert!(cw_calls.get("SetAlarmState").is_none(), "{cw_calls}");

    // CloudWatch's (MiniStack's) evaluation set the state, not vigil.
    let (state, reason) = alarm_state(&lab).await;
    assert_eq!(state, StateValue::Alarm);
    assert!(reason.starts_with("Threshold Crossed"), "{reason}");

    // Back: a datapoint under the threshold brings the period's average under it.
    lab.cloudwatch_client()
        .await
        .put_metric_data()
        .namespace("MiniStackIt/App")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ResponseTime")
                .dimensions(Dimension::builder().name("Environment").value("it").build())
                .value(0.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alarm_state(&lab).await.0 != StateValue::Ok {
        assert!(Instant::now() < deadline, "{:?}", alarm_state(&lab).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "test-alarm --via-metric on MiniStack: {:?}",
        started.elapsed()
    );
}

async fn alarm_state(lab: &Lab) -> (StateValue, String) {
    let out = lab
        .cloudwatch_client()
        .await
        .describe_alarms()
        .alarm_names("HighResponseTime")
        .send()
        .await
        .unwrap();
    let a = &out.metric_alarms()[0];
    (
        a.state_value().unwrap().clone(),
        a.state_reason().unwrap_or_default().to_string(),
    )
}

/// More alarms than two DescribeAlarms pages of 100 hold.
const MANY: usize = 230;

// 230 alarms: a no-op plan reads them in three DescribeAlarms pages (100, 100,
// 30) and finds every one unchanged.
#[tokio::test]
async fn a_no_op_plan_reads_230_alarms_in_three_describe_alarms_pages() {
    let started = Instant::now();
    let lab = Lab::ministack().await;
    // AWS's default rates would make this test wait on its pacer (PutMetricAlarm
    // 3/s, ListTagsForResource 10/s); MiniStack does not throttle, so the account
    // is said to have raised them.
    settings(
        &lab,
        "  quotas:\n    cloudwatch:PutMetricAlarm: 1000\n    cloudwatch:ListTagsForResource: 1000\n",
    );
    let docs: Vec<String> = (0..MANY)
        .map(|i| metric_alarm(&format!("Paged{i:03}"), &format!("Metric{i:03}"), 100, ""))
        .collect();
    lab.write("alarms/paged.yaml", &docs.join("---\n"));

    let (run, applied) = lab.reconcile_json(&[]);
    run.expect_code(0);
    assert_eq!(summary(&applied, "create") as usize, MANY, "{}", run.stderr);
    assert_eq!(
        calls(&applied, "CloudWatch", "PutMetricAlarm") as usize,
        MANY
    );
    let applied_at = started.elapsed();

    let (run, plan) = lab.reconcile_json(&["--dry-run"]);
    run.expect_code(0);
    assert_eq!(changes(&plan), []);
    assert_eq!(summary(&plan, "unchanged") as usize, MANY, "{plan:#}");
    assert_eq!(
        calls(&plan, "CloudWatch", "DescribeAlarms"),
        3,
        "one walk of 100 a page: {}",
        plan["apiCalls"]
    );
    assert_eq!(writes(&plan), 0);
    eprintln!(
        "{MANY} alarms on MiniStack: applied in {applied_at:?}, planned in {:?}",
        started.elapsed() - applied_at
    );
}

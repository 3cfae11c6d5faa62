//! Partial failure through the binary on moto: a kind that cannot be observed
//! stops every prune and destroy (vigil never deletes from a partial
//! observation), and a write that fails mid-run skips only its dependents.
//!
//! moto serves neither X-Ray nor Logs query definitions: an `XRayGroup` or a
//! `QueryDefinition` is a kind whose observe always fails here, honestly, as
//! `unsupported`. A stack whose template names a VPC that does not exist is a
//! write that fails (moto refuses the CreateStack itself).

use serde_json::Value;

use crate::harness::{Lab, writes};

const SETTINGS: &str = "\
apiVersion: vigil/v1
kind: Settings
metadata: {name: default}
spec:
  region: us-east-1
  owner: partial-test
  maxDeletions: 10
";

const XRAY_GROUP: &str = "\
apiVersion: vigil/v1
kind: XRayGroup
metadata:
  name: partial-api
spec:
  filterExpression: service(\"api\")
";

const DASHBOARD: &str = "\
apiVersion: vigil/v1
kind: Dashboard
metadata:
  name: partial-board
spec:
  body:
    widgets:
      - type: text
        width: 6
        height: 2
        properties:
          markdown: partial
";

fn alarm(name: &str, annotations: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: vigil/v1\nkind: MetricAlarm\nmetadata:\n  name: {name}\n{annotations}spec:\n  namespace: Partial/App\n  metricName: Latency\n  statistic: Average\n  period: 60\n  evaluationPeriods: 1\n  threshold: 10\n  comparisonOperator: GreaterThanThreshold\n{extra}"
    )
}

async fn alarm_names(lab: &Lab) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    let mut names: Vec<String> = cw
        .describe_alarms()
        .send()
        .await
        .unwrap()
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

async fn dashboard_names(lab: &Lab) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&lab.sdk().await);
    cw.list_dashboards()
        .send()
        .await
        .unwrap()
        .dashboard_entries()
        .iter()
        .filter_map(|d| d.dashboard_name().map(str::to_string))
        .collect()
}

fn errors_with<'a>(report: &'a Value, code: &str) -> Vec<&'a Value> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == code)
        .collect()
}

fn change<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["changes"].as_array().unwrap().iter().find(|c| {
        format!(
            "{}/{}",
            c["kind"].as_str().unwrap(),
            c["name"].as_str().unwrap()
        ) == id
    })
}

fn error<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            format!(
                "{}/{}",
                e["kind"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            ) == id
        })
        .unwrap_or_else(|| panic!("no error for {id}: {report:#}"))
}

/// An X-Ray group (never observable on moto), two alarms and a dashboard, applied:
/// everything but the group exists and is vigil's.
async fn applied_with_xray() -> Lab {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    lab.write("xray.yaml", XRAY_GROUP);
    lab.write("dashboard.yaml", DASHBOARD);
    lab.write(
        "alarms.yaml",
        &(alarm("partial-kept", "", "") + &alarm("partial-gone", "", "")),
    );
    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(1);
    assert_eq!(report["summary"]["create"], 3, "{report:#}");
    let failed = errors_with(&report, "observeFailed");
    assert_eq!(failed.len(), 1, "{report:#}");
    assert_eq!(failed[0]["kind"], "XRayGroup");
    assert_eq!(failed[0]["class"], "unsupported");
    assert_eq!(alarm_names(&lab).await, ["partial-gone", "partial-kept"]);
    assert_eq!(dashboard_names(&lab).await, ["partial-board"]);
    lab
}

#[tokio::test]
async fn one_kind_failing_to_observe_skips_prune_for_every_kind_and_says_why() {
    let lab = applied_with_xray().await;
    // An owned alarm and the owned dashboard (untaggable: known from the
    // inventory) leave the directory; prune is asked for.
    lab.write("alarms.yaml", &alarm("partial-kept", "", ""));
    lab.remove("dashboard.yaml");

    for extra in [&["--prune", "--dry-run"][..], &["--prune"][..]] {
        let (run, report) = lab.reconcile_json(extra);
        run.expect_code(1);
        let skipped = errors_with(&report, "pruneSkipped");
        assert_eq!(skipped.len(), 1, "{extra:?}: {report:#}");
        assert_eq!(skipped[0]["kind"], "XRayGroup", "{report:#}");
        let message = skipped[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(
                "prune skipped: observing XRayGroup failed, and vigil never deletes from a partial observation: "
            ),
            "{message}"
        );
        assert!(
            report["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["action"] != "delete"),
            "{extra:?}: no deletion planned or made: {report:#}"
        );
        assert_eq!(report["summary"]["delete"], 0, "{report:#}");
        let cw = &report["apiCalls"]["byService"]["CloudWatch"];
        assert!(cw.get("DeleteAlarms").is_none(), "{report:#}");
        assert!(cw.get("DeleteDashboards").is_none(), "{report:#}");
        assert_eq!(writes(&report), 0, "{extra:?}: {report:#}");
    }
    // Nothing was deleted, and vigil still knows both as its own.
    assert_eq!(alarm_names(&lab).await, ["partial-gone", "partial-kept"]);
    assert_eq!(dashboard_names(&lab).await, ["partial-board"]);
    let inv = lab.inventory();
    for id in ["MetricAlarm/partial-gone", "Dashboard/partial-board"] {
        assert!(inv["resources"].get(id).is_some(), "{id}: {inv:#}");
    }

    // Once the kind that cannot be observed leaves too, prune runs.
    lab.remove("xray.yaml");
    let (run, report) = lab.reconcile_json(&["--prune"]);
    run.expect_code(0);
    assert_eq!(report["summary"]["delete"], 2, "{report:#}");
    assert_eq!(alarm_names(&lab).await, ["partial-kept"]);
    assert!(dashboard_names(&lab).await.is_empty());
}

#[tokio::test]
async fn destroy_refuses_on_a_partial_observation_and_deletes_nothing() {
    let lab = applied_with_xray().await;
    for extra in [&["--dry-run"][..], &[][..]] {
        let mut args = vec!["destroy", "{dir}"];
        args.extend_from_slice(extra);
        let run = lab.vigil(&args);
        assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        run.expect_code(1);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(
            all.contains(
                "destroy stopped before deleting anything: observing XRayGroup failed, and vigil never deletes from a partial observation"
            ),
            "{all}"
        );
        assert!(!run.stdout.contains("- MetricAlarm"), "{}", run.stdout);
    }
    assert_eq!(alarm_names(&lab).await, ["partial-gone", "partial-kept"]);
    assert_eq!(dashboard_names(&lab).await, ["partial-board"]);
    // Still vigil's, still recorded: a later destroy (or prune) can finish the job.
    let inv = lab.inventory();
    assert_eq!(inv["resources"].as_object().unwrap().len(), 3, "{inv:#}");
}

#[tokio::test]
async fn a_failing_write_skips_only_its_dependents_and_the_rest_applies() {
    let lab = Lab::new().await;
    lab.write("settings.yaml", SETTINGS);
    // Fails: observing query definitions (moto has no DescribeQueryDefinitions).
    lab.write(
        "queries.yaml",
        "apiVersion: vigil/v1\nkind: QueryDefinition\nmetadata:\n  name: partial-errors\nspec:\n  queryString: fields @message | limit 10\n  logGroupNames:\n    - /partial/app\n",
    );
    // Fails: the write itself (CreateStack names a VPC that does not exist).
    lab.write(
        "broken.yaml",
        "apiVersion: vigil/v1\nkind: Stack\nmetadata:\n  name: partial-broken\nspec:\n  template: |\n    Resources:\n      Subnet:\n        Type: AWS::EC2::Subnet\n        Properties:\n          VpcId: vpc-00000000000000000\n          CidrBlock: 10.0.0.0/24\n",
    );
    lab.write(
        "topic.yaml",
        "apiVersion: vigil/v1\nkind: Topic\nmetadata:\n  name: partial-alerts\nspec: {}\n",
    );
    lab.write("dashboard.yaml", DASHBOARD);
    let alarms = alarm(
        "partial-unrelated",
        "",
        "  alarmActions:\n    - ${Topic/partial-alerts.arn}\n",
    ) + &alarm(
        "partial-needs-stack",
        "  annotations:\n    vigil/depends-on: Stack/partial-broken\n",
        "",
    ) + &alarm(
        "partial-needs-query",
        "  annotations:\n    vigil/depends-on: QueryDefinition/partial-errors\n",
        "",
    );
    lab.write("alarms.yaml", &alarms);

    let (run, report) = lab.reconcile_json(&[]);
    run.expect_code(1);
    // The unrelated ones applied, the topic first and the alarm that references it after.
    for id in [
        "Topic/partial-alerts",
        "MetricAlarm/partial-unrelated",
        "Dashboard/partial-board",
    ] {
        let c = change(&report, id).unwrap_or_else(|| panic!("{id}: {report:#}"));
        assert_eq!(c["status"], "applied", "{id}: {report:#}");
    }
    // The write that failed, with AWS's reason.
    let stack = change(&report, "Stack/partial-broken").unwrap();
    assert_eq!(stack["status"], "failed", "{report:#}");
    assert!(
        stack["error"]
            .as_str()
            .unwrap()
            .contains("VpcID vpc-00000000000000000 does not exist"),
        "{stack:#}"
    );
    // Its dependent, skipped at run time, and named as such.
    let e = error(&report, "MetricAlarm/partial-needs-stack");
    assert_eq!(e["code"], "skipped", "{e:#}");
    assert_eq!(
        e["message"],
        "skipped: it references Stack/partial-broken, which failed or was refused"
    );
    assert!(change(&report, "MetricAlarm/partial-needs-stack").is_none());
    // The kind that cannot be observed, and its dependent, skipped before any write.
    let q = error(&report, "QueryDefinition/partial-errors");
    assert_eq!(q["code"], "observeFailed", "{q:#}");
    assert_eq!(q["class"], "unsupported", "{q:#}");
    let e = error(&report, "MetricAlarm/partial-needs-query");
    assert_eq!(e["code"], "skipped", "{e:#}");
    assert_eq!(
        e["message"],
        "skipped: it references QueryDefinition/partial-errors, which failed or was refused"
    );
    assert_eq!(report["summary"]["create"], 4, "{report:#}");
    // The kind the endpoint does not serve is counted apart from the failures.
    assert_eq!(report["summary"]["failed"], 3, "{report:#}");
    assert_eq!(report["summary"]["notServed"], 1, "{report:#}");
    assert_eq!(report["summary"]["refused"], 0, "{report:#}");

    // In AWS: exactly the unrelated ones.
    assert_eq!(alarm_names(&lab).await, ["partial-unrelated"]);
    assert_eq!(dashboard_names(&lab).await, ["partial-board"]);
    let cw = &report["apiCalls"]["byService"]["CloudWatch"];
    assert_eq!(cw["PutMetricAlarm"], 1, "{report:#}");

    // The next run retries only what failed: the applied ones are unchanged.
    let (run, again) = lab.reconcile_json(&[]);
    run.expect_code(1);
    assert_eq!(again["summary"]["unchanged"], 3, "{again:#}");
    assert_eq!(again["summary"]["refused"], 0, "{again:#}");
    assert_eq!(
        error(&again, "MetricAlarm/partial-needs-stack")["code"],
        "skipped"
    );
}
